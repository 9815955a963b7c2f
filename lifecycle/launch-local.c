/*
 * The local launcher: runs the job script as a detached process on this
 * machine, for a laptop or a login node without Slurm. The "job id" is
 * "<pid>@<host>": the script's pid, which leads its own process group, and
 * the host it runs on, because a session directory on a shared filesystem
 * is seen from hosts where that pid means nothing (or another process).
 */
#include "lifecycle/launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <dirent.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/xmalloc.h"
#include "session/jobstate.h"

static char *local_log_path(const char *pattern, long pid)
{
	const char *j = strstr(pattern, "%j");

	if (!j)
		return xstrdup(pattern);
	return xasprintf("%.*s" JOB_TAG_LOCAL_PREFIX "%ld%s", (int)(j - pattern), pattern, pid, j + 2);
}

static void this_host(char *buf, size_t size)
{
	if (gethostname(buf, size - 1) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

static int local_submit(const struct session *s, const struct launch_request *req, char **job_id, char **log_path,
			char **note)
{
	char host[256];

	int pipefd[2];
	pid_t child;
	long pid = 0;
	int status;

	(void)s;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error("cannot create a pipe: %s", strerror(errno));
	child = fork();
	if (child < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return error("cannot fork: %s", strerror(errno));
	}
	if (child == 0) {
		/* detach twice, so the job survives us and is nobody's zombie */
		pid_t grandchild = fork();

		if (grandchild != 0) {
			long gpid = grandchild;

			if (grandchild > 0 && write(pipefd[1], &gpid, sizeof(gpid)) != sizeof(gpid))
				_exit(1);
			_exit(grandchild > 0 ? 0 : 1);
		}
		{
			char *log = local_log_path(req->log_path, (long)getpid());
			int null_fd = open("/dev/null", O_RDONLY);
			int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

			/* its own session and process group, whose id is the job id: kill(-id) reaches Prometheus too */
			setsid();
			if (null_fd < 0 || log_fd < 0 || chdir(req->workdir) < 0)
				_exit(126);
			dup2(null_fd, 0);
			dup2(log_fd, 1);
			dup2(log_fd, 2);
			execl("/bin/bash", "bash", req->script, (char *)NULL);
			_exit(127);
		}
	}
	close(pipefd[1]);
	if (read(pipefd[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = 0;
	/* EOF comes when the grandchild's exec closes its copy of the pipe: only then is it the job */
	while (pid > 0 && read(pipefd[0], &status, sizeof(status)) > 0)
		;
	close(pipefd[0]);
	waitpid(child, &status, 0);
	if (pid <= 0)
		return error("cannot start the local Prometheus job");
	this_host(host, sizeof(host));
	*job_id = xasprintf("%ld@%s", pid, host);
	*log_path = local_log_path(req->log_path, pid);
	*note = NULL;
	return 0;
}

/* Does process pid run something of session s (its job script, or Prometheus on its files)? */
static int process_is_sessions(const struct session *s, long pid)
{
	char *path = xasprintf("/proc/%ld/cmdline", pid);
	char *script = xasprintf("%s/job.sh", s->dir);
	char *config = xasprintf("--config.file=%s/prometheus.yml", s->dir);
	struct strbuf cmdline = STRBUF_INIT, stat = STRBUF_INIT;
	int ours = 0;

	if (read_file(path, &cmdline, 1 << 16, 1) == 0) {
		for (size_t i = 0; i < cmdline.len; i += strlen(cmdline.buf + i) + 1)
			if (!strcmp(cmdline.buf + i, script) || !strcmp(cmdline.buf + i, config))
				ours = 1;
	}
	free(path);
	path = xasprintf("/proc/%ld/stat", pid);
	if (ours && read_file(path, &stat, 1 << 16, 1) == 0) {
		const char *close = strrchr(stat.buf, ')');

		if (close && close[1] == ' ' && close[2] == 'Z')
			ours = 0;
	}
	strbuf_release(&cmdline);
	strbuf_release(&stat);
	free(config);
	free(script);
	free(path);
	return ours;
}

/* Is pid alive and still running this session's job script (not a reused pid)? */
static int job_alive(const struct session *s, long pid)
{
	char *path = xasprintf("/proc/%ld/cmdline", pid);
	char *script = xasprintf("%s/job.sh", s->dir);
	struct strbuf cmdline = STRBUF_INIT;
	int alive = 0;

	if (read_file(path, &cmdline, 1 << 16, 1) == 0) {
		for (size_t i = 0; i < cmdline.len; i += strlen(cmdline.buf + i) + 1)
			if (!strcmp(cmdline.buf + i, script))
				alive = 1;
	}
	strbuf_release(&cmdline);
	free(script);
	free(path);
	return alive && process_is_sessions(s, pid);
}

/* Does process group pgid still hold a process of session s? A reused id leads someone else's group. */
static int group_is_sessions(const struct session *s, long pgid)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	int ours = 0;

	while (proc && !ours && (de = readdir(proc))) {
		struct strbuf stat = STRBUF_INIT;
		char *end, *path;
		long pid = strtol(de->d_name, &end, 10), group = 0;

		if (*end || pid <= 0)
			continue;
		path = xasprintf("/proc/%ld/stat", pid);
		if (read_file(path, &stat, 1 << 16, 1) == 0) {
			const char *close = strrchr(stat.buf, ')');

			/* pid (comm) state ppid pgrp ... */
			if (close && sscanf(close + 1, " %*c %*d %ld", &group) == 1 && group == pgid)
				ours = process_is_sessions(s, pid);
		}
		strbuf_release(&stat);
		free(path);
	}
	if (proc)
		closedir(proc);
	return ours;
}

/* The pid of a local job id, checked to be this host's: 0, or -1 (after error(), or in *why when given). */
static int parse_local_id(const char *job_id, long *pid, char **why)
{
	const char *at = strchr(job_id, '@');
	char host[256], *end;

	*pid = strtol(job_id, &end, 10);
	if (!*job_id || (at ? end != at : *end) || *pid <= 1)
		return error("invalid local job id '%s' in the session state", job_id);
	this_host(host, sizeof(host));
	/* an id without a host is from an older benchmon, which ran it here */
	if (at && strcmp(at + 1, host)) {
		char *msg = xasprintf("local job %s runs on host '%s', not on '%s': ask there", job_id, at + 1, host);

		if (why) {
			*why = msg;
		} else {
			error("%s", msg);
			free(msg);
		}
		return -1;
	}
	return 0;
}

static int local_query(const struct session *s, const char *job_id, struct job_status *info)
{
	char hostname[256] = "localhost";
	char *path;
	cJSON *state = NULL;
	long pid;

	memset(info, 0, sizeof(*info));
	if (parse_local_id(job_id, &pid, NULL) < 0)
		return -1;
	this_host(hostname, sizeof(hostname));
	info->node = xstrdup(hostname);
	if (job_alive(s, pid)) {
		info->state = LAUNCH_RUNNING;
		info->state_name = xstrdup("RUNNING");
		return 0;
	}
	/* ended: the job script's last word says how */
	path = xasprintf("%s/prometheus.json", s->dir);
	json_read_file(path, 1 << 16, 1, &state, NULL);
	free(path);
	info->state = LAUNCH_ENDED;
	if (state && json_string(state, "state") && !strcmp(json_string(state, "state"), JOB_STATE_SAVED)) {
		info->state_name = xstrdup("COMPLETED");
	} else if (state && json_string(state, "state") &&
		   (!strcmp(json_string(state, "state"), JOB_STATE_EXITED) ||
		    !strcmp(json_string(state, "state"), JOB_STATE_FAILED))) {
		info->exit_code = (int)json_int(state, "exit_code", 1);
		info->state_name = xstrdup(info->exit_code ? "FAILED" : "COMPLETED");
	} else {
		info->exit_code = 137;
		info->state_name = xstrdup("KILLED");
		info->reason = xstrdup("the job script ended without a word (killed?)");
	}
	cJSON_Delete(state);
	return 0;
}

static int local_signal(const struct session *s, const char *job_id, int sig, int group)
{
	long pid;

	if (parse_local_id(job_id, &pid, NULL) < 0)
		return -1;
	/* the group outlives a killed script when Prometheus is still in it; a reused id is someone else's */
	if (group ? !group_is_sessions(s, pid) : !job_alive(s, pid))
		return 0;
	if (kill(group ? -(pid_t)pid : (pid_t)pid, sig) < 0 && errno != ESRCH)
		return error("cannot signal local job %s: %s", job_id, strerror(errno));
	return 0;
}

static int local_request_stop(const struct session *s, const char *job_id)
{
	return local_signal(s, job_id, SIGTERM, 0);
}

static int local_kill(const struct session *s, const char *job_id)
{
	return local_signal(s, job_id, SIGKILL, 1);
}

static char *local_job_tag(const char *job_id)
{
	return xasprintf(JOB_TAG_LOCAL_PREFIX "%.*s", (int)strcspn(job_id, "@"), job_id);
}

static char *local_job_from_tag(const char *tag)
{
	size_t n = strlen(JOB_TAG_LOCAL_PREFIX);
	char *end;
	long pid;

	if (strncmp(tag, JOB_TAG_LOCAL_PREFIX, n))
		return NULL;
	pid = strtol(tag + n, &end, 10);
	if (!tag[n] || *end || pid <= 1)
		return NULL;
	/* the tag names no host: the job is taken to be this host's */
	return xasprintf("%ld", pid);
}

static int local_is_ours(const struct session *s, const char *job_id, char **why)
{
	long pid;

	*why = NULL;
	if (parse_local_id(job_id, &pid, why) < 0)
		return -1;
	return group_is_sessions(s, pid);
}

const struct launcher launcher_local = {
	.name = "local",
	.takes_slurm_options = 0,
	.submit = local_submit,
	.query = local_query,
	.request_stop = local_request_stop,
	.kill = local_kill,
	.job_tag = local_job_tag,
	.job_from_tag = local_job_from_tag,
	.is_ours = local_is_ours,
};
