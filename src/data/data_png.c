/* PNG decoding with libpng: any PNG becomes 8-bit gray or RGB. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "data_impl.h"

/* Everything libpng's longjmp may leave half-done lives here, in the
 * caller's frame, so no local of the setjmp function is read after a jump. */
struct png_ctx {
	const char *path;
	png_structp png;
	png_infop info;
	struct jalad_image *img;
	png_bytep *rows;
	char msg[200];
	enum jalad_status st; /* status of the error libpng reported */
};

static void png_ctx_error(png_structp png, png_const_charp msg)
{
	struct png_ctx *ctx = png_get_error_ptr(png);
	snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
	/* the stdio reader reports a short read as "Read Error" */
	ctx->st = strstr(msg, "Read Error") || strstr(msg, "Not enough image data")
			  ? JALAD_ERR_TRUNCATED
			  : JALAD_ERR_FORMAT;
	png_longjmp(png, 1);
}

static void png_ctx_warning(png_structp png, png_const_charp msg)
{
	struct png_ctx *ctx = png_get_error_ptr(png);
	jalad_log(JALAD_LOG_DEBUG, "png: %s: %s", ctx->path, msg);
}

/* All libpng calls that can fail; returns non-zero after a libpng error
 * (details in ctx) and JALAD_OK/status for our own checks via ctx->st. */
static int png_run(struct png_ctx *ctx, FILE *fp)
{
	png_uint_32 w, h;
	int depth, color, interlace, channels;
	size_t rowbytes;

	if (setjmp(png_jmpbuf(ctx->png)))
		return 1;
	png_init_io(ctx->png, fp);
	png_set_user_limits(ctx->png, 1u << 20, 1u << 20);
	png_read_info(ctx->png, ctx->info);
	png_get_IHDR(ctx->png, ctx->info, &w, &h, &depth, &color, &interlace, NULL, NULL);

	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(ctx->png);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(ctx->png);
	if (depth == 16)
		png_set_scale_16(ctx->png);
	if (color & PNG_COLOR_MASK_ALPHA)
		png_set_strip_alpha(ctx->png);
	/* tRNS is ignored on purpose: transparency is dropped like alpha */
	png_set_interlace_handling(ctx->png);
	png_read_update_info(ctx->png, ctx->info);

	channels = png_get_channels(ctx->png, ctx->info);
	rowbytes = png_get_rowbytes(ctx->png, ctx->info);
	if (channels != 1 && channels != 3) {
		ctx->st = jalad_fail(JALAD_ERR_UNSUPPORTED, "png: %s: %d channels after conversion",
				     ctx->path, channels);
		return 0;
	}
	ctx->st = jalad_image_check_size(ctx->path, w, h, channels);
	if (ctx->st != JALAD_OK)
		return 0;
	if (rowbytes != (size_t)w * (size_t)channels) {
		ctx->st = jalad_fail(JALAD_ERR_INTERNAL, "png: %s: row of %zu bytes, expected %lu",
				     ctx->path, rowbytes, (unsigned long)w * (unsigned)channels);
		return 0;
	}
	ctx->st = jalad_image_create((int)w, (int)h, channels, &ctx->img);
	if (ctx->st != JALAD_OK)
		return 0;
	ctx->rows = malloc((size_t)h * sizeof *ctx->rows);
	if (!ctx->rows) {
		ctx->st = jalad_fail(JALAD_ERR_NOMEM, "png: %s: out of memory", ctx->path);
		return 0;
	}
	for (png_uint_32 y = 0; y < h; y++)
		ctx->rows[y] = ctx->img->data + (size_t)y * rowbytes;
	png_read_image(ctx->png, ctx->rows);
	png_read_end(ctx->png, NULL);
	return 0;
}

enum jalad_status jalad_png_decode(FILE *fp, const char *path, struct jalad_image **out)
{
	struct png_ctx ctx;
	enum jalad_status st;

	memset(&ctx, 0, sizeof ctx);
	ctx.path = path;
	*out = NULL;
	ctx.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_ctx_error,
					 png_ctx_warning);
	if (!ctx.png)
		return jalad_fail(JALAD_ERR_NOMEM, "png: %s: cannot create decoder", path);
	ctx.info = png_create_info_struct(ctx.png);
	if (!ctx.info) {
		st = jalad_fail(JALAD_ERR_NOMEM, "png: %s: cannot create decoder", path);
		goto fail;
	}
	if (png_run(&ctx, fp)) {
		st = jalad_fail(ctx.st, "png: %s: %s%s%s", path,
				ctx.st == JALAD_ERR_TRUNCATED ? "file ends early (libpng: " : "",
				ctx.msg, ctx.st == JALAD_ERR_TRUNCATED ? ")" : "");
		goto fail;
	}
	st = ctx.st;
	if (st != JALAD_OK)
		goto fail;
	*out = ctx.img;
	ctx.img = NULL;
fail:
	png_destroy_read_struct(&ctx.png, ctx.info ? &ctx.info : NULL, NULL);
	free(ctx.rows);
	jalad_image_free(ctx.img);
	return st;
}
