/*
 * Unit tests for collect/exprread.h: which gauge expressions benchmon
 * evaluates itself and which it leaves to Prometheus, and what it makes of
 * them on a small grid of made-up samples: the subquery's numbers, step
 * for step, and Prometheus's refusal where it would refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/exprread.h"
#include "collect/profile.h"
#include "lib/xmalloc.h"

/* the window: steps at 1 s from 1 s to 10 s; the display grid every 2 s */
static const struct kpi_window w = { 1000, 1000, 10000, 1000, 10 };
static const struct kpi_window dw = { 1000, 2000, 10000, 2000, 5 };

static struct kpi_def def(const char *kind)
{
	struct kpi_def k = { 0 };

	k.name = (char *)"k";
	k.kind = kpi_kind_find(kind);
	return k;
}

static int plan(const char *expr, struct expr_read *e, struct query_list *l)
{
	struct kpi_def k = def("avg");

	return expr_read_plan(e, &k, expr, 1000, "http://127.0.0.1:1", &w, &dw, l);
}

static void test_which(void **state)
{
	static const char *const ours[] = {
		"100 * (1 - a{s=\"x\"} / b{s=\"x\"})",
		"a{s=\"x\"} unless b{s=\"x\"} < 0",
		"100 * clamp_max(floor(t / 8) % 2 + floor(t / 32) % 2, 1)",
		"a and b",
		"-a + 1",
		"clamp(a, 0, 100) >= 1",
		"abs(a - b) * ceil(c)",
	};
	static const char *const theirs[] = {
		"sum(a)", "a or b", "a ^ 2", "rate(a[1m])", "a > bool 1", "a / on(x) b", "a offset 1m", "1 + 2", "a",
		"a{s=\"x\"}", "abs(1)", "histogram_quantile(0.9, a)", "a @ 100", "a[5m:1m]", "a +", "(a", "a b",
		"clamp_max(a, b)", "1 < 2", "a and 1",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		struct query_list l = { 0 };
		struct expr_read e;

		assert_int_equal(plan(ours[i], &e, &l), 0);
		assert_true(l.n >= 1);
		for (size_t j = 0; j < l.n; j++)
			assert_string_equal(l.items[j].endpoint, REMOTEREAD_PATH);
		expr_read_release(&e);
		query_list_release(&l);
	}
	for (size_t i = 0; i < sizeof(theirs) / sizeof(theirs[0]); i++) {
		struct query_list l = { 0 };
		struct expr_read e;

		assert_int_equal(plan(theirs[i], &e, &l), -1);
		assert_int_equal(l.n, 0);
		query_list_release(&l);
	}
	{
		/* nesting deeper than any profile needs is left to Prometheus, not recursed into */
		char deep[20001];
		struct query_list l = { 0 };
		struct expr_read e;

		memset(deep, '(', 10000);
		memset(deep + 10000, ')', 10000);
		deep[20000] = '\0';
		deep[9999] = 'a';
		deep[10000] = ' ';
		assert_int_equal(plan(deep, &e, &l), -1);
		memset(deep, '-', 20000);
		deep[19999] = 'a';
		assert_int_equal(plan(deep, &e, &l), -1);
		query_list_release(&l);
	}
}

/* Stream a series of metric name with label i=id, one sample a second from 1 s to 10 s, value f(second), into q. */
static void add_series(const struct query *q, const char *name, const char *id, double (*f)(int))
{
	const struct label labels[] = { { (char *)"__name__", (char *)name }, { (char *)"i", (char *)id } };
	int64_t t[10];
	double v[10];

	for (int sec = 1; sec <= 10; sec++) {
		t[sec - 1] = sec * 1000;
		v[sec - 1] = f(sec);
	}
	q->sink->begin(q->sink->ctx, labels, 2);
	/* in two batches, as chunks come */
	q->sink->samples(q->sink->ctx, t, v, 4);
	q->sink->samples(q->sink->ctx, t + 4, v + 4, 6);
	q->sink->end(q->sink->ctx);
}

static double seconds(int sec) { return sec; }
static double four(int sec) { (void)sec; return 4; }
static double negative_on_odd(int sec) { return sec % 2 ? -1 : 1; }

static void test_values(void **state)
{
	struct query_list l = { 0 };
	struct expr_read e;
	double want = 0;

	(void)state;
	assert_int_equal(plan("100 * (1 - a / b)", &e, &l), 0);
	assert_int_equal(e.nsels, 2);
	add_series(&l.items[e.q[0]], "a", "1", seconds);
	add_series(&l.items[e.q[1]], "b", "1", four);
	/* b has a series a never matches: left out */
	add_series(&l.items[e.q[1]], "b", "2", four);
	assert_int_equal(expr_read_eval(&e, "k", &l), 0);
	for (int sec = 1; sec <= 10; sec++)
		want += 100 * (1 - sec / 4.0);
	assert_int_equal(e.acc.n, 1);
	assert_int_equal(e.acc.items[0].nlabels, 1); /* arithmetic drops the name */
	assert_string_equal(e.acc.items[0].labels[0].value, "1");
	assert_true(fabs(e.acc.items[0].v[0] - want) < 1e-9);
	assert_int_equal(e.counts.items[0].v[0], 10);
	/* the display points: every 2 s, the value at that second */
	assert_int_equal(e.display.n, 1);
	assert_int_equal(e.display.items[0].n, 5);
	assert_int_equal(e.display.items[0].t_ms[0], 2000);
	assert_true(fabs(e.display.items[0].v[0] - 50) < 1e-12);
	expr_read_release(&e);
	query_list_release(&l);
}

static void test_unless(void **state)
{
	struct query_list l = { 0 };
	struct expr_read e;

	(void)state;
	assert_int_equal(plan("a unless b < 0", &e, &l), 0);
	add_series(&l.items[e.q[0]], "a", "1", seconds);
	add_series(&l.items[e.q[1]], "b", "1", negative_on_odd);
	assert_int_equal(expr_read_eval(&e, "k", &l), 0);
	/* the even seconds only */
	assert_int_equal(e.counts.items[0].v[0], 5);
	assert_true(fabs(e.acc.items[0].v[0] - (2 + 4 + 6 + 8 + 10)) < 1e-12);
	expr_read_release(&e);
	query_list_release(&l);
}

static void test_refused(void **state)
{
	struct query_list l = { 0 };
	struct expr_read e;

	(void)state;
	/* two series on the right with the labels of one on the left: Prometheus refuses, and so do we */
	assert_int_equal(plan("a / {__name__=~\"b|c\"}", &e, &l), 0);
	add_series(&l.items[e.q[0]], "a", "1", seconds);
	add_series(&l.items[e.q[1]], "b", "1", four);
	add_series(&l.items[e.q[1]], "c", "1", four);
	assert_int_equal(expr_read_eval(&e, "k", &l), -1);
	expr_read_release(&e);
	query_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_which),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_unless),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
