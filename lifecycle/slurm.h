#ifndef BENCHMON_SLURM_H
#define BENCHMON_SLURM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What benchmon asks of Slurm besides launching Prometheus (launcher.h):
 * the nodes of an allocation and their addresses, and the exporters' job
 * step. Implemented in lifecycle/launch-slurm.c, the one file that calls
 * libslurm. Functions return 0 or -1 after reporting through error().
 */

/* Expand a Slurm host list ("n[1-3],gpu7") into names, in order. Free with slurm_names_free. */
int slurm_hostlist_expand(const char *list, char ***names, size_t *n);
void slurm_names_free(char **names, size_t n);

/* The node list of job_id, which must be running. Caller frees *nodelist. */
int slurm_job_nodelist(const char *job_id, char **nodelist);

/* Slurm's NodeAddr for node name (the name itself when none is set). Caller frees *address. */
int slurm_node_address(const char *name, char **address);

/*
 * A job step that runs argv once on each node of nodelist inside job_id,
 * sharing the job's resources with its other steps (--overlap), named
 * step_name, and surviving the failure of a node or a task on one of them.
 * env entries ("NAME=value") are added to the tasks' environment. The step's
 * client runs detached, in a session of its own, its output appended to
 * log_path; *pid is its pid on this host (it ends when the step ends).
 */
struct step_request {
	const char *job_id;
	const char *nodelist;
	size_t nnodes;
	const char *step_name;
	const char *log_path;
	char *const *argv;
	char *const *env;
};
int slurm_step_spawn(const struct step_request *req, pid_t *pid);

/*
 * The step of job_id named step_name: 1 found (its id and whether it runs
 * are set), 0 when the job has none or has ended, -1 when Slurm cannot
 * be asked.
 */
int slurm_step_find(const char *job_id, const char *step_name, uint32_t *step_id, int *running);

/* Send signal to every task of a step (SIGKILL ends it). A step already gone is not an error. */
int slurm_step_signal(const char *job_id, uint32_t step_id, int signal);

#endif
