/*
 * cs-file.c - opening and replacing small files beside a Maildir without
 * following symlinks (see cs-file.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-file.h"

int cs_file_open_read(const char *path, FILE **fp_r, struct cs_error *err)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return cs_error_set(err, CS_ERR_SYMLINK,
				"%s: is a symlink, not followed", path);
		return cs_error_sys(err, "open(%s)", path);
	}
	if (fstat(fd, &st) < 0) {
		cs_error_sys(err, "fstat(%s)", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: not a regular file", path);
	}
	*fp_r = fdopen(fd, "r");
	if (*fp_r == NULL) {
		cs_error_sys(err, "fdopen(%s)", path);
		close(fd);
		return -1;
	}
	return 1;
}

int cs_file_open_read_in(const char *dir, const char *name, char *path_r,
			 size_t path_size, FILE **fp_r, struct cs_error *err)
{
	if (cs_path_fmt(path_r, path_size, "%s/%s", dir, name) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    dir);
	return cs_file_open_read(path_r, fp_r, err);
}

int cs_dir_open(const char *root, const char *path)
{
	const char *rel = NULL, *p, *slash;
	char comp[NAME_MAX + 1];
	size_t root_len = root == NULL ? 0 : strlen(root), len;
	int fd, next, saved;

	if (root != NULL && strncmp(path, root, root_len) == 0 &&
	    (path[root_len] == '/' || path[root_len] == '\0'))
		rel = path + root_len;
	if (rel == NULL)
		return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
	/* the root as the admin named it; below it, nothing is followed */
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (p = rel; fd >= 0 && *p != '\0'; p = slash) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		slash = strchr(p, '/');
		if (slash == NULL)
			slash = p + strlen(p);
		len = (size_t)(slash - p);
		if (len >= sizeof(comp)) {
			close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		saved = errno;
		close(fd);
		errno = saved;
		fd = next;
	}
	return fd;
}

DIR *cs_dir_opendir(const char *root, const char *path)
{
	int fd = cs_dir_open(root, path), saved;
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (dir == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return dir;
}

int cs_dir_error(struct cs_error *err, const char *path)
{
	struct stat st;

	if (errno == ELOOP ||
	    (errno == ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)))
		return cs_error_set(err, CS_ERR_SYMLINK,
				    "%s: is a symlink, not followed", path);
	return cs_error_sys(err, "opendir(%s)", path);
}

static int write_all(int fd, const void *data, size_t size)
{
	const char *p = data;

	while (size > 0) {
		ssize_t ret = write(fd, p, size);

		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += ret;
		size -= (size_t)ret;
	}
	return 0;
}

static int fsync_dir_of(const char *path, struct cs_error *err)
{
	char copy[PATH_MAX];
	int fd, ret;

	if (strlen(path) >= sizeof(copy))
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    path);
	strcpy(copy, path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return cs_error_sys(err, "open(%s)", copy);
	ret = fsync(fd);
	if (ret < 0)
		cs_error_sys(err, "fsync(%s)", copy);
	close(fd);
	return ret;
}

/* Give the unnamed file fd (O_TMPFILE) a name of its own beside path, in
   tmp.  Returns 0, or -1 with errno set. */
static int tmpfile_link(int fd, const char *path, char *tmp, size_t size)
{
	char proc[64];
	unsigned int attempt;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (attempt = 0; attempt < 100; attempt++) {
		if (cs_path_fmt(tmp, size, "%s.tmp.%ld.%u", path,
				(long)getpid(), attempt) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp,
			   AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/* Open the new file for path: unnamed (O_TMPFILE) where the file system
   has them, so that nobody can see, take over or leave behind a
   half-written one; else a named one of its own (mkostemp), in tmp.
   Returns the fd or -1. */
static int replace_open(const char *path, char *tmp, size_t size,
			bool *unnamed_r, struct cs_error *err)
{
	char dir[PATH_MAX];
	int fd;

	if (strlen(path) >= sizeof(dir) ||
	    cs_path_fmt(tmp, size, "%s.tmp.XXXXXX", path) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    path);
	strcpy(dir, path);
	fd = open(dirname(dir), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	*unnamed_r = fd >= 0;
	if (fd < 0)
		fd = mkostemp(tmp, O_CLOEXEC);	/* O_EXCL, mode 0600 */
	if (fd < 0)
		return cs_error_sys(err, "creating %s", tmp);
	return fd;
}

int cs_file_replace(const char *path, const void *data, size_t size,
		    struct cs_error *err)
{
	char tmp[PATH_MAX];
	bool unnamed;
	int fd;

	fd = replace_open(path, tmp, sizeof(tmp), &unnamed, err);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, size) < 0 || fdatasync(fd) < 0) {
		cs_error_sys(err, "writing the new %s", unnamed ? path : tmp);
		close(fd);
		if (!unnamed)
			unlink(tmp);
		return -1;
	}
	/* named only from here to the rename: concurrent replacers (the
	   first opens of a new index) each have their own, the last rename
	   wins */
	if (unnamed && tmpfile_link(fd, path, tmp, sizeof(tmp)) < 0) {
		cs_error_sys(err, "linkat(%s)", tmp);
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		cs_error_sys(err, "close(%s)", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		cs_error_sys(err, "rename(%s, %s)", tmp, path);
		unlink(tmp);
		return -1;
	}
	return fsync_dir_of(path, err);
}

/* Exactly "PID.N" (decimal, the pid without a leading zero): the pid,
   or 0. */
static long pid_dot_n(const char *p)
{
	char *end;
	long pid;

	if (*p < '1' || *p > '9')
		return 0;
	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno != 0 || pid > INT_MAX || *end != '.' || end[1] == '\0')
		return 0;
	for (p = end + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return 0;
	}
	return pid;
}

/* Is name one of our temporary files of the index base: base[.WORD]
   ".tmp.PID.N" (cs_file_replace) or base ".rebuild.PID.N" (a rebuild)?
   Returns the writer's pid, or 0. */
static long leftover_of(const char *name, const char *base)
{
	size_t base_len = strlen(base);
	const char *p = name + base_len;

	if (strncmp(name, base, base_len) != 0)
		return 0;
	if (strncmp(p, ".rebuild.", 9) == 0)
		return pid_dot_n(p + 9);
	if (*p == '.' && strncmp(p, ".tmp.", 5) != 0) {
		for (p++; *p >= 'a' && *p <= 'z'; p++) ;
	}
	return strncmp(p, ".tmp.", 5) == 0 ? pid_dot_n(p + 5) : 0;
}

void cs_file_clean_leftovers(const char *db_path)
{
	char dir[PATH_MAX], base[PATH_MAX];
	struct dirent *d;
	struct stat st;
	DIR *dp;
	long pid;

	if (strlen(db_path) >= sizeof(dir))
		return;
	strcpy(dir, db_path);
	strcpy(base, db_path);
	dp = opendir(dirname(dir));
	if (dp == NULL)
		return;
	snprintf(base, sizeof(base), "%s", strrchr(db_path, '/') == NULL ?
		 db_path : strrchr(db_path, '/') + 1);
	while ((d = readdir(dp)) != NULL) {
		pid = leftover_of(d->d_name, base);
		/* only when its writer is gone (a pid in use by anyone,
		   or one we may not signal, keeps the file) */
		if (pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (fstatat(dirfd(dp), d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			(void)unlinkat(dirfd(dp), d->d_name, 0);
	}
	closedir(dp);
}

void cs_boot_id(char *buf, size_t size)
{
	FILE *fp = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (fp != NULL) {
		if (fgets(buf, (int)size, fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

int cs_path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int ret;

	va_start(args, fmt);
	ret = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return ret < 0 || (size_t)ret >= size ? -1 : 0;
}
