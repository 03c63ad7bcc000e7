/* Cast among float32, int64, int32, int8, uint8 and bool. Float to integer
 * truncates toward zero and saturates (NaN gives 0) instead of the undefined
 * behaviour of a plain C conversion; integer narrowing wraps; anything to
 * bool is "!= 0". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct cast_params {
	enum jalad_dtype to;
};

static int castable(enum jalad_dtype dt)
{
	return jalad_tops_numeric(dt) || dt == JALAD_DTYPE_BOOL;
}

static enum jalad_status cast_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	struct cast_params *p;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	const struct jalad_attr *to = jalad_attr_find(n, "to");
	if (!to || to->type != JALAD_ATTR_INT)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute to is missing");
	if (!castable(x->dtype))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	if (to->i < 0 || to->i > 64 || !castable((enum jalad_dtype)to->i))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute to=%lld", (long long)to->i);
	if (jalad_attr_int(n, "saturate", 1) != 1)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute saturate=0");
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	p->to = (enum jalad_dtype)to->i;
	free(n->params);
	n->params = p;
	jalad_node_set_output(g, n, 0, p->to, x->ndim, x->dims);
	return JALAD_OK;
}

/* float -> int64 with truncation and saturation at [lo, hi] */
static int64_t f2i(float v, int64_t lo, int64_t hi)
{
	if (v != v)
		return 0;
	if (v <= (float)lo)
		return lo;
	if (v >= (float)hi)   /* (float)INT64_MAX rounds up to 2^63 */
		return hi;
	return (int64_t)v;
}

struct cast_task {
	enum jalad_dtype from, to;
	const void *x;
	void *y;
	int64_t n;
};

static void cast_task_run(void *arg, int ith, int nth)
{
	const struct cast_task *t = arg;
	int64_t lo, hi;
	jalad_tops_range(t->n, ith, nth, &lo, &hi);
	for (int64_t i = lo; i < hi; i++) {
		if (t->from == JALAD_DTYPE_FLOAT32) {
			float v = ((const float *)t->x)[i];
			switch (t->to) {
			case JALAD_DTYPE_FLOAT32: ((float *)t->y)[i] = v; break;
			case JALAD_DTYPE_INT64: ((int64_t *)t->y)[i] = f2i(v, INT64_MIN, INT64_MAX); break;
			case JALAD_DTYPE_INT32: ((int32_t *)t->y)[i] = (int32_t)f2i(v, INT32_MIN, INT32_MAX); break;
			case JALAD_DTYPE_INT8: ((int8_t *)t->y)[i] = (int8_t)f2i(v, INT8_MIN, INT8_MAX); break;
			case JALAD_DTYPE_UINT8: ((uint8_t *)t->y)[i] = (uint8_t)f2i(v, 0, UINT8_MAX); break;
			case JALAD_DTYPE_BOOL: ((uint8_t *)t->y)[i] = v != 0.0f; break;
			default: break;
			}
			continue;
		}
		int64_t v;
		switch (t->from) {
		case JALAD_DTYPE_INT64: v = ((const int64_t *)t->x)[i]; break;
		case JALAD_DTYPE_INT32: v = ((const int32_t *)t->x)[i]; break;
		case JALAD_DTYPE_INT8: v = ((const int8_t *)t->x)[i]; break;
		case JALAD_DTYPE_BOOL: v = ((const uint8_t *)t->x)[i] != 0; break;
		default: v = ((const uint8_t *)t->x)[i]; break;
		}
		switch (t->to) {
		case JALAD_DTYPE_FLOAT32: ((float *)t->y)[i] = (float)v; break;
		case JALAD_DTYPE_INT64: ((int64_t *)t->y)[i] = v; break;
		case JALAD_DTYPE_INT32: ((int32_t *)t->y)[i] = (int32_t)v; break;
		case JALAD_DTYPE_INT8: ((int8_t *)t->y)[i] = (int8_t)v; break;
		case JALAD_DTYPE_UINT8: ((uint8_t *)t->y)[i] = (uint8_t)v; break;
		case JALAD_DTYPE_BOOL: ((uint8_t *)t->y)[i] = v != 0; break;
		default: break;
		}
	}
}

static enum jalad_status cast_run(struct jalad_op_ctx *ctx)
{
	const struct cast_params *p = ctx->node->params;
	struct cast_task t;
	t.from = ctx->in[0].dtype;
	t.to = p->to;
	t.x = ctx->in[0].data;
	t.y = ctx->out[0].data;
	t.n = jalad_tensor_numel(&ctx->in[0]);
	if (t.n <= 0)
		return JALAD_OK;
	if (t.from == t.to) {
		jalad_tops_copy(t.y, t.x, (size_t)t.n * jalad_dtype_size(t.to));
		return JALAD_OK;
	}
	jalad_tops_parallel(ctx->pool, t.n, cast_task_run, &t);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_cast = { "Cast", cast_infer, cast_run, NULL };
