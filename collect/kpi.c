#include "collect/kpi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/labels.h"

/* A set of series sharing a scope: "session", "node=a", "service=b", "gpu=a/0". */
struct group {
	char *scope;
	size_t *idx;
	size_t n;
};

struct groups {
	struct group *items;
	size_t n;
};

void kpi_report_add_finding(struct kpi_report *r, const char *kind, const char *subject, int64_t from_ms,
			    int64_t to_ms, const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	r->findings = xrealloc(r->findings, (r->nfindings + 1) * sizeof(*r->findings));
	f = &r->findings[r->nfindings++];
	f->kind = xstrdup(kind);
	f->subject = xstrdup(subject);
	f->from_ms = from_ms;
	f->to_ms = to_ms;
	f->optional = 0;
	va_start(ap, fmt);
	f->message = xvasprintf(fmt, ap);
	va_end(ap);
}

void kpi_report_release(struct kpi_report *r)
{
	for (size_t i = 0; i < r->nresults; i++) {
		free(r->results[i].kpi);
		free(r->results[i].scope);
		free(r->results[i].unit);
		free(r->results[i].reason);
		free(r->results[i].steps);
	}
	for (size_t i = 0; i < r->nfindings; i++) {
		free(r->findings[i].kind);
		free(r->findings[i].subject);
		free(r->findings[i].message);
	}
	free(r->results);
	free(r->findings);
	memset(r, 0, sizeof(*r));
}

static struct kpi_result *add_result(struct kpi_report *r, const char *kpi, const char *scope, const char *unit,
				     size_t nsteps)
{
	struct kpi_result *res;

	r->results = xrealloc(r->results, (r->nresults + 1) * sizeof(*r->results));
	res = &r->results[r->nresults++];
	memset(res, 0, sizeof(*res));
	res->kpi = xstrdup(kpi);
	res->scope = xstrdup(scope);
	res->unit = xstrdup(unit);
	res->status = "no_data";
	res->method = "interpolated";
	res->steps = xmalloc((nsteps ? nsteps : 1) * sizeof(double));
	for (size_t i = 0; i < nsteps; i++)
		res->steps[i] = NAN;
	return res;
}

static void group_add(struct groups *g, const char *scope, size_t series_index)
{
	size_t i;

	for (i = 0; i < g->n && strcmp(g->items[i].scope, scope); i++)
		;
	if (i == g->n) {
		g->items = xrealloc(g->items, (g->n + 1) * sizeof(*g->items));
		memset(&g->items[g->n], 0, sizeof(g->items[0]));
		g->items[g->n++].scope = xstrdup(scope);
	}
	g->items[i].idx = xrealloc(g->items[i].idx, (g->items[i].n + 1) * sizeof(size_t));
	g->items[i].idx[g->items[i].n++] = series_index;
}

static int compare_groups(const void *a, const void *b)
{
	const struct group *x = a, *y = b;
	int xs = !strcmp(x->scope, "session"), ys = !strcmp(y->scope, "session");

	if (xs != ys)
		return ys - xs;
	return strcmp(x->scope, y->scope);
}

/* Group the series by the KPI's scopes; the session scope holds them all. */
static void make_groups(const struct kpi_def *k, const struct series_set *set, struct groups *g)
{
	memset(g, 0, sizeof(*g));
	for (size_t i = 0; i < set->n; i++) {
		const char *v;

		if (k->scopes & KPI_SCOPE_SESSION)
			group_add(g, "session", i);
		if ((k->scopes & KPI_SCOPE_SERVICE) && (v = series_label(&set->items[i], LABEL_SERVICE))) {
			char *scope = xasprintf("service=%s", v);

			group_add(g, scope, i);
			free(scope);
		}
		if ((k->scopes & KPI_SCOPE_NODE) && (v = series_label(&set->items[i], LABEL_NODE))) {
			char *scope = xasprintf("node=%s", v);

			group_add(g, scope, i);
			free(scope);
		}
		if ((k->scopes & KPI_SCOPE_GPU) && (v = series_label(&set->items[i], LABEL_GPU))) {
			const char *node = series_label(&set->items[i], LABEL_NODE);
			char *scope = xasprintf("gpu=%s/%s", node ? node : "", v);

			group_add(g, scope, i);
			free(scope);
		}
	}
	if (g->n)
		qsort(g->items, g->n, sizeof(*g->items), compare_groups);
}

static void groups_release(struct groups *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->items[i].scope);
		free(g->items[i].idx);
	}
	free(g->items);
}

/* A short name for a series in findings: its metric and identifying labels. */
static char *series_name(const struct series *s)
{
	struct strbuf sb = STRBUF_INIT;
	const char *name = series_label(s, "__name__");
	int first = 1;

	strbuf_addstr(&sb, name ? name : "");
	strbuf_addch(&sb, '{');
	for (size_t i = 0; i < s->nlabels; i++) {
		if (!strcmp(s->labels[i].name, "__name__") || !strcmp(s->labels[i].name, LABEL_SESSION))
			continue;
		strbuf_addf(&sb, "%s%s=\"%s\"", first ? "" : ",", s->labels[i].name, s->labels[i].value);
		first = 0;
	}
	strbuf_addch(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

/*
 * The series' points on the window's grid (NaN where absent). NaN and Inf
 * samples are dropped, each stretch reported once (to r, unless NULL).
 */
static double *aligned_points(const struct kpi_def *k, const struct kpi_window *w, const struct series *s,
			      struct kpi_report *r)
{
	double *out = xmalloc((w->nsteps ? w->nsteps : 1) * sizeof(double));
	int64_t bad_from = 0, bad_to = 0;
	size_t bad = 0;

	for (size_t i = 0; i < w->nsteps; i++)
		out[i] = NAN;
	for (size_t i = 0; i < s->n; i++) {
		int64_t off = s->t_ms[i] - w->start_ms;
		size_t at;

		if (off < 0 || off % w->step_ms)
			continue;
		at = (size_t)(off / w->step_ms);
		if (at >= w->nsteps)
			continue;
		if (!isfinite(s->v[i])) {
			if (!bad++)
				bad_from = s->t_ms[i];
			bad_to = s->t_ms[i];
			continue;
		}
		out[at] = s->v[i];
	}
	if (bad && r) {
		char *name = series_name(s);

		kpi_report_add_finding(r, "nan_value", k->name, bad_from, bad_to,
				       "%zu NaN or Inf values in %s were left out", bad, name);
		free(name);
	}
	return out;
}

/*
 * The reset-corrected counter at time at, interpolated between the samples
 * around it. Times only move forward: *from is where the last search ended
 * (start it at 0), so a whole grid costs one pass over the samples.
 */
static double counter_walk(const int64_t *t, const double *c, size_t n, size_t *from, int64_t at)
{
	size_t lo = *from;

	if (at <= t[0])
		return c[0];
	if (at >= t[n - 1])
		return c[n - 1];
	while (lo + 1 < n && t[lo + 1] <= at)
		lo++;
	*from = lo;
	if (t[lo] == at)
		return c[lo];
	return c[lo] + (c[lo + 1] - c[lo]) * (double)(at - t[lo]) / (double)(t[lo + 1] - t[lo]);
}

/*
 * A counter's samples with NaN left out and resets undone: c[i] - c[i-1] is
 * what it counted between samples i-1 and i, also across a reset (the
 * values after one are shifted up by the value before it). reset[i] says it
 * restarted between samples i-1 and i, losing an unknown count; NULL when
 * it never did.
 */
struct counter_samples {
	int64_t *t;
	double *c;
	unsigned char *reset;
	size_t n;
	int has_edges, from_exact;   /* read at the window's edges by run: series.h */
	double from_v, to_v;
	int sparse;                  /* samples between gap_from and gap_to left out: series.h */
	int64_t gap_from, gap_to;
	size_t window_samples;
};

static void counter_samples_release(struct counter_samples *cs)
{
	free(cs->t);
	free(cs->c);
	free(cs->reset);
	memset(cs, 0, sizeof(*cs));
}

/* A counter's increase over the window: an estimate, and what the samples prove of it. */
struct counter_total {
	double value;     /* interpolated at both edges; NaN with fewer than two samples */
	double sure;      /* counted between samples both inside the window */
	double possible;  /* at most this many could be inside; may be +Inf */
	size_t samples;   /* samples inside the window */
	int edges;        /* value, sure and possible come from the edge readings */
};

/*
 * What the samples prove about the increase in (from, to]. The increase
 * between two samples inside the window is surely inside it; one between
 * samples around an edge possibly is. Before the first sample the counter
 * counted from zero (a series first seen after from may have counted
 * requests inside the window before its first scrape); after the last one,
 * and across a reset (which lost what it counted since the sample before),
 * nothing bounds it.
 */
static void counter_prove(const struct counter_samples *cs, int64_t from, int64_t to, double *sure,
			  double *possible)
{
	const int64_t *t = cs->t;
	size_t n = cs->n, lo = 0, hi, first = 0, last;

	*sure = 0;
	*possible = 0;
	if (!n || t[n - 1] < to) {
		*possible = INFINITY;
		if (!n)
			return;
	}
	if (t[0] > from)
		*possible += cs->c[0];
	/*
	 * Sums of increases between consecutive samples, taken as differences
	 * of the reset-corrected counter: the same digits whether the samples
	 * between are all there or left out (a sparse series).
	 * Surely inside: between samples lo and hi, the first and last in [from, to].
	 */
	while (lo < n && t[lo] < from)
		lo++;
	hi = lo;
	while (hi + 1 < n && t[hi + 1] <= to)
		hi++;
	if (lo < n && hi > lo)
		*sure = cs->c[hi] - cs->c[lo];
	/* possibly inside: increases (i-1, i] with t[i] > from and t[i-1] < to */
	while (first < n && t[first] <= from)
		first++;
	first = first ? first : 1;
	last = first;
	while (last < n && t[last - 1] < to)
		last++;
	if (first >= last)
		return;
	for (size_t i = first; cs->reset && i < last; i++)
		if (cs->reset[i]) {
			*possible = INFINITY;
			return;
		}
	*possible += cs->c[last - 1] - cs->c[first - 1];
}

/*
 * The window's total from the counter's own readings at its edges: exact
 * when the start was read before any request of the window (then sure ==
 * possible), else the counter at the start is at most its reading, and
 * what it counted since the last scrape before the start, up to the second
 * scrape after it (the reading's answer came before that), possibly is
 * inside. Not used (0) when the readings disagree with a counter: a reset
 * between them, or a drop.
 */
static int counter_edges(const struct counter_samples *cs, int64_t from, int64_t to, struct counter_total *total)
{
	const int64_t *t = cs->t;
	size_t n = cs->n, before = (size_t)-1, after = (size_t)-1;

	if (!cs->has_edges || cs->to_v < cs->from_v)
		return 0;
	for (size_t i = 1; cs->reset && i < n; i++)
		if (cs->reset[i] && t[i] > from && t[i - 1] < to)
			return 0;
	total->value = cs->to_v - cs->from_v;
	total->sure = total->value;
	total->possible = total->value;
	total->edges = 1;
	if (cs->from_exact)
		return 1;
	for (size_t i = 0; i < n; i++) {
		if (t[i] <= from)
			before = i;
		else if (after == (size_t)-1 && i + 1 < n)
			after = i + 1;
	}
	if (before == (size_t)-1 || after == (size_t)-1) {
		total->possible = INFINITY;
		return 1;
	}
	for (size_t i = before + 1; cs->reset && i <= after; i++)
		if (cs->reset[i]) {
			total->possible = INFINITY;
			return 1;
		}
	total->possible += cs->c[after] - cs->c[before];
	return 1;
}

/*
 * The window's total of a counter and its per-step increases: inc[i] is the
 * increase between grid points i-1 and i (NaN for i = 0, and outside the
 * samples' span). Between two samples the counter is taken as growing
 * linearly, which puts the window's edges where they are instead of on the
 * nearest scrape.
 */
static void counter_window(const struct counter_samples *cs, const struct kpi_window *w,
			   struct counter_total *total, double *inc)
{
	const int64_t *t = cs->t;
	const double *c = cs->c;
	size_t n = cs->n;

	total->samples = 0;
	total->edges = 0;
	for (size_t i = 0; !cs->sparse && i < n; i++)
		total->samples += t[i] >= w->from_ms && t[i] <= w->end_ms;
	if (cs->sparse)
		total->samples = cs->window_samples;
	counter_prove(cs, w->from_ms, w->end_ms, &total->sure, &total->possible);
	total->value = NAN;
	if (counter_edges(cs, w->from_ms, w->end_ms, total)) {
		/* the per-step increases below still come from the scrapes */
	} else if (n >= 2) {
		size_t from_at = 0, end_at = 0;

		total->value = counter_walk(t, c, n, &end_at, w->end_ms) - counter_walk(t, c, n, &from_at, w->from_ms);
	}
	for (size_t i = 0, at_a = 0, at_b = 0; inc && i < w->nsteps; i++) {
		int64_t a = w->start_ms + (int64_t)(i ? i - 1 : 0) * w->step_ms;
		int64_t b = w->start_ms + (int64_t)i * w->step_ms;

		inc[i] = NAN;
		/* only where samples exist on both sides of the step, or the step holds samples */
		if (!i || n < 2 || b <= t[0] || a >= t[n - 1])
			continue;
		/* a sparse series says nothing of the steps that reach into its gap */
		if (cs->sparse && a < cs->gap_to && b > cs->gap_from)
			continue;
		inc[i] = counter_walk(t, c, n, &at_b, b) - counter_walk(t, c, n, &at_a, a);
	}
}

/* Report the NaN or Inf values left out of a series, once for the window. */
static void report_bad_values(const struct kpi_def *k, const struct series *s, const struct kpi_window *w,
			      size_t bad, struct kpi_report *r)
{
	char *name;

	if (!bad)
		return;
	name = series_name(s);
	kpi_report_add_finding(r, "nan_value", k->name, w->start_ms, w->end_ms,
			       "%zu NaN or Inf values in %s were left out", bad, name);
	free(name);
}

/* A series' samples as a counter: a drop is a reset, reported as a finding. */
static void counter_load_samples(const struct kpi_def *k, const struct series *s, const struct kpi_window *w,
				 struct kpi_report *r, struct counter_samples *cs)
{
	double offset = 0, prev = NAN;
	size_t bad = 0;

	cs->t = xmalloc((s->n ? s->n : 1) * sizeof(int64_t));
	cs->c = xmalloc((s->n ? s->n : 1) * sizeof(double));
	cs->reset = NULL;
	cs->n = 0;
	cs->has_edges = s->has_edges;
	cs->from_exact = s->edge_from_exact;
	cs->from_v = s->edge_from;
	cs->to_v = s->edge_to;
	cs->sparse = s->sparse;
	cs->gap_from = s->gap_from;
	cs->gap_to = s->gap_to;
	cs->window_samples = s->window_samples;
	for (size_t i = 0; i < s->n; i++) {
		if (!isfinite(s->v[i])) {
			bad++;
			continue;
		}
		if (!isnan(prev) && s->v[i] < prev) {
			char *name = series_name(s);

			if (!cs->reset)
				cs->reset = xcalloc(s->n, 1);
			cs->reset[cs->n] = 1;
			offset += prev;
			kpi_report_add_finding(r, "counter_reset", k->name, s->t_ms[i], s->t_ms[i],
					       "counter reset in %s (from %g to %g)", name, prev, s->v[i]);
			free(name);
		}
		prev = s->v[i];
		cs->t[cs->n] = s->t_ms[i];
		cs->c[cs->n++] = s->v[i] + offset;
	}
	report_bad_values(k, s, w, bad, r);
}

static double *counter_increments(const struct kpi_def *k, const struct series *s, const struct kpi_window *w,
				  struct kpi_report *r, struct counter_total *total)
{
	double *inc = xmalloc((w->nsteps ? w->nsteps : 1) * sizeof(double));
	struct counter_samples cs;

	counter_load_samples(k, s, w, r, &cs);
	counter_window(&cs, w, total, inc);
	counter_samples_release(&cs);
	return inc;
}

/* Every series of a counter KPI: per-step increases and window totals. */
struct counters {
	double **incs;
	struct counter_total *totals;
	size_t n;
};

static void counters_load(struct counters *c, const struct kpi_def *k, const struct kpi_window *w,
			  const struct series_set *set, struct kpi_report *r)
{
	c->n = set->n;
	c->incs = xcalloc(set->n + 1, sizeof(*c->incs));
	c->totals = xcalloc(set->n + 1, sizeof(*c->totals));
	for (size_t i = 0; i < set->n; i++)
		c->incs[i] = counter_increments(k, &set->items[i], w, r, &c->totals[i]);
}

static void counters_release(struct counters *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->incs[i]);
	free(c->incs);
	free(c->totals);
}

static double window_seconds(const struct kpi_window *w)
{
	return (double)(w->end_ms - w->from_ms) / 1000.0;
}

/* A window's count as the KPI reports it: per second for a rate, times its scale. */
static double counter_scaled(const struct kpi_def *k, const struct kpi_window *w, int per_second, double count)
{
	return (per_second ? count / window_seconds(w) : count) * k->scale;
}

/* Per-step sums of a group's increases (NaN where no series had one). */
static void sum_increments(double **incs, const struct group *g, size_t nsteps, double *per_step)
{
	for (size_t i = 0; i < nsteps; i++)
		per_step[i] = NAN;
	for (size_t j = 0; j < g->n; j++) {
		const double *inc = incs[g->idx[j]];

		for (size_t i = 0; i < nsteps; i++) {
			if (isnan(inc[i]))
				continue;
			per_step[i] = isnan(per_step[i]) ? inc[i] : per_step[i] + inc[i];
		}
	}
}

static void no_data(struct kpi_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void no_data(struct kpi_result *res, const char *fmt, ...)
{
	va_list ap;

	res->status = "no_data";
	res->has_value = 0;
	va_start(ap, fmt);
	free(res->reason);
	res->reason = xvasprintf(fmt, ap);
	va_end(ap);
}

static void not_applicable(struct kpi_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void not_applicable(struct kpi_result *res, const char *fmt, ...)
{
	va_list ap;

	res->status = "not_applicable";
	res->method = "none";
	res->has_value = 0;
	va_start(ap, fmt);
	free(res->reason);
	res->reason = xvasprintf(fmt, ap);
	va_end(ap);
}

/* Does the peak's sub-window fit in the window at least once? */
static int peak_fits(const struct kpi_def *k, const struct kpi_window *w)
{
	int64_t span = k->peak_ms / w->step_ms;

	return span >= 1 && (size_t)span < w->nsteps;
}

/* A peak that cannot be had is not_applicable, with why; otherwise no_data for the reason given. */
static void peak_without_value(const struct kpi_def *k, const struct kpi_window *w, struct kpi_result *peak,
			       const char *why)
{
	char *len;

	if (peak_fits(k, w)) {
		no_data(peak, "%s", why);
		return;
	}
	len = format_duration_ms(k->peak_ms);
	not_applicable(peak, "the window (%.1fs) is shorter than the peak's sub-window (%s)", window_seconds(w), len);
	free(len);
}

static void set_value(struct kpi_result *res, double value)
{
	res->has_value = 1;
	res->value = value;
	res->status = "ok";
}

static void counter_compute(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			    struct kpi_report *r, int per_second)
{
	struct counters c;
	struct groups g;

	counters_load(&c, k, w, set, r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		struct kpi_result *res = add_result(r, k->name, g.items[gi].scope, k->unit, w->nsteps);
		double step_s = (double)w->step_ms / 1000.0;
		double total = 0, sure = 0, possible = 0;
		size_t with_total = 0, with_edges = 0;

		sum_increments(c.incs, &g.items[gi], w->nsteps, res->steps);
		for (size_t j = 0; j < g.items[gi].n; j++) {
			const struct counter_total *ct = &c.totals[g.items[gi].idx[j]];

			with_edges += ct->edges;
			res->samples += ct->samples;
			sure += ct->sure;
			possible += ct->possible;
			if (!isnan(ct->value)) {
				total += ct->value;
				with_total++;
			}
		}
		if (with_edges == g.items[gi].n)
			res->method = "edges";
		/* the bounds: what the scrapes inside and around the window prove at least and at most */
		if (possible > 0) {
			res->has_bounds = 1;
			res->lower = counter_scaled(k, w, per_second, sure);
			res->upper = counter_scaled(k, w, per_second, possible);
		}
		if (!with_total) {
			no_data(res, "fewer than two samples of any series in the window");
			continue;
		}
		if (per_second && total == 0) {
			/* a rate of exactly zero means nothing happened: report that, not a number to average */
			no_data(res, "%s did not increase in the window (%s)", k->metric,
				possible > 0 ? "none seen, but the scrapes allow some" : "no traffic");
			if (k->peak_name) {
				char *why = xasprintf("%s did not increase in the window", k->metric);

				peak_without_value(k, w, add_result(r, k->peak_name, g.items[gi].scope, k->unit, w->nsteps),
						   why);
				free(why);
			}
			continue;
		}
		set_value(res, counter_scaled(k, w, per_second, total));
		for (size_t i = 0; i < w->nsteps; i++)
			if (!isnan(res->steps[i]))
				res->steps[i] = per_second ? res->steps[i] / step_s * k->scale : res->steps[i] * k->scale;
		if (k->peak_ms) {
			size_t span = (size_t)(k->peak_ms / w->step_ms), res_at = (size_t)(res - r->results);
			struct kpi_result *peak = add_result(r, k->peak_name, g.items[gi].scope, k->unit, w->nsteps);
			double best = -1;

			/* add_result may have moved the results: find res again */
			res = &r->results[res_at];

			if (!peak_fits(k, w)) {
				peak_without_value(k, w, peak, "");
				continue;
			}
			/* steps[i] holds the rate over (i-1, i]: a sub-window is span consecutive steps */
			for (size_t end = span; end < w->nsteps; end++) {
				double sum = 0;
				size_t have = 0;

				for (size_t i = end + 1 - span; i <= end; i++)
					if (!isnan(res->steps[i])) {
						sum += res->steps[i];
						have++;
					}
				if (have == span && sum / (double)span > best)
					best = sum / (double)span;
				peak->steps[end] = have == span ? sum / (double)span : NAN;
			}
			peak->samples = res->samples;
			if (best >= 0)
				set_value(peak, best);
			else
				no_data(peak, "no complete sub-window without gaps");
		}
	}
	groups_release(&g);
	counters_release(&c);
}

/* counter_rate: a counter's increase over the window per second. */
static void compute_rate(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			 struct kpi_report *r)
{
	counter_compute(k, w, set, r, 1);
}

/* counter_increase: a counter's increase over the window. */
static void compute_increase(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			     struct kpi_report *r)
{
	counter_compute(k, w, set, r, 0);
}

/* Is value one of the '|'-separated words of list? */
static int value_in_list(const char *value, const char *list)
{
	size_t len = strlen(value);

	for (const char *p = list; *p;) {
		size_t n = strcspn(p, "|");

		if (n == len && !strncmp(p, value, n))
			return 1;
		p += n + (p[n] == '|');
	}
	return 0;
}

static void compute_util(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			 struct kpi_report *r)
{
	struct counters c;
	struct groups g;

	counters_load(&c, k, w, set, r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = add_result(r, k->name, grp->scope, k->unit, w->nsteps);
		double *idle_step = xcalloc(w->nsteps + 1, sizeof(double));
		double *all_step = xcalloc(w->nsteps + 1, sizeof(double));
		double idle = 0, all = 0;
		size_t with_edges = 0;

		for (size_t j = 0; j < grp->n; j++) {
			const char *v = series_label(&set->items[grp->idx[j]], k->idle_label);
			int is_idle = v && value_in_list(v, k->idle_value);

			with_edges += c.totals[grp->idx[j]].edges;
			if (!isnan(c.totals[grp->idx[j]].value)) {
				all += c.totals[grp->idx[j]].value;
				idle += is_idle ? c.totals[grp->idx[j]].value : 0;
			}
			res->samples += c.totals[grp->idx[j]].samples;
			for (size_t i = 0; i < w->nsteps; i++) {
				double inc = c.incs[grp->idx[j]][i];

				if (isnan(inc))
					continue;
				all_step[i] += inc;
				if (is_idle)
					idle_step[i] += inc;
			}
		}
		if (with_edges == grp->n)
			res->method = "edges";
		if (all > 0) {
			set_value(res, 100.0 * (1.0 - idle / all));
			for (size_t i = 0; i < w->nsteps; i++)
				if (all_step[i] > 0)
					res->steps[i] = 100.0 * (1.0 - idle_step[i] / all_step[i]);
		} else {
			no_data(res, "no increase of %s in the window", k->metric);
		}
		free(idle_step);
		free(all_step);
	}
	groups_release(&g);
	counters_release(&c);
}

/* Is every point of every series zero (the MIG GPU_UTIL case)? */
static int all_zero(const struct series_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->items[i].n; j++)
			if (set->items[i].v[j] != 0)
				return 0;
	return 1;
}

static void gauge_compute(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			  struct kpi_report *r, int max)
{
	double **pts = xcalloc(set->n + 1, sizeof(*pts));
	struct groups g;

	for (size_t i = 0; i < set->n; i++)
		pts[i] = aligned_points(k, w, &set->items[i], r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = add_result(r, k->name, grp->scope, k->unit, w->nsteps);
		double acc = max ? -INFINITY : 0;

		res->method = "sampled";
		for (size_t i = 0; i < w->nsteps; i++) {
			double step_acc = max ? -INFINITY : 0;
			size_t have = 0;

			for (size_t j = 0; j < grp->n; j++) {
				double v = pts[grp->idx[j]][i];

				if (isnan(v))
					continue;
				have++;
				if (max)
					step_acc = v > step_acc ? v : step_acc;
				else
					step_acc += v;
			}
			if (!have)
				continue;
			res->samples += have;
			if (max) {
				res->steps[i] = step_acc * k->scale;
				acc = step_acc > acc ? step_acc : acc;
			} else {
				res->steps[i] = step_acc / (double)have * k->scale;
				acc += step_acc;
			}
		}
		if (!res->samples)
			no_data(res, "no points in the window");
		else
			set_value(res, (max ? acc : acc / (double)res->samples) * k->scale);
	}
	groups_release(&g);
	for (size_t i = 0; i < set->n; i++)
		free(pts[i]);
	free(pts);
}

/* avg: the mean of every point of expr in the window. */
static void compute_avg(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			struct kpi_report *r)
{
	gauge_compute(k, w, set, r, 0);
}

/* max: the largest point of expr in the window. */
static void compute_max(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			struct kpi_report *r)
{
	gauge_compute(k, w, set, r, 1);
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int histogram_quantile_bounds(double q, const double *le, const double *cum, size_t n, double *value,
			      double *lower, double *upper)
{
	double total, rank, below = 0, lo = 0;
	size_t b;

	if (n < 2 || !isinf(le[n - 1]))
		return -1;
	total = cum[n - 1];
	if (!(total > 0))
		return -1;
	rank = q * total;
	for (b = 0; b < n && cum[b] < rank; b++)
		;
	if (b == n)
		b = n - 1;
	if (b == n - 1) {
		/* in the +Inf bucket: all that is known is "above the highest finite bound" */
		*value = le[n - 2];
		*lower = le[n - 2];
		*upper = INFINITY;
		return 0;
	}
	if (b > 0) {
		lo = le[b - 1];
		below = cum[b - 1];
	} else if (le[0] <= 0) {
		/* a lowest bound at or below zero holds values down to -Inf: no interpolation, as in Prometheus */
		*value = le[0];
		*lower = -INFINITY;
		*upper = le[0];
		return 0;
	}
	*lower = lo;
	*upper = le[b];
	*value = cum[b] > below ? lo + (le[b] - lo) * (rank - below) / (cum[b] - below) : le[b];
	return 0;
}

/*
 * One histogram: the _bucket series that differ only in le, sampled at the
 * times all of them share. Scraped together, they restarted together: a
 * drop in any of them is a reset of all. For each bucket b, below[b] counts
 * the requests at or below le[b] and above[b] those above it (the +Inf
 * bucket's count less bucket b's), each a counter of its own with what the
 * samples prove of it.
 */
struct histogram {
	double *le;                  /* ascending, the last +Inf */
	size_t nb;
	struct counter_total *below, *above;
	double *counts;              /* row s < nsteps: the interpolated increases of below[] in step s; row nsteps: the window's */
	size_t samples;
	const struct series *inf;    /* its +Inf bucket's series */
};

static void histogram_release(struct histogram *h)
{
	free(h->counts);
	free(h->le);
	free(h->below);
	free(h->above);
}

/* Do series a and b have the same labels, the label ignored aside? */
static int same_labels_but(const struct series *a, const struct series *b, const char *ignored)
{
	size_t na = 0, nb = 0;

	for (size_t i = 0; i < a->nlabels; i++) {
		const char *v;

		if (!strcmp(a->labels[i].name, ignored))
			continue;
		na++;
		v = series_label(b, a->labels[i].name);
		if (!v || strcmp(v, a->labels[i].value))
			return 0;
	}
	for (size_t i = 0; i < b->nlabels; i++)
		nb += strcmp(b->labels[i].name, ignored) != 0;
	return na == nb;
}

/* Are a and b buckets of one histogram: the same labels but for le? */
static int same_histogram(const struct series *a, const struct series *b)
{
	return same_labels_but(a, b, "le");
}

struct bucket_ref {
	double le;
	const struct series *s;
};

static int compare_bucket_refs(const void *a, const void *b)
{
	const struct bucket_ref *x = a, *y = b;

	return x->le < y->le ? -1 : x->le > y->le;
}

/* Is the finite sample of s at time t there? Its index, or -1; *at moves forward. */
static long sample_at(const struct series *s, size_t *at, int64_t t)
{
	while (*at < s->n && s->t_ms[*at] < t)
		(*at)++;
	if (*at < s->n && s->t_ms[*at] == t && isfinite(s->v[*at]))
		return (long)*at;
	return -1;
}

/* Load the histogram whose bucket series are refs[0..n), sorted by le, the last +Inf. */
static void histogram_load(const struct kpi_def *k, const struct kpi_window *w, const struct bucket_ref *refs,
			   size_t n, struct kpi_report *r, struct histogram *h)
{
	const struct series *inf = refs[n - 1].s;
	struct counter_samples *cs = xcalloc(n, sizeof(*cs)), diff = { 0 };
	double *inc = xmalloc((w->nsteps ? w->nsteps : 1) * sizeof(double));
	size_t *at = xcalloc(n, sizeof(size_t)), *row = xcalloc(n, sizeof(size_t));
	double *offset = xcalloc(n, sizeof(double));
	size_t bad = 0, m = 0;

	memset(h, 0, sizeof(*h));
	h->inf = inf;
	h->nb = n;
	h->le = xmalloc(n * sizeof(double));
	h->below = xcalloc(n, sizeof(*h->below));
	h->above = xcalloc(n, sizeof(*h->above));
	h->counts = xmalloc((w->nsteps + 1) * n * sizeof(double));
	for (size_t b = 0; b < n; b++) {
		h->le[b] = refs[b].le;
		cs[b].t = xmalloc((inf->n ? inf->n : 1) * sizeof(int64_t));
		cs[b].c = xmalloc((inf->n ? inf->n : 1) * sizeof(double));
		cs[b].reset = xcalloc(inf->n ? inf->n : 1, 1);
		for (size_t i = 0; i < refs[b].s->n; i++) {
			bad += !isfinite(refs[b].s->v[i]);
			h->samples += !refs[b].s->sparse && refs[b].s->t_ms[i] >= w->from_ms &&
				      refs[b].s->t_ms[i] <= w->end_ms;
		}
		if (refs[b].s->sparse)
			h->samples += refs[b].s->window_samples;
	}
	/* the times every bucket has a finite sample at */
	for (size_t i = 0; i < inf->n; i++) {
		int reset = 0, all = 1;

		for (size_t b = 0; b < n && all; b++) {
			long j = sample_at(refs[b].s, &at[b], inf->t_ms[i]);

			all = j >= 0;
			row[b] = j >= 0 ? (size_t)j : 0;
		}
		if (!all)
			continue;
		for (size_t b = 0; b < n && m; b++)
			reset |= refs[b].s->v[row[b]] < cs[b].c[m - 1] - offset[b];
		for (size_t b = 0; b < n; b++) {
			if (reset)
				offset[b] = cs[b].c[m - 1];
			cs[b].t[m] = inf->t_ms[i];
			cs[b].c[m] = refs[b].s->v[row[b]] + offset[b];
			cs[b].reset[m] = (unsigned char)reset;
		}
		if (reset) {
			char *name = series_name(inf);

			kpi_report_add_finding(r, "counter_reset", k->name, inf->t_ms[i], inf->t_ms[i],
					       "counter reset in %s", name);
			free(name);
		}
		m++;
	}
	if (bad) {
		char *name = series_name(inf);

		kpi_report_add_finding(r, "nan_value", k->name, w->start_ms, w->end_ms,
				       "%zu NaN or Inf values in the buckets of %s were left out", bad, name);
		free(name);
	}
	diff.t = cs[n - 1].t;
	diff.reset = cs[n - 1].reset;
	diff.c = xmalloc((m ? m : 1) * sizeof(double));
	diff.n = m;
	for (size_t b = 0; b < n; b++) {
		const struct series *sb = refs[b].s;

		cs[b].n = m;
		cs[b].has_edges = sb->has_edges;
		cs[b].from_exact = sb->edge_from_exact;
		cs[b].from_v = sb->edge_from;
		cs[b].to_v = sb->edge_to;
		/* a histogram is fetched sparse whole or not at all (collect/fetch.h) */
		cs[b].sparse = sb->sparse;
		cs[b].gap_from = sb->gap_from;
		cs[b].gap_to = sb->gap_to;
		cs[b].window_samples = sb->window_samples;
		/* above bucket b: the +Inf bucket's readings less b's */
		diff.has_edges = sb->has_edges && inf->has_edges;
		diff.from_exact = sb->edge_from_exact && inf->edge_from_exact;
		diff.from_v = inf->edge_from - sb->edge_from;
		diff.to_v = inf->edge_to - sb->edge_to;
		diff.sparse = sb->sparse;
		diff.gap_from = sb->gap_from;
		diff.gap_to = sb->gap_to;
		diff.window_samples = sb->window_samples;
		counter_window(&cs[b], w, &h->below[b], inc);
		for (size_t s = 0; s < w->nsteps; s++)
			h->counts[s * n + b] = inc[s];
		h->counts[w->nsteps * n + b] = h->below[b].value;
		for (size_t i = 0; i < m; i++)
			diff.c[i] = cs[n - 1].c[i] - cs[b].c[i];
		counter_window(&diff, w, &h->above[b], NULL);
	}
	for (size_t b = 0; b < n; b++)
		counter_samples_release(&cs[b]);
	free(diff.c);
	free(inc);
	free(cs);
	free(at);
	free(row);
	free(offset);
}

/*
 * Split a group's series into histograms. Series without le, and
 * histograms without a +Inf bucket, are left out with a finding.
 */
static size_t histograms_load(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			      const struct group *g, struct kpi_report *r, struct histogram **out)
{
	unsigned char *done = xcalloc(g->n + 1, 1);
	struct bucket_ref *refs = xcalloc(g->n + 1, sizeof(*refs));
	size_t nh = 0;

	*out = NULL;
	for (size_t j = 0; j < g->n; j++) {
		const struct series *first = &set->items[g->idx[j]];
		size_t n = 0;

		if (done[j])
			continue;
		for (size_t i = j; i < g->n; i++) {
			const struct series *s = &set->items[g->idx[i]];
			const char *le_text = series_label(s, "le");

			if (done[i] || !same_histogram(first, s))
				continue;
			done[i] = 1;
			if (!le_text)
				continue;
			refs[n].le = strtod(le_text, NULL);
			refs[n++].s = s;
		}
		if (!n)
			continue;
		qsort(refs, n, sizeof(*refs), compare_bucket_refs);
		if (!isinf(refs[n - 1].le)) {
			char *name = series_name(first);

			kpi_report_add_finding(r, "warning", k->name, w->start_ms, w->end_ms,
					       "%s has no le=\"+Inf\" bucket: left out", name);
			free(name);
			continue;
		}
		*out = xrealloc(*out, (nh + 1) * sizeof(**out));
		histogram_load(k, w, refs, n, r, &(*out)[nh++]);
	}
	free(done);
	free(refs);
	return nh;
}

/* Every finite bound of the histograms, ascending and once each, then +Inf. */
static size_t merged_bounds(const struct histogram *hs, size_t nh, double **out)
{
	size_t total = 1, n = 0;
	double *le;

	for (size_t i = 0; i < nh; i++)
		total += hs[i].nb;
	le = xmalloc(total * sizeof(double));
	for (size_t i = 0; i < nh; i++)
		for (size_t b = 0; b + 1 < hs[i].nb; b++)
			le[n++] = hs[i].le[b];
	qsort(le, n, sizeof(double), compare_doubles);
	for (size_t i = 0, kept = 0; i <= n; i++) {
		if (i == n) {
			n = kept;
			break;
		}
		if (!kept || le[i] != le[kept - 1])
			le[kept++] = le[i];
	}
	le[n++] = INFINITY;
	*out = le;
	return n;
}

/*
 * Where merged bound L falls in histogram h: fl[i] is h's largest bucket at
 * or below it (-1 for none) and ce[i] its smallest at or above it.
 */
static void locate_bounds(const struct histogram *h, const double *L, size_t nl, long *fl, size_t *ce)
{
	size_t b = 0;

	for (size_t i = 0; i < nl; i++) {
		while (b + 1 < h->nb && h->le[b] < L[i])
			b++;
		ce[i] = b;
		fl[i] = h->le[b] <= L[i] ? (long)b : (long)b - 1;
	}
}

/*
 * The estimate of how many of h's requests took at most L: its buckets'
 * counts, interpolated linearly between the bounds it has around L (from 0
 * at zero below its first bound, as Prometheus does; flat above its last
 * finite one).
 */
static double estimate_below(const struct histogram *h, const double *count, double L, long fl, size_t ce)
{
	if (fl == (long)ce)
		return count[ce];
	if (fl < 0)
		return h->le[0] > 0 && L > 0 ? count[0] * L / h->le[0] : 0;
	if (isinf(h->le[ce]))
		return count[fl];
	return count[fl] + (count[ce] - count[fl]) * (L - h->le[fl]) / (h->le[ce] - h->le[fl]);
}

/*
 * The bounds of the q-quantile, the smallest latency that at least q of the
 * window's N requests took or beat. It is at most L when the requests
 * surely at or below L are at least q of them however many of the others
 * are inside; it is above L when even all requests possibly at or below L
 * are fewer than q of them. A histogram without bound L counts at or below
 * it surely what its next bound down holds, possibly what its next bound up
 * holds.
 */
static void quantile_proof(const struct histogram *hs, size_t nh, long *const *fl, size_t *const *ce,
			   const double *L, size_t nl, double q, double *lower, double *upper)
{
	*lower = 0;
	*upper = INFINITY;
	for (size_t h = 0; h < nh; h++)
		if (!(hs[h].le[0] > 0))
			*lower = -INFINITY;
	for (size_t i = 0; i + 1 < nl; i++) {
		double cmin = 0, amax = 0, cmax = 0, amin = 0;

		for (size_t h = 0; h < nh; h++) {
			const struct histogram *x = &hs[h];
			long f = fl[h][i];
			size_t c = ce[h][i];

			cmin += f < 0 ? 0 : x->below[f].sure;
			amax += f < 0 ? x->below[x->nb - 1].possible : x->above[f].possible;
			cmax += x->below[c].possible;
			amin += x->above[c].sure;
		}
		if (!isinf(cmax) && cmax < q * (cmax + amin))
			*lower = L[i];
		if (isinf(*upper) && !isinf(amax) && cmin >= q * (cmin + amax))
			*upper = L[i];
	}
}

static void compute_histogram(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			      struct kpi_report *r)
{
	struct group everything = { .n = set->n };
	struct histogram *all, *hs;
	struct groups g;
	size_t nall;

	/* load each histogram once (and report its resets once), then pick each scope's */
	everything.idx = xmalloc((set->n + 1) * sizeof(size_t));
	for (size_t i = 0; i < set->n; i++)
		everything.idx[i] = i;
	nall = histograms_load(k, w, set, &everything, r, &all);
	hs = xmalloc((nall + 1) * sizeof(*hs));
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		size_t nh = 0, nl = 0, first = r->nresults;
		double *L = NULL, *cum, *window_cum, possible = 0;
		long **fl;
		size_t **ce, samples = 0;
		int all_edges = 1;

		for (size_t h = 0; h < nall; h++)
			for (size_t j = 0; j < g.items[gi].n; j++)
				if (&set->items[g.items[gi].idx[j]] == all[h].inf) {
					hs[nh++] = all[h];
					break;
				}
		fl = xcalloc(nh + 1, sizeof(*fl));
		ce = xcalloc(nh + 1, sizeof(*ce));

		for (size_t qi = 0; qi < k->nquantiles; qi++)
			add_result(r, k->quantiles[qi].name, g.items[gi].scope, k->unit, w->nsteps);
		if (!nh) {
			for (size_t qi = 0; qi < k->nquantiles; qi++)
				no_data(&r->results[first + qi], "no %s_bucket series", k->metric);
			free(fl);
			free(ce);
			continue;
		}
		nl = merged_bounds(hs, nh, &L);
		for (size_t h = 0; h < nh; h++) {
			for (size_t b = 0; b < hs[h].nb; b++)
				all_edges &= hs[h].below[b].edges && hs[h].above[b].edges;
			fl[h] = xmalloc(nl * sizeof(long));
			ce[h] = xmalloc(nl * sizeof(size_t));
			locate_bounds(&hs[h], L, nl, fl[h], ce[h]);
			samples += hs[h].samples;
			possible += hs[h].below[hs[h].nb - 1].possible;
		}
		cum = xmalloc(nl * sizeof(double));
		window_cum = xmalloc(nl * sizeof(double));
		/* the estimate: the histograms' interpolated counts, merged on every bound any of them has */
		for (size_t s = 0; s <= w->nsteps; s++) {
			double *out = s == w->nsteps ? window_cum : cum, run = 0;
			int any = s == w->nsteps;

			/* a step no histogram has a say in (inside a sparse gap) has no quantiles: skip it */
			for (size_t h = 0; h < nh && !any; h++)
				any = !isnan(hs[h].counts[s * hs[h].nb + hs[h].nb - 1]);
			if (!any)
				continue;
			for (size_t i = 0; i < nl; i++) {
				double sum = 0;

				for (size_t h = 0; h < nh; h++) {
					const double *count = &hs[h].counts[s * hs[h].nb];

					/* a histogram without samples around the step has no say in it */
					if (!isnan(count[hs[h].nb - 1]))
						sum += estimate_below(&hs[h], count, L[i], fl[h][i], ce[h][i]);
				}
				/* cumulative counts must not decrease (scrapes of buckets are not atomic) */
				run = sum > run ? sum : run;
				out[i] = run;
			}
			for (size_t qi = 0; s < w->nsteps && qi < k->nquantiles; qi++) {
				double v, lo, hi;

				if (histogram_quantile_bounds(k->quantiles[qi].q, L, cum, nl, &v, &lo, &hi) == 0)
					r->results[first + qi].steps[s] = v * k->scale;
			}
		}
		for (size_t qi = 0; qi < k->nquantiles; qi++) {
			struct kpi_result *res = &r->results[first + qi];
			double v, lo, hi, lower, upper;

			res->samples = samples;
			if (all_edges)
				res->method = "edges";
			quantile_proof(hs, nh, fl, ce, L, nl, k->quantiles[qi].q, &lower, &upper);
			if (possible > 0) {
				res->has_bounds = 1;
				res->lower = lower * k->scale;
				res->upper = upper * k->scale;
			}
			if (histogram_quantile_bounds(k->quantiles[qi].q, L, window_cum, nl, &v, &lo, &hi) < 0) {
				no_data(res, "no requests counted in the window");
				continue;
			}
			/* the estimate lies within what is proven; keep it there should rounding say otherwise */
			v = v < lower ? lower : v > upper ? upper : v;
			set_value(res, v * k->scale);
		}
		for (size_t h = 0; h < nh; h++) {
			free(fl[h]);
			free(ce[h]);
		}
		free(fl);
		free(ce);
		free(L);
		free(cum);
		free(window_cum);
	}
	for (size_t h = 0; h < nall; h++)
		histogram_release(&all[h]);
	free(all);
	free(hs);
	free(everything.idx);
	groups_release(&g);
}

/* The result names of a KPI with one result and maybe a peak. */
static const char *name_and_peak(const struct kpi_def *k, size_t i)
{
	return i == 0 ? k->name : i == 1 ? k->peak_name : NULL;
}

/* The result names of a histogram KPI: its quantiles'. */
static const char *quantile_names(const struct kpi_def *k, size_t i)
{
	return i < k->nquantiles ? k->quantiles[i].name : NULL;
}

/*
 * How many times a gauge holding the last event's code (DCGM_FI_DEV_XID_ERRORS)
 * changed to a non-zero code at a scrape in (from, to]. Two events between
 * scrapes, or a repeat of the code already shown, leave no trace: lower is
 * the count seen, upper unbounded.
 */
static void compute_changes(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			    struct kpi_report *r)
{
	struct groups g;

	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = add_result(r, k->name, grp->scope, k->unit, w->nsteps);
		double count = 0;

		for (size_t j = 0; j < grp->n; j++) {
			const struct series *s = &set->items[grp->idx[j]];

			for (size_t i = 0; i < s->n; i++) {
				if (s->t_ms[i] <= w->from_ms || s->t_ms[i] > w->end_ms || isnan(s->v[i]))
					continue;
				res->samples++;
				if (s->v[i] != 0 && (i == 0 || s->v[i] != s->v[i - 1])) {
					count++;
					if (w->step_ms > 0 && s->t_ms[i] >= w->start_ms) {
						size_t step = (size_t)((s->t_ms[i] - w->start_ms + w->step_ms - 1) / w->step_ms);

						if (step < w->nsteps)
							res->steps[step] = isnan(res->steps[step]) ? 1 : res->steps[step] + 1;
					}
				}
			}
		}
		res->method = "sampled";
		if (!res->samples) {
			no_data(res, "no sample of %s inside the window", k->metric);
			continue;
		}
		set_value(res, count * k->scale);
		res->has_bounds = 1;
		res->lower = count * k->scale;
		res->upper = INFINITY;
	}
	groups_release(&g);
}

static const struct kpi_kind kinds[] = {
	{ "counter_rate", KPI_QUERY_RAW, NULL, KPI_FIELD_PEAK, NULL, compute_rate, name_and_peak, KPI_THIN_MEAN },
	{ "counter_increase", KPI_QUERY_RAW, NULL, 0, NULL, compute_increase, name_and_peak, KPI_THIN_SUM },
	{ "counter_util", KPI_QUERY_RAW, NULL, KPI_FIELD_IDLE, NULL, compute_util, name_and_peak, KPI_THIN_NONE },
	{ "histogram_quantiles", KPI_QUERY_RAW, "_bucket", KPI_FIELD_QUANTILES, NULL, compute_histogram,
	  quantile_names, KPI_THIN_NONE },
	{ "avg", KPI_QUERY_RANGE, NULL, 0, "sum", compute_avg, name_and_peak, KPI_THIN_NONE },
	{ "max", KPI_QUERY_RANGE, NULL, 0, "max", compute_max, name_and_peak, KPI_THIN_NONE },
	{ "gauge_changes", KPI_QUERY_RAW, NULL, 0, NULL, compute_changes, name_and_peak, KPI_THIN_NONE },
};

const struct kpi_kind *kpi_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(name, kinds[i].name))
			return &kinds[i];
	return NULL;
}

char *kpi_kind_names(void)
{
	struct strbuf sb = STRBUF_INIT;
	size_t n = sizeof(kinds) / sizeof(kinds[0]);

	for (size_t i = 0; i < n; i++)
		strbuf_addf(&sb, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", kinds[i].name);
	return strbuf_detach(&sb, NULL);
}

/* no_data rows for every result a KPI produces, when it has no series at all. */
static void add_no_series(const struct kpi_def *k, const struct kpi_window *w, struct kpi_report *r,
			  const char *why)
{
	const char *name;

	for (size_t i = 0; (name = k->kind->result_name(k, i)); i++) {
		struct kpi_result *res = add_result(r, name, "session", k->unit, w->nsteps);

		if (name == k->peak_name)
			peak_without_value(k, w, res, why);
		else
			no_data(res, "%s", why);
	}
	kpi_report_add_finding(r, "no_data", k->name, w->start_ms, w->end_ms, "%s", why);
}

void kpi_not_applicable(const struct kpi_def *k, const struct kpi_window *w, struct kpi_report *r, const char *why)
{
	const char *name;

	for (size_t i = 0; (name = k->kind->result_name(k, i)); i++)
		not_applicable(add_result(r, name, "session", k->unit, w->nsteps), "%s", why);
}

/* A finding for each session-wide result from first on that has no data. */
static void report_no_data(const struct kpi_window *w, struct kpi_report *r, size_t first)
{
	for (size_t i = first; i < r->nresults; i++)
		if (!strcmp(r->results[i].status, "no_data") && r->results[i].reason &&
		    !strcmp(r->results[i].scope, "session"))
			kpi_report_add_finding(r, "no_data", r->results[i].kpi, w->start_ms, w->end_ms, "%s: %s",
					       r->results[i].kpi, r->results[i].reason);
}

void kpi_compute(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *data,
		 const struct series_set *fallback, struct kpi_report *r)
{
	const struct series_set *use = data;
	size_t first_result = r->nresults;
	int range = k->kind->query == KPI_QUERY_RANGE;

	if (range && fallback && fallback->n && (!data->n || all_zero(data))) {
		use = fallback;
		kpi_report_add_finding(r, "fallback", k->name, w->start_ms, w->end_ms,
				       "%s: used the fallback expression because the main one %s", k->name,
				       data->n ? "was all zero (MIG GPUs report 0)" : "had no data");
	}
	if (!use->n) {
		char *expr = range ? kpi_expand(k->expr, NULL) : xstrdup(k->metric);
		char *why = xasprintf("no series matched %s", expr);

		add_no_series(k, w, r, why);
		free(why);
		free(expr);
		return;
	}
	k->kind->compute(k, w, use, r);
	report_no_data(w, r, first_result);
}

void kpi_thin_steps(const struct kpi_def *k, const struct kpi_window *w, const struct kpi_window *dw,
		    struct kpi_report *r, size_t first_result)
{
	size_t m = (size_t)(dw->step_ms / w->step_ms);
	double *thin;

	if (!k->kind->thin || m <= 1)
		return;
	thin = xmalloc((w->nsteps + 1) * sizeof(double));
	for (size_t ri = first_result; ri < r->nresults; ri++) {
		struct kpi_result *res = &r->results[ri];
		int peak = k->peak_name && !strcmp(res->kpi, k->peak_name);

		if (!res->steps)
			continue;
		for (size_t i = 0; i < w->nsteps; i++)
			thin[i] = NAN;
		for (size_t d = 0; d < dw->nsteps; d++) {
			int64_t off = dw->start_ms + (int64_t)d * dw->step_ms - w->start_ms;
			size_t at = (size_t)(off / w->step_ms);
			double acc = 0;

			if (off < 0 || off % w->step_ms || at >= w->nsteps)
				continue;
			if (peak) {
				thin[at] = res->steps[at];
				continue;
			}
			for (size_t i = 0; i < m && !isnan(acc); i++)
				acc = at >= i ? acc + res->steps[at - i] : NAN;
			thin[at] = k->kind->thin == KPI_THIN_MEAN ? acc / (double)m : acc;
		}
		memcpy(res->steps, thin, w->nsteps * sizeof(double));
	}
	free(thin);
}

/* Do a and b have the same labels, __name__ (which functions drop) aside? */
static int same_labels(const struct series *a, const struct series *b)
{
	return same_labels_but(a, b, "__name__");
}

/* Fill the steps of k's results (from first_result on) from display, the expression's points on dw. */
static void over_time_steps(const struct kpi_def *k, const struct kpi_window *w, const struct kpi_window *dw,
			    const struct series_set *display, struct kpi_report *r, size_t first_result)
{
	int max = !strcmp(k->kind->over_time, "max");
	double **pts = xcalloc(display->n + 1, sizeof(*pts));
	struct groups g;

	for (size_t i = 0; i < display->n; i++)
		pts[i] = aligned_points(k, dw, &display->items[i], NULL);
	make_groups(k, display, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = NULL;

		for (size_t i = first_result; i < r->nresults && !res; i++)
			if (!strcmp(r->results[i].kpi, k->name) && !strcmp(r->results[i].scope, grp->scope))
				res = &r->results[i];
		if (!res || !res->has_value)
			continue;
		for (size_t i = 0; i < dw->nsteps; i++) {
			int64_t off = dw->start_ms + (int64_t)i * dw->step_ms - w->start_ms;
			double acc = max ? -INFINITY : 0;
			size_t have = 0;

			if (off < 0 || off % w->step_ms || (size_t)(off / w->step_ms) >= w->nsteps)
				continue;
			for (size_t j = 0; j < grp->n; j++) {
				double v = pts[grp->idx[j]][i];

				if (isnan(v))
					continue;
				have++;
				acc = max ? (v > acc ? v : acc) : acc + v;
			}
			if (have)
				res->steps[off / w->step_ms] = (max ? acc : acc / (double)have) * k->scale;
		}
	}
	groups_release(&g);
	for (size_t i = 0; i < display->n; i++)
		free(pts[i]);
	free(pts);
}

void kpi_compute_over_time(const struct kpi_def *k, const struct kpi_window *w, const struct kpi_window *dw,
			   const struct kpi_over_time *main, const struct kpi_over_time *fallback,
			   struct kpi_report *r)
{
	const struct kpi_over_time *use = main;
	int max = !strcmp(k->kind->over_time, "max");
	size_t first_result = r->nresults, n;
	double *val, *cnt;
	struct groups g;

	if (fallback && fallback->acc->n && (!main->acc->n || all_zero(main->acc))) {
		use = fallback;
		kpi_report_add_finding(r, "fallback", k->name, w->start_ms, w->end_ms,
				       "%s: used the fallback expression because the main one %s", k->name,
				       main->acc->n ? "was all zero (MIG GPUs report 0)" : "had no data");
	}
	if (!use->acc->n) {
		char *expr = kpi_expand(use == main ? k->expr : k->fallback_expr, NULL);
		char *why = xasprintf("no sample of %s in the window", expr);

		add_no_series(k, w, r, why);
		free(why);
		free(expr);
		return;
	}
	n = use->acc->n;
	val = xcalloc(n, sizeof(double));
	cnt = xcalloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		const struct series *s = &use->acc->items[i];

		val[i] = s->n ? s->v[s->n - 1] : NAN;
		for (size_t j = 0; j < use->count->n; j++)
			if (same_labels(s, &use->count->items[j]) && use->count->items[j].n)
				cnt[i] = use->count->items[j].v[use->count->items[j].n - 1];
		if (!isfinite(val[i]) && s->n) {
			char *name = series_name(s);

			/* one NaN or Inf sample makes the series' sum one: the series is left out whole */
			kpi_report_add_finding(r, "nan_value", k->name, w->from_ms, w->end_ms,
					       "NaN or Inf values in %s: the series was left out", name);
			free(name);
			val[i] = NAN;
		}
	}
	make_groups(k, use->acc, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = add_result(r, k->name, grp->scope, k->unit, w->nsteps);
		double acc = max ? -INFINITY : 0, samples = 0;

		res->method = "sampled";
		for (size_t j = 0; j < grp->n; j++) {
			size_t i = grp->idx[j];

			if (isnan(val[i]) || !(cnt[i] > 0))
				continue;
			samples += cnt[i];
			acc = max ? (val[i] > acc ? val[i] : acc) : acc + val[i];
		}
		res->samples = (size_t)samples;
		if (!res->samples)
			no_data(res, "no samples in the window");
		else
			set_value(res, (max ? acc : acc / samples) * k->scale);
	}
	groups_release(&g);
	free(val);
	free(cnt);
	if (use->display)
		over_time_steps(k, w, dw, use->display, r, first_result);
	report_no_data(w, r, first_result);
}

/* A target's identity for findings. */
static char *target_name(const struct series *s)
{
	const char *kind = series_label(s, LABEL_KIND), *svc = series_label(s, LABEL_SERVICE);
	const char *client = series_label(s, LABEL_CLIENT_ID), *inst = series_label(s, "instance");

	if (svc)
		return xasprintf("%s '%s' of client %s at %s", kind ? kind : "service", svc, client ? client : "?",
				 inst ? inst : "?");
	return xasprintf("%s exporter of client %s at %s", kind ? kind : "?", client ? client : "?", inst ? inst : "?");
}

/* Does count series c belong to the target of series s? NULL for s without a target's labels. */
static int same_target(const struct series *s, const struct series *c)
{
	static const char *const keys[] = { "instance", "job", LABEL_CLIENT_ID };
	int have = 0;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *a = series_label(s, keys[i]), *b;

		if (!a)
			continue;
		have++;
		b = series_label(c, keys[i]);
		if (!b || strcmp(a, b))
			return 0;
	}
	return have > 0;
}

/* Was the count at time t above zero? *at moves forward. */
static int scraped_at(const struct series *c, size_t *at, int64_t t)
{
	while (*at < c->n && c->t_ms[*at] < t)
		(*at)++;
	return *at < c->n && c->t_ms[*at] == t && c->v[*at] > 0;
}

void kpi_drop_stale(struct series_set *set, const struct kpi_window *w, const struct series_set *counts)
{
	/* the grid points where any target was scraped, for series that name none */
	unsigned char *any = xcalloc(w->nsteps + 1, 1);

	for (size_t i = 0; i < counts->n; i++)
		for (size_t j = 0; j < counts->items[i].n; j++) {
			int64_t off = counts->items[i].t_ms[j] - w->start_ms;

			if (off >= 0 && off % w->step_ms == 0 && (size_t)(off / w->step_ms) < w->nsteps &&
			    counts->items[i].v[j] > 0)
				any[off / w->step_ms] = 1;
		}
	for (size_t i = 0; i < set->n; i++) {
		struct series *s = &set->items[i];
		const struct series *c = NULL;
		size_t kept = 0, at = 0;

		for (size_t j = 0; j < counts->n && !c; j++)
			if (same_target(s, &counts->items[j]))
				c = &counts->items[j];
		for (size_t j = 0; j < s->n; j++) {
			int64_t off = s->t_ms[j] - w->start_ms;
			int fresh;

			if (c)
				fresh = scraped_at(c, &at, s->t_ms[j]);
			else
				fresh = off >= 0 && off % w->step_ms == 0 && (size_t)(off / w->step_ms) < w->nsteps &&
					any[off / w->step_ms];
			if (!fresh)
				continue;
			s->t_ms[kept] = s->t_ms[j];
			s->v[kept++] = s->v[j];
		}
		s->n = kept;
	}
	free(any);
}

/* The stretch of the window the scrape counts show data for: first and last points with a scrape. */
static int data_span(const struct series_set *counts, int64_t *first, int64_t *last)
{
	*first = *last = 0;
	for (size_t i = 0; i < counts->n; i++)
		for (size_t j = 0; j < counts->items[i].n; j++) {
			int64_t t = counts->items[i].t_ms[j];

			if (!(counts->items[i].v[j] > 0))
				continue;
			if (!*first || t < *first)
				*first = t;
			if (t > *last)
				*last = t;
		}
	return *first != 0;
}

/* Say where a window reaching outside the session's data has it, once for each side. */
static void check_data_span(const struct kpi_window *w, int64_t first, int64_t last, int64_t slack,
			    const char *session, int64_t created_ms, struct kpi_report *r)
{
	char *a = format_time_ms(first - w->step_ms), *b = format_time_ms(last);

	if (first - w->step_ms > w->from_ms + slack) {
		char *from = format_time_ms(w->from_ms), *created = format_time_ms(created_ms);

		if (created_ms && w->from_ms < created_ms)
			kpi_report_add_finding(r, "outside_data", session, w->from_ms, first - w->step_ms,
					       "the window starts at %s, before session '%s' was created (%s): it has "
					       "data from about %s to %s", from, session, created, a, b);
		else
			kpi_report_add_finding(r, "outside_data", session, w->from_ms, first - w->step_ms,
					       "the window starts at %s, before the data of session '%s': it has data "
					       "from about %s to %s", from, session, a, b);
		free(from);
		free(created);
	}
	if (last < w->end_ms - slack) {
		char *to = format_time_ms(w->end_ms);

		kpi_report_add_finding(r, "outside_data", session, last, w->end_ms,
				       "the window ends at %s, after the data of session '%s': it has data from about "
				       "%s to %s; nothing after is counted", to, session, a, b);
		free(to);
	}
	free(a);
	free(b);
}

void kpi_check_targets(const struct kpi_window *w, const struct series_set *up, const struct series_set *counts,
		       int64_t scrape_interval_ms, const char *session, int64_t session_created_ms,
		       struct kpi_report *r)
{
	/* jitter moves a scrape across a step boundary now and then: allow a step or two scrapes */
	int64_t slack = w->step_ms > 2 * scrape_interval_ms ? w->step_ms : 2 * scrape_interval_ms;
	int64_t data_first = 0, data_last = 0;

	for (size_t i = 0; i < up->n; i++) {
		const struct series *s = &up->items[i];
		int64_t down_from = 0, down_to = 0;
		size_t down = 0;

		for (size_t j = 0; j < s->n; j++) {
			if (s->v[j] == 0) {
				if (!down++)
					down_from = s->t_ms[j];
				down_to = s->t_ms[j];
			}
		}
		if (down) {
			char *name = target_name(s);
			char *from = format_time_ms(down_from), *to = format_time_ms(down_to);

			kpi_report_add_finding(r, "target_down", name, down_from, down_to,
					       "%s was down in %zu of %zu points, between %s and %s", name, down, s->n,
					       from, to);
			free(from);
			free(to);
			free(name);
		}
	}
	if (!counts || !data_span(counts, &data_first, &data_last))
		return;
	check_data_span(w, data_first, data_last, slack, session, session_created_ms, r);
	for (size_t i = 0; i < counts->n; i++) {
		const struct series *s = &counts->items[i];
		double expected, seen = 0;
		int64_t first = 0, last = 0, since = 0;

		for (size_t j = 0; j < s->n && !since; j++)
			if (s->v[j] > 0)
				since = s->t_ms[j] > w->start_ms ? s->t_ms[j] : w->start_ms;
		if (since - data_first > slack) {
			char *name = target_name(s), *at = format_time_ms(since - w->step_ms);

			kpi_report_add_finding(r, "late_target", name, data_first, since,
					       "%s was first scraped at about %s, after the window and the other targets "
					       "began: what it counted before is possibly inside the window", name, at);
			free(name);
			free(at);
		}
		/*
		 * Compare the scrapes seen with those expected from the target's first
		 * scrape to the last of any, not per step: jitter moves a scrape across
		 * a step boundary now and then. A point's step reaches back before since.
		 */
		expected = (double)(data_last - since) / (double)scrape_interval_ms;
		for (size_t j = 0; j < s->n; j++) {
			if (s->t_ms[j] <= since || s->t_ms[j] > data_last)
				continue;
			seen += s->v[j];
			if (s->v[j] < 0.5) {
				if (!first)
					first = s->t_ms[j];
				last = s->t_ms[j];
			}
		}
		if (expected - seen >= 2) {
			char *name = target_name(s);

			kpi_report_add_finding(r, "missing_scrapes", name, first ? first : since, first ? last : data_last,
					       "%s missed about %.0f of %.0f scrapes in the window", name, expected - seen,
					       expected);
			free(name);
		}
	}
}
