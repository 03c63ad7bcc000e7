/*
 * Winograd weights for oneDNN 2.6, made here instead of by oneDNN's
 * reorder.
 *
 * oneDNN's float Winograd convolutions take their weights in opaque
 * formats: wino_wei_aaOio and wino_wei_aaOBiOo for F(2x2, 3x3) (4x4
 * tiles), wino_wei_OBaaIBOIio for F(4x4, 3x3) (6x6 tiles). Its reorder
 * into them is scalar code that keeps its loop variables on the stack: 3-4
 * ms per MB of transformed weights on one core, the largest part of a
 * session's creation for GoogLeNet, SqueezeNet and ResNet-50. This file
 * does the same arithmetic, vectorizable along the output channels.
 *
 * Each 3x3 kernel g becomes the tile U = G g G^T with oneDNN's G for the
 * format (for 4x3 its scaled interpolation points: the kernels' input and
 * output transforms are made for these numbers), summed in oneDNN's order:
 * first along a kernel row (W = g G^T, from 0), then down the columns (U =
 * G W, from 0), each product rounded before the add (ISO C mode: no
 * contraction into fused multiply-adds). The result is bit-identical to
 * oneDNN's reorder, which test_dnnl checks for each format.
 *
 * The layouts, from the descriptor's fields (alpha, the padded ic and oc,
 * their blocks ic_block/oc_block and super-blocks ic2_block/oc2_block),
 * a = the tile position (alpha * alpha of them), zeros for the channels
 * padding adds:
 *   aaOio       [a] [oc / ocb] [ic] [ocb]
 *   aaOBiOo     [a] [oc / (oc2 ocb)] [ic] [oc2] [ocb]
 *   OBaaIBOIio  [oc / (oc2 ocb)] [a] [ic / (ic2 icb)] [oc2] [ic2] [icb] [ocb]
 * Anything else (the int8 format, another library version, a kernel that
 * is not 3x3, data that is not dense oihw float) is left to oneDNN.
 */
#ifdef JALAD_HAVE_DNNL
#include <stdint.h>
#include <string.h>

#include "dnnl_impl.h"

#define R 3
#define ALPHA_MAX 6
#define VL 16 /* output channels per tile16() */

static const float g_2x3[4][R] = {
	{1.0f, 0.0f, 0.0f},
	{0.5f, 0.5f, 0.5f},
	{0.5f, -0.5f, 0.5f},
	{0.0f, 0.0f, 1.0f},
};

static const float g_4x3[6][R] = {
	{1.13777777777778f, 0.f, 0.f},
	{-0.688403361344538f, -0.430252100840336f, -0.26890756302521f},
	{-0.688403361344538f, 0.430252100840336f, -0.26890756302521f},
	{0.119514472455649f, 0.179271708683473f, 0.26890756302521f},
	{0.119514472455649f, -0.179271708683473f, 0.26890756302521f},
	{0.f, 0.f, 1.f},
};

static int dense_oihw(const dnnl_memory_desc_t *md)
{
	if (md->ndims != 4 || md->data_type != dnnl_f32 || md->format_kind != dnnl_blocked ||
	    md->format_desc.blocking.inner_nblks != 0 || md->dims[2] != R || md->dims[3] != R || md->offset0 != 0)
		return 0;
	const dnnl_dims_t *st = &md->format_desc.blocking.strides;
	return (*st)[3] == 1 && (*st)[2] == R && (*st)[1] == R * R && (*st)[0] == md->dims[1] * R * R;
}

int dn_wino_supported(const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want)
{
	const dnnl_version_t *v = dnnl_version();
	if (!v || v->major != 2 || v->minor != 6 || !dense_oihw(user) || want->format_kind != dnnl_format_kind_wino ||
	    want->data_type != dnnl_f32)
		return 0;
	const dnnl_wino_desc_t *w = &want->format_desc.wino_desc;
	int alpha = w->wino_format == dnnl_wino_wei_OBaaIBOIio ? 6 :
		    w->wino_format == dnnl_wino_wei_aaOio || w->wino_format == dnnl_wino_wei_aaOBiOo ? 4 : 0;
	if (!alpha || w->r != R || w->alpha != alpha || w->oc_block <= 0 || w->oc_block % VL != 0 ||
	    w->ic_block <= 0 || w->ic2_block <= 0 || w->oc2_block <= 0 || w->ic % w->ic_block != 0 ||
	    w->oc % w->oc_block != 0 || w->ic < user->dims[1] || w->oc < user->dims[0])
		return 0;
	if (w->wino_format != dnnl_wino_wei_aaOio && w->oc % (w->oc_block * w->oc2_block) != 0)
		return 0;
	if (w->wino_format == dnnl_wino_wei_OBaaIBOIio && w->ic % (w->ic_block * w->ic2_block) != 0)
		return 0;
	return w->size >= (size_t)alpha * alpha * (size_t)w->ic * (size_t)w->oc * sizeof(float);
}

/* Sixteen output channels (oc0 .. oc0 + 16) against one input channel:
 * alpha * alpha rows of 16 floats in u[alpha][alpha][16] (loops of a
 * constant 16: the compiler makes them vector code). */
static void tile16(const float *src, int64_t oc_n, int64_t ic_n, int64_t oc0, int64_t ic, int alpha,
		   const float (*g)[R], float *u)
{
	float k[R][R][VL], w[R][ALPHA_MAX][VL];
	for (int o = 0; o < VL; o++) {
		int64_t oc = oc0 + o;
		const float *p = oc < oc_n && ic < ic_n ? src + (oc * ic_n + ic) * R * R : NULL;
		for (int y = 0; y < R; y++)
			for (int x = 0; x < R; x++)
				k[y][x][o] = p ? p[y * R + x] : 0.f;
	}
	for (int y = 0; y < R; y++)
		for (int j = 0; j < alpha; j++) {
			float *d = w[y][j];
			for (int o = 0; o < VL; o++)
				d[o] = 0.f;
			for (int x = 0; x < R; x++) {
				float c = g[j][x];
				for (int o = 0; o < VL; o++)
					d[o] += k[y][x][o] * c;
			}
		}
	for (int i = 0; i < alpha; i++)
		for (int j = 0; j < alpha; j++) {
			float *d = u + (i * alpha + j) * VL;
			for (int o = 0; o < VL; o++)
				d[o] = 0.f;
			for (int y = 0; y < R; y++) {
				float c = g[i][y];
				for (int o = 0; o < VL; o++)
					d[o] += c * w[y][j][o];
			}
		}
}

/* Where tile row a of output-channel block ob and input channel ic goes,
 * in floats (the layouts above). */
static size_t row_offset(const dnnl_wino_desc_t *w, int a, int64_t ob, int64_t ic)
{
	const size_t ocb = (size_t)w->oc_block, icb = (size_t)w->ic_block, oc2 = (size_t)w->oc2_block,
		     ic2 = (size_t)w->ic2_block, icn = (size_t)w->ic, aa = (size_t)w->alpha * (size_t)w->alpha;
	const size_t nb_oc = (size_t)w->oc / ocb;
	switch (w->wino_format) {
	case dnnl_wino_wei_aaOio:
		return (((size_t)a * nb_oc + (size_t)ob) * icn + (size_t)ic) * ocb;
	case dnnl_wino_wei_aaOBiOo:
		return (((size_t)a * (nb_oc / oc2) + (size_t)ob / oc2) * icn + (size_t)ic) * oc2 * ocb +
		       (size_t)ob % oc2 * ocb;
	default: { /* OBaaIBOIio */
		size_t occ = (size_t)ob / oc2, obi = (size_t)ob % oc2;
		size_t icc = (size_t)ic / (icb * ic2), ib = (size_t)ic / icb % ic2, ii = (size_t)ic % icb;
		return (((((occ * aa + (size_t)a) * (icn / (icb * ic2)) + icc) * oc2 + obi) * ic2 + ib) * icb + ii) * ocb;
	}
	}
}

void dn_wino_weights(const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, const float *src, float *dst)
{
	const dnnl_wino_desc_t *w = &want->format_desc.wino_desc;
	const int alpha = w->alpha, ocb = w->oc_block;
	const float (*g)[R] = alpha == 6 ? g_4x3 : g_2x3;
	float u[ALPHA_MAX * ALPHA_MAX * VL];
	for (int64_t ob = 0; ob < w->oc / ocb; ob++)
		for (int64_t ic = 0; ic < w->ic; ic++)
			for (int c = 0; c < ocb; c += VL) {
				tile16(src, user->dims[0], user->dims[1], ob * ocb + c, ic, alpha, g, u);
				for (int a = 0; a < alpha * alpha; a++)
					memcpy(dst + row_offset(w, a, ob, ic) + c, u + a * VL, VL * sizeof(float));
			}
}
#endif
