/*
 * Planner tests: units; the optimizer on random synthetic profiles and
 * calibrations against brute force (never over the loss bound, latency
 * non-increasing in bandwidth, switching table consistent with choose);
 * the low/high-bandwidth extremes; JSON round trips; malformed and
 * mismatched files refused with clear errors; and, with the bundled model,
 * profiling and a calibration whose result does not depend on threads.
 * No wall-clock assertions.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jalad/jalad.h"
#include "jalad/plan.h"
#include "testing.h"

/* ---- helpers ----------------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static double urand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	memcpy(d, s, n);
	return d;
}

/* Replace the first occurrence of a by b in s (malloc'd result). */
static char *replace(const char *s, const char *a, const char *b)
{
	const char *p = strstr(s, a);
	if (!p)
		return xstrdup(s);
	size_t n = strlen(s) - strlen(a) + strlen(b) + 1;
	char *d = malloc(n);
	memcpy(d, s, (size_t)(p - s));
	strcpy(d + (p - s), b);
	strcat(d, p + strlen(a));
	return d;
}

static int contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* ---- units ------------------------------------------------------------------- */

static void test_units(void)
{
	double v;
	CHECK(jalad_parse_bandwidth("2mbit", &v) == JALAD_OK && v == 2e6);
	CHECK(jalad_parse_bandwidth("500kbit", &v) == JALAD_OK && v == 5e5);
	CHECK(jalad_parse_bandwidth("1.5gbit", &v) == JALAD_OK && v == 1.5e9);
	CHECK(jalad_parse_bandwidth("0.05Mbit", &v) == JALAD_OK && fabs(v - 5e4) < 1e-6);
	CHECK(jalad_parse_bandwidth("100mbps", &v) == JALAD_OK && v == 1e8);
	CHECK(jalad_parse_bandwidth("64kbit/s", &v) == JALAD_OK && v == 64e3);
	CHECK(jalad_parse_bandwidth("2", &v) == JALAD_ERR_INVALID_ARG && contains(jalad_last_error(), "no unit"));
	CHECK(jalad_parse_bandwidth("2mb", &v) == JALAD_ERR_INVALID_ARG && contains(jalad_last_error(), "unknown unit"));
	CHECK(jalad_parse_bandwidth("mbit", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_bandwidth("-1mbit", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_bandwidth("0kbit", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_bandwidth("0x10mbit", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_bandwidth("inf mbit", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_bandwidth(NULL, &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_duration("40ms", &v) == JALAD_OK && v == 40);
	CHECK(jalad_parse_duration("0.04s", &v) == JALAD_OK && fabs(v - 40) < 1e-9);
	CHECK(jalad_parse_duration("500us", &v) == JALAD_OK && fabs(v - 0.5) < 1e-12);
	CHECK(jalad_parse_duration("0ms", &v) == JALAD_OK && v == 0);
	CHECK(jalad_parse_duration("40", &v) == JALAD_ERR_INVALID_ARG && contains(jalad_last_error(), "no unit"));
	CHECK(jalad_parse_duration("40min", &v) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_parse_duration("-5ms", &v) == JALAD_ERR_INVALID_ARG);
	char buf[32];
	CHECK(!strcmp(jalad_format_bandwidth(2e6, buf, sizeof buf), "2 Mbit/s"));
	CHECK(!strcmp(jalad_format_bandwidth(5e5, buf, sizeof buf), "500 kbit/s"));
}

/* ---- synthetic instances ------------------------------------------------------- */

static const enum jalad_coder syn_coders[] = {
	JALAD_CODER_RAW, JALAD_CODER_HUFFMAN, JALAD_CODER_HUFFMAN_SHARED, JALAD_CODER_RANS0, JALAD_CODER_AUTO,
};
#define SYN_NC 5

struct instance {
	struct jalad_profile *edge, *cloud;
	struct jalad_calib *cal;
};

static void instance_free(struct instance *in)
{
	jalad_profile_free(in->edge);
	jalad_profile_free(in->cloud);
	jalad_calib_free(in->cal);
}

/* A random model of n nodes: activations shrink with depth on average,
 * accuracy loss shrinks with bits, the edge is 'slow' times slower. */
static void make_instance(struct instance *in, int n, double slow)
{
	int bits[17], pc[17], nb = 0;
	for (int q = 0; q < 2; q++)
		for (int b = 1; b <= 8; b++) {
			bits[nb] = b;
			pc[nb++] = q;
		}
	bits[nb] = 0;
	pc[nb++] = 0;
	memset(in, 0, sizeof *in);
	CHECK(jalad_profile_create(n, &in->edge) == JALAD_OK);
	CHECK(jalad_profile_create(n, &in->cloud) == JALAD_OK);
	CHECK(jalad_calib_create(n, bits, pc, nb, syn_coders, SYN_NC, &in->cal) == JALAD_OK);
	struct jalad_calib *c = in->cal;
	for (int i = 0; i < 32; i++)
		in->edge->model_sha256[i] = in->cloud->model_sha256[i] = c->model_sha256[i] = (uint8_t)(i * 7 + n);
	in->edge->slowdown = slow;
	for (int i = 0; i < n; i++) {
		double t = 0.01 + urand();
		in->cloud->nodes[i].ms = in->cloud->nodes[i].measured_ms = t;
		in->edge->nodes[i].ms = t * slow;
		in->edge->nodes[i].measured_ms = t;
	}
	c->samples = c->labelled = 1000;
	c->float_correct = 900;
	c->float_accuracy = 0.9;
	c->input_raw_bytes = 784;
	c->input_png = (struct jalad_calib_stats){ 500 + 100 * urand(), 700, 0.1, 0.05 };
	double values = 784;
	for (int k = 0; k <= n; k++) {
		if (k > 0)
			values = fmax(10, values * (0.5 + urand()));
		c->cuts[k].n_tensors = 1;
		c->cuts[k].values = (int64_t)values;
		c->cuts[k].supported = k == n || urand() > 0.05;
		if (k == n)
			break;
		for (int b = 0; b < nb; b++) {
			struct jalad_calib_cell *ce = &c->cells[jalad_calib_cell_index(c, k, b)];
			double loss = bits[b] ? 0.3 * pow(0.25, bits[b]) * (0.5 + urand()) * (pc[b] ? 0.5 : 1) : 0;
			ce->correct = (uint64_t)llround(900 - 1000 * loss + 2 * (urand() - 0.5));
			ce->accuracy = (double)ce->correct / 1000.0;
			ce->agree = ce->correct + 50;
			ce->agreement = (double)ce->agree / 1000.0;
			for (int j = 0; j < SYN_NC; j++) {
				struct jalad_calib_stats *s = &c->stats[jalad_calib_stats_index(c, k, b, j)];
				if (bits[b] == 0 && syn_coders[j] != JALAD_CODER_RAW && syn_coders[j] != JALAD_CODER_AUTO)
					continue;
				double per = bits[b] ? bits[b] / 8.0 * (j == 0 ? 1 : 0.3 + 0.6 * urand()) : 4;
				s->mean_bytes = 20 + values * per;
				s->p95_bytes = s->mean_bytes * 1.2;
				s->enc_ms = 0.001 * values / 1000 * (1 + j);
				s->dec_ms = s->enc_ms * 0.8;
			}
		}
	}
}

/* Brute force of the latency model over every candidate of the jalad strategy. */
static double brute(const struct instance *in, double bw, double rtt, double max_loss, int *best_cut)
{
	const struct jalad_calib *c = in->cal;
	int n = c->n_nodes;
	double E[512] = { 0 }, C[512] = { 0 };
	for (int k = 1; k <= n; k++)
		E[k] = E[k - 1] + in->edge->nodes[k - 1].ms;
	for (int k = n - 1; k >= 0; k--)
		C[k] = C[k + 1] + in->cloud->nodes[k].ms;
	double best = E[n];
	*best_cut = n;
	/* The 8-bit input (u8, PNG) loses what its measured accuracy says. */
	double loss_u8 = c->u8_measured ? c->float_accuracy - c->input_u8.accuracy : 0;
	double raw = c->input_raw_bytes * 8000.0 / bw + rtt + C[0];
	if (loss_u8 <= max_loss + 1e-12 && raw < best) {
		best = raw;
		*best_cut = 0;
	}
	double png = c->input_png.enc_ms * in->edge->slowdown + c->input_png.mean_bytes * 8000.0 / bw + rtt +
		     c->input_png.dec_ms * in->cloud->slowdown + C[0];
	if (loss_u8 <= max_loss + 1e-12 && png < best) {
		best = png;
		*best_cut = 0;
	}
	if (c->jpeg_quality > 0 && c->input_jpeg.mean_bytes >= 0 &&
	    c->float_accuracy - c->input_jpeg_acc.accuracy <= max_loss + 1e-12) {
		double t = c->input_jpeg.enc_ms * in->edge->slowdown + c->input_jpeg.mean_bytes * 8000.0 / bw + rtt +
			   c->input_jpeg.dec_ms * in->cloud->slowdown + C[0];
		if (t < best) {
			best = t;
			*best_cut = 0;
		}
	}
	if (c->input_file.mean_bytes >= 0) { /* the photo itself: no loss, no encode */
		double t = c->input_file.mean_bytes * 8000.0 / bw + rtt + c->input_file.dec_ms * in->cloud->slowdown + C[0];
		if (t < best) {
			best = t;
			*best_cut = 0;
		}
	}
	for (int k = 0; k < n; k++) {
		if (!c->cuts[k].supported)
			continue;
		for (int b = 0; b < c->n_bits; b++) {
			double loss = c->bits[b] ? c->float_accuracy - c->cells[jalad_calib_cell_index(c, k, b)].accuracy : 0;
			if (loss > max_loss + 1e-12)
				continue;
			for (int j = 0; j < c->n_coders; j++) {
				const struct jalad_calib_stats *s = &c->stats[jalad_calib_stats_index(c, k, b, j)];
				if (s->mean_bytes < 0)
					continue;
				double t = E[k] + s->enc_ms * in->edge->slowdown + s->mean_bytes * 8000.0 / bw + rtt +
					   s->dec_ms * in->cloud->slowdown + C[k];
				if (t < best) {
					best = t;
					*best_cut = k;
				}
			}
		}
	}
	return best;
}

static void test_optimizer_random(void)
{
	static const double losses[] = { 0, 0.002, 0.01, 0.05, -1 };
	int bad_exact = 0, bad_loss = 0, bad_mono = 0, bad_table = 0, bad_base = 0, runs = 0;
	for (int it = 0; it < 60; it++) {
		struct instance in;
		int n = 2 + (int)(urand() * 40);
		make_instance(&in, n, pow(10, 3 * urand()));
		for (size_t li = 0; li < sizeof losses / sizeof losses[0]; li++) {
			struct jalad_planner *pl;
			struct jalad_planner_opts po = { .max_loss = losses[li], .payload_only = 1 };
			double ml = losses[li] < 0 ? INFINITY : losses[li];
			if (jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) != JALAD_OK) {
				CHECK_MSG(0, "planner_create: %s", jalad_last_error());
				continue;
			}
			double rtt = urand() < 0.3 ? 0 : 100 * urand();
			double prev = INFINITY;
			for (int bi = 0; bi <= 60; bi++) {
				double bw = pow(10, 2 + 9.0 * bi / 60);
				struct jalad_plan_choice ch;
				int bc;
				if (jalad_planner_choose(pl, bw, rtt, &ch) != JALAD_OK) {
					bad_exact++;
					continue;
				}
				runs++;
				double want = brute(&in, bw, rtt, ml, &bc);
				if (fabs(ch.total_ms - want) > 1e-9 * fmax(1, want))
					bad_exact++;
				if (ch.payload == JALAD_PAYLOAD_CONTAINER && ch.accuracy_loss > ml + 1e-12)
					bad_loss++;
				if (ch.total_ms > prev + 1e-9 * fmax(1, prev))
					bad_mono++;
				prev = ch.total_ms;
				double sum = ch.edge_ms + ch.encode_ms + ch.transfer_ms + ch.rtt_ms + ch.decode_ms + ch.cloud_ms;
				if (fabs(sum - ch.total_ms) > 1e-9 * fmax(1, sum))
					bad_exact++;
				/* jalad's candidates include every baseline's. */
				for (int s = 1; s < JALAD_STRATEGY_COUNT; s++) {
					struct jalad_plan_choice b;
					if (jalad_planner_choose_strategy(pl, (enum jalad_strategy)s, bw, rtt, &b) != JALAD_OK)
						continue;
					if (s == JALAD_STRATEGY_JALAD_PAPER && b.payload == JALAD_PAYLOAD_CONTAINER &&
					    (b.coder != JALAD_CODER_HUFFMAN || b.per_channel || b.accuracy_loss > ml + 1e-12))
						bad_base++;
					if (s == JALAD_STRATEGY_NEUROSURGEON && b.payload == JALAD_PAYLOAD_CONTAINER &&
					    (b.bits != 0 || b.accuracy_loss != 0))
						bad_base++;
					if (b.total_ms < ch.total_ms - 1e-9 * fmax(1, ch.total_ms))
						bad_base++;
				}
			}
			/* The switching table agrees with choose inside every row. */
			int nrows = 0;
			struct jalad_plan_interval rows[4096];
			if (jalad_planner_table(pl, JALAD_STRATEGY_BEST, rtt, 1e2, 1e11, rows, 4096, &nrows) != JALAD_OK ||
			    nrows < 1 || nrows > 4096) {
				bad_table++;
			} else {
				if (rows[0].lo_bps != 1e2 || rows[nrows - 1].hi_bps != 1e11)
					bad_table++;
				for (int r = 0; r < nrows; r++) {
					if (r > 0 && rows[r].lo_bps != rows[r - 1].hi_bps)
						bad_table++;
					double mid = sqrt(rows[r].lo_bps * rows[r].hi_bps);
					struct jalad_plan_choice ch;
					jalad_planner_choose(pl, mid, rtt, &ch);
					const struct jalad_plan_choice *rc = &rows[r].choice;
					if (ch.cut != rc->cut || ch.bits != rc->bits || ch.payload != rc->payload ||
					    ch.per_channel != rc->per_channel ||
					    (ch.payload == JALAD_PAYLOAD_CONTAINER && ch.coder != rc->coder))
						bad_table++;
				}
			}
			CHECK(jalad_planner_candidates(pl, JALAD_STRATEGY_BEST) >= 1);
			jalad_planner_free(pl);
		}
		instance_free(&in);
	}
	CHECK_MSG(bad_exact == 0, "%d of %d choices differ from brute force", bad_exact, runs);
	CHECK_MSG(bad_loss == 0, "%d choices exceed the loss bound", bad_loss);
	CHECK_MSG(bad_mono == 0, "%d times the latency rose with bandwidth", bad_mono);
	CHECK_MSG(bad_table == 0, "%d switching-table inconsistencies", bad_table);
	CHECK_MSG(bad_base == 0, "%d baseline inconsistencies", bad_base);
}

/* A VGG-like shape: big early activations, small late ones. */
static void make_vgg_like(struct instance *in, double edge_slow, double cloud_node_ms)
{
	make_instance(in, 19, edge_slow);
	struct jalad_calib *c = in->cal;
	for (int i = 0; i < 19; i++) {
		in->cloud->nodes[i].ms = cloud_node_ms;
		in->edge->nodes[i].ms = 1.0 * edge_slow;
	}
	for (int k = 0; k < 19; k++) {
		double values = k == 0 ? 784 : 12544.0 / (1 << (k / 5));
		if (k >= 15)
			values = 128;
		c->cuts[k].values = (int64_t)values;
		c->cuts[k].supported = 1;
		for (int b = 0; b < c->n_bits; b++) {
			struct jalad_calib_cell *ce = &c->cells[jalad_calib_cell_index(c, k, b)];
			int bits = c->bits[b];
			ce->correct = bits == 0 || bits >= 4 ? 900 : bits == 3 ? 895 : 850;
			ce->accuracy = ce->correct / 1000.0;
			for (int j = 0; j < SYN_NC; j++) {
				struct jalad_calib_stats *s = &c->stats[jalad_calib_stats_index(c, k, b, j)];
				if (s->mean_bytes < 0)
					continue;
				s->mean_bytes = 16 + values * (bits ? bits / 8.0 : 4) * (j == 0 ? 1 : 0.5);
				s->p95_bytes = s->mean_bytes;
			}
		}
	}
}

static void test_extremes(void)
{
	struct instance in;
	struct jalad_planner *pl;
	struct jalad_plan_choice ch;
	struct jalad_planner_opts po = { .max_loss = 0.01, .payload_only = 1 };

	/* Very low bandwidth: a deep cut with few bits, or edge-only. */
	make_vgg_like(&in, 2.0, 0.05);
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	CHECK(jalad_planner_choose(pl, 1e3, 10, &ch) == JALAD_OK);
	CHECK_MSG(ch.payload == JALAD_PAYLOAD_NONE || (ch.cut >= 10 && ch.bits >= 1 && ch.bits <= 4),
		  "1 kbit/s chose cut %d, %d bits", ch.cut, ch.bits);
	CHECK(jalad_planner_choose(pl, 1, 10, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_NONE);
	jalad_planner_free(pl);
	instance_free(&in);

	/* An edge that cannot run the classifier (its last node is very slow)
	 * and a very low bandwidth: a deep cut with few bits. */
	make_vgg_like(&in, 50.0, 0.05);
	in.edge->nodes[18].ms = 1e6;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	for (double bw = 1; bw <= 100; bw *= 10) {
		CHECK(jalad_planner_choose(pl, bw, 5, &ch) == JALAD_OK);
		CHECK_MSG(ch.cut >= 10 && ch.bits >= 1 && ch.bits <= 4 && ch.payload == JALAD_PAYLOAD_CONTAINER,
			  "%g bit/s chose cut %d, %d bits", bw, ch.cut, ch.bits);
	}
	jalad_planner_free(pl);
	in.edge->nodes[18].ms = 50;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	/* Very high bandwidth, cloud faster: cloud-only (cut 0). */
	CHECK(jalad_planner_choose(pl, 1e10, 1, &ch) == JALAD_OK);
	CHECK_MSG(ch.cut == 0 && ch.payload != JALAD_PAYLOAD_NONE, "10 Gbit/s chose cut %d (%s)", ch.cut,
		  jalad_payload_name(ch.payload));
	CHECK(ch.edge_ms == 0 && ch.rtt_ms == 1);
	/* Edge-only's breakdown is the edge alone. */
	CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_EDGE_ONLY, 1e6, 40, &ch) == JALAD_OK);
	CHECK(ch.cut == 19 && ch.rtt_ms == 0 && ch.transfer_ms == 0 && fabs(ch.total_ms - 19 * 50.0) < 1e-9);
	/* Cloud-only raw sends the 784 input bytes. */
	CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_RAW, 1e6, 40, &ch) == JALAD_OK);
	CHECK(ch.cut == 0 && ch.payload == JALAD_PAYLOAD_INPUT_U8 && ch.bytes == 784 &&
	      fabs(ch.transfer_ms - 784 * 8 / 1e3) < 1e-9);
	/* Bad arguments. */
	CHECK(jalad_planner_choose(pl, 0, 40, &ch) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_planner_choose(pl, 1e6, -1, &ch) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_planner_choose(pl, NAN, 1, &ch) == JALAD_ERR_INVALID_ARG);
	jalad_planner_free(pl);

	/* A zero bound keeps only lossless plans; coders can be restricted. */
	po.max_loss = 0;
	po.coders = "rans0,png";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	for (double bw = 1e3; bw < 1e11; bw *= 3) {
		CHECK(jalad_planner_choose(pl, bw, 5, &ch) == JALAD_OK);
		CHECK(ch.accuracy_loss <= 0);
		CHECK(ch.payload != JALAD_PAYLOAD_INPUT_U8);
		CHECK(ch.payload != JALAD_PAYLOAD_CONTAINER || ch.coder == JALAD_CODER_RANS0);
	}
	jalad_planner_free(pl);
	po.coders = "rans0,bogus";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_ERR_INVALID_ARG &&
	      contains(jalad_last_error(), "bogus"));
	po.coders = "zstd"; /* not calibrated here */
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_ERR_NOT_FOUND);
	po.coders = NULL;

	/* Mismatched inputs are refused. */
	in.cloud->model_sha256[3] ^= 1;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_ERR_MISMATCH &&
	      contains(jalad_last_error(), "different models"));
	in.cloud->model_sha256[3] ^= 1;
	in.cal->model_sha256[0] ^= 1;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_ERR_MISMATCH);
	in.cal->model_sha256[0] ^= 1;
	struct jalad_profile *short_prof;
	CHECK(jalad_profile_create(18, &short_prof) == JALAD_OK);
	memcpy(short_prof->model_sha256, in.edge->model_sha256, 32);
	CHECK(jalad_planner_create(short_prof, in.cloud, in.cal, &po, &pl) == JALAD_ERR_MISMATCH &&
	      contains(jalad_last_error(), "nodes"));
	jalad_profile_free(short_prof);
	instance_free(&in);
}

/* ---- JSON ----------------------------------------------------------------------- */

static void test_json(void)
{
	struct instance in;
	char *pj = NULL, *cj = NULL, *x;
	struct jalad_profile *p2;
	struct jalad_calib *c2;
	make_instance(&in, 7, 3);
	for (int i = 0; i < 7; i++) {
		in.edge->nodes[i].name = xstrdup("node \"quoted\"");
		in.edge->nodes[i].op_type = xstrdup("Conv");
		in.edge->nodes[i].out_bytes = 1000 + i;
	}
	in.edge->device = xstrdup("test cpu");
	in.edge->backend = xstrdup("ref");
	in.edge->repeat = 5;
	/* A dictionary in one cell. */
	uint64_t hist[16];
	for (int i = 0; i < 16; i++)
		hist[i] = (uint64_t)(16 - i) * 10;
	int b4 = jalad_calib_entry_index(in.cal, 4, 0);
	CHECK(b4 >= 0 && jalad_calib_bits_index(in.cal, 4) == b4);
	CHECK(jalad_calib_entry_index(in.cal, 4, 1) > b4);
	CHECK(jalad_codec_dict_learn(4, hist, &in.cal->dicts[jalad_calib_cell_index(in.cal, 2, b4)]) == JALAD_OK);
	in.cal->cuts[3].supported = 0;

	CHECK(jalad_profile_to_json(in.edge, &pj) == JALAD_OK);
	CHECK(jalad_profile_parse(pj, strlen(pj), &p2) == JALAD_OK);
	if (p2) {
		CHECK(p2->n_nodes == 7 && !memcmp(p2->model_sha256, in.edge->model_sha256, 32));
		CHECK(p2->slowdown == 3 && !strcmp(p2->nodes[2].name, "node \"quoted\"") && p2->nodes[6].out_bytes == 1006);
		CHECK(fabs(p2->nodes[4].ms - in.edge->nodes[4].ms) <= 1e-6 * in.edge->nodes[4].ms);
		jalad_profile_free(p2);
	}
	CHECK(jalad_calib_to_json(in.cal, &cj) == JALAD_OK);
	CHECK(jalad_calib_parse(cj, strlen(cj), &c2) == JALAD_OK);
	if (c2) {
		CHECK(c2->n_nodes == 7 && c2->n_bits == in.cal->n_bits && c2->n_coders == SYN_NC);
		CHECK(c2->cuts[3].supported == 0 && c2->cuts[2].supported == 1);
		int same = 1;
		for (int k = 0; k < 7; k++) {
			if (!in.cal->cuts[k].supported)
				continue;
			for (int b = 0; b < c2->n_bits; b++) {
				size_t ci = jalad_calib_cell_index(c2, k, b);
				same &= c2->cells[ci].correct == in.cal->cells[ci].correct;
				same &= c2->per_channel[b] == in.cal->per_channel[b];
				for (int j = 0; j < SYN_NC; j++) {
					size_t si = jalad_calib_stats_index(c2, k, b, j);
					double a = in.cal->stats[si].mean_bytes, bb = c2->stats[si].mean_bytes;
					same &= (a < 0 && bb < 0) || fabs(a - bb) <= 1e-8 * a;
				}
			}
		}
		CHECK(same);
		const struct jalad_codec_dict *d = c2->dicts[jalad_calib_cell_index(c2, 2, b4)];
		CHECK(d && jalad_codec_dict_id(d) ==
				   jalad_codec_dict_id(in.cal->dicts[jalad_calib_cell_index(in.cal, 2, b4)]));
		jalad_calib_free(c2);
	}

	/* Damage. */
	struct {
		const char *a, *b;
		enum jalad_status want;
		const char *msg;
	} pbad[] = {
		{ "\"version\":\t1", "\"version\":\t2", JALAD_ERR_UNSUPPORTED, "version 2" },
		{ "jalad-profile", "jalad-calibration", JALAD_ERR_FORMAT, "not a jalad-profile" },
		{ "\"nodes\":\t7", "\"nodes\":\t8", JALAD_ERR_FORMAT, "8 nodes" },
		{ "\"sha256\":\t\"", "\"sha256\":\t\"x", JALAD_ERR_FORMAT, "sha256" },
		{ "\"slowdown\":\t3", "\"slowdown\":\t-3", JALAD_ERR_FORMAT, "slowdown" },
		{ "\"ms\":", "\"msx\":", JALAD_ERR_FORMAT, "\"ms\"" },
	};
	for (size_t i = 0; i < sizeof pbad / sizeof pbad[0]; i++) {
		x = replace(pj, pbad[i].a, pbad[i].b);
		CHECK(strcmp(x, pj) != 0);
		enum jalad_status st = jalad_profile_parse(x, strlen(x), &p2);
		CHECK_MSG(st == pbad[i].want && p2 == NULL && contains(jalad_last_error(), pbad[i].msg),
			  "profile damage %zu: %s: %s", i, jalad_status_str(st), jalad_last_error());
		free(x);
	}
	for (size_t cut = 1; cut < strlen(pj); cut += strlen(pj) / 7) {
		enum jalad_status st = jalad_profile_parse(pj, cut, &p2);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED && contains(jalad_last_error(), "truncated"), "cut at %zu: %s", cut,
			  jalad_last_error());
	}
	CHECK(jalad_profile_parse("[1, 2]", 6, &p2) == JALAD_ERR_FORMAT);
	CHECK(jalad_profile_parse("{\"a\": x}", 8, &p2) == JALAD_ERR_FORMAT);
	CHECK(jalad_profile_parse("", 0, &p2) == JALAD_ERR_TRUNCATED);
	CHECK(jalad_profile_load("/nonexistent/profile.json", &p2) == JALAD_ERR_IO &&
	      contains(jalad_last_error(), "/nonexistent/profile.json"));

	struct {
		const char *a, *b;
		enum jalad_status want;
		const char *msg;
	} cbad[] = {
		{ "\"version\":\t4", "\"version\":\t7", JALAD_ERR_UNSUPPORTED, "version 7" },
		{ "\"version\":\t4", "\"version\":\t5", JALAD_ERR_UNSUPPORTED, "version 5" },
		{ "\"version\":\t4", "\"version\":\t1", JALAD_ERR_UNSUPPORTED, "version 1" },
		/* version 2: before huffman-2d (auto sizes without it) */
		{ "\"version\":\t4", "\"version\":\t2", JALAD_ERR_UNSUPPORTED, "re-run jalad calibrate" },
		/* version 3: before skipped cuts and the u8/JPEG/file payloads */
		{ "\"version\":\t4", "\"version\":\t3", JALAD_ERR_UNSUPPORTED, "version 3" },
		{ "\"version\":\t4", "\"version\":\t3", JALAD_ERR_UNSUPPORTED, "re-run jalad calibrate" },
		{ "\"version\":\t4", "\"version\":\t3.5", JALAD_ERR_UNSUPPORTED, "version" },
		{ "jalad-calibration", "jalad-profile", JALAD_ERR_FORMAT, "not a jalad-calibration" },
		{ "\"nodes\":\t7", "\"nodes\":\t6", JALAD_ERR_FORMAT, "cuts" },
		{ "\"coders\":\t[\"raw\"", "\"coders\":\t[\"rawx\"", JALAD_ERR_FORMAT, "coders" },
		{ "\"bits\":\t[1", "\"bits\":\t[9", JALAD_ERR_FORMAT, "bits" },
		{ "\"mean_bytes\":\t[", "\"mean_bytes\":\t[1, ", JALAD_ERR_FORMAT, "mean_bytes" },
		{ "\"correct\":\t", "\"correct\":\t-", JALAD_ERR_FORMAT, "correct" },
		{ "\"dict\":\t\"", "\"dict\":\t\"AAAA", JALAD_ERR_FORMAT, "dict" },
		{ "\"quantizer\":\t\"minmax\"", "\"quantizer\":\t\"log\"", JALAD_ERR_UNSUPPORTED, "quantizer" },
	};
	for (size_t i = 0; i < sizeof cbad / sizeof cbad[0]; i++) {
		x = replace(cj, cbad[i].a, cbad[i].b);
		CHECK_MSG(strcmp(x, cj) != 0, "calibration damage %zu did not apply", i);
		enum jalad_status st = jalad_calib_parse(x, strlen(x), &c2);
		CHECK_MSG(st != JALAD_OK && c2 == NULL && contains(jalad_last_error(), cbad[i].msg),
			  "calibration damage %zu: %s: %s", i, jalad_status_str(st), jalad_last_error());
		CHECK_MSG(cbad[i].want == JALAD_ERR_FORMAT ? (st == JALAD_ERR_FORMAT || st == JALAD_ERR_TRUNCATED ||
							      st == JALAD_ERR_CHECKSUM)
							   : st == cbad[i].want,
			  "calibration damage %zu: status %s", i, jalad_status_str(st));
		free(x);
	}
	for (size_t cut = 1; cut < strlen(cj); cut += strlen(cj) / 13) {
		if (strspn(cj + cut, " \t\r\n") == strlen(cj + cut))
			continue; /* only the trailing newline is gone: still complete */
		enum jalad_status st = jalad_calib_parse(cj, cut, &c2);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED, "calibration cut at %zu: %s: %s", cut, jalad_status_str(st), jalad_last_error());
	}
	free(pj);
	free(cj);
	instance_free(&in);
}

/* huffman-2d in a table: its sizes need a dictionary with 2-d tables,
 * which survives the JSON round trip. */
static void test_json_2d(void)
{
	static const int bits[] = { 4, 6 };
	static const enum jalad_coder coders[] = { JALAD_CODER_HUFFMAN_SHARED, JALAD_CODER_HUFFMAN_2D };
	struct jalad_calib *c, *c2;
	uint64_t hist[64], *hist2d = calloc((size_t)JALAD_CODEC_2D_CONTEXTS << 8, sizeof *hist2d);
	char *cj = NULL;
	CHECK(hist2d != NULL);
	if (!hist2d)
		return;
	for (int i = 0; i < 64; i++)
		hist[i] = (uint64_t)(64 - i);
	for (size_t i = 0; i < (size_t)JALAD_CODEC_2D_CONTEXTS << 8; i++)
		hist2d[i] = (i * 2654435761u) % 97;
	CHECK(jalad_calib_create(1, bits, NULL, 2, coders, 2, &c) == JALAD_OK);
	if (!c) {
		free(hist2d);
		return;
	}
	c->samples = c->size_samples = 4;
	for (int j = 0; j < 2; j++)
		c->stats[jalad_calib_stats_index(c, 0, 0, j)] = (struct jalad_calib_stats){ 100 - j, 110, 0.01, 0.01 };
	c->stats[jalad_calib_stats_index(c, 0, 1, 0)] = (struct jalad_calib_stats){ 150, 160, 0.01, 0.01 };
	/* A dictionary without 2-d tables: the huffman-2d sizes are refused. */
	CHECK(jalad_codec_dict_learn(4, hist, &c->dicts[0]) == JALAD_OK && !jalad_codec_dict_has_2d(c->dicts[0]));
	CHECK(jalad_codec_dict_learn2d(6, hist, NULL, &c->dicts[1]) == JALAD_OK);
	CHECK(jalad_calib_to_json(c, &cj) == JALAD_OK);
	enum jalad_status st = jalad_calib_parse(cj, strlen(cj), &c2);
	CHECK_MSG(st == JALAD_ERR_FORMAT && !c2 && contains(jalad_last_error(), "2-d"), "%s: %s",
		  jalad_status_str(st), jalad_last_error());
	free(cj);
	cj = NULL;
	/* With 2-d tables. */
	jalad_codec_dict_free(c->dicts[0]);
	c->dicts[0] = NULL;
	CHECK(jalad_codec_dict_learn2d(4, hist, hist2d, &c->dicts[0]) == JALAD_OK && jalad_codec_dict_has_2d(c->dicts[0]));
	CHECK(jalad_calib_to_json(c, &cj) == JALAD_OK);
	st = jalad_calib_parse(cj, strlen(cj), &c2);
	CHECK_MSG(st == JALAD_OK, "%s: %s", jalad_status_str(st), jalad_last_error());
	if (c2) {
		CHECK(c2->coders[1] == JALAD_CODER_HUFFMAN_2D && c2->version == JALAD_CALIB_VERSION);
		CHECK(c2->dicts[0] && jalad_codec_dict_has_2d(c2->dicts[0]) &&
		      jalad_codec_dict_id(c2->dicts[0]) == jalad_codec_dict_id(c->dicts[0]));
		CHECK(c2->stats[jalad_calib_stats_index(c2, 0, 0, 1)].mean_bytes == 99);
		CHECK(c2->stats[jalad_calib_stats_index(c2, 0, 1, 1)].mean_bytes < 0);
		jalad_calib_free(c2);
	}
	free(cj);
	free(hist2d);
	jalad_calib_free(c);
}

/* ---- version 4: skipped cuts and the u8 / JPEG / file payloads ------------------ */

/* Set the version-4 fields of a table (1000 labelled samples). */
static void set_v4_fields(struct jalad_calib *c)
{
	c->u8_measured = 1;
	c->input_u8 = (struct jalad_calib_cell){ 881, 951, 0.881, 0.951 };
	c->jpeg_quality = 85;
	c->input_jpeg = (struct jalad_calib_stats){ 300.5, 400, 0.25, 0.125 };
	c->input_jpeg_acc = (struct jalad_calib_cell){ 871, 931, 0.871, 0.931 };
	c->input_file = (struct jalad_calib_stats){ 5000, 7000, 0, 1.5 };
	c->cuts[1].skipped = 1;
	c->cuts[1].supported = 0;
	c->cuts[4].skipped = 1;
	c->cuts[4].supported = 0;
}

static int same_stats(const struct jalad_calib_stats *a, const struct jalad_calib_stats *b)
{
	return a->mean_bytes == b->mean_bytes && a->p95_bytes == b->p95_bytes && a->enc_ms == b->enc_ms &&
	       a->dec_ms == b->dec_ms;
}

static int same_cell(const struct jalad_calib_cell *a, const struct jalad_calib_cell *b)
{
	return a->correct == b->correct && a->agree == b->agree && fabs(a->accuracy - b->accuracy) < 1e-12 &&
	       fabs(a->agreement - b->agreement) < 1e-12;
}

static void test_json_v4(void)
{
	struct instance in;
	struct jalad_calib *c2 = NULL;
	char *cj = NULL, *cj2 = NULL, *x;
	enum jalad_status st;

	make_instance(&in, 7, 3);
	in.cal->labelled = in.cal->samples = 1000;
	for (int k = 0; k < 7; k++)
		in.cal->cuts[k].supported = 1;
	/* Absent fields parse as "not measured". */
	CHECK(jalad_calib_to_json(in.cal, &cj) == JALAD_OK);
	CHECK(cj && !contains(cj, "\"u8\"") && !contains(cj, "\"jpeg\"") && !contains(cj, "\"file\"") &&
	      !contains(cj, "skipped"));
	st = jalad_calib_parse(cj, strlen(cj), &c2);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (c2) {
		struct jalad_calib_stats none = { -1, -1, -1, -1 };
		CHECK(c2->version == 4 && c2->u8_measured == 0 && c2->jpeg_quality == 0);
		CHECK(same_stats(&c2->input_jpeg, &none) && same_stats(&c2->input_file, &none));
		int sk = 0;
		for (int k = 0; k <= 7; k++)
			sk |= c2->cuts[k].skipped;
		CHECK(sk == 0);
		jalad_calib_free(c2);
		c2 = NULL;
	}
	free(cj);
	cj = NULL;

	/* Every new field survives a round trip. */
	set_v4_fields(in.cal);
	CHECK(jalad_calib_to_json(in.cal, &cj) == JALAD_OK);
	if (!cj) {
		instance_free(&in);
		return;
	}
	st = jalad_calib_parse(cj, strlen(cj), &c2);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (c2) {
		CHECK(c2->u8_measured == 1 && same_cell(&c2->input_u8, &in.cal->input_u8));
		CHECK(c2->jpeg_quality == 85 && same_stats(&c2->input_jpeg, &in.cal->input_jpeg));
		CHECK(same_cell(&c2->input_jpeg_acc, &in.cal->input_jpeg_acc));
		CHECK(same_stats(&c2->input_file, &in.cal->input_file));
		CHECK(same_stats(&c2->input_png, &in.cal->input_png) || fabs(c2->input_png.mean_bytes - in.cal->input_png.mean_bytes) < 1e-6);
		int ok = 1;
		for (int k = 0; k <= 7; k++) {
			int sk = k == 1 || k == 4;
			ok &= c2->cuts[k].skipped == sk && c2->cuts[k].supported == !sk;
			ok &= c2->cuts[k].values == in.cal->cuts[k].values && c2->cuts[k].n_tensors == in.cal->cuts[k].n_tensors;
		}
		CHECK_MSG(ok, "skipped cuts after the round trip");
		/* The skipped cut keeps no cells: a planner never picks it. */
		CHECK(jalad_calib_to_json(c2, &cj2) == JALAD_OK && cj2 && !strcmp(cj, cj2));
		free(cj2);
		cj2 = NULL;
		jalad_calib_free(c2);
		c2 = NULL;
	}
	/* A skipped cut is unsupported even if the file says supported. */
	x = replace(cj, "\"supported\":\tfalse,\n\t\t\t\"skipped\"", "\"supported\":\ttrue,\n\t\t\t\"skipped\"");
	CHECK(strcmp(x, cj) != 0);
	st = jalad_calib_parse(x, strlen(x), &c2);
	CHECK_MSG(st == JALAD_OK && c2 && c2->cuts[1].skipped && !c2->cuts[1].supported, "%s: %s", jalad_status_str(st),
		  jalad_last_error());
	jalad_calib_free(c2);
	c2 = NULL;
	free(x);
	/* "skipped": false is the same as absent. */
	x = replace(cj, "\"skipped\":\ttrue", "\"skipped\":\tfalse");
	st = jalad_calib_parse(x, strlen(x), &c2);
	CHECK_MSG(st == JALAD_OK && c2 && !c2->cuts[1].skipped && !c2->cuts[1].supported,
		  "skipped false: %s: %s", jalad_status_str(st), jalad_last_error());
	jalad_calib_free(c2);
	c2 = NULL;
	free(x);

	/* Malformed new fields. */
	struct {
		const char *a, *b, *msg;
	} bad[] = {
		{ "\"quality\":\t85", "\"quality\":\t0", "quality" },
		{ "\"quality\":\t85", "\"quality\":\t101", "quality" },
		{ "\"quality\":\t85", "\"quality\":\t-3", "quality" },
		{ "\"quality\":\t85", "\"quality\":\t85.5", "quality" },
		{ "\"quality\":\t85", "\"quality\":\t\"85\"", "quality" },
		{ "\"quality\":\t85", "\"qualitx\":\t85", "quality" },
		{ "\"correct\":\t881", "\"correct\":\t1001", "correct" }, /* u8: more correct than labelled */
		{ "\"correct\":\t871", "\"correct\":\t1001", "correct" }, /* jpeg */
		{ "\"correct\":\t881", "\"correct\":\t-1", "correct" },
		{ "\"agree\":\t951", "\"agree\":\t1001", "agree" },       /* more than the samples */
		{ "\"agree\":\t931", "\"agree\":\t1001", "agree" },
		{ "\"agree\":\t951", "\"agrex\":\t951", "agree" },
		{ "\"skipped\":\ttrue", "\"skipped\":\t1", "skipped" },
		{ "\"skipped\":\ttrue", "\"skipped\":\t\"yes\"", "skipped" },
		{ "\"skipped\":\ttrue", "\"skipped\":\tnull", "skipped" },
		{ "\"u8\":\t{", "\"u8\":\t7,\n\"u8x\":\t{", "u8" },
		{ "\"jpeg\":\t{", "\"jpeg\":\t7,\n\"jpegx\":\t{", "jpeg" },
		{ "\"file\":\t{", "\"file\":\t7,\n\"filex\":\t{", "file" },
		{ "\"mean_bytes\":\t300.5", "\"mean_bytes\":\t-300.5", "mean_bytes" },
		{ "\"dec_ms\":\t1.5", "\"dec_ms\":\t-1.5", "dec_ms" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		x = replace(cj, bad[i].a, bad[i].b);
		CHECK_MSG(strcmp(x, cj) != 0, "v4 damage %zu did not apply", i);
		st = jalad_calib_parse(x, strlen(x), &c2);
		CHECK_MSG(st == JALAD_ERR_FORMAT && c2 == NULL && contains(jalad_last_error(), bad[i].msg),
			  "v4 damage %zu (%s): %s: %s", i, bad[i].b, jalad_status_str(st), jalad_last_error());
		jalad_calib_free(c2);
		c2 = NULL;
		free(x);
	}
	/* Version 3 tables are refused, naming the version. */
	x = replace(cj, "\"version\":\t4", "\"version\":\t3");
	st = jalad_calib_parse(x, strlen(x), &c2);
	CHECK_MSG(st == JALAD_ERR_UNSUPPORTED && !c2 && contains(jalad_last_error(), "version 3") &&
			  contains(jalad_last_error(), "version 4"),
		  "%s: %s", jalad_status_str(st), jalad_last_error());
	free(x);
	free(cj);
	instance_free(&in);
}

/* A 3-node model whose cuts are all left out: only the cut-0 payloads and
 * edge-only compete. Edge nodes 10 ms each (edge-only 30 ms), cloud nodes
 * 1 ms each; the cloud 2x slower than the measuring machine. */
static void make_payload_instance(struct instance *in)
{
	static const int bits[] = { 4, 0 };
	static const enum jalad_coder coders[] = { JALAD_CODER_RAW };
	memset(in, 0, sizeof *in);
	CHECK(jalad_profile_create(3, &in->edge) == JALAD_OK);
	CHECK(jalad_profile_create(3, &in->cloud) == JALAD_OK);
	CHECK(jalad_calib_create(3, bits, NULL, 2, coders, 1, &in->cal) == JALAD_OK);
	struct jalad_calib *c = in->cal;
	for (int i = 0; i < 32; i++)
		in->edge->model_sha256[i] = in->cloud->model_sha256[i] = c->model_sha256[i] = (uint8_t)(i * 3 + 1);
	in->cloud->slowdown = 2;
	for (int i = 0; i < 3; i++) {
		in->edge->nodes[i].ms = in->edge->nodes[i].measured_ms = 10;
		in->cloud->nodes[i].ms = 1;
		in->cloud->nodes[i].measured_ms = 0.5;
		c->cuts[i].supported = 0;
		c->cuts[i].skipped = 1;
	}
	c->samples = c->labelled = c->size_samples = 1000;
	c->float_correct = 900;
	c->float_accuracy = 0.9;
	c->input_raw_bytes = 10000;
	c->input_png = (struct jalad_calib_stats){ 6000, 6000, 1.0, 0.25 };
	c->jpeg_quality = 90;
	c->input_jpeg = (struct jalad_calib_stats){ 1000, 1000, 0.5, 0.25 };
	c->input_jpeg_acc = (struct jalad_calib_cell){ 850, 950, 0.85, 0.95 }; /* loss 0.05 */
	c->input_file = (struct jalad_calib_stats){ 2000, 2000, 0, 1.0 };
}

/* The payloads jalad picks over a bandwidth sweep, as a bit set. */
static unsigned sweep_payloads(const struct jalad_planner *pl, double rtt, double max_loss, int *bad_loss)
{
	unsigned seen = 0;
	for (double bw = 1e2; bw <= 1e12; bw *= 1.5) {
		struct jalad_plan_choice ch;
		if (jalad_planner_choose(pl, bw, rtt, &ch) != JALAD_OK)
			return 1u << 31;
		seen |= 1u << ch.payload;
		if (bad_loss && ch.accuracy_loss > max_loss + 1e-12)
			(*bad_loss)++;
	}
	return seen;
}

#define PAY(p) (1u << (p))

static void test_planner_payloads(void)
{
	struct instance in;
	struct jalad_planner *pl = NULL;
	struct jalad_plan_choice ch;
	struct jalad_planner_opts po = { .max_loss = 0.01, .payload_only = 1 };
	int bad_loss = 0;
	unsigned seen;

	CHECK(!strcmp(jalad_strategy_name(JALAD_STRATEGY_CLOUD_JPEG), "cloud_jpeg"));
	CHECK(!strcmp(jalad_strategy_name(JALAD_STRATEGY_CLOUD_FILE), "cloud_file"));
	CHECK(!strcmp(jalad_payload_name(JALAD_PAYLOAD_INPUT_JPEG), "jpeg"));
	CHECK(!strcmp(jalad_payload_name(JALAD_PAYLOAD_INPUT_FILE), "file"));
	CHECK(!strcmp(jalad_payload_name(JALAD_PAYLOAD_INPUT_U8), "u8"));

	make_payload_instance(&in);
	/* (a) the JPEG loses 5 points: never jalad's at a 1-point bound ... */
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	if (pl) {
		seen = sweep_payloads(pl, 5, 0.01, &bad_loss);
		CHECK_MSG(!(seen & PAY(JALAD_PAYLOAD_INPUT_JPEG)) && !(seen & (1u << 31)), "payloads seen %#x", seen);
		CHECK(bad_loss == 0);
		/* ... but cloud_jpeg sends it, with its loss */
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_JPEG, 1e6, 5, &ch) == JALAD_OK);
		CHECK_MSG(ch.payload == JALAD_PAYLOAD_INPUT_JPEG && ch.cut == 0 && ch.bytes == 1000 &&
				  fabs(ch.accuracy_loss - 0.05) < 1e-9 && ch.strategy == JALAD_STRATEGY_CLOUD_JPEG,
			  "cloud_jpeg: %s, loss %g", jalad_payload_name(ch.payload), ch.accuracy_loss);
		/* 5 + 8 ms transfer + 0.5 encode + 0.25 x 2 decode + 3 cloud */
		CHECK_MSG(fabs(ch.total_ms - 17.0) < 1e-9 && fabs(ch.encode_ms - 0.5) < 1e-12 &&
				  fabs(ch.decode_ms - 0.5) < 1e-12 && fabs(ch.transfer_ms - 8.0) < 1e-9,
			  "cloud_jpeg total %g", ch.total_ms);
		/* a cloud-only strategy never falls back to edge-only */
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_JPEG, 1, 5, &ch) == JALAD_OK &&
		      ch.payload == JALAD_PAYLOAD_INPUT_JPEG);
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_FILE, 1, 5, &ch) == JALAD_OK &&
		      ch.payload == JALAD_PAYLOAD_INPUT_FILE);

		/* (b) the file is cheapest in a middle band: 1 Mbit/s is
		 * 5 + 16 + 1 x 2 + 3 = 26 ms < 30 ms edge-only < 58 ms PNG */
		CHECK(jalad_planner_choose(pl, 1e6, 5, &ch) == JALAD_OK);
		CHECK_MSG(ch.payload == JALAD_PAYLOAD_INPUT_FILE && !strcmp(jalad_payload_name(ch.payload), "file") &&
				  ch.cut == 0,
			  "1 Mbit/s: %s", jalad_payload_name(ch.payload));
		CHECK(ch.bytes == 2000 && ch.encode_ms == 0 && fabs(ch.decode_ms - 2.0) < 1e-12 &&
		      ch.accuracy_loss == 0 && ch.edge_ms == 0 && fabs(ch.total_ms - 26.0) < 1e-9);
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_FILE, 1e6, 5, &ch) == JALAD_OK &&
		      ch.payload == JALAD_PAYLOAD_INPUT_FILE && fabs(ch.total_ms - 26.0) < 1e-9);
		/* 1 Gbit/s: the raw input (8.08 ms) beats the file (10.016 ms) */
		CHECK(jalad_planner_choose(pl, 1e9, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_U8);
		/* 10 kbit/s: edge-only */
		CHECK(jalad_planner_choose(pl, 1e4, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_NONE);
		/* the switching table has a file row */
		struct jalad_plan_interval rows[64];
		int nrows = 0, file_rows = 0;
		CHECK(jalad_planner_table(pl, JALAD_STRATEGY_BEST, 5, 0, INFINITY, rows, 64, &nrows) == JALAD_OK);
		for (int r = 0; r < nrows && r < 64; r++)
			file_rows += rows[r].choice.payload == JALAD_PAYLOAD_INPUT_FILE;
		CHECK_MSG(nrows == 3 && file_rows == 1, "%d rows, %d file rows", nrows, file_rows);
		jalad_planner_free(pl);
		pl = NULL;
	}
	/* a looser bound admits the JPEG: at 1 Mbit/s 17 ms beats the file */
	po.max_loss = 0.1;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	CHECK(pl && jalad_planner_choose(pl, 1e6, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_JPEG &&
	      fabs(ch.accuracy_loss - 0.05) < 1e-9);
	jalad_planner_free(pl);
	pl = NULL;

	/* (c) the coder list restricts the cut-0 payloads */
	po.coders = "jpeg";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	seen = pl ? sweep_payloads(pl, 5, 0.1, NULL) : 0;
	CHECK_MSG(seen == (PAY(JALAD_PAYLOAD_INPUT_JPEG) | PAY(JALAD_PAYLOAD_NONE)), "jpeg only: %#x", seen);
	jalad_planner_free(pl);
	pl = NULL;
	po.coders = "file";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	seen = pl ? sweep_payloads(pl, 5, 0.1, NULL) : 0;
	CHECK_MSG(seen == (PAY(JALAD_PAYLOAD_INPUT_FILE) | PAY(JALAD_PAYLOAD_NONE)), "file only: %#x", seen);
	CHECK(pl && jalad_planner_choose(pl, 1e11, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_FILE);
	jalad_planner_free(pl);
	pl = NULL;
	po.coders = "u8";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	seen = pl ? sweep_payloads(pl, 5, 0.1, NULL) : 0;
	CHECK_MSG(seen == (PAY(JALAD_PAYLOAD_INPUT_U8) | PAY(JALAD_PAYLOAD_NONE)), "u8 only: %#x", seen);
	jalad_planner_free(pl);
	pl = NULL;
	/* "jpeg" alone at a bound the JPEG exceeds: edge-only everywhere */
	po.coders = "jpeg";
	po.max_loss = 0.01;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	seen = pl ? sweep_payloads(pl, 5, 0.01, NULL) : 0;
	CHECK_MSG(seen == PAY(JALAD_PAYLOAD_NONE), "jpeg only over the bound: %#x", seen);
	jalad_planner_free(pl);
	pl = NULL;
	po.coders = "jpeg,bogus";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_ERR_INVALID_ARG &&
	      contains(jalad_last_error(), "bogus") && pl == NULL);
	po.coders = NULL;

	/* (d) the 8-bit input loses 2 points (measured): no u8, no PNG at a
	 * 1-point bound, though cloud_raw still reports it with its loss */
	in.cal->u8_measured = 1;
	in.cal->input_u8 = (struct jalad_calib_cell){ 880, 990, 0.88, 0.99 };
	po.coders = "u8,png";
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	seen = pl ? sweep_payloads(pl, 5, 0.01, NULL) : 0;
	CHECK_MSG(seen == PAY(JALAD_PAYLOAD_NONE), "u8,png with a 2-point u8 loss: %#x", seen);
	jalad_planner_free(pl);
	pl = NULL;
	po.coders = NULL;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	if (pl) {
		bad_loss = 0;
		seen = sweep_payloads(pl, 5, 0.01, &bad_loss);
		CHECK_MSG(!(seen & (PAY(JALAD_PAYLOAD_INPUT_U8) | PAY(JALAD_PAYLOAD_INPUT_PNG) |
				    PAY(JALAD_PAYLOAD_INPUT_JPEG))),
			  "u8 loss over the bound: %#x", seen);
		CHECK(bad_loss == 0);
		/* 1 Gbit/s: the file now */
		CHECK(jalad_planner_choose(pl, 1e9, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_FILE);
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_RAW, 1e9, 5, &ch) == JALAD_OK &&
		      ch.payload == JALAD_PAYLOAD_INPUT_U8 && fabs(ch.accuracy_loss - 0.02) < 1e-9);
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_PNG, 1e9, 5, &ch) == JALAD_OK &&
		      ch.payload == JALAD_PAYLOAD_INPUT_PNG && fabs(ch.accuracy_loss - 0.02) < 1e-9);
		jalad_planner_free(pl);
		pl = NULL;
	}
	/* a 3-point bound admits it again (with its loss) */
	po.max_loss = 0.03;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	CHECK(pl && jalad_planner_choose(pl, 1e9, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_U8 &&
	      fabs(ch.accuracy_loss - 0.02) < 1e-9);
	jalad_planner_free(pl);
	pl = NULL;
	/* a u8 loss within the bound keeps it */
	po.max_loss = 0.01;
	in.cal->input_u8 = (struct jalad_calib_cell){ 895, 990, 0.895, 0.99 };
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	CHECK(pl && jalad_planner_choose(pl, 1e9, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_U8 &&
	      fabs(ch.accuracy_loss - 0.005) < 1e-9);
	jalad_planner_free(pl);
	pl = NULL;
	/* unlabelled samples: the loss is 1 - agreement */
	in.cal->labelled = 0;
	in.cal->float_correct = 0;
	in.cal->float_accuracy = 1.0;
	in.cal->input_u8 = (struct jalad_calib_cell){ 0, 950, 0.95, 0.95 };
	in.cal->input_jpeg_acc = (struct jalad_calib_cell){ 0, 999, 0.999, 0.999 };
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	if (pl) {
		seen = sweep_payloads(pl, 5, 0.01, NULL);
		CHECK_MSG(!(seen & (PAY(JALAD_PAYLOAD_INPUT_U8) | PAY(JALAD_PAYLOAD_INPUT_PNG))) &&
				  (seen & PAY(JALAD_PAYLOAD_INPUT_JPEG)),
			  "unlabelled: %#x", seen);
		CHECK(jalad_planner_choose(pl, 1e6, 5, &ch) == JALAD_OK && ch.payload == JALAD_PAYLOAD_INPUT_JPEG &&
		      fabs(ch.accuracy_loss - 0.001) < 1e-9);
		jalad_planner_free(pl);
		pl = NULL;
	}
	/* not calibrated: no JPEG (quality 0), no file (mean_bytes < 0) */
	in.cal->jpeg_quality = 0;
	in.cal->input_file.mean_bytes = -1;
	po.coders = NULL;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	if (pl) {
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_JPEG, 1e6, 5, &ch) == JALAD_ERR_NOT_FOUND);
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_FILE, 1e6, 5, &ch) == JALAD_ERR_NOT_FOUND);
		CHECK(jalad_planner_candidates(pl, JALAD_STRATEGY_CLOUD_JPEG) == 0 &&
		      jalad_planner_candidates(pl, JALAD_STRATEGY_CLOUD_FILE) == 0);
		seen = sweep_payloads(pl, 5, 0.01, NULL);
		CHECK_MSG(!(seen & (PAY(JALAD_PAYLOAD_INPUT_JPEG) | PAY(JALAD_PAYLOAD_INPUT_FILE))), "uncalibrated: %#x",
			  seen);
		jalad_planner_free(pl);
	}
	instance_free(&in);
}

/* Random instances with every cut-0 payload against brute force. */
/* What the link carries, the per-request constants, and the throughput
 * objective, on the payload instance (edge 10 ms per node, cloud 2 ms). */
static void test_wire_and_throughput(void)
{
	struct instance in;
	struct jalad_planner *pl = NULL, *raw = NULL;
	struct jalad_plan_choice ch, cr;
	struct jalad_planner_opts po = { .max_loss = 0.01 }, pr = { .max_loss = 0.01, .payload_only = 1 };
	struct jalad_planner_opts pt = { .max_loss = 0.01, .tls = 1 }, pm = { .max_loss = 0.01, .mss = 500 };

	/* 307 payload bytes + 40 of frame = 347: one segment, + 66 */
	CHECK(fabs(jalad_plan_wire_bytes(NULL, JALAD_PAYLOAD_CONTAINER, 307) - 413) < 1e-9);
	/* u8 adds its 5-byte header; 1448 + 1 bytes take two segments */
	CHECK(fabs(jalad_plan_wire_bytes(NULL, JALAD_PAYLOAD_INPUT_U8, 784) - (829 + 66)) < 1e-9);
	CHECK(fabs(jalad_plan_wire_bytes(NULL, JALAD_PAYLOAD_CONTAINER, 1409) - (1449 + 2 * 66)) < 1e-9);
	/* TLS: 22 bytes per 16 KiB record (20040 bytes: two) */
	CHECK(fabs(jalad_plan_wire_bytes(&pt, JALAD_PAYLOAD_CONTAINER, 20000) - (20084 + 14 * 66)) < 1e-9);
	CHECK(fabs(jalad_plan_wire_bytes(&pm, JALAD_PAYLOAD_CONTAINER, 960) - (1000 + 2 * 66)) < 1e-9);
	CHECK(jalad_plan_wire_bytes(&pr, JALAD_PAYLOAD_CONTAINER, 960) == 960);
	CHECK(jalad_plan_wire_bytes(NULL, JALAD_PAYLOAD_NONE, 960) == 0);

	make_payload_instance(&in);
	in.cloud->request_ms = 0.75;
	in.edge->request_ms = 0.25;
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) == JALAD_OK);
	CHECK(jalad_planner_create(in.edge, in.cloud, in.cal, &pr, &raw) == JALAD_OK);
	if (pl && raw) {
		/* the file at 1 Mbit/s: 2040 bytes in two segments, + 1 ms of requests */
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_CLOUD_FILE, 1e6, 5, &ch) == JALAD_OK);
		CHECK(jalad_planner_choose_strategy(raw, JALAD_STRATEGY_CLOUD_FILE, 1e6, 5, &cr) == JALAD_OK);
		CHECK_MSG(fabs(ch.wire_bytes - 2172) < 1e-9 && ch.bytes == 2000 && fabs(ch.request_ms - 1.0) < 1e-12 &&
				  fabs(ch.total_ms - (cr.total_ms + 172 * 8e-3 + 1.0)) < 1e-9 && cr.request_ms == 0 &&
				  cr.wire_bytes == 2000,
			  "file: wire %g, request %g, total %g vs %g", ch.wire_bytes, ch.request_ms, ch.total_ms, cr.total_ms);
		double sum = ch.edge_ms + ch.encode_ms + ch.transfer_ms + ch.rtt_ms + ch.decode_ms + ch.cloud_ms + ch.request_ms;
		CHECK(fabs(sum - ch.total_ms) < 1e-9);
		/* edge-only carries nothing and pays no request constant */
		CHECK(jalad_planner_choose_strategy(pl, JALAD_STRATEGY_EDGE_ONLY, 1e6, 5, &ch) == JALAD_OK &&
		      ch.request_ms == 0 && ch.wire_bytes == 0 && fabs(ch.total_ms - 30) < 1e-9);

		/* Throughput: at 1 Mbit/s the file's stages are 0 (edge), 17.4 ms
		 * (link) and 2 + 3 + 1 ms (cloud): 57.5 frames/s, where edge-only
		 * makes 33.3. At RTT 20 ms the file takes 43.4 ms, edge-only 30:
		 * within 60 ms both fit and the file wins ... */
		double fps = 0;
		CHECK(jalad_planner_choose_throughput(pl, 1e6, 20, 60, &ch, &fps) == JALAD_OK);
		CHECK_MSG(ch.payload == JALAD_PAYLOAD_INPUT_FILE && fabs(fps - 1e3 / 17.376) < 1e-6, "%s at %g fps",
			  jalad_payload_name(ch.payload), fps);
		/* ... within 35 ms only edge-only does. */
		CHECK(jalad_planner_choose_throughput(pl, 1e6, 20, 35, &ch, &fps) == JALAD_OK);
		CHECK_MSG(ch.payload == JALAD_PAYLOAD_NONE && fabs(fps - 1e3 / 30) < 1e-9, "%s at %g fps",
			  jalad_payload_name(ch.payload), fps);
		/* Nothing within 1 ms: NOT_FOUND, and the latency objective's plan. */
		struct jalad_plan_choice cl;
		CHECK(jalad_planner_choose(pl, 1e6, 5, &cl) == JALAD_OK);
		CHECK(jalad_planner_choose_throughput(pl, 1e6, 5, 1, &ch, &fps) == JALAD_ERR_NOT_FOUND &&
		      ch.payload == cl.payload && ch.cut == cl.cut && fps > 0);
		CHECK(jalad_planner_choose_throughput(pl, 0, 5, 10, &ch, &fps) == JALAD_ERR_INVALID_ARG);
		CHECK(jalad_planner_choose_throughput(pl, 1e6, 5, 0, &ch, &fps) == JALAD_ERR_INVALID_ARG);
		/* Throughput never below the latency objective's plan's, at any bandwidth. */
		int worse = 0;
		for (double bw = 1e3; bw < 1e10; bw *= 3) {
			double f1;
			CHECK(jalad_planner_choose(pl, bw, 5, &cl) == JALAD_OK);
			if (jalad_planner_choose_throughput(pl, bw, 5, 1e9, &ch, &f1) != JALAD_OK)
				worse++;
			double stage = cl.payload == JALAD_PAYLOAD_NONE
					       ? cl.edge_ms
					       : fmax(cl.edge_ms + cl.encode_ms,
						      fmax(cl.transfer_ms, cl.decode_ms + cl.cloud_ms + cl.request_ms));
			worse += f1 < 1e3 / stage - 1e-9;
		}
		CHECK_MSG(worse == 0, "%d bandwidths where the throughput plan is slower than the latency plan", worse);
	}
	jalad_planner_free(pl);
	jalad_planner_free(raw);
	instance_free(&in);
}

static void test_optimizer_payloads_random(void)
{
	static const double losses[] = { 0, 0.01, 0.03, -1 };
	int bad_exact = 0, bad_loss = 0, bad_base = 0, runs = 0, seen_jpeg = 0, seen_file = 0;
	for (int it = 0; it < 40; it++) {
		struct instance in;
		make_instance(&in, 2 + (int)(urand() * 20), pow(10, 2 * urand()));
		struct jalad_calib *c = in.cal;
		if (urand() < 0.7) {
			c->u8_measured = 1;
			c->input_u8.correct = (uint64_t)(900 - (int)(urand() * 30));
			c->input_u8.accuracy = (double)c->input_u8.correct / 1000.0;
		}
		if (urand() < 0.8) {
			c->jpeg_quality = 90;
			c->input_jpeg = (struct jalad_calib_stats){ 50 + 300 * urand(), 700, 0.01 * urand(), 0.1 * urand() };
			c->input_jpeg_acc.correct = (uint64_t)(900 - (int)(urand() * 20));
			c->input_jpeg_acc.accuracy = (double)c->input_jpeg_acc.correct / 1000.0;
		}
		if (urand() < 0.8)
			c->input_file = (struct jalad_calib_stats){ 200 + 800 * urand(), 1200, 0, 0.3 * urand() };
		for (size_t li = 0; li < sizeof losses / sizeof losses[0]; li++) {
			struct jalad_planner *pl;
			struct jalad_planner_opts po = { .max_loss = losses[li], .payload_only = 1 };
			double ml = losses[li] < 0 ? INFINITY : losses[li];
			if (jalad_planner_create(in.edge, in.cloud, in.cal, &po, &pl) != JALAD_OK) {
				CHECK_MSG(0, "planner_create: %s", jalad_last_error());
				continue;
			}
			double rtt = 50 * urand();
			for (int bi = 0; bi <= 40; bi++) {
				double bw = pow(10, 3 + 8.0 * bi / 40);
				struct jalad_plan_choice ch;
				int bc;
				if (jalad_planner_choose(pl, bw, rtt, &ch) != JALAD_OK) {
					bad_exact++;
					continue;
				}
				runs++;
				double want = brute(&in, bw, rtt, ml, &bc);
				if (fabs(ch.total_ms - want) > 1e-9 * fmax(1, want))
					bad_exact++;
				if (ch.accuracy_loss > ml + 1e-12)
					bad_loss++;
				seen_jpeg += ch.payload == JALAD_PAYLOAD_INPUT_JPEG;
				seen_file += ch.payload == JALAD_PAYLOAD_INPUT_FILE;
				/* within the bound, no baseline beats jalad */
				for (int s = 1; s < JALAD_STRATEGY_COUNT; s++) {
					struct jalad_plan_choice b;
					if (jalad_planner_choose_strategy(pl, (enum jalad_strategy)s, bw, rtt, &b) != JALAD_OK)
						continue;
					if (b.accuracy_loss <= ml + 1e-12 && b.total_ms < ch.total_ms - 1e-9 * fmax(1, ch.total_ms))
						bad_base++;
				}
			}
			jalad_planner_free(pl);
		}
		instance_free(&in);
	}
	CHECK_MSG(bad_exact == 0, "%d of %d choices differ from brute force", bad_exact, runs);
	CHECK_MSG(bad_loss == 0, "%d choices exceed the loss bound", bad_loss);
	CHECK_MSG(bad_base == 0, "%d baselines within the bound beat jalad", bad_base);
	CHECK_MSG(seen_jpeg > 0 && seen_file > 0, "jpeg chosen %d times, file %d times", seen_jpeg, seen_file);
}

/* ---- with the bundled model ------------------------------------------------------ */

/* A calibration of the bundled model on the first ns Fashion-MNIST test
 * samples with the 8-bit input measured (pp), the JPEG payload at the
 * default quality, a "camera file" per sample (the photo as a quality-75
 * JPEG) and only cuts 0 and 3 calibrated. */
static void test_calib_v4(const struct jalad_model *m, const struct jalad_profile *prof)
{
	enum { NS = 8 };
	static const int bits[] = { 4, 0 };
	static const enum jalad_coder coders[] = { JALAD_CODER_RAW, JALAD_CODER_HUFFMAN };
	struct jalad_dataset *ds = NULL;
	struct jalad_preprocess pp;
	struct jalad_calibrator *cal = NULL;
	struct jalad_calib_worker *w = NULL;
	struct jalad_calib *t = NULL;
	struct jalad_image *img[NS] = { NULL }, *px[NS] = { NULL };
	unsigned char *file[NS] = { NULL };
	size_t flen[NS] = { 0 };
	int labels[NS];
	float x[NS][784];
	double jpeg_sum = 0, file_sum = 0;
	size_t file_max = 0;
	int n = jalad_model_node_count(m);
	uint8_t *mask = calloc((size_t)n + 1, 1);
	enum jalad_status st;

	if (jalad_dataset_open("fmnist", &ds) != JALAD_OK) {
		printf("skipping the version-4 calibration: %s\n", jalad_last_error());
		free(mask);
		return;
	}
	CHECK(mask && n > 4);
	if (!mask || n <= 4)
		goto done;
	mask[0] = mask[3] = 1;
	jalad_preprocess_default(&pp, 1, 28, 28);
	for (int i = 0; i < NS; i++) {
		unsigned char *j = NULL;
		size_t jl = 0;
		CHECK(jalad_dataset_get(ds, (size_t)i, &pp, x[i], 784) == JALAD_OK);
		labels[i] = jalad_dataset_label(ds, (size_t)i);
		CHECK(jalad_dataset_load_image(ds, (size_t)i, &img[i]) == JALAD_OK);
		CHECK(img[i] && jalad_image_resample(img[i], &pp, &px[i]) == JALAD_OK);
		if (!px[i])
			goto done;
		/* the model-sized 8-bit input of a 28 x 28 sample is the sample */
		CHECK(px[i]->width == 28 && px[i]->height == 28 && px[i]->channels == 1 &&
		      !memcmp(px[i]->data, img[i]->data, 784));
		CHECK(jalad_image_encode_jpeg(img[i], 75, &file[i], &flen[i]) == JALAD_OK);
		CHECK(jalad_image_encode_jpeg(px[i], 90, &j, &jl) == JALAD_OK);
		jpeg_sum += (double)jl;
		file_sum += (double)flen[i];
		file_max = flen[i] > file_max ? flen[i] : file_max;
		free(j);
	}

	/* bad options */
	{
		struct jalad_calib_opts bo = { .bits = bits, .n_bits = 2, .coders = coders, .n_coders = 2, .samples = NS,
					       .backend = "ref", .pp = &pp, .jpeg_quality = 101 };
		struct jalad_calibrator *bc = (struct jalad_calibrator *)&bc;
		CHECK(jalad_calibrator_create(m, &bo, &bc) == JALAD_ERR_INVALID_ARG && bc == NULL);
		struct jalad_preprocess bpp = pp;
		bpp.std[0] = 0;
		bo.jpeg_quality = 0;
		bo.pp = &bpp;
		bc = (struct jalad_calibrator *)&bc;
		CHECK(jalad_calibrator_create(m, &bo, &bc) == JALAD_ERR_INVALID_ARG && bc == NULL);
	}

	struct jalad_calib_opts o = { .bits = bits, .n_bits = 2, .coders = coders, .n_coders = 2, .samples = NS,
				      .timing_samples = 2, .backend = "ref", .dataset = "fmnist", .pp = &pp,
				      .cut_mask = mask };
	st = jalad_calibrator_create(m, &o, &cal);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (!cal)
		goto done;
	CHECK(jalad_calib_worker_create(cal, &w) == JALAD_OK);
	if (!w)
		goto done;
	{
		/* an image that is not the model's size is refused */
		struct jalad_calib_image bad = { .pixels = img[0]->data, .width = 14, .height = 56, .channels = 1 };
		struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, 1, 28, 28 }, x[0] };
		CHECK(jalad_calib_worker_pass1(w, 0, &in, labels[0], &bad) == JALAD_ERR_SHAPE);
	}
	for (int pass = 1; pass <= 3; pass++) {
		if (pass == 2)
			CHECK(jalad_calibrator_learn(cal, &w, 1) == JALAD_OK);
		for (int i = 0; i < NS && (pass < 3 || i < 2); i++) {
			struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, 1, 28, 28 }, x[i] };
			struct jalad_calib_image ci = { px[i]->data, 28, 28, 1, file[i], flen[i], &pp };
			st = pass == 1 ? jalad_calib_worker_pass1(w, (uint64_t)i, &in, labels[i], &ci)
			     : pass == 2 ? jalad_calib_worker_pass2(w, (uint64_t)i, &in)
					 : jalad_calib_worker_time(w, i, &in, &ci);
			CHECK_MSG(st == JALAD_OK, "pass %d sample %d: %s", pass, i, jalad_last_error());
		}
	}
	st = jalad_calibrator_finish(cal, &t);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (!t)
		goto done;

	/* cuts: 0 and 3 calibrated, n (edge-only) always, the rest skipped */
	{
		int ok = 1, cells = 1;
		for (int k = 0; k <= n; k++) {
			int want = k == 0 || k == 3 || k == n;
			ok &= t->cuts[k].skipped == !want && t->cuts[k].supported == want;
			ok &= t->cuts[k].n_tensors >= 1 && t->cuts[k].values > 0;
		}
		CHECK_MSG(ok, "skipped flags");
		int f = jalad_calib_entry_index(t, 0, 0), b4 = jalad_calib_entry_index(t, 4, 0);
		for (int k = 0; k < n; k++) {
			const struct jalad_calib_cell *cf = &t->cells[jalad_calib_cell_index(t, k, f)];
			const struct jalad_calib_cell *c4 = &t->cells[jalad_calib_cell_index(t, k, b4)];
			double mb = t->stats[jalad_calib_stats_index(t, k, b4, 1)].mean_bytes;
			if (t->cuts[k].supported)
				cells &= cf->agree == NS && cf->correct == t->float_correct && c4->agree <= NS && mb > 0;
			else
				cells &= cf->agree == 0 && c4->agree == 0 && mb < 0 &&
					 !t->dicts[jalad_calib_cell_index(t, k, b4)];
		}
		CHECK_MSG(cells, "cells of calibrated and skipped cuts");
	}
	CHECK(t->samples == NS && t->labelled == NS && t->input_raw_bytes == 784);
	/* the 8-bit input of Fashion-MNIST is exact: agrees everywhere */
	CHECK_MSG(t->u8_measured == 1 && t->input_u8.agree == NS && t->input_u8.correct == t->float_correct &&
			  t->input_u8.agreement == 1.0,
		  "u8: measured %d, agree %llu, correct %llu of float %llu", t->u8_measured,
		  (unsigned long long)t->input_u8.agree, (unsigned long long)t->input_u8.correct,
		  (unsigned long long)t->float_correct);
	/* JPEG at the default quality 90: the sizes of the same encoder */
	CHECK(t->jpeg_quality == 90);
	CHECK_MSG(t->input_jpeg.mean_bytes > 0 && fabs(t->input_jpeg.mean_bytes - jpeg_sum / NS) < 1e-9,
		  "jpeg mean %g, want %g", t->input_jpeg.mean_bytes, jpeg_sum / NS);
	CHECK(t->input_jpeg.p95_bytes > 0 && t->input_jpeg.enc_ms >= 0 && t->input_jpeg.dec_ms >= 0);
	CHECK(t->input_jpeg_acc.agree <= NS && t->input_jpeg_acc.correct <= t->labelled && t->input_jpeg_acc.agree > 0);
	/* the camera file: its own sizes, no encode */
	CHECK_MSG(fabs(t->input_file.mean_bytes - file_sum / NS) < 1e-9 && t->input_file.p95_bytes == (double)file_max,
		  "file mean %g p95 %g, want %g %zu", t->input_file.mean_bytes, t->input_file.p95_bytes, file_sum / NS,
		  file_max);
	CHECK(t->input_file.enc_ms == 0 && t->input_file.dec_ms >= 0);

	/* the JSON form keeps all of it */
	{
		char *j1 = NULL, *j2 = NULL;
		struct jalad_calib *back = NULL;
		CHECK(jalad_calib_to_json(t, &j1) == JALAD_OK);
		CHECK(j1 && jalad_calib_parse(j1, strlen(j1), &back) == JALAD_OK);
		CHECK(back && jalad_calib_to_json(back, &j2) == JALAD_OK && j2 && !strcmp(j1, j2));
		if (back) {
			int ok = back->u8_measured == 1 && back->input_u8.agree == NS && back->jpeg_quality == 90 &&
				 back->input_file.mean_bytes == t->input_file.mean_bytes;
			for (int k = 0; k <= n; k++)
				ok &= back->cuts[k].skipped == t->cuts[k].skipped && back->cuts[k].supported == t->cuts[k].supported;
			CHECK(ok);
		}
		free(j1);
		free(j2);
		jalad_calib_free(back);
	}
	/* a planner never picks a skipped cut */
	if (prof) {
		struct jalad_planner *pl = NULL;
		struct jalad_planner_opts plo = { .max_loss = 1 };
		CHECK(jalad_planner_create(prof, prof, t, &plo, &pl) == JALAD_OK);
		int bad = 0;
		for (double bw = 1e2; pl && bw < 1e12; bw *= 2) {
			struct jalad_plan_choice ch;
			if (jalad_planner_choose(pl, bw, 1, &ch) != JALAD_OK || (ch.cut != 0 && ch.cut != 3 && ch.cut != n))
				bad++;
			for (int s = 0; s < JALAD_STRATEGY_COUNT; s++)
				if (jalad_planner_choose_strategy(pl, (enum jalad_strategy)s, bw, 1, &ch) == JALAD_OK &&
				    ch.cut != 0 && ch.cut != 3 && ch.cut != n)
					bad++;
		}
		CHECK_MSG(bad == 0, "%d plans on skipped cuts", bad);
		jalad_planner_free(pl);
	}
done:
	jalad_calib_free(t);
	jalad_calib_worker_free(w);
	jalad_calibrator_free(cal);
	for (int i = 0; i < NS; i++) {
		jalad_image_free(img[i]);
		jalad_image_free(px[i]);
		free(file[i]);
	}
	free(mask);
	jalad_dataset_free(ds);
}


static void fill_input(float *x, int n, uint32_t seed)
{
	for (int i = 0; i < n; i++) {
		seed = seed * 1664525u + 1013904223u;
		x[i] = (float)(seed >> 8) / (float)(1u << 24);
	}
}

/* Run a small calibration with nw workers taking samples in the given
 * order; returns the table. */
static struct jalad_calib *calibrate(const struct jalad_model *m, int nw, int reverse, int ns, int nsz)
{
	static const int bits[] = { 2, 4, 4, 0 };
	static const int pcs[] = { 0, 0, 1, 0 };
	static const enum jalad_coder coders[] = { JALAD_CODER_RAW, JALAD_CODER_HUFFMAN, JALAD_CODER_HUFFMAN_SHARED,
						   JALAD_CODER_RANS0, JALAD_CODER_HUFFMAN_2D, JALAD_CODER_AUTO };
	struct jalad_calib_opts o = { .bits = bits, .per_channel = pcs, .n_bits = 4, .coders = coders, .n_coders = 6,
				      .samples = (uint64_t)ns, .size_samples = (uint64_t)nsz, .timing_samples = 2,
				      .backend = "ref",
				      .dataset = "synthetic" };
	struct jalad_calibrator *cal = NULL;
	struct jalad_calib_worker *w[2] = { NULL, NULL };
	struct jalad_calib *out = NULL;
	float x[784];
	uint8_t pix[784];
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, 1, 28, 28 }, x };
	struct jalad_calib_image img = { .pixels = pix, .width = 28, .height = 28, .channels = 1 };
	CHECK(jalad_calibrator_create(m, &o, &cal) == JALAD_OK);
	for (int i = 0; i < nw; i++)
		CHECK(jalad_calib_worker_create(cal, &w[i]) == JALAD_OK);
	for (int pass = 1; pass <= 2; pass++) {
		if (pass == 2)
			CHECK(jalad_calibrator_learn(cal, w, nw) == JALAD_OK);
		for (int t = 0; t < ns; t++) {
			int i = reverse ? ns - 1 - t : t;
			fill_input(x, 784, (uint32_t)i * 977u + 1);
			for (int p = 0; p < 784; p++)
				pix[p] = (uint8_t)(x[p] * 255);
			struct jalad_calib_worker *wk = w[t % nw];
			enum jalad_status st = pass == 1 ? jalad_calib_worker_pass1(wk, (uint64_t)i, &in, i % 10, &img)
							 : jalad_calib_worker_pass2(wk, (uint64_t)i, &in);
			CHECK_MSG(st == JALAD_OK, "pass %d sample %d: %s", pass, i, jalad_last_error());
		}
	}
	for (int t = 0; t < 2; t++) {
		fill_input(x, 784, (uint32_t)t * 977u + 1);
		enum jalad_status st = jalad_calib_worker_time(w[0], t, &in, &img);
		CHECK_MSG(st == JALAD_OK, "timing: %s", jalad_last_error());
	}
	CHECK(jalad_calibrator_finish(cal, &out) == JALAD_OK);
	for (int i = 0; i < nw; i++)
		jalad_calib_worker_free(w[i]);
	jalad_calibrator_free(cal);
	return out;
}

static void test_model(const char *path)
{
	struct jalad_model *m;
	if (jalad_model_load(path, NULL, &m) != JALAD_OK) {
		printf("skipping model tests: %s: %s\n", path, jalad_last_error());
		return;
	}
	int n = jalad_model_node_count(m);

	/* Profiles. */
	struct jalad_profile *p;
	struct jalad_profile_opts po = { .backend = "ref", .repeat = 2, .slowdown = 10, .model_file = path };
	CHECK(jalad_profile_measure(m, &po, &p) == JALAD_OK);
	if (p) {
		CHECK(p->n_nodes == n && p->slowdown == 10 && p->repeat == 2 && !strcmp(p->model_file, "fmnist-vgg.onnx"));
		int ok = 1;
		for (int i = 0; i < n; i++)
			ok &= p->nodes[i].ms >= 0 && fabs(p->nodes[i].ms - 10 * p->nodes[i].measured_ms) < 1e-9 &&
			      p->nodes[i].name && p->nodes[i].out_bytes > 0;
		CHECK(ok);
		CHECK(jalad_profile_check_model(p, m) == JALAD_OK);
		p->model_sha256[5] ^= 0x40;
		CHECK(jalad_profile_check_model(p, m) == JALAD_ERR_MISMATCH && contains(jalad_last_error(), "another model"));
		p->model_sha256[5] ^= 0x40;
		p->n_nodes--;
		CHECK(jalad_profile_check_model(p, m) == JALAD_ERR_MISMATCH);
		p->n_nodes++;
	}

	/* Cut capture equals a plain run. */
	struct jalad_cut_capture *cc;
	struct jalad_session *s;
	struct jalad_session_opts so = { .threads = 1, .backend = "ref" };
	float x[784];
	fill_input(x, 784, 7);
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, 1, 28, 28 }, x }, a, b;
	CHECK(jalad_cut_capture_create(m, "ref", &cc) == JALAD_OK);
	CHECK(jalad_session_create(m, &so, &s) == JALAD_OK);
	CHECK(jalad_cut_capture_run(cc, &in) == JALAD_OK);
	CHECK(jalad_session_run(s, &in, 1) == JALAD_OK);
	CHECK(jalad_cut_capture_output(cc, &a) == JALAD_OK && jalad_session_output(s, 0, &b) == JALAD_OK);
	CHECK(a.data && b.data && !memcmp(a.data, b.data, 10 * sizeof(float)));
	const int *ids;
	const struct jalad_tensor *vals;
	int cnt;
	CHECK(jalad_cut_capture_get(cc, 0, &ids, &vals, &cnt) == JALAD_OK && cnt == 1 &&
	      !memcmp(vals[0].data, x, sizeof x));
	CHECK(jalad_cut_capture_get(cc, n + 1, &ids, &vals, &cnt) == JALAD_ERR_INVALID_ARG);
	struct jalad_tensor wrong = in;
	wrong.dims[2] = 27;
	CHECK(jalad_cut_capture_run(cc, &wrong) == JALAD_ERR_SHAPE);
	jalad_session_free(s);
	jalad_cut_capture_free(cc);

	/* Calibration: the same table for one worker in order and two
	 * workers in reverse order (times aside). */
	struct jalad_calib *c1 = calibrate(m, 1, 0, 6, 0), *c2 = calibrate(m, 2, 1, 6, 0);
	struct jalad_calib *c3 = calibrate(m, 2, 0, 6, 4);
	CHECK(c1 && c2);
	if (c1 && c2) {
		int same = c1->float_correct == c2->float_correct && c1->n_bits == c2->n_bits;
		same &= c1->input_png.mean_bytes == c2->input_png.mean_bytes && c1->input_raw_bytes == 784;
		for (size_t i = 0; same && i < (size_t)n * (size_t)c1->n_bits; i++) {
			same &= c1->cells[i].correct == c2->cells[i].correct && c1->cells[i].agree == c2->cells[i].agree;
			same &= (c1->dicts[i] == NULL) == (c2->dicts[i] == NULL);
			if (c1->dicts[i] && c2->dicts[i])
				same &= jalad_codec_dict_id(c1->dicts[i]) == jalad_codec_dict_id(c2->dicts[i]);
			for (int j = 0; j < c1->n_coders; j++) {
				const struct jalad_calib_stats *s1 = &c1->stats[i * (size_t)c1->n_coders + (size_t)j];
				const struct jalad_calib_stats *s2 = &c2->stats[i * (size_t)c1->n_coders + (size_t)j];
				same &= s1->mean_bytes == s2->mean_bytes && s1->p95_bytes == s2->p95_bytes;
			}
		}
		CHECK_MSG(same, "calibration depends on the workers or the order");
		/* float32 pass-through agrees with the float model everywhere. */
		int f = jalad_calib_entry_index(c1, 0, 0), agree = 1, sizes = 1;
		for (int k = 0; k < n; k++) {
			agree &= c1->cells[jalad_calib_cell_index(c1, k, f)].agree == 6;
			for (int j = 0; j < c1->n_coders; j++) {
				double mb = c1->stats[jalad_calib_stats_index(c1, k, f, j)].mean_bytes;
				enum jalad_coder cd = c1->coders[j];
				/* float32: raw (4 bytes a value plus headers) and auto only. */
				if (cd == JALAD_CODER_RAW)
					sizes &= mb >= 4.0 * (double)c1->cuts[k].values;
				else if (cd == JALAD_CODER_AUTO)
					sizes &= mb > 0;
				else
					sizes &= mb < 0;
			}
		}
		CHECK(agree);
		CHECK(sizes);
		CHECK(c1->samples == 6 && c1->labelled == 6 && c1->timing_samples == 2);
		/* AUTO is never bigger than any coder it tries (but for the 4-byte
		 * dictionary id its container carries when given a dictionary). */
		int ja = jalad_calib_coder_index(c1, JALAD_CODER_AUTO), autok = 1;
		for (int k = 0; k < n; k++)
			for (int bb = 0; bb < c1->n_bits; bb++)
				for (int j = 0; j < c1->n_coders; j++) {
					double v = c1->stats[jalad_calib_stats_index(c1, k, bb, j)].mean_bytes;
					double va = c1->stats[jalad_calib_stats_index(c1, k, bb, ja)].mean_bytes;
					autok &= v < 0 || va <= v + 4;
				}
		CHECK(autok);
		/* huffman-2d: sized wherever c <= 4 (every entry here but float32),
		 * with the cell's dictionary carrying 2-d tables. */
		int jh2 = jalad_calib_coder_index(c1, JALAD_CODER_HUFFMAN_2D), ok2d = jh2 >= 0;
		for (int k = 0; ok2d && k < n; k++)
			for (int bb = 0; bb < c1->n_bits; bb++) {
				double v = c1->stats[jalad_calib_stats_index(c1, k, bb, jh2)].mean_bytes;
				const struct jalad_codec_dict *d = c1->dicts[jalad_calib_cell_index(c1, k, bb)];
				if (!c1->cuts[k].supported)
					continue;
				if (c1->bits[bb] == 0)
					ok2d &= v < 0 && !d;
				else
					ok2d &= v > 0 && d && jalad_codec_dict_has_2d(d);
			}
		CHECK(ok2d);
		CHECK(jalad_calib_check_model(c1, m) == JALAD_OK);
		/* A planner over the real files. */
		struct jalad_planner *pl;
		struct jalad_planner_opts plo = { .max_loss = 0.5 };
		struct jalad_plan_choice ch;
		CHECK(jalad_planner_create(p, p, c1, &plo, &pl) == JALAD_OK);
		CHECK(jalad_planner_choose(pl, 1e6, 10, &ch) == JALAD_OK && ch.total_ms > 0);
		jalad_planner_free(pl);
		/* The JSON form survives a round trip. */
		char *j1 = NULL, *j2 = NULL;
		struct jalad_calib *back;
		CHECK(jalad_calib_to_json(c1, &j1) == JALAD_OK);
		CHECK(jalad_calib_parse(j1, strlen(j1), &back) == JALAD_OK);
		CHECK(back && jalad_calib_to_json(back, &j2) == JALAD_OK && !strcmp(j1, j2));
		free(j1);
		free(j2);
		jalad_calib_free(back);
	}
	/* Sizes over the first 4 samples only: the same accuracies. */
	CHECK(c3 && c3->size_samples == 4 && c1 && c1->size_samples == 6);
	if (c1 && c3) {
		int same = c1->float_correct == c3->float_correct, differ = 0;
		for (size_t i = 0; i < (size_t)n * (size_t)c1->n_bits; i++) {
			same &= c1->cells[i].correct == c3->cells[i].correct;
			for (int j = 0; j < c1->n_coders; j++)
				differ |= c1->stats[i * (size_t)c1->n_coders + (size_t)j].mean_bytes !=
					  c3->stats[i * (size_t)c1->n_coders + (size_t)j].mean_bytes;
		}
		CHECK(same);
		CHECK(differ);
	}
	/* Without pp, cut_mask or files: nothing of version 4 is measured. */
	if (c1) {
		int sk = 0;
		for (int k = 0; k <= n; k++)
			sk |= c1->cuts[k].skipped;
		CHECK(!sk && c1->u8_measured == 0 && c1->jpeg_quality == 0 && c1->input_jpeg.mean_bytes < 0 &&
		      c1->input_file.mean_bytes < 0 && c1->input_png.mean_bytes > 0);
	}
	jalad_calib_free(c1);
	jalad_calib_free(c2);
	jalad_calib_free(c3);
	test_calib_v4(m, p);
	jalad_profile_free(p);
	jalad_model_free(m);
}

int main(void)
{
	test_units();
	test_optimizer_random();
	test_extremes();
	test_json();
	test_json_2d();
	test_json_v4();
	test_planner_payloads();
	test_wire_and_throughput();
	test_optimizer_payloads_random();
	test_model("models/fmnist-vgg.onnx");
	TEST_MAIN_END("test_plan");
}
