/* jalad profile MODEL [--backend B] [--threads N] [--repeat R] [--slowdown F]
 * [-o PROFILE.json]: per-node median latency of MODEL on this machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools.h"
#include "jalad/net.h"
#include "jalad/plan.h"

static const char *profile_help =
	"usage: jalad profile MODEL [--backend ref|dnnl] [--threads N] [--repeat R] [--slowdown F]\n"
	"                     [-o PROFILE.json] [--quiet] [--server HOST:PORT | --edge-requests]\n"
	"                     [--probes N] [--gap DUR]\n"
	"Measures the median latency of every node of MODEL over R runs (default 50, after 3\n"
	"warm-up runs) on N threads (default 1) and writes a profile (JSON, docs/formats.md);\n"
	"without -o the JSON goes to stdout.\n"
	"--slowdown F describes an edge device F times slower than this machine: node times\n"
	"are multiplied by F (a runtime emulates that device by sleeping (F-1) x each measured\n"
	"compute time). A summary table goes to stderr.\n"
	"--gap DUR sleeps DUR before each measured run: requests come apart and find colder\n"
	"caches than a hot loop does (profile an edge with the pause its requests leave).\n"
	"--server HOST:PORT also measures what a request costs a running `jalad serve` of the\n"
	"same model beyond decoding and computing (the hand-off to a worker and back, wake-ups):\n"
	"N requests (default 50, plain TCP) of the 8-bit input at cut 0: the median of the\n"
	"server's hold time minus its decode time, minus the whole model's time in this\n"
	"profile (what its warm loop leaves out). Profile the cloud on the server's machine.\n"
	"--edge-requests measures the same for an edge: what encoding costs once, after the\n"
	"edge has idled (as a request does), beyond the warm loop the calibration timed it in,\n"
	"x the slowdown (N encodes of the 8-bit input, median).\n"
	"Either goes into the profile as request_ms, which the planner adds to every plan that\n"
	"uses the network. Probes are 20 ms apart, as requests come.\n";

#define PROBE_GAP_MS 20.0

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6) };
	while (nanosleep(&ts, &ts) < 0)
		;
}


static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The edge's per-request constant: a request encodes once, cold, after
 * the edge has idled; the calibration timed the codec in a warm loop. The
 * difference (x slowdown) on the model's input at 8 bits, as a stand-in
 * for any payload. */
static enum jalad_status probe_edge(const struct jalad_model *m, int n, double slowdown, double *out_ms)
{
	enum jalad_status st = JALAD_OK;
	struct jalad_tensor_desc d;
	struct jalad_codec_ctx *ctx = NULL;
	float *x = NULL;
	uint8_t *buf = NULL;
	double *cold = NULL, *warm = NULL;
	if ((st = jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d)) != JALAD_OK)
		return st;
	int64_t count = 1;
	for (int a = 0; a < d.ndim; a++)
		count *= d.dims[a];
	if (d.dtype != JALAD_DTYPE_FLOAT32 || count <= 0 || count > (1 << 26))
		return JALAD_ERR_UNSUPPORTED;
	x = calloc((size_t)count, sizeof *x);
	cold = calloc((size_t)n, sizeof *cold);
	warm = calloc((size_t)n, sizeof *warm);
	struct jalad_codec_tensor ct = { .data = x, .ndim = d.ndim };
	memcpy(ct.dims, d.dims, sizeof ct.dims);
	struct jalad_codec_params cp = { .bits = 8, .coder = JALAD_CODER_RAW, .crc = 1 };
	size_t cap = jalad_codec_bound(&cp, &ct, 1), len;
	if (!x || !cold || !warm || !cap || !(buf = malloc(cap)) || jalad_codec_ctx_create(&ctx) != JALAD_OK) {
		st = JALAD_ERR_NOMEM;
		goto done;
	}
	for (int64_t i = 0; i < count; i++)
		x[i] = (float)((i * 7919) % 256) / 255.0f;
	for (int i = 0; i < n && st == JALAD_OK; i++) {
		sleep_ms(PROBE_GAP_MS);
		uint64_t t0 = jalad_now_ns_tool();
		st = jalad_codec_encode(ctx, &cp, &ct, 1, buf, cap, &len, NULL);
		cold[i] = (double)(jalad_now_ns_tool() - t0) / 1e6;
	}
	for (int i = 0; i < n && st == JALAD_OK; i++) {
		uint64_t t0 = jalad_now_ns_tool();
		st = jalad_codec_encode(ctx, &cp, &ct, 1, buf, cap, &len, NULL);
		warm[i] = (double)(jalad_now_ns_tool() - t0) / 1e6;
	}
	if (st == JALAD_OK) {
		*out_ms = (median_of(cold, n) - median_of(warm, n)) * slowdown;
		if (*out_ms < 0)
			*out_ms = 0;
	}
done:
	jalad_codec_ctx_free(ctx);
	free(x);
	free(buf);
	free(cold);
	free(warm);
	return st;
}

/* The per-request constant of the server at addr: see the help. */
static enum jalad_status probe_server(const struct jalad_model *m, const char *addr, int n, double model_ms,
				      double *out_ms)
{
	enum jalad_status st = JALAD_OK;
	int printed = 0;
	struct jalad_tensor_desc d;
	struct jalad_client *cl = NULL;
	struct jalad_codec_ctx *ctx = NULL;
	float *x = NULL;
	uint8_t *buf = NULL;
	double *v = NULL;
	uint8_t sha[32];
	if ((st = jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d)) != JALAD_OK)
		return st;
	int64_t count = 1;
	for (int a = 0; a < d.ndim; a++)
		count *= d.dims[a];
	if (d.dtype != JALAD_DTYPE_FLOAT32 || count <= 0 || count > (1 << 26)) {
		fprintf(stderr, "jalad profile: --server: the model's first input is not a float32 tensor\n");
		return JALAD_ERR_UNSUPPORTED;
	}
	x = calloc((size_t)count, sizeof *x);
	v = calloc((size_t)n, sizeof *v);
	if (!x || !v) {
		st = JALAD_ERR_NOMEM;
		goto done;
	}
	for (int64_t i = 0; i < count; i++)
		x[i] = (float)((i * 7919) % 256) / 255.0f;
	struct jalad_codec_tensor ct = { .data = x, .ndim = d.ndim };
	memcpy(ct.dims, d.dims, sizeof ct.dims);
	struct jalad_codec_params cp = { .bits = 8, .coder = JALAD_CODER_RAW, .crc = 1 };
	size_t cap = jalad_codec_bound(&cp, &ct, 1), len;
	struct jalad_client_opts co = { .address = addr, .name = "jalad-profile" };
	jalad_model_sha256(m, sha);
	if (!cap || !(buf = malloc(cap))) {
		st = JALAD_ERR_NOMEM;
		goto done;
	}
	if ((st = jalad_codec_ctx_create(&ctx)) != JALAD_OK ||
	    (st = jalad_codec_encode(ctx, &cp, &ct, 1, buf, cap, &len, NULL)) != JALAD_OK ||
	    (st = jalad_client_create(&co, sha, &cl)) != JALAD_OK)
		goto done;
	for (int i = 0; i < n; i++) {
		struct jalad_client_result r;
		sleep_ms(PROBE_GAP_MS); /* requests come apart, not back to back: caches go cold */
		if ((st = jalad_client_request(cl, (uint64_t)i + 1, 0, buf, len, 10000, &r)) != JALAD_OK) {
			fprintf(stderr, "jalad profile: --server %s: request %d: %s\n", addr, i + 1, jalad_last_error());
			printed = 1;
			goto done;
		}
		uint64_t hold = r.srv_send_ns > r.srv_recv_last_ns ? r.srv_send_ns - r.srv_recv_last_ns : 0;
		v[i] = hold > r.srv_decode_ns ? (double)(hold - r.srv_decode_ns) / 1e6 : 0;
	}
	/* what the whole model takes in a request, beyond the profile's warm loop */
	*out_ms = median_of(v, n) - model_ms;
	if (*out_ms < 0)
		*out_ms = 0;
done:
	if (st != JALAD_OK && !printed)
		fprintf(stderr, "jalad profile: --server %s: %s\n", addr, jalad_last_error());
	jalad_client_free(cl);
	jalad_codec_ctx_free(ctx);
	free(x);
	free(buf);
	free(v);
	return st;
}

int cmd_profile(int argc, char **argv)
{
	const char *path = NULL, *backend = NULL, *out = NULL, *server = NULL;
	long threads = 1, repeat = 50, probes = 0;
	double slowdown = 1, gap = 0;
	int quiet = 0, edge_req = 0;
	const struct tool_sopt sopts[] = {
		{ "--backend", &backend, "a name" },
		{ "-o", &out, "a file" },
		{ "--output", &out, "a file" },
		{ "--server", &server, "HOST:PORT of a running jalad serve" },
	};
	const struct tool_iopt iopts[] = {
		{ "--threads", 1, 256, &threads, "a number 1..256" },
		{ "--repeat", 1, 1000000, &repeat, "a number >= 1" },
		{ "--probes", 1, 100000, &probes, "a number >= 1" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("profile", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(profile_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = 1;
		} else if (!strcmp(argv[i], "--edge-requests")) {
			edge_req = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--gap", &v))) {
			if (r < 0 || jalad_parse_duration(v, &gap) != JALAD_OK || gap < 0 || gap > 1e6)
				return tool_usage("profile", "--gap needs a duration such as 100ms");
		} else if ((r = tool_opt(argc, argv, &i, "--slowdown", &v))) {
			if (r < 0 || tool_parse_float(v, &slowdown) || !(slowdown > 0) || !isfinite(slowdown))
				return tool_usage("profile", "--slowdown needs a positive number (e.g. 20)");
		} else if (argv[i][0] == '-') {
			return tool_usage("profile", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("profile", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("profile", "no model given");
	if (probes && !server && !edge_req)
		return tool_usage("profile", "--probes applies only with --server or --edge-requests");
	if (server && edge_req)
		return tool_usage("profile", "--server profiles a cloud, --edge-requests an edge: give one");
	if (out && tool_check_output("profile", "-o", out))
		return EXIT_FAIL;

	struct jalad_model *m = NULL;
	struct jalad_profile *p = NULL;
	char *json = NULL;
	int rc = EXIT_FAIL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("profile", st);
	struct jalad_profile_opts po = { .backend = backend, .threads = (int)threads, .repeat = (int)repeat,
					 .slowdown = slowdown, .gap_ms = gap, .model_file = path };
	if ((st = jalad_profile_measure(m, &po, &p)) != JALAD_OK) {
		tool_error("profile", st);
		goto done;
	}
	if (server) {
		double model_ms = 0;
		for (int i = 0; i < p->n_nodes; i++)
			model_ms += p->nodes[i].ms;
		if (probe_server(m, server, probes ? (int)probes : 50, model_ms, &p->request_ms) != JALAD_OK)
			goto done;
		if (!quiet)
			fprintf(stderr, "server %s: %.3f ms per request beyond decode and compute (median of %ld)\n", server,
				p->request_ms, probes ? probes : 50);
	}
	if (edge_req) {
		if ((st = probe_edge(m, probes ? (int)probes : 50, slowdown, &p->request_ms)) != JALAD_OK) {
			tool_error("profile", st);
			goto done;
		}
		if (!quiet)
			fprintf(stderr, "edge: %.3f ms per request for a cold encode beyond a warm one (x slowdown %g)\n",
				p->request_ms, slowdown);
	}
	if (out) {
		if ((st = jalad_profile_save(p, out)) != JALAD_OK) {
			tool_error("profile", st);
			goto done;
		}
	} else {
		if ((st = jalad_profile_to_json(p, &json)) != JALAD_OK) {
			tool_error("profile", st);
			goto done;
		}
		fputs(json, stdout);
	}
	if (!quiet) {
		double total = 0;
		for (int i = 0; i < p->n_nodes; i++)
			total += p->nodes[i].ms;
		fprintf(stderr, "%-5s %-28s %-18s %12s %12s\n", "node", "name", "op", "ms", "out bytes");
		for (int i = 0; i < p->n_nodes; i++) {
			char name[64], op[64];
			tool_text_str(p->nodes[i].name, name, sizeof name);
			tool_text_str(p->nodes[i].op_type, op, sizeof op);
			fprintf(stderr, "%-5d %-28.28s %-18.18s %12.4f %12lld\n", i, name, op,
				p->nodes[i].ms, (long long)p->nodes[i].out_bytes);
		}
		fprintf(stderr, "sum of node medians %.3f ms, median run %.3f ms (%s backend, %d thread%s, %d runs, "
			"slowdown %g)%s%s\n", total, p->run_ms, p->backend, p->threads, p->threads == 1 ? "" : "s",
			p->repeat, p->slowdown, out ? "; wrote " : "", out ? out : "");
	}
	rc = EXIT_OK;
done:
	free(json);
	jalad_profile_free(p);
	jalad_model_free(m);
	return rc;
}
