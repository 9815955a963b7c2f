#ifndef BENCHMON_PROM_H
#define BENCHMON_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/http.h"

/*
 * A client for the parts of Prometheus's HTTP API benchmon uses, on top of
 * http.h (so http_global_init must have run). base_url is "http://host:port";
 * auth, which may be NULL, is sent with every request (see lib/auth.h).
 * Functions return 0 or -1 with *cause set (caller frees), and print nothing.
 */

/*
 * 1 when /-/ready answers 200; PROM_STARTING when it answers 503 (Prometheus
 * is there but still loading its TSDB); 0 when Prometheus is not there or
 * answers anything else. Other than 1, *cause says why.
 */
#define PROM_STARTING 2
int prom_ready(const char *base_url, const struct http_auth *auth, long timeout_ms, char **cause);

/* POST /-/reload; a rejection comes back with Prometheus's own message. */
int prom_reload(const char *base_url, const struct http_auth *auth, char **cause);

/* Prometheus's version, from /api/v1/status/buildinfo. Caller frees *version. */
int prom_version(const char *base_url, const struct http_auth *auth, char **version, char **cause);

struct prom_target {
	char *client_id;
	char *kind;
	char *service;        /* or NULL */
	char *address;        /* __address__ */
	char *health;         /* "up", "down" or "unknown" */
	char *last_error;     /* "" when none */
};

/* The active targets of this session, from /api/v1/targets. */
int prom_targets(const char *base_url, const struct http_auth *auth, const char *session,
		 struct prom_target **targets, size_t *n, char **cause);
void prom_targets_free(struct prom_target *targets, size_t n);

/* One alert of the session's rules (render/rules.h), as /api/v1/alerts gives it. */
struct prom_alert {
	char *name;           /* alertname */
	char *severity;       /* "warning", "critical"... or "" */
	char *state;          /* "firing" or "pending" */
	char *client_id, *kind, *service, *instance, *node, *gpu;  /* its series' labels, "" when absent */
	char *summary;        /* its summary annotation, or "" */
	int64_t active_ms;    /* since when its condition holds (activeAt), 0 when unknown */
};

void prom_alerts_free(struct prom_alert *alerts, size_t n);

/*
 * The session's active targets (as prom_targets) and its alerts, pending and
 * firing (those whose series carry the session's label), asked for at once.
 * On failure, targets_cause or alerts_cause says which failed and why; what
 * did arrive is kept. The caller frees the lists and the causes.
 */
struct prom_health {
	struct prom_target *targets;
	size_t ntargets;
	struct prom_alert *alerts;
	size_t nalerts;
	char *targets_cause, *alerts_cause;
};
int prom_health(const char *base_url, const struct http_auth *auth, const char *session, struct prom_health *h);

#endif
