#include "collect/promjson.h"

#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"

#define MAX_DEPTH 64
/* Fewest bytes a sample takes in "values": [0,"0"] and a comma. */
#define MIN_POINT_BYTES 8

/* What "result" turned out to hold; its meaning is settled once resultType is known. */
enum result_kind {
	RESULT_NONE,    /* no "result" key */
	RESULT_EMPTY,   /* [] or null */
	RESULT_SERIES,  /* a list of {"metric":..., "values"/"value":...} */
	RESULT_PAIR,    /* [time, "value"], a scalar */
};

/* Keys of the response seen so far, to refuse duplicates that would leak or merge. */
enum {
	SEEN_DATA = 1 << 0,
	SEEN_RESULT = 1 << 1,
	SEEN_WARNINGS = 1 << 2,
	SEEN_DATA_NULL = 1 << 3,
};

/*
 * Bytes a stream left out of the text it parses last (see promjson_stream):
 * at offset at of that text, removed bytes of the response had been taken
 * out before it, counted from the response's start.
 */
struct gap {
	size_t at, removed;
};

struct parser {
	const char *body, *p, *end;
	size_t base;            /* offset of body in the response, for messages */
	const struct gap *gaps; /* removed stretches of the response, for messages */
	size_t ngaps;
	size_t nstreamed;       /* series parsed before, element by element, by a stream */
	int depth;
	char *cause;            /* the first error, owned */
	struct strbuf scratch;  /* strings with escapes, decoded */
	struct series_set *out;
	size_t items_alloc, warnings_alloc;
	size_t points_hint;     /* longest "values" so far: series of one query are alike */
	unsigned seen;
	char *status, *error_type, *error_msg, *result_type;
	enum result_kind result;
	size_t nvalue, nvalues; /* series given a "value", series given "values" */
};

/* Where p is in the response as Prometheus sent it, for messages. */
static size_t at_byte(const struct parser *ps)
{
	size_t at = (size_t)(ps->p - ps->body), removed = 0;

	for (size_t i = 0; i < ps->ngaps && ps->gaps[i].at <= at; i++)
		removed = ps->gaps[i].removed;
	return ps->base + at + removed;
}

/* Record the first error; always returns -1. */
__attribute__((format(printf, 2, 3)))
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->cause)
		return -1;
	va_start(ap, fmt);
	ps->cause = xvasprintf(fmt, ap);
	va_end(ap);
	return -1;
}

/* The JSON at p is not what the grammar allows there. */
static int syntax_error(struct parser *ps, const char *expected)
{
	size_t at = at_byte(ps);
	unsigned char c;

	if (ps->p >= ps->end)
		return fail(ps, "truncated response: expected %s at byte %zu", expected, at);
	c = (unsigned char)*ps->p;
	if (c >= 0x20 && c < 0x7f)
		return fail(ps, "invalid JSON at byte %zu: expected %s, got '%c'", at, expected, c);
	return fail(ps, "invalid JSON at byte %zu: expected %s, got byte 0x%02x", at, expected, c);
}

/* The JSON is well formed but not shaped like a Prometheus answer. */
__attribute__((format(printf, 2, 3)))
static int shape_error(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	char *what;

	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	fail(ps, "unexpected response at byte %zu: %s", at_byte(ps), what);
	free(what);
	return -1;
}

/* Step over JSON whitespace. */
static inline void skip_ws(struct parser *ps)
{
	const char *p = ps->p, *end = ps->end;

	/* one test for the usual case, a byte that is not space */
	while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

/* The next byte after whitespace, or -1 at the end of the body. */
static inline int peek(struct parser *ps)
{
	skip_ws(ps);
	return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

/* Consume c, after whitespace, or record that what was expected. */
static inline int expect(struct parser *ps, char c, const char *what)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return 0;
	}
	return syntax_error(ps, what);
}

/* Consume the opening bracket c of an object or array, one level deeper. */
static int open_nested(struct parser *ps, char c, const char *what)
{
	if (expect(ps, c, what) < 0)
		return -1;
	if (++ps->depth > MAX_DEPTH) {
		ps->p--;
		return fail(ps, "invalid JSON at byte %zu: nested deeper than %d levels",
			    at_byte(ps), MAX_DEPTH);
	}
	return 0;
}

/* The code unit of the four hex digits at q, or -1 when they are not hex. */
static long hex4(const char *q)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int d = hex_digit_value((unsigned char)q[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Append code point cp in UTF-8. */
static void add_utf8(struct strbuf *sb, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	strbuf_add(sb, u, n);
}

/*
 * Decode the escape at q (just past the backslash) into scratch and return
 * the byte after it, or NULL after recording an error. A lone surrogate
 * becomes U+FFFD, as Go's encoding/json decodes it.
 */
static const char *decode_escape(struct parser *ps, const char *q)
{
	static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	long cp, lo;

	if (q >= ps->end) {
		ps->p = q;
		syntax_error(ps, "an escape");
		return NULL;
	}
	if (*q != 'u') {
		hit = *q ? strchr(plain, *q) : NULL;
		if (!hit) {
			ps->p = q;
			syntax_error(ps, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
			return NULL;
		}
		strbuf_addch(&ps->scratch, decoded[hit - plain]);
		return q + 1;
	}
	if (ps->end - q < 5) {
		ps->p = ps->end;
		syntax_error(ps, "four hex digits");
		return NULL;
	}
	cp = hex4(q + 1);
	if (cp < 0) {
		ps->p = q + 1;
		syntax_error(ps, "four hex digits");
		return NULL;
	}
	q += 5;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - q >= 6 && q[0] == '\\' && q[1] == 'u' &&
		    (lo = hex4(q + 2)) >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			q += 6;
		} else {
			cp = 0xfffd;
		}
	} else if (cp >= 0xdc00 && cp <= 0xdfff) {
		cp = 0xfffd;
	}
	add_utf8(&ps->scratch, (unsigned long)cp);
	return q;
}

/* Bytes that stand for themselves in a JSON string: not '"', '\\' or a control character. */
#define PLAIN16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char plain_char[256] = {
	PLAIN16(0), PLAIN16(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,       /* '"' is 0x22 */
	PLAIN16(1), PLAIN16(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,       /* '\\' is 0x5c */
	PLAIN16(1), PLAIN16(1),
	PLAIN16(1), PLAIN16(1), PLAIN16(1), PLAIN16(1),
	PLAIN16(1), PLAIN16(1), PLAIN16(1), PLAIN16(1),
};

/*
 * Read the JSON string at p and point *s, *len at its content: straight
 * into the body when it has no escapes, else into scratch, valid until the
 * next call. The content may hold NUL bytes (from \u0000) and invalid
 * UTF-8, which is kept as it is.
 */
static int scan_string(struct parser *ps, const char **s, size_t *len)
{
	const char *start, *q, *end = ps->end;

	if (ps->p >= end || *ps->p != '"')
		return syntax_error(ps, "a string");
	start = q = ps->p + 1;
	while (q < end && plain_char[(unsigned char)*q])
		q++;
	if (q < end && *q == '"') {
		*s = start;
		*len = (size_t)(q - start);
		ps->p = q + 1;
		return 0;
	}
	strbuf_reset(&ps->scratch);
	strbuf_add(&ps->scratch, start, (size_t)(q - start));
	while (q < end && *q != '"') {
		const char *run = q;

		if ((unsigned char)*q < 0x20) {
			ps->p = q;
			return syntax_error(ps, "a character of a string (control characters must be escaped)");
		}
		if (*q == '\\') {
			q = decode_escape(ps, q + 1);
			if (!q)
				return -1;
			continue;
		}
		while (q < end && plain_char[(unsigned char)*q])
			q++;
		strbuf_add(&ps->scratch, run, (size_t)(q - run));
	}
	if (q >= end) {
		ps->p = q;
		return syntax_error(ps, "the end of a string");
	}
	*s = ps->scratch.buf;
	*len = ps->scratch.len;
	ps->p = q + 1;
	return 0;
}

/* A copy of a string as a C string; NUL inside it (from \u0000) is refused. */
static char *dup_cstring(struct parser *ps, const char *s, size_t len, const char *what)
{
	if (memchr(s, '\0', len)) {
		fail(ps, "unexpected response before byte %zu: %s contains a NUL character (\\u0000)",
		     at_byte(ps), what);
		return NULL;
	}
	return xstrndup(s, len);
}

/* Read a string value as a C string into *dst, which must still be unset. */
static int read_cstring(struct parser *ps, char **dst, const char *what)
{
	const char *s;
	size_t len;

	if (*dst)
		return shape_error(ps, "duplicate key %s", what);
	if (peek(ps) != '"')
		return shape_error(ps, "%s is not a string", what);
	if (scan_string(ps, &s, &len) < 0)
		return -1;
	*dst = dup_cstring(ps, s, len, what);
	return *dst ? 0 : -1;
}

/* Check the grammar of the JSON number at p and step over it. */
static int skip_number(struct parser *ps)
{
	const char *q = ps->p, *end = ps->end;

	if (q < end && *q == '-')
		q++;
	if (q >= end || *q < '0' || *q > '9')
		goto bad;
	if (*q == '0')
		q++;
	else
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	if (q < end && *q == '.') {
		if (++q >= end || *q < '0' || *q > '9')
			goto bad;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || *q < '0' || *q > '9')
			goto bad;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	ps->p = q;
	return 0;
bad:
	ps->p = q;
	return syntax_error(ps, "a digit");
}

/* Step over true, false or null. */
static int skip_literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word), have = (size_t)(ps->end - ps->p);

	for (size_t i = 0; i < n; i++) {
		if (i >= have || ps->p[i] != word[i]) {
			ps->p += i;
			return syntax_error(ps, word);
		}
	}
	ps->p += n;
	return 0;
}

/*
 * Step to the next member of an object: 1 with *key set, 0 after the
 * closing brace (one level up again), -1 on error. *first starts at 1.
 */
static int object_next(struct parser *ps, int *first, const char **key, size_t *klen)
{
	int c = peek(ps);

	if (c == '}') {
		ps->p++;
		ps->depth--;
		return 0;
	}
	if (!*first) {
		if (c != ',')
			return syntax_error(ps, "',' or '}'");
		ps->p++;
		skip_ws(ps);
	}
	*first = 0;
	if (scan_string(ps, key, klen) < 0 || expect(ps, ':', "':'") < 0)
		return -1;
	skip_ws(ps);
	return 1;
}

/* Step to the next element of an array, like object_next. */
static int array_next(struct parser *ps, int *first)
{
	int c = peek(ps);

	if (c == ']') {
		ps->p++;
		ps->depth--;
		return 0;
	}
	if (!*first) {
		if (c != ',')
			return syntax_error(ps, "',' or ']'");
		ps->p++;
		skip_ws(ps);
	}
	*first = 0;
	return 1;
}

/* Step over any JSON value (an unknown key's), depth limit included. */
static int skip_value(struct parser *ps)
{
	const char *s;
	size_t len;
	int first = 1, r;

	switch (peek(ps)) {
	case '"':
		return scan_string(ps, &s, &len);
	case '{':
		if (open_nested(ps, '{', "'{'") < 0)
			return -1;
		while ((r = object_next(ps, &first, &s, &len)) > 0)
			if (skip_value(ps) < 0)
				return -1;
		return r;
	case '[':
		if (open_nested(ps, '[', "'['") < 0)
			return -1;
		while ((r = array_next(ps, &first)) > 0)
			if (skip_value(ps) < 0)
				return -1;
		return r;
	case 't':
		return skip_literal(ps, "true");
	case 'f':
		return skip_literal(ps, "false");
	case 'n':
		return skip_literal(ps, "null");
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return skip_number(ps);
	default:
		return syntax_error(ps, "a JSON value");
	}
}

/* Is the key (not NUL-terminated) name? */
static int is_key(const char *key, size_t klen, const char *name)
{
	return klen == strlen(name) && !memcmp(key, name, klen);
}

/*
 * Unix seconds as a decimal number, in milliseconds, exactly: digits past
 * the third fraction digit round half away from zero. The general case,
 * for exponents and long numbers.
 */
static int parse_time_slow(struct parser *ps, int64_t *t_ms)
{
	const char *q = ps->p, *end = ps->end, *ip, *fp = NULL;
	size_t ni = 0, nf = 0;
	long long exp10 = 0, top, pos = 0;
	uint64_t acc = 0;
	int neg = 0, exp_neg = 0;

	if (skip_number(ps) < 0)
		return -1;
	end = ps->p;
	if (*q == '-') {
		neg = 1;
		q++;
	}
	for (ip = q; q < end && *q >= '0' && *q <= '9'; q++)
		ni++;
	if (q < end && *q == '.')
		for (fp = ++q; q < end && *q >= '0' && *q <= '9'; q++)
			nf++;
	if (q < end) {
		q++;
		if (*q == '+' || *q == '-')
			exp_neg = *q++ == '-';
		for (; q < end; q++)
			if (exp10 < 1000000)
				exp10 = exp10 * 10 + (*q - '0');
		if (exp_neg)
			exp10 = -exp10;
	}
	/* each digit's power of ten in milliseconds; keep those at 0 and up, round on the next */
	top = (long long)ni - 1 + exp10 + 3;
	for (size_t i = 0; i < ni + nf; i++) {
		unsigned d = (unsigned)((i < ni ? ip[i] : fp[i - ni]) - '0');

		pos = top - (long long)i;
		if (pos < 0) {
			if (pos == -1 && d >= 5)
				acc++;
			pos = 0;
			break;
		}
		if (acc > ((uint64_t)INT64_MAX - d) / 10)
			goto range;
		acc = acc * 10 + d;
	}
	for (; acc && pos > 0; pos--) {
		if (acc > (uint64_t)INT64_MAX / 10)
			goto range;
		acc *= 10;
	}
	if (acc > (uint64_t)INT64_MAX)
		goto range;
	*t_ms = neg ? -(int64_t)acc : (int64_t)acc;
	return 0;
range:
	return fail(ps, "unexpected response at byte %zu: time out of range", at_byte(ps));
}

/*
 * The number the eight digits at q spell, or -1 when they are not all
 * digits: Unix seconds have ten, and a byte at a time is the parser's
 * slowest loop. These are the word tricks of simdjson and fast_float.
 */
static inline long eight_digits(const char *q)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t w;

	memcpy(&w, q, 8);
	if (((w + 0x4646464646464646ULL) | (w - 0x3030303030303030ULL)) & 0x8080808080808080ULL)
		return -1;
	w = (w & 0x0f0f0f0f0f0f0f0fULL) * 2561 >> 8;
	w = (w & 0x00ff00ff00ff00ffULL) * 6553601 >> 16;
	return (long)(uint32_t)((w & 0x0000ffff0000ffffULL) * 42949672960001ULL >> 32);
#else
	(void)q;
	return -1;
#endif
}

/* Step over up to max digits at *q, adding them to *acc; returns how many. */
static inline int add_digits(const char **q, const char *end, int max, uint64_t *acc)
{
	const char *p = *q, *lim = end - p > max ? p + max : end;
	uint64_t a = *acc;
	unsigned d;

	while (p < lim && (d = (unsigned)(unsigned char)*p - '0') < 10) {
		a = a * 10 + d;
		p++;
	}
	*acc = a;
	max = (int)(p - *q);
	*q = p;
	return max;
}

/* A sample time: a JSON number of Unix seconds, to int64 milliseconds. */
static int parse_time(struct parser *ps, int64_t *t_ms)
{
	static const unsigned scale[] = { 1000, 100, 10, 1 };
	const char *q = ps->p, *end = ps->end;
	uint64_t sec = 0, frac = 0;
	long eight;
	int nf = 0, neg = 0;

	if (q < end && *q == '-') {
		neg = 1;
		q++;
	}
	if (q >= end || *q < '0' || *q > '9')
		return syntax_error(ps, "a sample time (a number)");
	if (*q == '0') {
		q++;
	} else if (end - q > 8 && (eight = eight_digits(q)) >= 0) {
		sec = (uint64_t)eight;
		q += 8;
		add_digits(&q, end, 7, &sec);
	} else {
		add_digits(&q, end, 15, &sec);
	}
	if (q < end && *q == '.') {
		q++;
		nf = add_digits(&q, end, 3, &frac);
		if (!nf)
			return skip_number(ps);
	}
	if (q < end && ((*q >= '0' && *q <= '9') || *q == 'e' || *q == 'E'))
		return parse_time_slow(ps, t_ms);
	ps->p = q;
	/* at most 15 digits of seconds: cannot overflow */
	*t_ms = (int64_t)(sec * 1000 + frac * scale[nf]);
	if (neg)
		*t_ms = -*t_ms;
	return 0;
}

/*
 * A plain decimal of at most 15 digits ("12.5", "-3", "0.25"), exactly:
 * the mantissa is below 2^53 and the power of ten is exact, so the one
 * rounding of the division gives what strtod gives, many times faster.
 * Returns -1, with nothing done, for anything else.
 */
static int exact_decimal(const char *s, size_t len, double *v)
{
#if FLT_EVAL_METHOD == 0
	static const double pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	};
	const char *q = s, *end = s + len;
	uint64_t m = 0;
	int nd, nf = -1;

	if (q < end && *q == '-')
		q++;
	nd = add_digits(&q, end, 15, &m);
	if (q < end && *q == '.') {
		q++;
		nf = add_digits(&q, end, 15 - nd, &m);
		nd += nf;
	}
	if (q != end || !nd || !nf)
		return -1;
	*v = nf > 0 ? (double)m / pow10[nf] : (double)m;
	if (*s == '-')
		*v = -*v;
	return 0;
#else
	/* wider intermediates (x87) would round twice */
	(void)s, (void)len, (void)v;
	return -1;
#endif
}

/* A sample value: the text of a float, as strtod reads it ("NaN", "+Inf" included). */
static int parse_float(struct parser *ps, const char *s, size_t len, double *v)
{
	char small[64], *text = small, *endp;
	int ret = -1;

	if (!exact_decimal(s, len, v))
		return 0;
	if (!len || *s == ' ' || (*s >= '\t' && *s <= '\r'))
		goto bad;
	if (len >= sizeof(small))
		text = xmalloc(len + 1);
	memcpy(text, s, len);
	text[len] = '\0';
	*v = strtod(text, &endp);
	if (endp != text + len)
		goto bad;
	ret = 0;
	goto out;
bad:
	fail(ps, "unexpected response before byte %zu: sample value '%.*s' is not a number",
	     at_byte(ps), len > 40 ? 40 : (int)len, s);
out:
	if (text != small)
		free(text);
	return ret;
}

/* The inside of a sample, after its '[': time, value, ']'. */
static int parse_point_body(struct parser *ps, int64_t *t_ms, double *v)
{
	const char *s;
	size_t len;

	skip_ws(ps);
	if (parse_time(ps, t_ms) < 0 || expect(ps, ',', "','") < 0)
		return -1;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '"')
		return syntax_error(ps, "a sample value (a string)");
	if (scan_string(ps, &s, &len) < 0 || parse_float(ps, s, len, v) < 0)
		return -1;
	return expect(ps, ']', "']'");
}

/* One sample, [time, "value"], one level below the current one. */
static int parse_point(struct parser *ps, int64_t *t_ms, double *v)
{
	if (peek(ps) != '[')
		return syntax_error(ps, "a sample ('[')");
	if (ps->depth >= MAX_DEPTH)
		return open_nested(ps, '[', "'['");
	ps->p++;
	return parse_point_body(ps, t_ms, v);
}

/* Make room for one more point in s, which holds *cap. */
static void grow_points(struct parser *ps, struct series *s, size_t *cap)
{
	size_t want = *cap ? *cap * 2 : ps->points_hint;
	/* no more points can follow than the rest of the body can spell */
	size_t most = (size_t)(ps->end - ps->p) / MIN_POINT_BYTES + 1;

	if (!*cap && want > most)
		want = most;
	if (want < 16)
		want = 16;
	s->t_ms = xrealloc(s->t_ms, want * sizeof(*s->t_ms));
	s->v = xrealloc(s->v, want * sizeof(*s->v));
	*cap = want;
}

/* "values": [[t, "v"], ...] of a matrix series. */
static int parse_values(struct parser *ps, struct series *s)
{
	size_t cap = 0;
	int first = 1, r;

	if (peek(ps) != '[')
		return shape_error(ps, "\"values\" is not an array");
	if (open_nested(ps, '[', "'['") < 0)
		return -1;
	while ((r = array_next(ps, &first)) > 0) {
		if (s->n == cap)
			grow_points(ps, s, &cap);
		if (parse_point(ps, &s->t_ms[s->n], &s->v[s->n]) < 0)
			return -1;
		s->n++;
	}
	if (r < 0)
		return -1;
	if (cap > s->n && s->n) {
		s->t_ms = xrealloc(s->t_ms, s->n * sizeof(*s->t_ms));
		s->v = xrealloc(s->v, s->n * sizeof(*s->v));
	}
	if (s->n > ps->points_hint)
		ps->points_hint = s->n;
	return 0;
}

/* "metric": {"name": "value", ...}. */
static int parse_labels(struct parser *ps, struct series *s)
{
	size_t alloc = 0;
	const char *k, *v;
	size_t klen, vlen;
	int first = 1, r;

	if (peek(ps) != '{')
		return shape_error(ps, "\"metric\" is not an object");
	if (open_nested(ps, '{', "'{'") < 0)
		return -1;
	while ((r = object_next(ps, &first, &k, &klen)) > 0) {
		char *name = dup_cstring(ps, k, klen, "a label name"), *value;

		if (!name)
			return -1;
		if (peek(ps) != '"') {
			free(name);
			return shape_error(ps, "a label value is not a string");
		}
		if (scan_string(ps, &v, &vlen) < 0 || !(value = dup_cstring(ps, v, vlen, "a label value"))) {
			free(name);
			return -1;
		}
		if (s->nlabels == alloc) {
			alloc = alloc ? alloc * 2 : 8;
			s->labels = xrealloc(s->labels, alloc * sizeof(*s->labels));
		}
		s->labels[s->nlabels].name = name;
		s->labels[s->nlabels].value = value;
		s->nlabels++;
	}
	return r;
}

/* Append an empty series to the result. */
static struct series *new_series(struct parser *ps)
{
	struct series_set *set = ps->out;

	if (set->n == ps->items_alloc) {
		ps->items_alloc = ps->items_alloc ? ps->items_alloc * 2 : 16;
		set->items = xrealloc(set->items, ps->items_alloc * sizeof(*set->items));
	}
	memset(&set->items[set->n], 0, sizeof(set->items[0]));
	return &set->items[set->n++];
}

/* One element of a matrix or vector: {"metric": {...}, "values" or "value": ...}. */
static int parse_series(struct parser *ps)
{
	struct series *s;
	const char *k;
	size_t klen;
	int first = 1, r, has_metric = 0, has_points = 0;

	if (peek(ps) != '{')
		return shape_error(ps, "an element of \"result\" is not an object");
	if (open_nested(ps, '{', "'{'") < 0)
		return -1;
	s = new_series(ps);
	while ((r = object_next(ps, &first, &k, &klen)) > 0) {
		if (is_key(k, klen, "metric")) {
			if (has_metric++)
				return shape_error(ps, "duplicate key \"metric\"");
			r = parse_labels(ps, s);
		} else if (is_key(k, klen, "values") || is_key(k, klen, "value")) {
			if (has_points++)
				return shape_error(ps, "a series has more than one \"value\" or \"values\"");
			if (klen == 5) {
				s->t_ms = xmalloc(sizeof(*s->t_ms));
				s->v = xmalloc(sizeof(*s->v));
				r = parse_point(ps, s->t_ms, s->v);
				s->n = r < 0 ? 0 : 1;
				ps->nvalue++;
			} else {
				r = parse_values(ps, s);
				ps->nvalues++;
			}
		} else {
			r = skip_value(ps);
		}
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (s->nlabels)
		s->labels = xrealloc(s->labels, s->nlabels * sizeof(*s->labels));
	return 0;
}

/* "result": a list of series, [] or null, or a scalar's [time, "value"]. */
static int parse_result(struct parser *ps)
{
	int c, first = 1, r;

	if (ps->seen & SEEN_RESULT)
		return shape_error(ps, "duplicate key \"result\"");
	ps->seen |= SEEN_RESULT;
	c = peek(ps);
	if (c == 'n') {
		ps->result = RESULT_EMPTY;
		return skip_literal(ps, "null");
	}
	if (c != '[')
		return shape_error(ps, "\"result\" is not an array");
	if (open_nested(ps, '[', "'['") < 0)
		return -1;
	c = peek(ps);
	if (c == ']') {
		ps->p++;
		ps->depth--;
		/* a stream took the series out as they came, and left "[]" */
		ps->result = ps->nstreamed ? RESULT_SERIES : RESULT_EMPTY;
		return 0;
	}
	if (c == '{') {
		ps->result = RESULT_SERIES;
		while ((r = array_next(ps, &first)) > 0)
			if (parse_series(ps) < 0)
				return -1;
		return r;
	}
	{
		struct series *s = new_series(ps);

		ps->result = RESULT_PAIR;
		s->t_ms = xmalloc(sizeof(*s->t_ms));
		s->v = xmalloc(sizeof(*s->v));
		if (parse_point_body(ps, s->t_ms, s->v) < 0)
			return -1;
		s->n = 1;
		ps->depth--;
	}
	return 0;
}

/* "data": {"resultType": ..., "result": ...}, or null in some error answers. */
static int parse_data(struct parser *ps)
{
	const char *k;
	size_t klen;
	int first = 1, r;

	if (ps->seen & SEEN_DATA)
		return shape_error(ps, "duplicate key \"data\"");
	ps->seen |= SEEN_DATA;
	if (peek(ps) == 'n') {
		ps->seen |= SEEN_DATA_NULL;
		return skip_literal(ps, "null");
	}
	if (peek(ps) != '{')
		return shape_error(ps, "\"data\" is not an object");
	if (open_nested(ps, '{', "'{'") < 0)
		return -1;
	while ((r = object_next(ps, &first, &k, &klen)) > 0) {
		if (is_key(k, klen, "resultType"))
			r = read_cstring(ps, &ps->result_type, "\"resultType\"");
		else if (is_key(k, klen, "result"))
			r = parse_result(ps);
		else
			r = skip_value(ps);
		if (r < 0)
			return -1;
	}
	return r;
}

/* "warnings": ["...", ...]. */
static int parse_warnings(struct parser *ps)
{
	struct series_set *set = ps->out;
	const char *s;
	size_t len;
	int first = 1, r;

	if (ps->seen & SEEN_WARNINGS)
		return shape_error(ps, "duplicate key \"warnings\"");
	ps->seen |= SEEN_WARNINGS;
	if (peek(ps) == 'n')
		return skip_literal(ps, "null");
	if (peek(ps) != '[')
		return shape_error(ps, "\"warnings\" is not an array");
	if (open_nested(ps, '[', "'['") < 0)
		return -1;
	while ((r = array_next(ps, &first)) > 0) {
		char *w;

		if (peek(ps) != '"')
			return shape_error(ps, "a warning is not a string");
		if (scan_string(ps, &s, &len) < 0 || !(w = dup_cstring(ps, s, len, "a warning")))
			return -1;
		if (set->nwarnings == ps->warnings_alloc) {
			ps->warnings_alloc = ps->warnings_alloc ? ps->warnings_alloc * 2 : 4;
			set->warnings = xrealloc(set->warnings, ps->warnings_alloc * sizeof(*set->warnings));
		}
		set->warnings[set->nwarnings++] = w;
	}
	return r;
}

/* The whole response object, keys in any order. */
static int parse_response(struct parser *ps)
{
	const char *k;
	size_t klen;
	int first = 1, r;

	if (peek(ps) != '{')
		return syntax_error(ps, "a JSON object");
	if (open_nested(ps, '{', "'{'") < 0)
		return -1;
	while ((r = object_next(ps, &first, &k, &klen)) > 0) {
		if (is_key(k, klen, "status"))
			r = read_cstring(ps, &ps->status, "\"status\"");
		else if (is_key(k, klen, "errorType"))
			r = read_cstring(ps, &ps->error_type, "\"errorType\"");
		else if (is_key(k, klen, "error"))
			r = read_cstring(ps, &ps->error_msg, "\"error\"");
		else if (is_key(k, klen, "data"))
			r = parse_data(ps);
		else if (is_key(k, klen, "warnings"))
			r = parse_warnings(ps);
		else
			r = skip_value(ps);
		if (r < 0)
			return -1;
	}
	if (r < 0)
		return -1;
	if (peek(ps) >= 0)
		return syntax_error(ps, "the end of the response");
	return 0;
}

/* Does what was read make sense for its resultType? Called for "success" only. */
static int check_shape(struct parser *ps)
{
	const char *rt = ps->result_type;

	if (!(ps->seen & SEEN_DATA) || (ps->seen & SEEN_DATA_NULL))
		return fail(ps, "unexpected response: no \"data\"");
	if (!rt)
		return fail(ps, "unexpected response: no \"resultType\"");
	if (ps->result == RESULT_NONE)
		return fail(ps, "unexpected response: no \"result\"");
	if (!strcmp(rt, "matrix") || !strcmp(rt, "vector")) {
		int matrix = rt[0] == 'm';

		if (ps->result == RESULT_PAIR)
			return fail(ps, "unexpected response: %s result is not a list of series", rt);
		if (matrix && ps->nvalue)
			return fail(ps, "unexpected response: a matrix series has \"value\" instead of \"values\"");
		if (!matrix && ps->nvalues)
			return fail(ps, "unexpected response: a vector sample has \"values\" instead of \"value\"");
		if (!matrix && ps->nvalue != ps->out->n)
			return fail(ps, "unexpected response: a vector sample has no \"value\""
				    " (native histograms are not supported)");
		return 0;
	}
	if (!strcmp(rt, "scalar")) {
		if (ps->result != RESULT_PAIR)
			return fail(ps, "unexpected response: scalar result is not [time, \"value\"]");
		return 0;
	}
	return fail(ps, "unexpected response: unsupported resultType '%s'", rt);
}

/*
 * Parse body[0..len) as a whole response into ps->out, which may already
 * hold series a stream parsed. Returns 0, or -1 with ps->cause set.
 */
static int parse_document(struct parser *ps, const char *body, size_t len)
{
	struct series_set *out = ps->out;

	if (!len)
		return fail(ps, "empty response");
	ps->body = ps->p = body;
	ps->end = body + len;
	ps->depth = 0;
	if (parse_response(ps) < 0)
		return -1;
	if (!ps->status)
		return fail(ps, "unexpected response: no \"status\"");
	if (!strcmp(ps->status, "error")) {
		if (ps->error_type && ps->error_msg)
			ps->cause = xasprintf("%s: %s", ps->error_type, ps->error_msg);
		else if (ps->error_type || ps->error_msg)
			ps->cause = xstrdup(ps->error_type ? ps->error_type : ps->error_msg);
		else
			ps->cause = xstrdup("query failed without an error message");
		return -1;
	}
	if (strcmp(ps->status, "success"))
		return fail(ps, "unexpected response: status '%s'", ps->status);
	if (check_shape(ps) < 0)
		return -1;
	if (out->n && out->n < ps->items_alloc)
		out->items = xrealloc(out->items, out->n * sizeof(*out->items));
	return 0;
}

static void parser_init(struct parser *ps, struct series_set *out)
{
	memset(out, 0, sizeof(*out));
	memset(ps, 0, sizeof(*ps));
	ps->out = out;
	strbuf_init(&ps->scratch, 0);
}

/* Hand the result over: on failure out is emptied and the cause given to the caller. */
static int parser_finish(struct parser *ps, int ret, char **cause)
{
	if (ret < 0) {
		series_set_release(ps->out);
		if (cause)
			*cause = ps->cause;
		else
			free(ps->cause);
	}
	free(ps->status);
	free(ps->error_type);
	free(ps->error_msg);
	free(ps->result_type);
	strbuf_release(&ps->scratch);
	return ret < 0 ? -1 : 0;
}

int promjson_parse(const char *body, size_t len, struct series_set *out, char **cause)
{
	struct parser ps;

	parser_init(&ps, out);
	return parser_finish(&ps, parse_document(&ps, body, len), cause);
}

/*
 * The stream: a scanner follows the JSON's nesting as bytes come and takes
 * each element of "data"."result" out as soon as its closing brace arrives,
 * parsing it with parse_series; everything else (the "skeleton": status,
 * resultType, warnings, errors, and the result array left as "[]") is kept
 * and parsed by parse_document at the end, so both paths apply one grammar.
 * The scanner only decides where elements start and end; when what it sees
 * is not the usual shape (an escaped key, say) it takes nothing out and the
 * skeleton is the whole response.
 */
enum scan_state {
	SCAN_SKELETON,     /* outside any streamed array */
	SCAN_BEFORE_FIRST, /* just after the "[" of data.result: an element, "]" or no stream */
	SCAN_AFTER_ELEM,   /* after an element: "," or "]" */
	SCAN_AFTER_COMMA,  /* after a ",": the next element */
	SCAN_ELEM,         /* inside an element */
	SCAN_FAILED,       /* an element did not parse: ps.cause says why */
};

#define KEY_MAX 8

struct promjson_stream {
	struct parser ps;
	struct series_set set;
	struct strbuf skeleton;
	struct strbuf elem;        /* the element being received, when it spans chunks */
	size_t total;              /* bytes fed */
	size_t elem_start;         /* offset in the response of that element */
	size_t removed;            /* bytes taken out of the skeleton so far */
	struct gap *gaps;
	size_t ngaps;
	enum scan_state state;
	long depth;                /* nesting outside strings */
	long elem_depth;           /* nesting inside the element */
	int in_string, escaped;
	char container[4];         /* '{' or '[' at depths 1..3 */
	int expect_key[4];         /* at depths 1..2: the next string is a key */
	char key[4][KEY_MAX + 1];  /* at depths 1..2: the last key, if short and plain */
	size_t key_len;
	int key_plain;
};

struct promjson_stream *promjson_stream_new(void)
{
	struct promjson_stream *st = xcalloc(1, sizeof(*st));

	parser_init(&st->ps, &st->set);
	strbuf_init(&st->skeleton, 0);
	strbuf_init(&st->elem, 0);
	return st;
}

void promjson_stream_free(struct promjson_stream *st)
{
	if (!st)
		return;
	parser_finish(&st->ps, -1, NULL);
	strbuf_release(&st->skeleton);
	strbuf_release(&st->elem);
	free(st->gaps);
	free(st);
}

static int is_json_space(int c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Parse the element b[0..n), which starts at offset start of the response. */
static void stream_element(struct promjson_stream *st, const char *b, size_t n, size_t start)
{
	struct parser *ps = &st->ps;

	ps->body = ps->p = b;
	ps->end = b + n;
	ps->base = start;
	ps->depth = 3;
	if (parse_series(ps) < 0 || (ps->p != ps->end && syntax_error(ps, "',' or ']'") < 0)) {
		st->state = SCAN_FAILED;
		return;
	}
	ps->nstreamed++;
	st->removed += n;
}

/* A streamed data.result ended (or the body did): note where it sits in the skeleton, and what went. */
static void stream_gap(struct promjson_stream *st)
{
	if (st->ngaps && st->gaps[st->ngaps - 1].at == st->skeleton.len) {
		st->gaps[st->ngaps - 1].removed = st->removed;
		return;
	}
	st->gaps = xrealloc(st->gaps, (st->ngaps + 1) * sizeof(*st->gaps));
	st->gaps[st->ngaps].at = st->skeleton.len;
	st->gaps[st->ngaps].removed = st->removed;
	st->ngaps++;
}

/* What the element scanner looks for: 1 opens, 2 closes, 3 starts a string. */
static const unsigned char scan_class[256] = {
	['{'] = 1, ['['] = 1, ['}'] = 2, [']'] = 2, ['"'] = 3,
};

/* Inside an element: find where it ends in d[i..n), or n. Returns the index after its closing brace. */
static size_t scan_element(struct promjson_stream *st, const unsigned char *d, size_t i, size_t n, int *closed)
{
	long depth = st->elem_depth;

	*closed = 0;
	if (st->in_string)
		goto in_string;
	while (i < n) {
		unsigned char k = scan_class[d[i++]];

		if (!k)
			continue;
		if (k == 1) {
			depth++;
		} else if (k == 2) {
			if (--depth == 0) {
				*closed = 1;
				break;
			}
		} else {
in_string:
			/* to the closing quote, stepping over escapes (also when one was cut off by the piece's end) */
			if (st->escaped && i < n) {
				st->escaped = 0;
				i++;
			}
			while (i < n && d[i] != '"') {
				if (d[i] == '\\' && ++i == n) {
					st->escaped = 1;
					break;
				}
				i++;
			}
			if (i == n) {
				st->in_string = 1;
				break;
			}
			st->in_string = 0;
			i++;
		}
	}
	st->elem_depth = depth;
	return i;
}

/* One byte of the skeleton: track strings, nesting, and the keys at depths 1 and 2. */
static void skeleton_byte(struct promjson_stream *st, unsigned char c)
{
	if (st->in_string) {
		if (st->escaped) {
			st->escaped = 0;
			st->key_plain = 0;
		} else if (c == '\\') {
			st->escaped = 1;
			st->key_plain = 0;
		} else if (c == '"') {
			st->in_string = 0;
			if (st->depth >= 1 && st->depth <= 2 && st->expect_key[st->depth]) {
				st->expect_key[st->depth] = 0;
				if (st->key_plain && st->key_len <= KEY_MAX)
					st->key[st->depth][st->key_len] = '\0';
				else
					st->key[st->depth][0] = '\0';
			}
		} else if (st->depth >= 1 && st->depth <= 2 && st->expect_key[st->depth]) {
			if (st->key_len < KEY_MAX)
				st->key[st->depth][st->key_len] = (char)c;
			st->key_len++;
		}
		return;
	}
	switch (c) {
	case '"':
		st->in_string = 1;
		st->key_len = 0;
		st->key_plain = 1;
		break;
	case '{':
	case '[':
		st->depth++;
		if (st->depth >= 1 && st->depth <= 3) {
			st->container[st->depth] = (char)c;
			if (st->depth <= 2) {
				st->expect_key[st->depth] = c == '{';
				st->key[st->depth][0] = '\0';
			}
		}
		if (st->depth == 3 && c == '[' && st->container[1] == '{' && st->container[2] == '{' &&
		    !strcmp(st->key[1], "data") && !strcmp(st->key[2], "result"))
			st->state = SCAN_BEFORE_FIRST;
		break;
	case '}':
	case ']':
		st->depth--;
		break;
	case ',':
		if (st->depth >= 1 && st->depth <= 2 && st->container[st->depth] == '{')
			st->expect_key[st->depth] = 1;
		break;
	default:
		break;
	}
}

void promjson_stream_feed(struct promjson_stream *st, const char *data, size_t len)
{
	const unsigned char *d = (const unsigned char *)data;
	size_t i = 0;

	while (i < len && st->state != SCAN_FAILED) {
		unsigned char c = d[i];

		switch (st->state) {
		case SCAN_SKELETON: {
			size_t from = i;

			while (i < len && st->state == SCAN_SKELETON)
				skeleton_byte(st, d[i++]);
			strbuf_add(&st->skeleton, data + from, i - from);
			break;
		}
		case SCAN_BEFORE_FIRST:
		case SCAN_AFTER_ELEM:
		case SCAN_AFTER_COMMA:
			if (is_json_space(c)) {
				if (st->state == SCAN_BEFORE_FIRST) {
					strbuf_addch(&st->skeleton, (char)c);
				} else {
					st->removed++;
				}
				i++;
			} else if (c == '{' && st->state != SCAN_AFTER_ELEM) {
				st->state = SCAN_ELEM;
				st->elem_depth = 0;
				st->elem_start = st->total + i;
			} else if (c == ',' && st->state == SCAN_AFTER_ELEM) {
				st->state = SCAN_AFTER_COMMA;
				st->removed++;
				i++;
			} else if (c == ']' && st->state != SCAN_AFTER_COMMA) {
				if (st->state != SCAN_BEFORE_FIRST)
					stream_gap(st);
				st->state = SCAN_SKELETON;
			} else {
				/* not a list of objects (a scalar's pair, or bad JSON): leave it to parse_document */
				if (st->state == SCAN_BEFORE_FIRST) {
					st->state = SCAN_SKELETON;
				} else {
					st->ps.body = st->ps.p = data + i;
					st->ps.end = data + len;
					st->ps.base = st->total + i;
					syntax_error(&st->ps, st->state == SCAN_AFTER_ELEM ? "',' or ']'" : "'{'");
					st->state = SCAN_FAILED;
				}
			}
			break;
		case SCAN_ELEM: {
			size_t from = i;
			int closed;

			i = scan_element(st, d, i, len, &closed);
			if (!closed) {
				strbuf_add(&st->elem, data + from, i - from);
			} else if (!st->elem.len) {
				stream_element(st, data + from, i - from, st->elem_start);
				if (st->state != SCAN_FAILED)
					st->state = SCAN_AFTER_ELEM;
			} else {
				strbuf_add(&st->elem, data + from, i - from);
				stream_element(st, st->elem.buf, st->elem.len, st->elem_start);
				strbuf_reset(&st->elem);
				if (st->state != SCAN_FAILED)
					st->state = SCAN_AFTER_ELEM;
			}
			break;
		}
		case SCAN_FAILED:
			break;
		}
	}
	st->total += len;
}

const char *promjson_stream_text(const struct promjson_stream *st)
{
	return st->skeleton.len ? st->skeleton.buf : "";
}

int promjson_stream_finish(struct promjson_stream *st, struct series_set *out, char **cause)
{
	struct parser *ps = &st->ps;
	int ret = -1;

	if (st->state == SCAN_AFTER_ELEM || st->state == SCAN_AFTER_COMMA)
		stream_gap(st);
	if (st->state == SCAN_FAILED) {
		ret = -1;
	} else if (st->state == SCAN_ELEM) {
		ps->p = ps->end = ps->body = st->elem.buf;
		ps->base = st->elem_start + st->elem.len;
		ps->gaps = NULL;
		ps->ngaps = 0;
		fail(ps, "truncated response: the body ends at byte %zu, inside a series", st->total);
	} else {
		ps->base = 0;
		ps->gaps = st->gaps;
		ps->ngaps = st->ngaps;
		ret = parse_document(ps, st->skeleton.buf, st->skeleton.len);
	}
	ret = parser_finish(ps, ret, cause);
	*out = st->set;
	memset(&st->set, 0, sizeof(st->set));
	/* the parser is finished: make promjson_stream_free release only the buffers */
	parser_init(&st->ps, &st->set);
	return ret;
}
