/*
 * libFuzzer target: the /metrics parser. Whatever it accepts, written back
 * as text 0.0.4 (names, escaped label values, values, timestamps), must
 * parse again to the same samples, byte by byte.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect/exposition.h"
#include "lib/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_back(const struct exposition *e, struct strbuf *sb)
{
	for (size_t i = 0; i < e->n; i++) {
		const struct expo_sample *s = &e->samples[i];

		strbuf_addstr(sb, s->name);
		strbuf_addch(sb, '{');
		for (size_t j = 0; j < s->nlabels; j++) {
			strbuf_addf(sb, "%s=\"", s->labels[j].name);
			for (const char *p = s->labels[j].value; *p; p++) {
				if (*p == '\\' || *p == '"')
					strbuf_addch(sb, '\\');
				strbuf_add(sb, *p == '\n' ? "\\n" : p, *p == '\n' ? 2 : 1);
			}
			strbuf_addstr(sb, "\",");
		}
		if (isnan(s->value))
			strbuf_addstr(sb, "} NaN");
		else if (isinf(s->value))
			strbuf_addstr(sb, s->value > 0 ? "} +Inf" : "} -Inf");
		else
			strbuf_addf(sb, "} %.17g", s->value);
		if (s->has_timestamp)
			strbuf_addf(sb, " %lld", (long long)s->t_ms);
		strbuf_addch(sb, '\n');
	}
}

static void check_same(const struct exposition *a, const struct exposition *b)
{
	if (a->n != b->n)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct expo_sample *x = &a->samples[i], *y = &b->samples[i];

		if (strcmp(x->name, y->name) || x->nlabels != y->nlabels || x->has_timestamp != y->has_timestamp ||
		    (x->has_timestamp && x->t_ms != y->t_ms))
			abort();
		if (isnan(x->value) ? !isnan(y->value) : x->value != y->value)
			abort();
		for (size_t j = 0; j < x->nlabels; j++)
			if (strcmp(x->labels[j].name, y->labels[j].name) || strcmp(x->labels[j].value, y->labels[j].value))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct exposition e, again;
	struct strbuf sb = STRBUF_INIT;
	char *cause = NULL;

	if (exposition_parse((const char *)data, size, &e, &cause) < 0) {
		if (!cause)
			abort();
		free(cause);
		return 0;
	}
	write_back(&e, &sb);
	if (exposition_parse(sb.buf, sb.len, &again, &cause) < 0) {
		fprintf(stderr, "written back, it does not parse: %s\n%s", cause, sb.buf);
		abort();
	}
	check_same(&e, &again);
	exposition_release(&again);
	exposition_release(&e);
	strbuf_release(&sb);
	return 0;
}
