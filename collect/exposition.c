#include "collect/exposition.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* Where the parser is: the current line [p, end) and the family a TYPE line last named. */
struct expo_parser {
	const char *p, *end;
	size_t line;
	int om;
	char *family;
	enum expo_type family_type;
	struct exposition *out;
	size_t alloc;
	char *cause;
};

static const struct {
	const char *word;
	enum expo_type type;
} type_words[] = {
	{ "counter", EXPO_COUNTER },     { "gauge", EXPO_GAUGE },
	{ "histogram", EXPO_HISTOGRAM }, { "gaugehistogram", EXPO_GAUGEHISTOGRAM },
	{ "summary", EXPO_SUMMARY },     { "info", EXPO_INFO },
	{ "stateset", EXPO_STATESET },   { "untyped", EXPO_UNTYPED },
	{ "unknown", EXPO_UNTYPED },
};

/* The suffixes a family's samples may add to its name, by type; "_created" is a time. */
static const struct {
	enum expo_type type;
	const char *suffix;
} family_suffixes[] = {
	{ EXPO_COUNTER, "_total" },          { EXPO_COUNTER, "_created" },
	{ EXPO_HISTOGRAM, "_bucket" },       { EXPO_HISTOGRAM, "_count" },
	{ EXPO_HISTOGRAM, "_sum" },          { EXPO_HISTOGRAM, "_created" },
	{ EXPO_GAUGEHISTOGRAM, "_bucket" },  { EXPO_GAUGEHISTOGRAM, "_gcount" },
	{ EXPO_GAUGEHISTOGRAM, "_gsum" },    { EXPO_SUMMARY, "_count" },
	{ EXPO_SUMMARY, "_sum" },            { EXPO_SUMMARY, "_created" },
	{ EXPO_INFO, "_info" },
};

static int fail(struct expo_parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct expo_parser *ps, const char *fmt, ...)
{
	va_list ap;
	char *what;

	if (ps->cause)
		return -1;
	va_start(ap, fmt);
	what = xvasprintf(fmt, ap);
	va_end(ap);
	ps->cause = xasprintf("line %zu: %s", ps->line, what);
	free(what);
	return -1;
}

static int is_name_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(int c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Skip blanks: any run of spaces and tabs in text 0.0.4, one space in OpenMetrics. */
static int skip_blanks(struct expo_parser *ps)
{
	const char *start = ps->p;

	if (ps->om) {
		if (ps->p < ps->end && *ps->p == ' ')
			ps->p++;
	} else {
		while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
			ps->p++;
	}
	return ps->p > start;
}

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), or a label name (no colons). Caller frees. */
static char *parse_name(struct expo_parser *ps, int metric)
{
	const char *start = ps->p;

	if (ps->p < ps->end && (is_name_start(*ps->p) || (metric && *ps->p == ':')))
		ps->p++;
	else
		return NULL;
	while (ps->p < ps->end && (is_name_char(*ps->p) || (metric && *ps->p == ':')))
		ps->p++;
	return xstrndup(start, (size_t)(ps->p - start));
}

/* A quoted label value, unescaped as Prometheus does. Caller frees; NULL after fail(). */
static char *parse_label_value(struct expo_parser *ps)
{
	struct strbuf sb = STRBUF_INIT;

	if (ps->p >= ps->end || *ps->p != '"') {
		fail(ps, "expected '\"' to open a label value");
		return NULL;
	}
	for (ps->p++; ps->p < ps->end && *ps->p != '"'; ps->p++) {
		if (*ps->p != '\\') {
			strbuf_addch(&sb, *ps->p);
			continue;
		}
		if (++ps->p >= ps->end)
			break;
		if (*ps->p == 'n')
			strbuf_addch(&sb, '\n');
		else if (*ps->p == '\\' || *ps->p == '"')
			strbuf_addch(&sb, *ps->p);
		else {
			strbuf_addch(&sb, '\\');
			strbuf_addch(&sb, *ps->p);
		}
	}
	if (ps->p >= ps->end) {
		strbuf_release(&sb);
		fail(ps, "unterminated label value");
		return NULL;
	}
	ps->p++;
	return strbuf_detach(&sb, NULL);
}

static void labels_free(struct label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(labels[i].name);
		free(labels[i].value);
	}
	free(labels);
}

/* "{name="value",...}" (a trailing comma allowed), at p. */
static int parse_labels(struct expo_parser *ps, struct label **labels, size_t *n)
{
	*labels = NULL;
	*n = 0;
	ps->p++;
	for (;;) {
		char *name, *value;

		if (!ps->om)
			skip_blanks(ps);
		if (ps->p < ps->end && *ps->p == '}')
			break;
		name = parse_name(ps, 0);
		if (!name)
			return fail(ps, "expected a label name or '}'");
		for (size_t i = 0; i < *n; i++)
			if (!strcmp((*labels)[i].name, name)) {
				free(name);
				return fail(ps, "label '%s' given twice", (*labels)[i].name);
			}
		if (!ps->om)
			skip_blanks(ps);
		if (ps->p >= ps->end || *ps->p != '=') {
			free(name);
			return fail(ps, "expected '=' after a label name");
		}
		ps->p++;
		if (!ps->om)
			skip_blanks(ps);
		value = parse_label_value(ps);
		if (!value) {
			free(name);
			return -1;
		}
		*labels = xrealloc(*labels, (*n + 1) * sizeof(**labels));
		(*labels)[*n].name = name;
		(*labels)[(*n)++].value = value;
		if (!ps->om)
			skip_blanks(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p >= ps->end || *ps->p != '}')
			return fail(ps, "expected ',' or '}' after a label value");
	}
	ps->p++;
	return 0;
}

/* The next run of non-blank characters. */
static size_t token(const struct expo_parser *ps)
{
	const char *q = ps->p;

	while (q < ps->end && *q != ' ' && *q != '\t')
		q++;
	return (size_t)(q - ps->p);
}

/* A float as Go's ParseFloat reads it (NaN, ±Inf in any case, hex floats), the whole token. */
static int parse_float(struct expo_parser *ps, const char *what, double *v)
{
	size_t len = token(ps);
	char buf[64], *endp;

	if (!len || len >= sizeof(buf) || memchr(ps->p, '(', len))
		return fail(ps, "invalid %s '%.*s'", what, (int)(len < 40 ? len : 40), ps->p);
	memcpy(buf, ps->p, len);
	buf[len] = '\0';
	*v = strtod(buf, &endp);
	if (*endp)
		return fail(ps, "invalid %s '%s'", what, buf);
	ps->p += len;
	return 0;
}

/* A timestamp: integer milliseconds in text 0.0.4, seconds in OpenMetrics. */
static int parse_timestamp(struct expo_parser *ps, int64_t *t_ms)
{
	size_t len = token(ps);
	char buf[64], *endp;
	double s;

	if (!len || len >= sizeof(buf))
		return fail(ps, "invalid timestamp");
	memcpy(buf, ps->p, len);
	buf[len] = '\0';
	if (ps->om) {
		s = strtod(buf, &endp);
		if (*endp || !isfinite(s) || fabs(s) > 9.2e15 || memchr(buf, 'x', len) || memchr(buf, 'X', len))
			return fail(ps, "invalid timestamp '%s'", buf);
		*t_ms = (int64_t)llround(s * 1000.0);
	} else {
		long long ms = strtoll(buf, &endp, 10);

		if (*endp || endp == buf)
			return fail(ps, "invalid timestamp '%s'", buf);
		*t_ms = (int64_t)ms;
	}
	ps->p += len;
	return 0;
}

/* An OpenMetrics exemplar, " # {labels} value [timestamp]", checked and dropped. */
static int parse_exemplar(struct expo_parser *ps)
{
	struct label *labels;
	size_t n, len = 0;
	double v;
	int64_t t;
	int ret = -1;

	if (ps->p >= ps->end || *ps->p != '{')
		return fail(ps, "expected '{' to open an exemplar's labels");
	if (parse_labels(ps, &labels, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		len += strlen(labels[i].name) + strlen(labels[i].value);
	if (len > 128) {
		fail(ps, "an exemplar's labels are longer than 128 characters");
		goto out;
	}
	if (!skip_blanks(ps) || parse_float(ps, "exemplar value", &v) < 0)
		goto out;
	if (skip_blanks(ps) && ps->p < ps->end && parse_timestamp(ps, &t) < 0)
		goto out;
	ret = 0;
out:
	labels_free(labels, n);
	return ret;
}

/* The type of sample name in the family a TYPE line last named; sets *created for <family>_created. */
static enum expo_type sample_type(const struct expo_parser *ps, const char *name, int *created)
{
	size_t flen;

	*created = 0;
	if (!ps->family)
		return EXPO_UNTYPED;
	if (!strcmp(name, ps->family))
		return ps->family_type;
	flen = strlen(ps->family);
	if (strncmp(name, ps->family, flen))
		return EXPO_UNTYPED;
	for (size_t i = 0; i < sizeof(family_suffixes) / sizeof(family_suffixes[0]); i++)
		if (family_suffixes[i].type == ps->family_type && !strcmp(name + flen, family_suffixes[i].suffix)) {
			*created = !strcmp(family_suffixes[i].suffix, "_created");
			return ps->family_type;
		}
	return EXPO_UNTYPED;
}

static int parse_sample(struct expo_parser *ps)
{
	struct expo_sample s = { 0 };
	int ret = -1, blank;

	s.name = parse_name(ps, 1);
	if (!s.name)
		return fail(ps, "expected a metric name");
	blank = ps->om ? 0 : skip_blanks(ps);
	if (ps->p < ps->end && *ps->p == '{') {
		if (parse_labels(ps, &s.labels, &s.nlabels) < 0)
			goto out;
		blank = skip_blanks(ps);
	} else if (ps->om) {
		blank = skip_blanks(ps);
	}
	if (!blank) {
		fail(ps, "expected a blank before the value");
		goto out;
	}
	if (parse_float(ps, "value", &s.value) < 0)
		goto out;
	skip_blanks(ps);
	if (ps->p < ps->end && *ps->p != '#') {
		if (parse_timestamp(ps, &s.t_ms) < 0)
			goto out;
		s.has_timestamp = 1;
		skip_blanks(ps);
	}
	if (ps->p < ps->end && *ps->p == '#') {
		if (!ps->om) {
			fail(ps, "unexpected '#' after a sample (exemplars are OpenMetrics only)");
			goto out;
		}
		ps->p++;
		if (!skip_blanks(ps) || parse_exemplar(ps) < 0) {
			fail(ps, "invalid exemplar");
			goto out;
		}
	}
	if (!ps->om)
		skip_blanks(ps);
	if (ps->p != ps->end) {
		fail(ps, "unexpected '%c' at the end of a sample", *ps->p);
		goto out;
	}
	s.type = sample_type(ps, s.name, &s.created);
	if (ps->out->n == ps->alloc) {
		ps->alloc = ps->alloc ? 2 * ps->alloc : 64;
		ps->out->samples = xrealloc(ps->out->samples, ps->alloc * sizeof(*ps->out->samples));
	}
	ps->out->samples[ps->out->n++] = s;
	memset(&s, 0, sizeof(s));
	ret = 0;
out:
	free(s.name);
	labels_free(s.labels, s.nlabels);
	return ret;
}

/* "# HELP", "# TYPE", "# UNIT", "# EOF" or (text 0.0.4 only) any other comment. */
static int parse_comment(struct expo_parser *ps)
{
	char kind[5] = "";
	size_t len;
	char *name = NULL;
	int ret = -1;

	ps->p++;
	if (!skip_blanks(ps))
		return ps->om ? fail(ps, "a comment must be '# HELP', '# TYPE', '# UNIT' or '# EOF'") : 0;
	len = token(ps);
	if (len == 4)
		memcpy(kind, ps->p, 4);
	if (strcmp(kind, "HELP") && strcmp(kind, "TYPE") && !(ps->om && !strcmp(kind, "UNIT")))
		return ps->om ? fail(ps, "a comment must be '# HELP', '# TYPE', '# UNIT' or '# EOF'") : 0;
	ps->p += 4;
	if (!skip_blanks(ps))
		return fail(ps, "expected a blank and a metric name after '# %s'", kind);
	name = parse_name(ps, 1);
	if (!name)
		return fail(ps, "expected a metric name after '# %s'", kind);
	if (ps->p < ps->end && !skip_blanks(ps)) {
		fail(ps, "expected a blank after the metric name in '# %s'", kind);
		goto out;
	}
	if (!strcmp(kind, "TYPE")) {
		size_t i, n = sizeof(type_words) / sizeof(type_words[0]);

		len = token(ps);
		for (i = 0; i < n; i++)
			if (strlen(type_words[i].word) == len && !memcmp(ps->p, type_words[i].word, len) &&
			    (ps->om ? strcmp(type_words[i].word, "untyped") : strcmp(type_words[i].word, "unknown")))
				break;
		if (i == n) {
			fail(ps, "unknown type '%.*s'", (int)(len < 40 ? len : 40), ps->p);
			goto out;
		}
		ps->p += len;
		if (!ps->om)
			skip_blanks(ps);
		if (ps->p != ps->end) {
			fail(ps, "text after the type in '# TYPE'");
			goto out;
		}
		free(ps->family);
		ps->family = name;
		ps->family_type = type_words[i].type;
		name = NULL;
	}
	/* HELP's docstring and UNIT's unit are free text: nothing here needs them */
	ret = 0;
out:
	free(name);
	return ret;
}

/* The next line into [p, end); 0 at the end of the text. */
static int next_line(struct expo_parser *ps, const char **next, const char *text_end)
{
	const char *nl;

	if (*next >= text_end)
		return 0;
	ps->p = *next;
	nl = memchr(ps->p, '\n', (size_t)(text_end - ps->p));
	ps->end = nl ? nl : text_end;
	*next = nl ? nl + 1 : text_end;
	ps->line++;
	return 1;
}

/* Does the text's last line read "# EOF" (then it is OpenMetrics)? */
static int ends_with_eof(const char *text, size_t len)
{
	if (len && text[len - 1] == '\n')
		len--;
	return len >= 5 && !memcmp(text + len - 5, "# EOF", 5) && (len == 5 || text[len - 6] == '\n');
}

int exposition_parse(const char *text, size_t len, struct exposition *out, char **cause)
{
	struct expo_parser ps = { 0 };
	const char *next = text, *text_end = text + len;
	int ret = -1, eof = 0;

	memset(out, 0, sizeof(*out));
	*cause = NULL;
	ps.out = out;
	ps.om = ends_with_eof(text, len);
	out->openmetrics = ps.om;
	if (memchr(text, '\0', len)) {
		*cause = xstrdup("a NUL byte in the text");
		goto out;
	}
	while (!eof && next_line(&ps, &next, text_end)) {
		if (!ps.om)
			skip_blanks(&ps);
		if (ps.p == ps.end) {
			if (ps.om) {
				fail(&ps, "an empty line");
				goto out;
			}
			continue;
		}
		eof = ps.om && ps.end - ps.p == 5 && !memcmp(ps.p, "# EOF", 5);
		if (eof && next < text_end) {
			fail(&ps, "'# EOF' before the end");
			goto out;
		}
		if (!eof && (*ps.p == '#' ? parse_comment(&ps) : parse_sample(&ps)) < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0) {
		*cause = ps.cause ? ps.cause : *cause;
		ps.cause = NULL;
		exposition_release(out);
	}
	free(ps.cause);
	free(ps.family);
	return ret;
}

const char *expo_label(const struct expo_sample *s, const char *name)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (!strcmp(s->labels[i].name, name))
			return s->labels[i].value;
	return NULL;
}

void exposition_release(struct exposition *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->samples[i].name);
		labels_free(e->samples[i].labels, e->samples[i].nlabels);
	}
	free(e->samples);
	memset(e, 0, sizeof(*e));
}
