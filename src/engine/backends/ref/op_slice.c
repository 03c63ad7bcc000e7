/* Slice (any dtype): starts/ends/axes attributes before opset 10, constant
 * starts/ends/axes/steps inputs from opset 10. Starts and ends are clamped
 * per the ONNX rules; negative steps walk backwards. Run is one strided
 * copy from the first selected element. */
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

static enum jalad_status slice_ints(struct jalad_graph *g, struct jalad_node *n, int i,
				    const char *name, int64_t *v, int *count)
{
	*count = 0;
	if (g->opset < 10) {
		const int64_t *a;
		jalad_attr_ints(n, name, &a, count);
		if (*count > JALAD_MAX_DIMS)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute %s has %d values", name, *count);
		if (*count)
			memcpy(v, a, (size_t)*count * sizeof a[0]);
		return JALAD_OK;
	}
	if (!jalad_node_input(g, n, i))
		return JALAD_OK;
	return jalad_node_const_ints(g, n, i, v, JALAD_MAX_DIMS, count);
}

static enum jalad_status slice_infer(struct jalad_graph *g, struct jalad_node *n)
{
	const struct jalad_tensor_ir *x;
	struct jalad_tops_slice *p;
	int64_t starts[JALAD_MAX_DIMS], ends[JALAD_MAX_DIMS], axes[JALAD_MAX_DIMS], steps[JALAD_MAX_DIMS];
	int64_t dims[JALAD_MAX_DIMS];
	int ns, ne, na, nst, seen[JALAD_MAX_DIMS] = { 0 };
	if (g->opset < 10)
		JALAD_FORWARD(jalad_tops_check_io(g, n, 1, 1, 1, 1, 1));
	else
		JALAD_FORWARD(jalad_tops_check_io(g, n, 3, 5, 3, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (jalad_dtype_size(x->dtype) == 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	JALAD_FORWARD(slice_ints(g, n, 1, "starts", starts, &ns));
	JALAD_FORWARD(slice_ints(g, n, 2, "ends", ends, &ne));
	JALAD_FORWARD(slice_ints(g, n, 3, "axes", axes, &na));
	JALAD_FORWARD(slice_ints(g, n, 4, "steps", steps, &nst));
	if (ns != ne)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "%d starts but %d ends", ns, ne);
	if (na == 0) {
		if (ns > x->ndim)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "%d starts for rank %d", ns, x->ndim);
		for (int i = 0; i < ns; i++)
			axes[i] = i;
		na = ns;
	}
	if (nst == 0) {
		for (int i = 0; i < ns; i++)
			steps[i] = 1;
		nst = ns;
	}
	if (na != ns || nst != ns)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "%d starts, %d axes, %d steps", ns, na, nst);
	p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	memcpy(dims, x->dims, sizeof dims);
	for (int d = 0; d < JALAD_MAX_DIMS; d++)
		p->step[d] = 1;
	for (int i = 0; i < ns; i++) {
		int ax;
		if (jalad_tops_axis(axes[i], x->ndim, &ax))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
					       (long long)axes[i], x->ndim);
		if (seen[ax]++)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %d repeated", ax);
		int64_t dim = x->dims[ax], st = steps[i], s = starts[i], e = ends[i], len;
		if (st == 0 || st == INT64_MIN)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "step %lld on axis %d", (long long)st, ax);
		if (s < 0)
			s = s < -dim ? 0 : s + dim;
		if (e < 0)
			e = e < -dim ? -1 : e + dim;
		if (st > 0) {
			s = s > dim ? dim : s;
			e = e < 0 ? 0 : e > dim ? dim : e;
			len = e > s ? (e - s + st - 1) / st : 0;
		} else {
			s = s > dim - 1 ? dim - 1 : s;
			e = e > dim - 1 ? dim - 1 : e;
			len = s > e ? (s - e + (-st) - 1) / (-st) : 0;
		}
		if (len == 0)
			s = 0;
		p->start[ax] = s;
		p->step[ax] = st;
		dims[ax] = len;
	}
	jalad_node_set_output(g, n, 0, x->dtype, x->ndim, dims);
	return JALAD_OK;
}

static enum jalad_status slice_run(struct jalad_op_ctx *ctx)
{
	const struct jalad_tops_slice *p = ctx->node->params;
	const struct jalad_tensor *x = &ctx->in[0];
	struct jalad_tensor *y = &ctx->out[0];
	int64_t xs[JALAD_MAX_DIMS], ss[JALAD_MAX_DIMS], off = 0;
	size_t es = jalad_dtype_size(x->dtype);
	if (jalad_tensor_numel(y) <= 0)
		return JALAD_OK;
	jalad_strides(x->ndim, x->dims, xs);
	for (int d = 0; d < x->ndim; d++) {
		off += p->start[d] * xs[d];
		ss[d] = p->step[d] * xs[d];
	}
	jalad_tops_copy_strided(ctx->pool, es, y->ndim, y->dims, (const char *)x->data + (size_t)off * es,
				ss, y->data);
	return JALAD_OK;
}

const struct jalad_op_def jalad_op_slice = { "Slice", slice_infer, slice_run, NULL };
