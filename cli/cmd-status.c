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

static void print_json(const struct session *s, const struct session_status *st)
{
	print_json_object(lifecycle_status_json(s, st));
}

/* The firing alerts, then the pending ones, one a line: what, where, since when. */
static void print_alerts(const struct session_status *st)
{
	int64_t now = now_ms();
	int shown = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < st->nalerts; i++) {
			const struct prom_alert *a = &st->alerts[i];
			const struct target *t = status_alert_target(st, a);
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
	const char **nodes = status_node_names(st, &nnodes);

	status_count_classes(st, counts);
	printf("health      %zu healthy, %zu degraded, %zu critical, %zu unreachable", counts[HEALTH_HEALTHY],
	       counts[HEALTH_DEGRADED], counts[HEALTH_CRITICAL], counts[HEALTH_UNREACHABLE]);
	if (counts[HEALTH_UNKNOWN])
		printf(", %zu unknown", counts[HEALTH_UNKNOWN]);
	printf(" (targets)\nnodes      ");
	for (size_t k = 0; k < nnodes; k++)
		printf(" %s %s%s", nodes[k], health_class_name(status_node_class(st, nodes[k])), k + 1 < nnodes ? "," : "");
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
	if (st->api.url && st->api.alive)
		printf("api         %s (pid %ld on %s)\n", st->api.url, st->api.pid, st->api.host);
	for (size_t i = 0; i < st->nheartbeats; i++)
		if (heartbeat_is_stale(&st->heartbeats[i], st->now_ms))
			printf("stale       client %s: no heartbeat for %lld s (timeout %lld s)\n",
			       st->heartbeats[i].client_id, (long long)((st->now_ms - st->heartbeats[i].at_ms) / 1000),
			       (long long)st->heartbeats[i].timeout_s);
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
