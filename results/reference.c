#include "results/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/xmalloc.h"

static int entry_error(const char *path, size_t i, const char *what)
{
	return error("'%s': reference %zu: %s", path, i + 1, what);
}

/* A threshold: a number, or null/absent for an open side. */
static int threshold(const cJSON *item, const char *key, int *has, double *v)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, key);

	*has = 0;
	if (!t || cJSON_IsNull(t))
		return 0;
	if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble))
		return -1;
	*has = 1;
	*v = t->valuedouble;
	return 0;
}

static int load_entry(const char *path, size_t i, const cJSON *item, struct reference *r)
{
	const cJSON *ref = cJSON_GetObjectItemCaseSensitive(item, "ref"), *labels;
	const char *sev = json_string(item, "severity"), *kpi = json_string(item, "kpi");

	if (!cJSON_IsObject(item))
		return entry_error(path, i, "is not an object");
	if (!kpi || !*kpi)
		return entry_error(path, i, "needs a \"kpi\"");
	r->kpi = xstrdup(kpi);
	r->scope = xstrdup(json_string(item, "scope") ? json_string(item, "scope") : "session");
	r->unit = json_strdup(item, "unit");
	if (!cJSON_IsNumber(ref) || !isfinite(ref->valuedouble))
		return entry_error(path, i, "needs a numeric \"ref\"");
	r->ref = ref->valuedouble;
	if (threshold(item, "lower", &r->has_lower, &r->lower) < 0 ||
	    threshold(item, "upper", &r->has_upper, &r->upper) < 0)
		return entry_error(path, i, "\"lower\" and \"upper\" must be numbers (fractions of ref) or null");
	if (r->has_lower && r->has_upper && r->lower > r->upper)
		return entry_error(path, i, "\"lower\" is above \"upper\"");
	if (sev && !strcmp(sev, "warning"))
		r->warning = 1;
	else if (sev && strcmp(sev, "error"))
		return entry_error(path, i, "\"severity\" must be \"error\" or \"warning\"");
	labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
	if (labels && !cJSON_IsNull(labels)) {
		const cJSON *l;

		if (!cJSON_IsObject(labels))
			return entry_error(path, i, "\"labels\" must be an object of strings");
		r->labels = xcalloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(*r->labels));
		cJSON_ArrayForEach(l, labels) {
			if (!cJSON_IsString(l))
				return entry_error(path, i, "\"labels\" must be an object of strings");
			r->labels[r->nlabels].key = xstrdup(l->string);
			r->labels[r->nlabels++].value = xstrdup(l->valuestring);
		}
	}
	return 0;
}

int reference_load(const char *path, struct reference_set *set)
{
	cJSON *root = NULL;
	const cJSON *arr, *item;
	size_t i = 0;
	int ret = -1;

	memset(set, 0, sizeof(*set));
	if (json_read_file(path, REFERENCE_MAX_BYTES, 0, &root, NULL) < 0)
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(root, "references");
	if (!cJSON_IsArray(arr)) {
		error("'%s' has no \"references\" array", path);
		goto out;
	}
	set->items = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*set->items));
	cJSON_ArrayForEach(item, arr) {
		set->n = i + 1;
		if (load_entry(path, i, item, &set->items[i]) < 0)
			goto out;
		i++;
	}
	ret = 0;
out:
	if (ret < 0)
		reference_set_release(set);
	cJSON_Delete(root);
	return ret;
}

void reference_set_release(struct reference_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		struct reference *r = &set->items[i];

		free(r->kpi);
		free(r->scope);
		free(r->unit);
		for (size_t j = 0; j < r->nlabels; j++)
			run_label_release(&r->labels[j]);
		free(r->labels);
	}
	free(set->items);
	memset(set, 0, sizeof(*set));
}

static int double_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : a > b;
}

int reference_write(const char *path, const struct run *const *runs, size_t n, double tolerance,
		    compare_direction_fn direction, void *ctx, const struct run_label *labels, size_t nlabels)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	double *v = xcalloc(n ? n : 1, sizeof(double));
	int ret;

	cJSON_AddNumberToObject(root, "schema", 1);
	arr = cJSON_AddArrayToObject(root, "references");
	for (size_t j = 0; n && j < runs[0]->nkpis; j++) {
		const struct run_kpi *k0 = &runs[0]->kpis[j];
		int dir = direction ? direction(k0->kpi, ctx) : 0;
		size_t got = 0;
		cJSON *e;

		if (strcmp(k0->scope, "session"))
			continue;
		for (size_t i = 0; i < n; i++) {
			const struct run_kpi *k = run_kpi_find(runs[i], k0->kpi, "session");

			if (k && k->has_value && !strcmp(k->status, "ok") && isfinite(k->value))
				v[got++] = k->value;
		}
		if (!got)
			continue;
		qsort(v, got, sizeof(double), double_cmp);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "kpi", k0->kpi);
		cJSON_AddStringToObject(e, "scope", "session");
		if (nlabels) {
			cJSON *lj = cJSON_AddObjectToObject(e, "labels");

			for (size_t l = 0; l < nlabels; l++)
				cJSON_AddStringToObject(lj, labels[l].key, labels[l].value);
		}
		cJSON_AddNumberToObject(e, "ref", got % 2 ? v[got / 2] : (v[got / 2 - 1] + v[got / 2]) / 2);
		if (dir >= 0)
			cJSON_AddNumberToObject(e, "lower", -tolerance);
		else
			cJSON_AddNullToObject(e, "lower");
		if (dir <= 0)
			cJSON_AddNumberToObject(e, "upper", tolerance);
		else
			cJSON_AddNullToObject(e, "upper");
		cJSON_AddStringToObject(e, "unit", k0->unit);
		cJSON_AddStringToObject(e, "severity", dir ? "error" : "warning");
		cJSON_AddItemToArray(arr, e);
	}
	ret = json_write_file_mode(path, root, 1, results_mode(0666));
	cJSON_Delete(root);
	free(v);
	return ret;
}

const char *gate_outcome_name(enum gate_outcome o)
{
	return o == GATE_PASS ? "PASS" : o == GATE_FAIL ? "FAIL" : "SKIP";
}

static void add_reason(struct gate_report *g, char *reason)
{
	g->reasons = xrealloc(g->reasons, (g->nreasons + 1) * sizeof(char *));
	g->reasons[g->nreasons++] = reason;
}

static void check_one(const struct run *r, const struct reference *ref, struct gate_result *res)
{
	const struct run_kpi *k;

	res->ref = ref;
	for (size_t i = 0; i < ref->nlabels; i++) {
		const char *have = run_label(r, ref->labels[i].key);

		if (!have || strcmp(have, ref->labels[i].value)) {
			res->outcome = GATE_SKIP;
			res->message = xasprintf("the run's label %s is %s, not %s", ref->labels[i].key,
						 have ? have : "not set", ref->labels[i].value);
			return;
		}
	}
	res->min = ref->has_lower ? ref->ref + ref->lower * fabs(ref->ref) : -INFINITY;
	res->max = ref->has_upper ? ref->ref + ref->upper * fabs(ref->ref) : INFINITY;
	k = run_kpi_find(r, ref->kpi, ref->scope);
	if (!k || !k->has_value) {
		res->outcome = GATE_FAIL;
		res->message = xasprintf("%s (%s) has no value: %s", ref->kpi, ref->scope,
					 !k ? "the run has no such KPI" : k->reason ? k->reason : k->status);
		return;
	}
	res->has_value = 1;
	res->value = k->value;
	if (k->value < res->min || k->value > res->max) {
		res->outcome = GATE_FAIL;
		res->message = xasprintf("%s (%s) is %.6g %s, %s the %s %.6g (reference %.6g)", ref->kpi, ref->scope,
					 k->value, k->unit, k->value < res->min ? "below" : "above",
					 k->value < res->min ? "minimum" : "maximum", k->value < res->min ? res->min : res->max,
					 ref->ref);
		return;
	}
	res->outcome = GATE_PASS;
}

void gate_evaluate(const struct run *r, const struct reference_set *set, struct gate_report *g)
{
	memset(g, 0, sizeof(*g));
	g->results = xcalloc(set->n + 1, sizeof(*g->results));
	g->n = set->n;
	for (size_t i = 0; i < r->nfindings; i++)
		if (!r->findings[i].optional)
			add_reason(g, xasprintf("finding %s: %s", r->findings[i].kind, r->findings[i].message));
	if (r->has_command && r->exit_status != 0)
		add_reason(g, xasprintf("the benchmark exited with status %d", r->exit_status));
	if (r->has_command && r->interrupted)
		add_reason(g, xstrdup("the benchmark was interrupted"));
	for (size_t i = 0; i < set->n; i++) {
		struct gate_result *res = &g->results[i];

		check_one(r, &set->items[i], res);
		if (res->outcome == GATE_PASS)
			g->passed++;
		else if (res->outcome == GATE_SKIP)
			g->skipped++;
		else if (set->items[i].warning)
			g->failed_warnings++;
		else {
			g->failed_errors++;
			add_reason(g, xasprintf("failed reference: %s", res->message));
		}
	}
}

void gate_report_release(struct gate_report *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->results[i].message);
	free(g->results);
	for (size_t i = 0; i < g->nreasons; i++)
		free(g->reasons[i]);
	free(g->reasons);
	memset(g, 0, sizeof(*g));
}

static void xml_escaped(struct strbuf *sb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			strbuf_addstr(sb, "&amp;");
			break;
		case '<':
			strbuf_addstr(sb, "&lt;");
			break;
		case '>':
			strbuf_addstr(sb, "&gt;");
			break;
		case '"':
			strbuf_addstr(sb, "&quot;");
			break;
		case '\n':
			strbuf_addstr(sb, "&#10;");
			break;
		default:
			/* XML 1.0 has no way to write other control characters */
			if ((unsigned char)*s >= 0x20 || *s == '\t')
				strbuf_addch(sb, *s);
			break;
		}
	}
}

void gate_junit(const struct run *r, const struct gate_report *g, struct strbuf *sb)
{
	size_t tests = g->n + 1, failures = g->failed_errors + (g->nreasons ? 1 : 0);

	strbuf_addstr(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	strbuf_addf(sb, "<testsuites name=\"benchmon gate\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\">\n", tests,
		    failures, g->skipped);
	strbuf_addstr(sb, "  <testsuite name=\"");
	xml_escaped(sb, r->run_id);
	strbuf_addf(sb, "\" tests=\"%zu\" failures=\"%zu\" skipped=\"%zu\" errors=\"0\">\n", tests, failures,
		    g->skipped);
	if (r->nlabels) {
		strbuf_addstr(sb, "    <properties>\n");
		for (size_t i = 0; i < r->nlabels; i++) {
			strbuf_addstr(sb, "      <property name=\"label.");
			xml_escaped(sb, r->labels[i].key);
			strbuf_addstr(sb, "\" value=\"");
			xml_escaped(sb, r->labels[i].value);
			strbuf_addstr(sb, "\"/>\n");
		}
		strbuf_addstr(sb, "    </properties>\n");
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct gate_result *res = &g->results[i];

		strbuf_addstr(sb, "    <testcase classname=\"benchmon.gate\" name=\"");
		xml_escaped(sb, res->ref->kpi);
		strbuf_addstr(sb, " [");
		xml_escaped(sb, res->ref->scope);
		strbuf_addstr(sb, "]\" time=\"0\"");
		if (res->outcome == GATE_PASS) {
			strbuf_addstr(sb, "/>\n");
			continue;
		}
		strbuf_addstr(sb, ">\n      ");
		if (res->outcome == GATE_SKIP)
			strbuf_addstr(sb, "<skipped message=\"");
		else if (res->ref->warning)
			strbuf_addstr(sb, "<system-out>warning: ");
		else
			strbuf_addstr(sb, "<failure type=\"reference\" message=\"");
		xml_escaped(sb, res->message);
		if (res->outcome == GATE_FAIL && res->ref->warning)
			strbuf_addstr(sb, "</system-out>\n");
		else
			strbuf_addstr(sb, "\"/>\n");
		strbuf_addstr(sb, "    </testcase>\n");
	}
	strbuf_addstr(sb, "    <testcase classname=\"benchmon.gate\" name=\"validity\" time=\"0\"");
	if (!g->nreasons) {
		strbuf_addstr(sb, "/>\n");
	} else {
		strbuf_addstr(sb, ">\n      <failure type=\"INVALID\" message=\"INVALID\">");
		for (size_t i = 0; i < g->nreasons; i++) {
			xml_escaped(sb, g->reasons[i]);
			strbuf_addstr(sb, "&#10;");
		}
		strbuf_addstr(sb, "</failure>\n    </testcase>\n");
	}
	strbuf_addstr(sb, "  </testsuite>\n</testsuites>\n");
}
