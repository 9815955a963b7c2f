#ifndef BENCHMON_COLLECT_H
#define BENCHMON_COLLECT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "collect/health.h"
#include "collect/kpi.h"
#include "collect/window.h"
#include "results/runs.h"
#include "session/session.h"

/*
 * collect: the KPIs of one benchmark window, from the session's Prometheus
 * (live) or, after stop, from the saved TSDB copy served by a temporary
 * local Prometheus, into artifacts in out_dir:
 *
 *   metrics_summary.csv  the MVP's columns first, the verdict, then every session-wide
 *                        KPI, the number of findings, then one column per run label
 *   kpis.csv             kpi, scope, value, unit, lower, upper, samples, status, method
 *   timeseries.csv       every KPI's per-step values, for plotting
 *   MANIFEST.json        written last: window, Prometheus, job, targets, the
 *                        PromQL of every query, every KPI as in kpis.csv with
 *                        its reason, each file's size and sha256 (the caller's
 *                        extra_files too), the data-quality findings, and for
 *                        a run its command, exit status and interruption
 *
 * A KPI whose profile names an exporter kind that the session has no target
 * of (in its registry, or in the window's up series) is not_applicable, with
 * a reason and no finding. Findings about an optional KPI are marked so and
 * do not count in nstrict.
 *
 * Every file is written atomically; a stale MANIFEST.json is removed first,
 * so a failed collect never leaves one claiming success. Speaks HTTP
 * (http_global_init must have run). Returns 0 or -1 after error().
 */

struct collect_options {
	int64_t from_ms, to_ms;
	int64_t step_ms;          /* 0: the scrape interval */
	const char *out_dir;
	const char *run_id;
	const char *profile;      /* name or path */
	int64_t timeout_ms;       /* how long to wait for Prometheus's answers; 0: two minutes (in MANIFEST.json) */
	const struct window_file *run;  /* the benchmark run of this window, recorded in MANIFEST.json; or NULL */
	const char *edges_path;   /* edges.json of a run (collect/edges.h), or NULL; a missing file means none */
	const char *const *extra_files; /* NULL-terminated names of files in out_dir the caller wrote, listed
					   in MANIFEST.json with size and sha256; or NULL */
	const struct run_label *labels; /* the run's labels (results/runs.h), validated: MANIFEST.json's
					   "labels" and columns of metrics_summary.csv after the others */
	size_t nlabels;
};

struct collect_result {
	size_t nfindings;
	size_t nstrict;            /* findings --strict fails on: all but those about optional KPIs */
	size_t nkpis;
	size_t nno_data;
	char *session, *run_id;
	int64_t from_ms, to_ms;
	char *manifest_path;
	struct kpi_report report;  /* the results and findings, for printing */
	struct verdict verdict;    /* VALID, SUSPECT or INVALID, with reasons (collect/health.h) */
};

int collect_run(const struct session *s, const struct collect_options *o, struct collect_result *res);

/*
 * Can these labels be a run's with this profile (name or path)? A label
 * must not take the name of one of its KPIs, which are columns of
 * metrics_summary.csv too. collect_run checks it; run asks before the
 * benchmark starts. Returns 0, or -1 after error().
 */
int collect_check_labels(const char *profile, const struct run_label *labels, size_t nlabels);
void collect_result_release(struct collect_result *res);

/*
 * The one JSON shape of results and findings, in MANIFEST.json and in
 * --json: a KPI's value, lower and upper are null when it has none, upper
 * "+Inf" when unbounded; a finding has kind, subject, message and optional.
 * The caller owns the array.
 */
cJSON *collect_kpis_json(const struct kpi_report *r);
cJSON *collect_findings_json(const struct kpi_report *r);

/* The verdict as MANIFEST.json and --json give it: verdict and reasons. */
cJSON *collect_verdict_json(const struct verdict *v);

#endif
