/* Helpers shared by the nn operators: window geometry and a blocked SGEMM. */
#include <stdio.h>
#include <string.h>

#include "ref_ops_nn.h"

/* ------------------------------------------------------------ checks */

const char *nn_dims_str(int ndim, const int64_t *dims, char *buf, size_t cap)
{
	size_t len = 0;
	if (cap == 0)
		return buf;
	buf[0] = '\0';
	len += (size_t)snprintf(buf, cap, "[");
	for (int i = 0; i < ndim && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, i ? ",%lld" : "%lld", (long long)dims[i]);
	if (len < cap)
		snprintf(buf + len, cap - len, "]");
	return buf;
}

struct jalad_tensor_ir *nn_input_f32(struct jalad_graph *g, const struct jalad_node *n, int i,
				     enum jalad_status *st)
{
	struct jalad_tensor_ir *t = jalad_node_input(g, n, i);
	if (!t) {
		*st = jalad_node_fail(n, JALAD_ERR_FORMAT, "input %d is missing", i);
		return NULL;
	}
	if (t->dtype != JALAD_DTYPE_FLOAT32) {
		*st = jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "input %d has dtype %s (float32 only)", i,
				      jalad_dtype_name(t->dtype));
		return NULL;
	}
	if (t->ndim < 0) {
		*st = jalad_node_fail(n, JALAD_ERR_SHAPE, "input %d has an unknown shape", i);
		return NULL;
	}
	*st = JALAD_OK;
	return t;
}

enum jalad_status nn_check_numel(const struct jalad_node *n, int ndim, const int64_t *dims)
{
	int64_t total = 1;
	char buf[160];
	for (int i = 0; i < ndim; i++)
		if (dims[i] < 0 || __builtin_mul_overflow(total, dims[i], &total) || total > NN_MAX_NUMEL)
			return jalad_node_fail(n, JALAD_ERR_LIMIT, "output %s is too large",
					       nn_dims_str(ndim, dims, buf, sizeof buf));
	return JALAD_OK;
}

int nn_output_used(const struct jalad_graph *g, const struct jalad_node *n, int i)
{
	if (i < 0 || i >= n->n_out || n->out[i] < 0 || n->out[i] >= g->n_tensors)
		return 0;
	int t = n->out[i];
	for (int k = 0; k < g->n_outputs; k++)
		if (g->outputs[k] == t)
			return 1;
	for (int k = 0; k < g->n_nodes; k++)
		for (int j = 0; j < g->nodes[k].n_in; j++)
			if (g->nodes[k].in[j] == t)
				return 1;
	return 0;
}

enum jalad_status nn_check_arity(struct jalad_graph *g, const struct jalad_node *n, int lo, int hi)
{
	if (n->n_in < lo || n->n_in > hi) {
		if (lo == hi)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "%d inputs, expected %d", n->n_in, lo);
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "%d inputs, expected %d to %d", n->n_in, lo,
				       hi);
	}
	for (int i = 0; i < lo; i++)
		if (n->in[i] < 0)
			return jalad_node_fail(n, JALAD_ERR_FORMAT, "required input %d is omitted", i);
	if (n->n_out < 1 || n->out[0] < 0)
		return jalad_node_fail(n, JALAD_ERR_FORMAT, "output 0 is missing");
	for (int i = 1; i < n->n_out; i++) {
		if (nn_output_used(g, n, i))
			return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED,
					       "optional output %d (only the first output is supported)",
					       i);
		if (n->out[i] >= 0) {
			int64_t zero = 0;
			jalad_node_set_output(g, n, i, JALAD_DTYPE_FLOAT32, 1, &zero);
		}
	}
	return JALAD_OK;
}

/* ------------------------------------------------------------ windows */

enum pad_mode { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

#define NN_ATTR_MAX ((int64_t)1 << 31) /* bound on strides, dilations, pads */

enum jalad_status nn_spatial_infer(const struct jalad_node *n, int nsp, const int64_t *in,
				   const int64_t *k, int ceil_mode, struct nn_spatial *sp)
{
	const int64_t *strides, *dil, *pads;
	int ns, nd, np;
	enum pad_mode mode;

	if (nsp < 1 || nsp > NN_MAX_SP)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "%d spatial dims (1 to %d supported)",
				       nsp, NN_MAX_SP);
	jalad_attr_ints(n, "strides", &strides, &ns);
	jalad_attr_ints(n, "dilations", &dil, &nd);
	jalad_attr_ints(n, "pads", &pads, &np);
	if (ns && ns != nsp)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "strides has %d values for %d spatial dims",
				       ns, nsp);
	if (nd && nd != nsp)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "dilations has %d values for %d spatial dims",
				       nd, nsp);
	if (np && np != 2 * nsp)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "pads has %d values for %d spatial dims", np,
				       nsp);
	const char *ap = jalad_attr_string(n, "auto_pad", "NOTSET");
	if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0')
		mode = PAD_NOTSET;
	else if (strcmp(ap, "SAME_UPPER") == 0)
		mode = PAD_SAME_UPPER;
	else if (strcmp(ap, "SAME_LOWER") == 0)
		mode = PAD_SAME_LOWER;
	else if (strcmp(ap, "VALID") == 0)
		mode = PAD_VALID;
	else
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute auto_pad=%s", ap);

	memset(sp, 0, sizeof *sp);
	sp->nsp = nsp;
	for (int j = 0; j < NN_MAX_SP; j++) {
		sp->in[j] = sp->k[j] = sp->s[j] = sp->d[j] = sp->out[j] = 1;
	}
	int off = NN_MAX_SP - nsp;
	for (int i = 0; i < nsp; i++) {
		int j = off + i;
		int64_t s = ns ? strides[i] : 1, d = nd ? dil[i] : 1;
		int64_t pb = np ? pads[i] : 0, pe = np ? pads[i + nsp] : 0;
		if (s < 1 || s > NN_ATTR_MAX || d < 1 || d > NN_ATTR_MAX)
			return jalad_node_fail(n, JALAD_ERR_SHAPE,
					       "spatial dim %d: stride %lld, dilation %lld out of range",
					       i, (long long)s, (long long)d);
		if (pb < 0 || pe < 0 || pb > NN_ATTR_MAX || pe > NN_ATTR_MAX)
			return jalad_node_fail(n, JALAD_ERR_SHAPE,
					       "spatial dim %d: pads %lld, %lld out of range", i,
					       (long long)pb, (long long)pe);
		if (k[i] < 1 || k[i] > NN_ATTR_MAX || in[i] < 0)
			return jalad_node_fail(n, JALAD_ERR_SHAPE,
					       "spatial dim %d: kernel %lld for input %lld", i,
					       (long long)k[i], (long long)in[i]);
		int64_t dk = (k[i] - 1) * d + 1, out;
		switch (mode) {
		case PAD_NOTSET: {
			int64_t span = in[i] + pb + pe - dk;
			if (span < 0)
				return jalad_node_fail(n, JALAD_ERR_SHAPE,
						       "spatial dim %d: window %lld exceeds padded input %lld",
						       i, (long long)dk, (long long)(in[i] + pb + pe));
			out = span / s + 1;
			if (ceil_mode) {
				out = (span + s - 1) / s + 1;
				/* the last window must start inside the input or the start padding */
				if ((out - 1) * s >= in[i] + pb)
					out--;
			}
			break;
		}
		case PAD_SAME_UPPER:
		case PAD_SAME_LOWER: {
			out = (in[i] + s - 1) / s;
			int64_t total = (out - 1) * s + dk - in[i];
			if (total < 0)
				total = 0;
			pb = mode == PAD_SAME_UPPER ? total / 2 : total - total / 2;
			pe = total - pb;
			break;
		}
		default: /* PAD_VALID */
			pb = pe = 0;
			if (in[i] < dk)
				return jalad_node_fail(n, JALAD_ERR_SHAPE,
						       "spatial dim %d: window %lld exceeds input %lld", i,
						       (long long)dk, (long long)in[i]);
			out = (in[i] - dk) / s + 1;
			break;
		}
		if (out < 1)
			return jalad_node_fail(n, JALAD_ERR_SHAPE, "spatial dim %d: empty output", i);
		sp->in[j] = in[i];
		sp->k[j] = k[i];
		sp->s[j] = s;
		sp->d[j] = d;
		sp->pb[j] = pb;
		sp->pe[j] = pe;
		sp->out[j] = out;
	}
	return JALAD_OK;
}

/* ------------------------------------------------------------ SGEMM */

#define NN_CHUNK_FLOATS ((int64_t)1 << 19) /* packed B per chunk: 2 MiB */
#define NN_SMALL_MACS 32768.0               /* below this, run on the caller */

static int64_t chunk_panels(int64_t n, int64_t k)
{
	int64_t np = (n + NN_NR - 1) / NN_NR;
	if (k <= 0)
		return np > 0 ? np : 1;
	int64_t c = NN_CHUNK_FLOATS / (NN_NR * k);
	if (c < 1)
		c = 1;
	if (np > 0 && c > np)
		c = np;
	return c;
}

int nn_gemm_scratch_bytes(int64_t m, int64_t n, int64_t k, size_t *bytes)
{
	int64_t ma = (m + NN_MR - 1) / NN_MR * NN_MR, fa, fb;
	*bytes = 0;
	if (m < 0 || n < 0 || k < 0)
		return -1;
	if (__builtin_mul_overflow(ma, k, &fa) ||
	    __builtin_mul_overflow(chunk_panels(n, k) * NN_NR, k, &fb) ||
	    __builtin_add_overflow(fa, fb, &fa) || __builtin_mul_overflow(fa, (int64_t)sizeof(float), &fa))
		return -1;
	*bytes = (size_t)fa;
	return 0;
}

void nn_packb_matrix(const void *ctx, int64_t k, int64_t col0, int ncols, float *dst)
{
	const struct nn_matrix *b = ctx;
	if (b->cs == 1) {
		for (int64_t l = 0; l < k; l++) {
			const float *src = b->p + l * b->rs + col0;
			float *d = dst + l * NN_NR;
			for (int j = 0; j < ncols; j++)
				d[j] = src[j];
			for (int j = ncols; j < NN_NR; j++)
				d[j] = 0.0f;
		}
		return;
	}
	if (ncols < NN_NR)
		memset(dst, 0, (size_t)k * NN_NR * sizeof(float));
	for (int j = 0; j < ncols; j++) {
		const float *src = b->p + (col0 + j) * b->cs;
		for (int64_t l = 0; l < k; l++)
			dst[l * NN_NR + j] = src[l * b->rs];
	}
}

/* C tile (mr <= 4 rows, nr <= 8 columns) = bias + A panel * B panel. The
 * accumulators are fixed-size arrays over fully unrolled loops, which gcc
 * keeps in SIMD registers at -O2. */
static void kernel_4x8(int64_t k, const float *restrict ap, const float *restrict bp, float *c,
		       int64_t ldc, int mr, int nr, const float *bias)
{
	float c0[NN_NR], c1[NN_NR], c2[NN_NR], c3[NN_NR];
	float b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;
	if (bias) {
		b0 = bias[0];
		b1 = mr > 1 ? bias[1] : 0.0f;
		b2 = mr > 2 ? bias[2] : 0.0f;
		b3 = mr > 3 ? bias[3] : 0.0f;
	}
#pragma GCC unroll 8
	for (int j = 0; j < NN_NR; j++) {
		c0[j] = b0;
		c1[j] = b1;
		c2[j] = b2;
		c3[j] = b3;
	}
	for (int64_t l = 0; l < k; l++) {
		const float *a = ap + l * NN_MR, *b = bp + l * NN_NR;
		float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
#pragma GCC unroll 8
		for (int j = 0; j < NN_NR; j++) {
			c0[j] += a0 * b[j];
			c1[j] += a1 * b[j];
			c2[j] += a2 * b[j];
			c3[j] += a3 * b[j];
		}
	}
	if (mr == NN_MR && nr == NN_NR) {
#pragma GCC unroll 8
		for (int j = 0; j < NN_NR; j++) {
			c[j] = c0[j];
			c[ldc + j] = c1[j];
			c[2 * ldc + j] = c2[j];
			c[3 * ldc + j] = c3[j];
		}
		return;
	}
	for (int j = 0; j < nr; j++) {
		c[j] = c0[j];
		if (mr > 1)
			c[ldc + j] = c1[j];
		if (mr > 2)
			c[2 * ldc + j] = c2[j];
		if (mr > 3)
			c[3 * ldc + j] = c3[j];
	}
}

/* One row of a tile: for panels with only 1 or 2 valid rows. ap is the
 * row's first element in the packed A panel (stride NN_MR). */
static void kernel_1x8(int64_t k, const float *restrict ap, const float *restrict bp, float *c,
		       int nr, float bias)
{
	float c0[NN_NR];
#pragma GCC unroll 8
	for (int j = 0; j < NN_NR; j++)
		c0[j] = bias;
	for (int64_t l = 0; l < k; l++) {
		const float *b = bp + l * NN_NR;
		float a0 = ap[l * NN_MR];
#pragma GCC unroll 8
		for (int j = 0; j < NN_NR; j++)
			c0[j] += a0 * b[j];
	}
	for (int j = 0; j < nr; j++)
		c[j] = c0[j];
}

struct gemm_task {
	const struct nn_gemm *gm;
	float *pa, *pb;
	int64_t mp;      /* panels of A */
	int64_t p0, pc;  /* panels of B in this chunk: first, count */
	int with_a;      /* this packing pass also packs A */
};

static void pack_a_panel(const struct gemm_task *t, int64_t p)
{
	const struct nn_gemm *gm = t->gm;
	int64_t m0 = p * NN_MR;
	int rows = gm->m - m0 < NN_MR ? (int)(gm->m - m0) : NN_MR;
	float *dst = t->pa + p * NN_MR * gm->k;
	for (int i = 0; i < NN_MR; i++) {
		const float *src = gm->a + (m0 + i) * gm->rsa;
		if (i >= rows) {
			for (int64_t l = 0; l < gm->k; l++)
				dst[l * NN_MR + i] = 0.0f;
			continue;
		}
		for (int64_t l = 0; l < gm->k; l++)
			dst[l * NN_MR + i] = src[l * gm->csa];
	}
}

/* Packs the chunk's B panels, preceded by all A panels on the first pass
 * (one pool task instead of two). */
static void task_pack(void *arg, int ith, int nth)
{
	const struct gemm_task *t = arg;
	const struct nn_gemm *gm = t->gm;
	int64_t na = t->with_a ? t->mp : 0, r0, r1;
	nn_split(na + t->pc, ith, nth, &r0, &r1);
	for (int64_t u = r0; u < r1; u++) {
		if (u < na) {
			pack_a_panel(t, u);
			continue;
		}
		int64_t q = u - na, col0 = (t->p0 + q) * NN_NR;
		int ncols = gm->n - col0 < NN_NR ? (int)(gm->n - col0) : NN_NR;
		gm->packb(gm->packb_ctx, gm->k, col0, ncols, t->pb + q * NN_NR * gm->k);
	}
}

static void task_compute(void *arg, int ith, int nth)
{
	const struct gemm_task *t = arg;
	const struct nn_gemm *gm = t->gm;
	int64_t r0, r1;
	nn_split(t->pc * t->mp, ith, nth, &r0, &r1);
	for (int64_t u = r0; u < r1; u++) {
		int64_t q = u / t->mp, mi = u % t->mp;
		int64_t col0 = (t->p0 + q) * NN_NR, m0 = mi * NN_MR;
		int nr = gm->n - col0 < NN_NR ? (int)(gm->n - col0) : NN_NR;
		int mr = gm->m - m0 < NN_MR ? (int)(gm->m - m0) : NN_MR;
		const float *ap = t->pa + mi * NN_MR * gm->k;
		const float *bp = t->pb + q * NN_NR * gm->k;
		float *c = gm->c + m0 * gm->ldc + col0;
		const float *bias = gm->bias ? gm->bias + m0 : NULL;
		if (mr > 2) {
			kernel_4x8(gm->k, ap, bp, c, gm->ldc, mr, nr, bias);
			continue;
		}
		for (int i = 0; i < mr; i++)
			kernel_1x8(gm->k, ap + i, bp, c + i * gm->ldc, nr, bias ? bias[i] : 0.0f);
	}
}

void nn_gemm_run(const struct nn_gemm *gm, float *scratch, struct jalad_pool *pool)
{
	struct gemm_task t;
	if (gm->m <= 0 || gm->n <= 0)
		return;
	if ((double)gm->m * (double)gm->n * (double)gm->k < NN_SMALL_MACS)
		pool = NULL;
	t.gm = gm;
	t.mp = (gm->m + NN_MR - 1) / NN_MR;
	t.pa = scratch;
	t.pb = scratch + t.mp * NN_MR * gm->k;
	int64_t np = (gm->n + NN_NR - 1) / NN_NR, chunk = chunk_panels(gm->n, gm->k);
	for (t.p0 = 0; t.p0 < np; t.p0 += chunk) {
		t.pc = np - t.p0 < chunk ? np - t.p0 : chunk;
		t.with_a = t.p0 == 0;
		jalad_pool_run(pool, task_pack, &t);
		jalad_pool_run(pool, task_compute, &t);
	}
}
