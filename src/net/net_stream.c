/* The pipelined edge (jalad_edge_stream): up to `depth` frames in flight.
 * A head thread runs [0, k) and encodes frame i + 1 while frame i is on the
 * wire and in the cloud; the caller's thread sends, receives in order,
 * computes [k, n) locally for a frame the cloud did not answer, and hands
 * the results out in order.
 *
 * Each frame has a slot (seq % depth) that holds what its fallback needs:
 * the crossing tensors, the payload, its result. Slot states move
 * HEAD -> READY (encoded) -> SENT -> DONE / FAILED, or HEAD -> DONE for an
 * edge-only plan. The head thread owns the edge's session and codec
 * context; the I/O thread owns the client and a second session for
 * fallbacks. The plan state (choice, corrections, estimator) is shared
 * under mu. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "net_edge_impl.h"

enum slot_state { S_FREE = 0, S_HEAD, S_READY, S_SENT, S_DONE, S_FAILED };

struct slot {
	enum slot_state state;
	uint64_t tag;
	int plan;
	enum jalad_net_payload kind;
	const struct jalad_codec_dict *dict;
	float *x;                 /* the crossing tensors (plan's offsets) */
	size_t xcap;
	uint8_t *buf;             /* the payload */
	size_t bcap, len;
	float *out;               /* edge-only: copies of the outputs */
	size_t ocap;
	int in_flight;            /* requests on the wire when this one was sent */
	uint64_t t0;              /* the head started */
	struct jalad_edge_result res;
	struct jalad_client_result cr;
	enum jalad_status fail_st;
};

struct stream {
	struct jalad_edge *e;
	int depth;
	struct slot *slots;
	pthread_mutex_t mu;       /* slots' states, the counters, the plan state */
	pthread_cond_t cv;        /* a slot was freed, or stop */
	int wake_fd;              /* head -> I/O: a slot changed */
	uint64_t next_head, next_send, next_out;
	int end, stop;
	enum jalad_status err;    /* the first error on the edge itself */
	char errmsg[256];         /* its message (errors are per thread) */
	jalad_edge_source_fn source;
	jalad_edge_sink_fn sink;
	void *ctx;
	struct jalad_session *fs; /* fallbacks, on the I/O thread */
};

static void wake_io(struct stream *s)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(s->wake_fd, &one, sizeof one);
	while (r < 0 && errno == EINTR);
}

static enum jalad_status grow_f(float **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return JALAD_OK;
	float *nb = realloc(*p, n * sizeof *nb);
	JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "edge stream: out of memory");
	*p = nb;
	*cap = n;
	return JALAD_OK;
}

/* [0, k) and the payload of one frame into its slot (head thread). */
static enum jalad_status head_run(struct stream *s, struct slot *sl, const struct jalad_edge_frame *f)
{
	struct jalad_edge *e = s->e;
	int i = sl->plan;
	const struct jalad_edge_plan *p = &e->plans[i];
	const struct plan_cut *c = &e->cuts[i];
	struct jalad_edge_result *res = &sl->res;
	int in_id = jalad_model_input(e->m, 0);
	uint64_t t0 = sl->t0;

	if (p->k == e->n_nodes) { /* edge-only: the outputs are copied, the session is reused */
		JALAD_FORWARD(jalad_session_run(e->s, f->input, 1));
		edge_slow_down(e, t0);
		res->edge_ms = edge_ms_since(t0);
		JALAD_FORWARD(edge_local_outputs(e, e->s, res));
		size_t total = 0;
		for (int o = 0; o < res->n_outputs; o++)
			total += (size_t)jalad_tensor_numel(&res->outputs[o]);
		JALAD_FORWARD(grow_f(&sl->out, &sl->ocap, total ? total : 1));
		for (int o = 0, off = 0; o < res->n_outputs; o++) {
			size_t n = (size_t)jalad_tensor_numel(&res->outputs[o]);
			memcpy(sl->out + off, res->outputs[o].data, n * sizeof(float));
			res->outputs[o].data = sl->out + off;
			off += (int)n;
		}
		sl->kind = JALAD_NET_PAYLOAD_NONE;
		return JALAD_OK;
	}
	size_t need = 0;
	for (int t = 0; t < c->count; t++) {
		size_t end = c->offset[t];
		int64_t n = 1;
		for (int a = 0; a < c->desc[t].ndim; a++)
			n *= c->desc[t].dims[a];
		end += (size_t)n;
		need = end > need ? end : need;
	}
	JALAD_FORWARD(grow_f(&sl->x, &sl->xcap, need ? need : 1));
	struct jalad_tensor v[JALAD_CODEC_MAX_TENSORS];
	edge_cut_views(e, i, sl->x, v);
	if (p->k > 0) {
		JALAD_FORWARD(jalad_session_run_range(e->s, 0, p->k, &in_id, f->input, 1));
		edge_slow_down(e, t0);
	}
	for (int t = 0; t < c->count; t++) {
		struct jalad_tensor x;
		if (c->ids[t] == in_id)
			x = *f->input;
		else
			JALAD_FORWARD(jalad_session_tensor(e->s, c->ids[t], &x));
		int64_t n = jalad_tensor_numel(&v[t]);
		JALAD_RETURN_IF(x.dtype != JALAD_DTYPE_FLOAT32 || jalad_tensor_numel(&x) != n, JALAD_ERR_SHAPE,
				"edge: crossing tensor '%s' has an unexpected type or size", c->desc[t].name);
		memcpy(v[t].data, x.data, (size_t)n * sizeof(float));
	}
	res->edge_ms = edge_ms_since(t0);

	enum jalad_net_payload kind;
	const struct jalad_edge_image *src = f->src;
	JALAD_FORWARD(edge_payload_kind(e, i, src, &kind));
	uint64_t t1 = jalad_now_ns();
	sl->dict = NULL;
	if (kind == JALAD_NET_PAYLOAD_CONTAINER) {
		JALAD_FORWARD(edge_encode(e, e->ctx, i, v, &sl->buf, &sl->bcap, &sl->len, &res->coder, &sl->dict));
	} else if (kind == JALAD_NET_PAYLOAD_FILE) {
		/* the source may reuse its buffer once this frame's head is done */
		if (src->file_bytes > sl->bcap) {
			uint8_t *nb = realloc(sl->buf, src->file_bytes);
			JALAD_RETURN_IF(!nb, JALAD_ERR_NOMEM, "edge stream: out of memory for a %zu-byte file",
					src->file_bytes);
			sl->buf = nb;
			sl->bcap = src->file_bytes;
		}
		memcpy(sl->buf, src->file, src->file_bytes);
		sl->len = src->file_bytes;
	} else {
		uint64_t rs = 0;
		JALAD_FORWARD(jalad_net_image_payload(kind, src->image, src->pp, p->jpeg_quality, &sl->buf, &sl->bcap,
						      &sl->len, &rs));
		t1 += rs; /* the resample is the preprocessing every plan does */
	}
	edge_slow_down(e, t1);
	res->encode_ms = edge_ms_since(t1);
	res->payload = kind;
	res->bytes = sl->len + JALAD_NET_REQUEST_OVERHEAD;
	sl->kind = kind;
	return JALAD_OK;
}

static void *head_main(void *arg)
{
	struct stream *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->stop && s->next_head - s->next_out >= (uint64_t)s->depth)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stop) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		uint64_t seq = s->next_head;
		struct slot *sl = &s->slots[seq % (uint64_t)s->depth];
		pthread_mutex_unlock(&s->mu);

		struct jalad_edge_frame f = { 0 };
		int r = s->source(s->ctx, seq, &f);
		if (r <= 0 || !f.input) {
			pthread_mutex_lock(&s->mu);
			if (r < 0 || (r > 0 && !f.input)) {
				s->err = JALAD_ERR_INVALID_ARG;
				snprintf(s->errmsg, sizeof s->errmsg, "edge stream: the source %s at frame %llu",
					 r < 0 ? "failed" : "gave no input", (unsigned long long)seq);
			}
			s->end = 1;
			pthread_mutex_unlock(&s->mu);
			wake_io(s);
			break;
		}
		pthread_mutex_lock(&s->mu);
		sl->state = S_HEAD;
		sl->tag = f.tag;
		sl->plan = edge_take_plan(s->e, &sl->res, 1);
		s->next_head++;
		pthread_mutex_unlock(&s->mu);
		sl->t0 = jalad_now_ns();
		enum jalad_status st = head_run(s, sl, &f);
		pthread_mutex_lock(&s->mu);
		if (st != JALAD_OK) {
			if (s->err == JALAD_OK) {
				s->err = st;
				snprintf(s->errmsg, sizeof s->errmsg, "%s", jalad_last_error());
			}
			s->end = 1;
			sl->state = S_FAILED; /* never delivered: the stream stops */
			pthread_mutex_unlock(&s->mu);
			wake_io(s);
			break;
		}
		sl->state = sl->kind == JALAD_NET_PAYLOAD_NONE ? S_DONE : S_READY;
		pthread_mutex_unlock(&s->mu);
		wake_io(s);
	}
	return NULL;
}

/* Send the frame in slot sl (I/O thread). */
static void send_slot(struct stream *s, struct slot *sl, int in_flight)
{
	struct jalad_edge *e = s->e;
	struct jalad_client_req rq = { .id = sl->res.id, .k = sl->res.k, .kind = sl->kind, .payload = sl->buf,
				       .len = sl->len, .dict = sl->dict };
	if (e->o.deadline_ms) {
		double left = e->o.deadline_ms - edge_ms_since(sl->t0);
		rq.timeout_ms = left < 1 ? 1 : (uint32_t)left;
	}
	sl->in_flight = in_flight;
	enum jalad_status st = jalad_client_send(e->cl, &rq, &sl->cr);
	sl->res.dict_uploaded = sl->cr.dict_uploaded;
	if (sl->cr.bytes_sent)
		sl->res.bytes = sl->cr.bytes_sent;
	if (st == JALAD_OK) {
		sl->state = S_SENT;
		return;
	}
	sl->state = S_FAILED;
	sl->fail_st = st;
	snprintf(sl->res.reason, sizeof sl->res.reason, "%s", jalad_last_error());
}

/* Wait for the answer to the frame in slot sl (I/O thread, not under mu). */
static void recv_slot(struct stream *s, struct slot *sl)
{
	struct jalad_edge *e = s->e;
	uint32_t left = 0;
	if (e->o.deadline_ms) {
		double l = e->o.deadline_ms - edge_ms_since(sl->t0);
		left = l < 1 ? 1 : (uint32_t)l;
	}
	enum jalad_status st = jalad_client_recv(e->cl, sl->res.id, left, &sl->cr);
	if (st == JALAD_OK && (st = edge_check_answer(e, &sl->cr)) != JALAD_OK) {
		sl->res.bad_answer = 1;
		jalad_log(JALAD_LOG_WARN, "edge: request %llu: %s; computing it here", (unsigned long long)sl->res.id,
			  jalad_last_error());
	}
	if (st == JALAD_OK) {
		sl->state = S_DONE;
		return;
	}
	if (sl->cr.dict_uploaded && sl->cr.dict_status != 0) {
		sl->res.dict_refused = 1;
		pthread_mutex_lock(&s->mu);
		edge_disable_dict(e, sl->dict, jalad_net_status_from_wire(sl->cr.dict_status));
		pthread_mutex_unlock(&s->mu);
	}
	sl->state = S_FAILED;
	sl->fail_st = st;
	snprintf(sl->res.reason, sizeof sl->res.reason, "%s", jalad_last_error());
}

/* Finish the oldest frame and hand it out (I/O thread). @return nonzero to stop. */
static int deliver(struct stream *s, struct slot *sl)
{
	struct jalad_edge *e = s->e;
	struct jalad_edge_result *res = &sl->res;
	const struct jalad_edge_plan *p = &e->plans[sl->plan];
	const struct plan_cut *c = &e->cuts[sl->plan];
	if (sl->kind != JALAD_NET_PAYLOAD_NONE && sl->state == S_DONE) {
		struct jalad_client_result *cr = &sl->cr;
		uint64_t hold = cr->srv_send_ns > cr->srv_recv_last_ns ? cr->srv_send_ns - cr->srv_recv_last_ns : 0;
		uint64_t rt = cr->recv_end_ns - cr->send_start_ns;
		uint64_t net = rt > hold ? rt - hold : 0;
		res->net_ms = (double)net / 1e6;
		res->cloud_ms = (double)hold / 1e6;
		res->n_outputs = cr->n_outputs;
		memcpy(res->outputs, cr->outputs, sizeof res->outputs);
		/* A request that queued behind others says little about the link. */
		if (!sl->in_flight) {
			struct jalad_net_sample smp = {
				.bytes = cr->bytes_sent,
				.net_ns = net,
				.srv_span_ns = cr->srv_recv_last_ns - cr->srv_recv_first_ns,
				.srv_first_bytes = cr->srv_first_read_bytes,
				.min_rtt_us = cr->tcp_min_rtt_us,
				.connect_ns = cr->connected_now ? cr->connect_ns : 0,
			};
			pthread_mutex_lock(&s->mu);
			jalad_estimator_add(e->est, &smp);
			pthread_mutex_unlock(&s->mu);
		}
	} else if (sl->kind != JALAD_NET_PAYLOAD_NONE) {
		/* Late, never lost: [k, n) here, from the slot's crossing tensors. */
		res->fallback = 1;
		res->cloud_status = sl->fail_st;
		struct jalad_tensor v[JALAD_CODEC_MAX_TENSORS];
		edge_cut_views(e, sl->plan, sl->x, v);
		uint64_t t2 = jalad_now_ns();
		enum jalad_status st = jalad_session_run_range(s->fs, p->k, e->n_nodes, c->ids, v, c->count);
		if (st == JALAD_OK)
			st = edge_local_outputs(e, s->fs, res);
		if (st != JALAD_OK) {
			s->err = st;
			snprintf(s->errmsg, sizeof s->errmsg, "%s", jalad_last_error());
			return 1;
		}
		edge_slow_down(e, t2);
		res->fallback_ms = edge_ms_since(t2);
	}
	res->total_ms = edge_ms_since(sl->t0);
	pthread_mutex_lock(&s->mu);
	edge_finish_request(e, sl->plan, res);
	pthread_mutex_unlock(&s->mu);
	return s->sink(s->ctx, sl->tag, res) != 0;
}

/* Wait until the client's socket has data or the head signals; at most
 * timeout_ms (-1: no limit). @return 1 if the client is readable. */
static int wait_io(struct stream *s, int watch_client, int timeout_ms)
{
	struct pollfd pf[2] = { { s->wake_fd, POLLIN, 0 }, { -1, POLLIN, 0 } };
	int nfd = 1;
	if (watch_client) {
		if (jalad_client_pending(s->e->cl))
			return 1;
		pf[1].fd = jalad_client_fd(s->e->cl);
		nfd = pf[1].fd >= 0 ? 2 : 1;
		if (nfd == 1)
			return 1; /* no connection: recv reports it */
	}
	int r = poll(pf, (nfds_t)nfd, timeout_ms);
	if (r > 0 && (pf[0].revents & POLLIN)) {
		uint64_t v;
		ssize_t n = read(s->wake_fd, &v, sizeof v);
		(void)n;
	}
	return r > 0 && nfd == 2 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR));
}

enum jalad_status jalad_edge_stream(struct jalad_edge *e, int depth, jalad_edge_source_fn source,
				    jalad_edge_sink_fn sink, void *ctx)
{
	JALAD_RETURN_IF(!e || !source || !sink, JALAD_ERR_INVALID_ARG, "edge stream: no edge, source or sink");
	JALAD_RETURN_IF(depth < 1 || depth > JALAD_CLIENT_MAX_PENDING, JALAD_ERR_INVALID_ARG,
			"edge stream: depth %d (1..%d)", depth, JALAD_CLIENT_MAX_PENDING);
	JALAD_RETURN_IF(e->o.verify, JALAD_ERR_UNSUPPORTED, "edge stream: verify is for one request at a time");
	enum jalad_status st = JALAD_OK;
	struct stream s = { .e = e, .depth = depth, .source = source, .sink = sink, .ctx = ctx, .wake_fd = -1 };
	pthread_t tid;
	int started = 0;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);
	s.slots = calloc((size_t)depth, sizeof *s.slots);
	s.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct jalad_session_opts so = { .threads = e->o.threads > 0 ? e->o.threads : 1, .backend = e->o.backend };
	if (!s.slots || s.wake_fd < 0) {
		st = jalad_fail(JALAD_ERR_NOMEM, "edge stream: out of memory");
		goto done;
	}
	if ((st = jalad_session_create(e->m, &so, &s.fs)) != JALAD_OK)
		goto done;
	if (pthread_create(&tid, NULL, head_main, &s) != 0) {
		st = jalad_fail(JALAD_ERR_NOMEM, "edge stream: cannot start the head thread");
		goto done;
	}
	started = 1;
	for (;;) {
		pthread_mutex_lock(&s.mu);
		/* in order: hand out what is finished */
		struct slot *sl = s.next_out < s.next_head ? &s.slots[s.next_out % (uint64_t)depth] : NULL;
		if (sl && (sl->state == S_DONE || sl->state == S_FAILED) && !(s.err != JALAD_OK && s.end)) {
			pthread_mutex_unlock(&s.mu);
			int stop = deliver(&s, sl);
			pthread_mutex_lock(&s.mu);
			sl->state = S_FREE;
			s.next_out++;
			if (s.next_send < s.next_out)
				s.next_send = s.next_out;
			pthread_cond_broadcast(&s.cv);
			if (stop) {
				s.stop = 1;
				pthread_mutex_unlock(&s.mu);
				break;
			}
			pthread_mutex_unlock(&s.mu);
			continue;
		}
		if (s.end && (s.next_out == s.next_head || s.err != JALAD_OK)) {
			pthread_mutex_unlock(&s.mu);
			break;
		}
		/* send what is encoded, in order */
		struct slot *ts = s.next_send < s.next_head ? &s.slots[s.next_send % (uint64_t)depth] : NULL;
		if (ts && ts->state != S_HEAD) {
			int ready = ts->state == S_READY;
			int in_flight = 0;
			for (uint64_t q = s.next_out; q < s.next_send; q++)
				in_flight += s.slots[q % (uint64_t)depth].state == S_SENT;
			s.next_send++;
			pthread_mutex_unlock(&s.mu);
			if (ready)
				send_slot(&s, ts, in_flight);
			continue;
		}
		int oldest_sent = sl && sl->state == S_SENT;
		pthread_mutex_unlock(&s.mu);
		if (oldest_sent) {
			int timeout = -1;
			if (e->o.deadline_ms) {
				double l = e->o.deadline_ms - edge_ms_since(sl->t0);
				timeout = l < 1 ? 0 : (int)l;
			}
			if (wait_io(&s, 1, timeout) || timeout == 0)
				recv_slot(&s, sl);
			else if (e->o.deadline_ms && edge_ms_since(sl->t0) >= e->o.deadline_ms)
				recv_slot(&s, sl); /* times out at once and fails it */
		} else {
			wait_io(&s, 0, 100);
		}
	}
	pthread_mutex_lock(&s.mu);
	s.stop = 1;
	pthread_cond_broadcast(&s.cv);
	pthread_mutex_unlock(&s.mu);
	if (started)
		pthread_join(tid, NULL);
	if (s.err != JALAD_OK)
		st = jalad_fail(s.err, "%s", s.errmsg);
done:
	for (int i = 0; s.slots && i < depth; i++) {
		free(s.slots[i].x);
		free(s.slots[i].buf);
		free(s.slots[i].out);
	}
	free(s.slots);
	if (s.wake_fd >= 0)
		close(s.wake_fd);
	jalad_session_free(s.fs);
	pthread_mutex_destroy(&s.mu);
	pthread_cond_destroy(&s.cv);
	return st;
}
