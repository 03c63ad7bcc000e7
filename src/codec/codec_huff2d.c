/*
 * HUFFMAN_2D: Huffman coding of vertical symbol pairs with tables chosen by
 * a two-dimensional context, all learned ahead of time from calibration data
 * (a struct jalad_codec_dict known to both sides).
 *
 * Feature maps are images: a value depends on its left neighbour and on the
 * one above it. Order-1 coders only see the left one, and per-message tables
 * cost more than a small message's payload. Here the symbols (c = 1..4 bits)
 * are seen as rows of the tensor's last dimension; rows are taken two at a
 * time, and column by column the pair (top, bottom) is one unit of 2c bits,
 * coded with the table of its context
 *
 *     ctx = min(left of top, 3) << 4 | min(left of bottom, 3) << 2
 *           | min(above top, 3)
 *
 * so the bottom symbol is coded jointly with its upper neighbour, and both
 * in the light of their left neighbours and the row above. Rows are paired
 * over the whole tensor (an odd plane's last row pairs with the next
 * plane's first), but the row above a plane's first row is taken as 0,
 * like every context value outside the tensor (tensors of 3 or more dims
 * have planes of dims[ndim - 2] rows). An odd last row of the tensor pairs
 * with a zero row, whose symbols must decode as 0. Clamping at 3 keeps 64 tables: after a ReLU
 * most symbols are 0 to 3, and that is where the contexts differ.
 *
 * Codes are canonical, limited to CODEC_H2D_MAX_LEN = 12 bits, and written
 * LSB-first (bit-reversed) into one bit stream that ends at the first byte
 * boundary after the last code, padded with zero bits. The decoder rejects
 * streams that end early, trailing bytes and non-zero padding.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

#define NCTX JALAD_CODEC_2D_CONTEXTS
#define MAXLEN CODEC_H2D_MAX_LEN
#define FAST CODEC_H2D_FAST_BITS

static inline unsigned clamp3(unsigned v)
{
	return v > 3 ? 3 : v;
}

static inline unsigned ctx_of(unsigned lt, unsigned lb, unsigned up)
{
	return clamp3(lt) << 4 | clamp3(lb) << 2 | clamp3(up);
}

void codec_h2d_free(struct codec_h2d *t)
{
	free(t);
}

enum jalad_status codec_h2d_build(int bits, const uint8_t (*len)[256], struct codec_h2d **out)
{
	int nunit = 1 << (2 * bits);
	*out = NULL;
	JALAD_RETURN_IF(bits < 1 || bits > JALAD_CODEC_2D_MAX_BITS, JALAD_ERR_FORMAT,
			"huffman-2d: tables for %d bits (1..%d)", bits, JALAD_CODEC_2D_MAX_BITS);
	for (int c = 0; c < NCTX; c++) {
		uint32_t kraft = 0;
		for (int u = 0; u < nunit; u++) {
			unsigned l = len[c][u];
			JALAD_RETURN_IF(l < 1 || l > MAXLEN, JALAD_ERR_FORMAT,
					"huffman-2d: context %d, unit %d has code length %u (1..%d)", c, u, l, MAXLEN);
			kraft += 1u << (MAXLEN - l);
		}
		JALAD_RETURN_IF(kraft != 1u << MAXLEN, JALAD_ERR_FORMAT,
				"huffman-2d: context %d's code lengths are not a complete prefix code", c);
	}

	struct codec_h2d *t = calloc(1, sizeof *t);
	JALAD_RETURN_IF(!t, JALAD_ERR_NOMEM, "huffman-2d: out of memory");
	t->bits = bits;
	for (int c = 0; c < NCTX; c++) {
		unsigned next[MAXLEN + 2];
		uint16_t *cnt = t->count[c];
		for (int u = 0; u < nunit; u++)
			cnt[len[c][u]]++;
		next[1] = 0;
		for (int l = 1; l <= MAXLEN; l++)
			next[l + 1] = (next[l] + cnt[l]) << 1;
		for (int l = 1, at = 0; l <= MAXLEN; l++) {
			t->first[c][l] = (uint16_t)next[l];
			t->base[c][l] = (uint16_t)at;
			at += cnt[l];
		}
		unsigned fill[MAXLEN + 1] = { 0 };
		for (int u = 0; u < nunit; u++) {
			unsigned l = len[c][u], code = next[l]++, rev = 0;
			for (unsigned b = 0; b < l; b++)
				rev |= ((code >> b) & 1u) << (l - 1 - b);
			t->len[c][u] = (uint8_t)l;
			t->enc[c][u] = (uint16_t)rev;
			t->sorted[c][t->base[c][l] + fill[l]++] = (uint8_t)u;
			/* Short codes fill every fast entry they prefix; the
			 * entries left 0 are the prefixes of long codes. */
			if (l <= FAST)
				for (unsigned k = rev; k < (1u << FAST); k += 1u << l)
					t->fast[c][k] = (uint16_t)(u | l << 8);
		}
	}
	*out = t;
	return JALAD_OK;
}

enum jalad_status codec_h2d_learn(int bits, const uint64_t *hist, struct codec_h2d **out)
{
	int nunit = 1 << (2 * bits);
	uint8_t(*len)[256] = calloc(NCTX, sizeof *len);
	JALAD_RETURN_IF(!len, JALAD_ERR_NOMEM, "huffman-2d: out of memory");
	for (int c = 0; c < NCTX; c++) {
		const uint64_t *h = hist + ((size_t)c << (2 * bits));
		uint64_t cnt[256], maxc = 0;
		int shift = 0;
		for (int u = 0; u < nunit; u++)
			maxc = h[u] > maxc ? h[u] : maxc;
		while ((maxc >> shift) > ((uint64_t)1 << 40))
			shift++;
		/* A unit seen k times weighs 16 k + 1: unseen units still get a
		 * code, and a context seen little stays close to uniform. */
		for (int u = 0; u < nunit; u++)
			cnt[u] = ((h[u] >> shift) << 4) + 1;
		codec_huff_lengths(cnt, nunit, MAXLEN, len[c]);
	}
	enum jalad_status st = codec_h2d_build(bits, (const uint8_t(*)[256])len, out);
	free(len);
	return st;
}

size_t codec_h2d_bound(size_t n)
{
	/* at most n units (a single row pairs with zeros), MAXLEN bits each */
	return (n / 8) * MAXLEN + MAXLEN + 1;
}

void codec_h2d_geom(int ndim, const int64_t *dims, size_t count, size_t *width, size_t *height)
{
	size_t w = ndim >= 1 && dims[ndim - 1] > 0 ? (size_t)dims[ndim - 1] : count;
	*width = w ? w : 1;
	*height = ndim >= 3 && dims[ndim - 2] > 0 ? (size_t)dims[ndim - 2] : 0;
}

enum jalad_status jalad_codec_hist2d_add(const uint8_t *sym, int ndim, const int64_t *dims, int bits,
					 uint64_t *hist)
{
	JALAD_RETURN_IF(!hist || (ndim && !dims), JALAD_ERR_INVALID_ARG, "codec: hist2d_add: NULL argument");
	JALAD_RETURN_IF(ndim < 0 || ndim > JALAD_CODEC_MAX_DIMS, JALAD_ERR_INVALID_ARG,
			"codec: hist2d_add: ndim %d not in 0..%d", ndim, JALAD_CODEC_MAX_DIMS);
	JALAD_RETURN_IF(bits < 1 || bits > JALAD_CODEC_2D_MAX_BITS, JALAD_ERR_INVALID_ARG,
			"codec: hist2d_add: bits %d not in 1..%d", bits, JALAD_CODEC_2D_MAX_BITS);
	size_t n = 1, width, height;
	for (int d = 0; d < ndim; d++) {
		JALAD_RETURN_IF(dims[d] < 0 || (uint64_t)dims[d] > UINT32_MAX, JALAD_ERR_INVALID_ARG,
				"codec: hist2d_add: dim %d is %lld", d, (long long)dims[d]);
		JALAD_RETURN_IF(dims[d] && n > (size_t)INT_MAX / (size_t)dims[d], JALAD_ERR_LIMIT,
				"codec: hist2d_add: over 2^31 values");
		n *= (size_t)dims[d];
	}
	JALAD_RETURN_IF(n && !sym, JALAD_ERR_INVALID_ARG, "codec: hist2d_add: NULL symbols");
	codec_h2d_geom(ndim, dims, n, &width, &height);
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= sym[i];
	JALAD_RETURN_IF(acc >> bits, JALAD_ERR_INVALID_ARG, "codec: hist2d_add: symbols do not fit %d bits", bits);
	if (!n)
		return JALAD_OK;
	size_t rows = n / width;
	if (!height)
		height = rows;
	for (size_t r = 0; r < rows; r += 2) {
		const uint8_t *top = sym + r * width, *bot = r + 1 < rows ? top + width : NULL;
		const uint8_t *up = r % height ? top - width : NULL;
		unsigned lt = 0, lb = 0;
		for (size_t j = 0; j < width; j++) {
			unsigned tv = top[j], bv = bot ? bot[j] : 0u;
			unsigned c = ctx_of(lt, lb, up ? up[j] : 0u);
			hist[(size_t)c << (2 * bits) | (tv << bits | bv)]++;
			lt = tv;
			lb = bv;
		}
	}
	return JALAD_OK;
}

enum jalad_status codec_h2d_encode(const struct codec_h2d *t, const uint8_t *s, size_t n, size_t width,
				   size_t height, uint8_t *dst, size_t cap, size_t *out_len)
{
	*out_len = 0;
	if (!n)
		return JALAD_OK;
	JALAD_RETURN_IF(!width || n % width, JALAD_ERR_INVALID_ARG,
			"huffman-2d: %zu values are not rows of %zu", n, width);
	const int bits = t->bits;
	size_t rows = n / width, pos = 0;
	if (!height)
		height = rows;
	uint64_t acc = 0;
	unsigned nb = 0;
	for (size_t r = 0; r < rows; r += 2) {
		const uint8_t *top = s + r * width, *bot = r + 1 < rows ? top + width : NULL;
		const uint8_t *up = r % height ? top - width : NULL;
		unsigned lt = 0, lb = 0;
		for (size_t j = 0; j < width; j++) {
			unsigned tv = top[j], bv = bot ? bot[j] : 0u;
			unsigned c = ctx_of(lt, lb, up ? up[j] : 0u), u = tv << bits | bv;
			acc |= (uint64_t)t->enc[c][u] << nb;
			nb += t->len[c][u];
			if (nb >= 32) {
				JALAD_RETURN_IF(cap - pos < 4, JALAD_ERR_LIMIT,
						"huffman-2d: output buffer of %zu bytes is too small", cap);
				jalad_put_u32(dst + pos, (uint32_t)acc);
				pos += 4;
				acc >>= 32;
				nb -= 32;
			}
			lt = tv;
			lb = bv;
		}
	}
	while (nb > 0) {
		JALAD_RETURN_IF(pos >= cap, JALAD_ERR_LIMIT, "huffman-2d: output buffer of %zu bytes is too small",
				cap);
		dst[pos++] = (uint8_t)acc;
		acc >>= 8;
		nb = nb > 8 ? nb - 8 : 0;
	}
	*out_len = pos;
	return JALAD_OK;
}

enum jalad_status codec_h2d_decode(const struct codec_h2d *t, const uint8_t *src, size_t len,
				   uint8_t *out, size_t n, size_t width, size_t height)
{
	if (!n) {
		JALAD_RETURN_IF(len, JALAD_ERR_FORMAT, "huffman-2d: %zu payload bytes for 0 values", len);
		return JALAD_OK;
	}
	JALAD_RETURN_IF(!width || n % width, JALAD_ERR_FORMAT, "huffman-2d: %zu values are not rows of %zu", n,
			width);
	const int bits = t->bits;
	const unsigned smask = (1u << bits) - 1;
	size_t rows = n / width, pos = 0;
	uint64_t acc = 0;
	unsigned nb = 0;
	if (!height)
		height = rows;
	for (size_t r = 0; r < rows; r += 2) {
		uint8_t *top = out + r * width, *bot = r + 1 < rows ? top + width : NULL;
		const uint8_t *up = r % height ? top - width : NULL;
		unsigned lt = 0, lb = 0;
		for (size_t j = 0; j < width; j++) {
			while (nb <= 56 && pos < len) {
				acc |= (uint64_t)src[pos++] << nb;
				nb += 8;
			}
			unsigned c = ctx_of(lt, lb, up ? up[j] : 0u);
			unsigned e = t->fast[c][acc & ((1u << FAST) - 1)], l = e >> 8, unit = e & 255u;
			if (!l) {
				/* A code longer than FAST bits: the stream holds the
				 * canonical code MSB first, so extend it bit by bit.
				 * Bits past nb are 0; the length is checked below. */
				unsigned code = 0;
				for (l = 1; l <= FAST; l++)
					code = code << 1 | (unsigned)((acc >> (l - 1)) & 1u);
				for (; l <= MAXLEN; l++) {
					code = code << 1 | (unsigned)((acc >> (l - 1)) & 1u);
					if (code - t->first[c][l] < t->count[c][l])
						break;
				}
				/* cannot happen with a complete code; kept as a guard */
				JALAD_RETURN_IF(l > MAXLEN, JALAD_ERR_FORMAT, "huffman-2d: invalid code");
				unit = t->sorted[c][t->base[c][l] + code - t->first[c][l]];
			}
			JALAD_RETURN_IF(l > nb, JALAD_ERR_TRUNCATED, "huffman-2d: payload of %zu bytes ends inside a code",
					len);
			acc >>= l;
			nb -= l;
			unsigned tv = unit >> bits, bv = unit & smask;
			top[j] = (uint8_t)tv;
			if (bot)
				bot[j] = (uint8_t)bv;
			else
				JALAD_RETURN_IF(bv, JALAD_ERR_FORMAT, "huffman-2d: the padding row decodes to %u", bv);
			lt = tv;
			lb = bv;
		}
	}
	JALAD_RETURN_IF(pos < len || nb >= 8, JALAD_ERR_FORMAT, "huffman-2d: payload has trailing bytes");
	JALAD_RETURN_IF(acc, JALAD_ERR_FORMAT, "huffman-2d: payload ends with non-zero padding bits");
	return JALAD_OK;
}
