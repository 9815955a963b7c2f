#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "collect/collect.h"
#include "collect/window.h"
#include "lib/error.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "results/runs.h"
#include "session/session.h"
#include "session/validate.h"

/* a query unanswered for longer than this has hung, however big the window */
#define MAX_TIMEOUT_MS (24LL * 3600 * 1000)

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "from-iso", "TIME", "window start: RFC 3339 (2025-10-01T10:00:00Z, +02:00, fractions) or epoch seconds" },
	{ "to-iso", "TIME", "window end, included" },
	{ "last", "DURATION", "instead of --from-iso/--to-iso: the window ending now, e.g. 10m" },
	{ "window", "FILE", "instead of the times: the window.json a 'benchmon run' kept (its session and run id too, and the edges.json beside it)" },
	{ "out", "DIR", "where to write the artifacts (created if missing)" },
	{ "run-id", "R", "the run's id in the artifacts (default: $SLURM_JOB_ID[.$SLURM_STEP_ID], else the session id)" },
	{ "profile", "NAME|FILE", "query profile: a name in templates/profiles, or a JSON file (default: default)" },
	{ "step", "DURATION", "resolution of timeseries.csv and the per-step queries (default: the scrape interval, raised to stay under 11,000 points; without --step a gauge keeps about 2,000 points there)" },
	{ "timeout", "DURATION", "give up on a query Prometheus has not answered in this long (default: 2m, at most 24h; a bare number is seconds)" },
	{ "label", "KEY=VALUE...", "a label of the run, in MANIFEST.json and metrics_summary.csv, e.g. concurrency=8 (repeatable; default with --window: the run's)" },
	{ "strict", NULL, "exit 1 unless the window's verdict is VALID: no alert fired, no data-quality finding but for optional KPIs (for CI gating)" },
	{ "json", NULL, "print the KPIs and findings as JSON instead of a table" },
	{ NULL, NULL, NULL },
};

static int parse_window(struct cmd_args *args, struct collect_options *o, char **cause)
{
	const char *from = args_get(args, "from-iso"), *to = args_get(args, "to-iso"), *last = args_get(args, "last");
	int64_t span;

	if (last) {
		if (from || to) {
			*cause = xstrdup("--last cannot be combined with --from-iso or --to-iso");
			return -1;
		}
		if (parse_duration_ms(last, 0, &span, cause) < 0)
			return -1;
		o->to_ms = now_ms() / 1000 * 1000;
		o->from_ms = o->to_ms - span;
		return 0;
	}
	if (!from || !to) {
		*cause = xstrdup("give the window with --from-iso and --to-iso, or --last");
		return -1;
	}
	if (parse_time_ms(from, &o->from_ms, cause) < 0 || parse_time_ms(to, &o->to_ms, cause) < 0)
		return -1;
	if (o->from_ms >= o->to_ms) {
		*cause = xasprintf("--from-iso '%s' must be before --to-iso '%s'", from, to);
		return -1;
	}
	if (o->to_ms > now_ms() + 60000) {
		*cause = xasprintf("--to-iso '%s' is in the future", to);
		return -1;
	}
	return 0;
}

static void print_table(const struct collect_result *res, const char *out_dir)
{
	const struct kpi_report *r = &res->report;

	printf("%-28s %-22s %14s  %-6s %s\n", "KPI", "SCOPE", "VALUE", "UNIT", "STATUS");
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *k = &r->results[i];
		char value[64] = "";

		if (k->has_value)
			snprintf(value, sizeof(value), "%.3f", k->value);
		printf("%-28s %-22s %14s  %-6s %s", k->kpi, k->scope, value, k->unit, k->status);
		if (k->has_bounds)
			printf(" [%.3f, %s%.3f]", k->lower, isinf(k->upper) ? "+" : "", isinf(k->upper) ? INFINITY : k->upper);
		printf("\n");
	}
	if (r->nfindings) {
		printf("\n%zu finding%s:\n", r->nfindings, r->nfindings == 1 ? "" : "s");
		for (size_t i = 0; i < r->nfindings; i++)
			printf("  %-16s %s\n", r->findings[i].kind, r->findings[i].message);
	}
	printf("\nverdict: %s\n", res->verdict.verdict);
	for (size_t i = 0; i < res->verdict.nreasons; i++)
		printf("  %s\n", res->verdict.reasons[i]);
	printf("\nartifacts in %s: metrics_summary.csv kpis.csv timeseries.csv MANIFEST.json\n", out_dir);
}

static void print_json(const struct collect_result *res)
{
	cJSON *root = cJSON_CreateObject(), *window;
	char *text;

	cJSON_AddStringToObject(root, "session", res->session);
	cJSON_AddStringToObject(root, "run_id", res->run_id);
	window = cJSON_AddObjectToObject(root, "window");
	json_add_time(window, "from", res->from_ms);
	json_add_time(window, "to", res->to_ms);
	cJSON_AddStringToObject(root, "status", res->nfindings ? "ok_with_findings" : "ok");
	cJSON_AddNumberToObject(root, "strict_findings", (double)res->nstrict);
	cJSON_AddStringToObject(root, "manifest", res->manifest_path);
	cJSON_AddItemToObject(root, "kpis", collect_kpis_json(&res->report));
	cJSON_AddItemToObject(root, "findings", collect_findings_json(&res->report));
	cJSON_AddItemToObject(root, "verdict", collect_verdict_json(&res->verdict));
	text = cJSON_Print(root);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(root);
}

void collect_print(const struct collect_result *res, const char *out_dir, int json)
{
	if (json)
		print_json(res);
	else
		print_table(res, out_dir);
}

/* name in the directory of the file at path. Caller frees. */
static char *window_sibling(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');

	return slash ? xasprintf("%.*s/%s", (int)(slash - path), path, name) : xstrdup(name);
}

static int exec_collect(struct cmd_args *args)
{
	const char *window = args_get(args, "window"), *id, *v;
	struct collect_options o = { 0 };
	struct collect_result res;
	struct window_file wf = { 0 };
	char *run_id = NULL, *cause = NULL, *edges = NULL;
	struct session s;
	struct run_label *labels = NULL;
	size_t nlabels = 0, nargs;
	const char *const *label_args = args_list(args, "label", &nargs);
	int ret;

	if (window) {
		if (args_get(args, "from-iso") || args_get(args, "to-iso") || args_get(args, "last"))
			return cmd_usage_error(args->entry, "--window cannot be combined with --from-iso, --to-iso or --last");
		if (window_file_read(window, &wf) < 0)
			return CMD_FAIL;
		o.from_ms = wf.from_ms;
		o.to_ms = wf.to_ms;
		edges = window_sibling(window, "edges.json");
		o.edges_path = edges;
		if (!args_get(args, "session"))
			setenv("BENCHMON_SESSION", wf.session, 1);
	}
	id = args_session(args);
	if (!id) {
		window_file_release(&wf);
		free(edges);
		return CMD_USAGE;
	}
	if (!window && parse_window(args, &o, &cause) < 0)
		goto usage;
	o.out_dir = args_get(args, "out");
	if (!o.out_dir) {
		cause = xstrdup("missing --out DIR");
		goto usage;
	}
	if (!*o.out_dir) {
		cause = xstrdup("--out must not be empty");
		goto usage;
	}
	if (args_get(args, "run-id"))
		run_id = xstrdup(args_get(args, "run-id"));
	else
		run_id = wf.run_id ? xstrdup(wf.run_id) : default_run_id(id);
	o.run_id = run_id;
	if (validate_id("run id", o.run_id, &cause) < 0)
		goto usage;
	o.profile = args_get(args, "profile") ? args_get(args, "profile") : "default";
	/* a run's labels come back with its window, unless others are given */
	if (!nargs && wf.labels) {
		for (nargs = 0; wf.labels[nargs]; nargs++)
			;
		label_args = (const char *const *)wf.labels;
	}
	if (run_labels_parse(label_args, nargs, &labels, &nlabels, &cause) < 0)
		goto usage;
	o.labels = labels;
	o.nlabels = nlabels;
	if ((v = args_get(args, "step")) && parse_duration_ms(v, 1000, &o.step_ms, &cause) < 0)
		goto usage;
	if ((v = args_get(args, "timeout")) && parse_duration_ms(v, 1000, &o.timeout_ms, &cause) < 0)
		goto usage;
	if (o.timeout_ms > MAX_TIMEOUT_MS) {
		cause = xasprintf("--timeout '%s' is over a day", v);
		goto usage;
	}
	if (args_flag(args, "json"))
		progress_quiet = 1;
	ret = CMD_FAIL;
	if (session_load(id, &s) < 0)
		goto out;
	ret = collect_run(&s, &o, &res) < 0 ? CMD_FAIL : CMD_OK;
	if (ret == CMD_OK) {
		collect_print(&res, o.out_dir, args_flag(args, "json"));
		if (args_flag(args, "strict") && strcmp(res.verdict.verdict, "VALID")) {
			error("the window's verdict is %s, not VALID (--strict): %zu reason%s among its alerts, "
			      "throttling and data-quality findings", res.verdict.verdict, res.verdict.nreasons,
			      res.verdict.nreasons == 1 ? "" : "s");
			ret = CMD_FAIL;
		}
		collect_result_release(&res);
	}
	session_release(&s);
	goto out;
usage:
	ret = cmd_usage_error(args->entry, "%s", cause);
out:
	free(cause);
	free(run_id);
	free(edges);
	run_labels_release(labels, nlabels);
	window_file_release(&wf);
	return ret;
}

const struct cmd_entry cmd_collect_entry = {
	.name = "collect",
	.summary = "compute a benchmark window's KPIs into metrics_summary.csv and MANIFEST.json",
	.usage = "--session ID (--from-iso T --to-iso T | --last 10m | --window FILE) --out DIR [--run-id R] [--profile FILE] [--label K=V]... [--step S] [--timeout D] [--strict] [--json]",
	.description = "Query the session's Prometheus for one benchmark window and compute its KPIs over\n"
		       "the whole window: throughput from counter increases (resets handled), latency\n"
		       "percentiles from histogram buckets summed over the window, each with the bucket\n"
		       "bounds that contain it, CPU/memory/network and GPU figures. Works while Prometheus\n"
		       "runs and after 'stop', from the saved TSDB. A KPI without data is an empty cell\n"
		       "with status no_data and a finding, never 0; a KPI of an exporter kind the session\n"
		       "has no target of (GPU KPIs on a CPU-only node) is not_applicable, without a finding.\n"
		       "Every file is written atomically and MANIFEST.json last.",
	.opts = opts,
	.example = "  benchmon collect --session bench01 --from-iso 2025-10-01T10:00:00Z \\\n"
		   "      --to-iso 2025-10-01T10:10:00Z --out results/metrics --run-id run01",
	.flags = CMD_NEEDS_HTTP | CMD_HUGE_PAGES,
	.exec = exec_collect,
};
