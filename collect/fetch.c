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

static void push_sample(struct series *s, size_t *cap, int64_t t, double v)
{
	if (s->n == *cap) {
		*cap = *cap ? 2 * *cap : 8;
		s->t_ms = xrealloc(s->t_ms, *cap * sizeof(*s->t_ms));
		s->v = xrealloc(s->v, *cap * sizeof(*s->v));
	}
	s->t_ms[s->n] = t;
	s->v[s->n++] = v;
}

/*
 * The sparse sink: a series streamed over [from - margin, end + margin] is
 * cut down as round one's PromQL queries would have it, keeping only the
 * samples around each edge and the count of those in the window; one that
 * reset, holds a non-finite value or lacks samples around an edge is noted
 * (its labels) to be read again whole in round two.
 */
static void sparse_begin(void *ctx, const struct label *labels, size_t n)
{
	struct fetch *f = ctx;
	struct sparse_state *sp = &f->sp;

	memset(sp, 0, sizeof(*sp));
	series_copy_labels(&sp->a, labels, n, 1);
}

static void sparse_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct fetch *f = ctx;
	struct sparse_state *sp = &f->sp;
	int64_t from = f->from_ms, end = f->end_ms, margin = f->margin_ms;

	for (size_t i = 0; i < n; i++) {
		sp->whole |= !isfinite(v[i]) || (sp->have_prev && v[i] < sp->prev);
		sp->prev = v[i];
		sp->have_prev = 1;
		if (t[i] <= from + margin) {
			push_sample(&sp->a, &sp->acap, t[i], v[i]);
			sp->after_from += t[i] > from;
		}
		if (t[i] >= end - margin) {
			push_sample(&sp->b, &sp->bcap, t[i], v[i]);
			sp->until_end += t[i] <= end;
		}
		sp->inside += t[i] >= from && t[i] <= end;
	}
}

static void sparse_end(void *ctx)
{
	struct fetch *f = ctx;
	struct sparse_state *sp = &f->sp;
	struct series *out;

	if (sp->whole || sp->after_from < 2 || sp->until_end < 1) {
		out = series_set_append(&f->rewhole);
		out->labels = sp->a.labels;
		out->nlabels = sp->a.nlabels;
		sp->a.labels = NULL;
		sp->a.nlabels = 0;
		series_release(&sp->a);
		series_release(&sp->b);
		return;
	}
	out = series_set_append(&f->data);
	*out = sp->a;
	out->sparse = 1;
	out->gap_from = sp->a.t_ms[sp->a.n - 1];
	out->gap_to = sp->b.t_ms[0];
	out->window_samples = sp->inside;
	out->t_ms = xrealloc(out->t_ms, (out->n + sp->b.n) * sizeof(*out->t_ms));
	out->v = xrealloc(out->v, (out->n + sp->b.n) * sizeof(*out->v));
	memcpy(out->t_ms + out->n, sp->b.t_ms, sp->b.n * sizeof(*out->t_ms));
	memcpy(out->v + out->n, sp->b.v, sp->b.n * sizeof(*out->v));
	out->n += sp->b.n;
	memset(&sp->a, 0, sizeof(sp->a));
	series_release(&sp->b);
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
		f->sink = (struct remoteread_sink){ sparse_begin, sparse_samples, sparse_end, f };
		f->q_read = query_add_read(l, k->name, xstrdup(f->selector), base, w->from_ms - margin_ms,
					   w->end_ms + margin_ms, f->sparse ? &f->sink : NULL);
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

/*
 * Round two through remote read: each series noted to be read whole, and
 * for a histogram the sparse buckets beside one of them (its reset is found
 * across its buckets: all whole, or none), by exact selector.
 */
static void more_reads(struct fetch *f, const char *base, struct query_list *l)
{
	if (!f->sparse)
		return;
	if ((f->k->kind->fields & KPI_FIELD_QUANTILES) && f->rewhole.n) {
		char **hkeys = set_keys(&f->data, "le"), **wkeys = set_keys(&f->rewhole, "le");
		size_t kept = 0, nd = f->data.n, nw = f->rewhole.n;

		for (size_t j = 0; j < nd; j++) {
			struct series *s = &f->data.items[j];
			size_t i;

			for (i = 0; i < nw && strcmp(wkeys[i], hkeys[j]); i++)
				;
			if (i < nw) {
				struct series *moved = series_set_append(&f->rewhole);

				moved->labels = s->labels;
				moved->nlabels = s->nlabels;
				s->labels = NULL;
				s->nlabels = 0;
				series_release(s);
			} else {
				f->data.items[kept++] = *s;
			}
		}
		f->data.n = kept;
		keys_free(hkeys, nd);
		keys_free(wkeys, nw);
	}
	f->q_more = l->n;
	f->nmore = f->rewhole.n;
	for (size_t m = 0; m < f->rewhole.n; m++) {
		/* exact_selector's text always parses: the read cannot fall back */
		if (query_add_read(l, f->k->name, exact_selector(&f->rewhole.items[m]), base, f->from_ms - f->margin_ms,
				   f->end_ms + f->margin_ms, NULL) == (size_t)-1)
			abort();
	}
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

	if (f->data_done || (!f->read && f->data.items))
		return &f->data;
	if (f->read && !f->sparse) {
		/* whole: round one's series as they came */
		f->data = l->items[f->q_read].data;
		memset(&l->items[f->q_read].data, 0, sizeof(l->items[f->q_read].data));
		if (f->data.n)
			qsort(f->data.items, f->data.n, sizeof(*f->data.items), compare_series);
		f->data_done = 1;
		return &f->data;
	}
	if (f->read) {
		for (size_t m = 0; m < f->nmore; m++) {
			struct series_set *whole = &l->items[f->q_more + m].data;

			/* one exact selector: one series, now with all its samples */
			if (whole->n != 1) {
				error("KPI '%s': %s read %zu series in round two, where round one read one",
				      f->k->name, l->items[f->q_more + m].promql, whole->n);
				return NULL;
			}
			*series_set_append(&f->data) = whole->items[0];
			whole->n = 0;
		}
		if (f->data.n)
			qsort(f->data.items, f->data.n, sizeof(*f->data.items), compare_series);
		f->data_done = 1;
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
	series_set_release(&f->data);
	series_set_release(&f->rewhole);
	series_release(&f->sp.a);
	series_release(&f->sp.b);
	memset(f, 0, sizeof(*f));
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

/*
 * The gauge sink: as samples stream in, the display points on dw are
 * settled (at each, the latest sample in (t - step, t] that the filters
 * keep) and those in [from, to] that the filters keep are summed (or
 * maxed) and counted.
 */
static void gauge_begin(void *ctx, const struct label *labels, size_t n)
{
	struct gauge_read *g = ctx;

	memset(&g->cur, 0, sizeof(g->cur));
	series_copy_labels(&g->cur.labels, labels, n, 1);
	g->cur.disp.t_ms = xmalloc((g->dw.nsteps + 1) * sizeof(int64_t));
	g->cur.disp.v = xmalloc((g->dw.nsteps + 1) * sizeof(double));
}

/* Settle the display points before t (all of them when t is INT64_MAX): the last sample is the latest there. */
static void gauge_settle(struct gauge_read *g, int64_t t)
{
	struct gauge_series *c = &g->cur;
	const struct kpi_window *dw = &g->dw;
	double v;

	for (; c->di < dw->nsteps; c->di++) {
		int64_t at = dw->start_ms + (int64_t)c->di * dw->step_ms;

		if (at >= t)
			break;
		if (c->have_last && c->last_t > at - dw->step_ms && kpi_filter_apply(&g->filter, c->last_v, &v)) {
			c->disp.t_ms[c->disp.n] = at;
			c->disp.v[c->disp.n++] = v;
		}
	}
}

static void gauge_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct gauge_read *g = ctx;
	struct gauge_series *c = &g->cur;
	double x;

	for (size_t i = 0; i < n; i++) {
		gauge_settle(g, t[i]);
		c->last_t = t[i];
		c->last_v = v[i];
		c->have_last = 1;
		if (t[i] < g->from_ms || t[i] > g->end_ms || !kpi_filter_apply(&g->filter, v[i], &x))
			continue;
		if (!g->max)
			kahan_add(x, &c->acc, &c->comp);
		else if (!c->count || x > c->acc || isnan(c->acc))
			c->acc = x;
		c->count++;
	}
}

static void gauge_end(void *ctx)
{
	struct gauge_read *g = ctx;
	struct gauge_series *c = &g->cur;

	gauge_settle(g, INT64_MAX);
	if (c->count) {
		double acc = !g->max && !isinf(c->acc) ? c->acc + c->comp : c->acc;

		series_set_add_point(&g->acc, c->labels.labels, c->labels.nlabels, g->end_ms, acc);
		series_set_add_point(&g->counts, c->labels.labels, c->labels.nlabels, g->end_ms, (double)c->count);
	}
	if (c->disp.n) {
		struct series *d = series_set_append(&g->display);

		*d = c->disp;
		series_copy_labels(d, c->labels.labels, c->labels.nlabels, 0);
		d->t_ms = xrealloc(d->t_ms, d->n * sizeof(*d->t_ms));
		d->v = xrealloc(d->v, d->n * sizeof(*d->v));
		memset(&c->disp, 0, sizeof(c->disp));
	}
	series_release(&c->disp);
	series_release(&c->labels);
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
	g->sink = (struct remoteread_sink){ gauge_begin, gauge_samples, gauge_end, g };
	g->q = query_add_read(l, k->name, xstrdup(g->filter.selector), base, start, w->end_ms, &g->sink);
	if (g->q == (size_t)-1) {
		kpi_filter_release(&g->filter);
		return -1;
	}
	return 0;
}

void gauge_read_release(struct gauge_read *g)
{
	kpi_filter_release(&g->filter);
	series_set_release(&g->acc);
	series_set_release(&g->counts);
	series_set_release(&g->display);
	series_release(&g->cur.disp);
	series_release(&g->cur.labels);
}

/*
 * The grid sink: as samples stream in, each grid point before the newest
 * sample is settled from the one before it (the latest at or before the
 * point), and each sample that is not a staleness marker counts in the
 * step (t - step, t] it falls in.
 */
static void grid_begin(void *ctx, const struct label *labels, size_t n)
{
	struct grid_read *g = ctx;
	struct grid_series *c = &g->cur;

	memset(c, 0, sizeof(*c));
	series_copy_labels(&c->points, labels, n, 1);
	c->points.t_ms = xmalloc((g->w.nsteps + 1) * sizeof(int64_t));
	c->points.v = xmalloc((g->w.nsteps + 1) * sizeof(double));
	if (g->with_counts)
		c->counts = xcalloc(g->w.nsteps + 1, sizeof(*c->counts));
}

static void grid_settle(struct grid_read *g, int64_t t)
{
	struct grid_series *c = &g->cur;
	const struct kpi_window *w = &g->w;

	for (; c->gi < w->nsteps; c->gi++) {
		int64_t at = w->start_ms + (int64_t)c->gi * w->step_ms;

		if (at >= t)
			break;
		if (c->have_last && c->last_t >= at - PROMETHEUS_LOOKBACK_MS && !remoteread_is_stale(c->last_v) &&
		    (!g->outside || c->last_v < g->lo || c->last_v > g->hi)) {
			c->points.t_ms[c->points.n] = at;
			c->points.v[c->points.n++] = c->last_v;
		}
	}
}

static void grid_samples(void *ctx, const int64_t *t, const double *v, size_t n)
{
	struct grid_read *g = ctx;
	struct grid_series *c = &g->cur;
	const struct kpi_window *w = &g->w;

	for (size_t i = 0; i < n; i++) {
		grid_settle(g, t[i]);
		c->last_t = t[i];
		c->last_v = v[i];
		c->have_last = 1;
		/* the step (start + (j - 1) step, start + j step] this sample counts in */
		if (g->with_counts && !remoteread_is_stale(v[i]) && t[i] > w->start_ms - w->step_ms) {
			size_t j = t[i] <= w->start_ms ? 0 : (size_t)((t[i] - w->start_ms + w->step_ms - 1) / w->step_ms);

			if (j < w->nsteps)
				c->counts[j]++;
		}
	}
}

static void grid_end(void *ctx)
{
	struct grid_read *g = ctx;
	struct grid_series *c = &g->cur;

	grid_settle(g, INT64_MAX);
	if (c->points.n) {
		struct series *p = series_set_append(&g->points);

		*p = c->points;
		p->t_ms = xrealloc(p->t_ms, p->n * sizeof(*p->t_ms));
		p->v = xrealloc(p->v, p->n * sizeof(*p->v));
		memset(&c->points, 0, sizeof(c->points));
		/* the counts' labels come from it */
		if (g->with_counts)
			series_copy_labels(&c->points, p->labels, p->nlabels, 1);
	}
	if (g->with_counts) {
		struct series cnt = { 0 };

		for (size_t j = 0; j < g->w.nsteps; j++)
			cnt.n += c->counts[j] > 0;
		if (cnt.n) {
			struct series *s = series_set_append(&g->counts);

			series_copy_labels(s, c->points.labels, c->points.nlabels, 0);
			s->t_ms = xmalloc(cnt.n * sizeof(*s->t_ms));
			s->v = xmalloc(cnt.n * sizeof(*s->v));
			for (size_t j = 0; j < g->w.nsteps; j++) {
				if (!c->counts[j])
					continue;
				s->t_ms[s->n] = g->w.start_ms + (int64_t)j * g->w.step_ms;
				s->v[s->n++] = (double)c->counts[j];
			}
		}
	}
	series_release(&c->points);
	free(c->counts);
	c->counts = NULL;
}

int grid_read_plan(struct grid_read *g, const char *what, const char *selector, const char *base,
		   const struct kpi_window *w, struct query_list *l)
{
	g->w = *w;
	g->sink = (struct remoteread_sink){ grid_begin, grid_samples, grid_end, g };
	g->q = query_add_read(l, what, xstrdup(selector), base, w->start_ms - PROMETHEUS_LOOKBACK_MS, w->end_ms,
			      &g->sink);
	if (g->q == (size_t)-1)
		return -1;
	l->items[g->q].read_stale = 1;
	return 0;
}

void grid_read_release(struct grid_read *g)
{
	series_set_release(&g->points);
	series_set_release(&g->counts);
	series_release(&g->cur.points);
	free(g->cur.counts);
}
