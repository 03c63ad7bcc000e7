/*
 * BatchNormalization, inference form: Y = (X - mean) / sqrt(var + eps) *
 * scale + B per channel (dim 1). The training-mode outputs (running and
 * saved statistics) are not supported.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops_nn.h"

struct bn_params {
	int64_t n, c, plane;  /* X is (n, c, plane...) */
	float eps;
};

static enum jalad_status bn_infer(struct jalad_graph *g, struct jalad_node *n)
{
	enum jalad_status st;
	struct jalad_tensor_ir *x;
	char s1[96], s2[96];

	for (int i = 1; i < n->n_out; i++)
		if (nn_output_used(g, n, i))
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED,
					       "training-mode output %d (mean/var statistics)", i);
	if (jalad_attr_int(n, "training_mode", 0) != 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute training_mode=1");
	if (jalad_attr_int(n, "spatial", 1) != 1)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute spatial=0");
	JALAD_FORWARD(nn_check_arity(g, n, 5, 5));
	if (!(x = nn_input_f32(g, n, 0, &st)))
		return st;
	if (x->ndim < 2)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "input X %s has fewer than 2 dims",
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));
	for (int i = 1; i < 5; i++) {
		struct jalad_tensor_ir *t = nn_input_f32(g, n, i, &st);
		if (!t)
			return st;
		if (t->ndim != 1 || t->dims[0] != x->dims[1])
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "input %d %s for X %s", i,
					       nn_dims_str(t->ndim, t->dims, s1, sizeof s1),
					       nn_dims_str(x->ndim, x->dims, s2, sizeof s2));
	}
	struct bn_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->n = x->dims[0];
	p->c = x->dims[1];
	p->plane = jalad_numel(x->ndim - 2, x->dims + 2);
	p->eps = jalad_attr_float(n, "epsilon", 1e-5f);
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, x->dims);
	return JALAD_OK;
}

struct bn_task {
	const struct bn_params *p;
	const float *x, *scale, *bias, *mean, *var;
	float *y;
};

static void bn_task_fn(void *arg, int ith, int nth)
{
	const struct bn_task *t = arg;
	const struct bn_params *p = t->p;
	int64_t r0, r1;

	nn_split(p->n * p->c, ith, nth, &r0, &r1);
	for (int64_t r = r0; r < r1; r++) {
		int64_t c = r % p->c;
		float a = t->scale[c] / sqrtf(t->var[c] + p->eps), mu = t->mean[c], b = t->bias[c];
		const float *x = t->x + r * p->plane;
		float *y = t->y + r * p->plane;
		for (int64_t i = 0; i < p->plane; i++)
			y[i] = (x[i] - mu) * a + b;
	}
}

static enum jalad_status bn_run(struct jalad_op_ctx *ctx)
{
	struct bn_task t = {ctx->node->params, ctx->in[0].data, ctx->in[1].data, ctx->in[2].data,
			    ctx->in[3].data, ctx->in[4].data, ctx->out[0].data};
	jalad_pool_run(ctx->pool, bn_task_fn, &t);
	return JALAD_OK;
}

static int64_t bn_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct bn_params *p = n->params;
	(void)g;
	return p ? 2 * p->n * p->c * p->plane : 0;
}

const struct jalad_op_def jalad_op_batchnormalization = {"BatchNormalization", bn_infer, bn_run,
							 bn_flops};
