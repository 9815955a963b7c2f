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

static void print_json(const struct session *s, const struct session_status *st)
{
	print_json_object(lifecycle_status_json(s, st));
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
