/* Shared declarations of the jalad command's subcommands. Tools use only
 * the public API in include/jalad/. */
#ifndef JALAD_TOOLS_H
#define JALAD_TOOLS_H

#include <stdio.h>

#include "jalad/jalad.h"
#include "jalad/data.h"

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_conform(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_codec_bench(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_edge(int argc, char **argv);
int cmd_delay(int argc, char **argv);

/* Print "jalad CMD: <status>: <detail>" on stderr and return EXIT_FAIL. */
int tool_error(const char *cmd, enum jalad_status st);
/* Print a usage error and return EXIT_USAGE. */
int tool_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Check before any long work that path (the value of option opt) can be
 * written: 0, or EXIT_FAIL after a message naming opt and path. Leaves an
 * existing file as it is and creates none. */
int tool_check_output(const char *cmd, const char *opt, const char *path);

/* Parse helpers: return 0 on success, -1 on a bad value. */
int tool_parse_int(const char *s, long lo, long hi, long *out);
int tool_parse_float(const char *s, double *out);
/* A bit-width list such as "1-8,16" into bits[cap] (each 1..8 or 16; with
 * allow_float also "float", "float32" or "f32" as 0). Returns the count,
 * or -1 on a bad list or more than cap widths. */
int tool_parse_bits(const char *s, int allow_float, int *bits, int cap);
/* Strictly parse "--name VALUE" / "--name=VALUE" at argv[*i]; on success
 * *val is set and *i advanced. Returns 1 if matched, 0 if not this option,
 * -1 if the value is missing. */
int tool_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* Table-driven options. A string option stores its value; an integer
 * option parses it within [lo, hi]. On a missing or bad value the usage
 * error says "NAME needs WHAT". */
struct tool_sopt {
	const char *name;
	const char **dst;
	const char *what;  /* e.g. "a dataset" */
};
struct tool_iopt {
	const char *name;
	long lo, hi;
	long *dst;
	const char *what;  /* e.g. "a number >= 1" */
};
/* If argv[*i] is one of the options, take it (advancing *i) and return 1;
 * 0 if it is none of them; -1 after printing a usage error (the caller
 * returns EXIT_USAGE). */
int tool_opts(const char *cmd, int argc, char **argv, int *i, const struct tool_sopt *s, size_t ns,
	      const struct tool_iopt *n, size_t nn);
#define TOOL_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Format a shape as "1x3x224x224". */
void tool_shape_str(int ndim, const int64_t *dims, char *buf, size_t cap);
/* JSON string with escapes: quotes, backslashes, C0/C1 controls and DEL
 * as \uXXXX; bytes that are not UTF-8 as \ufffd. Valid JSON for any s. */
void tool_json_str(FILE *f, const char *s);
/* s made safe for a terminal, in buf[cap] (returned): controls, DEL and
 * bytes that are not UTF-8 as \xNN, a backslash as \\; cut at cap. */
const char *tool_text_str(const char *s, char *buf, size_t cap);

/* Median of n doubles (sorts v). */
double tool_median(double *v, int n);

/* Preprocessing for a model's input 0: from the ONNX metadata written by
 * jalad's exporters, overridden by --scale/--mean/--std (comma lists) when
 * given (NULL = not given). */
int tool_preprocess(const char *cmd, const struct jalad_model *m, const char *scale, const char *mean,
		    const char *std, struct jalad_preprocess *pp);
/* Open a dataset spec for model m; label_offset >= 0 is added to its
 * labels, < 0 means automatic (imagenet:DIR: the model's
 * jalad.labels.offset metadata, else 1 for a 1001-way output). Returns 0,
 * or an exit status after printing the error. */
int tool_open_dataset(const char *cmd, const char *spec, const struct jalad_model *m, long label_offset,
		      struct jalad_dataset **ds);
/* Fill a model input tensor from FILE.pb, .png/.jpg/.jpeg, or random data
 * (path NULL); data is malloc'd (free with jalad_tensor_release). */
int tool_load_input(const char *cmd, const struct jalad_model *m, const char *path,
		    const struct jalad_preprocess *pp, struct jalad_tensor *out);
/* Monotonic clock, ns. */
uint64_t jalad_now_ns_tool(void);
/* Indices of the k largest of n floats, largest first, ties to the lower
 * index; -1 past n. */
void tool_topk(const float *v, int64_t n, int *idx, int k);
/* Index of the largest of n floats. */
int tool_argmax(const float *v, int64_t n);

#endif
