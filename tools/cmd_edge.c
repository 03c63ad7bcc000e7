/* jalad edge MODEL --cloud HOST:PORT --data SPEC [--plan auto|...]: the edge
 * device. For each sample it runs [0, k), encodes the cut, asks the cloud
 * for [k, n), and reports one line per request and a summary. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalad/net.h"
#include "jalad/plan.h"
#include "tools.h"

static const char *edge_help =
	"usage: jalad edge MODEL --cloud HOST:PORT --data fmnist[:DIR]|images:DIR [--limit N] [--offset N]\n"
	"                  [--plan auto|edge|cloud|k=K,c=C,coder=X|k=0,payload=P] [--edge-profile E --cloud-profile C\n"
	"                  --calib CAL] [--max-loss L] [--coders LIST] [--deadline DUR] [--slowdown F]\n"
	"                  [--shape RATE] [--link LABEL] [--init-bw RATE] [--hysteresis H]\n"
	"                  [--duration DUR] [--interval DUR] [--tls-ca F [--tls-name N]] [--tls-pin SHA256]\n"
	"                  [--tls-cert F --tls-key F] [--psk-file F] [--connect-timeout DUR]\n"
	"                  [--threads N] [--backend B] [--verify] [--pipeline N] [--json]\n"
	"Runs MODEL split between this machine and a `jalad serve` cloud, one sample at a time,\n"
	"or up to N at a time with --pipeline.\n"
	"  --plan auto      choose (cut, bits, coder or cut-0 payload) from the planner's switching\n"
	"                   table for the measured uplink bandwidth and RTT (needs the profiles and\n"
	"                   calibration); re-plans after every request with hysteresis (--hysteresis,\n"
	"                   default 0.1). The cut-0 payloads u8, png and jpeg are candidates, and file\n"
	"                   with a folder dataset (--coders narrows the list).\n"
	"  --plan k=K,c=C,coder=X[,q=channel]  a fixed plan (c=0 sends float32; q=channel: ranges per\n"
	"                   channel); edge = k=n; cloud = k=0,c=8,coder=raw.\n"
	"  --plan k=0,payload=u8|png|jpeg|file[,quality=Q]  send the input as an image: the model-sized\n"
	"                   8-bit pixels as they are, as a PNG, as a JPEG (quality Q, default the\n"
	"                   calibration's or 90), or the sample's own file (folder datasets).\n"
	"                   With the profiles and calibration a fixed plan also gets a prediction.\n"
	"  --deadline DUR   if the cloud has not answered DUR after the request started, compute\n"
	"                   the rest here (also done at once when the cloud is unreachable or errs).\n"
	"  --slowdown F     emulate an edge F times slower than this machine: sleep (F-1) x every\n"
	"                   measured edge computation (profile the edge with the same F).\n"
	"  --shape RATE     pace the uplink with a token bucket in the sender (e.g. 10mbit): stands in\n"
	"                   for a shaped link when not root. --link LABEL names a shaped link otherwise.\n"
	"  --duration DUR   cycle over the samples until DUR has passed (instead of once).\n"
	"  --verify         also compute [k, n) locally and report the largest difference.\n"
	"  TLS 1.3, one mode: --tls-ca F (the server's certificate must chain to F and carry the\n"
	"                   --cloud host or --tls-name), --tls-pin SHA256[,SHA256] (the SHA-256 of the\n"
	"                   server's public key or certificate; with --tls-ca both must hold), plus\n"
	"                   --tls-cert/--tls-key for a server that requires client certificates; or\n"
	"                   --psk-file F (a server answering with a certificate is refused).\n"
	"  --oracle-trace F an oracle: before each request tell the edge the uplink's bandwidth in\n"
	"                   the current window of the mahimahi trace F (--oracle-window DUR, default\n"
	"                   1s; as scripts/netlink.sh replay shapes it) instead of measuring it.\n"
	"  --pipeline N     keep up to N frames in flight (2..64): frame i+1's head runs here while\n"
	"                   frame i is on the wire and in the cloud; answers in order, none lost.\n"
	"                   With --interval, frames arrive at that period, as from a camera.\n"
	"Output: one line per request and a summary; --json makes them JSON objects with keys id,\n"
	"cut, bits, coder, payload, bytes, edge_ms, encode_ms, net_ms, cloud_ms, total_ms, predicted_ms,\n"
	"fallback, correct, ... and {\"summary\": true, accuracy, mean_ms, p50_ms, p95_ms, switches,\n"
	"payloads}.\n";

struct edge_args {
	const char *model, *cloud, *data, *plan, *edge_prof, *cloud_prof, *calib, *coders, *link;
	const char *backend, *shape, *oracle;
	long limit, offset, threads, pipeline;
	double max_loss, slowdown, hysteresis, init_bw;
	double deadline_ms, duration_ms, interval_ms, connect_ms, oracle_window_ms;
	int json, verify;
	struct jalad_tls_opts tls;
	int use_tls;
};

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* "k=K,c=C,coder=X[,q=channel]" (any order; c and coder optional: float32
 * raw; q=channel: a quantizer range per channel), or
 * "k=0,payload=u8|png|jpeg|file[,quality=Q]" (k optional: 0). */
static int parse_fixed(const char *s, int n, struct jalad_edge_plan *p)
{
	char buf[128];
	long k = -1, c = 0, q = 0;
	int codec = 0;
	p->coder = JALAD_CODER_RAW;
	p->payload = JALAD_NET_PAYLOAD_NONE;
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "k=", 2)) {
			if (tool_parse_int(tok + 2, 0, n, &k))
				return -1;
		} else if (!strncmp(tok, "c=", 2)) {
			if (tool_parse_int(tok + 2, 0, 16, &c) || (c > 8 && c != 16))
				return -1;
			codec = 1;
		} else if (!strncmp(tok, "coder=", 6)) {
			if (jalad_coder_parse(tok + 6, &p->coder) != JALAD_OK)
				return -1;
			codec = 1;
		} else if (!strcmp(tok, "q=channel") || !strcmp(tok, "q=tensor")) {
			p->per_channel = tok[2] == 'c';
			codec = 1;
		} else if (!strncmp(tok, "payload=", 8)) {
			if (jalad_net_payload_parse(tok + 8, &p->payload) != JALAD_OK || p->payload == JALAD_NET_PAYLOAD_NONE)
				return -1;
		} else if (!strncmp(tok, "quality=", 8)) {
			if (tool_parse_int(tok + 8, 1, 100, &q))
				return -1;
		} else {
			return -1;
		}
	}
	if (p->payload != JALAD_NET_PAYLOAD_NONE && p->payload != JALAD_NET_PAYLOAD_CONTAINER) {
		/* an image carries the input: cut 0, no codec settings */
		if (k < 0)
			k = 0;
		if (k != 0 || codec || (q && p->payload != JALAD_NET_PAYLOAD_JPEG))
			return -1;
		c = 8;
	} else if (q) {
		return -1;
	}
	if (k < 0)
		return -1;
	p->k = (int)k;
	p->bits = (int)c;
	p->jpeg_quality = (int)q;
	return 0;
}

static int is_image_payload(enum jalad_net_payload p)
{
	return p == JALAD_NET_PAYLOAD_U8 || p == JALAD_NET_PAYLOAD_PNG || p == JALAD_NET_PAYLOAD_JPEG ||
	       p == JALAD_NET_PAYLOAD_FILE;
}

/* The JSON/table name of what a request sent: the coder of a container,
 * else the payload ("none" for edge-only), as `jalad plan` names them. */
static const char *sent_name(enum jalad_net_payload p, enum jalad_coder coder)
{
	return p == JALAD_NET_PAYLOAD_CONTAINER ? jalad_coder_name(coder) : jalad_net_payload_name(p);
}

static double sum_nodes(const struct jalad_profile *pr, int a, int b)
{
	double t = 0;
	for (int i = a; i < b && i < pr->n_nodes; i++)
		t += pr->nodes[i].ms;
	return t;
}

/* A fixed image plan's costs, as the planner has them: the calibration's
 * sizes, encode (edge) and decode (cloud) times of that payload. */
static void predict_image(const struct jalad_profile *ep, const struct jalad_profile *cp,
			  const struct jalad_calib *cal, int n, struct jalad_edge_plan *p)
{
	const struct jalad_calib_stats *s = NULL;
	double bytes = -1, acc = cal->float_accuracy;
	if (p->payload == JALAD_NET_PAYLOAD_U8) {
		bytes = cal->input_raw_bytes >= 0 ? (double)cal->input_raw_bytes + JALAD_NET_U8_HEADER : -1;
	} else if (p->payload == JALAD_NET_PAYLOAD_PNG) {
		s = &cal->input_png;
	} else if (p->payload == JALAD_NET_PAYLOAD_JPEG) {
		if (cal->jpeg_quality <= 0)
			return;
		s = &cal->input_jpeg;
		acc = cal->input_jpeg_acc.accuracy;
	} else {
		s = &cal->input_file;
	}
	if (p->payload == JALAD_NET_PAYLOAD_U8 || p->payload == JALAD_NET_PAYLOAD_PNG)
		acc = cal->u8_measured ? cal->input_u8.accuracy : cal->float_accuracy;
	if (s)
		bytes = s->mean_bytes;
	if (bytes < 0)
		return;
	p->edge_ms = (s && s->enc_ms > 0 ? s->enc_ms : 0) * ep->slowdown;
	p->cloud_ms = (s && s->dec_ms > 0 ? s->dec_ms : 0) * cp->slowdown + sum_nodes(cp, 0, n);
	p->bytes = bytes + JALAD_NET_REQUEST_OVERHEAD;
	p->accuracy = acc;
}

/* Fill a fixed plan's predicted costs from the profiles and calibration. */
static void predict_fixed(const struct jalad_profile *ep, const struct jalad_profile *cp,
			  const struct jalad_calib *cal, int n, struct jalad_edge_plan *p)
{
	p->edge_ms = p->cloud_ms = p->bytes = p->accuracy = -1;
	if (is_image_payload(p->payload)) {
		if (!p->jpeg_quality && cal && cal->jpeg_quality > 0)
			p->jpeg_quality = cal->jpeg_quality;
		if (ep && cp && cal)
			predict_image(ep, cp, cal, n, p);
		return;
	}
	if (cal && p->k < n && (jalad_coder_uses_dict(p->coder) || p->coder == JALAD_CODER_AUTO)) {
		int e = jalad_calib_entry_index(cal, p->bits, p->per_channel);
		if (e >= 0)
			p->dict = cal->dicts[jalad_calib_cell_index(cal, p->k, e)];
	}
	if (!ep || !cp || !cal)
		return;
	if (p->k == n) {
		p->edge_ms = sum_nodes(ep, 0, n);
		p->cloud_ms = 0;
		p->bytes = 0;
		p->accuracy = cal->float_accuracy;
		return;
	}
	int b = jalad_calib_entry_index(cal, p->bits, p->per_channel), ci = jalad_calib_coder_index(cal, p->coder);
	if (b < 0 || ci < 0)
		return;
	const struct jalad_calib_stats *s = &cal->stats[jalad_calib_stats_index(cal, p->k, b, ci)];
	if (s->mean_bytes < 0 || s->enc_ms < 0 || s->dec_ms < 0)
		return;
	p->edge_ms = sum_nodes(ep, 0, p->k) + s->enc_ms * ep->slowdown;
	p->cloud_ms = s->dec_ms * cp->slowdown + sum_nodes(cp, p->k, n);
	p->bytes = s->mean_bytes + JALAD_NET_REQUEST_OVERHEAD;
	p->accuracy = cal->cells[jalad_calib_cell_index(cal, p->k, b)].accuracy;
}

/* A planner's choice as an edge plan: the payload kinds have the same
 * numbers (net.h, plan.h). */
_Static_assert((int)JALAD_NET_PAYLOAD_NONE == (int)JALAD_PAYLOAD_NONE &&
		       (int)JALAD_NET_PAYLOAD_CONTAINER == (int)JALAD_PAYLOAD_CONTAINER &&
		       (int)JALAD_NET_PAYLOAD_U8 == (int)JALAD_PAYLOAD_INPUT_U8 &&
		       (int)JALAD_NET_PAYLOAD_PNG == (int)JALAD_PAYLOAD_INPUT_PNG &&
		       (int)JALAD_NET_PAYLOAD_JPEG == (int)JALAD_PAYLOAD_INPUT_JPEG &&
		       (int)JALAD_NET_PAYLOAD_FILE == (int)JALAD_PAYLOAD_INPUT_FILE,
	       "net.h and plan.h number the payloads alike");
static void from_choice(const struct jalad_plan_choice *ch, int jpeg_quality, struct jalad_edge_plan *p)
{
	memset(p, 0, sizeof *p);
	p->k = ch->cut;
	p->bits = ch->bits;
	p->per_channel = ch->per_channel;
	p->coder = ch->coder;
	p->dict = ch->dict;
	p->payload = (enum jalad_net_payload)ch->payload;
	p->jpeg_quality = jpeg_quality > 0 ? jpeg_quality : 0;
	p->edge_ms = ch->edge_ms + ch->encode_ms;
	p->cloud_ms = ch->decode_ms + ch->cloud_ms;
	p->bytes = ch->payload == JALAD_PAYLOAD_NONE ? 0 : ch->bytes + JALAD_NET_REQUEST_OVERHEAD;
	if (ch->payload == JALAD_PAYLOAD_INPUT_U8)
		p->bytes += JALAD_NET_U8_HEADER;
	p->accuracy = -1;
}

/* The candidates of --plan auto: the switching table at RTT 0 (every plan
 * that is best for some bandwidth; a larger RTT only favours edge-only) and
 * edge-only. The edge picks among them for the measured bandwidth and RTT. */
static int auto_plans(const struct jalad_planner *pl, int n, int jpeg_quality, struct jalad_edge_plan **out,
		      int *n_out)
{
	int rows = 0;
	enum jalad_status st = jalad_planner_table(pl, JALAD_STRATEGY_BEST, 0, 0, INFINITY, NULL, 0, &rows);
	if (st != JALAD_OK)
		return tool_error("edge", st);
	struct jalad_plan_interval *tab = calloc((size_t)rows + 1, sizeof *tab);
	struct jalad_edge_plan *plans = calloc((size_t)rows + 1, sizeof *plans);
	if (!tab || !plans) {
		free(tab);
		free(plans);
		return tool_error("edge", JALAD_ERR_NOMEM);
	}
	if ((st = jalad_planner_table(pl, JALAD_STRATEGY_BEST, 0, 0, INFINITY, tab, rows, &rows)) != JALAD_OK) {
		free(tab);
		free(plans);
		return tool_error("edge", st);
	}
	int m = 0, have_edge = 0;
	for (int i = 0; i < rows; i++) {
		from_choice(&tab[i].choice, jpeg_quality, &plans[m]);
		have_edge |= plans[m].k == n;
		m++;
	}
	free(tab);
	if (!have_edge) {
		struct jalad_plan_choice ch;
		if (jalad_planner_choose_strategy(pl, JALAD_STRATEGY_EDGE_ONLY, 1e6, 0, &ch) == JALAD_OK)
			from_choice(&ch, jpeg_quality, &plans[m++]);
	}
	*out = plans;
	*n_out = m;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double percentile(const double *sorted, int n, double q)
{
	if (n <= 0)
		return 0;
	int i = (int)ceil(q * n) - 1;
	return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static void sleep_ms(double ms)
{
	if (ms <= 0)
		return;
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };
	nanosleep(&ts, NULL);
}

static void json_num(FILE *f, const char *key, double v, int prec)
{
	if (v < 0 || !isfinite(v))
		fprintf(f, ", \"%s\": null", key);
	else
		fprintf(f, ", \"%s\": %.*f", key, prec, v);
}

/* Match argv[*i] against the string and duration options. 1 matched, 0
 * not one of them, < 0 a usage error (returned as is). */
static int table_opt(int argc, char **argv, int *i, struct edge_args *a)
{
	const struct tool_sopt sopts[] = {
		{ "--cloud", &a->cloud, "a value" }, { "--data", &a->data, "a value" },
		{ "--plan", &a->plan, "a value" }, { "--edge-profile", &a->edge_prof, "a value" },
		{ "--cloud-profile", &a->cloud_prof, "a value" }, { "--calib", &a->calib, "a value" },
		{ "--coders", &a->coders, "a value" }, { "--link", &a->link, "a value" },
		{ "--backend", &a->backend, "a value" }, { "--shape", &a->shape, "a value" },
		{ "--tls-ca", &a->tls.ca_file, "a value" }, { "--tls-name", &a->tls.server_name, "a value" },
		{ "--tls-cert", &a->tls.cert_file, "a value" }, { "--tls-key", &a->tls.key_file, "a value" },
		{ "--psk-file", &a->tls.psk_file, "a value" }, { "--tls-pin", &a->tls.pin_sha256, "a value" },
	};
	const struct { const char *name; double *dst; } dopts[] = {
		{ "--deadline", &a->deadline_ms }, { "--duration", &a->duration_ms },
		{ "--interval", &a->interval_ms }, { "--connect-timeout", &a->connect_ms },
	};
	const char *v;
	int r = tool_opts("edge", argc, argv, i, sopts, TOOL_NELEM(sopts), NULL, 0);
	if (r)
		return r < 0 ? -EXIT_USAGE : 1;
	for (size_t k = 0; k < sizeof dopts / sizeof dopts[0]; k++)
		if ((r = tool_opt(argc, argv, i, dopts[k].name, &v))) {
			if (r < 0 || jalad_parse_duration(v, dopts[k].dst) != JALAD_OK)
				return -tool_usage("edge", "%s needs a duration (e.g. 200ms)", dopts[k].name);
			return 1;
		}
	return 0;
}

static int parse_args(int argc, char **argv, struct edge_args *a)
{
	memset(a, 0, sizeof *a);
	a->plan = "auto";
	a->max_loss = 0.01;
	a->slowdown = 1;
	a->threads = 1;
	a->hysteresis = 0.1;
	a->connect_ms = 1000;
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(edge_help, stdout);
			return -2;
		} else if (!strcmp(argv[i], "--json")) {
			a->json = 1;
		} else if (!strcmp(argv[i], "--verify")) {
			a->verify = 1;
		} else if ((r = table_opt(argc, argv, &i, a))) {
			if (r < 0)
				return -r;
		} else if ((r = tool_opt(argc, argv, &i, "--limit", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 100000000, &a->limit))
				return tool_usage("edge", "--limit needs a number >= 1");
		} else if ((r = tool_opt(argc, argv, &i, "--oracle-trace", &v))) {
			if (r < 0)
				return tool_usage("edge", "--oracle-trace needs a mahimahi trace file");
			a->oracle = v;
		} else if ((r = tool_opt(argc, argv, &i, "--oracle-window", &v))) {
			if (r < 0 || jalad_parse_duration(v, &a->oracle_window_ms) != JALAD_OK || !(a->oracle_window_ms >= 1))
				return tool_usage("edge", "--oracle-window needs a duration of 1ms or more");
		} else if ((r = tool_opt(argc, argv, &i, "--pipeline", &v))) {
			if (r < 0 || tool_parse_int(v, 1, JALAD_CLIENT_MAX_PENDING, &a->pipeline))
				return tool_usage("edge", "--pipeline needs a number 1..%d", JALAD_CLIENT_MAX_PENDING);
		} else if ((r = tool_opt(argc, argv, &i, "--offset", &v))) {
			if (r < 0 || tool_parse_int(v, 0, 100000000, &a->offset))
				return tool_usage("edge", "--offset needs a number >= 0");
		} else if ((r = tool_opt(argc, argv, &i, "--threads", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 256, &a->threads))
				return tool_usage("edge", "--threads needs a number 1..256");
		} else if ((r = tool_opt(argc, argv, &i, "--max-loss", &v))) {
			if (r < 0 || tool_parse_float(v, &a->max_loss))
				return tool_usage("edge", "--max-loss needs a fraction (0.01 = 1 point)");
		} else if ((r = tool_opt(argc, argv, &i, "--slowdown", &v))) {
			if (r < 0 || tool_parse_float(v, &a->slowdown) || !(a->slowdown >= 1) || a->slowdown > 1e4)
				return tool_usage("edge", "--slowdown needs a number >= 1");
		} else if ((r = tool_opt(argc, argv, &i, "--hysteresis", &v))) {
			if (r < 0 || tool_parse_float(v, &a->hysteresis) || !(a->hysteresis >= 0) || a->hysteresis >= 1)
				return tool_usage("edge", "--hysteresis needs a fraction in [0, 1)");
		} else if ((r = tool_opt(argc, argv, &i, "--init-bw", &v))) {
			if (r < 0 || jalad_parse_bandwidth(v, &a->init_bw) != JALAD_OK)
				return tool_usage("edge", "--init-bw needs a rate such as 10mbit");
		} else if (argv[i][0] == '-') {
			return tool_usage("edge", "unknown option '%s'", argv[i]);
		} else if (!a->model) {
			a->model = argv[i];
		} else {
			return tool_usage("edge", "more than one model given");
		}
	}
	if (!a->model)
		return tool_usage("edge", "no model given");
	if (!a->data)
		return tool_usage("edge", "--data is required");
	/* auto and cloud always may send to the cloud; a fixed k=K plan is
	 * checked against the model's node count below */
	if (!a->cloud && (!strcmp(a->plan, "auto") || !strcmp(a->plan, "cloud")))
		return tool_usage("edge", "--cloud HOST:PORT is required with --plan %s (only --plan edge runs without a "
				  "cloud)", a->plan);
	if (a->pipeline > 1 && a->verify)
		return tool_usage("edge", "--verify works one request at a time: not with --pipeline");
	if (a->pipeline > 1 && a->oracle)
		return tool_usage("edge", "--oracle-trace works one request at a time: not with --pipeline");
	if (a->oracle_window_ms > 0 && !a->oracle)
		return tool_usage("edge", "--oracle-window applies only with --oracle-trace");
	a->use_tls = a->tls.ca_file || a->tls.psk_file || a->tls.cert_file || a->tls.key_file || a->tls.pin_sha256 ||
		     a->tls.server_name;
	if (a->tls.psk_file && (a->tls.ca_file || a->tls.cert_file || a->tls.key_file || a->tls.pin_sha256))
		return tool_usage("edge", "give either --psk-file or certificates (--tls-ca/--tls-pin/--tls-cert/"
				  "--tls-key), not both");
	if (a->use_tls && !a->tls.psk_file && !a->tls.ca_file && !a->tls.pin_sha256)
		return tool_usage("edge", "TLS with certificates needs --tls-ca or --tls-pin to verify the server");
	if (a->tls.server_name && !a->tls.ca_file)
		return tool_usage("edge", "--tls-name needs --tls-ca (a pin alone checks no name)");
	return 0;
}

/* A mahimahi trace (one line per 1500-byte delivery opportunity, ms
 * timestamps) as bits/s per window, floored at 8 kbit/s as
 * scripts/netlink.sh replay shapes it. @return 0, or 1 after a message. */
static int read_trace(const char *path, double window_ms, double **out, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "jalad edge: --oracle-trace '%s': %s\n", path, strerror(errno));
		return 1;
	}
	size_t cap = 0, nw = 0;
	double *c = NULL;
	char line[64];
	long lineno = 0;
	while (fgets(line, sizeof line, f)) {
		char *end;
		lineno++;
		errno = 0;
		double t = strtod(line, &end);
		while (*end == ' ' || *end == '\r' || *end == '\n')
			end++;
		if (end == line || *end || errno || !(t >= 0) || t > 1e9) {
			fprintf(stderr, "jalad edge: --oracle-trace '%s': line %ld is not a time in ms\n", path, lineno);
			fclose(f);
			free(c);
			return 1;
		}
		size_t w = (size_t)(t / window_ms);
		if (w >= cap) {
			size_t ncap = cap ? cap : 64;
			while (ncap <= w)
				ncap *= 2;
			double *nb = realloc(c, ncap * sizeof *nb);
			if (!nb) {
				fclose(f);
				free(c);
				return 1;
			}
			memset(nb + cap, 0, (ncap - cap) * sizeof *nb);
			c = nb;
			cap = ncap;
		}
		c[w] += 1;
		if (w + 1 > nw)
			nw = w + 1;
	}
	fclose(f);
	if (!nw) {
		fprintf(stderr, "jalad edge: --oracle-trace '%s' is empty\n", path);
		free(c);
		return 1;
	}
	for (size_t i = 0; i < nw; i++) {
		c[i] = c[i] * 1500 * 8 * 1000 / window_ms;
		if (c[i] < 8000)
			c[i] = 8000;
	}
	*out = c;
	*n = nw;
	return 0;
}

/* One run of the edge over a dataset: what the source and the sink share. */
struct run {
	const struct edge_args *a;
	struct jalad_dataset *ds;
	const struct jalad_preprocess *pp;
	struct jalad_edge *e;
	const struct jalad_edge_plan *plans;
	int n;                     /* model nodes */
	size_t count, first, total;
	float *x;
	size_t len;
	struct jalad_tensor in;
	struct jalad_edge_image src;
	struct jalad_image *img;
	uint8_t *file;
	char path[4096];
	int streaming, any_file, any_image;
	int failed;                /* the source hit an error (reported) */
	double *oracle_bps;        /* --oracle-trace: bits/s per window */
	size_t n_oracle;
	uint64_t t_start;
	/* the sink's */
	double *lat;
	size_t lat_cap;
	size_t done_n, labelled, correct, fallbacks, switches, dict_up, dict_ref, bad_answers;
	size_t sent[JALAD_NET_PAYLOAD_COUNT];
};

/* Frame seq: sample (first + seq) of the dataset (wrapping with
 * --duration), its input, and what the payload is made of: the photo for
 * u8/png/jpeg, its file for file (the float input is then made from that
 * file as the cloud will make it). */
static int run_source(void *ctx, uint64_t seq, struct jalad_edge_frame *f)
{
	struct run *R = ctx;
	const struct edge_args *a = R->a;
	enum jalad_status st;
	if (g_stop)
		return 0;
	double t = (double)(jalad_now_ns_tool() - R->t_start) / 1e6;
	if (R->streaming && a->interval_ms > 0) {
		/* frames come at a fixed rate, as from a camera */
		sleep_ms((double)seq * a->interval_ms - t);
		t = (double)(jalad_now_ns_tool() - R->t_start) / 1e6;
	}
	if (a->duration_ms ? t >= a->duration_ms : seq >= R->total)
		return 0;
	if (a->duration_ms && a->limit && seq >= (uint64_t)a->limit)
		return 0;
	size_t i = R->first + (a->duration_ms ? (size_t)seq % (a->limit ? (size_t)a->limit : R->count - R->first)
					      : (size_t)seq);
	if (i >= R->count)
		i %= R->count;
	jalad_image_free(R->img);
	R->img = NULL;
	free(R->file);
	R->file = NULL;
	R->src = (struct jalad_edge_image){ .pp = R->pp };
	enum jalad_net_payload want = R->streaming ? JALAD_NET_PAYLOAD_NONE
						   : R->plans[jalad_edge_current_plan(R->e)].payload;
	if (want == JALAD_NET_PAYLOAD_FILE || (R->streaming && R->any_file)) {
		if (!jalad_dataset_sample_path(R->ds, i, R->path, sizeof R->path)) {
			fprintf(stderr, "jalad edge: sample %zu has no file (or its path is too long)\n", i);
			R->failed = 1;
			return -1;
		} else if ((st = jalad_file_read(R->path, JALAD_NET_DEFAULT_MAX_FRAME, &R->file, &R->src.file_bytes)) ==
				   JALAD_OK &&
			   (st = jalad_image_decode(R->file, R->src.file_bytes, R->path, &R->img)) == JALAD_OK) {
			R->src.file = R->file;
			R->src.image = R->img;
			st = jalad_image_to_tensor(R->img, R->pp, R->x, R->len);
		}
	} else if (is_image_payload(want) || (R->streaming && R->any_image)) {
		if ((st = jalad_dataset_load_image(R->ds, i, &R->img)) == JALAD_OK) {
			R->src.image = R->img;
			st = jalad_image_to_tensor(R->img, R->pp, R->x, R->len);
		}
	} else {
		st = jalad_dataset_get(R->ds, i, R->pp, R->x, R->len);
	}
	if (st != JALAD_OK) {
		tool_error("edge", st);
		R->failed = 1;
		return -1;
	}
	if (R->n_oracle) {
		double now = (double)(jalad_now_ns_tool() - R->t_start) / 1e6;
		size_t w = (size_t)(now / (a->oracle_window_ms > 0 ? a->oracle_window_ms : 1000)) % R->n_oracle;
		jalad_edge_set_link(R->e, R->oracle_bps[w], -1);
	}
	f->input = &R->in;
	f->src = &R->src;
	f->tag = i;
	return 1;
}

/* One result: the counters, and a JSON line or a table row. */
static int run_sink(void *ctx, uint64_t tag, const struct jalad_edge_result *r)
{
	struct run *R = ctx;
	const struct edge_args *a = R->a;
	const struct jalad_edge_result res = *r;
	size_t i = (size_t)tag;
	int n = R->n;
	double t_req = (double)(jalad_now_ns_tool() - R->t_start) / 1e6 - res.total_ms;
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	int label = jalad_dataset_label(R->ds, i);
	int pred = res.n_outputs > 0 ? tool_argmax(res.outputs[0].data, jalad_tensor_numel(&res.outputs[0])) : -1;
	int ok = label >= 0 && pred == label;
	R->labelled += label >= 0;
	R->correct += ok;
	R->fallbacks += res.fallback;
	R->switches += res.switched;
	R->dict_up += res.dict_uploaded;
	R->dict_ref += res.dict_refused;
	R->bad_answers += res.bad_answer;
	if (R->done_n == R->lat_cap) {
		double *nl = realloc(R->lat, 2 * R->lat_cap * sizeof *nl);
		if (!nl)
			return 1;
		R->lat = nl;
		R->lat_cap *= 2;
	}
	R->lat[R->done_n++] = res.total_ms;
	const char *coder = sent_name(res.payload, res.coder);
	const char *payload = jalad_net_payload_name(res.payload);
	R->sent[res.payload < JALAD_NET_PAYLOAD_COUNT ? res.payload : 0]++;
	if (a->json) {
		printf("{\"id\": %llu, \"sample\": %zu, \"t_ms\": %.1f, \"unix_ms\": %.1f, \"cut\": %d, \"bits\": %d, "
		       "\"coder\": \"%s\", \"payload\": \"%s\", \"per_channel\": %s, \"bytes\": %zu",
		       (unsigned long long)res.id, i, t_req, (double)wall.tv_sec * 1e3 + (double)wall.tv_nsec / 1e6,
		       res.k, res.k == n ? 0 : res.bits, coder, payload, res.per_channel ? "true" : "false",
		       res.bytes);
		json_num(stdout, "edge_ms", res.edge_ms, 3);
		json_num(stdout, "encode_ms", res.encode_ms, 3);
		json_num(stdout, "net_ms", res.net_ms, 3);
		json_num(stdout, "cloud_ms", res.cloud_ms, 3);
		json_num(stdout, "fallback_ms", res.fallback_ms, 3);
		json_num(stdout, "total_ms", res.total_ms, 3);
		json_num(stdout, "predicted_ms", res.predicted_ms, 3);
		if (res.dict_uploaded)
			printf(", \"dict_upload\": %s", res.dict_refused ? "\"refused\"" : "\"taken\"");
		printf(", \"fallback\": %s", res.fallback ? "true" : "false");
		if (res.fallback) {
			printf(", \"reason\": ");
			tool_json_str(stdout, res.reason);
		}
		if (label >= 0)
			printf(", \"label\": %d, \"pred\": %d, \"correct\": %s", label, pred, ok ? "true" : "false");
		else
			printf(", \"pred\": %d, \"correct\": null", pred);
		printf(", \"switched\": %s, \"explored\": %s", res.switched ? "true" : "false",
		       res.explored ? "true" : "false");
		json_num(stdout, "bw_mbps", res.bw_bps / 1e6, 3);
		json_num(stdout, "rtt_ms", res.rtt_ms, 3);
		json_num(stdout, "edge_scale", res.edge_scale, 3);
		json_num(stdout, "cloud_scale", res.cloud_scale, 3);
		if (a->verify)
			json_num(stdout, "verify_max_abs", res.verify_max_abs, 9);
		printf("}\n");
	} else {
		printf("%6llu %4d %4d %-14s %-9s %7zu %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %3s %s%s%s\n",
		       (unsigned long long)res.id, res.k, res.k == n ? 0 : res.bits, coder, payload, res.bytes, res.edge_ms,
		       res.encode_ms, res.net_ms, res.cloud_ms, res.total_ms,
		       res.predicted_ms >= 0 ? res.predicted_ms : NAN, res.fallback ? "yes" : "no",
		       label < 0 ? "-" : ok ? "yes" : "no", res.fallback ? "  " : "", res.fallback ? res.reason : "");
	}
	fflush(stdout);
	return 0;
}

int cmd_edge(int argc, char **argv)
{
	struct edge_args a;
	int rc = parse_args(argc, argv, &a);
	if (rc == -2)
		return EXIT_OK;
	if (rc)
		return rc;
	rc = EXIT_FAIL;

	struct jalad_model *m = NULL;
	struct jalad_dataset *ds = NULL;
	struct jalad_profile *ep = NULL, *cp = NULL;
	struct jalad_calib *cal = NULL;
	struct jalad_planner *pl = NULL;
	struct jalad_edge *e = NULL;
	struct jalad_edge_plan *plans = NULL;
	double *lat = NULL;
	float *x = NULL;
	struct run R;
	memset(&R, 0, sizeof R);
	int n_plans = 0;
	enum jalad_status st = jalad_model_load(a.model, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("edge", st);
	int n = jalad_model_node_count(m);
	struct jalad_preprocess pp;
	if ((rc = tool_preprocess("edge", m, NULL, NULL, NULL, &pp)) != 0)
		goto done;
	rc = EXIT_FAIL;
	/* labels follow the model (imagenet:DIR: background class at 0) */
	if ((rc = tool_open_dataset("edge", a.data, m, -1, &ds)) != 0)
		goto done;
	rc = EXIT_FAIL;
	char path[4096];
	int have_files = jalad_dataset_sample_path(ds, 0, path, sizeof path) != NULL;
	if (!a.edge_prof != !a.cloud_prof) {
		rc = tool_usage("edge", "give both --edge-profile and --cloud-profile");
		goto done;
	}
	if (a.calib && ((st = jalad_calib_load(a.calib, &cal)) != JALAD_OK ||
			(st = jalad_calib_check_model(cal, m)) != JALAD_OK)) {
		tool_error("edge", st);
		goto done;
	}
	if (a.edge_prof) {
		if ((st = jalad_profile_load(a.edge_prof, &ep)) != JALAD_OK ||
		    (st = jalad_profile_load(a.cloud_prof, &cp)) != JALAD_OK ||
		    (st = jalad_profile_check_model(ep, m)) != JALAD_OK ||
		    (st = jalad_profile_check_model(cp, m)) != JALAD_OK) {
			tool_error("edge", st);
			goto done;
		}
		if (fabs(ep->slowdown - a.slowdown) > 1e-9)
			fprintf(stderr, "jalad edge: warning: the edge profile was made with slowdown %g, this run uses %g: "
					"predictions will be off\n", ep->slowdown, a.slowdown);
	}
	if (!strcmp(a.plan, "auto")) {
		if (!cal || !ep) {
			rc = tool_usage("edge", "--plan auto needs --edge-profile, --cloud-profile and --calib");
			goto done;
		}
		/* Every calibrated coder and the cut-0 payloads; the photo's
		 * own file only when the samples are files. */
		char coders[256] = "";
		for (int i = 0; i < cal->n_coders; i++)
			snprintf(coders + strlen(coders), sizeof coders - strlen(coders), "%s,",
				 jalad_coder_name(cal->coders[i]));
		snprintf(coders + strlen(coders), sizeof coders - strlen(coders), "u8,png,jpeg%s",
			 have_files ? ",file" : "");
		struct jalad_planner_opts po = { .max_loss = a.max_loss, .coders = a.coders ? a.coders : coders };
		if ((st = jalad_planner_create(ep, cp, cal, &po, &pl)) != JALAD_OK) {
			tool_error("edge", st);
			goto done;
		}
		if (auto_plans(pl, n, cal->jpeg_quality, &plans, &n_plans))
			goto done;
	} else {
		plans = calloc(1, sizeof *plans);
		if (!plans)
			goto done;
		n_plans = 1;
		if (!strcmp(a.plan, "edge")) {
			plans->k = n;
		} else if (!strcmp(a.plan, "cloud")) {
			plans->k = 0;
			plans->bits = 8;
			plans->coder = JALAD_CODER_RAW;
		} else if (parse_fixed(a.plan, n, plans)) {
			rc = tool_usage("edge", "--plan '%s': expected auto, edge, cloud, k=K,c=C,coder=X with 0 <= K <= %d, "
					"or k=0,payload=u8|png|jpeg|file[,quality=Q]", a.plan, n);
			goto done;
		}
		predict_fixed(ep, cp, cal, n, plans);
		if (!jalad_codec_dict_serves(plans->dict, plans->coder, plans->bits)) {
			if (plans->coder == JALAD_CODER_HUFFMAN_2D)
				rc = tool_usage("edge", "coder huffman-2d needs c=1..%d and --calib with a dictionary with "
						"2-d tables for that cut and width", JALAD_CODEC_2D_MAX_BITS);
			else
				rc = tool_usage("edge", "coder %s needs --calib with a dictionary for that cut and width",
						jalad_coder_name(plans->coder));
			goto done;
		}
	}
	for (int i = 0; i < n_plans; i++)
		if (plans[i].payload == JALAD_NET_PAYLOAD_FILE && !have_files) {
			rc = tool_usage("edge", "payload file sends each sample's own file: it needs a folder dataset "
					"(images:DIR or imagenet:DIR), not %s", a.data);
			goto done;
		}
	if (!a.cloud) {
		int need = 0;
		for (int i = 0; i < n_plans; i++)
			need |= plans[i].k < n;
		if (need) {
			rc = tool_usage("edge", "--cloud HOST:PORT is required unless --plan edge");
			goto done;
		}
	}

	char linkbuf[128];
	const char *link = a.link ? a.link : "unshaped";
	struct jalad_edge_opts eo = {
		.client = { .address = a.cloud, .tls = a.use_tls ? &a.tls : NULL,
			    .connect_timeout_ms = (uint32_t)a.connect_ms, .name = "jalad-edge" },
		.backend = a.backend,
		.threads = (int)a.threads,
		.slowdown = a.slowdown,
		.deadline_ms = (uint32_t)a.deadline_ms,
		.hysteresis = a.hysteresis > 0 ? a.hysteresis : -1,
		.init_bw_bps = a.init_bw,
		.verify = a.verify,
	};
	if (cal)
		eo.client.dict_digest = jalad_net_dict_digest((const struct jalad_codec_dict *const *)cal->dicts,
							      cal->n_nodes * cal->n_bits);
	if (a.shape) {
		double bps;
		if (jalad_parse_bandwidth(a.shape, &bps) != JALAD_OK) {
			rc = tool_usage("edge", "--shape needs a rate such as 10mbit");
			goto done;
		}
		eo.client.shape_bps = (uint64_t)bps;
		char b[32];
		snprintf(linkbuf, sizeof linkbuf, "sender token bucket %s", jalad_format_bandwidth(bps, b, sizeof b));
		link = linkbuf;
	}
	if ((st = jalad_edge_create(m, &eo, plans, n_plans, &e)) != JALAD_OK) {
		tool_error("edge", st);
		goto done;
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);

	size_t count = jalad_dataset_count(ds);
	size_t first = (size_t)a.offset < count ? (size_t)a.offset : 0;
	size_t total = a.limit ? (size_t)a.limit : count - first;
	if (!a.duration_ms && first + total > count)
		total = count - first;
	size_t len = jalad_preprocess_len(&pp);
	x = malloc(len * sizeof *x);
	R.lat_cap = 1024;
	R.lat = lat = malloc(R.lat_cap * sizeof *lat);
	if (!x || !lat)
		goto done;
	R.a = &a;
	R.ds = ds;
	R.pp = &pp;
	R.e = e;
	R.plans = plans;
	R.n = n;
	R.count = count;
	R.first = first;
	R.total = total;
	R.x = x;
	R.len = len;
	R.in = (struct jalad_tensor){ JALAD_DTYPE_FLOAT32, 4, { 1, pp.channels, pp.height, pp.width }, x };
	if (a.oracle && read_trace(a.oracle, a.oracle_window_ms > 0 ? a.oracle_window_ms : 1000, &R.oracle_bps,
				   &R.n_oracle))
		goto done;
	R.t_start = jalad_now_ns_tool();
	/* A stream loads what any plan may send (its plan is chosen later, on
	 * another thread); one request at a time loads what the next one sends. */
	for (int j = 0; j < n_plans; j++) {
		R.any_file |= plans[j].payload == JALAD_NET_PAYLOAD_FILE;
		R.any_image |= is_image_payload(plans[j].payload);
	}
	if (!a.json)
		printf("%6s %4s %4s %-14s %-9s %7s %8s %8s %8s %8s %8s %8s %3s %s\n", "id", "cut", "bits", "coder", "payload",
		       "bytes", "edge_ms", "enc_ms", "net_ms", "cloud_ms", "total", "pred", "fb", "ok");
	if (a.pipeline > 1) {
		R.streaming = 1;
		if ((st = jalad_edge_stream(e, (int)a.pipeline, run_source, run_sink, &R)) != JALAD_OK && !R.failed) {
			tool_error("edge", st);
			goto done;
		}
	} else {
		for (uint64_t r = 0;; r++) {
			struct jalad_edge_frame f;
			int got = run_source(&R, r, &f);
			if (got <= 0)
				break;
			struct jalad_edge_result res;
			if ((st = jalad_edge_infer_image(e, f.input, f.src, &res)) != JALAD_OK) {
				tool_error("edge", st);
				goto done;
			}
			run_sink(&R, f.tag, &res);
			if (a.interval_ms > 0)
				sleep_ms(a.interval_ms - res.total_ms);
		}
	}
	if (R.failed)
		goto done;
	lat = R.lat;
	size_t done_n = R.done_n, labelled = R.labelled, correct = R.correct, fallbacks = R.fallbacks,
	       switches = R.switches, dict_up = R.dict_up, dict_ref = R.dict_ref;
	size_t *sent = R.sent;
	double wall_s = (double)(jalad_now_ns_tool() - R.t_start) / 1e9;
	double sum = 0;
	for (size_t j = 0; j < done_n; j++)
		sum += lat[j];
	qsort(lat, done_n, sizeof *lat, cmp_double);
	double acc = labelled ? (double)correct / (double)labelled : -1;
	double mean = done_n ? sum / (double)done_n : 0;
	double p50 = percentile(lat, (int)done_n, 0.5), p95 = percentile(lat, (int)done_n, 0.95);
	if (a.json) {
		printf("{\"summary\": true, \"requests\": %zu, \"labelled\": %zu, \"correct\": %zu", done_n, labelled,
		       correct);
		json_num(stdout, "accuracy", acc, 6);
		printf(", \"mean_ms\": %.3f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"switches\": %zu, \"fallbacks\": %zu, "
		       "\"bad_answers\": %zu, \"dict_uploads\": %zu, \"dict_refused\": %zu, \"plan\": ",
		       mean, p50, p95, switches, fallbacks, R.bad_answers, dict_up, dict_ref);
		tool_json_str(stdout, a.plan);
		printf(", \"candidates\": %d, \"slowdown\": %g, \"pipeline\": %ld, \"fps\": %.3f, \"link\": ", n_plans,
		       a.slowdown, a.pipeline > 1 ? a.pipeline : 1, wall_s > 0 ? (double)done_n / wall_s : 0);
		tool_json_str(stdout, link);
		printf(", \"payloads\": {");
		for (int k = 0, first_k = 1; k < JALAD_NET_PAYLOAD_COUNT; k++)
			if (sent[k]) {
				printf("%s\"%s\": %zu", first_k ? "" : ", ", jalad_net_payload_name((enum jalad_net_payload)k),
				       sent[k]);
				first_k = 0;
			}
		printf("}}\n");
	} else {
		char kinds[160] = "";
		size_t kl = 0;
		for (int k = 0; k < JALAD_NET_PAYLOAD_COUNT && kl < sizeof kinds; k++)
			if (sent[k])
				kl += (size_t)snprintf(kinds + kl, sizeof kinds - kl, "%s%s %zu", kl ? ", " : "",
						       jalad_net_payload_name((enum jalad_net_payload)k), sent[k]);
		printf("requests: %zu, accuracy: %.4f, latency mean %.3f ms, p50 %.3f ms, p95 %.3f ms\n"
		       "plan switches: %zu, fallbacks: %zu, plan: %s (%d candidates), link: %s\n"
		       "payloads: %s; dictionary uploads: %zu (refused %zu)\n"
		       "%.2f frames/s over %.1f s (%ld in flight at most)\n",
		       done_n, acc, mean, p50, p95, switches, fallbacks, a.plan, n_plans, link, kl ? kinds : "-", dict_up,
		       dict_ref, wall_s > 0 ? (double)done_n / wall_s : 0, wall_s, a.pipeline > 1 ? a.pipeline : 1);
	}
	rc = EXIT_OK;
done:
	jalad_edge_free(e);
	jalad_planner_free(pl);
	jalad_calib_free(cal);
	jalad_profile_free(ep);
	jalad_profile_free(cp);
	jalad_dataset_free(ds);
	jalad_model_free(m);
	free(plans);
	free(R.oracle_bps);
	free(R.lat); /* the sink may have grown it: lat is a copy */
	free(x);
	free(R.file);
	jalad_image_free(R.img);
	return rc;
}
