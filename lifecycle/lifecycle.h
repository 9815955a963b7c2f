#ifndef BENCHMON_LIFECYCLE_H
#define BENCHMON_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/prom.h"
#include "lifecycle/launcher.h"
#include "session/registry.h"
#include "session/session.h"

/*
 * The life of a session's Prometheus: start, status, stop, reload, kill.
 * These speak HTTP (http_global_init must have run) and the session's
 * launcher. They print progress through progress() and return 0 or -1
 * after reporting through error(); run.json records the outcome either way,
 * so a failed start or stop can simply be retried.
 */

struct start_options {
	const char *partition;
	const char *account;
	const char *time_limit;
	int64_t wait_ms;          /* how long to wait for /-/ready */
	int dry_run;              /* render the files and stop there */
};

/*
 * Render prometheus.yml and job.sh, launch the job and wait until
 * Prometheus answers /-/ready (not merely until the job runs). On failure
 * the job is cancelled and the real reason reported: Slurm's state, the
 * port being taken, the job log's last lines, or the wait expiring.
 */
int lifecycle_start(const struct session *s, const struct start_options *opts);

/*
 * Ask the job to stop Prometheus and save its TSDB into the session
 * directory, wait for the copy, and confirm that the job has ended.
 */
int lifecycle_stop(const struct session *s, int64_t wait_ms);

/* End the job at once, without saving the TSDB (delete --force). */
int lifecycle_kill(const struct session *s);

/*
 * For a session whose session.json cannot be read: cancel the job its
 * prometheus.json names, if any, and remove the session directory.
 */
int lifecycle_force_remove(const char *id);

/* Re-render prometheus.yml and have the running Prometheus reload it. */
int lifecycle_reload(const struct session *s);

struct target_status {
	const struct target *target;  /* points into registry */
	const char *health;           /* "up", "down" or "unknown" */
	const char *last_error;       /* "" when none */
};

struct session_status {
	struct session_run run;
	struct job_status job;          /* zeroed when no job */
	int have_job;
	int ready;
	char *problem;                /* why the session is not healthy, or NULL */
	struct target_list registry;
	struct target_status *targets;   /* registry.n entries */
	struct prom_target *prom;     /* what Prometheus reported, owned here */
	size_t nprom;
};

/*
 * Gather the session's status: run state, the job as the launcher sees it,
 * readiness, and every registered target's health. A job that ended behind
 * benchmon's back is recorded as failed. Returns -1 only when the state
 * itself cannot be read; unreachable Slurm or Prometheus land in problem.
 */
int lifecycle_status(const struct session *s, struct session_status *st);
void session_status_release(struct session_status *st);

#endif
