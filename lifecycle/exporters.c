#include "lifecycle/exporters.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/http.h"
#include "lib/jsonfile.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "lifecycle/slurm.h"
#include "session/registry.h"
#include "session/validate.h"

#define STEP_NAME_PREFIX "benchmon-exporters."
#define STATE_FILE_MAX (1u << 20)
#define EXPORTER_READY_MS 20000
#define STOP_GRACE_MS 10000

enum exporter_kind { EXP_NODE, EXP_DCGM, EXP_KINDS };

/* One entry per exporter benchmon deploys: the programs that are it, and how each is told where to listen. */
static const struct {
	const char *name;
	const char *const programs[3];
	const char *listen_flag;
} exporter_kinds[EXP_KINDS] = {
	[EXP_NODE] = { "node_exporter", { "prometheus-node-exporter", "node_exporter", NULL }, "--web.listen-address" },
	[EXP_DCGM] = { "DCGM exporter", { "dcgm-exporter", NULL, NULL }, "--address" },
};

static char *step_name_of(const struct session *s)
{
	return xasprintf(STEP_NAME_PREFIX "%s", s->id);
}

static char *node_file(const struct session *s, const char *node)
{
	return xasprintf("%s/exporters/node+%s.json", s->dir, node);
}

/* The last non-empty line of a log, at most 300 bytes of it, or NULL. */
static char *log_tail(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	char *line = NULL;
	size_t end;

	if (read_file(path, &sb, 16 << 20, 1) < 0)
		goto out;
	end = sb.len;
	while (end && (sb.buf[end - 1] == '\n' || sb.buf[end - 1] == ' '))
		end--;
	if (end) {
		size_t start = end;

		while (start && sb.buf[start - 1] != '\n')
			start--;
		if (end - start > 300)
			start = end - 300;
		line = xstrndup(sb.buf + start, end - start);
	}
out:
	strbuf_release(&sb);
	return line;
}

/*
 * Where node name is reached from other nodes: what its name resolves to,
 * unless that is a loopback address (a host's own name often maps to
 * 127.0.1.1) or nothing, when Slurm's NodeAddr for it is used instead.
 */
static int resolve_node(const char *name, char **address, const char **source)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char buf[INET6_ADDRSTRLEN] = "", *slurm_addr = NULL;
	int ret = -1;

	if (getaddrinfo(name, NULL, &hints, &res) == 0 && res) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
		freeaddrinfo(res);
		res = NULL;
	}
	if (*buf && !host_is_loopback(buf)) {
		*address = xstrdup(buf);
		*source = "resolver";
		return 0;
	}
	if (slurm_node_address(name, &slurm_addr) < 0) {
		if (*buf)
			goto resolved;
		return error("node '%s' has no address: its name does not resolve, and Slurm does not say", name);
	}
	if (!strcmp(slurm_addr, name)) {
		if (*buf)
			goto resolved;
		error("node '%s' has no address: its name does not resolve, and Slurm's NodeAddr is the name", name);
		goto out;
	}
	if (getaddrinfo(slurm_addr, NULL, &hints, &res) != 0 || !res) {
		error("node '%s' has NodeAddr '%s' in Slurm, which does not resolve", name, slurm_addr);
		goto out;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, buf, sizeof(buf));
	freeaddrinfo(res);
	*address = xstrdup(buf);
	*source = "NodeAddr";
	ret = 0;
	goto out;
resolved:
	*address = xstrdup(buf);
	*source = "resolver";
	ret = 0;
out:
	free(slurm_addr);
	return ret;
}

static void node_release(struct exporters_node *n)
{
	free(n->node);
	free(n->address);
	free(n->address_source);
	free(n->state);
	free(n->error);
	free(n->node_exporter);
	free(n->dcgm_exporter);
	free(n->dcgm_note);
}

void exporters_report_release(struct exporters_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		node_release(&r->nodes[i]);
	free(r->nodes);
	free(r->job_id);
	free(r->step_name);
	free(r->step);
	memset(r, 0, sizeof(*r));
}

static struct exporters_node *report_add(struct exporters_report *r, const char *node)
{
	struct exporters_node *n;

	r->nodes = xrealloc(r->nodes, (r->n + 1) * sizeof(*r->nodes));
	n = &r->nodes[r->n++];
	memset(n, 0, sizeof(*n));
	n->node = xstrdup(node);
	n->node_up = n->dcgm_up = -1;
	return n;
}

/* Read exporters/step.json: 0, 1 when there is none, -1 on error. */
static int step_load(const struct session *s, cJSON **step)
{
	char *path = session_path(s, "exporters/step.json");
	int ret = json_read_file(path, STATE_FILE_MAX, 1, step, "remove it and start the exporters again");

	free(path);
	return ret;
}

/* Fill n from its node file when that file belongs to the step started with token: 1 filled, 0 not (yet). */
static int node_load(const struct session *s, struct exporters_node *n, int64_t token)
{
	char *path = node_file(s, n->node);
	cJSON *root = NULL;
	int ret = json_read_file(path, STATE_FILE_MAX, 1, &root, "it is rewritten at the next 'exporters start'");

	free(path);
	if (ret != 0)
		return 0;
	if (json_int(root, "token", -1) != token || !json_string(root, "state")) {
		cJSON_Delete(root);
		return 0;
	}
	free(n->state);
	n->state = json_strdup(root, "state");
	n->error = json_strdup(root, "error");
	n->node_exporter = json_strdup(root, "node_exporter");
	n->dcgm_exporter = json_strdup(root, "dcgm_exporter");
	n->dcgm_note = json_strdup(root, "dcgm_note");
	cJSON_Delete(root);
	return 1;
}

/* The report's nodes as step.json lists them, and the token of its start. */
static int report_from_step(const cJSON *step, struct exporters_report *r, int64_t *token)
{
	const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(step, "nodes"), *it;

	r->job_id = json_strdup(step, "job_id");
	r->step_name = json_strdup(step, "step_name");
	*token = json_int(step, "token", -1);
	if (!r->job_id || !r->step_name || *token < 0 || !cJSON_IsArray(nodes))
		return error("exporters/step.json lacks job_id, step_name, token or nodes (corrupted?)");
	cJSON_ArrayForEach(it, nodes) {
		const char *name = json_string(it, "node");
		struct exporters_node *n;

		if (!name)
			return error("exporters/step.json has a node without a name (corrupted?)");
		n = report_add(r, name);
		n->address = json_strdup(it, "address");
		n->address_source = json_strdup(it, "address_source");
		n->state = xstrdup("no report");
	}
	return 0;
}

/* Is the session's step listed by Slurm? Sets r->step and r->step_running. */
static int find_step(struct exporters_report *r)
{
	uint32_t step_id = 0;
	int running = 0, found = slurm_step_find(r->job_id, r->step_name, &step_id, &running);

	if (found < 0)
		return -1;
	free(r->step);
	r->step = found ? xasprintf("%s.%u", r->job_id, step_id) : NULL;
	r->step_running = found && running;
	return found;
}

static int write_step(const struct session *s, const struct exporters_report *r, const struct exporters_options *o,
		      int64_t token, const char *state)
{
	char *path = session_path(s, "exporters/step.json");
	cJSON *root = cJSON_CreateObject(), *nodes;
	int ret;

	cJSON_AddStringToObject(root, "job_id", r->job_id);
	cJSON_AddStringToObject(root, "step_name", r->step_name);
	cJSON_AddNumberToObject(root, "token", (double)token);
	cJSON_AddStringToObject(root, "state", state);
	cJSON_AddBoolToObject(root, "node_exporter", o->node_exporter);
	cJSON_AddBoolToObject(root, "dcgm_exporter", o->dcgm_exporter);
	nodes = cJSON_AddArrayToObject(root, "nodes");
	for (size_t i = 0; i < r->n; i++) {
		cJSON *n = cJSON_CreateObject();

		cJSON_AddStringToObject(n, "node", r->nodes[i].node);
		cJSON_AddStringToObject(n, "address", r->nodes[i].address);
		cJSON_AddStringToObject(n, "address_source", r->nodes[i].address_source);
		cJSON_AddItemToArray(nodes, n);
	}
	ret = json_write_file(path, root, 1);
	cJSON_Delete(root);
	free(path);
	return ret;
}

/* Remove the node files an earlier start left. */
static int clear_node_files(const struct session *s)
{
	char *dir = session_path(s, "exporters");
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d) {
		free(dir);
		return 0;
	}
	while ((de = readdir(d))) {
		char *path;

		if (strncmp(de->d_name, "node+", 5))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && errno != ENOENT)
			ret = error("cannot remove '%s': %s", path, strerror(errno));
		free(path);
	}
	closedir(d);
	free(dir);
	return ret;
}

static char *self_exe(void)
{
	char buf[4096];
	ssize_t len = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (len <= 0)
		return xstrdup("benchmon");
	buf[len] = '\0';
	return xstrdup(buf);
}

int exporters_start(const struct session *s, const struct exporters_options *opts, struct exporters_report *r)
{
	const char *job = opts->job_id ? opts->job_id : getenv("SLURM_JOB_ID");
	char *nodelist = NULL, **names = NULL, *exe = NULL, *log = NULL, *rel_log = NULL, *dir = NULL;
	cJSON *old = NULL;
	size_t nnames = 0, reported = 0;
	int64_t token, deadline;
	pid_t srun = -1;
	int ret = -1, srun_done = 0, srun_status = 0;

	memset(r, 0, sizeof(*r));
	if (!job || !*job)
		return error("not inside a Slurm allocation: give the job whose nodes get exporters with --job JOBID");
	if (strspn(job, "0123456789") != strlen(job))
		return error("invalid Slurm job id '%s'", job);
	if (opts->nodes)
		nodelist = xstrdup(opts->nodes);
	else if (!opts->job_id && getenv("SLURM_JOB_NODELIST") && *getenv("SLURM_JOB_NODELIST"))
		nodelist = xstrdup(getenv("SLURM_JOB_NODELIST"));
	else if (slurm_job_nodelist(job, &nodelist) < 0)
		goto out;
	if (slurm_hostlist_expand(nodelist, &names, &nnames) < 0)
		goto out;
	r->step_name = step_name_of(s);
	if (step_load(s, &old) < 0)
		goto out;
	if (old) {
		struct exporters_report prev = { 0 };
		int64_t prev_token;
		int found = report_from_step(old, &prev, &prev_token);

		if (found == 0)
			found = find_step(&prev);
		if (found > 0 && prev.step_running)
			found = error("the exporters of session '%s' run already, as step %s; stop them first with 'benchmon exporters stop'",
				      s->id, prev.step);
		exporters_report_release(&prev);
		if (found < 0)
			goto out;
	}
	r->job_id = xstrdup(job);
	for (size_t i = 0; i < nnames; i++) {
		struct exporters_node *n = report_add(r, names[i]);
		const char *source = NULL;

		if (resolve_node(names[i], &n->address, &source) < 0)
			goto out;
		n->address_source = xstrdup(source);
		n->state = xstrdup("no report");
	}
	dir = session_path(s, "exporters");
	if (mkdir_p(dir, 0700) < 0 || clear_node_files(s) < 0)
		goto out;
	token = now_ms();
	if (write_step(s, r, opts, token, "started") < 0)
		goto out;
	exe = self_exe();
	rel_log = xasprintf("logs/exporters-%s.out", job);
	log = session_path(s, rel_log);
	{
		char *argv[] = { exe, "exporters", "node", "--session", (char *)s->id, NULL };
		struct step_request req = {
			.job_id = job, .nodelist = nodelist, .nnodes = nnames, .step_name = r->step_name,
			.log_path = log, .argv = argv, .env = NULL,
		};

		if (slurm_step_spawn(&req, &srun) < 0)
			goto out;
	}
	progress("exporters: step '%s' on %s in job %s, waiting for %zu node%s to report", r->step_name, nodelist,
		 job, nnames, nnames == 1 ? "" : "s");
	deadline = now_ms() + opts->wait_ms;
	while (reported < r->n) {
		reported = 0;
		for (size_t i = 0; i < r->n; i++) {
			struct exporters_node *n = &r->nodes[i];

			if (strcmp(n->state, "no report") || node_load(s, n, token))
				reported++;
		}
		if (reported == r->n)
			break;
		if (!srun_done && waitpid(srun, &srun_status, WNOHANG) == srun)
			srun_done = 1;
		else if (srun_done || now_ms() >= deadline)
			break;
		else
			sleep_ms(200);
	}
	/* nodes never heard of: say why, with the step's own words when it ended */
	for (size_t i = 0; i < r->n; i++) {
		struct exporters_node *n = &r->nodes[i];

		if (!strcmp(n->state, "no report")) {
			char *tail = log_tail(log), *waited = format_duration_ms(opts->wait_ms);

			n->error = srun_done ? xasprintf("the step ended before this node reported: %s (%s)",
							 tail ? tail : "no output", rel_log)
					     : xasprintf("no report within %s (see %s)", waited, rel_log);
			free(tail);
			free(waited);
		}
		if (strcmp(n->state, "running"))
			r->failed++;
	}
	find_step(r);
	if (!r->failed)
		ret = 0;
	else if (r->failed == r->n)
		error("no node's exporters started (see %s)", rel_log);
	else
		error("the exporters of %zu of %zu nodes did not start; the others run", r->failed, r->n);
out:
	cJSON_Delete(old);
	slurm_names_free(names, nnames);
	free(nodelist);
	free(exe);
	free(log);
	free(rel_log);
	free(dir);
	return ret;
}

/* Ask every running exporter for /metrics at once. */
static void probe_exporters(struct exporters_report *r)
{
	const char **urls = xcalloc(2 * r->n + 1, sizeof(char *));
	int **slots = xcalloc(2 * r->n + 1, sizeof(int *));
	struct http_response *resps;
	char **causes;
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		struct exporters_node *node = &r->nodes[i];

		if (strcmp(node->state, "running"))
			continue;
		if (node->node_exporter) {
			urls[n] = xasprintf("http://%s/metrics", node->node_exporter);
			slots[n++] = &node->node_up;
		}
		if (node->dcgm_exporter) {
			urls[n] = xasprintf("http://%s/metrics", node->dcgm_exporter);
			slots[n++] = &node->dcgm_up;
		}
	}
	resps = xcalloc(n + 1, sizeof(*resps));
	causes = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		http_response_init(&resps[i]);
	if (n)
		http_get_many(urls, n, NULL, 3000, resps, causes, NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		*slots[i] = !causes[i] && resps[i].status == 200;
		http_response_release(&resps[i]);
		free(causes[i]);
		free((char *)urls[i]);
	}
	free(resps);
	free(causes);
	free(urls);
	free(slots);
}

int exporters_status(const struct session *s, struct exporters_report *r)
{
	cJSON *step = NULL;
	int64_t token;
	int ret = -1, found;

	memset(r, 0, sizeof(*r));
	found = step_load(s, &step);
	if (found != 0) {
		if (found > 0)
			ret = 0; /* never started: an empty report */
		goto out;
	}
	if (report_from_step(step, r, &token) < 0)
		goto out;
	if (find_step(r) < 0)
		goto out;
	for (size_t i = 0; i < r->n; i++) {
		struct exporters_node *n = &r->nodes[i];

		node_load(s, n, token);
		if (!r->step_running && !strcmp(n->state, "running")) {
			free(n->state);
			n->state = xstrdup("stopped");
		}
	}
	probe_exporters(r);
	for (size_t i = 0; i < r->n; i++) {
		const struct exporters_node *n = &r->nodes[i];

		if (strcmp(n->state, "running") || n->node_up == 0 || n->dcgm_up == 0)
			r->failed++;
	}
	ret = 0;
out:
	cJSON_Delete(step);
	return ret;
}

/* Wait until Slurm no longer lists the step as running: 1 gone, 0 still there at deadline, -1 error. */
static int wait_step_gone(struct exporters_report *r, int64_t deadline)
{
	for (;;) {
		int found = find_step(r);

		if (found < 0)
			return -1;
		if (!found || !r->step_running)
			return 1;
		if (now_ms() >= deadline)
			return 0;
		sleep_ms(200);
	}
}

int exporters_stop(const struct session *s, struct exporters_report *r)
{
	struct exporters_options o = { 0 };
	cJSON *step = NULL;
	int64_t token;
	uint32_t step_id;
	int ret = -1, found, gone;

	memset(r, 0, sizeof(*r));
	found = step_load(s, &step);
	if (found != 0) {
		if (found > 0)
			error("session '%s' has no exporters (start them with 'benchmon exporters start')", s->id);
		goto out;
	}
	if (report_from_step(step, r, &token) < 0)
		goto out;
	found = find_step(r);
	if (found < 0)
		goto out;
	if (found && r->step_running) {
		step_id = (uint32_t)strtoul(strchr(r->step, '.') + 1, NULL, 10);
		progress("exporters: cancelling step %s", r->step);
		if (slurm_step_signal(r->job_id, step_id, SIGTERM) < 0)
			goto out;
		gone = wait_step_gone(r, now_ms() + STOP_GRACE_MS);
		if (gone == 0) {
			if (slurm_step_signal(r->job_id, step_id, SIGKILL) < 0)
				goto out;
			gone = wait_step_gone(r, now_ms() + STOP_GRACE_MS);
		}
		if (gone <= 0) {
			if (gone == 0)
				error("step %s still runs after SIGKILL; Slurm may end it later", r->step);
			goto out;
		}
	}
	for (size_t i = 0; i < r->n; i++) {
		node_load(s, &r->nodes[i], token);
		free(r->nodes[i].state);
		r->nodes[i].state = xstrdup("stopped");
	}
	o.node_exporter = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "node_exporter"));
	o.dcgm_exporter = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "dcgm_exporter"));
	if (write_step(s, r, &o, token, "stopped") < 0)
		goto out;
	ret = 0;
out:
	cJSON_Delete(step);
	return ret;
}

int exporters_stop_if_running(const struct session *s)
{
	struct exporters_report r = { 0 };
	cJSON *step = NULL;
	int64_t token;
	int found = step_load(s, &step), running = 0, stopped;

	if (found == 0) {
		found = report_from_step(step, &r, &token) < 0 ? -1 : find_step(&r);
		running = found > 0 && r.step_running;
	}
	exporters_report_release(&r);
	cJSON_Delete(step);
	if (found < 0)
		return -1;
	if (!running)
		return 0;
	stopped = exporters_stop(s, &r);
	exporters_report_release(&r);
	return stopped < 0 ? -1 : 1;
}

/* The first of programs found on PATH, or NULL. Caller frees. */
static char *find_program(const char *const *programs)
{
	const char *path = getenv("PATH");

	for (size_t i = 0; programs[i]; i++) {
		const char *p = path ? path : "/usr/bin:/bin";

		while (*p) {
			size_t len = strcspn(p, ":");
			char *cand = xasprintf("%.*s/%s", (int)len, p, programs[i]);

			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
			p += len;
			if (*p == ':')
				p++;
		}
	}
	return NULL;
}

/* A port nobody listens on at address now (the kernel's pick). */
static int pick_port(const char *address, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret = -1;

	if (fd < 0)
		return error("cannot create a socket: %s", strerror(errno));
	if (inet_pton(AF_INET, address, &sa.sin_addr) != 1)
		error("'%s' is not an IPv4 address", address);
	else if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		error("cannot bind to %s: %s", address, strerror(errno));
	else {
		*port = ntohs(sa.sin_port);
		ret = 0;
	}
	close(fd);
	return ret;
}

struct running_exporter {
	pid_t pid;      /* while it runs, else -1 */
	int ready;      /* it answered /metrics once */
	char *address;  /* host:port */
	char *log;
};

/*
 * Start one exporter on address and wait until it answers /metrics. A port
 * taken between picking and binding is picked again. On failure *cause
 * says why, with the exporter's last words.
 */
static int spawn_exporter(const struct session *s, enum exporter_kind kind, const char *program, const char *node,
			  const char *address, struct running_exporter *ex, char **cause)
{
	char *url = NULL;

	ex->log = xasprintf("%s/logs/exporter-%s-%s.log", s->dir, node, kind == EXP_NODE ? "node" : "dcgm");
	for (int attempt = 0; attempt < 3; attempt++) {
		char *flag = NULL;
		int port = 0, status;
		int64_t deadline;
		pid_t parent = getpid();

		free(*cause);
		*cause = NULL;
		if (pick_port(address, &port) < 0) {
			*cause = xstrdup("no free port");
			return -1;
		}
		free(ex->address);
		ex->address = xasprintf("%s:%d", address, port);
		flag = xstrdup(exporter_kinds[kind].listen_flag);
		ex->pid = fork();
		if (ex->pid < 0) {
			free(flag);
			*cause = xasprintf("cannot fork: %s", strerror(errno));
			return -1;
		}
		if (ex->pid == 0) {
			sigset_t none;
			int fd = open(ex->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			/* never outlive the task, however it ends */
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(1);
			if (fd >= 0) {
				dup2(fd, STDOUT_FILENO);
				dup2(fd, STDERR_FILENO);
			}
			execl(program, program, flag, ex->address, (char *)NULL);
			dprintf(STDERR_FILENO, "cannot run '%s': %s\n", program, strerror(errno));
			_exit(127);
		}
		free(flag);
		url = xasprintf("http://%s/metrics", ex->address);
		deadline = now_ms() + EXPORTER_READY_MS;
		for (;;) {
			struct http_response resp;
			char *why = NULL;
			int ok;

			if (waitpid(ex->pid, &status, WNOHANG) == ex->pid) {
				char *tail = log_tail(ex->log);

				ex->pid = -1;
				*cause = WIFEXITED(status)
						 ? xasprintf("%s exited with status %d: %s", exporter_kinds[kind].name,
							     WEXITSTATUS(status), tail ? tail : "no output")
						 : xasprintf("%s was killed by signal %d", exporter_kinds[kind].name,
							     WTERMSIG(status));
				free(tail);
				break;
			}
			http_response_init(&resp);
			ok = http_request("GET", url, NULL, NULL, 2000, &resp, &why) == 0 && resp.status == 200;
			http_response_release(&resp);
			free(why);
			if (ok) {
				ex->ready = 1;
				free(url);
				return 0;
			}
			if (now_ms() >= deadline) {
				*cause = xasprintf("%s did not answer %s within %ds", exporter_kinds[kind].name, url,
						   EXPORTER_READY_MS / 1000);
				kill(ex->pid, SIGKILL);
				waitpid(ex->pid, NULL, 0);
				ex->pid = -1;
				free(url);
				return -1;
			}
			sleep_ms(200);
		}
		free(url);
		url = NULL;
		if (!strstr(*cause, "address already in use"))
			break;
	}
	return -1;
}

static int write_node_file(const struct session *s, const char *node, int64_t token, const char *state,
			   const char *why, const struct running_exporter *ex, const char *dcgm_note)
{
	char *path = node_file(s, node), *step = NULL;
	cJSON *root = cJSON_CreateObject();
	int ret;

	if (getenv("SLURM_JOB_ID") && getenv("SLURM_STEP_ID"))
		step = xasprintf("%s.%s", getenv("SLURM_JOB_ID"), getenv("SLURM_STEP_ID"));
	cJSON_AddStringToObject(root, "node", node);
	cJSON_AddNumberToObject(root, "token", (double)token);
	cJSON_AddStringToObject(root, "state", state);
	json_add_string_or_null(root, "error", why);
	json_add_string_or_null(root, "node_exporter", ex[EXP_NODE].ready ? ex[EXP_NODE].address : NULL);
	json_add_string_or_null(root, "dcgm_exporter", ex[EXP_DCGM].ready ? ex[EXP_DCGM].address : NULL);
	json_add_string_or_null(root, "dcgm_note", dcgm_note);
	json_add_string_or_null(root, "step", step);
	json_add_time(root, "updated", now_ms());
	ret = json_write_file(path, root, 1);
	cJSON_Delete(root);
	free(path);
	free(step);
	return ret;
}

/* Does a signal that ends the task (one of waited but SIGCHLD) come within 2 s? */
static int step_stopping(const sigset_t *waited)
{
	struct timespec wait = { .tv_sec = 2 };
	sigset_t stop = *waited;
	int sig;

	sigdelset(&stop, SIGCHLD);
	do
		sig = sigtimedwait(&stop, NULL, &wait);
	while (sig < 0 && errno == EINTR);
	return sig > 0;
}

static void stop_exporters(struct running_exporter *ex)
{
	for (int k = 0; k < EXP_KINDS; k++)
		if (ex[k].pid > 0)
			kill(ex[k].pid, SIGTERM);
	for (int k = 0; k < EXP_KINDS; k++)
		if (ex[k].pid > 0)
			waitpid(ex[k].pid, NULL, 0);
}

int exporters_node_task(const struct session *s)
{
	struct exporters_report r = { 0 };
	struct running_exporter ex[EXP_KINDS] = { { .pid = -1 }, { .pid = -1 } };
	const struct exporters_node *me = NULL;
	const char *name = getenv("SLURMD_NODENAME");
	char *host = NULL, *why = NULL, *dcgm_note = NULL;
	cJSON *step = NULL;
	int64_t token;
	int want[EXP_KINDS], ret = -1;
	sigset_t waited;

	sigemptyset(&waited);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigaddset(&waited, SIGHUP);
	sigaddset(&waited, SIGCHLD);
	sigprocmask(SIG_BLOCK, &waited, NULL);
	if (!name || !*name) {
		char buf[256] = "";

		gethostname(buf, sizeof(buf) - 1);
		buf[strcspn(buf, ".")] = '\0';
		name = host = xstrdup(buf);
	}
	if (step_load(s, &step) != 0 || report_from_step(step, &r, &token) < 0) {
		error("node %s: cannot read the session's exporters/step.json", name);
		goto out;
	}
	for (size_t i = 0; i < r.n; i++)
		if (!strcmp(r.nodes[i].node, name))
			me = &r.nodes[i];
	if (!me) {
		error("node %s is not one of the exporters' nodes in exporters/step.json", name);
		goto out;
	}
	want[EXP_NODE] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "node_exporter"));
	want[EXP_DCGM] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(step, "dcgm_exporter"));
	for (int k = 0; k < EXP_KINDS && !why; k++) {
		char *program;

		if (!want[k])
			continue;
		program = find_program(exporter_kinds[k].programs);
		if (!program) {
			if (k == EXP_DCGM)
				dcgm_note = xstrdup("no DCGM exporter is installed on this node (dcgm-exporter on PATH)");
			else
				why = xasprintf("%s is not installed (%s or %s on PATH)", exporter_kinds[k].name,
						exporter_kinds[k].programs[0], exporter_kinds[k].programs[1]);
			continue;
		}
		spawn_exporter(s, (enum exporter_kind)k, program, name, me->address, &ex[k], &why);
		free(program);
	}
	if (!why) {
		struct client c = {
			.client_id = (char *)name, .node = (char *)name, .node_address = me->address,
			.node_exporter = ex[EXP_NODE].pid > 0 ? ex[EXP_NODE].address : NULL,
			.dcgm_exporter = ex[EXP_DCGM].pid > 0 ? ex[EXP_DCGM].address : NULL,
		};
		char *cause = NULL;

		if (validate_id("client id", name, &cause) < 0 || registry_put_client(s, &c) < 0) {
			why = cause ? cause : xstrdup("cannot register the node's client in the session");
			cause = NULL;
		}
		free(cause);
	}
	if (why) {
		stop_exporters(ex);
		write_node_file(s, name, token, "failed", why, ex, dcgm_note);
		error("node %s: %s", name, why);
		goto out;
	}
	if (write_node_file(s, name, token, "running", NULL, ex, dcgm_note) < 0)
		goto out;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&waited, &si), status = 0;
		pid_t pid;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			stop_exporters(ex);
			write_node_file(s, name, token, "stopped", NULL, ex, dcgm_note);
			ret = 0;
			break;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int k = 0; k < EXP_KINDS; k++) {
				if (ex[k].pid != pid)
					continue;
				ex[k].pid = -1;
				free(why);
				why = WIFEXITED(status) ? xasprintf("%s exited with status %d", exporter_kinds[k].name,
								    WEXITSTATUS(status))
							: xasprintf("%s was killed by signal %d", exporter_kinds[k].name,
								    WTERMSIG(status));
			}
		}
		if (why && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM && step_stopping(&waited)) {
			/* the step's end signals every process of it: the exporter only heard first */
			stop_exporters(ex);
			write_node_file(s, name, token, "stopped", NULL, ex, dcgm_note);
			ret = 0;
			break;
		}
		if (why) {
			stop_exporters(ex);
			write_node_file(s, name, token, "failed", why, ex, dcgm_note);
			error("node %s: %s", name, why);
			break;
		}
	}
out:
	for (int k = 0; k < EXP_KINDS; k++) {
		free(ex[k].address);
		free(ex[k].log);
	}
	exporters_report_release(&r);
	cJSON_Delete(step);
	free(host);
	free(why);
	free(dcgm_note);
	return ret;
}
