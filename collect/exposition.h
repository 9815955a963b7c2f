#ifndef BENCHMON_EXPOSITION_H
#define BENCHMON_EXPOSITION_H

#include <stddef.h>
#include <stdint.h>

#include "collect/series.h"

/*
 * A /metrics page, parsed: Prometheus's text format 0.0.4 or OpenMetrics
 * 1.0 (a page whose last line is "# EOF"). Comments, HELP and UNIT lines
 * are read and dropped; TYPE lines give each sample its family's type.
 * OpenMetrics exemplars (" # {labels} value [ts]" after a sample) are
 * checked and dropped. Label values are unescaped as Prometheus does
 * (\\, \" and \n; any other backslash stays as it is), so a sample's
 * labels are the ones Prometheus stores before it adds the target's.
 * Values keep NaN and ±Inf. A sample's own timestamp is kept (text 0.0.4:
 * integer milliseconds; OpenMetrics: seconds, converted).
 *
 * An exposition owns everything in it.
 */

enum expo_type {
	EXPO_UNTYPED,         /* no TYPE line, or "untyped"/"unknown" */
	EXPO_COUNTER,
	EXPO_GAUGE,
	EXPO_HISTOGRAM,
	EXPO_GAUGEHISTOGRAM,
	EXPO_SUMMARY,
	EXPO_INFO,
	EXPO_STATESET,
};

struct expo_sample {
	char *name;           /* the sample's name as exposed: foo_total, foo_bucket... */
	struct label *labels; /* in the order given; no duplicates */
	size_t nlabels;
	double value;
	int has_timestamp;
	int64_t t_ms;
	enum expo_type type;  /* its family's */
	int created;          /* an OpenMetrics <family>_created sample: a time, not a count */
};

struct exposition {
	struct expo_sample *samples;
	size_t n;
	int openmetrics;      /* the page ended with "# EOF" */
};

/*
 * Parse len bytes of text (not NUL-terminated; NUL bytes are an error).
 * Returns 0, or -1 with *cause set (caller frees; it names the line) and
 * out left empty.
 */
int exposition_parse(const char *text, size_t len, struct exposition *out, char **cause);
void exposition_release(struct exposition *e);

/* The value of label name of sample s, or NULL. */
const char *expo_label(const struct expo_sample *s, const char *name);

#endif
