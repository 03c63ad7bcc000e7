/*
 * Native units: one oneDNN primitive per ONNX node.
 *
 * Layouts: Conv chooses its own (format "any": NHWC for the direct brgconv
 * kernels, nChw16c for Winograd; nChw16c throughout in graphs with depthwise
 * convolutions, see dn_pick_layout), pools, activations, BatchNormalization
 * and Add keep their input's layout, Gemm and Softmax work on plain
 * buffers; shape ops, Transpose and Slice write plain outputs (views of
 * their input where they can, else reorders), and a Concat read only by
 * them writes a plain output with one reorder per input. A builder that
 * cannot express a node returns JALAD_ERR_UNSUPPORTED and the node runs
 * the reference kernel.
 */
#ifdef JALAD_HAVE_DNNL
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_impl.h"
#include "engine/backends/ref/ref_ops_nn.h"
#include "engine/backends/ref/ref_ops_tensor.h"

#define UNSUPPORTED JALAD_ERR_UNSUPPORTED

/* ------------------------------------------------------------ helpers */

/* A non-constant float32 input (the activations oneDNN runs on), or -1. */
static int act_input(const struct dn_state *s, const struct jalad_node *n, int k)
{
	if (k >= n->n_in || n->in[k] < 0)
		return -1;
	int t = n->in[k];
	if (!s->t[t].f32 || s->g->tensors[t].data)
		return -1;
	return t;
}

/* A float32 input (constant or not), or -1. */
static int f32_input(const struct dn_state *s, const struct jalad_node *n, int k)
{
	if (k >= n->n_in || n->in[k] < 0 || !s->t[n->in[k]].f32)
		return -1;
	return n->in[k];
}

/* The single output of a node (others absent), float32, or -1. */
static int single_output(const struct dn_state *s, const struct jalad_node *n)
{
	if (n->n_out < 1 || n->out[0] < 0 || !s->t[n->out[0]].f32)
		return -1;
	for (int k = 1; k < n->n_out; k++)
		if (n->out[k] >= 0 && s->g->tensors[n->out[k]].name[0])
			return -1;
	return n->out[0];
}

/* ------------------------------------------------------------ shared primitives */

/* Bytes of op descriptor od (its kind's struct), 0 for a kind not shared. */
static size_t od_size(const void *od)
{
	dnnl_primitive_kind_t kind;
	memcpy(&kind, od, sizeof kind);
	switch (kind) {
	case dnnl_convolution:
		return sizeof(dnnl_convolution_desc_t);
	case dnnl_inner_product:
		return sizeof(dnnl_inner_product_desc_t);
	case dnnl_pooling_v2:
		return sizeof(dnnl_pooling_v2_desc_t);
	case dnnl_eltwise:
		return sizeof(dnnl_eltwise_desc_t);
	case dnnl_binary:
		return sizeof(dnnl_binary_desc_t);
	case dnnl_softmax_v2:
		return sizeof(dnnl_softmax_v2_desc_t);
	case dnnl_batch_normalization:
		return sizeof(dnnl_batch_normalization_desc_t);
	case dnnl_matmul:
		return sizeof(dnnl_matmul_desc_t);
	default:
		return 0;
	}
}

/* One post-op in a primitive's key; fields a kind does not use are zero. */
struct dn_po_key {
	int kind, alg, md, mask;
	float scale, alpha, beta;
	int dt[3];
	dnnl_dim_t kernel, stride, pad, count;
};

static int po_key(struct dn_state *s, const_dnnl_post_ops_t po, int k, struct dn_po_key *e)
{
	memset(e, 0, sizeof *e);
	e->kind = dnnl_post_ops_get_kind(po, k);
	switch (e->kind) {
	case dnnl_sum:
		return dnnl_post_ops_get_params_sum(po, k, &e->scale) == dnnl_success;
	case dnnl_eltwise: {
		dnnl_alg_kind_t alg;
		if (dnnl_post_ops_get_params_eltwise(po, k, &e->scale, &alg, &e->alpha, &e->beta) != dnnl_success)
			return 0;
		e->alg = alg;
		return 1;
	}
	case dnnl_binary: {
		dnnl_alg_kind_t alg;
		const dnnl_memory_desc_t *md;
		if (dnnl_post_ops_get_params_binary(po, k, &alg, &md) != dnnl_success ||
		    dn_md_id(s, md, &e->md) != JALAD_OK)
			return 0;
		e->alg = alg;
		return 1;
	}
	case dnnl_convolution: {
		dnnl_data_type_t dt[3];
		const float *scales;
		if (dnnl_post_ops_get_params_dw(po, k, &dt[0], &dt[1], &dt[2], &e->kernel, &e->stride, &e->pad,
						&e->count, &e->mask, &scales) != dnnl_success ||
		    e->count > 0)
			return 0;
		for (int i = 0; i < 3; i++)
			e->dt[i] = dt[i];
		return 1;
	}
	default:
		return 0;
	}
}

/* What a primitive is made from: the op descriptor's bytes, the thread
 * count it is made for (kernels size their work by it) and the post-ops.
 * *key is NULL (nothing to share) for an op or a post-op not described
 * here; free with free(). */
static enum jalad_status prim_key(struct dn_state *s, const void *od, const_dnnl_post_ops_t po,
				  unsigned char **key, size_t *len)
{
	size_t n = od_size(od);
	int npo = po ? dnnl_post_ops_len(po) : 0;
	*key = NULL;
	*len = 0;
	if (!n || npo < 0)
		return JALAD_OK;
	size_t total = n + sizeof(int) + (size_t)npo * sizeof(struct dn_po_key);
	unsigned char *b = malloc(total);
	JALAD_RETURN_IF(!b, JALAD_ERR_NOMEM, "dnnl backend: primitive key");
	memcpy(b, od, n);
	memcpy(b + n, &s->nthr, sizeof(int));
	for (int k = 0; k < npo; k++) {
		struct dn_po_key e;
		if (!po_key(s, po, k, &e)) {
			free(b);
			return JALAD_OK;
		}
		memcpy(b + n + sizeof(int) + (size_t)k * sizeof e, &e, sizeof e);
	}
	*key = b;
	*len = total;
	return JALAD_OK;
}

/* Make a primitive from an op descriptor with post-ops (may be NULL), or
 * share the one made from the same key: identical nodes (every Relu on
 * [1, 16]...) get one primitive between them. */
enum jalad_status dn_make_prim(struct dn_state *s, const void *od, const_dnnl_post_ops_t po,
			       dnnl_primitive_desc_t *pd_out, int *prim)
{
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd = NULL;
	unsigned char *key;
	size_t len;
	JALAD_FORWARD(prim_key(s, od, po, &key, &len));
	if (key && (*prim = dn_prim_find(s, key, len)) >= 0) {
		free(key);
		*pd_out = s->prims[*prim].pd;
		return JALAD_OK;
	}
	enum jalad_status st = dn_attr_new(&attr, po);
	if (st != JALAD_OK)
		goto fail;
	dnnl_status_t ds = dnnl_primitive_desc_create(&pd, od, attr, s->eng, NULL);
	dnnl_primitive_attr_destroy(attr);
	/* Keep the pd for the caller's queries; dn_prim_add keeps it too. */
	if ((st = dn_check(ds, "primitive descriptor")) != JALAD_OK || (st = dn_prim_add(s, pd, 1, prim)) != JALAD_OK)
		goto fail;
	if (key && (st = dn_prim_share(s, *prim, key, len)) != JALAD_OK)
		goto fail;
	*pd_out = pd;
fail:
	free(key);
	return st;
}

/* The Conv/Gemm descriptor od of primitive prim, kept once per primitive
 * (its main units borrow it). */
static enum jalad_status prim_od(struct dn_state *s, int prim, const union dn_opdesc *od,
				 const union dn_opdesc **out)
{
	struct dn_prim *p = &s->prims[prim];
	if (!p->od) {
		p->od = malloc(sizeof *p->od);
		JALAD_RETURN_IF(!p->od, JALAD_ERR_NOMEM, "dnnl backend: descriptor");
		*p->od = *od;
	}
	*out = p->od;
	return JALAD_OK;
}

static const dnnl_memory_desc_t *pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t q)
{
	return dnnl_primitive_desc_query_md(pd, q, 0);
}

const char *dn_pd_impl(const_dnnl_primitive_desc_t pd)
{
	const char *name = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success)
		return "?";
	return name;
}

/* Memory on constant data, seen through md (plain). */
static enum jalad_status const_mem(struct dn_state *s, int t, const dnnl_memory_desc_t *md,
				   dnnl_memory_t *out)
{
	return dn_mem_new(s, md, s->g->tensors[t].data, out);
}

/* Weights in the layout want: the constant itself when it already is, else
 * a reordered copy owned by the backend. */
static enum jalad_status weights_mem(struct dn_state *s, int t, const dnnl_memory_desc_t *user,
				     const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
	void *buf;
	if (dn_md_equal(user, want)) {
		/* Used in place, unless huge pages are on (dn_big_alloc) and
		 * it is big enough for them and small enough to stay in the
		 * L3 cache between runs: a Gemm's weights kept plain (above
		 * 4 MiB). */
		size_t nb = dn_md_bytes(want);
		if (!s->huge || nb < DN_HUGE / 2 || nb > DN_COPY_MAX)
			return const_mem(s, t, user, out);
		JALAD_FORWARD(dn_buf_new(s, nb, &buf));
		memcpy(buf, s->g->tensors[t].data, nb);
		return dn_mem_new(s, want, buf, out);
	}
	JALAD_FORWARD(dn_buf_new(s, dn_md_bytes(want), &buf));
	JALAD_FORWARD(dn_mem_new(s, want, buf, out));
	/* The reorder runs later, with the others (dn_weights_run). */
	return dn_weights_add(s, user, want, s->g->tensors[t].data, *out);
}

/* A parameter input (weights, bias, statistics) in layout want: prepared
 * once when it is a constant (user: its plain layout), else read from its
 * home at run time like an activation. */
static enum jalad_status param_ref(struct dn_state *s, struct dn_unit *u, int node, int t,
				   const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
				   struct dn_ref *out)
{
	if (s->g->tensors[t].data) {
		dnnl_memory_t m;
		JALAD_FORWARD(weights_mem(s, t, user, want, &m));
		dn_ref_mem(out, m);
		return JALAD_OK;
	}
	if (!dn_md_is_plain(dn_home(s, t)))
		return dn_input_ref(s, u, node, t, want, out);
	if (dn_md_equal(user, want))
		return dn_ref_home(s, out, t, want);
	/* A plain home seen as user (grouped weights have one more dim),
	 * reordered into a temp on every run. */
	int prim;
	struct dn_step *st;
	struct dn_ref r;
	JALAD_FORWARD(dn_reorder_get(s, user, want, &prim));
	JALAD_FORWARD(dn_ref_temp_new(s, node, want, out));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(dn_ref_home(s, &r, t, user));
	JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_FROM, &r));
	return dn_step_arg(st, DNNL_ARG_TO, out);
}

static enum jalad_status add_ref(struct dn_step *st, int arg, const struct dn_ref *r)
{
	return dn_step_arg(st, arg, r);
}

static enum jalad_status add_home(struct dn_state *s, struct dn_step *st, int arg, int t,
				  const dnnl_memory_desc_t *md)
{
	struct dn_ref r;
	JALAD_FORWARD(dn_ref_home(s, &r, t, md));
	return dn_step_arg(st, arg, &r);
}

/* The unit's result: output tensor y lives in home md. */
static enum jalad_status set_out(struct dn_state *s, struct dn_unit *u, int y, const dnnl_memory_desc_t *md,
				 const_dnnl_primitive_desc_t pd)
{
	JALAD_FORWARD(dn_md_id(s, md, &s->t[y].home_md));
	s->t[y].native_out = 1;
	u->out = y;
	u->impl = pd ? dn_pd_impl(pd) : "";
	return JALAD_OK;
}

/* ------------------------------------------------------------ Conv */

/* Is node n a depthwise convolution (group > 1, one input channel per
 * group)? */
static int is_depthwise(const struct jalad_graph *g, const struct jalad_node *n)
{
	if (strcmp(n->op_type, "Conv") != 0 || n->n_in < 2 || n->in[1] < 0)
		return 0;
	const struct jalad_tensor_ir *w = &g->tensors[n->in[1]];
	return jalad_attr_int(n, "group", 1) > 1 && w->ndim == 4 && w->dims[1] == 1;
}

/* Layout of the 2-D convolutions' activations, one choice for the whole
 * graph so that no reorder sits between two convolutions:
 *   - format "any" (oneDNN picks NHWC and its brgemm kernels; nChw16c for
 *     Winograd) by default;
 *   - nChw16c everywhere when the graph has a depthwise convolution
 *     (MobileNets): there oneDNN's blocked kernels (jit_dw, jit_1x1,
 *     jit) beat the NHWC ones (brdgmm_dw, brgconv_1x1, brgconv) on the
 *     wide, shallow layers of the first stages (16 -> 96 channels at
 *     112x112: 0.40 against 0.67 ms), on the depthwise layers at 112x112
 *     and 56x56, on the first convolution (3 input channels, read as NCHW
 *     without a reorder) and on the 1x1 classifier: MobileNetV2 takes
 *     0.93-0.95x the time on one thread (Zen 4, 2 vCPUs). Graphs without
 *     depthwise convolutions keep "any" (ResNet-50: about level).
 * A convolution that has no real kernel in nChw16c (grouped with 8
 * channels per group...) falls back to "any", with reorders around it.
 * JALAD_DNNL_LAYOUT=nhwc ("any") or =blocked forces one (benchmarks, debugging). */
void dn_pick_layout(struct dn_state *s)
{
	const char *env = getenv("JALAD_DNNL_LAYOUT");
	s->blocked = 0;
	if (env && !strcmp(env, "blocked")) {
		s->blocked = 1;
	} else if (!env || strcmp(env, "nhwc") != 0) {
		for (int i = 0; i < s->g->n_nodes && !s->blocked; i++)
			s->blocked = is_depthwise(s->g, &s->g->nodes[i]);
	}
}

/* Node i+1 adds y (node i's output) to a tensor made before: that tensor,
 * or -1. */
static int residual_partner(const struct dn_state *s, int i, int y)
{
	const struct jalad_graph *g = s->g;
	if (i + 1 >= g->n_nodes)
		return -1;
	const struct jalad_node *an = &g->nodes[i + 1];
	if (strcmp(an->op_type, "Add") != 0 || an->n_in != 2)
		return -1;
	int o = an->in[0] == y ? an->in[1] : an->in[1] == y ? an->in[0] : -1;
	if (o < 0 || o == y || !s->t[o].native_out || g->tensors[o].producer >= i ||
	    g->tensors[o].ndim != g->tensors[y].ndim ||
	    memcmp(g->tensors[o].dims, g->tensors[y].dims, (size_t)g->tensors[y].ndim * sizeof(int64_t)) != 0)
		return -1;
	return o;
}

static enum jalad_status build_conv(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), w = f32_input(s, n, 1), y = single_output(s, n);
	int b = n->n_in > 2 && n->in[2] >= 0 ? f32_input(s, n, 2) : -2;
	if (x < 0 || w < 0 || y < 0 || b == -1)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *xi = &g->tensors[x], *wi = &g->tensors[w], *yi = &g->tensors[y];
	int nsp = xi->ndim - 2;
	if (nsp < 1 || nsp > NN_MAX_SP || wi->ndim != xi->ndim)
		return UNSUPPORTED;
	int64_t group = jalad_attr_int(n, "group", 1);
	struct nn_spatial sp;
	if (nn_spatial_infer(n, nsp, xi->dims + 2, wi->dims + 2, 0, &sp) != JALAD_OK)
		return UNSUPPORTED;

	dnnl_memory_desc_t src, wt, wuser, bias, dst;
	int64_t wd[JALAD_MAX_DIMS + 1];
	int wn = 0;
	if (group > 1)
		wd[wn++] = group;
	wd[wn++] = wi->dims[0] / group;
	for (int k = 1; k < wi->ndim; k++)
		wd[wn++] = wi->dims[k];
	dn_md_tag(&src, xi->ndim, xi->dims, dnnl_format_tag_any);
	dn_md_tag(&wt, wn, wd, dnnl_format_tag_any);
	dn_md_plain(&wuser, wn, wd);
	dn_md_tag(&dst, yi->ndim, yi->dims, dnnl_format_tag_any);
	/* nChw16c on request (dn_pick_layout); a source of fewer than 8
	 * channels (an RGB image) stays "any": the kernels read it as is. */
	int blocked = s->blocked && nsp == 2;
	if (blocked) {
		if (xi->dims[1] >= 8)
			dn_md_tag(&src, xi->ndim, xi->dims, dnnl_nChw16c);
		dn_md_tag(&dst, yi->ndim, yi->dims, dnnl_nChw16c);
	}
	if (b >= 0)
		dn_md_plain(&bias, 1, &wi->dims[0]);
	dnnl_dims_t strides, dil, pl, pr;
	int off = NN_MAX_SP - nsp;
	for (int k = 0; k < nsp; k++) {
		strides[k] = sp.s[off + k];
		dil[k] = sp.d[off + k] - 1;
		pl[k] = sp.pb[off + k];
		pr[k] = sp.pe[off + k];
	}
	union dn_opdesc od;
	dnnl_primitive_desc_t pd = NULL;
	int prim = -1;
	/* Winograd where dn_pick_winograd() chose it (wino_candidate() says
	 * which shapes), else the direct kernels below. */
	if (s->winograd && s->wino[i] &&
	    dnnl_convolution_forward_desc_init(&od.conv, dnnl_forward_inference, dnnl_convolution_winograd, &src,
					       &wt, b >= 0 ? &bias : NULL, &dst, strides, pl, pr) == dnnl_success) {
		enum jalad_status st = dn_make_prim(s, &od, NULL, &pd, &prim);
		if (st != JALAD_OK && st != UNSUPPORTED)
			return st;
		if (st != JALAD_OK)
			prim = -1;
	}
	/* A residual Add right after: write in the other operand's layout so
	 * that the Add can become a sum post-op (dnnl_fuse.c) and never
	 * mixes layouts, if a real kernel takes it. */
	int o = residual_partner(s, i, y);
	if (prim < 0 && o >= 0 && !dn_md_is_plain(dn_home(s, o)) &&
	    dnnl_dilated_convolution_forward_desc_init(&od.conv, dnnl_forward_inference, dnnl_convolution_direct,
						       &src, &wt, b >= 0 ? &bias : NULL, dn_home(s, o), strides,
						       dil, pl, pr) == dnnl_success) {
		enum jalad_status st = dn_make_prim(s, &od, NULL, &pd, &prim);
		if (st != JALAD_OK && st != UNSUPPORTED)
			return st;
		if (st == JALAD_OK && !strncmp(dn_pd_impl(pd), "ref", 3))
			prim = -1; /* the primitive stays unused in the table */
		else if (st != JALAD_OK)
			prim = -1;
	}
	if (prim < 0 && blocked) {
		/* nChw16c where a real kernel takes it, else "any" below */
		if (dnnl_dilated_convolution_forward_desc_init(&od.conv, dnnl_forward_inference,
							       dnnl_convolution_direct, &src, &wt,
							       b >= 0 ? &bias : NULL, &dst, strides, dil, pl,
							       pr) == dnnl_success) {
			enum jalad_status st = dn_make_prim(s, &od, NULL, &pd, &prim);
			if (st != JALAD_OK && st != UNSUPPORTED)
				return st;
			if (st != JALAD_OK || !strncmp(dn_pd_impl(pd), "ref", 3))
				prim = -1; /* a made primitive stays unused in the table */
		}
		dn_md_tag(&src, xi->ndim, xi->dims, dnnl_format_tag_any);
		dn_md_tag(&dst, yi->ndim, yi->dims, dnnl_format_tag_any);
	}
	if (prim < 0) {
		DN_TRY(dnnl_dilated_convolution_forward_desc_init(&od.conv, dnnl_forward_inference,
								  dnnl_convolution_direct, &src, &wt,
								  b >= 0 ? &bias : NULL, &dst, strides, dil, pl, pr),
		       "convolution descriptor");
		JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	}
	/* Concrete layouts, so that a fused variant makes the same choice. */
	od.conv.src_desc = *pd_md(pd, dnnl_query_src_md);
	od.conv.weights_desc = *pd_md(pd, dnnl_query_weights_md);
	od.conv.dst_desc = *pd_md(pd, dnnl_query_dst_md);
	if (b >= 0)
		od.conv.bias_desc = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
	JALAD_FORWARD(prim_od(s, prim, &od, &u->od));

	struct dn_ref xr, wr, br;
	struct dn_step *st;
	JALAD_FORWARD(param_ref(s, u, i, w, &wuser, &od.conv.weights_desc, &wr));
	if (b >= 0)
		JALAD_FORWARD(param_ref(s, u, i, b, &bias, &od.conv.bias_desc, &br));
	JALAD_FORWARD(dn_input_ref(s, u, i, x, &od.conv.src_desc, &xr));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_WEIGHTS, &wr));
	if (b >= 0)
		JALAD_FORWARD(add_ref(st, DNNL_ARG_BIAS, &br));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &od.conv.dst_desc));
	return set_out(s, u, y, &od.conv.dst_desc, pd);
}

/* ------------------------------------------------------------ Winograd budget */

/* On more than one thread, a layer below this many FLOPs loses more to
 * the three parallel phases of a Winograd convolution (input transform,
 * products, output transform, each ending at a barrier) than it saves:
 * the Fashion-MNIST VGG's 2-4 MFLOP layers at 2 threads took 0.086 ms
 * with Winograd against 0.083 direct on a quiet host, 0.174 against 0.121
 * when the second core is contended (1 thread: 0.110 against 0.132). The
 * smallest Winograd layers of the ImageNet zoo are above it but one of
 * GoogLeNet's (7 MFLOP, no change measured). */
#define WINO_MT_MIN_FLOPS ((int64_t)16000000)

/* Node i is a convolution the Winograd kernels take (3x3, stride 1, no
 * dilation, one group, 16+ channels each way, constant weights; on more
 * than one thread WINO_MT_MIN_FLOPS or more): its
 * output's H * W and its weights' bytes. On this class of CPU Winograd
 * (F(4x4,3x3) or F(2x2,3x3)) takes 0.25-0.8x the time of the direct
 * kernel, measured per layer from 7x7 to 224x224, at errors of about 1e-6
 * of the output's range; fewer channels or another shape: direct
 * (brgconv, NHWC). */
static int wino_candidate(const struct dn_state *s, int i, int64_t *hw, int64_t *wbytes)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	if (strcmp(n->op_type, "Conv") != 0 || n->n_in < 2 || n->n_out < 1)
		return 0;
	int x = act_input(s, n, 0), w = f32_input(s, n, 1), y = single_output(s, n);
	if (x < 0 || w < 0 || y < 0 || !g->tensors[w].data)
		return 0;
	const struct jalad_tensor_ir *xi = &g->tensors[x], *wi = &g->tensors[w], *yi = &g->tensors[y];
	struct nn_spatial sp;
	if (xi->ndim != 4 || wi->ndim != 4 || yi->ndim != 4 || jalad_attr_int(n, "group", 1) != 1 ||
	    nn_spatial_infer(n, 2, xi->dims + 2, wi->dims + 2, 0, &sp) != JALAD_OK)
		return 0;
	if (sp.k[1] != 3 || sp.k[2] != 3 || sp.s[1] != 1 || sp.s[2] != 1 || sp.d[1] != 1 || sp.d[2] != 1 ||
	    xi->dims[1] < 16 || yi->dims[1] < 16)
		return 0;
	if (s->threads > 1 && n->op->flops && n->op->flops(g, n) < WINO_MT_MIN_FLOPS)
		return 0;
	*hw = yi->dims[2] * yi->dims[3];
	*wbytes = (int64_t)jalad_ir_bytes(wi);
	return 1;
}

/* Winograd weights are transformed once per session: 1-3 ms per MB of a
 * layer's weights on one core (dnnl_wino.c; oneDNN's own reorder, scalar
 * code, took about 12); the kernel saves time in proportion to the layer's
 * FLOPs, i.e. to its weights times its output's H * W. Feature-map sizes
 * are taken largest first, each size whole, while the weights of the
 * layers taken stay within a quarter of the model's constant bytes, or 4
 * MB for small models: ResNet-50 keeps Winograd down to 14x14 and drops
 * its 7x7 layers (no faster on them), GoogLeNet keeps 56x56 and 28x28 and
 * drops its 14x14 inception layers (with them: 2-5% faster runs, 7 ms more
 * at session creation). */
#define WINO_FLOOR ((int64_t)4 << 20)

enum jalad_status dn_pick_winograd(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	int n = g->n_nodes;
	s->wino = calloc((size_t)(n ? n : 1), 1);
	int64_t *hw = calloc((size_t)(n ? n : 1), sizeof *hw), *wb = calloc((size_t)(n ? n : 1), sizeof *wb);
	if (!s->wino || !hw || !wb) {
		free(hw);
		free(wb);
		return jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: %d nodes", n);
	}
	int64_t total = 0, used = 0;
	for (int t = 0; t < g->n_tensors; t++)
		if (g->tensors[t].data && g->tensors[t].dtype == JALAD_DTYPE_FLOAT32)
			total += (int64_t)jalad_ir_bytes(&g->tensors[t]);
	for (int i = 0; i < n; i++)
		if (!wino_candidate(s, i, &hw[i], &wb[i]))
			hw[i] = 0;
	for (;;) {
		int64_t size = 0, bytes = 0;
		for (int i = 0; i < n; i++)
			if (!s->wino[i] && hw[i] > size)
				size = hw[i];
		if (!size)
			break;
		for (int i = 0; i < n; i++)
			if (hw[i] == size)
				bytes += wb[i];
		if (used + bytes > (total / 4 > WINO_FLOOR ? total / 4 : WINO_FLOOR))
			break;
		used += bytes;
		for (int i = 0; i < n; i++)
			if (hw[i] == size)
				s->wino[i] = 1;
	}
	free(hw);
	free(wb);
	return JALAD_OK;
}

/* ------------------------------------------------------------ Gemm */

#define GEMM_COPY_MAX ((size_t)4 << 20)
#define GEMM_CONV_MAX ((size_t)16 << 20)

/* Is md, a [m, k, 1, 1] descriptor, laid out byte for byte as the plain
 * [m, k] matrix? nChw16c is when k is a multiple of 16. */
static int plain_bytes_1x1(const dnnl_memory_desc_t *md)
{
	if (dn_md_is_plain(md))
		return 1;
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	return md->format_kind == dnnl_blocked && md->ndims == 4 && md->offset0 == 0 && md->dims[2] == 1 &&
	       md->dims[3] == 1 && md->padded_dims[1] == md->dims[1] && b->inner_nblks == 1 && b->inner_idxs[0] == 1 &&
	       md->dims[1] % b->inner_blks[0] == 0 && b->strides[1] == b->inner_blks[0] &&
	       (md->dims[0] == 1 || b->strides[0] == md->dims[1]);
}

/* A Gemm with constant weights of 4-16 MiB, too large for the inner
 * product's blocked copy (GEMM_COPY_MAX), over k % 16 == 0 inputs: run as
 * a 1x1 convolution on a 1x1 map in nChw16c, where oneDNN's jit_1x1 kernel
 * reads its own blocked copy of the weights. MobileNetV2's and
 * EfficientNet-B0's 1280 x 1000 classifiers: the whole model 1-2% faster
 * at one thread than with the gemm kernel on the model's matrix (paired
 * runs). The input is read in place (its bytes are the nChw16c tensor);
 * an output whose width is not a multiple of 16 is padded by the kernel
 * and copied out by a reorder step (the unit then does not fuse). Returns
 * UNSUPPORTED, having added nothing, where oneDNN offers no jit_1x1 kernel
 * (CPUs without AVX-512): the inner product runs instead. */
static enum jalad_status gemm_as_conv(struct dn_state *s, int i, struct dn_unit *u, int transb,
				      const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst2)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int a = n->in[0], bw = n->in[1], y = n->out[0], c = n->n_in > 2 ? n->in[2] : -1;
	int64_t m = g->tensors[a].dims[0], k = g->tensors[a].dims[1], nn = g->tensors[y].dims[1];
	int64_t sd[4] = {m, k, 1, 1}, wd[4] = {nn, k, 1, 1}, dd[4] = {m, nn, 1, 1};
	dnnl_dims_t one = {1, 1}, zero = {0, 0};
	dnnl_memory_desc_t src, wuser, wany, dst, dplain;
	dn_md_tag(&src, 4, sd, dnnl_nChw16c);
	dn_md_tag(&wuser, 4, wd, transb ? dnnl_oihw : dnnl_iohw);
	dn_md_tag(&wany, 4, wd, dnnl_format_tag_any);
	dn_md_tag(&dst, 4, dd, dnnl_nChw16c);
	dn_md_plain(&dplain, 4, dd);
	union dn_opdesc od;
	DN_TRY(dnnl_convolution_forward_desc_init(&od.conv, dnnl_forward_inference, dnnl_convolution_direct, &src,
						  &wany, c >= 0 ? bias : NULL, &dst, one, zero, zero),
	       "convolution descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	const dnnl_memory_desc_t *ps = pd_md(pd, dnnl_query_src_md), *pdst = pd_md(pd, dnnl_query_dst_md);
	if (!strstr(dn_pd_impl(pd), "jit_1x1") || !plain_bytes_1x1(ps))
		return UNSUPPORTED;
	int in_place = plain_bytes_1x1(pdst);
	if (in_place) /* a trailing reorder step would take the post-ops */
		JALAD_FORWARD(prim_od(s, prim, &od, &u->od));
	struct dn_ref ar, wr, cr;
	struct dn_step *st;
	JALAD_FORWARD(param_ref(s, u, i, bw, &wuser, pd_md(pd, dnnl_query_weights_md), &wr));
	if (c >= 0)
		JALAD_FORWARD(param_ref(s, u, i, c, bias, bias, &cr));
	JALAD_FORWARD(dn_ref_home(s, &ar, a, ps));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &ar));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_WEIGHTS, &wr));
	if (c >= 0)
		JALAD_FORWARD(add_ref(st, DNNL_ARG_BIAS, &cr));
	if (in_place) {
		JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, pdst));
	} else {
		struct dn_ref tr, hr;
		JALAD_FORWARD(dn_ref_temp_new(s, i, pdst, &tr));
		JALAD_FORWARD(add_ref(st, DNNL_ARG_DST, &tr));
		JALAD_FORWARD(dn_ref_home(s, &hr, y, &dplain));
		JALAD_FORWARD(dn_copy_steps(s, u, &tr, &hr, 1));
	}
	return set_out(s, u, y, dst2, pd);
}

static enum jalad_status build_gemm(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int a = act_input(s, n, 0), bw = f32_input(s, n, 1), y = single_output(s, n);
	int c = n->n_in > 2 && n->in[2] >= 0 ? f32_input(s, n, 2) : -2;
	if (a < 0 || bw < 0 || y < 0 || c == -1)
		return UNSUPPORTED;
	if (jalad_attr_int(n, "transA", 0) != 0 || jalad_attr_float(n, "alpha", 1.0f) != 1.0f ||
	    (c >= 0 && jalad_attr_float(n, "beta", 1.0f) != 1.0f))
		return UNSUPPORTED;
	const struct jalad_tensor_ir *ai = &g->tensors[a], *bi = &g->tensors[bw], *yi = &g->tensors[y];
	if (ai->ndim != 2 || bi->ndim != 2 || yi->ndim != 2)
		return UNSUPPORTED;
	int transb = jalad_attr_int(n, "transB", 0) != 0;
	int64_t m = ai->dims[0], k = ai->dims[1], nn = yi->dims[1];
	if ((transb ? bi->dims[1] : bi->dims[0]) != k || (transb ? bi->dims[0] : bi->dims[1]) != nn)
		return UNSUPPORTED;
	if (c >= 0) {
		const struct jalad_tensor_ir *ci = &g->tensors[c];
		int ok = (ci->ndim == 1 && ci->dims[0] == nn) ||
			 (ci->ndim == 2 && ci->dims[0] == 1 && ci->dims[1] == nn);
		if (!ok)
			return UNSUPPORTED;
	}
	dnnl_memory_desc_t src, wt, bias, dst;
	int64_t sd[2] = {m, k}, wd[2] = {nn, k}, dd[2] = {m, nn};
	dn_md_plain(&src, 2, sd);
	dn_md_tag(&wt, 2, wd, transb ? dnnl_ab : dnnl_ba);
	dn_md_plain(&bias, 1, &nn);
	dn_md_plain(&dst, 2, dd);
	/* Constant weights up to 4 MiB go into the layout oneDNN prefers,
	 * once: where they stay in cache between runs its brgemm kernel on
	 * blocked weights reads them about twice as fast as the gemm kernel
	 * on the model's row-major matrix (MobileNetV3's 1024 x 1000
	 * classifier: 0.038 ms instead of 0.072 hot). Larger ones come from
	 * memory at the same speed either way, and a copy would double them
	 * (VGG-16: 400 MB). */
	size_t wbytes = jalad_ir_bytes(bi);
	if (g->tensors[bw].data && wbytes > GEMM_COPY_MAX && wbytes <= GEMM_CONV_MAX && k % 16 == 0 &&
	    dn_md_is_plain(dn_home(s, a))) {
		enum jalad_status st = gemm_as_conv(s, i, u, transb, &bias, &dst);
		if (st != JALAD_ERR_UNSUPPORTED)
			return st;
	}
	dnnl_memory_desc_t wany;
	int own = g->tensors[bw].data && wbytes <= GEMM_COPY_MAX;
	dn_md_tag(&wany, 2, wd, own ? dnnl_format_tag_any : (transb ? dnnl_ab : dnnl_ba));
	union dn_opdesc od;
	DN_TRY(dnnl_inner_product_forward_desc_init(&od.ip, dnnl_forward_inference, &src, &wany,
						    c >= 0 ? &bias : NULL, &dst),
	       "inner product descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	JALAD_FORWARD(prim_od(s, prim, &od, &u->od));
	struct dn_ref ar, wr, cr;
	struct dn_step *st;
	/* The weights stay where the model holds them (no copy): at batch 1
	 * the product streams them once either way. */
	JALAD_FORWARD(param_ref(s, u, i, bw, &wt, pd_md(pd, dnnl_query_weights_md), &wr));
	if (c >= 0)
		JALAD_FORWARD(param_ref(s, u, i, c, &bias, &bias, &cr));
	JALAD_FORWARD(dn_input_ref(s, u, i, a, &src, &ar));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &ar));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_WEIGHTS, &wr));
	if (c >= 0)
		JALAD_FORWARD(add_ref(st, DNNL_ARG_BIAS, &cr));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &dst));
	return set_out(s, u, y, &dst, pd);
}

/* ------------------------------------------------------------ MatMul */

static void pad_dims(const struct jalad_tensor_ir *t, int r, int64_t *out);

/* MatMul of (..., M, K) by (..., K, N), both of rank 2 or more, batch dims
 * broadcast numpy-style (oneDNN's matmul takes dims of 1 as broadcast),
 * on plain buffers: a classifier head written as MatMul (+ Add), or
 * batched products. 1-D operands and a non-plain activation run the
 * reference kernel. */
static enum jalad_status build_matmul(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int a = act_input(s, n, 0), b = f32_input(s, n, 1), y = single_output(s, n);
	if (a < 0 || b < 0 || y < 0)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *ai = &g->tensors[a], *bi = &g->tensors[b], *yi = &g->tensors[y];
	int r = yi->ndim;
	if (ai->ndim < 2 || bi->ndim < 2 || r != (ai->ndim > bi->ndim ? ai->ndim : bi->ndim) ||
	    r > DNNL_MAX_NDIMS || !dn_md_is_plain(dn_home(s, a)) ||
	    (!bi->data && !dn_md_is_plain(dn_home(s, b))))
		return UNSUPPORTED;
	int64_t ad[JALAD_MAX_DIMS], bd[JALAD_MAX_DIMS];
	pad_dims(ai, r, ad);
	pad_dims(bi, r, bd);
	if (ad[r - 1] != bd[r - 2] || yi->dims[r - 2] != ad[r - 2] || yi->dims[r - 1] != bd[r - 1])
		return UNSUPPORTED;
	for (int k = 0; k < r - 2; k++)
		if ((ad[k] != yi->dims[k] && ad[k] != 1) || (bd[k] != yi->dims[k] && bd[k] != 1))
			return UNSUPPORTED;
	dnnl_memory_desc_t amd, bmd, ymd;
	dn_md_plain(&amd, r, ad);
	dn_md_plain(&bmd, r, bd);
	dn_md_plain(&ymd, r, yi->dims);
	union {
		dnnl_matmul_desc_t mm;
	} od;
	DN_TRY(dnnl_matmul_desc_init(&od.mm, &amd, &bmd, NULL, &ymd), "matmul descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	struct dn_ref ar, br;
	struct dn_step *st;
	JALAD_FORWARD(param_ref(s, u, i, b, &bmd, &bmd, &br));
	JALAD_FORWARD(dn_input_ref(s, u, i, a, &amd, &ar));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &ar));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_WEIGHTS, &br));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &ymd));
	return set_out(s, u, y, &ymd, pd);
}

/* ------------------------------------------------------------ pools */

static enum jalad_status build_pool(struct dn_state *s, int i, struct dn_unit *u, int global, int max)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *xi = &g->tensors[x], *yi = &g->tensors[y];
	int nsp = xi->ndim - 2;
	if (nsp < 1 || nsp > NN_MAX_SP || yi->ndim != xi->ndim)
		return UNSUPPORTED;
	dnnl_dims_t strides, kern, dil, pl, pr;
	dnnl_alg_kind_t alg = max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding;
	if (global) {
		for (int k = 0; k < nsp; k++) {
			strides[k] = 1;
			kern[k] = xi->dims[2 + k];
			dil[k] = pl[k] = pr[k] = 0;
		}
	} else {
		const int64_t *ks;
		int nks;
		struct nn_spatial sp;
		int ceil_mode = jalad_attr_int(n, "ceil_mode", 0) != 0;
		int incl = !max && jalad_attr_int(n, "count_include_pad", 0) != 0;
		jalad_attr_ints(n, "kernel_shape", &ks, &nks);
		if (nks != nsp || nn_spatial_infer(n, nsp, xi->dims + 2, ks, ceil_mode, &sp) != JALAD_OK)
			return UNSUPPORTED;
		int off = NN_MAX_SP - nsp;
		for (int k = 0; k < nsp; k++) {
			int64_t dk = (sp.k[off + k] - 1) * sp.d[off + k] + 1;
			/* ceil_mode: pad the end so that the last window fits. */
			int64_t need = (yi->dims[2 + k] - 1) * sp.s[off + k] + dk - xi->dims[2 + k] - sp.pb[off + k];
			strides[k] = sp.s[off + k];
			kern[k] = sp.k[off + k];
			dil[k] = sp.d[off + k] - 1;
			pl[k] = sp.pb[off + k];
			pr[k] = need > sp.pe[off + k] ? need : sp.pe[off + k];
			/* With count_include_pad the extra end padding would
			 * count in the divisor; the reference does not. */
			if (incl && need > sp.pe[off + k])
				return UNSUPPORTED;
		}
		if (incl)
			alg = dnnl_pooling_avg_include_padding;
	}
	dnnl_memory_desc_t dst;
	const dnnl_memory_desc_t *src = dn_home(s, x);
	dn_md_tag(&dst, yi->ndim, yi->dims, dnnl_format_tag_any);
	dnnl_pooling_v2_desc_t od;
	DN_TRY(dnnl_pooling_v2_forward_desc_init(&od, dnnl_forward_inference, alg, src, &dst, strides, kern,
						 dil, pl, pr),
	       "pooling descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	dst = *pd_md(pd, dnnl_query_dst_md);
	struct dn_ref xr;
	struct dn_step *st;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, src, &xr));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &dst));
	return set_out(s, u, y, &dst, pd);
}

/* ReduceMean over exactly the spatial axes of an (N, C, spatial...) input:
 * a global average pooling (ShuffleNetV2 ends so). With keepdims the
 * pooling writes the output as GlobalAveragePool does; without, the pooled
 * (N, C, 1...) map goes through a temporary into the plain (N, C) output. */
static enum jalad_status build_reduce_mean(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0 || n->op != &jalad_op_reduce_mean || !n->params)
		return UNSUPPORTED;
	const struct jalad_tops_reduce *p = n->params;
	const struct jalad_tensor_ir *xi = &g->tensors[x], *yi = &g->tensors[y];
	int r = xi->ndim;
	if (r < 3 || r > 2 + NN_MAX_SP || p->noop || p->mask != ((1u << r) - 1) - 3u)
		return UNSUPPORTED;
	if (yi->ndim == r)
		return build_pool(s, i, u, 1, 0);
	if (yi->ndim != 2 || yi->dims[0] != xi->dims[0] || yi->dims[1] != xi->dims[1])
		return UNSUPPORTED;
	int64_t pdims[JALAD_MAX_DIMS];
	dnnl_dims_t strides, kern, zero;
	for (int k = 0; k < r; k++)
		pdims[k] = k < 2 ? xi->dims[k] : 1;
	for (int k = 0; k < r - 2; k++) {
		strides[k] = 1;
		kern[k] = xi->dims[2 + k];
		zero[k] = 0;
	}
	dnnl_memory_desc_t any, plain;
	dn_md_tag(&any, r, pdims, dnnl_format_tag_any);
	dn_md_plain(&plain, r, pdims);
	dnnl_pooling_v2_desc_t od;
	DN_TRY(dnnl_pooling_v2_forward_desc_init(&od, dnnl_forward_inference, dnnl_pooling_avg_exclude_padding,
						 dn_home(s, x), &any, strides, kern, zero, zero, zero),
	       "pooling descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	struct dn_ref xr, tr, yr;
	struct dn_step *st;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, dn_home(s, x), &xr));
	JALAD_FORWARD(dn_ref_temp_new(s, i, pd_md(pd, dnnl_query_dst_md), &tr));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_DST, &tr));
	JALAD_FORWARD(dn_ref_home(s, &yr, y, &plain));
	JALAD_FORWARD(dn_copy_steps(s, u, &tr, &yr, 0));
	return set_out(s, u, y, dn_plain(s, y), pd);
}

/* ------------------------------------------------------------ activations */

/* A constant scalar float input k of n into *v; 0 if absent, 1 if read,
 * -1 if present but not a constant float scalar. */
static int const_scalar(const struct jalad_graph *g, const struct jalad_node *n, int k, float *v)
{
	if (k >= n->n_in || n->in[k] < 0)
		return 0;
	const struct jalad_tensor_ir *t = &g->tensors[n->in[k]];
	if (!t->data || t->dtype != JALAD_DTYPE_FLOAT32 || jalad_ir_numel(t) != 1)
		return -1;
	*v = *(const float *)t->data;
	return 1;
}

int dn_node_act(const struct jalad_graph *g, const struct jalad_node *n, struct dn_act *act)
{
	const char *op = n->op_type;
	act->n = 1;
	act->alpha = act->beta = act->alpha2 = act->beta2 = 0.0f;
	act->alg2 = dnnl_alg_kind_undef;
	if (!strcmp(op, "Relu")) {
		act->alg = dnnl_eltwise_relu;
	} else if (!strcmp(op, "LeakyRelu")) {
		act->alg = dnnl_eltwise_relu;
		act->alpha = jalad_attr_float(n, "alpha", 0.01f);
	} else if (!strcmp(op, "Sigmoid")) {
		act->alg = dnnl_eltwise_logistic;
	} else if (!strcmp(op, "Tanh")) {
		act->alg = dnnl_eltwise_tanh;
	} else if (!strcmp(op, "Exp")) {
		act->alg = dnnl_eltwise_exp;
	} else if (!strcmp(op, "Abs")) {
		act->alg = dnnl_eltwise_abs;
	} else if (!strcmp(op, "Log")) {
		act->alg = dnnl_eltwise_log;
	} else if (!strcmp(op, "Elu")) {
		act->alg = dnnl_eltwise_elu;
		act->alpha = jalad_attr_float(n, "alpha", 1.0f);
	} else if (!strcmp(op, "HardSwish")) {
		act->alg = dnnl_eltwise_hardswish;
	} else if (!strcmp(op, "HardSigmoid")) {
		/* max(0, min(1, alpha x + beta)): oneDNN 2.6 has no such
		 * algorithm; linear then clip computes it as the reference
		 * kernel does (one fused multiply-add, then the bounds). */
		act->n = 2;
		act->alg = dnnl_eltwise_linear;
		act->alpha = jalad_attr_float(n, "alpha", 0.2f);
		act->beta = jalad_attr_float(n, "beta", 0.5f);
		act->alg2 = dnnl_eltwise_clip;
		act->alpha2 = 0.0f;
		act->beta2 = 1.0f;
	} else if (!strcmp(op, "Softplus")) {
		act->alg = dnnl_eltwise_soft_relu;
	} else if (!strcmp(op, "Sqrt")) {
		act->alg = dnnl_eltwise_sqrt;
	} else if (!strcmp(op, "Neg")) {
		act->alg = dnnl_eltwise_linear;
		act->alpha = -1.0f;
	} else if (!strcmp(op, "Clip")) {
		float lo = -INFINITY, hi = INFINITY;
		if (g->opset < 11) {
			lo = jalad_attr_float(n, "min", -INFINITY);
			hi = jalad_attr_float(n, "max", INFINITY);
		} else if (const_scalar(g, n, 1, &lo) < 0 || const_scalar(g, n, 2, &hi) < 0) {
			return 0;
		}
		/* oneDNN's clip differs from min(max(x, lo), hi) when lo > hi. */
		if (!(lo <= hi))
			return 0;
		act->alg = dnnl_eltwise_clip;
		act->alpha = lo;
		act->beta = hi;
	} else {
		return 0;
	}
	return 1;
}

enum jalad_status dn_act_post_ops(dnnl_post_ops_t po, const struct dn_act *act)
{
	DN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, act->alg, act->alpha, act->beta), "eltwise post-op");
	if (act->n > 1)
		DN_TRY(dnnl_post_ops_append_eltwise(po, 1.0f, act->alg2, act->alpha2, act->beta2), "eltwise post-op");
	return JALAD_OK;
}

/* One eltwise primitive, or two (the second in place on the output). */
static enum jalad_status build_eltwise(struct dn_state *s, int i, struct dn_unit *u, const struct dn_act *act, int x)
{
	const struct jalad_node *n = &s->g->nodes[i];
	int y = single_output(s, n);
	if (x < 0 || y < 0)
		return UNSUPPORTED;
	const dnnl_memory_desc_t *md = dn_home(s, x);
	dnnl_eltwise_desc_t od, od2;
	/* On a layout with padded channels (nChw16c of 24 or 72 channels)
	 * oneDNN runs an algorithm that does not keep zeros (f(0) != 0:
	 * logistic, linear with beta != 0...) with its reference kernel:
	 * slow, and not bit-identical with the same function as a post-op
	 * of a fused group. Elementwise, the op can see the padded buffer as
	 * one flat vector instead. The padding then holds f(0), finite
	 * (never log: log(0) = -inf would turn into NaN in a convolution),
	 * which the consumers ignore: convolutions weigh padded channels
	 * by zero, every other op is per channel. */
	dnnl_memory_desc_t flat;
	int use_flat = 0;
	for (int k = 0; k < md->ndims; k++)
		use_flat |= md->padded_dims[k] != md->dims[k];
	use_flat = use_flat && act->alg != dnnl_eltwise_log;
	if (use_flat) {
		int64_t count = (int64_t)(dn_md_bytes(md) / sizeof(float));
		dn_md_plain(&flat, 1, &count);
	}
	DN_TRY(dnnl_eltwise_forward_desc_init(&od, dnnl_forward_inference, act->alg, use_flat ? &flat : md,
					      act->alpha, act->beta),
	       "eltwise descriptor");
	if (act->n > 1)
		DN_TRY(dnnl_eltwise_forward_desc_init(&od2, dnnl_forward_inference, act->alg2, use_flat ? &flat : md,
						      act->alpha2, act->beta2),
		       "eltwise descriptor");
	dnnl_primitive_desc_t pd, pd2;
	int prim, prim2 = -1;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	if (act->n > 1)
		JALAD_FORWARD(dn_make_prim(s, &od2, NULL, &pd2, &prim2));
	struct dn_ref xr;
	struct dn_step *st;
	dnnl_memory_desc_t dmd = *md;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, md, &xr));
	if (use_flat)
		JALAD_FORWARD(dn_md_id(s, &flat, &xr.md));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, use_flat ? &flat : &dmd));
	if (prim2 >= 0) {
		JALAD_FORWARD(dn_unit_step(u, prim2, &st));
		JALAD_FORWARD(add_home(s, st, DNNL_ARG_SRC, y, use_flat ? &flat : &dmd));
		JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, use_flat ? &flat : &dmd));
	}
	return set_out(s, u, y, &dmd, pd);
}

/* ------------------------------------------------------------ gated activations */

int dn_gated(const struct jalad_graph *g, int i, enum dn_gate *kind, int *gate)
{
	const struct jalad_node *n = &g->nodes[i];
	if (strcmp(n->op_type, "Mul") != 0 || n->n_in != 2 || n->in[0] < 0 || n->in[1] < 0 || n->in[0] == n->in[1])
		return -1;
	for (int k = 0; k < 2; k++) {
		int x = n->in[k], gt = n->in[1 - k], p = g->tensors[gt].producer;
		if (p < 0 || g->tensors[x].data)
			continue;
		const struct jalad_node *gn = &g->nodes[p];
		if (gn->n_in < 1 || gn->in[0] != x || gn->n_out < 1 || gn->out[0] != gt)
			continue;
		if (!strcmp(gn->op_type, "Sigmoid") && gn->n_in == 1) {
			*kind = DN_GATE_SILU;
		} else if (!strcmp(gn->op_type, "HardSigmoid") && gn->n_in == 1 &&
			   fabsf(jalad_attr_float(gn, "alpha", 0.2f) - 1.0f / 6.0f) <= 1e-7f &&
			   jalad_attr_float(gn, "beta", 0.5f) == 0.5f) {
			/* oneDNN's hardswish, x * min(max(x + 3, 0), 6) / 6 */
			*kind = DN_GATE_HARDSWISH;
		} else {
			continue;
		}
		*gate = p;
		return x;
	}
	return -1;
}

/* Is md one dense buffer (every byte an element, padded channels
 * included), so an elementwise kernel may see it as a flat vector? */
static int md_dense(const dnnl_memory_desc_t *md)
{
	int64_t count = 1;
	for (int k = 0; k < md->ndims; k++)
		count *= md->padded_dims[k];
	return md->offset0 == 0 && dn_md_bytes(md) == (size_t)count * sizeof(float);
}

/* Mul(x, g(x)): the activation computed from x (dn_gated). HardSwish is
 * oneDNN's eltwise hardswish (the post-op a fused Conv or Gemm applies);
 * SiLU is this backend's kernel on x's buffer seen flat. */
static enum jalad_status build_gated(struct dn_state *s, int i, struct dn_unit *u, enum dn_gate kind, int x)
{
	int y = single_output(s, &s->g->nodes[i]);
	if (x < 0 || y < 0 || !s->t[x].f32 || s->g->tensors[x].data ||
	    s->g->tensors[x].ndim != s->g->tensors[y].ndim ||
	    memcmp(s->g->tensors[x].dims, s->g->tensors[y].dims,
		   (size_t)s->g->tensors[y].ndim * sizeof s->g->tensors[y].dims[0]) != 0)
		return UNSUPPORTED;
	if (kind == DN_GATE_HARDSWISH) {
		struct dn_act act = {.n = 1, .alg = dnnl_eltwise_hardswish, .alg2 = dnnl_alg_kind_undef};
		return build_eltwise(s, i, u, &act, x);
	}
	const dnnl_memory_desc_t *md = dn_home(s, x);
	if (!md_dense(md))
		return UNSUPPORTED;
	dnnl_memory_desc_t dmd = *md;
	struct dn_ref xr;
	struct dn_step *st;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, &dmd, &xr));
	JALAD_FORWARD(dn_kern_step(u, DN_KERN_SILU, (int64_t)(dn_md_bytes(&dmd) / sizeof(float)), &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &dmd));
	JALAD_FORWARD(set_out(s, u, y, &dmd, NULL));
	u->impl = "jalad:silu";
	return JALAD_OK;
}

/* ------------------------------------------------------------ binary */

/* The format tag md (of dims, rank 4 or 5) is in, among the layouts this
 * backend makes (blocked by 16 or 8, channels last, plain), or
 * dnnl_format_tag_undef. */
static dnnl_format_tag_t md_tag_of(const dnnl_memory_desc_t *md, int r, const int64_t *dims)
{
	static const dnnl_format_tag_t t4[] = {dnnl_nChw16c, dnnl_nChw8c, dnnl_acdb, dnnl_abcd};
	static const dnnl_format_tag_t t5[] = {dnnl_nCdhw16c, dnnl_nCdhw8c, dnnl_acdeb, dnnl_abcde};
	const dnnl_format_tag_t *t = r == 4 ? t4 : r == 5 ? t5 : NULL;
	for (int k = 0; t && k < 4; k++) {
		dnnl_memory_desc_t m;
		dn_md_tag(&m, r, dims, t[k]);
		if (dn_md_equal(&m, md))
			return t[k];
	}
	return dnnl_format_tag_undef;
}

/* t's dims right-aligned to rank r (leading ones). */
static void pad_dims(const struct jalad_tensor_ir *t, int r, int64_t *out)
{
	int lead = r - t->ndim;
	for (int k = 0; k < r; k++)
		out[k] = k < lead ? 1 : t->dims[k - lead];
}

static enum jalad_status build_binary(struct dn_state *s, int i, struct dn_unit *u, dnnl_alg_kind_t alg,
				      int commutative)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int y = single_output(s, n);
	if (n->n_in != 2 || y < 0)
		return UNSUPPORTED;
	int a = n->in[0], b = n->in[1];
	if (a < 0 || b < 0 || !s->t[a].f32 || !s->t[b].f32)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *yi = &g->tensors[y];
	int r = yi->ndim;
	int64_t ad[JALAD_MAX_DIMS], bd[JALAD_MAX_DIMS];
	pad_dims(&g->tensors[a], r, ad);
	pad_dims(&g->tensors[b], r, bd);
	int a_full = !memcmp(ad, yi->dims, (size_t)r * sizeof *ad) && g->tensors[a].ndim == r;
	int b_full = !memcmp(bd, yi->dims, (size_t)r * sizeof *bd) && g->tensors[b].ndim == r;
	if (!a_full && b_full && commutative) {
		int tmp = a;
		a = b;
		b = tmp;
		memcpy(ad, bd, sizeof ad);
		pad_dims(&g->tensors[b], r, bd);
		a_full = 1;
	}
	if (!a_full)
		return UNSUPPORTED;
	/* src0 keeps its layout (a constant src0 is plain); src1 too when it
	 * has the full shape, else it is read plain with broadcast dims. */
	dnnl_memory_desc_t md0 = s->t[a].store == DN_STORE_CONST || g->tensors[a].data ? *dn_plain(s, a)
										    : *dn_home(s, a);
	/* A full-shape src1 is read in src0's layout (reordered if it has
	 * another: oneDNN's binary on mixed layouts is its slow reference
	 * kernel); a broadcast src1 is read plain. */
	dnnl_memory_desc_t md1;
	dnnl_format_tag_t tag0 = md_tag_of(&md0, r, yi->dims);
	if (g->tensors[b].ndim == r && !memcmp(bd, yi->dims, (size_t)r * sizeof *bd))
		md1 = md0;
	else if (tag0 != dnnl_format_tag_undef && tag0 != dnnl_abcd && tag0 != dnnl_abcde)
		/* A broadcast src1 ([1, C, 1, 1]: an SE gate, a per-channel
		 * scale) in src0's blocked or channels-last layout: oneDNN's
		 * jit binary kernel takes it; with a plain src1 next to a
		 * blocked src0 it runs its reference kernel (8-30x slower:
		 * 85% of MobileNetV3-small's time). */
		dn_md_tag(&md1, r, bd, tag0);
	else
		dn_md_plain(&md1, r, bd);
	dnnl_binary_desc_t od;
	DN_TRY(dnnl_binary_desc_init(&od, alg, &md0, &md1, &md0), "binary descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	struct dn_ref ar, br;
	struct dn_step *st;
	JALAD_FORWARD(dn_input_ref(s, u, i, a, &md0, &ar));
	JALAD_FORWARD(dn_input_ref(s, u, i, b, &md1, &br));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC_0, &ar));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC_1, &br));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &md0));
	return set_out(s, u, y, &md0, pd);
}

/* ------------------------------------------------------------ Concat */

#define DN_MAX_CONCAT 256

/* Reshape, Flatten, Squeeze and Unsqueeze: the input's elements in the
 * same row-major order under other dims. */
static int is_reshape(const char *op)
{
	return !strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") ||
	       !strcmp(op, "Unsqueeze");
}

/* Is tensor t read only by ops that take a plain buffer as it is (shape
 * ops, Transpose, Slice), or a graph output? */
static int plain_readers(const struct dn_state *s, int t)
{
	if (s->g->tensors[t].is_output)
		return 1;
	if (s->consumers[t][0] < 0)
		return 0;
	for (const int *c = s->consumers[t]; *c >= 0; c++) {
		const char *op = s->g->nodes[*c].op_type;
		if (!is_reshape(op) && strcmp(op, "Transpose") != 0 && strcmp(op, "Slice") != 0)
			return 0;
	}
	return 1;
}

static enum jalad_status build_concat(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int y = single_output(s, n);
	if (y < 0 || n->n_in < 1 || n->n_in > DN_MAX_CONCAT)
		return UNSUPPORTED;
	int r = g->tensors[y].ndim;
	int64_t axis = jalad_attr_int(n, "axis", 1);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return UNSUPPORTED;
	dnnl_memory_desc_t mds[DN_MAX_CONCAT];
	int nhwc = 0;
	for (int k = 0; k < n->n_in; k++) {
		int t = n->in[k];
		if (t < 0 || !s->t[t].f32 || g->tensors[t].ndim != r)
			return UNSUPPORTED;
		mds[k] = s->t[t].store == DN_STORE_CONST || g->tensors[t].data ? *dn_plain(s, t) : *dn_home(s, t);
		if (r == 4) {
			dnnl_memory_desc_t m;
			dn_md_tag(&m, r, g->tensors[t].dims, dnnl_acdb);
			nhwc += dn_md_equal(&m, &mds[k]);
		}
	}
	/* Read only by shape ops, Transpose or Slice (the channel shuffle of
	 * ShuffleNet): a plain output, each input copied into its part by
	 * one reorder (two for channels blocked with a partial last block,
	 * dn_copy_steps), not oneDNN's concat, which reorders with its
	 * generic kernel. */
	if (plain_readers(s, y)) {
		dnnl_memory_desc_t part;
		dnnl_dims_t pdims, off = {0};
		const struct jalad_tensor_ir *yi = &g->tensors[y];
		for (int k = 0; k < r; k++)
			pdims[k] = yi->dims[k];
		for (int k = 0; k < n->n_in; k++) {
			struct dn_ref from, to;
			const struct jalad_tensor_ir *ti = &g->tensors[n->in[k]];
			for (int d = 0; d < r; d++)
				if (d != axis && ti->dims[d] != yi->dims[d])
					return UNSUPPORTED;
			pdims[axis] = ti->dims[axis];
			if (off[axis] + pdims[axis] > yi->dims[axis])
				return UNSUPPORTED;
			DN_TRY(dnnl_memory_desc_init_submemory(&part, dn_plain(s, y), pdims, off), "concat part");
			JALAD_FORWARD(dn_ref_home(s, &from, n->in[k], &mds[k]));
			JALAD_FORWARD(dn_ref_home(s, &to, y, &part));
			JALAD_FORWARD(dn_copy_steps(s, u, &from, &to, 0));
			off[axis] += pdims[axis];
		}
		if (off[axis] != yi->dims[axis])
			return UNSUPPORTED;
		JALAD_FORWARD(set_out(s, u, y, dn_plain(s, y), NULL));
		u->impl = "jalad:copy";
		return JALAD_OK;
	}
	/* Inputs in mixed layouts (a Winograd branch next to an NHWC one):
	 * oneDNN's concat would be its reference kernel; reorder the odd ones
	 * to NHWC first. (A blocked input next to a plain one, as in
	 * ShuffleNetV2, stays mixed: reordering both to plain for the simple
	 * kernel measured 2x slower than the reference concat.) */
	if (nhwc > 0 && nhwc < n->n_in)
		for (int k = 0; k < n->n_in; k++)
			dn_md_tag(&mds[k], r, g->tensors[n->in[k]].dims, dnnl_acdb);
	dnnl_primitive_attr_t attr;
	dnnl_primitive_desc_t pd = NULL;
	JALAD_FORWARD(dn_attr_new(&attr, NULL));
	dnnl_status_t ds = dnnl_concat_primitive_desc_create(&pd, NULL, n->n_in, (int)axis, mds, attr, s->eng);
	dnnl_primitive_attr_destroy(attr);
	DN_TRY(ds, "concat descriptor");
	int prim;
	JALAD_FORWARD(dn_prim_add(s, pd, 1, &prim));
	dnnl_memory_desc_t dst = *pd_md(pd, dnnl_query_dst_md);
	struct dn_ref refs[DN_MAX_CONCAT];
	for (int k = 0; k < n->n_in; k++)
		JALAD_FORWARD(dn_input_ref(s, u, i, n->in[k], &mds[k], &refs[k]));
	struct dn_step *st;
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	for (int k = 0; k < n->n_in; k++)
		JALAD_FORWARD(add_ref(st, DNNL_ARG_MULTIPLE_SRC + k, &refs[k]));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &dst));
	return set_out(s, u, y, &dst, pd);
}

/* ------------------------------------------------------------ shape ops, Transpose, Slice */

/* May a view (a Reshape's output, a Slice's contiguous part) take x's
 * home buffer, copying nothing? x must be a native unit's output (its home
 * is this backend's) in plain layout. Nothing writes into a buffer
 * another tensor still needs: every unit writes only its own output, and
 * the one in-place write, a sum post-op onto the other operand of an Add
 * (dnnl_fuse.c), is not used on a tensor that shares its buffer. */
static int can_view(const struct dn_state *s, int x)
{
	return s->t[x].native_out && dn_md_is_plain(dn_home(s, x));
}

/* Make y a view of x's home, off bytes into it. */
static enum jalad_status set_view(struct dn_state *s, struct dn_unit *u, int x, int y, size_t off)
{
	s->t[y].alias = x;
	s->t[y].is_view = 1;
	s->t[y].home_off = s->t[x].home_off + off;
	for (int t = x;; t = s->t[t].alias) {
		s->t[t].viewed = 1;
		if (s->t[t].alias == t)
			break;
	}
	JALAD_FORWARD(set_out(s, u, y, dn_plain(s, y), NULL));
	u->impl = "view";
	return JALAD_OK;
}

/* The steps copying src (a reference) into y's home seen through dst
 * (dn_copy_steps: reorders, timed as the node's own work); y is plain. */
static enum jalad_status copy_step(struct dn_state *s, struct dn_unit *u, const struct dn_ref *src, int y,
				   const dnnl_memory_desc_t *dst)
{
	struct dn_ref yr;
	int first = u->nsteps;
	JALAD_FORWARD(dn_ref_home(s, &yr, y, dst));
	JALAD_FORWARD(dn_copy_steps(s, u, src, &yr, 0));
	return set_out(s, u, y, dn_plain(s, y), s->prims[u->step[first].prim].pd);
}

/* A plain output y of x's elements: a view of x's buffer when it may be
 * (can_view: no step at all), else a reorder from x's home, in any layout,
 * into y's buffer seen with x's dims. */
static enum jalad_status build_reshape(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0 || jalad_ir_numel(&g->tensors[x]) != jalad_ir_numel(&g->tensors[y]))
		return UNSUPPORTED;
	if (can_view(s, x))
		return set_view(s, u, x, y, 0);
	struct dn_ref xr;
	JALAD_FORWARD(dn_ref_home(s, &xr, x, dn_home(s, x)));
	return copy_step(s, u, &xr, y, dn_plain(s, x));
}

/* One reorder from x's home seen through permuted axes (any layout: the
 * descriptor's strides are permuted, not the data) into a plain y. */
static enum jalad_status build_transpose(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0 || n->op != &jalad_op_transpose || !n->params)
		return UNSUPPORTED;
	const struct jalad_tops_transpose *p = n->params;
	int r = g->tensors[x].ndim;
	if (r < 1 || r > DNNL_MAX_NDIMS || g->tensors[y].ndim != r)
		return UNSUPPORTED;
	/* oneDNN's permutation sends input axis k to output axis perm[k] */
	int perm[DNNL_MAX_NDIMS], seen[DNNL_MAX_NDIMS] = {0};
	for (int k = 0; k < r; k++) {
		if (p->perm[k] < 0 || p->perm[k] >= r || seen[p->perm[k]]++ ||
		    g->tensors[y].dims[k] != g->tensors[x].dims[p->perm[k]])
			return UNSUPPORTED;
		perm[p->perm[k]] = k;
	}
	dnnl_memory_desc_t view;
	DN_TRY(dnnl_memory_desc_permute_axes(&view, dn_home(s, x), perm), "transpose view");
	struct dn_ref xr;
	JALAD_FORWARD(dn_ref_home(s, &xr, x, &view));
	return copy_step(s, u, &xr, y, dn_plain(s, y));
}

/* Slice with positive steps: a view when the part is contiguous in a plain
 * x, else a reorder from x seen through an offset and strides on its plain
 * buffer (or a submemory of a blocked home when the part starts on block
 * boundaries) into a plain y. Negative steps run the reference kernel. */
static enum jalad_status build_slice(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0 || n->op != &jalad_op_slice || !n->params)
		return UNSUPPORTED;
	const struct jalad_tops_slice *p = n->params;
	const struct jalad_tensor_ir *xi = &g->tensors[x], *yi = &g->tensors[y];
	int r = xi->ndim, unit = 1;
	if (r < 1 || r > DNNL_MAX_NDIMS || yi->ndim != r)
		return UNSUPPORTED;
	dnnl_dims_t yd, off, strides;
	for (int k = 0; k < r; k++) {
		/* the region must lie inside x (infer() clamped it) */
		if (p->step[k] < 1 || p->start[k] < 0 || yi->dims[k] < 1 ||
		    p->start[k] + (yi->dims[k] - 1) * p->step[k] >= xi->dims[k])
			return UNSUPPORTED;
		yd[k] = yi->dims[k];
		off[k] = p->start[k];
		unit &= p->step[k] == 1;
	}
	/* x's row-major strides times the steps, and the part's first
	 * element. The part is contiguous when every dim after the first
	 * one of more than one element in y is taken whole (a channel range
	 * of a batch of one). */
	int64_t stride = 1, first = 0;
	int whole = 1, contiguous = 1;
	for (int k = r - 1; k >= 0; k--) {
		if (yi->dims[k] > 1 && (!whole || p->step[k] != 1))
			contiguous = 0;
		whole &= yi->dims[k] == xi->dims[k];
		strides[k] = stride * p->step[k];
		first += stride * p->start[k];
		stride *= xi->dims[k];
	}
	if (contiguous && can_view(s, x))
		return set_view(s, u, x, y, (size_t)first * sizeof(float));
	dnnl_memory_desc_t view;
	struct dn_ref xr;
	const dnnl_memory_desc_t *home = dn_home(s, x);
	if (unit && !dn_md_is_plain(home) && dnnl_memory_desc_init_submemory(&view, home, yd, off) == dnnl_success) {
		JALAD_FORWARD(dn_ref_home(s, &xr, x, &view));
		return copy_step(s, u, &xr, y, dn_plain(s, y));
	}
	/* x plain (its home, or a reorder into a temp), seen with offset and strides */
	JALAD_FORWARD(dn_input_ref(s, u, i, x, dn_plain(s, x), &xr));
	DN_TRY(dnnl_memory_desc_init_by_strides(&view, r, yd, dnnl_f32, strides), "slice view");
	view.offset0 = first;
	JALAD_FORWARD(dn_md_id(s, &view, &xr.md));
	return copy_step(s, u, &xr, y, dn_plain(s, y));
}

/* ------------------------------------------------------------ Softmax */

static enum jalad_status build_softmax(struct dn_state *s, int i, struct dn_unit *u, int logsm)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *xi = &g->tensors[x];
	int r = xi->ndim;
	int64_t axis = jalad_attr_int(n, "axis", g->opset < 13 ? 1 : -1);
	if (axis < 0)
		axis += r;
	if (axis < 0 || axis >= r)
		return UNSUPPORTED;
	dnnl_memory_desc_t md;
	int dax = (int)axis;
	if (g->opset < 13) {
		/* Softmax-1/11: over all dims from axis on, as a 2-D problem. */
		int64_t d2[2] = {1, 1};
		for (int k = 0; k < r; k++)
			d2[k < axis ? 0 : 1] *= xi->dims[k];
		dn_md_plain(&md, 2, d2);
		dax = 1;
	} else {
		dn_md_plain(&md, r, xi->dims);
	}
	dnnl_softmax_v2_desc_t od;
	DN_TRY(dnnl_softmax_v2_forward_desc_init(&od, dnnl_forward_inference,
						 logsm ? dnnl_softmax_log : dnnl_softmax_accurate, &md, &md, dax),
	       "softmax descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	struct dn_ref xr;
	struct dn_step *st;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, &md, &xr));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &md));
	return set_out(s, u, y, dn_plain(s, y), pd);
}

/* ------------------------------------------------------------ BatchNormalization */

static enum jalad_status build_bn(struct dn_state *s, int i, struct dn_unit *u)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	int x = act_input(s, n, 0), y = single_output(s, n);
	if (x < 0 || y < 0 || n->n_in != 5 || jalad_attr_int(n, "training_mode", 0) != 0)
		return UNSUPPORTED;
	const struct jalad_tensor_ir *xi = &g->tensors[x];
	if (xi->ndim < 2 || xi->ndim > 5)
		return UNSUPPORTED;
	int64_t c = xi->dims[1];
	int p[4];
	for (int k = 0; k < 4; k++) {
		p[k] = f32_input(s, n, 1 + k);
		if (p[k] < 0 || jalad_ir_numel(&g->tensors[p[k]]) != c)
			return UNSUPPORTED;
	}
	const dnnl_memory_desc_t *md = dn_home(s, x);
	dnnl_batch_normalization_desc_t od;
	float eps = jalad_attr_float(n, "epsilon", 1e-5f);
	DN_TRY(dnnl_batch_normalization_forward_desc_init(&od, dnnl_forward_inference, md, eps,
							  dnnl_use_global_stats | dnnl_use_scale | dnnl_use_shift),
	       "batch normalization descriptor");
	dnnl_primitive_desc_t pd;
	int prim;
	JALAD_FORWARD(dn_make_prim(s, &od, NULL, &pd, &prim));
	dnnl_memory_desc_t cmd;
	dn_md_plain(&cmd, 1, &c);
	static const int args[4] = {DNNL_ARG_SCALE, DNNL_ARG_SHIFT, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
	struct dn_ref pr[4];
	for (int k = 0; k < 4; k++)
		JALAD_FORWARD(param_ref(s, u, i, p[k], &cmd, &cmd, &pr[k]));
	struct dn_ref xr;
	struct dn_step *st;
	dnnl_memory_desc_t dmd = *md;
	JALAD_FORWARD(dn_input_ref(s, u, i, x, md, &xr));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	JALAD_FORWARD(add_ref(st, DNNL_ARG_SRC, &xr));
	for (int k = 0; k < 4; k++)
		JALAD_FORWARD(add_ref(st, args[k], &pr[k]));
	JALAD_FORWARD(add_home(s, st, DNNL_ARG_DST, y, &dmd));
	return set_out(s, u, y, &dmd, pd);
}

/* ------------------------------------------------------------ dispatch */

enum jalad_status dn_build_node(struct dn_state *s, int i, struct dn_unit **out)
{
	const struct jalad_node *n = &s->g->nodes[i];
	const char *op = n->op_type;
	struct dn_act act;
	enum dn_gate gate;
	int gnode, gx;
	enum jalad_status st;
	struct dn_unit *u = dn_unit_new(i, i + 1);
	*out = NULL;
	JALAD_RETURN_IF(!u, JALAD_ERR_NOMEM, "dnnl backend: unit");
	u->nthr = s->nthr;
	if (!strcmp(op, "Conv"))
		st = build_conv(s, i, u);
	else if (!strcmp(op, "Gemm"))
		st = build_gemm(s, i, u);
	else if (!strcmp(op, "MatMul"))
		st = build_matmul(s, i, u);
	else if (!strcmp(op, "MaxPool"))
		st = build_pool(s, i, u, 0, 1);
	else if (!strcmp(op, "AveragePool"))
		st = build_pool(s, i, u, 0, 0);
	else if (!strcmp(op, "GlobalMaxPool"))
		st = build_pool(s, i, u, 1, 1);
	else if (!strcmp(op, "GlobalAveragePool"))
		st = build_pool(s, i, u, 1, 0);
	else if (!strcmp(op, "ReduceMean"))
		st = build_reduce_mean(s, i, u);
	else if (!strcmp(op, "Add") || (!strcmp(op, "Sum") && n->n_in == 2))
		st = build_binary(s, i, u, dnnl_binary_add, 1);
	else if ((!strcmp(op, "Max") || !strcmp(op, "Min")) && n->n_in == 2)
		st = build_binary(s, i, u, op[1] == 'a' ? dnnl_binary_max : dnnl_binary_min, 1);
	else if (!strcmp(op, "Mul") && (gx = dn_gated(s->g, i, &gate, &gnode)) >= 0)
		st = build_gated(s, i, u, gate, gx);
	else if (!strcmp(op, "Mul"))
		st = build_binary(s, i, u, dnnl_binary_mul, 1);
	else if (!strcmp(op, "Sub"))
		st = build_binary(s, i, u, dnnl_binary_sub, 0);
	else if (!strcmp(op, "Div"))
		st = build_binary(s, i, u, dnnl_binary_div, 0);
	else if (!strcmp(op, "Concat"))
		st = build_concat(s, i, u);
	else if (is_reshape(op))
		st = build_reshape(s, i, u);
	else if (!strcmp(op, "Transpose"))
		st = build_transpose(s, i, u);
	else if (!strcmp(op, "Slice"))
		st = build_slice(s, i, u);
	else if (!strcmp(op, "Softmax"))
		st = build_softmax(s, i, u, 0);
	else if (!strcmp(op, "LogSoftmax"))
		st = build_softmax(s, i, u, 1);
	else if (!strcmp(op, "BatchNormalization"))
		st = build_bn(s, i, u);
	else if (dn_node_act(s->g, n, &act))
		st = build_eltwise(s, i, u, &act, act_input(s, n, 0));
	else
		st = UNSUPPORTED;
	if (st != JALAD_OK) {
		dn_unit_free(u);
		return st;
	}
	*out = u;
	return JALAD_OK;
}
#endif /* JALAD_HAVE_DNNL */
