/*
 * Private parts of the net module: the wire format (frames and messages),
 * socket + TLS helpers shared by the server and the client.
 */
#ifndef JALAD_NET_IMPL_H
#define JALAD_NET_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "jalad/net.h"
#include "common/common_impl.h"

/* ================================================================ frames */

#define JALAD_FRAME_MAGIC 0x4E444C4Au /* "JLDN" read as u32 LE */
#define JALAD_FRAME_VERSION 1
#define JALAD_FRAME_HDR 12u   /* magic, version, type, flags, length */
#define JALAD_FRAME_TRAILER 4u /* CRC-32C of header + payload */
#define JALAD_FRAME_OVERHEAD (JALAD_FRAME_HDR + JALAD_FRAME_TRAILER)

enum jalad_frame_type {
	JALAD_FRAME_HELLO = 1,
	JALAD_FRAME_REQUEST = 2,
	JALAD_FRAME_RESPONSE = 3,
	JALAD_FRAME_ERROR = 4,
	JALAD_FRAME_BYE = 5,
	JALAD_FRAME_DICT = 6,     /* protocol 4: edge -> server, a shared dictionary */
	JALAD_FRAME_DICT_ACK = 7, /* server -> edge: taken or refused */
};
#define JALAD_FRAME_TYPE_MAX JALAD_FRAME_DICT_ACK

/* Small frames have their own, much lower limits than requests. */
#define JALAD_HELLO_MAX 1024u
#define JALAD_ERROR_MAX 1024u
#define JALAD_DICT_MAX (4u + JALAD_CODEC_DICT_MAX_BYTES)
#define JALAD_DICT_ACK_MAX 1024u

struct jalad_frame_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t length; /* payload bytes */
};

/* Write a 12-byte header. */
void jalad_frame_hdr_write(uint8_t *p, enum jalad_frame_type type, uint16_t flags, uint32_t length);

/* Parse and validate a header: magic, version, a known type, flags 0, and
 * length <= max_payload (and the per-type limits).
 * @return JALAD_OK, JALAD_ERR_FORMAT (magic/type/flags), JALAD_ERR_UNSUPPORTED
 * (version), JALAD_ERR_LIMIT (length). */
enum jalad_status jalad_frame_hdr_parse(const uint8_t p[JALAD_FRAME_HDR], uint32_t max_payload,
					struct jalad_frame_hdr *h);

/* CRC of header + payload, as stored in the trailer. */
uint32_t jalad_frame_crc(const uint8_t *hdr, const uint8_t *payload, size_t len);

/* Check the trailer of a complete frame whose header and payload are given.
 * @return JALAD_OK or JALAD_ERR_CHECKSUM. */
enum jalad_status jalad_frame_check(const uint8_t *hdr, const uint8_t *payload, size_t len,
				    const uint8_t trailer[JALAD_FRAME_TRAILER]);

/* Parse a whole frame held in buf[0..len): header, payload view, CRC.
 * @return JALAD_OK, JALAD_ERR_TRUNCATED (fewer bytes than declared; *need
 * gets the full size when the header is complete), or a header error. */
enum jalad_status jalad_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
				    struct jalad_frame_hdr *h, const uint8_t **payload, size_t *need);

/* ============================================================== messages */

#define JALAD_HELLO_NAME_MAX 63
#define JALAD_HELLO_MAX_DICTS 128 /* dictionary ids a HELLO may list */
#define JALAD_MIN_MAX_FRAME 1024u /* a peer's HELLO max_frame below this is refused */
#define JALAD_MSG_TEXT_MAX 255

/* Capability bits of HELLO. Coders are bits 0..7 (1 << coder). */
#define JALAD_CAP_CODERS_MASK 0xFFFFu
#define JALAD_CAP_CRC (1u << 16) /* containers may carry a CRC */
#define JALAD_CAP_IMAGES (1u << 17) /* server: takes the image payloads (it has the
                                     * model's preprocessing); informational */

struct jalad_msg_hello {
	uint32_t protocol;
	uint8_t sha256[32];
	uint32_t caps;
	uint32_t max_frame;
	uint32_t dict_digest;
	char name[JALAD_HELLO_NAME_MAX + 1];
	/* protocol >= 4: the edge lists the ids of the shared dictionaries it
	 * may use, the server answers with those of them it holds */
	int n_dicts;
	uint32_t dicts[JALAD_HELLO_MAX_DICTS];
};

/* DICT: u32 id, then the serialized dictionary (jalad_codec_dict_save()),
 * whose own CRC is the id. DICT_ACK: u32 id, i32 status (0: the server holds
 * it now), u16 len + message. */
struct jalad_msg_dict {
	uint32_t id;
	const uint8_t *data;      /* view into the frame payload */
	size_t len;
};
struct jalad_msg_dict_ack {
	uint32_t id;
	int32_t status;
	char message[JALAD_MSG_TEXT_MAX + 1];
};

#define JALAD_REQUEST_FIXED 24u /* id, k, payload kind, edge_ts */
struct jalad_msg_request {
	uint64_t id;
	uint32_t k;
	uint32_t kind;            /* enum jalad_net_payload; the parser does not judge it
	                           * (an unknown kind is answered with an error status) */
	uint64_t edge_ts;
	const uint8_t *payload;   /* view into the frame payload */
	size_t payload_len;
};

#define JALAD_RESPONSE_FIXED 72u
struct jalad_msg_response {
	uint64_t id;
	int32_t status;
	uint64_t edge_ts;
	uint64_t recv_first_ns, recv_last_ns, send_ns;
	uint32_t first_read_bytes;
	uint64_t queue_ns, decode_ns, compute_ns;
	/* status 0: outputs, with data pointing into the payload (unaligned,
	 * little-endian floats: read with jalad_get_f32) */
	int n_outputs;
	struct {
		int ndim;
		int64_t dims[JALAD_MAX_DIMS];
		uint64_t count;
		const uint8_t *data;
	} out[JALAD_NET_MAX_OUTPUTS];
	/* status != 0 */
	char message[JALAD_MSG_TEXT_MAX + 1];
};

struct jalad_msg_error {
	uint64_t id;
	int32_t code;
	char message[JALAD_MSG_TEXT_MAX + 1];
};

/* Encoders write a complete frame (header, payload, CRC) into dst[0..cap)
 * and return its size in *len; JALAD_ERR_LIMIT if cap is too small. */
enum jalad_status jalad_msg_hello_write(const struct jalad_msg_hello *m, uint8_t *dst, size_t cap,
					size_t *len);
enum jalad_status jalad_msg_error_write(uint64_t id, int32_t code, const char *msg, uint8_t *dst,
					size_t cap, size_t *len);
size_t jalad_msg_bye_write(uint8_t dst[JALAD_FRAME_OVERHEAD]);
enum jalad_status jalad_msg_dict_write(uint32_t id, const uint8_t *data, size_t len, uint8_t *dst, size_t cap,
				       size_t *out_len);
enum jalad_status jalad_msg_dict_ack_write(uint32_t id, int32_t status, const char *msg, uint8_t *dst, size_t cap,
					   size_t *len);

/* A REQUEST frame is written in two parts so the payload need not be
 * copied: the header + fixed fields, then the payload, then the CRC. */
void jalad_msg_request_head(const struct jalad_msg_request *m, uint8_t dst[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED]);
uint32_t jalad_msg_request_crc(const uint8_t head[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED],
			       const uint8_t *payload, size_t len);

/* Size of a RESPONSE frame carrying these outputs (float32). */
size_t jalad_msg_response_size(int n_outputs, const struct jalad_tensor *outs);
/* Write a RESPONSE frame. Outputs must be float32. For status != 0 pass
 * n_outputs 0 and a message. */
enum jalad_status jalad_msg_response_write(const struct jalad_msg_response *m,
					   const struct jalad_tensor *outs, const char *message,
					   uint8_t *dst, size_t cap, size_t *len);

/* Decoders take a frame payload (already CRC-checked) and validate every
 * field against its end. @return JALAD_OK, JALAD_ERR_TRUNCATED,
 * JALAD_ERR_FORMAT, JALAD_ERR_LIMIT. */
enum jalad_status jalad_msg_hello_parse(const uint8_t *p, size_t len, struct jalad_msg_hello *m);
enum jalad_status jalad_msg_request_parse(const uint8_t *p, size_t len, struct jalad_msg_request *m);
enum jalad_status jalad_msg_response_parse(const uint8_t *p, size_t len, struct jalad_msg_response *m);
enum jalad_status jalad_msg_error_parse(const uint8_t *p, size_t len, struct jalad_msg_error *m);
enum jalad_status jalad_msg_dict_parse(const uint8_t *p, size_t len, struct jalad_msg_dict *m);
enum jalad_status jalad_msg_dict_ack_parse(const uint8_t *p, size_t len, struct jalad_msg_dict_ack *m);

/* Map a status code received from a peer to a local status (unknown codes
 * become JALAD_ERR_INTERNAL, never JALAD_OK). */
enum jalad_status jalad_net_status_from_wire(int32_t code);

/* ================================================================ images */

/* 1 for U8, PNG, JPEG and FILE. */
static inline int jalad_net_payload_is_image(uint32_t kind)
{
	return kind >= JALAD_NET_PAYLOAD_U8 && kind <= JALAD_NET_PAYLOAD_FILE;
}

enum jalad_net_image_format { JALAD_NET_IMAGE_PNG = 1, JALAD_NET_IMAGE_JPEG = 2 };

/* Format and size of a PNG or JPEG from its header (PNG: IHDR; JPEG: the
 * first SOFn segment), without decoding anything: what the decoder will
 * produce (gray and gray+alpha 1 channel, RGB, RGBA and palette 3).
 * @return JALAD_OK, JALAD_ERR_TRUNCATED, JALAD_ERR_FORMAT (neither, or a
 * corrupt header), JALAD_ERR_UNSUPPORTED (e.g. CMYK). */
enum jalad_status jalad_net_image_peek(const uint8_t *p, size_t len, int *format, uint32_t *width,
				       uint32_t *height, int *channels);

/* Edge: the U8, PNG or JPEG payload of img under pp (the model-sized 8-bit
 * image of jalad_image_resample(), then the u8 header + pixels, or a PNG
 * with libpng's defaults, or a JPEG at quality) into *buf (grown with
 * realloc as needed; *cap its size), *len bytes. *resample_ns (may be
 * NULL) gets the time the resample took: the preprocessing any plan does,
 * which the edge does not count as encoding. */
enum jalad_status jalad_net_image_payload(enum jalad_net_payload kind, const struct jalad_image *img,
					  const struct jalad_preprocess *pp, int quality, uint8_t **buf,
					  size_t *cap, size_t *len, uint64_t *resample_ns);

/* A PNG of img (libpng's simplified writer, its defaults) into *buf, as above. */
enum jalad_status jalad_net_png_encode(const struct jalad_image *img, uint8_t **buf, size_t *cap, size_t *len);

/* Server: check an image payload against the model's input (pp's size) and
 * limits before anything is allocated, decode it, and write the model's
 * input tensor into dst[dst_len] (U8/PNG/JPEG: normalized as they are;
 * FILE: pp's full preprocessing). max_pixels bounds a file's width x height.
 * @return JALAD_OK or an error naming the problem (JALAD_ERR_SHAPE: not the
 * model's size; JALAD_ERR_FORMAT / JALAD_ERR_TRUNCATED / JALAD_ERR_UNSUPPORTED:
 * does not decode; JALAD_ERR_LIMIT: too large). */
enum jalad_status jalad_net_image_input(enum jalad_net_payload kind, const uint8_t *p, size_t len,
					const struct jalad_preprocess *pp, uint32_t max_pixels, float *dst,
					size_t dst_len);

/* ================================================================ sockets */

/* Parse "HOST:PORT" or "[V6]:PORT" (HOST may be a name). */
enum jalad_status jalad_net_parse_addr(const char *s, char *host, size_t host_cap, int *port);
/* 1 if addr is a loopback address. */
int jalad_net_is_loopback(const struct sockaddr *sa);
/* Non-blocking, close-on-exec listening socket on host:port. */
enum jalad_status jalad_net_listen(const char *host, int port, int backlog, int *fd_out, int *bound_port,
				   int *loopback);
/* Connect with a timeout; the socket is left non-blocking with TCP_NODELAY.
 * *connect_ns gets the time the TCP handshake took. */
enum jalad_status jalad_net_connect(const char *host, int port, uint32_t timeout_ms, int *fd_out,
				    uint64_t *connect_ns);
enum jalad_status jalad_net_set_nonblock(int fd);
void jalad_net_set_nodelay(int fd);
/* Kernel's min RTT for a TCP socket in microseconds, 0 if unknown. */
uint32_t jalad_net_min_rtt_us(int fd);
/* "1.2.3.4:5678" of the peer. */
void jalad_net_peer_name(int fd, char *buf, size_t cap);

/* ================================================================ TLS */

struct jalad_tls;        /* an SSL_CTX plus the PSK */
struct jalad_tls_conn;   /* an SSL */

enum jalad_status jalad_tls_create(const struct jalad_tls_opts *o, int server, struct jalad_tls **out);
void jalad_tls_free(struct jalad_tls *t);
enum jalad_status jalad_tls_conn_create(struct jalad_tls *t, int fd, const char *server_name,
					struct jalad_tls_conn **out);
void jalad_tls_conn_free(struct jalad_tls_conn *c);

/* Results of the non-blocking I/O primitives. */
#define JALAD_IO_WANT_READ (-1001)
#define JALAD_IO_WANT_WRITE (-1002)
#define JALAD_IO_EOF (-1003)
#define JALAD_IO_ERROR (-1004)

/* One step of the handshake: 0 done, WANT_READ/WANT_WRITE, or ERROR (with
 * jalad_last_error() set). */
int jalad_tls_handshake(struct jalad_tls_conn *c);

/* Send a close_notify alert if it can go without blocking (best effort). */
void jalad_tls_close_notify(struct jalad_tls_conn *c);

/* A connection's byte stream, plain or TLS. */
struct jalad_stream {
	int fd;
	struct jalad_tls_conn *tls; /* NULL = plain */
};
/* Read/write up to n bytes: > 0 bytes done, or one of JALAD_IO_*. */
long jalad_stream_read(struct jalad_stream *s, void *buf, size_t n);
long jalad_stream_write(struct jalad_stream *s, const void *buf, size_t n);
/* 1 if TLS holds decrypted bytes not read yet. */
int jalad_stream_pending(const struct jalad_stream *s);

/* ================================================================ metrics */

/* The server's Prometheus endpoint (net_metrics.c): a histogram type, the
 * text exposition of the counters, and a tiny HTTP/1.x responder for
 * GET /metrics, whose sockets live in the server's epoll set. */

#define JALAD_METRICS_BUCKETS 15 /* finite upper bounds; +Inf follows */
struct jalad_metrics_hist {
	uint64_t bucket[JALAD_METRICS_BUCKETS + 1]; /* non-cumulative; last: +Inf */
	uint64_t count;
	uint64_t sum_ns;
};
void jalad_metrics_observe(struct jalad_metrics_hist *h, uint64_t ns);

/* What the text shows; all borrowed. */
struct jalad_metrics_view {
	const struct jalad_server_stats *st;
	const char *model;                   /* label value (escaped when written) */
	int n_cuts;
	const struct jalad_metrics_hist *hold; /* [n_cuts]: server hold time per cut */
	int max_conns, queue_cap, handshaking;
};
/* Render the exposition (text format 0.0.4) into *buf (grown with realloc;
 * *cap its size), *len bytes. */
enum jalad_status jalad_metrics_render(const struct jalad_metrics_view *v, char **buf, size_t *cap, size_t *len);

struct jalad_metrics_srv;
/* Fills buf, cap and len with the page (as jalad_metrics_render()). */
typedef enum jalad_status (*jalad_metrics_page_fn)(void *user, char **buf, size_t *cap, size_t *len);
/* Listen on addr ("HOST:PORT", or "PORT" meaning 127.0.0.1), registered in
 * ep with event tags tag (the listening socket) .. tag + JALAD_METRICS_CONNS.
 * A non-loopback host needs allow_remote. */
#define JALAD_METRICS_CONNS 8
enum jalad_status jalad_metrics_srv_create(const char *addr, int allow_remote, int ep, uint64_t tag,
					   jalad_metrics_page_fn page, void *user, struct jalad_metrics_srv **out);
int jalad_metrics_srv_port(const struct jalad_metrics_srv *m);
/* 1 if the event tag is one of m's. */
int jalad_metrics_srv_owns(const struct jalad_metrics_srv *m, uint64_t tag);
void jalad_metrics_srv_event(struct jalad_metrics_srv *m, uint64_t tag, uint32_t events);
/* Close connections past their deadline. */
void jalad_metrics_srv_timers(struct jalad_metrics_srv *m, uint64_t now_ns);
/* NULL is a no-op. */
void jalad_metrics_srv_free(struct jalad_metrics_srv *m);

#endif /* JALAD_NET_IMPL_H */
