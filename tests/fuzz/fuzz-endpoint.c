/*
 * libFuzzer target: endpoint URLs, host:port pairs, ids and host names.
 * An endpoint that parses must print as a URL that parses again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session/validate.h"
#include "lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse s as an endpoint; abort if its URL does not parse back. */
static void try_endpoint(const char *s)
{
	struct endpoint ep, again;
	char *cause = NULL, *url;

	if (endpoint_parse(s, &ep, &cause) < 0) {
		free(cause);
		return;
	}
	url = endpoint_url(&ep);
	if (endpoint_parse(url, &again, &cause) < 0) {
		fprintf(stderr, "endpoint_url gave '%s', which does not parse: %s\n", url, cause);
		abort();
	}
	endpoint_release(&again);
	free(url);
	endpoint_release(&ep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	struct hostport hp;
	char *cause = NULL;

	memcpy(s, data, size);
	s[size] = '\0';
	try_endpoint(s);
	if (hostport_parse("--address", s, &hp, &cause) == 0)
		hostport_release(&hp);
	free(cause);
	cause = NULL;
	validate_id("--id", s, &cause);
	free(cause);
	cause = NULL;
	validate_host("--node", s, &cause);
	free(cause);
	free(s);
	return 0;
}
