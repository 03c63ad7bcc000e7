/*
 * Engine internals: the graph IR, the operator table and the executor.
 *
 * The ONNX loader (src/onnx) builds a struct jalad_graph; graph.c folds it,
 * orders it and infers shapes with each operator's infer(); session.c plans
 * one arena from tensor lifetimes and runs node ranges with each operator's
 * run(). One file per operator family under backends/ref/, registered in
 * ops.c's table.
 */
#ifndef JALAD_ENGINE_IMPL_H
#define JALAD_ENGINE_IMPL_H

#include <stdint.h>

#include "common/common_impl.h"
#include "common/pool.h"
#include "jalad/engine.h"

/* --------------------------------------------------------------- IR */

enum jalad_attr_type {
	JALAD_ATTR_FLOAT = 1,
	JALAD_ATTR_INT = 2,
	JALAD_ATTR_STRING = 3,
	JALAD_ATTR_TENSOR = 4,
	JALAD_ATTR_FLOATS = 6,
	JALAD_ATTR_INTS = 7,
	JALAD_ATTR_STRINGS = 8,
};

struct jalad_attr {
	char *name;
	enum jalad_attr_type type;
	float f;
	int64_t i;
	char *s;
	int n;              /* element count of floats / ints */
	float *floats;
	int64_t *ints;
	int tensor;         /* JALAD_ATTR_TENSOR: id of a constant tensor */
};

struct jalad_tensor_ir {
	char *name;
	enum jalad_dtype dtype;
	int ndim;           /* -1 while the shape is unknown */
	int64_t dims[JALAD_MAX_DIMS];
	void *data;         /* constants only: owned by the graph, else NULL */
	int producer;       /* node index, -1 for graph inputs and constants */
	int is_input;       /* a non-constant graph input */
	int is_output;      /* a graph output */
	int n_consumers;    /* nodes that read it (after folding) */
	int last_use;       /* last node index that reads it (n for outputs) */
	int relu_readers;   /* 1 if every reader passes only max(x, 0) on (a
			       Relu, or a Clip with a constant lower bound >= 0) */
};

struct jalad_node;

/* One operator. infer() validates inputs and attributes, sets the outputs'
 * dtype and shape, may store parsed parameters in node->params (freed with
 * free()) and may set node->scratch_bytes. run() computes the outputs.
 * flops() is optional. Unsupported attribute values make infer() return
 * JALAD_ERR_UNSUPPORTED with a message naming the attribute. */
struct jalad_op_ctx;
struct jalad_graph;
struct jalad_op_def {
	const char *name;
	enum jalad_status (*infer)(struct jalad_graph *g, struct jalad_node *n);
	enum jalad_status (*run)(struct jalad_op_ctx *ctx);
	int64_t (*flops)(const struct jalad_graph *g, const struct jalad_node *n);
};

struct jalad_node {
	char *name;
	char *op_type;
	const struct jalad_op_def *op;
	int n_in, n_out;
	int *in;            /* tensor ids; -1 for an omitted optional input */
	int *out;           /* tensor ids */
	int n_attr;
	struct jalad_attr *attrs;
	void *params;       /* op-specific, made by infer(), freed with free() */
	size_t scratch_bytes; /* workspace run() needs, set by infer() */
};

struct jalad_graph {
	int n_tensors, cap_tensors;
	struct jalad_tensor_ir *tensors;
	int n_nodes, cap_nodes;
	struct jalad_node *nodes;  /* in topological order once finalized */
	int n_inputs, n_outputs;
	int *inputs, *outputs;     /* tensor ids */
	int opset;                 /* default-domain opset version */
	int n_meta;
	char **meta_keys, **meta_values;
	int *name_slots;           /* open-addressing index: tensor id or -1 */
	int name_cap;              /* power of two, > 2 * n_tensors */
	struct jalad_ivtree *live; /* finalize(): non-constant tensors' lives */
};

/* Views the executor hands to run(). */
struct jalad_op_ctx {
	const struct jalad_graph *g;
	const struct jalad_node *node;
	int n_in, n_out;
	const struct jalad_tensor *in;  /* n_in views; data NULL if omitted */
	struct jalad_tensor *out;       /* n_out views, buffers preallocated */
	void *scratch;                  /* node->scratch_bytes, 64-byte aligned */
	struct jalad_pool *pool;        /* may be NULL: run on the caller */
};

/* --------------------------------------------------------------- intervals */

/* A static set of closed integer intervals [lo, hi], queried for the ones
 * that intersect [a, b] in O(log n + hits) (an augmented search tree laid
 * out on the intervals sorted by lo). Lets arena planning and crossing
 * queries cost what they find instead of a scan of every tensor. */
struct jalad_ivtree;

/* Build over n intervals (copied); ids are 0..n-1, their input order.
 * Free with jalad_ivtree_free(). */
enum jalad_status jalad_ivtree_create(int n, const int *lo, const int *hi, struct jalad_ivtree **out);
void jalad_ivtree_free(struct jalad_ivtree *t);
/* Calls fn(id, user) for every interval intersecting [a, b], in no
 * particular order. */
void jalad_ivtree_query(const struct jalad_ivtree *t, int a, int b, void (*fn)(int id, void *user), void *user);

/* Place n buffers of size[i] bytes live over [start[i], end[i]] in one
 * arena: greedy by decreasing size (ties by index), each at the lowest
 * offset where it overlaps no placed buffer whose life intersects its own.
 * O(n log n + overlapping pairs). */
enum jalad_status jalad_arena_place(int n, const size_t *size, const int *start, const int *end, size_t *off,
				    size_t *total);

/* --------------------------------------------------------------- graph */

enum jalad_status jalad_graph_add_tensor(struct jalad_graph *g, const char *name, int *id);
/* Find a tensor by name; -1 if absent. */
int jalad_graph_find_tensor(const struct jalad_graph *g, const char *name);
enum jalad_status jalad_graph_add_node(struct jalad_graph *g, struct jalad_node **out);
void jalad_graph_free(struct jalad_graph *g);
/* Order, fold constants, infer shapes, compute lifetimes. */
enum jalad_status jalad_graph_finalize(struct jalad_graph *g);

/* Shape of a tensor as a view (data = constant data or NULL). */
void jalad_graph_view(const struct jalad_graph *g, int id, struct jalad_tensor *v);
int64_t jalad_ir_numel(const struct jalad_tensor_ir *t);
size_t jalad_ir_bytes(const struct jalad_tensor_ir *t);

/* Attributes: return the value or def when absent. */
const struct jalad_attr *jalad_attr_find(const struct jalad_node *n, const char *name);
int64_t jalad_attr_int(const struct jalad_node *n, const char *name, int64_t def);
float jalad_attr_float(const struct jalad_node *n, const char *name, float def);
const char *jalad_attr_string(const struct jalad_node *n, const char *name, const char *def);
/* Ints attribute: *count elements at *vals (borrowed), or 0 and NULL. */
void jalad_attr_ints(const struct jalad_node *n, const char *name, const int64_t **vals, int *count);

/* Input/output helpers for infer(): the tensor record of input i (NULL when
 * omitted or out of range) and of output i. */
struct jalad_tensor_ir *jalad_node_input(struct jalad_graph *g, const struct jalad_node *n, int i);
struct jalad_tensor_ir *jalad_node_output(struct jalad_graph *g, const struct jalad_node *n, int i);
/* Set output i's dtype and shape. */
void jalad_node_set_output(struct jalad_graph *g, const struct jalad_node *n, int i,
			   enum jalad_dtype dtype, int ndim, const int64_t *dims);
/* Error helper for infer(): records "node 'name' (Op): <msg>". */
enum jalad_status jalad_node_fail(const struct jalad_node *n, enum jalad_status st,
				  const char *fmt, ...) JALAD_PRINTF(3, 4);

/* Read an int64/int32 constant input as int64 values (for shape-like
 * inputs: Reshape's shape, Slice's starts...). Fails with a clear message
 * if the input is not a constant. *vals is borrowed or points into buf. */
enum jalad_status jalad_node_const_ints(struct jalad_graph *g, const struct jalad_node *n, int i,
					int64_t *buf, int cap, int *count);

/* Broadcast two shapes numpy-style. */
enum jalad_status jalad_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b,
					int *nout, int64_t *out);

/* --------------------------------------------------------------- ops */

/* The operator table (ops.c). NULL if the op is not supported. */
const struct jalad_op_def *jalad_op_lookup(const char *op_type);

/* Run one node on a pool (used for constant folding and by the ref backend). */
enum jalad_status jalad_node_run(const struct jalad_graph *g, const struct jalad_node *n,
				 struct jalad_tensor *ins, struct jalad_tensor *outs,
				 void *scratch, struct jalad_pool *pool);

/* Row-major strides of dims (elements). */
static inline void jalad_strides(int ndim, const int64_t *dims, int64_t *strides)
{
	int64_t s = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		strides[i] = s;
		s *= dims[i];
	}
}

static inline int64_t jalad_numel(int ndim, const int64_t *dims)
{
	int64_t n = 1;
	for (int i = 0; i < ndim; i++)
		n *= dims[i];
	return n;
}

/* --------------------------------------------------------------- model */

struct jalad_model {
	struct jalad_graph g;
	uint8_t sha256[32];
};

/* ONNX loader (src/onnx): parse bytes into g (not yet finalized). */
enum jalad_status jalad_onnx_parse(const void *buf, size_t len, struct jalad_graph *g);



/* --------------------------------------------------------------- backends */

/* A fast backend runs node ranges with its own kernels and layouts. The
 * session keeps every tensor's plain (NCHW, row-major) buffer in its arena:
 * run_range() reads the tensors crossing cut a from views[] and must leave
 * every tensor crossing cut b (graph outputs included when b == n) in
 * views[] in that plain layout. Anything else (blocked layouts, fused
 * operators, reordered weights) is the backend's business, prepared in
 * create() so that run_range() does not allocate. Fusions must not change
 * results across a range boundary: a range may start or end between any two
 * nodes. prof (NULL unless profiling) receives per-node times: see struct
 * jalad_be_prof. */
struct jalad_be_prof {
	uint64_t *ns;         /* per node: nanoseconds, layout reorders included; a
				 fused group's time goes to its first node */
	uint64_t *reorder_ns; /* per node: the part of ns spent in reorders between
				 layouts (into the kernel's layout, back to plain) */
	int *group_end;       /* per node run: the group it headed is [node, end) */
	const char **impl;    /* per node run: the kernel (backend-owned string) */
};
struct jalad_backend {
	const char *name;
	enum jalad_status (*create)(const struct jalad_graph *g, int threads, void **state);
	enum jalad_status (*run_range)(void *state, int a, int b, struct jalad_tensor *views,
				       const struct jalad_be_prof *prof);
	void (*free)(void *state);
};

/* NULL when the backend is unknown or not compiled in. */
const struct jalad_backend *jalad_backend_lookup(const char *name);
/* The default backend name for new sessions ("dnnl" when present). */
const char *jalad_backend_default(void);

/* Operator families, each a NULL-terminated table in its own file under
 * backends/ref/ (ops.c joins them). */
extern const struct jalad_op_def *const jalad_ops_nn[];      /* op_nn_*.c */
extern const struct jalad_op_def *const jalad_ops_tensor[];  /* op_tensor_*.c */
#endif /* JALAD_ENGINE_IMPL_H */
