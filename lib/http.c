#include "lib/http.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "lib/error.h"
#include "lib/xmalloc.h"

/* The libcurl functions we use, resolved at run time; the types come from curl.h. */
static struct {
	void *handle;
	__typeof__(&curl_global_init) global_init;
	__typeof__(&curl_global_cleanup) global_cleanup;
	__typeof__(&curl_easy_init) easy_init;
	__typeof__(&curl_easy_setopt) easy_setopt;
	__typeof__(&curl_easy_perform) easy_perform;
	__typeof__(&curl_easy_getinfo) easy_getinfo;
	__typeof__(&curl_easy_cleanup) easy_cleanup;
	__typeof__(&curl_easy_strerror) easy_strerror;
	__typeof__(&curl_multi_init) multi_init;
	__typeof__(&curl_multi_add_handle) multi_add_handle;
	__typeof__(&curl_multi_remove_handle) multi_remove_handle;
	__typeof__(&curl_multi_perform) multi_perform;
	__typeof__(&curl_multi_poll) multi_poll;
	__typeof__(&curl_multi_info_read) multi_info_read;
	__typeof__(&curl_multi_cleanup) multi_cleanup;
	__typeof__(&curl_multi_strerror) multi_strerror;
	__typeof__(&curl_slist_append) slist_append;
	__typeof__(&curl_slist_free_all) slist_free_all;
} curl;

#define RESOLVE(field, symbol)                                                  \
	do {                                                                    \
		*(void **)&curl.field = dlsym(curl.handle, #symbol);           \
		if (!curl.field)                                                \
			goto missing;                                           \
	} while (0)

int http_global_init(void)
{
	if (curl.handle)
		return 0;
	curl.handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (!curl.handle)
		return error("cannot load libcurl: %s (install libcurl4)", dlerror());
	RESOLVE(global_init, curl_global_init);
	RESOLVE(global_cleanup, curl_global_cleanup);
	RESOLVE(easy_init, curl_easy_init);
	RESOLVE(easy_setopt, curl_easy_setopt);
	RESOLVE(easy_perform, curl_easy_perform);
	RESOLVE(easy_getinfo, curl_easy_getinfo);
	RESOLVE(easy_cleanup, curl_easy_cleanup);
	RESOLVE(easy_strerror, curl_easy_strerror);
	RESOLVE(multi_init, curl_multi_init);
	RESOLVE(multi_add_handle, curl_multi_add_handle);
	RESOLVE(multi_remove_handle, curl_multi_remove_handle);
	RESOLVE(multi_perform, curl_multi_perform);
	RESOLVE(multi_poll, curl_multi_poll);
	RESOLVE(multi_info_read, curl_multi_info_read);
	RESOLVE(multi_cleanup, curl_multi_cleanup);
	RESOLVE(multi_strerror, curl_multi_strerror);
	RESOLVE(slist_append, curl_slist_append);
	RESOLVE(slist_free_all, curl_slist_free_all);
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlclose(curl.handle);
		curl.handle = NULL;
		return error("cannot initialise libcurl");
	}
	return 0;
missing:
	error("libcurl lacks a function benchmon needs: %s", dlerror());
	dlclose(curl.handle);
	curl.handle = NULL;
	return -1;
}

void http_global_cleanup(void)
{
	if (!curl.handle)
		return;
	curl.global_cleanup();
	/* the library stays mapped: unloading TLS libraries at exit is known to crash */
}

void http_response_init(struct http_response *resp)
{
	resp->status = 0;
	resp->received = 0;
	resp->sink = NULL;
	resp->sink_ctx = NULL;
	resp->content_type[0] = '\0';
	strbuf_init(&resp->body, HTTP_BODY_MAX);
}

void http_response_release(struct http_response *resp)
{
	strbuf_release(&resp->body);
	resp->status = 0;
}

void http_auth_release(struct http_auth *auth)
{
	if (auth->password)
		explicit_bzero(auth->password, strlen(auth->password));
	if (auth->bearer)
		explicit_bzero(auth->bearer, strlen(auth->bearer));
	free(auth->password);
	free(auth->user);
	free(auth->bearer);
	auth->user = NULL;
	auth->password = NULL;
	auth->bearer = NULL;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
	struct http_response *resp = ctx;
	size_t len = size * nmemb;

	/* returning less than len makes libcurl fail with CURLE_WRITE_ERROR */
	if (len > HTTP_BODY_MAX - resp->received) {
		resp->received = (size_t)HTTP_BODY_MAX + 1; /* for describe_failure */
		return 0;
	}
	resp->received += len;
	if (resp->sink)
		resp->sink(data, len, resp->sink_ctx);
	else if (strbuf_add(&resp->body, data, len) < 0)
		return 0;
	return len;
}

static CURL *make_handle(const char *method, const char *url, const struct http_auth *auth, const char *body,
			 long timeout_ms, struct http_response *resp, char *errbuf)
{
	CURL *h = curl.easy_init();

	if (!h)
		return NULL;
	curl.easy_setopt(h, CURLOPT_URL, url);
	curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
	curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl.easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl.easy_setopt(h, CURLOPT_USERAGENT, "benchmon");
	/* no gzip: on loopback or a cluster network, compressing 100 MB of JSON costs Prometheus seconds */
	/* Prometheus is reached directly; a site proxy would only get in the way */
	curl.easy_setopt(h, CURLOPT_NOPROXY, "*");
	if (auth && auth->bearer) {
		curl.easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl.easy_setopt(h, CURLOPT_XOAUTH2_BEARER, auth->bearer);
	} else if (auth && auth->user) {
		curl.easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl.easy_setopt(h, CURLOPT_USERNAME, auth->user);
		curl.easy_setopt(h, CURLOPT_PASSWORD, auth->password ? auth->password : "");
	}
	if (!strcmp(method, "POST")) {
		curl.easy_setopt(h, CURLOPT_POST, 1L);
		curl.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	}
	return h;
}

static char *describe_failure(CURLcode rc, const char *errbuf, const char *url, const struct http_response *resp)
{
	if (rc == CURLE_WRITE_ERROR && resp->received > HTTP_BODY_MAX)
		return xasprintf("response from %s is larger than %u bytes", url, HTTP_BODY_MAX);
	return xasprintf("%s: %s", url, errbuf[0] ? errbuf : curl.easy_strerror(rc));
}

int http_request(const char *method, const char *url, const struct http_auth *auth, const char *body,
		 long timeout_ms, struct http_response *resp, char **cause)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode rc;

	strbuf_reset(&resp->body);
	resp->status = 0;
	resp->received = 0;
	h = make_handle(method, url, auth, body, timeout_ms, resp, errbuf);
	if (!h) {
		*cause = xstrdup("cannot create an HTTP handle");
		return -1;
	}
	rc = curl.easy_perform(h);
	if (rc != CURLE_OK) {
		*cause = describe_failure(rc, errbuf, url, resp);
		curl.easy_cleanup(h);
		return -1;
	}
	curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl.easy_cleanup(h);
	return 0;
}

/* Record how transfer i ended, and hand it to done. */
static void finish_transfer(CURL *h, CURLcode result, size_t i, const char *url, const char *errbuf,
			    struct http_response *resp, char **cause, http_done_fn done, void *ctx)
{
	char *type = NULL;

	if (result != CURLE_OK) {
		*cause = describe_failure(result, errbuf, url, resp);
	} else {
		curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type)
			snprintf(resp->content_type, sizeof(resp->content_type), "%s", type);
	}
	if (!*cause && !resp->status)
		*cause = xasprintf("%s: no response", url);
	if (done)
		done(i, resp, *cause, ctx);
}

size_t http_get_many(const char *const *urls, size_t n, const struct http_auth *auth, long timeout_ms,
		     struct http_response *resps, char **causes, http_done_fn done, void *ctx)
{
	const struct http_auth **auths = xcalloc(n + 1, sizeof(*auths));
	size_t failed;

	for (size_t i = 0; i < n; i++)
		auths[i] = auth;
	failed = http_get_each(urls, auths, n, timeout_ms, resps, causes, done, ctx);
	free(auths);
	return failed;
}

size_t http_get_each(const char *const *urls, const struct http_auth *const *auths, size_t n, long timeout_ms,
		     struct http_response *resps, char **causes, http_done_fn done, void *ctx)
{
	struct http_request_spec *reqs = xcalloc(n + 1, sizeof(*reqs));
	size_t failed;

	for (size_t i = 0; i < n; i++) {
		reqs[i].url = urls[i];
		reqs[i].auth = auths[i];
	}
	failed = http_send_each(reqs, n, timeout_ms, resps, causes, done, ctx);
	free(reqs);
	return failed;
}

size_t http_send_each(const struct http_request_spec *reqs, size_t n, long timeout_ms, struct http_response *resps,
		      char **causes, http_done_fn done, void *ctx)
{
	CURLM *multi = curl.multi_init();
	CURL **handles = xcalloc(n + 1, sizeof(*handles));
	struct curl_slist **headers = xcalloc(n + 1, sizeof(*headers));
	char (*errbufs)[CURL_ERROR_SIZE] = xcalloc(n + 1, CURL_ERROR_SIZE);
	unsigned char *reported = xcalloc(n + 1, 1);
	size_t failed = 0, finished = 0;
	CURLMcode mrc;
	int running = 0;

	for (size_t i = 0; i < n; i++) {
		causes[i] = NULL;
		strbuf_reset(&resps[i].body);
		resps[i].status = 0;
		resps[i].received = 0;
		resps[i].content_type[0] = '\0';
		handles[i] = make_handle(reqs[i].body ? "POST" : "GET", reqs[i].url, reqs[i].auth, NULL, timeout_ms,
					 &resps[i], errbufs[i]);
		if (handles[i] && reqs[i].body) {
			/* a binary body: its length, not strlen; libcurl reads it in place */
			curl.easy_setopt(handles[i], CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)reqs[i].body_len);
			curl.easy_setopt(handles[i], CURLOPT_POSTFIELDS, reqs[i].body);
		}
		for (size_t h = 0; handles[i] && reqs[i].headers && reqs[i].headers[h]; h++) {
			struct curl_slist *more = curl.slist_append(headers[i], reqs[i].headers[h]);

			if (!more) {
				curl.easy_cleanup(handles[i]);
				handles[i] = NULL;
				break;
			}
			headers[i] = more;
		}
		if (handles[i] && headers[i])
			curl.easy_setopt(handles[i], CURLOPT_HTTPHEADER, headers[i]);
		mrc = handles[i] ? curl.multi_add_handle(multi, handles[i]) : CURLM_OUT_OF_MEMORY;
		if (mrc != CURLM_OK) {
			causes[i] = xasprintf("%s: cannot start the transfer: %s", reqs[i].url, curl.multi_strerror(mrc));
			continue;
		}
		/* fewer, larger pieces: each costs a call into the caller's parser */
		curl.easy_setopt(handles[i], CURLOPT_BUFFERSIZE, 256L * 1024);
	}
	while (finished < n) {
		CURLMsg *msg;
		int left;

		curl.multi_perform(multi, &running);
		while ((msg = curl.multi_info_read(multi, &left))) {
			size_t i;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (i = 0; i < n && handles[i] != msg->easy_handle; i++)
				;
			if (i == n || reported[i])
				continue;
			finish_transfer(handles[i], msg->data.result, i, reqs[i].url, errbufs[i], &resps[i], &causes[i],
					done, ctx);
			reported[i] = 1;
			finished++;
		}
		if (running)
			curl.multi_poll(multi, NULL, 0, 1000, NULL);
		else if (finished < n)
			break; /* libcurl lost track of a transfer: report it below rather than spin */
	}
	for (size_t i = 0; i < n; i++) {
		/* the caller learns of a failure only through done: a transfer it never hears of would read as no data */
		if (!reported[i]) {
			if (!causes[i])
				causes[i] = xasprintf("%s: the transfer ended without a response%s%s", reqs[i].url,
						      errbufs[i][0] ? ": " : "", errbufs[i]);
			if (done)
				done(i, &resps[i], causes[i], ctx);
		}
		if (causes[i])
			failed++;
		if (handles[i]) {
			curl.multi_remove_handle(multi, handles[i]);
			curl.easy_cleanup(handles[i]);
		}
		if (headers[i])
			curl.slist_free_all(headers[i]);
	}
	curl.multi_cleanup(multi);
	free(reported);
	free(handles);
	free(headers);
	free(errbufs);
	return failed;
}
