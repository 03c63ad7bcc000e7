/* The cloud server: one epoll event loop for every socket (redis ae.c
 * style), N workers that each own a session, a bounded queue between them.
 *
 * Ownership: the loop thread owns every connection and all memory
 * accounting. A request's buffer moves into a job, the job goes through the
 * queue to a worker, which writes the response into the job and hands it
 * back on the completion list; the loop then writes it out. A connection
 * has at most one request in flight, and while it has one the loop does not
 * read from it: a slow worker pool slows the readers down, it does not grow
 * the memory.
 *
 * Floods: a connection must finish its HELLO within hello_timeout_ms of
 * accept, and past it each frame must keep up min_rate_bps after
 * frame_timeout_ms; sources are limited to max_per_source connections; and
 * a full table sheds the oldest connection still before HELLO (a list in
 * accept order) rather than refusing the new one. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_impl.h"

#define EV_LISTEN UINT64_MAX
#define EV_WAKE (UINT64_MAX - 1)
#define EV_METRICS (UINT64_MAX - 64) /* .. + JALAD_METRICS_CONNS: the metrics sockets */
_Static_assert(JALAD_METRICS_CONNS < 60, "metrics tags must stay below EV_WAKE");
#define ACCEPT_BURST 64 /* accepts per loop turn, so reads and HELLOs are not starved by a flood */
#define READ_CHUNK (64u << 10) /* first allocation for a payload; then doubling */

/* ================================================================ types */

struct job {
	struct job *next;
	uint32_t slot, gen;
	uint64_t id;
	int k;
	uint64_t edge_ts;
	uint8_t *frame;       /* the request payload + trailer, owned */
	size_t frame_cap;     /* bytes accounted for it */
	uint32_t kind;        /* enum jalad_net_payload, as received */
	const uint8_t *payload;
	size_t payload_len;
	uint64_t recv_first, recv_last, enqueued;
	uint32_t first_bytes;
	/* filled by the worker */
	uint8_t *resp;
	size_t resp_len;
	int status;
	uint64_t work_ns;
};

enum conn_state { C_FREE = 0, C_TLS, C_HELLO, C_READY };

struct conn {
	enum conn_state state;
	uint32_t gen;
	struct jalad_stream s;
	char peer[64];
	uint8_t src[16];          /* source key: IPv4 mapped, or an IPv6 /64 */
	uint64_t accepted;        /* accept time: the HELLO deadline counts from it */
	int hs_prev, hs_next;     /* list of connections before HELLO, oldest first */
	int in_hs;
	uint64_t frame_t0;        /* first byte of the frame being read (0: none),
	                           * moved on by the time spent paused */
	uint64_t frame_bytes;     /* its bytes so far, header included */
	uint64_t starved_at;
	uint64_t last_active;
	uint32_t events;          /* epoll interest now */
	int tls_want;             /* handshake or read blocked on: JALAD_IO_WANT_* or 0 */
	/* reading one frame */
	uint8_t hdr[JALAD_FRAME_HDR];
	size_t hdr_got;
	struct jalad_frame_hdr h;
	uint8_t *buf;             /* payload + trailer */
	size_t cap, got, need;
	uint64_t t_first, t_last;
	uint32_t first_bytes;
	/* work */
	int busy;                 /* a request is parked, queued or running */
	struct job *parked;       /* waiting for room in the queue */
	int starved;              /* waiting for room in the memory budget */
	/* writing */
	uint8_t *wbuf;
	size_t wlen, woff, wcap;
	int closing;              /* close once wbuf is flushed */
	uint64_t linger_until;    /* != 0: output shut, discarding input until then */
	uint64_t requests;
};

/* Open connections of one source, in a linear-probing table (count 0: empty). */
struct src_ent {
	uint8_t key[16];
	uint32_t hash;
	int count;
};

struct dict_entry {
	uint32_t id;
	const struct jalad_codec_dict *d;
	struct jalad_codec_dict *owned; /* uploaded: the server frees it */
	size_t bytes;             /* footprint accounted (uploaded only) */
	int refs;                 /* workers decoding with it now */
	int evicted;              /* out of the cache; freed at refs == 0 */
	uint64_t used;            /* tick of the last use (LRU) */
};

struct worker {
	struct jalad_server *srv;
	pthread_t tid;
	int started;
	struct jalad_session *sess;
	struct jalad_codec_ctx *ctx;
	float *in;                /* room for the largest crossing set */
	size_t in_cap;
};

struct cut_info {
	int count;
	int *ids;
	size_t *offset;           /* floats, into worker->in */
	uint64_t elements;
};

struct jalad_server {
	const struct jalad_model *model;
	struct jalad_server_opts o;
	int n_nodes;
	struct cut_info *cuts;    /* [0, n) */
	int n_outputs;
	int listen_fd, ep, wake_fd, port;
	int have_pp;              /* image payloads accepted */
	struct jalad_preprocess pp;
	struct jalad_tls *tls;
	/* Shared dictionaries: the calibration's (borrowed, kept) and uploaded
	 * ones (owned, evicted least recently used first when the cache is
	 * full). Workers look them up under dmu and hold a reference while
	 * decoding, so an eviction never frees one in use. */
	pthread_mutex_t dmu;
	struct dict_entry **dcache;
	int n_dcache, dcache_cap;
	size_t dcache_bytes;      /* footprint of the uploaded ones */
	uint64_t dtick;
	uint32_t dict_digest;
	uint8_t sha256[32];
	/* connections */
	struct conn *conns;
	int *free_slots, n_free;
	int n_starved;
	int hs_head, hs_tail, n_hs; /* not finished with HELLO, in accept order */
	struct src_ent *src_tab;  /* open connections per source address */
	size_t src_mask;
	uint32_t min_frame;       /* smallest max_frame an edge may declare */
	uint64_t flood_log_ns[4]; /* rate-limited warnings: last time, per kind */
	uint64_t flood_quiet[4];  /* and how many went unsaid since */
	/* metrics */
	struct jalad_metrics_srv *metrics;
	struct jalad_metrics_hist *hold; /* [n_nodes], loop thread */
	char model_name[128];
	/* workers and the queue */
	struct worker *workers;
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct job **ring;
	int qhead, qlen, qquit;
	struct job *done;         /* completion list, under qmu */
	/* stop */
	atomic_int stop;
	int draining;
	/* stats, written by the loop thread under smu */
	pthread_mutex_t smu;
	struct jalad_server_stats st;
	uint64_t last_stats_ns, last_stats_requests, last_scan_ns;
};

/* ================================================================ stats */

#define STAT_ADD(srv, field, v)                          \
	do {                                             \
		pthread_mutex_lock(&(srv)->smu);         \
		(srv)->st.field += (v);                  \
		pthread_mutex_unlock(&(srv)->smu);       \
	} while (0)

static void mem_add(struct jalad_server *srv, size_t n)
{
	STAT_ADD(srv, mem_bytes, n);
}

static void mem_sub(struct jalad_server *srv, size_t n)
{
	STAT_ADD(srv, mem_bytes, -n);
}

static int mem_room(struct jalad_server *srv, size_t n)
{
	pthread_mutex_lock(&srv->smu);
	int ok = srv->st.mem_bytes + n <= srv->o.mem_budget_bytes;
	pthread_mutex_unlock(&srv->smu);
	return ok;
}

void jalad_server_stats(struct jalad_server *srv, struct jalad_server_stats *st)
{
	pthread_mutex_lock(&srv->smu);
	*st = srv->st;
	pthread_mutex_unlock(&srv->smu);
	pthread_mutex_lock(&srv->qmu);
	st->queue_len = srv->qlen;
	pthread_mutex_unlock(&srv->qmu);
}

/* ================================================================ jobs */

static void job_free(struct jalad_server *srv, struct job *j)
{
	if (!j)
		return;
	if (j->frame)
		mem_sub(srv, j->frame_cap);
	free(j->frame);
	free(j->resp);
	free(j);
}

/* Queue a job unless the queue is full. Loop thread. */
static int queue_push(struct jalad_server *srv, struct job *j)
{
	pthread_mutex_lock(&srv->qmu);
	int ok = srv->qlen < srv->o.queue_cap;
	if (ok) {
		srv->ring[(srv->qhead + srv->qlen) % srv->o.queue_cap] = j;
		srv->qlen++;
		j->enqueued = jalad_now_ns();
		pthread_cond_signal(&srv->qcv);
	}
	pthread_mutex_unlock(&srv->qmu);
	return ok;
}

static void wake(struct jalad_server *srv)
{
	uint64_t one = 1;
	ssize_t r;
	do
		r = write(srv->wake_fd, &one, sizeof one);
	while (r < 0 && errno == EINTR);
}

/* ================================================================ dictionaries */

/* Index of id in the cache, -1 if absent. Under dmu. */
static int dict_find(const struct jalad_server *srv, uint32_t id)
{
	for (int i = 0; i < srv->n_dcache; i++)
		if (srv->dcache[i]->id == id)
			return i;
	return -1;
}

static void dict_entry_free(struct dict_entry *e)
{
	jalad_codec_dict_free(e->owned);
	free(e);
}

/* The cached dictionary id with a reference taken, or NULL. Any thread. */
static struct dict_entry *dict_get(struct jalad_server *srv, uint32_t id)
{
	pthread_mutex_lock(&srv->dmu);
	int i = dict_find(srv, id);
	struct dict_entry *e = i >= 0 ? srv->dcache[i] : NULL;
	if (e) {
		e->refs++;
		e->used = ++srv->dtick;
	}
	pthread_mutex_unlock(&srv->dmu);
	return e;
}

static void dict_put(struct jalad_server *srv, struct dict_entry *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&srv->dmu);
	int last = --e->refs == 0 && e->evicted;
	pthread_mutex_unlock(&srv->dmu);
	if (last)
		dict_entry_free(e);
}

static int dict_held(struct jalad_server *srv, uint32_t id)
{
	pthread_mutex_lock(&srv->dmu);
	int i = dict_find(srv, id);
	if (i >= 0)
		srv->dcache[i]->used = ++srv->dtick;
	pthread_mutex_unlock(&srv->dmu);
	return i >= 0;
}

/* Insert e (under dmu), making room by evicting the least recently used
 * uploaded entries. @return 0, or -1 if it cannot fit (nothing changed). */
static int dict_insert(struct jalad_server *srv, struct dict_entry *e, size_t limit)
{
	if (e->owned) {
		if (e->bytes > limit)
			return -1;
		while (srv->dcache_bytes + e->bytes > limit) {
			int victim = -1;
			for (int i = 0; i < srv->n_dcache; i++)
				if (srv->dcache[i]->owned &&
				    (victim < 0 || srv->dcache[i]->used < srv->dcache[victim]->used))
					victim = i;
			if (victim < 0)
				return -1;
			struct dict_entry *v = srv->dcache[victim];
			srv->dcache[victim] = srv->dcache[--srv->n_dcache];
			srv->dcache_bytes -= v->bytes;
			mem_sub(srv, v->bytes);
			jalad_log(JALAD_LOG_INFO, "dictionary 0x%08x evicted from the cache", v->id);
			if (v->refs)
				v->evicted = 1;
			else
				dict_entry_free(v);
		}
	}
	if (srv->n_dcache == srv->dcache_cap) {
		int ncap = srv->dcache_cap ? 2 * srv->dcache_cap : 16;
		struct dict_entry **nb = realloc(srv->dcache, (size_t)ncap * sizeof *nb);
		if (!nb)
			return -1;
		srv->dcache = nb;
		srv->dcache_cap = ncap;
	}
	e->used = ++srv->dtick;
	srv->dcache[srv->n_dcache++] = e;
	if (e->owned) {
		srv->dcache_bytes += e->bytes;
		mem_add(srv, e->bytes);
	}
	return 0;
}

/* An uploaded dictionary: check and cache it. Loop thread.
 * @return JALAD_OK (held now, or already) or why it was refused. */
static enum jalad_status dict_upload(struct jalad_server *srv, const struct jalad_msg_dict *m, const char *peer)
{
	if (dict_held(srv, m->id))
		return JALAD_OK;
	JALAD_RETURN_IF(srv->o.dict_cache_bytes < 0, JALAD_ERR_UNSUPPORTED,
			"this server takes no dictionary uploads (--dict-cache 0)");
	struct jalad_codec_dict *d = NULL;
	enum jalad_status st = jalad_codec_dict_load(m->data, m->len, &d);
	if (st != JALAD_OK) {
		jalad_error_prefix("dictionary 0x%08x: ", m->id);
		return st;
	}
	uint32_t got_id = jalad_codec_dict_id(d);
	if (got_id != m->id) {
		jalad_codec_dict_free(d);
		return jalad_fail(JALAD_ERR_CHECKSUM, "dictionary 0x%08x: its bytes have id 0x%08x", m->id, got_id);
	}
	size_t bytes = jalad_codec_dict_footprint(d), limit = (size_t)srv->o.dict_cache_bytes;
	struct dict_entry *e = calloc(1, sizeof *e);
	if (!e) {
		jalad_codec_dict_free(d);
		return jalad_fail(JALAD_ERR_NOMEM, "dictionary 0x%08x: out of memory", m->id);
	}
	*e = (struct dict_entry){ .id = m->id, .d = d, .owned = d, .bytes = bytes };
	if (!mem_room(srv, bytes)) {
		dict_entry_free(e);
		return jalad_fail(JALAD_ERR_LIMIT, "dictionary 0x%08x (%zu bytes of tables) does not fit the server's "
				  "memory budget of %zu bytes now", m->id, bytes, srv->o.mem_budget_bytes);
	}
	pthread_mutex_lock(&srv->dmu);
	int rc = dict_insert(srv, e, limit);
	pthread_mutex_unlock(&srv->dmu);
	if (rc < 0) {
		dict_entry_free(e);
		return jalad_fail(JALAD_ERR_LIMIT, "dictionary 0x%08x (%zu bytes of tables) does not fit the server's "
				  "dictionary cache of %zu bytes", m->id, bytes, limit);
	}
	jalad_log(JALAD_LOG_INFO, "conn %s: dictionary 0x%08x (%d bits, %zu bytes) uploaded", peer, m->id,
		  jalad_codec_dict_bits(d), m->len);
	return JALAD_OK;
}

/* ================================================================ workers */

/* The model's input from an image payload (k = 0), into the worker's buffer. */
static enum jalad_status decode_image(struct worker *w, const struct job *j, struct jalad_tensor *vals)
{
	struct jalad_server *srv = w->srv;
	const char *kind = jalad_net_payload_name((enum jalad_net_payload)j->kind);
	JALAD_RETURN_IF(!srv->have_pp, JALAD_ERR_UNSUPPORTED,
			"request %llu: this server has no preprocessing for the model's input, so it cannot take a %s "
			"payload (jalad serve takes it from the model's metadata; send a codec container instead)",
			(unsigned long long)j->id, kind);
	JALAD_RETURN_IF(j->k != 0, JALAD_ERR_INVALID_ARG,
			"request %llu: a %s payload carries the input, so it is only valid at cut 0, not cut %d",
			(unsigned long long)j->id, kind, j->k);
	const struct cut_info *cut = &srv->cuts[0];
	struct jalad_tensor_desc d;
	JALAD_FORWARD(jalad_model_tensor_desc(srv->model, cut->ids[0], &d));
	enum jalad_status st = jalad_net_image_input((enum jalad_net_payload)j->kind, j->payload, j->payload_len,
						     &srv->pp, srv->o.max_image_pixels, w->in + cut->offset[0],
						     (size_t)cut->elements);
	if (st != JALAD_OK) {
		jalad_error_prefix("request %llu: ", (unsigned long long)j->id);
		return st;
	}
	vals[0] = (struct jalad_tensor){ JALAD_DTYPE_FLOAT32, d.ndim, { 0 }, w->in + cut->offset[0] };
	memcpy(vals[0].dims, d.dims, sizeof vals[0].dims);
	return JALAD_OK;
}

/* Check a request's codec container against cut k and decode it into the
 * worker's buffer; *t0 becomes the start of the decode itself. */
static enum jalad_status decode_container(struct worker *w, const struct job *j, struct jalad_tensor *vals,
					  uint64_t *t0)
{
	struct jalad_server *srv = w->srv;
	const struct cut_info *cut = &srv->cuts[j->k];
	struct jalad_codec_info info;
	struct jalad_codec_limits lim;
	jalad_codec_limits_default(&lim);
	lim.max_tensors = cut->count;
	lim.max_elements = cut->elements;
	JALAD_FORWARD(jalad_codec_peek(j->payload, j->payload_len, &lim, &info));
	JALAD_RETURN_IF(info.ntensors != cut->count, JALAD_ERR_MISMATCH,
			"request %llu: cut %d is crossed by %d tensors, the container has %d",
			(unsigned long long)j->id, j->k, cut->count, info.ntensors);
	float *outp[JALAD_CODEC_MAX_TENSORS];
	size_t caps[JALAD_CODEC_MAX_TENSORS];
	for (int i = 0; i < cut->count; i++) {
		struct jalad_tensor_desc d;
		JALAD_FORWARD(jalad_model_tensor_desc(srv->model, cut->ids[i], &d));
		int same = d.ndim == info.tensor[i].ndim;
		for (int a = 0; same && a < d.ndim; a++)
			same = d.dims[a] == info.tensor[i].dims[a];
		JALAD_RETURN_IF(!same, JALAD_ERR_SHAPE,
				"request %llu: tensor %d of the container does not have the shape of '%s' at cut %d",
				(unsigned long long)j->id, i, d.name, j->k);
		outp[i] = w->in + cut->offset[i];
		caps[i] = (size_t)info.tensor[i].count;
		vals[i] = (struct jalad_tensor){ JALAD_DTYPE_FLOAT32, d.ndim, { 0 }, outp[i] };
		memcpy(vals[i].dims, d.dims, sizeof vals[i].dims);
	}
	struct dict_entry *de = NULL;
	if (info.has_dict) {
		de = dict_get(srv, info.dict_id);
		JALAD_RETURN_IF(!de, JALAD_ERR_MISMATCH,
				"request %llu: the container needs shared dictionary 0x%08x, which this server lacks "
				"(the edge uploads it first)", (unsigned long long)j->id, info.dict_id);
	}
	*t0 = jalad_now_ns();
	enum jalad_status st = jalad_codec_decode(w->ctx, j->payload, j->payload_len, &lim, de ? de->d : NULL, outp,
						  caps, cut->count, NULL);
	dict_put(srv, de);
	return st;
}

/* Decode the payload of a request (a codec container, or an image at cut
 * 0) and run [k, n). On failure the job gets an error status and the
 * message of jalad_last_error(). */
static enum jalad_status work_run(struct worker *w, struct job *j, struct jalad_msg_response *m,
				  struct jalad_tensor *outs)
{
	struct jalad_server *srv = w->srv;
	const struct cut_info *cut = &srv->cuts[j->k];
	struct jalad_tensor vals[JALAD_CODEC_MAX_TENSORS];
	uint64_t t0 = jalad_now_ns();
	if (jalad_net_payload_is_image(j->kind)) {
		JALAD_FORWARD(decode_image(w, j, vals));
	} else {
		JALAD_RETURN_IF(j->kind != JALAD_NET_PAYLOAD_CONTAINER, JALAD_ERR_UNSUPPORTED,
				"request %llu: unknown payload kind %u (this server knows 1 container, 2 u8, 3 png, "
				"4 jpeg, 5 file)", (unsigned long long)j->id, j->kind);
		JALAD_FORWARD(decode_container(w, j, vals, &t0));
	}
	uint64_t t1 = jalad_now_ns();
	JALAD_FORWARD(jalad_session_run_range(w->sess, j->k, srv->n_nodes, cut->ids, vals, cut->count));
	uint64_t t2 = jalad_now_ns();
	m->decode_ns = t1 - t0;
	m->compute_ns = t2 - t1;
	m->n_outputs = srv->n_outputs;
	for (int i = 0; i < srv->n_outputs; i++) {
		JALAD_FORWARD(jalad_session_tensor(w->sess, jalad_model_output(srv->model, i), &outs[i]));
		JALAD_RETURN_IF(outs[i].dtype != JALAD_DTYPE_FLOAT32, JALAD_ERR_UNSUPPORTED,
				"output %d is %s; only float32 outputs can be sent", i, jalad_dtype_name(outs[i].dtype));
	}
	return JALAD_OK;
}

static void work_one(struct worker *w, struct job *j)
{
	struct jalad_tensor outs[JALAD_NET_MAX_OUTPUTS];
	struct jalad_msg_response m;
	uint64_t t0 = jalad_now_ns();
	memset(&m, 0, sizeof m);
	m.id = j->id;
	m.edge_ts = j->edge_ts;
	m.recv_first_ns = j->recv_first;
	m.recv_last_ns = j->recv_last;
	m.first_read_bytes = j->first_bytes;
	m.queue_ns = t0 - j->enqueued;
	enum jalad_status st = work_run(w, j, &m, outs);
	char msg[JALAD_MSG_TEXT_MAX + 1] = "";
	if (st != JALAD_OK) {
		snprintf(msg, sizeof msg, "%s", jalad_last_error());
		m.status = st;
		m.n_outputs = 0;
	}
	size_t cap = st == JALAD_OK ? jalad_msg_response_size(m.n_outputs, outs)
				    : JALAD_FRAME_OVERHEAD + JALAD_RESPONSE_FIXED + 2 + JALAD_MSG_TEXT_MAX;
	j->resp = malloc(cap);
	j->work_ns = jalad_now_ns() - t0;
	m.send_ns = jalad_now_ns();
	if (!j->resp || jalad_msg_response_write(&m, outs, msg, j->resp, cap, &j->resp_len) != JALAD_OK) {
		free(j->resp);
		j->resp = NULL;
		j->resp_len = 0;
	}
	j->status = st;
	/* The request bytes are not needed any more; the loop thread frees
	 * them (it does the accounting). */
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct jalad_server *srv = w->srv;
	for (;;) {
		pthread_mutex_lock(&srv->qmu);
		while (!srv->qlen && !srv->qquit)
			pthread_cond_wait(&srv->qcv, &srv->qmu);
		if (!srv->qlen) {
			pthread_mutex_unlock(&srv->qmu);
			return NULL;
		}
		struct job *j = srv->ring[srv->qhead];
		srv->qhead = (srv->qhead + 1) % srv->o.queue_cap;
		srv->qlen--;
		pthread_mutex_unlock(&srv->qmu);
		work_one(w, j);
		pthread_mutex_lock(&srv->qmu);
		j->next = srv->done;
		srv->done = j;
		pthread_mutex_unlock(&srv->qmu);
		wake(srv);
	}
}

/* ================================================================ flood limits */

/* Warnings about hostile-looking traffic, at most one a second per kind,
 * saying how many were left unsaid. */
enum flood_kind { FL_SHED, FL_FULL, FL_SOURCE, FL_TIMEOUT };

static void flood_log(struct jalad_server *srv, enum flood_kind kind, const char *fmt, ...) JALAD_PRINTF(3, 4);
static void flood_log(struct jalad_server *srv, enum flood_kind kind, const char *fmt, ...)
{
	uint64_t now = jalad_now_ns();
	if (srv->flood_log_ns[kind] && now - srv->flood_log_ns[kind] < 1000000000u) {
		srv->flood_quiet[kind]++;
		return;
	}
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (srv->flood_quiet[kind])
		jalad_log(JALAD_LOG_WARN, "%s (and %llu more like it in the last second)", msg,
			  (unsigned long long)srv->flood_quiet[kind]);
	else
		jalad_log(JALAD_LOG_WARN, "%s", msg);
	srv->flood_log_ns[kind] = now;
	srv->flood_quiet[kind] = 0;
}

/* The key a per-source limit counts by: an IPv4 address (as ::ffff:a.b.c.d)
 * or the /64 of an IPv6 one (one host usually holds a whole /64). */
static void src_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	memset(key, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
			memcpy(key, &in6->sin6_addr, 16);
		else
			memcpy(key, &in6->sin6_addr, 8);
	}
}

static uint32_t src_hash(const uint8_t key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h;
}

/* The slot of key: where it is, or the empty one where it would go. The
 * table has at least twice as many slots as connections, so one is empty. */
static size_t src_slot(const struct jalad_server *srv, const uint8_t key[16], uint32_t h)
{
	size_t i = h & srv->src_mask;
	while (srv->src_tab[i].count && memcmp(srv->src_tab[i].key, key, 16) != 0)
		i = (i + 1) & srv->src_mask;
	return i;
}

static int src_count(const struct jalad_server *srv, const uint8_t key[16])
{
	return srv->src_tab[src_slot(srv, key, src_hash(key))].count;
}

static void src_inc(struct jalad_server *srv, const uint8_t key[16])
{
	uint32_t h = src_hash(key);
	struct src_ent *e = &srv->src_tab[src_slot(srv, key, h)];
	if (!e->count) {
		memcpy(e->key, key, 16);
		e->hash = h;
	}
	e->count++;
}

/* Decrement; an entry at 0 is deleted by shifting its followers back
 * (linear probing without tombstones). */
static void src_dec(struct jalad_server *srv, const uint8_t key[16])
{
	size_t mask = srv->src_mask, i = src_slot(srv, key, src_hash(key)), j = i;
	struct src_ent *t = srv->src_tab;
	if (!t[i].count || --t[i].count)
		return;
	for (;;) {
		j = (j + 1) & mask;
		if (!t[j].count)
			break;
		size_t home = t[j].hash & mask;
		/* t[j] may move to i unless its home lies cyclically in (i, j] */
		int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t[i] = t[j];
			i = j;
		}
	}
	t[i].count = 0;
}

static void hs_add(struct jalad_server *srv, struct conn *c)
{
	int id = (int)(c - srv->conns);
	c->hs_prev = srv->hs_tail;
	c->hs_next = -1;
	if (srv->hs_tail >= 0)
		srv->conns[srv->hs_tail].hs_next = id;
	else
		srv->hs_head = id;
	srv->hs_tail = id;
	c->in_hs = 1;
	srv->n_hs++;
}

static void hs_del(struct jalad_server *srv, struct conn *c)
{
	if (!c->in_hs)
		return;
	if (c->hs_prev >= 0)
		srv->conns[c->hs_prev].hs_next = c->hs_next;
	else
		srv->hs_head = c->hs_next;
	if (c->hs_next >= 0)
		srv->conns[c->hs_next].hs_prev = c->hs_prev;
	else
		srv->hs_tail = c->hs_prev;
	c->in_hs = 0;
	srv->n_hs--;
}

/* ================================================================ connections */

static void conn_set_events(struct jalad_server *srv, struct conn *c, uint32_t ev)
{
	if (ev == c->events)
		return;
	struct epoll_event e = { .events = ev, .data.u64 = (uint64_t)(c - srv->conns) };
	if (epoll_ctl(srv->ep, EPOLL_CTL_MOD, c->s.fd, &e) == 0)
		c->events = ev;
}

/* The interest a connection has now, from its state. */
static void conn_update(struct jalad_server *srv, struct conn *c)
{
	uint32_t ev = 0;
	if (c->state == C_FREE)
		return;
	if (c->linger_until) {
		ev = EPOLLIN;
	} else if (c->state == C_TLS || c->tls_want) {
		ev = c->tls_want == JALAD_IO_WANT_WRITE ? EPOLLOUT : EPOLLIN;
	} else {
		if (c->woff < c->wlen)
			ev |= EPOLLOUT;
		if (!c->busy && !c->starved && !c->closing && !srv->draining)
			ev |= EPOLLIN;
	}
	conn_set_events(srv, c, ev);
}

/* Close with a line at this level (why NULL: none). */
static void conn_close_lvl(struct jalad_server *srv, struct conn *c, enum jalad_log_level lvl, const char *why)
{
	if (c->state == C_FREE)
		return;
	if (why)
		jalad_log(lvl, "conn %s: closed (%s) after %llu requests", c->peer, why, (unsigned long long)c->requests);
	hs_del(srv, c);
	src_dec(srv, c->src);
	epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->s.fd, NULL);
	close(c->s.fd);
	jalad_tls_conn_free(c->s.tls);
	if (c->buf)
		mem_sub(srv, c->cap);
	if (c->wbuf)
		mem_sub(srv, c->wcap);
	free(c->buf);
	free(c->wbuf);
	job_free(srv, c->parked);
	if (c->starved)
		srv->n_starved--;
	uint32_t gen = c->gen + 1;
	memset(c, 0, sizeof *c);
	c->gen = gen; /* a job still in a worker finds its connection gone */
	srv->free_slots[srv->n_free++] = (int)(c - srv->conns);
	pthread_mutex_lock(&srv->smu);
	srv->st.conns_open--;
	pthread_mutex_unlock(&srv->smu);
}

static void conn_close(struct jalad_server *srv, struct conn *c, const char *why)
{
	conn_close_lvl(srv, c, JALAD_LOG_INFO, why);
}

/* Close after the last write without losing it: closing a socket that
 * still holds unread input sends a reset, and the peer may then never see
 * our ERROR. So shut the output down, discard input until the peer closes
 * too or a second passes (nginx's lingering close), then close. */
#define LINGER_NS 1000000000u

static void linger(struct jalad_server *srv, struct conn *c)
{
	if (c->s.tls)
		jalad_tls_close_notify(c->s.tls);
	if (shutdown(c->s.fd, SHUT_WR) < 0) {
		conn_close(srv, c, "done");
		return;
	}
	c->linger_until = jalad_now_ns() + LINGER_NS;
	conn_update(srv, c);
}

static void linger_read(struct jalad_server *srv, struct conn *c)
{
	char junk[4096];
	for (int i = 0; i < 64; i++) {
		ssize_t r = read(c->s.fd, junk, sizeof junk);
		if (r > 0)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		conn_close(srv, c, "done");
		return;
	}
}

/* Append bytes to the write buffer. 0 on success, -1 out of memory. */
static int conn_queue(struct jalad_server *srv, struct conn *c, const uint8_t *p, size_t n)
{
	if (c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (c->wlen + n > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 256;
		while (cap < c->wlen + n)
			cap *= 2;
		uint8_t *nb = realloc(c->wbuf, cap);
		if (!nb)
			return -1;
		mem_add(srv, cap - c->wcap);
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

/* Write what can be written. 0 ok (maybe more later), -1 closed. */
static int conn_flush(struct jalad_server *srv, struct conn *c)
{
	while (c->woff < c->wlen) {
		long r = jalad_stream_write(&c->s, c->wbuf + c->woff, c->wlen - c->woff);
		if (r == JALAD_IO_WANT_WRITE)
			break;
		if (r == JALAD_IO_WANT_READ) { /* TLS wants to read first */
			c->tls_want = JALAD_IO_WANT_READ;
			return 0;
		}
		if (r < 0) {
			conn_close(srv, c, "write failed");
			return -1;
		}
		c->woff += (size_t)r;
		STAT_ADD(srv, bytes_out, (uint64_t)r);
		c->last_active = jalad_now_ns();
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		if (c->wcap > READ_CHUNK) { /* do not keep a big buffer per idle connection */
			mem_sub(srv, c->wcap);
			free(c->wbuf);
			c->wbuf = NULL;
			c->wcap = 0;
		}
		if (c->closing) {
			linger(srv, c);
			return -1;
		}
	}
	return 0;
}

/* A violation of the protocol: log it, answer ERROR, close. */
static void conn_drop(struct jalad_server *srv, struct conn *c, enum jalad_status st, const char *what)
{
	uint8_t frame[JALAD_FRAME_OVERHEAD + 14 + JALAD_MSG_TEXT_MAX];
	size_t n;
	jalad_log(JALAD_LOG_WARN, "conn %s: %s: %s; dropping the connection", c->peer, what, jalad_last_error());
	STAT_ADD(srv, conns_dropped, 1);
	if (jalad_msg_error_write(0, st, jalad_last_error(), frame, sizeof frame, &n) == JALAD_OK)
		conn_queue(srv, c, frame, n);
	c->closing = 1;
	if (c->buf) {
		mem_sub(srv, c->cap);
		free(c->buf);
		c->buf = NULL;
		c->cap = 0;
	}
	conn_flush(srv, c);
}

static void reset_read(struct jalad_server *srv, struct conn *c)
{
	if (c->buf) {
		mem_sub(srv, c->cap);
		free(c->buf);
	}
	c->buf = NULL;
	c->cap = c->got = c->need = 0;
	c->hdr_got = 0;
	c->first_bytes = 0;
}

/* Values of a HELLO a working edge of this protocol cannot send: refused
 * with JALAD_ERR_PROTOCOL and a message naming the field. */
static enum jalad_status hello_check(const struct jalad_server *srv, const struct jalad_msg_hello *h)
{
	const uint32_t known = (1u << JALAD_CODER_COUNT) - 1;
	JALAD_RETURN_IF(!(h->caps & known), JALAD_ERR_PROTOCOL,
			"HELLO field caps = 0x%08x names no coder (bits 0..%d): the edge could send nothing",
			h->caps, JALAD_CODER_COUNT - 1);
	JALAD_RETURN_IF(h->caps & JALAD_CAP_CODERS_MASK & ~known, JALAD_ERR_PROTOCOL,
			"HELLO field caps = 0x%08x names coders this protocol does not have (bits 0..%d only)",
			h->caps, JALAD_CODER_COUNT - 1);
	JALAD_RETURN_IF(h->max_frame < srv->min_frame, JALAD_ERR_PROTOCOL,
			"HELLO field max_frame = %u bytes is smaller than this server's answers can be (%u bytes)",
			h->max_frame, srv->min_frame);
	return JALAD_OK; /* name: the parser already replaced control bytes */
}

static void hello_refuse(struct jalad_server *srv, struct conn *c, enum jalad_status st)
{
	pthread_mutex_lock(&srv->smu);
	srv->st.conns_refused++;
	srv->st.handshakes_refused++;
	pthread_mutex_unlock(&srv->smu);
	conn_drop(srv, c, st, "HELLO refused");
}

static void answer_hello(struct jalad_server *srv, struct conn *c, const uint8_t *p, size_t len)
{
	struct jalad_msg_hello h;
	char hex_a[17], hex_b[17];
	enum jalad_status st = jalad_msg_hello_parse(p, len, &h);
	if (st != JALAD_OK) {
		STAT_ADD(srv, handshakes_refused, 1);
		conn_drop(srv, c, st, "bad HELLO");
		return;
	}
	if (h.protocol != JALAD_NET_PROTOCOL) {
		jalad_fail(JALAD_ERR_UNSUPPORTED,
			   "client '%s' speaks protocol %u, this server speaks %u: run the same jalad version on both sides",
			   h.name, h.protocol, JALAD_NET_PROTOCOL);
		hello_refuse(srv, c, JALAD_ERR_UNSUPPORTED);
		return;
	}
	if (memcmp(h.sha256, srv->sha256, 32) != 0) {
		for (int i = 0; i < 8; i++) {
			snprintf(hex_a + 2 * i, 3, "%02x", srv->sha256[i]);
			snprintf(hex_b + 2 * i, 3, "%02x", h.sha256[i]);
		}
		jalad_fail(JALAD_ERR_MISMATCH, "model SHA-256 differs: server has %s..., client '%s' has %s...", hex_a,
			   h.name, hex_b);
		hello_refuse(srv, c, JALAD_ERR_MISMATCH);
		return;
	}
	if ((st = hello_check(srv, &h)) != JALAD_OK) {
		hello_refuse(srv, c, st);
		return;
	}
	struct jalad_msg_hello me;
	uint8_t frame[JALAD_FRAME_OVERHEAD + JALAD_HELLO_MAX];
	size_t n;
	memset(&me, 0, sizeof me);
	me.protocol = JALAD_NET_PROTOCOL;
	memcpy(me.sha256, srv->sha256, 32);
	me.caps = JALAD_CAP_CRC | ((1u << JALAD_CODER_COUNT) - 1) | (srv->have_pp ? JALAD_CAP_IMAGES : 0);
	me.max_frame = srv->o.max_frame_bytes;
	me.dict_digest = srv->dict_digest;
	for (int i = 0; i < h.n_dicts; i++)
		if (dict_held(srv, h.dicts[i]))
			me.dicts[me.n_dicts++] = h.dicts[i];
	snprintf(me.name, sizeof me.name, "jalad-serve");
	jalad_msg_hello_write(&me, frame, sizeof frame, &n);
	if (conn_queue(srv, c, frame, n) < 0) {
		conn_close(srv, c, "out of memory");
		return;
	}
	c->state = C_READY;
	hs_del(srv, c);
	jalad_log(JALAD_LOG_INFO, "conn %s: '%s' connected", c->peer, h.name);
}

static void push_parked(struct jalad_server *srv);

/* A complete, CRC-checked frame is in c->hdr / c->buf. */
static void frame_done(struct jalad_server *srv, struct conn *c)
{
	const uint8_t *p = c->buf;
	size_t len = c->h.length;
	switch (c->h.type) {
	case JALAD_FRAME_HELLO:
		if (c->state != C_HELLO) {
			jalad_fail(JALAD_ERR_PROTOCOL, "a second HELLO");
			conn_drop(srv, c, JALAD_ERR_PROTOCOL, "protocol");
			return;
		}
		answer_hello(srv, c, p, len);
		if (c->state != C_FREE && !c->closing)
			reset_read(srv, c);
		return;
	case JALAD_FRAME_REQUEST: {
		struct jalad_msg_request rq;
		enum jalad_status st;
		if (c->state != C_READY) {
			jalad_fail(JALAD_ERR_PROTOCOL, "REQUEST before HELLO");
			conn_drop(srv, c, JALAD_ERR_PROTOCOL, "protocol");
			return;
		}
		if ((st = jalad_msg_request_parse(p, len, &rq)) != JALAD_OK) {
			conn_drop(srv, c, st, "bad REQUEST");
			return;
		}
		if (rq.k >= (uint32_t)srv->n_nodes) {
			jalad_fail(JALAD_ERR_INVALID_ARG, "request %llu: cut %u is not in [0, %d)",
				   (unsigned long long)rq.id, rq.k, srv->n_nodes);
			conn_drop(srv, c, JALAD_ERR_INVALID_ARG, "bad REQUEST");
			return;
		}
		struct job *j = calloc(1, sizeof *j);
		if (!j) {
			conn_close(srv, c, "out of memory");
			return;
		}
		j->slot = (uint32_t)(c - srv->conns);
		j->gen = c->gen;
		j->id = rq.id;
		j->k = (int)rq.k;
		j->edge_ts = rq.edge_ts;
		j->frame = c->buf;
		j->frame_cap = c->cap;
		j->kind = rq.kind;
		j->payload = rq.payload;
		j->payload_len = rq.payload_len;
		j->recv_first = c->t_first;
		j->recv_last = c->t_last;
		j->first_bytes = c->first_bytes;
		c->buf = NULL; /* the job owns it (and its accounting) now */
		c->cap = 0;
		reset_read(srv, c);
		c->busy = 1;
		c->requests++;
		pthread_mutex_lock(&srv->smu);
		srv->st.requests++;
		srv->st.requests_by_payload[rq.kind < JALAD_NET_PAYLOAD_COUNT ? rq.kind : 0]++;
		pthread_mutex_unlock(&srv->smu);
		c->parked = j;
		push_parked(srv);
		return;
	}
	case JALAD_FRAME_DICT: {
		struct jalad_msg_dict dm;
		enum jalad_status st;
		if (c->state != C_READY) {
			jalad_fail(JALAD_ERR_PROTOCOL, "DICT before HELLO");
			conn_drop(srv, c, JALAD_ERR_PROTOCOL, "protocol");
			return;
		}
		if ((st = jalad_msg_dict_parse(p, len, &dm)) != JALAD_OK) {
			conn_drop(srv, c, st, "bad DICT");
			return;
		}
		/* A refusal is an answer, not a violation: the edge plans without it. */
		st = dict_upload(srv, &dm, c->peer);
		pthread_mutex_lock(&srv->smu);
		if (st == JALAD_OK) {
			srv->st.dict_uploads++;
			srv->st.dict_upload_bytes += dm.len;
		} else {
			srv->st.dict_refused++;
		}
		pthread_mutex_unlock(&srv->smu);
		if (st != JALAD_OK)
			jalad_log(JALAD_LOG_WARN, "conn %s: refused %s", c->peer, jalad_last_error());
		uint8_t frame[JALAD_FRAME_OVERHEAD + JALAD_DICT_ACK_MAX];
		size_t n;
		jalad_msg_dict_ack_write(dm.id, st, st == JALAD_OK ? "" : jalad_last_error(), frame, sizeof frame, &n);
		reset_read(srv, c);
		if (conn_queue(srv, c, frame, n) < 0)
			conn_close(srv, c, "out of memory");
		return;
	}
	case JALAD_FRAME_BYE:
		c->closing = 1;
		reset_read(srv, c);
		conn_flush(srv, c);
		return;
	default:
		jalad_fail(JALAD_ERR_PROTOCOL, "unexpected frame type %u from a client", c->h.type);
		conn_drop(srv, c, JALAD_ERR_PROTOCOL, "protocol");
		return;
	}
}

/* Read frames until the socket is empty, a request is in flight, or the
 * connection closes. */
static void conn_read(struct jalad_server *srv, struct conn *c)
{
	int started_here = 0;
	while (c->state == C_HELLO || c->state == C_READY) {
		if (c->busy || c->starved || c->closing || srv->draining)
			return;
		long r;
		if (c->hdr_got < JALAD_FRAME_HDR) {
			r = jalad_stream_read(&c->s, c->hdr + c->hdr_got, JALAD_FRAME_HDR - c->hdr_got);
		} else {
			if (c->got == c->cap) {
				/* Grow with the data actually received, so a peer that
				 * declares a big frame and sends little holds little. */
				size_t ncap = c->cap ? c->cap * 2 : READ_CHUNK;
				if (ncap > c->need)
					ncap = c->need;
				if (!mem_room(srv, ncap - c->cap)) {
					if (!c->starved)
						jalad_log(JALAD_LOG_WARN, "conn %s: memory budget of %zu bytes reached; pausing it",
							  c->peer, srv->o.mem_budget_bytes);
					c->starved = 1;
					c->starved_at = jalad_now_ns();
					srv->n_starved++;
					return;
				}
				uint8_t *nb = realloc(c->buf, ncap);
				if (!nb) {
					conn_close(srv, c, "out of memory");
					return;
				}
				mem_add(srv, ncap - c->cap);
				c->buf = nb;
				c->cap = ncap;
			}
			r = jalad_stream_read(&c->s, c->buf + c->got, c->cap - c->got);
		}
		if (r == JALAD_IO_WANT_READ) {
			c->tls_want = 0;
			return;
		}
		if (r == JALAD_IO_WANT_WRITE) {
			c->tls_want = JALAD_IO_WANT_WRITE;
			return;
		}
		if (r == JALAD_IO_EOF) {
			if (c->hdr_got)
				jalad_log(JALAD_LOG_WARN, "conn %s: closed in the middle of a frame (%zu of %zu bytes)", c->peer,
					  c->hdr_got + c->got, JALAD_FRAME_HDR + c->need);
			conn_close(srv, c, "peer closed");
			return;
		}
		if (r < 0) {
			jalad_log(JALAD_LOG_WARN, "conn %s: %s", c->peer, jalad_last_error());
			conn_close(srv, c, "read error");
			return;
		}
		uint64_t now = jalad_now_ns();
		STAT_ADD(srv, bytes_in, (uint64_t)r);
		c->last_active = now;
		if (c->hdr_got == 0) {
			c->t_first = now;
			c->first_bytes = 0;
			started_here = 1;
			c->frame_t0 = now;
			c->frame_bytes = 0;
		}
		c->frame_bytes += (uint64_t)r;
		if (started_here)
			c->first_bytes += (uint32_t)r;
		c->t_last = now;
		if (c->hdr_got < JALAD_FRAME_HDR) {
			c->hdr_got += (size_t)r;
			if (c->hdr_got < JALAD_FRAME_HDR)
				continue;
			enum jalad_status st = jalad_frame_hdr_parse(c->hdr, srv->o.max_frame_bytes, &c->h);
			if (st != JALAD_OK) {
				conn_drop(srv, c, st, "bad frame header");
				return;
			}
			c->need = (size_t)c->h.length + JALAD_FRAME_TRAILER;
			c->got = 0;
			continue;
		}
		c->got += (size_t)r;
		if (c->got < c->need)
			continue;
		enum jalad_status st = jalad_frame_check(c->hdr, c->buf, c->h.length, c->buf + c->h.length);
		if (st != JALAD_OK) {
			conn_drop(srv, c, st, "bad frame");
			return;
		}
		started_here = 0;
		c->frame_t0 = 0;
		frame_done(srv, c);
	}
}

static void conn_handshake(struct jalad_server *srv, struct conn *c)
{
	int r = jalad_tls_handshake(c->s.tls);
	if (r == 0) {
		c->state = C_HELLO;
		c->tls_want = 0;
		c->last_active = jalad_now_ns();
		conn_read(srv, c);
	} else if (r == JALAD_IO_WANT_READ || r == JALAD_IO_WANT_WRITE) {
		c->tls_want = r;
	} else {
		jalad_log(JALAD_LOG_WARN, "conn %s: TLS handshake failed: %s", c->peer, jalad_last_error());
		pthread_mutex_lock(&srv->smu);
		srv->st.conns_refused++;
		srv->st.handshakes_refused++;
		pthread_mutex_unlock(&srv->smu);
		conn_close(srv, c, "TLS handshake failed");
	}
}

static void conn_event(struct jalad_server *srv, struct conn *c, uint32_t ev)
{
	if (c->linger_until) {
		linger_read(srv, c);
		return;
	}
	if (c->state == C_TLS) {
		conn_handshake(srv, c);
		conn_update(srv, c);
		return;
	}
	if ((ev & (EPOLLERR | EPOLLHUP)) && !(ev & EPOLLIN)) {
		conn_close(srv, c, "connection error");
		return;
	}
	if (c->tls_want) { /* TLS I/O that waited on the other direction */
		c->tls_want = 0;
		if (conn_flush(srv, c) < 0)
			return;
		conn_read(srv, c);
	} else {
		if ((ev & EPOLLOUT) && conn_flush(srv, c) < 0)
			return;
		if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			if (c->busy || c->closing || srv->draining) {
				if (ev & (EPOLLHUP | EPOLLERR)) {
					conn_close(srv, c, "peer hung up");
					return;
				}
			} else {
				conn_read(srv, c);
			}
		}
	}
	conn_update(srv, c);
}

/* Refuse a new connection: close it at once, count it under field. */
static void refuse_new(struct jalad_server *srv, int fd, uint64_t *field)
{
	close(fd);
	pthread_mutex_lock(&srv->smu);
	srv->st.conns_refused++;
	if (field)
		(*field)++;
	pthread_mutex_unlock(&srv->smu);
}

/* Accept up to ACCEPT_BURST connections. Over the per-source limit a new
 * one is refused; with the table full the oldest connection that has not
 * finished its HELLO makes room (a real edge finishes it within a round
 * trip or two, a flood's idle and dripping ones never do); a table full
 * of connections past HELLO refuses. */
static void accept_all(struct jalad_server *srv)
{
	for (int n = 0; n < ACCEPT_BURST; n++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				flood_log(srv, FL_FULL, "accept: %s", strerror(errno));
			return;
		}
		STAT_ADD(srv, conns_accepted, 1);
		if (srv->draining) {
			refuse_new(srv, fd, NULL);
			jalad_log(JALAD_LOG_INFO, "refusing a connection: draining");
			continue;
		}
		uint8_t key[16];
		char peer[64];
		src_key(&ss, key);
		jalad_net_peer_name(fd, peer, sizeof peer);
		if (srv->o.max_per_source > 0 && src_count(srv, key) >= srv->o.max_per_source) {
			refuse_new(srv, fd, &srv->st.conns_per_source);
			flood_log(srv, FL_SOURCE, "refusing a connection from %s: %d open from that address (--max-per-source)",
				  peer, srv->o.max_per_source);
			continue;
		}
		if (!srv->n_free) {
			if (srv->hs_head < 0) {
				refuse_new(srv, fd, &srv->st.conns_full);
				flood_log(srv, FL_FULL, "refusing a connection from %s: all %d connections are past HELLO "
					  "(--max-conns)", peer, srv->o.max_conns);
				continue;
			}
			struct conn *v = &srv->conns[srv->hs_head];
			flood_log(srv, FL_SHED, "table full: shedding %s (no HELLO after %.1f s) for %s", v->peer,
				  (double)(jalad_now_ns() - v->accepted) / 1e9, peer);
			STAT_ADD(srv, conns_shed, 1);
			conn_close_lvl(srv, v, JALAD_LOG_DEBUG, "shed for a new connection");
		}
		int slot = srv->free_slots[--srv->n_free];
		struct conn *c = &srv->conns[slot];
		uint32_t gen = c->gen;
		memset(c, 0, sizeof *c);
		c->gen = gen;
		c->s.fd = fd;
		c->state = srv->tls ? C_TLS : C_HELLO;
		c->accepted = c->last_active = jalad_now_ns();
		memcpy(c->src, key, sizeof key);
		memcpy(c->peer, peer, sizeof peer);
		jalad_net_set_nodelay(fd);
		if (srv->tls && jalad_tls_conn_create(srv->tls, fd, NULL, &c->s.tls) != JALAD_OK) {
			close(fd);
			c->state = C_FREE;
			srv->free_slots[srv->n_free++] = slot;
			continue;
		}
		struct epoll_event e = { .events = EPOLLIN, .data.u64 = (uint64_t)slot };
		if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			jalad_tls_conn_free(c->s.tls);
			close(fd);
			c->state = C_FREE;
			srv->free_slots[srv->n_free++] = slot;
			continue;
		}
		c->events = EPOLLIN;
		src_inc(srv, key);
		hs_add(srv, c);
		pthread_mutex_lock(&srv->smu);
		srv->st.conns_open++;
		pthread_mutex_unlock(&srv->smu);
		jalad_log(JALAD_LOG_DEBUG, "conn %s: accepted", c->peer);
	}
}

/* Move parked requests into the queue while there is room (oldest slot
 * first is not guaranteed; every parked connection gets its turn as
 * completions free the queue). */
static void push_parked(struct jalad_server *srv)
{
	for (int i = 0; i < srv->o.max_conns; i++) {
		struct conn *c = &srv->conns[i];
		if (c->state == C_FREE || !c->parked)
			continue;
		if (!queue_push(srv, c->parked))
			return;
		c->parked = NULL;
	}
}

static void handle_done(struct jalad_server *srv)
{
	uint64_t v;
	while (read(srv->wake_fd, &v, sizeof v) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&srv->qmu);
	struct job *list = srv->done;
	srv->done = NULL;
	pthread_mutex_unlock(&srv->qmu);
	for (struct job *j = list, *next; j; j = next) {
		next = j->next;
		pthread_mutex_lock(&srv->smu);
		if (j->status == JALAD_OK)
			srv->st.responses_ok++;
		else
			srv->st.responses_err++;
		srv->st.compute_ns += j->work_ns;
		pthread_mutex_unlock(&srv->smu);
		if (j->k >= 0 && j->k < srv->n_nodes)
			jalad_metrics_observe(&srv->hold[j->k], jalad_now_ns() - j->recv_last);
		struct conn *c = &srv->conns[j->slot];
		if (c->state != C_FREE && c->gen == j->gen) {
			if (j->status != JALAD_OK)
				jalad_log(JALAD_LOG_INFO, "conn %s: request %llu failed: %s", c->peer,
					  (unsigned long long)j->id, jalad_status_str(j->status));
			c->busy = 0;
			if (!j->resp || conn_queue(srv, c, j->resp, j->resp_len) < 0) {
				conn_close(srv, c, "out of memory");
			} else if (conn_flush(srv, c) == 0) {
				if (srv->draining && !c->closing) {
					uint8_t bye[JALAD_FRAME_OVERHEAD];
					conn_queue(srv, c, bye, jalad_msg_bye_write(bye));
					c->closing = 1;
					conn_flush(srv, c);
				} else {
					conn_read(srv, c); /* bytes may wait in TLS or the kernel */
				}
				conn_update(srv, c);
			}
		}
		job_free(srv, j);
	}
	push_parked(srv);
	if (srv->n_starved) {
		for (int i = 0; i < srv->o.max_conns && srv->n_starved; i++) {
			struct conn *c = &srv->conns[i];
			if (c->state == C_FREE || !c->starved)
				continue;
			c->starved = 0;
			srv->n_starved--;
			if (c->frame_t0) /* the pause does not count against its rate */
				c->frame_t0 += jalad_now_ns() - c->starved_at;
			conn_read(srv, c);
			conn_update(srv, c);
		}
	}
}

static void timers(struct jalad_server *srv, uint64_t now)
{
	uint64_t idle = (uint64_t)srv->o.idle_timeout_ms * 1000000u;
	if (now - srv->last_scan_ns < 100000000u)
		return; /* scan the connections ten times a second at most */
	srv->last_scan_ns = now;
	uint64_t hello = (uint64_t)srv->o.hello_timeout_ms * 1000000u;
	uint64_t grace = (uint64_t)srv->o.frame_timeout_ms * 1000000u;
	jalad_metrics_srv_timers(srv->metrics, now);
	for (int i = 0; i < srv->o.max_conns; i++) {
		struct conn *c = &srv->conns[i];
		if (c->state != C_FREE && c->linger_until && now >= c->linger_until)
			conn_close(srv, c, "done");
		if (c->state == C_FREE || c->busy || c->linger_until)
			continue;
		if (c->in_hs && now - c->accepted >= hello) {
			STAT_ADD(srv, timeouts_hello, 1);
			flood_log(srv, FL_TIMEOUT, "conn %s: no complete HELLO %u ms after connecting (%s); closing",
				  c->peer, srv->o.hello_timeout_ms,
				  c->state == C_TLS ? "in the TLS handshake"
						    : c->frame_t0 ? "in the middle of it" : "nothing sent");
			conn_close_lvl(srv, c, JALAD_LOG_DEBUG, "HELLO timeout");
			continue;
		}
		/* After the grace, a frame's bytes must have averaged min_rate
		 * since its first one: a byte now and then does not keep a
		 * connection. Paused reads (memory budget) do not count. Before
		 * HELLO the HELLO deadline rules. */
		if (c->frame_t0 && !c->in_hs && !c->starved && now - c->frame_t0 > grace &&
		    (double)c->frame_bytes < (double)srv->o.min_rate_bps * (double)(now - c->frame_t0) / 1e9) {
			STAT_ADD(srv, timeouts_frame, 1);
			flood_log(srv, FL_TIMEOUT, "conn %s: frame too slow: %llu bytes in %.1f s (under %u bytes/s); closing",
				  c->peer, (unsigned long long)c->frame_bytes, (double)(now - c->frame_t0) / 1e9,
				  srv->o.min_rate_bps);
			conn_close_lvl(srv, c, JALAD_LOG_DEBUG, "frame too slow");
			continue;
		}
		if (now - c->last_active < idle)
			continue;
		jalad_log(JALAD_LOG_INFO, "conn %s: idle for %u ms%s", c->peer, srv->o.idle_timeout_ms,
			  c->hdr_got ? " in the middle of a frame" : "");
		STAT_ADD(srv, timeouts_idle, 1);
		conn_close(srv, c, "idle timeout");
	}
	if (srv->o.stats_interval_ms && now - srv->last_stats_ns >= (uint64_t)srv->o.stats_interval_ms * 1000000u) {
		struct jalad_server_stats s;
		jalad_server_stats(srv, &s);
		double secs = (double)(now - srv->last_stats_ns) / 1e9;
		uint64_t done = s.responses_ok + s.responses_err;
		jalad_log(JALAD_LOG_INFO,
			  "stats: conns %d open, %llu accepted, %llu refused, %llu dropped; requests %llu (%.1f/s), "
			  "ok %llu, err %llu; queue %d/%d; mem %.1f MiB; in %.2f MB, out %.2f MB; mean work %.2f ms",
			  s.conns_open, (unsigned long long)s.conns_accepted, (unsigned long long)s.conns_refused,
			  (unsigned long long)s.conns_dropped, (unsigned long long)s.requests,
			  (double)(s.requests - srv->last_stats_requests) / secs, (unsigned long long)s.responses_ok,
			  (unsigned long long)s.responses_err, s.queue_len, srv->o.queue_cap,
			  (double)s.mem_bytes / 1048576.0, (double)s.bytes_in / 1e6, (double)s.bytes_out / 1e6,
			  done ? (double)s.compute_ns / 1e6 / (double)done : 0.0);
		char kinds[160] = "";
		size_t kl = 0;
		for (int k = 0; k < JALAD_NET_PAYLOAD_COUNT && kl < sizeof kinds; k++)
			if (s.requests_by_payload[k])
				kl += (size_t)snprintf(kinds + kl, sizeof kinds - kl, "%s%s %llu", kl ? ", " : "",
						       k ? jalad_net_payload_name((enum jalad_net_payload)k) : "unknown",
						       (unsigned long long)s.requests_by_payload[k]);
		if (kl)
			jalad_log(JALAD_LOG_INFO, "stats: requests by payload: %s", kinds);
		if (s.conns_shed || s.conns_full || s.conns_per_source || s.timeouts_hello || s.timeouts_frame)
			jalad_log(JALAD_LOG_INFO,
				  "stats: limits: %d before HELLO; shed %llu; refused %llu (table full), %llu (per source); "
				  "timed out %llu (HELLO), %llu (frame rate), %llu (idle); handshakes refused %llu",
				  srv->n_hs, (unsigned long long)s.conns_shed, (unsigned long long)s.conns_full,
				  (unsigned long long)s.conns_per_source, (unsigned long long)s.timeouts_hello,
				  (unsigned long long)s.timeouts_frame, (unsigned long long)s.timeouts_idle,
				  (unsigned long long)s.handshakes_refused);
		srv->last_stats_ns = now;
		srv->last_stats_requests = s.requests;
	}
}

/* ================================================================ drain */

static void start_drain(struct jalad_server *srv)
{
	srv->draining = 1;
	jalad_log(JALAD_LOG_INFO, "stopping: no new connections or requests; finishing those in flight");
	if (srv->listen_fd >= 0) {
		epoll_ctl(srv->ep, EPOLL_CTL_DEL, srv->listen_fd, NULL);
		close(srv->listen_fd);
		srv->listen_fd = -1;
	}
	for (int i = 0; i < srv->o.max_conns; i++) {
		struct conn *c = &srv->conns[i];
		if (c->state == C_FREE || c->busy)
			continue;
		if (c->state == C_READY && !c->closing) {
			uint8_t bye[JALAD_FRAME_OVERHEAD];
			conn_queue(srv, c, bye, jalad_msg_bye_write(bye));
			c->closing = 1;
			if (conn_flush(srv, c) == 0)
				conn_update(srv, c);
		} else if (!c->closing) {
			conn_close(srv, c, "server stopping");
		}
	}
}

/* ================================================================ API */

enum jalad_status jalad_server_run(struct jalad_server *srv)
{
	struct epoll_event evs[64];
	uint64_t drain_deadline = 0;
	srv->last_stats_ns = jalad_now_ns();
	for (;;) {
		if (atomic_load(&srv->stop) && !srv->draining) {
			start_drain(srv);
			drain_deadline = jalad_now_ns() + (uint64_t)srv->o.drain_timeout_ms * 1000000u;
		}
		if (srv->draining) {
			int open;
			pthread_mutex_lock(&srv->smu);
			open = srv->st.conns_open;
			pthread_mutex_unlock(&srv->smu);
			if (!open)
				break;
			if (jalad_now_ns() >= drain_deadline) {
				jalad_log(JALAD_LOG_WARN, "stopping: %d connections still busy after %u ms; closing them", open,
					  srv->o.drain_timeout_ms);
				break;
			}
		}
		int n = epoll_wait(srv->ep, evs, 64, srv->draining ? 50 : 250);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return jalad_fail(JALAD_ERR_IO, "epoll_wait: %s", strerror(errno));
		}
		for (int i = 0; i < n; i++) {
			uint64_t d = evs[i].data.u64;
			if (d == EV_LISTEN)
				accept_all(srv);
			else if (d == EV_WAKE)
				handle_done(srv);
			else if (jalad_metrics_srv_owns(srv->metrics, d))
				jalad_metrics_srv_event(srv->metrics, d, evs[i].events);
			else if (d < (uint64_t)srv->o.max_conns && srv->conns[d].state != C_FREE)
				conn_event(srv, &srv->conns[d], evs[i].events);
		}
		timers(srv, jalad_now_ns());
	}
	for (int i = 0; i < srv->o.max_conns; i++)
		conn_close(srv, &srv->conns[i], srv->conns[i].state != C_FREE ? "server stopped" : NULL);
	jalad_log(JALAD_LOG_INFO, "stopped");
	return JALAD_OK;
}

void jalad_server_stop(struct jalad_server *srv)
{
	atomic_store(&srv->stop, 1);
	uint64_t one = 1;
	ssize_t r = write(srv->wake_fd, &one, sizeof one); /* async-signal-safe */
	(void)r;
}

int jalad_server_port(const struct jalad_server *srv)
{
	return srv->port;
}

static enum jalad_status setup_cuts(struct jalad_server *srv, size_t *max_in)
{
	int n = srv->n_nodes;
	*max_in = 0;
	srv->cuts = calloc((size_t)n, sizeof *srv->cuts);
	JALAD_RETURN_IF(!srv->cuts, JALAD_ERR_NOMEM, "server: out of memory");
	for (int k = 0; k < n; k++) {
		struct cut_info *c = &srv->cuts[k];
		int ids[JALAD_CODEC_MAX_TENSORS];
		JALAD_FORWARD(jalad_model_crossing(srv->model, k, ids, JALAD_CODEC_MAX_TENSORS, &c->count));
		if (c->count > JALAD_CODEC_MAX_TENSORS)
			c->count = 0; /* cannot be sent in one container: every request at k fails */
		c->ids = calloc((size_t)c->count + 1, sizeof *c->ids);
		c->offset = calloc((size_t)c->count + 1, sizeof *c->offset);
		JALAD_RETURN_IF(!c->ids || !c->offset, JALAD_ERR_NOMEM, "server: out of memory");
		size_t off = 0;
		for (int i = 0; i < c->count; i++) {
			struct jalad_tensor_desc d;
			JALAD_FORWARD(jalad_model_tensor_desc(srv->model, ids[i], &d));
			c->ids[i] = ids[i];
			c->offset[i] = off;
			uint64_t cnt = 1;
			for (int a = 0; a < d.ndim; a++)
				cnt *= (uint64_t)(d.dims[a] > 0 ? d.dims[a] : 0);
			if (d.dtype != JALAD_DTYPE_FLOAT32)
				cnt = 0; /* the codec carries float32 only; requests at k fail the shape check */
			off += cnt;
		}
		c->elements = off;
		if (off > *max_in)
			*max_in = off;
	}
	return JALAD_OK;
}

/* The smallest max_frame an edge may declare: every frame this server may
 * send it must fit (an answer with this model's outputs, an error answer,
 * a HELLO, a DICT_ACK). */
static enum jalad_status setup_min_frame(struct jalad_server *srv)
{
	struct jalad_tensor outs[JALAD_NET_MAX_OUTPUTS];
	for (int i = 0; i < srv->n_outputs; i++) {
		struct jalad_tensor_desc d;
		JALAD_FORWARD(jalad_model_tensor_desc(srv->model, jalad_model_output(srv->model, i), &d));
		outs[i] = (struct jalad_tensor){ JALAD_DTYPE_FLOAT32, d.ndim, { 0 }, NULL };
		for (int a = 0; a < d.ndim; a++)
			outs[i].dims[a] = d.dims[a] > 0 ? d.dims[a] : 1;
	}
	size_t need = jalad_msg_response_size(srv->n_outputs, outs) - JALAD_FRAME_OVERHEAD;
	size_t err = JALAD_RESPONSE_FIXED + 2 + JALAD_MSG_TEXT_MAX;
	if (need < err)
		need = err;
	if (need < JALAD_HELLO_MAX)
		need = JALAD_HELLO_MAX;
	if (need < JALAD_DICT_ACK_MAX)
		need = JALAD_DICT_ACK_MAX;
	srv->min_frame = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
	return JALAD_OK;
}

/* The metrics page: a snapshot of the counters. Loop thread. */
static enum jalad_status metrics_page(void *user, char **buf, size_t *cap, size_t *len)
{
	struct jalad_server *srv = user;
	struct jalad_server_stats st;
	jalad_server_stats(srv, &st);
	struct jalad_metrics_view v = { .st = &st, .model = srv->model_name, .n_cuts = srv->n_nodes,
					.hold = srv->hold, .max_conns = srv->o.max_conns,
					.queue_cap = srv->o.queue_cap, .handshaking = srv->n_hs };
	return jalad_metrics_render(&v, buf, cap, len);
}

/* Image payloads need the model's preprocessing, and it must make exactly
 * the model's single input (1, C, H, W): the payload is decoded straight
 * into it. */
static enum jalad_status setup_pp(struct jalad_server *srv, const struct jalad_preprocess *pp)
{
	const struct cut_info *c = &srv->cuts[0];
	struct jalad_tensor_desc d;
	enum jalad_status st = jalad_preprocess_check(pp);
	if (st != JALAD_OK) {
		jalad_error_prefix("server: ");
		return st;
	}
	JALAD_RETURN_IF(jalad_model_input_count(srv->model) != 1 || c->count != 1 ||
				c->ids[0] != jalad_model_input(srv->model, 0),
			JALAD_ERR_MISMATCH, "server: image payloads need a model with one input, which cut 0 sends");
	JALAD_FORWARD(jalad_model_tensor_desc(srv->model, c->ids[0], &d));
	JALAD_RETURN_IF(d.dtype != JALAD_DTYPE_FLOAT32 || d.ndim != 4 || d.dims[0] != 1 || d.dims[1] != pp->channels ||
				d.dims[2] != pp->height || d.dims[3] != pp->width ||
				c->elements != jalad_preprocess_len(pp),
			JALAD_ERR_MISMATCH,
			"server: the preprocessing makes a %dx%dx%d (c x h x w) float32 tensor, the model's input '%s' "
			"is %s with %d dims (%lldx%lldx%lld...)", pp->channels, pp->height, pp->width, d.name,
			jalad_dtype_name(d.dtype), d.ndim, (long long)(d.ndim > 1 ? d.dims[1] : 0),
			(long long)(d.ndim > 2 ? d.dims[2] : 0), (long long)(d.ndim > 3 ? d.dims[3] : 0));
	srv->pp = *pp;
	srv->have_pp = 1;
	return JALAD_OK;
}

/* One run per worker before serving: the first run of a session pays for
 * JIT compilation and page faults, which should not land on a client. */
static enum jalad_status warm_up(struct jalad_server *srv, struct worker *wk)
{
	const struct cut_info *c = &srv->cuts[0];
	struct jalad_tensor v[JALAD_CODEC_MAX_TENSORS];
	memset(wk->in, 0, wk->in_cap * sizeof *wk->in);
	for (int i = 0; i < c->count; i++) {
		struct jalad_tensor_desc d;
		JALAD_FORWARD(jalad_model_tensor_desc(srv->model, c->ids[i], &d));
		if (d.dtype != JALAD_DTYPE_FLOAT32)
			return JALAD_OK; /* nothing to warm up with */
		v[i] = (struct jalad_tensor){ JALAD_DTYPE_FLOAT32, d.ndim, { 0 }, wk->in + c->offset[i] };
		memcpy(v[i].dims, d.dims, sizeof v[i].dims);
	}
	return jalad_session_run_range(wk->sess, 0, srv->n_nodes, c->ids, v, c->count);
}

enum jalad_status jalad_server_create(const struct jalad_model *model, const struct jalad_server_opts *opts,
				      struct jalad_server **out)
{
	char host[256];
	int port, loopback = 0;
	enum jalad_status st;
	struct jalad_server *srv;
	size_t max_in;
	*out = NULL;
	JALAD_RETURN_IF(!model || !opts, JALAD_ERR_INVALID_ARG, "server: no model or options");
	srv = calloc(1, sizeof *srv);
	JALAD_RETURN_IF(!srv, JALAD_ERR_NOMEM, "server: out of memory");
	srv->listen_fd = srv->ep = srv->wake_fd = -1;
	pthread_mutex_init(&srv->qmu, NULL);
	pthread_cond_init(&srv->qcv, NULL);
	pthread_mutex_init(&srv->smu, NULL);
	pthread_mutex_init(&srv->dmu, NULL);
	srv->model = model;
	srv->o = *opts;
	struct jalad_server_opts *o = &srv->o;
	snprintf(srv->model_name, sizeof srv->model_name, "%s", o->model_name ? o->model_name : "model");
	if (!o->listen)
		o->listen = "127.0.0.1:7070";
	if (o->workers <= 0) {
		long nc = sysconf(_SC_NPROCESSORS_ONLN);
		o->workers = nc > 0 ? (int)nc : 1;
	}
	if (o->threads_per_worker <= 0)
		o->threads_per_worker = 1;
	if (o->queue_cap <= 0)
		o->queue_cap = 2 * o->workers;
	if (o->max_conns <= 0)
		o->max_conns = 1024;
	if (!o->max_frame_bytes)
		o->max_frame_bytes = JALAD_NET_DEFAULT_MAX_FRAME;
	if (!o->mem_budget_bytes)
		o->mem_budget_bytes = (size_t)512 << 20;
	if (!o->idle_timeout_ms)
		o->idle_timeout_ms = 60000;
	if (!o->drain_timeout_ms)
		o->drain_timeout_ms = 10000;
	if (!o->hello_timeout_ms)
		o->hello_timeout_ms = 10000;
	if (!o->frame_timeout_ms)
		o->frame_timeout_ms = 10000;
	if (!o->min_rate_bps)
		o->min_rate_bps = 1024;
	if (!o->max_per_source)
		o->max_per_source = 128;
	srv->hs_head = srv->hs_tail = -1;
	if (o->n_dicts < 0 || (o->n_dicts && !o->dicts)) {
		st = jalad_fail(JALAD_ERR_INVALID_ARG, "server: bad dictionary list");
		goto fail;
	}
	if (!o->dict_cache_bytes)
		o->dict_cache_bytes = JALAD_NET_DEFAULT_DICT_CACHE;
	srv->dict_digest = jalad_net_dict_digest(o->dicts, o->n_dicts);
	for (int i = 0; i < o->n_dicts; i++) {
		if (!o->dicts[i] || dict_find(srv, jalad_codec_dict_id(o->dicts[i])) >= 0)
			continue; /* a calibration has no dict for some cells */
		struct dict_entry *e = calloc(1, sizeof *e);
		if (!e || (e->id = jalad_codec_dict_id(o->dicts[i]), e->d = o->dicts[i], dict_insert(srv, e, 0) < 0)) {
			free(e);
			st = jalad_fail(JALAD_ERR_NOMEM, "server: out of memory");
			goto fail;
		}
	}
	o->n_dicts = 0;
	o->dicts = NULL;
	jalad_model_sha256(model, srv->sha256);
	srv->n_nodes = jalad_model_node_count(model);
	srv->n_outputs = jalad_model_output_count(model);
	if (srv->n_outputs > JALAD_NET_MAX_OUTPUTS || srv->n_nodes < 1) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED, "server: the model has %d outputs (max %d) and %d nodes",
				srv->n_outputs, JALAD_NET_MAX_OUTPUTS, srv->n_nodes);
		goto fail;
	}
	if ((st = setup_cuts(srv, &max_in)) != JALAD_OK || (st = setup_min_frame(srv)) != JALAD_OK)
		goto fail;
	if (!o->max_image_pixels)
		o->max_image_pixels = JALAD_NET_DEFAULT_MAX_IMAGE_PIXELS;
	if (o->pp) {
		if ((st = setup_pp(srv, o->pp)) != JALAD_OK)
			goto fail;
		o->pp = NULL; /* borrowed: only the copy is used */
	}
	if ((st = jalad_net_parse_addr(o->listen, host, sizeof host, &port)) != JALAD_OK)
		goto fail;
	if (o->tls && (st = jalad_tls_create(o->tls, 1, &srv->tls)) != JALAD_OK)
		goto fail;
	/* A deep backlog: a flood of connects must not make a real edge's SYN
	 * wait for a retransmission while the loop sheds the flood. */
	if ((st = jalad_net_listen(host, port, 1024, &srv->listen_fd, &srv->port, &loopback)) != JALAD_OK)
		goto fail;
	if (!loopback && !srv->tls && !o->allow_remote) {
		st = jalad_fail(JALAD_ERR_UNSUPPORTED,
				"server: refusing to listen on non-loopback %s without TLS (give TLS credentials, "
				"or allow it explicitly)", o->listen);
		goto fail;
	}
	if (!srv->tls)
		jalad_log(JALAD_LOG_WARN, "listening on %s:%d without TLS%s", host, srv->port,
			  loopback ? " (loopback only)" : ": traffic is neither encrypted nor authenticated");
	srv->ep = epoll_create1(EPOLL_CLOEXEC);
	srv->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (srv->ep < 0 || srv->wake_fd < 0) {
		st = jalad_fail(JALAD_ERR_IO, "server: epoll/eventfd: %s", strerror(errno));
		goto fail;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = EV_LISTEN };
	struct epoll_event w = { .events = EPOLLIN, .data.u64 = EV_WAKE };
	if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->listen_fd, &e) < 0 ||
	    epoll_ctl(srv->ep, EPOLL_CTL_ADD, srv->wake_fd, &w) < 0) {
		st = jalad_fail(JALAD_ERR_IO, "server: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	srv->conns = calloc((size_t)o->max_conns, sizeof *srv->conns);
	srv->free_slots = calloc((size_t)o->max_conns, sizeof *srv->free_slots);
	srv->ring = calloc((size_t)o->queue_cap, sizeof *srv->ring);
	srv->workers = calloc((size_t)o->workers, sizeof *srv->workers);
	size_t src_n = 16;
	while (src_n < 2 * (size_t)o->max_conns)
		src_n *= 2;
	srv->src_tab = calloc(src_n, sizeof *srv->src_tab);
	srv->src_mask = src_n - 1;
	srv->hold = calloc((size_t)srv->n_nodes, sizeof *srv->hold);
	if (!srv->conns || !srv->free_slots || !srv->ring || !srv->workers || !srv->src_tab || !srv->hold) {
		st = jalad_fail(JALAD_ERR_NOMEM, "server: out of memory");
		goto fail;
	}
	if (o->metrics) {
		if ((st = jalad_metrics_srv_create(o->metrics, o->allow_remote, srv->ep, EV_METRICS, metrics_page, srv,
						   &srv->metrics)) != JALAD_OK)
			goto fail;
		srv->st.metrics_port = jalad_metrics_srv_port(srv->metrics);
		o->metrics = NULL; /* borrowed */
	}
	o->model_name = NULL; /* borrowed; metrics_page() uses the copy */
	for (int i = o->max_conns - 1; i >= 0; i--)
		srv->free_slots[srv->n_free++] = i;
	struct jalad_session_opts so = { .threads = o->threads_per_worker, .backend = o->backend };
	for (int i = 0; i < o->workers; i++) {
		struct worker *wk = &srv->workers[i];
		wk->srv = srv;
		wk->in_cap = max_in ? max_in : 1;
		wk->in = malloc(wk->in_cap * sizeof *wk->in);
		if (!wk->in) {
			st = jalad_fail(JALAD_ERR_NOMEM, "server: out of memory");
			goto fail;
		}
		if ((st = jalad_session_create(model, &so, &wk->sess)) != JALAD_OK ||
		    (st = jalad_codec_ctx_create(&wk->ctx)) != JALAD_OK || (st = warm_up(srv, wk)) != JALAD_OK)
			goto fail;
		if (pthread_create(&wk->tid, NULL, worker_main, wk) != 0) {
			st = jalad_fail(JALAD_ERR_NOMEM, "server: cannot start worker %d", i);
			goto fail;
		}
		wk->started = 1;
	}
	*out = srv;
	return JALAD_OK;
fail:
	jalad_server_free(srv);
	return st;
}

void jalad_server_free(struct jalad_server *srv)
{
	if (!srv)
		return;
	pthread_mutex_lock(&srv->qmu);
	srv->qquit = 1;
	/* Requests nobody will answer: drop them before the workers see them. */
	while (srv->qlen) {
		struct job *j = srv->ring[srv->qhead];
		srv->qhead = (srv->qhead + 1) % srv->o.queue_cap;
		srv->qlen--;
		j->next = srv->done;
		srv->done = j;
	}
	pthread_cond_broadcast(&srv->qcv);
	pthread_mutex_unlock(&srv->qmu);
	for (int i = 0; srv->workers && i < srv->o.workers; i++) {
		struct worker *wk = &srv->workers[i];
		if (wk->started)
			pthread_join(wk->tid, NULL);
		jalad_session_free(wk->sess);
		jalad_codec_ctx_free(wk->ctx);
		free(wk->in);
	}
	for (int i = 0; srv->conns && i < srv->o.max_conns; i++)
		conn_close(srv, &srv->conns[i], NULL);
	for (struct job *j = srv->done, *next; j; j = next) {
		next = j->next;
		job_free(srv, j);
	}
	jalad_metrics_srv_free(srv->metrics);
	free(srv->src_tab);
	free(srv->hold);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->ep >= 0)
		close(srv->ep);
	if (srv->wake_fd >= 0)
		close(srv->wake_fd);
	jalad_tls_free(srv->tls);
	for (int k = 0; srv->cuts && k < srv->n_nodes; k++) {
		free(srv->cuts[k].ids);
		free(srv->cuts[k].offset);
	}
	free(srv->cuts);
	for (int i = 0; i < srv->n_dcache; i++)
		dict_entry_free(srv->dcache[i]);
	free(srv->dcache);
	free(srv->conns);
	free(srv->free_slots);
	free(srv->ring);
	free(srv->workers);
	pthread_mutex_destroy(&srv->qmu);
	pthread_cond_destroy(&srv->qcv);
	pthread_mutex_destroy(&srv->smu);
	pthread_mutex_destroy(&srv->dmu);
	free(srv);
}
