#ifndef BENCHMON_API_H
#define BENCHMON_API_H

#include <stdint.h>

#include "session/session.h"

/*
 * Where a session's HTTP API (benchmon serve) listens: api.json in the
 * session directory, written atomically by the server once it listens and
 * removed when it ends. The bearer token is api.token (0600) unless the
 * server was given a file of its own; neither file is ever printed.
 * Functions return 0 or -1 after reporting through error().
 */

#define API_RECORD_FILE "api.json"
#define API_TOKEN_FILE "api.token"

struct session_api {
	char *url;
	long pid;
	char *host;          /* host_tag() of the server's host */
	int64_t started_ms;
	int here;            /* the server runs on this host */
	int alive;           /* it still runs (always 1 for another host's, which cannot be checked) */
};

/* Read api.json: 1 (api zeroed) when there is none. */
int session_api_load(const struct session *s, struct session_api *api);
void session_api_release(struct session_api *api);

/* Record this process as the session's server at url. */
int session_api_save(const struct session *s, const char *url);

/* Remove api.json if it names this process. */
void session_api_remove(const struct session *s);

/*
 * End the session's server: SIGTERM, then wait up to wait_ms for it to
 * finish its requests. One on another host (in Prometheus's job) cannot be
 * signalled: wait for it to remove its record, as it does when the job
 * ends. 0 when none runs or it ended; -1 when it did not end.
 */
int session_api_end(const struct session *s, int64_t wait_ms);

#endif
