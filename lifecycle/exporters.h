#ifndef BENCHMON_EXPORTERS_H
#define BENCHMON_EXPORTERS_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"

/*
 * Exporters deployed on a Slurm allocation: one job step over the chosen
 * nodes of a job, sharing its resources, that on every node starts
 * node_exporter (and a DCGM exporter where one is installed) bound to the
 * node's address on a free port, and registers them as that node's client
 * (client id and node: the node's Slurm name; its address recorded too).
 * The step ends with the job, or at exporters_stop; a node whose exporter
 * fails is reported with the reason while the others run on.
 *
 * State, in the session directory: exporters/step.json, written by start
 * (the job, the step's name, the nodes and their addresses), and one file
 * per node, exporters/node+<node>.json, written by that node's task. The
 * exporters' output goes to logs/exporters-<job>.out.
 *
 * These speak HTTP (http_global_init must have run) and Slurm, and return
 * 0 or -1 after reporting through error().
 */

struct exporters_options {
	const char *job_id;       /* the job whose nodes get exporters; NULL: $SLURM_JOB_ID */
	const char *nodes;        /* a Slurm host list within the job; NULL: all of its nodes */
	int node_exporter;        /* start node_exporter */
	int dcgm_exporter;        /* start a DCGM exporter where one is installed */
	int64_t wait_ms;          /* how long start waits for every node to report */
};

struct exporters_node {
	char *node;               /* Slurm's name of the node */
	char *address;            /* the address its exporters listen on */
	char *address_source;     /* "resolver" (its name resolved) or "NodeAddr" (Slurm's) */
	char *state;              /* "running", "failed", "stopped" or "no report" */
	char *error;              /* why it failed, or NULL */
	char *node_exporter;      /* host:port, or NULL */
	char *dcgm_exporter;      /* host:port, or NULL */
	char *dcgm_note;          /* why there is no DCGM exporter, or NULL */
	int node_up, dcgm_up;     /* status: 1 answered /metrics, 0 did not, -1 not asked */
};

struct exporters_report {
	char *job_id;
	char *step_name;
	char *step;               /* "<job>.<step>" while Slurm lists it, else NULL */
	int step_running;
	struct exporters_node *nodes;
	size_t n;
	size_t failed;            /* nodes not running (start, status) */
};

/*
 * Start the step and wait, within wait_ms, until every node has reported:
 * returns 0 when all run, -1 when any failed (the report says which and
 * why; the others keep running) or the step could not start at all.
 * Refused while the session's exporters run already.
 */
int exporters_start(const struct session *s, const struct exporters_options *opts, struct exporters_report *r);

/* Where the exporters stand: Slurm's view of the step and each exporter asked for /metrics. Writes nothing. */
int exporters_status(const struct session *s, struct exporters_report *r);

/* Cancel the step (SIGTERM, then SIGKILL after 10 s) and wait until Slurm no longer lists it. */
int exporters_stop(const struct session *s, struct exporters_report *r);

/*
 * Stop the session's exporters if their step still runs, as delete must:
 * 0 when there were none or their step had ended, 1 stopped, -1 error.
 */
int exporters_stop_if_running(const struct session *s);

/*
 * What a task of the step runs on its node: start the exporters, register
 * them, write the node's file, then wait until the step is cancelled (0) or
 * an exporter exits (-1, recorded in the node's file).
 */
int exporters_node_task(const struct session *s);

void exporters_report_release(struct exporters_report *r);

#endif
