/*
 * jalad conform DIR...: run ONNX backend test cases.
 *
 * A case is a folder with model.onnx and test_data_set_N/{input,output}_K.pb.
 * Integer inputs (shapes, axes, indices) are bound as constants so that
 * static shape inference sees them; float inputs are fed at run time.
 * A case is skipped when loading reports an unsupported op, attribute or
 * dtype; it fails on any other error or a wrong output.
 */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools.h"

#define MAX_IO 32

struct conform_opts {
	const char *backend;
	int threads;
	int quiet;
	double rtol, atol;
};

struct counts {
	int passed, failed, skipped;
};

static int is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted subfolder names of dir (optionally only those starting with prefix). */
static int list_dirs(const char *dir, const char *prefix, char ***out)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	int n = 0, cap = 0;
	*out = NULL;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[4096];
		if (e->d_name[0] == '.')
			continue;
		if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (!is_dir(p))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nv = realloc(v, (size_t)cap * sizeof *v);
			if (!nv)
				break;
			v = nv;
		}
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof *v, cmp_str);
	*out = v;
	return n;
}

static void free_list(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

struct io_set {
	int n_in, n_out;
	struct jalad_tensor in[MAX_IO], out[MAX_IO];
	char in_name[MAX_IO][256];
};

static void io_free(struct io_set *io)
{
	for (int i = 0; i < io->n_in; i++)
		jalad_tensor_release(&io->in[i]);
	for (int i = 0; i < io->n_out; i++)
		jalad_tensor_release(&io->out[i]);
	io->n_in = io->n_out = 0;
}

static enum jalad_status io_read(const char *dir, struct io_set *io)
{
	char p[4200];
	memset(io, 0, sizeof *io);
	if (strlen(dir) > 4000)
		return JALAD_ERR_INVALID_ARG;
	for (int i = 0; i < MAX_IO; i++) {
		snprintf(p, sizeof p, "%s/input_%d.pb", dir, i);
		if (!is_file(p))
			break;
		{ enum jalad_status st_ = jalad_tensor_read_pb_named(p, &io->in[i], io->in_name[i], sizeof io->in_name[i]); if (st_ != JALAD_OK) return st_; }
		io->n_in = i + 1;
	}
	for (int i = 0; i < MAX_IO; i++) {
		snprintf(p, sizeof p, "%s/output_%d.pb", dir, i);
		if (!is_file(p))
			break;
		{ enum jalad_status st_ = jalad_tensor_read_pb(p, &io->out[i]); if (st_ != JALAD_OK) return st_; }
		io->n_out = i + 1;
	}
	return JALAD_OK;
}

/* Compare got against want; writes a reason on mismatch. */
static int tensors_match(const struct jalad_tensor *got, const struct jalad_tensor *want,
			 const struct conform_opts *o, char *why, size_t cap)
{
	char a[128], b[128];
	if (got->dtype != want->dtype) {
		snprintf(why, cap, "dtype %s, expected %s", jalad_dtype_name(got->dtype), jalad_dtype_name(want->dtype));
		return 0;
	}
	int64_t n = jalad_tensor_numel(want);
	if (jalad_tensor_numel(got) != n || (got->ndim != want->ndim && n != 1)) {
		tool_shape_str(got->ndim, got->dims, a, sizeof a);
		tool_shape_str(want->ndim, want->dims, b, sizeof b);
		snprintf(why, cap, "shape %s, expected %s", a, b);
		return 0;
	}
	for (int d = 0; d < want->ndim && got->ndim == want->ndim; d++)
		if (got->dims[d] != want->dims[d]) {
			tool_shape_str(got->ndim, got->dims, a, sizeof a);
			tool_shape_str(want->ndim, want->dims, b, sizeof b);
			snprintf(why, cap, "shape %s, expected %s", a, b);
			return 0;
		}
	size_t es = jalad_dtype_size(want->dtype);
	if (want->dtype != JALAD_DTYPE_FLOAT32) {
		if (n && memcmp(got->data, want->data, (size_t)n * es) != 0) {
			snprintf(why, cap, "integer values differ");
			return 0;
		}
		return 1;
	}
	const float *g = got->data, *w = want->data;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(w[i]) && isnan(g[i]))
			continue;
		if (isinf(w[i]) && g[i] == w[i])
			continue;
		double err = fabs((double)g[i] - (double)w[i]);
		if (!(err <= o->atol + o->rtol * fabs((double)w[i]))) {
			snprintf(why, cap, "value %lld: got %.7g, expected %.7g", (long long)i, g[i], w[i]);
			return 0;
		}
	}
	return 1;
}

/* 1 pass, 0 fail, -1 skip; why explains fail/skip. */
static int run_set(const char *model_path, const char *set_dir, const struct conform_opts *o, char *why,
		   size_t cap)
{
	struct io_set io;
	struct jalad_model *m = NULL;
	struct jalad_session *s = NULL;
	int result = 0;
	enum jalad_status st = io_read(set_dir, &io);
	if (st != JALAD_OK) {
		/* Data we cannot read: a dtype we do not support, or a case
		 * whose inputs are sequences or maps rather than tensors (the
		 * model then refuses to load, which names the reason). */
		enum jalad_status read_st = st;
		snprintf(why, cap, "reading test data: %s: %s", jalad_status_str(st), jalad_last_error());
		io_free(&io);
		st = jalad_model_load(model_path, NULL, &m);
		jalad_model_free(m);
		if (st == JALAD_ERR_UNSUPPORTED) {
			snprintf(why, cap, "%s: %s", jalad_status_str(st), jalad_last_error());
			return -1;
		}
		return read_st == JALAD_ERR_UNSUPPORTED ? -1 : 0;
	}
	const char *names[MAX_IO];
	struct jalad_tensor consts[MAX_IO];
	int n_consts = 0;
	for (int i = 0; i < io.n_in; i++)
		if (io.in[i].dtype != JALAD_DTYPE_FLOAT32 && io.in_name[i][0]) {
			names[n_consts] = io.in_name[i];
			consts[n_consts++] = io.in[i];
		}
	struct jalad_load_opts lo = { .n_consts = n_consts, .const_names = names, .consts = consts };
	st = jalad_model_load(model_path, &lo, &m);
	if (st != JALAD_OK) {
		snprintf(why, cap, "%s: %s", jalad_status_str(st), jalad_last_error());
		result = st == JALAD_ERR_UNSUPPORTED ? -1 : 0;
		goto done;
	}
	struct jalad_session_opts so = { .threads = o->threads, .backend = o->backend };
	st = jalad_session_create(m, &so, &s);
	if (st != JALAD_OK) {
		snprintf(why, cap, "session: %s: %s", jalad_status_str(st), jalad_last_error());
		result = st == JALAD_ERR_UNSUPPORTED ? -1 : 0;
		goto done;
	}
	int n_in = jalad_model_input_count(m);
	struct jalad_tensor feed[MAX_IO];
	if (n_in > MAX_IO) {
		snprintf(why, cap, "too many inputs");
		goto done;
	}
	for (int i = 0; i < n_in; i++) {
		struct jalad_tensor_desc d;
		jalad_model_tensor_desc(m, jalad_model_input(m, i), &d);
		int found = -1;
		for (int j = 0; j < io.n_in; j++)
			if (!strcmp(io.in_name[j], d.name))
				found = j;
		if (found < 0 && i < io.n_in && !io.in_name[i][0])
			found = i;
		if (found < 0) {
			snprintf(why, cap, "no test data for input '%s'", d.name);
			goto done;
		}
		feed[i] = io.in[found];
	}
	st = jalad_session_run(s, feed, n_in);
	if (st != JALAD_OK) {
		snprintf(why, cap, "run: %s: %s", jalad_status_str(st), jalad_last_error());
		goto done;
	}
	if (io.n_out != jalad_model_output_count(m)) {
		snprintf(why, cap, "model has %d outputs, test data %d", jalad_model_output_count(m), io.n_out);
		goto done;
	}
	for (int i = 0; i < io.n_out; i++) {
		struct jalad_tensor got;
		char r[300];
		st = jalad_session_output(s, i, &got);
		if (st != JALAD_OK) {
			snprintf(why, cap, "output %d: %s", i, jalad_last_error());
			goto done;
		}
		if (!tensors_match(&got, &io.out[i], o, r, sizeof r)) {
			snprintf(why, cap, "output %d: %s", i, r);
			goto done;
		}
	}
	result = 1;
done:
	jalad_session_free(s);
	jalad_model_free(m);
	io_free(&io);
	return result;
}

static void run_case(const char *dir, const char *label, const struct conform_opts *o, struct counts *c)
{
	char model[4096], why[700] = "";
	char **sets;
	snprintf(model, sizeof model, "%s/model.onnx", dir);
	int n = list_dirs(dir, "test_data_set_", &sets);
	int result = 1;
	if (n == 0) {
		result = -1;
		snprintf(why, sizeof why, "no test_data_set_* folder");
	}
	for (int i = 0; i < n && result == 1; i++) {
		char set[4096];
		snprintf(set, sizeof set, "%s/%s", dir, sets[i]);
		result = run_set(model, set, o, why, sizeof why);
	}
	free_list(sets, n);
	if (result == 1) {
		c->passed++;
		if (!o->quiet)
			printf("ok   %s\n", label);
	} else if (result == 0) {
		c->failed++;
		printf("FAIL %s: %s\n", label, why);
	} else {
		c->skipped++;
		if (!o->quiet)
			printf("skip %s: %s\n", label, why);
	}
	fflush(stdout);
}

static void walk(const char *dir, const struct conform_opts *o, struct counts *c, int depth)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/model.onnx", dir);
	if (is_file(p)) {
		const char *label = strrchr(dir, '/');
		run_case(dir, label ? label + 1 : dir, o, c);
		return;
	}
	if (depth > 3)
		return;
	char **sub;
	int n = list_dirs(dir, NULL, &sub);
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
		walk(p, o, c, depth + 1);
	}
	free_list(sub, n);
}

int cmd_conform(int argc, char **argv)
{
	struct conform_opts o = { .backend = NULL, .threads = 1, .quiet = 0, .rtol = 1e-3, .atol = 1e-5 };
	const char *dirs[256];
	int n_dirs = 0;
	const struct tool_sopt sopts[] = {
		{ "--backend", &o.backend, "a value" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("conform", argc, argv, &i, sopts, TOOL_NELEM(sopts), NULL, 0);
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: jalad conform [--backend ref|dnnl] [--threads N] [--quiet] DIR...\n"
			       "Runs every ONNX backend test case (model.onnx + test_data_set_*/{input,output}_*.pb)\n"
			       "under the given folders; one line per case, then 'N passed, N failed, N skipped'.\n"
			       "Skipped: the case uses an op, attribute or dtype jalad does not support.\n"
			       "--quiet prints only failures and the summary. Exit 1 if any case failed.\n");
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--quiet")) {
			o.quiet = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--threads", &v))) {
			long t;
			if (r < 0 || tool_parse_int(v, 1, 256, &t))
				return tool_usage("conform", "--threads needs a number 1..256");
			o.threads = (int)t;
		} else if (argv[i][0] == '-') {
			return tool_usage("conform", "unknown option '%s'", argv[i]);
		} else if (n_dirs < 256) {
			dirs[n_dirs++] = argv[i];
		}
	}
	if (n_dirs == 0)
		return tool_usage("conform", "no folder given");
	struct counts c = { 0, 0, 0 };
	for (int i = 0; i < n_dirs; i++) {
		if (!is_dir(dirs[i])) {
			fprintf(stderr, "jalad conform: '%s' is not a folder\n", dirs[i]);
			return EXIT_FAIL;
		}
		walk(dirs[i], &o, &c, 0);
	}
	printf("%d passed, %d failed, %d skipped\n", c.passed, c.failed, c.skipped);
	return c.failed ? EXIT_FAIL : EXIT_OK;
}
