#include "render/render.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/jobstate.h"
#include "session/labels.h"

#ifndef BENCHMON_DATADIR
#define BENCHMON_DATADIR "/usr/local/share/benchmon"
#endif

char *render_templates_dir(void)
{
	const char *env = getenv("BENCHMON_DATADIR");
	char exe[4096];
	ssize_t n;

	if (env && *env)
		return xasprintf("%s/templates", env);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *dir, *candidate;

		exe[n] = '\0';
		dir = dirname(exe);
		candidate = xasprintf("%s/templates/prometheus.yml.in", dir);
		if (path_exists(candidate)) {
			free(candidate);
			return xasprintf("%s/templates", dir);
		}
		free(candidate);
	}
	return xstrdup(BENCHMON_DATADIR "/templates");
}

int render_template(const char *name, const struct render_var *vars, struct strbuf *out)
{
	char *dir = render_templates_dir();
	char *path = xasprintf("%s/%s", dir, name);
	struct strbuf tmpl = STRBUF_INIT;
	const char *p;
	int ret = -1;

	if (read_file(path, &tmpl, 1 << 20, 0) < 0)
		goto out;
	for (p = tmpl.buf; *p;) {
		const char *at = strchr(p, '@'), *end;
		size_t i;

		if (!at) {
			strbuf_addstr(out, p);
			break;
		}
		strbuf_add(out, p, (size_t)(at - p));
		end = strchr(at + 1, '@');
		for (i = 0; end && vars[i].name; i++)
			if (strlen(vars[i].name) == (size_t)(end - at - 1) && !strncmp(vars[i].name, at + 1, (size_t)(end - at - 1)))
				break;
		if (!end || !vars[i].name) {
			error("template '%s' has an unknown placeholder near '%.20s'", path, at);
			goto out;
		}
		strbuf_addstr(out, vars[i].value);
		p = end + 1;
	}
	ret = 0;
out:
	strbuf_release(&tmpl);
	free(path);
	free(dir);
	return ret;
}

char *yaml_quote(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addch(&sb, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			strbuf_addf(&sb, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			strbuf_addf(&sb, "\\x%02x", c);
		else
			strbuf_addch(&sb, c);
	}
	strbuf_addch(&sb, '"');
	return strbuf_detach(&sb, NULL);
}

char *shell_quote(const char *s)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addch(&sb, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			strbuf_addstr(&sb, "'\\''");
		else
			strbuf_addch(&sb, *s);
	}
	strbuf_addch(&sb, '\'');
	return strbuf_detach(&sb, NULL);
}

/*
 * One scrape job per bearer token file: file_sd cannot carry credentials,
 * so services that need a token are grouped by token file, and Prometheus
 * reads the token from the file's path (it is never copied).
 */
static void auth_jobs(const struct render_params *p, const char *interval, struct strbuf *out)
{
	for (size_t i = 0; i < p->nauth_jobs; i++) {
		const struct render_auth_job *j = &p->auth_jobs[i];
		char *glob_q = yaml_quote(j->targets_glob), *token_q = yaml_quote(j->token_file);

		strbuf_addf(out,
			    "\n  - job_name: benchmon-auth-%s\n"
			    "    scrape_interval: %s\n"
			    "    authorization:\n"
			    "      type: Bearer\n"
			    "      credentials_file: %s\n"
			    "    file_sd_configs:\n"
			    "      - files:\n"
			    "          - %s\n"
			    "        refresh_interval: 5s\n"
			    "    relabel_configs:\n"
			    "      - source_labels: [" LABEL_KIND "]\n"
			    "        target_label: job\n",
			    j->name, interval, token_q, glob_q);
		free(token_q);
		free(glob_q);
	}
}

int render_prometheus_config(const struct render_params *p)
{
	int64_t timeout_ms = p->scrape_interval_ms < 10000 ? p->scrape_interval_ms : 10000;
	char *interval = format_duration_ms(p->scrape_interval_ms);
	char *timeout = format_duration_ms(timeout_ms);
	char *glob_q = yaml_quote(p->targets_glob);
	char *path = xasprintf("%s/prometheus.yml", p->dir);
	struct strbuf out = STRBUF_INIT, auth = STRBUF_INIT;
	struct render_var vars[] = {
		{ "SESSION", p->session },
		{ "SCRAPE_INTERVAL", interval },
		{ "SCRAPE_TIMEOUT", timeout },
		{ "TARGETS_GLOB", glob_q },
		{ "AUTH_JOBS", "" },
		{ "LABEL_KIND", LABEL_KIND },
		{ "RULE_FILES", "" },
		{ NULL, NULL },
	};
	char *rules_q = p->rules_file ? yaml_quote(p->rules_file) : NULL;
	char *rule_files = rules_q ? xasprintf("rule_files:\n  - %s\n", rules_q) : xstrdup("");
	int ret = -1;

	auth_jobs(p, interval, &auth);
	vars[4].value = auth.buf;
	vars[6].value = rule_files;
	if (render_template("prometheus.yml.in", vars, &out) < 0)
		goto out;
	ret = write_file_atomic(path, out.buf, out.len, 0600);
out:
	strbuf_release(&auth);
	strbuf_release(&out);
	free(rule_files);
	free(rules_q);
	free(path);
	free(glob_q);
	free(timeout);
	free(interval);
	return ret;
}

int render_job_script(const struct render_params *p)
{
	char *dir_q = shell_quote(p->dir);
	char *listen_q = shell_quote(p->listen);
	char *web_q = shell_quote(p->web_config);
	char *port = xasprintf("%d", p->port);
	char *retention = format_duration_ms(p->retention_ms);
	char *path = xasprintf("%s/job.sh", p->dir);
	char *serve_q = shell_quote(p->serve_exe ? p->serve_exe : "");
	char *serve_port = xasprintf("%d", p->serve_exe ? p->serve_port : 0);
	struct strbuf out = STRBUF_INIT;
	const struct render_var vars[] = {
		{ "SESSION", p->session },
		{ "SESSION_DIR", dir_q },
		{ "LISTEN", listen_q },
		{ "PORT", port },
		{ "RETENTION", retention },
		{ "JOB_TAG_LOCAL_PREFIX", JOB_TAG_LOCAL_PREFIX },
		{ "STATE_RUNNING", JOB_STATE_RUNNING },
		{ "STATE_SAVING", JOB_STATE_SAVING },
		{ "STATE_SAVED", JOB_STATE_SAVED },
		{ "STATE_SAVE_FAILED", JOB_STATE_SAVE_FAILED },
		{ "STATE_EXITED", JOB_STATE_EXITED },
		{ "STATE_FAILED", JOB_STATE_FAILED },
		{ "REASON_NO_PROMETHEUS", JOB_REASON_NO_PROMETHEUS },
		{ "REASON_NO_TSDB_DIR", JOB_REASON_NO_TSDB_DIR },
		{ "SAVE_FILE", JOB_SAVE_FILE },
		{ "WEB_CONFIG", web_q },
		{ "SERVE_EXE", serve_q },
		{ "SERVE_PORT", serve_port },
		{ NULL, NULL },
	};
	int ret = -1;

	if (render_template("prometheus-job.sh.in", vars, &out) < 0)
		goto out;
	ret = write_file_atomic(path, out.buf, out.len, 0700);
out:
	strbuf_release(&out);
	free(path);
	free(retention);
	free(port);
	free(serve_q);
	free(serve_port);
	free(web_q);
	free(listen_q);
	free(dir_q);
	return ret;
}

int render_web_config(const char *path, const char *user, const char *password_hash)
{
	char *user_q = yaml_quote(user), *hash_q = yaml_quote(password_hash);
	struct strbuf out = STRBUF_INIT;
	const struct render_var vars[] = {
		{ "USER", user_q },
		{ "PASSWORD_HASH", hash_q },
		{ NULL, NULL },
	};
	int ret = -1;

	if (render_template("web.yml.in", vars, &out) < 0)
		goto out;
	ret = write_file_atomic(path, out.buf, out.len, 0600);
out:
	strbuf_release(&out);
	free(hash_q);
	free(user_q);
	return ret;
}
