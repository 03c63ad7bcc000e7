/*
 * Private declarations of the codec module (quantizer, Huffman, coder
 * dispatch, container). Nothing here is installed.
 */
#ifndef JALAD_CODEC_IMPL_H
#define JALAD_CODEC_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "common/common_impl.h"
#include "jalad/codec.h"

/* The quantizer's rounding trick and the determinism promise in codec.h rely
 * on every float operation being rounded to binary32 as written. */
#include <float.h>
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "src/codec needs FLT_EVAL_METHOD == 0 (SSE or NEON float math, not x87)"
#endif

#define CODEC_HUFF_TABLE_SIZE (1u << JALAD_CODEC_HUFF_MAX_LEN)

/* One canonical Huffman code over an alphabet of at most 256 symbols, with
 * both the encoder's and the decoder's tables. */
struct codec_huff_table {
	uint8_t len[256];     /* code length per symbol, 0 = no code */
	uint32_t enc[256];    /* bit-reversed code | len << 16 (LSB-first writer) */
	uint16_t dec[CODEC_HUFF_TABLE_SIZE]; /* (1 << maxlen) used: sym | len << 8 */
	int maxlen;           /* longest code; the decoder table has 2^maxlen entries */
};

/* HUFFMAN_2D: code lengths limited to 12 bits like HUFFMAN (an 11-bit limit
 * costs 1.6% on 28x28 maps). Decoding looks up the next 8 bits in a
 * 256-entry table per context (32 KiB for all 64, which stays in cache
 * between messages; full 12-bit tables would be 512 KiB and miss); the few
 * longer codes are finished canonically, bit by bit. */
#define CODEC_H2D_MAX_LEN 12
#define CODEC_H2D_FAST_BITS 8

/* The context tables of HUFFMAN_2D (codec_huff2d.c): for each of the
 * JALAD_CODEC_2D_CONTEXTS contexts a canonical code over the 2^(2 bits)
 * units (a symbol and the one below it). About 100 KiB. */
struct codec_h2d {
	int bits;             /* 1..JALAD_CODEC_2D_MAX_BITS */
	uint8_t len[JALAD_CODEC_2D_CONTEXTS][256];  /* code length per unit, 1..12 */
	uint16_t enc[JALAD_CODEC_2D_CONTEXTS][256]; /* bit-reversed code (LSB-first) */
	/* [ctx][next 8 bits] = unit | len << 8; len 0: a code longer than 8 */
	uint16_t fast[JALAD_CODEC_2D_CONTEXTS][1 << CODEC_H2D_FAST_BITS];
	/* canonical decoding of long codes: per length, the first code, how
	 * many codes, and where their units start in sorted[] */
	uint16_t first[JALAD_CODEC_2D_CONTEXTS][CODEC_H2D_MAX_LEN + 1];
	uint16_t count[JALAD_CODEC_2D_CONTEXTS][CODEC_H2D_MAX_LEN + 1];
	uint16_t base[JALAD_CODEC_2D_CONTEXTS][CODEC_H2D_MAX_LEN + 1];
	uint8_t sorted[JALAD_CODEC_2D_CONTEXTS][256]; /* units by (length, unit) */
};

struct jalad_codec_dict {
	int bits;             /* symbol bits the dictionary was learned for */
	int nplanes;          /* 1, or 2 byte planes for bits = 16 */
	int abits;            /* alphabet bits per plane: bits, or 8 for planes */
	uint32_t id;          /* CRC-32C of the serialized form */
	struct codec_huff_table plane[2];
	struct codec_h2d *h2d; /* HUFFMAN_2D tables, or NULL */
};

struct jalad_codec_ctx {
	uint8_t *sym;         /* quantized symbols of one tensor */
	size_t sym_cap;
	uint8_t *plane;       /* byte planes of 16-bit symbols */
	size_t plane_cap;
	uint8_t *tmp;         /* AUTO: the current trial's payload */
	size_t tmp_cap;
	uint8_t *best;        /* AUTO: the best payload so far */
	size_t best_cap;
	uint8_t *work;        /* rANS output when dst is below htscodecs' bound */
	size_t work_cap;
	float *ranges;        /* encoder: per-channel (min, max) pairs */
	size_t ranges_cap;    /* in floats */
	void *zc;             /* ZSTD_CCtx, made on first use */
	void *zd;             /* ZSTD_DCtx, made on first use */
	struct codec_huff_table huff; /* the per-message Huffman code */
};

/* Grow *buf to at least need bytes (contents are not kept). */
enum jalad_status codec_reserve(uint8_t **buf, size_t *cap, size_t need);

/* ---- codec_quant.c -------------------------------------------------------- */
/* 0 if all finite, -1 if some value is NaN or Inf. */
int codec_minmax_finite(const float *x, size_t n, float *mn, float *mx);
void codec_quantize8(const float *x, size_t n, int bits, float mn, float mx, uint8_t *q);
void codec_quantize16(const float *x, size_t n, float mn, float mx, uint16_t *q);
void codec_dequantize8(const uint8_t *q, size_t n, int bits, float mn, float mx, float *x);
void codec_dequantize16(const uint16_t *q, size_t n, float mn, float mx, float *x);
void codec_hist8(const uint8_t *s, size_t n, uint32_t hist[256]);

/* ---- codec_huff.c --------------------------------------------------------- */
/* Length-limited code lengths (package-merge, limit maxlen) for count[0..nsym). */
void codec_huff_lengths(const uint64_t *count, int nsym, int maxlen, uint8_t *len);
/* Build the encoder/decoder tables from lengths; the lengths must form a
 * complete prefix code of at least two symbols, each <= the limit.
 * @return JALAD_OK or JALAD_ERR_FORMAT. */
enum jalad_status codec_huff_build(struct codec_huff_table *t, const uint8_t *len, int nsym);
size_t codec_huff_bound(int abits, size_t n);
size_t codec_huff_shared_bound(size_t n);
/* Self-describing stream: table then bits. */
enum jalad_status codec_huff_encode(struct codec_huff_table *scratch, int abits,
				    const uint8_t *s, size_t n, uint8_t *dst, size_t cap,
				    size_t *out_len);
enum jalad_status codec_huff_decode(struct codec_huff_table *scratch, int abits,
				    const uint8_t *src, size_t len, uint8_t *out, size_t n);
/* Bits only, with a table known to both sides. */
enum jalad_status codec_huff_encode_with(const struct codec_huff_table *t, const uint8_t *s,
					 size_t n, uint8_t *dst, size_t cap, size_t *out_len);
enum jalad_status codec_huff_decode_with(const struct codec_huff_table *t, const uint8_t *src,
					 size_t len, uint8_t *out, size_t n);

/* ---- codec_huff2d.c ------------------------------------------------------- */
/* Tables from per-context code lengths len[ctx][unit] (each 1..12, a
 * complete prefix code per context). @return JALAD_OK, JALAD_ERR_FORMAT or
 * JALAD_ERR_NOMEM. Free with codec_h2d_free(). */
enum jalad_status codec_h2d_build(int bits, const uint8_t (*len)[256], struct codec_h2d **out);
void codec_h2d_free(struct codec_h2d *t);
/* Learn code lengths from hist[ctx << (2 bits) | unit], then build. */
enum jalad_status codec_h2d_learn(int bits, const uint64_t *hist, struct codec_h2d **out);
size_t codec_h2d_bound(size_t n);
/* How HUFFMAN_2D sees a tensor of count values: rows of width (its last
 * dim) in planes of height rows (dims[ndim - 2] for ndim >= 3, else 0: one
 * plane). */
void codec_h2d_geom(int ndim, const int64_t *dims, size_t count, size_t *width, size_t *height);
/* n symbols seen as rows of width (n a multiple of width, width >= 1) in
 * planes of height rows (0: one plane). */
enum jalad_status codec_h2d_encode(const struct codec_h2d *t, const uint8_t *s, size_t n,
				   size_t width, size_t height, uint8_t *dst, size_t cap,
				   size_t *out_len);
enum jalad_status codec_h2d_decode(const struct codec_h2d *t, const uint8_t *src, size_t len,
				   uint8_t *out, size_t n, size_t width, size_t height);

/* ---- codec_coders.c ------------------------------------------------------- */
/* Encode / decode one tensor's payload with a concrete coder (not AUTO).
 * bits 0 means sym is float[n]. */
/* The shape HUFFMAN_2D sees (codec_h2d_geom()); { 0, 0 } is one row. */
struct codec_geom {
	size_t width, height;
};
enum jalad_status codec_payload_encode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				       int bits, const struct jalad_codec_dict *dict,
				       int zstd_level, const void *sym, size_t n, struct codec_geom g,
				       uint8_t *dst, size_t cap, size_t *out_len);
enum jalad_status codec_payload_decode(struct jalad_codec_ctx *ctx, enum jalad_coder coder,
				       int bits, const struct jalad_codec_dict *dict,
				       const uint8_t *src, size_t len, void *sym, size_t n,
				       struct codec_geom g);
/* Try every coder allowed for bits and keep the smallest payload; a
 * dictionary coder's payload counts dict_cost bytes more (the container's
 * dictionary id, when no earlier tensor made it carry one). */
enum jalad_status codec_payload_encode_auto(struct jalad_codec_ctx *ctx, int bits,
					    const struct jalad_codec_dict *dict, int zstd_level,
					    const void *sym, size_t n, struct codec_geom g, size_t dict_cost,
					    uint8_t *dst, size_t cap, size_t *out_len, enum jalad_coder *chosen);

/* 1 if coder can carry symbols of bits (0 = float32). */
int codec_coder_allowed(enum jalad_coder coder, int bits);

#endif /* JALAD_CODEC_IMPL_H */
