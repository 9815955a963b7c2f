#include "collect/window.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"

static void add_time(cJSON *root, const char *key, int64_t ms)
{
	char *t = format_time_ms(ms);

	cJSON_AddStringToObject(root, key, t);
	free(t);
}

int window_file_write(const char *path, const struct window_file *w)
{
	cJSON *root = cJSON_CreateObject(), *cmd;
	int ret;

	cJSON_AddStringToObject(root, "session", w->session);
	cJSON_AddStringToObject(root, "run_id", w->run_id);
	add_time(root, "from", w->from_ms);
	add_time(root, "to", w->to_ms);
	add_time(root, "started", w->started_ms);
	add_time(root, "ended", w->ended_ms);
	cJSON_AddNumberToObject(root, "warmup_seconds", (double)w->warmup_ms / 1000.0);
	cJSON_AddNumberToObject(root, "cooldown_seconds", (double)w->cooldown_ms / 1000.0);
	cmd = cJSON_AddArrayToObject(root, "command");
	for (size_t i = 0; w->command && w->command[i]; i++)
		cJSON_AddItemToArray(cmd, cJSON_CreateString(w->command[i]));
	if (w->exit_status >= 0)
		cJSON_AddNumberToObject(root, "exit_status", w->exit_status);
	else
		cJSON_AddNullToObject(root, "exit_status");
	json_add_string_or_null(root, "interrupted_by", w->interrupted_by);
	if (w->labels) {
		cJSON *labels = cJSON_AddArrayToObject(root, "labels");

		for (size_t i = 0; w->labels[i]; i++)
			cJSON_AddItemToArray(labels, cJSON_CreateString(w->labels[i]));
	}
	ret = json_write_file_mode(path, root, 1, results_mode(0666));
	cJSON_Delete(root);
	return ret;
}

static int read_time(const char *path, const cJSON *root, const char *key, int64_t *ms)
{
	const char *text = json_string(root, key);
	char *cause = NULL;

	if (!text)
		return error("'%s' has no \"%s\" time", path, key);
	if (parse_time_ms(text, ms, &cause) < 0) {
		error("'%s': \"%s\": %s", path, key, cause);
		free(cause);
		return -1;
	}
	return 0;
}

int window_file_read(const char *path, struct window_file *w)
{
	cJSON *root = NULL;
	const cJSON *labels;
	int ret = -1;

	memset(w, 0, sizeof(*w));
	w->exit_status = -1;
	if (json_read_file(path, 1 << 20, 0, &root, NULL) != 0)
		goto out;
	w->session = json_strdup(root, "session");
	w->run_id = json_strdup(root, "run_id");
	if (!w->session || !w->run_id) {
		error("'%s' has no \"session\" or \"run_id\"", path);
		goto out;
	}
	if (read_time(path, root, "from", &w->from_ms) < 0 || read_time(path, root, "to", &w->to_ms) < 0)
		goto out;
	labels = cJSON_GetObjectItemCaseSensitive(root, "labels");
	if (cJSON_IsArray(labels)) {
		const cJSON *l;
		size_t n = 0;

		w->labels = xcalloc((size_t)cJSON_GetArraySize(labels) + 1, sizeof(char *));
		cJSON_ArrayForEach(l, labels)
			if (cJSON_IsString(l))
				w->labels[n++] = xstrdup(l->valuestring);
	}
	ret = 0;
out:
	cJSON_Delete(root);
	if (ret < 0)
		window_file_release(w);
	return ret;
}

void window_file_release(struct window_file *w)
{
	free(w->session);
	free(w->run_id);
	free(w->interrupted_by);
	for (size_t i = 0; w->labels && w->labels[i]; i++)
		free(w->labels[i]);
	free(w->labels);
	memset(w, 0, sizeof(*w));
}
