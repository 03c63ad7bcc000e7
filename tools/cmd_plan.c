/* jalad plan --edge E.json --cloud C.json --calib CAL.json --bandwidth BW
 * [--rtt T] [--max-loss L] [--coders LIST] [--p95] [--model M] [--json]
 * [--sweep LO:HI [--points N] [--out PREFIX]]: the best (cut, bits, coder)
 * and the baselines under the same conditions; a sweep writes a CSV, a
 * gnuplot PNG and the switching table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tools.h"
#include "jalad/plan.h"

static const char *plan_help =
	"usage: jalad plan --edge EDGE.json --cloud CLOUD.json --calib CALIB.json --bandwidth BW\n"
	"                  [--rtt T] [--max-loss L] [--coders LIST] [--p95] [--model MODEL] [--json]\n"
	"                  [--objective latency|throughput [--max-latency T]] [--tls] [--mss N]\n"
	"                  [--payload-only]\n"
	"       jalad plan ... --sweep LO:HI [--points N] [--out PREFIX] [--json]\n"
	"Chooses the cut, bit width and coder minimizing the predicted latency\n"
	"  edge compute + encode + RTT + wire bytes / bandwidth + decode + cloud compute\n"
	"  + the cloud profile's per-request constant (request_ms, jalad profile --server)\n"
	"subject to accuracy loss <= L, and prints it beside the baselines (edge-only,\n"
	"cloud-only with raw or PNG input, Neurosurgeon, JALAD as published).\n"
	"  --bandwidth BW  e.g. 2mbit, 500kbit, 1.5gbit (bits per second)\n"
	"  --rtt T         round-trip time, e.g. 40ms, 0.04s (default 40ms)\n"
	"  --max-loss L    top-1 accuracy loss bound, fraction or percent: 0.01 or 1%% (default 0.01)\n"
	"  --coders LIST   what jalad may send: coder names (raw, huffman, huffman-shared, rans0,\n"
	"                  rans1, zstd, arith0, arith1, huffman-2d, auto) and u8, png, jpeg, file\n"
	"                  for the input\n"
	"                  (default: all calibrated)\n"
	"  --p95           plan with the 95th percentile of bytes instead of the mean\n"
	"  --objective O   latency (default): the fastest plan for one frame; throughput: the\n"
	"                  plan with the most frames per second when frames are pipelined\n"
	"                  (jalad edge --pipeline), the slowest of edge, uplink and cloud\n"
	"                  setting the pace, among those within --max-latency (default none)\n"
	"  --tls           the link carries TLS 1.3 records (22 bytes per 16 KiB)\n"
	"  --mss N         TCP payload bytes per segment (default 1448; 66 bytes of headers each)\n"
	"  --payload-only  count the payload alone, as the paper does: no request frame, TCP/IP\n"
	"                  headers or per-request constant\n"
	"  --model MODEL   also check that the files were made for MODEL\n"
	"  --sweep LO:HI   predicted latency of every strategy over LO..HI (log-spaced, --points,\n"
	"                  default 200): writes PREFIX.csv and PREFIX.png (default PREFIX\n"
	"                  plan-sweep) and prints the switching table of the best plan\n"
	"  --json          machine-readable output: {\"plan\": {...}, \"baselines\": {...}}\n";

static const enum jalad_strategy shown[] = {
	JALAD_STRATEGY_BEST, JALAD_STRATEGY_JALAD_PAPER, JALAD_STRATEGY_NEUROSURGEON,
	JALAD_STRATEGY_CLOUD_PNG, JALAD_STRATEGY_CLOUD_RAW, JALAD_STRATEGY_EDGE_ONLY,
	JALAD_STRATEGY_CLOUD_FILE, JALAD_STRATEGY_CLOUD_JPEG,
};
#define N_SHOWN (int)(sizeof shown / sizeof shown[0])

static const char *coder_label(const struct jalad_plan_choice *c)
{
	if (c->payload != JALAD_PAYLOAD_CONTAINER)
		return jalad_payload_name(c->payload);
	return jalad_coder_name(c->coder);
}

static void bits_label(const struct jalad_plan_choice *c, char *buf, size_t cap)
{
	if (c->payload == JALAD_PAYLOAD_NONE)
		snprintf(buf, cap, "-");
	else if (c->bits == 0)
		snprintf(buf, cap, "f32");
	else
		snprintf(buf, cap, "%d%s", c->bits, c->per_channel ? "/ch" : "");
}

static const char *after_label(const struct jalad_profile *edge, int cut)
{
	if (cut == 0)
		return "(input)";
	if (cut >= edge->n_nodes)
		return "(output)";
	return edge->nodes[cut - 1].op_type ? edge->nodes[cut - 1].op_type : "?";
}

static void json_choice(const struct jalad_plan_choice *c, const char *indent)
{
	printf("{\"strategy\": \"%s\", \"cut\": %d, \"bits\": %d, \"per_channel\": %s, \"coder\": \"%s\", "
	       "\"payload\": \"%s\", \"predicted_ms\": %.6g, \"accuracy_loss\": %.6g, \"bytes\": %.6g, "
	       "\"wire_bytes\": %.6g,\n%s \"breakdown\": "
	       "{\"edge_ms\": %.6g, \"encode_ms\": %.6g, \"transfer_ms\": %.6g, \"rtt_ms\": %.6g, \"decode_ms\": %.6g, "
	       "\"cloud_ms\": %.6g, \"request_ms\": %.6g}}",
	       jalad_strategy_name(c->strategy), c->cut, c->bits, c->per_channel ? "true" : "false", coder_label(c),
	       jalad_payload_name(c->payload),
	       c->total_ms, c->accuracy_loss, c->bytes, c->wire_bytes, indent, c->edge_ms, c->encode_ms, c->transfer_ms,
	       c->rtt_ms, c->decode_ms, c->cloud_ms, c->request_ms);
}

static void print_row(const struct jalad_profile *edge, const char *name, const struct jalad_plan_choice *c)
{
	char bits[12];
	bits_label(c, bits, sizeof bits);
	printf("%-16s %4d %-10.10s %5s %-15s %10.1f %9.2f %7.2f %9.2f %7.2f %7.2f %8.2f %9.2f %7.2f\n", name, c->cut,
	       after_label(edge, c->cut), bits, coder_label(c), c->bytes, c->edge_ms, c->encode_ms, c->transfer_ms,
	       c->rtt_ms, c->decode_ms, c->cloud_ms, c->total_ms, 100 * c->accuracy_loss);
}

static const char *display_name(enum jalad_strategy s)
{
	switch (s) {
	case JALAD_STRATEGY_BEST: return "jalad (best)";
	case JALAD_STRATEGY_JALAD_PAPER: return "jalad (paper)";
	case JALAD_STRATEGY_NEUROSURGEON: return "neurosurgeon";
	case JALAD_STRATEGY_CLOUD_PNG: return "cloud-only png";
	case JALAD_STRATEGY_CLOUD_RAW: return "cloud-only raw";
	case JALAD_STRATEGY_EDGE_ONLY: return "edge-only";
	case JALAD_STRATEGY_CLOUD_FILE: return "cloud-only file";
	case JALAD_STRATEGY_CLOUD_JPEG: return "cloud-only jpeg";
	default: return "?";
	}
}

static void header(const struct jalad_profile *edge, const struct jalad_profile *cloud, const struct jalad_calib *cal,
		   double rtt, double max_loss, int p95)
{
	printf("model %s, %d nodes; calibration: %llu samples%s%s, float accuracy %.2f%%\n",
	       cal->model_file ? cal->model_file : "(unnamed)", cal->n_nodes, (unsigned long long)cal->samples,
	       cal->dataset ? " of " : "", cal->dataset ? cal->dataset : "", 100 * cal->float_accuracy);
	printf("edge: %s, slowdown %gx (%s, %d thread%s); cloud: %s, slowdown %gx (%s, %d thread%s)\n",
	       edge->device ? edge->device : "?", edge->slowdown, edge->backend ? edge->backend : "?", edge->threads,
	       edge->threads == 1 ? "" : "s", cloud->device ? cloud->device : "?", cloud->slowdown,
	       cloud->backend ? cloud->backend : "?", cloud->threads, cloud->threads == 1 ? "" : "s");
	printf("RTT %g ms, max accuracy loss %s%.2f points, %s bytes\n", rtt, isinf(max_loss) ? "(none) " : "",
	       isinf(max_loss) ? 0 : 100 * max_loss, p95 ? "p95" : "mean");
}

static void table_header(void)
{
	printf("%-16s %4s %-10s %5s %-15s %10s %9s %7s %9s %7s %7s %8s %9s %7s\n", "strategy", "cut", "after", "bits",
	       "coder", "bytes", "edge ms", "enc", "transfer", "rtt", "dec", "cloud", "total ms", "loss pt");
}

/* ---- sweep ---------------------------------------------------------------------- */

static int run_gnuplot(const char *script)
{
	FILE *g = popen("gnuplot 2>&1", "w");
	if (!g)
		return -1;
	fputs(script, g);
	int st = pclose(g);
	return st == 0 ? 0 : -1;
}

static int gnuplot_has_pngcairo(void)
{
	FILE *p = popen("gnuplot -e 'set terminal' 2>&1", "r");
	char line[256];
	int has = 0;
	if (!p)
		return 0;
	while (fgets(line, sizeof line, p))
		if (strstr(line, "pngcairo"))
			has = 1;
	pclose(p);
	return has;
}

static int write_plot(const char *csv, const char *png, const char *title, double lo, double hi, int has_file,
		      int has_jpeg)
{
	int cairo = gnuplot_has_pngcairo();
	char *script = NULL;
	size_t len = 0;
	FILE *s = open_memstream(&script, &len);
	if (!s)
		return -1;
	if (cairo)
		fprintf(s, "set terminal pngcairo size 860,520 font 'Sans,10' noenhanced\n");
	else
		fprintf(s, "set terminal png size 860,520 noenhanced\n");
	fprintf(s, "set output '%s'\n", png);
	fprintf(s, "set datafile separator ','\n"
		   "set title '%s'\n"
		   "set logscale x\nset logscale y\n"
		   "set xlabel 'uplink bandwidth (Mbit/s)'\nset ylabel 'predicted latency (ms)'\n"
		   "set grid xtics ytics mxtics\nset key top right box opaque\n"
		   "set format x '%%g'\nset xrange [%g:%g]\n"
		   "plot '%s' using 2:3 skip 1 with lines lw 3 lc rgb '#d62728' title 'jalad (best)', \\\n"
		   "     '' using 2:4 skip 1 with lines lw 2 lc rgb '#ff7f0e' dt 2 title 'JALAD (paper: c bits + Huffman)', \\\n"
		   "     '' using 2:5 skip 1 with lines lw 2 lc rgb '#1f77b4' title 'Neurosurgeon (float32)', \\\n"
		   "     '' using 2:6 skip 1 with lines lw 2 lc rgb '#2ca02c' dt 3 title 'cloud-only (PNG)', \\\n"
		   "     '' using 2:7 skip 1 with lines lw 2 lc rgb '#9467bd' dt 4 title 'cloud-only (raw 8-bit)', \\\n"
		   "     '' using 2:8 skip 1 with lines lw 2 lc rgb '#7f7f7f' dt 5 title 'edge-only'%s%s\n",
		title, lo / 1e6, hi / 1e6, csv,
		has_file ? ", \\\n     '' using 2:9 skip 1 with lines lw 2 lc rgb '#8c564b' dt 6 title 'cloud-only (photo file)'"
			 : "",
		has_jpeg ? ", \\\n     '' using 2:10 skip 1 with lines lw 2 lc rgb '#e377c2' dt 7 title 'cloud-only (JPEG re-encode)'"
			 : "");
	fclose(s);
	int rc = run_gnuplot(script);
	if (rc && cairo) {
		/* pngcairo listed but failing (no fonts?): the gd terminal. */
		char *alt = strstr(script, "set output");
		char *again = NULL;
		size_t alen = 0;
		FILE *a = open_memstream(&again, &alen);
		if (a) {
			fprintf(a, "set terminal png size 860,520 noenhanced\n%s", alt);
			fclose(a);
			rc = run_gnuplot(again);
			free(again);
		}
	}
	free(script);
	return rc;
}

static int sweep(const struct jalad_planner *pl, const struct jalad_profile *edge, const struct jalad_calib *cal,
		 double lo, double hi, int points, double rtt, double max_loss, const char *prefix, int json)
{
	size_t plen = strlen(prefix) + 8;
	char *csv = malloc(plen), *png = malloc(plen);
	struct jalad_plan_interval *rows = NULL;
	int rc = EXIT_FAIL, nrows = 0;
	if (!csv || !png)
		goto done;
	snprintf(csv, plen, "%s.csv", prefix);
	snprintf(png, plen, "%s.png", prefix);
	FILE *f = fopen(csv, "w");
	if (!f) {
		fprintf(stderr, "jalad plan: cannot write '%s'\n", csv);
		goto done;
	}
	fprintf(f, "bandwidth_bps,bandwidth_mbit,jalad_ms,jalad_paper_ms,neurosurgeon_ms,cloud_png_ms,cloud_raw_ms,"
		   "edge_only_ms,cloud_file_ms,cloud_jpeg_ms,jalad_cut,jalad_bits,jalad_coder,jalad_loss\n");
	int has_file = 0, has_jpeg = 0;
	for (int i = 0; i < points; i++) {
		double bw = points == 1 ? lo : lo * pow(hi / lo, (double)i / (points - 1));
		struct jalad_plan_choice c[N_SHOWN];
		fprintf(f, "%.6g,%.6g", bw, bw / 1e6);
		for (int s = 0; s < N_SHOWN; s++) {
			if (jalad_planner_choose_strategy(pl, shown[s], bw, rtt, &c[s]) == JALAD_OK) {
				fprintf(f, ",%.6g", c[s].total_ms);
				has_file |= shown[s] == JALAD_STRATEGY_CLOUD_FILE;
				has_jpeg |= shown[s] == JALAD_STRATEGY_CLOUD_JPEG;
			} else
				fprintf(f, ",");
		}
		char bits[12];
		bits_label(&c[0], bits, sizeof bits);
		fprintf(f, ",%d,%s,%s,%.6g\n", c[0].cut, bits, coder_label(&c[0]), c[0].accuracy_loss);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "jalad plan: cannot write '%s'\n", csv);
		goto done;
	}
	char title[512];
	snprintf(title, sizeof title, "%s: predicted latency, RTT %g ms, accuracy loss <= %.2g pt, edge slowdown %gx",
		 cal->model_file ? cal->model_file : "model", rtt, isinf(max_loss) ? 100.0 : 100 * max_loss,
		 edge->slowdown);
	int plot_failed = write_plot(csv, png, title, lo, hi, has_file, has_jpeg) != 0;
	if (plot_failed)
		fprintf(stderr, "jalad plan: gnuplot failed to write '%s' (is gnuplot installed? scripts/deps.sh)\n", png);

	enum jalad_status st = jalad_planner_table(pl, JALAD_STRATEGY_BEST, rtt, lo, hi, NULL, 0, &nrows);
	if (st == JALAD_OK && nrows > 0) {
		rows = malloc((size_t)nrows * sizeof *rows);
		if (!rows)
			goto done;
		st = jalad_planner_table(pl, JALAD_STRATEGY_BEST, rtt, lo, hi, rows, nrows, &nrows);
	}
	if (st != JALAD_OK) {
		tool_error("plan", st);
		goto done;
	}
	if (json) {
		printf("{\"csv\": ");
		tool_json_str(stdout, csv);
		printf(", \"png\": ");
		tool_json_str(stdout, plot_failed ? "" : png);
		printf(", \"rtt_ms\": %.6g, \"max_loss\": %.6g, \"switching\": [", rtt, isinf(max_loss) ? -1 : max_loss);
		for (int i = 0; i < nrows; i++) {
			printf("%s\n  {\"lo_bps\": %.6g, \"hi_bps\": %.6g, \"plan\": ", i ? "," : "", rows[i].lo_bps,
			       rows[i].hi_bps);
			json_choice(&rows[i].choice, "  ");
			printf("}");
		}
		printf("\n]}\n");
	} else {
		printf("wrote %s%s%s\n", csv, plot_failed ? "" : " and ", plot_failed ? "" : png);
		printf("switching table of the best plan (RTT %g ms):\n", rtt);
		printf("%-14s %-14s %4s %-10s %5s %-15s %10s %12s %12s %7s\n", "from", "to", "cut", "after", "bits",
		       "coder", "bytes", "ms at from", "ms at to", "loss pt");
		for (int i = 0; i < nrows; i++) {
			char a[32], b[32], bits[12];
			const struct jalad_plan_choice *c = &rows[i].choice;
			struct jalad_plan_choice at_lo, at_hi;
			jalad_format_bandwidth(rows[i].lo_bps, a, sizeof a);
			jalad_format_bandwidth(rows[i].hi_bps, b, sizeof b);
			bits_label(c, bits, sizeof bits);
			jalad_planner_choose(pl, rows[i].lo_bps, rtt, &at_lo);
			jalad_planner_choose(pl, rows[i].hi_bps, rtt, &at_hi);
			printf("%-14s %-14s %4d %-10.10s %5s %-15s %10.1f %12.2f %12.2f %7.2f\n", a, b, c->cut,
			       after_label(edge, c->cut), bits, coder_label(c), c->bytes, at_lo.total_ms, at_hi.total_ms,
			       100 * c->accuracy_loss);
		}
	}
	rc = plot_failed ? EXIT_FAIL : EXIT_OK;
done:
	free(rows);
	free(csv);
	free(png);
	return rc;
}

/* ---- main ----------------------------------------------------------------------- */

static int parse_loss(const char *s, double *out)
{
	size_t n = strlen(s);
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return -1;
	strcpy(buf, s);
	double scale = 1;
	if (buf[n - 1] == '%') {
		buf[n - 1] = 0;
		scale = 0.01;
	}
	if (!strcmp(buf, "none")) {
		*out = -1;
		return 0;
	}
	double v;
	if (tool_parse_float(buf, &v) || !(v >= 0) || !isfinite(v))
		return -1;
	*out = v * scale;
	return *out <= 1 ? 0 : -1;
}

int cmd_plan(int argc, char **argv)
{
	const char *edge_path = NULL, *cloud_path = NULL, *calib_path = NULL, *bw_s = NULL, *model_path = NULL;
	const char *coders = NULL, *sweep_s = NULL, *prefix = NULL;
	double rtt = 40, max_loss = 0.01;
	long points = 0; /* 0: not given (200) */
	long mss = 0;
	int json = 0, p95 = 0, tls = 0, payload_only = 0, throughput = 0;
	double max_lat = INFINITY;
	const struct tool_sopt sopts[] = {
		{ "--edge", &edge_path, "a profile" },
		{ "--cloud", &cloud_path, "a profile" },
		{ "--calib", &calib_path, "a calibration" },
		{ "--model", &model_path, "a model" },
		{ "--bandwidth", &bw_s, "a value such as 2mbit" },
		{ "--coders", &coders, "a list" },
		{ "--sweep", &sweep_s, "LO:HI, e.g. 0.05mbit:200mbit" },
		{ "--out", &prefix, "a file prefix" },
	};
	const struct tool_iopt iopts[] = {
		{ "--points", 2, 100000, &points, "a number 2..100000" },
		{ "--mss", 200, 65535, &mss, "a number of bytes 200..65535" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("plan", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(plan_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--p95")) {
			p95 = 1;
		} else if (!strcmp(argv[i], "--tls")) {
			tls = 1;
		} else if (!strcmp(argv[i], "--payload-only")) {
			payload_only = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--objective", &v))) {
			if (r < 0 || (strcmp(v, "latency") && strcmp(v, "throughput")))
				return tool_usage("plan", "--objective needs latency or throughput");
			throughput = !strcmp(v, "throughput");
		} else if ((r = tool_opt(argc, argv, &i, "--max-latency", &v))) {
			if (r < 0)
				return tool_usage("plan", "--max-latency needs a duration such as 200ms");
			if (jalad_parse_duration(v, &max_lat) != JALAD_OK || !(max_lat > 0))
				return tool_usage("plan", "--max-latency '%s': give a duration above 0, such as 200ms", v);
		} else if ((r = tool_opt(argc, argv, &i, "--rtt", &v))) {
			if (r < 0)
				return tool_usage("plan", "--rtt needs a duration such as 40ms");
			if (jalad_parse_duration(v, &rtt) != JALAD_OK)
				return tool_usage("plan", "--rtt: %s", jalad_last_error());
		} else if ((r = tool_opt(argc, argv, &i, "--max-loss", &v))) {
			if (r < 0 || parse_loss(v, &max_loss))
				return tool_usage("plan", "--max-loss '%s': give a fraction 0..1 (0.01) or a percent (1%%)",
						  r < 0 ? "" : v);
		} else {
			return tool_usage("plan", "unknown argument '%s'", argv[i]);
		}
	}
	if (!edge_path || !cloud_path || !calib_path)
		return tool_usage("plan", "--edge, --cloud and --calib are required");
	if (!bw_s && !sweep_s)
		return tool_usage("plan", "give --bandwidth (e.g. 2mbit) or --sweep LO:HI");
	if (bw_s && sweep_s)
		return tool_usage("plan", "give --bandwidth or --sweep, not both");
	if (!sweep_s && (prefix || points))
		return tool_usage("plan", "%s applies only with --sweep", prefix ? "--out" : "--points");
	if (throughput && sweep_s)
		return tool_usage("plan", "--objective throughput works with --bandwidth, not --sweep");
	if (!throughput && isfinite(max_lat))
		return tool_usage("plan", "--max-latency applies only with --objective throughput");
	if (payload_only && (tls || mss))
		return tool_usage("plan", "--payload-only counts no headers: it excludes %s", tls ? "--tls" : "--mss");
	if (!prefix)
		prefix = "plan-sweep";
	if (!points)
		points = 200;
	double bw = 0, lo = 0, hi = 0;
	if (bw_s && jalad_parse_bandwidth(bw_s, &bw) != JALAD_OK)
		return tool_usage("plan", "--bandwidth: %s", jalad_last_error());
	if (sweep_s) {
		char buf[128];
		char *colon;
		if (strlen(sweep_s) >= sizeof buf || !(colon = strchr(strcpy(buf, sweep_s), ':')))
			return tool_usage("plan", "--sweep '%s': give LO:HI, e.g. 0.05mbit:200mbit", sweep_s);
		*colon = 0;
		if (jalad_parse_bandwidth(buf, &lo) != JALAD_OK || jalad_parse_bandwidth(colon + 1, &hi) != JALAD_OK)
			return tool_usage("plan", "--sweep: %s", jalad_last_error());
		if (!(hi > lo))
			return tool_usage("plan", "--sweep '%s': HI must exceed LO", sweep_s);
	}

	struct jalad_profile *edge = NULL, *cloud = NULL;
	struct jalad_calib *cal = NULL;
	struct jalad_planner *pl = NULL;
	struct jalad_model *m = NULL;
	int rc = EXIT_FAIL;
	enum jalad_status st;
	if ((st = jalad_profile_load(edge_path, &edge)) != JALAD_OK ||
	    (st = jalad_profile_load(cloud_path, &cloud)) != JALAD_OK ||
	    (st = jalad_calib_load(calib_path, &cal)) != JALAD_OK) {
		tool_error("plan", st);
		goto done;
	}
	if (model_path) {
		if ((st = jalad_model_load(model_path, NULL, &m)) != JALAD_OK) {
			tool_error("plan", st);
			goto done;
		}
		const char *bad = NULL;
		if ((st = jalad_profile_check_model(edge, m)) != JALAD_OK)
			bad = edge_path;
		else if ((st = jalad_profile_check_model(cloud, m)) != JALAD_OK)
			bad = cloud_path;
		else if ((st = jalad_calib_check_model(cal, m)) != JALAD_OK)
			bad = calib_path;
		if (bad) {
			fprintf(stderr, "jalad plan: %s: %s (model %s)\n", bad, jalad_last_error(), model_path);
			goto done;
		}
	}
	struct jalad_planner_opts po = { .max_loss = max_loss, .coders = coders, .use_p95 = p95, .tls = tls,
					 .mss = (int)mss, .payload_only = payload_only };
	if ((st = jalad_planner_create(edge, cloud, cal, &po, &pl)) != JALAD_OK) {
		fprintf(stderr, "jalad plan: %s: %s (--edge %s, --cloud %s, --calib %s)\n", jalad_status_str(st),
			jalad_last_error(), edge_path, cloud_path, calib_path);
		rc = st == JALAD_ERR_INVALID_ARG || st == JALAD_ERR_NOT_FOUND ? EXIT_USAGE : EXIT_FAIL;
		goto done;
	}
	double ml = max_loss < 0 ? INFINITY : max_loss;
	if (sweep_s) {
		if (!json)
			header(edge, cloud, cal, rtt, ml, p95);
		rc = sweep(pl, edge, cal, lo, hi, (int)points, rtt, ml, prefix, json);
		goto done;
	}
	struct jalad_plan_choice ch[N_SHOWN];
	int have[N_SHOWN];
	for (int s = 0; s < N_SHOWN; s++)
		have[s] = jalad_planner_choose_strategy(pl, shown[s], bw, rtt, &ch[s]) == JALAD_OK;
	if (!have[0]) {
		tool_error("plan", JALAD_ERR_INTERNAL);
		goto done;
	}
	double fps = 0;
	int met = 1;
	if (throughput) {
		st = jalad_planner_choose_throughput(pl, bw, rtt, isfinite(max_lat) ? max_lat : 1e300, &ch[0], &fps);
		if (st == JALAD_ERR_NOT_FOUND)
			met = 0;
		else if (st != JALAD_OK) {
			tool_error("plan", st);
			goto done;
		}
	}
	if (json) {
		char sha[65];
		for (int i = 0; i < 32; i++)
			snprintf(sha + 2 * i, 3, "%02x", cal->model_sha256[i]);
		printf("{\"model\": {\"file\": ");
		tool_json_str(stdout, cal->model_file ? cal->model_file : "");
		printf(", \"sha256\": \"%s\", \"nodes\": %d},\n \"bandwidth_bps\": %.6g, \"rtt_ms\": %.6g, "
		       "\"max_loss\": %.6g, \"bytes\": \"%s\", \"float_accuracy\": %.6g,\n \"plan\": ",
		       sha, cal->n_nodes, bw, rtt, max_loss < 0 ? -1 : max_loss, p95 ? "p95" : "mean", cal->float_accuracy);
		json_choice(&ch[0], " ");
		if (throughput) {
			printf(",\n \"objective\": \"throughput\", \"fps\": %.6g, \"max_latency_ms\": ", fps);
			if (isfinite(max_lat))
				printf("%.6g", max_lat);
			else
				printf("null");
			printf(", \"latency_bound_met\": %s", met ? "true" : "false");
		}
		printf(",\n \"baselines\": {");
		/* cloud_only: the faster of the raw and PNG inputs. */
		int co = -1;
		for (int s = 0; s < N_SHOWN; s++)
			if ((shown[s] == JALAD_STRATEGY_CLOUD_PNG || shown[s] == JALAD_STRATEGY_CLOUD_RAW ||
			     shown[s] == JALAD_STRATEGY_CLOUD_FILE || shown[s] == JALAD_STRATEGY_CLOUD_JPEG) && have[s] &&
			    (co < 0 || ch[s].total_ms < ch[co].total_ms))
				co = s;
		int first = 1;
		for (int s = 0; s < N_SHOWN; s++) {
			if (!have[s])
				continue;
			printf("%s\n  \"%s\": ", first ? "" : ",", jalad_strategy_name(shown[s]));
			json_choice(&ch[s], "  ");
			first = 0;
		}
		if (co >= 0) {
			printf("%s\n  \"cloud_only\": ", first ? "" : ",");
			json_choice(&ch[co], "  ");
		}
		printf("\n }\n}\n");
	} else {
		char b[32];
		header(edge, cloud, cal, rtt, ml, p95);
		printf("bandwidth %s\n\n", jalad_format_bandwidth(bw, b, sizeof b));
		table_header();
		for (int s = 0; s < N_SHOWN; s++) {
			if (have[s])
				print_row(edge, display_name(shown[s]), &ch[s]);
			else
				printf("%-16s (not calibrated)\n", display_name(shown[s]));
		}
		const struct jalad_plan_choice *best = &ch[0];
		printf("\nplan: cut %d (%s), %s, %s: %.2f ms predicted, accuracy loss %.2f points\n", best->cut,
		       best->payload == JALAD_PAYLOAD_NONE ? "edge-only" : best->cut == 0 ? "cloud-only" : "split",
		       best->payload == JALAD_PAYLOAD_CONTAINER ? (best->bits ? "quantized" : "float32")
								 : jalad_payload_name(best->payload),
		       coder_label(best), best->total_ms, 100 * best->accuracy_loss);
		if (best->payload == JALAD_PAYLOAD_CONTAINER && best->bits)
			printf("      %d bits per value, min-max ranges per %s\n", best->bits,
			       best->per_channel ? "channel" : "tensor");
		if (best->payload != JALAD_PAYLOAD_NONE)
			printf("      %.0f bytes on the link (payload %.0f), %.2f ms per request at the server\n",
			       best->wire_bytes, best->bytes, best->request_ms);
		if (throughput) {
			printf("objective throughput: %.2f frames/s pipelined", fps);
			if (isfinite(max_lat))
				printf(" within %.1f ms%s", max_lat, met ? "" : " (no plan meets it: the fastest plan shown)");
			printf("\n");
		}
	}
	rc = EXIT_OK;
done:
	jalad_planner_free(pl);
	jalad_profile_free(edge);
	jalad_profile_free(cloud);
	jalad_calib_free(cal);
	jalad_model_free(m);
	return rc;
}
