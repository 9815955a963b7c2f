#include "lib/httpd.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "lib/error.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

/* The libmicrohttpd functions we use, resolved at run time; the types come from microhttpd.h. */
static struct {
	void *handle;
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
	__typeof__(&MHD_quiesce_daemon) quiesce_daemon;
	__typeof__(&MHD_get_daemon_info) get_daemon_info;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_create_response_from_callback) create_response_from_callback;
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_destroy_response) destroy_response;
} mhd;

#define RESOLVE(field, symbol)                                          \
	do {                                                            \
		*(void **)&mhd.field = dlsym(mhd.handle, #symbol);     \
		if (!mhd.field)                                         \
			goto missing;                                   \
	} while (0)

static int load_library(void)
{
	if (mhd.handle)
		return 0;
	mhd.handle = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
	if (!mhd.handle)
		return error("cannot load libmicrohttpd: %s (install libmicrohttpd12)", dlerror());
	RESOLVE(start_daemon, MHD_start_daemon);
	RESOLVE(stop_daemon, MHD_stop_daemon);
	RESOLVE(quiesce_daemon, MHD_quiesce_daemon);
	RESOLVE(get_daemon_info, MHD_get_daemon_info);
	RESOLVE(lookup_connection_value, MHD_lookup_connection_value);
	RESOLVE(create_response_from_buffer, MHD_create_response_from_buffer);
	RESOLVE(create_response_from_callback, MHD_create_response_from_callback);
	RESOLVE(add_response_header, MHD_add_response_header);
	RESOLVE(queue_response, MHD_queue_response);
	RESOLVE(destroy_response, MHD_destroy_response);
	return 0;
missing:
	error("libmicrohttpd lacks a function benchmon needs: %s", dlerror());
	dlclose(mhd.handle);
	mhd.handle = NULL;
	return -1;
}

struct httpd {
	struct MHD_Daemon *daemon;
	httpd_handler_fn handler;
	void *ctx;
	size_t body_max;
	int port;
	atomic_int in_flight;
};

/* What one request has received so far. */
struct request_state {
	struct strbuf body;
	int answered;       /* a reply went out before the body ended (413) */
	size_t discarded;   /* bytes past body_max, read only to answer 413 */
};

/* Past body_max, a body is read on (and dropped) up to this much more, to answer 413; then cut. */
#define DISCARD_MAX (1u << 20)

struct stream {
	httpd_stream_fn fn;
	void *ctx;
	void (*free_fn)(void *ctx);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	ssize_t n;

	(void)pos;
	n = st->fn(st->ctx, buf, max);
	return n > 0 ? n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_done(void *cls)
{
	struct stream *st = cls;

	if (st->free_fn)
		st->free_fn(st->ctx);
	free(st);
}

/* Send reply, freeing what it owns. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, struct httpd_reply *reply)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (reply->stream) {
		struct stream *st = xcalloc(1, sizeof(*st));

		st->fn = reply->stream;
		st->ctx = reply->stream_ctx;
		st->free_fn = reply->stream_free;
		resp = mhd.create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st, stream_done);
		if (!resp)
			stream_done(st);
	} else {
		const char *body = reply->body ? reply->body : "";

		resp = mhd.create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	}
	free(reply->body);
	reply->body = NULL;
	if (!resp)
		return MHD_NO;
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				reply->content_type ? reply->content_type : "application/json");
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (reply->status == 401)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (reply->allow)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);
	ret = mhd.queue_response(conn, (unsigned)reply->status, resp);
	mhd.destroy_response(resp);
	return ret;
}

/*
 * Percent-decode a path in place, leaving "%00" as it is: a NUL would
 * silently cut an id short ("c1%00x" read as "c1"), while '%' is refused
 * by every id check.
 */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *out = s;

	(void)cls;
	(void)conn;
	for (const char *in = s; *in; ) {
		int hi = in[0] == '%' ? hex_digit_value(in[1]) : -1;
		int lo = hi >= 0 ? hex_digit_value(in[2]) : -1;

		if (lo >= 0 && (hi || lo)) {
			*out++ = (char)(hi * 16 + lo);
			in += 3;
		} else {
			*out++ = *in++;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

static enum MHD_Result too_large(struct MHD_Connection *conn, size_t max)
{
	struct httpd_reply reply = { .status = 413 };

	reply.body = xasprintf("{\"error\": \"request body larger than %zu bytes\", \"field\": null}\n", max);
	return send_reply(conn, &reply);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct httpd *d = cls;
	struct request_state *rs = *con_cls;
	struct httpd_request req = { 0 };
	struct httpd_reply reply = { 0 };

	(void)version;
	if (!rs) {
		const char *length = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		rs = xcalloc(1, sizeof(*rs));
		strbuf_init(&rs->body, d->body_max);
		*con_cls = rs;
		atomic_fetch_add(&d->in_flight, 1);
		/* refuse a declared oversized body before reading any of it */
		if (length && strtoull(length, NULL, 10) > d->body_max) {
			rs->answered = 1;
			return too_large(conn, d->body_max);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (rs->discarded || strbuf_add(&rs->body, upload_data, *upload_data_size) < 0)
			rs->discarded += *upload_data_size;
		*upload_data_size = 0;
		/* a body without a length that goes on and on: close the connection */
		return rs->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	if (rs->answered)
		return MHD_YES;
	if (rs->discarded) {
		rs->answered = 1;
		return too_large(conn, d->body_max);
	}
	req.method = method;
	req.path = url;
	req.content_type = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	req.authorization = mhd.lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	req.body = rs->body.buf;
	req.body_len = rs->body.len;
	d->handler(&req, &reply, d->ctx);
	rs->answered = 1;
	return send_reply(conn, &reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct httpd *d = cls;
	struct request_state *rs = *con_cls;

	(void)conn;
	(void)toe;
	if (!rs)
		return;
	atomic_fetch_sub(&d->in_flight, 1);
	strbuf_release(&rs->body);
	free(rs);
	*con_cls = NULL;
}

int httpd_start(const struct httpd_options *opts, httpd_handler_fn handler, void *ctx, struct httpd **out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct httpd *d = NULL;
	const union MHD_DaemonInfo *info;
	char port[16];
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
			 MHD_USE_ITC;
	int rc, ret = -1;

	if (load_library() < 0)
		return -1;
	snprintf(port, sizeof(port), "%d", opts->port);
	rc = getaddrinfo(opts->host, port, &hints, &ai);
	if (rc) {
		error("cannot resolve '%s': %s", opts->host, gai_strerror(rc));
		goto out;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (opts->tls_cert)
		flags |= MHD_USE_TLS;
	d = xcalloc(1, sizeof(*d));
	d->handler = handler;
	d->ctx = ctx;
	d->body_max = opts->body_max;
	if (opts->tls_cert)
		d->daemon = mhd.start_daemon(flags, 0, NULL, NULL, on_request, d,
					     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					     MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
					     MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
					     MHD_OPTION_CONNECTION_LIMIT, opts->connection_limit,
					     MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_s,
					     MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 << 10),
					     MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u,
					     MHD_OPTION_HTTPS_MEM_CERT, opts->tls_cert,
					     MHD_OPTION_HTTPS_MEM_KEY, opts->tls_key,
					     MHD_OPTION_END);
	else
		d->daemon = mhd.start_daemon(flags, 0, NULL, NULL, on_request, d,
					     MHD_OPTION_SOCK_ADDR, ai->ai_addr,
					     MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
					     MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
					     MHD_OPTION_CONNECTION_LIMIT, opts->connection_limit,
					     MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_s,
					     MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 << 10),
					     MHD_OPTION_LISTEN_BACKLOG_SIZE, 512u,
					     MHD_OPTION_END);
	if (!d->daemon) {
		error("cannot listen on %s:%d (in use, or not an address of this host)", opts->host, opts->port);
		goto out;
	}
	info = mhd.get_daemon_info(d->daemon, MHD_DAEMON_INFO_BIND_PORT);
	d->port = info ? info->port : opts->port;
	*out = d;
	d = NULL;
	ret = 0;
out:
	free(d);
	if (ai)
		freeaddrinfo(ai);
	return ret;
}

int httpd_port(const struct httpd *d)
{
	return d->port;
}

void httpd_quiesce(struct httpd *d)
{
	int fd = mhd.quiesce_daemon(d->daemon);

	if (fd >= 0)
		close(fd);
}

void httpd_drain(struct httpd *d, long timeout_ms)
{
	for (long waited = 0; atomic_load(&d->in_flight) > 0 && waited < timeout_ms; waited += 20)
		sleep_ms(20);
}

void httpd_stop(struct httpd *d)
{
	if (!d)
		return;
	mhd.stop_daemon(d->daemon);
	free(d);
}
