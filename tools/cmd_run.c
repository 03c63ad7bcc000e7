/* jalad run MODEL [--input FILE | --random] [--threads N] [--repeat R]
 * [--backend B] [--dump-output FILE.pb] [--json]: output summary + latency. */
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static const char *run_help =
	"usage: jalad run MODEL [--input FILE.pb|.png|.jpg | --random] [--threads N] [--repeat R]\n"
	"                 [--backend ref|dnnl] [--scale S --mean M --std D] [--dump-output OUT.pb] [--json]\n"
	"                 [--dump-input IN.pb] [--check-splits]\n"
	"Runs MODEL on one input (default --random) R times (default 10) after one warm-up run;\n"
	"prints the output (top-5 for a classifier) and the median latency.\n"
	"--json prints {\"median_ms\", \"runs\", \"top5\", ...}.\n"
	"--check-splits also runs every cut k as an edge session on [0, k) and a cloud session\n"
	"on [k, n) fed with the tensors crossing k, and checks each output is bit-identical to\n"
	"the full run (exit 1 if not).\n";

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

int cmd_run(int argc, char **argv)
{
	const char *path = NULL, *input = NULL, *backend = NULL, *dump = NULL, *dump_in = NULL;
	const char *scale = NULL, *mean = NULL, *stdv = NULL;
	long threads = 0, repeat = 10;
	int json = 0, rc = EXIT_FAIL, check_splits = 0, use_random = 0;
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
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("run", st);
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
	times = malloc((size_t)repeat * sizeof *times);
	if (!times)
		goto done;
	st = jalad_session_run(s, &in, 1); /* warm-up */
	for (long r = 0; st == JALAD_OK && r < repeat; r++) {
		uint64_t a = jalad_now_ns_tool();
		st = jalad_session_run(s, &in, 1);
		times[r] = (double)(jalad_now_ns_tool() - a) / 1e6;
	}
	if (st != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	double med = tool_median(times, (int)repeat);
	struct jalad_tensor out;
	jalad_session_output(s, 0, &out);
	if (dump && (st = jalad_tensor_write_pb(dump, &out, "output")) != JALAD_OK) {
		tool_error("run", st);
		goto done;
	}
	int64_t n = jalad_tensor_numel(&out);
	int top[5], ntop = 0;
	if (out.dtype == JALAD_DTYPE_FLOAT32) {
		const float *v = out.data;
		for (; ntop < 5 && ntop < n; ntop++) {
			int best = -1;
			for (int64_t i = 0; i < n; i++) {
				int used = 0;
				for (int k = 0; k < ntop; k++)
					used |= top[k] == i;
				if (!used && (best < 0 || v[i] > v[best]))
					best = (int)i;
			}
			top[ntop] = best;
		}
	}
	char shape[96];
	tool_shape_str(out.ndim, out.dims, shape, sizeof shape);
	if (json) {
		printf("{\"model\": ");
		tool_json_str(stdout, path);
		printf(", \"backend\": \"%s\", \"threads\": %ld, \"runs\": %ld, \"median_ms\": %.4f, "
		       "\"session_create_ms\": %.3f, \"output_shape\": \"%s\", \"top5\": [",
		       jalad_session_backend(s), threads, repeat, med, create_ms, shape);
		for (int k = 0; k < ntop; k++)
			printf("%s{\"index\": %d, \"value\": %.6g}", k ? ", " : "", top[k], ((const float *)out.data)[top[k]]);
		printf("]}\n");
	} else {
		printf("output: %s (%s)\n", shape, jalad_dtype_name(out.dtype));
		for (int k = 0; k < ntop; k++)
			printf("  top%d: class %d  %.6g\n", k + 1, top[k], ((const float *)out.data)[top[k]]);
		printf("median: %.3f ms over %ld runs (%s backend, session created in %.1f ms)\n", med, repeat,
		       jalad_session_backend(s), create_ms);
	}
	rc = check_splits ? run_check_splits(m, &so, &in, &out, json) : EXIT_OK;
done:
	free(times);
	jalad_tensor_release(&in);
	jalad_session_free(s);
	jalad_model_free(m);
	return rc;
}
