#ifndef BENCHMON_SESSION_H
#define BENCHMON_SESSION_H

#include <stddef.h>
#include <stdint.h>

/*
 * A monitoring session: its settings and the state of its Prometheus.
 *
 * On disk, under $BENCHMON_HOME (default ~/.benchmon):
 *
 *   sessions/<id>/session.json   settings, written once by session_create
 *   sessions/<id>/prometheus.password  the secret of its Prometheus's HTTP API (lib/auth.h)
 *   sessions/<id>/run.json       Prometheus's state, replaced by start/stop/status
 *   sessions/<id>/targets/       the target registry (see registry.h)
 *   sessions/<id>/heartbeats/    clients' heartbeats (registry.h)
 *   sessions/<id>/api.token, api.json  benchmon serve's token, and where it listens (api.h)
 *   sessions/<id>/prometheus.yml, web.yml, job.sh   rendered at start
 *   sessions/<id>/rules.yml      the alert rules, rendered by session-create and at start (render/rules.h)
 *   sessions/<id>/logs/          the Prometheus job's output
 *   sessions/<id>/prometheus.json  written by the current job: where it serves, how it stands
 *   sessions/<id>/tsdb/<job>/    each job's saved TSDB (see saves.h), never overwritten
 *
 * Directories are 0700 and files 0600. Every file is replaced atomically
 * (write_file_atomic), so a kill -9 never leaves one that fails to parse.
 * All functions return 0 or -1 after reporting through error().
 */

enum run_state {
	RUN_CREATED,   /* never started */
	RUN_STARTING,  /* job submitted, not ready yet */
	RUN_RUNNING,   /* Prometheus answered /-/ready */
	RUN_STOPPED,   /* stopped by benchmon; its TSDB saved (tsdb/<job>/) */
	RUN_FAILED,    /* start failed, or the job ended behind our back */
};

struct session {
	char *id;
	char *dir;
	/* settings */
	char *prom_host;       /* override for the host Prometheus is reached at, or NULL */
	char *listen;          /* address Prometheus binds to */
	int port;
	int64_t scrape_interval_ms;
	int64_t retention_ms;
	char *launcher;        /* "slurm" or "local" */
	char *rules;           /* alert rule overrides, normalized JSON (render/rules.h), or NULL */
	int64_t created_ms;
};

/* One earlier Prometheus job of the session, as run.json remembers it. */
struct run_job {
	char *job_id;
	char *node;
	char *state;           /* the run state it ended in: "stopped", "failed"... */
	char *tsdb_copy;       /* its saved TSDB, or NULL */
	int64_t started_ms;
	int64_t ready_ms;
	int64_t stopped_ms;
};

struct session_run {
	enum run_state state;
	char *job_id;          /* Slurm job id, or the local launcher's pid */
	char *node;            /* where Prometheus runs */
	char *url;             /* http://host:port */
	char *log_path;
	char *tsdb_local;      /* TSDB on the node's local disk */
	char *tsdb_copy;       /* saved copy in the session directory, after stop */
	char *last_error;
	int64_t started_ms;
	int64_t ready_ms;
	int64_t stopped_ms;
	struct run_job *history;  /* earlier jobs, oldest first */
	size_t nhistory;
	int64_t generation;       /* of the run.json this was loaded from; 0: none yet; -1: replace an unreadable one */
};

/* $BENCHMON_HOME, or ~/.benchmon. Caller frees. */
char *session_home(void);

/* The directory of session id (not checked for existence). Caller frees. */
char *session_dir_for(const char *id);

/*
 * Create the session described by s (id and settings filled in; dir is set
 * here). The directory appears atomically, complete, or not at all; an
 * existing session of that id is an error.
 */
int session_create(struct session *s);

/* Load session id into s. A missing session is reported as such. */
int session_load(const char *id, struct session *s);
void session_release(struct session *s);

/* Read run.json; a session never started gives state RUN_CREATED. */
int session_run_load(const struct session *s, struct session_run *run);

/*
 * Replace run.json with run, as the next generation of the one run was
 * loaded from, and advance run->generation. Every read-modify-write of
 * run.json goes through here, so two commands changing one session at once
 * (a stop racing a start, on one node or two) never lose an update: the
 * second fails with a message instead. The check is an exclusive create of
 * "run.json.gen-<N>" (O_EXCL, which NFSv3+ and Lustre honour, unlike flock
 * or fcntl locks that a noflock/localflock mount fakes): only one writer
 * ever claims generation N. A claim left by a writer that died between claim
 * and rename is taken over after a minute.
 */
int session_run_save(const struct session *s, struct session_run *run);
void session_run_release(struct session_run *run);

/* Move run's current job into its history (before a new start). */
void session_run_push_history(struct session_run *run);

const char *run_state_name(enum run_state state);

/* Remove the session directory entirely. */
int session_remove(const struct session *s);

/* The ids of all sessions, sorted; *ids is NULL-terminated, free with session_ids_free. */
int session_list_ids(char ***ids);
void session_ids_free(char **ids);

/*
 * May Prometheus run on another node than the one registering? True for the
 * Slurm launcher unless Prometheus listens on loopback only. Then a target
 * on 127.0.0.1 must be registered under its node's name instead.
 */
int session_prometheus_is_remote(const struct session *s);

/* A path inside the session directory. Caller frees. */
char *session_path(const struct session *s, const char *name);

#endif
