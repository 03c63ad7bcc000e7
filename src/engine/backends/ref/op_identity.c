/* Identity and Dropout (inference, or training with ratio 0: identity; its
 * optional mask output is all ones, i.e. every element kept). */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

static enum jalad_status identity_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	jalad_node_set_output(g, n, 0, x->dtype, x->ndim, x->dims);
	return JALAD_OK;
}

static enum jalad_status dropout_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x, *tm;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 3, 1, 1, 2));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	tm = jalad_node_input(g, n, 2);
	if (tm) {
		if (!tm->data)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input 'training_mode' is not a constant");
		if (tm->dtype != JALAD_DTYPE_BOOL || jalad_ir_numel(tm) != 1)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "input 'training_mode' is not a bool scalar");
		/* training with ratio 0 keeps everything: still the identity */
		const struct jalad_tensor_ir *r = jalad_node_input(g, n, 1);
		float ratio = 0.5f;
		if (*(const uint8_t *)tm->data) {
			if (r && !r->data)
				return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED,
						       "training_mode=1 with a non-constant ratio");
			if (r && r->dtype == JALAD_DTYPE_FLOAT32 && jalad_ir_numel(r) == 1)
				memcpy(&ratio, r->data, sizeof ratio);
			if (ratio != 0.0f)
				return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "training_mode=1 with ratio %g",
						       (double)ratio);
		}
	}
	jalad_node_set_output(g, n, 0, x->dtype, x->ndim, x->dims);
	if (n->n_out > 1 && jalad_node_output(g, n, 1)) {
		if (g->opset < 10 && x->dtype != JALAD_DTYPE_FLOAT32)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "mask of dtype %s",
					       jalad_dtype_name(x->dtype));
		jalad_node_set_output(g, n, 1, g->opset < 10 ? x->dtype : JALAD_DTYPE_BOOL, x->ndim, x->dims);
	}
	return JALAD_OK;
}

static enum jalad_status identity_run(struct jalad_op_ctx *ctx)
{
	const struct jalad_tensor *x = &ctx->in[0];
	size_t count = (size_t)jalad_tensor_numel(x);
	jalad_tops_copy(ctx->out[0].data, x->data, count * jalad_dtype_size(x->dtype));
	if (ctx->n_out > 1 && ctx->out[1].data && count) {
		struct jalad_tensor *m = &ctx->out[1];
		if (m->dtype == JALAD_DTYPE_FLOAT32) {
			float *f = m->data;
			for (size_t i = 0; i < count; i++)
				f[i] = 1.0f;
		} else {
			memset(m->data, 1, count);
		}
	}
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_identity = { "Identity", identity_infer, identity_run, NULL };
const struct jalad_op_def jalad_op_dropout = { "Dropout", dropout_infer, identity_run, NULL };
