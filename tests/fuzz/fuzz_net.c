// libFuzzer target for the wire protocol: frame headers and streams, the
// HELLO / REQUEST / RESPONSE / ERROR / DICT / DICT_ACK parsers, a REQUEST's
// codec container (peek + decode) and image payloads (jalad_net_image_peek,
// jalad_net_image_input), uploaded dictionaries (jalad_codec_dict_load).
// The routing is in tests/fuzz/fuzz_net_body.h. Build and run from the
// repository root (tests/fuzz/build.sh builds all targets into build/fuzz/):
//
//   sh tests/fuzz/build.sh net
//   mkdir -p /tmp/net-corpus
//   nice -n 19 build/fuzz/fuzz_net -max_len=4096 -runs=10000000 /tmp/net-corpus tests/fuzz/corpus/net
//
// tests/unit/test_fuzz_replay_net.c replays tests/fuzz/corpus/net on every
// `make test`; files named ok-* must parse.
//
// The seed files (ok-*, and bad-* damaged twins) are made by this same file
// built as a program:
//
//   make && cc -std=c11 -O1 -DFUZZ_NET_MAKE_CORPUS -D_GNU_SOURCE -Iinclude -Isrc -Itests
//       tests/fuzz/fuzz_net.c build/libjalad.a -fopenmp -lprotobuf-c -ldnnl -lhtscodecs -lzstd
//       -lpng -ljpeg -lz -lcjson -lssl -lcrypto -lnetfilter_queue -lm -lpthread -o make_corpus
//   ./make_corpus tests/fuzz/corpus/net
//
// (the saved corpus holds these seeds and what -merge=1 kept of the fuzzer's
// finds, tests/fuzz/README.md)
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_net_body.h"

#ifndef FUZZ_NET_MAKE_CORPUS

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_net_one(data, size);
	return 0;
}

#else /* corpus generator */

static const char *out_dir;
static int failures;

/* Write route byte + b[0..len) as name; ok-* must parse. */
static void save(const char *name, int route, const uint8_t *b, size_t len)
{
	char path[512];
	uint8_t *all = malloc(len + 1);
	if (!all) {
		failures++;
		return;
	}
	all[0] = (uint8_t)route;
	if (len)
		memcpy(all + 1, b, len);
	snprintf(path, sizeof path, "%s/%s", out_dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(all, 1, len + 1, f) != len + 1) {
		fprintf(stderr, "cannot write %s\n", path);
		failures++;
	}
	if (f)
		fclose(f);
	int st = fuzz_net_one(all, len + 1);
	if (strncmp(name, "ok-", 3) == 0 && st != JALAD_OK) {
		fprintf(stderr, "%s: %s: %s\n", name, jalad_status_str((enum jalad_status)st), jalad_last_error());
		failures++;
	}
	free(all);
}

/* A frame and its payload-only twin under the route of its type. */
static void save_frame(const char *name, int route, const uint8_t *frame, size_t len)
{
	char n[256];
	snprintf(n, sizeof n, "%s-frame", name);
	save(n, FUZZ_NET_STREAM, frame, len);
	save(name, route, frame + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD);
}

static void image(struct jalad_image *img, int channels)
{
	static uint8_t px[FUZZ_NET_W * FUZZ_NET_H * 3];
	for (size_t i = 0; i < sizeof px; i++)
		px[i] = (uint8_t)(i * 37 + i / 7);
	*img = (struct jalad_image){ FUZZ_NET_W, FUZZ_NET_H, channels, px };
}

/* A REQUEST frame carrying payload (kind) at cut k. */
static size_t request(uint8_t *dst, uint32_t k, uint32_t kind, const uint8_t *payload, size_t plen)
{
	struct jalad_msg_request rq = { 7, k, kind, 123456789, payload, plen };
	jalad_msg_request_head(&rq, dst);
	memcpy(dst + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, payload, plen);
	size_t len = JALAD_FRAME_HDR + JALAD_REQUEST_FIXED + plen;
	jalad_put_u32(dst + len, jalad_msg_request_crc(dst, payload, plen));
	return len + JALAD_FRAME_TRAILER;
}

static uint8_t buf[1 << 16], buf2[1 << 16];

static void images(void)
{
	struct jalad_image img;
	uint8_t *pl = NULL;
	size_t cap = 0, plen = 0, len;
	char name[64];
	for (int ch = 1; ch <= 3; ch += 2) {
		image(&img, ch);
		/* u8: header + pixels */
		jalad_put_u16(buf2, FUZZ_NET_W);
		jalad_put_u16(buf2 + 2, FUZZ_NET_H);
		buf2[4] = (uint8_t)ch;
		memcpy(buf2 + JALAD_NET_U8_HEADER, img.data, (size_t)FUZZ_NET_W * FUZZ_NET_H * ch);
		plen = JALAD_NET_U8_HEADER + (size_t)FUZZ_NET_W * FUZZ_NET_H * ch;
		len = request(buf, 0, JALAD_NET_PAYLOAD_U8, buf2, plen);
		snprintf(name, sizeof name, "ok-request-u8-c%d", ch);
		save_frame(name, FUZZ_NET_REQUEST, buf, len);
		/* PNG and JPEG, as payloads and as files */
		if (jalad_net_png_encode(&img, &pl, &cap, &plen) == JALAD_OK) {
			len = request(buf, 0, JALAD_NET_PAYLOAD_PNG, pl, plen);
			snprintf(name, sizeof name, "ok-request-png-c%d", ch);
			save_frame(name, FUZZ_NET_REQUEST, buf, len);
			buf2[0] = JALAD_NET_PAYLOAD_FILE;
			memcpy(buf2 + 1, pl, plen);
			snprintf(name, sizeof name, "ok-image-file-png-c%d", ch);
			save(name, FUZZ_NET_IMAGE, buf2, plen + 1);
			snprintf(name, sizeof name, "bad-image-png-trunc-c%d", ch);
			buf2[0] = JALAD_NET_PAYLOAD_PNG;
			save(name, FUZZ_NET_IMAGE, buf2, plen / 2);
		} else {
			failures++;
		}
		unsigned char *jpg = NULL;
		size_t jlen = 0;
		if (jalad_image_encode_jpeg(&img, 80, &jpg, &jlen) == JALAD_OK && jlen < sizeof buf2 - 1) {
			len = request(buf, 0, JALAD_NET_PAYLOAD_JPEG, jpg, jlen);
			snprintf(name, sizeof name, "ok-request-jpeg-c%d", ch);
			save_frame(name, FUZZ_NET_REQUEST, buf, len);
			buf2[0] = JALAD_NET_PAYLOAD_FILE;
			memcpy(buf2 + 1, jpg, jlen);
			snprintf(name, sizeof name, "ok-image-file-jpeg-c%d", ch);
			save(name, FUZZ_NET_IMAGE, buf2, jlen + 1);
			buf2[0] = JALAD_NET_PAYLOAD_JPEG;
			snprintf(name, sizeof name, "bad-image-jpeg-trunc-c%d", ch);
			save(name, FUZZ_NET_IMAGE, buf2, jlen / 2);
		} else {
			failures++;
		}
		free(jpg);
	}
	free(pl);
}

static void containers(void)
{
	static float x[2][1 * 3 * 6 * 5];
	for (int t = 0; t < 2; t++)
		for (size_t i = 0; i < sizeof x[t] / sizeof x[t][0]; i++)
			x[t][i] = (float)((i * 13 + (size_t)t) % 11) * 0.1f;
	struct jalad_codec_tensor ts[2] = { { x[0], 4, { 1, 3, 6, 5 }, 0 }, { x[1], 2, { 9, 10 }, 1 } };
	static const struct {
		const char *name;
		int bits, ntensors, crc;
		enum jalad_coder coder;
	} cs[] = {
		{ "ok-request-container-huffman-b4-crc", 4, 1, 1, JALAD_CODER_HUFFMAN },
		{ "ok-request-container-shared-b4", 4, 2, 0, JALAD_CODER_HUFFMAN_SHARED },
		{ "ok-request-container-2d-b2-crc", 2, 1, 1, JALAD_CODER_HUFFMAN_2D },
		{ "ok-request-container-rans1-b8", 8, 2, 0, JALAD_CODER_RANS1 },
		{ "ok-request-container-f32-zstd", 0, 1, 1, JALAD_CODER_ZSTD },
	};
	for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
		struct jalad_codec_params p = { cs[c].bits, cs[c].coder, 0, cs[c].crc, fuzz_codec_dict(cs[c].bits), 0 };
		size_t cap = jalad_codec_bound(&p, ts, cs[c].ntensors), plen, len;
		if (cap > sizeof buf2 ||
		    jalad_codec_encode(NULL, &p, ts, cs[c].ntensors, buf2, cap, &plen, NULL) != JALAD_OK) {
			failures++;
			continue;
		}
		len = request(buf, 3, JALAD_NET_PAYLOAD_CONTAINER, buf2, plen);
		save_frame(cs[c].name, FUZZ_NET_REQUEST, buf, len);
		if (c == 0) {
			save("ok-container-huffman-b4-crc", FUZZ_NET_CONTAINER, buf2, plen);
			buf[len / 2] ^= 0x08; /* behind the frame's CRC: route 1 gets past it */
			save("bad-request-container-flip-frame", FUZZ_NET_STREAM_FIXCRC, buf, len);
		}
	}
}

static void messages(void)
{
	size_t len;
	struct jalad_msg_hello h;
	memset(&h, 0, sizeof h);
	h.protocol = JALAD_NET_PROTOCOL;
	for (int i = 0; i < 32; i++)
		h.sha256[i] = (uint8_t)(i * 11);
	h.caps = 0x1FF | JALAD_CAP_CRC | JALAD_CAP_IMAGES;
	h.max_frame = 64u << 20;
	h.dict_digest = 0x12345678;
	snprintf(h.name, sizeof h.name, "edge-7");
	h.n_dicts = 3;
	h.dicts[0] = jalad_codec_dict_id(fuzz_codec_dict(4));
	h.dicts[1] = jalad_codec_dict_id(fuzz_codec_dict(2));
	h.dicts[2] = jalad_codec_dict_id(fuzz_codec_dict(16));
	if (jalad_msg_hello_write(&h, buf, sizeof buf, &len) == JALAD_OK) {
		save_frame("ok-hello", FUZZ_NET_HELLO, buf, len);
		save("bad-hello-trunc", FUZZ_NET_HELLO, buf + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD - 3);
	} else {
		failures++;
	}
	h.protocol = JALAD_NET_PROTOCOL - 1; /* an older peer: no dictionary list */
	h.n_dicts = 0;
	if (jalad_msg_hello_write(&h, buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-hello-old", FUZZ_NET_HELLO, buf, len);

	if (jalad_msg_error_write(7, JALAD_ERR_LIMIT, "request too large\x01", buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-error", FUZZ_NET_ERROR, buf, len);
	len = jalad_msg_bye_write(buf);
	save("ok-bye-frame", FUZZ_NET_STREAM, buf, len);

	/* RESPONSE: two outputs, and an error status with a message */
	static float o0[10], o1[2 * 3];
	for (int i = 0; i < 10; i++)
		o0[i] = (float)i - 4.5f;
	struct jalad_tensor outs[2] = { { JALAD_DTYPE_FLOAT32, 2, { 1, 10 }, o0 },
					{ JALAD_DTYPE_FLOAT32, 3, { 1, 2, 3 }, o1 } };
	struct jalad_msg_response m;
	memset(&m, 0, sizeof m);
	m.id = 7;
	m.n_outputs = 2;
	m.compute_ns = 1000;
	if (jalad_msg_response_write(&m, outs, NULL, buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-response", FUZZ_NET_RESPONSE, buf, len);
	m.status = JALAD_ERR_SHAPE;
	m.n_outputs = 0;
	if (jalad_msg_response_write(&m, NULL, "cut 3: bad shape", buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-response-status", FUZZ_NET_RESPONSE, buf, len);

	/* DICT and DICT_ACK */
	static uint8_t ser[JALAD_CODEC_DICT_MAX_BYTES];
	size_t slen;
	static const int bits[] = { 2, 4, 16 };
	for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
		const struct jalad_codec_dict *d = fuzz_codec_dict(bits[b]);
		char name[64];
		if (jalad_codec_dict_save(d, ser, sizeof ser, &slen) != JALAD_OK ||
		    jalad_msg_dict_write(jalad_codec_dict_id(d), ser, slen, buf, sizeof buf, &len) != JALAD_OK) {
			failures++;
			continue;
		}
		snprintf(name, sizeof name, "ok-dict-b%d", bits[b]);
		save_frame(name, FUZZ_NET_DICT, buf, len);
		if (b == 1) {
			jalad_put_u32(buf + JALAD_FRAME_HDR, 0xDEADBEEF);
			save("bad-dict-wrong-id", FUZZ_NET_DICT, buf + JALAD_FRAME_HDR, len - JALAD_FRAME_OVERHEAD);
		}
	}
	if (jalad_msg_dict_ack_write(0x1234, 0, "", buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-dict-ack", FUZZ_NET_DICT_ACK, buf, len);
	if (jalad_msg_dict_ack_write(0x1234, JALAD_ERR_LIMIT, "cache full", buf, sizeof buf, &len) == JALAD_OK)
		save_frame("ok-dict-ack-refused", FUZZ_NET_DICT_ACK, buf, len);
}

/* A connection's worth of frames in one stream: HELLO, DICT, two REQUESTs, BYE. */
static void stream(void)
{
	size_t at = 0, len;
	struct jalad_msg_hello h;
	memset(&h, 0, sizeof h);
	h.protocol = JALAD_NET_PROTOCOL;
	h.caps = 0xFF;
	h.max_frame = 1 << 20;
	snprintf(h.name, sizeof h.name, "s");
	if (jalad_msg_hello_write(&h, buf, sizeof buf, &len) != JALAD_OK) {
		failures++;
		return;
	}
	at += len;
	static uint8_t ser[JALAD_CODEC_DICT_MAX_BYTES];
	size_t slen;
	const struct jalad_codec_dict *d = fuzz_codec_dict(2);
	if (jalad_codec_dict_save(d, ser, sizeof ser, &slen) == JALAD_OK &&
	    jalad_msg_dict_write(jalad_codec_dict_id(d), ser, slen, buf + at, sizeof buf - at, &len) == JALAD_OK)
		at += len;
	static float x[2 * 4 * 4];
	for (int i = 0; i < 32; i++)
		x[i] = (float)(i % 5);
	struct jalad_codec_tensor t = { x, 3, { 2, 4, 4 }, 0 };
	struct jalad_codec_params p = { 2, JALAD_CODER_HUFFMAN_2D, 0, 1, d, 0 };
	size_t plen;
	if (jalad_codec_encode(NULL, &p, &t, 1, buf2, sizeof buf2, &plen, NULL) == JALAD_OK) {
		at += request(buf + at, 1, JALAD_NET_PAYLOAD_CONTAINER, buf2, plen);
		at += request(buf + at, 2, JALAD_NET_PAYLOAD_CONTAINER, buf2, plen);
	}
	at += jalad_msg_bye_write(buf + at);
	save("ok-stream", FUZZ_NET_STREAM, buf, at);
	buf[at / 3] ^= 0x40;
	save("bad-stream-flip-fixcrc", FUZZ_NET_STREAM_FIXCRC, buf, at);
	save("bad-stream-trunc", FUZZ_NET_STREAM, buf, at - 20);
}

int main(int argc, char **argv)
{
	out_dir = argc > 1 ? argv[1] : "tests/fuzz/corpus/net";
	messages();
	containers();
	images();
	stream();
	if (failures)
		fprintf(stderr, "make_corpus: %d files failed\n", failures);
	return failures ? 1 : 0;
}

#endif
