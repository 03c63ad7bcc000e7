/* The oneDNN backend's small helpers: status mapping, memory descriptors,
 * the primitive / memory / buffer lists a state owns, and units. */
#ifdef JALAD_HAVE_DNNL
#include <stdlib.h>
#include <string.h>

#include "dnnl_impl.h"

/* ------------------------------------------------------------ status */

enum jalad_status dn_check(dnnl_status_t s, const char *what)
{
	switch (s) {
	case dnnl_success:
		return JALAD_OK;
	case dnnl_unimplemented:
	case dnnl_invalid_arguments:
		return JALAD_ERR_UNSUPPORTED;
	case dnnl_out_of_memory:
		return jalad_fail(JALAD_ERR_NOMEM, "dnnl: out of memory in %s", what);
	default:
		return jalad_fail(JALAD_ERR_INTERNAL, "dnnl: %s failed with status %d", what, (int)s);
	}
}

/* ------------------------------------------------------------ descriptors */

void dn_md_plain(dnnl_memory_desc_t *md, int ndim, const int64_t *dims)
{
	dnnl_dims_t d, st;
	int64_t one = 1;
	if (ndim == 0) {
		ndim = 1;
		dims = &one;
	}
	int64_t s = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		d[i] = dims[i];
		st[i] = s;
		s *= dims[i] > 0 ? dims[i] : 1;
	}
	dnnl_memory_desc_init_by_strides(md, ndim, d, dnnl_f32, st);
}

void dn_md_tag(dnnl_memory_desc_t *md, int ndim, const int64_t *dims, dnnl_format_tag_t tag)
{
	dnnl_dims_t d;
	for (int i = 0; i < ndim; i++)
		d[i] = dims[i];
	dnnl_memory_desc_init_by_tag(md, ndim, d, dnnl_f32, tag);
}

int dn_md_is_plain(const dnnl_memory_desc_t *md)
{
	if (md->format_kind != dnnl_blocked || md->offset0 != 0 || md->data_type != dnnl_f32)
		return 0;
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	if (b->inner_nblks != 0)
		return 0;
	int64_t s = 1;
	for (int i = md->ndims - 1; i >= 0; i--) {
		if (md->padded_dims[i] != md->dims[i] || md->padded_offsets[i] != 0)
			return 0;
		if (md->dims[i] != 1 && b->strides[i] != s)
			return 0;
		s *= md->dims[i];
	}
	return md->extra.flags == 0;
}

int dn_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b)
{
	return dnnl_memory_desc_equal(a, b) != 0;
}

size_t dn_md_bytes(const dnnl_memory_desc_t *md)
{
	return dnnl_memory_desc_get_size(md);
}

/* ------------------------------------------------------------ owned lists */

static enum jalad_status grow(void **p, int *cap, int need, size_t esize)
{
	if (need <= *cap)
		return JALAD_OK;
	int c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, (size_t)c * esize);
	JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: %d table entries", c);
	memset((char *)q + (size_t)*cap * esize, 0, (size_t)(c - *cap) * esize);
	*p = q;
	*cap = c;
	return JALAD_OK;
}

enum jalad_status dn_prim_add(struct dn_state *s, dnnl_primitive_desc_t pd, int keep, int *id)
{
	dnnl_primitive_t p = NULL;
	enum jalad_status st = grow((void **)&s->prims, &s->cap_prims, s->n_prims + 1, sizeof *s->prims);
	if (st == JALAD_OK) {
		dn_scratchpad_note(s, pd);
		st = dn_check(dnnl_primitive_create(&p, pd), "primitive creation");
	}
	if (st != JALAD_OK || !keep) {
		dnnl_primitive_desc_destroy(pd);
		pd = NULL;
	}
	if (st != JALAD_OK)
		return st;
	s->prims[s->n_prims].p = p;
	s->prims[s->n_prims].pd = pd;
	*id = s->n_prims++;
	return JALAD_OK;
}

enum jalad_status dn_reorder_get(struct dn_state *s, const dnnl_memory_desc_t *src,
				 const dnnl_memory_desc_t *dst, int *id)
{
	for (int i = 0; i < s->n_prims; i++) {
		dnnl_primitive_kind_t kind = dnnl_undefined_primitive;
		if (!s->prims[i].pd ||
		    dnnl_primitive_desc_query(s->prims[i].pd, dnnl_query_primitive_kind, 0, &kind) != dnnl_success ||
		    kind != dnnl_reorder)
			continue;
		const dnnl_memory_desc_t *a = dnnl_primitive_desc_query_md(s->prims[i].pd, dnnl_query_src_md, 0);
		const dnnl_memory_desc_t *b = dnnl_primitive_desc_query_md(s->prims[i].pd, dnnl_query_dst_md, 0);
		if (a && b && dn_md_equal(a, src) && dn_md_equal(b, dst)) {
			*id = i;
			return JALAD_OK;
		}
	}
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	JALAD_FORWARD(dn_attr_new(&attr, NULL));
	dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, src, s->eng, dst, s->eng, attr);
	dnnl_primitive_attr_destroy(attr);
	DN_TRY(ds, "reorder");
	return dn_prim_add(s, pd, 1, id);
}

enum jalad_status dn_mem_new(struct dn_state *s, const dnnl_memory_desc_t *md, void *handle,
			     dnnl_memory_t *out)
{
	JALAD_FORWARD(grow((void **)&s->mems, &s->cap_mems, s->n_mems + 1, sizeof *s->mems));
	/* DNNL_MEMORY_NONE: no buffer yet; the handle is set before use. */
	dnnl_status_t ds = dnnl_memory_create(out, md, s->eng, handle ? handle : DNNL_MEMORY_NONE);
	JALAD_RETURN_IF(ds != dnnl_success, ds == dnnl_out_of_memory ? JALAD_ERR_NOMEM : JALAD_ERR_INTERNAL,
			"dnnl: memory creation failed with status %d", (int)ds);
	s->mems[s->n_mems++] = *out;
	return JALAD_OK;
}

enum jalad_status dn_buf_new(struct dn_state *s, size_t bytes, void **out)
{
	JALAD_FORWARD(grow((void **)&s->owned, &s->cap_owned, s->n_owned + 1, sizeof *s->owned));
	size_t n = (bytes + 63) & ~(size_t)63;
	*out = aligned_alloc(64, n ? n : 64);
	JALAD_RETURN_IF(!*out, JALAD_ERR_NOMEM, "dnnl backend: %zu bytes", bytes);
	s->owned[s->n_owned++] = *out;
	return JALAD_OK;
}

void dn_scratchpad_note(struct dn_state *s, const_dnnl_primitive_desc_t pd)
{
	const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	size_t n = md ? dnnl_memory_desc_get_size(md) : 0;
	if (n > s->scratchpad_bytes)
		s->scratchpad_bytes = n;
}

enum jalad_status dn_temp_new(struct dn_state *s, int node, const dnnl_memory_desc_t *md, int *id)
{
	JALAD_FORWARD(grow((void **)&s->temps, &s->cap_temps, s->n_temps + 1, sizeof *s->temps));
	struct dn_temp *t = &s->temps[s->n_temps];
	t->md = *md;
	t->node = node;
	t->slot = -1;
	*id = s->n_temps++;
	return JALAD_OK;
}

enum jalad_status dn_attr_new(dnnl_primitive_attr_t *attr, const_dnnl_post_ops_t po)
{
	*attr = NULL;
	DN_TRY(dnnl_primitive_attr_create(attr), "attribute");
	enum jalad_status st = dn_check(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
					"scratchpad mode");
	if (st == JALAD_OK && po)
		st = dn_check(dnnl_primitive_attr_set_post_ops(*attr, po), "post-ops");
	if (st != JALAD_OK) {
		dnnl_primitive_attr_destroy(*attr);
		*attr = NULL;
	}
	return st;
}

/* ------------------------------------------------------------ units */

struct dn_unit *dn_unit_new(int first, int end)
{
	struct dn_unit *u = calloc(1, sizeof *u);
	if (u) {
		u->first = first;
		u->end = end;
		u->out = -1;
	}
	return u;
}

void dn_unit_free(struct dn_unit *u)
{
	if (!u)
		return;
	for (int i = 0; i < u->nsteps; i++) {
		free(u->step[i].arg);
		free(u->step[i].ref);
		free(u->step[i].exec);
	}
	free(u->step);
	free(u->od);
	free(u);
}

enum jalad_status dn_unit_step(struct dn_unit *u, int prim, struct dn_step **out)
{
	JALAD_FORWARD(grow((void **)&u->step, &u->cap, u->nsteps + 1, sizeof *u->step));
	struct dn_step *st = &u->step[u->nsteps++];
	memset(st, 0, sizeof *st);
	st->prim = prim;
	*out = st;
	return JALAD_OK;
}

enum jalad_status dn_step_arg(struct dn_step *st, int arg, const struct dn_ref *ref)
{
	if (st->nargs == st->cap) {
		int c = st->cap ? st->cap * 2 : 8;
		int *a = realloc(st->arg, (size_t)c * sizeof *a);
		if (a)
			st->arg = a;
		struct dn_ref *r = realloc(st->ref, (size_t)c * sizeof *r);
		if (r)
			st->ref = r;
		dnnl_exec_arg_t *e = realloc(st->exec, (size_t)c * sizeof *e);
		if (e)
			st->exec = e;
		JALAD_RETURN_IF(!a || !r || !e, JALAD_ERR_NOMEM, "dnnl backend: arguments");
		st->cap = c;
	}
	st->arg[st->nargs] = arg;
	st->ref[st->nargs] = *ref;
	st->nargs++;
	return JALAD_OK;
}

enum jalad_status dn_unit_clone(const struct dn_unit *u, struct dn_unit **out)
{
	struct dn_unit *c = dn_unit_new(u->first, u->end);
	*out = NULL;
	JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "dnnl backend: unit");
	c->fallback = u->fallback;
	c->pooled = u->pooled;
	c->nthr = u->nthr;
	c->out = u->out;
	c->impl = u->impl;
	if (u->od && !(c->od = malloc(sizeof *c->od))) {
		dn_unit_free(c);
		return jalad_fail(JALAD_ERR_NOMEM, "dnnl backend: unit");
	}
	if (u->od)
		*c->od = *u->od;
	for (int i = 0; i < u->nsteps; i++) {
		struct dn_step *st;
		enum jalad_status e = dn_unit_step(c, u->step[i].prim, &st);
		for (int k = 0; e == JALAD_OK && k < u->step[i].nargs; k++)
			e = dn_step_arg(&c->step[i], u->step[i].arg[k], &u->step[i].ref[k]);
		if (e != JALAD_OK) {
			dn_unit_free(c);
			return e;
		}
	}
	*out = c;
	return JALAD_OK;
}

void dn_ref_home(struct dn_ref *r, int t, const dnnl_memory_desc_t *md)
{
	memset(r, 0, sizeof *r);
	r->kind = DN_REF_HOME;
	r->id = t;
	r->md = *md;
}

void dn_ref_mem(struct dn_ref *r, dnnl_memory_t mem)
{
	memset(r, 0, sizeof *r);
	r->kind = DN_REF_MEM;
	r->mem = mem;
}

enum jalad_status dn_input_ref(struct dn_state *s, struct dn_unit *u, int node, int t,
			       const dnnl_memory_desc_t *want, struct dn_ref *out)
{
	const struct dn_tensor *ti = &s->t[t];
	if (ti->store == DN_STORE_CONST) {
		/* constants are plain; anything else is reordered at run time
		 * like any tensor (rare: weights go through their own path). */
		if (dn_md_is_plain(want) && dn_md_bytes(want) == dn_md_bytes(&ti->plain_md)) {
			memset(out, 0, sizeof *out);
			out->kind = DN_REF_HOME;
			out->id = t;
			out->md = *want;
			return JALAD_OK;
		}
	} else if (dn_md_equal(&ti->home_md, want) ||
		   (dn_md_is_plain(&ti->home_md) && dn_md_is_plain(want) &&
		    dn_md_bytes(want) == dn_md_bytes(&ti->home_md))) {
		dn_ref_home(out, t, want);
		return JALAD_OK;
	}
	int prim, tmp;
	struct dn_step *st;
	struct dn_ref r;
	JALAD_FORWARD(dn_reorder_get(s, &ti->home_md, want, &prim));
	JALAD_FORWARD(dn_temp_new(s, node, want, &tmp));
	JALAD_FORWARD(dn_unit_step(u, prim, &st));
	dn_ref_home(&r, t, &ti->home_md);
	JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_FROM, &r));
	memset(&r, 0, sizeof r);
	r.kind = DN_REF_TEMP;
	r.id = tmp;
	r.md = *want;
	JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_TO, &r));
	*out = r;
	return JALAD_OK;
}
#endif /* JALAD_HAVE_DNNL */
