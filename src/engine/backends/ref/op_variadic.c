/* Sum, Max, Min and Mean over any number of inputs with numpy broadcasting:
 * out = in0 op in1, then out = out op in_i for the rest (a fixed order, so
 * results do not depend on the thread count). */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct variadic_params {
	enum jalad_tops_binop op;
	int mean;
};

static enum jalad_status variadic_infer_op(struct jalad_graph *g, struct jalad_node *n,
					   enum jalad_tops_binop op, int mean)
{
	const struct jalad_tensor_ir *x0;
	int64_t dims[JALAD_MAX_DIMS];
	int nd;
	struct variadic_params *p;
	char s1[96], s2[96];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1 << 20, n->n_in, 1, 1));
	x0 = jalad_node_input(g, n, 0);
	if (!jalad_tops_binary_supported(op, x0->dtype) || (mean && x0->dtype != JALAD_DTYPE_FLOAT32))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s",
				       jalad_dtype_name(x0->dtype));
	nd = x0->ndim;
	memcpy(dims, x0->dims, sizeof dims);
	for (int i = 1; i < n->n_in; i++) {
		const struct jalad_tensor_ir *x = jalad_node_input(g, n, i);
		if (x->dtype != x0->dtype)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "input %d is %s, input 0 is %s", i,
					       jalad_dtype_name(x->dtype), jalad_dtype_name(x0->dtype));
		int64_t prev[JALAD_MAX_DIMS];
		memcpy(prev, dims, sizeof prev);
		if (jalad_broadcast_shape(nd, prev, x->ndim, x->dims, &nd, dims) != JALAD_OK)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot broadcast %s with input %d %s",
					       jalad_tops_dims_str(nd, prev, s1, sizeof s1), i,
					       jalad_tops_dims_str(x->ndim, x->dims, s2, sizeof s2));
	}
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	p->op = op;
	p->mean = mean;
	free(n->params);
	n->params = p;
	return jalad_tops_set_output(g, n, 0, x0->dtype, nd, dims);
}

static enum jalad_status variadic_run(struct jalad_op_ctx *ctx)
{
	const struct variadic_params *p = ctx->node->params;
	struct jalad_tensor *out = &ctx->out[0];
	int first = 0;
	/* If out shares memory with an input, that input must be read first. */
	for (int i = 0; i < ctx->n_in; i++)
		if (ctx->in[i].data == out->data)
			first = i;
	if (ctx->n_in == 1) {
		jalad_tops_copy(out->data, ctx->in[0].data,
				(size_t)jalad_tensor_numel(out) * jalad_dtype_size(out->dtype));
	} else {
		int second = first == 0 ? 1 : 0;
		jalad_tops_binary(ctx->pool, p->op, &ctx->in[first], &ctx->in[second], out);
		for (int i = 0; i < ctx->n_in; i++)
			if (i != first && i != second)
				jalad_tops_binary(ctx->pool, p->op, out, &ctx->in[i], out);
	}
	if (p->mean) {
		float k = (float)ctx->n_in;
		struct jalad_tensor s = { JALAD_DTYPE_FLOAT32, 0, { 0 }, &k };
		jalad_tops_binary(ctx->pool, JALAD_TOPS_DIV, out, &s, out);
	}
	return JALAD_OK;
}

static int64_t variadic_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	return jalad_ir_numel(&g->tensors[n->out[0]]) * (n->n_in > 1 ? n->n_in - 1 : 1);
}

#define VARIADIC_OP(var, opname, fn, op, mean)                                    \
	static enum jalad_status fn(struct jalad_graph *g, struct jalad_node *n) \
	{                                                                         \
		return variadic_infer_op(g, n, op, mean);                         \
	}                                                                         \
	const struct jalad_op_def var = { opname, fn, variadic_run, variadic_flops }

VARIADIC_OP(jalad_op_sum, "Sum", sum_infer, JALAD_TOPS_ADD, 0);
VARIADIC_OP(jalad_op_max, "Max", max_infer, JALAD_TOPS_MAX, 0);
VARIADIC_OP(jalad_op_min, "Min", min_infer, JALAD_TOPS_MIN, 0);
VARIADIC_OP(jalad_op_mean, "Mean", mean_infer, JALAD_TOPS_ADD, 1);
