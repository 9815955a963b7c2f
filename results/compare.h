#ifndef BENCHMON_COMPARE_H
#define BENCHMON_COMPARE_H

#include <stddef.h>

#include "results/runs.h"

/*
 * Comparing runs: side A (the baseline) against side B, per KPI and scope.
 *
 * One run per side: the verdict comes from the proven bounds. Disjoint
 * [lower, upper] intervals are a proven change; overlapping ones are "~"
 * (cannot tell), whatever the values say.
 *
 * Several runs per side (repetitions): each side is summed up by the median
 * of its values with a distribution-free 95% confidence interval (order
 * statistics), and the two sides are tested with the Mann-Whitney U test,
 * two-sided, at alpha (0.05): p < alpha is a change, else "~". p is exact
 * for samples without ties (n <= COMPARE_EXACT_MAX per side), otherwise the
 * normal approximation with tie and continuity correction (as R's
 * wilcox.test). Fewer than COMPARE_MIN_RUNS runs on a side sets few_runs:
 * the test cannot reach significance with so few (n = 3 + 3 gives p >= 0.1).
 *
 * A change is "better" or "worse" by the KPI's direction in the profile
 * (profile.h's "better": "higher" or "lower"); a KPI without one is only
 * "changed". change_pct is 100 * (B - A) / |A| of the centres.
 *
 * The geomean row is the geometric mean of the centres of the session-scope
 * KPIs whose centres are positive on both sides, with its change; no
 * verdict, as benchstat does.
 */

#define COMPARE_ALPHA 0.05
#define COMPARE_MIN_RUNS 4
#define COMPARE_EXACT_MAX 50

enum compare_verdict {
	COMPARE_SAME,         /* "~": no proven or significant change */
	COMPARE_BETTER,
	COMPARE_WORSE,
	COMPARE_CHANGED,      /* a change, of a KPI without a direction */
	COMPARE_MISSING,      /* a side has no value: nothing to compare */
};

enum compare_method {
	COMPARE_BOUNDS,       /* one run per side: disjoint bounds or not */
	COMPARE_UTEST,        /* Mann-Whitney U */
};

/* One side of a row. */
struct compare_side {
	size_t n;             /* runs with a value */
	double center;        /* the value (one run) or the median */
	double lower, upper;  /* one run: its proven bounds (has_bounds); several: the median's 95% CI,
				 -Inf/+Inf when n is too small for one */
	int has_bounds;
};

struct compare_row {
	char *kpi;
	char *scope;
	char *unit;
	struct compare_side a, b;
	int has_change;
	double change_pct;
	enum compare_method method;
	double p;             /* COMPARE_UTEST only */
	enum compare_verdict verdict;
	int direction;        /* +1 higher is better, -1 lower is better, 0 unknown */
};

struct compare_table {
	struct compare_row *rows;   /* KPIs in side A's manifest order, each with its scopes */
	size_t n;
	size_t na, nb;              /* runs per side */
	int few_runs;               /* a side has fewer than COMPARE_MIN_RUNS runs (and more than one) */
	int has_geomean;
	double geomean_a, geomean_b, geomean_change_pct;
};

/*
 * Which way is better for a KPI: +1 higher, -1 lower, 0 unknown. The
 * caller answers from a profile (profile_better in collect/profile.h).
 */
typedef int (*compare_direction_fn)(const char *kpi, void *ctx);

struct compare_options {
	double alpha;                  /* 0: COMPARE_ALPHA */
	compare_direction_fn direction;  /* or NULL: every KPI's direction is unknown */
	void *direction_ctx;
	int all_scopes;                /* 0: only the session scope */
};

/*
 * Compare the runs of a against those of b (na, nb >= 1). Rows are made
 * for every KPI and scope with status ok on at least one side; KPIs that
 * are not_applicable on both sides are left out. Returns 0, or -1 after
 * error() when a side is empty.
 */
int compare_runs(const struct run *const *a, size_t na, const struct run *const *b, size_t nb,
		 const struct compare_options *o, struct compare_table *t);
void compare_table_release(struct compare_table *t);

/* "~", "better", "worse", "changed", "missing" */
const char *compare_verdict_name(enum compare_verdict v);

/*
 * The Mann-Whitney U test of x against y, two-sided: the p value, and in
 * *u the U statistic of x (pairs with x > y, ties counting half). Exact
 * when neither sample has ties and each has at most COMPARE_EXACT_MAX
 * values; otherwise the normal approximation with tie correction and
 * continuity correction. nx, ny >= 1. p is 1 when every value is tied.
 */
double mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny, double *u);

/*
 * The median of v (n >= 1, sorted in place) and its distribution-free
 * confidence interval at level conf: [v(k), v(n-k+1)] for the largest k
 * whose coverage is at least conf; -Inf/+Inf when no k reaches it.
 */
double median_ci(double *v, size_t n, double conf, double *lower, double *upper);

#endif
