#ifndef BENCHMON_COLLECT_HEALTH_H
#define BENCHMON_COLLECT_HEALTH_H

#include <stddef.h>

#include "collect/kpi.h"
#include "collect/query.h"

/*
 * The health of a window, and the verdict on it.
 *
 * Findings: each alert of the session's rules (render/rules.h) that fired
 * inside the window, from Prometheus's ALERTS series, with its subject and
 * how long it fired ("THERMAL_CRITICAL on n2 GPU 1 for 42 s of the 600 s
 * window"), kind "critical_alert" or "warning_alert"; and GPU samples outside physical ranges
 * (utilisation outside 0-100 %, temperature below 0 or above 150 C,
 * negative power, memory used above total), kind "out_of_range". The
 * default profile's GPU KPIs leave such samples out.
 *
 * The verdict:
 *   INVALID  a critical alert fired, or a GPU was throttled by hardware
 *            (gpu_throttled_pct) more than HEALTH_THROTTLE_INVALID_PCT
 *            of the window
 *   SUSPECT  a warning alert fired, or any other finding about the data
 *            (optional KPIs' findings aside)
 *   VALID    none of these
 * with one reason per cause, in MANIFEST.json, metrics_summary.csv's
 * verdict column and collect's output.
 */

#define HEALTH_THROTTLE_KPI "gpu_throttled_pct"
#define HEALTH_THROTTLE_INVALID_PCT 10.0

struct grid_read;

struct health_queries {
	size_t alerts;                  /* index of the ALERTS query */
	size_t range_first, nrange;     /* the out-of-range queries */
	struct grid_read *reads;        /* or, through remote read, these (nrange of them) */
};

struct verdict {
	const char *verdict;            /* "VALID", "SUSPECT" or "INVALID" */
	char **reasons;
	size_t nreasons;
};

/* Add the window's health queries to l: the physical ranges through remote read when allow_read. */
void health_add_queries(struct health_queries *hq, struct query_list *l, const char *session, const char *base,
			const struct kpi_window *w, int allow_read);
void health_queries_release(struct health_queries *hq);

/* Add the findings of the answers of hq (l has run) to report. counts: the scrape counts (kpi_drop_stale). */
void health_findings(const struct health_queries *hq, struct query_list *l, const struct kpi_window *w,
		     const struct series_set *counts, struct kpi_report *report);

/* The verdict on report (its KPIs and every finding). Release with verdict_release. */
void health_verdict(const struct kpi_report *report, struct verdict *v);
void verdict_release(struct verdict *v);

#endif
