#ifndef BENCHMON_FSUTIL_H
#define BENCHMON_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/strbuf.h"

/*
 * File-system helpers for state that must survive crashes and neighbours.
 * All return 0 on success and -1 after reporting through error().
 */

/*
 * The umask benchmon was started with (077 until main records it). The
 * session's state is private whatever it is; results a team shares (the
 * --out of collect and run) follow it: results_mode(0666), results_mode(0777).
 */
extern mode_t user_umask;
mode_t results_mode(mode_t mode);

/*
 * Replace path with data, atomically: write "<path>.tmp.<pid>", fsync it,
 * rename it over path. A reader (or a crash) sees the old file or the new
 * one, never a mix. The file gets exactly mode, whatever the umask. The
 * temporary file is removed on failure.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Read a whole file into sb (appending). Fails if it is larger than max
 * bytes (0 means no limit). When missing_ok is set, a missing file returns
 * 1 and leaves sb untouched instead of reporting an error.
 */
int read_file(const char *path, struct strbuf *sb, size_t max, int missing_ok);

/* Create a directory and its parents, with exactly mode for the ones created. */
int mkdir_p(const char *path, mode_t mode);

/* Remove path and everything below it; a missing path is not an error. */
int remove_tree(const char *path);

/* Does path exist (of any type)? */
int path_exists(const char *path);

/* Is name a temporary file left by write_file_atomic (".tmp.<pid>")? */
int is_temp_name(const char *name);

#endif
