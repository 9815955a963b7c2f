#ifndef BENCHMON_HTTP_H
#define BENCHMON_HTTP_H

#include <stddef.h>

#include "lib/strbuf.h"

/*
 * HTTP through libcurl: the one file that calls it.
 *
 * libcurl is loaded with dlopen by http_global_init, which main calls only
 * for commands that speak HTTP: linking it costs every process start about
 * 7 ms, several times a registration's whole run.
 */

#define HTTP_BODY_MAX (256u << 20)

/* Load libcurl and run curl_global_init. Reports and returns -1 on failure. */
int http_global_init(void);
void http_global_cleanup(void);

/* Receives a response's body as it arrives, instead of http_response.body. */
typedef void (*http_sink_fn)(const char *data, size_t len, void *ctx);

struct http_response {
	long status;             /* HTTP status, 0 when no response came */
	struct strbuf body;      /* at most HTTP_BODY_MAX bytes; stays empty when sink is set */
	size_t received;         /* body bytes received */
	char content_type[128];  /* the Content-Type header, "" when none came */
	http_sink_fn sink;       /* when set, given each piece of the body as it comes */
	void *sink_ctx;
};

void http_response_init(struct http_response *resp);
void http_response_release(struct http_response *resp);

/*
 * Basic auth credentials, sent with CURLOPT_USERNAME/CURLOPT_PASSWORD, never
 * in the URL (so they appear in no message that quotes one). A NULL
 * http_auth, or one with a NULL user, sends none. A bearer token, when set,
 * is sent instead as "Authorization: Bearer <token>" (a service registered
 * with --bearer-token-file). Owned strings.
 */
struct http_auth {
	char *user;
	char *password;
	char *bearer;
};

/* Free the strings (wiping the password) and leave no credentials. */
void http_auth_release(struct http_auth *auth);

/*
 * Send a request (method "GET" or "POST"; body may be NULL) and wait at most
 * timeout_ms. Returns 0 when a response arrived, whatever its status, and
 * -1 with *cause set (caller frees) when none did: connection refused,
 * timeout, name resolution, body too large.
 */
int http_request(const char *method, const char *url, const struct http_auth *auth, const char *body,
		 long timeout_ms, struct http_response *resp, char **cause);

/*
 * Send many GET requests at once, all with auth, and wait for all (libcurl multi).
 * resps[i] and causes[i] are filled as by http_request. When done is not
 * NULL it is called once for each request as soon as that one completes, so
 * its body can be consumed (and released) while the others still arrive; a
 * request that never started or never completed gets it too, with a cause.
 * Returns the number that got no response.
 */
typedef void (*http_done_fn)(size_t index, struct http_response *resp, const char *cause, void *ctx);
size_t http_get_many(const char *const *urls, size_t n, const struct http_auth *auth, long timeout_ms,
		     struct http_response *resps, char **causes, http_done_fn done, void *ctx);

/* The same with credentials of its own for each request: auths[i] (may be NULL) for urls[i]. */
size_t http_get_each(const char *const *urls, const struct http_auth *const *auths, size_t n, long timeout_ms,
		     struct http_response *resps, char **causes, http_done_fn done, void *ctx);

/*
 * One request of http_send_each: a GET when body is NULL, else a POST of
 * body_len bytes (binary is fine; it must outlive the call). headers are
 * "Name: value" lines, NULL-terminated, or NULL for none.
 */
struct http_request_spec {
	const char *url;
	const struct http_auth *auth;
	const char *body;
	size_t body_len;
	const char *const *headers;
};

/* The same for requests of any kind at once. */
size_t http_send_each(const struct http_request_spec *reqs, size_t n, long timeout_ms, struct http_response *resps,
		      char **causes, http_done_fn done, void *ctx);

#endif
