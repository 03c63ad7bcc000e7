/* The oneDNN backend's small helpers: status mapping, memory descriptors
 * and their table, the primitive / memory / buffer lists a state owns, and
 * units. */
#ifdef JALAD_HAVE_DNNL
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Over 8-byte words (then the tail), mixing each in: keys are descriptors
 * whose differences are anywhere in a few kilobytes. */
static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325u;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15u;
		h ^= h >> 32;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3u;
	return h ^ (h >> 29);
}

/* Double an open-addressing table of ids (+1) to hold n + 1 entries at
 * most half full; hash_of(id) gives each stored entry's hash. */
static enum jalad_status slots_fit(int **slot, int *cap, int n, const struct dn_state *s,
				   uint64_t (*hash_of)(const struct dn_state *, int))
{
	if (2 * (size_t)(n + 1) <= (size_t)*cap)
		return JALAD_OK;
	int c = *cap ? *cap * 2 : 64;
	int *q = calloc((size_t)c, sizeof *q);
	JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: table of %d", c);
	for (int k = 0; k < n; k++) {
		size_t i = hash_of(s, k) & (size_t)(c - 1);
		while (q[i])
			i = (i + 1) & (size_t)(c - 1);
		q[i] = k + 1;
	}
	free(*slot);
	*slot = q;
	*cap = c;
	return JALAD_OK;
}

/* Of the fields that tell descriptors apart in practice (the dims, the
 * strides, the type and the format), not all 696 bytes: equal bytes still
 * hash equal, and dn_md_id() compares all of them. */
static uint64_t md_hash_of(const dnnl_memory_desc_t *md)
{
	size_t nd = md->ndims > 0 && md->ndims <= DNNL_MAX_NDIMS ? (size_t)md->ndims : 0;
	int64_t head[4] = {md->ndims, md->data_type, md->format_kind, md->offset0};
	uint64_t h = hash_bytes(head, sizeof head);
	h = h * 31 + hash_bytes(md->dims, nd * sizeof md->dims[0]);
	return h * 31 + hash_bytes(&md->format_desc.blocking, nd * sizeof md->format_desc.blocking.strides[0]);
}

static uint64_t md_hash(const struct dn_state *s, int id)
{
	return md_hash_of(dn_md(s, id));
}

/* Byte for byte: oneDNN fills every descriptor from a zeroed one, so
 * equal descriptors made the same way have equal bytes; one made another
 * way at worst gets an id of its own. Equality in oneDNN's sense (which
 * ignores the strides of unit dims) would hand callers a descriptor other
 * than the one they made. */
enum jalad_status dn_md_id(struct dn_state *s, const dnnl_memory_desc_t *md, int *id)
{
	struct dn_mdtab *m = &s->mds;
	uint64_t h = md_hash_of(md);
	for (size_t i = m->cap ? h & (size_t)(m->cap - 1) : 0; m->cap && m->slot[i];
	     i = (i + 1) & (size_t)(m->cap - 1)) {
		if (!memcmp(dn_md(s, m->slot[i] - 1), md, sizeof *md)) {
			*id = m->slot[i] - 1;
			return JALAD_OK;
		}
	}
	if (m->n == m->nblk * DN_MD_BLOCK) {
		dnnl_memory_desc_t **q = realloc(m->blk, (size_t)(m->nblk + 1) * sizeof *q);
		JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: descriptor table");
		m->blk = q;
		m->blk[m->nblk] = malloc(DN_MD_BLOCK * sizeof **q);
		JALAD_RETURN_IF(!m->blk[m->nblk], JALAD_ERR_NOMEM, "dnnl backend: descriptor table");
		m->nblk++;
	}
	JALAD_FORWARD(slots_fit(&m->slot, &m->cap, m->n, s, md_hash));
	int k = m->n++;
	m->blk[k / DN_MD_BLOCK][k % DN_MD_BLOCK] = *md;
	size_t i = h & (size_t)(m->cap - 1);
	while (m->slot[i])
		i = (i + 1) & (size_t)(m->cap - 1);
	m->slot[i] = k + 1;
	*id = k;
	return JALAD_OK;
}

void dn_mdtab_free(struct dn_mdtab *m)
{
	for (int b = 0; b < m->nblk; b++)
		free(m->blk[b]);
	free(m->blk);
	free(m->slot);
	memset(m, 0, sizeof *m);
}

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
	enum jalad_status st = grow((void **)&s->prims, &s->cap_prims, s->n_prims + 1, sizeof *s->prims);
	if (st != JALAD_OK) {
		dnnl_primitive_desc_destroy(pd);
		return st;
	}
	dn_scratchpad_note(s, pd);
	memset(&s->prims[s->n_prims], 0, sizeof s->prims[s->n_prims]);
	s->prims[s->n_prims].pd = pd;
	s->prims[s->n_prims].keep_pd = keep;
	*id = s->n_prims++;
	return JALAD_OK;
}

enum jalad_status dn_prim_ready(struct dn_state *s, int id)
{
	struct dn_prim *p = &s->prims[id];
	if (p->p)
		return JALAD_OK;
	DN_TRY(dnnl_primitive_create(&p->p, p->pd), "primitive creation");
	if (!p->keep_pd) {
		dnnl_primitive_desc_destroy(p->pd);
		p->pd = NULL;
	}
	return JALAD_OK;
}

int dn_prim_find(const struct dn_state *s, const void *key, size_t len)
{
	if (!s->prim_cap)
		return -1;
	uint64_t h = hash_bytes(key, len);
	for (size_t i = h & (size_t)(s->prim_cap - 1); s->prim_slot[i]; i = (i + 1) & (size_t)(s->prim_cap - 1)) {
		const struct dn_prim *p = &s->prims[s->prim_slot[i] - 1];
		if (p->hash == h && p->key_len == len && !memcmp(p->key, key, len))
			return s->prim_slot[i] - 1;
	}
	return -1;
}

enum jalad_status dn_prim_share(struct dn_state *s, int id, const void *key, size_t len)
{
	struct dn_prim *p = &s->prims[id];
	JALAD_RETURN_IF(p->key, JALAD_ERR_INTERNAL, "dnnl: primitive %d shared twice", id);
	/* Entries are the primitives' ids: rehashing walks all of them (the
	 * unshared ones have no key and are skipped below). */
	p->key = malloc(len ? len : 1);
	JALAD_RETURN_IF(!p->key, JALAD_ERR_NOMEM, "dnnl backend: primitive key");
	memcpy(p->key, key, len);
	p->key_len = len;
	p->hash = hash_bytes(key, len);
	if (2 * (size_t)(s->n_prims + 1) > (size_t)s->prim_cap) {
		int c = s->prim_cap ? s->prim_cap * 2 : 64;
		while (2 * (size_t)(s->n_prims + 1) > (size_t)c)
			c *= 2;
		int *q = calloc((size_t)c, sizeof *q);
		JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: primitive table");
		for (int k = 0; k < s->n_prims; k++) {
			if (!s->prims[k].key || k == id)
				continue;
			size_t i = s->prims[k].hash & (size_t)(c - 1);
			while (q[i])
				i = (i + 1) & (size_t)(c - 1);
			q[i] = k + 1;
		}
		free(s->prim_slot);
		s->prim_slot = q;
		s->prim_cap = c;
	}
	size_t i = p->hash & (size_t)(s->prim_cap - 1);
	while (s->prim_slot[i])
		i = (i + 1) & (size_t)(s->prim_cap - 1);
	s->prim_slot[i] = id + 1;
	return JALAD_OK;
}

/* A reorder primitive src -> dst, shared under its own key for each
 * purpose: a layout change (profiled apart as a reorder) or an op's own
 * work (Transpose, Slice: its node's time). */
static enum jalad_status reorder_get(struct dn_state *s, const dnnl_memory_desc_t *src,
				     const dnnl_memory_desc_t *dst, int layout, int *id)
{
	int key[3] = {layout ? dnnl_reorder : -dnnl_reorder, 0, 0};
	JALAD_FORWARD(dn_md_id(s, src, &key[1]));
	JALAD_FORWARD(dn_md_id(s, dst, &key[2]));
	if ((*id = dn_prim_find(s, key, sizeof key)) >= 0)
		return JALAD_OK;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_attr_t attr = NULL;
	JALAD_FORWARD(dn_attr_new(&attr, NULL));
	dnnl_status_t ds = dnnl_reorder_primitive_desc_create(&pd, src, s->eng, dst, s->eng, attr);
	dnnl_primitive_attr_destroy(attr);
	DN_TRY(ds, "reorder");
	JALAD_FORWARD(dn_prim_add(s, pd, 1, id));
	s->prims[*id].reorder = layout;
	return dn_prim_share(s, *id, key, sizeof key);
}

enum jalad_status dn_reorder_get(struct dn_state *s, const dnnl_memory_desc_t *src,
				 const dnnl_memory_desc_t *dst, int *id)
{
	return reorder_get(s, src, dst, 1, id);
}

enum jalad_status dn_copy_get(struct dn_state *s, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
			      int *id)
{
	return reorder_get(s, src, dst, 0, id);
}

/* Channels blocked by B in md (nChw16c, nChw8c...: one inner block, on
 * dim 1) with a partial last block: B, else 0. */
static int64_t tail_block(const dnnl_memory_desc_t *md)
{
	const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
	if (md->format_kind != dnnl_blocked || md->ndims < 3 || md->extra.flags || b->inner_nblks != 1 ||
	    b->inner_idxs[0] != 1 || md->padded_offsets[1] != 0)
		return 0;
	int64_t B = b->inner_blks[0], c = md->dims[1];
	if (B < 2 || c <= B || c % B == 0 || md->padded_dims[1] != (c + B - 1) / B * B)
		return 0;
	return B;
}

/* Is md free of inner blocks (plain, channels last, any strides)? */
static int unblocked(const dnnl_memory_desc_t *md)
{
	return md->format_kind == dnnl_blocked && !md->extra.flags && md->format_desc.blocking.inner_nblks == 0;
}

/* md restricted to channels [c0, c0 + n), channels blocked by B (0: not
 * blocked), with c0 a multiple of B: the same strides at a new offset. */
static void channel_part(dnnl_memory_desc_t *md, int64_t B, int64_t c0, int64_t n)
{
	const int64_t *st = md->format_desc.blocking.strides;
	md->offset0 += B ? c0 / B * st[1] : c0 * st[1];
	md->dims[1] = n;
	md->padded_dims[1] = B ? (n + B - 1) / B * B : n;
}

/* A copy between channel-blocked data with a partial last block (58
 * channels in nChw16c) and an unblocked layout, in two parts: the whole
 * blocks, which oneDNN's blocked reorder kernel (jit:blk) takes, and the
 * last block. One reorder over all of it runs oneDNN's generic kernel,
 * 3-6x slower at 28x28 and larger (58 channels at 28x28: 26 us against
 * 8 for the two, one thread). Returns 1 and the four parts, else 0. */
static int split_tail(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b, dnnl_memory_desc_t part[4])
{
	int64_t Ba = tail_block(a), Bb = tail_block(b), B = Ba ? Ba : Bb;
	if (!B || (Ba && Bb) || !unblocked(Ba ? b : a) || a->ndims != b->ndims || a->dims[1] != b->dims[1])
		return 0;
	int64_t c = a->dims[1], c0 = c / B * B;
	part[0] = part[2] = *a;
	part[1] = part[3] = *b;
	channel_part(&part[0], Ba, 0, c0);
	channel_part(&part[1], Bb, 0, c0);
	channel_part(&part[2], Ba, c0, c - c0);
	channel_part(&part[3], Bb, c0, c - c0);
	return 1;
}

enum jalad_status dn_copy_steps(struct dn_state *s, struct dn_unit *u, const struct dn_ref *from,
				const struct dn_ref *to, int layout)
{
	dnnl_memory_desc_t part[4];
	struct dn_ref f = *from, t = *to;
	int n = split_tail(dn_md(s, from->md), dn_md(s, to->md), part) ? 2 : 1;
	if (n == 1) {
		part[0] = *dn_md(s, from->md);
		part[1] = *dn_md(s, to->md);
	}
	for (int k = 0; k < n; k++) {
		int prim;
		struct dn_step *st;
		/* offsets into the buffer addresses: oneDNN's blocked reorder
		 * kernel (jit:blk) refuses descriptors with an offset */
		f.off = from->off + (size_t)part[2 * k].offset0 * dnnl_data_type_size(part[2 * k].data_type);
		t.off = to->off + (size_t)part[2 * k + 1].offset0 * dnnl_data_type_size(part[2 * k + 1].data_type);
		part[2 * k].offset0 = part[2 * k + 1].offset0 = 0;
		JALAD_FORWARD(dn_md_id(s, &part[2 * k], &f.md));
		JALAD_FORWARD(dn_md_id(s, &part[2 * k + 1], &t.md));
		JALAD_FORWARD(reorder_get(s, dn_md(s, f.md), dn_md(s, t.md), layout, &prim));
		JALAD_FORWARD(dn_unit_step(u, prim, &st));
		JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_FROM, &f));
		JALAD_FORWARD(dn_step_arg(st, DNNL_ARG_TO, &t));
	}
	return JALAD_OK;
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

/* A block of at least bytes that lives as long as the session. With
 * JALAD_DNNL_HUGEPAGES=1 (s->huge), from 2 MiB up, 2 MiB-aligned and
 * offered to the kernel for transparent huge pages (madvise; Linux's
 * default THP mode serves only blocks that ask). A run reads every weight
 * and all of the arena once: on 4 KiB pages the 14 MB of MobileNetV2 span
 * 3,500 TLB entries, and a 5 MB GEMV from DRAM measured about 20% faster
 * on huge pages; whole models, 0.5-2%. Not the default: on a virtual
 * machine whose host backs guest memory on first touch, a fresh 2 MiB page
 * can cost milliseconds, and session creation measured 75 or 340 ms for
 * ResNet-50 from one process to the next (110 ms on 4 KiB pages). */
void *dn_big_alloc(const struct dn_state *s, size_t bytes)
{
	if (!s->huge || bytes < DN_HUGE)
		return aligned_alloc(64, bytes ? (bytes + 63) & ~(size_t)63 : 64);
	size_t n = (bytes + DN_HUGE - 1) & ~(DN_HUGE - 1);
	void *p = aligned_alloc(DN_HUGE, n);
#ifdef MADV_HUGEPAGE
	if (p)
		(void)madvise(p, n, MADV_HUGEPAGE); /* advice only: no THP is no error */
#endif
	return p;
}

/* A buffer owned by the backend (weights, the scratchpad): carved from
 * chunks of DN_CHUNK bytes, 64-byte aligned, so that the weights of a
 * small model share a few huge pages; a buffer of half a chunk or more
 * gets a block of its own. */
enum jalad_status dn_buf_new(struct dn_state *s, size_t bytes, void **out)
{
	size_t n = bytes ? (bytes + 63) & ~(size_t)63 : 64;
	if (n <= s->chunk_left) {
		*out = s->chunk;
		s->chunk += n;
		s->chunk_left -= n;
		return JALAD_OK;
	}
	JALAD_FORWARD(grow((void **)&s->owned, &s->cap_owned, s->n_owned + 1, sizeof *s->owned));
	int own = n >= DN_CHUNK / 2;
	uint8_t *p = dn_big_alloc(s, own ? n : DN_CHUNK);
	JALAD_RETURN_IF(!p, JALAD_ERR_NOMEM, "dnnl backend: %zu bytes", bytes);
	s->owned[s->n_owned++] = p;
	*out = p;
	if (!own) {
		s->chunk = p + n;
		s->chunk_left = DN_CHUNK - n;
	}
	return JALAD_OK;
}

/* Queue the reorder of constant data (layout user) into dst (layout
 * want). */
enum jalad_status dn_weights_add(struct dn_state *s, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
				 void *data, dnnl_memory_t dst)
{
	JALAD_FORWARD(grow((void **)&s->wjobs, &s->cap_wjobs, s->n_wjobs + 1, sizeof *s->wjobs));
	struct dn_wjob *j = &s->wjobs[s->n_wjobs++]; /* freed by dn_weights_free(), even half made */
	memset(j, 0, sizeof *j);
	j->dst = dst;
	j->bytes = dnnl_memory_desc_get_size(want);
	if (dn_wino_supported(user, want)) {
		j->wino = 1;
		j->data = data;
		j->user = *user;
		j->want = *want;
		return JALAD_OK;
	}
	JALAD_FORWARD(dn_check(dnnl_memory_create(&j->src, user, s->eng, data), "weights memory"));
	return dn_check(dnnl_reorder_primitive_desc_create(&j->pd, user, s->eng, want, s->eng, NULL),
			"weights reorder");
}

void dn_weights_free(struct dn_state *s)
{
	for (int i = 0; i < s->n_wjobs; i++) {
		struct dn_wjob *j = &s->wjobs[i];
		if (j->pd)
			dnnl_primitive_desc_destroy(j->pd);
		if (j->src)
			dnnl_memory_destroy(j->src);
	}
	free(s->wjobs);
	s->wjobs = NULL;
	s->n_wjobs = s->cap_wjobs = 0;
}

/* The weight reorders, shared by the session's threads. */
struct wrun {
	struct dn_state *s;
	int *order;                  /* jobs, largest first */
	atomic_int next;
	atomic_int failed;           /* a oneDNN status, or 0 */
};

static int job_cmp(const void *a, const void *b, void *jobs)
{
	const struct dn_wjob *j = jobs;
	size_t x = j[*(const int *)a].bytes, y = j[*(const int *)b].bytes;
	return x < y ? 1 : x > y ? -1 : *(const int *)a - *(const int *)b;
}

/* A pool task: each thread takes the next job until none is left. */
static void wrun_task(void *ctx, int ith, int nth)
{
	(void)ith;
	(void)nth;
	struct wrun *w = ctx;
	struct dn_state *s = w->s;
	dnnl_stream_t strm = NULL;
	/* One OpenMP thread per job: a one-off copy is not worth waking
	 * workers, who may wait for a core another process holds. */
	omp_set_num_threads(1);
	dnnl_status_t ds = dnnl_stream_create(&strm, s->eng, dnnl_stream_default_flags);
	for (int k; ds == dnnl_success && !atomic_load(&w->failed) && (k = atomic_fetch_add(&w->next, 1)) < s->n_wjobs;) {
		struct dn_wjob *j = &s->wjobs[w->order[k]];
		if (j->wino) {
			void *out = NULL;
			ds = dnnl_memory_get_data_handle(j->dst, &out);
			if (ds == dnnl_success)
				dn_wino_weights(&j->user, &j->want, j->data, out);
			continue;
		}
		dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, j->src}, {DNNL_ARG_TO, j->dst}};
		dnnl_primitive_t p = NULL;
		ds = dnnl_primitive_create(&p, j->pd);
		if (ds == dnnl_success)
			ds = dnnl_primitive_execute(p, strm, 2, args);
		if (ds == dnnl_success)
			ds = dnnl_stream_wait(strm);
		if (p)
			dnnl_primitive_destroy(p);
	}
	if (ds != dnnl_success)
		atomic_store(&w->failed, (int)ds);
	if (strm)
		dnnl_stream_destroy(strm);
}

/* Run the queued weight reorders, largest first, on a pool of the
 * session's thread count (as many threads as there are jobs, at most):
 * ResNet-50's take about half as long on two threads. Winograd weights
 * are made by dn_wino_weights() (the same bits as oneDNN's reorder, 3-6x
 * faster). */
enum jalad_status dn_weights_run(struct dn_state *s)
{
	enum jalad_status st = JALAD_OK;
	struct wrun w = {.s = s};
	struct jalad_pool *pool = NULL;
	atomic_init(&w.next, 0);
	atomic_init(&w.failed, 0);
	w.order = malloc((size_t)(s->n_wjobs ? s->n_wjobs : 1) * sizeof *w.order);
	JALAD_RETURN_IF(!w.order, JALAD_ERR_NOMEM, "dnnl backend: weight reorders");
	for (int i = 0; i < s->n_wjobs; i++)
		w.order[i] = i;
	qsort_r(w.order, (size_t)s->n_wjobs, sizeof *w.order, job_cmp, s->wjobs);
	int nt = s->threads < s->n_wjobs ? s->threads : s->n_wjobs;
	/* no pool (threads would not start): the caller runs every job */
	if (nt > 1 && jalad_pool_create(nt, &pool) != JALAD_OK)
		pool = NULL;
	jalad_pool_run(pool, wrun_task, &w);
	jalad_pool_free(pool);
	omp_set_num_threads(s->nthr);
	if (atomic_load(&w.failed))
		st = jalad_fail(JALAD_ERR_INTERNAL, "dnnl: weights reorder failed with status %d", atomic_load(&w.failed));
	free(w.order);
	dn_weights_free(s);
	return st;
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
	JALAD_FORWARD(dn_md_id(s, md, &t->md));
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
	free(u);
}

enum jalad_status dn_unit_step(struct dn_unit *u, int prim, struct dn_step **out)
{
	/* Most units have one step, a few a reorder or two before it. */
	if (u->nsteps == u->cap) {
		int c = u->cap ? u->cap * 2 : 2;
		struct dn_step *q = realloc(u->step, (size_t)c * sizeof *q);
		JALAD_RETURN_IF(!q, JALAD_ERR_NOMEM, "dnnl backend: steps");
		u->step = q;
		u->cap = c;
	}
	struct dn_step *st = &u->step[u->nsteps++];
	memset(st, 0, sizeof *st);
	st->prim = prim;
	*out = st;
	return JALAD_OK;
}

enum jalad_status dn_kern_step(struct dn_unit *u, enum dn_kern k, int64_t count, struct dn_step **out)
{
	JALAD_FORWARD(dn_unit_step(u, -1, out));
	(*out)->kern = k;
	(*out)->count = count;
	return JALAD_OK;
}

enum jalad_status dn_step_arg(struct dn_step *st, int arg, const struct dn_ref *ref)
{
	if (st->nargs == st->cap) {
		int c = st->cap ? st->cap * 2 : 4;
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
	c->od = u->od;
	for (int i = 0; i < u->nsteps; i++) {
		struct dn_step *st;
		enum jalad_status e = dn_unit_step(c, u->step[i].prim, &st);
		if (e == JALAD_OK) {
			st->kern = u->step[i].kern;
			st->count = u->step[i].count;
		}
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

enum jalad_status dn_ref_home(struct dn_state *s, struct dn_ref *r, int t, const dnnl_memory_desc_t *md)
{
	memset(r, 0, sizeof *r);
	r->kind = DN_REF_HOME;
	r->id = t;
	return dn_md_id(s, md, &r->md);
}

void dn_ref_mem(struct dn_ref *r, dnnl_memory_t mem)
{
	memset(r, 0, sizeof *r);
	r->kind = DN_REF_MEM;
	r->mem = mem;
}

enum jalad_status dn_ref_temp_new(struct dn_state *s, int node, const dnnl_memory_desc_t *md, struct dn_ref *r)
{
	int tmp;
	JALAD_FORWARD(dn_temp_new(s, node, md, &tmp));
	memset(r, 0, sizeof *r);
	r->kind = DN_REF_TEMP;
	r->id = tmp;
	r->md = s->temps[tmp].md;
	return JALAD_OK;
}

enum jalad_status dn_input_ref(struct dn_state *s, struct dn_unit *u, int node, int t,
			       const dnnl_memory_desc_t *want, struct dn_ref *out)
{
	const struct dn_tensor *ti = &s->t[t];
	const dnnl_memory_desc_t *home = dn_md(s, ti->home_md);
	if (ti->store == DN_STORE_CONST) {
		/* constants are plain; anything else is reordered at run time
		 * like any tensor (rare: weights go through their own path). */
		if (dn_md_is_plain(want) && dn_md_bytes(want) == dn_md_bytes(dn_md(s, ti->plain_md)))
			return dn_ref_home(s, out, t, want);
	} else if (dn_md_equal(home, want) ||
		   (dn_md_is_plain(home) && dn_md_is_plain(want) && dn_md_bytes(want) == dn_md_bytes(home))) {
		return dn_ref_home(s, out, t, want);
	}
	struct dn_ref r;
	JALAD_FORWARD(dn_ref_temp_new(s, node, want, out));
	JALAD_FORWARD(dn_ref_home(s, &r, t, home));
	return dn_copy_steps(s, u, &r, out, 1);
}
#endif /* JALAD_HAVE_DNNL */
