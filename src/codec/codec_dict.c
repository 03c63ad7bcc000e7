/*
 * Shared Huffman dictionaries: code lengths learned from calibration
 * histograms and known to both sides, so a small message needs no table.
 *
 * Serialized form (little-endian), at most JALAD_CODEC_DICT_MAX_BYTES:
 *     "JLDD" u8 version (1, or 2 with HUFFMAN_2D tables), u8 bits,
 *     u8 nplanes, u8 abits,
 *     per plane ceil(2^abits / 2) bytes of 4-bit code lengths
 *         (even symbol in the low nibble),
 *     version 2 only: u8 ncontexts = 64, then per context
 *         2^(2 bits) / 2 bytes of 4-bit unit code lengths (1..12),
 *     u32 CRC-32C of everything before.
 * A dictionary without 2-d tables is written as version 1, so its bytes
 * and id are what they were before HUFFMAN_2D existed.
 * The CRC doubles as the dictionary id that containers carry, so a decoder
 * holding a different dictionary refuses the message instead of decoding
 * garbage.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

#define DICT_VERSION 1
#define DICT_VERSION_2D 2

static size_t dict_plane_bytes(int abits)
{
	return ((size_t)1 << abits) / 2;
}

static size_t dict_ctx_bytes(int bits)
{
	return ((size_t)1 << (2 * bits) | 1) / 2;
}

/* h2d_bits: 0 without 2-d tables. */
static size_t dict_size(int abits, int nplanes, int h2d_bits)
{
	size_t n = 8 + (size_t)nplanes * dict_plane_bytes(abits) + 4;
	if (h2d_bits)
		n += 1 + JALAD_CODEC_2D_CONTEXTS * dict_ctx_bytes(h2d_bits);
	return n;
}

/* Serialize without the CRC into dst (dict_size bytes), return the size. */
static size_t dict_write(const struct jalad_codec_dict *d, uint8_t *dst)
{
	size_t pos = 8, pb = dict_plane_bytes(d->abits);
	memcpy(dst, "JLDD", 4);
	dst[4] = d->h2d ? DICT_VERSION_2D : DICT_VERSION;
	dst[5] = (uint8_t)d->bits;
	dst[6] = (uint8_t)d->nplanes;
	dst[7] = (uint8_t)d->abits;
	for (int p = 0; p < d->nplanes; p++) {
		memset(dst + pos, 0, pb);
		for (int s = 0; s < (1 << d->abits); s++)
			dst[pos + s / 2] |= (uint8_t)(d->plane[p].len[s] << (4 * (s & 1)));
		pos += pb;
	}
	if (d->h2d) {
		size_t cb = dict_ctx_bytes(d->bits);
		dst[pos++] = JALAD_CODEC_2D_CONTEXTS;
		for (int c = 0; c < JALAD_CODEC_2D_CONTEXTS; c++) {
			memset(dst + pos, 0, cb);
			for (int u = 0; u < (1 << (2 * d->bits)); u++)
				dst[pos + u / 2] |= (uint8_t)(d->h2d->len[c][u] << (4 * (u & 1)));
			pos += cb;
		}
	}
	uint32_t crc = jalad_crc32c(0, dst, pos);
	jalad_put_u32(dst + pos, crc);
	return pos + 4;
}

enum jalad_status jalad_codec_dict_learn(int bits, const uint64_t *hist,
					 struct jalad_codec_dict **out)
{
	return jalad_codec_dict_learn2d(bits, hist, NULL, out);
}

enum jalad_status jalad_codec_dict_learn2d(int bits, const uint64_t *hist, const uint64_t *hist2d,
					   struct jalad_codec_dict **out)
{
	struct jalad_codec_dict *d = NULL;
	uint8_t buf[JALAD_CODEC_DICT_MAX_BYTES];
	enum jalad_status st;

	if (out)
		*out = NULL;
	JALAD_RETURN_IF(!out || !hist, JALAD_ERR_INVALID_ARG, "codec: dict_learn: NULL argument");
	JALAD_RETURN_IF(!((bits >= 1 && bits <= 8) || bits == 16), JALAD_ERR_INVALID_ARG,
			"codec: dict_learn: bits %d not in 1..8 or 16", bits);
	d = calloc(1, sizeof *d);
	JALAD_RETURN_IF(!d, JALAD_ERR_NOMEM, "codec: dict_learn: out of memory");
	d->bits = bits;
	d->nplanes = bits == 16 ? 2 : 1;
	d->abits = bits == 16 ? 8 : bits;

	/* Scale counts to at most 2^40 so that a plane's sums (up to 2^16
	 * entries) stay far from overflowing in package-merge. */
	uint64_t maxc = 0;
	int shift = 0;
	for (size_t s = 0; s < ((size_t)1 << bits); s++)
		maxc = hist[s] > maxc ? hist[s] : maxc;
	while ((maxc >> shift) > ((uint64_t)1 << 40))
		shift++;

	for (int p = 0; p < d->nplanes; p++) {
		uint64_t cnt[256] = { 0 };
		uint8_t len[256];
		int nsym = 1 << d->abits;
		if (bits == 16) {
			for (uint32_t s = 0; s < 65536; s++)
				cnt[p ? s >> 8 : s & 255] += hist[s] >> shift;
		} else {
			for (int s = 0; s < nsym; s++)
				cnt[s] = hist[s] >> shift;
		}
		/* +1 gives every symbol a code, seen in calibration or not. */
		for (int s = 0; s < nsym; s++)
			cnt[s] += 1;
		codec_huff_lengths(cnt, nsym, JALAD_CODEC_HUFF_MAX_LEN, len);
		st = codec_huff_build(&d->plane[p], len, nsym);
		if (st != JALAD_OK)
			goto fail;
	}
	if (hist2d && bits <= JALAD_CODEC_2D_MAX_BITS && (st = codec_h2d_learn(bits, hist2d, &d->h2d)) != JALAD_OK)
		goto fail;
	d->id = jalad_get_u32(buf + dict_write(d, buf) - 4);
	*out = d;
	return JALAD_OK;
fail:
	jalad_codec_dict_free(d);
	return st;
}

enum jalad_status jalad_codec_dict_save(const struct jalad_codec_dict *d, uint8_t *dst, size_t cap,
					size_t *out_len)
{
	JALAD_RETURN_IF(!d || !dst || !out_len, JALAD_ERR_INVALID_ARG, "codec: dict_save: NULL argument");
	size_t need = dict_size(d->abits, d->nplanes, d->h2d ? d->bits : 0);
	JALAD_RETURN_IF(cap < need, JALAD_ERR_LIMIT, "codec: dict_save needs %zu bytes, buffer has %zu",
			need, cap);
	*out_len = dict_write(d, dst);
	return JALAD_OK;
}

enum jalad_status jalad_codec_dict_load(const uint8_t *src, size_t len, struct jalad_codec_dict **out)
{
	struct jalad_codec_dict *d = NULL;
	enum jalad_status st;

	JALAD_RETURN_IF(!out || (!src && len), JALAD_ERR_INVALID_ARG, "codec: dict_load: NULL argument");
	*out = NULL;
	JALAD_RETURN_IF(len < 8, JALAD_ERR_TRUNCATED, "codec: dictionary of %zu bytes has no header", len);
	JALAD_RETURN_IF(memcmp(src, "JLDD", 4) != 0, JALAD_ERR_FORMAT, "codec: not a dictionary (bad magic)");
	JALAD_RETURN_IF(src[4] != DICT_VERSION && src[4] != DICT_VERSION_2D, JALAD_ERR_UNSUPPORTED,
			"codec: dictionary version %u, this build reads %d and %d", src[4], DICT_VERSION,
			DICT_VERSION_2D);
	int with_2d = src[4] == DICT_VERSION_2D;
	int bits = src[5], nplanes = src[6], abits = src[7];
	JALAD_RETURN_IF(!((bits >= 1 && bits <= 8) || bits == 16), JALAD_ERR_FORMAT,
			"codec: dictionary has bits %d", bits);
	JALAD_RETURN_IF(nplanes != (bits == 16 ? 2 : 1) || abits != (bits == 16 ? 8 : bits),
			JALAD_ERR_FORMAT, "codec: dictionary planes %d x %d bits do not match %d bits",
			nplanes, abits, bits);
	JALAD_RETURN_IF(with_2d && bits > JALAD_CODEC_2D_MAX_BITS, JALAD_ERR_FORMAT,
			"codec: dictionary has huffman-2d tables for %d bits (1..%d)", bits, JALAD_CODEC_2D_MAX_BITS);
	size_t need = dict_size(abits, nplanes, with_2d ? bits : 0);
	JALAD_RETURN_IF(len < need, JALAD_ERR_TRUNCATED, "codec: dictionary has %zu bytes, needs %zu", len, need);
	JALAD_RETURN_IF(len > need, JALAD_ERR_FORMAT, "codec: dictionary has %zu trailing bytes", len - need);
	uint32_t crc = jalad_crc32c(0, src, need - 4);
	JALAD_RETURN_IF(crc != jalad_get_u32(src + need - 4), JALAD_ERR_CHECKSUM,
			"codec: dictionary CRC mismatch");

	d = calloc(1, sizeof *d);
	JALAD_RETURN_IF(!d, JALAD_ERR_NOMEM, "codec: dict_load: out of memory");
	d->bits = bits;
	d->nplanes = nplanes;
	d->abits = abits;
	d->id = crc;
	size_t pos = 8, pb = dict_plane_bytes(abits);
	int nsym = 1 << abits;
	for (int p = 0; p < nplanes; p++) {
		uint8_t lens[256] = { 0 };
		for (int s = 0; s < nsym; s++) {
			lens[s] = (uint8_t)((src[pos + s / 2] >> (4 * (s & 1))) & 15u);
			if (!lens[s]) {
				st = jalad_fail(JALAD_ERR_FORMAT, "codec: dictionary plane %d has no code for symbol %d", p, s);
				goto fail;
			}
		}
		st = codec_huff_build(&d->plane[p], lens, nsym);
		if (st != JALAD_OK)
			goto fail;
		pos += pb;
	}
	if (with_2d) {
		if (src[pos] != JALAD_CODEC_2D_CONTEXTS) {
			st = jalad_fail(JALAD_ERR_FORMAT, "codec: dictionary has %u huffman-2d contexts, not %d", src[pos],
					JALAD_CODEC_2D_CONTEXTS);
			goto fail;
		}
		pos++;
		uint8_t(*lens)[256] = calloc(JALAD_CODEC_2D_CONTEXTS, sizeof *lens);
		if (!lens) {
			st = jalad_fail(JALAD_ERR_NOMEM, "codec: dict_load: out of memory");
			goto fail;
		}
		size_t cb = dict_ctx_bytes(bits);
		for (int c = 0; c < JALAD_CODEC_2D_CONTEXTS; c++, pos += cb)
			for (int u = 0; u < (1 << (2 * bits)); u++)
				lens[c][u] = (uint8_t)((src[pos + u / 2] >> (4 * (u & 1))) & 15u);
		st = codec_h2d_build(bits, (const uint8_t(*)[256])lens, &d->h2d);
		free(lens);
		if (st != JALAD_OK) {
			jalad_error_prefix("codec: dictionary: ");
			goto fail;
		}
	}
	*out = d;
	return JALAD_OK;
fail:
	jalad_codec_dict_free(d);
	return st;
}

uint32_t jalad_codec_dict_id(const struct jalad_codec_dict *d)
{
	return d ? d->id : 0;
}

size_t jalad_codec_dict_footprint(const struct jalad_codec_dict *d)
{
	return d ? sizeof *d + (d->h2d ? sizeof *d->h2d : 0) : 0;
}

int jalad_codec_dict_bits(const struct jalad_codec_dict *d)
{
	return d ? d->bits : 0;
}

int jalad_codec_dict_has_2d(const struct jalad_codec_dict *d)
{
	return d && d->h2d;
}

void jalad_codec_dict_free(struct jalad_codec_dict *d)
{
	if (d)
		codec_h2d_free(d->h2d);
	free(d);
}
