/* Split: cut one tensor along an axis into n_out parts (any dtype). Part
 * sizes come from the 'split' attribute (opset < 13), the constant 'split'
 * input (opset >= 13), or are equal. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct split_params {
	int axis;
	int n;
	int64_t sizes[];        /* n part sizes along axis */
};

static enum jalad_status split_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	struct split_params *p;
	int axis, count = 0;
	int64_t total = 0, dims[JALAD_MAX_DIMS];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 2, 1, 1, 1 << 16));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	if (jalad_attr_find(n, "num_outputs"))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute num_outputs");
	int64_t a = jalad_attr_int(n, "axis", 0);
	if (jalad_tops_axis(a, x->ndim, &axis))
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
				       (long long)a, x->ndim);
	p = calloc(1, sizeof *p + (size_t)n->n_out * sizeof p->sizes[0]);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	p->axis = axis;
	p->n = n->n_out;
	if (jalad_node_input(g, n, 1)) {
		enum jalad_status st = jalad_node_const_ints(g, n, 1, p->sizes, p->n, &count);
		if (st != JALAD_OK)
			return st;
		if (count != p->n)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "input 'split' has %d values for %d outputs",
					       count, p->n);
	} else if (jalad_attr_find(n, "split")) {
		const int64_t *v;
		jalad_attr_ints(n, "split", &v, &count);
		if (count != p->n)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute split has %d values for %d outputs",
					       count, p->n);
		memcpy(p->sizes, v, (size_t)count * sizeof v[0]);
	} else {
		if (x->dims[axis] % p->n)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "dim %lld of axis %d does not split into %d equal parts",
					       (long long)x->dims[axis], axis, p->n);
		for (int i = 0; i < p->n; i++)
			p->sizes[i] = x->dims[axis] / p->n;
	}
	for (int i = 0; i < p->n; i++) {
		if (p->sizes[i] < 0 || p->sizes[i] > x->dims[axis])
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "split size %lld out of range",
					       (long long)p->sizes[i]);
		total += p->sizes[i];
	}
	if (total != x->dims[axis])
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "split sizes sum to %lld, axis %d has %lld",
				       (long long)total, axis, (long long)x->dims[axis]);
	memcpy(dims, x->dims, sizeof dims);
	for (int i = 0; i < p->n; i++) {
		dims[axis] = p->sizes[i];
		jalad_node_set_output(g, n, i, x->dtype, x->ndim, dims);
	}
	return JALAD_OK;
}

static enum jalad_status split_run(struct jalad_op_ctx *ctx)
{
	const struct split_params *p = ctx->node->params;
	const struct jalad_tensor *x = &ctx->in[0];
	size_t es = jalad_dtype_size(x->dtype);
	int64_t outer = jalad_numel(p->axis, x->dims);
	size_t inner = (size_t)jalad_numel(x->ndim - p->axis - 1, x->dims + p->axis + 1) * es;
	size_t row = (size_t)x->dims[p->axis] * inner;
	size_t off = 0;
	for (int i = 0; i < p->n && i < ctx->n_out; i++) {
		size_t blk = (size_t)p->sizes[i] * inner;
		char *dst = ctx->out[i].data;
		if (dst && blk)
			for (int64_t o = 0; o < outer; o++)
				memcpy(dst + (size_t)o * blk, (const char *)x->data + (size_t)o * row + off, blk);
		off += blk;
	}
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_split = { "Split", split_infer, split_run, NULL };
