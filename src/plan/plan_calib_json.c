/* Calibration tables: allocation and the versioned JSON form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

#define CALIB_FORMAT "jalad-calibration"

static int bits_valid(int b)
{
	return (b >= 0 && b <= 8) || b == 16;
}

enum jalad_status jalad_calib_create(int n_nodes, const int *bits, const int *per_channel, int n_bits,
				     const enum jalad_coder *coders, int n_coders, struct jalad_calib **out)
{
	*out = NULL;
	JALAD_RETURN_IF(n_nodes < 0 || n_nodes > PLAN_MAX_NODES, JALAD_ERR_INVALID_ARG, "calibration: %d nodes",
			n_nodes);
	JALAD_RETURN_IF(n_bits < 1 || n_bits > JALAD_PLAN_MAX_BITS, JALAD_ERR_INVALID_ARG,
			"calibration: %d bit widths (1..%d)", n_bits, JALAD_PLAN_MAX_BITS);
	JALAD_RETURN_IF(n_coders < 1 || n_coders > JALAD_CODER_COUNT + 1, JALAD_ERR_INVALID_ARG,
			"calibration: %d coders", n_coders);
	for (int i = 0; i < n_bits; i++) {
		int pc = per_channel ? per_channel[i] : 0;
		JALAD_RETURN_IF(!bits_valid(bits[i]), JALAD_ERR_INVALID_ARG,
				"calibration: %d bits (use 1..8, 16, or 0 for float32)", bits[i]);
		JALAD_RETURN_IF(pc != 0 && pc != 1, JALAD_ERR_INVALID_ARG, "calibration: per_channel %d", pc);
		JALAD_RETURN_IF(pc && bits[i] == 0, JALAD_ERR_INVALID_ARG, "calibration: float32 has no channel ranges");
		for (int j = 0; j < i; j++)
			JALAD_RETURN_IF(bits[j] == bits[i] && (per_channel ? per_channel[j] : 0) == pc,
					JALAD_ERR_INVALID_ARG, "calibration: %d bits per %s listed twice", bits[i],
					pc ? "channel" : "tensor");
	}
	for (int i = 0; i < n_coders; i++) {
		JALAD_RETURN_IF(!((int)coders[i] >= 0 && coders[i] < JALAD_CODER_COUNT) && coders[i] != JALAD_CODER_AUTO,
				JALAD_ERR_INVALID_ARG, "calibration: coder %d", (int)coders[i]);
		for (int j = 0; j < i; j++)
			JALAD_RETURN_IF(coders[j] == coders[i], JALAD_ERR_INVALID_ARG,
					"calibration: coder %s listed twice", jalad_coder_name(coders[i]));
	}
	struct jalad_calib *c = calloc(1, sizeof *c);
	JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "calibration");
	c->version = JALAD_CALIB_VERSION;
	c->n_nodes = n_nodes;
	c->n_bits = n_bits;
	memcpy(c->bits, bits, (size_t)n_bits * sizeof *bits);
	for (int i = 0; i < n_bits; i++)
		c->per_channel[i] = per_channel ? per_channel[i] : 0;
	c->n_coders = n_coders;
	memcpy(c->coders, coders, (size_t)n_coders * sizeof *coders);
	size_t ncell = (size_t)n_nodes * (size_t)n_bits;
	c->cuts = calloc((size_t)n_nodes + 1, sizeof *c->cuts);
	c->cells = calloc(ncell ? ncell : 1, sizeof *c->cells);
	c->stats = malloc((ncell ? ncell : 1) * (size_t)n_coders * sizeof *c->stats);
	c->dicts = calloc(ncell ? ncell : 1, sizeof *c->dicts);
	if (!c->cuts || !c->cells || !c->stats || !c->dicts) {
		jalad_calib_free(c);
		return jalad_fail(JALAD_ERR_NOMEM, "calibration of %d nodes", n_nodes);
	}
	for (size_t i = 0; i < (ncell ? ncell : 1) * (size_t)n_coders; i++)
		c->stats[i] = (struct jalad_calib_stats){ -1, -1, -1, -1 };
	c->input_png = (struct jalad_calib_stats){ -1, -1, -1, -1 };
	c->input_jpeg = (struct jalad_calib_stats){ -1, -1, -1, -1 };
	c->input_file = (struct jalad_calib_stats){ -1, -1, -1, -1 };
	c->input_raw_bytes = -1;
	for (int k = 0; k <= n_nodes; k++)
		c->cuts[k].supported = 1;
	*out = c;
	return JALAD_OK;
}

void jalad_calib_free(struct jalad_calib *c)
{
	if (!c)
		return;
	if (c->dicts)
		for (size_t i = 0; i < (size_t)c->n_nodes * (size_t)c->n_bits; i++)
			jalad_codec_dict_free(c->dicts[i]);
	free(c->dicts);
	free(c->cuts);
	free(c->cells);
	free(c->stats);
	free(c->model_file);
	free(c->dataset);
	free(c->backend);
	free(c);
}

int jalad_calib_entry_index(const struct jalad_calib *c, int bits, int per_channel)
{
	for (int i = 0; i < c->n_bits; i++)
		if (c->bits[i] == bits && c->per_channel[i] == (per_channel != 0))
			return i;
	return -1;
}

int jalad_calib_bits_index(const struct jalad_calib *c, int bits)
{
	int i = jalad_calib_entry_index(c, bits, 0);
	return i >= 0 ? i : jalad_calib_entry_index(c, bits, 1);
}

int jalad_calib_coder_index(const struct jalad_calib *c, enum jalad_coder coder)
{
	for (int i = 0; i < c->n_coders; i++)
		if (c->coders[i] == coder)
			return i;
	return -1;
}

enum jalad_status jalad_calib_check_model(const struct jalad_calib *c, const struct jalad_model *model)
{
	uint8_t sha[32];
	char a[65], b[65];
	jalad_model_sha256(model, sha);
	plan_sha_hex(c->model_sha256, a);
	plan_sha_hex(sha, b);
	JALAD_RETURN_IF(memcmp(sha, c->model_sha256, 32) != 0, JALAD_ERR_MISMATCH,
			"calibration is for another model (sha256 %.12s..., the model file is %.12s...)", a, b);
	JALAD_RETURN_IF(c->n_nodes != jalad_model_node_count(model), JALAD_ERR_MISMATCH,
			"calibration has %d nodes, the model %d", c->n_nodes, jalad_model_node_count(model));
	return JALAD_OK;
}

/* ---- writing ------------------------------------------------------------------ */

static int add_stats_obj(cJSON *o, const char *key, const struct jalad_calib_stats *s)
{
	cJSON *x = cJSON_AddObjectToObject(o, key);
	if (!x)
		return -1;
	int bad = !plan_add_num(x, "mean_bytes", s->mean_bytes < 0 ? NAN : s->mean_bytes, 9);
	bad |= !plan_add_num(x, "p95_bytes", s->p95_bytes < 0 ? NAN : s->p95_bytes, 9);
	bad |= !plan_add_num(x, "enc_ms", s->enc_ms < 0 ? NAN : s->enc_ms, 5);
	bad |= !plan_add_num(x, "dec_ms", s->dec_ms < 0 ? NAN : s->dec_ms, 5);
	return bad ? -1 : 0;
}

static int add_cell_obj(cJSON *o, const char *key, const struct jalad_calib_cell *ce)
{
	cJSON *x = cJSON_AddObjectToObject(o, key);
	if (!x)
		return -1;
	int bad = !cJSON_AddNumberToObject(x, "correct", (double)ce->correct);
	bad |= !cJSON_AddNumberToObject(x, "agree", (double)ce->agree);
	return bad ? -1 : 0;
}

/* Per-coder array of one field; null where not applicable. */
static int add_coder_array(const struct jalad_calib *c, cJSON *cell, const char *key, int k, int b, int field,
			   int digits)
{
	cJSON *a = cJSON_AddArrayToObject(cell, key);
	if (!a)
		return -1;
	for (int j = 0; j < c->n_coders; j++) {
		const struct jalad_calib_stats *s = &c->stats[jalad_calib_stats_index(c, k, b, j)];
		double v = field == 0 ? s->mean_bytes : field == 1 ? s->p95_bytes : field == 2 ? s->enc_ms : s->dec_ms;
		cJSON *x;
		if (v < 0 || !isfinite(v)) {
			x = cJSON_CreateNull();
		} else {
			char buf[64];
			snprintf(buf, sizeof buf, "%.*g", digits, v);
			x = cJSON_CreateNumber(strtod(buf, NULL));
		}
		if (!x || !cJSON_AddItemToArray(a, x)) {
			cJSON_Delete(x);
			return -1;
		}
	}
	return 0;
}

enum jalad_status jalad_calib_to_json(const struct jalad_calib *c, char **json)
{
	enum jalad_status st = JALAD_OK;
	char hex[65];
	cJSON *root = cJSON_CreateObject(), *o, *a;
	*json = NULL;
	JALAD_RETURN_IF(!root, JALAD_ERR_NOMEM, "calibration JSON");
	plan_sha_hex(c->model_sha256, hex);
	int bad = plan_add_str(root, "format", CALIB_FORMAT);
	bad |= !cJSON_AddNumberToObject(root, "version", JALAD_CALIB_VERSION);
	if (!bad && (o = cJSON_AddObjectToObject(root, "model"))) {
		bad |= plan_add_str(o, "file", c->model_file);
		bad |= plan_add_str(o, "sha256", hex);
		bad |= !cJSON_AddNumberToObject(o, "nodes", c->n_nodes);
	} else {
		bad = 1;
	}
	if (!bad && (o = cJSON_AddObjectToObject(root, "data"))) {
		bad |= plan_add_str(o, "spec", c->dataset);
		bad |= !cJSON_AddNumberToObject(o, "samples", (double)c->samples);
		bad |= !cJSON_AddNumberToObject(o, "labelled", (double)c->labelled);
		bad |= !cJSON_AddNumberToObject(o, "size_samples", (double)(c->size_samples ? c->size_samples : c->samples));
		bad |= !cJSON_AddNumberToObject(o, "timing_samples", c->timing_samples);
	} else {
		bad = 1;
	}
	if (!bad && (o = cJSON_AddObjectToObject(root, "settings"))) {
		bad |= plan_add_str(o, "backend", c->backend);
		bad |= plan_add_str(o, "quantizer", "minmax");
		bad |= !cJSON_AddTrueToObject(o, "relu_ranges");
		bad |= !cJSON_AddTrueToObject(o, "crc");
		bad |= plan_add_str(o, "shared_dict_sizes", "2-fold (even/odd samples)");
	} else {
		bad = 1;
	}
	if (!bad && (a = cJSON_AddArrayToObject(root, "bits"))) {
		for (int i = 0; i < c->n_bits && !bad; i++) {
			cJSON *x = cJSON_CreateNumber(c->bits[i]);
			bad |= !x || !cJSON_AddItemToArray(a, x);
		}
	} else {
		bad = 1;
	}
	if (!bad && (a = cJSON_AddArrayToObject(root, "per_channel"))) {
		for (int i = 0; i < c->n_bits && !bad; i++) {
			cJSON *x = cJSON_CreateBool(c->per_channel[i]);
			bad |= !x || !cJSON_AddItemToArray(a, x);
		}
	} else {
		bad = 1;
	}
	if (!bad && (a = cJSON_AddArrayToObject(root, "coders"))) {
		for (int i = 0; i < c->n_coders && !bad; i++) {
			cJSON *x = cJSON_CreateString(jalad_coder_name(c->coders[i]));
			bad |= !x || !cJSON_AddItemToArray(a, x);
		}
	} else {
		bad = 1;
	}
	if (!bad && (o = cJSON_AddObjectToObject(root, "float"))) {
		bad |= !cJSON_AddNumberToObject(o, "correct", (double)c->float_correct);
		bad |= !plan_add_num(o, "accuracy", c->float_accuracy, 8);
	} else {
		bad = 1;
	}
	if (!bad && (o = cJSON_AddObjectToObject(root, "input"))) {
		bad |= !cJSON_AddNumberToObject(o, "raw_bytes", (double)c->input_raw_bytes);
		bad |= add_stats_obj(o, "png", &c->input_png);
		if (!bad && c->u8_measured)
			bad |= add_cell_obj(o, "u8", &c->input_u8);
		if (!bad && c->jpeg_quality > 0) {
			bad |= add_stats_obj(o, "jpeg", &c->input_jpeg);
			cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "jpeg");
			bad |= !j || !cJSON_AddNumberToObject(j, "quality", c->jpeg_quality);
			bad |= !j || !cJSON_AddNumberToObject(j, "correct", (double)c->input_jpeg_acc.correct);
			bad |= !j || !cJSON_AddNumberToObject(j, "agree", (double)c->input_jpeg_acc.agree);
		}
		if (!bad && c->input_file.mean_bytes >= 0)
			bad |= add_stats_obj(o, "file", &c->input_file);
	} else {
		bad = 1;
	}
	cJSON *cuts = bad ? NULL : cJSON_AddArrayToObject(root, "cuts");
	bad |= !cuts;
	for (int k = 0; k <= c->n_nodes && !bad; k++) {
		const struct jalad_calib_cut *cut = &c->cuts[k];
		cJSON *co = cJSON_CreateObject();
		if (!co || !cJSON_AddItemToArray(cuts, co)) {
			cJSON_Delete(co);
			bad = 1;
			break;
		}
		bad |= !cJSON_AddNumberToObject(co, "cut", k);
		bad |= !cJSON_AddBoolToObject(co, "supported", cut->supported);
		if (cut->skipped)
			bad |= !cJSON_AddBoolToObject(co, "skipped", 1);
		bad |= !cJSON_AddNumberToObject(co, "tensors", cut->n_tensors);
		bad |= !cJSON_AddNumberToObject(co, "values", (double)cut->values);
		if (k == c->n_nodes || !cut->supported || bad)
			continue;
		cJSON *cells = cJSON_AddArrayToObject(co, "cells");
		bad |= !cells;
		for (int b = 0; b < c->n_bits && !bad; b++) {
			const struct jalad_calib_cell *ce = &c->cells[jalad_calib_cell_index(c, k, b)];
			cJSON *x = cJSON_CreateObject();
			if (!x || !cJSON_AddItemToArray(cells, x)) {
				cJSON_Delete(x);
				bad = 1;
				break;
			}
			bad |= !cJSON_AddNumberToObject(x, "bits", c->bits[b]);
			bad |= !cJSON_AddBoolToObject(x, "per_channel", c->per_channel[b]);
			bad |= !cJSON_AddNumberToObject(x, "correct", (double)ce->correct);
			bad |= !cJSON_AddNumberToObject(x, "agree", (double)ce->agree);
			bad |= !plan_add_num(x, "accuracy", ce->accuracy, 8);
			bad |= !plan_add_num(x, "agreement", ce->agreement, 8);
			bad |= add_coder_array(c, x, "mean_bytes", k, b, 0, 9);
			bad |= add_coder_array(c, x, "p95_bytes", k, b, 1, 9);
			bad |= add_coder_array(c, x, "enc_ms", k, b, 2, 5);
			bad |= add_coder_array(c, x, "dec_ms", k, b, 3, 5);
			const struct jalad_codec_dict *d = c->dicts[jalad_calib_cell_index(c, k, b)];
			if (d && !bad) {
				uint8_t raw[JALAD_CODEC_DICT_MAX_BYTES];
				size_t len;
				char *b64 = NULL;
				if ((st = jalad_codec_dict_save(d, raw, sizeof raw, &len)) != JALAD_OK ||
				    (st = plan_base64_encode(raw, len, &b64)) != JALAD_OK) {
					cJSON_Delete(root);
					return st;
				}
				bad |= plan_add_str(x, "dict", b64);
				free(b64);
			}
		}
	}
	if (bad)
		st = jalad_fail(JALAD_ERR_NOMEM, "calibration JSON");
	else
		st = plan_json_print(root, json);
	cJSON_Delete(root);
	return st;
}

enum jalad_status jalad_calib_save(const struct jalad_calib *c, const char *path)
{
	char *json;
	JALAD_FORWARD(jalad_calib_to_json(c, &json));
	enum jalad_status st = plan_write_file(path, json, strlen(json));
	free(json);
	return st;
}

/* ---- reading ------------------------------------------------------------------ */

/* A per-coder array: numbers >= 0 or null (-1). */
static enum jalad_status get_coder_array(const char *what, const cJSON *o, const char *key, int nc, double *v)
{
	const cJSON *a, *x;
	JALAD_FORWARD(plan_get_arr(what, o, key, &a));
	JALAD_RETURN_IF(cJSON_GetArraySize(a) != nc, JALAD_ERR_FORMAT, "%s: \"%s\" has %d entries for %d coders",
			what, key, cJSON_GetArraySize(a), nc);
	int j = 0;
	cJSON_ArrayForEach(x, a)
	{
		if (cJSON_IsNull(x)) {
			v[j++] = -1;
			continue;
		}
		JALAD_RETURN_IF(!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble < 0 ||
					x->valuedouble > 1e15,
				JALAD_ERR_FORMAT, "%s: \"%s\"[%d] is not a number >= 0 or null", what, key, j);
		v[j++] = x->valuedouble;
	}
	return JALAD_OK;
}

static enum jalad_status get_stats_obj(const char *what, const cJSON *o, const char *key,
				       struct jalad_calib_stats *s)
{
	const cJSON *x;
	JALAD_FORWARD(plan_get_obj(what, o, key, &x));
	const char *keys[4] = { "mean_bytes", "p95_bytes", "enc_ms", "dec_ms" };
	double *dst[4] = { &s->mean_bytes, &s->p95_bytes, &s->enc_ms, &s->dec_ms };
	for (int i = 0; i < 4; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, keys[i]);
		if (!v || cJSON_IsNull(v)) {
			*dst[i] = -1;
			continue;
		}
		JALAD_FORWARD(plan_get_num(what, x, keys[i], 0, 1e15, dst[i]));
	}
	return JALAD_OK;
}

/* An accuracy {correct, agree} of an input payload. */
static enum jalad_status get_cell_obj(const struct jalad_calib *c, const cJSON *x, const char *what,
				      struct jalad_calib_cell *ce)
{
	int64_t v;
	JALAD_FORWARD(plan_get_int(what, x, "correct", 0, (int64_t)c->labelled, &v));
	ce->correct = (uint64_t)v;
	JALAD_FORWARD(plan_get_int(what, x, "agree", 0, (int64_t)c->samples, &v));
	ce->agree = (uint64_t)v;
	ce->agreement = (double)ce->agree / (double)c->samples;
	ce->accuracy = c->labelled ? (double)ce->correct / (double)c->labelled : ce->agreement;
	return JALAD_OK;
}

/* The optional input payloads of version 4: u8 accuracy, JPEG, file. */
static enum jalad_status parse_input_extra(struct jalad_calib *c, const cJSON *input)
{
	const cJSON *x;
	int64_t v;
	if ((x = cJSON_GetObjectItemCaseSensitive(input, "u8"))) {
		JALAD_RETURN_IF(!cJSON_IsObject(x), JALAD_ERR_FORMAT, "calibration: input.u8 is not an object");
		JALAD_FORWARD(get_cell_obj(c, x, "calibration: input.u8", &c->input_u8));
		c->u8_measured = 1;
	}
	if ((x = cJSON_GetObjectItemCaseSensitive(input, "jpeg"))) {
		JALAD_FORWARD(get_stats_obj("calibration: input", input, "jpeg", &c->input_jpeg));
		JALAD_FORWARD(plan_get_int("calibration: input.jpeg", x, "quality", 1, 100, &v));
		c->jpeg_quality = (int)v;
		JALAD_FORWARD(get_cell_obj(c, x, "calibration: input.jpeg", &c->input_jpeg_acc));
	}
	if (cJSON_GetObjectItemCaseSensitive(input, "file"))
		JALAD_FORWARD(get_stats_obj("calibration: input", input, "file", &c->input_file));
	return JALAD_OK;
}

static enum jalad_status parse_cell(struct jalad_calib *c, const cJSON *x, int k, int b)
{
	char what[80];
	int64_t v;
	double arr[4][JALAD_CODER_COUNT + 1];
	snprintf(what, sizeof what, "calibration: cut %d, cell %d", k, b);
	JALAD_RETURN_IF(!cJSON_IsObject(x), JALAD_ERR_FORMAT, "%s is not an object", what);
	JALAD_FORWARD(plan_get_int(what, x, "bits", c->bits[b], c->bits[b], &v));
	const cJSON *pc = cJSON_GetObjectItemCaseSensitive(x, "per_channel");
	JALAD_RETURN_IF(!cJSON_IsBool(pc) || cJSON_IsTrue(pc) != c->per_channel[b], JALAD_ERR_FORMAT,
			"%s: \"per_channel\" must be %s like entry %d of \"per_channel\"", what,
			c->per_channel[b] ? "true" : "false", b);
	JALAD_FORWARD(get_cell_obj(c, x, what, &c->cells[jalad_calib_cell_index(c, k, b)]));
	JALAD_FORWARD(get_coder_array(what, x, "mean_bytes", c->n_coders, arr[0]));
	JALAD_FORWARD(get_coder_array(what, x, "p95_bytes", c->n_coders, arr[1]));
	JALAD_FORWARD(get_coder_array(what, x, "enc_ms", c->n_coders, arr[2]));
	JALAD_FORWARD(get_coder_array(what, x, "dec_ms", c->n_coders, arr[3]));
	for (int j = 0; j < c->n_coders; j++) {
		struct jalad_calib_stats *s = &c->stats[jalad_calib_stats_index(c, k, b, j)];
		*s = (struct jalad_calib_stats){ arr[0][j], arr[1][j], arr[2][j], arr[3][j] };
		int have = (s->mean_bytes >= 0) + (s->p95_bytes >= 0);
		JALAD_RETURN_IF(have == 1, JALAD_ERR_FORMAT, "%s: coder %s has only one of mean_bytes and p95_bytes",
				what, jalad_coder_name(c->coders[j]));
	}
	char *b64 = NULL;
	/* base64 of the largest dictionary (2-d tables at c = 4: 8213 bytes) */
	JALAD_FORWARD(plan_get_str_max(what, x, "dict", 0, 4 * ((JALAD_CODEC_DICT_MAX_BYTES + 2) / 3), &b64));
	if (b64) {
		uint8_t *raw = NULL;
		size_t len = 0;
		enum jalad_status st = plan_base64_decode(b64, &raw, &len);
		free(b64);
		if (st == JALAD_OK)
			st = jalad_codec_dict_load(raw, len, &c->dicts[jalad_calib_cell_index(c, k, b)]);
		free(raw);
		if (st != JALAD_OK) {
			jalad_error_prefix("%s: \"dict\": ", what);
			return st;
		}
		JALAD_RETURN_IF(jalad_codec_dict_bits(c->dicts[jalad_calib_cell_index(c, k, b)]) != c->bits[b],
				JALAD_ERR_FORMAT, "%s: the dictionary is for %d bits, the cell for %d", what,
				jalad_codec_dict_bits(c->dicts[jalad_calib_cell_index(c, k, b)]), c->bits[b]);
	}
	/* huffman-2d sizes promise a dictionary with 2-d tables (c = 1..4). */
	int j2 = jalad_calib_coder_index(c, JALAD_CODER_HUFFMAN_2D);
	if (j2 >= 0 && c->stats[jalad_calib_stats_index(c, k, b, j2)].mean_bytes >= 0) {
		const struct jalad_codec_dict *d = c->dicts[jalad_calib_cell_index(c, k, b)];
		JALAD_RETURN_IF(c->bits[b] < 1 || c->bits[b] > JALAD_CODEC_2D_MAX_BITS || !d ||
					!jalad_codec_dict_has_2d(d),
				JALAD_ERR_FORMAT, "%s: huffman-2d has sizes but the cell has no dictionary with 2-d tables "
				"(c = 1..%d)", what, JALAD_CODEC_2D_MAX_BITS);
	}
	return JALAD_OK;
}

static enum jalad_status parse_tree(const cJSON *root, struct jalad_calib **out)
{
	const char *W = "calibration";
	enum jalad_status st;
	const cJSON *model, *data, *settings, *fl, *input, *abits, *apc, *acoders, *cuts, *x;
	int bits[JALAD_PLAN_MAX_BITS], pcs[JALAD_PLAN_MAX_BITS], nb = 0, npc = 0, nc = 0;
	enum jalad_coder coders[JALAD_CODER_COUNT + 1];
	int64_t n, v;
	struct jalad_calib *c = NULL;
	if ((st = plan_check_header(W, root, CALIB_FORMAT, JALAD_CALIB_VERSION)) != JALAD_OK) {
		const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
		/* Older tables: sizes of another meaning, or payloads missing. */
		if (st == JALAD_ERR_UNSUPPORTED && cJSON_IsNumber(ver) && ver->valuedouble >= 1 &&
		    ver->valuedouble < JALAD_CALIB_VERSION && ver->valuedouble == (int)ver->valuedouble)
			return jalad_fail(JALAD_ERR_UNSUPPORTED,
					  "calibration: format version %d, this jalad reads version %d (%s): re-run "
					  "jalad calibrate",
					  (int)ver->valuedouble, JALAD_CALIB_VERSION,
					  ver->valuedouble >= 3 ? "version 3 tables lack the accuracy of the 8-bit input "
								  "and the JPEG and file payloads"
								: "older tables lack huffman-2d and size auto without it");
		return st;
	}
	JALAD_FORWARD(plan_get_obj(W, root, "model", &model));
	JALAD_FORWARD(plan_get_obj(W, root, "data", &data));
	JALAD_FORWARD(plan_get_obj(W, root, "settings", &settings));
	JALAD_FORWARD(plan_get_obj(W, root, "float", &fl));
	JALAD_FORWARD(plan_get_obj(W, root, "input", &input));
	JALAD_FORWARD(plan_get_arr(W, root, "bits", &abits));
	JALAD_FORWARD(plan_get_arr(W, root, "per_channel", &apc));
	JALAD_FORWARD(plan_get_arr(W, root, "coders", &acoders));
	JALAD_FORWARD(plan_get_arr(W, root, "cuts", &cuts));
	JALAD_FORWARD(plan_get_int(W, model, "nodes", 0, PLAN_MAX_NODES, &n));
	JALAD_RETURN_IF(cJSON_GetArraySize(abits) < 1 || cJSON_GetArraySize(abits) > JALAD_PLAN_MAX_BITS,
			JALAD_ERR_FORMAT, "calibration: \"bits\" must list 1..%d widths", JALAD_PLAN_MAX_BITS);
	cJSON_ArrayForEach(x, abits)
	{
		JALAD_RETURN_IF(!cJSON_IsNumber(x) || !bits_valid((int)x->valuedouble) ||
					x->valuedouble != (int)x->valuedouble,
				JALAD_ERR_FORMAT, "calibration: \"bits\"[%d] must be 0..8 or 16", nb);
		bits[nb++] = (int)x->valuedouble;
	}
	JALAD_RETURN_IF(cJSON_GetArraySize(apc) != nb, JALAD_ERR_FORMAT,
			"calibration: \"per_channel\" has %d entries, \"bits\" %d", cJSON_GetArraySize(apc), nb);
	cJSON_ArrayForEach(x, apc)
	{
		JALAD_RETURN_IF(!cJSON_IsBool(x), JALAD_ERR_FORMAT, "calibration: \"per_channel\"[%d] is not a boolean",
				npc);
		pcs[npc++] = cJSON_IsTrue(x);
	}
	JALAD_RETURN_IF(cJSON_GetArraySize(acoders) < 1 || cJSON_GetArraySize(acoders) > JALAD_CODER_COUNT + 1,
			JALAD_ERR_FORMAT, "calibration: \"coders\" must list 1..%d coders", JALAD_CODER_COUNT + 1);
	cJSON_ArrayForEach(x, acoders)
	{
		JALAD_RETURN_IF(!cJSON_IsString(x) || jalad_coder_parse(x->valuestring, &coders[nc]) != JALAD_OK,
				JALAD_ERR_FORMAT, "calibration: \"coders\"[%d] is not a coder name", nc);
		nc++;
	}
	JALAD_RETURN_IF(cJSON_GetArraySize(cuts) != n + 1, JALAD_ERR_FORMAT,
			"calibration: %lld nodes need %lld cuts, \"cuts\" has %d", (long long)n, (long long)n + 1,
			cJSON_GetArraySize(cuts));
	if ((st = jalad_calib_create((int)n, bits, pcs, nb, coders, nc, &c)) != JALAD_OK) {
		jalad_error_prefix("calibration: ");
		return st;
	}
	if ((st = plan_get_sha(W, model, c->model_sha256)) != JALAD_OK ||
	    (st = plan_get_str(W, model, "file", 0, &c->model_file)) != JALAD_OK ||
	    (st = plan_get_str(W, data, "spec", 0, &c->dataset)) != JALAD_OK ||
	    (st = plan_get_str(W, settings, "backend", 0, &c->backend)) != JALAD_OK)
		goto fail;
	{
		char *q = NULL;
		if ((st = plan_get_str(W, settings, "quantizer", 1, &q)) != JALAD_OK)
			goto fail;
		if (strcmp(q, "minmax") != 0) {
			st = jalad_fail(JALAD_ERR_UNSUPPORTED, "calibration: unknown quantizer \"%s\"", q);
			free(q);
			goto fail;
		}
		free(q);
	}
	if ((st = plan_get_int(W, data, "samples", 1, INT64_C(1) << 40, &v)) != JALAD_OK)
		goto fail;
	c->samples = (uint64_t)v;
	if ((st = plan_get_int(W, data, "labelled", 0, (int64_t)c->samples, &v)) != JALAD_OK)
		goto fail;
	c->labelled = (uint64_t)v;
	if ((st = plan_get_int(W, data, "timing_samples", 0, (int64_t)c->samples, &v)) != JALAD_OK)
		goto fail;
	c->timing_samples = (int)v;
	if ((st = plan_get_int(W, data, "size_samples", 1, (int64_t)c->samples, &v)) != JALAD_OK)
		goto fail;
	c->size_samples = (uint64_t)v;
	if ((st = plan_get_int(W, fl, "correct", 0, (int64_t)c->labelled, &v)) != JALAD_OK)
		goto fail;
	c->float_correct = (uint64_t)v;
	c->float_accuracy = c->labelled ? (double)c->float_correct / (double)c->labelled : 1.0;
	if ((st = plan_get_int(W, input, "raw_bytes", -1, INT64_C(1) << 40, &c->input_raw_bytes)) != JALAD_OK ||
	    (st = get_stats_obj(W, input, "png", &c->input_png)) != JALAD_OK ||
	    (st = parse_input_extra(c, input)) != JALAD_OK)
		goto fail;
	int k = 0;
	cJSON_ArrayForEach(x, cuts)
	{
		char what[64];
		snprintf(what, sizeof what, "calibration: cut %d", k);
		struct jalad_calib_cut *cut = &c->cuts[k];
		const cJSON *cells, *sup;
		if (!cJSON_IsObject(x)) {
			st = jalad_fail(JALAD_ERR_FORMAT, "%s is not an object", what);
			goto fail;
		}
		if ((st = plan_get_int(what, x, "cut", k, k, &v)) != JALAD_OK)
			goto fail;
		sup = cJSON_GetObjectItemCaseSensitive(x, "supported");
		if (!cJSON_IsBool(sup)) {
			st = jalad_fail(JALAD_ERR_FORMAT, "%s: \"supported\" must be true or false", what);
			goto fail;
		}
		cut->supported = cJSON_IsTrue(sup);
		const cJSON *skp = cJSON_GetObjectItemCaseSensitive(x, "skipped");
		if (skp && !cJSON_IsBool(skp)) {
			st = jalad_fail(JALAD_ERR_FORMAT, "%s: \"skipped\" must be true or false", what);
			goto fail;
		}
		cut->skipped = cJSON_IsTrue(skp);
		if (cut->skipped)
			cut->supported = 0;
		if ((st = plan_get_int(what, x, "tensors", 0, 1 << 20, &v)) != JALAD_OK)
			goto fail;
		cut->n_tensors = (int)v;
		if ((st = plan_get_int(what, x, "values", 0, INT64_C(1) << 50, &cut->values)) != JALAD_OK)
			goto fail;
		if (k < n && cut->supported) {
			if ((st = plan_get_arr(what, x, "cells", &cells)) != JALAD_OK)
				goto fail;
			if (cJSON_GetArraySize(cells) != nb) {
				st = jalad_fail(JALAD_ERR_FORMAT, "%s: %d cells for %d bit widths", what,
						cJSON_GetArraySize(cells), nb);
				goto fail;
			}
			int b = 0;
			const cJSON *ce;
			cJSON_ArrayForEach(ce, cells)
			{
				if ((st = parse_cell(c, ce, k, b)) != JALAD_OK)
					goto fail;
				b++;
			}
		}
		k++;
	}
	*out = c;
	return JALAD_OK;
fail:
	jalad_calib_free(c);
	return st;
}

enum jalad_status jalad_calib_parse(const char *json, size_t len, struct jalad_calib **out)
{
	cJSON *root;
	*out = NULL;
	JALAD_FORWARD(plan_json_parse("calibration", json, len, &root));
	enum jalad_status st = parse_tree(root, out);
	cJSON_Delete(root);
	return st;
}

enum jalad_status jalad_calib_load(const char *path, struct jalad_calib **out)
{
	char *buf;
	size_t len;
	*out = NULL;
	JALAD_FORWARD(plan_read_file(path, PLAN_MAX_FILE_BYTES, &buf, &len));
	enum jalad_status st = jalad_calib_parse(buf, len, out);
	free(buf);
	if (st != JALAD_OK)
		jalad_error_prefix("%s: ", path);
	return st;
}
