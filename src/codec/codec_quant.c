/*
 * Min-max quantizer, dequantizer, histograms and empirical entropy.
 *
 * Determinism: the SSE2 kernels and the scalar code below perform the same
 * IEEE operations in the same order, so every machine gets the same symbols:
 *
 *     t = x - mn;  t = t * sc;  t = clamp(t, 0, L);  t = (t + M) - M;  q = (int)t
 *
 * with sc = (float)(L / (mx - mn)) and M = 1.5 * 2^23. Adding and removing M
 * rounds t to the nearest integer, ties to even, in the default rounding
 * mode; clamping first keeps t in [0, 65535] where the trick is exact, and
 * maps NaN to 0. No product feeds an addition, so FMA contraction has
 * nothing to fuse. Ranges too wide or too narrow for float (mx - mn above
 * FLT_MAX, or sc above FLT_MAX) take the same steps in double.
 *
 * Dequantization computes mn + q * step in double, where step is
 * (mx - mn) / L rounded to 24 significant bits: q has at most 16 bits, so
 * the product is exact and a fused multiply-add would give the same result.
 * The result is clamped to [mn, mx] and rounded once to float.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define ROUND_MAGIC_D 6755399441055744.0 /* 1.5 * 2^52 */

/* ---- min / max ------------------------------------------------------------ */

int codec_minmax_finite(const float *x, size_t n, float *mn, float *mx)
{
	if (n == 0) {
		*mn = *mx = 0.0f;
		return 0;
	}
	size_t i = 0;
	float lo = x[0], hi = x[0];
	int nan = 0;
#if defined(__SSE2__)
	if (n >= 16) {
		/* Four independent chains hide the latency of minps/maxps. NaN is
		 * tracked apart because minps/maxps do not propagate it reliably. */
		__m128 l0 = _mm_loadu_ps(x), l1 = l0, l2 = l0, l3 = l0;
		__m128 h0 = l0, h1 = l0, h2 = l0, h3 = l0;
		__m128 bad = _mm_setzero_ps();
		for (; i + 16 <= n; i += 16) {
			__m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
			__m128 c = _mm_loadu_ps(x + i + 8), d = _mm_loadu_ps(x + i + 12);
			l0 = _mm_min_ps(l0, a);
			h0 = _mm_max_ps(h0, a);
			l1 = _mm_min_ps(l1, b);
			h1 = _mm_max_ps(h1, b);
			l2 = _mm_min_ps(l2, c);
			h2 = _mm_max_ps(h2, c);
			l3 = _mm_min_ps(l3, d);
			h3 = _mm_max_ps(h3, d);
			bad = _mm_or_ps(bad, _mm_or_ps(_mm_cmpunord_ps(a, b), _mm_cmpunord_ps(c, d)));
		}
		l0 = _mm_min_ps(_mm_min_ps(l0, l1), _mm_min_ps(l2, l3));
		h0 = _mm_max_ps(_mm_max_ps(h0, h1), _mm_max_ps(h2, h3));
		float lv[4], hv[4];
		_mm_storeu_ps(lv, l0);
		_mm_storeu_ps(hv, h0);
		lo = lv[0];
		hi = hv[0];
		for (int k = 1; k < 4; k++) {
			lo = lv[k] < lo ? lv[k] : lo;
			hi = hv[k] > hi ? hv[k] : hi;
		}
		nan = _mm_movemask_ps(bad) != 0;
	}
#endif
	for (; i < n; i++) {
		float v = x[i];
		nan |= v != v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if (nan || lo != lo || hi != hi || isinf(lo) || isinf(hi))
		return -1;
	*mn = lo;
	*mx = hi;
	return 0;
}

/* ---- quantize ------------------------------------------------------------- */

struct qparam {
	float mn, sc, lv;      /* float path */
	double mnd, scd, lvd;  /* double path */
	int use_double;
};

static void qparam_init(struct qparam *p, int bits, float mn, float mx)
{
	double levels = (double)((1u << bits) - 1u);
	double range = (double)mx - (double)mn;
	p->mn = mn;
	p->mnd = mn;
	p->lv = (float)levels;
	p->lvd = levels;
	p->scd = range > 0.0 ? levels / range : 0.0;
	p->use_double = !(range <= FLT_MAX && p->scd <= FLT_MAX);
	p->sc = p->use_double ? 0.0f : (float)p->scd;
}

static inline int quant_one(const struct qparam *p, float x)
{
	if (p->use_double) {
		double t = (double)x - p->mnd;
		t = t * p->scd;
		t = t > 0.0 ? t : 0.0;
		t = t < p->lvd ? t : p->lvd;
		t = t + ROUND_MAGIC_D;
		t = t - ROUND_MAGIC_D;
		return (int)t;
	}
	float t = x - p->mn;
	t = t * p->sc;
	t = t > 0.0f ? t : 0.0f;
	t = t < p->lv ? t : p->lv;
	t = t + ROUND_MAGIC;
	t = t - ROUND_MAGIC;
	return (int)t;
}

#if defined(__SSE2__)
/* The same steps as quant_one's float path, four lanes at a time. Operand
 * order of max/min matters: maxps(t, 0) returns 0 for NaN, as the scalar
 * `t > 0 ? t : 0` does. */
static inline __m128i quant4(__m128 x, __m128 mn, __m128 sc, __m128 lv, __m128 magic)
{
	__m128 t = _mm_sub_ps(x, mn);
	t = _mm_mul_ps(t, sc);
	t = _mm_max_ps(t, _mm_setzero_ps());
	t = _mm_min_ps(t, lv);
	t = _mm_add_ps(t, magic);
	t = _mm_sub_ps(t, magic);
	return _mm_cvttps_epi32(t);
}
#endif

void codec_quantize8(const float *x, size_t n, int bits, float mn, float mx, uint8_t *q)
{
	struct qparam p;
	size_t i = 0;
	qparam_init(&p, bits, mn, mx);
#if defined(__SSE2__)
	if (!p.use_double) {
		const __m128 vmn = _mm_set1_ps(p.mn), vsc = _mm_set1_ps(p.sc);
		const __m128 vlv = _mm_set1_ps(p.lv), vm = _mm_set1_ps(ROUND_MAGIC);
		for (; i + 16 <= n; i += 16) {
			__m128i a = quant4(_mm_loadu_ps(x + i), vmn, vsc, vlv, vm);
			__m128i b = quant4(_mm_loadu_ps(x + i + 4), vmn, vsc, vlv, vm);
			__m128i c = quant4(_mm_loadu_ps(x + i + 8), vmn, vsc, vlv, vm);
			__m128i d = quant4(_mm_loadu_ps(x + i + 12), vmn, vsc, vlv, vm);
			__m128i ab = _mm_packs_epi32(a, b), cd = _mm_packs_epi32(c, d);
			_mm_storeu_si128((__m128i *)(void *)(q + i), _mm_packus_epi16(ab, cd));
		}
	}
#endif
	for (; i < n; i++)
		q[i] = (uint8_t)quant_one(&p, x[i]);
}

void codec_quantize16(const float *x, size_t n, float mn, float mx, uint16_t *q)
{
	struct qparam p;
	size_t i = 0;
	qparam_init(&p, 16, mn, mx);
#if defined(__SSE2__)
	if (!p.use_double) {
		const __m128 vmn = _mm_set1_ps(p.mn), vsc = _mm_set1_ps(p.sc);
		const __m128 vlv = _mm_set1_ps(p.lv), vm = _mm_set1_ps(ROUND_MAGIC);
		/* SSE2 has only a signed 32->16 pack: shift into int16 range and back. */
		const __m128i bias32 = _mm_set1_epi32(32768), bias16 = _mm_set1_epi16(-32768);
		for (; i + 8 <= n; i += 8) {
			__m128i a = quant4(_mm_loadu_ps(x + i), vmn, vsc, vlv, vm);
			__m128i b = quant4(_mm_loadu_ps(x + i + 4), vmn, vsc, vlv, vm);
			a = _mm_sub_epi32(a, bias32);
			b = _mm_sub_epi32(b, bias32);
			__m128i ab = _mm_xor_si128(_mm_packs_epi32(a, b), bias16);
			_mm_storeu_si128((__m128i *)(void *)(q + i), ab);
		}
	}
#endif
	for (; i < n; i++)
		q[i] = (uint16_t)quant_one(&p, x[i]);
}

/* ---- dequantize ----------------------------------------------------------- */

struct dqparam {
	double mn, mx, step;
};

static void dqparam_init(struct dqparam *p, int bits, float mn, float mx)
{
	double levels = (double)((1u << bits) - 1u);
	double step = ((double)mx - (double)mn) / levels;
	/* Keep 24 significant bits so that q * step is exact in double. */
	if (step > 0.0) {
		int e;
		double m = frexp(step, &e);
		m = nearbyint(m * 16777216.0) / 16777216.0;
		step = ldexp(m, e);
	} else {
		step = 0.0;
	}
	p->mn = mn;
	p->mx = mx;
	p->step = step;
}

static inline float dequant_one(const struct dqparam *p, unsigned q)
{
	double v = (double)q * p->step;
	v = p->mn + v;
	v = v < p->mx ? v : p->mx;
	v = v > p->mn ? v : p->mn;
	return (float)v;
}

void codec_dequantize8(const uint8_t *q, size_t n, int bits, float mn, float mx, float *x)
{
	struct dqparam p;
	dqparam_init(&p, bits, mn, mx);
	if (n < 256) {
		for (size_t i = 0; i < n; i++)
			x[i] = dequant_one(&p, q[i]);
		return;
	}
	/* A table turns the per-value double arithmetic into one load. All 256
	 * entries are filled so a stray symbol cannot index past the end. */
	float lut[256];
	for (unsigned s = 0; s < 256; s++)
		lut[s] = dequant_one(&p, s);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		x[i] = lut[q[i]];
		x[i + 1] = lut[q[i + 1]];
		x[i + 2] = lut[q[i + 2]];
		x[i + 3] = lut[q[i + 3]];
	}
	for (; i < n; i++)
		x[i] = lut[q[i]];
}

void codec_dequantize16(const uint16_t *q, size_t n, float mn, float mx, float *x)
{
	struct dqparam p;
	dqparam_init(&p, 16, mn, mx);
	for (size_t i = 0; i < n; i++)
		x[i] = dequant_one(&p, q[i]);
}

/* ---- histograms and entropy ----------------------------------------------- */

void codec_hist8(const uint8_t *s, size_t n, uint32_t hist[256])
{
	/* Four sub-histograms: runs of one symbol (zeros after ReLU) would
	 * otherwise stall on the same counter. */
	uint32_t h[4][256];
	memset(h, 0, sizeof h);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		h[0][s[i]]++;
		h[1][s[i + 1]]++;
		h[2][s[i + 2]]++;
		h[3][s[i + 3]]++;
	}
	for (; i < n; i++)
		h[0][s[i]]++;
	for (int k = 0; k < 256; k++)
		hist[k] = h[0][k] + h[1][k] + h[2][k] + h[3][k];
}

static int bits_ok(int bits)
{
	return (bits >= 1 && bits <= 8) || bits == 16;
}

enum jalad_status jalad_codec_minmax(const float *x, size_t n, float *mn, float *mx)
{
	JALAD_RETURN_IF((!x && n) || !mn || !mx, JALAD_ERR_INVALID_ARG, "codec: minmax: NULL argument");
	JALAD_RETURN_IF(codec_minmax_finite(x, n, mn, mx) != 0, JALAD_ERR_INVALID_ARG,
			"codec: input contains NaN or Inf");
	return JALAD_OK;
}

void jalad_codec_relu_range(float *mn, float *mx)
{
	/* Values below the low end are sent as level 0, which then decodes
	 * to 0 or above. */
	*mn = *mn > 0.0f ? *mn : 0.0f;
	*mx = *mx > 0.0f ? *mx : 0.0f;
}

enum jalad_status jalad_codec_quantize(const float *x, size_t n, int bits, float mn, float mx,
				       void *sym)
{
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 1..8 or 16", bits);
	JALAD_RETURN_IF(n && (!x || !sym), JALAD_ERR_INVALID_ARG, "codec: quantize: NULL buffer");
	JALAD_RETURN_IF(!isfinite(mn) || !isfinite(mx) || mn > mx, JALAD_ERR_INVALID_ARG,
			"codec: bad range [%g, %g]", (double)mn, (double)mx);
	if (bits == 16)
		codec_quantize16(x, n, mn, mx, sym);
	else
		codec_quantize8(x, n, bits, mn, mx, sym);
	return JALAD_OK;
}

enum jalad_status jalad_codec_dequantize(const void *sym, size_t n, int bits, float mn, float mx,
					 float *x)
{
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 1..8 or 16", bits);
	JALAD_RETURN_IF(n && (!x || !sym), JALAD_ERR_INVALID_ARG, "codec: dequantize: NULL buffer");
	JALAD_RETURN_IF(!isfinite(mn) || !isfinite(mx) || mn > mx, JALAD_ERR_INVALID_ARG,
			"codec: bad range [%g, %g]", (double)mn, (double)mx);
	if (bits == 16)
		codec_dequantize16(sym, n, mn, mx, x);
	else
		codec_dequantize8(sym, n, bits, mn, mx, x);
	return JALAD_OK;
}

enum jalad_status jalad_codec_hist_add(const void *sym, size_t n, int bits, uint64_t *hist)
{
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 1..8 or 16", bits);
	JALAD_RETURN_IF((n && !sym) || !hist, JALAD_ERR_INVALID_ARG, "codec: hist_add: NULL argument");
	uint32_t mask = (1u << bits) - 1u;
	if (bits == 16) {
		const uint16_t *s = sym;
		for (size_t i = 0; i < n; i++)
			hist[s[i]]++;
		return JALAD_OK;
	}
	uint32_t h[256];
	const uint8_t *s = sym;
	/* Chunks keep the 32-bit counters from overflowing. */
	for (size_t off = 0; off < n; off += (size_t)1 << 30) {
		size_t m = n - off < ((size_t)1 << 30) ? n - off : (size_t)1 << 30;
		codec_hist8(s + off, m, h);
		for (uint32_t k = mask + 1; k < 256; k++)
			JALAD_RETURN_IF(h[k], JALAD_ERR_INVALID_ARG,
					"codec: hist_add: symbol %u does not fit %d bits", (unsigned)k, bits);
		for (uint32_t k = 0; k <= mask; k++)
			hist[k] += h[k];
	}
	return JALAD_OK;
}

static double entropy_of(const uint64_t *c, size_t k, uint64_t total)
{
	/* sum c log2(total / c), in bits */
	double h = 0.0, lt = log2((double)total);
	for (size_t i = 0; i < k; i++)
		if (c[i])
			h += (double)c[i] * (lt - log2((double)c[i]));
	return h;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

enum jalad_status jalad_codec_entropy(const void *sym, size_t n, int bits, double *h0, double *h1)
{
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 1..8 or 16", bits);
	JALAD_RETURN_IF(n && !sym, JALAD_ERR_INVALID_ARG, "codec: entropy: NULL symbols");
	if (h0)
		*h0 = 0.0;
	if (h1)
		*h1 = 0.0;
	if (n == 0)
		return JALAD_OK;
	size_t alpha = (size_t)1 << bits;
	const uint8_t *s8 = sym;
	const uint16_t *s16 = sym;
#define SYM(i) (bits == 16 ? (uint32_t)s16[i] : (uint32_t)(s8[i] & (alpha - 1)))
	if (h0) {
		uint64_t *c = calloc(alpha, sizeof *c);
		JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "codec: entropy: out of memory");
		for (size_t i = 0; i < n; i++)
			c[SYM(i)]++;
		*h0 = entropy_of(c, alpha, n) / (double)n;
		free(c);
	}
	if (!h1)
		return JALAD_OK;
	double h = 0.0;
	if (bits <= 8) {
		/* Dense (context, symbol) counts: at most 256 x 256. */
		uint64_t *c = calloc(alpha * alpha, sizeof *c);
		JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "codec: entropy: out of memory");
		uint32_t prev = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t cur = SYM(i);
			c[prev * alpha + cur]++;
			prev = cur;
		}
		for (size_t ctx = 0; ctx < alpha; ctx++) {
			uint64_t tot = 0;
			for (size_t k = 0; k < alpha; k++)
				tot += c[ctx * alpha + k];
			if (tot)
				h += entropy_of(c + ctx * alpha, alpha, tot);
		}
		free(c);
	} else {
		/* 2^32 contexts x symbols do not fit a table: sort the pairs and
		 * count runs instead. */
		uint32_t *pairs = malloc(n * sizeof *pairs);
		JALAD_RETURN_IF(!pairs, JALAD_ERR_NOMEM, "codec: entropy: out of memory");
		uint32_t prev = 0;
		for (size_t i = 0; i < n; i++) {
			pairs[i] = prev << 16 | s16[i];
			prev = s16[i];
		}
		qsort(pairs, n, sizeof *pairs, cmp_u32);
		size_t i = 0;
		while (i < n) {
			/* one context: pairs[i..j) share the high half */
			size_t j = i;
			uint64_t tot = 0;
			while (j < n && pairs[j] >> 16 == pairs[i] >> 16)
				j++;
			tot = j - i;
			double lt = log2((double)tot);
			for (size_t a = i; a < j;) {
				size_t b = a;
				while (b < j && pairs[b] == pairs[a])
					b++;
				h += (double)(b - a) * (lt - log2((double)(b - a)));
				a = b;
			}
			i = j;
		}
		free(pairs);
	}
#undef SYM
	*h1 = h / (double)n;
	return JALAD_OK;
}
