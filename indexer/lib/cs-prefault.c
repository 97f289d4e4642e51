/*
 * cs-prefault.c - tdb's map of an index faulted in, writable, in one call.
 *
 * A first build (cs-build.c) writes nearly every page of its file through
 * tdb's shared map, and each first write to a page is a page fault.  In a
 * virtual machine a fault's entry and exit cost more than the write: at a
 * million messages the faults of the 363 MB file were 10-13% of a first
 * reindex (perf: memmove under tdb_store, with the kernel's fault path
 * and its zeroing of new pages).  madvise(MADV_POPULATE_WRITE) (Linux
 * 5.14) does for a whole range what those faults would do, page by page,
 * without leaving the kernel.
 *
 * tdb does not tell where its map is, so it is found in /proc/self/maps:
 * the shared writable mapping of the file's device and inode.  Only the
 * leading fields of a line are read (the kernel escapes a newline in a
 * path), and a range found there is only ever asked to be populated, which
 * changes no data.  Best effort throughout: an older kernel, no /proc, a
 * file tdb does not map (TDB_NOMMAP) leave the pages to fault one by one,
 * as before.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cs-index-private.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14, asm-generic/mman-common.h */
#endif

/* Is line a shared writable mapping of st's file?  Sets its range. */
static int maps_line_matches(const char *line, const struct stat *st,
			     unsigned long *start_r, unsigned long *end_r)
{
	unsigned long start, end, offset, inode;
	unsigned int dev_major, dev_minor;
	char perms[5];

	if (sscanf(line, "%lx-%lx %4s %lx %x:%x %lu", &start, &end, perms,
		   &offset, &dev_major, &dev_minor, &inode) != 7)
		return 0;
	if (perms[1] != 'w' || perms[3] != 's' || end <= start ||
	    inode != (unsigned long)st->st_ino ||
	    dev_major != major(st->st_dev) || dev_minor != minor(st->st_dev))
		return 0;
	*start_r = start;
	*end_r = end;
	return 1;
}

int cs_db_prefault(struct cs_index *index)
{
	unsigned long start, end;
	struct stat st;
	char *line = NULL;
	size_t size = 0;
	int ret = 0;
	FILE *maps;

	if (fstat(tdb_fd(index->tdb), &st) < 0)
		return 0;
	maps = fopen("/proc/self/maps", "re");
	if (maps == NULL)
		return 0;
	while (getline(&line, &size, maps) > 0) {
		if (maps_line_matches(line, &st, &start, &end) &&
		    madvise((void *)start, end - start,
			    MADV_POPULATE_WRITE) == 0)
			ret = 1;
	}
	free(line);
	fclose(maps);
	return ret;
}
