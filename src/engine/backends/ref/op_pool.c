/*
 * Pooling: MaxPool, AveragePool (windowed, 1-D to 3-D, pads, strides,
 * dilations, ceil_mode, auto_pad) and GlobalMaxPool, GlobalAveragePool
 * (any spatial rank). One work item is one output row (windowed) or one
 * channel plane (global).
 */
#include <math.h>
#include <stdlib.h>

#include "ref_ops_nn.h"

enum pool_kind { POOL_MAX, POOL_AVG, POOL_GLOBAL_MAX, POOL_GLOBAL_AVG };

struct pool_params {
	enum pool_kind kind;
	int count_include_pad;  /* AveragePool: padding counts in the divisor */
	int64_t nc;             /* batch * channels */
	int64_t plane;          /* global pools: spatial elements per channel */
	struct nn_spatial sp;   /* windowed pools */
};

static enum jalad_status pool_infer_common(struct jalad_graph *g, struct jalad_node *n,
					   enum pool_kind kind)
{
	enum jalad_status st;
	struct jalad_tensor_ir *x;
	char s1[96];
	int global = kind == POOL_GLOBAL_MAX || kind == POOL_GLOBAL_AVG;

	if (kind == POOL_MAX && nn_output_used(g, n, 1))
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "optional output Indices");
	JALAD_FORWARD(nn_check_arity(g, n, 1, 1));
	if (!(x = nn_input_f32(g, n, 0, &st)))
		return st;
	if (x->ndim < (global ? 2 : 3))
		return jalad_node_fail(n, JALAD_ERR_SHAPE, "input %s has too few dims",
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));

	struct pool_params *p = calloc(1, sizeof *p);
	if (!p)
		return jalad_node_fail(n, JALAD_ERR_NOMEM, "out of memory");
	free(n->params);
	n->params = p;
	p->kind = kind;
	p->nc = x->dims[0] * x->dims[1];
	int64_t dims[JALAD_MAX_DIMS];
	dims[0] = x->dims[0];
	dims[1] = x->dims[1];
	if (global) {
		p->plane = jalad_numel(x->ndim - 2, x->dims + 2);
		for (int i = 2; i < x->ndim; i++)
			dims[i] = 1;
		jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, dims);
		return JALAD_OK;
	}

	int nsp = x->ndim - 2;
	const int64_t *ks;
	int nks;
	jalad_attr_ints(n, "kernel_shape", &ks, &nks);
	if (nks != nsp)
		return jalad_node_fail(n, JALAD_ERR_SHAPE,
				       "kernel_shape has %d values for input %s", nks,
				       nn_dims_str(x->ndim, x->dims, s1, sizeof s1));
	if (kind == POOL_MAX && jalad_attr_int(n, "storage_order", 0) != 0)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute storage_order=%lld",
				       (long long)jalad_attr_int(n, "storage_order", 0));
	int64_t ceil_mode = jalad_attr_int(n, "ceil_mode", 0);
	if (ceil_mode != 0 && ceil_mode != 1)
		return jalad_node_fail(n, JALAD_ERR_UNSUPPORTED, "attribute ceil_mode=%lld",
				       (long long)ceil_mode);
	if (kind == POOL_AVG)
		p->count_include_pad = jalad_attr_int(n, "count_include_pad", 0) != 0;
	JALAD_FORWARD(nn_spatial_infer(n, nsp, x->dims + 2, ks, (int)ceil_mode, &p->sp));
	for (int i = 0; i < nsp; i++)
		dims[2 + i] = p->sp.out[NN_MAX_SP - nsp + i];
	JALAD_FORWARD(nn_check_numel(n, x->ndim, dims));
	jalad_node_set_output(g, n, 0, JALAD_DTYPE_FLOAT32, x->ndim, dims);
	return JALAD_OK;
}

static enum jalad_status maxpool_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return pool_infer_common(g, n, POOL_MAX);
}

static enum jalad_status averagepool_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return pool_infer_common(g, n, POOL_AVG);
}

static enum jalad_status globalmaxpool_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return pool_infer_common(g, n, POOL_GLOBAL_MAX);
}

static enum jalad_status globalaveragepool_infer(struct jalad_graph *g, struct jalad_node *n)
{
	return pool_infer_common(g, n, POOL_GLOBAL_AVG);
}

struct pool_task {
	const struct pool_params *p;
	const float *x;
	float *y;
};

/* Kernel taps [*lo, *hi) of one axis whose input index start + t*d lies in
 * [a, b). */
static void taps(int64_t start, int64_t d, int64_t k, int64_t a, int64_t b, int64_t *lo,
		 int64_t *hi)
{
	int64_t l = start >= a ? 0 : (a - start + d - 1) / d;
	int64_t h = b - 1 - start >= 0 ? (b - 1 - start) / d + 1 : 0;
	if (h > k)
		h = k;
	if (l > h)
		l = h;
	*lo = l;
	*hi = h;
}

static void pool_window_task(void *arg, int ith, int nth)
{
	const struct pool_task *t = arg;
	const struct pool_params *p = t->p;
	const struct nn_spatial *sp = &p->sp;
	const int64_t ID = sp->in[0], IH = sp->in[1], IW = sp->in[2];
	const int64_t OD = sp->out[0], OH = sp->out[1], OW = sp->out[2];
	int64_t r0, r1;

	nn_split(p->nc * OD * OH, ith, nth, &r0, &r1);
	for (int64_t r = r0; r < r1; r++) {
		int64_t oh = r % OH, od = (r / OH) % OD, ch = r / (OH * OD);
		const float *x = t->x + ch * ID * IH * IW;
		float *y = t->y + r * OW;
		int64_t z = od * sp->s[0] - sp->pb[0], yy = oh * sp->s[1] - sp->pb[1];
		int64_t zl, zh, yl, yh, pz = 1, py = 1;
		taps(z, sp->d[0], sp->k[0], 0, ID, &zl, &zh);
		taps(yy, sp->d[1], sp->k[1], 0, IH, &yl, &yh);
		if (p->count_include_pad) {
			int64_t a, b;
			taps(z, sp->d[0], sp->k[0], -sp->pb[0], ID + sp->pe[0], &a, &b);
			pz = b - a;
			taps(yy, sp->d[1], sp->k[1], -sp->pb[1], IH + sp->pe[1], &a, &b);
			py = b - a;
		}
		for (int64_t ow = 0; ow < OW; ow++) {
			int64_t xx = ow * sp->s[2] - sp->pb[2], xl, xh;
			taps(xx, sp->d[2], sp->k[2], 0, IW, &xl, &xh);
			if (p->kind == POOL_MAX) {
				float m = -INFINITY;
				for (int64_t kz = zl; kz < zh; kz++)
					for (int64_t ky = yl; ky < yh; ky++) {
						int64_t base = ((z + kz * sp->d[0]) * IH + yy +
								ky * sp->d[1]) * IW + xx;
						for (int64_t kx = xl; kx < xh; kx++) {
							float v = x[base + kx * sp->d[2]];
							if (v > m || isnan(v))
								m = v;
						}
					}
				y[ow] = m;
				continue;
			}
			float s = 0.0f;
			for (int64_t kz = zl; kz < zh; kz++)
				for (int64_t ky = yl; ky < yh; ky++) {
					int64_t base = ((z + kz * sp->d[0]) * IH + yy +
							ky * sp->d[1]) * IW + xx;
					for (int64_t kx = xl; kx < xh; kx++)
						s += x[base + kx * sp->d[2]];
				}
			int64_t cnt;
			if (p->count_include_pad) {
				int64_t a, b;
				taps(xx, sp->d[2], sp->k[2], -sp->pb[2], IW + sp->pe[2], &a, &b);
				cnt = pz * py * (b - a);
			} else {
				cnt = (zh - zl) * (yh - yl) * (xh - xl);
			}
			y[ow] = s / (float)cnt;
		}
	}
}

static void pool_global_task(void *arg, int ith, int nth)
{
	const struct pool_task *t = arg;
	const struct pool_params *p = t->p;
	int64_t r0, r1;

	nn_split(p->nc, ith, nth, &r0, &r1);
	for (int64_t r = r0; r < r1; r++) {
		const float *x = t->x + r * p->plane;
		if (p->kind == POOL_GLOBAL_MAX) {
			float m = -INFINITY;
			for (int64_t i = 0; i < p->plane; i++)
				if (x[i] > m || isnan(x[i]))
					m = x[i];
			t->y[r] = m;
		} else {
			double s = 0.0;
			for (int64_t i = 0; i < p->plane; i++)
				s += x[i];
			t->y[r] = (float)(s / (double)p->plane);
		}
	}
}

static enum jalad_status pool_run(struct jalad_op_ctx *ctx)
{
	const struct pool_params *p = ctx->node->params;
	struct pool_task t = {p, ctx->in[0].data, ctx->out[0].data};
	if (p->kind == POOL_GLOBAL_MAX || p->kind == POOL_GLOBAL_AVG)
		jalad_pool_run(ctx->pool, pool_global_task, &t);
	else
		jalad_pool_run(ctx->pool, pool_window_task, &t);
	return JALAD_OK;
}

static int64_t pool_flops(const struct jalad_graph *g, const struct jalad_node *n)
{
	const struct pool_params *p = n->params;
	(void)g;
	if (!p)
		return 0;
	if (p->kind == POOL_GLOBAL_MAX || p->kind == POOL_GLOBAL_AVG)
		return p->nc * p->plane;
	return p->nc * nn_spatial_out_numel(&p->sp) * nn_spatial_k_numel(&p->sp);
}

const struct jalad_op_def jalad_op_maxpool = {"MaxPool", maxpool_infer, pool_run, pool_flops};
const struct jalad_op_def jalad_op_averagepool = {"AveragePool", averagepool_infer, pool_run,
						  pool_flops};
const struct jalad_op_def jalad_op_globalmaxpool = {"GlobalMaxPool", globalmaxpool_infer, pool_run,
						    pool_flops};
const struct jalad_op_def jalad_op_globalaveragepool = {"GlobalAveragePool",
							globalaveragepool_infer, pool_run,
							pool_flops};
