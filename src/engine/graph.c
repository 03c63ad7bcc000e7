/*
 * Graph IR: building, attribute access, topological ordering, shape
 * inference and constant folding.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

/* =========================================================== building */

/* FNV-1a: tensor names are short and come from the file. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The slot holding name, or the empty slot where it would go. */
static int name_slot(const struct jalad_graph *g, const char *name)
{
	int mask = g->name_cap - 1, i = (int)(name_hash(name) & (uint32_t)mask);
	while (g->name_slots[i] >= 0 && strcmp(g->tensors[g->name_slots[i]].name, name) != 0)
		i = (i + 1) & mask;
	return i;
}

static enum jalad_status name_index_grow(struct jalad_graph *g)
{
	int cap = g->name_cap ? g->name_cap * 2 : 128;
	JALAD_RETURN_IF(cap <= 0 || cap > (1 << 30), JALAD_ERR_LIMIT, "graph: too many tensors");
	int *slots = malloc((size_t)cap * sizeof *slots);
	JALAD_RETURN_IF(!slots, JALAD_ERR_NOMEM, "graph: name index of %d", cap);
	free(g->name_slots);
	g->name_slots = slots;
	g->name_cap = cap;
	for (int i = 0; i < cap; i++)
		slots[i] = -1;
	/* Re-inserted in id order: a later tensor of the same name wins. */
	for (int t = 0; t < g->n_tensors; t++)
		g->name_slots[name_slot(g, g->tensors[t].name)] = t;
	return JALAD_OK;
}

enum jalad_status jalad_graph_add_tensor(struct jalad_graph *g, const char *name, int *id)
{
	if (g->n_tensors == g->cap_tensors) {
		int cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
		struct jalad_tensor_ir *t = realloc(g->tensors, (size_t)cap * sizeof *t);
		JALAD_RETURN_IF(!t, JALAD_ERR_NOMEM, "graph: %d tensors", cap);
		g->tensors = t;
		g->cap_tensors = cap;
	}
	if (2 * (g->n_tensors + 1) > g->name_cap)
		JALAD_FORWARD(name_index_grow(g));
	struct jalad_tensor_ir *t = &g->tensors[g->n_tensors];
	memset(t, 0, sizeof *t);
	t->name = strdup(name ? name : "");
	JALAD_RETURN_IF(!t->name, JALAD_ERR_NOMEM, "graph: tensor name");
	t->ndim = -1;
	t->producer = -1;
	g->name_slots[name_slot(g, t->name)] = g->n_tensors;
	*id = g->n_tensors++;
	return JALAD_OK;
}

int jalad_graph_find_tensor(const struct jalad_graph *g, const char *name)
{
	if (!g->name_cap)
		return -1;
	return g->name_slots[name_slot(g, name)];
}

enum jalad_status jalad_graph_add_node(struct jalad_graph *g, struct jalad_node **out)
{
	if (g->n_nodes == g->cap_nodes) {
		int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
		struct jalad_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
		JALAD_RETURN_IF(!n, JALAD_ERR_NOMEM, "graph: %d nodes", cap);
		g->nodes = n;
		g->cap_nodes = cap;
	}
	struct jalad_node *n = &g->nodes[g->n_nodes++];
	memset(n, 0, sizeof *n);
	*out = n;
	return JALAD_OK;
}

static void node_clear(struct jalad_node *n)
{
	for (int a = 0; a < n->n_attr; a++) {
		free(n->attrs[a].name);
		free(n->attrs[a].s);
		free(n->attrs[a].floats);
		free(n->attrs[a].ints);
	}
	free(n->attrs);
	free(n->name);
	free(n->op_type);
	free(n->in);
	free(n->out);
	free(n->params);
	memset(n, 0, sizeof *n);
}

void jalad_graph_free(struct jalad_graph *g)
{
	if (!g)
		return;
	for (int i = 0; i < g->n_nodes; i++)
		node_clear(&g->nodes[i]);
	for (int i = 0; i < g->n_tensors; i++) {
		free(g->tensors[i].name);
		free(g->tensors[i].data);
	}
	for (int i = 0; i < g->n_meta; i++) {
		free(g->meta_keys[i]);
		free(g->meta_values[i]);
	}
	free(g->meta_keys);
	free(g->meta_values);
	free(g->nodes);
	free(g->tensors);
	free(g->inputs);
	free(g->outputs);
	free(g->name_slots);
	jalad_ivtree_free(g->live);
	memset(g, 0, sizeof *g);
}

/* =========================================================== helpers */

int64_t jalad_ir_numel(const struct jalad_tensor_ir *t)
{
	return t->ndim < 0 ? 0 : jalad_numel(t->ndim, t->dims);
}

size_t jalad_ir_bytes(const struct jalad_tensor_ir *t)
{
	return (size_t)jalad_ir_numel(t) * jalad_dtype_size(t->dtype);
}

void jalad_graph_view(const struct jalad_graph *g, int id, struct jalad_tensor *v)
{
	const struct jalad_tensor_ir *t = &g->tensors[id];
	memset(v, 0, sizeof *v);
	v->dtype = t->dtype;
	v->ndim = t->ndim < 0 ? 0 : t->ndim;
	memcpy(v->dims, t->dims, sizeof v->dims);
	v->data = t->data;
}

const struct jalad_attr *jalad_attr_find(const struct jalad_node *n, const char *name)
{
	for (int i = 0; i < n->n_attr; i++)
		if (strcmp(n->attrs[i].name, name) == 0)
			return &n->attrs[i];
	return NULL;
}

int64_t jalad_attr_int(const struct jalad_node *n, const char *name, int64_t def)
{
	const struct jalad_attr *a = jalad_attr_find(n, name);
	return a && a->type == JALAD_ATTR_INT ? a->i : def;
}

float jalad_attr_float(const struct jalad_node *n, const char *name, float def)
{
	const struct jalad_attr *a = jalad_attr_find(n, name);
	if (!a)
		return def;
	if (a->type == JALAD_ATTR_FLOAT)
		return a->f;
	if (a->type == JALAD_ATTR_INT)
		return (float)a->i;
	return def;
}

const char *jalad_attr_string(const struct jalad_node *n, const char *name, const char *def)
{
	const struct jalad_attr *a = jalad_attr_find(n, name);
	return a && a->type == JALAD_ATTR_STRING && a->s ? a->s : def;
}

void jalad_attr_ints(const struct jalad_node *n, const char *name, const int64_t **vals, int *count)
{
	const struct jalad_attr *a = jalad_attr_find(n, name);
	if (a && a->type == JALAD_ATTR_INTS) {
		*vals = a->ints;
		*count = a->n;
	} else {
		*vals = NULL;
		*count = 0;
	}
}

struct jalad_tensor_ir *jalad_node_input(struct jalad_graph *g, const struct jalad_node *n, int i)
{
	if (i < 0 || i >= n->n_in || n->in[i] < 0)
		return NULL;
	return &g->tensors[n->in[i]];
}

struct jalad_tensor_ir *jalad_node_output(struct jalad_graph *g, const struct jalad_node *n, int i)
{
	if (i < 0 || i >= n->n_out || n->out[i] < 0)
		return NULL;
	return &g->tensors[n->out[i]];
}

void jalad_node_set_output(struct jalad_graph *g, const struct jalad_node *n, int i,
			   enum jalad_dtype dtype, int ndim, const int64_t *dims)
{
	struct jalad_tensor_ir *t = jalad_node_output(g, n, i);
	if (!t)
		return;
	t->dtype = dtype;
	t->ndim = ndim;
	memset(t->dims, 0, sizeof t->dims);
	if (ndim > 0)
		memcpy(t->dims, dims, (size_t)ndim * sizeof *dims);
}

enum jalad_status jalad_node_fail(const struct jalad_node *n, enum jalad_status st, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return jalad_fail(st, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, msg);
}

enum jalad_status jalad_node_const_ints(struct jalad_graph *g, const struct jalad_node *n, int i,
					int64_t *buf, int cap, int *count)
{
	struct jalad_tensor_ir *t = jalad_node_input(g, n, i);
	*count = 0;
	if (!t)
		return jalad_node_fail(n, JALAD_ERR_NOT_FOUND, "input %d is missing", i);
	if (!t->data)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED,
				       "input %d ('%s') must be a constant", i, t->name);
	if (t->dtype != JALAD_DTYPE_INT64 && t->dtype != JALAD_DTYPE_INT32)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input %d ('%s') has dtype %s, expected int64",
				       i, t->name, jalad_dtype_name(t->dtype));
	int64_t cnt = jalad_ir_numel(t);
	if (cnt > cap)
		return jalad_node_fail(n, JALAD_ERR_LIMIT, "input %d has %lld values, at most %d supported",
				       i, (long long)cnt, cap);
	for (int64_t k = 0; k < cnt; k++)
		buf[k] = t->dtype == JALAD_DTYPE_INT64 ? ((const int64_t *)t->data)[k]
						      : ((const int32_t *)t->data)[k];
	*count = (int)cnt;
	return JALAD_OK;
}

enum jalad_status jalad_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b,
					int *nout, int64_t *out)
{
	int n = na > nb ? na : nb;
	JALAD_RETURN_IF(n > JALAD_MAX_DIMS, JALAD_ERR_UNSUPPORTED, "rank %d above %d", n, JALAD_MAX_DIMS);
	for (int i = 0; i < n; i++) {
		int ia = i - (n - na), ib = i - (n - nb);
		int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
		if (da == db || db == 1)
			out[i] = da;
		else if (da == 1)
			out[i] = db;
		else
			return jalad_fail(JALAD_ERR_SHAPE, "cannot broadcast dim %d: %lld vs %lld", i,
					  (long long)da, (long long)db);
	}
	*nout = n;
	return JALAD_OK;
}

/* =========================================================== running */

enum jalad_status jalad_node_run(const struct jalad_graph *g, const struct jalad_node *n,
				 struct jalad_tensor *ins, struct jalad_tensor *outs,
				 void *scratch, struct jalad_pool *pool)
{
	struct jalad_op_ctx ctx = {
		.g = g, .node = n, .n_in = n->n_in, .n_out = n->n_out,
		.in = ins, .out = outs, .scratch = scratch, .pool = pool,
	};
	enum jalad_status st = n->op->run(&ctx);
	if (st != JALAD_OK)
		jalad_error_prefix("node '%s' (%s): ", n->name, n->op_type);
	return st;
}

/* Evaluate a node whose inputs are all constants: its outputs become
 * constants owned by the graph. */
static enum jalad_status fold_node(struct jalad_graph *g, struct jalad_node *n)
{
	struct jalad_tensor ins[16], outs[16];
	void *scratch = NULL;
	enum jalad_status st = JALAD_OK;
	if (n->n_in > 16 || n->n_out > 16)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "too many inputs/outputs to fold");
	for (int i = 0; i < n->n_in; i++) {
		if (n->in[i] >= 0)
			jalad_graph_view(g, n->in[i], &ins[i]);
		else
			memset(&ins[i], 0, sizeof ins[i]);
	}
	for (int i = 0; i < n->n_out; i++) {
		struct jalad_tensor_ir *t = &g->tensors[n->out[i]];
		size_t bytes = jalad_ir_bytes(t);
		t->data = calloc(1, bytes ? bytes : 1);
		if (!t->data)
			return jalad_node_fail(n, JALAD_ERR_NOMEM, "folding needs %zu bytes", bytes);
		jalad_graph_view(g, n->out[i], &outs[i]);
	}
	if (n->scratch_bytes) {
		scratch = aligned_alloc(64, (n->scratch_bytes + 63) & ~(size_t)63);
		if (!scratch)
			return jalad_node_fail(n, JALAD_ERR_NOMEM, "folding scratch %zu bytes", n->scratch_bytes);
	}
	st = jalad_node_run(g, n, ins, outs, scratch, NULL);
	free(scratch);
	for (int i = 0; i < n->n_out; i++)
		g->tensors[n->out[i]].producer = -1;
	return st;
}

/* Min-heap of node indices. */
static void heap_push(int *h, int *n, int v)
{
	int i = (*n)++;
	while (i > 0 && h[(i - 1) / 2] > v) {
		h[i] = h[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h[i] = v;
}

static int heap_pop(int *h, int *n)
{
	int top = h[0], v = h[--*n], i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1] < h[c])
			c++;
		if (h[c] >= v)
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n > 0)
		h[i] = v;
	return top;
}

/* Kahn's algorithm, always taking the ready node that came first in the
 * file: exporters write nodes in execution order, which keeps residual
 * blocks contiguous and so keeps the tensors crossing each cut few. The
 * ready set is a heap and each tensor lists its readers, so ordering costs
 * O((nodes + edges) log nodes). */
static enum jalad_status topo_sort(struct jalad_graph *g)
{
	int n = g->n_nodes, nt = g->n_tensors, edges = 0;
	enum jalad_status st = JALAD_OK;
	size_t zn = (size_t)(n ? n : 1), zt = (size_t)(nt ? nt : 1);
	int *producer = malloc(zt * sizeof *producer);
	int *first = calloc(zt + 1, sizeof *first); /* readers of t: reader[first[t]..first[t+1]) */
	int *reader = NULL, *fill = NULL;
	int *pending = calloc(zn, sizeof *pending);
	int *heap = malloc(zn * sizeof *heap), nheap = 0;
	int *order = malloc(zn * sizeof *order), norder = 0;
	struct jalad_node *sorted = NULL;
	if (!producer || !first || !pending || !heap || !order) {
		st = jalad_fail(JALAD_ERR_NOMEM, "graph: ordering %d nodes", n);
		goto fail;
	}
	for (int t = 0; t < nt; t++)
		producer[t] = -1;
	for (int i = 0; i < n; i++)
		for (int o = 0; o < g->nodes[i].n_out; o++) {
			int t = g->nodes[i].out[o];
			if (producer[t] >= 0) {
				st = jalad_node_fail(&g->nodes[i], JALAD_ERR_FORMAT,
						     "output '%s' is also produced by node '%s'",
						     g->tensors[t].name, g->nodes[producer[t]].name);
				goto fail;
			}
			producer[t] = i;
		}
	for (int i = 0; i < n; i++)
		for (int j = 0; j < g->nodes[i].n_in; j++) {
			int t = g->nodes[i].in[j];
			if (t >= 0 && producer[t] >= 0) {
				first[t + 1]++;
				pending[i]++;
				edges++;
			}
		}
	for (int t = 0; t < nt; t++)
		first[t + 1] += first[t];
	reader = malloc((size_t)(edges ? edges : 1) * sizeof *reader);
	fill = malloc(zt * sizeof *fill);
	if (!reader || !fill) {
		st = jalad_fail(JALAD_ERR_NOMEM, "graph: ordering %d nodes", n);
		goto fail;
	}
	memcpy(fill, first, zt * sizeof *fill);
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < g->nodes[i].n_in; j++) {
			int t = g->nodes[i].in[j];
			if (t >= 0 && producer[t] >= 0)
				reader[fill[t]++] = i;
		}
		if (!pending[i])
			heap_push(heap, &nheap, i);
	}
	while (nheap > 0) {
		int pick = heap_pop(heap, &nheap);
		order[norder++] = pick;
		for (int o = 0; o < g->nodes[pick].n_out; o++) {
			int t = g->nodes[pick].out[o];
			for (int r = first[t]; r < first[t + 1]; r++)
				if (--pending[reader[r]] == 0)
					heap_push(heap, &nheap, reader[r]);
		}
	}
	if (norder < n) {
		for (int i = 0; i < n; i++)
			if (pending[i]) {
				st = jalad_node_fail(&g->nodes[i], JALAD_ERR_FORMAT,
						     "graph has a cycle or an input no node produces");
				goto fail;
			}
	}
	sorted = malloc(zn * sizeof *sorted);
	if (!sorted) {
		st = jalad_fail(JALAD_ERR_NOMEM, "graph: ordering %d nodes", n);
		goto fail;
	}
	for (int k = 0; k < n; k++)
		sorted[k] = g->nodes[order[k]];
	free(g->nodes);
	g->nodes = sorted;
	g->cap_nodes = n;
fail:
	free(producer);
	free(first);
	free(reader);
	free(fill);
	free(pending);
	free(heap);
	free(order);
	return st;
}

static int is_const(const struct jalad_graph *g, int t)
{
	return t >= 0 && g->tensors[t].data != NULL;
}

/* Does node n pass only max(x, 0) of its input t on? A Relu, or a Clip
 * whose lower bound is a constant >= 0 (then Clip(max(x, 0)) = Clip(x)). */
static int reader_is_relu(const struct jalad_graph *g, const struct jalad_node *n, int t)
{
	if (n->n_in < 1 || n->in[0] != t)
		return 0;
	for (int i = 1; i < n->n_in; i++)
		if (n->in[i] == t)
			return 0; /* also read as a bound */
	if (strcmp(n->op_type, "Relu") == 0)
		return n->n_in == 1;
	if (strcmp(n->op_type, "Clip") != 0)
		return 0;
	float lo = -INFINITY;
	if (g->opset < 11) {
		lo = jalad_attr_float(n, "min", -INFINITY);
	} else if (n->n_in >= 2 && n->in[1] >= 0) {
		const struct jalad_tensor_ir *b = &g->tensors[n->in[1]];
		if (!b->data || b->dtype != JALAD_DTYPE_FLOAT32)
			return 0;
		int64_t cnt = 1;
		for (int d = 0; d < b->ndim; d++)
			cnt *= b->dims[d];
		if (cnt != 1)
			return 0;
		memcpy(&lo, b->data, sizeof lo);
	}
	return lo >= 0.0f; /* false for NaN */
}

/* The cuts each non-constant tensor crosses, [producer + 1, last_use] (from
 * 0 for graph inputs), indexed by tensor id; empty lives are [1, 0]. */
static enum jalad_status build_live_index(struct jalad_graph *g)
{
	size_t zt = (size_t)(g->n_tensors ? g->n_tensors : 1);
	int *lo = malloc(zt * sizeof *lo), *hi = malloc(zt * sizeof *hi);
	enum jalad_status st = JALAD_OK;
	if (!lo || !hi) {
		st = jalad_fail(JALAD_ERR_NOMEM, "graph: %d tensors", g->n_tensors);
		goto fail;
	}
	for (int t = 0; t < g->n_tensors; t++) {
		const struct jalad_tensor_ir *ti = &g->tensors[t];
		lo[t] = 1;
		hi[t] = 0;
		if (!ti->data && (ti->is_input || ti->producer >= 0)) {
			lo[t] = ti->is_input ? 0 : ti->producer + 1;
			hi[t] = ti->last_use;
		}
	}
	jalad_ivtree_free(g->live);
	g->live = NULL;
	st = jalad_ivtree_create(g->n_tensors, lo, hi, &g->live);
fail:
	free(lo);
	free(hi);
	return st;
}

enum jalad_status jalad_graph_finalize(struct jalad_graph *g)
{
	enum jalad_status st;
	/* Every referenced input must exist somewhere: a graph input, a
	 * constant, or some node's output. */
	char *made = calloc((size_t)(g->n_tensors ? g->n_tensors : 1), 1);
	JALAD_RETURN_IF(!made, JALAD_ERR_NOMEM, "graph");
	for (int t = 0; t < g->n_tensors; t++)
		made[t] = g->tensors[t].is_input || g->tensors[t].data;
	for (int i = 0; i < g->n_nodes; i++)
		for (int o = 0; o < g->nodes[i].n_out; o++)
			made[g->nodes[i].out[o]] = 1;
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = 0; j < g->nodes[i].n_in; j++) {
			int t = g->nodes[i].in[j];
			if (t >= 0 && !made[t]) {
				free(made);
				return jalad_node_fail(&g->nodes[i], JALAD_ERR_NOT_FOUND,
						       "input '%s' is not a graph input, an initializer or any node's output",
						       g->tensors[t].name);
			}
		}
	for (int i = 0; i < g->n_outputs; i++)
		if (!made[g->outputs[i]]) {
			int t = g->outputs[i];
			free(made);
			return jalad_fail(JALAD_ERR_NOT_FOUND, "graph output '%s' is not produced by any node",
					  g->tensors[t].name);
		}
	free(made);

	JALAD_FORWARD(topo_sort(g));

	/* Infer shapes in order; fold nodes whose inputs are all constant. */
	int kept = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		struct jalad_node *n = &g->nodes[i];
		n->op = jalad_op_lookup(n->op_type);
		if (!n->op)
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "unsupported op '%s'", n->op_type);
		for (int j = 0; j < n->n_in; j++) {
			int t = n->in[j];
			if (t >= 0 && g->tensors[t].ndim < 0)
				return jalad_node_fail(n, JALAD_ERR_SHAPE, "input '%s' has no known shape",
						       g->tensors[t].name);
		}
		st = n->op->infer(g, n);
		if (st != JALAD_OK) {
			/* infer may have raised a plain message: name the node. */
			const char *e = jalad_last_error();
			if (strncmp(e, "node '", 6) != 0)
				jalad_error_prefix("node '%s' (%s): ", n->name, n->op_type);
			return st;
		}
		for (int o = 0; o < n->n_out; o++) {
			struct jalad_tensor_ir *t = &g->tensors[n->out[o]];
			if (t->ndim < 0 || jalad_dtype_size(t->dtype) == 0)
				return jalad_node_fail(n, JALAD_ERR_INTERNAL, "output %d has no shape", o);
			size_t numel = 1;
			for (int d = 0; d < t->ndim; d++) {
				if (t->dims[d] < 0)
					return jalad_node_fail(n, JALAD_ERR_SHAPE, "output %d dim %d is negative", o, d);
				if (jalad_mul_size(numel, (size_t)t->dims[d], &numel) || numel > ((size_t)1 << 40))
					return jalad_node_fail(n, JALAD_ERR_SHAPE, "output %d has more than 2^40 elements", o);
			}
			t->producer = i;
		}
		int foldable = 1;
		for (int j = 0; j < n->n_in; j++)
			if (n->in[j] >= 0 && !is_const(g, n->in[j]))
				foldable = 0;
		/* Shape reads only its input's (static) shape, never its data:
		 * folding it lets Shape->Gather->Concat->Reshape chains of
		 * PyTorch exports fold away. Random ops are never registered,
		 * so every op is pure. */
		if (!strcmp(n->op_type, "Shape"))
			foldable = 1;
		if (foldable) {
			JALAD_FORWARD(fold_node(g, n));
			node_clear(n);
			continue;
		}
		if (kept != i) {
			g->nodes[kept] = *n;
			memset(n, 0, sizeof *n);
		}
		kept++;
	}
	g->n_nodes = kept;

	/* Producers, consumers and lifetimes over the final order. */
	for (int t = 0; t < g->n_tensors; t++) {
		g->tensors[t].n_consumers = 0;
		g->tensors[t].relu_readers = 1;
		g->tensors[t].last_use = -1;
		if (!g->tensors[t].data && !g->tensors[t].is_input)
			g->tensors[t].producer = -1;
	}
	for (int i = 0; i < g->n_nodes; i++) {
		struct jalad_node *n = &g->nodes[i];
		for (int o = 0; o < n->n_out; o++)
			g->tensors[n->out[o]].producer = i;
		for (int j = 0; j < n->n_in; j++) {
			int t = n->in[j];
			if (t < 0)
				continue;
			g->tensors[t].n_consumers++;
			g->tensors[t].last_use = i;
			if (!reader_is_relu(g, n, t))
				g->tensors[t].relu_readers = 0;
		}
	}
	for (int i = 0; i < g->n_outputs; i++) {
		g->tensors[g->outputs[i]].is_output = 1;
		g->tensors[g->outputs[i]].last_use = g->n_nodes;
	}
	return build_live_index(g);
}
