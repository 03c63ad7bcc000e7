/*
 * Reference "nn" operators (plain C, float32): convolution, pooling,
 * normalization, matrix products and softmax. The defs are listed in
 * jalad_ops_nn[] (op_nn_table.c).
 *
 * Shared helpers (op_nn_common.c):
 * - nn_spatial_*: kernel/stride/dilation/pad/auto_pad handling shared by
 *   Conv and the windowed pools, normalized to 3 spatial dims (1-D and 2-D
 *   problems get leading unit dims).
 * - nn_gemm_*: a blocked SGEMM, C = A * B (+ per-row bias), with A packed in
 *   panels of NN_MR rows and B in panels of NN_NR columns. B is packed by a
 *   callback so that Conv can feed it im2col columns without materializing
 *   the whole matrix. Every element of C is summed by one thread in
 *   increasing k order, so results do not depend on the thread count.
 */
#ifndef JALAD_REF_OPS_NN_H
#define JALAD_REF_OPS_NN_H

#include "engine/engine_impl.h"

extern const struct jalad_op_def jalad_op_conv;
extern const struct jalad_op_def jalad_op_maxpool;
extern const struct jalad_op_def jalad_op_averagepool;
extern const struct jalad_op_def jalad_op_globalaveragepool;
extern const struct jalad_op_def jalad_op_globalmaxpool;
extern const struct jalad_op_def jalad_op_batchnormalization;
extern const struct jalad_op_def jalad_op_lrn;
extern const struct jalad_op_def jalad_op_gemm;
extern const struct jalad_op_def jalad_op_matmul;
extern const struct jalad_op_def jalad_op_softmax;
extern const struct jalad_op_def jalad_op_logsoftmax;

/* ------------------------------------------------------------ windows */

#define NN_MAX_SP 3 /* spatial dims handled by Conv and the pools */

/* One windowed op's geometry, always 3 spatial dims (leading dims of 1-D
 * and 2-D problems are 1 with no padding). */
struct nn_spatial {
	int nsp;                 /* spatial dims of the real problem (1..3) */
	int64_t in[NN_MAX_SP];   /* input extent */
	int64_t k[NN_MAX_SP];    /* kernel extent */
	int64_t s[NN_MAX_SP];    /* stride */
	int64_t d[NN_MAX_SP];    /* dilation */
	int64_t pb[NN_MAX_SP];   /* padding at the start */
	int64_t pe[NN_MAX_SP];   /* padding at the end */
	int64_t out[NN_MAX_SP];  /* output extent */
};

/* Fill sp from the node's strides, dilations, pads, auto_pad attributes for
 * nsp spatial dims with input extents in[] and kernel extents k[].
 * ceil_mode rounds the output extent up (pools); a window that would start
 * in the end padding is dropped. Fails with JALAD_ERR_UNSUPPORTED for an
 * unknown auto_pad and JALAD_ERR_SHAPE for bad counts or an empty output. */
enum jalad_status nn_spatial_infer(const struct jalad_node *n, int nsp, const int64_t *in,
				   const int64_t *k, int ceil_mode, struct nn_spatial *sp);

static inline int64_t nn_spatial_out_numel(const struct nn_spatial *sp)
{
	return sp->out[0] * sp->out[1] * sp->out[2];
}

static inline int64_t nn_spatial_in_numel(const struct nn_spatial *sp)
{
	return sp->in[0] * sp->in[1] * sp->in[2];
}

static inline int64_t nn_spatial_k_numel(const struct nn_spatial *sp)
{
	return sp->k[0] * sp->k[1] * sp->k[2];
}

/* ------------------------------------------------------------ SGEMM */

#define NN_MR 4  /* rows of C per micro-tile */
#define NN_NR 8  /* columns of C per micro-tile */

/* Packs columns [col0, col0 + ncols) of B (k x n) into dst as k rows of
 * NN_NR floats, zero-filling columns ncols..NN_NR-1. */
typedef void (*nn_packb_fn)(const void *ctx, int64_t k, int64_t col0, int ncols, float *dst);

struct nn_gemm {
	int64_t m, n, k;
	const float *a;          /* A (m x k): element (i, l) at a[i * rsa + l * csa] */
	int64_t rsa, csa;
	nn_packb_fn packb;       /* B (k x n) by panels */
	const void *packb_ctx;
	float *c;                /* C (m x n): element (i, j) at c[i * ldc + j] */
	int64_t ldc;
	const float *bias;       /* m values added to each row, or NULL */
};

/* Plain strided B for nn_gemm.packb: ctx is a struct nn_matrix. */
struct nn_matrix {
	const float *p;          /* element (l, j) at p[l * rs + j * cs] */
	int64_t rs, cs;
};
void nn_packb_matrix(const void *ctx, int64_t k, int64_t col0, int ncols, float *dst);

/* Scratch bytes nn_gemm_run needs for an m x n x k product; 0 and -1 on
 * overflow. */
int nn_gemm_scratch_bytes(int64_t m, int64_t n, int64_t k, size_t *bytes);
/* C = A * B (+ bias). scratch: nn_gemm_scratch_bytes() bytes, aligned to 16
 * bytes. Small products run on the caller only. */
void nn_gemm_run(const struct nn_gemm *gm, float *scratch, struct jalad_pool *pool);

/* ------------------------------------------------------------ misc */

/* Row range [*r0, *r1) of nr rows for thread ith of nth. */
static inline void nn_split(int64_t nr, int ith, int nth, int64_t *r0, int64_t *r1)
{
	int64_t dr = (nr + nth - 1) / nth;
	int64_t a = dr * ith;
	int64_t b = a + dr;
	*r0 = a < nr ? a : nr;
	*r1 = b < nr ? b : nr;
}

/* Input i is float32 with a known shape: its record, else NULL after
 * recording the error (JALAD_ERR_UNSUPPORTED for another dtype,
 * JALAD_ERR_SHAPE for an unknown shape, JALAD_ERR_FORMAT when missing). */
struct jalad_tensor_ir *nn_input_f32(struct jalad_graph *g, const struct jalad_node *n, int i,
				     enum jalad_status *st);
/* "[1,3,224,224]" into buf (truncated to cap); returns buf. */
const char *nn_dims_str(int ndim, const int64_t *dims, char *buf, size_t cap);
/* Fail with JALAD_ERR_LIMIT unless the product of dims fits in
 * NN_MAX_NUMEL elements (outputs whose size attributes can inflate). */
#define NN_MAX_NUMEL ((int64_t)1 << 40)
enum jalad_status nn_check_numel(const struct jalad_node *n, int ndim, const int64_t *dims);
/* Output i is a graph output or read by some node. */
int nn_output_used(const struct jalad_graph *g, const struct jalad_node *n, int i);
/* Check the node has between lo and hi inputs (the first lo present) and an
 * output 0. Further outputs must be unused (the loader names omitted
 * optional outputs too): they get an empty float32 shape [0] and are never
 * written; a used one is JALAD_ERR_UNSUPPORTED. */
enum jalad_status nn_check_arity(struct jalad_graph *g, const struct jalad_node *n, int lo, int hi);

#endif /* JALAD_REF_OPS_NN_H */
