#ifndef BENCHMON_LIFECYCLE_H
#define BENCHMON_LIFECYCLE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/prom.h"
#include "lifecycle/health.h"
#include "lifecycle/launcher.h"
#include "session/registry.h"
#include "session/api.h"
#include "session/saves.h"
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
	const char *nodelist;     /* Slurm host lists: where the job may run, and where not; or NULL */
	const char *exclude;
	int64_t wait_ms;          /* how long to wait for /-/ready */
	int64_t save_before_limit_ms;  /* 0: the launcher's choice */
	int dry_run;              /* render the files and stop there */
	int wait_targets;         /* then wait, within wait_ms, until every registered target was scraped once */
	int serve_in_job;         /* the job runs 'benchmon serve' beside Prometheus, on its port + 1; start waits for it */
	/* the signal number the caller's handler caught: the wait ends and the submitted job is cancelled */
	const volatile sig_atomic_t *interrupted;
};

/*
 * Render prometheus.yml and job.sh, launch the job and wait until
 * Prometheus answers /-/ready (not merely until the job runs), and with
 * wait_targets until Prometheus has scraped every registered target once
 * (a KPI of a window that starts before misses what it counted); a target
 * still unscraped when wait_ms is over is named in a warning, and start
 * still succeeds. On failure
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

/* Reload when the session's Prometheus runs: 1 reloaded, 0 not running, -1 failed. */
int lifecycle_reload_if_running(const struct session *s);

/*
 * Before a benchmark: 0 when the session's run.json says running and its
 * Prometheus answers ready; else -1 after error() saying which, so a job
 * that ended unseen (scancel, a lost node) is found before the load runs.
 */
int lifecycle_check_monitoring(const struct session *s, const struct session_run *run);

struct target_status {
	const struct target *target;  /* points into registry */
	const char *health;           /* "up", "down" or "unknown" */
	const char *last_error;       /* "" when none */
	enum health_class klass;      /* from health and the firing alerts (health.h) */
};

struct session_status {
	struct session_run run;         /* as run.json says */
	enum run_state state;           /* as it really is: a job that ended on its own is stopped (saved) or failed */
	struct job_status job;          /* zeroed when no job */
	int have_job;
	int ready;
	char *problem;                /* why the session is not healthy, or NULL */
	char *note;                   /* how a job that ended on its own left its data, or NULL */
	struct tsdb_save_list saves;  /* every job's saved TSDB */
	struct target_list registry;
	struct target_status *targets;   /* registry.n entries */
	struct prom_target *prom;     /* what Prometheus reported, owned here */
	size_t nprom;
	struct prom_alert *alerts;    /* the session's alerts, pending and firing, owned here */
	size_t nalerts;
	struct heartbeat *heartbeats; /* clients' heartbeats (registry.h) */
	size_t nheartbeats;
	int64_t now_ms;               /* when the status was taken, for staleness */
	struct session_api api;       /* where benchmon serve listens, if it does */
};

/*
 * Gather the session's status: run state, the job as the launcher sees it,
 * readiness, every registered target's health, and the saved TSDBs. Writes
 * nothing: a job that ended behind benchmon's back (time limit, scancel) is
 * reported in state, note or problem, and recorded by the next stop or
 * start. Returns -1 only when the state itself cannot be read; unreachable
 * Slurm or Prometheus land in problem.
 */
int lifecycle_status(const struct session *s, struct session_status *st);
void session_status_release(struct session_status *st);

struct cJSON;
/* The status as one JSON object, what 'status --json' prints and GET /v1/status answers. Caller frees. */
struct cJSON *lifecycle_status_json(const struct session *s, const struct session_status *st);

/* Health of a status, for its readers: targets per class (counts has HEALTH_CLASSES entries); the
 * registry's node names, each once in registration order (*n of them; the caller frees the array,
 * not the names); a node's class, the worst of its targets'; the registered target an alert is
 * about, or NULL. */
void status_count_classes(const struct session_status *st, size_t counts[HEALTH_CLASSES]);
const char **status_node_names(const struct session_status *st, size_t *n);
enum health_class status_node_class(const struct session_status *st, const char *node);
const struct target *status_alert_target(const struct session_status *st, const struct prom_alert *a);

#endif
