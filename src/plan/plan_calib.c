/*
 * Building a calibration table. Every per-sample result is written to row i
 * of shared arrays (workers touch disjoint rows) and reduced in sample
 * order at the end, so the table does not depend on threads or order. The
 * model runs once per sample in float, one node at a time (cut capture);
 * each (cut, bits) then only runs [k, n) from the dequantized tensors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

#define NA UINT32_MAX        /* a size that does not apply */
#define NO_2D SIZE_MAX       /* a cell without a 2-d histogram (bits 0, 5..8, 16) */
#define FLAG_CORRECT 1
#define FLAG_AGREE 2
#define FLAG_LABELLED 4

struct jalad_calibrator {
	const struct jalad_model *m;
	int n;                               /* nodes */
	int nb, bits[JALAD_PLAN_MAX_BITS], pc[JALAD_PLAN_MAX_BITS];
	int nc;
	enum jalad_coder coders[JALAD_CODER_COUNT + 1];
	int need_pass2;                      /* huffman-shared, huffman-2d or auto asked for */
	uint64_t ns;                         /* samples */
	uint64_t nsz;                        /* samples 0..nsz-1 are also sized */
	int nt;                              /* timing samples */
	char *backend, *dataset, *model_file;
	struct jalad_calib_cut *cuts;        /* n + 1 */
	size_t max_values;                   /* largest sum of values over a cut's tensors */
	int64_t max_tensor;                  /* largest single crossing tensor */
	int max_cross;                       /* most tensors crossing one cut */
	size_t *hist_off;                    /* per cell: offset into a histogram array */
	size_t hist_len;
	uint64_t *hist[2];                   /* merged: even / odd samples */
	size_t *hist2d_off;                  /* per cell: offset into a 2-d histogram array, or NO_2D */
	size_t hist2d_len;
	uint64_t *hist2d[2];                 /* merged 2-d (huffman-2d) histograms: even / odd samples */
	struct jalad_codec_dict **dict_fold[2]; /* learned on even / odd samples */
	struct jalad_codec_dict **dict_all;
	int learned;
	/* per sample rows */
	uint8_t *flags;                      /* (ns, ncell) */
	uint8_t *float_flags;                /* (ns) */
	uint32_t *bytes;                     /* (nsz, ncell, nc) */
	uint32_t *minpay;                    /* (nsz, ncell, max_cross): smallest AUTO candidate payload */
	uint32_t *png_bytes;                 /* (ns); 0 = no image */
	uint32_t *raw_bytes;                 /* (ns) */
	uint8_t *img_flags;                  /* (ns): FLAG_* of the u8 input, FLAG_*<<4 of the JPEG */
	uint32_t *jpeg_bytes;                /* (ns); 0 = not measured */
	uint32_t *file_bytes;                /* (ns); 0 = no file */
	int have_pp;                         /* pp set: the u8/JPEG accuracies are measured */
	struct jalad_preprocess pp;          /* u8 image -> model input (no crop) */
	int jpeg_quality;                    /* 0: no JPEG */
	/* timing rows */
	float *enc_ms, *dec_ms;              /* (nt, ncell, nc) */
	float *png_enc_ms, *png_dec_ms;      /* (nt) */
	float *jpeg_enc_ms, *jpeg_dec_ms;    /* (nt) */
	float *file_dec_ms;                  /* (nt) */
};

struct jalad_calib_worker {
	struct jalad_calibrator *cal;
	struct jalad_cut_capture *cc;
	struct jalad_codec_ctx *ctx;
	float *deq;                          /* max_values */
	float *dec;                          /* max_values, timing decode */
	void *sym;                           /* max_tensor symbols (2 bytes each) */
	uint8_t *buf;                        /* container */
	size_t cap;
	uint64_t *hist[2];
	uint64_t *hist2d[2];
	uint8_t *png, *pix;
	size_t png_cap, pix_cap;
	float *in;                           /* (input numel): the model input from an image */
	size_t in_len;
	struct jalad_tensor *vals;           /* max_cross */
	struct jalad_codec_tensor *ct;       /* max_cross */
};

static size_t ncell(const struct jalad_calibrator *c)
{
	return (size_t)c->n * (size_t)c->nb;
}

/* Coders sized in pass 2: those that need a learned dictionary, and AUTO
 * (which tries them). */
static int coder_is_pass2(enum jalad_coder coder)
{
	return jalad_coder_uses_dict(coder) || coder == JALAD_CODER_AUTO;
}

/* Does huffman-2d carry bits (its tables exist for c = 1..4 only)? */
static int bits_have_2d(int bits)
{
	return bits >= 1 && bits <= JALAD_CODEC_2D_MAX_BITS;
}

static int coder_is_auto_cand(enum jalad_coder coder)
{
	return coder == JALAD_CODER_RAW || coder == JALAD_CODER_HUFFMAN || coder == JALAD_CODER_RANS0 ||
	       coder == JALAD_CODER_RANS1 || coder == JALAD_CODER_ZSTD || coder == JALAD_CODER_ARITH0 ||
	       coder == JALAD_CODER_ARITH1;
}

/* Can coder carry bits (0 = float32)? Only the pass-through coders carry
 * float32; the rest need symbols, and huffman-2d c = 1..4. */
static int coder_applies(enum jalad_coder coder, int bits)
{
	if (bits == 0)
		return coder == JALAD_CODER_RAW || coder == JALAD_CODER_ZSTD || coder == JALAD_CODER_AUTO;
	if (coder == JALAD_CODER_HUFFMAN_2D)
		return bits_have_2d(bits);
	return 1;
}

static int coder_listed(const struct jalad_calibrator *c, enum jalad_coder coder)
{
	for (int j = 0; j < c->nc; j++)
		if (c->coders[j] == coder)
			return j;
	return -1;
}

void jalad_calibrator_free(struct jalad_calibrator *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < ncell(c); i++) {
		if (c->dict_fold[0])
			jalad_codec_dict_free(c->dict_fold[0][i]);
		if (c->dict_fold[1])
			jalad_codec_dict_free(c->dict_fold[1][i]);
		if (c->dict_all)
			jalad_codec_dict_free(c->dict_all[i]);
	}
	free(c->dict_fold[0]);
	free(c->dict_fold[1]);
	free(c->dict_all);
	free(c->hist[0]);
	free(c->hist[1]);
	free(c->hist_off);
	free(c->hist2d[0]);
	free(c->hist2d[1]);
	free(c->hist2d_off);
	free(c->cuts);
	free(c->flags);
	free(c->float_flags);
	free(c->bytes);
	free(c->png_bytes);
	free(c->minpay);
	free(c->raw_bytes);
	free(c->enc_ms);
	free(c->dec_ms);
	free(c->png_enc_ms);
	free(c->png_dec_ms);
	free(c->img_flags);
	free(c->jpeg_bytes);
	free(c->file_bytes);
	free(c->jpeg_enc_ms);
	free(c->jpeg_dec_ms);
	free(c->file_dec_ms);
	free(c->backend);
	free(c->dataset);
	free(c->model_file);
	free(c);
}

enum jalad_status jalad_calibrator_create(const struct jalad_model *model, const struct jalad_calib_opts *o,
					  struct jalad_calibrator **out)
{
	static const int default_bits[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0 };
	static const int default_pc[] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	static const enum jalad_coder default_coders[] = {
		JALAD_CODER_RAW, JALAD_CODER_HUFFMAN, JALAD_CODER_HUFFMAN_SHARED, JALAD_CODER_RANS0,
		JALAD_CODER_RANS1, JALAD_CODER_ZSTD, JALAD_CODER_ARITH0, JALAD_CODER_ARITH1, JALAD_CODER_HUFFMAN_2D,
		JALAD_CODER_AUTO,
	};
	enum jalad_status st;
	struct jalad_calib *probe = NULL;
	*out = NULL;
	JALAD_RETURN_IF(!model || !o || o->samples == 0, JALAD_ERR_INVALID_ARG, "calibrator: no model or no samples");
	JALAD_RETURN_IF(o->samples > (UINT64_C(1) << 32), JALAD_ERR_LIMIT, "calibrator: %llu samples",
			(unsigned long long)o->samples);
	const int *bits = o->bits ? o->bits : default_bits;
	const int *pcs = o->bits ? o->per_channel : default_pc;
	int nb = o->bits ? o->n_bits : (int)(sizeof default_bits / sizeof default_bits[0]);
	const enum jalad_coder *coders = o->coders ? o->coders : default_coders;
	int nc = o->coders ? o->n_coders : (int)(sizeof default_coders / sizeof default_coders[0]);
	int n = jalad_model_node_count(model);
	/* The same validation as a table made from these lists. */
	JALAD_FORWARD(jalad_calib_create(n, bits, pcs, nb, coders, nc, &probe));
	jalad_calib_free(probe);

	struct jalad_calibrator *c = calloc(1, sizeof *c);
	JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "calibrator");
	c->m = model;
	c->n = n;
	c->nb = nb;
	memcpy(c->bits, bits, (size_t)nb * sizeof *bits);
	for (int b = 0; b < nb; b++)
		c->pc[b] = pcs ? pcs[b] : 0;
	c->nc = nc;
	memcpy(c->coders, coders, (size_t)nc * sizeof *coders);
	for (int j = 0; j < nc; j++)
		c->need_pass2 |= coder_is_pass2(coders[j]);
	c->ns = o->samples;
	c->nsz = o->size_samples > 0 && o->size_samples < o->samples ? o->size_samples : o->samples;
	c->nt = o->timing_samples > 0 ? o->timing_samples : 64;
	if ((uint64_t)c->nt > c->ns)
		c->nt = (int)c->ns;
	if (o->pp) {
		c->pp = *o->pp;
		c->pp.center_crop = JALAD_CROP_NONE;
		if ((st = jalad_preprocess_check(&c->pp)) != JALAD_OK) {
			free(c);
			return st;
		}
		c->have_pp = 1;
		c->jpeg_quality = o->jpeg_quality == 0 ? 90 : o->jpeg_quality > 0 ? o->jpeg_quality : 0;
		if (c->jpeg_quality > 100) {
			free(c);
			return jalad_fail(JALAD_ERR_INVALID_ARG, "calibrator: JPEG quality %d outside 1..100",
					  o->jpeg_quality);
		}
	}
	c->backend = plan_strdup(o->backend);
	c->dataset = plan_strdup(o->dataset);
	c->model_file = plan_strdup(o->model_file ? plan_basename(o->model_file) : NULL);
	c->cuts = calloc((size_t)n + 1, sizeof *c->cuts);
	if (!c->cuts) {
		st = jalad_fail(JALAD_ERR_NOMEM, "calibrator");
		goto fail;
	}
	/* What crosses each cut. */
	for (int k = 0; k <= n; k++) {
		int ids[JALAD_CODEC_MAX_TENSORS + 1], cnt;
		struct jalad_calib_cut *cut = &c->cuts[k];
		if ((st = jalad_model_crossing(model, k, ids, JALAD_CODEC_MAX_TENSORS + 1, &cnt)) != JALAD_OK)
			goto fail;
		cut->n_tensors = cnt;
		cut->supported = cnt >= 1 && cnt <= JALAD_CODEC_MAX_TENSORS;
		for (int j = 0; j < cnt && j <= JALAD_CODEC_MAX_TENSORS; j++) {
			struct jalad_tensor_desc d;
			if ((st = jalad_model_tensor_desc(model, ids[j], &d)) != JALAD_OK)
				goto fail;
			int64_t v = 1;
			for (int a = 0; a < d.ndim; a++)
				v *= d.dims[a];
			cut->values += v;
			if (d.dtype != JALAD_DTYPE_FLOAT32 || d.ndim > JALAD_CODEC_MAX_DIMS)
				cut->supported = 0;
			if (k < n && v > c->max_tensor)
				c->max_tensor = v;
		}
		if (k == n)
			cut->supported = 1; /* edge-only sends nothing */
		else if (o->cut_mask && !o->cut_mask[k])
			cut->supported = 0, cut->skipped = 1;
		if (k < n && (size_t)cut->values > c->max_values)
			c->max_values = (size_t)cut->values;
		if (k < n && cnt > c->max_cross)
			c->max_cross = cnt;
	}
	size_t nce = ncell(c) ? ncell(c) : 1;
	c->hist_off = calloc(nce, sizeof *c->hist_off);
	c->hist2d_off = calloc(nce, sizeof *c->hist2d_off);
	if (!c->hist_off || !c->hist2d_off) {
		st = jalad_fail(JALAD_ERR_NOMEM, "calibrator");
		goto fail;
	}
	for (size_t i = 0; i < nce; i++)
		c->hist2d_off[i] = NO_2D;
	for (int k = 0; k < n; k++)
		for (int b = 0; b < nb; b++) {
			size_t cell = (size_t)k * (size_t)nb + (size_t)b;
			c->hist_off[cell] = c->hist_len;
			if (bits[b] > 0)
				c->hist_len += (size_t)1 << bits[b];
			/* 2-d histograms (64 contexts x 2^(2c) units: 128 KiB at
			 * c = 4) only where huffman-2d has tables, c <= 4. */
			if (c->cuts[k].supported && bits_have_2d(bits[b])) {
				c->hist2d_off[cell] = c->hist2d_len;
				c->hist2d_len += (size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bits[b]);
			}
		}
	size_t rows = (size_t)c->ns, srows = (size_t)c->nsz;
	c->hist[0] = calloc(c->hist_len ? c->hist_len : 1, sizeof *c->hist[0]);
	c->hist[1] = calloc(c->hist_len ? c->hist_len : 1, sizeof *c->hist[1]);
	c->hist2d[0] = calloc(c->hist2d_len ? c->hist2d_len : 1, sizeof *c->hist2d[0]);
	c->hist2d[1] = calloc(c->hist2d_len ? c->hist2d_len : 1, sizeof *c->hist2d[1]);
	c->dict_fold[0] = calloc(nce, sizeof *c->dict_fold[0]);
	c->dict_fold[1] = calloc(nce, sizeof *c->dict_fold[1]);
	c->dict_all = calloc(nce, sizeof *c->dict_all);
	c->flags = calloc(rows * nce, 1);
	c->float_flags = calloc(rows, 1);
	c->bytes = malloc(srows * nce * (size_t)nc * sizeof *c->bytes);
	c->png_bytes = calloc(rows, sizeof *c->png_bytes);
	if (coder_listed(c, JALAD_CODER_AUTO) >= 0)
		c->minpay = malloc(srows * nce * (size_t)(c->max_cross ? c->max_cross : 1) * sizeof *c->minpay);
	c->raw_bytes = calloc(rows, sizeof *c->raw_bytes);
	c->enc_ms = malloc((size_t)c->nt * nce * (size_t)nc * sizeof *c->enc_ms);
	c->dec_ms = malloc((size_t)c->nt * nce * (size_t)nc * sizeof *c->dec_ms);
	c->png_enc_ms = calloc((size_t)c->nt, sizeof *c->png_enc_ms);
	c->png_dec_ms = calloc((size_t)c->nt, sizeof *c->png_dec_ms);
	c->img_flags = calloc(rows, 1);
	c->jpeg_bytes = calloc(rows, sizeof *c->jpeg_bytes);
	c->file_bytes = calloc(rows, sizeof *c->file_bytes);
	c->jpeg_enc_ms = calloc((size_t)c->nt, sizeof *c->jpeg_enc_ms);
	c->jpeg_dec_ms = calloc((size_t)c->nt, sizeof *c->jpeg_dec_ms);
	c->file_dec_ms = calloc((size_t)c->nt, sizeof *c->file_dec_ms);
	if (!c->hist[0] || !c->hist[1] || !c->hist2d[0] || !c->hist2d[1] || !c->dict_fold[0] || !c->dict_fold[1] || !c->dict_all || !c->flags ||
	    !c->float_flags || !c->bytes || !c->png_bytes || (coder_listed(c, JALAD_CODER_AUTO) >= 0 && !c->minpay) || !c->raw_bytes || !c->enc_ms || !c->dec_ms ||
	    !c->png_enc_ms || !c->png_dec_ms || !c->img_flags || !c->jpeg_bytes || !c->file_bytes ||
	    !c->jpeg_enc_ms || !c->jpeg_dec_ms || !c->file_dec_ms) {
		st = jalad_fail(JALAD_ERR_NOMEM, "calibrator tables for %llu samples x %zu cells x %d coders",
				(unsigned long long)c->ns, nce, nc);
		goto fail;
	}
	for (size_t i = 0; i < srows * nce * (size_t)nc; i++)
		c->bytes[i] = NA;
	for (size_t i = 0; i < (size_t)c->nt * nce * (size_t)nc; i++)
		c->enc_ms[i] = c->dec_ms[i] = -1;
	for (int i = 0; i < c->nt; i++)
		c->png_enc_ms[i] = c->png_dec_ms[i] = c->jpeg_enc_ms[i] = c->jpeg_dec_ms[i] = c->file_dec_ms[i] = -1;
	*out = c;
	return JALAD_OK;
fail:
	jalad_calibrator_free(c);
	return st;
}

/* ---- workers ------------------------------------------------------------------- */

void jalad_calib_worker_free(struct jalad_calib_worker *w)
{
	if (!w)
		return;
	jalad_cut_capture_free(w->cc);
	jalad_codec_ctx_free(w->ctx);
	free(w->deq);
	free(w->dec);
	free(w->sym);
	free(w->buf);
	free(w->hist[0]);
	free(w->hist[1]);
	free(w->hist2d[0]);
	free(w->hist2d[1]);
	free(w->png);
	free(w->pix);
	free(w->in);
	free(w->vals);
	free(w->ct);
	free(w);
}

enum jalad_status jalad_calib_worker_create(struct jalad_calibrator *cal, struct jalad_calib_worker **out)
{
	enum jalad_status st;
	*out = NULL;
	struct jalad_calib_worker *w = calloc(1, sizeof *w);
	JALAD_RETURN_IF(!w, JALAD_ERR_NOMEM, "calibration worker");
	w->cal = cal;
	if ((st = jalad_cut_capture_create(cal->m, cal->backend, &w->cc)) != JALAD_OK ||
	    (st = jalad_codec_ctx_create(&w->ctx)) != JALAD_OK)
		goto fail;
	size_t mv = cal->max_values ? cal->max_values : 1;
	w->deq = malloc(mv * sizeof *w->deq);
	w->dec = malloc(mv * sizeof *w->dec);
	w->sym = malloc((size_t)(cal->max_tensor ? cal->max_tensor : 1) * 2);
	w->hist[0] = calloc(cal->hist_len ? cal->hist_len : 1, sizeof *w->hist[0]);
	w->hist[1] = calloc(cal->hist_len ? cal->hist_len : 1, sizeof *w->hist[1]);
	w->hist2d[0] = calloc(cal->hist2d_len ? cal->hist2d_len : 1, sizeof *w->hist2d[0]);
	w->hist2d[1] = calloc(cal->hist2d_len ? cal->hist2d_len : 1, sizeof *w->hist2d[1]);
	w->vals = calloc((size_t)cal->max_cross + 1, sizeof *w->vals);
	w->ct = calloc((size_t)cal->max_cross + 1, sizeof *w->ct);
	if (cal->have_pp) {
		w->in_len = jalad_preprocess_len(&cal->pp);
		w->in = malloc(w->in_len * sizeof *w->in);
		if (!w->in) {
			st = jalad_fail(JALAD_ERR_NOMEM, "calibration worker input");
			goto fail;
		}
	}
	if (!w->deq || !w->dec || !w->sym || !w->hist[0] || !w->hist[1] || !w->hist2d[0] || !w->hist2d[1] ||
	    !w->vals || !w->ct) {
		st = jalad_fail(JALAD_ERR_NOMEM, "calibration worker buffers");
		goto fail;
	}
	*out = w;
	return JALAD_OK;
fail:
	jalad_calib_worker_free(w);
	return st;
}

static int argmax(const struct jalad_tensor *t)
{
	const float *v = t->data;
	int64_t n = jalad_tensor_numel(t);
	int best = 0;
	for (int64_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = (int)i;
	return best;
}

/* Point w->ct at the float tensors crossing cut k (ids: their tensor ids). */
static void codec_views(struct jalad_calib_worker *w, const int *ids, const struct jalad_tensor *vals, int cnt)
{
	for (int j = 0; j < cnt; j++) {
		w->ct[j].relu = jalad_model_tensor_relu_only(w->cal->m, ids[j]);
		w->ct[j].data = vals[j].data;
		w->ct[j].ndim = vals[j].ndim;
		for (int a = 0; a < vals[j].ndim; a++)
			w->ct[j].dims[a] = vals[j].dims[a];
	}
}

/* Encode the cut's tensors into w->buf; *len the container size. */
static enum jalad_status encode(struct jalad_calib_worker *w, int bits, int per_channel, enum jalad_coder coder,
				const struct jalad_codec_dict *dict, int cnt, size_t *len, struct jalad_codec_stats *stats)
{
	struct jalad_codec_params p = { .bits = bits, .coder = coder, .crc = 1, .dict = dict,
					.per_channel = per_channel };
	size_t need = jalad_codec_bound(&p, w->ct, cnt);
	JALAD_RETURN_IF(need == 0, JALAD_ERR_INTERNAL, "calibration: no bound for %s at %d bits",
			jalad_coder_name(coder), bits);
	if (need > w->cap) {
		uint8_t *b = realloc(w->buf, need);
		JALAD_RETURN_IF(!b, JALAD_ERR_NOMEM, "calibration: %zu bytes", need);
		w->buf = b;
		w->cap = need;
	}
	return jalad_codec_encode(w->ctx, &p, w->ct, cnt, w->buf, w->cap, len, stats);
}

static enum jalad_status image_sizes(struct jalad_calib_worker *w, uint64_t i, const struct jalad_calib_image *img,
				     size_t *png_len)
{
	struct jalad_calibrator *c = w->cal;
	JALAD_FORWARD(plan_png_encode(img, &w->png, &w->png_cap, png_len));
	JALAD_RETURN_IF(*png_len >= UINT32_MAX, JALAD_ERR_LIMIT, "calibration: PNG of %zu bytes", *png_len);
	c->png_bytes[i] = (uint32_t)*png_len;
	c->raw_bytes[i] = (uint32_t)((size_t)img->width * (size_t)img->height * (size_t)img->channels);
	return JALAD_OK;
}

/* Top-1 of the whole model on an 8-bit model-sized image (no crop). */
static enum jalad_status image_top1(struct jalad_calib_worker *w, const struct jalad_image *im, int *pred)
{
	struct jalad_calibrator *c = w->cal;
	struct jalad_session *s = jalad_cut_capture_session(w->cc);
	int in_id = jalad_model_input(c->m, 0);
	struct jalad_tensor x = { JALAD_DTYPE_FLOAT32, 4, { 1, c->pp.channels, c->pp.height, c->pp.width }, w->in };
	struct jalad_tensor q;
	JALAD_FORWARD(jalad_image_to_tensor(im, &c->pp, w->in, w->in_len));
	JALAD_FORWARD(jalad_session_run_range(s, 0, c->n, &in_id, &x, 1));
	JALAD_FORWARD(jalad_session_output(s, 0, &q));
	*pred = argmax(&q);
	return JALAD_OK;
}

static uint8_t img_flag(int label, int pred, int pred_f)
{
	return (uint8_t)((label >= 0 && pred == label ? FLAG_CORRECT : 0) | (pred == pred_f ? FLAG_AGREE : 0));
}

/* The cloud-only image payloads of sample i: accuracy of the rounded 8-bit
 * input, and JPEG size and accuracy through the re-encode. */
static enum jalad_status image_accuracy(struct jalad_calib_worker *w, uint64_t i, const struct jalad_calib_image *img,
					int label, int pred_f)
{
	struct jalad_calibrator *c = w->cal;
	struct jalad_image im = { img->width, img->height, img->channels, (unsigned char *)img->pixels };
	struct jalad_image *dec = NULL;
	unsigned char *jpg = NULL;
	size_t jlen = 0;
	enum jalad_status st;
	int pred;

	JALAD_RETURN_IF(img->width != c->pp.width || img->height != c->pp.height || img->channels != c->pp.channels,
			JALAD_ERR_SHAPE, "calibration: sample %llu: image %dx%dx%d, the model takes %dx%dx%d",
			(unsigned long long)i, img->width, img->height, img->channels, c->pp.width, c->pp.height,
			c->pp.channels);
	JALAD_FORWARD(image_top1(w, &im, &pred));
	c->img_flags[i] = img_flag(label, pred, pred_f);
	if (!c->jpeg_quality)
		return JALAD_OK;
	if ((st = jalad_image_encode_jpeg(&im, c->jpeg_quality, &jpg, &jlen)) != JALAD_OK ||
	    (st = jalad_image_decode(jpg, jlen, "calibration JPEG", &dec)) != JALAD_OK ||
	    (st = image_top1(w, dec, &pred)) != JALAD_OK)
		goto fail;
	c->img_flags[i] |= (uint8_t)(img_flag(label, pred, pred_f) << 4);
	c->jpeg_bytes[i] = jlen >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)jlen;
fail:
	free(jpg);
	jalad_image_free(dec);
	return st;
}

/* Add the quantized symbols of t to the histograms: hist, and hist2d
 * (huffman-2d units of the tensor's shape, as a container codes them)
 * unless NULL. */
static enum jalad_status hist_symbols(const struct jalad_tensor *t, const void *sym, size_t nv, int bits,
				      uint64_t *hist, uint64_t *hist2d)
{
	JALAD_FORWARD(jalad_codec_hist_add(sym, nv, bits, hist));
	if (!hist2d)
		return JALAD_OK;
	return jalad_codec_hist2d_add(sym, t->ndim, t->dims, bits, hist2d);
}

/* Quantize t to bits exactly as the codec's encoder does (one range per
 * tensor, or per dim-1 channel over the batch), add the symbols to hist
 * (and to the 2-d histogram hist2d, if not NULL: bits <= 4) and write what
 * the decoder would return to deq. */
static enum jalad_status quant_roundtrip(const struct jalad_tensor *t, int relu, int bits, int per_channel,
					 void *sym, uint64_t *hist, uint64_t *hist2d, float *deq)
{
	size_t nv = (size_t)jalad_tensor_numel(t);
	const float *x = t->data;
	if (!per_channel || t->ndim < 2) {
		float mn, mx;
		JALAD_FORWARD(jalad_codec_minmax(x, nv, &mn, &mx));
		if (relu)
			jalad_codec_relu_range(&mn, &mx);
		JALAD_FORWARD(jalad_codec_quantize(x, nv, bits, mn, mx, sym));
		JALAD_FORWARD(hist_symbols(t, sym, nv, bits, hist, hist2d));
		return jalad_codec_dequantize(sym, nv, bits, mn, mx, deq);
	}
	size_t nb = (size_t)t->dims[0], nc = (size_t)t->dims[1];
	size_t inner = nb && nc ? nv / (nb * nc) : 0, ss = bits == 16 ? 2 : 1;
	for (size_t ch = 0; ch < nc; ch++) {
		float lo = 0, hi = 0;
		for (size_t b = 0; b < nb; b++) {
			float mn, mx;
			JALAD_FORWARD(jalad_codec_minmax(x + (b * nc + ch) * inner, inner, &mn, &mx));
			if (b == 0 || mn < lo)
				lo = mn;
			if (b == 0 || mx > hi)
				hi = mx;
		}
		if (relu)
			jalad_codec_relu_range(&lo, &hi);
		for (size_t b = 0; b < nb; b++) {
			size_t off = (b * nc + ch) * inner;
			uint8_t *sp = (uint8_t *)sym + off * ss;
			JALAD_FORWARD(jalad_codec_quantize(x + off, inner, bits, lo, hi, sp));
			JALAD_FORWARD(jalad_codec_dequantize(sp, inner, bits, lo, hi, deq + off));
		}
	}
	return hist_symbols(t, sym, nv, bits, hist, hist2d);
}

/* The coders AUTO tries without a dictionary (jalad_codec_encode with
 * JALAD_CODER_AUTO takes, per tensor, the smallest payload of these, plus
 * huffman-shared and, for c <= 4, huffman-2d with a dict). */
static const enum jalad_coder auto_candidates[] = {
	JALAD_CODER_RAW, JALAD_CODER_HUFFMAN, JALAD_CODER_RANS0, JALAD_CODER_RANS1, JALAD_CODER_ZSTD,
	JALAD_CODER_ARITH0, JALAD_CODER_ARITH1,
};
#define N_AUTO_CAND (int)(sizeof auto_candidates / sizeof auto_candidates[0])

static void put_size(struct jalad_calibrator *c, uint64_t i, size_t cell, int j, size_t len)
{
	c->bytes[((size_t)i * ncell(c) + cell) * (size_t)c->nc + (size_t)j] = len >= NA ? NA - 1 : (uint32_t)len;
}

/* Pass-1 sizes of one cell: every listed coder but huffman-shared,
 * huffman-2d and auto. An AUTO container differs from any other container
 * of the same tensors only in each tensor's coder byte and payload, so its
 * size is derived exactly from the candidates' payloads (and checked
 * against a real AUTO encode in the timing pass): with float32, here; with
 * symbols, in pass 2 once the dictionary coders are known (the smallest
 * candidate payload per tensor is kept until then). */
static enum jalad_status sizes_pass1(struct jalad_calib_worker *w, uint64_t i, size_t cell, int bits, int pc, int cnt)
{
	struct jalad_calibrator *c = w->cal;
	int ja = coder_listed(c, JALAD_CODER_AUTO);
	uint32_t minp[JALAD_CODEC_MAX_TENSORS];
	size_t base = 0, base_payload = 0;
	for (int t = 0; t < cnt; t++)
		minp[t] = UINT32_MAX;
	for (int a = 0; a < N_AUTO_CAND + c->nc; a++) {
		/* First the AUTO candidates (needed if AUTO is listed), then the
		 * rest of the listed coders. */
		enum jalad_coder coder = a < N_AUTO_CAND ? auto_candidates[a] : c->coders[a - N_AUTO_CAND];
		int j = coder_listed(c, coder);
		if (a < N_AUTO_CAND ? (ja < 0 && j < 0) : (coder_is_pass2(coder) || coder_is_auto_cand(coder)))
			continue;
		if (!coder_applies(coder, bits))
			continue;
		size_t len;
		struct jalad_codec_stats st;
		JALAD_FORWARD(encode(w, bits, pc, coder, NULL, cnt, &len, &st));
		if (j >= 0)
			put_size(c, i, cell, j, len);
		if (a < N_AUTO_CAND) {
			size_t pay = 0;
			for (int t = 0; t < cnt; t++) {
				pay += st.tensor[t].payload_bytes;
				if (st.tensor[t].payload_bytes < minp[t])
					minp[t] = st.tensor[t].payload_bytes;
			}
			base = len;
			base_payload = pay;
		}
	}
	if (ja < 0)
		return JALAD_OK;
	if (bits == 0) {
		size_t sum = 0;
		for (int t = 0; t < cnt; t++)
			sum += minp[t];
		put_size(c, i, cell, ja, base - base_payload + sum);
		return JALAD_OK;
	}
	uint32_t *mp = c->minpay + ((size_t)i * ncell(c) + cell) * (size_t)c->max_cross;
	for (int t = 0; t < cnt; t++)
		mp[t] = minp[t];
	return JALAD_OK;
}

enum jalad_status jalad_calib_worker_pass1(struct jalad_calib_worker *w, uint64_t i, const struct jalad_tensor *input,
					   int label, const struct jalad_calib_image *img)
{
	struct jalad_calibrator *c = w->cal;
	struct jalad_tensor out;
	JALAD_RETURN_IF(i >= c->ns, JALAD_ERR_INVALID_ARG, "calibration: sample %llu of %llu",
			(unsigned long long)i, (unsigned long long)c->ns);
	JALAD_FORWARD(jalad_cut_capture_run(w->cc, input));
	JALAD_FORWARD(jalad_cut_capture_output(w->cc, &out));
	int pred_f = argmax(&out);
	c->float_flags[i] = (uint8_t)((label >= 0 ? FLAG_LABELLED : 0) | (label >= 0 && pred_f == label ? FLAG_CORRECT : 0));
	if (img) {
		size_t len;
		JALAD_FORWARD(image_sizes(w, i, img, &len));
		c->file_bytes[i] = img->file && img->file_bytes < UINT32_MAX ? (uint32_t)img->file_bytes : 0;
		if (c->have_pp)
			JALAD_FORWARD(image_accuracy(w, i, img, label, pred_f));
	}
	struct jalad_session *s = jalad_cut_capture_session(w->cc);
	uint64_t *hist = w->hist[i & 1], *hist2d = w->hist2d[i & 1];
	for (int k = 0; k < c->n; k++) {
		if (!c->cuts[k].supported)
			continue;
		const int *ids;
		const struct jalad_tensor *vals;
		int cnt;
		JALAD_FORWARD(jalad_cut_capture_get(w->cc, k, &ids, &vals, &cnt));
		codec_views(w, ids, vals, cnt);
		for (int b = 0; b < c->nb; b++) {
			size_t cell = (size_t)k * (size_t)c->nb + (size_t)b;
			int bits = c->bits[b], pred = pred_f;
			if (bits > 0) {
				size_t off = 0;
				uint64_t *h2 = c->hist2d_off[cell] == NO_2D ? NULL : hist2d + c->hist2d_off[cell];
				for (int j = 0; j < cnt; j++) {
					JALAD_FORWARD(quant_roundtrip(&vals[j], w->ct[j].relu, bits, c->pc[b], w->sym,
								      hist + c->hist_off[cell], h2, w->deq + off));
					w->vals[j] = vals[j];
					w->vals[j].data = w->deq + off;
					off += (size_t)jalad_tensor_numel(&vals[j]);
				}
				enum jalad_status st = jalad_session_run_range(s, k, c->n, ids, w->vals, cnt);
				if (st != JALAD_OK) {
					jalad_error_prefix("calibration: cut %d at %d bits: ", k, bits);
					return st;
				}
				struct jalad_tensor q;
				JALAD_FORWARD(jalad_session_output(s, 0, &q));
				pred = argmax(&q);
			}
			c->flags[(size_t)i * ncell(c) + cell] =
				(uint8_t)((label >= 0 && pred == label ? FLAG_CORRECT : 0) | (pred == pred_f ? FLAG_AGREE : 0));
			if (i < c->nsz)
				JALAD_FORWARD(sizes_pass1(w, i, cell, bits, c->pc[b], cnt));
		}
	}
	return JALAD_OK;
}

/* ---- dictionaries ---------------------------------------------------------------- */

/* A dictionary for bits from h[2^bits] and, if h2 is not NULL (bits <= 4),
 * the huffman-2d tables from h2[JALAD_CODEC_2D_CONTEXTS << 2 * bits]. */
static enum jalad_status learn(int bits, const uint64_t *h, const uint64_t *h2, struct jalad_codec_dict **out)
{
	size_t n = (size_t)1 << bits, n2 = h2 ? (size_t)JALAD_CODEC_2D_CONTEXTS << (2 * bits) : 0;
	uint64_t total = 0, total2 = 0;
	for (size_t i = 0; i < n; i++)
		total += h[i];
	for (size_t i = 0; i < n2; i++)
		total2 += h2[i];
	if (total > 0 && (!h2 || total2 > 0))
		return jalad_codec_dict_learn2d(bits, h, h2, out);
	/* No data (a fold without samples): flat tables. */
	size_t nf = n > n2 ? n : n2;
	uint64_t *flat = malloc(nf * sizeof *flat);
	JALAD_RETURN_IF(!flat, JALAD_ERR_NOMEM, "dictionary");
	for (size_t i = 0; i < nf; i++)
		flat[i] = 1;
	const uint64_t *use2 = h2 ? (total2 > 0 ? h2 : flat) : NULL;
	enum jalad_status st = jalad_codec_dict_learn2d(bits, total > 0 ? h : flat, use2, out);
	free(flat);
	return st;
}

enum jalad_status jalad_calibrator_learn(struct jalad_calibrator *c, struct jalad_calib_worker *const *workers, int nw)
{
	JALAD_RETURN_IF(c->learned, JALAD_ERR_INVALID_ARG, "calibration: dictionaries already learned");
	for (int f = 0; f < 2; f++) {
		memset(c->hist[f], 0, c->hist_len * sizeof *c->hist[f]);
		memset(c->hist2d[f], 0, c->hist2d_len * sizeof *c->hist2d[f]);
		for (int t = 0; t < nw; t++) {
			for (size_t i = 0; i < c->hist_len; i++)
				c->hist[f][i] += workers[t]->hist[f][i];
			for (size_t i = 0; i < c->hist2d_len; i++)
				c->hist2d[f][i] += workers[t]->hist2d[f][i];
		}
	}
	size_t maxh = 0;
	for (int b = 0; b < c->nb; b++) {
		if (((size_t)1 << c->bits[b]) > maxh)
			maxh = (size_t)1 << c->bits[b];
		if (bits_have_2d(c->bits[b]) && ((size_t)JALAD_CODEC_2D_CONTEXTS << (2 * c->bits[b])) > maxh)
			maxh = (size_t)JALAD_CODEC_2D_CONTEXTS << (2 * c->bits[b]);
	}
	uint64_t *sum = malloc(maxh * sizeof *sum), *sum2 = malloc(maxh * sizeof *sum2);
	if (!sum || !sum2) {
		free(sum);
		free(sum2);
		return jalad_fail(JALAD_ERR_NOMEM, "dictionary");
	}
	enum jalad_status st = JALAD_OK;
	for (int k = 0; k < c->n && st == JALAD_OK; k++) {
		if (!c->cuts[k].supported)
			continue;
		for (int b = 0; b < c->nb && st == JALAD_OK; b++) {
			size_t cell = (size_t)k * (size_t)c->nb + (size_t)b, hn = (size_t)1 << c->bits[b];
			if (c->bits[b] == 0)
				continue;
			const uint64_t *h0 = c->hist[0] + c->hist_off[cell], *h1 = c->hist[1] + c->hist_off[cell];
			for (size_t i = 0; i < hn; i++)
				sum[i] = h0[i] + h1[i];
			/* The 2-d tables of huffman-2d (c <= 4). */
			const uint64_t *g0 = NULL, *g1 = NULL, *gs = NULL;
			if (c->hist2d_off[cell] != NO_2D) {
				size_t h2n = (size_t)JALAD_CODEC_2D_CONTEXTS << (2 * c->bits[b]);
				g0 = c->hist2d[0] + c->hist2d_off[cell];
				g1 = c->hist2d[1] + c->hist2d_off[cell];
				for (size_t i = 0; i < h2n; i++)
					sum2[i] = g0[i] + g1[i];
				gs = sum2;
			}
			if ((st = learn(c->bits[b], h0, g0, &c->dict_fold[0][cell])) != JALAD_OK ||
			    (st = learn(c->bits[b], h1, g1, &c->dict_fold[1][cell])) != JALAD_OK ||
			    (st = learn(c->bits[b], sum, gs, &c->dict_all[cell])) != JALAD_OK)
				jalad_error_prefix("calibration: cut %d, %d bits: ", k, c->bits[b]);
		}
	}
	free(sum);
	free(sum2);
	if (st == JALAD_OK)
		c->learned = 1;
	return st;
}

/* AUTO's payload for one tensor, as the codec picks it: the smallest
 * dictionary-free payload other, or the smallest dictionary-coder payload
 * dict when smaller with the 4-byte id counted, unless an earlier tensor
 * already made the container carry it (*used). */
static uint32_t auto_pick(uint32_t other, uint32_t dict, int *used)
{
	uint64_t cost = *used ? 0 : JALAD_CODEC_DICT_ID_BYTES;
	if ((uint64_t)dict + cost < other) {
		*used = 1;
		return dict;
	}
	return other;
}

enum jalad_status jalad_calib_worker_pass2(struct jalad_calib_worker *w, uint64_t i, const struct jalad_tensor *input)
{
	struct jalad_calibrator *c = w->cal;
	JALAD_RETURN_IF(i >= c->ns, JALAD_ERR_INVALID_ARG, "calibration: sample %llu of %llu",
			(unsigned long long)i, (unsigned long long)c->ns);
	JALAD_RETURN_IF(!c->learned, JALAD_ERR_INVALID_ARG, "calibration: pass 2 before the dictionaries");
	if (!c->need_pass2 || i >= c->nsz)
		return JALAD_OK;
	JALAD_FORWARD(jalad_cut_capture_run(w->cc, input));
	/* Sizes with the dictionary learned on the other fold. */
	struct jalad_codec_dict **fold = c->dict_fold[(i & 1) ^ 1];
	int js = coder_listed(c, JALAD_CODER_HUFFMAN_SHARED), ja = coder_listed(c, JALAD_CODER_AUTO);
	int j2 = coder_listed(c, JALAD_CODER_HUFFMAN_2D);
	for (int k = 0; k < c->n; k++) {
		if (!c->cuts[k].supported)
			continue;
		const int *ids;
		const struct jalad_tensor *vals;
		int cnt;
		JALAD_FORWARD(jalad_cut_capture_get(w->cc, k, &ids, &vals, &cnt));
		codec_views(w, ids, vals, cnt);
		for (int b = 0; b < c->nb; b++) {
			size_t cell = (size_t)k * (size_t)c->nb + (size_t)b;
			if (c->bits[b] == 0 || (js < 0 && j2 < 0 && ja < 0))
				continue;
			/* huffman-2d where it has tables (c <= 4); AUTO tries it there. */
			int with2d = bits_have_2d(c->bits[b]) && jalad_codec_dict_has_2d(fold[cell]) &&
				     (j2 >= 0 || ja >= 0);
			size_t len, len2 = 0;
			struct jalad_codec_stats es, es2;
			JALAD_FORWARD(encode(w, c->bits[b], c->pc[b], JALAD_CODER_HUFFMAN_SHARED, fold[cell], cnt, &len, &es));
			if (js >= 0)
				put_size(c, i, cell, js, len);
			if (with2d) {
				JALAD_FORWARD(encode(w, c->bits[b], c->pc[b], JALAD_CODER_HUFFMAN_2D, fold[cell], cnt,
						     &len2, &es2));
				if (j2 >= 0)
					put_size(c, i, cell, j2, len2);
			}
			if (ja >= 0) {
				/* AUTO: per tensor the smallest of the candidates, huffman-shared
				 * and huffman-2d; a dictionary coder only when strictly smaller
				 * with the dictionary id counted, if no earlier tensor used one
				 * (auto_pick()). The containers differ only in coder bytes and
				 * payloads. */
				const uint32_t *mp = c->minpay + ((size_t)i * ncell(c) + cell) * (size_t)c->max_cross;
				size_t sz = len;
				int used = 0;
				for (int t = 0; t < cnt; t++) {
					uint32_t sh = es.tensor[t].payload_bytes, dp = sh;
					if (with2d && es2.tensor[t].payload_bytes < dp)
						dp = es2.tensor[t].payload_bytes;
					sz = sz - sh + auto_pick(mp[t], dp, &used);
				}
				/* the 4-byte dictionary id only when some tensor uses a dictionary coder */
				put_size(c, i, cell, ja, used ? sz : sz - JALAD_CODEC_DICT_ID_BYTES);
			}
		}
	}
	return JALAD_OK;
}

/* ---- timing ---------------------------------------------------------------------- */

/* JPEG encode/decode of the 8-bit input, and decode + preprocess of the file. */
static enum jalad_status image_times(struct jalad_calib_worker *w, int t, const struct jalad_calib_image *img)
{
	struct jalad_calibrator *c = w->cal;
	struct jalad_image im = { img->width, img->height, img->channels, (unsigned char *)img->pixels };
	struct jalad_image *dec = NULL;
	unsigned char *jpg = NULL;
	size_t jlen = 0;
	enum jalad_status st = JALAD_OK;
	uint64_t t0, t1, t2;

	if (c->jpeg_quality && c->have_pp) {
		t0 = jalad_now_ns();
		st = jalad_image_encode_jpeg(&im, c->jpeg_quality, &jpg, &jlen);
		t1 = jalad_now_ns();
		if (st == JALAD_OK)
			st = jalad_image_decode(jpg, jlen, "calibration JPEG", &dec);
		if (st == JALAD_OK)
			st = jalad_image_to_tensor(dec, &c->pp, w->in, w->in_len);
		t2 = jalad_now_ns();
		free(jpg);
		jalad_image_free(dec);
		dec = NULL;
		if (st != JALAD_OK)
			return st;
		c->jpeg_enc_ms[t] = (float)((double)(t1 - t0) / 1e6);
		c->jpeg_dec_ms[t] = (float)((double)(t2 - t1) / 1e6);
	}
	if (img->file && img->file_pp && w->in && jalad_preprocess_len(img->file_pp) == w->in_len) {
		t0 = jalad_now_ns();
		st = jalad_image_decode(img->file, img->file_bytes, "calibration file", &dec);
		if (st == JALAD_OK)
			st = jalad_image_to_tensor(dec, img->file_pp, w->in, w->in_len);
		t1 = jalad_now_ns();
		jalad_image_free(dec);
		if (st != JALAD_OK)
			return st;
		c->file_dec_ms[t] = (float)((double)(t1 - t0) / 1e6);
	}
	return JALAD_OK;
}

enum jalad_status jalad_calib_worker_time(struct jalad_calib_worker *w, int t, const struct jalad_tensor *input,
					  const struct jalad_calib_image *img)
{
	struct jalad_calibrator *c = w->cal;
	JALAD_RETURN_IF(t < 0 || t >= c->nt, JALAD_ERR_INVALID_ARG, "calibration: timing sample %d of %d", t, c->nt);
	JALAD_RETURN_IF(!c->learned, JALAD_ERR_INVALID_ARG, "calibration: timing before the dictionaries");
	JALAD_FORWARD(jalad_cut_capture_run(w->cc, input));
	if (img) {
		size_t len, npix = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
		if (npix > w->pix_cap) {
			uint8_t *p = realloc(w->pix, npix);
			JALAD_RETURN_IF(!p, JALAD_ERR_NOMEM, "calibration: pixels");
			w->pix = p;
			w->pix_cap = npix;
		}
		uint64_t t0 = jalad_now_ns();
		JALAD_FORWARD(plan_png_encode(img, &w->png, &w->png_cap, &len));
		uint64_t t1 = jalad_now_ns();
		JALAD_FORWARD(plan_png_decode(w->png, len, w->pix, w->pix_cap));
		uint64_t t2 = jalad_now_ns();
		c->png_enc_ms[t] = (float)((double)(t1 - t0) / 1e6);
		c->png_dec_ms[t] = (float)((double)(t2 - t1) / 1e6);
		JALAD_FORWARD(image_times(w, t, img));
	}
	float *outs[JALAD_CODEC_MAX_TENSORS];
	size_t caps[JALAD_CODEC_MAX_TENSORS];
	for (int k = 0; k < c->n; k++) {
		if (!c->cuts[k].supported)
			continue;
		const int *ids;
		const struct jalad_tensor *vals;
		int cnt;
		JALAD_FORWARD(jalad_cut_capture_get(w->cc, k, &ids, &vals, &cnt));
		codec_views(w, ids, vals, cnt);
		size_t off = 0;
		for (int j = 0; j < cnt; j++) {
			outs[j] = w->dec + off;
			caps[j] = (size_t)jalad_tensor_numel(&vals[j]);
			off += caps[j];
		}
		for (int b = 0; b < c->nb; b++) {
			size_t cell = (size_t)k * (size_t)c->nb + (size_t)b;
			const struct jalad_codec_dict *dict = c->bits[b] ? c->dict_all[cell] : NULL;
			int has2d = dict && bits_have_2d(c->bits[b]) && jalad_codec_dict_has_2d(dict);
			/* Also check the AUTO size derivation of the passes above:
			 * container without its payloads + smallest payload per tensor. */
			size_t base = 0, base_pay = 0, auto_len = 0;
			uint32_t minp[JALAD_CODEC_MAX_TENSORS], shp[JALAD_CODEC_MAX_TENSORS];
			int seen = 0, need = 0;
			for (int t2 = 0; t2 < cnt; t2++)
				minp[t2] = shp[t2] = UINT32_MAX;
			for (int j = 0; j < c->nc; j++) {
				enum jalad_coder coder = c->coders[j];
				if (!coder_applies(coder, c->bits[b]) || !jalad_codec_dict_serves(dict, coder, c->bits[b]))
					continue;
				size_t len;
				struct jalad_codec_stats es;
				uint64_t t0 = jalad_now_ns();
				JALAD_FORWARD(encode(w, c->bits[b], c->pc[b], coder, dict, cnt, &len, &es));
				uint64_t t1 = jalad_now_ns();
				enum jalad_status st = jalad_codec_decode(w->ctx, w->buf, len, NULL, dict, outs, caps, cnt, NULL);
				uint64_t t2 = jalad_now_ns();
				if (st != JALAD_OK) {
					jalad_error_prefix("calibration: decoding cut %d, %d bits, %s: ", k, c->bits[b],
							   jalad_coder_name(coder));
					return st;
				}
				size_t at = ((size_t)t * ncell(c) + cell) * (size_t)c->nc + (size_t)j;
				c->enc_ms[at] = (float)((double)(t1 - t0) / 1e6);
				c->dec_ms[at] = (float)((double)(t2 - t1) / 1e6);
				if (coder == JALAD_CODER_AUTO) {
					auto_len = len;
					continue;
				}
				int dcoder = jalad_coder_uses_dict(coder);
				if (coder_is_auto_cand(coder) || dcoder) {
					size_t pay = 0;
					for (int q = 0; q < cnt; q++) {
						uint32_t pb = es.tensor[q].payload_bytes;
						pay += pb;
						/* shp: the smallest dictionary-coder payload */
						if (dcoder && pb < shp[q])
							shp[q] = pb;
						else if (!dcoder && pb < minp[q])
							minp[q] = pb;
					}
					seen++;
					/* The base must carry the dict id iff AUTO's does
					 * (both dictionary coders' containers carry it). */
					if (c->bits[b] == 0 || dcoder) {
						base = len;
						base_pay = pay;
					}
				}
			}
			for (int a = 0; a < N_AUTO_CAND; a++)
				need += coder_applies(auto_candidates[a], c->bits[b]);
			need += c->bits[b] != 0; /* huffman-shared */
			need += has2d;           /* huffman-2d */
			if (auto_len && seen == need && base) {
				size_t derived = base - base_pay;
				int used = 0;
				for (int q = 0; q < cnt; q++)
					derived += auto_pick(minp[q], shp[q], &used);
				if (dict && !used)
					derived -= JALAD_CODEC_DICT_ID_BYTES; /* no dictionary coder used: no id */
				JALAD_RETURN_IF(derived != auto_len, JALAD_ERR_INTERNAL,
						"calibration: cut %d, %d bits: AUTO container is %zu bytes, %zu derived from the "
						"other coders (has the container layout changed?)", k, c->bits[b], auto_len,
						derived);
			}
		}
	}
	return JALAD_OK;
}

/* ---- the reduction ------------------------------------------------------------------ */

/* k-th smallest of v[0..n) (reorders v). */
static uint32_t select_u32(uint32_t *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;
	while (lo < hi) {
		uint32_t pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;
		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				uint32_t tmp = v[i];
				v[i] = v[j];
				v[j] = tmp;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return v[k];
	}
	return v[k];
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* Median of the non-negative entries of v[0..n) (strided); -1 if none. */
static double median_ms(const float *v, size_t n, size_t stride, float *tmp)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (v[i * stride] >= 0)
			tmp[m++] = v[i * stride];
	if (m == 0)
		return -1;
	qsort(tmp, m, sizeof *tmp, cmp_float);
	return m % 2 ? tmp[m / 2] : 0.5 * ((double)tmp[m / 2 - 1] + (double)tmp[m / 2]);
}

/* Mean and nearest-rank p95 of sizes v[0..n) (strided); -1 if any is NA or
 * all are 0 where zero means "absent". */
static void size_stats(const uint32_t *v, size_t n, size_t stride, uint32_t *tmp, double *mean, double *p95)
{
	uint64_t sum = 0;
	*mean = *p95 = -1;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = v[i * stride];
		if (x == NA)
			return;
		tmp[i] = x;
		sum += x;
	}
	if (n == 0)
		return;
	*mean = (double)sum / (double)n;
	size_t rank = (size_t)ceil(0.95 * (double)n);
	*p95 = select_u32(tmp, n, rank ? rank - 1 : 0);
}

/* Accuracy of an image payload from the per-sample flags at bit shift sh. */
static void img_cell(const struct jalad_calibrator *c, int sh, uint64_t labelled, struct jalad_calib_cell *ce)
{
	memset(ce, 0, sizeof *ce);
	for (uint64_t i = 0; i < c->ns; i++) {
		uint8_t f = (uint8_t)(c->img_flags[i] >> sh);
		ce->correct += (f & FLAG_CORRECT) && (c->float_flags[i] & FLAG_LABELLED);
		ce->agree += (f & FLAG_AGREE) != 0;
	}
	ce->agreement = (double)ce->agree / (double)c->ns;
	ce->accuracy = labelled ? (double)ce->correct / (double)labelled : ce->agreement;
}

enum jalad_status jalad_calibrator_finish(struct jalad_calibrator *c, struct jalad_calib **out)
{
	enum jalad_status st;
	struct jalad_calib *t = NULL;
	uint32_t *tmp = NULL;
	float *ftmp = NULL;
	*out = NULL;
	JALAD_RETURN_IF(!c->learned, JALAD_ERR_INVALID_ARG, "calibration: finish before the dictionaries");
	JALAD_FORWARD(jalad_calib_create(c->n, c->bits, c->pc, c->nb, c->coders, c->nc, &t));
	tmp = malloc((size_t)c->ns * sizeof *tmp);
	ftmp = malloc((size_t)(c->nt ? c->nt : 1) * sizeof *ftmp);
	if (!tmp || !ftmp) {
		st = jalad_fail(JALAD_ERR_NOMEM, "calibration reduction");
		goto fail;
	}
	t->model_file = plan_strdup(c->model_file);
	t->dataset = plan_strdup(c->dataset);
	t->backend = plan_strdup(c->backend);
	jalad_model_sha256(c->m, t->model_sha256);
	t->samples = c->ns;
	t->timing_samples = c->nt;
	t->size_samples = c->nsz;
	uint64_t labelled = 0, fc = 0;
	for (uint64_t i = 0; i < c->ns; i++) {
		labelled += (c->float_flags[i] & FLAG_LABELLED) != 0;
		fc += (c->float_flags[i] & FLAG_CORRECT) != 0;
	}
	t->labelled = labelled;
	t->float_correct = fc;
	t->float_accuracy = labelled ? (double)fc / (double)labelled : 1.0;
	memcpy(t->cuts, c->cuts, ((size_t)c->n + 1) * sizeof *c->cuts);
	size_t nce = ncell(c);
	for (size_t cell = 0; cell < nce; cell++) {
		int k = (int)(cell / (size_t)c->nb);
		if (!c->cuts[k].supported)
			continue;
		struct jalad_calib_cell *ce = &t->cells[cell];
		for (uint64_t i = 0; i < c->ns; i++) {
			uint8_t f = c->flags[(size_t)i * nce + cell];
			ce->correct += (f & FLAG_CORRECT) && (c->float_flags[i] & FLAG_LABELLED);
			ce->agree += (f & FLAG_AGREE) != 0;
		}
		ce->agreement = (double)ce->agree / (double)c->ns;
		ce->accuracy = labelled ? (double)ce->correct / (double)labelled : ce->agreement;
		for (int j = 0; j < c->nc; j++) {
			struct jalad_calib_stats *s = &t->stats[cell * (size_t)c->nc + (size_t)j];
			size_stats(c->bytes + cell * (size_t)c->nc + (size_t)j, (size_t)c->nsz, nce * (size_t)c->nc, tmp,
				   &s->mean_bytes, &s->p95_bytes);
			if (s->mean_bytes < 0)
				continue;
			s->enc_ms = median_ms(c->enc_ms + cell * (size_t)c->nc + (size_t)j, (size_t)c->nt,
					      nce * (size_t)c->nc, ftmp);
			s->dec_ms = median_ms(c->dec_ms + cell * (size_t)c->nc + (size_t)j, (size_t)c->nt,
					      nce * (size_t)c->nc, ftmp);
		}
		/* The table keeps the dictionary learned on every sample. */
		t->dicts[cell] = c->dict_all[cell];
		c->dict_all[cell] = NULL;
	}
	/* Cloud-only payloads: only if every sample had an image. */
	int have_img = 1;
	for (uint64_t i = 0; i < c->ns && have_img; i++)
		have_img = c->png_bytes[i] != 0;
	if (have_img) {
		uint64_t raw = 0;
		for (uint64_t i = 0; i < c->ns; i++)
			raw += c->raw_bytes[i];
		t->input_raw_bytes = (int64_t)((raw + c->ns / 2) / c->ns);
		size_stats(c->png_bytes, (size_t)c->ns, 1, tmp, &t->input_png.mean_bytes, &t->input_png.p95_bytes);
		t->input_png.enc_ms = median_ms(c->png_enc_ms, (size_t)c->nt, 1, ftmp);
		t->input_png.dec_ms = median_ms(c->png_dec_ms, (size_t)c->nt, 1, ftmp);
		if (c->have_pp) {
			t->u8_measured = 1;
			img_cell(c, 0, labelled, &t->input_u8);
		}
		if (c->have_pp && c->jpeg_quality) {
			t->jpeg_quality = c->jpeg_quality;
			size_stats(c->jpeg_bytes, (size_t)c->ns, 1, tmp, &t->input_jpeg.mean_bytes,
				   &t->input_jpeg.p95_bytes);
			t->input_jpeg.enc_ms = median_ms(c->jpeg_enc_ms, (size_t)c->nt, 1, ftmp);
			t->input_jpeg.dec_ms = median_ms(c->jpeg_dec_ms, (size_t)c->nt, 1, ftmp);
			img_cell(c, 4, labelled, &t->input_jpeg_acc);
		}
		int have_file = 1;
		for (uint64_t i = 0; i < c->ns && have_file; i++)
			have_file = c->file_bytes[i] != 0;
		if (have_file) {
			size_stats(c->file_bytes, (size_t)c->ns, 1, tmp, &t->input_file.mean_bytes,
				   &t->input_file.p95_bytes);
			t->input_file.enc_ms = 0;
			t->input_file.dec_ms = median_ms(c->file_dec_ms, (size_t)c->nt, 1, ftmp);
		}
	}
	free(tmp);
	free(ftmp);
	*out = t;
	return JALAD_OK;
fail:
	free(tmp);
	free(ftmp);
	jalad_calib_free(t);
	return st;
}
