#include "collect/source.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/auth.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/prom.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/launcher.h"
#include "render/render.h"
#include "session/saves.h"

#define RETRIES_503 6
#define READY_WAIT_MS 60000

static int free_loopback_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

/*
 * The guardian's message: a pid to end if collect dies, or 0 when collect
 * has cleaned up by itself. End of file without that 0 means collect died.
 */
static void guardian_main(int fd, const char *tmp_dir)
{
	pid_t pids[64];
	size_t n = 0;
	int32_t msg;

	/* it outlives a Ctrl-C or an scancel that ends collect: that is what it is for */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	for (;;) {
		ssize_t got = read(fd, &msg, sizeof(msg));

		if (got < 0 && errno == EINTR)
			continue;
		if (got != sizeof(msg))
			break;
		if (msg == 0)
			_exit(0);
		if (n < sizeof(pids) / sizeof(pids[0]))
			pids[n++] = msg;
	}
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < 100; i++) {
		size_t alive = 0;

		for (size_t j = 0; j < n; j++)
			alive += kill(pids[j], 0) == 0;
		if (!alive)
			break;
		sleep_ms(100);
	}
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	remove_tree(tmp_dir);
	_exit(0);
}

/* This collect's own password for its temporary Prometheus: web.yml holds its hash, password its text. */
static int temp_auth_create(struct source *src)
{
	char *web = xasprintf("%s/web.yml", src->tmp_dir);
	char *file = xasprintf("%s/password", src->tmp_dir);
	char *hash = NULL;
	int ret = -1;

	http_auth_release(&src->auth);
	src->auth.user = xstrdup(AUTH_USER);
	if (auth_password_new(&src->auth.password) < 0 || auth_bcrypt(src->auth.password, &hash) < 0 ||
	    render_web_config(web, src->auth.user, hash) < 0 ||
	    write_file_atomic(file, src->auth.password, strlen(src->auth.password), 0600) < 0)
		goto out;
	ret = 0;
out:
	free(hash);
	free(file);
	free(web);
	return ret;
}

/* The temporary directory, and the guardian that removes it and everything started in it. */
static int guardian_start(struct source *src)
{
	const char *tmp = getenv("TMPDIR");
	int fds[2];

	src->tmp_dir = xasprintf("%s/benchmon-collect-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(src->tmp_dir)) {
		error("cannot create a temporary directory '%s': %s", src->tmp_dir, strerror(errno));
		free(src->tmp_dir);
		src->tmp_dir = NULL;
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) < 0)
		return error("cannot create a pipe: %s", strerror(errno));
	src->guardian = fork();
	if (src->guardian < 0) {
		src->guardian = 0;
		close(fds[0]);
		close(fds[1]);
		return error("cannot fork: %s", strerror(errno));
	}
	if (src->guardian == 0) {
		close(fds[1]);
		guardian_main(fds[0], src->tmp_dir);
	}
	close(fds[0]);
	src->guardian_fd = fds[1];
	return temp_auth_create(src);
}

static void guardian_watch(struct source *src, pid_t pid)
{
	int32_t msg = pid;

	if (write(src->guardian_fd, &msg, sizeof(msg)) != sizeof(msg))
		warning("the cleanup guardian is gone; an interrupted collect may leave pid %ld", (long)pid);
	src->pids = xrealloc(src->pids, (src->npids + 1) * sizeof(*src->pids));
	src->pids[src->npids++] = pid;
}

/*
 * In a child, before its exec: name itself to the guardian, so a collect
 * killed between fork and guardian_watch still has it cleaned up.
 */
static void tell_guardian(const struct source *src)
{
	int32_t me = getpid();

	if (write(src->guardian_fd, &me, sizeof(me)) != sizeof(me))
		_exit(126);
}

static void stop_process(pid_t pid)
{
	int status;

	kill(pid, SIGTERM);
	for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
		sleep_ms(100);
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
}

void source_close(struct source *src)
{
	for (size_t i = src->npids; i-- > 0;)
		stop_process(src->pids[i]);
	if (src->tmp_dir)
		remove_tree(src->tmp_dir);
	if (src->guardian > 0) {
		int32_t done = 0;
		int status;

		if (write(src->guardian_fd, &done, sizeof(done)) != sizeof(done))
			kill(src->guardian, SIGKILL);
		close(src->guardian_fd);
		waitpid(src->guardian, &status, 0);
	}
	for (size_t i = 0; i < src->nparts; i++)
		free(src->parts[i].job);
	free(src->parts);
	free(src->pids);
	free(src->tmp_dir);
	free(src->url);
	http_auth_release(&src->auth);
	free(src->version);
	memset(src, 0, sizeof(*src));
}

/* Copy a saved TSDB to node-local disk, under the guardian's watch. */
static int copy_save(struct source *src, const char *from, const char *to)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return error("cannot fork: %s", strerror(errno));
	if (pid == 0) {
		tell_guardian(src);
		execlp("cp", "cp", "-a", from, to, (char *)NULL);
		_exit(127);
	}
	guardian_watch(src, pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	src->npids--;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return error("cannot copy the saved TSDB '%s' to '%s'", from, to);
	return 0;
}

/* Start a temporary Prometheus on loopback and wait until it is ready; *url is where. */
static int spawn_prometheus(struct source *src, const char *name, const char *config, const char *tsdb, char **url)
{
	const char *prometheus = getenv("BENCHMON_PROMETHEUS");
	char *log = xasprintf("%s/%s.log", src->tmp_dir, name);
	char *config_flag = xasprintf("--config.file=%s", config);
	char *path_flag = xasprintf("--storage.tsdb.path=%s", tsdb);
	char *web_flag = xasprintf("--web.config.file=%s/web.yml", src->tmp_dir);
	char *listen = NULL, *cause = NULL;
	int port = free_loopback_port(), ret = -1;
	pid_t pid;

	*url = NULL;
	if (port < 0) {
		error("cannot find a free port on 127.0.0.1 for a temporary Prometheus");
		goto out;
	}
	listen = xasprintf("--web.listen-address=127.0.0.1:%d", port);
	pid = fork();
	if (pid < 0) {
		error("cannot fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		tell_guardian(src);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* retention far beyond the data, so nothing is deleted at start */
		execlp(prometheus && *prometheus ? prometheus : "prometheus", "prometheus", config_flag, path_flag, listen,
		       web_flag, "--storage.tsdb.retention.time=100y", (char *)NULL);
		_exit(127);
	}
	guardian_watch(src, pid);
	*url = xasprintf("http://127.0.0.1:%d", port);
	for (int64_t deadline = now_ms() + READY_WAIT_MS; now_ms() < deadline;) {
		int status;

		if (waitpid(pid, &status, WNOHANG) == pid) {
			struct strbuf text = STRBUF_INIT;

			src->npids--;
			read_file(log, &text, 1 << 20, 1);
			error("the temporary Prometheus exited (is 'prometheus' installed?); its log:\n%s", text.buf);
			strbuf_release(&text);
			goto out;
		}
		free(cause);
		cause = NULL;
		if (prom_ready(*url, &src->auth, 1000, &cause) == 1) {
			ret = 0;
			goto out;
		}
		sleep_ms(100);
	}
	error("the temporary Prometheus did not get ready within %ds: %s", READY_WAIT_MS / 1000, cause ? cause : "?");
out:
	if (ret < 0) {
		free(*url);
		*url = NULL;
	}
	free(cause);
	free(listen);
	free(web_flag);
	free(path_flag);
	free(config_flag);
	free(log);
	return ret;
}

/* Serve one saved TSDB with a temporary Prometheus. */
static int serve_save(struct source *src, const struct tsdb_save *save, size_t index, char **url)
{
	char *name = xasprintf("save-%zu", index);
	char *tsdb = xasprintf("%s/%s", src->tmp_dir, name);
	int ret = -1;

	if (copy_save(src, save->path, tsdb) < 0)
		goto out;
	progress("serving the TSDB job %s saved with a temporary Prometheus", save->job);
	ret = spawn_prometheus(src, name, "/dev/null", tsdb, url);
out:
	free(tsdb);
	free(name);
	return ret;
}

/* The session's running Prometheus, once it answers (a 503 while it loads its TSDB is waited out). */
static int open_live(const struct session *s, const char *url, const struct http_auth *auth)
{
	char *cause = NULL;
	int ready = prom_ready(url, auth, 5000, &cause), ret = 0;

	for (int attempt = 0; ready == PROM_STARTING && attempt < RETRIES_503; attempt++) {
		progress("Prometheus is starting (503); waiting for it");
		sleep_ms(500L << attempt);
		free(cause);
		cause = NULL;
		ready = prom_ready(url, auth, 5000, &cause);
	}
	if (ready != 1)
		ret = error("the session's Prometheus at %s is not answering (%s); check 'benchmon status --session %s'",
			    url, cause, s->id);
	free(cause);
	return ret;
}

static void add_part(struct source *src, const char *job, const char *kind, int64_t from_ms, int64_t to_ms)
{
	struct source_part *p;

	src->parts = xrealloc(src->parts, (src->nparts + 1) * sizeof(*src->parts));
	p = &src->parts[src->nparts++];
	p->job = xstrdup(job);
	p->kind = kind;
	p->from_ms = from_ms;
	p->to_ms = to_ms;
}

static int compare_parts(const void *a, const void *b)
{
	const struct source_part *x = a, *y = b;

	return x->from_ms < y->from_ms ? -1 : x->from_ms > y->from_ms;
}

/* Findings for the stretches of [from_ms, to_ms] that no job's Prometheus covered. */
static void report_gaps(const struct session *s, const struct source *src, int64_t from_ms, int64_t to_ms,
			struct kpi_report *report)
{
	int64_t covered = from_ms;
	const char *before = NULL;

	for (size_t i = 0; i <= src->nparts; i++) {
		int64_t next = i < src->nparts ? src->parts[i].from_ms : to_ms;

		if (next > to_ms)
			next = to_ms;
		if (next - covered > s->scrape_interval_ms) {
			char *a = format_time_ms(covered), *b = format_time_ms(next);

			if (before && i < src->nparts)
				kpi_report_add_finding(report, "not_monitored", s->id, covered, next,
						       "no Prometheus of session '%s' ran from %s to %s (between job %s and "
						       "job %s): the KPIs cover only the rest of the window",
						       s->id, a, b, before, src->parts[i].job);
			else if (i < src->nparts)
				kpi_report_add_finding(report, "not_monitored", s->id, covered, next,
						       "the window starts before Prometheus of session '%s' ran: nothing "
						       "was monitored from %s to %s", s->id, a, b);
			else
				kpi_report_add_finding(report, "not_monitored", s->id, covered, next,
						       "the window goes past the data of session '%s': nothing was "
						       "monitored from %s to %s", s->id, a, b);
			free(a);
			free(b);
		}
		if (i < src->nparts) {
			if (src->parts[i].to_ms > covered)
				covered = src->parts[i].to_ms;
			before = src->parts[i].job;
		}
	}
}

/*
 * prometheus.yml of a temporary Prometheus that merges the others through
 * remote_read, each with the password it answers: the live one the
 * session's (by file: it is never copied), the temporary ones this collect's.
 */
static int write_merge_config(const struct session *s, const struct source *src, char *const *urls, size_t n,
			      int live_has_password, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	int ret;

	strbuf_addstr(&sb, "# benchmon collect: one view over several jobs' data\nremote_read:\n");
	for (size_t i = 0; i < n; i++) {
		int live = !strcmp(src->parts[i].kind, "live");

		strbuf_addf(&sb, "  - url: \"%s/api/v1/read\"\n    read_recent: true\n    name: \"%s\"\n", urls[i],
			    src->parts[i].job);
		if (live && !live_has_password)
			continue;
		strbuf_addf(&sb, "    basic_auth:\n      username: \"%s\"\n      password_file: \"%s/%s\"\n", AUTH_USER,
			    live ? s->dir : src->tmp_dir, live ? AUTH_PASSWORD_FILE : "password");
	}
	ret = write_file_atomic(path, sb.buf, sb.len, 0600);
	strbuf_release(&sb);
	return ret;
}


/* What to say when no job's data reaches the window. */
static void explain_nothing(const struct session *s, const struct tsdb_save_list *saves, const struct session_run *run,
			    int64_t from_ms, int64_t to_ms)
{
	struct strbuf sb = STRBUF_INIT;
	char *from = format_time_ms(from_ms), *to = format_time_ms(to_ms);

	for (size_t i = 0; i < saves->n; i++) {
		char *a = format_time_ms(saves->items[i].started_ms), *b = format_time_ms(saves->items[i].ended_ms);

		strbuf_addf(&sb, "\n  job %s: %s to %s (saved in %s)", saves->items[i].job, a, b, saves->items[i].path);
		free(a);
		free(b);
	}
	if (run->state == RUN_RUNNING && run->ready_ms) {
		char *a = format_time_ms(run->ready_ms);

		strbuf_addf(&sb, "\n  job %s: from %s, running", run->job_id, a);
		free(a);
	}
	if (sb.len)
		error("no data of session '%s' between %s and %s; its Prometheus jobs ran:%s", s->id, from, to, sb.buf);
	else
		error("session '%s' has no data to collect: it is %s and has no saved TSDB (start it, or stop it after "
		      "a run)", s->id, run_state_name(run->state));
	strbuf_release(&sb);
	free(from);
	free(to);
}

int source_open(const struct session *s, int64_t from_ms, int64_t to_ms, int64_t margin_ms, struct source *src,
		struct kpi_report *report)
{
	const struct launcher *l = launcher_find(s->launcher);
	struct tsdb_save_list saves = { 0 };
	struct session_run run = { 0 };
	struct http_auth live_auth = { 0 };
	const struct tsdb_save **use = NULL;
	char **urls = NULL, *current_tag = NULL, *cause = NULL;
	size_t nuse = 0, nurls = 0;
	int live = 0, live_has_password = 0, ret = -1;

	memset(src, 0, sizeof(*src));
	src->guardian_fd = -1;
	if (session_run_load(s, &run) < 0 || tsdb_saves_load(s, &saves) < 0)
		goto out;
	if (l && run.job_id)
		current_tag = l->job_tag(run.job_id);
	use = xcalloc(saves.n + 1, sizeof(*use));
	for (size_t i = 0; i < saves.n; i++) {
		const struct tsdb_save *v = &saves.items[i];

		if (v->started_ms <= to_ms + margin_ms && (!v->ended_ms || v->ended_ms >= from_ms - margin_ms))
			use[nuse++] = v;
	}
	/* the current job's own save, if it ended on its own, stands for it: its Prometheus is gone */
	live = run.state == RUN_RUNNING && run.url && !(current_tag && tsdb_saves_find(&saves, current_tag)) &&
	       run.ready_ms <= to_ms + margin_ms;
	if (!nuse && !live) {
		explain_nothing(s, &saves, &run, from_ms, to_ms);
		goto out;
	}
	for (size_t i = 0; i < nuse; i++)
		add_part(src, use[i]->job, "tsdb_copy", use[i]->started_ms, use[i]->ended_ms ? use[i]->ended_ms : to_ms);
	if (live)
		add_part(src, run.job_id, "live", run.ready_ms, now_ms());
	qsort(src->parts, src->nparts, sizeof(*src->parts), compare_parts);
	if (live) {
		int loaded = auth_load(s->dir, &live_auth);

		if (loaded < 0)
			goto out;
		live_has_password = loaded == 0;
	}
	if (src->nparts == 1 && live) {
		if (open_live(s, run.url, &live_auth) < 0)
			goto out;
		src->kind = "live";
		src->url = xstrdup(run.url);
		src->auth = live_auth;
		memset(&live_auth, 0, sizeof(live_auth));
	} else {
		if (guardian_start(src) < 0)
			goto out;
		urls = xcalloc(src->nparts + 1, sizeof(*urls));
		nurls = src->nparts;
		for (size_t i = 0; i < src->nparts; i++) {
			const struct tsdb_save *v = strcmp(src->parts[i].kind, "live") ? tsdb_saves_find(&saves, src->parts[i].job) : NULL;

			if (!v) {
				if (open_live(s, run.url, &live_auth) < 0)
					goto out;
				urls[i] = xstrdup(run.url);
			} else if (serve_save(src, v, i, &urls[i]) < 0) {
				goto out;
			}
		}
		if (src->nparts == 1) {
			src->kind = "tsdb_copy";
			src->url = urls[0];
			urls[0] = NULL;
		} else {
			char *config = xasprintf("%s/merge.yml", src->tmp_dir);
			char *tsdb = xasprintf("%s/merge-tsdb", src->tmp_dir);

			progress("the window spans %zu Prometheus jobs of session '%s': merging them", src->nparts, s->id);
			src->kind = "merged";
			ret = write_merge_config(s, src, urls, src->nparts, live_has_password, config);
			if (ret == 0)
				ret = spawn_prometheus(src, "merge", config, tsdb, &src->url);
			free(config);
			free(tsdb);
			if (ret < 0)
				goto out;
			ret = -1;
		}
	}
	report_gaps(s, src, from_ms, to_ms, report);
	if (prom_version(src->url, &src->auth, &src->version, &cause) < 0)
		src->version = xstrdup("unknown");
	ret = 0;
out:
	if (ret < 0)
		source_close(src);
	for (size_t i = 0; i < nurls; i++)
		free(urls[i]);
	free(urls);
	free(cause);
	free(current_tag);
	free(use);
	http_auth_release(&live_auth);
	tsdb_save_list_release(&saves);
	session_run_release(&run);
	return ret;
}
