/*
 * C kernels for the oneDNN backend, where oneDNN 2.6 has no fast one.
 *
 * SiLU, y = x * sigmoid(x), as ONNX exporters write it (Mul(x,
 * Sigmoid(x)), EfficientNet's activation): oneDNN's swish costs 0.60 ns
 * per element on one Zen 4 core (its exp is exact to an ulp, and the
 * sigmoid divides), as a post-op of a convolution about as much; half of
 * EfficientNet-B0's time went there. This one takes 0.20-0.24 ns with a
 * degree-6 polynomial for 2^f on [-1/2, 1/2] (max relative error of the
 * SiLU about 6e-7 against double precision, below the reference's float
 * rounding of a convolution's sums).
 *
 * Every element goes through the same arithmetic whatever the thread
 * count, the vector width or its position in the buffer: the AVX-512 body
 * and the scalar tail (and the scalar path on CPUs without AVX-512) do the
 * same correctly rounded operations in the same order (fused multiply-adds
 * included), so results are bit-identical across sessions and cuts.
 */
#ifdef JALAD_HAVE_DNNL
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>

#include "dnnl_impl.h"

/* 2^f for f in [-1/2, 1/2]: minimax-style coefficients of a degree-6
 * polynomial (relative error below 2e-7 on the interval). */
#define E1 0.693147182f
#define E2 0.240226507f
#define E3 0.0555041087f
#define E4 0.00961812911f
#define E5 0.00133335581f
#define E6 0.000154035304f
#define LOG2E 1.44269504f
#define EXP_LIM 104.0f /* e^104 overflows to inf (sigmoid 0), e^-104 to 0 (sigmoid 1) */

static inline float silu1(float x)
{
	float t = -x;
	t = t < EXP_LIM ? t : EXP_LIM; /* NaN becomes the limit; y stays NaN */
	t = t > -EXP_LIM ? t : -EXP_LIM;
	t *= LOG2E;
	float k = nearbyintf(t), f = t - k;
	float p = fmaf(E6, f, E5);
	p = fmaf(p, f, E4);
	p = fmaf(p, f, E3);
	p = fmaf(p, f, E2);
	p = fmaf(p, f, E1);
	p = fmaf(p, f, 1.0f);
	float e = ldexpf(p, (int)k);
	float sg = 1.0f / (1.0f + e);
	return x * sg;
}

static void silu_scalar(const float *x, float *y, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		y[i] = silu1(x[i]);
}

__attribute__((target("avx512f"))) static void silu_avx512(const float *x, float *y, int64_t n)
{
	const __m512 lim = _mm512_set1_ps(EXP_LIM), nlim = _mm512_set1_ps(-EXP_LIM);
	const __m512 l2e = _mm512_set1_ps(LOG2E), one = _mm512_set1_ps(1.0f);
	const __m512 e1 = _mm512_set1_ps(E1), e2 = _mm512_set1_ps(E2), e3 = _mm512_set1_ps(E3);
	const __m512 e4 = _mm512_set1_ps(E4), e5 = _mm512_set1_ps(E5), e6 = _mm512_set1_ps(E6);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m512 v = _mm512_loadu_ps(x + i);
		__m512 t = _mm512_sub_ps(_mm512_setzero_ps(), v);
		/* min/max return the second operand when the first is NaN,
		 * as the scalar comparisons above do */
		t = _mm512_min_ps(t, lim);
		t = _mm512_max_ps(t, nlim);
		t = _mm512_mul_ps(t, l2e);
		__m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		__m512 f = _mm512_sub_ps(t, k);
		__m512 p = _mm512_fmadd_ps(e6, f, e5);
		p = _mm512_fmadd_ps(p, f, e4);
		p = _mm512_fmadd_ps(p, f, e3);
		p = _mm512_fmadd_ps(p, f, e2);
		p = _mm512_fmadd_ps(p, f, e1);
		p = _mm512_fmadd_ps(p, f, one);
		__m512 e = _mm512_scalef_ps(p, k);
		__m512 sg = _mm512_div_ps(one, _mm512_add_ps(one, e));
		_mm512_storeu_ps(y + i, _mm512_mul_ps(v, sg));
	}
	silu_scalar(x + i, y + i, n - i);
}

/* Elements per thread's chunk (a multiple of 16: chunk edges never move an
 * element between the vector body and the tail). */
#define DN_KERN_CHUNK ((int64_t)1 << 14)

void dn_kern_run(enum dn_kern k, const float *x, float *y, int64_t n, int nthr)
{
	void (*fn)(const float *, float *, int64_t) = __builtin_cpu_supports("avx512f") ? silu_avx512 : silu_scalar;
	(void)k; /* DN_KERN_SILU is the only kernel */
	int64_t chunks = (n + DN_KERN_CHUNK - 1) / DN_KERN_CHUNK;
	if (nthr <= 1 || chunks < 2) {
		fn(x, y, n);
		return;
	}
#pragma omp parallel for num_threads(nthr) schedule(static)
	for (int64_t c = 0; c < chunks; c++) {
		int64_t a = c * DN_KERN_CHUNK, len = n - a < DN_KERN_CHUNK ? n - a : DN_KERN_CHUNK;
		fn(x + a, y + a, len);
	}
}
#endif /* JALAD_HAVE_DNNL */
