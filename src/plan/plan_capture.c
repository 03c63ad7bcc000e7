/* One float run kept at every cut: the model runs one node at a time and
 * each activation that crosses some cut is copied out of the session's
 * arena (whose slots later nodes reuse). */
#include <stdlib.h>
#include <string.h>

#include "plan_impl.h"

struct jalad_cut_capture {
	const struct jalad_model *m;
	struct jalad_session *s;
	int n;                          /* nodes; cuts 0..n */
	int *off;                       /* (n + 2) offsets into ids/vals per cut */
	int *ids;                       /* crossing tensor ids, cut by cut */
	struct jalad_tensor *vals;      /* views of the copies, same order */
	int *first_cut;                 /* per tensor: first cut it crosses, -1 never */
	void **copy;                    /* per tensor: the copy, NULL if it never crosses */
	size_t *bytes;                  /* per tensor */
	int n_tensors;
	int ran;
};

void jalad_cut_capture_free(struct jalad_cut_capture *cc)
{
	if (!cc)
		return;
	for (int t = 0; cc->copy && t < cc->n_tensors; t++)
		free(cc->copy[t]);
	free(cc->copy);
	free(cc->bytes);
	free(cc->first_cut);
	free(cc->off);
	free(cc->ids);
	free(cc->vals);
	jalad_session_free(cc->s);
	free(cc);
}

enum jalad_status jalad_cut_capture_create(const struct jalad_model *model, const char *backend,
					   struct jalad_cut_capture **out)
{
	enum jalad_status st;
	*out = NULL;
	JALAD_RETURN_IF(!model, JALAD_ERR_INVALID_ARG, "cut capture: NULL model");
	JALAD_RETURN_IF(jalad_model_input_count(model) != 1, JALAD_ERR_UNSUPPORTED,
			"cut capture: the model has %d inputs, only single-input models are supported",
			jalad_model_input_count(model));
	struct jalad_cut_capture *cc = calloc(1, sizeof *cc);
	JALAD_RETURN_IF(!cc, JALAD_ERR_NOMEM, "cut capture");
	cc->m = model;
	cc->n = jalad_model_node_count(model);
	cc->n_tensors = jalad_model_tensor_count(model);
	size_t nt = (size_t)(cc->n_tensors ? cc->n_tensors : 1);
	cc->off = calloc((size_t)cc->n + 2, sizeof *cc->off);
	cc->first_cut = malloc(nt * sizeof *cc->first_cut);
	cc->copy = calloc(nt, sizeof *cc->copy);
	cc->bytes = calloc(nt, sizeof *cc->bytes);
	if (!cc->off || !cc->first_cut || !cc->copy || !cc->bytes) {
		st = jalad_fail(JALAD_ERR_NOMEM, "cut capture tables");
		goto fail;
	}
	for (size_t t = 0; t < nt; t++)
		cc->first_cut[t] = -1;
	/* Count, then fill, the crossing lists of every cut. */
	int total = 0;
	for (int k = 0; k <= cc->n; k++) {
		int c;
		if ((st = jalad_model_crossing(model, k, NULL, 0, &c)) != JALAD_OK)
			goto fail;
		cc->off[k] = total;
		total += c;
	}
	cc->off[cc->n + 1] = total;
	cc->ids = malloc((size_t)(total ? total : 1) * sizeof *cc->ids);
	cc->vals = calloc((size_t)(total ? total : 1), sizeof *cc->vals);
	if (!cc->ids || !cc->vals) {
		st = jalad_fail(JALAD_ERR_NOMEM, "cut capture lists");
		goto fail;
	}
	for (int k = 0; k <= cc->n; k++) {
		int c, want = cc->off[k + 1] - cc->off[k];
		if ((st = jalad_model_crossing(model, k, cc->ids + cc->off[k], want, &c)) != JALAD_OK)
			goto fail;
		for (int j = cc->off[k]; j < cc->off[k + 1]; j++) {
			int t = cc->ids[j];
			struct jalad_tensor_desc d;
			if ((st = jalad_model_tensor_desc(model, t, &d)) != JALAD_OK)
				goto fail;
			struct jalad_tensor *v = &cc->vals[j];
			v->dtype = d.dtype;
			v->ndim = d.ndim;
			memcpy(v->dims, d.dims, sizeof d.dims);
			if (cc->first_cut[t] < 0) {
				cc->first_cut[t] = k;
				cc->bytes[t] = (size_t)jalad_tensor_numel(v) * jalad_dtype_size(d.dtype);
				cc->copy[t] = malloc(cc->bytes[t] ? cc->bytes[t] : 1);
				if (!cc->copy[t]) {
					st = jalad_fail(JALAD_ERR_NOMEM, "cut capture: %zu bytes for '%s'",
							cc->bytes[t], d.name);
					goto fail;
				}
			}
			v->data = cc->copy[t];
		}
	}
	struct jalad_session_opts so = { .threads = 1, .backend = backend };
	if ((st = jalad_session_create(model, &so, &cc->s)) != JALAD_OK)
		goto fail;
	*out = cc;
	return JALAD_OK;
fail:
	jalad_cut_capture_free(cc);
	return st;
}

enum jalad_status jalad_cut_capture_run(struct jalad_cut_capture *cc, const struct jalad_tensor *input)
{
	int in_id = jalad_model_input(cc->m, 0);
	cc->ran = 0;
	JALAD_RETURN_IF(in_id < 0 || cc->first_cut[in_id] != 0, JALAD_ERR_INTERNAL,
			"cut capture: the input does not cross cut 0");
	const struct jalad_tensor *v0 = NULL;
	for (int j = cc->off[0]; j < cc->off[1]; j++)
		if (cc->ids[j] == in_id)
			v0 = &cc->vals[j];
	JALAD_RETURN_IF(!v0 || input->dtype != v0->dtype || jalad_tensor_numel(input) != jalad_tensor_numel(v0),
			JALAD_ERR_SHAPE, "cut capture: the input does not match the model's input");
	JALAD_RETURN_IF(input->ndim != v0->ndim || memcmp(input->dims, v0->dims, (size_t)v0->ndim * sizeof v0->dims[0]),
			JALAD_ERR_SHAPE, "cut capture: input shape differs from the model's");
	memcpy(cc->copy[in_id], input->data, cc->bytes[in_id]);
	for (int i = 0; i < cc->n; i++) {
		int a = cc->off[i], b = cc->off[i + 1];
		JALAD_FORWARD(jalad_session_run_range(cc->s, i, i + 1, cc->ids + a, cc->vals + a, b - a));
		for (int j = cc->off[i + 1]; j < cc->off[i + 2]; j++) {
			int t = cc->ids[j];
			if (cc->first_cut[t] != i + 1)
				continue;
			struct jalad_tensor view;
			JALAD_FORWARD(jalad_session_tensor(cc->s, t, &view));
			memcpy(cc->copy[t], view.data, cc->bytes[t]);
		}
	}
	cc->ran = 1;
	return JALAD_OK;
}

enum jalad_status jalad_cut_capture_get(const struct jalad_cut_capture *cc, int k, const int **ids,
					const struct jalad_tensor **vals, int *n_out)
{
	JALAD_RETURN_IF(k < 0 || k > cc->n, JALAD_ERR_INVALID_ARG, "cut %d outside 0..%d", k, cc->n);
	*ids = cc->ids + cc->off[k];
	*vals = cc->vals + cc->off[k];
	*n_out = cc->off[k + 1] - cc->off[k];
	return JALAD_OK;
}

enum jalad_status jalad_cut_capture_output(const struct jalad_cut_capture *cc, struct jalad_tensor *out)
{
	JALAD_RETURN_IF(!cc->ran, JALAD_ERR_INVALID_ARG, "cut capture: no run yet");
	int id = jalad_model_output(cc->m, 0);
	for (int j = cc->off[cc->n]; j < cc->off[cc->n + 1]; j++)
		if (cc->ids[j] == id) {
			*out = cc->vals[j];
			return JALAD_OK;
		}
	return jalad_fail(JALAD_ERR_NOT_FOUND, "cut capture: output 0 does not cross cut n");
}

struct jalad_session *jalad_cut_capture_session(struct jalad_cut_capture *cc)
{
	return cc->s;
}
