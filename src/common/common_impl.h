/*
 * Private helpers shared by every module: error raising, logging, small
 * utilities. Nothing here is installed.
 */
#ifndef JALAD_COMMON_IMPL_H
#define JALAD_COMMON_IMPL_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "jalad/status.h"

#if defined(__GNUC__)
#define JALAD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define JALAD_PRINTF(a, b)
#endif

/* Record a detailed error for jalad_last_error(), log it at debug level with
 * file:line, and return st so callers can write `return jalad_fail(...)`. */
enum jalad_status jalad_fail_at(const char *file, int line, enum jalad_status st,
				const char *fmt, ...) JALAD_PRINTF(4, 5);
#define jalad_fail(st, ...) jalad_fail_at(__FILE__, __LINE__, (st), __VA_ARGS__)

void jalad_log(enum jalad_log_level level, const char *fmt, ...) JALAD_PRINTF(2, 3);
/* Prefix the current thread's last error with more context ("node 'x': "). */
void jalad_error_prefix(const char *fmt, ...) JALAD_PRINTF(1, 2);

#define JALAD_RETURN_IF(cond, st, ...)                                 \
	do {                                                           \
		if (cond)                                              \
			return jalad_fail((st), __VA_ARGS__);          \
	} while (0)

#define JALAD_FORWARD(expr)                                            \
	do {                                                           \
		enum jalad_status st_fwd_ = (expr);                    \
		if (st_fwd_ != JALAD_OK)                               \
			return st_fwd_;                                \
	} while (0)

/* Little-endian byte order helpers for wire and file formats. */
static inline void jalad_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void jalad_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void jalad_put_u64(uint8_t *p, uint64_t v) { jalad_put_u32(p, (uint32_t)v); jalad_put_u32(p + 4, (uint32_t)(v >> 32)); }
static inline uint16_t jalad_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t jalad_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t jalad_get_u64(const uint8_t *p) { return jalad_get_u32(p) | ((uint64_t)jalad_get_u32(p + 4) << 32); }
static inline void jalad_put_f32(uint8_t *p, float f) { uint32_t u; memcpy(&u, &f, 4); jalad_put_u32(p, u); }
static inline float jalad_get_f32(const uint8_t *p) { uint32_t u = jalad_get_u32(p); float f; memcpy(&f, &u, 4); return f; }

/* CRC-32C (Castagnoli) of buf, continuing from crc (start with 0). */
uint32_t jalad_crc32c(uint32_t crc, const void *buf, size_t len);

/* Monotonic clock in nanoseconds / wall clock in microseconds. */
uint64_t jalad_now_ns(void);
uint64_t jalad_wall_us(void);

/* Overflow-checked size arithmetic: return 0 on success, -1 on overflow. */
static inline int jalad_mul_size(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

#endif /* JALAD_COMMON_IMPL_H */
