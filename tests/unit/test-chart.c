/* Unit tests for report/chart.h: reducing a series to what a pixel column can show, and escaping. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "report/chart.h"

static void test_short_series_kept_whole(void **state)
{
	double t[5] = { 1, 2, 3, 4, 5 }, v[5] = { 5, NAN, 7, 8, 9 };
	size_t keep[5];

	(void)state;
	assert_int_equal(chart_reduce(t, v, 5, 0, 5, 10, keep), 4);
	assert_int_equal(keep[0], 0);
	assert_int_equal(keep[1], 2);
	assert_int_equal(keep[3], 4);
}

/* 10,000 points into 100 columns: each column's min and max, in time order, a spike of one point kept */
static void test_min_max_per_column(void **state)
{
	enum { N = 10000, COLS = 100 };
	double *t = malloc(N * sizeof(double)), *v = malloc(N * sizeof(double));
	size_t *keep = malloc(N * sizeof(size_t)), n;
	int spike_seen = 0, dip_seen = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		t[i] = 1000 + i;
		v[i] = 100 + 10 * sin(i / 50.0);
	}
	v[4321] = 5000;
	v[777] = -3;
	n = chart_reduce(t, v, N, 1000, 1000 + N, COLS, keep);
	assert_true(n <= 2 * COLS);
	assert_true(n >= COLS);
	for (size_t k = 0; k < n; k++) {
		spike_seen |= keep[k] == 4321;
		dip_seen |= keep[k] == 777;
		if (k)
			assert_true(keep[k] > keep[k - 1]);
	}
	assert_true(spike_seen);
	assert_true(dip_seen);
	/* every column's extremes are among the kept points */
	for (int c = 0; c < COLS; c++) {
		double lo = INFINITY, hi = -INFINITY;
		int have_lo = 0, have_hi = 0;

		for (int i = c * N / COLS; i < (c + 1) * N / COLS; i++) {
			lo = fmin(lo, v[i]);
			hi = fmax(hi, v[i]);
		}
		for (size_t k = 0; k < n; k++) {
			if (t[keep[k]] >= 1000 + c * N / COLS && t[keep[k]] < 1000 + (c + 1) * N / COLS) {
				have_lo |= v[keep[k]] == lo;
				have_hi |= v[keep[k]] == hi;
			}
		}
		assert_true(have_lo && have_hi);
	}
	free(t);
	free(v);
	free(keep);
}

/* points on or past the window's end fall into the last column, not out of the array */
static void test_edges(void **state)
{
	double t[6] = { 0, 1, 2, 3, 4, 10 }, v[6] = { 1, 2, 3, 4, 5, 6 };
	size_t keep[6], n;

	(void)state;
	n = chart_reduce(t, v, 6, 0, 4, 2, keep);
	assert_true(n <= 4);
	assert_int_equal(keep[0], 0);
	assert_int_equal(keep[n - 1], 5);
}

static void test_escape(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	html_escape(&sb, "a<b>&\"c'");
	assert_string_equal(sb.buf, "a&lt;b&gt;&amp;&quot;c&#39;");
	strbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short_series_kept_whole),
		cmocka_unit_test(test_min_max_per_column),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
