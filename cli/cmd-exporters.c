#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/exporters.h"
#include "session/session.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "job", "JOBID", "start: the running Slurm job whose nodes get exporters (default: $SLURM_JOB_ID, this allocation)" },
	{ "nodes", "LIST", "start: only these nodes of the job, a Slurm host list such as n[1-4] (default: all of them)" },
	{ "node-exporter", NULL, "start: run node_exporter on each node (the default when no exporter is named)" },
	{ "dcgm-exporter", NULL, "start: run a DCGM exporter on each node where one is installed (dcgm-exporter on PATH)" },
	{ "wait", "SECONDS", "start: how long to wait for every node to report (default 60)" },
	{ "json", NULL, "print the exporters, node by node, as one JSON object" },
	{ NULL, NULL, NULL },
};

static const char *up_word(int up)
{
	return up > 0 ? "up" : up == 0 ? "down" : "";
}

static void add_up(cJSON *obj, const char *key, int up)
{
	if (up < 0)
		cJSON_AddNullToObject(obj, key);
	else
		cJSON_AddBoolToObject(obj, key, up);
}

static void print_report(const struct session *s, const struct exporters_report *r, int json, const char *error_text)
{
	if (json) {
		cJSON *root = cJSON_CreateObject(), *nodes;

		cJSON_AddStringToObject(root, "session", s->id);
		json_add_string_or_null(root, "job_id", r->job_id);
		json_add_string_or_null(root, "step", r->step);
		cJSON_AddBoolToObject(root, "step_running", r->step_running);
		nodes = cJSON_AddArrayToObject(root, "nodes");
		for (size_t i = 0; i < r->n; i++) {
			const struct exporters_node *n = &r->nodes[i];
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "node", n->node);
			json_add_string_or_null(o, "address", n->address);
			json_add_string_or_null(o, "address_source", n->address_source);
			cJSON_AddStringToObject(o, "state", n->state);
			json_add_string_or_null(o, "error", n->error);
			json_add_string_or_null(o, "node_exporter", n->node_exporter);
			add_up(o, "node_exporter_up", n->node_up);
			json_add_string_or_null(o, "dcgm_exporter", n->dcgm_exporter);
			add_up(o, "dcgm_exporter_up", n->dcgm_up);
			json_add_string_or_null(o, "dcgm_note", n->dcgm_note);
			cJSON_AddItemToArray(nodes, o);
		}
		cJSON_AddNumberToObject(root, "failed", (double)r->failed);
		json_add_string_or_null(root, "error", error_text);
		print_json_object(root);
		return;
	}
	if (!r->n) {
		printf("session '%s' has no exporters\n", s->id);
		return;
	}
	printf("exporters of session '%s': job %s, step %s\n", s->id, r->job_id,
	       r->step ? r->step : "(no longer listed by Slurm)");
	printf("%-12s %-16s %-26s %-26s %s\n", "NODE", "ADDRESS", "NODE_EXPORTER", "DCGM_EXPORTER", "STATE");
	for (size_t i = 0; i < r->n; i++) {
		const struct exporters_node *n = &r->nodes[i];
		char *ne = xasprintf("%s %s", n->node_exporter ? n->node_exporter : "-", up_word(n->node_up));
		char *dc = xasprintf("%s %s", n->dcgm_exporter ? n->dcgm_exporter : "-", up_word(n->dcgm_up));

		printf("%-12s %-16s %-26s %-26s %s%s%s\n", n->node, n->address ? n->address : "-", ne, dc, n->state,
		       n->error ? ": " : "", n->error ? n->error : "");
		if (n->dcgm_note)
			printf("%-12s note: %s\n", "", n->dcgm_note);
		free(ne);
		free(dc);
	}
}

static int exec_exporters(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *id = args_session(args), *verb, *v;
	struct exporters_options o = { 0 };
	struct exporters_report r = { 0 };
	struct session s = { 0 };
	char *cause = NULL;
	int json = args_flag(args, "json"), ret = CMD_FAIL, res;

	if (!id)
		return CMD_USAGE;
	if (args->argc != 1)
		return cmd_usage_error(e, "name one of start, status or stop");
	verb = args->argv[0];
	if (strcmp(verb, "start") && strcmp(verb, "status") && strcmp(verb, "stop") && strcmp(verb, "node"))
		return cmd_usage_error(e, "unknown exporters command '%s' (start, status or stop)", verb);
	if (strcmp(verb, "start") && (args_get(args, "job") || args_get(args, "nodes") || args_get(args, "wait") ||
				      args_flag(args, "node-exporter") || args_flag(args, "dcgm-exporter")))
		return cmd_usage_error(e, "--job, --nodes, --wait and the exporter flags apply to 'exporters start'");
	o.job_id = args_get(args, "job");
	o.nodes = args_get(args, "nodes");
	o.node_exporter = args_flag(args, "node-exporter");
	o.dcgm_exporter = args_flag(args, "dcgm-exporter");
	if (!o.node_exporter && !o.dcgm_exporter)
		o.node_exporter = 1;
	o.wait_ms = 60 * 1000;
	if (o.job_id && (!*o.job_id || strspn(o.job_id, "0123456789") != strlen(o.job_id)))
		return cmd_usage_error(e, "--job: invalid Slurm job id '%.40s'", o.job_id);
	if (o.nodes && (!*o.nodes || strcspn(o.nodes, " \t\n'\"") != strlen(o.nodes)))
		return cmd_usage_error(e, "--nodes: invalid Slurm host list '%.40s'", o.nodes);
	if ((v = args_get(args, "wait")) && parse_duration_ms(v, 1000, &o.wait_ms, &cause) < 0) {
		ret = cmd_usage_error(e, "--wait: %s", cause);
		free(cause);
		return ret;
	}
	if (!strcmp(verb, "start") && !o.job_id && !(getenv("SLURM_JOB_ID") && *getenv("SLURM_JOB_ID")))
		return cmd_usage_error(e, "not inside a Slurm allocation: give the job whose nodes get exporters with --job JOBID");
	if (json)
		progress_quiet = 1;
	if (session_load(id, &s) < 0)
		goto out;
	if (!strcmp(verb, "node")) {
		ret = exporters_node_task(&s) < 0 ? CMD_FAIL : CMD_OK;
		goto out;
	}
	if (!strcmp(verb, "start"))
		res = exporters_start(&s, &o, &r);
	else if (!strcmp(verb, "status"))
		res = exporters_status(&s, &r);
	else
		res = exporters_stop(&s, &r);
	/* a start that failed on some nodes still shows them all, and why */
	if (res == 0 || r.n) {
		print_report(&s, &r, json,
			     res < 0 ? (r.failed ? "the exporters of some nodes did not start" : "failed") : NULL);
	} else if (json) {
		cJSON *root = cJSON_CreateObject();

		cJSON_AddStringToObject(root, "session", s.id);
		cJSON_AddStringToObject(root, "error", "failed; see the messages on stderr");
		print_json_object(root);
	}
	ret = res < 0 ? CMD_FAIL : CMD_OK;
out:
	exporters_report_release(&r);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_exporters_entry = {
	.name = "exporters",
	.summary = "run node (and DCGM) exporters on every node of a Slurm allocation",
	.usage = "start|status|stop --session ID [--job JOBID] [--nodes LIST] [--node-exporter] [--dcgm-exporter] "
		 "[--wait SECONDS] [--json]",
	.description =
		"start: run one Slurm job step over the job's nodes (all of them, or --nodes), sharing\n"
		"the job's resources; on each node it starts node_exporter (and, with --dcgm-exporter,\n"
		"a DCGM exporter where one is installed) on the node's address and a free port, and\n"
		"registers them as that node's client (client id and node: the node's name). The\n"
		"address is what the node's name resolves to, or Slurm's NodeAddr where it does not.\n"
		"Inside an allocation the job is $SLURM_JOB_ID; elsewhere give --job. A node whose\n"
		"exporter fails is named with the reason, and the others run on (exit 1).\n"
		"status: the step as Slurm lists it, and each exporter asked for /metrics.\n"
		"stop: cancel the step. The exporters also end with the job; they never outlive it.",
	.opts = opts,
	.example = "  benchmon exporters start --session bench01 --dcgm-exporter      # inside the job\n"
		   "  benchmon exporters start --session bench01 --job 4242 --nodes 'gpu[1-4]'\n"
		   "  benchmon exporters status --session bench01\n"
		   "  benchmon exporters stop --session bench01",
	.max_args = 1,
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_exporters,
};
