/* Helpers shared by the tensor family: parallel dispatch, infer checks and
 * the strided copy behind Slice, Transpose and Expand. */
#include <stdio.h>
#include <string.h>

#include "ref_ops_tensor.h"

void jalad_tops_parallel(struct jalad_pool *pool, int64_t work, jalad_task_fn fn, void *arg)
{
	if (!pool || work < JALAD_TOPS_PAR_MIN)
		fn(arg, 0, 1);
	else
		jalad_pool_run(pool, fn, arg);
}

const char *jalad_tops_dims_str(int ndim, const int64_t *dims, char *buf, size_t size)
{
	size_t k = 0;
	if (size == 0)
		return buf;
	buf[0] = '\0';
	k += (size_t)snprintf(buf + k, size - k, "(");
	for (int i = 0; i < ndim && k < size; i++)
		k += (size_t)snprintf(buf + k, size - k, i ? ",%lld" : "%lld", (long long)dims[i]);
	if (k < size)
		snprintf(buf + k, size - k, ")");
	return buf;
}

enum jalad_status jalad_tops_check_io(struct jalad_graph *g, const struct jalad_node *n, int lo,
				      int hi, int need, int out_lo, int out_hi)
{
	if (n->n_in < lo || n->n_in > hi) {
		if (lo == hi)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "%d inputs, expected %d", n->n_in, lo);
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "%d inputs, expected %d to %d", n->n_in, lo, hi);
	}
	if (n->n_out < out_lo || n->n_out > out_hi)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "%d outputs, expected %d to %d", n->n_out,
				       out_lo, out_hi);
	for (int i = 0; i < need && i < n->n_in; i++) {
		const struct jalad_tensor_ir *t = jalad_node_input(g, n, i);
		if (!t)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "input %d is missing", i);
		if (t->ndim < 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "input %d ('%s') has an unknown shape", i,
					       t->name ? t->name : "");
	}
	return JALAD_OK;
}

enum jalad_status jalad_tops_set_output(struct jalad_graph *g, const struct jalad_node *n, int i,
					enum jalad_dtype dtype, int ndim, const int64_t *dims)
{
	int64_t count = 1;
	char s[160];
	for (int d = 0; d < ndim; d++) {
		if (dims[d] < 0 || __builtin_mul_overflow(count, dims[d], &count) || count > JALAD_TOPS_MAX_NUMEL)
			return jalad_node_fail(n, JALAD_ERR_LIMIT, "output %d shape %s is too large", i,
					       jalad_tops_dims_str(ndim, dims, s, sizeof s));
	}
	jalad_node_set_output(g, n, i, dtype, ndim, dims);
	return JALAD_OK;
}

int jalad_tops_numeric(enum jalad_dtype dt)
{
	switch (dt) {
	case JALAD_DTYPE_FLOAT32:
	case JALAD_DTYPE_UINT8:
	case JALAD_DTYPE_INT8:
	case JALAD_DTYPE_INT32:
	case JALAD_DTYPE_INT64:
		return 1;
	default:
		return 0;
	}
}

/* ------------------------------------------------------------ strided copy */

struct copy_task {
	size_t es;
	int nd;                       /* >= 1 */
	int64_t dims[JALAD_MAX_DIMS];
	int64_t ss[JALAD_MAX_DIMS];   /* source strides, bytes */
	const char *src;
	char *dst;
	int64_t total;
};

static void copy_row(char *d, const char *s, int64_t len, int64_t stride, size_t es)
{
	if (stride == (int64_t)es) {
		memcpy(d, s, (size_t)len * es);
		return;
	}
	switch (es) {
	case 1:
		for (int64_t i = 0; i < len; i++)
			d[i] = s[i * stride];
		break;
	case 4:
		for (int64_t i = 0; i < len; i++)
			memcpy(d + i * 4, s + i * stride, 4);
		break;
	case 8:
		for (int64_t i = 0; i < len; i++)
			memcpy(d + i * 8, s + i * stride, 8);
		break;
	default:
		for (int64_t i = 0; i < len; i++)
			memcpy(d + (size_t)i * es, s + i * stride, es);
		break;
	}
}

static void copy_task_run(void *arg, int ith, int nth)
{
	const struct copy_task *t = arg;
	int nd = t->nd;
	int64_t e0, e1, idx[JALAD_MAX_DIMS], rem, off = 0;
	jalad_tops_range(t->total, ith, nth, &e0, &e1);
	if (e0 >= e1)
		return;
	rem = e0;
	for (int d = nd - 1; d >= 0; d--) {
		idx[d] = rem % t->dims[d];
		rem /= t->dims[d];
		off += idx[d] * t->ss[d];
	}
	int64_t inner = t->dims[nd - 1];
	for (int64_t e = e0; e < e1;) {
		int64_t len = inner - idx[nd - 1];
		if (len > e1 - e)
			len = e1 - e;
		copy_row(t->dst + (size_t)e * t->es, t->src + off, len, t->ss[nd - 1], t->es);
		e += len;
		idx[nd - 1] += len;
		off += len * t->ss[nd - 1];
		for (int d = nd - 1; d > 0 && idx[d] == t->dims[d]; d--) {
			idx[d] = 0;
			off -= t->dims[d] * t->ss[d];
			idx[d - 1]++;
			off += t->ss[d - 1];
		}
	}
}

void jalad_tops_copy_strided(struct jalad_pool *pool, size_t esize, int ndim, const int64_t *dims,
			     const void *src, const int64_t *strides, void *dst)
{
	struct copy_task t;
	int nd = 0;
	memset(&t, 0, sizeof t);
	t.es = esize;
	t.src = src;
	t.dst = dst;
	t.total = jalad_numel(ndim, dims);
	if (t.total <= 0)
		return;
	/* Drop size-1 dims, then merge dims that are contiguous in src. */
	for (int d = 0; d < ndim; d++) {
		if (dims[d] == 1)
			continue;
		if (nd > 0 && t.ss[nd - 1] == strides[d] * (int64_t)esize * dims[d]) {
			t.dims[nd - 1] *= dims[d];
			t.ss[nd - 1] = strides[d] * (int64_t)esize;
			continue;
		}
		t.dims[nd] = dims[d];
		t.ss[nd] = strides[d] * (int64_t)esize;
		nd++;
	}
	if (nd == 0) {
		t.dims[0] = 1;
		t.ss[0] = (int64_t)esize;
		nd = 1;
	}
	t.nd = nd;
	jalad_tops_parallel(pool, t.total, copy_task_run, &t);
}
