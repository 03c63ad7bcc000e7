/*
 * jalad/data.h - input readers: Fashion-MNIST / MNIST idx files, PNG and
 * JPEG images, and one dataset interface over both.
 *
 * A dataset is a numbered list of samples, each an 8-bit image with an
 * optional integer label. jalad_dataset_get() turns sample i into the float
 * tensor a model expects, as described by a struct jalad_preprocess:
 *
 *   1. channel conversion: gray -> RGB by replication, RGB -> gray by luma
 *      (0.299 R + 0.587 G + 0.114 B, kept in float, not rounded);
 *   2. resize to exactly height x width with bilinear interpolation, half-pixel
 *      centres, edge clamping and no antialiasing (the same as
 *      torch.nn.functional.interpolate(mode="bilinear", align_corners=False)).
 *      With center_crop = JALAD_CROP_RESIZE, the image is first scaled,
 *      keeping its aspect ratio, until it covers (height / 0.875) x
 *      (width / 0.875) (the shorter side becomes 256 for a 224 x 224 model),
 *      and the centre height x width window is kept: torchvision's ImageNet
 *      eval transform Resize(256) + CenterCrop(224), except that large
 *      downscales are not antialiased.
 *      With center_crop = JALAD_CROP_CENTRAL (TensorFlow-style classifiers),
 *      a centred square window of side s = crop_fraction x min(h, w) source
 *      pixels (0.875 by default; not rounded to whole pixels) is resized to
 *      height x width: with step = s / height computed first, output row o
 *      samples source row ((o + 0.5) * step - 0.5) + (h - s) / 2, evaluated
 *      in double in that order, clamped to [0, h - 1]; the same for columns; the weights
 *      are the fractional parts, rounded to float, and the interpolation is
 *      top = a + (b - a) fx, bottom = d + (e - d) fx, v = top + (bottom -
 *      top) fy in float (bench/imagenet_preprocess.py does the same);
 *   3. normalization x = (pixel * scale - mean[c]) / std[c], stored CHW
 *      (that is NCHW with N = 1), float32.
 * Without a crop, a sample already at height x width is not resampled.
 *
 *     struct jalad_dataset *ds;
 *     struct jalad_preprocess pp;
 *     if (jalad_dataset_open("fmnist", &ds) != JALAD_OK)   // t10k test set
 *         die(jalad_last_error());
 *     jalad_preprocess_default(&pp, 1, 28, 28);          // x = pixel / 255
 *     float *x = malloc(jalad_preprocess_len(&pp) * sizeof *x);
 *     for (size_t i = 0; i < jalad_dataset_count(ds); i++) {
 *         if (jalad_dataset_get(ds, i, &pp, x, jalad_preprocess_len(&pp)))
 *             die(jalad_last_error());
 *         int label = jalad_dataset_label(ds, i);        // -1 if unknown
 *         ...run the model on x (1, 1, 28, 28)...
 *     }
 *     free(x);
 *     jalad_dataset_free(ds);
 *
 * Errors: every fallible function returns an enum jalad_status and records a
 * message naming the file and the problem for jalad_last_error(), e.g.
 * "idx: DIR/t10k-images-idx3-ubyte.gz: truncated: got 5000000 of the 7840000
 * bytes of the pixel data".
 * Corrupt, truncated or oversized files are errors, never crashes or exits.
 *
 * Threads: no global state. A dataset is immutable once opened, so
 * jalad_dataset_count/label/sample_name/get/load_image may be called from
 * several threads at once on the same dataset; open and free may not run
 * concurrently with any other call on that dataset.
 */
#ifndef JALAD_DATA_H
#define JALAD_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "jalad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest decoded sample accepted, in bytes (width * height * channels), and
 * largest idx pixel array (count * rows * cols). Bigger inputs fail with
 * JALAD_ERR_LIMIT before anything is allocated for them. */
#define JALAD_DATA_MAX_PIXELS 100000000u

/* Default Fashion-MNIST directory (Debian package dataset-fashion-mnist). */
#define JALAD_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------------------ */
/* Images                                                                   */
/* ------------------------------------------------------------------------ */

/* An 8-bit image, rows top to bottom, channels interleaved. */
struct jalad_image {
	int width;           /* pixels */
	int height;          /* pixels */
	int channels;        /* 1 (gray) or 3 (RGB) */
	unsigned char *data; /* (height, width, channels); owned by the image
	                      * when it comes from jalad_image_create/_load */
};

/*! Allocate a zero-filled width x height x channels image.
 *  @return JALAD_OK; JALAD_ERR_INVALID_ARG for channels other than 1 or 3 or
 *          a non-positive size; JALAD_ERR_LIMIT above JALAD_DATA_MAX_PIXELS;
 *          JALAD_ERR_NOMEM.
 *  Ownership: *out is the caller's, free with jalad_image_free().
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_create(int width, int height, int channels,
					       struct jalad_image **out);

/*! Decode a PNG or JPEG file; the format is recognized by its first bytes,
 *  not its name. Gray and gray+alpha images become 1 channel; RGB, RGBA and
 *  palette images become 3 channels (alpha is dropped, not composited, as
 *  PIL's convert("RGB") does); 16-bit samples are scaled to 8 bits with
 *  rounding; 1/2/4-bit gray is expanded to 0..255. CMYK JPEGs are refused.
 *  @return JALAD_OK; JALAD_ERR_NOT_FOUND (no such file), JALAD_ERR_IO
 *          (cannot open or read), JALAD_ERR_TRUNCATED (empty file or data
 *          ends early), JALAD_ERR_FORMAT (corrupt), JALAD_ERR_UNSUPPORTED
 *          (not PNG/JPEG, or CMYK), JALAD_ERR_LIMIT (larger than
 *          JALAD_DATA_MAX_PIXELS), JALAD_ERR_NOMEM.
 *  Ownership: *out is the caller's, free with jalad_image_free(); *out is
 *  NULL on error.
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_load(const char *path, struct jalad_image **out);

/*! Read a whole file of at most max bytes into *buf (malloc'd, the caller
 *  frees) of *len bytes.
 *  @return JALAD_OK; JALAD_ERR_NOT_FOUND, JALAD_ERR_IO, JALAD_ERR_LIMIT
 *          (larger than max), JALAD_ERR_NOMEM. Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_file_read(const char *path, size_t max, uint8_t **buf, size_t *len);

/*! Free an image and its pixels. NULL is a no-op. */
JALAD_API void jalad_image_free(struct jalad_image *img);

/* ------------------------------------------------------------------------ */
/* Preprocessing                                                            */
/* ------------------------------------------------------------------------ */

/* What a model wants as input; see the overview for the exact steps. */
struct jalad_preprocess {
	float scale;      /* applied to the 0..255 pixel first, e.g. 1/255 */
	int channels;     /* 1 or 3 (C of the tensor) */
	float mean[4];    /* per channel, subtracted after scaling */
	float std[4];     /* per channel, divides after the mean; non-zero */
	int height;       /* tensor H, 1..16384 */
	int width;        /* tensor W, 1..16384 */
	int center_crop;  /* enum jalad_crop: JALAD_CROP_NONE (0) plain resize,
	                   * JALAD_CROP_RESIZE (1) torchvision's resize + crop,
	                   * JALAD_CROP_CENTRAL (2) central square crop, then resize */
	float crop_fraction; /* JALAD_CROP_CENTRAL: side of the square over the
	                      * shorter side, (0, 1]; 0 means 0.875 */
};

enum jalad_crop {
	JALAD_CROP_NONE = 0,
	JALAD_CROP_RESIZE = 1,
	JALAD_CROP_CENTRAL = 2,
};

/*! Parse a crop spec: "none", "resize" (torchvision's Resize + CenterCrop),
 *  "central" or "central:F" (F in (0, 1], default 0.875) into pp's
 *  center_crop and crop_fraction.
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG naming the spec. */
JALAD_API enum jalad_status jalad_preprocess_set_crop(struct jalad_preprocess *pp, const char *spec);

/*! Fill pp for a tensor (channels, height, width) with scale 1/255, mean 0,
 *  std 1 and no centre crop (values in [0, 1]). No validation: see
 *  jalad_preprocess_check(). Thread-safety: reentrant. */
JALAD_API void jalad_preprocess_default(struct jalad_preprocess *pp, int channels,
					int height, int width);

/*! Fill pp for torchvision ImageNet models: 3 x size x size, scale 1/255,
 *  mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), centre crop on.
 *  Thread-safety: reentrant. */
JALAD_API void jalad_preprocess_imagenet(struct jalad_preprocess *pp, int size);

/*! Check that pp is usable (channels 1 or 3, sizes in range, finite scale,
 *  mean and std, std non-zero).
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG naming the bad field.
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_preprocess_check(const struct jalad_preprocess *pp);

/*! Number of floats in the tensor pp describes: channels * height * width
 *  (0 if pp is invalid). Thread-safety: reentrant. */
JALAD_API size_t jalad_preprocess_len(const struct jalad_preprocess *pp);

/*! Convert img into the CHW float tensor described by pp.
 *  dst must hold jalad_preprocess_len(pp) floats; dst_len is that capacity
 *  and must equal it.
 *  @return JALAD_OK; JALAD_ERR_INVALID_ARG for a bad pp or image;
 *          JALAD_ERR_SHAPE if dst_len != channels * height * width.
 *  Ownership: img, pp and dst are borrowed; nothing is allocated.
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_to_tensor(const struct jalad_image *img,
						  const struct jalad_preprocess *pp,
						  float *dst, size_t dst_len);

/*! The 8-bit image the tensor of jalad_image_to_tensor() would be made of:
 *  the same channel conversion, crop and resize to pp's height x width x
 *  channels, each value rounded to the nearest integer (halves up) and
 *  clamped to 0..255; no normalization. It is what a camera would send as
 *  the model-sized input (cloud-only u8, PNG and JPEG payloads).
 *  @return as jalad_image_to_tensor(); JALAD_ERR_NOMEM.
 *  Ownership: *out is the caller's, free with jalad_image_free().
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_resample(const struct jalad_image *img,
						 const struct jalad_preprocess *pp,
						 struct jalad_image **out);

/*! Decode a PNG or JPEG held in memory (as jalad_image_load() does a file;
 *  name is used in messages, may be NULL).
 *  @return as jalad_image_load(). Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_decode(const void *bytes, size_t len, const char *name,
					       struct jalad_image **out);

/*! Encode img as a baseline JPEG at quality 1..100 (libjpeg, 4:2:0 chroma
 *  subsampling for RGB, the library's defaults otherwise) into *bytes
 *  (malloc'd, the caller frees) of *len bytes.
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG, JALAD_ERR_NOMEM, JALAD_ERR_IO.
 *  Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_image_encode_jpeg(const struct jalad_image *img, int quality,
						    unsigned char **bytes, size_t *len);

/* ------------------------------------------------------------------------ */
/* Datasets                                                                 */
/* ------------------------------------------------------------------------ */

struct jalad_dataset;

/*! Open a dataset from a spec string:
 *    "fmnist"               Fashion-MNIST test set (t10k) in JALAD_FMNIST_DIR
 *    "fmnist:DIR"           the same from DIR (MNIST files work too)
 *    "fmnist-train[:DIR]"   the 60000-image training set
 *    "images:DIR"           a folder of images, see jalad_dataset_open_images()
 *    "imagenet:DIR"         ImageNet-style photos, see jalad_dataset_open_imagenet()
 *  @return JALAD_OK; JALAD_ERR_INVALID_ARG for any other spec; otherwise
 *          the status of the open function it calls.
 *  Ownership: *out is the caller's, free with jalad_dataset_free(); NULL on
 *  error. Thread-safety: reentrant. */
JALAD_API enum jalad_status jalad_dataset_open(const char *spec, struct jalad_dataset **out);

/*! Open Fashion-MNIST (or MNIST: same file names) from dir (NULL means
 *  JALAD_FMNIST_DIR): {train,t10k}-images-idx3-ubyte[.gz] and
 *  {train,t10k}-labels-idx1-ubyte[.gz], gzip-compressed or not.
 *  train: non-zero for the training set, 0 for t10k.
 *  @return as jalad_dataset_open_idx(); JALAD_ERR_NOT_FOUND if neither the
 *          .gz nor the plain file exists.
 *  Ownership and thread-safety: as jalad_dataset_open(). */
JALAD_API enum jalad_status jalad_dataset_open_fmnist(const char *dir, int train,
						      struct jalad_dataset **out);

/*! Open an idx3 ubyte image file (magic 0x00000803, dims count x rows x cols)
 *  and, unless labels_path is NULL, the matching idx1 ubyte label file
 *  (magic 0x00000801, dim count). Either may be gzip-compressed. The whole
 *  file is read into memory (count * rows * cols bytes); samples have one
 *  channel.
 *  @return JALAD_OK; JALAD_ERR_NOT_FOUND (no such file), JALAD_ERR_IO
 *          (cannot open/read), JALAD_ERR_FORMAT (bad
 *          magic, zero dims, trailing bytes, corrupt gzip),
 *          JALAD_ERR_TRUNCATED (fewer bytes than the header declares),
 *          JALAD_ERR_MISMATCH (label and image counts differ),
 *          JALAD_ERR_LIMIT (more than JALAD_DATA_MAX_PIXELS pixels),
 *          JALAD_ERR_NOMEM.
 *  Ownership and thread-safety: as jalad_dataset_open(). */
JALAD_API enum jalad_status jalad_dataset_open_idx(const char *images_path,
						   const char *labels_path,
						   struct jalad_dataset **out);

/*! Open a folder of images: every regular file in dir whose name ends in
 *  .png, .jpg or .jpeg (any case) and does not start with '.', sorted by
 *  name (byte order). Files are decoded on each get, not at open.
 *  If dir/labels.txt exists, each non-blank line not starting with '#' is
 *  "FILENAME LABEL" (the label is the last field, 0..2^31-1; the file name
 *  may contain spaces); files it does not list have label -1.
 *  @return JALAD_OK; JALAD_ERR_IO (cannot read dir or labels.txt),
 *          JALAD_ERR_NOT_FOUND (no image files, or labels.txt names a file
 *          that is not an image in dir), JALAD_ERR_FORMAT (bad labels.txt
 *          line or duplicate entry), JALAD_ERR_NOMEM.
 *  Ownership and thread-safety: as jalad_dataset_open(). */
JALAD_API enum jalad_status jalad_dataset_open_images(const char *dir,
						      struct jalad_dataset **out);

/*! Open a folder of ImageNet photos named after their synset,
 *  "nNNNNNNNN_anything.JPEG" (as jalad_dataset_open_images() lists them).
 *  Without a labels.txt, the label of a file is the rank (from 0) of its
 *  synset among the distinct synsets of the folder, in sorted order: with
 *  the 1000 ImageNet classes present that is the standard class number.
 *  Models with a background class at 0 (1001 outputs) need
 *  jalad_dataset_set_label_offset(ds, 1).
 *  @return as jalad_dataset_open_images(); JALAD_ERR_FORMAT for a file name
 *          without a synset prefix (when there is no labels.txt).
 *  Ownership and thread-safety: as jalad_dataset_open(). */
JALAD_API enum jalad_status jalad_dataset_open_imagenet(const char *dir,
							struct jalad_dataset **out);

/*! Add offset (0..1000000) to every known label from now on (e.g. 1 for a
 *  classifier whose class 0 is background). Not concurrent with other calls
 *  on ds. @return JALAD_OK or JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_dataset_set_label_offset(struct jalad_dataset *ds, int offset);

/*! Kind of the dataset: "idx", "images" or "imagenet" (static storage). */
JALAD_API const char *jalad_dataset_kind(const struct jalad_dataset *ds);

/*! Path of sample i's file ("DIR/NAME") in buf[cap], for folder datasets;
 *  NULL for idx datasets, i >= count, or a path longer than cap - 1. */
JALAD_API const char *jalad_dataset_sample_path(const struct jalad_dataset *ds, size_t i,
						char *buf, size_t cap);

/*! Free a dataset. NULL is a no-op. */
JALAD_API void jalad_dataset_free(struct jalad_dataset *ds);

/*! Number of samples (> 0 for an open dataset). */
JALAD_API size_t jalad_dataset_count(const struct jalad_dataset *ds);

/*! Native sample shape: *channels, *height, *width (any may be NULL). For an
 *  images folder, where files differ, all three are 0. */
JALAD_API void jalad_dataset_shape(const struct jalad_dataset *ds, int *channels,
				   int *height, int *width);

/*! Label of sample i, or -1 if it has none or i >= count. */
JALAD_API int jalad_dataset_label(const struct jalad_dataset *ds, size_t i);

/*! Name of sample i: the file name for an images folder, NULL for idx
 *  datasets or i >= count. Borrowed, valid until jalad_dataset_free(). */
JALAD_API const char *jalad_dataset_sample_name(const struct jalad_dataset *ds, size_t i);

/*! Preprocess sample i into dst (see jalad_image_to_tensor()).
 *  dst_len is the number of floats dst holds and must equal
 *  jalad_preprocess_len(pp).
 *  @return JALAD_OK; JALAD_ERR_INVALID_ARG (i >= count or bad pp);
 *          JALAD_ERR_SHAPE (dst_len wrong); for an images folder any error of
 *          jalad_image_load(), with the file named in the message.
 *  Ownership: dst is borrowed. idx datasets allocate nothing here.
 *  Thread-safety: see the overview (concurrent gets are fine). */
JALAD_API enum jalad_status jalad_dataset_get(const struct jalad_dataset *ds, size_t i,
					      const struct jalad_preprocess *pp,
					      float *dst, size_t dst_len);

/*! Sample i as an 8-bit image, before any preprocessing.
 *  @return as jalad_dataset_get() (without the pp and dst_len errors).
 *  Ownership: *out is the caller's, free with jalad_image_free(); NULL on
 *  error. Thread-safety: as jalad_dataset_get(). */
JALAD_API enum jalad_status jalad_dataset_load_image(const struct jalad_dataset *ds, size_t i,
						     struct jalad_image **out);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_DATA_H */
