/* jalad run MODEL [--input FILE | --random] [--threads N] [--repeat R]
 * [--backend B] [--dump-output FILE.pb] [--json]: output summary + latency. */
#include <stdlib.h>
#include <string.h>

#include "tools.h"

static const char *run_help =
	"usage: jalad run MODEL [--input FILE.pb|.png|.jpg | --random] [--threads N] [--repeat R]\n"
	"                 [--backend ref|dnnl] [--scale S --mean M --std D] [--dump-output OUT.pb] [--json]\n"
	"Runs MODEL on one input (default --random) R times (default 10) after one warm-up run;\n"
	"prints the output (top-5 for a classifier) and the median latency.\n"
	"--json prints {\"median_ms\", \"runs\", \"top5\", ...}.\n";

int cmd_run(int argc, char **argv)
{
	const char *path = NULL, *input = NULL, *backend = NULL, *dump = NULL;
	const char *scale = NULL, *mean = NULL, *stdv = NULL;
	long threads = 0, repeat = 10;
	int json = 0, rc = EXIT_FAIL;
	const struct tool_sopt sopts[] = {
		{ "--input", &input, "a file" },
		{ "--backend", &backend, "a name" },
		{ "--dump-output", &dump, "a file" },
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
		} else if (!strcmp(argv[i], "--random")) {
			input = NULL;
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

	struct jalad_model *m = NULL;
	struct jalad_session *s = NULL;
	struct jalad_tensor in = { 0 };
	double *times = NULL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("run", st);
	struct jalad_preprocess pp;
	int have_pp = 0;
	if (input && (strstr(input, ".png") || strstr(input, ".jp"))) {
		if ((rc = tool_preprocess("run", m, scale, mean, stdv, &pp)) != 0)
			goto done;
		have_pp = 1;
	}
	if ((rc = tool_load_input("run", m, input, have_pp ? &pp : NULL, &in)) != 0)
		goto done;
	rc = EXIT_FAIL;
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
	rc = EXIT_OK;
done:
	free(times);
	jalad_tensor_release(&in);
	jalad_session_free(s);
	jalad_model_free(m);
	return rc;
}
