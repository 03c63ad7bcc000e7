/* Status names, the per-thread last error, and the log sink. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common_impl.h"

const char *jalad_status_str(enum jalad_status st)
{
	switch (st) {
	case JALAD_OK: return "ok";
	case JALAD_ERR_INVALID_ARG: return "invalid argument";
	case JALAD_ERR_NOMEM: return "out of memory";
	case JALAD_ERR_IO: return "I/O error";
	case JALAD_ERR_FORMAT: return "format error";
	case JALAD_ERR_TRUNCATED: return "truncated input";
	case JALAD_ERR_UNSUPPORTED: return "unsupported";
	case JALAD_ERR_SHAPE: return "shape error";
	case JALAD_ERR_CHECKSUM: return "checksum mismatch";
	case JALAD_ERR_LIMIT: return "limit exceeded";
	case JALAD_ERR_NOT_FOUND: return "not found";
	case JALAD_ERR_MISMATCH: return "mismatch";
	case JALAD_ERR_TIMEOUT: return "timeout";
	case JALAD_ERR_CLOSED: return "connection closed";
	case JALAD_ERR_PROTOCOL: return "protocol error";
	case JALAD_ERR_INTERNAL: return "internal error";
	}
	return "unknown status";
}

static _Thread_local char last_error[512];

const char *jalad_last_error(void)
{
	return last_error;
}

/* The sink is set once at start-up, before threads start (see status.h). */
static jalad_log_fn log_cb;
static void *log_user;
static enum jalad_log_level log_min = JALAD_LOG_WARN;

void jalad_log_set(jalad_log_fn cb, void *user, enum jalad_log_level min_level)
{
	log_cb = cb;
	log_user = user;
	log_min = min_level;
}

/* Messages quote names from model files: C0/C1 controls and DEL go to the
 * terminal as \xNN, never as themselves. */
static void log_escaped(FILE *f, const char *msg)
{
	for (const unsigned char *s = (const unsigned char *)msg; *s; s++) {
		if (*s < 0x20 || *s == 0x7f)
			fprintf(f, "\\x%02x", *s);
		else if (*s == 0xc2 && s[1] >= 0x80 && s[1] < 0xa0)
			fprintf(f, "\\x%02x", *++s);
		else
			fputc(*s, f);
	}
}

static void log_emit(enum jalad_log_level level, const char *msg)
{
	static const char *names[] = { "debug", "info", "warning", "error" };
	if (level < log_min)
		return;
	if (log_cb) {
		log_cb(level, msg, log_user);
		return;
	}
	fprintf(stderr, "jalad: %s: ", names[level]);
	log_escaped(stderr, msg);
	fputc('\n', stderr);
}

void jalad_log(enum jalad_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_emit(level, buf);
}

enum jalad_status jalad_fail_at(const char *file, int line, enum jalad_status st,
				const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
	if (log_min <= JALAD_LOG_DEBUG) {
		char buf[700];
		snprintf(buf, sizeof buf, "%s:%d: %s", file, line, last_error);
		log_emit(JALAD_LOG_DEBUG, buf);
	}
	return st;
}

void jalad_error_prefix(const char *fmt, ...)
{
	char pre[256], old[sizeof last_error];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof old);
	size_t a = strlen(pre), b = strlen(old);
	if (a > sizeof last_error - 1)
		a = sizeof last_error - 1;
	if (b > sizeof last_error - 1 - a)
		b = sizeof last_error - 1 - a;
	memcpy(last_error, pre, a);
	memcpy(last_error + a, old, b);
	last_error[a + b] = 0;
}

uint64_t jalad_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t jalad_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
