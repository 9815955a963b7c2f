#include <stdlib.h>

#include "cli/cmd.h"
#include "lib/timeparse.h"
#include "lifecycle/lifecycle.h"
#include "session/api.h"
#include "session/session.h"

/* how long the API server may take to finish its requests (its own drain is 10 s) */
#define SERVE_END_WAIT_MS 15000

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "wait", "SECONDS", "how long the TSDB copy may take (default 600)" },
	{ "json", NULL, "print the session's state as JSON when done (progress stays on stderr)" },
	{ NULL, NULL, NULL },
};

static int exec_stop(struct cmd_args *args)
{
	const char *id = args_session(args), *v;
	int64_t wait_ms = 600 * 1000;
	struct session s;
	char *cause = NULL;
	int ret;

	if (!id)
		return CMD_USAGE;
	if ((v = args_get(args, "wait")) && parse_duration_ms(v, 1000, &wait_ms, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "--wait: %s", cause);
		free(cause);
		return ret;
	}
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	ret = lifecycle_stop(&s, wait_ms) < 0 ? CMD_FAIL : CMD_OK;
	/* the API server ends with its session, whatever became of Prometheus */
	if (session_api_end(&s, SERVE_END_WAIT_MS) < 0)
		ret = CMD_FAIL;
	if (args_flag(args, "json") && print_session_json(&s) < 0)
		ret = CMD_FAIL;
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.summary = "stop Prometheus, keeping a copy of its TSDB in the session",
	.usage = "--session ID [--wait SECONDS]",
	.description = "Stop the session's Prometheus: the job stops it cleanly, copies the TSDB from the\n"
		       "node's local disk into the session directory (where 'collect' reads it later),\n"
		       "and ends; benchmon confirms the job is gone. Stopping a stopped session is a no-op.\n"
		       "A 'benchmon serve' of the session on this host ends too.",
	.opts = opts,
	.example = "  benchmon stop --session bench01",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_stop,
};
