/* libFuzzer target: the Prometheus query response parser, on the raw bytes (no NUL). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/promjson.h"
#include "lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so reading past the body is caught. */
	char *body = xmalloc(size ? size : 1);
	struct series_set set;
	char *cause = NULL;

	memcpy(body, data, size);
	promjson_parse(body, size, &set, &cause);
	series_set_release(&set);
	free(cause);
	free(body);
	return 0;
}
