#include "cli/cmd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/jsonfile.h"
#include "lib/xmalloc.h"
#include "session/session.h"
#include "session/validate.h"

const struct cmd_entry *const cmd_table[] = {
	&cmd_session_create_entry,
	&cmd_client_connect_entry,
	&cmd_service_register_entry,
	&cmd_start_entry,
	&cmd_status_entry,
	&cmd_collect_entry,
	&cmd_run_entry,
	&cmd_stop_entry,
	&cmd_delete_entry,
	&cmd_sessions_entry,
	&cmd_reload_entry,
	&cmd_report_entry,
	&cmd_runs_entry,
	&cmd_compare_entry,
	&cmd_gate_entry,
	&cmd_exporters_entry,
	&cmd_serve_entry,
	&cmd_help_entry,
	NULL,
};

const struct cmd_entry *cmd_find(const char *name)
{
	for (size_t i = 0; cmd_table[i]; i++) {
		if (!strcmp(cmd_table[i]->name, name) ||
		    (cmd_table[i]->alias && !strcmp(cmd_table[i]->alias, name)))
			return cmd_table[i];
	}
	return NULL;
}

int cmd_usage_error(const struct cmd_entry *entry, const char *fmt, ...)
{
	va_list ap;

	fputs("benchmon: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: benchmon %s %s\n(see 'benchmon %s -h')\n", entry->name, entry->usage, entry->name);
	return CMD_USAGE;
}

static int find_opt(const struct cmd_entry *entry, const char *name, size_t len)
{
	for (int i = 0; entry->opts && entry->opts[i].name; i++)
		if (strlen(entry->opts[i].name) == len && !strncmp(entry->opts[i].name, name, len))
			return i;
	return -1;
}

static int is_repeatable(const struct cmd_opt *opt)
{
	size_t len = opt->arg ? strlen(opt->arg) : 0;

	return len > 3 && !strcmp(opt->arg + len - 3, "...");
}

int cmd_parse(const struct cmd_entry *entry, int argc, char **argv, struct cmd_args *args)
{
	int nopts = 0, i;

	while (entry->opts && entry->opts[nopts].name)
		nopts++;
	memset(args, 0, sizeof(*args));
	args->entry = entry;
	args->values = xcalloc((size_t)nopts + 1, sizeof(*args->values));
	args->lists = xcalloc((size_t)nopts + 1, sizeof(*args->lists));
	args->argv = xcalloc((size_t)argc + 1, sizeof(char *));
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		int idx;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			cmd_print_help(entry);
			return CMD_HELP_SHOWN;
		}
		if (strncmp(a, "--", 2)) {
			if (args->argc >= entry->max_args && entry->max_args >= 0)
				return cmd_usage_error(entry, "unexpected argument '%s'", a);
			args->argv[args->argc++] = argv[i];
			continue;
		}
		eq = strchr(a + 2, '=');
		idx = find_opt(entry, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
		if (idx < 0) {
			char *q = quote_for_message(a);
			int ret = cmd_usage_error(entry, "unknown option '%s'", q);

			free(q);
			return ret;
		}
		if (!entry->opts[idx].arg) {
			if (eq)
				return cmd_usage_error(entry, "option '--%s' takes no value", entry->opts[idx].name);
			args->values[idx] = "";
		} else if (eq) {
			args->values[idx] = eq + 1;
		} else if (i + 1 < argc) {
			args->values[idx] = argv[++i];
		} else {
			return cmd_usage_error(entry, "option '--%s' needs a value (%s)", entry->opts[idx].name,
					       entry->opts[idx].arg);
		}
		if (is_repeatable(&entry->opts[idx])) {
			size_t n = 0;

			while (args->lists[idx] && args->lists[idx][n])
				n++;
			args->lists[idx] = xrealloc(args->lists[idx], (n + 2) * sizeof(char *));
			args->lists[idx][n] = args->values[idx];
			args->lists[idx][n + 1] = NULL;
		}
	}
	/* everything after "--" is positional, for commands that wrap another command */
	for (; i < argc; i++) {
		if (args->argc >= entry->max_args && entry->max_args >= 0)
			return cmd_usage_error(entry, "unexpected argument '%s'", argv[i]);
		args->argv[args->argc++] = argv[i];
	}
	return CMD_OK;
}

void cmd_args_release(struct cmd_args *args)
{
	for (int i = 0; args->lists && args->entry->opts && args->entry->opts[i].name; i++)
		free(args->lists[i]);
	free(args->lists);
	free(args->values);
	free(args->argv);
	memset(args, 0, sizeof(*args));
}

void cmd_print_help(const struct cmd_entry *entry)
{
	printf("usage: benchmon %s %s\n\n%s\n", entry->name, entry->usage, entry->description);
	if (entry->opts && entry->opts[0].name) {
		printf("\nOptions:\n");
		for (int i = 0; entry->opts[i].name; i++) {
			char left[64];

			snprintf(left, sizeof(left), "--%s%s%s", entry->opts[i].name,
				 entry->opts[i].arg ? " " : "", entry->opts[i].arg ? entry->opts[i].arg : "");
			printf("  %-26s %s\n", left, entry->opts[i].help);
		}
		printf("  %-26s %s\n", "-h, --help", "show this help");
	}
	if (entry->example)
		printf("\nExample:\n%s\n", entry->example);
	printf("\nExit status: 0 on success, 1 when the command fails, 2 when the command line is wrong.\n");
}

const char *args_get(const struct cmd_args *args, const char *name)
{
	int idx = find_opt(args->entry, name, strlen(name));

	return idx < 0 ? NULL : args->values[idx];
}

const char *const *args_list(const struct cmd_args *args, const char *name, size_t *n)
{
	static const char *const none[] = { NULL };
	int idx = find_opt(args->entry, name, strlen(name));
	const char *const *l = idx < 0 || !args->lists[idx] ? none : (const char *const *)args->lists[idx];

	for (*n = 0; l[*n]; (*n)++)
		;
	return l;
}

int args_flag(const struct cmd_args *args, const char *name)
{
	return args_get(args, name) != NULL;
}

const char *args_session(const struct cmd_args *args)
{
	const char *id = args_get(args, "session");
	char *cause;

	if (!id)
		id = getenv("BENCHMON_SESSION");
	if (!id || !*id) {
		cmd_usage_error(args->entry, "no session given (use --session ID or set BENCHMON_SESSION)");
		return NULL;
	}
	if (validate_id("session id", id, &cause) < 0) {
		cmd_usage_error(args->entry, "%s", cause);
		free(cause);
		return NULL;
	}
	return id;
}

char *default_run_id(const char *fallback)
{
	const char *job = getenv("SLURM_JOB_ID"), *step = getenv("SLURM_STEP_ID");
	char *cause = NULL, *id;

	if (!job || !*job)
		return xstrdup(fallback);
	/* the batch script and the extern step have non-numeric step ids: the job id says it all */
	if (step && *step && strspn(step, "0123456789") == strlen(step))
		id = xasprintf("%s.%s", job, step);
	else
		id = xstrdup(job);
	if (validate_id("run id", id, &cause) < 0) {
		free(cause);
		free(id);
		return xstrdup(fallback);
	}
	return id;
}

char *this_node(void)
{
	char name[256] = "localhost";

	gethostname(name, sizeof(name) - 1);
	name[strcspn(name, ".")] = '\0';
	return xstrdup(name);
}

int print_session_json(const struct session *s)
{
	struct session_run run;
	cJSON *root;

	if (session_run_load(s, &run) < 0)
		return -1;
	root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "dir", s->dir);
	cJSON_AddStringToObject(root, "launcher", s->launcher);
	cJSON_AddStringToObject(root, "state", run_state_name(run.state));
	json_add_string_or_null(root, "job_id", run.job_id);
	json_add_string_or_null(root, "node", run.node);
	json_add_string_or_null(root, "prometheus_url", run.url);
	json_add_string_or_null(root, "log", run.log_path);
	json_add_string_or_null(root, "tsdb_copy", run.tsdb_copy);
	json_add_string_or_null(root, "error", run.last_error);
	json_add_string_or_null(root, "last_error", run.last_error);
	cJSON_AddNumberToObject(root, "port", s->port);
	cJSON_AddNumberToObject(root, "scrape_interval_seconds", (double)s->scrape_interval_ms / 1000.0);
	print_json_object(root);
	session_run_release(&run);
	return 0;
}

void print_json_object(struct cJSON *root)
{
	char *text = cJSON_Print(root);

	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}
