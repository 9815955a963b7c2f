#ifndef BENCHMON_RULES_H
#define BENCHMON_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

/*
 * The alerting rules Prometheus evaluates for a session: one template per
 * rule in templates/rules/<NAME>.yml.in, with @THRESHOLD@ and @FOR@ taken
 * from rule_table[] or from the session's overrides.
 *
 * Overrides are a JSON object naming rules, each with any of "threshold"
 * (a number within the rule's bounds), "for" (a duration: "30s", "2m",
 * "0s") and "enabled" (false leaves the rule out):
 *
 *   { "THERMAL_WARNING": { "threshold": 75, "for": "30s" },
 *     "XID_ERROR": { "enabled": false } }
 */

struct rule_def {
	const char *name;          /* the alert's name and its template's */
	const char *severity;      /* "warning" or "critical" */
	const char *what;          /* one line for the README and -h */
	int has_threshold;         /* 0: the rule takes no "threshold" */
	double threshold;          /* default */
	double min, max;           /* bounds of an override */
	int64_t for_ms;            /* default */
	int64_t min_for_ms;        /* 0, or the least "for" the expression accepts */
};

extern const struct rule_def rule_table[];
extern const size_t rule_count;

/* The rule named name, or NULL. */
const struct rule_def *rule_find(const char *name);

/*
 * Check the overrides in text (a whole JSON document) and give them back
 * normalized in *out (caller frees), for session.json. On error, *cause
 * says which rule and key is wrong (caller frees).
 */
int rules_overrides_parse(const char *text, char **out, char **cause);

/*
 * Render every enabled rule, with overrides (the normalized JSON of
 * rules_overrides_parse, or NULL for none), into out as one rule file.
 * scrape_interval_ms scales the rules counted in scrape intervals.
 */
int render_rules(const char *overrides, int64_t scrape_interval_ms, struct strbuf *out);

/* Render the rules into dir/rules.yml (atomically, 0600). */
int render_rules_file(const char *dir, const char *overrides, int64_t scrape_interval_ms);

#endif
