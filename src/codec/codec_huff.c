/*
 * Canonical, length-limited Huffman coding of byte symbols (alphabets of up
 * to 256 symbols).
 *
 * Code lengths are limited to JALAD_CODEC_HUFF_MAX_LEN = 12 bits, as zstd
 * does: a 2^12-entry decoding table (8 KiB) stays in L1, every code fits one
 * table lookup, and four codes fit the 57 bits a 64-bit refill guarantees.
 * The lengths are optimal under that limit (package-merge, Larmore and
 * Hirschberg 1990), so the cost of the limit is only paid when the data
 * would really want longer codes.
 *
 * Bits are written LSB-first (codes bit-reversed), which lets the decoder
 * index its table with the low bits of a little-endian 64-bit load.
 *
 * Self-describing stream (HUFFMAN), for an alphabet of 2^abits symbols:
 *     u8 mode = 0, u8 maxsym, ceil((maxsym + 1) / 2) bytes of 4-bit code
 *         lengths (even symbol in the low nibble), then the bits;
 *     u8 mode = 1, u8 symbol: every value is that symbol (0 bits each).
 * With a shared table (HUFFMAN_SHARED) the stream is the bits alone.
 * The bits are one bit stream, or for n >= 8192 symbols four (u32 lengths
 * of the first three, then the streams), see HUFF_STREAMS. A bit stream
 * ends at the first byte boundary after its last code; the decoder rejects
 * streams that end early or carry trailing bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "codec_impl.h"

#define MAXLEN JALAD_CODEC_HUFF_MAX_LEN

static inline uint64_t load64le(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	return jalad_get_u64(p);
#endif
}

static inline void store64le(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(p, &v, 8);
#else
	jalad_put_u64(p, v);
#endif
}

/* ---- code lengths: package-merge ------------------------------------------ */

struct pm_leaf {
	uint64_t w;
	int sym;
};

static int pm_leaf_cmp(const void *a, const void *b)
{
	const struct pm_leaf *x = a, *y = b;
	if (x->w != y->w)
		return x->w < y->w ? -1 : 1;
	return x->sym - y->sym;
}

/*
 * Package-merge as the coin collector's problem: level maxlen holds the
 * leaves sorted by weight; each level above merges the leaves with the
 * pairs ("packages") of the level below. Taking the 2m - 2 cheapest items of
 * the top level, and recursively the items inside the chosen packages, a
 * symbol's code length is the number of levels where its leaf was taken.
 * Because merging keeps each input's order, the packages taken at a level
 * are always its first ones, so only "leaf or package" needs remembering
 * per item.
 */
void codec_huff_lengths(const uint64_t *count, int nsym, int maxlen, uint8_t *len)
{
	struct pm_leaf leaf[256];
	int16_t item[MAXLEN + 1][512]; /* leaf index, or -1 for a package */
	uint64_t wa[512], wb[512], *wprev = wa, *wcur = wb;
	int nitem[MAXLEN + 1];
	int m = 0;

	memset(len, 0, (size_t)nsym);
	for (int s = 0; s < nsym; s++)
		if (count[s]) {
			leaf[m].w = count[s];
			leaf[m].sym = s;
			m++;
		}
	if (m == 0)
		return;
	if (m == 1) {
		len[leaf[0].sym] = 1;
		return;
	}
	qsort(leaf, (size_t)m, sizeof leaf[0], pm_leaf_cmp);

	for (int k = 0; k < m; k++) {
		item[maxlen][k] = (int16_t)k;
		wprev[k] = leaf[k].w;
	}
	nitem[maxlen] = m;
	for (int d = maxlen - 1; d >= 1; d--) {
		int np = nitem[d + 1] / 2, a = 0, b = 0, k = 0;
		while (a < m || b < np) {
			uint64_t pw = b < np ? wprev[2 * b] + wprev[2 * b + 1] : 0;
			if (a < m && (b >= np || leaf[a].w <= pw)) {
				item[d][k] = (int16_t)a;
				wcur[k++] = leaf[a++].w;
			} else {
				item[d][k] = -1;
				wcur[k++] = pw;
				b++;
			}
		}
		nitem[d] = k;
		uint64_t *t = wprev;
		wprev = wcur;
		wcur = t;
	}

	int take = 2 * m - 2;
	for (int d = 1; d <= maxlen && take > 0; d++) {
		int pk = 0;
		if (take > nitem[d])
			take = nitem[d]; /* cannot happen when m <= 2^maxlen */
		for (int k = 0; k < take; k++) {
			if (item[d][k] >= 0)
				len[leaf[item[d][k]].sym]++;
			else
				pk++;
		}
		take = 2 * pk;
	}
}

/* ---- tables ---------------------------------------------------------------- */

enum jalad_status codec_huff_build(struct codec_huff_table *t, const uint8_t *len, int nsym)
{
	unsigned bl_count[MAXLEN + 1] = { 0 }, next[MAXLEN + 2];
	uint32_t kraft = 0;
	int used = 0, maxlen = 0;

	for (int s = 0; s < nsym; s++) {
		JALAD_RETURN_IF(len[s] > MAXLEN, JALAD_ERR_FORMAT,
				"huffman: symbol %d has code length %u > %d", s, len[s], MAXLEN);
		if (!len[s])
			continue;
		bl_count[len[s]]++;
		kraft += 1u << (MAXLEN - len[s]);
		used++;
		maxlen = len[s] > maxlen ? len[s] : maxlen;
	}
	JALAD_RETURN_IF(used < 2, JALAD_ERR_FORMAT, "huffman: table has %d codes, need at least 2", used);
	JALAD_RETURN_IF(kraft != CODEC_HUFF_TABLE_SIZE, JALAD_ERR_FORMAT,
			"huffman: code lengths are not a complete prefix code (Kraft sum %u/%u)",
			kraft, CODEC_HUFF_TABLE_SIZE);

	/* Canonical codes, MSB-first as in deflate, then reversed for the
	 * LSB-first bit order. */
	next[1] = 0;
	for (int l = 1; l <= MAXLEN; l++)
		next[l + 1] = (next[l] + bl_count[l]) << 1;
	memset(t->len, 0, sizeof t->len);
	memset(t->enc, 0, sizeof t->enc);
	t->maxlen = maxlen;
	for (int s = 0; s < nsym; s++) {
		unsigned l = len[s];
		if (!l)
			continue;
		unsigned code = next[l]++, rev = 0;
		for (unsigned b = 0; b < l; b++)
			rev |= ((code >> b) & 1u) << (l - 1 - b);
		t->len[s] = (uint8_t)l;
		t->enc[s] = rev | l << 16;
		/* A complete code fills every entry, so the decoder never meets
		 * an invalid one. */
		for (unsigned k = rev; k < (1u << maxlen); k += 1u << l)
			t->dec[k] = (uint16_t)(s | l << 8);
	}
	return JALAD_OK;
}

/* ---- bit I/O ----------------------------------------------------------------- */

/* Write the codes of s[0..n) at p. The caller has checked that the exact
 * size fits before end; the 8-byte stores only run where 8 bytes remain. */
static uint8_t *huff_write(const struct codec_huff_table *t, const uint8_t *s, size_t n, uint8_t *p,
			   uint8_t *end)
{
	const uint32_t *enc = t->enc;
	uint64_t acc = 0;
	unsigned nb = 0;
	size_t i = 0;
	/* At most 7 pending bits plus 4 codes of 12 bits: 55 < 64. */
	while (i < n) {
		size_t stop = n - i >= 4 ? i + 4 : n;
		for (; i < stop; i++) {
			uint32_t e = enc[s[i]];
			acc |= (uint64_t)(e & 0xffffu) << nb;
			nb += e >> 16;
		}
		unsigned whole = nb >> 3;
		if (end - p >= 8) {
			store64le(p, acc);
		} else {
			for (unsigned b = 0; b < whole; b++)
				p[b] = (uint8_t)(acc >> (8 * b));
		}
		p += whole;
		acc >>= 8 * whole;
		nb &= 7;
	}
	if (nb)
		*p++ = (uint8_t)acc;
	return p;
}

/* Large inputs are cut into HUFF_STREAMS segments coded as separate bit
 * streams. Decoding one stream is a chain of dependent table lookups; four
 * independent chains keep the core busy (zstd's 4-stream Huffman does the
 * same). Whether a payload is split depends only on n, which both sides
 * know, so no flag is stored. Layout when split: u32 length of streams
 * 0..2, then the four streams (the last one's length is what remains). */
#define HUFF_STREAMS 4
#define HUFF_SPLIT_MIN 8192

static size_t seg_len(size_t n, int k)
{
	size_t seg = (n + HUFF_STREAMS - 1) / HUFF_STREAMS, at = seg * (size_t)k;
	return at >= n ? 0 : n - at < seg ? n - at : seg;
}

/* Code s[0..n) with t. hist is s's histogram: it validates that every
 * symbol has a code and gives the exact size up front. */
static enum jalad_status huff_put(const struct codec_huff_table *t, const uint32_t *hist,
				  const uint8_t *s, size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
	uint64_t nbits = 0;
	for (int k = 0; k < 256; k++) {
		JALAD_RETURN_IF(hist[k] && !t->len[k], JALAD_ERR_INVALID_ARG,
				"huffman: symbol %d has no code in the table", k);
		nbits += (uint64_t)hist[k] * t->len[k];
	}
	int nstreams = n >= HUFF_SPLIT_MIN ? HUFF_STREAMS : 1;
	/* each stream rounds up to a byte */
	size_t need = (size_t)(nstreams - 1) * 4 + (size_t)(nbits / 8) + (size_t)nstreams;
	JALAD_RETURN_IF(need > cap, JALAD_ERR_LIMIT,
			"huffman: output needs up to %zu bytes, buffer has %zu", need, cap);
	if (nstreams == 1) {
		*out_len = (size_t)(huff_write(t, s, n, dst, dst + cap) - dst);
		return JALAD_OK;
	}
	uint8_t *p = dst + 4 * (HUFF_STREAMS - 1);
	for (int k = 0; k < HUFF_STREAMS; k++) {
		uint8_t *start = p;
		p = huff_write(t, s + seg_len(n, 0) * (size_t)k, seg_len(n, k), p, dst + cap);
		if (k < HUFF_STREAMS - 1)
			jalad_put_u32(dst + 4 * k, (uint32_t)(p - start));
	}
	*out_len = (size_t)(p - dst);
	return JALAD_OK;
}

/* Up to 8 bytes from src[pos..len), zero beyond the end. */
static inline uint64_t load_tail(const uint8_t *src, size_t len, size_t pos)
{
	uint64_t v = 0;
	for (unsigned b = 0; b < 8 && pos + b < len; b++)
		v |= (uint64_t)src[pos + b] << (8 * b);
	return v;
}

/* One bit stream being decoded. */
struct hstream {
	const uint8_t *src;
	size_t len;       /* bytes */
	uint8_t *out;
	size_t n;         /* symbols to produce */
	size_t i;         /* symbols produced */
	uint64_t pos;     /* bits consumed */
};

/* Can hs_fast4 run: four symbols left and 8 bytes loadable at pos? */
static inline int hs_can_fast(const struct hstream *h)
{
	return h->n - h->i >= 4 && h->len >= 8 && (h->pos >> 3) <= h->len - 8;
}

/* Four symbols from one unaligned 8-byte load: >= 57 fresh bits cover
 * four codes of <= 12 bits. */
static inline void hs_fast4(const uint16_t *dec, uint64_t mask, struct hstream *h)
{
	uint64_t b = load64le(h->src + (h->pos >> 3)) >> (h->pos & 7);
	uint16_t e0 = dec[b & mask];
	b >>= e0 >> 8;
	uint16_t e1 = dec[b & mask];
	b >>= e1 >> 8;
	uint16_t e2 = dec[b & mask];
	b >>= e2 >> 8;
	uint16_t e3 = dec[b & mask];
	uint8_t *o = h->out + h->i;
	o[0] = (uint8_t)e0;
	o[1] = (uint8_t)e1;
	o[2] = (uint8_t)e2;
	o[3] = (uint8_t)e3;
	h->pos += (unsigned)(e0 >> 8) + (e1 >> 8) + (e2 >> 8) + (e3 >> 8);
	h->i += 4;
}

/* Finish a stream alone, then check that it ended exactly at its last
 * byte: not before (truncated), not after (trailing bytes). */
static enum jalad_status hs_finish(const struct codec_huff_table *t, struct hstream *h, int k)
{
	const uint16_t *dec = t->dec;
	const uint64_t mask = ((uint64_t)1 << t->maxlen) - 1, totbits = (uint64_t)h->len * 8;
	while (hs_can_fast(h))
		hs_fast4(dec, mask, h);
	/* Tail: bounded loads, and stop as soon as the stream is overrun so a
	 * huge declared count on a tiny payload costs nothing. */
	for (; h->i < h->n && h->pos <= totbits; h->i++) {
		uint64_t b = load_tail(h->src, h->len, (size_t)(h->pos >> 3)) >> (h->pos & 7);
		uint16_t e = dec[b & mask];
		h->out[h->i] = (uint8_t)e;
		h->pos += e >> 8;
	}
	JALAD_RETURN_IF(h->pos > totbits, JALAD_ERR_TRUNCATED,
			"huffman: bit stream %d of %zu bytes ends before its symbol %zu of %zu", k, h->len,
			h->i ? h->i - 1 : 0, h->n);
	JALAD_RETURN_IF((h->pos + 7) / 8 != h->len, JALAD_ERR_FORMAT,
			"huffman: bit stream %d has %zu trailing bytes", k, (size_t)(h->len - (h->pos + 7) / 8));
	return JALAD_OK;
}

static enum jalad_status huff_get(const struct codec_huff_table *t, const uint8_t *src, size_t len,
				  uint8_t *out, size_t n)
{
	struct hstream h[HUFF_STREAMS];
	if (n < HUFF_SPLIT_MIN) {
		h[0] = (struct hstream){ src, len, out, n, 0, 0 };
		return hs_finish(t, &h[0], 0);
	}
	size_t hdr = 4 * (HUFF_STREAMS - 1), off = hdr;
	JALAD_RETURN_IF(len < hdr, JALAD_ERR_TRUNCATED, "huffman: %zu bytes cannot hold the stream lengths", len);
	for (int k = 0; k < HUFF_STREAMS; k++) {
		size_t l = k < HUFF_STREAMS - 1 ? jalad_get_u32(src + 4 * k) : len - off;
		JALAD_RETURN_IF(l > len - off, JALAD_ERR_TRUNCATED,
				"huffman: bit stream %d of %zu bytes exceeds the remaining %zu", k, l, len - off);
		h[k] = (struct hstream){ src + off, l, out + seg_len(n, 0) * (size_t)k, seg_len(n, k), 0, 0 };
		off += l;
	}
	const uint16_t *dec = t->dec;
	const uint64_t mask = ((uint64_t)1 << t->maxlen) - 1;
	while (hs_can_fast(&h[0]) && hs_can_fast(&h[1]) && hs_can_fast(&h[2]) && hs_can_fast(&h[3])) {
		hs_fast4(dec, mask, &h[0]);
		hs_fast4(dec, mask, &h[1]);
		hs_fast4(dec, mask, &h[2]);
		hs_fast4(dec, mask, &h[3]);
	}
	for (int k = 0; k < HUFF_STREAMS; k++)
		JALAD_FORWARD(hs_finish(t, &h[k], k));
	return JALAD_OK;
}

/* ---- streams ---------------------------------------------------------------- */

size_t codec_huff_bound(int abits, size_t n)
{
	/* The optimal limited code is never longer than a fixed abits-bit code
	 * (feasible since abits <= 8 < 12), so the bits fit ceil(n*abits/8). */
	return 2 + 128 + 4 * (HUFF_STREAMS - 1) + (n / 8) * (size_t)abits + (size_t)abits + HUFF_STREAMS;
}

size_t codec_huff_shared_bound(size_t n)
{
	/* A shared table was learned on other data: up to MAXLEN bits each. */
	return 4 * (HUFF_STREAMS - 1) + (n / 8) * MAXLEN + MAXLEN + HUFF_STREAMS;
}

enum jalad_status codec_huff_encode(struct codec_huff_table *scratch, int abits,
				    const uint8_t *s, size_t n, uint8_t *dst, size_t cap,
				    size_t *out_len)
{
	uint32_t hist[256];
	uint64_t cnt[256];
	uint8_t len[256];
	int nsym = 1 << abits, used = 0, last = 0, maxsym = 0;

	codec_hist8(s, n, hist);
	for (int k = 0; k < 256; k++) {
		JALAD_RETURN_IF(hist[k] && k >= nsym, JALAD_ERR_INVALID_ARG,
				"huffman: symbol %d does not fit %d bits", k, abits);
		cnt[k] = hist[k];
		if (hist[k]) {
			used++;
			last = k;
			maxsym = k;
		}
	}
	if (used <= 1) {
		/* Constant input (or none): no bits at all. */
		JALAD_RETURN_IF(cap < 2, JALAD_ERR_LIMIT, "huffman: output buffer too small");
		dst[0] = 1;
		dst[1] = (uint8_t)last;
		*out_len = 2;
		return JALAD_OK;
	}
	codec_huff_lengths(cnt, nsym, MAXLEN, len);
	JALAD_FORWARD(codec_huff_build(scratch, len, nsym));

	size_t hdr = 2 + (size_t)(maxsym + 2) / 2;
	JALAD_RETURN_IF(cap < hdr, JALAD_ERR_LIMIT, "huffman: output buffer too small");
	dst[0] = 0;
	dst[1] = (uint8_t)maxsym;
	memset(dst + 2, 0, hdr - 2);
	for (int k = 0; k <= maxsym; k++)
		dst[2 + k / 2] |= (uint8_t)(len[k] << (4 * (k & 1)));
	size_t nbits_len;
	JALAD_FORWARD(huff_put(scratch, hist, s, n, dst + hdr, cap - hdr, &nbits_len));
	*out_len = hdr + nbits_len;
	return JALAD_OK;
}

enum jalad_status codec_huff_decode(struct codec_huff_table *scratch, int abits,
				    const uint8_t *src, size_t len, uint8_t *out, size_t n)
{
	int nsym = 1 << abits;
	JALAD_RETURN_IF(len < 2, JALAD_ERR_TRUNCATED, "huffman: stream of %zu bytes has no header", len);
	if (src[0] == 1) {
		JALAD_RETURN_IF(src[1] >= nsym, JALAD_ERR_FORMAT,
				"huffman: constant symbol %u does not fit %d bits", src[1], abits);
		JALAD_RETURN_IF(len != 2, JALAD_ERR_FORMAT,
				"huffman: constant stream has %zu bytes, expected 2", len);
		memset(out, src[1], n);
		return JALAD_OK;
	}
	JALAD_RETURN_IF(src[0] != 0, JALAD_ERR_FORMAT, "huffman: unknown stream mode %u", src[0]);
	int maxsym = src[1];
	JALAD_RETURN_IF(maxsym >= nsym, JALAD_ERR_FORMAT,
			"huffman: table covers symbol %d, alphabet has %d", maxsym, nsym);
	size_t hdr = 2 + (size_t)(maxsym + 2) / 2;
	JALAD_RETURN_IF(len < hdr, JALAD_ERR_TRUNCATED,
			"huffman: table needs %zu bytes, stream has %zu", hdr, len);
	uint8_t lens[256] = { 0 };
	for (int k = 0; k <= maxsym; k++)
		lens[k] = (uint8_t)((src[2 + k / 2] >> (4 * (k & 1))) & 15u);
	JALAD_RETURN_IF((maxsym & 1) == 0 && (src[hdr - 1] >> 4) != 0, JALAD_ERR_FORMAT,
			"huffman: nonzero padding in the code length table");
	JALAD_FORWARD(codec_huff_build(scratch, lens, nsym));
	return huff_get(scratch, src + hdr, len - hdr, out, n);
}

enum jalad_status codec_huff_encode_with(const struct codec_huff_table *t, const uint8_t *s,
					 size_t n, uint8_t *dst, size_t cap, size_t *out_len)
{
	uint32_t hist[256];
	codec_hist8(s, n, hist);
	return huff_put(t, hist, s, n, dst, cap, out_len);
}

enum jalad_status codec_huff_decode_with(const struct codec_huff_table *t, const uint8_t *src,
					 size_t len, uint8_t *out, size_t n)
{
	return huff_get(t, src, len, out, n);
}
