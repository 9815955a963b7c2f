#include "lib/prom.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/auth.h"
#include "lib/http.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/labels.h"

/* Prometheus answers errors in plain text while starting and in JSON later: give either back, trimmed. */
static char *body_message(const struct http_response *resp)
{
	cJSON *root = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
	const char *msg = root ? json_string(root, "error") : NULL;
	char *out;
	size_t len;

	out = xstrdup(msg ? msg : resp->body.buf);
	cJSON_Delete(root);
	len = strlen(out);
	while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
		out[--len] = '\0';
	if (len > 500)
		out[500] = '\0';
	return out;
}

/* What a refused answer says, with the way out when it is the credentials. Caller frees. */
static char *refusal(const char *url, const struct http_response *resp)
{
	char *msg = body_message(resp), *out;

	if (resp->status == 401)
		out = xasprintf("%s answered 401: %s (the session's password file '%s' is missing or is not the one "
				"this Prometheus was started with)", url, msg, AUTH_PASSWORD_FILE);
	else
		out = xasprintf("%s answered %ld: %s", url, resp->status, msg);
	free(msg);
	return out;
}

int prom_ready(const char *base_url, const struct http_auth *auth, long timeout_ms, char **cause)
{
	char *url = xasprintf("%s/-/ready", base_url);
	struct http_response resp;
	int ret = 0;

	http_response_init(&resp);
	if (http_request("GET", url, auth, NULL, timeout_ms, &resp, cause) == 0) {
		if (resp.status == 200) {
			ret = 1;
		} else {
			*cause = refusal(url, &resp);
			if (resp.status == 503)
				ret = PROM_STARTING;
		}
	}
	http_response_release(&resp);
	free(url);
	return ret;
}

int prom_reload(const char *base_url, const struct http_auth *auth, char **cause)
{
	char *url = xasprintf("%s/-/reload", base_url);
	struct http_response resp;
	int ret = -1;

	http_response_init(&resp);
	if (http_request("POST", url, auth, "", 30000, &resp, cause) < 0)
		goto out;
	if (resp.status == 401) {
		*cause = refusal(url, &resp);
		goto out;
	}
	if (resp.status != 200) {
		char *msg = body_message(&resp);

		if (resp.status == 403 || resp.status == 404)
			*cause = xasprintf("Prometheus refused the reload (%ld): %s (it must run with --web.enable-lifecycle)",
					   resp.status, msg);
		else
			*cause = xasprintf("Prometheus rejected the configuration: %s", msg);
		free(msg);
		goto out;
	}
	ret = 0;
out:
	http_response_release(&resp);
	free(url);
	return ret;
}

/* The session's targets in an answer of /api/v1/targets. */
static int parse_targets(const char *url, const struct http_response *resp, const char *session,
			 struct prom_target **targets, size_t *n, char **cause)
{
	cJSON *root = NULL, *item;
	const cJSON *active;
	int ret = -1;

	if (resp->status != 200) {
		*cause = refusal(url, resp);
		goto out;
	}
	root = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
	active = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "data"), "activeTargets");
	if (!cJSON_IsArray(active)) {
		*cause = xasprintf("%s: unexpected response (no data.activeTargets)", url);
		goto out;
	}
	*targets = xcalloc((size_t)cJSON_GetArraySize(active) + 1, sizeof(**targets));
	cJSON_ArrayForEach(item, active) {
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(item, "discoveredLabels");
		const char *sess = json_string(labels, LABEL_SESSION);
		struct prom_target *t;

		if (!sess || strcmp(sess, session))
			continue;
		t = &(*targets)[(*n)++];
		t->client_id = xstrdup(json_string(labels, LABEL_CLIENT_ID) ? json_string(labels, LABEL_CLIENT_ID) : "");
		t->kind = xstrdup(json_string(labels, LABEL_KIND) ? json_string(labels, LABEL_KIND) : "");
		t->service = json_strdup(labels, LABEL_SERVICE);
		t->address = xstrdup(json_string(labels, "__address__") ? json_string(labels, "__address__") : "");
		t->health = xstrdup(json_string(item, "health") ? json_string(item, "health") : "unknown");
		t->last_error = xstrdup(json_string(item, "lastError") ? json_string(item, "lastError") : "");
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

int prom_targets(const char *base_url, const struct http_auth *auth, const char *session,
		 struct prom_target **targets, size_t *n, char **cause)
{
	char *url = xasprintf("%s/api/v1/targets?state=active", base_url);
	struct http_response resp;
	int ret = -1;

	*targets = NULL;
	*n = 0;
	http_response_init(&resp);
	if (http_request("GET", url, auth, NULL, 10000, &resp, cause) == 0)
		ret = parse_targets(url, &resp, session, targets, n, cause);
	http_response_release(&resp);
	free(url);
	return ret;
}

void prom_targets_free(struct prom_target *targets, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(targets[i].client_id);
		free(targets[i].kind);
		free(targets[i].service);
		free(targets[i].address);
		free(targets[i].health);
		free(targets[i].last_error);
	}
	free(targets);
}

int prom_version(const char *base_url, const struct http_auth *auth, char **version, char **cause)
{
	char *url = xasprintf("%s/api/v1/status/buildinfo", base_url);
	struct http_response resp;
	cJSON *root = NULL;
	const char *v;
	int ret = -1;

	*version = NULL;
	http_response_init(&resp);
	if (http_request("GET", url, auth, NULL, 10000, &resp, cause) < 0)
		goto out;
	root = cJSON_ParseWithLength(resp.body.buf, resp.body.len);
	v = json_string(cJSON_GetObjectItemCaseSensitive(root, "data"), "version");
	if (resp.status != 200 || !v) {
		*cause = xasprintf("%s answered %ld without a version", url, resp.status);
		goto out;
	}
	*version = xstrdup(v);
	ret = 0;
out:
	cJSON_Delete(root);
	http_response_release(&resp);
	free(url);
	return ret;
}

static char *label_dup(const cJSON *labels, const char *name)
{
	const char *v = json_string(labels, name);

	return xstrdup(v ? v : "");
}

/* The session's alerts in an answer of /api/v1/alerts. */
static int parse_alerts(const char *url, const struct http_response *resp, const char *session,
			struct prom_alert **alerts, size_t *n, char **cause)
{
	cJSON *root = NULL, *item;
	const cJSON *list;
	int ret = -1;

	if (resp->status != 200) {
		*cause = refusal(url, resp);
		goto out;
	}
	root = cJSON_ParseWithLength(resp->body.buf, resp->body.len);
	list = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "data"), "alerts");
	if (!cJSON_IsArray(list)) {
		*cause = xasprintf("%s: unexpected response (no data.alerts)", url);
		goto out;
	}
	*alerts = xcalloc((size_t)cJSON_GetArraySize(list) + 1, sizeof(**alerts));
	cJSON_ArrayForEach(item, list) {
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(item, "labels");
		const cJSON *ann = cJSON_GetObjectItemCaseSensitive(item, "annotations");
		const char *sess = json_string(labels, LABEL_SESSION), *at = json_string(item, "activeAt");
		struct prom_alert *a;
		char *why = NULL;

		if (!sess || strcmp(sess, session))
			continue;
		a = &(*alerts)[(*n)++];
		a->name = label_dup(labels, "alertname");
		a->severity = label_dup(labels, LABEL_SEVERITY);
		a->state = xstrdup(json_string(item, "state") ? json_string(item, "state") : "");
		a->client_id = label_dup(labels, LABEL_CLIENT_ID);
		a->kind = label_dup(labels, LABEL_KIND);
		a->service = label_dup(labels, LABEL_SERVICE);
		a->instance = label_dup(labels, "instance");
		a->node = label_dup(labels, LABEL_NODE);
		a->gpu = label_dup(labels, LABEL_GPU);
		a->summary = label_dup(ann, "summary");
		if (!at || parse_time_ms(at, &a->active_ms, &why) < 0)
			a->active_ms = 0;
		free(why);
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

int prom_health(const char *base_url, const struct http_auth *auth, const char *session, struct prom_health *h)
{
	char *urls[2] = { xasprintf("%s/api/v1/targets?state=active", base_url),
			  xasprintf("%s/api/v1/alerts", base_url) };
	struct http_response resps[2];
	char *causes[2] = { NULL, NULL };
	int ret = 0;

	memset(h, 0, sizeof(*h));
	http_response_init(&resps[0]);
	http_response_init(&resps[1]);
	http_get_many((const char *const *)urls, 2, auth, 10000, resps, causes, NULL, NULL);
	h->targets_cause = causes[0];
	h->alerts_cause = causes[1];
	if (!causes[0] && parse_targets(urls[0], &resps[0], session, &h->targets, &h->ntargets, &h->targets_cause) < 0)
		ret = -1;
	if (!causes[1] && parse_alerts(urls[1], &resps[1], session, &h->alerts, &h->nalerts, &h->alerts_cause) < 0)
		ret = -1;
	if (causes[0] || causes[1])
		ret = -1;
	for (int i = 0; i < 2; i++) {
		http_response_release(&resps[i]);
		free(urls[i]);
	}
	return ret;
}

void prom_alerts_free(struct prom_alert *alerts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct prom_alert *a = &alerts[i];

		free(a->name);
		free(a->severity);
		free(a->state);
		free(a->client_id);
		free(a->kind);
		free(a->service);
		free(a->instance);
		free(a->node);
		free(a->gpu);
		free(a->summary);
	}
	free(alerts);
}
