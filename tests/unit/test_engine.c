/*
 * Engine tests: the split (every cut of the Fashion-MNIST models run as
 * [0,k) then [k,n) equals the full run bit for bit), crossing sets, and
 * clear errors for bad models and inputs.
 */
#include <stdlib.h>
#include <string.h>

#include "jalad/jalad.h"
#include "onnx.pb-c.h"
#include "testing.h"

static void fill(float *x, int64_t n, uint32_t seed)
{
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
	}
}

static void check_split(const char *path)
{
	struct jalad_model *m;
	struct jalad_session *full, *edge, *cloud;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	CHECK_MSG(st == JALAD_OK, "%s: %s", path, jalad_last_error());
	if (st != JALAD_OK)
		return;
	struct jalad_session_opts so = { .threads = 2 };
	CHECK(jalad_session_create(m, &so, &full) == JALAD_OK);
	CHECK(jalad_session_create(m, &so, &edge) == JALAD_OK);
	CHECK(jalad_session_create(m, &so, &cloud) == JALAD_OK);
	struct jalad_tensor_desc d;
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	int64_t n_in = 1;
	for (int i = 0; i < d.ndim; i++)
		n_in *= d.dims[i];
	float *x = malloc((size_t)n_in * sizeof *x);
	fill(x, n_in, 42);
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, d.ndim, { 0 }, x };
	memcpy(in.dims, d.dims, sizeof in.dims);
	CHECK(jalad_session_run(full, &in, 1) == JALAD_OK);
	struct jalad_tensor ref;
	jalad_session_output(full, 0, &ref);
	int64_t n_out = jalad_tensor_numel(&ref);
	int n = jalad_model_node_count(m);
	int exact = 0, max_cross = 0;
	int in_id = jalad_model_input(m, 0);
	for (int k = 0; k <= n; k++) {
		int ids[64], cnt;
		struct jalad_tensor vals[64];
		CHECK(jalad_session_run_range(edge, 0, k, &in_id, &in, 1) == JALAD_OK);
		CHECK(jalad_model_crossing(m, k, ids, 64, &cnt) == JALAD_OK);
		if (cnt > max_cross)
			max_cross = cnt;
		for (int i = 0; i < cnt; i++)
			CHECK(jalad_session_tensor(edge, ids[i], &vals[i]) == JALAD_OK);
		st = jalad_session_run_range(cloud, k, n, ids, vals, cnt);
		CHECK_MSG(st == JALAD_OK, "cut %d: %s", k, jalad_last_error());
		struct jalad_tensor out;
		jalad_session_output(cloud, 0, &out);
		exact += memcmp(out.data, ref.data, (size_t)n_out * sizeof(float)) == 0;
	}
	CHECK_MSG(exact == n + 1, "%s: %d of %d cuts equal the full run", path, exact, n + 1);
	CHECK(max_cross >= 1);
	/* The range API refuses a cut whose crossing tensors are missing. */
	if (n > 2)
		CHECK(jalad_session_run_range(cloud, 2, n, NULL, NULL, 0) == JALAD_ERR_NOT_FOUND);
	/* Wrong input shape. */
	struct jalad_tensor bad = in;
	bad.dims[2] += 1;
	CHECK(jalad_session_run(full, &bad, 1) == JALAD_ERR_SHAPE);
	CHECK(strstr(jalad_last_error(), "shape") != NULL);
	bad = in;
	bad.dtype = JALAD_DTYPE_INT64;
	CHECK(jalad_session_run(full, &bad, 1) == JALAD_ERR_SHAPE);
	CHECK(jalad_session_run(full, &in, 0) == JALAD_ERR_INVALID_ARG);
	free(x);
	jalad_session_free(full);
	jalad_session_free(edge);
	jalad_session_free(cloud);
	jalad_model_free(m);
}

/* A small model built with protobuf-c: input -> Relu -> OP -> output. */
static uint8_t *make_model(const char *op, size_t *len)
{
	Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
	Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
	Onnx__NodeProto n1 = ONNX__NODE_PROTO__INIT, n2 = ONNX__NODE_PROTO__INIT;
	Onnx__NodeProto *nodes[] = { &n1, &n2 };
	Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
	Onnx__OperatorSetIdProto *oss[] = { &os };
	Onnx__ValueInfoProto vin = ONNX__VALUE_INFO_PROTO__INIT, vout = ONNX__VALUE_INFO_PROTO__INIT;
	Onnx__ValueInfoProto *vins[] = { &vin }, *vouts[] = { &vout };
	Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT;
	Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT;
	Onnx__TensorShapeProto sp = ONNX__TENSOR_SHAPE_PROTO__INIT;
	Onnx__TensorShapeProto__Dimension d0 = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__INIT;
	Onnx__TensorShapeProto__Dimension *dims[] = { &d0 };
	char *in1[] = { "x" }, *out1[] = { "y" }, *in2[] = { "y" }, *out2[] = { "z" };
	d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
	d0.dim_value = 4;
	sp.n_dim = 1;
	sp.dim = dims;
	tt.has_elem_type = 1;
	tt.elem_type = 1;
	tt.shape = &sp;
	tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp.tensor_type = &tt;
	vin.name = "x";
	vin.type = &tp;
	vout.name = "z";
	n1.op_type = "Relu";
	n1.name = "relu0";
	n1.n_input = 1;
	n1.input = in1;
	n1.n_output = 1;
	n1.output = out1;
	n2.op_type = (char *)op;
	n2.name = "second";
	n2.n_input = 1;
	n2.input = in2;
	n2.n_output = 1;
	n2.output = out2;
	gp.n_node = 2;
	gp.node = nodes;
	gp.n_input = 1;
	gp.input = vins;
	gp.n_output = 1;
	gp.output = vouts;
	gp.name = "g";
	os.has_version = 1;
	os.version = 13;
	os.domain = "";
	mp.has_ir_version = 1;
	mp.ir_version = 7;
	mp.n_opset_import = 1;
	mp.opset_import = oss;
	mp.graph = &gp;
	*len = onnx__model_proto__get_packed_size(&mp);
	uint8_t *buf = malloc(*len);
	onnx__model_proto__pack(&mp, buf);
	return buf;
}

static void check_bad_models(const char *good_path)
{
	struct jalad_model *m = (struct jalad_model *)1;
	size_t len;
	uint8_t *buf;

	CHECK(jalad_model_load("/nonexistent/model.onnx", NULL, &m) == JALAD_ERR_IO);
	CHECK(m == NULL);
	CHECK(jalad_model_load_buffer("", 0, NULL, &m) == JALAD_ERR_FORMAT);

	buf = make_model("Relu", &len);
	CHECK(jalad_model_load_buffer(buf, len, NULL, &m) == JALAD_OK);
	if (m) {
		CHECK(jalad_model_node_count(m) == 2);
		/* x -> Relu -> y -> Relu -> z: x and y feed only a ReLU, z is an output. */
		int x = jalad_model_input(m, 0), z = jalad_model_output(m, 0), y = -1;
		for (int t = 0; t < jalad_model_tensor_count(m); t++) {
			struct jalad_tensor_desc d;
			if (jalad_model_tensor_desc(m, t, &d) == JALAD_OK && strcmp(d.name, "y") == 0)
				y = t;
		}
		CHECK(y >= 0 && jalad_model_tensor_relu_only(m, y) == 1);
		CHECK(jalad_model_tensor_relu_only(m, x) == 1);
		CHECK(jalad_model_tensor_relu_only(m, z) == 0);
		CHECK(jalad_model_tensor_relu_only(m, -1) == 0 && jalad_model_tensor_relu_only(m, 1 << 20) == 0);
		jalad_model_free(m);
	}
	free(buf);
	/* A Sigmoid reader, or a Clip without a lower bound: all of x matters. */
	const char *others[] = { "Sigmoid", "Clip" };
	for (size_t o = 0; o < sizeof others / sizeof others[0]; o++) {
		buf = make_model(others[o], &len);
		CHECK(jalad_model_load_buffer(buf, len, NULL, &m) == JALAD_OK);
		int seen = 0;
		for (int t = 0; m && t < jalad_model_tensor_count(m); t++) {
			struct jalad_tensor_desc d;
			if (jalad_model_tensor_desc(m, t, &d) == JALAD_OK && strcmp(d.name, "y") == 0) {
				CHECK_MSG(jalad_model_tensor_relu_only(m, t) == 0, "%s reader", others[o]);
				seen++;
			}
		}
		CHECK(seen == 1);
		jalad_model_free(m);
		m = NULL;
		free(buf);
	}

	buf = make_model("FooBarOp", &len);
	CHECK(jalad_model_load_buffer(buf, len, NULL, &m) == JALAD_ERR_UNSUPPORTED);
	CHECK_MSG(strstr(jalad_last_error(), "FooBarOp") && strstr(jalad_last_error(), "second"), "%s",
		  jalad_last_error());
	/* Truncations of a valid model never load and never crash. */
	for (size_t cut = 0; cut < len; cut++) {
		enum jalad_status st = jalad_model_load_buffer(buf, cut, NULL, &m);
		CHECK(st != JALAD_OK || m != NULL);
		jalad_model_free(m);
		m = NULL;
	}
	free(buf);

	/* Garbage bytes. */
	uint8_t junk[4096];
	uint32_t s = 7;
	for (size_t i = 0; i < sizeof junk; i++) {
		s = s * 1103515245u + 12345u;
		junk[i] = (uint8_t)(s >> 16);
	}
	CHECK(jalad_model_load_buffer(junk, sizeof junk, NULL, &m) == JALAD_ERR_FORMAT);
	CHECK(strstr(jalad_last_error(), "ONNX") != NULL);

	/* A real model cut short. */
	FILE *f = fopen(good_path, "rb");
	CHECK(f != NULL);
	if (f) {
		fseek(f, 0, SEEK_END);
		long fl = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc((size_t)fl);
		CHECK(fread(buf, 1, (size_t)fl, f) == (size_t)fl);
		fclose(f);
		size_t cuts[] = { 10, (size_t)fl / 3, (size_t)fl / 2, (size_t)fl - 1 };
		for (size_t i = 0; i < 4; i++) {
			enum jalad_status st = jalad_model_load_buffer(buf, cuts[i], NULL, &m);
			CHECK_MSG(st != JALAD_OK, "truncated at %zu loaded", cuts[i]);
			jalad_model_free(m);
			m = NULL;
		}
		free(buf);
	}
}

/* Which tensors only a ReLU reads: in both models every Conv or Gemm output
 * that feeds a Relu and nothing else, and (ResNet) every Add output; never
 * a ReLU output, a residual branch feeding an Add, or the graph output. */
static void check_relu_only(const char *path, int want_conv, int want_add)
{
	struct jalad_model *m;
	if (jalad_model_load(path, NULL, &m) != JALAD_OK) {
		CHECK_MSG(0, "%s: %s", path, jalad_last_error());
		return;
	}
	int conv = 0, add = 0, other = 0;
	for (int i = 0; i < jalad_model_node_count(m); i++) {
		struct jalad_node_info ni;
		CHECK(jalad_model_node_info(m, i, &ni) == JALAD_OK);
		if (!jalad_model_tensor_relu_only(m, ni.output))
			continue;
		if (!strcmp(ni.op_type, "Conv") || !strcmp(ni.op_type, "Gemm"))
			conv++;
		else if (!strcmp(ni.op_type, "Add"))
			add++;
		else
			other++;
	}
	CHECK_MSG(conv == want_conv && add == want_add && other == 0, "%s: relu-only conv/gemm %d add %d other %d",
		  path, conv, add, other);
	CHECK(jalad_model_tensor_relu_only(m, jalad_model_input(m, 0)) == 0);
	CHECK(jalad_model_tensor_relu_only(m, jalad_model_output(m, 0)) == 0);
	jalad_model_free(m);
}

int main(void)
{
	check_relu_only("models/fmnist-vgg.onnx", 7, 0);
	check_relu_only("models/fmnist-resnet.onnx", 7, 6);
	check_split("models/fmnist-vgg.onnx");
	check_split("models/fmnist-resnet.onnx");
	check_bad_models("models/fmnist-vgg.onnx");
	TEST_MAIN_END("test_engine");
}
