#ifndef BENCHMON_EDGES_H
#define BENCHMON_EDGES_H

#include <stddef.h>
#include <stdint.h>

#include "collect/kpi.h"
#include "collect/series.h"
#include "session/session.h"

/*
 * Edge readings: 'benchmon run' knows when its benchmark starts and ends, so
 * at both moments it reads every registered target's /metrics itself (all at
 * once, with the scrape's credentials) and keeps the counter, histogram and
 * summary-count samples in edges.json beside window.json. collect then takes
 * a counter's value at the window's edges from the counter itself instead of
 * interpolating between scrapes, which assumes the load steady across the
 * scrape interval a benchmark starts and stops inside.
 *
 * A reading's value is the counter at some moment between sending the
 * request and its answer. run reads the start before the benchmark starts
 * (the window opens once every answer is in) and the end after it ended, so
 * every request of the benchmark lies between the two readings: for them the
 * readings are exact (exact = 1). With --warmup the start is read while the
 * benchmark runs, the window opening when the request is sent: the counter
 * at the window's start is then at most the reading (exact = 0).
 *
 * Samples are matched to Prometheus's series by their labels as Prometheus
 * stores them: the exposed ones, then the target's (session, client_id,
 * node, kind, service, job = kind, instance = address), an exposed label
 * that clashes with one of them renamed exported_<name> as Prometheus does.
 */

struct edge_sample {
	struct label *labels;    /* as Prometheus stores them, __name__ included, sorted by name */
	size_t nlabels;
	double value;
};

struct edge_target {
	struct label *labels;    /* the target's labels (above) */
	size_t nlabels;
	char *url;
	int64_t sent_ms, received_ms;
	char *error;             /* why it could not be read, or NULL */
	struct edge_sample *samples;
	size_t n;
};

struct edge_reading {
	int64_t at_ms;           /* the window edge it stands for */
	int exact;               /* no request of the benchmark was counted during the reading */
	struct edge_target *targets;
	size_t n;
};

struct edges {
	struct edge_reading from, to;
};

/*
 * Read every target of session s now, at most timeout_ms. A target that
 * cannot be read, or whose page does not parse, gets an error and no
 * samples. Returns 0, or -1 after error() when the registry cannot be read.
 * Speaks HTTP (http_global_init must have run).
 */
int edges_read(const struct session *s, long timeout_ms, struct edge_reading *r);

/* Write e to path atomically (results mode). */
int edges_write(const char *path, const struct edges *e);

/* Read path into e: 0, 1 when there is no such file, -1 after error(). */
int edges_load(const char *path, struct edges *e);
void edges_release(struct edges *e);

/*
 * Give every series of set that a target answered at both edges its values
 * there (series.h's has_edges, edge_from, edge_to, edge_from_exact).
 * Returns how many series got them.
 */
size_t edges_attach(const struct edges *e, struct series_set *set);

/* A "fallback" finding for each target that could not be read at an edge. */
void edges_report(const struct edges *e, struct kpi_report *report);

#endif
