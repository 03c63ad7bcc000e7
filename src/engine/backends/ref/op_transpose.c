/* Transpose (any dtype): output axis i is input axis perm[i]; the default
 * perm reverses the axes. Run is one strided copy. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

static enum jalad_status transpose_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	struct jalad_tops_transpose *p;
	int64_t dims[JALAD_MAX_DIMS];
	const int64_t *perm;
	int count, seen[JALAD_MAX_DIMS] = { 0 };
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	jalad_attr_ints(n, "perm", &perm, &count);
	if (!jalad_attr_find(n, "perm")) {
		for (int i = 0; i < x->ndim; i++)
			p->perm[i] = x->ndim - 1 - i;
	} else {
		if (count != x->ndim)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "perm has %d values for rank %d", count, x->ndim);
		for (int i = 0; i < count; i++) {
			int ax;
			if (jalad_tops_axis(perm[i], x->ndim, &ax) || seen[ax]++)
				return jalad_node_fail(n, JALAD_ERR_FORMAT, "perm is not a permutation of 0..%d",
						       x->ndim - 1);
			p->perm[i] = ax;
		}
	}
	for (int i = 0; i < x->ndim; i++)
		dims[i] = x->dims[p->perm[i]];
	jalad_node_set_output(g, n, 0, x->dtype, x->ndim, dims);
	return JALAD_OK;
}

static enum jalad_status transpose_run(struct jalad_op_ctx *ctx)
{
	const struct jalad_tops_transpose *p = ctx->node->params;
	const struct jalad_tensor *x = &ctx->in[0];
	struct jalad_tensor *y = &ctx->out[0];
	int64_t xs[JALAD_MAX_DIMS], ss[JALAD_MAX_DIMS];
	jalad_strides(x->ndim, x->dims, xs);
	for (int i = 0; i < y->ndim; i++)
		ss[i] = xs[p->perm[i]];
	jalad_tops_copy_strided(ctx->pool, jalad_dtype_size(x->dtype), y->ndim, y->dims, x->data, ss, y->data);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_transpose = { "Transpose", transpose_infer, transpose_run, NULL };
