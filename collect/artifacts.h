#ifndef BENCHMON_ARTIFACTS_H
#define BENCHMON_ARTIFACTS_H

#include <stddef.h>

#include "collect/collect.h"
#include "collect/edges.h"
#include "collect/health.h"
#include "collect/kpi.h"
#include "collect/profile.h"
#include "collect/query.h"
#include "collect/source.h"

/*
 * What collect writes into out_dir (see collect.h for the files): the CSVs
 * from the report, then MANIFEST.json, last, listing every file with its
 * size and sha256. Every file is written atomically. Nothing here queries
 * Prometheus: the caller passes what its queries gave.
 */
struct artifacts {
	const struct session *s;
	const struct collect_options *o;
	const struct kpi_window *w;
	const struct kpi_window *dw;       /* timeseries.csv's display grid (collect.c) */
	const struct source *src;
	const struct profile *p;
	const struct query_list *queries;  /* every query sent, for MANIFEST.json */
	const struct series_set *up;       /* the targets' up series in the window */
	const struct kpi_report *report;
	const struct edges *edges;         /* run's edge readings, used when have_edges */
	int have_edges;
	size_t edges_matched;              /* series the edge readings were attached to */
	long timeout_ms;                   /* the query timeout in force */
	const struct verdict *verdict;     /* the window's (collect/health.h) */
};

/* Write metrics_summary.csv, kpis.csv, timeseries.csv and then MANIFEST.json. Returns 0 or -1 after error(). */
int artifacts_write(const struct artifacts *a);

#endif
