/* The adaptive edge: run [0, k), encode the crossing tensors, ask the cloud
 * for [k, n), fall back to computing [k, n) locally when the cloud fails,
 * and choose the next plan from the measured uplink with hysteresis. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_edge_impl.h"

static void sleep_ms(double ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

#define COMPUTE_DECAY 0.9

/* measured / predicted, within [0.25, 8]; 1 until enough was measured. */
static double scale(double meas, double pred)
{
	if (pred < 0.05)
		return 1; /* no (or too little) predicted work seen yet to judge */
	double r = meas / pred;
	return r < 0.25 ? 0.25 : r > 8 ? 8 : r;
}

double edge_ms_since(uint64_t t0)
{
	return (double)(jalad_now_ns() - t0) / 1e6;
}

/* Make a piece of edge work take F times as long as measured: sleeping
 * (F-1) x its time stands in for a slower device (an approximation: it
 * ignores that a slower device's caches and memory differ). */
void edge_slow_down(const struct jalad_edge *e, uint64_t t0)
{
	if (e->o.slowdown > 1)
		sleep_ms((e->o.slowdown - 1) * edge_ms_since(t0));
}

static void replan(struct jalad_edge *e);

double jalad_edge_plan_predict(const struct jalad_edge *e, int i, double bw_bps, double rtt_ms)
{
	if (i < 0 || i >= e->n_plans)
		return -1;
	const struct jalad_edge_plan *p = &e->plans[i];
	if (p->edge_ms < 0 || p->cloud_ms < 0)
		return -1;
	const struct plan_learn *l = &e->learn[i];
	if (l->disabled)
		return -1;
	double t = p->edge_ms * scale(l->edge_meas, l->edge_pred);
	if (p->k < e->n_nodes)
		t += p->cloud_ms * scale(l->cloud_meas, l->cloud_pred) + rtt_ms +
		     (p->bytes > 0 && bw_bps > 0 ? 8e3 * p->bytes / bw_bps : 0);
	return t;
}

/* Fold one request's measured compute into the correction ratios. */
static void learn_compute(struct jalad_edge *e, int i, const struct jalad_edge_result *r)
{
	const struct jalad_edge_plan *p = &e->plans[i];
	if (p->edge_ms < 0 || p->cloud_ms < 0)
		return;
	struct plan_learn *l = &e->learn[i];
	l->edge_meas = COMPUTE_DECAY * l->edge_meas + r->edge_ms + r->encode_ms;
	l->edge_pred = COMPUTE_DECAY * l->edge_pred + p->edge_ms;
	if (p->k < e->n_nodes && !r->fallback) {
		l->cloud_meas = COMPUTE_DECAY * l->cloud_meas + r->cloud_ms;
		l->cloud_pred = COMPUTE_DECAY * l->cloud_pred + p->cloud_ms;
	}
}

void jalad_edge_set_link(struct jalad_edge *e, double bw_bps, double rtt_ms)
{
	e->oracle_bw = bw_bps > 0 ? bw_bps : 0;
	e->oracle_rtt = rtt_ms >= 0 ? rtt_ms : -1;
	if (e->oracle_bw > 0 || e->oracle_rtt >= 0)
		replan(e);
}

int edge_take_plan(struct jalad_edge *e, struct jalad_edge_result *res, int take_explore)
{
	int i = e->next;
	const struct jalad_edge_plan *p = &e->plans[i];
	memset(res, 0, sizeof *res);
	res->id = ++e->next_id;
	res->plan = i;
	res->k = p->k;
	res->bits = p->bits;
	res->per_channel = p->per_channel;
	res->coder = p->coder;
	res->payload = p->payload;
	res->explored = e->next_explore;
	res->switched = !res->explored && e->prev_used >= 0 && i != e->prev_used;
	res->predicted_ms = jalad_edge_plan_predict(e, i, e->bw, e->rtt);
	res->verify_max_abs = -1;
	res->cloud_status = JALAD_OK;
	if (!res->explored)
		e->prev_used = i;
	if (take_explore && e->next_explore) {
		e->next = e->cur;
		e->next_explore = 0;
	}
	return i;
}

int jalad_edge_current_plan(const struct jalad_edge *e)
{
	return e->next;
}

/* An image payload sends the model's input at cut 0, which must be one
 * (1, C, H, W) image. The plan's container settings become those of the
 * stand-in sent when a request comes without its image: 8 bits, raw. */
static enum jalad_status setup_image_plan(struct jalad_edge *e, int i)
{
	struct jalad_edge_plan *p = &e->plans[i];
	const char *name = jalad_net_payload_name(p->payload);
	JALAD_RETURN_IF(p->k != 0, JALAD_ERR_INVALID_ARG, "edge: plan %d: a %s payload is only for cut 0, not cut %d", i,
			name, p->k);
	JALAD_RETURN_IF(p->jpeg_quality < 0 || p->jpeg_quality > 100, JALAD_ERR_INVALID_ARG,
			"edge: plan %d: JPEG quality %d (1..100, 0 = 90)", i, p->jpeg_quality);
	if (!p->jpeg_quality)
		p->jpeg_quality = 90;
	struct jalad_tensor_desc d;
	JALAD_FORWARD(jalad_model_tensor_desc(e->m, jalad_model_input(e->m, 0), &d));
	JALAD_RETURN_IF(d.dtype != JALAD_DTYPE_FLOAT32 || d.ndim != 4 || d.dims[0] != 1 ||
				(d.dims[1] != 1 && d.dims[1] != 3) || d.dims[2] < 1 || d.dims[2] > 0xFFFF ||
				d.dims[3] < 1 || d.dims[3] > 0xFFFF,
			JALAD_ERR_UNSUPPORTED,
			"edge: plan %d: a %s payload needs a model whose input is one (1, C, H, W) float32 image with C = 1 "
			"or 3; '%s' is not", i, name, d.name);
	p->bits = 8;
	p->per_channel = 0;
	p->coder = JALAD_CODER_RAW;
	p->dict = NULL;
	return JALAD_OK;
}

static enum jalad_status setup_plan(struct jalad_edge *e, int i, size_t *max_x)
{
	struct jalad_edge_plan *p = &e->plans[i];
	struct plan_cut *c = &e->cuts[i];
	JALAD_RETURN_IF(p->k < 0 || p->k > e->n_nodes, JALAD_ERR_INVALID_ARG, "edge: plan %d: cut %d is not in [0, %d]",
			i, p->k, e->n_nodes);
	JALAD_RETURN_IF((int)p->payload < 0 || p->payload >= JALAD_NET_PAYLOAD_COUNT, JALAD_ERR_INVALID_ARG,
			"edge: plan %d: unknown payload kind %d", i, (int)p->payload);
	if (p->k == e->n_nodes) {
		p->payload = JALAD_NET_PAYLOAD_NONE;
		return JALAD_OK; /* edge-only */
	}
	if (p->payload == JALAD_NET_PAYLOAD_NONE)
		p->payload = JALAD_NET_PAYLOAD_CONTAINER;
	if (jalad_net_payload_is_image(p->payload))
		JALAD_FORWARD(setup_image_plan(e, i));
	JALAD_RETURN_IF(!(p->bits == 0 || (p->bits >= 1 && p->bits <= 8) || p->bits == 16), JALAD_ERR_INVALID_ARG,
			"edge: plan %d: %d bits (0, 1..8 or 16)", i, p->bits);
	JALAD_RETURN_IF((int)p->coder < 0 || (p->coder >= JALAD_CODER_COUNT && p->coder != JALAD_CODER_AUTO),
			JALAD_ERR_INVALID_ARG, "edge: plan %d: unknown coder %d", i, (int)p->coder);
	JALAD_FORWARD(jalad_model_crossing(e->m, p->k, c->ids, JALAD_CODEC_MAX_TENSORS, &c->count));
	JALAD_RETURN_IF(c->count > JALAD_CODEC_MAX_TENSORS || c->count < 1, JALAD_ERR_UNSUPPORTED,
			"edge: cut %d is crossed by %d tensors (1..%d can be sent)", p->k, c->count,
			JALAD_CODEC_MAX_TENSORS);
	size_t off = 0;
	for (int t = 0; t < c->count; t++) {
		JALAD_FORWARD(jalad_model_tensor_desc(e->m, c->ids[t], &c->desc[t]));
		c->relu[t] = jalad_model_tensor_relu_only(e->m, c->ids[t]);
		JALAD_RETURN_IF(c->desc[t].dtype != JALAD_DTYPE_FLOAT32, JALAD_ERR_UNSUPPORTED,
				"edge: cut %d is crossed by '%s' of type %s; only float32 tensors can be sent", p->k,
				c->desc[t].name, jalad_dtype_name(c->desc[t].dtype));
		int64_t n = 1;
		for (int a = 0; a < c->desc[t].ndim; a++)
			n *= c->desc[t].dims[a];
		c->offset[t] = off;
		off += (size_t)n;
	}
	if (off > *max_x)
		*max_x = off;
	c->dict = p->dict;
	JALAD_RETURN_IF(c->dict && jalad_codec_dict_bits(c->dict) != p->bits, JALAD_ERR_MISMATCH,
			"edge: plan %d: its dictionary is for %d bits, the plan uses %d", i,
			jalad_codec_dict_bits(c->dict), p->bits);
	JALAD_RETURN_IF(!jalad_codec_dict_serves(c->dict, p->coder, p->bits), JALAD_ERR_NOT_FOUND,
			"edge: plan %d uses %s but has no dictionary for it%s", i, jalad_coder_name(p->coder),
			c->dict ? " (this one has no 2-d tables)" : "");
	return JALAD_OK;
}

/* Make one image payload of a blank model-sized image. */
static enum jalad_status warm_image(struct jalad_edge *e, const struct jalad_edge_plan *p,
				    const struct jalad_tensor_desc *in)
{
	struct jalad_image *img = NULL;
	struct jalad_preprocess pp;
	size_t len;
	jalad_preprocess_default(&pp, (int)in->dims[1], (int)in->dims[2], (int)in->dims[3]);
	JALAD_FORWARD(jalad_image_create(pp.width, pp.height, pp.channels, &img));
	enum jalad_status st = jalad_net_image_payload(p->payload, img, &pp, p->jpeg_quality, &e->cbuf, &e->ccap, &len, NULL);
	jalad_image_free(img);
	return st;
}

/* One untimed run of the model and one encode per plan: first runs pay for
 * JIT compilation, page faults and buffer growth, which a slowdown factor
 * would multiply into seconds. */
static enum jalad_status warm_up(struct jalad_edge *e, const struct jalad_tensor_desc *in)
{
	int64_t n = 1;
	for (int a = 0; a < in->ndim; a++)
		n *= in->dims[a];
	JALAD_RETURN_IF(in->dtype != JALAD_DTYPE_FLOAT32 || n <= 0, JALAD_ERR_UNSUPPORTED,
			"edge: the model's input '%s' is not a float32 tensor", in->name);
	float *x = calloc((size_t)n, sizeof *x);
	JALAD_RETURN_IF(!x, JALAD_ERR_NOMEM, "edge: out of memory");
	struct jalad_tensor t = { JALAD_DTYPE_FLOAT32, in->ndim, { 0 }, x };
	memcpy(t.dims, in->dims, sizeof t.dims);
	enum jalad_status st = jalad_session_run(e->s, &t, 1);
	for (int i = 0; st == JALAD_OK && i < e->n_plans; i++) {
		const struct jalad_edge_plan *p = &e->plans[i];
		const struct plan_cut *c = &e->cuts[i];
		if (p->k == e->n_nodes)
			continue;
		struct jalad_codec_tensor ct[JALAD_CODEC_MAX_TENSORS];
		for (int k = 0; k < c->count; k++) {
			ct[k].data = e->xbuf + c->offset[k];
			ct[k].relu = c->relu[k];
			ct[k].ndim = c->desc[k].ndim;
			memcpy(ct[k].dims, c->desc[k].dims, sizeof ct[k].dims);
		}
		memset(e->xbuf, 0, e->xcap * sizeof *e->xbuf);
		struct jalad_codec_params cp = { .bits = p->bits, .coder = p->coder, .per_channel = p->per_channel,
						 .crc = 1, .dict = c->dict };
		size_t cap = jalad_codec_bound(&cp, ct, c->count), len;
		if (!cap) {
			st = jalad_fail(JALAD_ERR_INVALID_ARG, "edge: the codec refuses plan %d (%d bits, %s)", i,
					p->bits, jalad_coder_name(p->coder));
			break;
		}
		if (cap > e->ccap) {
			uint8_t *nb = realloc(e->cbuf, cap);
			if (!nb) {
				st = jalad_fail(JALAD_ERR_NOMEM, "edge: out of memory");
				break;
			}
			e->cbuf = nb;
			e->ccap = cap;
		}
		st = jalad_codec_encode(e->ctx, &cp, ct, c->count, e->cbuf, cap, &len, NULL);
		if (st == JALAD_OK && p->payload != JALAD_NET_PAYLOAD_CONTAINER && p->payload != JALAD_NET_PAYLOAD_FILE)
			st = warm_image(e, p, in);
	}
	free(x);
	return st;
}

enum jalad_status jalad_edge_create(const struct jalad_model *model, const struct jalad_edge_opts *opts,
				    const struct jalad_edge_plan *plans, int n_plans, struct jalad_edge **out)
{
	enum jalad_status st;
	*out = NULL;
	JALAD_RETURN_IF(!model || !opts || !plans || n_plans < 1, JALAD_ERR_INVALID_ARG, "edge: no model, options or plans");
	JALAD_RETURN_IF(jalad_model_input_count(model) != 1, JALAD_ERR_UNSUPPORTED,
			"edge: the model has %d inputs; one is supported", jalad_model_input_count(model));
	struct jalad_edge *e = calloc(1, sizeof *e);
	JALAD_RETURN_IF(!e, JALAD_ERR_NOMEM, "edge: out of memory");
	e->m = model;
	e->o = *opts;
	e->n_nodes = jalad_model_node_count(model);
	e->n_outputs = jalad_model_output_count(model);
	e->n_plans = n_plans;
	e->prev_used = -1;
	if (e->o.hysteresis == 0)
		e->o.hysteresis = 0.1;
	if (e->o.explore_every <= 0)
		e->o.explore_every = 20;
	e->bw = e->o.init_bw_bps > 0 ? e->o.init_bw_bps : 10e6;
	e->rtt = e->o.init_rtt_ms > 0 ? e->o.init_rtt_ms : 1.0;
	e->oracle_rtt = -1;
	if (e->n_outputs > JALAD_NET_MAX_OUTPUTS) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED, "edge: %d outputs (max %d)", e->n_outputs, JALAD_NET_MAX_OUTPUTS);
		goto fail;
	}
	e->plans = calloc((size_t)n_plans, sizeof *e->plans);
	e->cuts = calloc((size_t)n_plans, sizeof *e->cuts);
	e->learn = calloc((size_t)n_plans, sizeof *e->learn);
	if (!e->plans || !e->cuts || !e->learn) {
		st = jalad_fail(JALAD_ERR_NOMEM, "edge: out of memory");
		goto fail;
	}
	memcpy(e->plans, plans, (size_t)n_plans * sizeof *plans);
	size_t max_x = 0;
	int need_cloud = 0;
	struct jalad_tensor_desc in;
	if ((st = jalad_model_tensor_desc(model, jalad_model_input(model, 0), &in)) != JALAD_OK)
		goto fail;
	for (int i = 0; i < n_plans; i++) {
		if ((st = setup_plan(e, i, &max_x)) != JALAD_OK)
			goto fail;
		need_cloud |= plans[i].k < e->n_nodes;
	}
	e->xcap = max_x ? max_x : 1;
	e->xbuf = malloc(e->xcap * sizeof *e->xbuf);
	if (!e->xbuf) {
		st = jalad_fail(JALAD_ERR_NOMEM, "edge: out of memory");
		goto fail;
	}
	struct jalad_session_opts so = { .threads = e->o.threads > 0 ? e->o.threads : 1, .backend = e->o.backend };
	if ((st = jalad_session_create(model, &so, &e->s)) != JALAD_OK ||
	    (st = jalad_codec_ctx_create(&e->ctx)) != JALAD_OK || (st = jalad_estimator_create(3, &e->est)) != JALAD_OK)
		goto fail;
	if ((st = warm_up(e, &in)) != JALAD_OK)
		goto fail;
	/* Start with the best plan for the priors. */
	for (int i = 0; i < n_plans; i++) {
		double p = jalad_edge_plan_predict(e, i, e->bw, e->rtt), pc = jalad_edge_plan_predict(e, e->cur, e->bw, e->rtt);
		if (p >= 0 && (pc < 0 || p < pc))
			e->cur = i;
	}
	e->next = e->cur;
	if (need_cloud) {
		uint8_t sha[32];
		jalad_model_sha256(model, sha);
		e->dicts = calloc((size_t)n_plans, sizeof *e->dicts);
		if (!e->dicts) {
			st = jalad_fail(JALAD_ERR_NOMEM, "edge: out of memory");
			goto fail;
		}
		for (int i = 0; i < n_plans; i++)
			if (e->cuts[i].dict && e->plans[i].payload == JALAD_NET_PAYLOAD_CONTAINER &&
			    jalad_coder_uses_dict(e->plans[i].coder) + (e->plans[i].coder == JALAD_CODER_AUTO))
				e->dicts[e->n_dicts++] = e->cuts[i].dict;
		struct jalad_client_opts co = e->o.client;
		co.dicts = e->dicts;
		co.n_dicts = e->n_dicts;
		if ((st = jalad_client_create(&co, sha, &e->cl)) != JALAD_OK)
			goto fail;
	}
	*out = e;
	return JALAD_OK;
fail:
	jalad_edge_free(e);
	return st;
}

void jalad_edge_free(struct jalad_edge *e)
{
	if (!e)
		return;
	jalad_client_free(e->cl);
	jalad_estimator_free(e->est);
	jalad_codec_ctx_free(e->ctx);
	jalad_session_free(e->s);
	free(e->plans);
	free(e->cuts);
	free(e->learn);
	free(e->dicts);
	free(e->xbuf);
	free(e->cbuf);
	free(e->lout);
	free(e);
}

/* The crossing tensors of plan i as views of base (xbuf, or a stream slot's). */
void edge_cut_views(const struct jalad_edge *e, int i, float *base, struct jalad_tensor *v)
{
	const struct plan_cut *c = &e->cuts[i];
	for (int t = 0; t < c->count; t++) {
		v[t].dtype = JALAD_DTYPE_FLOAT32;
		v[t].ndim = c->desc[t].ndim;
		memcpy(v[t].dims, c->desc[t].dims, sizeof v[t].dims);
		v[t].data = base + c->offset[t];
	}
}

enum jalad_status edge_local_outputs(struct jalad_edge *e, struct jalad_session *sess, struct jalad_edge_result *res)
{
	res->n_outputs = e->n_outputs;
	for (int i = 0; i < e->n_outputs; i++)
		JALAD_FORWARD(jalad_session_tensor(sess, jalad_model_output(e->m, i), &res->outputs[i]));
	return JALAD_OK;
}

enum jalad_status edge_check_answer(const struct jalad_edge *e, const struct jalad_client_result *cr)
{
	JALAD_RETURN_IF(cr->n_outputs != e->n_outputs, JALAD_ERR_SHAPE,
			"bad answer from the cloud: %d outputs, the model has %d", cr->n_outputs, e->n_outputs);
	for (int o = 0; o < cr->n_outputs; o++) {
		struct jalad_tensor_desc d;
		JALAD_FORWARD(jalad_model_tensor_desc(e->m, jalad_model_output(e->m, o), &d));
		const struct jalad_tensor *t = &cr->outputs[o];
		int same = t->ndim == d.ndim;
		for (int a = 0; same && a < d.ndim; a++)
			same = t->dims[a] == d.dims[a];
		if (!same) {
			char got[96] = "", want[96] = "";
			for (int a = 0, n1 = 0, n2 = 0; a < JALAD_MAX_DIMS; a++) {
				if (a < t->ndim && n1 < (int)sizeof got - 24)
					n1 += snprintf(got + n1, sizeof got - (size_t)n1, "%s%lld", a ? "," : "",
						       (long long)t->dims[a]);
				if (a < d.ndim && n2 < (int)sizeof want - 24)
					n2 += snprintf(want + n2, sizeof want - (size_t)n2, "%s%lld", a ? "," : "",
						       (long long)d.dims[a]);
			}
			return jalad_fail(JALAD_ERR_SHAPE, "bad answer from the cloud: output '%s' is [%s], the model's is [%s]",
					  d.name, got, want);
		}
		const float *v = t->data;
		int64_t n = jalad_tensor_numel(t);
		for (int64_t j = 0; j < n; j++)
			JALAD_RETURN_IF(!isfinite(v[j]), JALAD_ERR_FORMAT,
					"bad answer from the cloud: output '%s' holds a non-finite value (%g at %lld)", d.name,
					(double)v[j], (long long)j);
	}
	return JALAD_OK;
}

/* verify: compute [k, n) locally too, from the float crossing tensors v
 * (the input itself at k = 0), and compare with the cloud's outputs. */
static enum jalad_status verify(struct jalad_edge *e, int i, const struct jalad_tensor *v,
				struct jalad_edge_result *res)
{
	const struct plan_cut *c = &e->cuts[i];
	JALAD_FORWARD(jalad_session_run_range(e->s, e->plans[i].k, e->n_nodes, c->ids, v, c->count));
	double worst = 0;
	for (int o = 0; o < res->n_outputs && o < e->n_outputs; o++) {
		struct jalad_tensor t;
		JALAD_FORWARD(jalad_session_tensor(e->s, jalad_model_output(e->m, o), &t));
		int64_t n = jalad_tensor_numel(&t);
		if (t.dtype != JALAD_DTYPE_FLOAT32 || n != jalad_tensor_numel(&res->outputs[o])) {
			worst = INFINITY;
			continue;
		}
		const float *a = t.data, *b = res->outputs[o].data;
		for (int64_t j = 0; j < n; j++) {
			double d = fabs((double)a[j] - (double)b[j]);
			if (!(d <= worst)) /* NaN counts as the worst */
				worst = isnan(d) ? INFINITY : d;
		}
	}
	res->verify_max_abs = worst;
	return JALAD_OK;
}

/* After a request: fold in the estimates and choose the next plan. */
static void replan(struct jalad_edge *e)
{
	double bw = e->bw, rtt = e->rtt;
	if (jalad_estimator_get(e->est, &bw, &rtt))
		e->have_bw = 1;
	if (e->oracle_bw > 0) {
		bw = e->oracle_bw;
		e->have_bw = 1;
	}
	if (e->oracle_rtt >= 0)
		rtt = e->oracle_rtt;
	e->bw = bw;
	e->rtt = rtt;
	int best = -1, best_split = -1;
	double pb = 0, ps = 0;
	for (int i = 0; i < e->n_plans; i++) {
		double p = jalad_edge_plan_predict(e, i, bw, rtt);
		if (p < 0)
			continue;
		if (best < 0 || p < pb)
			best = i, pb = p;
		if (e->plans[i].k < e->n_nodes && (best_split < 0 || p < ps))
			best_split = i, ps = p;
	}
	if (best >= 0 && best != e->cur) {
		double pc = jalad_edge_plan_predict(e, e->cur, bw, rtt);
		if (pc < 0 || e->o.hysteresis < 0 || pb < pc * (1 - e->o.hysteresis))
			e->cur = best;
	}
	e->next = e->cur;
	e->next_explore = 0;
	/* Edge-only sends nothing, so nothing is measured: now and then send
	 * one real request with the best split plan to learn the link again. */
	if (e->plans[e->cur].k == e->n_nodes && best_split >= 0) {
		if (++e->edge_only_run >= e->o.explore_every) {
			e->edge_only_run = 0;
			e->next = best_split;
			e->next_explore = 1;
		}
	} else {
		e->edge_only_run = 0;
	}
}

/* After a request on plan i: learn from it, re-plan, and report the
 * estimates and corrections that now hold. */
void edge_finish_request(struct jalad_edge *e, int i, struct jalad_edge_result *res)
{
	learn_compute(e, i, res);
	replan(e);
	res->bw_bps = e->have_bw ? e->bw : -1;
	res->rtt_ms = e->rtt;
	res->edge_scale = scale(e->learn[i].edge_meas, e->learn[i].edge_pred);
	res->cloud_scale = scale(e->learn[i].cloud_meas, e->learn[i].cloud_pred);
}

/* Whether src holds what an image payload of this kind is made from. */
int edge_have_source(enum jalad_net_payload kind, const struct jalad_edge_image *src)
{
	if (kind == JALAD_NET_PAYLOAD_FILE)
		return src && src->file && src->file_bytes;
	return src && src->image && src->pp;
}

/* The payload kind plan i sends with source src: an image payload without
 * its image goes as the plan's stand-in container; an image whose
 * preprocessing does not make the model's input shape is an error. */
enum jalad_status edge_payload_kind(const struct jalad_edge *e, int i, const struct jalad_edge_image *src,
				    enum jalad_net_payload *out)
{
	enum jalad_net_payload kind = e->plans[i].payload;
	if (jalad_net_payload_is_image(kind) && !edge_have_source(kind, src))
		kind = JALAD_NET_PAYLOAD_CONTAINER;
	if (kind == JALAD_NET_PAYLOAD_U8 || kind == JALAD_NET_PAYLOAD_PNG || kind == JALAD_NET_PAYLOAD_JPEG) {
		const struct jalad_tensor_desc *d = &e->cuts[i].desc[0];
		JALAD_RETURN_IF(src->pp->channels != d->dims[1] || src->pp->height != d->dims[2] ||
					src->pp->width != d->dims[3],
				JALAD_ERR_SHAPE,
				"edge: the image's preprocessing makes %dx%dx%d, the model's input '%s' is %lldx%lldx%lld",
				src->pp->channels, src->pp->height, src->pp->width, d->name, (long long)d->dims[1],
				(long long)d->dims[2], (long long)d->dims[3]);
	}
	*out = kind;
	return JALAD_OK;
}

/* The dictionary plan i's container needs, or NULL. */
const struct jalad_codec_dict *edge_plan_dict(const struct jalad_edge *e, int i)
{
	const struct jalad_edge_plan *p = &e->plans[i];
	if (p->payload != JALAD_NET_PAYLOAD_CONTAINER || !e->cuts[i].dict)
		return NULL;
	if (!jalad_coder_uses_dict(p->coder) && p->coder != JALAD_CODER_AUTO)
		return NULL;
	return e->cuts[i].dict;
}

/* The server refused dict: no plan that needs it is chosen again; none
 * that needs any dictionary if the refusal was for room or for uploads as
 * such (status), since the others would fare the same. */
void edge_disable_dict(struct jalad_edge *e, const struct jalad_codec_dict *dict, int status)
{
	int all = status == JALAD_ERR_LIMIT || status == JALAD_ERR_UNSUPPORTED;
	for (int i = 0; i < e->n_plans; i++) {
		const struct jalad_codec_dict *d = edge_plan_dict(e, i);
		if (d && (all || jalad_codec_dict_id(d) == jalad_codec_dict_id(dict)))
			e->learn[i].disabled = 1;
	}
	jalad_log(JALAD_LOG_WARN, "edge: the server refused dictionary 0x%08x; planning without %s",
		  jalad_codec_dict_id(dict), all ? "shared dictionaries" : "it");
}

/* The codec container of the crossing tensors v into cbuf. A plan whose
 * dictionary the server refused codes with the same bits and no
 * dictionary: Huffman with its own table (or auto among the others).
 * *coder: the coder asked for; *dict: the dictionary it needs, or NULL. */
enum jalad_status edge_encode(struct jalad_edge *e, struct jalad_codec_ctx *ctx, int i, const struct jalad_tensor *v,
			      uint8_t **buf, size_t *bcap, size_t *len, enum jalad_coder *coder,
			      const struct jalad_codec_dict **dict)
{
	const struct jalad_edge_plan *p = &e->plans[i];
	const struct plan_cut *c = &e->cuts[i];
	const struct jalad_codec_dict *d = edge_plan_dict(e, i);
	*coder = p->coder;
	if (d && e->cl && jalad_client_dict_refused(e->cl, d)) {
		if (p->coder != JALAD_CODER_AUTO)
			*coder = JALAD_CODER_HUFFMAN;
		d = NULL;
	}
	*dict = d;
	struct jalad_codec_tensor ct[JALAD_CODEC_MAX_TENSORS];
	for (int t = 0; t < c->count; t++) {
		ct[t].data = v[t].data;
		ct[t].relu = c->relu[t];
		ct[t].ndim = v[t].ndim;
		memcpy(ct[t].dims, v[t].dims, sizeof ct[t].dims);
	}
	struct jalad_codec_params cp = { .bits = p->bits, .coder = *coder, .per_channel = p->per_channel,
					 .crc = 1, .dict = d };
	size_t cap = jalad_codec_bound(&cp, ct, c->count);
	JALAD_RETURN_IF(!cap, JALAD_ERR_INVALID_ARG, "edge: the codec refuses plan %d (%d bits, %s)", i, p->bits,
			jalad_coder_name(*coder));
	if (cap > *bcap) {
		uint8_t *nb = realloc(*buf, cap);
		JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "edge: out of memory for a %zu-byte container", cap);
		*buf = nb;
		*bcap = cap;
	}
	return jalad_codec_encode(ctx, &cp, ct, c->count, *buf, cap, len, NULL);
}

/* Send one request and wait for its answer, within what is left of the
 * deadline of a request that started at t0. */
static enum jalad_status request(struct jalad_edge *e, uint64_t id, int k, enum jalad_net_payload kind,
				 const uint8_t *payload, size_t len, const struct jalad_codec_dict *dict, uint64_t t0,
				 struct jalad_client_result *cr)
{
	uint32_t timeout = 0;
	if (e->o.deadline_ms) {
		double left = e->o.deadline_ms - edge_ms_since(t0);
		JALAD_RETURN_IF(left < 1, JALAD_ERR_TIMEOUT, "the deadline passed before the request could be sent");
		timeout = (uint32_t)left;
	}
	struct jalad_client_req rq = { .id = id, .k = k, .kind = kind, .payload = payload, .len = len, .dict = dict,
				       .timeout_ms = timeout };
	JALAD_FORWARD(jalad_client_send(e->cl, &rq, cr));
	uint32_t left = 0;
	if (timeout) {
		uint64_t spent = (jalad_now_ns() - cr->send_start_ns) / 1000000u;
		left = spent >= timeout ? 1 : timeout - (uint32_t)spent;
	}
	return jalad_client_recv(e->cl, id, left, cr);
}

enum jalad_status jalad_edge_infer(struct jalad_edge *e, const struct jalad_tensor *input,
				   struct jalad_edge_result *res)
{
	return jalad_edge_infer_image(e, input, NULL, res);
}

enum jalad_status jalad_edge_infer_image(struct jalad_edge *e, const struct jalad_tensor *input,
					 const struct jalad_edge_image *src, struct jalad_edge_result *res)
{
	enum jalad_status st;
	int i = e->next;
	const struct jalad_edge_plan *p = &e->plans[i];
	const struct plan_cut *c = &e->cuts[i];
	int in_id = jalad_model_input(e->m, 0);
	edge_take_plan(e, res, 0);
	uint64_t t0 = jalad_now_ns();

	if (p->k == e->n_nodes) { /* edge-only */
		JALAD_FORWARD(jalad_session_run(e->s, input, 1));
		edge_slow_down(e, t0);
		res->edge_ms = edge_ms_since(t0);
		JALAD_FORWARD(edge_local_outputs(e, e->s, res));
		res->total_ms = edge_ms_since(t0);
		edge_finish_request(e, i, res);
		return JALAD_OK;
	}

	/* [0, k), then a copy of the crossing tensors: the fallback needs them
	 * after the session has been reused. The input itself is the caller's
	 * and stays put, so it is used in place. The slowdown stretches the
	 * model's computation, not this bookkeeping. */
	struct jalad_tensor v[JALAD_CODEC_MAX_TENSORS];
	edge_cut_views(e, i, e->xbuf, v);
	if (p->k > 0) {
		JALAD_FORWARD(jalad_session_run_range(e->s, 0, p->k, &in_id, input, 1));
		edge_slow_down(e, t0);
	}
	for (int t = 0; t < c->count; t++) {
		struct jalad_tensor x;
		if (c->ids[t] == in_id)
			x = *input;
		else
			JALAD_FORWARD(jalad_session_tensor(e->s, c->ids[t], &x));
		int64_t n = jalad_tensor_numel(&v[t]);
		JALAD_RETURN_IF(x.dtype != JALAD_DTYPE_FLOAT32 || jalad_tensor_numel(&x) != n, JALAD_ERR_SHAPE,
				"edge: crossing tensor '%s' has an unexpected type or size", c->desc[t].name);
		if (c->ids[t] == in_id)
			v[t].data = x.data;
		else
			memcpy(v[t].data, x.data, (size_t)n * sizeof(float));
	}
	res->edge_ms = edge_ms_since(t0);

	/* Encode (the slowdown stretches the codec call itself). An image
	 * payload without its image goes as the plan's stand-in container. */
	enum jalad_net_payload kind;
	JALAD_FORWARD(edge_payload_kind(e, i, src, &kind));
	const uint8_t *payload = e->cbuf;
	const struct jalad_codec_dict *dict = NULL;
	size_t len = 0;
	uint64_t t1 = jalad_now_ns();
	if (kind == JALAD_NET_PAYLOAD_CONTAINER) {
		JALAD_FORWARD(edge_encode(e, e->ctx, i, v, &e->cbuf, &e->ccap, &len, &res->coder, &dict));
	} else if (kind == JALAD_NET_PAYLOAD_FILE) {
		payload = src->file; /* as captured: nothing to make */
		len = src->file_bytes;
	} else {
		uint64_t rs = 0;
		JALAD_FORWARD(jalad_net_image_payload(kind, src->image, src->pp, p->jpeg_quality, &e->cbuf, &e->ccap, &len,
						      &rs));
		t1 += rs; /* the resample is the preprocessing every plan does */
		payload = e->cbuf;
	}
	edge_slow_down(e, t1);
	res->encode_ms = edge_ms_since(t1);
	res->payload = kind;
	res->bytes = len + JALAD_NET_REQUEST_OVERHEAD;

	/* Ask the cloud, within what is left of the deadline. */
	struct jalad_client_result cr;
	memset(&cr, 0, sizeof cr);
	st = request(e, res->id, p->k, kind, payload, len, dict, t0, &cr);
	if (st != JALAD_OK && cr.dict_uploaded && cr.dict_status != 0) {
		/* The server refused the dictionary: plan without it from now on,
		 * and send this request again coded without it (once). */
		res->dict_refused = 1;
		res->dict_uploaded = 1;
		edge_disable_dict(e, dict, jalad_net_status_from_wire(cr.dict_status));
		uint64_t t3 = jalad_now_ns();
		JALAD_FORWARD(edge_encode(e, e->ctx, i, v, &e->cbuf, &e->ccap, &len, &res->coder, &dict));
		edge_slow_down(e, t3);
		res->encode_ms += edge_ms_since(t3);
		res->bytes = len + JALAD_NET_REQUEST_OVERHEAD;
		st = request(e, res->id, p->k, kind, payload, len, dict, t0, &cr);
	}
	res->dict_uploaded |= cr.dict_uploaded;
	if (cr.bytes_sent)
		res->bytes = cr.bytes_sent;
	if (st == JALAD_OK && (st = edge_check_answer(e, &cr)) != JALAD_OK) {
		res->bad_answer = 1;
		jalad_log(JALAD_LOG_WARN, "edge: request %llu: %s; computing it here", (unsigned long long)res->id,
			  jalad_last_error());
	}
	if (st == JALAD_OK) {
		uint64_t hold = cr.srv_send_ns > cr.srv_recv_last_ns ? cr.srv_send_ns - cr.srv_recv_last_ns : 0;
		uint64_t rt = cr.recv_end_ns - cr.send_start_ns;
		uint64_t net = rt > hold ? rt - hold : 0;
		res->net_ms = (double)net / 1e6;
		res->cloud_ms = (double)hold / 1e6;
		res->n_outputs = cr.n_outputs;
		memcpy(res->outputs, cr.outputs, sizeof res->outputs);
		struct jalad_net_sample smp = {
			.bytes = cr.bytes_sent,
			.net_ns = net,
			.srv_span_ns = cr.srv_recv_last_ns - cr.srv_recv_first_ns,
			.srv_first_bytes = cr.srv_first_read_bytes,
			.min_rtt_us = cr.tcp_min_rtt_us,
			.connect_ns = cr.connected_now ? cr.connect_ns : 0,
		};
		jalad_estimator_add(e->est, &smp);
		if (e->o.verify)
			JALAD_FORWARD(verify(e, i, v, res));
	} else {
		/* Late, never lost: compute [k, n) here. */
		res->fallback = 1;
		res->cloud_status = st;
		snprintf(res->reason, sizeof res->reason, "%s", jalad_last_error());
		if (cr.send_start_ns && st != JALAD_ERR_CLOSED)
			res->net_ms = edge_ms_since(cr.send_start_ns);
		uint64_t t2 = jalad_now_ns();
		JALAD_FORWARD(jalad_session_run_range(e->s, p->k, e->n_nodes, c->ids, v, c->count));
		edge_slow_down(e, t2);
		res->fallback_ms = edge_ms_since(t2);
		JALAD_FORWARD(edge_local_outputs(e, e->s, res));
	}
	res->total_ms = edge_ms_since(t0);
	edge_finish_request(e, i, res);
	return JALAD_OK;
}
