#ifndef BENCHMON_EXPRREAD_H
#define BENCHMON_EXPRREAD_H

#include <stddef.h>
#include <stdint.h>

#include "collect/kpi.h"
#include "collect/query.h"

/*
 * A gauge KPI's expression over several selectors, evaluated by benchmon
 * over their raw samples (remote read) instead of by Prometheus as a
 * subquery: "100 * (1 - node_memory_MemAvailable_bytes{...} /
 * node_memory_MemTotal_bytes{...})", "DCGM_FI_DEV_FB_USED{...} unless
 * DCGM_FI_DEV_FB_FREE{...} < 0". A subquery at a 1 s step over 3 hours
 * costs Prometheus 10,800 evaluations, twice (the sum and the count); the
 * samples cost it nothing to send.
 *
 * Each selector's series is kept as its value at each step of the two
 * grids (8 bytes and a flag a step), settled as the samples stream in; a
 * window of more than EXPR_READ_MAX_STEPS steps (30 hours at 1 s) is left
 * to Prometheus, which holds no more than a step's worth at a time.
 *
 * The numbers are the subquery's, step for step: at each multiple t of
 * the scrape interval in [from, to], each selector gives the latest sample
 * of each series in [t - interval + 1 ms, t] (collect's last_over_time
 * rewrite, kpi_fresh_expr), the expression is applied with PromQL's rules
 * (one-to-one matching on all labels but __name__, filters that keep the
 * vector's value, the metric name dropped by arithmetic and functions,
 * kept by filters, and and unless), and each output series' values are
 * summed (Prometheus's compensated sum), maxed and counted. The display
 * points are the same on dw's grid with dw's step as the freshness.
 * Where Prometheus would refuse the query (two series with one label set
 * at one step) the evaluation fails the same way.
 *
 * The expression may hold numbers, selectors, parentheses, unary minus,
 * + - * / %, the comparisons (without bool), and, unless, and the
 * functions abs, ceil, floor, clamp, clamp_max and clamp_min. Anything
 * else (aggregations, on/ignoring, ranges, offset, @, ^, or, bool, other
 * functions) is left to Prometheus: expr_read_plan says no.
 */

#define EXPR_READ_MAX_STEPS 108000

struct expr_node;
struct expr_read;

/* One series of a selector, settled on both grids as its samples stream in. */
struct expr_dense {
	struct series labels;        /* its labels only */
	double *wv, *dv;             /* its value at each window step, at each display point */
	unsigned char *wh, *dh;      /* whether it has one there */
};

/* A selector's read: its series, and the one streaming in. */
struct expr_selector {
	struct expr_read *e;
	struct remoteread_sink sink;
	struct expr_dense *items;
	size_t n;
	size_t wi, di;               /* window steps, display points settled */
	int64_t last_t;
	double last_v;
	int have_last;
};

struct expr_read {
	struct expr_node *root;
	size_t *q;                   /* the read of each selector, in the order of sels */
	char **sels;
	struct expr_selector *selectors;
	size_t nsels;
	int max;
	int64_t from_ms, end_ms, interval_ms;
	int64_t first_ms;            /* the first window step: the first multiple of the interval from from_ms */
	size_t nw;                   /* window steps */
	struct kpi_window dw;
	/* filled by expr_read_eval: sums (maxima) and counts at end_ms, display points on dw */
	struct series_set acc, counts, display;
};

/*
 * Plan the reads of expanded gauge expression expr into l (e must not move
 * until it is released: the reads stream into it). Returns 0, or
 * -1 with nothing planned when expr is outside the subset above (or is a
 * single selector, kpi_filter_parse's case).
 */
int expr_read_plan(struct expr_read *e, const struct kpi_def *k, const char *expr, int64_t interval_ms,
		   const char *base, const struct kpi_window *w, const struct kpi_window *dw, struct query_list *l);

/* After the reads have run: evaluate. Returns 0, or -1 after error() naming the KPI (duplicate label sets). */
int expr_read_eval(struct expr_read *e, const char *kpi, const struct query_list *l);

void expr_read_release(struct expr_read *e);

#endif
