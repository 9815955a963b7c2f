#include "lib/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
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
	char *copy = xstrdup(path);
	int ret = -1;

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
