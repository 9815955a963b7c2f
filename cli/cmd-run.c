#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd.h"
#include "collect/collect.h"
#include "collect/edges.h"
#include "collect/window.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/lifecycle.h"
#include "results/runs.h"
#include "session/session.h"
#include "session/validate.h"

static const struct cmd_opt opts[] = {
	{ "session", "ID", "the session (default: $BENCHMON_SESSION)" },
	{ "run-id", "R", "the run's id (default: $SLURM_JOB_ID[.$SLURM_STEP_ID], else run-<time>)" },
	{ "out", "DIR", "where to write the artifacts (default: benchmon-results/<run-id>)" },
	{ "warmup", "DURATION", "leave the command's first DURATION out of the window (default 0s)" },
	{ "cooldown", "DURATION", "keep the window open DURATION after the command ends (default 0s)" },
	{ "profile", "NAME|FILE", "query profile for the KPIs (default: default)" },
	{ "label", "KEY=VALUE...", "a label of the run, in MANIFEST.json and metrics_summary.csv, e.g. concurrency=8 (repeatable)" },
	{ "strict", NULL, "exit 1 when the command succeeded but the window's verdict is not VALID (an alert fired, or data-quality findings, optional KPIs' aside)" },
	{ "json", NULL, "print the KPIs as JSON, alone on stdout: the command's stdout goes to stderr" },
	{ "force", NULL, "replace the artifacts of an earlier run in --out" },
	{ NULL, NULL, NULL },
};

static volatile sig_atomic_t got_signal;
static volatile pid_t child_pid;

/* Is pid a slurmstepd? Async-signal-safe: open, read and close only. */
static int is_slurmstepd(pid_t pid)
{
	char path[40] = "/proc/", digits[16], comm[16] = "";
	size_t len = 6, n = 0;
	ssize_t got;
	int fd;

	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0 && n < sizeof(digits));
	while (n)
		path[len++] = digits[--n];
	memcpy(path + len, "/comm", 6);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	got = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	return got >= 10 && !memcmp(comm, "slurmstepd", 10);
}

/*
 * Remember the signal (what ran is still collected) and pass it on to the
 * benchmark only when it did not get it too. The benchmark stays in our
 * process group, so it keeps the terminal: a Ctrl-C comes from the tty
 * driver (si_code SI_KERNEL) to the whole foreground group, and slurmstepd
 * (scancel, the time limit) signals every process of the step. What another
 * process sends to benchmon (kill PID) reached only us and is forwarded. A
 * kill of our whole process group (kill -INT -PGID) is forwarded as well,
 * and so reaches the benchmark twice: siginfo does not say where it was aimed.
 */
static void on_signal(int sig, siginfo_t *si, void *uctx)
{
	int saved_errno = errno;

	(void)uctx;
	got_signal = sig;
	if (child_pid > 0 && si->si_code != SI_KERNEL && !(si->si_code == SI_USER && is_slurmstepd(si->si_pid)))
		kill(child_pid, sig);
	errno = saved_errno;
}

/* How long a target may take to answer at an edge before its KPIs fall back to interpolation. */
#define EDGE_TIMEOUT_MS 2000

static void sleep_until(int64_t when_ms)
{
	int64_t left;

	while ((left = when_ms - now_ms()) > 0) {
		struct timespec ts = { left / 1000, (left % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
}

/* The edge reading taken while the command runs, at the end of --warmup. */
struct warmup_edge {
	const struct session *s;
	struct edge_reading *reading;
	int64_t at_ms;           /* when it was sent: the window's start */
	int done;
};

/* Wait for pid until w->at_ms, then take w's reading. 1 when pid ended first (*wstatus set), else 0. */
static int read_warmup_edge(pid_t pid, int *wstatus, struct warmup_edge *w)
{
	pid_t ended = 0;
	int64_t left;

	for (;;) {
		ended = waitpid(pid, wstatus, WNOHANG);
		left = w->at_ms - now_ms();
		if (ended == pid || left <= 0)
			break;
		/* short naps, so the reading goes out within a millisecond of the end of the warm-up */
		sleep_until(now_ms() + (left < 10 ? left : 10));
	}
	if (ended == pid)
		return 1;
	w->at_ms = now_ms();
	if (edges_read(w->s, EDGE_TIMEOUT_MS, w->reading) == 0)
		w->done = 1;
	return 0;
}

/*
 * Run argv with our stdio (its stdout on our stderr when stdout_to_stderr);
 * its exit status, 128+N when killed by signal N.
 * SIGINT and SIGTERM are ours only while it runs: after, they end benchmon.
 * With warmup, its edge is read while argv runs.
 */
static int run_command(char **argv, int stdout_to_stderr, int *status, struct warmup_edge *warmup)
{
	struct sigaction sa = { 0 }, old_int, old_term;
	sigset_t block, old_mask;
	int wstatus = 0, ret = -1, reaped = 0;
	pid_t pid;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	/* a signal before child_pid is set would not be passed on: hold it until then */
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		error("cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		sigprocmask(SIG_SETMASK, &old_mask, NULL);
		/* with --json our stdout carries one JSON object and nothing else */
		if (stdout_to_stderr && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "benchmon: error: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	if (warmup)
		reaped = read_warmup_edge(pid, &wstatus, warmup);
	while (!reaped && waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
		;
	child_pid = 0;
	*status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	ret = 0;
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	return ret;
}

/* After an scancel, Slurm's KillWait (30 s by default) is all the time left to collect in. */
#define INTERRUPTED_QUERY_TIMEOUT_MS 20000
#define MAX_RUNS_PER_ID 1000

/* Does dir hold what an earlier run left, MANIFEST.json or window.json? */
static int holds_run(const char *dir)
{
	char *manifest = xasprintf("%s/MANIFEST.json", dir), *window = xasprintf("%s/window.json", dir);
	int ret = path_exists(manifest) || path_exists(window);

	free(manifest);
	free(window);
	return ret;
}

/*
 * Claim dir for this run: mkdir of dir itself, so that of two runs started
 * at once only one gets it, and for a dir that was already there an empty
 * window.json created exclusively (the window replaces it). 0 when claimed
 * (*made says whether we made dir), 1 when an earlier or a concurrent run
 * holds it, -1 after error().
 */
static int claim_out_dir(const char *dir, int *made)
{
	char *parent = xstrdup(dir), *slash = strrchr(parent, '/');
	char *window = xasprintf("%s/window.json", dir);
	int ret = -1, fd;

	*made = 0;
	if (slash && slash != parent) {
		*slash = '\0';
		if (mkdir_p(parent, results_mode(0777)) < 0)
			goto out;
	}
	/* the process umask keeps state private: results get the user's own, set exactly */
	if (mkdir(dir, results_mode(0777)) == 0) {
		*made = 1;
		chmod(dir, results_mode(0777));
	} else if (errno != EEXIST) {
		error("cannot create directory '%s': %s", dir, strerror(errno));
		goto out;
	} else if (holds_run(dir)) {
		ret = 1;
		goto out;
	}
	fd = open(window, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, results_mode(0666));
	if (fd < 0) {
		ret = errno == EEXIST ? 1 : error("cannot create '%s': %s", window, strerror(errno));
		goto out;
	}
	fchmod(fd, results_mode(0666));
	close(fd);
	ret = 0;
out:
	free(window);
	free(parent);
	return ret;
}

/* Give back a claimed dir that got no window: the empty window.json, and dir when we made it. */
static void release_out_dir(const char *dir, int made)
{
	char *window = xasprintf("%s/window.json", dir);

	unlink(window);
	if (made)
		rmdir(dir);
	free(window);
}

/*
 * Claim the default directory, benchmon-results/<run id>. When an earlier
 * run of the job holds it, the run id takes the first free suffix: -2, -3...
 * Sets *run_id (replacing it) and *out.
 */
static int claim_default_out(char **run_id, char **out, int *made)
{
	char *base = *run_id, *id = xstrdup(base);
	int ret = 1;

	for (int k = 2; ret == 1 && k <= MAX_RUNS_PER_ID + 1; k++) {
		*out = xasprintf("benchmon-results/%s", id);
		ret = claim_out_dir(*out, made);
		if (ret == 1) {
			free(*out);
			*out = NULL;
			free(id);
			id = xasprintf("%s-%d", base, k);
		}
	}
	if (ret == 1)
		ret = error("benchmon-results/ holds %d runs of '%s' already; give --out or --run-id", MAX_RUNS_PER_ID,
			    base);
	free(base);
	*run_id = id;
	return ret;
}

static int exec_run(struct cmd_args *args)
{
	const char *id = args_session(args), *v;
	struct window_file wf = { 0 };
	struct collect_options o = { 0 };
	struct edges edges = { 0 };
	struct warmup_edge warmup = { 0 };
	char *edges_path = NULL;
	struct collect_result res;
	struct session s = { 0 };
	struct session_run run = { 0 };
	char *run_id = NULL, *out = NULL, *cause = NULL, *path = NULL;
	static const char *const extra_files[] = { "window.json", "edges.json", NULL };
	struct run_label *labels = NULL;
	size_t nlabels = 0, nargs;
	const char *const *label_args = args_list(args, "label", &nargs);
	int status = 0, ret = CMD_USAGE, claimed = 0, made = 0;

	if (!id)
		return CMD_USAGE;
	if (!args->argc) {
		ret = cmd_usage_error(args->entry, "no command to run (give it after --)");
		goto out;
	}
	if ((v = args_get(args, "out")) && !*v) {
		cause = xstrdup("--out must not be empty");
		goto usage;
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
	if (run_labels_parse(label_args, nargs, &labels, &nlabels, &cause) < 0)
		goto usage;
	ret = CMD_FAIL;
	/* check the session before the benchmark runs, not after */
	if (session_load(id, &s) < 0 || session_run_load(&s, &run) < 0)
		goto out;
	if (collect_check_labels(args_get(args, "profile") ? args_get(args, "profile") : "default", labels,
				 nlabels) < 0)
		goto out;
	if (lifecycle_check_monitoring(&s, &run) < 0)
		goto out;
	if (!args_get(args, "out") && !args_get(args, "run-id")) {
		if (claim_default_out(&run_id, &out, &made) < 0)
			goto out;
		if (validate_id("run id", run_id, &cause) < 0) {
			error("%s", cause);
			release_out_dir(out, made);
			goto out;
		}
		claimed = 1;
	} else {
		int taken;

		out = args_get(args, "out") ? xstrdup(args_get(args, "out")) : xasprintf("benchmon-results/%s", run_id);
		if (args_flag(args, "force")) {
			if (mkdir_p(out, results_mode(0777)) < 0)
				goto out;
		} else if ((taken = claim_out_dir(out, &made)) != 0) {
			if (taken > 0)
				error("'%s' holds the artifacts of an earlier run (MANIFEST.json or window.json), or "
				      "another run is using it; give another --out, or --force to replace them", out);
			goto out;
		} else {
			claimed = 1;
		}
	}

	wf.session = s.id;
	wf.run_id = run_id;
	wf.labels = nargs ? (char **)label_args : NULL;
	wf.command = args->argv;
	/*
	 * Read every target's counters at the window's edges: before the command
	 * starts, and after it ends, so all its requests lie between the readings
	 * (collect/edges.h). With --warmup, the start is read while it runs.
	 */
	if (!wf.warmup_ms && edges_read(&s, EDGE_TIMEOUT_MS, &edges.from) < 0)
		goto out;
	edges.from.exact = !wf.warmup_ms;
	wf.started_ms = now_ms();
	warmup.s = &s;
	warmup.reading = &edges.from;
	warmup.at_ms = wf.started_ms + wf.warmup_ms;
	if (run_command(args->argv, args_flag(args, "json"), &status, wf.warmup_ms ? &warmup : NULL) < 0)
		goto out;
	wf.ended_ms = now_ms();
	wf.exit_status = status;
	if (got_signal)
		wf.interrupted_by = xstrdup(got_signal == SIGINT ? "SIGINT" : "SIGTERM");
	wf.from_ms = warmup.done ? warmup.at_ms : wf.started_ms + wf.warmup_ms;
	wf.to_ms = wf.ended_ms + (got_signal ? 0 : wf.cooldown_ms);
	if (got_signal)
		warning("interrupted by %s: collecting the %.1fs that ran", wf.interrupted_by,
			(double)(wf.ended_ms - wf.started_ms) / 1000.0);
	if (wf.from_ms >= wf.to_ms) {
		error("the command ran %.1fs, no longer than --warmup: there is no window to collect",
		      (double)(wf.ended_ms - wf.started_ms) / 1000.0);
		goto out;
	}
	sleep_until(wf.to_ms);
	if (edges_read(&s, EDGE_TIMEOUT_MS, &edges.to) < 0)
		goto out;
	edges.to.exact = 1;
	edges.from.at_ms = wf.from_ms;
	edges.to.at_ms = wf.to_ms;
	edges_path = xasprintf("%s/edges.json", out);
	if (edges_write(edges_path, &edges) < 0)
		goto out;
	path = xasprintf("%s/window.json", out);
	if (window_file_write(path, &wf) < 0)
		goto out;
	claimed = 0;
	/* the last scrape of the window must have happened before we ask for it */
	if (!got_signal)
		sleep_until(wf.to_ms + s.scrape_interval_ms + 500);
	o.from_ms = wf.from_ms;
	o.to_ms = wf.to_ms;
	o.out_dir = out;
	o.run_id = run_id;
	o.edges_path = edges_path;
	o.profile = args_get(args, "profile") ? args_get(args, "profile") : "default";
	o.run = &wf;
	o.extra_files = extra_files;
	o.labels = labels;
	o.nlabels = nlabels;
	if (got_signal == SIGTERM)
		o.timeout_ms = INTERRUPTED_QUERY_TIMEOUT_MS;
	if (args_flag(args, "json"))
		progress_quiet = 1;
	if (collect_run(&s, &o, &res) < 0) {
		error("the command's window could not be collected; redo it with 'benchmon collect --window %s --out %s'",
		      path, out);
		goto out;
	}
	collect_print(&res, out, args_flag(args, "json"));
	ret = CMD_OK;
	if (args_flag(args, "strict") && strcmp(res.verdict.verdict, "VALID") && status == 0) {
		error("the window's verdict is %s, not VALID (--strict): %zu reason%s among its alerts, "
		      "throttling and data-quality findings", res.verdict.verdict, res.verdict.nreasons,
		      res.verdict.nreasons == 1 ? "" : "s");
		ret = CMD_FAIL;
	}
	collect_result_release(&res);
	goto out;
usage:
	ret = cmd_usage_error(args->entry, "%s", cause);
out:
	if (claimed)
		release_out_dir(out, made);
	/* the command's own status comes first; ours only when it succeeded */
	if (wf.started_ms && status != 0)
		ret = status;
	free(wf.interrupted_by);
	free(path);
	free(edges_path);
	run_labels_release(labels, nlabels);
	edges_release(&edges);
	free(cause);
	free(out);
	free(run_id);
	session_run_release(&run);
	session_release(&s);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.summary = "run a benchmark command and collect the KPIs of exactly its window",
	.usage = "--session ID [--run-id R] [--out DIR] [--force] [--warmup 30s] [--cooldown 10s] [--label K=V]... [--strict] [--json] -- CMD [ARGS...]",
	.description = "Run CMD (its output passes through), record when it starts and ends, and collect\n"
		       "that window, less --warmup at the start and plus --cooldown at the end, into\n"
		       "--out. The window is kept as window.json there, so 'benchmon collect --window'\n"
		       "can redo it; MANIFEST.json records CMD, its exit status and whether it was\n"
		       "interrupted, and lists window.json with its sha256. With --json, CMD's stdout\n"
		       "goes to stderr, so stdout holds only the JSON. Exits with CMD's exit status;\n"
		       "with --strict a data-quality finding (but for optional KPIs) also fails a\n"
		       "successful run. The session must be running ('benchmon start').\n"
		       "\n"
		       "Each run gets a directory of its own: by default benchmon-results/<run-id>,\n"
		       "then <run-id>-2, -3... for later runs in the same job. An --out that holds an\n"
		       "earlier run (MANIFEST.json or window.json) is refused unless --force.\n"
		       "\n"
		       "A Ctrl-C or an scancel of the surrounding job ends CMD (a Ctrl-C reaches it once,\n"
		       "from the terminal; a kill of benchmon alone is passed on), and what ran is still\n"
		       "collected. After an scancel Slurm kills what is left once its KillWait (30 s by\n"
		       "default) is over, so each query then waits at most 20 s. A second signal, once\n"
		       "CMD has ended, stops benchmon at once.",
	.opts = opts,
	.example = "  benchmon run --session bench01 --warmup 30s -- \\\n"
		   "      wrk -t8 -c64 -d10m --latency http://nodeA:8000/v1/completions",
	.max_args = -1,
	.flags = CMD_NEEDS_HTTP,
	.exec = exec_run,
};
