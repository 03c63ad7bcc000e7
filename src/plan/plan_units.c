/* Bandwidth and duration strings of the command line and config files. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "plan_impl.h"

/* Split "1.5gbit" into 1.5 and "gbit"; -1 if there is no leading number. */
static int split_number(const char *s, double *v, const char **unit)
{
	char *end;
	if (!s)
		return -1;
	errno = 0;
	*v = strtod(s, &end);
	if (end == s || errno || !isfinite(*v))
		return -1;
	/* Reject hexadecimal and infinities strtod also accepts. */
	for (const char *p = s; p < end; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))
			return -1;
	while (*end == ' ')
		end++;
	*unit = end;
	return 0;
}

enum jalad_status jalad_parse_bandwidth(const char *s, double *bps)
{
	static const struct {
		const char *name;
		double mul;
	} units[] = {
		{ "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
		{ "bps", 1 }, { "kbps", 1e3 }, { "mbps", 1e6 }, { "gbps", 1e9 },
		{ "bit/s", 1 }, { "kbit/s", 1e3 }, { "mbit/s", 1e6 }, { "gbit/s", 1e9 },
	};
	double v;
	const char *unit;
	JALAD_RETURN_IF(split_number(s, &v, &unit), JALAD_ERR_INVALID_ARG,
			"bandwidth '%s' does not start with a number (write e.g. 2mbit, 500kbit, 1.5gbit)",
			s ? s : "(null)");
	JALAD_RETURN_IF(!*unit, JALAD_ERR_INVALID_ARG,
			"bandwidth '%s' has no unit (write e.g. %smbit or %skbit)", s, s, s);
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(unit, units[i].name) == 0) {
			JALAD_RETURN_IF(!(v > 0) || !isfinite(v * units[i].mul), JALAD_ERR_INVALID_ARG,
					"bandwidth '%s' must be positive", s);
			*bps = v * units[i].mul;
			return JALAD_OK;
		}
	}
	return jalad_fail(JALAD_ERR_INVALID_ARG,
			  "bandwidth '%s': unknown unit '%s' (use bit, kbit, mbit or gbit per second; bytes are "
			  "not accepted)", s, unit);
}

enum jalad_status jalad_parse_duration(const char *s, double *ms)
{
	double v;
	const char *unit;
	JALAD_RETURN_IF(split_number(s, &v, &unit), JALAD_ERR_INVALID_ARG,
			"duration '%s' does not start with a number (write e.g. 40ms or 0.04s)", s ? s : "(null)");
	JALAD_RETURN_IF(!*unit, JALAD_ERR_INVALID_ARG, "duration '%s' has no unit (write e.g. %sms or %ss)", s, s, s);
	double mul;
	if (!strcasecmp(unit, "ms"))
		mul = 1;
	else if (!strcasecmp(unit, "s"))
		mul = 1e3;
	else if (!strcasecmp(unit, "us"))
		mul = 1e-3;
	else
		return jalad_fail(JALAD_ERR_INVALID_ARG, "duration '%s': unknown unit '%s' (use us, ms or s)", s,
				  unit);
	JALAD_RETURN_IF(v < 0, JALAD_ERR_INVALID_ARG, "duration '%s' is negative", s);
	*ms = v * mul;
	return JALAD_OK;
}

const char *jalad_format_bandwidth(double bps, char *buf, size_t cap)
{
	if (!isfinite(bps))
		snprintf(buf, cap, "inf");
	else if (bps >= 1e9)
		snprintf(buf, cap, "%.4g Gbit/s", bps / 1e9);
	else if (bps >= 1e6)
		snprintf(buf, cap, "%.4g Mbit/s", bps / 1e6);
	else if (bps >= 1e3)
		snprintf(buf, cap, "%.4g kbit/s", bps / 1e3);
	else
		snprintf(buf, cap, "%.4g bit/s", bps);
	return buf;
}
