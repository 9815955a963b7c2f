#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "collect/collect.h"
#include "collect/window.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "run-id", "R", "the run's id (default: $SLURM_JOB_ID[.$SLURM_STEP_ID], else run-<time>)" },
	{ "out", "DIR", "where to write the artifacts (default: benchmon-results/<run-id>)" },
	{ "warmup", "DURATION", "leave the command's first DURATION out of the window (default 0s)" },
	{ "cooldown", "DURATION", "keep the window open DURATION after the command ends (default 0s)" },
	{ "profile", "NAME|FILE", "query profile for the KPIs (default: default)" },
	{ "strict", NULL, "exit 1 when the command succeeded but collect has data-quality findings" },
	{ "json", NULL, "print the KPIs as JSON" },
	{ NULL, NULL, NULL },
};

static volatile sig_atomic_t got_signal;
static volatile pid_t child_pid;

/* Pass the signal on to the benchmark, and remember it: what ran is still collected. */
static void on_signal(int sig)
{
	got_signal = sig;
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void sleep_until(int64_t when_ms)
{
	int64_t left;

	while ((left = when_ms - now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

/* Run argv with our stdio; its exit status, 128+N when killed by signal N. */
static int run_command(char **argv, int *status)
{
	struct sigaction sa = { 0 }, old_int, old_term;
	int wstatus = 0;
	pid_t pid;

	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return error("cannot fork: %s", strerror(errno));
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "benchmon: error: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	return 0;
}

static char *default_out(const char *run_id)
{
	return xasprintf("benchmon-results/%s", run_id);
}

static int exec_run(struct cmd_args *args)
{
	const char *id = args_session(args), *v;
	struct window_file wf = { 0 };
	struct collect_options o = { 0 };
	struct collect_result res;
	struct session s = { 0 };
	char *run_id = NULL, *out = NULL, *cause = NULL, *path = NULL;
	int status = 0, ret = CMD_USAGE;

	if (!id)
		return CMD_USAGE;
	if (!args->argc) {
		ret = cmd_usage_error(args->entry, "no command to run (give it after --)");
		goto out;
	}
	if ((v = args_get(args, "warmup")) && strcmp(v, "0") && parse_duration_ms(v, 1000, &wf.warmup_ms, &cause) < 0)
		goto usage;
	if ((v = args_get(args, "cooldown")) && strcmp(v, "0") &&
	    parse_duration_ms(v, 1000, &wf.cooldown_ms, &cause) < 0)
		goto usage;
	if (args_get(args, "run-id")) {
		run_id = xstrdup(args_get(args, "run-id"));
	} else {
		char *stamp = format_time_ms(now_ms() / 1000 * 1000), *fallback;

		stamp[strcspn(stamp, "Z")] = '\0';
		for (char *p = stamp; *p; p++)
			if (*p == ':')
				*p = '-';
		fallback = xasprintf("run-%s", stamp);
		run_id = default_run_id(fallback);
		free(fallback);
		free(stamp);
	}
	if (validate_id("run id", run_id, &cause) < 0)
		goto usage;
	out = args_get(args, "out") ? xstrdup(args_get(args, "out")) : default_out(run_id);
	ret = CMD_FAIL;
	/* check the session before the benchmark runs, not after */
	if (session_load(id, &s) < 0)
		goto out;

	wf.session = s.id;
	wf.run_id = run_id;
	wf.command = args->argv;
	wf.started_ms = now_ms();
	if (run_command(args->argv, &status) < 0)
		goto out;
	wf.ended_ms = now_ms();
	wf.exit_status = status;
	if (got_signal)
		wf.interrupted_by = xstrdup(got_signal == SIGINT ? "SIGINT" : "SIGTERM");
	wf.from_ms = wf.started_ms + wf.warmup_ms;
	wf.to_ms = wf.ended_ms + (got_signal ? 0 : wf.cooldown_ms);
	if (got_signal)
		warning("interrupted by %s: collecting the %.1fs that ran", wf.interrupted_by,
			(double)(wf.ended_ms - wf.started_ms) / 1000.0);
	if (wf.from_ms >= wf.to_ms) {
		error("the command ran %.1fs, no longer than --warmup: there is no window to collect",
		      (double)(wf.ended_ms - wf.started_ms) / 1000.0);
		goto out;
	}
	if (mkdir_p(out, results_mode(0777)) < 0)
		goto out;
	path = xasprintf("%s/window.json", out);
	if (window_file_write(path, &wf) < 0)
		goto out;
	/* the last scrape of the window must have happened before we ask for it */
	if (!got_signal)
		sleep_until(wf.to_ms + s.scrape_interval_ms + 500);
	o.from_ms = wf.from_ms;
	o.to_ms = wf.to_ms;
	o.out_dir = out;
	o.run_id = run_id;
	o.profile = args_get(args, "profile") ? args_get(args, "profile") : "default";
	if (args_flag(args, "json"))
		progress_quiet = 1;
	if (collect_run(&s, &o, &res) < 0) {
		error("the command's window could not be collected; redo it with 'benchmon collect --window %s --out %s'",
		      path, out);
		goto out;
	}
	collect_print(&res, out, args_flag(args, "json"));
	ret = CMD_OK;
	if (args_flag(args, "strict") && res.nfindings && status == 0) {
		error("%zu data-quality finding%s (--strict)", res.nfindings, res.nfindings == 1 ? "" : "s");
		ret = CMD_FAIL;
	}
	collect_result_release(&res);
	goto out;
usage:
	ret = cmd_usage_error(args->entry, "%s", cause);
out:
	/* the command's own status comes first; ours only when it succeeded */
	if (wf.started_ms && status != 0)
		ret = status;
	free(wf.interrupted_by);
	free(path);
	free(cause);
	free(out);
	free(run_id);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.summary = "run a benchmark command and collect the KPIs of exactly its window",
	.usage = "--session ID [--run-id R] [--out DIR] [--warmup 30s] [--cooldown 10s] [--strict] -- CMD [ARGS...]",
	.description = "Run CMD (its output passes through), record when it starts and ends, and collect\n"
		       "that window, less --warmup at the start and plus --cooldown at the end, into\n"
		       "--out. The window is kept as window.json there, so 'benchmon collect --window'\n"
		       "can redo it. Exits with CMD's exit status; with --strict a data-quality finding\n"
		       "also fails a successful run. A Ctrl-C or an scancel of the surrounding job is\n"
		       "passed to CMD, and what ran is still collected.",
	.opts = opts,
	.example = "  benchmon run --session bench01 --warmup 30s -- \\\n"
		   "      wrk -t8 -c64 -d10m --latency http://nodeA:8000/v1/completions",
	.max_args = -1,
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_run,
};
