#ifndef BENCHMON_REGISTRY_H
#define BENCHMON_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"

/*
 * The target registry of a session: what Prometheus scrapes.
 *
 * The registry is the session's targets/ directory, and its files are in
 * Prometheus's file_sd format, so Prometheus reads the registry itself and
 * a registration made during a run is scraped without a restart. Each
 * registration writes exactly one file, atomically, and never reads or
 * rewrites the others, so its cost does not grow with the registry and
 * processes on many nodes can register at once without locks (no flock:
 * it is unreliable on Lustre and NFS):
 *
 *   client+<client>.json             a client, with its node/DCGM exporters
 *   service+<client>+<name>.json     one service endpoint
 *   batch+<ms>+<pid>+<n>.json        services registered together (--from-file)
 *
 * Readers merge all files. '+' cannot occur in ids, so names never collide.
 * Labels starting with "__benchmon_" carry what Prometheus drops after
 * relabelling but benchmon needs back (the endpoint as given, the time).
 * Re-registering a client or service replaces it; when a service appears in
 * several files, the newest registration wins.
 *
 * Callers validate ids and nodes (validate.h) before calling.
 */

enum target_kind {
	TARGET_NODE,     /* node_exporter of a client */
	TARGET_DCGM,     /* dcgm-exporter of a client */
	TARGET_SERVICE,  /* a service's /metrics endpoint */
};

struct client {
	char *client_id;
	char *node;
	char *node_exporter;   /* "host:port" or NULL */
	char *dcgm_exporter;   /* "host:port" or NULL */
};

struct service {
	char *client_id;
	char *name;
	char *endpoint;        /* http(s) URL */
	char *token_file;      /* absolute path of a bearer token file, or NULL; only the path is stored */
};

/*
 * Services scraped with a bearer token live in targets/auth/<key>/, one
 * directory per token file (key: a hash of its path), which also holds
 * "token-file", the path itself. prometheus.yml gets one scrape job per
 * directory, reading the token from that path: the token is never copied.
 */
struct auth_dir {
	char *dir;
	char *token_file;
};

/* The auth directories of session s. Free with auth_dirs_free. */
int registry_auth_dirs(const struct session *s, struct auth_dir **dirs, size_t *n);
void auth_dirs_free(struct auth_dir *dirs, size_t n);

/* Does an auth directory for token_file exist yet (then Prometheus already has a job for it)? */
int registry_has_auth(const struct session *s, const char *token_file);

struct target {
	enum target_kind kind;
	char *client_id;
	char *node;
	char *name;            /* service name; NULL for exporters */
	char *address;         /* host:port, as Prometheus's __address__ */
	char *url;             /* the full scrape URL */
	int64_t registered_ms;
};

struct target_list {
	struct target *items;
	size_t n;
	size_t nclients;       /* clients registered, with or without exporters */
};

const char *target_kind_name(enum target_kind kind);

/* Register (or replace) a client and its exporters. */
int registry_put_client(const struct session *s, const struct client *c);

/*
 * Register services. Every client named must already be connected, and
 * every endpoint must parse: otherwise *bad_index is set to the offending
 * entry, *cause explains, and nothing is written. n == 1 writes a
 * per-service file; more write one batch file, so the call is all or nothing.
 * When Prometheus may run elsewhere (session_prometheus_is_remote), an
 * endpoint on loopback is registered under its client's node instead, and
 * *rewritten counts those.
 */
int registry_put_services(const struct session *s, const struct service *svcs, size_t n,
			  size_t *rewritten, size_t *bad_index, char **cause);

/* Read and merge the whole registry. Release with target_list_release. */
int registry_load(const struct session *s, struct target_list *list);
void target_list_release(struct target_list *list);

#endif
