/* Uplink bandwidth and RTT from the edge's own requests (no probes).
 *
 * RTT: the kernel's min RTT of the connection (tcp_info), else the TCP
 * connect time, else the smallest network time seen.
 * Bandwidth of one request of S bytes that spent T on the network:
 *   S / (T - RTT)   when the transfer part T - RTT is a clear share of T:
 *                   the same form the planner's latency model uses, so the
 *                   estimate is whatever makes that model fit;
 *   else the rate at which the server saw the bytes arrive, when they came
 *                   over at least a millisecond;
 *   else only a lower bound S / max(T - RTT, 0.25 ms).
 * The estimate is the largest of the last few samples (as BBR filters its
 * delivery rate): anything that disturbs a request - a busy CPU, a late
 * wake-up, a queue - only makes it look slower, never faster, so one odd
 * request cannot lower the estimate; a faster link shows at once, and a
 * slower one after `window` requests. */
#include <stdlib.h>
#include <string.h>

#include "net_impl.h"

#define EST_MAX_WINDOW 15

struct jalad_estimator {
	int window;
	double bw[EST_MAX_WINDOW]; /* ring of samples, bits/s */
	int n, head;
	double rtt_ms;             /* < 0 = unknown */
	double min_net_ms;
};

enum jalad_status jalad_estimator_create(int window, struct jalad_estimator **out)
{
	*out = NULL;
	JALAD_RETURN_IF(window < 0 || window > EST_MAX_WINDOW, JALAD_ERR_INVALID_ARG,
			"estimator: window %d (1..%d)", window, EST_MAX_WINDOW);
	struct jalad_estimator *e = calloc(1, sizeof *e);
	JALAD_RETURN_IF(!e, JALAD_ERR_NOMEM, "estimator: out of memory");
	e->window = window ? window : 3;
	jalad_estimator_reset(e);
	*out = e;
	return JALAD_OK;
}

void jalad_estimator_free(struct jalad_estimator *e)
{
	free(e);
}

void jalad_estimator_reset(struct jalad_estimator *e)
{
	e->n = e->head = 0;
	e->rtt_ms = -1;
	e->min_net_ms = -1;
}

static double window_max(const struct jalad_estimator *e)
{
	double m = 0;
	for (int i = 0; i < e->n; i++) /* ring order does not matter */
		if (e->bw[i] > m)
			m = e->bw[i];
	return m;
}

static void push(struct jalad_estimator *e, double bw)
{
	if (e->n < e->window) {
		e->bw[(e->head + e->n) % e->window] = bw;
		e->n++;
	} else {
		e->bw[e->head] = bw;
		e->head = (e->head + 1) % e->window;
	}
}

void jalad_estimator_add(struct jalad_estimator *e, const struct jalad_net_sample *s)
{
	double net_ms = (double)s->net_ns / 1e6;
	if (e->min_net_ms < 0 || net_ms < e->min_net_ms)
		e->min_net_ms = net_ms;
	if (s->min_rtt_us)
		e->rtt_ms = s->min_rtt_us / 1000.0;
	else if (s->connect_ns && (e->rtt_ms < 0 || s->connect_ns / 1e6 < e->rtt_ms))
		e->rtt_ms = (double)s->connect_ns / 1e6;
	else if (e->rtt_ms < 0)
		e->rtt_ms = e->min_net_ms;
	double bits = 8.0 * (double)s->bytes;
	double xfer_ms = net_ms - e->rtt_ms;
	if (xfer_ms > 0.25 && xfer_ms > 0.1 * net_ms) {
		push(e, bits / (xfer_ms / 1e3));
		return;
	}
	if (s->srv_span_ns >= 1000000u && s->bytes > (size_t)s->srv_first_bytes + 4000) {
		push(e, 8.0 * (double)(s->bytes - s->srv_first_bytes) / ((double)s->srv_span_ns / 1e9));
		return;
	}
	push(e, bits / ((xfer_ms > 0.25 ? xfer_ms : 0.25) / 1e3));
}

int jalad_estimator_get(const struct jalad_estimator *e, double *bw_bps, double *rtt_ms)
{
	if (e->rtt_ms >= 0)
		*rtt_ms = e->rtt_ms;
	if (!e->n)
		return 0;
	*bw_bps = window_max(e);
	return 1;
}
