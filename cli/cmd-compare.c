#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "collect/profile.h"
#include "lib/csvfile.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "results/compare.h"
#include "results/reference.h"
#include "results/runs.h"

#define DEFAULT_TOLERANCE 0.1

static const struct cmd_opt opts[] = {
	{ "by", "KEY=A,B", "compare the runs under DIRs labelled KEY=A against those labelled KEY=B" },
	{ "where", "KEY=VALUE...", "only runs with this label value (repeatable)" },
	{ "profile", "NAME|FILE", "the profile saying which way each KPI is better (default: the baseline's)" },
	{ "alpha", "P", "significance level of the Mann-Whitney U test (default 0.05)" },
	{ "all-scopes", NULL, "compare every scope (per service and node), not only the session's" },
	{ "csv", NULL, "print the table as CSV" },
	{ "json", NULL, "print the comparison as JSON" },
	{ "markdown", NULL, "print the table as Markdown, for a merge request or a wiki" },
	{ "write-reference", "FILE", "write a gate reference file from side A (the baseline): its median per KPI" },
	{ "tolerance", "FRACTION", "with --write-reference: the change allowed on the worse side (default 0.1)" },
	{ NULL, NULL, NULL },
};

struct side {
	char *name;                 /* what the user called it: a directory, or KEY=VALUE */
	const struct run **runs;
	size_t n;
};

static int profile_direction(const char *kpi, void *ctx)
{
	return ctx ? profile_better(ctx, kpi) : 0;
}

/* Does r carry every label in where? */
static int run_matches(const struct run *r, const struct run_label *where, size_t nwhere)
{
	for (size_t i = 0; i < nwhere; i++) {
		const char *v = run_label(r, where[i].key);

		if (!v || strcmp(v, where[i].value))
			return 0;
	}
	return 1;
}

static void side_add(struct side *s, const struct run *r)
{
	s->runs = xrealloc(s->runs, (s->n + 1) * sizeof(*s->runs));
	s->runs[s->n++] = r;
}

/* "1234.5" with the precision people read; "-" when absent. */
static char *fmt_num(double v)
{
	if (isinf(v))
		return xstrdup(v > 0 ? "+Inf" : "-Inf");
	if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-3))
		return xasprintf("%.4g", v);
	return xasprintf("%.*f", fabs(v) >= 100 ? 1 : 3, v);
}

/* A side as a reader sees it: "v [lo, up]" for one run, "median ± x%" for several. */
static char *side_text(const struct compare_row *row, const struct compare_side *s)
{
	char *c, *l, *u, *text;

	if (!s->n)
		return xstrdup("-");
	c = fmt_num(s->center);
	if (row->method == COMPARE_BOUNDS) {
		if (!s->has_bounds)
			return c;
		l = fmt_num(s->lower);
		u = fmt_num(s->upper);
		text = xasprintf("%s [%s, %s]", c, l, u);
		free(l);
		free(u);
	} else if (isinf(s->lower) || isinf(s->upper) || s->center == 0) {
		text = xasprintf("%s ± ∞", c);
	} else {
		double half = fmax(s->center - s->lower, s->upper - s->center);

		text = xasprintf("%s ± %.0f%%", c, 100 * half / fabs(s->center));
	}
	free(c);
	return text;
}

static char *change_text(const struct compare_row *row)
{
	return row->has_change && row->a.n && row->b.n ? xasprintf("%+.2f%%", row->change_pct) : xstrdup("-");
}

/* The verdict with its evidence: "better (p=0.008 n=5+5)", "~ (bounds overlap)". */
static char *verdict_text(const struct compare_row *row)
{
	const char *v = compare_verdict_name(row->verdict);

	if (row->verdict == COMPARE_MISSING)
		return xasprintf("%s (n=%zu+%zu)", v, row->a.n, row->b.n);
	if (row->method == COMPARE_UTEST)
		return xasprintf("%s (p=%.3f n=%zu+%zu)", v, row->p, row->a.n, row->b.n);
	if (!row->a.has_bounds || !row->b.has_bounds)
		return xasprintf("%s (no bounds)", v);
	return xasprintf("%s (%s)", v, row->verdict == COMPARE_SAME ? "bounds overlap" : "bounds disjoint");
}

static char *row_name(const struct compare_row *row, int all_scopes)
{
	return all_scopes ? xasprintf("%s [%s]", row->kpi, row->scope) : xstrdup(row->kpi);
}

static void print_table(const struct compare_table *t, const struct side *a, const struct side *b, int all_scopes,
			int markdown)
{
	size_t w[5] = { 3, 1, 1, 6, 7 };
	char ***cells = xcalloc(t->n + 1, sizeof(char **));
	size_t nrows = t->n + (t->has_geomean ? 1 : 0);

	for (size_t i = 0; i < nrows; i++) {
		cells[i] = xcalloc(5, sizeof(char *));
		if (i < t->n) {
			const struct compare_row *row = &t->rows[i];
			char *name = row_name(row, all_scopes);

			cells[i][0] = *row->unit ? xasprintf("%s (%s)", name, row->unit) : xstrdup(name);
			free(name);
			cells[i][1] = side_text(row, &row->a);
			cells[i][2] = side_text(row, &row->b);
			cells[i][3] = change_text(row);
			cells[i][4] = verdict_text(row);
		} else {
			cells[i][0] = xstrdup("geomean");
			cells[i][1] = fmt_num(t->geomean_a);
			cells[i][2] = fmt_num(t->geomean_b);
			cells[i][3] = xasprintf("%+.2f%%", t->geomean_change_pct);
			cells[i][4] = xstrdup("");
		}
		for (size_t c = 0; c < 5; c++) {
			/* "±" and "∞" are two and three bytes but one column */
			size_t len = strlen(cells[i][c]) - (strstr(cells[i][c], "±") ? 1 : 0) - (strstr(cells[i][c], "∞") ? 2 : 0);

			if (len > w[c])
				w[c] = len;
		}
	}
	if (markdown) {
		printf("A: %s (%zu run%s), B: %s (%zu run%s)\n\n", a->name, a->n, a->n == 1 ? "" : "s", b->name, b->n,
		       b->n == 1 ? "" : "s");
		printf("| KPI | A | B | change | verdict |\n|---|---:|---:|---:|---|\n");
		for (size_t i = 0; i < nrows; i++)
			printf("| %s | %s | %s | %s | %s |\n", cells[i][0], cells[i][1], cells[i][2], cells[i][3],
			       cells[i][4]);
	} else {
		printf("A: %s (%zu run%s)\nB: %s (%zu run%s)\n\n", a->name, a->n, a->n == 1 ? "" : "s", b->name, b->n,
		       b->n == 1 ? "" : "s");
		printf("%-*s  %*s  %*s  %*s  %s\n", (int)w[0], "KPI", (int)w[1], "A", (int)w[2], "B", (int)w[3], "CHANGE",
		       "VERDICT");
		for (size_t i = 0; i < nrows; i++) {
			int pad1 = (int)w[1] + (strstr(cells[i][1], "±") ? 1 : 0) + (strstr(cells[i][1], "∞") ? 2 : 0);
			int pad2 = (int)w[2] + (strstr(cells[i][2], "±") ? 1 : 0) + (strstr(cells[i][2], "∞") ? 2 : 0);

			printf("%-*s  %*s  %*s  %*s  %s\n", (int)w[0], cells[i][0], pad1, cells[i][1], pad2, cells[i][2],
			       (int)w[3], cells[i][3], cells[i][4]);
		}
	}
	for (size_t i = 0; i < nrows; i++) {
		for (size_t c = 0; c < 5; c++)
			free(cells[i][c]);
		free(cells[i]);
	}
	free(cells);
}

static char *num_or_empty(int has, double v)
{
	if (!has)
		return NULL;
	if (isinf(v))
		return xstrdup(v > 0 ? "+Inf" : "-Inf");
	return xasprintf("%.10g", v);
}

static void print_csv(const struct compare_table *t)
{
	static const char *const header[] = { "kpi", "scope", "unit", "a", "a_lower", "a_upper", "a_n", "b",
					      "b_lower", "b_upper", "b_n", "change_pct", "verdict", "method", "p" };
	struct strbuf sb = STRBUF_INIT;

	csv_append_row(&sb, header, 15);
	for (size_t i = 0; i < t->n; i++) {
		const struct compare_row *r = &t->rows[i];
		char *f[15] = { 0 };

		f[0] = xstrdup(r->kpi);
		f[1] = xstrdup(r->scope);
		f[2] = xstrdup(r->unit);
		f[3] = num_or_empty(r->a.n > 0, r->a.center);
		f[4] = num_or_empty(r->a.n > 0 && r->a.has_bounds, r->a.lower);
		f[5] = num_or_empty(r->a.n > 0 && r->a.has_bounds, r->a.upper);
		f[6] = xasprintf("%zu", r->a.n);
		f[7] = num_or_empty(r->b.n > 0, r->b.center);
		f[8] = num_or_empty(r->b.n > 0 && r->b.has_bounds, r->b.lower);
		f[9] = num_or_empty(r->b.n > 0 && r->b.has_bounds, r->b.upper);
		f[10] = xasprintf("%zu", r->b.n);
		f[11] = num_or_empty(r->has_change && r->a.n && r->b.n, r->change_pct);
		f[12] = xstrdup(compare_verdict_name(r->verdict));
		f[13] = xstrdup(r->method == COMPARE_UTEST ? "utest" : "bounds");
		f[14] = num_or_empty(r->method == COMPARE_UTEST && r->a.n && r->b.n, r->p);
		csv_append_row(&sb, (const char *const *)f, 15);
		for (size_t j = 0; j < 15; j++)
			free(f[j]);
	}
	if (t->has_geomean) {
		char *f[15] = { 0 };

		f[0] = xstrdup("geomean");
		f[3] = num_or_empty(1, t->geomean_a);
		f[7] = num_or_empty(1, t->geomean_b);
		f[11] = num_or_empty(1, t->geomean_change_pct);
		csv_append_row(&sb, (const char *const *)f, 15);
		for (size_t j = 0; j < 15; j++)
			free(f[j]);
	}
	fwrite(sb.buf, 1, sb.len, stdout);
	strbuf_release(&sb);
}

static cJSON *side_json(const struct side *s)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "runs");

	cJSON_AddStringToObject(o, "name", s->name);
	for (size_t i = 0; i < s->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(s->runs[i]->dir));
	return o;
}

static cJSON *row_side_json(const struct compare_side *s)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "n", (double)s->n);
	json_add_number_or_null(o, "value", s->n > 0, s->center);
	json_add_number_or_null(o, "lower", s->n > 0 && s->has_bounds, s->lower);
	json_add_number_or_null(o, "upper", s->n > 0 && s->has_bounds, s->upper);
	return o;
}

static void print_json(const struct compare_table *t, const struct side *a, const struct side *b, double alpha)
{
	cJSON *root = cJSON_CreateObject(), *rows;

	cJSON_AddItemToObject(root, "a", side_json(a));
	cJSON_AddItemToObject(root, "b", side_json(b));
	cJSON_AddNumberToObject(root, "alpha", alpha);
	cJSON_AddBoolToObject(root, "few_runs", t->few_runs);
	rows = cJSON_AddArrayToObject(root, "rows");
	for (size_t i = 0; i < t->n; i++) {
		const struct compare_row *r = &t->rows[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kpi", r->kpi);
		cJSON_AddStringToObject(o, "scope", r->scope);
		cJSON_AddStringToObject(o, "unit", r->unit);
		cJSON_AddItemToObject(o, "a", row_side_json(&r->a));
		cJSON_AddItemToObject(o, "b", row_side_json(&r->b));
		json_add_number_or_null(o, "change_pct", r->has_change && r->a.n && r->b.n, r->change_pct);
		cJSON_AddStringToObject(o, "method", r->method == COMPARE_UTEST ? "utest" : "bounds");
		json_add_number_or_null(o, "p", r->method == COMPARE_UTEST && r->a.n && r->b.n, r->p);
		cJSON_AddStringToObject(o, "verdict", compare_verdict_name(r->verdict));
		if (r->direction)
			cJSON_AddStringToObject(o, "better", r->direction > 0 ? "higher" : "lower");
		else
			cJSON_AddNullToObject(o, "better");
		cJSON_AddItemToArray(rows, o);
	}
	if (t->has_geomean) {
		cJSON *g = cJSON_AddObjectToObject(root, "geomean");

		cJSON_AddNumberToObject(g, "a", t->geomean_a);
		cJSON_AddNumberToObject(g, "b", t->geomean_b);
		cJSON_AddNumberToObject(g, "change_pct", t->geomean_change_pct);
	} else {
		cJSON_AddNullToObject(root, "geomean");
	}
	json_add_string_or_null(root, "error", NULL);
	print_json_object(root);
}

/* Load the profile that says which way is better: --profile, else the baseline's, else none. */
static int load_direction(const char *spec, const struct side *a, struct profile *p)
{
	const struct run *base = a->n ? a->runs[0] : NULL;

	if (spec)
		return profile_load(spec, p) < 0 ? -1 : 1;
	if (base && base->profile_path && path_exists(base->profile_path))
		return profile_load(base->profile_path, p) < 0 ? -1 : 1;
	if (base && base->profile)
		return profile_load(base->profile, p) < 0 ? -1 : 1;
	warning("no profile found for the baseline: changes are 'changed', not 'better' or 'worse' (give --profile)");
	return 0;
}

static int parse_fraction(const char *what, const char *v, double min, double max, double *out, char **cause)
{
	char *end;

	*out = strtod(v, &end);
	if (!*v || *end || !isfinite(*out) || *out < min || *out > max) {
		*cause = xasprintf("%s '%.40s' must be a number from %g to %g", what, v, min, max);
		return -1;
	}
	return 0;
}

/* --by KEY=A,B into its key (with A as its value) and the two values. */
static int parse_by(const char *v, struct run_label *key, char **va, char **vb, char **cause)
{
	const char *eq = strchr(v, '='), *comma = strchr(v, ',');
	struct run_label other;
	char *first, *second;
	int ret = -1;

	if (!eq || !comma || comma < eq || strchr(comma + 1, ',') || comma == eq + 1 || !comma[1]) {
		*cause = xasprintf("--by '%.60s' must be KEY=A,B: a label and the two values to compare", v);
		return -1;
	}
	first = xstrndup(v, (size_t)(comma - v));
	second = xasprintf("%.*s=%s", (int)(eq - v), v, comma + 1);
	if (run_label_parse(first, key, cause) < 0)
		goto out;
	if (run_label_parse(second, &other, cause) < 0) {
		run_label_release(key);
		goto out;
	}
	if (!strcmp(key->value, other.value)) {
		*cause = xasprintf("--by '%.60s' compares a value with itself", v);
		run_label_release(key);
		run_label_release(&other);
		goto out;
	}
	*va = xstrdup(key->value);
	*vb = other.value;
	free(other.key);
	ret = 0;
out:
	free(first);
	free(second);
	return ret;
}

static int exec_compare(struct cmd_args *args)
{
	const char *by = args_get(args, "by"), *v, *refpath = args_get(args, "write-reference");
	size_t nwhere_args, nwhere = 0, nlists = 0;
	const char *const *where_args = args_list(args, "where", &nwhere_args);
	struct run_label *where = NULL, bykey = { 0 };
	struct run_list lists[2] = { { 0 } };
	struct side sides[2] = { { 0 } };
	struct compare_options o = { 0 };
	struct compare_table t = { 0 };
	struct profile prof = { 0 };
	char *cause = NULL, *va = NULL, *vb = NULL;
	double tolerance = DEFAULT_TOLERANCE;
	int ret = CMD_USAGE, have_prof = 0, formats;

	formats = args_flag(args, "csv") + args_flag(args, "json") + args_flag(args, "markdown");
	if (formats > 1) {
		cause = xstrdup("give at most one of --csv, --json and --markdown");
		goto usage;
	}
	o.alpha = COMPARE_ALPHA;
	if ((v = args_get(args, "alpha")) && parse_fraction("--alpha", v, 1e-9, 0.5, &o.alpha, &cause) < 0)
		goto usage;
	if ((v = args_get(args, "tolerance"))) {
		if (!refpath) {
			cause = xstrdup("--tolerance goes with --write-reference");
			goto usage;
		}
		if (parse_fraction("--tolerance", v, 0, 10, &tolerance, &cause) < 0)
			goto usage;
	}
	if (refpath && !*refpath) {
		cause = xstrdup("--write-reference must not be empty");
		goto usage;
	}
	if (run_labels_parse(where_args, nwhere_args, &where, &nwhere, &cause) < 0)
		goto usage;
	o.all_scopes = args_flag(args, "all-scopes");
	if (by) {
		if (parse_by(by, &bykey, &va, &vb, &cause) < 0)
			goto usage;
		if (!args->argc) {
			cause = xstrdup("--by needs the directories that hold the runs");
			goto usage;
		}
	} else if (args->argc != 2 && !(args->argc == 1 && refpath)) {
		cause = xstrdup(args->argc < 2 ? "give two runs (or directories of runs) to compare, A and B"
					       : "give two runs to compare, A and B (or --by KEY=A,B DIR...)");
		goto usage;
	}
	ret = CMD_FAIL;
	if (by) {
		if (runs_find((const char *const *)args->argv, (size_t)args->argc, &lists[0]) < 0)
			goto out;
		nlists = 1;
		sides[0].name = xasprintf("%s=%s", bykey.key, va);
		sides[1].name = xasprintf("%s=%s", bykey.key, vb);
		for (size_t i = 0; i < lists[0].n; i++) {
			const struct run *r = &lists[0].items[i];
			const char *lv = run_label(r, bykey.key);

			if (!lv || !run_matches(r, where, nwhere))
				continue;
			if (!strcmp(lv, va))
				side_add(&sides[0], r);
			else if (!strcmp(lv, vb))
				side_add(&sides[1], r);
		}
	} else {
		for (int s = 0; s < args->argc; s++) {
			const char *dir = args->argv[s];

			if (runs_find(&dir, 1, &lists[s]) < 0)
				goto out;
			nlists = (size_t)s + 1;
			sides[s].name = xstrdup(dir);
			for (size_t i = 0; i < lists[s].n; i++)
				if (run_matches(&lists[s].items[i], where, nwhere))
					side_add(&sides[s], &lists[s].items[i]);
		}
	}
	for (int s = 0; s < (by ? 2 : args->argc); s++) {
		if (!sides[s].n) {
			error("no runs for %s '%s'%s", s ? "B" : "A", sides[s].name, nwhere ? " with the --where labels" : "");
			goto out;
		}
	}
	have_prof = load_direction(args_get(args, "profile"), &sides[0], &prof);
	if (have_prof < 0)
		goto out;
	o.direction = profile_direction;
	o.direction_ctx = have_prof ? &prof : NULL;
	if (refpath) {
		/* the baseline's labels restrict the reference: --where's, and --by's A */
		struct run_label *keep = xcalloc(nwhere + 1, sizeof(*keep));
		size_t nkeep = 0;
		int wrote;

		for (size_t i = 0; i < nwhere; i++)
			keep[nkeep++] = where[i];
		if (by)
			keep[nkeep++] = bykey;
		wrote = reference_write(refpath, sides[0].runs, sides[0].n, tolerance, profile_direction,
					o.direction_ctx, keep, nkeep);
		free(keep);
		if (wrote < 0)
			goto out;
		if (!sides[1].n) {
			if (!args_flag(args, "json"))
				printf("wrote %s from %zu baseline run%s of %s\n", refpath, sides[0].n,
				       sides[0].n == 1 ? "" : "s", sides[0].name);
			else {
				cJSON *root = cJSON_CreateObject();

				cJSON_AddStringToObject(root, "reference", refpath);
				cJSON_AddItemToObject(root, "a", side_json(&sides[0]));
				json_add_string_or_null(root, "error", NULL);
				print_json_object(root);
			}
			ret = CMD_OK;
			goto out;
		}
	}
	if (compare_runs(sides[0].runs, sides[0].n, sides[1].runs, sides[1].n, &o, &t) < 0)
		goto out;
	if (t.few_runs)
		warning("fewer than %d runs on a side (%zu+%zu): the U test cannot show a change at alpha %g with so few",
			COMPARE_MIN_RUNS, t.na, t.nb, o.alpha);
	if (args_flag(args, "json"))
		print_json(&t, &sides[0], &sides[1], o.alpha);
	else if (args_flag(args, "csv"))
		print_csv(&t);
	else
		print_table(&t, &sides[0], &sides[1], o.all_scopes, args_flag(args, "markdown"));
	ret = CMD_OK;
	goto out;
usage:
	ret = cmd_usage_error(args->entry, "%s", cause);
out:
	compare_table_release(&t);
	if (have_prof > 0)
		profile_release(&prof);
	for (size_t i = 0; i < 2; i++) {
		free(sides[i].name);
		free(sides[i].runs);
	}
	for (size_t i = 0; i < nlists; i++)
		run_list_release(&lists[i]);
	run_labels_release(where, nwhere);
	run_label_release(&bykey);
	free(va);
	free(vb);
	free(cause);
	return ret;
}

const struct cmd_entry cmd_compare_entry = {
	.name = "compare",
	.summary = "compare two runs, or two groups of repeated runs, KPI by KPI: better, worse or ~",
	.usage = "[--csv | --json | --markdown] [--all-scopes] [--profile P] [--alpha P] [--where K=V]... "
		 "(A B | --by KEY=A,B DIR... | A --write-reference FILE [--tolerance F])",
	.description = "Compare side A (the baseline) with side B for every KPI: A, B, the change in\n"
		       "percent and a verdict. A and B are run directories, or directories of runs\n"
		       "(repetitions); with --by the runs under DIRs labelled KEY=A are compared with\n"
		       "those labelled KEY=B (see 'run --label').\n"
		       "\n"
		       "One run per side: the verdict comes from the proven [lower, upper] bounds. Disjoint\n"
		       "bounds are a proven change; overlapping ones, or none, are '~' (cannot tell).\n"
		       "Several runs per side: the median with its 95% confidence interval (± ∞ below 6\n"
		       "runs), and the Mann-Whitney U test: p < alpha is a change, else '~', with p and\n"
		       "the runs per side (n=A+B). Fewer than 4 runs on a side gets a warning: 3+3 runs\n"
		       "cannot reach p < 0.05. A change is 'better' or 'worse' by the profile's \"better\"\n"
		       "of the KPI ('changed' when it does not say). The geomean row is the geometric\n"
		       "mean of the session KPIs' centres.\n"
		       "\n"
		       "--write-reference writes a reference file for 'benchmon gate' from side A: each\n"
		       "session KPI's median, allowed to move --tolerance (a fraction) to its worse side.",
	.opts = opts,
	.example = "  benchmon compare benchmon-results/1234 benchmon-results/1240\n"
		   "  benchmon compare --by concurrency=1,8 sweep/\n"
		   "  benchmon compare --markdown old-driver/ new-driver/\n"
		   "  benchmon compare baseline/ --write-reference ref.json --tolerance 0.05",
	.max_args = -1,
	.exec = exec_compare,
};
