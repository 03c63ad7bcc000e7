/*
 * LRN (local response normalization across channels):
 * Y = X / (bias + alpha / size * sum of X^2 over the channel window)^beta,
 * the window being [c - floor((size-1)/2), c + ceil((size-1)/2)].
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops_nn.h"

struct lrn_params {
	int64_t n, c, plane;  /* X is (n, c, plane...) */
	int64_t size;
	float alpha, beta, bias;
};

static enum jalad_status lrn_infer(struct jalad_graph *g, struct jalad_node *n)
{
	enum jalad_status st;
	struct jalad_tensor_ir *x;
	char s1[96];

	JALAD_FORWARD(nn_check_arity(g, n, 1, 1));
	if (!(x = nn_input_f32(g, n, 0, &st)))
		return st;
	if (x->ndim < 2)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "input X %s has fewer than 2 dims",
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));
	int64_t size = jalad_attr_int(n, "size", 0);
	if (size < 1 || size > ((int64_t)1 << 31))
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute size=%lld (must be >= 1)",
				       (long long)size);
	struct lrn_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->n = x->dims[0];
	p->c = x->dims[1];
	p->plane = jalad_numel(x->ndim - 2, x->dims + 2);
	p->size = size;
	p->alpha = jalad_attr_float(n, "alpha", 1e-4f);
	p->beta = jalad_attr_float(n, "beta", 0.75f);
	p->bias = jalad_attr_float(n, "bias", 1.0f);
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, x->dims);
	return JALAD_OK;
}

struct lrn_task {
	const struct lrn_params *p;
	const float *x;
	float *y;
};

#define LRN_BLOCK 256

static void lrn_task_fn(void *arg, int ith, int nth)
{
	const struct lrn_task *t = arg;
	const struct lrn_params *p = t->p;
	const float scale = p->alpha / (float)p->size;
	float acc[LRN_BLOCK];
	int64_t r0, r1;

	nn_split(p->n * p->c, ith, nth, &r0, &r1);
	for (int64_t r = r0; r < r1; r++) {
		int64_t img = r / p->c, c = r % p->c;
		int64_t c0 = c - (p->size - 1) / 2, c1 = c + p->size / 2;
		if (c0 < 0)
			c0 = 0;
		if (c1 > p->c - 1)
			c1 = p->c - 1;
		const float *xi = t->x + img * p->c * p->plane;
		const float *x = t->x + r * p->plane;
		float *y = t->y + r * p->plane;
		for (int64_t i0 = 0; i0 < p->plane; i0 += LRN_BLOCK) {
			int64_t nb = p->plane - i0 < LRN_BLOCK ? p->plane - i0 : LRN_BLOCK;
			for (int64_t i = 0; i < nb; i++)
				acc[i] = 0.0f;
			for (int64_t cc = c0; cc <= c1; cc++) {
				const float *xc = xi + cc * p->plane + i0;
				for (int64_t i = 0; i < nb; i++)
					acc[i] += xc[i] * xc[i];
			}
			for (int64_t i = 0; i < nb; i++)
				y[i0 + i] = x[i0 + i] / powf(p->bias + scale * acc[i], p->beta);
		}
	}
}

static enum jalad_status lrn_run(struct jalad_op_ctx *ctx)
{
	struct lrn_task t = {ctx->node->params, ctx->in[0].data, ctx->out[0].data};
	jalad_pool_run(ctx->pool, lrn_task_fn, &t);
	return JALAD_OK;
}

static int64_t lrn_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct lrn_params *p = n->params;
	(void)g;
	return p ? p->n * p->c * p->plane * (2 * p->size + 4) : 0;
}

const struct jalad_op_def jalad_op_lrn = {"LRN", lrn_infer, lrn_run, lrn_flops};
