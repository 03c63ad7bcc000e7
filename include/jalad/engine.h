/*
 * jalad/engine.h - load an ONNX model and run any contiguous part of it.
 *
 * A model is loaded once (weights held once, read-only afterwards), folded
 * (Constant, Identity and shape-only subgraphs are evaluated at load time),
 * shape-inferred and put in one topological order of n nodes. A session runs
 * it: the whole graph, or a node range [a, b) of that order given the tensors
 * that cross into it. Cut k means the edge runs [0, k) and the cloud [k, n);
 * jalad_model_crossing() lists the tensors that cross cut k.
 *
 *     struct jalad_model *m;
 *     struct jalad_session *s;
 *     if (jalad_model_load("net.onnx", NULL, &m) != JALAD_OK) ...
 *     if (jalad_session_create(m, NULL, &s) != JALAD_OK) ...
 *     struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, {1, 1, 28, 28}, pixels };
 *     jalad_session_run(s, &in, 1);
 *     struct jalad_tensor out;
 *     jalad_session_output(s, 0, &out);   // borrowed until the next run
 *     jalad_session_free(s);
 *     jalad_model_free(m);
 *
 * Thread-safety: a model is immutable after loading and may be shared by
 * many sessions on many threads; a session is used by one thread at a time.
 */
#ifndef JALAD_ENGINE_H
#define JALAD_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "jalad/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JALAD_MAX_DIMS 8

/* Element types; the values are ONNX TensorProto.DataType codes. */
enum jalad_dtype {
	JALAD_DTYPE_UNDEFINED = 0,
	JALAD_DTYPE_FLOAT32 = 1,
	JALAD_DTYPE_UINT8 = 2,
	JALAD_DTYPE_INT8 = 3,
	JALAD_DTYPE_INT32 = 6,
	JALAD_DTYPE_INT64 = 7,
	JALAD_DTYPE_BOOL = 9,
};

/* A view of a dense, row-major tensor. data is borrowed unless a function
 * says otherwise. */
struct jalad_tensor {
	enum jalad_dtype dtype;
	int ndim;
	int64_t dims[JALAD_MAX_DIMS];
	void *data;
};

/* Bytes per element of dtype, 0 for unknown types. */
JALAD_API size_t jalad_dtype_size(enum jalad_dtype dtype);
/* Name of a dtype ("float32"). Static storage. */
JALAD_API const char *jalad_dtype_name(enum jalad_dtype dtype);
/* Number of elements of t (1 for a scalar). */
JALAD_API int64_t jalad_tensor_numel(const struct jalad_tensor *t);


/*! Read a serialized ONNX TensorProto (the .pb files of ONNX test cases).
 *  out->data is malloc'd: release it with jalad_tensor_release(). */
JALAD_API enum jalad_status jalad_tensor_read_pb(const char *path, struct jalad_tensor *out);
/*! Parse a TensorProto from memory; same ownership as jalad_tensor_read_pb.
 *  name (may be NULL) receives the tensor's name, truncated to name_cap. */
JALAD_API enum jalad_status jalad_tensor_parse_pb(const void *buf, size_t len, struct jalad_tensor *out,
						  char *name, size_t name_cap);
/*! jalad_tensor_read_pb that also returns the tensor's name. */
JALAD_API enum jalad_status jalad_tensor_read_pb_named(const char *path, struct jalad_tensor *out,
						       char *name, size_t name_cap);
/*! Write t as a TensorProto file (raw_data, little-endian). */
JALAD_API enum jalad_status jalad_tensor_write_pb(const char *path, const struct jalad_tensor *t,
						  const char *name);
/*! Free data a jalad function allocated for t and clear t. NULL is a no-op. */
JALAD_API void jalad_tensor_release(struct jalad_tensor *t);

/* ------------------------------------------------------------------ model */

struct jalad_model;

struct jalad_load_opts {
	/* Graph inputs to treat as constants (for example the int64 "shape"
	 * input of a Reshape in a test case): their values are folded in. */
	int n_consts;
	const char *const *const_names;
	const struct jalad_tensor *consts;
	/* Refuse files larger than this many bytes (0 = 4 GiB). */
	uint64_t max_file_bytes;
};

/*! Load an ONNX model from path (opts may be NULL).
 *  @return JALAD_OK, JALAD_ERR_IO, JALAD_ERR_FORMAT (not ONNX, truncated),
 *  JALAD_ERR_UNSUPPORTED (op, attribute or dtype; jalad_last_error() names
 *  the node), JALAD_ERR_SHAPE, JALAD_ERR_NOT_FOUND (missing input).
 *  *out: free with jalad_model_free(). */
JALAD_API enum jalad_status jalad_model_load(const char *path, const struct jalad_load_opts *opts,
					     struct jalad_model **out);
/*! Same, from a memory buffer (copied as needed; buf may be freed after). */
JALAD_API enum jalad_status jalad_model_load_buffer(const void *buf, size_t len,
						    const struct jalad_load_opts *opts,
						    struct jalad_model **out);
JALAD_API void jalad_model_free(struct jalad_model *model);

/*! SHA-256 of the model file's bytes (both sides of a split compare it). */
JALAD_API void jalad_model_sha256(const struct jalad_model *model, uint8_t out[32]);

/*! Value of a metadata_props key of the ONNX file, NULL if absent.
 *  Owned by the model. */
JALAD_API const char *jalad_model_metadata(const struct jalad_model *model, const char *key);

/*! Number of metadata_props entries, and entry i's key and value (owned by
 *  the model; NULL if i is out of range). */
JALAD_API int jalad_model_metadata_count(const struct jalad_model *model);
JALAD_API const char *jalad_model_metadata_key(const struct jalad_model *model, int i);

/* Number of nodes after folding, i.e. of cuts minus one. */
JALAD_API int jalad_model_node_count(const struct jalad_model *model);

struct jalad_node_info {
	const char *name;     /* owned by the model */
	const char *op_type;  /* ONNX op type, e.g. "Conv" */
	int n_outputs;
	int output;           /* tensor id of the first output */
	int64_t out_bytes;    /* bytes of all outputs */
	int64_t flops;        /* multiply-adds count as 2 */
	int64_t params;       /* constant input elements (weights) */
};
JALAD_API enum jalad_status jalad_model_node_info(const struct jalad_model *model, int node,
						  struct jalad_node_info *info);

struct jalad_tensor_desc {
	const char *name;     /* owned by the model */
	enum jalad_dtype dtype;
	int ndim;
	int64_t dims[JALAD_MAX_DIMS];
};
JALAD_API int jalad_model_tensor_count(const struct jalad_model *model);
JALAD_API enum jalad_status jalad_model_tensor_desc(const struct jalad_model *model, int tensor,
						    struct jalad_tensor_desc *desc);

/* Graph inputs (non-constant) and outputs, as tensor ids. */
JALAD_API int jalad_model_input_count(const struct jalad_model *model);
JALAD_API int jalad_model_input(const struct jalad_model *model, int i);
JALAD_API int jalad_model_output_count(const struct jalad_model *model);
JALAD_API int jalad_model_output(const struct jalad_model *model, int i);

/*! Tensors crossing cut k (0 <= k <= n): made by nodes < k or graph inputs,
 *  used by nodes >= k or graph outputs. Writes up to cap ids into ids and
 *  the total count into *count. */
JALAD_API enum jalad_status jalad_model_crossing(const struct jalad_model *model, int k, int *ids,
						 int cap, int *count);

/*! 1 if only max(x, 0) of tensor matters downstream: it has readers, every
 *  reader is a Relu (or a Clip whose lower bound is a constant >= 0) and it
 *  is not a graph output. A split may then send max(x, 0) without changing
 *  any result, which narrows a quantizer's range (jalad_codec_tensor.relu).
 *  0 otherwise, and for an invalid id. */
JALAD_API int jalad_model_tensor_relu_only(const struct jalad_model *model, int tensor);

/* ---------------------------------------------------------------- session */

struct jalad_session;

struct jalad_session_opts {
	int threads;          /* 0 = all cores */
	const char *backend;  /* "ref", "dnnl", or NULL for the default */
};

/*! Plan the arena and prepare kernels. The model must outlive the session.
 *  *out: free with jalad_session_free(). */
JALAD_API enum jalad_status jalad_session_create(const struct jalad_model *model,
						 const struct jalad_session_opts *opts,
						 struct jalad_session **out);
JALAD_API void jalad_session_free(struct jalad_session *s);
JALAD_API const char *jalad_session_backend(const struct jalad_session *s);

/*! Run the whole graph. inputs[i] matches jalad_model_input(i) (dtype and
 *  shape are checked). Results: jalad_session_output(). */
JALAD_API enum jalad_status jalad_session_run(struct jalad_session *s, const struct jalad_tensor *inputs,
					      int n_inputs);

/*! Run nodes [a, b). in_ids/in_vals give every tensor of
 *  jalad_model_crossing(a) (any order). Afterwards jalad_session_tensor()
 *  reads any tensor crossing cut b. */
JALAD_API enum jalad_status jalad_session_run_range(struct jalad_session *s, int a, int b,
						    const int *in_ids, const struct jalad_tensor *in_vals,
						    int n_in);

/*! Borrowed view of graph output i after a full run (valid until the next
 *  run or the session's free). */
JALAD_API enum jalad_status jalad_session_output(const struct jalad_session *s, int i,
						 struct jalad_tensor *out);
/*! Borrowed view of any tensor (by id) that is live after the last run. */
JALAD_API enum jalad_status jalad_session_tensor(const struct jalad_session *s, int id,
						 struct jalad_tensor *out);

/*! Per-node times of the last run in nanoseconds (0 for nodes not run);
 *  times has jalad_model_node_count() entries. Enabled by
 *  jalad_session_set_profiling(s, 1). */
JALAD_API void jalad_session_set_profiling(struct jalad_session *s, int on);
JALAD_API const uint64_t *jalad_session_node_times(const struct jalad_session *s);

/* How one node ran in the last profiled run. */
struct jalad_node_prof {
	uint64_t ns;          /* nanoseconds, reorders included (= node_times[node]);
				 a fused group's time goes to its first node */
	uint64_t reorder_ns;  /* part of ns spent reordering tensors between
				 layouts (into a kernel's layout, back to plain) */
	int group_end;        /* the node ran fused with nodes (node, group_end):
				 node + 1 when alone, node when it ran inside a
				 group headed by an earlier node, 0 if not run */
	const char *impl;     /* the kernel: "ref" (the plain C reference), or
				 oneDNN's implementation name ("jit:avx512_core",
				 "brg:...", "wino:..."); owned by the session,
				 NULL if not run */
};
/*! Profile of node (0 <= node < jalad_model_node_count()) from the last run
 *  made with profiling on. @return JALAD_OK or JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_session_node_profile(const struct jalad_session *s, int node,
						       struct jalad_node_prof *out);

/* Bytes of the session's activation arena. */
JALAD_API size_t jalad_session_arena_bytes(const struct jalad_session *s);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_ENGINE_H */
