/*
 * Reference nn operators on hand-built one-node graphs: Conv against a
 * naive loop (groups, depthwise, dilations, strides, asymmetric pads,
 * auto_pad, 1-D/2-D/3-D) with results independent of the thread count,
 * pooling edge cases (ceil_mode, count_include_pad), Gemm/MatMul
 * transposes and broadcasting, Softmax opset semantics, BN, LRN, flops and
 * clear refusals of what is not supported.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "engine/engine_impl.h"
#include "testing.h"

/* ------------------------------------------------------------ harness */

#define T_MAX_IN 8

struct tcase {
	struct jalad_graph g;
	int node_created;
	const float *data[T_MAX_IN]; /* graph-input data by input slot */
};

static void t_init(struct tcase *t, int opset)
{
	memset(t, 0, sizeof *t);
	t->g.opset = opset;
}

static int t_tensor(struct tcase *t, const char *name, int ndim, const int64_t *dims)
{
	int id = -1;
	if (jalad_graph_add_tensor(&t->g, name, &id) != JALAD_OK)
		return -1;
	struct jalad_tensor_ir *ti = &t->g.tensors[id];
	ti->dtype = JALAD_DTYPE_FLOAT32;
	ti->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		ti->dims[i] = dims[i];
	return id;
}

/* A non-constant graph input. */
static int t_input(struct tcase *t, const char *name, int ndim, const int64_t *dims)
{
	int id = t_tensor(t, name, ndim, dims);
	if (id >= 0)
		t->g.tensors[id].is_input = 1;
	return id;
}

/* A constant (copied). */
static int t_const(struct tcase *t, const char *name, int ndim, const int64_t *dims, const float *v)
{
	int id = t_tensor(t, name, ndim, dims);
	if (id < 0)
		return -1;
	size_t bytes = (size_t)jalad_numel(ndim, dims) * sizeof(float);
	t->g.tensors[id].data = malloc(bytes ? bytes : 1);
	if (t->g.tensors[id].data && bytes)
		memcpy(t->g.tensors[id].data, v, bytes);
	return id;
}

/* The one node: inputs by tensor id (-1 omitted), n_out fresh outputs. */
static struct jalad_node *t_node(struct tcase *t, const char *op, int n_in, const int *ins, int n_out)
{
	struct jalad_node *n;
	int outs[4];
	for (int i = 0; i < n_out; i++) {
		char name[32];
		snprintf(name, sizeof name, "out%d", i);
		if (jalad_graph_add_tensor(&t->g, name, &outs[i]) != JALAD_OK)
			return NULL;
	}
	if (jalad_graph_add_node(&t->g, &n) != JALAD_OK)
		return NULL;
	n->name = strdup("n0");
	n->op_type = strdup(op);
	n->n_in = n_in;
	n->n_out = n_out;
	n->in = malloc(sizeof(int) * (size_t)(n_in ? n_in : 1));
	n->out = malloc(sizeof(int) * (size_t)n_out);
	for (int i = 0; i < n_in; i++)
		n->in[i] = ins[i];
	for (int i = 0; i < n_out; i++)
		n->out[i] = outs[i];
	t->node_created = 1;
	return n;
}

static struct jalad_attr *t_attr(struct jalad_node *n, const char *name, enum jalad_attr_type type)
{
	struct jalad_attr *a = realloc(n->attrs, sizeof *a * (size_t)(n->n_attr + 1));
	if (!a)
		return NULL;
	n->attrs = a;
	a = &n->attrs[n->n_attr++];
	memset(a, 0, sizeof *a);
	a->name = strdup(name);
	a->type = type;
	return a;
}

static void t_int(struct jalad_node *n, const char *name, int64_t v)
{
	struct jalad_attr *a = t_attr(n, name, JALAD_ATTR_INT);
	if (a)
		a->i = v;
}

static void t_float(struct jalad_node *n, const char *name, float v)
{
	struct jalad_attr *a = t_attr(n, name, JALAD_ATTR_FLOAT);
	if (a)
		a->f = v;
}

static void t_str(struct jalad_node *n, const char *name, const char *v)
{
	struct jalad_attr *a = t_attr(n, name, JALAD_ATTR_STRING);
	if (a)
		a->s = strdup(v);
}

static void t_ints(struct jalad_node *n, const char *name, int count, const int64_t *v)
{
	struct jalad_attr *a = t_attr(n, name, JALAD_ATTR_INTS);
	if (!a)
		return;
	a->ints = malloc(sizeof(int64_t) * (size_t)count);
	a->n = count;
	memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
}

/* Finalize; then run the node with `threads` threads into *out (malloc'd,
 * numel in *numel). Graph-input data come from t->data by input slot. */
static enum jalad_status t_run(struct tcase *t, int threads, float **out, int64_t *numel)
{
	struct jalad_tensor ins[T_MAX_IN], outs[4];
	struct jalad_pool *pool = NULL;
	void *scratch = NULL;
	enum jalad_status st;

	*out = NULL;
	*numel = 0;
	if (t->g.n_nodes == 1 && !t->g.nodes[0].op) {
		st = jalad_graph_finalize(&t->g);
		if (st != JALAD_OK)
			return st;
	}
	if (t->g.n_nodes != 1)
		return JALAD_ERR_INTERNAL;
	const struct jalad_node *n = &t->g.nodes[0];
	for (int i = 0; i < n->n_in && i < T_MAX_IN; i++) {
		memset(&ins[i], 0, sizeof ins[i]);
		if (n->in[i] < 0)
			continue;
		jalad_graph_view(&t->g, n->in[i], &ins[i]);
		if (!ins[i].data)
			ins[i].data = (void *)t->data[i];
	}
	for (int i = 0; i < n->n_out && i < 4; i++) {
		jalad_graph_view(&t->g, n->out[i], &outs[i]);
		size_t bytes = jalad_ir_bytes(&t->g.tensors[n->out[i]]);
		outs[i].data = malloc(bytes ? bytes : 1);
	}
	if (n->scratch_bytes)
		scratch = aligned_alloc(64, (n->scratch_bytes + 63) & ~(size_t)63);
	if (jalad_pool_create(threads, &pool) != JALAD_OK)
		return JALAD_ERR_NOMEM;
	st = jalad_node_run(&t->g, n, ins, outs, scratch, pool);
	jalad_pool_free(pool);
	free(scratch);
	for (int i = 1; i < n->n_out && i < 4; i++)
		free(outs[i].data);
	*out = outs[0].data;
	*numel = jalad_tensor_numel(&outs[0]);
	return st;
}

static const struct jalad_tensor_ir *t_out(const struct tcase *t)
{
	return &t->g.tensors[t->g.nodes[0].out[0]];
}

static void fill(float *x, int64_t n, uint32_t seed)
{
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = (float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
	}
}

static int close_to(const float *a, const double *b, int64_t n, double tol)
{
	for (int64_t i = 0; i < n; i++)
		if (!(fabs((double)a[i] - b[i]) <= tol * (1.0 + fabs(b[i]))))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ Conv */

struct conv_case {
	const char *name;
	int nsp;
	int64_t n, c, m, group;
	int64_t in[3], k[3], s[3], d[3], pads[6];
	const char *auto_pad;   /* NULL: explicit pads */
	int bias;
};

/* Naive convolution over 3 spatial dims (leading ones are 1), double sums. */
static void conv_ref(const struct conv_case *cc, const int64_t *in, const int64_t *k,
		     const int64_t *s, const int64_t *d, const int64_t *pb, const int64_t *out,
		     const float *x, const float *w, const float *b, double *y)
{
	int64_t cg = cc->c / cc->group, mg = cc->m / cc->group;
	for (int64_t img = 0; img < cc->n; img++)
	for (int64_t m = 0; m < cc->m; m++)
	for (int64_t oz = 0; oz < out[0]; oz++)
	for (int64_t oy = 0; oy < out[1]; oy++)
	for (int64_t ox = 0; ox < out[2]; ox++) {
		double acc = b ? b[m] : 0.0;
		int64_t gi = m / mg;
		for (int64_t c = 0; c < cg; c++)
		for (int64_t kz = 0; kz < k[0]; kz++)
		for (int64_t ky = 0; ky < k[1]; ky++)
		for (int64_t kx = 0; kx < k[2]; kx++) {
			int64_t iz = oz * s[0] - pb[0] + kz * d[0];
			int64_t iy = oy * s[1] - pb[1] + ky * d[1];
			int64_t ix = ox * s[2] - pb[2] + kx * d[2];
			if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] || ix < 0 || ix >= in[2])
				continue;
			double xv = x[(((img * cc->c + gi * cg + c) * in[0] + iz) * in[1] + iy) * in[2] + ix];
			double wv = w[(((m * cg + c) * k[0] + kz) * k[1] + ky) * k[2] + kx];
			acc += xv * wv;
		}
		*y++ = acc;
	}
}

static void test_conv_case(const struct conv_case *cc)
{
	int nsp = cc->nsp, off = 3 - nsp;
	int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
	int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
	for (int i = 0; i < nsp; i++) {
		in[off + i] = cc->in[i];
		k[off + i] = cc->k[i];
		s[off + i] = cc->s[i];
		d[off + i] = cc->d[i];
		pb[off + i] = cc->pads[i];
		pe[off + i] = cc->pads[nsp + i];
		int64_t dk = (k[off + i] - 1) * d[off + i] + 1;
		if (cc->auto_pad) { /* SAME_UPPER / SAME_LOWER */
			int64_t o = (in[off + i] + s[off + i] - 1) / s[off + i];
			int64_t total = (o - 1) * s[off + i] + dk - in[off + i];
			if (total < 0)
				total = 0;
			int lower = strcmp(cc->auto_pad, "SAME_LOWER") == 0;
			pb[off + i] = lower ? total - total / 2 : total / 2;
			pe[off + i] = total - pb[off + i];
		}
		out[off + i] = (in[off + i] + pb[off + i] + pe[off + i] - dk) / s[off + i] + 1;
	}
	int64_t xd[5] = {cc->n, cc->c}, wd[5] = {cc->m, cc->c / cc->group}, bd[1] = {cc->m};
	for (int i = 0; i < nsp; i++) {
		xd[2 + i] = cc->in[i];
		wd[2 + i] = cc->k[i];
	}
	int64_t nx = jalad_numel(2 + nsp, xd), nw = jalad_numel(2 + nsp, wd);
	float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
	float b[64];
	fill(x, nx, 1);
	fill(w, nw, 2);
	fill(b, cc->m, 3);
	int64_t ny = cc->n * cc->m * out[0] * out[1] * out[2];
	double *ref = malloc(sizeof(double) * (size_t)ny);
	conv_ref(cc, in, k, s, d, pb, out, x, w, cc->bias ? b : NULL, ref);

	float *y[2] = {NULL, NULL};
	int threads[2] = {1, 3};
	for (int r = 0; r < 2; r++) {
		struct tcase t;
		t_init(&t, 13);
		int ins[3];
		ins[0] = t_input(&t, "x", 2 + nsp, xd);
		ins[1] = t_const(&t, "w", 2 + nsp, wd, w);
		ins[2] = t_const(&t, "b", 1, bd, b);
		struct jalad_node *n = t_node(&t, "Conv", cc->bias ? 3 : 2, ins, 1);
		t_ints(n, "kernel_shape", nsp, cc->k);
		t_ints(n, "strides", nsp, cc->s);
		t_ints(n, "dilations", nsp, cc->d);
		if (cc->auto_pad)
			t_str(n, "auto_pad", cc->auto_pad);
		else
			t_ints(n, "pads", 2 * nsp, cc->pads);
		t_int(n, "group", cc->group);
		t.data[0] = x;
		int64_t numel;
		enum jalad_status st = t_run(&t, threads[r], &y[r], &numel);
		CHECK_MSG(st == JALAD_OK, "%s: %s", cc->name, jalad_last_error());
		if (st == JALAD_OK) {
			const struct jalad_tensor_ir *o = t_out(&t);
			int shape_ok = o->ndim == 2 + nsp && o->dims[0] == cc->n && o->dims[1] == cc->m;
			for (int i = 0; i < nsp; i++)
				shape_ok = shape_ok && o->dims[2 + i] == out[off + i];
			CHECK_MSG(shape_ok && numel == ny, "%s: output shape", cc->name);
			if (shape_ok && numel == ny)
				CHECK_MSG(close_to(y[r], ref, ny, 1e-5), "%s: values (%d threads)",
					  cc->name, threads[r]);
			int64_t fl = t.g.nodes[0].op->flops(&t.g, &t.g.nodes[0]);
			CHECK_MSG(fl == 2 * ny * (cc->c / cc->group) * k[0] * k[1] * k[2],
				  "%s: flops %lld", cc->name, (long long)fl);
		}
		jalad_graph_free(&t.g);
	}
	if (y[0] && y[1])
		CHECK_MSG(memcmp(y[0], y[1], sizeof(float) * (size_t)ny) == 0,
			  "%s: 1 and 3 threads differ", cc->name);
	free(y[0]);
	free(y[1]);
	free(ref);
	free(x);
	free(w);
}

static void test_conv(void)
{
	static const struct conv_case cases[] = {
		{"conv2d 3x3 pad 1", 2, 2, 4, 6, 1, {9, 11}, {3, 3}, {1, 1}, {1, 1},
		 {1, 1, 1, 1}, NULL, 1},
		{"conv2d strided dilated asymmetric", 2, 1, 3, 5, 1, {10, 13}, {3, 2}, {2, 3},
		 {2, 1}, {1, 0, 2, 1}, NULL, 0},
		{"conv2d groups 2", 2, 1, 4, 6, 2, {7, 9}, {3, 3}, {1, 1}, {1, 1},
		 {0, 0, 0, 0}, NULL, 1},
		{"depthwise x2 stride 2", 2, 2, 5, 10, 5, {9, 8}, {3, 3}, {2, 2}, {1, 1},
		 {1, 1, 1, 1}, NULL, 1},
		{"depthwise dilated asymmetric", 2, 1, 3, 3, 3, {6, 10}, {2, 3}, {1, 2}, {2, 2},
		 {0, 2, 1, 0}, NULL, 0},
		{"depthwise wide rows dilated", 2, 2, 4, 4, 4, {5, 23}, {3, 3}, {1, 1}, {1, 2},
		 {1, 2, 0, 1}, NULL, 1},
		{"depthwise 1d", 1, 1, 3, 3, 3, {40}, {4}, {1}, {1}, {2, 1}, NULL, 0},
		{"conv1d", 1, 2, 3, 4, 1, {17}, {5}, {2}, {2}, {2, 1}, NULL, 1},
		{"conv3d", 3, 1, 2, 3, 1, {5, 6, 7}, {3, 3, 2}, {1, 2, 1}, {1, 1, 1},
		 {1, 0, 1, 1, 1, 0}, NULL, 1},
		{"same_lower even kernel", 2, 1, 2, 3, 1, {7, 8}, {4, 4}, {2, 2}, {1, 1},
		 {0, 0, 0, 0}, "SAME_LOWER", 1},
		{"same_upper even kernel", 2, 1, 2, 3, 1, {7, 8}, {4, 4}, {2, 2}, {1, 1},
		 {0, 0, 0, 0}, "SAME_UPPER", 0},
		{"conv2d 16->35 28x28", 2, 1, 16, 35, 1, {28, 28}, {3, 3}, {1, 1}, {1, 1},
		 {1, 1, 1, 1}, NULL, 1},
		{"conv2d 1x1 many rows", 2, 1, 70, 9, 1, {5, 5}, {1, 1}, {1, 1}, {1, 1},
		 {0, 0, 0, 0}, NULL, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		test_conv_case(&cases[i]);
}

static void test_conv_errors(void)
{
	struct tcase t;
	int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {2, 2, 3, 3};
	float w[54] = {0};
	float *y;
	int64_t numel;

	t_init(&t, 13);
	int ins[2] = {t_input(&t, "x", 4, xd), t_const(&t, "w", 4, wd, w)};
	t_node(&t, "Conv", 2, ins, 1);
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_SHAPE);
	CHECK(strstr(jalad_last_error(), "group") != NULL);
	jalad_graph_free(&t.g);

	wd[1] = 3;
	t_init(&t, 13);
	ins[0] = t_input(&t, "x", 4, xd);
	ins[1] = t_const(&t, "w", 4, wd, w);
	struct jalad_node *n = t_node(&t, "Conv", 2, ins, 1);
	t_str(n, "auto_pad", "SAME_SOMEWHERE");
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_UNSUPPORTED);
	CHECK(strstr(jalad_last_error(), "auto_pad") != NULL);
	jalad_graph_free(&t.g);

	/* Pads that would make an absurd output are refused, not allocated. */
	int64_t x3[5] = {1, 1, 2, 2, 2}, w3[5] = {1, 1, 1, 1, 1};
	int64_t big[6] = {1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30};
	t_init(&t, 13);
	ins[0] = t_input(&t, "x", 5, x3);
	ins[1] = t_const(&t, "w", 5, w3, w);
	n = t_node(&t, "Conv", 2, ins, 1);
	t_ints(n, "pads", 6, big);
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_LIMIT);
	jalad_graph_free(&t.g);
}

/* ------------------------------------------------------------ pooling */

static void test_pool(void)
{
	struct tcase t;
	float x[16], *y;
	int64_t numel;
	for (int i = 0; i < 16; i++)
		x[i] = (float)(i + 1);

	/* MaxPool ceil_mode: 4x4, k3 s2 -> 2x2 (last windows clipped). */
	int64_t xd[4] = {1, 1, 4, 4}, k3[2] = {3, 3}, s2[2] = {2, 2};
	t_init(&t, 12);
	int in = t_input(&t, "x", 4, xd);
	struct jalad_node *n = t_node(&t, "MaxPool", 1, &in, 1);
	t_ints(n, "kernel_shape", 2, k3);
	t_ints(n, "strides", 2, s2);
	t_int(n, "ceil_mode", 1);
	t.data[0] = x;
	CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
	CHECK(numel == 4 && y[0] == 11 && y[1] == 12 && y[2] == 15 && y[3] == 16);
	free(y);
	jalad_graph_free(&t.g);

	/* ceil_mode never starts a window in the end padding: 1x4, k2 s2,
	 * pads (0, 1): floor gives 2, ceil would give 3 but the third window
	 * would start at 4 = input + start padding. */
	int64_t xd1[3] = {1, 1, 4}, k2[1] = {2}, s21[1] = {2}, p01[2] = {0, 1};
	t_init(&t, 12);
	in = t_input(&t, "x", 3, xd1);
	n = t_node(&t, "MaxPool", 1, &in, 1);
	t_ints(n, "kernel_shape", 1, k2);
	t_ints(n, "strides", 1, s21);
	t_ints(n, "pads", 2, p01);
	t_int(n, "ceil_mode", 1);
	t.data[0] = x;
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_OK);
	CHECK(numel == 2 && y[0] == 2 && y[1] == 4);
	free(y);
	jalad_graph_free(&t.g);

	/* AveragePool 3x3 s1 pads 1: corner divisor 9 with count_include_pad,
	 * else 4. */
	int64_t xd3[4] = {1, 1, 3, 3}, p1[4] = {1, 1, 1, 1};
	for (int cip = 0; cip < 2; cip++) {
		t_init(&t, 12);
		in = t_input(&t, "x", 4, xd3);
		n = t_node(&t, "AveragePool", 1, &in, 1);
		t_ints(n, "kernel_shape", 2, k3);
		t_ints(n, "pads", 4, p1);
		t_int(n, "count_include_pad", cip);
		t.data[0] = x;
		CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
		CHECK(numel == 9);
		if (numel == 9) {
			CHECK(fabsf(y[0] - (cip ? 12.0f / 9.0f : 3.0f)) < 1e-6f);
			CHECK(fabsf(y[4] - 5.0f) < 1e-6f);          /* full window */
			CHECK(fabsf(y[1] - (cip ? 21.0f / 9.0f : 3.5f)) < 1e-6f);
		}
		free(y);
		jalad_graph_free(&t.g);
	}

	/* Global pools over 2x2x4 (two channels of 8). */
	int64_t xg[4] = {1, 2, 2, 4};
	const char *ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
	for (int o = 0; o < 2; o++) {
		t_init(&t, 12);
		in = t_input(&t, "x", 4, xg);
		t_node(&t, ops[o], 1, &in, 1);
		t.data[0] = x;
		CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
		const struct jalad_tensor_ir *od = t_out(&t);
		CHECK(od->ndim == 4 && od->dims[1] == 2 && od->dims[2] == 1 && od->dims[3] == 1);
		CHECK(numel == 2 && y[0] == (o ? 8.0f : 4.5f) && y[1] == (o ? 16.0f : 12.5f));
		free(y);
		jalad_graph_free(&t.g);
	}

	/* Refused: storage_order=1, and a used Indices output. */
	t_init(&t, 12);
	in = t_input(&t, "x", 4, xd);
	n = t_node(&t, "MaxPool", 1, &in, 1);
	t_ints(n, "kernel_shape", 2, k3);
	t_int(n, "storage_order", 1);
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_UNSUPPORTED);
	CHECK(strstr(jalad_last_error(), "storage_order") != NULL);
	jalad_graph_free(&t.g);

	t_init(&t, 12);
	in = t_input(&t, "x", 4, xd);
	n = t_node(&t, "MaxPool", 1, &in, 2);
	t_ints(n, "kernel_shape", 2, k3);
	int idx_out = n->out[1];
	t.g.outputs = malloc(sizeof(int));
	t.g.outputs[0] = idx_out;
	t.g.n_outputs = 1;
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_UNSUPPORTED);
	CHECK(strstr(jalad_last_error(), "Indices") != NULL);
	jalad_graph_free(&t.g);
}

/* ------------------------------------------------------------ Gemm, MatMul */

static void test_gemm(void)
{
	/* A stored (K=5, M=3) with transA, B stored (N=4, K=5) with transB,
	 * C (1, 4), alpha 0.5, beta 2. */
	float a[15], b[20], c[4];
	double ref[12];
	fill(a, 15, 4);
	fill(b, 20, 5);
	fill(c, 4, 6);
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++) {
			double s = 0;
			for (int l = 0; l < 5; l++)
				s += (double)a[l * 3 + i] * b[j * 5 + l];
			ref[i * 4 + j] = 0.5 * s + 2.0 * c[j];
		}
	struct tcase t;
	int64_t ad[2] = {5, 3}, bd[2] = {4, 5}, cd[2] = {1, 4};
	t_init(&t, 13);
	int ins[3] = {t_input(&t, "a", 2, ad), t_const(&t, "b", 2, bd, b), t_const(&t, "c", 2, cd, c)};
	struct jalad_node *n = t_node(&t, "Gemm", 3, ins, 1);
	t_int(n, "transA", 1);
	t_int(n, "transB", 1);
	t_float(n, "alpha", 0.5f);
	t_float(n, "beta", 2.0f);
	t.data[0] = a;
	float *y;
	int64_t numel;
	CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
	CHECK(numel == 12 && close_to(y, ref, 12, 1e-5));
	CHECK(t.g.nodes[0].op->flops(&t.g, &t.g.nodes[0]) == 2 * 3 * 4 * 5);
	free(y);
	jalad_graph_free(&t.g);
}

static void matmul_ref(const float *a, const float *b, int64_t m, int64_t k, int64_t n, double *y)
{
	for (int64_t i = 0; i < m; i++)
		for (int64_t j = 0; j < n; j++) {
			double s = 0;
			for (int64_t l = 0; l < k; l++)
				s += (double)a[i * k + l] * b[l * n + j];
			y[i * n + j] = s;
		}
}

static void test_matmul_one(const char *name, int na, const int64_t *ad, int nb, const int64_t *bd,
			    int nout, const int64_t *od)
{
	int64_t an = jalad_numel(na, ad), bn = jalad_numel(nb, bd), yn = jalad_numel(nout, od);
	float *a = malloc(sizeof(float) * (size_t)an), *b = malloc(sizeof(float) * (size_t)bn);
	double *ref = malloc(sizeof(double) * (size_t)yn);
	fill(a, an, 7);
	fill(b, bn, 8);
	/* Reference: broadcast batch dims by index arithmetic. */
	int64_t m = na == 1 ? 1 : ad[na - 2], k = ad[na - 1], n = nb == 1 ? 1 : bd[nb - 1];
	int64_t ya = na > 2 ? na - 2 : 0, yb = nb > 2 ? nb - 2 : 0, yr = ya > yb ? ya : yb;
	int64_t batch = yn / (m * n);
	for (int64_t bi = 0; bi < batch; bi++) {
		int64_t rem = bi, oa = 0, ob = 0, sa = 1, sb = 1;
		for (int64_t i = yr - 1; i >= 0; i--) {
			int64_t dim = od[i], idx = rem % dim;
			rem /= dim;
			int64_t ia = i - (yr - ya), ib = i - (yr - yb);
			if (ia >= 0) {
				oa += (ad[ia] == 1 ? 0 : idx) * sa;
				sa *= ad[ia];
			}
			if (ib >= 0) {
				ob += (bd[ib] == 1 ? 0 : idx) * sb;
				sb *= bd[ib];
			}
		}
		matmul_ref(a + oa * m * k, b + ob * k * n, m, k, n, ref + bi * m * n);
	}
	float *y[2] = {NULL, NULL};
	int threads[2] = {1, 2};
	for (int r = 0; r < 2; r++) {
		struct tcase t;
		t_init(&t, 13);
		int ins[2] = {t_input(&t, "a", na, ad), t_const(&t, "b", nb, bd, b)};
		t_node(&t, "MatMul", 2, ins, 1);
		t.data[0] = a;
		int64_t numel;
		enum jalad_status st = t_run(&t, threads[r], &y[r], &numel);
		CHECK_MSG(st == JALAD_OK, "%s: %s", name, jalad_last_error());
		if (st != JALAD_OK) {
			jalad_graph_free(&t.g);
			continue;
		}
		const struct jalad_tensor_ir *o = t_out(&t);
		int ok = o->ndim == nout && numel == yn;
		for (int i = 0; ok && i < nout; i++)
			ok = o->dims[i] == od[i];
		CHECK_MSG(ok, "%s: output shape", name);
		if (ok)
			CHECK_MSG(close_to(y[r], ref, yn, 1e-5), "%s: values", name);
		CHECK(t.g.nodes[0].op->flops(&t.g, &t.g.nodes[0]) == 2 * batch * m * n * k);
		jalad_graph_free(&t.g);
	}
	if (y[0] && y[1])
		CHECK_MSG(memcmp(y[0], y[1], sizeof(float) * (size_t)yn) == 0, "%s: threads differ", name);
	free(y[0]);
	free(y[1]);
	free(a);
	free(b);
	free(ref);
}

static void test_matmul(void)
{
	int64_t a1[4] = {2, 1, 3, 4}, b1[3] = {5, 4, 2}, o1[4] = {2, 5, 3, 2};
	test_matmul_one("batch broadcast", 4, a1, 3, b1, 4, o1);
	int64_t a2[1] = {4}, b2[3] = {2, 4, 3}, o2[2] = {2, 3};
	test_matmul_one("1-D A", 1, a2, 3, b2, 2, o2);
	int64_t a3[3] = {2, 3, 4}, b3[1] = {4}, o3[2] = {2, 3};
	test_matmul_one("1-D B", 3, a3, 1, b3, 2, o3);
	int64_t a4[1] = {6}, b4[1] = {6}, o4[1] = {0};
	test_matmul_one("dot", 1, a4, 1, b4, 0, o4);
	int64_t a5[3] = {2, 33, 70}, b5[2] = {70, 41}, o5[3] = {2, 33, 41};
	test_matmul_one("blocked", 3, a5, 2, b5, 3, o5);

	struct tcase t;
	int64_t ad[2] = {2, 3}, bd[2] = {4, 5};
	float b[20] = {0}, *y;
	int64_t numel;
	t_init(&t, 13);
	int ins[2] = {t_input(&t, "a", 2, ad), t_const(&t, "b", 2, bd, b)};
	t_node(&t, "MatMul", 2, ins, 1);
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_SHAPE);
	jalad_graph_free(&t.g);
}

/* ------------------------------------------------------------ others */

static void test_softmax(void)
{
	float x[24], *y;
	int64_t xd[3] = {2, 3, 4}, numel;
	fill(x, 24, 9);
	for (int opset = 11; opset <= 13; opset += 2) {
		for (int lg = 0; lg < 2; lg++) {
			struct tcase t;
			t_init(&t, opset);
			int in = t_input(&t, "x", 3, xd);
			struct jalad_node *n = t_node(&t, lg ? "LogSoftmax" : "Softmax", 1, &in, 1);
			t_int(n, "axis", 1);
			t.data[0] = x;
			CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
			int ok = numel == 24;
			if (opset < 13) { /* coerced: rows of 12 */
				for (int r = 0; ok && r < 2; r++) {
					double s = 0;
					for (int i = 0; i < 12; i++)
						s += lg ? exp(y[r * 12 + i]) : y[r * 12 + i];
					ok = fabs(s - 1.0) < 1e-5;
				}
			} else { /* along dim 1 only */
				for (int r = 0; ok && r < 2; r++)
					for (int i = 0; ok && i < 4; i++) {
						double s = 0;
						for (int c = 0; c < 3; c++) {
							float v = y[r * 12 + c * 4 + i];
							s += lg ? exp(v) : v;
						}
						ok = fabs(s - 1.0) < 1e-5;
					}
			}
			CHECK_MSG(ok, "%s opset %d", lg ? "LogSoftmax" : "Softmax", opset);
			free(y);
			jalad_graph_free(&t.g);
		}
	}
}

static void test_batchnorm_lrn(void)
{
	struct tcase t;
	float x[4] = {1, 2, 3, 4}, *y;
	float scale[2] = {2, 3}, bias[2] = {1, -1}, mean[2] = {0.5f, 1}, var[2] = {4, 1};
	int64_t xd[3] = {1, 2, 2}, cd[1] = {2}, numel;

	t_init(&t, 9);
	int ins[5] = {t_input(&t, "x", 3, xd), t_const(&t, "s", 1, cd, scale),
		      t_const(&t, "b", 1, cd, bias), t_const(&t, "m", 1, cd, mean),
		      t_const(&t, "v", 1, cd, var)};
	struct jalad_node *n = t_node(&t, "BatchNormalization", 5, ins, 1);
	t_float(n, "epsilon", 0.0f);
	t.data[0] = x;
	CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
	CHECK(numel == 4 && y[0] == 1.5f && y[1] == 2.5f && y[2] == 5.0f && y[3] == 8.0f);
	free(y);
	jalad_graph_free(&t.g);

	t_init(&t, 15);
	for (int i = 0; i < 5; i++)
		ins[i] = i ? t_const(&t, "p", 1, cd, var) : t_input(&t, "x", 3, xd);
	n = t_node(&t, "BatchNormalization", 5, ins, 1);
	t_int(n, "training_mode", 1);
	CHECK(t_run(&t, 1, &y, &numel) == JALAD_ERR_UNSUPPORTED);
	CHECK(strstr(jalad_last_error(), "training_mode") != NULL);
	jalad_graph_free(&t.g);

	/* LRN size 3 over 3 channels of ones, alpha/size = 1, beta 1, bias 1:
	 * edge channels see 2 squares, the middle one 3. */
	float ones[6] = {1, 1, 1, 1, 1, 1};
	int64_t ld[4] = {1, 3, 1, 2};
	t_init(&t, 13);
	int in = t_input(&t, "x", 4, ld);
	n = t_node(&t, "LRN", 1, &in, 1);
	t_int(n, "size", 3);
	t_float(n, "alpha", 3.0f);
	t_float(n, "beta", 1.0f);
	t.data[0] = ones;
	CHECK(t_run(&t, 2, &y, &numel) == JALAD_OK);
	CHECK(numel == 6 && fabsf(y[0] - 1.0f / 3) < 1e-6f && fabsf(y[2] - 0.25f) < 1e-6f &&
	      fabsf(y[5] - 1.0f / 3) < 1e-6f);
	free(y);
	jalad_graph_free(&t.g);
}

int main(void)
{
	test_conv();
	test_conv_errors();
	test_pool();
	test_gemm();
	test_matmul();
	test_softmax();
	test_batchnorm_lrn();
	TEST_MAIN_END("test_ops_nn");
}
