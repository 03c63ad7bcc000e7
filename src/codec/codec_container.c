/*
 * The container: several tensors in one message (see include/jalad/codec.h
 * for the byte layout), plus the context and small public helpers.
 *
 * Decoding runs in two passes. parse() walks every header field, checks it
 * against the end of the buffer and the caller's limits, and verifies the
 * CRC, all before any allocation or entropy decoding; decode() then trusts
 * only what parse() has validated.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "codec_impl.h"

#define CONTAINER_MAGIC 0x4A /* 'J' */
#define CONTAINER_VERSION 2
#define FLAG_CRC 1u
#define FLAG_DICT 2u
#define DTYPE_F32 1
#define VARINT_MAX 5 /* bytes of a LEB128 u32 */

/* ---- LEB128 ------------------------------------------------------------------ */

static size_t varint_size(uint64_t v)
{
	size_t k = 1;
	for (; v >= 0x80; v >>= 7)
		k++;
	return k;
}

static size_t varint_put(uint8_t *p, uint32_t v)
{
	size_t k = 0;
	for (; v >= 0x80; v >>= 7)
		p[k++] = (uint8_t)(v | 0x80);
	p[k++] = (uint8_t)v;
	return k;
}

/* Read a u32 at buf[*pos..end): 1 and *pos advanced; 0 if the input ends
 * first (TRUNCATED); -1 if it is longer than 5 bytes, over UINT32_MAX or not
 * in its shortest form (the encoder writes only that form). */
static int varint_get(const uint8_t *buf, size_t *pos, size_t end, uint32_t *out)
{
	uint64_t v = 0;
	for (size_t k = 0; k < VARINT_MAX; k++) {
		if (*pos + k >= end)
			return 0;
		uint8_t b = buf[*pos + k];
		v |= (uint64_t)(b & 0x7F) << (7 * k);
		if (!(b & 0x80)) {
			if ((k > 0 && b == 0) || v > UINT32_MAX)
				return -1;
			*pos += k + 1;
			*out = (uint32_t)v;
			return 1;
		}
	}
	return -1;
}

/* Width in bytes (1..5) of a tensor's payload length field: just enough for
 * the largest payload any coder may write for count values of bits. Both
 * sides compute it from the header, and it does not depend on the coder, so
 * containers of the same tensors differ only in coder bytes and payloads
 * (the planner derives AUTO's size from that). */
static size_t plen_width(int bits, uint64_t count, uint64_t *max_out)
{
	uint64_t mx = 0;
	for (int c = 0; c < JALAD_CODER_COUNT; c++) {
		if (!codec_coder_allowed((enum jalad_coder)c, bits))
			continue;
		uint64_t b = jalad_codec_symbols_bound((enum jalad_coder)c, bits, (size_t)count);
		mx = b > mx ? b : mx;
	}
	size_t w = 1;
	while (w < 5 && (mx >> (8 * w)) != 0)
		w++;
	if (max_out)
		*max_out = mx;
	return w;
}

static void put_uw(uint8_t *p, uint64_t v, size_t w)
{
	for (size_t k = 0; k < w; k++, v >>= 8)
		p[k] = (uint8_t)v;
}

static uint64_t get_uw(const uint8_t *p, size_t w)
{
	uint64_t v = 0;
	for (size_t k = w; k-- > 0;)
		v = v << 8 | p[k];
	return v;
}

/* ---- small public helpers ------------------------------------------------- */

static const char *const coder_names[JALAD_CODER_COUNT] = {
	"raw", "huffman", "huffman-shared", "rans0", "rans1", "zstd", "arith0", "arith1", "huffman-2d",
};

const char *jalad_coder_name(enum jalad_coder coder)
{
	if (coder == JALAD_CODER_AUTO)
		return "auto";
	if ((int)coder < 0 || coder >= JALAD_CODER_COUNT)
		return "?";
	return coder_names[coder];
}

enum jalad_status jalad_coder_parse(const char *name, enum jalad_coder *out)
{
	JALAD_RETURN_IF(!name || !out, JALAD_ERR_INVALID_ARG, "codec: coder_parse: NULL argument");
	if (strcmp(name, "auto") == 0) {
		*out = JALAD_CODER_AUTO;
		return JALAD_OK;
	}
	for (int k = 0; k < JALAD_CODER_COUNT; k++)
		if (strcmp(name, coder_names[k]) == 0) {
			*out = (enum jalad_coder)k;
			return JALAD_OK;
		}
	return jalad_fail(JALAD_ERR_NOT_FOUND, "codec: unknown coder '%s'", name);
}

void jalad_codec_limits_default(struct jalad_codec_limits *lim)
{
	if (!lim)
		return;
	lim->max_tensors = JALAD_CODEC_MAX_TENSORS;
	lim->max_elements = (uint64_t)1 << 28;
	lim->max_bytes = (size_t)1 << 30;
}

enum jalad_status jalad_codec_ctx_create(struct jalad_codec_ctx **out)
{
	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "codec: ctx_create: NULL argument");
	*out = calloc(1, sizeof **out);
	JALAD_RETURN_IF(!*out, JALAD_ERR_NOMEM, "codec: cannot allocate a context");
	return JALAD_OK;
}

void jalad_codec_ctx_free(struct jalad_codec_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->sym);
	free(ctx->plane);
	free(ctx->tmp);
	free(ctx->best);
	free(ctx->work);
	free(ctx->ranges);
	ZSTD_freeCCtx(ctx->zc);
	ZSTD_freeDCtx(ctx->zd);
	free(ctx);
}

static int bits_ok(int bits)
{
	return (bits >= 0 && bits <= 8) || bits == 16;
}

static size_t sym_bytes(int bits)
{
	return bits == 0 ? 0 : bits == 16 ? 2 : 1;
}

/* ---- encoding --------------------------------------------------------------- */

/* Element count of a caller tensor, or -1 if a dim is out of range or the
 * product overflows. */
static int tensor_count(const struct jalad_codec_tensor *t, uint64_t *count)
{
	uint64_t c = 1;
	if (t->ndim < 0 || t->ndim > JALAD_CODEC_MAX_DIMS)
		return -1;
	for (int d = 0; d < t->ndim; d++) {
		if (t->dims[d] < 0 || t->dims[d] > (int64_t)UINT32_MAX)
			return -1;
		if (__builtin_mul_overflow(c, (uint64_t)t->dims[d], &c))
			return -1;
	}
	*count = c;
	return 0;
}

static int use_channels(const struct jalad_codec_params *p, const struct jalad_codec_tensor *t)
{
	return p->bits != 0 && p->per_channel && t->ndim >= 2;
}

static enum jalad_status check_params(const struct jalad_codec_params *p,
				      const struct jalad_codec_tensor *t, int n)
{
	JALAD_RETURN_IF(!p || !t, JALAD_ERR_INVALID_ARG, "codec: NULL params or tensors");
	JALAD_RETURN_IF(n < 1 || n > JALAD_CODEC_MAX_TENSORS, JALAD_ERR_INVALID_ARG,
			"codec: %d tensors, expected 1..%d", n, JALAD_CODEC_MAX_TENSORS);
	JALAD_RETURN_IF(!bits_ok(p->bits), JALAD_ERR_INVALID_ARG,
			"codec: bits %d not in 1..8 or 16 (0 = float32)", p->bits);
	JALAD_RETURN_IF(p->coder != JALAD_CODER_AUTO && !codec_coder_allowed(p->coder, p->bits),
			JALAD_ERR_INVALID_ARG, "codec: coder %s cannot carry %d-bit values",
			jalad_coder_name(p->coder), p->bits);
	if (jalad_coder_uses_dict(p->coder)) {
		JALAD_RETURN_IF(!p->dict, JALAD_ERR_INVALID_ARG, "codec: %s needs a dictionary",
				jalad_coder_name(p->coder));
		JALAD_RETURN_IF(p->dict->bits != p->bits, JALAD_ERR_INVALID_ARG,
				"codec: dictionary is for %d bits, params say %d", p->dict->bits, p->bits);
		JALAD_RETURN_IF(!jalad_codec_dict_serves(p->dict, p->coder, p->bits), JALAD_ERR_INVALID_ARG,
				"codec: huffman-2d needs a dictionary with 2-d tables");
	}
	for (int i = 0; i < n; i++) {
		uint64_t c;
		JALAD_RETURN_IF(tensor_count(&t[i], &c) != 0, JALAD_ERR_INVALID_ARG,
				"codec: tensor %d: ndim %d or a dim is out of range", i, t[i].ndim);
		JALAD_RETURN_IF(c > INT_MAX, JALAD_ERR_LIMIT,
				"codec: tensor %d has %llu elements, the limit is 2^31 - 1", i,
				(unsigned long long)c);
		JALAD_RETURN_IF(c && !t[i].data, JALAD_ERR_INVALID_ARG, "codec: tensor %d has no data", i);
	}
	return JALAD_OK;
}

static int dict_usable(const struct jalad_codec_params *p)
{
	return p->bits != 0 && p->dict && p->dict->bits == p->bits &&
	       (jalad_coder_uses_dict(p->coder) || p->coder == JALAD_CODER_AUTO);
}

static struct codec_geom geom_of(int ndim, const int64_t *dims, size_t count)
{
	struct codec_geom g;
	codec_h2d_geom(ndim, dims, count, &g.width, &g.height);
	return g;
}

size_t jalad_codec_bound(const struct jalad_codec_params *p, const struct jalad_codec_tensor *t, int n)
{
	if (!p || !t || n < 1 || n > JALAD_CODEC_MAX_TENSORS || !bits_ok(p->bits) ||
	    (p->coder != JALAD_CODER_AUTO && !codec_coder_allowed(p->coder, p->bits)))
		return 0;
	size_t total = 3 + 1 + 4 + 4; /* magic, version, flags; count; dict id; CRC */
	for (int i = 0; i < n; i++) {
		uint64_t c;
		if (tensor_count(&t[i], &c) != 0 || c > INT_MAX)
			return 0;
		size_t ranges = p->bits == 0 ? 0 : use_channels(p, &t[i]) ? 8 * (size_t)t[i].dims[1] : 8;
		total += 3 + VARINT_MAX * (size_t)t[i].ndim + ranges + plen_width(p->bits, c, NULL) +
			 jalad_codec_symbols_bound(p->coder, p->bits, (size_t)c);
	}
	return total;
}

/* Quantize one tensor into ctx->sym, writing its ranges at dst (the room
 * was checked by the caller). */
static enum jalad_status quantize_tensor(struct jalad_codec_ctx *ctx,
					 const struct jalad_codec_params *p,
					 const struct jalad_codec_tensor *t, size_t count,
					 int channels, uint8_t *dst)
{
	JALAD_FORWARD(codec_reserve(&ctx->sym, &ctx->sym_cap, count * sym_bytes(p->bits)));
	if (!channels) {
		float mn, mx;
		JALAD_RETURN_IF(codec_minmax_finite(t->data, count, &mn, &mx) != 0, JALAD_ERR_INVALID_ARG,
				"codec: values contain NaN or Inf");
		if (t->relu)
			jalad_codec_relu_range(&mn, &mx);
		jalad_put_f32(dst, mn);
		jalad_put_f32(dst + 4, mx);
		if (p->bits == 16)
			codec_quantize16(t->data, count, mn, mx, (uint16_t *)(void *)ctx->sym);
		else
			codec_quantize8(t->data, count, p->bits, mn, mx, ctx->sym);
		return JALAD_OK;
	}
	size_t nb = (size_t)t->dims[0], nc = (size_t)t->dims[1];
	size_t inner = nb && nc ? count / (nb * nc) : 0;
	if (count == 0) {
		/* an empty dim elsewhere: ranges are written but there is nothing
		 * to scan, however large dims[0] is */
		memset(dst, 0, 8 * nc);
		return JALAD_OK;
	}
	if (nc * 2 > ctx->ranges_cap) {
		float *r = malloc(nc * 2 * sizeof *r);
		JALAD_RETURN_IF(!r, JALAD_ERR_NOMEM, "codec: cannot allocate %zu channel ranges", nc);
		free(ctx->ranges);
		ctx->ranges = r;
		ctx->ranges_cap = nc * 2;
	}
	float *rg = ctx->ranges;
	for (size_t c = 0; c < nc; c++) {
		float lo = 0.0f, hi = 0.0f;
		for (size_t b = 0; b < nb; b++) {
			float mn, mx;
			JALAD_RETURN_IF(codec_minmax_finite(t->data + (b * nc + c) * inner, inner, &mn, &mx) != 0,
					JALAD_ERR_INVALID_ARG, "codec: channel %zu contains NaN or Inf", c);
			if (b == 0 || mn < lo)
				lo = mn;
			if (b == 0 || mx > hi)
				hi = mx;
		}
		if (t->relu)
			jalad_codec_relu_range(&lo, &hi);
		rg[2 * c] = lo;
		rg[2 * c + 1] = hi;
		jalad_put_f32(dst + 8 * c, lo);
		jalad_put_f32(dst + 8 * c + 4, hi);
	}
	for (size_t b = 0; b < nb; b++)
		for (size_t c = 0; c < nc; c++) {
			size_t off = (b * nc + c) * inner;
			if (p->bits == 16)
				codec_quantize16(t->data + off, inner, rg[2 * c], rg[2 * c + 1],
						 (uint16_t *)(void *)ctx->sym + off);
			else
				codec_quantize8(t->data + off, inner, p->bits, rg[2 * c], rg[2 * c + 1],
						ctx->sym + off);
		}
	return JALAD_OK;
}

static enum jalad_status encode_body(struct jalad_codec_ctx *ctx, const struct jalad_codec_params *p,
				     const struct jalad_codec_tensor *t, int n, uint8_t *dst,
				     size_t cap, size_t *out_len, struct jalad_codec_stats *stats)
{
	size_t end = cap - (p->crc ? 4 : 0), pos;
	int with_dict = dict_usable(p), used_dict = 0;
	uint64_t t0, t1;

#define ROOM(k, what)                                                                     \
	JALAD_RETURN_IF((k) > end - pos, JALAD_ERR_LIMIT,                                    \
			"codec: output buffer of %zu bytes too small (at %s)", cap, (what))

	pos = 0;
	ROOM(4 + (with_dict ? 4u : 0u), "header");
	dst[0] = CONTAINER_MAGIC;
	dst[1] = CONTAINER_VERSION;
	dst[2] = (uint8_t)((p->crc ? FLAG_CRC : 0) | (with_dict ? FLAG_DICT : 0));
	pos = 3 + varint_put(dst + 3, (uint32_t)n); /* n <= 64: one byte */
	if (with_dict) {
		jalad_put_u32(dst + pos, p->dict->id);
		pos += 4;
	}
	for (int i = 0; i < n; i++) {
		uint64_t count64 = 0;
		tensor_count(&t[i], &count64); /* validated by check_params */
		size_t count = (size_t)count64;
		int channels = use_channels(p, &t[i]);
		size_t nranges = p->bits == 0 ? 0 : channels ? (size_t)t[i].dims[1] : 1;
		size_t dims_len = 0;
		for (int d = 0; d < t[i].ndim; d++)
			dims_len += varint_size((uint64_t)t[i].dims[d]);
		ROOM(3 + dims_len, "tensor header");
		uint8_t *hdr = dst + pos;
		unsigned qmode = p->bits == 0 ? JALAD_QMODE_F32 : channels ? JALAD_QMODE_CHANNEL : JALAD_QMODE_TENSOR;
		hdr[0] = (uint8_t)(DTYPE_F32 | qmode << 2 | (unsigned)t[i].ndim << 4);
		hdr[1] = (uint8_t)p->bits;
		pos += 3;
		for (int d = 0; d < t[i].ndim; d++)
			pos += varint_put(dst + pos, (uint32_t)t[i].dims[d]);
		JALAD_RETURN_IF(nranges > (end - pos) / 8, JALAD_ERR_LIMIT,
				"codec: output buffer of %zu bytes too small (at ranges)", cap);

		const void *sym = t[i].data;
		t0 = jalad_now_ns();
		if (p->bits != 0) {
			enum jalad_status st = quantize_tensor(ctx, p, &t[i], count, channels, dst + pos);
			if (st != JALAD_OK) {
				jalad_error_prefix("codec: tensor %d: ", i);
				return st;
			}
			sym = ctx->sym;
		}
		pos += 8 * nranges;
		t1 = jalad_now_ns();
		uint64_t plen_max;
		size_t pw = plen_width(p->bits, count, &plen_max);
		ROOM(pw, "payload length");
		enum jalad_coder coder = p->coder;
		size_t plen;
		enum jalad_status st;
		if (coder == JALAD_CODER_AUTO)
			st = codec_payload_encode_auto(ctx, p->bits, with_dict ? p->dict : NULL, p->zstd_level,
						       sym, count, geom_of(t[i].ndim, t[i].dims, count),
						       used_dict ? 0 : JALAD_CODEC_DICT_ID_BYTES, dst + pos + pw,
						       end - pos - pw, &plen, &coder);
		else
			st = codec_payload_encode(ctx, coder, p->bits, p->dict, p->zstd_level, sym, count,
						  geom_of(t[i].ndim, t[i].dims, count), dst + pos + pw,
						  end - pos - pw, &plen);
		if (st != JALAD_OK) {
			jalad_error_prefix("codec: tensor %d (%s): ", i, jalad_coder_name(coder));
			return st;
		}
		hdr[2] = (uint8_t)coder;
		used_dict |= jalad_coder_uses_dict(coder);
		JALAD_RETURN_IF(plen > plen_max || plen > UINT32_MAX, JALAD_ERR_INTERNAL,
				"codec: tensor %d: payload of %zu bytes is over the bound %llu", i, plen,
				(unsigned long long)plen_max);
		put_uw(dst + pos, plen, pw);
		pos += pw + plen;
		if (stats) {
			stats->quant_ns += t1 - t0;
			stats->entropy_ns += jalad_now_ns() - t1;
			stats->tensor[i].coder = coder;
			stats->tensor[i].symbols = count;
			stats->tensor[i].payload_bytes = (uint32_t)plen;
		}
	}
#undef ROOM
	if (with_dict) {
		/* AUTO may have chosen no dictionary coder: then drop the id. */
		if (!used_dict) {
			/* the id follows the 4-byte header (n <= 64: a one-byte varint) */
			memmove(dst + 4, dst + 4 + JALAD_CODEC_DICT_ID_BYTES, pos - 4 - JALAD_CODEC_DICT_ID_BYTES);
			pos -= JALAD_CODEC_DICT_ID_BYTES;
			dst[2] = (uint8_t)(dst[2] & ~FLAG_DICT);
		}
	}
	if (p->crc) {
		jalad_put_u32(dst + pos, jalad_crc32c(0, dst, pos));
		pos += 4;
	}
	*out_len = pos;
	return JALAD_OK;
}

enum jalad_status jalad_codec_encode(struct jalad_codec_ctx *ctx, const struct jalad_codec_params *p,
				     const struct jalad_codec_tensor *t, int n, uint8_t *dst, size_t cap,
				     size_t *out_len, struct jalad_codec_stats *stats)
{
	struct jalad_codec_ctx *own = NULL;
	enum jalad_status st;
	uint64_t t0 = jalad_now_ns();

	JALAD_FORWARD(check_params(p, t, n));
	JALAD_RETURN_IF(!dst || !out_len, JALAD_ERR_INVALID_ARG, "codec: NULL output buffer");
	JALAD_RETURN_IF(cap < 4 + (p->crc ? 4u : 0u), JALAD_ERR_LIMIT,
			"codec: output buffer of %zu bytes too small", cap);
	if (stats) {
		memset(stats, 0, sizeof *stats);
		stats->ntensors = n;
	}
	if (!ctx) {
		st = jalad_codec_ctx_create(&own);
		if (st != JALAD_OK)
			goto fail;
		ctx = own;
	}
	st = encode_body(ctx, p, t, n, dst, cap, out_len, stats);
	if (st != JALAD_OK)
		goto fail;
	if (stats) {
		stats->bytes = *out_len;
		stats->total_ns = jalad_now_ns() - t0;
	}
fail:
	jalad_codec_ctx_free(own);
	return st;
}

/* ---- parsing ----------------------------------------------------------------- */

struct layout {
	struct jalad_codec_info info;
	size_t range_off[JALAD_CODEC_MAX_TENSORS];   /* first (min, max) pair */
	size_t payload_off[JALAD_CODEC_MAX_TENSORS];
};

static enum jalad_status parse(const uint8_t *buf, size_t len, const struct jalad_codec_limits *lim,
			       struct layout *L)
{
	struct jalad_codec_limits dl;
	struct jalad_codec_info *info = &L->info;
	size_t pos, end, scratch_max = 0;

	if (!lim) {
		jalad_codec_limits_default(&dl);
		lim = &dl;
	}
	memset(info, 0, sizeof *info);
	JALAD_RETURN_IF(len < 1, JALAD_ERR_TRUNCATED, "codec: empty container");
	JALAD_RETURN_IF(buf[0] != CONTAINER_MAGIC, JALAD_ERR_FORMAT, "codec: not a container (bad magic)");
	JALAD_RETURN_IF(len >= 5 && memcmp(buf, "JLDC", 4) == 0, JALAD_ERR_UNSUPPORTED,
			"codec: container version %u ('JLDC' layout), this build reads %d", buf[4],
			CONTAINER_VERSION);
	JALAD_RETURN_IF(len < 4, JALAD_ERR_TRUNCATED, "codec: container of %zu bytes has no header", len);
	JALAD_RETURN_IF(buf[1] != CONTAINER_VERSION, JALAD_ERR_UNSUPPORTED,
			"codec: container version %u, this build reads %d", buf[1], CONTAINER_VERSION);
	unsigned flags = buf[2];
	JALAD_RETURN_IF(flags & ~(FLAG_CRC | FLAG_DICT), JALAD_ERR_UNSUPPORTED,
			"codec: unknown container flags 0x%02x", flags);
	uint32_t nt;
	pos = 3;
	int vr = varint_get(buf, &pos, len, &nt);
	JALAD_RETURN_IF(vr == 0, JALAD_ERR_TRUNCATED, "codec: container ends in its tensor count");
	JALAD_RETURN_IF(vr < 0, JALAD_ERR_FORMAT, "codec: malformed tensor count");
	JALAD_RETURN_IF(nt == 0, JALAD_ERR_FORMAT, "codec: container holds no tensors");
	JALAD_RETURN_IF(nt > JALAD_CODEC_MAX_TENSORS || nt > (uint32_t)lim->max_tensors, JALAD_ERR_LIMIT,
			"codec: container holds %u tensors, the limit is %d", nt,
			lim->max_tensors < JALAD_CODEC_MAX_TENSORS ? lim->max_tensors : JALAD_CODEC_MAX_TENSORS);
	int n = (int)nt;
	info->ntensors = n;
	info->crc = (flags & FLAG_CRC) != 0;
	end = len;
	if (info->crc) {
		JALAD_RETURN_IF(end - pos < 4, JALAD_ERR_TRUNCATED, "codec: container ends before its CRC");
		end -= 4;
	}
	if (flags & FLAG_DICT) {
		JALAD_RETURN_IF(end - pos < 4, JALAD_ERR_TRUNCATED, "codec: container ends in its dictionary id");
		info->dict_id = jalad_get_u32(buf + pos);
		pos += 4;
	}

	for (int i = 0; i < n; i++) {
		struct jalad_codec_tensor_info *ti = &info->tensor[i];
		JALAD_RETURN_IF(end - pos < 3, JALAD_ERR_TRUNCATED, "codec: tensor %d: header truncated", i);
		const uint8_t *h = buf + pos;
		pos += 3;
		unsigned dtype = h[0] & 3u, qmode = (h[0] >> 2) & 3u, ndim = h[0] >> 4;
		JALAD_RETURN_IF(dtype != DTYPE_F32, JALAD_ERR_UNSUPPORTED, "codec: tensor %d: dtype %u", i, dtype);
		JALAD_RETURN_IF(ndim > JALAD_CODEC_MAX_DIMS, JALAD_ERR_FORMAT,
				"codec: tensor %d: %u dims, at most %d", i, ndim, JALAD_CODEC_MAX_DIMS);
		JALAD_RETURN_IF(qmode > JALAD_QMODE_CHANNEL, JALAD_ERR_UNSUPPORTED,
				"codec: tensor %d: quantizer mode %u", i, qmode);
		JALAD_RETURN_IF(h[2] >= JALAD_CODER_COUNT, JALAD_ERR_UNSUPPORTED,
				"codec: tensor %d: coder %u", i, h[2]);
		ti->ndim = (int)ndim;
		ti->qmode = (enum jalad_codec_qmode)qmode;
		ti->bits = h[1];
		ti->coder = (enum jalad_coder)h[2];
		JALAD_RETURN_IF(ti->qmode == JALAD_QMODE_F32 ? ti->bits != 0 : !(ti->bits >= 1 && (ti->bits <= 8 || ti->bits == 16)),
				JALAD_ERR_FORMAT, "codec: tensor %d: %d bits with quantizer mode %d", i,
				ti->bits, ti->qmode);
		JALAD_RETURN_IF(!codec_coder_allowed(ti->coder, ti->bits), JALAD_ERR_FORMAT,
				"codec: tensor %d: coder %s cannot carry %d-bit values", i,
				jalad_coder_name(ti->coder), ti->bits);
		if (jalad_coder_uses_dict(ti->coder)) {
			JALAD_RETURN_IF(!(flags & FLAG_DICT), JALAD_ERR_FORMAT,
					"codec: tensor %d uses a shared dictionary the container does not name", i);
			info->has_dict = 1;
		}
		JALAD_RETURN_IF(ti->qmode == JALAD_QMODE_CHANNEL && ti->ndim < 2, JALAD_ERR_FORMAT,
				"codec: tensor %d: per-channel ranges need >= 2 dims, has %d", i, ti->ndim);

		uint64_t count = 1;
		for (int d = 0; d < ti->ndim; d++) {
			uint32_t v;
			vr = varint_get(buf, &pos, end, &v);
			JALAD_RETURN_IF(vr == 0, JALAD_ERR_TRUNCATED, "codec: tensor %d: dims truncated", i);
			JALAD_RETURN_IF(vr < 0, JALAD_ERR_FORMAT, "codec: tensor %d: dim %d is malformed", i, d);
			ti->dims[d] = v;
			JALAD_RETURN_IF(__builtin_mul_overflow(count, (uint64_t)ti->dims[d], &count),
					JALAD_ERR_LIMIT, "codec: tensor %d: element count overflows", i);
		}
		JALAD_RETURN_IF(count > INT_MAX, JALAD_ERR_LIMIT,
				"codec: tensor %d: %llu elements, at most 2^31 - 1", i, (unsigned long long)count);
		ti->count = count;
		info->total_elements += count;
		JALAD_RETURN_IF(info->total_elements > lim->max_elements, JALAD_ERR_LIMIT,
				"codec: tensor %d: container holds %llu elements, the limit is %llu", i,
				(unsigned long long)info->total_elements,
				(unsigned long long)lim->max_elements);
		/* Scratch: the symbols, and for 16 bits also their byte planes. */
		size_t scratch = (size_t)count * (ti->bits == 16 ? 4 : ti->bits ? 1 : 0);
		scratch_max = scratch > scratch_max ? scratch : scratch_max;
		JALAD_RETURN_IF(scratch_max > lim->max_bytes, JALAD_ERR_LIMIT,
				"codec: tensor %d: decoding needs %zu bytes of scratch, the limit is %zu", i,
				scratch_max, lim->max_bytes);

		size_t nranges = ti->qmode == JALAD_QMODE_F32 ? 0
				 : ti->qmode == JALAD_QMODE_TENSOR ? 1 : (size_t)ti->dims[1];
		JALAD_RETURN_IF((end - pos) / 8 < nranges, JALAD_ERR_TRUNCATED,
				"codec: tensor %d: %zu ranges truncated", i, nranges);
		L->range_off[i] = pos;
		for (size_t r = 0; r < nranges; r++, pos += 8) {
			float mn = jalad_get_f32(buf + pos), mx = jalad_get_f32(buf + pos + 4);
			/* written so that NaN fails too */
			JALAD_RETURN_IF(!(mn <= mx && mn >= -FLT_MAX && mx <= FLT_MAX), JALAD_ERR_FORMAT,
					"codec: tensor %d: range %zu [%g, %g] is not finite and ordered", i, r,
					(double)mn, (double)mx);
		}

		uint64_t plen_max, plen;
		size_t pw = plen_width(ti->bits, count, &plen_max);
		JALAD_RETURN_IF(end - pos < pw, JALAD_ERR_TRUNCATED, "codec: tensor %d: payload length truncated", i);
		plen = get_uw(buf + pos, pw);
		pos += pw;
		JALAD_RETURN_IF(plen > plen_max || plen > UINT32_MAX, JALAD_ERR_FORMAT,
				"codec: tensor %d: payload length %llu is over the bound %llu for %llu values", i,
				(unsigned long long)plen, (unsigned long long)plen_max, (unsigned long long)count);
		ti->payload_bytes = (uint32_t)plen;
		JALAD_RETURN_IF(ti->payload_bytes > end - pos, JALAD_ERR_TRUNCATED,
				"codec: tensor %d: payload length %u exceeds the remaining %zu bytes", i,
				ti->payload_bytes, end - pos);
		L->payload_off[i] = pos;
		pos += ti->payload_bytes;
	}
	JALAD_RETURN_IF(pos != end, JALAD_ERR_FORMAT, "codec: %zu trailing bytes after the last tensor",
			end - pos);
	if (info->crc) {
		uint32_t want = jalad_get_u32(buf + end), got = jalad_crc32c(0, buf, end);
		JALAD_RETURN_IF(want != got, JALAD_ERR_CHECKSUM,
				"codec: CRC mismatch (stored %08x, computed %08x)", want, got);
	}
	return JALAD_OK;
}

enum jalad_status jalad_codec_peek(const uint8_t *buf, size_t len, const struct jalad_codec_limits *lim,
				   struct jalad_codec_info *info)
{
	struct layout L; /* ~7 KiB: on the stack, no allocation per message */
	JALAD_RETURN_IF(!buf || !info, JALAD_ERR_INVALID_ARG, "codec: peek: NULL argument");
	JALAD_FORWARD(parse(buf, len, lim, &L));
	*info = L.info;
	return JALAD_OK;
}

/* ---- decoding ----------------------------------------------------------------- */

static void dequantize_tensor(struct jalad_codec_ctx *ctx, const struct jalad_codec_tensor_info *ti,
			      const uint8_t *ranges, float *out)
{
	size_t count = (size_t)ti->count;
	if (ti->qmode == JALAD_QMODE_TENSOR) {
		float mn = jalad_get_f32(ranges), mx = jalad_get_f32(ranges + 4);
		if (ti->bits == 16)
			codec_dequantize16((const uint16_t *)(const void *)ctx->sym, count, mn, mx, out);
		else
			codec_dequantize8(ctx->sym, count, ti->bits, mn, mx, out);
		return;
	}
	size_t nb = (size_t)ti->dims[0], nc = (size_t)ti->dims[1];
	size_t inner = nb && nc ? count / (nb * nc) : 0;
	for (size_t b = 0; b < nb; b++)
		for (size_t c = 0; c < nc; c++) {
			size_t off = (b * nc + c) * inner;
			float mn = jalad_get_f32(ranges + 8 * c), mx = jalad_get_f32(ranges + 8 * c + 4);
			if (ti->bits == 16)
				codec_dequantize16((const uint16_t *)(const void *)ctx->sym + off, inner, mn, mx,
						   out + off);
			else
				codec_dequantize8(ctx->sym + off, inner, ti->bits, mn, mx, out + off);
		}
}

static enum jalad_status decode_body(struct jalad_codec_ctx *ctx, const uint8_t *buf,
				     const struct layout *L, const struct jalad_codec_dict *dict,
				     float *const *outs, struct jalad_codec_stats *stats)
{
	const struct jalad_codec_info *info = &L->info;
	for (int i = 0; i < info->ntensors; i++) {
		const struct jalad_codec_tensor_info *ti = &info->tensor[i];
		const uint8_t *src = buf + L->payload_off[i];
		size_t count = (size_t)ti->count;
		uint64_t t0 = jalad_now_ns(), t1;
		enum jalad_status st;
		if (ti->bits == 0) {
			st = codec_payload_decode(ctx, ti->coder, 0, NULL, src, ti->payload_bytes, outs[i], count,
						  (struct codec_geom){ 0, 0 });
			t1 = jalad_now_ns();
		} else {
			st = codec_reserve(&ctx->sym, &ctx->sym_cap, count * sym_bytes(ti->bits));
			if (st == JALAD_OK)
				st = codec_payload_decode(ctx, ti->coder, ti->bits, dict, src, ti->payload_bytes,
							  ctx->sym, count, geom_of(ti->ndim, ti->dims, count));
			t1 = jalad_now_ns();
			/* count 0 skips the channel loops, whose dims[0] x dims[1]
			 * could be huge when another dim is 0 */
			if (st == JALAD_OK && count)
				dequantize_tensor(ctx, ti, buf + L->range_off[i], outs[i]);
		}
		if (st != JALAD_OK) {
			jalad_error_prefix("codec: tensor %d (%s): ", i, jalad_coder_name(ti->coder));
			return st;
		}
		if (stats) {
			uint64_t t2 = jalad_now_ns();
			stats->entropy_ns += t1 - t0;
			stats->quant_ns += t2 - t1;
			stats->tensor[i].coder = ti->coder;
			stats->tensor[i].symbols = ti->count;
			stats->tensor[i].payload_bytes = ti->payload_bytes;
		}
	}
	return JALAD_OK;
}

enum jalad_status jalad_codec_decode(struct jalad_codec_ctx *ctx, const uint8_t *buf, size_t len,
				     const struct jalad_codec_limits *lim,
				     const struct jalad_codec_dict *dict, float *const *outs,
				     const size_t *caps, int nouts, struct jalad_codec_stats *stats)
{
	struct jalad_codec_ctx *own = NULL;
	struct layout L;
	const struct jalad_codec_info *info = &L.info;
	enum jalad_status st;
	uint64_t t0 = jalad_now_ns();

	JALAD_RETURN_IF(!buf || !outs || !caps, JALAD_ERR_INVALID_ARG, "codec: decode: NULL argument");
	st = parse(buf, len, lim, &L);
	if (st != JALAD_OK)
		goto fail;
	if (nouts != info->ntensors) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG, "codec: container holds %d tensors, %d outputs given",
				info->ntensors, nouts);
		goto fail;
	}
	for (int i = 0; i < nouts; i++)
		if (caps[i] < info->tensor[i].count || (info->tensor[i].count && !outs[i])) {
			st = jalad_fail(JALAD_ERR_INVALID_ARG,
					"codec: output %d holds %zu values, tensor has %llu", i, caps[i],
					(unsigned long long)info->tensor[i].count);
			goto fail;
		}
	if (info->has_dict) {
		if (!dict) {
			st = jalad_fail(JALAD_ERR_MISMATCH, "codec: container needs dictionary %08x, none given",
					info->dict_id);
			goto fail;
		}
		if (dict->id != info->dict_id) {
			st = jalad_fail(JALAD_ERR_MISMATCH,
					"codec: container was made with dictionary %08x, decoder has %08x",
					info->dict_id, dict->id);
			goto fail;
		}
	}
	if (stats) {
		memset(stats, 0, sizeof *stats);
		stats->ntensors = info->ntensors;
		stats->bytes = len;
	}
	if (!ctx) {
		st = jalad_codec_ctx_create(&own);
		if (st != JALAD_OK)
			goto fail;
		ctx = own;
	}
	st = decode_body(ctx, buf, &L, dict, outs, stats);
	if (st == JALAD_OK && stats)
		stats->total_ns = jalad_now_ns() - t0;
fail:
	jalad_codec_ctx_free(own);
	return st;
}
