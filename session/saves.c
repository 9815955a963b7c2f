#include "session/saves.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/xmalloc.h"
#include "session/jobstate.h"

static int compare_saves(const void *a, const void *b)
{
	const struct tsdb_save *x = a, *y = b;

	if (x->started_ms != y->started_ms)
		return x->started_ms < y->started_ms ? -1 : 1;
	return strcmp(x->job, y->job);
}

/* Read the description of the save in dir; 0, or -1 when it has none (not a finished save). */
static int save_read(const char *dir, struct tsdb_save *save)
{
	char *path = xasprintf("%s/%s", dir, JOB_SAVE_FILE);
	cJSON *root = NULL;
	int ret = -1;

	memset(save, 0, sizeof(*save));
	if (json_read_file(path, 1 << 16, 1, &root, NULL) != 0 || !json_string(root, "job"))
		goto out;
	save->job = json_strdup(root, "job");
	save->host = json_strdup(root, "host");
	save->tsdb_local = json_strdup(root, "tsdb_local");
	save->why = json_strdup(root, "why");
	save->started_ms = json_int(root, "started_ms", 0);
	save->ended_ms = json_int(root, "ended_ms", 0);
	save->saved_ms = json_int(root, "saved_ms", 0);
	save->path = xstrdup(dir);
	if (tree_size(dir, &save->bytes) < 0)
		save->bytes = 0;
	ret = 0;
out:
	cJSON_Delete(root);
	free(path);
	return ret;
}

int tsdb_saves_load(const struct session *s, struct tsdb_save_list *list)
{
	char *root = session_path(s, "tsdb");
	size_t alloc = 0;
	struct dirent *de;
	DIR *dir;
	int ret = -1;

	memset(list, 0, sizeof(*list));
	dir = opendir(root);
	if (!dir) {
		if (errno == ENOENT)
			ret = 0;
		else
			error("cannot open directory '%s': %s", root, strerror(errno));
		goto out;
	}
	while ((de = readdir(dir))) {
		struct tsdb_save save;
		char *path;

		/* staging copies start with '.' */
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", root, de->d_name);
		if (save_read(path, &save) == 0) {
			if (list->n == alloc) {
				alloc = alloc ? 2 * alloc : 8;
				list->items = xrealloc(list->items, alloc * sizeof(*list->items));
			}
			list->items[list->n++] = save;
			list->bytes += save.bytes;
		}
		free(path);
	}
	closedir(dir);
	if (list->n)
		qsort(list->items, list->n, sizeof(*list->items), compare_saves);
	ret = 0;
out:
	free(root);
	return ret;
}

const struct tsdb_save *tsdb_saves_find(const struct tsdb_save_list *list, const char *job)
{
	for (size_t i = list->n; i-- > 0;)
		if (!strcmp(list->items[i].job, job))
			return &list->items[i];
	return NULL;
}

void tsdb_save_list_release(struct tsdb_save_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].job);
		free(list->items[i].host);
		free(list->items[i].path);
		free(list->items[i].tsdb_local);
		free(list->items[i].why);
	}
	free(list->items);
	memset(list, 0, sizeof(*list));
}
