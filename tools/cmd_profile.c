/* jalad profile MODEL [--backend B] [--threads N] [--repeat R] [--slowdown F]
 * [-o PROFILE.json]: per-node median latency of MODEL on this machine. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools.h"
#include "jalad/plan.h"

static const char *profile_help =
	"usage: jalad profile MODEL [--backend ref|dnnl] [--threads N] [--repeat R] [--slowdown F]\n"
	"                     [-o PROFILE.json] [--quiet]\n"
	"Measures the median latency of every node of MODEL over R runs (default 50, after 3\n"
	"warm-up runs) on N threads (default 1) and writes a profile (JSON, docs/formats.md);\n"
	"without -o the JSON goes to stdout.\n"
	"--slowdown F describes an edge device F times slower than this machine: node times\n"
	"are multiplied by F (a runtime emulates that device by sleeping (F-1) x each measured\n"
	"compute time). A summary table goes to stderr.\n";

int cmd_profile(int argc, char **argv)
{
	const char *path = NULL, *backend = NULL, *out = NULL;
	long threads = 1, repeat = 50;
	double slowdown = 1;
	int quiet = 0;
	const struct tool_sopt sopts[] = {
		{ "--backend", &backend, "a name" },
		{ "-o", &out, "a file" },
		{ "--output", &out, "a file" },
	};
	const struct tool_iopt iopts[] = {
		{ "--threads", 1, 256, &threads, "a number 1..256" },
		{ "--repeat", 1, 1000000, &repeat, "a number >= 1" },
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

	struct jalad_model *m = NULL;
	struct jalad_profile *p = NULL;
	char *json = NULL;
	int rc = EXIT_FAIL;
	enum jalad_status st = jalad_model_load(path, NULL, &m);
	if (st != JALAD_OK)
		return tool_error("profile", st);
	struct jalad_profile_opts po = { .backend = backend, .threads = (int)threads, .repeat = (int)repeat,
					 .slowdown = slowdown, .model_file = path };
	if ((st = jalad_profile_measure(m, &po, &p)) != JALAD_OK) {
		tool_error("profile", st);
		goto done;
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
		for (int i = 0; i < p->n_nodes; i++)
			fprintf(stderr, "%-5d %-28.28s %-18.18s %12.4f %12lld\n", i, p->nodes[i].name, p->nodes[i].op_type,
				p->nodes[i].ms, (long long)p->nodes[i].out_bytes);
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
