#include "render/rules.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "render/render.h"
#include "session/labels.h"

#define S 1000LL
#define MAX_FOR_MS (24 * 3600 * S)

/* The defaults: thresholds, durations and severities for production GPU clusters. */
const struct rule_def rule_table[] = {
	{ "THERMAL_WARNING", "warning", "GPU temperature >= threshold (C)", 1, 80, 0, 150, 60 * S, 0 },
	{ "THERMAL_CRITICAL", "critical", "GPU temperature > threshold (C)", 1, 85, 0, 150, 30 * S, 0 },
	{ "POWER_SPIKE", "warning", "GPU power > threshold (W)", 1, 400, 0, 10000, 45 * S, 0 },
	{ "POWER_CRITICAL", "critical", "GPU power >= threshold (W)", 1, 450, 0, 10000, 20 * S, 0 },
	{ "ECC_ERRORS_SPIKE", "warning", "correctable ECC errors counted over the rule's duration >= threshold",
	  1, 10, 1, 1e9, 300 * S, 1 * S },
	{ "ECC_UNCORRECTABLE", "critical", "uncorrectable ECC errors >= threshold", 1, 1, 1, 1e9, 0, 0 },
	{ "THROTTLING", "warning", "a hardware slowdown, thermal or power-brake clock reason active", 0, 0, 0, 0,
	  30 * S, 0 },
	{ "MEMORY_PRESSURE", "warning", "GPU memory used >= threshold (%)", 1, 90, 0, 100, 60 * S, 0 },
	{ "XID_ERROR", "critical", "an XID error reported (last XID code >= threshold)", 1, 1, 1, 1e9, 0, 0 },
	{ "GPU_MISSING", "critical", "a GPU stopped reporting while its exporter answers", 0, 0, 0, 0, 0, 0 },
	{ "TARGET_DOWN", "critical", "a target's scrape fails (node or service unreachable)", 0, 0, 0, 0, 0, 0 },
	{ "TARGET_STALE", "warning", "no scrape recorded for threshold scrape intervals", 1, 3, 1, 1000, 0, 0 },
	{ "SCRAPE_SLOW", "warning", "a scrape takes more than threshold of the scrape interval", 1, 0.8, 0.01, 1,
	  30 * S, 0 },
	{ "TARGET_FLAPPING", "warning", "a target went up or down >= threshold times in 5 minutes", 1, 4, 1, 1000, 0,
	  0 },
};
const size_t rule_count = sizeof(rule_table) / sizeof(rule_table[0]);

const struct rule_def *rule_find(const char *name)
{
	for (size_t i = 0; i < rule_count; i++)
		if (!strcmp(rule_table[i].name, name))
			return &rule_table[i];
	return NULL;
}

/* A duration for "for": "0", "0s" or anything parse_duration_ms takes. */
static int parse_for(const char *v, int64_t *ms, char **cause)
{
	if (!strcmp(v, "0") || !strcmp(v, "0s")) {
		*ms = 0;
		return 0;
	}
	return parse_duration_ms(v, S, ms, cause);
}

/* Check one rule's override object; add its normalized form to out. */
static int override_parse(const struct rule_def *r, const cJSON *o, cJSON *out, char **cause)
{
	const cJSON *item;
	cJSON *norm;
	char *why = NULL;
	int64_t ms;

	if (!cJSON_IsObject(o)) {
		*cause = xasprintf("rule '%s': expected an object with \"threshold\", \"for\" or \"enabled\"", r->name);
		return -1;
	}
	norm = cJSON_AddObjectToObject(out, r->name);
	cJSON_ArrayForEach(item, o) {
		const char *key = item->string;

		if (!strcmp(key, "threshold")) {
			if (!r->has_threshold) {
				*cause = xasprintf("rule '%s' takes no threshold", r->name);
				return -1;
			}
			if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || item->valuedouble < r->min ||
			    item->valuedouble > r->max) {
				*cause = xasprintf("rule '%s': threshold must be a number from %g to %g", r->name, r->min,
						   r->max);
				return -1;
			}
			cJSON_AddNumberToObject(norm, "threshold", item->valuedouble);
		} else if (!strcmp(key, "for")) {
			if (!cJSON_IsString(item) || parse_for(item->valuestring, &ms, &why) < 0 || ms > MAX_FOR_MS ||
			    ms < r->min_for_ms || ms % S) {
				*cause = xasprintf("rule '%s': invalid \"for\"%s%s: expected whole seconds from %llds to 24h",
						   r->name, why ? ": " : "", why ? why : "", (long long)(r->min_for_ms / S));
				free(why);
				return -1;
			}
			cJSON_AddNumberToObject(norm, "for_ms", (double)ms);
		} else if (!strcmp(key, "enabled")) {
			if (!cJSON_IsBool(item)) {
				*cause = xasprintf("rule '%s': \"enabled\" must be true or false", r->name);
				return -1;
			}
			cJSON_AddBoolToObject(norm, "enabled", cJSON_IsTrue(item));
		} else {
			*cause = xasprintf("rule '%s': unknown key '%.40s' (expected threshold, for or enabled)", r->name,
					   key);
			return -1;
		}
	}
	return 0;
}

int rules_overrides_parse(const char *text, char **out, char **cause)
{
	cJSON *root = cJSON_Parse(text), *norm = cJSON_CreateObject();
	const cJSON *item;
	int ret = -1;

	if (!root || !cJSON_IsObject(root)) {
		*cause = xstrdup("expected a JSON object of rule names (see 'benchmon session-create -h')");
		goto out;
	}
	cJSON_ArrayForEach(item, root) {
		const struct rule_def *r = rule_find(item->string);

		if (!r) {
			*cause = xasprintf("unknown rule '%.40s'", item->string);
			goto out;
		}
		if (cJSON_GetObjectItemCaseSensitive(norm, r->name)) {
			*cause = xasprintf("rule '%s' is given twice", r->name);
			goto out;
		}
		if (override_parse(r, item, norm, cause) < 0)
			goto out;
	}
	*out = cJSON_PrintUnformatted(norm);
	if (!*out)
		abort();
	ret = 0;
out:
	cJSON_Delete(norm);
	cJSON_Delete(root);
	return ret;
}

/* A number as Prometheus and YAML read it back. */
static char *format_number(double v)
{
	return xasprintf("%.15g", v);
}

int render_rules(const char *overrides, int64_t scrape_interval_ms, struct strbuf *out)
{
	cJSON *ov = overrides ? cJSON_Parse(overrides) : NULL;
	char *interval = xasprintf("%.15g", (double)scrape_interval_ms / 1000.0);
	int ret = -1;

	if (overrides && !ov) {
		error("the session's rule overrides do not parse (corrupted session.json?)");
		goto out;
	}
	strbuf_addstr(out, "# Alerting rules of a benchmon session, rendered from templates/rules/: edits here are overwritten.\n"
			   "groups:\n"
			   "  - name: benchmon\n"
			   "    rules:\n");
	for (size_t i = 0; i < rule_count; i++) {
		const struct rule_def *r = &rule_table[i];
		const cJSON *o = ov ? cJSON_GetObjectItemCaseSensitive(ov, r->name) : NULL;
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "threshold");
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "for_ms");
		char *name = xasprintf("rules/%s.yml.in", r->name);
		char *threshold = format_number(cJSON_IsNumber(t) ? t->valuedouble : r->threshold);
		char *dur = NULL;
		int64_t ms = cJSON_IsNumber(f) ? (int64_t)f->valuedouble : r->for_ms;
		int rc;

		if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "enabled"))) {
			free(threshold);
			free(name);
			continue;
		}
		dur = ms ? format_duration_ms(ms) : xstrdup("0s");
		{
			const struct render_var vars[] = {
				{ "THRESHOLD", threshold },
				{ "FOR", dur },
				{ "INTERVAL_S", interval },
				{ "LABEL_NODE", LABEL_NODE },
				{ NULL, NULL },
			};

			rc = render_template(name, vars, out);
		}
		free(dur);
		free(threshold);
		free(name);
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	free(interval);
	cJSON_Delete(ov);
	return ret;
}

int render_rules_file(const char *dir, const char *overrides, int64_t scrape_interval_ms)
{
	struct strbuf out = STRBUF_INIT;
	char *path = xasprintf("%s/rules.yml", dir);
	int ret = -1;

	if (render_rules(overrides, scrape_interval_ms, &out) < 0)
		goto out;
	ret = write_file_atomic(path, out.buf, out.len, 0600);
out:
	strbuf_release(&out);
	free(path);
	return ret;
}
