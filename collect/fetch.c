#include "collect/fetch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"

/* At 1 s scrapes, 7,200 samples per series and chunk: far below Prometheus's answer limits. */
#define CHUNK_MS (2 * 3600 * 1000LL)

static char *at_text(int64_t ms)
{
	return xasprintf("%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

/*
 * A series read whole over [from - margin, end + margin], cut down as
 * round one's queries would have it: kept whole when it reset, holds a
 * non-finite value or lacks samples around an edge, else only the samples
 * around the edges and the count of those in the window.
 */
static int keep_sparse(struct series *s, void *ctx)
{
	const struct fetch *f = ctx;
	int64_t from = f->from_ms, end = f->end_ms, margin = f->margin_ms;
	size_t after_from = 0, until_end = 0, na = 0, nb = s->n, inside = 0;
	int whole = 0;

	for (size_t i = 0; i < s->n; i++) {
		int64_t t = s->t_ms[i];

		whole |= !isfinite(s->v[i]) || (i && s->v[i] < s->v[i - 1]);
		if (t <= from + margin) {
			na = i + 1;
			after_from += t > from;
		}
		if (t >= end - margin) {
			nb = nb < i ? nb : i;
			until_end += t <= end;
		}
		inside += t >= from && t <= end;
	}
	if (whole || after_from < 2 || until_end < 1)
		return 1;
	s->sparse = 1;
	s->gap_from = s->t_ms[na - 1];
	s->gap_to = s->t_ms[nb];
	s->window_samples = inside;
	memmove(s->t_ms + na, s->t_ms + nb, (s->n - nb) * sizeof(*s->t_ms));
	memmove(s->v + na, s->v + nb, (s->n - nb) * sizeof(*s->v));
	s->n = na + (s->n - nb);
	s->t_ms = xrealloc(s->t_ms, s->n * sizeof(*s->t_ms));
	s->v = xrealloc(s->v, s->n * sizeof(*s->v));
	return 1;
}

void fetch_plan(struct fetch *f, const struct kpi_def *k, const char *session, const char *base,
		const struct kpi_window *w, int64_t margin_ms, int allow_sparse, int allow_read,
		struct query_list *l)
{
	int64_t at_from = w->from_ms + margin_ms, at_to = w->end_ms + margin_ms;
	long long range = (long long)(at_to - (w->from_ms - margin_ms)), edge = (long long)(2 * margin_ms);
	char *a, *b, *c;

	memset(f, 0, sizeof(*f));
	f->k = k;
	f->selector = kpi_selector(k, k->kind->metric_suffix, session);
	f->sparse = allow_sparse && !k->peak_ms && w->end_ms - w->from_ms > 8 * margin_ms;
	f->from_ms = w->from_ms;
	f->end_ms = w->end_ms;
	f->margin_ms = margin_ms;
	if (allow_read) {
		f->q_read = query_add_read(l, k->name, xstrdup(f->selector), base, w->from_ms - margin_ms,
					   w->end_ms + margin_ms, f->sparse ? keep_sparse : NULL, f);
		f->read = f->q_read != (size_t)-1;
		if (f->read)
			return;
	}
	if (!f->sparse) {
		f->q_whole = query_add_raw(l, k->name, f->selector, base, w, margin_ms);
		return;
	}
	a = at_text(at_from);
	b = at_text(at_to);
	c = at_text(w->end_ms);
	f->q_from = query_add_instant(l, k->name, xasprintf("%s[%lldms] @ %s", f->selector, edge, a), base, at_from);
	f->q_to = query_add_instant(l, k->name, xasprintf("%s[%lldms] @ %s", f->selector, edge, b), base, at_to);
	f->q_resets = query_add_instant(l, k->name,
					xasprintf("resets(%s[%lldms] @ %s) + 0 * sum_over_time(%s[%lldms] @ %s)",
						  f->selector, range, b, f->selector, range, b),
					base, at_to);
	f->q_count = query_add_instant(l, k->name,
				       xasprintf("count_over_time(%s[%lldms] @ %s)", f->selector,
						 (long long)(w->end_ms - w->from_ms), c),
				       base, w->end_ms);
	free(a);
	free(b);
	free(c);
}

static int compare_labels(const void *a, const void *b)
{
	const struct label *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* The series' identity across queries: its labels but __name__ (which functions drop) and skip. */
static char *series_key(const struct series *s, const char *skip)
{
	struct label *ls = xcalloc(s->nlabels + 1, sizeof(*ls));
	struct strbuf sb = STRBUF_INIT;
	size_t n = 0;

	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, "__name__") && (!skip || strcmp(s->labels[i].name, skip)))
			ls[n++] = s->labels[i];
	qsort(ls, n, sizeof(*ls), compare_labels);
	for (size_t i = 0; i < n; i++) {
		strbuf_addstr(&sb, ls[i].name);
		strbuf_addch(&sb, '\x01');
		strbuf_addstr(&sb, ls[i].value);
		strbuf_addch(&sb, '\x02');
	}
	free(ls);
	return strbuf_detach(&sb, NULL);
}

/* The series of set whose key is key, or NULL; keys[i] is set's i-th series' key. */
static const struct series *find_key(const struct series_set *set, char **keys, const char *key)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(keys[i], key))
			return &set->items[i];
	return NULL;
}

static char **set_keys(const struct series_set *set, const char *skip)
{
	char **keys = xcalloc(set->n + 1, sizeof(*keys));

	for (size_t i = 0; i < set->n; i++)
		keys[i] = series_key(&set->items[i], skip);
	return keys;
}

static void keys_free(char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
}

static size_t count_after(const struct series *s, int64_t t)
{
	size_t n = 0;

	for (size_t i = 0; s && i < s->n; i++)
		n += s->t_ms[i] > t;
	return n;
}

static size_t count_until(const struct series *s, int64_t t)
{
	size_t n = 0;

	for (size_t i = 0; s && i < s->n; i++)
		n += s->t_ms[i] <= t;
	return n;
}

/* The PromQL selector of exactly series s (labels as matchers, __name__ included). */
static char *exact_selector(const struct series *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addch(&sb, '{');
	for (size_t i = 0; i < s->nlabels; i++) {
		strbuf_addf(&sb, "%s%s=\"", i ? "," : "", s->labels[i].name);
		for (const char *p = s->labels[i].value; *p; p++) {
			if (*p == '\\' || *p == '"')
				strbuf_addch(&sb, '\\');
			if (*p == '\n')
				strbuf_addstr(&sb, "\\n");
			else
				strbuf_addch(&sb, *p);
		}
		strbuf_addch(&sb, '"');
	}
	strbuf_addch(&sb, '}');
	return strbuf_detach(&sb, NULL);
}

/* Round two through remote read: the sparse buckets of a histogram that has a bucket kept whole, read whole. */
static void more_reads(struct fetch *f, const char *base, struct query_list *l)
{
	const struct series_set *rs = &l->items[f->q_read].data;
	size_t n = rs->n, *todo;
	char **hkeys, **sels;

	if (!f->sparse || !(f->k->kind->fields & KPI_FIELD_QUANTILES))
		return;
	hkeys = set_keys(rs, "le");
	todo = xcalloc(n + 1, sizeof(*todo));
	for (size_t j = 0; j < n; j++) {
		if (!rs->items[j].sparse)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (!rs->items[i].sparse && !strcmp(hkeys[i], hkeys[j])) {
				todo[f->nmore++] = j;
				break;
			}
		}
	}
	keys_free(hkeys, n);
	f->more_for = todo;
	/* the selectors first: adding queries moves l's items, which rs points into */
	sels = xcalloc(f->nmore + 1, sizeof(*sels));
	for (size_t m = 0; m < f->nmore; m++)
		sels[m] = exact_selector(&rs->items[todo[m]]);
	f->q_more = l->n;
	for (size_t m = 0; m < f->nmore; m++) {
		/* exact_selector's text always parses: the read cannot fall back */
		if (query_add_read(l, f->k->name, sels[m], base, f->from_ms - f->margin_ms, f->end_ms + f->margin_ms,
				   NULL, NULL) == (size_t)-1)
			abort();
	}
	free(sels);
}

void fetch_more(struct fetch *f, const char *base, const struct kpi_window *w, int64_t margin_ms,
		struct query_list *l)
{
	const struct series_set *rs, *fs, *ts;
	char **rkeys, **fkeys, **tkeys, **hkeys = NULL;
	unsigned char *flag;
	char **sels;
	size_t nr, nf, nt;
	int64_t start = w->from_ms - margin_ms, end = w->end_ms + margin_ms;

	if (f->read) {
		more_reads(f, base, l);
		return;
	}
	if (!f->sparse)
		return;
	rs = &l->items[f->q_resets].data;
	fs = &l->items[f->q_from].data;
	ts = &l->items[f->q_to].data;
	rkeys = set_keys(rs, NULL);
	fkeys = set_keys(fs, NULL);
	tkeys = set_keys(ts, NULL);
	flag = xcalloc(rs->n + 1, 1);
	for (size_t i = 0; i < rs->n; i++) {
		const struct series *a = find_key(fs, fkeys, rkeys[i]), *b = find_key(ts, tkeys, rkeys[i]);
		double v = rs->items[i].n ? rs->items[i].v[0] : NAN;

		/* the counter walks at the edges, the bounds and run's edge readings look this far in */
		flag[i] = isnan(v) || v != 0 || count_after(a, w->from_ms) < 2 || count_until(b, w->end_ms) < 1;
	}
	if (f->k->kind->fields & KPI_FIELD_QUANTILES) {
		/* a histogram's reset is found across its buckets: fetch all of them whole, or none */
		hkeys = set_keys(rs, "le");
		for (size_t i = 0; i < rs->n; i++)
			for (size_t j = 0; flag[i] == 1 && j < rs->n; j++)
				if (!flag[j] && !strcmp(hkeys[i], hkeys[j]))
					flag[j] = 2;
		keys_free(hkeys, rs->n);
	}
	f->whole = xcalloc(rs->n + 1, sizeof(size_t));
	for (size_t i = 0; i < rs->n; i++)
		if (flag[i])
			f->whole[f->nwhole++] = i;
	f->nchunks = (size_t)((end - start + CHUNK_MS) / CHUNK_MS);
	/* the selectors first: adding queries moves l's items, which rs, fs and ts point into */
	sels = xcalloc(f->nwhole + 1, sizeof(*sels));
	for (size_t wi = 0; wi < f->nwhole; wi++) {
		const struct series *r = &rs->items[f->whole[wi]];
		const struct series *named = find_key(fs, fkeys, rkeys[f->whole[wi]]);
		char *inner = exact_selector(r);

		if (!named)
			named = find_key(ts, tkeys, rkeys[f->whole[wi]]);
		/* resets() dropped the metric name: take it from an edge sample, else the KPI's metric */
		if (named && series_label(named, "__name__"))
			sels[wi] = xasprintf("%s%s", series_label(named, "__name__"), inner);
		else
			sels[wi] = xasprintf("%s%s%s", f->k->metric,
					     f->k->kind->metric_suffix ? f->k->kind->metric_suffix : "", inner);
		free(inner);
	}
	nr = rs->n;
	nf = fs->n;
	nt = ts->n;
	f->q_more = l->n;
	for (size_t wi = 0; wi < f->nwhole; wi++) {
		for (size_t c = 0; c < f->nchunks; c++) {
			int64_t s0 = start + (int64_t)c * CHUNK_MS, s1 = s0 + CHUNK_MS - 1;
			char *at;

			if (s1 > end)
				s1 = end;
			at = at_text(s1);
			/* [s0, s1]: the next chunk starts 1 ms later, so none overlap */
			query_add_instant(l, f->k->name,
					  xasprintf("%s[%lldms] @ %s", sels[wi], (long long)(s1 - s0), at), base, s1);
			free(at);
		}
		free(sels[wi]);
	}
	free(sels);
	free(flag);
	keys_free(rkeys, nr);
	keys_free(fkeys, nf);
	keys_free(tkeys, nt);
}

/* Append s's samples to out, taking its labels when out has none; s is left empty. */
static void take_samples(struct series *out, struct series *s)
{
	if (!s || !s->n)
		return;
	if (!out->nlabels) {
		out->labels = s->labels;
		out->nlabels = s->nlabels;
		s->labels = NULL;
		s->nlabels = 0;
	}
	out->t_ms = xrealloc(out->t_ms, (out->n + s->n) * sizeof(int64_t));
	out->v = xrealloc(out->v, (out->n + s->n) * sizeof(double));
	memcpy(out->t_ms + out->n, s->t_ms, s->n * sizeof(int64_t));
	memcpy(out->v + out->n, s->v, s->n * sizeof(double));
	out->n += s->n;
	free(s->t_ms);
	free(s->v);
	s->t_ms = NULL;
	s->v = NULL;
	s->n = 0;
}

/* Prometheus's order of series: label by label, name then value. */
static int compare_series(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	for (size_t i = 0; i < x->nlabels && i < y->nlabels; i++) {
		int c = strcmp(x->labels[i].name, y->labels[i].name);

		if (c)
			return c;
		c = strcmp(x->labels[i].value, y->labels[i].value);
		if (c)
			return c;
	}
	return (x->nlabels > y->nlabels) - (x->nlabels < y->nlabels);
}

struct series_set *fetch_data(struct fetch *f, struct query_list *l)
{
	struct series_set *rs, *fs, *ts, *cs;
	char **rkeys, **fkeys, **tkeys, **ckeys;
	size_t wi = 0;

	if (f->data.items)
		return &f->data;
	if (f->read) {
		struct series_set *set = &l->items[f->q_read].data;

		for (size_t m = 0; m < f->nmore; m++) {
			struct series_set *whole = &l->items[f->q_more + m].data;

			/* one exact selector: one series, the same one, now with all its samples */
			if (whole->n != 1) {
				error("KPI '%s': %s read %zu series in round two, where round one read one",
				      f->k->name, l->items[f->q_more + m].promql, whole->n);
				return NULL;
			}
			series_release(&set->items[f->more_for[m]]);
			set->items[f->more_for[m]] = whole->items[0];
			whole->n = 0;
		}
		f->data = *set;
		memset(set, 0, sizeof(*set));
		qsort(f->data.items, f->data.n, sizeof(*f->data.items), compare_series);
		return &f->data;
	}
	if (!f->sparse)
		return &l->items[f->q_whole].data;
	rs = &l->items[f->q_resets].data;
	fs = &l->items[f->q_from].data;
	ts = &l->items[f->q_to].data;
	cs = &l->items[f->q_count].data;
	rkeys = set_keys(rs, NULL);
	fkeys = set_keys(fs, NULL);
	tkeys = set_keys(ts, NULL);
	ckeys = set_keys(cs, NULL);
	f->data.items = xcalloc(rs->n + 1, sizeof(*f->data.items));
	for (size_t i = 0; i < rs->n; i++) {
		struct series *out = &f->data.items[f->data.n];

		if (wi < f->nwhole && f->whole[wi] == i) {
			for (size_t c = 0; c < f->nchunks; c++) {
				struct series_set *chunk = &l->items[f->q_more + wi * f->nchunks + c].data;

				for (size_t j = 0; j < chunk->n; j++)
					take_samples(out, &chunk->items[j]);
			}
			wi++;
		} else {
			struct series *a = (struct series *)find_key(fs, fkeys, rkeys[i]);
			struct series *b = (struct series *)find_key(ts, tkeys, rkeys[i]);
			const struct series *n = find_key(cs, ckeys, rkeys[i]);

			out->sparse = 1;
			out->gap_from = a->t_ms[a->n - 1];
			out->gap_to = b->t_ms[0];
			out->window_samples = n && n->n && isfinite(n->v[0]) ? (size_t)n->v[0] : 0;
			take_samples(out, a);
			take_samples(out, b);
		}
		if (out->n) {
			f->data.n++;
			continue;
		}
		for (size_t j = 0; j < out->nlabels; j++) {
			free(out->labels[j].name);
			free(out->labels[j].value);
		}
		free(out->labels);
		memset(out, 0, sizeof(*out));
	}
	qsort(f->data.items, f->data.n, sizeof(*f->data.items), compare_series);
	keys_free(rkeys, rs->n);
	keys_free(fkeys, fs->n);
	keys_free(tkeys, ts->n);
	keys_free(ckeys, cs->n);
	return &f->data;
}

void fetch_release(struct fetch *f)
{
	free(f->selector);
	free(f->whole);
	free(f->more_for);
	series_set_release(&f->data);
	memset(f, 0, sizeof(*f));
}

static struct series *set_append(struct series_set *set)
{
	struct series *s;

	set->items = xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	s = &set->items[set->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

/* s's labels, __name__ left out unless with_name. */
static void copy_labels(struct series *to, const struct series *s, int with_name)
{
	to->labels = xcalloc(s->nlabels + 1, sizeof(*to->labels));
	for (size_t i = 0; i < s->nlabels; i++) {
		if (!with_name && !strcmp(s->labels[i].name, "__name__"))
			continue;
		to->labels[to->nlabels].name = xstrdup(s->labels[i].name);
		to->labels[to->nlabels++].value = xstrdup(s->labels[i].value);
	}
}

/* Prometheus's compensated sum (Neumaier's), so sums over the same values agree to the last bit. */
static void kahan_add(double v, double *sum, double *c)
{
	double t = *sum + v;

	if (fabs(*sum) >= fabs(v))
		*c += (*sum - t) + v;
	else
		*c += (v - t) + *sum;
	*sum = t;
}

/* g's display points of s: at each point of dw, the latest sample in (t - step, t] that the filters keep. */
static void gauge_display(struct gauge_read *g, const struct series *s)
{
	const struct kpi_window *dw = &g->dw;
	struct series d = { 0 };
	size_t hi = 0;

	d.t_ms = xmalloc((dw->nsteps + 1) * sizeof(*d.t_ms));
	d.v = xmalloc((dw->nsteps + 1) * sizeof(*d.v));
	for (size_t i = 0; i < dw->nsteps; i++) {
		int64_t t = dw->start_ms + (int64_t)i * dw->step_ms;
		double v;

		while (hi < s->n && s->t_ms[hi] <= t)
			hi++;
		if (hi && s->t_ms[hi - 1] > t - dw->step_ms && kpi_filter_apply(&g->filter, s->v[hi - 1], &v)) {
			d.t_ms[d.n] = t;
			d.v[d.n++] = v;
		}
	}
	if (d.n) {
		copy_labels(&d, s, 0);
		*set_append(&g->display) = d;
	} else {
		series_release(&d);
	}
}

static int keep_gauge(struct series *s, void *ctx)
{
	struct gauge_read *g = ctx;
	struct series_set *counts = &g->counts;
	struct series *c;
	double acc = 0, comp = 0, v;
	size_t n = 0, named = 0;

	gauge_display(g, s);
	for (size_t i = 0; i < s->n; i++) {
		if (s->t_ms[i] < g->from_ms || s->t_ms[i] > g->end_ms || !kpi_filter_apply(&g->filter, s->v[i], &v))
			continue;
		if (!g->max)
			kahan_add(v, &acc, &comp);
		else if (!n || v > acc || isnan(acc))
			acc = v;
		n++;
	}
	if (!n)
		return 0;
	if (!g->max && !isinf(acc))
		acc += comp;
	/* the functions drop the metric name */
	for (size_t i = 0; i < s->nlabels; i++) {
		if (!strcmp(s->labels[i].name, "__name__")) {
			free(s->labels[i].name);
			free(s->labels[i].value);
			continue;
		}
		s->labels[named++] = s->labels[i];
	}
	s->nlabels = named;
	s->n = 1;
	s->t_ms[0] = g->end_ms;
	s->v[0] = acc;
	counts->items = xrealloc(counts->items, (counts->n + 1) * sizeof(*counts->items));
	c = &counts->items[counts->n++];
	memset(c, 0, sizeof(*c));
	c->labels = xcalloc(named + 1, sizeof(*c->labels));
	for (size_t i = 0; i < named; i++) {
		c->labels[i].name = xstrdup(s->labels[i].name);
		c->labels[i].value = xstrdup(s->labels[i].value);
	}
	c->nlabels = named;
	c->t_ms = xmalloc(sizeof(*c->t_ms));
	c->v = xmalloc(sizeof(*c->v));
	c->t_ms[0] = g->end_ms;
	c->v[0] = (double)n;
	c->n = 1;
	return 1;
}

int gauge_read_plan(struct gauge_read *g, const struct kpi_def *k, const char *expanded, const char *base,
		    const struct kpi_window *w, const struct kpi_window *dw, struct query_list *l)
{
	int64_t start;

	memset(g, 0, sizeof(*g));
	if (kpi_filter_parse(expanded, &g->filter) < 0)
		return -1;
	g->max = !strcmp(k->kind->over_time, "max");
	g->from_ms = w->from_ms;
	g->end_ms = w->end_ms;
	g->dw = *dw;
	/* the first display point looks back a display step, maybe to before the window */
	start = dw->start_ms - dw->step_ms + 1 < w->from_ms ? dw->start_ms - dw->step_ms + 1 : w->from_ms;
	g->q = query_add_read(l, k->name, xstrdup(g->filter.selector), base, start, w->end_ms, keep_gauge, g);
	if (g->q == (size_t)-1) {
		kpi_filter_release(&g->filter);
		return -1;
	}
	return 0;
}

void gauge_read_release(struct gauge_read *g)
{
	kpi_filter_release(&g->filter);
	series_set_release(&g->counts);
	series_set_release(&g->display);
}

static int keep_grid(struct series *s, void *ctx)
{
	struct grid_read *u = ctx;
	const struct kpi_window *w = &u->w;
	size_t *fresh = xcalloc(s->n + 1, sizeof(*fresh)), lo = 0, hi = 0;
	struct series up = { 0 }, cnt = { 0 };

	/* fresh[k]: the samples before the k-th that are not staleness markers */
	for (size_t k = 0; k < s->n; k++)
		fresh[k + 1] = fresh[k] + !remoteread_is_stale(s->v[k]);
	up.t_ms = xmalloc((w->nsteps + 1) * sizeof(*up.t_ms));
	up.v = xmalloc((w->nsteps + 1) * sizeof(*up.v));
	cnt.t_ms = xmalloc((w->nsteps + 1) * sizeof(*cnt.t_ms));
	cnt.v = xmalloc((w->nsteps + 1) * sizeof(*cnt.v));
	for (size_t i = 0; i < w->nsteps; i++) {
		int64_t t = w->start_ms + (int64_t)i * w->step_ms;

		while (hi < s->n && s->t_ms[hi] <= t)
			hi++;
		while (lo < s->n && s->t_ms[lo] <= t - w->step_ms)
			lo++;
		if (hi && s->t_ms[hi - 1] >= t - PROMETHEUS_LOOKBACK_MS && !remoteread_is_stale(s->v[hi - 1]) &&
		    (!u->outside || s->v[hi - 1] < u->lo || s->v[hi - 1] > u->hi)) {
			up.t_ms[up.n] = t;
			up.v[up.n++] = s->v[hi - 1];
		}
		if (u->with_counts && hi > lo && fresh[hi] > fresh[lo]) {
			cnt.t_ms[cnt.n] = t;
			cnt.v[cnt.n++] = (double)(fresh[hi] - fresh[lo]);
		}
	}
	free(fresh);
	if (up.n) {
		copy_labels(&up, s, 1);
		*set_append(&u->points) = up;
	} else {
		series_release(&up);
	}
	if (cnt.n) {
		copy_labels(&cnt, s, 0);
		*set_append(&u->counts) = cnt;
	} else {
		series_release(&cnt);
	}
	return 0;
}

int grid_read_plan(struct grid_read *g, const char *what, const char *selector, const char *base,
		   const struct kpi_window *w, struct query_list *l)
{
	g->w = *w;
	g->q = query_add_read(l, what, xstrdup(selector), base, w->start_ms - PROMETHEUS_LOOKBACK_MS, w->end_ms,
			      keep_grid, g);
	if (g->q == (size_t)-1)
		return -1;
	l->items[g->q].read_stale = 1;
	return 0;
}

void grid_read_release(struct grid_read *g)
{
	series_set_release(&g->points);
	series_set_release(&g->counts);
}
