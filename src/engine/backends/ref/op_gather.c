/* Gather (any data dtype, int32/int64 indices, negative indices count from
 * the end). out[o, j, i] = data[o, idx[j], i] over outer o, index j, inner
 * i. An index out of range fails the run before anything is written. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct gather_params {
	int axis;
};

static enum jalad_status gather_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x, *ix;
	struct gather_params *p;
	int64_t dims[JALAD_MAX_DIMS];
	int axis, nd = 0;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 2, 2, 2, 1, 1));
	x = jalad_node_input(g, n, 0);
	ix = jalad_node_input(g, n, 1);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "data dtype %s", jalad_dtype_name(x->dtype));
	if (ix->dtype != JALAD_DTYPE_INT32 && ix->dtype != JALAD_DTYPE_INT64)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "indices dtype %s, expected int32 or int64",
				       jalad_dtype_name(ix->dtype));
	int64_t a = jalad_attr_int(n, "axis", 0);
	if (jalad_tops_axis(a, x->ndim, &axis))
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
				       (long long)a, x->ndim);
	if (x->ndim - 1 + ix->ndim > JALAD_MAX_DIMS)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "output rank %d above %d",
				       x->ndim - 1 + ix->ndim, JALAD_MAX_DIMS);
	for (int d = 0; d < axis; d++)
		dims[nd++] = x->dims[d];
	for (int d = 0; d < ix->ndim; d++)
		dims[nd++] = ix->dims[d];
	for (int d = axis + 1; d < x->ndim; d++)
		dims[nd++] = x->dims[d];
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	p->axis = axis;
	free(n->params);
	n->params = p;
	return jalad_tops_set_output(g, n, 0, x->dtype, nd, dims);
}

static int64_t index_at(const struct jalad_tensor *ix, int64_t j)
{
	if (ix->dtype == JALAD_DTYPE_INT32)
		return ((const int32_t *)ix->data)[j];
	return ((const int64_t *)ix->data)[j];
}

static enum jalad_status gather_run(struct jalad_op_ctx *ctx)
{
	const struct gather_params *p = ctx->node->params;
	const struct jalad_tensor *x = &ctx->in[0], *ix = &ctx->in[1];
	size_t es = jalad_dtype_size(x->dtype);
	int64_t outer = jalad_numel(p->axis, x->dims);
	int64_t dim = x->dims[p->axis];
	size_t inner = (size_t)jalad_numel(x->ndim - p->axis - 1, x->dims + p->axis + 1) * es;
	int64_t ni = jalad_tensor_numel(ix);
	for (int64_t j = 0; j < ni; j++) {
		int64_t k = index_at(ix, j);
		JALAD_RETURN_IF(k < -dim || k >= dim, JALAD_ERR_INVALID_ARG,
				"node '%s' (Gather): index %lld out of range for axis %d of size %lld",
				ctx->node->name ? ctx->node->name : "", (long long)k, p->axis, (long long)dim);
	}
	if (inner == 0 || outer == 0)
		return JALAD_OK;
	char *dst = ctx->out[0].data;
	for (int64_t o = 0; o < outer; o++) {
		const char *src = (const char *)x->data + (size_t)o * (size_t)dim * inner;
		for (int64_t j = 0; j < ni; j++) {
			int64_t k = index_at(ix, j);
			k = k < 0 ? k + dim : k;
			memcpy(dst, src + (size_t)k * inner, inner);
			dst += inner;
		}
	}
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_gather = { "Gather", gather_infer, gather_run, NULL };
