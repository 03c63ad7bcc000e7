/* Model inputs for the command line: preprocessing from metadata and flags,
 * tensors from .pb files, images or random numbers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools.h"

/* Parse a comma list of up to 4 floats; returns the count or -1. */
static int parse_list(const char *s, float *v)
{
	int n = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
		double d;
		if (n == 4 || tool_parse_float(tok, &d))
			return -1;
		v[n++] = (float)d;
	}
	return n;
}

static int apply_list(const char *cmd, const char *what, const char *s, int channels, float *dst)
{
	float v[4];
	int n = parse_list(s, v);
	if (n != 1 && n != channels)
		return tool_usage(cmd, "%s '%s': give 1 or %d comma-separated numbers", what, s, channels);
	for (int c = 0; c < channels; c++)
		dst[c] = v[n == 1 ? 0 : c];
	return 0;
}

int tool_preprocess(const char *cmd, const struct jalad_model *m, const char *scale, const char *mean,
		    const char *std, struct jalad_preprocess *pp)
{
	struct jalad_tensor_desc d;
	memset(pp, 0, sizeof *pp);
	if (jalad_model_input_count(m) < 1 ||
	    jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d) != JALAD_OK || d.ndim != 4 ||
	    (d.dims[1] != 1 && d.dims[1] != 3)) {
		fprintf(stderr, "jalad %s: the model's input is not an NCHW image with 1 or 3 channels\n", cmd);
		return EXIT_FAIL;
	}
	jalad_preprocess_default(pp, (int)d.dims[1], (int)d.dims[2], (int)d.dims[3]);
	const char *ms = jalad_model_metadata(m, "jalad.preprocess.scale");
	const char *mm = jalad_model_metadata(m, "jalad.preprocess.mean");
	const char *md = jalad_model_metadata(m, "jalad.preprocess.std");
	float one;
	if (!scale && ms && parse_list(ms, &one) == 1)
		pp->scale = one;
	if (scale) {
		double v;
		if (tool_parse_float(scale, &v))
			return tool_usage(cmd, "--scale '%s' is not a number", scale);
		pp->scale = (float)v;
	}
	if ((mean || mm) && apply_list(cmd, "--mean", mean ? mean : mm, pp->channels, pp->mean))
		return EXIT_USAGE;
	if ((std || md) && apply_list(cmd, "--std", std ? std : md, pp->channels, pp->std))
		return EXIT_USAGE;
	const char *mc = jalad_model_metadata(m, "jalad.preprocess.crop");
	enum jalad_status st;
	if (mc && (st = jalad_preprocess_set_crop(pp, mc)) != JALAD_OK)
		return tool_error(cmd, st);
	st = jalad_preprocess_check(pp);
	if (st != JALAD_OK)
		return tool_error(cmd, st);
	return 0;
}

int tool_open_dataset(const char *cmd, const char *spec, const struct jalad_model *m, long label_offset,
		      struct jalad_dataset **ds)
{
	enum jalad_status st = jalad_dataset_open(spec, ds);
	if (st != JALAD_OK)
		return tool_error(cmd, st);
	const char *kind = jalad_dataset_kind(*ds);
	if (label_offset < 0 && kind && !strcmp(kind, "imagenet")) {
		/* class numbers follow the model: its own metadata, else a
		 * 1001-way output has background at 0 */
		const char *mo = jalad_model_metadata(m, "jalad.labels.offset");
		long v;
		if (mo && !tool_parse_int(mo, 0, 1000000, &v)) {
			label_offset = v;
		} else {
			struct jalad_tensor_desc d;
			label_offset = 0;
			if (jalad_model_output_count(m) >= 1 &&
			    jalad_model_tensor_desc(m, jalad_model_output(m, 0), &d) == JALAD_OK &&
			    d.ndim >= 1 && d.dims[d.ndim - 1] == 1001)
				label_offset = 1;
		}
	}
	if (label_offset > 0 && (st = jalad_dataset_set_label_offset(*ds, (int)label_offset)) != JALAD_OK) {
		jalad_dataset_free(*ds);
		*ds = NULL;
		return tool_error(cmd, st);
	}
	return 0;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcasecmp(s + a - b, suf) == 0;
}

int tool_load_input(const char *cmd, const struct jalad_model *m, const char *path,
		    const struct jalad_preprocess *pp, struct jalad_tensor *out)
{
	struct jalad_tensor_desc d;
	enum jalad_status st;
	memset(out, 0, sizeof *out);
	if (jalad_model_input_count(m) != 1) {
		fprintf(stderr, "jalad %s: the model has %d inputs; only single-input models are supported here\n",
			cmd, jalad_model_input_count(m));
		return EXIT_FAIL;
	}
	jalad_model_tensor_desc(m, jalad_model_input(m, 0), &d);
	if (!path) {
		/* Deterministic pseudo-random normal-ish values. */
		int64_t n = 1;
		for (int i = 0; i < d.ndim; i++)
			n *= d.dims[i];
		if (d.dtype != JALAD_DTYPE_FLOAT32) {
			fprintf(stderr, "jalad %s: --random needs a float32 input\n", cmd);
			return EXIT_FAIL;
		}
		float *v = malloc((size_t)(n ? n : 1) * sizeof *v);
		if (!v)
			return tool_error(cmd, JALAD_ERR_NOMEM);
		uint64_t x = 0x9E3779B97F4A7C15ull;
		for (int64_t i = 0; i < n; i++) {
			float s = 0;
			for (int k = 0; k < 4; k++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				s += (float)(x >> 40) / (float)(1 << 24);
			}
			v[i] = (s - 2.0f) * 1.7320508f;
		}
		out->dtype = JALAD_DTYPE_FLOAT32;
		out->ndim = d.ndim;
		memcpy(out->dims, d.dims, sizeof out->dims);
		out->data = v;
		return 0;
	}
	if (ends_with(path, ".pb")) {
		st = jalad_tensor_read_pb(path, out);
		if (st != JALAD_OK)
			return tool_error(cmd, st);
		return 0;
	}
	if (ends_with(path, ".png") || ends_with(path, ".jpg") || ends_with(path, ".jpeg")) {
		struct jalad_image *img;
		if (!pp) {
			fprintf(stderr, "jalad %s: no preprocessing known for this model\n", cmd);
			return EXIT_FAIL;
		}
		st = jalad_image_load(path, &img);
		if (st != JALAD_OK)
			return tool_error(cmd, st);
		size_t n = jalad_preprocess_len(pp);
		float *v = malloc(n * sizeof *v);
		st = v ? jalad_image_to_tensor(img, pp, v, n) : JALAD_ERR_NOMEM;
		jalad_image_free(img);
		if (st != JALAD_OK) {
			free(v);
			return tool_error(cmd, st);
		}
		out->dtype = JALAD_DTYPE_FLOAT32;
		out->ndim = 4;
		out->dims[0] = 1;
		out->dims[1] = pp->channels;
		out->dims[2] = pp->height;
		out->dims[3] = pp->width;
		out->data = v;
		return 0;
	}
	fprintf(stderr, "jalad %s: '%s': unknown input kind (use .pb, .png, .jpg)\n", cmd, path);
	return EXIT_FAIL;
}

void tool_topk(const float *v, int64_t n, int *idx, int k)
{
	/* k is small: insertion into a sorted list; ties keep the lower index */
	int m = 0;
	for (int64_t i = 0; i < n; i++) {
		int p = m < k ? m : k;
		while (p > 0 && v[i] > v[idx[p - 1]])
			p--;
		if (p >= k)
			continue;
		for (int q = (m < k ? m : k - 1); q > p; q--)
			idx[q] = idx[q - 1];
		idx[p] = (int)i;
		if (m < k)
			m++;
	}
	for (int q = m; q < k; q++)
		idx[q] = -1;
}

int tool_argmax(const float *v, int64_t n)
{
	int best = 0;
	for (int64_t i = 1; i < n; i++)
		if (v[i] > v[best])
			best = (int)i;
	return best;
}

uint64_t jalad_now_ns_tool(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
