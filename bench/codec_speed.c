// Codec throughput and size on a realistic ReLU feature map (1 x 64 x 56 x 56
// = 200,704 floats, about half zeros, the rest exponential, spatially
// smooth), one thread. Not part of `make test`. From the repository root:
//
//   cc -std=c11 -O2 -D_GNU_SOURCE -Iinclude -Isrc bench/codec_speed.c src/codec/*.c src/common/*.c -lhtscodecs -lzstd -lz -lm -lpthread -o codec_speed
//   ./codec_speed [bits=4] [runs=51]
//
// For every coder it prints the median time of quantize+encode and of
// decode+dequantize, as GB/s of float32 input (802,816 bytes), the size in
// bits per value, and the same throughput as a ratio to memcpy of the
// float32 map measured in the same run.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jalad/codec.h"

#define C 64
#define H 56
#define W 56
#define N ((size_t)C * H * W)

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static double rng_unit(void)
{
	return (double)(rng() >> 11) * (1.0 / 9007199254740992.0);
}

static double rng_gauss(void)
{
	double u = rng_unit(), v = rng_unit();
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Smooth noise (two separable 5-tap box blurs), normalized; the positive
 * half becomes Exp(1) (erf(v / sqrt 2) is uniform there), the negative half
 * ReLU zeros; channel scales vary by 2x. */
static void gen_relu_map(float *x)
{
	double *g = malloc(H * W * sizeof *g), *t = malloc(H * W * sizeof *t);
	for (int c = 0; c < C; c++) {
		for (int i = 0; i < H * W; i++)
			g[i] = rng_gauss();
		for (int pass = 0; pass < 2; pass++) {
			for (int y = 0; y < H; y++)
				for (int xx = 0; xx < W; xx++) {
					double s = 0;
					int k = 0;
					for (int d = -2; d <= 2; d++)
						if (xx + d >= 0 && xx + d < W)
							s += g[y * W + xx + d], k++;
					t[y * W + xx] = s / k;
				}
			for (int y = 0; y < H; y++)
				for (int xx = 0; xx < W; xx++) {
					double s = 0;
					int k = 0;
					for (int d = -2; d <= 2; d++)
						if (y + d >= 0 && y + d < H)
							s += t[(y + d) * W + xx], k++;
					g[y * W + xx] = s / k;
				}
		}
		double m2 = 0;
		for (int i = 0; i < H * W; i++)
			m2 += g[i] * g[i];
		double sd = sqrt(m2 / (H * W)) + 1e-12, scale = 1.0 + rng_unit();
		for (int i = 0; i < H * W; i++) {
			double v = g[i] / sd;
			double e = v > 0 ? -log(1.0 - erf(v / 1.4142135623730951) + 1e-12) : 0.0;
			x[(size_t)c * H * W + i] = (float)(e * scale);
		}
	}
	free(g);
	free(t);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static double median(uint64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	return (double)v[n / 2];
}

int main(int argc, char **argv)
{
	int bits = argc > 1 ? atoi(argv[1]) : 4, runs = argc > 2 ? atoi(argv[2]) : 51;
	if (!((bits >= 1 && bits <= 8) || bits == 16) || runs < 1 || runs > 10000) {
		fprintf(stderr, "usage: codec_speed [bits 1..8|16] [runs]\n");
		return 2;
	}
	float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *cal = malloc(N * sizeof *cal);
	uint8_t *sym = malloc(N * 2);
	uint64_t *times = malloc((size_t)runs * sizeof *times);
	struct jalad_codec_ctx *ctx = NULL;
	struct jalad_codec_dict *dict = NULL;
	gen_relu_map(x);
	gen_relu_map(cal); /* a second map: calibration for the shared table */
	if (jalad_codec_ctx_create(&ctx) != JALAD_OK)
		return 1;

	/* entropy of the quantized map, and a dictionary learned from the other */
	float mn, mx;
	double h0, h1;
	uint64_t *hist = calloc((size_t)1 << bits, sizeof *hist);
	jalad_codec_minmax(x, N, &mn, &mx);
	jalad_codec_quantize(x, N, bits, mn, mx, sym);
	jalad_codec_entropy(sym, N, bits, &h0, &h1);
	size_t zeros = 0;
	for (size_t i = 0; i < N; i++)
		zeros += bits == 16 ? ((uint16_t *)(void *)sym)[i] == 0 : sym[i] == 0;
	jalad_codec_minmax(cal, N, &mn, &mx);
	jalad_codec_quantize(cal, N, bits, mn, mx, sym);
	jalad_codec_hist_add(sym, N, bits, hist);
	/* c <= 4: also the huffman-2d tables, from the same calibration map */
	uint64_t *hist2d = NULL;
	const int64_t dims[4] = { 1, C, H, W };
	if (bits <= JALAD_CODEC_2D_MAX_BITS) {
		hist2d = calloc((size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bits), sizeof *hist2d);
		jalad_codec_hist2d_add(sym, 4, dims, bits, hist2d);
	}
	jalad_codec_dict_learn2d(bits, hist, hist2d, &dict);
	free(hist);
	free(hist2d);

	/* the peer: memcpy of the float32 map */
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = now_ns();
		memcpy(y, x, N * sizeof *x);
		__asm__ __volatile__("" : : "r"(y) : "memory");
		times[r] = now_ns() - t0;
	}
	double memcpy_gbs = (double)(N * 4) / median(times, runs);

	printf("map 1x%dx%dx%d = %zu floats (%.1f%% zero symbols), c = %d: H0 %.3f, H1 %.3f bits/value\n",
	       C, H, W, N, 100.0 * (double)zeros / N, bits, h0, h1);
	printf("memcpy of the float32 map: %.2f GB/s (peer for the ratios below)\n\n", memcpy_gbs);
	printf("%-15s %8s %9s %9s %8s %8s   %s\n", "coder", "bytes", "bits/val", "enc GB/s", "dec GB/s",
	       "x memcpy", "encode split quant/entropy (us)");

	struct jalad_codec_tensor t = { x, 4, { 1, C, H, W }, 0 };
	static const struct {
		int bits; /* -1: the bits argument */
		enum jalad_coder coder;
	} rows[] = {
		{ -1, JALAD_CODER_RAW }, { -1, JALAD_CODER_HUFFMAN }, { -1, JALAD_CODER_HUFFMAN_SHARED },
		{ -1, JALAD_CODER_RANS0 }, { -1, JALAD_CODER_RANS1 }, { -1, JALAD_CODER_ZSTD },
		{ -1, JALAD_CODER_HUFFMAN_2D }, { -1, JALAD_CODER_AUTO }, { 0, JALAD_CODER_RAW },
		{ 0, JALAD_CODER_ZSTD },
	};
	for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
		if (rows[k].coder == JALAD_CODER_HUFFMAN_2D && !jalad_codec_dict_has_2d(dict))
			continue; /* c > 4 */
		struct jalad_codec_params p = { rows[k].bits < 0 ? bits : 0, rows[k].coder, 0, 1, dict, 1 };
		size_t cap = jalad_codec_bound(&p, &t, 1), len = 0;
		uint8_t *buf = malloc(cap);
		struct jalad_codec_stats st;
		uint64_t qns = 0, ens = 0;
		float *outs[1] = { y };
		size_t caps[1] = { N };
		enum jalad_status s = JALAD_OK;

		for (int r = 0; r < runs && s == JALAD_OK; r++) {
			uint64_t t0 = now_ns();
			s = jalad_codec_encode(ctx, &p, &t, 1, buf, cap, &len, &st);
			times[r] = now_ns() - t0;
			qns += st.quant_ns;
			ens += st.entropy_ns;
		}
		double enc = (double)(N * 4) / median(times, runs);
		for (int r = 0; r < runs && s == JALAD_OK; r++) {
			uint64_t t0 = now_ns();
			s = jalad_codec_decode(ctx, buf, len, NULL, dict, outs, caps, 1, NULL);
			times[r] = now_ns() - t0;
		}
		double dec = (double)(N * 4) / median(times, runs);
		if (s != JALAD_OK) {
			fprintf(stderr, "%s: %s: %s\n", jalad_coder_name(p.coder), jalad_status_str(s),
				jalad_last_error());
			return 1;
		}
		char name[40];
		snprintf(name, sizeof name, "%s%s", jalad_coder_name(p.coder), p.bits ? "" : " f32");
		if (p.coder == JALAD_CODER_AUTO)
			snprintf(name, sizeof name, "auto->%s", jalad_coder_name(st.tensor[0].coder));
		printf("%-15s %8zu %9.3f %9.2f %8.2f %4.2f/%4.2f   %.0f / %.0f\n", name, len,
		       (double)len * 8 / N, enc, dec, enc / memcpy_gbs, dec / memcpy_gbs,
		       (double)qns / runs / 1e3, (double)ens / runs / 1e3);
		free(buf);
	}
	jalad_codec_dict_free(dict);
	jalad_codec_ctx_free(ctx);
	free(x);
	free(y);
	free(cal);
	free(sym);
	free(times);
	return 0;
}
