#include "serve/serve.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/auth.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/httpd.h"
#include "lib/jsonfile.h"
#include "lib/prom.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/lifecycle.h"
#include "serve/body.h"
#include "session/registry.h"
#include "session/validate.h"

/* Events kept for streams that fall behind; older ones are skipped. */
#define EVENT_RING 1024
/* A stream that has nothing to say sends a comment this often, so proxies and clients see it alive. */
#define KEEPALIVE_MS 15000

/* What the poller last saw of one target. */
struct seen_target {
	char *key;          /* client_id, kind and name: one target */
	char *health;
};

struct server {
	const struct session *s;
	char *token;
	size_t token_len;
	struct httpd *httpd;
	atomic_int ending;
	/* status reaches Slurm through libslurm, which is not safe to enter from two threads */
	pthread_mutex_t status_lock;

	pthread_mutex_t lock;          /* guards the events and the poller's stop */
	pthread_cond_t cond;
	char *ring[EVENT_RING];
	uint64_t next_seq;             /* the sequence number the next event gets */
	int closing;
	pthread_t poller;
	int poller_started;
	int poll_ms;
	struct seen_target *seen;
	size_t nseen;
	char **stale;                  /* clients whose heartbeat was stale at the last poll */
	size_t nstale;
	char **alerts;                 /* "<alert key> <state>" of each alert at the last poll */
	size_t nalerts;
};

static int in_list(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return 1;
	return 0;
}

/* Queue an event for the streams: "id: N\nevent: type\ndata: json\n\n". Takes data. */
static void emit(struct server *sv, const char *type, cJSON *data)
{
	char *json = cJSON_PrintUnformatted(data);

	pthread_mutex_lock(&sv->lock);
	free(sv->ring[sv->next_seq % EVENT_RING]);
	sv->ring[sv->next_seq % EVENT_RING] =
		xasprintf("id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)sv->next_seq, type, json);
	sv->next_seq++;
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
	cJSON_free(json);
	cJSON_Delete(data);
}

static char *target_key(const char *client_id, const char *kind, const char *name)
{
	return xasprintf("%s %s %s", client_id, kind, name ? name : "-");
}

static cJSON *target_event(const struct target *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "client_id", t->client_id);
	cJSON_AddStringToObject(o, "kind", target_kind_name(t->kind));
	json_add_string_or_null(o, "name", t->name);
	cJSON_AddStringToObject(o, "node", t->node);
	cJSON_AddStringToObject(o, "address", t->address);
	cJSON_AddStringToObject(o, "url", t->url);
	return o;
}

static int compare_seen(const void *a, const void *b)
{
	return strcmp(((const struct seen_target *)a)->key, ((const struct seen_target *)b)->key);
}

static struct seen_target *find_seen(struct seen_target *v, size_t n, const char *key)
{
	struct seen_target k = { .key = (char *)key };

	return n ? bsearch(&k, v, n, sizeof(*v), compare_seen) : NULL;
}

static void seen_free(struct seen_target *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].health);
	}
	free(v);
}

/*
 * Prometheus's view of the session's targets and alerts, when it runs: 0, or -1
 * when its targets cannot be asked for. *alerts_ok says whether the alerts came.
 */
static int poll_prometheus(const struct session *s, struct prom_health *h, int *alerts_ok)
{
	struct session_run run = { 0 };
	struct http_auth auth = { 0 };
	int ret = -1;

	memset(h, 0, sizeof(*h));
	*alerts_ok = 0;
	if (session_run_load(s, &run) < 0 || run.state != RUN_RUNNING || !run.url)
		goto out;
	if (auth_load(s->dir, &auth) < 0)
		goto out;
	prom_health(run.url, &auth, s->id, h);
	*alerts_ok = !h->alerts_cause;
	if (h->targets_cause)
		goto out;
	ret = 0;
out:
	http_auth_release(&auth);
	session_run_release(&run);
	return ret;
}

static void prom_health_release(struct prom_health *h)
{
	prom_targets_free(h->targets, h->ntargets);
	prom_alerts_free(h->alerts, h->nalerts);
	free(h->targets_cause);
	free(h->alerts_cause);
	memset(h, 0, sizeof(*h));
}

/* One alert's identity: its name and the labels that say what it is about. */
static char *alert_key(const struct prom_alert *a)
{
	return xasprintf("%s|%s|%s|%s|%s|%s|%s", a->name, a->client_id, a->kind, a->service, a->instance, a->node,
			 a->gpu);
}

static cJSON *alert_event(const struct prom_alert *a)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "alert", a->name);
	cJSON_AddStringToObject(o, "severity", a->severity);
	cJSON_AddStringToObject(o, "state", a->state);
	json_add_string_or_null(o, "client_id", *a->client_id ? a->client_id : NULL);
	json_add_string_or_null(o, "node", *a->node ? a->node : NULL);
	json_add_string_or_null(o, "gpu", *a->gpu ? a->gpu : NULL);
	json_add_string_or_null(o, "instance", *a->instance ? a->instance : NULL);
	if (a->active_ms)
		json_add_time(o, "since", a->active_ms);
	cJSON_AddStringToObject(o, "summary", a->summary);
	return o;
}

/*
 * Alerts that appeared or changed state since the last poll become "alert"
 * events, those gone "resolved" ones; the first poll only sets the baseline.
 */
static void poll_alerts(struct server *sv, const struct prom_health *h, int first)
{
	char **now = xcalloc(h->nalerts + 1, sizeof(*now));

	for (size_t i = 0; i < h->nalerts; i++) {
		char *key = alert_key(&h->alerts[i]);

		now[i] = xasprintf("%s %s", key, h->alerts[i].state);
		if (!first && !in_list(sv->alerts, sv->nalerts, now[i]))
			emit(sv, "alert", alert_event(&h->alerts[i]));
		free(key);
	}
	for (size_t i = 0; !first && i < sv->nalerts; i++) {
		char *space = strrchr(sv->alerts[i], ' ');
		size_t keylen = (size_t)(space - sv->alerts[i]);
		int still = 0;

		for (size_t k = 0; k < h->nalerts && !still; k++)
			still = !strncmp(now[k], sv->alerts[i], keylen) && now[k][keylen] == ' ';
		if (!still) {
			cJSON *o = cJSON_CreateObject();
			char *key = xstrndup(sv->alerts[i], keylen), *name = xstrndup(key, strcspn(key, "|"));

			cJSON_AddStringToObject(o, "alert", name);
			cJSON_AddStringToObject(o, "key", key);
			free(name);
			free(key);
			emit(sv, "resolved", o);
		}
	}
	for (size_t i = 0; i < sv->nalerts; i++)
		free(sv->alerts[i]);
	free(sv->alerts);
	sv->alerts = now;
	sv->nalerts = h->nalerts;
}

static const char *scraped_health(const struct prom_target *prom, size_t n, const struct target *t, const char **err)
{
	const char *kind = target_kind_name(t->kind);

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(prom[i].client_id, t->client_id) && !strcmp(prom[i].kind, kind) &&
		    !strcmp(prom[i].service ? prom[i].service : "", t->name ? t->name : "")) {
			*err = prom[i].last_error;
			return prom[i].health;
		}
	}
	*err = "";
	return "unknown";
}


/*
 * One look at the registry, Prometheus and the heartbeats; what changed
 * since the last becomes events. The first look only sets the baseline.
 */
static void poll_once(struct server *sv, int first)
{
	struct target_list list;
	struct prom_health ph;
	struct prom_target *prom;
	struct heartbeat *hb = NULL;
	struct seen_target *now;
	size_t nprom, nhb = 0, nstale = 0;
	char **stale;
	int64_t t_now = now_ms();
	int have_prom, have_alerts;
	struct strbuf errs = STRBUF_INIT;

	error_capture(&errs);
	if (registry_load(sv->s, &list) < 0)
		goto out;
	have_prom = poll_prometheus(sv->s, &ph, &have_alerts) == 0;
	prom = ph.targets;
	nprom = ph.ntargets;
	if (have_alerts)
		poll_alerts(sv, &ph, first);
	now = xcalloc(list.n + 1, sizeof(*now));
	for (size_t i = 0; i < list.n; i++) {
		const struct target *t = &list.items[i];
		const char *err, *health = have_prom ? scraped_health(prom, nprom, t, &err) : "unknown";
		struct seen_target *was;

		now[i].key = target_key(t->client_id, target_kind_name(t->kind), t->name);
		now[i].health = xstrdup(health);
		was = find_seen(sv->seen, sv->nseen, now[i].key);
		if (first)
			continue;
		if (!was) {
			emit(sv, "registered", target_event(t));
		} else if (have_prom && strcmp(was->health, health)) {
			cJSON *o = target_event(t);

			cJSON_AddStringToObject(o, "health", health);
			cJSON_AddStringToObject(o, "previous", was->health);
			json_add_string_or_null(o, "error", *err ? err : NULL);
			emit(sv, "health", o);
		}
		if (was && !have_prom) {
			free(now[i].health);
			now[i].health = xstrdup(was->health);
		}
	}
	if (list.n)
		qsort(now, list.n, sizeof(*now), compare_seen);
	for (size_t i = 0; !first && i < sv->nseen; i++) {
		if (!find_seen(now, list.n, sv->seen[i].key)) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "target", sv->seen[i].key);
			emit(sv, "removed", o);
		}
	}
	seen_free(sv->seen, sv->nseen);
	sv->seen = now;
	sv->nseen = list.n;

	registry_heartbeats(sv->s, &hb, &nhb);
	stale = xcalloc(nhb + 1, sizeof(*stale));
	for (size_t i = 0; i < nhb; i++) {
		int is_stale = heartbeat_is_stale(&hb[i], t_now), was_stale = in_list(sv->stale, sv->nstale, hb[i].client_id);

		if (is_stale)
			stale[nstale++] = xstrdup(hb[i].client_id);
		if (!first && is_stale != was_stale) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "client_id", hb[i].client_id);
			json_add_time(o, "last_heartbeat", hb[i].at_ms);
			cJSON_AddNumberToObject(o, "timeout_s", (double)hb[i].timeout_s);
			emit(sv, is_stale ? "stale" : "fresh", o);
		}
	}
	for (size_t i = 0; i < sv->nstale; i++)
		free(sv->stale[i]);
	free(sv->stale);
	sv->stale = stale;
	sv->nstale = nstale;
	heartbeats_free(hb, nhb);
	prom_health_release(&ph);
	target_list_release(&list);
out:
	error_capture(NULL);
	strbuf_release(&errs);
}

static void *poller_main(void *arg)
{
	struct server *sv = arg;
	int first = 1;

	pthread_mutex_lock(&sv->lock);
	while (!sv->closing) {
		struct timespec until;
		int64_t began = now_ms(), wait_ms;

		pthread_mutex_unlock(&sv->lock);
		poll_once(sv, first);
		first = 0;
		/* a look at a large registry reads every file: keep it to a tenth of the time, or less */
		wait_ms = (now_ms() - began) * 9;
		if (wait_ms < sv->poll_ms)
			wait_ms = sv->poll_ms;
		pthread_mutex_lock(&sv->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_ms / 1000;
		until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!sv->closing && pthread_cond_timedwait(&sv->cond, &sv->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&sv->lock);
	return NULL;
}

/* One client's event stream. */
struct stream {
	struct server *sv;
	uint64_t next;           /* the next event it is to get */
	struct strbuf pending;   /* what did not fit into the last buffer */
	size_t sent;             /* of pending */
};

static ssize_t stream_fill(void *ctx, char *buf, size_t max)
{
	struct stream *st = ctx;
	struct server *sv = st->sv;
	size_t n;

	if (st->sent == st->pending.len) {
		struct timespec until;
		int timed_out = 0;

		strbuf_reset(&st->pending);
		st->sent = 0;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += KEEPALIVE_MS / 1000;
		pthread_mutex_lock(&sv->lock);
		while (!sv->closing && st->next == sv->next_seq && !timed_out)
			timed_out = pthread_cond_timedwait(&sv->cond, &sv->lock, &until) == ETIMEDOUT;
		if (sv->closing) {
			pthread_mutex_unlock(&sv->lock);
			return -1;
		}
		if (sv->next_seq - st->next > EVENT_RING)
			st->next = sv->next_seq - EVENT_RING;
		while (st->next < sv->next_seq)
			strbuf_addstr(&st->pending, sv->ring[st->next++ % EVENT_RING]);
		pthread_mutex_unlock(&sv->lock);
		if (!st->pending.len)
			strbuf_addstr(&st->pending, ": keep-alive\n\n");
	}
	n = st->pending.len - st->sent;
	if (n > max)
		n = max;
	memcpy(buf, st->pending.buf + st->sent, n);
	st->sent += n;
	return (ssize_t)n;
}

static void stream_free(void *ctx)
{
	struct stream *st = ctx;

	strbuf_release(&st->pending);
	free(st);
}

/* Set an error reply: {"error": message, "field": field}. */
static void reply_error(struct httpd_reply *reply, int status, const char *message, const char *field)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(o, "error", message);
	json_add_string_or_null(o, "field", field);
	text = cJSON_PrintUnformatted(o);
	reply->status = status;
	reply->body = xasprintf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

/* Set a 200 reply with o, and free it. */
static void reply_json(struct httpd_reply *reply, cJSON *o)
{
	char *text = cJSON_Print(o);

	reply->status = 200;
	reply->body = xasprintf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
}

/* Does header say "Bearer <the token>"? In time that depends only on the lengths. */
static int authorized(const struct server *sv, const char *header)
{
	const char *given;
	size_t len;
	unsigned char diff;

	if (!header || strncasecmp(header, "Bearer ", 7))
		return 0;
	given = header + 7;
	len = strlen(given);
	diff = len != sv->token_len;
	for (size_t i = 0; i < sv->token_len; i++)
		diff |= (unsigned char)((i < len ? given[i] : 0) ^ sv->token[i]);
	return !diff;
}

/* Is the content type JSON ("application/json", parameters allowed)? */
static int is_json_type(const char *type)
{
	size_t n = strlen("application/json");

	return type && !strncasecmp(type, "application/json", n) && (!type[n] || type[n] == ';' || type[n] == ' ');
}

struct request {
	struct server *sv;
	const struct httpd_request *http;
	struct httpd_reply *reply;
	const char *ids[2];      /* the {client_id} and {name} of the path */
	cJSON *body;             /* parsed, when the route takes one */
	struct strbuf errs;      /* what error() said while serving it */
};

/* The captured errors, or fallback when none were reported. */
static const char *captured(struct request *r, const char *fallback)
{
	return r->errs.len ? r->errs.buf : fallback;
}

/* Validate the path's ids; a bad one is a 400 naming it. */
static int check_path_ids(struct request *r, int n)
{
	static const char *const what[] = { "client id", "service name" };
	static const char *const field[] = { "client_id", "name" };
	char *cause = NULL;

	for (int i = 0; i < n; i++) {
		if (validate_id(what[i], r->ids[i], &cause) < 0) {
			reply_error(r->reply, 400, cause, field[i]);
			free(cause);
			return -1;
		}
	}
	return 0;
}

static void post_clients(struct request *r)
{
	const struct session *s = r->sv->s;
	struct client c;
	struct hostport owned[2] = { { 0 }, { 0 } };
	int64_t timeout_s;
	const char *field = NULL;
	char *cause = NULL;
	cJSON *o;

	if (body_client(r->body, &c, &timeout_s, &cause, &field) < 0 ||
	    registry_check_client(&c, owned, &cause, &field) < 0) {
		reply_error(r->reply, 400, cause, field);
		goto out;
	}
	registry_client_off_loopback(s, &c, owned);
	if (registry_put_client(s, &c) < 0 || (timeout_s >= 0 && registry_heartbeat(s, c.client_id, timeout_s) < 0)) {
		reply_error(r->reply, 500, captured(r, "cannot write the registry"), NULL);
		goto out;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "client_id", c.client_id);
	cJSON_AddStringToObject(o, "node", c.node);
	emit(r->sv, "client", o);
	o = registry_client_json(s, &c);
	if (timeout_s >= 0)
		cJSON_AddNumberToObject(o, "heartbeat_timeout_s", (double)timeout_s);
	reply_json(r->reply, o);
out:
	free(cause);
	hostport_release(&owned[0]);
	hostport_release(&owned[1]);
}

static void post_services(struct request *r)
{
	const struct session *s = r->sv->s;
	struct service *svcs = NULL;
	size_t n = 0, bad = 0, rewritten = 0;
	const char *field = NULL;
	char *cause = NULL;
	int new_auth;
	cJSON *o;

	if (body_services(r->body, &svcs, &n, &cause, &field) < 0) {
		reply_error(r->reply, 400, cause, field);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (registry_check_service(&svcs[i], &cause, &field) < 0 ||
		    (svcs[i].token_file && (field = "bearer_token_file") &&
		     registry_check_token_file(svcs[i].token_file, &cause) < 0)) {
			if (n > 1) {
				char *was = cause;

				cause = xasprintf("services[%zu]: %s", i, was);
				free(was);
			}
			reply_error(r->reply, 400, cause, field);
			goto out;
		}
	}
	new_auth = n == 1 && svcs[0].token_file && !registry_has_auth(s, svcs[0].token_file);
	if (registry_put_services(s, svcs, n, &rewritten, &bad, &cause) < 0) {
		char *msg = bad < n && n > 1 ? xasprintf("services[%zu]: %s; nothing was registered", bad, cause)
					     : xasprintf("%s; nothing was registered", cause);

		/* an unknown client is the caller's to fix; a failed write is ours */
		reply_error(r->reply, bad < n ? 400 : 500, msg, bad < n ? "client_id" : NULL);
		free(msg);
		goto out;
	}
	if (new_auth && lifecycle_reload_if_running(s) < 0)
		warning("registered, but Prometheus was not reloaded; run 'benchmon reload --session %s'", s->id);
	o = registry_services_json(s, svcs, n, rewritten);
	reply_json(r->reply, o);
out:
	free(cause);
	free(svcs);
}

/* Answer a removal: 200, 404 when there was nothing of that name, 500. */
static void removed(struct request *r, int rc, const char *what)
{
	cJSON *o;

	if (rc < 0) {
		reply_error(r->reply, 500, captured(r, "cannot change the registry"), NULL);
		return;
	}
	if (rc > 0) {
		char *msg = xasprintf("%s is not registered in session '%s'", what, r->sv->s->id);

		reply_error(r->reply, 404, msg, NULL);
		free(msg);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "session", r->sv->s->id);
	cJSON_AddStringToObject(o, "client_id", r->ids[0]);
	if (r->ids[1])
		cJSON_AddStringToObject(o, "name", r->ids[1]);
	cJSON_AddBoolToObject(o, "removed", 1);
	cJSON_AddNullToObject(o, "error");
	reply_json(r->reply, o);
}

static void delete_client(struct request *r)
{
	char *what;

	if (check_path_ids(r, 1) < 0)
		return;
	what = xasprintf("client '%s'", r->ids[0]);
	removed(r, registry_remove_client(r->sv->s, r->ids[0]), what);
	free(what);
}

static void delete_service(struct request *r)
{
	char *what;

	if (check_path_ids(r, 2) < 0)
		return;
	what = xasprintf("service '%s' of client '%s'", r->ids[1], r->ids[0]);
	removed(r, registry_remove_service(r->sv->s, r->ids[0], r->ids[1]), what);
	free(what);
}

static void put_heartbeat(struct request *r)
{
	const struct session *s = r->sv->s;
	int64_t timeout_s = -1;
	const char *field = NULL;
	char *cause = NULL, *path;
	cJSON *o;

	if (check_path_ids(r, 1) < 0)
		return;
	if (r->body && body_heartbeat(r->body, &timeout_s, &cause, &field) < 0) {
		reply_error(r->reply, 400, cause, field);
		free(cause);
		return;
	}
	path = xasprintf("%s/targets/client+%s.json", s->dir, r->ids[0]);
	if (!path_exists(path)) {
		char *msg = xasprintf("client '%s' is not connected to session '%s'", r->ids[0], s->id);

		reply_error(r->reply, 404, msg, NULL);
		free(msg);
	} else if (registry_heartbeat(s, r->ids[0], timeout_s) < 0) {
		reply_error(r->reply, 500, captured(r, "cannot record the heartbeat"), NULL);
	} else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "session", s->id);
		cJSON_AddStringToObject(o, "client_id", r->ids[0]);
		if (timeout_s >= 0)
			cJSON_AddNumberToObject(o, "timeout_s", (double)timeout_s);
		cJSON_AddNullToObject(o, "error");
		reply_json(r->reply, o);
	}
	free(path);
}

static void get_status(struct request *r)
{
	struct session_status st;
	int rc;

	pthread_mutex_lock(&r->sv->status_lock);
	rc = lifecycle_status(r->sv->s, &st);
	if (rc == 0)
		reply_json(r->reply, lifecycle_status_json(r->sv->s, &st));
	else
		reply_error(r->reply, 500, captured(r, "cannot read the session's state"), NULL);
	session_status_release(&st);
	pthread_mutex_unlock(&r->sv->status_lock);
}

static void get_targets(struct request *r)
{
	struct target_list list;
	cJSON *o, *arr;

	if (registry_load(r->sv->s, &list) < 0) {
		reply_error(r->reply, 500, captured(r, "cannot read the registry"), NULL);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "session", r->sv->s->id);
	cJSON_AddNumberToObject(o, "clients", (double)list.nclients);
	arr = cJSON_AddArrayToObject(o, "targets");
	for (size_t i = 0; i < list.n; i++) {
		cJSON *t = target_event(&list.items[i]);

		json_add_string_or_null(t, "bearer_token_file", list.items[i].token_file);
		cJSON_AddItemToArray(arr, t);
	}
	cJSON_AddNullToObject(o, "error");
	reply_json(r->reply, o);
	target_list_release(&list);
}

static void get_events(struct request *r)
{
	struct stream *st = xcalloc(1, sizeof(*st));

	st->sv = r->sv;
	strbuf_init(&st->pending, 0);
	pthread_mutex_lock(&r->sv->lock);
	st->next = r->sv->next_seq;
	pthread_mutex_unlock(&r->sv->lock);
	/* the first bytes tell the client the stream is open, before any event */
	strbuf_addf(&st->pending, ": benchmon events of session %s\n\n", r->sv->s->id);
	r->reply->status = 200;
	r->reply->content_type = "text/event-stream";
	r->reply->stream = stream_fill;
	r->reply->stream_ctx = st;
	r->reply->stream_free = stream_free;
}

/* A route: a method on a path whose "{}" segments are ids. */
struct route {
	const char *method;
	const char *path;
	int body;                      /* 1: a JSON body is required; 2: optional */
	void (*fn)(struct request *r);
};

static const struct route routes[] = {
	{ "POST", "/v1/clients", 1, post_clients },
	{ "DELETE", "/v1/clients/{}", 0, delete_client },
	{ "PUT", "/v1/clients/{}/heartbeat", 2, put_heartbeat },
	{ "DELETE", "/v1/clients/{}/services/{}", 0, delete_service },
	{ "POST", "/v1/services", 1, post_services },
	{ "GET", "/v1/status", 0, get_status },
	{ "GET", "/v1/targets", 0, get_targets },
	{ "GET", "/v1/events", 0, get_events },
};

static void free_ids(const char *ids[2])
{
	free((char *)ids[0]);
	free((char *)ids[1]);
	ids[0] = ids[1] = NULL;
}

/* Does path match pattern? The "{}" segments' text goes to ids (caller frees with free_ids). */
static int path_matches(const char *pattern, const char *path, const char *ids[2])
{
	int nids = 0;

	while (*pattern && *path) {
		if (!strncmp(pattern, "{}", 2)) {
			const char *end = strchr(path, '/');
			size_t len = end ? (size_t)(end - path) : strlen(path);

			if (!len || nids == 2)
				break;
			ids[nids++] = xstrndup(path, len);
			pattern += 2;
			path += len;
		} else if (*pattern++ != *path++) {
			break;
		}
	}
	if (!*pattern && !*path)
		return 1;
	free_ids(ids);
	return 0;
}

static void handle(const struct httpd_request *http, struct httpd_reply *reply, void *ctx)
{
	struct server *sv = ctx;
	struct request r = { .sv = sv, .http = http, .reply = reply, .errs = STRBUF_INIT };
	const struct route *route = NULL;
	struct strbuf allow = STRBUF_INIT;
	static _Thread_local char allow_text[64];
	const char *field = NULL;
	char *cause = NULL;

	if (!authorized(sv, http->authorization)) {
		reply_error(reply, 401, "missing or wrong bearer token (Authorization: Bearer <token>)", NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const char *ids[2] = { NULL, NULL };

		if (!path_matches(routes[i].path, http->path, ids))
			continue;
		strbuf_addf(&allow, "%s%s", allow.len ? ", " : "", routes[i].method);
		if (!route && !strcmp(routes[i].method, http->method)) {
			route = &routes[i];
			r.ids[0] = ids[0];
			r.ids[1] = ids[1];
		} else {
			free_ids(ids);
		}
	}
	if (!allow.len) {
		reply_error(reply, 404, "no such resource", NULL);
		goto out;
	}
	if (!route) {
		snprintf(allow_text, sizeof(allow_text), "%s", allow.buf);
		reply->allow = allow_text;
		reply_error(reply, 405, "method not allowed here", NULL);
		goto out;
	}
	if (atomic_load(&sv->ending)) {
		reply_error(reply, 409, "the server is ending with its session; try again once it is back", NULL);
		goto out;
	}
	if (route->body == 1 || (route->body == 2 && http->body_len)) {
		if (!is_json_type(http->content_type)) {
			reply_error(reply, 415, "the body must be JSON (Content-Type: application/json)", NULL);
			goto out;
		}
		if (body_parse(http->body, http->body_len, &r.body, &cause, &field) < 0) {
			reply_error(reply, 400, cause, field);
			goto out;
		}
	} else if (!route->body && http->body_len) {
		reply_error(reply, 400, "this request takes no body", NULL);
		goto out;
	}
	error_capture(&r.errs);
	route->fn(&r);
	error_capture(NULL);
out:
	free(cause);
	cJSON_Delete(r.body);
	strbuf_release(&r.errs);
	strbuf_release(&allow);
	free_ids(r.ids);
}

int serve_start(const struct session *s, const struct serve_options *opts, struct server **out, char **url)
{
	struct server *sv = xcalloc(1, sizeof(*sv));
	struct httpd_options ho = {
		.host = opts->host,
		.port = opts->port,
		.body_max = SERVE_BODY_MAX,
		.connection_limit = 1024,
		.timeout_s = 60,
		.tls_cert = opts->tls_cert,
		.tls_key = opts->tls_key,
	};
	int v6 = strchr(opts->host, ':') != NULL;

	sv->s = s;
	sv->token = xstrdup(opts->token);
	sv->token_len = strlen(sv->token);
	sv->poll_ms = opts->poll_ms > 0 ? opts->poll_ms : 1000;
	pthread_mutex_init(&sv->status_lock, NULL);
	pthread_mutex_init(&sv->lock, NULL);
	pthread_cond_init(&sv->cond, NULL);
	if (httpd_start(&ho, handle, sv, &sv->httpd) < 0) {
		serve_stop(sv);
		return -1;
	}
	if (pthread_create(&sv->poller, NULL, poller_main, sv) == 0)
		sv->poller_started = 1;
	else
		warning("cannot start the event poller: the event stream stays silent");
	/* every address: clients elsewhere reach it by this host's name */
	if (!strcmp(opts->host, "0.0.0.0") || !strcmp(opts->host, "::")) {
		char name[256] = "localhost";

		gethostname(name, sizeof(name) - 1);
		*url = xasprintf("%s://%s:%d", opts->tls_cert ? "https" : "http", name, httpd_port(sv->httpd));
	} else {
		*url = xasprintf("%s://%s%s%s:%d", opts->tls_cert ? "https" : "http", v6 ? "[" : "", opts->host,
				 v6 ? "]" : "", httpd_port(sv->httpd));
	}
	*out = sv;
	return 0;
}

void serve_stop(struct server *sv)
{
	if (!sv)
		return;
	atomic_store(&sv->ending, 1);
	if (sv->httpd)
		httpd_quiesce(sv->httpd);
	pthread_mutex_lock(&sv->lock);
	sv->closing = 1;
	pthread_cond_broadcast(&sv->cond);
	pthread_mutex_unlock(&sv->lock);
	if (sv->httpd)
		httpd_drain(sv->httpd, SERVE_DRAIN_MS);
	if (sv->poller_started)
		pthread_join(sv->poller, NULL);
	httpd_stop(sv->httpd);
	for (size_t i = 0; i < EVENT_RING; i++)
		free(sv->ring[i]);
	seen_free(sv->seen, sv->nseen);
	for (size_t i = 0; i < sv->nstale; i++)
		free(sv->stale[i]);
	free(sv->stale);
	for (size_t i = 0; i < sv->nalerts; i++)
		free(sv->alerts[i]);
	free(sv->alerts);
	explicit_bzero(sv->token, sv->token_len);
	free(sv->token);
	pthread_mutex_destroy(&sv->status_lock);
	pthread_mutex_destroy(&sv->lock);
	pthread_cond_destroy(&sv->cond);
	free(sv);
}
