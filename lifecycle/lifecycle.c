#include "lifecycle/lifecycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/auth.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/prom.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/jobstate.h"
#include "render/render.h"
#include "render/rules.h"
#include "session/saves.h"

#define POLL_MS 250
#define STOP_CONFIRM_MS 30000

/* What the job script last wrote to prometheus.json, or NULL when nothing yet. */
static cJSON *read_job_state(const struct session *s)
{
	char *path = session_path(s, "prometheus.json");
	cJSON *state = NULL;

	/* a torn read cannot happen (atomic rename); a parse failure means "not yet" */
	if (json_read_file(path, 1 << 16, 1, &state, NULL) != 0)
		state = NULL;
	free(path);
	return state;
}

static int is_wildcard(const char *listen)
{
	return !strcmp(listen, "0.0.0.0") || !strcmp(listen, "::") || !strcmp(listen, "[::]") || !strcmp(listen, "auto");
}

/* The URL Prometheus is reached at: --prom-host, a specific --listen, the job's host, or the node. */
static char *prometheus_url(const struct session *s, const cJSON *job_state, const char *node)
{
	const char *host = s->prom_host;

	if (!host && !is_wildcard(s->listen))
		host = s->listen;
	if (!host && job_state)
		host = json_string(job_state, "host");
	if (!host)
		host = node;
	if (!host)
		return NULL;
	return xasprintf("http://%s:%d", host, s->port);
}

/* The last lines of the job's log, indented, for error messages. Caller frees. */
static char *log_tail(const char *path, int lines)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;
	int seen = 0;
	char *out;

	if (!path || read_file(path, &sb, 0, 1) != 0 || !sb.len) {
		strbuf_release(&sb);
		return xstrdup("");
	}
	while (sb.len && sb.buf[sb.len - 1] == '\n')
		sb.buf[--sb.len] = '\0';
	for (p = sb.buf + sb.len; p > sb.buf; p--)
		if (p[-1] == '\n' && ++seen == lines)
			break;
	out = xasprintf("\nlast lines of %s:\n%s", path, p);
	strbuf_release(&sb);
	return out;
}

/* Explain why a job ended, from its log: a taken port is the classic. Caller frees. */
static char *explain_job_end(const struct session *s, const struct session_run *run, const struct job_status *job)
{
	struct strbuf log = STRBUF_INIT;
	char *tail = log_tail(run->log_path, 8), *msg;
	const char *line;

	cJSON *job_state = read_job_state(s);
	const char *reason = job_state ? json_string(job_state, "reason") : NULL;

	if (run->log_path)
		read_file(run->log_path, &log, 0, 1);
	/* Prometheus's own words: the one message of another program matched here */
	if ((line = strstr(log.buf, "address already in use"))) {
		while (line > log.buf && line[-1] != '\n')
			line--;
		msg = xasprintf("port %d on %s is already in use; choose another with 'benchmon session-create --port' "
				"or free it\nfrom %s:\n%.*s", s->port, job->node ? job->node : "the node", run->log_path,
				(int)strcspn(line, "\n"), line);
	}
	else if (reason && !strcmp(reason, JOB_REASON_NO_PROMETHEUS))
		msg = xasprintf("the job could not find Prometheus on %s%s", job->node ? job->node : "the node", tail);
	else if (reason && !strcmp(reason, JOB_REASON_NO_TSDB_DIR))
		msg = xasprintf("the job could not create its TSDB directory on %s%s", job->node ? job->node : "the node",
				tail);
	else
		msg = xasprintf("the job ended (%s, exit code %d%s%s)%s", job->state_name ? job->state_name : "?",
				job->exit_code, job->reason ? ", " : "", job->reason ? job->reason : "", tail);
	cJSON_Delete(job_state);
	strbuf_release(&log);
	free(tail);
	return msg;
}

/*
 * What became of a job that ended without benchmon's stop (a time limit,
 * scancel, a node failure): its save, when one reached the session
 * directory, or where the data stays. Sets *state (stopped when saved,
 * failed otherwise) and *tsdb_copy; returns the words for it. Caller frees.
 */
static char *describe_job_end(const struct launcher *l, const struct session *s, const struct session_run *run,
			      const struct job_status *job, const struct tsdb_save_list *saves, enum run_state *state,
			      char **tsdb_copy)
{
	char *tag = l->job_tag(run->job_id), *why, *msg;
	const struct tsdb_save *save = tsdb_saves_find(saves, tag);
	const char *how = job->state_name ? job->state_name : "ended";

	*tsdb_copy = NULL;
	if (save) {
		*state = RUN_STOPPED;
		*tsdb_copy = xstrdup(save->path);
		msg = xasprintf("job %s ended (%s%s%s); its TSDB was saved in %s, which collect reads", run->job_id, how,
				job->reason ? ", " : "", job->reason ? job->reason : "", save->path);
	} else {
		cJSON *job_state = read_job_state(s);
		const char *script_state = job_state ? json_string(job_state, "state") : NULL;
		const char *local = run->tsdb_local ? run->tsdb_local : job_state ? json_string(job_state, "tsdb") : NULL;
		const char *node = job->node ? job->node : run->node;

		/* the job script removes a TSDB that Prometheus never opened, and says so */
		if (script_state && !strcmp(script_state, JOB_STATE_EXITED))
			local = NULL;
		*state = RUN_FAILED;
		why = explain_job_end(s, run, job);
		msg = xasprintf("job %s ended behind benchmon's back and no copy of its TSDB was made: %s%s%s%s%s", run->job_id,
				why, local ? "\nthe data stays on " : "", local ? (node ? node : "its node") : "",
				local ? " in " : "", local ? local : "");
		free(why);
		cJSON_Delete(job_state);
	}
	free(tag);
	return msg;
}

/* Record in run.json how the run ended (only the commands that change a session call this). */
static int record_end(const struct session *s, struct session_run *run, enum run_state state, const char *why,
		      const char *tsdb_copy)
{
	run->state = state;
	free(run->last_error);
	run->last_error = why ? xstrdup(why) : NULL;
	if (tsdb_copy) {
		free(run->tsdb_copy);
		run->tsdb_copy = xstrdup(tsdb_copy);
	}
	run->stopped_ms = now_ms();
	return session_run_save(s, run);
}

static int record_failure(const struct session *s, struct session_run *run, const char *why)
{
	return record_end(s, run, RUN_FAILED, why, NULL);
}

/*
 * run.json cannot be read: rebuild what stop and kill need from what the job
 * itself wrote (prometheus.json), so a corrupted run.json never strands a
 * running Prometheus.
 */
static int run_from_job_state(const struct session *s, struct session_run *run)
{
	cJSON *state = read_job_state(s);
	const char *job = state ? json_string(state, "job") : NULL;
	int ret = -1;

	memset(run, 0, sizeof(*run));
	run->generation = -1;
	if (!job) {
		error("neither run.json nor prometheus.json of session '%s' names its job; if Prometheus still runs, "
		      "cancel it by hand", s->id);
		goto out;
	}
	run->state = RUN_RUNNING;
	if (!launcher_for_tag(job, &run->job_id)) {
		error("prometheus.json of session '%s' names a job '%s' that no launcher knows; if Prometheus still "
		      "runs, cancel it by hand", s->id, job);
		goto out;
	}
	warning("run.json of session '%s' is unreadable; found its job %s in prometheus.json", s->id, run->job_id);
	ret = 0;
out:
	cJSON_Delete(state);
	return ret;
}

/* Is the session's job still alive? 1 yes, 0 no, -1 cannot tell. */
static int job_alive(const struct launcher *l, const struct session *s, const struct session_run *run,
		     struct job_status *job)
{
	if (!run->job_id)
		return 0;
	if (l->query(s, run->job_id, job) < 0)
		return -1;
	return job->state == LAUNCH_PENDING || job->state == LAUNCH_RUNNING;
}

/*
 * The job of a run that should be starting or running has ended: bring run
 * up to date in memory (stopped with its save, or failed) and say so.
 */
static void reconcile_ended(const struct launcher *l, const struct session *s, struct session_run *run,
			    const struct job_status *job)
{
	struct tsdb_save_list saves = { 0 };
	enum run_state state;
	char *copy = NULL, *msg;

	tsdb_saves_load(s, &saves);
	msg = describe_job_end(l, s, run, job, &saves, &state, &copy);
	run->state = state;
	free(run->last_error);
	run->last_error = msg;
	if (copy) {
		free(run->tsdb_copy);
		run->tsdb_copy = copy;
	}
	if (!run->stopped_ms)
		run->stopped_ms = now_ms();
	tsdb_save_list_release(&saves);
}

/* Refuse to start twice; an old run that is over is fine, and is brought up to date for the history. */
static int check_not_running(const struct launcher *l, const struct session *s, struct session_run *run)
{
	struct job_status job = { 0 };
	int alive, ret = 0;

	if (run->state != RUN_STARTING && run->state != RUN_RUNNING)
		return 0;
	alive = job_alive(l, s, run, &job);
	if (alive < 0)
		ret = -1;
	else if (alive)
		ret = error("session '%s' is already %s as job %s (%s); use 'benchmon status' or 'benchmon stop' first",
			    s->id, run_state_name(run->state), run->job_id, job.state_name);
	else if (run->job_id)
		reconcile_ended(l, s, run, &job);
	job_status_release(&job);
	return ret;
}

/*
 * Render prometheus.yml and rules.yml from the session and its registry and,
 * with job_files, the web config (the password's hash) and job.sh (which
 * runs benchmon serve when opts asks). A session created before sessions had
 * a password gets one here, so its next Prometheus is guarded like any other.
 */
static int render_session(const struct session *s, int job_files, const struct start_options *opts)
{
	struct auth_dir *dirs = NULL;
	struct render_auth_job *jobs = NULL;
	struct http_auth auth = { 0 };
	struct render_params p = { 0 };
	char *glob = session_path(s, "targets/*.json"), *web = session_path(s, "web.yml"), *hash = NULL;
	char *rules = session_path(s, "rules.yml");
	char *serve_exe = NULL;
	size_t n = 0;
	int have, ret = -1;

	if (registry_auth_dirs(s, &dirs, &n) < 0)
		goto out;
	jobs = xcalloc(n + 1, sizeof(*jobs));
	for (size_t i = 0; i < n; i++) {
		jobs[i].name = strrchr(dirs[i].dir, '/') + 1;
		jobs[i].targets_glob = xasprintf("%s/*.json", dirs[i].dir);
		jobs[i].token_file = dirs[i].token_file;
	}
	p.session = s->id;
	p.dir = s->dir;
	p.targets_glob = glob;
	p.auth_jobs = jobs;
	p.nauth_jobs = n;
	p.scrape_interval_ms = s->scrape_interval_ms;
	p.retention_ms = s->retention_ms;
	p.listen = s->listen;
	p.port = s->port;
	p.web_config = web;
	p.rules_file = rules;
	if (opts && opts->serve_in_job) {
		p.serve_exe = serve_exe = realpath("/proc/self/exe", NULL);
		p.serve_port = s->port + 1;
	}
	if (render_prometheus_config(&p) < 0 || render_rules_file(s->dir, s->rules, s->scrape_interval_ms) < 0)
		goto out;
	if (job_files) {
		have = auth_load(s->dir, &auth);
		if (have == 1 && auth_password_create(s->dir) == 0)
			have = auth_load(s->dir, &auth);
		if (have != 0 || auth_bcrypt(auth.password, &hash) < 0 || render_web_config(web, auth.user, hash) < 0 ||
		    render_job_script(&p) < 0)
			goto out;
	}
	ret = 0;
out:
	for (size_t i = 0; jobs && i < n; i++)
		free((char *)jobs[i].targets_glob);
	free(jobs);
	auth_dirs_free(dirs, n);
	http_auth_release(&auth);
	free(hash);
	free(rules);
	free(web);
	free(serve_exe);
	free(glob);
	return ret;
}

/* Prometheus's view of registered target t, or NULL when it has not discovered it yet. */
static const struct prom_target *find_prom_target(const struct prom_target *prom, size_t n, const struct target *t)
{
	for (size_t i = 0; i < n; i++) {
		const struct prom_target *p = &prom[i];

		if (!strcmp(p->client_id, t->client_id) && !strcmp(p->kind, target_kind_name(t->kind)) &&
		    !strcmp(p->address, t->address) && !strcmp(p->service ? p->service : "", t->name ? t->name : ""))
			return p;
	}
	return NULL;
}

/* The registered targets Prometheus has not scraped yet, as "kind name at address, ...". NULL when none. */
static char *unscraped_targets(const struct target_list *reg, const struct prom_target *prom, size_t nprom,
			       size_t *n)
{
	struct strbuf sb = STRBUF_INIT;

	*n = 0;
	for (size_t i = 0; i < reg->n; i++) {
		const struct target *t = &reg->items[i];
		const struct prom_target *p = find_prom_target(prom, nprom, t);

		if (p && strcmp(p->health, "unknown"))
			continue;
		strbuf_addf(&sb, "%s%s %s%s%s at %s", (*n)++ ? ", " : "", target_kind_name(t->kind),
			    t->name ? "'" : "", t->name ? t->name : t->client_id, t->name ? "'" : "", t->address);
	}
	if (!*n) {
		strbuf_release(&sb);
		return NULL;
	}
	return strbuf_detach(&sb, NULL);
}

/*
 * Wait until Prometheus has scraped every registered target once: until
 * then a target is "unknown" (4 to 6 s after ready, more with a long
 * scrape interval), and a window starting now would miss what it counts.
 * Never fails: what is still missing at the deadline is a warning.
 */
static void wait_for_targets(const struct session *s, const char *url, const struct http_auth *auth,
			     int64_t deadline, const volatile sig_atomic_t *interrupted)
{
	char *missing = NULL, *shown = NULL;
	size_t n = 0, total = 0;
	int64_t last_note = now_ms();

	for (;;) {
		struct target_list reg = { 0 };
		struct prom_target *prom = NULL;
		size_t nprom = 0;
		char *cause = NULL;

		free(missing);
		missing = NULL;
		if (registry_load(s, &reg) == 0 && prom_targets(url, auth, s->id, &prom, &nprom, &cause) == 0) {
			missing = unscraped_targets(&reg, prom, nprom, &n);
			total = reg.n;
		} else {
			missing = xasprintf("its targets cannot be read (%s)", cause ? cause : "see above");
		}
		target_list_release(&reg);
		prom_targets_free(prom, nprom);
		free(cause);
		if (!missing || (interrupted && *interrupted) || now_ms() >= deadline)
			break;
		/* a line when the set changes, and a heartbeat every 10 s */
		if (!shown || strcmp(shown, missing) || now_ms() - last_note >= 10000) {
			progress("waiting for Prometheus to scrape %zu of %zu targets once: %s", n, total, missing);
			free(shown);
			shown = xstrdup(missing);
			last_note = now_ms();
		}
		sleep_ms(POLL_MS);
	}
	if (missing)
		warning("Prometheus has not scraped %zu of the %zu targets of session '%s' yet: %s; a window starting "
			"now misses what they count until their first scrape", n, total, s->id, missing);
	else if (shown)
		progress("every target of session '%s' scraped", s->id);
	free(missing);
	free(shown);
}

/*
 * Before a job that serves the API: refuse when a server of the session runs
 * here, and remove the record another one left (its job has ended), so that
 * the wait below sees the new server's.
 */
static int clear_api_record(const struct session *s)
{
	struct session_api api = { 0 };
	int ret = 0;

	if (session_api_load(s, &api) == 0) {
		if (api.here && api.alive) {
			ret = error("session '%s' is already served at %s (pid %ld); 'stop' ends it", s->id, api.url, api.pid);
		} else {
			char *path = session_path(s, API_RECORD_FILE);

			unlink(path);
			free(path);
		}
	}
	session_api_release(&api);
	return ret;
}

/* Wait until the API server the job runs records where it listens, and say where. */
static int wait_for_api(const struct session *s, int64_t deadline)
{
	struct session_api api = { 0 };
	int ret = -1;

	for (;;) {
		session_api_release(&api);
		if (session_api_load(s, &api) == 0 && api.alive)
			break;
		if (now_ms() > deadline) {
			error("the job's API server did not start; see %s/logs/serve-*.log", s->dir);
			goto out;
		}
		sleep_ms(200);
	}
	progress("the API of session '%s' listens at %s (pid %ld on %s), token in %s/%s", s->id, api.url, api.pid,
		 api.host, s->dir, API_TOKEN_FILE);
	ret = 0;
out:
	session_api_release(&api);
	return ret;
}

int lifecycle_start(const struct session *s, const struct start_options *opts)
{
	const struct launcher *l = launcher_find(s->launcher);
	struct session_run run = { 0 };
	struct launch_request req = { 0 };
	struct job_status job = { 0 };
	char *script = session_path(s, "job.sh");
	char *log_pattern = session_path(s, "logs/prometheus-%j.out");
	char *state_file = session_path(s, "prometheus.json");
	char *job_name = xasprintf(JOB_NAME_PREFIX "%s", s->id);
	char *last_reason = NULL, *why = NULL, *not_ready = NULL, *note = NULL;
	struct http_auth auth = { 0 };
	int64_t deadline, last_note;
	enum launch_state last_state = (enum launch_state)-1;
	int ret = -1;

	if (!l) {
		error("session '%s' names an unknown launcher '%s'", s->id, s->launcher);
		goto out;
	}
	if (!l->takes_slurm_options &&
	    (opts->partition || opts->account || opts->time_limit || opts->nodelist || opts->exclude)) {
		error("%s applies to the Slurm launcher; session '%s' runs Prometheus with the %s launcher",
		      opts->partition ? "--partition" : opts->account ? "--account" : opts->time_limit ? "--time-limit"
		      : opts->nodelist ? "--nodelist" : "--exclude", s->id, l->name);
		goto out;
	}
	if (opts->dry_run) {
		/* rendering is harmless while Prometheus runs: it reads the file only on reload */
		if (render_session(s, 1, opts) < 0)
			goto out;
		printf("%s/prometheus.yml\n%s\n", s->dir, script);
		ret = 0;
		goto out;
	}
	if (session_run_load(s, &run) < 0 || check_not_running(l, s, &run) < 0)
		goto out;
	if (opts->serve_in_job && clear_api_record(s) < 0)
		goto out;
	if (render_session(s, 1, opts) < 0 || auth_load(s->dir, &auth) < 0)
		goto out;
	if (unlink(state_file) < 0 && errno != ENOENT) {
		error("cannot remove '%s': %s", state_file, strerror(errno));
		goto out;
	}
	req.script = script;
	req.log_path = log_pattern;
	req.job_name = job_name;
	req.partition = opts->partition;
	req.account = opts->account;
	req.time_limit = opts->time_limit;
	req.nodelist = opts->nodelist;
	req.exclude = opts->exclude;
	req.workdir = s->dir;
	req.save_before_limit_ms = opts->save_before_limit_ms;
	/* the run before this one is history now, its saved TSDB kept in tsdb/<job>/ */
	session_run_push_history(&run);
	if (l->submit(s, &req, &run.job_id, &run.log_path, &note) < 0)
		goto out;
	run.state = RUN_STARTING;
	run.started_ms = now_ms();
	if (session_run_save(s, &run) < 0) {
		l->kill(s, run.job_id);
		goto out;
	}
	progress("submitted Prometheus as %s job %s (log: %s)", l->name, run.job_id, run.log_path);
	if (note)
		progress("%s", note);
	deadline = run.started_ms + opts->wait_ms;
	last_note = run.started_ms;
	for (;;) {
		cJSON *job_state;
		const char *script_state;

		if (opts->interrupted && *opts->interrupted) {
			why = xasprintf("interrupted by %s", sigabbrev_np(*opts->interrupted) ? sigabbrev_np(*opts->interrupted) : "a signal");
			break;
		}
		job_status_release(&job);
		if (l->query(s, run.job_id, &job) < 0) {
			why = xstrdup("cannot query the job (see above)");
			break;
		}
		if (job.state == LAUNCH_PENDING && (job.state != last_state || !last_reason ||
						 strcmp(last_reason, job.reason ? job.reason : ""))) {
			if (job.reason)
				progress("job %s pending (%s)", run.job_id, job.reason);
			else
				progress("job %s pending", run.job_id);
			free(last_reason);
			last_reason = xstrdup(job.reason ? job.reason : "");
		}
		if (job.state == LAUNCH_ENDED || job.state == LAUNCH_GONE) {
			why = explain_job_end(s, &run, &job);
			break;
		}
		if (job.state == LAUNCH_RUNNING && last_state != LAUNCH_RUNNING)
			progress("job %s running on %s; waiting for Prometheus to be ready", run.job_id,
				 job.node ? job.node : "?");
		last_state = job.state;
		job_state = read_job_state(s);
		script_state = job_state ? json_string(job_state, "state") : NULL;
		if (job.state == LAUNCH_RUNNING && script_state && !strcmp(script_state, JOB_STATE_RUNNING)) {
			char *url = prometheus_url(s, job_state, job.node);

			free(not_ready);
			not_ready = NULL;
			if (url && prom_ready(url, &auth, 2000, &not_ready) == 1) {
				free(run.url);
				run.url = url;
				free(run.node);
				run.node = xstrdup(job.node ? job.node : json_string(job_state, "host"));
				free(run.tsdb_local);
				run.tsdb_local = json_strdup(job_state, "tsdb");
				cJSON_Delete(job_state);
				break;
			}
			free(url);
		}
		cJSON_Delete(job_state);
		if (now_ms() >= deadline) {
			char *tail = log_tail(run.log_path, 8);

			if (job.state == LAUNCH_PENDING)
				why = xasprintf("the job was still pending (%s) when --wait expired after %llds",
						job.reason ? job.reason : "no reason given",
						(long long)(opts->wait_ms / 1000));
			else
				why = xasprintf("Prometheus was not ready when --wait expired after %llds%s%s%s%s",
						(long long)(opts->wait_ms / 1000), not_ready ? " (" : "",
						not_ready ? not_ready : "", not_ready ? ")" : "", tail);
			free(tail);
			break;
		}
		/* a heartbeat every 10 s, so a slow start never looks like a hang */
		if (now_ms() - last_note >= 10000) {
			if (last_note && job.state == LAUNCH_RUNNING)
				progress("still waiting for Prometheus on %s%s%s", job.node ? job.node : "?",
					 not_ready ? ": " : "", not_ready ? not_ready : "");
			else if (last_note)
				progress("job %s still pending (%s)", run.job_id, job.reason ? job.reason : "no reason given");
			last_note = now_ms();
		}
		sleep_ms(POLL_MS);
	}
	if (why) {
		/* leave nothing behind: a failed start can simply be run again */
		int killed = l->kill(s, run.job_id);

		record_failure(s, &run, why);
		if (killed < 0)
			error("Prometheus did not start for session '%s': %s; its job %s may still be queued: cancel it "
			      "with 'benchmon delete --session %s --force' (or scancel %s)", s->id, why, run.job_id,
			      s->id, run.job_id);
		else
			error("Prometheus did not start for session '%s': %s; job %s was cancelled", s->id, why,
			      run.job_id);
		goto out;
	}
	run.state = RUN_RUNNING;
	run.ready_ms = now_ms();
	free(run.last_error);
	run.last_error = NULL;
	if (session_run_save(s, &run) < 0)
		goto out;
	progress("Prometheus ready at %s (job %s on %s)", run.url, run.job_id, run.node ? run.node : "?");
	if (opts->serve_in_job && wait_for_api(s, deadline) < 0)
		goto out;
	if (opts->wait_targets)
		wait_for_targets(s, run.url, &auth, deadline, opts->interrupted);
	ret = 0;
out:
	http_auth_release(&auth);
	job_status_release(&job);
	session_run_release(&run);
	free(not_ready);
	free(why);
	free(note);
	free(last_reason);
	free(job_name);
	free(state_file);
	free(log_pattern);
	free(script);
	return ret;
}

/* The save of the current job, once it is in the session directory; NULL before. Caller frees. */
static char *find_current_save(const struct launcher *l, const struct session *s, const struct session_run *run)
{
	struct tsdb_save_list saves;
	const struct tsdb_save *save;
	char *tag, *path = NULL;

	if (tsdb_saves_load(s, &saves) < 0)
		return NULL;
	tag = l->job_tag(run->job_id);
	save = tsdb_saves_find(&saves, tag);
	if (save)
		path = xstrdup(save->path);
	free(tag);
	tsdb_save_list_release(&saves);
	return path;
}

int lifecycle_stop(const struct session *s, int64_t wait_ms)
{
	const struct launcher *l = launcher_find(s->launcher);
	struct session_run run = { 0 };
	struct job_status job = { 0 };
	int64_t deadline, confirm_deadline, last_note;
	char *saved_to = NULL, *tag = NULL;
	const char *script_state = NULL;
	cJSON *job_state = NULL;
	int alive, ret = -1;

	if (!l) {
		error("session '%s' names an unknown launcher '%s'", s->id, s->launcher);
		goto out;
	}
	if (session_run_load(s, &run) < 0 && run_from_job_state(s, &run) < 0)
		goto out;
	if (run.state == RUN_CREATED || run.state == RUN_STOPPED || run.state == RUN_FAILED || !run.job_id) {
		/* a failed run may have left a job behind; make sure it is gone */
		if (run.state == RUN_FAILED && run.job_id && job_alive(l, s, &run, &job) > 0 && l->kill(s, run.job_id) < 0)
			goto out;
		progress("session '%s' is not running (%s)", s->id, run_state_name(run.state));
		ret = 0;
		goto out;
	}
	alive = job_alive(l, s, &run, &job);
	if (alive < 0)
		goto out;
	if (alive && job.state == LAUNCH_PENDING) {
		/* a pending job cannot be signalled, and has nothing to save */
		if (l->kill(s, run.job_id) < 0)
			goto out;
		if (record_end(s, &run, RUN_STOPPED, "stopped while its job was still pending: cancelled, no data", NULL) < 0)
			goto out;
		progress("job %s was still pending: cancelled it (Prometheus never ran, so there is no data)", run.job_id);
		ret = 0;
		goto out;
	}
	if (!alive) {
		/* the job ended on its own (time limit, scancel, node failure): record what it left */
		reconcile_ended(l, s, &run, &job);
		if (session_run_save(s, &run) < 0)
			goto out;
		if (run.state == RUN_STOPPED) {
			progress("%s", run.last_error);
			ret = 0;
		} else {
			error("session '%s': %s", s->id, run.last_error);
		}
		goto out;
	}
	tag = l->job_tag(run.job_id);
	progress("stopping job %s: Prometheus saves its TSDB into %s/tsdb/%s", run.job_id, s->dir, tag);
	if (l->request_stop(s, run.job_id) < 0)
		goto out;
	/* wait for the job script's save, then for the job to end */
	deadline = now_ms() + wait_ms;
	last_note = now_ms();
	for (;;) {
		if (now_ms() - last_note >= 10000) {
			progress("still saving the TSDB (%llds so far)", (long long)((now_ms() - deadline + wait_ms) / 1000));
			last_note = now_ms();
		}
		cJSON_Delete(job_state);
		job_state = read_job_state(s);
		script_state = job_state ? json_string(job_state, "state") : NULL;
		if ((saved_to = find_current_save(l, s, &run)))
			break;
		if (script_state && !strcmp(script_state, JOB_STATE_SAVE_FAILED))
			break;
		job_status_release(&job);
		alive = job_alive(l, s, &run, &job);
		if (alive < 0)
			goto out;
		if (!alive) {
			/* the job may have saved just before it ended */
			saved_to = find_current_save(l, s, &run);
			break;
		}
		if (now_ms() >= deadline) {
			l->kill(s, run.job_id);
			record_failure(s, &run, "the TSDB copy did not finish in time; the job was cancelled");
			error("job %s did not save the TSDB within %llds; it was cancelled and no copy was kept",
			      run.job_id, (long long)(wait_ms / 1000));
			goto out;
		}
		sleep_ms(POLL_MS);
	}
	confirm_deadline = now_ms() + STOP_CONFIRM_MS;
	for (;;) {
		job_status_release(&job);
		alive = job_alive(l, s, &run, &job);
		if (alive == 0)
			break;
		if (alive < 0 || now_ms() >= confirm_deadline) {
			l->kill(s, run.job_id);
			if (alive < 0)
				goto out;
			warning("job %s did not end after saving; it was cancelled", run.job_id);
			break;
		}
		sleep_ms(POLL_MS);
	}
	if (!saved_to) {
		char *tail = log_tail(run.log_path, 6);
		const char *local = job_state ? json_string(job_state, "tsdb") : run.tsdb_local;
		char *why = xasprintf("the job ended without saving the TSDB (%s)%s%s%s%s%s",
				      script_state ? script_state : "no word from the job script",
				      local ? "; the data stays on " : "", local ? (run.node ? run.node : "its node") : "",
				      local ? " in " : "", local ? local : "", tail);

		record_failure(s, &run, why);
		error("session '%s': %s", s->id, why);
		free(why);
		free(tail);
		goto out;
	}
	if (record_end(s, &run, RUN_STOPPED, NULL, saved_to) < 0)
		goto out;
	progress("stopped; TSDB saved in %s", saved_to);
	ret = 0;
out:
	cJSON_Delete(job_state);
	job_status_release(&job);
	session_run_release(&run);
	free(saved_to);
	free(tag);
	return ret;
}

int lifecycle_kill(const struct session *s)
{
	const struct launcher *l = launcher_find(s->launcher);
	struct session_run run = { 0 };
	int ret = -1;

	char *why = NULL;
	int ours;

	if (!l || (session_run_load(s, &run) < 0 && run_from_job_state(s, &run) < 0))
		goto out;
	if (!run.job_id || (run.state != RUN_STARTING && run.state != RUN_RUNNING)) {
		ret = 0;
		goto out;
	}
	ours = l->is_ours(s, run.job_id, &why);
	if (ours < 0) {
		error("cannot cancel job %s of session '%s' from here: %s", run.job_id, s->id, why ? why : "see above");
		goto out;
	}
	/* a job that ended, or whose id now belongs to someone else, is left alone */
	if (ours && l->kill(s, run.job_id) < 0)
		goto out;
	ret = 0;
out:
	free(why);
	session_run_release(&run);
	return ret;
}

int lifecycle_force_remove(const char *id)
{
	struct session s = { 0 };
	cJSON *state;
	const char *job;
	int ret;

	s.id = xstrdup(id);
	s.dir = session_dir_for(id);
	state = read_job_state(&s);
	job = state ? json_string(state, "job") : NULL;
	if (job) {
		char *job_id = NULL;
		const struct launcher *l = launcher_for_tag(job, &job_id);

		if (l) {
			s.launcher = xstrdup(l->name);
			if (lifecycle_kill(&s) < 0)
				warning("could not cancel job %s of session '%s'; cancel it by hand", job, id);
		} else {
			warning("session '%s' names a job '%s' that no launcher knows; cancel it by hand if it runs", id, job);
		}
		free(job_id);
	}
	cJSON_Delete(state);
	ret = session_remove(&s);
	session_release(&s);
	return ret;
}

int lifecycle_reload(const struct session *s)
{
	struct session_run run = { 0 };
	struct http_auth auth = { 0 };
	char *cause = NULL;
	int ret = -1;

	if (session_run_load(s, &run) < 0)
		goto out;
	if (run.state != RUN_RUNNING || !run.url) {
		error("session '%s' is not running (%s); 'benchmon start' renders the configuration", s->id,
		      run_state_name(run.state));
		goto out;
	}
	if (render_session(s, 0, NULL) < 0 || auth_load(s->dir, &auth) < 0)
		goto out;
	if (prom_reload(run.url, &auth, &cause) < 0) {
		error("reload of %s failed: %s", run.url, cause);
		goto out;
	}
	ret = 0;
out:
	http_auth_release(&auth);
	free(cause);
	session_run_release(&run);
	return ret;
}

int lifecycle_reload_if_running(const struct session *s)
{
	struct session_run run;
	int ret = 0;

	if (session_run_load(s, &run) == 0 && run.state == RUN_RUNNING)
		ret = lifecycle_reload(s) < 0 ? -1 : 1;
	session_run_release(&run);
	return ret;
}

int lifecycle_check_monitoring(const struct session *s, const struct session_run *run)
{
	struct http_auth auth = { 0 };
	char *cause = NULL;
	int ready, ret = 0;

	if (run->state != RUN_RUNNING || !run->url)
		return error("session '%s' is not running (%s); start it with 'benchmon start --session %s'", s->id,
			     run_state_name(run->state), s->id);
	if (auth_load(s->dir, &auth) < 0)
		return -1;
	ready = prom_ready(run->url, &auth, 5000, &cause);
	if (ready != 1)
		ret = error("the Prometheus of session '%s' at %s does not answer (%s)%s; see 'benchmon status "
			    "--session %s'", s->id, run->url, cause ? cause : "no reason given",
			    ready == PROM_STARTING ? "" : ": its job may have ended", s->id);
	free(cause);
	http_auth_release(&auth);
	return ret;
}

static const char *health_of(const struct session_status *st, const struct target *t, const char **last_error)
{
	const struct prom_target *p = find_prom_target(st->prom, st->nprom, t);

	*last_error = p ? p->last_error : "";
	return p ? p->health : "unknown";
}

int lifecycle_status(const struct session *s, struct session_status *st)
{
	const struct launcher *l = launcher_find(s->launcher);
	struct http_auth auth = { 0 };
	char *cause = NULL;
	int ended = 0;

	memset(st, 0, sizeof(*st));
	if (!l)
		return error("session '%s' names an unknown launcher '%s'", s->id, s->launcher);
	if (session_run_load(s, &st->run) < 0 || registry_load(s, &st->registry) < 0 ||
	    tsdb_saves_load(s, &st->saves) < 0)
		return -1;
	st->state = st->run.state;
	if ((st->run.state == RUN_STARTING || st->run.state == RUN_RUNNING) && st->run.job_id) {
		if (l->query(s, st->run.job_id, &st->job) < 0) {
			st->problem = xasprintf("cannot query job %s (see above)", st->run.job_id);
		} else {
			st->have_job = 1;
			ended = st->job.state == LAUNCH_ENDED || st->job.state == LAUNCH_GONE;
		}
	}
	if (ended) {
		/* reported, never recorded: a read command does not write, and stop or start records it */
		char *copy = NULL;
		char *what = describe_job_end(l, s, &st->run, &st->job, &st->saves, &st->state, &copy);

		if (st->state == RUN_STOPPED) {
			st->note = what;
			free(st->run.tsdb_copy);
			st->run.tsdb_copy = copy;
		} else {
			st->problem = what;
		}
	}
	/* Prometheus may well answer while Slurm does not: ask it either way, unless its job ended */
	if (st->run.state == RUN_RUNNING && st->run.url && !ended) {
		if (auth_load(s->dir, &auth) < 0 && !st->problem)
			st->problem = xasprintf("cannot read the password of session '%s' (see above)", s->id);
		st->ready = prom_ready(st->run.url, &auth, 3000, &cause) == 1;
		if (!st->ready && !st->problem)
			st->problem = xasprintf("Prometheus at %s does not answer: %s", st->run.url, cause);
		free(cause);
		cause = NULL;
		if (st->ready) {
			struct prom_health h;

			prom_health(st->run.url, &auth, s->id, &h);
			if (h.targets_cause && !st->problem)
				st->problem = xasprintf("cannot read targets from Prometheus: %s", h.targets_cause);
			if (h.alerts_cause && !st->problem)
				st->problem = xasprintf("cannot read alerts from Prometheus: %s", h.alerts_cause);
			st->prom = h.targets;
			st->nprom = h.ntargets;
			st->alerts = h.alerts;
			st->nalerts = h.nalerts;
			free(h.targets_cause);
			free(h.alerts_cause);
		}
		http_auth_release(&auth);
	}
	st->now_ms = now_ms();
	registry_heartbeats(s, &st->heartbeats, &st->nheartbeats);
	if (session_api_load(s, &st->api) < 0)
		session_api_release(&st->api);
	st->targets = xcalloc(st->registry.n + 1, sizeof(*st->targets));
	for (size_t i = 0; i < st->registry.n; i++) {
		st->targets[i].target = &st->registry.items[i];
		st->targets[i].health = health_of(st, &st->registry.items[i], &st->targets[i].last_error);
		st->targets[i].klass = health_classify(&st->registry.items[i], st->targets[i].health, st->alerts,
						       st->nalerts);
	}
	return 0;
}

void session_status_release(struct session_status *st)
{
	session_run_release(&st->run);
	job_status_release(&st->job);
	free(st->problem);
	free(st->note);
	tsdb_save_list_release(&st->saves);
	target_list_release(&st->registry);
	free(st->targets);
	prom_targets_free(st->prom, st->nprom);
	prom_alerts_free(st->alerts, st->nalerts);
	heartbeats_free(st->heartbeats, st->nheartbeats);
	session_api_release(&st->api);
	memset(st, 0, sizeof(*st));
}

/* key: the time, or null when unknown (0) */
static void json_add_time_or_null(cJSON *obj, const char *key, int64_t ms)
{
	if (ms)
		json_add_time(obj, key, ms);
	else
		cJSON_AddNullToObject(obj, key);
}

/* Has client_id a heartbeat that is stale? */
static int client_is_stale(const struct session_status *st, const char *client_id)
{
	for (size_t i = 0; i < st->nheartbeats; i++)
		if (!strcmp(st->heartbeats[i].client_id, client_id))
			return heartbeat_is_stale(&st->heartbeats[i], st->now_ms);
	return 0;
}

static const char *job_state_text(const struct session_status *st)
{
	if (st->have_job)
		return st->job.state_name;
	return NULL;
}

/* Counts of targets per health class. */
void status_count_classes(const struct session_status *st, size_t counts[HEALTH_CLASSES])
{
	memset(counts, 0, HEALTH_CLASSES * sizeof(*counts));
	for (size_t i = 0; i < st->registry.n; i++)
		counts[st->targets[i].klass]++;
}

/* The node names of the registry, each once, in registration order; *n of them. Caller frees the array. */
const char **status_node_names(const struct session_status *st, size_t *n)
{
	const char **names = xcalloc(st->registry.n + 1, sizeof(*names));

	*n = 0;
	for (size_t i = 0; i < st->registry.n; i++) {
		const char *node = st->registry.items[i].node;
		size_t k;

		for (k = 0; k < *n && strcmp(names[k], node); k++)
			;
		if (k == *n)
			names[(*n)++] = node;
	}
	return names;
}

/* A node's class: the worst of its targets'. */
enum health_class status_node_class(const struct session_status *st, const char *node)
{
	enum health_class c = HEALTH_UNKNOWN;

	for (size_t i = 0; i < st->registry.n; i++)
		if (!strcmp(st->registry.items[i].node, node) && st->targets[i].klass > c)
			c = st->targets[i].klass;
	return c;
}

/* The registered target an alert is about, or NULL. */
const struct target *status_alert_target(const struct session_status *st, const struct prom_alert *a)
{
	for (size_t i = 0; i < st->registry.n; i++)
		if (health_alert_is_of(a, &st->registry.items[i]))
			return &st->registry.items[i];
	return NULL;
}

static cJSON *alert_json(const struct prom_alert *a, const struct target *t)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "alert", a->name);
	cJSON_AddStringToObject(o, "severity", a->severity);
	cJSON_AddStringToObject(o, "state", a->state);
	json_add_string_or_null(o, "node", t ? t->node : *a->node ? a->node : NULL);
	json_add_string_or_null(o, "gpu", *a->gpu ? a->gpu : NULL);
	json_add_string_or_null(o, "instance", *a->instance ? a->instance : NULL);
	json_add_time_or_null(o, "since", a->active_ms);
	cJSON_AddStringToObject(o, "summary", a->summary);
	return o;
}

cJSON *lifecycle_status_json(const struct session *s, const struct session_status *st)
{
	cJSON *root = cJSON_CreateObject(), *targets, *saves, *stale, *health, *node_list, *alerts;
	size_t counts[HEALTH_CLASSES], nnodes;
	const char **nodes = status_node_names(st, &nnodes);

	status_count_classes(st, counts);
	health = cJSON_AddObjectToObject(root, "health_counts");
	for (int c = HEALTH_HEALTHY; c < HEALTH_CLASSES; c++)
		cJSON_AddNumberToObject(health, health_class_name((enum health_class)c), (double)counts[c]);
	cJSON_AddNumberToObject(health, health_class_name(HEALTH_UNKNOWN), (double)counts[HEALTH_UNKNOWN]);

	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "launcher", s->launcher);
	cJSON_AddStringToObject(root, "state", run_state_name(st->state));
	json_add_string_or_null(root, "job_id", st->run.job_id);
	json_add_string_or_null(root, "job_state", job_state_text(st));
	json_add_string_or_null(root, "node", st->have_job && st->job.node ? st->job.node : st->run.node);
	json_add_string_or_null(root, "prometheus_url", st->run.url);
	cJSON_AddBoolToObject(root, "ready", st->ready);
	json_add_string_or_null(root, "error", st->problem ? st->problem : st->run.last_error);
	json_add_string_or_null(root, "problem", st->problem ? st->problem : st->run.last_error);
	json_add_string_or_null(root, "log", st->run.log_path);
	json_add_string_or_null(root, "tsdb_copy", st->run.tsdb_copy);
	json_add_string_or_null(root, "note", st->note);
	cJSON_AddNumberToObject(root, "tsdb_bytes", (double)st->saves.bytes);
	saves = cJSON_AddArrayToObject(root, "tsdb_saves");
	for (size_t i = 0; i < st->saves.n; i++) {
		const struct tsdb_save *v = &st->saves.items[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "job", v->job);
		json_add_string_or_null(o, "host", v->host);
		cJSON_AddStringToObject(o, "path", v->path);
		json_add_string_or_null(o, "why", v->why);
		json_add_time_or_null(o, "from", v->started_ms);
		json_add_time_or_null(o, "to", v->ended_ms);
		cJSON_AddNumberToObject(o, "bytes", (double)v->bytes);
		cJSON_AddItemToArray(saves, o);
	}
	json_add_string_or_null(root, "api_url", st->api.alive ? st->api.url : NULL);
	cJSON_AddNumberToObject(root, "clients", (double)st->registry.nclients);
	stale = cJSON_AddArrayToObject(root, "stale_clients");
	for (size_t i = 0; i < st->nheartbeats; i++) {
		const struct heartbeat *hb = &st->heartbeats[i];
		cJSON *o;

		if (!heartbeat_is_stale(hb, st->now_ms))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "client_id", hb->client_id);
		json_add_time_or_null(o, "last_heartbeat", hb->at_ms);
		cJSON_AddNumberToObject(o, "timeout_s", (double)hb->timeout_s);
		cJSON_AddItemToArray(stale, o);
	}
	targets = cJSON_AddArrayToObject(root, "targets");
	for (size_t i = 0; i < st->registry.n; i++) {
		const struct target *t = st->targets[i].target;
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "client_id", t->client_id);
		cJSON_AddStringToObject(o, "kind", target_kind_name(t->kind));
		json_add_string_or_null(o, "name", t->name);
		cJSON_AddStringToObject(o, "node", t->node);
		json_add_string_or_null(o, "node_address", t->node_address);
		cJSON_AddStringToObject(o, "address", t->address);
		cJSON_AddStringToObject(o, "url", t->url);
		cJSON_AddStringToObject(o, "health", st->targets[i].health);
		json_add_string_or_null(o, "error", *st->targets[i].last_error ? st->targets[i].last_error : NULL);
		cJSON_AddStringToObject(o, "last_error", st->targets[i].last_error);
		cJSON_AddBoolToObject(o, "stale", client_is_stale(st, t->client_id));
		cJSON_AddStringToObject(o, "class", health_class_name(st->targets[i].klass));
		alerts = cJSON_AddArrayToObject(o, "alerts");
		for (size_t k = 0; k < st->nalerts; k++)
			if (!strcmp(st->alerts[k].state, "firing") && health_alert_is_of(&st->alerts[k], t))
				cJSON_AddItemToArray(alerts, alert_json(&st->alerts[k], t));
		cJSON_AddItemToArray(targets, o);
	}
	node_list = cJSON_AddArrayToObject(root, "nodes");
	for (size_t k = 0; k < nnodes; k++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "node", nodes[k]);
		cJSON_AddStringToObject(o, "class", health_class_name(status_node_class(st, nodes[k])));
		cJSON_AddItemToArray(node_list, o);
	}
	alerts = cJSON_AddArrayToObject(root, "alerts");
	for (size_t k = 0; k < st->nalerts; k++)
		cJSON_AddItemToArray(alerts, alert_json(&st->alerts[k], status_alert_target(st, &st->alerts[k])));
	free(nodes);
	return root;
}

