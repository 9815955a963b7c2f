#ifndef BENCHMON_HTTPD_H
#define BENCHMON_HTTPD_H

#include <stddef.h>
#include <sys/types.h>

/*
 * An HTTP server through libmicrohttpd: the one file that calls it. The
 * library is loaded with dlopen by httpd_start, so that only the server
 * pays for it (and for GnuTLS beneath it).
 *
 * A thread per connection: a handler may block (an event stream waits for
 * events), and idle connections cost a thread each, not the others' time.
 * Each request's body is read whole, up to body_max bytes, before the
 * handler sees it; a longer one is answered 413 at once and its
 * connection closed. A connection silent for timeout_s is closed. A 401
 * gets "WWW-Authenticate: Bearer".
 */

struct httpd;

struct httpd_request {
	const char *method;
	const char *path;           /* percent-decoded by libmicrohttpd */
	const char *content_type;   /* or NULL */
	const char *authorization;  /* or NULL */
	const char *body;           /* NUL-terminated copy, body_len bytes (it may hold NULs) */
	size_t body_len;
};

/*
 * Fills up to max bytes of a streamed reply into buf and returns how many
 * (0 is not allowed), or -1 to end the stream. It may block.
 */
typedef ssize_t (*httpd_stream_fn)(void *ctx, char *buf, size_t max);

struct httpd_reply {
	int status;
	char *body;                 /* owned: freed by httpd */
	const char *content_type;   /* static text */
	const char *allow;          /* an Allow header (405), or NULL */
	httpd_stream_fn stream;     /* when set, the body is streamed instead */
	void *stream_ctx;
	void (*stream_free)(void *ctx);  /* called once the stream is done */
};

typedef void (*httpd_handler_fn)(const struct httpd_request *req, struct httpd_reply *reply, void *ctx);

struct httpd_options {
	const char *host;           /* a name or numeric address to bind */
	int port;                   /* 0: any free port */
	size_t body_max;
	unsigned connection_limit;
	unsigned timeout_s;
	const char *tls_cert;       /* PEM text, or NULL for plain HTTP */
	const char *tls_key;
};

/* Bind and start serving; handler runs on the server's threads. -1 after error(). */
int httpd_start(const struct httpd_options *opts, httpd_handler_fn handler, void *ctx, struct httpd **out);

/* The port it listens on. */
int httpd_port(const struct httpd *d);

/* Stop accepting connections; those open are served on. */
void httpd_quiesce(struct httpd *d);

/*
 * Wait, up to timeout_ms, until no request is in flight (received in part
 * or being answered); connections idle between requests do not count.
 */
void httpd_drain(struct httpd *d, long timeout_ms);

/* Close everything, waiting for the handlers in flight, and free d. */
void httpd_stop(struct httpd *d);

#endif
