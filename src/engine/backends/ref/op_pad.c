/* Pad (any dtype): constant, reflect and edge modes; negative pads crop.
 * Opset < 11: 'pads' (opset 1: 'paddings'), 'value' and 'mode' attributes;
 * opset >= 11: constant 'pads' input, optional 'constant_value' input (read
 * at run time), opset 18's optional constant 'axes' input.
 * Run works on rows of the last dim: each output row maps to one input row
 * (or to the constant), its middle is one memcpy, its borders are mapped
 * element by element. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };

struct pad_params {
	enum pad_mode mode;
	int64_t begin[JALAD_MAX_DIMS];
	int64_t end[JALAD_MAX_DIMS];
	float value;            /* opset < 11 'value' attribute (float32 only) */
};

static enum jalad_status pad_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x, *cv;
	struct pad_params *p;
	int64_t pads[2 * JALAD_MAX_DIMS], axes[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int np = 0, na = 0;
	char s1[96];
	if (g->opset < 11)
		JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	else
		JALAD_FORWARD(jalad_tops_check_io(g, n, 2, 4, 2, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	const char *mode = jalad_attr_string(n, "mode", "constant");
	if (strcmp(mode, "constant") == 0)
		p->mode = PAD_CONSTANT;
	else if (strcmp(mode, "reflect") == 0)
		p->mode = PAD_REFLECT;
	else if (strcmp(mode, "edge") == 0)
		p->mode = PAD_EDGE;
	else
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute mode=%s", mode);
	if (g->opset < 11) {
		const int64_t *v;
		const char *name = g->opset < 2 ? "paddings" : "pads";
		jalad_attr_ints(n, name, &v, &np);
		if (np > 2 * JALAD_MAX_DIMS)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute %s has %d values", name, np);
		if (np)
			memcpy(pads, v, (size_t)np * sizeof v[0]);
		p->value = jalad_attr_float(n, "value", 0.0f);
		if (p->value != 0.0f && x->dtype != JALAD_DTYPE_FLOAT32)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute value on %s data",
					       jalad_dtype_name(x->dtype));
	} else {
		JALAD_FORWARD(jalad_node_const_ints(g, n, 1, pads, 2 * JALAD_MAX_DIMS, &np));
		cv = jalad_node_input(g, n, 2);
		if (cv && (cv->dtype != x->dtype || (cv->ndim >= 0 && jalad_ir_numel(cv) != 1)))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "constant_value is not a %s scalar",
					       jalad_dtype_name(x->dtype));
		if (jalad_node_input(g, n, 3))
			JALAD_FORWARD(jalad_node_const_ints(g, n, 3, axes, JALAD_MAX_DIMS, &na));
	}
	if (na == 0) {
		na = x->ndim;
		for (int i = 0; i < na; i++)
			axes[i] = i;
	}
	if (np != 2 * na)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "%d pads for %d axes", np, na);
	for (int i = 0; i < na; i++) {
		int ax;
		if (jalad_tops_axis(axes[i], x->ndim, &ax))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
					       (long long)axes[i], x->ndim);
		p->begin[ax] = pads[i];
		p->end[ax] = pads[na + i];
	}
	for (int d = 0; d < x->ndim; d++) {
		int64_t b = p->begin[d], e = p->end[d], dim = x->dims[d];
		if (b < -dim || e < -dim || b > INT32_MAX || e > INT32_MAX || dim + b + e < 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "pads %lld,%lld on axis %d of size %lld",
					       (long long)b, (long long)e, d, (long long)dim);
		dims[d] = dim + b + e;
		if (p->mode != PAD_CONSTANT && dim == 0 && dims[d] > 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "%s pad of empty axis %d in %s", mode, d,
					       jalad_tops_dims_str(x->ndim, x->dims, s1, sizeof s1));
	}
	return jalad_tops_set_output(g, n, 0, x->dtype, x->ndim, dims);
}

/* Input index for output index o on an axis of size dim, or -1 when o
 * falls in a constant border. */
static int64_t pad_map(enum pad_mode mode, int64_t o, int64_t begin, int64_t dim)
{
	int64_t i = o - begin;
	if (i >= 0 && i < dim)
		return i;
	switch (mode) {
	case PAD_CONSTANT:
		return -1;
	case PAD_EDGE:
		return i < 0 ? 0 : dim - 1;
	case PAD_REFLECT:
		if (dim == 1)
			return 0;
		{
			int64_t period = 2 * (dim - 1);
			i %= period;
			if (i < 0)
				i += period;
			return i < dim ? i : period - i;
		}
	}
	return -1;
}

struct pad_task {
	const struct pad_params *p;
	const struct jalad_tensor *x;
	struct jalad_tensor *y;
	unsigned char value[8];  /* one element of the constant */
	int64_t rows;
};

static void fill(char *dst, const unsigned char *v, size_t es, int64_t count)
{
	if (es == 4) {
		uint32_t u;
		memcpy(&u, v, 4);
		uint32_t *d = (uint32_t *)(void *)dst;
		if (((uintptr_t)dst & 3) == 0) {
			for (int64_t i = 0; i < count; i++)
				d[i] = u;
			return;
		}
	}
	for (int64_t i = 0; i < count; i++)
		memcpy(dst + (size_t)i * es, v, es);
}

static void pad_task_run(void *arg, int ith, int nth)
{
	const struct pad_task *t = arg;
	const struct pad_params *p = t->p;
	const struct jalad_tensor *x = t->x;
	const int nd = x->ndim, last = nd - 1;
	const size_t es = jalad_dtype_size(x->dtype);
	const int64_t W = t->y->dims[last], XW = x->dims[last], b = p->begin[last];
	int64_t xs[JALAD_MAX_DIMS], lo, hi;
	jalad_strides(nd, x->dims, xs);
	/* [left, right) of each output row maps to the input row in order */
	int64_t left = b < 0 ? 0 : b > W ? W : b;
	int64_t right = b + XW < left ? left : b + XW > W ? W : b + XW;
	jalad_tops_range(t->rows, ith, nth, &lo, &hi);
	for (int64_t r = lo; r < hi; r++) {
		char *dst = (char *)t->y->data + (size_t)(r * W) * es;
		int64_t rem = r, off = 0;
		int outside = 0;
		for (int d = last - 1; d >= 0; d--) {
			int64_t o = rem % t->y->dims[d];
			rem /= t->y->dims[d];
			int64_t i = pad_map(p->mode, o, p->begin[d], x->dims[d]);
			if (i < 0)
				outside = 1;
			else
				off += i * xs[d];
		}
		if (outside) {
			fill(dst, t->value, es, W);
			continue;
		}
		const char *src = (const char *)x->data + (size_t)off * es;
		if (right > left)
			memcpy(dst + (size_t)left * es, src + (size_t)(left - b) * es, (size_t)(right - left) * es);
		for (int64_t j = 0; j < W; j++) {
			if (j == left)
				j = right;
			if (j >= W)
				break;
			int64_t i = pad_map(p->mode, j, b, XW);
			if (i < 0)
				fill(dst + (size_t)j * es, t->value, es, 1);
			else
				memcpy(dst + (size_t)j * es, src + (size_t)i * es, es);
		}
	}
}

static enum jalad_status pad_run(struct jalad_op_ctx *ctx)
{
	const struct pad_params *p = ctx->node->params;
	struct pad_task t;
	size_t es = jalad_dtype_size(ctx->in[0].dtype);
	memset(&t, 0, sizeof t);
	t.p = p;
	t.x = &ctx->in[0];
	t.y = &ctx->out[0];
	if (ctx->n_in > 2 && ctx->in[2].data)
		memcpy(t.value, ctx->in[2].data, es);
	else if (t.x->dtype == JALAD_DTYPE_FLOAT32)
		memcpy(t.value, &p->value, sizeof p->value);
	int64_t total = jalad_tensor_numel(t.y);
	if (total <= 0)
		return JALAD_OK;
	if (t.x->ndim == 0) {
		memcpy(t.y->data, t.x->data, es);
		return JALAD_OK;
	}
	t.rows = total / t.y->dims[t.y->ndim - 1];
	jalad_tops_parallel(ctx->pool, t.rows > 1 ? total : 0, pad_task_run, &t);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_pad = { "Pad", pad_infer, pad_run, NULL };
