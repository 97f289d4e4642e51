/*
 * bench-rename.c - the benchmarks' "other agent": rename message files in
 * a cur/ directory as fast as it can, as a mail reader changing flags.
 *
 * Usage: bench-rename [--flag LETTER] [--count N] [--skip M] CURDIR
 *
 * Reads CURDIR once, then renames N files (default: all), after skipping
 * the first M in directory order, each once: the flag letter (default F)
 * is added where missing and removed where present, so that every rename
 * is a flag change.  Prints "RENAMES SECONDS" (the renames alone, not the
 * directory read).  Exit 0, or 1 if a rename failed.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "condstore.h"

struct name_list {
	char **names;
	size_t count, alloc;
};

static int list_add(struct name_list *list, const char *name)
{
	if (list->count == list->alloc) {
		size_t alloc = list->alloc == 0 ? 4096 : list->alloc * 2;
		char **n = realloc(list->names, alloc * sizeof(*n));

		if (n == NULL)
			return -1;
		list->names = n;
		list->alloc = alloc;
	}
	list->names[list->count] = strdup(name);
	return list->names[list->count++] == NULL ? -1 : 0;
}

static int read_names(DIR *dir, size_t want, struct name_list *list)
{
	struct dirent *d;

	while (list->count < want && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] != '.' && list_add(list, d->d_name) < 0)
			return -1;
	}
	return 0;
}

/* The name the file gets: the same base with flag toggled. */
static int toggled_name(const char *old, uint64_t flag, char *buf,
			size_t size)
{
	char suffix[CS_SUFFIX_MAX + 2];
	struct cs_name name;
	uint64_t flags;

	if (cs_name_parse(old, ':', &name, NULL) < 0)
		return -1;
	flags = name.info_v2 ? name.flags : 0;
	if (cs_suffix_with_flags(name.suffix, ':', flags ^ flag, suffix,
				 sizeof(suffix), NULL) < 0)
		return -1;
	if ((size_t)snprintf(buf, size, "%.*s%s", (int)name.base_len,
			     name.base, suffix) >= size)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long count = (unsigned long)-1, skip = 0;
	struct name_list list = { NULL, 0, 0 };
	char letter = 'F', newname[CS_NAME_MAX + CS_SUFFIX_MAX + 2];
	struct timespec t0, t1;
	size_t i, done = 0;
	DIR *dir;
	int a, fd;

	for (a = 1; a + 1 < argc && argv[a][0] == '-'; a += 2) {
		if (strcmp(argv[a], "--flag") == 0)
			letter = argv[a + 1][0];
		else if (strcmp(argv[a], "--count") == 0)
			count = strtoul(argv[a + 1], NULL, 10);
		else if (strcmp(argv[a], "--skip") == 0)
			skip = strtoul(argv[a + 1], NULL, 10);
		else
			break;
	}
	if (argc - a != 1 || CS_FLAG_BIT(letter) == 0) {
		fprintf(stderr, "usage: bench-rename [--flag LETTER] "
			"[--count N] [--skip M] CURDIR\n");
		return 2;
	}
	fd = open(argv[a], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL ||
	    read_names(dir, count == (unsigned long)-1 ? (size_t)-1 :
		       (size_t)(skip + count), &list) < 0) {
		fprintf(stderr, "bench-rename: %s: %s\n", argv[a],
			strerror(errno));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = skip; i < list.count; i++) {
		if (toggled_name(list.names[i], CS_FLAG_BIT(letter), newname,
				 sizeof(newname)) < 0)
			continue;
		if (renameat(fd, list.names[i], fd, newname) < 0) {
			fprintf(stderr, "bench-rename: rename %s: %s\n",
				list.names[i], strerror(errno));
			return 1;
		}
		done++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%zu %.6f\n", done, (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	closedir(dir);
	for (i = 0; i < list.count; i++)
		free(list.names[i]);
	free(list.names);
	return 0;
}
