/* Unit tests for render/rules.h (overrides, rendering) and collect/health.h (the verdict). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/health.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "render/rules.h"

static void parse_ok(const char *text, const char *want)
{
	char *out = NULL, *cause = NULL;

	assert_int_equal(rules_overrides_parse(text, &out, &cause), 0);
	assert_null(cause);
	assert_string_equal(out, want);
	free(out);
}

static void parse_bad(const char *text, const char *cause_part)
{
	char *out = NULL, *cause = NULL;

	assert_int_equal(rules_overrides_parse(text, &out, &cause), -1);
	assert_null(out);
	assert_non_null(cause);
	if (!strstr(cause, cause_part))
		fail_msg("cause '%s' lacks '%s'", cause, cause_part);
	free(cause);
}

static void test_overrides(void **state)
{
	(void)state;
	parse_ok("{}", "{}");
	parse_ok("{\"THERMAL_WARNING\": {\"threshold\": 75.5, \"for\": \"2m\"}}",
		 "{\"THERMAL_WARNING\":{\"threshold\":75.5,\"for_ms\":120000}}");
	parse_ok("{\"XID_ERROR\": {\"enabled\": false}, \"POWER_SPIKE\": {\"for\": \"0\"}}",
		 "{\"XID_ERROR\":{\"enabled\":false},\"POWER_SPIKE\":{\"for_ms\":0}}");
	parse_bad("{\"NOPE\": {}}", "unknown rule 'NOPE'");
	parse_bad("{\"THERMAL_WARNING\": {\"threshold\": 150.5}}", "from 0 to 150");
	parse_bad("{\"THERMAL_WARNING\": {\"threshold\": null}}", "must be a number");
	parse_bad("{\"THROTTLING\": {\"threshold\": 1}}", "takes no threshold");
	parse_bad("{\"ECC_ERRORS_SPIKE\": {\"for\": \"0s\"}}", "from 1s");
	parse_bad("{\"POWER_SPIKE\": {\"for\": \"1500ms\"}}", "whole seconds");
	parse_bad("{\"POWER_SPIKE\": {\"for\": 30}}", "invalid \"for\"");
	parse_bad("{\"POWER_SPIKE\": {\"enabled\": 0}}", "true or false");
	parse_bad("{\"POWER_SPIKE\": {}, \"POWER_SPIKE\": {}}", "given twice");
	parse_bad("[]", "expected a JSON object");
	parse_bad("", "expected a JSON object");
}

static void test_every_rule_has_a_template(void **state)
{
	struct strbuf out = STRBUF_INIT;
	char *norm = NULL, *cause = NULL;

	(void)state;
	/* make check runs from the source tree, which holds templates/ */
	if (!getenv("BENCHMON_DATADIR"))
		setenv("BENCHMON_DATADIR", ".", 1);
	assert_int_equal(render_rules(NULL, 15000, &out), 0);
	for (size_t i = 0; i < rule_count; i++) {
		char *line = xasprintf("- alert: %s\n", rule_table[i].name);

		assert_non_null(strstr(out.buf, line));
		free(line);
	}
	assert_non_null(strstr(out.buf, "timestamp(up) > 3 * 15\n"));
	strbuf_reset(&out);
	assert_int_equal(rules_overrides_parse("{\"THERMAL_CRITICAL\": {\"threshold\": 90, \"for\": \"1m\"},"
					       " \"GPU_MISSING\": {\"enabled\": false}}", &norm, &cause), 0);
	assert_int_equal(render_rules(norm, 1000, &out), 0);
	assert_non_null(strstr(out.buf, "expr: DCGM_FI_DEV_GPU_TEMP > 90\n        for: 1m\n"));
	assert_null(strstr(out.buf, "GPU_MISSING"));
	free(norm);
	strbuf_release(&out);
}

static void add_finding(struct kpi_report *r, const char *kind, int optional)
{
	r->findings = xrealloc(r->findings, (r->nfindings + 1) * sizeof(*r->findings));
	memset(&r->findings[r->nfindings], 0, sizeof(*r->findings));
	r->findings[r->nfindings].kind = xstrdup(kind);
	r->findings[r->nfindings].subject = xstrdup("s");
	r->findings[r->nfindings].message = xasprintf("%s message", kind);
	r->findings[r->nfindings++].optional = optional;
}

static void add_throttle(struct kpi_report *r, const char *scope, double value)
{
	r->results = xrealloc(r->results, (r->nresults + 1) * sizeof(*r->results));
	memset(&r->results[r->nresults], 0, sizeof(*r->results));
	r->results[r->nresults].kpi = xstrdup(HEALTH_THROTTLE_KPI);
	r->results[r->nresults].scope = xstrdup(scope);
	r->results[r->nresults].unit = xstrdup("%");
	r->results[r->nresults].has_value = 1;
	r->results[r->nresults++].value = value;
}

static const char *verdict_of(const struct kpi_report *r, size_t *nreasons)
{
	static char text[16];
	struct verdict v;

	health_verdict(r, &v);
	snprintf(text, sizeof(text), "%s", v.verdict);
	*nreasons = v.nreasons;
	verdict_release(&v);
	return text;
}

static void test_verdict(void **state)
{
	struct kpi_report r = { 0 };
	size_t n;

	(void)state;
	assert_string_equal(verdict_of(&r, &n), "VALID");
	assert_int_equal(n, 0);
	add_finding(&r, "no_data", 1);                 /* an optional KPI's */
	add_throttle(&r, "gpu=n1/0", 10.0);            /* at the threshold, not above */
	add_throttle(&r, "session", 50.0);             /* only GPUs' shares count */
	assert_string_equal(verdict_of(&r, &n), "VALID");
	add_finding(&r, "warning_alert", 0);
	assert_string_equal(verdict_of(&r, &n), "SUSPECT");
	assert_int_equal(n, 1);
	add_finding(&r, "missing_scrapes", 0);
	assert_string_equal(verdict_of(&r, &n), "SUSPECT");
	assert_int_equal(n, 2);
	add_throttle(&r, "gpu=n1/1", 10.5);
	assert_string_equal(verdict_of(&r, &n), "INVALID");
	assert_int_equal(n, 3);
	kpi_report_release(&r);
	add_finding(&r, "critical_alert", 0);
	assert_string_equal(verdict_of(&r, &n), "INVALID");
	kpi_report_release(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overrides),
		cmocka_unit_test(test_every_rule_has_a_template),
		cmocka_unit_test(test_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
