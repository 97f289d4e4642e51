/*
 * watch-inotify.h - the daemon's one inotify instance: adding and removing
 * watches, the table from watch descriptors to what they watch, reading
 * event batches, and the kernel limits.
 */
#ifndef WATCH_INOTIFY_H
#define WATCH_INOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "watch.h"

struct watch_target {
	int wd;			/* -1: free slot */
	enum watch_kind kind;
	struct watch_root *root;
	struct watch_box *box;	/* NULL for WATCH_KIND_ROOT */
};

struct watch_inotify {
	int fd;			/* -1: no inotify (instance limit) */
	unsigned int count;	/* watches held */
	unsigned int max_watches;	/* 0: no limit of our own */
	bool limit_hit;		/* a watch could not be added */
	struct watch_target *table;	/* open addressing by wd */
	size_t size, used, deleted;
};

/* Create the instance.  Returns 1, 0 when the instance limit (EMFILE,
   ENFILE) is reached (fd stays -1, err says what to raise), -1 on other
   errors.  max_watches > 0 makes add fail as if the kernel's watch limit
   were max_watches (a testing and operational knob). */
int watch_inotify_init(struct watch_inotify *in, unsigned int max_watches,
		       struct cs_error *err);
void watch_inotify_deinit(struct watch_inotify *in);

/* Watch the directory path for kind.  Returns 1 with *wd_r, 0 when the
   watch limit is reached (or there is no instance), -1 on other errors
   (a missing directory: CS_ERR_NOTFOUND). */
int watch_inotify_add(struct watch_inotify *in, const char *path,
		      enum watch_kind kind, struct watch_root *root,
		      struct watch_box *box, int *wd_r, struct cs_error *err);
/* Remove the watch *wd (if >= 0) and set it to -1. */
void watch_inotify_rm(struct watch_inotify *in, int *wd);
/* The kernel dropped watch wd (IN_IGNORED): forget it. */
void watch_inotify_forget(struct watch_inotify *in, int wd);
/* What wd watches, or NULL. */
const struct watch_target *watch_inotify_lookup(const struct watch_inotify *in,
						int wd);

/* Read what is queued (non-blocking).  Returns the bytes read, 0 when
   nothing is queued, -1 on error. */
ssize_t watch_inotify_read(struct watch_inotify *in, void *buf, size_t size,
			   struct cs_error *err);

#endif
