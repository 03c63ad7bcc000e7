/* The edge's connection to the cloud: connect (TCP, TLS, HELLO) with a
 * timeout, one request at a time with a deadline, reconnect with
 * exponential backoff, and an optional token bucket in the sender. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net_impl.h"

struct jalad_client {
	struct jalad_client_opts o;
	char host[256];
	int port;
	char name[JALAD_HELLO_NAME_MAX + 1];
	uint8_t sha256[32];
	struct jalad_tls *tls;
	struct jalad_stream s;
	int connected;
	uint32_t server_max_frame;
	uint64_t next_attempt_ns;  /* no connection attempt before this */
	uint32_t backoff_ms;       /* next wait after a failed attempt */
	uint64_t connect_ns;
	uint8_t *wbuf;             /* the request frame */
	size_t wcap;
	/* the last response */
	uint8_t *rbuf;
	size_t rcap;
	float *out;
	size_t out_cap;
	/* pacing: the emulated link is busy until link_free_ns */
	double rate;               /* bytes per second, 0 = off */
	double burst_ns;           /* idle credit */
	uint64_t link_free_ns;
	/* shared dictionaries: the ids this edge may use (sent in HELLO) and,
	 * for the open connection, which of them the server holds */
	const struct jalad_codec_dict **dicts;
	int n_dicts;
	uint8_t *held;             /* (n_dicts) */
	uint8_t *refused;          /* (n_dicts): the server said no, do not ask again */
	uint8_t dbuf[JALAD_FRAME_OVERHEAD + JALAD_DICT_MAX]; /* a DICT frame */
	/* requests sent and not answered yet, oldest first (ids increase) */
	struct pending {
		uint64_t id;
		uint64_t gen;      /* connection they went out on */
		int dict;          /* index of a dictionary uploaded with it, or -1 */
		int32_t dict_status;
		char dict_msg[JALAD_MSG_TEXT_MAX + 1];
		int acked;
	} pend[JALAD_CLIENT_MAX_PENDING];
	int n_pend;
	uint64_t gen;              /* connections made */
};

/* Bytes a chunk of payload occupies on an Ethernet link (TCP/IP with
 * timestamps + Ethernet headers per 1448-byte segment), so that paced
 * goodput matches a shaped link of the same rate (about 0.956 x rate). */
#define PACE_SEGMENT 1448
#define PACE_OVERHEAD 66

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void disconnect(struct jalad_client *c)
{
	if (!c->connected)
		return;
	if (c->held)
		memset(c->held, 0, (size_t)c->n_dicts);
	jalad_tls_conn_free(c->s.tls);
	close(c->s.fd);
	c->s.tls = NULL;
	c->s.fd = -1;
	c->connected = 0;
}

/* A failed attempt to reach the server: wait longer before the next. */
static void backoff(struct jalad_client *c)
{
	c->next_attempt_ns = jalad_now_ns() + (uint64_t)c->backoff_ms * 1000000u;
	c->backoff_ms = c->backoff_ms * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms : c->backoff_ms * 2;
}

/* Wait until fd is ready for the direction I/O asked for, or the deadline
 * (0 = none). @return JALAD_OK or JALAD_ERR_TIMEOUT / JALAD_ERR_IO. */
static enum jalad_status io_wait(struct jalad_client *c, long want, uint64_t deadline)
{
	for (;;) {
		int ms = -1;
		if (deadline) {
			uint64_t now = jalad_now_ns();
			if (now >= deadline)
				return jalad_fail(JALAD_ERR_TIMEOUT, "no progress before the deadline");
			ms = (int)((deadline - now + 999999) / 1000000);
		}
		struct pollfd p = { c->s.fd, want == JALAD_IO_WANT_WRITE ? POLLOUT : POLLIN, 0 };
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			return JALAD_OK;
		if (rc < 0 && errno != EINTR)
			return jalad_fail(JALAD_ERR_IO, "poll: %s", strerror(errno));
	}
}

/* Convert a JALAD_IO_* result of a stream operation into a status. */
static enum jalad_status io_status(long r, const char *what)
{
	if (r == JALAD_IO_EOF)
		return jalad_fail(JALAD_ERR_CLOSED, "the server closed the connection while %s", what);
	jalad_error_prefix("%s: ", what); /* keeps the detail the stream recorded */
	return JALAD_ERR_IO;
}

static enum jalad_status write_all(struct jalad_client *c, const uint8_t *p, size_t n, uint64_t deadline,
				   int shaped)
{
	while (n) {
		size_t chunk = n;
		if (shaped && c->rate > 0) {
			/* Serialize like a link of this rate: a segment is handed to
			 * the socket once the link would have carried it. */
			chunk = n < PACE_SEGMENT ? n : PACE_SEGMENT;
			uint64_t now = jalad_now_ns();
			uint64_t credit = (uint64_t)c->burst_ns, earliest = now > credit ? now - credit : 0;
			uint64_t start = c->link_free_ns > earliest ? c->link_free_ns : earliest;
			uint64_t done = start + (uint64_t)((double)(chunk + PACE_OVERHEAD) / c->rate * 1e9);
			if (deadline && done >= deadline)
				return jalad_fail(JALAD_ERR_TIMEOUT, "sending: the deadline passed");
			c->link_free_ns = done;
			if (done > now)
				sleep_ns(done - now);
		}
		long r = jalad_stream_write(&c->s, p, chunk);
		if (r == JALAD_IO_WANT_WRITE || r == JALAD_IO_WANT_READ) {
			JALAD_FORWARD(io_wait(c, r, deadline));
			continue;
		}
		if (r < 0)
			return io_status(r, "sending");
		if (shaped && c->rate > 0 && (size_t)r < chunk) /* the rest goes as a new segment */
			c->link_free_ns -= (uint64_t)((double)(chunk - (size_t)r) / c->rate * 1e9);
		p += r;
		n -= (size_t)r;
	}
	return JALAD_OK;
}

static enum jalad_status read_exact(struct jalad_client *c, uint8_t *p, size_t n, uint64_t deadline)
{
	while (n) {
		long r = jalad_stream_read(&c->s, p, n);
		if (r == JALAD_IO_WANT_WRITE || r == JALAD_IO_WANT_READ) {
			JALAD_FORWARD(io_wait(c, r, deadline));
			continue;
		}
		if (r < 0)
			return io_status(r, "receiving");
		p += r;
		n -= (size_t)r;
	}
	return JALAD_OK;
}

/* Read one frame into c->rbuf. *payload points into it. */
static enum jalad_status read_frame(struct jalad_client *c, uint64_t deadline, struct jalad_frame_hdr *h,
				    const uint8_t **payload)
{
	uint8_t hdr[JALAD_FRAME_HDR];
	JALAD_FORWARD(read_exact(c, hdr, sizeof hdr, deadline));
	enum jalad_status st = jalad_frame_hdr_parse(hdr, c->o.max_frame_bytes, h);
	if (st != JALAD_OK) {
		jalad_error_prefix("from the server: ");
		return JALAD_ERR_PROTOCOL;
	}
	size_t need = (size_t)h->length + JALAD_FRAME_TRAILER;
	if (need > c->rcap) {
		uint8_t *nb = realloc(c->rbuf, need);
		JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "client: out of memory for a %zu-byte frame", need);
		c->rbuf = nb;
		c->rcap = need;
	}
	JALAD_FORWARD(read_exact(c, c->rbuf, need, deadline));
	st = jalad_frame_check(hdr, c->rbuf, h->length, c->rbuf + h->length);
	if (st != JALAD_OK) {
		jalad_error_prefix("from the server: ");
		return JALAD_ERR_PROTOCOL;
	}
	*payload = c->rbuf;
	return JALAD_OK;
}

/* An ERROR frame: its code and message become this call's error. */
static enum jalad_status peer_error(const uint8_t *p, size_t len)
{
	struct jalad_msg_error e;
	if (jalad_msg_error_parse(p, len, &e) != JALAD_OK)
		return jalad_fail(JALAD_ERR_PROTOCOL, "the server sent a malformed ERROR frame");
	return jalad_fail(jalad_net_status_from_wire(e.code), "server: %s", e.message);
}

static enum jalad_status do_connect(struct jalad_client *c, uint64_t deadline)
{
	uint64_t now = jalad_now_ns();
	uint64_t cdl = now + (uint64_t)c->o.connect_timeout_ms * 1000000u;
	if (deadline && deadline < cdl)
		cdl = deadline;
	JALAD_RETURN_IF(cdl <= now, JALAD_ERR_TIMEOUT, "no time left to connect");
	int fd;
	enum jalad_status st = jalad_net_connect(c->host, c->port, (uint32_t)((cdl - now + 999999) / 1000000), &fd,
						 &c->connect_ns);
	if (st != JALAD_OK)
		return st;
	c->s.fd = fd;
	c->s.tls = NULL;
	c->connected = 1;
	if (c->tls) {
		const char *sn = c->o.tls->server_name ? c->o.tls->server_name : c->host;
		if ((st = jalad_tls_conn_create(c->tls, fd, sn, &c->s.tls)) != JALAD_OK)
			goto fail;
		for (;;) {
			int r = jalad_tls_handshake(c->s.tls);
			if (r == 0)
				break;
			if (r != JALAD_IO_WANT_READ && r != JALAD_IO_WANT_WRITE) {
				st = JALAD_ERR_IO; /* the handshake recorded why */
				goto fail;
			}
			if ((st = io_wait(c, r, cdl)) != JALAD_OK)
				goto fail;
		}
	}
	struct jalad_msg_hello h;
	uint8_t frame[JALAD_FRAME_OVERHEAD + JALAD_HELLO_MAX];
	size_t n;
	memset(&h, 0, sizeof h);
	h.protocol = JALAD_NET_PROTOCOL;
	memcpy(h.sha256, c->sha256, 32);
	h.caps = JALAD_CAP_CRC | ((1u << JALAD_CODER_COUNT) - 1);
	h.max_frame = c->o.max_frame_bytes;
	h.dict_digest = c->o.dict_digest;
	memcpy(h.name, c->name, sizeof h.name);
	for (int i = 0; i < c->n_dicts && h.n_dicts < JALAD_HELLO_MAX_DICTS; i++)
		h.dicts[h.n_dicts++] = jalad_codec_dict_id(c->dicts[i]);
	if ((st = jalad_msg_hello_write(&h, frame, sizeof frame, &n)) != JALAD_OK ||
	    (st = write_all(c, frame, n, cdl, 0)) != JALAD_OK)
		goto fail;
	struct jalad_frame_hdr fh;
	const uint8_t *p;
	if ((st = read_frame(c, cdl, &fh, &p)) != JALAD_OK)
		goto fail;
	if (fh.type == JALAD_FRAME_ERROR) {
		st = peer_error(p, fh.length);
		goto fail;
	}
	if (fh.type != JALAD_FRAME_HELLO) {
		st = jalad_fail(JALAD_ERR_PROTOCOL, "the server answered HELLO with frame type %u", fh.type);
		goto fail;
	}
	struct jalad_msg_hello sh;
	if ((st = jalad_msg_hello_parse(p, fh.length, &sh)) != JALAD_OK)
		goto fail;
	if (sh.protocol != JALAD_NET_PROTOCOL) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED,
				"the server speaks protocol %u, this edge %u: run the same jalad version on both sides",
				sh.protocol, JALAD_NET_PROTOCOL);
		goto fail;
	}
	if (memcmp(sh.sha256, c->sha256, 32) != 0) {
		st = jalad_fail(JALAD_ERR_MISMATCH, "the server runs a different model (SHA-256 differs)");
		goto fail;
	}
	if (sh.max_frame < JALAD_MIN_MAX_FRAME || !(sh.caps & JALAD_CAP_CRC)) {
		st = jalad_fail(JALAD_ERR_PROTOCOL, "the server's HELLO is out of bounds: max_frame %u (at least %u), caps 0x%x "
				"(CRC bit 16 required)", sh.max_frame, JALAD_MIN_MAX_FRAME, sh.caps);
		goto fail;
	}
	for (int i = 0; i < sh.n_dicts; i++)
		for (int j = 0; j < c->n_dicts; j++)
			if (jalad_codec_dict_id(c->dicts[j]) == sh.dicts[i])
				c->held[j] = 1;
	c->server_max_frame = sh.max_frame;
	c->gen++;
	c->backoff_ms = c->o.backoff_min_ms;
	return JALAD_OK;
fail:
	disconnect(c);
	return st;
}

enum jalad_status jalad_client_create(const struct jalad_client_opts *opts, const uint8_t model_sha256[32],
				      struct jalad_client **out)
{
	enum jalad_status st;
	*out = NULL;
	JALAD_RETURN_IF(!opts || !opts->address, JALAD_ERR_INVALID_ARG, "client: no server address");
	struct jalad_client *c = calloc(1, sizeof *c);
	JALAD_RETURN_IF(!c, JALAD_ERR_NOMEM, "client: out of memory");
	c->o = *opts;
	c->s.fd = -1;
	if ((st = jalad_net_parse_addr(opts->address, c->host, sizeof c->host, &c->port)) != JALAD_OK)
		goto fail;
	if (!c->o.connect_timeout_ms)
		c->o.connect_timeout_ms = 2000;
	if (!c->o.backoff_min_ms)
		c->o.backoff_min_ms = 100;
	if (!c->o.backoff_max_ms)
		c->o.backoff_max_ms = 5000;
	if (c->o.backoff_max_ms < c->o.backoff_min_ms)
		c->o.backoff_max_ms = c->o.backoff_min_ms;
	if (!c->o.max_frame_bytes)
		c->o.max_frame_bytes = JALAD_NET_DEFAULT_MAX_FRAME;
	c->backoff_ms = c->o.backoff_min_ms;
	snprintf(c->name, sizeof c->name, "%s", opts->name ? opts->name : "jalad-edge");
	c->o.address = NULL;
	c->o.name = NULL;
	memcpy(c->sha256, model_sha256, 32);
	if (opts->shape_bps) {
		c->rate = (double)opts->shape_bps / 8.0;
		c->burst_ns = (double)opts->shape_burst_bytes / c->rate * 1e9;
	}
	if (opts->n_dicts < 0 || (opts->n_dicts && !opts->dicts)) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG, "client: bad dictionary list");
		goto fail;
	}
	c->o.dicts = NULL;
	c->o.n_dicts = 0;
	if (opts->n_dicts) {
		c->dicts = calloc((size_t)opts->n_dicts, sizeof *c->dicts);
		c->held = calloc((size_t)opts->n_dicts, 1);
		c->refused = calloc((size_t)opts->n_dicts, 1);
		if (!c->dicts || !c->held || !c->refused) {
			st = jalad_fail(JALAD_ERR_NOMEM, "client: out of memory");
			goto fail;
		}
		for (int i = 0; i < opts->n_dicts; i++) {
			int dup = !opts->dicts[i];
			for (int j = 0; !dup && j < c->n_dicts; j++)
				dup = jalad_codec_dict_id(c->dicts[j]) == jalad_codec_dict_id(opts->dicts[i]);
			if (!dup)
				c->dicts[c->n_dicts++] = opts->dicts[i];
		}
	}
	if (opts->tls && (st = jalad_tls_create(opts->tls, 0, &c->tls)) != JALAD_OK)
		goto fail;
	*out = c;
	return JALAD_OK;
fail:
	jalad_client_free(c);
	return st;
}

int jalad_client_connected(const struct jalad_client *c)
{
	return c->connected;
}

int jalad_client_fd(const struct jalad_client *c)
{
	return c->connected ? c->s.fd : -1;
}

int jalad_client_pending(const struct jalad_client *c)
{
	return c->connected && jalad_stream_pending(&c->s);
}

/* Copy the outputs of a response into c->out and point res at them. */
static enum jalad_status take_outputs(struct jalad_client *c, const struct jalad_msg_response *m,
				      struct jalad_client_result *res)
{
	uint64_t total = 0;
	for (int i = 0; i < m->n_outputs; i++)
		total += m->out[i].count;
	if (total > c->out_cap) {
		float *nb = realloc(c->out, (size_t)total * sizeof *nb);
		JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "client: out of memory for %llu output values",
				(unsigned long long)total);
		c->out = nb;
		c->out_cap = (size_t)total;
	}
	size_t off = 0;
	res->n_outputs = m->n_outputs;
	for (int i = 0; i < m->n_outputs; i++) {
		struct jalad_tensor *t = &res->outputs[i];
		t->dtype = JALAD_DTYPE_FLOAT32;
		t->ndim = m->out[i].ndim;
		memcpy(t->dims, m->out[i].dims, sizeof t->dims);
		t->data = c->out + off;
		for (uint64_t j = 0; j < m->out[i].count; j++)
			c->out[off + j] = jalad_get_f32(m->out[i].data + 4 * j);
		off += (size_t)m->out[i].count;
	}
	return JALAD_OK;
}

enum jalad_status jalad_client_request(struct jalad_client *c, uint64_t id, int k, const uint8_t *container,
				       size_t len, uint32_t timeout_ms, struct jalad_client_result *res)
{
	return jalad_client_request_payload(c, id, k, JALAD_NET_PAYLOAD_CONTAINER, container, len, timeout_ms, res);
}

enum jalad_status jalad_client_request_payload(struct jalad_client *c, uint64_t id, int k,
					       enum jalad_net_payload kind, const uint8_t *payload, size_t len,
					       uint32_t timeout_ms, struct jalad_client_result *res)
{
	struct jalad_client_req rq = { .id = id, .k = k, .kind = kind, .payload = payload, .len = len,
				       .timeout_ms = timeout_ms };
	JALAD_FORWARD(jalad_client_send(c, &rq, res));
	uint32_t left = 0;
	if (timeout_ms) {
		uint64_t spent = (jalad_now_ns() - res->send_start_ns) / 1000000u;
		left = spent >= timeout_ms ? 1 : timeout_ms - (uint32_t)spent;
	}
	return jalad_client_recv(c, id, left, res);
}

static int dict_index(const struct jalad_client *c, const struct jalad_codec_dict *d)
{
	for (int i = 0; d && i < c->n_dicts; i++)
		if (jalad_codec_dict_id(c->dicts[i]) == jalad_codec_dict_id(d))
			return i;
	return -1;
}

int jalad_client_dict_refused(const struct jalad_client *c, const struct jalad_codec_dict *d)
{
	int i = dict_index(c, d);
	return i >= 0 && c->refused[i];
}

/* Forget pending requests of connections that are gone. */
static void drop_stale(struct jalad_client *c)
{
	int m = 0;
	for (int i = 0; i < c->n_pend; i++)
		if (c->connected && c->pend[i].gen == c->gen)
			c->pend[m++] = c->pend[i];
	c->n_pend = m;
}

enum jalad_status jalad_client_send(struct jalad_client *c, const struct jalad_client_req *rq,
				    struct jalad_client_result *res)
{
	enum jalad_status st;
	uint64_t now = jalad_now_ns();
	uint64_t deadline = rq->timeout_ms ? now + (uint64_t)rq->timeout_ms * 1000000u : 0;
	memset(res, 0, sizeof *res);
	res->id = rq->id;
	JALAD_RETURN_IF(rq->k < 0 || !rq->payload || !rq->len, JALAD_ERR_INVALID_ARG, "client: bad request arguments");
	JALAD_RETURN_IF(rq->kind <= JALAD_NET_PAYLOAD_NONE || rq->kind >= JALAD_NET_PAYLOAD_COUNT, JALAD_ERR_INVALID_ARG,
			"client: payload kind %d cannot be sent", (int)rq->kind);
	drop_stale(c);
	JALAD_RETURN_IF(c->n_pend >= JALAD_CLIENT_MAX_PENDING, JALAD_ERR_LIMIT,
			"client: %d requests are already waiting for answers (max %d)", c->n_pend,
			JALAD_CLIENT_MAX_PENDING);
	JALAD_RETURN_IF(c->n_pend && rq->id <= c->pend[c->n_pend - 1].id, JALAD_ERR_INVALID_ARG,
			"client: request ids must increase (%llu after %llu)", (unsigned long long)rq->id,
			(unsigned long long)c->pend[c->n_pend - 1].id);
	if (!c->connected) {
		if (now < c->next_attempt_ns)
			return jalad_fail(JALAD_ERR_CLOSED, "the cloud is unreachable; next attempt in %llu ms",
					  (unsigned long long)((c->next_attempt_ns - now) / 1000000u));
		st = do_connect(c, deadline);
		if (st != JALAD_OK) {
			backoff(c);
			return st;
		}
		res->connected_now = 1;
		res->connect_ns = c->connect_ns;
	}
	/* A dictionary the server lacks goes first, in the same write: the
	 * server reads frames in order, so it holds it when the request comes. */
	int di = dict_index(c, rq->dict);
	size_t dlen = 0;
	if (rq->dict && di < 0)
		return jalad_fail(JALAD_ERR_INVALID_ARG, "client: dictionary 0x%08x is not one given at create",
				  jalad_codec_dict_id(rq->dict));
	if (di >= 0 && !c->held[di]) {
		uint8_t tmp[JALAD_CODEC_DICT_MAX_BYTES];
		size_t n;
		JALAD_FORWARD(jalad_codec_dict_save(c->dicts[di], tmp, sizeof tmp, &n));
		JALAD_FORWARD(jalad_msg_dict_write(jalad_codec_dict_id(c->dicts[di]), tmp, n, c->dbuf, sizeof c->dbuf,
						   &dlen));
	} else {
		di = -1;
	}
	size_t len = rq->len;
	size_t frame = JALAD_FRAME_OVERHEAD + JALAD_REQUEST_FIXED + len;
	JALAD_RETURN_IF(frame - JALAD_FRAME_OVERHEAD > c->server_max_frame, JALAD_ERR_LIMIT,
			"request of %zu bytes exceeds the server's frame limit of %u bytes", frame, c->server_max_frame);
	struct jalad_msg_request m = { .id = rq->id, .k = (uint32_t)rq->k, .kind = (uint32_t)rq->kind,
				       .edge_ts = now, .payload = rq->payload, .payload_len = len };
	/* One buffer, one write: with TCP_NODELAY three writes would be three
	 * packets, each with its own headers, which a slow link notices. */
	if (dlen + frame > c->wcap) {
		uint8_t *nb = realloc(c->wbuf, dlen + frame);
		JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "client: out of memory for a %zu-byte request", frame);
		c->wbuf = nb;
		c->wcap = dlen + frame;
	}
	uint8_t *w = c->wbuf;
	if (dlen)
		memcpy(w, c->dbuf, dlen);
	jalad_msg_request_head(&m, w + dlen);
	memcpy(w + dlen + JALAD_FRAME_HDR + JALAD_REQUEST_FIXED, rq->payload, len);
	jalad_put_u32(w + dlen + frame - JALAD_FRAME_TRAILER, jalad_msg_request_crc(w + dlen, rq->payload, len));
	res->send_start_ns = jalad_now_ns();
	if ((st = write_all(c, w, dlen + frame, deadline, 1)) != JALAD_OK) {
		/* A frame cut in the middle cannot be resumed: start over. */
		disconnect(c);
		c->next_attempt_ns = 0;
		drop_stale(c);
		return st;
	}
	res->send_end_ns = jalad_now_ns();
	res->bytes_sent = dlen + frame;
	res->dict_uploaded = di >= 0;
	if (di >= 0)
		c->held[di] = 1; /* until the answer says otherwise */
	struct pending *pd = &c->pend[c->n_pend++];
	memset(pd, 0, sizeof *pd);
	pd->id = rq->id;
	pd->gen = c->gen;
	pd->dict = di;
	return JALAD_OK;
}

/* A DICT_ACK: note it on the request it went out with. */
static enum jalad_status take_ack(struct jalad_client *c, const uint8_t *p, size_t len)
{
	struct jalad_msg_dict_ack a;
	JALAD_RETURN_IF(jalad_msg_dict_ack_parse(p, len, &a) != JALAD_OK, JALAD_ERR_PROTOCOL,
			"the server sent a malformed DICT_ACK: %s", jalad_last_error());
	for (int i = 0; i < c->n_pend; i++) {
		struct pending *pd = &c->pend[i];
		if (pd->dict < 0 || pd->acked || jalad_codec_dict_id(c->dicts[pd->dict]) != a.id)
			continue;
		pd->acked = 1;
		pd->dict_status = a.status;
		snprintf(pd->dict_msg, sizeof pd->dict_msg, "%s", a.message);
		if (a.status != 0) {
			c->held[pd->dict] = 0;
			c->refused[pd->dict] = 1;
			jalad_log(JALAD_LOG_WARN, "the server refused dictionary 0x%08x: %s", a.id, a.message);
		}
		return JALAD_OK;
	}
	return jalad_fail(JALAD_ERR_PROTOCOL, "the server answered an upload of dictionary 0x%08x never sent", a.id);
}

enum jalad_status jalad_client_recv(struct jalad_client *c, uint64_t id, uint32_t timeout_ms,
				    struct jalad_client_result *res)
{
	enum jalad_status st;
	uint64_t deadline = timeout_ms ? jalad_now_ns() + (uint64_t)timeout_ms * 1000000u : 0;
	int pi = -1;
	drop_stale(c);
	for (int i = 0; i < c->n_pend; i++)
		if (c->pend[i].id == id)
			pi = i;
	if (pi < 0)
		return jalad_fail(JALAD_ERR_CLOSED, "request %llu: the connection it went out on is gone",
				  (unsigned long long)id);
	res->id = id;
	for (;;) {
		struct jalad_frame_hdr h;
		const uint8_t *p;
		st = read_frame(c, deadline, &h, &p);
		if (st == JALAD_ERR_TIMEOUT)
			return jalad_fail(JALAD_ERR_TIMEOUT, "no answer to request %llu within %u ms",
					  (unsigned long long)id, timeout_ms); /* a late answer is skipped by id */
		if (st != JALAD_OK) {
			disconnect(c);
			c->next_attempt_ns = 0;
			drop_stale(c);
			return st;
		}
		if (h.type == JALAD_FRAME_ERROR) {
			st = peer_error(p, h.length);
			disconnect(c);
			backoff(c);
			drop_stale(c);
			return st;
		}
		if (h.type == JALAD_FRAME_BYE) {
			disconnect(c);
			c->next_attempt_ns = 0;
			drop_stale(c);
			return jalad_fail(JALAD_ERR_CLOSED, "the server is shutting down");
		}
		if (h.type == JALAD_FRAME_DICT_ACK) {
			if ((st = take_ack(c, p, h.length)) != JALAD_OK) {
				disconnect(c);
				backoff(c);
				drop_stale(c);
				return st;
			}
			continue;
		}
		if (h.type != JALAD_FRAME_RESPONSE) {
			disconnect(c);
			backoff(c);
			drop_stale(c);
			return jalad_fail(JALAD_ERR_PROTOCOL, "unexpected frame type %u from the server", h.type);
		}
		struct jalad_msg_response m;
		if ((st = jalad_msg_response_parse(p, h.length, &m)) != JALAD_OK) {
			disconnect(c);
			backoff(c);
			drop_stale(c);
			jalad_error_prefix("bad RESPONSE: ");
			return JALAD_ERR_PROTOCOL;
		}
		if (m.id < id)
			continue; /* the answer to a request we gave up on */
		if (m.id != id) {
			disconnect(c);
			backoff(c);
			drop_stale(c);
			return jalad_fail(JALAD_ERR_PROTOCOL, "the server answered request %llu while %llu was due",
					  (unsigned long long)m.id, (unsigned long long)id);
		}
		/* This and every older pending request are settled. */
		struct pending pd = c->pend[pi];
		memmove(c->pend, c->pend + pi + 1, (size_t)(c->n_pend - pi - 1) * sizeof *c->pend);
		c->n_pend -= pi + 1;
		res->dict_uploaded = pd.dict >= 0;
		res->dict_status = pd.acked ? pd.dict_status : 0;
		if (pd.acked && pd.dict_status)
			snprintf(res->dict_message, sizeof res->dict_message, "%s", pd.dict_msg);
		res->recv_end_ns = jalad_now_ns();
		res->bytes_received = JALAD_FRAME_OVERHEAD + h.length;
		res->srv_recv_first_ns = m.recv_first_ns;
		res->srv_recv_last_ns = m.recv_last_ns;
		res->srv_send_ns = m.send_ns;
		res->srv_first_read_bytes = m.first_read_bytes;
		res->srv_queue_ns = m.queue_ns;
		res->srv_decode_ns = m.decode_ns;
		res->srv_compute_ns = m.compute_ns;
		res->tcp_min_rtt_us = jalad_net_min_rtt_us(c->s.fd);
		res->status = m.status;
		if (m.status != 0) {
			snprintf(res->message, sizeof res->message, "%s", m.message);
			return jalad_fail(jalad_net_status_from_wire(m.status), "server: %s", m.message);
		}
		return take_outputs(c, &m, res);
	}
}

void jalad_client_free(struct jalad_client *c)
{
	if (!c)
		return;
	if (c->connected) {
		uint8_t bye[JALAD_FRAME_OVERHEAD];
		size_t n = jalad_msg_bye_write(bye);
		(void)write_all(c, bye, n, jalad_now_ns() + 100000000u, 0);
	}
	disconnect(c);
	jalad_tls_free(c->tls);
	free(c->wbuf);
	free(c->rbuf);
	free(c->out);
	free(c->dicts);
	free(c->held);
	free(c->refused);
	free(c);
}
