/* Private parts of the edge shared by the one-request-at-a-time path
 * (net_edge.c) and the pipelined stream (net_stream.c). */
#ifndef JALAD_NET_EDGE_IMPL_H
#define JALAD_NET_EDGE_IMPL_H

#include <pthread.h>

#include "net_impl.h"

struct plan_cut {
	int count;
	int ids[JALAD_CODEC_MAX_TENSORS];
	size_t offset[JALAD_CODEC_MAX_TENSORS]; /* floats into xbuf */
	struct jalad_tensor_desc desc[JALAD_CODEC_MAX_TENSORS];
	int relu[JALAD_CODEC_MAX_TENSORS];      /* jalad_model_tensor_relu_only */
	const struct jalad_codec_dict *dict;
};

struct jalad_edge {
	const struct jalad_model *m;
	struct jalad_edge_opts o;
	int n_nodes, n_outputs;
	struct jalad_edge_plan *plans;
	struct plan_cut *cuts;   /* one per plan */
	int n_plans;
	int cur;                 /* the plan chosen for steady use */
	int next;                /* the plan of the next request (cur, or an exploration) */
	int next_explore;
	int prev_used;           /* the last non-exploration plan used, -1 before the first */
	int edge_only_run;
	struct jalad_session *s;
	struct jalad_codec_ctx *ctx;
	struct jalad_client *cl;
	struct jalad_estimator *est;
	double bw, rtt;          /* current estimates (priors until measured) */
	double oracle_bw;        /* > 0: jalad_edge_set_link()'s bandwidth, used instead */
	double oracle_rtt;       /* >= 0: its RTT, used instead */
	int have_bw;
	/* Per plan, measured / predicted compute as decayed sums: profiles are
	 * medians of a hot loop, a real edge runs cold, shares its CPU, or is
	 * not the device profiled. Per plan, because the overheads differ: a
	 * 5-microsecond encode may take four times its profile where a whole
	 * model run takes twice. */
	struct plan_learn {
		double edge_meas, edge_pred, cloud_meas, cloud_pred;
		int disabled;    /* its dictionary was refused by the server */
	} *learn;
	const struct jalad_codec_dict **dicts; /* the plans' dictionaries, for the client */
	int n_dicts;
	float *xbuf;             /* copies of the crossing tensors */
	size_t xcap;
	uint8_t *cbuf;           /* the container or image payload */
	size_t ccap;
	float *lout;             /* local copies of outputs (verify) */
	size_t lcap;
	uint64_t next_id;
};

double edge_ms_since(uint64_t t0);
/* Start a request: the plan of the next one (e->next), res reset and filled
 * with it. take_explore: an exploration goes to this request only (streams,
 * where several start before the next re-plan). @return the plan index. */
int edge_take_plan(struct jalad_edge *e, struct jalad_edge_result *res, int take_explore);
/* Make edge work since t0 take o.slowdown times as long (sleeps). */
void edge_slow_down(const struct jalad_edge *e, uint64_t t0);
/* Learn from a finished request on plan i, re-plan, fill the estimates in res. */
void edge_finish_request(struct jalad_edge *e, int i, struct jalad_edge_result *res);
int edge_have_source(enum jalad_net_payload kind, const struct jalad_edge_image *src);
enum jalad_status edge_payload_kind(const struct jalad_edge *e, int i, const struct jalad_edge_image *src,
				    enum jalad_net_payload *out);
const struct jalad_codec_dict *edge_plan_dict(const struct jalad_edge *e, int i);
void edge_disable_dict(struct jalad_edge *e, const struct jalad_codec_dict *dict, int status);
enum jalad_status edge_local_outputs(struct jalad_edge *e, struct jalad_session *sess, struct jalad_edge_result *res);
/* The cloud's answer against the model's outputs: count, shapes, finite values. */
enum jalad_status edge_check_answer(const struct jalad_edge *e, const struct jalad_client_result *cr);
void edge_cut_views(const struct jalad_edge *e, int i, float *base, struct jalad_tensor *v);
/* The codec container of plan i's crossing tensors v into *buf (grown). */
enum jalad_status edge_encode(struct jalad_edge *e, struct jalad_codec_ctx *ctx, int i, const struct jalad_tensor *v,
			      uint8_t **buf, size_t *bcap, size_t *len, enum jalad_coder *coder,
			      const struct jalad_codec_dict **dict);

#endif /* JALAD_NET_EDGE_IMPL_H */
