/* Ops that change only the shape: Reshape, Flatten, Squeeze, Unsqueeze.
 * run() copies the bytes (nothing when the executor gave the output the
 * input's buffer). */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

static enum jalad_status reshape_copy_run(struct jalad_op_ctx *ctx)
{
	const struct jalad_tensor *x = &ctx->in[0];
	size_t bytes = (size_t)jalad_tensor_numel(x) * jalad_dtype_size(x->dtype);
	jalad_tops_copy(ctx->out[0].data, x->data, bytes);
	return JALAD_OK;
}

static enum jalad_status check_data(const struct jalad_node *n, const struct jalad_tensor_ir *x)
{
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	return JALAD_OK;
}

/* Axes from the 'axes' attribute (opset < 13) or the constant input 1. */
static enum jalad_status axes_arg(struct jalad_graph *g, struct jalad_node *n, int64_t *axes, int *count)
{
	*count = 0;
	if (g->opset < 13) {
		const int64_t *v;
		jalad_attr_ints(n, "axes", &v, count);
		if (*count > JALAD_MAX_DIMS)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute axes has %d values", *count);
		if (*count)
			memcpy(axes, v, (size_t)*count * sizeof v[0]);
		return JALAD_OK;
	}
	if (!jalad_node_input(g, n, 1))
		return JALAD_OK;
	return jalad_node_const_ints(g, n, 1, axes, JALAD_MAX_DIMS, count);
}

/* ------------------------------------------------------------ Reshape */

static enum jalad_status reshape_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	int64_t shape[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int count = 0, infer_at = -1;
	char s1[96], s2[96];
	JALAD_FORWARD(jalad_tops_check_io(g, n, g->opset < 5 ? 1 : 2, g->opset < 5 ? 1 : 2,
					  g->opset < 5 ? 1 : 2, 1, 1));
	x = jalad_node_input(g, n, 0);
	JALAD_FORWARD(check_data(n, x));
	if (g->opset < 5) {
		const int64_t *v;
		jalad_attr_ints(n, "shape", &v, &count);
		if (count > JALAD_MAX_DIMS)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "shape of rank %d", count);
		if (count)
			memcpy(shape, v, (size_t)count * sizeof v[0]);
	} else {
		JALAD_FORWARD(jalad_node_const_ints(g, n, 1, shape, JALAD_MAX_DIMS, &count));
	}
	int allowzero = (int)jalad_attr_int(n, "allowzero", 0);
	int64_t known = 1, total = jalad_ir_numel(x);
	for (int i = 0; i < count; i++) {
		int64_t v = shape[i];
		if (v == 0 && !allowzero) {
			if (i >= x->ndim)
				return jalad_node_fail(n, JALAD_ERR_SHAPE, "shape[%d] = 0 but the input has rank %d",
						       i, x->ndim);
			v = x->dims[i];
		} else if (v == -1) {
			if (infer_at >= 0)
				return jalad_node_fail(n, JALAD_ERR_SHAPE, "more than one -1 in shape %s",
						       jalad_tops_dims_str(count, shape, s1, sizeof s1));
			infer_at = i;
			dims[i] = -1;
			continue;
		} else if (v < 0) {
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "negative dim %lld in shape", (long long)v);
		}
		dims[i] = v;
		if (v && known > INT64_MAX / v)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "shape %s overflows",
					       jalad_tops_dims_str(count, shape, s1, sizeof s1));
		known *= v;
	}
	if (infer_at >= 0) {
		if (known == 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot infer -1 in shape %s with a zero dim",
					       jalad_tops_dims_str(count, shape, s1, sizeof s1));
		dims[infer_at] = total / known;
		known *= dims[infer_at];
	}
	if (known != total)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot reshape %s to %s",
				       jalad_tops_dims_str(x->ndim, x->dims, s1, sizeof s1),
				       jalad_tops_dims_str(count, shape, s2, sizeof s2));
	jalad_node_set_output(g, n, 0, x->dtype, count, dims);
	return JALAD_OK;
}

/* ------------------------------------------------------------ Flatten */

static enum jalad_status flatten_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	int64_t dims[2];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	JALAD_FORWARD(check_data(n, x));
	int64_t a = jalad_attr_int(n, "axis", 1);
	if (a < -(int64_t)x->ndim || a > x->ndim)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
				       (long long)a, x->ndim);
	int axis = (int)(a < 0 ? a + x->ndim : a);
	dims[0] = jalad_numel(axis, x->dims);
	dims[1] = jalad_numel(x->ndim - axis, x->dims + axis);
	jalad_node_set_output(g, n, 0, x->dtype, 2, dims);
	return JALAD_OK;
}

/* ------------------------------------------------------------ Squeeze */

static enum jalad_status squeeze_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	int64_t axes[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int count, nd = 0, drop[JALAD_MAX_DIMS] = { 0 };
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, g->opset < 13 ? 1 : 2, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	JALAD_FORWARD(check_data(n, x));
	JALAD_FORWARD(axes_arg(g, n, axes, &count));
	for (int i = 0; i < count; i++) {
		int ax;
		if (jalad_tops_axis(axes[i], x->ndim, &ax))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
					       (long long)axes[i], x->ndim);
		if (x->dims[ax] != 1)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot squeeze axis %d of size %lld", ax,
					       (long long)x->dims[ax]);
		drop[ax] = 1;
	}
	for (int d = 0; d < x->ndim; d++)
		if (!(count ? drop[d] : x->dims[d] == 1))
			dims[nd++] = x->dims[d];
	jalad_node_set_output(g, n, 0, x->dtype, nd, dims);
	return JALAD_OK;
}

/* ------------------------------------------------------------ Unsqueeze */

static enum jalad_status unsqueeze_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	int64_t axes[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int count, nd, add[JALAD_MAX_DIMS] = { 0 };
	JALAD_FORWARD(jalad_tops_check_io(g, n, g->opset < 13 ? 1 : 2, g->opset < 13 ? 1 : 2,
					  g->opset < 13 ? 1 : 2, 1, 1));
	x = jalad_node_input(g, n, 0);
	JALAD_FORWARD(check_data(n, x));
	JALAD_FORWARD(axes_arg(g, n, axes, &count));
	if (count == 0)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "no axes");
	nd = x->ndim + count;
	if (nd > JALAD_MAX_DIMS)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "output rank %d above %d", nd, JALAD_MAX_DIMS);
	for (int i = 0; i < count; i++) {
		int ax;
		if (jalad_tops_axis(axes[i], nd, &ax))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
					       (long long)axes[i], nd);
		if (add[ax]++)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %d repeated", ax);
	}
	for (int d = 0, k = 0; d < nd; d++)
		dims[d] = add[d] ? 1 : x->dims[k++];
	jalad_node_set_output(g, n, 0, x->dtype, nd, dims);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_reshape = { "Reshape", reshape_infer, reshape_copy_run, NULL };
const struct jalad_op_def jalad_op_flatten = { "Flatten", flatten_infer, reshape_copy_run, NULL };
const struct jalad_op_def jalad_op_squeeze = { "Squeeze", squeeze_infer, reshape_copy_run, NULL };
const struct jalad_op_def jalad_op_unsqueeze = { "Unsqueeze", unsqueeze_infer, reshape_copy_run, NULL };
