/*
 * Sessions: one arena planned from tensor lifetimes at creation, then runs
 * of node ranges with no allocation.
 *
 * Lifetimes are those of the full order, so any range [a, b) is safe: a
 * tensor crossing cut a was made before a and is read at or after a, so its
 * slot overlaps no slot of a tensor made in [a, b) while both are live.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine_impl.h"

struct jalad_session {
	const struct jalad_model *model;
	const struct jalad_graph *g;
	struct jalad_pool *pool;
	uint8_t *arena;            /* activations */
	size_t arena_bytes;
	size_t *offset;            /* per tensor; SIZE_MAX for constants */
	void *scratch;             /* largest node scratch */
	struct jalad_tensor *views; /* per tensor, data pointing into arena */
	struct jalad_tensor *ins, *outs; /* per-node argument arrays */
	int max_args;
	uint64_t *times;           /* per node, ns */
	uint64_t *reorder_times;   /* per node, ns (part of times) */
	int *group_end;            /* per node: end of the group it headed, 0 */
	const char **impl;         /* per node: kernel name of the last run */
	int profiling;
	char backend[16];
	const struct jalad_backend *be; /* NULL: the reference kernels */
	void *be_state;
};

/* Each activation gets a slot of the arena live over the node indices
 * [producer, last_use] (from -1 for graph inputs); jalad_arena_place()
 * packs them, largest first. */
static enum jalad_status plan_arena(struct jalad_session *s)
{
	const struct jalad_graph *g = s->g;
	enum jalad_status st = JALAD_OK;
	size_t zt = (size_t)(g->n_tensors + 1);
	int *tid = malloc(zt * sizeof *tid), *start = malloc(zt * sizeof *start), *end = malloc(zt * sizeof *end);
	size_t *size = malloc(zt * sizeof *size), *off = malloc(zt * sizeof *off);
	int ns = 0;
	if (!tid || !start || !end || !size || !off) {
		st = jalad_fail(JALAD_ERR_NOMEM, "arena plan");
		goto fail;
	}
	for (int t = 0; t < g->n_tensors; t++) {
		const struct jalad_tensor_ir *ti = &g->tensors[t];
		s->offset[t] = SIZE_MAX;
		if (ti->data || (ti->producer < 0 && !ti->is_input))
			continue;
		tid[ns] = t;
		start[ns] = ti->is_input ? -1 : ti->producer;
		end[ns] = ti->last_use < start[ns] ? start[ns] : ti->last_use;
		size[ns] = (jalad_ir_bytes(ti) + 63) & ~(size_t)63;
		if (size[ns] == 0)
			size[ns] = 64;
		ns++;
	}
	if ((st = jalad_arena_place(ns, size, start, end, off, &s->arena_bytes)) != JALAD_OK)
		goto fail;
	for (int i = 0; i < ns; i++)
		s->offset[tid[i]] = off[i];
fail:
	free(tid);
	free(start);
	free(end);
	free(size);
	free(off);
	return st;
}

enum jalad_status jalad_session_create(const struct jalad_model *model, const struct jalad_session_opts *opts,
				       struct jalad_session **out)
{
	enum jalad_status st;
	struct jalad_session *s;
	int threads = opts && opts->threads > 0 ? opts->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
	const char *backend = opts && opts->backend ? opts->backend : jalad_backend_default();
	const struct jalad_backend *be = NULL;
	*out = NULL;
	JALAD_RETURN_IF(!model, JALAD_ERR_INVALID_ARG, "NULL model");
	if (strcmp(backend, "ref") != 0) {
		be = jalad_backend_lookup(backend);
		JALAD_RETURN_IF(!be, JALAD_ERR_UNSUPPORTED, "backend '%s' is not available", backend);
	}
	s = calloc(1, sizeof *s);
	JALAD_RETURN_IF(!s, JALAD_ERR_NOMEM, "session");
	s->be = be;
	s->model = model;
	s->g = &model->g;
	snprintf(s->backend, sizeof s->backend, "%s", backend);
	const struct jalad_graph *g = s->g;
	size_t nt = (size_t)(g->n_tensors ? g->n_tensors : 1), nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
	s->offset = malloc(nt * sizeof *s->offset);
	s->views = calloc(nt, sizeof *s->views);
	s->times = calloc(nn, sizeof *s->times);
	s->reorder_times = calloc(nn, sizeof *s->reorder_times);
	s->group_end = calloc(nn, sizeof *s->group_end);
	s->impl = calloc(nn, sizeof *s->impl);
	if (!s->offset || !s->views || !s->times || !s->reorder_times || !s->group_end || !s->impl) {
		st = jalad_fail(JALAD_ERR_NOMEM, "session tables");
		goto fail;
	}
	if ((st = plan_arena(s)) != JALAD_OK)
		goto fail;
	s->arena = aligned_alloc(64, s->arena_bytes ? s->arena_bytes : 64);
	size_t scratch = 0;
	for (int i = 0; i < g->n_nodes; i++) {
		if (g->nodes[i].scratch_bytes > scratch)
			scratch = g->nodes[i].scratch_bytes;
		if (g->nodes[i].n_in > s->max_args)
			s->max_args = g->nodes[i].n_in;
		if (g->nodes[i].n_out > s->max_args)
			s->max_args = g->nodes[i].n_out;
	}
	s->scratch = aligned_alloc(64, (scratch + 63) & ~(size_t)63 ? (scratch + 63) & ~(size_t)63 : 64);
	s->ins = calloc((size_t)s->max_args + 1, sizeof *s->ins);
	s->outs = calloc((size_t)s->max_args + 1, sizeof *s->outs);
	if (!s->arena || !s->scratch || !s->ins || !s->outs) {
		st = jalad_fail(JALAD_ERR_NOMEM, "session arena of %zu bytes", s->arena_bytes);
		goto fail;
	}
	/* Touch the arena once so the first run does not pay page faults. */
	memset(s->arena, 0, s->arena_bytes);
	for (int t = 0; t < g->n_tensors; t++) {
		jalad_graph_view(g, t, &s->views[t]);
		if (s->offset[t] != SIZE_MAX)
			s->views[t].data = s->arena + s->offset[t];
	}
	if (be) {
		if ((st = be->create(g, threads, &s->be_state)) != JALAD_OK)
			goto fail;
	} else if ((st = jalad_pool_create(threads, &s->pool)) != JALAD_OK) {
		goto fail;
	}
	*out = s;
	return JALAD_OK;
fail:
	jalad_session_free(s);
	return st;
}

void jalad_session_free(struct jalad_session *s)
{
	if (!s)
		return;
	if (s->be && s->be_state)
		s->be->free(s->be_state);
	jalad_pool_free(s->pool);
	free(s->arena);
	free(s->scratch);
	free(s->offset);
	free(s->views);
	free(s->ins);
	free(s->outs);
	free(s->times);
	free(s->reorder_times);
	free(s->group_end);
	free(s->impl);
	free(s);
}

const char *jalad_session_backend(const struct jalad_session *s)
{
	return s->backend;
}

size_t jalad_session_arena_bytes(const struct jalad_session *s)
{
	return s->arena_bytes;
}

void jalad_session_set_profiling(struct jalad_session *s, int on)
{
	s->profiling = on;
}

const uint64_t *jalad_session_node_times(const struct jalad_session *s)
{
	return s->times;
}

enum jalad_status jalad_session_node_profile(const struct jalad_session *s, int node, struct jalad_node_prof *out)
{
	JALAD_RETURN_IF(!s || !out || node < 0 || node >= s->g->n_nodes, JALAD_ERR_INVALID_ARG,
			"node %d out of range", node);
	out->ns = s->times[node];
	out->reorder_ns = s->reorder_times[node];
	out->group_end = s->group_end[node];
	out->impl = s->impl[node];
	return JALAD_OK;
}

static enum jalad_status run_nodes(struct jalad_session *s, int a, int b)
{
	const struct jalad_graph *g = s->g;
	if (s->profiling) {
		size_t nn = (size_t)g->n_nodes;
		memset(s->times, 0, nn * sizeof *s->times);
		memset(s->reorder_times, 0, nn * sizeof *s->reorder_times);
		memset(s->group_end, 0, nn * sizeof *s->group_end);
		memset(s->impl, 0, nn * sizeof *s->impl);
	}
	if (s->be) {
		struct jalad_be_prof prof = {s->times, s->reorder_times, s->group_end, s->impl};
		return s->be->run_range(s->be_state, a, b, s->views, s->profiling ? &prof : NULL);
	}
	for (int i = a; i < b; i++) {
		const struct jalad_node *n = &g->nodes[i];
		for (int j = 0; j < n->n_in; j++) {
			if (n->in[j] >= 0)
				s->ins[j] = s->views[n->in[j]];
			else
				memset(&s->ins[j], 0, sizeof s->ins[j]);
		}
		for (int j = 0; j < n->n_out; j++)
			s->outs[j] = s->views[n->out[j]];
		uint64_t t0 = s->profiling ? jalad_now_ns() : 0;
		JALAD_FORWARD(jalad_node_run(g, n, s->ins, s->outs, s->scratch, s->pool));
		if (s->profiling) {
			s->times[i] = jalad_now_ns() - t0;
			s->group_end[i] = i + 1;
			s->impl[i] = "ref";
		}
	}
	return JALAD_OK;
}

static enum jalad_status set_input(struct jalad_session *s, int id, const struct jalad_tensor *v)
{
	const struct jalad_tensor_ir *t = &s->g->tensors[id];
	JALAD_RETURN_IF(v->dtype != t->dtype, JALAD_ERR_SHAPE, "input '%s' is %s, the model expects %s",
			t->name, jalad_dtype_name(v->dtype), jalad_dtype_name(t->dtype));
	int same = v->ndim == t->ndim;
	for (int d = 0; same && d < t->ndim; d++)
		same = v->dims[d] == t->dims[d];
	if (!same) {
		char want[128], got[128];
		int p = 0;
		want[0] = got[0] = 0;
		for (int d = 0; d < t->ndim && p < 100; d++)
			p += snprintf(want + p, sizeof want - (size_t)p, "%s%lld", d ? "x" : "", (long long)t->dims[d]);
		p = 0;
		for (int d = 0; d < v->ndim && d < JALAD_MAX_DIMS && p < 100; d++)
			p += snprintf(got + p, sizeof got - (size_t)p, "%s%lld", d ? "x" : "", (long long)v->dims[d]);
		return jalad_fail(JALAD_ERR_SHAPE, "input '%s' has shape [%s], the model expects [%s]", t->name,
				  got, want);
	}
	JALAD_RETURN_IF(!v->data && jalad_ir_bytes(t), JALAD_ERR_INVALID_ARG, "input '%s' has no data", t->name);
	if (s->offset[id] != SIZE_MAX && jalad_ir_bytes(t))
		memcpy(s->arena + s->offset[id], v->data, jalad_ir_bytes(t));
	return JALAD_OK;
}

enum jalad_status jalad_session_run(struct jalad_session *s, const struct jalad_tensor *inputs, int n_inputs)
{
	const struct jalad_graph *g = s->g;
	JALAD_RETURN_IF(n_inputs != g->n_inputs, JALAD_ERR_INVALID_ARG, "the model has %d inputs, got %d",
			g->n_inputs, n_inputs);
	for (int i = 0; i < n_inputs; i++)
		JALAD_FORWARD(set_input(s, g->inputs[i], &inputs[i]));
	return run_nodes(s, 0, g->n_nodes);
}

enum jalad_status jalad_session_run_range(struct jalad_session *s, int a, int b, const int *in_ids,
					  const struct jalad_tensor *in_vals, int n_in)
{
	const struct jalad_graph *g = s->g;
	JALAD_RETURN_IF(a < 0 || b > g->n_nodes || a > b, JALAD_ERR_INVALID_ARG, "range [%d, %d) outside [0, %d]",
			a, b, g->n_nodes);
	int need[256], n_need;
	JALAD_FORWARD(jalad_model_crossing(s->model, a, need, 256, &n_need));
	JALAD_RETURN_IF(n_need > 256, JALAD_ERR_UNSUPPORTED, "cut %d crosses %d tensors (max 256)", a, n_need);
	for (int i = 0; i < n_need; i++) {
		int found = -1;
		for (int j = 0; j < n_in; j++)
			if (in_ids[j] == need[i])
				found = j;
		JALAD_RETURN_IF(found < 0, JALAD_ERR_NOT_FOUND, "tensor '%s' crosses cut %d but was not given",
				g->tensors[need[i]].name, a);
		JALAD_FORWARD(set_input(s, need[i], &in_vals[found]));
	}
	return run_nodes(s, a, b);
}

enum jalad_status jalad_session_tensor(const struct jalad_session *s, int id, struct jalad_tensor *out)
{
	JALAD_RETURN_IF(id < 0 || id >= s->g->n_tensors, JALAD_ERR_INVALID_ARG, "tensor %d out of range", id);
	*out = s->views[id];
	JALAD_RETURN_IF(!out->data, JALAD_ERR_NOT_FOUND, "tensor '%s' has no storage", s->g->tensors[id].name);
	return JALAD_OK;
}

enum jalad_status jalad_session_output(const struct jalad_session *s, int i, struct jalad_tensor *out)
{
	JALAD_RETURN_IF(i < 0 || i >= s->g->n_outputs, JALAD_ERR_INVALID_ARG, "output %d out of range", i);
	return jalad_session_tensor(s, s->g->outputs[i], out);
}
