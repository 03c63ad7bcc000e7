/* A folder of PNG/JPEG files as a dataset, with optional labels.txt. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_impl.h"

#define LABELS_FILE "labels.txt"
#define LABELS_LINE_MAX 4096

static char *path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int is_image_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (name[0] == '.' || !dot)
		return 0;
	return strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
	       strcasecmp(dot, ".jpeg") == 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum jalad_status folder_sample(const struct jalad_dataset *ds, size_t i,
				       struct jalad_image *img, int *owned)
{
	struct jalad_image *loaded = NULL;
	enum jalad_status st;
	char *path = path_join(ds->dir, ds->names[i]);

	if (!path)
		return jalad_fail(JALAD_ERR_NOMEM, "images: out of memory");
	st = jalad_image_load(path, &loaded);
	free(path);
	if (st != JALAD_OK)
		return st;
	*img = *loaded;
	free(loaded); /* the pixels move to *img */
	*owned = 1;
	return JALAD_OK;
}

static void folder_destroy(struct jalad_dataset *ds)
{
	if (ds->names)
		for (size_t i = 0; i < ds->count; i++)
			free(ds->names[i]);
	free(ds->names);
	free(ds->dir);
}

static const struct jalad_dataset_ops folder_ops = {
	.kind = "images",
	.sample = folder_sample,
	.destroy = folder_destroy,
};

static const struct jalad_dataset_ops imagenet_ops = {
	.kind = "imagenet",
	.sample = folder_sample,
	.destroy = folder_destroy,
};

/* Collect the image file names of dir into ds->names, sorted. */
static enum jalad_status folder_list(struct jalad_dataset *ds)
{
	enum jalad_status st = JALAD_OK;
	DIR *d = opendir(ds->dir);
	size_t cap = 0;
	struct dirent *e;

	if (!d)
		return jalad_fail(errno == ENOENT ? JALAD_ERR_NOT_FOUND : JALAD_ERR_IO,
				  "images: %s: cannot open directory: %s", ds->dir, strerror(errno));
	for (;;) {
		struct stat sb;
		char *path;
		int reg;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				st = jalad_fail(JALAD_ERR_IO, "images: %s: cannot read directory: %s",
						ds->dir, strerror(errno));
			break;
		}
		if (!is_image_name(e->d_name))
			continue;
		path = path_join(ds->dir, e->d_name);
		if (!path) {
			st = jalad_fail(JALAD_ERR_NOMEM, "images: out of memory");
			break;
		}
		reg = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
		free(path);
		if (!reg)
			continue;
		if (ds->count == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			char **nn = ncap < cap || ncap > SIZE_MAX / sizeof *nn
					    ? NULL
					    : realloc(ds->names, ncap * sizeof *nn);
			if (!nn) {
				st = jalad_fail(JALAD_ERR_NOMEM, "images: %s: out of memory listing files",
						ds->dir);
				break;
			}
			ds->names = nn;
			cap = ncap;
		}
		ds->names[ds->count] = strdup(e->d_name);
		if (!ds->names[ds->count]) {
			st = jalad_fail(JALAD_ERR_NOMEM, "images: out of memory");
			break;
		}
		ds->count++;
	}
	closedir(d);
	if (st != JALAD_OK)
		return st;
	JALAD_RETURN_IF(ds->count == 0, JALAD_ERR_NOT_FOUND,
			"images: %s: no .png, .jpg or .jpeg files", ds->dir);
	qsort(ds->names, ds->count, sizeof *ds->names, cmp_name);
	return JALAD_OK;
}

/* Parse one labels.txt line in place. Returns 0 for a blank or comment line,
 * 1 with *name and *label set, or an error status (< 0). */
static int labels_parse_line(char *line, const char *path, unsigned lineno, char **name,
			     int *label)
{
	char *end = line + strlen(line), *sep, *num;
	long v;

	while (end > line && isspace((unsigned char)end[-1]))
		*--end = '\0';
	while (isspace((unsigned char)*line))
		line++;
	if (*line == '\0' || *line == '#')
		return 0;
	sep = end;
	while (sep > line && !isspace((unsigned char)sep[-1]))
		sep--;
	if (sep == line)
		return jalad_fail(JALAD_ERR_FORMAT,
				  "images: %s line %u: expected 'FILENAME LABEL', got '%s'", path,
				  lineno, line);
	num = sep;
	while (sep > line && isspace((unsigned char)sep[-1]))
		*--sep = '\0';
	errno = 0;
	{
		char *stop;
		v = strtol(num, &stop, 10);
		if (errno || *stop != '\0' || stop == num || v < 0 || v > INT_MAX)
			return jalad_fail(JALAD_ERR_FORMAT,
					  "images: %s line %u: label '%s' is not an integer in 0..%d",
					  path, lineno, num, INT_MAX);
	}
	*name = line;
	*label = (int)v;
	return 1;
}

/* Read dir/labels.txt if present; files it does not list keep label -1. */
static enum jalad_status folder_labels(struct jalad_dataset *ds)
{
	enum jalad_status st = JALAD_OK;
	char *path = path_join(ds->dir, LABELS_FILE);
	char line[LABELS_LINE_MAX + 2];
	unsigned lineno = 0;
	FILE *fp;

	if (!path)
		return jalad_fail(JALAD_ERR_NOMEM, "images: out of memory");
	fp = fopen(path, "r");
	if (!fp) {
		if (errno != ENOENT)
			st = jalad_fail(JALAD_ERR_IO, "images: %s: cannot open: %s", path,
					strerror(errno));
		free(path);
		return st;
	}
	ds->labels = malloc(ds->count * sizeof *ds->labels);
	if (!ds->labels) {
		st = jalad_fail(JALAD_ERR_NOMEM, "images: out of memory for %zu labels", ds->count);
		goto fail;
	}
	for (size_t i = 0; i < ds->count; i++)
		ds->labels[i] = -1;
	while (fgets(line, sizeof line, fp)) {
		char *name = NULL, **hit;
		int label = -1, r;

		lineno++;
		if (!strchr(line, '\n') && !feof(fp)) {
			st = jalad_fail(JALAD_ERR_FORMAT, "images: %s line %u: longer than %d bytes",
					path, lineno, LABELS_LINE_MAX);
			goto fail;
		}
		r = labels_parse_line(line, path, lineno, &name, &label);
		if (r < 0) {
			st = (enum jalad_status)r;
			goto fail;
		}
		if (r == 0)
			continue;
		hit = bsearch(&name, ds->names, ds->count, sizeof *ds->names, cmp_name);
		if (!hit) {
			st = jalad_fail(JALAD_ERR_NOT_FOUND,
					"images: %s line %u: '%s' is not a .png/.jpg/.jpeg file in %s",
					path, lineno, name, ds->dir);
			goto fail;
		}
		if (ds->labels[hit - ds->names] != -1) {
			st = jalad_fail(JALAD_ERR_FORMAT, "images: %s line %u: '%s' is listed twice",
					path, lineno, name);
			goto fail;
		}
		ds->labels[hit - ds->names] = label;
	}
	if (ferror(fp))
		st = jalad_fail(JALAD_ERR_IO, "images: %s: read error: %s", path, strerror(errno));
fail:
	fclose(fp);
	free(path);
	return st;
}

/* The synset id a file name starts with: 'n' and 8 digits, then '_' or '.'. */
static int synset_prefix(const char *name)
{
	if (name[0] != 'n')
		return 0;
	for (int i = 1; i <= 8; i++)
		if (!isdigit((unsigned char)name[i]))
			return 0;
	return name[9] == '_' || name[9] == '.';
}

/* Labels from the synset ids of the sorted file names: the class of a file
 * is the rank of its synset among the distinct synsets of the folder. The
 * names are sorted, so equal synsets are adjacent and ranks increase. */
static enum jalad_status imagenet_labels(struct jalad_dataset *ds)
{
	int rank = -1;
	ds->labels = malloc(ds->count * sizeof *ds->labels);
	if (!ds->labels)
		return jalad_fail(JALAD_ERR_NOMEM, "imagenet: out of memory for %zu labels", ds->count);
	for (size_t i = 0; i < ds->count; i++) {
		const char *nm = ds->names[i];
		JALAD_RETURN_IF(!synset_prefix(nm), JALAD_ERR_FORMAT,
				"imagenet: %s: file '%s' does not start with a synset id "
				"(nNNNNNNNN_...); use images:DIR with a labels.txt instead",
				ds->dir, nm);
		if (rank < 0 || strncmp(nm, ds->names[i - 1], 9) != 0)
			rank++;
		ds->labels[i] = rank;
	}
	return JALAD_OK;
}

static enum jalad_status open_folder(const char *dir, int imagenet, struct jalad_dataset **out)
{
	enum jalad_status st;
	struct jalad_dataset *ds = NULL;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "images: out is NULL");
	*out = NULL;
	JALAD_RETURN_IF(!dir || !*dir, JALAD_ERR_INVALID_ARG, "images: directory is empty");
	st = jalad_dataset_alloc(imagenet ? &imagenet_ops : &folder_ops, &ds);
	if (st != JALAD_OK)
		return st;
	ds->dir = strdup(dir);
	if (!ds->dir) {
		st = jalad_fail(JALAD_ERR_NOMEM, "images: out of memory");
		goto fail;
	}
	st = folder_list(ds);
	if (st != JALAD_OK)
		goto fail;
	st = folder_labels(ds);
	if (st == JALAD_OK && imagenet && !ds->labels)
		st = imagenet_labels(ds);
	if (st != JALAD_OK)
		goto fail;
	*out = ds;
	return JALAD_OK;
fail:
	jalad_dataset_free(ds);
	return st;
}

enum jalad_status jalad_dataset_open_images(const char *dir, struct jalad_dataset **out)
{
	return open_folder(dir, 0, out);
}

enum jalad_status jalad_dataset_open_imagenet(const char *dir, struct jalad_dataset **out)
{
	return open_folder(dir, 1, out);
}
