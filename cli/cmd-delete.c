#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lifecycle/exporters.h"
#include "lifecycle/lifecycle.h"
#include "session/api.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "force", NULL, "delete even while Prometheus runs: its job is cancelled and its data lost" },
	{ "json", NULL, "print what was deleted as one JSON object" },
	{ NULL, NULL, NULL },
};

/* Say that session id is gone, as a line or as JSON. */
static void print_deleted(const struct cmd_args *args, const char *id, const char *dir)
{
	cJSON *root;

	if (!args_flag(args, "json")) {
		printf("session '%s' deleted\n", id);
		return;
	}
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "session", id);
	cJSON_AddStringToObject(root, "dir", dir);
	cJSON_AddBoolToObject(root, "deleted", 1);
	cJSON_AddBoolToObject(root, "forced", args_flag(args, "force"));
	cJSON_AddNullToObject(root, "error");
	print_json_object(root);
}

static int exec_delete(struct cmd_args *args)
{
	const char *id = args_session(args);
	struct session_run run;
	struct session s;
	int ret = CMD_FAIL;

	if (!id)
		return CMD_USAGE;
	if (session_load(id, &s) < 0) {
		char *dir = session_dir_for(id);
		int exists = path_exists(dir);

		/* --force is the way out of a corrupted session, so it must not need session.json */
		if (args_flag(args, "force") && exists) {
			warning("removing session '%s' although its settings cannot be read", id);
			ret = lifecycle_force_remove(id) < 0 ? CMD_FAIL : CMD_OK;
		}
		if (ret == CMD_OK)
			print_deleted(args, id, dir);
		free(dir);
		return ret;
	}
	if (session_run_load(&s, &run) < 0 && !args_flag(args, "force"))
		goto out;
	if ((run.state == RUN_STARTING || run.state == RUN_RUNNING) && !args_flag(args, "force")) {
		error("session '%s' is %s (job %s); stop it first, or use --force to cancel the job and lose its data",
		      id, run_state_name(run.state), run.job_id ? run.job_id : "?");
		goto out_run;
	}
	if (args_flag(args, "force") && lifecycle_kill(&s) < 0)
		warning("could not cancel the session's job; deleting anyway");
	/* an API server would go on serving a session that is gone */
	if (session_api_end(&s, 15000) < 0 && !args_flag(args, "force")) {
		error("session '%s' is still served over HTTP; stop it first, or use --force", id);
		goto out_run;
	}
	/* exporters that register into a session that is gone would run on until their job ends */
	if (exporters_stop_if_running(&s) < 0 && !args_flag(args, "force")) {
		error("the exporters of session '%s' could not be stopped; stop them with 'benchmon exporters stop', "
		      "or use --force", id);
		goto out_run;
	}
	if (session_remove(&s) < 0)
		goto out_run;
	print_deleted(args, id, s.dir);
	ret = CMD_OK;
out_run:
	session_run_release(&run);
out:
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_delete_entry = {
	.name = "delete",
	.summary = "delete a session and everything in its directory",
	.usage = "--session ID [--force] [--json]",
	.description = "Delete the session's directory: settings, registry, logs and TSDB copy.\n"
		       "A running session is refused unless --force is given. A 'benchmon serve' of the\n"
		       "session on this host is ended first, and so is the job step of its exporters.",
	.opts = opts,
	.example = "  benchmon delete --session bench01",
	.exec = exec_delete,
};
