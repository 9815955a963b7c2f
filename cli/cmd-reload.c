#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lifecycle/lifecycle.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "json", NULL, "print what was done as one JSON object" },
	{ NULL, NULL, NULL },
};

static int exec_reload(struct cmd_args *args)
{
	const char *id = args_session(args);
	struct session s;
	int ret;

	if (!id)
		return CMD_USAGE;
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	ret = lifecycle_reload(&s) < 0 ? CMD_FAIL : CMD_OK;
	if (ret == CMD_OK && args_flag(args, "json")) {
		cJSON *root = cJSON_CreateObject();

		cJSON_AddStringToObject(root, "session", s.id);
		cJSON_AddBoolToObject(root, "reloaded", 1);
		cJSON_AddNullToObject(root, "error");
		print_json_object(root);
	} else if (ret == CMD_OK) {
		progress("configuration reloaded");
	}
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_reload_entry = {
	.name = "reload",
	.summary = "re-render prometheus.yml and reload the running Prometheus",
	.usage = "--session ID [--json]",
	.description = "Render the session's prometheus.yml again (after a template change, say) and ask\n"
		       "the running Prometheus to reload it. A rejected configuration is reported with\n"
		       "Prometheus's own message. Registrations never need this: they are picked up\n"
		       "through file-based discovery.",
	.opts = opts,
	.example = "  benchmon reload --session bench01",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_reload,
};
