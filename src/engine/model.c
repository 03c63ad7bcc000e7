/* Model loading (file -> IR -> finalized graph) and model queries. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "engine_impl.h"

size_t jalad_dtype_size(enum jalad_dtype dtype)
{
	switch (dtype) {
	case JALAD_DTYPE_FLOAT32: case JALAD_DTYPE_INT32: return 4;
	case JALAD_DTYPE_INT64: return 8;
	case JALAD_DTYPE_UINT8: case JALAD_DTYPE_INT8: case JALAD_DTYPE_BOOL: return 1;
	default: return 0;
	}
}

const char *jalad_dtype_name(enum jalad_dtype dtype)
{
	switch (dtype) {
	case JALAD_DTYPE_FLOAT32: return "float32";
	case JALAD_DTYPE_UINT8: return "uint8";
	case JALAD_DTYPE_INT8: return "int8";
	case JALAD_DTYPE_INT32: return "int32";
	case JALAD_DTYPE_INT64: return "int64";
	case JALAD_DTYPE_BOOL: return "bool";
	default: return "unknown";
	}
}

int64_t jalad_tensor_numel(const struct jalad_tensor *t)
{
	return jalad_numel(t->ndim, t->dims);
}

void jalad_tensor_release(struct jalad_tensor *t)
{
	if (!t)
		return;
	free(t->data);
	memset(t, 0, sizeof *t);
}

/* Map a whole file read-only. */
static enum jalad_status map_file(const char *path, uint64_t max_bytes, void **buf, size_t *len)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	JALAD_RETURN_IF(fd < 0, JALAD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return jalad_fail(JALAD_ERR_IO, "'%s' is not a regular file", path);
	}
	if ((uint64_t)sb.st_size > max_bytes) {
		close(fd);
		return jalad_fail(JALAD_ERR_LIMIT, "'%s' has %lld bytes, above the limit %llu", path,
				  (long long)sb.st_size, (unsigned long long)max_bytes);
	}
	*len = (size_t)sb.st_size;
	if (*len == 0) {
		close(fd);
		*buf = NULL;
		return JALAD_OK;
	}
	/* MAP_POPULATE: the parser and the hash read every byte; one
	 * read-ahead beats a page fault per 4 KiB. */
	*buf = mmap(NULL, *len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	JALAD_RETURN_IF(*buf == MAP_FAILED, JALAD_ERR_IO, "cannot map '%s': %s", path, strerror(errno));
	return JALAD_OK;
}

enum jalad_status jalad_tensor_read_pb(const char *path, struct jalad_tensor *out)
{
	return jalad_tensor_read_pb_named(path, out, NULL, 0);
}

enum jalad_status jalad_tensor_read_pb_named(const char *path, struct jalad_tensor *out, char *name,
					     size_t name_cap)
{
	void *buf;
	size_t len;
	memset(out, 0, sizeof *out);
	JALAD_FORWARD(map_file(path, (uint64_t)1 << 32, &buf, &len));
	enum jalad_status st = jalad_tensor_parse_pb(buf ? buf : "", len, out, name, name_cap);
	if (buf)
		munmap(buf, len);
	if (st != JALAD_OK)
		jalad_error_prefix("%s: ", path);
	return st;
}

static enum jalad_status bind_consts(struct jalad_graph *g, const struct jalad_load_opts *o)
{
	for (int c = 0; o && c < o->n_consts; c++) {
		const struct jalad_tensor *v = &o->consts[c];
		int found = -1;
		for (int i = 0; i < g->n_inputs; i++)
			if (strcmp(g->tensors[g->inputs[i]].name, o->const_names[c]) == 0)
				found = i;
		JALAD_RETURN_IF(found < 0, JALAD_ERR_NOT_FOUND, "no graph input named '%s' to bind", o->const_names[c]);
		struct jalad_tensor_ir *t = &g->tensors[g->inputs[found]];
		JALAD_RETURN_IF(v->dtype != t->dtype || v->ndim != t->ndim ||
				memcmp(v->dims, t->dims, (size_t)v->ndim * sizeof(int64_t)) != 0,
				JALAD_ERR_SHAPE, "constant for input '%s' does not match its declared type/shape", t->name);
		size_t bytes = (size_t)jalad_tensor_numel(v) * jalad_dtype_size(v->dtype);
		t->data = malloc(bytes ? bytes : 1);
		JALAD_RETURN_IF(!t->data, JALAD_ERR_NOMEM, "%zu bytes", bytes);
		if (bytes)
			memcpy(t->data, v->data, bytes);
		t->is_input = 0;
		memmove(&g->inputs[found], &g->inputs[found + 1], (size_t)(g->n_inputs - found - 1) * sizeof(int));
		g->n_inputs--;
	}
	return JALAD_OK;
}

struct hash_job {
	const void *buf;
	size_t len;
	uint8_t *out;
};

static void *hash_run(void *arg)
{
	const struct hash_job *j = arg;
	EVP_Digest(j->buf, j->len, j->out, NULL, EVP_sha256(), NULL);
	return NULL;
}

/* Models above this size hash on a second thread while the parser runs
 * (SHA-256 of a 100 MB ResNet-50 takes as long as parsing it). */
#define HASH_THREAD_MIN ((size_t)1 << 20)

enum jalad_status jalad_model_load_buffer(const void *buf, size_t len, const struct jalad_load_opts *opts,
					  struct jalad_model **out)
{
	enum jalad_status st;
	struct jalad_model *m;
	*out = NULL;
	JALAD_RETURN_IF(!buf && len, JALAD_ERR_INVALID_ARG, "NULL model buffer");
	JALAD_RETURN_IF(len == 0, JALAD_ERR_FORMAT, "not an ONNX model: the file is empty");
	m = calloc(1, sizeof *m);
	JALAD_RETURN_IF(!m, JALAD_ERR_NOMEM, "model");
	struct hash_job job = {buf, len, m->sha256};
	pthread_t th;
	int threaded = len >= HASH_THREAD_MIN && pthread_create(&th, NULL, hash_run, &job) == 0;
	if (!threaded)
		hash_run(&job);
	st = jalad_onnx_parse(buf, len, &m->g);
	if (threaded)
		pthread_join(th, NULL);
	if (st == JALAD_OK)
		st = bind_consts(&m->g, opts);
	if (st == JALAD_OK)
		st = jalad_graph_finalize(&m->g);
	if (st != JALAD_OK) {
		jalad_model_free(m);
		return st;
	}
	*out = m;
	return JALAD_OK;
}

enum jalad_status jalad_model_load(const char *path, const struct jalad_load_opts *opts,
				   struct jalad_model **out)
{
	void *buf;
	size_t len;
	uint64_t max = opts && opts->max_file_bytes ? opts->max_file_bytes : (uint64_t)4 << 30;
	*out = NULL;
	JALAD_FORWARD(map_file(path, max, &buf, &len));
	enum jalad_status st = jalad_model_load_buffer(buf, len, opts, out);
	if (buf)
		munmap(buf, len);
	if (st != JALAD_OK)
		jalad_error_prefix("%s: ", path);
	return st;
}

void jalad_model_free(struct jalad_model *model)
{
	if (!model)
		return;
	jalad_graph_free(&model->g);
	free(model);
}

void jalad_model_sha256(const struct jalad_model *model, uint8_t out[32])
{
	memcpy(out, model->sha256, 32);
}

const char *jalad_model_metadata(const struct jalad_model *model, const char *key)
{
	for (int i = 0; i < model->g.n_meta; i++)
		if (strcmp(model->g.meta_keys[i], key) == 0)
			return model->g.meta_values[i];
	return NULL;
}

int jalad_model_metadata_count(const struct jalad_model *model)
{
	return model->g.n_meta;
}

const char *jalad_model_metadata_key(const struct jalad_model *model, int i)
{
	return i >= 0 && i < model->g.n_meta ? model->g.meta_keys[i] : NULL;
}

int jalad_model_node_count(const struct jalad_model *model)
{
	return model->g.n_nodes;
}

enum jalad_status jalad_model_node_info(const struct jalad_model *model, int node, struct jalad_node_info *info)
{
	const struct jalad_graph *g = &model->g;
	JALAD_RETURN_IF(node < 0 || node >= g->n_nodes, JALAD_ERR_INVALID_ARG, "node %d out of range", node);
	const struct jalad_node *n = &g->nodes[node];
	memset(info, 0, sizeof *info);
	info->name = n->name;
	info->op_type = n->op_type;
	info->n_outputs = n->n_out;
	info->output = n->n_out ? n->out[0] : -1;
	for (int o = 0; o < n->n_out; o++)
		info->out_bytes += (int64_t)jalad_ir_bytes(&g->tensors[n->out[o]]);
	for (int i = 0; i < n->n_in; i++)
		if (n->in[i] >= 0 && g->tensors[n->in[i]].data)
			info->params += jalad_ir_numel(&g->tensors[n->in[i]]);
	info->flops = n->op->flops ? n->op->flops(g, n) : 0;
	return JALAD_OK;
}

int jalad_model_tensor_count(const struct jalad_model *model)
{
	return model->g.n_tensors;
}

enum jalad_status jalad_model_tensor_desc(const struct jalad_model *model, int tensor, struct jalad_tensor_desc *d)
{
	JALAD_RETURN_IF(tensor < 0 || tensor >= model->g.n_tensors, JALAD_ERR_INVALID_ARG,
			"tensor %d out of range", tensor);
	const struct jalad_tensor_ir *t = &model->g.tensors[tensor];
	memset(d, 0, sizeof *d);
	d->name = t->name;
	d->dtype = t->dtype;
	d->ndim = t->ndim < 0 ? 0 : t->ndim;
	memcpy(d->dims, t->dims, sizeof d->dims);
	return JALAD_OK;
}

int jalad_model_input_count(const struct jalad_model *model) { return model->g.n_inputs; }
int jalad_model_input(const struct jalad_model *model, int i)
{
	return i >= 0 && i < model->g.n_inputs ? model->g.inputs[i] : -1;
}
int jalad_model_output_count(const struct jalad_model *model) { return model->g.n_outputs; }
int jalad_model_output(const struct jalad_model *model, int i)
{
	return i >= 0 && i < model->g.n_outputs ? model->g.outputs[i] : -1;
}

struct crossing_ctx {
	int *ids;
	int cap, n;
	int sorted; /* ids[0..min(n, cap)) still ascending */
};

static void crossing_hit(int t, void *user)
{
	struct crossing_ctx *c = user;
	if (c->n < c->cap) {
		if (c->n > 0 && c->ids[c->n - 1] > t)
			c->sorted = 0;
		c->ids[c->n] = t;
	} else if (c->cap > 0 && t < c->ids[c->cap - 1]) {
		/* Keep the cap smallest ids: replace the largest kept. */
		int m = 0;
		for (int i = 1; i < c->cap; i++)
			if (c->ids[i] > c->ids[m])
				m = i;
		if (t < c->ids[m]) {
			c->ids[m] = t;
			c->sorted = 0;
		}
	}
	c->n++;
}

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

enum jalad_status jalad_model_crossing(const struct jalad_model *model, int k, int *ids, int cap, int *count)
{
	const struct jalad_graph *g = &model->g;
	JALAD_RETURN_IF(k < 0 || k > g->n_nodes, JALAD_ERR_INVALID_ARG, "cut %d out of range 0..%d", k, g->n_nodes);
	/* A tensor crosses cut k when it is made before k (a graph input, or
	 * a node < k) and read at or after k (or is an output): the live
	 * index holds exactly those cuts per tensor. Ids come out ascending. */
	struct crossing_ctx c = { ids, ids && cap > 0 ? cap : 0, 0, 1 };
	jalad_ivtree_query(g->live, k, k, crossing_hit, &c);
	int kept = c.n < c.cap ? c.n : c.cap;
	if (!c.sorted)
		qsort(ids, (size_t)kept, sizeof *ids, int_cmp);
	*count = c.n;
	return JALAD_OK;
}

int jalad_model_tensor_relu_only(const struct jalad_model *model, int tensor)
{
	const struct jalad_graph *g = &model->g;
	if (tensor < 0 || tensor >= g->n_tensors)
		return 0;
	const struct jalad_tensor_ir *ti = &g->tensors[tensor];
	return ti->relu_readers && ti->n_consumers > 0 && !ti->is_output && !ti->data &&
	       ti->dtype == JALAD_DTYPE_FLOAT32;
}
