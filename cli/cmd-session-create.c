#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/launcher.h"
#include "render/rules.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "run-id", "ID", "the session's id (letters, digits, '_', '.', '-'; at most 64; default in a Slurm job: $SLURM_JOB_ID)" },
	{ "prom-host", "HOST", "reach Prometheus at HOST instead of the node Slurm picks" },
	{ "port", "N", "Prometheus's port (default 9090)" },
	{ "listen", "ADDR", "address Prometheus binds to (default: the node's own address under Slurm, 127.0.0.1 with the local launcher; 0.0.0.0 for all)" },
	{ "scrape-interval", "DURATION", "how often targets are scraped (default 5s; e.g. 1s, 500ms)" },
	{ "retention", "DURATION", "how long Prometheus keeps data (default 6h; a bare number is hours)" },
	{ "launcher", "slurm|local", "run Prometheus as a Slurm job, or as a local process (default: slurm when a Slurm configuration is found)" },
	{ "rules", "FILE", "JSON overriding alert rules' thresholds and durations, or disabling rules (see below)" },
	{ "json", NULL, "print the new session as JSON" },
	{ "enable-node", NULL, "accepted for compatibility; exporters are given to client-connect" },
	{ "enable-dcgm", NULL, "accepted for compatibility; exporters are given to client-connect" },
	{ NULL, NULL, NULL },
};

static int exec_session_create(struct cmd_args *args)
{
	const struct cmd_entry *e = args->entry;
	const char *run_id = args_get(args, "run-id");
	const char *v;
	struct session s = { 0 };
	struct strbuf text = STRBUF_INIT, rendered = STRBUF_INIT;
	char *cause = NULL;
	int ret = CMD_USAGE;

	if (!run_id)
		run_id = getenv("SLURM_JOB_ID");
	if (!run_id)
		return cmd_usage_error(e, "missing --run-id");
	if (validate_id("run id", run_id, &cause) < 0)
		goto usage;
	s.id = xstrdup(run_id);
	s.port = 9090;
	s.scrape_interval_ms = 5000;
	s.retention_ms = 6 * 3600 * 1000LL;
	if ((v = args_get(args, "prom-host"))) {
		if (validate_host("--prom-host", v, &cause) < 0)
			goto usage;
		s.prom_host = xstrdup(v);
	}
	if ((v = args_get(args, "port")) && parse_port("--port", v, &s.port, &cause) < 0)
		goto usage;
	v = args_get(args, "listen");
	if (v && validate_host("--listen", v, &cause) < 0)
		goto usage;
	s.listen = v ? xstrdup(v) : NULL;
	if ((v = args_get(args, "scrape-interval"))) {
		if (parse_duration_ms(v, 1000, &s.scrape_interval_ms, &cause) < 0)
			goto usage;
		if (s.scrape_interval_ms < 100 || s.scrape_interval_ms > 3600 * 1000) {
			cause = xstrdup("--scrape-interval must be between 100ms and 1h");
			goto usage;
		}
	}
	if ((v = args_get(args, "retention"))) {
		if (parse_duration_ms(v, 3600 * 1000, &s.retention_ms, &cause) < 0)
			goto usage;
		if (s.retention_ms < 60 * 1000) {
			cause = xstrdup("--retention must be at least 1m");
			goto usage;
		}
	}
	v = args_get(args, "launcher");
	if (v && !launcher_find(v)) {
		cause = xasprintf("invalid --launcher '%s': expected slurm or local", v);
		goto usage;
	}
	if (v) {
		s.launcher = xstrdup(v);
	} else {
		char *conf = slurm_config_path();

		s.launcher = xstrdup(conf ? "slurm" : "local");
		free(conf);
	}
	if ((v = args_get(args, "rules"))) {
		char *why = NULL;

		if (read_file(v, &text, 1 << 20, 0) < 0) {
			cause = xasprintf("cannot read --rules '%s'", v);
			goto usage;
		}
		if (rules_overrides_parse(text.buf, &s.rules, &why) < 0) {
			cause = xasprintf("invalid --rules '%s': %s", v, why);
			free(why);
			goto usage;
		}
	}
	ret = CMD_FAIL;
	/* rendered before the session exists, so a template that fails changes nothing */
	if (render_rules(s.rules, s.scrape_interval_ms, &rendered) < 0)
		goto out;
	/* under Slurm, clients on other nodes must reach Prometheus; a local one serves this machine only */
	if (!s.listen)
		s.listen = xstrdup(strcmp(s.launcher, "slurm") ? "127.0.0.1" : "auto");
	if (session_create(&s) < 0)
		goto out;
	if (render_rules_file(s.dir, s.rules, s.scrape_interval_ms) < 0) {
		session_remove(&s);
		goto out;
	}
	if (args_flag(args, "json")) {
		ret = print_session_json(&s) < 0 ? CMD_FAIL : CMD_OK;
		goto out;
	}
	v = cause = format_duration_ms(s.scrape_interval_ms);
	printf("session '%s' created in %s (launcher %s, port %d, scrape interval %s)\n", s.id, s.dir,
	       s.launcher, s.port, v);
	ret = CMD_OK;
	goto out;
usage:
	ret = cmd_usage_error(e, "%s", cause);
out:
	free(cause);
	strbuf_release(&rendered);
	strbuf_release(&text);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_session_create_entry = {
	.name = "session-create",
	.summary = "create a monitoring session",
	.usage = "--run-id ID [--prom-host H] [--port N] [--scrape-interval 1s] [--retention 6|6h] [--launcher slurm|local] [--rules FILE]",
	.description = "Create a monitoring session: a directory under $BENCHMON_HOME/sessions holding\n"
		       "the session's settings, its target registry and, later, its Prometheus state.\n"
		       "It also makes the password Prometheus's HTTP API will require, kept in the\n"
		       "session's prometheus.password (0600) and never printed.\n"
		       "Nothing is started yet; register targets, then run 'benchmon start'.\n"
		       "\n"
		       "Prometheus evaluates the session's alert rules (templates/rules/, rendered\n"
		       "into the session's rules.yml). --rules FILE overrides their defaults: a JSON\n"
		       "object naming rules, each with any of \"threshold\" (a number), \"for\" (a\n"
		       "duration) and \"enabled\" (false leaves the rule out). The rules:\n"
		       "  THERMAL_WARNING THERMAL_CRITICAL POWER_SPIKE POWER_CRITICAL ECC_ERRORS_SPIKE\n"
		       "  ECC_UNCORRECTABLE THROTTLING MEMORY_PRESSURE XID_ERROR GPU_MISSING\n"
		       "  TARGET_DOWN TARGET_STALE SCRAPE_SLOW TARGET_FLAPPING",
	.opts = opts,
	.example = "  benchmon session-create --run-id bench01 --port 9090 --scrape-interval 1s\n"
		   "  echo '{\"THERMAL_WARNING\": {\"threshold\": 75}, \"XID_ERROR\": {\"enabled\": false}}' >h100.json\n"
		   "  benchmon session-create --run-id bench02 --rules h100.json",
	.exec = exec_session_create,
};
