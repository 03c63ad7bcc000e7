/*
 * jalad/plan.h - the planner: latency profiles, accuracy calibration, and
 * the joint choice of cut, bit width and coder (JALAD, ICPADS 2018).
 *
 * Three measured inputs feed one exact optimizer:
 *
 *   profile      per-node median latency of a model on one device (the edge
 *                or the cloud), with the device's settings and the model's
 *                SHA-256 (JSON, see docs/formats.md);
 *   calibration  for every cut k in 0..n and quantizer (c bits, min-max per
 *                tensor as in the paper or per channel; or float32): top-1
 *                accuracy on real samples, agreement with the float model,
 *                and mean and p95 container bytes and encode/decode times
 *                per coder; plus the shared Huffman tables learned on the
 *                same data;
 *   planner      for a bandwidth B and a round-trip time, the (k, c, coder)
 *                minimizing the predicted latency
 *
 *      L = E(k) + enc + RTT + bytes / B + dec + C(k)
 *
 *                subject to  float accuracy - accuracy(k, c) <= max_loss.
 *                E(k) sums the edge profile over nodes [0, k), C(k) the
 *                cloud profile over [k, n). k = n (edge-only) sends nothing
 *                and pays no RTT. At k = 0 the input can also be sent as its
 *                8-bit pixels or as a PNG (cloud-only).
 *
 * The optimum over all B is the lower envelope of one line per candidate in
 * x = 1/B, so jalad_planner_create() keeps only the envelope and
 * jalad_planner_choose() is a binary search on it (microseconds even for a
 * 300-node model); jalad_planner_table() lists the bandwidth intervals of
 * the envelope (the switching table a runtime looks up).
 *
 *     struct jalad_profile *edge, *cloud;
 *     struct jalad_calib *cal;
 *     struct jalad_planner *pl;
 *     struct jalad_plan_choice ch;
 *     jalad_profile_load("edge.json", &edge);
 *     jalad_profile_load("cloud.json", &cloud);
 *     jalad_calib_load("calib.json", &cal);
 *     struct jalad_planner_opts po = { .max_loss = 0.01 };
 *     if (jalad_planner_create(edge, cloud, cal, &po, &pl) != JALAD_OK) ...
 *     jalad_planner_choose(pl, 2e6, 40.0, &ch);     // 2 Mbit/s, 40 ms RTT
 *     // ch.cut, ch.bits, ch.coder, ch.payload; ch.total_ms predicted
 *     jalad_planner_free(pl);   // before the profiles and calibration
 *
 * Slow devices: a profile made with slowdown F describes a device F times
 * slower than the measuring machine: its node times (and, in the planner,
 * the encode times of an edge profile and decode times of a cloud profile)
 * are the measured times multiplied by F. A runtime emulates such a device
 * by sleeping (F - 1) x the measured duration after each computation.
 *
 * Threads: profiles, calibrations and planners are immutable once made and
 * may be read by any number of threads. A struct jalad_cut_capture and a
 * struct jalad_calib_worker are used by one thread at a time; a
 * calibrator's workers may run on different threads at once (see below).
 */
#ifndef JALAD_PLAN_H
#define JALAD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "jalad/status.h"
#include "jalad/engine.h"
#include "jalad/codec.h"
#include "jalad/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JALAD_PROFILE_VERSION 1
#define JALAD_CALIB_VERSION 4   /* 3: huffman-2d; auto may use it. 4: cuts left out,
                                 * accuracy of the 8-bit input, JPEG and file payloads */
#define JALAD_PLAN_MAX_BITS 32   /* entries of a calibration's quantizer list */

/* ---- units --------------------------------------------------------------- */

/*! Parse a bandwidth: a positive number and a unit bit, kbit, mbit, gbit
 *  (also bps, kbps, mbps, gbps; "/s" may follow; case-insensitive; decimal
 *  prefixes): "2mbit" -> 2e6, "500kbit" -> 5e5, "1.5gbit" -> 1.5e9.
 *  @return JALAD_OK and *bps (bits per second), or JALAD_ERR_INVALID_ARG with
 *  a message naming the accepted units. Thread-safe. */
JALAD_API enum jalad_status jalad_parse_bandwidth(const char *s, double *bps);

/*! Parse a duration >= 0 with a unit us, ms, s ("40ms", "0.04s").
 *  @return JALAD_OK and *ms (milliseconds), or JALAD_ERR_INVALID_ARG.
 *  Thread-safe. */
JALAD_API enum jalad_status jalad_parse_duration(const char *s, double *ms);

/*! Format bps as "2 Mbit/s", "500 kbit/s" into buf. @return buf. */
JALAD_API const char *jalad_format_bandwidth(double bps, char *buf, size_t cap);

/* ---- profiles ------------------------------------------------------------ */

struct jalad_profile_node {
	char *name;          /* node name; owned by the profile */
	char *op_type;       /* "Conv"; owned by the profile */
	double ms;           /* median latency on the described device: measured x slowdown */
	double measured_ms;  /* median latency on the measuring machine */
	int64_t out_bytes;   /* bytes of the node's outputs */
};

struct jalad_profile {
	int version;                /* JALAD_PROFILE_VERSION */
	uint8_t model_sha256[32];   /* SHA-256 of the model file */
	char *model_file;           /* base name, informational; may be NULL */
	char *device;               /* CPU name of the measuring machine; may be NULL */
	char *backend;              /* "ref", "dnnl"; may be NULL */
	int threads;                /* session threads used */
	int repeat;                 /* runs the medians are over */
	double slowdown;            /* > 0; 1 = this machine */
	double gap_ms;              /* idle time before each measured run (0: back to back) */
	double run_ms;              /* median whole-run latency (x slowdown) */
	double request_ms;          /* what a request costs this side beyond the node
	                             * times and the calibration's warm codec times:
	                             * cloud: the server path (hand-off to a worker and
	                             * back, cold caches; jalad profile --server);
	                             * edge: a cold encode (--edge-requests); 0 = not
	                             * measured. The planner adds both sides' to
	                             * every plan that uses the network. */
	int n_nodes;
	struct jalad_profile_node *nodes; /* (n_nodes) */
};

struct jalad_profile_opts {
	const char *backend;    /* NULL: the engine's default */
	int threads;            /* 0: 1 thread */
	int repeat;             /* 0: 50 runs (after 3 warm-up runs) */
	double slowdown;        /* 0: 1 */
	double gap_ms;          /* > 0: sleep this long before each measured run, as
	                         * requests come apart and find colder caches than
	                         * a hot loop (a device that runs other work between
	                         * frames); 0: back to back */
	const char *model_file; /* recorded (base name kept); may be NULL */
};

/*! An empty profile of n_nodes nodes (names and op types NULL, times 0),
 *  version and slowdown set; for tools and tests that fill one in.
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG, JALAD_ERR_NOMEM.
 *  Free with jalad_profile_free(). */
JALAD_API enum jalad_status jalad_profile_create(int n_nodes, struct jalad_profile **out);

/*! Measure model on this machine: run it opts->repeat times with per-node
 *  profiling on a fixed pseudo-random input and keep per-node medians.
 *  Takes repeat x (one run) time; uses opts->threads threads.
 *  @return JALAD_OK or an engine status. Free *out with jalad_profile_free(). */
JALAD_API enum jalad_status jalad_profile_measure(const struct jalad_model *model,
						  const struct jalad_profile_opts *opts,
						  struct jalad_profile **out);

/*! Serialize as JSON (docs/formats.md). *json is malloc'd (free()).
 *  @return JALAD_OK or JALAD_ERR_NOMEM. */
JALAD_API enum jalad_status jalad_profile_to_json(const struct jalad_profile *p, char **json);
/*! Write jalad_profile_to_json() to path. @return JALAD_OK or JALAD_ERR_IO. */
JALAD_API enum jalad_status jalad_profile_save(const struct jalad_profile *p, const char *path);

/*! Parse a profile from JSON text (untrusted: every field is checked).
 *  @return JALAD_OK; JALAD_ERR_TRUNCATED (the text ends inside the
 *  document); JALAD_ERR_FORMAT (not JSON, another format, a missing or bad
 *  field, node count disagreeing with the node list); JALAD_ERR_UNSUPPORTED
 *  (another format version); JALAD_ERR_NOMEM. Free with jalad_profile_free(). */
JALAD_API enum jalad_status jalad_profile_parse(const char *json, size_t len, struct jalad_profile **out);
/*! jalad_profile_parse() of a file (at most 64 MiB); errors name the path. */
JALAD_API enum jalad_status jalad_profile_load(const char *path, struct jalad_profile **out);

/*! Check that p was made for model (SHA-256 and node count).
 *  @return JALAD_OK or JALAD_ERR_MISMATCH. */
JALAD_API enum jalad_status jalad_profile_check_model(const struct jalad_profile *p,
						      const struct jalad_model *model);

/*! Free a profile; NULL is a no-op. */
JALAD_API void jalad_profile_free(struct jalad_profile *p);

/* ---- calibration tables ---------------------------------------------------- */

/* Sizes and times of one (cut, quantizer, coder). Negative = not applicable
 * (e.g. Huffman on float32) or not measured. */
struct jalad_calib_stats {
	double mean_bytes;   /* container bytes per sample (headers and CRC included) */
	double p95_bytes;    /* 95th percentile (nearest rank) */
	double enc_ms;       /* quantize + encode, median per sample, measuring machine */
	double dec_ms;       /* decode + dequantize, the same */
};

/* Accuracy of one (cut, quantizer): every crossing tensor quantized to c
 * bits with min-max ranges (per tensor or per channel), dequantized, and
 * the rest of the model run. */
struct jalad_calib_cell {
	uint64_t correct;    /* top-1 correct among labelled samples */
	uint64_t agree;      /* same top-1 as the float model, among all samples */
	double accuracy;     /* correct / labelled (agreement if none labelled) */
	double agreement;    /* agree / samples */
};

struct jalad_calib_cut {
	int supported;       /* 0: some crossing tensor is not float32, or the cut was
	                      * left out of the calibration (never chosen) */
	int skipped;         /* 1: left out of the calibration (calibrate --cuts) */
	int n_tensors;       /* tensors crossing the cut */
	int64_t values;      /* elements crossing the cut */
};

struct jalad_calib {
	int version;                /* JALAD_CALIB_VERSION */
	uint8_t model_sha256[32];
	char *model_file;           /* may be NULL */
	char *dataset;              /* "fmnist"; may be NULL */
	char *backend;              /* may be NULL */
	uint64_t samples;           /* > 0: accuracies are over these */
	uint64_t labelled;          /* samples with a label */
	uint64_t size_samples;      /* 1..samples: sizes are over the first size_samples */
	int timing_samples;         /* samples the times are medians over */
	int n_nodes;                /* n; cuts are 0..n */
	/* The quantizers ("bits entries"): bits[b] c = 1..8 or 16 with min-max
	 * ranges per tensor (per_channel[b] = 0, the paper's) or per dim-1
	 * channel (1); bits 0 = float32 pass-through (per_channel 0). */
	int n_bits;
	int bits[JALAD_PLAN_MAX_BITS];
	int per_channel[JALAD_PLAN_MAX_BITS];
	int n_coders;
	enum jalad_coder coders[JALAD_CODER_COUNT + 1]; /* incl. JALAD_CODER_AUTO */
	uint64_t float_correct;
	double float_accuracy;      /* of the unsplit float model */
	/* What cloud-only sends instead of a container: the 8-bit input. */
	int64_t input_raw_bytes;    /* channels x height x width */
	struct jalad_calib_stats input_png; /* PNG of the input (libpng defaults) */
	/* Accuracy of the model on the 8-bit input the u8 and PNG payloads carry
	 * (the preprocessed photo rounded to integers); u8_measured 0: not
	 * measured, taken as lossless. */
	int u8_measured;
	struct jalad_calib_cell input_u8;
	/* The 8-bit input as a JPEG at jpeg_quality (0: not measured): sizes and
	 * codec times, and the accuracy through the re-encode. */
	int jpeg_quality;
	struct jalad_calib_stats input_jpeg;
	struct jalad_calib_cell input_jpeg_acc;
	/* The photo's own file as captured (mean_bytes < 0: not measured); the
	 * cloud decodes and preprocesses it (dec_ms), with the float model's
	 * accuracy. */
	struct jalad_calib_stats input_file;
	struct jalad_calib_cut *cuts;      /* (n_nodes + 1) */
	struct jalad_calib_cell *cells;    /* (n_nodes, n_bits): cut k < n, entry b */
	struct jalad_calib_stats *stats;   /* (n_nodes, n_bits, n_coders) */
	struct jalad_codec_dict **dicts;   /* (n_nodes, n_bits): shared Huffman tables (with the
					      2-d ones of huffman-2d for c <= 4), or NULL */
};

/* Index helpers for the flat arrays above. */
static inline size_t jalad_calib_cell_index(const struct jalad_calib *c, int cut, int b)
{
	return (size_t)cut * (size_t)c->n_bits + (size_t)b;
}
static inline size_t jalad_calib_stats_index(const struct jalad_calib *c, int cut, int b, int coder_idx)
{
	return jalad_calib_cell_index(c, cut, b) * (size_t)c->n_coders + (size_t)coder_idx;
}

/*! An empty table (all stats -1, no dicts) for n_nodes, the quantizers
 *  bits[n_bits] / per_channel[n_bits] (NULL: all per tensor) and
 *  coders[n_coders]; for tools and tests that fill one in.
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG, JALAD_ERR_NOMEM. */
JALAD_API enum jalad_status jalad_calib_create(int n_nodes, const int *bits, const int *per_channel, int n_bits,
					       const enum jalad_coder *coders, int n_coders,
					       struct jalad_calib **out);
/*! Serialize as JSON (docs/formats.md); dictionaries as base64.
 *  @return JALAD_OK or JALAD_ERR_NOMEM. *json is malloc'd. */
JALAD_API enum jalad_status jalad_calib_to_json(const struct jalad_calib *c, char **json);
JALAD_API enum jalad_status jalad_calib_save(const struct jalad_calib *c, const char *path);
/*! Parse (untrusted; every field, count and dictionary is checked).
 *  @return as jalad_profile_parse(). Free with jalad_calib_free(). */
JALAD_API enum jalad_status jalad_calib_parse(const char *json, size_t len, struct jalad_calib **out);
JALAD_API enum jalad_status jalad_calib_load(const char *path, struct jalad_calib **out);
/*! @return JALAD_OK or JALAD_ERR_MISMATCH (other model or node count). */
JALAD_API enum jalad_status jalad_calib_check_model(const struct jalad_calib *c,
						    const struct jalad_model *model);
/*! Index of the quantizer (bits, per_channel) in c->bits, or -1. */
JALAD_API int jalad_calib_entry_index(const struct jalad_calib *c, int bits, int per_channel);
/*! Index of bits in c->bits (per tensor preferred), or -1. */
JALAD_API int jalad_calib_bits_index(const struct jalad_calib *c, int bits);
/*! Index of coder in c->coders, or -1. */
JALAD_API int jalad_calib_coder_index(const struct jalad_calib *c, enum jalad_coder coder);
/*! Free a table and its dictionaries; NULL is a no-op. */
JALAD_API void jalad_calib_free(struct jalad_calib *c);

/* ---- every cut of one float run -------------------------------------------- */

/* Runs a model one node at a time and keeps a copy of every activation, so
 * that the tensors crossing any cut k are at hand after one float run. Its
 * session can then run any [k, n) from modified copies. */
struct jalad_cut_capture;

/*! One single-threaded session on model (backend NULL = default).
 *  @return JALAD_OK or an engine status. Free with jalad_cut_capture_free(). */
JALAD_API enum jalad_status jalad_cut_capture_create(const struct jalad_model *model, const char *backend,
						     struct jalad_cut_capture **out);
/*! Run the whole model on the model's single input. */
JALAD_API enum jalad_status jalad_cut_capture_run(struct jalad_cut_capture *cc,
						  const struct jalad_tensor *input);
/*! The tensors crossing cut k (0..n) of the last run: *n_out ids and values,
 *  borrowed until the next run. */
JALAD_API enum jalad_status jalad_cut_capture_get(const struct jalad_cut_capture *cc, int k,
						  const int **ids, const struct jalad_tensor **vals,
						  int *n_out);
/*! Output 0 of the last run (borrowed). */
JALAD_API enum jalad_status jalad_cut_capture_output(const struct jalad_cut_capture *cc,
						     struct jalad_tensor *out);
/*! The capture's session (borrowed); running it does not disturb the copies. */
JALAD_API struct jalad_session *jalad_cut_capture_session(struct jalad_cut_capture *cc);
JALAD_API void jalad_cut_capture_free(struct jalad_cut_capture *cc);

/* ---- building a calibration ------------------------------------------------ */

/* The input as a camera would send it (for the cloud-only payloads): the
 * 8-bit image at the model's input size (jalad_image_resample() of the
 * photo), and optionally the photo's own file. */
struct jalad_calib_image {
	const uint8_t *pixels;  /* (height, width, channels) */
	int width, height, channels;
	const uint8_t *file;    /* the file as captured (PNG or JPEG); may be NULL */
	size_t file_bytes;
	const struct jalad_preprocess *file_pp; /* the full preprocessing of the
	                                           file, for its decode time; may be NULL */
};

struct jalad_calib_opts {
	const int *bits;        /* NULL: 1..8 per tensor, 1..8 per channel, 0 (float32) */
	const int *per_channel; /* per entry of bits; NULL: all per tensor */
	int n_bits;
	const enum jalad_coder *coders; /* NULL: every coder and auto */
	int n_coders;
	uint64_t samples;       /* samples 0..samples-1 will be added */
	uint64_t size_samples;  /* sizes over samples 0..size_samples-1 only (0 = all) */
	int timing_samples;     /* 0: min(samples, 64) */
	const char *backend;    /* NULL: default */
	const char *dataset;    /* recorded; may be NULL */
	const char *model_file; /* recorded; may be NULL */
	/* Normalization of the 8-bit input image into the model's input (its
	 * height x width, no crop). NULL: the accuracy of the u8/PNG/JPEG
	 * payloads is not measured. */
	const struct jalad_preprocess *pp;
	int jpeg_quality;       /* JPEG payload quality 1..100; 0 = 90; < 0 = none */
	const uint8_t *cut_mask; /* (n + 1): cuts to calibrate (non-zero); NULL = all */
};

struct jalad_calibrator;
struct jalad_calib_worker;

/*! Start a calibration. The sequence is:
 *    1. every sample i once through jalad_calib_worker_pass1() (any worker,
 *       any thread, any order; workers on different threads at once);
 *    2. jalad_calibrator_learn() with all workers (learns the dicts);
 *    3. every sample through jalad_calib_worker_pass2() (like 1);
 *    4. samples 0..timing_samples-1 through jalad_calib_worker_time() on one
 *       thread while nothing else runs (the times are medians);
 *    5. jalad_calibrator_finish().
 *  Results depend only on the samples, never on threads or order, except
 *  the *_ms times. The shared Huffman sizes (huffman-shared, huffman-2d and
 *  auto) are measured 2-fold: dicts learned on even samples code odd ones
 *  and vice versa; the stored dict is learned on all samples (with 2-d
 *  tables for c <= 4).
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG, JALAD_ERR_NOMEM.
 *  Free with jalad_calibrator_free() (after its workers). */
JALAD_API enum jalad_status jalad_calibrator_create(const struct jalad_model *model,
						    const struct jalad_calib_opts *opts,
						    struct jalad_calibrator **out);
JALAD_API void jalad_calibrator_free(struct jalad_calibrator *cal);

/*! A worker: its own session and codec context; one thread at a time. */
JALAD_API enum jalad_status jalad_calib_worker_create(struct jalad_calibrator *cal,
						      struct jalad_calib_worker **out);
JALAD_API void jalad_calib_worker_free(struct jalad_calib_worker *w);

/*! Pass 1 for sample i: accuracy and agreement at every (cut, quantizer),
 *  container bytes (if i < size_samples) for every coder but
 *  huffman-shared, huffman-2d and auto, symbol histograms (1-d, and 2-d
 *  for c <= 4), PNG size of img (may be NULL). label < 0: unlabelled. */
JALAD_API enum jalad_status jalad_calib_worker_pass1(struct jalad_calib_worker *w, uint64_t i,
						     const struct jalad_tensor *input, int label,
						     const struct jalad_calib_image *img);
/*! Merge the workers' histograms and learn the dictionaries. */
JALAD_API enum jalad_status jalad_calibrator_learn(struct jalad_calibrator *cal,
						   struct jalad_calib_worker *const *workers, int n);
/*! Pass 2 for sample i: huffman-shared, huffman-2d and auto bytes (no-op
 *  if none of them was asked for, or i >= size_samples). */
JALAD_API enum jalad_status jalad_calib_worker_pass2(struct jalad_calib_worker *w, uint64_t i,
						     const struct jalad_tensor *input);
/*! Timing of sample t < timing_samples: encode and decode of every cell and
 *  coder, and PNG encode/decode of img. */
JALAD_API enum jalad_status jalad_calib_worker_time(struct jalad_calib_worker *w, int t,
						    const struct jalad_tensor *input,
						    const struct jalad_calib_image *img);
/*! Reduce everything into a table. Free *out with jalad_calib_free(). */
JALAD_API enum jalad_status jalad_calibrator_finish(struct jalad_calibrator *cal, struct jalad_calib **out);

/* ---- the optimizer --------------------------------------------------------- */

/* What crosses the network. */
enum jalad_plan_payload {
	JALAD_PAYLOAD_NONE = 0,      /* edge-only: nothing */
	JALAD_PAYLOAD_CONTAINER = 1, /* a codec container of the tensors crossing the cut */
	JALAD_PAYLOAD_INPUT_U8 = 2,  /* cut 0: the 8-bit input pixels as they are */
	JALAD_PAYLOAD_INPUT_PNG = 3, /* cut 0: the 8-bit input as a PNG */
	JALAD_PAYLOAD_INPUT_JPEG = 4, /* cut 0: the 8-bit input as a JPEG at the
	                               * calibration's jpeg_quality */
	JALAD_PAYLOAD_INPUT_FILE = 5, /* cut 0: the photo's own file as captured; the
	                               * cloud decodes and preprocesses it */
};

/* The strategies the planner can be restricted to (the baselines). */
enum jalad_strategy {
	JALAD_STRATEGY_BEST = 0,      /* jalad: every cut, bits and coder */
	JALAD_STRATEGY_EDGE_ONLY,     /* run everything on the edge */
	JALAD_STRATEGY_CLOUD_RAW,     /* send the 8-bit input */
	JALAD_STRATEGY_CLOUD_PNG,     /* send the input as PNG */
	JALAD_STRATEGY_NEUROSURGEON,  /* best cut, float32 sent (8-bit input at cut 0), or edge-only */
	JALAD_STRATEGY_JALAD_PAPER,   /* best cut and c = 1..8 bits (ranges per tensor) with
	                               * per-message Huffman, within the loss bound, or edge-only */
	JALAD_STRATEGY_CLOUD_JPEG,    /* send the 8-bit input re-encoded as JPEG */
	JALAD_STRATEGY_CLOUD_FILE,    /* send the photo's own file (the camera's JPEG) */
	JALAD_STRATEGY_COUNT,
};

/*! Short name of a strategy ("jalad", "edge_only", "cloud_raw",
 *  "cloud_png", "neurosurgeon", "jalad_paper", "cloud_jpeg", "cloud_file").
 *  Static storage. */
JALAD_API const char *jalad_strategy_name(enum jalad_strategy s);
/*! Name of a payload ("none", "container", "u8", "png", "jpeg", "file"). */
JALAD_API const char *jalad_payload_name(enum jalad_plan_payload p);

/* A plan and its predicted latency breakdown, in milliseconds. */
struct jalad_plan_choice {
	enum jalad_strategy strategy;
	int cut;                      /* 0..n; n = edge-only */
	int bits;                     /* 0 = float32; 8 for the input payloads; 0 for none */
	enum jalad_plan_payload payload;
	enum jalad_coder coder;       /* for JALAD_PAYLOAD_CONTAINER */
	const struct jalad_codec_dict *dict; /* for huffman-shared/huffman-2d/auto; owned by the calibration */
	double accuracy_loss;         /* fraction: float accuracy - accuracy (may be < 0) */
	int per_channel;              /* quantizer ranges per channel (jalad_codec_params.per_channel) */
	double bytes;                 /* bytes sent (mean, or p95 if planned so) */
	double wire_bytes;            /* what the link carries for them: + the
	                               * request frame, TCP/IP headers per segment,
	                               * TLS records (jalad_planner_opts); = bytes
	                               * for edge-only */
	double request_ms;            /* the profiles' request_ms, edge + cloud; 0 for edge-only */
	double edge_ms;               /* E(cut) */
	double encode_ms;             /* x edge slowdown */
	double transfer_ms;           /* wire_bytes x 8 / bandwidth */
	double rtt_ms;                /* 0 for edge-only */
	double decode_ms;             /* x cloud slowdown */
	double cloud_ms;              /* C(cut) */
	double total_ms;              /* the sum */
};

struct jalad_planner_opts {
	double max_loss;      /* accuracy loss bound, fraction (0.01 = 1 point); < 0 = none */
	/* Comma-separated names the jalad strategy may use: coder names
	 * (jalad_coder_name(): raw, huffman, huffman-shared, rans0, rans1, zstd,
	 * arith0, arith1, huffman-2d, auto) and the cut-0 payloads u8 and png. NULL or "":
	 * all calibrated. */
	const char *coders;
	int use_p95;          /* plan with p95 bytes instead of means */
	/* What the link carries besides the payload (the bandwidth is the
	 * link's rate, as tbf or a trace gives it): the REQUEST frame (40 bytes,
	 * 45 for a u8 payload), headers per TCP segment, TLS records. */
	int payload_only;     /* 1: count the payload bytes alone, as the paper
	                       * does (no framing, headers or request_ms) */
	int mss;              /* TCP payload bytes per segment; 0 = 1448 */
	int segment_overhead; /* link bytes of headers per segment; 0 = 66
	                       * (IPv4 20 + TCP 20 + timestamps 12 + Ethernet 14) */
	int tls;              /* 1: TLS 1.3 records, 22 bytes per 16 KiB */
};

/*! Bytes a link carries for a request whose payload (of kind payload) is
 *  bytes long, under opts (NULL = defaults): see jalad_planner_opts. */
JALAD_API double jalad_plan_wire_bytes(const struct jalad_planner_opts *opts, enum jalad_plan_payload payload,
				       double bytes);

struct jalad_planner;

/*! Prepare the candidates of every strategy. edge, cloud and calib must be
 *  for the same model (SHA-256, node count) and outlive the planner.
 *  @return JALAD_OK; JALAD_ERR_MISMATCH (they disagree);
 *  JALAD_ERR_INVALID_ARG (unknown coder name, NaN bound); JALAD_ERR_NOMEM.
 *  Free with jalad_planner_free(). */
JALAD_API enum jalad_status jalad_planner_create(const struct jalad_profile *edge,
						 const struct jalad_profile *cloud,
						 const struct jalad_calib *calib,
						 const struct jalad_planner_opts *opts,
						 struct jalad_planner **out);
JALAD_API void jalad_planner_free(struct jalad_planner *pl);

/*! The best plan of the jalad strategy at bandwidth_bps (> 0) and rtt_ms
 *  (>= 0): an O(log n) lookup; edge-only is always feasible.
 *  @return JALAD_OK or JALAD_ERR_INVALID_ARG. Thread-safe. */
JALAD_API enum jalad_status jalad_planner_choose(const struct jalad_planner *pl, double bandwidth_bps,
						 double rtt_ms, struct jalad_plan_choice *out);
/*! The same for one strategy (the baselines).
 *  @return JALAD_OK; JALAD_ERR_NOT_FOUND if the calibration lacks what the
 *  strategy needs (e.g. Huffman sizes); JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_planner_choose_strategy(const struct jalad_planner *pl,
							  enum jalad_strategy s, double bandwidth_bps,
							  double rtt_ms, struct jalad_plan_choice *out);

/*! The throughput objective, for a stream of frames with several in flight
 *  (jalad edge --pipeline): the edge, the uplink and the cloud each work on
 *  a different frame, so a plan runs at 1000 / max(edge + encode,
 *  wire bytes x 8 / bandwidth, decode + cloud + request_ms) frames per
 *  second. Picks the jalad strategy's plan (edge-only included) with the
 *  most frames per second whose latency (as jalad_planner_choose()
 *  predicts it) is at most max_latency_ms, the lower latency at equal rates
 *  (DADS's objective for streams). *fps gets its rate.
 *  @return JALAD_OK; JALAD_ERR_NOT_FOUND if no plan meets the bound (then
 *  *out is the lowest-latency plan and *fps its rate); JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_planner_choose_throughput(const struct jalad_planner *pl, double bandwidth_bps,
							   double rtt_ms, double max_latency_ms,
							   struct jalad_plan_choice *out, double *fps);

/* One row of the switching table: the best plan over [lo_bps, hi_bps). */
struct jalad_plan_interval {
	double lo_bps;                    /* >= the asked minimum */
	double hi_bps;                    /* INFINITY for an unbounded last row */
	struct jalad_plan_choice choice;  /* breakdown at lo_bps (at hi_bps if lo_bps is 0) */
};

/*! The switching table of strategy s at rtt_ms, for bandwidths in
 *  [min_bps, max_bps] (0 and INFINITY for all), rows by increasing
 *  bandwidth, adjacent rows with different plans. Writes up to cap rows and
 *  the total into *n (call with cap 0 to size).
 *  @return JALAD_OK, JALAD_ERR_NOT_FOUND, JALAD_ERR_INVALID_ARG. Thread-safe. */
JALAD_API enum jalad_status jalad_planner_table(const struct jalad_planner *pl, enum jalad_strategy s,
						double rtt_ms, double min_bps, double max_bps,
						struct jalad_plan_interval *rows, int cap, int *n);

/*! Candidates kept for strategy s after pruning (the envelope size). */
JALAD_API int jalad_planner_candidates(const struct jalad_planner *pl, enum jalad_strategy s);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_PLAN_H */
