/* The server's Prometheus endpoint: the text exposition format (0.0.4) of
 * its counters and hold-time histograms, served over plain HTTP/1.x on a
 * socket of its own in the server's event loop. One request per
 * connection, answered and closed; a handful of connections at once, each
 * with a deadline, so a scraper that hangs cannot hold the loop. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_impl.h"

#define REQ_MAX 4096             /* request line + headers */
#define CONN_DEADLINE_NS 5000000000u /* to send the request and read the answer */

/* Upper bounds of the hold-time buckets, in seconds. */
static const double bounds_s[JALAD_METRICS_BUCKETS] = { 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
							0.2,    0.5,   1,     2,     5,    10,   30 };

void jalad_metrics_observe(struct jalad_metrics_hist *h, uint64_t ns)
{
	int i = 0;
	while (i < JALAD_METRICS_BUCKETS && (double)ns > bounds_s[i] * 1e9)
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum_ns += ns;
}

/* ================================================================ text */

struct out {
	char **buf;
	size_t *cap, *len;
	int oom;
};

static void pr(struct out *o, const char *fmt, ...) JALAD_PRINTF(2, 3);
static void pr(struct out *o, const char *fmt, ...)
{
	for (int tries = 0; tries < 2 && !o->oom; tries++) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = *o->cap - *o->len;
		int n = vsnprintf(*o->buf ? *o->buf + *o->len : NULL, *o->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if (*o->buf && (size_t)n < room) {
			*o->len += (size_t)n;
			return;
		}
		size_t ncap = *o->cap ? *o->cap : 4096;
		while (ncap - *o->len <= (size_t)n)
			ncap *= 2;
		char *nb = realloc(*o->buf, ncap);
		if (!nb) {
			o->oom = 1;
			return;
		}
		*o->buf = nb;
		*o->cap = ncap;
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void label(char *dst, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s && n + 3 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '\\' || ch == '"') {
			dst[n++] = '\\';
			dst[n++] = (char)ch;
		} else if (ch == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else if (ch >= 0x20 && ch != 0x7f) {
			dst[n++] = (char)ch;
		}
	}
	dst[n] = 0;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
	pr(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, const char *labels, uint64_t v)
{
	head(o, name, "counter", help);
	pr(o, "%s%s %llu\n", name, labels, (unsigned long long)v);
}

static void gauge(struct out *o, const char *name, const char *help, long long v)
{
	head(o, name, "gauge", help);
	pr(o, "%s %lld\n", name, v);
}

enum jalad_status jalad_metrics_render(const struct jalad_metrics_view *v, char **buf, size_t *cap, size_t *len)
{
	struct out o = { buf, cap, len, 0 };
	const struct jalad_server_stats *s = v->st;
	char model[192], ml[224];
	label(model, sizeof model, v->model ? v->model : "model");
	snprintf(ml, sizeof ml, "{model=\"%s\"}", model);
	*len = 0;

	head(&o, "jalad_requests_total", "counter", "REQUEST frames accepted, by payload kind.");
	for (int k = 0; k < JALAD_NET_PAYLOAD_COUNT; k++)
		if (k == JALAD_NET_PAYLOAD_CONTAINER || s->requests_by_payload[k])
			pr(&o, "jalad_requests_total{model=\"%s\",payload=\"%s\"} %llu\n", model,
			   k ? jalad_net_payload_name((enum jalad_net_payload)k) : "unknown",
			   (unsigned long long)s->requests_by_payload[k]);
	counter(&o, "jalad_responses_ok_total", "Requests answered with outputs.", ml, s->responses_ok);
	counter(&o, "jalad_fallbacks_asked_total",
		"Requests answered with an error status (the edge computes them itself).", ml, s->responses_err);
	counter(&o, "jalad_bytes_received_total", "Bytes read from edges (after TLS).", "", s->bytes_in);
	counter(&o, "jalad_bytes_sent_total", "Bytes written to edges (before TLS).", "", s->bytes_out);
	head(&o, "jalad_worker_seconds_total", "counter", "Worker time spent decoding and running requests.");
	pr(&o, "jalad_worker_seconds_total %.6f\n", (double)s->compute_ns / 1e9);

	head(&o, "jalad_hold_seconds", "histogram",
	     "Server hold time of a request (last byte received to answer ready: queue, decode, compute), by cut.");
	for (int k = 0; k < v->n_cuts; k++) {
		const struct jalad_metrics_hist *h = &v->hold[k];
		if (!h->count)
			continue;
		uint64_t cum = 0;
		for (int b = 0; b < JALAD_METRICS_BUCKETS; b++) {
			cum += h->bucket[b];
			pr(&o, "jalad_hold_seconds_bucket{model=\"%s\",cut=\"%d\",le=\"%g\"} %llu\n", model, k, bounds_s[b],
			   (unsigned long long)cum);
		}
		pr(&o, "jalad_hold_seconds_bucket{model=\"%s\",cut=\"%d\",le=\"+Inf\"} %llu\n", model, k,
		   (unsigned long long)h->count);
		pr(&o, "jalad_hold_seconds_sum{model=\"%s\",cut=\"%d\"} %.9f\n", model, k, (double)h->sum_ns / 1e9);
		pr(&o, "jalad_hold_seconds_count{model=\"%s\",cut=\"%d\"} %llu\n", model, k,
		   (unsigned long long)h->count);
	}

	gauge(&o, "jalad_connections_open", "Connections open now.", s->conns_open);
	gauge(&o, "jalad_connections_handshaking", "Open connections that have not finished their HELLO.",
	      v->handshaking);
	gauge(&o, "jalad_connections_max", "Size of the connection table (--max-conns).", v->max_conns);
	counter(&o, "jalad_connections_accepted_total", "Connections accepted by the kernel.", "", s->conns_accepted);
	counter(&o, "jalad_connections_shed_total",
		"Connections without a finished HELLO closed to make room for a new one.", "", s->conns_shed);
	head(&o, "jalad_connections_refused_total", "counter", "New connections closed at once, by reason.");
	pr(&o, "jalad_connections_refused_total{reason=\"full\"} %llu\n", (unsigned long long)s->conns_full);
	pr(&o, "jalad_connections_refused_total{reason=\"per_source\"} %llu\n",
	   (unsigned long long)s->conns_per_source);
	head(&o, "jalad_connections_timed_out_total", "counter", "Connections closed by a deadline, by which.");
	pr(&o, "jalad_connections_timed_out_total{reason=\"hello\"} %llu\n", (unsigned long long)s->timeouts_hello);
	pr(&o, "jalad_connections_timed_out_total{reason=\"frame\"} %llu\n", (unsigned long long)s->timeouts_frame);
	pr(&o, "jalad_connections_timed_out_total{reason=\"idle\"} %llu\n", (unsigned long long)s->timeouts_idle);
	counter(&o, "jalad_connections_dropped_total", "Connections closed for a protocol violation.", "",
		s->conns_dropped);
	counter(&o, "jalad_handshakes_refused_total",
		"TLS handshakes failed and HELLOs refused (protocol, model, fields out of bounds).", "",
		s->handshakes_refused);
	counter(&o, "jalad_dict_uploads_total", "Shared dictionaries uploaded and taken (or already held).", "",
		s->dict_uploads);
	counter(&o, "jalad_dict_upload_bytes_total", "Serialized bytes of the dictionaries taken.", "",
		s->dict_upload_bytes);
	counter(&o, "jalad_dict_refused_total", "Dictionary uploads refused (cache, budget, corrupt).", "",
		s->dict_refused);
	gauge(&o, "jalad_queue_length", "Requests waiting for a worker now.", s->queue_len);
	gauge(&o, "jalad_queue_capacity", "Size of the request queue (--queue).", v->queue_cap);
	gauge(&o, "jalad_memory_bytes", "Receive and send buffers and uploaded dictionaries held now.",
	      (long long)s->mem_bytes);
	JALAD_RETURN_IF(o.oom, JALAD_ERR_NOMEM, "metrics: out of memory");
	return JALAD_OK;
}

/* ================================================================ HTTP */

struct mconn {
	int fd;                   /* -1: free */
	char req[REQ_MAX];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
	int done;                 /* answer written, output shut: waiting for EOF */
	uint64_t deadline;
};

struct jalad_metrics_srv {
	int fd, ep, port;
	uint64_t tag;
	jalad_metrics_page_fn page;
	void *user;
	char *body;               /* reused between scrapes */
	size_t body_cap;
	struct mconn c[JALAD_METRICS_CONNS];
};

static void mconn_close(struct jalad_metrics_srv *m, struct mconn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(m->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->resp);
	c->resp = NULL;
	c->fd = -1;
}

static void mconn_interest(struct jalad_metrics_srv *m, struct mconn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u64 = m->tag + 1 + (uint64_t)(c - m->c) };
	epoll_ctl(m->ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Build the answer to the request in c->req (its headers are complete). */
static void mconn_answer(struct jalad_metrics_srv *m, struct mconn *c)
{
	const char *status = "200 OK", *ctype = "text/plain; version=0.0.4; charset=utf-8";
	const char *body = NULL;
	size_t body_len = 0;
	char method[16] = "", path[256] = "";
	if (sscanf(c->req, "%15s %255s HTTP/1.", method, path) != 2) {
		status = "400 Bad Request";
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = "405 Method Not Allowed";
	} else if (strcmp(path, "/metrics") != 0 && strncmp(path, "/metrics?", 9) != 0) {
		status = "404 Not Found";
	} else if (m->page(m->user, &m->body, &m->body_cap, &body_len) != JALAD_OK) {
		status = "500 Internal Server Error";
		body_len = 0;
	} else {
		body = m->body;
	}
	if (!body) {
		ctype = "text/plain; charset=utf-8";
		body = status;
		body_len = strlen(status);
	}
	int head_only = !strcmp(method, "HEAD");
	char hdr[256];
	int hn = snprintf(hdr, sizeof hdr,
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
			  ctype, body_len + (body == status ? 1 : 0));
	size_t total = (size_t)hn + (head_only ? 0 : body_len + (body == status ? 1 : 0));
	c->resp = malloc(total);
	if (!c->resp) {
		mconn_close(m, c);
		return;
	}
	memcpy(c->resp, hdr, (size_t)hn);
	if (!head_only) {
		memcpy(c->resp + hn, body, body_len);
		if (body == status)
			c->resp[total - 1] = '\n';
	}
	c->resp_len = total;
	c->resp_off = 0;
	mconn_interest(m, c, EPOLLOUT);
}

static void mconn_read(struct jalad_metrics_srv *m, struct mconn *c)
{
	if (c->done) { /* discard until the scraper closes */
		char junk[512];
		ssize_t r = read(c->fd, junk, sizeof junk);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			mconn_close(m, c);
		return;
	}
	if (c->resp)
		return;
	ssize_t r = read(c->fd, c->req + c->req_len, sizeof c->req - 1 - c->req_len);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (r <= 0) {
		mconn_close(m, c);
		return;
	}
	c->req_len += (size_t)r;
	c->req[c->req_len] = 0;
	if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
		mconn_answer(m, c);
	else if (c->req_len == sizeof c->req - 1)
		mconn_close(m, c); /* headers too long */
}

static void mconn_write(struct jalad_metrics_srv *m, struct mconn *c)
{
	while (c->resp && c->resp_off < c->resp_len) {
		ssize_t r = send(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			mconn_close(m, c);
			return;
		}
		c->resp_off += (size_t)r;
	}
	if (c->resp && !c->done) {
		/* Shut the output and wait for the scraper's EOF: closing with its
		 * bytes unread could reset the connection under our answer. */
		c->done = 1;
		shutdown(c->fd, SHUT_WR);
		mconn_interest(m, c, EPOLLIN);
	}
}

static void accept_one(struct jalad_metrics_srv *m)
{
	int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct mconn *c = NULL;
	for (int i = 0; i < JALAD_METRICS_CONNS && !c; i++)
		if (m->c[i].fd < 0)
			c = &m->c[i];
	if (!c) {
		close(fd); /* scrapers beyond a handful wait for their retry */
		return;
	}
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->deadline = jalad_now_ns() + CONN_DEADLINE_NS;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = m->tag + 1 + (uint64_t)(c - m->c) };
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		close(fd);
		c->fd = -1;
	}
}

int jalad_metrics_srv_owns(const struct jalad_metrics_srv *m, uint64_t tag)
{
	return m && tag >= m->tag && tag <= m->tag + JALAD_METRICS_CONNS;
}

void jalad_metrics_srv_event(struct jalad_metrics_srv *m, uint64_t tag, uint32_t events)
{
	if (tag == m->tag) {
		for (int i = 0; i < 16; i++)
			accept_one(m);
		return;
	}
	struct mconn *c = &m->c[tag - m->tag - 1];
	if (c->fd < 0)
		return;
	if (events & EPOLLOUT)
		mconn_write(m, c);
	if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		mconn_read(m, c);
}

void jalad_metrics_srv_timers(struct jalad_metrics_srv *m, uint64_t now_ns)
{
	for (int i = 0; m && i < JALAD_METRICS_CONNS; i++)
		if (m->c[i].fd >= 0 && now_ns >= m->c[i].deadline)
			mconn_close(m, &m->c[i]);
}

int jalad_metrics_srv_port(const struct jalad_metrics_srv *m)
{
	return m ? m->port : 0;
}

enum jalad_status jalad_metrics_srv_create(const char *addr, int allow_remote, int ep, uint64_t tag,
					   jalad_metrics_page_fn page, void *user, struct jalad_metrics_srv **out)
{
	char host[256], full[300];
	int port, loopback = 0;
	enum jalad_status st;
	*out = NULL;
	JALAD_RETURN_IF(!addr || !*addr, JALAD_ERR_INVALID_ARG, "metrics: no address");
	if (!strchr(addr, ':')) { /* a port alone: loopback */
		snprintf(full, sizeof full, "127.0.0.1:%s", addr);
		addr = full;
	}
	if ((st = jalad_net_parse_addr(addr, host, sizeof host, &port)) != JALAD_OK) {
		jalad_error_prefix("metrics: ");
		return st;
	}
	struct jalad_metrics_srv *m = calloc(1, sizeof *m);
	JALAD_RETURN_IF(!m, JALAD_ERR_NOMEM, "metrics: out of memory");
	m->fd = -1;
	m->ep = ep;
	m->tag = tag;
	m->page = page;
	m->user = user;
	for (int i = 0; i < JALAD_METRICS_CONNS; i++)
		m->c[i].fd = -1;
	if ((st = jalad_net_listen(host, port, 16, &m->fd, &m->port, &loopback)) != JALAD_OK) {
		jalad_error_prefix("metrics: ");
		goto fail;
	}
	if (!loopback && !allow_remote) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED,
				"metrics: refusing to serve them on non-loopback %s (plain HTTP, unauthenticated; "
				"allow it explicitly)", addr);
		goto fail;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = tag };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &e) < 0) {
		st = jalad_fail(JALAD_ERR_IO, "metrics: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	jalad_log(JALAD_LOG_INFO, "metrics on http://%s:%d/metrics", host, m->port);
	*out = m;
	return JALAD_OK;
fail:
	jalad_metrics_srv_free(m);
	return st;
}

void jalad_metrics_srv_free(struct jalad_metrics_srv *m)
{
	if (!m)
		return;
	for (int i = 0; i < JALAD_METRICS_CONNS; i++)
		mconn_close(m, &m->c[i]);
	if (m->fd >= 0) {
		epoll_ctl(m->ep, EPOLL_CTL_DEL, m->fd, NULL);
		close(m->fd);
	}
	free(m->body);
	free(m);
}
