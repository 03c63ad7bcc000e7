/*
 * Interval queries and arena placement for graphs of any length.
 *
 * The tree is implicit: the intervals sorted by lo, the subtree of the
 * index range [l, r) rooted at its middle, each root holding the largest
 * hi of its range. A query prunes a subtree whose largest hi ends before
 * the query and stops going right at the first lo past its end.
 */
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"

struct jalad_ivtree {
	int n;
	int *lo, *hi, *id; /* sorted by (lo, id) */
	int *maxhi;        /* max hi over the range rooted here */
};

static int iv_cmp(const void *a, const void *b, void *arg)
{
	const int *lo = arg;
	int x = *(const int *)a, y = *(const int *)b;
	if (lo[x] != lo[y])
		return lo[x] < lo[y] ? -1 : 1;
	return (x > y) - (x < y);
}

static int iv_build(struct jalad_ivtree *t, int l, int r)
{
	if (l >= r)
		return -2147483647 - 1;
	int mid = l + (r - l) / 2, m = t->hi[mid];
	int a = iv_build(t, l, mid), b = iv_build(t, mid + 1, r);
	if (a > m)
		m = a;
	if (b > m)
		m = b;
	t->maxhi[mid] = m;
	return m;
}

enum jalad_status jalad_ivtree_create(int n, const int *lo, const int *hi, struct jalad_ivtree **out)
{
	enum jalad_status st = JALAD_OK;
	size_t cnt = (size_t)(n > 0 ? n : 1);
	struct jalad_ivtree *t = calloc(1, sizeof *t);
	*out = NULL;
	JALAD_RETURN_IF(!t, JALAD_ERR_NOMEM, "interval index");
	t->n = n > 0 ? n : 0;
	t->lo = malloc(cnt * sizeof *t->lo);
	t->hi = malloc(cnt * sizeof *t->hi);
	t->id = malloc(cnt * sizeof *t->id);
	t->maxhi = malloc(cnt * sizeof *t->maxhi);
	if (!t->lo || !t->hi || !t->id || !t->maxhi) {
		st = jalad_fail(JALAD_ERR_NOMEM, "interval index of %d", n);
		goto fail;
	}
	for (int i = 0; i < t->n; i++)
		t->id[i] = i;
	qsort_r(t->id, (size_t)t->n, sizeof *t->id, iv_cmp, (void *)lo);
	for (int i = 0; i < t->n; i++) {
		t->lo[i] = lo[t->id[i]];
		t->hi[i] = hi[t->id[i]];
	}
	iv_build(t, 0, t->n);
	*out = t;
	return JALAD_OK;
fail:
	jalad_ivtree_free(t);
	return st;
}

void jalad_ivtree_free(struct jalad_ivtree *t)
{
	if (!t)
		return;
	free(t->lo);
	free(t->hi);
	free(t->id);
	free(t->maxhi);
	free(t);
}

static void iv_query(const struct jalad_ivtree *t, int l, int r, int a, int b, void (*fn)(int, void *),
		     void *user)
{
	while (l < r) {
		int mid = l + (r - l) / 2;
		if (t->maxhi[mid] < a)
			return;
		iv_query(t, l, mid, a, b, fn, user);
		if (t->lo[mid] > b)
			return;
		if (t->hi[mid] >= a)
			fn(t->id[mid], user);
		l = mid + 1; /* the right half, without recursing */
	}
}

void jalad_ivtree_query(const struct jalad_ivtree *t, int a, int b, void (*fn)(int id, void *user), void *user)
{
	if (t)
		iv_query(t, 0, t->n, a, b, fn, user);
}

/* ------------------------------------------------------------ arena */

struct place_ctx {
	const size_t *size, *off;
	const char *placed;
	int *hits;
	int n_hits;
};

static void place_hit(int id, void *user)
{
	struct place_ctx *c = user;
	if (c->placed[id])
		c->hits[c->n_hits++] = id;
}

static int by_size_desc(const void *a, const void *b, void *arg)
{
	const size_t *size = arg;
	int x = *(const int *)a, y = *(const int *)b;
	if (size[x] != size[y])
		return size[x] < size[y] ? 1 : -1;
	return (x > y) - (x < y);
}

static int by_off(const void *a, const void *b, void *arg)
{
	const size_t *off = arg;
	int x = *(const int *)a, y = *(const int *)b;
	if (off[x] != off[y])
		return off[x] < off[y] ? -1 : 1;
	return (x > y) - (x < y);
}

enum jalad_status jalad_arena_place(int n, const size_t *size, const int *start, const int *end, size_t *off,
				    size_t *total)
{
	enum jalad_status st = JALAD_OK;
	size_t cnt = (size_t)(n > 0 ? n : 1);
	struct jalad_ivtree *tree = NULL;
	int *order = malloc(cnt * sizeof *order);
	char *placed = calloc(cnt, 1);
	struct place_ctx c = { size, off, placed, malloc(cnt * sizeof(int)), 0 };
	*total = 0;
	if (!order || !placed || !c.hits) {
		st = jalad_fail(JALAD_ERR_NOMEM, "arena plan of %d buffers", n);
		goto fail;
	}
	if ((st = jalad_ivtree_create(n, start, end, &tree)) != JALAD_OK)
		goto fail;
	for (int i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, (size_t)n, sizeof *order, by_size_desc, (void *)size);
	for (int k = 0; k < n; k++) {
		int i = order[k];
		size_t at = 0;
		c.n_hits = 0;
		jalad_ivtree_query(tree, start[i], end[i], place_hit, &c);
		/* The lowest gap between the placed neighbours in time. */
		qsort_r(c.hits, (size_t)c.n_hits, sizeof *c.hits, by_off, (void *)off);
		for (int h = 0; h < c.n_hits; h++) {
			int j = c.hits[h];
			if (off[j] >= at + size[i])
				break;
			if (off[j] + size[j] > at)
				at = off[j] + size[j];
		}
		off[i] = at;
		placed[i] = 1;
		if (at + size[i] > *total)
			*total = at + size[i];
	}
fail:
	jalad_ivtree_free(tree);
	free(order);
	free(placed);
	free(c.hits);
	return st;
}
