#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	{ "json", NULL, "print one JSON object instead of a table (with --watch, one per refresh)" },
	{ "watch", NULL, "redraw every SECONDS (default 2) until interrupted" },
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

/* Counts of targets per health class. */
static void count_classes(const struct session_status *st, size_t counts[HEALTH_CLASSES])
{
	memset(counts, 0, HEALTH_CLASSES * sizeof(*counts));
	for (size_t i = 0; i < st->registry.n; i++)
		counts[st->targets[i].klass]++;
}

/* The node names of the registry, each once, in registration order; *n of them. Caller frees the array. */
static const char **node_names(const struct session_status *st, size_t *n)
{
	const char **names = xcalloc(st->registry.n + 1, sizeof(*names));

	*n = 0;
	for (size_t i = 0; i < st->registry.n; i++) {
		const char *node = st->registry.items[i].node;
		size_t k;

		for (k = 0; k < *n && strcmp(names[k], node); k++)
			;
		if (k == *n)
			names[(*n)++] = node;
	}
	return names;
}

/* A node's class: the worst of its targets'. */
static enum health_class node_class(const struct session_status *st, const char *node)
{
	enum health_class c = HEALTH_UNKNOWN;

	for (size_t i = 0; i < st->registry.n; i++)
		if (!strcmp(st->registry.items[i].node, node) && st->targets[i].klass > c)
			c = st->targets[i].klass;
	return c;
}

/* The registered target an alert is about, or NULL. */
static const struct target *alert_target(const struct session_status *st, const struct prom_alert *a)
{
	for (size_t i = 0; i < st->registry.n; i++)
		if (health_alert_is_of(a, &st->registry.items[i]))
			return &st->registry.items[i];
	return NULL;
}

static cJSON *alert_json(const struct prom_alert *a, const struct target *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "alert", a->name);
	cJSON_AddStringToObject(o, "severity", a->severity);
	cJSON_AddStringToObject(o, "state", a->state);
	json_add_string_or_null(o, "node", t ? t->node : *a->node ? a->node : NULL);
	json_add_string_or_null(o, "gpu", *a->gpu ? a->gpu : NULL);
	json_add_string_or_null(o, "instance", *a->instance ? a->instance : NULL);
	add_time(o, "since", a->active_ms);
	cJSON_AddStringToObject(o, "summary", a->summary);
	return o;
}

static void print_json(const struct session *s, const struct session_status *st)
{
	size_t counts[HEALTH_CLASSES], nnodes;
	const char **nodes = node_names(st, &nnodes);
	cJSON *health, *node_list, *alerts;
	cJSON *root = cJSON_CreateObject(), *targets, *saves;
	char *text;

	count_classes(st, counts);
	health = cJSON_AddObjectToObject(root, "health_counts");
	for (int c = HEALTH_HEALTHY; c < HEALTH_CLASSES; c++)
		cJSON_AddNumberToObject(health, health_class_name((enum health_class)c), (double)counts[c]);
	cJSON_AddNumberToObject(health, health_class_name(HEALTH_UNKNOWN), (double)counts[HEALTH_UNKNOWN]);
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
		cJSON_AddStringToObject(o, "class", health_class_name(st->targets[i].klass));
		alerts = cJSON_AddArrayToObject(o, "alerts");
		for (size_t k = 0; k < st->nalerts; k++)
			if (!strcmp(st->alerts[k].state, "firing") && health_alert_is_of(&st->alerts[k], t))
				cJSON_AddItemToArray(alerts, alert_json(&st->alerts[k], t));
		cJSON_AddItemToArray(targets, o);
	}
	node_list = cJSON_AddArrayToObject(root, "nodes");
	for (size_t k = 0; k < nnodes; k++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "node", nodes[k]);
		cJSON_AddStringToObject(o, "class", health_class_name(node_class(st, nodes[k])));
		cJSON_AddItemToArray(node_list, o);
	}
	alerts = cJSON_AddArrayToObject(root, "alerts");
	for (size_t k = 0; k < st->nalerts; k++)
		cJSON_AddItemToArray(alerts, alert_json(&st->alerts[k], alert_target(st, &st->alerts[k])));
	free(nodes);
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

/* The firing alerts, then the pending ones, one a line: what, where, since when. */
static void print_alerts(const struct session_status *st)
{
	int64_t now = now_ms();
	int shown = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < st->nalerts; i++) {
			const struct prom_alert *a = &st->alerts[i];
			const struct target *t = alert_target(st, a);
			char *since = a->active_ms ? format_time_ms(a->active_ms) : xstrdup("?");

			if (!strcmp(a->state, "firing") != !pass) {
				free(since);
				continue;
			}
			if (!shown++)
				printf("\nALERT              SEVERITY  STATE    NODE        GPU  SINCE\n");
			printf("%-17s  %-8s  %-7s  %-10s  %-3s  %s (%llds)  %s\n", a->name, a->severity, a->state,
			       t ? t->node : *a->node ? a->node : "-", *a->gpu ? a->gpu : "-", since,
			       a->active_ms ? (long long)((now - a->active_ms) / 1000) : 0LL, a->summary);
			free(since);
		}
	}
}

static void print_table(const struct session *s, const struct session_status *st)
{
	size_t up = 0, down = 0, w_client = 6, w_name = 4, w_addr = 7;
	size_t counts[HEALTH_CLASSES], nnodes;
	const char **nodes = node_names(st, &nnodes);

	count_classes(st, counts);
	printf("health      %zu healthy, %zu degraded, %zu critical, %zu unreachable", counts[HEALTH_HEALTHY],
	       counts[HEALTH_DEGRADED], counts[HEALTH_CRITICAL], counts[HEALTH_UNREACHABLE]);
	if (counts[HEALTH_UNKNOWN])
		printf(", %zu unknown", counts[HEALTH_UNKNOWN]);
	printf(" (targets)\nnodes      ");
	for (size_t k = 0; k < nnodes; k++)
		printf(" %s %s%s", nodes[k], health_class_name(node_class(st, nodes[k])), k + 1 < nnodes ? "," : "");
	printf("%s\n", nnodes ? "" : " none");
	free(nodes);
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
	printf("\n%-*s  %-7s  %-*s  %-*s  %-7s  %-11s  %s\n", (int)w_client, "CLIENT", "KIND", (int)w_name, "NAME",
	       (int)w_addr, "ADDRESS", "HEALTH", "CLASS", "LAST ERROR");
	for (size_t i = 0; i < st->registry.n; i++) {
		const struct target *t = st->targets[i].target;

		printf("%-*s  %-7s  %-*s  %-*s  %-7s  %-11s  %s\n", (int)w_client, t->client_id,
		       target_kind_name(t->kind), (int)w_name, t->name ? t->name : "-", (int)w_addr, t->address,
		       st->targets[i].health, health_class_name(st->targets[i].klass), st->targets[i].last_error);
	}
	print_alerts(st);
}

/* One status report; CMD_FAIL when the session should run but does not. */
static int report(const struct session *s, int json, int clear)
{
	struct session_status st;
	int ret = CMD_FAIL;

	if (lifecycle_status(s, &st) < 0)
		goto out;
	if (clear)
		printf("\033[H\033[J");
	if (json)
		print_json(s, &st);
	else
		print_table(s, &st);
	ret = st.problem ? CMD_FAIL : CMD_OK;
out:
	session_status_release(&st);
	if (fflush(stdout) != 0 || ferror(stdout))
		ret = CMD_FAIL;
	return ret;
}

static int exec_status(struct cmd_args *args)
{
	const char *id = args_session(args);
	int json = args_flag(args, "json"), watch = args_flag(args, "watch"), clear;
	int64_t every_ms = 2000;
	struct session s;
	char *cause = NULL;
	int ret;

	if (!id)
		return CMD_USAGE;
	if (args->argc && !watch)
		return cmd_usage_error(args->entry, "unexpected argument '%.40s' (SECONDS goes with --watch)", args->argv[0]);
	if (args->argc && (parse_duration_ms(args->argv[0], 1000, &every_ms, &cause) < 0 || every_ms < 100 ||
			   every_ms > 3600 * 1000)) {
		ret = cmd_usage_error(args->entry, "invalid --watch interval '%.40s': expected 0.1 to 3600 seconds%s%s",
				      args->argv[0], cause ? ": " : "", cause ? cause : "");
		free(cause);
		return ret;
	}
	if (json)
		progress_quiet = 1;
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	/* a session that should run but does not is worth a non-zero exit for scripts */
	/* redrawn in place on a terminal; into a file or a pipe, one report after another */
	clear = watch && !json && isatty(STDOUT_FILENO);
	ret = report(&s, json, clear);
	while (watch) {
		sleep_ms(every_ms);
		ret = report(&s, json, clear);
	}
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.summary = "show the session's Prometheus job, readiness and targets' health",
	.usage = "--session ID [--json] [--watch [SECONDS]]",
	.description = "Show where the session's Prometheus runs (job, state, node), whether it answers\n"
		       "/-/ready, and the health of every registered target as Prometheus sees it.\n"
		       "A job that ended behind benchmon's back, or a Prometheus that died, is reported\n"
		       "and makes the exit status 1.\n"
		       "\n"
		       "Each target, and each node (the worst of its targets), is in one health class:\n"
		       "healthy, degraded (a warning alert firing: heat, power, memory, throttling, slow,\n"
		       "stale or flapping scrapes), critical (a critical alert firing: ECC, XID, a GPU\n"
		       "missing, critical heat or power), unreachable (its last scrape failed), or unknown\n"
		       "(not scraped yet). The counts come first, then the nodes, the targets and the\n"
		       "alerts with their GPU and since when. The alerts are those of the session's rules\n"
		       "(see 'benchmon session-create -h'), evaluated by Prometheus.",
	.opts = opts,
	.example = "  benchmon status --session bench01 --json | jq '.targets[] | select(.health != \"up\")'\n"
		   "  benchmon status --session bench01 --watch 5",
	.max_args = 1,
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_status,
};
