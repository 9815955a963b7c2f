#ifndef BENCHMON_SOURCE_H
#define BENCHMON_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collect/kpi.h"
#include "lib/http.h"
#include "session/session.h"

/*
 * Where collect's queries go for a window: the session's running
 * Prometheus, a temporary one serving a job's saved TSDB, or, when the
 * window spans several jobs (a session started again, a job ended by its
 * time limit and another started), a temporary Prometheus that merges them
 * all through remote_read, so one query sees one continuous series.
 *
 * Temporary Prometheus processes run on loopback, on node-local copies of
 * the saves (Prometheus must not run on NFS, and a save stays as it was for
 * the next collect). Loopback is open to every user of a shared login node,
 * so they answer only a password made for this collect. A guardian process removes them and their copies when
 * collect ends however it ends: Ctrl-C, SIGTERM, even kill -9.
 */

struct source_part {
	char *job;            /* job tag, or "live" */
	const char *kind;     /* "live" or "tsdb_copy" */
	int64_t from_ms, to_ms;
};

struct source {
	char *url;
	struct http_auth auth;   /* what url answers: the session's password, or this collect's own */
	char *version;
	const char *kind;        /* "live", "tsdb_copy", or "merged" (several jobs) */
	struct source_part *parts;
	size_t nparts;
	/* the temporary Prometheus processes and their directory, watched by the guardian */
	pid_t *pids;
	size_t npids;
	char *tmp_dir;
	pid_t guardian;
	int guardian_fd;
};

/*
 * Open the source for [from_ms, to_ms] (margin_ms either side, for the
 * samples around the edges). Parts of the window that no Prometheus job of
 * the session covered become findings in report. Returns 0, or -1 after
 * error() (no data at all for the window, or Prometheus failing to start).
 */
int source_open(const struct session *s, int64_t from_ms, int64_t to_ms, int64_t margin_ms, struct source *src,
		struct kpi_report *report);
void source_close(struct source *src);

#endif
