#ifndef BENCHMON_REGISTRY_H
#define BENCHMON_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "session/session.h"
#include "session/validate.h"

/*
 * The target registry of a session: what Prometheus scrapes.
 *
 * The registry is the session's targets/ directory, and its files are in
 * Prometheus's file_sd format, so Prometheus reads the registry itself and
 * a registration made during a run is scraped without a restart. Writers
 * that may run at once each write files of their own, atomically, and
 * processes on many nodes register at once without locks (no flock: it is
 * unreliable on Lustre and NFS):
 *
 *   client+<client>.json                   a client, with its node/DCGM exporters
 *   service+<client>+<name>+<stamp>.json   one registration of one service
 *
 * Readers merge all files. '+' cannot occur in ids, so names never collide.
 * Labels starting with "__benchmon_" carry what Prometheus drops after
 * relabelling but benchmon needs back (the endpoint as given, the time).
 *
 * Re-registering a client renames its new file over the old one. A
 * service's registrations instead each get a file named by a stamp,
 * "<19-digit ns time>+<host>+<pid>", which strcmp orders newest last; a
 * --from-file batch writes one such file per service, all with one stamp.
 * After writing its files, a registration lists targets/ and the auth
 * directories (names only) and removes the registrations of its names
 * that are older than its own, or its own when it meets a newer one.
 * Nobody removes the newest registration of a name, so concurrent
 * registrations never lose all of it, and once they have all returned the
 * newest is the only file of that name that Prometheus reads. Because a
 * file's name never gets new content, removing an older one by name can
 * never remove a newer registration. Readers (registry_load) keep the
 * newest registration of each service too, so status agrees with
 * Prometheus even while a registration is under way or after one crashed
 * between writing and removing (the next registration of that name
 * removes what it left). Newest means by the registering node's clock.
 * A batch that fails to write takes back the files it wrote; one killed
 * while writing may leave some of its services registered. Files named
 * "service+<client>+<name>.json" or "batch+...", written before stamps,
 * are read as older than any stamped registration.
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
	char *node_address;    /* the node's address (Slurm's NodeAddr where its name does not resolve), or NULL */
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
	char *node_address;    /* the node's address its client recorded, or NULL */
	char *url;             /* the full scrape URL */
	int64_t registered_ms;
	char *stamp;           /* a service registration's stamp (above), or "" */
	char *token_file;      /* the bearer token file it is scraped with, or NULL */
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
 * entry, *cause explains, and nothing is written. Each service gets a
 * file of its own (above), in targets/, or, for a single service with a
 * token_file, in that token's auth directory.
 * When Prometheus may run elsewhere (session_prometheus_is_remote), an
 * endpoint on loopback is registered under its client's node instead (the
 * node's address when the client recorded one), and *rewritten counts those.
 */
int registry_put_services(const struct session *s, const struct service *svcs, size_t n,
			  size_t *rewritten, size_t *bad_index, char **cause);

/*
 * The checks of a client or service as given, before the session is read,
 * so that bad input is refused having changed nothing. On failure *cause
 * (caller frees) is the message the CLI prints and *field names the input
 * (JSON name: "client_id", "node", "endpoint", ...).
 * registry_check_client normalises the exporter addresses in *c, into
 * strings *owned holds (release with hostport_release on both).
 */
int registry_check_client(struct client *c, struct hostport owned[2], char **cause, const char **field);
int registry_check_service(const struct service *svc, char **cause, const char **field);
/* A bearer token file: an absolute, plain path of a readable file (Prometheus reads it by path). */
int registry_check_token_file(const char *path, char **cause);

/*
 * Exporters on loopback answer only on their own node; when Prometheus may
 * run elsewhere they are registered under the client's node instead
 * (owned[] as from registry_check_client). Returns how many were moved.
 */
int registry_client_off_loopback(const struct session *s, struct client *c, struct hostport owned[2]);

/*
 * Remove a client (its exporters and every registration of its services),
 * or one service of a client. 0 when removed, 1 when there was nothing of
 * that name, -1 on failure.
 */
int registry_remove_client(const struct session *s, const char *client_id);
int registry_remove_service(const struct session *s, const char *client_id, const char *name);

/*
 * Heartbeats: heartbeats/<client>.json holds when a client last reported,
 * how long it may stay silent (timeout_s; 0: never stale), and the
 * stretches it was stale in before (the last HEARTBEAT_SPANS_MAX, each
 * closed by the heartbeat that ended it). A heartbeat without a timeout
 * keeps the one set before.
 */
#define HEARTBEAT_SPANS_MAX 64
struct heartbeat {
	char *client_id;
	int64_t at_ms;
	int64_t timeout_s;
	int64_t (*spans)[2];   /* [from, to] in ms, oldest first */
	size_t nspans;
};
int registry_heartbeat(const struct session *s, const char *client_id, int64_t timeout_s);
/* Every client's heartbeat; free with heartbeats_free. */
int registry_heartbeats(const struct session *s, struct heartbeat **hb, size_t *n);
void heartbeats_free(struct heartbeat *hb, size_t n);
/* Has hb's client been silent for longer than its timeout at now_ms? */
int heartbeat_is_stale(const struct heartbeat *hb, int64_t now);
/* When the current stale stretch began (the last heartbeat plus the timeout); meaningful when stale. */
int64_t heartbeat_stale_since(const struct heartbeat *hb);

/*
 * The answers of a registration, as client-connect --json and
 * service-register --json print them and benchmon serve returns them
 * ("error": null). Caller frees with cJSON_Delete.
 */
struct cJSON *registry_client_json(const struct session *s, const struct client *c);
struct cJSON *registry_services_json(const struct session *s, const struct service *svcs, size_t n, size_t rewritten);

/* Read and merge the whole registry. Release with target_list_release. */
int registry_load(const struct session *s, struct target_list *list);
void target_list_release(struct target_list *list);

#endif
