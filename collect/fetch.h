#ifndef BENCHMON_FETCH_H
#define BENCHMON_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "collect/kpi.h"
#include "collect/profile.h"
#include "collect/query.h"

/*
 * How the series of a KPI that reads raw samples (KPI_QUERY_RAW) are
 * fetched, in O(series) rather than O(samples) where the numbers allow it.
 *
 * Whole: every sample over the window and margin_ms either side, one query.
 *
 * Sparse (a long window, and no peak, which needs every step), through
 * PromQL (BENCHMON_COLLECT_READ=0, or a source that merges several jobs):
 * Prometheus does the per-series work, with queries anchored by the @
 * modifier:
 *   sel[2 margin] @ (from + margin), sel[2 margin] @ (to + margin)
 *       the samples around each edge
 *   resets(sel[window + 2 margin] @ (to + margin))
 *       + 0 * sum_over_time(...)   a series that reset, or holds a NaN or
 *                                  an Inf, is NaN or non-zero
 *   count_over_time(sel[window] @ to)   the samples in the window
 * A series that reset or holds a non-finite value, that lacks samples
 * around either edge, or (for a histogram) whose histogram has such a
 * bucket, is then fetched whole, in time chunks that do not overlap and
 * together cover what the whole query would. The others become sparse
 * series (series.h), from which kpi_compute gives the same digits as from
 * every sample (its sums are differences of the counter), except the steps
 * of timeseries.csv inside the gap, which stay empty.
 *
 * The ranges follow Prometheus 2's selectors, closed at both ends, as the
 * whole query does.
 *
 * Through remote read (allow_read, and a selector remote read takes: the
 * default), all of round one is one request: Prometheus streams the compressed chunks of
 * [from - margin, to + margin], and each series is cut down to the same
 * sparse series as it streams in, so no series' samples are held whole.
 * Each PromQL function above reads every sample once in Prometheus, which
 * costs more than sending the chunks. Round two reads whole, by exact
 * selector, the series that must be (by the same rules), and a
 * histogram's other buckets.
 */

struct fetch {
	const struct kpi_def *k;
	char *selector;
	int sparse;
	size_t q_whole;                      /* whole: its query */
	size_t q_from, q_to, q_resets, q_count;  /* sparse: round one */
	size_t q_more;                       /* sparse: round two's first query, the chunks of series fetched whole */
	size_t nchunks;                      /* chunks per series fetched whole */
	size_t *whole;                       /* indexes into q_resets' series of those fetched whole */
	size_t nwhole;
	struct series_set data;              /* sparse: the series kpi_compute gets */
	int data_done;
	int read;                            /* through remote read: q_read, and round two's reads from q_more */
	size_t q_read;
	int64_t from_ms, end_ms, margin_ms;  /* the window, for cutting series as they arrive */
	struct remoteread_sink sink;
	struct sparse_state {                /* the series streaming in */
		struct series a, b;          /* its labels and samples around the window's start; around its end */
		size_t acap, bcap, after_from, until_end, inside;
		double prev;
		int have_prev, whole;
	} sp;
	struct series_set rewhole;           /* labels of the series round two reads whole */
	size_t nmore;
};

/*
 * Plan k's queries into l: sparse when allowed (allow_sparse, no peak, a
 * window over 8 margins long), else whole; through remote read when
 * allow_read and the selector allows.
 */
void fetch_plan(struct fetch *f, const struct kpi_def *k, const char *session, const char *base,
		const struct kpi_window *w, int64_t margin_ms, int allow_sparse, int allow_read,
		struct query_list *l);

/* After round one has run: add round two's queries to l (none when whole). */
void fetch_more(struct fetch *f, const char *base, const struct kpi_window *w, int64_t margin_ms,
		struct query_list *l);

/*
 * After round two has run: the KPI's series, valid until fetch_release or
 * l changes; NULL after error() when round two's reads do not match round one's.
 */
struct series_set *fetch_data(struct fetch *f, struct query_list *l);

void fetch_release(struct fetch *f);

/*
 * A gauge KPI whose expression is a selector, maybe scaled and filtered
 * (kpi_filter_parse), read through remote read: each series is reduced as
 * it arrives to the sum (or maximum) and the count of the values of its
 * samples in [from, to] that the filters keep, which is what
 * sum_over_time (max_over_time) and count_over_time of the expression over
 * the window give, with Prometheus's compensated sum; a series none of
 * whose samples is kept is left out, as there. Its points on the display
 * grid dw come along: at each, the latest sample in (t - step, t], if the
 * filters keep it, which is the expression with last_over_time(sel[step -
 * 1ms]) for sel on dw's grid. Neither Prometheus nor benchmon holds more
 * than one series' samples.
 */
struct gauge_read {
	struct kpi_filter filter;
	int max;
	int64_t from_ms, end_ms;
	struct kpi_window dw;
	size_t q;                    /* the read */
	struct remoteread_sink sink;
	struct gauge_series {        /* the series streaming in */
		struct series labels;    /* its labels only */
		double acc, comp, last_v;
		size_t count, di;        /* di: display points settled */
		int64_t last_t;
		int have_last;
		struct series disp;
	} cur;
	struct series_set acc;       /* the sums (maxima), one point each at end_ms, without __name__ */
	struct series_set counts;    /* the counts, the same labels in the same order */
	struct series_set display;   /* the points on dw, series without any left out */
};

/* Plan g (which must not move until it is released) into l: 0, or -1 (nothing planned) for another shape. */
int gauge_read_plan(struct gauge_read *g, const struct kpi_def *k, const char *expanded, const char *base,
		    const struct kpi_window *w, const struct kpi_window *dw, struct query_list *l);

void gauge_read_release(struct gauge_read *g);

/*
 * An instant vector selector on w's grid, what query_range answers for it,
 * made from its raw samples through remote read: a point is the latest
 * sample at or before t when that is at most Prometheus's lookback (5
 * minutes, its default, which benchmon's Prometheus keep) older and not a
 * staleness marker. With a range [lo, hi] only the points outside it are
 * kept: "sel < lo or sel > hi". With counts, also count_over_time(sel[step
 * - 1ms]): the samples in (t - step, t], where there are any. Series
 * without a point are left out, as there. For up{session} at a 1 s step
 * over 3 h, the two query_range answers are 10 MB of JSON and cost
 * Prometheus a pass over every sample each.
 */
#define PROMETHEUS_LOOKBACK_MS (5 * 60 * 1000LL)

struct grid_read {
	struct kpi_window w;
	int outside;                 /* keep only the points outside [lo, hi] */
	double lo, hi;
	int with_counts;
	size_t q;
	struct remoteread_sink sink;
	struct grid_series {         /* the series streaming in */
		struct series points;    /* its labels and the points settled */
		size_t gi, *counts;      /* gi: grid points settled; counts: samples per step */
		int64_t last_t;
		double last_v;
		int have_last;
	} cur;
	struct series_set points, counts;
};

/* Plan g (which must not move until it is released) into l: 0, or -1 (nothing planned). */
int grid_read_plan(struct grid_read *g, const char *what, const char *selector, const char *base,
		   const struct kpi_window *w, struct query_list *l);

void grid_read_release(struct grid_read *g);

#endif
