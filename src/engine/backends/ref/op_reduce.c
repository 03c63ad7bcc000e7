/* ReduceMean, ReduceSum, ReduceMax, ReduceMin on float32. Axes come from the
 * 'axes' attribute (ReduceSum before opset 13, the others before 18) or the
 * constant 'axes' input; no axes means all axes unless noop_with_empty_axes.
 * Each output element is computed by one thread in a fixed order (sums in
 * double), so results do not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

enum reduce_kind { R_MEAN = JALAD_TOPS_REDUCE_MEAN, R_SUM, R_MAX, R_MIN };

#define reduce_params jalad_tops_reduce

static enum jalad_status reduce_infer_kind(struct jalad_graph *g, struct jalad_node *n,
					   enum reduce_kind kind, int input_from)
{
	const struct jalad_tensor_ir *x;
	struct reduce_params *p;
	int64_t axes[JALAD_MAX_DIMS], dims[JALAD_MAX_DIMS];
	int count = 0, nd = 0;
	int use_input = g->opset >= input_from;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, use_input ? 2 : 1, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	if (x->dtype != JALAD_DTYPE_FLOAT32)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s", jalad_dtype_name(x->dtype));
	p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	p->kind = (int)kind;
	if (use_input) {
		if (jalad_node_input(g, n, 1))
			JALAD_FORWARD(jalad_node_const_ints(g, n, 1, axes, JALAD_MAX_DIMS, &count));
	} else {
		const int64_t *v;
		jalad_attr_ints(n, "axes", &v, &count);
		if (count > JALAD_MAX_DIMS)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "attribute axes has %d values", count);
		if (count)
			memcpy(axes, v, (size_t)count * sizeof v[0]);
	}
	int keepdims = jalad_attr_int(n, "keepdims", 1) != 0;
	if (count == 0) {
		if (use_input && jalad_attr_int(n, "noop_with_empty_axes", 0)) {
			p->noop = 1;
			jalad_node_set_output(g, n, 0, x->dtype, x->ndim, x->dims);
			return JALAD_OK;
		}
		p->mask = (1u << x->ndim) - 1;
	}
	for (int i = 0; i < count; i++) {
		int ax;
		if (jalad_tops_axis(axes[i], x->ndim, &ax))
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "axis %lld out of range for rank %d",
					       (long long)axes[i], x->ndim);
		p->mask |= 1u << ax;
	}
	for (int d = 0; d < x->ndim; d++) {
		if (!(p->mask & (1u << d)))
			dims[nd++] = x->dims[d];
		else if (keepdims)
			dims[nd++] = 1;
	}
	jalad_node_set_output(g, n, 0, x->dtype, nd, dims);
	return JALAD_OK;
}

struct reduce_task {
	enum reduce_kind kind;
	const float *x;
	float *y;
	int nk, nr;                          /* kept / reduced groups (nr >= 1) */
	int64_t kd[JALAD_MAX_DIMS], ks[JALAD_MAX_DIMS];  /* kept dims, input strides */
	int64_t rd[JALAD_MAX_DIMS], rs[JALAD_MAX_DIMS];  /* reduced dims, input strides */
	int64_t nout, nred;
};

/* Reduce the elements at x + sum(i_d * rs[d]). */
static float reduce_one(const struct reduce_task *t, const float *x)
{
	const int nr = t->nr;
	const int64_t inner = t->rd[nr - 1], is = t->rs[nr - 1];
	int64_t idx[JALAD_MAX_DIMS] = { 0 };
	double sum = 0.0;
	float best = t->kind == R_MAX ? -INFINITY : INFINITY;
	if (t->nred == 0)
		return t->kind == R_SUM ? 0.0f : t->kind == R_MEAN ? NAN : best;
	for (;;) {
		if (t->kind == R_MEAN || t->kind == R_SUM) {
			double s = 0.0;
			if (is == 1) {
#pragma omp simd reduction(+ : s)
				for (int64_t i = 0; i < inner; i++)
					s += x[i];
			} else {
				for (int64_t i = 0; i < inner; i++)
					s += x[i * is];
			}
			sum += s;
		} else if (t->kind == R_MAX) {
			for (int64_t i = 0; i < inner; i++)
				best = x[i * is] > best || x[i * is] != x[i * is] ? x[i * is] : best;
		} else {
			for (int64_t i = 0; i < inner; i++)
				best = x[i * is] < best || x[i * is] != x[i * is] ? x[i * is] : best;
		}
		int d = nr - 2;
		for (; d >= 0; d--) {
			x += t->rs[d];
			if (++idx[d] < t->rd[d])
				break;
			x -= t->rd[d] * t->rs[d];
			idx[d] = 0;
		}
		if (d < 0)
			break;
	}
	if (t->kind == R_SUM)
		return (float)sum;
	if (t->kind == R_MEAN)
		return (float)(sum / (double)t->nred);
	return best;
}

static void reduce_task_run(void *arg, int ith, int nth)
{
	const struct reduce_task *t = arg;
	int64_t lo, hi, idx[JALAD_MAX_DIMS], rem, off = 0;
	jalad_tops_range(t->nout, ith, nth, &lo, &hi);
	if (lo >= hi)
		return;
	rem = lo;
	for (int d = t->nk - 1; d >= 0; d--) {
		idx[d] = rem % t->kd[d];
		rem /= t->kd[d];
		off += idx[d] * t->ks[d];
	}
	for (int64_t o = lo; o < hi; o++) {
		t->y[o] = reduce_one(t, t->x + off);
		for (int d = t->nk - 1; d >= 0; d--) {
			off += t->ks[d];
			if (++idx[d] < t->kd[d])
				break;
			off -= t->kd[d] * t->ks[d];
			idx[d] = 0;
		}
	}
}

static enum jalad_status reduce_run(struct jalad_op_ctx *ctx)
{
	const struct reduce_params *p = ctx->node->params;
	const struct jalad_tensor *x = &ctx->in[0];
	struct reduce_task t;
	int64_t xs[JALAD_MAX_DIMS];
	int last = -1;                      /* class of the previous group: 0 kept, 1 reduced */
	if (p->noop) {
		jalad_tops_copy(ctx->out[0].data, x->data, (size_t)jalad_tensor_numel(x) * sizeof(float));
		return JALAD_OK;
	}
	memset(&t, 0, sizeof t);
	t.kind = p->kind;
	t.x = x->data;
	t.y = ctx->out[0].data;
	t.nout = jalad_tensor_numel(&ctx->out[0]);
	t.nred = 1;
	jalad_strides(x->ndim, x->dims, xs);
	/* Group the input dims into kept and reduced runs, dropping size-1
	 * dims and merging neighbours of the same class. */
	for (int d = 0; d < x->ndim; d++) {
		int red = (p->mask >> d) & 1;
		if (red)
			t.nred *= x->dims[d];
		if (x->dims[d] == 1)
			continue;
		int64_t *gd = red ? t.rd : t.kd, *gs = red ? t.rs : t.ks;
		int *ng = red ? &t.nr : &t.nk;
		if (last == red && *ng > 0) {
			gd[*ng - 1] *= x->dims[d];
			gs[*ng - 1] = xs[d];
		} else {
			gd[*ng] = x->dims[d];
			gs[*ng] = xs[d];
			(*ng)++;
		}
		last = red;
	}
	if (t.nr == 0) {
		t.rd[0] = 1;
		t.rs[0] = 1;
		t.nr = 1;
	}
	if (t.nout <= 0)
		return JALAD_OK;
	int64_t work = t.nout * (t.nred > 0 ? t.nred : 1);
	jalad_tops_parallel(ctx->pool, t.nout > 1 ? work : 0, reduce_task_run, &t);
	return JALAD_OK;
}

static int64_t reduce_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	return jalad_ir_numel(&g->tensors[n->in[0]]);
}

#define REDUCE_OP(var, opname, fn, kind, from)                                    \
	static enum jalad_status fn(struct jalad_graph *g, struct jalad_node *n) \
	{                                                                         \
		return reduce_infer_kind(g, n, kind, from);                       \
	}                                                                         \
	const struct jalad_op_def var = { opname, fn, reduce_run, reduce_flops }

REDUCE_OP(jalad_op_reduce_mean, "ReduceMean", reduce_mean_infer, R_MEAN, 18);
REDUCE_OP(jalad_op_reduce_sum, "ReduceSum", reduce_sum_infer, R_SUM, 13);
REDUCE_OP(jalad_op_reduce_max, "ReduceMax", reduce_max_infer, R_MAX, 18);
REDUCE_OP(jalad_op_reduce_min, "ReduceMin", reduce_min_infer, R_MIN, 18);
