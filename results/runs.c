#include "results/runs.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "lib/csvfile.h"
#include "lib/error.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

/* a manifest lists every query's PromQL; a run of thousands of targets stays far below this */
#define MANIFEST_MAX (64u << 20)

/* metrics_summary.csv's columns before its labels, which a label must not shadow */
static const char *const reserved_columns[] = {
	"run_id", "session_id", "from", "to", "findings", "verdict",
	"throughput_qps", "cpu_util_avg_pct", "gpu_util_avg_pct", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
};

int run_label_reserved(const char *key)
{
	for (size_t i = 0; i < sizeof(reserved_columns) / sizeof(reserved_columns[0]); i++)
		if (!strcmp(key, reserved_columns[i]))
			return 1;
	return 0;
}

int run_label_parse(const char *arg, struct run_label *out, char **cause)
{
	const char *eq = strchr(arg, '=');
	size_t klen;

	memset(out, 0, sizeof(*out));
	if (!eq) {
		*cause = xasprintf("label '%.80s' is not KEY=VALUE", arg);
		return -1;
	}
	klen = (size_t)(eq - arg);
	if (!klen || klen > RUN_LABEL_KEY_MAX) {
		*cause = xasprintf("label '%.80s': the key must be 1-%d characters", arg, RUN_LABEL_KEY_MAX);
		return -1;
	}
	if (!(arg[0] == '_' || (arg[0] >= 'A' && arg[0] <= 'Z') || (arg[0] >= 'a' && arg[0] <= 'z')) ||
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != klen) {
		*cause = xasprintf("label key '%.*s' must be letters, digits and '_', starting with a letter or '_'",
				   (int)(klen > 80 ? 80 : klen), arg);
		return -1;
	}
	if (strlen(eq + 1) > RUN_LABEL_VALUE_MAX) {
		*cause = xasprintf("label '%.*s': the value is longer than %d bytes", (int)klen, arg, RUN_LABEL_VALUE_MAX);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)eq + 1; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == ',' || *p == '"' || *p == '\\') {
			*cause = xasprintf("label '%.*s': the value must not hold ',', '\"', '\\' or control characters",
					   (int)klen, arg);
			return -1;
		}
	}
	out->key = xstrndup(arg, klen);
	if (run_label_reserved(out->key)) {
		*cause = xasprintf("label key '%s' is a column of metrics_summary.csv already", out->key);
		free(out->key);
		out->key = NULL;
		return -1;
	}
	out->value = xstrdup(eq + 1);
	return 0;
}

void run_label_release(struct run_label *l)
{
	free(l->key);
	free(l->value);
	l->key = l->value = NULL;
}

static int label_cmp(const void *a, const void *b);

int run_labels_parse(const char *const *args, size_t n, struct run_label **out, size_t *nout, char **cause)
{
	*out = NULL;
	*nout = 0;
	if (n > RUN_LABELS_MAX) {
		*cause = xasprintf("%zu labels given; at most %d", n, RUN_LABELS_MAX);
		return -1;
	}
	if (!n)
		return 0;
	*out = xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++) {
		if (run_label_parse(args[i], &(*out)[i], cause) < 0)
			return -1;
		*nout = i + 1;
		for (size_t j = 0; j < i; j++) {
			if (!strcmp((*out)[j].key, (*out)[i].key)) {
				*cause = xasprintf("label key '%s' given twice", (*out)[i].key);
				return -1;
			}
		}
	}
	qsort(*out, *nout, sizeof(**out), label_cmp);
	return 0;
}

void run_labels_release(struct run_label *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		run_label_release(&l[i]);
	free(l);
}

/* A number of a kpis entry: null is absent, "+Inf"/"-Inf" strings are infinities. */
static int json_bound(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (cJSON_IsNumber(v)) {
		*out = v->valuedouble;
		return 1;
	}
	if (cJSON_IsString(v) && (!strcmp(v->valuestring, "+Inf") || !strcmp(v->valuestring, "-Inf"))) {
		*out = v->valuestring[0] == '+' ? INFINITY : -INFINITY;
		return 1;
	}
	return 0;
}

static char *strdup_or(const char *s, const char *def)
{
	return s ? xstrdup(s) : def ? xstrdup(def) : NULL;
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct run_label *)a)->key, ((const struct run_label *)b)->key);
}

static void load_kpis_json(const cJSON *arr, struct run *r)
{
	const cJSON *item;

	r->kpis = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*r->kpis));
	cJSON_ArrayForEach(item, arr) {
		struct run_kpi *k = &r->kpis[r->nkpis];
		double lo, up;

		if (!json_string(item, "kpi"))
			continue;
		k->kpi = xstrdup(json_string(item, "kpi"));
		k->scope = strdup_or(json_string(item, "scope"), "session");
		k->unit = strdup_or(json_string(item, "unit"), "");
		k->status = strdup_or(json_string(item, "status"), "ok");
		k->method = strdup_or(json_string(item, "method"), NULL);
		k->reason = strdup_or(json_string(item, "reason"), NULL);
		k->has_value = json_bound(item, "value", &k->value);
		if (json_bound(item, "lower", &lo) && json_bound(item, "upper", &up)) {
			k->has_bounds = 1;
			k->lower = lo;
			k->upper = up;
		}
		r->nkpis++;
	}
}

/* kpis.csv's cell as a number: empty is absent, "+Inf" is infinity. */
static int csv_number(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return 0;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && end != s;
}

static int load_kpis_csv(const char *dir, struct run *r)
{
	char *path = xasprintf("%s/kpis.csv", dir);
	struct csv_rows rows = { 0 };
	int ret = -1;

	if (csv_read_file(path, &rows) < 0)
		goto out;
	if (!rows.n || rows.nfields[0] < 9 || strcmp(rows.rows[0][0], "kpi")) {
		error("'%s' is not a kpis.csv (no 'kpi,scope,value,unit,lower,upper,samples,status,method' header)", path);
		goto out;
	}
	r->kpis = xcalloc(rows.n, sizeof(*r->kpis));
	for (size_t i = 1; i < rows.n; i++) {
		char **f = rows.rows[i];
		struct run_kpi *k = &r->kpis[r->nkpis];

		if (rows.nfields[i] < 9 || !*f[0]) {
			error("'%s' line %zu: expected 9 fields", path, rows.line[i]);
			goto out;
		}
		k->kpi = xstrdup(f[0]);
		k->scope = xstrdup(*f[1] ? f[1] : "session");
		k->unit = xstrdup(f[3]);
		k->status = xstrdup(*f[7] ? f[7] : "ok");
		k->method = *f[8] ? xstrdup(f[8]) : NULL;
		k->has_value = csv_number(f[2], &k->value);
		k->has_bounds = csv_number(f[4], &k->lower) && csv_number(f[5], &k->upper);
		r->nkpis++;
	}
	ret = 0;
out:
	csv_rows_release(&rows);
	free(path);
	return ret;
}

static int window_time(const cJSON *window, const char *key, int64_t *ms, const char *path)
{
	const char *s = json_string(window, key);
	char *cause = NULL;

	if (!s)
		return error("'%s': window.%s is missing", path, key);
	if (parse_time_ms(s, ms, &cause) < 0) {
		error("'%s': window.%s: %s", path, key, cause);
		free(cause);
		return -1;
	}
	return 0;
}

int run_load(const char *dir, struct run *out)
{
	char *path = xasprintf("%s/MANIFEST.json", dir);
	const cJSON *obj, *item;
	cJSON *root = NULL;
	struct run r = { 0 };
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (json_read_file(path, MANIFEST_MAX, 0, &root, NULL) < 0)
		goto out;
	if (!cJSON_IsObject(root) || !json_string(root, "run_id")) {
		error("'%s' is not a run's manifest (no run_id)", path);
		goto out;
	}
	r.dir = xstrdup(dir);
	r.run_id = xstrdup(json_string(root, "run_id"));
	r.session = strdup_or(json_string(root, "session"), "");
	r.status = strdup_or(json_string(root, "status"), "ok");
	r.verdict = strdup_or(json_string(root, "verdict"), NULL);
	obj = cJSON_GetObjectItemCaseSensitive(root, "window");
	if (window_time(obj, "from", &r.from_ms, path) < 0 || window_time(obj, "to", &r.to_ms, path) < 0)
		goto out;
	obj = cJSON_GetObjectItemCaseSensitive(root, "profile");
	r.profile = strdup_or(json_string(obj, "name"), NULL);
	r.profile_path = strdup_or(json_string(obj, "path"), NULL);
	obj = cJSON_GetObjectItemCaseSensitive(root, "run");
	if (cJSON_IsObject(obj)) {
		r.has_command = 1;
		r.exit_status = (int)json_int(obj, "exit_status", -1);
		r.interrupted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, "interrupted"));
	}
	obj = cJSON_GetObjectItemCaseSensitive(root, "labels");
	if (cJSON_IsObject(obj)) {
		r.labels = xcalloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(*r.labels));
		cJSON_ArrayForEach(item, obj) {
			if (!cJSON_IsString(item) || !item->string)
				continue;
			r.labels[r.nlabels].key = xstrdup(item->string);
			r.labels[r.nlabels++].value = xstrdup(item->valuestring);
		}
		qsort(r.labels, r.nlabels, sizeof(*r.labels), label_cmp);
	}
	obj = cJSON_GetObjectItemCaseSensitive(root, "kpis");
	if (cJSON_IsArray(obj) && cJSON_GetArraySize(obj) > 0)
		load_kpis_json(obj, &r);
	else if (load_kpis_csv(dir, &r) < 0)
		goto out;
	obj = cJSON_GetObjectItemCaseSensitive(root, "findings");
	if (cJSON_IsArray(obj)) {
		r.findings = xcalloc((size_t)cJSON_GetArraySize(obj) + 1, sizeof(*r.findings));
		cJSON_ArrayForEach(item, obj) {
			struct run_finding *f = &r.findings[r.nfindings++];

			f->kind = strdup_or(json_string(item, "kind"), "finding");
			f->subject = strdup_or(json_string(item, "subject"), "");
			f->message = strdup_or(json_string(item, "message"), "");
			f->optional = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item, "optional"));
		}
	}
	*out = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	run_release(&r);
	cJSON_Delete(root);
	free(path);
	return ret;
}

void run_release(struct run *r)
{
	free(r->dir);
	free(r->run_id);
	free(r->session);
	free(r->status);
	free(r->verdict);
	free(r->profile);
	free(r->profile_path);
	for (size_t i = 0; i < r->nlabels; i++)
		run_label_release(&r->labels[i]);
	free(r->labels);
	for (size_t i = 0; i < r->nkpis; i++) {
		struct run_kpi *k = &r->kpis[i];

		free(k->kpi);
		free(k->scope);
		free(k->unit);
		free(k->status);
		free(k->method);
		free(k->reason);
	}
	free(r->kpis);
	for (size_t i = 0; i < r->nfindings; i++) {
		free(r->findings[i].kind);
		free(r->findings[i].subject);
		free(r->findings[i].message);
	}
	free(r->findings);
	memset(r, 0, sizeof(*r));
}

struct finder {
	struct run_list *out;
	size_t alloc;
};

static void add_run(struct finder *f, struct run *r)
{
	if (f->out->n == f->alloc) {
		f->alloc = f->alloc ? 2 * f->alloc : 64;
		f->out->items = xrealloc(f->out->items, f->alloc * sizeof(*f->out->items));
	}
	f->out->items[f->out->n++] = *r;
}

static int has_manifest(const char *dir)
{
	char *path = xasprintf("%s/MANIFEST.json", dir);
	struct stat st;
	int ret = stat(path, &st) == 0 && S_ISREG(st.st_mode);

	free(path);
	return ret;
}

/* Search dir and below; top says a failure to read dir is the caller's error. */
static int find_in(struct finder *f, const char *dir, int depth, int top)
{
	struct dirent *de;
	DIR *d;
	struct run r;

	/* a run's directory holds its files, not other runs */
	if (has_manifest(dir)) {
		if (run_load(dir, &r) == 0)
			add_run(f, &r);
		else if (top)
			return -1;
		else
			warning("skipping '%s': its manifest cannot be read", dir);
		return 0;
	}
	if (depth >= RUNS_MAX_DEPTH)
		return 0;
	d = opendir(dir);
	if (!d) {
		if (top)
			return error("cannot read directory '%s': %s", dir, strerror(errno));
		return 0;
	}
	while ((de = readdir(d))) {
		char *sub;

		if (de->d_name[0] == '.')
			continue;
		/* d_type spares a stat per entry; file systems that do not fill it in answer DT_UNKNOWN */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		if (de->d_type == DT_UNKNOWN) {
			struct stat st;

			if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode)) {
				free(sub);
				continue;
			}
		}
		find_in(f, sub, depth + 1, 0);
		free(sub);
	}
	closedir(d);
	return 0;
}

static int run_order(const void *pa, const void *pb)
{
	const struct run *a = pa, *b = pb;
	int c;

	if (a->from_ms != b->from_ms)
		return a->from_ms < b->from_ms ? -1 : 1;
	c = strcmp(a->run_id, b->run_id);
	return c ? c : strcmp(a->dir, b->dir);
}

int runs_find(const char *const *dirs, size_t ndirs, struct run_list *out)
{
	struct finder f = { .out = out };

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ndirs; i++) {
		struct stat st;

		if (stat(dirs[i], &st) < 0) {
			error("cannot read '%s': %s", dirs[i], strerror(errno));
			run_list_release(out);
			return -1;
		}
		if (!S_ISDIR(st.st_mode)) {
			error("'%s' is not a directory", dirs[i]);
			run_list_release(out);
			return -1;
		}
		if (find_in(&f, dirs[i], 0, 1) < 0) {
			run_list_release(out);
			return -1;
		}
	}
	if (out->n > 1)
		qsort(out->items, out->n, sizeof(*out->items), run_order);
	return 0;
}

void run_list_release(struct run_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		run_release(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

const char *run_label(const struct run *r, const char *key)
{
	for (size_t i = 0; i < r->nlabels; i++)
		if (!strcmp(r->labels[i].key, key))
			return r->labels[i].value;
	return NULL;
}

const struct run_kpi *run_kpi_find(const struct run *r, const char *kpi, const char *scope)
{
	for (size_t i = 0; i < r->nkpis; i++)
		if (!strcmp(r->kpis[i].kpi, kpi) && !strcmp(r->kpis[i].scope, scope))
			return &r->kpis[i];
	return NULL;
}

size_t run_strict_findings(const struct run *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nfindings; i++)
		n += !r->findings[i].optional;
	return n;
}
