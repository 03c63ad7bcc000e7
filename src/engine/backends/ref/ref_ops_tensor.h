/*
 * The "tensor" family of reference operators: elementwise activations and
 * arithmetic, data movement (Concat, Slice, Transpose, Gather, Pad...),
 * shape ops, reductions and Cast. Each op lives in its own op_<name>.c (or
 * one file per tight family) and is listed in op_tensor_table.c.
 *
 * The jalad_tops_* helpers (op_tensor_util.c, op_binary.c) are shared by the
 * files of this family only.
 */
#ifndef JALAD_REF_OPS_TENSOR_H
#define JALAD_REF_OPS_TENSOR_H

#include "engine/engine_impl.h"

/* --------------------------------------------------------------- ops */

/* op_unary.c */
extern const struct jalad_op_def jalad_op_relu, jalad_op_leaky_relu, jalad_op_clip,
	jalad_op_sigmoid, jalad_op_tanh, jalad_op_hard_sigmoid, jalad_op_hard_swish,
	jalad_op_exp, jalad_op_log, jalad_op_sqrt, jalad_op_neg, jalad_op_abs,
	jalad_op_reciprocal, jalad_op_floor, jalad_op_ceil, jalad_op_erf, jalad_op_elu,
	jalad_op_selu, jalad_op_celu, jalad_op_softplus, jalad_op_softsign, jalad_op_thresholded_relu;
/* op_binary.c */
extern const struct jalad_op_def jalad_op_add, jalad_op_sub, jalad_op_mul, jalad_op_div,
	jalad_op_pow, jalad_op_prelu;
/* op_variadic.c */
extern const struct jalad_op_def jalad_op_sum, jalad_op_max, jalad_op_min, jalad_op_mean;
/* op_concat.c, op_split.c, op_slice.c */
extern const struct jalad_op_def jalad_op_concat, jalad_op_split, jalad_op_slice;
/* op_reshape.c: ops that only change the shape */
extern const struct jalad_op_def jalad_op_reshape, jalad_op_flatten, jalad_op_squeeze,
	jalad_op_unsqueeze;
/* op_identity.c */
extern const struct jalad_op_def jalad_op_identity, jalad_op_dropout;
/* op_transpose.c, op_pad.c, op_expand.c, op_gather.c */
extern const struct jalad_op_def jalad_op_transpose, jalad_op_pad, jalad_op_expand,
	jalad_op_gather;
/* The parameters Slice's and Transpose's infer() leave in node->params,
 * validated (a backend that runs these ops natively reads them, so that
 * the clamping rules live in one place). */
struct jalad_tops_slice {
	int64_t start[JALAD_MAX_DIMS];  /* first element per dim (clamped) */
	int64_t step[JALAD_MAX_DIMS];   /* per dim, 1 for dims not sliced; never 0 */
};
struct jalad_tops_transpose {
	int perm[JALAD_MAX_DIMS];       /* output axis i is input axis perm[i] */
};

/* op_constant.c */
extern const struct jalad_op_def jalad_op_constant, jalad_op_constant_of_shape;
/* op_shape.c */
extern const struct jalad_op_def jalad_op_shape;
/* op_reduce.c: a Reduce node's params (kind: JALAD_TOPS_REDUCE_MEAN, then
 * sum, max, min), for backends that run some reductions natively. */
#define JALAD_TOPS_REDUCE_MEAN 0
struct jalad_tops_reduce {
	int kind;
	int noop;               /* output = input */
	unsigned mask;          /* bit d: axis d is reduced */
};
/* op_reduce.c */
extern const struct jalad_op_def jalad_op_reduce_mean, jalad_op_reduce_sum,
	jalad_op_reduce_max, jalad_op_reduce_min;
/* op_cast.c */
extern const struct jalad_op_def jalad_op_cast;

/* --------------------------------------------------------------- helpers */

/* Compute-bound elementwise kernels get an AVX2+FMA clone picked at load
 * time (the build targets baseline x86-64). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define JALAD_TOPS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define JALAD_TOPS_CLONES
#endif
/* Helpers of a cloned kernel must be inlined into each clone. */
#if defined(__GNUC__)
#define JALAD_TOPS_INLINE __attribute__((always_inline))
#else
#define JALAD_TOPS_INLINE
#endif

/* Elements below which a kernel runs on the caller thread only. */
#define JALAD_TOPS_PAR_MIN 65536

/* Run fn on the pool when work (elements) is large enough, else fn(arg, 0, 1). */
void jalad_tops_parallel(struct jalad_pool *pool, int64_t work, jalad_task_fn fn, void *arg);

/* This thread's share [*lo, *hi) of n items. */
static inline void jalad_tops_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
	int64_t dr = (n + nth - 1) / nth;
	int64_t a = dr * ith;
	int64_t b = a + dr;
	*lo = a < n ? a : n;
	*hi = b < n ? b : n;
}

/* Normalize axis in [-rank, rank) to [0, rank). Returns 0, or -1 if out of range. */
static inline int jalad_tops_axis(int64_t axis, int rank, int *out)
{
	if (axis < -(int64_t)rank || axis >= rank)
		return -1;
	*out = (int)(axis < 0 ? axis + rank : axis);
	return 0;
}

/* "(1,3,224,224)" into buf (always terminated). Returns buf. */
const char *jalad_tops_dims_str(int ndim, const int64_t *dims, char *buf, size_t size);

/* Infer-time checks: input count within [lo, hi], outputs within
 * [out_lo, out_hi], the first `need` inputs present with known shapes. */
enum jalad_status jalad_tops_check_io(struct jalad_graph *g, const struct jalad_node *n, int lo,
				      int hi, int need, int out_lo, int out_hi);

/* Set output i after checking that its element count stays below
 * JALAD_TOPS_MAX_NUMEL (ops whose output can outgrow their inputs:
 * broadcasts, Expand, Pad, Gather, ConstantOfShape). */
#define JALAD_TOPS_MAX_NUMEL ((int64_t)1 << 40)
enum jalad_status jalad_tops_set_output(struct jalad_graph *g, const struct jalad_node *n, int i,
					enum jalad_dtype dtype, int ndim, const int64_t *dims);

/* Is dtype one of the types the arithmetic kernels handle? */
int jalad_tops_numeric(enum jalad_dtype dt);

/* Copy a strided view into a dense row-major dst: element (i0..ik) of dst
 * comes from src + sum(i_d * strides[d]) elements (strides may be 0 or
 * negative). */
void jalad_tops_copy_strided(struct jalad_pool *pool, size_t esize, int ndim, const int64_t *dims,
			     const void *src, const int64_t *strides, void *dst);

/* Copy n bytes between possibly equal buffers (no-op when src == dst). */
static inline void jalad_tops_copy(void *dst, const void *src, size_t n)
{
	if (dst != src && n)
		memmove(dst, src, n);
}

/* Elementwise binary ops with numpy broadcasting (op_binary.c). */
enum jalad_tops_binop {
	JALAD_TOPS_ADD,
	JALAD_TOPS_SUB,
	JALAD_TOPS_MUL,
	JALAD_TOPS_DIV,
	JALAD_TOPS_MAX,
	JALAD_TOPS_MIN,
	JALAD_TOPS_POW,
	JALAD_TOPS_PRELU,       /* a < 0 ? b * a : a */
	JALAD_TOPS_NBINOP
};
/* Can op run on dtype? */
int jalad_tops_binary_supported(enum jalad_tops_binop op, enum jalad_dtype dt);
/* out = a op b, a and b broadcast to out's shape (which must be their
 * broadcast or wider); all three of out->dtype. out may alias a or b when
 * that input has out's shape. */
void jalad_tops_binary(struct jalad_pool *pool, enum jalad_tops_binop op, const struct jalad_tensor *a,
		       const struct jalad_tensor *b, struct jalad_tensor *out);

#endif /* JALAD_REF_OPS_TENSOR_H */
