/*
 * Unit tests for results/compare.h: the Mann-Whitney U test against R's
 * wilcox.test and against enumeration of every split by hand, the median's
 * confidence interval against the binomial tables, and the verdicts of
 * compare_runs from bounds and from the test.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "results/compare.h"
#include "results/runs.h"

#define assert_near(a, b, eps) assert_true(fabs((a) - (b)) <= (eps))

/* R's ?wilcox.test example: W = 35, one-sided p-value = 0.1272, so two-sided 764/3003 (exact). */
static void test_utest_r_example(void **state)
{
	const double x[] = { 0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46 };
	const double y[] = { 1.15, 0.88, 0.90, 0.74, 1.21 };
	double u, p = mann_whitney_u(x, 10, y, 5, &u);

	(void)state;
	assert_near(u, 35, 1e-12);
	assert_near(p, 764.0 / 3003.0, 1e-9);
	assert_near(p / 2, 0.1272, 5e-5);
}

/* Fully separated samples: only the 2 most extreme of C(n+m, n) splits are as extreme. */
static void test_utest_separated(void **state)
{
	const double a[] = { 1, 2, 3, 4, 5 }, b[] = { 6, 7, 8, 9, 10 };
	double u, p;

	(void)state;
	p = mann_whitney_u(a, 5, b, 5, &u);
	assert_near(u, 0, 1e-12);
	assert_near(p, 2.0 / 252.0, 1e-12);          /* R: p-value = 0.007937 */
	p = mann_whitney_u(b, 5, a, 5, &u);
	assert_near(u, 25, 1e-12);
	assert_near(p, 2.0 / 252.0, 1e-12);
	p = mann_whitney_u(a, 3, b, 3, &u);
	assert_near(p, 0.1, 1e-12);                  /* 3 + 3 runs cannot reach 0.05 */
	p = mann_whitney_u(a, 4, b, 4, &u);
	assert_near(p, 2.0 / 70.0, 1e-12);          /* 4 + 4 can: 0.02857 */
	p = mann_whitney_u(a, 1, b, 1, &u);
	assert_near(p, 1, 1e-12);
}

/*
 * Unequal sizes, interleaved: U = 15 of 24; 128 of the 210 splits of the
 * ten values into 4 and 6 have |U - 12| >= 3 (counted by enumerating them).
 */
static void test_utest_interleaved(void **state)
{
	const double x[] = { 3.1, 2.2, 5.0, 4.4 }, y[] = { 1.0, 0.5, 2.0, 3.0, 6.0, 7.0 };
	double u, p = mann_whitney_u(x, 4, y, 6, &u);

	(void)state;
	assert_near(u, 15, 1e-12);
	assert_near(p, 128.0 / 210.0, 1e-12);
}

/*
 * Ties: the normal approximation with tie and continuity correction, as R's
 * wilcox.test(c(1,2,2,3), c(2,3,3,4)) (W = 3, p-value = 0.172). By hand:
 * ranks of x 1, 3, 3, 6, so U = 13 - 10 = 3, mean 8; two ties of 3 give
 * sigma^2 = 16/12 * (9 - 48/56) = 10.857; z = (3 - 8 + 0.5) / 3.2950 =
 * -1.36570; p = 2 * Phi(-1.36570) = 0.172034.
 */
static void test_utest_ties(void **state)
{
	const double x[] = { 1, 2, 2, 3 }, y[] = { 2, 3, 3, 4 };
	double u, p = mann_whitney_u(x, 4, y, 4, &u);

	(void)state;
	assert_near(u, 3, 1e-12);
	assert_near(p, 0.172034, 1e-6);
	/* all tied: nothing to tell */
	p = mann_whitney_u(x + 1, 2, x + 1, 2, &u);
	assert_near(p, 1, 1e-12);
}

/* Larger samples go to the normal approximation: 60 + 60 separated values give p far below 1e-10. */
static void test_utest_large(void **state)
{
	double a[60], b[60], u, p;

	(void)state;
	for (int i = 0; i < 60; i++) {
		a[i] = i;
		b[i] = 100 + i;
	}
	p = mann_whitney_u(a, 60, b, 60, &u);
	assert_near(u, 0, 1e-12);
	assert_true(p < 1e-10 && p > 0);
	/* exact at the limit: 50 + 50, p = 2 / C(100, 50) */
	p = mann_whitney_u(a, 50, b, 50, &u);
	assert_near(p / (2 / 1.0089134454556419e29), 1, 1e-6);
}

/*
 * The median's distribution-free 95% interval: none for n <= 5, [x1, x6] for
 * n = 6 (coverage 1 - 2/64), [x2, x9] for n = 10 (the binomial tables').
 */
static void test_median_ci(void **state)
{
	double v5[] = { 5, 1, 4, 2, 3 }, v6[] = { 6, 5, 4, 3, 2, 1 }, v10[10], lo, hi, m;

	(void)state;
	m = median_ci(v5, 5, 0.95, &lo, &hi);
	assert_near(m, 3, 0);
	assert_true(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
	m = median_ci(v6, 6, 0.95, &lo, &hi);
	assert_near(m, 3.5, 0);
	assert_near(lo, 1, 0);
	assert_near(hi, 6, 0);
	for (int i = 0; i < 10; i++)
		v10[i] = 10 - i;
	m = median_ci(v10, 10, 0.95, &lo, &hi);
	assert_near(m, 5.5, 0);
	assert_near(lo, 2, 0);
	assert_near(hi, 9, 0);
}

static struct run_kpi kpi(const char *name, double v, double lo, double hi)
{
	struct run_kpi k = { 0 };

	k.kpi = (char *)name;
	k.scope = (char *)"session";
	k.unit = (char *)"u";
	k.status = (char *)"ok";
	k.has_value = 1;
	k.value = v;
	k.has_bounds = !isnan(lo);
	k.lower = lo;
	k.upper = hi;
	return k;
}

static int higher_better(const char *name, void *ctx)
{
	(void)ctx;
	return !strcmp(name, "qps") ? 1 : !strcmp(name, "lat") ? -1 : 0;
}

/* One run per side: disjoint bounds are proven, overlapping ones and none are ~. */
static void test_compare_bounds(void **state)
{
	struct run_kpi ka[] = { kpi("qps", 100, 100, 100), kpi("lat", 2, 1, 2.5), kpi("cpu", 10, NAN, NAN),
				kpi("mem", 5, 4, 6) };
	struct run_kpi kb[] = { kpi("qps", 90, 90, 90), kpi("lat", 2.2, 1, 2.5), kpi("cpu", 50, NAN, NAN),
				kpi("mem", 9, 7, 10) };
	struct run a = { .run_id = (char *)"a", .kpis = ka, .nkpis = 4 };
	struct run b = { .run_id = (char *)"b", .kpis = kb, .nkpis = 4 };
	const struct run *pa = &a, *pb = &b;
	struct compare_options o = { .direction = higher_better };
	struct compare_table t;

	(void)state;
	assert_int_equal(compare_runs(&pa, 1, &pb, 1, &o, &t), 0);
	assert_int_equal(t.n, 4);
	assert_string_equal(t.rows[0].kpi, "qps");
	assert_int_equal(t.rows[0].verdict, COMPARE_WORSE);
	assert_near(t.rows[0].change_pct, -10, 1e-9);
	assert_int_equal(t.rows[1].verdict, COMPARE_SAME);
	assert_int_equal(t.rows[2].verdict, COMPARE_SAME);     /* no bounds: cannot tell */
	assert_int_equal(t.rows[3].verdict, COMPARE_CHANGED);  /* proven, but no direction */
	assert_false(t.few_runs);
	/* geomean of 100, 2, 10, 5 against 90, 2.2, 50, 9 */
	assert_true(t.has_geomean);
	assert_near(t.geomean_a, pow(100.0 * 2 * 10 * 5, 0.25), 1e-9);
	assert_near(t.geomean_b, pow(90.0 * 2.2 * 50 * 9, 0.25), 1e-9);
	compare_table_release(&t);
}

/* Repetitions: the U test decides; a KPI missing on a side is "missing". */
static void test_compare_groups(void **state)
{
	struct run_kpi k[10][2];
	struct run runs[10];
	const struct run *pa[5], *pb[5];
	struct compare_options o = { .direction = higher_better };
	struct compare_table t;

	(void)state;
	memset(runs, 0, sizeof(runs));
	for (int i = 0; i < 10; i++) {
		k[i][0] = kpi("qps", i < 5 ? 100 + i : 200 + i, NAN, NAN);
		k[i][1] = kpi(i < 5 ? "lat" : "other", 1 + i % 2, NAN, NAN);
		runs[i].kpis = k[i];
		runs[i].nkpis = 2;
		if (i < 5)
			pa[i] = &runs[i];
		else
			pb[i - 5] = &runs[i];
	}
	assert_int_equal(compare_runs(pa, 5, pb, 5, &o, &t), 0);
	assert_int_equal(t.n, 3);
	assert_int_equal(t.rows[0].method, COMPARE_UTEST);
	assert_int_equal(t.rows[0].verdict, COMPARE_BETTER);
	assert_near(t.rows[0].p, 2.0 / 252.0, 1e-12);
	assert_near(t.rows[0].a.center, 102, 0);
	assert_near(t.rows[0].b.center, 207, 0);
	assert_int_equal(t.rows[1].verdict, COMPARE_MISSING);
	assert_false(t.few_runs);
	compare_table_release(&t);
	assert_int_equal(compare_runs(pa, 3, pb, 3, &o, &t), 0);
	assert_true(t.few_runs);
	assert_int_equal(t.rows[0].verdict, COMPARE_SAME);
	assert_near(t.rows[0].p, 0.1, 1e-12);
	compare_table_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utest_r_example),
		cmocka_unit_test(test_utest_separated),
		cmocka_unit_test(test_utest_interleaved),
		cmocka_unit_test(test_utest_ties),
		cmocka_unit_test(test_utest_large),
		cmocka_unit_test(test_median_ci),
		cmocka_unit_test(test_compare_bounds),
		cmocka_unit_test(test_compare_groups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
