#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "session/saves.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "json", NULL, "print a JSON array instead of a table" },
	{ NULL, NULL, NULL },
};

static char *age_text(int64_t since_ms)
{
	int64_t s = (now_ms() - since_ms) / 1000;

	if (s < 0)
		s = 0;
	if (s < 120)
		return format_duration_ms(s ? s * 1000 : 1000);
	if (s < 7200)
		return format_duration_ms(s / 60 * 60000);
	if (s < 172800)
		return format_duration_ms(s / 3600 * 3600000);
	return format_duration_ms(s / 86400 * 86400000);
}

static int exec_sessions(struct cmd_args *args)
{
	int json = args_flag(args, "json");
	cJSON *list = cJSON_CreateArray();
	char **ids = NULL;
	int ret = CMD_FAIL;

	if (session_list_ids(&ids) < 0)
		goto out;
	if (!json)
		printf("%-24s %-8s %-9s %-10s %-10s %s\n", "SESSION", "LAUNCHER", "STATE", "AGE", "SAVED", "PROMETHEUS");
	for (size_t i = 0; ids[i]; i++) {
		struct session s;
		struct session_run run;
		struct tsdb_save_list saves = { 0 };
		char *age, *size;

		if (session_load(ids[i], &s) < 0)
			continue;
		if (session_run_load(&s, &run) < 0) {
			session_release(&s);
			continue;
		}
		age = age_text(s.created_ms);
		tsdb_saves_load(&s, &saves);
		size = format_bytes(saves.bytes);
		if (json) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "session", s.id);
			cJSON_AddStringToObject(o, "launcher", s.launcher);
			cJSON_AddStringToObject(o, "state", run_state_name(run.state));
			json_add_string_or_null(o, "job_id", run.job_id);
			json_add_string_or_null(o, "prometheus_url", run.url);
			cJSON_AddNumberToObject(o, "created_ms", (double)s.created_ms);
			cJSON_AddNumberToObject(o, "tsdb_saves", (double)saves.n);
			cJSON_AddNumberToObject(o, "tsdb_bytes", (double)saves.bytes);
			cJSON_AddItemToArray(list, o);
		} else {
			printf("%-24s %-8s %-9s %-10s %-10s %s\n", s.id, s.launcher, run_state_name(run.state), age,
			       saves.n ? size : "-", run.url && run.state == RUN_RUNNING ? run.url : "-");
		}
		tsdb_save_list_release(&saves);
		free(size);
		free(age);
		session_run_release(&run);
		session_release(&s);
	}
	if (json) {
		char *text = cJSON_Print(list);

		printf("%s\n", text);
		cJSON_free(text);
	}
	ret = CMD_OK;
out:
	cJSON_Delete(list);
	session_ids_free(ids);
	return ret;
}

const struct cmd_entry cmd_sessions_entry = {
	.name = "sessions",
	.summary = "list sessions with their state, age and the size of their saved TSDBs",
	.usage = "[--json]",
	.description = "List the sessions under $BENCHMON_HOME with their launcher, state, age, and the\n"
		       "disk space their jobs' saved TSDBs take ('benchmon delete' frees it).\n"
		       "A session whose files cannot be read is reported and skipped.",
	.opts = opts,
	.example = "  benchmon sessions --json",
	.exec = exec_sessions,
};
