/*
 * Benchmark for collect/promjson.c: build a query_range answer in memory
 * (default 500 series x 10,800 points, about 160 MB) and time
 * promjson_parse on it, with throughput and peak memory; then time
 * promjson_stream on the same body fed in 256 KiB pieces, as collect
 * receives it.
 *
 *   promjson-bench [series [points [runs [plain|long]]]]
 *
 * "plain" values are "12.5" (as in the sizing target); "long" values have
 * 17 significant digits, like rates Prometheus computes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "collect/promjson.h"
#include "lib/strbuf.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static long peak_rss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static size_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (*end || !v) {
		fprintf(stderr, "promjson-bench: bad number '%s'\n", s);
		exit(2);
	}
	return (size_t)v;
}

/* The response body, the way Prometheus formats it. */
static void make_body(struct strbuf *sb, size_t nseries, size_t npoints, int long_values)
{
	const long long t0_ms = 1727776800123LL, step_ms = 1000;

	strbuf_addstr(sb, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[");
	for (size_t i = 0; i < nseries; i++) {
		strbuf_addf(sb, "%s{\"metric\":{\"__name__\":\"DCGM_FI_DEV_GPU_UTIL\",\"gpu\":\"%zu\","
			    "\"instance\":\"node%03zu:9400\",\"job\":\"dcgm\",\"service\":\"vllm\"},\"values\":[",
			    i ? "," : "", i % 8, i / 8);
		for (size_t j = 0; j < npoints; j++) {
			long long t = t0_ms + (long long)j * step_ms;

			if (long_values)
				strbuf_addf(sb, "%s[%lld.%03lld,\"%.17g\"]", j ? "," : "", t / 1000, t % 1000,
					    (double)(i * npoints + j) / 7.0);
			else
				strbuf_addf(sb, "%s[%lld.%03lld,\"12.5\"]", j ? "," : "", t / 1000, t % 1000);
		}
		strbuf_addstr(sb, "]}");
	}
	strbuf_addstr(sb, "]}}");
}

int main(int argc, char **argv)
{
	struct strbuf body = STRBUF_INIT;
	size_t nseries = argc > 1 ? parse_size(argv[1]) : 500;
	size_t npoints = argc > 2 ? parse_size(argv[2]) : 10800;
	size_t runs = argc > 3 ? parse_size(argv[3]) : 5;
	int long_values = argc > 4 && !strcmp(argv[4], "long");
	double best = 1e9, first = 0, total = 0;
	long rss_before, rss_after;
	size_t points = 0;
	int ret = 1;

	make_body(&body, nseries, npoints, long_values);
	rss_before = peak_rss_kb();
	for (size_t r = 0; r < runs; r++) {
		struct series_set set;
		char *cause = NULL;
		struct rusage ru0, ru1;
		double t;

		getrusage(RUSAGE_SELF, &ru0);
		t = now_s();
		if (promjson_parse(body.buf, body.len, &set, &cause) < 0) {
			fprintf(stderr, "promjson-bench: parse failed: %s\n", cause);
			free(cause);
			goto out;
		}
		t = now_s() - t;
		getrusage(RUSAGE_SELF, &ru1);
		printf("run %zu       %.3f s (user %.3f s, sys %.3f s, %ld page faults)\n", r + 1, t,
		       cpu_s(&ru1.ru_utime) - cpu_s(&ru0.ru_utime), cpu_s(&ru1.ru_stime) - cpu_s(&ru0.ru_stime),
		       ru1.ru_minflt - ru0.ru_minflt);
		total += t;
		if (!r)
			first = t;
		if (t < best)
			best = t;
		points = 0;
		for (size_t i = 0; i < set.n; i++)
			points += set.items[i].n;
		series_set_release(&set);
	}
	rss_after = peak_rss_kb();
	{
		double stream_best = 1e9;

		for (size_t r = 0; r < runs; r++) {
			struct promjson_stream *st = promjson_stream_new();
			struct series_set set;
			char *cause = NULL;
			double t = now_s();

			for (size_t at = 0; at < body.len; at += 256 * 1024)
				promjson_stream_feed(st, body.buf + at, body.len - at < 256 * 1024 ? body.len - at : 256 * 1024);
			if (promjson_stream_finish(st, &set, &cause) < 0) {
				fprintf(stderr, "promjson-bench: stream parse failed: %s\n", cause);
				free(cause);
				promjson_stream_free(st);
				goto out;
			}
			t = now_s() - t;
			if (t < stream_best)
				stream_best = t;
			promjson_stream_free(st);
			series_set_release(&set);
		}
		printf("stream      best %.3f s over %zu runs, %.0f MB/s, %.2fx the whole-body parse\n", stream_best, runs,
		       (double)body.len / 1e6 / stream_best, stream_best / best);
	}
	printf("body        %.1f MB, %zu series, %zu points, %s values\n", (double)body.len / 1e6, nseries,
	       points, long_values ? "17-digit" : "short");
	printf("parse       first %.3f s, best %.3f s, mean %.3f s over %zu runs\n", first, best,
	       total / (double)runs, runs);
	printf("throughput  %.0f MB/s first, %.0f MB/s best (%.1f ns/point)\n", (double)body.len / 1e6 / first,
	       (double)body.len / 1e6 / best, best * 1e9 / (double)points);
	printf("peak RSS    %.1f MB with the body, %.1f MB added by parsing\n", (double)rss_after / 1024,
	       (double)(rss_after - rss_before) / 1024);
	printf("memory      %.1f bytes/point added (16 are the arrays)\n",
	       (double)(rss_after - rss_before) * 1024 / (double)points);
	ret = fflush(stdout) || ferror(stdout);
out:
	strbuf_release(&body);
	return ret;
}
