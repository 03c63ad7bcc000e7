/*
 * MatMul with numpy semantics: (..., M, K) x (..., K, N) -> (..., M, N),
 * batch dims broadcast; a 1-D A is a row (1, K) and a 1-D B a column (K, 1),
 * the added dim being dropped from the result.
 */
#include <stdlib.h>

#include "ref_ops_nn.h"

struct matmul_params {
	int64_t m, n, k;
	int nb;                           /* batch rank of the output */
	int64_t bdims[JALAD_MAX_DIMS];    /* output batch dims */
	int64_t sa[JALAD_MAX_DIMS];       /* A's matrix stride per batch dim (0: broadcast) */
	int64_t sb[JALAD_MAX_DIMS];       /* B's */
	int64_t batch;                    /* product of bdims */
};

/* Per-batch-dim strides (in elements) of an operand with batch dims
 * dims[0..nd) and matrices of mat elements, right-aligned to the output's
 * nb batch dims; broadcast dims get stride 0. */
static void batch_strides(int nd, const int64_t *dims, int64_t mat, int nb, int64_t *s)
{
	int64_t st = mat;
	for (int i = nb - 1; i >= 0; i--) {
		int j = i - (nb - nd);
		if (j < 0) {
			s[i] = 0;
			continue;
		}
		s[i] = dims[j] == 1 ? 0 : st;
		st *= dims[j];
	}
}

static enum jalad_status matmul_infer(struct jalad_graph *g, struct jalad_node *n)
{
	enum jalad_status st;
	struct jalad_tensor_ir *a, *b;
	char s1[96], s2[96];

	JALAD_FORWARD(nn_check_arity(g, n, 2, 2));
	if (!(a = nn_input_f32(g, n, 0, &st)) || !(b = nn_input_f32(g, n, 1, &st)))
		return st;
	if (a->ndim < 1 || b->ndim < 1)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "A %s or B %s is a scalar",
				       nn_dims_str(a->ndim, a->dims, s1, sizeof s1),
				       nn_dims_str(b->ndim, b->dims, s2, sizeof s2));
	int a1 = a->ndim == 1, b1 = b->ndim == 1;
	int64_t m = a1 ? 1 : a->dims[a->ndim - 2], k = a->dims[a->ndim - 1];
	int64_t kb = b1 ? b->dims[0] : b->dims[b->ndim - 2], nn = b1 ? 1 : b->dims[b->ndim - 1];
	int na = a1 ? 0 : a->ndim - 2, nbb = b1 ? 0 : b->ndim - 2;
	int64_t bdims[JALAD_MAX_DIMS];
	int nb;
	if (k != kb || jalad_broadcast_shape(na, a->dims, nbb, b->dims, &nb, bdims) != JALAD_OK)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "A %s and B %s do not multiply",
				       nn_dims_str(a->ndim, a->dims, s1, sizeof s1),
				       nn_dims_str(b->ndim, b->dims, s2, sizeof s2));
	int rank = nb + !a1 + !b1;
	if (rank > JALAD_MAX_DIMS)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "result rank %d", rank);
	struct matmul_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->m = m;
	p->n = nn;
	p->k = k;
	p->nb = nb;
	for (int i = 0; i < nb; i++)
		p->bdims[i] = bdims[i];
	p->batch = jalad_numel(nb, bdims);
	batch_strides(na, a->dims, m * k, nb, p->sa);
	batch_strides(nbb, b->dims, k * nn, nb, p->sb);

	int64_t dims[JALAD_MAX_DIMS];
	int r = 0;
	for (int i = 0; i < nb; i++)
		dims[r++] = bdims[i];
	if (!a1)
		dims[r++] = m;
	if (!b1)
		dims[r++] = nn;
	JALAD_FORWARD(nn_check_numel(n, r, dims));
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, r, dims);
	if (nn_gemm_scratch_bytes(m, nn, k, &n->scratch_bytes) != 0)
		return jalad_node_fail(n, JALAD_ERR_LIMIT, "workspace size overflows");
	return JALAD_OK;
}

/* Offsets of batch item bi in A and B. */
static void batch_offsets(const struct matmul_params *p, int64_t bi, int64_t *oa, int64_t *ob)
{
	int64_t a = 0, b = 0;
	for (int i = p->nb - 1; i >= 0; i--) {
		int64_t idx = bi % p->bdims[i];
		bi /= p->bdims[i];
		a += idx * p->sa[i];
		b += idx * p->sb[i];
	}
	*oa = a;
	*ob = b;
}

struct matmul_task {
	const struct matmul_params *p;
	const float *a, *b;
	float *y;
};

/* Many small products: one batch item per work item, plain loops summing
 * in the same order as the packed kernel (bit-identical results). */
static void matmul_small_task(void *arg, int ith, int nth)
{
	const struct matmul_task *t = arg;
	const struct matmul_params *p = t->p;
	int64_t r0, r1;

	nn_split(p->batch, ith, nth, &r0, &r1);
	for (int64_t bi = r0; bi < r1; bi++) {
		int64_t oa, ob;
		batch_offsets(p, bi, &oa, &ob);
		const float *a = t->a + oa, *b = t->b + ob;
		float *y = t->y + bi * p->m * p->n;
		for (int64_t i = 0; i < p->m; i++) {
			float *yr = y + i * p->n;
			for (int64_t j = 0; j < p->n; j++)
				yr[j] = 0.0f;
			for (int64_t l = 0; l < p->k; l++) {
				float av = a[i * p->k + l];
				const float *br = b + l * p->n;
				for (int64_t j = 0; j < p->n; j++)
					yr[j] += av * br[j];
			}
		}
	}
}

#define MATMUL_SMALL_MACS 65536.0

static enum jalad_status matmul_run(struct jalad_op_ctx *ctx)
{
	const struct matmul_params *p = ctx->node->params;
	struct matmul_task t = {p, ctx->in[0].data, ctx->in[1].data, ctx->out[0].data};

	if (p->batch > 1 && (double)p->m * (double)p->n * (double)p->k < MATMUL_SMALL_MACS) {
		jalad_pool_run(ctx->pool, matmul_small_task, &t);
		return JALAD_OK;
	}
	for (int64_t bi = 0; bi < p->batch; bi++) {
		int64_t oa, ob;
		batch_offsets(p, bi, &oa, &ob);
		struct nn_matrix bm = {t.b + ob, p->n, 1};
		struct nn_gemm gm = {
			.m = p->m, .n = p->n, .k = p->k,
			.a = t.a + oa, .rsa = p->k, .csa = 1,
			.packb = nn_packb_matrix, .packb_ctx = &bm,
			.c = t.y + bi * p->m * p->n, .ldc = p->n, .bias = NULL,
		};
		nn_gemm_run(&gm, ctx->scratch, ctx->pool);
	}
	return JALAD_OK;
}

static int64_t matmul_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct matmul_params *p = n->params;
	(void)g;
	return p ? 2 * p->batch * p->m * p->n * p->k : 0;
}

const struct jalad_op_def jalad_op_matmul = {"MatMul", matmul_infer, matmul_run, matmul_flops};
