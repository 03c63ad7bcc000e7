/*
 * Private declarations of the planner module: JSON helpers shared by the
 * profile and calibration formats, base64, PNG in memory. Not installed.
 */
#ifndef JALAD_PLAN_IMPL_H
#define JALAD_PLAN_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/common_impl.h"
#include "jalad/plan.h"

/* Largest profile or calibration file accepted. */
#define PLAN_MAX_FILE_BYTES (64u << 20)
/* Largest node count accepted from a file (a sanity bound). */
#define PLAN_MAX_NODES 1000000

/* ---- plan_json.c ------------------------------------------------------------ */
/* Read a whole file (NUL-terminated, at most max bytes). *buf is malloc'd. */
enum jalad_status plan_read_file(const char *path, size_t max, char **buf, size_t *len);
/* Write len bytes to path (via a temporary file and rename). */
enum jalad_status plan_write_file(const char *path, const char *buf, size_t len);
/* Parse JSON text; what names the document in errors ("profile"). */
enum jalad_status plan_json_parse(const char *what, const char *json, size_t len, cJSON **out);
/* Print a cJSON tree (formatted) into a malloc'd string. */
enum jalad_status plan_json_print(cJSON *root, char **json);

/* Typed getters: each fails with JALAD_ERR_FORMAT naming what and the key. */
enum jalad_status plan_get_obj(const char *what, const cJSON *o, const char *key, const cJSON **out);
enum jalad_status plan_get_arr(const char *what, const cJSON *o, const char *key, const cJSON **out);
enum jalad_status plan_get_num(const char *what, const cJSON *o, const char *key, double lo, double hi,
			       double *out);
enum jalad_status plan_get_int(const char *what, const cJSON *o, const char *key, int64_t lo, int64_t hi,
			       int64_t *out);
/* Optional string: NULL if absent; *out is strdup'd; at most PLAN_MAX_STR
 * characters (plan_get_str_max: at most max). */
#define PLAN_MAX_STR 4096
enum jalad_status plan_get_str(const char *what, const cJSON *o, const char *key, int required, char **out);
enum jalad_status plan_get_str_max(const char *what, const cJSON *o, const char *key, int required, size_t max,
				   char **out);
/* Check "format" == fmt and "version" == version. */
enum jalad_status plan_check_header(const char *what, const cJSON *root, const char *fmt, int version);
/* "sha256": 64 hex digits. */
enum jalad_status plan_get_sha(const char *what, const cJSON *o, uint8_t sha[32]);
void plan_sha_hex(const uint8_t sha[32], char hex[65]);

/* Add a number rounded to 'digits' significant digits (keeps files small
 * and diff-friendly). NULL on out of memory. */
cJSON *plan_add_num(cJSON *o, const char *key, double v, int digits);
/* Add a string (NULL value: nothing added). */
int plan_add_str(cJSON *o, const char *key, const char *v);

/* Base64 (OpenSSL). enc: malloc'd NUL-terminated; dec: malloc'd bytes. */
enum jalad_status plan_base64_encode(const uint8_t *src, size_t len, char **out);
enum jalad_status plan_base64_decode(const char *src, uint8_t **out, size_t *len);

/* Base name of a path (pointer into path). */
const char *plan_basename(const char *path);
char *plan_strdup(const char *s);

/* ---- plan_png.c ------------------------------------------------------------- */
/* Encode an 8-bit image as PNG into a growing buffer (libpng defaults). */
enum jalad_status plan_png_encode(const struct jalad_calib_image *img, uint8_t **buf, size_t *cap,
				  size_t *len);
/* Decode a PNG from memory into pixels[cap] (used for timing only). */
enum jalad_status plan_png_decode(const uint8_t *buf, size_t len, uint8_t *pixels, size_t cap);

#endif /* JALAD_PLAN_IMPL_H */
