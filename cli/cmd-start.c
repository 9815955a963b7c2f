#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/lifecycle.h"
#include "session/api.h"
#include "session/session.h"
#include "session/validate.h"

/* How long start waits for the API server it spawned to listen. */
#define SERVE_START_MS 20000

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "partition", "P", "Slurm partition for the Prometheus job (default: the cluster's default)" },
	{ "time-limit", "HH:MM:SS", "Slurm time limit of the job (also MM or D-HH:MM:SS)" },
	{ "account", "A", "Slurm account to charge" },
	{ "nodelist", "LIST", "run Prometheus on one of these nodes (a Slurm host list such as n[3-4])" },
	{ "exclude", "LIST", "never run Prometheus on these nodes (a Slurm host list)" },
	{ "wait", "SECONDS", "how long to wait for Prometheus to be ready, queueing included (default 300)" },
	{ "save-before-limit", "DURATION", "have Slurm warn the job this long before its time limit, when it saves its TSDB and ends (default: a fifth of the limit, 1 to 5 minutes)" },
	{ "wait-targets", NULL, "then wait, within --wait, until every registered target was scraped once (the default)" },
	{ "no-wait-targets", NULL, "return as soon as Prometheus is ready" },
	{ "serve", NULL, "then run 'benchmon serve' for the session on this host (the login node, or the batch job's node), detached, and say where it listens" },
	{ "serve-listen", "ADDR:PORT", "where --serve listens (default 127.0.0.1 on a free port)" },
	{ "serve-in-job", NULL, "run 'benchmon serve' in Prometheus's job instead, beside it on its node, on Prometheus's address and port + 1; the job ends it" },
	{ "dry-run", NULL, "only render prometheus.yml and the job script, and print their paths" },
	{ "json", NULL, "print the session's state as JSON when done (progress stays on stderr)" },
	{ NULL, NULL, NULL },
};

static volatile sig_atomic_t interrupted;

/* A Ctrl-C (or scancel of the surrounding job) while waiting: start cancels the job it submitted. */
static void on_signal(int sig)
{
	interrupted = sig;
}

/*
 * Run 'benchmon serve' for s (at listen, or its default when NULL), detached from this process (its own session,
 * output appended to logs/serve.log), and wait until it records where it
 * listens: 0, or -1 after error().
 */
static int spawn_serve(const struct session *s, const char *listen)
{
	char *log = session_path(s, "logs/serve.log");
	char *logs = session_path(s, "logs");
	struct session_api api = { 0 };
	int64_t deadline = now_ms() + SERVE_START_MS;
	pid_t pid;
	int ret = -1, status;

	if (session_api_load(s, &api) == 0 && api.alive) {
		progress("the API of session '%s' already listens at %s (pid %ld on %s)", s->id, api.url, api.pid, api.host);
		ret = 0;
		goto out;
	}
	if (mkdir_p(logs, 0700) < 0)
		goto out;
	pid = fork();
	if (pid < 0) {
		error("cannot start the API server: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* a grandchild, in a session of its own: it outlives start and its terminal */
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (setsid() < 0 || fd < 0 || null < 0 || dup2(null, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		if (fork() != 0)
			_exit(0);
		if (listen)
			execl("/proc/self/exe", "benchmon", "serve", "--session", s->id, "--listen", listen, (char *)NULL);
		else
			execl("/proc/self/exe", "benchmon", "serve", "--session", s->id, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	for (;;) {
		session_api_release(&api);
		if (session_api_load(s, &api) == 0 && api.alive && api.here)
			break;
		if (now_ms() > deadline) {
			error("the API server did not start within %d s; see %s", SERVE_START_MS / 1000, log);
			goto out;
		}
		sleep_ms(100);
	}
	progress("the API of session '%s' listens at %s (pid %ld), token in %s/%s; 'stop' ends it", s->id, api.url,
		 api.pid, s->dir, API_TOKEN_FILE);
	ret = 0;
out:
	session_api_release(&api);
	free(logs);
	free(log);
	return ret;
}

static int exec_start(struct cmd_args *args)
{
	struct sigaction sa = { 0 }, old_int, old_term, old_hup;
	const char *id = args_session(args), *v;
	struct start_options o = { 0 };
	struct hostport hp = { 0 };
	const char *serve_listen;
	struct session s;
	char *cause = NULL;
	uint32_t minutes;
	int ret;

	if (!id)
		return CMD_USAGE;
	o.partition = args_get(args, "partition");
	o.account = args_get(args, "account");
	o.time_limit = args_get(args, "time-limit");
	o.nodelist = args_get(args, "nodelist");
	o.exclude = args_get(args, "exclude");
	if ((o.nodelist && (!*o.nodelist || strcspn(o.nodelist, " \t\n'\"") != strlen(o.nodelist))) ||
	    (o.exclude && (!*o.exclude || strcspn(o.exclude, " \t\n'\"") != strlen(o.exclude))))
		return cmd_usage_error(args->entry, "--%s: invalid Slurm host list", o.exclude ? "exclude" : "nodelist");
	o.wait_ms = 300 * 1000;
	o.dry_run = args_flag(args, "dry-run");
	o.wait_targets = !args_flag(args, "no-wait-targets");
	o.serve_in_job = args_flag(args, "serve-in-job");
	if (o.serve_in_job && (args_flag(args, "serve") || args_get(args, "serve-listen")))
		return cmd_usage_error(args->entry, "--serve-in-job cannot be combined with --serve or --serve-listen");
	if ((v = args_get(args, "wait")) && parse_duration_ms(v, 1000, &o.wait_ms, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "--wait: %s", cause);
		free(cause);
		return ret;
	}
	if ((v = args_get(args, "save-before-limit")) &&
	    (parse_duration_ms(v, 1000, &o.save_before_limit_ms, &cause) < 0 || o.save_before_limit_ms < 1000)) {
		ret = cmd_usage_error(args->entry, "--save-before-limit: %s", cause ? cause : "must be at least 1s");
		free(cause);
		return ret;
	}
	/* refuse a bad --time-limit before anything is rendered or submitted */
	if (o.time_limit && parse_slurm_time_limit(o.time_limit, &minutes, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "--time-limit: %s", cause);
		free(cause);
		return ret;
	}
	serve_listen = args_get(args, "serve-listen");
	if (serve_listen && !args_flag(args, "serve"))
		return cmd_usage_error(args->entry, "--serve-listen goes with --serve");
	if (serve_listen && hostport_parse("--serve-listen", serve_listen, &hp, &cause) < 0) {
		ret = cmd_usage_error(args->entry, "%s", cause);
		free(cause);
		return ret;
	}
	hostport_release(&hp);
	if (session_load(id, &s) < 0)
		return CMD_FAIL;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGHUP, &sa, &old_hup);
	o.interrupted = &interrupted;
	ret = lifecycle_start(&s, &o) < 0 ? CMD_FAIL : CMD_OK;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
	if (interrupted)
		ret = 128 + interrupted;
	else if (ret == CMD_OK && !o.dry_run && args_flag(args, "serve") &&
		 spawn_serve(&s, serve_listen) < 0)
		ret = CMD_FAIL;
	if (args_flag(args, "json") && !o.dry_run && print_session_json(&s) < 0)
		ret = CMD_FAIL;
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.summary = "run the session's Prometheus (as a Slurm job) and wait until it is ready",
	.usage = "--session ID [--partition P] [--time-limit HH:MM:SS] [--account A] [--nodelist LIST] [--exclude LIST] "
		 "[--wait SECONDS] "
		 "[--save-before-limit DURATION] [--no-wait-targets] [--serve [--serve-listen ADDR:PORT] | --serve-in-job]",
	.description = "Render prometheus.yml and the job script, submit Prometheus as a Slurm batch job\n"
		       "(or a local process with the local launcher) on whatever node Slurm picks, and\n"
		       "wait until Prometheus answers /-/ready. Progress is shown while the job is\n"
		       "pending and starting. On failure the job is cancelled, the reason is shown and\n"
		       "the session can be started again; a Ctrl-C while waiting cancels the job too.\n"
		       "The TSDB lives on the node's local disk. However the job ends (stop, scancel,\n"
		       "its time limit) it copies the TSDB into the session directory, tsdb/<job>/,\n"
		       "where collect finds it; a session started again keeps every earlier job's copy.\n"
		       "Slurm warns the job before its time limit so the copy is made in time: start\n"
		       "says when, and how long Slurm's KillWait leaves after the limit.\n"
		       "--serve then runs the session's HTTP API ('benchmon serve') on this host, detached,\n"
		       "and says where it listens; 'stop' ends it. --serve-in-job runs it in Prometheus's\n"
		       "job instead, on the same node and address, at Prometheus's port + 1.",
	.opts = opts,
	.example = "  benchmon start --session bench01 --partition cpu --time-limit 02:00:00",
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_start,
};
