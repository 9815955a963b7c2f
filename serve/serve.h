#ifndef BENCHMON_SERVE_H
#define BENCHMON_SERVE_H

#include <stddef.h>

#include "session/session.h"

/*
 * benchmon serve: a session's registry and status over HTTP (lib/httpd.h),
 * through the same registry and validation code as the command line.
 *
 *   POST   /v1/clients                                client-connect
 *   DELETE /v1/clients/{client_id}                    the client and its services
 *   PUT    /v1/clients/{client_id}/heartbeat          {"timeout_s": N}?
 *   POST   /v1/services                               service-register, one or many
 *   DELETE /v1/clients/{client_id}/services/{name}
 *   GET    /v1/status                                 what 'status --json' prints
 *   GET    /v1/targets                                the registry
 *   GET    /v1/events                                 Server-Sent Events
 *
 * Every request needs "Authorization: Bearer <token>" (compared in
 * constant time; the token is never logged or echoed). Errors are
 * {"error": ..., "field": ...} with 400, 401, 404, 405 (with Allow), 409
 * (the server is ending), 413 (a body over SERVE_BODY_MAX), 415 or 500. A
 * registration is answered only after its files are written (fsync and
 * rename), so an acknowledged one survives a kill -9 of the server.
 *
 * The event stream carries "registered" and "removed" (the registry, from
 * any writer), "health" (a target's health in Prometheus changed), and
 * "stale" and "fresh" (a client's heartbeat), polled every poll_ms.
 */

#define SERVE_BODY_MAX (64u << 10)
/* How long an ending server waits for the requests in flight. */
#define SERVE_DRAIN_MS 10000

struct serve_options {
	const char *host;         /* address to bind */
	int port;                 /* 0: any free port */
	const char *token;        /* the bearer token */
	const char *tls_cert;     /* PEM text, or NULL */
	const char *tls_key;
	int poll_ms;
};

struct server;

/* Listen and serve on threads of its own; *url is where (caller frees). -1 after error(). */
int serve_start(const struct session *s, const struct serve_options *opts, struct server **out, char **url);

/*
 * End: refuse new requests with 409, stop accepting connections, end the
 * event streams, finish the requests in flight, and free sv.
 */
void serve_stop(struct server *sv);

#endif
