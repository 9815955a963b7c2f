#ifndef BENCHMON_CHART_H
#define BENCHMON_CHART_H

#include <stddef.h>
#include "lib/strbuf.h"

/*
 * Charts as inline SVG, written as text into a strbuf: no script, no external
 * resource, readable in print. Every series is told apart by its dash pattern
 * and marker shape as well as its colour, and every axis names its unit.
 *
 * The values drawn are in the SVG for readers and tests: each series' <path>
 * carries data-kpi, data-scope, data-n (its points), data-drawn and data-points ("t,v t,v ...": Unix seconds and the value,
 * exactly the points the line goes through), and each sweep point carries
 * data-run, data-x, data-value, data-lower and data-upper.
 */

/* One line of a time chart. t and v (n points each) are borrowed. */
struct chart_series {
	const char *name;     /* legend text */
	const char *key;      /* data-kpi */
	const char *scope;    /* data-scope */
	const double *t;      /* Unix seconds, ascending */
	const double *v;
	size_t n;
};

struct chart {
	const char *title;
	const char *unit;     /* the y axis's unit ("req/s"); "" for a plain number */
	double t_from, t_to;  /* the x axis: the window, Unix seconds */
	const struct chart_series *series;
	size_t nseries;
	int width, height;    /* pixels; small multiples are smaller */
	int fixed_y;          /* use y_lo..y_hi (widened to whole ticks), so that small multiples compare */
	double y_lo, y_hi;
};

/*
 * Write c as one <svg> element. Series with more points than the plot has
 * pixel columns are reduced to each column's minimum and maximum (in time
 * order), so a spike of one step stays visible at any length.
 */
void chart_time(struct strbuf *sb, const struct chart *c);

/* One point of a sweep: a KPI of one run against the swept label's value. */
struct chart_point {
	const char *run;      /* data-run and the tooltip */
	const char *xlabel;   /* the label's value as written */
	double x;             /* its position: the number, or the category's index */
	double value;
	int has_bounds;
	double lower, upper;  /* upper may be +Inf: drawn as an open bar with an arrow */
};

struct chart_sweep {
	const char *title;
	const char *xname;    /* the label key */
	int x_numeric;        /* x is a number (else categories, in the given order) */
	const char *unit;
	const struct chart_point *points;
	size_t npoints;
	int width, height;
};

/* Write a sweep as one <svg>: each point with its bounds as an error bar. */
void chart_sweep(struct strbuf *sb, const struct chart_sweep *c);

/*
 * The points of one series to draw in buckets columns over [t_from, t_to]:
 * all of them when there are at most 2 * buckets, else per column the index
 * of its minimum and of its maximum, in time order (one when they coincide).
 * NaN values are skipped. Writes up to 2 * buckets indexes (or n) into keep
 * and returns how many.
 */
size_t chart_reduce(const double *t, const double *v, size_t n, double t_from, double t_to, size_t buckets,
		    size_t *keep);

/* Append s escaped for HTML text and attribute values. */
void html_escape(struct strbuf *sb, const char *s);

#endif
