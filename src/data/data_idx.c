/* idx files (MNIST, Fashion-MNIST) read through zlib, which also reads
 * files that are not gzip-compressed. Format: big-endian u32 magic
 * 0x000008DD (unsigned byte data, DD dims), DD big-endian u32 dims, then
 * the bytes in row-major order. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "data_impl.h"

#define IDX_MAGIC_IMAGES 0x00000803u /* ubyte, 3 dims: count, rows, cols */
#define IDX_MAGIC_LABELS 0x00000801u /* ubyte, 1 dim: count */
#define GZ_CHUNK (1u << 24)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum jalad_status idx_open(const char *path, gzFile *out)
{
	errno = 0;
	*out = gzopen(path, "rb");
	if (!*out) {
		int e = errno;
		return jalad_fail(e == ENOENT ? JALAD_ERR_NOT_FOUND : e ? JALAD_ERR_IO : JALAD_ERR_NOMEM,
				  "idx: %s: cannot open: %s", path, e ? strerror(e) : "out of memory");
	}
	gzbuffer(*out, 1u << 17);
	return JALAD_OK;
}

/* zlib's message without the "path: " prefix gzerror() puts in front. */
static const char *gz_msg(gzFile gz, const char *path, int *zerr)
{
	const char *m = gzerror(gz, zerr);
	size_t n = strlen(path);
	if (strncmp(m, path, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
		m += n + 2;
	return m;
}

/* Status and message for a gzread that returned r < wanted. */
static enum jalad_status idx_read_error(gzFile gz, const char *path, const char *what,
					size_t got, size_t want)
{
	int zerr = Z_OK;
	const char *zmsg = gz_msg(gz, path, &zerr);
	if (zerr == Z_ERRNO)
		return jalad_fail(JALAD_ERR_IO, "idx: %s: read error in %s: %s", path, what,
				  strerror(errno));
	if (zerr != Z_OK && zerr != Z_BUF_ERROR)
		return jalad_fail(JALAD_ERR_FORMAT, "idx: %s: corrupt gzip stream: %s", path, zmsg);
	/* Z_BUF_ERROR is zlib's "unexpected end of file" */
	return jalad_fail(JALAD_ERR_TRUNCATED,
			  "idx: %s: truncated: got %zu of the %zu bytes of %s%s%s%s", path, got, want,
			  what, zerr == Z_BUF_ERROR ? " (gzip: " : "", zerr == Z_BUF_ERROR ? zmsg : "",
			  zerr == Z_BUF_ERROR ? ")" : "");
}

static enum jalad_status idx_read(gzFile gz, const char *path, const char *what, void *buf,
				  size_t n)
{
	size_t done = 0;
	while (done < n) {
		unsigned chunk = n - done > GZ_CHUNK ? GZ_CHUNK : (unsigned)(n - done);
		int r = gzread(gz, (unsigned char *)buf + done, chunk);
		if (r <= 0)
			return idx_read_error(gz, path, what, done, n);
		done += (size_t)r;
	}
	return JALAD_OK;
}

/* After the declared data: nothing may follow, and reading on lets zlib
 * verify the gzip trailer (CRC and length). */
static enum jalad_status idx_expect_end(gzFile gz, const char *path)
{
	unsigned char extra[64];
	int zerr = Z_OK;
	const char *zmsg;
	int r = gzread(gz, extra, sizeof extra);
	if (r > 0)
		return jalad_fail(JALAD_ERR_FORMAT,
				  "idx: %s: trailing bytes after the data the header declares", path);
	zmsg = gz_msg(gz, path, &zerr);
	if (zerr == Z_BUF_ERROR)
		return jalad_fail(JALAD_ERR_TRUNCATED, "idx: %s: gzip trailer missing: %s", path,
				  zmsg);
	if (r < 0 || zerr != Z_OK)
		return jalad_fail(zerr == Z_ERRNO ? JALAD_ERR_IO : JALAD_ERR_FORMAT,
				  "idx: %s: corrupt gzip stream after the data: %s", path,
				  zerr == Z_ERRNO ? strerror(errno) : zmsg);
	return JALAD_OK;
}

static enum jalad_status idx_magic(gzFile gz, const char *path, uint32_t want, const char *kind)
{
	unsigned char b[4];
	uint32_t m;
	JALAD_FORWARD(idx_read(gz, path, "the header", b, 4));
	m = be32(b);
	JALAD_RETURN_IF(m != want, JALAD_ERR_FORMAT,
			"idx: %s: bad magic 0x%08x, expected 0x%08x (%s)%s", path, m, want, kind,
			m == IDX_MAGIC_IMAGES  ? "; this is an image file"
			: m == IDX_MAGIC_LABELS ? "; this is a label file"
						: "");
	return JALAD_OK;
}

static enum jalad_status idx_sample(const struct jalad_dataset *ds, size_t i,
				    struct jalad_image *img, int *owned)
{
	const size_t n = (size_t)ds->height * (size_t)ds->width;
	img->width = ds->width;
	img->height = ds->height;
	img->channels = 1;
	img->data = ds->pixels + i * n; /* borrowed: no copy on the get path */
	*owned = 0;
	return JALAD_OK;
}

static void idx_destroy(struct jalad_dataset *ds)
{
	free(ds->pixels);
}

static const struct jalad_dataset_ops idx_ops = {
	.kind = "idx",
	.sample = idx_sample,
	.destroy = idx_destroy,
};

enum jalad_status jalad_dataset_open_idx(const char *images_path, const char *labels_path,
					 struct jalad_dataset **out)
{
	enum jalad_status st;
	gzFile gi = NULL, gl = NULL;
	struct jalad_dataset *ds = NULL;
	unsigned char hdr[12];
	unsigned char *lab = NULL;
	uint32_t count, rows, cols;
	uint64_t total;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "idx: out is NULL");
	*out = NULL;
	JALAD_RETURN_IF(!images_path, JALAD_ERR_INVALID_ARG, "idx: images path is NULL");

	/* Both headers first: a count mismatch fails before 47 MB are inflated. */
	st = idx_open(images_path, &gi);
	if (st != JALAD_OK)
		goto fail;
	st = idx_magic(gi, images_path, IDX_MAGIC_IMAGES, "idx3 unsigned-byte images");
	if (st != JALAD_OK)
		goto fail;
	st = idx_read(gi, images_path, "the header", hdr, 12);
	if (st != JALAD_OK)
		goto fail;
	count = be32(hdr);
	rows = be32(hdr + 4);
	cols = be32(hdr + 8);
	if (count == 0 || rows == 0 || cols == 0) {
		st = jalad_fail(JALAD_ERR_FORMAT, "idx: %s: empty dims %u x %u x %u", images_path,
				count, rows, cols);
		goto fail;
	}
	/* rows * cols < 2^64; once both factors are <= 1e8, so is total < 2^64 */
	total = (uint64_t)rows * cols;
	if (total <= JALAD_DATA_MAX_PIXELS && count <= JALAD_DATA_MAX_PIXELS)
		total *= count;
	if (total > JALAD_DATA_MAX_PIXELS || count > JALAD_DATA_MAX_PIXELS) {
		st = jalad_fail(JALAD_ERR_LIMIT,
				"idx: %s: %u images of %u x %u exceed the limit of %u pixels",
				images_path, count, rows, cols, JALAD_DATA_MAX_PIXELS);
		goto fail;
	}
	if (labels_path) {
		st = idx_open(labels_path, &gl);
		if (st != JALAD_OK)
			goto fail;
		st = idx_magic(gl, labels_path, IDX_MAGIC_LABELS, "idx1 unsigned-byte labels");
		if (st != JALAD_OK)
			goto fail;
		st = idx_read(gl, labels_path, "the header", hdr, 4);
		if (st != JALAD_OK)
			goto fail;
		if (be32(hdr) != count) {
			st = jalad_fail(JALAD_ERR_MISMATCH, "idx: %s: %u labels but %s has %u images",
					labels_path, be32(hdr), images_path, count);
			goto fail;
		}
	}

	st = jalad_dataset_alloc(&idx_ops, &ds);
	if (st != JALAD_OK)
		goto fail;
	ds->count = count;
	ds->channels = 1;
	ds->height = (int)rows;
	ds->width = (int)cols;
	ds->pixels = malloc((size_t)total);
	if (!ds->pixels) {
		st = jalad_fail(JALAD_ERR_NOMEM, "idx: %s: out of memory for %llu pixels",
				images_path, (unsigned long long)total);
		goto fail;
	}
	st = idx_read(gi, images_path, "the pixel data", ds->pixels, (size_t)total);
	if (st != JALAD_OK)
		goto fail;
	st = idx_expect_end(gi, images_path);
	if (st != JALAD_OK)
		goto fail;

	if (gl) {
		lab = malloc(count);
		ds->labels = malloc((size_t)count * sizeof *ds->labels);
		if (!lab || !ds->labels) {
			st = jalad_fail(JALAD_ERR_NOMEM, "idx: %s: out of memory for %u labels",
					labels_path, count);
			goto fail;
		}
		st = idx_read(gl, labels_path, "the labels", lab, count);
		if (st != JALAD_OK)
			goto fail;
		st = idx_expect_end(gl, labels_path);
		if (st != JALAD_OK)
			goto fail;
		for (uint32_t k = 0; k < count; k++)
			ds->labels[k] = lab[k];
	}
	*out = ds;
	ds = NULL;
fail:
	if (gi)
		gzclose(gi);
	if (gl)
		gzclose(gl);
	free(lab);
	jalad_dataset_free(ds);
	return st;
}

/* dir/name.gz if it exists, else dir/name. */
static enum jalad_status fmnist_path(const char *dir, const char *name, char **out)
{
	size_t n = strlen(dir) + strlen(name) + 5;
	char *p = malloc(n);
	*out = NULL;
	if (!p)
		return jalad_fail(JALAD_ERR_NOMEM, "fmnist: out of memory");
	snprintf(p, n, "%s/%s.gz", dir, name);
	if (access(p, F_OK) != 0) {
		snprintf(p, n, "%s/%s", dir, name);
		if (access(p, F_OK) != 0) {
			free(p);
			return jalad_fail(JALAD_ERR_NOT_FOUND,
					  "fmnist: neither %s/%s.gz nor %s/%s exists%s", dir, name,
					  dir, name,
					  strcmp(dir, JALAD_FMNIST_DIR) == 0
						  ? " (install the Debian package dataset-fashion-mnist)"
						  : "");
		}
	}
	*out = p;
	return JALAD_OK;
}

enum jalad_status jalad_dataset_open_fmnist(const char *dir, int train, struct jalad_dataset **out)
{
	enum jalad_status st;
	const char *set = train ? "train" : "t10k";
	char name[64];
	char *images = NULL, *labels = NULL;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "fmnist: out is NULL");
	*out = NULL;
	if (!dir)
		dir = JALAD_FMNIST_DIR;
	snprintf(name, sizeof name, "%s-images-idx3-ubyte", set);
	st = fmnist_path(dir, name, &images);
	if (st != JALAD_OK)
		goto fail;
	snprintf(name, sizeof name, "%s-labels-idx1-ubyte", set);
	st = fmnist_path(dir, name, &labels);
	if (st != JALAD_OK)
		goto fail;
	st = jalad_dataset_open_idx(images, labels, out);
fail:
	free(images);
	free(labels);
	return st;
}
