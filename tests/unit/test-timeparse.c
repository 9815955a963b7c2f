/* Unit tests for lib/timeparse.h: durations and points in time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lib/timeparse.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define WEEK (7 * DAY)

/* 2025-10-01T10:00:00Z */
#define T0 1759312800000LL

static void assert_duration(const char *s, int64_t bare_unit_ms, int64_t expect)
{
	char *cause = NULL;
	int64_t ms = -42;

	if (parse_duration_ms(s, bare_unit_ms, &ms, &cause) != 0)
		fail_msg("parse_duration_ms rejected '%s': %s", s, cause);
	assert_null(cause);
	assert_int_equal(ms, expect);
}

/* Assert s is rejected, leaves *out_ms alone, and the cause contains expect_in_cause. */
static void assert_duration_bad(const char *s, int64_t bare_unit_ms, const char *expect_in_cause)
{
	char *cause = NULL;
	int64_t ms = -42;

	if (parse_duration_ms(s, bare_unit_ms, &ms, &cause) != -1)
		fail_msg("parse_duration_ms accepted '%s' as %lld ms", s, (long long)ms);
	assert_int_equal(ms, -42);
	assert_non_null(cause);
	if (expect_in_cause && !strstr(cause, expect_in_cause))
		fail_msg("cause for '%s' lacks '%s': %s", s, expect_in_cause, cause);
	free(cause);
}

static void test_duration_single_units(void **state)
{
	(void)state;
	assert_duration("1s", 0, SEC);
	assert_duration("500ms", 0, 500);
	assert_duration("2m", 0, 2 * MIN);
	assert_duration("6h", 0, 6 * HOUR);
	assert_duration("1d", 0, DAY);
	assert_duration("1w", 0, WEEK);
	assert_duration("15s", 0, 15 * SEC);
}

static void test_duration_sequence(void **state)
{
	(void)state;
	assert_duration("1h30m", 0, HOUR + 30 * MIN);
	assert_duration("1m500ms", 0, MIN + 500);
	assert_duration("1w2d3h4m5s6ms", 0, WEEK + 2 * DAY + 3 * HOUR + 4 * MIN + 5 * SEC + 6);
}

static void test_duration_bare_number_uses_bare_unit(void **state)
{
	(void)state;
	assert_duration("6", HOUR, 6 * HOUR);
	assert_duration("250", 1, 250);
	assert_duration("15", SEC, 15 * SEC);
}

static void test_duration_bare_number_without_bare_unit_rejected(void **state)
{
	(void)state;
	assert_duration_bad("6", 0, "invalid duration");
}

static void test_duration_bare_unit_only_for_whole_string(void **state)
{
	(void)state;
	/* a trailing number inside a sequence is not a bare number */
	assert_duration_bad("1h30", HOUR, "invalid duration");
}

static void test_duration_rejects_empty(void **state)
{
	(void)state;
	assert_duration_bad("", 0, "empty");
	assert_duration_bad("", HOUR, "empty");
}

static void test_duration_rejects_zero(void **state)
{
	(void)state;
	assert_duration_bad("0s", 0, "positive");
	assert_duration_bad("0ms", 0, "positive");
	assert_duration_bad("0", HOUR, "positive");
}

static void test_duration_rejects_malformed(void **state)
{
	(void)state;
	assert_duration_bad("-1s", 0, "'-1s'");
	assert_duration_bad("1x", 0, "'1x'");
	assert_duration_bad("s", 0, "'s'");
	assert_duration_bad("1.5h", 0, NULL);
	assert_duration_bad(" 1s", 0, NULL);
	assert_duration_bad("1s ", 0, NULL);
	assert_duration_bad("1S", 0, NULL);
	assert_duration_bad("1y", 0, NULL);
}

static void test_duration_rejects_overflowing_digits(void **state)
{
	(void)state;
	assert_duration_bad("99999999999999h", 0, "too long");
	assert_duration_bad("99999999999999999999999999s", 0, "too long");
	assert_duration_bad("99999999999999", HOUR, "too long");
}

static void test_duration_ten_year_limit(void **state)
{
	(void)state;
	assert_duration("520w", 0, 520 * WEEK);
	assert_duration("3650d", 0, 3650 * DAY);
	assert_duration_bad("3661d", 0, "too long");
	assert_duration_bad("5000w", 0, NULL);
	assert_duration_bad("3000d3000d", 0, NULL);
	assert_duration_bad("100000", HOUR, NULL);
}

/*
 * BUG (documented, failing): parse_duration_ms in lib/timeparse.c computes
 * value * duration_units[i].ms (and value * bare_unit_ms) in int64_t before
 * checking the limit. The digit loop lets value reach about 3.16e12, so
 * "30500568905w" overflows (undefined behaviour; UBSan reports it) and on
 * x86-64 wraps to 34448384 ms, which is accepted as 9.5 hours.
 */
static void test_duration_rejects_multiplication_overflow(void **state)
{
	(void)state;
	assert_duration_bad("99999999999w", 0, NULL);
	assert_duration_bad("30500568905w", 0, NULL);
	assert_duration_bad("213503982335d", 0, NULL);
}

static void test_format_duration_largest_exact_unit(void **state)
{
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {
		{ 15 * SEC, "15s" }, { 1500, "1500ms" }, { 6 * HOUR, "6h" }, { 90 * SEC, "90s" },
		{ 2 * MIN, "2m" }, { 90 * MIN, "90m" }, { DAY, "24h" }, { 1, "1ms" }, { SEC, "1s" },
		{ HOUR + 1, "3600001ms" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = format_duration_ms(cases[i].ms);

		assert_string_equal(text, cases[i].text);
		free(text);
	}
}

static void test_format_duration_parses_back(void **state)
{
	static const int64_t values[] = { 1, 999, SEC, 1500, 90 * SEC, MIN, 90 * MIN, 6 * HOUR, WEEK };

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *text = format_duration_ms(values[i]);

		assert_duration(text, 0, values[i]);
		free(text);
	}
}

static void assert_time(const char *s, int64_t expect)
{
	char *cause = NULL;
	int64_t ms = -42;

	if (parse_time_ms(s, &ms, &cause) != 0)
		fail_msg("parse_time_ms rejected '%s': %s", s, cause);
	assert_null(cause);
	if (ms != expect)
		fail_msg("parse_time_ms('%s') = %lld, expected %lld", s, (long long)ms, (long long)expect);
}

static void assert_time_bad(const char *s, const char *expect_in_cause)
{
	char *cause = NULL;
	int64_t ms = -42;

	if (parse_time_ms(s, &ms, &cause) != -1)
		fail_msg("parse_time_ms accepted '%s' as %lld", s, (long long)ms);
	assert_int_equal(ms, -42);
	assert_non_null(cause);
	if (expect_in_cause && !strstr(cause, expect_in_cause))
		fail_msg("cause for '%s' lacks '%s': %s", s, expect_in_cause, cause);
	free(cause);
}

static void test_time_rfc3339_utc(void **state)
{
	(void)state;
	assert_time("2025-10-01T10:00:00Z", T0);
	assert_time("1970-01-01T00:00:00Z", 0);
}

static void test_time_lowercase_t_and_z(void **state)
{
	(void)state;
	assert_time("2025-10-01t10:00:00z", T0);
	assert_time("2025-10-01t10:00:00Z", T0);
}

static void test_time_space_separator(void **state)
{
	(void)state;
	assert_time("2025-10-01 10:00:00Z", T0);
}

static void test_time_offsets(void **state)
{
	(void)state;
	assert_time("2025-10-01T12:00:00+02:00", T0);
	assert_time("2025-10-01T04:30:00-05:30", T0);
	assert_time("2025-10-01T10:00:00+00:00", T0);
	assert_time("2025-10-01T10:00:00-00:00", T0);
	assert_time("2025-10-02T00:00:00+14:00", T0);
}

static void test_time_fraction_truncated_to_ms(void **state)
{
	(void)state;
	assert_time("2025-10-01T10:00:00.5Z", T0 + 500);
	assert_time("2025-10-01T10:00:00.250Z", T0 + 250);
	assert_time("2025-10-01T10:00:00.123456789Z", T0 + 123);
	assert_time("2025-10-01T10:00:00.9999Z", T0 + 999);
	assert_time("2025-10-01T04:30:00.250-05:30", T0 + 250);
}

static void test_time_rejects_empty_fraction(void **state)
{
	(void)state;
	assert_time_bad("2025-10-01T10:00:00.Z", NULL);
}

static void test_time_epoch_seconds(void **state)
{
	(void)state;
	assert_time("1727776800", 1727776800000LL);
	assert_time("1727776800.5", 1727776800500LL);
	assert_time("1727776800.250", 1727776800250LL);
	assert_time("0", 0);
}

static void test_time_rejects_missing_zone(void **state)
{
	(void)state;
	assert_time_bad("2025-10-01T10:00:00", "zone");
	assert_time_bad("2025-10-01T10:00:00.250", "zone");
}

static void test_time_leap_day(void **state)
{
	(void)state;
	assert_time("2024-02-29T00:00:00Z", 1709164800000LL);
	assert_time("2000-02-29T00:00:00Z", 951782400000LL);
	assert_time_bad("2023-02-29T00:00:00Z", NULL);
	assert_time_bad("1900-02-29T00:00:00Z", NULL);
	assert_time_bad("2024-02-30T00:00:00Z", NULL);
	assert_time_bad("2025-04-31T00:00:00Z", NULL);
}

static void test_time_rejects_out_of_range_fields(void **state)
{
	(void)state;
	assert_time_bad("2025-13-01T00:00:00Z", NULL);
	assert_time_bad("2025-00-01T00:00:00Z", NULL);
	assert_time_bad("2025-10-00T00:00:00Z", NULL);
	assert_time_bad("2025-10-01T24:00:00Z", NULL);
	assert_time_bad("2025-10-01T10:60:00Z", NULL);
	assert_time_bad("2025-10-01T10:00:61Z", NULL);
	assert_time_bad("2025-10-01T10:00:00+24:00", NULL);
	assert_time_bad("2025-10-01T10:00:00+02:60", NULL);
}

static void test_time_rejects_trailing_garbage(void **state)
{
	(void)state;
	assert_time_bad("2025-10-01T10:00:00Zx", "invalid time");
	assert_time_bad("2025-10-01T10:00:00+02:00x", "invalid time");
	assert_time_bad("1727776800x", NULL);
	assert_time_bad("1727776800.5.5", NULL);
}

static void test_time_rejects_malformed(void **state)
{
	(void)state;
	assert_time_bad("", "invalid time");
	assert_time_bad("2025-10-01", NULL);
	assert_time_bad("2025-10-01T10:00Z", NULL);
	assert_time_bad("2025-1-01T10:00:00Z", NULL);
	assert_time_bad("25-10-01T10:00:00Z", NULL);
	assert_time_bad("2025/10/01T10:00:00Z", NULL);
	assert_time_bad("2025-10-01X10:00:00Z", NULL);
	assert_time_bad("2025-10-01T10:00:00+0200", NULL);
	assert_time_bad("now", NULL);
	assert_time_bad("-1", NULL);
}

static void test_format_time(void **state)
{
	char *text;

	(void)state;
	text = format_time_ms(T0);
	assert_string_equal(text, "2025-10-01T10:00:00Z");
	free(text);
	text = format_time_ms(T0 + 250);
	assert_string_equal(text, "2025-10-01T10:00:00.250Z");
	free(text);
	text = format_time_ms(T0 + 5);
	assert_string_equal(text, "2025-10-01T10:00:00.005Z");
	free(text);
	text = format_time_ms(-1);
	assert_string_equal(text, "1969-12-31T23:59:59.999Z");
	free(text);
}

static void test_format_time_round_trip(void **state)
{
	static const int64_t values[] = {
		0, T0, T0 + 1, T0 + 999, 1709164800123LL, 951782400000LL, 4102444799999LL, -1, -1000,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char *text = format_time_ms(values[i]);

		assert_time(text, values[i]);
		free(text);
	}
}

static void test_now_ms_is_current(void **state)
{
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t a = now_ms(), b = now_ms();
	int64_t after = (int64_t)time(NULL) * 1000 + 1000;

	(void)state;
	assert_true(a >= before && a <= after);
	assert_true(b >= a);
	assert_true(a > 1704067200000LL); /* after 2024-01-01 */
}

static void assert_limit(const char *s, uint32_t expect)
{
	char *cause = NULL;
	uint32_t minutes = 42;

	if (parse_slurm_time_limit(s, &minutes, &cause) != 0)
		fail_msg("parse_slurm_time_limit rejected '%s': %s", s, cause);
	assert_null(cause);
	assert_int_equal(minutes, expect);
}

static void assert_limit_bad(const char *s, const char *expect_in_cause)
{
	char *cause = NULL;
	uint32_t minutes = 42;

	if (parse_slurm_time_limit(s, &minutes, &cause) != -1)
		fail_msg("parse_slurm_time_limit accepted '%s' as %u minutes", s, minutes);
	assert_int_equal(minutes, 42);
	assert_non_null(cause);
	if (!strstr(cause, expect_in_cause))
		fail_msg("cause for '%s' lacks '%s': %s", s, expect_in_cause, cause);
	free(cause);
}

static void test_time_limit_every_slurm_format(void **state)
{
	(void)state;
	assert_limit("90", 90);                 /* MM */
	assert_limit("90:30", 91);              /* MM:SS, seconds round up */
	assert_limit("02:00:00", 120);          /* HH:MM:SS */
	assert_limit("1-12", 36 * 60);          /* D-HH */
	assert_limit("1-00:30", 24 * 60 + 30);  /* D-HH:MM */
	assert_limit("2-01:00:01", 49 * 60 + 1); /* D-HH:MM:SS */
	assert_limit("UNLIMITED", TIME_LIMIT_INFINITE);
	assert_limit("infinite", TIME_LIMIT_INFINITE);
	assert_limit("366-00:00:00", 366 * 24 * 60);
}

static void test_time_limit_rejects_overflow(void **state)
{
	(void)state;
	/* 5124095576030432 h is 2^64 s / 3600 rounded: it wrapped to an hour */
	assert_limit_bad("5124095576030432:00:00", "over a year");
	assert_limit_bad("99999999999999999999999", "over a year");
	assert_limit_bad("9999999999999999-00", "over a year");
	assert_limit_bad("367-00:00:00", "over a year");
	assert_limit_bad("527041", "over a year");
}

static void test_time_limit_rejects_negative_and_zero(void **state)
{
	(void)state;
	assert_limit_bad("-5", "invalid time limit");
	assert_limit_bad("-1-00:00:00", "invalid time limit");
	assert_limit_bad("1--2", "invalid time limit");
	assert_limit_bad("0", "zero");
	assert_limit_bad("00:00:00", "zero");
}

static void test_time_limit_rejects_garbage(void **state)
{
	(void)state;
	assert_limit_bad("", "invalid time limit");
	assert_limit_bad("abc", "invalid time limit");
	assert_limit_bad("1h", "invalid time limit");
	assert_limit_bad("1:2:3:4", "invalid time limit");
	assert_limit_bad("1-2:3:4:5", "invalid time limit");
	assert_limit_bad("10:", "invalid time limit");
	assert_limit_bad(":10", "invalid time limit");
	assert_limit_bad("1-", "invalid time limit");
	assert_limit_bad(" 10", "invalid time limit");
	assert_limit_bad("+10", "invalid time limit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_single_units),
		cmocka_unit_test(test_duration_sequence),
		cmocka_unit_test(test_duration_bare_number_uses_bare_unit),
		cmocka_unit_test(test_duration_bare_number_without_bare_unit_rejected),
		cmocka_unit_test(test_duration_bare_unit_only_for_whole_string),
		cmocka_unit_test(test_duration_rejects_empty),
		cmocka_unit_test(test_duration_rejects_zero),
		cmocka_unit_test(test_duration_rejects_malformed),
		cmocka_unit_test(test_duration_rejects_overflowing_digits),
		cmocka_unit_test(test_duration_ten_year_limit),
		cmocka_unit_test(test_duration_rejects_multiplication_overflow),
		cmocka_unit_test(test_format_duration_largest_exact_unit),
		cmocka_unit_test(test_format_duration_parses_back),
		cmocka_unit_test(test_time_rfc3339_utc),
		cmocka_unit_test(test_time_lowercase_t_and_z),
		cmocka_unit_test(test_time_space_separator),
		cmocka_unit_test(test_time_offsets),
		cmocka_unit_test(test_time_fraction_truncated_to_ms),
		cmocka_unit_test(test_time_rejects_empty_fraction),
		cmocka_unit_test(test_time_epoch_seconds),
		cmocka_unit_test(test_time_rejects_missing_zone),
		cmocka_unit_test(test_time_leap_day),
		cmocka_unit_test(test_time_rejects_out_of_range_fields),
		cmocka_unit_test(test_time_rejects_trailing_garbage),
		cmocka_unit_test(test_time_rejects_malformed),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_format_time_round_trip),
		cmocka_unit_test(test_now_ms_is_current),
		cmocka_unit_test(test_time_limit_every_slurm_format),
		cmocka_unit_test(test_time_limit_rejects_overflow),
		cmocka_unit_test(test_time_limit_rejects_negative_and_zero),
		cmocka_unit_test(test_time_limit_rejects_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
