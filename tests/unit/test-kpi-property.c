/*
 * Property test of the KPI bounds: random request streams, scraped as
 * Prometheus would scrape them, must get bounds that contain the exact
 * answer, found by brute force over the requests themselves.
 *
 * A case is a window (from, to] and 1 to 4 targets. Each target has a bucket
 * layout (shared or its own), a start (long before, just before, or inside
 * the window), sometimes a stop inside it, a history of counts from before,
 * requests (time in ms, latency in s; some exactly on a bound, on a scrape or
 * on an edge), counter resets, and scrapes every interval with jitter and
 * misses. The query sees the scrapes from three intervals before from to
 * three after to, as collect fetches them, and in "--last" cases none after
 * a "now" just past to.
 *
 * Checked: throughput (requests counted in (from, to] per second) and
 * p50/p95/p99 (the smallest latency at least q of them took or beat) lie in
 * [lower, upper], and every value in its bounds. The same requests scraped
 * exactly at from and to give the bucket resolution's bounds, the tightest
 * any scrapes could give, to which the figures compare.
 *
 * KPI_PROPERTY_CASES (default 100000), KPI_PROPERTY_SEED,
 * KPI_PROPERTY_CASE=N to rerun case N alone with its dump, and
 * KPI_PROPERTY_MARGIN, the scrape intervals fetched on either side (3, as collect does).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/kpi.h"
#include "lib/xmalloc.h"

#define MAX_TARGETS 4
#define MAX_BUCKETS 16
#define MAX_RESETS 2

static uint64_t rng_state;
static int64_t fetch_margin = 3;  /* scrape intervals fetched on either side, as collect's raw queries do */

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static int64_t rng_below(int64_t n)
{
	return n > 0 ? (int64_t)(rng_next() % (uint64_t)n) : 0;
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static int rng_chance(double p)
{
	return rng_unit() < p;
}

struct request {
	int64_t t;
	double latency;
};

struct target {
	double le[MAX_BUCKETS];        /* finite bounds, ascending; +Inf is implied */
	size_t nle;
	int64_t start, stop;           /* it counts requests in [start, stop] and is scraped there */
	int64_t resets[MAX_RESETS];    /* after the requests and scrapes at that ms */
	size_t nresets;
	double history[MAX_BUCKETS + 1];  /* non-cumulative counts from before the generated span */
	struct request *req;
	size_t nreq;
	int64_t *scrapes;              /* the fetched ones */
	double *values;                /* nscrapes rows of nle + 1 cumulative counts */
	size_t nscrapes;
};

struct pcase {
	int64_t from, to, now, interval;
	int last;                      /* a --last window: no scrape after now */
	struct target t[MAX_TARGETS];
	size_t nt;
};

static const double layouts[][MAX_BUCKETS] = {
	{ 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 },
	{ 0.1, 0.5, 1, 5 },
	{ 0.25, 1 },
	{ 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096 },
	{ 0, 0.05, 0.2, 0.8 },
	{ 0.3 },
};
static const size_t layout_sizes[] = { 11, 4, 2, 13, 4, 1 };
#define NLAYOUTS (sizeof(layout_sizes) / sizeof(layout_sizes[0]))

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void pick_layout(struct target *tg)
{
	size_t which = (size_t)rng_below(NLAYOUTS + 1);

	if (which < NLAYOUTS) {
		tg->nle = layout_sizes[which];
		memcpy(tg->le, layouts[which], tg->nle * sizeof(double));
		return;
	}
	/* a random one on a 5 ms grid, without repeats */
	tg->nle = 0;
	for (size_t n = 1 + (size_t)rng_below(8), i = 0; i < n; i++) {
		double v = 0.005 * (double)(rng_below(300));
		size_t j;

		for (j = 0; j < tg->nle && tg->le[j] != v; j++)
			;
		if (j == tg->nle)
			tg->le[tg->nle++] = v;
	}
	qsort(tg->le, tg->nle, sizeof(double), compare_double);
}

static double pick_latency(const struct pcase *c, double median, double spread)
{
	if (rng_chance(0.2)) {
		/* exactly on someone's bound: le means "at or below" */
		const struct target *tg = &c->t[rng_below((int64_t)c->nt)];

		if (tg->nle)
			return tg->le[rng_below((int64_t)tg->nle)];
	}
	if (rng_chance(0.02))
		return 0;
	return median * exp(spread * (rng_unit() * 2 - 1) * 2);
}

/* Add a request, keeping them in time order. */
static void insert_request(struct target *tg, int64_t t, double latency)
{
	size_t at = tg->nreq;

	while (at > 0 && tg->req[at - 1].t > t)
		at--;
	memmove(&tg->req[at + 1], &tg->req[at], (tg->nreq - at) * sizeof(*tg->req));
	tg->req[at].t = t;
	tg->req[at].latency = latency;
	tg->nreq++;
}

/* Which of tg's buckets holds latency (nle for +Inf). */
static size_t bucket_of(const struct target *tg, double latency)
{
	size_t b;

	for (b = 0; b < tg->nle && latency > tg->le[b]; b++)
		;
	return b;
}

/* Cumulative counts of tg at time at: history then requests since the last reset. */
static void counts_at(const struct target *tg, int64_t at, double *cum)
{
	int64_t epoch = INT64_MIN;
	size_t b;

	for (size_t i = 0; i < tg->nresets; i++)
		if (tg->resets[i] < at && tg->resets[i] > epoch)
			epoch = tg->resets[i];
	for (b = 0; b <= tg->nle; b++)
		cum[b] = epoch == INT64_MIN ? tg->history[b] : 0;
	for (size_t i = 0; i < tg->nreq && tg->req[i].t <= at; i++)
		if (tg->req[i].t > epoch)
			cum[bucket_of(tg, tg->req[i].latency)]++;
	for (b = 1; b <= tg->nle; b++)
		cum[b] += cum[b - 1];
}

/* What each scrape reads: one sweep over requests and resets in time order. */
static void fill_values(struct target *tg)
{
	double counts[MAX_BUCKETS + 1];
	size_t q = 0, r = 0, w = tg->nle + 1;

	tg->values = xcalloc((tg->nscrapes ? tg->nscrapes : 1) * w, sizeof(double));
	memcpy(counts, tg->history, sizeof(counts));
	for (size_t k = 0; k < tg->nscrapes; k++) {
		double *row = &tg->values[k * w];

		for (;;) {
			/* a request at a reset's ms is counted before it */
			if (q < tg->nreq && tg->req[q].t <= tg->scrapes[k] &&
			    (r == tg->nresets || tg->req[q].t <= tg->resets[r])) {
				counts[bucket_of(tg, tg->req[q++].latency)]++;
			} else if (r < tg->nresets && tg->resets[r] < tg->scrapes[k]) {
				memset(counts, 0, sizeof(counts));
				r++;
			} else {
				break;
			}
		}
		row[0] = counts[0];
		for (size_t b = 1; b < w; b++)
			row[b] = row[b - 1] + counts[b];
	}
}

static void generate(struct pcase *c, uint64_t seed)
{
	int shared = 0;
	struct target first;

	memset(c, 0, sizeof(*c));
	rng_state = seed;
	/* short windows, where the edges' gaps weigh, and long ones scraped every 1 to 15 s */
	if (rng_chance(0.5)) {
		c->interval = 500 + rng_below(4500);
		c->from = 1000000 + rng_below(c->interval);
		c->to = c->from + 1000 + rng_below(30000);
	} else {
		c->interval = 1000 + rng_below(14000);
		c->from = 1000000 + rng_below(c->interval);
		c->to = c->from + 30000 + rng_below(570000);
	}
	c->last = rng_chance(0.25);
	c->now = c->last ? c->to + rng_below(c->interval / 2) : INT64_MAX;
	c->nt = 1 + (size_t)rng_below(MAX_TARGETS);
	shared = rng_chance(0.4);
	pick_layout(&first);
	for (size_t i = 0; i < c->nt; i++) {
		struct target *tg = &c->t[i];

		if (shared) {
			memcpy(tg->le, first.le, sizeof(first.le));
			tg->nle = first.nle;
		} else {
			pick_layout(tg);
		}
	}
	for (size_t i = 0; i < c->nt; i++) {
		struct target *tg = &c->t[i];
		int64_t span_from = c->from - (fetch_margin + 2) * c->interval;
		int64_t span_to = c->to + (fetch_margin + 2) * c->interval;
		int64_t phase = rng_below(c->interval), jitter = c->interval / 20;
		double rate = rng_chance(0.1) ? 0 : (1 + rng_unit() * 400) * 1000.0 / (double)(span_to - span_from);
		double miss = rng_chance(0.5) ? 0 : rng_unit() * 0.4;
		double median = 0.002 + rng_unit() * 1.5, spread = rng_unit() * 1.5;
		size_t cap, nalloc;

		switch (rng_below(4)) {
		case 0:
			tg->start = c->from + rng_below(c->to - c->from);  /* appears inside the window */
			break;
		case 1:
			tg->start = c->from - rng_below(c->interval);
			break;
		default:
			tg->start = span_from - 1;
			for (size_t b = 0; b <= tg->nle; b++)
				tg->history[b] = (double)rng_below(rng_chance(0.5) ? 5 : 1000);
		}
		tg->stop = rng_chance(0.1) ? c->from + rng_below(c->to - c->from) : span_to;
		if (c->now < tg->stop)
			tg->stop = c->now;
		tg->nresets = (size_t)(rng_chance(0.2) ? 1 + rng_below(MAX_RESETS) : 0);
		for (size_t r = 0; r < tg->nresets; r++)
			tg->resets[r] = tg->start + rng_below(tg->stop - tg->start + 1);
		if (tg->nresets == 2 && tg->resets[0] > tg->resets[1]) {
			int64_t t = tg->resets[0];

			tg->resets[0] = tg->resets[1];
			tg->resets[1] = t;
		}
		/* scrapes: on the interval's grid with jitter, some missed, the fetched range only */
		nalloc = (size_t)((span_to - span_from) / c->interval) + 4;
		tg->scrapes = xcalloc(nalloc, sizeof(int64_t));
		for (int64_t k = (span_from - phase) / c->interval - 1; tg->nscrapes < nalloc; k++) {
			int64_t at = phase + k * c->interval + (jitter ? rng_below(2 * jitter + 1) - jitter : 0);

			if (at > span_to)
				break;
			if (at < tg->start || at > tg->stop || at < c->from - fetch_margin * c->interval ||
			    at > c->to + fetch_margin * c->interval ||
			    rng_chance(miss))
				continue;
			tg->scrapes[tg->nscrapes++] = at;
		}
		/* requests: Poisson-like arrivals, a few on the window's edges and on scrapes */
		cap = (size_t)(rate * (double)(span_to - span_from) / 1000.0) + 8;
		tg->req = xcalloc(cap, sizeof(*tg->req));
		for (int64_t t = tg->start; tg->nreq < cap - 4;) {
			t += 1 + (int64_t)(-log(1 - rng_unit()) * 1000.0 / (rate > 0 ? rate : 1e-9));
			if (rate == 0 || t > tg->stop)
				break;
			tg->req[tg->nreq].t = t;
			tg->req[tg->nreq++].latency = pick_latency(c, median, spread);
		}
		for (int e = 0; e < 4 && rate > 0; e++) {
			int64_t at = e < 2 ? (e ? c->to : c->from) + rng_below(3) - 1
					   : tg->nscrapes ? tg->scrapes[rng_below((int64_t)tg->nscrapes)] : tg->start;

			if (at >= tg->start && at <= tg->stop)
				insert_request(tg, at, pick_latency(c, median, spread));
		}
		fill_values(tg);
	}
}

static void release(struct pcase *c)
{
	for (size_t i = 0; i < c->nt; i++) {
		free(c->t[i].req);
		free(c->t[i].scrapes);
		free(c->t[i].values);
	}
}

/*
 * The contract Prometheus's counters rest on: a reset that lost counts shows
 * as a drop of the request count at the next scrape the query has, and a
 * series first seen inside the window counted from zero, so no reset lost
 * anything inside the window before it. And a target that was never scraped
 * in the query's range is invisible: its requests are nobody's to bound.
 */
static int within_contract(const struct pcase *c)
{
	for (size_t i = 0; i < c->nt; i++) {
		const struct target *tg = &c->t[i];
		size_t top = tg->nle;

		for (size_t q = 0; !tg->nscrapes && q < tg->nreq; q++)
			if (tg->req[q].t > c->from && tg->req[q].t <= c->to)
				return 0;

		for (size_t r = 0; r < tg->nresets; r++) {
			double before[MAX_BUCKETS + 1];
			long p = -1, n = -1;

			for (size_t s = 0; s < tg->nscrapes; s++) {
				if (tg->scrapes[s] <= tg->resets[r])
					p = (long)s;
				else if (n < 0)
					n = (long)s;
			}
			if (n < 0)
				continue;
			counts_at(tg, tg->resets[r], before);
			if (p < 0) {
				/* lost what it counted inside the window before its first scrape */
				for (size_t q = 0; q < tg->nreq; q++)
					if (tg->req[q].t > c->from && tg->req[q].t <= tg->resets[r])
						return 0;
				continue;
			}
			if (tg->values[(size_t)n * (top + 1) + top] >= tg->values[(size_t)p * (top + 1) + top] &&
			    before[top] > 0)
				return 0;
		}
	}
	return 1;
}

static char *le_text(double le)
{
	return isinf(le) ? xstrdup("+Inf") : xasprintf("%.17g", le);
}

static void add_series(struct series_set *set, const char *metric, size_t node, const char *le,
		       const int64_t *t, const double *v, size_t stride, size_t n)
{
	struct series *s;

	set->items = xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	s = &set->items[set->n++];
	memset(s, 0, sizeof(*s));
	s->nlabels = le ? 3 : 2;
	s->labels = xcalloc(3, sizeof(*s->labels));
	s->labels[0].name = xstrdup("__name__");
	s->labels[0].value = xstrdup(metric);
	s->labels[1].name = xstrdup("node");
	s->labels[1].value = xasprintf("n%zu", node);
	if (le) {
		s->labels[2].name = xstrdup("le");
		s->labels[2].value = xstrdup(le);
	}
	s->n = n;
	s->t_ms = xcalloc(n ? n : 1, sizeof(int64_t));
	s->v = xcalloc(n ? n : 1, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		s->t_ms[i] = t[i];
		s->v[i] = v[i * stride];
	}
}

/* The series the queries would return; exact: two samples, at from and to, of the window's counts only. */
static void build_sets(const struct pcase *c, int exact, struct series_set *hist, struct series_set *count)
{
	memset(hist, 0, sizeof(*hist));
	memset(count, 0, sizeof(*count));
	for (size_t i = 0; i < c->nt; i++) {
		const struct target *tg = &c->t[i];
		size_t w = tg->nle + 1, n = exact ? 2 : tg->nscrapes;
		int64_t exact_t[2] = { c->from, c->to };
		double exact_v[2 * (MAX_BUCKETS + 1)] = { 0 };
		const int64_t *t = exact ? exact_t : tg->scrapes;
		const double *v = exact ? exact_v : tg->values;

		if (!n)
			continue;
		for (size_t q = 0; exact && q < tg->nreq; q++) {
			size_t b;

			if (tg->req[q].t <= c->from || tg->req[q].t > c->to)
				continue;
			for (b = 0; b < tg->nle && tg->req[q].latency > tg->le[b]; b++)
				;
			for (; b < w; b++)
				exact_v[w + b]++;
		}
		for (size_t b = 0; b < w; b++) {
			char *le = le_text(b < tg->nle ? tg->le[b] : INFINITY);

			add_series(hist, "h_bucket", i, le, t, v + b, w, n);
			free(le);
		}
		add_series(count, "reqs", i, NULL, t, v + tg->nle, w, n);
	}
}

struct truth {
	size_t n;
	double qps;
	double quantile[3];
};

static const double qs[3] = { 0.5, 0.95, 0.99 };

/* The k-th smallest of v[0..n) (k from 0), with the smaller ones moved before it (Hoare's selection). */
static double select_nth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2], t;
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				t = v[i];
				v[i++] = v[j];
				v[j] = t;
				if (!j--)
					break;
			}
		}
		if (k <= j && j != (size_t)-1)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

static void find_truth(const struct pcase *c, struct truth *tr)
{
	double *lat;
	size_t all = 1;

	for (size_t i = 0; i < c->nt; i++)
		all += c->t[i].nreq;
	lat = xmalloc(all * sizeof(double));
	tr->n = 0;
	for (size_t i = 0; i < c->nt; i++)
		for (size_t q = 0; q < c->t[i].nreq; q++)
			if (c->t[i].req[q].t > c->from && c->t[i].req[q].t <= c->to)
				lat[tr->n++] = c->t[i].req[q].latency;
	tr->qps = (double)tr->n / ((double)(c->to - c->from) / 1000.0);
	for (size_t k = 0, done = 0; k < 3; k++) {
		size_t at = 1;

		/* the smallest latency that at least q of the requests took or beat: the at-th smallest */
		while (at < tr->n && !((double)at >= qs[k] * (double)tr->n))
			at++;
		tr->quantile[k] = tr->n ? select_nth(lat + done, tr->n - done, at - 1 - done) : NAN;
		done = tr->n ? at - 1 : 0;
	}
	free(lat);
}

struct answer {
	const struct kpi_result *qps, *lat[3];
};

static struct kpi_quantile quantile_defs[] = { { "p50", 0.5 }, { "p95", 0.95 }, { "p99", 0.99 } };
static struct kpi_def qps_def = { .name = "qps", .metric = "reqs", .unit = "req/s",
					.scale = 1, .scopes = KPI_SCOPE_SESSION };
static struct kpi_def lat_def = { .name = "lat", .metric = "h",
					.unit = "s", .scale = 1, .scopes = KPI_SCOPE_SESSION,
					.quantiles = quantile_defs, .nquantiles = 3 };

static const struct kpi_result *find(const struct kpi_report *r, const char *kpi)
{
	for (size_t i = 0; i < r->nresults; i++)
		if (!strcmp(r->results[i].kpi, kpi) && !strcmp(r->results[i].scope, "session"))
			return &r->results[i];
	return NULL;
}

static void compute(const struct pcase *c, int exact, struct kpi_report *r, struct answer *a)
{
	struct series_set hist, count;
	struct kpi_window w = { .from_ms = c->from, .end_ms = c->to };

	/* about 16 steps: the bounds do not depend on them, and a 1 s step over 10 min costs time */
	w.step_ms = (c->to - c->from) / 16 / 1000 * 1000 + 1000;
	w.nsteps = (size_t)((c->to - c->from + w.step_ms - 1) / w.step_ms) + 1;
	w.start_ms = c->to - (int64_t)(w.nsteps - 1) * w.step_ms;
	build_sets(c, exact, &hist, &count);
	memset(r, 0, sizeof(*r));
	kpi_compute(&qps_def, &w, &count, NULL, r);
	kpi_compute(&lat_def, &w, &hist, NULL, r);
	a->qps = find(r, "qps");
	for (size_t k = 0; k < 3; k++)
		a->lat[k] = find(r, quantile_defs[k].name);
	series_set_release(&hist);
	series_set_release(&count);
}

static void dump_result(const char *what, const struct kpi_result *res, double truth)
{
	fprintf(stderr, "  %-4s truth %.17g: status %s value %s%.17g bounds %s[%.17g, %.17g] %s\n", what, truth,
		res->status, res->has_value ? "" : "(none) ", res->value, res->has_bounds ? "" : "(none) ",
		res->lower, res->upper, res->reason ? res->reason : "");
}

static void dump(const struct pcase *c, uint64_t seed, size_t index, const struct truth *tr, const struct answer *a)
{
	fprintf(stderr, "case %zu (seed %#llx): window (%lld, %lld], interval %lld%s, now %lld\n", index,
		(unsigned long long)seed, (long long)c->from, (long long)c->to, (long long)c->interval,
		c->last ? " (--last)" : "", c->last ? (long long)c->now : -1LL);
	for (size_t i = 0; i < c->nt; i++) {
		const struct target *tg = &c->t[i];

		fprintf(stderr, " target n%zu: start %lld stop %lld, le", i, (long long)tg->start, (long long)tg->stop);
		for (size_t b = 0; b < tg->nle; b++)
			fprintf(stderr, " %g", tg->le[b]);
		fprintf(stderr, ", resets");
		for (size_t r = 0; r < tg->nresets; r++)
			fprintf(stderr, " %lld", (long long)tg->resets[r]);
		fprintf(stderr, "\n  scrapes (t: cumulative counts):");
		for (size_t s = 0; s < tg->nscrapes; s++) {
			fprintf(stderr, "\n   %lld:", (long long)tg->scrapes[s]);
			for (size_t b = 0; b <= tg->nle; b++)
				fprintf(stderr, " %g", tg->values[s * (tg->nle + 1) + b]);
		}
		fprintf(stderr, "\n  requests near the window (t latency):");
		for (size_t q = 0; q < tg->nreq; q++)
			if (tg->req[q].t > c->from - 2 * c->interval && tg->req[q].t <= c->to + 2 * c->interval)
				fprintf(stderr, " %lld:%g", (long long)tg->req[q].t, tg->req[q].latency);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, " %zu requests inside\n", tr->n);
	dump_result("qps", a->qps, tr->qps);
	for (size_t k = 0; k < 3; k++)
		if (a->lat[k])
			dump_result(quantile_defs[k].name, a->lat[k], tr->quantile[k]);
}

/* Does res hold truth? A result without bounds claims that nothing was counted, so truth must be 0. */
static int contains(const struct kpi_result *res, double truth)
{
	if (res->has_value && res->has_bounds && !(res->lower <= res->value && res->value <= res->upper))
		return 0;
	if (!res->has_bounds)
		return !res->has_value && truth == 0;
	return res->lower <= truth && truth <= res->upper;
}

/* Tallies for the report: how often, and how tight. */
struct tightness {
	size_t qps_checked, qps_open;
	double qps_width;              /* sum of (upper - lower) / truth where upper is finite and truth > 0 */
	size_t qps_width_n;
	size_t lat_checked[3], lat_open[3], lat_as_exact[3];
};

struct figures {
	size_t cases, skipped, misses, no_answer;
	struct tightness all, ordinary;  /* ordinary: 30 s or longer, no reset, no stop inside, not --last */
};

/* Do a and b give the same bounds? */
static int same_bounds(const struct kpi_result *a, const struct kpi_result *b)
{
	return a->has_bounds && b->has_bounds && a->lower == b->lower && a->upper == b->upper;
}

/* Run one case; 1 when every bound holds. */
static int run_case(uint64_t seed, size_t index, struct figures *f, int verbose)
{
	struct pcase c;
	struct truth tr;
	struct kpi_report r, exact;
	struct answer a, ex;
	struct tightness *tally[2];
	int ok = 1, ordinary;

	generate(&c, seed);
	if (!within_contract(&c)) {
		f->skipped++;
		release(&c);
		return 1;
	}
	f->cases++;
	ordinary = !c.last && c.to - c.from >= 30000;
	for (size_t i = 0; i < c.nt; i++)
		ordinary &= !c.t[i].nresets && c.t[i].stop > c.to;
	tally[0] = &f->all;
	tally[1] = ordinary ? &f->ordinary : NULL;
	find_truth(&c, &tr);
	compute(&c, 0, &r, &a);
	compute(&c, 1, &exact, &ex);
	/* throughput: no bounds at all only when nothing can have been counted */
	if (!a.qps) {
		f->no_answer++;
	} else {
		ok &= contains(a.qps, tr.qps) && contains(ex.qps, tr.qps);
		for (size_t t = 0; t < 2 && tally[t]; t++) {
			tally[t]->qps_checked++;
			if (a.qps->has_bounds && isinf(a.qps->upper)) {
				tally[t]->qps_open++;
			} else if (tr.n) {
				tally[t]->qps_width += (a.qps->upper - a.qps->lower) / tr.qps;
				tally[t]->qps_width_n++;
			}
		}
	}
	for (size_t k = 0; tr.n && k < 3; k++) {
		const struct kpi_result *res = a.lat[k];

		if (res && !res->has_bounds && res->reason && strstr(res->reason, "no series matched")) {
			f->no_answer++;
			continue;
		}
		ok &= res && contains(res, tr.quantile[k]) && ex.lat[k] && contains(ex.lat[k], tr.quantile[k]);
		for (size_t t = 0; res && t < 2 && tally[t]; t++) {
			tally[t]->lat_checked[k]++;
			tally[t]->lat_open[k] += res->has_bounds && isinf(res->upper);
			tally[t]->lat_as_exact[k] += ex.lat[k] && same_bounds(res, ex.lat[k]);
		}
	}
	if (!ok || verbose) {
		dump(&c, seed, index, &tr, &a);
		fprintf(stderr, " the same requests scraped exactly at from and to:\n");
		dump_result("qps", ex.qps, tr.qps);
		for (size_t k = 0; k < 3; k++)
			if (ex.lat[k])
				dump_result(quantile_defs[k].name, ex.lat[k], tr.quantile[k]);
	}
	f->misses += !ok;
	kpi_report_release(&r);
	kpi_report_release(&exact);
	release(&c);
	return ok;
}

static double percent(size_t part, size_t whole)
{
	return 100.0 * (double)part / (double)(whole ? whole : 1);
}

static void print_tightness(const char *which, const struct tightness *t)
{
	printf("kpi property: %s: throughput in %zu cases, upper +Inf in %.1f%%, else (upper - lower) / truth %.3f "
	       "on average\n", which, t->qps_checked, percent(t->qps_open, t->qps_checked),
	       t->qps_width / (double)(t->qps_width_n ? t->qps_width_n : 1));
	for (size_t k = 0; k < 3; k++)
		printf("kpi property: %s: %s in %zu cases, upper +Inf in %.1f%%, bounds as tight as exact scrapes at "
		       "from and to give (the buckets' resolution) in %.1f%%\n", which, quantile_defs[k].name,
		       t->lat_checked[k], percent(t->lat_open[k], t->lat_checked[k]),
		       percent(t->lat_as_exact[k], t->lat_checked[k]));
}

static uint64_t env_number(const char *name, uint64_t fallback)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : fallback;
}

static void test_bounds_contain_the_truth(void **state)
{
	uint64_t cases = env_number("KPI_PROPERTY_CASES", 100000), seed = env_number("KPI_PROPERTY_SEED", 20251001);
	const char *one = getenv("KPI_PROPERTY_CASE");
	struct figures f = { 0 };

	(void)state;
	fetch_margin = (int64_t)env_number("KPI_PROPERTY_MARGIN", 3);
	printf("kpi property: seed %#llx, %llu cases (KPI_PROPERTY_SEED, KPI_PROPERTY_CASES)\n",
	       (unsigned long long)seed, (unsigned long long)cases);
	if (one && *one) {
		size_t i = (size_t)strtoull(one, NULL, 0);

		assert_true(run_case(seed + i * 0x100000001b3ULL, i, &f, 1));
		return;
	}
	for (size_t i = 0; f.cases < cases; i++)
		if (!run_case(seed + i * 0x100000001b3ULL, i, &f, 0) && f.misses >= 5)
			break;
	printf("kpi property: %zu cases checked, %zu misses; %zu generated outside the counter contract were skipped, "
	       "%zu answers were no_data for want of series\n", f.cases, f.misses, f.skipped, f.no_answer);
	print_tightness("all", &f.all);
	print_tightness("ordinary (30 s to 10 min, no reset, no stop, not --last)", &f.ordinary);
	assert_int_equal(f.misses, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounds_contain_the_truth),
	};

	qps_def.kind = kpi_kind_find("counter_rate");
	lat_def.kind = kpi_kind_find("histogram_quantiles");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
