/* Expand (any dtype): broadcast the input to the numpy broadcast of its
 * shape and the constant 'shape' input. A strided copy with stride 0 on
 * broadcast axes. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

static enum jalad_status expand_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	int64_t shape[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int count, nd;
	char s1[96], s2[96];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 2, 2, 2, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	JALAD_FORWARD(jalad_node_const_ints(g, n, 1, shape, JALAD_MAX_DIMS, &count));
	for (int i = 0; i < count; i++)
		if (shape[i] < 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "negative dim in shape %s",
					       jalad_tops_dims_str(count, shape, s1, sizeof s1));
	if (jalad_broadcast_shape(x->ndim, x->dims, count, shape, &nd, dims) != JALAD_OK)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot expand %s to %s",
				       jalad_tops_dims_str(x->ndim, x->dims, s1, sizeof s1),
				       jalad_tops_dims_str(count, shape, s2, sizeof s2));
	return jalad_tops_set_output(g, n, 0, x->dtype, nd, dims);
}

static enum jalad_status expand_run(struct jalad_op_ctx *ctx)
{
	const struct jalad_tensor *x = &ctx->in[0];
	struct jalad_tensor *y = &ctx->out[0];
	int64_t ss[JALAD_MAX_DIMS], st = 1;
	for (int d = y->ndim - 1; d >= 0; d--) {
		int xi = d - (y->ndim - x->ndim);
		ss[d] = xi < 0 || x->dims[xi] == 1 ? 0 : st;
		if (xi >= 0)
			st *= x->dims[xi];
	}
	jalad_tops_copy_strided(ctx->pool, jalad_dtype_size(x->dtype), y->ndim, y->dims, x->data, ss, y->data);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_expand = { "Expand", expand_infer, expand_run, NULL };
