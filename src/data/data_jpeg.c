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
