#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/csvfile.h"
#include "lib/error.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "report/report.h"

#define MANIFEST_MAX (64u << 20)

/* A number cell: 0 with *out set, 1 for an empty cell, -1 for anything else. */
static int parse_number(const char *s, double *out)
{
	char *end;

	if (!*s)
		return 1;
	errno = 0;
	*out = strtod(s, &end);
	if (*end || end == s || (errno && isfinite(*out)))
		return -1;
	return 0;
}

/* The column called name in a header row, or -1. */
static int column(const struct csv_rows *rows, const char *name)
{
	for (size_t j = 0; rows->n && j < rows->nfields[0]; j++)
		if (!strcmp(rows->rows[0][j], name))
			return (int)j;
	return -1;
}

static int load_kpis(struct report_run *run, const char *path)
{
	static const char *const names[] = { "kpi", "scope", "value", "unit", "lower", "upper", "samples", "status",
					     "method" };
	struct csv_rows rows = { 0 };
	int col[9], ret = -1;

	if (csv_read_file(path, &rows) < 0)
		return -1;
	for (int j = 0; j < 9; j++) {
		col[j] = column(&rows, names[j]);
		if (col[j] < 0 && j != 8) {
			error("'%s' has no column '%s'", path, names[j]);
			goto out;
		}
	}
	run->kpis = xcalloc(rows.n, sizeof(*run->kpis));
	for (size_t i = 1; i < rows.n; i++) {
		struct report_kpi *k = &run->kpis[run->nkpis];
		char **f = rows.rows[i];
		int lo, hi, v;

		if (rows.nfields[i] < rows.nfields[0]) {
			error("'%s' line %zu: %zu fields, the header has %zu", path, rows.line[i], rows.nfields[i],
			      rows.nfields[0]);
			goto out;
		}
		v = parse_number(f[col[2]], &k->value);
		lo = parse_number(f[col[4]], &k->lower);
		hi = parse_number(f[col[5]], &k->upper);
		if (v < 0 || lo < 0 || hi < 0) {
			error("'%s' line %zu: a value or bound is not a number", path, rows.line[i]);
			goto out;
		}
		k->has_value = v == 0;
		k->has_bounds = lo == 0 && hi == 0;
		k->kpi = xstrdup(f[col[0]]);
		k->scope = xstrdup(f[col[1]]);
		k->unit = xstrdup(f[col[3]]);
		k->samples = xstrdup(f[col[6]]);
		k->status = xstrdup(f[col[7]]);
		k->method = xstrdup(col[8] >= 0 ? f[col[8]] : "");
		run->nkpis++;
	}
	ret = 0;
out:
	csv_rows_release(&rows);
	return ret;
}

static struct report_series *series_for(struct report_run *run, const char *kpi, const char *scope,
					const char *unit)
{
	struct report_series *s;

	/* rows come grouped by KPI and scope: the last series is nearly always the one */
	if (run->nseries) {
		s = &run->series[run->nseries - 1];
		if (!strcmp(s->kpi, kpi) && !strcmp(s->scope, scope))
			return s;
	}
	for (size_t i = 0; i < run->nseries; i++) {
		s = &run->series[i];
		if (!strcmp(s->kpi, kpi) && !strcmp(s->scope, scope))
			return s;
	}
	run->series = xrealloc(run->series, (run->nseries + 1) * sizeof(*run->series));
	s = &run->series[run->nseries++];
	memset(s, 0, sizeof(*s));
	s->kpi = xstrdup(kpi);
	s->scope = xstrdup(scope);
	s->unit = xstrdup(unit);
	return s;
}

static int load_timeseries(struct report_run *run, const char *path)
{
	struct csv_rows rows = { 0 };
	int ck, cs, ct, cv, cu, ret = -1;

	if (csv_read_file(path, &rows) < 0)
		return -1;
	ck = column(&rows, "kpi");
	cs = column(&rows, "scope");
	ct = column(&rows, "time");
	cv = column(&rows, "value");
	cu = column(&rows, "unit");
	if (ck < 0 || cs < 0 || ct < 0 || cv < 0 || cu < 0) {
		error("'%s' lacks a column of kpi, scope, time, value, unit", path);
		goto out;
	}
	for (size_t i = 1; i < rows.n; i++) {
		char **f = rows.rows[i];
		struct report_series *s;
		int64_t ms;
		double v;
		char *cause = NULL;

		if (rows.nfields[i] < rows.nfields[0]) {
			error("'%s' line %zu: %zu fields, the header has %zu", path, rows.line[i], rows.nfields[i],
			      rows.nfields[0]);
			goto out;
		}
		if (parse_time_ms(f[ct], &ms, &cause) < 0) {
			error("'%s' line %zu: %s", path, rows.line[i], cause);
			free(cause);
			goto out;
		}
		if (parse_number(f[cv], &v)) {
			error("'%s' line %zu: value '%.40s' is not a number", path, rows.line[i], f[cv]);
			goto out;
		}
		s = series_for(run, f[ck], f[cs], f[cu]);
		if (s->n == s->alloc) {
			s->alloc = s->alloc ? 2 * s->alloc : 256;
			s->t = xrealloc(s->t, s->alloc * sizeof(double));
			s->v = xrealloc(s->v, s->alloc * sizeof(double));
		}
		s->t[s->n] = (double)ms / 1000.0;
		s->v[s->n++] = v;
	}
	ret = 0;
out:
	csv_rows_release(&rows);
	return ret;
}

static int window_time(const cJSON *window, const char *key, const char *path, double *out)
{
	const char *s = json_string(window, key);
	char *cause = NULL;
	int64_t ms;

	if (!s || parse_time_ms(s, &ms, &cause) < 0) {
		error("'%s': window.%s is missing or not a time%s%s", path, key, cause ? ": " : "", cause ? cause : "");
		free(cause);
		return -1;
	}
	*out = (double)ms / 1000.0;
	return 0;
}

int report_run_load(struct report_run *run, const char *dir)
{
	char *manifest = xasprintf("%s/MANIFEST.json", dir);
	char *kpis = xasprintf("%s/kpis.csv", dir);
	char *timeseries = xasprintf("%s/timeseries.csv", dir);
	const cJSON *window;
	const char *name, *slash;
	int ret = -1;

	memset(run, 0, sizeof(*run));
	run->dir = xstrdup(dir);
	if (run_load(dir, &run->run) < 0)
		goto out;
	if (json_read_file(manifest, MANIFEST_MAX, 0, &run->manifest,
			   "a run directory holds MANIFEST.json once collect or run has finished") < 0)
		goto out;
	window = cJSON_GetObjectItemCaseSensitive(run->manifest, "window");
	if (window_time(window, "from", manifest, &run->from) < 0 || window_time(window, "to", manifest, &run->to) < 0)
		goto out;
	name = json_string(run->manifest, "run_id");
	if (name) {
		run->name = xstrdup(name);
	} else {  /* "runs/c2/" names the run c2 */
		char *d = xstrdup(dir);
		size_t len = strlen(d);

		while (len > 1 && d[len - 1] == '/')
			d[--len] = '\0';
		slash = strrchr(d, '/');
		run->name = xstrdup(slash && slash[1] ? slash + 1 : d);
		free(d);
	}
	if (load_kpis(run, kpis) < 0 || load_timeseries(run, timeseries) < 0)
		goto out;
	ret = 0;
out:
	free(manifest);
	free(kpis);
	free(timeseries);
	return ret;
}

void report_run_release(struct report_run *run)
{
	for (size_t i = 0; i < run->nkpis; i++) {
		struct report_kpi *k = &run->kpis[i];

		free(k->kpi);
		free(k->scope);
		free(k->unit);
		free(k->status);
		free(k->method);
		free(k->samples);
	}
	for (size_t i = 0; i < run->nseries; i++) {
		free(run->series[i].kpi);
		free(run->series[i].scope);
		free(run->series[i].unit);
		free(run->series[i].t);
		free(run->series[i].v);
	}
	run_release(&run->run);
	free(run->kpis);
	free(run->series);
	free(run->dir);
	free(run->name);
	cJSON_Delete(run->manifest);
	memset(run, 0, sizeof(*run));
}

const struct report_kpi *report_run_kpi(const struct report_run *run, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < run->nkpis; i++)
		if (!strcmp(run->kpis[i].kpi, kpi) && !strcmp(run->kpis[i].scope, scope))
			return &run->kpis[i];
	return NULL;
}
