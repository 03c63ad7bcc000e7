/*
 * The protocol exercise shared by the libFuzzer target (fuzz_net.c) and the
 * corpus replay test (tests/unit/test_fuzz_replay_net.c), so both run the
 * same code on the same bytes.
 *
 * Input routing by the first byte (mod 10), the rest is the data:
 *   0  a byte stream as a connection reads it: frame after frame (header,
 *      limits, CRC), each payload parsed as its type says, until the first
 *      error;
 *   1  the same with every frame's CRC trailer recomputed first, so
 *      mutations reach the message parsers behind the checksum;
 *   2  a HELLO payload            3  a REQUEST payload
 *   4  a RESPONSE payload         5  an ERROR payload
 *   6  a codec container (a REQUEST's payload at cut k > 0)
 *   7  a DICT payload             8  a DICT_ACK payload
 *   9  an image payload: u8 kind (enum jalad_net_payload), image bytes.
 *
 * A REQUEST's payload goes on as the server takes it: a container is
 * peeked and decoded (fuzz_codec_container(): tight limits, the fuzz
 * dictionaries), an image is peeked and decoded into a 16x12 input
 * (jalad_net_image_input()). A DICT's bytes are loaded as the server does
 * (jalad_codec_dict_load(), id check).
 */
#ifndef JALAD_FUZZ_NET_BODY_H
#define JALAD_FUZZ_NET_BODY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_codec_body.h"
#include "jalad/data.h"
#include "net/net_impl.h"

#define FUZZ_NET_MAX_FRAME ((uint32_t)1 << 20)
#define FUZZ_NET_W 16
#define FUZZ_NET_H 12
#define FUZZ_NET_MAX_PIXELS (64u * 64u) /* file payloads */

enum fuzz_net_route {
	FUZZ_NET_STREAM = 0,
	FUZZ_NET_STREAM_FIXCRC = 1,
	FUZZ_NET_HELLO = 2,
	FUZZ_NET_REQUEST = 3,
	FUZZ_NET_RESPONSE = 4,
	FUZZ_NET_ERROR = 5,
	FUZZ_NET_CONTAINER = 6,
	FUZZ_NET_DICT = 7,
	FUZZ_NET_DICT_ACK = 8,
	FUZZ_NET_IMAGE = 9,
	FUZZ_NET_ROUTES = 10,
};

/* An image payload of kind into a model input of 16x12 (channels as the
 * header says, 1 or 3), as the server's decode_image() does. */
static enum jalad_status fuzz_net_image(uint32_t kind, const uint8_t *p, size_t len)
{
	int fmt = 0, c = 0;
	uint32_t w = 0, h = 0;
	if (len > 0)
		(void)jalad_net_image_peek(p, len, &fmt, &w, &h, &c);
	int ch = kind == JALAD_NET_PAYLOAD_U8 ? (len > 4 && p[4] == 1 ? 1 : 3) : (c == 1 ? 1 : 3);
	struct jalad_preprocess pp;
	jalad_preprocess_default(&pp, ch, FUZZ_NET_H, FUZZ_NET_W);
	size_t n = (size_t)FUZZ_NET_W * FUZZ_NET_H * (size_t)ch;
	float *dst = malloc(n * sizeof *dst); /* exact size: ASan sees an overrun */
	if (!dst)
		return JALAD_ERR_NOMEM;
	enum jalad_status st = jalad_net_image_input((enum jalad_net_payload)kind, p, len, &pp, FUZZ_NET_MAX_PIXELS,
						     dst, n);
	free(dst);
	return st;
}

static enum jalad_status fuzz_net_request(const uint8_t *p, size_t len)
{
	struct jalad_msg_request rq;
	enum jalad_status st = jalad_msg_request_parse(p, len, &rq);
	if (st != JALAD_OK)
		return st;
	if (rq.kind == JALAD_NET_PAYLOAD_CONTAINER) {
		struct jalad_codec_ctx *ctx = NULL;
		if (jalad_codec_ctx_create(&ctx) != JALAD_OK)
			return JALAD_ERR_NOMEM;
		st = fuzz_codec_container(ctx, rq.payload, rq.payload_len);
		jalad_codec_ctx_free(ctx);
		return st;
	}
	if (jalad_net_payload_is_image(rq.kind))
		return fuzz_net_image(rq.kind, rq.payload, rq.payload_len);
	return JALAD_ERR_UNSUPPORTED;
}

static enum jalad_status fuzz_net_response(const uint8_t *p, size_t len)
{
	struct jalad_msg_response m;
	enum jalad_status st = jalad_msg_response_parse(p, len, &m);
	if (st != JALAD_OK)
		return st;
	volatile float sink = 0;
	for (int i = 0; i < m.n_outputs; i++)
		for (uint64_t k = 0; k < m.out[i].count; k++)
			sink += jalad_get_f32(m.out[i].data + 4 * k);
	(void)sink;
	(void)jalad_net_status_from_wire(m.status);
	return JALAD_OK;
}

static enum jalad_status fuzz_net_dict(const uint8_t *p, size_t len)
{
	struct jalad_msg_dict m;
	struct jalad_codec_dict *d = NULL;
	enum jalad_status st = jalad_msg_dict_parse(p, len, &m);
	if (st != JALAD_OK)
		return st;
	st = jalad_codec_dict_load(m.data, m.len, &d);
	if (st == JALAD_OK && jalad_codec_dict_id(d) != m.id)
		st = JALAD_ERR_CHECKSUM;
	if (d)
		(void)jalad_codec_dict_footprint(d);
	jalad_codec_dict_free(d);
	return st;
}

/* A frame payload of the given type. */
static enum jalad_status fuzz_net_payload(int type, const uint8_t *p, size_t len)
{
	switch (type) {
	case JALAD_FRAME_HELLO: {
		struct jalad_msg_hello m;
		return jalad_msg_hello_parse(p, len, &m);
	}
	case JALAD_FRAME_REQUEST: return fuzz_net_request(p, len);
	case JALAD_FRAME_RESPONSE: return fuzz_net_response(p, len);
	case JALAD_FRAME_ERROR: {
		struct jalad_msg_error m;
		enum jalad_status st = jalad_msg_error_parse(p, len, &m);
		if (st == JALAD_OK)
			(void)jalad_net_status_from_wire(m.code);
		return st;
	}
	case JALAD_FRAME_BYE: return len == 0 ? JALAD_OK : JALAD_ERR_FORMAT;
	case JALAD_FRAME_DICT: return fuzz_net_dict(p, len);
	case JALAD_FRAME_DICT_ACK: {
		struct jalad_msg_dict_ack m;
		return jalad_msg_dict_ack_parse(p, len, &m);
	}
	default: return JALAD_ERR_FORMAT;
	}
}

/* Frames one after another from buf[0..len); fixcrc: buf is a private copy
 * whose trailers are rewritten. @return the first error, or JALAD_OK. */
static enum jalad_status fuzz_net_stream(uint8_t *buf, size_t len, int fixcrc)
{
	size_t at = 0;
	enum jalad_status st = JALAD_OK;
	while (at < len && st == JALAD_OK) {
		struct jalad_frame_hdr h;
		const uint8_t *payload = NULL;
		size_t need = 0, left = len - at;
		if (fixcrc && left >= JALAD_FRAME_HDR &&
		    jalad_frame_hdr_parse(buf + at, FUZZ_NET_MAX_FRAME, &h) == JALAD_OK &&
		    left >= (size_t)JALAD_FRAME_OVERHEAD + h.length)
			jalad_put_u32(buf + at + JALAD_FRAME_HDR + h.length,
				      jalad_frame_crc(buf + at, buf + at + JALAD_FRAME_HDR, h.length));
		st = jalad_frame_parse(buf + at, left, FUZZ_NET_MAX_FRAME, &h, &payload, &need);
		if (st != JALAD_OK)
			break;
		/* the view the parser gave must be inside the frame it measured */
		if (payload != buf + at + JALAD_FRAME_HDR || need != (size_t)JALAD_FRAME_OVERHEAD + h.length ||
		    need > left)
			__builtin_trap();
		st = fuzz_net_payload(h.type, payload, h.length);
		at += need;
	}
	return st;
}

/* @return the status of the last parse (JALAD_OK for a valid input). */
static int fuzz_net_one(const uint8_t *data, size_t size)
{
	(void)fuzz_codec_one; /* shared header; the codec target uses it */
	if (size == 0)
		return JALAD_ERR_TRUNCATED;
	const uint8_t *p = data + 1;
	size_t len = size - 1;
	/* a private copy: the stream route rewrites trailers, and the parsers
	 * then see a buffer of exactly len bytes */
	uint8_t *copy = malloc(len ? len : 1);
	enum jalad_status st;
	if (!copy)
		return JALAD_ERR_NOMEM;
	if (len)
		memcpy(copy, p, len);
	switch (data[0] % FUZZ_NET_ROUTES) {
	case FUZZ_NET_STREAM: st = fuzz_net_stream(copy, len, 0); break;
	case FUZZ_NET_STREAM_FIXCRC: st = fuzz_net_stream(copy, len, 1); break;
	case FUZZ_NET_HELLO: st = fuzz_net_payload(JALAD_FRAME_HELLO, copy, len); break;
	case FUZZ_NET_REQUEST: st = fuzz_net_payload(JALAD_FRAME_REQUEST, copy, len); break;
	case FUZZ_NET_RESPONSE: st = fuzz_net_payload(JALAD_FRAME_RESPONSE, copy, len); break;
	case FUZZ_NET_ERROR: st = fuzz_net_payload(JALAD_FRAME_ERROR, copy, len); break;
	case FUZZ_NET_CONTAINER: {
		struct jalad_codec_ctx *ctx = NULL;
		st = jalad_codec_ctx_create(&ctx);
		if (st == JALAD_OK)
			st = fuzz_codec_container(ctx, copy, len);
		jalad_codec_ctx_free(ctx);
		break;
	}
	case FUZZ_NET_DICT: st = fuzz_net_payload(JALAD_FRAME_DICT, copy, len); break;
	case FUZZ_NET_DICT_ACK: st = fuzz_net_payload(JALAD_FRAME_DICT_ACK, copy, len); break;
	default:
		st = len ? fuzz_net_image(copy[0], copy + 1, len - 1) : JALAD_ERR_TRUNCATED;
		break;
	}
	free(copy);
	return st;
}

#endif /* JALAD_FUZZ_NET_BODY_H */
