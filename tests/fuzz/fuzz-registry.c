/*
 * libFuzzer target: reading a session's state. One session is created at
 * the first call, under a temporary BENCHMON_HOME removed at exit; each
 * input becomes both a registry file (file_sd JSON) and the run.json.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/fsutil.h"
#include "lib/xmalloc.h"
#include "session/registry.h"
#include "session/session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char home[] = "/tmp/benchmon-fuzz-registry.XXXXXX";
static struct session sess;
static char *targets_path, *run_path;

static void remove_home(void)
{
	remove_tree(home);
}

/* Make the session every input is read into. */
static void setup(void)
{
	if (!mkdtemp(home) || setenv("BENCHMON_HOME", home, 1) < 0) {
		perror("fuzz-registry: cannot make BENCHMON_HOME");
		abort();
	}
	atexit(remove_home);
	sess.id = xstrdup("fz");
	sess.listen = xstrdup("127.0.0.1");
	sess.port = 9090;
	sess.scrape_interval_ms = 1000;
	sess.retention_ms = 3600000;
	sess.launcher = xstrdup("local");
	if (session_create(&sess) < 0)
		abort();
	targets_path = session_path(&sess, "targets/service+c+x.json");
	run_path = session_path(&sess, "run.json");
}

/* Write data[0..size) to path. */
static void write_input(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct target_list list;
	struct session_run run;

	if (!targets_path)
		setup();
	write_input(targets_path, data, size);
	write_input(run_path, data, size);
	registry_load(&sess, &list);
	target_list_release(&list);
	if (session_run_load(&sess, &run) == 0)
		session_run_release(&run);
	return 0;
}
