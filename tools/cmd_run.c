/* jalad run MODEL [--input FILE | --random] [--threads N] [--repeat R]
 * [--min-time MS] [--backend B] [--dump-output FILE.pb] [--json] [--profile]: output
 * summary + latency (+ time per node and per op type). */
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static const char *run_help =
	"usage: jalad run MODEL [--input FILE.pb|.png|.jpg | --random] [--threads N] [--repeat R]\n"
	"                 [--min-time MS] [--backend ref|dnnl] [--scale S --mean M --std D]\n"
	"                 [--dump-output OUT.pb] [--json] [--dump-input IN.pb] [--check-splits]\n"
	"                 [--profile [--top K]]\n"
	"Runs MODEL on one input (default --random) R times (default 10) after one warm-up run;\n"
	"prints the output (top-5 for a classifier) and the median latency.\n"
	"--min-time MS goes on past R timed runs until they add up to MS milliseconds (a steadier\n"
	"median for fast models; at most 1000000 runs).\n"
	"--json prints {\"median_ms\", \"runs\", \"top5\", ...}.\n"
	"--check-splits also runs every cut k as an edge session on [0, k) and a cloud session\n"
	"on [k, n) fed with the tensors crossing k, and checks each output is bit-identical to\n"
	"the full run (exit 1 if not).\n"
	"--profile then runs R more times with per-node timing and prints the median time per\n"
	"op type and per node (the K slowest, default 15; --json lists all), slowest first.\n"
	"Layout reorders count as their own rows (op \"Reorder\", named after the node that\n"
	"needed them); nodes the backend fused run as one row (\"Conv+Add+Relu\"), named after\n"
	"the first; \"impl\" is the kernel (\"ref\": the plain C reference).\n";

/* Every cut k: [0, k) on one session, [k, n) on another fed with the
 * crossing tensors; the output must equal the full run's bit for bit. */
static int run_check_splits(const struct jalad_model *m, const struct jalad_session_opts *so,
			    const struct jalad_tensor *in, const struct jalad_tensor *full, int json)
{
	struct jalad_session *edge = NULL, *cloud = NULL;
	struct jalad_tensor vals[64];
	int ids[64], n = jalad_model_node_count(m), bad = 0, worst_k = -1, rc = EXIT_FAIL;
	int in_id = jalad_model_input(m, 0), out_id = jalad_model_output(m, 0);
	size_t nbytes = (size_t)jalad_tensor_numel(full) * sizeof(float);
	float *ref = malloc(nbytes ? nbytes : 1);
	enum jalad_status st;

	if (!ref || full->dtype != JALAD_DTYPE_FLOAT32)
		goto done;
	memcpy(ref, full->data, nbytes);
	if ((st = jalad_session_create(m, so, &edge)) != JALAD_OK ||
	    (st = jalad_session_create(m, so, &cloud)) != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	for (int k = 0; k <= n; k++) {
		int cnt = 0;
		struct jalad_tensor out;
		if ((st = jalad_model_crossing(m, k, ids, 64, &cnt)) != JALAD_OK || cnt > 64) {
			fprintf(stderr, "jalad run: cut %d: %d crossing tensors\n", k, cnt);
			goto done;
		}
		if (k > 0 && (st = jalad_session_run_range(edge, 0, k, &in_id, in, 1)) != JALAD_OK)
			goto fail_st;
		for (int j = 0; j < cnt; j++) {
			if (k == 0)
				vals[j] = *in;
			else if ((st = jalad_session_tensor(edge, ids[j], &vals[j])) != JALAD_OK)
				goto fail_st;
		}
		if (k < n) {
			if ((st = jalad_session_run_range(cloud, k, n, ids, vals, cnt)) != JALAD_OK ||
			    (st = jalad_session_output(cloud, 0, &out)) != JALAD_OK)
				goto fail_st;
		} else if ((st = jalad_session_tensor(edge, out_id, &out)) != JALAD_OK) {
			goto fail_st;
		}
		if (out.dtype != JALAD_DTYPE_FLOAT32 || (size_t)jalad_tensor_numel(&out) * sizeof(float) != nbytes ||
		    memcmp(out.data, ref, nbytes) != 0) {
			bad++;
			if (worst_k < 0)
				worst_k = k;
		}
	}
	if (json)
		printf("{\"check_splits\": {\"cuts\": %d, \"mismatched\": %d, \"first_mismatch\": %d}}\n", n + 1, bad,
		       worst_k);
	else
		printf("split check: %d cuts, %d differ from the full run%s\n", n + 1, bad,
		       bad ? " (first: see --json)" : " (all bit-identical)");
	if (bad)
		fprintf(stderr, "jalad run: %d of %d cuts do not reproduce the full run (first at cut %d)\n", bad,
			n + 1, worst_k);
	rc = bad ? EXIT_FAIL : EXIT_OK;
	goto done;
fail_st:
	tool_error("run", st);
done:
	free(ref);
	jalad_session_free(edge);
	jalad_session_free(cloud);
	return rc;
}


/* ------------------------------------------------------------ --profile */

struct prof_row {
	char op[48];          /* op type, "A+B" for a fused group, "Reorder" */
	const char *name;     /* node name (owned by the model) */
	const char *impl;     /* kernel (owned by the session) */
	int node;
	int count;            /* op-type rows: nodes or groups summed */
	double ms;
};

struct prof {
	int runs, n_nodes, n_rows, n_types;
	double sum_ms;        /* sum of the rows: medians per node */
	struct prof_row *rows, *types;
};

static int cmp_row(const void *a, const void *b)
{
	const struct prof_row *x = a, *y = b;
	if (x->ms != y->ms)
		return x->ms < y->ms ? 1 : -1;
	return x->node - y->node;
}

static void prof_free(struct prof *p)
{
	free(p->rows);
	free(p->types);
	memset(p, 0, sizeof *p);
}

/* Add ms to the op-type row of op (made on first use). */
static void prof_type_add(struct prof *p, const char *op, double ms)
{
	int k = 0;
	while (k < p->n_types && strcmp(p->types[k].op, op) != 0)
		k++;
	if (k == p->n_types) {
		memset(&p->types[k], 0, sizeof p->types[k]);
		snprintf(p->types[k].op, sizeof p->types[k].op, "%s", op);
		p->types[k].node = k;
		p->n_types++;
	}
	p->types[k].count++;
	p->types[k].ms += ms;
}

/* runs profiled runs of s on in: per node the median of its time, split
 * into the kernel (reorders excluded) and its reorders. */
static enum jalad_status prof_collect(const struct jalad_model *m, struct jalad_session *s,
				      const struct jalad_tensor *in, int runs, struct prof *p)
{
	int n = jalad_model_node_count(m);
	size_t zn = (size_t)(n ? n : 1), zr = (size_t)runs;
	enum jalad_status st = JALAD_ERR_NOMEM;
	double *ns = malloc(zn * zr * sizeof *ns), *rns = malloc(zn * zr * sizeof *rns);
	double *col = malloc(zr * sizeof *col);
	memset(p, 0, sizeof *p);
	p->rows = calloc(2 * zn, sizeof *p->rows);
	p->types = calloc(2 * zn, sizeof *p->types);
	if (!ns || !rns || !col || !p->rows || !p->types)
		goto done;
	p->runs = runs;
	p->n_nodes = n;
	jalad_session_set_profiling(s, 1);
	for (int r = 0; r < runs; r++) {
		if ((st = jalad_session_run(s, in, 1)) != JALAD_OK)
			goto done;
		for (int i = 0; i < n; i++) {
			struct jalad_node_prof np;
			jalad_session_node_profile(s, i, &np);
			ns[(size_t)i * zr + (size_t)r] = (double)np.ns / 1e6;
			rns[(size_t)i * zr + (size_t)r] = (double)np.reorder_ns / 1e6;
		}
	}
	jalad_session_set_profiling(s, 0);
	for (int i = 0; i < n; i++) {
		struct jalad_node_prof np;
		struct jalad_node_info info;
		jalad_session_node_profile(s, i, &np);
		if (np.group_end <= i || jalad_model_node_info(m, i, &info) != JALAD_OK)
			continue; /* inside a group, or not run */
		memcpy(col, ns + (size_t)i * zr, zr * sizeof *col);
		double t = tool_median(col, runs);
		memcpy(col, rns + (size_t)i * zr, zr * sizeof *col);
		double re = tool_median(col, runs);
		if (re > t)
			re = t;
		struct prof_row *row = &p->rows[p->n_rows++];
		int len = snprintf(row->op, sizeof row->op, "%s", info.op_type);
		for (int k = i + 1; k < np.group_end && len < (int)sizeof row->op; k++) {
			struct jalad_node_info ki;
			if (jalad_model_node_info(m, k, &ki) == JALAD_OK)
				len += snprintf(row->op + len, sizeof row->op - (size_t)len, "+%s", ki.op_type);
		}
		row->name = info.name;
		row->impl = np.impl ? np.impl : "";
		row->node = i;
		row->count = 1;
		row->ms = t - re;
		prof_type_add(p, row->op, row->ms);
		if (re > 0) {
			struct prof_row *rr = &p->rows[p->n_rows++];
			*rr = *row;
			snprintf(rr->op, sizeof rr->op, "Reorder");
			rr->impl = "reorder";
			rr->ms = re;
			prof_type_add(p, "Reorder", re);
		}
		p->sum_ms += t;
	}
	qsort(p->rows, (size_t)p->n_rows, sizeof *p->rows, cmp_row);
	qsort(p->types, (size_t)p->n_types, sizeof *p->types, cmp_row);
	st = JALAD_OK;
done:
	free(ns);
	free(rns);
	free(col);
	if (st != JALAD_OK) {
		jalad_session_set_profiling(s, 0);
		prof_free(p);
	}
	return st;
}

/* The "profile" member of --json (every row). */
static void prof_print_json(const struct prof *p)
{
	printf(", \"profile\": {\"runs\": %d, \"sum_ms\": %.4f, \"op_types\": [", p->runs, p->sum_ms);
	for (int k = 0; k < p->n_types; k++) {
		const struct prof_row *t = &p->types[k];
		printf("%s{\"op\": ", k ? ", " : "");
		tool_json_str(stdout, t->op);
		printf(", \"count\": %d, \"ms\": %.4f, \"share\": %.4f}", t->count, t->ms,
		       p->sum_ms > 0 ? t->ms / p->sum_ms : 0.0);
	}
	printf("], \"nodes\": [");
	for (int k = 0; k < p->n_rows; k++) {
		const struct prof_row *r = &p->rows[k];
		printf("%s{\"node\": %d, \"name\": ", k ? ", " : "", r->node);
		tool_json_str(stdout, r->name ? r->name : "");
		printf(", \"op\": ");
		tool_json_str(stdout, r->op);
		printf(", \"impl\": ");
		tool_json_str(stdout, r->impl);
		printf(", \"ms\": %.4f}", r->ms);
	}
	printf("]}");
}

static void prof_print_text(const struct prof *p, int top)
{
	char name[64], impl[64];
	printf("\nprofile: median of %d runs per node, sum %.3f ms\n", p->runs, p->sum_ms);
	printf("  %-24s %6s %10s %7s\n", "op type", "count", "ms", "share");
	for (int k = 0; k < p->n_types; k++) {
		const struct prof_row *t = &p->types[k];
		printf("  %-24s %6d %10.3f %6.1f%%\n", tool_text_str(t->op, name, sizeof name), t->count, t->ms,
		       p->sum_ms > 0 ? 100.0 * t->ms / p->sum_ms : 0.0);
	}
	int shown = p->n_rows < top ? p->n_rows : top;
	printf("  %-5s %-24s %-20s %10s %7s  %s\n", "node", "op", "kernel", "ms", "share", "name");
	for (int k = 0; k < shown; k++) {
		const struct prof_row *r = &p->rows[k];
		tool_text_str(r->name ? r->name : "", name, sizeof name);
		printf("  %-5d %-24s %-20s %10.3f %6.1f%%  %s\n", r->node, r->op,
		       tool_text_str(r->impl, impl, sizeof impl), r->ms,
		       p->sum_ms > 0 ? 100.0 * r->ms / p->sum_ms : 0.0, name);
	}
	if (shown < p->n_rows)
		printf("  ... %d more rows (--top K, or --json for all)\n", p->n_rows - shown);
}

int cmd_run(int argc, char **argv)
{
	const char *path = NULL, *input = NULL, *backend = NULL, *dump = NULL, *dump_in = NULL;
	const char *scale = NULL, *mean = NULL, *stdv = NULL;
	long threads = 0, repeat = 10, top = 15, min_ms = 0, runs = 0;
	int json = 0, rc = EXIT_FAIL, check_splits = 0, use_random = 0, profile = 0;
	struct prof prof = { 0 };
	const struct tool_sopt sopts[] = {
		{ "--input", &input, "a file" },
		{ "--backend", &backend, "a name" },
		{ "--dump-output", &dump, "a file" },
		{ "--dump-input", &dump_in, "a file" },
		{ "--scale", &scale, "a value" },
		{ "--mean", &mean, "a value" },
		{ "--std", &stdv, "a value" },
	};
	const struct tool_iopt iopts[] = {
		{ "--threads", 1, 256, &threads, "a number 1..256" },
		{ "--repeat", 1, 1000000, &repeat, "a number >= 1" },
		{ "--min-time", 0, 3600000, &min_ms, "milliseconds 0..3600000" },
		{ "--top", 1, 1000000, &top, "a number >= 1" },
	};
	for (int i = 1; i < argc; i++) {
		int taken = tool_opts("run", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(run_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = 1;
		} else if (!strcmp(argv[i], "--check-splits")) {
			check_splits = 1;
		} else if (!strcmp(argv[i], "--profile")) {
			profile = 1;
		} else if (!strcmp(argv[i], "--random")) {
			use_random = 1;
		} else if (argv[i][0] == '-') {
			return tool_usage("run", "unknown option '%s'", argv[i]);
		} else if (!path) {
			path = argv[i];
		} else {
			return tool_usage("run", "more than one model given");
		}
	}
	if (!path)
		return tool_usage("run", "no model given");
	if (use_random && input)
		return tool_usage("run", "give --input FILE or --random, not both");
	int image_in = input && (strcasestr(input, ".png") || strcasestr(input, ".jp"));
	if ((scale || mean || stdv) && !image_in)
		return tool_usage("run", "%s applies only to an image --input (.png, .jpg), not to %s",
				  scale ? "--scale" : mean ? "--mean" : "--std", input ? input : "--random");
	if ((dump && tool_check_output("run", "--dump-output", dump)) ||
	    (dump_in && tool_check_output("run", "--dump-input", dump_in)))
		return EXIT_FAIL;

	struct jalad_model *m = NULL;
	struct jalad_session *s = NULL;
	struct jalad_tensor in = { 0 };
	double *times = NULL;
	uint64_t tl = jalad_now_ns_tool();
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("run", st);
	double load_ms = (double)(jalad_now_ns_tool() - tl) / 1e6;
	struct jalad_preprocess pp;
	int have_pp = 0;
	if (image_in) {
		if ((rc = tool_preprocess("run", m, scale, mean, stdv, &pp)) != 0)
			goto done;
		have_pp = 1;
	}
	if ((rc = tool_load_input("run", m, input, have_pp ? &pp : NULL, &in)) != 0)
		goto done;
	rc = EXIT_FAIL;
	if (dump_in && (st = jalad_tensor_write_pb(dump_in, &in, "input")) != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	struct jalad_session_opts so = { .threads = (int)threads, .backend = backend };
	uint64_t t0 = jalad_now_ns_tool();
	st = jalad_session_create(m, &so, &s);
	double create_ms = (double)(jalad_now_ns_tool() - t0) / 1e6;
	if (st != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	size_t cap = (size_t)repeat;
	times = malloc(cap * sizeof *times);
	if (!times)
		goto done;
	st = jalad_session_run(s, &in, 1); /* warm-up */
	for (double total = 0; st == JALAD_OK && (runs < repeat || (total < (double)min_ms && runs < 1000000)); runs++) {
		if ((size_t)runs == cap) {
			double *t = realloc(times, 2 * cap * sizeof *times);
			if (!t)
				break; /* the runs so far are the sample */
			times = t;
			cap *= 2;
		}
		uint64_t a = jalad_now_ns_tool();
		st = jalad_session_run(s, &in, 1);
		times[runs] = (double)(jalad_now_ns_tool() - a) / 1e6;
		total += times[runs];
	}
	if (st != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	double med = tool_median(times, (int)runs);
	/* After the timed runs, so that timing the nodes cannot slow them. */
	if (profile && (st = prof_collect(m, s, &in, repeat < 1000 ? (int)repeat : 1000, &prof)) != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	struct jalad_tensor out;
	jalad_session_output(s, 0, &out);
	if (dump && (st = jalad_tensor_write_pb(dump, &out, "output")) != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	int64_t n = jalad_tensor_numel(&out);
	int top5[5], ntop = 0;
	if (out.dtype == JALAD_DTYPE_FLOAT32) {
		const float *v = out.data;
		for (; ntop < 5 && ntop < n; ntop++) {
			int best = -1;
			for (int64_t i = 0; i < n; i++) {
				int used = 0;
				for (int k = 0; k < ntop; k++)
					used |= top5[k] == i;
				if (!used && (best < 0 || v[i] > v[best]))
					best = (int)i;
			}
			top5[ntop] = best;
		}
	}
	char shape[96];
	tool_shape_str(out.ndim, out.dims, shape, sizeof shape);
	if (json) {
		printf("{\"model\": ");
		tool_json_str(stdout, path);
		printf(", \"backend\": \"%s\", \"threads\": %ld, \"runs\": %ld, \"median_ms\": %.4f, "
		       "\"model_load_ms\": %.3f, \"session_create_ms\": %.3f, \"output_shape\": \"%s\", \"top5\": [",
		       jalad_session_backend(s), threads, runs, med, load_ms, create_ms, shape);
		for (int k = 0; k < ntop; k++)
			printf("%s{\"index\": %d, \"value\": %.6g}", k ? ", " : "", top5[k], ((const float *)out.data)[top5[k]]);
		printf("]");
		if (profile)
			prof_print_json(&prof);
		printf("}\n");
	} else {
		printf("output: %s (%s)\n", shape, jalad_dtype_name(out.dtype));
		for (int k = 0; k < ntop; k++)
			printf("  top%d: class %d  %.6g\n", k + 1, top5[k], ((const float *)out.data)[top5[k]]);
		printf("median: %.3f ms over %ld runs (%s backend, model loaded in %.1f ms, session created in %.1f ms)\n",
		       med, runs, jalad_session_backend(s), load_ms, create_ms);
		if (profile)
			prof_print_text(&prof, (int)top);
	}
	rc = check_splits ? run_check_splits(m, &so, &in, &out, json) : EXIT_OK;
done:
	prof_free(&prof);
	free(times);
	jalad_tensor_release(&in);
	jalad_session_free(s);
	jalad_model_free(m);
	return rc;
}
