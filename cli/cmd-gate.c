#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "results/reference.h"
#include "results/runs.h"

static const struct cmd_opt opts[] = {
	{ "reference", "FILE", "the references to check against (JSON; 'benchmon compare --write-reference' writes one)" },
	{ "junit", "FILE", "also write the result as JUnit XML, for CI systems to display" },
	{ "strict", NULL, "exit 1 when the run is INVALID for any reason, not only a failed error-severity reference" },
	{ "json", NULL, "print the result as JSON" },
	{ NULL, NULL, NULL },
};

static char *bound_text(double v)
{
	return isinf(v) ? xstrdup(v > 0 ? "+Inf" : "-Inf") : xasprintf("%.6g", v);
}

static void print_text(const struct run *r, const struct gate_report *g)
{
	printf("%-6s %-8s %-32s %14s  %s\n", "RESULT", "SEVERITY", "KPI", "VALUE", "ALLOWED");
	for (size_t i = 0; i < g->n; i++) {
		const struct gate_result *res = &g->results[i];
		char *name = strcmp(res->ref->scope, "session") ? xasprintf("%s [%s]", res->ref->kpi, res->ref->scope)
							     : xstrdup(res->ref->kpi);
		char value[32] = "-";

		if (res->has_value)
			snprintf(value, sizeof(value), "%.6g", res->value);
		if (res->outcome == GATE_SKIP) {
			printf("%-6s %-8s %-32s %14s  (%s)\n", "SKIP", res->ref->warning ? "warning" : "error", name, "",
			       res->message);
		} else {
			char *lo = bound_text(res->min), *hi = bound_text(res->max);

			printf("%-6s %-8s %-32s %14s  [%s, %s]%s%s\n", gate_outcome_name(res->outcome),
			       res->ref->warning ? "warning" : "error", name, value, lo, hi,
			       res->outcome == GATE_FAIL && !res->has_value ? " " : "",
			       res->outcome == GATE_FAIL && !res->has_value ? res->message : "");
			free(lo);
			free(hi);
		}
		free(name);
	}
	printf("\n%s: %zu passed, %zu failed (%zu warning%s), %zu skipped\n", r->run_id, g->passed,
	       g->failed_errors + g->failed_warnings, g->failed_warnings, g->failed_warnings == 1 ? "" : "s",
	       g->skipped);
	if (!g->nreasons) {
		printf("VALID\n");
		return;
	}
	printf("INVALID\n");
	for (size_t i = 0; i < g->nreasons; i++)
		printf("  %s\n", g->reasons[i]);
}

static void print_json(const struct run *r, const struct gate_report *g)
{
	cJSON *root = cJSON_CreateObject(), *arr;

	cJSON_AddStringToObject(root, "run_id", r->run_id);
	cJSON_AddStringToObject(root, "dir", r->dir);
	cJSON_AddStringToObject(root, "verdict", g->nreasons ? "INVALID" : "VALID");
	arr = cJSON_AddArrayToObject(root, "reasons");
	for (size_t i = 0; i < g->nreasons; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(g->reasons[i]));
	arr = cJSON_AddArrayToObject(root, "results");
	for (size_t i = 0; i < g->n; i++) {
		const struct gate_result *res = &g->results[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kpi", res->ref->kpi);
		cJSON_AddStringToObject(o, "scope", res->ref->scope);
		cJSON_AddStringToObject(o, "result", gate_outcome_name(res->outcome));
		cJSON_AddStringToObject(o, "severity", res->ref->warning ? "warning" : "error");
		json_add_number_or_null(o, "value", res->has_value, res->value);
		cJSON_AddNumberToObject(o, "ref", res->ref->ref);
		json_add_number_or_null(o, "min", res->outcome != GATE_SKIP, res->min);
		json_add_number_or_null(o, "max", res->outcome != GATE_SKIP, res->max);
		json_add_string_or_null(o, "message", res->message);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "passed", (double)g->passed);
	cJSON_AddNumberToObject(root, "failed_errors", (double)g->failed_errors);
	cJSON_AddNumberToObject(root, "failed_warnings", (double)g->failed_warnings);
	cJSON_AddNumberToObject(root, "skipped", (double)g->skipped);
	json_add_string_or_null(root, "error", NULL);
	print_json_object(root);
}

static int exec_gate(struct cmd_args *args)
{
	const char *refpath = args_get(args, "reference"), *junit = args_get(args, "junit");
	struct reference_set set = { 0 };
	struct gate_report g = { 0 };
	struct run r = { 0 };
	int ret = CMD_FAIL, loaded = 0;

	if (args->argc != 1)
		return cmd_usage_error(args->entry, "give one run directory");
	if (!refpath || !*refpath)
		return cmd_usage_error(args->entry, "missing --reference FILE");
	if (junit && !*junit)
		return cmd_usage_error(args->entry, "--junit must not be empty");
	if (reference_load(refpath, &set) < 0)
		return CMD_FAIL;
	if (run_load(args->argv[0], &r) < 0)
		goto out;
	loaded = 1;
	gate_evaluate(&r, &set, &g);
	if (junit) {
		struct strbuf sb = STRBUF_INIT;
		int wrote;

		gate_junit(&r, &g, &sb);
		wrote = write_file_atomic(junit, sb.buf, sb.len, results_mode(0666));
		strbuf_release(&sb);
		if (wrote < 0)
			goto out;
	}
	if (args_flag(args, "json"))
		print_json(&r, &g);
	else
		print_text(&r, &g);
	ret = CMD_OK;
	if (g.failed_errors || (args_flag(args, "strict") && g.nreasons))
		ret = CMD_FAIL;
out:
	gate_report_release(&g);
	if (loaded)
		run_release(&r);
	reference_set_release(&set);
	return ret;
}

const struct cmd_entry cmd_gate_entry = {
	.name = "gate",
	.summary = "check a run against performance references: PASS/FAIL per KPI, VALID/INVALID, JUnit XML",
	.usage = "RUN --reference FILE [--junit FILE] [--strict] [--json]",
	.description = "Check the run in directory RUN against each reference of FILE (JSON: per KPI,\n"
		       "optionally per scope and run label, \"ref\" and \"lower\"/\"upper\" as fractions of\n"
		       "it, as ReFrame has them, and a \"severity\" of error or warning). Prints PASS, FAIL\n"
		       "or SKIP (labels that do not match) per reference, then VALID, or INVALID with each\n"
		       "reason: failed error-severity references, the run's data-quality findings (those\n"
		       "about optional KPIs aside), and a benchmark that failed or was interrupted.\n"
		       "Exits 1 when an error-severity reference fails (with --strict, when INVALID).\n"
		       "A KPI without a value fails its reference. 'benchmon compare A --write-reference\n"
		       "FILE' writes a reference file from a baseline run.",
	.opts = opts,
	.example = "  benchmon compare baseline/ --write-reference ref.json\n"
		   "  benchmon gate benchmon-results/1240 --reference ref.json --junit gate.xml",
	.max_args = 1,
	.exec = exec_gate,
};
