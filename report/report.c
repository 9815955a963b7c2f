#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "collect/profile.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "results/compare.h"
#include "lib/xmalloc.h"
#include "report/chart.h"
#include "report/report.h"

#define CHART_W 560
#define CHART_H 270
#define SMALL_W 360
#define SMALL_H 210
#define SWEEP_W 372
#define SWEEP_H 260

/*
 * The charts of a run's window: each KPI of a row is one line, named in the
 * legend. A chart none of whose KPIs has points is left out.
 */
static const struct chart_def {
	const char *title;
	const char *kpis[4];
	const char *names[4];
} chart_defs[] = {
	{ "Throughput", { "throughput_qps" }, { "throughput" } },
	{ "Latency quantiles", { "latency_p50_ms", "latency_p95_ms", "latency_p99_ms" }, { "p50", "p95", "p99" } },
	{ "CPU and GPU utilisation", { "cpu_util_avg_pct", "gpu_util_avg_pct" }, { "CPU", "GPU" } },
	{ "GPU power", { "gpu_power_avg_w" }, { "power" } },
	{ "GPU temperature", { "gpu_temp_max_c" }, { "max temperature" } },
};
#define NCHART_DEFS (sizeof(chart_defs) / sizeof(chart_defs[0]))

static const char style_sheet[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1b1b;margin:0 auto;"
	"max-width:1180px;padding:0 20px 40px;line-height:1.4}"
	"h1{font-size:1.6em;margin:.8em 0 .2em}h2{font-size:1.3em;border-bottom:2px solid #0072B2;padding-bottom:3px;"
	"margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .4em}"
	".meta{color:#555}nav{background:#f4f6f8;padding:6px 12px;border-radius:4px}nav a{margin-right:1em}"
	"table{border-collapse:collapse;font-size:13px;margin:.3em 0 1em}"
	"th,td{border:1px solid #ccd;padding:3px 7px;text-align:left;vertical-align:top}"
	"th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
	"tr.dim td{color:#777}"
	".st{font-weight:600;white-space:nowrap}.st-ok{color:#1a7f37}.st-bad{color:#b3261e}.st-na{color:#777}"
	"dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:14px}dt{font-weight:600}"
	"dd{margin:0}code{font-size:12px;background:#f4f6f8;padding:1px 3px;border-radius:3px;"
	"word-break:break-all}"
	".charts{display:flex;flex-wrap:wrap;gap:10px}.charts svg{max-width:100%;height:auto;"
	"border:1px solid #e3e6ea;border-radius:4px;background:#fff}"
	".note{color:#555;font-size:13px}ul.findings li{margin:2px 0}"
	"@media print{@page{size:A4;margin:12mm}body{max-width:none;padding:0;font-size:11px}nav{display:none}"
	"section.run{break-before:page}svg,table,tr{break-inside:avoid}.charts svg{border:none}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

static int status_ok(const char *status)
{
	return !strcmp(status, "ok");
}

static const char *status_class(const char *status)
{
	if (status_ok(status))
		return "st-ok";
	if (!strcmp(status, "not_applicable"))
		return "st-na";
	return "st-bad";
}

/* The symbol a status gets beside its word: meaning is never in the colour alone. */
static const char *status_mark(const char *status)
{
	if (status_ok(status))
		return "&#10003; ";
	if (!strcmp(status, "not_applicable"))
		return "&#8211; ";
	return "&#10007; ";
}

static const char *display_unit(const char *unit)
{
	return !strcmp(unit, "C") ? "\xc2\xb0" "C" : unit;
}

static void number_cell(struct strbuf *sb, int has, double v)
{
	if (!has)
		strbuf_addstr(sb, "<td class=\"num\"></td>");
	else if (isinf(v))
		strbuf_addf(sb, "<td class=\"num\">%s&#8734;</td>", v < 0 ? "&#8722;" : "+");
	else
		strbuf_addf(sb, "<td class=\"num\">%.6g</td>", v);
}

static void text(struct strbuf *sb, const char *s)
{
	html_escape(sb, s ? s : "");
}

static void dl_item(struct strbuf *sb, const char *term, const char *value)
{
	if (!value)
		return;
	strbuf_addf(sb, "<dt>%s</dt><dd>", term);
	text(sb, value);
	strbuf_addstr(sb, "</dd>");
}

/* Run id made safe for an HTML id. */
static void anchor(struct strbuf *sb, size_t index)
{
	strbuf_addf(sb, "run-%zu", index + 1);
}

static void kpi_table(struct strbuf *sb, const struct report_run *run, int session_scope)
{
	size_t rows = 0;

	for (size_t i = 0; i < run->nkpis; i++)
		rows += (strcmp(run->kpis[i].scope, "session") == 0) == session_scope;
	if (!rows)
		return;
	strbuf_addf(sb, "<table class=\"kpis\"><thead><tr><th>KPI</th>%s<th>value</th><th>lower</th><th>upper</th>"
		    "<th>unit</th><th>status</th><th>method</th><th>samples</th></tr></thead><tbody>\n",
		    session_scope ? "" : "<th>scope</th>");
	for (size_t i = 0; i < run->nkpis; i++) {
		const struct report_kpi *k = &run->kpis[i];

		if ((strcmp(k->scope, "session") == 0) != session_scope)
			continue;
		strbuf_addf(sb, "<tr%s data-kpi=\"", status_ok(k->status) ? "" : " class=\"dim\"");
		text(sb, k->kpi);
		strbuf_addstr(sb, "\" data-scope=\"");
		text(sb, k->scope);
		strbuf_addstr(sb, "\"");
		if (k->has_value)
			strbuf_addf(sb, " data-value=\"%.10g\"", k->value);
		if (k->has_bounds)
			strbuf_addf(sb, " data-lower=\"%.10g\" data-upper=\"%.10g\"", k->lower, k->upper);
		strbuf_addstr(sb, "><td>");
		text(sb, k->kpi);
		strbuf_addstr(sb, "</td>");
		if (!session_scope) {
			strbuf_addstr(sb, "<td>");
			text(sb, k->scope);
			strbuf_addstr(sb, "</td>");
		}
		number_cell(sb, k->has_value, k->value);
		number_cell(sb, k->has_bounds, k->lower);
		number_cell(sb, k->has_bounds, k->upper);
		strbuf_addstr(sb, "<td>");
		text(sb, display_unit(k->unit));
		strbuf_addf(sb, "</td><td class=\"st %s\">%s", status_class(k->status), status_mark(k->status));
		text(sb, k->status);
		strbuf_addstr(sb, "</td><td>");
		text(sb, k->method);
		strbuf_addstr(sb, "</td><td class=\"num\">");
		text(sb, k->samples);
		strbuf_addstr(sb, "</td></tr>\n");
	}
	strbuf_addstr(sb, "</tbody></table>\n");
}

static void findings(struct strbuf *sb, const struct report_run *run)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(run->manifest, "findings"), *f;
	int n = cJSON_GetArraySize(list);

	strbuf_addf(sb, "<h3>Findings (%d)</h3>\n", n);
	if (!n) {
		strbuf_addstr(sb, "<p class=\"note\">None: every target was up and every KPI had data.</p>\n");
		return;
	}
	strbuf_addstr(sb, "<ul class=\"findings\">\n");
	cJSON_ArrayForEach(f, list) {
		const cJSON *opt = cJSON_GetObjectItemCaseSensitive(f, "optional");

		strbuf_addstr(sb, "<li><strong>");
		text(sb, json_string(f, "kind"));
		strbuf_addstr(sb, "</strong>");
		if (cJSON_IsTrue(opt))
			strbuf_addstr(sb, " (optional)");
		strbuf_addstr(sb, ": ");
		text(sb, json_string(f, "message"));
		strbuf_addstr(sb, "</li>\n");
	}
	strbuf_addstr(sb, "</ul>\n");
}

static const struct report_series *find_series(const struct report_run *run, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < run->nseries; i++)
		if (!strcmp(run->series[i].kpi, kpi) && !strcmp(run->series[i].scope, scope))
			return &run->series[i];
	return NULL;
}

/*
 * Draw chart_defs[d] for one scope; 0 when it has no points there. y, when
 * not NULL, is the y range to use ({lo, hi}).
 */
static int def_chart(struct strbuf *sb, const struct report_run *run, size_t d, const char *scope, const char *title,
		     int w, int h, const double *y)
{
	const struct chart_def *def = &chart_defs[d];
	struct chart_series series[4];
	struct chart c = { title, "", run->from, run->to, series, 0, w, h, y != NULL, y ? y[0] : 0, y ? y[1] : 0 };

	for (int k = 0; k < 4 && def->kpis[k]; k++) {
		const struct report_series *s = find_series(run, def->kpis[k], scope);

		if (!s || !s->n)
			continue;
		series[c.nseries++] = (struct chart_series){ def->names[k], s->kpi, s->scope, s->t, s->v, s->n };
		c.unit = display_unit(s->unit);
	}
	if (!c.nseries)
		return 0;
	chart_time(sb, &c);
	return 1;
}

static int in_defs(const char *kpi)
{
	for (size_t d = 0; d < NCHART_DEFS; d++)
		for (int k = 0; k < 4 && chart_defs[d].kpis[k]; k++)
			if (!strcmp(chart_defs[d].kpis[k], kpi))
				return 1;
	return 0;
}

static size_t time_charts(struct strbuf *sb, const struct report_run *run)
{
	size_t charts = 0, others = 0;
	const char **scopes = NULL;
	size_t nscopes = 0;

	strbuf_addstr(sb, "<h3>The window's time series</h3>\n<div class=\"charts\">\n");
	for (size_t d = 0; d < NCHART_DEFS; d++)
		charts += def_chart(sb, run, d, "session", chart_defs[d].title, CHART_W, CHART_H, NULL);
	strbuf_addstr(sb, "</div>\n");
	if (!charts)
		strbuf_addstr(sb, "<p class=\"note\">timeseries.csv holds no points for these KPIs.</p>\n");

	for (size_t i = 0; i < run->nseries; i++)
		others += !strcmp(run->series[i].scope, "session") && !in_defs(run->series[i].kpi) && run->series[i].n;
	if (others) {
		strbuf_addstr(sb, "<h3>Other series</h3>\n<div class=\"charts\">\n");
		for (size_t i = 0; i < run->nseries; i++) {
			const struct report_series *s = &run->series[i];
			struct chart_series one = { s->kpi, s->kpi, s->scope, s->t, s->v, s->n };
			struct chart c = { s->kpi, display_unit(s->unit), run->from, run->to, &one, 1, SMALL_W, SMALL_H,
					   0, 0, 0 };

			if (strcmp(s->scope, "session") || in_defs(s->kpi) || !s->n)
				continue;
			chart_time(sb, &c);
			charts++;
		}
		strbuf_addstr(sb, "</div>\n");
	}

	/* small multiples: every scope other than the session's, one row of charts per KPI group */
	for (size_t i = 0; i < run->nseries; i++) {
		size_t j;

		if (!strcmp(run->series[i].scope, "session"))
			continue;
		for (j = 0; j < nscopes && strcmp(scopes[j], run->series[i].scope); j++)
			;
		if (j == nscopes) {
			scopes = xrealloc(scopes, (nscopes + 1) * sizeof(*scopes));
			scopes[nscopes++] = run->series[i].scope;
		}
	}
	if (nscopes) {
		strbuf_addstr(sb, "<h3>Per node and GPU</h3>\n<div class=\"charts multiples\">\n");
		for (size_t d = 0; d < NCHART_DEFS; d++) {
			/* one y scale for a KPI group across nodes and GPUs, so the charts compare at a glance */
			double y[2] = { INFINITY, -INFINITY };

			for (size_t j = 0; j < nscopes; j++) {
				for (int k = 0; k < 4 && chart_defs[d].kpis[k]; k++) {
					const struct report_series *s = find_series(run, chart_defs[d].kpis[k], scopes[j]);

					for (size_t i = 0; s && i < s->n; i++) {
						if (isnan(s->v[i]))
							continue;
						y[0] = fmin(y[0], s->v[i]);
						y[1] = fmax(y[1], s->v[i]);
					}
				}
			}
			for (size_t j = 0; j < nscopes; j++) {
				char *title = xasprintf("%s, %s", chart_defs[d].title, scopes[j]);

				charts += def_chart(sb, run, d, scopes[j], title, SMALL_W, SMALL_H, y);
				free(title);
			}
		}
		strbuf_addstr(sb, "</div>\n");
	}
	free(scopes);
	return charts;
}

static void provenance(struct strbuf *sb, const struct report_run *run)
{
	const cJSON *m = run->manifest;
	const cJSON *prom = cJSON_GetObjectItemCaseSensitive(m, "prometheus");
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(m, "job");
	const cJSON *profile = cJSON_GetObjectItemCaseSensitive(m, "profile");
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(m, "targets");
	const cJSON *queries = cJSON_GetObjectItemCaseSensitive(m, "queries");
	const cJSON *jobs = cJSON_GetObjectItemCaseSensitive(prom, "jobs");
	const cJSON *x;

	strbuf_addstr(sb, "<h3>Provenance</h3>\n<dl>");
	dl_item(sb, "Prometheus", json_string(prom, "url"));
	dl_item(sb, "Prometheus version", json_string(prom, "version"));
	dl_item(sb, "data source", json_string(prom, "source"));
	dl_item(sb, "launcher", json_string(job, "launcher"));
	dl_item(sb, "job", json_string(job, "job_id"));
	dl_item(sb, "node", json_string(job, "node"));
	dl_item(sb, "profile", json_string(profile, "name"));
	dl_item(sb, "profile file", json_string(profile, "path"));
	dl_item(sb, "benchmon", json_string(m, "benchmon_version"));
	dl_item(sb, "directory", run->dir);
	strbuf_addstr(sb, "</dl>\n");
	if (cJSON_GetArraySize(jobs) > 1) {
		strbuf_addstr(sb, "<table><thead><tr><th>Prometheus job</th><th>source</th><th>from</th><th>to</th></tr>"
			      "</thead><tbody>\n");
		cJSON_ArrayForEach(x, jobs) {
			strbuf_addstr(sb, "<tr><td>");
			text(sb, json_string(x, "job"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "source"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "from"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "to"));
			strbuf_addstr(sb, "</td></tr>\n");
		}
		strbuf_addstr(sb, "</tbody></table>\n");
	}
	if (cJSON_GetArraySize(targets)) {
		strbuf_addstr(sb, "<table class=\"targets\"><thead><tr><th>target</th><th>kind</th><th>client</th>"
			      "<th>node</th><th>address</th><th>health</th><th>up</th></tr></thead><tbody>\n");
		cJSON_ArrayForEach(x, targets) {
			const char *health = json_string(x, "health");
			const cJSON *up = cJSON_GetObjectItemCaseSensitive(x, "up_ratio");

			strbuf_addstr(sb, "<tr><td>");
			text(sb, json_string(x, "name"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "kind"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "client_id"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "node"));
			strbuf_addstr(sb, "</td><td>");
			text(sb, json_string(x, "address"));
			strbuf_addf(sb, "</td><td class=\"st %s\">%s", health && !strcmp(health, "up") ? "st-ok" : "st-bad",
				    health && !strcmp(health, "up") ? "&#10003; " : "&#10007; ");
			text(sb, health);
			strbuf_addstr(sb, "</td>");
			if (cJSON_IsNumber(up))
				strbuf_addf(sb, "<td class=\"num\">%.0f%%</td>", 100 * up->valuedouble);
			else
				strbuf_addstr(sb, "<td></td>");
			strbuf_addstr(sb, "</tr>\n");
		}
		strbuf_addstr(sb, "</tbody></table>\n");
	}
	if (cJSON_GetArraySize(queries)) {
		strbuf_addstr(sb, "<table class=\"queries\"><thead><tr><th>KPI</th><th>PromQL</th><th>endpoint</th>"
			      "<th>series</th></tr></thead><tbody>\n");
		cJSON_ArrayForEach(x, queries) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(x, "series");

			strbuf_addstr(sb, "<tr><td>");
			text(sb, json_string(x, "kpi"));
			strbuf_addstr(sb, "</td><td><code>");
			text(sb, json_string(x, "promql"));
			strbuf_addstr(sb, "</code></td><td>");
			text(sb, json_string(x, "endpoint"));
			strbuf_addstr(sb, "</td>");
			if (cJSON_IsNumber(n))
				strbuf_addf(sb, "<td class=\"num\">%.0f</td>", n->valuedouble);
			else
				strbuf_addstr(sb, "<td></td>");
			strbuf_addstr(sb, "</tr>\n");
		}
		strbuf_addstr(sb, "</tbody></table>\n");
	}
}

static void run_section(struct strbuf *sb, const struct report_run *run, size_t index, size_t *charts)
{
	const cJSON *m = run->manifest;
	const cJSON *window = cJSON_GetObjectItemCaseSensitive(m, "window");
	const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "run"), "command");
	const cJSON *exit_status = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m, "run"),
								  "exit_status");
	const cJSON *x;

	strbuf_addstr(sb, "<section class=\"run\" id=\"");
	anchor(sb, index);
	strbuf_addstr(sb, "\" data-run=\"");
	text(sb, run->name);
	strbuf_addstr(sb, "\"><h2>Run ");
	text(sb, run->name);
	strbuf_addstr(sb, "</h2>\n<dl>");
	dl_item(sb, "session", json_string(m, "session"));
	dl_item(sb, "window from", json_string(window, "from"));
	dl_item(sb, "window to", json_string(window, "to"));
	{
		char *len = xasprintf("%.3f s", run->to - run->from);

		dl_item(sb, "length", len);
		free(len);
	}
	dl_item(sb, "status", json_string(m, "status"));
	if (run->run.nlabels) {
		struct strbuf l = STRBUF_INIT;

		for (size_t i = 0; i < run->run.nlabels; i++)
			strbuf_addf(&l, "%s%s=%s", i ? ", " : "", run->run.labels[i].key, run->run.labels[i].value);
		dl_item(sb, "labels", l.buf);
		strbuf_release(&l);
	}
	if (cJSON_GetArraySize(cmd)) {
		struct strbuf c = STRBUF_INIT;

		cJSON_ArrayForEach(x, cmd)
			if (cJSON_IsString(x))
				strbuf_addf(&c, "%s%s", c.len ? " " : "", x->valuestring);
		dl_item(sb, "benchmark", c.buf);
		strbuf_release(&c);
		if (cJSON_IsNumber(exit_status)) {
			char *s = xasprintf("%d", exit_status->valueint);

			dl_item(sb, "exit status", s);
			free(s);
		}
	}
	strbuf_addstr(sb, "</dl>\n<h3>KPIs</h3>\n");
	kpi_table(sb, run, 1);
	findings(sb, run);
	*charts += time_charts(sb, run);
	strbuf_addstr(sb, "<h3>KPIs per node and service</h3>\n");
	kpi_table(sb, run, 0);
	provenance(sb, run);
	strbuf_addstr(sb, "</section>\n");
}

/* The session-scope KPI names of all runs, in the order they first appear. */
static const char **kpi_names(const struct report_run *runs, size_t nruns, size_t *n)
{
	const char **names = NULL;

	*n = 0;
	for (size_t r = 0; r < nruns; r++) {
		for (size_t i = 0; i < runs[r].nkpis; i++) {
			const struct report_kpi *k = &runs[r].kpis[i];
			size_t j;

			if (strcmp(k->scope, "session"))
				continue;
			for (j = 0; j < *n && strcmp(names[j], k->kpi); j++)
				;
			if (j == *n) {
				names = xrealloc(names, (*n + 1) * sizeof(*names));
				names[(*n)++] = k->kpi;
			}
		}
	}
	return names;
}

static const char *label_of(const struct report_run *run, const char *key)
{
	return run_label(&run->run, key);
}

/* The runs of one value of the swept label (or one run alone, when nothing is swept). */
struct run_group {
	const char *value;
	const struct run **runs;
	size_t n;
};

static size_t make_groups(const struct report_run *runs, size_t nruns, const char *key, struct run_group *g)
{
	size_t ng = 0;

	for (size_t r = 0; r < nruns; r++) {
		const char *v = key ? label_of(&runs[r], key) : runs[r].name;
		size_t j;

		for (j = 0; key && j < ng && strcmp(g[j].value, v); j++)
			;
		if (!key || j == ng) {
			j = ng++;
			g[j].value = v;
			g[j].runs = xcalloc(nruns, sizeof(*g[j].runs));
		}
		g[j].runs[g[j].n++] = &runs[r].run;
	}
	return ng;
}

static int direction_of(const char *kpi, void *ctx)
{
	return ctx ? profile_better(ctx, kpi) : 0;
}

/* The profile saying which way is better: the baseline's file, else its name; 1 when loaded. */
static int load_direction(const struct run *base, struct profile *p)
{
	if (base->profile_path && path_exists(base->profile_path))
		return profile_load(base->profile_path, p) == 0;
	if (base->profile)
		return profile_load(base->profile, p) == 0;
	return 0;
}

static void side_cell(struct strbuf *sb, const struct compare_side *s)
{
	if (!s->n) {
		strbuf_addstr(sb, "<td class=\"st st-na\">no value</td>");
		return;
	}
	strbuf_addf(sb, "<td class=\"num\" data-value=\"%.10g\">%.6g", s->center, s->center);
	if (s->has_bounds && (isfinite(s->lower) || isfinite(s->upper)))
		strbuf_addf(sb, " <small>[%.6g, %.6g]</small>", s->lower, s->upper);
	if (s->n > 1)
		strbuf_addf(sb, " <small>n=%zu</small>", s->n);
	strbuf_addstr(sb, "</td>");
}

static void verdict_cell(struct strbuf *sb, const struct compare_row *row)
{
	static const char *const marks[] = { "~", "&#9650; better", "&#9660; worse", "&#9670; changed", "" };
	const char *cls = row->verdict == COMPARE_BETTER ? " st st-ok" : row->verdict == COMPARE_WORSE ? " st st-bad" : "";

	strbuf_addf(sb, "<td class=\"num%s\" data-verdict=\"%s\">", cls, compare_verdict_name(row->verdict));
	if (row->has_change)
		strbuf_addf(sb, "%+.1f%% ", row->change_pct);
	strbuf_addstr(sb, marks[row->verdict]);
	if (row->method == COMPARE_UTEST && row->verdict != COMPARE_MISSING)
		strbuf_addf(sb, " <small>p=%.3f</small>", row->p);
	strbuf_addstr(sb, "</td>");
}

static const struct compare_row *find_row(const struct compare_table *t, const char *kpi)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->rows[i].kpi, kpi) && !strcmp(t->rows[i].scope, "session"))
			return &t->rows[i];
	return NULL;
}

/*
 * Side by side, as benchmon compare reckons it: each group (a value of the
 * swept label, or a run) against the first. One run a side: disjoint bounds
 * prove a change, overlapping ones cannot tell (~). Repetitions: the median
 * with its 95% interval, and the Mann-Whitney U test.
 */
static void comparison_table(struct strbuf *sb, const struct report_run *runs, size_t nruns, const char *key)
{
	struct run_group *g = xcalloc(nruns, sizeof(*g));
	size_t ng = make_groups(runs, nruns, key, g), nnames;
	struct compare_table *t = xcalloc(ng, sizeof(*t));
	struct compare_options o = { 0 };
	struct profile prof;
	int have_prof = load_direction(g[0].runs[0], &prof), few = 0, ok = 1;
	const char **names = kpi_names(runs, nruns, &nnames);

	o.direction = direction_of;
	o.direction_ctx = have_prof ? &prof : NULL;
	for (size_t i = 1; i < ng && ok; i++) {
		ok = compare_runs(g[0].runs, g[0].n, g[i].runs, g[i].n, &o, &t[i]) == 0;
		few |= t[i].few_runs;
	}
	strbuf_addstr(sb, "<section id=\"comparison\"><h2>Runs side by side</h2>\n<p class=\"note\">");
	if (key) {
		strbuf_addstr(sb, "Each value of ");
		text(sb, key);
		strbuf_addstr(sb, " against the first. ");
	} else {
		strbuf_addstr(sb, "Each run against the first. ");
	}
	strbuf_addstr(sb, "One run a side: disjoint bounds prove a change, overlapping bounds cannot tell (~). "
		      "Repeated runs: the median with its 95% interval and n, and the Mann-Whitney U test at "
		      "p &lt; 0.05. Better and worse follow the profile's direction for each KPI.");
	if (few)
		strbuf_addf(sb, " <strong>Fewer than %d runs on a side: the U test can hardly reach significance.</strong>",
			    COMPARE_MIN_RUNS);
	if (!have_prof)
		strbuf_addstr(sb, " No profile says which way is better: changes are only \"changed\".");
	strbuf_addstr(sb, "</p>\n");
	if (!ok || ng < 2) {
		strbuf_addstr(sb, "<p class=\"note\">Nothing to compare.</p>\n");
		goto out;
	}
	strbuf_addstr(sb, "<table class=\"comparison\"><thead><tr><th>KPI</th><th>unit</th>");
	for (size_t i = 0; i < ng; i++) {
		strbuf_addstr(sb, "<th>");
		if (key) {
			text(sb, key);
			strbuf_addch(sb, '=');
		}
		text(sb, g[i].value);
		strbuf_addstr(sb, i ? "</th><th>change</th>" : " (baseline)</th>");
	}
	strbuf_addstr(sb, "</tr></thead><tbody>\n");
	for (size_t k = 0; k < nnames; k++) {
		const struct compare_row *base = NULL;

		for (size_t i = 1; i < ng && !base; i++)
			base = find_row(&t[i], names[k]);
		if (!base)
			continue;
		strbuf_addstr(sb, "<tr data-kpi=\"");
		text(sb, names[k]);
		strbuf_addstr(sb, "\"><td>");
		text(sb, names[k]);
		strbuf_addstr(sb, "</td><td>");
		text(sb, display_unit(base->unit));
		strbuf_addstr(sb, "</td>");
		side_cell(sb, &base->a);
		for (size_t i = 1; i < ng; i++) {
			const struct compare_row *row = find_row(&t[i], names[k]);

			if (!row) {
				strbuf_addstr(sb, "<td class=\"st st-na\">no value</td><td></td>");
				continue;
			}
			side_cell(sb, &row->b);
			verdict_cell(sb, row);
		}
		strbuf_addstr(sb, "</tr>\n");
	}
	if (t[1].has_geomean) {
		strbuf_addf(sb, "<tr class=\"dim\"><td>geomean</td><td></td><td class=\"num\">%.6g</td>", t[1].geomean_a);
		for (size_t i = 1; i < ng; i++) {
			if (t[i].has_geomean)
				strbuf_addf(sb, "<td class=\"num\">%.6g</td><td class=\"num\">%+.1f%%</td>", t[i].geomean_b,
					    t[i].geomean_change_pct);
			else
				strbuf_addstr(sb, "<td></td><td></td>");
		}
		strbuf_addstr(sb, "</tr>\n");
	}
	strbuf_addstr(sb, "</tbody></table>\n");
out:
	for (size_t i = 0; i < ng; i++) {
		free(g[i].runs);
		compare_table_release(&t[i]);
	}
	if (have_prof)
		profile_release(&prof);
	free(g);
	free(t);
	free(names);
}


/* A label every run has, with at least two values among them: the swept one. */
const char *report_sweep_key(const struct report_run *runs, size_t nruns)
{
	for (size_t i = 0; nruns > 1 && i < runs[0].run.nlabels; i++) {
		const char *key = runs[0].run.labels[i].key;
		int all = 1, differ = 0;

		for (size_t r = 1; r < nruns; r++) {
			const char *v = label_of(&runs[r], key);

			all &= v != NULL;
			differ |= v && strcmp(v, runs[0].run.labels[i].value);
		}
		if (all && differ)
			return key;
	}
	return NULL;
}

static int is_number(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	return *s && !*end && isfinite(*out);
}

void report_runs_sort(struct report_run *runs, size_t nruns, const char *key)
{
	int numeric = 1;
	double x, y;

	for (size_t r = 0; r < nruns; r++)
		numeric &= is_number(label_of(&runs[r], key), &x);
	/* insertion sort: stable, so repetitions keep the order they were given in */
	for (size_t a = 1; a < nruns; a++) {
		for (size_t b = a; b > 0; b--) {
			const char *vb = label_of(&runs[b], key), *va = label_of(&runs[b - 1], key);
			struct report_run tmp;

			if (numeric ? (is_number(vb, &x), is_number(va, &y), x >= y) : strcmp(vb, va) >= 0)
				break;
			tmp = runs[b];
			runs[b] = runs[b - 1];
			runs[b - 1] = tmp;
		}
	}
}

static size_t sweep_charts(struct strbuf *sb, const struct report_run *runs, size_t nruns, const char *key)
{
	size_t nnames, charts = 0;
	const char **names = kpi_names(runs, nruns, &nnames);
	struct chart_point *points = xcalloc(nruns, sizeof(*points));
	const char **categories = xcalloc(nruns, sizeof(*categories));
	int numeric = 1;
	double x;

	for (size_t r = 0; r < nruns; r++)
		numeric &= is_number(label_of(&runs[r], key), &x);
	strbuf_addstr(sb, "<h3>Sweep over ");
	text(sb, key);
	strbuf_addstr(sb, "</h3>\n<div class=\"charts sweep\">\n");
	for (size_t i = 0; i < nnames; i++) {
		struct chart_sweep c = { names[i], key, numeric, "", points, 0, SWEEP_W, SWEEP_H };
		size_t ncat = 0;

		for (size_t r = 0; r < nruns; r++) {
			const struct report_kpi *k = report_run_kpi(&runs[r], names[i], "session");
			const char *v = label_of(&runs[r], key);
			struct chart_point *p = &points[c.npoints];
			size_t j;

			if (!k || !k->has_value)
				continue;
			for (j = 0; j < ncat && strcmp(categories[j], v); j++)
				;
			if (j == ncat)
				categories[ncat++] = v;
			p->run = runs[r].name;
			p->xlabel = v;
			if (numeric)
				is_number(v, &p->x);
			else
				p->x = (double)j + 1;
			p->value = k->value;
			p->has_bounds = k->has_bounds;
			p->lower = k->lower;
			p->upper = k->upper;
			c.unit = display_unit(k->unit);
			c.npoints++;
		}
		if (c.npoints < 2)
			continue;
		chart_sweep(sb, &c);
		charts++;
	}
	strbuf_addstr(sb, "</div>\n");
	free(points);
	free(categories);
	free(names);
	return charts;
}

void report_render(struct strbuf *sb, const struct report_run *runs, size_t nruns, const char *title,
		   struct report_info *info)
{
	size_t charts = 0;
	const char *key = report_sweep_key(runs, nruns);

	strbuf_addstr(sb, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		      "<meta name=\"generator\" content=\"benchmon\"><title>");
	text(sb, title);
	strbuf_addf(sb, "</title>\n<style>%s</style></head>\n<body>\n<header><h1>", style_sheet);
	text(sb, title);
	strbuf_addf(sb, "</h1><p class=\"meta\">%zu run%s. Bounds are what the scrapes prove: the true value lies in "
		    "[lower, upper].</p></header>\n", nruns, nruns == 1 ? "" : "s");
	if (nruns > 1) {
		strbuf_addstr(sb, "<nav><a href=\"#comparison\">side by side</a>");
		for (size_t r = 0; r < nruns; r++) {
			strbuf_addstr(sb, "<a href=\"#");
			anchor(sb, r);
			strbuf_addstr(sb, "\">");
			text(sb, runs[r].name);
			strbuf_addstr(sb, "</a>");
		}
		strbuf_addstr(sb, "</nav>\n");
		comparison_table(sb, runs, nruns, key);
		if (key)
			charts += sweep_charts(sb, runs, nruns, key);
		strbuf_addstr(sb, "</section>\n");
	}
	for (size_t r = 0; r < nruns; r++)
		run_section(sb, &runs[r], r, &charts);
	strbuf_addstr(sb, "</body></html>\n");
	if (info) {
		info->charts = charts;
		info->sweep_key = key;
	}
}
