#ifndef BENCHMON_REFERENCE_H
#define BENCHMON_REFERENCE_H

#include <stddef.h>

#include "lib/strbuf.h"
#include "results/compare.h"
#include "results/runs.h"

/*
 * Performance references and gating a run against them, for CI.
 *
 * A reference file is JSON:
 *
 *   { "schema": 1,
 *     "references": [
 *       { "kpi": "throughput_qps", "scope": "session", "labels": { "concurrency": "8" },
 *         "ref": 1200, "lower": -0.1, "upper": null, "unit": "req/s", "severity": "error" } ] }
 *
 * lower and upper are fractions of |ref|, as ReFrame's thresholds are: the
 * KPI passes when ref + lower * |ref| <= value <= ref + upper * |ref|; a null
 * or absent one leaves that side open. scope defaults to "session"; labels,
 * when given, restrict the reference to runs with those label values (other
 * runs skip it); severity is "error" (the default: a failure fails the gate)
 * or "warning" (reported, does not fail it). The check uses the KPI's value;
 * a KPI without a value (no_data) fails.
 *
 * The run is VALID when no error-severity reference fails, the benchmark
 * exited 0 and was not interrupted, and collect had no findings but those
 * about optional KPIs; otherwise INVALID, with every reason.
 */

#define REFERENCE_MAX_BYTES (16u << 20)

struct reference {
	char *kpi;
	char *scope;
	struct run_label *labels;
	size_t nlabels;
	double ref;
	int has_lower, has_upper;
	double lower, upper;   /* fractions of |ref| */
	char *unit;            /* or NULL */
	int warning;           /* severity "warning"; 0 is "error" */
};

struct reference_set {
	struct reference *items;
	size_t n;
};

/* Read and check a reference file; errors name the file and the entry. */
int reference_load(const char *path, struct reference_set *set);
void reference_set_release(struct reference_set *set);

/*
 * Write a reference file from baseline runs (their median per KPI): every
 * session-scope KPI with status ok, bounded by tolerance (a fraction) on
 * the side that is worse by the direction (both sides when unknown),
 * severity "error" for KPIs with a direction and "warning" for others.
 * labels (nlabels of them, may be 0) restrict every entry. Atomic.
 */
int reference_write(const char *path, const struct run *const *runs, size_t n, double tolerance,
		    compare_direction_fn direction, void *ctx, const struct run_label *labels, size_t nlabels);

enum gate_outcome {
	GATE_PASS,
	GATE_FAIL,
	GATE_SKIP,             /* the reference's labels do not match the run */
};

struct gate_result {
	const struct reference *ref;
	enum gate_outcome outcome;
	int has_value;
	double value;
	double min, max;       /* the allowed range; -Inf/+Inf when open */
	char *message;         /* why it failed or was skipped; NULL on a pass */
};

struct gate_report {
	struct gate_result *results;   /* one per reference, in the file's order */
	size_t n;
	size_t failed_errors, failed_warnings, passed, skipped;
	char **reasons;                /* why the run is INVALID; none when VALID */
	size_t nreasons;
};

/* Check run r against every reference of set. */
void gate_evaluate(const struct run *r, const struct reference_set *set, struct gate_report *g);
void gate_report_release(struct gate_report *g);

/* "PASS", "FAIL", "SKIP" */
const char *gate_outcome_name(enum gate_outcome o);

/*
 * The report as JUnit XML into sb: one testsuite for the run, one testcase
 * per reference (failure for a failing error, skipped for a skip, a failing
 * warning in system-out) and one "validity" testcase that fails when the
 * run is INVALID, with the reasons.
 */
void gate_junit(const struct run *r, const struct gate_report *g, struct strbuf *sb);

#endif
