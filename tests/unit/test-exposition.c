/* Unit tests for collect/exposition.h: /metrics pages in text 0.0.4 and OpenMetrics 1.0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/exposition.h"

static void parse_ok(const char *text, struct exposition *e)
{
	char *cause = NULL;
	int ret = exposition_parse(text, strlen(text), e, &cause);

	if (ret < 0)
		fail_msg("unexpected error: %s", cause);
}

static void parse_bad(const char *text, const char *want)
{
	struct exposition e;
	char *cause = NULL;

	assert_int_equal(exposition_parse(text, strlen(text), &e, &cause), -1);
	assert_non_null(cause);
	if (!strstr(cause, want))
		fail_msg("cause '%s' lacks '%s'", cause, want);
	assert_int_equal(e.n, 0);
	free(cause);
}

static void text_format(void **state)
{
	struct exposition e;

	(void)state;
	parse_ok("# HELP http_requests_total Requests \\\\ served.\\n\n"
		 "# TYPE http_requests_total counter\n"
		 "http_requests_total{service=\"web\",code=\"200\"} 1027 1727776800000\n"
		 "  \t\n"
		 "# a plain comment\n"
		 "# TYPE d histogram\n"
		 "d_bucket{le=\"0.1\"} 3\n"
		 "d_bucket{ le = \"+Inf\" , } 5\n"
		 "d_sum 1.5e-1\n"
		 "d_count 5\n"
		 "other_total 7\n"
		 "g{a=\"x\"}\tNaN\n"
		 "h -Inf\n"
		 "i +Inf",
		 &e);
	assert_false(e.openmetrics);
	assert_int_equal(e.n, 9);
	assert_string_equal(e.samples[0].name, "http_requests_total");
	assert_int_equal(e.samples[0].type, EXPO_COUNTER);
	assert_int_equal(e.samples[0].nlabels, 2);
	assert_string_equal(expo_label(&e.samples[0], "code"), "200");
	assert_true(e.samples[0].value == 1027);
	assert_true(e.samples[0].has_timestamp);
	assert_int_equal(e.samples[0].t_ms, 1727776800000LL);
	assert_int_equal(e.samples[1].type, EXPO_HISTOGRAM);
	assert_string_equal(expo_label(&e.samples[2], "le"), "+Inf");
	assert_true(e.samples[3].value == 0.15);
	assert_int_equal(e.samples[4].type, EXPO_HISTOGRAM);
	assert_int_equal(e.samples[5].type, EXPO_UNTYPED);
	assert_true(isnan(e.samples[6].value));
	assert_true(isinf(e.samples[7].value) && e.samples[7].value < 0);
	assert_true(isinf(e.samples[8].value) && e.samples[8].value > 0);
	exposition_release(&e);
}

static void escapes(void **state)
{
	struct exposition e;

	(void)state;
	parse_ok("m{a=\"back\\\\slash\",b=\"quo\\\"te\",c=\"new\\nline\",d=\"keep\\tthis\",e=\"\"} 1\n", &e);
	assert_int_equal(e.n, 1);
	assert_string_equal(expo_label(&e.samples[0], "a"), "back\\slash");
	assert_string_equal(expo_label(&e.samples[0], "b"), "quo\"te");
	assert_string_equal(expo_label(&e.samples[0], "c"), "new\nline");
	/* Prometheus keeps an unknown escape as it is */
	assert_string_equal(expo_label(&e.samples[0], "d"), "keep\\tthis");
	assert_string_equal(expo_label(&e.samples[0], "e"), "");
	exposition_release(&e);
}

static void openmetrics(void **state)
{
	struct exposition e;

	(void)state;
	parse_ok("# TYPE http_requests counter\n"
		 "# HELP http_requests Requests.\n"
		 "# UNIT http_requests requests\n"
		 "http_requests_total{service=\"web\"} 1027 1727776800.250 # {trace_id=\"abc\"} 1 1727776800.1\n"
		 "http_requests_created{service=\"web\"} 1727770000.5\n"
		 "# TYPE d_seconds histogram\n"
		 "d_seconds_bucket{le=\"0.5\"} 2 # {trace_id=\"x\"} 0.2\n"
		 "d_seconds_bucket{le=\"+Inf\"} 4\n"
		 "d_seconds_count 4\n"
		 "d_seconds_sum 1.25\n"
		 "d_seconds_created 1727770000\n"
		 "# TYPE up unknown\n"
		 "up 1\n"
		 "# EOF\n",
		 &e);
	assert_true(e.openmetrics);
	assert_int_equal(e.n, 8);
	assert_int_equal(e.samples[0].type, EXPO_COUNTER);
	assert_false(e.samples[0].created);
	assert_int_equal(e.samples[0].t_ms, 1727776800250LL);
	assert_true(e.samples[1].created);
	assert_int_equal(e.samples[2].type, EXPO_HISTOGRAM);
	assert_true(e.samples[2].value == 2);
	assert_true(e.samples[6].created);
	assert_int_equal(e.samples[7].type, EXPO_UNTYPED);
	exposition_release(&e);
	/* no newline after # EOF is fine too */
	parse_ok("a_total 1\n# EOF", &e);
	assert_true(e.openmetrics);
	assert_int_equal(e.n, 1);
	exposition_release(&e);
}

static void empty(void **state)
{
	struct exposition e;

	(void)state;
	parse_ok("", &e);
	assert_int_equal(e.n, 0);
	exposition_release(&e);
	parse_ok("# EOF\n", &e);
	assert_true(e.openmetrics);
	assert_int_equal(e.n, 0);
	exposition_release(&e);
}

static void errors(void **state)
{
	(void)state;
	parse_bad("m{a=\"x\" 1\n", "line 1");
	parse_bad("ok 1\nm{a=\"x} 1\n", "line 2: unterminated label value");
	parse_bad("m{a=\"x\",a=\"y\"} 1\n", "given twice");
	parse_bad("m 1 2 3\n", "at the end of a sample");
	parse_bad("m 1 2.5\n", "invalid timestamp");
	parse_bad("m one\n", "invalid value");
	parse_bad("m nan(1)\n", "invalid value");
	parse_bad("m\n", "blank before the value");
	parse_bad("9m 1\n", "expected a metric name");
	parse_bad("m 1 # {a=\"b\"} 1\n", "OpenMetrics only");
	parse_bad("# TYPE m countr\n", "unknown type");
	parse_bad("# TYPE m unknown\nm 1\n", "unknown type");
	parse_bad("# TYPE m untyped\nm 1\n# EOF\n", "unknown type");
	parse_bad("m 1\n\n# EOF\n", "empty line");
	parse_bad("# EOF\nm 1\n# EOF\n", "before the end");
	parse_bad("# random comment\nm 1\n# EOF\n", "a comment must be");
	parse_bad("m 1 # {a=\"b\"} x\n# EOF\n", "invalid exemplar");
}

static void nul_byte(void **state)
{
	struct exposition e;
	char *cause = NULL;

	(void)state;
	assert_int_equal(exposition_parse("m 1\n\0x 2\n", 9, &e, &cause), -1);
	assert_non_null(strstr(cause, "NUL"));
	free(cause);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_format), cmocka_unit_test(escapes), cmocka_unit_test(openmetrics),
		cmocka_unit_test(empty),       cmocka_unit_test(errors),  cmocka_unit_test(nul_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
