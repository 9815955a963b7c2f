#include "session/api.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

int session_api_load(const struct session *s, struct session_api *api)
{
	char *path = session_path(s, API_RECORD_FILE);
	cJSON *root = NULL;
	int ret;

	memset(api, 0, sizeof(*api));
	ret = json_read_file(path, 4096, 1, &root, "remove it; the server is not running");
	if (ret == 0) {
		api->url = json_strdup(root, "url");
		api->host = json_strdup(root, "host");
		api->pid = (long)json_int(root, "pid", 0);
		api->started_ms = json_int(root, "started_ms", 0);
		if (!api->url || !api->host || api->pid <= 0) {
			session_api_release(api);
			ret = error("'%s' lacks url, host or pid (corrupted?)", path);
		} else {
			api->here = !strcmp(api->host, host_tag());
			api->alive = !api->here || kill((pid_t)api->pid, 0) == 0 || errno == EPERM;
		}
	}
	cJSON_Delete(root);
	free(path);
	return ret;
}

void session_api_release(struct session_api *api)
{
	free(api->url);
	free(api->host);
	memset(api, 0, sizeof(*api));
}

int session_api_save(const struct session *s, const char *url)
{
	char *path = session_path(s, API_RECORD_FILE);
	cJSON *root = cJSON_CreateObject();
	int ret;

	cJSON_AddStringToObject(root, "url", url);
	cJSON_AddNumberToObject(root, "pid", (double)getpid());
	cJSON_AddStringToObject(root, "host", host_tag());
	cJSON_AddNumberToObject(root, "started_ms", (double)now_ms());
	ret = json_write_file(path, root, 1);
	cJSON_Delete(root);
	free(path);
	return ret;
}

void session_api_remove(const struct session *s)
{
	struct session_api api;

	if (session_api_load(s, &api) == 0 && api.here && api.pid == (long)getpid()) {
		char *path = session_path(s, API_RECORD_FILE);

		unlink(path);
		free(path);
	}
	session_api_release(&api);
}

int session_api_end(const struct session *s, int64_t wait_ms)
{
	struct session_api api;
	int64_t deadline = now_ms() + wait_ms;
	int ret = 0;

	if (session_api_load(s, &api) != 0 || !api.alive)
		goto out;
	if (!api.here) {
		/* a server in Prometheus's job ends with the job: wait for it to remove its record */
		char *path = session_path(s, API_RECORD_FILE);

		while (path_exists(path) && now_ms() < deadline)
			sleep_ms(100);
		if (path_exists(path))
			ret = error("the API of session '%s' still runs on host %s (pid %ld): end it there", s->id, api.host,
				    api.pid);
		free(path);
		goto out;
	}
	progress("ending the API server at %s (pid %ld)", api.url, api.pid);
	if (kill((pid_t)api.pid, SIGTERM) < 0 && errno != ESRCH) {
		ret = error("cannot signal the API server (pid %ld): %s", api.pid, strerror(errno));
		goto out;
	}
	while (kill((pid_t)api.pid, 0) == 0 && now_ms() < deadline)
		sleep_ms(50);
	if (kill((pid_t)api.pid, 0) == 0)
		ret = error("the API server (pid %ld) did not end within %lld s", api.pid, (long long)(wait_ms / 1000));
out:
	session_api_release(&api);
	return ret;
}
