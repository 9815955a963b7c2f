#include "collect/query.h"

#include <stdlib.h>
#include <string.h>

#include "collect/promjson.h"
#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

#define RETRIES_503 6

static char *range_url(const char *base, const char *promql, const struct kpi_window *w)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "%s/api/v1/query_range?query=", base);
	strbuf_add_urlencoded(&sb, promql);
	strbuf_addf(&sb, "&start=%lld.%03lld&end=%lld.%03lld&step=%lld.%03lld", (long long)(w->start_ms / 1000),
		    (long long)(w->start_ms % 1000), (long long)(w->end_ms / 1000), (long long)(w->end_ms % 1000),
		    (long long)(w->step_ms / 1000), (long long)(w->step_ms % 1000));
	return strbuf_detach(&sb, NULL);
}

static struct query *query_new(struct query_list *l, const char *kpi, char *promql, const char *endpoint)
{
	struct query *q;

	l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
	q = &l->items[l->n++];
	memset(q, 0, sizeof(*q));
	q->kpi = kpi;
	q->promql = promql;
	q->endpoint = endpoint;
	return q;
}

size_t query_add_range(struct query_list *l, const char *kpi, char *promql, const char *base,
		       const struct kpi_window *w)
{
	struct query *q = query_new(l, kpi, promql, "/api/v1/query_range");

	q->url = range_url(base, promql, w);
	q->start_ms = w->start_ms;
	q->end_ms = w->end_ms;
	q->step_ms = w->step_ms;
	return l->n - 1;
}

size_t query_add_instant(struct query_list *l, const char *kpi, char *promql, const char *base, int64_t at_ms)
{
	struct strbuf sb = STRBUF_INIT;
	struct query *q = query_new(l, kpi, promql, "/api/v1/query");

	q->at_ms = at_ms;
	strbuf_addf(&sb, "%s/api/v1/query?query=", base);
	strbuf_add_urlencoded(&sb, promql);
	strbuf_addf(&sb, "&time=%lld.%03lld", (long long)(at_ms / 1000), (long long)(at_ms % 1000));
	q->url = strbuf_detach(&sb, NULL);
	return l->n - 1;
}

size_t query_add_raw(struct query_list *l, const char *kpi, const char *selector, const char *base,
		     const struct kpi_window *w, int64_t margin_ms)
{
	int64_t at = w->end_ms + margin_ms, range = at - (w->from_ms - margin_ms);

	return query_add_instant(l, kpi, xasprintf("%s[%lldms]", selector, (long long)range), base, at);
}

size_t query_add_read(struct query_list *l, const char *kpi, char *selector, const char *base, int64_t start_ms,
		      int64_t end_ms, const struct remoteread_sink *sink)
{
	char *err = NULL;
	size_t len;
	char *body = remoteread_request(selector, start_ms, end_ms, &len, &err);
	struct query *q;

	if (!body) {
		free(err);
		free(selector);
		return (size_t)-1;
	}
	q = query_new(l, kpi, selector, REMOTEREAD_PATH);
	q->url = xasprintf("%s%s", base, REMOTEREAD_PATH);
	q->start_ms = start_ms;
	q->end_ms = end_ms;
	q->read_body = body;
	q->read_len = len;
	q->sink = sink;
	return l->n - 1;
}

/* A remote read's series kept whole: samples appended as they come, the series added to data at its end. */
struct whole_sink {
	struct query *q;
	struct series cur;
	size_t cap;
};

static void whole_begin(void *ctx, const struct label *labels, size_t n)
{
	struct whole_sink *w = ctx;

	series_copy_labels(&w->cur, labels, n, 1);
}

static void whole_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct whole_sink *w = ctx;
	struct series *s = &w->cur;

	if (s->n + n > w->cap) {
		w->cap = w->cap * 2 > s->n + n ? w->cap * 2 : s->n + n;
		s->t_ms = xrealloc(s->t_ms, w->cap * sizeof(*s->t_ms));
		s->v = xrealloc(s->v, w->cap * sizeof(*s->v));
	}
	memcpy(s->t_ms + s->n, t, n * sizeof(*t));
	memcpy(s->v + s->n, v, n * sizeof(*v));
	s->n += n;
}

static void whole_end(void *ctx)
{
	struct whole_sink *w = ctx;
	struct series_set *set = &w->q->data;
	struct series *s = &w->cur;

	/* the arrays grew by doubling; what stays is held until collect ends */
	s->t_ms = xrealloc(s->t_ms, (s->n ? s->n : 1) * sizeof(*s->t_ms));
	s->v = xrealloc(s->v, (s->n ? s->n : 1) * sizeof(*s->v));
	*series_set_append(set) = *s;
	memset(s, 0, sizeof(*s));
	w->cap = 0;
}

static void whole_sink_free(struct whole_sink *w)
{
	if (!w)
		return;
	series_release(&w->cur);
	free(w);
}

struct query_batch {
	struct query *qs;
	size_t *todo;            /* todo[i]: the query behind transfer i */
	struct promjson_stream **streams; /* streams[i]: transfer i's body, parsed as it arrives */
	struct remoteread_stream **reads; /* or this, for a remote read */
	struct whole_sink **wholes;       /* and this, for one whose series are kept whole */
	size_t *retry;           /* the queries that answered 503, to send again */
	size_t nretry;
	int failed;
};

static void feed_stream(const char *data, size_t len, void *ctx)
{
	promjson_stream_feed(ctx, data, len);
}

static void feed_read(const char *data, size_t len, void *ctx)
{
	remoteread_stream_feed(ctx, data, len);
}

#define STREAMED_CHUNKS_TYPE "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse"

/* A remote read's answer, whole: every frame read, and a 200 of the streamed kind. */
static void finish_read(struct query_batch *b, size_t i, struct http_response *resp)
{
	struct query *q = &b->qs[b->todo[i]];
	struct remoteread_stream *st = b->reads[i];
	char *perr = NULL;

	if (resp->status != 200) {
		error("KPI '%s': Prometheus answered %ld to remote read %s: %.200s", q->kpi, resp->status, q->promql,
		      remoteread_stream_text(st));
		b->failed = 1;
	} else if (strncmp(resp->content_type, STREAMED_CHUNKS_TYPE, strlen(STREAMED_CHUNKS_TYPE))) {
		error("KPI '%s': Prometheus answered remote read %s with %s, not streamed chunks (is it older than 2.13?)",
		      q->kpi, q->promql, resp->content_type[0] ? resp->content_type : "no content type");
		b->failed = 1;
	} else if (remoteread_stream_finish(st, &perr) < 0) {
		error("KPI '%s': the remote read of %s from %s broke off: %s", q->kpi, q->promql, q->url, perr);
		b->failed = 1;
	}
	free(perr);
}

/* Take the parsed answer of transfer i when it completes. */
static void on_query_done(size_t i, struct http_response *resp, const char *cause, void *ctx)
{
	struct query_batch *b = ctx;
	struct query *q = &b->qs[b->todo[i]];
	struct promjson_stream *st = b->streams[i];
	char *perr = NULL;

	if (b->failed)
		goto out;
	if (cause) {
		error("KPI '%s': query %s got no answer: %s", q->kpi, q->promql, cause);
		b->failed = 1;
		goto out;
	}
	if (resp->status == 503) {
		b->retry[b->nretry++] = b->todo[i];
		goto out;
	}
	if (b->reads[i]) {
		finish_read(b, i, resp);
		goto out;
	}
	if (promjson_stream_finish(st, &q->data, &perr) < 0 || resp->status != 200) {
		const char *text = promjson_stream_text(st);

		/* an error page that is not JSON says more than the parser's complaint about it */
		if (resp->status != 200 && text[0] != '{' && text[0])
			error("KPI '%s': Prometheus answered %ld to query %s: %.200s", q->kpi, resp->status, q->promql,
			      text);
		else
			error("KPI '%s': Prometheus answered %ld to query %s: %s", q->kpi, resp->status, q->promql,
			      perr ? perr : text);
		b->failed = 1;
	}
out:
	q->nseries = q->data.n;
	free(perr);
	promjson_stream_free(st);
	b->streams[i] = NULL;
	remoteread_stream_free(b->reads[i]);
	b->reads[i] = NULL;
	whole_sink_free(b->wholes[i]);
	b->wholes[i] = NULL;
}

/* The parsing overlaps the transfers, and no body is held whole. */
int query_run(struct query_list *l, size_t first, const struct http_auth *auth, long timeout_ms)
{
	struct query *qs = l->items + first;
	size_t n = l->n - first;
	struct http_request_spec *reqs = xcalloc(n + 1, sizeof(*reqs));
	struct http_response *resps = xcalloc(n + 1, sizeof(*resps));
	char **causes = xcalloc(n + 1, sizeof(*causes));
	struct query_batch b = { .qs = qs, .todo = xcalloc(n + 1, sizeof(size_t)),
				 .streams = xcalloc(n + 1, sizeof(*b.streams)),
				 .reads = xcalloc(n + 1, sizeof(*b.reads)),
				 .wholes = xcalloc(n + 1, sizeof(*b.wholes)),
				 .retry = xcalloc(n + 1, sizeof(size_t)) };
	size_t ntodo = n;

	for (size_t i = 0; i < n; i++) {
		b.todo[i] = i;
		http_response_init(&resps[i]);
	}
	for (int attempt = 0; ntodo && !b.failed; attempt++) {
		for (size_t i = 0; i < ntodo; i++) {
			struct query *q = &qs[b.todo[i]];

			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].url = q->url;
			reqs[i].auth = auth;
			if (q->read_body) {
				/* a retried read starts over: what an earlier try kept goes */
				series_set_release(&q->data);
				reqs[i].body = q->read_body;
				reqs[i].body_len = q->read_len;
				reqs[i].headers = remoteread_headers;
				if (q->sink) {
					b.reads[i] = remoteread_stream_new(q->start_ms, q->end_ms, q->read_stale, q->sink);
				} else {
					struct remoteread_sink sink = { whole_begin, whole_samples, whole_end, NULL };

					b.wholes[i] = xcalloc(1, sizeof(*b.wholes[i]));
					b.wholes[i]->q = q;
					sink.ctx = b.wholes[i];
					b.reads[i] = remoteread_stream_new(q->start_ms, q->end_ms, q->read_stale, &sink);
				}
				resps[i].sink = feed_read;
				resps[i].sink_ctx = b.reads[i];
			} else {
				b.streams[i] = promjson_stream_new();
				resps[i].sink = feed_stream;
				resps[i].sink_ctx = b.streams[i];
			}
		}
		b.nretry = 0;
		http_send_each(reqs, ntodo, timeout_ms, resps, causes, on_query_done, &b);
		for (size_t i = 0; i < ntodo; i++) {
			free(causes[i]);
			causes[i] = NULL;
			promjson_stream_free(b.streams[i]);
			b.streams[i] = NULL;
			remoteread_stream_free(b.reads[i]);
			b.reads[i] = NULL;
			whole_sink_free(b.wholes[i]);
			b.wholes[i] = NULL;
		}
		ntodo = b.nretry;
		memcpy(b.todo, b.retry, ntodo * sizeof(size_t));
		if (ntodo && attempt >= RETRIES_503) {
			error("Prometheus still answered 503 (starting up) after %d tries", RETRIES_503 + 1);
			b.failed = 1;
		} else if (ntodo) {
			progress("Prometheus is starting (503); retrying %zu queries", ntodo);
			sleep_ms(500L << attempt);
		}
	}
	for (size_t i = 0; i < n; i++)
		http_response_release(&resps[i]);
	free(causes);
	free(resps);
	free(reqs);
	free(b.todo);
	free(b.streams);
	free(b.reads);
	free(b.wholes);
	free(b.retry);
	return b.failed ? -1 : 0;
}

void query_list_release(struct query_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].promql);
		free(l->items[i].url);
		free(l->items[i].read_body);
		series_set_release(&l->items[i].data);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}
