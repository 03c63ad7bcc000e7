/* jalad codec-bench MODEL --data SPEC [--limit N] [--cut all|K] [--bits LIST]
 * [--json]: what the codec makes of real feature maps at every cut and bit
 * width: container bytes per coder, empirical entropy, speed.
 *
 * Fairness of the shared Huffman tables: the dictionaries (with the 2-d
 * tables of huffman-2d for c <= 4) are learned on the first half of the
 * samples and every number is measured on the second half. Runs on one
 * thread so the throughput figures are clean. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools.h"
#include "jalad/codec.h"
#include "jalad/plan.h"

static const char *bench_help =
	"usage: jalad codec-bench MODEL --data fmnist[:DIR]|images:DIR|imagenet:DIR [--limit N] [--cut all|K]\n"
	"                         [--bits LIST] [--backend B] [--json]\n"
	"For every cut (or cut K) and bit width (default 1-8): mean container bytes per image\n"
	"for each coder (raw, huffman, huffman_shared, huffman_2d, rans0, rans1, zstd, arith0, arith1,\n"
	"auto; huffman_2d only for widths 1-4, '-' / null otherwise),\n"
	"the empirical order-0 and order-1 entropy of the quantized symbols (bits/value), the optimal\n"
	"(unlimited-length) Huffman payload for each tensor's histogram (whole bytes, no table),\n"
	"and encode/decode "
	"throughput in MB/s of float32 feature map (quantize+encode, decode+dequantize).\n"
	"Tensors that only ReLUs read are quantized over the range of max(x, 0), as jalad sends\n"
	"them; 'paper' (JSON: bytes.jalad_paper) is JALAD as published: plain min-max ranges and\n"
	"per-message Huffman.\n"
	"Shared Huffman tables (huffman_shared, huffman_2d; auto tries both) are learned on the\n"
	"first half of the N samples (default 1000); everything is measured on the second half.\n"
	"--json prints one JSON array of rows.\n";

static const enum jalad_coder bench_coders[] = {
	JALAD_CODER_RAW,   JALAD_CODER_HUFFMAN, JALAD_CODER_HUFFMAN_SHARED, JALAD_CODER_HUFFMAN_2D,
	JALAD_CODER_RANS0, JALAD_CODER_RANS1,   JALAD_CODER_ZSTD,           JALAD_CODER_ARITH0,
	JALAD_CODER_ARITH1, JALAD_CODER_AUTO,
};
#define NCODERS (int)(sizeof bench_coders / sizeof bench_coders[0])
/* Columns of bench_coders the summaries use. */
#define COL_HUFFMAN 1
#define COL_RANS0 4
#define COL_ARITH0 7

struct acc {
	uint64_t messages, values, tensors;
	double h0_bits, h1_bits;         /* sum of entropy x values */
	double huff_opt_bits;            /* optimal Huffman payload bits */
	uint64_t bytes[NCODERS], payload[NCODERS];
	uint64_t paper_bytes;            /* JALAD as published: no ReLU range, per-message Huffman */
	uint64_t enc_ns[NCODERS], dec_ns[NCODERS];
	uint64_t *hist;                  /* 2^bits, first half */
	uint64_t *hist2d;                /* 2-d units (64 << 2 * bits), first half; bits <= 4 only */
	struct jalad_codec_dict *dict;
};

static const char *key_name(enum jalad_coder c)
{
	return c == JALAD_CODER_HUFFMAN_SHARED ? "huffman_shared"
	       : c == JALAD_CODER_HUFFMAN_2D   ? "huffman_2d"
					       : jalad_coder_name(c);
}

/* Can the coder carry bits (huffman-2d: c = 1..4 only)? */
static int bench_applies(enum jalad_coder c, int bits)
{
	return c != JALAD_CODER_HUFFMAN_2D || (bits >= 1 && bits <= JALAD_CODEC_2D_MAX_BITS);
}

/* One "key": value of a JSON object (the first without a comma); v < 0 is null. */
static void json_num(int c, const char *key, double v)
{
	if (v < 0)
		printf("%s\"%s\": null", c ? ", " : "", key);
	else
		printf("%s\"%s\": %.6g", c ? ", " : "", key, v);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Payload bits of an optimal prefix code for the counts (the sum of the
 * internal node weights of a Huffman tree), two-queue construction. */
static double huffman_optimal_bits(const uint64_t *hist, size_t n, uint64_t *leaf, uint64_t *inner)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (hist[i])
			leaf[k++] = hist[i];
	if (k < 2)
		return 0;
	qsort(leaf, k, sizeof *leaf, cmp_u64);
	size_t a = 0, b = 0, nb = 0;
	double cost = 0;
	for (size_t m = 0; m + 1 < k; m++) {
		uint64_t w[2];
		for (int t = 0; t < 2; t++) {
			if (a < k && (b >= nb || leaf[a] <= inner[b]))
				w[t] = leaf[a++];
			else
				w[t] = inner[b++];
		}
		inner[nb++] = w[0] + w[1];
		cost += (double)(w[0] + w[1]);
	}
	return cost;
}

/* Make *buf hold at least need bytes; -1 when out of memory. */
static int grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	uint8_t *nb = realloc(*buf, need);
	if (!nb)
		return -1;
	*buf = nb;
	*cap = need;
	return 0;
}

int cmd_codec_bench(int argc, char **argv)
{
	const char *path = NULL, *data = NULL, *backend = NULL, *cut_s = "all";
	long limit = 1000;
	int json = 0, bits[16], nb = 8;
	for (int i = 0; i < 8; i++)
		bits[i] = i + 1;
	const struct tool_sopt sopts[] = {
		{ "--data", &data, "a dataset" },
		{ "--cut", &cut_s, "'all' or a cut index" },
		{ "--backend", &backend, "a name" },
	};
	const struct tool_iopt iopts[] = {
		{ "--limit", 1, 100000000, &limit, "a number >= 1" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("codec-bench", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(bench_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--bits", &v))) {
			if (r < 0 || (nb = tool_parse_bits(v, 0, bits, 16)) <= 0)
				return tool_usage("codec-bench", "--bits '%s': give widths 1..8 or 16, e.g. 1-8 or 4",
						  r < 0 ? "" : v);
		} else if (argv[i][0] == '-') {
			return tool_usage("codec-bench", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("codec-bench", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("codec-bench", "no model given");
	if (!data)
		return tool_usage("codec-bench", "--data is required");

	struct jalad_model *m = NULL;
	struct jalad_dataset *ds = NULL;
	struct jalad_cut_capture *cc = NULL;
	struct jalad_codec_ctx *ctx = NULL;
	struct acc *acc = NULL;
	uint8_t *sym = NULL, *buf = NULL;
	float *x = NULL, *dec = NULL;
	uint64_t *leaf = NULL, *inner = NULL, *th = NULL;
	size_t cap = 0;
	int rc = EXIT_FAIL, n = 0, k0 = 0, k1 = 0;
	struct jalad_preprocess pp;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("codec-bench", st);
	n = jalad_model_node_count(m);
	if (strcmp(cut_s, "all") == 0) {
		k0 = 0;
		k1 = n - 1;
	} else {
		long k;
		if (tool_parse_int(cut_s, 0, n - 1, &k)) {
			rc = tool_usage("codec-bench", "--cut '%s': give 'all' or a cut 0..%d", cut_s, n - 1);
			goto done;
		}
		k0 = k1 = (int)k;
	}
	if ((rc = tool_preprocess("codec-bench", m, NULL, NULL, NULL, &pp)) != 0)
		goto done;
	rc = EXIT_FAIL;
	if ((st = jalad_dataset_open(data, &ds)) != JALAD_OK || (st = jalad_cut_capture_create(m, backend, &cc)) != JALAD_OK ||
	    (st = jalad_codec_ctx_create(&ctx)) != JALAD_OK) {
		tool_error("codec-bench", st);
		goto done;
	}
	uint64_t ns = jalad_dataset_count(ds);
	if ((uint64_t)limit < ns)
		ns = (uint64_t)limit;
	uint64_t learn_n = ns / 2;
	int ncut = k1 - k0 + 1;
	acc = calloc((size_t)ncut * (size_t)nb, sizeof *acc);
	size_t len = jalad_preprocess_len(&pp);
	x = malloc(len * sizeof *x);
	int64_t max_values = 0, max_tensor = 0;
	for (int k = k0; k <= k1; k++) {
		int ids[JALAD_CODEC_MAX_TENSORS + 1], cnt;
		int64_t tot = 0;
		jalad_model_crossing(m, k, ids, JALAD_CODEC_MAX_TENSORS + 1, &cnt);
		for (int j = 0; j < cnt && j <= JALAD_CODEC_MAX_TENSORS; j++) {
			struct jalad_tensor_desc d;
			jalad_model_tensor_desc(m, ids[j], &d);
			int64_t v = 1;
			for (int a = 0; a < d.ndim; a++)
				v *= d.dims[a];
			tot += v;
			if (v > max_tensor)
				max_tensor = v;
		}
		if (tot > max_values)
			max_values = tot;
	}
	sym = malloc((size_t)(max_tensor ? max_tensor : 1) * 2);
	dec = malloc((size_t)(max_values ? max_values : 1) * sizeof *dec);
	leaf = malloc(65536 * sizeof *leaf);
	inner = malloc(65536 * sizeof *inner);
	th = malloc(65536 * sizeof *th);
	if (!acc || !x || !sym || !dec || !leaf || !inner || !th) {
		tool_error("codec-bench", JALAD_ERR_NOMEM);
		goto done;
	}
	for (int i = 0; i < ncut * nb; i++) {
		int bb = bits[i % nb];
		acc[i].hist = calloc((size_t)1 << bb, sizeof *acc[i].hist);
		if (bb <= JALAD_CODEC_2D_MAX_BITS)
			acc[i].hist2d = calloc((size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bb), sizeof *acc[i].hist2d);
		if (!acc[i].hist || (bb <= JALAD_CODEC_2D_MAX_BITS && !acc[i].hist2d)) {
			tool_error("codec-bench", JALAD_ERR_NOMEM);
			goto done;
		}
	}
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, pp.channels, pp.height, pp.width }, x };
	uint64_t t_start = jalad_now_ns_tool();
	for (uint64_t i = 0; i < ns; i++) {
		int measure = i >= learn_n;
		if (i == learn_n) {
			/* The first half is over: learn the shared tables. */
			for (int a = 0; a < ncut * nb; a++) {
				int cut = k0 + a / nb;
				int ids[JALAD_CODEC_MAX_TENSORS + 1], cnt;
				jalad_model_crossing(m, cut, ids, JALAD_CODEC_MAX_TENSORS + 1, &cnt);
				if (cnt > JALAD_CODEC_MAX_TENSORS)
					continue;
				size_t hn = (size_t)1 << bits[a % nb];
				uint64_t tot = 0;
				for (size_t s = 0; s < hn; s++)
					tot += acc[a].hist[s];
				if (tot == 0)
					for (size_t s = 0; s < hn; s++)
						acc[a].hist[s] = 1;
				if (acc[a].hist2d) {
					size_t h2n = (size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bits[a % nb]);
					tot = 0;
					for (size_t s = 0; s < h2n; s++)
						tot += acc[a].hist2d[s];
					if (tot == 0)
						for (size_t s = 0; s < h2n; s++)
							acc[a].hist2d[s] = 1;
				}
				/* hist2d NULL (bits > 4): a 1-d dictionary only */
				if ((st = jalad_codec_dict_learn2d(bits[a % nb], acc[a].hist, acc[a].hist2d, &acc[a].dict)) !=
				    JALAD_OK) {
					tool_error("codec-bench", st);
					goto done;
				}
				free(acc[a].hist2d);
				acc[a].hist2d = NULL;
			}
		}
		if ((st = jalad_dataset_get(ds, i, &pp, x, len)) != JALAD_OK ||
		    (st = jalad_cut_capture_run(cc, &in)) != JALAD_OK) {
			tool_error("codec-bench", st);
			goto done;
		}
		for (int k = k0; k <= k1; k++) {
			const int *ids;
			const struct jalad_tensor *vals;
			int cnt;
			jalad_cut_capture_get(cc, k, &ids, &vals, &cnt);
			int ok = cnt >= 1 && cnt <= JALAD_CODEC_MAX_TENSORS;
			for (int j = 0; ok && j < cnt; j++)
				ok = vals[j].dtype == JALAD_DTYPE_FLOAT32;
			if (!ok)
				continue;
			struct jalad_codec_tensor ct[JALAD_CODEC_MAX_TENSORS];
			float *outs[JALAD_CODEC_MAX_TENSORS];
			size_t caps[JALAD_CODEC_MAX_TENSORS], off = 0;
			for (int j = 0; j < cnt; j++) {
				ct[j].data = vals[j].data;
				ct[j].relu = jalad_model_tensor_relu_only(m, ids[j]);
				ct[j].ndim = vals[j].ndim;
				for (int a = 0; a < vals[j].ndim; a++)
					ct[j].dims[a] = vals[j].dims[a];
				caps[j] = (size_t)jalad_tensor_numel(&vals[j]);
				outs[j] = dec + off;
				off += caps[j];
			}
			for (int b = 0; b < nb; b++) {
				struct acc *A = &acc[(k - k0) * nb + b];
				size_t hn = (size_t)1 << bits[b];
				for (int j = 0; j < cnt; j++) {
					size_t nv = caps[j];
					float mn, mx;
					double h0, h1;
					if ((st = jalad_codec_minmax(vals[j].data, nv, &mn, &mx)) != JALAD_OK)
						goto fail;
					if (ct[j].relu)
						jalad_codec_relu_range(&mn, &mx);
					if ((st = jalad_codec_quantize(vals[j].data, nv, bits[b], mn, mx, sym)) != JALAD_OK) {
						tool_error("codec-bench", st);
						goto done;
					}
					if (!measure) {
						jalad_codec_hist_add(sym, nv, bits[b], A->hist);
						/* the 2-d units of the tensor's shape (bits <= 4) */
						if (A->hist2d && (st = jalad_codec_hist2d_add(sym, vals[j].ndim, vals[j].dims,
											      bits[b], A->hist2d)) != JALAD_OK)
							goto fail;
						continue;
					}
					if ((st = jalad_codec_entropy(sym, nv, bits[b], &h0, &h1)) != JALAD_OK) {
						tool_error("codec-bench", st);
						goto done;
					}
					memset(th, 0, hn * sizeof *th);
					jalad_codec_hist_add(sym, nv, bits[b], th);
					/* a payload is whole bytes, whatever the code */
					A->huff_opt_bits += 8 * ceil(huffman_optimal_bits(th, hn, leaf, inner) / 8);
					A->h0_bits += h0 * (double)nv;
					A->h1_bits += h1 * (double)nv;
					A->values += nv;
					A->tensors++;
				}
				if (!measure)
					continue;
				A->messages++;
				{
					/* The paper's scheme: the same tensors without the ReLU-aware
					 * range, per-message Huffman. */
					struct jalad_codec_tensor pt[JALAD_CODEC_MAX_TENSORS];
					struct jalad_codec_params p = { .bits = bits[b], .coder = JALAD_CODER_HUFFMAN, .crc = 1 };
					for (int j = 0; j < cnt; j++) {
						pt[j] = ct[j];
						pt[j].relu = 0;
					}
					size_t need = jalad_codec_bound(&p, pt, cnt), got;
					if (grow(&buf, &cap, need)) {
						tool_error("codec-bench", JALAD_ERR_NOMEM);
						goto done;
					}
					if ((st = jalad_codec_encode(ctx, &p, pt, cnt, buf, cap, &got, NULL)) != JALAD_OK)
						goto fail;
					A->paper_bytes += got;
				}
				for (int c = 0; c < NCODERS; c++) {
					if (!bench_applies(bench_coders[c], bits[b]))
						continue;
					struct jalad_codec_params p = { .bits = bits[b], .coder = bench_coders[c], .crc = 1,
									.dict = A->dict };
					struct jalad_codec_stats es;
					size_t need = jalad_codec_bound(&p, ct, cnt), got;
					if (grow(&buf, &cap, need)) {
						tool_error("codec-bench", JALAD_ERR_NOMEM);
						goto done;
					}
					uint64_t t0 = jalad_now_ns_tool();
					st = jalad_codec_encode(ctx, &p, ct, cnt, buf, cap, &got, &es);
					uint64_t t1 = jalad_now_ns_tool();
					if (st == JALAD_OK)
						st = jalad_codec_decode(ctx, buf, got, NULL, A->dict, outs, caps, cnt, NULL);
					uint64_t t2 = jalad_now_ns_tool();
					if (st != JALAD_OK) {
						fprintf(stderr, "jalad codec-bench: cut %d, %d bits, %s: %s: %s\n", k, bits[b],
							jalad_coder_name(bench_coders[c]), jalad_status_str(st),
							jalad_last_error());
						goto done;
					}
					A->bytes[c] += got;
					for (int j = 0; j < es.ntensors; j++)
						A->payload[c] += es.tensor[j].payload_bytes;
					A->enc_ns[c] += t1 - t0;
					A->dec_ns[c] += t2 - t1;
				}
			}
		}
		if (!json && isatty(2) && (i % 50 == 0 || i + 1 == ns))
			fprintf(stderr, "\rcodec-bench: %llu/%llu samples", (unsigned long long)i + 1, (unsigned long long)ns);
	}
	if (!json && isatty(2))
		fputc('\n', stderr);
	double secs = (double)(jalad_now_ns_tool() - t_start) / 1e9;

	/* ---- report ---- */
	if (json)
		printf("[");
	else
		printf("%-4s %4s %8s %6s %6s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s %9s %6s %6s\n", "cut",
		       "bits", "values", "H0", "H1", "H0 bytes", "raw", "huffman", "huff-shd", "huff-2d", "rans0", "rans1",
		       "zstd", "arith0", "arith1", "auto", "huff-opt", "paper", "best/H", "best/P");
	int first = 1;
	double ratio_sum[16] = { 0 }, paper_sum[16] = { 0 }, r0_sum[16] = { 0 }, a0_sum[16] = { 0 };
	int ratio_n[16] = { 0 };
	for (int a = 0; a < ncut * nb; a++) {
		struct acc *A = &acc[a];
		int k = k0 + a / nb, b = a % nb;
		if (!A->messages)
			continue;
		double msg = (double)A->messages, vpi = (double)A->values / msg;
		double h0 = A->h0_bits / (double)A->values, h1 = A->h1_bits / (double)A->values;
		/* best: over every coder that applies (auto included), so it
		 * counts huffman-2d where it exists. */
		double mean[NCODERS], best = INFINITY;
		for (int c = 0; c < NCODERS; c++) {
			mean[c] = bench_applies(bench_coders[c], bits[b]) ? (double)A->bytes[c] / msg : -1;
			if (mean[c] >= 0 && mean[c] < best)
				best = mean[c];
		}
		double ratio = best / mean[COL_HUFFMAN], paper = (double)A->paper_bytes / msg, pratio = best / paper;
		ratio_sum[b] += ratio;
		paper_sum[b] += pratio;
		r0_sum[b] += mean[COL_RANS0] / (h0 * vpi / 8);
		a0_sum[b] += mean[COL_ARITH0] / (h0 * vpi / 8);
		ratio_n[b]++;
		if (json) {
			printf("%s\n{\"cut\": %d, \"bits\": %d, \"tensors\": %.4g, \"values\": %.6g, \"entropy0\": %.6g, "
			       "\"entropy1\": %.6g, \"entropy0_bytes\": %.6g, \"huffman_optimal_payload_bytes\": %.6g, \"bytes\": {",
			       first ? "" : ",", k, bits[b], (double)A->tensors / msg, vpi, h0, h1, h0 * vpi / 8,
			       A->huff_opt_bits / 8 / msg);
			/* a coder that cannot carry these bits (huffman-2d above 4): null */
			for (int c = 0; c < NCODERS; c++)
				json_num(c, key_name(bench_coders[c]), mean[c]);
			printf(", \"jalad_paper\": %.6g}, \"payload_bytes\": {", paper);
			for (int c = 0; c < NCODERS; c++)
				json_num(c, key_name(bench_coders[c]), mean[c] < 0 ? -1 : (double)A->payload[c] / msg);
			printf("}, \"encode_mbps\": {");
			double mb = (double)A->values * 4 / 1e6; /* MB of float32 feature map */
			for (int c = 0; c < NCODERS; c++)
				json_num(c, key_name(bench_coders[c]),
					 mean[c] < 0 ? -1 : A->enc_ns[c] ? mb / ((double)A->enc_ns[c] / 1e9) : 0);
			printf("}, \"decode_mbps\": {");
			for (int c = 0; c < NCODERS; c++)
				json_num(c, key_name(bench_coders[c]),
					 mean[c] < 0 ? -1 : A->dec_ns[c] ? mb / ((double)A->dec_ns[c] / 1e9) : 0);
			printf("}, \"best_vs_huffman\": %.6g, \"best_vs_paper\": %.6g, \"samples\": %llu}", ratio, pratio,
			       (unsigned long long)A->messages);
			first = 0;
		} else {
			printf("%-4d %4d %8.0f %6.3f %6.3f %9.1f", k, bits[b], vpi, h0, h1, h0 * vpi / 8);
			for (int c = 0; c < NCODERS; c++) {
				if (mean[c] < 0)
					printf(" %9s", "-");
				else
					printf(" %9.1f", mean[c]);
			}
			printf(" %9.1f %9.1f %6.3f %6.3f\n", A->huff_opt_bits / 8 / msg, paper, ratio, pratio);
		}
	}
	if (json) {
		printf("\n]\n");
	} else {
		printf("\nbytes are means per image (container with headers and CRC) over %llu samples; shared tables\n"
		       "learned on the %llu before them. H0/H1: order-0/1 entropy (bits/value); huff-opt: optimal\n"
		       "(unlimited-length) Huffman payload for each tensor's histogram, in whole bytes, without\n"
		       "its table; best/H: best coder / per-message Huffman.\n"
		       "Tensors read only by a ReLU are quantized over the range of max(x, 0) (jalad's default);\n"
		       "paper: JALAD as published (plain min-max range, per-message Huffman); best/P: best / paper.\n",
		       (unsigned long long)(ns - learn_n), (unsigned long long)learn_n);
		printf("\naverages over the cuts:\n%4s %12s %12s %16s %16s\n", "bits", "best/huffman", "best/paper",
		       "rans0/H0 bytes", "arith0/H0 bytes");
		for (int b = 0; b < nb; b++)
			if (ratio_n[b])
				printf("%4d %12.3f %12.3f %16.4f %16.4f\n", bits[b], ratio_sum[b] / ratio_n[b],
				       paper_sum[b] / ratio_n[b], r0_sum[b] / ratio_n[b], a0_sum[b] / ratio_n[b]);
		printf("\nthroughput, MB/s of float32 feature map over all cuts (1 thread):\n%4s", "bits");
		for (int c = 0; c < NCODERS; c++)
			printf(" %16s", key_name(bench_coders[c]));
		printf("\n");
		for (int b = 0; b < nb; b++) {
			printf("%4d", bits[b]);
			for (int c = 0; c < NCODERS; c++) {
				double v = 0, te = 0, td = 0;
				if (!bench_applies(bench_coders[c], bits[b])) {
					printf(" %16s", "-");
					continue;
				}
				for (int kk = 0; kk < ncut; kk++) {
					struct acc *A = &acc[kk * nb + b];
					v += (double)A->values * 4;
					te += (double)A->enc_ns[c];
					td += (double)A->dec_ns[c];
				}
				char cell[32];
				snprintf(cell, sizeof cell, "%.0f/%.0f", te > 0 ? v / te * 1e3 : 0, td > 0 ? v / td * 1e3 : 0);
				printf(" %16s", cell);
			}
			printf("\n");
		}
		printf("(encode/decode; quantize+encode and decode+dequantize; %.1f s total)\n", secs);
	}
	rc = EXIT_OK;
	goto done;
fail:
	tool_error("codec-bench", st);
done:
	for (int i = 0; acc && i < ncut * nb; i++) {
		free(acc[i].hist);
		free(acc[i].hist2d);
		jalad_codec_dict_free(acc[i].dict);
	}
	free(acc);
	free(sym);
	free(buf);
	free(x);
	free(dec);
	free(leaf);
	free(inner);
	free(th);
	jalad_codec_ctx_free(ctx);
	jalad_cut_capture_free(cc);
	jalad_dataset_free(ds);
	jalad_model_free(m);
	return rc;
}
