#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/launcher.h"
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
	/* under Slurm, clients on other nodes must reach Prometheus; a local one serves this machine only */
	if (!s.listen)
		s.listen = xstrdup(strcmp(s.launcher, "slurm") ? "127.0.0.1" : "auto");
	ret = CMD_FAIL;
	if (session_create(&s) < 0)
		goto out;
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
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_session_create_entry = {
	.name = "session-create",
	.summary = "create a monitoring session",
	.usage = "--run-id ID [--prom-host H] [--port N] [--scrape-interval 1s] [--retention 6|6h] [--launcher slurm|local]",
	.description = "Create a monitoring session: a directory under $BENCHMON_HOME/sessions holding\n"
		       "the session's settings, its target registry and, later, its Prometheus state.\n"
		       "It also makes the password Prometheus's HTTP API will require, kept in the\n"
		       "session's prometheus.password (0600) and never printed.\n"
		       "Nothing is started yet; register targets, then run 'benchmon start'.",
	.opts = opts,
	.example = "  benchmon session-create --run-id bench01 --port 9090 --scrape-interval 1s",
	.exec = exec_session_create,
};
