#ifndef BENCHMON_REPORT_H
#define BENCHMON_REPORT_H

#include <stddef.h>
#include "lib/strbuf.h"
#include "results/runs.h"

/*
 * benchmon report: finished run directories (what collect and run write:
 * MANIFEST.json, kpis.csv, timeseries.csv) read back, and one self-contained
 * HTML page written from them. The page loads nothing (no script, style sheet,
 * font or image from anywhere): styles are inline and charts are SVG
 * (report/chart.h).
 */

struct report_kpi {
	char *kpi, *scope, *unit, *status, *method;
	int has_value, has_bounds;
	double value, lower, upper;   /* upper may be +Inf */
	char *samples;
};

/* One KPI's time series at one scope, as timeseries.csv gives it. */
struct report_series {
	char *kpi, *scope, *unit;
	double *t, *v;                /* Unix seconds and values, n of each, in file order */
	size_t n, alloc;
};

struct report_run {
	char *dir;
	char *name;                   /* run_id, or the directory's last component */
	struct cJSON *manifest;       /* owned */
	double from, to;              /* the window, Unix seconds */
	struct report_kpi *kpis;
	size_t nkpis;
	struct report_series *series;
	size_t nseries;
	struct run run;               /* the run as results/runs.h reads it: labels, KPIs for comparing */
};

/*
 * Read the run in dir: MANIFEST.json (which must be there: a run directory
 * without one is not finished) through run_load, then kpis.csv (as written,
 * with its samples) and timeseries.csv. Returns 0, or -1
 * after error() naming the file. Release with report_run_release.
 */
int report_run_load(struct report_run *run, const char *dir);
void report_run_release(struct report_run *run);

/* The KPI kpi at scope in run, or NULL. */
const struct report_kpi *report_run_kpi(const struct report_run *run, const char *kpi, const char *scope);

/*
 * The label swept across the runs: one every run has, with at least two
 * values among them (the first such in the first run's labels), or NULL.
 */
const char *report_sweep_key(const struct report_run *runs, size_t nruns);

/*
 * Order runs by the value of label key (as numbers when every value is one),
 * keeping the given order among equal values.
 */
void report_runs_sort(struct report_run *runs, size_t nruns, const char *key);

struct report_info {
	size_t charts;                /* SVG charts written */
	const char *sweep_key;        /* the label swept across the runs, or NULL (borrowed from runs) */
};

/*
 * Render the runs as one HTML page into sb. title heads it. info, when not
 * NULL, says what went in.
 */
void report_render(struct strbuf *sb, const struct report_run *runs, size_t nruns, const char *title,
		   struct report_info *info);

/*
 * The headless Chromium that prints PDFs: $BENCHMON_CHROMIUM, else the first
 * of chromium, chromium-browser, google-chrome and google-chrome-stable on
 * PATH. NULL when there is none. Caller frees.
 */
char *report_find_browser(void);

/*
 * Print the HTML file html to pdf through browser (headless, no network, a
 * throw-away profile), atomically: the PDF appears whole or not at all.
 * Gives up after timeout_ms. Returns 0, or -1 after error().
 */
int report_print_pdf(const char *browser, const char *html, const char *pdf, int timeout_ms);

#endif
