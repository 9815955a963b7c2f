/*
 * Runs a libFuzzer target without libFuzzer: each file named on the command
 * line is read and passed to LLVMFuzzerTestOneInput once. Linked with a
 * tests/fuzz/fuzz-<name>.c into tests/fuzz/replay-<name>, so the corpora
 * replay in CI with any C compiler. Exits 1 when a file cannot be read; a
 * bug the target catches aborts, as it would under libFuzzer.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read the whole of path into *data (caller frees) and *size. */
static int read_input(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, alloc = 0;
	int ret = -1;

	if (!f) {
		fprintf(stderr, "replay: cannot open '%s': %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		size_t n;

		if (len == alloc) {
			uint8_t *grown;

			alloc = alloc ? 2 * alloc : 4096;
			grown = realloc(buf, alloc);
			if (!grown) {
				fprintf(stderr, "replay: out of memory reading '%s'\n", path);
				goto out;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, alloc - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: cannot read '%s': %s\n", path, strerror(errno));
		goto out;
	}
	/* shrink to the exact size, so a read past the end shows under a sanitizer */
	*data = realloc(buf, len ? len : 1);
	if (!*data) {
		fprintf(stderr, "replay: out of memory reading '%s'\n", path);
		goto out;
	}
	*size = len;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		uint8_t *data;
		size_t size;

		if (read_input(argv[i], &data, &size) < 0) {
			ret = 1;
			continue;
		}
		LLVMFuzzerTestOneInput(data, size);
		free(data);
	}
	return ret;
}
