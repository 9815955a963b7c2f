/* libFuzzer target: the time and duration parsers, and formatting what they accept. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/timeparse.h"
#include "lib/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse s as a duration in bare_unit_ms and format the result. */
static void try_duration(const char *s, int64_t bare_unit_ms)
{
	char *cause = NULL;
	int64_t ms;

	if (parse_duration_ms(s, bare_unit_ms, &ms, &cause) == 0)
		free(format_duration_ms(ms));
	free(cause);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xmalloc(size + 1);
	char *cause = NULL;
	int64_t ms;

	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_time_ms(s, &ms, &cause) == 0)
		free(format_time_ms(ms));
	free(cause);
	try_duration(s, 0);
	try_duration(s, 3600000);
	free(s);
	return 0;
}
