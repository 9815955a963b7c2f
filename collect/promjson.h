#ifndef BENCHMON_PROMJSON_H
#define BENCHMON_PROMJSON_H

#include <stddef.h>

#include "collect/series.h"

/*
 * Parser for Prometheus HTTP API query responses (/api/v1/query and
 * /api/v1/query_range), written for speed and small memory: one pass over
 * the body, no DOM, so a response of millions of points is parsed once and
 * stored as arrays of numbers.
 *
 * promjson_parse reads body[0..len) and fills out (zeroed first):
 *   - {"status":"success","data":{"resultType":"matrix","result":[...]}}
 *     gives one series per result, points from "values";
 *   - resultType "vector" gives one point per series, from "value";
 *   - resultType "scalar" gives one series without labels and one point;
 *   - "warnings" (array of strings), when present, is copied to out->warnings.
 * It returns 0 on success. It returns -1 with *cause set (caller frees) when
 * the body is not JSON, is truncated, has the wrong shape, or reports
 * {"status":"error","errorType":T,"error":E}: then *cause is "T: E", the
 * message Prometheus gave. Values are JSON strings holding a float ("1.5",
 * "NaN", "+Inf", "-Inf"); times are JSON numbers of Unix seconds with up to
 * millisecond fractions ("1727776800.123"). Strings may use any JSON
 * escape, \uXXXX with surrogate pairs included; unknown keys are skipped.
 * Limits: nesting depth 64; no input can make it read outside body.
 */
int promjson_parse(const char *body, size_t len, struct series_set *out, char **cause);

/*
 * The same parser fed as the bytes arrive, so a large response is parsed
 * while the rest of it is still on the wire and is never held whole: each
 * series of "result" is parsed when its closing brace arrives, then its text
 * is dropped. promjson_stream_finish gives what promjson_parse would give
 * for the concatenation of everything fed (error messages may word a
 * malformed body differently); it may be called once. promjson_stream_text
 * is what was kept of the body (all of it, unless series were taken out),
 * NUL-terminated, for messages about answers that are not JSON.
 */
struct promjson_stream;

struct promjson_stream *promjson_stream_new(void);
void promjson_stream_feed(struct promjson_stream *st, const char *data, size_t len);
int promjson_stream_finish(struct promjson_stream *st, struct series_set *out, char **cause);
const char *promjson_stream_text(const struct promjson_stream *st);
void promjson_stream_free(struct promjson_stream *st);

#endif
