/*
 * libFuzzer target: the remote read answer decoder (collect/remoteread.h).
 * The input is a sequence of frames, each a 2-byte big-endian length and a
 * ChunkedReadResponse message; the target frames them as Prometheus does
 * (uvarint length, CRC-32C), so the fuzzer explores the messages and
 * chunks rather than the checksum. Fed whole and three bytes at a time,
 * the stream must give the same series, sample for sample, or fail both
 * times. An input starting with 's' is a selector for remoteread_request
 * instead, which must not crash and, when it takes it, make a body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/remoteread.h"
#include "lib/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0x82f63b78u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

struct got {
	struct series_set set;
};

static void got_begin(void *ctx, const struct label *labels, size_t n)
{
	struct series_set *set = ctx;
	struct series *s;

	set->items = realloc(set->items, (set->n + 1) * sizeof(*set->items));
	if (!set->items)
		abort();
	s = &set->items[set->n++];
	memset(s, 0, sizeof(*s));
	s->labels = calloc(n + 1, sizeof(*s->labels));
	for (size_t i = 0; i < n; i++) {
		s->labels[i].name = strdup(labels[i].name);
		s->labels[i].value = strdup(labels[i].value);
	}
	s->nlabels = n;
}

static void got_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct series_set *set = ctx;
	struct series *s = &set->items[set->n - 1];

	if (!n)
		abort(); /* batches are never empty */
	s->t_ms = realloc(s->t_ms, (s->n + n) * sizeof(*s->t_ms));
	s->v = realloc(s->v, (s->n + n) * sizeof(*s->v));
	if (!s->t_ms || !s->v)
		abort();
	memcpy(s->t_ms + s->n, t, n * sizeof(*t));
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
}

static void got_end(void *ctx)
{
	(void)ctx;
}

static int decode(const char *body, size_t len, size_t piece, struct series_set *set)
{
	const struct remoteread_sink sink = { got_begin, got_samples, got_end, set };
	struct remoteread_stream *st = remoteread_stream_new(INT64_MIN / 2, INT64_MAX / 2, len & 1, &sink);
	char *err = NULL;
	int ret;

	for (size_t at = 0; at < len; at += piece)
		remoteread_stream_feed(st, body + at, len - at < piece ? len - at : piece);
	ret = remoteread_stream_finish(st, &err);
	free(err);
	remoteread_stream_free(st);
	return ret;
}

static void same(const struct series_set *a, const struct series_set *b)
{
	if (a->n != b->n)
		abort();
	for (size_t i = 0; i < a->n; i++) {
		const struct series *x = &a->items[i], *y = &b->items[i];

		if (x->n != y->n || x->nlabels != y->nlabels ||
		    memcmp(x->t_ms, y->t_ms, x->n * sizeof(int64_t)) || memcmp(x->v, y->v, x->n * sizeof(double)))
			abort();
		for (size_t j = 0; j < x->nlabels; j++)
			if (strcmp(x->labels[j].name, y->labels[j].name) || strcmp(x->labels[j].value, y->labels[j].value))
				abort();
		for (size_t j = 1; j < x->n; j++)
			if (x->t_ms[j] <= x->t_ms[j - 1])
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf body = STRBUF_INIT;
	struct series_set whole = { 0 }, pieces = { 0 };
	int a, b;

	if (size && data[0] == 's') {
		char *sel = strndup((const char *)data + 1, size - 1), *err = NULL, *req;
		size_t len = 0;

		req = remoteread_request(sel, 0, 1000, &len, &err);
		if (req && !len)
			abort();
		free(req);
		free(err);
		free(sel);
		return 0;
	}
	for (size_t at = 0; at + 2 <= size;) {
		size_t n = (size_t)data[at] << 8 | data[at + 1];
		uint32_t crc;
		uint64_t v;

		at += 2;
		n = n < size - at ? n : size - at;
		for (v = n; v >= 0x80; v >>= 7)
			strbuf_addch(&body, (int)(v & 0x7f) | 0x80);
		strbuf_addch(&body, (int)v);
		crc = crc32c(data + at, n);
		for (int k = 3; k >= 0; k--)
			strbuf_addch(&body, (int)(crc >> (8 * k)) & 0xff);
		strbuf_add(&body, data + at, n);
		at += n;
	}
	a = decode(body.buf, body.len, body.len ? body.len : 1, &whole);
	b = decode(body.buf, body.len, 3, &pieces);
	if (a != b)
		abort();
	same(&whole, &pieces);
	series_set_release(&whole);
	series_set_release(&pieces);
	strbuf_release(&body);
	return 0;
}
