/*
 * watch-events.h - turning raw inotify events into per-message work.
 *
 * Every event about a message file becomes (or updates) one work item per
 * (mailbox, base name) for the current batch: repeated changes of one
 * message coalesce.  An item remembers the newest name the message was
 * given (a hint) and whether a name of it was removed; when the batch is
 * committed each item is reconciled with what is on disk now, so events
 * are hints and the directory is the truth.  MOVED_FROM waits in the
 * pending table for its MOVED_TO (same cookie, possibly in another
 * folder); unpaired after pair_wait_ms, it is resolved from the disk.
 */
#ifndef WATCH_EVENTS_H
#define WATCH_EVENTS_H

#include <stdbool.h>
#include <sys/inotify.h>

#include "watch.h"

/* Stop reading events into a batch when it holds this many items.  A
   batch is one transaction, and what a tdb transaction costs follows the
   4 kB blocks it changes, not the changes: each block is copied in,
   copied again into the recovery area, written back through the map and
   write-protected again by the fdatasync that follows.  A flag change
   rewrites its message record in place, a block anywhere in the file, so
   a batch much smaller than the mailbox pays about one block per change
   (with a bound of 16384 and 1M messages, 1M renames overflowed the
   read-ahead queue and cost 113-119 s of CPU; with this bound, about 15
   commits and 25 s: doc/benchmarks.md), while a batch of the mailbox's
   size pays each block once.
   Under load the batch is what the reader thread queued meanwhile
   (bounded by --max-queue), so the further the daemon falls behind, the
   cheaper each change becomes and it catches up instead of overflowing
   the queue.  About 300 bytes per item (70 MB at the bound, reached only
   when that many distinct messages changed during one commit), plus the
   transaction's copies of the blocks it changes. */
#define WATCH_BATCH_MAX_ITEMS 262144

int watch_events_init(struct watch_daemon *d, struct cs_error *err);
void watch_events_deinit(struct watch_daemon *d);

/* Take one event into the current batch. */
void watch_events_handle(struct watch_daemon *d,
			 const struct inotify_event *event);
/* Take every event of buf (size bytes laid out as read(2) returns them
   from an inotify fd, aligned as struct inotify_event) into the current
   batch, in order.  Returns 0, or -1 with err when an event runs past the
   end (the events before it were taken). */
int watch_events_handle_buffer(struct watch_daemon *d, const void *buf,
			       size_t size, struct cs_error *err);
/* Items in the current batch. */
unsigned int watch_events_item_count(const struct watch_daemon *d);
/* MOVED_FROMs waiting for their MOVED_TO. */
unsigned int watch_events_pending_count(const struct watch_daemon *d);

/* What the batch holds about one message, as the commit will see it. */
struct watch_item_state {
	const char *name;	/* the newest name given (has_name), else
				   one of its names */
	uint8_t loc;		/* CS_LOC_NEW or CS_LOC_CUR, of name */
	bool has_name;		/* it was given a name (CREATE, MOVED_TO) */
	bool removed;		/* a name of it went away */
	bool uncertain;		/* to be settled from the directory (an
				   unpaired MOVED_FROM) */
};
/* The batch's item of the message with base name base in box.  Returns 1
   with *state_r (valid until the batch changes), 0 when the batch has
   none. */
int watch_events_item_lookup(const struct watch_daemon *d,
			     const struct watch_box *box, const char *base,
			     struct watch_item_state *state_r);

/* Move pending MOVED_FROMs whose wait ended (all of them with force) into
   the batch as items to be resolved from the disk.  Returns the monotonic
   time of the next deadline, or 0 when nothing is pending. */
uint64_t watch_events_expire(struct watch_daemon *d, bool force);

/* Reconcile the batch's items of root in one transaction of index (the
   root's index, which the caller opened).  Items of mailboxes scanned in
   this round are skipped (the scan covered them).  Returns 0, or -1 (the
   transaction was rolled back). */
int watch_events_commit_root(struct watch_daemon *d, struct watch_root *root,
			     struct cs_index *index, struct cs_error *err);

/* Before the root's scans: a mailbox with WATCH_SETTLE_SCAN_MIN or more
   items that must be settled from the directory (unpaired MOVED_FROMs:
   messages moved out of the watched tree) is scanned instead, one read of
   new/ and cur/ for all of them, rather than two directory reads each.
   Returns the number of mailboxes marked. */
#define WATCH_SETTLE_SCAN_MIN 2
unsigned int watch_events_plan_root(struct watch_daemon *d,
				    struct watch_root *root);

/* The root's items of this batch could not be committed (the root is
   retried later): mark their mailboxes for a scan instead, which the
   retry does. */
void watch_events_requeue_root(struct watch_daemon *d,
			       struct watch_root *root);

/* Items a root that waits for a lock (keep_items) keeps across batches:
   at most WATCH_KEEP_ROOT_ITEMS of its own, and all such roots together
   at most WATCH_KEEP_ITEMS (a quarter of a batch); beyond, the root's
   items turn into scans of their mailboxes (requeue), so that roots
   locked for good do not crowd the others' batches. */
#define WATCH_KEEP_ROOT_ITEMS 4096
#define WATCH_KEEP_ITEMS (WATCH_BATCH_MAX_ITEMS / 4)

/* End the batch: forget its items (after committing, or after an
   overflow), except those of roots that keep them for their retry
   (keep_items), within the bounds above; items of mailboxes or roots
   that are gone are always forgotten (they are freed after this). */
void watch_events_clear(struct watch_daemon *d);

/* Forget everything referring to box or root (retiring them). */
void watch_events_forget_box(struct watch_daemon *d,
			     const struct watch_box *box);
void watch_events_forget_root(struct watch_daemon *d,
			      const struct watch_root *root);

#endif
