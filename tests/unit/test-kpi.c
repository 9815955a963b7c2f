/* KPI arithmetic on hand-made series: quantiles with bounds, counters with resets, fallbacks, no_data. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/kpi.h"
#include "collect/profile.h"
#include "lib/xmalloc.h"

static const double le[] = { 0.005, 0.01, 0.025, 0.05, INFINITY };

static void test_quantile_interpolates_inside_its_bucket(void **state)
{
	const double cum[] = { 30, 90, 95, 99, 100 };
	double v, lo, hi;

	(void)state;
	assert_int_equal(histogram_quantile_bounds(0.5, le, cum, 5, &v, &lo, &hi), 0);
	/* rank 50 is the 20th of 60 in (0.005, 0.01] */
	assert_float_equal(v, 0.005 + 0.005 * 20.0 / 60.0, 1e-12);
	assert_float_equal(lo, 0.005, 0);
	assert_float_equal(hi, 0.01, 0);
	assert_int_equal(histogram_quantile_bounds(0.99, le, cum, 5, &v, &lo, &hi), 0);
	assert_float_equal(lo, 0.025, 0);
	assert_float_equal(hi, 0.05, 0);
}

static void test_quantile_in_first_bucket_starts_at_zero(void **state)
{
	const double cum[] = { 100, 100, 100, 100, 100 };
	double v, lo, hi;

	(void)state;
	assert_int_equal(histogram_quantile_bounds(0.5, le, cum, 5, &v, &lo, &hi), 0);
	assert_float_equal(lo, 0, 0);
	assert_float_equal(hi, 0.005, 0);
	assert_float_equal(v, 0.0025, 1e-12);
}

static void test_quantile_in_inf_bucket_has_open_upper_bound(void **state)
{
	const double cum[] = { 0, 0, 0, 10, 100 };
	double v, lo, hi;

	(void)state;
	assert_int_equal(histogram_quantile_bounds(0.99, le, cum, 5, &v, &lo, &hi), 0);
	assert_float_equal(v, 0.05, 0);
	assert_float_equal(lo, 0.05, 0);
	assert_true(isinf(hi));
}

/* A lowest bound at or below zero holds values down to -Inf: the bucket says nothing about how low. */
static void test_quantile_in_a_non_positive_first_bucket(void **state)
{
	const double le_neg[] = { -1, 1, INFINITY }, cum[] = { 60, 80, 100 };
	double v, lo, hi;

	(void)state;
	assert_int_equal(histogram_quantile_bounds(0.5, le_neg, cum, 3, &v, &lo, &hi), 0);
	assert_float_equal(v, -1, 0);
	assert_true(isinf(lo) && lo < 0);
	assert_float_equal(hi, -1, 0);
}

static void test_quantile_without_requests_is_no_answer(void **state)
{
	const double cum[] = { 0, 0, 0, 0, 0 };
	double v, lo, hi;

	(void)state;
	assert_int_equal(histogram_quantile_bounds(0.5, le, cum, 5, &v, &lo, &hi), -1);
	assert_int_equal(histogram_quantile_bounds(0.5, le, cum, 1, &v, &lo, &hi), -1);
}

/* One series of raw samples, every second from t0, with labels name=value pairs. */
static void add_series(struct series_set *set, const double *v, size_t n, int64_t t0, const char *metric,
		       const char *node)
{
	struct series *s;

	set->items = xrealloc(set->items, (set->n + 1) * sizeof(*set->items));
	s = &set->items[set->n++];
	memset(s, 0, sizeof(*s));
	s->nlabels = 2;
	s->labels = xcalloc(2, sizeof(*s->labels));
	s->labels[0].name = xstrdup("__name__");
	s->labels[0].value = xstrdup(metric);
	s->labels[1].name = xstrdup("node");
	s->labels[1].value = xstrdup(node);
	s->n = n;
	s->t_ms = xcalloc(n, sizeof(int64_t));
	s->v = xcalloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		s->t_ms[i] = t0 + (int64_t)i * 1000;
		s->v[i] = v[i];
	}
}

static struct kpi_window window(int64_t from, int64_t to)
{
	struct kpi_window w = { .from_ms = from, .start_ms = from, .end_ms = to, .step_ms = 1000 };

	w.nsteps = (size_t)((to - from) / 1000) + 1;
	return w;
}

static const struct kpi_result *result(const struct kpi_report *r, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < r->nresults; i++)
		if (!strcmp(r->results[i].kpi, kpi) && !strcmp(r->results[i].scope, scope))
			return &r->results[i];
	return NULL;
}

static int has_finding(const struct kpi_report *r, const char *kind)
{
	for (size_t i = 0; i < r->nfindings; i++)
		if (!strcmp(r->findings[i].kind, kind))
			return 1;
	return 0;
}

/* The peak sub-window rate, per scope, from a counter whose rate steps up. */
static void test_counter_peak_per_scope(void **state)
{
	/* 2 nodes, 300 s: 10/s, then 40/s for the last 100 s */
	double v[301];
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "req/s",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION | KPI_SCOPE_NODE,
			     .peak_name = "qps_peak_1m", .peak_ms = 60000 };
	struct kpi_window w = window(1000000, 1300000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const char *const scopes[] = { "session", "node=n1", "node=n2" };

	(void)state;
	v[0] = 0;
	for (size_t i = 1; i <= 300; i++)
		v[i] = v[i - 1] + (i > 200 ? 40 : 10);
	add_series(&set, v, 301, 1000000, "x", "n1");
	add_series(&set, v, 301, 1000000, "x", "n2");
	kpi_compute(&k, &w, &set, NULL, &r);
	for (size_t i = 0; i < 3; i++) {
		const struct kpi_result *peak = result(&r, "qps_peak_1m", scopes[i]), *avg = result(&r, "qps", scopes[i]);
		double per = i ? 1 : 2;

		assert_non_null(peak);
		assert_non_null(avg);
		assert_string_equal(peak->status, "ok");
		assert_float_equal(peak->value, 40 * per, 1e-9);
		assert_float_equal(avg->value, 6000 * per / 300, 1e-9);
		assert_int_equal(peak->samples, avg->samples);
	}
	kpi_report_release(&r);
	series_set_release(&set);
}

static void test_counter_rate_handles_a_reset(void **state)
{
	/* +10 per second for 10 s, 100 requests; the counter restarts from 0 at t=4.5 s and reads 5 at t=5 s */
	const double v[] = { 0, 10, 20, 30, 40, 5, 15, 25, 35, 45, 55, 65 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "req/s",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION | KPI_SCOPE_NODE };
	struct kpi_window w = window(1000000, 1010000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *res;

	(void)state;
	add_series(&set, v, 12, 1000000, "x", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	res = result(&r, "qps", "session");
	assert_non_null(res);
	assert_string_equal(res->status, "ok");
	/* the estimate misses the 5 counted between the last scrape and the restart, as increase() does */
	assert_float_equal(res->value, 9.5, 1e-9);
	/* 95 are proven; how many the restart lost is unknown, so nothing bounds the rate from above */
	assert_true(res->has_bounds);
	assert_float_equal(res->lower, 9.5, 1e-9);
	assert_true(isinf(res->upper));
	assert_true(res->lower <= 10 && 10 <= res->upper);
	assert_non_null(result(&r, "qps", "node=n1"));
	assert_true(has_finding(&r, "counter_reset"));
	kpi_report_release(&r);
	series_set_release(&set);
}

/* The normal case for --last: no scrape follows the window's end, so what came after the last one is unknown. */
static void test_counter_without_a_scrape_after_the_end_has_no_upper_bound(void **state)
{
	const double v[] = { 0, 10, 20, 30, 40, 50 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1005500);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *res;

	(void)state;
	add_series(&set, v, 6, 1000000, "x", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	res = result(&r, "qps", "session");
	assert_float_equal(res->lower, 50 / 5.5, 1e-9);
	assert_true(isinf(res->upper));
	assert_true(res->lower <= res->value && res->value <= res->upper);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* A series first seen inside the window counted from zero: what it read at its first scrape may be inside. */
static void test_counter_series_starting_inside_the_window(void **state)
{
	/* n1 counts 10/s all along; n2 starts at 1002000, counts 10/s, first scraped at 1003000 (10) */
	const double v1[] = { 0, 10, 20, 30, 40, 50, 60 }, v2[] = { 10, 20, 30, 40 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_increase"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1006000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *res;

	(void)state;
	add_series(&set, v1, 7, 1000000, "x", "n1");
	add_series(&set, v2, 4, 1003000, "x", "n2");
	kpi_compute(&k, &w, &set, NULL, &r);
	res = result(&r, "qps", "session");
	/* truth: 60 + 40; proven: 60 + 30 */
	assert_float_equal(res->lower, 90, 1e-9);
	assert_float_equal(res->upper, 100, 1e-9);
	assert_true(res->lower <= res->value && res->value <= res->upper);
	kpi_report_release(&r);
	series_set_release(&set);
}

static void test_counter_edges_are_interpolated(void **state)
{
	/* 10/s; the window starts and ends half-way between samples */
	const double v[] = { 0, 10, 20, 30, 40, 50 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000500, 1004500);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, v, 6, 1000000, "x", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_float_equal(result(&r, "qps", "session")->value, 10, 1e-9);
	assert_float_equal(result(&r, "qps", "session")->lower, 30.0 / 4, 1e-9);
	assert_float_equal(result(&r, "qps", "session")->upper, 50.0 / 4, 1e-9);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* The readings at the edges replace the interpolation: the value and both bounds are exact. */
static void test_counter_edges_read_exactly(void **state)
{
	/* 10/s in the scrapes, but the load ran only in (1000.5 s, 1004.5 s]: 37 requests */
	const double v[] = { 0, 10, 20, 30, 40, 50 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000500, 1004500);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *res;

	(void)state;
	add_series(&set, v, 6, 1000000, "x", "n1");
	set.items[0].has_edges = 1;
	set.items[0].edge_from_exact = 1;
	set.items[0].edge_from = 8;
	set.items[0].edge_to = 45;
	kpi_compute(&k, &w, &set, NULL, &r);
	res = result(&r, "qps", "session");
	assert_string_equal(res->method, "edges");
	assert_float_equal(res->value, 37.0 / 4, 1e-9);
	assert_float_equal(res->lower, 37.0 / 4, 1e-9);
	assert_float_equal(res->upper, 37.0 / 4, 1e-9);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* A start read while the load runs: the counter there is at most the reading; the scrapes bound the rest. */
static void test_counter_edge_read_during_the_load(void **state)
{
	const double v[] = { 0, 10, 20, 30, 40, 50 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000500, 1004500);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *res;

	(void)state;
	add_series(&set, v, 6, 1000000, "x", "n1");
	set.items[0].has_edges = 1;
	set.items[0].edge_from = 8;
	set.items[0].edge_to = 45;
	kpi_compute(&k, &w, &set, NULL, &r);
	res = result(&r, "qps", "session");
	assert_string_equal(res->method, "edges");
	assert_float_equal(res->value, 37.0 / 4, 1e-9);
	assert_float_equal(res->lower, 37.0 / 4, 1e-9);
	/* up to the second scrape after the start, since the last one before it: 37 + 20 */
	assert_float_equal(res->upper, 57.0 / 4, 1e-9);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* Readings that a reset between them makes meaningless are not used. */
static void test_counter_edges_across_a_reset_are_not_used(void **state)
{
	const double v[] = { 0, 10, 20, 3, 13, 23 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000500, 1004500);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, v, 6, 1000000, "x", "n1");
	set.items[0].has_edges = 1;
	set.items[0].edge_from_exact = 1;
	set.items[0].edge_from = 8;
	set.items[0].edge_to = 18;
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_string_equal(result(&r, "qps", "session")->method, "interpolated");
	assert_true(has_finding(&r, "counter_reset"));
	kpi_report_release(&r);
	series_set_release(&set);
}

/* One bucket series of histogram h on node, sampled every step_ms from t0. */
static void add_bucket(struct series_set *set, const double *v, size_t n, int64_t t0, int64_t step_ms,
		       const char *node, const char *le_text)
{
	struct series *s;

	add_series(set, v, n, t0, "h_bucket", node);
	s = &set->items[set->n - 1];
	s->labels = xrealloc(s->labels, 3 * sizeof(*s->labels));
	s->labels[2].name = xstrdup("le");
	s->labels[2].value = xstrdup(le_text);
	s->nlabels = 3;
	for (size_t i = 0; i < n; i++)
		s->t_ms[i] = t0 + (int64_t)i * step_ms;
}

static struct kpi_quantile quantiles[] = { { "p25", 0.25 }, { "p50", 0.5 }, { "p75", 0.75 } };
static struct kpi_def latency = { .name = "lat", .metric = "h",
					.unit = "s", .scale = 1, .scopes = KPI_SCOPE_SESSION | KPI_SCOPE_NODE,
					.quantiles = quantiles, .nquantiles = 3 };

/* Two nodes with different bucket layouts: neither's buckets may be read as if the other's bounds held them. */
static void test_quantile_merges_bucket_layouts(void **state)
{
	/* 100 requests of 0.3 s on each node, one scrape before the window and one after */
	const double zero[] = { 0, 0 }, all[] = { 0, 100 };
	struct kpi_window w = window(1000000, 1010000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *p75;

	(void)state;
	add_bucket(&set, zero, 2, 1000000, 10000, "n1", "0.1");
	add_bucket(&set, all, 2, 1000000, 10000, "n1", "0.5");
	add_bucket(&set, all, 2, 1000000, 10000, "n1", "+Inf");
	add_bucket(&set, zero, 2, 1000000, 10000, "n2", "0.25");
	add_bucket(&set, all, 2, 1000000, 10000, "n2", "1");
	add_bucket(&set, all, 2, 1000000, 10000, "n2", "+Inf");
	kpi_compute(&latency, &w, &set, NULL, &r);
	p75 = result(&r, "p75", "session");
	assert_string_equal(p75->status, "ok");
	/* n2's requests may all take 1 s, and must take more than 0.25 s */
	assert_float_equal(p75->lower, 0.25, 0);
	assert_float_equal(p75->upper, 1, 0);
	assert_true(p75->lower <= p75->value && p75->value <= p75->upper);
	assert_float_equal(result(&r, "p75", "node=n1")->lower, 0.1, 0);
	assert_float_equal(result(&r, "p75", "node=n1")->upper, 0.5, 0);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* Interpolated edges are an estimate: the bucket the bounds name must hold whatever the scrapes allow. */
static void test_quantile_bounds_do_not_rest_on_interpolation(void **state)
{
	/* scrapes at 0, 10 and 20 s; 100 fast requests before 5 s, then 100 slow ones in (10, 20] */
	const double fast[] = { 0, 100, 100 }, all[] = { 0, 100, 200 };
	struct kpi_window w = window(1005000, 1020000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *p25;

	(void)state;
	add_bucket(&set, fast, 3, 1000000, 10000, "n1", "0.1");
	add_bucket(&set, all, 3, 1000000, 10000, "n1", "1");
	add_bucket(&set, all, 3, 1000000, 10000, "n1", "+Inf");
	kpi_compute(&latency, &w, &set, NULL, &r);
	p25 = result(&r, "p25", "session");
	/* the truth, 100 slow requests, has p25 in (0.1, 1]; interpolation puts 50 fast ones inside */
	assert_true(p25->lower <= 0.1);
	assert_float_equal(p25->upper, 1, 0);
	assert_true(p25->lower <= p25->value && p25->value <= p25->upper);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* Buckets read at the edges: the quantile's bounds are the bucket's, whatever the scrapes allow. */
static void test_quantile_from_edge_readings(void **state)
{
	/* the scrapes of test_quantile_bounds_do_not_rest_on_interpolation, with readings at the edges */
	const double fast[] = { 0, 100, 100 }, all[] = { 0, 100, 200 };
	const double from[] = { 60, 60, 60 }, to[] = { 100, 200, 200 };
	struct kpi_window w = window(1005000, 1020000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	const struct kpi_result *p25;

	(void)state;
	add_bucket(&set, fast, 3, 1000000, 10000, "n1", "0.1");
	add_bucket(&set, all, 3, 1000000, 10000, "n1", "1");
	add_bucket(&set, all, 3, 1000000, 10000, "n1", "+Inf");
	for (size_t i = 0; i < 3; i++) {
		set.items[i].has_edges = 1;
		set.items[i].edge_from_exact = 1;
		set.items[i].edge_from = from[i];
		set.items[i].edge_to = to[i];
	}
	kpi_compute(&latency, &w, &set, NULL, &r);
	/* 40 fast and 100 slow requests in the window: p25 is fast, p50 slow */
	p25 = result(&r, "p25", "session");
	assert_string_equal(p25->method, "edges");
	assert_float_equal(p25->lower, 0, 0);
	assert_float_equal(p25->upper, 0.1, 0);
	assert_float_equal(result(&r, "p50", "session")->lower, 0.1, 0);
	assert_float_equal(result(&r, "p50", "session")->upper, 1, 0);
	kpi_report_release(&r);
	series_set_release(&set);
}

/* A histogram's reset is one finding, however many scopes it is in. */
static void test_histogram_reset_is_reported_once(void **state)
{
	const double fast[] = { 0, 50, 5 }, all[] = { 0, 100, 10 };
	struct kpi_window w = window(1000000, 1020000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	size_t resets = 0;

	(void)state;
	add_bucket(&set, fast, 3, 1000000, 10000, "n1", "0.1");
	add_bucket(&set, all, 3, 1000000, 10000, "n1", "+Inf");
	kpi_compute(&latency, &w, &set, NULL, &r);
	for (size_t i = 0; i < r.nfindings; i++)
		resets += !strcmp(r.findings[i].kind, "counter_reset");
	assert_int_equal(resets, 1);
	assert_true(isinf(result(&r, "p50", "node=n1")->upper));
	kpi_report_release(&r);
	series_set_release(&set);
}

static void test_no_increase_is_no_data_not_zero(void **state)
{
	const double v[] = { 7, 7, 7, 7, 7 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1004000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, v, 5, 1000000, "x", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_string_equal(result(&r, "qps", "session")->status, "no_data");
	assert_false(result(&r, "qps", "session")->has_value);
	assert_true(has_finding(&r, "no_data"));
	kpi_report_release(&r);
	series_set_release(&set);
}

static void test_no_series_is_no_data(void **state)
{
	struct kpi_quantile q[] = { { "p50", 0.5 }, { "p99", 0.99 } };
	struct kpi_def k = { .name = "lat", .kind = kpi_kind_find("histogram_quantiles"), .metric = "h", .unit = "ms",
			     .scale = 1000, .scopes = KPI_SCOPE_SESSION, .quantiles = q, .nquantiles = 2 };
	struct kpi_window w = window(1000000, 1004000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_string_equal(result(&r, "p50", "session")->status, "no_data");
	assert_string_equal(result(&r, "p99", "session")->status, "no_data");
	kpi_report_release(&r);
}

static void test_all_zero_gauge_uses_the_fallback(void **state)
{
	const double zero[] = { 0, 0, 0, 0, 0 }, active[] = { 40, 40, 60, 60, 50 };
	struct kpi_def k = { .name = "gpu", .kind = kpi_kind_find("avg"), .expr = "a", .fallback_expr = "b", .unit = "%",
			     .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1004000);
	struct series_set main_set = { 0 }, fallback = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&main_set, zero, 5, 1000000, "a", "n1");
	add_series(&fallback, active, 5, 1000000, "b", "n1");
	kpi_compute(&k, &w, &main_set, &fallback, &r);
	assert_float_equal(result(&r, "gpu", "session")->value, 50, 1e-9);
	assert_true(has_finding(&r, "fallback"));
	kpi_report_release(&r);
	series_set_release(&main_set);
	series_set_release(&fallback);
}

static void test_nan_points_are_left_out_and_reported(void **state)
{
	const double v[] = { 10, NAN, 30, INFINITY, 50 };
	struct kpi_def k = { .name = "g", .kind = kpi_kind_find("max"), .expr = "a", .unit = "", .scale = 1,
			     .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1004000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, v, 5, 1000000, "a", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_float_equal(result(&r, "g", "session")->value, 50, 0);
	assert_int_equal(result(&r, "g", "session")->samples, 3);
	assert_true(has_finding(&r, "nan_value"));
	kpi_report_release(&r);
	series_set_release(&set);
}

static void test_peak_longer_than_the_window_is_not_applicable(void **state)
{
	const double v[] = { 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100 };
	struct kpi_def k = { .name = "qps", .kind = kpi_kind_find("counter_rate"), .metric = "x", .unit = "req/s", .scale = 1,
			     .scopes = KPI_SCOPE_SESSION, .peak_name = "qps_peak_1m", .peak_ms = 60000 };
	struct kpi_window w = window(1000000, 1010000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, v, 11, 1000000, "x", "n1");
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_string_equal(result(&r, "qps", "session")->status, "ok");
	assert_string_equal(result(&r, "qps_peak_1m", "session")->status, "not_applicable");
	assert_non_null(strstr(result(&r, "qps_peak_1m", "session")->reason, "1m"));
	assert_false(has_finding(&r, "no_data"));
	kpi_report_release(&r);
	series_set_release(&set);
}

/* Findings show the PromQL without the placeholder, and a not_applicable KPI makes none. */
static void test_no_series_finding_has_no_placeholder(void **state)
{
	struct kpi_def k = { .name = "gpu", .kind = kpi_kind_find("avg"), .expr = "100 * DCGM_X{__SESSION__} / DCGM_Y{a=\"b\",__SESSION__}",
			     .unit = "%", .scale = 1, .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1004000);
	struct series_set set = { 0 };
	struct kpi_report r = { 0 };
	char *shown = kpi_expand("f{__SESSION__,a=\"b\"} + g{__SESSION__}", NULL);

	(void)state;
	assert_string_equal(shown, "f{a=\"b\"} + g");
	free(shown);
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_int_equal(r.nfindings, 1);
	assert_string_equal(r.findings[0].message, "no series matched 100 * DCGM_X / DCGM_Y{a=\"b\"}");
	kpi_report_release(&r);
	kpi_not_applicable(&k, &w, &r, "no dcgm target");
	assert_string_equal(result(&r, "gpu", "session")->status, "not_applicable");
	assert_int_equal(r.nfindings, 0);
	kpi_report_release(&r);
}

/* Scrape counts per second of two targets, one first scraped 20 s into the window: a finding, no missed scrapes. */
static void test_a_target_scraped_late_is_a_finding(void **state)
{
	double ones[61];
	struct kpi_window w = window(1000000, 1060000);
	struct series_set up = { 0 }, counts = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	for (size_t i = 0; i < 61; i++)
		ones[i] = 1;
	add_series(&counts, ones, 61, 1000000, "", "early");
	add_series(&counts, ones, 41, 1020000, "", "late");
	free(counts.items[0].labels[1].name);
	counts.items[0].labels[1].name = xstrdup("instance");
	free(counts.items[1].labels[1].name);
	counts.items[1].labels[1].name = xstrdup("instance");
	kpi_check_targets(&w, &up, &counts, 1000, "s", 0, &r);
	assert_true(has_finding(&r, "late_target"));
	assert_false(has_finding(&r, "missing_scrapes"));
	assert_false(has_finding(&r, "outside_data"));
	kpi_report_release(&r);
	series_set_release(&counts);
}

/* A gauge point whose target was not scraped in the step before it is Prometheus's lookback, left out. */
static void test_stale_gauge_points_are_dropped(void **state)
{
	const double load[] = { 2, 2, 2, 2, 2, 2 }, count[] = { 1, 1, 1 };
	struct kpi_def k = { .name = "load", .kind = kpi_kind_find("avg"), .expr = "a", .unit = "", .scale = 1,
			     .scopes = KPI_SCOPE_SESSION };
	struct kpi_window w = window(1000000, 1005000);
	struct series_set set = { 0 }, counts = { 0 };
	struct kpi_report r = { 0 };

	(void)state;
	add_series(&set, load, 6, 1000000, "a", "n1");
	add_series(&counts, count, 3, 1000000, "", "n1");
	kpi_drop_stale(&set, &w, &counts);
	assert_int_equal(set.items[0].n, 3);
	kpi_compute(&k, &w, &set, NULL, &r);
	assert_int_equal(result(&r, "load", "session")->samples, 3);
	kpi_report_release(&r);
	series_set_release(&set);
	kpi_drop_stale(&counts, &w, &(struct series_set){ 0 });
	assert_int_equal(counts.items[0].n, 0);
	series_set_release(&counts);
}

/* Every selector of a gauge expression reads only fresh samples; what already picks its samples is left alone. */
static void test_fresh_expr_wraps_every_selector(void **state)
{
	static const struct {
		const char *in, *out;
		int plain;
	} cases[] = {
		{ "node_load1{session=\"s\"}", "last_over_time(node_load1{session=\"s\"}[999ms])", 1 },
		{ "up", "last_over_time(up[999ms])", 1 },
		{ "100 * (1 - a{x=\"}\"} / b)", "100 * (1 - last_over_time(a{x=\"}\"}[999ms]) / last_over_time(b[999ms]))", 0 },
		{ "g{s=\"1\"} >= 0 <= 100", "last_over_time(g{s=\"1\"}[999ms]) >= 0 <= 100", 0 },
		{ "u unless f < 0", "last_over_time(u[999ms]) unless last_over_time(f[999ms]) < 0", 0 },
		{ "sum by (node, gpu) (g) * on(node) group_left(m) h",
		  "sum by (node, gpu) (last_over_time(g[999ms])) * on(node) group_left(m) last_over_time(h[999ms])", 0 },
		{ "{__name__=\"g\"} > 1e-3", "last_over_time({__name__=\"g\"}[999ms]) > 1e-3", 0 },
		{ "clamp_max(floor(t{a=\"b\"} / 8) % 2, 1)", "clamp_max(floor(last_over_time(t{a=\"b\"}[999ms]) / 8) % 2, 1)", 0 },
	};
	static const char *const refused[] = { "rate(x[1m])", "x offset 5m", "x @ 100", "max_over_time(x[5m:1s])",
					       "sum((x)", "f(x))", "vector(1)", "label_replace(x, \"a\", \"b" };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int plain = -1;
		char *got = kpi_fresh_expr(cases[i].in, 999, &plain);

		assert_non_null(got);
		assert_string_equal(got, cases[i].out);
		assert_int_equal(plain, cases[i].plain);
		free(got);
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		assert_null(kpi_fresh_expr(refused[i], 999, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile_interpolates_inside_its_bucket),
		cmocka_unit_test(test_quantile_in_first_bucket_starts_at_zero),
		cmocka_unit_test(test_quantile_in_inf_bucket_has_open_upper_bound),
		cmocka_unit_test(test_quantile_in_a_non_positive_first_bucket),
		cmocka_unit_test(test_quantile_without_requests_is_no_answer),
		cmocka_unit_test(test_quantile_merges_bucket_layouts),
		cmocka_unit_test(test_quantile_bounds_do_not_rest_on_interpolation),
		cmocka_unit_test(test_histogram_reset_is_reported_once),
		cmocka_unit_test(test_counter_rate_handles_a_reset),
		cmocka_unit_test(test_counter_without_a_scrape_after_the_end_has_no_upper_bound),
		cmocka_unit_test(test_counter_series_starting_inside_the_window),
		cmocka_unit_test(test_counter_peak_per_scope),
		cmocka_unit_test(test_counter_edges_are_interpolated),
		cmocka_unit_test(test_counter_edges_read_exactly),
		cmocka_unit_test(test_counter_edge_read_during_the_load),
		cmocka_unit_test(test_counter_edges_across_a_reset_are_not_used),
		cmocka_unit_test(test_quantile_from_edge_readings),
		cmocka_unit_test(test_no_increase_is_no_data_not_zero),
		cmocka_unit_test(test_no_series_is_no_data),
		cmocka_unit_test(test_all_zero_gauge_uses_the_fallback),
		cmocka_unit_test(test_nan_points_are_left_out_and_reported),
		cmocka_unit_test(test_peak_longer_than_the_window_is_not_applicable),
		cmocka_unit_test(test_no_series_finding_has_no_placeholder),
		cmocka_unit_test(test_a_target_scraped_late_is_a_finding),
		cmocka_unit_test(test_stale_gauge_points_are_dropped),
		cmocka_unit_test(test_fresh_expr_wraps_every_selector),
	};

	latency.kind = kpi_kind_find("histogram_quantiles");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
