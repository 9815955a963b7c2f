#include "collect/health.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "collect/fetch.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "session/labels.h"

#define FINDING_CRITICAL "critical_alert"
#define FINDING_WARNING "warning_alert"
#define FINDING_OUT_OF_RANGE "out_of_range"

/* A physical range: the samples of metric outside [lo, hi] are findings. */
static const struct range_check {
	const char *metric;
	double lo, hi;
	const char *what;        /* the range, for messages */
} range_checks[] = {
	{ "DCGM_FI_DEV_GPU_UTIL", 0, 100, "utilisation outside 0-100 %" },
	{ "DCGM_FI_DEV_GPU_TEMP", 0, 150, "temperature outside 0-150 C" },
	{ "DCGM_FI_DEV_POWER_USAGE", 0, INFINITY, "negative power" },
	/* used + free is the total: used above it leaves free negative */
	{ "DCGM_FI_DEV_FB_FREE", 0, INFINITY, "memory used above total" },
};
#define NRANGE (sizeof(range_checks) / sizeof(range_checks[0]))

void health_add_queries(struct health_queries *hq, struct query_list *l, const char *session, const char *base,
			const struct kpi_window *w, int allow_read)
{
	memset(hq, 0, sizeof(*hq));
	hq->alerts = query_add_range(l, "alerts",
				     xasprintf("ALERTS{alertstate=\"firing\"," LABEL_SESSION "=\"%s\"}", session), base, w);
	hq->nrange = NRANGE;
	if (allow_read)
		hq->reads = xcalloc(NRANGE, sizeof(*hq->reads));
	for (size_t i = 0; i < NRANGE; i++) {
		const struct range_check *c = &range_checks[i];
		char *sel = xasprintf("%s{" LABEL_SESSION "=\"%s\"}", c->metric, session);

		if (hq->reads) {
			hq->reads[i].outside = 1;
			hq->reads[i].lo = c->lo;
			hq->reads[i].hi = c->hi;
			/* a selector of ours: remote read always takes it */
			if (grid_read_plan(&hq->reads[i], "physical ranges", sel, base, w, l) < 0)
				abort();
		} else {
			char *q = isfinite(c->hi) ? xasprintf("%s < %g or %s > %g", sel, c->lo, sel, c->hi) :
						    xasprintf("%s < %g", sel, c->lo);
			size_t idx = query_add_range(l, "physical ranges", q, base, w);

			if (i == 0)
				hq->range_first = idx;
		}
		free(sel);
	}
}

void health_queries_release(struct health_queries *hq)
{
	for (size_t i = 0; hq->reads && i < hq->nrange; i++)
		grid_read_release(&hq->reads[i]);
	free(hq->reads);
	memset(hq, 0, sizeof(*hq));
}

/* "n1 GPU 1", "n1 127.0.0.1:9100" or the instance alone: what a series is about. */
static char *subject_text(const struct series *s)
{
	const char *node = series_label(s, LABEL_NODE), *gpu = series_label(s, LABEL_GPU);
	const char *inst = series_label(s, "instance"), *svc = series_label(s, LABEL_SERVICE);

	if (gpu)
		return xasprintf("%s GPU %s", node ? node : inst ? inst : "?", gpu);
	if (svc)
		return xasprintf("service %s on %s", svc, node ? node : inst ? inst : "?");
	return xasprintf("%s%s%s", node ? node : "", node && inst ? " " : "", inst ? inst : node ? "" : "?");
}

/* The finding's subject, as kpis.csv's scopes name them. */
static char *subject_scope(const struct series *s)
{
	const char *node = series_label(s, LABEL_NODE), *gpu = series_label(s, LABEL_GPU);
	const char *inst = series_label(s, "instance");

	if (gpu && node)
		return xasprintf("gpu=%s/%s", node, gpu);
	if (node)
		return xasprintf("node=%s", node);
	return xasprintf("target=%s", inst ? inst : "?");
}

/*
 * Points of s with a value inside the window, (from, to]: the grid's first
 * point may lie before from. A NaN is a point kpi_drop_stale left out.
 */
static size_t points(const struct series *s, const struct kpi_window *w, int64_t *first, int64_t *last,
		     double *extreme, int high)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (isnan(s->v[i]) || s->t_ms[i] <= w->from_ms)
			continue;
		if (!n++)
			*first = s->t_ms[i], *extreme = s->v[i];
		*last = s->t_ms[i];
		if (high ? s->v[i] > *extreme : s->v[i] < *extreme)
			*extreme = s->v[i];
	}
	return n;
}

/* How long s fired inside the window: each point stands for the step before it, cut at from. */
static int64_t firing_ms(const struct series *s, const struct kpi_window *w)
{
	int64_t total = 0;

	for (size_t i = 0; i < s->n; i++)
		if (!isnan(s->v[i]) && s->t_ms[i] > w->from_ms)
			total += s->t_ms[i] - w->from_ms < w->step_ms ? s->t_ms[i] - w->from_ms : w->step_ms;
	return total;
}

void health_findings(const struct health_queries *hq, struct query_list *l, const struct kpi_window *w,
		     const struct series_set *counts, struct kpi_report *report)
{
	const struct series_set *alerts = &l->items[hq->alerts].data;
	double window_s = (double)(w->end_ms - w->from_ms) / 1000.0;

	for (size_t i = 0; i < alerts->n; i++) {
		const struct series *s = &alerts->items[i];
		const char *name = series_label(s, "alertname"), *sev = series_label(s, LABEL_SEVERITY);
		int64_t first = 0, last = 0;
		double dummy;
		size_t n = points(s, w, &first, &last, &dummy, 1);
		char *text, *scope, *subject;

		if (!n || !name)
			continue;
		text = subject_text(s);
		scope = subject_scope(s);
		subject = xasprintf("%s %s", name, scope);
		/* each point of the grid stands for the step before it */
		kpi_report_add_finding(report, sev && !strcmp(sev, "critical") ? FINDING_CRITICAL : FINDING_WARNING,
				       subject, first, last, "%s (%s) on %s for %.0f s of the %.0f s window", name, sev ? sev : "no severity",
				       text, (double)firing_ms(s, w) / 1000.0, window_s);
		free(subject);
		free(scope);
		free(text);
	}
	for (size_t c = 0; c < hq->nrange; c++) {
		struct series_set *set = hq->reads ? &hq->reads[c].points : &l->items[hq->range_first + c].data;

		kpi_drop_stale(set, w, counts);
		for (size_t i = 0; i < set->n; i++) {
			const struct series *s = &set->items[i];
			int64_t first = 0, last = 0;
			double lo = 0, hi = 0;
			size_t n = points(s, w, &first, &last, &lo, 0);
			char *text, *scope;

			if (!n)
				continue;
			points(s, w, &first, &last, &hi, 1);
			text = subject_text(s);
			scope = subject_scope(s);
			kpi_report_add_finding(report, FINDING_OUT_OF_RANGE, scope, first, last,
					       "%s of %s: %s in %zu samples (%g to %g), left out of the KPIs",
					       range_checks[c].metric, text, range_checks[c].what, n, lo, hi);
			free(scope);
			free(text);
		}
	}
}

static void add_reason(struct verdict *v, char *reason)
{
	v->reasons = xrealloc(v->reasons, (v->nreasons + 1) * sizeof(*v->reasons));
	v->reasons[v->nreasons++] = reason;
}

void health_verdict(const struct kpi_report *r, struct verdict *v)
{
	int invalid = 0, suspect = 0;

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < r->nfindings; i++) {
		const struct finding *f = &r->findings[i];

		if (!strcmp(f->kind, FINDING_CRITICAL) || !strcmp(f->kind, FINDING_WARNING)) {
			int critical = !strcmp(f->kind, FINDING_CRITICAL);

			invalid |= critical;
			suspect |= !critical;
			add_reason(v, xstrdup(f->message));
		} else if (!f->optional) {
			suspect = 1;
			add_reason(v, xasprintf("%s finding on %s: %s", f->kind, f->subject, f->message));
		}
	}
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];
		const char *slash = strrchr(res->scope, '/');

		if (strcmp(res->kpi, HEALTH_THROTTLE_KPI) || strncmp(res->scope, "gpu=", 4) || !slash ||
		    !res->has_value || res->value <= HEALTH_THROTTLE_INVALID_PCT)
			continue;
		invalid = 1;
		/* scope "gpu=<node>/<gpu>" */
		add_reason(v, xasprintf("GPU %s of %.*s throttled by hardware %.1f%% of the window (above %.0f%%)",
					slash + 1, (int)(slash - res->scope - 4), res->scope + 4, res->value,
					HEALTH_THROTTLE_INVALID_PCT));
	}
	v->verdict = invalid ? "INVALID" : suspect ? "SUSPECT" : "VALID";
}

void verdict_release(struct verdict *v)
{
	for (size_t i = 0; i < v->nreasons; i++)
		free(v->reasons[i]);
	free(v->reasons);
	memset(v, 0, sizeof(*v));
}
