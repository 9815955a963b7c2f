#ifndef BENCHMON_SAVES_H
#define BENCHMON_SAVES_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"

/*
 * The TSDBs a session's Prometheus jobs saved: one directory per job,
 * tsdb/<job tag>/, written whole by the job script (rename into place) and
 * described by the JOB_SAVE_FILE inside it (session/jobstate.h). However
 * the job ended (stop, scancel, its time limit), a save that reached the
 * session directory is found here; none is ever overwritten by a later job.
 * Readers only: the job script is the one writer.
 */

struct tsdb_save {
	char *job;            /* the job tag: Slurm job id, or local-<pid> */
	char *host;           /* where the job ran */
	char *path;           /* the saved TSDB */
	char *tsdb_local;     /* where it lived on the node */
	char *why;            /* what ended the job, in the job script's words */
	int64_t started_ms;   /* Prometheus started: the data begins here */
	int64_t ended_ms;     /* Prometheus stopped: the data ends here */
	int64_t saved_ms;
	uint64_t bytes;       /* disk space of the copy */
};

struct tsdb_save_list {
	struct tsdb_save *items;   /* oldest first */
	size_t n;
	uint64_t bytes;            /* all of them */
};

/*
 * The saves of session s. A directory without a readable description (a
 * copy still in progress, or a foreign file) is skipped. Returns 0 or -1
 * after error() when the directory cannot be read.
 */
int tsdb_saves_load(const struct session *s, struct tsdb_save_list *list);

/* The save of job tag, or NULL. */
const struct tsdb_save *tsdb_saves_find(const struct tsdb_save_list *list, const char *job);

void tsdb_save_list_release(struct tsdb_save_list *list);

#endif
