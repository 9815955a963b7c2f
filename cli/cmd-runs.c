#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/csvfile.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "results/runs.h"

#define DEFAULT_RESULTS_DIR "benchmon-results"

static const struct cmd_opt opts[] = {
	{ "json", NULL, "print the runs as a JSON array: window, labels, status, findings and session-wide KPIs" },
	{ "csv", NULL, "print the whole sweep as one CSV table: metrics_summary.csv's columns, then the labels and the directory" },
	{ NULL, NULL, NULL },
};

/* metrics_summary.csv's first KPI columns, in order */
static const char *const headline[] = {
	"throughput_qps", "cpu_util_avg_pct", "gpu_util_avg_pct", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
};
#define NHEADLINE (sizeof(headline) / sizeof(headline[0]))

static char *number(double v)
{
	if (isinf(v))
		return xstrdup(v > 0 ? "+Inf" : "-Inf");
	return xasprintf("%.10g", v);
}

/* "ok", the verdict collect gave, or what went wrong with the benchmark. */
static char *run_status(const struct run *r)
{
	if (r->has_command && r->interrupted)
		return xasprintf("%s,interrupted", r->verdict ? r->verdict : r->status);
	if (r->has_command && r->exit_status != 0)
		return xasprintf("%s,exit=%d", r->verdict ? r->verdict : r->status, r->exit_status);
	return xstrdup(r->verdict ? r->verdict : r->status);
}

static char *labels_text(const struct run *r)
{
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < r->nlabels; i++)
		strbuf_addf(&sb, "%s%s=%s", i ? "," : "", r->labels[i].key, r->labels[i].value);
	if (!sb.len)
		strbuf_addstr(&sb, "-");
	return strbuf_detach(&sb, NULL);
}

static void print_table(const struct run_list *l)
{
	printf("%-20s %-14s %-20s %8s  %-24s %-18s %12s %10s\n", "RUN", "SESSION", "FROM", "SECONDS", "LABELS",
	       "STATUS", "THROUGHPUT", "P99_MS");
	for (size_t i = 0; i < l->n; i++) {
		const struct run *r = &l->items[i];
		const struct run_kpi *qps = run_kpi_find(r, "throughput_qps", "session");
		const struct run_kpi *p99 = run_kpi_find(r, "latency_p99_ms", "session");
		char *from = format_time_ms(r->from_ms), *labels = labels_text(r), *status = run_status(r);
		char q[32] = "-", p[32] = "-";

		if (qps && qps->has_value)
			snprintf(q, sizeof(q), "%.2f", qps->value);
		if (p99 && p99->has_value)
			snprintf(p, sizeof(p), "%.2f", p99->value);
		printf("%-20s %-14s %-20s %8.1f  %-24s %-18s %12s %10s\n", r->run_id, r->session, from,
		       (double)(r->to_ms - r->from_ms) / 1000.0, labels, status, q, p);
		free(from);
		free(labels);
		free(status);
	}
}

static void print_json(const struct run_list *l)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < l->n; i++) {
		const struct run *r = &l->items[i];
		cJSON *o = cJSON_CreateObject(), *w, *labels, *kpis;

		cJSON_AddStringToObject(o, "run_id", r->run_id);
		cJSON_AddStringToObject(o, "session", r->session);
		cJSON_AddStringToObject(o, "dir", r->dir);
		w = cJSON_AddObjectToObject(o, "window");
		json_add_time(w, "from", r->from_ms);
		json_add_time(w, "to", r->to_ms);
		labels = cJSON_AddObjectToObject(o, "labels");
		for (size_t j = 0; j < r->nlabels; j++)
			cJSON_AddStringToObject(labels, r->labels[j].key, r->labels[j].value);
		cJSON_AddStringToObject(o, "status", r->status);
		json_add_string_or_null(o, "verdict", r->verdict);
		if (r->has_command) {
			cJSON_AddNumberToObject(o, "exit_status", r->exit_status);
			cJSON_AddBoolToObject(o, "interrupted", r->interrupted);
		}
		cJSON_AddNumberToObject(o, "findings", (double)r->nfindings);
		cJSON_AddNumberToObject(o, "strict_findings", (double)run_strict_findings(r));
		kpis = cJSON_AddObjectToObject(o, "kpis");
		for (size_t j = 0; j < r->nkpis; j++) {
			const struct run_kpi *k = &r->kpis[j];
			cJSON *kj;

			if (strcmp(k->scope, "session"))
				continue;
			kj = cJSON_AddObjectToObject(kpis, k->kpi);
			json_add_number_or_null(kj, "value", k->has_value, k->value);
			json_add_number_or_null(kj, "lower", k->has_bounds, k->lower);
			json_add_number_or_null(kj, "upper", k->has_bounds, k->upper);
			cJSON_AddStringToObject(kj, "unit", k->unit);
			cJSON_AddStringToObject(kj, "status", k->status);
		}
		cJSON_AddItemToArray(arr, o);
	}
	print_json_object(arr);
}

static int is_headline(const char *kpi)
{
	for (size_t i = 0; i < NHEADLINE; i++)
		if (!strcmp(kpi, headline[i]))
			return 1;
	return 0;
}

/* Add s to the list of names if it is not there yet. */
static void add_name(const char ***names, size_t *n, size_t *alloc, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*names)[i], s))
			return;
	if (*n == *alloc) {
		*alloc = *alloc ? 2 * *alloc : 16;
		*names = xrealloc(*names, *alloc * sizeof(char *));
	}
	(*names)[(*n)++] = s;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The sweep as one table: the columns of metrics_summary.csv, the union of every run's. */
static void print_csv(const struct run_list *l)
{
	const char **kpis = NULL, **keys = NULL, **row;
	size_t nk = 0, ak = 0, nl = 0, al = 0, ncols, c;
	struct strbuf sb = STRBUF_INIT;
	int verdict = 0;

	for (size_t i = 0; i < l->n; i++) {
		const struct run *r = &l->items[i];

		for (size_t j = 0; j < r->nkpis; j++)
			if (!strcmp(r->kpis[j].scope, "session") && !is_headline(r->kpis[j].kpi))
				add_name(&kpis, &nk, &ak, r->kpis[j].kpi);
		for (size_t j = 0; j < r->nlabels; j++)
			add_name(&keys, &nl, &al, r->labels[j].key);
		verdict |= r->verdict != NULL;
	}
	if (nl > 1)
		qsort(keys, nl, sizeof(char *), name_cmp);
	ncols = 4 + NHEADLINE + nk + 1 + (size_t)verdict + nl + 1;
	row = xcalloc(ncols, sizeof(char *));
	c = 0;
	row[c++] = "run_id", row[c++] = "session_id", row[c++] = "from", row[c++] = "to";
	for (size_t i = 0; i < NHEADLINE; i++)
		row[c++] = headline[i];
	for (size_t i = 0; i < nk; i++)
		row[c++] = kpis[i];
	row[c++] = "findings";
	if (verdict)
		row[c++] = "verdict";
	for (size_t i = 0; i < nl; i++)
		row[c++] = keys[i];
	row[c++] = "dir";
	csv_append_row(&sb, row, c);
	for (size_t i = 0; i < l->n; i++) {
		const struct run *r = &l->items[i];
		char **cells = xcalloc(ncols, sizeof(char *));

		c = 0;
		cells[c++] = xstrdup(r->run_id);
		cells[c++] = xstrdup(r->session);
		cells[c++] = format_time_ms(r->from_ms);
		cells[c++] = format_time_ms(r->to_ms);
		for (size_t j = 0; j < NHEADLINE + nk; j++) {
			const char *name = j < NHEADLINE ? headline[j] : kpis[j - NHEADLINE];
			const struct run_kpi *k = run_kpi_find(r, name, "session");

			cells[c++] = k && k->has_value ? number(k->value) : NULL;
		}
		cells[c++] = xasprintf("%zu", r->nfindings);
		if (verdict)
			cells[c++] = r->verdict ? xstrdup(r->verdict) : NULL;
		for (size_t j = 0; j < nl; j++)
			cells[c++] = run_label(r, keys[j]) ? xstrdup(run_label(r, keys[j])) : NULL;
		cells[c++] = xstrdup(r->dir);
		csv_append_row(&sb, (const char *const *)cells, c);
		for (size_t j = 0; j < c; j++)
			free(cells[j]);
		free(cells);
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	strbuf_release(&sb);
	free(row);
	free(kpis);
	free(keys);
}

static int exec_runs(struct cmd_args *args)
{
	static const char *const def[] = { DEFAULT_RESULTS_DIR };
	const char *const *dirs = args->argc ? (const char *const *)args->argv : def;
	size_t ndirs = args->argc ? (size_t)args->argc : 1;
	struct run_list l;

	if (args_flag(args, "json") && args_flag(args, "csv"))
		return cmd_usage_error(args->entry, "--json and --csv cannot be combined");
	if (runs_find(dirs, ndirs, &l) < 0)
		return CMD_FAIL;
	if (args_flag(args, "json"))
		print_json(&l);
	else if (args_flag(args, "csv"))
		print_csv(&l);
	else
		print_table(&l);
	run_list_release(&l);
	return CMD_OK;
}

const struct cmd_entry cmd_runs_entry = {
	.name = "runs",
	.summary = "list the finished runs under directories, or write a sweep as one CSV table",
	.usage = "[--json | --csv] [DIR...]",
	.description = "List every run (a directory with a MANIFEST.json written by 'collect' or 'run')\n"
		       "found in the DIRs and up to 4 levels below them (default: " DEFAULT_RESULTS_DIR "/,\n"
		       "where 'run' puts its runs), oldest window first: run id, session, window,\n"
		       "labels, status (the benchmark's exit status when it failed) and the headline\n"
		       "KPIs. --csv writes one table of all of them, metrics_summary.csv's columns\n"
		       "followed by one column per label, so a sweep is one file. A run whose manifest\n"
		       "cannot be read is skipped with a warning. Reads only.",
	.opts = opts,
	.example = "  benchmon runs sweep/\n"
		   "  benchmon runs --csv sweep/ > sweep.csv",
	.max_args = -1,
	.exec = exec_runs,
};
