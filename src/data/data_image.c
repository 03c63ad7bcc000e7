/* 8-bit images: allocation, format dispatch, and conversion to a
 * normalized float tensor (channel conversion, bilinear resize, crop). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_impl.h"

#define PP_MAX_SIDE 16384

/* ======================================================================== */
/* Allocation and loading                                                   */
/* ======================================================================== */

enum jalad_status jalad_image_check_size(const char *path, unsigned long width,
					 unsigned long height, int channels)
{
	unsigned long long n = (unsigned long long)width * height * (unsigned)channels;
	JALAD_RETURN_IF(width == 0 || height == 0, JALAD_ERR_FORMAT,
			"%s: image has size %lux%lu", path, width, height);
	/* width and height come from 32-bit header fields, so n cannot wrap */
	JALAD_RETURN_IF(width > 0x7fffffffUL || height > 0x7fffffffUL ||
				n > JALAD_DATA_MAX_PIXELS,
			JALAD_ERR_LIMIT, "%s: %lux%lux%d image exceeds the limit of %u bytes",
			path, width, height, channels, JALAD_DATA_MAX_PIXELS);
	return JALAD_OK;
}

enum jalad_status jalad_image_create(int width, int height, int channels,
				     struct jalad_image **out)
{
	struct jalad_image *img;
	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "image: out is NULL");
	*out = NULL;
	JALAD_RETURN_IF(width <= 0 || height <= 0 || (channels != 1 && channels != 3),
			JALAD_ERR_INVALID_ARG, "image: bad shape %dx%dx%d", width, height, channels);
	JALAD_FORWARD(jalad_image_check_size("image_create", (unsigned long)width,
					     (unsigned long)height, channels));
	img = calloc(1, sizeof *img);
	if (!img)
		return jalad_fail(JALAD_ERR_NOMEM, "image: out of memory");
	img->data = calloc((size_t)width * (size_t)height, (size_t)channels);
	if (!img->data) {
		free(img);
		return jalad_fail(JALAD_ERR_NOMEM, "image: out of memory for %dx%dx%d",
				  width, height, channels);
	}
	img->width = width;
	img->height = height;
	img->channels = channels;
	*out = img;
	return JALAD_OK;
}

void jalad_image_free(struct jalad_image *img)
{
	if (!img)
		return;
	free(img->data);
	free(img);
}

/* Sniff the format from the first bytes of fp and decode. */
static enum jalad_status image_decode_fp(FILE *fp, const char *path, struct jalad_image **out)
{
	unsigned char sig[8];
	size_t n = fread(sig, 1, sizeof sig, fp);

	if (ferror(fp))
		return jalad_fail(JALAD_ERR_IO, "%s: read error: %s", path, strerror(errno));
	if (n == 0)
		return jalad_fail(JALAD_ERR_TRUNCATED, "%s: empty file", path);
	rewind(fp);
	if (n == 8 && memcmp(sig, "\x89PNG\r\n\x1a\n", 8) == 0)
		return jalad_png_decode(fp, path, out);
	if (n >= 3 && sig[0] == 0xff && sig[1] == 0xd8 && sig[2] == 0xff)
		return jalad_jpeg_decode(fp, path, out);
	return jalad_fail(JALAD_ERR_UNSUPPORTED,
			  "%s: not a PNG or JPEG file (starts with %02x %02x %02x)", path, sig[0],
			  n > 1 ? sig[1] : 0, n > 2 ? sig[2] : 0);
}

enum jalad_status jalad_image_load(const char *path, struct jalad_image **out)
{
	enum jalad_status st;
	FILE *fp;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "image: out is NULL");
	*out = NULL;
	JALAD_RETURN_IF(!path, JALAD_ERR_INVALID_ARG, "image: path is NULL");
	fp = fopen(path, "rb");
	if (!fp)
		return jalad_fail(errno == ENOENT ? JALAD_ERR_NOT_FOUND : JALAD_ERR_IO,
				  "%s: cannot open: %s", path, strerror(errno));
	st = image_decode_fp(fp, path, out);
	fclose(fp);
	return st;
}

enum jalad_status jalad_image_decode(const void *bytes, size_t len, const char *name,
				     struct jalad_image **out)
{
	enum jalad_status st;
	FILE *fp;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "image: out is NULL");
	*out = NULL;
	if (!name)
		name = "image";
	JALAD_RETURN_IF(!bytes && len, JALAD_ERR_INVALID_ARG, "image: NULL bytes");
	JALAD_RETURN_IF(len == 0, JALAD_ERR_TRUNCATED, "%s: empty image", name);
	/* the decoders read from a FILE; fmemopen reads the buffer in place */
	fp = fmemopen((void *)bytes, len, "rb");
	if (!fp)
		return jalad_fail(JALAD_ERR_NOMEM, "%s: cannot open a memory stream", name);
	st = image_decode_fp(fp, name, out);
	fclose(fp);
	return st;
}

enum jalad_status jalad_file_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	JALAD_RETURN_IF(!path || !buf || !len, JALAD_ERR_INVALID_ARG, "file_read: NULL argument");
	FILE *f = fopen(path, "rb");
	*buf = NULL;
	*len = 0;
	if (!f)
		return jalad_fail(errno == ENOENT ? JALAD_ERR_NOT_FOUND : JALAD_ERR_IO, "%s: cannot open: %s", path,
				  strerror(errno));
	size_t cap = 0;
	enum jalad_status st = JALAD_OK;
	for (;;) {
		if (*len == cap) {
			if (cap >= max) {
				/* full at the limit: only an end of file keeps it legal */
				int ch = fgetc(f);
				if (ch != EOF)
					st = jalad_fail(JALAD_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
				else if (ferror(f))
					st = jalad_fail(JALAD_ERR_IO, "%s: read error", path);
				break;
			}
			size_t ncap = cap ? cap * 2 : 65536;
			if (ncap > max || ncap < cap)
				ncap = max;
			uint8_t *nb = realloc(*buf, ncap ? ncap : 1);
			if (!nb) {
				st = jalad_fail(JALAD_ERR_NOMEM, "%s: out of memory", path);
				break;
			}
			*buf = nb;
			cap = ncap;
		}
		size_t got = fread(*buf + *len, 1, cap - *len, f);
		*len += got;
		if (got == 0) {
			if (ferror(f))
				st = jalad_fail(JALAD_ERR_IO, "%s: read error", path);
			break;
		}
	}
	fclose(f);
	if (st != JALAD_OK) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	return st;
}

/* ======================================================================== */
/* Preprocessing                                                            */
/* ======================================================================== */

void jalad_preprocess_default(struct jalad_preprocess *pp, int channels, int height, int width)
{
	memset(pp, 0, sizeof *pp);
	pp->scale = 1.0f / 255.0f;
	pp->channels = channels;
	for (int c = 0; c < 4; c++)
		pp->std[c] = 1.0f;
	pp->height = height;
	pp->width = width;
}

void jalad_preprocess_imagenet(struct jalad_preprocess *pp, int size)
{
	static const float mean[3] = { 0.485f, 0.456f, 0.406f };
	static const float std[3] = { 0.229f, 0.224f, 0.225f };
	jalad_preprocess_default(pp, 3, size, size);
	memcpy(pp->mean, mean, sizeof mean);
	memcpy(pp->std, std, sizeof std);
	pp->center_crop = 1;
}

enum jalad_status jalad_preprocess_check(const struct jalad_preprocess *pp)
{
	JALAD_RETURN_IF(!pp, JALAD_ERR_INVALID_ARG, "preprocess: NULL");
	JALAD_RETURN_IF(pp->channels != 1 && pp->channels != 3, JALAD_ERR_INVALID_ARG,
			"preprocess: channels %d, expected 1 or 3", pp->channels);
	JALAD_RETURN_IF(pp->height < 1 || pp->height > PP_MAX_SIDE || pp->width < 1 ||
				pp->width > PP_MAX_SIDE,
			JALAD_ERR_INVALID_ARG, "preprocess: size %dx%d outside 1..%d",
			pp->height, pp->width, PP_MAX_SIDE);
	JALAD_RETURN_IF(pp->center_crop < JALAD_CROP_NONE || pp->center_crop > JALAD_CROP_CENTRAL,
			JALAD_ERR_INVALID_ARG, "preprocess: unknown crop mode %d", pp->center_crop);
	JALAD_RETURN_IF(!(pp->crop_fraction >= 0.0f && pp->crop_fraction <= 1.0f),
			JALAD_ERR_INVALID_ARG, "preprocess: crop fraction %g outside (0, 1]",
			(double)pp->crop_fraction);
	JALAD_RETURN_IF(!isfinite(pp->scale), JALAD_ERR_INVALID_ARG,
			"preprocess: scale is not finite");
	for (int c = 0; c < pp->channels; c++) {
		JALAD_RETURN_IF(!isfinite(pp->mean[c]), JALAD_ERR_INVALID_ARG,
				"preprocess: mean[%d] is not finite", c);
		JALAD_RETURN_IF(!isfinite(pp->std[c]) || pp->std[c] == 0.0f,
				JALAD_ERR_INVALID_ARG,
				"preprocess: std[%d] = %g, must be finite and non-zero", c,
				(double)pp->std[c]);
	}
	return JALAD_OK;
}

size_t jalad_preprocess_len(const struct jalad_preprocess *pp)
{
	if (!pp || (pp->channels != 1 && pp->channels != 3) || pp->height < 1 ||
	    pp->height > PP_MAX_SIDE || pp->width < 1 || pp->width > PP_MAX_SIDE)
		return 0;
	return (size_t)pp->channels * (size_t)pp->height * (size_t)pp->width;
}

/* One axis of the resampling: output index o reads source positions i0 and
 * i1 with weights 1-f and f. */
struct axis_map {
	double step;   /* source pixels per resized pixel */
	double offset; /* crop offset in resized pixels (JALAD_CROP_RESIZE) */
	double origin; /* crop offset in source pixels (JALAD_CROP_CENTRAL) */
	int in;        /* source length */
};

static void axis_sample(const struct axis_map *m, int o, int *i0, int *i1, float *f)
{
	/* half-pixel centres, negative positions clamp to 0 (PyTorch) */
	double s = ((double)o + m->offset + 0.5) * m->step - 0.5 + m->origin;
	int lo;
	if (s < 0.0)
		s = 0.0;
	lo = (int)s;
	if (lo > m->in - 1)
		lo = m->in - 1;
	*i0 = lo;
	*i1 = lo + 1 < m->in ? lo + 1 : m->in - 1;
	*f = (float)(s - lo);
}

/* Value of target channel c at source pixel p (channel conversion). */
static inline float pixel_value(const unsigned char *p, int src_c, int dst_c, int c)
{
	if (src_c == dst_c)
		return p[c];
	if (src_c == 1)
		return p[0];
	/* ITU-R BT.601 luma, as PIL's convert("L") but unrounded */
	return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

/* Plan both axes: plain resize, or aspect-preserving cover + centre crop. */
static void plan_axes(const struct jalad_image *img, const struct jalad_preprocess *pp,
		      struct axis_map *ym, struct axis_map *xm)
{
	double rh = pp->height, rw = pp->width; /* resized size before the crop */
	if (pp->center_crop == JALAD_CROP_CENTRAL) {
		double f = pp->crop_fraction > 0.0f ? pp->crop_fraction : 0.875;
		double side = f * (img->height < img->width ? img->height : img->width);
		ym->in = img->height;
		ym->step = side / pp->height;
		ym->offset = 0.0;
		ym->origin = (img->height - side) / 2.0;
		xm->in = img->width;
		xm->step = side / pp->width;
		xm->offset = 0.0;
		xm->origin = (img->width - side) / 2.0;
		return;
	}
	ym->origin = xm->origin = 0.0;
	if (pp->center_crop == JALAD_CROP_RESIZE) {
		/* torchvision: Resize(int(size / 0.875)) on the shorter side,
		 * the longer one int(short_target * long / short), then
		 * CenterCrop with round-half-even offsets. */
		double th = floor(pp->height / 0.875), tw = floor(pp->width / 0.875);
		if (th * img->width >= tw * img->height) {
			rh = th;
			rw = floor((double)img->width * th / img->height);
		} else {
			rw = tw;
			rh = floor((double)img->height * tw / img->width);
		}
		if (rh < pp->height)
			rh = pp->height;
		if (rw < pp->width)
			rw = pp->width;
	}
	ym->in = img->height;
	ym->step = img->height / rh;
	ym->offset = nearbyint((rh - pp->height) / 2.0);
	xm->in = img->width;
	xm->step = img->width / rw;
	xm->offset = nearbyint((rw - pp->width) / 2.0);
}

/* Crop, resize and channel-convert img to pp's size; float output
 * normalized into dst (CHW), or, with u8 set, rounded pixels into u8 (HWC). */
static void image_resample(const struct jalad_image *img, const struct jalad_preprocess *pp,
			   float *dst, unsigned char *u8)
{
	struct axis_map ym, xm;
	const int sc = img->channels, dc = pp->channels, H = pp->height, W = pp->width;
	const size_t plane = (size_t)H * (size_t)W;

	plan_axes(img, pp, &ym, &xm);
	const size_t stride = (size_t)img->width * (size_t)sc;
	/* exact copy, no resampling arithmetic, for the common 1:1 case */
	const int same_size = pp->center_crop == JALAD_CROP_NONE && img->height == H && img->width == W;

	for (int c = 0; c < dc; c++) {
		const float scale = pp->scale, mean = pp->mean[c], sd = pp->std[c];
		float *out = dst ? dst + (size_t)c * plane : NULL;
		for (int y = 0; y < H; y++) {
			int y0, y1;
			float fy;
			if (same_size) {
				y0 = y1 = y;
				fy = 0.0f;
			} else {
				axis_sample(&ym, y, &y0, &y1, &fy);
			}
			const unsigned char *r0 = img->data + (size_t)y0 * stride;
			const unsigned char *r1 = img->data + (size_t)y1 * stride;
			for (int x = 0; x < W; x++) {
				float v;
				if (same_size) {
					v = pixel_value(r0 + (size_t)x * sc, sc, dc, c);
				} else {
					int x0, x1;
					float fx;
					axis_sample(&xm, x, &x0, &x1, &fx);
					float a = pixel_value(r0 + (size_t)x0 * sc, sc, dc, c);
					float b = pixel_value(r0 + (size_t)x1 * sc, sc, dc, c);
					float d = pixel_value(r1 + (size_t)x0 * sc, sc, dc, c);
					float e = pixel_value(r1 + (size_t)x1 * sc, sc, dc, c);
					float top = a + (b - a) * fx, bot = d + (e - d) * fx;
					v = top + (bot - top) * fy;
				}
				if (u8) {
					float r = floorf(v + 0.5f);
					u8[((size_t)y * W + x) * dc + c] =
						(unsigned char)(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);
				} else {
					out[(size_t)y * W + x] = (v * scale - mean) / sd;
				}
			}
		}
	}
}

static enum jalad_status check_image(const struct jalad_image *img, const char *who)
{
	JALAD_RETURN_IF(!img || !img->data, JALAD_ERR_INVALID_ARG, "%s: NULL image or pixels", who);
	JALAD_RETURN_IF(img->width <= 0 || img->height <= 0 ||
				(img->channels != 1 && img->channels != 3),
			JALAD_ERR_INVALID_ARG, "%s: bad image shape %dx%dx%d", who, img->width,
			img->height, img->channels);
	return JALAD_OK;
}

enum jalad_status jalad_image_to_tensor(const struct jalad_image *img,
					const struct jalad_preprocess *pp, float *dst,
					size_t dst_len)
{
	JALAD_FORWARD(check_image(img, "image_to_tensor"));
	JALAD_RETURN_IF(!dst, JALAD_ERR_INVALID_ARG, "image_to_tensor: NULL dst");
	JALAD_FORWARD(jalad_preprocess_check(pp));
	JALAD_RETURN_IF(dst_len != jalad_preprocess_len(pp), JALAD_ERR_SHAPE,
			"image_to_tensor: dst holds %zu floats, tensor %dx%dx%d needs %zu",
			dst_len, pp->channels, pp->height, pp->width, jalad_preprocess_len(pp));
	image_resample(img, pp, dst, NULL);
	return JALAD_OK;
}

enum jalad_status jalad_image_resample(const struct jalad_image *img,
				       const struct jalad_preprocess *pp, struct jalad_image **out)
{
	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "image_resample: out is NULL");
	*out = NULL;
	JALAD_FORWARD(check_image(img, "image_resample"));
	JALAD_FORWARD(jalad_preprocess_check(pp));
	JALAD_FORWARD(jalad_image_create(pp->width, pp->height, pp->channels, out));
	image_resample(img, pp, NULL, (*out)->data);
	return JALAD_OK;
}

enum jalad_status jalad_preprocess_set_crop(struct jalad_preprocess *pp, const char *spec)
{
	JALAD_RETURN_IF(!pp || !spec, JALAD_ERR_INVALID_ARG, "preprocess: NULL crop spec");
	if (!strcmp(spec, "none")) {
		pp->center_crop = JALAD_CROP_NONE;
	} else if (!strcmp(spec, "resize")) {
		pp->center_crop = JALAD_CROP_RESIZE;
	} else if (!strncmp(spec, "central", 7) && (spec[7] == '\0' || spec[7] == ':')) {
		double f = 0.875;
		if (spec[7] == ':') {
			char *end;
			errno = 0;
			f = strtod(spec + 8, &end);
			JALAD_RETURN_IF(errno || end == spec + 8 || *end || !(f > 0.0 && f <= 1.0),
					JALAD_ERR_INVALID_ARG,
					"preprocess: crop '%s': the fraction must be in (0, 1]", spec);
		}
		pp->center_crop = JALAD_CROP_CENTRAL;
		pp->crop_fraction = (float)f;
	} else {
		return jalad_fail(JALAD_ERR_INVALID_ARG,
				  "preprocess: unknown crop '%s'; expected none, resize, central or "
				  "central:FRACTION",
				  spec);
	}
	return JALAD_OK;
}
