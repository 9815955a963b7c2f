#ifndef BENCHMON_RENDER_H
#define BENCHMON_RENDER_H

#include "lib/strbuf.h"
#include "session/session.h"

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

/* Write the session's prometheus.yml (atomically). */
int render_prometheus_config(const struct session *s);

/* Write the session's job.sh (atomically, mode 0700). */
int render_job_script(const struct session *s);

#endif
