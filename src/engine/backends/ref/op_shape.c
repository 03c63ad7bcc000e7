/* Shape: the input's dims as a 1-D int64 tensor, optionally the slice
 * [start, end) of them (opset 15; negative values count from the end and
 * are clamped to [0, rank]). Reads only the input's shape. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct shape_params {
	int start, end;
};

static int clamp_rank(int64_t v, int rank)
{
	if (v < 0)
		v += rank;
	return (int)(v < 0 ? 0 : v > rank ? rank : v);
}

static enum jalad_status shape_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	struct shape_params *p;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	p->start = clamp_rank(jalad_attr_int(n, "start", 0), x->ndim);
	p->end = clamp_rank(jalad_attr_int(n, "end", x->ndim), x->ndim);
	int64_t len = p->end > p->start ? p->end - p->start : 0;
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_INT64, 1, &len);
	return JALAD_OK;
}

static enum jalad_status shape_run(struct jalad_op_ctx *ctx)
{
	const struct shape_params *p = ctx->node->params;
	int64_t *y = ctx->out[0].data;
	for (int d = p->start; d < p->end; d++)
		y[d - p->start] = ctx->in[0].dims[d];
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_shape = { "Shape", shape_infer, shape_run, NULL };
