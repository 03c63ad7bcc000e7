/*
 * The oneDNN backend: runs node ranges with oneDNN primitives in the
 * layouts oneDNN prefers (NHWC / blocked), falling back to the reference
 * kernel, in plain layout, for any node oneDNN cannot express.
 *
 * Homes. Every float32 tensor has one home buffer in one layout:
 *   - the session's plain view, for graph inputs, fallback outputs and
 *     native outputs that are plain anyway (Gemm, global pools...);
 *   - a slot of this backend's arena, for native outputs in NHWC / blocked
 *     layouts, outputs of fused groups and in-place residual chains;
 *   - the model's constant data.
 * A consumer that wants another layout reorders the home into a temporary
 * first (its unit's first steps). Views copy nothing: a Reshape (Flatten,
 * Squeeze, Unsqueeze) of a native plain output, or a Slice of a contiguous
 * part of one (ShuffleNet's channel halves), has its home in the input's
 * buffer, at an offset for the Slice (an alias set with home_off).
 *
 * Ranges. run_range(a, b) may start and end between any two nodes: every
 * arena tensor crossing cut a is reordered from its plain view into its
 * home before the first node, every arena tensor crossing cut b (and every
 * one a fallback node reads) is reordered into its plain view as soon as
 * it is made. Fused groups run fused only when they lie wholly inside
 * [a, b); see dnnl_fuse.c.
 *
 * Memory. Weight reorders, memory objects and the arena are made in
 * create(), with the primitives whole runs use (the rest on first use);
 * run_range() sets the view pointers of its memory objects (the session's
 * arena does not move) and executes. The arena has two parts: the slots a
 * whole run uses, then those only split ranges use (place_slots()).
 * Weights and arena may ask for huge pages (dn_big_alloc()).
 *
 * Threads. oneDNN runs on OpenMP, whose thread count is the calling
 * thread's ICV (process-wide in practice): create() and run_range() call
 * omp_set_num_threads(), so sessions with different thread counts in one
 * process take turns; two sessions must not run at once on the same cores.
 * Every node runs on the session's thread count (node_threads()).
 * Weight reorders at create() run on a pool of the session's size, each
 * job on one OpenMP thread (dn_weights_run(); Winograd weights by
 * dnnl_wino.c's transform).
 * Fallback kernels use a jalad pool of the session's size.
 *
 * Switches (environment, read at create(); for debugging and benchmarks):
 * JALAD_DNNL_NOFUSE=1 disables fusion, JALAD_DNNL_NOWINOGRAD=1 keeps every
 * convolution on the direct kernels, JALAD_DNNL_LAYOUT=nhwc|blocked forces
 * the convolutions' activation layout (default: dn_pick_layout()),
 * JALAD_DNNL_HUGEPAGES=1 puts weights and arena on huge pages
 * (dn_big_alloc()).
 */
#ifdef JALAD_HAVE_DNNL
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_impl.h"

/* ------------------------------------------------------------ free */

static void dn_free(void *state)
{
	struct dn_state *s = state;
	if (!s)
		return;
	const struct jalad_graph *g = s->g;
	for (int i = 0; s->unit && i < g->n_nodes; i++)
		dn_unit_free(s->unit[i]);
	for (int i = 0; s->fused && i < g->n_nodes; i++)
		dn_unit_free(s->fused[i]);
	for (int t = 0; s->consumers && t < g->n_tensors; t++)
		free(s->consumers[t]);
	for (int i = 0; i < s->n_prims; i++) {
		if (s->prims[i].p)
			dnnl_primitive_destroy(s->prims[i].p);
		if (s->prims[i].pd)
			dnnl_primitive_desc_destroy(s->prims[i].pd);
		free(s->prims[i].key);
		free(s->prims[i].od);
	}
	dn_weights_free(s);
	for (int i = 0; i < s->n_mems; i++)
		dnnl_memory_destroy(s->mems[i]);
	for (int i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	if (s->strm)
		dnnl_stream_destroy(s->strm);
	if (s->eng)
		dnnl_engine_destroy(s->eng);
	jalad_pool_free(s->pool);
	free(s->unit);
	free(s->fused);
	free(s->wino);
	free(s->consumers);
	free(s->t);
	free(s->prims);
	free(s->prim_slot);
	dn_mdtab_free(&s->mds);
	free(s->mems);
	free(s->owned);
	free(s->temps);
	free(s->viewmems);
	free(s->slots);
	free(s->entry);
	free(s->arena);
	free(s->ref_scratch);
	free(s->ins);
	free(s->outs);
	free(s);
}

/* ------------------------------------------------------------ pass 1: units */

#define DN_POOL_MIN_WORK ((int64_t)1 << 16) /* fallback flops + output elements */

static enum jalad_status init_tensors(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	int nt = g->n_tensors;
	s->t = calloc((size_t)(nt ? nt : 1), sizeof *s->t);
	s->consumers = calloc((size_t)(nt ? nt : 1), sizeof *s->consumers);
	JALAD_RETURN_IF(!s->t || !s->consumers, JALAD_ERR_NOMEM, "dnnl backend: %d tensors", nt);
	int *count = calloc((size_t)(nt ? nt : 1), sizeof *count);
	JALAD_RETURN_IF(!count, JALAD_ERR_NOMEM, "dnnl backend: %d tensors", nt);
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_in; k++)
			if (g->nodes[i].in[k] >= 0)
				count[g->nodes[i].in[k]]++;
	for (int t = 0; t < nt; t++) {
		const struct jalad_tensor_ir *ti = &g->tensors[t];
		struct dn_tensor *d = &s->t[t];
		d->f32 = ti->dtype == JALAD_DTYPE_FLOAT32 && ti->ndim >= 0 && ti->ndim <= JALAD_MAX_DIMS &&
			 jalad_ir_numel(ti) > 0;
		d->alias = t;
		d->slot = -1;
		d->to_plain = d->from_plain = -1;
		d->home_md = d->plain_md = -1;
		if (d->f32) {
			dnnl_memory_desc_t md;
			dn_md_plain(&md, ti->ndim, ti->dims);
			enum jalad_status st = dn_md_id(s, &md, &d->plain_md);
			if (st != JALAD_OK) {
				free(count);
				return st;
			}
			d->home_md = d->plain_md;
		}
		s->consumers[t] = malloc((size_t)(count[t] + 1) * sizeof(int));
		if (!s->consumers[t]) {
			free(count);
			return jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: consumer lists");
		}
		s->consumers[t][0] = -1;
		count[t] = 0;
	}
	for (int i = 0; i < g->n_nodes; i++)
		for (int k = 0; k < g->nodes[i].n_in; k++) {
			int t = g->nodes[i].in[k];
			if (t < 0)
				continue;
			int c = count[t];
			if (c > 0 && s->consumers[t][c - 1] == i)
				continue; /* the same tensor twice in one node */
			s->consumers[t][c] = i;
			s->consumers[t][c + 1] = -1;
			count[t]++;
		}
	free(count);
	return JALAD_OK;
}

/* OpenMP threads for node i's primitives: the session's, for every node.
 * Small nodes (under 2 MFLOP and 64 KiB of output) used to be made for
 * and run on one thread, to spare a parallel region; at 2 threads that
 * measured 3-6% slower on the squeeze-and-excitation models
 * (efficientnet_b0 5.84 -> 5.64 ms, mobilenet_v3_small 0.93 -> 0.89, quiet
 * machine; also with a busy core), likely as OpenMP's team changes size
 * between nodes, and no faster elsewhere. Units keep their own count
 * (u->nthr) so that a rule can come back per node; whatever it is, it must
 * depend only on the node, so sessions of one thread count agree bit for
 * bit. */
static int node_threads(const struct dn_state *s, int i)
{
	(void)i;
	return s->threads;
}

static enum jalad_status build_units(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	for (int i = 0; i < g->n_nodes; i++) {
		const struct jalad_node *n = &g->nodes[i];
		struct dn_unit *u = NULL;
		s->nthr = node_threads(s, i);
		omp_set_num_threads(s->nthr);
		enum jalad_status st = dn_build_node(s, i, &u);
		s->nthr = s->threads;
		omp_set_num_threads(s->nthr);
		if (st == JALAD_ERR_UNSUPPORTED) {
			u = dn_unit_new(i, i + 1);
			JALAD_RETURN_IF(!u, JALAD_ERR_NOMEM, "dnnl backend: unit");
			u->fallback = 1;
			/* Small nodes (a Flatten before the classifier...) are not
			 * worth waking the pool while OpenMP's threads still spin. */
			int64_t work = n->op->flops ? n->op->flops(g, n) : 0;
			for (int k = 0; k < n->n_out; k++)
				work += jalad_ir_numel(&g->tensors[n->out[k]]);
			u->pooled = work >= DN_POOL_MIN_WORK;
			for (int k = 0; k < n->n_in; k++)
				if (n->in[k] >= 0)
					s->t[n->in[k]].plain_consumer = 1;
			if (n->n_in > s->max_args)
				s->max_args = n->n_in;
			if (n->n_out > s->max_args)
				s->max_args = n->n_out;
			jalad_log(JALAD_LOG_DEBUG, "dnnl: node %d '%s' (%s) runs the reference kernel", i,
				  n->name ? n->name : "", n->op_type);
		} else if (st != JALAD_OK) {
			jalad_error_prefix("dnnl: node '%s' (%s): ", n->name ? n->name : "", n->op_type);
			return st;
		}
		s->unit[i] = u;
	}
	return JALAD_OK;
}

/* ------------------------------------------------------------ pass 3: storage */

static int root_of(const struct dn_state *s, int t)
{
	while (s->t[t].alias != t)
		t = s->t[t].alias;
	return t;
}

static enum jalad_status add_slot(struct dn_state *s, size_t size, int start, int end, int *id)
{
	if (s->n_slots == s->cap_slots) {
		int c = s->cap_slots ? s->cap_slots * 2 : 64;
		struct dn_slot *q = realloc(s->slots, (size_t)c * sizeof *q);
		JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: arena slots");
		s->slots = q;
		s->cap_slots = c;
	}
	struct dn_slot *sl = &s->slots[s->n_slots];
	sl->size = (size + 63) & ~(size_t)63;
	if (!sl->size)
		sl->size = 64;
	sl->start = start;
	sl->end = end < start ? start : end;
	sl->off = 0;
	sl->split_only = 0;
	*id = s->n_slots++;
	return JALAD_OK;
}

/* Greedy by decreasing size, as the session does (jalad_arena_place),
 * in two regions: first the slots a whole run uses, then those only split
 * ranges use (the insides of fused groups). Placed together, the latter
 * spread the former over more memory, and a whole run's data then evicts
 * more of the weights from the caches. */
static enum jalad_status place_slots(struct dn_state *s)
{
	enum jalad_status st = JALAD_OK;
	size_t zn = (size_t)(s->n_slots ? s->n_slots : 1);
	int *start = malloc(zn * sizeof *start), *end = malloc(zn * sizeof *end), *ids = malloc(zn * sizeof *ids);
	size_t *size = malloc(zn * sizeof *size), *off = malloc(zn * sizeof *off);
	if (!start || !end || !ids || !size || !off) {
		st = jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: arena plan");
		goto fail;
	}
	s->arena_bytes = s->arena_whole_bytes = 0;
	for (int region = 0; region < 2; region++) {
		int n = 0;
		size_t bytes = 0;
		for (int i = 0; i < s->n_slots; i++) {
			if (s->slots[i].split_only != region)
				continue;
			ids[n] = i;
			start[n] = s->slots[i].start;
			end[n] = s->slots[i].end;
			size[n++] = s->slots[i].size;
		}
		if (!n)
			continue;
		if ((st = jalad_arena_place(n, size, start, end, off, &bytes)) != JALAD_OK)
			goto fail;
		for (int k = 0; k < n; k++)
			s->slots[ids[k]].off = s->arena_bytes + off[k];
		s->arena_bytes += (bytes + 63) & ~(size_t)63;
		if (!region)
			s->arena_whole_bytes = s->arena_bytes;
	}
fail:
	free(start);
	free(end);
	free(ids);
	free(size);
	free(off);
	return st;
}

static enum jalad_status plan_storage(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	int nt = g->n_tensors;
	char *has_members = calloc((size_t)(nt ? nt : 1), 1);
	JALAD_RETURN_IF(!has_members, JALAD_ERR_NOMEM, "dnnl backend: storage plan");
	for (int t = 0; t < nt; t++)
		if (s->t[t].alias != t)
			has_members[root_of(s, t)] = 1;
	for (int t = 0; t < nt; t++) {
		const struct jalad_tensor_ir *ti = &g->tensors[t];
		struct dn_tensor *d = &s->t[t];
		d->start = ti->producer;
		d->end = ti->last_use < ti->producer ? ti->producer : ti->last_use;
		if (!d->f32)
			d->store = DN_STORE_NONE;
		else if (ti->data)
			d->store = DN_STORE_CONST;
		else if (ti->is_input || ti->producer < 0 || !d->native_out)
			d->store = ti->is_input || ti->producer >= 0 ? DN_STORE_VIEW : DN_STORE_NONE;
		else if (d->alias != t || has_members[t] || d->group_out || !dn_md_is_plain(dn_md(s, d->home_md)))
			d->store = DN_STORE_ARENA;
		else
			d->store = DN_STORE_VIEW;
	}
	free(has_members);
	/* Fused groups write their output at the group's first node. */
	for (int i = 0; i < g->n_nodes; i++)
		if (s->fused[i] && s->t[s->fused[i]->out].start > i)
			s->t[s->fused[i]->out].start = i;
	/* Tensors made inside a fused group (not its output): only split
	 * ranges write them. */
	char *inside = calloc((size_t)(nt ? nt : 1), 1);
	JALAD_RETURN_IF(!inside, JALAD_ERR_NOMEM, "dnnl backend: storage plan");
	for (int i = 0; i < g->n_nodes; i++)
		for (int j = i; s->fused[i] && j < s->fused[i]->end; j++)
			for (int k = 0; k < g->nodes[j].n_out; k++)
				if (g->nodes[j].out[k] >= 0 && g->nodes[j].out[k] != s->fused[i]->out)
					inside[g->nodes[j].out[k]] = 1;
	/* One slot per alias set (sized by its members' ends, live over
	 * the union of their lives). */
	enum jalad_status st = JALAD_OK;
	for (int t = 0; t < nt && st == JALAD_OK; t++) {
		struct dn_tensor *d = &s->t[t];
		if (d->store != DN_STORE_ARENA)
			continue;
		int r = root_of(s, t);
		size_t bytes = d->home_off + dn_md_bytes(dn_md(s, d->home_md));
		if (s->t[r].slot < 0) {
			if ((st = add_slot(s, bytes, d->start, d->end, &s->t[r].slot)) != JALAD_OK)
				break;
			s->slots[s->t[r].slot].split_only = inside[t];
		} else {
			struct dn_slot *sl = &s->slots[s->t[r].slot];
			size_t sz = (bytes + 63) & ~(size_t)63;
			if (sz > sl->size)
				sl->size = sz;
			if (d->start < sl->start)
				sl->start = d->start;
			if (d->end > sl->end)
				sl->end = d->end;
			sl->split_only &= inside[t];
		}
		d->slot = s->t[r].slot;
	}
	free(inside);
	JALAD_FORWARD(st);
	for (int k = 0; k < s->n_temps; k++)
		JALAD_FORWARD(add_slot(s, dn_md_bytes(dn_md(s, s->temps[k].md)), s->temps[k].node, s->temps[k].node,
				       &s->temps[k].slot));
	JALAD_FORWARD(place_slots(s));
	s->arena = dn_big_alloc(s, s->arena_bytes);
	JALAD_RETURN_IF(!s->arena, JALAD_ERR_NOMEM, "dnnl backend: arena of %zu bytes", s->arena_bytes);
	/* Touch what a whole run uses now, so the first run pays no page
	 * faults; the split-only region is touched by the split runs that
	 * use it. */
	memset(s->arena, 0, s->arena_whole_bytes);
	jalad_log(JALAD_LOG_DEBUG, "dnnl: arena of %zu bytes, %zu used by whole runs", s->arena_bytes,
		  s->arena_whole_bytes);
	/* The order of the reorders into homes at a range's start: when a
	 * tensor and a view into it (a Slice's part) both cross the cut, the
	 * view's values go in last, so that its readers see the values it
	 * came with, as they would on the reference kernels (the same bits
	 * anyway, unless the link changed them). By alias depth (memoized),
	 * then a counting sort. */
	size_t zn = (size_t)(nt ? nt : 1) + 1;
	int *depth = malloc(zn * sizeof *depth), *first = calloc(zn, sizeof *first);
	s->entry = malloc(zn * sizeof *s->entry);
	if (!depth || !first || !s->entry) {
		free(depth);
		free(first);
		return jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: storage plan");
	}
	for (int t = 0; t < nt; t++)
		depth[t] = s->t[t].alias == t ? 0 : -1;
	for (int t = 0; t < nt; t++) {
		int a = t, n = 0;
		while (depth[a] < 0) {
			a = s->t[a].alias;
			n++;
		}
		for (int b = t, d = depth[a] + n; depth[b] < 0; b = s->t[b].alias)
			depth[b] = d--;
	}
	for (int t = 0; t < nt; t++)
		if (s->t[t].store == DN_STORE_ARENA)
			first[depth[t] + 1]++;
	for (int d = 1; d < nt; d++)
		first[d] += first[d - 1];
	for (int t = 0; t < nt; t++)
		if (s->t[t].store == DN_STORE_ARENA) {
			s->entry[first[depth[t]]++] = t;
			s->n_entry++;
		}
	free(depth);
	free(first);
	/* Reorders from arena homes to plain views that every whole run needs
	 * (a fallback reads the tensor, or it is a graph output); the others
	 * serve only ranges that start or end at that tensor, and are made
	 * on the first such run (boundary_reorder()): a session that never
	 * runs a split does not pay for them (GoogLeNet: 7 ms of 75). */
	for (int t = 0; t < nt; t++) {
		struct dn_tensor *d = &s->t[t];
		if (d->store == DN_STORE_ARENA && (d->plain_consumer || g->tensors[t].is_output))
			JALAD_FORWARD(dn_reorder_get(s, dn_md(s, d->home_md), dn_md(s, d->plain_md), &d->to_plain));
	}
	return JALAD_OK;
}

/* Tensor t's reorder from its arena home to its plain view (to_plain) or
 * back, made on first use with the session's thread count. Plain <->
 * blocked reorders need no scratchpad; one that did would not fit the
 * scratchpad sized at create() and is refused. */
static enum jalad_status boundary_reorder(struct dn_state *s, int t, int to_plain, int *prim)
{
	struct dn_tensor *d = &s->t[t];
	int *id = to_plain ? &d->to_plain : &d->from_plain;
	if (*id < 0) {
		size_t scratch = s->scratchpad_bytes;
		const dnnl_memory_desc_t *home = dn_md(s, d->home_md), *plain = dn_md(s, d->plain_md);
		omp_set_num_threads(s->threads);
		enum jalad_status st = to_plain ? dn_reorder_get(s, home, plain, id) : dn_reorder_get(s, plain, home, id);
		JALAD_FORWARD(st);
		JALAD_RETURN_IF(s->scratchpad_bytes > scratch, JALAD_ERR_INTERNAL,
				"dnnl: tensor '%s': its layout reorder needs a scratchpad", s->g->tensors[t].name);
	}
	*prim = *id;
	return JALAD_OK;
}

/* ------------------------------------------------------------ pass 4: binding */

static enum jalad_status view_mem(struct dn_state *s, int t, const dnnl_memory_desc_t *md, size_t off,
			       dnnl_memory_t *out)
{
	JALAD_FORWARD(dn_mem_new(s, md, NULL, out));
	if (s->n_viewmems == s->cap_viewmems) {
		int c = s->cap_viewmems ? s->cap_viewmems * 2 : 64;
		struct dn_viewmem *q = realloc(s->viewmems, (size_t)c * sizeof *q);
		JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: view table");
		s->viewmems = q;
		s->cap_viewmems = c;
	}
	s->viewmems[s->n_viewmems].mem = *out;
	s->viewmems[s->n_viewmems].t = t;
	s->viewmems[s->n_viewmems].cur = NULL;
	s->viewmems[s->n_viewmems].off = off;
	s->n_viewmems++;
	return JALAD_OK;
}

/* A memory on tensor t's home buffer from byte off on, seen through md. */
static enum jalad_status home_mem(struct dn_state *s, int t, const dnnl_memory_desc_t *md, size_t off,
				  dnnl_memory_t *out)
{
	struct dn_tensor *d = &s->t[t];
	if (d->home && !off && dn_md_equal(md, dn_md(s, d->home_md))) {
		*out = d->home;
		return JALAD_OK;
	}
	switch (d->store) {
	case DN_STORE_VIEW:
		return view_mem(s, t, md, off, out);
	case DN_STORE_ARENA:
		return dn_mem_new(s, md, s->arena + s->slots[d->slot].off + d->home_off + off, out);
	case DN_STORE_CONST:
		return dn_mem_new(s, md, (char *)s->g->tensors[t].data + off, out);
	default:
		return jalad_fail(JALAD_ERR_INTERNAL, "dnnl: tensor '%s' has no home", s->g->tensors[t].name);
	}
}

static enum jalad_status bind_unit(struct dn_state *s, struct dn_unit *u)
{
	if (!u || u->fallback)
		return JALAD_OK;
	for (int k = 0; k < u->nsteps; k++) {
		struct dn_step *st = &u->step[k];
		if (s->scratch_mem) {
			struct dn_ref r;
			dn_ref_mem(&r, s->scratch_mem);
			JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_SCRATCHPAD, &r));
		}
		for (int a = 0; a < st->nargs; a++) {
			struct dn_ref *r = &st->ref[a];
			dnnl_memory_t m = NULL;
			if (r->kind == DN_REF_HOME)
				JALAD_FORWARD(home_mem(s, r->id, dn_md(s, r->md), r->off, &m));
			else if (r->kind == DN_REF_TEMP)
				JALAD_FORWARD(dn_mem_new(s, dn_md(s, r->md),
							 s->arena + s->slots[s->temps[r->id].slot].off + r->off, &m));
			else
				m = r->mem;
			st->exec[a].arg = st->arg[a];
			st->exec[a].memory = m;
		}
	}
	return JALAD_OK;
}

static enum jalad_status bind_all(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	if (s->scratchpad_bytes) {
		dnnl_memory_desc_t md;
		dnnl_dims_t d = {(dnnl_dim_t)s->scratchpad_bytes};
		JALAD_FORWARD(dn_buf_new(s, s->scratchpad_bytes, &s->scratchpad));
		dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_u8, dnnl_a);
		JALAD_FORWARD(dn_mem_new(s, &md, s->scratchpad, &s->scratch_mem));
	}
	for (int t = 0; t < g->n_tensors; t++) {
		struct dn_tensor *d = &s->t[t];
		switch (d->store) {
		case DN_STORE_VIEW:
			JALAD_FORWARD(view_mem(s, t, dn_md(s, d->home_md), 0, &d->home));
			d->view = d->home;
			break;
		case DN_STORE_ARENA:
			JALAD_FORWARD(dn_mem_new(s, dn_md(s, d->home_md), s->arena + s->slots[d->slot].off + d->home_off,
						 &d->home));
			JALAD_FORWARD(view_mem(s, t, dn_md(s, d->plain_md), 0, &d->view));
			break;
		case DN_STORE_CONST:
			JALAD_FORWARD(dn_mem_new(s, dn_md(s, d->plain_md), g->tensors[t].data, &d->home));
			break;
		default:
			break;
		}
	}
	for (int i = 0; i < g->n_nodes; i++) {
		JALAD_FORWARD(bind_unit(s, s->unit[i]));
		JALAD_FORWARD(bind_unit(s, s->fused[i]));
	}
	return JALAD_OK;
}

/* Make the primitives a whole run [0, n) executes, each at its unit's
 * thread count; the others wait for a split range (dn_prim_ready()). */
static enum jalad_status make_whole_run(struct dn_state *s)
{
	const struct jalad_graph *g = s->g;
	for (int i = 0; i < g->n_nodes;) {
		const struct dn_unit *u = s->fused[i] ? s->fused[i] : s->unit[i];
		omp_set_num_threads(u->nthr);
		for (int k = 0; !u->fallback && k < u->nsteps; k++)
			if (u->step[k].prim >= 0)
				JALAD_FORWARD(dn_prim_ready(s, u->step[k].prim));
		const struct dn_tensor *d = u->out >= 0 ? &s->t[u->out] : NULL;
		if (d && d->to_plain >= 0)
			JALAD_FORWARD(dn_prim_ready(s, d->to_plain));
		i = u->end;
	}
	omp_set_num_threads(s->threads);
	return JALAD_OK;
}

/* ------------------------------------------------------------ create */

/* A debugging switch set to anything but "" or "0". */
static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] && strcmp(v, "0") != 0;
}

static enum jalad_status dn_create(const struct jalad_graph *g, int threads, void **state)
{
	enum jalad_status st;
	struct dn_state *s = calloc(1, sizeof *s);
	*state = NULL;
	JALAD_RETURN_IF(!s, JALAD_ERR_NOMEM, "dnnl backend");
	s->g = g;
	s->threads = threads > 0 ? threads : 1;
	s->nthr = s->threads;
	s->fuse = !env_flag("JALAD_DNNL_NOFUSE");
	s->winograd = !env_flag("JALAD_DNNL_NOWINOGRAD");
	s->huge = env_flag("JALAD_DNNL_HUGEPAGES");
	dn_pick_layout(s);
	/* Before any primitive: kernels size their work for this count. */
	omp_set_num_threads(s->threads);
	size_t nn = (size_t)(g->n_nodes ? g->n_nodes : 1);
	s->unit = calloc(nn, sizeof *s->unit);
	s->fused = calloc(nn, sizeof *s->fused);
	if (!s->unit || !s->fused) {
		st = jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: %zu nodes", nn);
		goto fail;
	}
	if ((st = dn_check(dnnl_engine_create(&s->eng, dnnl_cpu, 0), "engine")) != JALAD_OK ||
	    (st = dn_check(dnnl_stream_create(&s->strm, s->eng, dnnl_stream_default_flags), "stream")) != JALAD_OK) {
		if (st == JALAD_ERR_UNSUPPORTED)
			st = jalad_fail(JALAD_ERR_UNSUPPORTED, "dnnl: no CPU engine");
		goto fail;
	}
	if ((st = init_tensors(s)) != JALAD_OK || (st = dn_pick_winograd(s)) != JALAD_OK ||
	    (st = build_units(s)) != JALAD_OK ||
	    (st = dn_fuse_all(s)) != JALAD_OK || (st = plan_storage(s)) != JALAD_OK ||
	    (st = bind_all(s)) != JALAD_OK || (st = dn_weights_run(s)) != JALAD_OK)
		goto fail;
	if ((st = make_whole_run(s)) != JALAD_OK)
		goto fail;
	size_t scratch = 0;
	int any_pooled = 0;
	for (int i = 0; i < g->n_nodes; i++)
		if (s->unit[i]->fallback) {
			any_pooled |= s->unit[i]->pooled;
			if (g->nodes[i].scratch_bytes > scratch)
				scratch = g->nodes[i].scratch_bytes;
		}
	s->ref_scratch = aligned_alloc(64, ((scratch + 63) & ~(size_t)63) ? (scratch + 63) & ~(size_t)63 : 64);
	s->ins = calloc((size_t)s->max_args + 1, sizeof *s->ins);
	s->outs = calloc((size_t)s->max_args + 1, sizeof *s->outs);
	if (!s->ref_scratch || !s->ins || !s->outs) {
		st = jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: fallback scratch of %zu bytes", scratch);
		goto fail;
	}
	if (any_pooled && s->threads > 1 && (st = jalad_pool_create(s->threads, &s->pool)) != JALAD_OK)
		goto fail;
	*state = s;
	return JALAD_OK;
fail:
	dn_free(s);
	return st;
}

/* ------------------------------------------------------------ run */


/* A kernel step: its source and destination buffers. */
static enum jalad_status exec_kern(struct dn_state *s, const struct dn_unit *u, const struct dn_step *st)
{
	void *x = NULL, *y = NULL;
	for (int a = 0; a < st->nargs; a++) {
		void **h = st->exec[a].arg == DNNL_ARG_SRC ? &x : st->exec[a].arg == DNNL_ARG_DST ? &y : NULL;
		if (h && dnnl_memory_get_data_handle(st->exec[a].memory, h) != dnnl_success)
			*h = NULL;
	}
	JALAD_RETURN_IF(!x || !y, JALAD_ERR_INTERNAL, "dnnl: node '%s' (%s): kernel step without buffers",
			s->g->nodes[u->first].name, s->g->nodes[u->first].op_type);
	dn_kern_run(st->kern, x, y, st->count, u->nthr);
	return JALAD_OK;
}

/* Run u's steps; *reorder_ns (NULL unless profiling) gains the time of
 * its reorder steps. The CPU stream executes synchronously, so a step's
 * time is the time its execute call takes. */
static enum jalad_status exec_unit(struct dn_state *s, const struct dn_unit *u, uint64_t *reorder_ns)
{
	for (int k = 0; k < u->nsteps; k++) {
		const struct dn_step *st = &u->step[k];
		if (st->prim < 0) {
			JALAD_FORWARD(exec_kern(s, u, st));
			continue;
		}
		if (!s->prims[st->prim].p)
			JALAD_FORWARD(dn_prim_ready(s, st->prim));
		int timed = reorder_ns && s->prims[st->prim].reorder;
		uint64_t t0 = timed ? jalad_now_ns() : 0;
		dnnl_status_t ds = dnnl_primitive_execute(s->prims[st->prim].p, s->strm, st->nargs, st->exec);
		JALAD_RETURN_IF(ds != dnnl_success, JALAD_ERR_INTERNAL, "dnnl: node '%s' (%s): execution failed (%d)",
				s->g->nodes[u->first].name, s->g->nodes[u->first].op_type, (int)ds);
		if (timed)
			*reorder_ns += jalad_now_ns() - t0;
	}
	return JALAD_OK;
}

static enum jalad_status reorder(struct dn_state *s, int prim, dnnl_memory_t from, dnnl_memory_t to)
{
	if (!s->prims[prim].p)
		JALAD_FORWARD(dn_prim_ready(s, prim));
	dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}, {DNNL_ARG_SCRATCHPAD, s->scratch_mem}};
	dnnl_status_t ds = dnnl_primitive_execute(s->prims[prim].p, s->strm, s->scratch_mem ? 3 : 2, args);
	JALAD_RETURN_IF(ds != dnnl_success, JALAD_ERR_INTERNAL, "dnnl: reorder failed (%d)", (int)ds);
	return JALAD_OK;
}

static enum jalad_status run_fallback(struct dn_state *s, int i, struct jalad_tensor *views)
{
	const struct jalad_graph *g = s->g;
	const struct jalad_node *n = &g->nodes[i];
	for (int k = 0; k < n->n_in; k++) {
		if (n->in[k] >= 0)
			s->ins[k] = views[n->in[k]];
		else
			memset(&s->ins[k], 0, sizeof s->ins[k]);
	}
	for (int k = 0; k < n->n_out; k++)
		s->outs[k] = views[n->out[k]];
	return jalad_node_run(g, n, s->ins, s->outs, s->ref_scratch, s->unit[i]->pooled ? s->pool : NULL);
}

/* Does a native node in [a, b) read tensor t? */
static int read_in(const struct dn_state *s, int t, int a, int b)
{
	for (const int *c = s->consumers[t]; *c >= 0; c++)
		if (*c >= a && *c < b && !s->unit[*c]->fallback)
			return 1;
	return 0;
}

static enum jalad_status dn_run_range(void *state, int a, int b, struct jalad_tensor *views,
				      const struct jalad_be_prof *prof)
{
	struct dn_state *s = state;
	const struct jalad_graph *g = s->g;
	JALAD_RETURN_IF(a < 0 || b > g->n_nodes || a > b, JALAD_ERR_INVALID_ARG, "dnnl: range [%d, %d) outside [0, %d]",
			a, b, g->n_nodes);
	int nthr = s->threads;
	omp_set_num_threads(nthr);
	for (int k = 0; k < s->n_viewmems; k++) {
		struct dn_viewmem *v = &s->viewmems[k];
		void *p = views[v->t].data;
		if (p != v->cur) {
			JALAD_RETURN_IF(!p, JALAD_ERR_INTERNAL, "dnnl: tensor '%s' has no session buffer",
					g->tensors[v->t].name);
			JALAD_RETURN_IF(dnnl_memory_set_data_handle(v->mem, (char *)p + v->off) != dnnl_success,
					JALAD_ERR_INTERNAL, "dnnl: cannot set a buffer");
			v->cur = p;
		}
	}
	/* Arena tensors crossing cut a: from their plain views into their
	 * homes (profiled as reorders of the range's first node). */
	uint64_t entry_ns = prof ? jalad_now_ns() : 0;
	for (int k = 0; k < s->n_entry; k++) {
		int t = s->entry[k];
		const struct dn_tensor *d = &s->t[t];
		const struct jalad_tensor_ir *ti = &g->tensors[t];
		if (ti->producer >= a || ti->last_use < a || !read_in(s, t, a, b))
			continue;
		int prim;
		JALAD_FORWARD(boundary_reorder(s, t, 0, &prim));
		JALAD_FORWARD(reorder(s, prim, d->view, d->home));
	}
	if (prof)
		entry_ns = jalad_now_ns() - entry_ns;
	for (int i = a; i < b;) {
		const struct dn_unit *u = s->fused[i] && s->fused[i]->end <= b ? s->fused[i] : s->unit[i];
		uint64_t t0 = prof ? jalad_now_ns() : 0, rns = 0;
		if (!u->fallback && u->nthr != nthr) {
			nthr = u->nthr;
			omp_set_num_threads(nthr);
		}
		if (u->fallback) {
			JALAD_FORWARD(run_fallback(s, i, views));
		} else {
			JALAD_FORWARD(exec_unit(s, u, prof ? &rns : NULL));
			const struct dn_tensor *d = &s->t[u->out];
			if (d->store == DN_STORE_ARENA && (d->plain_consumer || g->tensors[u->out].last_use >= b)) {
				int prim;
				if (d->to_plain < 0) {
					JALAD_FORWARD(boundary_reorder(s, u->out, 1, &prim));
					omp_set_num_threads(nthr);
				}
				uint64_t r0 = prof ? jalad_now_ns() : 0;
				JALAD_FORWARD(reorder(s, d->to_plain, d->home, d->view));
				if (prof)
					rns += jalad_now_ns() - r0;
			}
		}
		if (prof) {
			if (i == a) {
				t0 -= entry_ns;
				rns += entry_ns;
			}
			prof->ns[i] = jalad_now_ns() - t0;
			prof->reorder_ns[i] = rns;
			prof->group_end[i] = u->end;
			prof->impl[i] = u->fallback ? "ref" : u->impl && u->impl[0] ? u->impl : "dnnl";
			for (int k = i + 1; k < u->end; k++) {
				prof->group_end[k] = k;
				prof->impl[k] = prof->impl[i];
			}
		}
		i = u->end;
	}
	JALAD_RETURN_IF(dnnl_stream_wait(s->strm) != dnnl_success, JALAD_ERR_INTERNAL, "dnnl: stream wait failed");
	if (nthr != s->threads)
		omp_set_num_threads(s->threads);
	return JALAD_OK;
}

const struct jalad_backend jalad_backend_dnnl = {"dnnl", dn_create, dn_run_range, dn_free};
#endif /* JALAD_HAVE_DNNL */
