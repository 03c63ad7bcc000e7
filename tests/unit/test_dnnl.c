/*
 * oneDNN backend tests:
 *   - its outputs match the reference kernels' (max|a-b| / max|b| <= 1e-4)
 *     on both Fashion-MNIST models and on a small model that mixes native
 *     nodes, fused groups (Conv+Add+Relu, Conv+Clip, Gemm) and shape ops;
 *   - every cut k run as [0,k) then [k,n) on two dnnl sessions equals the
 *     full dnnl run bit for bit (same thread count), including cuts inside
 *     fused groups and around fallback nodes;
 *   - a ref edge and a dnnl cloud agree across every cut (plain layout at
 *     the boundary);
 *   - repeated runs give the same bits and an empty range is a no-op;
 *   - the same on a model of MobileNetV3 / EfficientNet patterns (SiLU,
 *     HardSwish as HardSigmoid * x, a squeeze-and-excitation gate), and
 *     the per-node profile covers every node once, fused groups included;
 *   - the same on ShuffleNetV2's channel shuffle (Concat, Reshape,
 *     Transpose, Slice) and other shape ops and Slices around blocked
 *     layouts: all native but a Slice with a negative step, which falls
 *     back, and the shape ops and contiguous Slices copy nothing;
 *   - the SiLU kernel: within 2e-6 of double precision, special values,
 *     the same bits at any thread count and any position in a buffer;
 *   - Winograd weights made by dnnl_wino.c equal oneDNN's reorder bit for
 *     bit, in each of its three float formats (on AVX-512 CPUs, where
 *     oneDNN has Winograd kernels);
 *   - classifier Gemms of 4-16 MiB run as 1x1 convolutions (jit_1x1 on
 *     AVX-512), with an output in place or copied out, both transB.
 * Skipped (one passing check) when the dnnl backend is not compiled in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jalad/jalad.h"
#include "onnx.pb-c.h"
#include "testing.h"
#ifdef JALAD_HAVE_DNNL
#include "engine/backends/dnnl/dnnl_impl.h"
#endif

#define THREADS 2

static void fill(float *x, int64_t n, uint32_t seed, float scale)
{
	for (int64_t i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = ((float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f) * scale;
	}
}

static double rel_err(const struct jalad_tensor *a, const struct jalad_tensor *b)
{
	int64_t n = jalad_tensor_numel(b);
	const float *x = a->data, *y = b->data;
	double num = 0.0, den = 0.0;
	if (jalad_tensor_numel(a) != n)
		return INFINITY;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)x[i] - (double)y[i]);
		if (d > num || isnan(d))
			num = isnan(d) ? INFINITY : d;
		if (fabs((double)y[i]) > den)
			den = fabs((double)y[i]);
	}
	return den > 0.0 ? num / den : num;
}

/* ------------------------------------------------------------ a small model */

/* A graph under construction with protobuf-c; everything it points to is
 * owned by the builder and freed at once. */
#define MB_MAX 32
struct mb {
	Onnx__NodeProto nodes[MB_MAX];
	Onnx__NodeProto *node_ptrs[MB_MAX];
	Onnx__AttributeProto attrs[MB_MAX * 4];
	Onnx__AttributeProto *attr_ptrs[MB_MAX * 4];
	Onnx__TensorProto inits[MB_MAX];
	Onnx__TensorProto *init_ptrs[MB_MAX];
	int64_t dims[MB_MAX][4];
	int64_t ints[MB_MAX * 4][JALAD_MAX_DIMS];
	float *data[MB_MAX];
	int n_nodes, n_attrs, n_inits;
	uint32_t seed;
};

static Onnx__NodeProto *mb_node(struct mb *b, const char *op, int n_in, char **in, char *out)
{
	Onnx__NodeProto *n = &b->nodes[b->n_nodes];
	onnx__node_proto__init(n);
	n->op_type = (char *)op;
	n->name = out;
	n->n_input = (size_t)n_in;
	n->input = in;
	n->n_output = 1;
	n->output = &n->name;
	b->node_ptrs[b->n_nodes++] = n;
	return n;
}

static Onnx__AttributeProto *mb_attr(struct mb *b, Onnx__NodeProto *n, const char *name)
{
	Onnx__AttributeProto *a = &b->attrs[b->n_attrs];
	onnx__attribute_proto__init(a);
	a->name = (char *)name;
	if (!n->attribute)
		n->attribute = &b->attr_ptrs[b->n_attrs];
	b->attr_ptrs[b->n_attrs++] = a;
	n->n_attribute++;
	return a;
}

static void mb_ints(struct mb *b, Onnx__NodeProto *n, const char *name, int cnt, int64_t v0, int64_t v1,
		    int64_t v2, int64_t v3)
{
	int k = b->n_attrs;
	Onnx__AttributeProto *a = mb_attr(b, n, name);
	int64_t v[4] = {v0, v1, v2, v3};
	memcpy(b->ints[k], v, sizeof v);
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	a->n_ints = (size_t)cnt;
	a->ints = b->ints[k];
}

static void mb_intv(struct mb *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
	int k = b->n_attrs;
	Onnx__AttributeProto *a = mb_attr(b, n, name);
	memcpy(b->ints[k], v, (size_t)cnt * sizeof *v);
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
	a->n_ints = (size_t)cnt;
	a->ints = b->ints[k];
}

static void mb_int(struct mb *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
	Onnx__AttributeProto *a = mb_attr(b, n, name);
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
	a->has_i = 1;
	a->i = v;
}

/* A float initializer of up to 4 dims with seeded values (or value v if
 * ndim is 0: a scalar). */
static void mb_init(struct mb *b, char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
		    float scale, float v)
{
	int k = b->n_inits++;
	Onnx__TensorProto *t = &b->inits[k];
	int64_t d[4] = {d0, d1, d2, d3}, n = 1;
	onnx__tensor_proto__init(t);
	for (int i = 0; i < ndim; i++)
		n *= d[i];
	memcpy(b->dims[k], d, sizeof d);
	b->data[k] = malloc((size_t)n * sizeof(float));
	if (ndim == 0)
		b->data[k][0] = v;
	else
		fill(b->data[k], n, b->seed += 77, scale);
	t->name = name;
	t->n_dims = (size_t)ndim;
	t->dims = b->dims[k];
	t->has_data_type = 1;
	t->data_type = 1;
	t->has_raw_data = 1;
	t->raw_data.len = (size_t)n * sizeof(float);
	t->raw_data.data = (uint8_t *)b->data[k];
	b->init_ptrs[k] = t;
}

/* A 1-D int64 initializer of n values (shapes, Slice's starts...). */
static void mb_i64(struct mb *b, char *name, int n, const int64_t *v)
{
	int k = b->n_inits++;
	Onnx__TensorProto *t = &b->inits[k];
	onnx__tensor_proto__init(t);
	b->dims[k][0] = n;
	b->data[k] = malloc((size_t)n * sizeof *v);
	memcpy(b->data[k], v, (size_t)n * sizeof *v);
	t->name = name;
	t->n_dims = 1;
	t->dims = b->dims[k];
	t->has_data_type = 1;
	t->data_type = 7;
	t->has_raw_data = 1;
	t->raw_data.len = (size_t)n * sizeof *v;
	t->raw_data.data = (uint8_t *)b->data[k];
	b->init_ptrs[k] = t;
}

static uint8_t *mb_pack(struct mb *pb, const int64_t *xd, char *out, size_t *len);

/* x [1,4,10,10]:
 *   Conv 3x3 -> Relu -> Conv 3x3 -> Relu -> Conv 3x3 -> Add(, first relu)
 *   -> Relu                                                   (sum fusion)
 *   -> HardSigmoid (linear + clip) -> depthwise Conv -> Clip(0, 6) (eltwise fusion)
 *   -> MaxPool 3/2 ceil, AveragePool 2/2 -> Concat -> GlobalAveragePool
 *   -> Flatten (a reorder to plain) -> Gemm -> Relu -> Gemm -> Softmax  */
static uint8_t *make_mixed(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c0"}, *i2[] = {"r0", "w1", "b1"}, *i2b[] = {"c1"},
		    *i2c[] = {"t1", "w3", "b3"}, *i3[] = {"c3", "r0"},
		    *i4[] = {"a1"}, *i5[] = {"r1"}, *i6[] = {"h", "w2", "b2"}, *i7[] = {"c2", "lo", "hi"},
		    *i8[] = {"k2"}, *i9[] = {"k2"}, *i10[] = {"p", "q"}, *i11[] = {"cc"}, *i12[] = {"g"},
		    *i13[] = {"f", "wf", "bf"}, *i14[] = {"y0"}, *i15[] = {"y1", "wg", "bg"}, *i16[] = {"y2"};
	Onnx__NodeProto *n;
	memset(&b, 0, sizeof b);
	b.seed = 7;
	n = mb_node(&b, "Conv", 3, i0, "c0");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_node(&b, "Relu", 1, i1, "r0");
	n = mb_node(&b, "Conv", 3, i2, "c1");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_node(&b, "Relu", 1, i2b, "t1");
	n = mb_node(&b, "Conv", 3, i2c, "c3");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_node(&b, "Add", 2, i3, "a1");
	mb_node(&b, "Relu", 1, i4, "r1");
	mb_node(&b, "HardSigmoid", 1, i5, "h");
	n = mb_node(&b, "Conv", 3, i6, "c2");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_int(&b, n, "group", 8);
	mb_node(&b, "Clip", 3, i7, "k2");
	n = mb_node(&b, "MaxPool", 1, i8, "p");
	mb_ints(&b, n, "kernel_shape", 2, 3, 3, 0, 0);
	mb_ints(&b, n, "strides", 2, 2, 2, 0, 0);
	mb_int(&b, n, "ceil_mode", 1);
	n = mb_node(&b, "AveragePool", 1, i9, "q");
	mb_ints(&b, n, "kernel_shape", 2, 2, 2, 0, 0);
	mb_ints(&b, n, "strides", 2, 2, 2, 0, 0);
	n = mb_node(&b, "Concat", 2, i10, "cc");
	mb_int(&b, n, "axis", 1);
	mb_node(&b, "GlobalAveragePool", 1, i11, "g");
	mb_node(&b, "Flatten", 1, i12, "f");
	n = mb_node(&b, "Gemm", 3, i13, "y0");
	mb_int(&b, n, "transB", 1);
	mb_node(&b, "Relu", 1, i14, "y1");
	n = mb_node(&b, "Gemm", 3, i15, "y2");
	mb_int(&b, n, "transB", 1);
	mb_node(&b, "Softmax", 1, i16, "z");

	mb_init(&b, "w0", 4, 8, 4, 3, 3, 0.3f, 0);
	mb_init(&b, "b0", 1, 8, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "w1", 4, 8, 8, 3, 3, 0.2f, 0);
	mb_init(&b, "b1", 1, 8, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "w3", 4, 8, 8, 3, 3, 0.2f, 0);
	mb_init(&b, "b3", 1, 8, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "w2", 4, 8, 1, 3, 3, 2.0f, 0);
	mb_init(&b, "b2", 1, 8, 0, 0, 0, 1.0f, 0);
	mb_init(&b, "lo", 0, 0, 0, 0, 0, 0, 0.0f);
	mb_init(&b, "hi", 0, 0, 0, 0, 0, 0, 6.0f);
	mb_init(&b, "wf", 2, 12, 16, 0, 0, 0.5f, 0);
	mb_init(&b, "bf", 1, 12, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "wg", 2, 5, 12, 0, 0, 0.5f, 0);
	mb_init(&b, "bg", 1, 5, 0, 0, 0, 0.1f, 0);
	int64_t xd[4] = {1, 4, 10, 10};
	return mb_pack(&b, xd, "z", len);
}

/* Pack b's graph (input "x" of dims xd, output out) as a model; frees b's
 * data. */
static uint8_t *mb_pack(struct mb *pb, const int64_t *xd, char *out, size_t *len)
{
	Onnx__ModelProto mp = ONNX__MODEL_PROTO__INIT;
	Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
	Onnx__OperatorSetIdProto os = ONNX__OPERATOR_SET_ID_PROTO__INIT;
	Onnx__OperatorSetIdProto *oss[] = {&os};
	Onnx__ValueInfoProto vin = ONNX__VALUE_INFO_PROTO__INIT, vout = ONNX__VALUE_INFO_PROTO__INIT;
	Onnx__ValueInfoProto *vins[] = {&vin}, *vouts[] = {&vout};
	Onnx__TypeProto tp = ONNX__TYPE_PROTO__INIT, tpo = ONNX__TYPE_PROTO__INIT;
	Onnx__TypeProto__Tensor tt = ONNX__TYPE_PROTO__TENSOR__INIT, tto = ONNX__TYPE_PROTO__TENSOR__INIT;
	Onnx__TensorShapeProto sp = ONNX__TENSOR_SHAPE_PROTO__INIT;
	Onnx__TensorShapeProto__Dimension dd[4];
	Onnx__TensorShapeProto__Dimension *dp[4];
	for (int i = 0; i < 4; i++) {
		onnx__tensor_shape_proto__dimension__init(&dd[i]);
		dd[i].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
		dd[i].dim_value = xd[i];
		dp[i] = &dd[i];
	}
	sp.n_dim = 4;
	sp.dim = dp;
	tt.has_elem_type = 1;
	tt.elem_type = 1;
	tt.shape = &sp;
	tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tp.tensor_type = &tt;
	tto.has_elem_type = 1;
	tto.elem_type = 1;
	tpo.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
	tpo.tensor_type = &tto;
	vin.name = "x";
	vin.type = &tp;
	vout.name = out;
	vout.type = &tpo;
	gp.n_node = (size_t)pb->n_nodes;
	gp.node = pb->node_ptrs;
	gp.n_initializer = (size_t)pb->n_inits;
	gp.initializer = pb->init_ptrs;
	gp.n_input = 1;
	gp.input = vins;
	gp.n_output = 1;
	gp.output = vouts;
	gp.name = "mixed";
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
	if (buf)
		onnx__model_proto__pack(&mp, buf);
	for (int i = 0; i < pb->n_inits; i++)
		free(pb->data[i]);
	return buf;
}

/* x [1,24,8,8], the patterns of MobileNetV3 / EfficientNet blocks (24
 * channels: padded to 32 in nChw16c):
 *   Conv 1x1 -> Sigmoid, Mul (SiLU: the convolution, then the SiLU
 *   kernel in place) -> depthwise Conv 3x3
 *   -> HardSigmoid(1/6, 1/2), Mul (HardSwish as exported: a hardswish
 *   post-op; the Mul alone runs oneDNN's hardswish on x)
 *   -> squeeze-and-excitation: GlobalAveragePool -> Conv 1x1 -> Relu
 *   -> Conv 1x1 -> HardSigmoid (fused as linear + clip post-ops)
 *   -> Mul of [1,24,8,8] by the [1,24,1,1] gate (blocked broadcast)
 *   -> Conv 1x1 -> z [1,16,8,8] */
static uint8_t *make_modern(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c0"}, *i2[] = {"c0", "s0"}, *i3[] = {"m0", "w1", "b1"},
		    *i4[] = {"c1"}, *i5[] = {"h1", "c1"}, *i6[] = {"m1"}, *i7[] = {"g", "w2", "b2"},
		    *i8[] = {"c2"}, *i9[] = {"r2", "w3", "b3"}, *i10[] = {"c3"}, *i11[] = {"m1", "h3"},
		    *i12[] = {"se", "w4", "b4"};
	Onnx__NodeProto *n;
	Onnx__AttributeProto *a;
	memset(&b, 0, sizeof b);
	b.seed = 11;
	mb_node(&b, "Conv", 3, i0, "c0");
	mb_node(&b, "Sigmoid", 1, i1, "s0");
	mb_node(&b, "Mul", 2, i2, "m0");
	n = mb_node(&b, "Conv", 3, i3, "c1");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_int(&b, n, "group", 24);
	n = mb_node(&b, "HardSigmoid", 1, i4, "h1");
	a = mb_attr(&b, n, "alpha");
	a->has_type = 1;
	a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
	a->has_f = 1;
	a->f = 1.0f / 6.0f;
	mb_node(&b, "Mul", 2, i5, "m1");
	mb_node(&b, "GlobalAveragePool", 1, i6, "g");
	mb_node(&b, "Conv", 3, i7, "c2");
	mb_node(&b, "Relu", 1, i8, "r2");
	mb_node(&b, "Conv", 3, i9, "c3");
	mb_node(&b, "HardSigmoid", 1, i10, "h3");
	mb_node(&b, "Mul", 2, i11, "se");
	mb_node(&b, "Conv", 3, i12, "z");
	mb_init(&b, "w0", 4, 24, 24, 1, 1, 0.4f, 0);
	mb_init(&b, "b0", 1, 24, 0, 0, 0, 0.2f, 0);
	mb_init(&b, "w1", 4, 24, 1, 3, 3, 0.8f, 0);
	mb_init(&b, "b1", 1, 24, 0, 0, 0, 0.5f, 0);
	mb_init(&b, "w2", 4, 8, 24, 1, 1, 0.5f, 0);
	mb_init(&b, "b2", 1, 8, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "w3", 4, 24, 8, 1, 1, 0.8f, 0);
	mb_init(&b, "b3", 1, 24, 0, 0, 0, 0.3f, 0);
	mb_init(&b, "w4", 4, 16, 24, 1, 1, 0.3f, 0);
	mb_init(&b, "b4", 1, 16, 0, 0, 0, 0.1f, 0);
	int64_t xd[4] = {1, 24, 8, 8};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,16,16,16] -> Conv 3x3 (16 -> 512, 295 KB of weights, a 16x16 map)
 * -> MaxPool 4x4 -> Conv 3x3 (512 -> 256, 4.7 MB, a 4x4 map) -> z: the
 * Winograd budget (a quarter of the weights, at least 4 MB) takes the
 * large map and leaves the small one, whose transform would cost about
 * 50 ms, on the direct kernel. */
static uint8_t *make_wino(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "wa", "ba"}, *i1[] = {"a"}, *i2[] = {"p", "wb", "bb"};
	Onnx__NodeProto *n;
	memset(&b, 0, sizeof b);
	b.seed = 5;
	n = mb_node(&b, "Conv", 3, i0, "a");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	n = mb_node(&b, "MaxPool", 1, i1, "p");
	mb_ints(&b, n, "kernel_shape", 2, 4, 4, 0, 0);
	mb_ints(&b, n, "strides", 2, 4, 4, 0, 0);
	n = mb_node(&b, "Conv", 3, i2, "z");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_init(&b, "wa", 4, 512, 16, 3, 3, 0.2f, 0);
	mb_init(&b, "ba", 1, 512, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "wb", 4, 256, 512, 3, 3, 0.02f, 0);
	mb_init(&b, "bb", 1, 256, 0, 0, 0, 0.1f, 0);
	int64_t xd[4] = {1, 16, 16, 16};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,8,8,8], ShuffleNetV2's channel shuffle and the other shape and
 * data movement ops around oneDNN layouts (the depthwise convolution makes
 * the graph nChw16c; 20 channels: a partial last block):
 *   a = Conv 1x1 + Relu (x), b = depthwise Conv -> Conv 1x1 + Relu
 *   -> Concat(a, b) (blocked inputs, plain output) -> Reshape [1,2,20,8,8]
 *   -> Transpose [0,2,1,3,4] -> Reshape [1,40,8,8] (views around a copy)
 *   -> Slice channels [0,20) and [20,40) with axis -3 and an end past
 *   the dim (views at an offset) -> Conv 1x1 + Relu on the second half
 *   -> Concat(first half, that) -> Transpose to NHWC -> Unsqueeze
 *   -> Squeeze (views of views);
 *   and of the blocked Relu output: Slice at channel 16 and rows 1..6 (a
 *   submemory), Slice with step 2 (strided), Slice with step -1 (the
 *   reference kernel: the Relu output goes back to plain for it),
 *   Reshape [1,20,64] (a copy); Transpose of a blocked tensor;
 *   -> each flattened -> Concat -> z [1, 7104] */
static uint8_t *make_shuffle(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c0"}, *i2[] = {"a", "w1", "b1"}, *i3[] = {"d1", "w2", "b2"},
		    *i4[] = {"c2"}, *i5[] = {"a", "bb"}, *i6[] = {"cat", "sh1"}, *i7[] = {"rs"},
		    *i8[] = {"tp", "sh2"}, *i9[] = {"sh", "st0", "en0", "ax0"}, *i10[] = {"sh", "st1", "en1", "ax1"},
		    *i11[] = {"h2", "w3", "b3"}, *i12[] = {"c3"}, *i13[] = {"h1", "r3"}, *i14[] = {"cat2"},
		    *i15[] = {"t2", "ax2"}, *i16[] = {"us", "ax2"}, *i17[] = {"r3", "st3", "en3", "ax3", "sp3"},
		    *i18[] = {"r3", "st4", "en4", "ax4"}, *i19[] = {"r3", "st5", "en5", "ax5", "sp5"},
		    *i20[] = {"r3", "sh3"}, *i21[] = {"bb"}, *i22[] = {"sq"}, *i23[] = {"s5"}, *i24[] = {"s3"},
		    *i25[] = {"s4"}, *i26[] = {"rr"}, *i27[] = {"t3"},
		    *i28[] = {"f0", "f1", "f2", "f3", "f4", "f5"};
	static const int64_t perm5[] = {0, 2, 1, 3, 4}, sh1[] = {1, 2, 20, 8, 8}, sh2[] = {1, 40, 8, 8}, sh3[] = {1, 20, 64};
	static const int64_t st0[] = {0}, en0[] = {20}, ax0[] = {1}, st1[] = {20}, en1[] = {1000}, ax1[] = {-3};
	static const int64_t ax2[] = {0}, st3[] = {-1}, en3[] = {-1000}, ax3[] = {3}, sp3[] = {-1};
	static const int64_t st4[] = {16, 1}, en4[] = {20, 7}, ax4[] = {1, 2};
	static const int64_t st5[] = {3, 0}, en5[] = {19, 8}, ax5[] = {1, 3}, sp5[] = {1, 2};
	Onnx__NodeProto *n;
	memset(&b, 0, sizeof b);
	b.seed = 23;
	mb_node(&b, "Conv", 3, i0, "c0");
	mb_node(&b, "Relu", 1, i1, "a");
	n = mb_node(&b, "Conv", 3, i2, "d1");
	mb_ints(&b, n, "pads", 4, 1, 1, 1, 1);
	mb_int(&b, n, "group", 20);
	mb_node(&b, "Conv", 3, i3, "c2");
	mb_node(&b, "Relu", 1, i4, "bb");
	n = mb_node(&b, "Concat", 2, i5, "cat");
	mb_int(&b, n, "axis", 1);
	mb_node(&b, "Reshape", 2, i6, "rs");
	n = mb_node(&b, "Transpose", 1, i7, "tp");
	mb_intv(&b, n, "perm", 5, perm5);
	mb_node(&b, "Reshape", 2, i8, "sh");
	mb_node(&b, "Slice", 4, i9, "h1");
	mb_node(&b, "Slice", 4, i10, "h2");
	mb_node(&b, "Conv", 3, i11, "c3");
	mb_node(&b, "Relu", 1, i12, "r3");
	n = mb_node(&b, "Concat", 2, i13, "cat2");
	mb_int(&b, n, "axis", 1);
	n = mb_node(&b, "Transpose", 1, i14, "t2");
	mb_ints(&b, n, "perm", 4, 0, 2, 3, 1);
	mb_node(&b, "Unsqueeze", 2, i15, "us");
	mb_node(&b, "Squeeze", 2, i16, "sq");
	mb_node(&b, "Slice", 5, i17, "s5");
	mb_node(&b, "Slice", 4, i18, "s3");
	mb_node(&b, "Slice", 5, i19, "s4");
	mb_node(&b, "Reshape", 2, i20, "rr");
	n = mb_node(&b, "Transpose", 1, i21, "t3");
	mb_ints(&b, n, "perm", 4, 0, 3, 2, 1);
	mb_node(&b, "Flatten", 1, i22, "f0");
	mb_node(&b, "Flatten", 1, i23, "f1");
	mb_node(&b, "Flatten", 1, i24, "f2");
	mb_node(&b, "Flatten", 1, i25, "f3");
	mb_node(&b, "Flatten", 1, i26, "f4");
	mb_node(&b, "Flatten", 1, i27, "f5");
	n = mb_node(&b, "Concat", 6, i28, "z");
	mb_int(&b, n, "axis", 1);

	mb_init(&b, "w0", 4, 20, 8, 1, 1, 0.4f, 0);
	mb_init(&b, "b0", 1, 20, 0, 0, 0, 0.2f, 0);
	mb_init(&b, "w1", 4, 20, 1, 3, 3, 0.5f, 0);
	mb_init(&b, "b1", 1, 20, 0, 0, 0, 0.2f, 0);
	mb_init(&b, "w2", 4, 20, 20, 1, 1, 0.3f, 0);
	mb_init(&b, "b2", 1, 20, 0, 0, 0, 0.2f, 0);
	mb_init(&b, "w3", 4, 20, 20, 1, 1, 0.3f, 0);
	mb_init(&b, "b3", 1, 20, 0, 0, 0, 0.2f, 0);
	mb_i64(&b, "sh1", 5, sh1);
	mb_i64(&b, "sh2", 4, sh2);
	mb_i64(&b, "sh3", 3, sh3);
	mb_i64(&b, "st0", 1, st0);
	mb_i64(&b, "en0", 1, en0);
	mb_i64(&b, "ax0", 1, ax0);
	mb_i64(&b, "st1", 1, st1);
	mb_i64(&b, "en1", 1, en1);
	mb_i64(&b, "ax1", 1, ax1);
	mb_i64(&b, "ax2", 1, ax2);
	mb_i64(&b, "st3", 1, st3);
	mb_i64(&b, "en3", 1, en3);
	mb_i64(&b, "ax3", 1, ax3);
	mb_i64(&b, "sp3", 1, sp3);
	mb_i64(&b, "st4", 2, st4);
	mb_i64(&b, "en4", 2, en4);
	mb_i64(&b, "ax4", 2, ax4);
	mb_i64(&b, "st5", 2, st5);
	mb_i64(&b, "en5", 2, en5);
	mb_i64(&b, "ax5", 2, ax5);
	mb_i64(&b, "sp5", 2, sp5);
	int64_t xd[4] = {1, 8, 8, 8};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,8,4,4]: GlobalAveragePool g -> Flatten -> Reshape o [1,8,1,1] (views
 * of g), Conv 1x1 of g -> Add(, o) -> Relu: o shares g's buffer, which the
 * convolution reads. (A sum post-op, in place on o, would overwrite g:
 * dnnl_fuse.c never makes one on a view; here none would be made anyway,
 * the convolution writes NHWC and o is plain.) */
static uint8_t *make_viewsum(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x"}, *i1[] = {"g"}, *i2[] = {"f", "shp"}, *i3[] = {"g", "w0", "b0"}, *i4[] = {"c", "o"},
		    *i5[] = {"a"};
	static const int64_t shp[] = {1, 8, 1, 1};
	memset(&b, 0, sizeof b);
	b.seed = 31;
	mb_node(&b, "GlobalAveragePool", 1, i0, "g");
	mb_node(&b, "Flatten", 1, i1, "f");
	mb_node(&b, "Reshape", 2, i2, "o");
	mb_node(&b, "Conv", 3, i3, "c");
	mb_node(&b, "Add", 2, i4, "a");
	mb_node(&b, "Relu", 1, i5, "z");
	mb_init(&b, "w0", 4, 8, 8, 1, 1, 0.5f, 0);
	mb_init(&b, "b0", 1, 8, 0, 0, 0, 0.2f, 0);
	mb_i64(&b, "shp", 4, shp);
	int64_t xd[4] = {1, 8, 4, 4};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,3,4,8] -> MatMul by a constant [8,6] -> Relu -> MatMul by a
 * constant [3,6,5] (batch dims broadcast: [1,3] and [3]) -> Flatten
 * -> MatMul by a constant [60,10] (a classifier head) -> z [1,10] */
static uint8_t *make_matmul(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w1"}, *i1[] = {"m1"}, *i2[] = {"r1", "w2"}, *i3[] = {"m2"}, *i4[] = {"f", "w3"};
	memset(&b, 0, sizeof b);
	b.seed = 9;
	mb_node(&b, "MatMul", 2, i0, "m1");
	mb_node(&b, "Relu", 1, i1, "r1");
	mb_node(&b, "MatMul", 2, i2, "m2");
	mb_node(&b, "Flatten", 1, i3, "f");
	mb_node(&b, "MatMul", 2, i4, "z");
	mb_init(&b, "w1", 2, 8, 6, 0, 0, 0.5f, 0);
	mb_init(&b, "w2", 3, 3, 6, 5, 0, 0.5f, 0);
	mb_init(&b, "w3", 2, 60, 10, 0, 0, 0.3f, 0);
	int64_t xd[4] = {1, 3, 4, 8};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,16,4,4] -> Conv 1x1 -> Relu (a fused pair: its inside lives in the
 * split-only part of the arena) -> GlobalAveragePool -> Flatten -> Gemm
 * 1280 -> 1024 (5.2 MB of weights: kept plain; copied to huge pages when
 * they are on) */
static uint8_t *make_bigfc(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c"}, *i2[] = {"r"}, *i3[] = {"g"}, *i4[] = {"f", "wf", "bf"};
	memset(&b, 0, sizeof b);
	b.seed = 13;
	mb_node(&b, "Conv", 3, i0, "c");
	mb_node(&b, "Relu", 1, i1, "r");
	mb_node(&b, "GlobalAveragePool", 1, i2, "g");
	mb_node(&b, "Flatten", 1, i3, "f");
	Onnx__NodeProto *n = mb_node(&b, "Gemm", 3, i4, "z");
	mb_int(&b, n, "transB", 1);
	mb_init(&b, "w0", 4, 1288, 16, 1, 1, 0.3f, 0);
	mb_init(&b, "b0", 1, 1288, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "wf", 2, 1024, 1288, 0, 0, 0.05f, 0);
	mb_init(&b, "bf", 1, 1024, 0, 0, 0, 0.1f, 0);
	int64_t xd[4] = {1, 16, 4, 4};
	return mb_pack(&b, xd, "z", len);
}

/* Classifier Gemms run as 1x1 convolutions (weights of 4-16 MiB, k % 16
 * == 0): x [1,16,2,2] -> Conv 1x1 (1280) -> GlobalAveragePool -> Flatten
 * -> Gemm transB=1 (1280 -> 1024, 5.2 MB; output in place, the Relu fused)
 * -> Relu -> Gemm transB=0 (1024 -> 1030, 4.2 MB; output padded to 1040
 * by the kernel, copied out by a reorder step) -> z [1,1030] */
static uint8_t *make_fcconv(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c"}, *i2[] = {"g"}, *i3[] = {"f", "wa", "ba"}, *i4[] = {"a"},
		    *i5[] = {"r", "wb", "bb"};
	memset(&b, 0, sizeof b);
	b.seed = 17;
	mb_node(&b, "Conv", 3, i0, "c");
	mb_node(&b, "GlobalAveragePool", 1, i1, "g");
	mb_node(&b, "Flatten", 1, i2, "f");
	Onnx__NodeProto *n = mb_node(&b, "Gemm", 3, i3, "a");
	mb_int(&b, n, "transB", 1);
	mb_node(&b, "Relu", 1, i4, "r");
	mb_node(&b, "Gemm", 3, i5, "z");
	mb_init(&b, "w0", 4, 1280, 16, 1, 1, 0.3f, 0);
	mb_init(&b, "b0", 1, 1280, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "wa", 2, 1024, 1280, 0, 0, 0.05f, 0);
	mb_init(&b, "ba", 1, 1024, 0, 0, 0, 0.1f, 0);
	mb_init(&b, "wb", 2, 1024, 1030, 0, 0, 0.05f, 0);
	mb_init(&b, "bb", 1, 1030, 0, 0, 0, 0.1f, 0);
	int64_t xd[4] = {1, 16, 2, 2};
	return mb_pack(&b, xd, "z", len);
}

/* x [1,20,5,5] -> Conv 1x1 -> ReduceMean axes (2,3) keepdims 1 -> [1,20,1,1]
 * -> ReduceMean axes (-2,-1) keepdims 0 -> z [1,20]: both global average
 * pooling on dnnl (ShuffleNetV2's head) */
static uint8_t *make_reduce(size_t *len)
{
	static struct mb b;
	static char *i0[] = {"x", "w0", "b0"}, *i1[] = {"c"}, *i2[] = {"m"};
	Onnx__NodeProto *n;
	memset(&b, 0, sizeof b);
	b.seed = 13;
	mb_node(&b, "Conv", 3, i0, "c");
	n = mb_node(&b, "ReduceMean", 1, i1, "m");
	mb_ints(&b, n, "axes", 2, 2, 3, 0, 0);
	n = mb_node(&b, "ReduceMean", 1, i2, "z");
	mb_ints(&b, n, "axes", 2, -2, -1, 0, 0);
	mb_int(&b, n, "keepdims", 0);
	mb_init(&b, "w0", 4, 20, 20, 1, 1, 0.5f, 0);
	mb_init(&b, "b0", 1, 20, 0, 0, 0, 0.2f, 0);
	int64_t xd[4] = {1, 20, 5, 5};
	return mb_pack(&b, xd, "z", len);
}

/* ------------------------------------------------------------ checks */

/* The model a builder made (buf NULL: it ran out of memory), or NULL
 * after a failed check. */
static struct jalad_model *load_built(const char *name, const uint8_t *buf, size_t len)
{
	struct jalad_model *m = NULL;
	enum jalad_status st = buf ? jalad_model_load_buffer(buf, len, NULL, &m) : JALAD_ERR_NOMEM;
	CHECK_MSG(st == JALAD_OK, "%s model: %s", name, jalad_last_error());
	return st == JALAD_OK ? m : NULL;
}

static struct jalad_session *session(const struct jalad_model *m, const char *backend)
{
	struct jalad_session *s = NULL;
	struct jalad_session_opts so = {.threads = THREADS, .backend = backend};
	enum jalad_status st = jalad_session_create(m, &so, &s);
	CHECK_MSG(st == JALAD_OK, "%s session: %s", backend, jalad_last_error());
	return s;
}

/* Copy of output 0 after a run. */
static float *output_copy(struct jalad_session *s, int64_t *n)
{
	struct jalad_tensor out;
	if (jalad_session_output(s, 0, &out) != JALAD_OK)
		return NULL;
	*n = jalad_tensor_numel(&out);
	float *c = malloc((size_t)*n * sizeof *c);
	if (c)
		memcpy(c, out.data, (size_t)*n * sizeof *c);
	return c;
}

static void check_model(const char *name, const struct jalad_model *m)
{
	struct jalad_session *ref = session(m, "ref"), *full = session(m, "dnnl");
	struct jalad_session *edge = session(m, "dnnl"), *cloud = session(m, "dnnl"), *redge = session(m, "ref");
	if (!ref || !full || !edge || !cloud || !redge)
		goto done;
	struct jalad_tensor_desc d;
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, d.ndim, {0}, NULL};
	memcpy(in.dims, d.dims, sizeof in.dims);
	int64_t n_in = jalad_tensor_numel(&in), n_out = 0, n2 = 0;
	float *x = malloc((size_t)n_in * sizeof *x);
	fill(x, n_in, 42, 2.0f);
	in.data = x;

	/* dnnl against the reference kernels */
	CHECK(jalad_session_run(ref, &in, 1) == JALAD_OK);
	enum jalad_status st = jalad_session_run(full, &in, 1);
	CHECK_MSG(st == JALAD_OK, "%s: %s", name, jalad_last_error());
	struct jalad_tensor a, b;
	jalad_session_output(full, 0, &a);
	jalad_session_output(ref, 0, &b);
	double e = rel_err(&a, &b);
	CHECK_MSG(e <= 1e-4, "%s: dnnl vs ref max rel err %.3g", name, e);
	float *want = output_copy(full, &n_out);

	/* the same bits on a second run, and after an empty range */
	int in_id = jalad_model_input(m, 0);
	CHECK(jalad_session_run_range(full, 0, 0, &in_id, &in, 1) == JALAD_OK);
	CHECK(jalad_session_run(full, &in, 1) == JALAD_OK);
	float *again = output_copy(full, &n2);
	CHECK(want && again && n2 == n_out && !memcmp(want, again, (size_t)n_out * sizeof *want));
	free(again);

	/* every cut: dnnl edge + dnnl cloud == full dnnl run, bit for bit;
	 * ref edge + dnnl cloud within tolerance. */
	int n = jalad_model_node_count(m);
	int exact = 0, close = 0;
	for (int k = 0; k <= n; k++) {
		int ids[64], cnt = 0;
		struct jalad_tensor vals[64];
		st = jalad_session_run_range(edge, 0, k, &in_id, &in, 1);
		CHECK_MSG(st == JALAD_OK, "%s cut %d edge: %s", name, k, jalad_last_error());
		CHECK(jalad_model_crossing(m, k, ids, 64, &cnt) == JALAD_OK && cnt <= 64);
		for (int i = 0; i < cnt; i++)
			CHECK(jalad_session_tensor(edge, ids[i], &vals[i]) == JALAD_OK);
		st = jalad_session_run_range(cloud, k, n, ids, vals, cnt);
		CHECK_MSG(st == JALAD_OK, "%s cut %d cloud: %s", name, k, jalad_last_error());
		struct jalad_tensor out;
		jalad_session_output(cloud, 0, &out);
		int same = want && jalad_tensor_numel(&out) == n_out &&
			   !memcmp(out.data, want, (size_t)n_out * sizeof *want);
		if (!same)
			fprintf(stderr, "%s: cut %d (before node %d) differs from the full run\n", name, k, k);
		exact += same;

		CHECK(jalad_session_run_range(redge, 0, k, &in_id, &in, 1) == JALAD_OK);
		for (int i = 0; i < cnt; i++)
			CHECK(jalad_session_tensor(redge, ids[i], &vals[i]) == JALAD_OK);
		CHECK(jalad_session_run_range(cloud, k, n, ids, vals, cnt) == JALAD_OK);
		jalad_session_output(cloud, 0, &out);
		close += rel_err(&out, &b) <= 1e-4;
	}
	CHECK_MSG(exact == n + 1, "%s: %d of %d cuts equal the full dnnl run", name, exact, n + 1);
	CHECK_MSG(close == n + 1, "%s: %d of %d ref/dnnl cuts within 1e-4", name, close, n + 1);
	free(want);
	free(x);
done:
	jalad_session_free(ref);
	jalad_session_free(full);
	jalad_session_free(edge);
	jalad_session_free(cloud);
	jalad_session_free(redge);
}

static void check_file(const char *path)
{
	struct jalad_model *m = NULL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	CHECK_MSG(st == JALAD_OK, "%s: %s", path, jalad_last_error());
	if (st == JALAD_OK)
		check_model(path, m);
	jalad_model_free(m);
}

/* Per-node profile of one run of m on backend: every node is covered by
 * exactly one group, reorders are part of their node's time; returns the
 * number of multi-node (fused) groups. */
static int check_profile(const struct jalad_model *m, const char *backend)
{
	struct jalad_session *s = session(m, backend);
	int n = jalad_model_node_count(m), groups = 0;
	if (!s)
		return 0;
	struct jalad_tensor_desc d;
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, d.ndim, {0}, NULL};
	memcpy(in.dims, d.dims, sizeof in.dims);
	float *x = calloc((size_t)jalad_tensor_numel(&in), sizeof *x);
	in.data = x;
	jalad_session_set_profiling(s, 1);
	CHECK(jalad_session_run(s, &in, 1) == JALAD_OK);
	const uint64_t *times = jalad_session_node_times(s);
	struct jalad_node_prof p;
	uint64_t total = 0;
	for (int i = 0; i < n;) {
		CHECK(jalad_session_node_profile(s, i, &p) == JALAD_OK);
		CHECK_MSG(p.group_end > i && p.group_end <= n && p.impl && p.reorder_ns <= p.ns && p.ns == times[i],
			  "%s node %d: group_end %d, impl %s", backend, i, p.group_end, p.impl ? p.impl : "NULL");
		if (p.group_end <= i)
			break;
		if (!strcmp(backend, "ref"))
			CHECK(p.group_end == i + 1 && !strcmp(p.impl, "ref") && p.reorder_ns == 0);
		for (int k = i + 1; k < p.group_end; k++) {
			struct jalad_node_prof q;
			CHECK(jalad_session_node_profile(s, k, &q) == JALAD_OK && q.group_end == k && q.ns == 0);
		}
		groups += p.group_end > i + 1;
		total += p.ns;
		i = p.group_end;
	}
	CHECK(total > 0);
	CHECK(jalad_session_node_profile(s, n, &p) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_session_node_profile(s, -1, &p) == JALAD_ERR_INVALID_ARG);
	/* profiling off: a run leaves the last profile alone */
	jalad_session_set_profiling(s, 0);
	CHECK(jalad_session_run(s, &in, 1) == JALAD_OK);
	free(x);
	jalad_session_free(s);
	return groups;
}

static void check_modern(void)
{
	size_t len;
	uint8_t *buf = make_modern(&len);
	struct jalad_model *m = load_built("modern", buf, len);
	if (m) {
		CHECK(jalad_model_node_count(m) == 13);
		check_model("modern", m);
		CHECK(check_profile(m, "ref") == 0);
		/* SiLU + 1x1/depthwise, SE Conv+Relu, Conv+HardSigmoid */
		int groups = check_profile(m, "dnnl");
		CHECK_MSG(groups >= 3, "modern: %d fused groups on dnnl", groups);
	}
	jalad_model_free(m);
	free(buf);
}

/* The shuffle model: dnnl against ref and every cut (check_model), and
 * every node native but the Slice with a negative step; the shape ops and
 * contiguous Slices are views (no step). */
static void check_shuffle(void)
{
	size_t len;
	uint8_t *buf = make_shuffle(&len);
	struct jalad_model *m = load_built("shuffle", buf, len);
	if (!m)
		goto done;
	int n = jalad_model_node_count(m);
	CHECK_MSG(n == 29, "shuffle: %d nodes", n);
	check_model("shuffle", m);
	struct jalad_session *s = session(m, "dnnl");
	if (!s)
		goto done;
	struct jalad_tensor_desc d;
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, d.ndim, {0}, NULL};
	memcpy(in.dims, d.dims, sizeof in.dims);
	float *x = calloc((size_t)jalad_tensor_numel(&in), sizeof *x);
	in.data = x;
	jalad_session_set_profiling(s, 1);
	CHECK(jalad_session_run(s, &in, 1) == JALAD_OK);
	int ref = 0, views = 0;
	for (int i = 0; i < n; i++) {
		struct jalad_node_prof p;
		if (jalad_session_node_profile(s, i, &p) != JALAD_OK || !p.impl)
			continue;
		ref += !strcmp(p.impl, "ref");
		views += !strcmp(p.impl, "view");
	}
	/* Reshape x2, Slice x2, Unsqueeze, Squeeze, 5 Flattens of native outputs */
	CHECK_MSG(ref == 1 && views == 11, "shuffle: %d nodes on the reference kernel, %d views", ref, views);
	free(x);
	jalad_session_free(s);
done:
	jalad_model_free(m);
	free(buf);
}

static void check_viewsum(void)
{
	size_t len;
	uint8_t *buf = make_viewsum(&len);
	struct jalad_model *m = load_built("viewsum", buf, len);
	if (m)
		check_model("viewsum", m);
	jalad_model_free(m);
	free(buf);
}

#ifdef JALAD_HAVE_DNNL
static void check_silu(void)
{
	enum { N = 100003 };
	float *x = malloc(N * sizeof *x), *y1 = malloc(N * sizeof *y1), *y2 = malloc(N * sizeof *y2);
	float *y3 = malloc(N * sizeof *y3);
	if (!x || !y1 || !y2 || !y3) {
		CHECK(0);
		goto done;
	}
	fill(x, N, 5, 30.0f);
	const float special[] = {0.0f, -0.0f, INFINITY, 1e-30f, -1e-30f, 88.0f, -88.0f, 200.0f, -200.0f, 1e30f, -1e30f};
	const int ns = (int)(sizeof special / sizeof special[0]);
	memcpy(x + 3, special, sizeof special);
	x[N - 1] = NAN;
	dn_kern_run(DN_KERN_SILU, x, y1, N, 1);
	dn_kern_run(DN_KERN_SILU, x, y2, N, 2);
	CHECK_MSG(!memcmp(y1, y2, N * sizeof *y1), "silu: 1 and 2 threads differ");
	/* the same element at another offset (vector body vs scalar tail) */
	dn_kern_run(DN_KERN_SILU, x + 7, y3, 29, 1);
	CHECK(!memcmp(y3, y1 + 7, 29 * sizeof *y3));
	memcpy(y3, x, N * sizeof *y3);
	dn_kern_run(DN_KERN_SILU, y3, y3, N, 2); /* in place */
	CHECK(!memcmp(y3, y1, N * sizeof *y3));
	double worst = 0.0;
	for (int i = 0; i < N - 1; i++) {
		if (isinf(x[i]) || fabsf(x[i]) > 87.0f)
			continue;
		double r = (double)x[i] / (1.0 + exp(-(double)x[i]));
		double e = fabs((double)y1[i] - r) / (fabs(r) > 1e-30 ? fabs(r) : 1e-30);
		if (e > worst)
			worst = e;
	}
	CHECK_MSG(worst <= 2e-6, "silu: max rel err %.3g", worst);
	CHECK(y1[3] == 0.0f && !signbit(y1[3]) && y1[4] == 0.0f && signbit(y1[4]));
	CHECK(isinf(y1[5]) && y1[5] > 0);
	CHECK(y1[3 + 7] == 200.0f && y1[3 + 9] == 1e30f);
	CHECK(y1[3 + 8] == 0.0f && y1[3 + 10] == 0.0f && y1[3 + 6] < 0.0f && y1[3 + 6] > -1e-35f);
	CHECK(isnan(y1[N - 1]));
	(void)ns;
done:
	free(x);
	free(y1);
	free(y2);
	free(y3);
}
#endif

/* oneDNN's Winograd and jit_1x1 kernels need these (AVX-512 core). */
static int has_avx512(void)
{
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

#ifdef JALAD_HAVE_DNNL
/* Winograd weights made by dnnl_wino.c equal oneDNN's own reorder into
 * the same format, bit for bit, on convolutions that get each of the three
 * float formats. Returns the formats seen (bit wino_format). */
static int wino_weights_case(dnnl_engine_t eng, dnnl_stream_t strm, int64_t ic, int64_t oc, int64_t hw)
{
	dnnl_memory_desc_t src, wany, dst, user;
	dnnl_dims_t sd = {1, ic, hw, hw}, wd = {oc, ic, 3, 3}, dd = {1, oc, hw, hw}, one = {1, 1}, pad = {1, 1};
	dnnl_convolution_desc_t cd;
	dnnl_primitive_desc_t pd = NULL, rpd = NULL;
	dnnl_primitive_t r = NULL;
	dnnl_memory_t um = NULL, om = NULL;
	float *w = NULL, *a = NULL, *b = NULL;
	int seen = 0;
	CHECK(dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
	      dnnl_memory_desc_init_by_tag(&wany, 4, wd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
	      dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_format_tag_any) == dnnl_success &&
	      dnnl_memory_desc_init_by_tag(&user, 4, wd, dnnl_f32, dnnl_oihw) == dnnl_success);
	CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_winograd, &src, &wany,
						 NULL, &dst, one, pad, pad) == dnnl_success);
	if (dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL) != dnnl_success)
		return 0; /* no Winograd kernel for this shape on this CPU */
	const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	CHECK(want != NULL);
	if (!want || !dn_wino_supported(&user, want)) {
		CHECK_MSG(!want || want->format_kind != dnnl_format_kind_wino ||
				  want->format_desc.wino_desc.wino_format == dnnl_wino_wei_aaOIoi,
			  "ic %lld oc %lld: a float Winograd format (%d) left to oneDNN", (long long)ic, (long long)oc,
			  want ? (int)want->format_desc.wino_desc.wino_format : -1);
		goto done;
	}
	size_t n = dnnl_memory_desc_get_size(want), nw = (size_t)(oc * ic * 9);
	w = malloc(nw * sizeof *w);
	a = malloc(n);
	b = malloc(n);
	CHECK(w && a && b);
	if (!w || !a || !b)
		goto done;
	fill(w, (int64_t)nw, (uint32_t)(ic * 31 + oc), 1.0f);
	w[0] = -0.0f; /* a sign oneDNN's sums from +0 drop */
	memset(a, 0x5a, n);
	memset(b, 0xa5, n);
	CHECK(dnnl_memory_create(&um, &user, eng, w) == dnnl_success &&
	      dnnl_memory_create(&om, want, eng, a) == dnnl_success &&
	      dnnl_reorder_primitive_desc_create(&rpd, &user, eng, want, eng, NULL) == dnnl_success &&
	      dnnl_primitive_create(&r, rpd) == dnnl_success);
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, um}, {DNNL_ARG_TO, om}};
	CHECK(r && dnnl_primitive_execute(r, strm, 2, args) == dnnl_success && dnnl_stream_wait(strm) == dnnl_success);
	dn_wino_weights(&user, want, w, b);
	const dnnl_wino_desc_t *wd6 = &want->format_desc.wino_desc;
	size_t used = (size_t)wd6->alpha * (size_t)wd6->alpha * (size_t)wd6->ic * (size_t)wd6->oc * sizeof(float);
	CHECK_MSG(!memcmp(a, b, used), "ic %lld oc %lld %lldx%lld: Winograd format %d differs from oneDNN's reorder",
		  (long long)ic, (long long)oc, (long long)hw, (long long)hw, (int)wd6->wino_format);
	seen = 1 << wd6->wino_format;
done:
	dnnl_primitive_destroy(r);
	dnnl_primitive_desc_destroy(rpd);
	dnnl_primitive_desc_destroy(pd);
	dnnl_memory_destroy(um);
	dnnl_memory_destroy(om);
	free(w);
	free(a);
	free(b);
	return seen;
}

static void check_wino_weights(void)
{
	dnnl_engine_t eng = NULL;
	dnnl_stream_t strm = NULL;
	CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success &&
	      dnnl_stream_create(&strm, eng, dnnl_stream_default_flags) == dnnl_success);
	static const int64_t shapes[][3] = {{16, 64, 56}, {32, 128, 28}, {48, 192, 28}, {64, 256, 14},
					    {256, 256, 14}, {128, 192, 28}, {512, 512, 7}, {96, 208, 14},
					    {24, 40, 28}, {3, 64, 56}};
	int seen = 0;
	for (size_t i = 0; eng && strm && i < sizeof shapes / sizeof *shapes; i++)
		seen |= wino_weights_case(eng, strm, shapes[i][0], shapes[i][1], shapes[i][2]);
	/* oneDNN has float Winograd kernels for AVX-512 only */
	if (has_avx512())
		CHECK_MSG(seen == (1 << dnnl_wino_wei_aaOio | 1 << dnnl_wino_wei_aaOBiOo | 1 << dnnl_wino_wei_OBaaIBOIio),
			  "Winograd weight formats met: mask %#x", seen);
	printf("test_dnnl: Winograd weights equal oneDNN's reorder (formats mask %#x)\n", seen);
	dnnl_stream_destroy(strm);
	dnnl_engine_destroy(eng);
}
#endif

/* The kernels a built model's nodes ran on: loads buf (freed here),
 * checks the model (check_model), then makes one profiled run on the dnnl
 * backend (1 thread, zeros) and copies into impl[k], for node k < n, its
 * kernel name ("" where there is none; the names live as long as the
 * session). Returns the node count, -1 if the
 * model did not load or run. */
#define IMPL_LEN 64
static int native_impls(const char *name, uint8_t *buf, size_t len, char (*impl)[IMPL_LEN], int n)
{
	struct jalad_model *m = load_built(name, buf, len);
	struct jalad_session *s = NULL;
	float *x = NULL;
	int count = -1;
	if (!m)
		goto done;
	check_model(name, m);
	struct jalad_session_opts so = {.threads = 1, .backend = "dnnl"};
	CHECK(jalad_session_create(m, &so, &s) == JALAD_OK);
	if (!s)
		goto done;
	struct jalad_tensor_desc d;
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, d.ndim, {0}, NULL};
	memcpy(in.dims, d.dims, sizeof in.dims);
	in.data = x = calloc((size_t)jalad_tensor_numel(&in), sizeof *x);
	jalad_session_set_profiling(s, 1);
	CHECK(x && jalad_session_run(s, &in, 1) == JALAD_OK);
	count = jalad_model_node_count(m);
	for (int k = 0; k < n; k++) {
		struct jalad_node_prof p;
		int ok = k < count && jalad_session_node_profile(s, k, &p) == JALAD_OK && p.impl;
		snprintf(impl[k], IMPL_LEN, "%s", ok ? p.impl : "");
	}
done:
	free(x);
	jalad_session_free(s);
	jalad_model_free(m);
	free(buf);
	return count;
}

static void check_wino(void)
{
	size_t len;
	uint8_t *buf = make_wino(&len);
	char impl[3][IMPL_LEN];
	if (native_impls("wino", buf, len, impl, 3) != 3) {
		CHECK(0);
		return;
	}
	/* oneDNN has Winograd kernels for AVX-512 only: elsewhere neither is */
	CHECK_MSG(!strstr(impl[2], "wino"), "the 4x4 layer runs %s", impl[2]);
	if (has_avx512())
		CHECK_MSG(strstr(impl[0], "wino") != NULL, "the 16x16 layer runs %s", impl[0]);
	printf("test_dnnl: Winograd budget: 16x16 layer %s, 4x4 layer %s\n", impl[0], impl[2]);
}

/* The Fashion-MNIST VGG's 3x3 layers (2-4 MFLOP) take Winograd at one
 * thread and stay direct at two (WINO_MT_MIN_FLOPS). */
static void check_wino_threads(void)
{
	struct jalad_model *m = NULL;
	if (jalad_model_load("models/fmnist-vgg.onnx", NULL, &m) != JALAD_OK) {
		CHECK_MSG(0, "models/fmnist-vgg.onnx: %s", jalad_last_error());
		return;
	}
	int count[2] = {0, 0};
	for (int t = 1; t <= 2; t++) {
		struct jalad_session_opts so = {.threads = t, .backend = "dnnl"};
		struct jalad_session *s = NULL;
		float x[28 * 28] = {0};
		struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, 4, {1, 1, 28, 28}, x};
		CHECK(jalad_session_create(m, &so, &s) == JALAD_OK);
		if (s)
			jalad_session_set_profiling(s, 1);
		CHECK(s && jalad_session_run(s, &in, 1) == JALAD_OK);
		for (int k = 0; s && k < jalad_model_node_count(m); k++) {
			struct jalad_node_prof p;
			if (jalad_session_node_profile(s, k, &p) == JALAD_OK && p.impl && strstr(p.impl, "wino"))
				count[t - 1]++;
		}
		jalad_session_free(s);
	}
	jalad_model_free(m);
	if (has_avx512())
		CHECK_MSG(count[0] > 0, "no Winograd layer at 1 thread");
	CHECK_MSG(count[1] == 0, "%d Winograd layers at 2 threads", count[1]);
}

static void check_matmul(void)
{
	size_t len;
	uint8_t *buf = make_matmul(&len);
	char impl[5][IMPL_LEN];
	CHECK(native_impls("matmul", buf, len, impl, 5) == 5);
	for (int k = 0; k < 5; k += 2)
		CHECK_MSG(strcmp(impl[k], "ref") != 0, "MatMul node %d runs the reference kernel", k);
}

static void check_reduce(void)
{
	size_t len;
	uint8_t *buf = make_reduce(&len);
	char impl[3][IMPL_LEN];
	CHECK(native_impls("reduce", buf, len, impl, 3) == 3);
	for (int k = 1; k < 3; k++)
		CHECK_MSG(strcmp(impl[k], "ref") != 0, "ReduceMean node %d runs the reference kernel", k);
}

static void check_fcconv(void)
{
	size_t len;
	uint8_t *buf = make_fcconv(&len);
	char impl[6][IMPL_LEN];
	CHECK(native_impls("fcconv", buf, len, impl, 6) == 6);
	/* oneDNN's jit_1x1 kernels need AVX-512: elsewhere the inner product */
	if (has_avx512())
		for (int k = 3; k < 6; k += 2)
			CHECK_MSG(strstr(impl[k], "jit_1x1") != NULL, "Gemm node %d runs %s", k, impl[k]);
	printf("test_dnnl: classifier Gemms run %s and %s\n", impl[3], impl[5]);
}

/* Weights and arena on huge pages (JALAD_DNNL_HUGEPAGES=1) or not (the
 * default): the same bits, and every cut as the full run (a Gemm of 5.2 MB
 * over 1288 inputs: the inner product on the model's matrix, copied to
 * huge pages when they are on). */
static void check_bigfc(void)
{
	size_t len;
	uint8_t *buf = make_bigfc(&len);
	struct jalad_model *m = load_built("bigfc", buf, len);
	if (m) {
		check_model("bigfc", m);
		float x[256];
		fill(x, 256, 5, 1.0f);
		struct jalad_tensor in = {JALAD_DTYPE_FLOAT32, 4, {1, 16, 4, 4}, x};
		float *out[2] = {NULL, NULL};
		int64_t n[2] = {0, 0};
		for (int k = 0; k < 2; k++) {
			if (k)
				setenv("JALAD_DNNL_HUGEPAGES", "1", 1);
			struct jalad_session *s = session(m, "dnnl");
			if (s && jalad_session_run(s, &in, 1) == JALAD_OK)
				out[k] = output_copy(s, &n[k]);
			jalad_session_free(s);
		}
		unsetenv("JALAD_DNNL_HUGEPAGES");
		CHECK(out[0] && out[1] && n[0] == 1024 && n[1] == 1024 &&
		      !memcmp(out[0], out[1], 1024 * sizeof *out[0]));
		free(out[0]);
		free(out[1]);
	}
	jalad_model_free(m);
	free(buf);
}

static void check_mixed(void)
{
	size_t len;
	uint8_t *buf = make_mixed(&len);
	struct jalad_model *m = load_built("mixed", buf, len);
	if (m) {
		CHECK(jalad_model_node_count(m) == 19);
		check_model("mixed", m);
	}
	jalad_model_free(m);
	free(buf);
}

int main(void)
{
	struct jalad_model *m = NULL;
	struct jalad_session *s = NULL;
	struct jalad_session_opts so = {.threads = 1, .backend = "dnnl"};
	size_t len;
	uint8_t *buf = make_mixed(&len);
	/* Not compiled in: nothing to test. */
	if (buf && jalad_model_load_buffer(buf, len, NULL, &m) == JALAD_OK &&
	    jalad_session_create(m, &so, &s) == JALAD_ERR_UNSUPPORTED) {
		printf("test_dnnl: the dnnl backend is not compiled in\n");
		CHECK(1);
		jalad_model_free(m);
		free(buf);
		TEST_MAIN_END("test_dnnl");
	}
	jalad_session_free(s);
	jalad_model_free(m);
	free(buf);

#ifdef JALAD_HAVE_DNNL
	check_silu();
	check_wino_weights();
#endif
	check_mixed();
	check_modern();
	check_wino();
	check_wino_threads();
	check_matmul();
	check_fcconv();
	check_reduce();
	check_shuffle();
	check_viewsum();
	check_bigfc();
	check_file("models/fmnist-vgg.onnx");
	check_file("models/fmnist-resnet.onnx");
	TEST_MAIN_END("test_dnnl");
}
