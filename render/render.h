#ifndef BENCHMON_RENDER_H
#define BENCHMON_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

/*
 * Rendering of the files Prometheus and the launcher read, from the
 * templates in templates/ (found in $BENCHMON_DATADIR/templates, next to
 * the benchmon binary, or in the installed share directory).
 *
 * A template holds @NAME@ placeholders. Values are escaped for the place
 * they land in (YAML double-quoted scalars, shell single quotes); ids and
 * nodes are validated long before, so escaping is the second fence, not the
 * first. An unknown placeholder is an error, so a typo cannot ship.
 * The target registry is already in file_sd format (registry.h).
 *
 * Rendering knows nothing of sessions or the registry: it writes the plain
 * values it is given (struct render_params), which the caller gathers.
 */

struct render_var {
	const char *name;
	const char *value;   /* already escaped for its destination */
};

/* The templates directory in use. Caller frees. */
char *render_templates_dir(void);

/* Expand template file name (relative to the templates directory) into out. */
int render_template(const char *name, const struct render_var *vars, struct strbuf *out);

/* Escape s as a YAML double-quoted scalar, quotes included. Caller frees. */
char *yaml_quote(const char *s);

/* Escape s as a POSIX shell single-quoted word, quotes included. Caller frees. */
char *shell_quote(const char *s);

/* A scrape job for the services whose targets need a bearer token: file_sd cannot carry credentials. */
struct render_auth_job {
	const char *name;            /* the job is "benchmon-auth-<name>" */
	const char *targets_glob;    /* its file_sd files */
	const char *token_file;      /* Prometheus reads the token from here; it is never copied */
};

/* The values the rendered files hold. Nothing here is owned. */
struct render_params {
	const char *session;         /* the session's id, named in the files */
	const char *dir;             /* the session directory: the files go there, and the job writes there */
	const char *targets_glob;    /* the registry's file_sd files */
	const struct render_auth_job *auth_jobs;
	size_t nauth_jobs;
	int64_t scrape_interval_ms;
	int64_t retention_ms;
	const char *listen;          /* address Prometheus binds to; "auto": the node's own (job.sh) */
	int port;
	const char *web_config;      /* path of the web config that job.sh gives Prometheus */
	const char *rules_file;      /* the alerting rules (rules.h), or NULL for none */
	const char *serve_exe;       /* job.sh also runs '<serve_exe> serve' beside Prometheus, or NULL */
	int serve_port;              /* where that server listens, on Prometheus's address */
};

/* Write dir/prometheus.yml (atomically, 0600). */
int render_prometheus_config(const struct render_params *p);

/* Write dir/job.sh (atomically, mode 0700). */
int render_job_script(const struct render_params *p);

/*
 * Write a Prometheus web config at path (atomically, 0600) under which the
 * HTTP API, lifecycle and readiness endpoints included, answers only
 * basic auth user with the password whose bcrypt hash is password_hash.
 */
int render_web_config(const char *path, const char *user, const char *password_hash);

#endif
