#include "results/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/xmalloc.h"

const char *compare_verdict_name(enum compare_verdict v)
{
	switch (v) {
	case COMPARE_SAME:
		return "~";
	case COMPARE_BETTER:
		return "better";
	case COMPARE_WORSE:
		return "worse";
	case COMPARE_CHANGED:
		return "changed";
	case COMPARE_MISSING:
		break;
	}
	return "missing";
}

static int double_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : a > b;
}

/*
 * P(U <= u) for samples of m and n without ties: the counts of U are the
 * coefficients of the Gaussian binomial [m+n choose m](q), built one factor
 * (1 - q^(n+i)) / (1 - q^i) at a time so every step holds counts again.
 */
static double exact_cdf(size_t m, size_t n, double u)
{
	size_t deg = m * n, i, k;
	double *c = xcalloc(deg + 1, sizeof(double)), below = 0, total = 0;

	c[0] = 1;
	for (i = 1; i <= m; i++) {
		size_t up = n + i, top = i * n;

		for (k = top; k >= up && k <= top; k--)
			c[k] -= c[k - up];
		for (k = i; k <= top; k++)
			c[k] += c[k - i];
	}
	for (k = 0; k <= deg; k++) {
		total += c[k];
		if ((double)k <= u + 1e-9)
			below += c[k];
	}
	free(c);
	return below / total;
}

double mann_whitney_u(const double *x, size_t nx, const double *y, size_t ny, double *u)
{
	size_t n = nx + ny, i, j;
	struct { double v; int from_x; } *all = xcalloc(n, sizeof(*all));
	double rank_x = 0, ties = 0, mu, sigma2, z, ux, p;
	int tied = 0;

	for (i = 0; i < nx; i++)
		all[i].v = x[i], all[i].from_x = 1;
	for (i = 0; i < ny; i++)
		all[nx + i].v = y[i];
	qsort(all, n, sizeof(*all), double_cmp);
	for (i = 0; i < n; i = j) {
		double mid, t;

		for (j = i + 1; j < n && all[j].v == all[i].v; j++)
			;
		t = (double)(j - i);
		mid = ((double)i + 1 + (double)j) / 2;
		for (size_t k = i; k < j; k++)
			if (all[k].from_x)
				rank_x += mid;
		if (t > 1) {
			tied = 1;
			ties += t * t * t - t;
		}
	}
	free(all);
	ux = rank_x - (double)nx * ((double)nx + 1) / 2;
	if (u)
		*u = ux;
	mu = (double)nx * (double)ny / 2;
	if (!tied && nx <= COMPARE_EXACT_MAX && ny <= COMPARE_EXACT_MAX) {
		double lo = ux <= mu ? ux : (double)nx * (double)ny - ux;

		p = 2 * exact_cdf(nx, ny, lo);
		return p > 1 ? 1 : p;
	}
	sigma2 = (double)nx * (double)ny / 12 * (((double)n + 1) - ties / ((double)n * ((double)n - 1)));
	if (sigma2 <= 0)
		return 1;
	z = ux - mu;
	z = (z - (z > 0 ? 0.5 : z < 0 ? -0.5 : 0)) / sqrt(sigma2);
	p = erfc(fabs(z) / sqrt(2));
	return p > 1 ? 1 : p;
}

double median_ci(double *v, size_t n, double conf, double *lower, double *upper)
{
	double med, tail = 0, term;
	size_t k;

	qsort(v, n, sizeof(*v), double_cmp);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lower = -INFINITY;
	*upper = INFINITY;
	/* [v(k), v(n-k+1)] covers the median with probability 1 - 2 P(Binomial(n, 1/2) <= k - 1) */
	term = pow(0.5, (double)n);
	for (k = 1; k <= n / 2; k++) {
		tail += term;   /* P(B <= k - 1) */
		if (1 - 2 * tail < conf)
			break;
		*lower = v[k - 1];
		*upper = v[n - k];
		term = term * (double)(n - (k - 1)) / (double)k;
	}
	return med;
}

/* The values of kpi/scope in runs with a value and status ok, into v; their count. */
static size_t side_values(const struct run *const *runs, size_t n, const char *kpi, const char *scope, double *v,
			  const struct run_kpi **one)
{
	size_t got = 0;

	for (size_t i = 0; i < n; i++) {
		const struct run_kpi *k = run_kpi_find(runs[i], kpi, scope);

		if (k && k->has_value && !strcmp(k->status, "ok") && isfinite(k->value)) {
			v[got++] = k->value;
			*one = k;
		}
	}
	return got;
}

static enum compare_verdict direction_verdict(int up, int direction)
{
	if (!direction)
		return COMPARE_CHANGED;
	return (up > 0) == (direction > 0) ? COMPARE_BETTER : COMPARE_WORSE;
}

static void compare_row(struct compare_row *row, const struct run *const *a, size_t na, const struct run *const *b,
			size_t nb, double alpha, double *va, double *vb)
{
	const struct run_kpi *ka = NULL, *kb = NULL;
	size_t ga = side_values(a, na, row->kpi, row->scope, va, &ka);
	size_t gb = side_values(b, nb, row->kpi, row->scope, vb, &kb);

	row->a.n = ga;
	row->b.n = gb;
	row->verdict = COMPARE_MISSING;
	row->method = na == 1 && nb == 1 ? COMPARE_BOUNDS : COMPARE_UTEST;
	if (!ga || !gb) {
		if (ga)
			row->a.center = va[0];
		if (gb)
			row->b.center = vb[0];
		return;
	}
	if (row->method == COMPARE_BOUNDS) {
		row->a.center = ka->value;
		row->b.center = kb->value;
		row->a.has_bounds = ka->has_bounds;
		row->a.lower = ka->lower, row->a.upper = ka->upper;
		row->b.has_bounds = kb->has_bounds;
		row->b.lower = kb->lower, row->b.upper = kb->upper;
		row->verdict = COMPARE_SAME;
		if (ka->has_bounds && kb->has_bounds) {
			if (kb->lower > ka->upper)
				row->verdict = direction_verdict(1, row->direction);
			else if (kb->upper < ka->lower)
				row->verdict = direction_verdict(-1, row->direction);
		}
	} else {
		double u, mu = (double)ga * (double)gb / 2;

		/* the test first: median_ci sorts the values */
		row->p = mann_whitney_u(va, ga, vb, gb, &u);
		row->a.center = median_ci(va, ga, 0.95, &row->a.lower, &row->a.upper);
		row->b.center = median_ci(vb, gb, 0.95, &row->b.lower, &row->b.upper);
		row->a.has_bounds = row->b.has_bounds = 1;
		row->verdict = COMPARE_SAME;
		/* U of A above its mean: A's values tend to be the larger, so B went down */
		if (row->p < alpha && u != mu)
			row->verdict = direction_verdict(u > mu ? -1 : 1, row->direction);
	}
	if (row->a.center != 0) {
		row->has_change = 1;
		row->change_pct = 100 * (row->b.center - row->a.center) / fabs(row->a.center);
	}
}

/* Is kpi/scope already a row? */
static int has_row(const struct compare_table *t, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->rows[i].kpi, kpi) && !strcmp(t->rows[i].scope, scope))
			return 1;
	return 0;
}

int compare_runs(const struct run *const *a, size_t na, const struct run *const *b, size_t nb,
		 const struct compare_options *o, struct compare_table *t)
{
	double alpha = o && o->alpha > 0 ? o->alpha : COMPARE_ALPHA;
	double *va = xcalloc(na, sizeof(double)), *vb = xcalloc(nb, sizeof(double));
	double log_a = 0, log_b = 0;
	size_t alloc = 0, ngeo = 0;

	memset(t, 0, sizeof(*t));
	if (!na || !nb) {
		free(va);
		free(vb);
		return error("nothing to compare: side %s has no runs", na ? "B" : "A");
	}
	t->na = na;
	t->nb = nb;
	t->few_runs = (na > 1 || nb > 1) && (na < COMPARE_MIN_RUNS || nb < COMPARE_MIN_RUNS);
	for (size_t side = 0; side < 2; side++) {
		const struct run *const *runs = side ? b : a;
		size_t n = side ? nb : na;

		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < runs[i]->nkpis; j++) {
				const struct run_kpi *k = &runs[i]->kpis[j];
				struct compare_row *row;

				if (strcmp(k->status, "ok") || !k->has_value)
					continue;
				if (!(o && o->all_scopes) && strcmp(k->scope, "session"))
					continue;
				if (has_row(t, k->kpi, k->scope))
					continue;
				if (t->n == alloc) {
					alloc = alloc ? 2 * alloc : 32;
					t->rows = xrealloc(t->rows, alloc * sizeof(*t->rows));
				}
				row = &t->rows[t->n++];
				memset(row, 0, sizeof(*row));
				row->kpi = xstrdup(k->kpi);
				row->scope = xstrdup(k->scope);
				row->unit = xstrdup(k->unit);
				row->direction = o && o->direction ? o->direction(k->kpi, o->direction_ctx) : 0;
			}
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		struct compare_row *row = &t->rows[i];

		compare_row(row, a, na, b, nb, alpha, va, vb);
		if (!strcmp(row->scope, "session") && row->a.n && row->b.n && row->a.center > 0 &&
		    row->b.center > 0) {
			log_a += log(row->a.center);
			log_b += log(row->b.center);
			ngeo++;
		}
	}
	if (ngeo) {
		t->has_geomean = 1;
		t->geomean_a = exp(log_a / (double)ngeo);
		t->geomean_b = exp(log_b / (double)ngeo);
		t->geomean_change_pct = 100 * (t->geomean_b - t->geomean_a) / t->geomean_a;
	}
	free(va);
	free(vb);
	return 0;
}

void compare_table_release(struct compare_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->rows[i].kpi);
		free(t->rows[i].scope);
		free(t->rows[i].unit);
	}
	free(t->rows);
	memset(t, 0, sizeof(*t));
}
