/* Add, Sub, Mul, Div and Pow with numpy broadcasting, and the broadcast
 * kernel they share with Sum/Max/Min/Mean (op_variadic.c).
 *
 * Shapes are aligned to the output's rank, size-1 output dims are dropped and
 * dims that are contiguous in both inputs merged, so the innermost loop runs
 * over a row where each input is either contiguous or a repeated scalar.
 * Integer arithmetic wraps (done in unsigned); integer Div truncates like C
 * and gives 0 on division by zero instead of trapping. */
/* Let GCC if-convert the selects of the elementwise loops so they vectorize;
 * nothing here reads the floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

typedef void (*bin_kernel)(void *o, const void *a, const void *b, int64_t n, int sa, int sb);

/* One kernel per (op, type): the row loop for each of the four stride cases. */
#define BIN_KERNEL(name, T, EXPR)                                                       \
	static void name(void *o_, const void *a_, const void *b_, int64_t n, int sa, int sb) \
	{                                                                               \
		T *o = o_;                                                              \
		const T *a = a_, *b = b_;                                               \
		if (sa && sb) {                                                         \
			_Pragma("omp simd") for (int64_t i = 0; i < n; i++)             \
			{                                                               \
				T x = a[i], y = b[i];                                   \
				o[i] = (EXPR);                                          \
			}                                                               \
		} else if (sb) {                                                        \
			const T x = a[0];                                               \
			_Pragma("omp simd") for (int64_t i = 0; i < n; i++)             \
			{                                                               \
				T y = b[i];                                             \
				o[i] = (EXPR);                                          \
			}                                                               \
		} else if (sa) {                                                        \
			const T y = b[0];                                               \
			_Pragma("omp simd") for (int64_t i = 0; i < n; i++)             \
			{                                                               \
				T x = a[i];                                             \
				o[i] = (EXPR);                                          \
			}                                                               \
		} else {                                                                \
			const T x = a[0], y = b[0];                                     \
			const T v = (EXPR);                                             \
			for (int64_t i = 0; i < n; i++)                                 \
				o[i] = v;                                               \
		}                                                                       \
	}

/* Same without the simd hint (integer division does not vectorize). */
#define BIN_KERNEL_SCALAR(name, T, EXPR)                                                \
	static void name(void *o_, const void *a_, const void *b_, int64_t n, int sa, int sb) \
	{                                                                               \
		T *o = o_;                                                              \
		const T *a = a_, *b = b_;                                               \
		for (int64_t i = 0; i < n; i++) {                                       \
			T x = a[sa ? i : 0], y = b[sb ? i : 0];                         \
			o[i] = (EXPR);                                                  \
		}                                                                       \
	}

#define UADD(T, U, x, y) ((T)((U)(x) + (U)(y)))
#define USUB(T, U, x, y) ((T)((U)(x) - (U)(y)))
#define UMUL(T, U, x, y) ((T)((U)(x) * (U)(y)))
/* C truncating division without the traps: x/0 -> 0, MIN/-1 wraps */
#define IDIV(T, U, x, y) ((y) == 0 ? (T)0 : (y) == -1 ? (T)(0 - (U)(x)) : (T)((x) / (y)))
#define UDIV(T, x, y) ((y) == 0 ? (T)0 : (T)((x) / (y)))
#define MAXV(x, y) ((x) > (y) ? (x) : (y))
#define MINV(x, y) ((x) < (y) ? (x) : (y))

BIN_KERNEL(add_f32, float, x + y)
BIN_KERNEL(sub_f32, float, x - y)
BIN_KERNEL(mul_f32, float, x * y)
BIN_KERNEL(div_f32, float, x / y)
BIN_KERNEL(max_f32, float, (x != x || x > y) ? x : y)
BIN_KERNEL(min_f32, float, (x != x || x < y) ? x : y)
BIN_KERNEL_SCALAR(pow_f32, float, powf(x, y))
BIN_KERNEL(prelu_f32, float, x < 0.0f ? y * x : x)

BIN_KERNEL(add_i64, int64_t, UADD(int64_t, uint64_t, x, y))
BIN_KERNEL(sub_i64, int64_t, USUB(int64_t, uint64_t, x, y))
BIN_KERNEL(mul_i64, int64_t, UMUL(int64_t, uint64_t, x, y))
BIN_KERNEL_SCALAR(div_i64, int64_t, IDIV(int64_t, uint64_t, x, y))
BIN_KERNEL(max_i64, int64_t, MAXV(x, y))
BIN_KERNEL(min_i64, int64_t, MINV(x, y))

BIN_KERNEL(add_i32, int32_t, UADD(int32_t, uint32_t, x, y))
BIN_KERNEL(sub_i32, int32_t, USUB(int32_t, uint32_t, x, y))
BIN_KERNEL(mul_i32, int32_t, UMUL(int32_t, uint32_t, x, y))
BIN_KERNEL_SCALAR(div_i32, int32_t, IDIV(int32_t, uint32_t, x, y))
BIN_KERNEL(max_i32, int32_t, MAXV(x, y))
BIN_KERNEL(min_i32, int32_t, MINV(x, y))

BIN_KERNEL(add_i8, int8_t, UADD(int8_t, uint8_t, x, y))
BIN_KERNEL(sub_i8, int8_t, USUB(int8_t, uint8_t, x, y))
BIN_KERNEL(mul_i8, int8_t, UMUL(int8_t, uint32_t, x, y))
BIN_KERNEL_SCALAR(div_i8, int8_t, IDIV(int8_t, uint8_t, x, y))
BIN_KERNEL(max_i8, int8_t, MAXV(x, y))
BIN_KERNEL(min_i8, int8_t, MINV(x, y))

BIN_KERNEL(add_u8, uint8_t, (uint8_t)(x + y))
BIN_KERNEL(sub_u8, uint8_t, (uint8_t)(x - y))
BIN_KERNEL(mul_u8, uint8_t, (uint8_t)((unsigned)x * (unsigned)y))
BIN_KERNEL_SCALAR(div_u8, uint8_t, UDIV(uint8_t, x, y))
BIN_KERNEL(max_u8, uint8_t, MAXV(x, y))
BIN_KERNEL(min_u8, uint8_t, MINV(x, y))

enum { T_F32, T_I64, T_I32, T_I8, T_U8, T_N };

static const bin_kernel kernels[JALAD_TOPS_NBINOP][T_N] = {
	[JALAD_TOPS_ADD] = { add_f32, add_i64, add_i32, add_i8, add_u8 },
	[JALAD_TOPS_SUB] = { sub_f32, sub_i64, sub_i32, sub_i8, sub_u8 },
	[JALAD_TOPS_MUL] = { mul_f32, mul_i64, mul_i32, mul_i8, mul_u8 },
	[JALAD_TOPS_DIV] = { div_f32, div_i64, div_i32, div_i8, div_u8 },
	[JALAD_TOPS_MAX] = { max_f32, max_i64, max_i32, max_i8, max_u8 },
	[JALAD_TOPS_MIN] = { min_f32, min_i64, min_i32, min_i8, min_u8 },
	[JALAD_TOPS_POW] = { pow_f32, NULL, NULL, NULL, NULL },
	[JALAD_TOPS_PRELU] = { prelu_f32, NULL, NULL, NULL, NULL },
};

static int type_index(enum jalad_dtype dt)
{
	switch (dt) {
	case JALAD_DTYPE_FLOAT32: return T_F32;
	case JALAD_DTYPE_INT64: return T_I64;
	case JALAD_DTYPE_INT32: return T_I32;
	case JALAD_DTYPE_INT8: return T_I8;
	case JALAD_DTYPE_UINT8: return T_U8;
	default: return -1;
	}
}

int jalad_tops_binary_supported(enum jalad_tops_binop op, enum jalad_dtype dt)
{
	int t = type_index(dt);
	return op >= 0 && op < JALAD_TOPS_NBINOP && t >= 0 && kernels[op][t] != NULL;
}

/* ------------------------------------------------------------ broadcast */

struct bin_task {
	bin_kernel k;
	size_t es;
	int nd;                         /* >= 1 */
	int64_t dims[JALAD_MAX_DIMS];
	int64_t sa[JALAD_MAX_DIMS];     /* element strides, 0 where broadcast */
	int64_t sb[JALAD_MAX_DIMS];
	const char *a, *b;
	char *o;
	int64_t total;
};

static void bin_task_run(void *arg, int ith, int nth)
{
	const struct bin_task *t = arg;
	const int nd = t->nd;
	const size_t es = t->es;
	int64_t e0, e1, idx[JALAD_MAX_DIMS], rem, oa = 0, ob = 0;
	jalad_tops_range(t->total, ith, nth, &e0, &e1);
	/* 16-element boundaries keep threads off each other's cache lines */
	e0 = e0 == t->total ? e0 : (e0 & ~(int64_t)15);
	e1 = e1 == t->total ? e1 : (e1 & ~(int64_t)15);
	if (e0 >= e1)
		return;
	rem = e0;
	for (int d = nd - 1; d >= 0; d--) {
		idx[d] = rem % t->dims[d];
		rem /= t->dims[d];
		oa += idx[d] * t->sa[d];
		ob += idx[d] * t->sb[d];
	}
	const int64_t inner = t->dims[nd - 1];
	const int sa = t->sa[nd - 1] != 0, sb = t->sb[nd - 1] != 0;
	for (int64_t e = e0; e < e1;) {
		int64_t len = inner - idx[nd - 1];
		if (len > e1 - e)
			len = e1 - e;
		t->k(t->o + (size_t)e * es, t->a + (size_t)oa * es, t->b + (size_t)ob * es, len, sa, sb);
		e += len;
		idx[nd - 1] += len;
		oa += len * t->sa[nd - 1];
		ob += len * t->sb[nd - 1];
		for (int d = nd - 1; d > 0 && idx[d] == t->dims[d]; d--) {
			idx[d] = 0;
			oa -= t->dims[d] * t->sa[d];
			ob -= t->dims[d] * t->sb[d];
			idx[d - 1]++;
			oa += t->sa[d - 1];
			ob += t->sb[d - 1];
		}
	}
}

/* Strides of x (rank nx) aligned to an output of rank no: 0 where x is
 * broadcast. */
static void aligned_strides(int nx, const int64_t *xd, int no, const int64_t *od, int64_t *s)
{
	int64_t st = 1;
	for (int d = no - 1; d >= 0; d--) {
		int xi = d - (no - nx);
		if (xi < 0 || xd[xi] == 1 || od[d] == 1) {
			s[d] = 0;
		} else {
			s[d] = st;
		}
		if (xi >= 0)
			st *= xd[xi];
	}
}

void jalad_tops_binary(struct jalad_pool *pool, enum jalad_tops_binop op, const struct jalad_tensor *a,
		       const struct jalad_tensor *b, struct jalad_tensor *out)
{
	struct bin_task t;
	int64_t sa[JALAD_MAX_DIMS], sb[JALAD_MAX_DIMS];
	int no = out->ndim, nd = 0;
	memset(&t, 0, sizeof t);
	t.k = kernels[op][type_index(out->dtype)];
	t.es = jalad_dtype_size(out->dtype);
	t.a = a->data;
	t.b = b->data;
	t.o = out->data;
	t.total = jalad_numel(no, out->dims);
	if (t.total <= 0)
		return;
	aligned_strides(a->ndim, a->dims, no, out->dims, sa);
	aligned_strides(b->ndim, b->dims, no, out->dims, sb);
	for (int d = 0; d < no; d++) {
		if (out->dims[d] == 1)
			continue;
		if (nd > 0 && t.sa[nd - 1] == sa[d] * out->dims[d] &&
		    t.sb[nd - 1] == sb[d] * out->dims[d]) {
			t.dims[nd - 1] *= out->dims[d];
			t.sa[nd - 1] = sa[d];
			t.sb[nd - 1] = sb[d];
			continue;
		}
		t.dims[nd] = out->dims[d];
		t.sa[nd] = sa[d];
		t.sb[nd] = sb[d];
		nd++;
	}
	if (nd == 0) {
		t.dims[0] = 1;
		nd = 1;
	}
	t.nd = nd;
	jalad_tops_parallel(pool, t.total, bin_task_run, &t);
}

/* ------------------------------------------------------------ ops */

struct binary_params {
	enum jalad_tops_binop op;
	int channel_slope;      /* PRelu before opset 7: 1-D slope along axis 1 */
};

static enum jalad_status binary_infer_op(struct jalad_graph *g, struct jalad_node *n,
					 enum jalad_tops_binop op)
{
	const struct jalad_tensor_ir *a, *b;
	int64_t dims[JALAD_MAX_DIMS];
	int nd;
	struct binary_params *p;
	char sa[96], sb[96];
	JALAD_FORWARD(jalad_tops_check_io(g, n, 2, 2, 2, 1, 1));
	a = jalad_node_input(g, n, 0);
	b = jalad_node_input(g, n, 1);
	if (a->dtype != b->dtype)
		return jalad_node_fail(n, op == JALAD_TOPS_POW ? JALAD_ERR_UNSUPPORTED : JALAD_ERR_FORMAT,
				       "input dtypes differ: %s and %s",
				       jalad_dtype_name(a->dtype), jalad_dtype_name(b->dtype));
	if (!jalad_tops_binary_supported(op, a->dtype))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s",
				       jalad_dtype_name(a->dtype));
	/* opset < 7: no implicit broadcast; broadcast=1 aligns b at 'axis',
	 * which numpy rules match only when b is a suffix of a */
	if (g->opset < 7 && op != JALAD_TOPS_PRELU) {
		const struct jalad_attr *ax = jalad_attr_find(n, "axis");
		int bc = (int)jalad_attr_int(n, "broadcast", 0);
		if (!bc && (a->ndim != b->ndim || memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof a->dims[0])))
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "shapes %s and %s differ without broadcast=1",
					       jalad_tops_dims_str(a->ndim, a->dims, sa, sizeof sa),
					       jalad_tops_dims_str(b->ndim, b->dims, sb, sizeof sb));
		if (bc && ax && ax->i != a->ndim - b->ndim && ax->i != -(int64_t)b->ndim)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute axis=%lld with broadcast=1",
					       (long long)ax->i);
	}
	int channel_slope = op == JALAD_TOPS_PRELU && g->opset < 7 && b->ndim == 1 && a->ndim >= 2 &&
			    b->dims[0] == a->dims[1] && b->dims[0] != 1;
	if (channel_slope) {
		nd = a->ndim;
		memcpy(dims, a->dims, sizeof dims);
	} else if (jalad_broadcast_shape(a->ndim, a->dims, b->ndim, b->dims, &nd, dims) != JALAD_OK)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "cannot broadcast %s with %s",
				       jalad_tops_dims_str(a->ndim, a->dims, sa, sizeof sa),
				       jalad_tops_dims_str(b->ndim, b->dims, sb, sizeof sb));
	/* PRelu broadcasts the slope to x only */
	if (op == JALAD_TOPS_PRELU &&
	    (nd != a->ndim || memcmp(dims, a->dims, (size_t)nd * sizeof dims[0]) != 0))
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "slope %s does not broadcast to x %s",
				       jalad_tops_dims_str(b->ndim, b->dims, sb, sizeof sb),
				       jalad_tops_dims_str(a->ndim, a->dims, sa, sizeof sa));
	p = malloc(sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	p->op = op;
	p->channel_slope = channel_slope;
	free(n->params);
	n->params = p;
	return jalad_tops_set_output(g, n, 0, a->dtype, nd, dims);
}

static enum jalad_status binary_run(struct jalad_op_ctx *ctx)
{
	const struct binary_params *p = ctx->node->params;
	if (p->channel_slope) {
		/* view the slope (C) as (C, 1, ..., 1) */
		struct jalad_tensor b = ctx->in[1];
		b.ndim = ctx->in[0].ndim - 1;
		for (int d = 1; d < b.ndim; d++)
			b.dims[d] = 1;
		jalad_tops_binary(ctx->pool, p->op, &ctx->in[0], &b, &ctx->out[0]);
		return JALAD_OK;
	}
	jalad_tops_binary(ctx->pool, p->op, &ctx->in[0], &ctx->in[1], &ctx->out[0]);
	return JALAD_OK;
}

static int64_t binary_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	return jalad_ir_numel(&g->tensors[n->out[0]]);
}

#define BINARY_OP(var, opname, fn, op)                                            \
	static enum jalad_status fn(struct jalad_graph *g, struct jalad_node *n) \
	{                                                                         \
		return binary_infer_op(g, n, op);                                 \
	}                                                                         \
	const struct jalad_op_def var = { opname, fn, binary_run, binary_flops }

BINARY_OP(jalad_op_add, "Add", add_infer, JALAD_TOPS_ADD);
BINARY_OP(jalad_op_sub, "Sub", sub_infer, JALAD_TOPS_SUB);
BINARY_OP(jalad_op_mul, "Mul", mul_infer, JALAD_TOPS_MUL);
BINARY_OP(jalad_op_div, "Div", div_infer, JALAD_TOPS_DIV);
BINARY_OP(jalad_op_pow, "Pow", pow_infer, JALAD_TOPS_POW);
BINARY_OP(jalad_op_prelu, "PRelu", prelu_infer, JALAD_TOPS_PRELU);
