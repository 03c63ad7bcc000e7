/* Image payloads at cut 0: the edge makes them from the photo (the
 * model-sized 8-bit pixels as they are, as a PNG or a JPEG; a file goes as
 * it is), the server checks them against the model's input and its limits
 * before anything is allocated, decodes them and builds the input tensor.
 * Decoding is the data module's (libpng, libjpeg); only the size in the
 * header is read here, so that a 16-byte PNG claiming 60000 x 60000 pixels
 * is refused before the decoder allocates for it. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "net_impl.h"

/* ================================================================ peeking */

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum jalad_status peek_png(const uint8_t *p, size_t len, uint32_t *w, uint32_t *h, int *channels)
{
	/* signature, then IHDR first: u32 length 13, "IHDR", u32 width,
	 * u32 height, u8 depth, u8 colour type, ... */
	JALAD_RETURN_IF(len < 8 + 8 + 13, JALAD_ERR_TRUNCATED, "png: %zu bytes, the header needs 29", len);
	JALAD_RETURN_IF(be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0, JALAD_ERR_FORMAT,
			"png: the first chunk is not a 13-byte IHDR");
	*w = be32(p + 16);
	*h = be32(p + 20);
	uint8_t depth = p[24], color = p[25];
	JALAD_RETURN_IF(*w == 0 || *h == 0 || *w > 0x7fffffffu || *h > 0x7fffffffu, JALAD_ERR_FORMAT,
			"png: bad size %ux%u", *w, *h);
	JALAD_RETURN_IF(depth != 1 && depth != 2 && depth != 4 && depth != 8 && depth != 16, JALAD_ERR_FORMAT,
			"png: bit depth %u", depth);
	switch (color) {
	case 0: /* gray */
	case 4: /* gray + alpha */
		*channels = 1;
		return JALAD_OK;
	case 2: /* RGB */
	case 3: /* palette */
	case 6: /* RGBA */
		*channels = 3;
		return JALAD_OK;
	default:
		return jalad_fail(JALAD_ERR_FORMAT, "png: colour type %u", color);
	}
}

static enum jalad_status peek_jpeg(const uint8_t *p, size_t len, uint32_t *w, uint32_t *h, int *channels)
{
	size_t i = 2; /* after SOI */
	for (;;) {
		JALAD_RETURN_IF(i >= len, JALAD_ERR_TRUNCATED, "jpeg: ends after %zu bytes without a frame header", len);
		JALAD_RETURN_IF(p[i] != 0xFF, JALAD_ERR_FORMAT, "jpeg: no marker at byte %zu (0x%02x)", i, p[i]);
		while (i < len && p[i] == 0xFF) /* fill bytes */
			i++;
		JALAD_RETURN_IF(i >= len, JALAD_ERR_TRUNCATED, "jpeg: ends inside a marker");
		uint8_t m = p[i++];
		if (m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7))
			continue; /* TEM, SOI, RSTn: no length */
		JALAD_RETURN_IF(m == 0xD9 || m == 0xDA || m == 0x00, JALAD_ERR_FORMAT,
				"jpeg: marker 0x%02x before a frame header", m);
		JALAD_RETURN_IF(len - i < 2, JALAD_ERR_TRUNCATED, "jpeg: ends inside segment 0x%02x", m);
		uint32_t seg = be16(p + i);
		JALAD_RETURN_IF(seg < 2, JALAD_ERR_FORMAT, "jpeg: segment 0x%02x of length %u", m, seg);
		JALAD_RETURN_IF(seg > len - i, JALAD_ERR_TRUNCATED, "jpeg: segment 0x%02x of %u bytes, %zu remain", m,
				seg, len - i);
		if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) { /* SOFn */
			JALAD_RETURN_IF(seg < 8, JALAD_ERR_FORMAT, "jpeg: frame header of %u bytes", seg);
			*h = be16(p + i + 3);
			*w = be16(p + i + 5);
			uint8_t nc = p[i + 7];
			JALAD_RETURN_IF(*w == 0 || *h == 0, JALAD_ERR_UNSUPPORTED,
					"jpeg: size %ux%u (a height set later by DNL is not supported)", *w, *h);
			JALAD_RETURN_IF(nc != 1 && nc != 3, JALAD_ERR_UNSUPPORTED,
					"jpeg: %u colour components (1 or 3 are supported)", nc);
			*channels = nc;
			return JALAD_OK;
		}
		i += seg;
	}
}

enum jalad_status jalad_net_image_peek(const uint8_t *p, size_t len, int *format, uint32_t *width,
				       uint32_t *height, int *channels)
{
	JALAD_RETURN_IF(!p || len == 0, JALAD_ERR_TRUNCATED, "image: empty");
	if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
		*format = JALAD_NET_IMAGE_PNG;
		return peek_png(p, len, width, height, channels);
	}
	if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
		*format = JALAD_NET_IMAGE_JPEG;
		return peek_jpeg(p, len, width, height, channels);
	}
	return jalad_fail(JALAD_ERR_FORMAT, "image: neither PNG nor JPEG (starts with %02x %02x %02x)", p[0],
			  len > 1 ? p[1] : 0, len > 2 ? p[2] : 0);
}

/* ================================================================ edge */

/* Room for n bytes in *buf. */
static enum jalad_status reserve(uint8_t **buf, size_t *cap, size_t n)
{
	if (n <= *cap)
		return JALAD_OK;
	uint8_t *nb = realloc(*buf, n);
	JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "image payload: out of memory for %zu bytes", n);
	*buf = nb;
	*cap = n;
	return JALAD_OK;
}

static void png_setup(png_image *im, const struct jalad_image *img)
{
	memset(im, 0, sizeof *im);
	im->version = PNG_IMAGE_VERSION;
	im->width = (png_uint_32)img->width;
	im->height = (png_uint_32)img->height;
	im->format = img->channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
}

enum jalad_status jalad_net_png_encode(const struct jalad_image *img, uint8_t **buf, size_t *cap, size_t *len)
{
	JALAD_RETURN_IF(!img || !img->data || img->width <= 0 || img->height <= 0 ||
				(img->channels != 1 && img->channels != 3),
			JALAD_ERR_INVALID_ARG, "png: bad image to encode");
	/* One pass into a buffer of a safe bound (filter bytes, zlib's stored
	 * blocks, an IDAT header per 8 KiB, the other chunks); should libpng
	 * need more, it says how much and we write again. */
	size_t raw = (size_t)img->height * ((size_t)img->width * (size_t)img->channels + 1);
	png_alloc_size_t n = raw + raw / 64 + 1024;
	JALAD_FORWARD(reserve(buf, cap, n));
	for (int attempt = 0; attempt < 2; attempt++) {
		png_image im;
		png_setup(&im, img);
		n = *cap;
		if (png_image_write_to_memory(&im, *buf, &n, 0, img->data, 0, NULL)) {
			*len = n;
			return JALAD_OK;
		}
		int too_small = n > *cap;
		png_image_free(&im);
		JALAD_RETURN_IF(!too_small, JALAD_ERR_INTERNAL, "png: %s", im.message);
		JALAD_FORWARD(reserve(buf, cap, n));
	}
	return jalad_fail(JALAD_ERR_INTERNAL, "png: the encoder's size kept growing");
}

enum jalad_status jalad_net_image_payload(enum jalad_net_payload kind, const struct jalad_image *img,
					  const struct jalad_preprocess *pp, int quality, uint8_t **buf,
					  size_t *cap, size_t *len, uint64_t *resample_ns)
{
	struct jalad_image *small = NULL;
	unsigned char *jpg = NULL;
	size_t jlen = 0;
	enum jalad_status st;
	JALAD_RETURN_IF(kind != JALAD_NET_PAYLOAD_U8 && kind != JALAD_NET_PAYLOAD_PNG && kind != JALAD_NET_PAYLOAD_JPEG,
			JALAD_ERR_INVALID_ARG, "image payload: kind %d is not made from pixels", (int)kind);
	JALAD_RETURN_IF(pp && (pp->width > 0xFFFF || pp->height > 0xFFFF), JALAD_ERR_LIMIT,
			"image payload: %dx%d does not fit the u16 sizes of the wire", pp->width, pp->height);
	uint64_t t0 = jalad_now_ns();
	JALAD_FORWARD(jalad_image_resample(img, pp, &small));
	if (resample_ns)
		*resample_ns = jalad_now_ns() - t0;
	size_t npix = (size_t)small->width * (size_t)small->height * (size_t)small->channels;
	if (kind == JALAD_NET_PAYLOAD_U8) {
		if ((st = reserve(buf, cap, JALAD_NET_U8_HEADER + npix)) != JALAD_OK)
			goto fail;
		jalad_put_u16(*buf, (uint16_t)small->width);
		jalad_put_u16(*buf + 2, (uint16_t)small->height);
		(*buf)[4] = (uint8_t)small->channels;
		memcpy(*buf + JALAD_NET_U8_HEADER, small->data, npix);
		*len = JALAD_NET_U8_HEADER + npix;
	} else if (kind == JALAD_NET_PAYLOAD_PNG) {
		if ((st = jalad_net_png_encode(small, buf, cap, len)) != JALAD_OK)
			goto fail;
	} else {
		if ((st = jalad_image_encode_jpeg(small, quality > 0 ? quality : 90, &jpg, &jlen)) != JALAD_OK ||
		    (st = reserve(buf, cap, jlen)) != JALAD_OK)
			goto fail;
		memcpy(*buf, jpg, jlen);
		*len = jlen;
	}
	st = JALAD_OK;
fail:
	free(jpg);
	jalad_image_free(small);
	return st;
}

/* ================================================================ server */

enum jalad_status jalad_net_image_input(enum jalad_net_payload kind, const uint8_t *p, size_t len,
					const struct jalad_preprocess *pp, uint32_t max_pixels, float *dst,
					size_t dst_len)
{
	const char *name = jalad_net_payload_name(kind);
	/* A model-sized image is normalized as it is: cropping it again would
	 * take the crop twice. */
	struct jalad_preprocess sized = *pp;
	sized.center_crop = JALAD_CROP_NONE;
	if (kind == JALAD_NET_PAYLOAD_U8) {
		JALAD_RETURN_IF(len < JALAD_NET_U8_HEADER, JALAD_ERR_TRUNCATED,
				"u8 payload of %zu bytes: the header needs %d", len, JALAD_NET_U8_HEADER);
		uint32_t w = jalad_get_u16(p), h = jalad_get_u16(p + 2), c = p[4];
		JALAD_RETURN_IF(w != (uint32_t)pp->width || h != (uint32_t)pp->height || c != (uint32_t)pp->channels,
				JALAD_ERR_SHAPE, "u8 payload is %ux%ux%u (w x h x c), the model's input is %dx%dx%d", w,
				h, c, pp->width, pp->height, pp->channels);
		size_t want = JALAD_NET_U8_HEADER + (size_t)w * h * c;
		JALAD_RETURN_IF(len != want, len < want ? JALAD_ERR_TRUNCATED : JALAD_ERR_FORMAT,
				"u8 payload of %zu bytes, a %ux%ux%u image takes %zu", len, w, h, c, want);
		struct jalad_image view = { (int)w, (int)h, (int)c, (unsigned char *)(uintptr_t)(p + JALAD_NET_U8_HEADER) };
		return jalad_image_to_tensor(&view, &sized, dst, dst_len);
	}
	JALAD_RETURN_IF(!jalad_net_payload_is_image(kind), JALAD_ERR_UNSUPPORTED, "payload kind %d is not an image",
			(int)kind);
	int fmt = 0, c = 0;
	uint32_t w = 0, h = 0;
	enum jalad_status st = jalad_net_image_peek(p, len, &fmt, &w, &h, &c);
	if (st != JALAD_OK) {
		jalad_error_prefix("%s payload: ", name);
		return st;
	}
	if (kind == JALAD_NET_PAYLOAD_FILE) {
		JALAD_RETURN_IF((uint64_t)w * h > max_pixels, JALAD_ERR_LIMIT,
				"file payload: a %ux%u image exceeds the limit of %u pixels", w, h, max_pixels);
	} else {
		int want = kind == JALAD_NET_PAYLOAD_PNG ? JALAD_NET_IMAGE_PNG : JALAD_NET_IMAGE_JPEG;
		JALAD_RETURN_IF(fmt != want, JALAD_ERR_FORMAT, "%s payload holds a %s", name,
				fmt == JALAD_NET_IMAGE_PNG ? "PNG" : "JPEG");
		JALAD_RETURN_IF(w != (uint32_t)pp->width || h != (uint32_t)pp->height || c != pp->channels, JALAD_ERR_SHAPE,
				"%s payload is %ux%ux%d (w x h x c), the model's input is %dx%dx%d", name, w, h, c,
				pp->width, pp->height, pp->channels);
	}
	struct jalad_image *img = NULL;
	if ((st = jalad_image_decode(p, len, name, &img)) != JALAD_OK) {
		jalad_error_prefix("%s payload: ", name);
		return st;
	}
	if (kind != JALAD_NET_PAYLOAD_FILE &&
	    (img->width != pp->width || img->height != pp->height || img->channels != pp->channels)) {
		st = jalad_fail(JALAD_ERR_SHAPE, "%s payload decodes to %dx%dx%d, the model's input is %dx%dx%d", name,
				img->width, img->height, img->channels, pp->width, pp->height, pp->channels);
	} else {
		st = jalad_image_to_tensor(img, kind == JALAD_NET_PAYLOAD_FILE ? pp : &sized, dst, dst_len);
	}
	jalad_image_free(img);
	return st;
}
