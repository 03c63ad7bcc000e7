// libFuzzer target for the codec's decoders (containers, single coders,
// dictionaries). Build and run from the repository root:
//
//   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Iinclude -Isrc -Itests tests/fuzz/fuzz_codec.c src/codec/*.c src/common/*.c -lhtscodecs -lzstd -lz -lm -lpthread -o fuzz_codec
//   mkdir -p /tmp/codec-corpus
//   ./fuzz_codec -max_total_time=300 /tmp/codec-corpus tests/fuzz/corpus/codec
//
// New finds go to the first directory; copy interesting small ones into
// tests/fuzz/corpus/codec, which tests/unit/test_fuzz_replay.c replays on
// every `make test`. Files named ok-* must decode successfully.
//
// The saved corpus is made by this same file built as a program:
//
//   cc -std=c11 -O1 -DFUZZ_CODEC_MAKE_CORPUS -D_GNU_SOURCE -Iinclude -Isrc -Itests tests/fuzz/fuzz_codec.c src/codec/*.c src/common/*.c -lhtscodecs -lzstd -lz -lm -lpthread -o make_corpus
//   ./make_corpus tests/fuzz/corpus/codec
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_codec_body.h"

#ifndef FUZZ_CODEC_MAKE_CORPUS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_codec_one(data, size);
	return 0;
}

#else /* corpus generator */

static uint64_t seed = 42;

static uint32_t next(void)
{
	seed = seed * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(seed >> 33);
}

/* Small ReLU-like data: ~half zeros, smooth along the last axis. */
static void fill(float *x, size_t n)
{
	float v = 0;
	for (size_t i = 0; i < n; i++) {
		v = 0.7f * v + (float)((int)(next() % 2001) - 1000) * 0.002f;
		x[i] = v > 0 ? v : 0.0f;
	}
}

static int save(const char *dir, const char *name, const uint8_t *b, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len, f) != len) {
		fprintf(stderr, "cannot write %s\n", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	return fuzz_codec_one(b, len) == JALAD_OK || strncmp(name, "ok-", 3) != 0 ? 0 : -1;
}

static int container(const char *dir, const char *name, int bits, enum jalad_coder coder, int pc, int crc,
		     int ntensors)
{
	static float x[3][2 * 5 * 7 * 6];
	struct jalad_codec_tensor t[3] = {
		{ x[0], 4, { 1, 5, 7, 6 }, 0 },
		{ x[1], 2, { 12, 9 }, 0 },
		{ x[2], 3, { 2, 3, 4 }, 0 },
	};
	for (int i = 0; i < 3; i++)
		fill(x[i], sizeof x[i] / sizeof x[i][0]);
	struct jalad_codec_params p = { bits, coder, pc, crc, fuzz_codec_dict(bits), 0 };
	size_t cap = jalad_codec_bound(&p, t, ntensors), len;
	uint8_t *b = malloc(cap);
	int rc = -1;
	if (b && jalad_codec_encode(NULL, &p, t, ntensors, b, cap, &len, NULL) == JALAD_OK)
		rc = save(dir, name, b, len);
	if (rc == 0 && strstr(name, "-b4-crc") && len > 24) {
		/* damaged twins: truncated and a flipped bit */
		char bad[300];
		snprintf(bad, sizeof bad, "bad-trunc-%s", name + 3);
		rc |= save(dir, bad, b, len - 1 - len / 3);
		b[len / 2] ^= 0x10;
		snprintf(bad, sizeof bad, "bad-flip-%s", name + 3);
		rc |= save(dir, bad, b, len);
		if (coder == JALAD_CODER_HUFFMAN_2D) {
			/* a flip in the last payload's codes behind a valid CRC,
			 * and one in its padding bits */
			b[len / 2] ^= 0x10;
			b[len - 7] ^= 0x04;
			jalad_put_u32(b + len - 4, jalad_crc32c(0, b, len - 4));
			snprintf(bad, sizeof bad, "bad-flipcrc-%s", name + 3);
			rc |= save(dir, bad, b, len);
			b[len - 7] ^= 0x04;
			b[len - 5] ^= 0x80;
			jalad_put_u32(b + len - 4, jalad_crc32c(0, b, len - 4));
			snprintf(bad, sizeof bad, "bad-pad-%s", name + 3);
			rc |= save(dir, bad, b, len);
		}
	}
	free(b);
	return rc;
}

/* 10,000 values: large enough for the 4-stream Huffman layout. */
static int big_container(const char *dir, const char *name, enum jalad_coder coder, int bits)
{
	static float x[4 * 50 * 50];
	struct jalad_codec_tensor t = { x, 4, { 1, 4, 50, 50 }, 0 };
	fill(x, sizeof x / sizeof x[0]);
	struct jalad_codec_params p = { bits, coder, 1, 0, fuzz_codec_dict(bits), 0 };
	size_t cap = jalad_codec_bound(&p, &t, 1), len;
	uint8_t *b = malloc(cap);
	int rc = -1;
	if (b && jalad_codec_encode(NULL, &p, &t, 1, b, cap, &len, NULL) == JALAD_OK)
		rc = save(dir, name, b, len);
	free(b);
	return rc;
}

static int symbols(const char *dir, enum jalad_coder coder, int bits_index)
{
	int bits = fuzz_codec_bits[bits_index];
	enum { N = 300 };
	float xf[N];
	uint8_t s8[N];
	uint16_t s16[N];
	fill(xf, N);
	for (int i = 0; i < N; i++) {
		s16[i] = (uint16_t)(xf[i] * 300.0f);
		s8[i] = (uint8_t)(bits && bits < 16 ? (int)(xf[i] * 4.0f) & ((1 << bits) - 1) : (int)(xf[i] * 4.0f));
	}
	const void *src = bits == 0 ? (const void *)xf : bits == 16 ? (const void *)s16 : (const void *)s8;
	size_t cap = jalad_codec_symbols_bound(coder, bits, N), len;
	uint8_t *b = malloc(cap + 4);
	struct jalad_codec_ctx *ctx = NULL;
	int rc = -1;
	jalad_codec_ctx_create(&ctx);
	if (b && jalad_codec_symbols_encode(ctx, coder, bits, fuzz_codec_dict(bits), src, N, b + 4, cap, &len) ==
			 JALAD_OK) {
		char name[64];
		b[0] = (uint8_t)coder;
		b[1] = (uint8_t)bits_index;
		b[2] = N & 255;
		b[3] = N >> 8;
		snprintf(name, sizeof name, "ok-sym-%s-b%d", jalad_coder_name(coder), bits);
		rc = save(dir, name, b, len + 4);
	}
	jalad_codec_ctx_free(ctx);
	free(b);
	return rc;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/codec";
	int rc = 0;
	char name[64];
	/* huffman-2d (1..4 bits only) comes last, after the seeds that existed
	 * before it, so that those keep their data */
	for (int c = 0; c < JALAD_CODER_HUFFMAN_2D; c++) {
		snprintf(name, sizeof name, "ok-%s-b4-crc", jalad_coder_name((enum jalad_coder)c));
		rc |= container(dir, name, 4, (enum jalad_coder)c, 0, 1, 1);
		snprintf(name, sizeof name, "ok-%s-b16-pc", jalad_coder_name((enum jalad_coder)c));
		rc |= container(dir, name, 16, (enum jalad_coder)c, 1, 0, 1);
	}
	rc |= container(dir, "ok-huffman-b1-pc-crc", 1, JALAD_CODER_HUFFMAN, 1, 1, 1);
	rc |= container(dir, "ok-rans1-b8", 8, JALAD_CODER_RANS1, 0, 0, 1);
	rc |= container(dir, "ok-raw-b3-pc", 3, JALAD_CODER_RAW, 1, 0, 1);
	rc |= container(dir, "ok-auto-b6-multi-crc", 6, JALAD_CODER_AUTO, 1, 1, 3);
	rc |= container(dir, "ok-auto-b4-multi-dict", 4, JALAD_CODER_AUTO, 0, 0, 3);
	rc |= container(dir, "ok-f32-raw-crc", 0, JALAD_CODER_RAW, 0, 1, 2);
	rc |= container(dir, "ok-f32-zstd", 0, JALAD_CODER_ZSTD, 0, 0, 1);
	rc |= big_container(dir, "ok-huffman-b4-split", JALAD_CODER_HUFFMAN, 4);
	rc |= big_container(dir, "ok-huffman-shared-b16-split", JALAD_CODER_HUFFMAN_SHARED, 16);
	static const int bi[] = { 0, 4, 9 }; /* bits 0, 4, 16 */
	for (int c = 0; c < JALAD_CODER_COUNT; c++)
		for (size_t k = 0; k < sizeof bi / sizeof bi[0]; k++) {
			int bits = fuzz_codec_bits[bi[k]];
			if (bits == 0 && c != JALAD_CODER_RAW && c != JALAD_CODER_ZSTD)
				continue;
			if (c == JALAD_CODER_HUFFMAN_SHARED && bits != 4 && bits != 16)
				continue;
			if (c == JALAD_CODER_HUFFMAN_2D && bits != 4)
				continue;
			rc |= symbols(dir, (enum jalad_coder)c, bi[k]);
		}
	uint8_t ser[JALAD_CODEC_DICT_MAX_BYTES];
	size_t slen;
	if (jalad_codec_dict_save(fuzz_codec_dict(4), ser, sizeof ser, &slen) == JALAD_OK)
		rc |= save(dir, "ok-dict-b4", ser, slen);
	if (jalad_codec_dict_save(fuzz_codec_dict(16), ser, sizeof ser, &slen) == JALAD_OK)
		rc |= save(dir, "ok-dict-b16", ser, slen);
	if (jalad_codec_dict_save(fuzz_codec_dict(2), ser, sizeof ser, &slen) == JALAD_OK) {
		rc |= save(dir, "ok-dict-b2-2d", ser, slen);
		/* context 5's first code length one longer: an incomplete code */
		size_t at = 8 + 2 + 1 + 5 * 8;
		ser[at] = (uint8_t)((ser[at] & 0xF0) | (((ser[at] & 15) % 12) + 1));
		jalad_put_u32(ser + slen - 4, jalad_crc32c(0, ser, slen - 4));
		rc |= save(dir, "bad-dict-b2-2d-kraft", ser, slen);
		ser[8 + 2] = 63; /* context count */
		jalad_put_u32(ser + slen - 4, jalad_crc32c(0, ser, slen - 4));
		rc |= save(dir, "bad-dict-b2-2d-nctx", ser, slen);
	}
	/* the 2-d tables of the 4-bit dictionary cut short */
	if (jalad_codec_dict_save(fuzz_codec_dict(4), ser, sizeof ser, &slen) == JALAD_OK)
		rc |= save(dir, "bad-dict-b4-2d-trunc", ser, slen - 100);
	/* huffman-2d containers (and their damaged twins at 4 bits): other
	 * bits, three tensors (odd heights, 3-d planes of 3 rows), per
	 * channel; AUTO at 2 bits with the 2-d dictionary */
	rc |= container(dir, "ok-huffman-2d-b4-crc", 4, JALAD_CODER_HUFFMAN_2D, 0, 1, 1);
	rc |= container(dir, "ok-huffman-2d-b1-multi-crc", 1, JALAD_CODER_HUFFMAN_2D, 0, 1, 3);
	rc |= container(dir, "ok-huffman-2d-b2-pc-multi", 2, JALAD_CODER_HUFFMAN_2D, 1, 0, 3);
	rc |= container(dir, "ok-huffman-2d-b3-pc-crc", 3, JALAD_CODER_HUFFMAN_2D, 1, 1, 1);
	rc |= container(dir, "ok-auto-b2-multi-dict", 2, JALAD_CODER_AUTO, 0, 0, 3);
	rc |= big_container(dir, "ok-huffman-2d-b4-big", JALAD_CODER_HUFFMAN_2D, 4);
	if (rc)
		fprintf(stderr, "make_corpus: some files failed\n");
	return rc ? 1 : 0;
}

#endif
