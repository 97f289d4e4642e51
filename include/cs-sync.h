/*
 * cs-sync.h - the handshake between the watch daemon and everyone who
 * needs the index to be up to date with the disk ("condstore sync", the
 * Dovecot plugin, tests).
 *
 * A live daemon registers itself in the index ("D" record: pid and
 * process start time, so a stale record after kill -9 is recognised).
 * cs_sync_wait() creates a cookie file ROOT/condstore-sync.<pid>.<n> in
 * the Maildir root, which the daemon watches.  inotify delivers events of
 * one instance in order, so when the daemon reads the cookie's event it
 * has read every event that happened before it; it commits that batch,
 * then removes the cookie.  The waiter returns when the cookie is gone.
 */
#ifndef CS_SYNC_H
#define CS_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "cs-error.h"
#include "cs-index.h"

#define CS_SYNC_COOKIE_PREFIX "condstore-sync."

/* Daemon side: record that this process serves index (1 record per
   index, in its own transaction), and remove the record again. */
int cs_daemon_register(struct cs_index *index, struct cs_error *err);
int cs_daemon_unregister(struct cs_index *index, struct cs_error *err);

/* Is a live daemon serving index?  Returns 1 yes (rec_r filled if not
   NULL), 0 no (no record, or its process is gone), -1 error. */
int cs_daemon_lookup(struct cs_index *index, struct cs_daemon_rec *rec_r,
		     struct cs_error *err);

/* Is name (an entry of the Maildir root) a sync cookie? */
bool cs_sync_is_cookie(const char *name);

/* Daemon side: acknowledge the cookie name in root (removes it). */
int cs_sync_ack(const char *root, const char *name, struct cs_error *err);

/* Wait until the daemon serving index has recorded everything that
   happened on disk before this call.  Returns 1 when caught up, 0 when no
   daemon serves this Maildir (err says so), -1 on error or when the wait
   of timeout_ms ran out (CS_ERR_TIMEOUT). */
int cs_sync_wait(struct cs_index *index, unsigned int timeout_ms,
		 struct cs_error *err);
/* The inotify instance cs_sync_wait() made is kept in index for the
   next wait (nothing is watched in between) and closed with the index;
   release it sooner in a process that will not wait for a while: it
   counts against fs.inotify.max_user_instances (128 per user by
   default), and closing one takes the kernel's grace period (up to tens
   of ms under load), better spent while nobody waits. */
void cs_sync_release(struct cs_index *index);

/* The path of the file whose modification announces a commit that
   recorded changes (the index's path + ".changed") into buf.  Returns 0,
   -1 when it does not fit size. */
int cs_sync_changed_path(struct cs_index *index, char *buf, size_t size);

/* Daemon side: announce a commit that recorded changes, by writing to
   that file (created 0600 when missing, never through a symlink, no
   fsync: it carries nothing but the inotify event of the write). */
int cs_sync_announce(struct cs_index *index, struct cs_error *err);

#endif
