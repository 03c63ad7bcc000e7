/*
 * Gemm: Y = alpha * A' * B' + beta * C, with A' = transA ? A^T : A (M x K),
 * B' = transB ? B^T : B (K x N) and C (optional) broadcast to (M, N).
 */
#include <stdlib.h>

#include "ref_ops_nn.h"

struct gemm_params {
	int64_t m, n, k;
	int trans_a, trans_b;
	float alpha, beta;
	int64_t c_rs, c_cs;  /* strides of C broadcast to (m, n); 0 on broadcast dims */
};

static enum jalad_status gemm_infer(struct jalad_graph *g, struct jalad_node *n)
{
	enum jalad_status st;
	struct jalad_tensor_ir *a, *b, *c = NULL;
	char s1[96], s2[96];

	JALAD_FORWARD(nn_check_arity(g, n, 2, 3));
	if (!(a = nn_input_f32(g, n, 0, &st)) || !(b = nn_input_f32(g, n, 1, &st)))
		return st;
	if (n->n_in > 2 && n->in[2] >= 0 && !(c = nn_input_f32(g, n, 2, &st)))
		return st;
	if (a->ndim != 2 || b->ndim != 2)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "A %s and B %s must be 2-D",
				       nn_dims_str(a->ndim, a->dims, s1, sizeof s1),
				       nn_dims_str(b->ndim, b->dims, s2, sizeof s2));
	int ta = jalad_attr_int(n, "transA", 0) != 0, tb = jalad_attr_int(n, "transB", 0) != 0;
	int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
	int64_t kb = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
	if (k != kb)
		return jalad_node_fail(n, JALAD_ERR_SHAPE,
				       "A %s (transA=%d) and B %s (transB=%d) do not multiply",
				       nn_dims_str(a->ndim, a->dims, s1, sizeof s1), ta,
				       nn_dims_str(b->ndim, b->dims, s2, sizeof s2), tb);
	struct gemm_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->m = m;
	p->n = nn;
	p->k = k;
	p->trans_a = ta;
	p->trans_b = tb;
	p->alpha = jalad_attr_float(n, "alpha", 1.0f);
	p->beta = jalad_attr_float(n, "beta", 1.0f);
	if (c) {
		/* C broadcasts unidirectionally to (m, n), right-aligned. */
		int64_t cm = c->ndim == 2 ? c->dims[0] : 1;
		int64_t cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
		if (c->ndim > 2 || (cm != 1 && cm != m) || (cn != 1 && cn != nn))
			return jalad_node_fail(n, JALAD_ERR_SHAPE,
					       "C %s does not broadcast to [%lld,%lld]",
					       nn_dims_str(c->ndim, c->dims, s1, sizeof s1),
					       (long long)m, (long long)nn);
		p->c_rs = cm == 1 ? 0 : cn;
		p->c_cs = cn == 1 ? 0 : 1;
	}
	int64_t dims[2] = {m, nn};
	JALAD_FORWARD(nn_check_numel(n, 2, dims));
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, 2, dims);
	if (nn_gemm_scratch_bytes(m, nn, k, &n->scratch_bytes) != 0)
		return jalad_node_fail(n, JALAD_ERR_LIMIT, "workspace size overflows");
	return JALAD_OK;
}

static enum jalad_status gemm_run(struct jalad_op_ctx *ctx)
{
	const struct gemm_params *p = ctx->node->params;
	const float *a = ctx->in[0].data, *b = ctx->in[1].data;
	const float *c = ctx->n_in > 2 ? ctx->in[2].data : NULL;
	float *y = ctx->out[0].data;
	struct nn_matrix bm = {b, p->trans_b ? 1 : p->n, p->trans_b ? p->k : 1};
	struct nn_gemm gm = {
		.m = p->m, .n = p->n, .k = p->k,
		.a = a, .rsa = p->trans_a ? 1 : p->k, .csa = p->trans_a ? p->m : 1,
		.packb = nn_packb_matrix, .packb_ctx = &bm,
		.c = y, .ldc = p->n, .bias = NULL,
	};
	nn_gemm_run(&gm, ctx->scratch, ctx->pool);
	if (p->alpha == 1.0f && (!c || p->beta == 0.0f))
		return JALAD_OK;
	for (int64_t i = 0; i < p->m; i++) {
		float *yr = y + i * p->n;
		for (int64_t j = 0; j < p->n; j++) {
			float v = p->alpha * yr[j];
			if (c && p->beta != 0.0f)
				v += p->beta * c[i * p->c_rs + j * p->c_cs];
			yr[j] = v;
		}
	}
	return JALAD_OK;
}

static int64_t gemm_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct gemm_params *p = n->params;
	(void)g;
	return p ? 2 * p->m * p->n * p->k : 0;
}

const struct jalad_op_def jalad_op_gemm = {"Gemm", gemm_infer, gemm_run, gemm_flops};
