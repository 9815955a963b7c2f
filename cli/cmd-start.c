#include <stdlib.h>

#include "cli/cmd.h"
#include "lib/timeparse.h"
#include "lifecycle/lifecycle.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "partition", "P", "Slurm partition for the Prometheus job (default: the cluster's default)" },
	{ "time-limit", "HH:MM:SS", "Slurm time limit of the job (also MM or D-HH:MM:SS)" },
	{ "account", "A", "Slurm account to charge" },
	{ "wait", "SECONDS", "how long to wait for Prometheus to be ready, queueing included (default 300)" },
	{ "dry-run", NULL, "only render prometheus.yml and the job script, and print their paths" },
	{ "json", NULL, "print the session's state as JSON when done (progress stays on stderr)" },
	{ NULL, NULL, NULL },
};

static int exec_start(struct cmd_args *args)
{
	const char *id = args_session(args), *v;
	struct start_options o = { 0 };
	struct session s;
	char *cause = NULL;
	uint32_t minutes;
	int ret;

	if (!id)
		return CMD_USAGE;
	o.partition = args_get(args, "partition");
	o.account = args_get(args, "account");
	o.time_limit = args_get(args, "time-limit");
	o.wait_ms = 300 * 1000;
	o.dry_run = args_flag(args, "dry-run");
	if ((v = args_get(args, "wait")) && parse_duration_ms(v, 1000, &o.wait_ms, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "--wait: %s", cause);
		free(cause);
		return ret;
	}
	/* refuse a bad --time-limit before anything is rendered or submitted */
	if (o.time_limit && parse_slurm_time_limit(o.time_limit, &minutes, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "--time-limit: %s", cause);
		free(cause);
		return ret;
	}
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	ret = lifecycle_start(&s, &o) < 0 ? CMD_FAIL : CMD_OK;
	if (args_flag(args, "json") && !o.dry_run && print_session_json(&s) < 0)
		ret = CMD_FAIL;
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.summary = "run the session's Prometheus (as a Slurm job) and wait until it is ready",
	.usage = "--session ID [--partition P] [--time-limit HH:MM:SS] [--account A] [--wait SECONDS]",
	.description = "Render prometheus.yml and the job script, submit Prometheus as a Slurm batch job\n"
		       "(or a local process with the local launcher) on whatever node Slurm picks, and\n"
		       "wait until Prometheus answers /-/ready. Progress is shown while the job is\n"
		       "pending and starting. On failure the job is cancelled, the reason is shown and\n"
		       "the session can be started again. The TSDB lives on the node's local disk.",
	.opts = opts,
	.example = "  benchmon start --session bench01 --partition cpu --time-limit 02:00:00",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_start,
};
