/*
 * Conv: 1-D, 2-D and 3-D, groups, strides, dilations, pads, auto_pad,
 * optional bias.
 *
 * Ordinary and grouped convolutions run as one SGEMM per image and group,
 * Y_g (mg x P) = W_g (mg x cg*K) * cols (cg*K x P) + bias, where the im2col
 * columns are packed panel by panel straight into the SGEMM's B buffer
 * (never the whole matrix). Depthwise convolutions (one input channel per
 * group) run directly, one output channel per work item.
 */
#include <stdlib.h>

#include "ref_ops_nn.h"

struct conv_params {
	int64_t batch, c, m;      /* images, input channels, output channels */
	int64_t group, cg, mg;    /* groups, channels per group in and out */
	int64_t kdim;             /* cg * kernel elements: the SGEMM's k */
	int direct;               /* depthwise: direct loops instead of SGEMM */
	struct nn_spatial sp;
};

static enum jalad_status conv_infer(struct jalad_graph *g, struct jalad_node *n)
{
	enum jalad_status st;
	struct jalad_tensor_ir *x, *w, *b = NULL;
	char s1[96], s2[96];

	JALAD_FORWARD(nn_check_arity(g, n, 2, 3));
	if (!(x = nn_input_f32(g, n, 0, &st)) || !(w = nn_input_f32(g, n, 1, &st)))
		return st;
	if (n->n_in > 2 && n->in[2] >= 0 && !(b = nn_input_f32(g, n, 2, &st)))
		return st;
	if (x->ndim < 3)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "input X %s has fewer than 3 dims",
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));
	int nsp = x->ndim - 2;
	if (nsp > NN_MAX_SP)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "%d spatial dims (1 to %d supported)",
				       nsp, NN_MAX_SP);
	if (w->ndim != x->ndim)
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "weight %s and input %s ranks differ",
				       nn_dims_str(w->ndim, w->dims, s1, sizeof s1),
				       nn_dims_str(x->ndim, x->dims, s2, sizeof s2));
	int64_t group = jalad_attr_int(n, "group", 1);
	int64_t c = x->dims[1], m = w->dims[0];
	if (group < 1 || c % group != 0 || m % group != 0 || w->dims[1] * group != c)
		return jalad_node_fail(n, JALAD_ERR_SHAPE,
				       "group %lld does not fit input %s and weight %s", (long long)group,
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1),
				       nn_dims_str(w->ndim, w->dims, s2, sizeof s2));
	const int64_t *ks;
	int nks;
	jalad_attr_ints(n, "kernel_shape", &ks, &nks);
	if (nks) {
		int ok = nks == nsp;
		for (int i = 0; ok && i < nsp; i++)
			ok = ks[i] == w->dims[2 + i];
		if (!ok)
			return jalad_node_fail(n, JALAD_ERR_SHAPE,
					       "kernel_shape %s does not match weight %s",
					       nn_dims_str(nks, ks, s1, sizeof s1),
					       nn_dims_str(w->ndim, w->dims, s2, sizeof s2));
	}
	if (b && (b->ndim != 1 || b->dims[0] != m))
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "bias %s for %lld output channels",
				       nn_dims_str(b->ndim, b->dims, s1, sizeof s1), (long long)m);

	struct conv_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	JALAD_FORWARD(nn_spatial_infer(n, nsp, x->dims + 2, w->dims + 2, 0, &p->sp));
	p->batch = x->dims[0];
	p->c = c;
	p->m = m;
	p->group = group;
	p->cg = c / group;
	p->mg = m / group;
	p->kdim = p->cg * nn_spatial_k_numel(&p->sp);
	p->direct = p->cg == 1 && group > 1;

	int64_t dims[JALAD_MAX_DIMS];
	dims[0] = p->batch;
	dims[1] = m;
	for (int i = 0; i < nsp; i++)
		dims[2 + i] = p->sp.out[NN_MAX_SP - nsp + i];
	JALAD_FORWARD(nn_check_numel(n, x->ndim, dims));
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, dims);
	n->scratch_bytes = 0;
	if (!p->direct && nn_gemm_scratch_bytes(p->mg, nn_spatial_out_numel(&p->sp), p->kdim,
						&n->scratch_bytes) != 0)
		return jalad_node_fail(n, JALAD_ERR_LIMIT, "workspace size overflows");
	return JALAD_OK;
}

/* ------------------------------------------------------------ SGEMM path */

struct conv_cols {
	const float *x;                 /* (cg, in) of one image and group */
	const struct conv_params *p;
};

/* Pack the im2col columns [col0, col0 + ncols) (output positions) as k rows
 * (channel, kz, ky, kx) of NN_NR floats. */
static void conv_packb(const void *ctx, int64_t k, int64_t col0, int ncols, float *dst)
{
	const struct conv_cols *cc = ctx;
	const struct nn_spatial *sp = &cc->p->sp;
	const int64_t ID = sp->in[0], IH = sp->in[1], IW = sp->in[2];
	const int64_t OH = sp->out[1], OW = sp->out[2];
	const int64_t plane = ID * IH * IW;
	int64_t z0[NN_NR], y0[NN_NR], x0[NN_NR];
	(void)k;

	for (int j = 0; j < NN_NR; j++) {
		int64_t pos = col0 + (j < ncols ? j : 0);
		int64_t ow = pos % OW, t = pos / OW;
		int64_t oh = t % OH, od = t / OH;
		z0[j] = od * sp->s[0] - sp->pb[0];
		y0[j] = oh * sp->s[1] - sp->pb[1];
		x0[j] = ow * sp->s[2] - sp->pb[2];
	}
	/* All columns on one output row: z and y are shared. */
	int row = ncols == NN_NR && (col0 % OW) + NN_NR <= OW;
	float *d = dst;
	for (int64_t c = 0; c < cc->p->cg; c++) {
		const float *xc = cc->x + c * plane;
		for (int64_t kz = 0; kz < sp->k[0]; kz++) {
			for (int64_t ky = 0; ky < sp->k[1]; ky++) {
				if (row) {
					int64_t iz = z0[0] + kz * sp->d[0], iy = y0[0] + ky * sp->d[1];
					if (iz < 0 || iz >= ID || iy < 0 || iy >= IH) {
						for (int64_t kx = 0; kx < sp->k[2]; kx++, d += NN_NR)
							for (int j = 0; j < NN_NR; j++)
								d[j] = 0.0f;
						continue;
					}
					const float *xr = xc + (iz * IH + iy) * IW;
					for (int64_t kx = 0; kx < sp->k[2]; kx++, d += NN_NR) {
						int64_t ix0 = x0[0] + kx * sp->d[2];
						int64_t ixl = x0[NN_NR - 1] + kx * sp->d[2];
						if (ix0 >= 0 && ixl < IW && sp->s[2] == 1) {
							for (int j = 0; j < NN_NR; j++)
								d[j] = xr[ix0 + j];
							continue;
						}
						for (int j = 0; j < NN_NR; j++) {
							int64_t ix = x0[j] + kx * sp->d[2];
							d[j] = ix >= 0 && ix < IW ? xr[ix] : 0.0f;
						}
					}
					continue;
				}
				for (int64_t kx = 0; kx < sp->k[2]; kx++, d += NN_NR) {
					for (int j = 0; j < NN_NR; j++) {
						int64_t iz = z0[j] + kz * sp->d[0];
						int64_t iy = y0[j] + ky * sp->d[1];
						int64_t ix = x0[j] + kx * sp->d[2];
						int in = j < ncols && iz >= 0 && iz < ID && iy >= 0 &&
							 iy < IH && ix >= 0 && ix < IW;
						d[j] = in ? xc[(iz * IH + iy) * IW + ix] : 0.0f;
					}
				}
			}
		}
	}
}

/* ------------------------------------------------------------ direct path */

struct conv_direct {
	const struct conv_params *p;
	const float *x, *w, *b;
	float *y;
};

/* One output element of a depthwise channel: bias plus the in-bounds taps
 * in (kz, ky, kx) order. */
static float direct_point(const struct nn_spatial *sp, const float *x, const float *w, float bias,
			  int64_t od, int64_t oh, int64_t ow)
{
	float acc = bias;
	for (int64_t kz = 0; kz < sp->k[0]; kz++) {
		int64_t iz = od * sp->s[0] - sp->pb[0] + kz * sp->d[0];
		if (iz < 0 || iz >= sp->in[0])
			continue;
		for (int64_t ky = 0; ky < sp->k[1]; ky++) {
			int64_t iy = oh * sp->s[1] - sp->pb[1] + ky * sp->d[1];
			if (iy < 0 || iy >= sp->in[1])
				continue;
			const float *xr = x + (iz * sp->in[1] + iy) * sp->in[2];
			const float *wr = w + (kz * sp->k[1] + ky) * sp->k[2];
			for (int64_t kx = 0; kx < sp->k[2]; kx++) {
				int64_t ix = ow * sp->s[2] - sp->pb[2] + kx * sp->d[2];
				if (ix >= 0 && ix < sp->in[2])
					acc += wr[kx] * xr[ix];
			}
		}
	}
	return acc;
}

/* Same sum for NN_NR outputs from ow (x stride 1) whose taps are all
 * inside the row; the same order per element as direct_point. */
static void direct_block(const struct nn_spatial *sp, const float *x, const float *w, float bias,
			 int64_t od, int64_t oh, int64_t ow, float *y)
{
	float acc[NN_NR];
#pragma GCC unroll 8
	for (int j = 0; j < NN_NR; j++)
		acc[j] = bias;
	for (int64_t kz = 0; kz < sp->k[0]; kz++) {
		int64_t iz = od * sp->s[0] - sp->pb[0] + kz * sp->d[0];
		if (iz < 0 || iz >= sp->in[0])
			continue;
		for (int64_t ky = 0; ky < sp->k[1]; ky++) {
			int64_t iy = oh * sp->s[1] - sp->pb[1] + ky * sp->d[1];
			if (iy < 0 || iy >= sp->in[1])
				continue;
			const float *xr = x + (iz * sp->in[1] + iy) * sp->in[2] + ow - sp->pb[2];
			const float *wr = w + (kz * sp->k[1] + ky) * sp->k[2];
			for (int64_t kx = 0; kx < sp->k[2]; kx++) {
				const float *xk = xr + kx * sp->d[2];
				float wv = wr[kx];
#pragma GCC unroll 8
				for (int j = 0; j < NN_NR; j++)
					acc[j] += wv * xk[j];
			}
		}
	}
#pragma GCC unroll 8
	for (int j = 0; j < NN_NR; j++)
		y[j] = acc[j];
}

static void conv_direct_task(void *arg, int ith, int nth)
{
	const struct conv_direct *t = arg;
	const struct conv_params *p = t->p;
	const struct nn_spatial *sp = &p->sp;
	const int64_t OD = sp->out[0], OH = sp->out[1], OW = sp->out[2];
	const int64_t kn = nn_spatial_k_numel(sp), plane = nn_spatial_in_numel(sp);
	const int64_t oplane = nn_spatial_out_numel(sp);
	/* Outputs [lo, hi) of a row have every x tap inside the input row. */
	const int64_t span = (sp->k[2] - 1) * sp->d[2];
	int64_t lo = (sp->pb[2] + sp->s[2] - 1) / sp->s[2], hi = 0;
	if (sp->in[2] - 1 - span + sp->pb[2] >= 0)
		hi = (sp->in[2] - 1 - span + sp->pb[2]) / sp->s[2] + 1;
	if (hi > OW)
		hi = OW;
	if (lo > hi || sp->s[2] != 1)
		lo = hi;
	int64_t u0, u1;

	nn_split(p->batch * p->m, ith, nth, &u0, &u1);
	for (int64_t u = u0; u < u1; u++) {
		int64_t img = u / p->m, oc = u % p->m;
		const float *x = t->x + (img * p->c + oc / p->mg) * plane;
		const float *w = t->w + oc * kn;
		float *y = t->y + u * oplane;
		float bias = t->b ? t->b[oc] : 0.0f;
		for (int64_t od = 0; od < OD; od++) {
			for (int64_t oh = 0; oh < OH; oh++) {
				float *yr = y + (od * OH + oh) * OW;
				int64_t ow = 0;
				for (; ow < lo; ow++)
					yr[ow] = direct_point(sp, x, w, bias, od, oh, ow);
				for (; ow + NN_NR <= hi; ow += NN_NR)
					direct_block(sp, x, w, bias, od, oh, ow, yr + ow);
				for (; ow < OW; ow++)
					yr[ow] = direct_point(sp, x, w, bias, od, oh, ow);
			}
		}
	}
}

static enum jalad_status conv_run(struct jalad_op_ctx *ctx)
{
	const struct conv_params *p = ctx->node->params;
	const float *x = ctx->in[0].data, *w = ctx->in[1].data;
	const float *b = ctx->n_in > 2 ? ctx->in[2].data : NULL;
	float *y = ctx->out[0].data;
	const int64_t plane = nn_spatial_in_numel(&p->sp), P = nn_spatial_out_numel(&p->sp);

	if (p->direct) {
		struct conv_direct t = {p, x, w, b, y};
		jalad_pool_run(ctx->pool, conv_direct_task, &t);
		return JALAD_OK;
	}
	for (int64_t img = 0; img < p->batch; img++) {
		for (int64_t gi = 0; gi < p->group; gi++) {
			struct conv_cols cc = {x + (img * p->c + gi * p->cg) * plane, p};
			struct nn_gemm gm = {
				.m = p->mg, .n = P, .k = p->kdim,
				.a = w + gi * p->mg * p->kdim, .rsa = p->kdim, .csa = 1,
				.packb = conv_packb, .packb_ctx = &cc,
				.c = y + (img * p->m + gi * p->mg) * P, .ldc = P,
				.bias = b ? b + gi * p->mg : NULL,
			};
			nn_gemm_run(&gm, ctx->scratch, ctx->pool);
		}
	}
	return JALAD_OK;
}

static int64_t conv_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct conv_params *p = n->params;
	(void)g;
	if (!p)
		return 0;
	return 2 * p->batch * p->m * nn_spatial_out_numel(&p->sp) * p->kdim;
}

const struct jalad_op_def jalad_op_conv = {"Conv", conv_infer, conv_run, conv_flops};
