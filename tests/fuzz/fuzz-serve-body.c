/*
 * libFuzzer target: the request bodies of benchmon serve (serve/body.c).
 * Whatever a body decodes to must decode the same once written back as
 * JSON: a client, the services, a heartbeat, field by field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "serve/body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Decode root in every way a route does; the results go into *out as text, for comparison. */
static void decode_all(const cJSON *root, char **out)
{
	struct client c;
	struct service *svcs = NULL;
	size_t n = 0;
	int64_t timeout_s;
	const char *field;
	char *cause = NULL, *text = xstrdup("");

	if (body_client(root, &c, &timeout_s, &cause, &field) == 0) {
		char *was = text;

		text = xasprintf("%sclient %s|%s|%s|%s|%lld\n", was, c.client_id, c.node,
				 c.node_exporter ? c.node_exporter : "(null)", c.dcgm_exporter ? c.dcgm_exporter : "(null)",
				 (long long)timeout_s);
		free(was);
	}
	free(cause);
	cause = NULL;
	if (body_services(root, &svcs, &n, &cause, &field) == 0) {
		for (size_t i = 0; i < n; i++) {
			char *was = text;

			if (!svcs[i].client_id || !svcs[i].name || !svcs[i].endpoint || (n > 1 && svcs[i].token_file))
				abort();
			text = xasprintf("%sservice %s|%s|%s|%s\n", was, svcs[i].client_id, svcs[i].name, svcs[i].endpoint,
					 svcs[i].token_file ? svcs[i].token_file : "(null)");
			free(was);
		}
		free(svcs);
	} else if (!cause) {
		abort();
	}
	free(cause);
	cause = NULL;
	if (body_heartbeat(root, &timeout_s, &cause, &field) == 0) {
		char *was = text;

		if (timeout_s < -1 || timeout_s > BODY_TIMEOUT_MAX)
			abort();
		text = xasprintf("%sheartbeat %lld\n", was, (long long)timeout_s);
		free(was);
	}
	free(cause);
	*out = text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *root = NULL, *again = NULL;
	const char *field;
	char *cause = NULL, *first = NULL, *second = NULL, *printed;

	if (body_parse((const char *)data, size, &root, &cause, &field) < 0) {
		if (!cause || root)
			abort();
		free(cause);
		return 0;
	}
	decode_all(root, &first);
	printed = cJSON_PrintUnformatted(root);
	if (body_parse(printed, strlen(printed), &again, &cause, &field) < 0) {
		fprintf(stderr, "written back as '%s', which does not parse: %s\n", printed, cause);
		abort();
	}
	decode_all(again, &second);
	if (!same(first, second)) {
		fprintf(stderr, "decoded\n%s\nbut written back\n%s\n", first, second);
		abort();
	}
	free(first);
	free(second);
	cJSON_free(printed);
	cJSON_Delete(root);
	cJSON_Delete(again);
	return 0;
}
