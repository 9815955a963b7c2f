#ifndef BENCHMON_LAUNCHER_H
#define BENCHMON_LAUNCHER_H

#include <stdint.h>

#include "session/session.h"

/*
 * Launchers run the session's job script (job.sh, which runs Prometheus)
 * somewhere and report on it. "slurm" submits it as a batch job through
 * libslurm (launch-slurm.c is the one file that calls libslurm); "local"
 * runs it as a detached process on this machine (launch-local.c).
 * Functions return 0 or -1 after reporting through error().
 */

enum launch_state {
	LAUNCH_PENDING,
	LAUNCH_RUNNING,
	LAUNCH_ENDED,       /* finished: completed, failed, cancelled, timed out... see state_name */
	LAUNCH_GONE,        /* no longer known to the launcher (Slurm forgets after MinJobAge) */
};

struct job_status {
	enum launch_state state;
	char *state_name;    /* the launcher's own word: PENDING, RUNNING, FAILED, CANCELLED... */
	char *reason;        /* why pending or why it ended, or NULL */
	char *node;          /* where it runs or ran, or NULL */
	int exit_code;       /* when ended */
};

struct launch_request {
	const char *script;      /* path of job.sh */
	const char *log_path;    /* output file; "%j" is replaced by the job id */
	const char *job_name;
	const char *partition;   /* or NULL */
	const char *account;     /* or NULL */
	const char *time_limit;  /* "HH:MM:SS", "MM", "D-HH:MM:SS" or NULL */
	const char *nodelist;    /* Slurm host list the job runs on one node of, or NULL */
	const char *exclude;     /* Slurm host list the job never runs on, or NULL */
	const char *workdir;
	int64_t save_before_limit_ms;  /* when to save before the time limit; 0: the launcher's default */
};

struct launcher {
	const char *name;
	/* Does it take --partition, --account, --time-limit, --nodelist and --exclude? */
	int takes_slurm_options;
	/*
	 * Start the job; *job_id and *log_path (with the id filled in) are set,
	 * and *note, when not NULL, says how the job will end (its time limit,
	 * and when the TSDB is saved before it). Caller frees all three.
	 */
	int (*submit)(const struct session *s, const struct launch_request *req, char **job_id, char **log_path,
		      char **note);
	/* Where the job stands. */
	int (*query)(const struct session *s, const char *job_id, struct job_status *info);
	/* Ask the job script to stop Prometheus and save the TSDB (SIGTERM to the script alone). */
	int (*request_stop)(const struct session *s, const char *job_id);
	/* End the job now, losing what it has not saved; also how a pending job is cancelled. */
	int (*kill)(const struct session *s, const char *job_id);
	/* The tag the job script knows its job by (JOB_TAG_LOCAL_PREFIX...). Caller frees. */
	char *(*job_tag)(const char *job_id);
	/* The job id behind a job script's tag, or NULL when the tag is not this launcher's. Caller frees. */
	char *(*job_from_tag)(const char *tag);
	/*
	 * Is job_id still this session's job (1), another process's or gone (0),
	 * or can it not be told from here (-1, with *why: a local job on another
	 * host)? The launchers never signal a job that is not theirs.
	 */
	int (*is_ours)(const struct session *s, const char *job_id, char **why);
};

extern const struct launcher launcher_slurm;
extern const struct launcher launcher_local;

/* The launcher called name, or NULL. */
const struct launcher *launcher_find(const char *name);

/* The launcher whose job script writes tag, and the job id behind it; NULL when none. */
const struct launcher *launcher_for_tag(const char *tag, char **job_id);

/*
 * The Slurm configuration benchmon would use ($SLURM_CONF, then the usual
 * places, then a configless slurmd's cache), or NULL when there is none:
 * libslurm must not be initialised then, because slurm_init() exits.
 */
char *slurm_config_path(void);

void job_status_release(struct job_status *info);

#endif
