#include "session/registry.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "lib/error.h"
#include "lib/fsutil.h"
#include "lib/jsonfile.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/timeparse.h"
#include "lib/xmalloc.h"
#include "session/validate.h"
#include "session/labels.h"

#define REGISTRY_FILE_MAX (512u << 20)

static const char *const target_kind_names[] = {
	[TARGET_NODE] = "node",
	[TARGET_DCGM] = "dcgm",
	[TARGET_SERVICE] = "service",
};

const char *target_kind_name(enum target_kind kind)
{
	return target_kind_names[kind];
}

/* The labels every target group of a client carries. */
static cJSON *common_labels(const struct session *s, const char *client_id, const char *node,
			    const char *kind, int64_t registered_ms)
{
	cJSON *labels = cJSON_CreateObject();
	char *stamp = xasprintf("%lld", (long long)registered_ms);

	cJSON_AddStringToObject(labels, LABEL_SESSION, s->id);
	cJSON_AddStringToObject(labels, LABEL_CLIENT_ID, client_id);
	cJSON_AddStringToObject(labels, LABEL_NODE, node);
	cJSON_AddStringToObject(labels, LABEL_KIND, kind);
	cJSON_AddStringToObject(labels, "__benchmon_registered_ms", stamp);
	free(stamp);
	return labels;
}

static void add_group(cJSON *groups, const char *address, cJSON *labels)
{
	cJSON *group = cJSON_CreateObject();
	cJSON *targets = cJSON_AddArrayToObject(group, "targets");

	if (address)
		cJSON_AddItemToArray(targets, cJSON_CreateString(address));
	cJSON_AddItemToObject(group, "labels", labels);
	cJSON_AddItemToArray(groups, group);
}

int registry_put_client(const struct session *s, const struct client *c)
{
	int64_t now = now_ms();
	cJSON *groups = cJSON_CreateArray(), *group;
	char *path = xasprintf("%s/targets/client+%s.json", s->dir, c->client_id);
	int ret;

	if (c->node_exporter)
		add_group(groups, c->node_exporter, common_labels(s, c->client_id, c->node, target_kind_name(TARGET_NODE), now));
	if (c->dcgm_exporter)
		add_group(groups, c->dcgm_exporter, common_labels(s, c->client_id, c->node, target_kind_name(TARGET_DCGM), now));
	if (!c->node_exporter && !c->dcgm_exporter)
		/* a group without targets records the client and its node, and scrapes nothing */
		add_group(groups, NULL, common_labels(s, c->client_id, c->node, "client", now));
	cJSON_ArrayForEach(group, groups)
		if (c->node_address)
			cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(group, "labels"),
						LABEL_META_NODE_ADDRESS, c->node_address);
	ret = json_write_file(path, groups, 0);
	cJSON_Delete(groups);
	free(path);
	return ret;
}

/*
 * The node of a connected client, and where a service of it on loopback is
 * reached from other nodes (*reach: the node's recorded address, else its
 * name): 0 found, 1 not connected, -1 error.
 */
static int client_node(const struct session *s, const char *client_id, char **node, char **reach)
{
	char *path = xasprintf("%s/targets/client+%s.json", s->dir, client_id);
	cJSON *groups = NULL, *first;
	int ret;

	ret = json_read_file(path, REGISTRY_FILE_MAX, 1, &groups, "connect the client again with 'benchmon client-connect'");
	if (ret != 0)
		goto out;
	first = cJSON_GetArrayItem(groups, 0);
	*node = json_strdup(cJSON_GetObjectItemCaseSensitive(first, "labels"), LABEL_NODE);
	*reach = json_strdup(cJSON_GetObjectItemCaseSensitive(first, "labels"), LABEL_META_NODE_ADDRESS);
	if (!*node)
		ret = error("'%s' names no node (corrupted?); connect the client again", path);
	else if (!*reach)
		*reach = xstrdup(*node);
out:
	cJSON_Delete(groups);
	free(path);
	return ret;
}

static cJSON *service_group(const struct session *s, const struct service *svc, const char *node,
			    const struct endpoint *ep, int64_t now)
{
	cJSON *labels = common_labels(s, svc->client_id, node, target_kind_name(TARGET_SERVICE), now);
	cJSON *group = cJSON_CreateArray();
	char *url = endpoint_url(ep);

	cJSON_AddStringToObject(labels, LABEL_SERVICE, svc->name);
	cJSON_AddStringToObject(labels, "__scheme__", ep->scheme);
	cJSON_AddStringToObject(labels, "__metrics_path__", ep->path);
	for (size_t i = 0; i < ep->nparams; i++) {
		char *name = xasprintf("__param_%s", ep->params[i].name);

		cJSON_AddStringToObject(labels, name, ep->params[i].value);
		free(name);
	}
	cJSON_AddStringToObject(labels, "__benchmon_url", url);
	add_group(group, ep->address, labels);
	free(url);
	return group;
}

static int compare_by_client(const void *a, const void *b, void *svcs)
{
	const struct service *v = svcs;

	return strcmp(v[*(const size_t *)a].client_id, v[*(const size_t *)b].client_id);
}

/*
 * The node of every service's client, and where its loopback endpoints are
 * reached from (client_node), each client file read once: rows are visited
 * in client order. nodes[i] and reach[i] point into *owned (two strings per
 * client), which the caller frees with free_strings.
 */
static int lookup_nodes(const struct session *s, const struct service *svcs, size_t n, const char **nodes,
			const char **reach, char ***owned, size_t *nowned, size_t *bad_index, char **cause)
{
	size_t *order = xcalloc(n + 1, sizeof(size_t));
	int ret = -1;

	*owned = xcalloc(2 * n + 1, sizeof(char *));
	*nowned = 0;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(size_t), compare_by_client, (void *)svcs);
	for (size_t i = 0; i < n; i++) {
		const struct service *svc = &svcs[order[i]];

		if (!i || strcmp(svc->client_id, svcs[order[i - 1]].client_id)) {
			char *node = NULL, *node_reach = NULL;
			int found = client_node(s, svc->client_id, &node, &node_reach);

			if (found != 0) {
				*bad_index = order[i];
				if (found > 0)
					*cause = xasprintf("client '%s' is not connected to session '%s' (run 'benchmon client-connect' first)",
							   svc->client_id, s->id);
				else
					*cause = xasprintf("cannot read client '%s'", svc->client_id);
				free(node);
				free(node_reach);
				goto out;
			}
			(*owned)[(*nowned)++] = node;
			(*owned)[(*nowned)++] = node_reach;
		}
		nodes[order[i]] = (*owned)[*nowned - 2];
		reach[order[i]] = (*owned)[*nowned - 1];
	}
	ret = 0;
out:
	free(order);
	return ret;
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* targets/auth/<first 16 hex digits of sha256(token_file)>. Caller frees. */
static char *auth_dir_for(const struct session *s, const char *token_file)
{
	struct sha256_ctx ctx;
	unsigned char digest[32];
	char hex[17];

	sha256_init(&ctx);
	sha256_update(&ctx, token_file, strlen(token_file));
	sha256_final(&ctx, digest);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return xasprintf("%s/targets/auth/%s", s->dir, hex);
}

int registry_has_auth(const struct session *s, const char *token_file)
{
	char *dir = auth_dir_for(s, token_file);
	char *path = xasprintf("%s/token-file", dir);
	int ret = path_exists(path);

	free(path);
	free(dir);
	return ret;
}

/* Create the auth directory of token_file, with the path recorded in it. */
static int auth_dir_create(const struct session *s, const char *token_file, char **dir)
{
	char *path;
	int ret = 0;

	*dir = auth_dir_for(s, token_file);
	path = xasprintf("%s/token-file", *dir);
	if (!path_exists(path) &&
	    (mkdir_p(*dir, 0700) < 0 || write_file_atomic(path, token_file, strlen(token_file), 0600) < 0))
		ret = -1;
	free(path);
	return ret;
}

/*
 * A new registration's stamp: the time in nanoseconds (19 digits), this
 * host and the pid, so that strcmp orders two stamps by time, with host and
 * pid breaking ties. Stamps of one process always increase.
 */
static char *registration_stamp(int64_t *ms)
{
	/* atomic: the threads of benchmon serve register at once */
	static _Atomic int64_t last;
	struct timespec ts;
	int64_t ns, prev;

	clock_gettime(CLOCK_REALTIME, &ts);
	ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	prev = atomic_load(&last);
	do {
		if (ns <= prev)
			ns = prev + 1;
	} while (!atomic_compare_exchange_weak(&last, &prev, ns));
	*ms = ns / 1000000;
	return xasprintf("%019lld+%s+%010ld", (long long)ns, host_tag(), (long)getpid());
}

/*
 * Split a service file's name, "service+<client>+<name>[+<stamp>].json",
 * into a copy whose parts *client, *name and *stamp point into; a name
 * without a stamp (written before stamps existed) gets "", older than all.
 * NULL when name is not a service file.
 */
static char *split_service_name(const char *file, const char **client, const char **name, const char **stamp)
{
	size_t len = strlen(file);
	char *copy = NULL, *p;

	if (strncmp(file, "service+", 8) || len < 5 + 8 || strcmp(file + len - 5, ".json") || is_temp_name(file))
		goto out;
	copy = xstrdup(file + 8);
	copy[len - 8 - 5] = '\0';
	*client = copy;
	*name = "";
	*stamp = "";
	p = strchr(copy, '+');
	if (p) {
		*p++ = '\0';
		*name = p;
		p = strchr(p, '+');
	}
	if (p) {
		*p++ = '\0';
		*stamp = p;
	}
	if (!**client || !**name) {
		free(copy);
		copy = NULL;
		*client = *name = *stamp = "";
	}
out:
	return copy;
}

static int compare_services(const struct service *a, const struct service *b)
{
	int c = strcmp(a->client_id, b->client_id);

	return c ? c : strcmp(a->name, b->name);
}

static int compare_indexed_services(const void *a, const void *b, void *svcs)
{
	const struct service *v = svcs;

	return compare_services(&v[*(const size_t *)a], &v[*(const size_t *)b]);
}

/* The index of the service client/name in svcs, by the sorted order, or -1. */
static long service_index(const struct service *svcs, const size_t *order, size_t n, const char *client,
			  const char *name)
{
	const struct service key = { .client_id = (char *)client, .name = (char *)name };
	size_t lo = 0, hi = n;
	long found = -1;

	while (found < 0 && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare_services(&key, &svcs[order[mid]]);

		if (!c)
			found = (long)order[mid];
		else if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return found;
}

/*
 * Settle the services just registered (paths[i] with stamp) against the
 * other registrations of the same names in dirpath: an older one is
 * removed, and when a newer one is seen, ours is the one removed. Nothing
 * else is removed, so the newest registration of a name always survives.
 */
static void settle_dir(const char *dirpath, const struct service *svcs, const size_t *order, char **paths,
		       size_t n, const char *stamp)
{
	DIR *dir = opendir(dirpath);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		const char *client, *name, *other;
		char *parts = split_service_name(de->d_name, &client, &name, &other);
		long i = parts ? service_index(svcs, order, n, client, name) : -1;
		int c = i >= 0 ? strcmp(other, stamp) : 0;

		if (c < 0) {
			char *path = xasprintf("%s/%s", dirpath, de->d_name);

			unlink(path);
			free(path);
		} else if (c > 0) {
			unlink(paths[i]);
		}
		free(parts);
	}
	if (dir)
		closedir(dir);
}

/* Settle the new registrations in targets/ and in every auth directory. */
static void settle_registrations(const struct session *s, const struct service *svcs, char **paths, size_t n,
				 const char *stamp)
{
	char *root = xasprintf("%s/targets/auth", s->dir);
	char *targets = xasprintf("%s/targets", s->dir);
	size_t *order = xcalloc(n + 1, sizeof(size_t));
	DIR *dir;
	struct dirent *de;

	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(size_t), compare_indexed_services, (void *)svcs);
	settle_dir(targets, svcs, order, paths, n, stamp);
	dir = opendir(root);
	while (dir && (de = readdir(dir))) {
		char *sub;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", root, de->d_name);
		settle_dir(sub, svcs, order, paths, n, stamp);
		free(sub);
	}
	if (dir)
		closedir(dir);
	free(order);
	free(targets);
	free(root);
}

int registry_put_services(const struct session *s, const struct service *svcs, size_t n,
			  size_t *rewritten, size_t *bad_index, char **cause)
{
	int remote = session_prometheus_is_remote(s);
	int64_t now;
	char *stamp = registration_stamp(&now);
	cJSON **groups = xcalloc(n + 1, sizeof(cJSON *));
	char **paths = xcalloc(n + 1, sizeof(char *));
	const char **nodes = xcalloc(n + 1, sizeof(char *));
	const char **reach = xcalloc(n + 1, sizeof(char *));
	char **owned = NULL, *dir = NULL;
	size_t nowned = 0, written = 0;
	int ret = -1;

	*cause = NULL;
	*rewritten = 0;
	for (size_t i = 0; i < n; i++) {
		*bad_index = i;
		if (validate_id("client id", svcs[i].client_id, cause) < 0 ||
		    validate_id("service name", svcs[i].name, cause) < 0)
			goto out;
	}
	if (lookup_nodes(s, svcs, n, nodes, reach, &owned, &nowned, bad_index, cause) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct endpoint ep;

		*bad_index = i;
		if (endpoint_parse(svcs[i].endpoint, &ep, cause) < 0)
			goto out;
		if (remote && host_is_loopback(ep.host) && !host_is_loopback(nodes[i])) {
			endpoint_set_host(&ep, reach[i]);
			(*rewritten)++;
		}
		groups[i] = service_group(s, &svcs[i], nodes[i], &ep, now);
		endpoint_release(&ep);
	}
	if (n == 1 && svcs[0].token_file) {
		if (auth_dir_create(s, svcs[0].token_file, &dir) < 0) {
			*cause = xstrdup("the registry was not changed");
			*bad_index = n;
			goto out;
		}
	} else {
		dir = xasprintf("%s/targets", s->dir);
	}
	/* every file first, so that a failure can take them all back before anything older is removed */
	for (written = 0; written < n; written++) {
		paths[written] = xasprintf("%s/service+%s+%s+%s.json", dir, svcs[written].client_id,
					   svcs[written].name, stamp);
		if (json_write_file(paths[written], groups[written], 0) < 0) {
			for (size_t i = 0; i < written; i++)
				unlink(paths[i]);
			*cause = xstrdup("the registry was not changed");
			*bad_index = n;
			goto out;
		}
	}
	settle_registrations(s, svcs, paths, n, stamp);
	ret = 0;
out:
	free_strings(owned, nowned);
	free(nodes);
	free(reach);
	for (size_t i = 0; i < n; i++)
		cJSON_Delete(groups[i]);
	free(groups);
	free_strings(paths, n);
	free(dir);
	free(stamp);
	return ret;
}

static int kind_from_name(const char *name, enum target_kind *kind)
{
	for (size_t i = 0; i < sizeof(target_kind_names) / sizeof(target_kind_names[0]); i++) {
		if (!strcmp(name, target_kind_names[i])) {
			*kind = (enum target_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Build the scrape URL of a group from the labels Prometheus would use. */
static char *group_url(const cJSON *labels, const char *address)
{
	const char *url = json_string(labels, "__benchmon_url");

	if (url)
		return xstrdup(url);
	return xasprintf("http://%s/metrics", address);
}

static void list_push(struct target_list *list, size_t *alloc, struct target *t)
{
	if (list->n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 64;
		list->items = xrealloc(list->items, *alloc * sizeof(*list->items));
	}
	list->items[list->n++] = *t;
}

static void target_release(struct target *t)
{
	free(t->client_id);
	free(t->node);
	free(t->name);
	free(t->address);
	free(t->node_address);
	free(t->url);
	free(t->stamp);
	free(t->token_file);
}

static int load_file(const char *path, struct target_list *list, size_t *alloc)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *client, *name, *stamp = "";
	char *parts = split_service_name(base, &client, &name, &stamp);
	cJSON *groups = NULL, *group;
	int ret = json_read_file(path, REGISTRY_FILE_MAX, 1, &groups,
				 "move it away and register its targets again");

	if (ret != 0) {
		free(parts);
		return ret > 0 ? 0 : -1; /* a file removed while we listed is fine */
	}
	if (!cJSON_IsArray(groups)) {
		cJSON_Delete(groups);
		free(parts);
		return error("'%s' is not a list of target groups (corrupted?)", path);
	}
	cJSON_ArrayForEach(group, groups) {
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(group, "labels");
		const cJSON *targets = cJSON_GetObjectItemCaseSensitive(group, "targets");
		const char *kind = json_string(labels, LABEL_KIND);
		const char *client_id = json_string(labels, LABEL_CLIENT_ID);
		const char *node = json_string(labels, LABEL_NODE);
		const cJSON *address;

		if (!kind || !client_id || !node || (!strcmp(kind, target_kind_name(TARGET_SERVICE)) && !json_string(labels, LABEL_SERVICE))) {
			cJSON_Delete(groups);
			free(parts);
			return error("'%s' has a target group without kind, client_id, node or service name (corrupted?)",
				     path);
		}
		if (!strncmp(base, "client+", 7) && group == groups->child)
			list->nclients++;
		cJSON_ArrayForEach(address, targets) {
			struct target t = { 0 };
			const char *ms = json_string(labels, "__benchmon_registered_ms");

			if (!cJSON_IsString(address) || kind_from_name(kind, &t.kind) < 0) {
				cJSON_Delete(groups);
				free(parts);
				return error("'%s' has a malformed target (corrupted?)", path);
			}
			t.client_id = xstrdup(client_id);
			t.node = xstrdup(node);
			t.name = json_strdup(labels, LABEL_SERVICE);
			t.address = xstrdup(address->valuestring);
			t.node_address = json_strdup(labels, LABEL_META_NODE_ADDRESS);
			t.url = t.kind == TARGET_SERVICE ? group_url(labels, t.address)
							 : xasprintf("http://%s/metrics", t.address);
			t.registered_ms = ms ? strtoll(ms, NULL, 10) : 0;
			t.stamp = xstrdup(stamp);
			list_push(list, alloc, &t);
		}
	}
	cJSON_Delete(groups);
	free(parts);
	return 0;
}

static int compare_targets(const void *a, const void *b)
{
	const struct target *x = a, *y = b;
	int c = strcmp(x->client_id, y->client_id);

	if (c)
		return c;
	if (x->kind != y->kind)
		return (int)x->kind - (int)y->kind;
	c = strcmp(x->name ? x->name : "", y->name ? y->name : "");
	if (c)
		return c;
	/* newest first, so the duplicate pass keeps the newest */
	if (x->registered_ms != y->registered_ms)
		return x->registered_ms < y->registered_ms ? 1 : -1;
	return -strcmp(x->stamp, y->stamp);
}

/* Drop older registrations of the same service, keeping the newest. */
static void drop_duplicates(struct target_list *list)
{
	size_t out = 0;

	for (size_t i = 0; i < list->n; i++) {
		struct target *t = &list->items[i];

		if (out && t->kind == TARGET_SERVICE && list->items[out - 1].kind == TARGET_SERVICE &&
		    !strcmp(t->client_id, list->items[out - 1].client_id) &&
		    !strcmp(t->name, list->items[out - 1].name)) {
			target_release(t);
			continue;
		}
		list->items[out++] = *t;
	}
	list->n = out;
}

/* Load every *.json registry file of dirpath into list. */
static int load_dir(const char *dirpath, struct target_list *list, size_t *alloc)
{
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	int ret = 0;

	if (!dir)
		return error("cannot open directory '%s': %s", dirpath, strerror(errno));
	while (ret == 0 && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		char *path;

		/* temporary files end in ".tmp.<host>.<pid>", so this skips them too */
		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		path = xasprintf("%s/%s", dirpath, de->d_name);
		ret = load_file(path, list, alloc);
		free(path);
	}
	closedir(dir);
	return ret;
}

int registry_auth_dirs(const struct session *s, struct auth_dir **dirs, size_t *n)
{
	char *root = xasprintf("%s/targets/auth", s->dir);
	DIR *dir = opendir(root);
	struct dirent *de;
	int ret = 0;

	*dirs = NULL;
	*n = 0;
	if (!dir) {
		if (errno != ENOENT)
			ret = error("cannot open directory '%s': %s", root, strerror(errno));
		free(root);
		return ret;
	}
	while ((de = readdir(dir))) {
		struct strbuf token = STRBUF_INIT;
		char *sub, *path;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", root, de->d_name);
		path = xasprintf("%s/token-file", sub);
		if (read_file(path, &token, 4096, 1) == 0 && token.len) {
			*dirs = xrealloc(*dirs, (*n + 1) * sizeof(**dirs));
			(*dirs)[*n].dir = sub;
			(*dirs)[*n].token_file = strbuf_detach(&token, NULL);
			(*n)++;
			sub = NULL;
		}
		strbuf_release(&token);
		free(path);
		free(sub);
	}
	closedir(dir);
	free(root);
	return 0;
}

void auth_dirs_free(struct auth_dir *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(dirs[i].dir);
		free(dirs[i].token_file);
	}
	free(dirs);
}

int registry_load(const struct session *s, struct target_list *list)
{
	char *dirpath = xasprintf("%s/targets", s->dir);
	struct auth_dir *auth = NULL;
	size_t alloc = 0, nauth = 0;
	int ret = -1;

	memset(list, 0, sizeof(*list));
	if (load_dir(dirpath, list, &alloc) < 0 || registry_auth_dirs(s, &auth, &nauth) < 0)
		goto fail;
	for (size_t i = 0; i < nauth; i++) {
		size_t first = list->n;

		if (load_dir(auth[i].dir, list, &alloc) < 0)
			goto fail;
		for (size_t j = first; j < list->n; j++)
			list->items[j].token_file = xstrdup(auth[i].token_file);
	}
	if (list->n)
		qsort(list->items, list->n, sizeof(*list->items), compare_targets);
	drop_duplicates(list);
	ret = 0;
	goto out;
fail:
	target_list_release(list);
out:
	auth_dirs_free(auth, nauth);
	free(dirpath);
	return ret;
}

void target_list_release(struct target_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		target_release(&list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

int registry_check_client(struct client *c, struct hostport owned[2], char **cause, const char **field)
{
	*field = "client_id";
	if (validate_id("client id", c->client_id, cause) < 0)
		return -1;
	*field = "node";
	if (validate_host("node", c->node, cause) < 0)
		return -1;
	if (c->node_exporter) {
		*field = "node_exporter";
		if (hostport_parse("--node-exporter", c->node_exporter, &owned[0], cause) < 0)
			return -1;
		c->node_exporter = owned[0].address;
	}
	if (c->dcgm_exporter) {
		*field = "dcgm_exporter";
		if (hostport_parse("--dcgm-exporter", c->dcgm_exporter, &owned[1], cause) < 0)
			return -1;
		c->dcgm_exporter = owned[1].address;
	}
	*field = NULL;
	return 0;
}

/* Move one exporter address off loopback to the node's name. */
static int off_loopback(struct hostport *hp, const char *node, char **address)
{
	char *was;

	if (!hp->address || !host_is_loopback(hp->host))
		return 0;
	was = hp->address;
	hp->address = xasprintf("%s:%d", node, hp->port);
	free(was);
	*address = hp->address;
	return 1;
}

int registry_client_off_loopback(const struct session *s, struct client *c, struct hostport owned[2])
{
	if (!session_prometheus_is_remote(s) || host_is_loopback(c->node))
		return 0;
	return off_loopback(&owned[0], c->node, &c->node_exporter) + off_loopback(&owned[1], c->node, &c->dcgm_exporter);
}

int registry_check_service(const struct service *svc, char **cause, const char **field)
{
	struct endpoint ep;

	*field = "client_id";
	if (validate_id("client id", svc->client_id, cause) < 0)
		return -1;
	*field = "name";
	if (validate_id("service name", svc->name, cause) < 0)
		return -1;
	*field = "endpoint";
	if (endpoint_parse(svc->endpoint, &ep, cause) < 0)
		return -1;
	endpoint_release(&ep);
	*field = NULL;
	return 0;
}

/* Remove from dirpath every service file of client (and of name, when not NULL); counts them into *n. */
static void remove_services_in(const char *dirpath, const char *client_id, const char *name, size_t *n)
{
	DIR *dir = opendir(dirpath);
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		const char *c, *v, *stamp;
		char *parts = split_service_name(de->d_name, &c, &v, &stamp);

		if (parts && !strcmp(c, client_id) && (!name || !strcmp(v, name))) {
			char *path = xasprintf("%s/%s", dirpath, de->d_name);

			if (unlink(path) == 0)
				(*n)++;
			free(path);
		}
		free(parts);
	}
	if (dir)
		closedir(dir);
}

/* Remove the service files of client_id (of name only, when not NULL) everywhere; *n counts them. */
static int remove_services(const struct session *s, const char *client_id, const char *name, size_t *n)
{
	char *targets = xasprintf("%s/targets", s->dir);
	struct auth_dir *auth = NULL;
	size_t nauth = 0;
	int ret = -1;

	remove_services_in(targets, client_id, name, n);
	if (registry_auth_dirs(s, &auth, &nauth) < 0)
		goto out;
	for (size_t i = 0; i < nauth; i++)
		remove_services_in(auth[i].dir, client_id, name, n);
	ret = 0;
out:
	auth_dirs_free(auth, nauth);
	free(targets);
	return ret;
}

/* fsync the directory dir, so that a removal survives a crash. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd) < 0)
		ret = error("cannot sync directory '%s': %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret;
}

int registry_remove_client(const struct session *s, const char *client_id)
{
	char *path = xasprintf("%s/targets/client+%s.json", s->dir, client_id);
	char *targets = xasprintf("%s/targets", s->dir);
	char *hb = xasprintf("%s/heartbeats/%s.json", s->dir, client_id);
	size_t n = 0;
	int ret = -1, had = unlink(path) == 0;

	if (!had && errno != ENOENT) {
		error("cannot remove '%s': %s", path, strerror(errno));
		goto out;
	}
	if (remove_services(s, client_id, NULL, &n) < 0)
		goto out;
	unlink(hb);
	if (sync_dir(targets) < 0)
		goto out;
	ret = had || n ? 0 : 1;
out:
	free(hb);
	free(targets);
	free(path);
	return ret;
}

int registry_remove_service(const struct session *s, const char *client_id, const char *name)
{
	char *targets = xasprintf("%s/targets", s->dir);
	size_t n = 0;
	int ret = -1;

	if (remove_services(s, client_id, name, &n) < 0 || sync_dir(targets) < 0)
		goto out;
	ret = n ? 0 : 1;
out:
	free(targets);
	return ret;
}

/* The stale spans of a heartbeat file, as a JSON array of [from, to] pairs. */
static void read_spans(const cJSON *root, struct heartbeat *hb)
{
	const cJSON *spans = cJSON_GetObjectItemCaseSensitive(root, "stale_spans"), *pair;

	hb->spans = NULL;
	hb->nspans = 0;
	cJSON_ArrayForEach(pair, spans) {
		const cJSON *a = cJSON_GetArrayItem(pair, 0), *b = cJSON_GetArrayItem(pair, 1);

		if (!cJSON_IsNumber(a) || !cJSON_IsNumber(b))
			continue;
		hb->spans = xrealloc(hb->spans, (hb->nspans + 1) * sizeof(*hb->spans));
		hb->spans[hb->nspans][0] = (int64_t)a->valuedouble;
		hb->spans[hb->nspans][1] = (int64_t)b->valuedouble;
		hb->nspans++;
	}
}

int registry_heartbeat(const struct session *s, const char *client_id, int64_t timeout_s)
{
	char *dir = xasprintf("%s/heartbeats", s->dir);
	char *path = xasprintf("%s/%s.json", dir, client_id);
	cJSON *old = NULL, *root = cJSON_CreateObject(), *spans;
	struct heartbeat was = { 0 };
	int64_t now = now_ms();
	size_t first;
	int ret = -1;

	if (json_read_file(path, 64 << 10, 1, &old, NULL) < 0)
		goto out;
	if (old) {
		was.at_ms = json_int(old, "at_ms", 0);
		was.timeout_s = json_int(old, "timeout_s", 0);
		read_spans(old, &was);
	}
	if (timeout_s < 0)
		timeout_s = was.timeout_s;
	/* the silence this heartbeat ends, if it was too long, becomes a span of its own */
	if (old && heartbeat_is_stale(&was, now)) {
		was.spans = xrealloc(was.spans, (was.nspans + 1) * sizeof(*was.spans));
		was.spans[was.nspans][0] = heartbeat_stale_since(&was);
		was.spans[was.nspans][1] = now;
		was.nspans++;
	}
	cJSON_AddStringToObject(root, "client_id", client_id);
	cJSON_AddNumberToObject(root, "at_ms", (double)now);
	cJSON_AddNumberToObject(root, "timeout_s", (double)timeout_s);
	spans = cJSON_AddArrayToObject(root, "stale_spans");
	first = was.nspans > HEARTBEAT_SPANS_MAX ? was.nspans - HEARTBEAT_SPANS_MAX : 0;
	for (size_t i = first; i < was.nspans; i++) {
		cJSON *pair = cJSON_CreateArray();

		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)was.spans[i][0]));
		cJSON_AddItemToArray(pair, cJSON_CreateNumber((double)was.spans[i][1]));
		cJSON_AddItemToArray(spans, pair);
	}
	if (mkdir_p(dir, 0700) < 0 || json_write_file(path, root, 0) < 0)
		goto out;
	ret = 0;
out:
	free(was.spans);
	cJSON_Delete(old);
	cJSON_Delete(root);
	free(path);
	free(dir);
	return ret;
}

int registry_heartbeats(const struct session *s, struct heartbeat **hb, size_t *n)
{
	char *dirpath = xasprintf("%s/heartbeats", s->dir);
	DIR *dir = opendir(dirpath);
	struct dirent *de;

	*hb = NULL;
	*n = 0;
	while (dir && (de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		cJSON *root = NULL;
		char *path;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		path = xasprintf("%s/%s", dirpath, de->d_name);
		if (json_read_file(path, 64 << 10, 1, &root, NULL) == 0 && json_string(root, "client_id")) {
			*hb = xrealloc(*hb, (*n + 1) * sizeof(**hb));
			(*hb)[*n].client_id = json_strdup(root, "client_id");
			(*hb)[*n].at_ms = json_int(root, "at_ms", 0);
			(*hb)[*n].timeout_s = json_int(root, "timeout_s", 0);
			read_spans(root, &(*hb)[*n]);
			(*n)++;
		}
		cJSON_Delete(root);
		free(path);
	}
	if (dir)
		closedir(dir);
	free(dirpath);
	return 0;
}

void heartbeats_free(struct heartbeat *hb, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(hb[i].client_id);
		free(hb[i].spans);
	}
	free(hb);
}

int heartbeat_is_stale(const struct heartbeat *hb, int64_t now)
{
	return hb->timeout_s > 0 && now - hb->at_ms > hb->timeout_s * 1000;
}

int64_t heartbeat_stale_since(const struct heartbeat *hb)
{
	return hb->at_ms + hb->timeout_s * 1000;
}

/*
 * A token file is referenced by path in prometheus.yml, so the path must be
 * absolute and plain, and the file must exist: Prometheus would otherwise
 * fail the reload.
 */
int registry_check_token_file(const char *path, char **cause)
{
	struct stat st;
	char *q = quote_for_message(path);
	int ret = -1;

	if (path[0] != '/')
		*cause = xasprintf("invalid --bearer-token-file '%s': must be an absolute path", q);
	else if (strlen(path) > 1024 || strpbrk(path, "\n\r\t\"\\"))
		*cause = xasprintf("invalid --bearer-token-file '%s': too long, or has quotes or control characters", q);
	else if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || access(path, R_OK) < 0)
		*cause = xasprintf("invalid --bearer-token-file '%s': not a readable file", q);
	else
		ret = 0;
	free(q);
	return ret;
}


cJSON *registry_client_json(const struct session *s, const struct client *c)
{
	cJSON *root = cJSON_CreateObject();

	cJSON_AddStringToObject(root, "session", s->id);
	cJSON_AddStringToObject(root, "client_id", c->client_id);
	cJSON_AddStringToObject(root, "node", c->node);
	json_add_string_or_null(root, "node_exporter", c->node_exporter);
	json_add_string_or_null(root, "dcgm_exporter", c->dcgm_exporter);
	cJSON_AddNullToObject(root, "error");
	return root;
}

cJSON *registry_services_json(const struct session *s, const struct service *svcs, size_t n, size_t rewritten)
{
	cJSON *root = cJSON_CreateObject(), *arr;

	cJSON_AddStringToObject(root, "session", s->id);
	arr = cJSON_AddArrayToObject(root, "services");
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "client_id", svcs[i].client_id);
		cJSON_AddStringToObject(o, "name", svcs[i].name);
		cJSON_AddStringToObject(o, "endpoint", svcs[i].endpoint);
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_AddNumberToObject(root, "registered", (double)n);
	cJSON_AddNumberToObject(root, "rewritten_to_node", (double)rewritten);
	cJSON_AddNullToObject(root, "error");
	return root;
}
