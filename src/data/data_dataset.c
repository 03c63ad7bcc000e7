/* The dataset interface shared by idx files and image folders, and the
 * "fmnist[:DIR]" / "images:DIR" spec parser. */
#include <stdlib.h>
#include <string.h>

#include "data_impl.h"

enum jalad_status jalad_dataset_alloc(const struct jalad_dataset_ops *ops,
				      struct jalad_dataset **out)
{
	struct jalad_dataset *ds = calloc(1, sizeof *ds);
	*out = NULL;
	if (!ds)
		return jalad_fail(JALAD_ERR_NOMEM, "dataset: out of memory");
	ds->ops = ops;
	*out = ds;
	return JALAD_OK;
}

void jalad_dataset_free(struct jalad_dataset *ds)
{
	if (!ds)
		return;
	if (ds->ops && ds->ops->destroy)
		ds->ops->destroy(ds);
	free(ds->labels);
	free(ds);
}

size_t jalad_dataset_count(const struct jalad_dataset *ds)
{
	return ds ? ds->count : 0;
}

void jalad_dataset_shape(const struct jalad_dataset *ds, int *channels, int *height, int *width)
{
	if (channels)
		*channels = ds ? ds->channels : 0;
	if (height)
		*height = ds ? ds->height : 0;
	if (width)
		*width = ds ? ds->width : 0;
}

int jalad_dataset_label(const struct jalad_dataset *ds, size_t i)
{
	if (!ds || !ds->labels || i >= ds->count || ds->labels[i] < 0)
		return -1;
	return ds->labels[i] + ds->label_offset;
}

enum jalad_status jalad_dataset_set_label_offset(struct jalad_dataset *ds, int offset)
{
	JALAD_RETURN_IF(!ds, JALAD_ERR_INVALID_ARG, "dataset: NULL");
	JALAD_RETURN_IF(offset < 0 || offset > 1000000, JALAD_ERR_INVALID_ARG,
			"dataset: label offset %d outside 0..1000000", offset);
	ds->label_offset = offset;
	return JALAD_OK;
}

const char *jalad_dataset_kind(const struct jalad_dataset *ds)
{
	return ds && ds->ops ? ds->ops->kind : NULL;
}

const char *jalad_dataset_sample_path(const struct jalad_dataset *ds, size_t i, char *buf, size_t cap)
{
	if (!ds || !ds->names || !ds->dir || i >= ds->count || !buf ||
	    (size_t)snprintf(buf, cap, "%s/%s", ds->dir, ds->names[i]) >= cap)
		return NULL;
	return buf;
}

const char *jalad_dataset_sample_name(const struct jalad_dataset *ds, size_t i)
{
	if (!ds || !ds->names || i >= ds->count)
		return NULL;
	return ds->names[i];
}

static enum jalad_status dataset_check_index(const struct jalad_dataset *ds, size_t i)
{
	JALAD_RETURN_IF(!ds, JALAD_ERR_INVALID_ARG, "dataset: NULL");
	JALAD_RETURN_IF(i >= ds->count, JALAD_ERR_INVALID_ARG,
			"dataset (%s): sample %zu out of range (%zu samples)", ds->ops->kind, i,
			ds->count);
	return JALAD_OK;
}

enum jalad_status jalad_dataset_get(const struct jalad_dataset *ds, size_t i,
				    const struct jalad_preprocess *pp, float *dst, size_t dst_len)
{
	struct jalad_image img;
	enum jalad_status st;
	int owned = 0;

	JALAD_FORWARD(dataset_check_index(ds, i));
	JALAD_FORWARD(jalad_preprocess_check(pp));
	JALAD_RETURN_IF(!dst, JALAD_ERR_INVALID_ARG, "dataset: dst is NULL");
	JALAD_RETURN_IF(dst_len != jalad_preprocess_len(pp), JALAD_ERR_SHAPE,
			"dataset: dst holds %zu floats, tensor %dx%dx%d needs %zu", dst_len,
			pp->channels, pp->height, pp->width, jalad_preprocess_len(pp));
	st = ds->ops->sample(ds, i, &img, &owned);
	if (st != JALAD_OK)
		return st;
	st = jalad_image_to_tensor(&img, pp, dst, dst_len);
	if (owned)
		free(img.data);
	return st;
}

enum jalad_status jalad_dataset_load_image(const struct jalad_dataset *ds, size_t i,
					   struct jalad_image **out)
{
	struct jalad_image img, *res = NULL;
	enum jalad_status st;
	int owned = 0;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "dataset: out is NULL");
	*out = NULL;
	JALAD_FORWARD(dataset_check_index(ds, i));
	JALAD_FORWARD(ds->ops->sample(ds, i, &img, &owned));
	if (owned) {
		res = malloc(sizeof *res);
		if (!res) {
			st = jalad_fail(JALAD_ERR_NOMEM, "dataset: out of memory");
			goto fail;
		}
		*res = img;
		owned = 0; /* res owns the pixels now */
	} else {
		st = jalad_image_create(img.width, img.height, img.channels, &res);
		if (st != JALAD_OK)
			goto fail;
		memcpy(res->data, img.data,
		       (size_t)img.width * (size_t)img.height * (size_t)img.channels);
	}
	*out = res;
	return JALAD_OK;
fail:
	if (owned)
		free(img.data);
	return st;
}

/* "PREFIX" or "PREFIX:ARG": returns 1 and sets *arg (NULL if absent). */
static int spec_match(const char *spec, const char *prefix, const char **arg)
{
	size_t n = strlen(prefix);
	if (strncmp(spec, prefix, n) != 0)
		return 0;
	if (spec[n] == '\0') {
		*arg = NULL;
		return 1;
	}
	if (spec[n] == ':') {
		*arg = spec + n + 1;
		return 1;
	}
	return 0;
}

enum jalad_status jalad_dataset_open(const char *spec, struct jalad_dataset **out)
{
	const char *arg;

	JALAD_RETURN_IF(!out, JALAD_ERR_INVALID_ARG, "dataset: out is NULL");
	*out = NULL;
	JALAD_RETURN_IF(!spec, JALAD_ERR_INVALID_ARG, "dataset: spec is NULL");
	if (spec_match(spec, "fmnist", &arg) || spec_match(spec, "fmnist-train", &arg)) {
		const int train = strncmp(spec, "fmnist-train", 12) == 0;
		JALAD_RETURN_IF(arg && !*arg, JALAD_ERR_INVALID_ARG,
				"dataset: '%s': empty directory after ':'", spec);
		return jalad_dataset_open_fmnist(arg, train, out);
	}
	if (spec_match(spec, "imagenet", &arg)) {
		JALAD_RETURN_IF(!arg || !*arg, JALAD_ERR_INVALID_ARG,
				"dataset: '%s': expected imagenet:DIR", spec);
		return jalad_dataset_open_imagenet(arg, out);
	}
	if (spec_match(spec, "images", &arg)) {
		JALAD_RETURN_IF(!arg || !*arg, JALAD_ERR_INVALID_ARG,
				"dataset: '%s': expected images:DIR", spec);
		return jalad_dataset_open_images(arg, out);
	}
	return jalad_fail(JALAD_ERR_INVALID_ARG,
			  "dataset: unknown spec '%s'; expected fmnist, fmnist:DIR, "
			  "fmnist-train, fmnist-train:DIR, images:DIR or imagenet:DIR",
			  spec);
}
