/* The wire format: frames (header, payload, CRC-32C) and the messages they
 * carry. Every decoder checks each field against the end of its buffer. */
#include <stdlib.h>
#include <string.h>

#include "net_impl.h"

/* ================================================================ frames */

void jalad_frame_hdr_write(uint8_t *p, enum jalad_frame_type type, uint16_t flags, uint32_t length)
{
	jalad_put_u32(p, JALAD_FRAME_MAGIC);
	p[4] = JALAD_FRAME_VERSION;
	p[5] = (uint8_t)type;
	jalad_put_u16(p + 6, flags);
	jalad_put_u32(p + 8, length);
}

enum jalad_status jalad_frame_hdr_parse(const uint8_t p[JALAD_FRAME_HDR], uint32_t max_payload,
					struct jalad_frame_hdr *h)
{
	uint32_t magic = jalad_get_u32(p);
	JALAD_RETURN_IF(magic != JALAD_FRAME_MAGIC, JALAD_ERR_FORMAT,
			"frame: bad magic 0x%08x (expected 0x%08x, \"JLDN\")", magic, JALAD_FRAME_MAGIC);
	h->version = p[4];
	h->type = p[5];
	h->flags = jalad_get_u16(p + 6);
	h->length = jalad_get_u32(p + 8);
	JALAD_RETURN_IF(h->version != JALAD_FRAME_VERSION, JALAD_ERR_UNSUPPORTED,
			"frame: version %u, this side speaks %u", h->version, JALAD_FRAME_VERSION);
	JALAD_RETURN_IF(h->type < JALAD_FRAME_HELLO || h->type > JALAD_FRAME_TYPE_MAX, JALAD_ERR_FORMAT,
			"frame: unknown type %u", h->type);
	JALAD_RETURN_IF(h->flags != 0, JALAD_ERR_FORMAT, "frame: unknown flags 0x%04x", h->flags);
	uint32_t lim = max_payload;
	if (h->type == JALAD_FRAME_HELLO)
		lim = JALAD_HELLO_MAX;
	else if (h->type == JALAD_FRAME_ERROR)
		lim = JALAD_ERROR_MAX;
	else if (h->type == JALAD_FRAME_BYE)
		lim = 0;
	else if (h->type == JALAD_FRAME_DICT)
		lim = JALAD_DICT_MAX;
	else if (h->type == JALAD_FRAME_DICT_ACK)
		lim = JALAD_DICT_ACK_MAX;
	if (lim > max_payload)
		lim = max_payload;
	JALAD_RETURN_IF(h->length > lim, JALAD_ERR_LIMIT,
			"frame: type %u payload of %u bytes exceeds the limit of %u bytes", h->type,
			h->length, lim);
	return JALAD_OK;
}

uint32_t jalad_frame_crc(const uint8_t *hdr, const uint8_t *payload, size_t len)
{
	uint32_t crc = jalad_crc32c(0, hdr, JALAD_FRAME_HDR);
	return len ? jalad_crc32c(crc, payload, len) : crc;
}

enum jalad_status jalad_frame_check(const uint8_t *hdr, const uint8_t *payload, size_t len,
				    const uint8_t trailer[JALAD_FRAME_TRAILER])
{
	uint32_t want = jalad_get_u32(trailer), got = jalad_frame_crc(hdr, payload, len);
	JALAD_RETURN_IF(want != got, JALAD_ERR_CHECKSUM,
			"frame: CRC-32C 0x%08x does not match the trailer 0x%08x (%zu payload bytes)",
			got, want, len);
	return JALAD_OK;
}

enum jalad_status jalad_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload,
				    struct jalad_frame_hdr *h, const uint8_t **payload, size_t *need)
{
	if (need)
		*need = 0;
	JALAD_RETURN_IF(len < JALAD_FRAME_HDR, JALAD_ERR_TRUNCATED,
			"frame: %zu bytes, a header needs %u", len, JALAD_FRAME_HDR);
	JALAD_FORWARD(jalad_frame_hdr_parse(buf, max_payload, h));
	size_t total = (size_t)JALAD_FRAME_OVERHEAD + h->length;
	if (need)
		*need = total;
	JALAD_RETURN_IF(len < total, JALAD_ERR_TRUNCATED,
			"frame: %zu of %zu bytes (payload %u)", len, total, h->length);
	JALAD_FORWARD(jalad_frame_check(buf, buf + JALAD_FRAME_HDR, h->length, buf + JALAD_FRAME_HDR + h->length));
	*payload = buf + JALAD_FRAME_HDR;
	return JALAD_OK;
}

/* Finish a frame whose payload of len bytes is at dst + HDR. */
static size_t frame_seal(uint8_t *dst, enum jalad_frame_type type, size_t len)
{
	jalad_frame_hdr_write(dst, type, 0, (uint32_t)len);
	jalad_put_u32(dst + JALAD_FRAME_HDR + len, jalad_frame_crc(dst, dst + JALAD_FRAME_HDR, len));
	return JALAD_FRAME_OVERHEAD + len;
}

/* ================================================================ cursor */

/* A bounded reader: every get checks the remaining length first. */
struct rd {
	const uint8_t *p, *end;
	const char *what;
};

static enum jalad_status rd_need(struct rd *r, size_t n, const char *field)
{
	size_t left = (size_t)(r->end - r->p);
	JALAD_RETURN_IF(n > left, JALAD_ERR_TRUNCATED, "%s: field '%s' needs %zu bytes, %zu remain",
			r->what, field, n, left);
	return JALAD_OK;
}

#define RD_U(r, bits, field, out)                                         \
	do {                                                              \
		JALAD_FORWARD(rd_need((r), (bits) / 8, (field)));         \
		*(out) = jalad_get_u##bits((r)->p);                       \
		(r)->p += (bits) / 8;                                     \
	} while (0)

static enum jalad_status rd_u8(struct rd *r, const char *field, uint8_t *out)
{
	JALAD_FORWARD(rd_need(r, 1, field));
	*out = *r->p++;
	return JALAD_OK;
}

/* u16 length + bytes into a NUL-terminated string of at most cap-1 bytes
 * (longer strings are an error, not silently cut). */
static enum jalad_status rd_str(struct rd *r, const char *field, char *out, size_t cap)
{
	uint16_t n;
	RD_U(r, 16, field, &n);
	JALAD_RETURN_IF(n >= cap, JALAD_ERR_LIMIT, "%s: %s of %u bytes exceeds %zu", r->what, field, n,
			cap - 1);
	JALAD_FORWARD(rd_need(r, n, field));
	memcpy(out, r->p, n);
	out[n] = 0;
	for (uint16_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\t')
			out[i] = '?'; /* peer text goes into logs: no control bytes */
	r->p += n;
	return JALAD_OK;
}

static enum jalad_status rd_end(const struct rd *r)
{
	JALAD_RETURN_IF(r->p != r->end, JALAD_ERR_FORMAT, "%s: %zu trailing bytes", r->what,
			(size_t)(r->end - r->p));
	return JALAD_OK;
}

static size_t put_str(uint8_t *p, const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n > max)
		n = max;
	jalad_put_u16(p, (uint16_t)n);
	if (n)
		memcpy(p + 2, s, n);
	return 2 + n;
}

/* ================================================================ HELLO */

enum jalad_status jalad_msg_hello_write(const struct jalad_msg_hello *m, uint8_t *dst, size_t cap,
					size_t *len)
{
	size_t nlen = strnlen(m->name, JALAD_HELLO_NAME_MAX);
	JALAD_RETURN_IF(m->n_dicts < 0 || m->n_dicts > JALAD_HELLO_MAX_DICTS, JALAD_ERR_INVALID_ARG,
			"hello: %d dictionary ids (max %d)", m->n_dicts, JALAD_HELLO_MAX_DICTS);
	size_t plen = 4 + 32 + 4 + 4 + 4 + 2 + nlen + 2 + 4 * (size_t)m->n_dicts;
	JALAD_RETURN_IF(cap < JALAD_FRAME_OVERHEAD + plen, JALAD_ERR_LIMIT, "hello: buffer of %zu bytes too small", cap);
	uint8_t *p = dst + JALAD_FRAME_HDR;
	jalad_put_u32(p, m->protocol);
	memcpy(p + 4, m->sha256, 32);
	jalad_put_u32(p + 36, m->caps);
	jalad_put_u32(p + 40, m->max_frame);
	jalad_put_u32(p + 44, m->dict_digest);
	p += 48;
	p += put_str(p, m->name, nlen);
	jalad_put_u16(p, (uint16_t)m->n_dicts);
	for (int i = 0; i < m->n_dicts; i++)
		jalad_put_u32(p + 2 + 4 * i, m->dicts[i]);
	*len = frame_seal(dst, JALAD_FRAME_HELLO, plen);
	return JALAD_OK;
}

enum jalad_status jalad_msg_hello_parse(const uint8_t *p, size_t len, struct jalad_msg_hello *m)
{
	struct rd r = { p, p + len, "hello" };
	memset(m, 0, sizeof *m);
	RD_U(&r, 32, "protocol", &m->protocol);
	JALAD_FORWARD(rd_need(&r, 32, "sha256"));
	memcpy(m->sha256, r.p, 32);
	r.p += 32;
	RD_U(&r, 32, "caps", &m->caps);
	RD_U(&r, 32, "max_frame", &m->max_frame);
	RD_U(&r, 32, "dict_digest", &m->dict_digest);
	JALAD_FORWARD(rd_str(&r, "name", m->name, sizeof m->name));
	/* What follows depends on the protocol: an older or newer peer's HELLO
	 * parses up to here, so the caller can refuse it by its version. */
	if (m->protocol != JALAD_NET_PROTOCOL)
		return JALAD_OK;
	uint16_t nd;
	RD_U(&r, 16, "dictionary count", &nd);
	JALAD_RETURN_IF(nd > JALAD_HELLO_MAX_DICTS, JALAD_ERR_LIMIT, "hello: %u dictionary ids (max %d)", nd,
			JALAD_HELLO_MAX_DICTS);
	m->n_dicts = nd;
	for (int i = 0; i < nd; i++)
		RD_U(&r, 32, "dictionary id", &m->dicts[i]);
	return rd_end(&r);
}

/* ================================================================ DICT, DICT_ACK */

enum jalad_status jalad_msg_dict_write(uint32_t id, const uint8_t *data, size_t len, uint8_t *dst, size_t cap,
				       size_t *out_len)
{
	JALAD_RETURN_IF(len > JALAD_CODEC_DICT_MAX_BYTES, JALAD_ERR_LIMIT, "dict: %zu bytes (max %d)", len,
			JALAD_CODEC_DICT_MAX_BYTES);
	size_t plen = 4 + len;
	JALAD_RETURN_IF(cap < JALAD_FRAME_OVERHEAD + plen, JALAD_ERR_LIMIT, "dict: buffer of %zu bytes too small", cap);
	uint8_t *p = dst + JALAD_FRAME_HDR;
	jalad_put_u32(p, id);
	if (len)
		memcpy(p + 4, data, len);
	*out_len = frame_seal(dst, JALAD_FRAME_DICT, plen);
	return JALAD_OK;
}

enum jalad_status jalad_msg_dict_parse(const uint8_t *p, size_t len, struct jalad_msg_dict *m)
{
	struct rd r = { p, p + len, "dict" };
	memset(m, 0, sizeof *m);
	RD_U(&r, 32, "id", &m->id);
	m->data = r.p;
	m->len = (size_t)(r.end - r.p);
	JALAD_RETURN_IF(m->len == 0, JALAD_ERR_TRUNCATED, "dict 0x%08x: no dictionary bytes", m->id);
	JALAD_RETURN_IF(m->len > JALAD_CODEC_DICT_MAX_BYTES, JALAD_ERR_LIMIT, "dict 0x%08x: %zu bytes (max %d)", m->id,
			m->len, JALAD_CODEC_DICT_MAX_BYTES);
	return JALAD_OK;
}

enum jalad_status jalad_msg_dict_ack_write(uint32_t id, int32_t status, const char *msg, uint8_t *dst, size_t cap,
					   size_t *len)
{
	size_t n = msg ? strlen(msg) : 0;
	if (n > JALAD_MSG_TEXT_MAX)
		n = JALAD_MSG_TEXT_MAX;
	size_t plen = 4 + 4 + 2 + n;
	JALAD_RETURN_IF(cap < JALAD_FRAME_OVERHEAD + plen, JALAD_ERR_LIMIT, "dict ack: buffer of %zu bytes too small",
			cap);
	uint8_t *p = dst + JALAD_FRAME_HDR;
	jalad_put_u32(p, id);
	jalad_put_u32(p + 4, (uint32_t)status);
	put_str(p + 8, msg, n);
	*len = frame_seal(dst, JALAD_FRAME_DICT_ACK, plen);
	return JALAD_OK;
}

enum jalad_status jalad_msg_dict_ack_parse(const uint8_t *p, size_t len, struct jalad_msg_dict_ack *m)
{
	struct rd r = { p, p + len, "dict ack" };
	uint32_t st;
	memset(m, 0, sizeof *m);
	RD_U(&r, 32, "id", &m->id);
	RD_U(&r, 32, "status", &st);
	m->status = (int32_t)st;
	JALAD_FORWARD(rd_str(&r, "message", m->message, sizeof m->message));
	return rd_end(&r);
}

/* ================================================================ ERROR, BYE */

enum jalad_status jalad_msg_error_write(uint64_t id, int32_t code, const char *msg, uint8_t *dst,
					size_t cap, size_t *len)
{
	size_t n = msg ? strlen(msg) : 0;
	if (n > JALAD_MSG_TEXT_MAX)
		n = JALAD_MSG_TEXT_MAX;
	size_t plen = 8 + 4 + 2 + n;
	JALAD_RETURN_IF(cap < JALAD_FRAME_OVERHEAD + plen, JALAD_ERR_LIMIT, "error: buffer of %zu bytes too small", cap);
	uint8_t *p = dst + JALAD_FRAME_HDR;
	jalad_put_u64(p, id);
	jalad_put_u32(p + 8, (uint32_t)code);
	put_str(p + 12, msg, n);
	*len = frame_seal(dst, JALAD_FRAME_ERROR, plen);
	return JALAD_OK;
}

enum jalad_status jalad_msg_error_parse(const uint8_t *p, size_t len, struct jalad_msg_error *m)
{
	struct rd r = { p, p + len, "error" };
	uint32_t code;
	memset(m, 0, sizeof *m);
	RD_U(&r, 64, "id", &m->id);
	RD_U(&r, 32, "code", &code);
	m->code = (int32_t)code;
	JALAD_FORWARD(rd_str(&r, "message", m->message, sizeof m->message));
	return rd_end(&r);
}

size_t jalad_msg_bye_write(uint8_t dst[JALAD_FRAME_OVERHEAD])
{
	return frame_seal(dst, JALAD_FRAME_BYE, 0);
}

/* ================================================================ REQUEST */

void jalad_msg_request_head(const struct jalad_msg_request *m, uint8_t dst[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED])
{
	jalad_frame_hdr_write(dst, JALAD_FRAME_REQUEST, 0, (uint32_t)(JALAD_REQUEST_FIXED + m->payload_len));
	uint8_t *p = dst + JALAD_FRAME_HDR;
	jalad_put_u64(p, m->id);
	jalad_put_u32(p + 8, m->k);
	jalad_put_u32(p + 12, m->kind);
	jalad_put_u64(p + 16, m->edge_ts);
}

uint32_t jalad_msg_request_crc(const uint8_t head[JALAD_FRAME_HDR + JALAD_REQUEST_FIXED],
			       const uint8_t *payload, size_t len)
{
	uint32_t crc = jalad_crc32c(0, head, JALAD_FRAME_HDR + JALAD_REQUEST_FIXED);
	return len ? jalad_crc32c(crc, payload, len) : crc;
}

enum jalad_status jalad_msg_request_parse(const uint8_t *p, size_t len, struct jalad_msg_request *m)
{
	struct rd r = { p, p + len, "request" };
	memset(m, 0, sizeof *m);
	RD_U(&r, 64, "id", &m->id);
	RD_U(&r, 32, "k", &m->k);
	RD_U(&r, 32, "payload kind", &m->kind);
	RD_U(&r, 64, "edge_ts", &m->edge_ts);
	m->payload = r.p;
	m->payload_len = (size_t)(r.end - r.p);
	JALAD_RETURN_IF(m->payload_len == 0, JALAD_ERR_TRUNCATED, "request %llu: empty payload",
			(unsigned long long)m->id);
	return JALAD_OK;
}

const char *jalad_net_payload_name(enum jalad_net_payload p)
{
	switch (p) {
	case JALAD_NET_PAYLOAD_NONE: return "none";
	case JALAD_NET_PAYLOAD_CONTAINER: return "container";
	case JALAD_NET_PAYLOAD_U8: return "u8";
	case JALAD_NET_PAYLOAD_PNG: return "png";
	case JALAD_NET_PAYLOAD_JPEG: return "jpeg";
	case JALAD_NET_PAYLOAD_FILE: return "file";
	default: return "unknown";
	}
}

enum jalad_status jalad_net_payload_parse(const char *name, enum jalad_net_payload *out)
{
	for (int i = 0; name && i < JALAD_NET_PAYLOAD_COUNT; i++)
		if (!strcmp(name, jalad_net_payload_name((enum jalad_net_payload)i))) {
			*out = (enum jalad_net_payload)i;
			return JALAD_OK;
		}
	return jalad_fail(JALAD_ERR_INVALID_ARG, "unknown payload '%s' (none, container, u8, png, jpeg, file)",
			  name ? name : "(null)");
}

/* ================================================================ RESPONSE */

size_t jalad_msg_response_size(int n_outputs, const struct jalad_tensor *outs)
{
	size_t n = JALAD_FRAME_OVERHEAD + JALAD_RESPONSE_FIXED + 1;
	for (int i = 0; i < n_outputs; i++)
		n += 2 + 4 * (size_t)outs[i].ndim + 4 + 4 * (size_t)jalad_tensor_numel(&outs[i]);
	return n;
}

enum jalad_status jalad_msg_response_write(const struct jalad_msg_response *m,
					   const struct jalad_tensor *outs, const char *message,
					   uint8_t *dst, size_t cap, size_t *len)
{
	int nout = m->status == 0 ? m->n_outputs : 0;
	JALAD_RETURN_IF(nout < 0 || nout > JALAD_NET_MAX_OUTPUTS, JALAD_ERR_INVALID_ARG,
			"response: %d outputs (max %d)", nout, JALAD_NET_MAX_OUTPUTS);
	size_t need = m->status == 0 ? jalad_msg_response_size(nout, outs)
				     : JALAD_FRAME_OVERHEAD + JALAD_RESPONSE_FIXED + 2 + JALAD_MSG_TEXT_MAX;
	JALAD_RETURN_IF(cap < need, JALAD_ERR_LIMIT, "response: buffer of %zu bytes, need %zu", cap, need);
	uint8_t *p0 = dst + JALAD_FRAME_HDR, *p = p0;
	jalad_put_u64(p, m->id);
	jalad_put_u32(p + 8, (uint32_t)m->status);
	jalad_put_u64(p + 12, m->edge_ts);
	jalad_put_u64(p + 20, m->recv_first_ns);
	jalad_put_u64(p + 28, m->recv_last_ns);
	jalad_put_u64(p + 36, m->send_ns);
	jalad_put_u32(p + 44, m->first_read_bytes);
	jalad_put_u64(p + 48, m->queue_ns);
	jalad_put_u64(p + 56, m->decode_ns);
	jalad_put_u64(p + 64, m->compute_ns);
	p += JALAD_RESPONSE_FIXED;
	if (m->status != 0) {
		p += put_str(p, message, JALAD_MSG_TEXT_MAX);
	} else {
		*p++ = (uint8_t)nout;
		for (int i = 0; i < nout; i++) {
			const struct jalad_tensor *t = &outs[i];
			JALAD_RETURN_IF(t->dtype != JALAD_DTYPE_FLOAT32 || t->ndim < 0 || t->ndim > JALAD_MAX_DIMS,
					JALAD_ERR_INVALID_ARG, "response: output %d is %s with %d dims", i,
					jalad_dtype_name(t->dtype), t->ndim);
			int64_t cnt = jalad_tensor_numel(t);
			JALAD_RETURN_IF(cnt < 0 || (uint64_t)cnt > UINT32_MAX / 4, JALAD_ERR_LIMIT,
					"response: output %d has %lld elements", i, (long long)cnt);
			*p++ = JALAD_DTYPE_FLOAT32;
			*p++ = (uint8_t)t->ndim;
			for (int d = 0; d < t->ndim; d++, p += 4)
				jalad_put_u32(p, (uint32_t)t->dims[d]);
			jalad_put_u32(p, (uint32_t)(cnt * 4));
			p += 4;
			const float *f = t->data;
			for (int64_t j = 0; j < cnt; j++, p += 4)
				jalad_put_f32(p, f[j]);
		}
	}
	*len = frame_seal(dst, JALAD_FRAME_RESPONSE, (size_t)(p - p0));
	return JALAD_OK;
}

enum jalad_status jalad_msg_response_parse(const uint8_t *p, size_t len, struct jalad_msg_response *m)
{
	struct rd r = { p, p + len, "response" };
	uint32_t st;
	memset(m, 0, sizeof *m);
	RD_U(&r, 64, "id", &m->id);
	RD_U(&r, 32, "status", &st);
	m->status = (int32_t)st;
	RD_U(&r, 64, "edge_ts", &m->edge_ts);
	RD_U(&r, 64, "recv_first_ns", &m->recv_first_ns);
	RD_U(&r, 64, "recv_last_ns", &m->recv_last_ns);
	RD_U(&r, 64, "send_ns", &m->send_ns);
	RD_U(&r, 32, "first_read_bytes", &m->first_read_bytes);
	RD_U(&r, 64, "queue_ns", &m->queue_ns);
	RD_U(&r, 64, "decode_ns", &m->decode_ns);
	RD_U(&r, 64, "compute_ns", &m->compute_ns);
	if (m->status != 0) {
		JALAD_FORWARD(rd_str(&r, "message", m->message, sizeof m->message));
		return rd_end(&r);
	}
	uint8_t nout;
	JALAD_FORWARD(rd_u8(&r, "noutputs", &nout));
	JALAD_RETURN_IF(nout > JALAD_NET_MAX_OUTPUTS, JALAD_ERR_LIMIT, "response: %u outputs (max %d)", nout,
			JALAD_NET_MAX_OUTPUTS);
	m->n_outputs = nout;
	for (int i = 0; i < nout; i++) {
		uint8_t dtype, ndim;
		uint32_t nbytes;
		JALAD_FORWARD(rd_u8(&r, "dtype", &dtype));
		JALAD_RETURN_IF(dtype != JALAD_DTYPE_FLOAT32, JALAD_ERR_FORMAT,
				"response: output %d has dtype %u, expected float32 (1)", i, dtype);
		JALAD_FORWARD(rd_u8(&r, "ndim", &ndim));
		JALAD_RETURN_IF(ndim > JALAD_MAX_DIMS, JALAD_ERR_FORMAT, "response: output %d has %u dims (max %d)",
				i, ndim, JALAD_MAX_DIMS);
		m->out[i].ndim = ndim;
		/* The count is bounded by the payload (checked below): stop
		 * multiplying once it exceeds it, so nothing can overflow. */
		uint64_t cnt = 1;
		int zero = 0;
		for (int d = 0; d < ndim; d++) {
			uint32_t v;
			RD_U(&r, 32, "dim", &v);
			m->out[i].dims[d] = v;
			if (v == 0)
				zero = 1;
			else if (cnt <= (uint64_t)len)
				cnt *= v;
		}
		if (zero)
			cnt = 0;
		RD_U(&r, 32, "nbytes", &nbytes);
		JALAD_RETURN_IF(cnt > (uint64_t)len || (uint64_t)nbytes != cnt * 4, JALAD_ERR_FORMAT,
				"response: output %d declares %u bytes for its shape", i, nbytes);
		JALAD_FORWARD(rd_need(&r, nbytes, "data"));
		m->out[i].count = cnt;
		m->out[i].data = r.p;
		r.p += nbytes;
	}
	return rd_end(&r);
}

enum jalad_status jalad_net_status_from_wire(int32_t code)
{
	if (code <= JALAD_ERR_INVALID_ARG && code >= JALAD_ERR_INTERNAL)
		return (enum jalad_status)code;
	return JALAD_ERR_INTERNAL;
}

/* ================================================================ dictionaries */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

uint32_t jalad_net_dict_digest(const struct jalad_codec_dict *const *dicts, int n)
{
	if (n <= 0 || !dicts)
		return 0;
	uint32_t *ids = malloc((size_t)n * sizeof *ids);
	uint32_t crc = 0;
	int m = 0;
	if (!ids)
		return 0;
	for (int i = 0; i < n; i++)
		if (dicts[i])
			ids[m++] = jalad_codec_dict_id(dicts[i]);
	qsort(ids, (size_t)m, sizeof *ids, cmp_u32);
	for (int i = 0; i < m; i++) {
		uint8_t b[4];
		jalad_put_u32(b, ids[i]);
		crc = jalad_crc32c(crc, b, 4);
	}
	free(ids);
	return m ? (crc ? crc : 1) : 0;
}
