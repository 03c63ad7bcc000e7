/*
 * FP32 FMA peak of one core: 12 independent chains of 16-wide FMAs (enough
 * to cover the FMA latency times the number of FMA pipes), timed over a
 * fixed count. Prints {"gflops_per_core": X, "isa": "..."} for run.sh,
 * which uses it as the "% of peak" reference.
 *
 *     cc -O2 -mavx512f -mfma bench/engine/fma_peak.c -o fma_peak   (or -mavx2)
 */
#define _POSIX_C_SOURCE 200809L
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#ifdef __AVX512F__
#define VEC __m512
#define FMA _mm512_fmadd_ps
#define SET1 _mm512_set1_ps
#define ADD _mm512_add_ps
#define WIDTH 16
#define ISA "avx512"
static float hsum(VEC v) { return _mm512_reduce_add_ps(v); }
#else
#define VEC __m256
#define FMA _mm256_fmadd_ps
#define SET1 _mm256_set1_ps
#define ADD _mm256_add_ps
#define WIDTH 8
#define ISA "avx2"
static float hsum(VEC v)
{
	float f[8];
	_mm256_storeu_ps(f, v);
	return f[0] + f[1] + f[2] + f[3] + f[4] + f[5] + f[6] + f[7];
}
#endif

#define CHAINS 12

static double run(long iters, float *sink)
{
	VEC acc[CHAINS];
	VEC a = SET1(0.999999f), b = SET1(1e-7f);
	for (int c = 0; c < CHAINS; c++)
		acc[c] = SET1((float)c);
	double t0 = now();
	for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
		for (int c = 0; c < CHAINS; c++)
			acc[c] = FMA(acc[c], a, b);
	}
	double t = now() - t0;
	VEC s = acc[0];
	for (int c = 1; c < CHAINS; c++)
		s = ADD(s, acc[c]);
	*sink += hsum(s);
	return t;
}

int main(void)
{
	float sink = 0.0f;
	long iters = 2000000;
	double best = 1e30;
	run(iters / 10, &sink); /* warm-up: clocks up */
	for (int r = 0; r < 30; r++) {
		double t = run(iters, &sink);
		if (t < best)
			best = t;
	}
	double flops = 2.0 * WIDTH * CHAINS * (double)iters;
	printf("{\"gflops_per_core\": %.1f, \"isa\": \"%s\", \"sink\": %g}\n", flops / best / 1e9, ISA,
	       (double)sink);
	return 0;
}
