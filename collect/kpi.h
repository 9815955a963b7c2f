#ifndef BENCHMON_KPI_H
#define BENCHMON_KPI_H

#include <stddef.h>
#include <stdint.h>

#include "collect/profile.h"
#include "collect/series.h"

/*
 * KPI arithmetic. Nothing here talks to Prometheus: callers fetch the
 * series and pass them in, which keeps the numbers testable against
 * hand-made data. Gauges (avg, max) come as Prometheus's per-series sums
 * (or maxima) and counts over the window's samples (kpi_compute_over_time),
 * or, when their expression cannot be read so or every step is asked for,
 * from query_range, points aligned on start + i * step; counters and histograms come as raw samples (a range
 * vector covering the window and three scrape intervals on either side), so
 * the window's edges are interpolated between the samples around them.
 *
 * benchmon computes window aggregates itself rather than asking PromQL for
 * them, because PromQL's answers are the wrong ones for a report: rate()
 * extrapolates, and histogram_quantile over per-minute rates averages
 * away the tail. Here a counter's increase is summed point to point with
 * resets handled, and a histogram's quantile is taken from its bucket
 * counts summed over the whole window.
 *
 * value is an estimate (edges interpolated between scrapes, Prometheus's
 * interpolation inside a bucket); [lower, upper] is a guarantee, derived
 * from what the scrapes prove and never from the interpolation: a request
 * is in the window when it was counted in (from, to]; increases between
 * scrapes both inside the window surely are, those between the last scrape
 * at or before from and the first at or after to possibly are. Nothing
 * bounds what was counted after the last scrape (no scrape after to, the
 * usual case for a window ending now) or lost in a reset: upper is then
 * +Inf. A series first seen after from counted from zero, so all it read
 * at its first scrape may be inside. A quantile (the smallest latency at
 * least q of the window's requests took or beat) lies between the largest
 * bucket bound that fewer than q of them are proven to beat and the
 * smallest that at least q are; histograms with different bucket layouts
 * are merged on every bound any of them has, each counting at a bound it
 * lacks surely what its next bound down holds and possibly what its next
 * bound up holds. The guarantee assumes what Prometheus assumes of
 * counters: a reset that lost counts shows as a drop at the next scrape.
 */

struct kpi_window {
	int64_t from_ms;      /* the requested start */
	int64_t start_ms;     /* first grid point (at or just before from) */
	int64_t end_ms;       /* last point, the requested to */
	int64_t step_ms;
	size_t nsteps;        /* points per series: (end - start) / step + 1 */
};

struct kpi_result {
	char *kpi;
	char *scope;          /* "session", "node=<n>" or "service=<s>" */
	char *unit;
	int has_value;
	double value;
	int has_bounds;
	double lower, upper;  /* upper may be +Inf */
	size_t samples;       /* points the value rests on */
	const char *status;   /* "ok", "no_data" or "not_applicable" */
	const char *method;   /* "edges": counted between run's readings at the window's edges (collect/edges.h);
				 "interpolated": edges interpolated between scrapes; "sampled": a gauge's points;
				 "none" when not_applicable */
	char *reason;         /* why no_data or not_applicable, or a note; NULL otherwise */
	double *steps;        /* per-step value, NaN where none; nsteps entries */
};

struct finding {
	char *kind;           /* "no_data", "target_down", "missing_scrapes", "late_target", "outside_data",
				 "counter_reset", "nan_value", "fallback", "warning", "stale_client"; and from collect/health.h
				 "critical_alert", "warning_alert", "out_of_range" */
	char *subject;        /* the KPI or target concerned */
	char *message;
	int64_t from_ms, to_ms;  /* when, or 0 */
	int optional;         /* about a KPI the profile marks optional: --strict does not fail on it */
};

struct kpi_report {
	struct kpi_result *results;
	size_t nresults;
	struct finding *findings;
	size_t nfindings;
};

/*
 * A KPI kind: everything that differs between kinds, in one entry of the
 * table in kpi.c, so adding a kind is adding an entry (and its compute
 * function). The profile loader checks a KPI's fields against it, collect
 * sends the query it names, kpi_compute calls compute.
 */
enum kpi_query {
	KPI_QUERY_RANGE,  /* "expr" evaluated on the window's grid (query_range); "fallback_expr" is used
			     when expr has no data or is all zero */
	KPI_QUERY_RAW,    /* the raw samples of metric<suffix>{session,matchers} in and around the window */
};

#define KPI_FIELD_IDLE 0x1       /* needs idle_label and idle_value */
#define KPI_FIELD_QUANTILES 0x2  /* needs quantiles */
#define KPI_FIELD_PEAK 0x4       /* may have a peak */

struct kpi_kind {
	const char *name;            /* as profiles write it */
	enum kpi_query query;
	const char *metric_suffix;   /* KPI_QUERY_RAW: appended to metric (e.g. "_bucket"), or NULL */
	unsigned fields;             /* KPI_FIELD_* */
	/*
	 * KPI_QUERY_RANGE: the PromQL _over_time function ("sum", "max") that
	 * gives one series' share of the window's value from its samples, so
	 * collect can ask for it and count_over_time at the window's end
	 * instead of every step (kpi_compute_over_time); NULL: per step only
	 */
	const char *over_time;
	/* append one result per scope (and findings) from the series of the KPI's query; set is not empty */
	void (*compute)(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *set,
			struct kpi_report *r);
	/* the i-th name of the results k produces (its name, a peak's, the quantiles'), NULL past the last */
	const char *(*result_name)(const struct kpi_def *k, size_t i);
	/*
	 * How its per-step values thin to a coarser display grid: the mean
	 * (a rate) or the sum (an increase) of the steps a display step spans;
	 * 0: they stay at every step
	 */
	enum { KPI_THIN_NONE, KPI_THIN_MEAN, KPI_THIN_SUM } thin;
};

/*
 * Thin the per-step values of k's results from first_result on to the
 * display grid dw (points on w's grid, a multiple of its step apart) for
 * timeseries.csv, as k's kind says: each display point holds its display
 * step's rate or increase (NaN unless every step in it has one), and a
 * peak its rolling value at that point; other steps become NaN. The KPIs'
 * values are untouched. Nothing changes when dw's step is w's.
 */
void kpi_thin_steps(const struct kpi_def *k, const struct kpi_window *w, const struct kpi_window *dw,
		    struct kpi_report *r, size_t first_result);

/* The kind called name, or NULL. */
const struct kpi_kind *kpi_kind_find(const char *name);

/* Every kind's name, "a, b or c", for messages. Caller frees. */
char *kpi_kind_names(void);

/*
 * Compute KPI k from its data (data[0] is the main query; data[1] the
 * fallback query's, or NULL) and append one result per scope found, plus
 * findings. query names the PromQL in findings.
 */
void kpi_compute(const struct kpi_def *k, const struct kpi_window *w, const struct series_set *data,
		 const struct series_set *fallback, struct kpi_report *report);

/*
 * A gauge KPI from Prometheus's per-series sums over the window's samples:
 * acc holds <kind->over_time>_over_time and count count_over_time of the
 * same expression over the window (series matched by their labels), so
 * an avg is the sum of the sums over the sum of the counts and a max the
 * largest of the maxima; samples is the count. display (or NULL) is the
 * expression on the grid dw, whose points are multiples of w's step apart
 * and on w's grid: they fill the results' steps for timeseries.csv, the
 * other steps staying NaN. fb_* are the fallback expression's (or NULL),
 * used when the main one has no series or sums (or maxima) all zero.
 */
struct kpi_over_time {
	const struct series_set *acc, *count, *display;
};

void kpi_compute_over_time(const struct kpi_def *k, const struct kpi_window *w, const struct kpi_window *dw,
			   const struct kpi_over_time *main, const struct kpi_over_time *fallback,
			   struct kpi_report *report);

/*
 * Session-wide not_applicable results for every name k produces, with why;
 * no finding: a KPI that cannot apply is not a data-quality problem.
 */
void kpi_not_applicable(const struct kpi_def *k, const struct kpi_window *w, struct kpi_report *r, const char *why);

/*
 * Leave out the points of set (query_range answers on w's grid) that no
 * scrape backs: Prometheus answers a query at time t with a series' last
 * sample up to 5 minutes old, so a target that stopped being scraped (its
 * exporter gone, or Prometheus stopped) keeps its last value. counts is
 * count_over_time(up[step]) on the same grid: a point stays when its
 * target (the count series with the same instance, job and client_id) was
 * scraped in the step before it, or, for a series without those labels,
 * when any target was.
 */
void kpi_drop_stale(struct series_set *set, const struct kpi_window *w, const struct series_set *counts);

/*
 * Findings from the targets' up series and their scrape counts
 * (count_over_time(up[step])) expected to be step / scrape_interval from a
 * target's first scrape in the window to the last scrape of any: a window
 * reaching before or after the session's data says so once, with the range
 * that has data (and the session's creation time, session_created_ms, when
 * the window starts before it), instead of counting missed scrapes there;
 * a target first scraped after the others is a finding of its own.
 */
void kpi_check_targets(const struct kpi_window *w, const struct series_set *up, const struct series_set *counts,
		       int64_t scrape_interval_ms, const char *session, int64_t session_created_ms,
		       struct kpi_report *report);

void kpi_report_add_finding(struct kpi_report *r, const char *kind, const char *subject, int64_t from_ms,
			    int64_t to_ms, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void kpi_report_release(struct kpi_report *r);

/*
 * The value of q in cumulative buckets (le ascending, last +Inf) by
 * Prometheus's interpolation, with the bounds of the bucket it falls in
 * (from 0 below a positive first bound, from -Inf below one at or below 0).
 * This is the estimate: it trusts the counts it is given.
 */
int histogram_quantile_bounds(double q, const double *le, const double *cum, size_t n, double *value,
			      double *lower, double *upper);

#endif
