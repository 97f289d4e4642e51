/*
 * watch-roots.h - the Maildir roots a watch daemon serves and their
 * mailboxes: expanding --maildir and --maildirs-glob, starting a root
 * (daemon record, unclean-stop marker), watching then scanning, folder
 * creation, renames and deletion, sync cookies, and the bounded set of
 * open indexes.
 */
#ifndef WATCH_ROOTS_H
#define WATCH_ROOTS_H

#include "cs-owner.h"
#include "watch.h"

/* Act as root's owner (cs-owner.h) in this thread: every access to a
   Maildir happens between watch_root_enter() and watch_root_leave().  A
   glob match that became a symlink is no longer served.  Returns false
   when the root must not be touched now (logged). */
bool watch_root_enter(struct watch_daemon *d, struct watch_root *root,
		      struct cs_owner *owner);
void watch_root_leave(struct cs_owner *owner);

/* Add the --maildir roots and the glob's matches; retire roots the glob
   no longer matches.  Returns the number of roots served. */
unsigned int watch_roots_expand(struct watch_daemon *d);

/* Register in the index of every root not started yet (before the
   startup scan, so that "condstore sync" waits for a daemon that is
   still scanning other roots).  Errors are logged, the root given up. */
void watch_roots_start_all(struct watch_daemon *d);

/* Bring one root up to date in this round: start it, full scan or folder
   changes, scans, the batch's items, sync cookies.  Errors are logged.
   Its waits for locks other processes hold are bounded (opening and
   starting transactions do not wait at all); when a lock is held or
   anything fails, the root's sync cookies stay unanswered and the root
   is retried later, while the other roots are served. */
void watch_root_process(struct watch_daemon *d, struct watch_root *root);

/* Is root waiting for a retry at now (its last round failed: see
   watch_root_process)? */
bool watch_root_waiting(const struct watch_root *root, uint64_t now);
/* When the earliest root waiting for a retry is due (monotonic ms), 0
   when none is. */
uint64_t watch_roots_next_retry(const struct watch_daemon *d);
/* The largest cs_index_txn_scratch() of the indexes open now. */
size_t watch_roots_txn_scratch(const struct watch_daemon *d);

/* Add the root watches first, so that with a low watch limit every root
   still sees its sync cookies and folder changes. */
void watch_roots_watch_all(struct watch_daemon *d);

/* Rescan what could not be watched (periodic, and before answering a
   sync cookie).  Returns the number of mailboxes scanned. */
unsigned int watch_root_rescan_unwatched(struct watch_daemon *d,
					 struct watch_root *root);
bool watch_root_has_unwatched(const struct watch_root *root);

/* Answer the sync cookies of the roots processed while
   d->hold_cookies was set (and processed without error). */
void watch_roots_answer_cookies(struct watch_daemon *d);

/* Look for sync cookies in roots that have no root watch. */
void watch_roots_poll_cookies(struct watch_daemon *d);

/* The root's index, opened if needed (closing the least recently used
   one beyond max_open).  Returns 0 or -1. */
int watch_root_index(struct watch_daemon *d, struct watch_root *root,
		     struct cs_index **index_r, struct cs_error *err);

/* Free retired roots and mailboxes. */
void watch_roots_reap(struct watch_daemon *d);
/* Clean exit: unregister, remove the unclean-stop markers, free all. */
void watch_roots_shutdown(struct watch_daemon *d);

#endif
