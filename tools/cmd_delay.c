/* jalad delay --queue N --delay DUR [--rate R]: hold every packet of an
 * NFQUEUE for a fixed time, then accept it. netem is not available on every
 * kernel; this adds a propagation delay with iptables + libnetfilter-queue
 * instead:
 *
 *     iptables -t mangle -A PREROUTING -i VETH -j NFQUEUE --queue-num 3 --queue-bypass
 *     jalad delay --queue 3 --delay 10ms &
 *
 * Put it on the receiving side of each direction (PREROUTING of the peer
 * namespace): holding packets on the sender's OUTPUT hook collapses TCP
 * throughput. With --queue-bypass the kernel accepts packets while no
 * program is attached, so stopping this never cuts the link. Needs root
 * (CAP_NET_ADMIN).
 *
 * --rate R also serializes packets as a link of rate R does: a packet
 * leaves at max(its arrival, the previous departure) + its size / R, then
 * the delay starts. tbf alone cannot do that: a packet smaller than its
 * burst passes at once after an idle moment, so a 500-byte message would
 * see no transmission time at 0.5 Mbit/s. SIGHUP re-reads --rate-file
 * (trace replay). Departures only grow, so packets leave in arrival order. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "tools.h"
#include "jalad/plan.h"

static const char *delay_help =
	"usage: jalad delay --queue N --delay DUR [--rate R | --rate-file F] [--max-held N] [--quiet]\n"
	"Holds every packet of netfilter queue N for DUR (e.g. 10ms), then accepts it: a fixed\n"
	"one-way delay without netem. Use it on the receiving side of each direction:\n"
	"  iptables -t mangle -A PREROUTING -i VETH -j NFQUEUE --queue-num N --queue-bypass\n"
	"--rate R (e.g. 2mbit) first serializes packets at R, as a link of that rate: each leaves\n"
	"at max(arrival, previous departure) + (IP length + 14) x 8 / R. --rate-file F reads R\n"
	"from F, again on every SIGHUP.\n"
	"At most --max-held packets (default 65536) wait; beyond that they pass at once.\n"
	"Stops on SIGTERM/SIGINT, releasing what it holds. Needs root.\n";

struct held {
	uint32_t id;
	uint64_t due_ns;
};

struct delay_state {
	struct nfq_q_handle *qh;
	struct held *ring;
	size_t cap, head, len;
	uint64_t delay_ns;
	double rate_bps;        /* 0 = no serialization */
	uint64_t last_dep_ns;   /* departure of the previous packet */
	uint64_t packets, passed_full, max_len;
};

static volatile sig_atomic_t g_stop, g_reload;

static void on_stop(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	g_reload = 1;
}

static int read_rate_file(const char *path, double *bps)
{
	char line[64];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char *ok = fgets(line, sizeof line, f);
	fclose(f);
	if (!ok)
		return -1;
	line[strcspn(line, " \t\r\n")] = 0;
	return jalad_parse_bandwidth(line, bps) == JALAD_OK ? 0 : -1;
}

/* Bytes the packet occupies on an Ethernet link, from its IP header. */
static uint32_t wire_bytes(struct nfq_data *nfa)
{
	unsigned char *p;
	int n = nfq_get_payload(nfa, &p);
	if (n >= 20 && (p[0] >> 4) == 4)
		return ((uint32_t)p[2] << 8 | p[3]) + 14;
	if (n >= 40 && (p[0] >> 4) == 6)
		return ((uint32_t)p[4] << 8 | p[5]) + 40 + 14;
	return n > 0 ? (uint32_t)n + 14 : 1514;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
	struct delay_state *d = data;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	(void)msg;
	if (!ph)
		return 0;
	uint32_t id = ntohl(ph->packet_id);
	d->packets++;
	if (d->len == d->cap) { /* full: let it through rather than drop it */
		d->passed_full++;
		return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	}
	uint64_t now = jalad_now_ns_tool(), dep = now;
	if (d->rate_bps > 0) {
		dep = d->last_dep_ns > now ? d->last_dep_ns : now;
		dep += (uint64_t)(wire_bytes(nfa) * 8.0 / d->rate_bps * 1e9);
		d->last_dep_ns = dep;
	}
	d->ring[(d->head + d->len) % d->cap] = (struct held){ id, dep + d->delay_ns };
	d->len++;
	if (d->len > d->max_len)
		d->max_len = d->len;
	return 0;
}

static void release(struct delay_state *d, uint64_t now, int all)
{
	while (d->len && (all || d->ring[d->head].due_ns <= now)) {
		nfq_set_verdict(d->qh, d->ring[d->head].id, NF_ACCEPT, 0, NULL);
		d->head = (d->head + 1) % d->cap;
		d->len--;
	}
}

int cmd_delay(int argc, char **argv)
{
	long queue = -1, max_held = 65536;
	double delay_ms = -1, rate = 0;
	const char *rate_file = NULL;
	int quiet = 0;
	const struct tool_sopt sopts[] = {
		{ "--rate-file", &rate_file, "a file" },
	};
	const struct tool_iopt iopts[] = {
		{ "--queue", 0, 65535, &queue, "a number 0..65535" },
	};
	for (int i = 1; i < argc; i++) {
		const char *v;
		int r;
		int taken = tool_opts("delay", argc, argv, &i, sopts, TOOL_NELEM(sopts), iopts, TOOL_NELEM(iopts));
		if (taken < 0)
			return EXIT_USAGE;
		if (taken > 0)
			continue;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(delay_help, stdout);
			return EXIT_OK;
		} else if (!strcmp(argv[i], "--quiet")) {
			quiet = 1;
		} else if ((r = tool_opt(argc, argv, &i, "--delay", &v))) {
			if (r < 0 || jalad_parse_duration(v, &delay_ms) != JALAD_OK || delay_ms > 60000)
				return tool_usage("delay", "--delay needs a duration up to 60s (e.g. 10ms)");
		} else if ((r = tool_opt(argc, argv, &i, "--rate", &v))) {
			if (r < 0 || jalad_parse_bandwidth(v, &rate) != JALAD_OK)
				return tool_usage("delay", "--rate needs a rate such as 2mbit");
		} else if ((r = tool_opt(argc, argv, &i, "--max-held", &v))) {
			if (r < 0 || tool_parse_int(v, 1, 1 << 24, &max_held))
				return tool_usage("delay", "--max-held needs a number >= 1");
		} else {
			return tool_usage("delay", "unknown argument '%s'", argv[i]);
		}
	}
	if (queue < 0 || delay_ms < 0)
		return tool_usage("delay", "--queue and --delay are required");
	if (rate > 0 && rate_file)
		return tool_usage("delay", "give --rate or --rate-file, not both");

	struct delay_state d = { .cap = (size_t)max_held, .delay_ns = (uint64_t)(delay_ms * 1e6), .rate_bps = rate };
	if (rate_file && read_rate_file(rate_file, &d.rate_bps))
		return tool_usage("delay", "--rate-file '%s' does not hold a rate such as 2mbit", rate_file);
	struct nfq_handle *h = NULL;
	int rc = EXIT_FAIL;
	char buf[65536] __attribute__((aligned));
	d.ring = malloc(d.cap * sizeof *d.ring);
	if (!d.ring)
		return tool_error("delay", JALAD_ERR_NOMEM);
	h = nfq_open();
	if (!h) {
		fprintf(stderr, "jalad delay: cannot open netfilter queue: %s (root needed)\n", strerror(errno));
		goto done;
	}
	if (nfq_bind_pf(h, AF_INET) < 0) {
		fprintf(stderr, "jalad delay: nfq_bind_pf: %s\n", strerror(errno));
		goto done;
	}
	d.qh = nfq_create_queue(h, (uint16_t)queue, on_packet, &d);
	if (!d.qh) {
		fprintf(stderr, "jalad delay: cannot bind queue %ld: %s (is another program on it?)\n", queue,
			strerror(errno));
		goto done;
	}
	/* Only the ids and IP headers are needed, not the payloads. */
	if (nfq_set_mode(d.qh, NFQNL_COPY_PACKET, 64) < 0) {
		fprintf(stderr, "jalad delay: nfq_set_mode: %s\n", strerror(errno));
		goto done;
	}
	nfq_set_queue_maxlen(d.qh, (uint32_t)(max_held + 1024));
	nfq_set_queue_flags(d.qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);
	int fd = nfq_fd(h), rcvbuf = 8 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf); /* bursts at high rates */
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	signal(SIGHUP, on_hup);
	if (!quiet)
		fprintf(stderr, "jalad delay: queue %ld, delay %.3f ms, rate %.0f bit/s\n", queue, delay_ms, d.rate_bps);
	while (!g_stop) {
		if (g_reload) {
			g_reload = 0;
			double nr;
			if (rate_file && read_rate_file(rate_file, &nr) == 0)
				d.rate_bps = nr;
		}
		uint64_t now = jalad_now_ns_tool();
		release(&d, now, 0);
		struct timespec ts = { 1, 0 }, *tp = &ts; /* wake up now and then to see g_stop */
		if (d.len) {
			uint64_t wait = d.ring[d.head].due_ns > now ? d.ring[d.head].due_ns - now : 0;
			if (wait < 1000000000u)
				ts = (struct timespec){ 0, (long)wait };
		}
		struct pollfd p = { fd, POLLIN, 0 };
		int n = ppoll(&p, 1, tp, NULL);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "jalad delay: poll: %s\n", strerror(errno));
			goto done;
		}
		if (n > 0) {
			/* Drain what is there without blocking. */
			for (int k = 0; k < 256; k++) {
				ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
				if (r > 0) {
					nfq_handle_packet(h, buf, (int)r);
					continue;
				}
				if (r < 0 && errno == ENOBUFS) {
					if (!quiet)
						fprintf(stderr, "jalad delay: the kernel dropped queue messages (ENOBUFS)\n");
					continue;
				}
				break;
			}
		}
	}
	rc = EXIT_OK;
done:
	if (d.qh) {
		release(&d, 0, 1);
		nfq_destroy_queue(d.qh);
	}
	if (h)
		nfq_close(h);
	if (!quiet && rc == EXIT_OK)
		fprintf(stderr, "jalad delay: %llu packets, at most %llu held at once, %llu passed undelayed (full)\n",
			(unsigned long long)d.packets, (unsigned long long)d.max_len, (unsigned long long)d.passed_full);
	free(d.ring);
	return rc;
}
