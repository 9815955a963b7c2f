#ifndef BENCHMON_RUNS_H
#define BENCHMON_RUNS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Finished runs: the directories collect and run leave behind (a
 * MANIFEST.json beside kpis.csv, metrics_summary.csv and timeseries.csv),
 * read back for listing, comparing, gating and reporting. Nothing here
 * talks to a session or to Prometheus, and nothing here writes: a run
 * directory is read as its MANIFEST.json says it is.
 *
 * A run's KPIs come from MANIFEST.json's "kpis" (the same rows as kpis.csv,
 * with their reasons); when a manifest has none (written by hand, or cut
 * short), they are read from kpis.csv beside it. Labels come from
 * MANIFEST.json's "labels" object ({"key": "value"}; none in manifests
 * written before labels existed). Functions return 0, or -1 after error()
 * naming the directory or file at fault.
 */

/* A run label (--label KEY=VALUE of run and collect). */
struct run_label {
	char *key;
	char *value;
};

/* One KPI of one scope, as kpis.csv has it. */
struct run_kpi {
	char *kpi;
	char *scope;          /* "session", "node=<n>", "service=<s>" */
	char *unit;
	int has_value;
	double value;
	int has_bounds;
	double lower, upper;  /* upper may be +Inf */
	char *status;         /* "ok", "no_data", "not_applicable" */
	char *method;         /* "edges", "interpolated", "sampled", "none"; or NULL */
	char *reason;         /* or NULL */
};

/* A data-quality finding of the run (collect/kpi.h's struct finding, as written). */
struct run_finding {
	char *kind;
	char *subject;
	char *message;
	int optional;         /* about a KPI the profile marks optional: not a reason to distrust the run */
};

struct run {
	char *dir;            /* the run directory, as found */
	char *run_id;
	char *session;
	int64_t from_ms, to_ms;
	char *status;         /* MANIFEST.json's "status": "ok" or "ok_with_findings" */
	char *verdict;        /* MANIFEST.json's "verdict" when collect wrote one, else NULL */
	char *profile;        /* the profile's name, or NULL */
	char *profile_path;   /* the profile file collect used, or NULL */
	int has_command;      /* a 'benchmon run': the benchmark's exit status and interruption below */
	int exit_status;
	int interrupted;
	struct run_label *labels;   /* sorted by key, keys unique */
	size_t nlabels;
	struct run_kpi *kpis;       /* in the manifest's order */
	size_t nkpis;
	struct run_finding *findings;
	size_t nfindings;
};

struct run_list {
	struct run *items;    /* sorted by window start, then run id, then directory */
	size_t n;
};

/*
 * Load the run in dir (which holds MANIFEST.json). r is filled only on
 * success; on failure it is left empty and need not be released.
 */
int run_load(const char *dir, struct run *r);
void run_release(struct run *r);

/*
 * Every run under dirs: a directory that holds MANIFEST.json is a run (and
 * is not searched further: runs do not nest); others are searched at most
 * RUNS_MAX_DEPTH levels down, symbolic links not followed. A dir that does not exist is an
 * error; a subdirectory whose manifest cannot be read is skipped with a
 * warning naming it, so one torn run does not hide a sweep. out is empty
 * (n = 0) when there are none, which is not an error.
 */
#define RUNS_MAX_DEPTH 4
int runs_find(const char *const *dirs, size_t ndirs, struct run_list *out);
void run_list_release(struct run_list *l);

/* The value of label key, or NULL. */
const char *run_label(const struct run *r, const char *key);

/* The KPI kpi of scope, or NULL. */
const struct run_kpi *run_kpi_find(const struct run *r, const char *kpi, const char *scope);

/* Findings that make a run untrustworthy: all but the optional ones. */
size_t run_strict_findings(const struct run *r);

/*
 * Run labels given on the command line as KEY=VALUE: a key of 1-64
 * characters of [A-Za-z0-9_], starting with a letter or '_', not one of the
 * columns metrics_summary.csv already has (run_label_reserved); a value of
 * at most RUN_LABEL_VALUE_MAX bytes of printable characters, without ',',
 * '"', '\\' or a control character. -1 with *cause (caller frees) quoting
 * the bad argument.
 */
#define RUN_LABEL_KEY_MAX 64
#define RUN_LABEL_VALUE_MAX 256
#define RUN_LABELS_MAX 32
int run_label_parse(const char *arg, struct run_label *out, char **cause);
void run_label_release(struct run_label *l);

/*
 * Every --label argument of a command (args, n of them) into *out, sorted by
 * key: at most RUN_LABELS_MAX, each key once. The caller releases *out with
 * run_labels_release, also on failure.
 */
int run_labels_parse(const char *const *args, size_t n, struct run_label **out, size_t *nout, char **cause);
void run_labels_release(struct run_label *l, size_t n);

/* Is key a column metrics_summary.csv has before its labels (run_id, from, a KPI's name...)? */
int run_label_reserved(const char *key);

#endif
