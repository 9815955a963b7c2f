#ifndef BENCHMON_FSUTIL_H
#define BENCHMON_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
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
 * Replace path with data, atomically: write "<path>.tmp.<host>.<tid>"
 * (host_tag(): pids repeat across the nodes sharing a file system; the
 * thread id is the pid outside threaded servers), fsync
 * it, rename it over path, fsync path's directory. A reader (or a crash)
 * sees the old file or the new one, never a mix. The file gets exactly
 * mode, whatever the umask. The temporary file is removed on failure; a
 * failure to sync the directory is reported after the rename, with the new
 * file in place.
 */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Read a whole file into sb (appending). Fails if it is larger than max
 * bytes (0 means no limit). When missing_ok is set, a missing file returns
 * 1 and leaves sb untouched instead of reporting an error.
 */
int read_file(const char *path, struct strbuf *sb, size_t max, int missing_ok);

/* Create a directory and its parents, with exactly mode for the ones created. An empty path is an error. */
int mkdir_p(const char *path, mode_t mode);

/* Remove path and everything below it; a missing path is not an error. */
int remove_tree(const char *path);

/* The disk space used by path and everything below it, in bytes. */
int tree_size(const char *path, uint64_t *bytes);

/* bytes for people: "812 KiB", "1.4 GiB". Caller frees. */
char *format_bytes(uint64_t bytes);

/* Does path exist (of any type)? */
int path_exists(const char *path);

/* Is name a temporary file left by write_file_atomic (".tmp.<host>.<pid>")? */
int is_temp_name(const char *name);

/*
 * This host's name as it goes into file names that must differ between
 * nodes: at most 32 characters of [A-Za-z0-9.-_], without '+' or '/'.
 * Longer names end in a hash of the whole name. A static string.
 */
const char *host_tag(void);

#endif
