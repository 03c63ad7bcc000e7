/*
 * Private declarations of the data module: the dataset object shared by the
 * idx and images-folder readers, and the per-format image decoders.
 */
#ifndef JALAD_DATA_IMPL_H
#define JALAD_DATA_IMPL_H

#include <stdio.h>

#include "common/common_impl.h"
#include "jalad/data.h"

/* How one kind of dataset produces sample i. */
struct jalad_dataset_ops {
	const char *kind; /* "idx", "images", "imagenet" */
	/* Fill *img with sample i. If the pixels are newly allocated set
	 * *owned = 1 (the caller frees img->data), else *owned = 0 and img->data
	 * borrows the dataset's memory. i < count is checked by the caller. */
	enum jalad_status (*sample)(const struct jalad_dataset *ds, size_t i,
				    struct jalad_image *img, int *owned);
	void (*destroy)(struct jalad_dataset *ds); /* frees the kind's fields */
};

struct jalad_dataset {
	const struct jalad_dataset_ops *ops;
	size_t count;                 /* samples, > 0 */
	int channels, height, width;  /* native shape; 0 when it varies */
	int *labels;                  /* (count); -1 = unknown; NULL = none */
	int label_offset;             /* added to every known label */
	/* idx */
	unsigned char *pixels;        /* (count, height, width) */
	/* images folder */
	char *dir;                    /* folder path */
	char **names;                 /* (count) file names, sorted */
};

/* Allocate a dataset with ops set and everything else zero. */
enum jalad_status jalad_dataset_alloc(const struct jalad_dataset_ops *ops,
				      struct jalad_dataset **out);

/* Decoders: fp is positioned at the start of the file, path is for messages.
 * On success *out owns width*height*channels bytes. */
enum jalad_status jalad_png_decode(FILE *fp, const char *path, struct jalad_image **out);
enum jalad_status jalad_jpeg_decode(FILE *fp, const char *path, struct jalad_image **out);

/* Check a decoded size against JALAD_DATA_MAX_PIXELS before allocating. */
enum jalad_status jalad_image_check_size(const char *path, unsigned long width,
					 unsigned long height, int channels);

#endif /* JALAD_DATA_IMPL_H */
