#ifndef BENCHMON_REMOTEREAD_H
#define BENCHMON_REMOTEREAD_H

#include <stddef.h>
#include <stdint.h>

#include "collect/series.h"

/*
 * Raw samples through Prometheus's remote read (POST /api/v1/read), asking
 * for streamed XOR chunks: Prometheus sends the chunks as it stores them,
 * about 1.4 bytes a sample, and does no per-sample work; a PromQL function
 * over the same range decodes and copies every sample, once per function.
 * benchmon decodes the chunks itself and hands the samples over a chunk
 * at a time, so a caller that keeps only a summary of each series
 * (collect/fetch.h) holds a frame and a chunk, whatever the window's
 * length.
 *
 * The samples handed over are those a PromQL range selector over
 * [start_ms, end_ms] sees: inside the range, both ends included, without
 * Prometheus's staleness markers unless asked for (keep_stale: then they
 * are NaNs that remoteread_is_stale tells apart). Labels come sorted by
 * name, __name__ included, as in a query's answer.
 */

#define REMOTEREAD_PATH "/api/v1/read"

/* The request's headers, for http_request_spec. */
extern const char *const remoteread_headers[];

/*
 * The request body for selector (metric{label op "value", ...}, as a PromQL
 * instant vector selector) over [start_ms, end_ms]: a snappy-framed
 * ReadRequest. Returns NULL with *err set (caller frees) when selector is
 * not a plain selector this parser reads; the caller then uses PromQL.
 */
char *remoteread_request(const char *selector, int64_t start_ms, int64_t end_ms, size_t *len, char **err);

/*
 * Where the samples go, series by series in Prometheus's order: begin
 * with the series' labels (valid until end), then its samples in time
 * order, in batches, then end. A series without a sample in the range is
 * not begun.
 */
struct remoteread_sink {
	void (*begin)(void *ctx, const struct label *labels, size_t nlabels);
	void (*samples)(void *ctx, const int64_t *t_ms, const double *v, size_t n);
	void (*end)(void *ctx);
	void *ctx;
};

struct remoteread_stream;

/* sink is copied. */
struct remoteread_stream *remoteread_stream_new(int64_t start_ms, int64_t end_ms, int keep_stale,
						const struct remoteread_sink *sink);

/* Is v Prometheus's staleness marker (a target or series gone), not a value? */
int remoteread_is_stale(double v);

/* Feed a piece of the response body as it arrives. */
void remoteread_stream_feed(struct remoteread_stream *st, const char *data, size_t len);
/*
 * The body has ended: hand over the last series. Returns 0, or -1 with
 * *err set (caller frees) when the body was not a whole stream of
 * ChunkedReadResponse frames (a bad checksum, a frame cut short, a chunk
 * encoding other than XOR, samples out of order).
 */
int remoteread_stream_finish(struct remoteread_stream *st, char **err);
/* The first bytes of the body, for a message when it was not a stream. */
const char *remoteread_stream_text(const struct remoteread_stream *st);
void remoteread_stream_free(struct remoteread_stream *st);

#endif
