/* Unit tests for collect/promjson.h: Prometheus query answers, good and hostile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collect/promjson.h"
#include "lib/strbuf.h"

#define T0 1727776800000LL

static const char matrix_body[] =
	"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
	"{\"metric\":{\"__name__\":\"up\",\"job\":\"node\",\"instance\":\"a:9100\"},"
	"\"values\":[[1727776800,\"1\"],[1727776815.5,\"0\"],[1727776830.123,\"1\"]]},"
	"{\"metric\":{\"__name__\":\"up\",\"job\":\"dcgm\",\"instance\":\"b:9400\"},"
	"\"values\":[[1727776800,\"12.5\"]]}]}}";

/*
 * Feed the first len bytes of body to a stream, piece bytes at a time, each
 * piece an exact-size copy. Returns what promjson_stream_finish returns.
 */
static int stream_parse(const char *body, size_t len, size_t piece, struct series_set *set, char **cause)
{
	struct promjson_stream *st = promjson_stream_new();
	int ret;

	for (size_t at = 0; at < len; at += piece) {
		size_t n = len - at < piece ? len - at : piece;
		char *copy = malloc(n);

		assert_non_null(copy);
		memcpy(copy, body + at, n);
		promjson_stream_feed(st, copy, n);
		free(copy);
	}
	ret = promjson_stream_finish(st, set, cause);
	promjson_stream_free(st);
	return ret;
}

static void assert_same_sets(const struct series_set *a, const struct series_set *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->nwarnings, b->nwarnings);
	for (size_t i = 0; i < a->nwarnings; i++)
		assert_string_equal(a->warnings[i], b->warnings[i]);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->items[i].n, b->items[i].n);
		assert_int_equal(a->items[i].nlabels, b->items[i].nlabels);
		for (size_t j = 0; j < a->items[i].nlabels; j++) {
			assert_string_equal(a->items[i].labels[j].name, b->items[i].labels[j].name);
			assert_string_equal(a->items[i].labels[j].value, b->items[i].labels[j].value);
		}
		for (size_t j = 0; j < a->items[i].n; j++) {
			assert_int_equal(a->items[i].t_ms[j], b->items[i].t_ms[j]);
			assert_memory_equal(&a->items[i].v[j], &b->items[i].v[j], sizeof(double));
		}
	}
}

/* Pieces a stream is fed in: a byte at a time, a few bytes, and whole. */
static const size_t pieces[] = { 1, 7, 1 << 20 };

/*
 * Parse body from an exact-size copy, so the sanitizers catch any read past
 * len, and fail the test unless it succeeds; a stream must give the same.
 */
static void parse_ok(const char *body, struct series_set *set)
{
	size_t len = strlen(body);
	char *copy = malloc(len ? len : 1), *cause = NULL;

	assert_non_null(copy);
	memcpy(copy, body, len);
	if (promjson_parse(copy, len, set, &cause) != 0)
		fail_msg("promjson_parse failed: %s\nbody: %s", cause, body);
	assert_null(cause);
	free(copy);
	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		struct series_set streamed;

		if (stream_parse(body, len, pieces[p], &streamed, &cause) != 0)
			fail_msg("the stream failed in pieces of %zu: %s\nbody: %s", pieces[p], cause, body);
		assert_same_sets(set, &streamed);
		series_set_release(&streamed);
	}
}

/* Parse the first len bytes of body, expecting failure; returns the cause (caller frees). */
static char *parse_fail_len(const char *body, size_t len)
{
	struct series_set set;
	char *copy = malloc(len ? len : 1), *cause = NULL;

	assert_non_null(copy);
	memcpy(copy, body, len);
	memset(&set, 0x5a, sizeof(set));
	if (promjson_parse(copy, len, &set, &cause) != -1)
		fail_msg("promjson_parse accepted %zu bytes of: %s", len, body);
	free(copy);
	assert_non_null(cause);
	for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		struct series_set streamed;
		char *stream_cause = NULL;

		if (stream_parse(body, len, pieces[p], &streamed, &stream_cause) != -1)
			fail_msg("the stream accepted %zu bytes in pieces of %zu: %s", len, pieces[p], body);
		assert_non_null(stream_cause);
		assert_null(streamed.items);
		free(stream_cause);
	}
	/* the set is left empty, safe to release again */
	assert_null(set.items);
	assert_int_equal(set.n, 0);
	assert_null(set.warnings);
	assert_int_equal(set.nwarnings, 0);
	series_set_release(&set);
	return cause;
}

/* Expect body to be refused with a cause containing want. */
static void assert_rejected(const char *body, const char *want)
{
	char *cause = parse_fail_len(body, strlen(body));

	if (want && !strstr(cause, want))
		fail_msg("cause lacks '%s': %s\nbody: %s", want, cause, body);
	free(cause);
}

/* A body holding one matrix series with one sample of time t and value v. */
static char *one_sample(const char *t, const char *v)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addf(&sb, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":"
		    "[{\"metric\":{},\"values\":[[%s,\"%s\"]]}]}}", t, v);
	return strbuf_detach(&sb, NULL);
}

static int64_t time_of(const char *t)
{
	struct series_set set;
	char *body = one_sample(t, "1");
	int64_t ms;

	parse_ok(body, &set);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.items[0].n, 1);
	ms = set.items[0].t_ms[0];
	series_set_release(&set);
	free(body);
	return ms;
}

static double value_of(const char *v)
{
	struct series_set set;
	char *body = one_sample("1", v);
	double d;

	parse_ok(body, &set);
	d = set.items[0].v[0];
	series_set_release(&set);
	free(body);
	return d;
}

/* The value parses to strtod's double, bit for bit. */
#define assert_value(text) do { \
	double got_ = value_of(text), want_ = strtod(text, NULL); \
	if (memcmp(&got_, &want_, sizeof(got_))) \
		fail_msg("value %s gave %.17g, want %.17g", text, got_, want_); \
} while (0)

#define assert_time(text, ms) do { \
	int64_t got_ = time_of(text); \
	if (got_ != (ms)) \
		fail_msg("time %s gave %lld, want %lld", text, (long long)got_, (long long)(ms)); \
} while (0)

static void test_matrix(void **state)
{
	struct series_set set;
	const struct series *s;

	(void)state;
	parse_ok(matrix_body, &set);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.nwarnings, 0);
	s = &set.items[0];
	assert_int_equal(s->nlabels, 3);
	assert_string_equal(series_label(s, "__name__"), "up");
	assert_string_equal(series_label(s, "job"), "node");
	assert_string_equal(series_label(s, "instance"), "a:9100");
	assert_null(series_label(s, "le"));
	assert_int_equal(s->n, 3);
	assert_true(s->t_ms[0] == T0 && s->t_ms[1] == T0 + 15500 && s->t_ms[2] == T0 + 30123);
	assert_true(s->v[0] == 1.0 && s->v[1] == 0.0 && s->v[2] == 1.0);
	s = &set.items[1];
	assert_string_equal(series_label(s, "job"), "dcgm");
	assert_int_equal(s->n, 1);
	assert_true(s->t_ms[0] == T0 && s->v[0] == 12.5);
	series_set_release(&set);
	assert_int_equal(set.n, 0);
	assert_null(set.items);
	series_set_release(&set);
}

static void test_vector(void **state)
{
	struct series_set set;

	(void)state;
	parse_ok("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":["
		 "{\"metric\":{\"gpu\":\"0\"},\"value\":[1727776800.25,\"87\"]},"
		 "{\"metric\":{\"gpu\":\"1\"},\"value\":[1727776800.25,\"-3.5e2\"]}]}}", &set);
	assert_int_equal(set.n, 2);
	assert_string_equal(series_label(&set.items[1], "gpu"), "1");
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(set.items[i].n, 1);
		assert_true(set.items[i].t_ms[0] == T0 + 250);
	}
	assert_true(set.items[0].v[0] == 87.0 && set.items[1].v[0] == -350.0);
	series_set_release(&set);
}

static void test_scalar(void **state)
{
	struct series_set set;

	(void)state;
	parse_ok("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1727776800.1,\"5\"]}}", &set);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.items[0].nlabels, 0);
	assert_null(series_label(&set.items[0], "__name__"));
	assert_int_equal(set.items[0].n, 1);
	assert_true(set.items[0].t_ms[0] == T0 + 100 && set.items[0].v[0] == 5.0);
	series_set_release(&set);
}

/* "data" before "status", "result" before "resultType", "values" before "metric", spaces everywhere */
static void test_key_order(void **state)
{
	struct series_set set;

	(void)state;
	parse_ok(" \r\n{ \"data\" : { \"result\" : [ { \"values\" : [ [ 1727776800 , \"2\" ] ] ,\n"
		 "\t\"metric\" : { \"job\" : \"x\" } , \"extra\" : {\"a\":[1,true,false,null,-1.5e-3,\"s\"]} } ] ,"
		 " \"resultType\" : \"matrix\" } , \"ignored\" : [] , \"status\" : \"success\" } \n", &set);
	assert_int_equal(set.n, 1);
	assert_string_equal(series_label(&set.items[0], "job"), "x");
	assert_true(set.items[0].n == 1 && set.items[0].v[0] == 2.0);
	series_set_release(&set);

	parse_ok("{\"data\":{\"result\":[{\"value\":[1727776800,\"1\"],\"metric\":{\"a\":\"b\"}}],"
		 "\"resultType\":\"vector\"},\"status\":\"success\"}", &set);
	assert_true(set.n == 1 && set.items[0].n == 1);
	series_set_release(&set);

	parse_ok("{\"data\":{\"result\":[1727776800,\"7\"],\"resultType\":\"scalar\"},\"status\":\"success\"}", &set);
	assert_true(set.n == 1 && set.items[0].v[0] == 7.0);
	series_set_release(&set);

	/* the same shapes are refused when resultType, seen last, says otherwise */
	assert_rejected("{\"data\":{\"result\":[1727776800,\"7\"],\"resultType\":\"vector\"},\"status\":\"success\"}",
			"not a list of series");
	assert_rejected("{\"data\":{\"result\":[{\"value\":[1,\"1\"]}],\"resultType\":\"matrix\"},\"status\":\"success\"}",
			"instead of \"values\"");
	assert_rejected("{\"data\":{\"result\":[{\"values\":[[1,\"1\"]]}],\"resultType\":\"vector\"},"
			"\"status\":\"success\"}", "instead of \"value\"");
	assert_rejected("{\"data\":{\"result\":[{\"metric\":{}}],\"resultType\":\"vector\"},\"status\":\"success\"}",
			"no \"value\"");
	assert_rejected("{\"data\":{\"result\":[],\"resultType\":\"scalar\"},\"status\":\"success\"}",
			"scalar result");
}

static void test_label_escapes(void **state)
{
	struct series_set set;
	const struct series *s;

	(void)state;
	parse_ok("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{"
		 "\"q\":\"say \\\"hi\\\"\",\"bs\":\"a\\\\b\",\"nl\":\"l1\\nl2\\r\\t\\b\\f\\/\","
		 "\"e\":\"caf\\u00e9\",\"E\":\"CAF\\u00C9\",\"pair\":\"\\ud83d\\ude00!\",\"lone\":\"x\\ud800y\","
		 "\"lo\":\"\\udc00\",\"raw\":\"caf\xc3\xa9 \xff\xfe\",\"\\u006eame\":\"\",\"cjk\":\"\\u4e2d\"},"
		 "\"value\":[1,\"1\"]}]}}", &set);
	s = &set.items[0];
	assert_string_equal(series_label(s, "q"), "say \"hi\"");
	assert_string_equal(series_label(s, "bs"), "a\\b");
	assert_string_equal(series_label(s, "nl"), "l1\nl2\r\t\b\f/");
	assert_string_equal(series_label(s, "e"), "caf\xc3\xa9");
	assert_string_equal(series_label(s, "E"), "CAF\xc3\x89");
	assert_string_equal(series_label(s, "pair"), "\xf0\x9f\x98\x80!");
	/* lone surrogates become U+FFFD, as Go decodes them */
	assert_string_equal(series_label(s, "lone"), "x\xef\xbf\xbdy");
	assert_string_equal(series_label(s, "lo"), "\xef\xbf\xbd");
	/* invalid UTF-8 is kept byte for byte */
	assert_string_equal(series_label(s, "raw"), "caf\xc3\xa9 \xff\xfe");
	assert_string_equal(series_label(s, "name"), "");
	assert_string_equal(series_label(s, "cjk"), "\xe4\xb8\xad");
	series_set_release(&set);
}

static void test_bad_strings(void **state)
{
	(void)state;
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\":\"x\\u0000y\"},\"value\":[1,\"1\"]}]}}", "NUL");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\\u0000\":\"x\"},\"value\":[1,\"1\"]}]}}", "NUL");
	assert_rejected("{\"status\":\"success\",\"warnings\":[\"\\u0000\"],\"data\":{\"resultType\":\"vector\","
			"\"result\":[]}}", "NUL");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\":\"\\x41\"},\"value\":[1,\"1\"]}]}}", "invalid JSON");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\":\"\\u12G4\"},\"value\":[1,\"1\"]}]}}", "hex digits");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\":\"tab\there\"},\"value\":[1,\"1\"]}]}}", "control characters");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
			"{\"a\":\"\\", NULL);
	/* a NUL in a key or value that is skipped is harmless */
	{
		struct series_set set;

		parse_ok("{\"status\":\"success\",\"x\\u0000\":\"\\u0000\",\"data\":{\"resultType\":\"vector\","
			 "\"result\":[]}}", &set);
		series_set_release(&set);
	}
}

static void test_special_values(void **state)
{
	(void)state;
	assert_true(isnan(value_of("NaN")));
	assert_true(isnan(value_of("nan")));
	assert_true(isinf(value_of("+Inf")) && value_of("+Inf") > 0);
	assert_true(isinf(value_of("-Inf")) && value_of("-Inf") < 0);
	assert_true(isinf(value_of("Inf")) && value_of("inf") > 0);
	assert_true(isinf(value_of("1e999")));
	assert_true(value_of("-0") == 0 && signbit(value_of("-0")));
	assert_value("0.1");
	assert_value("12.");
	assert_value(".5");
	assert_value("1.7976931348623157e308");
	assert_value("4.9e-324");
	assert_value("0.30000000000000004");
	assert_value("123456789012345");
	assert_value("1234567890123456789");
	assert_value("-98765.4321");
	assert_value("0x1p-3");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"\"]}}",
			"is not a number");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\" 1\"]}}",
			"is not a number");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"1 \"]}}",
			"is not a number");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"12abc\"]}}",
			"'12abc' is not a number");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,\"1\\u00002\"]}}",
			"is not a number");
	assert_rejected("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1,1.5]}}",
			"a sample value");
}

/* Values take the exact path or strtod; either way the bits are strtod's. */
static void test_values_match_strtod(void **state)
{
	char text[64];
	unsigned long x = 12345;

	(void)state;
	for (int i = 0; i < 20000; i++) {
		int digits = 1 + i % 17;

		x = x * 6364136223846793005UL + 1442695040888963407UL;
		snprintf(text, sizeof(text), "%.*f", i % 12, (double)(x >> 20) / (double)(1UL << (i % 40)));
		if (i % 3 == 0)
			snprintf(text, sizeof(text), "%.*g", digits, (double)(x >> 11) * 0x1p-40);
		assert_value(text);
	}
}

static void test_times(void **state)
{
	(void)state;
	assert_time("1727776800", T0);
	assert_time("1727776800.1", T0 + 100);
	assert_time("1727776800.12", T0 + 120);
	assert_time("1727776800.123", T0 + 123);
	assert_time("1727776800.1234", T0 + 123);
	assert_time("1727776800.1235", T0 + 124);
	assert_time("1727776800.12349", T0 + 123);
	assert_time("1727776800.123456", T0 + 123);
	assert_time("1727776800.1234999", T0 + 123);
	assert_time("1727776800.12350000", T0 + 124);
	assert_time("1727776800.999500000", T0 + 1000);
	assert_time("1727776800.000", T0);
	assert_time("1727776800.0004999", T0);
	assert_time("0", 0);
	assert_time("0.0005", 1);
	assert_time("0.5", 500);
	assert_time("-1.5", -1500);
	assert_time("-0.0005", -1);
	assert_time("1.7277768001235e9", T0 + 124);
	assert_time("1.727776800123E+9", T0 + 123);
	assert_time("1727776800123e-3", T0 + 123);
	assert_time("1727776800123456e-6", T0 + 123);
	assert_time("17277768e2", T0);
	assert_time("0e999999999999", 0);
	assert_time("1e-999999999999", 0);
	assert_time("123456789012345", 123456789012345000LL);
	assert_time("9223372036854775.807", INT64_MAX);
	assert_time("-9223372036854775.807", -INT64_MAX);
}

static void test_bad_times(void **state)
{
	static const char *const bad[] = {
		"1e999", "9223372036854775.808", "99999999999999999999", "1e16",
		"\"1727776800\"", "01", "1.", ".5", "-", "1e", "1e+", "+1", "null", "[1]",
		"1727776800.x",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *body = one_sample(bad[i], "1");

		assert_rejected(body, NULL);
		free(body);
	}
	{
		char *body = one_sample("1e999", "1");

		assert_rejected(body, "time out of range");
		free(body);
	}
}

static void test_warnings(void **state)
{
	struct series_set set;

	(void)state;
	parse_ok("{\"status\":\"success\",\"warnings\":[\"PromQL info: metric might not be a counter\","
		 "\"second \\\"one\\\"\"],\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", &set);
	assert_int_equal(set.n, 0);
	assert_int_equal(set.nwarnings, 2);
	assert_string_equal(set.warnings[0], "PromQL info: metric might not be a counter");
	assert_string_equal(set.warnings[1], "second \"one\"");
	series_set_release(&set);
	assert_int_equal(set.nwarnings, 0);

	parse_ok("{\"status\":\"success\",\"warnings\":[],\"infos\":[\"x\"],"
		 "\"data\":{\"resultType\":\"vector\",\"result\":[]}}", &set);
	assert_int_equal(set.nwarnings, 0);
	series_set_release(&set);

	assert_rejected("{\"status\":\"success\",\"warnings\":\"one\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
			"\"warnings\" is not an array");
	assert_rejected("{\"status\":\"success\",\"warnings\":[1],\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
			"not a string");
}

static void test_error_response(void **state)
{
	const char *body = "{\"status\":\"error\",\"errorType\":\"bad_data\","
			   "\"error\":\"parse error at char 5: unexpected \\\"}\\\"\"}";
	char *cause;

	(void)state;
	cause = parse_fail_len(body, strlen(body));
	assert_string_equal(cause, "bad_data: parse error at char 5: unexpected \"}\"");
	free(cause);
	/* keys in another order, with warnings and data that are then ignored */
	assert_rejected("{\"error\":\"query timed out in expression evaluation\",\"warnings\":[\"w\"],"
			"\"data\":{\"resultType\":\"matrix\",\"result\":[]},\"errorType\":\"timeout\",\"status\":\"error\"}",
			"timeout: query timed out in expression evaluation");
	assert_rejected("{\"status\":\"error\",\"error\":\"only a message\"}", "only a message");
	assert_rejected("{\"status\":\"error\",\"errorType\":\"internal\"}", "internal");
	assert_rejected("{\"status\":\"error\"}", "without an error message");
	assert_rejected("{\"status\":\"error\",\"data\":null,\"errorType\":\"x\",\"error\":\"y\"}", "x: y");
	assert_rejected("{\"status\":\"pending\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", "status 'pending'");
}

/* Every proper prefix of a valid answer is refused, cleanly. */
static void test_truncated(void **state)
{
	static const char *const bodies[] = {
		matrix_body,
		"{\"status\":\"success\",\"warnings\":[\"w\\u00e9\"],\"data\":{\"resultType\":\"vector\",\"result\":"
		"[{\"metric\":{\"a\":\"\\ud83d\\ude00\\n\"},\"value\":[1727776800.1234,\"-Inf\"]}]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1.7277768e9,\"5\"]}}",
		"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"x\"}",
	};

	(void)state;
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		size_t len = strlen(bodies[b]);
		struct series_set set;

		for (size_t n = 0; n < len; n++)
			free(parse_fail_len(bodies[b], n));
		if (b < 3) {
			parse_ok(bodies[b], &set);
			series_set_release(&set);
		}
	}
}

/* A stream names the byte of the response where it went wrong, as the whole parse does. */
static void test_stream_messages(void **state)
{
	static const char *const bodies[] = {
		/* after the streamed series */
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
		"\"values\":[[1,\"1\"]]}  ,  {\"metric\":{},\"values\":[]}]} x}",
		/* inside a series */
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
		"\"values\":[[1,\"1\"]]},{\"metric\":{},\"values\":[[1,2]]}]}}",
		/* between series */
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},"
		"\"values\":[]} {\"metric\":{},\"values\":[]}]}}",
	};

	(void)state;
	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		char *whole = parse_fail_len(bodies[b], strlen(bodies[b])), *streamed = NULL;
		struct series_set set;
		const char *at = strstr(whole, "at byte ");

		assert_int_equal(stream_parse(bodies[b], strlen(bodies[b]), 3, &set, &streamed), -1);
		assert_non_null(at);
		if (!strstr(streamed, at))
			fail_msg("the stream says '%s', the whole parse '%s'", streamed, whole);
		free(whole);
		free(streamed);
	}
}

/* A body cut inside a series says so; what was kept of a body that is not JSON is there for messages. */
static void test_stream_truncated_and_text(void **state)
{
	struct promjson_stream *st = promjson_stream_new();
	struct series_set set;
	char *cause = NULL;

	(void)state;
	promjson_stream_feed(st, matrix_body, 100);
	assert_int_equal(promjson_stream_finish(st, &set, &cause), -1);
	assert_non_null(strstr(cause, "truncated"));
	free(cause);
	promjson_stream_free(st);

	st = promjson_stream_new();
	promjson_stream_feed(st, "Service Unavailable", 19);
	assert_string_equal(promjson_stream_text(st), "Service Unavailable");
	assert_int_equal(promjson_stream_finish(st, &set, &cause), -1);
	free(cause);
	promjson_stream_free(st);
}

static void test_nesting(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct series_set set;

	(void)state;
	/* the response object is level 1, so 63 more fit */
	strbuf_addstr(&sb, "{\"status\":\"success\",\"x\":");
	for (int i = 0; i < 63; i++)
		strbuf_addch(&sb, '[');
	for (int i = 0; i < 63; i++)
		strbuf_addch(&sb, ']');
	strbuf_addstr(&sb, ",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
	parse_ok(sb.buf, &set);
	series_set_release(&set);
	strbuf_reset(&sb);

	strbuf_addstr(&sb, "{\"status\":\"success\",\"x\":");
	for (int i = 0; i < 64; i++)
		strbuf_addstr(&sb, "{\"k\":");
	strbuf_addstr(&sb, "1");
	for (int i = 0; i < 64; i++)
		strbuf_addch(&sb, '}');
	strbuf_addstr(&sb, ",\"data\":{\"resultType\":\"vector\",\"result\":[]}}");
	assert_rejected(sb.buf, "nested deeper than 64");
	strbuf_reset(&sb);

	/* a million brackets: refused early, no deep recursion */
	for (int i = 0; i < 1000000; i++)
		strbuf_addch(&sb, '[');
	assert_rejected(sb.buf, "a JSON object");
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "{\"status\":\"success\",\"x\":");
	for (int i = 0; i < 1000000; i++)
		strbuf_addch(&sb, '[');
	assert_rejected(sb.buf, "nested deeper than 64");
	strbuf_release(&sb);
}

static void test_empty_results(void **state)
{
	static const char *const ok[] = {
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[ ]}}",
		"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":null}}",
	};
	struct series_set set;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		parse_ok(ok[i], &set);
		assert_int_equal(set.n, 0);
		assert_null(set.items);
		series_set_release(&set);
	}
	/* a matrix series may have no float samples (native histograms only) */
	parse_ok("{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
		 "{\"metric\":{\"a\":\"1\"},\"values\":[]},{\"metric\":{},\"histograms\":[[1,{\"count\":\"1\"}]]}]}}", &set);
	assert_int_equal(set.n, 2);
	assert_int_equal(set.items[0].n, 0);
	assert_int_equal(set.items[1].n, 0);
	assert_int_equal(set.items[1].nlabels, 0);
	series_set_release(&set);
}

static void test_wrong_shapes(void **state)
{
	static const struct {
		const char *body, *cause;
	} cases[] = {
		{ "", "empty response" },
		{ "   ", "truncated" },
		{ "<html><body>502 Bad Gateway</body></html>", "expected a JSON object, got '<'" },
		{ "[]", "a JSON object" },
		{ "{}", "no \"status\"" },
		{ "{\"status\":\"success\"}", "no \"data\"" },
		{ "{\"status\":\"success\",\"data\":null}", "no \"data\"" },
		{ "{\"status\":\"success\",\"data\":{}}", "no \"resultType\"" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\"}}", "no \"result\"" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"x\"]}}",
		  "'x' is not a number" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":[1,\"2\"]}}",
		  "unsupported resultType 'string'" },
		{ "{\"status\":1}", "\"status\" is not a string" },
		{ "{\"status\":\"success\",\"data\":[]}", "\"data\" is not an object" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":{}}}", "not an array" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{},1]}}", "not an object" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":[]}]}}",
		  "\"metric\" is not an object" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"a\":1}}]}}",
		  "label value is not a string" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":{}}]}}",
		  "\"values\" is not an array" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":[1]}]}}",
		  "a sample" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":[[1,\"1\",2]]}]}}",
		  "expected ']'" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":[[1]]}]}}",
		  "expected ','" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"values\":[],\"values\":[]}]}}",
		  "more than one" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"metric\":{}}]}}",
		  "duplicate key \"metric\"" },
		{ "{\"status\":\"success\",\"status\":\"success\"}", "duplicate key \"status\"" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]},\"data\":{}}",
		  "duplicate key \"data\"" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}} x", "the end of the response" },
		{ "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}{}", "the end of the response" },
		{ "{\"status\":\"success\",}", "a string" },
		{ "{\"status\":\"success\" \"data\":1}", "',' or '}'" },
		{ "{\"status\":\"success\",\"x\":[1,]}", "a JSON value" },
		{ "{\"status\":\"success\",\"x\":tru}", "true" },
		{ "{\"status\":\"success\",\"x\":nul}", "null" },
		{ "{\"status\":\"success\",\"x\":-}", "a digit" },
		{ "{\"status\":\"success\",\"x\":1.e5}", "a digit" },
		{ "{\"status\":\"success\",\"x\":'a'}", "a JSON value" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_rejected(cases[i].body, cases[i].cause);
	/* no body at all */
	{
		struct series_set set;
		char *cause = NULL;

		assert_int_equal(promjson_parse(NULL, 0, &set, &cause), -1);
		assert_string_equal(cause, "empty response");
		assert_int_equal(set.n, 0);
		free(cause);
	}
	/* a raw NUL byte inside a string */
	{
		static const char nul[] = "{\"status\":\"a\0b\"}";

		free(parse_fail_len(nul, sizeof(nul) - 1));
	}
}

/* A big answer: many series sharing the arrays' growth, huge numbers of points. */
static void test_many_points(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	struct series_set set;

	(void)state;
	strbuf_addstr(&sb, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
	for (int i = 0; i < 20; i++) {
		strbuf_addf(&sb, "%s{\"metric\":{\"i\":\"%d\"},\"values\":[", i ? "," : "", i);
		for (int j = 0; j < 1000 + i * 37; j++)
			strbuf_addf(&sb, "%s[%d.%03d,\"%d.25\"]", j ? "," : "", 1727776800 + j, j % 1000, j);
		strbuf_addstr(&sb, "]}");
	}
	strbuf_addstr(&sb, "]}}");
	parse_ok(sb.buf, &set);
	assert_int_equal(set.n, 20);
	for (int i = 0; i < 20; i++) {
		const struct series *s = &set.items[i];

		assert_int_equal(s->n, (size_t)(1000 + i * 37));
		for (size_t j = 0; j < s->n; j++) {
			if (s->t_ms[j] != (T0 + (int64_t)j * 1000 + (int64_t)(j % 1000)) || s->v[j] != (double)j + 0.25)
				fail_msg("series %d point %zu: %lld %g", i, j, (long long)s->t_ms[j], s->v[j]);
		}
	}
	series_set_release(&set);
	strbuf_release(&sb);
}

/* A long value takes strtod's path through the heap; long strings through scratch. */
static void test_long_text(void **state)
{
	struct strbuf v = STRBUF_INIT, body = STRBUF_INIT;
	struct series_set set;

	(void)state;
	/* Prometheus spells 1e300 with all its digits */
	strbuf_addch(&v, '1');
	for (int i = 0; i < 300; i++)
		strbuf_addch(&v, '0');
	strbuf_addstr(&v, ".5");
	assert_value(v.buf);
	strbuf_reset(&v);
	for (int i = 0; i < 5000; i++)
		strbuf_addstr(&v, i % 2 ? "\\u00e9" : "ab");
	strbuf_addf(&body, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
		    "{\"long\":\"%s\"},\"value\":[1,\"1\"]}]}}", v.buf);
	parse_ok(body.buf, &set);
	assert_int_equal(strlen(series_label(&set.items[0], "long")), 5000 * 2);
	series_set_release(&set);
	strbuf_release(&v);
	strbuf_release(&body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_scalar),
		cmocka_unit_test(test_key_order),
		cmocka_unit_test(test_label_escapes),
		cmocka_unit_test(test_bad_strings),
		cmocka_unit_test(test_special_values),
		cmocka_unit_test(test_values_match_strtod),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_bad_times),
		cmocka_unit_test(test_warnings),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_stream_messages),
		cmocka_unit_test(test_stream_truncated_and_text),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_empty_results),
		cmocka_unit_test(test_wrong_shapes),
		cmocka_unit_test(test_many_points),
		cmocka_unit_test(test_long_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
