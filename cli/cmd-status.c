#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/lifecycle.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "json", NULL, "print one JSON object instead of a table" },
	{ NULL, NULL, NULL },
};

static const char *job_state_text(const struct session_status *st)
{
	if (st->have_job)
		return st->job.state_name;
	return NULL;
}

static void add_time(cJSON *obj, const char *key, int64_t ms)
{
	char *text = ms ? format_time_ms(ms) : NULL;

	json_add_string_or_null(obj, key, text);
	free(text);
}

static void print_json(const struct session *s, const struct session_status *st)
{
	cJSON *root = cJSON_CreateObject(), *targets, *saves;
	char *text;

	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "launcher", s->launcher);
	cJSON_AddStringToObject(root, "state", run_state_name(st->state));
	json_add_string_or_null(root, "job_id", st->run.job_id);
	json_add_string_or_null(root, "job_state", job_state_text(st));
	json_add_string_or_null(root, "node", st->have_job && st->job.node ? st->job.node : st->run.node);
	json_add_string_or_null(root, "prometheus_url", st->run.url);
	cJSON_AddBoolToObject(root, "ready", st->ready);
	json_add_string_or_null(root, "error", st->problem ? st->problem : st->run.last_error);
	json_add_string_or_null(root, "problem", st->problem ? st->problem : st->run.last_error);
	json_add_string_or_null(root, "log", st->run.log_path);
	json_add_string_or_null(root, "tsdb_copy", st->run.tsdb_copy);
	json_add_string_or_null(root, "note", st->note);
	cJSON_AddNumberToObject(root, "tsdb_bytes", (double)st->saves.bytes);
	saves = cJSON_AddArrayToObject(root, "tsdb_saves");
	for (size_t i = 0; i < st->saves.n; i++) {
		const struct tsdb_save *v = &st->saves.items[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "job", v->job);
		json_add_string_or_null(o, "host", v->host);
		cJSON_AddStringToObject(o, "path", v->path);
		json_add_string_or_null(o, "why", v->why);
		add_time(o, "from", v->started_ms);
		add_time(o, "to", v->ended_ms);
		cJSON_AddNumberToObject(o, "bytes", (double)v->bytes);
		cJSON_AddItemToArray(saves, o);
	}
	cJSON_AddNumberToObject(root, "clients", (double)st->registry.nclients);
	targets = cJSON_AddArrayToObject(root, "targets");
	for (size_t i = 0; i < st->registry.n; i++) {
		const struct target *t = st->targets[i].target;
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "client_id", t->client_id);
		cJSON_AddStringToObject(o, "kind", target_kind_name(t->kind));
		json_add_string_or_null(o, "name", t->name);
		cJSON_AddStringToObject(o, "node", t->node);
		json_add_string_or_null(o, "node_address", t->node_address);
		cJSON_AddStringToObject(o, "address", t->address);
		cJSON_AddStringToObject(o, "url", t->url);
		cJSON_AddStringToObject(o, "health", st->targets[i].health);
		json_add_string_or_null(o, "error", *st->targets[i].last_error ? st->targets[i].last_error : NULL);
		cJSON_AddStringToObject(o, "last_error", st->targets[i].last_error);
		cJSON_AddItemToArray(targets, o);
	}
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

static void print_table(const struct session *s, const struct session_status *st)
{
	size_t up = 0, down = 0, w_client = 6, w_name = 4, w_addr = 7;

	printf("session     %s\nlauncher    %s\nstate       %s", s->id, s->launcher, run_state_name(st->state));
	if (st->run.job_id)
		printf(" (job %s%s%s%s%s)", st->run.job_id, st->have_job ? " " : "",
		       st->have_job ? st->job.state_name : "", st->have_job && st->job.node ? " on " : "",
		       st->have_job && st->job.node ? st->job.node : "");
	printf("\n");
	if (st->run.url)
		printf("prometheus  %s (%s)\n", st->run.url, st->ready ? "ready" : "not ready");
	if (st->run.log_path)
		printf("log         %s\n", st->run.log_path);
	if (st->run.tsdb_copy)
		printf("tsdb copy   %s\n", st->run.tsdb_copy);
	if (st->saves.n) {
		char *size = format_bytes(st->saves.bytes);

		printf("saved tsdb  %zu job%s, %s in %s/tsdb\n", st->saves.n, st->saves.n == 1 ? "" : "s", size, s->dir);
		for (size_t i = 0; i < st->saves.n; i++) {
			const struct tsdb_save *v = &st->saves.items[i];
			char *from = v->started_ms ? format_time_ms(v->started_ms) : xstrdup("?");
			char *to = v->ended_ms ? format_time_ms(v->ended_ms) : xstrdup("?");

			printf("            job %-10s %s .. %s  (%s)\n", v->job, from, to, v->why ? v->why : "saved");
			free(from);
			free(to);
		}
		free(size);
	}
	if (st->note)
		printf("note        %s\n", st->note);
	if (st->problem || (st->state == RUN_FAILED && st->run.last_error))
		printf("problem     %s\n", st->problem ? st->problem : st->run.last_error);
	for (size_t i = 0; i < st->registry.n; i++) {
		const struct target *t = st->targets[i].target;

		up += !strcmp(st->targets[i].health, "up");
		down += !strcmp(st->targets[i].health, "down");
		if (strlen(t->client_id) > w_client)
			w_client = strlen(t->client_id);
		if (t->name && strlen(t->name) > w_name)
			w_name = strlen(t->name);
		if (strlen(t->address) > w_addr)
			w_addr = strlen(t->address);
	}
	printf("targets     %zu (%zu up, %zu down, %zu unknown) from %zu clients\n", st->registry.n, up, down,
	       st->registry.n - up - down, st->registry.nclients);
	if (!st->registry.n)
		return;
	printf("\n%-*s  %-7s  %-*s  %-*s  %-7s  %s\n", (int)w_client, "CLIENT", "KIND", (int)w_name, "NAME",
	       (int)w_addr, "ADDRESS", "HEALTH", "LAST ERROR");
	for (size_t i = 0; i < st->registry.n; i++) {
		const struct target *t = st->targets[i].target;

		printf("%-*s  %-7s  %-*s  %-*s  %-7s  %s\n", (int)w_client, t->client_id, target_kind_name(t->kind),
		       (int)w_name, t->name ? t->name : "-", (int)w_addr, t->address, st->targets[i].health,
		       st->targets[i].last_error);
	}
}

static int exec_status(struct cmd_args *args)
{
	const char *id = args_session(args);
	struct session_status st;
	struct session s;
	int ret = CMD_FAIL;

	if (!id)
		return CMD_USAGE;
	if (args_flag(args, "json"))
		progress_quiet = 1;
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	if (lifecycle_status(&s, &st) < 0)
		goto out;
	if (args_flag(args, "json"))
		print_json(&s, &st);
	else
		print_table(&s, &st);
	/* a session that should run but does not is worth a non-zero exit for scripts */
	ret = st.problem ? CMD_FAIL : CMD_OK;
out:
	session_status_release(&st);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.summary = "show the session's Prometheus job, readiness and targets' health",
	.usage = "--session ID [--json]",
	.description = "Show where the session's Prometheus runs (job, state, node), whether it answers\n"
		       "/-/ready, and the health of every registered target as Prometheus sees it.\n"
		       "A job that ended behind benchmon's back, or a Prometheus that died, is reported\n"
		       "and makes the exit status 1.",
	.opts = opts,
	.example = "  benchmon status --session bench01 --json | jq '.targets[] | select(.health != \"up\")'",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_status,
};
