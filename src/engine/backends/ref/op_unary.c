/* Elementwise unary ops: Relu, LeakyRelu, Clip, Sigmoid, Tanh, HardSigmoid,
 * HardSwish, Elu, Selu, Celu, Softplus, Softsign, ThresholdedRelu and the
 * plain math functions (Exp, Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil,
 * Erf). Float32; Relu, Clip, Neg and Abs also take the integer types.
 * Clip's opset-11 min/max inputs are scalars read at run time (constant or
 * not). */
/* Let GCC if-convert the selects of the elementwise loops so they vectorize;
 * nothing here reads the floating-point exception flags. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref_ops_tensor.h"

enum unary_kind {
	U_RELU, U_LEAKY_RELU, U_CLIP, U_SIGMOID, U_TANH, U_HARD_SIGMOID, U_HARD_SWISH,
	U_EXP, U_LOG, U_SQRT, U_NEG, U_ABS, U_RECIPROCAL, U_FLOOR, U_CEIL, U_ERF,
	U_ELU, U_SELU, U_CELU, U_SOFTPLUS, U_SOFTSIGN, U_THRESHOLDED_RELU,
};

struct unary_params {
	enum unary_kind kind;
	float alpha, beta;      /* LeakyRelu, HardSigmoid, Elu, Selu (beta = gamma)... */
	float lo, hi;           /* Clip on float32 */
	int64_t ilo, ihi;       /* Clip on integers */
};

/* ------------------------------------------------------------ math */

/* exp(x) for x clamped to [-87, 88], vectorizable: 2^n * p(r) with
 * r = x - n ln2 and a degree-6 Taylor polynomial (about 1 ulp on the
 * reduced range). Used where the clamp cannot matter (Sigmoid, Tanh). */
static inline JALAD_TOPS_INLINE float fast_expf(float x0)
{
	/* NaN goes through the polynomial as -87 and is put back at the end,
	 * so the float-to-int conversion below always has a value in range */
	float x = !(x0 > -87.0f) ? -87.0f : x0;
	x = x > 88.0f ? 88.0f : x;
	float t = x * 1.44269504088896341f + 12582912.0f;
	float n = t - 12582912.0f;
	float r = x - n * 0.693145751953125f;
	r = r - n * 1.428606765330187045e-06f;
	float p = 1.0f / 720.0f;
	p = p * r + 1.0f / 120.0f;
	p = p * r + 1.0f / 24.0f;
	p = p * r + 1.0f / 6.0f;
	p = p * r + 0.5f;
	p = p * r + 1.0f;
	p = p * r + 1.0f;
	uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
	float scale;
	memcpy(&scale, &bits, sizeof scale);
	return x0 != x0 ? x0 : p * scale;
}

static inline JALAD_TOPS_INLINE float fast_tanhf(float x)
{
	float a = x < 0 ? -x : x;
	float e = fast_expf(-2.0f * a);
	float big = (1.0f - e) / (1.0f + e);
	float x2 = a * a;
	/* odd series for |x| < 0.1, where 1 - e loses digits */
	float small = a * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
	float v = a < 0.1f ? small : big;
	return x < 0 ? -v : v;
}

/* ------------------------------------------------------------ run */

struct unary_task {
	const struct unary_params *p;
	enum jalad_dtype dt;
	const void *x;
	void *y;
	int64_t n;
};

JALAD_TOPS_CLONES
static void unary_f32(const struct unary_params *p, const float *x, float *y, int64_t n)
{
	const float alpha = p->alpha, beta = p->beta, lo = p->lo, hi = p->hi;
	switch (p->kind) {
	case U_RELU:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? x[i] : 0.0f;
		break;
	case U_LEAKY_RELU:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
		break;
	case U_CLIP:
#pragma omp simd
		for (int64_t i = 0; i < n; i++) {
			float v = x[i] < lo ? lo : x[i];
			y[i] = v > hi ? hi : v;
		}
		break;
	case U_SIGMOID:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = 1.0f / (1.0f + fast_expf(-x[i]));
		break;
	case U_TANH:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = fast_tanhf(x[i]);
		break;
	case U_HARD_SIGMOID:
#pragma omp simd
		for (int64_t i = 0; i < n; i++) {
			float v = alpha * x[i] + beta;
			v = v < 0.0f ? 0.0f : v;
			y[i] = v > 1.0f ? 1.0f : v;
		}
		break;
	case U_HARD_SWISH:
#pragma omp simd
		for (int64_t i = 0; i < n; i++) {
			float v = x[i] * (1.0f / 6.0f) + 0.5f;
			v = v < 0.0f ? 0.0f : v;
			v = v > 1.0f ? 1.0f : v;
			y[i] = x[i] * v;
		}
		break;
	case U_EXP:
		for (int64_t i = 0; i < n; i++)
			y[i] = expf(x[i]);
		break;
	case U_LOG:
		for (int64_t i = 0; i < n; i++)
			y[i] = logf(x[i]);
		break;
	case U_SQRT:
		for (int64_t i = 0; i < n; i++)
			y[i] = sqrtf(x[i]);
		break;
	case U_NEG:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = -x[i];
		break;
	case U_ABS:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = fabsf(x[i]);
		break;
	case U_RECIPROCAL:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = 1.0f / x[i];
		break;
	case U_FLOOR:
		for (int64_t i = 0; i < n; i++)
			y[i] = floorf(x[i]);
		break;
	case U_CEIL:
		for (int64_t i = 0; i < n; i++)
			y[i] = ceilf(x[i]);
		break;
	case U_ERF:
		for (int64_t i = 0; i < n; i++)
			y[i] = erff(x[i]);
		break;
	case U_ELU:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] < 0.0f ? alpha * expm1f(x[i]) : x[i];
		break;
	case U_SELU:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? beta * x[i] : beta * alpha * expm1f(x[i]);
		break;
	case U_CELU:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? x[i] : alpha * expm1f(x[i] / alpha);
		break;
	case U_SOFTPLUS:
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > 0.0f ? x[i] + log1pf(expf(-x[i])) : log1pf(expf(x[i]));
		break;
	case U_SOFTSIGN:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] / (1.0f + fabsf(x[i]));
		break;
	case U_THRESHOLDED_RELU:
#pragma omp simd
		for (int64_t i = 0; i < n; i++)
			y[i] = x[i] > alpha ? x[i] : 0.0f;
		break;
	}
}

static int64_t int_load(enum jalad_dtype dt, const void *x, int64_t i)
{
	switch (dt) {
	case JALAD_DTYPE_UINT8: return ((const uint8_t *)x)[i];
	case JALAD_DTYPE_INT8: return ((const int8_t *)x)[i];
	case JALAD_DTYPE_INT32: return ((const int32_t *)x)[i];
	default: return ((const int64_t *)x)[i];
	}
}

static void int_store(enum jalad_dtype dt, void *y, int64_t i, int64_t v)
{
	switch (dt) {
	case JALAD_DTYPE_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
	case JALAD_DTYPE_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
	case JALAD_DTYPE_INT32: ((int32_t *)y)[i] = (int32_t)v; break;
	default: ((int64_t *)y)[i] = v; break;
	}
}

static void unary_int(const struct unary_params *p, enum jalad_dtype dt, const void *x, void *y,
		      int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		int64_t v = int_load(dt, x, i);
		switch (p->kind) {
		case U_RELU: v = v > 0 ? v : 0; break;
		case U_CLIP: v = v < p->ilo ? p->ilo : v; v = v > p->ihi ? p->ihi : v; break;
		/* negate in unsigned arithmetic: INT64_MIN stays INT64_MIN */
		case U_NEG: v = (int64_t)(0 - (uint64_t)v); break;
		case U_ABS: v = v < 0 ? (int64_t)(0 - (uint64_t)v) : v; break;
		default: break;
		}
		int_store(dt, y, i, v);
	}
}

static void unary_task_run(void *arg, int ith, int nth)
{
	const struct unary_task *t = arg;
	size_t es = jalad_dtype_size(t->dt);
	int64_t a, b;
	jalad_tops_range(t->n, ith, nth, &a, &b);
	/* split on 16-element boundaries so threads never share a cache line */
	a = a == t->n ? a : (a & ~(int64_t)15);
	b = b == t->n ? b : (b & ~(int64_t)15);
	if (a >= b)
		return;
	const char *x = (const char *)t->x + (size_t)a * es;
	char *y = (char *)t->y + (size_t)a * es;
	if (t->dt == JALAD_DTYPE_FLOAT32)
		unary_f32(t->p, (const float *)x, (float *)y, b - a);
	else
		unary_int(t->p, t->dt, x, y, b - a);
}

/* Clip's min (i = 1) or max (i = 2) input, when given. */
static void clip_bound(const struct jalad_op_ctx *ctx, int i, struct unary_params *p)
{
	const struct jalad_tensor *b;
	if (i >= ctx->n_in || !ctx->in[i].data)
		return;
	b = &ctx->in[i];
	if (b->dtype == JALAD_DTYPE_FLOAT32) {
		float v;
		memcpy(&v, b->data, sizeof v);
		*(i == 1 ? &p->lo : &p->hi) = v;
	} else {
		*(i == 1 ? &p->ilo : &p->ihi) = int_load(b->dtype, b->data, 0);
	}
}

static enum jalad_status unary_run(struct jalad_op_ctx *ctx)
{
	struct unary_task t;
	struct unary_params p = *(const struct unary_params *)ctx->node->params;
	if (p.kind == U_CLIP) {
		clip_bound(ctx, 1, &p);
		clip_bound(ctx, 2, &p);
	}
	t.p = &p;
	t.dt = ctx->in[0].dtype;
	t.x = ctx->in[0].data;
	t.y = ctx->out[0].data;
	t.n = jalad_tensor_numel(&ctx->in[0]);
	if (t.n > 0)
		jalad_tops_parallel(ctx->pool, t.n, unary_task_run, &t);
	return JALAD_OK;
}

static int64_t unary_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	return jalad_ir_numel(&g->tensors[n->out[0]]);
}

/* ------------------------------------------------------------ infer */

static enum jalad_status unary_infer_kind(struct jalad_graph *g, struct jalad_node *n,
					  enum unary_kind kind, int max_in)
{
	struct unary_params *p;
	const struct jalad_tensor_ir *x;
	JALAD_FORWARD(jalad_tops_check_io(g, n, 1, max_in, 1, 1, 1));
	x = jalad_node_input(g, n, 0);
	int int_ok = kind == U_RELU || kind == U_CLIP || kind == U_NEG || kind == U_ABS;
	int is_int = x->dtype != JALAD_DTYPE_FLOAT32 && jalad_tops_numeric(x->dtype);
	if (x->dtype != JALAD_DTYPE_FLOAT32 && !(int_ok && is_int))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input dtype %s",
				       jalad_dtype_name(x->dtype));
	p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "params");
	free(n->params);
	n->params = p;
	p->kind = kind;
	p->lo = -INFINITY;
	p->hi = INFINITY;
	p->ilo = INT64_MIN;
	p->ihi = INT64_MAX;
	switch (kind) {
	case U_LEAKY_RELU:
		p->alpha = jalad_attr_float(n, "alpha", 0.01f);
		break;
	case U_HARD_SIGMOID:
		p->alpha = jalad_attr_float(n, "alpha", 0.2f);
		p->beta = jalad_attr_float(n, "beta", 0.5f);
		break;
	case U_ELU:
	case U_CELU:
	case U_THRESHOLDED_RELU:
		p->alpha = jalad_attr_float(n, "alpha", 1.0f);
		if (kind == U_CELU && p->alpha == 0.0f)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "attribute alpha=0");
		break;
	case U_SELU:
		p->alpha = jalad_attr_float(n, "alpha", 1.67326319217681884765625f);
		p->beta = jalad_attr_float(n, "gamma", 1.05070102214813232421875f);
		break;
	default:
		break;
	}
	jalad_node_set_output(g, n, 0, x->dtype, x->ndim, x->dims);
	return JALAD_OK;
}

#define UNARY_INFER(fn, kind)                                                   \
	static enum jalad_status fn(struct jalad_graph *g, struct jalad_node *n) \
	{                                                                       \
		return unary_infer_kind(g, n, kind, 1);                         \
	}

UNARY_INFER(relu_infer, U_RELU)
UNARY_INFER(leaky_relu_infer, U_LEAKY_RELU)
UNARY_INFER(sigmoid_infer, U_SIGMOID)
UNARY_INFER(tanh_infer, U_TANH)
UNARY_INFER(hard_sigmoid_infer, U_HARD_SIGMOID)
UNARY_INFER(hard_swish_infer, U_HARD_SWISH)
UNARY_INFER(exp_infer, U_EXP)
UNARY_INFER(log_infer, U_LOG)
UNARY_INFER(sqrt_infer, U_SQRT)
UNARY_INFER(neg_infer, U_NEG)
UNARY_INFER(abs_infer, U_ABS)
UNARY_INFER(reciprocal_infer, U_RECIPROCAL)
UNARY_INFER(floor_infer, U_FLOOR)
UNARY_INFER(ceil_infer, U_CEIL)
UNARY_INFER(erf_infer, U_ERF)
UNARY_INFER(elu_infer, U_ELU)
UNARY_INFER(selu_infer, U_SELU)
UNARY_INFER(celu_infer, U_CELU)
UNARY_INFER(softplus_infer, U_SOFTPLUS)
UNARY_INFER(softsign_infer, U_SOFTSIGN)
UNARY_INFER(thresholded_relu_infer, U_THRESHOLDED_RELU)

/* Clip's min (i = 1) / max (i = 2) input: a scalar of the data's dtype. */
static enum jalad_status clip_check_bound(struct jalad_graph *g, struct jalad_node *n, int i)
{
	const struct jalad_tensor_ir *x = jalad_node_input(g, n, 0);
	const struct jalad_tensor_ir *b = jalad_node_input(g, n, i);
	const char *name = i == 1 ? "min" : "max";
	if (!b)
		return JALAD_OK;
	if (b->dtype != x->dtype)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "input '%s' is %s, data is %s", name,
				       jalad_dtype_name(b->dtype), jalad_dtype_name(x->dtype));
	if (b->ndim < 0 || jalad_ir_numel(b) != 1)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "input '%s' is not a scalar", name);
	return JALAD_OK;
}

static enum jalad_status clip_infer(struct jalad_graph *g, struct jalad_node *n)
{
	struct unary_params *p;
	JALAD_FORWARD(unary_infer_kind(g, n, U_CLIP, g->opset >= 11 ? 3 : 1));
	p = n->params;
	if (g->opset < 11) {
		p->lo = jalad_attr_float(n, "min", -FLT_MAX);
		p->hi = jalad_attr_float(n, "max", FLT_MAX);
		return JALAD_OK;
	}
	JALAD_FORWARD(clip_check_bound(g, n, 1));
	return clip_check_bound(g, n, 2);
}

#define UNARY_DEF(var, opname, infer)                                            \
	const struct jalad_op_def var = { opname, infer, unary_run, unary_flops }

UNARY_DEF(jalad_op_relu, "Relu", relu_infer);
UNARY_DEF(jalad_op_leaky_relu, "LeakyRelu", leaky_relu_infer);
UNARY_DEF(jalad_op_clip, "Clip", clip_infer);
UNARY_DEF(jalad_op_sigmoid, "Sigmoid", sigmoid_infer);
UNARY_DEF(jalad_op_tanh, "Tanh", tanh_infer);
UNARY_DEF(jalad_op_hard_sigmoid, "HardSigmoid", hard_sigmoid_infer);
UNARY_DEF(jalad_op_hard_swish, "HardSwish", hard_swish_infer);
UNARY_DEF(jalad_op_exp, "Exp", exp_infer);
UNARY_DEF(jalad_op_log, "Log", log_infer);
UNARY_DEF(jalad_op_sqrt, "Sqrt", sqrt_infer);
UNARY_DEF(jalad_op_neg, "Neg", neg_infer);
UNARY_DEF(jalad_op_abs, "Abs", abs_infer);
UNARY_DEF(jalad_op_reciprocal, "Reciprocal", reciprocal_infer);
UNARY_DEF(jalad_op_floor, "Floor", floor_infer);
UNARY_DEF(jalad_op_ceil, "Ceil", ceil_infer);
UNARY_DEF(jalad_op_erf, "Erf", erf_infer);
UNARY_DEF(jalad_op_elu, "Elu", elu_infer);
UNARY_DEF(jalad_op_selu, "Selu", selu_infer);
UNARY_DEF(jalad_op_celu, "Celu", celu_infer);
UNARY_DEF(jalad_op_softplus, "Softplus", softplus_infer);
UNARY_DEF(jalad_op_softsign, "Softsign", softsign_infer);
UNARY_DEF(jalad_op_thresholded_relu, "ThresholdedRelu", thresholded_relu_infer);
