/*
 * The local launcher: runs the job script as a detached process on this
 * machine, for a laptop or a login node without Slurm. The "job id" is the
 * script's pid; the script leads its own process group.
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

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/xmalloc.h"

static char *local_log_path(const char *pattern, long pid)
{
	const char *j = strstr(pattern, "%j");

	if (!j)
		return xstrdup(pattern);
	return xasprintf("%.*slocal-%ld%s", (int)(j - pattern), pattern, pid, j + 2);
}

static int local_submit(const struct session *s, const struct launch_request *req, char **job_id, char **log_path)
{
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
	*job_id = xasprintf("%ld", pid);
	*log_path = local_log_path(req->log_path, pid);
	return 0;
}

/* Is pid alive and still running this session's job script (not a reused pid)? */
static int job_alive(const struct session *s, long pid)
{
	char *path = xasprintf("/proc/%ld/cmdline", pid);
	char *script = xasprintf("%s/job.sh", s->dir);
	struct strbuf cmdline = STRBUF_INIT, stat = STRBUF_INIT;
	int alive = 0;

	if (read_file(path, &cmdline, 1 << 16, 1) == 0) {
		for (size_t i = 0; i < cmdline.len; i += strlen(cmdline.buf + i) + 1)
			if (!strcmp(cmdline.buf + i, script))
				alive = 1;
	}
	free(path);
	path = xasprintf("/proc/%ld/stat", pid);
	if (alive && read_file(path, &stat, 1 << 16, 1) == 0) {
		const char *close = strrchr(stat.buf, ')');

		if (close && close[1] == ' ' && close[2] == 'Z')
			alive = 0;
	}
	strbuf_release(&cmdline);
	strbuf_release(&stat);
	free(script);
	free(path);
	return alive;
}

static int parse_pid(const char *job_id, long *pid)
{
	char *end;

	*pid = strtol(job_id, &end, 10);
	if (!*job_id || *end || *pid <= 1)
		return error("invalid local job id '%s' in the session state", job_id);
	return 0;
}

static int local_query(const struct session *s, const char *job_id, struct job_status *info)
{
	char hostname[256] = "localhost";
	char *path;
	cJSON *state = NULL;
	long pid;

	memset(info, 0, sizeof(*info));
	if (parse_pid(job_id, &pid) < 0)
		return -1;
	gethostname(hostname, sizeof(hostname) - 1);
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
	if (state && json_string(state, "state") && !strcmp(json_string(state, "state"), "saved")) {
		info->state_name = xstrdup("COMPLETED");
	} else if (state && json_string(state, "state") &&
		   (!strcmp(json_string(state, "state"), "exited") || !strcmp(json_string(state, "state"), "failed"))) {
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

	if (parse_pid(job_id, &pid) < 0)
		return -1;
	/* the group outlives a killed script when Prometheus is still in it */
	if (!group && !job_alive(s, pid))
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

const struct launcher launcher_local = {
	.name = "local",
	.submit = local_submit,
	.query = local_query,
	.request_stop = local_request_stop,
	.kill = local_kill,
};
