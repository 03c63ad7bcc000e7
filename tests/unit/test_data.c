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
	rm_tree(tmpdir);
	TEST_MAIN_END("data");
}
