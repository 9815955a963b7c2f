#ifndef BENCHMON_JOBSTATE_H
#define BENCHMON_JOBSTATE_H

/*
 * What the job script (templates/prometheus-job.sh.in) and benchmon tell
 * each other through files, defined once: render/ substitutes these into
 * the script, and lifecycle/ and collect/ read them back. Nothing matches
 * the job's log as text.
 *
 *   <session>/prometheus.json        the current job's state, replaced atomically:
 *                                    {"state", "host", "port", "job", "script_pid",
 *                                     "prometheus_pid", "tsdb", "exit_code", "reason"}
 *   <session>/tsdb/<job tag>/        one job's saved TSDB, renamed into place whole
 *   <session>/tsdb/<job tag>/JOB_SAVE_FILE   what that save holds (see saves.h)
 *
 * The job tag is the Slurm job id, or "local-<pid>" for the local launcher.
 */

#define JOB_STATE_RUNNING "running"          /* Prometheus started */
#define JOB_STATE_SAVING "saving"            /* stopping Prometheus and copying its TSDB */
#define JOB_STATE_SAVED "saved"              /* the copy is in tsdb/<job tag>/ */
#define JOB_STATE_SAVE_FAILED "save-failed"  /* the copy failed; the TSDB stays on the node */
#define JOB_STATE_EXITED "exited"            /* Prometheus ended before it opened its TSDB: nothing kept */
#define JOB_STATE_FAILED "failed"            /* the job could not start Prometheus */

/* "reason" of a failed job */
#define JOB_REASON_NO_PROMETHEUS "no-prometheus"
#define JOB_REASON_NO_TSDB_DIR "no-tsdb-dir"

/* the description a save carries inside its directory (Prometheus ignores it) */
#define JOB_SAVE_FILE "benchmon-save.json"

/* the Slurm job's name: JOB_NAME_PREFIX "<session>.<submit time in ms>" */
#define JOB_NAME_PREFIX "benchmon-"

/* the local launcher's job tag prefix */
#define JOB_TAG_LOCAL_PREFIX "local-"

#endif
