/* Data module tests. Every fixture (idx, gzip, PNG, JPEG) is written at run
 * time into a mkdtemp directory with zlib/libpng/libjpeg, then read back. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "jalad/data.h"
#include "testing.h"

static char tmpdir[64];

/* ======================================================================== */
/* Fixture writers                                                          */
/* ======================================================================== */

static const char *tpath(const char *name)
{
	static char buf[8][512];
	static int k;
	char *p = buf[k++ & 7];
	snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
	return p;
}

static int write_bytes(const char *path, const void *data, size_t n)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return -1;
	size_t w = n ? fwrite(data, 1, n, fp) : 0;
	return fclose(fp) == 0 && w == n ? 0 : -1;
}

static long file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* An idx file: magic, ndims big-endian dims, then n data bytes. */
static int write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndims,
		     const unsigned char *data, size_t n)
{
	unsigned char hdr[4 + 4 * 4];
	size_t hn = 4 + 4 * (size_t)ndims;
	put_be32(hdr, magic);
	for (int i = 0; i < ndims; i++)
		put_be32(hdr + 4 + 4 * i, dims[i]);
	if (!gz) {
		FILE *fp = fopen(path, "wb");
		if (!fp)
			return -1;
		int ok = fwrite(hdr, 1, hn, fp) == hn && (n == 0 || fwrite(data, 1, n, fp) == n);
		return fclose(fp) == 0 && ok ? 0 : -1;
	}
	gzFile g = gzopen(path, "wb");
	if (!g)
		return -1;
	int ok = gzwrite(g, hdr, (unsigned)hn) == (int)hn &&
		 (n == 0 || gzwrite(g, data, (unsigned)n) == (int)n);
	return gzclose(g) == Z_OK && ok ? 0 : -1;
}

/* rows: packed rows as libpng wants them (16-bit samples big-endian). */
static int write_png(const char *path, int w, int h, int color, int depth, int interlace,
		     const unsigned char *data, const png_color *pal, int npal)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	png_bytep *volatile rows = NULL;
	FILE *volatile fp = NULL;
	int channels = color == PNG_COLOR_TYPE_GRAY ? 1 : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
		       : color == PNG_COLOR_TYPE_RGB ? 3 : color == PNG_COLOR_TYPE_RGBA ? 4 : 1;
	size_t rowbytes = ((size_t)w * (size_t)channels * (size_t)depth + 7) / 8;
	int rc = -1;

	if (!info)
		goto done;
	if (setjmp(png_jmpbuf(png)))
		goto done;
	fp = fopen(path, "wb");
	if (!fp)
		goto done;
	rows = malloc((size_t)h * sizeof *rows);
	if (!rows)
		goto done;
	for (int y = 0; y < h; y++)
		rows[y] = (png_bytep)data + (size_t)y * rowbytes;
	png_init_io(png, fp);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color, interlace,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(png, info, pal, npal);
	png_write_info(png, info);
	png_write_image(png, rows);
	png_write_end(png, NULL);
	rc = 0;
done:
	if (png)
		png_destroy_write_struct(&png, info ? &info : NULL);
	free(rows);
	if (fp && fclose(fp) != 0)
		rc = -1;
	return rc;
}

static int write_jpeg(const char *path, int w, int h, int comps, const unsigned char *data,
		      int quality)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return -1;
	c.err = jpeg_std_error(&err); /* exits on error: fine for our own valid input */
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, fp);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = comps;
	c.in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)data + (size_t)c.next_scanline * (size_t)w * (size_t)comps;
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	return fclose(fp) == 0 ? 0 : -1;
}

static int truncate_to(const char *path, long n)
{
	return truncate(path, (off_t)n);
}

static void rm_tree(const char *path)
{
	struct stat sb;
	if (lstat(path, &sb) != 0)
		return;
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char sub[1024];
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_tree(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int err_names(const char *what)
{
	return strstr(jalad_last_error(), what) != NULL;
}

static int near(float a, float b, float tol)
{
	return fabsf(a - b) <= tol;
}

/* ======================================================================== */
/* idx                                                                      */
/* ======================================================================== */

enum { N_IMG = 3, ROWS = 4, COLS = 5 };
static unsigned char idx_pix[N_IMG * ROWS * COLS];
static const unsigned char idx_lab[N_IMG] = { 7, 0, 9 };

static void check_idx_dataset(struct jalad_dataset *ds)
{
	struct jalad_preprocess pp;
	float x[ROWS * COLS], x3[3 * ROWS * COLS];
	int c, h, w;

	CHECK(jalad_dataset_count(ds) == N_IMG);
	jalad_dataset_shape(ds, &c, &h, &w);
	CHECK(c == 1 && h == ROWS && w == COLS);
	for (int i = 0; i < N_IMG; i++)
		CHECK(jalad_dataset_label(ds, (size_t)i) == idx_lab[i]);
	CHECK(jalad_dataset_label(ds, N_IMG) == -1);
	CHECK(jalad_dataset_sample_name(ds, 0) == NULL);

	jalad_preprocess_default(&pp, 1, ROWS, COLS);
	CHECK(jalad_preprocess_len(&pp) == ROWS * COLS);
	for (int i = 0; i < N_IMG; i++) {
		int ok = 1;
		CHECK(jalad_dataset_get(ds, (size_t)i, &pp, x, ROWS * COLS) == JALAD_OK);
		for (int k = 0; k < ROWS * COLS; k++)
			ok &= x[k] == idx_pix[i * ROWS * COLS + k] * (1.0f / 255.0f);
		CHECK_MSG(ok, "sample %d values", i);
	}

	/* normalization x = (p * scale - mean) / std */
	pp.mean[0] = 0.5f;
	pp.std[0] = 0.25f;
	CHECK(jalad_dataset_get(ds, 1, &pp, x, ROWS * COLS) == JALAD_OK);
	{
		int ok = 1;
		for (int k = 0; k < ROWS * COLS; k++) {
			float want = (idx_pix[ROWS * COLS + k] * (1.0f / 255.0f) - 0.5f) / 0.25f;
			ok &= near(x[k], want, 1e-6f);
		}
		CHECK(ok);
	}

	/* gray -> 3 channels by replication, per-channel mean */
	jalad_preprocess_default(&pp, 3, ROWS, COLS);
	pp.scale = 1.0f;
	pp.mean[1] = 10.0f;
	pp.mean[2] = 20.0f;
	CHECK(jalad_dataset_get(ds, 2, &pp, x3, 3 * ROWS * COLS) == JALAD_OK);
	{
		int ok = 1;
		for (int k = 0; k < ROWS * COLS; k++) {
			float p = idx_pix[2 * ROWS * COLS + k];
			ok &= x3[k] == p && x3[ROWS * COLS + k] == p - 10.0f &&
			      x3[2 * ROWS * COLS + k] == p - 20.0f;
		}
		CHECK(ok);
	}

	/* argument errors */
	jalad_preprocess_default(&pp, 1, ROWS, COLS);
	CHECK(jalad_dataset_get(ds, 0, &pp, x, ROWS * COLS - 1) == JALAD_ERR_SHAPE);
	CHECK(jalad_dataset_get(ds, 0, &pp, x, ROWS * COLS + 1) == JALAD_ERR_SHAPE);
	CHECK(jalad_dataset_get(ds, N_IMG, &pp, x, ROWS * COLS) == JALAD_ERR_INVALID_ARG);
	pp.std[0] = 0.0f;
	CHECK(jalad_dataset_get(ds, 0, &pp, x, ROWS * COLS) == JALAD_ERR_INVALID_ARG);
	jalad_preprocess_default(&pp, 2, ROWS, COLS);
	CHECK(jalad_dataset_get(ds, 0, &pp, x, 2 * ROWS * COLS) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_preprocess_len(&pp) == 0);

	/* raw sample copy */
	{
		struct jalad_image *img = NULL;
		CHECK(jalad_dataset_load_image(ds, 1, &img) == JALAD_OK);
		CHECK(img && img->width == COLS && img->height == ROWS && img->channels == 1 &&
		      memcmp(img->data, idx_pix + ROWS * COLS, ROWS * COLS) == 0);
		jalad_image_free(img);
	}
}

static void test_idx(void)
{
	const uint32_t dims[3] = { N_IMG, ROWS, COLS }, ldims[1] = { N_IMG };
	struct jalad_dataset *ds = NULL;
	char spec[600];

	for (int k = 0; k < N_IMG * ROWS * COLS; k++)
		idx_pix[k] = (unsigned char)(k * 37 + 11);

	/* gzip and raw, and mixed, through the fmnist file names */
	mkdir(tpath("fm"), 0700);
	CHECK(write_idx(tpath("fm/t10k-images-idx3-ubyte.gz"), 1, 0x803, dims, 3, idx_pix,
			sizeof idx_pix) == 0);
	CHECK(write_idx(tpath("fm/t10k-labels-idx1-ubyte"), 0, 0x801, ldims, 1, idx_lab,
			N_IMG) == 0);
	CHECK(jalad_dataset_open_fmnist(tpath("fm"), 0, &ds) == JALAD_OK);
	if (ds)
		check_idx_dataset(ds);
	jalad_dataset_free(ds);
	ds = NULL;

	snprintf(spec, sizeof spec, "fmnist:%s", tpath("fm"));
	CHECK(jalad_dataset_open(spec, &ds) == JALAD_OK);
	CHECK(jalad_dataset_count(ds) == N_IMG);
	jalad_dataset_free(ds);
	ds = NULL;

	/* the training set is absent in that directory */
	CHECK(jalad_dataset_open_fmnist(tpath("fm"), 1, &ds) == JALAD_ERR_NOT_FOUND);
	CHECK(ds == NULL && err_names("train-images-idx3-ubyte"));

	CHECK(write_idx(tpath("raw-img"), 0, 0x803, dims, 3, idx_pix, sizeof idx_pix) == 0);
	CHECK(write_idx(tpath("gz-lab.gz"), 1, 0x801, ldims, 1, idx_lab, N_IMG) == 0);
	CHECK(jalad_dataset_open_idx(tpath("raw-img"), tpath("gz-lab.gz"), &ds) == JALAD_OK);
	if (ds)
		check_idx_dataset(ds);
	jalad_dataset_free(ds);
	ds = NULL;

	/* no labels file: labels unknown */
	CHECK(jalad_dataset_open_idx(tpath("raw-img"), NULL, &ds) == JALAD_OK);
	CHECK(jalad_dataset_label(ds, 0) == -1);
	jalad_dataset_free(ds);
	ds = NULL;
}

static void test_idx_errors(void)
{
	const uint32_t dims[3] = { N_IMG, ROWS, COLS }, ldims[1] = { N_IMG };
	const uint32_t ldims2[1] = { N_IMG - 1 };
	struct jalad_dataset *ds = (struct jalad_dataset *)&ds; /* must be reset to NULL */
	enum jalad_status st;
	unsigned char *big;

	CHECK(write_idx(tpath("ok-img.gz"), 1, 0x803, dims, 3, idx_pix, sizeof idx_pix) == 0);
	CHECK(write_idx(tpath("ok-lab.gz"), 1, 0x801, ldims, 1, idx_lab, N_IMG) == 0);

	/* bad magic: label file given as images, and the reverse */
	st = jalad_dataset_open_idx(tpath("ok-lab.gz"), tpath("ok-lab.gz"), &ds);
	CHECK(st == JALAD_ERR_FORMAT && ds == NULL);
	CHECK(err_names("ok-lab.gz") && err_names("magic"));
	st = jalad_dataset_open_idx(tpath("ok-img.gz"), tpath("ok-img.gz"), &ds);
	CHECK(st == JALAD_ERR_FORMAT && err_names("magic"));
	CHECK(write_idx(tpath("junk-magic"), 0, 0x12345678, dims, 3, idx_pix, sizeof idx_pix) == 0);
	CHECK(jalad_dataset_open_idx(tpath("junk-magic"), NULL, &ds) == JALAD_ERR_FORMAT);

	/* count mismatch */
	CHECK(write_idx(tpath("short-lab.gz"), 1, 0x801, ldims2, 1, idx_lab, N_IMG - 1) == 0);
	st = jalad_dataset_open_idx(tpath("ok-img.gz"), tpath("short-lab.gz"), &ds);
	CHECK(st == JALAD_ERR_MISMATCH && err_names("short-lab.gz") && err_names("2 labels"));

	/* truncated idx.gz: a bigger file cut in the middle of the deflate stream */
	big = malloc(200 * 28 * 28);
	if (big) {
		const uint32_t bdims[3] = { 200, 28, 28 };
		uint32_t s = 1;
		for (size_t k = 0; k < 200 * 28 * 28; k++) {
			s = s * 1103515245u + 12345u;
			big[k] = (unsigned char)(s >> 24);
		}
		CHECK(write_idx(tpath("cut-img.gz"), 1, 0x803, bdims, 3, big, 200 * 28 * 28) == 0);
		CHECK(truncate_to(tpath("cut-img.gz"), file_size(tpath("cut-img.gz")) / 2) == 0);
		st = jalad_dataset_open_idx(tpath("cut-img.gz"), NULL, &ds);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED && err_names("cut-img.gz"), "st %d: %s", st,
			  jalad_last_error());

		/* gzip trailer (CRC) cut off: data complete but unverified */
		CHECK(write_idx(tpath("notrail.gz"), 1, 0x803, bdims, 3, big, 200 * 28 * 28) == 0);
		CHECK(truncate_to(tpath("notrail.gz"), file_size(tpath("notrail.gz")) - 4) == 0);
		st = jalad_dataset_open_idx(tpath("notrail.gz"), NULL, &ds);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED, "st %d: %s", st, jalad_last_error());

		/* corrupt deflate data */
		CHECK(write_idx(tpath("flip.gz"), 1, 0x803, bdims, 3, big, 200 * 28 * 28) == 0);
		{
			long n = file_size(tpath("flip.gz"));
			FILE *fp = fopen(tpath("flip.gz"), "r+b");
			if (fp) {
				for (long off = n / 3; off < n / 3 + 64; off++) {
					fseek(fp, off, SEEK_SET);
					fputc(0xff, fp);
				}
				fclose(fp);
			}
		}
		st = jalad_dataset_open_idx(tpath("flip.gz"), NULL, &ds);
		CHECK_MSG(st == JALAD_ERR_FORMAT || st == JALAD_ERR_TRUNCATED, "st %d: %s", st,
			  jalad_last_error());
		free(big);
	}

	/* truncated raw idx: header says 3 images, 2 present */
	CHECK(write_idx(tpath("cut-raw"), 0, 0x803, dims, 3, idx_pix, 2 * ROWS * COLS) == 0);
	st = jalad_dataset_open_idx(tpath("cut-raw"), NULL, &ds);
	CHECK(st == JALAD_ERR_TRUNCATED && err_names("cut-raw"));
	/* header cut short */
	CHECK(write_bytes(tpath("cut-hdr"), "\0\0\x08\x03\0\0", 6) == 0);
	CHECK(jalad_dataset_open_idx(tpath("cut-hdr"), NULL, &ds) == JALAD_ERR_TRUNCATED);
	/* truncated labels */
	CHECK(write_idx(tpath("cut-lab"), 0, 0x801, ldims, 1, idx_lab, N_IMG - 1) == 0);
	st = jalad_dataset_open_idx(tpath("ok-img.gz"), tpath("cut-lab"), &ds);
	CHECK(st == JALAD_ERR_TRUNCATED && err_names("cut-lab"));

	/* trailing bytes */
	CHECK(write_idx(tpath("long-raw"), 0, 0x803, dims, 3, idx_pix, sizeof idx_pix) == 0);
	{
		FILE *fp = fopen(tpath("long-raw"), "ab");
		if (fp) {
			fputc(1, fp);
			fclose(fp);
		}
	}
	CHECK(jalad_dataset_open_idx(tpath("long-raw"), NULL, &ds) == JALAD_ERR_FORMAT);

	/* zero dims; absurd size refused before allocating */
	{
		const uint32_t zd[3] = { 0, 28, 28 }, huge[3] = { 1000000, 1000, 1000 };
		const uint32_t wrap[3] = { 0x80000000u, 0x80000000u, 4 };
		CHECK(write_idx(tpath("zero"), 0, 0x803, zd, 3, NULL, 0) == 0);
		CHECK(jalad_dataset_open_idx(tpath("zero"), NULL, &ds) == JALAD_ERR_FORMAT);
		CHECK(write_idx(tpath("huge.gz"), 1, 0x803, huge, 3, NULL, 0) == 0);
		st = jalad_dataset_open_idx(tpath("huge.gz"), NULL, &ds);
		CHECK(st == JALAD_ERR_LIMIT && err_names("huge.gz"));
		CHECK(write_idx(tpath("wrap"), 0, 0x803, wrap, 3, NULL, 0) == 0);
		CHECK(jalad_dataset_open_idx(tpath("wrap"), NULL, &ds) == JALAD_ERR_LIMIT);
	}

	/* zero-byte and missing files */
	CHECK(write_bytes(tpath("empty.gz"), "", 0) == 0);
	st = jalad_dataset_open_idx(tpath("empty.gz"), NULL, &ds);
	CHECK(st == JALAD_ERR_TRUNCATED && err_names("empty.gz"));
	st = jalad_dataset_open_idx(tpath("nope.gz"), NULL, &ds);
	CHECK(st == JALAD_ERR_NOT_FOUND && err_names("nope.gz"));
	st = jalad_dataset_open_idx(tpath("ok-img.gz"), tpath("nope-lab"), &ds);
	CHECK(st == JALAD_ERR_NOT_FOUND && err_names("nope-lab"));
	CHECK(ds == NULL);
}

/* ======================================================================== */
/* PNG and JPEG                                                             */
/* ======================================================================== */

enum { IW = 5, IH = 3 };

static int load_ok(const char *name, struct jalad_image **img, int w, int h, int c)
{
	enum jalad_status st = jalad_image_load(tpath(name), img);
	if (st != JALAD_OK) {
		fprintf(stderr, "%s: %s\n", name, jalad_last_error());
		return 0;
	}
	return (*img)->width == w && (*img)->height == h && (*img)->channels == c;
}

static void test_png(void)
{
	unsigned char gray[IW * IH], rgb[IW * IH * 3], rgba[IW * IH * 4], ga[IW * IH * 2];
	unsigned char g16[IW * IH * 2], rgb16[IW * IH * 6], pal_idx[IW * IH];
	unsigned char g4[IH * 3]; /* 5 px at 4 bits: 3 bytes per row */
	png_color pal[4] = { { 0, 0, 0 }, { 255, 0, 0 }, { 10, 200, 30 }, { 1, 2, 3 } };
	struct jalad_image *img = NULL;

	for (int k = 0; k < IW * IH; k++) {
		gray[k] = (unsigned char)(k * 17);
		for (int c = 0; c < 3; c++) {
			rgb[k * 3 + c] = (unsigned char)(k * 10 + c * 80);
			rgba[k * 4 + c] = rgb[k * 3 + c];
		}
		rgba[k * 4 + 3] = (unsigned char)(k * 16); /* alpha is dropped */
		ga[k * 2] = gray[k];
		ga[k * 2 + 1] = 0;
		g16[k * 2] = g16[k * 2 + 1] = gray[k]; /* v * 257 scales to v exactly */
		for (int c = 0; c < 3; c++)
			rgb16[k * 6 + c * 2] = rgb16[k * 6 + c * 2 + 1] = rgb[k * 3 + c];
		pal_idx[k] = (unsigned char)(k % 4);
	}
	for (int y = 0; y < IH; y++) /* pixels x: 4-bit value (x + y) & 15 */
		for (int b = 0; b < 3; b++) {
			int x0 = 2 * b, x1 = 2 * b + 1;
			g4[y * 3 + b] = (unsigned char)(((x0 + y) & 15) << 4 |
							(x1 < IW ? (x1 + y) & 15 : 0));
		}

	CHECK(write_png(tpath("gray.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE,
			gray, NULL, 0) == 0);
	CHECK(load_ok("gray.png", &img, IW, IH, 1) && memcmp(img->data, gray, sizeof gray) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("rgb.png"), IW, IH, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, rgb,
			NULL, 0) == 0);
	CHECK(load_ok("rgb.png", &img, IW, IH, 3) && memcmp(img->data, rgb, sizeof rgb) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("rgba.png"), IW, IH, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE, rgba,
			NULL, 0) == 0);
	CHECK(load_ok("rgba.png", &img, IW, IH, 3) && memcmp(img->data, rgb, sizeof rgb) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("ga.png"), IW, IH, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_NONE,
			ga, NULL, 0) == 0);
	CHECK(load_ok("ga.png", &img, IW, IH, 1) && memcmp(img->data, gray, sizeof gray) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("g16.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, g16,
			NULL, 0) == 0);
	CHECK(load_ok("g16.png", &img, IW, IH, 1) && memcmp(img->data, gray, sizeof gray) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("rgb16.png"), IW, IH, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_NONE,
			rgb16, NULL, 0) == 0);
	CHECK(load_ok("rgb16.png", &img, IW, IH, 3) && memcmp(img->data, rgb, sizeof rgb) == 0);
	jalad_image_free(img);
	img = NULL;

	CHECK(write_png(tpath("pal.png"), IW, IH, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE,
			pal_idx, pal, 4) == 0);
	if (load_ok("pal.png", &img, IW, IH, 3)) {
		int ok = 1;
		for (int k = 0; k < IW * IH; k++) {
			const png_color *p = &pal[k % 4];
			ok &= img->data[k * 3] == p->red && img->data[k * 3 + 1] == p->green &&
			      img->data[k * 3 + 2] == p->blue;
		}
		CHECK(ok);
	} else {
		CHECK(!"pal.png");
	}
	jalad_image_free(img);
	img = NULL;

	/* 2-bit palette indices, packed 4 per byte: 5 px -> 2 bytes per row */
	{
		unsigned char p2[IH * 2];
		for (int y = 0; y < IH; y++) {
			int v[8] = { 0 };
			for (int xx = 0; xx < IW; xx++)
				v[xx] = (xx + y) % 4;
			p2[y * 2] = (unsigned char)(v[0] << 6 | v[1] << 4 | v[2] << 2 | v[3]);
			p2[y * 2 + 1] = (unsigned char)(v[4] << 6);
		}
		CHECK(write_png(tpath("pal2.png"), IW, IH, PNG_COLOR_TYPE_PALETTE, 2,
				PNG_INTERLACE_ADAM7, p2, pal, 4) == 0);
		if (load_ok("pal2.png", &img, IW, IH, 3)) {
			int ok = 1;
			for (int y = 0; y < IH; y++)
				for (int xx = 0; xx < IW; xx++) {
					const png_color *p = &pal[(xx + y) % 4];
					const unsigned char *q = img->data + (y * IW + xx) * 3;
					ok &= q[0] == p->red && q[1] == p->green && q[2] == p->blue;
				}
			CHECK(ok);
		} else {
			CHECK(!"pal2.png");
		}
		jalad_image_free(img);
		img = NULL;
	}

	CHECK(write_png(tpath("g4.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, g4,
			NULL, 0) == 0);
	if (load_ok("g4.png", &img, IW, IH, 1)) {
		int ok = 1;
		for (int y = 0; y < IH; y++)
			for (int x = 0; x < IW; x++)
				ok &= img->data[y * IW + x] == ((x + y) & 15) * 17;
		CHECK(ok);
	} else {
		CHECK(!"g4.png");
	}
	jalad_image_free(img);
	img = NULL;
}

static void test_jpeg(void)
{
	unsigned char rgb[8 * 8 * 3], gray[8 * 8];
	struct jalad_image *img = NULL;

	for (int k = 0; k < 64; k++) {
		rgb[k * 3] = 200;
		rgb[k * 3 + 1] = 100;
		rgb[k * 3 + 2] = 50;
		gray[k] = 77;
	}
	CHECK(write_jpeg(tpath("rgb.jpg"), IW, IH, 3, rgb, 95) == 0);
	if (load_ok("rgb.jpg", &img, IW, IH, 3)) {
		int ok = 1;
		for (int k = 0; k < IW * IH; k++)
			ok &= abs(img->data[k * 3] - 200) <= 3 && abs(img->data[k * 3 + 1] - 100) <= 3 &&
			      abs(img->data[k * 3 + 2] - 50) <= 3;
		CHECK(ok);
	} else {
		CHECK(!"rgb.jpg");
	}
	jalad_image_free(img);
	img = NULL;

	CHECK(write_jpeg(tpath("gray.jpeg"), IW, IH, 1, gray, 95) == 0);
	if (load_ok("gray.jpeg", &img, IW, IH, 1)) {
		int ok = 1;
		for (int k = 0; k < IW * IH; k++)
			ok &= abs(img->data[k] - 77) <= 1;
		CHECK(ok);
	} else {
		CHECK(!"gray.jpeg");
	}
	jalad_image_free(img);
	img = NULL;
}

/* A PNG whose IHDR (valid CRC) declares w x h RGB, followed by an empty IDAT. */
static int write_png_header_only(const char *path, uint32_t w, uint32_t h)
{
	unsigned char b[8 + 25 + 12];
	memcpy(b, "\x89PNG\r\n\x1a\n", 8);
	put_be32(b + 8, 13);
	memcpy(b + 12, "IHDR", 4);
	put_be32(b + 16, w);
	put_be32(b + 20, h);
	b[24] = 8; /* depth */
	b[25] = 2; /* RGB */
	b[26] = b[27] = b[28] = 0;
	put_be32(b + 29, (uint32_t)crc32(0, b + 12, 17));
	put_be32(b + 33, 0);
	memcpy(b + 37, "IDAT", 4);
	put_be32(b + 41, (uint32_t)crc32(0, b + 37, 4));
	return write_bytes(path, b, sizeof b);
}

static void test_image_errors(void)
{
	enum { NW = 64 };
	unsigned char *noise = malloc(NW * NW * 3), garbage[600];
	struct jalad_image *img = (struct jalad_image *)&img; /* must be reset to NULL */
	enum jalad_status st;
	uint32_t s = 7;

	for (size_t k = 0; k < sizeof garbage; k++) {
		s = s * 1103515245u + 12345u;
		garbage[k] = (unsigned char)(s >> 24);
	}
	if (noise) {
		memcpy(noise, garbage, 600);
		for (size_t k = 600; k < NW * NW * 3; k++) {
			s = s * 1103515245u + 12345u;
			noise[k] = (unsigned char)(s >> 24);
		}
		/* truncated PNG */
		CHECK(write_png(tpath("cut.png"), NW, NW, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE,
				noise, NULL, 0) == 0);
		CHECK(truncate_to(tpath("cut.png"), file_size(tpath("cut.png")) / 2) == 0);
		st = jalad_image_load(tpath("cut.png"), &img);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED && img == NULL && err_names("cut.png"),
			  "st %d: %s", st, jalad_last_error());

		/* PNG with a broken CRC in IHDR */
		CHECK(write_png(tpath("crc.png"), NW, NW, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE,
				noise, NULL, 0) == 0);
		{
			FILE *fp = fopen(tpath("crc.png"), "r+b");
			if (fp) {
				fseek(fp, 29, SEEK_SET);
				fputc(0x5a, fp);
				fclose(fp);
			}
		}
		st = jalad_image_load(tpath("crc.png"), &img);
		CHECK_MSG(st == JALAD_ERR_FORMAT, "st %d: %s", st, jalad_last_error());

		/* truncated JPEG */
		CHECK(write_jpeg(tpath("cut.jpg"), NW, NW, 3, noise, 90) == 0);
		CHECK(truncate_to(tpath("cut.jpg"), file_size(tpath("cut.jpg")) / 2) == 0);
		st = jalad_image_load(tpath("cut.jpg"), &img);
		CHECK_MSG(st == JALAD_ERR_TRUNCATED && err_names("cut.jpg"), "st %d: %s", st,
			  jalad_last_error());
		free(noise);
	}

	/* garbage after a JPEG SOI marker */
	garbage[0] = 0xff;
	garbage[1] = 0xd8;
	garbage[2] = 0xff;
	CHECK(write_bytes(tpath("garbage.jpg"), garbage, sizeof garbage) == 0);
	st = jalad_image_load(tpath("garbage.jpg"), &img);
	CHECK_MSG(st == JALAD_ERR_FORMAT || st == JALAD_ERR_TRUNCATED, "st %d: %s", st,
		  jalad_last_error());
	CHECK(img == NULL && err_names("garbage.jpg"));

	/* not an image at all */
	CHECK(write_bytes(tpath("text.jpg"), "hello, world\n", 13) == 0);
	CHECK(jalad_image_load(tpath("text.jpg"), &img) == JALAD_ERR_UNSUPPORTED);
	/* PNG signature only */
	CHECK(write_bytes(tpath("sig.png"), "\x89PNG\r\n\x1a\n", 8) == 0);
	CHECK(jalad_image_load(tpath("sig.png"), &img) == JALAD_ERR_TRUNCATED);
	/* huge declared size: refused before the pixels are allocated */
	CHECK(write_png_header_only(tpath("huge.png"), 20000, 20000) == 0);
	st = jalad_image_load(tpath("huge.png"), &img);
	CHECK_MSG(st == JALAD_ERR_LIMIT, "st %d: %s", st, jalad_last_error());

	/* JPEG whose SOF0 claims 60000 x 60000 */
	{
		unsigned char px[8 * 8 * 3] = { 0 }, buf[4096];
		size_t n = 0;
		FILE *fp;
		CHECK(write_jpeg(tpath("huge.jpg"), 8, 8, 3, px, 90) == 0);
		fp = fopen(tpath("huge.jpg"), "rb");
		if (fp) {
			n = fread(buf, 1, sizeof buf, fp);
			fclose(fp);
		}
		for (size_t k = 0; k + 9 < n; k++)
			if (buf[k] == 0xff && buf[k + 1] == 0xc0) {
				buf[k + 5] = buf[k + 7] = 0xea; /* height, width = 0xea60 */
				buf[k + 6] = buf[k + 8] = 0x60;
				break;
			}
		CHECK(n > 0 && write_bytes(tpath("huge.jpg"), buf, n) == 0);
		st = jalad_image_load(tpath("huge.jpg"), &img);
		CHECK_MSG(st == JALAD_ERR_LIMIT, "st %d: %s", st, jalad_last_error());
	}

	CHECK(write_bytes(tpath("zero.png"), "", 0) == 0);
	st = jalad_image_load(tpath("zero.png"), &img);
	CHECK(st == JALAD_ERR_TRUNCATED && err_names("zero.png"));
	st = jalad_image_load(tpath("missing.png"), &img);
	CHECK(st == JALAD_ERR_NOT_FOUND && err_names("missing.png"));
	CHECK(img == NULL);
}

/* ======================================================================== */
/* Tensor conversion                                                        */
/* ======================================================================== */

static void test_to_tensor(void)
{
	struct jalad_preprocess pp;
	struct jalad_image *img = NULL;
	float *x = malloc(3 * 40 * 40 * sizeof *x);

	if (!x) {
		CHECK(!"malloc");
		return;
	}
	/* constant RGB image stays constant under any resize and crop */
	CHECK(jalad_image_create(IW, IH, 3, &img) == JALAD_OK);
	if (img) {
		static const int sizes[][2] = { { 7, 11 }, { 1, 1 }, { 40, 2 }, { 3, 5 }, { 2, 40 } };
		for (int k = 0; k < IW * IH; k++) {
			img->data[k * 3] = 100;
			img->data[k * 3 + 1] = 150;
			img->data[k * 3 + 2] = 200;
		}
		for (int crop = 0; crop < 2; crop++)
			for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				int ok = 1;
				size_t plane = (size_t)sizes[s][0] * (size_t)sizes[s][1];
				jalad_preprocess_default(&pp, 3, sizes[s][0], sizes[s][1]);
				pp.center_crop = crop;
				pp.scale = 1.0f;
				CHECK(jalad_image_to_tensor(img, &pp, x, 3 * plane) == JALAD_OK);
				for (size_t k = 0; k < plane; k++)
					ok &= x[k] == 100.0f && x[plane + k] == 150.0f &&
					      x[2 * plane + k] == 200.0f;
				CHECK_MSG(ok, "constant %dx%d crop %d", sizes[s][0], sizes[s][1], crop);

				/* RGB -> gray by luma */
				pp.channels = 1;
				CHECK(jalad_image_to_tensor(img, &pp, x, plane) == JALAD_OK);
				ok = 1;
				for (size_t k = 0; k < plane; k++)
					ok &= near(x[k], 140.75f, 1e-3f);
				CHECK_MSG(ok, "luma %dx%d crop %d", sizes[s][0], sizes[s][1], crop);
			}
		/* ImageNet preset on a constant image */
		jalad_preprocess_imagenet(&pp, 16);
		CHECK(jalad_image_to_tensor(img, &pp, x, 3 * 16 * 16) == JALAD_OK);
		CHECK(near(x[0], (100 / 255.0f - 0.485f) / 0.229f, 1e-5f) &&
		      near(x[16 * 16 * 2 + 255], (200 / 255.0f - 0.406f) / 0.225f, 1e-5f));
		CHECK(jalad_image_to_tensor(img, &pp, x, 3 * 16 * 16 - 1) == JALAD_ERR_SHAPE);
	}
	jalad_image_free(img);
	img = NULL;

	/* bilinear with half-pixel centres: [0 255] -> 4 wide */
	CHECK(jalad_image_create(2, 1, 1, &img) == JALAD_OK);
	if (img) {
		img->data[0] = 0;
		img->data[1] = 255;
		jalad_preprocess_default(&pp, 1, 1, 4);
		pp.scale = 1.0f;
		CHECK(jalad_image_to_tensor(img, &pp, x, 4) == JALAD_OK);
		CHECK(near(x[0], 0.0f, 1e-4f) && near(x[1], 63.75f, 1e-4f) &&
		      near(x[2], 191.25f, 1e-4f) && near(x[3], 255.0f, 1e-4f));
		/* gray -> RGB: three equal planes */
		pp.channels = 3;
		CHECK(jalad_image_to_tensor(img, &pp, x, 12) == JALAD_OK);
		CHECK(x[1] == x[5] && x[5] == x[9] && near(x[9], 63.75f, 1e-4f));
	}
	jalad_image_free(img);
	img = NULL;

	/* centre crop: 8x4 image with columns 0,10,..70 -> 2x2: resized to 4x2,
	 * crop x offset 1, so outputs sample source x 2.5 and 4.5 */
	CHECK(jalad_image_create(8, 4, 1, &img) == JALAD_OK);
	if (img) {
		for (int y = 0; y < 4; y++)
			for (int xx = 0; xx < 8; xx++)
				img->data[y * 8 + xx] = (unsigned char)(xx * 10);
		jalad_preprocess_default(&pp, 1, 2, 2);
		pp.scale = 1.0f;
		pp.center_crop = 1;
		CHECK(jalad_image_to_tensor(img, &pp, x, 4) == JALAD_OK);
		CHECK_MSG(near(x[0], 25.0f, 1e-4f) && near(x[1], 45.0f, 1e-4f) &&
				  near(x[2], 25.0f, 1e-4f) && near(x[3], 45.0f, 1e-4f),
			  "%g %g %g %g", (double)x[0], (double)x[1], (double)x[2], (double)x[3]);
		/* centre crop at the image's own size still zooms in by 1/0.875 */
		jalad_preprocess_default(&pp, 1, 4, 8);
		pp.scale = 1.0f;
		pp.center_crop = 1;
		CHECK(jalad_image_to_tensor(img, &pp, x, 32) == JALAD_OK);
		CHECK(near(x[1], 75.0f / 9.0f, 1e-4f) && x[7] < 69.0f); /* 9 px wide, x 1 -> 0.833 */
		pp.center_crop = 0;
		CHECK(jalad_image_to_tensor(img, &pp, x, 32) == JALAD_OK);
		CHECK(x[0] == 0.0f && x[7] == 70.0f && x[31] == 70.0f);
		jalad_preprocess_default(&pp, 1, 2, 2);
		pp.scale = 1.0f;
		/* plain resize of the same: samples x 1.5 and 5.5 */
		pp.center_crop = 0;
		CHECK(jalad_image_to_tensor(img, &pp, x, 4) == JALAD_OK);
		CHECK(near(x[0], 15.0f, 1e-4f) && near(x[1], 55.0f, 1e-4f));
	}
	jalad_image_free(img);
	img = NULL;

	/* bad arguments */
	CHECK(jalad_image_create(0, 3, 1, &img) == JALAD_ERR_INVALID_ARG && img == NULL);
	CHECK(jalad_image_create(3, 3, 2, &img) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_image_create(100000, 100000, 3, &img) == JALAD_ERR_LIMIT);
	jalad_preprocess_default(&pp, 1, 0, 4);
	CHECK(jalad_preprocess_check(&pp) == JALAD_ERR_INVALID_ARG);
	jalad_preprocess_default(&pp, 1, 2, 2);
	pp.scale = NAN;
	CHECK(jalad_preprocess_check(&pp) == JALAD_ERR_INVALID_ARG);
	jalad_image_free(NULL);
	free(x);
}

/* ======================================================================== */
/* Images folder                                                            */
/* ======================================================================== */

static void test_folder(void)
{
	unsigned char px[IW * IH * 3];
	struct jalad_dataset *ds = NULL;
	struct jalad_preprocess pp;
	float x[3 * 4 * 4];
	char spec[600];
	enum jalad_status st;

	memset(px, 128, sizeof px);
	mkdir(tpath("imgs"), 0700);
	mkdir(tpath("imgs/dir.png"), 0700); /* a directory: skipped */
	CHECK(write_png(tpath("imgs/b.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE,
			px, NULL, 0) == 0);
	CHECK(write_jpeg(tpath("imgs/a.jpg"), IW, IH, 3, px, 95) == 0);
	CHECK(write_jpeg(tpath("imgs/c d.JPEG"), IW, IH, 1, px, 95) == 0);
	CHECK(write_png(tpath("imgs/.hidden.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8,
			PNG_INTERLACE_NONE, px, NULL, 0) == 0);
	CHECK(write_bytes(tpath("imgs/notes.txt"), "x", 1) == 0);
	CHECK(write_bytes(tpath("imgs/labels.txt"),
			  "# file label\na.jpg 3\n\n  c d.JPEG\t5  \r\n", 38) == 0);

	snprintf(spec, sizeof spec, "images:%s", tpath("imgs"));
	st = jalad_dataset_open(spec, &ds);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (ds) {
		int c = -1, h = -1, w = -1;
		CHECK(jalad_dataset_count(ds) == 3);
		jalad_dataset_shape(ds, &c, &h, &w);
		CHECK(c == 0 && h == 0 && w == 0);
		CHECK(!strcmp(jalad_dataset_sample_name(ds, 0), "a.jpg"));
		CHECK(!strcmp(jalad_dataset_sample_name(ds, 1), "b.png"));
		CHECK(!strcmp(jalad_dataset_sample_name(ds, 2), "c d.JPEG"));
		CHECK(jalad_dataset_sample_name(ds, 3) == NULL);
		CHECK(jalad_dataset_label(ds, 0) == 3);
		CHECK(jalad_dataset_label(ds, 1) == -1);
		CHECK(jalad_dataset_label(ds, 2) == 5);
		jalad_preprocess_default(&pp, 3, 4, 4);
		pp.scale = 1.0f;
		for (size_t i = 0; i < 3; i++) {
			int ok = 1;
			CHECK(jalad_dataset_get(ds, i, &pp, x, 48) == JALAD_OK);
			for (int k = 0; k < 48; k++)
				ok &= fabsf(x[k] - 128.0f) <= 2.0f;
			CHECK_MSG(ok, "folder sample %zu", i);
		}
		{
			struct jalad_image *img = NULL;
			CHECK(jalad_dataset_load_image(ds, 1, &img) == JALAD_OK);
			CHECK(img && img->channels == 1 && img->width == IW && img->data[0] == 128);
			jalad_image_free(img);
		}
	}
	jalad_dataset_free(ds);
	ds = NULL;

	/* without labels.txt every label is -1; a corrupt file fails on get */
	CHECK(unlink(tpath("imgs/labels.txt")) == 0);
	CHECK(write_bytes(tpath("imgs/bad.png"), "\x89PNG\r\n\x1a\nxxxx", 12) == 0);
	CHECK(jalad_dataset_open_images(tpath("imgs"), &ds) == JALAD_OK);
	if (ds) {
		CHECK(jalad_dataset_count(ds) == 4 && jalad_dataset_label(ds, 0) == -1);
		st = jalad_dataset_get(ds, 2, &pp, x, 48); /* a b bad c */
		CHECK(st != JALAD_OK && err_names("bad.png"));
	}
	jalad_dataset_free(ds);
	ds = NULL;

	/* labels.txt errors */
	CHECK(write_bytes(tpath("imgs/labels.txt"), "zz.png 1\n", 9) == 0);
	st = jalad_dataset_open_images(tpath("imgs"), &ds);
	CHECK(st == JALAD_ERR_NOT_FOUND && err_names("zz.png") && ds == NULL);
	CHECK(write_bytes(tpath("imgs/labels.txt"), "a.jpg x1\n", 9) == 0);
	st = jalad_dataset_open_images(tpath("imgs"), &ds);
	CHECK(st == JALAD_ERR_FORMAT && err_names("line 1"));
	CHECK(write_bytes(tpath("imgs/labels.txt"), "a.jpg -1\n", 9) == 0);
	CHECK(jalad_dataset_open_images(tpath("imgs"), &ds) == JALAD_ERR_FORMAT);
	CHECK(write_bytes(tpath("imgs/labels.txt"), "a.jpg\n", 6) == 0);
	CHECK(jalad_dataset_open_images(tpath("imgs"), &ds) == JALAD_ERR_FORMAT);
	CHECK(write_bytes(tpath("imgs/labels.txt"), "a.jpg 1\nb.png 2\na.jpg 1\n", 24) == 0);
	st = jalad_dataset_open_images(tpath("imgs"), &ds);
	CHECK(st == JALAD_ERR_FORMAT && err_names("line 3"));

	/* empty and missing folders */
	mkdir(tpath("empty"), 0700);
	CHECK(jalad_dataset_open_images(tpath("empty"), &ds) == JALAD_ERR_NOT_FOUND);
	CHECK(jalad_dataset_open_images(tpath("absent"), &ds) == JALAD_ERR_NOT_FOUND);
	CHECK(ds == NULL);
}

static void test_spec(void)
{
	struct jalad_dataset *ds = NULL;
	CHECK(jalad_dataset_open("bogus", &ds) == JALAD_ERR_INVALID_ARG && err_names("bogus"));
	CHECK(jalad_dataset_open("images", &ds) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_dataset_open("images:", &ds) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_dataset_open("fmnist:", &ds) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_dataset_open("fmnistx", &ds) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_dataset_open("fmnist:/nonexistent-dir", &ds) == JALAD_ERR_NOT_FOUND);
	CHECK(jalad_dataset_open(NULL, &ds) == JALAD_ERR_INVALID_ARG);
	CHECK(ds == NULL);
	jalad_dataset_free(NULL);
	CHECK(jalad_dataset_count(NULL) == 0 && jalad_dataset_label(NULL, 0) == -1);
}

/* The real Fashion-MNIST test set, when the Debian package is installed. */
static void test_fmnist_real(void)
{
	struct jalad_dataset *ds = NULL;
	struct jalad_preprocess pp;
	int hist[10] = { 0 }, bad = 0, c, h, w;
	float x[28 * 28];
	enum jalad_status st;

	if (access(JALAD_FMNIST_DIR "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
		fprintf(stderr, "skip: %s not installed\n", JALAD_FMNIST_DIR);
		return;
	}
	st = jalad_dataset_open("fmnist", &ds);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (!ds)
		return;
	jalad_dataset_shape(ds, &c, &h, &w);
	CHECK(jalad_dataset_count(ds) == 10000 && c == 1 && h == 28 && w == 28);
	for (size_t i = 0; i < jalad_dataset_count(ds); i++) {
		int l = jalad_dataset_label(ds, i);
		if (l < 0 || l > 9)
			bad++;
		else
			hist[l]++;
	}
	CHECK(bad == 0);
	for (int k = 0; k < 10; k++)
		CHECK_MSG(hist[k] == 1000, "class %d has %d samples", k, hist[k]);
	jalad_preprocess_default(&pp, 1, 28, 28);
	CHECK(jalad_dataset_get(ds, 9999, &pp, x, 28 * 28) == JALAD_OK);
	{
		float lo = 1, hi = 0;
		for (int k = 0; k < 28 * 28; k++) {
			lo = x[k] < lo ? x[k] : lo;
			hi = x[k] > hi ? x[k] : hi;
		}
		CHECK(lo >= 0.0f && hi <= 1.0f && hi > lo);
	}
	jalad_dataset_free(ds);
}

/* ======================================================================== */
/* Central crop, resample, JPEG encode, in-memory decode                    */
/* ======================================================================== */

static uint32_t lcg_state = 12345;

static unsigned char lcg_byte(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return (unsigned char)(lcg_state >> 24);
}

/* A width x height x channels image of pseudo-random bytes. */
static struct jalad_image *random_image(int w, int h, int c)
{
	struct jalad_image *img = NULL;
	if (jalad_image_create(w, h, c, &img) != JALAD_OK)
		return NULL;
	for (size_t k = 0; k < (size_t)w * (size_t)h * (size_t)c; k++)
		img->data[k] = lcg_byte();
	return img;
}

/* Source channel c of pixel (y, x) converted to dc channels, as the header
 * says: gray replicated, RGB -> gray by unrounded float luma. */
static float ref_pixel(const struct jalad_image *im, int y, int x, int dc, int c)
{
	const unsigned char *p = im->data + ((size_t)y * (size_t)im->width + (size_t)x) * (size_t)im->channels;
	if (im->channels == dc)
		return p[c];
	if (im->channels == 1)
		return p[0];
	return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

/* One axis of JALAD_CROP_CENTRAL written from data.h: output o of out samples
 * source position ((o + 0.5) * s / out - 0.5) + (in - s) / 2 in double,
 * clamped to [0, in - 1]; the weight is the fractional part as a float.
 * step_first: s / out is computed first ((o + 0.5) * (s / out)), as
 * bench/imagenet_preprocess.py (step = s / H) does; otherwise the
 * expression is evaluated left to right ((o + 0.5) * s) / out. */
static void ref_axis(int o, int out, int in, double s, int step_first, int *i0, int *i1, float *f)
{
	double pos = step_first ? (((double)o + 0.5) * (s / out) - 0.5) + (in - s) / 2.0
				: (((double)o + 0.5) * s / out - 0.5) + (in - s) / 2.0;
	if (pos < 0.0)
		pos = 0.0;
	if (pos > in - 1)
		pos = in - 1;
	int lo = (int)pos;
	*i0 = lo;
	*i1 = lo + 1 < in ? lo + 1 : in - 1;
	*f = (float)(pos - lo);
}

/* The CHW float tensor of a central crop, straight from the header. */
static void ref_central(const struct jalad_image *im, const struct jalad_preprocess *pp, int step_first, float *dst)
{
	const int H = pp->height, W = pp->width, dc = pp->channels;
	double frac = pp->crop_fraction > 0.0f ? (double)pp->crop_fraction : 0.875;
	double s = frac * (double)(im->height < im->width ? im->height : im->width);
	for (int c = 0; c < dc; c++)
		for (int y = 0; y < H; y++) {
			int y0, y1;
			float fy;
			ref_axis(y, H, im->height, s, step_first, &y0, &y1, &fy);
			for (int x = 0; x < W; x++) {
				int x0, x1;
				float fx;
				ref_axis(x, W, im->width, s, step_first, &x0, &x1, &fx);
				float a = ref_pixel(im, y0, x0, dc, c), b = ref_pixel(im, y0, x1, dc, c);
				float d = ref_pixel(im, y1, x0, dc, c), e = ref_pixel(im, y1, x1, dc, c);
				float top = a + (b - a) * fx;
				float bot = d + (e - d) * fx;
				float v = top + (bot - top) * fy;
				dst[((size_t)c * (size_t)H + (size_t)y) * (size_t)W + (size_t)x] =
					(v * pp->scale - pp->mean[c]) / pp->std[c];
			}
		}
}

static size_t count_diff(const float *a, const float *b, size_t n, size_t *first)
{
	size_t d = 0;
	for (size_t k = 0; k < n; k++)
		if (a[k] != b[k]) {
			if (!d)
				*first = k;
			d++;
		}
	return d;
}

static void test_central_crop(void)
{
	/* width x height of the sources; gray and RGB each */
	static const int srcs[][2] = { { 10, 6 }, { 6, 10 }, { 7, 13 }, { 13, 7 }, { 2, 2 } };
	static const int outs[][2] = { { 4, 4 }, { 3, 5 }, { 6, 6 }, { 1, 1 }, { 17, 20 }, { 76, 76 } };
	static const float fracs[] = { 0.0f, 0.875f, 0.5f, 1.0f, 0.3f, 0.61f, 0.9f };
	float *got = malloc(3 * 76 * 76 * sizeof *got), *want = malloc(3 * 76 * 76 * sizeof *want);
	float *lit = malloc(3 * 76 * 76 * sizeof *lit);
	int cases = 0, bad = 0;
	size_t literal_diff = 0;

	if (!got || !want || !lit) {
		CHECK(!"malloc");
		goto done;
	}
	for (size_t si = 0; si < sizeof srcs / sizeof srcs[0]; si++)
		for (int sc = 1; sc <= 3; sc += 2) {
			struct jalad_image *img = random_image(srcs[si][0], srcs[si][1], sc);
			CHECK(img != NULL);
			if (!img)
				continue;
			for (size_t oi = 0; oi < sizeof outs / sizeof outs[0]; oi++)
				for (size_t fi = 0; fi < sizeof fracs / sizeof fracs[0]; fi++)
					for (int dc = 1; dc <= 3; dc += 2)
						for (int norm = 0; norm < 2; norm++) {
							struct jalad_preprocess pp;
							jalad_preprocess_default(&pp, dc, outs[oi][1], outs[oi][0]);
							pp.center_crop = JALAD_CROP_CENTRAL;
							pp.crop_fraction = fracs[fi];
							if (norm) {
								static const float mean[3] = { 0.485f, 0.456f, 0.406f };
								static const float sd[3] = { 0.229f, 0.224f, 0.225f };
								memcpy(pp.mean, mean, sizeof mean);
								memcpy(pp.std, sd, sizeof sd);
							} else {
								pp.scale = 1.0f;
							}
							size_t n = jalad_preprocess_len(&pp), first = 0;
							enum jalad_status st = jalad_image_to_tensor(img, &pp, got, n);
							ref_central(img, &pp, 1, want);
							ref_central(img, &pp, 0, lit);
							literal_diff += count_diff(lit, want, n, &first);
							size_t nd = st == JALAD_OK ? count_diff(got, want, n, &first) : n;
							cases++;
							if (nd) {
								bad++;
								fprintf(stderr,
									"central crop %dx%dx%d -> %dx%dx%d frac %g: st %d, "
									"%zu of %zu differ, first at %zu: %.9g want %.9g\n",
									img->width, img->height, sc, pp.width, pp.height, dc,
									(double)fracs[fi], st, nd, n, first, (double)got[first],
									(double)want[first]);
							}
						}
			jalad_image_free(img);
		}
	CHECK_MSG(bad == 0, "%d of %d central crops differ from the header's formula", bad, cases);
	/* informational: how often the left-to-right reading of the header's
	 * "(o + 0.5) * s / height" would give another float than s / height first */
	if (literal_diff)
		fprintf(stderr, "note: %zu values differ between (o + 0.5) * s / H and (o + 0.5) * (s / H)\n",
			literal_diff);

	/* crop_fraction 1 on a square image is the plain resize, including the
	 * 1:1 copy at the model size */
	for (int sc = 1; sc <= 3; sc += 2) {
		struct jalad_image *img = random_image(9, 9, sc);
		static const int sz[] = { 4, 9, 13, 1 };
		CHECK(img != NULL);
		for (size_t k = 0; img && k < sizeof sz / sizeof sz[0]; k++)
			for (int dc = 1; dc <= 3; dc += 2) {
				struct jalad_preprocess pp;
				size_t first = 0, n;
				jalad_preprocess_default(&pp, dc, sz[k], sz[k]);
				n = jalad_preprocess_len(&pp);
				CHECK(jalad_image_to_tensor(img, &pp, want, n) == JALAD_OK);
				pp.center_crop = JALAD_CROP_CENTRAL;
				pp.crop_fraction = 1.0f;
				CHECK(jalad_image_to_tensor(img, &pp, got, n) == JALAD_OK);
				CHECK_MSG(count_diff(got, want, n, &first) == 0,
					  "central:1 of 9x9x%d -> %dx%dx%d differs from plain resize at %zu", sc,
					  sz[k], sz[k], dc, first);
			}
		jalad_image_free(img);
	}

	/* a constant image stays constant */
	{
		struct jalad_image *img = NULL;
		struct jalad_preprocess pp;
		CHECK(jalad_image_create(7, 13, 3, &img) == JALAD_OK);
		if (img) {
			int ok = 1;
			memset(img->data, 77, 7 * 13 * 3);
			jalad_preprocess_default(&pp, 3, 5, 5);
			pp.scale = 1.0f;
			CHECK(jalad_preprocess_set_crop(&pp, "central:0.4") == JALAD_OK);
			CHECK(jalad_image_to_tensor(img, &pp, got, 75) == JALAD_OK);
			for (int k = 0; k < 75; k++)
				ok &= got[k] == 77.0f;
			CHECK(ok);
		}
		jalad_image_free(img);
	}
done:
	free(got);
	free(want);
	free(lit);
}

static void test_set_crop(void)
{
	struct jalad_preprocess pp;
	static const char *bad[] = { "central:0", "central:1.5", "central:x", "foo", "central:", "central:-0.5",
				     "central:0.5x", "centralx", "", "central:nan", "central:inf", "Central",
				     "none:1", "resize:0.5", "central:1e-400" };

	jalad_preprocess_default(&pp, 3, 8, 8);
	CHECK(jalad_preprocess_set_crop(&pp, "resize") == JALAD_OK && pp.center_crop == JALAD_CROP_RESIZE);
	CHECK(jalad_preprocess_set_crop(&pp, "none") == JALAD_OK && pp.center_crop == JALAD_CROP_NONE);
	CHECK(jalad_preprocess_set_crop(&pp, "central") == JALAD_OK && pp.center_crop == JALAD_CROP_CENTRAL &&
	      pp.crop_fraction == 0.875f);
	CHECK(jalad_preprocess_set_crop(&pp, "central:0.5") == JALAD_OK && pp.center_crop == JALAD_CROP_CENTRAL &&
	      pp.crop_fraction == 0.5f);
	CHECK(jalad_preprocess_set_crop(&pp, "central:1") == JALAD_OK && pp.crop_fraction == 1.0f);
	CHECK(jalad_preprocess_set_crop(&pp, "central:0.01") == JALAD_OK && pp.crop_fraction == 0.01f);
	CHECK(jalad_preprocess_check(&pp) == JALAD_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum jalad_status st = jalad_preprocess_set_crop(&pp, bad[i]);
		CHECK_MSG(st == JALAD_ERR_INVALID_ARG, "crop spec '%s': %d", bad[i], st);
		if (*bad[i])
			CHECK_MSG(err_names(bad[i]), "crop spec '%s': message '%s'", bad[i], jalad_last_error());
	}
	CHECK(jalad_preprocess_set_crop(&pp, NULL) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_preprocess_set_crop(NULL, "none") == JALAD_ERR_INVALID_ARG);

	/* preprocess_check: crop modes and fractions */
	jalad_preprocess_default(&pp, 3, 8, 8);
	CHECK(pp.center_crop == JALAD_CROP_NONE && pp.crop_fraction == 0.0f);
	for (int mode = JALAD_CROP_NONE; mode <= JALAD_CROP_CENTRAL; mode++) {
		pp.center_crop = mode;
		CHECK(jalad_preprocess_check(&pp) == JALAD_OK);
	}
	pp.center_crop = 3;
	CHECK(jalad_preprocess_check(&pp) == JALAD_ERR_INVALID_ARG && err_names("crop"));
	pp.center_crop = -1;
	CHECK(jalad_preprocess_check(&pp) == JALAD_ERR_INVALID_ARG);
	pp.center_crop = JALAD_CROP_CENTRAL;
	static const float badf[] = { -0.1f, 1.5f, 1.0000001f, -0.0000001f, NAN, INFINITY, -INFINITY };
	for (size_t i = 0; i < sizeof badf / sizeof badf[0]; i++) {
		pp.crop_fraction = badf[i];
		CHECK_MSG(jalad_preprocess_check(&pp) == JALAD_ERR_INVALID_ARG, "fraction %g accepted",
			  (double)badf[i]);
	}
	pp.crop_fraction = 1.0f;
	CHECK(jalad_preprocess_check(&pp) == JALAD_OK);
	pp.crop_fraction = 0.0f; /* 0.875 */
	CHECK(jalad_preprocess_check(&pp) == JALAD_OK);
	/* to_tensor and resample refuse a bad mode too */
	{
		struct jalad_image *img = random_image(5, 5, 1), *out = (struct jalad_image *)&out;
		float x[3 * 8 * 8];
		pp.center_crop = 7;
		CHECK(img && jalad_image_to_tensor(img, &pp, x, 3 * 8 * 8) == JALAD_ERR_INVALID_ARG);
		CHECK(img && jalad_image_resample(img, &pp, &out) == JALAD_ERR_INVALID_ARG && out == NULL);
		jalad_image_free(img);
	}
}

/* jalad_image_resample = rounding (halves up) and clamping of the float
 * path with scale 1, mean 0, std 1. */
static void test_resample(void)
{
	static const int srcs[][3] = { { 10, 6, 1 }, { 10, 6, 3 }, { 7, 13, 1 }, { 7, 13, 3 }, { 28, 28, 1 } };
	static const int outs[][2] = { { 28, 28 }, { 4, 4 }, { 3, 5 }, { 16, 16 }, { 7, 13 } };
	float *x = malloc(3 * 28 * 28 * sizeof *x);
	int bad = 0, cases = 0;

	if (!x) {
		CHECK(!"malloc");
		return;
	}
	for (size_t si = 0; si < sizeof srcs / sizeof srcs[0]; si++) {
		struct jalad_image *img = random_image(srcs[si][0], srcs[si][1], srcs[si][2]);
		for (size_t oi = 0; img && oi < sizeof outs / sizeof outs[0]; oi++)
			for (int crop = 0; crop <= JALAD_CROP_CENTRAL; crop++)
				for (int dc = 1; dc <= 3; dc += 2) {
					struct jalad_preprocess pp;
					struct jalad_image *r = NULL;
					jalad_preprocess_default(&pp, dc, outs[oi][1], outs[oi][0]);
					pp.center_crop = crop;
					pp.crop_fraction = crop == JALAD_CROP_CENTRAL ? 0.7f : 0.0f;
					/* the normalization of pp must not matter */
					pp.mean[0] = 3.0f;
					pp.std[1] = 9.0f;
					enum jalad_status st = jalad_image_resample(img, &pp, &r);
					cases++;
					if (st != JALAD_OK || !r || r->width != pp.width || r->height != pp.height ||
					    r->channels != dc) {
						bad++;
						jalad_image_free(r);
						continue;
					}
					pp.scale = 1.0f;
					pp.mean[0] = 0.0f;
					pp.std[1] = 1.0f;
					size_t n = jalad_preprocess_len(&pp), plane = (size_t)pp.width * (size_t)pp.height;
					CHECK(jalad_image_to_tensor(img, &pp, x, n) == JALAD_OK);
					int ok = 1;
					for (int c = 0; c < dc; c++)
						for (size_t p = 0; p < plane; p++) {
							float q = floorf(x[(size_t)c * plane + p] + 0.5f);
							q = q < 0.0f ? 0.0f : q > 255.0f ? 255.0f : q;
							ok &= r->data[p * (size_t)dc + (size_t)c] == (unsigned char)q;
						}
					if (!ok) {
						bad++;
						fprintf(stderr, "resample %dx%dx%d -> %dx%dx%d crop %d differs\n",
							img->width, img->height, img->channels, pp.width, pp.height, dc,
							crop);
					}
					jalad_image_free(r);
				}
		jalad_image_free(img);
	}
	CHECK_MSG(bad == 0, "%d of %d resamples differ from the rounded float path", bad, cases);

	/* halves round up, not to even: [1 3] -> 4 wide is 1, 1.5, 2.5, 3 */
	{
		struct jalad_image *img = NULL, *r = NULL;
		struct jalad_preprocess pp;
		CHECK(jalad_image_create(2, 1, 1, &img) == JALAD_OK);
		if (img) {
			img->data[0] = 1;
			img->data[1] = 3;
			jalad_preprocess_default(&pp, 1, 1, 4);
			CHECK(jalad_image_resample(img, &pp, &r) == JALAD_OK);
			CHECK_MSG(r && r->data[0] == 1 && r->data[1] == 2 && r->data[2] == 3 && r->data[3] == 3,
				  "%d %d %d %d", r ? r->data[0] : -1, r ? r->data[1] : -1, r ? r->data[2] : -1,
				  r ? r->data[3] : -1);
			jalad_image_free(r);
			r = NULL;
			/* the same size is an exact copy */
			jalad_preprocess_default(&pp, 1, 1, 2);
			CHECK(jalad_image_resample(img, &pp, &r) == JALAD_OK && r && r->data[0] == 1 &&
			      r->data[1] == 3);
			jalad_image_free(r);
			r = NULL;
		}
		jalad_image_free(img);
		img = NULL;
		/* white RGB -> gray: luma may exceed 255 in float; clamped */
		CHECK(jalad_image_create(3, 3, 3, &img) == JALAD_OK);
		if (img) {
			int ok = 1;
			memset(img->data, 255, 27);
			jalad_preprocess_default(&pp, 1, 2, 2);
			CHECK(jalad_image_resample(img, &pp, &r) == JALAD_OK);
			for (int k = 0; r && k < 4; k++)
				ok &= r->data[k] == 255;
			CHECK(r && ok);
			jalad_image_free(r);
			r = NULL;
		}
		/* bad arguments: *out reset to NULL */
		r = (struct jalad_image *)&r;
		jalad_preprocess_default(&pp, 1, 2, 2);
		CHECK(jalad_image_resample(NULL, &pp, &r) == JALAD_ERR_INVALID_ARG && r == NULL);
		r = (struct jalad_image *)&r;
		CHECK(jalad_image_resample(img, NULL, &r) == JALAD_ERR_INVALID_ARG && r == NULL);
		CHECK(jalad_image_resample(img, &pp, NULL) == JALAD_ERR_INVALID_ARG);
		pp.channels = 2;
		r = (struct jalad_image *)&r;
		CHECK(jalad_image_resample(img, &pp, &r) == JALAD_ERR_INVALID_ARG && r == NULL);
		jalad_image_free(img);
	}
	free(x);
}

static double psnr(const unsigned char *a, const unsigned char *b, size_t n)
{
	double se = 0;
	for (size_t k = 0; k < n; k++)
		se += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
	return se == 0 ? INFINITY : 10.0 * log10(255.0 * 255.0 * (double)n / se);
}

/* A smooth test picture (gradients and a soft disc): JPEG-friendly. */
static struct jalad_image *smooth_image(int w, int h, int c)
{
	struct jalad_image *img = NULL;
	if (jalad_image_create(w, h, c, &img) != JALAD_OK)
		return NULL;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double r2 = (x - w / 2.0) * (x - w / 2.0) + (y - h / 2.0) * (y - h / 2.0);
			double disc = 80.0 * exp(-r2 / (0.1 * w * h));
			for (int k = 0; k < c; k++) {
				double v = 40 + 120.0 * x / w + (k == 1 ? 60.0 * y / h : 0) + (k == 2 ? -disc : disc);
				img->data[((size_t)y * (size_t)w + (size_t)x) * (size_t)c + (size_t)k] =
					(unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
		}
	return img;
}

static void test_jpeg_encode(void)
{
	for (int c = 1; c <= 3; c += 2) {
		struct jalad_image *img = smooth_image(40, 30, c), *dec = NULL;
		unsigned char *bytes = NULL, *small = NULL;
		size_t len = 0, slen = 0;
		enum jalad_status st;
		CHECK(img != NULL);
		if (!img)
			continue;
		st = jalad_image_encode_jpeg(img, 95, &bytes, &len);
		CHECK_MSG(st == JALAD_OK && bytes && len > 3, "encode: %s", jalad_last_error());
		if (st != JALAD_OK || !bytes) {
			jalad_image_free(img);
			continue;
		}
		CHECK(bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff);
		CHECK(bytes[len - 2] == 0xff && bytes[len - 1] == 0xd9); /* EOI */
		st = jalad_image_decode(bytes, len, "roundtrip.jpg", &dec);
		CHECK_MSG(st == JALAD_OK, "decode: %s", jalad_last_error());
		if (dec) {
			CHECK(dec->width == 40 && dec->height == 30 && dec->channels == c);
			if (dec->width == 40 && dec->height == 30 && dec->channels == c) {
				double p = psnr(img->data, dec->data, (size_t)40 * 30 * (size_t)c);
				CHECK_MSG(p > 38.0, "quality 95, %d channels: PSNR %.1f dB", c, p);
			}
		}
		jalad_image_free(dec);
		dec = NULL;
		/* quality 1 is smaller and still decodes */
		CHECK(jalad_image_encode_jpeg(img, 1, &small, &slen) == JALAD_OK && small && slen < len);
		CHECK(small && jalad_image_decode(small, slen, NULL, &dec) == JALAD_OK && dec &&
		      dec->width == 40 && dec->channels == c);
		jalad_image_free(dec);
		dec = NULL;
		free(small);
		small = NULL;
		/* 100 is allowed */
		CHECK(jalad_image_encode_jpeg(img, 100, &small, &slen) == JALAD_OK && slen >= len);
		free(small);
		small = (unsigned char *)&small;
		slen = 99;

		/* refused: quality 0 and 101, NULL arguments, bad images */
		CHECK(jalad_image_encode_jpeg(img, 0, &small, &slen) == JALAD_ERR_INVALID_ARG && small == NULL &&
		      slen == 0 && err_names("quality"));
		CHECK(jalad_image_encode_jpeg(img, 101, &small, &slen) == JALAD_ERR_INVALID_ARG && small == NULL);
		CHECK(jalad_image_encode_jpeg(img, -5, &small, &slen) == JALAD_ERR_INVALID_ARG);
		CHECK(jalad_image_encode_jpeg(NULL, 90, &small, &slen) == JALAD_ERR_INVALID_ARG && small == NULL);
		CHECK(jalad_image_encode_jpeg(img, 90, NULL, &slen) == JALAD_ERR_INVALID_ARG);
		CHECK(jalad_image_encode_jpeg(img, 90, &small, NULL) == JALAD_ERR_INVALID_ARG);
		{
			struct jalad_image bad = *img;
			bad.channels = 2;
			CHECK(jalad_image_encode_jpeg(&bad, 90, &small, &slen) == JALAD_ERR_INVALID_ARG);
			bad = *img;
			bad.data = NULL;
			CHECK(jalad_image_encode_jpeg(&bad, 90, &small, &slen) == JALAD_ERR_INVALID_ARG);
			bad = *img;
			bad.width = 0;
			CHECK(jalad_image_encode_jpeg(&bad, 90, &small, &slen) == JALAD_ERR_INVALID_ARG);
		}
		free(bytes);
		jalad_image_free(img);
	}
	/* a 1x1 image encodes too */
	{
		struct jalad_image *img = NULL, *dec = NULL;
		unsigned char *b = NULL;
		size_t n = 0;
		CHECK(jalad_image_create(1, 1, 3, &img) == JALAD_OK);
		if (img) {
			img->data[0] = 200, img->data[1] = 100, img->data[2] = 50;
			CHECK(jalad_image_encode_jpeg(img, 95, &b, &n) == JALAD_OK);
			CHECK(b && jalad_image_decode(b, n, NULL, &dec) == JALAD_OK && dec && dec->width == 1 &&
			      dec->height == 1 && abs(dec->data[0] - 200) <= 4 && abs(dec->data[2] - 50) <= 4);
		}
		free(b);
		jalad_image_free(dec);
		jalad_image_free(img);
	}
}

/* A PNG in memory, with libpng's simplified API. */
static unsigned char *png_to_memory(const unsigned char *px, int w, int h, int c, size_t *len)
{
	png_image im;
	png_alloc_size_t n = 0;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	im.width = (png_uint_32)w;
	im.height = (png_uint_32)h;
	im.format = c == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
	if (!png_image_write_to_memory(&im, NULL, &n, 0, px, 0, NULL))
		return NULL;
	unsigned char *buf = malloc(n);
	if (buf && !png_image_write_to_memory(&im, buf, &n, 0, px, 0, NULL)) {
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static void test_image_decode(void)
{
	struct jalad_image *dec = (struct jalad_image *)&dec;
	enum jalad_status st;

	for (int c = 1; c <= 3; c += 2) {
		struct jalad_image *img = random_image(23, 11, c);
		size_t len = 0;
		unsigned char *png = img ? png_to_memory(img->data, 23, 11, c, &len) : NULL;
		CHECK(png != NULL);
		if (png) {
			st = jalad_image_decode(png, len, "mem.png", &dec);
			CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
			CHECK(dec && dec->width == 23 && dec->height == 11 && dec->channels == c &&
			      memcmp(dec->data, img->data, (size_t)23 * 11 * (size_t)c) == 0);
			jalad_image_free(dec);
			/* the same bytes as a file decode the same */
			{
				struct jalad_image *f = NULL;
				CHECK(write_bytes(tpath("mem.png"), png, len) == 0);
				CHECK(jalad_image_load(tpath("mem.png"), &f) == JALAD_OK && f &&
				      memcmp(f->data, img->data, (size_t)23 * 11 * (size_t)c) == 0);
				jalad_image_free(f);
			}
			/* truncated: half, and all but the last byte */
			dec = (struct jalad_image *)&dec;
			st = jalad_image_decode(png, len / 2, "half.png", &dec);
			CHECK_MSG((st == JALAD_ERR_TRUNCATED || st == JALAD_ERR_FORMAT) && dec == NULL &&
					  err_names("half.png"),
				  "st %d: %s", st, jalad_last_error());
			st = jalad_image_decode(png, 20, "head.png", &dec);
			CHECK_MSG(st == JALAD_ERR_TRUNCATED || st == JALAD_ERR_FORMAT, "st %d: %s", st,
				  jalad_last_error());
			st = jalad_image_decode(png, 8, NULL, &dec);
			CHECK_MSG(st == JALAD_ERR_TRUNCATED, "signature only: st %d: %s", st, jalad_last_error());
			free(png);
		}
		jalad_image_free(img);
	}

	/* a JPEG from the encoder; truncated */
	{
		struct jalad_image *img = smooth_image(64, 48, 3);
		unsigned char *jpg = NULL;
		size_t len = 0;
		CHECK(img && jalad_image_encode_jpeg(img, 90, &jpg, &len) == JALAD_OK);
		if (jpg) {
			dec = NULL;
			CHECK(jalad_image_decode(jpg, len, "mem.jpg", &dec) == JALAD_OK && dec && dec->width == 64 &&
			      dec->height == 48 && dec->channels == 3);
			jalad_image_free(dec);
			dec = (struct jalad_image *)&dec;
			st = jalad_image_decode(jpg, len / 2, "half.jpg", &dec);
			CHECK_MSG((st == JALAD_ERR_TRUNCATED || st == JALAD_ERR_FORMAT) && dec == NULL &&
					  err_names("half.jpg"),
				  "st %d: %s", st, jalad_last_error());
			st = jalad_image_decode(jpg, 3, "soi.jpg", &dec);
			CHECK_MSG(st == JALAD_ERR_TRUNCATED || st == JALAD_ERR_FORMAT, "st %d: %s", st,
				  jalad_last_error());
		}
		free(jpg);
		jalad_image_free(img);
	}

	/* garbage, empty, NULL */
	dec = (struct jalad_image *)&dec;
	st = jalad_image_decode("hello, world\n", 13, "text.bin", &dec);
	CHECK(st == JALAD_ERR_UNSUPPORTED && dec == NULL && err_names("text.bin"));
	st = jalad_image_decode("\x89PN", 3, NULL, &dec); /* a cut signature */
	CHECK(st == JALAD_ERR_UNSUPPORTED || st == JALAD_ERR_TRUNCATED);
	dec = (struct jalad_image *)&dec;
	CHECK(jalad_image_decode("x", 0, "empty.png", &dec) == JALAD_ERR_TRUNCATED && dec == NULL &&
	      err_names("empty.png"));
	CHECK(jalad_image_decode(NULL, 0, NULL, &dec) == JALAD_ERR_TRUNCATED);
	CHECK(jalad_image_decode(NULL, 10, NULL, &dec) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_image_decode("x", 1, NULL, NULL) == JALAD_ERR_INVALID_ARG);
}

/* ======================================================================== */
/* ImageNet folder                                                          */
/* ======================================================================== */

static void test_imagenet(void)
{
	unsigned char px[IW * IH * 3];
	struct jalad_dataset *ds = NULL;
	char spec[600], buf[600];
	enum jalad_status st;
	static const char *names[] = { "n01440764_a.png", "n01440764_b.png", "n01443537_x.jpg", "n09999999_z.JPEG" };

	memset(px, 90, sizeof px);
	mkdir(tpath("inet"), 0700);
	CHECK(write_png(tpath("inet/n01440764_b.png"), IW, IH, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, px, NULL,
			0) == 0);
	CHECK(write_png(tpath("inet/n01440764_a.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, px,
			NULL, 0) == 0);
	CHECK(write_jpeg(tpath("inet/n01443537_x.jpg"), IW, IH, 3, px, 90) == 0);
	CHECK(write_jpeg(tpath("inet/n09999999_z.JPEG"), IW, IH, 1, px, 90) == 0);
	CHECK(write_bytes(tpath("inet/README"), "not an image", 12) == 0);

	st = jalad_dataset_open_imagenet(tpath("inet"), &ds);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (ds) {
		static const int want[] = { 0, 0, 1, 2 };
		CHECK(jalad_dataset_count(ds) == 4);
		CHECK(jalad_dataset_kind(ds) && !strcmp(jalad_dataset_kind(ds), "imagenet"));
		for (size_t i = 0; i < 4; i++) {
			const char *nm = jalad_dataset_sample_name(ds, i);
			CHECK_MSG(nm && !strcmp(nm, names[i]), "sample %zu is %s", i, nm ? nm : "NULL");
			CHECK_MSG(jalad_dataset_label(ds, i) == want[i], "label of %s: %d", names[i],
				  jalad_dataset_label(ds, i));
			const char *p = jalad_dataset_sample_path(ds, i, buf, sizeof buf);
			char exp[600];
			snprintf(exp, sizeof exp, "%s/%s", tpath("inet"), names[i]);
			CHECK_MSG(p == buf && !strcmp(p, exp), "path %s", p ? p : "NULL");
		}
		CHECK(jalad_dataset_label(ds, 4) == -1);
		CHECK(jalad_dataset_sample_path(ds, 4, buf, sizeof buf) == NULL);
		/* the path must fit, with its NUL */
		{
			size_t need = strlen(tpath("inet")) + 1 + strlen(names[0]);
			CHECK(jalad_dataset_sample_path(ds, 0, buf, need) == NULL);
			CHECK(jalad_dataset_sample_path(ds, 0, buf, need + 1) == buf && strlen(buf) == need);
			CHECK(jalad_dataset_sample_path(ds, 0, buf, 0) == NULL);
		}
		/* label offset for a background class */
		CHECK(jalad_dataset_set_label_offset(ds, 1) == JALAD_OK);
		for (size_t i = 0; i < 4; i++)
			CHECK(jalad_dataset_label(ds, i) == want[i] + 1);
		CHECK(jalad_dataset_label(ds, 4) == -1);
		CHECK(jalad_dataset_set_label_offset(ds, -1) == JALAD_ERR_INVALID_ARG);
		CHECK(jalad_dataset_set_label_offset(ds, 1000001) == JALAD_ERR_INVALID_ARG);
		CHECK(jalad_dataset_label(ds, 2) == 2); /* unchanged by the refused calls */
		CHECK(jalad_dataset_set_label_offset(ds, 0) == JALAD_OK && jalad_dataset_label(ds, 3) == 2);
		CHECK(jalad_dataset_set_label_offset(ds, 1000000) == JALAD_OK &&
		      jalad_dataset_label(ds, 3) == 1000002);
		/* samples load */
		{
			struct jalad_image *img = NULL;
			CHECK(jalad_dataset_load_image(ds, 2, &img) == JALAD_OK && img && img->channels == 3);
			jalad_image_free(img);
		}
	}
	jalad_dataset_free(ds);
	ds = NULL;
	CHECK(jalad_dataset_set_label_offset(NULL, 1) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_dataset_kind(NULL) == NULL);

	/* through a spec */
	snprintf(spec, sizeof spec, "imagenet:%s", tpath("inet"));
	st = jalad_dataset_open(spec, &ds);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	CHECK(ds && jalad_dataset_count(ds) == 4 && !strcmp(jalad_dataset_kind(ds), "imagenet") &&
	      jalad_dataset_label(ds, 3) == 2);
	jalad_dataset_free(ds);
	ds = NULL;
	CHECK(jalad_dataset_open("imagenet:", &ds) == JALAD_ERR_INVALID_ARG && ds == NULL);
	CHECK(jalad_dataset_open("imagenet", &ds) == JALAD_ERR_INVALID_ARG && ds == NULL);
	CHECK(jalad_dataset_open("imagenet:/nonexistent-dir", &ds) == JALAD_ERR_NOT_FOUND && ds == NULL);

	/* the same folder as images: kind, no labels */
	CHECK(jalad_dataset_open_images(tpath("inet"), &ds) == JALAD_OK);
	CHECK(ds && !strcmp(jalad_dataset_kind(ds), "images") && jalad_dataset_label(ds, 0) == -1);
	CHECK(ds && jalad_dataset_set_label_offset(ds, 5) == JALAD_OK && jalad_dataset_label(ds, 0) == -1);
	jalad_dataset_free(ds);
	ds = NULL;

	/* a file without a synset: an error naming it */
	CHECK(write_png(tpath("inet/cat.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, px, NULL, 0) ==
	      0);
	st = jalad_dataset_open_imagenet(tpath("inet"), &ds);
	CHECK_MSG(st == JALAD_ERR_FORMAT && ds == NULL && err_names("cat.png"), "st %d: %s", st,
		  jalad_last_error());
	CHECK(unlink(tpath("inet/cat.png")) == 0);
	/* short synset ids are not synsets */
	CHECK(write_png(tpath("inet/n0144076_q.png"), IW, IH, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, px, NULL,
			0) == 0);
	st = jalad_dataset_open_imagenet(tpath("inet"), &ds);
	CHECK_MSG(st == JALAD_ERR_FORMAT && err_names("n0144076_q.png"), "st %d: %s", st, jalad_last_error());
	/* ... and with a labels.txt, those labels win (no synset needed) */
	{
		static const char lt[] = "n01440764_a.png 7\nn0144076_q.png 3\nn09999999_z.JPEG 0\n";
		CHECK(write_bytes(tpath("inet/labels.txt"), lt, strlen(lt)) == 0);
	}
	st = jalad_dataset_open_imagenet(tpath("inet"), &ds);
	CHECK_MSG(st == JALAD_OK, "%s", jalad_last_error());
	if (ds) {
		/* n0144076_q.png sorts after n01440764_b.png ('_' > '4') */
		static const char *order[] = { "n01440764_a.png", "n01440764_b.png", "n0144076_q.png",
					       "n01443537_x.jpg", "n09999999_z.JPEG" };
		static const int want[] = { 7, -1, 3, -1, 0 };
		CHECK(jalad_dataset_count(ds) == 5);
		for (size_t i = 0; i < 5 && jalad_dataset_count(ds) == 5; i++) {
			const char *nm = jalad_dataset_sample_name(ds, i);
			CHECK_MSG(nm && !strcmp(nm, order[i]), "sample %zu is %s", i, nm ? nm : "NULL");
			CHECK_MSG(jalad_dataset_label(ds, i) == want[i], "labels.txt: %s has %d", order[i],
				  jalad_dataset_label(ds, i));
		}
		CHECK(jalad_dataset_set_label_offset(ds, 1) == JALAD_OK);
		CHECK(jalad_dataset_label(ds, 0) == 8 && jalad_dataset_label(ds, 1) == -1 &&
		      jalad_dataset_label(ds, 4) == 1);
	}
	jalad_dataset_free(ds);
	ds = NULL;
}

/* ======================================================================== */
/* jalad_file_read                                                          */
/* ======================================================================== */

static void test_file_read(void)
{
	enum { BIG = 200000 };
	unsigned char *data = malloc(BIG);
	uint8_t *buf = (uint8_t *)&buf;
	size_t len = 77;
	enum jalad_status st;

	if (!data) {
		CHECK(!"malloc");
		return;
	}
	for (size_t k = 0; k < BIG; k++)
		data[k] = lcg_byte();
	CHECK(write_bytes(tpath("f1000"), data, 1000) == 0);
	CHECK(write_bytes(tpath("fbig"), data, BIG) == 0);
	CHECK(write_bytes(tpath("f0"), data, 0) == 0);

	st = jalad_file_read(tpath("f1000"), 5000, &buf, &len);
	CHECK(st == JALAD_OK && len == 1000 && buf && memcmp(buf, data, 1000) == 0);
	free(buf);
	/* a file of exactly max bytes is "at most max" */
	buf = NULL;
	st = jalad_file_read(tpath("f1000"), 1000, &buf, &len);
	CHECK_MSG(st == JALAD_OK && len == 1000 && buf && memcmp(buf, data, 1000) == 0,
		  "1000-byte file, max 1000: %s: %s", jalad_status_str(st), jalad_last_error());
	free(buf);
	buf = (uint8_t *)&buf;
	st = jalad_file_read(tpath("f1000"), 999, &buf, &len);
	CHECK(st == JALAD_ERR_LIMIT && buf == NULL && len == 0 && err_names("f1000"));
	/* beyond the first 64 KiB chunk */
	buf = NULL;
	st = jalad_file_read(tpath("fbig"), (size_t)1 << 30, &buf, &len);
	CHECK(st == JALAD_OK && len == BIG && buf && memcmp(buf, data, BIG) == 0);
	free(buf);
	buf = NULL;
	st = jalad_file_read(tpath("fbig"), BIG, &buf, &len);
	CHECK_MSG(st == JALAD_OK && len == BIG && buf && memcmp(buf, data, BIG) == 0,
		  "%d-byte file, max %d: %s: %s", BIG, BIG, jalad_status_str(st), jalad_last_error());
	free(buf);
	buf = NULL;
	st = jalad_file_read(tpath("fbig"), BIG + 1, &buf, &len);
	CHECK(st == JALAD_OK && len == BIG && buf && memcmp(buf, data, BIG) == 0);
	free(buf);
	buf = (uint8_t *)&buf;
	st = jalad_file_read(tpath("fbig"), BIG - 1, &buf, &len);
	CHECK(st == JALAD_ERR_LIMIT && buf == NULL && len == 0);
	buf = (uint8_t *)&buf;
	st = jalad_file_read(tpath("fbig"), 65536, &buf, &len);
	CHECK(st == JALAD_ERR_LIMIT && buf == NULL);
	/* empty file */
	buf = NULL;
	len = 5;
	st = jalad_file_read(tpath("f0"), 100, &buf, &len);
	CHECK(st == JALAD_OK && len == 0);
	free(buf);
	/* missing, a directory, NULL arguments */
	buf = (uint8_t *)&buf;
	st = jalad_file_read(tpath("no-such-file"), 100, &buf, &len);
	CHECK(st == JALAD_ERR_NOT_FOUND && buf == NULL && len == 0 && err_names("no-such-file"));
	st = jalad_file_read(tmpdir, 100, &buf, &len);
	CHECK_MSG(st == JALAD_ERR_IO && buf == NULL, "directory: %s", jalad_status_str(st));
	CHECK(jalad_file_read(NULL, 100, &buf, &len) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_file_read(tpath("f1000"), 100, NULL, &len) == JALAD_ERR_INVALID_ARG);
	CHECK(jalad_file_read(tpath("f1000"), 100, &buf, NULL) == JALAD_ERR_INVALID_ARG);
	free(data);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	snprintf(tmpdir, sizeof tmpdir, "%s/jalad-data-XXXXXX",
		 base && *base && strlen(base) < 40 ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_idx();
	test_idx_errors();
	test_png();
	test_jpeg();
	test_image_errors();
	test_to_tensor();
	test_folder();
	test_spec();
	test_fmnist_real();
	test_central_crop();
	test_set_crop();
	test_resample();
	test_jpeg_encode();
	test_image_decode();
	test_imagenet();
	test_file_read();
	rm_tree(tmpdir);
	TEST_MAIN_END("data");
}
