#ifndef BENCHMON_PROFILE_H
#define BENCHMON_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/*
 * Query profiles: the KPIs collect computes, defined in JSON files
 * (templates/profiles/<name>.json), so a site adds a recipe's metrics by
 * writing a file. A KPI has a kind that says how its numbers are made:
 *
 *   counter_rate         increase of a counter over the window / its length
 *                        (resets handled); "peak" adds the highest rate over
 *                        a sliding sub-window, as <name>_peak_<peak>
 *   counter_increase     increase of a counter over the window, times "scale"
 *   counter_util         100 * (1 - increase of the idle series / increase of all),
 *                        idle being the series whose idle_label is one of the
 *                        '|'-separated idle_value words (CPU: "idle|iowait")
 *   histogram_quantiles  quantiles of <metric>_bucket counts summed over the
 *                        window, each with the bucket bounds that hold it
 *   avg, max             mean or maximum of every point of "expr" in the window;
 *                        "fallback_expr" is used when expr has no data or is all zero
 *   gauge_changes        how many scrapes in the window found a gauge holding the
 *                        last event's code changed to a non-zero one (XIDs)
 *
 * The kinds are the table in collect/kpi.c (kpi_kind_find). Counter kinds
 * select metric{session="S",<matchers>}; expressions write
 * __SESSION__ where the session matcher goes. Scopes are "session" (all
 * series), "service" and "node" (grouped by that label), and "gpu" (grouped
 * by node and gpu, "gpu=<node>/<gpu>").
 *
 * "exporter" ("node", "dcgm" or "service", the target kinds of
 * session/registry.h) names the kind of target a KPI's metrics come from: in
 * a session with no target of that kind the KPI is not_applicable, not
 * no_data (a CPU-only node has no GPU KPIs). Without it the KPI always
 * applies. "optional": true keeps the KPI's findings from failing --strict.
 * "better": "higher" or "lower" says which way a change is an improvement
 * (for compare and gate); it holds for a KPI's quantiles and peak too.
 */

struct kpi_kind;  /* collect/kpi.h: how a kind queries and computes; one table entry per kind */

#define KPI_SCOPE_SESSION 0x1
#define KPI_SCOPE_SERVICE 0x2
#define KPI_SCOPE_NODE 0x4
#define KPI_SCOPE_GPU 0x8      /* each GPU of a node: "gpu=<node>/<index>", from the exporter's gpu label */

struct kpi_quantile {
	char *name;
	double q;
};

struct kpi_def {
	char *name;
	const struct kpi_kind *kind;
	char *metric;          /* counter and histogram kinds */
	char *matchers;        /* extra label matchers, or NULL */
	char *expr;            /* avg, max */
	char *fallback_expr;   /* or NULL */
	char *idle_label, *idle_value;
	char *unit;
	double scale;          /* 1 unless given */
	int scopes;
	int64_t peak_ms;       /* 0 when no peak is wanted */
	char *peak_name;       /* e.g. "throughput_qps_peak_1m" */
	struct kpi_quantile *quantiles;
	size_t nquantiles;
	int has_exporter;      /* 0: applies to every session */
	int exporter;          /* an enum target_kind (session/registry.h) */
	int optional;          /* its findings do not fail --strict */
	int better;            /* "better": +1 "higher", -1 "lower", 0 not given */
};

struct profile {
	char *name;
	char *path;
	struct kpi_def *kpis;
	size_t n;
};

/*
 * Load a profile: spec is a path (containing '/' or ending in .json) or a
 * name looked up in the templates' profiles/ directory. Errors name the
 * file and the offending KPI and field.
 */
int profile_load(const char *spec, struct profile *p);
void profile_release(struct profile *p);

/*
 * Which way kpi (a KPI's name, one of its quantiles' names, or its peak's)
 * is better in p: +1 higher, -1 lower, 0 when the profile does not say or
 * has no such KPI.
 */
int profile_better(const struct profile *p, const char *kpi);

/* The PromQL of a counter or histogram KPI's series selector, for session. Caller frees. */
char *kpi_selector(const struct kpi_def *k, const char *metric_suffix, const char *session);

/*
 * expr with __SESSION__ replaced by the session matcher; with session NULL,
 * the matcher left out (an empty {} too), for messages. Caller frees.
 */
char *kpi_expand(const char *expr, const char *session);

/*
 * An expanded gauge expression in which every series selector reads only
 * a sample taken in the last fresh_ms: last_over_time(sel[fresh_ms]), so
 * a subquery over it counts the window's samples and none that Prometheus
 * would carry forward from before them. NULL when expr already chooses its
 * samples (a range, subquery, offset or @), has no selector or unbalanced
 * parentheses. *plain (when
 * plain is not NULL) is set when expr is one selector and nothing else.
 * Caller frees.
 */
char *kpi_fresh_expr(const char *expr, int64_t fresh_ms, int *plain);

/*
 * A gauge expression that is one series selector, maybe multiplied by a
 * number and filtered by comparisons with numbers, as in
 * "100 * X{...} >= 0 <= 100": each sample's value is scale * v, kept when
 * every comparison holds (PromQL's filter: NaN never passes but !=).
 */
enum kpi_cmp { KPI_CMP_EQ, KPI_CMP_NE, KPI_CMP_GT, KPI_CMP_LT, KPI_CMP_GE, KPI_CMP_LE };

#define KPI_FILTER_MAX 8

struct kpi_filter {
	char *selector;          /* owned */
	double scale;            /* 1 when not scaled */
	int scaled;
	size_t n;
	struct {
		enum kpi_cmp cmp;
		double value;
	} ops[KPI_FILTER_MAX];
};

/* Parse expanded gauge expression expr into f: 0, or -1 (f untouched) when it has any other shape. */
int kpi_filter_parse(const char *expr, struct kpi_filter *f);

/* Sample value v as the expression gives it (*out); 0 when the filters drop it. */
int kpi_filter_apply(const struct kpi_filter *f, double v, double *out);

void kpi_filter_release(struct kpi_filter *f);

#endif
