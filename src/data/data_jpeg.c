/* JPEG decoding with libjpeg(-turbo): gray stays gray, YCbCr/RGB become RGB.
 * libjpeg's default error handler calls exit(); ours longjmps back. */
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "data_impl.h"

struct jpeg_err {
	struct jpeg_error_mgr pub; /* first: libjpeg sees a jpeg_error_mgr */
	jmp_buf jump;
	const char *path;
	enum jalad_status st;
	char msg[JMSG_LENGTH_MAX];
};

/* Lives in the caller's frame: see the note in data_png.c. */
struct jpeg_ctx {
	struct jpeg_decompress_struct cinfo;
	struct jpeg_err err;
	struct jalad_image *img;
};

static void jpeg_err_exit(j_common_ptr cinfo)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	e->st = JALAD_ERR_FORMAT;
	longjmp(e->jump, 1);
}

static void jpeg_err_emit(j_common_ptr cinfo, int level)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	char buf[JMSG_LENGTH_MAX];

	if (level >= 0)
		return; /* trace messages */
	/* libjpeg pads a truncated stream with gray and carries on; a cut-off
	 * file is an error for us, other corrupt-data warnings are logged. */
	if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
		(*cinfo->err->format_message)(cinfo, e->msg);
		e->st = JALAD_ERR_TRUNCATED;
		longjmp(e->jump, 1);
	}
	cinfo->err->num_warnings++;
	(*cinfo->err->format_message)(cinfo, buf);
	jalad_log(JALAD_LOG_DEBUG, "jpeg: %s: %s", e->path, buf);
}

static void jpeg_err_output(j_common_ptr cinfo)
{
	struct jpeg_err *e = (struct jpeg_err *)cinfo->err;
	char buf[JMSG_LENGTH_MAX];
	(*cinfo->err->format_message)(cinfo, buf);
	jalad_log(JALAD_LOG_DEBUG, "jpeg: %s: %s", e->path, buf);
}

/* All libjpeg calls; returns 1 after a libjpeg error (details in ctx->err),
 * 0 otherwise with ctx->err.st the outcome of our own checks. */
static int jpeg_run(struct jpeg_ctx *ctx, FILE *fp)
{
	struct jpeg_decompress_struct *ci = &ctx->cinfo;

	if (setjmp(ctx->err.jump))
		return 1;
	jpeg_create_decompress(ci);
	jpeg_stdio_src(ci, fp);
	jpeg_read_header(ci, TRUE);

	switch (ci->jpeg_color_space) {
	case JCS_GRAYSCALE:
		ci->out_color_space = JCS_GRAYSCALE;
		break;
	case JCS_YCbCr:
	case JCS_RGB:
		ci->out_color_space = JCS_RGB;
		break;
	default:
		ctx->err.st = jalad_fail(JALAD_ERR_UNSUPPORTED,
					 "jpeg: %s: color space %d (CMYK/YCCK) is not supported",
					 ctx->err.path, (int)ci->jpeg_color_space);
		return 0;
	}
	ctx->err.st = jalad_image_check_size(ctx->err.path, ci->image_width, ci->image_height,
					     ci->out_color_space == JCS_GRAYSCALE ? 1 : 3);
	if (ctx->err.st != JALAD_OK)
		return 0;
	jpeg_start_decompress(ci);
	if (ci->output_components != 1 && ci->output_components != 3) {
		ctx->err.st = jalad_fail(JALAD_ERR_INTERNAL, "jpeg: %s: %d output components",
					 ctx->err.path, ci->output_components);
		return 0;
	}
	ctx->err.st = jalad_image_create((int)ci->output_width, (int)ci->output_height,
					 ci->output_components, &ctx->img);
	if (ctx->err.st != JALAD_OK)
		return 0;
	const size_t stride = (size_t)ci->output_width * (size_t)ci->output_components;
	while (ci->output_scanline < ci->output_height) {
		JSAMPROW row = ctx->img->data + (size_t)ci->output_scanline * stride;
		jpeg_read_scanlines(ci, &row, 1);
	}
	jpeg_finish_decompress(ci);
	return 0;
}

enum jalad_status jalad_jpeg_decode(FILE *fp, const char *path, struct jalad_image **out)
{
	struct jpeg_ctx ctx;
	enum jalad_status st;

	memset(&ctx, 0, sizeof ctx);
	*out = NULL;
	ctx.cinfo.err = jpeg_std_error(&ctx.err.pub);
	ctx.err.pub.error_exit = jpeg_err_exit;
	ctx.err.pub.emit_message = jpeg_err_emit;
	ctx.err.pub.output_message = jpeg_err_output;
	ctx.err.path = path;
	if (jpeg_run(&ctx, fp)) {
		st = jalad_fail(ctx.err.st, "jpeg: %s: %s", path, ctx.err.msg);
		goto fail;
	}
	st = ctx.err.st;
	if (st != JALAD_OK)
		goto fail;
	*out = ctx.img;
	ctx.img = NULL;
fail:
	/* safe on a zeroed or half-created struct: it checks cinfo->mem */
	jpeg_destroy_decompress(&ctx.cinfo);
	jalad_image_free(ctx.img);
	return st;
}

/* ======================================================================== */
/* Encoding                                                                 */
/* ======================================================================== */

/* Lives in the caller's frame, like jpeg_ctx. */
struct jpeg_enc_ctx {
	struct jpeg_compress_struct cinfo;
	struct jpeg_err err;
	unsigned char *buf;
	unsigned long len;
};

static int jpeg_enc_run(struct jpeg_enc_ctx *ctx, const struct jalad_image *img, int quality)
{
	struct jpeg_compress_struct *ci = &ctx->cinfo;

	if (setjmp(ctx->err.jump))
		return 1;
	jpeg_create_compress(ci);
	jpeg_mem_dest(ci, &ctx->buf, &ctx->len);
	ci->image_width = (JDIMENSION)img->width;
	ci->image_height = (JDIMENSION)img->height;
	ci->input_components = img->channels;
	ci->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(ci);
	jpeg_set_quality(ci, quality, TRUE);
	jpeg_start_compress(ci, TRUE);
	const size_t stride = (size_t)img->width * (size_t)img->channels;
	while (ci->next_scanline < ci->image_height) {
		JSAMPROW row = img->data + (size_t)ci->next_scanline * stride;
		jpeg_write_scanlines(ci, &row, 1);
	}
	jpeg_finish_compress(ci);
	return 0;
}

enum jalad_status jalad_image_encode_jpeg(const struct jalad_image *img, int quality,
					  unsigned char **bytes, size_t *len)
{
	struct jpeg_enc_ctx ctx;
	enum jalad_status st = JALAD_OK;

	JALAD_RETURN_IF(!bytes || !len, JALAD_ERR_INVALID_ARG, "jpeg: NULL output");
	*bytes = NULL;
	*len = 0;
	JALAD_RETURN_IF(!img || !img->data || img->width <= 0 || img->height <= 0 ||
				(img->channels != 1 && img->channels != 3),
			JALAD_ERR_INVALID_ARG, "jpeg: bad image to encode");
	JALAD_RETURN_IF(quality < 1 || quality > 100, JALAD_ERR_INVALID_ARG,
			"jpeg: quality %d outside 1..100", quality);
	memset(&ctx, 0, sizeof ctx);
	ctx.cinfo.err = jpeg_std_error(&ctx.err.pub);
	ctx.err.pub.error_exit = jpeg_err_exit;
	ctx.err.pub.output_message = jpeg_err_output;
	ctx.err.path = "encoder";
	if (jpeg_enc_run(&ctx, img, quality)) {
		st = jalad_fail(JALAD_ERR_IO, "jpeg: encode: %s", ctx.err.msg);
		free(ctx.buf);
	} else {
		*bytes = ctx.buf;
		*len = ctx.len;
	}
	jpeg_destroy_compress(&ctx.cinfo);
	return st;
}
