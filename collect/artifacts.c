#include "collect/artifacts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/csvfile.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/labels.h"

#define MANIFEST_SCHEMA 1

/* Longest number_text: "%.6f" of -DBL_MAX has 309 digits before the point. */
#define NUMBER_TEXT_MAX 330

/*
 * A number for a CSV cell, into buf: plain decimal, no exponent, at most 6
 * decimals, trailing zeros trimmed. Returns its length.
 */
static size_t format_number(double v, char buf[NUMBER_TEXT_MAX])
{
	int n;

	if (isinf(v))
		return (size_t)snprintf(buf, NUMBER_TEXT_MAX, "%s", v > 0 ? "+Inf" : "-Inf");
	n = snprintf(buf, NUMBER_TEXT_MAX, "%.6f", v);
	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!strcmp(buf, "-0"))
		buf[0] = '0', buf[1] = '\0', n = 1;
	return (size_t)n;
}

static char *number_text(double v)
{
	char buf[NUMBER_TEXT_MAX];

	format_number(v, buf);
	return xstrdup(buf);
}

static const struct kpi_result *find_result(const struct kpi_report *r, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < r->nresults; i++)
		if (!strcmp(r->results[i].kpi, kpi) && !strcmp(r->results[i].scope, scope))
			return &r->results[i];
	return NULL;
}

/* A manifest's entry for a file holding sb: its name, size and sha256. */
static cJSON *file_entry(const char *name, const struct strbuf *sb)
{
	struct sha256_ctx ctx;
	unsigned char digest[32];
	char hex[65];
	cJSON *f = cJSON_CreateObject();

	sha256_init(&ctx);
	sha256_update(&ctx, sb->buf, sb->len);
	sha256_final(&ctx, digest);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	cJSON_AddStringToObject(f, "name", name);
	cJSON_AddNumberToObject(f, "size", (double)sb->len);
	cJSON_AddStringToObject(f, "sha256", hex);
	return f;
}

/* Write one artifact atomically and remember it, with its size and sha256, for the manifest. */
static int write_artifact(const char *dir, const char *name, const struct strbuf *sb, cJSON *files)
{
	char *path = xasprintf("%s/%s", dir, name);
	int ret = -1;

	if (write_file_atomic(path, sb->buf, sb->len, results_mode(0666)) < 0)
		goto out;
	/* hash what was written, from memory: re-reading a 100 MB file costs a second */
	cJSON_AddItemToArray(files, file_entry(name, sb));
	ret = 0;
out:
	free(path);
	return ret;
}

/* metrics_summary.csv's first columns, always present, empty when a KPI has no value */
static const char *const mvp_columns[] = {
	"throughput_qps", "cpu_util_avg_pct", "gpu_util_avg_pct", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
};

static int is_mvp_column(const char *kpi)
{
	for (size_t i = 0; i < sizeof(mvp_columns) / sizeof(mvp_columns[0]); i++)
		if (!strcmp(kpi, mvp_columns[i]))
			return 1;
	return 0;
}

static void summary_csv(const struct collect_options *o, const struct session *s, const struct kpi_report *r,
			const struct verdict *v, struct strbuf *sb)
{
	const char **header = xcalloc(r->nresults + 16, sizeof(char *));
	char **cells = xcalloc(r->nresults + 16, sizeof(char *));
	size_t n = 0;

	header[n] = "run_id", cells[n++] = xstrdup(o->run_id);
	header[n] = "session_id", cells[n++] = xstrdup(s->id);
	header[n] = "from", cells[n++] = format_time_ms(o->from_ms);
	header[n] = "to", cells[n++] = format_time_ms(o->to_ms);
	for (size_t i = 0; i < sizeof(mvp_columns) / sizeof(mvp_columns[0]); i++) {
		const struct kpi_result *res = find_result(r, mvp_columns[i], "session");

		header[n] = mvp_columns[i];
		cells[n++] = res && res->has_value ? number_text(res->value) : xstrdup("");
	}
	header[n] = "verdict", cells[n++] = xstrdup(v->verdict);
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];

		if (strcmp(res->scope, "session") || is_mvp_column(res->kpi))
			continue;
		header[n] = res->kpi;
		cells[n++] = res->has_value ? number_text(res->value) : xstrdup("");
	}
	header[n] = "findings";
	cells[n++] = xasprintf("%zu", r->nfindings);
	header = xrealloc(header, (n + o->nlabels) * sizeof(char *));
	cells = xrealloc(cells, (n + o->nlabels) * sizeof(char *));
	for (size_t i = 0; i < o->nlabels; i++) {
		header[n] = o->labels[i].key;
		cells[n++] = xstrdup(o->labels[i].value);
	}
	csv_append_row(sb, header, n);
	csv_append_row(sb, (const char *const *)cells, n);
	for (size_t i = 0; i < n; i++)
		free(cells[i]);
	free(cells);
	free(header);
}

static void kpis_csv(const struct kpi_report *r, struct strbuf *sb)
{
	static const char *const header[] = { "kpi", "scope", "value", "unit", "lower", "upper", "samples", "status",
					      "method" };

	csv_append_row(sb, header, 9);
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];
		char *value = res->has_value ? number_text(res->value) : xstrdup("");
		char *lower = res->has_bounds ? number_text(res->lower) : xstrdup("");
		char *upper = res->has_bounds ? number_text(res->upper) : xstrdup("");
		char *samples = xasprintf("%zu", res->samples);
		const char *row[] = { res->kpi, res->scope, value, res->unit, lower, upper, samples, res->status,
				      res->method };

		csv_append_row(sb, row, 9);
		free(value);
		free(lower);
		free(upper);
		free(samples);
	}
}

/*
 * timeseries.csv: every KPI's session-wide, per-node and per-GPU value at
 * every step, for plotting (benchmon report draws a small chart of each).
 * Per-service values are in kpis.csv only: their series would multiply this
 * file by the number of services for lines that mostly repeat the node's.
 * Times are formatted once per step, and rows go straight into the buffer.
 */
static void timeseries_csv(const struct kpi_window *w, const struct kpi_report *r, struct strbuf *sb)
{
	static const char *const header[] = { "kpi", "scope", "time", "value", "unit" };
	char **times = xcalloc(w->nsteps + 1, sizeof(char *));
	size_t *time_len = xcalloc(w->nsteps + 1, sizeof(size_t));

	csv_append_row(sb, header, 5);
	for (size_t j = 0; j < w->nsteps; j++) {
		times[j] = format_time_ms(w->start_ms + (int64_t)j * w->step_ms);
		time_len[j] = strlen(times[j]);
	}
	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *res = &r->results[i];
		struct strbuf prefix = STRBUF_INIT, unit = STRBUF_INIT;
		const char *cells[] = { res->kpi, res->scope }, *unit_cell[] = { res->unit };

		if (strcmp(res->scope, "session") && strncmp(res->scope, LABEL_NODE "=", sizeof(LABEL_NODE)) &&
		    strncmp(res->scope, LABEL_GPU "=", sizeof(LABEL_GPU)))
			continue;
		csv_append_row(&prefix, cells, 2);
		prefix.buf[--prefix.len] = '\0';  /* drop the newline: the row goes on */
		csv_append_row(&unit, unit_cell, 1);
		unit.buf[--unit.len] = '\0';
		for (size_t j = 0; j < w->nsteps; j++) {
			char v[NUMBER_TEXT_MAX];
			size_t vlen;

			if (isnan(res->steps[j]))
				continue;
			/* 10,000s of rows: plain appends, no format string to interpret per row */
			vlen = format_number(res->steps[j], v);
			strbuf_add(sb, prefix.buf, prefix.len);
			strbuf_addch(sb, ',');
			strbuf_add(sb, times[j], time_len[j]);
			strbuf_addch(sb, ',');
			strbuf_add(sb, v, vlen);
			strbuf_addch(sb, ',');
			strbuf_add(sb, unit.buf, unit.len);
			strbuf_addch(sb, '\n');
		}
		strbuf_release(&prefix);
		strbuf_release(&unit);
	}
	for (size_t j = 0; j < w->nsteps; j++)
		free(times[j]);
	free(times);
	free(time_len);
}

/* Targets and how up they were during the window, from the up series. */
static cJSON *targets_json(const struct series_set *up)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < up->n; i++) {
		const struct series *s = &up->items[i];
		cJSON *t = cJSON_CreateObject();
		size_t ups = 0;

		for (size_t j = 0; j < s->n; j++)
			ups += s->v[j] == 1;
		json_add_string_or_null(t, "client_id", series_label(s, LABEL_CLIENT_ID));
		json_add_string_or_null(t, "kind", series_label(s, LABEL_KIND));
		json_add_string_or_null(t, "name", series_label(s, LABEL_SERVICE));
		json_add_string_or_null(t, "node", series_label(s, LABEL_NODE));
		json_add_string_or_null(t, "address", series_label(s, "instance"));
		cJSON_AddStringToObject(t, "health", !s->n ? "unknown" : ups == s->n ? "up" : ups ? "flapping" : "down");
		cJSON_AddNumberToObject(t, "up_ratio", s->n ? (double)ups / (double)s->n : 0);
		cJSON_AddItemToArray(arr, t);
	}
	return arr;
}

/* What MANIFEST.json says of the benchmark run: its command, how it ended, when. */
static cJSON *run_json(const struct window_file *wf)
{
	cJSON *obj = cJSON_CreateObject(), *cmd = cJSON_AddArrayToObject(obj, "command");

	for (size_t i = 0; wf->command && wf->command[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(wf->command[i]));
	if (wf->exit_status >= 0)
		cJSON_AddNumberToObject(obj, "exit_status", wf->exit_status);
	else
		cJSON_AddNullToObject(obj, "exit_status");
	cJSON_AddBoolToObject(obj, "interrupted", wf->interrupted_by != NULL);
	json_add_string_or_null(obj, "interrupted_by", wf->interrupted_by);
	json_add_time(obj, "started", wf->started_ms);
	json_add_time(obj, "ended", wf->ended_ms);
	return obj;
}

cJSON *collect_kpis_json(const struct kpi_report *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < r->nresults; i++) {
		const struct kpi_result *k = &r->results[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kpi", k->kpi);
		cJSON_AddStringToObject(o, "scope", k->scope);
		json_add_number_or_null(o, "value", k->has_value, k->value);
		cJSON_AddStringToObject(o, "unit", k->unit);
		json_add_number_or_null(o, "lower", k->has_bounds, k->lower);
		json_add_number_or_null(o, "upper", k->has_bounds, k->upper);
		cJSON_AddNumberToObject(o, "samples", (double)k->samples);
		cJSON_AddStringToObject(o, "status", k->status);
		json_add_string_or_null(o, "reason", k->reason);
		json_add_string_or_null(o, "method", k->method);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

cJSON *collect_findings_json(const struct kpi_report *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < r->nfindings; i++) {
		const struct finding *f = &r->findings[i];
		cJSON *fj = cJSON_CreateObject();

		cJSON_AddStringToObject(fj, "kind", f->kind);
		cJSON_AddStringToObject(fj, "subject", f->subject);
		cJSON_AddStringToObject(fj, "message", f->message);
		cJSON_AddBoolToObject(fj, "optional", f->optional);
		if (f->from_ms) {
			json_add_time(fj, "from", f->from_ms);
			json_add_time(fj, "to", f->to_ms);
		}
		cJSON_AddItemToArray(arr, fj);
	}
	return arr;
}

cJSON *collect_verdict_json(const struct verdict *v)
{
	cJSON *o = cJSON_CreateObject(), *reasons;

	cJSON_AddStringToObject(o, "verdict", v->verdict);
	reasons = cJSON_AddArrayToObject(o, "reasons");
	for (size_t i = 0; i < v->nreasons; i++)
		cJSON_AddItemToArray(reasons, cJSON_CreateString(v->reasons[i]));
	return o;
}

/* List a file the caller wrote into out_dir in the manifest, hashed from disk. */
static int add_extra_file(const char *dir, const char *name, cJSON *files)
{
	char *path = xasprintf("%s/%s", dir, name);
	unsigned long long size = 0;
	char hex[65];
	cJSON *f;
	int ret = -1;

	if (sha256_file_hex(path, hex, &size) < 0)
		goto out;
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "name", name);
	cJSON_AddNumberToObject(f, "size", (double)size);
	cJSON_AddStringToObject(f, "sha256", hex);
	cJSON_AddItemToArray(files, f);
	ret = 0;
out:
	free(path);
	return ret;
}

static cJSON *manifest_json(const struct artifacts *a)
{
	const struct session *s = a->s;
	const struct collect_options *o = a->o;
	const struct kpi_window *w = a->w;
	const struct source *src = a->src;
	const struct query *qs = a->queries->items;
	size_t nq = a->queries->n;
	cJSON *root = cJSON_CreateObject(), *obj, *arr;
	struct session_run run;

	cJSON_AddNumberToObject(root, "schema_version", MANIFEST_SCHEMA);
	cJSON_AddStringToObject(root, "benchmon_version", BENCHMON_VERSION);
	cJSON_AddNumberToObject(root, "query_timeout_seconds", (double)a->timeout_ms / 1000.0);
	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "run_id", o->run_id);
	cJSON_AddStringToObject(root, "status", a->report->nfindings ? "ok_with_findings" : "ok");
	obj = cJSON_AddObjectToObject(root, "labels");
	for (size_t i = 0; i < o->nlabels; i++)
		cJSON_AddStringToObject(obj, o->labels[i].key, o->labels[i].value);
	obj = cJSON_AddObjectToObject(root, "window");
	json_add_time(obj, "from", o->from_ms);
	json_add_time(obj, "to", o->to_ms);
	json_add_time(obj, "first_point", w->start_ms);
	cJSON_AddNumberToObject(obj, "step_seconds", (double)w->step_ms / 1000.0);
	cJSON_AddNumberToObject(obj, "points", (double)w->nsteps);
	/* timeseries.csv holds a point every display step (a counter's rate or increase over it) */
	cJSON_AddNumberToObject(obj, "display_step_seconds", (double)a->dw->step_ms / 1000.0);
	cJSON_AddNumberToObject(obj, "scrape_interval_seconds", (double)s->scrape_interval_ms / 1000.0);
	obj = cJSON_AddObjectToObject(root, "prometheus");
	cJSON_AddStringToObject(obj, "url", src->url);
	cJSON_AddStringToObject(obj, "version", src->version);
	cJSON_AddStringToObject(obj, "source", src->kind);
	arr = cJSON_AddArrayToObject(obj, "jobs");
	for (size_t i = 0; i < src->nparts; i++) {
		cJSON *part = cJSON_CreateObject();

		cJSON_AddStringToObject(part, "job", src->parts[i].job);
		cJSON_AddStringToObject(part, "source", src->parts[i].kind);
		json_add_time(part, "from", src->parts[i].from_ms);
		json_add_time(part, "to", src->parts[i].to_ms);
		cJSON_AddItemToArray(arr, part);
	}
	obj = cJSON_AddObjectToObject(root, "job");
	cJSON_AddStringToObject(obj, "launcher", s->launcher);
	if (session_run_load(s, &run) == 0) {
		json_add_string_or_null(obj, "job_id", run.job_id);
		json_add_string_or_null(obj, "node", run.node);
		session_run_release(&run);
	}
	obj = cJSON_AddObjectToObject(root, "profile");
	cJSON_AddStringToObject(obj, "name", a->p->name);
	cJSON_AddStringToObject(obj, "path", a->p->path);
	cJSON_AddItemToObject(root, "targets", targets_json(a->up));
	arr = cJSON_AddArrayToObject(root, "queries");
	for (size_t i = 0; i < nq; i++) {
		cJSON *q = cJSON_CreateObject();

		cJSON_AddStringToObject(q, "kpi", qs[i].kpi);
		cJSON_AddStringToObject(q, "promql", qs[i].promql);
		cJSON_AddStringToObject(q, "endpoint", qs[i].endpoint);
		if (qs[i].at_ms) {
			json_add_time(q, "time", qs[i].at_ms);
		} else if (qs[i].step_ms || qs[i].read_body) {
			json_add_time(q, "start", qs[i].start_ms);
			json_add_time(q, "end", qs[i].end_ms);
			if (qs[i].step_ms)
				cJSON_AddNumberToObject(q, "step", (double)qs[i].step_ms / 1000.0);
		}
		cJSON_AddNumberToObject(q, "series", (double)qs[i].nseries);
		cJSON_AddItemToArray(arr, q);
	}
	if (o->run)
		cJSON_AddItemToObject(root, "run", run_json(o->run));
	cJSON_AddItemToObject(root, "kpis", collect_kpis_json(a->report));
	cJSON_AddItemToObject(root, "findings", collect_findings_json(a->report));
	cJSON_AddItemToObject(root, "verdict", collect_verdict_json(a->verdict));
	return root;
}

/*
 * MANIFEST.json's account of the edge readings: where they came from, how
 * many series they gave, and how each KPI was computed.
 */
static cJSON *methods_json(const struct collect_options *o, const struct edges *e, int have_edges, size_t matched,
			   const struct kpi_report *r)
{
	cJSON *obj = cJSON_CreateObject(), *arr;

	if (have_edges) {
		cJSON_AddStringToObject(obj, "edges_file", o->edges_path);
		cJSON_AddBoolToObject(obj, "exact_start", e->from.exact);
		cJSON_AddNumberToObject(obj, "series_with_edges", (double)matched);
	} else {
		cJSON_AddNullToObject(obj, "edges_file");
	}
	arr = cJSON_AddArrayToObject(obj, "kpis");
	for (size_t i = 0; i < r->nresults; i++) {
		cJSON *k = cJSON_CreateObject();

		cJSON_AddStringToObject(k, "kpi", r->results[i].kpi);
		cJSON_AddStringToObject(k, "scope", r->results[i].scope);
		cJSON_AddStringToObject(k, "method", r->results[i].method);
		cJSON_AddItemToArray(arr, k);
	}
	return obj;
}


int artifacts_write(const struct artifacts *a)
{
	const struct collect_options *o = a->o;
	char *manifest = xasprintf("%s/MANIFEST.json", o->out_dir);
	struct strbuf sb = STRBUF_INIT;
	cJSON *files = cJSON_CreateArray(), *root = NULL;
	int ret = -1;

	summary_csv(o, a->s, a->report, a->verdict, &sb);
	if (write_artifact(o->out_dir, "metrics_summary.csv", &sb, files) < 0)
		goto out;
	strbuf_reset(&sb);
	kpis_csv(a->report, &sb);
	if (write_artifact(o->out_dir, "kpis.csv", &sb, files) < 0)
		goto out;
	strbuf_reset(&sb);
	timeseries_csv(a->w, a->report, &sb);
	if (write_artifact(o->out_dir, "timeseries.csv", &sb, files) < 0)
		goto out;
	for (size_t i = 0; o->extra_files && o->extra_files[i]; i++)
		if (add_extra_file(o->out_dir, o->extra_files[i], files) < 0)
			goto out;
	root = manifest_json(a);
	cJSON_AddItemToObject(root, "methods", methods_json(o, a->edges, a->have_edges, a->edges_matched, a->report));
	cJSON_AddItemToObject(root, "files", files);
	files = NULL;
	if (json_write_file_mode(manifest, root, 1, results_mode(0666)) < 0)
		goto out;
	ret = 0;
out:
	cJSON_Delete(root);
	cJSON_Delete(files);
	strbuf_release(&sb);
	free(manifest);
	return ret;
}
