/*
 * The decode exercise shared by the libFuzzer target (fuzz_codec.c) and the
 * corpus replay test (tests/unit/test_fuzz_replay.c), so both run the same
 * code on the same bytes.
 *
 * Input routing:
 *   "J..."     a container ('J', version; older 'JLDC' ones are refused):
 *              peek, allocate what it declares, decode, with tight limits
 *              and the fuzz dictionaries;
 *   "JLDD..."  a serialized dictionary: load;
 *   otherwise  one coder on raw payload bytes:
 *              u8 coder (mod JALAD_CODER_COUNT, so 8 is HUFFMAN_2D),
 *              u8 bits index, u16 count (LE), payload.
 *
 * A container with a CRC is decoded a second time with the CRC recomputed,
 * so mutations reach the entropy decoders behind the checksum. Output
 * buffers carry a canary tail: htscodecs and zstd are not built with ASan,
 * so an overrun inside them would otherwise go unseen.
 */
#ifndef JALAD_FUZZ_CODEC_BODY_H
#define JALAD_FUZZ_CODEC_BODY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common_impl.h"
#include "jalad/codec.h"

#define FUZZ_CANARY 64

static const int fuzz_codec_bits[10] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 16 };

/* A deterministic huffman-2d histogram for bits (1..4): in every context
 * c = (left of top, left of bottom, above top), units near the context's
 * values are frequent, as in a smooth ReLU map; some units stay unseen. */
static void fuzz_codec_hist2d(int bits, uint64_t *h2)
{
	unsigned ns = 1u << bits;
	for (unsigned c = 0; c < JALAD_CODEC_2D_CONTEXTS; c++) {
		unsigned lt = c >> 4, lb = (c >> 2) & 3, up = c & 3;
		for (unsigned tv = 0; tv < ns; tv++)
			for (unsigned bv = 0; bv < ns; bv++) {
				unsigned d = (tv > lt ? tv - lt : lt - tv) + (bv > lb ? bv - lb : lb - bv) +
					     (tv > up ? tv - up : up - tv) + tv / 2 + bv / 2;
				h2[(size_t)c << (2 * bits) | tv << bits | bv] = d > 12 ? 0 : (uint64_t)(65536u >> d) + c;
			}
	}
}

/* Deterministic dictionaries for 1..4 bits (with huffman-2d tables) and 16
 * bits; corpus containers that use HUFFMAN_SHARED or HUFFMAN_2D were made
 * with these. Made once, kept for the process. */
static const struct jalad_codec_dict *fuzz_codec_dict(int bits)
{
	static struct jalad_codec_dict *d[17];
	if (!((bits >= 1 && bits <= JALAD_CODEC_2D_MAX_BITS) || bits == 16))
		return NULL;
	struct jalad_codec_dict **slot = &d[bits];
	if (!*slot) {
		size_t ns = (size_t)1 << bits;
		uint64_t *h = calloc(ns, sizeof *h), *h2 = NULL;
		if (!h)
			return NULL;
		for (size_t s = 0; s < ns; s++)
			h[s] = s < 64 ? (uint64_t)(4096u >> (s / 4)) : 0;
		if (bits <= JALAD_CODEC_2D_MAX_BITS) {
			h2 = calloc((size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bits), sizeof *h2);
			if (!h2) {
				free(h);
				return NULL;
			}
			fuzz_codec_hist2d(bits, h2);
		}
		jalad_codec_dict_learn2d(bits, h, h2, slot);
		free(h);
		free(h2);
	}
	return *slot;
}

static const struct jalad_codec_dict *fuzz_codec_dict_by_id(uint32_t id)
{
	static const int bits[] = { 4, 1, 2, 3, 16 };
	for (size_t k = 0; k < sizeof bits / sizeof bits[0]; k++) {
		const struct jalad_codec_dict *d = fuzz_codec_dict(bits[k]);
		if (d && jalad_codec_dict_id(d) == id)
			return d;
	}
	return fuzz_codec_dict(4); /* the wrong one on purpose: exercises the mismatch path */
}

static void *fuzz_codec_alloc(size_t bytes)
{
	uint8_t *p = malloc(bytes + FUZZ_CANARY);
	if (p)
		memset(p + bytes, 0xA5, FUZZ_CANARY);
	return p;
}

static void fuzz_codec_check(const void *p, size_t bytes)
{
	const uint8_t *c = (const uint8_t *)p + bytes;
	for (int k = 0; k < FUZZ_CANARY; k++)
		if (c[k] != 0xA5)
			__builtin_trap(); /* a decoder wrote past its output */
}

static enum jalad_status fuzz_codec_container(struct jalad_codec_ctx *ctx, const uint8_t *data,
					      size_t size)
{
	struct jalad_codec_limits lim = { 8, (uint64_t)1 << 16, (size_t)1 << 20 };
	struct jalad_codec_info info;
	float *outs[JALAD_CODEC_MAX_TENSORS] = { 0 };
	size_t caps[JALAD_CODEC_MAX_TENSORS] = { 0 };
	enum jalad_status st = jalad_codec_peek(data, size, &lim, &info);
	if (st != JALAD_OK)
		return st;
	for (int i = 0; i < info.ntensors && st == JALAD_OK; i++) {
		caps[i] = (size_t)info.tensor[i].count;
		outs[i] = fuzz_codec_alloc(caps[i] * sizeof(float));
		if (!outs[i])
			st = JALAD_ERR_NOMEM;
	}
	if (st == JALAD_OK)
		st = jalad_codec_decode(ctx, data, size, &lim, fuzz_codec_dict_by_id(info.dict_id), outs, caps,
					info.ntensors, NULL);
	for (int i = 0; i < info.ntensors; i++) {
		if (outs[i])
			fuzz_codec_check(outs[i], caps[i] * sizeof(float));
		free(outs[i]);
	}
	return st;
}

/* @return the status of the decode (JALAD_OK for a valid input). */
static int fuzz_codec_one(const uint8_t *data, size_t size)
{
	struct jalad_codec_ctx *ctx = NULL;
	enum jalad_status st;

	if (size >= 4 && memcmp(data, "JLDD", 4) == 0) {
		struct jalad_codec_dict *d = NULL;
		st = jalad_codec_dict_load(data, size, &d);
		jalad_codec_dict_free(d);
		return st;
	}
	if (jalad_codec_ctx_create(&ctx) != JALAD_OK)
		return JALAD_ERR_NOMEM;

	if (size >= 1 && data[0] == 'J') {
		st = fuzz_codec_container(ctx, data, size);
		if (size >= 8 && data[1] != 'L' && (data[2] & 1)) {
			uint8_t *fixed = malloc(size);
			if (fixed) {
				memcpy(fixed, data, size);
				jalad_put_u32(fixed + size - 4, jalad_crc32c(0, fixed, size - 4));
				fuzz_codec_container(ctx, fixed, size);
				free(fixed);
			}
		}
	} else if (size >= 4) {
		enum jalad_coder coder = (enum jalad_coder)(data[0] % JALAD_CODER_COUNT);
		int bits = fuzz_codec_bits[data[1] % 10];
		size_t n = (size_t)data[2] | (size_t)data[3] << 8;
		size_t bytes = bits == 0 ? 4 * n : bits == 16 ? 2 * n : n;
		void *sym = fuzz_codec_alloc(bytes);
		st = JALAD_ERR_NOMEM;
		if (sym) {
			st = jalad_codec_symbols_decode(ctx, coder, bits, fuzz_codec_dict(bits), data + 4, size - 4,
							sym, n);
			fuzz_codec_check(sym, bytes);
			free(sym);
		}
	} else {
		st = JALAD_ERR_TRUNCATED;
	}
	jalad_codec_ctx_free(ctx);
	return st;
}

#endif /* JALAD_FUZZ_CODEC_BODY_H */
