#include "collect/collect.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "collect/edges.h"
#include "collect/kpi.h"
#include "collect/profile.h"
#include "collect/promjson.h"
#include "collect/source.h"
#include "lib/auth.h"
#include "lib/csvfile.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/http.h"
#include "lib/jsonfile.h"
#include "lib/prom.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "render/render.h"
#include "session/registry.h"
#include "session/labels.h"

#define MAX_POINTS 11000          /* Prometheus refuses more points per series */
#define QUERY_TIMEOUT_MS 120000
#define RETRIES_503 6
#define MANIFEST_SCHEMA 1


struct query {
	const char *kpi;         /* what the query is for, in messages */
	char *promql;
	const char *endpoint;    /* "/api/v1/query_range", or "/api/v1/query" for raw samples */
	int64_t at_ms;           /* the instant query's time; 0 for query_range */
	char *url;
	struct series_set data;
};

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

static void query_add(struct query **qs, size_t *n, const char *kpi, char *promql, const char *base,
		      const struct kpi_window *w)
{
	struct query *q;

	*qs = xrealloc(*qs, (*n + 1) * sizeof(**qs));
	q = &(*qs)[(*n)++];
	memset(q, 0, sizeof(*q));
	q->kpi = kpi;
	q->promql = promql;
	q->endpoint = "/api/v1/query_range";
	q->url = range_url(base, promql, w);
}

/*
 * A counter's raw samples over the window plus three scrape intervals on
 * either side (an instant query of a range vector), so its value at the
 * window's edges can be interpolated, and bounded by the scrapes around
 * them even when one of those was missed or jittered late.
 */
static void raw_query_add(struct query **qs, size_t *n, const char *kpi, const char *selector, const char *base,
			  const struct kpi_window *w, int64_t scrape_ms)
{
	struct strbuf sb = STRBUF_INIT;
	int64_t at = w->end_ms + 3 * scrape_ms, range = at - (w->from_ms - 3 * scrape_ms);
	struct query *q;

	*qs = xrealloc(*qs, (*n + 1) * sizeof(**qs));
	q = &(*qs)[(*n)++];
	memset(q, 0, sizeof(*q));
	q->kpi = kpi;
	q->promql = xasprintf("%s[%lldms]", selector, (long long)range);
	q->endpoint = "/api/v1/query";
	q->at_ms = at;
	strbuf_addf(&sb, "%s/api/v1/query?query=", base);
	strbuf_add_urlencoded(&sb, q->promql);
	strbuf_addf(&sb, "&time=%lld.%03lld", (long long)(at / 1000), (long long)(at % 1000));
	q->url = strbuf_detach(&sb, NULL);
}

struct query_batch {
	struct query *qs;
	size_t *todo;            /* todo[i]: the query behind transfer i */
	struct promjson_stream **streams; /* streams[i]: transfer i's body, parsed as it arrives */
	size_t *retry;           /* the queries that answered 503, to send again */
	size_t nretry;
	int failed;
};

static void feed_stream(const char *data, size_t len, void *ctx)
{
	promjson_stream_feed(ctx, data, len);
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
	free(perr);
	promjson_stream_free(st);
	b->streams[i] = NULL;
}

/*
 * Send every query at once and parse each response as it arrives, so the
 * parsing overlaps the transfers and no body is held whole. A 503
 * (Prometheus starting) is retried with backoff; anything else that is not
 * an answer fails the collect with the KPI and the query named.
 */
static int run_queries(struct query *qs, size_t n, const struct http_auth *auth, long timeout_ms)
{
	const char **urls = xcalloc(n + 1, sizeof(*urls));
	struct http_response *resps = xcalloc(n + 1, sizeof(*resps));
	char **causes = xcalloc(n + 1, sizeof(*causes));
	struct query_batch b = { .qs = qs, .todo = xcalloc(n + 1, sizeof(size_t)),
				 .streams = xcalloc(n + 1, sizeof(*b.streams)),
				 .retry = xcalloc(n + 1, sizeof(size_t)) };
	size_t ntodo = n;

	for (size_t i = 0; i < n; i++) {
		b.todo[i] = i;
		http_response_init(&resps[i]);
		resps[i].sink = feed_stream;
	}
	for (int attempt = 0; ntodo && !b.failed; attempt++) {
		for (size_t i = 0; i < ntodo; i++) {
			urls[i] = qs[b.todo[i]].url;
			b.streams[i] = promjson_stream_new();
			resps[i].sink_ctx = b.streams[i];
		}
		b.nretry = 0;
		http_get_many(urls, ntodo, auth, timeout_ms, resps, causes, on_query_done, &b);
		for (size_t i = 0; i < ntodo; i++) {
			free(causes[i]);
			causes[i] = NULL;
			promjson_stream_free(b.streams[i]);
			b.streams[i] = NULL;
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
	free(urls);
	free(b.todo);
	free(b.streams);
	free(b.retry);
	return b.failed ? -1 : 0;
}

static long query_timeout_ms(const struct collect_options *o)
{
	return o->timeout_ms > 0 ? (long)o->timeout_ms : QUERY_TIMEOUT_MS;
}

/* Choose the step and align the window so its last point is exactly to. */
static int make_window(const struct session *s, const struct collect_options *o, struct kpi_window *w)
{
	int64_t span = o->to_ms - o->from_ms, step = o->step_ms ? o->step_ms : s->scrape_interval_ms, k;

	if (span <= 0)
		return error("the window is empty: --from-iso must be before --to-iso");
	if (span < 2 * s->scrape_interval_ms) {
		char *min = format_duration_ms(2 * s->scrape_interval_ms);
		int ret = error("the window of %.3fs is shorter than two scrape intervals; the minimum is %s",
				(double)span / 1000.0, min);

		free(min);
		return ret;
	}
	if (span / step + 1 > MAX_POINTS) {
		int64_t raised = (span + MAX_POINTS - 2) / (MAX_POINTS - 1);

		raised = (raised + 999) / 1000 * 1000;
		progress("step raised from %.3fs to %.3fs to stay under Prometheus's %d points per series",
			 (double)step / 1000.0, (double)raised / 1000.0, MAX_POINTS);
		step = raised;
	}
	k = (span + step - 1) / step;
	w->from_ms = o->from_ms;
	w->step_ms = step;
	w->end_ms = o->to_ms;
	w->start_ms = o->to_ms - k * step;
	w->nsteps = (size_t)k + 1;
	return 0;
}

/* When the session's data begins and ends, about (*first is 0 when it has none). */
static void session_data_range(const struct session *s, const struct source *src, const struct collect_options *o,
			       int64_t *first, int64_t *last)
{
	struct kpi_window span = { 0 };
	struct query q = { .kpi = "up" };
	int64_t now = now_ms();

	*first = *last = 0;

	span.end_ms = now;
	span.start_ms = now - (s->retention_ms > 0 ? s->retention_ms : 86400000LL) - 86400000LL;
	span.step_ms = (span.end_ms - span.start_ms) / 5000 / 1000 * 1000 + 1000;
	/* the samples' own times: a point's time is up to 5 minutes after the sample it carries */
	q.promql = xasprintf("timestamp(up{session=\"%s\"})", s->id);
	q.url = range_url(src->url, q.promql, &span);
	progress_quiet++;
	if (run_queries(&q, 1, &src->auth, query_timeout_ms(o)) == 0) {
		for (size_t i = 0; i < q.data.n; i++) {
			const struct series *se = &q.data.items[i];

			for (size_t j = 0; j < se->n; j++) {
				int64_t t = (int64_t)llround(se->v[j] * 1000.0);

				if (!*first || t < *first)
					*first = t;
				if (t > *last)
					*last = t;
			}
		}
	}
	progress_quiet--;
	series_set_release(&q.data);
	free(q.promql);
	free(q.url);
}

/* When the session has no data in the window, say where its data is. */
static void explain_no_data(const struct session *s, const struct source *src, const struct collect_options *o)
{
	int64_t first, last;
	char *from = format_time_ms(o->from_ms), *to = format_time_ms(o->to_ms);

	session_data_range(s, src, o, &first, &last);
	if (first) {
		char *a = format_time_ms(first), *b = format_time_ms(last);

		error("no data of session '%s' between %s and %s; Prometheus holds its data from about %s to %s",
		      s->id, from, to, a, b);
		free(a);
		free(b);
	} else {
		error("no data of session '%s' between %s and %s, and none at all in Prometheus (were targets registered and up?)",
		      s->id, from, to);
	}
	free(from);
	free(to);
}

/*
 * up's series with no point left once stale ones are dropped: the window
 * lies wholly outside the data, which Prometheus's lookback hid. Say where
 * the data is.
 */
static void report_no_fresh_data(const struct session *s, const struct source *src, const struct collect_options *o,
				 const struct series_set *up, struct kpi_report *report)
{
	int64_t first, last;
	char *from, *to, *a, *b;

	for (size_t i = 0; i < up->n; i++)
		if (up->items[i].n)
			return;
	session_data_range(s, src, o, &first, &last);
	from = format_time_ms(o->from_ms);
	to = format_time_ms(o->to_ms);
	a = format_time_ms(first);
	b = format_time_ms(last);
	if (first)
		kpi_report_add_finding(report, "outside_data", s->id, o->from_ms, o->to_ms,
				       "the window from %s to %s has no data of session '%s': it has data from about "
				       "%s to %s", from, to, s->id, a, b);
	else
		kpi_report_add_finding(report, "outside_data", s->id, o->from_ms, o->to_ms,
				       "the window from %s to %s has no data of session '%s', nor has Prometheus any",
				       from, to, s->id);
	free(from);
	free(to);
	free(a);
	free(b);
}

/* Longest number_text: "%.6f" of -DBL_MAX has 309 digits before the point. */
#define NUMBER_TEXT_MAX 330

/*
 * A number for a CSV cell, into buf: plain decimal, no exponent, at most 6
 * decimals, trailing zeros trimmed. Returns its length.
 */
static size_t format_number(double v, char buf[NUMBER_TEXT_MAX])
{
	int n;

	if (isinf(v))
		return (size_t)snprintf(buf, NUMBER_TEXT_MAX, "%s", v > 0 ? "+Inf" : "-Inf");
	n = snprintf(buf, NUMBER_TEXT_MAX, "%.6f", v);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!strcmp(buf, "-0"))
		buf[0] = '0', buf[1] = '\0', n = 1;
	return (size_t)n;
}

static char *number_text(double v)
{
	char buf[NUMBER_TEXT_MAX];

	format_number(v, buf);
	return xstrdup(buf);
}

static const struct kpi_result *find_result(const struct kpi_report *r, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < r->nresults; i++)
		if (!strcmp(r->results[i].kpi, kpi) && !strcmp(r->results[i].scope, scope))
			return &r->results[i];
	return NULL;
}

/* A manifest's entry for a file holding sb: its name, size and sha256. */
static cJSON *file_entry(const char *name, const struct strbuf *sb)
{
	struct sha256_ctx ctx;
	unsigned char digest[32];
	char hex[65];
	cJSON *f = cJSON_CreateObject();

	sha256_init(&ctx);
	sha256_update(&ctx, sb->buf, sb->len);
	sha256_final(&ctx, digest);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	cJSON_AddStringToObject(f, "name", name);
	cJSON_AddNumberToObject(f, "size", (double)sb->len);
	cJSON_AddStringToObject(f, "sha256", hex);
	return f;
}

/* Write one artifact atomically and remember it, with its size and sha256, for the manifest. */
static int write_artifact(const char *dir, const char *name, const struct strbuf *sb, cJSON *files)
{
	char *path = xasprintf("%s/%s", dir, name);
	int ret = -1;

	if (write_file_atomic(path, sb->buf, sb->len, results_mode(0666)) < 0)
		goto out;
	/* hash what was written, from memory: re-reading a 100 MB file costs a second */
	cJSON_AddItemToArray(files, file_entry(name, sb));
	ret = 0;
out:
	free(path);
	return ret;
}

/* List a file already in dir (one the caller wrote) in the manifest, with its size and sha256. */
static const char *const mvp_columns[] = {
	"throughput_qps", "cpu_util_avg_pct", "gpu_util_avg_pct", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
};

static int is_mvp_column(const char *kpi)
{
	for (size_t i = 0; i < sizeof(mvp_columns) / sizeof(mvp_columns[0]); i++)
		if (!strcmp(kpi, mvp_columns[i]))
			return 1;
	return 0;
}

static void summary_csv(const struct collect_options *o, const struct session *s, const struct kpi_report *r,
			struct strbuf *sb)
{
	const char **header = xcalloc(r->nresults + 16, sizeof(char *));
	char **cells = xcalloc(r->nresults + 16, sizeof(char *));
	size_t n = 0;

	header[n] = "run_id", cells[n++] = xstrdup(o->run_id);
	header[n] = "session_id", cells[n++] = xstrdup(s->id);
	header[n] = "from", cells[n++] = format_time_ms(o->from_ms);
	header[n] = "to", cells[n++] = format_time_ms(o->to_ms);
	for (size_t i = 0; i < sizeof(mvp_columns) / sizeof(mvp_columns[0]); i++) {
		const struct kpi_result *res = find_result(r, mvp_columns[i], "session");

		header[n] = mvp_columns[i];
		cells[n++] = res && res->has_value ? number_text(res->value) : xstrdup("");
	}
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];

		if (strcmp(res->scope, "session") || is_mvp_column(res->kpi))
			continue;
		header[n] = res->kpi;
		cells[n++] = res->has_value ? number_text(res->value) : xstrdup("");
	}
	header[n] = "findings";
	cells[n++] = xasprintf("%zu", r->nfindings);
	csv_append_row(sb, header, n);
	csv_append_row(sb, (const char *const *)cells, n);
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
	free(header);
}

static void kpis_csv(const struct kpi_report *r, struct strbuf *sb)
{
	static const char *const header[] = { "kpi", "scope", "value", "unit", "lower", "upper", "samples", "status",
					      "method" };

	csv_append_row(sb, header, 9);
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];
		char *value = res->has_value ? number_text(res->value) : xstrdup("");
		char *lower = res->has_bounds ? number_text(res->lower) : xstrdup("");
		char *upper = res->has_bounds ? number_text(res->upper) : xstrdup("");
		char *samples = xasprintf("%zu", res->samples);
		const char *row[] = { res->kpi, res->scope, value, res->unit, lower, upper, samples, res->status,
				      res->method };

		csv_append_row(sb, row, 9);
		free(value);
		free(lower);
		free(upper);
		free(samples);
	}
}

/*
 * timeseries.csv: every KPI's session-wide value at every step, for
 * plotting. Per-service and per-node values are in kpis.csv; their series
 * would multiply this file by the number of nodes and services. Times are
 * formatted once per step, and rows go straight into the buffer.
 */
static void timeseries_csv(const struct kpi_window *w, const struct kpi_report *r, struct strbuf *sb)
{
	static const char *const header[] = { "kpi", "scope", "time", "value", "unit" };
	char **times = xcalloc(w->nsteps + 1, sizeof(char *));
	size_t *time_len = xcalloc(w->nsteps + 1, sizeof(size_t));

	csv_append_row(sb, header, 5);
	for (size_t j = 0; j < w->nsteps; j++) {
		times[j] = format_time_ms(w->start_ms + (int64_t)j * w->step_ms);
		time_len[j] = strlen(times[j]);
	}
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];
		struct strbuf prefix = STRBUF_INIT, unit = STRBUF_INIT;
		const char *cells[] = { res->kpi, res->scope }, *unit_cell[] = { res->unit };

		if (strcmp(res->scope, "session"))
			continue;
		csv_append_row(&prefix, cells, 2);
		prefix.buf[--prefix.len] = '\0';  /* drop the newline: the row goes on */
		csv_append_row(&unit, unit_cell, 1);
		unit.buf[--unit.len] = '\0';
		for (size_t j = 0; j < w->nsteps; j++) {
			char v[NUMBER_TEXT_MAX];
			size_t vlen;

			if (isnan(res->steps[j]))
				continue;
			/* 10,000s of rows: plain appends, no format string to interpret per row */
			vlen = format_number(res->steps[j], v);
			strbuf_add(sb, prefix.buf, prefix.len);
			strbuf_addch(sb, ',');
			strbuf_add(sb, times[j], time_len[j]);
			strbuf_addch(sb, ',');
			strbuf_add(sb, v, vlen);
			strbuf_addch(sb, ',');
			strbuf_add(sb, unit.buf, unit.len);
			strbuf_addch(sb, '\n');
		}
		strbuf_release(&prefix);
		strbuf_release(&unit);
	}
	for (size_t j = 0; j < w->nsteps; j++)
		free(times[j]);
	free(times);
	free(time_len);
}

/* Targets and how up they were during the window, from the up series. */
static cJSON *targets_json(const struct series_set *up)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < up->n; i++) {
		const struct series *s = &up->items[i];
		cJSON *t = cJSON_CreateObject();
		size_t ups = 0;

		for (size_t j = 0; j < s->n; j++)
			ups += s->v[j] == 1;
		json_add_string_or_null(t, "client_id", series_label(s, LABEL_CLIENT_ID));
		json_add_string_or_null(t, "kind", series_label(s, LABEL_KIND));
		json_add_string_or_null(t, "name", series_label(s, LABEL_SERVICE));
		json_add_string_or_null(t, "node", series_label(s, LABEL_NODE));
		json_add_string_or_null(t, "address", series_label(s, "instance"));
		cJSON_AddStringToObject(t, "health", !s->n ? "unknown" : ups == s->n ? "up" : ups ? "flapping" : "down");
		cJSON_AddNumberToObject(t, "up_ratio", s->n ? (double)ups / (double)s->n : 0);
		cJSON_AddItemToArray(arr, t);
	}
	return arr;
}

/* What MANIFEST.json says of the benchmark run: its command, how it ended, when. */
static cJSON *run_json(const struct window_file *wf)
{
	cJSON *obj = cJSON_CreateObject(), *cmd = cJSON_AddArrayToObject(obj, "command");

	for (size_t i = 0; wf->command && wf->command[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(wf->command[i]));
	if (wf->exit_status >= 0)
		cJSON_AddNumberToObject(obj, "exit_status", wf->exit_status);
	else
		cJSON_AddNullToObject(obj, "exit_status");
	cJSON_AddBoolToObject(obj, "interrupted", wf->interrupted_by != NULL);
	json_add_string_or_null(obj, "interrupted_by", wf->interrupted_by);
	json_add_time(obj, "started", wf->started_ms);
	json_add_time(obj, "ended", wf->ended_ms);
	return obj;
}

static void add_number_or_null(cJSON *obj, const char *key, int has, double v)
{
	if (!has)
		cJSON_AddNullToObject(obj, key);
	else if (isinf(v))
		cJSON_AddStringToObject(obj, key, v > 0 ? "+Inf" : "-Inf");
	else
		cJSON_AddNumberToObject(obj, key, v);
}

cJSON *collect_kpis_json(const struct kpi_report *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *k = &r->results[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kpi", k->kpi);
		cJSON_AddStringToObject(o, "scope", k->scope);
		add_number_or_null(o, "value", k->has_value, k->value);
		cJSON_AddStringToObject(o, "unit", k->unit);
		add_number_or_null(o, "lower", k->has_bounds, k->lower);
		add_number_or_null(o, "upper", k->has_bounds, k->upper);
		cJSON_AddNumberToObject(o, "samples", (double)k->samples);
		cJSON_AddStringToObject(o, "status", k->status);
		json_add_string_or_null(o, "reason", k->reason);
		json_add_string_or_null(o, "method", k->method);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *collect_findings_json(const struct kpi_report *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct finding *f = &r->findings[i];
		cJSON *fj = cJSON_CreateObject();

		cJSON_AddStringToObject(fj, "kind", f->kind);
		cJSON_AddStringToObject(fj, "subject", f->subject);
		cJSON_AddStringToObject(fj, "message", f->message);
		cJSON_AddBoolToObject(fj, "optional", f->optional);
		if (f->from_ms) {
			json_add_time(fj, "from", f->from_ms);
			json_add_time(fj, "to", f->to_ms);
		}
		cJSON_AddItemToArray(arr, fj);
	}
	return arr;
}

/* List a file the caller wrote into out_dir in the manifest, hashed from disk. */
static int add_extra_file(const char *dir, const char *name, cJSON *files)
{
	char *path = xasprintf("%s/%s", dir, name);
	unsigned long long size = 0;
	char hex[65];
	cJSON *f;
	int ret = -1;

	if (sha256_file_hex(path, hex, &size) < 0)
		goto out;
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "name", name);
	cJSON_AddNumberToObject(f, "size", (double)size);
	cJSON_AddStringToObject(f, "sha256", hex);
	cJSON_AddItemToArray(files, f);
	ret = 0;
out:
	free(path);
	return ret;
}

/*
 * Which target kinds the session has, as bits (1 << enum target_kind): those
 * registered, and those the window's up series show (data saved from a
 * registry since lost, or backfilled).
 */
static int session_target_kinds(const struct session *s, const struct series_set *up, unsigned *kinds)
{
	const enum target_kind all[] = { TARGET_NODE, TARGET_DCGM, TARGET_SERVICE };
	struct target_list list;

	*kinds = 0;
	if (registry_load(s, &list) < 0)
		return -1;
	for (size_t i = 0; i < list.n; i++)
		*kinds |= 1u << list.items[i].kind;
	target_list_release(&list);
	for (size_t i = 0; i < up->n; i++) {
		const char *kind = series_label(&up->items[i], "kind");

		for (size_t j = 0; kind && j < sizeof(all) / sizeof(all[0]); j++)
			if (!strcmp(kind, target_kind_name(all[j])))
				*kinds |= 1u << all[j];
	}
	return 0;
}

static cJSON *manifest_json(const struct session *s, const struct collect_options *o, const struct kpi_window *w,
			    const struct source *src, const struct profile *p, const struct query *qs, size_t nq,
			    const struct series_set *up, const struct kpi_report *r)
{
	cJSON *root = cJSON_CreateObject(), *obj, *arr;
	struct session_run run;

	cJSON_AddNumberToObject(root, "schema_version", MANIFEST_SCHEMA);
	cJSON_AddStringToObject(root, "benchmon_version", BENCHMON_VERSION);
	cJSON_AddNumberToObject(root, "query_timeout_seconds", (double)query_timeout_ms(o) / 1000.0);
	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "run_id", o->run_id);
	cJSON_AddStringToObject(root, "status", r->nfindings ? "ok_with_findings" : "ok");
	obj = cJSON_AddObjectToObject(root, "window");
	json_add_time(obj, "from", o->from_ms);
	json_add_time(obj, "to", o->to_ms);
	json_add_time(obj, "first_point", w->start_ms);
	cJSON_AddNumberToObject(obj, "step_seconds", (double)w->step_ms / 1000.0);
	cJSON_AddNumberToObject(obj, "points", (double)w->nsteps);
	cJSON_AddNumberToObject(obj, "scrape_interval_seconds", (double)s->scrape_interval_ms / 1000.0);
	obj = cJSON_AddObjectToObject(root, "prometheus");
	cJSON_AddStringToObject(obj, "url", src->url);
	cJSON_AddStringToObject(obj, "version", src->version);
	cJSON_AddStringToObject(obj, "source", src->kind);
	arr = cJSON_AddArrayToObject(obj, "jobs");
	for (size_t i = 0; i < src->nparts; i++) {
		cJSON *part = cJSON_CreateObject();

		cJSON_AddStringToObject(part, "job", src->parts[i].job);
		cJSON_AddStringToObject(part, "source", src->parts[i].kind);
		json_add_time(part, "from", src->parts[i].from_ms);
		json_add_time(part, "to", src->parts[i].to_ms);
		cJSON_AddItemToArray(arr, part);
	}
	obj = cJSON_AddObjectToObject(root, "job");
	cJSON_AddStringToObject(obj, "launcher", s->launcher);
	if (session_run_load(s, &run) == 0) {
		json_add_string_or_null(obj, "job_id", run.job_id);
		json_add_string_or_null(obj, "node", run.node);
		session_run_release(&run);
	}
	obj = cJSON_AddObjectToObject(root, "profile");
	cJSON_AddStringToObject(obj, "name", p->name);
	cJSON_AddStringToObject(obj, "path", p->path);
	cJSON_AddItemToObject(root, "targets", targets_json(up));
	arr = cJSON_AddArrayToObject(root, "queries");
	for (size_t i = 0; i < nq; i++) {
		cJSON *q = cJSON_CreateObject();

		cJSON_AddStringToObject(q, "kpi", qs[i].kpi);
		cJSON_AddStringToObject(q, "promql", qs[i].promql);
		cJSON_AddStringToObject(q, "endpoint", qs[i].endpoint);
		if (qs[i].at_ms) {
			json_add_time(q, "time", qs[i].at_ms);
		}
		cJSON_AddNumberToObject(q, "series", (double)qs[i].data.n);
		cJSON_AddItemToArray(arr, q);
	}
	if (o->run)
		cJSON_AddItemToObject(root, "run", run_json(o->run));
	cJSON_AddItemToObject(root, "kpis", collect_kpis_json(r));
	cJSON_AddItemToObject(root, "findings", collect_findings_json(r));
	return root;
}

/*
 * MANIFEST.json's account of the edge readings: where they came from, how
 * many series they gave, and how each KPI was computed.
 */
static cJSON *methods_json(const struct collect_options *o, const struct edges *e, int have_edges, size_t matched,
			   const struct kpi_report *r)
{
	cJSON *obj = cJSON_CreateObject(), *arr;

	if (have_edges) {
		cJSON_AddStringToObject(obj, "edges_file", o->edges_path);
		cJSON_AddBoolToObject(obj, "exact_start", e->from.exact);
		cJSON_AddNumberToObject(obj, "series_with_edges", (double)matched);
	} else {
		cJSON_AddNullToObject(obj, "edges_file");
	}
	arr = cJSON_AddArrayToObject(obj, "kpis");
	for (size_t i = 0; i < r->nresults; i++) {
		cJSON *k = cJSON_CreateObject();

		cJSON_AddStringToObject(k, "kpi", r->results[i].kpi);
		cJSON_AddStringToObject(k, "scope", r->results[i].scope);
		cJSON_AddStringToObject(k, "method", r->results[i].method);
		cJSON_AddItemToArray(arr, k);
	}
	return obj;
}

int collect_run(const struct session *s, const struct collect_options *o, struct collect_result *res)
{
	struct edges edges = { 0 };
	int have_edges = 0;
	size_t matched = 0;
	struct profile prof = { 0 };
	struct source src = { 0 };
	struct kpi_window w;
	struct kpi_report report = { 0 };
	struct query *qs = NULL;
	size_t nq = 0, up_q, count_q;
	size_t *main_q = NULL, *fallback_q = NULL;
	unsigned kinds;
	char *manifest = xasprintf("%s/MANIFEST.json", o->out_dir);
	struct strbuf sb = STRBUF_INIT;
	cJSON *files = cJSON_CreateArray(), *root = NULL;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (profile_load(o->profile, &prof) < 0 || make_window(s, o, &w) < 0)
		goto out;
	if (mkdir_p(o->out_dir, results_mode(0777)) < 0)
		goto out;
	/* a MANIFEST.json from an earlier collect must not vouch for what this one may fail to write */
	if (unlink(manifest) < 0 && errno != ENOENT) {
		error("cannot remove '%s': %s", manifest, strerror(errno));
		goto out;
	}
	if (o->edges_path) {
		int loaded = edges_load(o->edges_path, &edges);

		if (loaded < 0)
			goto out;
		have_edges = loaded == 0;
	}
	if (source_open(s, o->from_ms, o->to_ms, s->scrape_interval_ms, &src, &report) < 0)
		goto out;
	main_q = xcalloc(prof.n + 1, sizeof(size_t));
	fallback_q = xcalloc(prof.n + 1, sizeof(size_t));
	for (size_t i = 0; i < prof.n; i++) {
		const struct kpi_def *k = &prof.kpis[i];

		main_q[i] = nq;
		if (k->kind == KPI_AVG || k->kind == KPI_MAX) {
			query_add(&qs, &nq, k->name, kpi_expand(k->expr, s->id), src.url, &w);
		} else {
			char *selector = kpi_selector(k, k->kind == KPI_HISTOGRAM_QUANTILES ? "_bucket" : NULL, s->id);

			raw_query_add(&qs, &nq, k->name, selector, src.url, &w, s->scrape_interval_ms);
			free(selector);
		}
		fallback_q[i] = (size_t)-1;
		if (k->fallback_expr) {
			fallback_q[i] = nq;
			query_add(&qs, &nq, k->name, kpi_expand(k->fallback_expr, s->id), src.url, &w);
		}
	}
	up_q = nq;
	query_add(&qs, &nq, "target health", xasprintf("up{session=\"%s\"}", s->id), src.url, &w);
	count_q = nq;
	/* (t - step, t]: a scrape on a step boundary counts in one step, not in two */
	query_add(&qs, &nq, "scrape count",
		  xasprintf("count_over_time(up{session=\"%s\"}[%lldms])", s->id, (long long)(w.step_ms - 1)), src.url,
		  &w);
	if (run_queries(qs, nq, &src.auth, query_timeout_ms(o)) < 0)
		goto out;
	if (!qs[up_q].data.n) {
		explain_no_data(s, &src, o);
		goto out;
	}
	for (size_t i = 0; i < nq; i++)
		for (size_t j = 0; j < qs[i].data.nwarnings; j++)
			kpi_report_add_finding(&report, "warning", qs[i].kpi, 0, 0, "Prometheus warned about %s: %s",
					       qs[i].promql, qs[i].data.warnings[j]);
	/* a gauge, and up, must not report the last sample Prometheus carries forward after scrapes stop */
	kpi_drop_stale(&qs[up_q].data, &w, &qs[count_q].data);
	report_no_fresh_data(s, &src, o, &qs[up_q].data, &report);
	for (size_t i = 0; i < prof.n; i++) {
		if (prof.kpis[i].kind != KPI_AVG && prof.kpis[i].kind != KPI_MAX)
			continue;
		kpi_drop_stale(&qs[main_q[i]].data, &w, &qs[count_q].data);
		if (fallback_q[i] != (size_t)-1)
			kpi_drop_stale(&qs[fallback_q[i]].data, &w, &qs[count_q].data);
	}
	if (have_edges && (edges.from.at_ms != o->from_ms || edges.to.at_ms != o->to_ms)) {
		kpi_report_add_finding(&report, "warning", o->edges_path, 0, 0,
				       "'%s' holds the readings of another window: not used", o->edges_path);
		have_edges = 0;
	}
	if (have_edges) {
		edges_report(&edges, &report);
		for (size_t i = 0; i < prof.n; i++)
			if (prof.kpis[i].kind != KPI_AVG && prof.kpis[i].kind != KPI_MAX)
				matched += edges_attach(&edges, &qs[main_q[i]].data);
	}
	if (session_target_kinds(s, &qs[up_q].data, &kinds) < 0)
		goto out;
	for (size_t i = 0; i < prof.n; i++) {
		const struct kpi_def *k = &prof.kpis[i];
		size_t first_finding = report.nfindings;

		if (k->has_exporter && !(kinds & (1u << k->exporter))) {
			char *why = xasprintf("session '%s' has no %s target", s->id, target_kind_name(k->exporter));

			kpi_not_applicable(k, &w, &report, why);
			free(why);
			continue;
		}
		kpi_compute(k, &w, &qs[main_q[i]].data, fallback_q[i] != (size_t)-1 ? &qs[fallback_q[i]].data : NULL,
			    &report);
		for (size_t j = first_finding; j < report.nfindings; j++)
			report.findings[j].optional = k->optional;
	}
	kpi_check_targets(&w, &qs[up_q].data, &qs[count_q].data, s->scrape_interval_ms, s->id, s->created_ms, &report);

	summary_csv(o, s, &report, &sb);
	if (write_artifact(o->out_dir, "metrics_summary.csv", &sb, files) < 0)
		goto out;
	strbuf_reset(&sb);
	kpis_csv(&report, &sb);
	if (write_artifact(o->out_dir, "kpis.csv", &sb, files) < 0)
		goto out;
	strbuf_reset(&sb);
	timeseries_csv(&w, &report, &sb);
	if (write_artifact(o->out_dir, "timeseries.csv", &sb, files) < 0)
		goto out;
	for (size_t i = 0; o->extra_files && o->extra_files[i]; i++)
		if (add_extra_file(o->out_dir, o->extra_files[i], files) < 0)
			goto out;
	root = manifest_json(s, o, &w, &src, &prof, qs, nq, &qs[up_q].data, &report);
	cJSON_AddItemToObject(root, "methods", methods_json(o, &edges, have_edges, matched, &report));
	cJSON_AddItemToObject(root, "files", files);
	files = NULL;
	if (json_write_file_mode(manifest, root, 1, results_mode(0666)) < 0)
		goto out;
	res->nfindings = report.nfindings;
	for (size_t i = 0; i < report.nfindings; i++)
		res->nstrict += !report.findings[i].optional;
	res->session = xstrdup(s->id);
	res->run_id = xstrdup(o->run_id);
	res->from_ms = o->from_ms;
	res->to_ms = o->to_ms;
	res->nkpis = report.nresults;
	for (size_t i = 0; i < report.nresults; i++)
		res->nno_data += !strcmp(report.results[i].status, "no_data");
	res->manifest_path = xstrdup(manifest);
	res->report = report;
	memset(&report, 0, sizeof(report));
	ret = 0;
out:
	cJSON_Delete(root);
	cJSON_Delete(files);
	strbuf_release(&sb);
	kpi_report_release(&report);
	for (size_t i = 0; i < nq; i++) {
		free(qs[i].promql);
		free(qs[i].url);
		series_set_release(&qs[i].data);
	}
	free(qs);
	free(main_q);
	free(fallback_q);
	source_close(&src);
	profile_release(&prof);
	edges_release(&edges);
	free(manifest);
	return ret;
}

void collect_result_release(struct collect_result *res)
{
	free(res->manifest_path);
	free(res->session);
	free(res->run_id);
	kpi_report_release(&res->report);
	memset(res, 0, sizeof(*res));
}
