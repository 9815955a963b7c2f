#include "collect/kpi.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

/* A set of series sharing a scope: "session", "node=a", "service=b". */
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
		if ((k->scopes & KPI_SCOPE_SERVICE) && (v = series_label(&set->items[i], "service"))) {
			char *scope = xasprintf("service=%s", v);

			group_add(g, scope, i);
			free(scope);
		}
		if ((k->scopes & KPI_SCOPE_NODE) && (v = series_label(&set->items[i], "node"))) {
			char *scope = xasprintf("node=%s", v);

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
		if (!strcmp(s->labels[i].name, "__name__") || !strcmp(s->labels[i].name, "session"))
			continue;
		strbuf_addf(&sb, "%s%s=\"%s\"", first ? "" : ",", s->labels[i].name, s->labels[i].value);
		first = 0;
	}
	strbuf_addch(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

/*
 * The series' points on the window's grid (NaN where absent). NaN and Inf
 * samples are dropped, each stretch reported once.
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
	if (bad) {
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
 * Per-step increases of a counter from its raw samples: inc[i] is the
 * increase between grid points i-1 and i (NaN for i = 0, and outside the
 * samples' span). A drop is a reset: the counter restarted from zero, so
 * the values after it are shifted up by the value before it. Between two
 * samples the counter is taken as growing linearly, which puts the window's
 * edges where they are instead of on the nearest scrape.
 */
/* A counter's increase over the window: interpolated, and bracketed by the samples inside and around it. */
struct counter_total {
	double value;     /* interpolated at both edges; NaN with fewer than two samples */
	double inner;     /* between the first and last samples inside the window */
	double outer;     /* between the samples just outside the window */
	size_t samples;   /* samples inside the window */
};

/* Index of the last sample at or before at, or of the first when none is. */
static size_t sample_before(const int64_t *t, size_t n, int64_t at)
{
	size_t i = 0;

	while (i + 1 < n && t[i + 1] <= at)
		i++;
	return i;
}

static double *counter_increments(const struct kpi_def *k, const struct series *s, const struct kpi_window *w,
				  struct kpi_report *r, struct counter_total *total)
{
	double *inc = xmalloc((w->nsteps ? w->nsteps : 1) * sizeof(double));
	const int64_t *t = s->t_ms;
	const double *c = s->v;
	int64_t *t_fixed = NULL;
	double *c_fixed = NULL;
	double offset = 0, prev = NAN;
	size_t n = 0, bad = 0;
	int clean = 1;

	/* the usual counter has no reset and no NaN: use its samples as they are, without copies */
	for (size_t i = 0; i < s->n && clean; i++)
		clean = isfinite(s->v[i]) && (!i || s->v[i] >= s->v[i - 1]);
	if (clean) {
		n = s->n;
		for (size_t i = 0; i < n; i++)
			total->samples += s->t_ms[i] >= w->from_ms && s->t_ms[i] <= w->end_ms;
	} else {
		t = t_fixed = xmalloc((s->n ? s->n : 1) * sizeof(int64_t));
		c = c_fixed = xmalloc((s->n ? s->n : 1) * sizeof(double));
	}
	for (size_t i = 0; i < s->n && !clean; i++) {
		if (!isfinite(s->v[i])) {
			bad++;
			continue;
		}
		if (!isnan(prev) && s->v[i] < prev) {
			char *name = series_name(s);

			offset += prev;
			kpi_report_add_finding(r, "counter_reset", k->name, s->t_ms[i], s->t_ms[i],
					       "counter reset in %s (from %g to %g)", name, prev, s->v[i]);
			free(name);
		}
		prev = s->v[i];
		t_fixed[n] = s->t_ms[i];
		c_fixed[n++] = s->v[i] + offset;
		if (s->t_ms[i] >= w->from_ms && s->t_ms[i] <= w->end_ms)
			total->samples++;
	}
	/* the window's increase: the counter at its end minus at its start */
	total->value = total->inner = total->outer = NAN;
	if (n >= 2) {
		size_t a = sample_before(t, n, w->from_ms), b = sample_before(t, n, w->end_ms);
		size_t a_in = t[a] >= w->from_ms ? a : a + 1, b_out = t[b] >= w->end_ms ? b : (b + 1 < n ? b + 1 : b);
		size_t from_at = a, end_at = b;  /* the walks start where sample_before stopped */

		total->value = counter_walk(t, c, n, &end_at, w->end_ms) - counter_walk(t, c, n, &from_at, w->from_ms);
		total->inner = a_in <= b ? c[b] - c[a_in] : 0;
		total->outer = c[b_out] - c[a];
	}
	if (bad) {
		char *name = series_name(s);

		kpi_report_add_finding(r, "nan_value", k->name, w->start_ms, w->end_ms,
				       "%zu NaN or Inf values in %s were left out", bad, name);
		free(name);
	}
	for (size_t i = 0, at_a = 0, at_b = 0; i < w->nsteps; i++) {
		int64_t a = w->start_ms + (int64_t)(i ? i - 1 : 0) * w->step_ms;
		int64_t b = w->start_ms + (int64_t)i * w->step_ms;

		inc[i] = NAN;
		/* only where samples exist on both sides of the step, or the step holds samples */
		if (!i || n < 2 || b <= t[0] || a >= t[n - 1])
			continue;
		inc[i] = counter_walk(t, c, n, &at_b, b) - counter_walk(t, c, n, &at_a, a);
	}
	free(t_fixed);
	free(c_fixed);
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

static void set_value(struct kpi_result *res, double value)
{
	res->has_value = 1;
	res->value = value;
	res->status = "ok";
}

static void compute_counter(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			    struct kpi_report *r)
{
	struct counters c;
	struct groups g;

	counters_load(&c, k, w, set, r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		struct kpi_result *res = add_result(r, k->name, g.items[gi].scope, k->unit, w->nsteps);
		double step_s = (double)w->step_ms / 1000.0;
		double total = 0, inner = 0, outer = 0, per;
		size_t with_total = 0;

		sum_increments(c.incs, &g.items[gi], w->nsteps, res->steps);
		for (size_t j = 0; j < g.items[gi].n; j++) {
			const struct counter_total *ct = &c.totals[g.items[gi].idx[j]];

			res->samples += ct->samples;
			if (!isnan(ct->value)) {
				total += ct->value;
				inner += ct->inner;
				outer += ct->outer;
				with_total++;
			}
		}
		if (!with_total) {
			no_data(res, "fewer than two samples of any series in the window");
			continue;
		}
		if (k->kind == KPI_COUNTER_RATE && total == 0) {
			/* a rate of exactly zero means nothing happened: report that, not a number to average */
			no_data(res, "%s did not increase in the window (no traffic)", k->metric);
			if (k->peak_name)
				no_data(add_result(r, k->peak_name, g.items[gi].scope, k->unit, w->nsteps),
					"%s did not increase in the window (no traffic)", k->metric);
			continue;
		}
		/* the bounds: what the scrapes inside and around the window prove at least and at most */
		per = (k->kind == KPI_COUNTER_RATE ? 1.0 / window_seconds(w) : 1.0) * k->scale;
		set_value(res, total * per);
		res->has_bounds = 1;
		res->lower = inner * per;
		res->upper = outer * per;
		for (size_t i = 0; i < w->nsteps; i++)
			if (!isnan(res->steps[i]))
				res->steps[i] = k->kind == KPI_COUNTER_RATE ? res->steps[i] / step_s * k->scale
									     : res->steps[i] * k->scale;
		if (k->peak_ms) {
			size_t span = (size_t)(k->peak_ms / w->step_ms), res_at = (size_t)(res - r->results);
			struct kpi_result *peak = add_result(r, k->peak_name, g.items[gi].scope, k->unit, w->nsteps);
			double best = -1;

			/* add_result may have moved the results: find res again */
			res = &r->results[res_at];

			if (span < 1 || span >= w->nsteps) {
				no_data(peak, "the window is shorter than the peak's sub-window");
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

		for (size_t j = 0; j < grp->n; j++) {
			const char *v = series_label(&set->items[grp->idx[j]], k->idle_label);
			int is_idle = v && value_in_list(v, k->idle_value);

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

static void compute_gauge(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			  struct kpi_report *r)
{
	double **pts = xcalloc(set->n + 1, sizeof(*pts));
	struct groups g;

	for (size_t i = 0; i < set->n; i++)
		pts[i] = aligned_points(k, w, &set->items[i], r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct kpi_result *res = add_result(r, k->name, grp->scope, k->unit, w->nsteps);
		double acc = k->kind == KPI_MAX ? -INFINITY : 0;

		for (size_t i = 0; i < w->nsteps; i++) {
			double step_acc = k->kind == KPI_MAX ? -INFINITY : 0;
			size_t have = 0;

			for (size_t j = 0; j < grp->n; j++) {
				double v = pts[grp->idx[j]][i];

				if (isnan(v))
					continue;
				have++;
				if (k->kind == KPI_MAX)
					step_acc = v > step_acc ? v : step_acc;
				else
					step_acc += v;
			}
			if (!have)
				continue;
			res->samples += have;
			if (k->kind == KPI_MAX) {
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
			set_value(res, (k->kind == KPI_MAX ? acc : acc / (double)res->samples) * k->scale);
	}
	groups_release(&g);
	for (size_t i = 0; i < set->n; i++)
		free(pts[i]);
	free(pts);
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
		lo = le[0];
	}
	*lower = lo;
	*upper = le[b];
	*value = cum[b] > below ? lo + (le[b] - lo) * (rank - below) / (cum[b] - below) : le[b];
	return 0;
}

struct bucket_sum {
	double le;
	double count;
	double *steps;
};

static int compare_buckets(const void *a, const void *b)
{
	const struct bucket_sum *x = a, *y = b;

	return x->le < y->le ? -1 : x->le > y->le;
}

static void compute_histogram(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			      struct kpi_report *r)
{
	struct counters c;
	struct groups g;

	counters_load(&c, k, w, set, r);
	make_groups(k, set, &g);
	for (size_t gi = 0; gi < g.n; gi++) {
		const struct group *grp = &g.items[gi];
		struct bucket_sum *b = NULL;
		size_t nb = 0, nsamples = 0;
		double *le, *cum;

		/* sum the increases of each bucket bound across the group's series */
		for (size_t j = 0; j < grp->n; j++) {
			const char *le_text = series_label(&set->items[grp->idx[j]], "le");
			double bound;
			size_t at;

			if (!le_text)
				continue;
			bound = strtod(le_text, NULL);
			for (at = 0; at < nb && b[at].le != bound; at++)
				;
			if (at == nb) {
				b = xrealloc(b, (nb + 1) * sizeof(*b));
				b[nb].le = bound;
				b[nb].count = 0;
				b[nb].steps = xcalloc(w->nsteps + 1, sizeof(double));
				nb++;
			}
			if (!isnan(c.totals[grp->idx[j]].value))
				b[at].count += c.totals[grp->idx[j]].value;
			nsamples += c.totals[grp->idx[j]].samples;
			for (size_t i = 0; i < w->nsteps; i++) {
				double inc = c.incs[grp->idx[j]][i];

				if (!isnan(inc))
					b[at].steps[i] += inc;
			}
		}
		if (nb)
			qsort(b, nb, sizeof(*b), compare_buckets);
		le = xcalloc(nb + 1, sizeof(double));
		cum = xcalloc(nb + 1, sizeof(double));
		for (size_t qi = 0; qi < k->nquantiles; qi++) {
			struct kpi_result *res = add_result(r, k->quantiles[qi].name, grp->scope, k->unit, w->nsteps);
			double v, lo, hi, run = 0;

			res->samples = nsamples;
			for (size_t i = 0; i < nb; i++) {
				le[i] = b[i].le;
				/* cumulative counts must not decrease (scrapes of buckets are not atomic) */
				run = b[i].count > run ? b[i].count : run;
				cum[i] = run;
			}
			if (histogram_quantile_bounds(k->quantiles[qi].q, le, cum, nb, &v, &lo, &hi) == 0) {
				set_value(res, v * k->scale);
				res->has_bounds = 1;
				res->lower = lo * k->scale;
				res->upper = hi * k->scale;
			} else {
				no_data(res, nb ? "no requests counted in the window" : "no %s_bucket series", k->metric);
			}
			for (size_t s = 0; s < w->nsteps; s++) {
				run = 0;
				for (size_t i = 0; i < nb; i++) {
					run = b[i].steps[s] > run ? b[i].steps[s] : run;
					cum[i] = run;
				}
				if (histogram_quantile_bounds(k->quantiles[qi].q, le, cum, nb, &v, &lo, &hi) == 0)
					res->steps[s] = v * k->scale;
			}
		}
		for (size_t i = 0; i < nb; i++)
			free(b[i].steps);
		free(b);
		free(le);
		free(cum);
	}
	groups_release(&g);
	counters_release(&c);
}

/* Names of the results a KPI produces, for no_data rows when it has no series at all. */
static void add_no_series(const struct kpi_def *k, const struct kpi_window *w, struct kpi_report *r,
			  const char *why)
{
	if (k->kind == KPI_HISTOGRAM_QUANTILES) {
		for (size_t i = 0; i < k->nquantiles; i++)
			no_data(add_result(r, k->quantiles[i].name, "session", k->unit, w->nsteps), "%s", why);
	} else {
		no_data(add_result(r, k->name, "session", k->unit, w->nsteps), "%s", why);
		if (k->peak_name)
			no_data(add_result(r, k->peak_name, "session", k->unit, w->nsteps), "%s", why);
	}
	kpi_report_add_finding(r, "no_data", k->name, w->start_ms, w->end_ms, "%s", why);
}

void kpi_compute(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *data,
		 const struct series_set *fallback, struct kpi_report *r)
{
	const struct series_set *use = data;
	size_t first_result = r->nresults;

	if ((k->kind == KPI_AVG || k->kind == KPI_MAX) && fallback && fallback->n && (!data->n || all_zero(data))) {
		use = fallback;
		kpi_report_add_finding(r, "fallback", k->name, w->start_ms, w->end_ms,
				       "%s: used the fallback expression because the main one %s", k->name,
				       data->n ? "was all zero (MIG GPUs report 0)" : "had no data");
	}
	if (!use->n) {
		char *why = xasprintf("no series matched %s",
				      k->kind == KPI_AVG || k->kind == KPI_MAX ? k->expr : k->metric);

		add_no_series(k, w, r, why);
		free(why);
		return;
	}
	switch (k->kind) {
	case KPI_COUNTER_RATE:
	case KPI_COUNTER_INCREASE:
		compute_counter(k, w, use, r);
		break;
	case KPI_COUNTER_UTIL:
		compute_util(k, w, use, r);
		break;
	case KPI_HISTOGRAM_QUANTILES:
		compute_histogram(k, w, use, r);
		break;
	case KPI_AVG:
	case KPI_MAX:
		compute_gauge(k, w, use, r);
		break;
	}
	for (size_t i = first_result; i < r->nresults; i++)
		if (!strcmp(r->results[i].status, "no_data") && r->results[i].reason &&
		    !strcmp(r->results[i].scope, "session"))
			kpi_report_add_finding(r, "no_data", r->results[i].kpi, w->start_ms, w->end_ms, "%s: %s",
					       r->results[i].kpi, r->results[i].reason);
}

/* A target's identity for findings. */
static char *target_name(const struct series *s)
{
	const char *kind = series_label(s, "kind"), *svc = series_label(s, "service");
	const char *client = series_label(s, "client_id"), *inst = series_label(s, "instance");

	return xasprintf("%s %s%s%s of client %s at %s", kind ? kind : "target", svc ? "'" : "", svc ? svc : "",
			 svc ? "'" : "", client ? client : "?", inst ? inst : "?");
}

void kpi_check_targets(const struct kpi_window *w, const struct series_set *up, const struct series_set *counts,
		       int64_t scrape_interval_ms, struct kpi_report *r)
{
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
	for (size_t i = 0; counts && i < counts->n; i++) {
		const struct series *s = &counts->items[i];
		double expected = 0, seen = 0;
		int64_t first = 0, last = 0;

		/*
		 * Compare the scrapes seen with those expected over the whole window:
		 * per step, jitter moves a scrape across a step boundary now and then.
		 * The first point's interval starts before the window: skip it.
		 */
		for (size_t j = 0; j < s->n; j++) {
			if (s->t_ms[j] <= w->start_ms)
				continue;
			expected += (double)w->step_ms / (double)scrape_interval_ms;
			seen += s->v[j];
			if (s->v[j] < 0.5) {
				if (!first)
					first = s->t_ms[j];
				last = s->t_ms[j];
			}
		}
		if (expected - seen >= 2) {
			char *name = target_name(s);

			kpi_report_add_finding(r, "missing_scrapes", name, first, last,
					       "%s missed about %.0f of %.0f scrapes in the window", name, expected - seen,
					       expected);
			free(name);
		}
	}
}
