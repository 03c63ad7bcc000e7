/* Latency profiles: measure per-node medians, and the versioned JSON form. */
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

#define PROFILE_FORMAT "jalad-profile"

enum jalad_status jalad_profile_create(int n_nodes, struct jalad_profile **out)
{
	*out = NULL;
	JALAD_RETURN_IF(n_nodes < 0 || n_nodes > PLAN_MAX_NODES, JALAD_ERR_INVALID_ARG, "profile: %d nodes", n_nodes);
	struct jalad_profile *p = calloc(1, sizeof *p);
	JALAD_RETURN_IF(!p, JALAD_ERR_NOMEM, "profile");
	p->nodes = calloc((size_t)(n_nodes ? n_nodes : 1), sizeof *p->nodes);
	if (!p->nodes) {
		free(p);
		return jalad_fail(JALAD_ERR_NOMEM, "profile of %d nodes", n_nodes);
	}
	p->version = JALAD_PROFILE_VERSION;
	p->n_nodes = n_nodes;
	p->slowdown = 1;
	p->threads = 1;
	*out = p;
	return JALAD_OK;
}

void jalad_profile_free(struct jalad_profile *p)
{
	if (!p)
		return;
	for (int i = 0; p->nodes && i < p->n_nodes; i++) {
		free(p->nodes[i].name);
		free(p->nodes[i].op_type);
	}
	free(p->nodes);
	free(p->model_file);
	free(p->device);
	free(p->backend);
	free(p);
}

/* ---- measuring ---------------------------------------------------------------- */

/* The CPU's marketing name from /proc/cpuinfo, or "unknown". */
static char *cpu_name(void)
{
	char line[512], *name = NULL;
	FILE *f = fopen("/proc/cpuinfo", "r");
	while (f && !name && fgets(line, sizeof line, f)) {
		if (strncmp(line, "model name", 10) != 0)
			continue;
		char *v = strchr(line, ':');
		if (!v)
			continue;
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		v[strcspn(v, "\n")] = 0;
		name = plan_strdup(v);
	}
	if (f)
		fclose(f);
	return name ? name : plan_strdup("unknown");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double median_ms(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	double m = n % 2 ? (double)v[n / 2] : 0.5 * ((double)v[n / 2 - 1] + (double)v[n / 2]);
	return m / 1e6;
}

enum jalad_status jalad_profile_measure(const struct jalad_model *model, const struct jalad_profile_opts *opts,
					struct jalad_profile **out)
{
	enum jalad_status st;
	struct jalad_profile *p = NULL;
	struct jalad_session *s = NULL;
	struct jalad_tensor *ins = NULL;
	uint64_t *samples = NULL, *runs = NULL;
	int n_in = jalad_model_input_count(model);
	int n = jalad_model_node_count(model);
	int repeat = opts && opts->repeat > 0 ? opts->repeat : 50;
	int threads = opts && opts->threads > 0 ? opts->threads : 1;
	double slowdown = opts && opts->slowdown > 0 ? opts->slowdown : 1;
	*out = NULL;
	JALAD_RETURN_IF(opts && (opts->slowdown < 0 || !isfinite(opts->slowdown)), JALAD_ERR_INVALID_ARG,
			"profile: slowdown %g must be positive", opts->slowdown);
	if ((st = jalad_profile_create(n, &p)) != JALAD_OK)
		goto fail;
	ins = calloc((size_t)(n_in ? n_in : 1), sizeof *ins);
	samples = malloc((size_t)repeat * (size_t)(n ? n : 1) * sizeof *samples);
	runs = malloc((size_t)repeat * sizeof *runs);
	if (!ins || !samples || !runs) {
		st = jalad_fail(JALAD_ERR_NOMEM, "profile buffers");
		goto fail;
	}
	/* A fixed pseudo-random input in [0, 1): dense kernels do not care
	 * about the values, and the same input makes runs comparable. */
	uint32_t seed = 12345;
	for (int i = 0; i < n_in; i++) {
		struct jalad_tensor_desc d;
		if ((st = jalad_model_tensor_desc(model, jalad_model_input(model, i), &d)) != JALAD_OK)
			goto fail;
		if (d.dtype != JALAD_DTYPE_FLOAT32) {
			st = jalad_fail(JALAD_ERR_UNSUPPORTED, "profile: input '%s' is %s, only float32 inputs are "
					"supported", d.name, jalad_dtype_name(d.dtype));
			goto fail;
		}
		ins[i].dtype = d.dtype;
		ins[i].ndim = d.ndim;
		memcpy(ins[i].dims, d.dims, sizeof d.dims);
		int64_t cnt = jalad_tensor_numel(&ins[i]);
		float *x = malloc((size_t)(cnt ? cnt : 1) * sizeof *x);
		if (!x) {
			st = jalad_fail(JALAD_ERR_NOMEM, "profile input");
			goto fail;
		}
		for (int64_t j = 0; j < cnt; j++) {
			seed = seed * 1664525u + 1013904223u;
			x[j] = (float)(seed >> 8) / (float)(1u << 24);
		}
		ins[i].data = x;
	}
	struct jalad_session_opts so = { .threads = threads, .backend = opts ? opts->backend : NULL };
	if ((st = jalad_session_create(model, &so, &s)) != JALAD_OK)
		goto fail;
	jalad_session_set_profiling(s, 1);
	for (int r = 0; r < 3; r++)
		if ((st = jalad_session_run(s, ins, n_in)) != JALAD_OK)
			goto fail;
	double gap = opts && opts->gap_ms > 0 ? opts->gap_ms : 0;
	for (int r = 0; r < repeat; r++) {
		if (gap > 0) {
			/* requests come apart: measure with what the pause leaves in the caches */
			struct timespec ts = { (time_t)(gap / 1e3), (long)(fmod(gap, 1e3) * 1e6) };
			while (nanosleep(&ts, &ts) < 0)
				;
		}
		uint64_t t0 = jalad_now_ns();
		if ((st = jalad_session_run(s, ins, n_in)) != JALAD_OK)
			goto fail;
		runs[r] = jalad_now_ns() - t0;
		const uint64_t *t = jalad_session_node_times(s);
		for (int i = 0; i < n; i++)
			samples[(size_t)i * (size_t)repeat + (size_t)r] = t[i];
	}
	for (int i = 0; i < n; i++) {
		struct jalad_node_info ni;
		if ((st = jalad_model_node_info(model, i, &ni)) != JALAD_OK)
			goto fail;
		struct jalad_profile_node *pn = &p->nodes[i];
		pn->measured_ms = median_ms(samples + (size_t)i * (size_t)repeat, repeat);
		pn->ms = pn->measured_ms * slowdown;
		pn->out_bytes = ni.out_bytes;
		pn->name = plan_strdup(ni.name ? ni.name : "");
		pn->op_type = plan_strdup(ni.op_type ? ni.op_type : "");
		if (!pn->name || !pn->op_type) {
			st = jalad_fail(JALAD_ERR_NOMEM, "profile names");
			goto fail;
		}
	}
	p->run_ms = median_ms(runs, repeat) * slowdown;
	p->gap_ms = gap;
	jalad_model_sha256(model, p->model_sha256);
	p->model_file = plan_strdup(opts && opts->model_file ? plan_basename(opts->model_file) : NULL);
	p->device = cpu_name();
	p->backend = plan_strdup(jalad_session_backend(s));
	p->threads = threads;
	p->repeat = repeat;
	p->slowdown = slowdown;
	*out = p;
	p = NULL;
	st = JALAD_OK;
fail:
	for (int i = 0; ins && i < n_in; i++)
		free(ins[i].data);
	free(ins);
	free(samples);
	free(runs);
	jalad_session_free(s);
	jalad_profile_free(p);
	return st;
}

/* ---- JSON --------------------------------------------------------------------- */

enum jalad_status jalad_profile_to_json(const struct jalad_profile *p, char **json)
{
	enum jalad_status st = JALAD_ERR_NOMEM;
	char hex[65];
	cJSON *root = cJSON_CreateObject(), *model, *dev, *nodes;
	*json = NULL;
	if (!root)
		return jalad_fail(JALAD_ERR_NOMEM, "profile JSON");
	plan_sha_hex(p->model_sha256, hex);
	int bad = plan_add_str(root, "format", PROFILE_FORMAT);
	bad |= !cJSON_AddNumberToObject(root, "version", JALAD_PROFILE_VERSION);
	bad |= !(model = cJSON_AddObjectToObject(root, "model"));
	if (!bad) {
		bad |= plan_add_str(model, "file", p->model_file);
		bad |= plan_add_str(model, "sha256", hex);
		bad |= !cJSON_AddNumberToObject(model, "nodes", p->n_nodes);
	}
	bad |= !(dev = cJSON_AddObjectToObject(root, "device"));
	if (!bad) {
		bad |= plan_add_str(dev, "cpu", p->device);
		bad |= plan_add_str(dev, "backend", p->backend);
		bad |= !cJSON_AddNumberToObject(dev, "threads", p->threads);
		bad |= !cJSON_AddNumberToObject(dev, "repeat", p->repeat);
		bad |= !plan_add_num(dev, "slowdown", p->slowdown, 8);
		if (p->gap_ms > 0)
			bad |= !plan_add_num(dev, "gap_ms", p->gap_ms, 6);
	}
	double total = 0;
	for (int i = 0; i < p->n_nodes; i++)
		total += p->nodes[i].ms;
	bad |= !plan_add_num(root, "total_ms", total, 7);
	bad |= !plan_add_num(root, "run_ms", p->run_ms, 7);
	if (p->request_ms > 0)
		bad |= !plan_add_num(root, "request_ms", p->request_ms, 7);
	bad |= !(nodes = cJSON_AddArrayToObject(root, "nodes"));
	for (int i = 0; !bad && i < p->n_nodes; i++) {
		const struct jalad_profile_node *pn = &p->nodes[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(nodes, o)) {
			cJSON_Delete(o);
			bad = 1;
			break;
		}
		bad |= !cJSON_AddNumberToObject(o, "index", i);
		bad |= plan_add_str(o, "name", pn->name ? pn->name : "");
		bad |= plan_add_str(o, "op", pn->op_type ? pn->op_type : "");
		bad |= !plan_add_num(o, "ms", pn->ms, 7);
		bad |= !plan_add_num(o, "measured_ms", pn->measured_ms, 7);
		bad |= !cJSON_AddNumberToObject(o, "out_bytes", (double)pn->out_bytes);
	}
	if (!bad)
		st = plan_json_print(root, json);
	else
		st = jalad_fail(JALAD_ERR_NOMEM, "profile JSON");
	cJSON_Delete(root);
	return st;
}

enum jalad_status jalad_profile_save(const struct jalad_profile *p, const char *path)
{
	char *json;
	JALAD_FORWARD(jalad_profile_to_json(p, &json));
	enum jalad_status st = plan_write_file(path, json, strlen(json));
	free(json);
	return st;
}

static enum jalad_status parse_tree(const cJSON *root, struct jalad_profile **out)
{
	const char *W = "profile";
	enum jalad_status st;
	const cJSON *model, *dev, *nodes;
	struct jalad_profile *p = NULL;
	int64_t n, v;
	double d;
	JALAD_FORWARD(plan_check_header(W, root, PROFILE_FORMAT, JALAD_PROFILE_VERSION));
	JALAD_FORWARD(plan_get_obj(W, root, "model", &model));
	JALAD_FORWARD(plan_get_obj(W, root, "device", &dev));
	JALAD_FORWARD(plan_get_arr(W, root, "nodes", &nodes));
	JALAD_FORWARD(plan_get_int(W, model, "nodes", 0, PLAN_MAX_NODES, &n));
	JALAD_RETURN_IF(cJSON_GetArraySize(nodes) != n, JALAD_ERR_FORMAT,
			"profile: \"model\".\"nodes\" says %lld nodes but \"nodes\" lists %d", (long long)n,
			cJSON_GetArraySize(nodes));
	JALAD_FORWARD(jalad_profile_create((int)n, &p));
	if ((st = plan_get_sha(W, model, p->model_sha256)) != JALAD_OK ||
	    (st = plan_get_str(W, model, "file", 0, &p->model_file)) != JALAD_OK ||
	    (st = plan_get_str(W, dev, "cpu", 0, &p->device)) != JALAD_OK ||
	    (st = plan_get_str(W, dev, "backend", 0, &p->backend)) != JALAD_OK)
		goto fail;
	if ((st = plan_get_int(W, dev, "threads", 0, 65536, &v)) != JALAD_OK)
		goto fail;
	p->threads = (int)v;
	if ((st = plan_get_int(W, dev, "repeat", 0, 1 << 30, &v)) != JALAD_OK)
		goto fail;
	p->repeat = (int)v;
	if ((st = plan_get_num(W, dev, "slowdown", 1e-6, 1e9, &p->slowdown)) != JALAD_OK)
		goto fail;
	if (cJSON_GetObjectItemCaseSensitive(dev, "gap_ms") &&
	    (st = plan_get_num(W, dev, "gap_ms", 0, 1e7, &p->gap_ms)) != JALAD_OK)
		goto fail;
	if ((st = plan_get_num(W, root, "run_ms", 0, 1e12, &p->run_ms)) != JALAD_OK)
		goto fail;
	if (cJSON_GetObjectItemCaseSensitive(root, "request_ms") &&
	    (st = plan_get_num(W, root, "request_ms", 0, 1e9, &p->request_ms)) != JALAD_OK)
		goto fail;
	int i = 0;
	const cJSON *o;
	cJSON_ArrayForEach(o, nodes)
	{
		struct jalad_profile_node *pn = &p->nodes[i];
		char what[64];
		snprintf(what, sizeof what, "profile: node %d", i);
		if (!cJSON_IsObject(o)) {
			st = jalad_fail(JALAD_ERR_FORMAT, "%s is not an object", what);
			goto fail;
		}
		if ((st = plan_get_int(what, o, "index", i, i, &v)) != JALAD_OK ||
		    (st = plan_get_str(what, o, "name", 1, &pn->name)) != JALAD_OK ||
		    (st = plan_get_str(what, o, "op", 1, &pn->op_type)) != JALAD_OK ||
		    (st = plan_get_num(what, o, "ms", 0, 1e12, &pn->ms)) != JALAD_OK ||
		    (st = plan_get_num(what, o, "measured_ms", 0, 1e12, &d)) != JALAD_OK ||
		    (st = plan_get_int(what, o, "out_bytes", 0, INT64_C(1) << 50, &pn->out_bytes)) != JALAD_OK)
			goto fail;
		pn->measured_ms = d;
		i++;
	}
	*out = p;
	return JALAD_OK;
fail:
	jalad_profile_free(p);
	return st;
}

enum jalad_status jalad_profile_parse(const char *json, size_t len, struct jalad_profile **out)
{
	cJSON *root;
	*out = NULL;
	JALAD_FORWARD(plan_json_parse("profile", json, len, &root));
	enum jalad_status st = parse_tree(root, out);
	cJSON_Delete(root);
	return st;
}

enum jalad_status jalad_profile_load(const char *path, struct jalad_profile **out)
{
	char *buf;
	size_t len;
	*out = NULL;
	JALAD_FORWARD(plan_read_file(path, PLAN_MAX_FILE_BYTES, &buf, &len));
	enum jalad_status st = jalad_profile_parse(buf, len, out);
	free(buf);
	if (st != JALAD_OK)
		jalad_error_prefix("%s: ", path);
	return st;
}

enum jalad_status jalad_profile_check_model(const struct jalad_profile *p, const struct jalad_model *model)
{
	uint8_t sha[32];
	char a[65], b[65];
	jalad_model_sha256(model, sha);
	plan_sha_hex(p->model_sha256, a);
	plan_sha_hex(sha, b);
	JALAD_RETURN_IF(memcmp(sha, p->model_sha256, 32) != 0, JALAD_ERR_MISMATCH,
			"profile is for another model (sha256 %.12s..., the model file is %.12s...)", a, b);
	JALAD_RETURN_IF(p->n_nodes != jalad_model_node_count(model), JALAD_ERR_MISMATCH,
			"profile has %d nodes, the model %d", p->n_nodes, jalad_model_node_count(model));
	return JALAD_OK;
}
