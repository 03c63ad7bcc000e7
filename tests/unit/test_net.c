/* The net module: wire format round trips, truncated and garbage frames,
 * the estimator, and a real server and client on loopback with short reads
 * injected on both sides; the image payloads at cut 0 (u8, PNG, JPEG, the
 * photo's file) end to end through a tap that records the frames on the
 * wire, and malformed ones. The models are two-node ONNX graphs built
 * here: x -> Relu -> Neg, so the output is minus the input tensor the
 * server built, which the tests compare value for value. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "jalad/data.h"
#include "jalad/net.h"
#include "net/net_impl.h"
#include "testing.h"

/* ================================================================ helpers */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	nanosleep(&ts, NULL);
}

/* A tiny protobuf writer for the test model. */
struct pb {
	uint8_t b[4096];
	size_t n;
};

static void pb_varint(struct pb *p, uint64_t v)
{
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		p->b[p->n++] = c | (v ? 0x80 : 0);
	} while (v);
}

static void pb_bytes(struct pb *p, int field, const void *d, size_t n)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, n);
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void pb_str(struct pb *p, int field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_int(struct pb *p, int field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

static void pb_msg(struct pb *p, int field, const struct pb *m)
{
	pb_bytes(p, field, m->b, m->n);
}

/* ValueInfoProto of a float tensor of shape dims[nd]. */
static void value_info_dims(struct pb *out, int field, const char *name, const int *dims, int nd)
{
	struct pb shape = { .n = 0 }, tt = { .n = 0 }, type = { .n = 0 }, vi = { .n = 0 };
	for (int i = 0; i < nd; i++) {
		struct pb d = { .n = 0 };
		pb_int(&d, 1, (uint64_t)dims[i]);
		pb_msg(&shape, 1, &d);
	}
	pb_int(&tt, 1, 1); /* FLOAT */
	pb_msg(&tt, 2, &shape);
	pb_msg(&type, 1, &tt);
	pb_str(&vi, 1, name);
	pb_msg(&vi, 2, &type);
	pb_msg(out, field, &vi);
}

static void node(struct pb *g, const char *in, const char *out, const char *name, const char *op)
{
	struct pb n = { .n = 0 };
	pb_str(&n, 1, in);
	pb_str(&n, 2, out);
	pb_str(&n, 3, name);
	pb_str(&n, 4, op);
	pb_msg(g, 1, &n);
}

/* x (dims) -> Relu -> a -> Neg -> y: two nodes, cuts 0, 1, 2. */
static struct jalad_model *relu_neg_model(const char *second_op, const int *dims, int nd)
{
	struct pb g = { .n = 0 }, m = { .n = 0 }, os = { .n = 0 };
	node(&g, "x", "a", "relu", "Relu");
	node(&g, "a", "y", "neg", second_op);
	pb_str(&g, 2, "tiny");
	value_info_dims(&g, 11, "x", dims, nd);
	value_info_dims(&g, 12, "y", dims, nd);
	pb_int(&os, 2, 13);
	pb_int(&m, 1, 7);
	pb_msg(&m, 7, &g);
	pb_msg(&m, 8, &os);
	struct jalad_model *model = NULL;
	if (jalad_model_load_buffer(m.b, m.n, NULL, &model) != JALAD_OK)
		fprintf(stderr, "tiny model: %s\n", jalad_last_error());
	return model;
}

/* x (1,4) -> Relu -> a -> Neg -> y. */
static struct jalad_model *tiny_model(const char *second_op)
{
	const int dims[2] = { 1, 4 };
	return relu_neg_model(second_op, dims, 2);
}

/* ================================================================ wire */

static void test_header(void)
{
	uint8_t h[JALAD_FRAME_HDR];
	struct jalad_frame_hdr fh;
	jalad_frame_hdr_write(h, JALAD_FRAME_REQUEST, 0, 1234);
	CHECK(jalad_frame_hdr_parse(h, 4096, &fh) == JALAD_OK);
	CHECK(fh.type == JALAD_FRAME_REQUEST && fh.length == 1234 && fh.version == 1 && fh.flags == 0);
	CHECK(memcmp(h, "JLDN", 4) == 0);
	CHECK(jalad_frame_hdr_parse(h, 1000, &fh) == JALAD_ERR_LIMIT);

	uint8_t b[JALAD_FRAME_HDR];
	memcpy(b, h, sizeof b);
	b[0] = 'X';
	CHECK(jalad_frame_hdr_parse(b, 4096, &fh) == JALAD_ERR_FORMAT);
	memcpy(b, h, sizeof b);
	b[4] = 2;
	CHECK(jalad_frame_hdr_parse(b, 4096, &fh) == JALAD_ERR_UNSUPPORTED);
	memcpy(b, h, sizeof b);
	b[5] = 0;
	CHECK(jalad_frame_hdr_parse(b, 4096, &fh) == JALAD_ERR_FORMAT);
	b[5] = 9;
	CHECK(jalad_frame_hdr_parse(b, 4096, &fh) == JALAD_ERR_FORMAT);
	memcpy(b, h, sizeof b);
	b[6] = 1;
	CHECK(jalad_frame_hdr_parse(b, 4096, &fh) == JALAD_ERR_FORMAT);
	/* Small frame types have small limits whatever the caller allows. */
	jalad_frame_hdr_write(b, JALAD_FRAME_HELLO, 0, JALAD_HELLO_MAX + 1);
	CHECK(jalad_frame_hdr_parse(b, 1u << 30, &fh) == JALAD_ERR_LIMIT);
	jalad_frame_hdr_write(b, JALAD_FRAME_BYE, 0, 1);
	CHECK(jalad_frame_hdr_parse(b, 1u << 30, &fh) == JALAD_ERR_LIMIT);
	jalad_frame_hdr_write(b, JALAD_FRAME_REQUEST, 0, 0xFFFFFFFFu);
	CHECK(jalad_frame_hdr_parse(b, JALAD_NET_DEFAULT_MAX_FRAME, &fh) == JALAD_ERR_LIMIT);
}

static void test_hello(void)
{
	struct jalad_msg_hello a, b;
	uint8_t f[JALAD_FRAME_OVERHEAD + JALAD_HELLO_MAX];
	size_t n;
	memset(&a, 0, sizeof a);
	a.protocol = JALAD_NET_PROTOCOL;
	for (int i = 0; i < 32; i++)
		a.sha256[i] = (uint8_t)(i * 7);
	a.caps = 0x1ff;
	a.max_frame = 123456;
	a.dict_digest = 0xdeadbeef;
	snprintf(a.name, sizeof a.name, "edge\n7");
	a.n_dicts = JALAD_HELLO_MAX_DICTS;
	for (int i = 0; i < a.n_dicts; i++)
		a.dicts[i] = 0x1000u + (uint32_t)i * 977u;
	CHECK(jalad_msg_hello_write(&a, f, sizeof f, &n) == JALAD_OK);
	struct jalad_frame_hdr h;
	const uint8_t *p;
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_HELLO);
	CHECK(jalad_msg_hello_parse(p, h.length, &b) == JALAD_OK);
	CHECK(b.protocol == a.protocol && !memcmp(b.sha256, a.sha256, 32) && b.caps == a.caps &&
	      b.max_frame == a.max_frame && b.dict_digest == a.dict_digest);
	CHECK(b.n_dicts == a.n_dicts && !memcmp(b.dicts, a.dicts, sizeof a.dicts));
	CHECK_MSG(!strcmp(b.name, "edge?7"), "control bytes from a peer are replaced: '%s'", b.name);
	int bad = 0;
	for (size_t cut = 0; cut < h.length; cut++)
		bad += jalad_msg_hello_parse(p, cut, &b) == JALAD_OK;
	CHECK_MSG(bad == 0, "%d truncated HELLO payloads parsed", bad);
	/* A trailing byte is an error too. */
	uint8_t big[JALAD_HELLO_MAX];
	memcpy(big, p, h.length);
	big[h.length] = 0;
	CHECK(jalad_msg_hello_parse(big, h.length + 1, &b) == JALAD_ERR_FORMAT);
	CHECK(jalad_msg_hello_write(&a, f, 20, &n) == JALAD_ERR_LIMIT);
	a.n_dicts = JALAD_HELLO_MAX_DICTS + 1;
	CHECK(jalad_msg_hello_write(&a, f, sizeof f, &n) == JALAD_ERR_INVALID_ARG);
	/* More ids than a HELLO may carry, from a peer: a limit error. */
	a.n_dicts = 0;
	CHECK(jalad_msg_hello_write(&a, f, sizeof f, &n) == JALAD_OK);
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK);
	memcpy(big, p, h.length);
	jalad_put_u16(big + h.length - 2, JALAD_HELLO_MAX_DICTS + 1);
	CHECK(jalad_msg_hello_parse(big, h.length, &b) == JALAD_ERR_LIMIT);
	/* Another protocol's HELLO parses as far as its version, which the
	 * receiver then refuses by name; what follows it is not judged. */
	jalad_put_u32(big, 3);
	CHECK(jalad_msg_hello_parse(big, h.length - 2, &b) == JALAD_OK && b.protocol == 3);
}

/* DICT and DICT_ACK round trips, truncations and limits. */
static void test_dict_msgs(void)
{
	uint8_t f[JALAD_FRAME_OVERHEAD + JALAD_DICT_MAX], data[300];
	size_t n;
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 31);
	CHECK(jalad_msg_dict_write(0xabcdef01u, data, sizeof data, f, sizeof f, &n) == JALAD_OK);
	struct jalad_frame_hdr h;
	const uint8_t *p;
	struct jalad_msg_dict d;
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_DICT);
	CHECK(jalad_msg_dict_parse(p, h.length, &d) == JALAD_OK && d.id == 0xabcdef01u && d.len == sizeof data &&
	      !memcmp(d.data, data, sizeof data));
	CHECK(jalad_msg_dict_parse(p, 4, &d) == JALAD_ERR_TRUNCATED);
	CHECK(jalad_msg_dict_parse(p, 3, &d) == JALAD_ERR_TRUNCATED);
	CHECK(jalad_msg_dict_write(1, data, JALAD_CODEC_DICT_MAX_BYTES + 1, f, sizeof f, &n) == JALAD_ERR_LIMIT);
	/* A DICT frame over its own limit is refused at the header. */
	uint8_t b[JALAD_FRAME_HDR];
	jalad_frame_hdr_write(b, JALAD_FRAME_DICT, 0, JALAD_DICT_MAX + 1);
	CHECK(jalad_frame_hdr_parse(b, 1u << 30, &h) == JALAD_ERR_LIMIT);
	jalad_frame_hdr_write(b, JALAD_FRAME_DICT_ACK, 0, JALAD_DICT_ACK_MAX + 1);
	CHECK(jalad_frame_hdr_parse(b, 1u << 30, &h) == JALAD_ERR_LIMIT);
	jalad_frame_hdr_write(b, JALAD_FRAME_TYPE_MAX + 1, 0, 0);
	CHECK(jalad_frame_hdr_parse(b, 1u << 30, &h) == JALAD_ERR_FORMAT);

	struct jalad_msg_dict_ack a;
	CHECK(jalad_msg_dict_ack_write(0x55u, JALAD_ERR_LIMIT, "too big\x01", f, sizeof f, &n) == JALAD_OK);
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_DICT_ACK);
	CHECK(jalad_msg_dict_ack_parse(p, h.length, &a) == JALAD_OK && a.id == 0x55u && a.status == JALAD_ERR_LIMIT &&
	      !strcmp(a.message, "too big?"));
	int bad = 0;
	for (size_t cut = 0; cut < h.length; cut++)
		bad += jalad_msg_dict_ack_parse(p, cut, &a) == JALAD_OK;
	CHECK_MSG(bad == 0, "%d truncated DICT_ACK payloads parsed", bad);
}

/* Every single-bit flip of a frame must fail its CRC or header check. */
static void test_crc(void)
{
	uint8_t f[256];
	size_t n;
	CHECK(jalad_msg_error_write(77, JALAD_ERR_SHAPE, "shape of 'x' differs", f, sizeof f, &n) == JALAD_OK);
	struct jalad_frame_hdr h;
	const uint8_t *p;
	size_t need;
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, &need) == JALAD_OK && need == n);
	struct jalad_msg_error e;
	CHECK(jalad_msg_error_parse(p, h.length, &e) == JALAD_OK && e.id == 77 && e.code == JALAD_ERR_SHAPE &&
	      !strcmp(e.message, "shape of 'x' differs"));
	int accepted = 0;
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			f[i] ^= (uint8_t)(1 << bit);
			accepted += jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK;
			f[i] ^= (uint8_t)(1 << bit);
		}
	CHECK_MSG(accepted == 0, "%d corrupted frames accepted", accepted);
	/* Prefixes: truncated, and once the header is in, the full size is known. */
	int wrong = 0;
	for (size_t cut = 0; cut < n; cut++) {
		enum jalad_status st = jalad_frame_parse(f, cut, 4096, &h, &p, &need);
		wrong += st != JALAD_ERR_TRUNCATED || (cut >= JALAD_FRAME_HDR && need != n);
	}
	CHECK_MSG(wrong == 0, "%d prefixes misjudged", wrong);
	uint8_t bye[JALAD_FRAME_OVERHEAD];
	CHECK(jalad_msg_bye_write(bye) == JALAD_FRAME_OVERHEAD);
	CHECK(jalad_frame_parse(bye, sizeof bye, 0, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_BYE);
}

static void test_request_response(void)
{
	uint8_t container[100];
	for (int i = 0; i < 100; i++)
		container[i] = (uint8_t)rnd();
	struct jalad_msg_request rq = { .id = 0x1122334455667788ull, .k = 9, .kind = JALAD_NET_PAYLOAD_JPEG,
					.edge_ts = 42, .payload = container, .payload_len = sizeof container };
	uint8_t f[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED + 100 + 4];
	jalad_msg_request_head(&rq, f);
	memcpy(f + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, container, 100);
	jalad_put_u32(f + sizeof f - 4, jalad_msg_request_crc(f, container, 100));
	struct jalad_frame_hdr h;
	const uint8_t *p;
	struct jalad_msg_request got;
	CHECK(jalad_frame_parse(f, sizeof f, 4096, &h, &p, NULL) == JALAD_OK);
	CHECK(jalad_msg_request_parse(p, h.length, &got) == JALAD_OK);
	CHECK(got.id == rq.id && got.k == 9 && got.kind == JALAD_NET_PAYLOAD_JPEG && got.edge_ts == 42 &&
	      got.payload_len == 100 && !memcmp(got.payload, container, 100));
	/* The kind sits right after k, as docs/runtime.md says. */
	CHECK(jalad_get_u32(f + JALAD_FRAME_HDR + 12) == JALAD_NET_PAYLOAD_JPEG);
	CHECK(jalad_msg_request_parse(p, JALAD_REQUEST_FIXED, &got) == JALAD_ERR_TRUNCATED);
	CHECK(jalad_msg_request_parse(p, 10, &got) == JALAD_ERR_TRUNCATED);

	/* RESPONSE with two outputs, then its truncations. */
	float o1[6] = { 1.5f, -2.f, 0.f, 1e-30f, -0.f, 3.25f }, o2[1] = { 7.f };
	struct jalad_tensor outs[2] = { { JALAD_DTYPE_FLOAT32, 2, { 2, 3 }, o1 }, { JALAD_DTYPE_FLOAT32, 0, { 0 }, o2 } };
	struct jalad_msg_response m;
	memset(&m, 0, sizeof m);
	m.id = 5;
	m.edge_ts = 6;
	m.recv_first_ns = 100;
	m.recv_last_ns = 200;
	m.send_ns = 300;
	m.first_read_bytes = 1448;
	m.queue_ns = 1;
	m.decode_ns = 2;
	m.compute_ns = 3;
	m.n_outputs = 2;
	size_t cap = jalad_msg_response_size(2, outs), n;
	uint8_t *rf = malloc(cap);
	CHECK(jalad_msg_response_write(&m, outs, NULL, rf, cap, &n) == JALAD_OK && n == cap);
	struct jalad_msg_response r;
	CHECK(jalad_frame_parse(rf, n, 4096, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_RESPONSE);
	CHECK(jalad_msg_response_parse(p, h.length, &r) == JALAD_OK);
	CHECK(r.id == 5 && r.status == 0 && r.recv_first_ns == 100 && r.recv_last_ns == 200 && r.send_ns == 300 &&
	      r.first_read_bytes == 1448 && r.compute_ns == 3 && r.n_outputs == 2);
	CHECK(r.out[0].ndim == 2 && r.out[0].dims[1] == 3 && r.out[0].count == 6 && r.out[1].ndim == 0 &&
	      r.out[1].count == 1);
	int same = 1;
	for (int i = 0; i < 6; i++)
		same &= memcmp(&o1[i], &(float){ jalad_get_f32(r.out[0].data + 4 * i) }, 4) == 0;
	CHECK_MSG(same, "output floats are carried bit for bit");
	int bad = 0;
	for (size_t cut = 0; cut < h.length; cut++)
		bad += jalad_msg_response_parse(p, cut, &r) == JALAD_OK;
	CHECK_MSG(bad == 0, "%d truncated RESPONSE payloads parsed", bad);
	/* A declared byte count that disagrees with the shape. */
	uint8_t *q = (uint8_t *)p + JALAD_RESPONSE_FIXED + 1 + 2 + 8;
	jalad_put_u32(q, 20);
	CHECK(jalad_msg_response_parse(p, h.length, &r) == JALAD_ERR_FORMAT);
	free(rf);

	/* Dims whose product overflows 64 bits must fail cleanly. */
	uint8_t evil[JALAD_RESPONSE_FIXED + 1 + 2 + 4 * 8 + 4 + 8];
	memset(evil, 0, sizeof evil);
	uint8_t *e = evil + JALAD_RESPONSE_FIXED;
	*e++ = 1;
	*e++ = JALAD_DTYPE_FLOAT32;
	*e++ = 8;
	for (int d = 0; d < 8; d++, e += 4)
		jalad_put_u32(e, 0xFFFFFFFFu);
	jalad_put_u32(e, 8);
	CHECK(jalad_msg_response_parse(evil, sizeof evil, &r) == JALAD_ERR_FORMAT);

	/* An error response carries the message. */
	m.status = JALAD_ERR_SHAPE;
	uint8_t ef[JALAD_FRAME_OVERHEAD + JALAD_RESPONSE_FIXED + 2 + JALAD_MSG_TEXT_MAX];
	CHECK(jalad_msg_response_write(&m, NULL, "bad shape", ef, sizeof ef, &n) == JALAD_OK);
	CHECK(jalad_frame_parse(ef, n, 4096, &h, &p, NULL) == JALAD_OK);
	CHECK(jalad_msg_response_parse(p, h.length, &r) == JALAD_OK && r.status == JALAD_ERR_SHAPE &&
	      !strcmp(r.message, "bad shape") && r.n_outputs == 0);
	CHECK(jalad_net_status_from_wire(JALAD_ERR_SHAPE) == JALAD_ERR_SHAPE);
	CHECK(jalad_net_status_from_wire(0) == JALAD_ERR_INTERNAL);
	CHECK(jalad_net_status_from_wire(-999) == JALAD_ERR_INTERNAL);
}

/* Random bytes and random mutations of valid payloads: never a crash (the
 * sanitizer build checks the reads), never an accepted frame with a bad CRC. */
static void test_fuzz(void)
{
	uint8_t buf[512];
	struct jalad_msg_hello hh;
	struct jalad_msg_request rq;
	struct jalad_msg_response rs;
	struct jalad_msg_error er;
	struct jalad_frame_hdr h;
	const uint8_t *p;
	int ok = 0;
	for (int it = 0; it < 20000; it++) {
		size_t n = rnd() % sizeof buf;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rnd();
		if (it & 1 && n >= 4)
			memcpy(buf, "JLDN", 4);
		ok += jalad_frame_parse(buf, n, 1 << 20, &h, &p, NULL) == JALAD_OK;
		(void)jalad_msg_hello_parse(buf, n, &hh);
		(void)jalad_msg_request_parse(buf, n, &rq);
		(void)jalad_msg_response_parse(buf, n, &rs);
		(void)jalad_msg_error_parse(buf, n, &er);
	}
	CHECK_MSG(ok == 0, "%d random buffers passed as frames", ok);
}

static void test_addr(void)
{
	char host[64];
	int port;
	CHECK(jalad_net_parse_addr("127.0.0.1:7070", host, sizeof host, &port) == JALAD_OK && port == 7070 &&
	      !strcmp(host, "127.0.0.1"));
	CHECK(jalad_net_parse_addr("[::1]:80", host, sizeof host, &port) == JALAD_OK && !strcmp(host, "::1"));
	CHECK(jalad_net_parse_addr("localhost:0", host, sizeof host, &port) == JALAD_OK && port == 0);
	CHECK(jalad_net_parse_addr("nohost", host, sizeof host, &port) != JALAD_OK);
	CHECK(jalad_net_parse_addr(":80", host, sizeof host, &port) != JALAD_OK);
	CHECK(jalad_net_parse_addr("h:99999", host, sizeof host, &port) != JALAD_OK);
	CHECK(jalad_net_parse_addr("h:8x", host, sizeof host, &port) != JALAD_OK);
	CHECK(jalad_net_parse_addr("[::1:80", host, sizeof host, &port) != JALAD_OK);
}

/* ================================================================ estimator */

static void test_estimator(void)
{
	struct jalad_estimator *e;
	double bw = -1, rtt = -1;
	CHECK(jalad_estimator_create(3, &e) == JALAD_OK);
	CHECK(jalad_estimator_get(e, &bw, &rtt) == 0 && bw == -1 && rtt == -1);
	/* 10 000 bytes over 10 Mbit/s = 8 ms, plus a 10 ms RTT. */
	struct jalad_net_sample s = { .bytes = 10000, .net_ns = 18000000, .min_rtt_us = 10000 };
	jalad_estimator_add(e, &s);
	CHECK(jalad_estimator_get(e, &bw, &rtt) == 1);
	CHECK_MSG(bw > 9.99e6 && bw < 10.01e6 && rtt > 9.99 && rtt < 10.01, "bw %g rtt %g", bw, rtt);
	jalad_estimator_add(e, &s);
	/* Slow samples (a busy CPU, a queue) do not lower it until they fill
	 * the window: then the link really is slower. */
	struct jalad_net_sample slow = { .bytes = 10000, .net_ns = 90000000, .min_rtt_us = 10000 };
	jalad_estimator_add(e, &slow);
	jalad_estimator_add(e, &slow);
	jalad_estimator_get(e, &bw, &rtt);
	CHECK_MSG(bw > 9.9e6 && bw < 10.1e6, "two slow samples moved the estimate to %g", bw);
	jalad_estimator_add(e, &slow);
	jalad_estimator_get(e, &bw, &rtt);
	CHECK_MSG(bw > 0.99e6 && bw < 1.01e6, "three slow samples should give 1 Mbit/s, got %g", bw);
	/* A faster link shows at once. */
	jalad_estimator_add(e, &s);
	jalad_estimator_get(e, &bw, &rtt);
	CHECK_MSG(bw > 9.9e6 && bw < 10.1e6, "one fast sample should give 10 Mbit/s, got %g", bw);
	/* A tiny message only bounds the rate from below (100 B in <= 0.25 ms). */
	jalad_estimator_reset(e);
	struct jalad_net_sample tiny = { .bytes = 100, .net_ns = 10010000, .min_rtt_us = 10000 };
	jalad_estimator_add(e, &tiny);
	jalad_estimator_get(e, &bw, &rtt);
	CHECK_MSG(bw > 3.19e6 && bw < 3.21e6, "lower bound %g", bw);
	/* The server-side arrival span stands in when the RTT is unknown. */
	jalad_estimator_reset(e);
	struct jalad_net_sample train = { .bytes = 101448, .net_ns = 40000000, .srv_span_ns = 40000000,
					  .srv_first_bytes = 1448 };
	jalad_estimator_add(e, &train);
	rtt = -1;
	CHECK(jalad_estimator_get(e, &bw, &rtt) == 1);
	CHECK_MSG(bw > 19.9e6 && bw < 20.1e6, "arrival-rate estimate %g", bw);
	jalad_estimator_free(e);
	CHECK(jalad_estimator_create(99, &e) == JALAD_ERR_INVALID_ARG && e == NULL);
}

/* ================================================================ loopback */

struct srv_thread {
	struct jalad_server *srv;
	pthread_t tid;
	enum jalad_status st;
};

static void *srv_main(void *p)
{
	struct srv_thread *t = p;
	t->st = jalad_server_run(t->srv);
	return NULL;
}

static int raw_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = { 5, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* Write n bytes in pieces of `piece` with a pause between (short reads). */
static int write_slowly(int fd, const uint8_t *p, size_t n, size_t piece)
{
	while (n) {
		size_t k = n < piece ? n : piece;
		if (send(fd, p, k, MSG_NOSIGNAL) != (ssize_t)k)
			return -1;
		p += k;
		n -= k;
		nap_us(300);
	}
	return 0;
}

/* Read one frame from a blocking socket into buf; returns its type or -1. */
static int read_frame_raw(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t got = 0, need = JALAD_FRAME_HDR;
	while (got < need) {
		ssize_t r = recv(fd, buf + got, need - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		if (got == JALAD_FRAME_HDR) {
			need = JALAD_FRAME_OVERHEAD + jalad_get_u32(buf + 8);
			if (need > cap)
				return -1;
		}
	}
	*len = got;
	return buf[5];
}

static size_t hello_frame(const struct jalad_model *m, uint8_t *f, size_t cap, int corrupt_sha)
{
	struct jalad_msg_hello h;
	size_t n = 0;
	memset(&h, 0, sizeof h);
	h.protocol = JALAD_NET_PROTOCOL;
	h.caps = JALAD_CAP_CRC | ((1u << JALAD_CODER_COUNT) - 1); /* caps 0 is refused */
	h.max_frame = 1 << 16;
	jalad_model_sha256(m, h.sha256);
	if (corrupt_sha)
		h.sha256[0] ^= 1;
	snprintf(h.name, sizeof h.name, "raw test");
	jalad_msg_hello_write(&h, f, cap, &n);
	return n;
}

/* A REQUEST frame for cut k carrying x (4 floats) as float32. */
static size_t request_frame(uint64_t id, int k, const float *x, uint8_t *f, size_t cap)
{
	uint8_t c[256];
	size_t clen;
	struct jalad_codec_tensor t = { x, 2, { 1, 4 }, 0 };
	struct jalad_codec_params cp = { .bits = 0, .coder = JALAD_CODER_RAW, .crc = 1 };
	if (jalad_codec_encode(NULL, &cp, &t, 1, c, sizeof c, &clen, NULL) != JALAD_OK)
		return 0;
	struct jalad_msg_request rq = { .id = id, .k = (uint32_t)k, .kind = JALAD_NET_PAYLOAD_CONTAINER, .payload = c,
					.payload_len = clen };
	size_t n = JALAD_FRAME_OVERHEAD + JALAD_REQUEST_FIXED + clen;
	if (n > cap)
		return 0;
	jalad_msg_request_head(&rq, f);
	memcpy(f + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, c, clen);
	jalad_put_u32(f + n - 4, jalad_msg_request_crc(f, c, clen));
	return n;
}

static void test_loopback(void)
{
	struct jalad_model *m = tiny_model("Neg");
	CHECK(m != NULL);
	if (!m)
		return;
	struct jalad_server_opts so = { .listen = "127.0.0.1:0", .workers = 2, .queue_cap = 2,
					.idle_timeout_ms = 3000, .max_frame_bytes = 1 << 16 };
	struct srv_thread t = { 0 };
	CHECK(jalad_server_create(m, &so, &t.srv) == JALAD_OK);
	if (!t.srv) {
		jalad_model_free(m);
		return;
	}
	int port = jalad_server_port(t.srv);
	CHECK(port > 0);
	pthread_create(&t.tid, NULL, srv_main, &t);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	uint8_t sha[32];
	jalad_model_sha256(m, sha);

	/* 1. The client at both cuts: y = -relu(x), exactly. */
	struct jalad_client_opts co = { .address = addr };
	struct jalad_client *c;
	CHECK(jalad_client_create(&co, sha, &c) == JALAD_OK);
	float x[4] = { -1.5f, 2.25f, 0.f, 3.f }, relu[4] = { 0.f, 2.25f, 0.f, 3.f };
	for (int k = 0; k < 2; k++) {
		uint8_t cont[256];
		size_t clen;
		struct jalad_codec_tensor ct = { k ? relu : x, 2, { 1, 4 }, 0 };
		struct jalad_codec_params cp = { .bits = 0, .coder = JALAD_CODER_RAW, .crc = 1 };
		CHECK(jalad_codec_encode(NULL, &cp, &ct, 1, cont, sizeof cont, &clen, NULL) == JALAD_OK);
		struct jalad_client_result r;
		enum jalad_status st = jalad_client_request(c, 10 + (uint64_t)k, k, cont, clen, 2000, &r);
		CHECK_MSG(st == JALAD_OK, "request at cut %d: %s", k, jalad_last_error());
		if (st == JALAD_OK) {
			const float *y = r.outputs[0].data;
			CHECK(r.n_outputs == 1 && r.outputs[0].ndim == 2 && r.outputs[0].dims[1] == 4);
			CHECK(y[0] == -0.f && y[1] == -2.25f && y[2] == -0.f && y[3] == -3.f);
			CHECK(r.id == 10 + (uint64_t)k && r.srv_recv_last_ns >= r.srv_recv_first_ns &&
			      r.srv_send_ns >= r.srv_recv_last_ns && r.recv_end_ns >= r.send_start_ns);
			CHECK(r.connected_now == (k == 0));
		}
	}
	/* A cut out of range: the server refuses the request and drops us;
	 * the client reports it and reconnects for the next one. */
	{
		uint8_t cont[256];
		size_t clen;
		struct jalad_codec_tensor ct = { x, 2, { 1, 4 }, 0 };
		struct jalad_codec_params cp = { .bits = 0, .coder = JALAD_CODER_RAW, .crc = 1 };
		jalad_codec_encode(NULL, &cp, &ct, 1, cont, sizeof cont, &clen, NULL);
		struct jalad_client_result r;
		CHECK(jalad_client_request(c, 99, 2, cont, clen, 2000, &r) != JALAD_OK);
		/* A container whose shape does not match the cut: an error answer,
		 * the connection stays. */
		struct jalad_codec_tensor bad = { x, 2, { 2, 2 }, 0 };
		jalad_codec_encode(NULL, &cp, &bad, 1, cont, sizeof cont, &clen, NULL);
		nap_us(300000); /* past the first backoff */
		enum jalad_status st = jalad_client_request(c, 100, 0, cont, clen, 2000, &r);
		CHECK_MSG(st == JALAD_ERR_SHAPE && r.status == JALAD_ERR_SHAPE, "shape mismatch: %d %s", st, r.message);
	}
	jalad_client_free(c);

	/* 2. A client that writes one byte at a time (short reads on the server). */
	uint8_t f[1024], in[1024];
	size_t n, len;
	int fd = raw_connect(port);
	CHECK(fd >= 0);
	n = hello_frame(m, f, sizeof f, 0);
	CHECK(write_slowly(fd, f, n, 1) == 0);
	CHECK(read_frame_raw(fd, in, sizeof in, &len) == JALAD_FRAME_HELLO);
	n = request_frame(7, 0, x, f, sizeof f);
	CHECK(n > 0 && write_slowly(fd, f, n, 3) == 0);
	int type = read_frame_raw(fd, in, sizeof in, &len);
	CHECK(type == JALAD_FRAME_RESPONSE);
	if (type == JALAD_FRAME_RESPONSE) {
		struct jalad_msg_response r;
		CHECK(jalad_msg_response_parse(in + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &r) == JALAD_OK);
		CHECK(r.id == 7 && r.status == 0 && jalad_get_f32(r.out[0].data + 12) == -3.f);
		CHECK_MSG(r.recv_last_ns - r.recv_first_ns > 1000000, "a slowly sent request spans %llu ns",
			  (unsigned long long)(r.recv_last_ns - r.recv_first_ns));
	}
	close(fd);

	/* 3. Garbage, a bad CRC, an oversized header, a wrong model: each gets
	 * an ERROR and a closed connection; the server goes on. */
	const char *cases[] = { "garbage", "crc", "oversized", "sha", "request-first" };
	for (int i = 0; i < 5; i++) {
		fd = raw_connect(port);
		if (i == 0) {
			for (int j = 0; j < 64; j++)
				f[j] = (uint8_t)rnd();
			n = 64;
		} else if (i == 1) {
			n = hello_frame(m, f, sizeof f, 0);
			f[n - 1] ^= 0x40;
		} else if (i == 2) {
			jalad_frame_hdr_write(f, JALAD_FRAME_REQUEST, 0, 0x7FFFFFFFu);
			n = JALAD_FRAME_HDR;
		} else if (i == 3) {
			n = hello_frame(m, f, sizeof f, 1);
		} else {
			n = request_frame(1, 0, x, f, sizeof f);
		}
		send(fd, f, n, MSG_NOSIGNAL);
		type = read_frame_raw(fd, in, sizeof in, &len);
		CHECK_MSG(type == JALAD_FRAME_ERROR, "case %s: got frame type %d", cases[i], type);
		struct jalad_msg_error e;
		if (type == JALAD_FRAME_ERROR) {
			CHECK(jalad_msg_error_parse(in + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &e) == JALAD_OK);
			if (i == 2)
				CHECK(e.code == JALAD_ERR_LIMIT);
			if (i == 3)
				CHECK_MSG(e.code == JALAD_ERR_MISMATCH && strstr(e.message, "SHA-256"), "%s", e.message);
		}
		char one;
		CHECK_MSG(recv(fd, &one, 1, 0) == 0, "case %s: the server closes the connection", cases[i]);
		close(fd);
	}
	/* A truncated frame then close; then the server still serves. */
	fd = raw_connect(port);
	n = hello_frame(m, f, sizeof f, 0);
	send(fd, f, n / 2, MSG_NOSIGNAL);
	close(fd);
	CHECK(jalad_client_create(&co, sha, &c) == JALAD_OK);
	{
		uint8_t cont[256];
		size_t clen;
		struct jalad_codec_tensor ct = { x, 2, { 1, 4 }, 0 };
		struct jalad_codec_params cp = { .bits = 8, .coder = JALAD_CODER_RANS0, .crc = 1 };
		CHECK(jalad_codec_encode(NULL, &cp, &ct, 1, cont, sizeof cont, &clen, NULL) == JALAD_OK);
		struct jalad_client_result r;
		CHECK(jalad_client_request(c, 1, 0, cont, clen, 2000, &r) == JALAD_OK);
	}
	jalad_client_free(c);
	/* A client for another model is refused with a clear error. */
	uint8_t other[32];
	memcpy(other, sha, 32);
	other[31] ^= 0xff;
	CHECK(jalad_client_create(&co, other, &c) == JALAD_OK);
	{
		uint8_t cont[8] = { 0 };
		struct jalad_client_result r;
		enum jalad_status st = jalad_client_request(c, 1, 0, cont, sizeof cont, 2000, &r);
		CHECK_MSG(st == JALAD_ERR_MISMATCH && strstr(jalad_last_error(), "SHA-256"), "wrong model: %d %s", st,
			  jalad_last_error());
		/* Backoff: the next call fails at once, without the network. */
		st = jalad_client_request(c, 2, 0, cont, sizeof cont, 2000, &r);
		CHECK(st == JALAD_ERR_CLOSED && strstr(jalad_last_error(), "next attempt"));
	}
	jalad_client_free(c);

	struct jalad_server_stats s;
	jalad_server_stats(t.srv, &s);
	CHECK_MSG(s.conns_dropped >= 5 && s.responses_ok >= 4 && s.responses_err >= 1,
		  "dropped %llu ok %llu err %llu", (unsigned long long)s.conns_dropped,
		  (unsigned long long)s.responses_ok, (unsigned long long)s.responses_err);
	jalad_server_stop(t.srv);
	pthread_join(t.tid, NULL);
	CHECK(t.st == JALAD_OK);
	jalad_server_stats(t.srv, &s);
	CHECK(s.conns_open == 0 && s.mem_bytes == 0);
	jalad_server_free(t.srv);

	/* Without TLS a server refuses a non-loopback address unless allowed. */
	struct jalad_server_opts pub = { .listen = "0.0.0.0:0", .workers = 1 };
	struct jalad_server *srv2 = NULL;
	CHECK(jalad_server_create(m, &pub, &srv2) == JALAD_ERR_UNSUPPORTED);
	pub.allow_remote = 1;
	CHECK(jalad_server_create(m, &pub, &srv2) == JALAD_OK);
	jalad_server_free(srv2);
	jalad_model_free(m);
}

/* ================================================================ client short reads */

/* A fake server that answers in 1-byte writes, or misbehaves. */
struct fake {
	int lfd, port, mode; /* 0 slow but correct, 1 truncated, 2 garbage, 3 late,
	                      * 4 shape [1, 7], 5 a NaN, 6 two outputs,
	                      * 7 a HELLO with max_frame 16 */
	pthread_t tid;
	const struct jalad_model *m;
};

static void *fake_main(void *p)
{
	struct fake *fk = p;
	int fd = accept(fk->lfd, NULL, NULL);
	uint8_t in[1024], out[1024];
	size_t len, n;
	if (fd < 0)
		return NULL;
	if (read_frame_raw(fd, in, sizeof in, &len) != JALAD_FRAME_HELLO)
		goto done;
	n = hello_frame(fk->m, out, sizeof out, 0);
	if (fk->mode == 7) {
		struct jalad_msg_hello h;
		CHECK(jalad_msg_hello_parse(out + JALAD_FRAME_HDR, n - JALAD_FRAME_OVERHEAD, &h) == JALAD_OK);
		h.max_frame = 16;
		jalad_msg_hello_write(&h, out, sizeof out, &n);
	}
	write_slowly(fd, out, n, 1);
	for (int round = 0; round < (fk->mode == 3 ? 2 : 1); round++) {
		if (read_frame_raw(fd, in, sizeof in, &len) != JALAD_FRAME_REQUEST)
			goto done;
		struct jalad_msg_request rq;
		jalad_msg_request_parse(in + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &rq);
		float y[7] = { 1, 2, 3, 4, 5, 6, 7 };
		struct jalad_tensor t[2] = { { JALAD_DTYPE_FLOAT32, 2, { 1, 4 }, y }, { JALAD_DTYPE_FLOAT32, 2, { 1, 4 }, y } };
		struct jalad_msg_response m;
		memset(&m, 0, sizeof m);
		m.id = rq.id;
		m.n_outputs = fk->mode == 6 ? 2 : 1;
		if (fk->mode == 4)
			t[0].dims[1] = 7;
		if (fk->mode == 5)
			y[2] = NAN;
		jalad_msg_response_write(&m, t, NULL, out, sizeof out, &n);
		if (fk->mode == 0 || fk->mode >= 4) {
			write_slowly(fd, out, n, 1);
		} else if (fk->mode == 1) {
			write_slowly(fd, out, n - 5, 7);
		} else if (fk->mode == 2) {
			memset(out, 0xAB, 40);
			write_slowly(fd, out, 40, 40);
		} else if (round == 0) {
			nap_us(300000); /* past the client's deadline */
			write_slowly(fd, out, n, 64);
		} else {
			write_slowly(fd, out, n, 64);
		}
	}
	nap_us(100000);
done:
	close(fd);
	return NULL;
}

static void test_client_short_reads(void)
{
	struct jalad_model *m = tiny_model("Neg");
	if (!m)
		return;
	uint8_t sha[32];
	jalad_model_sha256(m, sha);
	for (int mode = 0; mode < 4; mode++) {
		struct fake fk = { .mode = mode, .m = m };
		int loop;
		CHECK(jalad_net_listen("127.0.0.1", 0, 4, &fk.lfd, &fk.port, &loop) == JALAD_OK && loop);
		/* accept() in the thread should block. */
		fcntl(fk.lfd, F_SETFL, fcntl(fk.lfd, F_GETFL) & ~O_NONBLOCK);
		pthread_create(&fk.tid, NULL, fake_main, &fk);
		char addr[64];
		snprintf(addr, sizeof addr, "127.0.0.1:%d", fk.port);
		struct jalad_client_opts co = { .address = addr };
		struct jalad_client *c;
		CHECK(jalad_client_create(&co, sha, &c) == JALAD_OK);
		uint8_t cont[16] = { 1 };
		struct jalad_client_result r;
		enum jalad_status st = jalad_client_request(c, 1, 0, cont, sizeof cont, mode == 3 ? 100 : 3000, &r);
		if (mode == 0) {
			CHECK_MSG(st == JALAD_OK && r.n_outputs == 1 && ((float *)r.outputs[0].data)[3] == 4.f,
				  "1-byte writes: %s", jalad_last_error());
		} else if (mode == 1) {
			CHECK_MSG(st == JALAD_ERR_CLOSED, "truncated answer then close: %d %s", st, jalad_last_error());
		} else if (mode == 2) {
			CHECK_MSG(st == JALAD_ERR_PROTOCOL, "garbage answer: %d %s", st, jalad_last_error());
		} else {
			CHECK_MSG(st == JALAD_ERR_TIMEOUT, "late answer: %d", st);
			CHECK(jalad_client_connected(c));
			/* The next request skips the late answer to request 1. */
			st = jalad_client_request(c, 2, 0, cont, sizeof cont, 3000, &r);
			CHECK_MSG(st == JALAD_OK && r.id == 2, "after a timeout: %d %s", st, jalad_last_error());
		}
		jalad_client_free(c);
		pthread_join(fk.tid, NULL);
		close(fk.lfd);
	}
	jalad_model_free(m);
}

/* A hostile cloud: answers of the wrong shape, count, or with a NaN are
 * not taken; the edge computes the request itself and says why. */
static void test_edge_bad_answers(void)
{
	struct jalad_model *m = tiny_model("Neg");
	if (!m)
		return;
	const char *want[] = { "is [1,7], the model's is [1,4]", "non-finite value", "2 outputs, the model has 1" };
	for (int mode = 4; mode <= 6; mode++) {
		struct fake fk = { .mode = mode, .m = m };
		int loop;
		CHECK(jalad_net_listen("127.0.0.1", 0, 4, &fk.lfd, &fk.port, &loop) == JALAD_OK && loop);
		fcntl(fk.lfd, F_SETFL, fcntl(fk.lfd, F_GETFL) & ~O_NONBLOCK);
		pthread_create(&fk.tid, NULL, fake_main, &fk);
		char addr[64];
		snprintf(addr, sizeof addr, "127.0.0.1:%d", fk.port);
		struct jalad_edge_plan plan = { .k = 0, .bits = 0, .coder = JALAD_CODER_RAW, .edge_ms = -1, .cloud_ms = -1 };
		struct jalad_edge_opts eo = { .client = { .address = addr } };
		struct jalad_edge *e = NULL;
		CHECK(jalad_edge_create(m, &eo, &plan, 1, &e) == JALAD_OK);
		float x[4] = { 1, -2, 3, -4 };
		struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 2, { 1, 4 }, x };
		struct jalad_edge_result r;
		if (e && jalad_edge_infer(e, &in, &r) == JALAD_OK) {
			const float *y = r.n_outputs == 1 ? r.outputs[0].data : NULL;
			/* relu then neg: the local answer */
			CHECK_MSG(r.bad_answer && r.fallback && y && y[0] == -1 && y[1] == 0 && y[2] == -3 && y[3] == 0,
				  "mode %d: bad %d fallback %d", mode, r.bad_answer, r.fallback);
			CHECK_MSG(strstr(r.reason, want[mode - 4]) != NULL, "mode %d: reason '%s'", mode, r.reason);
		} else {
			CHECK_MSG(0, "mode %d: infer failed: %s", mode, jalad_last_error());
		}
		jalad_edge_free(e);
		pthread_join(fk.tid, NULL);
		close(fk.lfd);
	}
	/* A server HELLO out of bounds: refused as a protocol error. */
	{
		struct fake fk = { .mode = 7, .m = m };
		int loop;
		CHECK(jalad_net_listen("127.0.0.1", 0, 4, &fk.lfd, &fk.port, &loop) == JALAD_OK && loop);
		fcntl(fk.lfd, F_SETFL, fcntl(fk.lfd, F_GETFL) & ~O_NONBLOCK);
		pthread_create(&fk.tid, NULL, fake_main, &fk);
		char addr[64];
		snprintf(addr, sizeof addr, "127.0.0.1:%d", fk.port);
		struct jalad_client_opts co = { .address = addr };
		struct jalad_client *c = NULL;
		uint8_t sha[32], cont[16] = { 1 };
		jalad_model_sha256(m, sha);
		struct jalad_client_result r;
		CHECK(jalad_client_create(&co, sha, &c) == JALAD_OK);
		enum jalad_status st = jalad_client_request(c, 1, 0, cont, sizeof cont, 3000, &r);
		CHECK_MSG(st == JALAD_ERR_PROTOCOL && strstr(jalad_last_error(), "max_frame 16"), "%d %s", st,
			  jalad_last_error());
		jalad_client_free(c);
		pthread_join(fk.tid, NULL);
		close(fk.lfd);
	}
	jalad_model_free(m);
}

/* ================================================================ edge */

static void test_edge_fallback(void)
{
	struct jalad_model *m = tiny_model("Neg");
	if (!m)
		return;
	/* A port nobody listens on: every request falls back and is still right. */
	int lfd, port, loop;
	jalad_net_listen("127.0.0.1", 0, 1, &lfd, &port, &loop);
	close(lfd);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
	struct jalad_edge_plan plans[2] = { { .k = 1, .bits = 0, .coder = JALAD_CODER_RAW, .edge_ms = 1, .cloud_ms = 1,
					      .bytes = 100 },
					    { .k = 2, .edge_ms = 5 } };
	struct jalad_edge_opts eo = { .client = { .address = addr } };
	struct jalad_edge *e;
	CHECK(jalad_edge_create(m, &eo, plans, 2, &e) == JALAD_OK);
	if (!e) {
		jalad_model_free(m);
		return;
	}
	CHECK(jalad_edge_current_plan(e) == 0);
	CHECK(jalad_edge_plan_predict(e, 1, 1e6, 50) == 5); /* edge-only: no network terms */
	float x[4] = { -1, 1, -2, 2 };
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 2, { 1, 4 }, x };
	struct jalad_edge_result r;
	CHECK(jalad_edge_infer(e, &in, &r) == JALAD_OK);
	CHECK(r.fallback == 1 && r.cloud_status != JALAD_OK && r.k == 1 && *r.reason);
	const float *y = r.outputs[0].data;
	CHECK(r.n_outputs == 1 && y[0] == -0.f && y[1] == -1.f && y[3] == -2.f);
	/* The prediction at 10 Mbit/s (prior) and 1 ms: 1 + 1 + 1 + 0.08 = 3.08 ms. */
	CHECK_MSG(r.predicted_ms > 3.07 && r.predicted_ms < 3.09, "predicted %g", r.predicted_ms);
	/* The tiny model runs far faster than the 1 ms the plan claims: the
	 * edge corrects its predictions by what it measured. */
	CHECK_MSG(r.edge_scale < 1, "edge scale %g", r.edge_scale);
	/* ... for this plan only: 0.25 x 1 + 1 + 1 + 0.08 ms; edge-only keeps its 5 ms. */
	CHECK(jalad_edge_infer(e, &in, &r) == JALAD_OK && r.k == 1 && r.fallback);
	CHECK_MSG(r.predicted_ms > 2.32 && r.predicted_ms < 2.34, "predicted %g", r.predicted_ms);
	CHECK(jalad_edge_plan_predict(e, 1, 1e6, 50) == 5);
	CHECK(r.n_outputs == 1 && ((const float *)r.outputs[0].data)[3] == -2.f);
	jalad_edge_free(e);
	/* A bad plan is refused at creation. */
	struct jalad_edge_plan bad = { .k = 3 };
	CHECK(jalad_edge_create(m, &eo, &bad, 1, &e) == JALAD_ERR_INVALID_ARG);
	jalad_model_free(m);
}

/* ================================================================ image payloads */

/* A test photo, not smooth (JPEG must work for its bytes). */
static struct jalad_image *test_photo(int w, int h, int c)
{
	struct jalad_image *img = NULL;
	if (jalad_image_create(w, h, c, &img) != JALAD_OK)
		return NULL;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++)
			for (int k = 0; k < c; k++)
				img->data[((size_t)y * w + x) * c + k] =
					(unsigned char)((x * 37 + y * 19 + k * 71 + (x * y) % 13) & 0xff);
	return img;
}

/* Values of y that differ from -relu(t): the Relu -> Neg model's output for
 * the input tensor t. */
static int minus_relu_mismatches(const float *y, const float *t, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += y[i] != -(t[i] > 0 ? t[i] : 0.f);
	return bad;
}

static void test_image_peek(void)
{
	struct jalad_image *img = test_photo(13, 11, 3), *gray = test_photo(5, 7, 1);
	uint8_t *png = NULL, *g = NULL;
	size_t pcap = 0, plen = 0, gcap = 0, glen = 0;
	unsigned char *jpg = NULL;
	size_t jlen = 0;
	CHECK(img && gray);
	if (!img || !gray)
		goto done;
	CHECK(jalad_net_png_encode(img, &png, &pcap, &plen) == JALAD_OK && plen > 29);
	CHECK(jalad_net_png_encode(gray, &g, &gcap, &glen) == JALAD_OK);
	CHECK(jalad_image_encode_jpeg(img, 80, &jpg, &jlen) == JALAD_OK);
	int fmt, c;
	uint32_t w, h;
	CHECK(jalad_net_image_peek(png, plen, &fmt, &w, &h, &c) == JALAD_OK && fmt == JALAD_NET_IMAGE_PNG && w == 13 &&
	      h == 11 && c == 3);
	CHECK(jalad_net_image_peek(g, glen, &fmt, &w, &h, &c) == JALAD_OK && w == 5 && h == 7 && c == 1);
	CHECK(jalad_net_image_peek(jpg, jlen, &fmt, &w, &h, &c) == JALAD_OK && fmt == JALAD_NET_IMAGE_JPEG && w == 13 &&
	      h == 11 && c == 3);
	/* The PNG encoder's output decodes to the same pixels. */
	struct jalad_image *back = NULL;
	CHECK(jalad_image_decode(png, plen, "png", &back) == JALAD_OK && back && back->width == 13 &&
	      !memcmp(back->data, img->data, 13 * 11 * 3));
	jalad_image_free(back);
	/* Every prefix too short for the header is an error, never a size. */
	int bad = 0;
	for (size_t n = 0; n < 29; n++)
		bad += jalad_net_image_peek(png, n, &fmt, &w, &h, &c) == JALAD_OK;
	size_t sof = 0; /* where the JPEG's frame header ends */
	for (size_t n = 3; n + 1 < jlen; n++)
		if (jpg[n] == 0xFF && jpg[n + 1] == 0xC0) {
			sof = n + 2 + 8;
			break;
		}
	CHECK(sof > 0);
	for (size_t n = 0; n < sof; n++)
		bad += jalad_net_image_peek(jpg, n, &fmt, &w, &h, &c) == JALAD_OK;
	CHECK_MSG(bad == 0, "%d header prefixes gave a size", bad);
	/* Random bytes behind the signatures: no crash (the sanitizers check
	 * the reads), and nothing decodes as the model's input. */
	uint8_t buf[256];
	float t[3 * 8 * 6];
	struct jalad_preprocess pp;
	jalad_preprocess_default(&pp, 3, 8, 6);
	int accepted = 0;
	for (int it = 0; it < 3000; it++) {
		size_t n = 3 + rnd() % (sizeof buf - 3);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rnd();
		if (it & 1)
			memcpy(buf, "\x89PNG\r\n\x1a\n", n < 8 ? n : 8);
		else
			memcpy(buf, "\xff\xd8\xff", 3);
		(void)jalad_net_image_peek(buf, n, &fmt, &w, &h, &c);
		if (it % 10 == 0)
			accepted += jalad_net_image_input(JALAD_NET_PAYLOAD_FILE, buf, n, &pp, 1000, t, 3 * 8 * 6) == JALAD_OK;
	}
	CHECK_MSG(accepted == 0, "%d random payloads decoded", accepted);
done:
	free(png);
	free(g);
	free(jpg);
	jalad_image_free(img);
	jalad_image_free(gray);
}

/* A TCP tap between an edge and the server: forwards both ways and records
 * the REQUEST frames the edge sends (kind and payload bytes), so a test
 * sees exactly what went on the wire. One connection at a time. */
#define TAP_MAX 32
struct tap {
	int lfd, port, up_port;
	pthread_t tid;
	pthread_mutex_t mu;
	int n;
	uint32_t kind[TAP_MAX], k[TAP_MAX];
	uint8_t *payload[TAP_MAX];
	size_t len[TAP_MAX];
	volatile int stop;
};

/* Take the complete frames off the front of buf[*got]. */
static void tap_frames(struct tap *t, uint8_t *buf, size_t *got)
{
	while (*got >= JALAD_FRAME_HDR) {
		size_t need = JALAD_FRAME_OVERHEAD + jalad_get_u32(buf + 8);
		if (*got < need)
			return;
		if (buf[5] == JALAD_FRAME_REQUEST && need >= JALAD_FRAME_OVERHEAD + JALAD_REQUEST_FIXED) {
			pthread_mutex_lock(&t->mu);
			if (t->n < TAP_MAX) {
				size_t plen = need - JALAD_FRAME_OVERHEAD - JALAD_REQUEST_FIXED;
				t->k[t->n] = jalad_get_u32(buf + JALAD_FRAME_HDR + 8);
				t->kind[t->n] = jalad_get_u32(buf + JALAD_FRAME_HDR + 12);
				t->payload[t->n] = malloc(plen ? plen : 1);
				if (t->payload[t->n])
					memcpy(t->payload[t->n], buf + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, plen);
				t->len[t->n++] = plen;
			}
			pthread_mutex_unlock(&t->mu);
		}
		memmove(buf, buf + need, *got - need);
		*got -= need;
	}
}

static void *tap_main(void *p)
{
	struct tap *t = p;
	size_t cap = 1 << 20;
	uint8_t *buf = malloc(cap);
	while (!t->stop && buf) {
		struct pollfd lp = { t->lfd, POLLIN, 0 };
		if (poll(&lp, 1, 50) <= 0)
			continue;
		int cfd = accept(t->lfd, NULL, NULL);
		if (cfd < 0)
			continue;
		int ufd = raw_connect(t->up_port);
		size_t got = 0;
		while (ufd >= 0 && !t->stop) {
			struct pollfd ps[2] = { { cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
			if (poll(ps, 2, 50) <= 0)
				continue;
			uint8_t chunk[65536];
			if (ps[0].revents) {
				ssize_t r = recv(cfd, chunk, sizeof chunk, 0);
				if (r <= 0)
					break;
				if (got + (size_t)r <= cap) { /* record first, then forward */
					memcpy(buf + got, chunk, (size_t)r);
					got += (size_t)r;
					tap_frames(t, buf, &got);
				}
				if (send(ufd, chunk, (size_t)r, MSG_NOSIGNAL) != r)
					break;
			}
			if (ps[1].revents) {
				ssize_t r = recv(ufd, chunk, sizeof chunk, 0);
				if (r <= 0 || send(cfd, chunk, (size_t)r, MSG_NOSIGNAL) != r)
					break;
			}
		}
		if (ufd >= 0)
			close(ufd);
		close(cfd);
	}
	free(buf);
	return NULL;
}

static int tap_start(struct tap *t, int up_port)
{
	int loop;
	memset(t, 0, sizeof *t);
	t->up_port = up_port;
	pthread_mutex_init(&t->mu, NULL);
	if (jalad_net_listen("127.0.0.1", 0, 4, &t->lfd, &t->port, &loop) != JALAD_OK)
		return -1;
	return pthread_create(&t->tid, NULL, tap_main, t) == 0 ? 0 : -1;
}

static void tap_stop(struct tap *t)
{
	t->stop = 1;
	pthread_join(t->tid, NULL);
	close(t->lfd);
	for (int i = 0; i < t->n; i++)
		free(t->payload[i]);
	pthread_mutex_destroy(&t->mu);
}

/* One REQUEST on an open raw connection; the answer's status and message. */
static int raw_request(int fd, uint64_t id, int k, uint32_t kind, const uint8_t *p, size_t len, char *msg,
		       size_t msg_cap, float *out, size_t out_n)
{
	size_t n = JALAD_FRAME_OVERHEAD + JALAD_REQUEST_FIXED + len;
	uint8_t *f = malloc(n), in[8192];
	size_t got;
	int rc = -999;
	if (!f)
		return rc;
	struct jalad_msg_request rq = { .id = id, .k = (uint32_t)k, .kind = kind, .payload = p, .payload_len = len };
	jalad_msg_request_head(&rq, f);
	memcpy(f + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, p, len);
	jalad_put_u32(f + n - 4, jalad_msg_request_crc(f, p, len));
	if (send(fd, f, n, MSG_NOSIGNAL) == (ssize_t)n && read_frame_raw(fd, in, sizeof in, &got) == JALAD_FRAME_RESPONSE) {
		struct jalad_msg_response r;
		if (jalad_msg_response_parse(in + JALAD_FRAME_HDR, got - JALAD_FRAME_OVERHEAD, &r) == JALAD_OK &&
		    r.id == id) {
			rc = r.status;
			snprintf(msg, msg_cap, "%s", r.message);
			for (size_t i = 0; rc == 0 && r.n_outputs == 1 && i < out_n && i < r.out[0].count; i++)
				out[i] = jalad_get_f32(r.out[0].data + 4 * i);
		}
	}
	free(f);
	return rc;
}

/* Requests of every kind through an edge (the tap records them), and each
 * kind's cloud answer against the same computed here. */
static void test_image_payloads(void)
{
	const int dims[4] = { 1, 3, 8, 6 };
	enum { C = 3, H = 8, W = 6, N = C * H * W };
	struct jalad_model *m = relu_neg_model("Neg", dims, 4);
	struct jalad_image *photo = test_photo(13, 11, 3), *small = NULL, *dec = NULL;
	struct jalad_preprocess pp, sized;
	jalad_preprocess_default(&pp, C, H, W);
	pp.mean[0] = 0.1f, pp.mean[1] = 0.2f, pp.mean[2] = 0.3f;
	pp.std[0] = 0.5f, pp.std[1] = 0.6f, pp.std[2] = 0.7f;
	CHECK(jalad_preprocess_set_crop(&pp, "central:0.75") == JALAD_OK);
	sized = pp;
	sized.center_crop = JALAD_CROP_NONE;
	CHECK(m && photo);
	if (!m || !photo) {
		jalad_model_free(m);
		jalad_image_free(photo);
		return;
	}
	/* A preprocessing of another size is refused at creation. */
	struct jalad_preprocess wrong = pp;
	wrong.height = 9;
	struct jalad_server_opts so = { .listen = "127.0.0.1:0", .workers = 2, .pp = &wrong, .max_image_pixels = 100000 };
	struct jalad_server *bad_srv = NULL;
	CHECK(jalad_server_create(m, &so, &bad_srv) == JALAD_ERR_MISMATCH && !bad_srv);
	so.pp = &pp;
	struct srv_thread t = { 0 };
	CHECK(jalad_server_create(m, &so, &t.srv) == JALAD_OK);
	if (!t.srv) {
		jalad_model_free(m);
		jalad_image_free(photo);
		return;
	}
	pthread_create(&t.tid, NULL, srv_main, &t);
	struct tap tap;
	CHECK(tap_start(&tap, jalad_server_port(t.srv)) == 0);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", tap.port);

	/* The edge's float input, and what each payload should carry. */
	float x[N], want[N];
	CHECK(jalad_image_to_tensor(photo, &pp, x, N) == JALAD_OK);
	CHECK(jalad_image_resample(photo, &pp, &small) == JALAD_OK && small->width == W && small->height == H);
	uint8_t *file_png = NULL;
	size_t fcap = 0, flen = 0;
	unsigned char *file_jpg = NULL, *want_jpg = NULL;
	size_t fjlen = 0, wjlen = 0;
	CHECK(jalad_net_png_encode(photo, &file_png, &fcap, &flen) == JALAD_OK);
	CHECK(jalad_image_encode_jpeg(photo, 90, &file_jpg, &fjlen) == JALAD_OK);
	CHECK(jalad_image_encode_jpeg(small, 75, &want_jpg, &wjlen) == JALAD_OK);
	struct jalad_tensor in = { JALAD_DTYPE_FLOAT32, 4, { 1, C, H, W }, x };
	const struct {
		enum jalad_net_payload kind;
		const uint8_t *file;
		size_t file_bytes;
		const char *what;
	} cases[] = {
		{ JALAD_NET_PAYLOAD_U8, NULL, 0, "u8" },
		{ JALAD_NET_PAYLOAD_PNG, NULL, 0, "png" },
		{ JALAD_NET_PAYLOAD_JPEG, NULL, 0, "jpeg" },
		{ JALAD_NET_PAYLOAD_FILE, file_png, flen, "file (a PNG)" },
		{ JALAD_NET_PAYLOAD_FILE, file_jpg, fjlen, "file (a JPEG)" },
	};
	for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
		enum jalad_net_payload kind = cases[ci].kind;
		struct jalad_edge_plan plan = { .k = 0, .payload = kind, .jpeg_quality = 75, .edge_ms = -1 };
		struct jalad_edge_opts eo = { .client = { .address = addr } };
		struct jalad_edge *e = NULL;
		struct jalad_server_stats s0, s1;
		jalad_server_stats(t.srv, &s0);
		int n0 = tap.n;
		CHECK(jalad_edge_create(m, &eo, &plan, 1, &e) == JALAD_OK);
		if (!e)
			continue;
		struct jalad_edge_image src = { .image = photo, .pp = &pp, .file = cases[ci].file,
						.file_bytes = cases[ci].file_bytes };
		struct jalad_edge_result r;
		enum jalad_status st = jalad_edge_infer_image(e, &in, &src, &r);
		CHECK_MSG(st == JALAD_OK && !r.fallback && r.payload == kind && r.k == 0,
			  "%s: status %d fallback %d payload %d: %s", cases[ci].what, st, r.fallback, r.payload, r.reason);
		jalad_server_stats(t.srv, &s1);
		CHECK_MSG(s1.requests_by_payload[kind] == s0.requests_by_payload[kind] + 1,
			  "%s: the server counted it as its kind", cases[ci].what);
		/* On the wire: exactly one REQUEST of this kind. */
		pthread_mutex_lock(&tap.mu);
		int seen = tap.n - n0;
		const uint8_t *wire = seen == 1 ? tap.payload[n0] : NULL;
		size_t wlen = seen == 1 ? tap.len[n0] : 0;
		uint32_t wkind = seen == 1 ? tap.kind[n0] : 0, wk = seen == 1 ? tap.k[n0] : 99;
		pthread_mutex_unlock(&tap.mu);
		CHECK_MSG(seen == 1 && wkind == (uint32_t)kind && wk == 0, "%s: %d frames, kind %u", cases[ci].what,
			  seen, wkind);
		CHECK(r.bytes == wlen + JALAD_NET_REQUEST_OVERHEAD);
		int wire_ok = 0;
		if (wire && kind == JALAD_NET_PAYLOAD_U8) {
			wire_ok = wlen == JALAD_NET_U8_HEADER + N && jalad_get_u16(wire) == W && jalad_get_u16(wire + 2) == H &&
				  wire[4] == C && !memcmp(wire + JALAD_NET_U8_HEADER, small->data, N);
			CHECK(jalad_image_to_tensor(small, &sized, want, N) == JALAD_OK);
		} else if (wire && kind == JALAD_NET_PAYLOAD_PNG) {
			wire_ok = jalad_image_decode(wire, wlen, "png", &dec) == JALAD_OK && dec->width == W &&
				  dec->height == H && dec->channels == C && !memcmp(dec->data, small->data, N);
			CHECK(jalad_image_to_tensor(small, &sized, want, N) == JALAD_OK);
		} else if (wire && kind == JALAD_NET_PAYLOAD_JPEG) {
			/* libjpeg is deterministic: the same pixels and quality give
			 * the same bytes, and the cloud decodes them as we do here */
			wire_ok = wlen == wjlen && !memcmp(wire, want_jpg, wlen) &&
				  jalad_image_decode(wire, wlen, "jpeg", &dec) == JALAD_OK;
			CHECK(dec && jalad_image_to_tensor(dec, &sized, want, N) == JALAD_OK);
		} else if (wire) {
			wire_ok = wlen == cases[ci].file_bytes && !memcmp(wire, cases[ci].file, wlen) &&
				  jalad_image_decode(wire, wlen, "file", &dec) == JALAD_OK;
			/* the cloud's full preprocessing, crop included */
			CHECK(dec && jalad_image_to_tensor(dec, &pp, want, N) == JALAD_OK);
		}
		jalad_image_free(dec);
		dec = NULL;
		CHECK_MSG(wire_ok, "%s: the bytes on the wire are the payload", cases[ci].what);
		int mism = r.n_outputs == 1 && jalad_tensor_numel(&r.outputs[0]) == N
				   ? minus_relu_mismatches(r.outputs[0].data, want, N)
				   : -1;
		CHECK_MSG(mism == 0, "%s: %d output values differ from the local run on what was sent", cases[ci].what,
			  mism);
		if (kind == JALAD_NET_PAYLOAD_FILE && cases[ci].file == file_png) {
			/* a lossless file: exactly the edge's own float input */
			CHECK(r.n_outputs == 1 && minus_relu_mismatches(r.outputs[0].data, x, N) == 0);
		}
		if (kind == JALAD_NET_PAYLOAD_PNG || kind == JALAD_NET_PAYLOAD_JPEG)
			CHECK_MSG(r.encode_ms > 0, "%s: making the payload is encode time", cases[ci].what);
		jalad_edge_free(e);
	}

	/* A plan that needs an image, run without one: the 8-bit raw container
	 * of the float input goes instead. */
	{
		struct jalad_edge_plan plan = { .k = 0, .payload = JALAD_NET_PAYLOAD_PNG, .edge_ms = -1 };
		struct jalad_edge_opts eo = { .client = { .address = addr } };
		struct jalad_edge *e = NULL;
		CHECK(jalad_edge_create(m, &eo, &plan, 1, &e) == JALAD_OK);
		struct jalad_edge_result r;
		int n0 = tap.n;
		if (e) {
			CHECK(jalad_edge_infer(e, &in, &r) == JALAD_OK && !r.fallback);
			CHECK_MSG(r.payload == JALAD_NET_PAYLOAD_CONTAINER && r.bits == 8 && r.coder == JALAD_CODER_RAW,
				  "without an image: payload %d bits %d", r.payload, r.bits);
			pthread_mutex_lock(&tap.mu);
			CHECK(tap.n == n0 + 1 && tap.kind[n0] == JALAD_NET_PAYLOAD_CONTAINER);
			pthread_mutex_unlock(&tap.mu);
			double worst = 0;
			for (int i = 0; i < N && r.n_outputs == 1; i++) {
				double d = fabs(((const float *)r.outputs[0].data)[i] + (x[i] > 0 ? x[i] : 0));
				worst = d > worst ? d : worst;
			}
			CHECK_MSG(worst < 0.05, "8-bit stand-in: max error %g", worst);
			jalad_edge_free(e);
		}
		/* A FILE plan given the decoded image but no file: the same. */
		plan.payload = JALAD_NET_PAYLOAD_FILE;
		CHECK(jalad_edge_create(m, &eo, &plan, 1, &e) == JALAD_OK);
		if (e) {
			struct jalad_edge_image src = { .image = photo, .pp = &pp };
			CHECK(jalad_edge_infer_image(e, &in, &src, &r) == JALAD_OK && !r.fallback &&
			      r.payload == JALAD_NET_PAYLOAD_CONTAINER);
			jalad_edge_free(e);
		}
	}

	/* Bad plans are refused at creation. */
	{
		struct jalad_edge_opts eo = { .client = { .address = addr } };
		struct jalad_edge *e = NULL;
		struct jalad_edge_plan at1 = { .k = 1, .payload = JALAD_NET_PAYLOAD_U8 };
		CHECK(jalad_edge_create(m, &eo, &at1, 1, &e) == JALAD_ERR_INVALID_ARG && !e);
		struct jalad_edge_plan q = { .k = 0, .payload = JALAD_NET_PAYLOAD_JPEG, .jpeg_quality = 101 };
		CHECK(jalad_edge_create(m, &eo, &q, 1, &e) == JALAD_ERR_INVALID_ARG && !e);
		struct jalad_model *flat = tiny_model("Neg");
		struct jalad_edge_plan u8 = { .k = 0, .payload = JALAD_NET_PAYLOAD_U8 };
		CHECK(flat && jalad_edge_create(flat, &eo, &u8, 1, &e) == JALAD_ERR_UNSUPPORTED && !e);
		jalad_model_free(flat);
	}

	/* Malformed payloads on one connection: each an error RESPONSE naming
	 * the problem, the connection stays, the server goes on. */
	{
		uint8_t f[1024], buf[4096], *p8 = NULL, *p9 = NULL, *pg = NULL;
		size_t n, len, c8 = 0, l8 = 0, c9 = 0, l9 = 0, cg = 0, lg = 0;
		struct jalad_image *nine = test_photo(9, 8, 3), *g8 = test_photo(W, H, 1);
		CHECK(jalad_net_png_encode(small, &p8, &c8, &l8) == JALAD_OK);
		CHECK(nine && jalad_net_png_encode(nine, &p9, &c9, &l9) == JALAD_OK);
		CHECK(g8 && jalad_net_png_encode(g8, &pg, &cg, &lg) == JALAD_OK);
		int fd = raw_connect(jalad_server_port(t.srv));
		n = hello_frame(m, f, sizeof f, 0);
		CHECK(send(fd, f, n, 0) == (ssize_t)n && read_frame_raw(fd, buf, sizeof buf, &len) == JALAD_FRAME_HELLO);
		/* the server says it takes images */
		struct jalad_msg_hello sh;
		CHECK(jalad_msg_hello_parse(buf + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &sh) == JALAD_OK &&
		      (sh.caps & JALAD_CAP_IMAGES));
		uint8_t u8[JALAD_NET_U8_HEADER + N + 1];
		jalad_put_u16(u8, W);
		jalad_put_u16(u8 + 2, H);
		u8[4] = C;
		memcpy(u8 + JALAD_NET_U8_HEADER, small->data, N);
		uint8_t u8w[JALAD_NET_U8_HEADER + N];
		memcpy(u8w, u8, sizeof u8w);
		jalad_put_u16(u8w, W + 1);
		uint8_t junk[300];
		memcpy(junk, "\xff\xd8\xff\xe0", 4);
		for (size_t i = 4; i < sizeof junk; i++)
			junk[i] = (uint8_t)rnd();
		junk[4] = 0; /* an APP0 segment of 4 bytes, then no marker */
		junk[5] = 4;
		junk[8] = 0x12;
		/* a PNG header claiming 60000 x 60000 pixels and nothing after it */
		uint8_t huge[33];
		memcpy(huge, p8, 33);
		huge[16] = huge[20] = 0;
		huge[17] = huge[21] = 0;
		huge[18] = huge[22] = 0xEA;
		huge[19] = huge[23] = 0x60;
		const struct {
			int k;
			uint32_t kind;
			const uint8_t *p;
			size_t len;
			int status;
			const char *text;
		} bad[] = {
			{ 0, JALAD_NET_PAYLOAD_U8, u8w, sizeof u8w, JALAD_ERR_SHAPE, "u8 payload is 7x8x3" },
			{ 0, JALAD_NET_PAYLOAD_U8, u8, JALAD_NET_U8_HEADER + 10, JALAD_ERR_TRUNCATED, "takes" },
			{ 0, JALAD_NET_PAYLOAD_U8, u8, sizeof u8, JALAD_ERR_FORMAT, "takes" },
			{ 0, JALAD_NET_PAYLOAD_PNG, p9, l9, JALAD_ERR_SHAPE, "png payload is 9x8x3" },
			{ 0, JALAD_NET_PAYLOAD_PNG, pg, lg, JALAD_ERR_SHAPE, "png payload is 6x8x1" },
			{ 0, JALAD_NET_PAYLOAD_PNG, p8, l8 / 2, JALAD_ERR_TRUNCATED, "png" },
			{ 0, JALAD_NET_PAYLOAD_JPEG, junk, sizeof junk, JALAD_ERR_FORMAT, "jpeg: no marker" },
			{ 0, JALAD_NET_PAYLOAD_JPEG, want_jpg, wjlen / 2, JALAD_ERR_TRUNCATED, "jpeg" },
			{ 0, JALAD_NET_PAYLOAD_JPEG, p8, l8, JALAD_ERR_FORMAT, "holds a PNG" },
			{ 1, JALAD_NET_PAYLOAD_U8, u8, JALAD_NET_U8_HEADER + N, JALAD_ERR_INVALID_ARG, "only valid at cut 0" },
			{ 0, JALAD_NET_PAYLOAD_FILE, huge, sizeof huge, JALAD_ERR_LIMIT, "exceeds the limit" },
			{ 0, JALAD_NET_PAYLOAD_FILE, junk + 1, sizeof junk - 1, JALAD_ERR_FORMAT, "neither PNG nor JPEG" },
			{ 0, 9, u8, JALAD_NET_U8_HEADER + N, JALAD_ERR_UNSUPPORTED, "unknown payload kind 9" },
			{ 0, JALAD_NET_PAYLOAD_NONE, u8, JALAD_NET_U8_HEADER + N, JALAD_ERR_UNSUPPORTED, "unknown payload kind 0" },
		};
		struct jalad_server_stats s0, s1;
		jalad_server_stats(t.srv, &s0);
		char msg[JALAD_MSG_TEXT_MAX + 1];
		float y[N];
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			int st = raw_request(fd, 500 + i, bad[i].k, bad[i].kind, bad[i].p, bad[i].len, msg, sizeof msg, y, N);
			CHECK_MSG(st == bad[i].status && strstr(msg, bad[i].text), "bad payload %zu: status %d '%s'", i, st, msg);
		}
		int st = raw_request(fd, 999, 0, JALAD_NET_PAYLOAD_U8, u8, JALAD_NET_U8_HEADER + N, msg, sizeof msg, y, N);
		CHECK(jalad_image_to_tensor(small, &sized, want, N) == JALAD_OK);
		CHECK_MSG(st == 0 && minus_relu_mismatches(y, want, N) == 0, "the same connection serves on: %d %s", st, msg);
		jalad_server_stats(t.srv, &s1);
		CHECK(s1.responses_err - s0.responses_err == sizeof bad / sizeof bad[0] && s1.conns_dropped == s0.conns_dropped);
		CHECK(s1.requests_by_payload[0] - s0.requests_by_payload[0] == 2); /* kinds 9 and 0 */
		close(fd);
		free(p8);
		free(p9);
		free(pg);
		jalad_image_free(nine);
		jalad_image_free(g8);
	}

	/* An edge of an older protocol is refused with a message saying so. */
	{
		uint8_t f[1024], buf[1024];
		size_t n, len;
		struct jalad_msg_hello h;
		memset(&h, 0, sizeof h);
		h.protocol = 2;
		jalad_model_sha256(m, h.sha256);
		snprintf(h.name, sizeof h.name, "old edge");
		jalad_msg_hello_write(&h, f, sizeof f, &n);
		int fd = raw_connect(jalad_server_port(t.srv));
		send(fd, f, n, MSG_NOSIGNAL);
		struct jalad_msg_error e;
		CHECK(read_frame_raw(fd, buf, sizeof buf, &len) == JALAD_FRAME_ERROR &&
		      jalad_msg_error_parse(buf + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &e) == JALAD_OK);
		char pwant[32];
		snprintf(pwant, sizeof pwant, "speaks %d", JALAD_NET_PROTOCOL);
		CHECK_MSG(e.code == JALAD_ERR_UNSUPPORTED && strstr(e.message, "protocol 2") && strstr(e.message, pwant),
			  "%s", e.message);
		close(fd);
	}
	/* The protocol before this one (no dictionary list in its HELLO) too. */
	{
		uint8_t f[1024], g[1024], buf[1024];
		size_t n, len;
		struct jalad_msg_hello h;
		memset(&h, 0, sizeof h);
		h.protocol = JALAD_NET_PROTOCOL - 1;
		jalad_model_sha256(m, h.sha256);
		snprintf(h.name, sizeof h.name, "previous edge");
		jalad_msg_hello_write(&h, f, sizeof f, &n);
		size_t plen = n - JALAD_FRAME_OVERHEAD - 2; /* its layout: no dictionary count */
		jalad_frame_hdr_write(g, JALAD_FRAME_HELLO, 0, (uint32_t)plen);
		memcpy(g + JALAD_FRAME_HDR, f + JALAD_FRAME_HDR, plen);
		jalad_put_u32(g + JALAD_FRAME_HDR + plen, jalad_frame_crc(g, g + JALAD_FRAME_HDR, plen));
		int fd = raw_connect(jalad_server_port(t.srv));
		send(fd, g, plen + JALAD_FRAME_OVERHEAD, MSG_NOSIGNAL);
		struct jalad_msg_error e;
		CHECK(read_frame_raw(fd, buf, sizeof buf, &len) == JALAD_FRAME_ERROR &&
		      jalad_msg_error_parse(buf + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &e) == JALAD_OK);
		char pwant[64];
		snprintf(pwant, sizeof pwant, "protocol %d, this server speaks %d", JALAD_NET_PROTOCOL - 1, JALAD_NET_PROTOCOL);
		CHECK_MSG(e.code == JALAD_ERR_UNSUPPORTED && strstr(e.message, pwant), "%s", e.message);
		close(fd);
	}

	tap_stop(&tap);
	jalad_server_stop(t.srv);
	pthread_join(t.tid, NULL);
	jalad_server_free(t.srv);

	/* A server without the preprocessing refuses image payloads with an
	 * error answer; the edge then computes locally from the float input. */
	struct jalad_server_opts np = { .listen = "127.0.0.1:0", .workers = 1 };
	struct srv_thread t2 = { 0 };
	CHECK(jalad_server_create(m, &np, &t2.srv) == JALAD_OK);
	if (t2.srv) {
		pthread_create(&t2.tid, NULL, srv_main, &t2);
		snprintf(addr, sizeof addr, "127.0.0.1:%d", jalad_server_port(t2.srv));
		struct jalad_edge_plan plan = { .k = 0, .payload = JALAD_NET_PAYLOAD_U8, .edge_ms = -1 };
		struct jalad_edge_opts eo = { .client = { .address = addr } };
		struct jalad_edge *e = NULL;
		CHECK(jalad_edge_create(m, &eo, &plan, 1, &e) == JALAD_OK);
		if (e) {
			struct jalad_edge_image src = { .image = photo, .pp = &pp };
			struct jalad_edge_result r;
			CHECK(jalad_edge_infer_image(e, &in, &src, &r) == JALAD_OK);
			CHECK_MSG(r.fallback && r.cloud_status == JALAD_ERR_UNSUPPORTED && strstr(r.reason, "no preprocessing"),
				  "no pp: fallback %d '%s'", r.fallback, r.reason);
			CHECK(r.n_outputs == 1 && minus_relu_mismatches(r.outputs[0].data, x, N) == 0);
			jalad_edge_free(e);
		}
		jalad_server_stop(t2.srv);
		pthread_join(t2.tid, NULL);
		jalad_server_free(t2.srv);
	}
	free(file_png);
	free(file_jpg);
	free(want_jpg);
	jalad_image_free(small);
	jalad_image_free(photo);
	jalad_model_free(m);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_header();
	test_hello();
	test_dict_msgs();
	test_crc();
	test_request_response();
	test_fuzz();
	test_addr();
	test_estimator();
	test_loopback();
	test_client_short_reads();
	test_edge_bad_answers();
	test_edge_fallback();
	test_image_peek();
	test_image_payloads();
	TEST_MAIN_END("net");
}
