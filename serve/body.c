#include "serve/body.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

/* The most services one body may register. */
#define BODY_SERVICES_MAX 4096

int body_parse(const char *body, size_t len, cJSON **root, char **cause, const char **field)
{
	const char *end = NULL;

	*root = NULL;
	*field = NULL;
	if (!len) {
		*cause = xstrdup("empty request body: expected JSON");
		return -1;
	}
	if (memchr(body, '\0', len)) {
		*cause = xstrdup("invalid JSON: the body holds a NUL byte");
		return -1;
	}
	*root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (!*root) {
		*cause = xasprintf("invalid JSON at byte %zu", end ? (size_t)(end - body) : (size_t)0);
		return -1;
	}
	while (end && end < body + len && strchr(" \t\r\n", *end))
		end++;
	if (end && end < body + len) {
		cJSON_Delete(*root);
		*root = NULL;
		*cause = xasprintf("invalid JSON: unexpected data after the value at byte %zu", (size_t)(end - body));
		return -1;
	}
	return 0;
}

struct field_spec {
	const char *name;
	int type;      /* cJSON_String or cJSON_Number */
	int required;
};

/*
 * Check obj's keys against spec (n entries): no unknown key, none twice,
 * each of its type, the required ones present; found[i] gets the item.
 */
static int check_fields(const cJSON *obj, const struct field_spec *spec, size_t n, const cJSON **found,
			char **cause, const char **field)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj)) {
		*field = NULL;
		*cause = xstrdup("expected a JSON object");
		return -1;
	}
	memset(found, 0, n * sizeof(*found));
	cJSON_ArrayForEach(item, obj) {
		size_t i = 0;

		while (i < n && strcmp(spec[i].name, item->string))
			i++;
		if (i == n) {
			char *q = xstrndup(item->string, 60);

			*field = NULL;
			*cause = xasprintf("unknown field '%s'", q);
			for (char *p = *cause; *p; p++)
				if ((unsigned char)*p < 0x20 || *p == 0x7f)
					*p = '?';
			free(q);
			return -1;
		}
		*field = spec[i].name;
		if (found[i]) {
			*cause = xasprintf("duplicate field '%s'", spec[i].name);
			return -1;
		}
		if (!(item->type & spec[i].type)) {
			*cause = xasprintf("'%s' must be a %s", spec[i].name,
					   spec[i].type == cJSON_String ? "string" : "number");
			return -1;
		}
		found[i] = item;
	}
	for (size_t i = 0; i < n; i++) {
		if (spec[i].required && !found[i]) {
			*field = spec[i].name;
			*cause = xasprintf("missing field '%s'", spec[i].name);
			return -1;
		}
	}
	*field = NULL;
	return 0;
}

/* A whole number of seconds in 0..BODY_TIMEOUT_MAX. */
static int timeout_value(const cJSON *item, const char *name, int64_t *out, char **cause)
{
	double v = item->valuedouble;

	if (!isfinite(v) || v < 0 || v > BODY_TIMEOUT_MAX || v != floor(v)) {
		*cause = xasprintf("'%s' must be a whole number of seconds from 0 to %d", name, BODY_TIMEOUT_MAX);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

static const char *string_or_null(const cJSON *item)
{
	return item ? item->valuestring : NULL;
}

int body_client(const cJSON *root, struct client *c, int64_t *timeout_s, char **cause, const char **field)
{
	static const struct field_spec spec[] = {
		{ "client_id", cJSON_String, 1 },
		{ "node", cJSON_String, 1 },
		{ "node_exporter", cJSON_String | cJSON_NULL, 0 },
		{ "dcgm_exporter", cJSON_String | cJSON_NULL, 0 },
		{ "heartbeat_timeout_s", cJSON_Number, 0 },
	};
	const cJSON *f[5];

	memset(c, 0, sizeof(*c));
	*timeout_s = -1;
	if (check_fields(root, spec, 5, f, cause, field) < 0)
		return -1;
	c->client_id = f[0]->valuestring;
	c->node = f[1]->valuestring;
	c->node_exporter = (char *)string_or_null(f[2]);
	c->dcgm_exporter = (char *)string_or_null(f[3]);
	if (f[4]) {
		*field = "heartbeat_timeout_s";
		if (timeout_value(f[4], "heartbeat_timeout_s", timeout_s, cause) < 0)
			return -1;
		*field = NULL;
	}
	return 0;
}

static int one_service(const cJSON *obj, struct service *svc, char **cause, const char **field)
{
	static const struct field_spec spec[] = {
		{ "client_id", cJSON_String, 1 },
		{ "name", cJSON_String, 1 },
		{ "endpoint", cJSON_String, 1 },
		{ "bearer_token_file", cJSON_String | cJSON_NULL, 0 },
	};
	const cJSON *f[4];

	if (check_fields(obj, spec, 4, f, cause, field) < 0)
		return -1;
	svc->client_id = f[0]->valuestring;
	svc->name = f[1]->valuestring;
	svc->endpoint = f[2]->valuestring;
	svc->token_file = (char *)string_or_null(f[3]);
	return 0;
}

int body_services(const cJSON *root, struct service **svcs, size_t *n, char **cause, const char **field)
{
	const cJSON *list = root, *item;
	int count;

	*svcs = NULL;
	*n = 0;
	*field = NULL;
	if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "services")) {
		static const struct field_spec spec[] = { { "services", cJSON_Array, 1 } };
		const cJSON *f[1];

		if (check_fields(root, spec, 1, f, cause, field) < 0)
			return -1;
		list = f[0];
	}
	if (!cJSON_IsArray(list)) {
		*svcs = xcalloc(1, sizeof(**svcs));
		if (one_service(list, *svcs, cause, field) < 0)
			goto fail;
		*n = 1;
		return 0;
	}
	count = cJSON_GetArraySize(list);
	if (count < 1 || count > BODY_SERVICES_MAX) {
		*field = "services";
		*cause = xasprintf("expected 1 to %d services, found %d", BODY_SERVICES_MAX, count);
		return -1;
	}
	*svcs = xcalloc((size_t)count, sizeof(**svcs));
	cJSON_ArrayForEach(item, list) {
		if (one_service(item, &(*svcs)[*n], cause, field) < 0) {
			char *was = *cause;

			*cause = xasprintf("services[%zu]: %s", *n, was);
			free(was);
			goto fail;
		}
		if ((*svcs)[*n].token_file && count > 1) {
			*field = "bearer_token_file";
			*cause = xasprintf("services[%zu]: bearer_token_file is allowed only when one service is registered", *n);
			goto fail;
		}
		(*n)++;
	}
	return 0;
fail:
	free(*svcs);
	*svcs = NULL;
	*n = 0;
	return -1;
}

int body_heartbeat(const cJSON *root, int64_t *timeout_s, char **cause, const char **field)
{
	static const struct field_spec spec[] = { { "timeout_s", cJSON_Number, 0 } };
	const cJSON *f[1];

	*timeout_s = -1;
	if (check_fields(root, spec, 1, f, cause, field) < 0)
		return -1;
	if (f[0]) {
		*field = "timeout_s";
		if (timeout_value(f[0], "timeout_s", timeout_s, cause) < 0)
			return -1;
		*field = NULL;
	}
	return 0;
}
