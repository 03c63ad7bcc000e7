/*
 * Reference tensor operators on hand-built one-node graphs: broadcasting
 * arithmetic (float and integer, C-style integer division without traps),
 * results independent of the thread count, Slice clamping and negative
 * steps, Reshape 0/-1/allowzero, Transpose, Pad modes with negative pads,
 * Gather with negative and out-of-range indices, Split, ReduceMean, Cast
 * saturation, Clip bounds, Constant, Shape, Expand, and clear refusals.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "engine/engine_impl.h"
#include "testing.h"

/* ------------------------------------------------------------ harness */

#define T_MAX_IN 8
#define T_MAX_OUT 4

struct tcase {
	struct jalad_graph g;
	const void *data[T_MAX_IN];     /* graph-input data by input slot */
	int ins[T_MAX_IN];
	int n_in;
	struct jalad_tensor out[T_MAX_OUT];  /* results of t_run (malloc'd data) */
	int n_out;
};

static void t_init(struct tcase *t, int opset)
{
	memset(t, 0, sizeof *t);
	t->g.opset = opset;
}

static void t_free(struct tcase *t)
{
	for (int i = 0; i < T_MAX_OUT; i++)
		free(t->out[i].data);
	jalad_graph_free(&t->g);
}

static int t_tensor(struct tcase *t, enum jalad_dtype dt, int ndim, const int64_t *dims)
{
	int id = -1;
	char name[32];
	snprintf(name, sizeof name, "t%d", t->g.n_tensors);
	if (jalad_graph_add_tensor(&t->g, name, &id) != JALAD_OK)
		return -1;
	struct jalad_tensor_ir *ti = &t->g.tensors[id];
	ti->dtype = dt;
	ti->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		ti->dims[i] = dims[i];
	return id;
}

/* Next node input: a non-constant graph input fed with v at run time. */
static void t_input(struct tcase *t, enum jalad_dtype dt, int ndim, const int64_t *dims, const void *v)
{
	int id = t_tensor(t, dt, ndim, dims);
	t->g.tensors[id].is_input = 1;
	t->data[t->n_in] = v;
	t->ins[t->n_in++] = id;
}

/* Next node input: a constant (copied). */
static void t_const(struct tcase *t, enum jalad_dtype dt, int ndim, const int64_t *dims, const void *v)
{
	int id = t_tensor(t, dt, ndim, dims);
	size_t bytes = (size_t)jalad_numel(ndim, dims) * jalad_dtype_size(dt);
	t->g.tensors[id].data = malloc(bytes ? bytes : 1);
	if (bytes)
		memcpy(t->g.tensors[id].data, v, bytes);
	t->ins[t->n_in++] = id;
}

static void t_omit(struct tcase *t)
{
	t->ins[t->n_in++] = -1;
}

static struct jalad_node *t_node(struct tcase *t, const char *op, int n_out)
{
	struct jalad_node *n;
	int outs[T_MAX_OUT];
	for (int i = 0; i < n_out; i++) {
		char name[32];
		snprintf(name, sizeof name, "out%d", i);
		jalad_graph_add_tensor(&t->g, name, &outs[i]);
	}
	jalad_graph_add_node(&t->g, &n);
	n->name = strdup("n0");
	n->op_type = strdup(op);
	n->n_in = t->n_in;
	n->n_out = n_out;
	n->in = malloc(sizeof(int) * (size_t)(t->n_in ? t->n_in : 1));
	n->out = malloc(sizeof(int) * (size_t)n_out);
	memcpy(n->in, t->ins, sizeof(int) * (size_t)t->n_in);
	memcpy(n->out, outs, sizeof(int) * (size_t)n_out);
	t->n_out = n_out;
	return n;
}

static struct jalad_attr *t_attr(struct jalad_node *n, const char *name, enum jalad_attr_type type)
{
	struct jalad_attr *a = realloc(n->attrs, sizeof *a * (size_t)(n->n_attr + 1));
	n->attrs = a;
	a = &n->attrs[n->n_attr++];
	memset(a, 0, sizeof *a);
	a->name = strdup(name);
	a->type = type;
	a->tensor = -1;
	return a;
}

static void t_int(struct jalad_node *n, const char *name, int64_t v)
{
	t_attr(n, name, JALAD_ATTR_INT)->i = v;
}

static void t_float(struct jalad_node *n, const char *name, float v)
{
	t_attr(n, name, JALAD_ATTR_FLOAT)->f = v;
}

static void t_str(struct jalad_node *n, const char *name, const char *v)
{
	t_attr(n, name, JALAD_ATTR_STRING)->s = strdup(v);
}

static void t_ints(struct jalad_node *n, const char *name, int count, const int64_t *v)
{
	struct jalad_attr *a = t_attr(n, name, JALAD_ATTR_INTS);
	a->ints = malloc(sizeof(int64_t) * (size_t)(count ? count : 1));
	a->n = count;
	memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

/* Finalize (once), then run the node on `threads` threads into t->out.
 * A node folded at finalize (all inputs constant) has its results copied. */
static enum jalad_status t_run(struct tcase *t, int threads)
{
	struct jalad_tensor ins[T_MAX_IN];
	struct jalad_pool *pool = NULL;
	void *scratch = NULL;
	enum jalad_status st;
	if (t->g.n_nodes == 1 && !t->g.nodes[0].op) {
		int outs[T_MAX_OUT];
		memcpy(outs, t->g.nodes[0].out, sizeof(int) * (size_t)t->n_out);
		st = jalad_graph_finalize(&t->g);
		if (st != JALAD_OK)
			return st;
		if (t->g.n_nodes == 0) {  /* folded */
			for (int i = 0; i < t->n_out; i++) {
				size_t bytes = jalad_ir_bytes(&t->g.tensors[outs[i]]);
				jalad_graph_view(&t->g, outs[i], &t->out[i]);
				void *copy = malloc(bytes ? bytes : 1);
				memcpy(copy, t->out[i].data, bytes);
				t->out[i].data = copy;
			}
			return JALAD_OK;
		}
	}
	if (t->g.n_nodes != 1)
		return t->out[0].data ? JALAD_OK : JALAD_ERR_INTERNAL;
	const struct jalad_node *n = &t->g.nodes[0];
	for (int i = 0; i < n->n_in; i++) {
		memset(&ins[i], 0, sizeof ins[i]);
		if (n->in[i] < 0)
			continue;
		jalad_graph_view(&t->g, n->in[i], &ins[i]);
		if (!ins[i].data)
			ins[i].data = (void *)t->data[i];
	}
	for (int i = 0; i < n->n_out; i++) {
		free(t->out[i].data);
		jalad_graph_view(&t->g, n->out[i], &t->out[i]);
		size_t bytes = jalad_ir_bytes(&t->g.tensors[n->out[i]]);
		t->out[i].data = malloc(bytes ? bytes : 1);
		memset(t->out[i].data, 0xEE, bytes);
	}
	if (n->scratch_bytes)
		scratch = aligned_alloc(64, (n->scratch_bytes + 63) & ~(size_t)63);
	if (jalad_pool_create(threads, &pool) != JALAD_OK)
		return JALAD_ERR_NOMEM;
	st = jalad_node_run(&t->g, n, ins, t->out, scratch, pool);
	jalad_pool_free(pool);
	free(scratch);
	return st;
}

static int dims_are(const struct jalad_tensor *v, int ndim, const int64_t *dims)
{
	if (v->ndim != ndim)
		return 0;
	for (int i = 0; i < ndim; i++)
		if (v->dims[i] != dims[i])
			return 0;
	return 1;
}

static int f32_eq(const struct jalad_tensor *v, const float *want, int64_t n, float tol)
{
	const float *y = v->data;
	if (v->dtype != JALAD_DTYPE_FLOAT32 || jalad_tensor_numel(v) != n)
		return 0;
	for (int64_t i = 0; i < n; i++)
		if (!(fabsf(y[i] - want[i]) <= tol * (1.0f + fabsf(want[i]))))
			return 0;
	return 1;
}

static int i64_eq(const struct jalad_tensor *v, const int64_t *want, int64_t n)
{
	const int64_t *y = v->data;
	if (v->dtype != JALAD_DTYPE_INT64 || jalad_tensor_numel(v) != n)
		return 0;
	for (int64_t i = 0; i < n; i++)
		if (y[i] != want[i])
			return 0;
	return 1;
}

static void fill(float *x, int64_t n, uint32_t seed)
{
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = (float)(seed >> 8) / (float)(1u << 24) * 8.0f - 4.0f;
	}
}

static float *iota_f(int64_t n)
{
	float *x = malloc(sizeof *x * (size_t)n);
	for (int64_t i = 0; i < n; i++)
		x[i] = (float)i;
	return x;
}

/* ------------------------------------------------------------ arithmetic */

static void test_broadcast_add(void)
{
	/* (2,3,4) - (3,1) and (1,4) * (2,1,1) style shapes against a naive loop */
	static const int64_t da[] = {2, 3, 4}, db[] = {3, 1};
	float a[24], b[3], want[24];
	struct tcase t;
	fill(a, 24, 1);
	fill(b, 3, 2);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				want[(i * 3 + j) * 4 + k] = a[(i * 3 + j) * 4 + k] - b[j];
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, da, a);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, db, b);
	t_node(&t, "Sub", 1);
	CHECK(t_run(&t, 2) == JALAD_OK);
	CHECK(dims_are(&t.out[0], 3, da));
	CHECK(f32_eq(&t.out[0], want, 24, 0));
	t_free(&t);

	/* both sides broadcast: (4,1) * (1,5) -> (4,5) */
	static const int64_t d41[] = {4, 1}, d15[] = {1, 5}, d45[] = {4, 5};
	float c[4] = {1, 2, 3, 4}, e[5] = {1, 10, 100, 1000, 10000}, w2[20];
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 5; j++)
			w2[i * 5 + j] = c[i] * e[j];
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d41, c);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d15, e);
	t_node(&t, "Mul", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(dims_are(&t.out[0], 2, d45));
	CHECK(f32_eq(&t.out[0], w2, 20, 0));
	t_free(&t);

	/* scalar (rank 0) + vector */
	static const int64_t d3[] = {3};
	float s = 0.5f, v[3] = {1, 2, 3}, w3[3] = {1.5f, 2.5f, 3.5f};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 0, NULL, &s);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d3, v);
	t_node(&t, "Add", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(dims_are(&t.out[0], 1, d3));
	CHECK(f32_eq(&t.out[0], w3, 3, 0));
	t_free(&t);

	/* incompatible shapes are a shape error */
	static const int64_t d2[] = {2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d3, v);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d2, v);
	t_node(&t, "Add", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);
}

static void test_int_div(void)
{
	static const int64_t d[] = {7};
	int64_t a[7] = {-7, 7, -7, 7, 5, INT64_MIN, 9};
	int64_t b[7] = {2, -2, -2, 2, 0, -1, 3};
	int64_t want[7] = {-3, -3, 3, 3, 0, INT64_MIN, 3};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 1, d, a);
	t_input(&t, JALAD_DTYPE_INT64, 1, d, b);
	t_node(&t, "Div", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(i64_eq(&t.out[0], want, 7));
	t_free(&t);

	/* int32 wraps instead of overflowing */
	int32_t x[2] = {INT32_MAX, 5}, y[2] = {1, -6};
	t_init(&t, 13);
	static const int64_t d2[] = {2};
	t_input(&t, JALAD_DTYPE_INT32, 1, d2, x);
	t_input(&t, JALAD_DTYPE_INT32, 1, d2, y);
	t_node(&t, "Add", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(((int32_t *)t.out[0].data)[0] == INT32_MIN && ((int32_t *)t.out[0].data)[1] == -1);
	t_free(&t);
}

/* Large broadcast and unary ops: same bits on 1 and 2 threads. */
static void test_threads(void)
{
	static const int64_t dx[] = {1, 64, 56, 56}, db[] = {64, 1, 1};
	int64_t n = 64 * 56 * 56;
	float *x = malloc(sizeof *x * (size_t)n), b[64];
	fill(x, n, 7);
	fill(b, 64, 8);
	static const char *const ops[] = {"Add", "Relu", "Sigmoid", "Tanh", "HardSwish", "Clip"};
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
		struct tcase t1, t2;
		int binary = strcmp(ops[k], "Add") == 0;
		struct tcase *ts[2] = {&t1, &t2};
		for (int r = 0; r < 2; r++) {
			t_init(ts[r], 13);
			t_input(ts[r], JALAD_DTYPE_FLOAT32, 4, dx, x);
			if (binary)
				t_input(ts[r], JALAD_DTYPE_FLOAT32, 3, db, b);
			t_node(ts[r], ops[k], 1);
			CHECK(t_run(ts[r], r + 1) == JALAD_OK);
		}
		CHECK_MSG(memcmp(t1.out[0].data, t2.out[0].data, sizeof(float) * (size_t)n) == 0, "%s", ops[k]);
		/* spot-check values against libm */
		const float *y = t1.out[0].data;
		double maxerr = 0;
		for (int64_t i = 0; i < n; i += 97) {
			double want = x[i];
			if (binary)
				want = (double)x[i] + b[i / (56 * 56)];
			else if (strcmp(ops[k], "Relu") == 0)
				want = x[i] > 0 ? x[i] : 0;
			else if (strcmp(ops[k], "Sigmoid") == 0)
				want = 1.0 / (1.0 + exp(-(double)x[i]));
			else if (strcmp(ops[k], "Tanh") == 0)
				want = tanh((double)x[i]);
			else if (strcmp(ops[k], "HardSwish") == 0)
				want = x[i] * fmin(1.0, fmax(0.0, x[i] / 6.0 + 0.5));
			double e = fabs(y[i] - want);
			maxerr = e > maxerr ? e : maxerr;
		}
		CHECK_MSG(maxerr < 1e-6, "%s max error %g", ops[k], maxerr);
		t_free(&t1);
		t_free(&t2);
	}
	free(x);

	/* Tanh and Sigmoid near zero and at extremes */
	static const int64_t d8[] = {8};
	float v[8] = {0.0f, 1e-6f, -3e-4f, 0.09f, 0.11f, -20.0f, 90.0f, -100.0f};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d8, v);
	t_node(&t, "Tanh", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	for (int i = 0; i < 8; i++) {
		float y = ((float *)t.out[0].data)[i];
		CHECK_MSG(fabs(y - tanh(v[i])) <= 1e-6 * fabs(tanh(v[i])) + 1e-9, "tanh(%g) = %g", v[i], y);
	}
	t_free(&t);

	/* NaN stays NaN */
	static const int64_t d2[] = {2};
	float nan2[2] = {NAN, 1.0f};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d2, nan2);
	t_node(&t, "Sigmoid", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(isnan(((float *)t.out[0].data)[0]));
	CHECK(fabs(((float *)t.out[0].data)[1] - 1.0 / (1.0 + exp(-1.0))) < 1e-7);
	t_free(&t);
}

static void test_variadic(void)
{
	static const int64_t d2[] = {2}, d12[] = {1, 2}, d21[] = {2, 1}, d22[] = {2, 2};
	float a[2] = {1, 5}, b[2] = {3, 2}, c[2] = {10, 20};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d2, a);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d12, b);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d21, c);
	t_node(&t, "Mean", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float want[4] = {(1 + 3 + 10) / 3.0f, (5 + 2 + 10) / 3.0f, (1 + 3 + 20) / 3.0f, (5 + 2 + 20) / 3.0f};
	CHECK(dims_are(&t.out[0], 2, d22));
	CHECK(f32_eq(&t.out[0], want, 4, 1e-6f));
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d2, a);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d2, b);
	t_node(&t, "Max", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float wmax[2] = {3, 5};
	CHECK(f32_eq(&t.out[0], wmax, 2, 0));
	t_free(&t);
}

/* ------------------------------------------------------------ data movement */

static void test_slice(void)
{
	static const int64_t d10[] = {10}, d1[] = {1};
	float *x = iota_f(10);
	struct tcase t;
	/* negative step from the end, end far below: 9 7 5 3 1 */
	int64_t st[1] = {-1}, en[1] = {-1000}, ax[1] = {0}, sp[1] = {-2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d10, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, st);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, ax);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, sp);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w1[5] = {9, 7, 5, 3, 1};
	CHECK(f32_eq(&t.out[0], w1, 5, 0));
	t_free(&t);

	/* start beyond the end with a negative step is clamped to dim - 1;
	 * INT64_MAX end with positive step is clamped to dim */
	int64_t st2[1] = {100}, en2[1] = {4}, sp2[1] = {-3};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d10, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, st2);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en2);
	t_omit(&t);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, sp2);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w2[2] = {9, 6};
	CHECK(f32_eq(&t.out[0], w2, 2, 0));
	t_free(&t);

	/* 2-D, negative axis, empty result */
	static const int64_t d34[] = {3, 4};
	float *y = iota_f(12);
	int64_t st3[1] = {2}, en3[1] = {INT64_MAX}, ax3[1] = {-1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d34, y);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, st3);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en3);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, ax3);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 2) == JALAD_OK);
	static const int64_t d32[] = {3, 2};
	float w3[6] = {2, 3, 6, 7, 10, 11};
	CHECK(dims_are(&t.out[0], 2, d32));
	CHECK(f32_eq(&t.out[0], w3, 6, 0));
	t_free(&t);

	int64_t st4[1] = {3}, en4[1] = {1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d10, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, st4);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en4);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(jalad_tensor_numel(&t.out[0]) == 0);
	t_free(&t);

	/* opset 1 attributes; steps of 0 are refused */
	t_init(&t, 9);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d34, y);
	struct jalad_node *n = t_node(&t, "Slice", 1);
	int64_t s_a[2] = {1, -3}, e_a[2] = {3, -1};
	t_ints(n, "starts", 2, s_a);
	t_ints(n, "ends", 2, e_a);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w5[4] = {5, 6, 9, 10};
	CHECK(f32_eq(&t.out[0], w5, 4, 0));
	t_free(&t);

	int64_t z[1] = {0};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d10, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, st);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, ax);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, z);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_FORMAT);
	t_free(&t);

	/* starts given as a run-time tensor: unsupported, named */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d10, x);
	t_input(&t, JALAD_DTYPE_INT64, 1, d1, st);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, en);
	t_node(&t, "Slice", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_UNSUPPORTED);
	t_free(&t);
	free(x);
	free(y);
}

static void test_reshape(void)
{
	static const int64_t d234[] = {2, 3, 4}, d3[] = {3}, d2[] = {2};
	float *x = iota_f(24);
	struct tcase t;
	int64_t shape[3] = {0, -1, 2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d234, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d3, shape);
	t_node(&t, "Reshape", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t w[] = {2, 6, 2};
	CHECK(dims_are(&t.out[0], 3, w));
	CHECK(f32_eq(&t.out[0], x, 24, 0));
	t_free(&t);

	/* allowzero=1: a 0 is a real zero dim, so 24 elements cannot fit */
	int64_t shape2[2] = {0, 24};
	t_init(&t, 14);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d234, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d2, shape2);
	t_int(t_node(&t, "Reshape", 1), "allowzero", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);

	/* two -1 */
	int64_t shape3[2] = {-1, -1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d234, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d2, shape3);
	t_node(&t, "Reshape", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);

	/* Flatten with negative axis, Squeeze without axes, Unsqueeze negative axes */
	static const int64_t d1314[] = {1, 3, 1, 4};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 4, d1314, x);
	t_int(t_node(&t, "Flatten", 1), "axis", -1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t wf[] = {3, 4};
	CHECK(dims_are(&t.out[0], 2, wf));
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 4, d1314, x);
	t_node(&t, "Squeeze", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t ws[] = {3, 4};
	CHECK(dims_are(&t.out[0], 2, ws));
	t_free(&t);

	int64_t axes[2] = {-1, 1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d3, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d2, axes);
	t_node(&t, "Unsqueeze", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t wu[] = {3, 1, 1};
	CHECK(dims_are(&t.out[0], 3, wu));
	t_free(&t);

	t_init(&t, 11);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d3, x);
	t_ints(t_node(&t, "Unsqueeze", 1), "axes", 2, axes);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(dims_are(&t.out[0], 3, wu));
	t_free(&t);

	int64_t bad[1] = {1};
	static const int64_t d1[] = {1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 4, d1314, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d1, bad);
	t_node(&t, "Squeeze", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);
	free(x);
}

static void test_transpose(void)
{
	static const int64_t d[] = {2, 3, 4};
	float *x = iota_f(24), want[24];
	struct tcase t;
	/* default perm reverses: out[k][j][i] = x[i][j][k] */
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				want[(k * 3 + j) * 2 + i] = x[(i * 3 + j) * 4 + k];
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	t_node(&t, "Transpose", 1);
	CHECK(t_run(&t, 2) == JALAD_OK);
	static const int64_t w[] = {4, 3, 2};
	CHECK(dims_are(&t.out[0], 3, w));
	CHECK(f32_eq(&t.out[0], want, 24, 0));
	t_free(&t);

	/* int64 data, perm (1,0,2) */
	int64_t xi[24], wi[24];
	for (int i = 0; i < 24; i++)
		xi[i] = 1000 + i;
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 4; k++)
				wi[(j * 2 + i) * 4 + k] = xi[(i * 3 + j) * 4 + k];
	int64_t perm[3] = {1, 0, 2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 3, d, xi);
	t_ints(t_node(&t, "Transpose", 1), "perm", 3, perm);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(i64_eq(&t.out[0], wi, 24));
	t_free(&t);

	int64_t bad[3] = {0, 0, 1};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	t_ints(t_node(&t, "Transpose", 1), "perm", 3, bad);
	CHECK(t_run(&t, 1) == JALAD_ERR_FORMAT);
	t_free(&t);
	free(x);
}

static void test_pad(void)
{
	static const int64_t d[] = {2, 3}, d4[] = {4};
	float x[6] = {1, 2, 3, 4, 5, 6};
	struct tcase t;
	/* constant: pad row before, crop one column at the end */
	int64_t pads[4] = {1, 1, 0, -1};
	float cv = 9.0f;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d4, pads);
	t_input(&t, JALAD_DTYPE_FLOAT32, 0, NULL, &cv);
	t_node(&t, "Pad", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t w1d[] = {3, 3};
	float w1[9] = {9, 9, 9, 9, 1, 2, 9, 4, 5};
	CHECK(dims_are(&t.out[0], 2, w1d));
	CHECK(f32_eq(&t.out[0], w1, 9, 0));
	t_free(&t);

	/* reflect, pads wider than the axis reflect again */
	int64_t pr[4] = {0, 4, 0, 2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d4, pr);
	t_str(t_node(&t, "Pad", 1), "mode", "reflect");
	CHECK(t_run(&t, 1) == JALAD_OK);
	/* row 1 2 3 -> index pattern for j = -4..4: 1 2 1 0 | 0 1 2 | 1 0 => numpy reflect */
	float w2[18] = {1, 2, 3, 2, 1, 2, 3, 2, 1, 4, 5, 6, 5, 4, 5, 6, 5, 4};
	CHECK(f32_eq(&t.out[0], w2, 18, 0));
	t_free(&t);

	/* edge on the outer axis */
	int64_t pe[4] = {1, 0, 1, 0};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d4, pe);
	t_str(t_node(&t, "Pad", 1), "mode", "edge");
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w3[12] = {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6};
	CHECK(f32_eq(&t.out[0], w3, 12, 0));
	t_free(&t);

	/* opset 2 attributes on int64 data */
	int64_t xi[6] = {1, 2, 3, 4, 5, 6};
	int64_t pa[4] = {0, 1, 0, 0};
	t_init(&t, 2);
	t_input(&t, JALAD_DTYPE_INT64, 2, d, xi);
	t_ints(t_node(&t, "Pad", 1), "pads", 4, pa);
	CHECK(t_run(&t, 1) == JALAD_OK);
	int64_t w4[8] = {0, 1, 2, 3, 0, 4, 5, 6};
	CHECK(i64_eq(&t.out[0], w4, 8));
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d4, pe);
	t_str(t_node(&t, "Pad", 1), "mode", "wrap");
	CHECK(t_run(&t, 1) == JALAD_ERR_UNSUPPORTED);
	t_free(&t);
}

static void test_gather(void)
{
	static const int64_t d[] = {3, 2}, di[] = {2, 2}, d1[] = {1};
	float x[6] = {1, 2, 3, 4, 5, 6};
	int32_t idx[4] = {0, -1, 2, 1};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_input(&t, JALAD_DTYPE_INT32, 2, di, idx);
	t_node(&t, "Gather", 1);
	CHECK(t_run(&t, 2) == JALAD_OK);
	static const int64_t w[] = {2, 2, 2};
	float want[8] = {1, 2, 5, 6, 5, 6, 3, 4};
	CHECK(dims_are(&t.out[0], 3, w));
	CHECK(f32_eq(&t.out[0], want, 8, 0));
	t_free(&t);

	/* axis 1, int64 index */
	int64_t j[1] = {-2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_input(&t, JALAD_DTYPE_INT64, 1, d1, j);
	t_int(t_node(&t, "Gather", 1), "axis", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w2[3] = {1, 3, 5};
	CHECK(f32_eq(&t.out[0], w2, 3, 0));
	t_free(&t);

	/* out of range: an error from run, nothing crashes */
	int64_t bad[1] = {3};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_input(&t, JALAD_DTYPE_INT64, 1, d1, bad);
	t_node(&t, "Gather", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_INVALID_ARG);
	CHECK(strstr(jalad_last_error(), "out of range") != NULL);
	t_free(&t);
}

static void test_split_concat(void)
{
	static const int64_t d[] = {2, 5}, d2[] = {2};
	float *x = iota_f(10);
	int64_t sp[2] = {2, 3};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d2, sp);
	t_int(t_node(&t, "Split", 2), "axis", -1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w0[4] = {0, 1, 5, 6}, w1[6] = {2, 3, 4, 7, 8, 9};
	CHECK(f32_eq(&t.out[0], w0, 4, 0));
	CHECK(f32_eq(&t.out[1], w1, 6, 0));
	t_free(&t);

	/* equal split that does not divide */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d, x);
	t_int(t_node(&t, "Split", 2), "axis", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);

	/* Concat int64 along the last axis */
	static const int64_t da[] = {2, 1}, db[] = {2, 2};
	int64_t a[2] = {1, 2}, b[4] = {3, 4, 5, 6};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 2, da, a);
	t_input(&t, JALAD_DTYPE_INT64, 2, db, b);
	t_int(t_node(&t, "Concat", 1), "axis", -1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	int64_t wc[6] = {1, 3, 4, 2, 5, 6};
	CHECK(i64_eq(&t.out[0], wc, 6));
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 2, da, a);
	t_input(&t, JALAD_DTYPE_INT64, 2, db, b);
	t_int(t_node(&t, "Concat", 1), "axis", 0);
	CHECK(t_run(&t, 1) == JALAD_ERR_SHAPE);
	t_free(&t);
	free(x);
}

/* ------------------------------------------------------------ reductions, casts */

static void test_reduce(void)
{
	static const int64_t d[] = {2, 3, 4};
	float *x = iota_f(24);
	struct tcase t;
	int64_t axes[2] = {0, 2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	t_ints(t_node(&t, "ReduceMean", 1), "axes", 2, axes);
	CHECK(t_run(&t, 2) == JALAD_OK);
	static const int64_t w[] = {1, 3, 1};
	/* mean over i, k of 12 i + 4 j + k = 6 + 4 j + 1.5 */
	float want[3] = {7.5f, 11.5f, 15.5f};
	CHECK(dims_are(&t.out[0], 3, w));
	CHECK(f32_eq(&t.out[0], want, 3, 1e-6f));
	t_free(&t);

	int64_t ax1[1] = {-2};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	struct jalad_node *n = t_node(&t, "ReduceMean", 1);
	t_ints(n, "axes", 1, ax1);
	t_int(n, "keepdims", 0);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t w2d[] = {2, 4};
	float w2[8] = {4, 5, 6, 7, 16, 17, 18, 19};
	CHECK(dims_are(&t.out[0], 2, w2d));
	CHECK(f32_eq(&t.out[0], w2, 8, 1e-6f));
	t_free(&t);

	/* all axes by default */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	t_node(&t, "ReduceMean", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w3 = 11.5f;
	CHECK(f32_eq(&t.out[0], &w3, 1, 1e-6f));
	t_free(&t);

	/* opset 18: empty axes input with noop_with_empty_axes is the identity */
	t_init(&t, 18);
	t_input(&t, JALAD_DTYPE_FLOAT32, 3, d, x);
	t_int(t_node(&t, "ReduceMean", 1), "noop_with_empty_axes", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(dims_are(&t.out[0], 3, d));
	CHECK(f32_eq(&t.out[0], x, 24, 0));
	t_free(&t);
	free(x);
}

static void test_cast(void)
{
	static const int64_t d[] = {6};
	float x[6] = {1.9f, -1.9f, NAN, 1e20f, -1e20f, 0.0f};
	struct tcase t;
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d, x);
	t_int(t_node(&t, "Cast", 1), "to", JALAD_DTYPE_INT32);
	CHECK(t_run(&t, 1) == JALAD_OK);
	const int32_t *y = t.out[0].data;
	CHECK(t.out[0].dtype == JALAD_DTYPE_INT32);
	CHECK(y[0] == 1 && y[1] == -1 && y[2] == 0 && y[3] == INT32_MAX && y[4] == INT32_MIN && y[5] == 0);
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d, x);
	t_int(t_node(&t, "Cast", 1), "to", JALAD_DTYPE_BOOL);
	CHECK(t_run(&t, 1) == JALAD_OK);
	const uint8_t *bb = t.out[0].data;
	CHECK(bb[0] == 1 && bb[1] == 1 && bb[2] == 1 && bb[5] == 0);
	t_free(&t);

	int64_t xi[3] = {300, -1, 7};
	static const int64_t d3[] = {3};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 1, d3, xi);
	t_int(t_node(&t, "Cast", 1), "to", JALAD_DTYPE_UINT8);
	CHECK(t_run(&t, 1) == JALAD_OK);
	const uint8_t *u = t.out[0].data;
	CHECK(u[0] == 44 && u[1] == 255 && u[2] == 7);
	t_free(&t);

	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_INT64, 1, d3, xi);
	t_int(t_node(&t, "Cast", 1), "to", 11 /* double */);
	CHECK(t_run(&t, 1) == JALAD_ERR_UNSUPPORTED);
	t_free(&t);
}

static void test_clip(void)
{
	static const int64_t d[] = {4};
	float x[4] = {-2, -0.5f, 0.5f, 2};
	float lo = -1.0f, hi = 1.0f;
	struct tcase t;
	/* opset 11: min constant, max fed at run time */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d, x);
	t_const(&t, JALAD_DTYPE_FLOAT32, 0, NULL, &lo);
	t_input(&t, JALAD_DTYPE_FLOAT32, 0, NULL, &hi);
	t_node(&t, "Clip", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w[4] = {-1, -0.5f, 0.5f, 1};
	CHECK(f32_eq(&t.out[0], w, 4, 0));
	t_free(&t);

	/* only max given (min omitted) */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d, x);
	t_omit(&t);
	t_const(&t, JALAD_DTYPE_FLOAT32, 0, NULL, &hi);
	t_node(&t, "Clip", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w2[4] = {-2, -0.5f, 0.5f, 1};
	CHECK(f32_eq(&t.out[0], w2, 4, 0));
	t_free(&t);

	/* opset 6 attributes */
	t_init(&t, 6);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d, x);
	struct jalad_node *n = t_node(&t, "Clip", 1);
	t_float(n, "min", 0.0f);
	t_float(n, "max", 6.0f);
	CHECK(t_run(&t, 1) == JALAD_OK);
	float w3[4] = {0, 0, 0.5f, 2};
	CHECK(f32_eq(&t.out[0], w3, 4, 0));
	t_free(&t);
}

/* ------------------------------------------------------------ constants, shapes */

static void test_constant_shape(void)
{
	struct tcase t;
	int64_t v[3] = {4, 5, 6};
	t_init(&t, 13);
	t_ints(t_node(&t, "Constant", 1), "value_ints", 3, v);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(i64_eq(&t.out[0], v, 3));
	t_free(&t);

	/* value tensor stored as a graph constant */
	static const int64_t d2[] = {2};
	float cv[2] = {1.5f, -2.5f};
	t_init(&t, 13);
	int id = t_tensor(&t, JALAD_DTYPE_FLOAT32, 1, d2);
	t.g.tensors[id].data = malloc(sizeof cv);
	memcpy(t.g.tensors[id].data, cv, sizeof cv);
	t_attr(t_node(&t, "Constant", 1), "value", JALAD_ATTR_TENSOR)->tensor = id;
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(f32_eq(&t.out[0], cv, 2, 0));
	t_free(&t);

	/* Shape with start/end */
	static const int64_t d[] = {2, 3, 4, 5};
	float dummy = 0;
	t_init(&t, 15);
	t_input(&t, JALAD_DTYPE_FLOAT32, 4, d, &dummy);
	struct jalad_node *n = t_node(&t, "Shape", 1);
	t_int(n, "start", 1);
	t_int(n, "end", -1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	int64_t ws[2] = {3, 4};
	CHECK(i64_eq(&t.out[0], ws, 2));
	t_free(&t);

	/* Expand (3,1) to (2,3,4) */
	static const int64_t d31[] = {3, 1}, d3[] = {3};
	float x[3] = {1, 2, 3};
	int64_t shape[3] = {2, 1, 4};
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d31, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d3, shape);
	t_node(&t, "Expand", 1);
	CHECK(t_run(&t, 1) == JALAD_OK);
	static const int64_t we[] = {2, 3, 4};
	CHECK(dims_are(&t.out[0], 3, we));
	const float *y = t.out[0].data;
	CHECK(y[0] == 1 && y[3] == 1 && y[4] == 2 && y[11] == 3 && y[12] == 1 && y[23] == 3);
	t_free(&t);

	/* an output too large to exist is refused at load, not allocated */
	int64_t huge[3] = {1 << 30, 1 << 30, 1 << 30};
	t_init(&t, 13);
	static const int64_t d11[] = {1, 1};
	t_input(&t, JALAD_DTYPE_FLOAT32, 2, d11, x);
	t_const(&t, JALAD_DTYPE_INT64, 1, d3, huge);
	t_node(&t, "Expand", 1);
	CHECK(t_run(&t, 1) == JALAD_ERR_LIMIT);
	t_free(&t);

	/* Dropout with a mask output: identity, mask all true */
	t_init(&t, 13);
	t_input(&t, JALAD_DTYPE_FLOAT32, 1, d3, x);
	t_node(&t, "Dropout", 2);
	CHECK(t_run(&t, 1) == JALAD_OK);
	CHECK(f32_eq(&t.out[0], x, 3, 0));
	CHECK(t.out[1].dtype == JALAD_DTYPE_BOOL && ((uint8_t *)t.out[1].data)[2] == 1);
	t_free(&t);
}

int main(void)
{
	test_broadcast_add();
	test_int_div();
	test_threads();
	test_variadic();
	test_slice();
	test_reshape();
	test_transpose();
	test_pad();
	test_gather();
	test_split_concat();
	test_reduce();
	test_cast();
	test_clip();
	test_constant_shape();
	TEST_MAIN_END("test_ops_tensor");
}
