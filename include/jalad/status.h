/*
 * jalad/status.h - status codes, error details and logging.
 *
 * Every fallible public function of libjalad returns an enum jalad_status
 * (JALAD_OK is 0, errors are negative) and passes its results out through
 * pointers. jalad_status_str() names a status; jalad_last_error() gives the
 * detailed message of the most recent error raised on the calling thread
 * (for example "node 'conv1' (Conv): weight has 3 dims, expected 4").
 *
 * The library never writes to stdout. Log lines go to a callback set with
 * jalad_log_set(); by default warnings and errors go to stderr.
 *
 *     enum jalad_status st = jalad_model_load("m.onnx", &model);
 *     if (st != JALAD_OK)
 *         fprintf(stderr, "%s: %s\n", jalad_status_str(st), jalad_last_error());
 */
#ifndef JALAD_STATUS_H
#define JALAD_STATUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(JALAD_BUILD) && defined(__GNUC__)
#define JALAD_API __attribute__((visibility("default")))
#else
#define JALAD_API
#endif

enum jalad_status {
	JALAD_OK = 0,
	JALAD_ERR_INVALID_ARG = -1,  /* a caller passed a bad argument */
	JALAD_ERR_NOMEM = -2,        /* out of memory or over a set limit */
	JALAD_ERR_IO = -3,           /* a file or socket operation failed */
	JALAD_ERR_FORMAT = -4,       /* malformed input (model, frame, stream) */
	JALAD_ERR_TRUNCATED = -5,    /* input ended early */
	JALAD_ERR_UNSUPPORTED = -6,  /* valid but outside what jalad supports */
	JALAD_ERR_SHAPE = -7,        /* inconsistent or wrong tensor shape */
	JALAD_ERR_CHECKSUM = -8,     /* a checksum did not match */
	JALAD_ERR_LIMIT = -9,        /* a size exceeds a configured limit */
	JALAD_ERR_NOT_FOUND = -10,   /* a named thing does not exist */
	JALAD_ERR_MISMATCH = -11,    /* two things that must agree do not */
	JALAD_ERR_TIMEOUT = -12,     /* a deadline passed */
	JALAD_ERR_CLOSED = -13,      /* the peer closed the connection */
	JALAD_ERR_PROTOCOL = -14,    /* the peer broke the wire protocol */
	JALAD_ERR_INTERNAL = -15,    /* a bug in jalad */
};

/*! Name of a status, e.g. "format error". Never NULL; static storage. */
JALAD_API const char *jalad_status_str(enum jalad_status st);

/*! Detailed message of the last error raised on this thread ("" if none).
 *  Thread-local storage, valid until the next failing call on this thread. */
JALAD_API const char *jalad_last_error(void);

enum jalad_log_level {
	JALAD_LOG_DEBUG = 0,
	JALAD_LOG_INFO = 1,
	JALAD_LOG_WARN = 2,
	JALAD_LOG_ERROR = 3,
};

typedef void (*jalad_log_fn)(enum jalad_log_level level, const char *msg, void *user);

/*! Route log lines to cb (NULL restores the stderr default) and drop lines
 *  below min_level. Call once at start-up, before other threads log. */
JALAD_API void jalad_log_set(jalad_log_fn cb, void *user, enum jalad_log_level min_level);

#ifdef __cplusplus
}
#endif
#endif /* JALAD_STATUS_H */
