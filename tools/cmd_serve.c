/* jalad serve MODEL [--listen HOST:PORT] [--workers N] [TLS] ...: the cloud
 * server. SIGTERM or SIGINT drains the requests in flight and exits. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalad/net.h"
#include "jalad/plan.h"
#include "tools.h"

static const char *serve_help =
	"usage: jalad serve MODEL [--listen HOST:PORT] [--workers N] [--threads N] [--backend ref|dnnl]\n"
	"                   [--tls-cert F --tls-key F [--tls-ca F] | --psk-file F] [--allow-remote]\n"
	"                   [--calib CAL.json] [--max-frame BYTES] [--mem-budget MIB] [--queue N]\n"
	"                   [--max-conns N] [--idle-timeout DUR] [--stats-interval DUR]\n"
	"                   [--drain-timeout DUR] [--port-file F] [--quiet | --verbose]\n"
	"                   [--max-image-pixels N] [--dict-cache KIB]\n"
	"                   [--hello-timeout DUR] [--frame-timeout DUR] [--min-rate BYTES]\n"
	"                   [--max-per-source N] [--metrics [HOST:]PORT]\n"
	"Serves the part [k, n) of MODEL to edges (`jalad edge`). One event loop does the I/O,\n"
	"N workers (default: one per CPU) run the model, a bounded queue sits between them.\n"
	"At cut 0 it also takes the input as an image (8-bit pixels, PNG, JPEG, or the photo's\n"
	"file), preprocessed as the model's metadata says (scale, mean, std, crop).\n"
	"  --listen       address to bind (default 127.0.0.1:7070; port 0 picks a free port).\n"
	"                 Without TLS only loopback addresses are allowed, unless --allow-remote.\n"
	"  --tls-cert/--tls-key  TLS 1.3 with this certificate and key (PEM);\n"
	"  --tls-ca       also require client certificates signed by this CA (mutual TLS);\n"
	"  --psk-file     TLS 1.3 with an external pre-shared key: a line IDENTITY:HEX or HEX\n"
	"                 (no certificates then: an edge without the key is refused).\n"
	"  --calib        calibration JSON whose shared Huffman dictionaries edges may use.\n"
	"  --stats-interval  a stats line on stderr this often (default 10s; 0 = never).\n"
	"  --port-file    write the bound port to this file once listening.\n"
	"  --max-image-pixels  largest photo file (width x height) an edge may send (default 25000000).\n"
	"  --dict-cache    KiB of memory for shared dictionaries edges upload (default 4096, inside\n"
	"                  --mem-budget; least recently used evicted first); 0 refuses every upload.\n"
	"  --max-conns     connection table (default 1024). When it is full, the oldest connection\n"
	"                  that has not finished its HELLO is closed for the new one.\n"
	"  --hello-timeout  accept to a complete HELLO, TLS handshake included (default 10s).\n"
	"  --frame-timeout  a frame gets this long from its first byte (default 10s); after that its\n"
	"  --min-rate       bytes must have averaged this many bytes/s (default 1024).\n"
	"  --max-per-source  open connections per source address (IPv6: per /64; default 128,\n"
	"                  0 = no limit; behind a proxy or NAT raise it).\n"
	"  --metrics       serve Prometheus metrics (GET /metrics, plain HTTP) on [HOST:]PORT\n"
	"                  (a port alone: 127.0.0.1; another host needs --allow-remote).\n"
	"Durations take a unit: 500ms, 10s. Prints 'listening on HOST:PORT' on stdout.\n";

static struct jalad_server *g_srv;

static void on_signal(int sig)
{
	(void)sig;
	if (g_srv)
		jalad_server_stop(g_srv);
}

static int g_quiet;

static void serve_log(enum jalad_log_level level, const char *msg, void *user)
{
	static const char *names[] = { "debug", "info", "warning", "error" };
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	(void)user;
	if (g_quiet && level < JALAD_LOG_WARN)
		return;
	strftime(ts, sizeof ts, "%H:%M:%S", localtime_r(&now, &tm));
	fprintf(stderr, "%s jalad serve: %s: %s\n", ts, names[level], msg);
}

static int parse_dur(const char *opt, const char *v, uint32_t *out)
{
	double ms = 0;
	if (strcmp(v, "0") != 0 && (jalad_parse_duration(v, &ms) != JALAD_OK || ms > 86400e3))
		return tool_usage("serve", "%s needs a duration such as 500ms or 10s", opt);
	*out = (uint32_t)ms;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	const char *path = NULL, *calib_path = NULL, *port_file = NULL;
	struct jalad_server_opts so = { .stats_interval_ms = 10000 };
	struct jalad_tls_opts tls = { 0 };
	int use_tls, verbose = 0, stats_set = 0, rc = EXIT_FAIL;
	long v_l;
	const struct tool_sopt sopts[] = {
		{ "--listen", &so.listen, "HOST:PORT" },
		{ "--backend", &so.backend, "a name" },
		{ "--calib", &calib_path, "a file" },
		{ "--port-file", &port_file, "a file" },
		{ "--tls-cert", &tls.cert_file, "a file" },
		{ "--tls-key", &tls.key_file, "a file" },
		{ "--tls-ca", &tls.ca_file, "a file" },
		{ "--psk-file", &tls.psk_file, "a file" },
		{ "--metrics", &so.metrics, "[HOST:]PORT" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("serve", argc, argv, &i, sopts, TOOL_NELEM(sopts), NULL, 0);
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(serve_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--allow-remote")) {
			so.allow_remote = 1;
		} else if (!strcmp(argv[i], "--quiet")) {
			g_quiet = 1;
		} else if (!strcmp(argv[i], "--verbose")) {
			verbose = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--workers", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 256, &v_l))
				return tool_usage("serve", "--workers needs a number 1..256");
			so.workers = (int)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--threads", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 256, &v_l))
				return tool_usage("serve", "--threads needs a number 1..256");
			so.threads_per_worker = (int)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--max-frame", &v))) {
			if (r < 0 || tool_parse_int(v, 1024, 1L << 31, &v_l))
				return tool_usage("serve", "--max-frame needs a byte count 1024..2^31");
			so.max_frame_bytes = (uint32_t)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--mem-budget", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 1L << 20, &v_l))
				return tool_usage("serve", "--mem-budget needs MiB");
			so.mem_budget_bytes = (size_t)v_l << 20;
		} else if ((r = tool_opt(argc, argv, &i, "--max-image-pixels", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 0xFFFFFFFFL, &v_l))
				return tool_usage("serve", "--max-image-pixels needs a number >= 1");
			so.max_image_pixels = (uint32_t)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--dict-cache", &v))) {
			if (r < 0 || tool_parse_int(v, 0, 1L << 30, &v_l))
				return tool_usage("serve", "--dict-cache needs KiB (0 refuses uploads)");
			so.dict_cache_bytes = v_l ? (long long)v_l << 10 : -1;
		} else if ((r = tool_opt(argc, argv, &i, "--queue", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 1 << 20, &v_l))
				return tool_usage("serve", "--queue needs a number >= 1");
			so.queue_cap = (int)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--max-conns", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 1 << 20, &v_l))
				return tool_usage("serve", "--max-conns needs a number >= 1");
			so.max_conns = (int)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--max-per-source", &v))) {
			if (r < 0 || tool_parse_int(v, 0, 1 << 20, &v_l))
				return tool_usage("serve", "--max-per-source needs a number >= 0 (0: no limit)");
			so.max_per_source = v_l ? (int)v_l : -1;
		} else if ((r = tool_opt(argc, argv, &i, "--min-rate", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 1L << 30, &v_l))
				return tool_usage("serve", "--min-rate needs bytes per second >= 1");
			so.min_rate_bps = (uint32_t)v_l;
		} else if ((r = tool_opt(argc, argv, &i, "--hello-timeout", &v))) {
			if (r < 0 || parse_dur("--hello-timeout", v, &so.hello_timeout_ms))
				return EXIT_USAGE;
			if (!so.hello_timeout_ms)
				return tool_usage("serve", "--hello-timeout needs a duration > 0");
		} else if ((r = tool_opt(argc, argv, &i, "--frame-timeout", &v))) {
			if (r < 0 || parse_dur("--frame-timeout", v, &so.frame_timeout_ms))
				return EXIT_USAGE;
			if (!so.frame_timeout_ms)
				return tool_usage("serve", "--frame-timeout needs a duration > 0");
		} else if ((r = tool_opt(argc, argv, &i, "--idle-timeout", &v))) {
			if (r < 0 || parse_dur("--idle-timeout", v, &so.idle_timeout_ms))
				return EXIT_USAGE;
		} else if ((r = tool_opt(argc, argv, &i, "--stats-interval", &v))) {
			if (r < 0 || parse_dur("--stats-interval", v, &so.stats_interval_ms))
				return EXIT_USAGE;
			stats_set = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--drain-timeout", &v))) {
			if (r < 0 || parse_dur("--drain-timeout", v, &so.drain_timeout_ms))
				return EXIT_USAGE;
		} else if (argv[i][0] == '-') {
			return tool_usage("serve", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("serve", "more than one model given");
		}
	}
	(void)stats_set;
	if (!path)
		return tool_usage("serve", "no model given");
	if (tls.psk_file && (tls.cert_file || tls.key_file || tls.ca_file))
		return tool_usage("serve", "give either --tls-cert/--tls-key[/--tls-ca] or --psk-file, not both");
	use_tls = tls.cert_file || tls.key_file || tls.ca_file || tls.psk_file;
	if (use_tls && !tls.psk_file && (!tls.cert_file || !tls.key_file))
		return tool_usage("serve", "TLS needs --tls-cert and --tls-key (or --psk-file)");
	if (port_file && tool_check_output("serve", "--port-file", port_file))
		return EXIT_FAIL;

	jalad_log_set(serve_log, NULL, verbose ? JALAD_LOG_DEBUG : JALAD_LOG_INFO);
	struct jalad_model *m = NULL;
	struct jalad_calib *cal = NULL;
	struct jalad_server *srv = NULL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("serve", st);
	if (calib_path) {
		if ((st = jalad_calib_load(calib_path, &cal)) != JALAD_OK ||
		    (st = jalad_calib_check_model(cal, m)) != JALAD_OK) {
			tool_error("serve", st);
			goto done;
		}
		so.dicts = (const struct jalad_codec_dict *const *)cal->dicts;
		so.n_dicts = cal->n_nodes * cal->n_bits;
	}
	so.tls = use_tls ? &tls : NULL;
	/* The metrics' model label: the file's name without folder and ".onnx". */
	char model_name[128];
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t bl = strlen(base);
	if (bl > 5 && !strcmp(base + bl - 5, ".onnx"))
		bl -= 5;
	snprintf(model_name, sizeof model_name, "%.*s", (int)(bl < 127 ? bl : 127), base);
	so.model_name = model_name;
	/* The model's preprocessing, for image payloads: only for a model
	 * whose input is an image; others serve codec containers alone. */
	struct jalad_preprocess pp;
	struct jalad_tensor_desc in;
	if (jalad_model_input_count(m) == 1 && jalad_model_tensor_desc(m, jalad_model_input(m, 0), &in) == JALAD_OK &&
	    in.ndim == 4 && in.dims[0] == 1 && (in.dims[1] == 1 || in.dims[1] == 3)) {
		if ((rc = tool_preprocess("serve", m, NULL, NULL, NULL, &pp)) != 0)
			goto done;
		rc = EXIT_FAIL;
		so.pp = &pp;
	} else {
		fprintf(stderr, "jalad serve: the model's input is not one (1, C, H, W) image: image payloads are refused\n");
	}
	if ((st = jalad_server_create(m, &so, &srv)) != JALAD_OK) {
		tool_error("serve", st);
		goto done;
	}
	g_srv = srv;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	char host[256];
	const char *listen = so.listen ? so.listen : "127.0.0.1:7070";
	const char *colon = strrchr(listen, ':');
	snprintf(host, sizeof host, "%.*s", (int)(colon ? colon - listen : 0), listen);
	printf("listening on %s:%d (%s, %d workers)\n", host, jalad_server_port(srv),
	       !use_tls ? "no TLS" : tls.psk_file ? "TLS 1.3, PSK" : tls.ca_file ? "TLS 1.3, mutual certificates"
										  : "TLS 1.3, certificate",
	       so.workers ? so.workers : (int)sysconf(_SC_NPROCESSORS_ONLN));
	{
		struct jalad_server_stats s0;
		jalad_server_stats(srv, &s0);
		if (s0.metrics_port)
			printf("metrics on port %d\n", s0.metrics_port);
	}
	fflush(stdout);
	if (port_file) {
		FILE *f = fopen(port_file, "w");
		int bad = !f;
		if (f) {
			bad = fprintf(f, "%d\n", jalad_server_port(srv)) < 0;
			bad |= fclose(f) != 0;
		}
		if (bad) {
			fprintf(stderr, "jalad serve: --port-file '%s': cannot write: %s\n", port_file, strerror(errno));
			goto done;
		}
	}
	st = jalad_server_run(srv);
	if (st != JALAD_OK) {
		tool_error("serve", st);
		goto done;
	}
	struct jalad_server_stats s;
	jalad_server_stats(srv, &s);
	fprintf(stderr, "jalad serve: served %llu requests (%llu errors) on %llu connections",
		(unsigned long long)s.responses_ok, (unsigned long long)s.responses_err,
		(unsigned long long)s.conns_accepted);
	for (int k = 0, first = 1; k < JALAD_NET_PAYLOAD_COUNT; k++)
		if (s.requests_by_payload[k]) {
			fprintf(stderr, "%s %s %llu", first ? "; payloads:" : ",",
				k ? jalad_net_payload_name((enum jalad_net_payload)k) : "unknown",
				(unsigned long long)s.requests_by_payload[k]);
			first = 0;
		}
	if (s.dict_uploads || s.dict_refused)
		fprintf(stderr, "; dictionaries uploaded: %llu (%llu bytes), refused: %llu",
			(unsigned long long)s.dict_uploads, (unsigned long long)s.dict_upload_bytes,
			(unsigned long long)s.dict_refused);
	fputc('\n', stderr);
	rc = EXIT_OK;
done:
	g_srv = NULL;
	jalad_server_free(srv);
	jalad_calib_free(cal);
	jalad_model_free(m);
	return rc;
}
