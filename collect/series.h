#ifndef BENCHMON_SERIES_H
#define BENCHMON_SERIES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Time series as Prometheus returns them from query_range (a "matrix") or
 * an instant query (a "vector", one point per series).
 *
 * A series_set owns everything in it. Label names and values are
 * NUL-terminated strings; points are sorted by time as Prometheus sends
 * them. Values keep NaN and ±Inf as Prometheus spells them ("NaN",
 * "+Inf", "-Inf"), so data-quality checks can see them.
 */

struct label {
	char *name;
	char *value;
};

struct series {
	struct label *labels;
	size_t nlabels;
	int64_t *t_ms;        /* sample times, Unix milliseconds */
	double *v;            /* sample values */
	size_t n;
	/* the counter read at the window's edges by 'benchmon run' (collect/edges.h), when has_edges */
	int has_edges;
	int edge_from_exact;  /* 0: the counter at the window's start is at most edge_from */
	double edge_from, edge_to;
	/*
	 * sparse: only the samples around the window's edges were fetched
	 * (collect/fetch.h); those strictly between gap_from and gap_to were
	 * left out, none of them a reset or NaN, and window_samples counts the
	 * samples in the window all the same
	 */
	int sparse;
	int64_t gap_from, gap_to;
	size_t window_samples;
};

struct series_set {
	struct series *items;
	size_t n;
	char **warnings;      /* Prometheus's "warnings" field, if any */
	size_t nwarnings;
};

/* The value of label name, or NULL. */
const char *series_label(const struct series *s, const char *name);

/* Append an empty series to set; the pointer is valid until the next append. */
struct series *series_set_append(struct series_set *set);

/* Copy n labels into s, which has none; __name__ is left out unless with_name. */
void series_copy_labels(struct series *s, const struct label *labels, size_t n, int with_name);

/*
 * Append a series of the one point (t_ms, v), labelled as labels without
 * __name__: what an _over_time function gives for a series.
 */
void series_set_add_point(struct series_set *set, const struct label *labels, size_t n, int64_t t_ms, double v);

/* Free what s owns and leave it empty. */
void series_release(struct series *s);

void series_set_release(struct series_set *set);

#endif
