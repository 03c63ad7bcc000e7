/*
 * ONNX protobuf -> graph IR, through protobuf-c code generated at build time
 * from Debian's onnx.proto.
 *
 * Weights are held once: the bytes protobuf-c unpacked for each raw_data
 * field are taken over by the graph (our allocator is plain malloc, so the
 * graph can free them) instead of being copied again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_impl.h"
#include "onnx.pb-c.h"

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return malloc(size ? size : 1);
}

static void pb_free(void *data, void *ptr)
{
	(void)data;
	free(ptr);
}

static ProtobufCAllocator pb_allocator = { pb_alloc, pb_free, NULL };

static int dtype_supported(int32_t dt)
{
	switch (dt) {
	case JALAD_DTYPE_FLOAT32: case JALAD_DTYPE_UINT8: case JALAD_DTYPE_INT8:
	case JALAD_DTYPE_INT32: case JALAD_DTYPE_INT64: case JALAD_DTYPE_BOOL:
		return 1;
	}
	return 0;
}

static const char *onnx_dtype_name(int32_t dt)
{
	static const char *names[] = { "undefined", "float32", "uint8", "int8", "uint16", "int16",
				       "int32", "int64", "string", "bool", "float16", "double",
				       "uint32", "uint64", "complex64", "complex128", "bfloat16" };
	return dt >= 0 && dt < (int32_t)(sizeof names / sizeof names[0]) ? names[dt] : "unknown";
}

/* Convert a TensorProto into dtype/dims/data. With steal, raw_data's buffer
 * is taken from the message instead of copied. */
static enum jalad_status tensor_from_proto(Onnx__TensorProto *tp, int steal, enum jalad_dtype *dtype,
					   int *ndim, int64_t *dims, void **data)
{
	const char *name = tp->name ? tp->name : "";
	int32_t dt = tp->has_data_type ? tp->data_type : 0;
	*data = NULL;
	JALAD_RETURN_IF(!dtype_supported(dt), JALAD_ERR_UNSUPPORTED, "tensor '%s': dtype %s is not supported",
			name, onnx_dtype_name(dt));
	JALAD_RETURN_IF(tp->n_external_data > 0 || (tp->has_data_location && tp->data_location == 1),
			JALAD_ERR_UNSUPPORTED, "tensor '%s': external data files are not supported", name);
	JALAD_RETURN_IF(tp->n_dims > JALAD_MAX_DIMS, JALAD_ERR_UNSUPPORTED, "tensor '%s': rank %zu above %d",
			name, tp->n_dims, JALAD_MAX_DIMS);
	size_t numel = 1, esize = jalad_dtype_size((enum jalad_dtype)dt), bytes;
	for (size_t i = 0; i < tp->n_dims; i++) {
		JALAD_RETURN_IF(tp->dims[i] < 0, JALAD_ERR_FORMAT, "tensor '%s': negative dim %lld", name,
				(long long)tp->dims[i]);
		JALAD_RETURN_IF(jalad_mul_size(numel, (size_t)tp->dims[i], &numel) ||
				numel > ((size_t)1 << 40), JALAD_ERR_FORMAT, "tensor '%s': size overflows", name);
		dims[i] = tp->dims[i];
	}
	bytes = numel * esize;
	*dtype = (enum jalad_dtype)dt;
	*ndim = (int)tp->n_dims;
	/* The spec allows one place for the values: raw_data, or the typed
	 * field of the dtype. Values anywhere else mean a broken writer. */
	const char *typed = dt == JALAD_DTYPE_FLOAT32 ? "float_data" : dt == JALAD_DTYPE_INT64 ? "int64_data"
											   : "int32_data";
	size_t n_typed = dt == JALAD_DTYPE_FLOAT32 ? tp->n_float_data
			 : dt == JALAD_DTYPE_INT64 ? tp->n_int64_data : tp->n_int32_data;
	JALAD_RETURN_IF(tp->has_raw_data && tp->raw_data.len > 0 && n_typed > 0, JALAD_ERR_FORMAT,
			"tensor '%s': has both raw_data and %s", name, typed);
	static const char *const fields[] = { "float_data", "int32_data", "string_data", "int64_data",
					      "double_data", "uint64_data" };
	size_t counts[] = { tp->n_float_data, tp->n_int32_data, tp->n_string_data, tp->n_int64_data,
			    tp->n_double_data, tp->n_uint64_data };
	for (size_t f = 0; f < sizeof counts / sizeof counts[0]; f++)
		JALAD_RETURN_IF(counts[f] > 0 && strcmp(fields[f], typed) != 0, JALAD_ERR_FORMAT,
				"tensor '%s': dtype %s has values in %s (they belong in raw_data or %s)", name,
				onnx_dtype_name(dt), fields[f], typed);
	if (tp->has_raw_data && (tp->raw_data.len > 0 || numel == 0)) {
		JALAD_RETURN_IF(tp->raw_data.len != bytes, JALAD_ERR_FORMAT,
				"tensor '%s': raw_data has %zu bytes, its shape needs %zu", name,
				tp->raw_data.len, bytes);
		if (steal && tp->raw_data.data && bytes > 0) {
			*data = tp->raw_data.data;
			tp->raw_data.data = NULL;
			tp->raw_data.len = 0;
			return JALAD_OK;
		}
		*data = malloc(bytes ? bytes : 1);
		JALAD_RETURN_IF(!*data, JALAD_ERR_NOMEM, "tensor '%s': %zu bytes", name, bytes);
		if (bytes)
			memcpy(*data, tp->raw_data.data, bytes);
		return JALAD_OK;
	}
	*data = malloc(bytes ? bytes : 1);
	JALAD_RETURN_IF(!*data, JALAD_ERR_NOMEM, "tensor '%s': %zu bytes", name, bytes);
	size_t have;
	switch (dt) {
	case JALAD_DTYPE_FLOAT32:
		have = tp->n_float_data;
		if (have == numel && numel)
			memcpy(*data, tp->float_data, bytes);
		break;
	case JALAD_DTYPE_INT64:
		have = tp->n_int64_data;
		if (have == numel && numel)
			memcpy(*data, tp->int64_data, bytes);
		break;
	default: /* int32, uint8, int8, bool all travel in int32_data */
		have = tp->n_int32_data;
		if (have == numel) {
			for (size_t i = 0; i < numel; i++) {
				int32_t v = tp->int32_data[i];
				if (dt == JALAD_DTYPE_INT32)
					((int32_t *)*data)[i] = v;
				else
					((uint8_t *)*data)[i] = (uint8_t)v;
			}
		}
		break;
	}
	if (have != numel) {
		free(*data);
		*data = NULL;
		return jalad_fail(JALAD_ERR_FORMAT, "tensor '%s': has %zu values, its shape needs %zu", name,
				  have, numel);
	}
	return JALAD_OK;
}

static enum jalad_status add_const(struct jalad_graph *g, Onnx__TensorProto *tp, const char *name, int *id)
{
	enum jalad_status st;
	int t;
	JALAD_FORWARD(jalad_graph_add_tensor(g, name, &t));
	struct jalad_tensor_ir *ir = &g->tensors[t];
	st = tensor_from_proto(tp, 1, &ir->dtype, &ir->ndim, ir->dims, &ir->data);
	if (st != JALAD_OK)
		return st;
	if (id)
		*id = t;
	return JALAD_OK;
}

/* Tensor id for a name used as a node input or output, creating it. */
static enum jalad_status ref_tensor(struct jalad_graph *g, const char *name, int *id)
{
	if (!name || !*name) {
		*id = -1;
		return JALAD_OK;
	}
	int t = jalad_graph_find_tensor(g, name);
	if (t >= 0) {
		*id = t;
		return JALAD_OK;
	}
	return jalad_graph_add_tensor(g, name, id);
}

static const char *attr_type_name(int type)
{
	static const char *const names[] = { "UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH",
					     "FLOATS", "INTS", "STRINGS", "TENSORS", "GRAPHS",
					     "SPARSE_TENSOR", "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS" };
	return type >= 0 && type < (int)(sizeof names / sizeof names[0]) ? names[type] : "unknown";
}

/* The type of every attribute a supported operator reads (ONNX operator
 * docs); op NULL applies to every op. An attribute of another type would
 * be taken as absent by the kernels, silently. */
static const struct attr_schema {
	const char *op, *name;
	int type;
} attr_schema[] = {
	{ "Pad", "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ "Constant", "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR },
	{ "ConstantOfShape", "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR },
	{ "Constant", "value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ "Constant", "value_floats", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS },
	{ "Constant", "value_int", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ "Constant", "value_ints", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "kernel_shape", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "strides", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "pads", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "dilations", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "axes", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "perm", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "split", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "shape", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS },
	{ NULL, "axis", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "group", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "allowzero", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "broadcast", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "ceil_mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "count_include_pad", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "keepdims", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "noop_with_empty_axes", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "num_outputs", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "saturate", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "size", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "spatial", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "start", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "end", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "storage_order", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "to", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "training_mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "transA", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "transB", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT },
	{ NULL, "auto_pad", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING },
	{ NULL, "mode", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING },
	/* Float attributes: exporters sometimes write a whole number as INT,
	 * which the kernels read as that float (see jalad_attr_float). */
	{ NULL, "alpha", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "beta", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "bias", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "epsilon", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "gamma", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "min", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
	{ NULL, "max", -ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT },
};

/* JALAD_OK, or an error naming the node, the attribute and both types. */
static enum jalad_status check_attr_type(const struct jalad_node *n, const Onnx__AttributeProto *ap)
{
	const char *name = ap->name ? ap->name : "";
	int want = 0;
	for (size_t i = 0; i < sizeof attr_schema / sizeof attr_schema[0] && !want; i++)
		if (strcmp(attr_schema[i].name, name) == 0 &&
		    (!attr_schema[i].op || strcmp(attr_schema[i].op, n->op_type) == 0))
			want = attr_schema[i].type;
	if (!want || (int)ap->type == want || (int)ap->type == -want ||
	    (want < 0 && ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT))
		return JALAD_OK;
	return jalad_fail(JALAD_ERR_FORMAT, "node '%s' (%s): attribute '%s' is %s, the operator takes %s", n->name,
			  n->op_type, name, attr_type_name((int)ap->type), attr_type_name(want < 0 ? -want : want));
}

/* The value fields an attribute of this type may fill: anything else set
 * means the type and the payload disagree. */
static enum jalad_status check_attr_payload(const struct jalad_node *n, const Onnx__AttributeProto *ap)
{
	static const struct { int type; const char *field; } f[] = {
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "f" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "i" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "s" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR, "t" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH, "g" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, "floats" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "ints" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS, "strings" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS, "tensors" },
		{ ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS, "graphs" },
	};
	int set[] = { ap->has_f && ap->f != 0.0f, ap->has_i && ap->i != 0, ap->has_s && ap->s.len > 0, ap->t != NULL,
		      ap->g != NULL, ap->n_floats > 0, ap->n_ints > 0, ap->n_strings > 0, ap->n_tensors > 0,
		      ap->n_graphs > 0 };
	for (size_t k = 0; k < sizeof set / sizeof set[0]; k++)
		if (set[k] && f[k].type != (int)ap->type)
			return jalad_fail(JALAD_ERR_FORMAT, "node '%s' (%s): attribute '%s' is declared %s but sets field '%s'",
					  n->name, n->op_type, ap->name ? ap->name : "", attr_type_name((int)ap->type),
					  f[k].field);
	return JALAD_OK;
}

static enum jalad_status convert_attr(struct jalad_graph *g, struct jalad_node *n, Onnx__AttributeProto *ap,
				      struct jalad_attr *a)
{
	memset(a, 0, sizeof *a);
	a->tensor = -1;
	a->name = strdup(ap->name ? ap->name : "");
	JALAD_RETURN_IF(!a->name, JALAD_ERR_NOMEM, "attribute name");
	JALAD_RETURN_IF(ap->ref_attr_name && *ap->ref_attr_name, JALAD_ERR_UNSUPPORTED,
			"node '%s' (%s): attribute '%s' refers to a function attribute", n->name, n->op_type, a->name);
	a->type = (enum jalad_attr_type)ap->type;
	switch (ap->type) {
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
		a->f = ap->f;
		break;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
		a->i = ap->i;
		break;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
		a->s = malloc(ap->s.len + 1);
		JALAD_RETURN_IF(!a->s, JALAD_ERR_NOMEM, "attribute string");
		if (ap->s.len)
			memcpy(a->s, ap->s.data, ap->s.len);
		a->s[ap->s.len] = 0;
		break;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
		JALAD_RETURN_IF(ap->n_floats > 1u << 24, JALAD_ERR_LIMIT, "attribute '%s' too long", a->name);
		a->n = (int)ap->n_floats;
		a->floats = malloc((ap->n_floats ? ap->n_floats : 1) * sizeof(float));
		JALAD_RETURN_IF(!a->floats, JALAD_ERR_NOMEM, "attribute floats");
		if (ap->n_floats)
			memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
		break;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
		JALAD_RETURN_IF(ap->n_ints > 1u << 24, JALAD_ERR_LIMIT, "attribute '%s' too long", a->name);
		a->n = (int)ap->n_ints;
		a->ints = malloc((ap->n_ints ? ap->n_ints : 1) * sizeof(int64_t));
		JALAD_RETURN_IF(!a->ints, JALAD_ERR_NOMEM, "attribute ints");
		if (ap->n_ints)
			memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
		break;
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
		char name[300];
		JALAD_RETURN_IF(!ap->t, JALAD_ERR_FORMAT, "node '%s': attribute '%s' has no tensor", n->name, a->name);
		snprintf(name, sizeof name, "%s:%s", n->name, a->name);
		enum jalad_status st = add_const(g, ap->t, name, &a->tensor);
		if (st != JALAD_OK) {
			jalad_error_prefix("node '%s' (%s) attribute '%s': ", n->name, n->op_type, a->name);
			return st;
		}
		break;
	}
	case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
		/* Kept as a count only; no supported op reads string lists. */
		a->n = (int)ap->n_strings;
		break;
	default:
		return jalad_fail(JALAD_ERR_UNSUPPORTED, "node '%s' (%s): attribute '%s' has unsupported type %d",
				  n->name, n->op_type, a->name, (int)ap->type);
	}
	return JALAD_OK;
}

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 (a stray or
 * overlong byte, a surrogate, past U+10FFFF, cut short). */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0], n, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (int)n + 1;
}

/* A copy of s with each byte that is not UTF-8 replaced by U+FFFD.
 * protobuf-c does not check string fields; node names are only ever
 * shown, and JSON (the tools', cJSON's in profiles and plans) must be
 * UTF-8. Tensor names stay as they are: they are matched, not shown. */
static char *utf8_dup(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int len = utf8_len(p);
		n += len ? (size_t)len : 3;
		p += len ? len : 1;
	}
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		int len = utf8_len(p);
		memcpy(o, len ? (const char *)p : "\xef\xbf\xbd", len ? (size_t)len : 3);
		o += len ? len : 3;
		p += len ? len : 1;
	}
	*o = 0;
	return out;
}

static enum jalad_status convert_node(struct jalad_graph *g, Onnx__NodeProto *np, int index)
{
	struct jalad_node *n;
	char fallback[32];
	JALAD_FORWARD(jalad_graph_add_node(g, &n));
	snprintf(fallback, sizeof fallback, "#%d", index);
	n->name = utf8_dup(np->name && *np->name ? np->name : fallback);
	n->op_type = strdup(np->op_type ? np->op_type : "");
	JALAD_RETURN_IF(!n->name || !n->op_type, JALAD_ERR_NOMEM, "node");
	JALAD_RETURN_IF(np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0, JALAD_ERR_UNSUPPORTED,
			"node '%s' (%s): operator domain '%s' is not supported", n->name, n->op_type, np->domain);
	JALAD_RETURN_IF(!*n->op_type, JALAD_ERR_FORMAT, "node '%s' has no op_type", n->name);
	JALAD_RETURN_IF(np->n_input > 1024 || np->n_output > 1024 || np->n_attribute > 1024, JALAD_ERR_LIMIT,
			"node '%s' (%s): too many inputs, outputs or attributes", n->name, n->op_type);
	n->n_in = (int)np->n_input;
	n->n_out = (int)np->n_output;
	n->in = malloc((np->n_input ? np->n_input : 1) * sizeof(int));
	n->out = malloc((np->n_output ? np->n_output : 1) * sizeof(int));
	n->attrs = calloc(np->n_attribute ? np->n_attribute : 1, sizeof *n->attrs);
	JALAD_RETURN_IF(!n->in || !n->out || !n->attrs, JALAD_ERR_NOMEM, "node '%s'", n->name);
	for (size_t i = 0; i < np->n_input; i++)
		JALAD_FORWARD(ref_tensor(g, np->input[i], &n->in[i]));
	for (size_t i = 0; i < np->n_output; i++) {
		const char *on = np->output[i];
		if (!on || !*on) {
			char anon[300];
			snprintf(anon, sizeof anon, "%s:out%zu", n->name, i);
			JALAD_FORWARD(jalad_graph_add_tensor(g, anon, &n->out[i]));
			continue;
		}
		int t = jalad_graph_find_tensor(g, on);
		if (t >= 0 && (g->tensors[t].data || g->tensors[t].is_input))
			return jalad_fail(JALAD_ERR_FORMAT, "node '%s' (%s): output '%s' is also a graph input or initializer",
					  n->name, n->op_type, on);
		if (t < 0)
			JALAD_FORWARD(jalad_graph_add_tensor(g, on, &t));
		n->out[i] = t;
	}
	for (size_t i = 0; i < np->n_attribute; i++) {
		Onnx__AttributeProto *ap = np->attribute[i];
		for (size_t j = 0; j < i; j++)
			JALAD_RETURN_IF(strcmp(np->attribute[j]->name ? np->attribute[j]->name : "",
					       ap->name ? ap->name : "") == 0, JALAD_ERR_FORMAT,
					"node '%s' (%s): attribute '%s' is given twice", n->name, n->op_type,
					ap->name ? ap->name : "");
		JALAD_FORWARD(check_attr_payload(n, ap));
		JALAD_FORWARD(check_attr_type(n, ap));
		/* Counted first so a half-converted attribute is freed too. */
		n->n_attr = (int)i + 1;
		JALAD_FORWARD(convert_attr(g, n, ap, &n->attrs[i]));
	}
	return JALAD_OK;
}

static enum jalad_status convert_input(struct jalad_graph *g, Onnx__ValueInfoProto *vi)
{
	const char *name = vi->name ? vi->name : "";
	int t = jalad_graph_find_tensor(g, name);
	if (t >= 0 && g->tensors[t].data)
		return JALAD_OK; /* an initializer listed as input (IR < 4) */
	JALAD_RETURN_IF(t >= 0 && g->tensors[t].is_input, JALAD_ERR_FORMAT, "graph input '%s' is listed twice", name);
	JALAD_RETURN_IF(!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE ||
			!vi->type->tensor_type, JALAD_ERR_UNSUPPORTED, "graph input '%s' is not a tensor", name);
	Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
	JALAD_RETURN_IF(!dtype_supported(tt->elem_type), JALAD_ERR_UNSUPPORTED,
			"graph input '%s': dtype %s is not supported", name, onnx_dtype_name(tt->elem_type));
	JALAD_RETURN_IF(!tt->shape, JALAD_ERR_UNSUPPORTED, "graph input '%s' has no static shape", name);
	JALAD_RETURN_IF(tt->shape->n_dim > JALAD_MAX_DIMS, JALAD_ERR_UNSUPPORTED, "graph input '%s': rank %zu",
			name, tt->shape->n_dim);
	if (t < 0)
		JALAD_FORWARD(jalad_graph_add_tensor(g, name, &t));
	struct jalad_tensor_ir *ir = &g->tensors[t];
	ir->is_input = 1;
	ir->dtype = (enum jalad_dtype)tt->elem_type;
	ir->ndim = (int)tt->shape->n_dim;
	size_t numel = 1;
	for (size_t d = 0; d < tt->shape->n_dim; d++) {
		Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
		if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
			JALAD_RETURN_IF(dim->dim_value < 0, JALAD_ERR_FORMAT, "graph input '%s': dim %zu is %lld (dims are >= 0)",
					name, d, (long long)dim->dim_value);
			ir->dims[d] = dim->dim_value;
			JALAD_RETURN_IF(jalad_mul_size(numel, (size_t)dim->dim_value, &numel) || numel > ((size_t)1 << 40),
					JALAD_ERR_FORMAT, "graph input '%s': its shape has more than 2^40 elements", name);
		} else {
			/* A symbolic dimension (usually the batch): jalad runs batch 1. */
			ir->dims[d] = 1;
			jalad_log(JALAD_LOG_INFO, "graph input '%s' dim %zu is symbolic; using 1", name, d);
		}
	}
	int *ins = realloc(g->inputs, (size_t)(g->n_inputs + 1) * sizeof *ins);
	JALAD_RETURN_IF(!ins, JALAD_ERR_NOMEM, "graph inputs");
	g->inputs = ins;
	g->inputs[g->n_inputs++] = t;
	return JALAD_OK;
}

enum jalad_status jalad_onnx_parse(const void *buf, size_t len, struct jalad_graph *g)
{
	enum jalad_status st = JALAD_OK;
	Onnx__ModelProto *m = onnx__model_proto__unpack(&pb_allocator, len, buf);
	memset(g, 0, sizeof *g);
	JALAD_RETURN_IF(!m, JALAD_ERR_FORMAT,
			"not an ONNX model: the protobuf does not parse (truncated or another kind of file)");
	if (!m->graph || !m->has_ir_version) {
		st = jalad_fail(JALAD_ERR_FORMAT, "not an ONNX model: %s is missing",
				m->graph ? "ir_version" : "the graph");
		goto fail;
	}
	Onnx__GraphProto *gp = m->graph;
	g->opset = 0;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		Onnx__OperatorSetIdProto *os = m->opset_import[i];
		if (!os->domain || !*os->domain || strcmp(os->domain, "ai.onnx") == 0)
			g->opset = (int)os->version;
	}
	if (g->opset == 0)
		g->opset = 1; /* IR 1-2 files predate opset_import */
	g->meta_keys = calloc(m->n_metadata_props + 1, sizeof(char *));
	g->meta_values = calloc(m->n_metadata_props + 1, sizeof(char *));
	if (!g->meta_keys || !g->meta_values) {
		st = jalad_fail(JALAD_ERR_NOMEM, "metadata");
		goto fail;
	}
	for (size_t i = 0; i < m->n_metadata_props; i++) {
		Onnx__StringStringEntryProto *e = m->metadata_props[i];
		g->meta_keys[g->n_meta] = strdup(e->key ? e->key : "");
		g->meta_values[g->n_meta] = strdup(e->value ? e->value : "");
		g->n_meta++;
	}
	if (gp->n_sparse_initializer > 0) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED, "sparse initializers are not supported");
		goto fail;
	}
	for (size_t i = 0; i < gp->n_initializer; i++) {
		Onnx__TensorProto *tp = gp->initializer[i];
		if (jalad_graph_find_tensor(g, tp->name ? tp->name : "") >= 0) {
			st = jalad_fail(JALAD_ERR_FORMAT, "initializer '%s' is given twice", tp->name ? tp->name : "");
			goto fail;
		}
		st = add_const(g, tp, tp->name ? tp->name : "", NULL);
		if (st != JALAD_OK)
			goto fail;
	}
	for (size_t i = 0; i < gp->n_input; i++)
		if ((st = convert_input(g, gp->input[i])) != JALAD_OK)
			goto fail;
	for (size_t i = 0; i < gp->n_node; i++)
		if ((st = convert_node(g, gp->node[i], (int)i)) != JALAD_OK)
			goto fail;
	g->outputs = malloc((gp->n_output ? gp->n_output : 1) * sizeof(int));
	if (!g->outputs) {
		st = jalad_fail(JALAD_ERR_NOMEM, "graph outputs");
		goto fail;
	}
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *on = gp->output[i]->name ? gp->output[i]->name : "";
		int t = jalad_graph_find_tensor(g, on);
		if (t < 0) {
			st = jalad_fail(JALAD_ERR_NOT_FOUND, "graph output '%s' is not produced by any node", on);
			goto fail;
		}
		if (g->tensors[t].is_output) {
			st = jalad_fail(JALAD_ERR_FORMAT, "graph output '%s' is listed twice", on);
			goto fail;
		}
		g->tensors[t].is_output = 1; /* finalize() sets it again */
		g->outputs[g->n_outputs++] = t;
	}
	if (g->n_outputs == 0)
		st = jalad_fail(JALAD_ERR_FORMAT, "the graph has no outputs");
fail:
	onnx__model_proto__free_unpacked(m, &pb_allocator);
	return st;
}

/* =========================================================== TensorProto files */

enum jalad_status jalad_tensor_parse_pb(const void *buf, size_t len, struct jalad_tensor *out,
				       char *name, size_t name_cap)
{
	memset(out, 0, sizeof *out);
	if (name && name_cap)
		name[0] = 0;
	Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pb_allocator, len, buf);
	JALAD_RETURN_IF(!tp, JALAD_ERR_FORMAT, "not a serialized ONNX TensorProto");
	enum jalad_status st = tensor_from_proto(tp, 1, &out->dtype, &out->ndim, out->dims, &out->data);
	if (name && name_cap)
		snprintf(name, name_cap, "%s", tp->name ? tp->name : "");
	onnx__tensor_proto__free_unpacked(tp, &pb_allocator);
	return st;
}

enum jalad_status jalad_tensor_write_pb(const char *path, const struct jalad_tensor *t, const char *name)
{
	Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
	enum jalad_status st = JALAD_OK;
	size_t esize = jalad_dtype_size(t->dtype);
	JALAD_RETURN_IF(!esize || t->ndim < 0 || t->ndim > JALAD_MAX_DIMS, JALAD_ERR_INVALID_ARG,
			"tensor to write has a bad dtype or rank");
	int64_t dims[JALAD_MAX_DIMS];
	memcpy(dims, t->dims, sizeof dims);
	tp.n_dims = (size_t)t->ndim;
	tp.dims = dims;
	tp.has_data_type = 1;
	tp.data_type = t->dtype;
	tp.name = (char *)(name ? name : "");
	tp.has_raw_data = 1;
	tp.raw_data.len = (size_t)jalad_tensor_numel(t) * esize;
	tp.raw_data.data = t->data;
	size_t n = onnx__tensor_proto__get_packed_size(&tp);
	uint8_t *buf = malloc(n ? n : 1);
	JALAD_RETURN_IF(!buf, JALAD_ERR_NOMEM, "%zu bytes", n);
	onnx__tensor_proto__pack(&tp, buf);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, n, f) != n)
		st = jalad_fail(JALAD_ERR_IO, "cannot write '%s'", path);
	if (f && fclose(f) != 0 && st == JALAD_OK)
		st = jalad_fail(JALAD_ERR_IO, "cannot write '%s'", path);
	free(buf);
	return st;
}
