#include "collect/profile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "collect/kpi.h"
#include "lib/error.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "render/render.h"
#include "session/labels.h"
#include "session/registry.h"

/* Is s a valid PromQL metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)? */
static int is_metric_name(const char *s)
{
	if (!*s || !(strchr("_:", *s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (; *s; s++)
		if (!(strchr("_:", *s) || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int kpi_error(const struct profile *p, const char *kpi, const char *what)
{
	return error("profile '%s': KPI '%s': %s", p->path, kpi ? kpi : "?", what);
}

static int parse_scopes(const struct profile *p, const char *kpi, const cJSON *arr, int *scopes)
{
	const cJSON *item;

	*scopes = 0;
	if (!arr) {
		*scopes = KPI_SCOPE_SESSION;
		return 0;
	}
	if (!cJSON_IsArray(arr))
		return kpi_error(p, kpi, "\"scopes\" must be a list of \"session\", \"service\", \"node\", \"gpu\"");
	cJSON_ArrayForEach(item, arr) {
		const char *s = cJSON_IsString(item) ? item->valuestring : "";

		if (!strcmp(s, "session"))
			*scopes |= KPI_SCOPE_SESSION;
		else if (!strcmp(s, "service"))
			*scopes |= KPI_SCOPE_SERVICE;
		else if (!strcmp(s, "node"))
			*scopes |= KPI_SCOPE_NODE;
		else if (!strcmp(s, "gpu"))
			*scopes |= KPI_SCOPE_GPU;
		else
			return kpi_error(p, kpi, "\"scopes\" may hold only \"session\", \"service\", \"node\" and \"gpu\"");
	}
	return 0;
}

static int parse_exporter(const struct profile *p, struct kpi_def *k, const cJSON *item)
{
	const enum target_kind kinds_of_targets[] = { TARGET_NODE, TARGET_DCGM, TARGET_SERVICE };

	if (!item)
		return 0;
	for (size_t i = 0; cJSON_IsString(item) && i < sizeof(kinds_of_targets) / sizeof(kinds_of_targets[0]); i++)
		if (!strcmp(item->valuestring, target_kind_name(kinds_of_targets[i]))) {
			k->has_exporter = 1;
			k->exporter = (int)kinds_of_targets[i];
			return 0;
		}
	return kpi_error(p, k->name, "\"exporter\" must be \"node\", \"dcgm\" or \"service\"");
}

static int parse_quantiles(const struct profile *p, struct kpi_def *k, const cJSON *arr)
{
	const cJSON *item;

	if (!cJSON_IsArray(arr) || !cJSON_GetArraySize(arr))
		return kpi_error(p, k->name, "\"quantiles\" must be a non-empty list of {\"name\", \"q\"}");
	k->quantiles = xcalloc((size_t)cJSON_GetArraySize(arr), sizeof(*k->quantiles));
	cJSON_ArrayForEach(item, arr) {
		const char *name = json_string(item, "name");
		const cJSON *q = cJSON_GetObjectItemCaseSensitive(item, "q");

		if (!name || !cJSON_IsNumber(q) || !(q->valuedouble > 0 && q->valuedouble < 1))
			return kpi_error(p, k->name, "each quantile needs a \"name\" and a \"q\" between 0 and 1");
		k->quantiles[k->nquantiles].name = xstrdup(name);
		k->quantiles[k->nquantiles].q = q->valuedouble;
		k->nquantiles++;
	}
	return 0;
}

static int parse_kpi(const struct profile *p, const cJSON *obj, struct kpi_def *k)
{
	const char *name = json_string(obj, "name"), *kind = json_string(obj, "kind"), *peak;
	const cJSON *scale = cJSON_GetObjectItemCaseSensitive(obj, "scale");
	const cJSON *optional = cJSON_GetObjectItemCaseSensitive(obj, "optional");

	if (!name || !is_metric_name(name))
		return kpi_error(p, name, "needs a \"name\" of letters, digits and '_'");
	k->name = xstrdup(name);
	if (!kind || !(k->kind = kpi_kind_find(kind))) {
		char *names = kpi_kind_names();
		char *what = xasprintf("\"kind\" must be %s", names);

		kpi_error(p, name, what);
		free(what);
		free(names);
		return -1;
	}
	k->metric = json_strdup(obj, "metric");
	k->matchers = json_strdup(obj, "matchers");
	k->expr = json_strdup(obj, "expr");
	k->fallback_expr = json_strdup(obj, "fallback_expr");
	k->idle_label = json_strdup(obj, "idle_label");
	k->idle_value = json_strdup(obj, "idle_value");
	k->unit = xstrdup(json_string(obj, "unit") ? json_string(obj, "unit") : "");
	k->scale = 1;
	if (scale) {
		if (!cJSON_IsNumber(scale) || !isfinite(scale->valuedouble) || scale->valuedouble == 0)
			return kpi_error(p, name, "\"scale\" must be a non-zero number");
		k->scale = scale->valuedouble;
	}
	if (parse_scopes(p, name, cJSON_GetObjectItemCaseSensitive(obj, "scopes"), &k->scopes) < 0)
		return -1;
	if (k->kind->query == KPI_QUERY_RANGE) {
		if (!k->expr || !*k->expr)
			return kpi_error(p, name, "needs an \"expr\" (PromQL, with __SESSION__ for the session matcher)");
	} else if (!k->metric || !is_metric_name(k->metric)) {
		return kpi_error(p, name, "needs a \"metric\" name");
	}
	if (k->matchers && (strchr(k->matchers, '{') || strchr(k->matchers, '}')))
		return kpi_error(p, name, "\"matchers\" are label matchers without braces, e.g. device!=\"lo\"");
	if ((k->kind->fields & KPI_FIELD_IDLE) && (!k->idle_label || !k->idle_value))
		return kpi_error(p, name, "needs \"idle_label\" and \"idle_value\"");
	if ((k->kind->fields & KPI_FIELD_QUANTILES) &&
	    parse_quantiles(p, k, cJSON_GetObjectItemCaseSensitive(obj, "quantiles")) < 0)
		return -1;
	if (parse_exporter(p, k, cJSON_GetObjectItemCaseSensitive(obj, "exporter")) < 0)
		return -1;
	if (optional && !cJSON_IsBool(optional))
		return kpi_error(p, name, "\"optional\" must be true or false");
	k->optional = cJSON_IsTrue(optional);
	if (json_string(obj, "better") && !strcmp(json_string(obj, "better"), "higher"))
		k->better = 1;
	else if (json_string(obj, "better") && !strcmp(json_string(obj, "better"), "lower"))
		k->better = -1;
	else if (cJSON_GetObjectItemCaseSensitive(obj, "better"))
		return kpi_error(p, name, "\"better\" must be \"higher\" or \"lower\"");
	if ((peak = json_string(obj, "peak"))) {
		char *cause = NULL;

		if (!(k->kind->fields & KPI_FIELD_PEAK)) {
			char *what = xasprintf("\"peak\" is not for kind %s", k->kind->name);

			kpi_error(p, name, what);
			free(what);
			return -1;
		}
		if (parse_duration_ms(peak, 0, &k->peak_ms, &cause) < 0) {
			kpi_error(p, name, cause);
			free(cause);
			return -1;
		}
		k->peak_name = xasprintf("%s_peak_%s", name, peak);
	}
	return 0;
}

int profile_load(const char *spec, struct profile *p)
{
	cJSON *root = NULL, *item;
	const cJSON *kpis;
	int ret = -1;

	memset(p, 0, sizeof(*p));
	if (strchr(spec, '/') || (strlen(spec) > 5 && !strcmp(spec + strlen(spec) - 5, ".json"))) {
		p->path = xstrdup(spec);
	} else {
		char *dir = render_templates_dir();

		p->path = xasprintf("%s/profiles/%s.json", dir, spec);
		free(dir);
	}
	if (json_read_file(p->path, 1 << 20, 0, &root, NULL) != 0)
		goto out;
	kpis = cJSON_GetObjectItemCaseSensitive(root, "kpis");
	if (!cJSON_IsArray(kpis) || !cJSON_GetArraySize(kpis)) {
		error("profile '%s' has no \"kpis\" list", p->path);
		goto out;
	}
	p->name = xstrdup(json_string(root, "name") ? json_string(root, "name") : spec);
	p->kpis = xcalloc((size_t)cJSON_GetArraySize(kpis), sizeof(*p->kpis));
	cJSON_ArrayForEach(item, kpis) {
		if (parse_kpi(p, item, &p->kpis[p->n++]) < 0)
			goto out;
		for (size_t j = 0; j + 1 < p->n; j++)
			if (!strcmp(p->kpis[j].name, p->kpis[p->n - 1].name)) {
				kpi_error(p, p->kpis[j].name, "is defined twice");
				goto out;
			}
	}
	ret = 0;
out:
	cJSON_Delete(root);
	if (ret < 0)
		profile_release(p);
	return ret;
}

static void kpi_release(struct kpi_def *k)
{
	free(k->name);
	free(k->metric);
	free(k->matchers);
	free(k->expr);
	free(k->fallback_expr);
	free(k->idle_label);
	free(k->idle_value);
	free(k->unit);
	free(k->peak_name);
	for (size_t i = 0; i < k->nquantiles; i++)
		free(k->quantiles[i].name);
	free(k->quantiles);
}

int profile_better(const struct profile *p, const char *kpi)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct kpi_def *k = &p->kpis[i];

		if (!strcmp(k->name, kpi) || (k->peak_name && !strcmp(k->peak_name, kpi)))
			return k->better;
		for (size_t j = 0; j < k->nquantiles; j++)
			if (!strcmp(k->quantiles[j].name, kpi))
				return k->better;
	}
	return 0;
}

void profile_release(struct profile *p)
{
	for (size_t i = 0; i < p->n; i++)
		kpi_release(&p->kpis[i]);
	free(p->kpis);
	free(p->name);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

char *kpi_selector(const struct kpi_def *k, const char *metric_suffix, const char *session)
{
	return xasprintf("%s%s{" LABEL_SESSION "=\"%s\"%s%s}", k->metric, metric_suffix ? metric_suffix : "", session,
			 k->matchers ? "," : "", k->matchers ? k->matchers : "");
}

char *kpi_expand(const char *expr, const char *session)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = expr, *hit;

	while ((hit = strstr(p, "__SESSION__"))) {
		const char *next = hit + strlen("__SESSION__");

		if (session) {
			strbuf_add(&sb, p, (size_t)(hit - p));
			strbuf_addf(&sb, LABEL_SESSION "=\"%s\"", session);
		} else if (hit > p && hit[-1] == '{' && *next == '}') {
			strbuf_add(&sb, p, (size_t)(hit - 1 - p));
			next++;
		} else {
			strbuf_add(&sb, p, (size_t)(hit - p - (*next != ',' && hit > p && hit[-1] == ',')));
			next += *next == ',';
		}
		p = next;
	}
	strbuf_addstr(&sb, p);
	return strbuf_detach(&sb, NULL);
}

static int ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

/* The end of the string literal starting at p (its closing quote's next byte), or NULL if it is unclosed. */
static const char *skip_string(const char *p)
{
	char q = *p++;

	for (; *p && *p != q; p++)
		if (*p == '\\' && q != '`' && p[1])
			p++;
	return *p ? p + 1 : NULL;
}

/* The end of the {...} matchers starting at p, or NULL. */
static const char *skip_matchers(const char *p)
{
	for (p++; *p && *p != '}'; p++)
		if (*p == '"' || *p == '\'' || *p == '`') {
			if (!(p = skip_string(p)))
				return NULL;
			p--;
		}
	return *p ? p + 1 : NULL;
}

/* Words of PromQL that are not metric names where they stand alone (aggregations before by or without). */
static int promql_keyword(const char *w, size_t n)
{
	static const char *const words[] = { "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
					     "group_right", "bool", "inf", "nan", "Inf", "NaN", "sum", "min", "max",
					     "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
					     "topk", "quantile" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && !strncmp(words[i], w, n))
			return 1;
	return 0;
}

/* Is the word one that a list of label names in parentheses follows? */
static int grouping(const char *w, size_t n)
{
	static const char *const words[] = { "by", "without", "on", "ignoring", "group_left", "group_right" };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && !strncmp(words[i], w, n))
			return 1;
	return 0;
}

char *kpi_fresh_expr(const char *expr, int64_t fresh_ms, int *plain)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p = expr;
	size_t nsel = 0, other = 0;
	long depth = 0;

	while (*p) {
		const char *start = p, *end;

		if (*p == '"' || *p == '\'' || *p == '`') {
			if (!(p = skip_string(p)))
				goto fail;
			strbuf_add(&sb, start, (size_t)(p - start));
			other++;
			continue;
		}
		/* a range, a subquery, an offset or an @ already say which samples: not ours to change */
		if (*p == '[' || *p == '@')
			goto fail;
		if ((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) {
			while (ident_char(*p) || *p == '.' || ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
				p++;
			strbuf_add(&sb, start, (size_t)(p - start));
			other++;
			continue;
		}
		if (!ident_start(*p) && *p != '{') {
			depth += (*p == '(') - (*p == ')');
			if (depth < 0)
				goto fail;
			if (*p != ' ' && *p != '\t' && *p != '\n')
				other++;
			strbuf_addch(&sb, *p++);
			continue;
		}
		while (ident_char(*p))
			p++;
		end = p;
		while (*end == ' ' || *end == '\t' || *end == '\n')
			end++;
		if (p - start == 6 && !strncmp(start, "offset", 6))
			goto fail;
		if (*end == '(' && grouping(start, (size_t)(p - start))) {
			/* by (instance, job): label names, copied as they are */
			while (*end && *end != ')')
				end++;
			if (!*end)
				goto fail;
			strbuf_add(&sb, start, (size_t)(++end - start));
			p = end;
			other++;
			continue;
		}
		if (*end == '(' || (*end != '{' && promql_keyword(start, (size_t)(p - start)))) {
			strbuf_add(&sb, start, (size_t)(p - start));
			other++;
			continue;
		}
		if (*end == '{') {
			if (!(end = skip_matchers(end)))
				goto fail;
		} else {
			end = p;
		}
		/* a selector: only a sample it took in the last fresh_ms counts */
		strbuf_addstr(&sb, "last_over_time(");
		strbuf_add(&sb, start, (size_t)(end - start));
		strbuf_addf(&sb, "[%lldms])", (long long)fresh_ms);
		nsel++;
		p = end;
	}
	/* unbalanced: left to Prometheus to refuse as the profile wrote it */
	if (!nsel || depth)
		goto fail;
	if (plain)
		*plain = nsel == 1 && !other;
	return strbuf_detach(&sb, NULL);
fail:
	strbuf_release(&sb);
	return NULL;
}

static const char *skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	return p;
}

/* A number at p (no sign: PromQL reads "-1" as an operator and a number) into *v; the text after it, or NULL. */
static const char *read_number(const char *p, double *v)
{
	char *end;

	if (!((*p >= '0' && *p <= '9') || *p == '.'))
		return NULL;
	*v = strtod(p, &end);
	return end > p ? end : NULL;
}

int kpi_filter_parse(const char *expr, struct kpi_filter *f)
{
	static const struct {
		const char *text;
		enum kpi_cmp cmp;
	} cmps[] = { { ">=", KPI_CMP_GE }, { "<=", KPI_CMP_LE }, { "==", KPI_CMP_EQ }, { "!=", KPI_CMP_NE },
		     { ">", KPI_CMP_GT }, { "<", KPI_CMP_LT } };
	struct kpi_filter g = { .scale = 1 };
	const char *p = skip_blank(expr), *sel, *after;

	after = read_number(p, &g.scale);
	if (after) {
		p = skip_blank(after);
		if (*p != '*')
			return -1;
		g.scaled = 1;
		p = skip_blank(p + 1);
	}
	sel = p;
	if (!ident_start(*p))
		return -1;
	while (ident_char(*p))
		p++;
	if ((size_t)(p - sel) < 64 && promql_keyword(sel, (size_t)(p - sel)))
		return -1;
	if (*p == '{' && !(p = skip_matchers(p)))
		return -1;
	after = p;
	for (p = skip_blank(p); *p; p = skip_blank(p)) {
		size_t c;

		for (c = 0; c < sizeof(cmps) / sizeof(cmps[0]); c++)
			if (!strncmp(p, cmps[c].text, strlen(cmps[c].text)))
				break;
		if (c == sizeof(cmps) / sizeof(cmps[0]) || g.n == KPI_FILTER_MAX)
			return -1;
		p = skip_blank(p + strlen(cmps[c].text));
		g.ops[g.n].cmp = cmps[c].cmp;
		if (!(p = read_number(p, &g.ops[g.n].value)))
			return -1;
		g.n++;
	}
	g.selector = xstrndup(sel, (size_t)(after - sel));
	*f = g;
	return 0;
}

int kpi_filter_apply(const struct kpi_filter *f, double v, double *out)
{
	if (f->scaled)
		v = f->scale * v;
	for (size_t i = 0; i < f->n; i++) {
		double c = f->ops[i].value;
		int keep;

		switch (f->ops[i].cmp) {
		case KPI_CMP_EQ: keep = v == c; break;
		case KPI_CMP_NE: keep = v != c; break;
		case KPI_CMP_GT: keep = v > c; break;
		case KPI_CMP_LT: keep = v < c; break;
		case KPI_CMP_GE: keep = v >= c; break;
		default: keep = v <= c; break;
		}
		if (!keep)
			return 0;
	}
	*out = v;
	return 1;
}

void kpi_filter_release(struct kpi_filter *f)
{
	free(f->selector);
	memset(f, 0, sizeof(*f));
}
