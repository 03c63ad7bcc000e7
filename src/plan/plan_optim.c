/*
 * The optimizer. Each candidate plan's predicted latency is a line in
 * x = 1/bandwidth:  L(x) = fixed + RTT + bits_sent * x  (edge-only: fixed).
 * The best plan for every bandwidth is on the lower envelope of those lines,
 * built once per strategy at creation (convex hull trick); choosing is a
 * binary search on its breakpoints plus one comparison with edge-only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

struct cand {
	int cut, bits;
	enum jalad_plan_payload payload;
	enum jalad_coder coder;
	int per_channel;
	const struct jalad_codec_dict *dict;
	double loss;
	double bytes;
	double wire;         /* bytes on the link (jalad_plan_wire_bytes) */
	double req_ms;       /* the server path's per-request constant */
	double edge_ms, enc_ms, dec_ms, cloud_ms;
	double fixed;        /* edge + enc + dec + cloud (+ req_ms) */
	double slope;        /* ms per (1 / bit/s): bytes * 8 * 1000 */
	int order;           /* creation order, the last tie-break */
};

struct strat {
	struct cand *c;      /* network candidates */
	int n, cap;
	int *env;            /* envelope, by increasing x */
	double *bp;          /* bp[i]: x where env[i + 1] takes over from env[i] */
	int n_env;
	struct cand edge;    /* the edge-only candidate, if has_edge */
	int has_edge;
};

struct jalad_planner {
	int n;
	double max_loss;
	struct strat s[JALAD_STRATEGY_COUNT];
};

const char *jalad_strategy_name(enum jalad_strategy s)
{
	switch (s) {
	case JALAD_STRATEGY_BEST: return "jalad";
	case JALAD_STRATEGY_EDGE_ONLY: return "edge_only";
	case JALAD_STRATEGY_CLOUD_RAW: return "cloud_raw";
	case JALAD_STRATEGY_CLOUD_PNG: return "cloud_png";
	case JALAD_STRATEGY_NEUROSURGEON: return "neurosurgeon";
	case JALAD_STRATEGY_JALAD_PAPER: return "jalad_paper";
	case JALAD_STRATEGY_CLOUD_JPEG: return "cloud_jpeg";
	case JALAD_STRATEGY_CLOUD_FILE: return "cloud_file";
	case JALAD_STRATEGY_COUNT: break;
	}
	return "?";
}

const char *jalad_payload_name(enum jalad_plan_payload p)
{
	switch (p) {
	case JALAD_PAYLOAD_NONE: return "none";
	case JALAD_PAYLOAD_CONTAINER: return "container";
	case JALAD_PAYLOAD_INPUT_U8: return "u8";
	case JALAD_PAYLOAD_INPUT_PNG: return "png";
	case JALAD_PAYLOAD_INPUT_JPEG: return "jpeg";
	case JALAD_PAYLOAD_INPUT_FILE: return "file";
	}
	return "?";
}

void jalad_planner_free(struct jalad_planner *pl)
{
	if (!pl)
		return;
	for (int i = 0; i < JALAD_STRATEGY_COUNT; i++) {
		free(pl->s[i].c);
		free(pl->s[i].env);
		free(pl->s[i].bp);
	}
	free(pl);
}

static enum jalad_status push(struct strat *s, const struct cand *c)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 64;
		struct cand *p = realloc(s->c, (size_t)cap * sizeof *p);
		JALAD_RETURN_IF(!p, JALAD_ERR_NOMEM, "planner candidates");
		s->c = p;
		s->cap = cap;
	}
	s->c[s->n] = *c;
	s->c[s->n].order = s->n;
	s->n++;
	return JALAD_OK;
}

static int by_slope_desc(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	if (a->slope != b->slope)
		return a->slope > b->slope ? -1 : 1;
	if (a->fixed != b->fixed)
		return a->fixed < b->fixed ? -1 : 1;
	if (a->loss != b->loss)
		return a->loss < b->loss ? -1 : 1;
	return a->order - b->order;
}

static double meet(const struct cand *a, const struct cand *b)
{
	/* a->slope > b->slope: b is lower for x beyond this point. */
	return (b->fixed - a->fixed) / (a->slope - b->slope);
}

/* Lower envelope over x in [0, inf) of the network candidates. */
static enum jalad_status build_envelope(struct strat *s)
{
	if (s->n == 0)
		return JALAD_OK;
	qsort(s->c, (size_t)s->n, sizeof *s->c, by_slope_desc);
	s->env = malloc((size_t)s->n * sizeof *s->env);
	s->bp = malloc((size_t)s->n * sizeof *s->bp);
	JALAD_RETURN_IF(!s->env || !s->bp, JALAD_ERR_NOMEM, "planner envelope");
	int h = 0;
	for (int i = 0; i < s->n; i++) {
		const struct cand *c = &s->c[i];
		/* Equal slopes: the sort put the best first. */
		if (h > 0 && s->c[s->env[h - 1]].slope == c->slope)
			continue;
		while (h > 0) {
			const struct cand *top = &s->c[s->env[h - 1]];
			double x = meet(top, c);
			/* top is never below c on x >= 0 once c wins at or before 0,
			 * or before top's own segment starts. */
			if (x <= 0 || (h >= 2 && x <= s->bp[h - 2]))
				h--;
			else
				break;
		}
		if (h > 0)
			s->bp[h - 1] = meet(&s->c[s->env[h - 1]], c);
		s->env[h++] = i;
	}
	s->n_env = h;
	return JALAD_OK;
}

static double cand_total(const struct cand *c, double x, double rtt_ms, int net)
{
	return c->fixed + (net ? rtt_ms + c->slope * x : 0);
}

static void fill_choice(const struct cand *c, enum jalad_strategy st, double bps, double rtt_ms, int net,
			struct jalad_plan_choice *out)
{
	memset(out, 0, sizeof *out);
	out->strategy = st;
	out->cut = c->cut;
	out->bits = c->bits;
	out->payload = c->payload;
	out->coder = c->coder;
	out->dict = c->dict;
	out->per_channel = c->per_channel;
	out->accuracy_loss = c->loss;
	out->bytes = c->bytes;
	out->wire_bytes = net ? c->wire : c->bytes;
	out->request_ms = net ? c->req_ms : 0;
	out->edge_ms = c->edge_ms;
	out->encode_ms = c->enc_ms;
	out->decode_ms = c->dec_ms;
	out->cloud_ms = c->cloud_ms;
	out->rtt_ms = net ? rtt_ms : 0;
	out->transfer_ms = net && bps > 0 ? c->slope / bps : 0;
	out->total_ms = out->edge_ms + out->encode_ms + out->transfer_ms + out->rtt_ms + out->decode_ms + out->cloud_ms +
			out->request_ms;
}

double jalad_plan_wire_bytes(const struct jalad_planner_opts *o, enum jalad_plan_payload payload, double bytes)
{
	if (payload == JALAD_PAYLOAD_NONE || !(bytes >= 0))
		return 0;
	if (o && o->payload_only)
		return bytes;
	double mss = o && o->mss > 0 ? o->mss : 1448, hdr = o && o->segment_overhead > 0 ? o->segment_overhead : 66;
	/* REQUEST: 12-byte header, 24 fixed bytes, 4-byte CRC; a u8 payload has
	 * its 5-byte size header (as net.h's JALAD_NET_REQUEST_OVERHEAD and
	 * JALAD_NET_U8_HEADER; plan does not depend on net). */
	double s = bytes + 40 + (payload == JALAD_PAYLOAD_INPUT_U8 ? 5 : 0);
	if (o && o->tls)
		s += 22 * ceil(s / 16384);
	return s + hdr * ceil(s / mss);
}

/* The link's share of every network candidate of st: framing and headers
 * in the slope, the server path's constant in the fixed part. */
static void apply_wire(struct strat *st, const struct jalad_planner_opts *o, double req_ms)
{
	for (int i = 0; i < st->n; i++) {
		struct cand *c = &st->c[i];
		c->wire = jalad_plan_wire_bytes(o, c->payload, c->bytes);
		c->slope = c->wire * 8000.0;
		c->req_ms = o && o->payload_only ? 0 : req_ms;
		c->fixed += c->req_ms;
	}
}

/* Envelope line index for x (the segment containing x). */
static int env_at(const struct strat *s, double x)
{
	int lo = 0, hi = s->n_env - 1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (x < s->bp[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return s->env[lo];
}

/* ---- creation -------------------------------------------------------------------- */

static enum jalad_status check_same(const char *a_name, const uint8_t *a_sha, int a_n, const char *b_name,
				    const uint8_t *b_sha, int b_n)
{
	char a[65], b[65];
	plan_sha_hex(a_sha, a);
	plan_sha_hex(b_sha, b);
	JALAD_RETURN_IF(memcmp(a_sha, b_sha, 32) != 0, JALAD_ERR_MISMATCH,
			"the %s and the %s are for different models (sha256 %.12s... vs %.12s...)", a_name, b_name, a,
			b);
	JALAD_RETURN_IF(a_n != b_n, JALAD_ERR_MISMATCH, "the %s has %d nodes but the %s %d", a_name, a_n, b_name, b_n);
	return JALAD_OK;
}

/* Parse the allowed-coder list into flags indexed by coder (AUTO at
 * JALAD_CODER_COUNT) plus u8 and png. */
static enum jalad_status parse_coders(const char *list, const struct jalad_calib *cal, int *allow, int *u8, int *png,
				      int *jpeg, int *file)
{
	if (!list || !*list) {
		for (int j = 0; j < cal->n_coders; j++)
			allow[cal->coders[j] == JALAD_CODER_AUTO ? JALAD_CODER_COUNT : cal->coders[j]] = 1;
		*u8 = *png = *jpeg = *file = 1;
		return JALAD_OK;
	}
	char buf[256];
	JALAD_RETURN_IF(strlen(list) >= sizeof buf, JALAD_ERR_INVALID_ARG, "coder list too long");
	strcpy(buf, list);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum jalad_coder c;
		if (!strcmp(tok, "u8")) {
			*u8 = 1;
			continue;
		}
		if (!strcmp(tok, "png")) {
			*png = 1;
			continue;
		}
		if (!strcmp(tok, "jpeg")) {
			*jpeg = 1;
			continue;
		}
		if (!strcmp(tok, "file")) {
			*file = 1;
			continue;
		}
		JALAD_RETURN_IF(jalad_coder_parse(tok, &c) != JALAD_OK, JALAD_ERR_INVALID_ARG,
				"unknown coder '%s' (use raw, huffman, huffman-shared, rans0, rans1, zstd, arith0, arith1, "
				"huffman-2d, auto, u8, png, jpeg, file)",
				tok);
		JALAD_RETURN_IF(jalad_calib_coder_index(cal, c) < 0, JALAD_ERR_NOT_FOUND,
				"the calibration has no sizes for coder '%s' (calibrate with --coders including it)", tok);
		allow[c == JALAD_CODER_AUTO ? JALAD_CODER_COUNT : c] = 1;
	}
	return JALAD_OK;
}

/* A cut-0 image payload (PNG, JPEG, file) from its calibrated sizes and
 * codec times: the edge encodes, the cloud decodes and runs everything. */
static struct cand image_cand(enum jalad_plan_payload payload, const struct jalad_calib_stats *ps, double loss,
			      int use_p95, const struct jalad_profile *edge, const struct jalad_profile *cloud,
			      double cloud_ms)
{
	struct cand c = { .cut = 0, .bits = 8, .payload = payload, .loss = loss,
			  .bytes = use_p95 ? ps->p95_bytes : ps->mean_bytes, .cloud_ms = cloud_ms };
	c.enc_ms = (ps->enc_ms > 0 ? ps->enc_ms : 0) * edge->slowdown;
	c.dec_ms = (ps->dec_ms > 0 ? ps->dec_ms : 0) * cloud->slowdown;
	c.fixed = c.enc_ms + c.dec_ms + c.cloud_ms;
	c.slope = c.bytes * 8000.0;
	return c;
}

enum jalad_status jalad_planner_create(const struct jalad_profile *edge, const struct jalad_profile *cloud,
				       const struct jalad_calib *cal, const struct jalad_planner_opts *opts,
				       struct jalad_planner **out)
{
	enum jalad_status st;
	double *E = NULL, *C = NULL;
	*out = NULL;
	JALAD_RETURN_IF(!edge || !cloud || !cal, JALAD_ERR_INVALID_ARG, "planner: missing profile or calibration");
	JALAD_FORWARD(check_same("edge profile", edge->model_sha256, edge->n_nodes, "cloud profile",
				 cloud->model_sha256, cloud->n_nodes));
	JALAD_FORWARD(check_same("edge profile", edge->model_sha256, edge->n_nodes, "calibration", cal->model_sha256,
				 cal->n_nodes));
	double max_loss = opts ? opts->max_loss : 0.01;
	JALAD_RETURN_IF(isnan(max_loss), JALAD_ERR_INVALID_ARG, "planner: max loss is NaN");
	if (max_loss < 0)
		max_loss = INFINITY;
	int allow[JALAD_CODER_COUNT + 1] = { 0 }, u8 = 0, png = 0, jpeg = 0, file = 0;
	JALAD_FORWARD(parse_coders(opts ? opts->coders : NULL, cal, allow, &u8, &png, &jpeg, &file));
	int use_p95 = opts && opts->use_p95;
	int n = cal->n_nodes;

	struct jalad_planner *pl = calloc(1, sizeof *pl);
	JALAD_RETURN_IF(!pl, JALAD_ERR_NOMEM, "planner");
	pl->n = n;
	pl->max_loss = max_loss;
	E = calloc((size_t)n + 1, sizeof *E);
	C = calloc((size_t)n + 1, sizeof *C);
	if (!E || !C) {
		st = jalad_fail(JALAD_ERR_NOMEM, "planner");
		goto fail;
	}
	for (int k = 1; k <= n; k++)
		E[k] = E[k - 1] + edge->nodes[k - 1].ms;
	for (int k = n - 1; k >= 0; k--)
		C[k] = C[k + 1] + cloud->nodes[k].ms;

	/* Edge-only: every strategy but the cloud-only ones may fall back to it. */
	struct cand eo = { .cut = n, .payload = JALAD_PAYLOAD_NONE, .edge_ms = E[n], .fixed = E[n] };
	for (int s = 0; s < JALAD_STRATEGY_COUNT; s++) {
		if (s == JALAD_STRATEGY_CLOUD_RAW || s == JALAD_STRATEGY_CLOUD_PNG || s == JALAD_STRATEGY_CLOUD_JPEG ||
		    s == JALAD_STRATEGY_CLOUD_FILE)
			continue;
		pl->s[s].edge = eo;
		pl->s[s].has_edge = 1;
	}

	/* Cloud-only payloads. The 8-bit input loses what rounding the
	 * preprocessed photo to integers loses (measured, else nothing); the
	 * photo's own file is what the float model sees. */
	double loss_u8 = 0;
	if (cal->u8_measured)
		loss_u8 = cal->labelled ? cal->float_accuracy - cal->input_u8.accuracy : 1.0 - cal->input_u8.agreement;
	int feasible_u8 = loss_u8 <= max_loss + 1e-12;
	if (cal->input_raw_bytes >= 0) {
		struct cand c = { .cut = 0, .bits = 8, .payload = JALAD_PAYLOAD_INPUT_U8, .loss = loss_u8,
				  .bytes = (double)cal->input_raw_bytes, .cloud_ms = C[0] };
		c.fixed = c.cloud_ms;
		c.slope = c.bytes * 8000.0;
		if ((st = push(&pl->s[JALAD_STRATEGY_CLOUD_RAW], &c)) != JALAD_OK ||
		    (st = push(&pl->s[JALAD_STRATEGY_NEUROSURGEON], &c)) != JALAD_OK ||
		    (u8 && feasible_u8 && (st = push(&pl->s[JALAD_STRATEGY_BEST], &c)) != JALAD_OK))
			goto fail;
	}
	if (cal->input_png.mean_bytes >= 0) {
		struct cand c = image_cand(JALAD_PAYLOAD_INPUT_PNG, &cal->input_png, loss_u8, use_p95, edge, cloud, C[0]);
		if ((st = push(&pl->s[JALAD_STRATEGY_CLOUD_PNG], &c)) != JALAD_OK ||
		    (png && feasible_u8 && (st = push(&pl->s[JALAD_STRATEGY_BEST], &c)) != JALAD_OK))
			goto fail;
	}
	if (cal->jpeg_quality > 0 && cal->input_jpeg.mean_bytes >= 0) {
		double loss = cal->labelled ? cal->float_accuracy - cal->input_jpeg_acc.accuracy
					    : 1.0 - cal->input_jpeg_acc.agreement;
		struct cand c = image_cand(JALAD_PAYLOAD_INPUT_JPEG, &cal->input_jpeg, loss, use_p95, edge, cloud, C[0]);
		if ((st = push(&pl->s[JALAD_STRATEGY_CLOUD_JPEG], &c)) != JALAD_OK ||
		    (jpeg && loss <= max_loss + 1e-12 && (st = push(&pl->s[JALAD_STRATEGY_BEST], &c)) != JALAD_OK))
			goto fail;
	}
	if (cal->input_file.mean_bytes >= 0) {
		/* the file is what the float model sees: no loss, nothing to encode */
		struct cand c = image_cand(JALAD_PAYLOAD_INPUT_FILE, &cal->input_file, 0, use_p95, edge, cloud, C[0]);
		if ((st = push(&pl->s[JALAD_STRATEGY_CLOUD_FILE], &c)) != JALAD_OK ||
		    (file && (st = push(&pl->s[JALAD_STRATEGY_BEST], &c)) != JALAD_OK))
			goto fail;
	}

	/* Every calibrated (cut, bits, coder). */
	for (int k = 0; k < n; k++) {
		if (!cal->cuts[k].supported)
			continue;
		for (int b = 0; b < cal->n_bits; b++) {
			const struct jalad_calib_cell *ce = &cal->cells[jalad_calib_cell_index(cal, k, b)];
			double loss = cal->labelled ? cal->float_accuracy - ce->accuracy : 1.0 - ce->agreement;
			if (cal->bits[b] == 0)
				loss = 0; /* float32 pass-through reproduces the float run */
			int feasible = loss <= max_loss + 1e-12;
			for (int j = 0; j < cal->n_coders; j++) {
				const struct jalad_calib_stats *s = &cal->stats[jalad_calib_stats_index(cal, k, b, j)];
				if (s->mean_bytes < 0)
					continue;
				enum jalad_coder coder = cal->coders[j];
				/* Per-channel ranges that change nothing (one channel, say)
				 * duplicate the per-tensor plan: keep the paper's. */
				int bt = cal->per_channel[b] ? jalad_calib_entry_index(cal, cal->bits[b], 0) : -1;
				if (bt >= 0) {
					const struct jalad_calib_cell *ct = &cal->cells[jalad_calib_cell_index(cal, k, bt)];
					const struct jalad_calib_stats *stt = &cal->stats[jalad_calib_stats_index(cal, k, bt, j)];
					if (ct->correct == ce->correct && ct->agree == ce->agree &&
					    stt->mean_bytes == s->mean_bytes && stt->p95_bytes == s->p95_bytes)
						continue;
				}
				struct cand c = { .cut = k, .bits = cal->bits[b], .payload = JALAD_PAYLOAD_CONTAINER,
						  .coder = coder, .loss = loss,
						  .per_channel = cal->per_channel[b],
						  .bytes = use_p95 ? s->p95_bytes : s->mean_bytes,
						  .edge_ms = E[k], .cloud_ms = C[k] };
				if (jalad_coder_uses_dict(coder) || coder == JALAD_CODER_AUTO)
					c.dict = cal->dicts[jalad_calib_cell_index(cal, k, b)];
				/* huffman-2d cannot code without the dictionary's 2-d tables
				 * (synthetic tables may size huffman-shared without one) */
				if (coder == JALAD_CODER_HUFFMAN_2D && !jalad_codec_dict_serves(c.dict, coder, cal->bits[b]))
					continue;
				c.enc_ms = (s->enc_ms > 0 ? s->enc_ms : 0) * edge->slowdown;
				c.dec_ms = (s->dec_ms > 0 ? s->dec_ms : 0) * cloud->slowdown;
				c.fixed = c.edge_ms + c.enc_ms + c.dec_ms + c.cloud_ms;
				c.slope = c.bytes * 8000.0;
				int slot = coder == JALAD_CODER_AUTO ? JALAD_CODER_COUNT : (int)coder;
				if (feasible && allow[slot] && (st = push(&pl->s[JALAD_STRATEGY_BEST], &c)) != JALAD_OK)
					goto fail;
				if (cal->bits[b] == 0 && coder == JALAD_CODER_RAW && k > 0 &&
				    (st = push(&pl->s[JALAD_STRATEGY_NEUROSURGEON], &c)) != JALAD_OK)
					goto fail;
				if (feasible && cal->bits[b] >= 1 && cal->bits[b] <= 8 && !cal->per_channel[b] &&
				    coder == JALAD_CODER_HUFFMAN &&
				    (st = push(&pl->s[JALAD_STRATEGY_JALAD_PAPER], &c)) != JALAD_OK)
					goto fail;
			}
		}
	}
	/* The paper's scheme is missing if no Huffman sizes were calibrated. */
	if (jalad_calib_coder_index(cal, JALAD_CODER_HUFFMAN) < 0)
		pl->s[JALAD_STRATEGY_JALAD_PAPER].has_edge = 0;
	for (int s = 0; s < JALAD_STRATEGY_COUNT; s++) {
		apply_wire(&pl->s[s], opts, cloud->request_ms + edge->request_ms);
		if ((st = build_envelope(&pl->s[s])) != JALAD_OK)
			goto fail;
	}
	free(E);
	free(C);
	*out = pl;
	return JALAD_OK;
fail:
	free(E);
	free(C);
	jalad_planner_free(pl);
	return st;
}

/* Frames per second of candidate c when frames are pipelined: the edge,
 * the uplink and the cloud each work on a different frame, so the slowest
 * of the three sets the pace. */
static double cand_fps(const struct cand *c, double bps, int net)
{
	double edge = c->edge_ms + c->enc_ms;
	double link = net && bps > 0 ? c->slope / bps : 0;
	double cloud = net ? c->dec_ms + c->cloud_ms + c->req_ms : 0;
	double t = edge > link ? edge : link;
	t = t > cloud ? t : cloud;
	return t > 0 ? 1e3 / t : INFINITY;
}

enum jalad_status jalad_planner_choose_throughput(const struct jalad_planner *pl, double bps, double rtt_ms,
						  double max_latency_ms, struct jalad_plan_choice *out, double *fps)
{
	JALAD_RETURN_IF(!(bps > 0) || !isfinite(bps), JALAD_ERR_INVALID_ARG, "planner: bandwidth %g bit/s", bps);
	JALAD_RETURN_IF(!(rtt_ms >= 0) || !isfinite(rtt_ms), JALAD_ERR_INVALID_ARG, "planner: RTT %g ms", rtt_ms);
	JALAD_RETURN_IF(!(max_latency_ms > 0), JALAD_ERR_INVALID_ARG, "planner: latency bound %g ms", max_latency_ms);
	const struct strat *st = &pl->s[JALAD_STRATEGY_BEST];
	double x = 1.0 / bps;
	const struct cand *best = NULL;
	int best_net = 0;
	double bf = -1, bl = 0;
	for (int i = -1; i < st->n; i++) {
		const struct cand *c = i < 0 ? &st->edge : &st->c[i];
		int net = i >= 0;
		double lat = cand_total(c, x, rtt_ms, net), f = cand_fps(c, bps, net);
		if (lat > max_latency_ms * (1 + 1e-12))
			continue;
		/* more frames per second; at equal rate, the lower latency */
		if (!best || f > bf * (1 + 1e-9) || (f >= bf * (1 - 1e-9) && lat < bl)) {
			best = c;
			best_net = net;
			bf = f;
			bl = lat;
		}
	}
	if (!best) {
		/* nothing meets the bound: the fastest plan, as the latency objective */
		JALAD_FORWARD(jalad_planner_choose(pl, bps, rtt_ms, out));
		for (int i = -1; i < st->n; i++) {
			const struct cand *c = i < 0 ? &st->edge : &st->c[i];
			if (c->cut == out->cut && c->bits == out->bits && c->payload == out->payload &&
			    c->coder == out->coder && c->per_channel == out->per_channel) {
				*fps = cand_fps(c, bps, i >= 0);
				break;
			}
		}
		return JALAD_ERR_NOT_FOUND;
	}
	fill_choice(best, JALAD_STRATEGY_BEST, bps, rtt_ms, best_net, out);
	*fps = bf;
	return JALAD_OK;
}

int jalad_planner_candidates(const struct jalad_planner *pl, enum jalad_strategy s)
{
	if ((int)s < 0 || s >= JALAD_STRATEGY_COUNT)
		return 0;
	return pl->s[s].n_env + pl->s[s].has_edge;
}

/* ---- choosing --------------------------------------------------------------------- */

enum jalad_status jalad_planner_choose_strategy(const struct jalad_planner *pl, enum jalad_strategy s,
						double bps, double rtt_ms, struct jalad_plan_choice *out)
{
	JALAD_RETURN_IF((int)s < 0 || s >= JALAD_STRATEGY_COUNT, JALAD_ERR_INVALID_ARG, "planner: strategy %d", (int)s);
	JALAD_RETURN_IF(!(bps > 0), JALAD_ERR_INVALID_ARG, "planner: bandwidth %g must be positive", bps);
	JALAD_RETURN_IF(!(rtt_ms >= 0) || !isfinite(rtt_ms), JALAD_ERR_INVALID_ARG, "planner: RTT %g ms", rtt_ms);
	const struct strat *st = &pl->s[s];
	JALAD_RETURN_IF(st->n_env == 0 && !st->has_edge, JALAD_ERR_NOT_FOUND,
			"planner: the calibration has nothing for strategy %s", jalad_strategy_name(s));
	double x = isinf(bps) ? 0 : 1.0 / bps;
	if (st->n_env > 0) {
		const struct cand *c = &st->c[env_at(st, x)];
		double y = cand_total(c, x, rtt_ms, 1);
		double ye = st->has_edge ? cand_total(&st->edge, x, rtt_ms, 0) : INFINITY;
		/* Exact ties go to edge-only: it does not depend on the network. */
		if (y < ye) {
			fill_choice(c, s, bps, rtt_ms, 1, out);
			return JALAD_OK;
		}
	}
	fill_choice(&st->edge, s, bps, rtt_ms, 0, out);
	return JALAD_OK;
}

enum jalad_status jalad_planner_choose(const struct jalad_planner *pl, double bps, double rtt_ms,
				       struct jalad_plan_choice *out)
{
	return jalad_planner_choose_strategy(pl, JALAD_STRATEGY_BEST, bps, rtt_ms, out);
}

/* ---- the switching table ------------------------------------------------------------ */

static void add_row(struct jalad_plan_interval *rows, int cap, int *n, double lo, double hi, const struct cand *c,
		    enum jalad_strategy s, double rtt_ms, int net, double min_bps, double max_bps)
{
	if (lo < min_bps)
		lo = min_bps;
	if (hi > max_bps)
		hi = max_bps;
	if (!(hi > lo))
		return;
	/* Merge with the previous row when the plan is the same. */
	if (*n > 0 && *n <= cap) {
		struct jalad_plan_choice *p = &rows[*n - 1].choice;
		if (p->cut == c->cut && p->bits == c->bits && p->payload == c->payload && p->per_channel == c->per_channel &&
		    (c->payload != JALAD_PAYLOAD_CONTAINER || p->coder == c->coder)) {
			rows[*n - 1].hi_bps = hi;
			return;
		}
	}
	if (*n < cap) {
		rows[*n].lo_bps = lo;
		rows[*n].hi_bps = hi;
		/* Evaluate at the low end, or the high end for an interval from 0. */
		double at = lo > 0 ? lo : isfinite(hi) ? hi : 1e9;
		fill_choice(c, s, at, rtt_ms, net, &rows[*n].choice);
	}
	(*n)++;
}

enum jalad_status jalad_planner_table(const struct jalad_planner *pl, enum jalad_strategy s, double rtt_ms,
				      double min_bps, double max_bps, struct jalad_plan_interval *rows, int cap, int *n)
{
	*n = 0;
	JALAD_RETURN_IF((int)s < 0 || s >= JALAD_STRATEGY_COUNT, JALAD_ERR_INVALID_ARG, "planner: strategy %d", (int)s);
	JALAD_RETURN_IF(!(rtt_ms >= 0) || !isfinite(rtt_ms), JALAD_ERR_INVALID_ARG, "planner: RTT %g ms", rtt_ms);
	JALAD_RETURN_IF(!(min_bps >= 0) || !(max_bps > min_bps), JALAD_ERR_INVALID_ARG,
			"planner: bandwidth range [%g, %g]", min_bps, max_bps);
	const struct strat *st = &pl->s[s];
	JALAD_RETURN_IF(st->n_env == 0 && !st->has_edge, JALAD_ERR_NOT_FOUND,
			"planner: the calibration has nothing for strategy %s", jalad_strategy_name(s));
	if (st->n_env == 0) {
		add_row(rows, cap, n, 0, INFINITY, &st->edge, s, rtt_ms, 0, min_bps, max_bps);
		return JALAD_OK;
	}
	/* xs: where edge-only stops being the best, going down in x (up in
	 * bandwidth). The network envelope is non-decreasing in x. */
	double xs = INFINITY;
	if (st->has_edge) {
		double e = st->edge.fixed;
		xs = -1;
		for (int i = st->n_env - 1; i >= 0; i--) {
			const struct cand *c = &st->c[st->env[i]];
			double xl = i > 0 ? st->bp[i - 1] : 0;
			double yl = cand_total(c, xl, rtt_ms, 1);
			if (yl < e) {
				/* The crossing is in this segment (or at its right end). */
				xs = c->slope > 0 ? (e - rtt_ms - c->fixed) / c->slope : INFINITY;
				double xr = i < st->n_env - 1 ? st->bp[i] : INFINITY;
				if (xs > xr)
					xs = xr;
				break;
			}
		}
	}
	if (xs < 0) {
		/* Edge-only at every bandwidth. */
		add_row(rows, cap, n, 0, INFINITY, &st->edge, s, rtt_ms, 0, min_bps, max_bps);
		return JALAD_OK;
	}
	if (st->has_edge && isfinite(xs))
		add_row(rows, cap, n, 0, 1.0 / xs, &st->edge, s, rtt_ms, 0, min_bps, max_bps);
	for (int i = st->n_env - 1; i >= 0; i--) {
		double xl = i > 0 ? st->bp[i - 1] : 0;
		double xr = i < st->n_env - 1 ? st->bp[i] : INFINITY;
		if (xr > xs)
			xr = xs;
		if (xl >= xr)
			continue;
		double lo = isinf(xr) ? 0 : 1.0 / xr, hi = xl > 0 ? 1.0 / xl : INFINITY;
		add_row(rows, cap, n, lo, hi, &st->c[st->env[i]], s, rtt_ms, 1, min_bps, max_bps);
	}
	return JALAD_OK;
}
