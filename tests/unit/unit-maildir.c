/*
 * unit-maildir.c - what the unit test programs share: real Maildirs in a
 * temporary directory, and the index opened on them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

void unit_make_maildir(const char *dir)
{
	static const char *const subs[] = { "new", "cur", "tmp" };
	char path[4096];
	size_t i;

	mkdir(dir, 0700);
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		CU_ASSERT_FATAL(mkdir(path, 0700) == 0 || errno == EEXIST);
	}
}

void unit_make_root(char *buf, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/cs-unit-XXXXXX", tmp != NULL ? tmp : "/tmp");
	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(buf));
	unit_make_maildir(buf);
}

void unit_touch(const char *dir, const char *sub, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(write(fd, "Subject: x\n\nx\n", 14) == 14);
	close(fd);
}

static int remove_cb(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void unit_remove_tree(const char *path)
{
	nftw(path, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

struct cs_index *unit_open_set(const struct cs_index_settings *set)
{
	struct cs_index *index = NULL;
	struct cs_error err;

	cs_error_clear(&err);
	if (cs_index_open(set, &index, &err) < 0)
		fprintf(stderr, "cs_index_open: %s\n", err.text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(index);
	return index;
}

struct cs_index *unit_open(const char *root)
{
	struct cs_index_settings set = { .root = root };

	return unit_open_set(&set);
}
