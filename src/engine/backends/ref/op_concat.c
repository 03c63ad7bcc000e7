/* Concat: join inputs along one axis (any dtype). The output is `outer`
 * rows; each row is every input's block of dims[axis:] in turn. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct concat_params {
	int axis;
};

static enum jalad_status concat_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x0;
	int64_t dims[JALAD_MAX_DIMS];
	int axis;
	struct concat_params *p;
	char s1[96], s2[96];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1 << 20, n->n_in, 1, 1));
	x0 = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x0->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x0->dtype));
	if (!jalad_attr_find(n, "axis") && g->opset >= 4)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute axis is required");
	if (x0->ndim == 0)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot concatenate scalars");
	int64_t a = jalad_attr_int(n, "axis", 1);
	if (jalad_tops_axis(a, x0->ndim, &axis))
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
				       (long long)a, x0->ndim);
	memcpy(dims, x0->dims, sizeof dims);
	for (int i = 1; i < n->n_in; i++) {
		const struct jalad_tensor_ir *x = jalad_node_input(g, n, i);
		if (x->dtype != x0->dtype)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "input %d is %s, input 0 is %s", i,
					       jalad_dtype_name(x->dtype), jalad_dtype_name(x0->dtype));
		int ok = x->ndim == x0->ndim;
		for (int d = 0; ok && d < x0->ndim; d++)
			ok = d == axis || x->dims[d] == x0->dims[d];
		if (!ok)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "input %d shape %s does not match input 0 %s on axis %d",
					       i, jalad_tops_dims_str(x->ndim, x->dims, s1, sizeof s1),
					       jalad_tops_dims_str(x0->ndim, x0->dims, s2, sizeof s2), axis);
		dims[axis] += x->dims[axis];
	}
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	p->axis = axis;
	free(n->params);
	n->params = p;
	jalad_node_set_output(g, n, 0, x0->dtype, x0->ndim, dims);
	return JALAD_OK;
}

struct concat_task {
	const struct jalad_op_ctx *ctx;
	int64_t outer;
	size_t row_bytes;       /* one output row */
};

static void concat_task_run(void *arg, int ith, int nth)
{
	const struct concat_task *t = arg;
	const struct jalad_op_ctx *ctx = t->ctx;
	const struct concat_params *p = ctx->node->params;
	size_t es = jalad_dtype_size(ctx->out[0].dtype);
	int64_t lo, hi;
	jalad_tops_range(t->outer, ith, nth, &lo, &hi);
	for (int64_t o = lo; o < hi; o++) {
		char *dst = (char *)ctx->out[0].data + (size_t)o * t->row_bytes;
		for (int i = 0; i < ctx->n_in; i++) {
			const struct jalad_tensor *x = &ctx->in[i];
			size_t blk = (size_t)jalad_numel(x->ndim - p->axis, x->dims + p->axis) * es;
			if (blk)
				memcpy(dst, (const char *)x->data + (size_t)o * blk, blk);
			dst += blk;
		}
	}
}

static enum jalad_status concat_run(struct jalad_op_ctx *ctx)
{
	const struct concat_params *p = ctx->node->params;
	const struct jalad_tensor *y = &ctx->out[0];
	struct concat_task t;
	t.ctx = ctx;
	t.outer = jalad_numel(p->axis, y->dims);
	t.row_bytes = (size_t)jalad_numel(y->ndim - p->axis, y->dims + p->axis) * jalad_dtype_size(y->dtype);
	if (t.outer <= 0 || t.row_bytes == 0)
		return JALAD_OK;
	int64_t work = jalad_tensor_numel(y);
	if (t.outer < 2)
		work = 0;
	jalad_tops_parallel(ctx->pool, work, concat_task_run, &t);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_concat = { "Concat", concat_infer, concat_run, NULL };
