#include "lib/timeparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/xmalloc.h"

#define MAX_DURATION_MS (10LL * 366 * 24 * 3600 * 1000)

static const struct {
	const char *suffix;
	int64_t ms;
} duration_units[] = {
	/* "ms" before "m", so the longer suffix wins */
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 }, { "w", 604800000 },
};

int parse_duration_ms(const char *s, int64_t bare_unit_ms, int64_t *out_ms, char **cause)
{
	const char *p = s;
	int64_t total = 0;

	if (!*s) {
		*cause = xstrdup("empty duration");
		return -1;
	}
	while (*p) {
		int64_t value = 0;
		size_t i, digits = 0;

		while (isdigit((unsigned char)*p)) {
			if (value > MAX_DURATION_MS) {
				*cause = xasprintf("duration '%s' is too long", s);
				return -1;
			}
			value = value * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits)
			goto bad;
		if (!*p && p == s + digits && bare_unit_ms) {
			if (value > MAX_DURATION_MS / bare_unit_ms)
				goto too_long;
			total = value * bare_unit_ms;
			break;
		}
		for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t n = strlen(duration_units[i].suffix);

			if (!strncmp(p, duration_units[i].suffix, n)) {
				if (value > MAX_DURATION_MS / duration_units[i].ms)
					goto too_long;
				total += value * duration_units[i].ms;
				p += n;
				break;
			}
		}
		if (i == sizeof(duration_units) / sizeof(duration_units[0]))
			goto bad;
		if (total > MAX_DURATION_MS) {
			*cause = xasprintf("duration '%s' is too long", s);
			return -1;
		}
	}
	if (total > MAX_DURATION_MS)
		goto too_long;
	if (total <= 0) {
		*cause = xasprintf("duration '%s' must be positive", s);
		return -1;
	}
	*out_ms = total;
	return 0;
bad:
	*cause = xasprintf("invalid duration '%s' (expected e.g. 15s, 500ms, 2m, 6h)", s);
	return -1;
too_long:
	*cause = xasprintf("duration '%s' is too long (at most 10 years)", s);
	return -1;
}

char *format_duration_ms(int64_t ms)
{
	if (ms % 3600000 == 0)
		return xasprintf("%lldh", (long long)(ms / 3600000));
	if (ms % 60000 == 0)
		return xasprintf("%lldm", (long long)(ms / 60000));
	if (ms % 1000 == 0)
		return xasprintf("%llds", (long long)(ms / 1000));
	return xasprintf("%lldms", (long long)ms);
}

/* Read exactly n digits as a number, or return -1. */
static int take_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

static int parse_epoch(const char *s, int64_t *out_ms)
{
	char *end;
	double v;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	v = strtod(s, &end);
	if (*end || v < 0 || v > 32503680000.0) /* year 3000 */
		return -1;
	*out_ms = (int64_t)(v * 1000.0 + 0.5);
	return 0;
}

int parse_time_ms(const char *s, int64_t *out_ms, char **cause)
{
	const char *p = s;
	int year, mon, day, hour, min, sec, frac_ms = 0;
	int64_t offset_s = 0;
	struct tm tm = { 0 };
	time_t t;

	if (!*s)
		goto bad;
	if (!strchr(s, '-') && parse_epoch(s, out_ms) == 0)
		return 0;
	year = take_digits(&p, 4);
	if (year < 0 || *p++ != '-')
		goto bad;
	mon = take_digits(&p, 2);
	if (mon < 1 || mon > 12 || *p++ != '-')
		goto bad;
	day = take_digits(&p, 2);
	if (day < 1 || day > days_in_month(year, mon))
		goto bad;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto bad;
	p++;
	hour = take_digits(&p, 2);
	if (hour < 0 || hour > 23 || *p++ != ':')
		goto bad;
	min = take_digits(&p, 2);
	if (min < 0 || min > 59 || *p++ != ':')
		goto bad;
	sec = take_digits(&p, 2);
	if (sec < 0 || sec > 60)
		goto bad;
	if (*p == '.') {
		int scale = 100, digits = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			frac_ms += (*p - '0') * scale;
			scale /= 10;
			p++;
			digits++;
		}
		if (!digits)
			goto bad;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1;
		int oh = take_digits(&p, 2), om;

		if (oh < 0 || oh > 23 || *p++ != ':')
			goto bad;
		om = take_digits(&p, 2);
		if (om < 0 || om > 59)
			goto bad;
		offset_s = sign * (oh * 3600 + om * 60);
	} else {
		*cause = xasprintf("time '%s' has no time zone (add 'Z' for UTC or an offset like +02:00)", s);
		return -1;
	}
	if (*p)
		goto bad;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out_ms = ((int64_t)t - offset_s) * 1000 + frac_ms;
	return 0;
bad:
	*cause = xasprintf("invalid time '%s' (expected RFC 3339 such as 2025-10-01T10:00:00Z, or epoch seconds)", s);
	return -1;
}

char *format_time_ms(int64_t ms)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac)
		return xasprintf("%s.%03dZ", buf, frac);
	return xasprintf("%sZ", buf);
}

#define TIME_LIMIT_MAX_S (366LL * 86400)

/* The number at *p, advancing *p past it: -1 when there is none, -2 when over TIME_LIMIT_MAX_S. */
static int64_t take_limit_field(const char **p)
{
	const char *start = *p;
	int64_t v = 0;

	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (*(*p)++ - '0');
		if (v > TIME_LIMIT_MAX_S)
			return -2;
	}
	return *p == start ? -1 : v;
}

int parse_slurm_time_limit(const char *s, uint32_t *minutes, char **cause)
{
	int64_t days = 0, f[3] = { 0 }, total;
	const char *p = s;
	int n = 0, with_days = strchr(s, '-') != NULL;

	if (!strcasecmp(s, "unlimited") || !strcasecmp(s, "infinite")) {
		*minutes = TIME_LIMIT_INFINITE;
		return 0;
	}
	if (with_days && ((days = take_limit_field(&p)) < 0 || *p++ != '-'))
		goto bad;
	for (;;) {
		if (n == 3 || (f[n++] = take_limit_field(&p)) < 0)
			goto bad;
		if (!*p)
			break;
		if (*p++ != ':')
			goto bad;
	}
	if (with_days) /* D-HH[:MM[:SS]] */
		total = days * 86400 + f[0] * 3600 + f[1] * 60 + f[2];
	else if (n == 1) /* MM */
		total = f[0] * 60;
	else if (n == 2) /* MM:SS */
		total = f[0] * 60 + f[1];
	else /* HH:MM:SS */
		total = f[0] * 3600 + f[1] * 60 + f[2];
	if (total <= 0) {
		*cause = xasprintf("time limit '%s' is zero (give UNLIMITED for none)", s);
		return -1;
	}
	if (total > TIME_LIMIT_MAX_S)
		goto too_long;
	*minutes = (uint32_t)((total + 59) / 60);
	return 0;
bad:
	if (days == -2 || f[0] == -2 || f[1] == -2 || f[2] == -2)
		goto too_long;
	*cause = xasprintf("invalid time limit '%s' (expected MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS "
			   "or UNLIMITED)", s);
	return -1;
too_long:
	*cause = xasprintf("time limit '%s' is over a year (give UNLIMITED for none)", s);
	return -1;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int64_t ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
