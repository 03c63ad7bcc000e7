/*
 * Coder dispatch: one tensor's symbols <-> one payload.
 *
 * RAW packs c-bit symbols LSB-first (c = 8 is a copy, c = 16 is u16 LE,
 * float32 is f32 LE). Every other coder works on bytes: for c <= 8 on the
 * symbols themselves (alphabet 2^c), for c = 16 on two byte planes, low
 * bytes then high bytes, each coded on its own:
 *
 *     u32 low_plane_len, low plane payload, high plane payload
 *
 * Splitting keeps each plane's alphabet at 256 symbols (a 65536-symbol
 * Huffman table would cost more than it saves on feature maps) and lets the
 * high plane, nearly constant on most maps, shrink to almost nothing.
 *
 * rANS is htscodecs' 4x16 coder with RANS_ORDER_NOSZ (the container already
 * stores the count) and automatic 32-way SIMD for large inputs. The decoder
 * accepts only the flags our encoder produces (order bit, X32, CAT, NOSZ), so
 * htscodecs' PACK / RLE / STRIPE paths are never reached from a message.
 *
 * ARITH0/ARITH1 are htscodecs' adaptive arithmetic coders (arith_dynamic),
 * order 0 and 1, also with X_NOSZ. Their models adapt as they code, so no
 * frequency table is sent: they win on small messages. The decoder accepts
 * only the order field and X_NOSZ / X_CAT (CAT: stored verbatim when coding
 * does not pay), never PACK / RLE / STRIPE / EXT.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <htscodecs/arith_dynamic.h>
#include <htscodecs/rANS_static4x16.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "codec_impl.h"

#define RANS_ACCEPTED_FLAGS (1u | RANS_ORDER_X32 | RANS_ORDER_CAT | RANS_ORDER_NOSZ)

/* arith_dynamic's flag byte (its .c file, not its header, defines them) */
#define ARITH_ORDER_MASK 0x03u
#define ARITH_NOSZ 0x10u
#define ARITH_CAT 0x20u
#define ARITH_ACCEPTED_FLAGS (1u | ARITH_NOSZ | ARITH_CAT)

enum jalad_status codec_reserve(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return JALAD_OK;
	/* Contents need not survive, so free + malloc avoids realloc's copy. */
	free(*buf);
	*buf = malloc(need ? need : 1);
	if (!*buf) {
		*cap = 0;
		return jalad_fail(JALAD_ERR_NOMEM, "codec: cannot allocate %zu bytes of scratch", need);
	}
	*cap = need;
	return JALAD_OK;
}

int codec_coder_allowed(enum jalad_coder coder, int bits)
{
	if (bits == 0)
		return coder == JALAD_CODER_RAW || coder == JALAD_CODER_ZSTD;
	if (coder == JALAD_CODER_HUFFMAN_2D)
		return bits >= 1 && bits <= JALAD_CODEC_2D_MAX_BITS;
	return (int)coder >= 0 && coder < JALAD_CODER_COUNT;
}

int jalad_coder_uses_dict(enum jalad_coder coder)
{
	return coder == JALAD_CODER_HUFFMAN_SHARED || coder == JALAD_CODER_HUFFMAN_2D;
}

int jalad_codec_dict_serves(const struct jalad_codec_dict *dict, enum jalad_coder coder, int bits)
{
	if (!jalad_coder_uses_dict(coder))
		return 1;
	return dict && dict->bits == bits && (coder != JALAD_CODER_HUFFMAN_2D || dict->h2d);
}

static int bits_ok(int bits)
{
	return (bits >= 0 && bits <= 8) || bits == 16;
}

/* ---- RAW -------------------------------------------------------------------- */

static size_t raw_size(int bits, size_t n)
{
	if (bits == 0)
		return n * 4;
	if (bits == 16)
		return n * 2;
	return (n / 8) * (size_t)bits + ((n % 8) * (size_t)bits + 7) / 8;
}

static void raw_pack(const uint8_t *s, size_t n, int c, uint8_t *dst)
{
	if (c == 8) {
		memcpy(dst, s, n);
		return;
	}
	uint64_t acc = 0;
	unsigned nb = 0;
	for (size_t i = 0; i < n; i++) {
		acc |= (uint64_t)s[i] << nb;
		nb += (unsigned)c;
		if (nb >= 32) {
			jalad_put_u32(dst, (uint32_t)acc);
			dst += 4;
			acc >>= 32;
			nb -= 32;
		}
	}
	for (; nb > 0; nb = nb > 8 ? nb - 8 : 0) {
		*dst++ = (uint8_t)acc;
		acc >>= 8;
	}
}

static enum jalad_status raw_unpack(const uint8_t *src, size_t len, int c, uint8_t *out, size_t n)
{
	if (c == 8) {
		memcpy(out, src, n);
		return JALAD_OK;
	}
	const uint8_t *end = src + len;
	const uint32_t mask = (1u << c) - 1u;
	uint64_t acc = 0;
	unsigned nb = 0;
	for (size_t i = 0; i < n; i++) {
		if (nb < (unsigned)c) {
			/* len == raw_size(c, n) was checked: the bytes are there. */
			if (end - src >= 4) {
				acc |= (uint64_t)jalad_get_u32(src) << nb;
				src += 4;
				nb += 32;
			} else {
				acc |= (uint64_t)*src++ << nb;
				nb += 8;
			}
		}
		out[i] = (uint8_t)(acc & mask);
		acc >>= c;
		nb -= (unsigned)c;
	}
	JALAD_RETURN_IF(acc != 0 || src != end, JALAD_ERR_FORMAT, "raw: nonzero padding bits");
	return JALAD_OK;
}

/* ---- rANS (htscodecs) ------------------------------------------------------- */

static enum jalad_status rans_encode(struct jalad_codec_ctx *ctx, int order, const uint8_t *s,
				     size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
	int flags = order | RANS_ORDER_NOSZ | RANS_ORDER_SIMD_AUTO;
	/* The bound for X32 is the larger one; SIMD_AUTO may pick X32. */
	size_t need = rans_compress_bound_4x16((unsigned)n, order | RANS_ORDER_X32) + 16;
	uint8_t *out = dst;
	if (cap < need) {
		/* htscodecs refuses buffers below its bound even when the
		 * result would fit, so code into scratch and copy. */
		JALAD_FORWARD(codec_reserve(&ctx->work, &ctx->work_cap, need));
		out = ctx->work;
	}
	size_t room = out == dst ? cap : ctx->work_cap;
	unsigned int olen = room > UINT_MAX ? UINT_MAX : (unsigned int)room;
	if (!rans_compress_to_4x16((unsigned char *)(uintptr_t)s, (unsigned)n, out, &olen, flags))
		return jalad_fail(JALAD_ERR_NOMEM, "rans: htscodecs failed to compress %zu symbols", n);
	if (out != dst) {
		JALAD_RETURN_IF(olen > cap, JALAD_ERR_LIMIT,
				"rans: output needs %u bytes, buffer has %zu", olen, cap);
		memcpy(dst, out, olen);
	}
	*out_len = olen;
	return JALAD_OK;
}

static enum jalad_status rans_decode(int order, const uint8_t *src, size_t len, uint8_t *out,
				     size_t n)
{
	JALAD_RETURN_IF(len < 1, JALAD_ERR_TRUNCATED, "rans: empty payload for %zu symbols", n);
	unsigned f = src[0];
	JALAD_RETURN_IF(f & ~RANS_ACCEPTED_FLAGS, JALAD_ERR_FORMAT,
			"rans: stream flags 0x%02x include methods jalad does not emit", f);
	JALAD_RETURN_IF(!(f & RANS_ORDER_NOSZ), JALAD_ERR_FORMAT, "rans: stream carries its own size");
	/* Order 1 falls back to order 0 on tiny inputs, never the reverse. */
	JALAD_RETURN_IF(order == 0 && (f & 1u), JALAD_ERR_FORMAT, "rans: order-1 stream in an order-0 payload");
	JALAD_RETURN_IF(len > UINT_MAX || n > INT_MAX, JALAD_ERR_LIMIT, "rans: payload too large");
	unsigned int olen = (unsigned int)n;
	unsigned char *r = rans_uncompress_to_4x16((unsigned char *)(uintptr_t)src, (unsigned)len,
						    out, &olen);
	JALAD_RETURN_IF(!r || olen != n, JALAD_ERR_FORMAT,
			"rans: payload of %zu bytes does not decode to %zu symbols", len, n);
	return JALAD_OK;
}

/* ---- adaptive arithmetic coding (htscodecs) ----------------------------------- */

static enum jalad_status arith_encode(struct jalad_codec_ctx *ctx, int order, const uint8_t *s,
				      size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
	int flags = order | (int)ARITH_NOSZ;
	JALAD_RETURN_IF(n > INT_MAX, JALAD_ERR_LIMIT, "arith: %zu symbols", n);
	/* arith_compress_to does not check the room it is given against its
	 * bound, so it always codes into scratch of the full bound. */
	size_t need = (size_t)arith_compress_bound((unsigned)n, flags) + 16;
	JALAD_FORWARD(codec_reserve(&ctx->work, &ctx->work_cap, need));
	unsigned int olen = ctx->work_cap > UINT_MAX ? UINT_MAX : (unsigned int)ctx->work_cap;
	if (!arith_compress_to((unsigned char *)(uintptr_t)s, (unsigned)n, ctx->work, &olen, flags))
		return jalad_fail(JALAD_ERR_NOMEM, "arith: htscodecs failed to compress %zu symbols", n);
	JALAD_RETURN_IF(olen > cap, JALAD_ERR_LIMIT, "arith: output needs %u bytes, buffer has %zu", olen, cap);
	memcpy(dst, ctx->work, olen);
	*out_len = olen;
	return JALAD_OK;
}

static enum jalad_status arith_decode(int order, const uint8_t *src, size_t len, uint8_t *out,
				      size_t n)
{
	JALAD_RETURN_IF(len < 1, JALAD_ERR_TRUNCATED, "arith: empty payload for %zu symbols", n);
	unsigned f = src[0];
	JALAD_RETURN_IF(f & ~ARITH_ACCEPTED_FLAGS, JALAD_ERR_FORMAT,
			"arith: stream flags 0x%02x include methods jalad does not emit", f);
	JALAD_RETURN_IF(!(f & ARITH_NOSZ), JALAD_ERR_FORMAT, "arith: stream carries its own size");
	JALAD_RETURN_IF(order == 0 && (f & ARITH_ORDER_MASK), JALAD_ERR_FORMAT,
			"arith: order-1 stream in an order-0 payload");
	JALAD_RETURN_IF(len > UINT_MAX || n > INT_MAX, JALAD_ERR_LIMIT, "arith: payload too large");
	unsigned int olen = (unsigned int)n;
	unsigned char *r = arith_uncompress_to((unsigned char *)(uintptr_t)src, (unsigned)len, out, &olen);
	JALAD_RETURN_IF(!r || olen != n, JALAD_ERR_FORMAT,
			"arith: payload of %zu bytes does not decode to %zu symbols", len, n);
	return JALAD_OK;
}

/* ---- zstd -------------------------------------------------------------------- */

static enum jalad_status zstd_encode(struct jalad_codec_ctx *ctx, int level, const void *src,
				     size_t nbytes, uint8_t *dst, size_t cap, size_t *out_len)
{
	if (!ctx->zc) {
		ctx->zc = ZSTD_createCCtx();
		JALAD_RETURN_IF(!ctx->zc, JALAD_ERR_NOMEM, "zstd: cannot create a compression context");
	}
	size_t r = ZSTD_compressCCtx(ctx->zc, dst, cap, src, nbytes, level > 0 ? level : 1);
	if (ZSTD_isError(r)) {
		JALAD_RETURN_IF(ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall, JALAD_ERR_LIMIT,
				"zstd: output buffer of %zu bytes too small", cap);
		return jalad_fail(JALAD_ERR_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
	}
	*out_len = r;
	return JALAD_OK;
}

static enum jalad_status zstd_decode(struct jalad_codec_ctx *ctx, const uint8_t *src, size_t len,
				     void *out, size_t nbytes)
{
	if (!ctx->zd) {
		ctx->zd = ZSTD_createDCtx();
		JALAD_RETURN_IF(!ctx->zd, JALAD_ERR_NOMEM, "zstd: cannot create a decompression context");
	}
	/* One-shot decoding writes straight into out and never allocates a
	 * window, whatever the frame header claims. */
	size_t r = ZSTD_decompressDCtx(ctx->zd, out, nbytes, src, len);
	JALAD_RETURN_IF(ZSTD_isError(r), JALAD_ERR_FORMAT, "zstd: %s", ZSTD_getErrorName(r));
	JALAD_RETURN_IF(r != nbytes, JALAD_ERR_FORMAT,
			"zstd: payload decodes to %zu bytes, expected %zu", r, nbytes);
	return JALAD_OK;
}

/* ---- one byte plane ---------------------------------------------------------- */

static size_t plane_bound(enum jalad_coder coder, int abits, size_t n)
{
	switch (coder) {
	case JALAD_CODER_HUFFMAN: return codec_huff_bound(abits, n);
	case JALAD_CODER_HUFFMAN_SHARED: return codec_huff_shared_bound(n);
	/* htscodecs stores the input verbatim (CAT) when coding does not pay. */
	case JALAD_CODER_RANS0:
	case JALAD_CODER_RANS1:
	case JALAD_CODER_ARITH0:
	case JALAD_CODER_ARITH1: return n + 16;
	case JALAD_CODER_ZSTD: return ZSTD_compressBound(n);
	default: return 0;
	}
}

static enum jalad_status plane_encode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				      int abits, const struct codec_huff_table *shared, int zlevel,
				      const uint8_t *s, size_t n, uint8_t *dst, size_t cap,
				      size_t *out_len)
{
	switch (coder) {
	case JALAD_CODER_HUFFMAN:
		return codec_huff_encode(&ctx->huff, abits, s, n, dst, cap, out_len);
	case JALAD_CODER_HUFFMAN_SHARED:
		return codec_huff_encode_with(shared, s, n, dst, cap, out_len);
	case JALAD_CODER_RANS0:
	case JALAD_CODER_RANS1:
		return rans_encode(ctx, coder == JALAD_CODER_RANS1, s, n, dst, cap, out_len);
	case JALAD_CODER_ARITH0:
	case JALAD_CODER_ARITH1:
		return arith_encode(ctx, coder == JALAD_CODER_ARITH1, s, n, dst, cap, out_len);
	case JALAD_CODER_ZSTD:
		return zstd_encode(ctx, zlevel, s, n, dst, cap, out_len);
	default:
		return jalad_fail(JALAD_ERR_INTERNAL, "codec: coder %d is not a plane coder", coder);
	}
}

/* Any byte is a valid symbol of a 256-symbol plane; narrower alphabets must
 * be checked after coders that can emit any byte. */
static enum jalad_status check_range(const uint8_t *s, size_t n, int abits)
{
	if (abits >= 8)
		return JALAD_OK;
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= s[i];
	JALAD_RETURN_IF(acc >> abits, JALAD_ERR_FORMAT,
			"codec: decoded symbols do not fit %d bits", abits);
	return JALAD_OK;
}

static enum jalad_status plane_decode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				      int abits, const struct codec_huff_table *shared,
				      const uint8_t *src, size_t len, uint8_t *out, size_t n)
{
	switch (coder) {
	case JALAD_CODER_HUFFMAN:
		return codec_huff_decode(&ctx->huff, abits, src, len, out, n);
	case JALAD_CODER_HUFFMAN_SHARED:
		return codec_huff_decode_with(shared, src, len, out, n);
	case JALAD_CODER_RANS0:
	case JALAD_CODER_RANS1:
		JALAD_FORWARD(rans_decode(coder == JALAD_CODER_RANS1, src, len, out, n));
		return check_range(out, n, abits);
	case JALAD_CODER_ARITH0:
	case JALAD_CODER_ARITH1:
		JALAD_FORWARD(arith_decode(coder == JALAD_CODER_ARITH1, src, len, out, n));
		return check_range(out, n, abits);
	case JALAD_CODER_ZSTD:
		JALAD_FORWARD(zstd_decode(ctx, src, len, out, n));
		return check_range(out, n, abits);
	default:
		return jalad_fail(JALAD_ERR_UNSUPPORTED, "codec: unknown coder %d", coder);
	}
}

/* ---- payloads ------------------------------------------------------------------ */

size_t jalad_codec_symbols_bound(enum jalad_coder coder, int bits, size_t n)
{
	if (!bits_ok(bits) || n > ((size_t)1 << 40))
		return 0;
	if (coder == JALAD_CODER_AUTO) {
		/* AUTO keeps the smallest candidate and RAW is one of them. */
		return raw_size(bits, n);
	}
	if (!codec_coder_allowed(coder, bits))
		return 0;
	if (coder == JALAD_CODER_RAW)
		return raw_size(bits, n);
	if (coder == JALAD_CODER_HUFFMAN_2D)
		return codec_h2d_bound(n);
	if (bits == 0)
		return ZSTD_compressBound(n * 4);
	if (bits == 16)
		return 4 + 2 * plane_bound(coder, 8, n);
	return plane_bound(coder, bits, n);
}

static enum jalad_status dict_check(enum jalad_coder coder, int bits,
				    const struct jalad_codec_dict *dict)
{
	if (!jalad_coder_uses_dict(coder))
		return JALAD_OK;
	JALAD_RETURN_IF(!dict, JALAD_ERR_INVALID_ARG, "codec: %s needs a dictionary", jalad_coder_name(coder));
	JALAD_RETURN_IF(dict->bits != bits, JALAD_ERR_MISMATCH,
			"codec: dictionary was learned for %d bits, symbols have %d", dict->bits, bits);
	JALAD_RETURN_IF(coder == JALAD_CODER_HUFFMAN_2D && !dict->h2d, JALAD_ERR_INVALID_ARG,
			"codec: huffman-2d needs a dictionary with 2-d tables");
	return JALAD_OK;
}

enum jalad_status codec_payload_encode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				       int bits, const struct jalad_codec_dict *dict,
				       int zstd_level, const void *sym, size_t n, struct codec_geom g,
				       uint8_t *dst, size_t cap, size_t *out_len)
{
	JALAD_FORWARD(dict_check(coder, bits, dict));
	*out_len = 0;
	if (n == 0)
		return JALAD_OK;
	if (coder == JALAD_CODER_HUFFMAN_2D)
		return codec_h2d_encode(dict->h2d, sym, n, g.width ? g.width : n, g.height, dst, cap, out_len);
	if (coder == JALAD_CODER_RAW) {
		size_t need = raw_size(bits, n);
		JALAD_RETURN_IF(need > cap, JALAD_ERR_LIMIT,
				"raw: output needs %zu bytes, buffer has %zu", need, cap);
		if (bits == 0) {
			const float *x = sym;
			for (size_t i = 0; i < n; i++)
				jalad_put_f32(dst + 4 * i, x[i]);
		} else if (bits == 16) {
			const uint16_t *s = sym;
			for (size_t i = 0; i < n; i++)
				jalad_put_u16(dst + 2 * i, s[i]);
		} else {
			raw_pack(sym, n, bits, dst);
		}
		*out_len = need;
		return JALAD_OK;
	}
	if (bits == 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		return zstd_encode(ctx, zstd_level, sym, n * 4, dst, cap, out_len);
#else
		JALAD_FORWARD(codec_reserve(&ctx->plane, &ctx->plane_cap, n * 4));
		for (size_t i = 0; i < n; i++)
			jalad_put_f32(ctx->plane + 4 * i, ((const float *)sym)[i]);
		return zstd_encode(ctx, zstd_level, ctx->plane, n * 4, dst, cap, out_len);
#endif
	}
	if (bits <= 8)
		return plane_encode(ctx, coder, bits, dict ? &dict->plane[0] : NULL, zstd_level, sym, n,
				    dst, cap, out_len);

	/* 16 bits: two byte planes */
	const uint16_t *s = sym;
	JALAD_RETURN_IF(cap < 4, JALAD_ERR_LIMIT, "codec: output buffer too small");
	JALAD_FORWARD(codec_reserve(&ctx->plane, &ctx->plane_cap, 2 * n));
	uint8_t *lo = ctx->plane, *hi = ctx->plane + n;
	for (size_t i = 0; i < n; i++) {
		lo[i] = (uint8_t)s[i];
		hi[i] = (uint8_t)(s[i] >> 8);
	}
	size_t l0, l1;
	JALAD_FORWARD(plane_encode(ctx, coder, 8, dict ? &dict->plane[0] : NULL, zstd_level, lo, n,
				   dst + 4, cap - 4, &l0));
	JALAD_RETURN_IF(l0 > UINT32_MAX, JALAD_ERR_LIMIT, "codec: plane too large");
	jalad_put_u32(dst, (uint32_t)l0);
	JALAD_FORWARD(plane_encode(ctx, coder, 8, dict ? &dict->plane[1] : NULL, zstd_level, hi, n,
				   dst + 4 + l0, cap - 4 - l0, &l1));
	*out_len = 4 + l0 + l1;
	return JALAD_OK;
}

enum jalad_status codec_payload_decode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				       int bits, const struct jalad_codec_dict *dict,
				       const uint8_t *src, size_t len, void *sym, size_t n,
				       struct codec_geom g)
{
	JALAD_RETURN_IF(!codec_coder_allowed(coder, bits), JALAD_ERR_UNSUPPORTED,
			"codec: coder %d cannot carry %d-bit values", coder, bits);
	if (jalad_coder_uses_dict(coder)) {
		JALAD_RETURN_IF(!dict, JALAD_ERR_MISMATCH,
				"codec: payload needs a shared dictionary, none given");
		JALAD_RETURN_IF(dict->bits != bits, JALAD_ERR_MISMATCH,
				"codec: dictionary is for %d bits, payload has %d", dict->bits, bits);
		JALAD_RETURN_IF(coder == JALAD_CODER_HUFFMAN_2D && !dict->h2d, JALAD_ERR_MISMATCH,
				"codec: payload needs huffman-2d tables, the dictionary has none");
	}
	if (coder == JALAD_CODER_HUFFMAN_2D)
		return codec_h2d_decode(dict->h2d, src, len, sym, n, g.width ? g.width : n, g.height);
	if (n == 0) {
		JALAD_RETURN_IF(len != 0, JALAD_ERR_FORMAT, "codec: %zu payload bytes for 0 values", len);
		return JALAD_OK;
	}
	if (coder == JALAD_CODER_RAW) {
		size_t need = raw_size(bits, n);
		JALAD_RETURN_IF(len < need, JALAD_ERR_TRUNCATED,
				"raw: payload has %zu bytes, %zu values need %zu", len, n, need);
		JALAD_RETURN_IF(len > need, JALAD_ERR_FORMAT,
				"raw: payload has %zu bytes, %zu values need only %zu", len, n, need);
		if (bits == 0) {
			float *x = sym;
			for (size_t i = 0; i < n; i++)
				x[i] = jalad_get_f32(src + 4 * i);
		} else if (bits == 16) {
			uint16_t *s = sym;
			for (size_t i = 0; i < n; i++)
				s[i] = jalad_get_u16(src + 2 * i);
		} else {
			JALAD_FORWARD(raw_unpack(src, len, bits, sym, n));
		}
		return JALAD_OK;
	}
	if (bits == 0) {
		JALAD_FORWARD(zstd_decode(ctx, src, len, sym, n * 4));
#if !(defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
		float *x = sym;
		for (size_t i = 0; i < n; i++)
			x[i] = jalad_get_f32((const uint8_t *)sym + 4 * i);
#endif
		return JALAD_OK;
	}
	if (bits <= 8)
		return plane_decode(ctx, coder, bits, dict ? &dict->plane[0] : NULL, src, len, sym, n);

	JALAD_RETURN_IF(len < 4, JALAD_ERR_TRUNCATED, "codec: 16-bit payload of %zu bytes has no plane length", len);
	size_t l0 = jalad_get_u32(src);
	JALAD_RETURN_IF(l0 > len - 4, JALAD_ERR_TRUNCATED,
			"codec: low plane of %zu bytes exceeds the remaining %zu", l0, len - 4);
	JALAD_FORWARD(codec_reserve(&ctx->plane, &ctx->plane_cap, 2 * n));
	uint8_t *lo = ctx->plane, *hi = ctx->plane + n;
	JALAD_FORWARD(plane_decode(ctx, coder, 8, dict ? &dict->plane[0] : NULL, src + 4, l0, lo, n));
	JALAD_FORWARD(plane_decode(ctx, coder, 8, dict ? &dict->plane[1] : NULL, src + 4 + l0,
				   len - 4 - l0, hi, n));
	uint16_t *s = sym;
	for (size_t i = 0; i < n; i++)
		s[i] = (uint16_t)(lo[i] | hi[i] << 8);
	return JALAD_OK;
}

enum jalad_status codec_payload_encode_auto(struct jalad_codec_ctx *ctx, int bits,
					    const struct jalad_codec_dict *dict, int zstd_level,
					    const void *sym, size_t n, struct codec_geom g, size_t dict_cost,
					    uint8_t *dst, size_t cap, size_t *out_len, enum jalad_coder *chosen)
{
	/* The first smallest wins; the dictionary coders come last and are
	 * charged dict_cost, the bytes of the dictionary id a container carries
	 * only when some tensor uses one: so they are chosen only when strictly
	 * smaller, id included. */
	static const enum jalad_coder order[] = {
		JALAD_CODER_RAW,   JALAD_CODER_HUFFMAN, JALAD_CODER_RANS0,          JALAD_CODER_RANS1,
		JALAD_CODER_ZSTD,  JALAD_CODER_ARITH0,  JALAD_CODER_ARITH1,         JALAD_CODER_HUFFMAN_SHARED,
		JALAD_CODER_HUFFMAN_2D,
	};
	size_t best_len = SIZE_MAX, best_charged = SIZE_MAX;
	enum jalad_coder best = JALAD_CODER_RAW;

	for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
		enum jalad_coder c = order[k];
		if (!codec_coder_allowed(c, bits))
			continue;
		if (jalad_coder_uses_dict(c) && !jalad_codec_dict_serves(dict, c, bits))
			continue;
		size_t need = jalad_codec_symbols_bound(c, bits, n), len;
		JALAD_FORWARD(codec_reserve(&ctx->tmp, &ctx->tmp_cap, need));
		JALAD_FORWARD(codec_payload_encode(ctx, c, bits, dict, zstd_level, sym, n, g, ctx->tmp,
						   ctx->tmp_cap, &len));
		size_t charged = len + (jalad_coder_uses_dict(c) ? dict_cost : 0);
		if (charged < best_charged) {
			/* keep this trial: swap it into the best buffer */
			uint8_t *t = ctx->best;
			size_t tc = ctx->best_cap;
			ctx->best = ctx->tmp;
			ctx->best_cap = ctx->tmp_cap;
			ctx->tmp = t;
			ctx->tmp_cap = tc;
			best_len = len;
			best_charged = charged;
			best = c;
		}
	}
	JALAD_RETURN_IF(best_len > cap, JALAD_ERR_LIMIT,
			"codec: output needs %zu bytes, buffer has %zu", best_len, cap);
	if (best_len)
		memcpy(dst, ctx->best, best_len);
	*out_len = best_len;
	*chosen = best;
	return JALAD_OK;
}

/* ---- public wrappers --------------------------------------------------------------- */

enum jalad_status jalad_codec_symbols_encode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
					     int bits, const struct jalad_codec_dict *dict,
					     const void *sym, size_t n, uint8_t *dst, size_t cap,
					     size_t *out_len)
{
	JALAD_RETURN_IF(!ctx || !out_len || (n && (!sym || !dst)), JALAD_ERR_INVALID_ARG,
			"codec: symbols_encode: NULL argument");
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 0..8 or 16", bits);
	JALAD_RETURN_IF(!codec_coder_allowed(coder, bits), JALAD_ERR_INVALID_ARG,
			"codec: coder %s cannot carry %d-bit values", jalad_coder_name(coder), bits);
	JALAD_RETURN_IF(n > INT_MAX, JALAD_ERR_LIMIT, "codec: %zu values exceed 2^31 - 1", n);
	if (bits >= 1 && bits < 8) {
		/* RAW would silently drop high bits; every coder gets the check. */
		const uint8_t *s = sym;
		uint8_t acc = 0;
		for (size_t i = 0; i < n; i++)
			acc |= s[i];
		JALAD_RETURN_IF(acc >> bits, JALAD_ERR_INVALID_ARG, "codec: symbols do not fit %d bits", bits);
	}
	return codec_payload_encode(ctx, coder, bits, dict, 1, sym, n, (struct codec_geom){ 0, 0 }, dst, cap,
				    out_len);
}

enum jalad_status jalad_codec_symbols_decode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
					     int bits, const struct jalad_codec_dict *dict,
					     const uint8_t *src, size_t len, void *sym, size_t n)
{
	JALAD_RETURN_IF(!ctx || (len && !src) || (n && !sym), JALAD_ERR_INVALID_ARG,
			"codec: symbols_decode: NULL argument");
	JALAD_RETURN_IF(!bits_ok(bits), JALAD_ERR_INVALID_ARG, "codec: bits %d not in 0..8 or 16", bits);
	JALAD_RETURN_IF(n > INT_MAX, JALAD_ERR_LIMIT, "codec: %zu values exceed 2^31 - 1", n);
	return codec_payload_decode(ctx, coder, bits, dict, src, len, sym, n, (struct codec_geom){ 0, 0 });
}
