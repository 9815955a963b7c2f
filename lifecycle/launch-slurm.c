/*
 * The Slurm launcher, and what else benchmon asks of Slurm (lifecycle/slurm.h:
 * host lists, node addresses, the exporters' job step): the one file that
 * calls libslurm. The library is
 * loaded with dlopen on first use, so the commands that never talk to Slurm
 * (registrations, above all) do not pay for loading it.
 */
#include "lifecycle/launcher.h"
#include "lifecycle/slurm.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/jobstate.h"

/* Exported by libslurm and used by its own tools, but missing from slurm.h. */
extern char *slurm_job_reason_string(enum job_state_reason inx);
extern char *slurm_job_state_string(uint32_t inx);

extern char **environ;

/* The libslurm functions we use, resolved at run time; the types come from slurm.h. */
static struct {
	void *handle;
	__typeof__(&slurm_api_version) api_version;
	__typeof__(&slurm_init) init;
	__typeof__(&slurm_get_errno) get_errno;
	__typeof__(&slurm_strerror) strerror;
	__typeof__(&slurm_init_job_desc_msg) init_job_desc_msg;
	__typeof__(&slurm_submit_batch_job) submit_batch_job;
	__typeof__(&slurm_free_submit_response_response_msg) free_submit_response_response_msg;
	__typeof__(&slurm_load_job) load_job;
	__typeof__(&slurm_load_jobs) load_jobs;
	__typeof__(&slurm_free_job_info_msg) free_job_info_msg;
	__typeof__(&slurm_kill_job) kill_job;
	__typeof__(&slurm_job_reason_string) job_reason_string;
	__typeof__(&slurm_job_state_string) job_state_string;
	__typeof__(&slurm_load_partitions) load_partitions;
	__typeof__(&slurm_free_partition_info_msg) free_partition_info_msg;
	__typeof__(&slurm_load_ctl_conf) load_ctl_conf;
	__typeof__(&slurm_free_ctl_conf) free_ctl_conf;
	__typeof__(&slurm_hostlist_create) hostlist_create;
	__typeof__(&slurm_hostlist_shift) hostlist_shift;
	__typeof__(&slurm_hostlist_destroy) hostlist_destroy;
	__typeof__(&slurm_load_node_single) load_node_single;
	__typeof__(&slurm_free_node_info_msg) free_node_info_msg;
	__typeof__(&slurm_get_job_steps) get_job_steps;
	__typeof__(&slurm_free_job_step_info_response_msg) free_job_step_info_response_msg;
	__typeof__(&slurm_kill_job_step) kill_job_step;
} lib;

#define STRINGIFY2(x) #x
#define STRINGIFY(x) STRINGIFY2(x)

/* Load libslurm, the ABI benchmon was built against, and resolve what we use. */
static int slurm_load_library(void)
{
	static const char soname[] = "libslurm.so." STRINGIFY(BENCHMON_SLURM_API_MAJOR);
	const char *missing = NULL;

	if (lib.handle)
		return 0;
	/* global: the plugins libslurm loads in turn resolve their symbols against it */
	lib.handle = dlopen(BENCHMON_SLURM_API_MAJOR ? soname : "libslurm.so", RTLD_NOW | RTLD_GLOBAL);
	if (!lib.handle)
		return error("cannot load libslurm: %s (install Slurm's client library, or use --launcher local)",
			     dlerror());
#define RESOLVE(field)                                                                     \
	do {                                                                               \
		*(void **)&lib.field = dlsym(lib.handle, "slurm_" #field);                 \
		if (!lib.field && !missing)                                                \
			missing = "slurm_" #field;                                         \
	} while (0)
	RESOLVE(api_version);
	RESOLVE(init);
	RESOLVE(get_errno);
	RESOLVE(strerror);
	RESOLVE(init_job_desc_msg);
	RESOLVE(submit_batch_job);
	RESOLVE(free_submit_response_response_msg);
	RESOLVE(load_job);
	RESOLVE(load_jobs);
	RESOLVE(free_job_info_msg);
	RESOLVE(kill_job);
	RESOLVE(job_reason_string);
	RESOLVE(job_state_string);
	RESOLVE(load_partitions);
	RESOLVE(free_partition_info_msg);
	RESOLVE(load_ctl_conf);
	RESOLVE(free_ctl_conf);
	RESOLVE(hostlist_create);
	RESOLVE(hostlist_shift);
	RESOLVE(hostlist_destroy);
	RESOLVE(load_node_single);
	RESOLVE(free_node_info_msg);
	RESOLVE(get_job_steps);
	RESOLVE(free_job_step_info_response_msg);
	RESOLVE(kill_job_step);
#undef RESOLVE
	if (missing) {
		error("libslurm lacks %s, which benchmon needs", missing);
		dlclose(lib.handle);
		lib.handle = NULL;
		return -1;
	}
	return 0;
}

char *slurm_config_path(void)
{
	static const char *const candidates[] = {
		"/etc/slurm/slurm.conf",
		"/etc/slurm-llnl/slurm.conf",
		"/run/slurm/conf/slurm.conf",     /* configless slurmd's cache */
		"/var/spool/slurmd/conf-cache/slurm.conf",
	};
	const char *env = getenv("SLURM_CONF");

	if (env && *env)
		return access(env, R_OK) == 0 ? xstrdup(env) : NULL;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], R_OK) == 0)
			return xstrdup(candidates[i]);
	return NULL;
}

/* Initialise libslurm once, after checking there is a configuration (slurm_init exits without one). */
static int slurm_ensure_init(void)
{
	static int done;
	long version;
	char *conf;

	if (done)
		return 0;
	if (slurm_load_library() < 0)
		return -1;
	version = lib.api_version();
	/* slurm_api_version() is the library's ABI (its soname), not the Slurm release */
	if (BENCHMON_SLURM_API_MAJOR && SLURM_VERSION_MAJOR(version) != BENCHMON_SLURM_API_MAJOR)
		return error("libslurm has API version %ld but benchmon was built against %d (Slurm %d.%02d); rebuild benchmon",
			     SLURM_VERSION_MAJOR(version), BENCHMON_SLURM_API_MAJOR,
			     SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER), SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER));
	conf = slurm_config_path();
	if (!conf) {
		if (getenv("SLURM_CONF") && *getenv("SLURM_CONF"))
			return error("cannot read the Slurm configuration '%s' named by SLURM_CONF", getenv("SLURM_CONF"));
		return error("no Slurm configuration found (set SLURM_CONF, or create the session with --launcher local)");
	}
	lib.init(conf);
	free(conf);
	done = 1;
	return 0;
}

static const char *slurm_error_text(void)
{
	return lib.strerror(lib.get_errno());
}

_Static_assert(TIME_LIMIT_INFINITE == INFINITE, "lib/timeparse.h's unlimited must be Slurm's INFINITE");

/* The job's time limit in minutes (lib/timeparse.h); an invalid one is reported through error(). */
static int parse_time_limit(const char *s, uint32_t *minutes)
{
	char *cause = NULL;
	int ret = parse_slurm_time_limit(s, minutes, &cause);

	if (ret < 0)
		error("%s", cause);
	free(cause);
	return ret;
}

/* Find our job by its unique name when a submit succeeded without a response. */
static int find_job_by_name(const char *name, uint32_t *job_id)
{
	job_info_msg_t *msg = NULL;
	int ret = -1;

	if (lib.load_jobs(0, &msg, SHOW_ALL) != SLURM_SUCCESS)
		return error("cannot list Slurm jobs: %s", slurm_error_text());
	for (uint32_t i = 0; i < msg->record_count; i++) {
		if (msg->job_array[i].name && !strcmp(msg->job_array[i].name, name) &&
		    msg->job_array[i].user_id == getuid()) {
			*job_id = msg->job_array[i].job_id;
			ret = 0;
		}
	}
	lib.free_job_info_msg(msg);
	if (ret < 0)
		error("Slurm accepted job '%s' but returned no job id, and no such job is listed", name);
	return ret;
}

/* The time limit, in minutes, a job without one gets in partition (NULL: the default partition); NO_VAL when unknown. */
static uint32_t partition_time_limit(const char *partition)
{
	partition_info_msg_t *msg = NULL;
	uint32_t limit = NO_VAL;

	if (lib.load_partitions(0, &msg, SHOW_ALL) != SLURM_SUCCESS)
		return NO_VAL;
	for (uint32_t i = 0; i < msg->record_count; i++) {
		const partition_info_t *p = &msg->partition_array[i];

		if (partition ? !p->name || strcmp(p->name, partition) : !(p->flags & PART_FLAG_DEFAULT))
			continue;
		limit = p->default_time != NO_VAL ? p->default_time : p->max_time;
	}
	lib.free_partition_info_msg(msg);
	return limit;
}

/* Slurm's KillWait: how long after SIGTERM at the time limit SIGKILL follows; -1 when unknown. */
static int slurm_kill_wait(void)
{
	slurm_conf_t *conf = NULL;
	int kill_wait;

	if (lib.load_ctl_conf(0, &conf) != SLURM_SUCCESS)
		return -1;
	kill_wait = conf->kill_wait;
	lib.free_ctl_conf(conf);
	return kill_wait;
}

/*
 * Ask Slurm to send SIGUSR1 to the batch script ahead of the time limit, so
 * the TSDB is saved while there is time for it; and say when that happens.
 * Slurm checks limits about once a minute, so the warning may come up to a
 * minute early, and a limit too short for that gets no warning: SIGTERM at
 * the limit still saves, within KillWait.
 */
static char *plan_save_before_limit(job_desc_msg_t *desc, const struct launch_request *req)
{
	uint32_t limit_min = desc->time_limit != NO_VAL ? desc->time_limit : partition_time_limit(req->partition);
	int kill_wait = slurm_kill_wait();
	int64_t limit_s, warn_s;
	char *kill_note, *note;

	kill_note = kill_wait >= 0 ? xasprintf("KillWait=%ds", kill_wait) : xstrdup("KillWait");
	if (limit_min == NO_VAL || limit_min == INFINITE) {
		note = xasprintf("the job has no time limit: its TSDB is saved at stop (or scancel)");
		goto out;
	}
	limit_s = (int64_t)limit_min * 60;
	warn_s = req->save_before_limit_ms ? req->save_before_limit_ms / 1000 : limit_s / 5;
	if (!req->save_before_limit_ms) {
		if (warn_s > 300)
			warn_s = 300;
		if (warn_s < 60)
			warn_s = 60;
	}
	if (warn_s >= limit_s || (!req->save_before_limit_ms && limit_s < 3 * 60)) {
		note = xasprintf("time limit %lld min: at the limit Slurm sends SIGTERM and the job saves its TSDB "
				 "before SIGKILL follows %s later", (long long)limit_min, kill_note);
		goto out;
	}
	desc->warn_signal = SIGUSR1;
	desc->warn_time = (uint16_t)warn_s;
	desc->warn_flags = KILL_JOB_BATCH;
	note = xasprintf("time limit %lld min: the job saves its TSDB and ends when Slurm warns it, %llds before the "
			 "limit (Slurm may warn up to a minute early); at the limit, SIGTERM then SIGKILL %s later",
			 (long long)limit_min, (long long)warn_s, kill_note);
out:
	free(kill_note);
	return note;
}

static int slurm_submit(const struct session *s, const struct launch_request *req, char **job_id, char **log_path,
			char **note)
{
	struct strbuf script = STRBUF_INIT;
	job_desc_msg_t desc;
	submit_response_msg_t *resp = NULL;
	char *unique_name = NULL;
	uint32_t id = 0, env_size = 0;
	int ret = -1;

	(void)s;
	if (slurm_ensure_init() < 0)
		return -1;
	if (read_file(req->script, &script, 1 << 20, 0) < 0)
		return -1;
	lib.init_job_desc_msg(&desc);
	unique_name = xasprintf("%s.%lld", req->job_name, (long long)now_ms());
	desc.name = unique_name;
	desc.script = script.buf;
	desc.work_dir = (char *)req->workdir;
	desc.std_out = (char *)req->log_path;
	desc.std_err = (char *)req->log_path;
	desc.partition = (char *)req->partition;
	desc.account = (char *)req->account;
	desc.user_id = getuid();
	desc.group_id = getgid();
	desc.min_nodes = 1;
	desc.max_nodes = 1;
	desc.req_nodes = (char *)req->nodelist;
	desc.exc_nodes = (char *)req->exclude;
	desc.num_tasks = 1;
	if (req->time_limit && parse_time_limit(req->time_limit, &desc.time_limit) < 0)
		goto out;
	if (req->save_before_limit_ms > 65535 * 1000LL) {
		error("--save-before-limit must be under 65535 seconds (Slurm's warn_time limit)");
		goto out;
	}
	*note = plan_save_before_limit(&desc, req);
	/* Slurm refuses a batch job without an environment; give it ours, as sbatch does */
	while (environ[env_size])
		env_size++;
	if (!env_size) {
		static char *fallback_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };

		desc.environment = fallback_env;
		desc.env_size = 1;
	} else {
		desc.environment = environ;
		desc.env_size = env_size;
	}
	if (lib.submit_batch_job(&desc, &resp) != SLURM_SUCCESS) {
		error("Slurm refused the Prometheus job: %s", slurm_error_text());
		free(*note);
		*note = NULL;
		goto out;
	}
	if (resp) {
		id = resp->job_id;
		lib.free_submit_response_response_msg(resp);
	} else if (find_job_by_name(unique_name, &id) < 0) {
		goto out;
	}
	*job_id = xasprintf("%u", id);
	{
		/* the log path as Slurm expands it: "%j" is the job id */
		struct strbuf path = STRBUF_INIT;

		for (const char *p = req->log_path; *p; p++) {
			if (p[0] == '%' && p[1] == 'j') {
				strbuf_addstr(&path, *job_id);
				p++;
			} else {
				strbuf_addch(&path, *p);
			}
		}
		*log_path = strbuf_detach(&path, NULL);
	}
	ret = 0;
out:
	free(unique_name);
	strbuf_release(&script);
	return ret;
}

/*
 * Was this job submitted for session s? Job ids are reused after a
 * controller loses its state. The name is "benchmon-<session>.<ms>" (see
 * lifecycle_start and slurm_submit), and a session id may itself hold dots.
 */
static int job_is_ours(const struct session *s, const slurm_job_info_t *job)
{
	size_t prefix = strlen(JOB_NAME_PREFIX), id = strlen(s->id);
	const char *stamp;

	if (!job->name || strncmp(job->name, JOB_NAME_PREFIX, prefix) || strncmp(job->name + prefix, s->id, id) ||
	    job->name[prefix + id] != '.')
		return 0;
	stamp = job->name + prefix + id + 1;
	return *stamp && strspn(stamp, "0123456789") == strlen(stamp);
}

static int parse_job_id(const char *text, uint32_t *id)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (!*text || *end || v == 0 || v > UINT32_MAX)
		return error("invalid Slurm job id '%s' in the session state", text);
	*id = (uint32_t)v;
	return 0;
}

static int slurm_query(const struct session *s, const char *job_id, struct job_status *info)
{
	job_info_msg_t *msg = NULL;
	slurm_job_info_t *job;
	uint32_t id, base;

	memset(info, 0, sizeof(*info));
	if (slurm_ensure_init() < 0 || parse_job_id(job_id, &id) < 0)
		return -1;
	if (lib.load_job(&msg, id, SHOW_ALL) != SLURM_SUCCESS) {
		int err = lib.get_errno();

		if (err == ESLURM_INVALID_JOB_ID) {
			/* finished jobs vanish after MinJobAge */
			info->state = LAUNCH_GONE;
			info->state_name = xstrdup("GONE");
			return 0;
		}
		return error("cannot query Slurm job %s: %s", job_id, lib.strerror(err));
	}
	if (msg->record_count < 1) {
		lib.free_job_info_msg(msg);
		info->state = LAUNCH_GONE;
		info->state_name = xstrdup("GONE");
		return 0;
	}
	job = &msg->job_array[0];
	if (!job_is_ours(s, job)) {
		/* the controller forgot our job and gave its id to another one */
		lib.free_job_info_msg(msg);
		info->state = LAUNCH_GONE;
		info->state_name = xstrdup("GONE");
		info->reason = xasprintf("job id %s now belongs to another job", job_id);
		return 0;
	}
	base = job->job_state & JOB_STATE_BASE;
	info->state_name = xstrdup(lib.job_state_string(base));
	if (base == JOB_PENDING) {
		info->state = LAUNCH_PENDING;
	} else if (base == JOB_RUNNING || base == JOB_SUSPENDED) {
		info->state = LAUNCH_RUNNING;
	} else {
		info->state = LAUNCH_ENDED;
		info->exit_code = WIFEXITED(job->exit_code) ? WEXITSTATUS(job->exit_code) : 128 + WTERMSIG(job->exit_code);
	}
	if (job->state_reason != WAIT_NO_REASON)
		info->reason = xstrdup(lib.job_reason_string(job->state_reason));
	if (job->batch_host && *job->batch_host)
		info->node = xstrdup(job->batch_host);
	lib.free_job_info_msg(msg);
	return 0;
}

static int slurm_signal(const struct session *s, const char *job_id, uint16_t signal, uint16_t flags)
{
	struct job_status info;
	uint32_t id;

	if (slurm_ensure_init() < 0 || parse_job_id(job_id, &id) < 0)
		return -1;
	/* never signal a job that is not this session's, whatever its id */
	if (slurm_query(s, job_id, &info) < 0)
		return -1;
	if (info.state == LAUNCH_GONE || info.state == LAUNCH_ENDED) {
		job_status_release(&info);
		return 0;
	}
	job_status_release(&info);
	if (lib.kill_job(id, signal, flags) != SLURM_SUCCESS) {
		int err = lib.get_errno();

		/* a job that already finished needs no signal */
		if (err == ESLURM_ALREADY_DONE || err == ESLURM_INVALID_JOB_ID)
			return 0;
		return error("cannot signal Slurm job %s: %s", job_id, lib.strerror(err));
	}
	return 0;
}

static int slurm_request_stop(const struct session *s, const char *job_id)
{
	/* the batch shell alone: it stops Prometheus itself and then saves the TSDB */
	return slurm_signal(s, job_id, SIGTERM, KILL_JOB_BATCH);
}

static int slurm_cancel(const struct session *s, const char *job_id)
{
	return slurm_signal(s, job_id, SIGKILL, 0);
}

static char *slurm_job_tag(const char *job_id)
{
	return xstrdup(job_id);
}

static char *slurm_job_from_tag(const char *tag)
{
	return *tag && strspn(tag, "0123456789") == strlen(tag) ? xstrdup(tag) : NULL;
}

static int slurm_is_ours(const struct session *s, const char *job_id, char **why)
{
	struct job_status info;
	int ours;

	*why = NULL;
	if (slurm_query(s, job_id, &info) < 0)
		return -1;
	/* slurm_query reports a job that is not this session's as gone */
	ours = info.state != LAUNCH_GONE;
	job_status_release(&info);
	return ours;
}

const struct launcher launcher_slurm = {
	.name = "slurm",
	.takes_slurm_options = 1,
	.submit = slurm_submit,
	.query = slurm_query,
	.request_stop = slurm_request_stop,
	.kill = slurm_cancel,
	.job_tag = slurm_job_tag,
	.job_from_tag = slurm_job_from_tag,
	.is_ours = slurm_is_ours,
};

int slurm_hostlist_expand(const char *list, char ***names, size_t *n)
{
	hostlist_t hl;
	char *host;
	size_t alloc = 0;

	*names = NULL;
	*n = 0;
	if (slurm_ensure_init() < 0)
		return -1;
	hl = lib.hostlist_create(list);
	if (!hl)
		return error("invalid Slurm host list '%s'", list);
	while ((host = lib.hostlist_shift(hl))) {
		if (*n + 1 >= alloc) {
			alloc = alloc ? alloc * 2 : 8;
			*names = xrealloc(*names, alloc * sizeof(char *));
		}
		(*names)[(*n)++] = xstrdup(host);
		free(host);
	}
	lib.hostlist_destroy(hl);
	if (!*n)
		return error("Slurm host list '%s' names no node", list);
	return 0;
}

void slurm_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int slurm_job_nodelist(const char *job_id, char **nodelist)
{
	job_info_msg_t *msg = NULL;
	uint32_t id;
	int ret = -1;

	*nodelist = NULL;
	if (slurm_ensure_init() < 0)
		return -1;
	if (parse_job_id(job_id, &id) < 0)
		return -1;
	if (lib.load_job(&msg, id, SHOW_ALL) != SLURM_SUCCESS)
		return error("cannot query Slurm job %s: %s", job_id, slurm_error_text());
	if (msg->record_count < 1 || (msg->job_array[0].job_state & JOB_STATE_BASE) != JOB_RUNNING)
		error("Slurm job %s is not running", job_id);
	else if (!msg->job_array[0].nodes || !*msg->job_array[0].nodes)
		error("Slurm job %s has no nodes", job_id);
	else {
		*nodelist = xstrdup(msg->job_array[0].nodes);
		ret = 0;
	}
	lib.free_job_info_msg(msg);
	return ret;
}

int slurm_node_address(const char *name, char **address)
{
	node_info_msg_t *msg = NULL;
	int ret = -1;

	*address = NULL;
	if (slurm_ensure_init() < 0)
		return -1;
	if (lib.load_node_single(&msg, (char *)name, SHOW_ALL) != SLURM_SUCCESS)
		return error("cannot ask Slurm for node '%s': %s", name, slurm_error_text());
	if (msg->record_count < 1 || !msg->node_array[0].name) {
		error("Slurm knows no node '%s'", name);
	} else {
		const char *addr = msg->node_array[0].node_addr;

		*address = xstrdup(addr && *addr ? addr : name);
		ret = 0;
	}
	lib.free_node_info_msg(msg);
	return ret;
}

/*
 * libslurm 22.05 exports slurm_step_launch but no longer declares
 * slurm_step_ctx_create, which makes the context it needs: a step can only
 * be built through srun's own code. So the step's client is srun itself,
 * which also serves the step's I/O and messages for as long as it runs.
 */
int slurm_step_spawn(const struct step_request *req, pid_t *pid)
{
	char *jobid = xasprintf("--jobid=%s", req->job_id);
	char *nodelist = xasprintf("--nodelist=%s", req->nodelist);
	char *nodes = xasprintf("--nodes=%zu", req->nnodes);
	char *ntasks = xasprintf("--ntasks=%zu", req->nnodes);
	char *name = xasprintf("--job-name=%s", req->step_name);
	const char *fixed[] = { "srun", jobid, nodelist, nodes, ntasks, "--ntasks-per-node=1", name,
				/* share the allocation with the job's other steps */
				"--overlap",
				/* a node or a task that fails ends only itself */
				"--no-kill", "--kill-on-bad-exit=0", "--wait=0", "--quiet" };
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), nargv = 0;
	char **argv;
	int log_fd, ret = -1;
	pid_t child;

	while (req->argv[nargv])
		nargv++;
	argv = xcalloc(nfixed + nargv + 1, sizeof(char *));
	for (size_t i = 0; i < nfixed; i++)
		argv[i] = (char *)fixed[i];
	for (size_t i = 0; i < nargv; i++)
		argv[nfixed + i] = req->argv[i];
	log_fd = open(req->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		error("cannot open '%s': %s", req->log_path, strerror(errno));
		goto out;
	}
	child = fork();
	if (child < 0) {
		error("cannot fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		int null_fd = open("/dev/null", O_RDONLY);

		setsid();
		if (null_fd >= 0)
			dup2(null_fd, STDIN_FILENO);
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
		for (size_t i = 0; req->env && req->env[i]; i++)
			putenv(req->env[i]);
		execvp("srun", argv);
		dprintf(log_fd, "benchmon: cannot run srun: %s\n", strerror(errno));
		_exit(127);
	}
	*pid = child;
	ret = 0;
out:
	if (log_fd >= 0)
		close(log_fd);
	free(argv);
	free(jobid);
	free(nodelist);
	free(nodes);
	free(ntasks);
	free(name);
	return ret;
}

int slurm_step_find(const char *job_id, const char *step_name, uint32_t *step_id, int *running)
{
	job_step_info_response_msg_t *msg = NULL;
	uint32_t id;
	int found = 0;

	if (slurm_ensure_init() < 0 || parse_job_id(job_id, &id) < 0)
		return -1;
	if (lib.get_job_steps(0, id, NO_VAL, &msg, SHOW_ALL) != SLURM_SUCCESS) {
		int err = lib.get_errno();

		if (err == ESLURM_INVALID_JOB_ID || err == ESLURM_ALREADY_DONE)
			return 0;
		return error("cannot list the steps of Slurm job %s: %s", job_id, lib.strerror(err));
	}
	for (uint32_t i = 0; msg && i < msg->job_step_count; i++) {
		const job_step_info_t *st = &msg->job_steps[i];

		if (st->name && !strcmp(st->name, step_name) && st->user_id == getuid()) {
			*step_id = st->step_id.step_id;
			*running = (st->state & JOB_STATE_BASE) == JOB_RUNNING;
			found = 1;
		}
	}
	if (msg)
		lib.free_job_step_info_response_msg(msg);
	return found;
}

int slurm_step_signal(const char *job_id, uint32_t step_id, int signal)
{
	uint32_t id;

	if (slurm_ensure_init() < 0 || parse_job_id(job_id, &id) < 0)
		return -1;
	if (lib.kill_job_step(id, step_id, (uint16_t)signal) != SLURM_SUCCESS) {
		int err = lib.get_errno();

		if (err == ESLURM_ALREADY_DONE || err == ESLURM_INVALID_JOB_ID)
			return 0;
		return error("cannot signal step %s.%u: %s", job_id, step_id, lib.strerror(err));
	}
	return 0;
}

static const struct launcher *const launchers[] = { &launcher_slurm, &launcher_local };

const struct launcher *launcher_find(const char *name)
{
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++)
		if (!strcmp(name, launchers[i]->name))
			return launchers[i];
	return NULL;
}

const struct launcher *launcher_for_tag(const char *tag, char **job_id)
{
	for (size_t i = 0; i < sizeof(launchers) / sizeof(launchers[0]); i++) {
		*job_id = launchers[i]->job_from_tag(tag);
		if (*job_id)
			return launchers[i];
	}
	return NULL;
}

void job_status_release(struct job_status *info)
{
	free(info->state_name);
	free(info->reason);
	free(info->node);
	memset(info, 0, sizeof(*info));
}
