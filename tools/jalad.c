/* The jalad command: one subcommand per file, dispatched here. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#include "tools.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "info", cmd_info, "per-node ops, shapes, bytes, FLOPs, parameters of a model" },
	{ "run", cmd_run, "run a model on an input and time it" },
	{ "eval", cmd_eval, "accuracy of a classifier over a dataset" },
	{ "conform", cmd_conform, "run ONNX backend test cases (model.onnx + test_data_set_*)" },
	{ "profile", cmd_profile, "per-node latency profile of a model on this machine (JSON)" },
	{ "calibrate", cmd_calibrate, "accuracy and bytes at every cut x bit width x coder (JSON)" },
	{ "plan", cmd_plan, "best cut, bits and coder for a bandwidth, baselines, sweep" },
	{ "codec-bench", cmd_codec_bench, "feature-map codec sizes, entropy and speed at every cut" },
	{ "serve", cmd_serve, "the cloud server: runs [k, n) for edges over TCP/TLS" },
	{ "edge", cmd_edge, "the edge: runs [0, k), sends the cut, adapts to the uplink" },
	{ "delay", cmd_delay, "hold packets of an NFQUEUE for a fixed delay (emulated links)" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: jalad COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-14s %s\n", "help", "this text; `jalad COMMAND --help` for a command");
	fprintf(f, "  %-14s %s\n", "version", "print the version");
}

int tool_error(const char *cmd, enum jalad_status st)
{
	const char *d = jalad_last_error();
	fprintf(stderr, "jalad %s: %s%s%s\n", cmd, jalad_status_str(st), *d ? ": " : "", d);
	return EXIT_FAIL;
}

int tool_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "jalad %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see `jalad %s --help`)\n", cmd);
	return EXIT_USAGE;
}

int tool_parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int tool_parse_bits(const char *s, int allow_float, int *bits, int cap)
{
	char buf[256];
	int n = 0;
	if (strlen(s) >= sizeof buf)
		return -1;
	strcpy(buf, s);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		long a, b;
		char *dash = strchr(tok, '-');
		if (allow_float && (!strcmp(tok, "float") || !strcmp(tok, "float32") || !strcmp(tok, "f32"))) {
			a = b = 0;
		} else if (dash) {
			*dash = 0;
			if (tool_parse_int(tok, 1, 16, &a) || tool_parse_int(dash + 1, 1, 16, &b) || a > b)
				return -1;
		} else if (tool_parse_int(tok, allow_float ? 0 : 1, 16, &a)) {
			return -1;
		} else {
			b = a;
		}
		for (long v = a; v <= b; v++) {
			if (n == cap || (v > 8 && v != 16))
				return -1;
			bits[n++] = (int)v;
		}
	}
	return n;
}

int tool_parse_float(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

int tool_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) != 0)
		return 0;
	if (argv[*i][n] == '=') {
		*val = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

int tool_opts(const char *cmd, int argc, char **argv, int *i, const struct tool_sopt *s, size_t ns,
	      const struct tool_iopt *n, size_t nn)
{
	const char *v;
	int r;
	for (size_t k = 0; k < ns; k++)
		if ((r = tool_opt(argc, argv, i, s[k].name, &v))) {
			if (r < 0)
				return tool_usage(cmd, "%s needs %s", s[k].name, s[k].what), -1;
			*s[k].dst = v;
			return 1;
		}
	for (size_t k = 0; k < nn; k++)
		if ((r = tool_opt(argc, argv, i, n[k].name, &v))) {
			if (r < 0 || tool_parse_int(v, n[k].lo, n[k].hi, n[k].dst))
				return tool_usage(cmd, "%s needs %s", n[k].name, n[k].what), -1;
			return 1;
		}
	return 0;
}

void tool_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap)
{
	size_t p = 0;
	buf[0] = 0;
	if (ndim == 0)
		snprintf(buf, cap, "scalar");
	for (int d = 0; d < ndim && p + 1 < cap; d++)
		p += (size_t)snprintf(buf + p, cap - p, "%s%lld", d ? "x" : "", (long long)dims[d]);
}

void tool_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double tool_median(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		if (argc > 2) {
			char *hargv[] = { argv[2], "--help", NULL };
			for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].fn(2, hargv);
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("jalad %s\n", JALAD_VERSION_STRING);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, cmd))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "jalad: unknown command '%s'\n", cmd);
	usage(stderr);
	return EXIT_USAGE;
}
