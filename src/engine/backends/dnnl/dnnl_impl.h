/*
 * The oneDNN backend's internals (see dnnl_backend.c for the design).
 *
 * create() works in four passes over the graph:
 *   1. units   every node gets its own unit: a oneDNN primitive with its
 *              input reorders (dnnl_ops.c), or a fallback to the reference
 *              kernel in plain layout. Each unit's arguments are symbolic
 *              references (a tensor's home buffer, a temporary, a prepared
 *              memory) because no buffer exists yet.
 *   2. fusion  Conv/Gemm followed by an activation and/or a residual Add,
 *              and a 1x1 Conv followed by a depthwise one, get a second,
 *              fused unit (post-ops) used only when the whole group runs
 *              inside one range (dnnl_fuse.c).
 *   3. storage every tensor gets a home: the session's plain view, a slot
 *              of this backend's arena (one per alias set: an in-place sum
 *              and its operand, a view and what it views), or constant
 *              data; the arena is planned from lifetimes (dnnl_backend.c).
 *   4. binding memory objects are made on the homes and the argument lists
 *              are filled in, so run_range() only sets view pointers and
 *              executes.
 *
 * Size. Per node the state holds a unit with its steps and arguments
 * (a few hundred bytes) and a memory object per tensor, nothing more:
 * memory descriptors (696 bytes each) are interned once per state
 * (tensors, arguments and temps hold an index), and a primitive is made
 * once per distinct op descriptor, post-ops and thread count and shared by
 * every node that asks for it (a primitive runs on whatever memories it is
 * given). A 100k-node chain of Add and Relu makes 2 primitives.
 */
#ifndef JALAD_DNNL_IMPL_H
#define JALAD_DNNL_IMPL_H

#include <dnnl.h>

#include "engine/engine_impl.h"

/* Where a tensor's home buffer lives. */
enum dn_store {
	DN_STORE_NONE = 0, /* not a float32 tensor oneDNN can hold */
	DN_STORE_VIEW,     /* the session's plain buffer (views[t].data) */
	DN_STORE_ARENA,    /* a slot of this backend's arena, in home_md */
	DN_STORE_CONST,    /* graph constant data, plain */
};

struct dn_tensor {
	int f32;                     /* float32 with >= 1 element: oneDNN can hold it */
	enum dn_store store;
	int native_out;              /* made by a native unit (home_md chosen by it) */
	int plain_consumer;          /* a fallback node reads it (needs the view) */
	int group_out;               /* written early by a fused group's head */
	int alias;                   /* alias-set root (tensor id): shares its home */
	size_t home_off;             /* bytes from the alias set's buffer start to this
					tensor's home (a Slice's view of its input) */
	int is_view;                 /* its home is a view into another's (Reshape, Slice) */
	int viewed;                  /* another tensor's home is a view into this one's:
					neither is ever overwritten in place */
	int start, end;              /* live over node indices [start, end] */
	int slot;                    /* arena slot, -1 */
	int home_md;                 /* layout of the home buffer (md id, dn_md()), f32 only */
	int plain_md;                /* row-major (md id), f32 only */
	dnnl_memory_t home;          /* memory on the home buffer (home_md) */
	dnnl_memory_t view;          /* plain memory on the session view */
	int to_plain, from_plain;    /* reorder primitive ids (home <-> view), -1 */
};

/* A symbolic argument, resolved to a memory object in pass 4. */
enum dn_ref_kind {
	DN_REF_HOME = 1, /* tensor id's home buffer, seen through md */
	DN_REF_TEMP,     /* unit temporary id, in md */
	DN_REF_MEM,      /* a memory made in pass 1 (weights, constants) */
};

struct dn_ref {
	enum dn_ref_kind kind;
	int id;                      /* tensor or temp id */
	int md;                      /* md id (dn_md()), HOME and TEMP */
	size_t off;                  /* HOME and TEMP: bytes from the buffer's start
					(an offset taken out of md: oneDNN's fast
					reorder kernels want offset0 0) */
	dnnl_memory_t mem;           /* DN_REF_MEM: owned by the backend's list */
};

/* A C kernel a step runs instead of a primitive (dnnl_kern.c). */
enum dn_kern {
	DN_KERN_NONE = 0,
	DN_KERN_SILU,                /* y = x * sigmoid(x) */
};

struct dn_step {
	int prim;                    /* primitive id, -1 for a kernel step */
	enum dn_kern kern;           /* the kernel of a step with prim -1: reads
					its DNNL_ARG_SRC, writes its DNNL_ARG_DST
					(may be the same buffer), count floats */
	int64_t count;
	int nargs, cap;
	int *arg;                    /* DNNL_ARG_* */
	struct dn_ref *ref;
	dnnl_exec_arg_t *exec;       /* filled in pass 4 */
};

/* The op descriptor of a Conv or Gemm unit with its layouts made concrete,
 * kept so that fusion can make the same primitive with post-ops. */
union dn_opdesc {
	dnnl_convolution_desc_t conv;
	dnnl_inner_product_desc_t ip;
};

struct dn_unit {
	int first, end;              /* nodes [first, end) */
	int fallback;                /* run the reference kernel on views */
	int pooled;                  /* fallback: worth the thread pool */
	int nthr;                    /* OpenMP threads it was made for and runs on */
	int nsteps, cap;
	struct dn_step *step;        /* input reorders, then the main primitive, last */
	int out;                     /* the tensor the unit leaves in its home (native), -1 */
	const char *impl;            /* oneDNN implementation of the main step */
	const union dn_opdesc *od;   /* a Conv/Gemm unit's descriptor (borrowed from its
					main primitive's dn_prim.od), else NULL: only those fuse */
};

/* A weight reorder queued at build time, run by dn_weights_run(). */
struct dn_wjob {
	dnnl_primitive_desc_t pd;    /* the primitive is made where it runs */
	dnnl_memory_t src;           /* on the model's constant (owned here) */
	dnnl_memory_t dst;           /* in s->mems */
	size_t bytes;                /* the destination's: the job's cost */
	int wino;                    /* made by dn_wino_weights(), not pd */
	const float *data;           /* the constant, dense oihw (wino) */
	dnnl_memory_desc_t user, want;
};

struct dn_temp {
	int md;                      /* md id */
	int node;                    /* live only while this node runs */
	int slot;
};

struct dn_slot {
	size_t size, off;
	int start, end;
	int split_only;              /* holds only tensors inside fused groups: a
					whole run never touches it */
};

struct dn_viewmem {
	dnnl_memory_t mem;           /* memory whose handle follows views[t] */
	int t;
	size_t off;                  /* bytes from views[t].data */
	void *cur;
};

struct dn_prim {
	dnnl_primitive_t p;          /* made by dn_prim_ready(), NULL before */
	dnnl_primitive_desc_t pd;    /* kept for queries (impl names, layouts) */
	int keep_pd;                 /* keep pd once p is made */
	unsigned char *key;          /* what it was made from, for sharing (owned), or NULL */
	size_t key_len;
	uint64_t hash;               /* of key */
	union dn_opdesc *od;         /* Conv/Gemm: the descriptor with concrete layouts,
					made once (owned), NULL */
	int reorder;                 /* a layout reorder (profiles count it apart) */
};

/* Interned memory descriptors, by id. Kept in blocks that never move, so a
 * pointer from dn_md() stays valid for the state's life. */
#define DN_MD_BLOCK 256
struct dn_mdtab {
	dnnl_memory_desc_t **blk;    /* blocks of DN_MD_BLOCK descriptors */
	int n, nblk;
	int *slot;                   /* open addressing: id + 1, 0 empty */
	int cap;                     /* slots, a power of two */
};

struct dn_state {
	const struct jalad_graph *g;
	int threads;
	int nthr;                    /* OpenMP threads of what is being made now */
	dnnl_engine_t eng;
	dnnl_stream_t strm;

	struct dn_tensor *t;         /* per tensor */
	struct dn_unit **unit;       /* per node: its own unit */
	struct dn_unit **fused;      /* per node: a fused group starting here, or NULL */
	int **consumers;             /* per tensor: node ids reading it (-1 ended) */

	struct dn_prim *prims;       /* every primitive, by id */
	int n_prims, cap_prims;
	int *prim_slot;              /* shared primitives by key: id + 1, 0 empty */
	int prim_cap;                /* slots, a power of two */
	struct dn_mdtab mds;

	dnnl_memory_t *mems;         /* memories to destroy */
	int n_mems, cap_mems;
	void **owned;                /* buffers to free (weights) */
	int n_owned, cap_owned;
	uint8_t *chunk;              /* the free part of dn_buf_new's last chunk */
	size_t chunk_left;
	int huge;                    /* big blocks ask for huge pages (dn_big_alloc) */
	struct dn_wjob *wjobs;       /* weight reorders made, not yet run (dn_weights_run) */
	int n_wjobs, cap_wjobs;

	struct dn_temp *temps;
	int n_temps, cap_temps;

	struct dn_viewmem *viewmems;
	int n_viewmems, cap_viewmems;

	struct dn_slot *slots;
	int n_slots, cap_slots;
	int *entry;                  /* arena tensors, roots of alias sets before their
					members, views after what they view (run_range's
					reorders in from the cut) */
	int n_entry;
	uint8_t *arena;
	size_t arena_bytes;
	size_t arena_whole_bytes;     /* its first part: the slots a whole run uses */

	void *scratchpad;            /* oneDNN user scratchpad, shared (owned list) */
	size_t scratchpad_bytes;
	dnnl_memory_t scratch_mem;   /* a 1-D u8 memory on it, passed to every step */

	void *ref_scratch;           /* largest fallback node scratch */
	struct jalad_pool *pool;     /* fallback kernels' threads, may be NULL */
	struct jalad_tensor *ins, *outs;
	int max_args;

	int fuse;                    /* fusion allowed (JALAD_DNNL_NOFUSE unset) */
	int winograd;                /* Winograd 3x3 allowed (JALAD_DNNL_NOWINOGRAD unset) */
	unsigned char *wino;         /* per node: a convolution given Winograd (dn_pick_winograd) */
	int blocked;                 /* 2-D convolutions take nChw16c activations (dn_pick_layout) */
};

/* ------------------------------------------------------------ util (dnnl_mem.c) */

/* Map a dnnl_status_t: unimplemented/invalid -> JALAD_ERR_UNSUPPORTED
 * without recording an error (the caller falls back), else a recorded error. */
enum jalad_status dn_check(dnnl_status_t s, const char *what);
#define DN_TRY(expr, what) JALAD_FORWARD(dn_check((expr), (what)))

/* Intern md: *id names an equal descriptor (byte for byte) in s. */
enum jalad_status dn_md_id(struct dn_state *s, const dnnl_memory_desc_t *md, int *id);
/* The interned descriptor id (valid for the state's life). */
static inline const dnnl_memory_desc_t *dn_md(const struct dn_state *s, int id)
{
	return &s->mds.blk[id / DN_MD_BLOCK][id % DN_MD_BLOCK];
}
/* Tensor t's home and plain descriptors (f32 tensors only). */
static inline const dnnl_memory_desc_t *dn_home(const struct dn_state *s, int t)
{
	return dn_md(s, s->t[t].home_md);
}
static inline const dnnl_memory_desc_t *dn_plain(const struct dn_state *s, int t)
{
	return dn_md(s, s->t[t].plain_md);
}
void dn_mdtab_free(struct dn_mdtab *m);

/* Row-major md of ndim dims (ndim 0 is treated as [1]). */
void dn_md_plain(dnnl_memory_desc_t *md, int ndim, const int64_t *dims);
/* md with dims and the given format tag (any / a / ab ...). */
void dn_md_tag(dnnl_memory_desc_t *md, int ndim, const int64_t *dims, dnnl_format_tag_t tag);
/* Dense row-major (unit dims may have any stride), no padding, no offset. */
int dn_md_is_plain(const dnnl_memory_desc_t *md);
int dn_md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);
size_t dn_md_bytes(const dnnl_memory_desc_t *md);

/* Register a primitive to be made from pd (pd is destroyed once it is
 * made, unless keep; queries of a registered pd are valid until then). */
enum jalad_status dn_prim_add(struct dn_state *s, dnnl_primitive_desc_t pd, int keep, int *id);
/* Make primitive id (its JIT code) if not made yet. create() makes those
 * a whole run executes; those only split ranges need (a fused group's
 * unfused units, boundary reorders) are made on first use. */
enum jalad_status dn_prim_ready(struct dn_state *s, int id);
/* The primitive registered under key (len bytes), or -1. */
int dn_prim_find(const struct dn_state *s, const void *key, size_t len);
/* Register primitive id under key (copied), for dn_prim_find(). */
enum jalad_status dn_prim_share(struct dn_state *s, int id, const void *key, size_t len);
/* A reorder src -> dst, shared by all users of the same pair of mds. */
enum jalad_status dn_reorder_get(struct dn_state *s, const dnnl_memory_desc_t *src,
				 const dnnl_memory_desc_t *dst, int *id);
/* The same, as an op's own work (a Transpose, a Slice): not counted as a
 * layout reorder in profiles. */
enum jalad_status dn_copy_get(struct dn_state *s, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst,
			      int *id);
/* Append to u the steps copying from into to (same dims, any layouts):
 * one reorder, or two (dnnl_mem.c: split_tail). layout: profiled as a
 * layout reorder, else as the node's own work. */
enum jalad_status dn_copy_steps(struct dn_state *s, struct dn_unit *u, const struct dn_ref *from,
				const struct dn_ref *to, int layout);
/* Make a memory object (handle may be NULL) and keep it for destruction. */
enum jalad_status dn_mem_new(struct dn_state *s, const dnnl_memory_desc_t *md, void *handle,
			     dnnl_memory_t *out);
/* Keep an aligned buffer of bytes for the state's life. */
#define DN_HUGE ((size_t)2 << 20)  /* a transparent huge page */
#define DN_CHUNK ((size_t)8 << 20) /* dn_buf_new's chunks */
#define DN_COPY_MAX ((size_t)16 << 20) /* plain weights copied to huge pages, at most */
void *dn_big_alloc(const struct dn_state *s, size_t bytes);
enum jalad_status dn_buf_new(struct dn_state *s, size_t bytes, void **out);
enum jalad_status dn_weights_add(struct dn_state *s, const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want,
				 void *data, dnnl_memory_t dst);
enum jalad_status dn_weights_run(struct dn_state *s);
/* Float Winograd weights (F(2x2,3x3), F(4x4,3x3)) without oneDNN's
 * reorder (dnnl_wino.c): whether this pair of layouts is one it makes,
 * and the transform itself. */
int dn_wino_supported(const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want);
void dn_wino_weights(const dnnl_memory_desc_t *user, const dnnl_memory_desc_t *want, const float *src, float *dst);
void dn_weights_free(struct dn_state *s);
/* Grow the shared scratchpad request to the pd's scratchpad size. */
void dn_scratchpad_note(struct dn_state *s, const_dnnl_primitive_desc_t pd);
/* A new temp for node, returns its id. */
enum jalad_status dn_temp_new(struct dn_state *s, int node, const dnnl_memory_desc_t *md, int *id);
/* Attributes every primitive gets: user scratchpad, plus post-ops if any. */
enum jalad_status dn_attr_new(dnnl_primitive_attr_t *attr, const_dnnl_post_ops_t po);

/* ------------------------------------------------------------ units (dnnl_ops.c) */

struct dn_unit *dn_unit_new(int first, int end);
void dn_unit_free(struct dn_unit *u);
/* Append a step running prim; *out is the step to add arguments to (valid
 * until the next dn_unit_step on u). */
enum jalad_status dn_unit_step(struct dn_unit *u, int prim, struct dn_step **out);
enum jalad_status dn_step_arg(struct dn_step *st, int arg, const struct dn_ref *ref);
/* Copy a unit (steps and arguments) for a fused variant. */
enum jalad_status dn_unit_clone(const struct dn_unit *u, struct dn_unit **out);
/* Make input tensor t available to unit u (run at node) in layout want:
 * its home directly, its plain buffer seen through want, or a reorder step
 * into a temp (appended to u). *out is the reference to pass. */
enum jalad_status dn_input_ref(struct dn_state *s, struct dn_unit *u, int node, int t,
			       const dnnl_memory_desc_t *want, struct dn_ref *out);
/* References to a tensor's home seen through md, and to a prepared memory. */
enum jalad_status dn_ref_home(struct dn_state *s, struct dn_ref *r, int t, const dnnl_memory_desc_t *md);
void dn_ref_mem(struct dn_ref *r, dnnl_memory_t mem);
/* A new temporary of layout md, live while node runs, and r on it. */
enum jalad_status dn_ref_temp_new(struct dn_state *s, int node, const dnnl_memory_desc_t *md, struct dn_ref *r);

/* Make a primitive (registered in s) from an op descriptor with post-ops
 * (po may be NULL), or share the one made before from the same descriptor,
 * post-ops and thread count; *pd is kept by s, borrowed by the caller. */
enum jalad_status dn_make_prim(struct dn_state *s, const void *od, const_dnnl_post_ops_t po,
			       dnnl_primitive_desc_t *pd, int *prim);
/* oneDNN's implementation name of pd ("brg:avx512_core"...). */
const char *dn_pd_impl(const_dnnl_primitive_desc_t pd);

/* Choose the convolutions' activation layout for the graph (s->blocked). */
void dn_pick_layout(struct dn_state *s);

/* Choose the convolutions that get Winograd kernels (s->wino). */
enum jalad_status dn_pick_winograd(struct dn_state *s);

/* Build node i's own native unit. JALAD_ERR_UNSUPPORTED: use the fallback.
 * On success sets the output tensor's home_md. */
enum jalad_status dn_build_node(struct dn_state *s, int i, struct dn_unit **out);

/* Description of an activation that can become eltwise post-ops: one
 * oneDNN algorithm, or two in a row (HardSigmoid: linear, then clip). */
struct dn_act {
	int n;                       /* 1 or 2 */
	dnnl_alg_kind_t alg, alg2;
	float alpha, beta, alpha2, beta2;
};
/* Append act's eltwise post-ops to po. */
enum jalad_status dn_act_post_ops(dnnl_post_ops_t po, const struct dn_act *act);
/* Is node n an activation dnnl can run (and fuse)? */
int dn_node_act(const struct jalad_graph *g, const struct jalad_node *n, struct dn_act *act);

/* Node i is Mul(x, g(x)) with g an activation of x alone, as ONNX exporters
 * write SiLU (g = Sigmoid) and HardSwish (g = HardSigmoid with alpha 1/6,
 * beta 1/2): returns x and sets *kind (and *gate, g's node), else -1. The
 * Mul's unit computes the activation from x and ignores g's output, so
 * the result is the same whether g ran, was skipped by a fused group or
 * came across a cut. */
enum dn_gate { DN_GATE_SILU = 1, DN_GATE_HARDSWISH };
int dn_gated(const struct jalad_graph *g, int i, enum dn_gate *kind, int *gate);
/* Append a step running kernel k on count floats (arguments follow). */
enum jalad_status dn_kern_step(struct dn_unit *u, enum dn_kern k, int64_t count, struct dn_step **out);

/* ------------------------------------------------------------ kernels (dnnl_kern.c) */

/* Run kernel k on n floats of x into y (y may be x) on nthr threads. */
void dn_kern_run(enum dn_kern k, const float *x, float *y, int64_t n, int nthr);

/* ------------------------------------------------------------ fusion (dnnl_fuse.c) */

/* Find fusable groups and build their fused units; sets alias sets. */
enum jalad_status dn_fuse_all(struct dn_state *s);

#endif /* JALAD_DNNL_IMPL_H */
