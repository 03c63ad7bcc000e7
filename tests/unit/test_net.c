/* The net module: wire format round trips, truncated and garbage frames,
 * the estimator, and a real server and client on loopback with short reads
 * injected on both sides. The model is a two-node ONNX graph built here. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* ValueInfoProto of a float tensor (1, 4). */
static void value_info(struct pb *out, int field, const char *name)
{
	struct pb d1 = { .n = 0 }, d4 = { .n = 0 }, shape = { .n = 0 }, tt = { .n = 0 }, type = { .n = 0 },
		  vi = { .n = 0 };
	pb_int(&d1, 1, 1);
	pb_int(&d4, 1, 4);
	pb_msg(&shape, 1, &d1);
	pb_msg(&shape, 1, &d4);
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

/* x (1,4) -> Relu -> a -> Neg -> y: two nodes, cuts 0, 1, 2. */
static struct jalad_model *tiny_model(const char *second_op)
{
	struct pb g = { .n = 0 }, m = { .n = 0 }, os = { .n = 0 };
	node(&g, "x", "a", "relu", "Relu");
	node(&g, "a", "y", "neg", second_op);
	pb_str(&g, 2, "tiny");
	value_info(&g, 11, "x");
	value_info(&g, 12, "y");
	pb_int(&os, 2, 13);
	pb_int(&m, 1, 7);
	pb_msg(&m, 7, &g);
	pb_msg(&m, 8, &os);
	struct jalad_model *model = NULL;
	if (jalad_model_load_buffer(m.b, m.n, NULL, &model) != JALAD_OK)
		fprintf(stderr, "tiny model: %s\n", jalad_last_error());
	return model;
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
	CHECK(jalad_msg_hello_write(&a, f, sizeof f, &n) == JALAD_OK);
	struct jalad_frame_hdr h;
	const uint8_t *p;
	CHECK(jalad_frame_parse(f, n, 4096, &h, &p, NULL) == JALAD_OK && h.type == JALAD_FRAME_HELLO);
	CHECK(jalad_msg_hello_parse(p, h.length, &b) == JALAD_OK);
	CHECK(b.protocol == a.protocol && !memcmp(b.sha256, a.sha256, 32) && b.caps == a.caps &&
	      b.max_frame == a.max_frame && b.dict_digest == a.dict_digest);
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
	struct jalad_msg_request rq = { .id = 0x1122334455667788ull, .k = 9, .edge_ts = 42, .container = container,
					.container_len = sizeof container };
	uint8_t f[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED + 100 + 4];
	jalad_msg_request_head(&rq, f);
	memcpy(f + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, container, 100);
	jalad_put_u32(f + sizeof f - 4, jalad_msg_request_crc(f, container, 100));
	struct jalad_frame_hdr h;
	const uint8_t *p;
	struct jalad_msg_request got;
	CHECK(jalad_frame_parse(f, sizeof f, 4096, &h, &p, NULL) == JALAD_OK);
	CHECK(jalad_msg_request_parse(p, h.length, &got) == JALAD_OK);
	CHECK(got.id == rq.id && got.k == 9 && got.edge_ts == 42 && got.container_len == 100 &&
	      !memcmp(got.container, container, 100));
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
	struct jalad_msg_request rq = { .id = id, .k = (uint32_t)k, .container = c, .container_len = clen };
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
	int lfd, port, mode; /* 0 slow but correct, 1 truncated, 2 garbage, 3 late */
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
	write_slowly(fd, out, n, 1);
	for (int round = 0; round < (fk->mode == 3 ? 2 : 1); round++) {
		if (read_frame_raw(fd, in, sizeof in, &len) != JALAD_FRAME_REQUEST)
			goto done;
		struct jalad_msg_request rq;
		jalad_msg_request_parse(in + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD, &rq);
		float y[4] = { 1, 2, 3, 4 };
		struct jalad_tensor t = { JALAD_DTYPE_FLOAT32, 2, { 1, 4 }, y };
		struct jalad_msg_response m;
		memset(&m, 0, sizeof m);
		m.id = rq.id;
		m.n_outputs = 1;
		jalad_msg_response_write(&m, &t, NULL, out, sizeof out, &n);
		if (fk->mode == 0) {
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

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_header();
	test_hello();
	test_crc();
	test_request_response();
	test_fuzz();
	test_addr();
	test_estimator();
	test_loopback();
	test_client_short_reads();
	test_edge_fallback();
	TEST_MAIN_END("net");
}
