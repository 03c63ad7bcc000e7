/* The jalad command: one subcommand per file, dispatched here. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

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
	/* The detail quotes names from the model: escaped for the terminal. */
	char d[1024];
	tool_text_str(jalad_last_error(), d, sizeof d);
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

int tool_check_output(const char *cmd, const char *opt, const char *path)
{
	/* Open as the final write will (an existing file is kept as it is, a
	 * new one is removed again): fails on a missing folder, a read-only
	 * file or file system, a folder given as the file. */
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	int created = 0;
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		created = fd >= 0;
	}
	if (fd < 0) {
		fprintf(stderr, "jalad %s: %s '%s': cannot write: %s\n", cmd, opt, path, strerror(errno));
		return EXIT_FAIL;
	}
	close(fd);
	if (created)
		unlink(path);
	return 0;
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

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 (a stray or
 * overlong byte, a surrogate, past U+10FFFF, cut short). */
static int utf8_len(const unsigned char *s)
{
	unsigned c = s[0], n, cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 3, cp = c & 0x07;
	else
		return 0;
	for (unsigned i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return (int)n + 1;
}

/* A C1 control (U+0080..U+009F): some terminals act on these too. */
static int is_c1(const unsigned char *s, int len)
{
	return len == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

void tool_json_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	fputc('"', f);
	while (*s) {
		int len = utf8_len(s);
		if (*s == '"' || *s == '\\') {
			fprintf(f, "\\%c", *s);
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(f, "\\u%04x", *s);
		} else if (len == 0) {
			fputs("\\ufffd", f); /* not UTF-8: JSON text must be */
			len = 1;
		} else if (is_c1(s, len)) {
			fprintf(f, "\\u%04x", s[1]);
		} else {
			fwrite(s, 1, (size_t)len, f);
		}
		s += len;
	}
	fputc('"', f);
}

const char *tool_text_str(const char *str, char *buf, size_t cap)
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t p = 0;
	if (!cap)
		return "";
	while (*s) {
		int len = utf8_len(s);
		char esc[8];
		size_t n;
		if (*s == '\\')
			n = (size_t)snprintf(esc, sizeof esc, "\\\\");
		else if (*s < 0x20 || *s == 0x7f || len == 0)
			n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", *s);
		else if (is_c1(s, len))
			n = (size_t)snprintf(esc, sizeof esc, "\\x%02x", s[1]);
		else
			n = 0;
		if (len == 0)
			len = 1;
		if (p + (n ? n : (size_t)len) + 1 > cap)
			break; /* cut at a whole character or escape */
		if (n)
			memcpy(buf + p, esc, n);
		else
			memcpy(buf + p, s, (size_t)len);
		p += n ? n : (size_t)len;
		s += len;
	}
	buf[p] = 0;
	return buf;
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
