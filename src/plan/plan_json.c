/* JSON, file and base64 helpers shared by profiles and calibrations. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "plan_impl.h"

char *plan_strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

const char *plan_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- files ------------------------------------------------------------------ */

enum jalad_status plan_read_file(const char *path, size_t max, char **buf, size_t *len)
{
	enum jalad_status st = JALAD_OK;
	char *b = NULL;
	*buf = NULL;
	*len = 0;
	FILE *f = fopen(path, "rb");
	JALAD_RETURN_IF(!f, JALAD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0) {
		st = jalad_fail(JALAD_ERR_IO, "cannot seek '%s': %s", path, strerror(errno));
		goto fail;
	}
	long sz = ftell(f);
	if (sz < 0 || (unsigned long)sz > max) {
		st = sz < 0 ? jalad_fail(JALAD_ERR_IO, "cannot size '%s'", path)
			    : jalad_fail(JALAD_ERR_LIMIT, "'%s' is %ld bytes, more than the %zu allowed", path, sz, max);
		goto fail;
	}
	rewind(f);
	b = malloc((size_t)sz + 1);
	if (!b) {
		st = jalad_fail(JALAD_ERR_NOMEM, "%ld bytes for '%s'", sz, path);
		goto fail;
	}
	if (fread(b, 1, (size_t)sz, f) != (size_t)sz) {
		st = jalad_fail(JALAD_ERR_IO, "cannot read '%s'", path);
		goto fail;
	}
	b[sz] = 0;
	fclose(f);
	*buf = b;
	*len = (size_t)sz;
	return JALAD_OK;
fail:
	free(b);
	fclose(f);
	return st;
}

enum jalad_status plan_write_file(const char *path, const char *buf, size_t len)
{
	size_t n = strlen(path) + 8;
	char *tmp = malloc(n);
	JALAD_RETURN_IF(!tmp, JALAD_ERR_NOMEM, "path");
	snprintf(tmp, n, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f) {
		enum jalad_status st = jalad_fail(JALAD_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		return st;
	}
	int bad = fwrite(buf, 1, len, f) != len;
	bad |= fclose(f) != 0;
	if (bad || rename(tmp, path) != 0) {
		enum jalad_status st = jalad_fail(JALAD_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		remove(tmp);
		free(tmp);
		return st;
	}
	free(tmp);
	return JALAD_OK;
}

/* ---- parsing ---------------------------------------------------------------- */

enum jalad_status plan_json_parse(const char *what, const char *json, size_t len, cJSON **out)
{
	const char *end = NULL;
	*out = NULL;
	JALAD_RETURN_IF(!json || len == 0, JALAD_ERR_TRUNCATED, "%s: empty document", what);
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root) {
		size_t off = end && end >= json && end <= json + len ? (size_t)(end - json) : len;
		int line = 1;
		for (size_t i = 0; i < off; i++)
			line += json[i] == '\n';
		/* A document cut short leaves an object, array or string open. */
		int depth = 0, in_str = 0, esc = 0;
		for (size_t i = 0; i < len; i++) {
			char ch = json[i];
			if (in_str) {
				if (esc)
					esc = 0;
				else if (ch == '\\')
					esc = 1;
				else if (ch == '"')
					in_str = 0;
			} else if (ch == '"') {
				in_str = 1;
			} else if (ch == '{' || ch == '[') {
				depth++;
			} else if (ch == '}' || ch == ']') {
				depth--;
			}
		}
		if (depth > 0 || in_str)
			return jalad_fail(JALAD_ERR_TRUNCATED, "%s: JSON ends early at byte %zu (truncated file?)",
					  what, len);
		return jalad_fail(JALAD_ERR_FORMAT, "%s: not valid JSON at line %d (byte %zu)", what, line, off);
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return jalad_fail(JALAD_ERR_FORMAT, "%s: the document is not a JSON object", what);
	}
	*out = root;
	return JALAD_OK;
}

enum jalad_status plan_json_print(cJSON *root, char **json)
{
	char *s = cJSON_Print(root);
	JALAD_RETURN_IF(!s, JALAD_ERR_NOMEM, "JSON text");
	/* cJSON_Print uses cJSON's allocator (malloc by default); hand the
	 * caller a copy from ours with a final newline. */
	size_t n = strlen(s);
	char *d = malloc(n + 2);
	if (!d) {
		cJSON_free(s);
		return jalad_fail(JALAD_ERR_NOMEM, "JSON text");
	}
	memcpy(d, s, n);
	d[n] = '\n';
	d[n + 1] = 0;
	cJSON_free(s);
	*json = d;
	return JALAD_OK;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

enum jalad_status plan_get_obj(const char *what, const cJSON *o, const char *key, const cJSON **out)
{
	const cJSON *v = get(o, key);
	JALAD_RETURN_IF(!v, JALAD_ERR_FORMAT, "%s: missing object \"%s\"", what, key);
	JALAD_RETURN_IF(!cJSON_IsObject(v), JALAD_ERR_FORMAT, "%s: \"%s\" is not an object", what, key);
	*out = v;
	return JALAD_OK;
}

enum jalad_status plan_get_arr(const char *what, const cJSON *o, const char *key, const cJSON **out)
{
	const cJSON *v = get(o, key);
	JALAD_RETURN_IF(!v, JALAD_ERR_FORMAT, "%s: missing array \"%s\"", what, key);
	JALAD_RETURN_IF(!cJSON_IsArray(v), JALAD_ERR_FORMAT, "%s: \"%s\" is not an array", what, key);
	*out = v;
	return JALAD_OK;
}

enum jalad_status plan_get_num(const char *what, const cJSON *o, const char *key, double lo, double hi,
			       double *out)
{
	const cJSON *v = get(o, key);
	JALAD_RETURN_IF(!v, JALAD_ERR_FORMAT, "%s: missing number \"%s\"", what, key);
	JALAD_RETURN_IF(!cJSON_IsNumber(v), JALAD_ERR_FORMAT, "%s: \"%s\" is not a number", what, key);
	double d = v->valuedouble;
	JALAD_RETURN_IF(!isfinite(d) || d < lo || d > hi, JALAD_ERR_FORMAT, "%s: \"%s\" = %g is outside [%g, %g]",
			what, key, d, lo, hi);
	*out = d;
	return JALAD_OK;
}

enum jalad_status plan_get_int(const char *what, const cJSON *o, const char *key, int64_t lo, int64_t hi,
			       int64_t *out)
{
	double d;
	JALAD_FORWARD(plan_get_num(what, o, key, (double)lo, (double)hi, &d));
	JALAD_RETURN_IF(d != floor(d), JALAD_ERR_FORMAT, "%s: \"%s\" = %g is not an integer", what, key, d);
	*out = (int64_t)d;
	return JALAD_OK;
}

enum jalad_status plan_get_str(const char *what, const cJSON *o, const char *key, int required, char **out)
{
	return plan_get_str_max(what, o, key, required, PLAN_MAX_STR, out);
}

enum jalad_status plan_get_str_max(const char *what, const cJSON *o, const char *key, int required, size_t max,
				   char **out)
{
	const cJSON *v = get(o, key);
	*out = NULL;
	if (!v || cJSON_IsNull(v)) {
		JALAD_RETURN_IF(required, JALAD_ERR_FORMAT, "%s: missing string \"%s\"", what, key);
		return JALAD_OK;
	}
	JALAD_RETURN_IF(!cJSON_IsString(v) || !v->valuestring, JALAD_ERR_FORMAT, "%s: \"%s\" is not a string",
			what, key);
	JALAD_RETURN_IF(strlen(v->valuestring) > max, JALAD_ERR_FORMAT, "%s: \"%s\" is too long (over %zu characters)",
			what, key, max);
	*out = plan_strdup(v->valuestring);
	JALAD_RETURN_IF(!*out, JALAD_ERR_NOMEM, "string");
	return JALAD_OK;
}

enum jalad_status plan_check_header(const char *what, const cJSON *root, const char *fmt, int version)
{
	const cJSON *f = get(root, "format");
	JALAD_RETURN_IF(!cJSON_IsString(f) || strcmp(f->valuestring, fmt) != 0, JALAD_ERR_FORMAT,
			"%s: not a %s file (\"format\" is %s%s%s)", what, fmt, cJSON_IsString(f) ? "\"" : "",
			cJSON_IsString(f) ? f->valuestring : "missing", cJSON_IsString(f) ? "\"" : "");
	const cJSON *v = get(root, "version");
	JALAD_RETURN_IF(!cJSON_IsNumber(v), JALAD_ERR_FORMAT, "%s: missing \"version\"", what);
	JALAD_RETURN_IF(v->valuedouble != version, JALAD_ERR_UNSUPPORTED,
			"%s: format version %g, this jalad reads version %d (re-run the command that made it)",
			what, v->valuedouble, version);
	return JALAD_OK;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum jalad_status plan_get_sha(const char *what, const cJSON *o, uint8_t sha[32])
{
	const cJSON *v = get(o, "sha256");
	JALAD_RETURN_IF(!cJSON_IsString(v) || strlen(v->valuestring) != 64, JALAD_ERR_FORMAT,
			"%s: \"sha256\" must be 64 hex digits", what);
	for (int i = 0; i < 32; i++) {
		int a = hexval(v->valuestring[2 * i]), b = hexval(v->valuestring[2 * i + 1]);
		JALAD_RETURN_IF(a < 0 || b < 0, JALAD_ERR_FORMAT, "%s: \"sha256\" must be 64 hex digits", what);
		sha[i] = (uint8_t)(a << 4 | b);
	}
	return JALAD_OK;
}

void plan_sha_hex(const uint8_t sha[32], char hex[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sha[i]);
}

/* ---- writing ---------------------------------------------------------------- */

cJSON *plan_add_num(cJSON *o, const char *key, double v, int digits)
{
	if (!isfinite(v))
		return cJSON_AddNullToObject(o, key);
	if (digits > 0) {
		char buf[64];
		snprintf(buf, sizeof buf, "%.*g", digits, v);
		v = strtod(buf, NULL);
	}
	return cJSON_AddNumberToObject(o, key, v);
}

int plan_add_str(cJSON *o, const char *key, const char *v)
{
	if (!v)
		return 0;
	return cJSON_AddStringToObject(o, key, v) ? 0 : -1;
}

/* ---- base64 ----------------------------------------------------------------- */

enum jalad_status plan_base64_encode(const uint8_t *src, size_t len, char **out)
{
	JALAD_RETURN_IF(len > (1u << 24), JALAD_ERR_LIMIT, "base64: %zu bytes", len);
	char *d = malloc(4 * ((len + 2) / 3) + 1);
	JALAD_RETURN_IF(!d, JALAD_ERR_NOMEM, "base64");
	EVP_EncodeBlock((unsigned char *)d, src, (int)len);
	*out = d;
	return JALAD_OK;
}

enum jalad_status plan_base64_decode(const char *src, uint8_t **out, size_t *len)
{
	size_t n = strlen(src);
	*out = NULL;
	JALAD_RETURN_IF(n % 4 != 0 || n > (1u << 24), JALAD_ERR_FORMAT, "base64: length %zu is not a multiple of 4",
			n);
	uint8_t *d = malloc(n / 4 * 3 + 1);
	JALAD_RETURN_IF(!d, JALAD_ERR_NOMEM, "base64");
	int r = n ? EVP_DecodeBlock(d, (const unsigned char *)src, (int)n) : 0;
	if (r < 0) {
		free(d);
		return jalad_fail(JALAD_ERR_FORMAT, "base64: invalid characters");
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t pad = 0;
	if (n >= 1 && src[n - 1] == '=')
		pad++;
	if (n >= 2 && src[n - 2] == '=')
		pad++;
	*out = d;
	*len = (size_t)r - pad;
	return JALAD_OK;
}
