/*
 * jalad/codec.h - feature-map codec: quantizer, entropy coders, container.
 *
 * The edge compresses the tensors that cross a cut, the cloud restores them.
 * A message (a "container") carries one or more float32 tensors, because a
 * cut in a DAG can cross several. Each tensor is either sent as raw float32
 * (what Neurosurgeon does) or quantized with min-max quantization as in
 * JALAD:
 *
 *     q  = round((x - min) / (max - min) * (2^c - 1))      c = 1..8 or 16
 *     x' = min + q * (max - min) / (2^c - 1)
 *
 * with one (min, max) per tensor or one per channel (dim 1 of NCHW), and the
 * c-bit symbols are entropy coded by one of enum jalad_coder. A tensor whose
 * only readers are ReLUs (jalad_codec_tensor.relu) is quantized over the
 * range of max(x, 0): min and max are clamped at 0 and negative values are
 * sent as level 0, which changes nothing after the ReLU and spends every
 * level on the values that matter. Symbols are
 * uint8_t for c <= 8 and uint16_t for c = 16. Coders other than RAW see
 * 16-bit symbols as two byte planes (low bytes, then high bytes), each coded
 * on its own; RAW stores them as u16 LE.
 *
 * Coder notes: HUFFMAN is canonical Huffman with code lengths limited to 12
 * bits (optimal under the limit, package-merge), its table in the payload
 * (about 2 + 2^c / 2 bytes); HUFFMAN_SHARED takes the table from a
 * struct jalad_codec_dict learned from calibration data, which pays off on
 * small messages; HUFFMAN_2D (c = 1..4) also takes its tables from the
 * dictionary: it codes a symbol jointly with the one below it, with one of
 * 64 tables chosen by the left neighbours and the row above (feature maps
 * are images, and a shared model pays no table per message), see
 * src/codec/codec_huff2d.c; RANS0/RANS1 are htscodecs' order-0/order-1 rANS
 * (static frequency tables in the payload); ARITH0/ARITH1 are htscodecs'
 * adaptive order-0/order-1 arithmetic coders (arith_dynamic: no table is
 * sent, the model learns as it codes, so they win on small messages but
 * are several times slower); ZSTD is a generic baseline; AUTO encodes with
 * every coder and keeps the smallest, so it costs the sum of their times;
 * it takes a dictionary coder (HUFFMAN_SHARED, HUFFMAN_2D) only when
 * strictly smaller, and a container carries the dictionary id only when
 * some tensor uses one.
 *
 * Typical use on the sending side:
 *
 *     struct jalad_codec_ctx *ctx;
 *     jalad_codec_ctx_create(&ctx);                    // once per thread
 *     struct jalad_codec_tensor t = { feat, 4, { 1, 64, 56, 56 }, 0 };
 *     struct jalad_codec_params p = { .bits = 4, .coder = JALAD_CODER_RANS0, .crc = 1 };
 *     size_t cap = jalad_codec_bound(&p, &t, 1), len;
 *     uint8_t *buf = malloc(cap);
 *     st = jalad_codec_encode(ctx, &p, &t, 1, buf, cap, &len, NULL);
 *
 * and on the receiving side:
 *
 *     struct jalad_codec_info info;
 *     st = jalad_codec_peek(buf, len, NULL, &info);    // shapes, counts
 *     float *out[1] = { malloc(info.tensor[0].count * sizeof(float)) };
 *     size_t caps[1] = { info.tensor[0].count };
 *     st = jalad_codec_decode(ctx, buf, len, NULL, NULL, out, caps, 1, NULL);
 *
 * Container format (version 2; integers little-endian; "v" is an unsigned
 * LEB128 varint of at most 5 bytes, value <= UINT32_MAX, in its shortest
 * form):
 *
 *     u8 'J' u8 version (2) u8 flags v ntensors [u32 dict_id if flags & 2]
 *     per tensor:
 *       u8 dtype (bits 0-1, 1 = float32) | qmode << 2 | ndim << 4
 *       u8 bits u8 coder
 *       v dims[ndim]
 *       qmode 1: f32 min, f32 max; qmode 2: dims[1] x (f32 min, f32 max)
 *       payload_len as a W-byte LE integer, payload
 *     [u32 CRC-32C of every byte before it, if flags & 1]
 *
 * W (1..5) is the fewest bytes that hold the largest
 * jalad_codec_symbols_bound() of any coder for the tensor's bits and element
 * count, so it follows from the header and is the same for every coder.
 * A 2-d or 4-d tensor with small dims and a CRC costs 23-26 bytes of header
 * and framing (version 1: 37-45).
 * Version-1 containers ("JLDC") are refused as JALAD_ERR_UNSUPPORTED.
 *
 * The decoder validates every field against the end of the buffer and the
 * caller's struct jalad_codec_limits before it reads or allocates, and the
 * entropy decoders must produce exactly the declared number of symbols.
 * Damage is reported as JALAD_ERR_TRUNCATED (input ends early),
 * JALAD_ERR_FORMAT (a field or payload is malformed), JALAD_ERR_CHECKSUM
 * (CRC mismatch), JALAD_ERR_LIMIT (over a limit), JALAD_ERR_UNSUPPORTED
 * (unknown version/flags/dtype/coder) or JALAD_ERR_MISMATCH (made with a
 * different shared dictionary, or none with the tables a payload needs);
 * jalad_last_error() gives the detail.
 *
 * Results are bit-identical on every machine with IEEE binary32/64 in
 * round-to-nearest mode and FLT_EVAL_METHOD == 0 (x86-64, aarch64): the
 * quantizer rounds with the 1.5 * 2^23 trick after clamping, and the
 * dequantizer's product is exact in double, so FMA contraction cannot change
 * a result. Do not build src/codec with -ffast-math.
 *
 * Threads: a struct jalad_codec_ctx is used by one thread at a time; a
 * struct jalad_codec_dict is immutable and may be shared by all threads.
 */
#ifndef JALAD_CODEC_H
#define JALAD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "jalad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JALAD_CODEC_MAX_DIMS 8
#define JALAD_CODEC_MAX_TENSORS 64   /* per container, a hard format limit */
#define JALAD_CODEC_HUFF_MAX_LEN 12  /* Huffman code length limit, in bits */
#define JALAD_CODEC_DICT_MAX_BYTES 8213 /* largest serialized dictionary */
#define JALAD_CODEC_2D_CONTEXTS 64     /* context tables of a 2-d dictionary */
#define JALAD_CODEC_2D_MAX_BITS 4      /* huffman-2d carries c = 1..4 */
#define JALAD_CODEC_DICT_ID_BYTES 4    /* a container names its dictionary by a u32 id,
					 only when some tensor uses it */

/* Entropy coders. The values are stored in containers: never renumber. */
enum jalad_coder {
	JALAD_CODER_RAW = 0,            /* c-bit packing (float32: raw LE bytes) */
	JALAD_CODER_HUFFMAN = 1,        /* canonical Huffman, lengths in payload */
	JALAD_CODER_HUFFMAN_SHARED = 2, /* Huffman with lengths from a dict */
	JALAD_CODER_RANS0 = 3,          /* htscodecs rANS 4x16, order 0 */
	JALAD_CODER_RANS1 = 4,          /* htscodecs rANS 4x16, order 1 */
	JALAD_CODER_ZSTD = 5,           /* zstd (level params.zstd_level) */
	JALAD_CODER_ARITH0 = 6,         /* htscodecs adaptive arithmetic, order 0 */
	JALAD_CODER_ARITH1 = 7,         /* htscodecs adaptive arithmetic, order 1 */
	JALAD_CODER_HUFFMAN_2D = 8,     /* Huffman of vertical symbol pairs, tables
					   from a dict chosen by 2-d context (c <= 4) */
	JALAD_CODER_COUNT = 9,
	JALAD_CODER_AUTO = 255,         /* encode only: smallest of all, per tensor */
};

/* How a tensor's values are represented (stored in containers). */
enum jalad_codec_qmode {
	JALAD_QMODE_F32 = 0,         /* raw float32 pass-through, bits = 0 */
	JALAD_QMODE_TENSOR = 1,      /* one (min, max) for the whole tensor */
	JALAD_QMODE_CHANNEL = 2,     /* one (min, max) per channel (dim 1) */
};

/* A tensor to encode. Borrowed: data must stay valid during the call. */
struct jalad_codec_tensor {
	const float *data;                  /* dense, row-major (e.g. NCHW) */
	int ndim;                           /* 0..JALAD_CODEC_MAX_DIMS; 0 = scalar */
	int64_t dims[JALAD_CODEC_MAX_DIMS]; /* each 0..UINT32_MAX */
	int relu;                           /* 1: the reader applies max(x, 0) (see
					       jalad_model_tensor_relu_only()), so
					       ranges start at 0 or above and
					       values below 0 are sent as 0;
					       ignored for float32 pass-through */
};

struct jalad_codec_params {
	int bits;               /* 1..8 or 16; 0 = float32 pass-through */
	enum jalad_coder coder; /* float32 allows RAW, ZSTD or AUTO */
	int per_channel;        /* 1: a range per dim-1 channel (tensors with ndim >= 2) */
	int crc;                /* 1: append a CRC-32C */
	const struct jalad_codec_dict *dict; /* borrowed; for HUFFMAN_SHARED and
						HUFFMAN_2D (AUTO tries both) */
	int zstd_level;         /* 0 = 1 */
};

/* Limits the decoder enforces before it allocates or writes. */
struct jalad_codec_limits {
	int max_tensors;       /* per container, <= JALAD_CODEC_MAX_TENSORS */
	uint64_t max_elements; /* sum of element counts over the container */
	size_t max_bytes;      /* decoder scratch for one tensor: 1 byte per value,
				  4 for 16-bit values (symbols + byte planes) */
};

/* What jalad_codec_peek() learns about one tensor. */
struct jalad_codec_tensor_info {
	int ndim;
	int64_t dims[JALAD_CODEC_MAX_DIMS];
	uint64_t count;                 /* elements = product of dims */
	int bits;                       /* 0 for float32 pass-through */
	enum jalad_codec_qmode qmode;
	enum jalad_coder coder;         /* never AUTO */
	uint32_t payload_bytes;
};

struct jalad_codec_info {
	int ntensors;
	int crc;              /* 1 if the container carries (and passed) a CRC */
	int has_dict;         /* 1 if some tensor needs a shared dictionary */
	uint32_t dict_id;     /* that dictionary's id */
	uint64_t total_elements;
	struct jalad_codec_tensor_info tensor[JALAD_CODEC_MAX_TENSORS];
};

/* Optional measurements of one encode or decode call. */
struct jalad_codec_stats {
	uint64_t quant_ns;    /* quantize (encode) or dequantize (decode), incl. min/max */
	uint64_t entropy_ns;  /* entropy coding / decoding */
	uint64_t total_ns;    /* the whole call */
	size_t bytes;         /* container size */
	int ntensors;
	struct {
		enum jalad_coder coder;  /* the concrete coder (what AUTO chose) */
		uint64_t symbols;
		uint32_t payload_bytes;
	} tensor[JALAD_CODEC_MAX_TENSORS];
};

/* Huffman code tables learned from calibration data and known to both
 * sides ahead of time, so small messages need not carry a table: one for
 * HUFFMAN_SHARED, and optionally the 64 context tables of HUFFMAN_2D.
 * Opaque, immutable once made. */
struct jalad_codec_dict;

/* Reusable scratch buffers and coder states; opaque. */
struct jalad_codec_ctx;

/*! Name of a coder ("raw", "huffman", "huffman-shared", "rans0", "rans1",
 *  "zstd", "arith0", "arith1", "huffman-2d", "auto"); "?" for other values.
 *  Static storage. */
JALAD_API const char *jalad_coder_name(enum jalad_coder coder);

/*! 1 if coder needs a shared dictionary (HUFFMAN_SHARED, HUFFMAN_2D). */
JALAD_API int jalad_coder_uses_dict(enum jalad_coder coder);

/*! Parse a coder name as printed by jalad_coder_name().
 *  @return JALAD_OK, or JALAD_ERR_NOT_FOUND. */
JALAD_API enum jalad_status jalad_coder_parse(const char *name, enum jalad_coder *out);

/*! Default limits: 64 tensors, 2^28 elements, 1 GiB of scratch. */
JALAD_API void jalad_codec_limits_default(struct jalad_codec_limits *lim);

/*! Make a context. Buffers grow to the largest message seen and are then
 *  reused, so a warmed-up context does no allocation of its own per message
 *  (htscodecs and zstd keep small internal allocations).
 *  @return JALAD_OK or JALAD_ERR_NOMEM. Free with jalad_codec_ctx_free(). */
JALAD_API enum jalad_status jalad_codec_ctx_create(struct jalad_codec_ctx **out);
/*! Free a context; NULL is a no-op. */
JALAD_API void jalad_codec_ctx_free(struct jalad_codec_ctx *ctx);

/* ---- containers ---------------------------------------------------------- */

/*! Upper bound of the container jalad_codec_encode() writes for these
 *  tensors and params. @return the bound in bytes, or 0 if the arguments are
 *  invalid (the same ones jalad_codec_encode() would refuse). Thread-safe. */
JALAD_API size_t jalad_codec_bound(const struct jalad_codec_params *p,
				   const struct jalad_codec_tensor *t, int n);

/*! Encode n tensors (1..JALAD_CODEC_MAX_TENSORS) into dst[0..cap).
 *  ctx may be NULL (a temporary one is made: slower). stats may be NULL.
 *  Quantized tensors must be finite (NaN/Inf -> JALAD_ERR_INVALID_ARG);
 *  float32 pass-through carries any bits.
 *  @return JALAD_OK and *out_len; JALAD_ERR_INVALID_ARG for bad params or
 *  tensors; JALAD_ERR_LIMIT if cap is too small or a tensor has 2^31 or more
 *  elements; JALAD_ERR_NOMEM. */
JALAD_API enum jalad_status jalad_codec_encode(struct jalad_codec_ctx *ctx,
					       const struct jalad_codec_params *p,
					       const struct jalad_codec_tensor *t, int n,
					       uint8_t *dst, size_t cap, size_t *out_len,
					       struct jalad_codec_stats *stats);

/*! Validate a container's structure (every header field, payload lengths,
 *  limits, the CRC if present) and describe its tensors. Does not run the
 *  entropy decoders. lim may be NULL (defaults). Thread-safe.
 *  @return JALAD_OK, or an error status with jalad_last_error() set. */
JALAD_API enum jalad_status jalad_codec_peek(const uint8_t *buf, size_t len,
					     const struct jalad_codec_limits *lim,
					     struct jalad_codec_info *info);

/*! Decode a container into caller buffers: outs[i] holds caps[i] floats and
 *  must have room for info.tensor[i].count (nouts must equal the tensor
 *  count). dict is needed if the container uses HUFFMAN_SHARED or
 *  HUFFMAN_2D (jalad_codec_peek() tells: has_dict, dict_id). ctx may be
 *  NULL; lim and stats may be NULL. On error the outputs are unspecified.
 *  @return JALAD_OK or an error status (see the overview). */
JALAD_API enum jalad_status jalad_codec_decode(struct jalad_codec_ctx *ctx,
					       const uint8_t *buf, size_t len,
					       const struct jalad_codec_limits *lim,
					       const struct jalad_codec_dict *dict,
					       float *const *outs, const size_t *caps, int nouts,
					       struct jalad_codec_stats *stats);

/* ---- quantizer ----------------------------------------------------------- */

/*! Minimum and maximum of x[0..n) (n = 0 gives 0, 0).
 *  @return JALAD_OK, or JALAD_ERR_INVALID_ARG if some value is NaN or Inf. */
JALAD_API enum jalad_status jalad_codec_minmax(const float *x, size_t n, float *mn, float *mx);

/*! The range of max(x, 0) given the range of x: both ends clamped at 0
 *  (what the encoder does for jalad_codec_tensor.relu). */
JALAD_API void jalad_codec_relu_range(float *mn, float *mx);

/*! Quantize x[0..n) to bits (1..8: uint8_t sym[], 16: uint16_t sym[]) with
 *  the range [mn, mx] (finite, mn <= mx). Values outside the range, and
 *  NaN, are clamped (NaN to 0). mn == mx gives all zeros.
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG. Thread-safe. */
JALAD_API enum jalad_status jalad_codec_quantize(const float *x, size_t n, int bits,
						 float mn, float mx, void *sym);

/*! x[i] = mn + sym[i] * (mx - mn) / (2^bits - 1), evaluated exactly as the
 *  container decoder does. Symbols above 2^bits - 1 are not checked.
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG. Thread-safe. */
JALAD_API enum jalad_status jalad_codec_dequantize(const void *sym, size_t n, int bits,
						   float mn, float mx, float *x);

/*! Empirical entropy of sym[0..n) in bits per value: order 0, and order 1
 *  (each symbol in the context of the previous one; the first symbol's
 *  context is 0). Either output may be NULL. Allocates temporarily.
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG or JALAD_ERR_NOMEM. Thread-safe. */
JALAD_API enum jalad_status jalad_codec_entropy(const void *sym, size_t n, int bits,
						double *h0, double *h1);

/*! Add the symbols to hist[2^bits] (calibration for a dictionary).
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_codec_hist_add(const void *sym, size_t n, int bits,
						 uint64_t *hist);

/*! Add the huffman-2d units of the quantized tensor sym (uint8_t, bits
 *  1..4, shape dims[0..ndim), as a container would code it) to
 *  hist[JALAD_CODEC_2D_CONTEXTS << (2 * bits)], indexed
 *  context << (2 * bits) | unit (calibration for a 2-d dictionary).
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG or JALAD_ERR_LIMIT. */
JALAD_API enum jalad_status jalad_codec_hist2d_add(const uint8_t *sym, int ndim, const int64_t *dims,
						   int bits, uint64_t *hist);

/* ---- one coder on a symbol array (measurements, tools) -------------------- */

/*! Worst-case payload size of coder on n symbols of bits (1..8, 16; 0 =
 *  float32 values for RAW/ZSTD). For AUTO it is the RAW size, since AUTO
 *  keeps the smallest candidate and RAW is one. 0 if invalid. */
JALAD_API size_t jalad_codec_symbols_bound(enum jalad_coder coder, int bits, size_t n);

/*! Entropy-code n symbols (uint8_t for bits <= 8, uint16_t for 16; bits 0:
 *  n floats) with one concrete coder, as a container payload. ctx must not
 *  be NULL; dict is needed for HUFFMAN_SHARED and HUFFMAN_2D only (the
 *  payload does not carry its id: the caller matches dictionaries at this
 *  level). HUFFMAN_2D sees the n symbols as one row here; a container
 *  gives it the tensor's rows (its last dimension as the width).
 *  @return JALAD_OK and *out_len; JALAD_ERR_INVALID_ARG (bad coder, a symbol
 *  >= 2^bits, missing dict); JALAD_ERR_LIMIT (cap too small); JALAD_ERR_NOMEM. */
JALAD_API enum jalad_status jalad_codec_symbols_encode(struct jalad_codec_ctx *ctx,
						       enum jalad_coder coder, int bits,
						       const struct jalad_codec_dict *dict,
						       const void *sym, size_t n,
						       uint8_t *dst, size_t cap, size_t *out_len);

/*! Decode a payload into exactly n symbols (same layout as encode); ctx
 *  must not be NULL. Untrusted input is safe: errors as for containers,
 *  and decoded symbols are checked to fit bits. */
JALAD_API enum jalad_status jalad_codec_symbols_decode(struct jalad_codec_ctx *ctx,
						       enum jalad_coder coder, int bits,
						       const struct jalad_codec_dict *dict,
						       const uint8_t *src, size_t len,
						       void *sym, size_t n);

/* ---- shared dictionaries ------------------------------------------------- */

/*! Learn a Huffman dictionary for bits (1..8, 16) from hist[2^bits]
 *  (symbol counts over calibration data, see jalad_codec_hist_add()).
 *  Every symbol gets a code, seen or not. For bits = 16 the low and high
 *  byte planes get a table each.
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG / JALAD_ERR_NOMEM.
 *  Free with jalad_codec_dict_free(). */
JALAD_API enum jalad_status jalad_codec_dict_learn(int bits, const uint64_t *hist,
						   struct jalad_codec_dict **out);

/*! As jalad_codec_dict_learn(), plus the context tables of HUFFMAN_2D
 *  learned from hist2d (see jalad_codec_hist2d_add()) when bits <= 4 and
 *  hist2d is not NULL; every unit gets a code in every context. */
JALAD_API enum jalad_status jalad_codec_dict_learn2d(int bits, const uint64_t *hist,
						     const uint64_t *hist2d,
						     struct jalad_codec_dict **out);

/*! 1 if the dictionary has HUFFMAN_2D tables. */
JALAD_API int jalad_codec_dict_has_2d(const struct jalad_codec_dict *d);

/*! 1 if coder can code bits-bit symbols with dict: always for a coder that
 *  needs no dictionary; else dict (may be NULL) must be for those bits and,
 *  for HUFFMAN_2D, have 2-d tables. */
JALAD_API int jalad_codec_dict_serves(const struct jalad_codec_dict *dict, enum jalad_coder coder, int bits);

/*! Serialize ("JLDD", version, bits, code lengths, CRC-32C) into dst; at
 *  most JALAD_CODEC_DICT_MAX_BYTES bytes, e.g. to store as hex or base64.
 *  @return JALAD_OK and *out_len, or JALAD_ERR_LIMIT if cap is too small. */
JALAD_API enum jalad_status jalad_codec_dict_save(const struct jalad_codec_dict *d,
						  uint8_t *dst, size_t cap, size_t *out_len);

/*! Load a serialized dictionary (untrusted input is checked).
 *  @return JALAD_OK, JALAD_ERR_FORMAT / TRUNCATED / CHECKSUM / UNSUPPORTED,
 *  JALAD_ERR_NOMEM. Free with jalad_codec_dict_free(). */
JALAD_API enum jalad_status jalad_codec_dict_load(const uint8_t *src, size_t len,
						  struct jalad_codec_dict **out);

/*! The id containers carry (the CRC-32C of the serialized form), and the
 *  bits the dictionary was learned for. */
JALAD_API uint32_t jalad_codec_dict_id(const struct jalad_codec_dict *d);
JALAD_API int jalad_codec_dict_bits(const struct jalad_codec_dict *d);
/*! Bytes of memory a loaded dictionary holds (its decoding tables); 0 for NULL. */
JALAD_API size_t jalad_codec_dict_footprint(const struct jalad_codec_dict *d);

/*! Free a dictionary; NULL is a no-op. */
JALAD_API void jalad_codec_dict_free(struct jalad_codec_dict *d);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_CODEC_H */
