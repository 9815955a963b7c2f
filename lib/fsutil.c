#include "lib/fsutil.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/error.h"
#include "lib/xmalloc.h"

mode_t user_umask = 077;

mode_t results_mode(mode_t mode)
{
	return mode & ~user_umask;
}

/* write() all of data, retrying on short writes and EINTR. */
static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the directory holding path, so a rename into it survives a crash. */
static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xasprintf("%.*s", (int)(slash == path ? 1 : slash - path), path) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0 || fsync(fd) < 0)
		ret = error("cannot sync directory '%s': %s", dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return ret;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	/* the thread's id, which is the pid in a process of one thread: threads of a server never share one */
	char *tmp = xasprintf("%s.tmp.%s.%ld", path, host_tag(), (long)gettid());
	int fd, ret = -1;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		error("cannot create '%s': %s", tmp, strerror(errno));
		goto out;
	}
	/* the process umask (077, for the state) would narrow a results file's mode */
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		error("cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (close(fd) < 0) {
		error("cannot write '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		error("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (fsync_parent(path) < 0)
		goto out;
	ret = 0;
out:
	free(tmp);
	return ret;
}

int read_file(const char *path, struct strbuf *sb, size_t max, int missing_ok)
{
	char chunk[8192];
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT && missing_ok)
			return 1;
		return error("cannot open '%s': %s", path, strerror(errno));
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error("cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((max && sb->len + (size_t)n > max) || strbuf_add(sb, chunk, (size_t)n) < 0) {
			error("'%s' is larger than %zu bytes", path, max ? max : sb->max);
			goto out;
		}
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *copy;
	int ret = -1;

	if (!*path)
		return error("cannot create a directory: empty path");
	copy = xstrdup(path);
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		if (mkdir(copy, mode) == 0) {
			if (chmod(copy, mode) < 0) {
				error("cannot set the mode of '%s': %s", copy, strerror(errno));
				goto out;
			}
		} else if (errno != EEXIST) {
			error("cannot create directory '%s': %s", copy, strerror(errno));
			goto out;
		}
		*p = saved;
		if (!saved)
			break;
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

int remove_tree(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;
	int ret = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error("cannot stat '%s': %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return error("cannot remove '%s': %s", path, strerror(errno));
		return 0;
	}
	dir = opendir(path);
	if (!dir)
		return error("cannot open directory '%s': %s", path, strerror(errno));
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *child = xasprintf("%s/%s", path, de->d_name);

		if (remove_tree(child) < 0)
			ret = -1;
		free(child);
	}
	closedir(dir);
	if (ret == 0 && rmdir(path) < 0 && errno != ENOENT)
		ret = error("cannot remove '%s': %s", path, strerror(errno));
	return ret;
}

int path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int is_temp_name(const char *name)
{
	return strstr(name, ".tmp.") != NULL;
}

static uint64_t tree_bytes;

static int add_tree_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path;
	(void)type;
	(void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

int tree_size(const char *path, uint64_t *bytes)
{
	int ret;

	tree_bytes = 0;
	ret = nftw(path, add_tree_entry, 16, FTW_PHYS);
	*bytes = tree_bytes;
	if (ret < 0)
		return error("cannot measure '%s': %s", path, strerror(errno));
	return 0;
}

char *format_bytes(uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	return u ? xasprintf("%.1f %s", v, units[u]) : xasprintf("%llu B", (unsigned long long)bytes);
}

/* Longer names are cut and end in a hash of the whole name, so file names stay under NAME_MAX. */
#define HOST_TAG_MAX 32

const char *host_tag(void)
{
	static char tag[HOST_TAG_MAX + 1];
	char name[256] = "localhost";
	size_t len;

	if (!tag[0]) {
		if (gethostname(name, sizeof(name) - 1) < 0 || !name[0])
			snprintf(name, sizeof(name), "localhost");
		for (char *p = name; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
				*p = '_';
		len = strlen(name);
		if (len <= HOST_TAG_MAX) {
			memcpy(tag, name, len + 1);
		} else {
			uint32_t hash = 2166136261u;   /* FNV-1a */

			for (size_t i = 0; i < len; i++)
				hash = (hash ^ (unsigned char)name[i]) * 16777619u;
			snprintf(tag, sizeof(tag), "%.*s~%08x", HOST_TAG_MAX - 9, name, (unsigned)hash);
		}
	}
	return tag;
}
