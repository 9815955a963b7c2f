/*
 * libFuzzer target: query profiles. profile_load reads a file, so each
 * input is written to one temporary file, made at the first call and
 * removed at exit. Its path is absolute, so it is never looked up by name.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collect/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char profile_path[] = "/tmp/benchmon-fuzz-profile.XXXXXX";
static int profile_fd = -1;

static void remove_profile(void)
{
	unlink(profile_path);
}

/* Replace the temporary file's content with data[0..size). */
static void write_input(const uint8_t *data, size_t size)
{
	if (profile_fd < 0) {
		profile_fd = mkstemp(profile_path);
		if (profile_fd < 0) {
			perror("fuzz-profile: mkstemp");
			abort();
		}
		atexit(remove_profile);
	}
	if (ftruncate(profile_fd, 0) < 0 || pwrite(profile_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz-profile: cannot write input");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile p;

	write_input(data, size);
	if (profile_load(profile_path, &p) == 0)
		profile_release(&p);
	return 0;
}
