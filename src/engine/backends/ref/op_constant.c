/* Constant (value tensor, value_float(s), value_int(s)) and
 * ConstantOfShape (fill a constant-shaped output with one value). */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

struct constant_params {
	int tensor;             /* graph tensor holding the value, or -1 */
	int64_t count;          /* elements stored in bytes[] when tensor < 0 */
	size_t es;
	unsigned char bytes[];  /* value_float(s) / value_int(s), or the fill value */
};

static struct constant_params *params_new(struct jalad_node *n, int64_t count, size_t es)
{
	struct constant_params *p = calloc(1, sizeof *p + (size_t)count * es);
	if (!p)
		return NULL;
	free(n->params);
	n->params = p;
	p->tensor = -1;
	p->count = count;
	p->es = es;
	return p;
}

static enum jalad_status constant_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_attr *a = NULL;
	struct constant_params *p;
	static const char *const names[] = { "value", "value_float", "value_floats", "value_int",
					     "value_ints", "value_string", "value_strings", "sparse_value" };
	JALAD_FORWARD(jalad_tops_check_io(g, n, 0, 0, 0, 1, 1));
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const struct jalad_attr *f = jalad_attr_find(n, names[i]);
		if (!f)
			continue;
		if (a)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attributes %s and %s both set", a->name,
					       f->name);
		a = f;
	}
	if (!a)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "no value attribute");
	if (strcmp(a->name, "value") == 0) {
		const struct jalad_tensor_ir *t;
		if (a->type != JALAD_ATTR_TENSOR || a->tensor < 0 || a->tensor >= g->n_tensors)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value is not a tensor");
		t = &g->tensors[a->tensor];
		if (!t->data && jalad_ir_numel(t) != 0)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value has no data");
		if (jalad_dtype_size(t->dtype) == 0 || t->ndim < 0)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "value of dtype %s",
					       jalad_dtype_name(t->dtype));
		p = params_new(n, 0, 1);
		if (!p)
			return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
		p->tensor = a->tensor;
		jalad_node_set_output(g, n, 0, t->dtype, t->ndim, t->dims);
		return JALAD_OK;
	}
	if (strcmp(a->name, "value_float") == 0 || strcmp(a->name, "value_floats") == 0) {
		int many = a->name[11] == 's';
		int64_t count = many ? a->n : 1;
		if (many && a->n > 0 && !a->floats)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value_floats has no data");
		p = params_new(n, count, sizeof(float));
		if (!p)
			return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
		if (many && count)
			memcpy(p->bytes, a->floats, (size_t)count * sizeof(float));
		else if (!many)
			memcpy(p->bytes, &a->f, sizeof(float));
		jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, many, &count);
		return JALAD_OK;
	}
	if (strcmp(a->name, "value_int") == 0 || strcmp(a->name, "value_ints") == 0) {
		int many = a->name[9] == 's';
		int64_t count = many ? a->n : 1;
		if (many && a->n > 0 && !a->ints)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value_ints has no data");
		p = params_new(n, count, sizeof(int64_t));
		if (!p)
			return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
		if (many && count)
			memcpy(p->bytes, a->ints, (size_t)count * sizeof(int64_t));
		else if (!many)
			memcpy(p->bytes, &a->i, sizeof(int64_t));
		jalad_node_set_output(g, n, 0, JALAD_DTYPE_INT64, many, &count);
		return JALAD_OK;
	}
	return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute %s", a->name);
}

static enum jalad_status constant_run(struct jalad_op_ctx *ctx)
{
	const struct constant_params *p = ctx->node->params;
	struct jalad_tensor *y = &ctx->out[0];
	size_t bytes = (size_t)jalad_tensor_numel(y) * jalad_dtype_size(y->dtype);
	if (p->tensor >= 0) {
		const struct jalad_tensor_ir *t = &ctx->g->tensors[p->tensor];
		JALAD_RETURN_IF(jalad_ir_bytes(t) != bytes, JALAD_ERR_INTERNAL,
				"Constant: value has %zu bytes, output %zu", jalad_ir_bytes(t), bytes);
		jalad_tops_copy(y->data, t->data, bytes);
	} else {
		jalad_tops_copy(y->data, p->bytes, bytes);
	}
	return JALAD_OK;
}

/* ------------------------------------------------------------ ConstantOfShape */

static enum jalad_status constant_of_shape_infer(struct jalad_graph *g, struct jalad_node *n)
{
	int64_t dims[JALAD_MAX_DIMS];
	int count;
	enum jalad_dtype dt = JALAD_DTYPE_FLOAT32;
	const struct jalad_attr *a;
	struct constant_params *p;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	JALAD_FORWARD(jalad_node_const_ints(g, n, 0, dims, JALAD_MAX_DIMS, &count));
	for (int i = 0; i < count; i++)
		if (dims[i] < 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "negative dim %lld", (long long)dims[i]);
	a = jalad_attr_find(n, "value");
	const struct jalad_tensor_ir *t = NULL;
	if (a) {
		if (a->type != JALAD_ATTR_TENSOR || a->tensor < 0 || a->tensor >= g->n_tensors)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value is not a tensor");
		t = &g->tensors[a->tensor];
		if (jalad_dtype_size(t->dtype) == 0)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "value of dtype %s",
					       jalad_dtype_name(t->dtype));
		if (jalad_ir_numel(t) != 1 || !t->data)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute value is not one element");
		dt = t->dtype;
	}
	p = params_new(n, 1, jalad_dtype_size(dt));
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	if (t)
		memcpy(p->bytes, t->data, p->es);
	return jalad_tops_set_output(g, n, 0, dt, count, dims);
}

static enum jalad_status constant_of_shape_run(struct jalad_op_ctx *ctx)
{
	const struct constant_params *p = ctx->node->params;
	struct jalad_tensor *y = &ctx->out[0];
	int64_t count = jalad_tensor_numel(y);
	char *d = y->data;
	for (int64_t i = 0; i < count; i++)
		memcpy(d + (size_t)i * p->es, p->bytes, p->es);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_constant = { "Constant", constant_infer, constant_run, NULL };
const struct jalad_op_def jalad_op_constant_of_shape = { "ConstantOfShape", constant_of_shape_infer,
							 constant_of_shape_run, NULL };
