#include "session/session.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/auth.h"
#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

#define STATE_FILE_MAX (1 << 20)
#define SESSION_SCHEMA 1
#define RUN_CLAIM_STALE_S 60

static const char *const run_state_names[] = {
	[RUN_CREATED] = "created",
	[RUN_STARTING] = "starting",
	[RUN_RUNNING] = "running",
	[RUN_STOPPED] = "stopped",
	[RUN_FAILED] = "failed",
};

const char *run_state_name(enum run_state state)
{
	return run_state_names[state];
}

char *session_home(void)
{
	const char *home = getenv("BENCHMON_HOME");

	if (home && *home)
		return xstrdup(home);
	home = getenv("HOME");
	return xasprintf("%s/.benchmon", home && *home ? home : ".");
}

char *session_dir_for(const char *id)
{
	char *home = session_home();
	char *dir = xasprintf("%s/sessions/%s", home, id);

	free(home);
	return dir;
}

int session_prometheus_is_remote(const struct session *s)
{
	return !strcmp(s->launcher, "slurm") && strcmp(s->listen, "localhost") && strncmp(s->listen, "127.", 4) &&
	       strcmp(s->listen, "::1");
}

char *session_path(const struct session *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

static cJSON *session_to_json(const struct session *s)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddNumberToObject(root, "schema", SESSION_SCHEMA);
	cJSON_AddStringToObject(root, "session", s->id);
	json_add_string_or_null(root, "prom_host", s->prom_host);
	cJSON_AddStringToObject(root, "listen", s->listen);
	cJSON_AddNumberToObject(root, "port", s->port);
	cJSON_AddNumberToObject(root, "scrape_interval_ms", (double)s->scrape_interval_ms);
	cJSON_AddNumberToObject(root, "retention_ms", (double)s->retention_ms);
	cJSON_AddStringToObject(root, "launcher", s->launcher);
	cJSON_AddNumberToObject(root, "created_ms", (double)s->created_ms);
	if (s->rules)
		cJSON_AddItemToObject(root, "rules", cJSON_Parse(s->rules));
	return root;
}

int session_create(struct session *s)
{
	char *home = session_home();
	char *sessions = xasprintf("%s/sessions", home);
	char *staging = xasprintf("%s/.new-%s.%s.%ld", sessions, s->id, host_tag(), (long)getpid());
	char *path = NULL;
	cJSON *root = NULL;
	int ret = -1;

	s->dir = xasprintf("%s/%s", sessions, s->id);
	if (mkdir_p(sessions, 0700) < 0)
		goto out;
	if (path_exists(s->dir)) {
		error("session '%s' already exists in '%s' (use another --run-id, or 'benchmon delete --session %s')",
		      s->id, sessions, s->id);
		goto out;
	}
	/* Build the session in a staging directory and rename it into place, so it appears whole. */
	remove_tree(staging);
	if (mkdir(staging, 0700) < 0) {
		error("cannot create directory '%s': %s", staging, strerror(errno));
		goto out;
	}
	path = xasprintf("%s/targets", staging);
	if (mkdir(path, 0700) < 0) {
		error("cannot create directory '%s': %s", path, strerror(errno));
		goto fail;
	}
	free(path);
	path = xasprintf("%s/logs", staging);
	if (mkdir(path, 0700) < 0) {
		error("cannot create directory '%s': %s", path, strerror(errno));
		goto fail;
	}
	free(path);
	path = xasprintf("%s/session.json", staging);
	s->created_ms = now_ms();
	root = session_to_json(s);
	if (json_write_file(path, root, 1) < 0 || auth_password_create(staging) < 0)
		goto fail;
	if (rename(staging, s->dir) < 0) {
		if (errno == EEXIST || errno == ENOTEMPTY)
			error("session '%s' already exists in '%s'", s->id, sessions);
		else
			error("cannot rename '%s' to '%s': %s", staging, s->dir, strerror(errno));
		goto fail;
	}
	ret = 0;
	goto out;
fail:
	remove_tree(staging);
out:
	cJSON_Delete(root);
	free(path);
	free(staging);
	free(sessions);
	free(home);
	return ret;
}

int session_load(const char *id, struct session *s)
{
	char *path;
	cJSON *root = NULL;
	int ret = -1;
	char *hint;

	memset(s, 0, sizeof(*s));
	s->dir = session_dir_for(id);
	path = xasprintf("%s/session.json", s->dir);
	hint = xasprintf("remove the session with 'benchmon delete --session %s --force' and create it again", id);
	if (!path_exists(s->dir)) {
		char *home = session_home();

		error("no session '%s' in '%s/sessions' (see 'benchmon sessions')", id, home);
		free(home);
		goto out;
	}
	if (json_read_file(path, STATE_FILE_MAX, 0, &root, hint) != 0)
		goto out;
	s->id = xstrdup(id);
	s->prom_host = json_strdup(root, "prom_host");
	s->listen = json_strdup(root, "listen");
	s->launcher = json_strdup(root, "launcher");
	s->port = (int)json_int(root, "port", 0);
	s->scrape_interval_ms = json_int(root, "scrape_interval_ms", 0);
	s->retention_ms = json_int(root, "retention_ms", 0);
	s->created_ms = json_int(root, "created_ms", 0);
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(root, "rules")))
		s->rules = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(root, "rules"));
	if (!s->listen || !s->launcher || s->port < 1 || s->port > 65535 || s->scrape_interval_ms <= 0 ||
	    s->retention_ms <= 0) {
		error("'%s' lacks a required field (corrupted?); %s", path, hint);
		goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		session_release(s);
	cJSON_Delete(root);
	free(hint);
	free(path);
	return ret;
}

void session_release(struct session *s)
{
	free(s->id);
	free(s->dir);
	free(s->prom_host);
	free(s->listen);
	free(s->launcher);
	free(s->rules);
	memset(s, 0, sizeof(*s));
}

static void history_from_json(const cJSON *history, struct session_run *run)
{
	const cJSON *item;
	size_t n = 0;

	if (!cJSON_IsArray(history))
		return;
	run->history = xcalloc((size_t)cJSON_GetArraySize(history) + 1, sizeof(*run->history));
	cJSON_ArrayForEach(item, history) {
		struct run_job *j = &run->history[n];

		if (!cJSON_IsObject(item) || !json_string(item, "job_id"))
			continue;
		j->job_id = json_strdup(item, "job_id");
		j->node = json_strdup(item, "node");
		j->state = json_strdup(item, "state");
		j->tsdb_copy = json_strdup(item, "tsdb_copy");
		j->started_ms = json_int(item, "started_ms", 0);
		j->ready_ms = json_int(item, "ready_ms", 0);
		j->stopped_ms = json_int(item, "stopped_ms", 0);
		n++;
	}
	run->nhistory = n;
}

int session_run_load(const struct session *s, struct session_run *run)
{
	char *path = session_path(s, "run.json");
	char *hint = xasprintf("'benchmon stop --session %s' finds the job from prometheus.json, and "
			       "'benchmon delete --session %s --force' cancels it", s->id, s->id);
	cJSON *root = NULL;
	const char *state;
	int ret;

	memset(run, 0, sizeof(*run));
	ret = json_read_file(path, STATE_FILE_MAX, 1, &root, hint);
	if (ret < 0)
		goto out;
	if (ret == 1) {
		run->state = RUN_CREATED;
		ret = 0;
		goto out;
	}
	state = json_string(root, "state");
	ret = -1;
	for (size_t i = 0; state && i < sizeof(run_state_names) / sizeof(run_state_names[0]); i++) {
		if (!strcmp(state, run_state_names[i])) {
			run->state = (enum run_state)i;
			ret = 0;
		}
	}
	if (ret < 0) {
		error("'%s' has no valid state (corrupted?); %s", path, hint);
		goto out;
	}
	run->job_id = json_strdup(root, "job_id");
	run->node = json_strdup(root, "node");
	run->url = json_strdup(root, "url");
	run->log_path = json_strdup(root, "log");
	run->tsdb_local = json_strdup(root, "tsdb_local");
	run->tsdb_copy = json_strdup(root, "tsdb_copy");
	run->last_error = json_strdup(root, "last_error");
	run->started_ms = json_int(root, "started_ms", 0);
	run->ready_ms = json_int(root, "ready_ms", 0);
	run->stopped_ms = json_int(root, "stopped_ms", 0);
	run->generation = json_int(root, "generation", 0);
	history_from_json(cJSON_GetObjectItemCaseSensitive(root, "history"), run);
out:
	cJSON_Delete(root);
	free(hint);
	free(path);
	return ret;
}

/* The generation number of the run.json on disk; 0 when there is none. */
static int run_generation_on_disk(const struct session *s, int64_t *generation)
{
	char *path = session_path(s, "run.json");
	cJSON *root = NULL;
	int ret = json_read_file(path, STATE_FILE_MAX, 1, &root, NULL);

	*generation = ret == 0 ? json_int(root, "generation", 0) : 0;
	cJSON_Delete(root);
	free(path);
	return ret < 0 ? -1 : 0;
}

static char *claim_path(const struct session *s, int64_t generation)
{
	return xasprintf("%s/run.json.gen-%lld", s->dir, (long long)generation);
}

static void unlink_claim(const struct session *s, int64_t generation)
{
	char *path = claim_path(s, generation);

	unlink(path);
	free(path);
}

/* Did the claim at path come from a process of this host that no longer runs? */
static int claimant_is_gone(const char *path, const char *host)
{
	struct strbuf text = STRBUF_INIT;
	char who[256];
	long pid = 0;
	int gone = 0;

	if (read_file(path, &text, 4096, 1) == 0 && sscanf(text.buf, "%255s %ld", who, &pid) == 2 &&
	    !strcmp(who, host) && pid > 0)
		gone = kill((pid_t)pid, 0) < 0 && errno == ESRCH;
	strbuf_release(&text);
	return gone;
}

/* Claim generation next of run.json: 0, 1 when another writer holds it, -1 on error. */
static int claim_generation(const struct session *s, int64_t next)
{
	char *path = claim_path(s, next);
	char host[256] = "";
	struct stat st;
	int fd, ret = 1;

	gethostname(host, sizeof(host) - 1);
	for (int attempt = 0; attempt < 2; attempt++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dprintf(fd, "%s %ld\n", host, (long)getpid());
			close(fd);
			ret = 0;
			break;
		}
		if (errno != EEXIST) {
			ret = error("cannot create '%s': %s", path, strerror(errno));
			break;
		}
		/*
		 * A writer that died between its claim and its rename must not block
		 * the session: one of this host that is gone, or any after a minute.
		 * Taking a claim over is safe because the generation on disk is
		 * checked again after claiming.
		 */
		if (attempt || stat(path, &st) < 0 ||
		    (!claimant_is_gone(path, host) && time(NULL) - st.st_mtime < RUN_CLAIM_STALE_S) || unlink(path) < 0)
			break;
	}
	free(path);
	return ret;
}

int session_run_save(const struct session *s, struct session_run *run)
{
	char *path = session_path(s, "run.json");
	cJSON *root = cJSON_CreateObject(), *history;
	int64_t on_disk = 0, next = run->generation + 1;
	int claimed, ret = -1;

	/* a run rebuilt from the job's own state, over a run.json that no longer parses, replaces it */
	if (run->generation < 0) {
		run->generation = 0;
		next = 1;
		goto write;
	}
	claimed = claim_generation(s, next);
	if (claimed < 0)
		goto out;
	if (claimed == 0 && run_generation_on_disk(s, &on_disk) < 0) {
		unlink_claim(s, next);
		goto out;
	}
	if (claimed > 0 || on_disk != run->generation) {
		if (claimed == 0)
			unlink_claim(s, next);
		error("session '%s' was changed by another benchmon command while this one ran; nothing was "
		      "written: see 'benchmon status --session %s' and run the command again", s->id, s->id);
		goto out;
	}
write:
	cJSON_AddNumberToObject(root, "generation", (double)next);
	cJSON_AddStringToObject(root, "state", run_state_name(run->state));
	json_add_string_or_null(root, "job_id", run->job_id);
	json_add_string_or_null(root, "node", run->node);
	json_add_string_or_null(root, "url", run->url);
	json_add_string_or_null(root, "log", run->log_path);
	json_add_string_or_null(root, "tsdb_local", run->tsdb_local);
	json_add_string_or_null(root, "tsdb_copy", run->tsdb_copy);
	json_add_string_or_null(root, "last_error", run->last_error);
	cJSON_AddNumberToObject(root, "started_ms", (double)run->started_ms);
	cJSON_AddNumberToObject(root, "ready_ms", (double)run->ready_ms);
	cJSON_AddNumberToObject(root, "stopped_ms", (double)run->stopped_ms);
	history = cJSON_AddArrayToObject(root, "history");
	for (size_t i = 0; i < run->nhistory; i++) {
		const struct run_job *j = &run->history[i];
		cJSON *o = cJSON_CreateObject();

		json_add_string_or_null(o, "job_id", j->job_id);
		json_add_string_or_null(o, "node", j->node);
		json_add_string_or_null(o, "state", j->state);
		json_add_string_or_null(o, "tsdb_copy", j->tsdb_copy);
		cJSON_AddNumberToObject(o, "started_ms", (double)j->started_ms);
		cJSON_AddNumberToObject(o, "ready_ms", (double)j->ready_ms);
		cJSON_AddNumberToObject(o, "stopped_ms", (double)j->stopped_ms);
		cJSON_AddItemToArray(history, o);
	}
	if (json_write_file(path, root, 1) < 0) {
		unlink_claim(s, next);
		goto out;
	}
	/* the claim of this generation stays: it is what makes the next writer's claim exclusive */
	unlink_claim(s, run->generation);
	run->generation = next;
	ret = 0;
out:
	cJSON_Delete(root);
	free(path);
	return ret;
}

void session_run_push_history(struct session_run *run)
{
	struct run_job *j;

	if (!run->job_id)
		return;
	run->history = xrealloc(run->history, (run->nhistory + 1) * sizeof(*run->history));
	j = &run->history[run->nhistory++];
	j->job_id = run->job_id;
	j->node = run->node;
	j->state = xstrdup(run_state_name(run->state));
	j->tsdb_copy = run->tsdb_copy;
	j->started_ms = run->started_ms;
	j->ready_ms = run->ready_ms;
	j->stopped_ms = run->stopped_ms;
	run->job_id = run->node = run->tsdb_copy = NULL;
	free(run->url);
	free(run->log_path);
	free(run->tsdb_local);
	free(run->last_error);
	run->url = run->log_path = run->tsdb_local = run->last_error = NULL;
	run->started_ms = run->ready_ms = run->stopped_ms = 0;
}

void session_run_release(struct session_run *run)
{
	free(run->job_id);
	free(run->node);
	free(run->url);
	free(run->log_path);
	free(run->tsdb_local);
	free(run->tsdb_copy);
	free(run->last_error);
	for (size_t i = 0; i < run->nhistory; i++) {
		free(run->history[i].job_id);
		free(run->history[i].node);
		free(run->history[i].state);
		free(run->history[i].tsdb_copy);
	}
	free(run->history);
	memset(run, 0, sizeof(*run));
}

int session_remove(const struct session *s)
{
	/* Rename first, so a crash midway never leaves a half-deleted session under its own name. */
	char *home = session_home();
	char *trash = xasprintf("%s/sessions/.deleting-%s.%s.%ld", home, s->id, host_tag(),
				(long)getpid());
	int ret;

	free(home);

	if (rename(s->dir, trash) < 0) {
		ret = error("cannot remove '%s': %s", s->dir, strerror(errno));
		free(trash);
		return ret;
	}
	ret = remove_tree(trash);
	free(trash);
	return ret;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int session_list_ids(char ***ids)
{
	char *home = session_home();
	char *sessions = xasprintf("%s/sessions", home);
	size_t n = 0;
	DIR *dir;
	struct dirent *de;

	*ids = xcalloc(1, sizeof(char *));
	dir = opendir(sessions);
	if (!dir) {
		int missing = errno == ENOENT;

		if (!missing)
			error("cannot open directory '%s': %s", sessions, strerror(errno));
		free(sessions);
		free(home);
		return missing ? 0 : -1;
	}
	while ((de = readdir(dir))) {
		/* staging and deleting directories start with '.', which no id does */
		if (de->d_name[0] == '.')
			continue;
		*ids = xrealloc(*ids, (n + 2) * sizeof(char *));
		(*ids)[n++] = xstrdup(de->d_name);
		(*ids)[n] = NULL;
	}
	closedir(dir);
	qsort(*ids, n, sizeof(char *), compare_strings);
	free(sessions);
	free(home);
	return 0;
}

void session_ids_free(char **ids)
{
	for (size_t i = 0; ids && ids[i]; i++)
		free(ids[i]);
	free(ids);
}
