/* jalad calibrate MODEL --data SPEC [--limit N] [--bits LIST] [--coders LIST]
 * [--threads N] [--timing N] [-o CALIB.json]: accuracy and sizes at every
 * cut and bit width (see jalad/plan.h). Samples are spread over threads,
 * each with its own worker (session + codec context); results land in
 * per-sample rows, so the table is the same for any thread count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tools.h"
#include "jalad/plan.h"

static const char *calibrate_help =
	"usage: jalad calibrate MODEL --data fmnist[:DIR]|images:DIR|imagenet:DIR [--limit N] [--bits LIST]\n"
	"                       [--coders LIST] [--threads N] [--size-limit S] [--timing N] [--backend B]\n"
	"                       [--quant tensor,channel] [--cuts LIST|single|all] [--jpeg-quality Q]\n"
	"                       [--label-offset N] [--scale S --mean M --std D] [-o CALIB.json]\n"
	"For every cut k = 0..n and bit width c: top-1 accuracy over N samples with the\n"
	"tensors crossing cut k quantized to c bits (min-max) and dequantized,\n"
	"agreement with the float model, and mean/p95 container bytes per coder; plus the\n"
	"cloud-only payloads (the 8-bit input as it is, as PNG, re-encoded as JPEG, and the\n"
	"photo's own file) with their accuracy, and the shared Huffman tables.\n"
	"  --bits LIST     widths, e.g. 1-8,16,float (default 1-8,float; float = float32)\n"
	"  --coders LIST   coder names or 'all' (default all: raw,huffman,huffman-shared,\n"
	"                  rans0,rans1,zstd,arith0,arith1,huffman-2d,auto)\n"
	"  --threads N     worker threads (default: all cores)\n"
	"  --size-limit S  sizes (mean, p95 bytes) over the first S samples (default 2000,\n"
	"                  0 = all); accuracies are always over all N\n"
	"  --timing N      samples the encode/decode times are medians over (default 64)\n"
	"  --quant LIST    min-max ranges per tensor (the paper's), per channel, or both\n"
	"                  (default tensor,channel: every width is calibrated both ways)\n"
	"  --cuts LIST     cuts to calibrate, e.g. 0-10,25,40 (default all); 'single': the cuts\n"
	"                  crossed by one tensor (block boundaries of a ResNet or MobileNet)\n"
	"  --jpeg-quality Q  quality of the cloud-only JPEG re-encode of the 8-bit input\n"
	"                  (1..100, default 95, the lowest standard quality within 1 point of\n"
	"                  the float accuracy on the ImageNet sample, docs/imagenet.md; 0 = none)\n"
	"  --label-offset N  added to the labels (imagenet:DIR: default from the model)\n"
	"Writes JSON (docs/formats.md) to -o, or stdout. Progress goes to stderr (a bar on a\n"
	"terminal, a line per 10%% otherwise; --quiet: none).\n";

struct job {
	struct jalad_calibrator *cal;
	struct jalad_calib_worker *w;
	const struct jalad_dataset *ds;
	const struct jalad_preprocess *pp;
	uint64_t n;
	int pass;
	atomic_uint_fast64_t *next, *done;
	atomic_int *abort;
	enum jalad_status st;
	char err[512];
	uint64_t failed_sample;
};

static enum jalad_status one_sample(struct job *j, uint64_t i, float *x, size_t len, struct jalad_tensor *in)
{
	enum jalad_status st = jalad_dataset_get(j->ds, i, j->pp, x, len);
	if (st != JALAD_OK)
		return st;
	if (j->pass == 2)
		return jalad_calib_worker_pass2(j->w, i, in);
	struct jalad_image *img = NULL, *small = NULL;
	uint8_t *file = NULL;
	size_t file_len = 0;
	char pbuf[4096];
	const char *fpath = jalad_dataset_sample_path(j->ds, i, pbuf, sizeof pbuf);
	if ((st = jalad_dataset_load_image(j->ds, i, &img)) != JALAD_OK)
		return st;
	/* what a camera sends cloud-only: the model-sized 8-bit input, or the file */
	if ((st = jalad_image_resample(img, j->pp, &small)) != JALAD_OK)
		goto fail;
	if (fpath && (st = jalad_file_read(fpath, (size_t)1 << 30, &file, &file_len)) != JALAD_OK)
		goto fail;
	struct jalad_calib_image ci = { small->data, small->width, small->height, small->channels,
					file, file_len, j->pp };
	if (j->pass == 1)
		st = jalad_calib_worker_pass1(j->w, i, in, jalad_dataset_label(j->ds, i), &ci);
	else
		st = jalad_calib_worker_time(j->w, (int)i, in, &ci);
fail:
	free(file);
	jalad_image_free(small);
	jalad_image_free(img);
	return st;
}

static void *worker_main(void *p)
{
	struct job *j = p;
	size_t len = jalad_preprocess_len(j->pp);
	float *x = malloc(len * sizeof *x);
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, j->pp->channels, j->pp->height, j->pp->width }, x };
	j->st = x ? JALAD_OK : JALAD_ERR_NOMEM;
	while (j->st == JALAD_OK && !atomic_load(j->abort)) {
		uint64_t i = atomic_fetch_add(j->next, 1);
		if (i >= j->n)
			break;
		j->st = one_sample(j, i, x, len, &in);
		if (j->st != JALAD_OK) {
			snprintf(j->err, sizeof j->err, "%s", jalad_last_error());
			j->failed_sample = i;
			atomic_store(j->abort, 1);
		}
		atomic_fetch_add(j->done, 1);
	}
	free(x);
	return NULL;
}

static void progress(const char *what, uint64_t done, uint64_t n, double secs)
{
	int width = 30, fill = n ? (int)((double)done / (double)n * width) : width;
	char bar[64];
	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = 0;
	double eta = done ? secs / (double)done * (double)(n - done) : 0;
	fprintf(stderr, "\r%-14s [%s] %llu/%llu  %.0fs elapsed, ~%.0fs left   ", what, bar, (unsigned long long)done,
		(unsigned long long)n, secs, eta);
	fflush(stderr);
}

/* Run one pass over samples [0, n) on nth threads (pass 3: one thread). */
static int run_pass(struct job *jobs, int nth, int pass, uint64_t n, const char *label, int tty, int progress_on)
{
	atomic_uint_fast64_t next = 0, done = 0;
	atomic_int abort_flag = 0;
	pthread_t tids[256];
	uint64_t t0 = jalad_now_ns_tool();
	for (int t = 0; t < nth; t++) {
		jobs[t].pass = pass;
		jobs[t].n = n;
		jobs[t].next = &next;
		jobs[t].done = &done;
		jobs[t].abort = &abort_flag;
		if (pthread_create(&tids[t], NULL, worker_main, &jobs[t]) != 0) {
			fprintf(stderr, "jalad calibrate: cannot start a thread\n");
			atomic_store(&abort_flag, 1);
			nth = t;
			break;
		}
	}
	uint64_t next_line = n / 10;
	while (progress_on && atomic_load(&done) < n && !atomic_load(&abort_flag)) {
		uint64_t d = atomic_load(&done);
		double secs = (double)(jalad_now_ns_tool() - t0) / 1e9;
		if (tty) {
			progress(label, d, n, secs);
		} else if (n >= 100 && d >= next_line && d > 0) {
			fprintf(stderr, "jalad calibrate: %s: %llu/%llu samples, %.0f s, ~%.0f s left\n", label,
				(unsigned long long)d, (unsigned long long)n, secs, secs / (double)d * (double)(n - d));
			next_line = d + n / 10;
		}
		struct timespec ts = { 0, 200 * 1000000L };
		nanosleep(&ts, NULL);
	}
	for (int t = 0; t < nth; t++)
		pthread_join(tids[t], NULL);
	if (tty) {
		progress(label, atomic_load(&done), n, (double)(jalad_now_ns_tool() - t0) / 1e9);
		fputc('\n', stderr);
	}
	for (int t = 0; t < nth; t++) {
		if (jobs[t].st != JALAD_OK) {
			fprintf(stderr, "jalad calibrate: sample %llu: %s: %s\n", (unsigned long long)jobs[t].failed_sample,
				jalad_status_str(jobs[t].st), jobs[t].err);
			return -1;
		}
	}
	return 0;
}

/* "tensor", "channel", "tensor,channel" -> bit 0 tensor, bit 1 channel. */
static int parse_quant(const char *s, int *out)
{
	char buf[64];
	int q = 0;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "tensor"))
			q |= 1;
		else if (!strcmp(tok, "channel"))
			q |= 2;
		else
			return -1;
	}
	if (!q)
		return -1;
	*out = q;
	return 0;
}

static int parse_coders(const char *s, enum jalad_coder *coders, int cap)
{
	char buf[256];
	int n = 0;
	if (!strcmp(s, "all"))
		return 0;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == cap || jalad_coder_parse(tok, &coders[n]) != JALAD_OK)
			return -1;
		n++;
	}
	return n;
}

/* --cuts: "all", "single" (cuts one tensor crosses) or a list such as
 * 0-10,25 into mask[0..n] (cut n, edge-only, is always on). */
static int parse_cuts(const struct jalad_model *m, const char *s, uint8_t *mask, int n)
{
	if (!strcmp(s, "all")) {
		memset(mask, 1, (size_t)n + 1);
		return 0;
	}
	if (!strcmp(s, "single")) {
		for (int k = 0; k <= n; k++) {
			int ids[2], cnt = 0;
			mask[k] = k == n || (jalad_model_crossing(m, k, ids, 2, &cnt) == JALAD_OK && cnt == 1);
		}
		return 0;
	}
	char buf[4096];
	if (strlen(s) >= sizeof buf)
		return tool_usage("calibrate", "--cuts: list too long");
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long lo, hi;
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		if (tool_parse_int(tok, 0, n, &lo) || (dash && tool_parse_int(dash + 1, 0, n, &hi)))
			return tool_usage("calibrate", "--cuts '%s': give cuts 0..%d as a list such as 0-10,25", s, n);
		if (!dash)
			hi = lo;
		if (hi < lo)
			return tool_usage("calibrate", "--cuts '%s': empty range %ld-%ld", s, lo, hi);
		for (long k = lo; k <= hi; k++)
			mask[k] = 1;
	}
	mask[n] = 1;
	return 0;
}

/* A short human summary: loss in points per cut and width, bytes at 4 bits. */
static void summary(const struct jalad_model *m, const struct jalad_calib *c)
{
	fprintf(stderr, "float accuracy %.4f over %llu samples (%llu labelled)\n", c->float_accuracy,
		(unsigned long long)c->samples, (unsigned long long)c->labelled);
	fprintf(stderr, "accuracy loss in points (float - quantized) per cut and bits:\n%-4s %-14s %8s", "cut", "after",
		"values");
	for (int b = 0; b < c->n_bits; b++)
		if (c->bits[b])
			fprintf(stderr, " %5d%c", c->bits[b], c->per_channel[b] ? 'c' : 't');
	fputc('\n', stderr);
	double worst[2] = { -1e9, -1e9 };
	int wk[2] = { -1, -1 }, wb[2] = { -1, -1 };
	for (int k = 0; k < c->n_nodes; k++) {
		struct jalad_node_info ni = { 0 };
		if (c->cuts[k].skipped)
			continue;
		if (k > 0)
			jalad_model_node_info(m, k - 1, &ni);
		fprintf(stderr, "%-4d %-14.14s %8lld", k, k ? ni.op_type : "(input)", (long long)c->cuts[k].values);
		for (int b = 0; b < c->n_bits; b++) {
			if (!c->bits[b])
				continue;
			if (!c->cuts[k].supported) {
				fprintf(stderr, " %6s", "-");
				continue;
			}
			double loss = 100 * (c->float_accuracy - c->cells[jalad_calib_cell_index(c, k, b)].accuracy);
			fprintf(stderr, " %6.2f", loss);
			if (c->bits[b] >= 4 && loss > worst[c->per_channel[b]]) {
				worst[c->per_channel[b]] = loss;
				wk[c->per_channel[b]] = k;
				wb[c->per_channel[b]] = c->bits[b];
			}
		}
		fputc('\n', stderr);
	}
	for (int q = 0; q < 2; q++)
		if (wk[q] >= 0)
			fprintf(stderr, "largest loss at c >= 4, ranges per %s: %.2f points (cut %d, %d bits)\n",
				q ? "channel" : "tensor", worst[q], wk[q], wb[q]);
	fprintf(stderr, "(columns: c bits with min-max ranges per tensor (t) or per channel (c))\n");
	if (c->u8_measured)
		fprintf(stderr, "cloud-only 8-bit input (u8 %lld B, PNG %.0f B): loss %.2f points\n",
			(long long)c->input_raw_bytes, c->input_png.mean_bytes,
			100 * (c->float_accuracy - c->input_u8.accuracy));
	if (c->jpeg_quality > 0)
		fprintf(stderr, "cloud-only JPEG at quality %d: %.0f B mean, loss %.2f points\n", c->jpeg_quality,
			c->input_jpeg.mean_bytes, 100 * (c->float_accuracy - c->input_jpeg_acc.accuracy));
	if (c->input_file.mean_bytes >= 0)
		fprintf(stderr, "cloud-only photo file as captured: %.0f B mean, p95 %.0f B\n", c->input_file.mean_bytes,
			c->input_file.p95_bytes);
}

int cmd_calibrate(int argc, char **argv)
{
	const char *path = NULL, *data = NULL, *backend = NULL, *out = NULL;
	const char *scale = NULL, *mean = NULL, *stdv = NULL, *cuts_s = NULL;
	long limit = 0, threads = 0, timing = 64, size_limit = 2000, jpeg_q = 95, label_offset = -1;
	int bits[JALAD_PLAN_MAX_BITS], nb = 0, nc = 0, quiet = 0, quant = 3;
	enum jalad_coder coders[JALAD_CODER_COUNT + 1];
	const struct tool_sopt sopts[] = {
		{ "--data", &data, "a dataset" },
		{ "--backend", &backend, "a name" },
		{ "--scale", &scale, "a value" },
		{ "--mean", &mean, "a value" },
		{ "--std", &stdv, "a value" },
		{ "-o", &out, "a file" },
		{ "--output", &out, "a file" },
		{ "--cuts", &cuts_s, "a list of cuts" },
	};
	const struct tool_iopt iopts[] = {
		{ "--limit", 1, 100000000, &limit, "a number >= 1" },
		{ "--threads", 1, 256, &threads, "a number 1..256" },
		{ "--size-limit", 0, 100000000, &size_limit, "a number (0 = every sample)" },
		{ "--timing", 1, 100000, &timing, "a number >= 1" },
		{ "--jpeg-quality", 0, 100, &jpeg_q, "a quality 1..100 (0 = none)" },
		{ "--label-offset", 0, 1000000, &label_offset, "a number >= 0" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("calibrate", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(calibrate_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--quant", &v))) {
			if (r < 0 || parse_quant(v, &quant))
				return tool_usage("calibrate", "--quant '%s': give tensor, channel or tensor,channel",
						  r < 0 ? "" : v);
		} else if ((r = tool_opt(argc, argv, &i, "--bits", &v))) {
			if (r < 0 || (nb = tool_parse_bits(v, 1, bits, JALAD_PLAN_MAX_BITS)) <= 0)
				return tool_usage("calibrate", "--bits '%s': give widths 1..8 or 16 and 'float', e.g. 1-8,float",
						  r < 0 ? "" : v);
		} else if ((r = tool_opt(argc, argv, &i, "--coders", &v))) {
			if (r < 0 || (nc = parse_coders(v, coders, JALAD_CODER_COUNT + 1)) < 0)
				return tool_usage("calibrate", "--coders '%s': use 'all' or names among raw, huffman, "
						  "huffman-shared, rans0, rans1, zstd, arith0, arith1, huffman-2d, auto",
						  r < 0 ? "" : v);
		} else if (argv[i][0] == '-') {
			return tool_usage("calibrate", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("calibrate", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("calibrate", "no model given");
	if (nb == 0)
		nb = tool_parse_bits("1-8,float", 1, bits, JALAD_PLAN_MAX_BITS);
	/* Each width once per quantizer mode; float32 once. */
	int ebits[JALAD_PLAN_MAX_BITS], epc[JALAD_PLAN_MAX_BITS], ne = 0;
	for (int mode = 0; mode < 2; mode++) {
		if (!(quant & (1 << mode)))
			continue;
		for (int b = 0; b < nb; b++) {
			if (bits[b] == 0)
				continue;
			if (ne == JALAD_PLAN_MAX_BITS)
				return tool_usage("calibrate", "more than %d quantizers", JALAD_PLAN_MAX_BITS);
			ebits[ne] = bits[b];
			epc[ne++] = mode;
		}
	}
	for (int b = 0; b < nb; b++) {
		if (bits[b] != 0)
			continue;
		if (ne == JALAD_PLAN_MAX_BITS)
			return tool_usage("calibrate", "more than %d quantizers", JALAD_PLAN_MAX_BITS);
		ebits[ne] = 0;
		epc[ne++] = 0;
		break;
	}
	if (!data)
		return tool_usage("calibrate", "--data is required");
	if (out && tool_check_output("calibrate", "-o", out))
		return EXIT_FAIL;
	if (threads == 0)
		threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
	if (threads > 256)
		threads = 256;

	int rc = EXIT_FAIL, tty = isatty(2) && !quiet;
	struct jalad_model *m = NULL;
	struct jalad_dataset *ds = NULL;
	struct jalad_calibrator *cal = NULL;
	struct jalad_calib *table = NULL;
	struct job *jobs = NULL;
	struct jalad_calib_worker **ws = NULL;
	struct jalad_preprocess pp;
	char *json = NULL;
	uint8_t *cut_mask = NULL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("calibrate", st);
	if ((rc = tool_preprocess("calibrate", m, scale, mean, stdv, &pp)) != 0)
		goto done;
	rc = EXIT_FAIL;
	if ((rc = tool_open_dataset("calibrate", data, m, label_offset, &ds)) != 0)
		goto done;
	rc = EXIT_FAIL;
	int nn = jalad_model_node_count(m);
	if (cuts_s) {
		cut_mask = calloc((size_t)nn + 1, 1);
		if (!cut_mask)
			goto done;
		if ((rc = parse_cuts(m, cuts_s, cut_mask, nn)) != 0)
			goto done;
		rc = EXIT_FAIL;
	}
	uint64_t n = jalad_dataset_count(ds);
	if (limit > 0 && (uint64_t)limit < n)
		n = (uint64_t)limit;
	struct jalad_calib_opts co = { .bits = ebits, .per_channel = epc, .n_bits = ne, .coders = nc ? coders : NULL,
				       .n_coders = nc, .samples = n, .size_samples = (uint64_t)size_limit,
				       .timing_samples = (int)timing,
				       .backend = backend, .dataset = data, .model_file = path,
				       .pp = &pp, .jpeg_quality = jpeg_q ? (int)jpeg_q : -1, .cut_mask = cut_mask };
	if ((st = jalad_calibrator_create(m, &co, &cal)) != JALAD_OK) {
		tool_error("calibrate", st);
		goto done;
	}
	jobs = calloc((size_t)threads, sizeof *jobs);
	ws = calloc((size_t)threads, sizeof *ws);
	if (!jobs || !ws) {
		tool_error("calibrate", JALAD_ERR_NOMEM);
		goto done;
	}
	for (long t = 0; t < threads; t++) {
		if ((st = jalad_calib_worker_create(cal, &ws[t])) != JALAD_OK) {
			tool_error("calibrate", st);
			goto done;
		}
		jobs[t] = (struct job){ .cal = cal, .w = ws[t], .ds = ds, .pp = &pp };
	}
	uint64_t t0 = jalad_now_ns_tool();
	if (run_pass(jobs, (int)threads, 1, n, "accuracy", tty, !quiet))
		goto done;
	if ((st = jalad_calibrator_learn(cal, ws, (int)threads)) != JALAD_OK) {
		tool_error("calibrate", st);
		goto done;
	}
	uint64_t nsz = size_limit > 0 && (uint64_t)size_limit < n ? (uint64_t)size_limit : n;
	if (run_pass(jobs, (int)threads, 2, nsz, "shared dicts", tty, !quiet))
		goto done;
	uint64_t nt = (uint64_t)timing < n ? (uint64_t)timing : n;
	if (run_pass(jobs, 1, 3, nt, "timing", tty, !quiet))
		goto done;
	if ((st = jalad_calibrator_finish(cal, &table)) != JALAD_OK) {
		tool_error("calibrate", st);
		goto done;
	}
	if (out) {
		if ((st = jalad_calib_save(table, out)) != JALAD_OK) {
			tool_error("calibrate", st);
			goto done;
		}
	} else {
		if ((st = jalad_calib_to_json(table, &json)) != JALAD_OK) {
			tool_error("calibrate", st);
			goto done;
		}
		fputs(json, stdout);
	}
	if (!quiet) {
		summary(m, table);
		fprintf(stderr, "calibrated %llu samples on %ld thread%s in %.1f s%s%s\n", (unsigned long long)n, threads,
			threads == 1 ? "" : "s", (double)(jalad_now_ns_tool() - t0) / 1e9, out ? "; wrote " : "",
			out ? out : "");
	}
	rc = EXIT_OK;
done:
	free(cut_mask);
	free(json);
	for (long t = 0; ws && t < threads; t++)
		jalad_calib_worker_free(ws[t]);
	free(ws);
	free(jobs);
	jalad_calib_free(table);
	jalad_calibrator_free(cal);
	jalad_dataset_free(ds);
	jalad_model_free(m);
	return rc;
}
