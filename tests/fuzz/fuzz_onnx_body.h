/*
 * The exercise shared by the ONNX loader's libFuzzer target (fuzz_onnx.c)
 * and the corpus replay test (tests/unit/test_fuzz_replay_onnx.c), so both
 * run the same code on the same bytes.
 *
 * The input is a model file: jalad_model_load_buffer() (parse, constant
 * folding, shape inference, topological order). On success every accessor
 * is asked about every node, tensor and cut, and, when the model is small
 * (tensor bytes, multiply-adds, inputs), a one-thread "ref" session is
 * created and run on deterministic inputs, whole and split at its middle
 * cut, with every output read back.
 */
#ifndef JALAD_FUZZ_ONNX_BODY_H
#define JALAD_FUZZ_ONNX_BODY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jalad/engine.h"

/* Bounds of what is run: a model over them is only loaded and queried. */
#define FUZZ_ONNX_MAX_BYTES ((int64_t)16 << 20) /* all tensors together */
#define FUZZ_ONNX_MAX_FLOPS ((int64_t)20 << 20)
#define FUZZ_ONNX_MAX_INPUTS 8

/* Touch every byte of a tensor the session hands back: ASan sees a view
 * that points outside the arena. */
static unsigned fuzz_onnx_touch(const struct jalad_tensor *t)
{
	int64_t n = jalad_tensor_numel(t);
	size_t es = jalad_dtype_size(t->dtype);
	unsigned acc = 0;
	if (n <= 0 || es == 0 || !t->data)
		return 0;
	const uint8_t *p = t->data;
	for (size_t i = 0; i < (size_t)n * es; i++)
		acc += p[i];
	return acc;
}

/* Deterministic inputs for the model's graph inputs (dims as declared). */
static int fuzz_onnx_inputs(const struct jalad_model *m, struct jalad_tensor *in, int n)
{
	for (int i = 0; i < n; i++) {
		struct jalad_tensor_desc d;
		if (jalad_model_tensor_desc(m, jalad_model_input(m, i), &d) != JALAD_OK)
			return -1;
		in[i].dtype = d.dtype;
		in[i].ndim = d.ndim;
		memcpy(in[i].dims, d.dims, sizeof in[i].dims);
		int64_t numel = jalad_tensor_numel(&in[i]);
		size_t es = jalad_dtype_size(d.dtype);
		if (numel < 0 || es == 0 || numel > (1 << 20))
			return -1;
		uint8_t *p = malloc((size_t)numel * es + 1);
		if (!p)
			return -1;
		in[i].data = p;
		for (int64_t k = 0; k < numel; k++) {
			switch (d.dtype) {
			case JALAD_DTYPE_FLOAT32: ((float *)p)[k] = (float)((k * 7 + i) % 13) * 0.25f - 1.5f; break;
			case JALAD_DTYPE_INT64: ((int64_t *)p)[k] = k % 3; break;
			case JALAD_DTYPE_INT32: ((int32_t *)p)[k] = (int32_t)(k % 3); break;
			default: p[k * (int64_t)es] = (uint8_t)(k % 2); break; /* u8, i8, bool: 0/1 */
			}
		}
	}
	return 0;
}

/* Run the whole graph, then [0, k) and [k, n) through the crossing tensors. */
static void fuzz_onnx_run(const struct jalad_model *m)
{
	int nin = jalad_model_input_count(m), nn = jalad_model_node_count(m);
	if (nin < 0 || nin > FUZZ_ONNX_MAX_INPUTS)
		return;
	struct jalad_tensor in[FUZZ_ONNX_MAX_INPUTS];
	memset(in, 0, sizeof in);
	struct jalad_session *s = NULL;
	struct jalad_session_opts so = { 1, "ref" };
	volatile unsigned sink = 0;
	if (fuzz_onnx_inputs(m, in, nin) != 0 || jalad_session_create(m, &so, &s) != JALAD_OK)
		goto done;
	(void)jalad_session_arena_bytes(s);
	(void)jalad_session_backend(s);
	if (jalad_session_run(s, in, nin) == JALAD_OK) {
		for (int i = 0; i < jalad_model_output_count(m); i++) {
			struct jalad_tensor t;
			if (jalad_session_output(s, i, &t) == JALAD_OK)
				sink += fuzz_onnx_touch(&t);
		}
		/* the second half from the tensors that cross the middle cut */
		int k = nn / 2, ids[16], cnt = 0;
		struct jalad_tensor vals[16];
		if (k > 0 && jalad_model_crossing(m, k, ids, 16, &cnt) == JALAD_OK && cnt <= 16) {
			/* the first half from the graph inputs */
			int in_ids[FUZZ_ONNX_MAX_INPUTS];
			for (int i = 0; i < nin; i++)
				in_ids[i] = jalad_model_input(m, i);
			if (jalad_session_run_range(s, 0, k, in_ids, in, nin) == JALAD_OK) {
				int got = 1;
				for (int i = 0; i < cnt && got; i++)
					got = jalad_session_tensor(s, ids[i], &vals[i]) == JALAD_OK;
				if (got) {
					for (int i = 0; i < cnt; i++)
						sink += fuzz_onnx_touch(&vals[i]);
					/* vals point into the arena the next run reuses: copy */
					struct jalad_tensor cp[16];
					int copied = 0;
					for (; copied < cnt; copied++) {
						cp[copied] = vals[copied];
						size_t b = (size_t)jalad_tensor_numel(&vals[copied]) *
							   jalad_dtype_size(vals[copied].dtype);
						cp[copied].data = malloc(b + 1);
						if (!cp[copied].data)
							break;
						if (b)
							memcpy(cp[copied].data, vals[copied].data, b);
					}
					if (copied == cnt && jalad_session_run_range(s, k, nn, ids, cp, cnt) == JALAD_OK)
						for (int i = 0; i < jalad_model_output_count(m); i++) {
							struct jalad_tensor t;
							if (jalad_session_tensor(s, jalad_model_output(m, i), &t) == JALAD_OK)
								sink += fuzz_onnx_touch(&t);
						}
					for (int i = 0; i < copied; i++)
						free(cp[i].data);
				}
			}
		}
	}
	(void)sink;
done:
	jalad_session_free(s);
	for (int i = 0; i < nin; i++)
		free(in[i].data);
}

/* Ask every accessor about everything; 1 if the model is small enough to run. */
static int fuzz_onnx_query(const struct jalad_model *m)
{
	uint8_t sha[32];
	volatile size_t sink = 0;
	jalad_model_sha256(m, sha);
	for (int i = 0; i < jalad_model_metadata_count(m); i++) {
		const char *key = jalad_model_metadata_key(m, i);
		if (key) {
			sink += strlen(key);
			const char *v = jalad_model_metadata(m, key);
			sink += v ? strlen(v) : 0;
		}
	}
	(void)jalad_model_metadata_key(m, -1);
	(void)jalad_model_metadata_key(m, jalad_model_metadata_count(m));
	(void)jalad_model_metadata(m, "jalad.preprocess");

	int nn = jalad_model_node_count(m), nt = jalad_model_tensor_count(m);
	int64_t flops = 0, bytes = 0;
	for (int i = 0; i < nn; i++) {
		struct jalad_node_info ni;
		if (jalad_model_node_info(m, i, &ni) != JALAD_OK)
			continue;
		sink += strlen(ni.name) + strlen(ni.op_type) + (size_t)ni.n_outputs + (size_t)ni.output;
		if (ni.flops > 0)
			flops = flops > INT64_MAX - ni.flops ? INT64_MAX : flops + ni.flops;
	}
	struct jalad_node_info ni;
	(void)jalad_model_node_info(m, -1, &ni);
	(void)jalad_model_node_info(m, nn, &ni);
	for (int t = 0; t < nt; t++) {
		struct jalad_tensor_desc d;
		if (jalad_model_tensor_desc(m, t, &d) != JALAD_OK)
			continue;
		sink += strlen(d.name);
		int64_t e = (int64_t)jalad_dtype_size(d.dtype);
		for (int a = 0; a < d.ndim && a < JALAD_MAX_DIMS; a++) {
			if (d.dims[a] < 0) {
				e = INT64_MAX;
				break;
			}
			if (d.dims[a] && e > INT64_MAX / d.dims[a]) {
				e = INT64_MAX;
				break;
			}
			e *= d.dims[a];
		}
		bytes = bytes > INT64_MAX - e ? INT64_MAX : bytes + e;
		(void)jalad_model_tensor_relu_only(m, t);
	}
	struct jalad_tensor_desc d;
	(void)jalad_model_tensor_desc(m, -1, &d);
	(void)jalad_model_tensor_desc(m, nt, &d);
	(void)jalad_model_tensor_relu_only(m, -1);
	for (int i = 0; i < jalad_model_input_count(m); i++)
		sink += (size_t)jalad_model_input(m, i);
	for (int i = 0; i < jalad_model_output_count(m); i++)
		sink += (size_t)jalad_model_output(m, i);
	for (int k = 0; k <= nn; k++) {
		int ids[4], cnt = 0;
		if (jalad_model_crossing(m, k, ids, 4, &cnt) == JALAD_OK)
			for (int i = 0; i < cnt && i < 4; i++)
				sink += (size_t)ids[i];
	}
	int cnt;
	(void)jalad_model_crossing(m, -1, NULL, 0, &cnt);
	(void)jalad_model_crossing(m, nn + 1, NULL, 0, &cnt);
	(void)sink;
	return bytes <= FUZZ_ONNX_MAX_BYTES && flops <= FUZZ_ONNX_MAX_FLOPS;
}

/* @return the status of the load (JALAD_OK for a valid model). */
static int fuzz_onnx_one(const uint8_t *data, size_t size)
{
	struct jalad_model *m = NULL;
	struct jalad_load_opts o = { 0 };
	o.max_file_bytes = 1 << 20;
	enum jalad_status st = jalad_model_load_buffer(data, size, &o, &m);
	if (st == JALAD_OK && fuzz_onnx_query(m))
		fuzz_onnx_run(m);
	jalad_model_free(m);
	return st;
}

#endif /* JALAD_FUZZ_ONNX_BODY_H */
