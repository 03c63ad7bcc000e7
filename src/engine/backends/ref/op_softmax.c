/*
 * Softmax and LogSoftmax. Opset >= 13: along one axis (default -1).
 * Opset < 13: the input is coerced to 2-D at 'axis' (default 1), i.e. the
 * normalization runs over all dims from axis on.
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops_nn.h"

struct softmax_params {
	int64_t outer, len, inner;  /* X viewed as (outer, len, inner), reduced over len */
	int log;
};

static enum jalad_status softmax_infer_common(struct jalad_graph *g, struct jalad_node *n, int log)
{
	enum jalad_status st;
	struct jalad_tensor_ir *x;
	char s1[96];

	JALAD_FORWARD(nn_check_arity(g, n, 1, 1));
	if (!(x = nn_input_f32(g, n, 0, &st)))
		return st;
	int r = x->ndim, coerce = g->opset < 13;
	int64_t axis = jalad_attr_int(n, "axis", coerce ? 1 : -1);
	if (axis < 0)
		axis += r;
	if (r < 1 || axis < 0 || axis > (coerce ? r : r - 1))
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "axis %lld for input %s",
				       (long long)jalad_attr_int(n, "axis", coerce ? 1 : -1),
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));
	struct softmax_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->log = log;
	p->outer = jalad_numel((int)axis, x->dims);
	if (coerce) {
		p->len = jalad_numel(r - (int)axis, x->dims + axis);
		p->inner = 1;
	} else {
		p->len = x->dims[axis];
		p->inner = jalad_numel(r - (int)axis - 1, x->dims + axis + 1);
	}
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, x->dims);
	return JALAD_OK;
}

static enum jalad_status softmax_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return softmax_infer_common(g, n, 0);
}

static enum jalad_status logsoftmax_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return softmax_infer_common(g, n, 1);
}

struct softmax_task {
	const struct softmax_params *p;
	const float *x;
	float *y;
};

static void softmax_task_fn(void *arg, int ith, int nth)
{
	const struct softmax_task *t = arg;
	const struct softmax_params *p = t->p;
	const int64_t len = p->len, inner = p->inner;
	int64_t r0, r1;

	nn_split(p->outer * inner, ith, nth, &r0, &r1);
	for (int64_t r = r0; r < r1; r++) {
		int64_t base = (r / inner) * len * inner + r % inner;
		const float *x = t->x + base;
		float *y = t->y + base;
		float mx = -INFINITY;
		for (int64_t i = 0; i < len; i++)
			if (x[i * inner] > mx)
				mx = x[i * inner];
		float sum = 0.0f;
		if (p->log) {
			for (int64_t i = 0; i < len; i++)
				sum += expf(x[i * inner] - mx);
			float ls = logf(sum);
			for (int64_t i = 0; i < len; i++)
				y[i * inner] = x[i * inner] - mx - ls;
		} else {
			for (int64_t i = 0; i < len; i++) {
				float e = expf(x[i * inner] - mx);
				y[i * inner] = e;
				sum += e;
			}
			for (int64_t i = 0; i < len; i++)
				y[i * inner] /= sum;
		}
	}
}

static enum jalad_status softmax_run(struct jalad_op_ctx *ctx)
{
	struct softmax_task t = {ctx->node->params, ctx->in[0].data, ctx->out[0].data};
	jalad_pool_run(ctx->pool, softmax_task_fn, &t);
	return JALAD_OK;
}

static int64_t softmax_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct softmax_params *p = n->params;
	(void)g;
	return p ? 4 * p->outer * p->len * p->inner : 0;
}

const struct jalad_op_def jalad_op_softmax = {"Softmax", softmax_infer, softmax_run, softmax_flops};
const struct jalad_op_def jalad_op_logsoftmax = {"LogSoftmax", logsoftmax_infer, softmax_run,
						 softmax_flops};
