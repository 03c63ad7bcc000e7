/*
 * jalad/net.h - the edge-cloud runtime: cloud server, edge client, uplink
 * estimator and the adaptive edge.
 *
 * A cloud server loads the same model file as its edges and runs the part
 * [k, n) of the graph for each request. One event-loop thread does all the
 * socket I/O (non-blocking, epoll); N worker threads each own a session and
 * run the inference; a bounded queue sits between them, so a burst of
 * requests slows the readers down instead of growing memory.
 *
 *     struct jalad_server_opts so = { .listen = "127.0.0.1:7070", .workers = 2 };
 *     struct jalad_server *srv;
 *     if (jalad_server_create(model, &so, &srv) != JALAD_OK) ...
 *     // from a SIGTERM handler: jalad_server_stop(srv);
 *     jalad_server_run(srv);          // returns once stopped and drained
 *     jalad_server_free(srv);
 *
 * An edge runs [0, k), encodes the tensors crossing cut k with the codec
 * (codec.h) and sends them; it adapts k and the codec to the uplink it
 * measures from its own requests, and computes [k, n) itself when the cloud
 * is unreachable, answers with an error or misses the deadline. At cut 0 it
 * may send the input as an image instead (the model-sized 8-bit pixels
 * as they are, as a PNG or a JPEG, or the photo's own file), with
 * jalad_edge_infer_image():
 *
 *     struct jalad_edge_plan plans[] = { { .k = 7, .bits = 4, .coder = JALAD_CODER_RANS0 } };
 *     struct jalad_edge_opts eo = { .client = { .address = "127.0.0.1:7070" } };
 *     struct jalad_edge *e;
 *     jalad_edge_create(model, &eo, plans, 1, &e);
 *     struct jalad_edge_result r;
 *     jalad_edge_infer(e, &input, &r);   // r.output, r.total_ms, r.fallback ...
 *     jalad_edge_free(e);
 *
 *     // or cut 0, the input sent as a JPEG of the photo it was made from
 *     struct jalad_edge_plan jp = { .k = 0, .payload = JALAD_NET_PAYLOAD_JPEG, .jpeg_quality = 90 };
 *     jalad_edge_create(model, &eo, &jp, 1, &e);
 *     struct jalad_edge_image src = { .image = photo, .pp = &pp }; // jalad_image_to_tensor(photo, &pp, ...) made input
 *     jalad_edge_infer_image(e, &input, &src, &r);
 *
 * Wire format (all integers little-endian; frame version 1, protocol 4).
 * Every frame:
 *
 *     "JLDN" u8 version u8 type u16 flags u32 length | payload | u32 CRC-32C
 *
 * where the CRC covers the 12-byte header and the payload. A reader checks
 * magic, version, type and length (against its limit) before it allocates
 * anything, and the CRC before it looks at the payload. Types:
 *
 *     HELLO    u32 protocol, u8 sha256[32], u32 caps, u32 max_frame,
 *              u32 dict_digest, u16 name_len, name, u16 n, u32 dict ids[n]
 *              (edge: the shared dictionaries it may use; server: those of
 *              them it holds)
 *     REQUEST  u64 id, u32 k, u32 payload kind, u64 edge_ts, payload:
 *              1 container: a codec container of the tensors crossing k
 *              2 u8:   u16 width, u16 height, u8 channels, pixels (h, w, c),
 *                      exactly the model's input size (k = 0 only)
 *              3 png, 4 jpeg: the same pixels as a PNG / JPEG (k = 0 only)
 *              5 file: a PNG or JPEG of any size, which the cloud decodes
 *                      and preprocesses fully, crop included (k = 0 only)
 *     RESPONSE u64 id, i32 status, u64 edge_ts, u64 recv_first_ns,
 *              u64 recv_last_ns, u64 send_ns, u32 first_read_bytes,
 *              u64 queue_ns, u64 decode_ns, u64 compute_ns, then
 *              status 0: u8 noutputs, per output u8 dtype (1) u8 ndim
 *                        u32 dims[ndim] u32 nbytes f32 data[]
 *              else:     u16 len, message
 *     ERROR    u64 id, i32 code, u16 len, message   (then the sender closes)
 *     BYE      empty
 *     DICT     u32 id, a serialized dictionary (edge -> server, just before
 *              the first REQUEST that needs one the server lacks)
 *     DICT_ACK u32 id, i32 status, u16 len, message (0: held now)
 *
 * The edge speaks first (HELLO); the server answers HELLO, or ERROR and
 * closes if the protocol version or the model's SHA-256 differ. A request
 * the server cannot serve (a wrong shape, an image that does not decode or
 * has the wrong size, an image at k > 0) gets a RESPONSE with an error
 * status and the connection stays. Server
 * timestamps are its own monotonic clock: only their differences mean
 * anything to the edge (recv_last - recv_first: how long the request took
 * to arrive; send - recv_last: how long the server held it).
 *
 * Security: without TLS a server refuses to listen on anything but a
 * loopback address unless allow_remote is set. With TLS (OpenSSL, TLS 1.3
 * only) it uses a certificate and key, or an external pre-shared key; a
 * client without the right credentials fails the handshake and is dropped.
 *
 * Threads: a server is driven by the thread that calls jalad_server_run();
 * jalad_server_stop() may be called from any thread or a signal handler.
 * A client and an edge are used by one thread at a time.
 */
#ifndef JALAD_NET_H
#define JALAD_NET_H

#include <stddef.h>
#include <stdint.h>

#include "jalad/status.h"
#include "jalad/engine.h"
#include "jalad/codec.h"
#include "jalad/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define JALAD_NET_PROTOCOL 4 /* 4: dictionary negotiation (HELLO lists ids, DICT upload);
                              * 3: REQUEST payload kinds (u8, png, jpeg, file at cut 0);
                              * 2: coder 8 (huffman-2d); the CRC capability is bit 16 */
#define JALAD_NET_DEFAULT_PORT 7070
#define JALAD_NET_DEFAULT_MAX_FRAME (64u << 20) /* bytes */
#define JALAD_NET_MAX_OUTPUTS 16                  /* graph outputs in a response */
#define JALAD_NET_REQUEST_OVERHEAD 40             /* REQUEST frame bytes besides the payload */
#define JALAD_NET_U8_HEADER 5                     /* u8 payload bytes before the pixels */
#define JALAD_NET_DEFAULT_MAX_IMAGE_PIXELS 25000000u /* file payloads: width x height */
#define JALAD_NET_DEFAULT_DICT_CACHE (4 << 20) /* bytes of uploaded dictionaries' tables */

/* What a REQUEST carries (the same numbers as plan.h's enum
 * jalad_plan_payload, so a planner's choice maps 1:1). */
enum jalad_net_payload {
	JALAD_NET_PAYLOAD_NONE = 0,      /* nothing: edge-only (never on the wire) */
	JALAD_NET_PAYLOAD_CONTAINER = 1, /* codec container of the tensors crossing cut k */
	JALAD_NET_PAYLOAD_U8 = 2,        /* cut 0: the model-sized 8-bit input pixels as they are */
	JALAD_NET_PAYLOAD_PNG = 3,       /* cut 0: those pixels as a PNG */
	JALAD_NET_PAYLOAD_JPEG = 4,      /* cut 0: those pixels as a JPEG */
	JALAD_NET_PAYLOAD_FILE = 5,      /* cut 0: the photo's own file (PNG or JPEG, any size);
	                                  * the cloud applies the full preprocessing, crop included */
	JALAD_NET_PAYLOAD_COUNT
};

/*! Name of a payload kind: "none", "container", "u8", "png", "jpeg", "file"
 *  (the names of jalad_payload_name()), "unknown" otherwise. Static storage. */
JALAD_API const char *jalad_net_payload_name(enum jalad_net_payload p);
/*! Parse one of those names. @return JALAD_OK or JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_net_payload_parse(const char *name, enum jalad_net_payload *out);

/* TLS settings (TLS 1.3 only). Exactly one way to authenticate the server,
 * and the client accepts nothing else (no fallback from one to another):
 *  - certificate: the server has cert_file + key_file; the client a
 *    ca_file its certificate must chain to (and carry server_name), or a
 *    pin_sha256 it must match, or both;
 *  - mutual: as certificate, and a server given a ca_file also requires a
 *    client certificate signed by it (the client's cert_file + key_file);
 *  - external PSK: psk_file on both sides and nothing else; a PSK client
 *    refuses a server that answers with a certificate.
 * A client with neither a ca_file, a pin nor a PSK is refused at creation:
 * it would trust any server. */
struct jalad_tls_opts {
	const char *cert_file;   /* own certificate chain, PEM */
	const char *key_file;    /* its private key, PEM */
	const char *ca_file;     /* trusted certificate(s) the peer's must chain to */
	const char *server_name; /* client: name (or IP) the server's certificate
	                          * must carry (default: the host of the address;
	                          * not checked with a pin alone) */
	const char *psk_file;    /* one line "IDENTITY:HEX" or "HEX" (identity
	                          * "jalad"), 16..64 key bytes */
	const char *pin_sha256;  /* client: SHA-256 of the server's public key
	                          * (DER SubjectPublicKeyInfo) or of its whole
	                          * certificate (DER), 64 hex digits, ':' allowed;
	                          * up to 8 separated by ','. Alone: the chain is
	                          * not checked, the pin is the trust; with ca_file:
	                          * both must hold */
};

/* ------------------------------------------------------------------ server */

struct jalad_server;

struct jalad_server_opts {
	const char *listen;         /* "HOST:PORT" (port 0 = any free port);
	                             * NULL = "127.0.0.1:7070" */
	int allow_remote;           /* 1: a non-loopback address without TLS */
	int workers;                /* inference threads; 0 = online CPUs */
	int threads_per_worker;     /* engine threads per session; 0 = 1 */
	const char *backend;        /* engine backend, NULL = default */
	int queue_cap;              /* requests waiting for a worker; 0 = 2 x workers */
	int max_conns;              /* open connections; 0 = 1024 */
	uint32_t max_frame_bytes;   /* largest frame accepted; 0 = 64 MiB */
	size_t mem_budget_bytes;    /* all receive buffers together; 0 = 512 MiB */
	uint32_t idle_timeout_ms;   /* close connections quiet this long; 0 = 60 s */
	uint32_t stats_interval_ms; /* stats line (info log) period; 0 = never */
	uint32_t drain_timeout_ms;  /* longest wait for in-flight work on stop; 0 = 10 s */
	const struct jalad_tls_opts *tls;        /* NULL = plain TCP; borrowed */
	const struct jalad_codec_dict *const *dicts; /* shared Huffman dicts (e.g. all
	                             * of a calibration's); borrowed, must outlive the server */
	int n_dicts;
	const struct jalad_preprocess *pp; /* the model's preprocessing (scale, mean, std,
	                             * crop; tools/tool_input.c tool_preprocess()), copied at
	                             * create; its size must be the model's input (1, C, H, W).
	                             * NULL: image payloads (u8, png, jpeg, file) are answered
	                             * with an error */
	uint32_t max_image_pixels;  /* file payloads: largest width x height decoded;
	                             * 0 = JALAD_NET_DEFAULT_MAX_IMAGE_PIXELS */
	long long dict_cache_bytes; /* memory for dictionaries edges upload (their
	                             * tables, jalad_codec_dict_footprint()), inside
	                             * mem_budget_bytes; least recently used evicted
	                             * first; 0 = JALAD_NET_DEFAULT_DICT_CACHE,
	                             * < 0 = refuse every upload */
	/* Flood resistance (docs/runtime.md "Limits"). */
	uint32_t hello_timeout_ms;  /* accept to a complete HELLO, TLS handshake
	                             * included; 0 = 10 s */
	uint32_t frame_timeout_ms;  /* a frame, from its first byte, gets this long;
	                             * after it its bytes must have come at min_rate
	                             * on average; 0 = 10 s */
	uint32_t min_rate_bps;      /* bytes/s a frame must average after
	                             * frame_timeout_ms; 0 = 1024 */
	int max_per_source;         /* open connections per source address (IPv4,
	                             * IPv6 /64); 0 = 128, < 0 = no limit. When the
	                             * table is full, the oldest connection that has
	                             * not finished its HELLO is shed for a new one */
	const char *metrics;        /* "HOST:PORT" (or "PORT": loopback) to serve
	                             * Prometheus text on (GET /metrics, plain HTTP);
	                             * a non-loopback host needs allow_remote; NULL = none */
	const char *model_name;     /* the model label of the metrics; NULL = "model" */
};

struct jalad_server_stats {
	uint64_t conns_accepted;    /* since start */
	uint64_t conns_refused;     /* over max_conns, TLS or HELLO failures */
	uint64_t conns_dropped;     /* closed for a protocol violation */
	int conns_open;
	uint64_t requests;          /* REQUEST frames accepted */
	uint64_t responses_ok;      /* answered with status 0 */
	uint64_t responses_err;     /* answered with an error status */
	uint64_t bytes_in, bytes_out;
	int queue_len;              /* waiting for a worker now */
	size_t mem_bytes;           /* receive/response buffers held now */
	uint64_t compute_ns;        /* summed worker time (decode + run) */
	uint64_t requests_by_payload[JALAD_NET_PAYLOAD_COUNT]; /* REQUEST frames per payload
	                             * kind (index 0: kinds this server does not know) */
	uint64_t dict_uploads;      /* DICT frames accepted (new or already held) */
	uint64_t dict_upload_bytes; /* their serialized bytes */
	uint64_t dict_refused;      /* DICT frames refused (cache, budget, corrupt) */
	uint64_t conns_shed;        /* closed, not finished with HELLO, for a newer one
	                             * when the table was full */
	uint64_t conns_full;        /* refused: the table full of connections past HELLO */
	uint64_t conns_per_source;  /* refused: over max_per_source */
	uint64_t handshakes_refused; /* TLS failures and HELLOs refused (protocol,
	                             * model, out-of-bounds fields) */
	uint64_t timeouts_hello;    /* closed: no complete HELLO within hello_timeout_ms */
	uint64_t timeouts_frame;    /* closed: a frame slower than min_rate */
	uint64_t timeouts_idle;     /* closed: quiet for idle_timeout_ms */
	int metrics_port;           /* bound metrics port, 0 = none */
};

/*! Load nothing, bind and listen on opts->listen, start the workers (each
 *  makes its own session of model). The model must outlive the server.
 *  @return JALAD_OK; JALAD_ERR_INVALID_ARG (bad address or options, a bad
 *  opts->pp); JALAD_ERR_MISMATCH (opts->pp does not describe the model's
 *  single float32 input (1, C, H, W));
 *  JALAD_ERR_UNSUPPORTED (a non-loopback address without TLS and without
 *  allow_remote); JALAD_ERR_IO (bind/listen failed, unreadable TLS files);
 *  JALAD_ERR_NOMEM. *out: free with jalad_server_free(). */
JALAD_API enum jalad_status jalad_server_create(const struct jalad_model *model,
						const struct jalad_server_opts *opts,
						struct jalad_server **out);

/*! The bound port (useful with port 0). */
JALAD_API int jalad_server_port(const struct jalad_server *srv);

/*! Run the event loop on the calling thread until jalad_server_stop():
 *  then stop accepting, finish and send the in-flight requests (at most
 *  drain_timeout_ms), say BYE to every client and return.
 *  @return JALAD_OK, or JALAD_ERR_IO if epoll itself fails. */
JALAD_API enum jalad_status jalad_server_run(struct jalad_server *srv);

/*! Ask a running server to drain and return. Async-signal-safe; thread-safe. */
JALAD_API void jalad_server_stop(struct jalad_server *srv);

/*! A snapshot of the counters. Thread-safe. */
JALAD_API void jalad_server_stats(struct jalad_server *srv, struct jalad_server_stats *st);

/*! Stop the workers and free everything. NULL is a no-op. Not while
 *  jalad_server_run() is running on another thread. */
JALAD_API void jalad_server_free(struct jalad_server *srv);

/*! CRC-32C over the ids of n shared dictionaries, in increasing order (0
 *  for none): what HELLO carries so both sides can see they hold the same
 *  set. Thread-safe. */
JALAD_API uint32_t jalad_net_dict_digest(const struct jalad_codec_dict *const *dicts, int n);

/* ------------------------------------------------------------------ client */

struct jalad_client;

struct jalad_client_opts {
	const char *address;         /* "HOST:PORT" of the server */
	const struct jalad_tls_opts *tls; /* NULL = plain TCP; borrowed */
	uint32_t connect_timeout_ms; /* TCP + TLS + HELLO; 0 = 2000 */
	uint32_t backoff_min_ms;     /* first wait after a failure; 0 = 100 */
	uint32_t backoff_max_ms;     /* doubling stops here; 0 = 5000 */
	uint32_t max_frame_bytes;    /* largest response accepted; 0 = 64 MiB */
	uint64_t shape_bps;          /* > 0: pace the sender like a link of this
	                              * many bits/s: each 1448-byte segment (+66
	                              * bytes of headers) is written once the
	                              * link would have carried it (stands in
	                              * for a shaped link when not root) */
	uint32_t shape_burst_bytes;  /* bytes that may go at once after idling
	                              * (a token bucket's depth); 0 = none */
	uint32_t dict_digest;        /* jalad_net_dict_digest() of the shared
	                              * dictionaries this side uses; 0 = none
	                              * (informational) */
	const struct jalad_codec_dict *const *dicts; /* the shared dictionaries
	                              * requests may need (NULLs and duplicates
	                              * skipped; borrowed, must outlive the client):
	                              * HELLO lists their ids (the first 128), the
	                              * server answers which it holds, and one it
	                              * lacks is uploaded with the first request
	                              * that needs it */
	int n_dicts;
	const char *name;            /* sent in HELLO (logs); NULL = "jalad-edge" */
};

#define JALAD_CLIENT_MAX_PENDING 64 /* requests sent and not yet answered */

/* One request: cut k, a payload of kind (see the wire format), and the
 * shared dictionary a container needs (NULL: none). */
struct jalad_client_req {
	uint64_t id;                 /* increasing from request to request */
	int k;
	enum jalad_net_payload kind;
	const uint8_t *payload;      /* len > 0 bytes, borrowed for the call */
	size_t len;
	const struct jalad_codec_dict *dict; /* one given in opts.dicts, or NULL */
	uint32_t timeout_ms;         /* for connecting and sending; 0 = none */
};

/* What one request measured. Times *_ns of the client are its monotonic
 * clock; srv_* are the server's (compare only differences). */
struct jalad_client_result {
	uint64_t id;
	int status;                   /* 0, or the server's enum jalad_status */
	char message[256];            /* the server's error message */
	int n_outputs;
	struct jalad_tensor outputs[JALAD_NET_MAX_OUTPUTS]; /* borrowed, float32,
	                               * valid until the next request */
	size_t bytes_sent;            /* request frame bytes */
	size_t bytes_received;        /* response frame bytes */
	uint64_t send_start_ns, send_end_ns, recv_end_ns;
	uint64_t srv_recv_first_ns, srv_recv_last_ns, srv_send_ns;
	uint32_t srv_first_read_bytes;
	uint64_t srv_queue_ns, srv_decode_ns, srv_compute_ns;
	uint32_t tcp_min_rtt_us;      /* kernel's min RTT of the connection, 0 = unknown */
	int connected_now;            /* 1 if this call (re)connected */
	uint64_t connect_ns;          /* TCP connect time of that connection */
	int dict_uploaded;            /* 1: the request's dictionary went out with it */
	int dict_status;              /* the server's answer to that upload (0: taken) */
	char dict_message[256];       /* why it was refused */
};

/*! Make a client for a model with this SHA-256 (see jalad_model_sha256()).
 *  Does not connect yet. @return JALAD_OK, JALAD_ERR_INVALID_ARG,
 *  JALAD_ERR_IO (TLS files), JALAD_ERR_NOMEM. Free with jalad_client_free(). */
JALAD_API enum jalad_status jalad_client_create(const struct jalad_client_opts *opts,
						const uint8_t model_sha256[32],
						struct jalad_client **out);

/*! Send one request (cut k, a codec container) and wait for its answer for
 *  at most timeout_ms (0 = no limit). The same as
 *  jalad_client_request_payload() with JALAD_NET_PAYLOAD_CONTAINER. Connects first if needed, unless a
 *  previous failure's backoff has not yet run out (then it fails at once
 *  with JALAD_ERR_CLOSED, without touching the network).
 *  @return JALAD_OK with res filled; the status the server answered with
 *  (res->status, res->message) if it could not serve the request;
 *  JALAD_ERR_TIMEOUT (the connection is kept if the request was fully sent;
 *  the late answer will be skipped); JALAD_ERR_CLOSED / JALAD_ERR_IO (the
 *  connection is gone; the next call reconnects, after the backoff if
 *  connecting fails); JALAD_ERR_PROTOCOL / JALAD_ERR_MISMATCH (a bad frame,
 *  another model on the server); JALAD_ERR_LIMIT (over the server's frame
 *  limit, nothing sent). res is filled as far as the request got.
 *  Never raises SIGPIPE. */
JALAD_API enum jalad_status jalad_client_request(struct jalad_client *c, uint64_t id, int k,
						 const uint8_t *container, size_t len,
						 uint32_t timeout_ms, struct jalad_client_result *res);

/*! Send one request whose payload (len > 0 bytes, borrowed) is of kind
 *  (CONTAINER .. FILE; see the wire format above: the caller formats it,
 *  e.g. the u8 header) and wait for its answer, as jalad_client_request().
 *  An image payload the server cannot take is answered with an error
 *  status (res->status, res->message). @return as jalad_client_request();
 *  JALAD_ERR_INVALID_ARG for kind NONE or an unknown kind. */
JALAD_API enum jalad_status jalad_client_request_payload(struct jalad_client *c, uint64_t id, int k,
							 enum jalad_net_payload kind, const uint8_t *payload,
							 size_t len, uint32_t timeout_ms,
							 struct jalad_client_result *res);

/*! Send one request and return without waiting for its answer, so that
 *  up to JALAD_CLIENT_MAX_PENDING requests can be on the wire and in the
 *  server at once (the server answers them in order). Connects first if
 *  needed (as jalad_client_request()). If rq->dict is one the server does
 *  not hold, it is uploaded in the same write. res gets the send side
 *  (send times, bytes_sent including an upload, connected_now).
 *  @return JALAD_OK; JALAD_ERR_LIMIT (too many pending, or over the
 *  server's frame limit); JALAD_ERR_CLOSED / JALAD_ERR_IO / JALAD_ERR_TIMEOUT
 *  (not sent; the connection is closed and requests pending on it fail);
 *  JALAD_ERR_INVALID_ARG. */
JALAD_API enum jalad_status jalad_client_send(struct jalad_client *c, const struct jalad_client_req *rq,
					      struct jalad_client_result *res);

/*! Wait at most timeout_ms (0 = no limit) for the answer to request id, sent
 *  with jalad_client_send(); answers to older requests given up on are
 *  skipped. res (as filled by the send) gets the rest: the outputs, the
 *  server's times, and dict_status if a dictionary went with it.
 *  @return as jalad_client_request(); JALAD_ERR_CLOSED if the connection
 *  the request went out on is gone (it will not be answered). */
JALAD_API enum jalad_status jalad_client_recv(struct jalad_client *c, uint64_t id, uint32_t timeout_ms,
					      struct jalad_client_result *res);

/*! 1 if the server refused to take dictionary d (it will not be sent again). */
JALAD_API int jalad_client_dict_refused(const struct jalad_client *c, const struct jalad_codec_dict *d);

/*! 1 if a connection is open now. */
JALAD_API int jalad_client_connected(const struct jalad_client *c);

/*! The connection's socket, to poll() for an answer (-1 when not
 *  connected), and whether TLS already holds decrypted bytes of one (then
 *  poll may not wake: read at once). */
JALAD_API int jalad_client_fd(const struct jalad_client *c);
JALAD_API int jalad_client_pending(const struct jalad_client *c);

/*! Say BYE, close, free. NULL is a no-op. */
JALAD_API void jalad_client_free(struct jalad_client *c);

/* --------------------------------------------------------------- estimator */

/* Uplink bandwidth and RTT from the edge's own requests, no probe traffic.
 * Each answered request gives a sample: the request's bytes S, the time it
 * spent on the network (round trip minus the time the server held it), the
 * span over which the server received it, and the kernel's min RTT. The
 * bandwidth of a sample is S over its network time minus the RTT, or the
 * server-side arrival rate when that span is long enough (or a lower bound
 * for messages too small to tell); the estimate is the largest of the last
 * `window` samples, since disturbances only ever make a request look slower. */
struct jalad_estimator;

struct jalad_net_sample {
	size_t bytes;             /* request frame bytes */
	uint64_t net_ns;          /* round trip minus server hold */
	uint64_t srv_span_ns;     /* recv_last - recv_first on the server */
	uint32_t srv_first_bytes; /* bytes of the request in the server's first read */
	uint32_t min_rtt_us;      /* kernel min RTT, 0 = unknown */
	uint64_t connect_ns;      /* TCP connect time if it just connected, else 0 */
};

/*! window: samples the estimate is the maximum of (0 = 3, at most 15).
 *  Free with jalad_estimator_free(). */
JALAD_API enum jalad_status jalad_estimator_create(int window, struct jalad_estimator **out);
JALAD_API void jalad_estimator_free(struct jalad_estimator *e);
/*! Add one sample. Samples too small to say anything about the bandwidth
 *  still update the RTT. */
JALAD_API void jalad_estimator_add(struct jalad_estimator *e, const struct jalad_net_sample *s);
/*! Current estimates. @return 1 if a bandwidth estimate exists (else
 *  *bw_bps is left alone), *rtt_ms is set when known (else left alone). */
JALAD_API int jalad_estimator_get(const struct jalad_estimator *e, double *bw_bps, double *rtt_ms);
/*! Forget every sample (a new link). */
JALAD_API void jalad_estimator_reset(struct jalad_estimator *e);

/* -------------------------------------------------------------------- edge */

struct jalad_edge;

/* One execution plan the edge may use, with the planner's predicted costs:
 * predicted latency = a * edge_ms + (k < n ? b * cloud_ms + rtt + 8 * bytes / bw : 0)
 * (bytes are the whole request frame: payload + JALAD_NET_REQUEST_OVERHEAD)
 * where a and b correct the profiles by what the edge measures: for each
 * plan, the ratio of measured to predicted edge compute (and server hold
 * time) over its recent requests (1 until it has run). */
struct jalad_edge_plan {
	int k;                    /* cut: edge runs [0, k), cloud [k, n) */
	int bits;                 /* 0 = float32, else 1..8 or 16 */
	int per_channel;          /* quantizer ranges per channel (codec.h) */
	enum jalad_coder coder;
	double edge_ms;           /* E(k) + encode on this edge (its slowdown
	                           * included); < 0 = unknown (no prediction) */
	double cloud_ms;          /* decode + C(k) on the server */
	double bytes;             /* mean request bytes on the wire */
	double accuracy;          /* calibration accuracy (informational), < 0 unknown */
	const struct jalad_codec_dict *dict; /* for huffman-shared / auto; borrowed,
	                           * must outlive the edge */
	enum jalad_net_payload payload; /* what is sent: CONTAINER (bits, per_channel,
	                           * coder, dict apply), or at k = 0 U8, PNG, JPEG or FILE
	                           * (those four ignore bits and coder, and need the
	                           * request's image: jalad_edge_infer_image()). NONE
	                           * (0) means the default: CONTAINER, or nothing at k = n */
	int jpeg_quality;         /* JPEG payload quality 1..100; 0 = 90 */
};

struct jalad_edge_opts {
	struct jalad_client_opts client;
	const char *backend;      /* engine backend of the edge's session */
	int threads;              /* engine threads; 0 = 1 */
	double slowdown;          /* >= 1: sleep (F-1) x each measured edge compute */
	uint32_t deadline_ms;     /* 0 = none: wait for the cloud as long as it takes */
	double hysteresis;        /* switch only if the new plan is predicted this
	                           * fraction faster; 0 = 0.1, < 0 = none */
	int explore_every;        /* on an edge-only plan, send one request with
	                           * the best split plan after this many; 0 = 20 */
	double init_bw_bps;       /* prior before the first sample; 0 = 10 Mbit/s */
	double init_rtt_ms;       /* prior RTT; 0 = 1 ms */
	int verify;               /* also compute [k, n) locally (from the float
	                           * tensors, whatever the payload) and compare */
};

/* The photo a request's input tensor was made from, for the image payloads:
 * with U8, PNG and JPEG the edge makes the model-sized 8-bit image
 * (jalad_image_resample(image, pp)) and sends it as it is or encoded (the
 * time counts as encode time); with FILE it sends file as it is. */
struct jalad_edge_image {
	const struct jalad_image *image;   /* the decoded photo, any size; borrowed; may be NULL */
	const struct jalad_preprocess *pp; /* the preprocessing that made the float input
	                                    * from image (its size must be the model's input) */
	const uint8_t *file;               /* the photo's own PNG/JPEG file; borrowed; may be NULL */
	size_t file_bytes;
};

struct jalad_edge_result {
	uint64_t id;
	int plan;                 /* index of the plan used */
	int k, bits, per_channel;
	enum jalad_coder coder;
	enum jalad_net_payload payload; /* what was sent: NONE for k = n; CONTAINER
	                           * (8 bits, raw, when the plan's image payload
	                           * had no image or file to send) ... FILE */
	size_t bytes;             /* request frame bytes sent (0 for k = n) */
	double edge_ms;           /* [0, k) on the edge, slowdown included */
	double encode_ms;         /* codec encode, or making the image payload
	                           * (resample + PNG/JPEG encode), slowdown included */
	double net_ms;            /* round trip minus the server's hold time */
	double cloud_ms;          /* server hold time: queue + decode + [k, n) */
	double fallback_ms;       /* local [k, n) after a failure, slowdown included */
	double total_ms;          /* start to answer */
	double predicted_ms;      /* < 0 if the plan has no prediction */
	int dict_uploaded;        /* 1: the plan's shared dictionary went out with it */
	int dict_refused;         /* 1: the server refused it; the request went again
	                           * coded without it, and plans needing it are
	                           * not chosen again */
	int bad_answer;           /* 1: the cloud answered with outputs of the wrong
	                           * count or shape, or non-finite values; not taken
	                           * (a fallback: [k, n) ran here) */
	int fallback;             /* 1: [k, n) ran on the edge */
	enum jalad_status cloud_status; /* why it fell back (JALAD_OK otherwise) */
	char reason[160];         /* the error message of that failure */
	int switched;             /* 1: the plan changed before this request */
	int explored;             /* 1: an exploration request (see explore_every) */
	double bw_bps, rtt_ms;    /* estimates after this request (bw < 0: none) */
	double edge_scale;        /* this plan's measured / predicted edge compute
	                           * (decayed sums, in [0.25, 8]); predictions use it */
	double cloud_scale;       /* the same for the server's hold time */
	double verify_max_abs;    /* with verify: max |cloud - local| (-1: not checked) */
	int n_outputs;
	struct jalad_tensor outputs[JALAD_NET_MAX_OUTPUTS]; /* borrowed until next call */
};

/*! Make an edge: a session of model, a codec context, a client. plans
 *  (copied) are the candidates; with one plan the edge never switches. A
 *  plan with k = n is edge-only. The model must outlive the edge.
 *  @return JALAD_OK, JALAD_ERR_INVALID_ARG (bad plan: k out of range, an
 *  image payload at k > 0, a bad JPEG quality), JALAD_ERR_UNSUPPORTED (a
 *  crossing tensor that is not float32; an image payload for a model whose
 *  input is not one (1, C, H, W) image with C = 1 or 3), errors of the
 *  session or client.
 *  Free with jalad_edge_free(). */
JALAD_API enum jalad_status jalad_edge_create(const struct jalad_model *model,
					      const struct jalad_edge_opts *opts,
					      const struct jalad_edge_plan *plans, int n_plans,
					      struct jalad_edge **out);

/*! Run one input (graph input 0, float32) through the current plan.
 *  Network failures never fail the call: they fall back. The same as
 *  jalad_edge_infer_image() without an image. @return JALAD_OK, or an
 *  engine/codec error on the edge itself. */
JALAD_API enum jalad_status jalad_edge_infer(struct jalad_edge *e, const struct jalad_tensor *input,
					     struct jalad_edge_result *res);

/*! Run one input through the current plan, with the photo it was made from
 *  (src, borrowed; may be NULL) for the image payloads. A plan whose
 *  payload needs what src lacks (U8/PNG/JPEG: image and pp; FILE: file)
 *  sends the 8-bit raw container of the input instead (res->payload says
 *  CONTAINER). Fallbacks compute [k, n) from the float input, as always.
 *  @return JALAD_OK; JALAD_ERR_SHAPE (src->pp is not the model's input
 *  size); an engine, codec or image encoder error on the edge itself. */
JALAD_API enum jalad_status jalad_edge_infer_image(struct jalad_edge *e, const struct jalad_tensor *input,
						   const struct jalad_edge_image *src,
						   struct jalad_edge_result *res);

/* A stream of frames with several in flight (jalad_edge_stream). */
struct jalad_edge_frame {
	const struct jalad_tensor *input;   /* graph input 0, float32 */
	const struct jalad_edge_image *src; /* for image payloads; may be NULL */
	uint64_t tag;                       /* handed back with the result */
};
/* Fill *f with frame seq (0, 1, ...). Called on the stream's head thread,
 * one frame at a time; what f points to must stay valid until the next
 * call (the head has then copied what it needs). @return 1 for a frame,
 * 0 at the end, < 0 to stop with an error. */
typedef int (*jalad_edge_source_fn)(void *ctx, uint64_t seq, struct jalad_edge_frame *f);
/* One result, in frame order, on the caller's thread; r and its outputs
 * are valid during the call. @return 0 to go on, nonzero to stop. */
typedef int (*jalad_edge_sink_fn)(void *ctx, uint64_t tag, const struct jalad_edge_result *r);

/*! Run frames from source through the edge with up to depth (1..64)
 *  frames in flight: a head thread runs [0, k) and encodes frame i + 1
 *  while frame i is on the wire and in the cloud; the calling thread sends,
 *  receives (the server answers in order), computes [k, n) locally for a
 *  frame the cloud does not answer (fallback, as jalad_edge_infer_image()),
 *  re-plans, and calls sink in frame order. Nothing is lost: every frame
 *  the source gave is handed to sink, unless sink stops the stream or the
 *  edge itself fails. The bandwidth estimator learns only from requests
 *  sent while none other was in flight (one that queued behind another
 *  says little about the link). A second session is made for fallbacks.
 *  Not with opts.verify. @return JALAD_OK; JALAD_ERR_INVALID_ARG (depth, a
 *  source error); JALAD_ERR_UNSUPPORTED (verify); an engine or codec error
 *  on the edge. */
JALAD_API enum jalad_status jalad_edge_stream(struct jalad_edge *e, int depth, jalad_edge_source_fn source,
					      jalad_edge_sink_fn sink, void *ctx);

/*! Tell the edge the uplink's bandwidth (bw_bps > 0) and RTT (rtt_ms >= 0;
 *  < 0 keeps its own estimate), as an oracle that knows the link would, or
 *  a measurement made elsewhere: they replace its own estimates from now
 *  on (until the next call; 0 and -1 give them back), and it re-plans at
 *  once. Not thread-safe against a running jalad_edge_stream(). */
JALAD_API void jalad_edge_set_link(struct jalad_edge *e, double bw_bps, double rtt_ms);

/*! The plan the next request will use (index into the plans given). */
JALAD_API int jalad_edge_current_plan(const struct jalad_edge *e);

/*! Predicted latency (ms) of plan i at bandwidth bw_bps and rtt_ms; < 0 if
 *  the plan has no costs. Thread-safe. */
JALAD_API double jalad_edge_plan_predict(const struct jalad_edge *e, int i, double bw_bps, double rtt_ms);

JALAD_API void jalad_edge_free(struct jalad_edge *e);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_NET_H */
