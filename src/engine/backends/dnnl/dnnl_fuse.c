/*
 * Fusion: Conv or Gemm at node i followed, at i+1 (and i+2), by
 *   - an activation              -> eltwise post-op(s)
 *   - HardSigmoid(y), Mul(y, that) -> hardswish post-op (gate_after)
 *   - Sigmoid(y), Mul(y, that)   -> the SiLU kernel step, in place on the
 *                                   group's output (no post-op computes it
 *                                   as the kernel does; dnnl_kern.c)
 *   - a residual Add             -> sum post-op, or a binary add post-op
 *                                   where a sum would not be exact (Conv only)
 *   - a residual Add, activation -> the same, then an eltwise post-op (Conv only)
 * or a 1x1 Conv (+ activation) followed by a 3x3 depthwise Conv
 * (+ activation) -> depthwise post-op (fuse_dw_at)
 * becomes one fused unit, used by run_range() only when the whole group
 * lies inside the range. Each node keeps its own unit for ranges that cut
 * the group, so results never depend on where a range starts or ends.
 *
 * Conditions, checked once here:
 *   - the group's nodes are consecutive in the order and each has a native
 *     unit; every intermediate tensor has one consumer (the next node of
 *     the group) and is not a graph output, so nothing outside the group
 *     ever needs it;
 *   - the Add's other operand o is last used by the Add, is not a
 *     graph output, is not an input of the convolution, has the convolution's output shape and home layout.
 *     With a sum post-op the convolution adds its result onto o in place,
 *     so o, the Add's output and the group's output share one home buffer
 *     (an alias set), and the unfused Add and activation also run in place
 *     on it; a binary post-op reads o and writes the group's output
 *     elsewhere (sum_at_end() says which);
 *   - the fused primitive is the same oneDNN implementation as the unfused
 *     one, so results are bit-identical whichever variant runs.
 */
#ifdef JALAD_HAVE_DNNL
#include <omp.h>
#include <string.h>

#include "dnnl_impl.h"

static int find_root(struct dn_state *s, int t)
{
	while (s->t[t].alias != t)
		t = s->t[t].alias;
	return t;
}

/* Is t a view (Reshape, Slice) or viewed? A sum post-op must not join it
 * to another tensor's buffer: a view's buffer is another tensor's, which
 * may still be needed, and the sum overwrites its operand in place. */
static int in_view(const struct dn_state *s, int t)
{
	return s->t[t].is_view || s->t[t].viewed;
}

/* Tensor t is needed only by node `next` (one consumer, not an output). */
static int only_feeds(const struct dn_state *s, int t, int next)
{
	const struct jalad_tensor_ir *ti = &s->g->tensors[t];
	return !ti->is_output && ti->n_consumers == 1 && ti->last_use == next;
}

/* The node's unit is native and its main step reads t as its only
 * activation input; returns the main step or NULL. */
static struct dn_step *main_step(struct dn_unit *u)
{
	if (!u || u->fallback || u->nsteps < 1)
		return NULL;
	return &u->step[u->nsteps - 1];
}

static struct dn_ref *step_ref(struct dn_step *st, int arg)
{
	for (int k = 0; k < st->nargs; k++)
		if (st->arg[k] == arg)
			return &st->ref[k];
	return NULL;
}

/* Node i (an Add of y and another tensor): the other operand, or -1. */
static int add_other(const struct jalad_graph *g, const struct jalad_node *n, int y)
{
	if (strcmp(n->op_type, "Add") != 0 || n->n_in != 2)
		return -1;
	if (n->in[0] == y && n->in[1] != y)
		return n->in[1];
	if (n->in[1] == y && n->in[0] != y)
		return n->in[0];
	(void)g;
	return -1;
}

/* Does implementation impl apply a sum post-op to the finished result,
 * so that the fused result equals the convolution's rounded output plus
 * the other operand, as the unfused Add computes it? The brgemm kernels
 * (NHWC) and Winograd do. oneDNN's blocked direct kernels (jit:...,
 * jit_1x1:...) do not: when they split the input channels into blocks
 * they add the old destination to the first block's partial sums, so the
 * operand lands mid-reduction (`jalad run --check-splits` on MobileNetV2
 * in nChw16c found cuts that differ from the full run). Those get the Add
 * as a binary post-op, applied with the eltwise ones to the final sums. */
static int sum_at_end(const char *impl)
{
	return !strncmp(impl, "brg", 3) || strstr(impl, "wino") != NULL;
}

/* A gated activation after tensor t (dn_gated): node k = g(t), node k + 1
 * = Mul(t, that), t read by nothing else, g's output read only by the
 * Mul, whose unit is one native step (it reads t without a reorder).
 * Returns the Mul's output and sets *kind, else -1. In a fused group g is
 * skipped: the Mul's unit computes the activation from t alone. */
static int gate_after(const struct dn_state *s, int k, int t, enum dn_gate *kind)
{
	const struct jalad_graph *g = s->g;
	if (k + 1 >= g->n_nodes)
		return -1;
	const struct jalad_node *mu = &g->nodes[k + 1];
	const struct jalad_tensor_ir *ti = &g->tensors[t];
	int gate;
	if (dn_gated(g, k + 1, kind, &gate) != t || gate != k || ti->is_output || ti->n_consumers != 2 ||
	    ti->last_use != k + 1 || !only_feeds(s, g->nodes[k].out[0], k + 1))
		return -1;
	if (!main_step(s->unit[k + 1]) || s->unit[k + 1]->nsteps != 1)
		return -1;
	return s->unit[k + 1]->out == mu->out[0] ? mu->out[0] : -1;
}

/* The gate's activation as a post-op: HardSwish is oneDNN's eltwise
 * hardswish, the Mul's own kernel; SiLU is this backend's kernel, which
 * no post-op reproduces (0 returned). */
static int gate_act(enum dn_gate kind, struct dn_act *act)
{
	if (kind != DN_GATE_HARDSWISH)
		return 0;
	memset(act, 0, sizeof *act);
	act->n = 1;
	act->alg = dnnl_eltwise_hardswish;
	return 1;
}

/* The fused primitive of head's operation with post-ops po (freed here),
 * made for the head's thread count, like the head; st is the status of
 * building po (nothing is made unless JALAD_OK). */
static enum jalad_status make_fused(struct dn_state *s, const struct dn_unit *head, dnnl_post_ops_t po,
				    enum jalad_status st, dnnl_primitive_desc_t *pd, int *prim)
{
	if (st == JALAD_OK) {
		s->nthr = head->nthr;
		omp_set_num_threads(s->nthr);
		st = dn_make_prim(s, head->od, po, pd, prim);
		s->nthr = s->threads;
		omp_set_num_threads(s->nthr);
	}
	if (po)
		dnnl_post_ops_destroy(po);
	return st;
}

static enum jalad_status fuse_at(struct dn_state *s, int i)
{
	const struct jalad_graph *g = s->g;
	struct dn_unit *head = s->unit[i];
	if (!head || head->fallback || !head->od)
		return JALAD_OK;
	int is_conv = head->od->conv.primitive_kind == dnnl_convolution;
	int y = head->out, end = i + 1, o = -1, out = y;
	struct dn_act act;
	int have_act = 0;
	const dnnl_memory_desc_t *ymd = dn_home(s, y);

	/* the Add as a sum post-op (in place on o) or as a binary one */
	int sum = sum_at_end(head->impl);
	if (end < g->n_nodes && is_conv && only_feeds(s, y, end) && main_step(s->unit[end])) {
		const struct jalad_node *an = &g->nodes[end];
		int other = add_other(g, an, y);
		/* o must not feed the convolution: a sum overwrites it in place */
		for (int k = 0; other >= 0 && k < g->nodes[i].n_in; k++)
			if (g->nodes[i].in[k] == other)
				other = -1;
		if (other >= 0 && s->t[other].native_out && !g->tensors[other].is_output &&
		    g->tensors[other].last_use == end && dn_md_equal(dn_home(s, other), ymd) &&
		    s->unit[end]->out == an->out[0] && dn_md_equal(dn_home(s, an->out[0]), ymd) &&
		    s->unit[end]->nsteps == 1 && !(sum && (in_view(s, other) || in_view(s, an->out[0])))) {
			o = other;
			out = an->out[0];
			end++;
		}
	}
	enum dn_gate gk;
	int gate_out = gate_after(s, end, out, &gk), silu = 0;
	/* the activation's output would join o's buffer too */
	int shared = o >= 0 && sum;
	if (gate_out >= 0 && dn_md_equal(dn_home(s, gate_out), ymd) && !(shared && in_view(s, gate_out))) {
		/* SiLU: the Mul's kernel step, in place on the group's output */
		have_act = gate_act(gk, &act);
		silu = !have_act;
		out = gate_out;
		end += 2;
	} else if (end < g->n_nodes && only_feeds(s, out, end) && main_step(s->unit[end]) &&
		   dn_node_act(g, &g->nodes[end], &act) && s->unit[end]->nsteps == act.n &&
		   g->nodes[end].in[0] == out && !(shared && in_view(s, g->nodes[end].out[0]))) {
		have_act = 1;
		out = g->nodes[end].out[0];
		end++;
	}
	if (end == i + 1)
		return JALAD_OK;

	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	struct dn_unit *fu = NULL;
	int prim;
	enum jalad_status st = dn_check(dnnl_post_ops_create(&po), "post-ops");
	if (st == JALAD_OK && o >= 0 && sum)
		st = dn_check(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
	else if (st == JALAD_OK && o >= 0)
		st = dn_check(dnnl_post_ops_append_binary(po, dnnl_binary_add, dn_home(s, o)),
			      "binary post-op");
	if (st == JALAD_OK && have_act)
		st = dn_act_post_ops(po, &act);
	st = make_fused(s, head, po, st, &pd, &prim);
	if (st == JALAD_ERR_UNSUPPORTED)
		return JALAD_OK;
	JALAD_FORWARD(st);
	/* Bit-identical results need the same kernel with or without the
	 * post-ops (they are applied to the final sums, after the bias). */
	if (strcmp(dn_pd_impl(pd), head->impl) != 0) {
		jalad_log(JALAD_LOG_DEBUG, "dnnl: no fusion at node %d: %s fused vs %s", i, dn_pd_impl(pd),
			  head->impl);
		return JALAD_OK;
	}
	JALAD_FORWARD(dn_unit_clone(head, &fu));
	fu->end = end;
	fu->out = out;
	struct dn_step *ms = &fu->step[fu->nsteps - 1];
	ms->prim = prim;
	struct dn_ref *dr = step_ref(ms, DNNL_ARG_DST);
	if (!dr) {
		dn_unit_free(fu);
		return jalad_fail(JALAD_ERR_INTERNAL, "dnnl: fused unit at node %d has no destination", i);
	}
	dr->id = out;
	if (silu) {
		const struct dn_step *ks = main_step(s->unit[end - 1]);
		struct dn_step *ks_new;
		struct dn_ref r;
		enum jalad_status e = dn_kern_step(fu, ks->kern, ks->count, &ks_new);
		ms = &fu->step[fu->nsteps - 2];
		if (e == JALAD_OK)
			e = dn_ref_home(s, &r, out, ymd);
		if (e == JALAD_OK)
			e = dn_step_arg(ks_new, DNNL_ARG_SRC, &r);
		if (e == JALAD_OK)
			e = dn_step_arg(ks_new, DNNL_ARG_DST, &r);
		if (e != JALAD_OK) {
			dn_unit_free(fu);
			return e;
		}
	}
	s->fused[i] = fu;
	s->t[out].group_out = 1;
	if (o >= 0 && !sum) {
		/* binary: o is read as the post-op's second source; the group's
		 * output has a home of its own (the kernel may store partial
		 * sums into its destination before it reads o). */
		struct dn_ref r;
		enum jalad_status e = dn_ref_home(s, &r, o, dn_home(s, o));
		if (e == JALAD_OK)
			e = dn_step_arg(ms, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, &r);
		if (e != JALAD_OK) {
			s->fused[i] = NULL;
			dn_unit_free(fu);
			return e;
		}
	} else if (o >= 0) {
		/* One home for o, the Add's output and the group's output; the
		 * unfused Add reads o as src0 so that it runs in place. */
		int root = find_root(s, o);
		int add_out = g->nodes[i + 1].out[0];
		s->t[add_out].alias = root;
		if (out != add_out)
			s->t[out].alias = root;
		struct dn_step *as = main_step(s->unit[i + 1]);
		struct dn_ref *r0 = step_ref(as, DNNL_ARG_SRC_0), *r1 = step_ref(as, DNNL_ARG_SRC_1);
		if (r0 && r1 && r0->kind == DN_REF_HOME && r0->id != o) {
			struct dn_ref tmp = *r0;
			*r0 = *r1;
			*r1 = tmp;
		}
	}
	return JALAD_OK;
}

/* ------------------------------------------------------------ 1x1 + depthwise */

/* Is unit u a 2-D convolution with a kh x kw kernel and no dilation? */
static int conv_shape(const struct dn_unit *u, int kh, int kw)
{
	if (!u->od)
		return 0;
	const dnnl_convolution_desc_t *c = &u->od->conv;
	const dnnl_memory_desc_t *w = &c->weights_desc;
	return c->primitive_kind == dnnl_convolution && c->src_desc.ndims == 4 &&
	       w->dims[w->ndims - 2] == kh && w->dims[w->ndims - 1] == kw && c->dilates[0] == 0 &&
	       c->dilates[1] == 0;
}

/* Node k is an activation reading only tensor t (t feeds nothing else), run
 * in place by a one-step native unit: its description, else 0. */
static int act_after(struct dn_state *s, int k, int t, struct dn_act *act)
{
	const struct jalad_graph *g = s->g;
	return k < g->n_nodes && only_feeds(s, t, k) && main_step(s->unit[k]) && g->nodes[k].in[0] == t &&
	       dn_node_act(g, &g->nodes[k], act) && s->unit[k]->nsteps == act->n;
}

/* A 1x1 convolution (+ activation) followed by a 3x3 depthwise one
 * (+ activation), as in every MobileNetV2 block: one primitive with a
 * depthwise post-op, which computes the depthwise rows as the 1x1 rows
 * come and never writes the wide intermediate tensor (at 112x112 or 56x56
 * it does not fit the L2 cache; 16 -> 96 -> 96 channels at 112x112 takes
 * 0.48 ms instead of 0.49-0.58 hot, 0.6 in the model). Used only where
 * oneDNN's fused kernel is the 1x1 convolution's own blocked kernel
 * (jit_1x1, nChw16c; oneDNN picks it for the large early layers, elsewhere
 * it offers only a reference chain of the two) and the depthwise layer
 * runs jit_dw: that kernel computes each output as the standalone one
 * does, so the results equal the unfused pair's bit for bit (`jalad run
 * --check-splits`). Returns 1 in *done if it fused at i. */
static enum jalad_status fuse_dw_at(struct dn_state *s, int i, int *done)
{
	const struct jalad_graph *g = s->g;
	struct dn_unit *head = s->unit[i];
	*done = 0;
	if (!head || head->fallback || !conv_shape(head, 1, 1) || strncmp(head->impl, "jit_1x1:", 8) != 0)
		return JALAD_OK;
	const dnnl_convolution_desc_t *hc = &head->od->conv;
	if (hc->strides[0] != 1 || hc->strides[1] != 1 || hc->padding[0][0] || hc->padding[0][1] ||
	    hc->padding[1][0] || hc->padding[1][1])
		return JALAD_OK;
	struct dn_act a1, a2;
	int y = head->out, j = i + 1, x = y;
	enum dn_gate gk;
	int have_a1 = act_after(s, j, y, &a1), gate;
	if (have_a1) {
		x = g->nodes[j].out[0];
		j++;
	} else if ((gate = gate_after(s, j, y, &gk)) >= 0 && dn_md_equal(dn_home(s, gate), dn_home(s, y))) {
		/* a SiLU between the two is this backend's kernel: no fusion */
		if (!gate_act(gk, &a1))
			return JALAD_OK;
		have_a1 = 1;
		x = gate;
		j += 2;
	}
	/* the depthwise convolution reading x */
	if (j >= g->n_nodes || !only_feeds(s, x, j) || !main_step(s->unit[j]) || s->unit[j]->nsteps != 1)
		return JALAD_OK;
	struct dn_unit *dw = s->unit[j];
	if (!conv_shape(dw, 3, 3))
		return JALAD_OK;
	const dnnl_convolution_desc_t *dc = &dw->od->conv;
	if (strncmp(dw->impl, "jit_dw:", 7) != 0 || g->nodes[j].in[0] != x ||
	    dc->weights_desc.ndims != 5 || dc->bias_desc.ndims != 1 || !dn_md_equal(&dc->src_desc, dn_home(s, x)))
		return JALAD_OK;
	int64_t st = dc->strides[0], pl = dc->padding[0][0];
	int64_t ih = dc->src_desc.dims[2], iw = dc->src_desc.dims[3];
	/* oneDNN derives the output as ceil(in / stride) from the left pad */
	if (st != dc->strides[1] || (st != 1 && st != 2) || pl != dc->padding[0][1] || pl > 1 ||
	    dc->dst_desc.dims[2] != (ih + st - 1) / st || dc->dst_desc.dims[3] != (iw + st - 1) / st ||
	    (dc->dst_desc.dims[2] - 1) * st + 3 - ih - pl < 0)
		return JALAD_OK;
	int out = dw->out, end = j + 1;
	int have_a2 = act_after(s, end, out, &a2);
	if (have_a2) {
		out = g->nodes[end].out[0];
		end++;
	} else if ((gate = gate_after(s, end, out, &gk)) >= 0 && dn_md_equal(dn_home(s, gate), dn_home(s, out)) &&
		   gate_act(gk, &a2)) {
		have_a2 = 1;
		out = gate;
		end += 2;
	}
	struct dn_step *dws = main_step(dw);
	struct dn_ref *wref = step_ref(dws, DNNL_ARG_WEIGHTS), *bref = step_ref(dws, DNNL_ARG_BIAS);
	if (!wref || !bref)
		return JALAD_OK;

	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	int prim;
	enum jalad_status e = dn_check(dnnl_post_ops_create(&po), "post-ops");
	if (e == JALAD_OK && have_a1)
		e = dn_act_post_ops(po, &a1);
	if (e == JALAD_OK)
		e = dn_check(dnnl_post_ops_append_dw(po, dnnl_f32, dnnl_f32, dnnl_f32, 3, st, pl, 0, 0, NULL),
			     "depthwise post-op");
	if (e == JALAD_OK && have_a2)
		e = dn_act_post_ops(po, &a2);
	e = make_fused(s, head, po, e, &pd, &prim);
	if (e == JALAD_ERR_UNSUPPORTED)
		return JALAD_OK;
	JALAD_FORWARD(e);
	const dnnl_memory_desc_t *fdst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	const dnnl_memory_desc_t *fw = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
								    DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS);
	const dnnl_memory_desc_t *fb = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
								    DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS);
	if (strcmp(dn_pd_impl(pd), head->impl) != 0 || !fdst || !fw || !fb ||
	    !dn_md_equal(fdst, dn_home(s, out)) || !dn_md_equal(fw, &dc->weights_desc) ||
	    !dn_md_equal(fb, &dc->bias_desc)) {
		jalad_log(JALAD_LOG_DEBUG, "dnnl: no depthwise fusion at node %d: %s", i, dn_pd_impl(pd));
		return JALAD_OK;
	}
	struct dn_unit *fu = NULL;
	JALAD_FORWARD(dn_unit_clone(head, &fu));
	fu->end = end;
	fu->out = out;
	struct dn_step *ms = &fu->step[fu->nsteps - 1];
	ms->prim = prim;
	struct dn_ref *dr = step_ref(ms, DNNL_ARG_DST);
	if (!dr) {
		dn_unit_free(fu);
		return jalad_fail(JALAD_ERR_INTERNAL, "dnnl: fused unit at node %d has no destination", i);
	}
	dr->id = out;
	if ((e = dn_md_id(s, fdst, &dr->md)) != JALAD_OK ||
	    (e = dn_step_arg(ms, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, wref)) != JALAD_OK ||
	    (e = dn_step_arg(ms, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, bref)) != JALAD_OK) {
		dn_unit_free(fu);
		return e;
	}
	s->fused[i] = fu;
	s->t[out].group_out = 1;
	*done = 1;
	return JALAD_OK;
}

enum jalad_status dn_fuse_all(struct dn_state *s)
{
	if (!s->fuse)
		return JALAD_OK;
	for (int i = 0; i < s->g->n_nodes; i++) {
		int done = 0;
		JALAD_FORWARD(fuse_dw_at(s, i, &done));
		if (!done)
			JALAD_FORWARD(fuse_at(s, i));
	}
	return JALAD_OK;
}
#endif /* JALAD_HAVE_DNNL */
