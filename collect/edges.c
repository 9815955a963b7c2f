#include "collect/edges.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "collect/exposition.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/http.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/registry.h"
#include "session/labels.h"

#define EDGES_SCHEMA 1
#define EDGES_FILE_MAX (256u << 20)
#define TOKEN_MAX 65536

static void labels_free(struct label *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(labels[i].name);
		free(labels[i].value);
	}
	free(labels);
}

static void label_add(struct label **labels, size_t *n, const char *name, const char *value)
{
	*labels = xrealloc(*labels, (*n + 1) * sizeof(**labels));
	(*labels)[*n].name = xstrdup(name);
	(*labels)[(*n)++].value = xstrdup(value);
}

static const char *label_get(const struct label *labels, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(labels[i].name, name))
			return labels[i].value;
	return NULL;
}

static int compare_labels(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* The labels Prometheus gives every sample of target t (its file_sd labels, job and instance). */
static void target_labels(const struct session *s, const struct target *t, struct edge_target *et)
{
	const char *kind = target_kind_name(t->kind);

	label_add(&et->labels, &et->nlabels, LABEL_SESSION, s->id);
	label_add(&et->labels, &et->nlabels, LABEL_CLIENT_ID, t->client_id);
	label_add(&et->labels, &et->nlabels, LABEL_NODE, t->node);
	label_add(&et->labels, &et->nlabels, LABEL_KIND, kind);
	label_add(&et->labels, &et->nlabels, "job", kind);
	label_add(&et->labels, &et->nlabels, "instance", t->address);
	if (t->name)
		label_add(&et->labels, &et->nlabels, LABEL_SERVICE, t->name);
}

/* Is this sample a count (counter, histogram bucket or count or sum, summary count or sum)? */
static int is_count(const struct expo_sample *x)
{
	if (x->created || !isfinite(x->value))
		return 0;
	switch (x->type) {
	case EXPO_COUNTER:
	case EXPO_HISTOGRAM:
	case EXPO_UNTYPED:
		return 1;
	case EXPO_SUMMARY:
		return !expo_label(x, "quantile");
	default:
		return 0;
	}
}

/*
 * The sample's labels as Prometheus stores them: the exposed ones (empty
 * values dropped), the target's over them, a clash kept as exported_<name>
 * (prefixed again while that name is taken too), sorted.
 */
static void stored_labels(const struct edge_target *et, const char *name, const struct label *exposed, size_t nexposed,
			  struct edge_sample *out)
{
	out->labels = NULL;
	out->nlabels = 0;
	label_add(&out->labels, &out->nlabels, "__name__", name);
	for (size_t i = 0; i < nexposed; i++) {
		if (!exposed[i].value[0] || !strcmp(exposed[i].name, "__name__"))
			continue;
		if (label_get(et->labels, et->nlabels, exposed[i].name)) {
			char *renamed = xasprintf("exported_%s", exposed[i].name);

			while (label_get(exposed, nexposed, renamed) || label_get(et->labels, et->nlabels, renamed)) {
				char *again = xasprintf("exported_%s", renamed);

				free(renamed);
				renamed = again;
			}
			label_add(&out->labels, &out->nlabels, renamed, exposed[i].value);
			free(renamed);
		} else {
			label_add(&out->labels, &out->nlabels, exposed[i].name, exposed[i].value);
		}
	}
	for (size_t i = 0; i < et->nlabels; i++)
		label_add(&out->labels, &out->nlabels, et->labels[i].name, et->labels[i].value);
	qsort(out->labels, out->nlabels, sizeof(*out->labels), compare_labels);
}

/* Keep the counts of a parsed page, with their labels as Prometheus stores them. */
static void keep_counts(struct edge_target *et, const struct exposition *page)
{
	et->samples = xcalloc(page->n + 1, sizeof(*et->samples));
	for (size_t i = 0; i < page->n; i++) {
		const struct expo_sample *x = &page->samples[i];

		if (!is_count(x))
			continue;
		stored_labels(et, x->name, x->labels, x->nlabels, &et->samples[et->n]);
		et->samples[et->n++].value = x->value;
	}
}

/* A bearer token from its file, surrounding blanks trimmed as Prometheus does. Caller frees. */
static char *read_token(const char *path, char **cause)
{
	struct strbuf sb = STRBUF_INIT;
	size_t start = 0, end;
	char *token = NULL;

	if (read_file(path, &sb, TOKEN_MAX, 0) < 0) {
		*cause = xasprintf("cannot read its bearer token file '%s'", path);
		goto out;
	}
	end = sb.len;
	while (start < end && isspace((unsigned char)sb.buf[start]))
		start++;
	while (end > start && isspace((unsigned char)sb.buf[end - 1]))
		end--;
	token = xstrndup(sb.buf + start, end - start);
out:
	if (sb.len)
		explicit_bzero(sb.buf, sb.len);
	strbuf_release(&sb);
	return token;
}

struct reading_ctx {
	struct edge_target *targets;
};

/* Parse target i's page when it arrives. */
static void on_page(size_t i, struct http_response *resp, const char *cause, void *ctx)
{
	struct edge_target *et = &((struct reading_ctx *)ctx)->targets[i];
	struct exposition page;
	char *perr = NULL;

	et->received_ms = now_ms();
	if (et->error)
		return;
	if (cause) {
		et->error = xstrdup(cause);
	} else if (resp->status != 200) {
		et->error = xasprintf("%s answered HTTP %ld", et->url, resp->status);
	} else if (exposition_parse(resp->body.buf, resp->body.len, &page, &perr) < 0) {
		et->error = xasprintf("%s: its metrics do not parse: %s", et->url, perr);
		free(perr);
	} else {
		keep_counts(et, &page);
		exposition_release(&page);
	}
	strbuf_release(&resp->body);
}

int edges_read(const struct session *s, long timeout_ms, struct edge_reading *r)
{
	struct target_list list;
	struct http_auth *auths = NULL;
	const struct http_auth **auth_refs = NULL;
	const char **urls = NULL;
	struct http_response *resps = NULL;
	char **causes = NULL;
	struct reading_ctx ctx;
	int64_t sent;

	memset(r, 0, sizeof(*r));
	if (registry_load(s, &list) < 0)
		return -1;
	r->targets = xcalloc(list.n + 1, sizeof(*r->targets));
	r->n = list.n;
	auths = xcalloc(list.n + 1, sizeof(*auths));
	auth_refs = xcalloc(list.n + 1, sizeof(*auth_refs));
	urls = xcalloc(list.n + 1, sizeof(*urls));
	resps = xcalloc(list.n + 1, sizeof(*resps));
	causes = xcalloc(list.n + 1, sizeof(*causes));
	for (size_t i = 0; i < list.n; i++) {
		struct edge_target *et = &r->targets[i];

		target_labels(s, &list.items[i], et);
		et->url = xstrdup(list.items[i].url);
		urls[i] = et->url;
		http_response_init(&resps[i]);
		if (list.items[i].token_file) {
			auths[i].bearer = read_token(list.items[i].token_file, &et->error);
			auth_refs[i] = &auths[i];
		}
	}
	sent = now_ms();
	for (size_t i = 0; i < list.n; i++)
		r->targets[i].sent_ms = sent;
	ctx.targets = r->targets;
	if (list.n)
		http_get_each(urls, auth_refs, list.n, timeout_ms, resps, causes, on_page, &ctx);
	for (size_t i = 0; i < list.n; i++) {
		http_response_release(&resps[i]);
		http_auth_release(&auths[i]);
		free(causes[i]);
	}
	free(causes);
	free(resps);
	free(urls);
	free(auth_refs);
	free(auths);
	target_list_release(&list);
	return 0;
}

static cJSON *labels_json(const struct label *labels, size_t n)
{
	cJSON *obj = cJSON_CreateObject();

	for (size_t i = 0; i < n; i++)
		cJSON_AddStringToObject(obj, labels[i].name, labels[i].value);
	return obj;
}

static cJSON *reading_json(const struct edge_reading *r)
{
	cJSON *obj = cJSON_CreateObject(), *arr;
	char *t = format_time_ms(r->at_ms);

	cJSON_AddStringToObject(obj, "time", t);
	free(t);
	cJSON_AddNumberToObject(obj, "time_ms", (double)r->at_ms);
	cJSON_AddBoolToObject(obj, "exact", r->exact);
	arr = cJSON_AddArrayToObject(obj, "targets");
	for (size_t i = 0; i < r->n; i++) {
		const struct edge_target *et = &r->targets[i];
		cJSON *tj = cJSON_CreateObject(), *samples;

		cJSON_AddItemToObject(tj, "labels", labels_json(et->labels, et->nlabels));
		cJSON_AddStringToObject(tj, "url", et->url);
		cJSON_AddNumberToObject(tj, "sent_ms", (double)et->sent_ms);
		cJSON_AddNumberToObject(tj, "received_ms", (double)et->received_ms);
		json_add_string_or_null(tj, "error", et->error);
		samples = cJSON_AddArrayToObject(tj, "samples");
		for (size_t j = 0; j < et->n; j++) {
			cJSON *sj = cJSON_CreateObject();

			cJSON_AddItemToObject(sj, "labels", labels_json(et->samples[j].labels, et->samples[j].nlabels));
			cJSON_AddNumberToObject(sj, "value", et->samples[j].value);
			cJSON_AddItemToArray(samples, sj);
		}
		cJSON_AddItemToArray(arr, tj);
	}
	return obj;
}

int edges_write(const char *path, const struct edges *e)
{
	cJSON *root = cJSON_CreateObject();
	int ret;

	cJSON_AddNumberToObject(root, "schema_version", EDGES_SCHEMA);
	cJSON_AddItemToObject(root, "from", reading_json(&e->from));
	cJSON_AddItemToObject(root, "to", reading_json(&e->to));
	ret = json_write_file_mode(path, root, 0, results_mode(0666));
	cJSON_Delete(root);
	return ret;
}

static int labels_load(const cJSON *obj, struct label **labels, size_t *n)
{
	const cJSON *l;

	*labels = NULL;
	*n = 0;
	if (!cJSON_IsObject(obj))
		return -1;
	cJSON_ArrayForEach(l, obj) {
		if (!cJSON_IsString(l) || !l->string)
			return -1;
		label_add(labels, n, l->string, l->valuestring);
	}
	qsort(*labels, *n, sizeof(**labels), compare_labels);
	return 0;
}

static int reading_load(const char *path, const cJSON *obj, struct edge_reading *r)
{
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(obj, "targets"), *tj;
	const cJSON *exact = cJSON_GetObjectItemCaseSensitive(obj, "exact");

	memset(r, 0, sizeof(*r));
	r->at_ms = json_int(obj, "time_ms", -1);
	r->exact = cJSON_IsTrue(exact);
	if (r->at_ms < 0 || !cJSON_IsBool(exact) || !cJSON_IsArray(targets))
		return error("'%s' has an edge without time_ms, exact or targets (corrupted?)", path);
	r->targets = xcalloc((size_t)cJSON_GetArraySize(targets) + 1, sizeof(*r->targets));
	cJSON_ArrayForEach(tj, targets) {
		struct edge_target *et = &r->targets[r->n++];
		const cJSON *samples = cJSON_GetObjectItemCaseSensitive(tj, "samples"), *sj;

		if (labels_load(cJSON_GetObjectItemCaseSensitive(tj, "labels"), &et->labels, &et->nlabels) < 0 ||
		    !json_string(tj, "url") || !cJSON_IsArray(samples))
			return error("'%s' has a target without labels, url or samples (corrupted?)", path);
		et->url = json_strdup(tj, "url");
		et->error = json_strdup(tj, "error");
		et->sent_ms = json_int(tj, "sent_ms", 0);
		et->received_ms = json_int(tj, "received_ms", 0);
		et->samples = xcalloc((size_t)cJSON_GetArraySize(samples) + 1, sizeof(*et->samples));
		cJSON_ArrayForEach(sj, samples) {
			struct edge_sample *es = &et->samples[et->n++];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(sj, "value");

			if (labels_load(cJSON_GetObjectItemCaseSensitive(sj, "labels"), &es->labels, &es->nlabels) < 0 ||
			    !cJSON_IsNumber(v))
				return error("'%s' has a sample without labels or value (corrupted?)", path);
			es->value = v->valuedouble;
		}
	}
	return 0;
}

int edges_load(const char *path, struct edges *e)
{
	cJSON *root = NULL;
	int ret;

	memset(e, 0, sizeof(*e));
	ret = json_read_file(path, EDGES_FILE_MAX, 1, &root, NULL);
	if (ret != 0)
		return ret;
	if (json_int(root, "schema_version", 0) != EDGES_SCHEMA) {
		ret = error("'%s' is not an edges file of schema %d", path, EDGES_SCHEMA);
		goto out;
	}
	if (reading_load(path, cJSON_GetObjectItemCaseSensitive(root, "from"), &e->from) < 0 ||
	    reading_load(path, cJSON_GetObjectItemCaseSensitive(root, "to"), &e->to) < 0) {
		ret = -1;
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		edges_release(e);
	cJSON_Delete(root);
	return ret;
}

static void reading_release(struct edge_reading *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct edge_target *et = &r->targets[i];

		for (size_t j = 0; j < et->n; j++)
			labels_free(et->samples[j].labels, et->samples[j].nlabels);
		free(et->samples);
		labels_free(et->labels, et->nlabels);
		free(et->url);
		free(et->error);
	}
	free(r->targets);
	memset(r, 0, sizeof(*r));
}

void edges_release(struct edges *e)
{
	reading_release(&e->from);
	reading_release(&e->to);
}

/* Do a series' labels and a sample's (both sorted by name) agree exactly? */
static int same_labels(const struct label *a, size_t na, const struct label *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) || strcmp(a[i].value, b[i].value))
			return 0;
	return 1;
}

/* The reading's value of the series with these (sorted) labels, from a target that answered. */
static int reading_value(const struct edge_reading *r, const struct label *labels, size_t n, double *v)
{
	const char *instance = label_get(labels, n, "instance"), *job = label_get(labels, n, "job");

	for (size_t i = 0; i < r->n; i++) {
		const struct edge_target *et = &r->targets[i];
		const char *ti = label_get(et->labels, et->nlabels, "instance");
		const char *tj = label_get(et->labels, et->nlabels, "job");

		/* only the target it came from can hold it */
		if (et->error || !instance || !job || !ti || !tj || strcmp(ti, instance) || strcmp(tj, job))
			continue;
		for (size_t j = 0; j < et->n; j++)
			if (same_labels(et->samples[j].labels, et->samples[j].nlabels, labels, n)) {
				*v = et->samples[j].value;
				return 1;
			}
	}
	return 0;
}

size_t edges_attach(const struct edges *e, struct series_set *set)
{
	size_t attached = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct series *s = &set->items[i];
		struct label *sorted = xmalloc((s->nlabels + 1) * sizeof(*sorted));
		double from, to;

		memcpy(sorted, s->labels, s->nlabels * sizeof(*sorted));
		qsort(sorted, s->nlabels, sizeof(*sorted), compare_labels);
		s->has_edges = reading_value(&e->from, sorted, s->nlabels, &from) &&
			       reading_value(&e->to, sorted, s->nlabels, &to);
		if (s->has_edges) {
			s->edge_from = from;
			s->edge_to = to;
			s->edge_from_exact = e->from.exact;
			attached++;
		}
		free(sorted);
	}
	return attached;
}

/* A target's name for findings, from its labels. */
static char *edge_target_name(const struct edge_target *et)
{
	const char *kind = label_get(et->labels, et->nlabels, LABEL_KIND);
	const char *svc = label_get(et->labels, et->nlabels, LABEL_SERVICE);
	const char *client = label_get(et->labels, et->nlabels, LABEL_CLIENT_ID);
	const char *inst = label_get(et->labels, et->nlabels, "instance");

	return xasprintf("%s %s%s%s of client %s at %s", kind ? kind : "target", svc ? "'" : "", svc ? svc : "",
			 svc ? "'" : "", client ? client : "?", inst ? inst : "?");
}

void edges_report(const struct edges *e, struct kpi_report *report)
{
	const struct edge_reading *readings[] = { &e->from, &e->to };

	for (size_t k = 0; k < 2; k++) {
		for (size_t i = 0; i < readings[k]->n; i++) {
			const struct edge_target *et = &readings[k]->targets[i];
			char *name;

			if (!et->error)
				continue;
			name = edge_target_name(et);
			kpi_report_add_finding(report, "fallback", name, readings[k]->at_ms, readings[k]->at_ms,
					       "%s could not be read at the window's %s (%s): its KPIs are interpolated "
					       "between scrapes there",
					       name, k ? "end" : "start", et->error);
			free(name);
		}
	}
}
