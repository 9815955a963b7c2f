/*
 * libFuzzer target: the Prometheus query response parser, on the raw bytes
 * (no NUL), whole and as a stream. The stream is fed in pieces whose sizes
 * come from the input, and must give what the whole parse gives: success
 * or failure, and every series, label and point.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/promjson.h"
#include "lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_value(double a, double b)
{
	return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof(a)) == 0;
}

static void check_same(const struct series_set *a, const struct series_set *b)
{
	if (a->n != b->n || a->nwarnings != b->nwarnings)
		abort();
	for (size_t i = 0; i < a->nwarnings; i++)
		if (strcmp(a->warnings[i], b->warnings[i]))
			abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct series *x = &a->items[i], *y = &b->items[i];

		if (x->n != y->n || x->nlabels != y->nlabels)
			abort();
		for (size_t j = 0; j < x->nlabels; j++)
			if (strcmp(x->labels[j].name, y->labels[j].name) || strcmp(x->labels[j].value, y->labels[j].value))
				abort();
		for (size_t j = 0; j < x->n; j++)
			if (x->t_ms[j] != y->t_ms[j] || !same_value(x->v[j], y->v[j]))
				abort();
	}
}

/* Feed body to a stream piece bytes at a time and check it against the whole parse. */
static void check_stream(const char *body, size_t size, size_t piece, int whole_ret, const struct series_set *whole)
{
	struct promjson_stream *st = promjson_stream_new();
	struct series_set streamed;
	char *cause = NULL;
	int ret;

	for (size_t at = 0; at < size; at += piece) {
		size_t n = size - at < piece ? size - at : piece;
		/* each piece in a buffer of its own, so the stream cannot read past it */
		char *copy = xmalloc(n);

		memcpy(copy, body + at, n);
		promjson_stream_feed(st, copy, n);
		free(copy);
	}
	ret = promjson_stream_finish(st, &streamed, &cause);
	if (ret != whole_ret || (ret < 0 && !cause))
		abort();
	if (ret == 0)
		check_same(whole, &streamed);
	promjson_stream_free(st);
	series_set_release(&streamed);
	free(cause);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so reading past the body is caught. */
	char *body = xmalloc(size ? size : 1);
	struct series_set whole;
	char *cause = NULL;
	int ret;

	memcpy(body, data, size);
	ret = promjson_parse(body, size, &whole, &cause);
	check_stream(body, size, 1, ret, &whole);
	check_stream(body, size, size ? (size * 7 + (size_t)data[size / 2]) % 97 + 2 : 1, ret, &whole);
	series_set_release(&whole);
	free(cause);
	free(body);
	return 0;
}
