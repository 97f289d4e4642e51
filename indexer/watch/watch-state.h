/*
 * watch-state.h - the unclean-stop marker a watch daemon keeps beside each
 * index it serves (DB_PATH.watch: its pid; written with fsync at start,
 * removed at a clean exit), so that the next daemon can say the previous
 * one did not stop cleanly.  Recovering lost --nosync commits is the
 * library's (the .nosync marker, cs-nosync.c), for every writer alike.
 * See doc/durability.md.
 */
#ifndef WATCH_STATE_H
#define WATCH_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "condstore.h"

#define WATCH_STATE_SUFFIX ".watch"

struct watch_state {
	long pid;		/* of the daemon that wrote it, 0: unknown */
};

/* The marker's path for the index at db_path (NULL: ROOT/condstore.tdb).
   Returns false if it does not fit in size. */
bool watch_state_path(const char *root, const char *db_path, char *buf,
		      size_t size);
/* Returns 1 (an unclean stop; state_r filled as far as readable), or 0
   when there is no marker. */
int watch_state_read(const char *path, struct watch_state *state_r);
/* Write this process's marker durably.  Returns 0 or -1. */
int watch_state_write(const char *path, struct cs_error *err);

#endif
