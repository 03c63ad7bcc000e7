/* TCP sockets the way redis' anet.c does them: close-on-exec, non-blocking,
 * EINTR retried, TCP_NODELAY; plus address parsing and the kernel's RTT. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_min_rtt, TCP_NODELAY */
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_impl.h"

enum jalad_status jalad_net_parse_addr(const char *s, char *host, size_t host_cap, int *port)
{
	JALAD_RETURN_IF(!s || !*s, JALAD_ERR_INVALID_ARG, "address: empty");
	const char *colon, *h = s;
	size_t hlen;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		JALAD_RETURN_IF(!close || close[1] != ':', JALAD_ERR_INVALID_ARG,
				"address '%s': expected [IPV6]:PORT", s);
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		JALAD_RETURN_IF(!colon, JALAD_ERR_INVALID_ARG, "address '%s': expected HOST:PORT", s);
		hlen = (size_t)(colon - s);
	}
	JALAD_RETURN_IF(hlen == 0 || hlen >= host_cap, JALAD_ERR_INVALID_ARG, "address '%s': bad host", s);
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	JALAD_RETURN_IF(errno || end == colon + 1 || *end || p < 0 || p > 65535, JALAD_ERR_INVALID_ARG,
			"address '%s': bad port", s);
	memcpy(host, h, hlen);
	host[hlen] = 0;
	*port = (int)p;
	return JALAD_OK;
}

int jalad_net_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

enum jalad_status jalad_net_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	JALAD_RETURN_IF(fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0, JALAD_ERR_IO,
			"fcntl(O_NONBLOCK): %s", strerror(errno));
	return JALAD_OK;
}

void jalad_net_set_nodelay(int fd)
{
	int one = 1;
	/* Fails harmlessly on non-TCP sockets (socketpair tests). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static enum jalad_status resolve(const char *host, int port, int passive, struct addrinfo **res)
{
	struct addrinfo hints;
	char ps[16];
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	snprintf(ps, sizeof ps, "%d", port);
	int rc = getaddrinfo(host, ps, &hints, res);
	JALAD_RETURN_IF(rc != 0, JALAD_ERR_IO, "cannot resolve '%s': %s", host, gai_strerror(rc));
	return JALAD_OK;
}

enum jalad_status jalad_net_listen(const char *host, int port, int backlog, int *fd_out, int *bound_port,
				   int *loopback)
{
	struct addrinfo *res = NULL;
	int fd = -1, one = 1;
	enum jalad_status st = resolve(host, port, 1, &res);
	if (st != JALAD_OK)
		return st;
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, res->ai_protocol);
	if (fd < 0) {
		st = jalad_fail(JALAD_ERR_IO, "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
		st = jalad_fail(JALAD_ERR_IO, "bind %s:%d: %s", host, port, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		st = jalad_fail(JALAD_ERR_IO, "listen %s:%d: %s", host, port, strerror(errno));
		goto fail;
	}
	*loopback = jalad_net_is_loopback(res->ai_addr);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	*bound_port = port;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		*bound_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							      : ((struct sockaddr_in *)&ss)->sin_port);
	freeaddrinfo(res);
	*fd_out = fd;
	return JALAD_OK;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return st;
}

/* Wait for fd to become ready for events until the monotonic deadline
 * (0 = forever). @return 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline_ns)
{
	for (;;) {
		int ms = -1;
		if (deadline_ns) {
			uint64_t now = jalad_now_ns();
			if (now >= deadline_ns)
				return 0;
			ms = (int)((deadline_ns - now + 999999) / 1000000);
		}
		struct pollfd p = { fd, events, 0 };
		int rc = poll(&p, 1, ms);
		if (rc > 0)
			return 1;
		if (rc == 0)
			continue; /* re-check the deadline */
		if (errno != EINTR)
			return -1;
	}
}

enum jalad_status jalad_net_connect(const char *host, int port, uint32_t timeout_ms, int *fd_out,
				    uint64_t *connect_ns)
{
	struct addrinfo *res = NULL;
	enum jalad_status st = resolve(host, port, 0, &res);
	if (st != JALAD_OK)
		return st;
	uint64_t t0 = jalad_now_ns(), deadline = timeout_ms ? t0 + (uint64_t)timeout_ms * 1000000u : 0;
	st = jalad_fail(JALAD_ERR_IO, "connect %s:%d: no address", host, port);
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			st = jalad_fail(JALAD_ERR_IO, "socket: %s", strerror(errno));
			continue;
		}
		int rc = connect(fd, a->ai_addr, a->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS) {
			int w = wait_fd(fd, POLLOUT, deadline);
			int err = 0;
			socklen_t el = sizeof err;
			if (w == 0) {
				close(fd);
				st = jalad_fail(JALAD_ERR_TIMEOUT, "connect %s:%d: no answer within %u ms", host, port,
						timeout_ms);
				continue;
			}
			if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
			rc = err ? -1 : 0;
			errno = err;
		}
		if (rc < 0) {
			st = jalad_fail(errno == ECONNREFUSED ? JALAD_ERR_CLOSED : JALAD_ERR_IO, "connect %s:%d: %s",
					host, port, strerror(errno));
			close(fd);
			continue;
		}
		jalad_net_set_nodelay(fd);
		if (connect_ns)
			*connect_ns = jalad_now_ns() - t0;
		*fd_out = fd;
		st = JALAD_OK;
		break;
	}
	freeaddrinfo(res);
	return st;
}

uint32_t jalad_net_min_rtt_us(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	memset(&ti, 0, sizeof ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return 0;
	if (len >= offsetof(struct tcp_info, tcpi_min_rtt) + sizeof ti.tcpi_min_rtt && ti.tcpi_min_rtt &&
	    ti.tcpi_min_rtt != ~0u)
		return ti.tcpi_min_rtt;
	return ti.tcpi_rtt;
}

void jalad_net_peer_name(int fd, char *buf, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char h[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, h, sizeof h);
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, h, sizeof h);
			port = ntohs(in6->sin6_port);
		} else {
			snprintf(h, sizeof h, "local");
		}
	}
	snprintf(buf, cap, "%s:%d", h, port);
}
