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

#include "collect/artifacts.h"
#include "collect/health.h"
#include "collect/edges.h"
#include "collect/exprread.h"
#include "collect/fetch.h"
#include "collect/kpi.h"
#include "collect/profile.h"
#include "collect/query.h"
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
#define DISPLAY_POINTS 2000       /* a gauge's points in timeseries.csv, unless --step asks for more */
#define QUERY_TIMEOUT_MS 120000


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

/*
 * The grid of gauges' points in timeseries.csv: every m-th point of w, the
 * last one at its end, m keeping it near DISPLAY_POINTS points; with
 * --step, w itself.
 */
static void make_display_window(const struct kpi_window *w, const struct collect_options *o, struct kpi_window *dw)
{
	size_t m = o->step_ms ? 1 : (w->nsteps + DISPLAY_POINTS - 1) / DISPLAY_POINTS, k;

	m = m ? m : 1;
	k = (w->nsteps - 1) / m;
	dw->from_ms = w->from_ms;
	dw->step_ms = w->step_ms * (int64_t)m;
	dw->end_ms = w->end_ms;
	dw->start_ms = w->end_ms - (int64_t)k * dw->step_ms;
	dw->nsteps = k + 1;
}

/* Can gauge expression expr (unexpanded) be read over its samples (kpi_fresh_expr)? */
static int gauge_readable(const char *expr)
{
	char *expanded = kpi_expand(expr, "s"), *fresh = kpi_fresh_expr(expanded, 1, NULL);
	int ok = fresh != NULL;

	free(expanded);
	free(fresh);
	return ok;
}

/* The queries of a gauge KPI read as sums over its samples (kpi_compute_over_time), for one expression. */
struct gauge_queries {
	size_t acc, count, display;
	struct gauge_read *read;     /* all three through remote read instead (count and display unused) */
	struct expr_read *expr;      /* or evaluated by benchmon over the selectors' raw samples */
};

/*
 * Plan the over-the-window queries of gauge expression expr (unexpanded)
 * into l: <f>_over_time and count_over_time of its samples in [from, to]
 * at to, and the expression on dw for timeseries.csv. With allow_read, a
 * selector (maybe scaled and filtered) or an expression benchmon evaluates
 * (collect/exprread.h) is read through remote read; otherwise a plain
 * selector is asked directly and any other expression as a subquery at
 * the scrape interval whose selectors read only fresh samples. expr is
 * gauge_readable.
 */
static void plan_gauge(const struct kpi_def *k, const char *expr, const struct session *s, const char *base,
		      const struct kpi_window *w, const struct kpi_window *dw, int allow_read, struct query_list *l,
		      struct gauge_queries *gq)
{
	char *expanded = kpi_expand(expr, s->id), *fresh, *display, *range;
	long long span = (long long)(w->end_ms - w->from_ms), si = (long long)s->scrape_interval_ms;
	int plain = 0;

	display = kpi_fresh_expr(expanded, dw->step_ms - 1, NULL);
	if (allow_read) {
		gq->read = xcalloc(1, sizeof(*gq->read));
		if (gauge_read_plan(gq->read, k, expanded, base, w, dw, l) == 0) {
			gq->acc = gq->read->q;
			free(display);
			free(expanded);
			return;
		}
		free(gq->read);
		gq->read = NULL;
		gq->expr = xcalloc(1, sizeof(*gq->expr));
		if (expr_read_plan(gq->expr, k, expanded, si, base, w, dw, l) == 0) {
			free(display);
			free(expanded);
			return;
		}
		free(gq->expr);
		gq->expr = NULL;
	}
	fresh = kpi_fresh_expr(expanded, si - 1, &plain);
	if (plain)
		range = xasprintf("%s[%lldms] @ %lld.%03lld", expanded, span, (long long)(w->end_ms / 1000),
				  (long long)(w->end_ms % 1000));
	else
		range = xasprintf("(%s)[%lldms:%lldms] @ %lld.%03lld", fresh, span, si, (long long)(w->end_ms / 1000),
				  (long long)(w->end_ms % 1000));
	gq->acc = query_add_instant(l, k->name, xasprintf("%s_over_time(%s)", k->kind->over_time, range), base,
				    w->end_ms);
	gq->count = query_add_instant(l, k->name, xasprintf("count_over_time(%s)", range), base, w->end_ms);
	gq->display = query_add_range(l, k->name, display, base, dw);
	free(range);
	free(fresh);
	free(expanded);
}

static struct series_set *gauge_acc(struct gauge_queries *gq, struct query *qs)
{
	return gq->read ? &gq->read->acc : gq->expr ? &gq->expr->acc : &qs[gq->acc].data;
}

static struct series_set *gauge_counts(struct gauge_queries *gq, struct query *qs)
{
	return gq->read ? &gq->read->counts : gq->expr ? &gq->expr->counts : &qs[gq->count].data;
}

static struct series_set *gauge_display_points(struct gauge_queries *gq, struct query *qs)
{
	return gq->read ? &gq->read->display : gq->expr ? &gq->expr->display : &qs[gq->display].data;
}

static void gauge_queries_release(struct gauge_queries *gq)
{
	if (gq->read)
		gauge_read_release(gq->read);
	free(gq->read);
	if (gq->expr)
		expr_read_release(gq->expr);
	free(gq->expr);
	gq->read = NULL;
	gq->expr = NULL;
}

/* When the session's data begins and ends, about (*first is 0 when it has none). */
static void session_data_range(const struct session *s, const struct source *src, const struct collect_options *o,
			       int64_t *first, int64_t *last)
{
	struct kpi_window span = { 0 };
	struct query_list q = { 0 };
	int64_t now = now_ms();

	*first = *last = 0;

	span.end_ms = now;
	span.start_ms = now - (s->retention_ms > 0 ? s->retention_ms : 86400000LL) - 86400000LL;
	span.step_ms = (span.end_ms - span.start_ms) / 5000 / 1000 * 1000 + 1000;
	/* the samples' own times: a point's time is up to 5 minutes after the sample it carries */
	query_add_range(&q, "up", xasprintf("timestamp(up{" LABEL_SESSION "=\"%s\"})", s->id), src->url, &span);
	/* and the newest sample, which a session younger than one step of that grid has only */
	query_add_instant(&q, "up", xasprintf("timestamp(up{" LABEL_SESSION "=\"%s\"})", s->id), src->url, now);
	progress_quiet++;
	if (query_run(&q, 0, &src->auth, query_timeout_ms(o)) == 0) {
		for (size_t i = 0; i < q.items[0].data.n + q.items[1].data.n; i++) {
			const struct series *se = i < q.items[0].data.n ? &q.items[0].data.items[i] :
					          &q.items[1].data.items[i - q.items[0].data.n];

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
	query_list_release(&q);
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

/* One finding per stretch of the window a client with a heartbeat timeout was silent in. */
static void report_stale_clients(const struct session *s, const struct collect_options *o, struct kpi_report *report)
{
	struct heartbeat *hb = NULL;
	size_t n = 0;
	int64_t now = now_ms();

	registry_heartbeats(s, &hb, &n);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j <= hb[i].nspans; j++) {
			int64_t from, to;
			char *subject, *a, *b;

			if (j < hb[i].nspans) {
				from = hb[i].spans[j][0];
				to = hb[i].spans[j][1];
			} else if (heartbeat_is_stale(&hb[i], now)) {
				from = heartbeat_stale_since(&hb[i]);
				to = now;
			} else {
				continue;
			}
			if (to <= o->from_ms || from >= o->to_ms)
				continue;
			from = from > o->from_ms ? from : o->from_ms;
			to = to < o->to_ms ? to : o->to_ms;
			subject = xasprintf("client %s", hb[i].client_id);
			a = format_time_ms(from);
			b = format_time_ms(to);
			kpi_report_add_finding(report, "stale_client", subject, from, to,
					       "client %s sent no heartbeat from %s to %s (its timeout is %lld s)",
					       hb[i].client_id, a, b, (long long)hb[i].timeout_s);
			free(a);
			free(b);
			free(subject);
		}
	}
	heartbeats_free(hb, n);
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
		const char *kind = series_label(&up->items[i], LABEL_KIND);

		for (size_t j = 0; kind && j < sizeof(all) / sizeof(all[0]); j++)
			if (!strcmp(kind, target_kind_name(all[j])))
				*kinds |= 1u << all[j];
	}
	return 0;
}

/* A label becomes a column of metrics_summary.csv: it must not take a KPI's name. */
static int check_labels(const struct run_label *labels, size_t nlabels, const struct profile *p)
{
	for (size_t i = 0; i < nlabels; i++) {
		const char *key = labels[i].key;

		for (size_t j = 0; j < p->n; j++) {
			const struct kpi_def *k = &p->kpis[j];
			int clash = !strcmp(k->name, key) || (k->peak_name && !strcmp(k->peak_name, key));

			for (size_t q = 0; q < k->nquantiles; q++)
				clash |= !strcmp(k->quantiles[q].name, key);
			if (clash)
				return error("label key '%s' is the name of a KPI of profile '%s'", key, p->name);
		}
	}
	return 0;
}

int collect_check_labels(const char *profile, const struct run_label *labels, size_t nlabels)
{
	struct profile p;
	int ret;

	if (!nlabels)
		return 0;
	if (profile_load(profile, &p) < 0)
		return -1;
	ret = check_labels(labels, nlabels, &p);
	profile_release(&p);
	return ret;
}

int collect_run(const struct session *s, const struct collect_options *o, struct collect_result *res)
{
	struct edges edges = { 0 };
	int have_edges = 0;
	size_t matched = 0;
	struct profile prof = { 0 };
	struct source src = { 0 };
	struct kpi_window w, dw;
	struct kpi_report report = { 0 };
	struct query_list ql = { 0 };
	struct query *qs;
	size_t up_q = (size_t)-1, count_q = (size_t)-1;
	struct grid_read up_read = { .with_counts = 1 };
	struct series_set *up, *counts;
	char *up_sel = NULL;
	size_t *main_q = NULL, *fallback_q = NULL, more;
	struct fetch *fetches = NULL;
	struct gauge_queries *gauges = NULL, *fb_gauges = NULL;
	unsigned char *over_time = NULL;
	struct series_set **data = NULL;
	/* every sample of every counter and every gauge per step, as before: kept for tests and bench/ to compare */
	int allow_sparse = !getenv("BENCHMON_COLLECT_RAW") || strcmp(getenv("BENCHMON_COLLECT_RAW"), "1");
	/* counters through remote read; BENCHMON_COLLECT_READ=0 keeps PromQL's sparse queries, to compare */
	int allow_read = allow_sparse && (!getenv("BENCHMON_COLLECT_READ") || strcmp(getenv("BENCHMON_COLLECT_READ"), "0"));
	struct health_queries hq = { 0 };
	unsigned kinds;
	char *manifest = xasprintf("%s/MANIFEST.json", o->out_dir);
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (profile_load(o->profile, &prof) < 0 || make_window(s, o, &w) < 0 ||
	    check_labels(o->labels, o->nlabels, &prof) < 0)
		goto out;
	make_display_window(&w, o, &dw);
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
	/* a merged source serves remote_read's own view of several Prometheus; its PromQL is what is checked */
	allow_read &= strcmp(src.kind, "merged") != 0;
	main_q = xcalloc(prof.n + 1, sizeof(size_t));
	fallback_q = xcalloc(prof.n + 1, sizeof(size_t));
	fetches = xcalloc(prof.n + 1, sizeof(*fetches));
	data = xcalloc(prof.n + 1, sizeof(*data));
	gauges = xcalloc(prof.n + 1, sizeof(*gauges));
	fb_gauges = xcalloc(prof.n + 1, sizeof(*fb_gauges));
	over_time = xcalloc(prof.n + 1, 1);
	for (size_t i = 0; i < prof.n; i++) {
		const struct kpi_def *k = &prof.kpis[i];

		fallback_q[i] = (size_t)-1;
		if (k->kind->query == KPI_QUERY_RANGE && k->kind->over_time && allow_sparse &&
		    gauge_readable(k->expr) && (!k->fallback_expr || gauge_readable(k->fallback_expr))) {
			plan_gauge(k, k->expr, s, src.url, &w, &dw, allow_read, &ql, &gauges[i]);
			if (k->fallback_expr)
				plan_gauge(k, k->fallback_expr, s, src.url, &w, &dw, allow_read, &ql, &fb_gauges[i]);
			over_time[i] = 1;
		}
		if (over_time[i]) {
			continue;
		} else if (k->kind->query == KPI_QUERY_RANGE) {
			main_q[i] = query_add_range(&ql, k->name, kpi_expand(k->expr, s->id), src.url, &w);
			if (k->fallback_expr)
				fallback_q[i] = query_add_range(&ql, k->name, kpi_expand(k->fallback_expr, s->id), src.url,
								&w);
		} else {
			fetch_plan(&fetches[i], k, s->id, src.url, &w, 3 * s->scrape_interval_ms, allow_sparse,
				   allow_read, &ql);
		}
	}
	up_sel = xasprintf("up{" LABEL_SESSION "=\"%s\"}", s->id);
	if (!allow_read || grid_read_plan(&up_read, "target health", up_sel, src.url, &w, &ql) < 0) {
		up_q = query_add_range(&ql, "target health", xstrdup(up_sel), src.url, &w);
		/* (t - step, t]: a scrape on a step boundary counts in one step, not in two */
		count_q = query_add_range(&ql, "scrape count",
					  xasprintf("count_over_time(%s[%lldms])", up_sel, (long long)(w.step_ms - 1)),
					  src.url, &w);
	}
	health_add_queries(&hq, &ql, s->id, src.url, &w, allow_read);
	if (query_run(&ql, 0, &src.auth, query_timeout_ms(o)) < 0)
		goto out;
	if (!(up_q != (size_t)-1 ? ql.items[up_q].data.n : up_read.points.n)) {
		explain_no_data(s, &src, o);
		goto out;
	}
	more = ql.n;
	for (size_t i = 0; i < prof.n; i++)
		fetch_more(&fetches[i], src.url, &w, 3 * s->scrape_interval_ms, &ql);
	if (ql.n > more && query_run(&ql, more, &src.auth, query_timeout_ms(o)) < 0)
		goto out;
	qs = ql.items;
	for (size_t i = 0; i < prof.n; i++)
		if ((gauges[i].expr && expr_read_eval(gauges[i].expr, prof.kpis[i].name, &ql) < 0) ||
		    (fb_gauges[i].expr && expr_read_eval(fb_gauges[i].expr, prof.kpis[i].name, &ql) < 0))
			goto out;
	up = up_q != (size_t)-1 ? &qs[up_q].data : &up_read.points;
	counts = up_q != (size_t)-1 ? &qs[count_q].data : &up_read.counts;
	for (size_t i = 0; i < prof.n; i++) {
		data[i] = prof.kpis[i].kind->query == KPI_QUERY_RAW ? fetch_data(&fetches[i], &ql) :
			  over_time[i] ? NULL : &qs[main_q[i]].data;
		if (prof.kpis[i].kind->query == KPI_QUERY_RAW && !data[i])
			goto out;
	}
	for (size_t i = 0; i < ql.n; i++)
		for (size_t j = 0; j < qs[i].data.nwarnings; j++)
			kpi_report_add_finding(&report, "warning", qs[i].kpi, 0, 0, "Prometheus warned about %s: %s",
					       qs[i].promql, qs[i].data.warnings[j]);
	/* a gauge, and up, must not report the last sample Prometheus carries forward after scrapes stop */
	kpi_drop_stale(up, &w, counts);
	report_no_fresh_data(s, &src, o, up, &report);
	report_stale_clients(s, o, &report);
	for (size_t i = 0; i < prof.n; i++) {
		if (prof.kpis[i].kind->query != KPI_QUERY_RANGE || over_time[i])
			continue;
		kpi_drop_stale(data[i], &w, counts);
		if (fallback_q[i] != (size_t)-1)
			kpi_drop_stale(&qs[fallback_q[i]].data, &w, counts);
	}
	if (have_edges && (edges.from.at_ms != o->from_ms || edges.to.at_ms != o->to_ms)) {
		kpi_report_add_finding(&report, "warning", o->edges_path, 0, 0,
				       "'%s' holds the readings of another window: not used", o->edges_path);
		have_edges = 0;
	}
	if (have_edges) {
		edges_report(&edges, &report);
		for (size_t i = 0; i < prof.n; i++)
			if (prof.kpis[i].kind->query == KPI_QUERY_RAW)
				matched += edges_attach(&edges, data[i]);
	}
	if (session_target_kinds(s, up, &kinds) < 0)
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
		if (over_time[i]) {
			const struct kpi_over_time m = { gauge_acc(&gauges[i], qs), gauge_counts(&gauges[i], qs),
							 gauge_display_points(&gauges[i], qs) };
			const struct kpi_over_time f = { k->fallback_expr ? gauge_acc(&fb_gauges[i], qs) : NULL,
							 k->fallback_expr ? gauge_counts(&fb_gauges[i], qs) : NULL,
							 k->fallback_expr ? gauge_display_points(&fb_gauges[i], qs) : NULL };

			kpi_compute_over_time(k, &w, &dw, &m, k->fallback_expr ? &f : NULL, &report);
		} else {
			size_t first_result = report.nresults;

			kpi_compute(k, &w, data[i], fallback_q[i] != (size_t)-1 ? &qs[fallback_q[i]].data : NULL,
				    &report);
			if (allow_sparse)
				kpi_thin_steps(k, &w, &dw, &report, first_result);
		}
		for (size_t j = first_finding; j < report.nfindings; j++)
			report.findings[j].optional = k->optional;
		/* computed: its samples go before the next KPI's results take their memory */
		fetch_release(&fetches[i]);
		gauge_queries_release(&gauges[i]);
		gauge_queries_release(&fb_gauges[i]);
		data[i] = NULL;
	}
	kpi_check_targets(&w, up, counts, s->scrape_interval_ms, s->id, s->created_ms, &report);
	health_findings(&hq, &ql, &w, counts, &report);
	health_verdict(&report, &res->verdict);

	{
		const struct artifacts a = { .s = s, .o = o, .w = &w, .dw = &dw, .src = &src, .p = &prof, .queries = &ql,
					     .up = up, .report = &report, .edges = &edges,
					     .have_edges = have_edges, .edges_matched = matched,
					     .timeout_ms = query_timeout_ms(o), .verdict = &res->verdict };

			if (artifacts_write(&a) < 0)
			goto out;
	}
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
	if (ret < 0)
		verdict_release(&res->verdict);
	kpi_report_release(&report);
	for (size_t i = 0; fetches && i < prof.n; i++)
		fetch_release(&fetches[i]);
	free(fetches);
	free(data);
	for (size_t i = 0; gauges && i < prof.n; i++) {
		gauge_queries_release(&gauges[i]);
		gauge_queries_release(&fb_gauges[i]);
	}
	free(gauges);
	free(fb_gauges);
	free(over_time);
	query_list_release(&ql);
	grid_read_release(&up_read);
	health_queries_release(&hq);
	free(up_sel);
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
	verdict_release(&res->verdict);
	kpi_report_release(&res->report);
	memset(res, 0, sizeof(*res));
}
