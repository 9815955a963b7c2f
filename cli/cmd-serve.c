#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli/cmd.h"
#include "lib/auth.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"
#include "lib/xmalloc.h"
#include "serve/serve.h"
#include "session/api.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "listen", "ADDR:PORT", "where to listen (default 127.0.0.1 on a free port); 0.0.0.0:PORT for every address" },
	{ "token-file", "FILE", "the bearer token clients must send (default: generated into the session's api.token, 0600)" },
	{ "tls-cert", "FILE", "serve HTTPS with this PEM certificate (with --tls-key)" },
	{ "tls-key", "FILE", "the PEM private key of --tls-cert" },
	{ "json", NULL, "print where it listens as one JSON object once it does" },
	{ NULL, NULL, NULL },
};

/* A token must be long enough to be a secret, and fit a header. */
#define TOKEN_MIN 16
#define TOKEN_MAX 1024

/* Read the token from path: one line of printable ASCII. */
static int read_token(const char *path, char **token)
{
	struct strbuf sb = STRBUF_INIT;
	int ret = -1;

	if (read_file(path, &sb, TOKEN_MAX + 2, 0) < 0)
		goto out;
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
		sb.buf[--sb.len] = '\0';
	if (sb.len < TOKEN_MIN || sb.len > TOKEN_MAX) {
		error("token file '%s' must hold %d to %d characters", path, TOKEN_MIN, TOKEN_MAX);
		goto out;
	}
	for (size_t i = 0; i < sb.len; i++) {
		if (sb.buf[i] <= ' ' || sb.buf[i] > '~') {
			error("token file '%s' holds a space or a control character", path);
			goto out;
		}
	}
	*token = strbuf_detach(&sb, NULL);
	ret = 0;
out:
	explicit_bzero(sb.buf, sb.len);
	strbuf_release(&sb);
	return ret;
}

/* The session's own token, api.token, made on first use. */
static int session_token(const struct session *s, char **token, char **path)
{
	*path = session_path(s, API_TOKEN_FILE);
	if (!path_exists(*path)) {
		char *fresh = NULL;
		int rc = auth_password_new(&fresh);

		if (rc == 0)
			rc = write_file_atomic(*path, fresh, strlen(fresh), 0600);
		if (fresh)
			explicit_bzero(fresh, strlen(fresh));
		free(fresh);
		if (rc < 0)
			return -1;
	}
	return read_token(*path, token);
}

static int read_pem(const char *flag, const char *path, char **pem)
{
	struct strbuf sb = STRBUF_INIT;

	if (read_file(path, &sb, 1 << 20, 0) < 0) {
		strbuf_release(&sb);
		return error("cannot read %s '%s'", flag, path);
	}
	*pem = strbuf_detach(&sb, NULL);
	return 0;
}

/* Wait for SIGTERM or SIGINT, which the caller has blocked. */
static int wait_for_signal(const sigset_t *set)
{
	int sig = 0;

	while (sigwait(set, &sig) != 0)
		;
	return sig;
}

static int exec_serve(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *id = args_session(args), *listen = args_get(args, "listen"), *token_file = args_get(args, "token-file");
	const char *cert = args_get(args, "tls-cert"), *key = args_get(args, "tls-key");
	struct serve_options so = { .host = "127.0.0.1", .port = 0, .poll_ms = 1000 };
	struct hostport hp = { 0 };
	struct session s = { 0 };
	struct session_api running = { 0 };
	struct server *sv = NULL;
	char *cause = NULL, *token = NULL, *token_path = NULL, *url = NULL, *pem_cert = NULL, *pem_key = NULL;
	sigset_t set;
	int ret = CMD_USAGE, sig;

	if (!id)
		return CMD_USAGE;
	if (!cert != !key)
		return cmd_usage_error(e, "--tls-cert and --tls-key go together");
	if (listen) {
		if (hostport_parse("--listen", listen, &hp, &cause) < 0) {
			ret = cmd_usage_error(e, "%s", cause);
			goto out;
		}
		so.host = hp.host;
		so.port = hp.port;
	}
	ret = CMD_FAIL;
	if (session_load(id, &s) < 0)
		goto out;
	if (session_api_load(&s, &running) == 0 && running.alive) {
		error("session '%s' is already served at %s (pid %ld on %s)", s.id, running.url, running.pid, running.host);
		goto out;
	}
	if (token_file ? read_token(token_file, &token) < 0 : session_token(&s, &token, &token_path) < 0)
		goto out;
	if (cert && (read_pem("--tls-cert", cert, &pem_cert) < 0 || read_pem("--tls-key", key, &pem_key) < 0))
		goto out;
	so.token = token;
	so.tls_cert = pem_cert;
	so.tls_key = pem_key;
	/* blocked before any thread starts, so every thread inherits it and sigwait below gets them */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (serve_start(&s, &so, &sv, &url) < 0)
		goto out;
	if (session_api_save(&s, url) < 0)
		goto out;
	progress("serving session '%s' at %s, token in %s", s.id, url, token_file ? token_file : token_path);
	if (args_flag(args, "json")) {
		cJSON *root = cJSON_CreateObject();

		cJSON_AddStringToObject(root, "session", s.id);
		cJSON_AddStringToObject(root, "url", url);
		cJSON_AddNumberToObject(root, "pid", (double)getpid());
		cJSON_AddStringToObject(root, "token_file", token_file ? token_file : token_path);
		cJSON_AddNullToObject(root, "error");
		print_json_object(root);
	}
	fflush(stdout);
	sig = wait_for_signal(&set);
	progress("%s: ending, finishing the requests in flight", strsignal(sig));
	serve_stop(sv);
	sv = NULL;
	session_api_remove(&s);
	progress("the API of session '%s' has ended", s.id);
	ret = CMD_OK;
out:
	if (sv) {
		serve_stop(sv);
		session_api_remove(&s);
	}
	if (token)
		explicit_bzero(token, strlen(token));
	free(token);
	free(token_path);
	free(url);
	free(pem_cert);
	if (pem_key)
		explicit_bzero(pem_key, strlen(pem_key));
	free(pem_key);
	free(cause);
	hostport_release(&hp);
	session_api_release(&running);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_serve_entry = {
	.name = "serve",
	.summary = "serve the session's registry and status over HTTP",
	.usage = "--session ID [--listen ADDR:PORT] [--token-file FILE] [--tls-cert FILE --tls-key FILE] [--json]",
	.description = "Serve an HTTP API for the session: register clients and services (the same checks\n"
		       "as client-connect and service-register), heartbeats, status, targets, and a\n"
		       "Server-Sent Events stream (GET /v1/events) of registrations, target health and\n"
		       "stale clients. Every request needs 'Authorization: Bearer <token>'; the token is\n"
		       "the session's api.token (made on first use, 0600) unless --token-file names one.\n"
		       "Listens on loopback unless told otherwise; 'status' shows where while it runs.\n"
		       "Ends on SIGTERM or 'benchmon stop', finishing the requests in flight. The routes\n"
		       "are in doc/openapi.yaml.",
	.opts = opts,
	.example = "  benchmon serve --session bench01 --listen 127.0.0.1:8700 &\n"
		   "  curl -H \"Authorization: Bearer $(cat ~/.benchmon/sessions/bench01/api.token)\" \\\n"
		   "      -H 'Content-Type: application/json' -d '{\"client_id\":\"c1\",\"node\":\"nodeA\"}' \\\n"
		   "      http://127.0.0.1:8700/v1/clients",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_serve,
};
