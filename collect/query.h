#ifndef BENCHMON_QUERY_H
#define BENCHMON_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "collect/kpi.h"
#include "collect/remoteread.h"
#include "collect/series.h"
#include "lib/http.h"

/*
 * collect's queries to Prometheus, sent as one batch: a list of queries,
 * each with its PromQL and URL, that query_run sends all at once and whose
 * answers it parses as they arrive into each query's data. The list owns
 * the PromQL, the URLs and the data; MANIFEST.json lists every query.
 */

struct query {
	const char *kpi;         /* what the query is for, in messages; not owned */
	char *promql;
	const char *endpoint;    /* "/api/v1/query_range", "/api/v1/query" for an instant query, or REMOTEREAD_PATH */
	int64_t at_ms;           /* the instant query's time; 0 for query_range */
	int64_t start_ms, end_ms, step_ms;  /* query_range's grid (not always the window's); 0 otherwise;
					     * a remote read's range, with step_ms 0 */
	char *url;
	/* a remote read: its request, and where its samples go (NULL: data, every series whole) */
	char *read_body;
	size_t read_len;
	const struct remoteread_sink *sink;
	int read_stale;          /* keep staleness markers among the samples */
	struct series_set data;  /* the answer, once query_run has succeeded */
	size_t nseries;          /* how many series it held then, wherever they went since */
};

struct query_list {
	struct query *items;
	size_t n;
};

/* Add promql (taken over) evaluated on w's grid, start_ms to end_ms every step_ms. Returns its index. */
size_t query_add_range(struct query_list *l, const char *kpi, char *promql, const char *base,
		       const struct kpi_window *w);

/* Add promql (taken over) evaluated at at_ms. Returns its index. */
size_t query_add_instant(struct query_list *l, const char *kpi, char *promql, const char *base, int64_t at_ms);

/*
 * Add the raw samples of selector over w plus margin_ms on either side (an
 * instant query of a range vector), so a counter's value at the window's
 * edges can be interpolated, and bounded by the scrapes around them even
 * when one of those was missed or jittered late. Returns its index.
 */
size_t query_add_raw(struct query_list *l, const char *kpi, const char *selector, const char *base,
		     const struct kpi_window *w, int64_t margin_ms);

/*
 * Add a remote read of selector's raw samples in [start_ms, end_ms]
 * (collect/remoteread.h), taken over as the query's promql. They go to
 * sink (which must outlive query_run) as they arrive, or, when sink is
 * NULL, into data, each series whole. Returns its index, or (size_t)-1
 * (selector freed) when selector is not one remote read takes: use PromQL
 * then.
 */
size_t query_add_read(struct query_list *l, const char *kpi, char *selector, const char *base, int64_t start_ms,
		      int64_t end_ms, const struct remoteread_sink *sink);

/*
 * Send queries [first, l->n) at once, parsing each answer as it arrives. A
 * 503 (Prometheus starting) is retried with backoff; anything else that is
 * not an answer fails with the KPI and the query named. Returns 0 or -1
 * after error().
 */
int query_run(struct query_list *l, size_t first, const struct http_auth *auth, long timeout_ms);

void query_list_release(struct query_list *l);

#endif
