/* PNG in memory (libpng's simplified API): what cloud-only sends when it
 * compresses the input losslessly. */
#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

static void image_setup(png_image *im, const struct jalad_calib_image *img)
{
	memset(im, 0, sizeof *im);
	im->version = PNG_IMAGE_VERSION;
	im->width = (png_uint_32)img->width;
	im->height = (png_uint_32)img->height;
	im->format = img->channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
}

enum jalad_status plan_png_encode(const struct jalad_calib_image *img, uint8_t **buf, size_t *cap, size_t *len)
{
	png_image im;
	JALAD_RETURN_IF(!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
				(img->channels != 1 && img->channels != 3),
			JALAD_ERR_INVALID_ARG, "png: bad image");
	image_setup(&im, img);
	png_alloc_size_t need = 0;
	/* First call sizes the output. */
	if (!png_image_write_to_memory(&im, NULL, &need, 0, img->pixels, 0, NULL)) {
		enum jalad_status st = jalad_fail(JALAD_ERR_INTERNAL, "png: %s", im.message);
		png_image_free(&im);
		return st;
	}
	if (need > *cap) {
		uint8_t *b = realloc(*buf, need);
		JALAD_RETURN_IF(!b, JALAD_ERR_NOMEM, "png: %zu bytes", (size_t)need);
		*buf = b;
		*cap = need;
	}
	image_setup(&im, img);
	png_alloc_size_t got = *cap;
	if (!png_image_write_to_memory(&im, *buf, &got, 0, img->pixels, 0, NULL)) {
		enum jalad_status st = jalad_fail(JALAD_ERR_INTERNAL, "png: %s", im.message);
		png_image_free(&im);
		return st;
	}
	*len = got;
	return JALAD_OK;
}

enum jalad_status plan_png_decode(const uint8_t *buf, size_t len, uint8_t *pixels, size_t cap)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	JALAD_RETURN_IF(!png_image_begin_read_from_memory(&im, buf, len), JALAD_ERR_FORMAT, "png: %s", im.message);
	if (PNG_IMAGE_SIZE(im) > cap) {
		png_image_free(&im);
		return jalad_fail(JALAD_ERR_LIMIT, "png: image larger than the buffer");
	}
	if (!png_image_finish_read(&im, NULL, pixels, 0, NULL)) {
		enum jalad_status st = jalad_fail(JALAD_ERR_FORMAT, "png: %s", im.message);
		png_image_free(&im);
		return st;
	}
	return JALAD_OK;
}
