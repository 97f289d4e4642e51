/*
 * cs-maildir.h - Maildir++ roots on disk: mailbox discovery, directory
 * scans reconciled into the index, and the conditional store.
 *
 * A Maildir++ root holds INBOX itself (ROOT/new, ROOT/cur, ROOT/tmp) and
 * one directory ROOT/.A.B per folder "A.B".  Mailbox names are checked
 * before they are used in a path: empty names, names with '/', a ".."
 * component (an empty part between dots, or a leading or trailing dot),
 * control characters, or more than CS_MAILBOX_NAME_MAX bytes are refused.
 * Folders that are symlinks are refused; files that are symlinks are
 * ignored with a warning; nothing is ever followed out of the root.
 */
#ifndef CS_MAILDIR_H
#define CS_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-error.h"
#include "cs-index.h"
#include "cs-uidset.h"

#define CS_MAILBOX_NAME_MAX 200

/* Check a mailbox name (see above).  Returns 0 or -1 (CS_ERR_INVALID). */
int cs_mailbox_name_check(const char *name, struct cs_error *err);

/* Write ROOT (for INBOX) or ROOT/.NAME into buf.  Checks the name.
   Returns 0 or -1. */
int cs_mailbox_path(const char *root, const char *name, char *buf,
		    size_t size, struct cs_error *err);

/* The mailbox name for a directory entry of the root (".A.B" -> "A.B"),
   or NULL for entries that are not folders (no leading dot, "." or "..",
   a bad name).  Writes into buf. */
const char *cs_mailbox_name_from_dirent(const char *entry, char *buf,
					size_t size);

/* Warnings about things skipped (symlinks, bad names).  May be NULL. */
typedef void cs_warn_cb(void *ctx, const char *text);

/* List the mailboxes of root: INBOX first, then each .Folder that is a
   real directory with cur/ (symlinks and bad names are reported through
   warn and skipped).  cb returns 0 to go on. */
typedef int cs_maildir_list_cb(void *ctx, const char *name,
			       const char *path);
int cs_maildir_list(const char *root, cs_maildir_list_cb *cb, void *ctx,
		    cs_warn_cb *warn, void *warn_ctx, struct cs_error *err);

/* --- scanning --- */

struct cs_scan_stats {
	uint64_t files;		/* message files seen */
	uint64_t arrived;	/* new records */
	uint64_t changed;	/* flag changes (new modseq) */
	uint64_t expunged;	/* records without a file */
	uint64_t updated;	/* moved or renamed without a flag change */
	uint64_t skipped;	/* symlinks, odd entries */
	uint64_t deferred;	/* records not seen, but not confirmed gone
				   because the directory kept changing during
				   the scan: scan again later */
};

/* Progress: called now and then with the files done so far. */
typedef void cs_progress_cb(void *ctx, const char *mailbox, uint64_t done,
			    uint64_t total);

struct cs_scan_settings {
	cs_warn_cb *warn;
	void *warn_ctx;
	cs_progress_cb *progress;
	void *progress_ctx;
	/* the caller knows the directories changed (e.g. after an inotify
	   overflow): skip the quick comparison of the mailbox's digest,
	   which would only cost one more readdir */
	bool changes_expected;
};

/* Scan a mailbox directory and reconcile every file with the index,
   expunging records whose file is gone.  When the mailbox's digest (see
   cs-record.h) and message count equal those of the directory listing,
   nothing is looked up nor written: the cost is one readdir.  Creates the mailbox record if
   needed.  Reads dovecot-uidlist when present (and switches the mailbox to
   Dovecot's UIDs).  Runs its own transactions (do not call inside one).
   Returns 0 and adds to stats_r, or -1. */
int cs_maildir_scan(struct cs_index *index, const char *name,
		    const struct cs_scan_settings *set,
		    struct cs_scan_stats *stats_r, struct cs_error *err);

/* Reconcile one base name with what is on disk now: looks for the file in
   cur/ and new/ (by the recorded suffix first, then by reading the
   directory).  Needs a transaction.  Returns as cs_reconcile. */
int cs_maildir_reconcile_one(struct cs_mailbox *box, const char *dir,
			     const char *base, struct cs_message *msg_r,
			     struct cs_error *err);

/* As cs_maildir_reconcile_one, but first tries the file name an event
   reported: filename in DIR/new (CS_LOC_NEW) or DIR/cur (CS_LOC_CUR).
   The base name is taken from filename. */
int cs_maildir_reconcile_name(struct cs_mailbox *box, const char *dir,
			      uint8_t location, const char *filename,
			      struct cs_message *msg_r, struct cs_error *err);

/* Full rescan of a Maildir root: cs_maildir_scan of every mailbox on disk
   (or only of names, when not NULL), and mailboxes in the index that are
   no longer on disk are deleted from it.  Returns 0 or -1; a mailbox
   that fails is reported through set->warn and the others go on (the
   return is then -1 after all were tried). */
int cs_maildir_scan_all(struct cs_index *index, const char *const *names,
			const struct cs_scan_settings *set,
			struct cs_scan_stats *stats_r, struct cs_error *err);

/* The first reindex of a Maildir root without an index: every mailbox
   is scanned into a new index built in an unnamed file beside the index's
   path, without locks, transactions or fsync, then fsynced and linked
   into place (see cs-build.c).  A crash at any moment leaves no index or
   the complete one.  Returns 1 built (stats_r added to; -1 with err
   instead when some mailbox could not be scanned, the others being in
   the index as with cs_maildir_scan_all), 0 when nothing was done
   because an index exists (or appeared meanwhile) or the file system
   can't make unnamed files: then open the index and cs_maildir_scan_all
   it; -1 on error (no index was created). */
int cs_maildir_build_index(const struct cs_index_settings *set,
			   const struct cs_scan_settings *scan,
			   struct cs_scan_stats *stats_r,
			   struct cs_error *err);

/* Rebuild the index of set->root: build a new one aside as
   cs_maildir_build_index() does, its counters seeded above everything the
   old index (as far as it is readable), the high-water mark and the clock
   say, and rename it over the old one only when it is complete and every
   mailbox could be read.  A failure or a kill leaves the working index
   untouched.  Returns 0 (stats_r added to) or -1. */
int cs_maildir_rebuild_index(const struct cs_index_settings *set,
			     const struct cs_scan_settings *scan,
			     struct cs_scan_stats *stats_r,
			     struct cs_error *err);

/* The tdb hash size for a new index of root: counts the message files of
   every mailbox (one readdir each) and sizes the hash table for them.  The
   hash size is fixed when the tdb is created; a rebuild picks a new one. */
unsigned int cs_maildir_suggest_hash_size(const char *root);

/* --- dovecot-uidlist (read only) --- */

struct cs_uidlist_header {
	unsigned int version;
	uint32_t uidvalidity;
	uint32_t next_uid;
	unsigned int skipped;	/* damaged records, and records whose UID
				   was not above the one before */
};
/* Bounds: a longer line or a larger file makes the file unusable (about
   2 million messages at Dovecot's usual 120 bytes a line). */
#define CS_UIDLIST_MAX_LINE 8192
#define CS_UIDLIST_MAX_SIZE (256 * 1024 * 1024)
/* Read DIR/dovecot-uidlist.  Returns 1 and calls cb for each record, 0 if
   the file does not exist, -1 on error: CS_ERR_INVALID for a bad header,
   CS_ERR_LIMIT for a file beyond the bounds (nothing is read then), or
   cb's failure.  cb returns 0 to go on, non-zero on failure (out of
   memory). */
typedef int cs_uidlist_cb(void *ctx, uint32_t uid, const char *base,
			  size_t base_len);
int cs_uidlist_read(const char *mailbox_dir, char sep,
		    struct cs_uidlist_header *hdr_r, cs_uidlist_cb *cb,
		    void *ctx, struct cs_error *err);

/* --- conditional store --- */

enum cs_store_op {
	CS_STORE_ADD,		/* +FLAGS */
	CS_STORE_REMOVE,	/* -FLAGS */
	CS_STORE_REPLACE	/* FLAGS */
};

struct cs_store_result_cb {
	/* a message was stored (or already had the flags): msg is its record
	   after the store */
	int (*stored)(void *ctx, const struct cs_message *msg);
	/* a message failed UNCHANGEDSINCE (or was renamed under us) */
	int (*modified)(void *ctx, uint32_t uid);
	void *ctx;
	/* the message's file could not be renamed (its new name would be
	   too long, rename(2) failed): it is left as it was, on disk and
	   in the index; reason names the file and the cause.  NULL: not
	   reported. */
	int (*failed)(void *ctx, uint32_t uid, const char *reason);
};

/* Store flags on the messages of uids (doc/design.md section 4): under one
   transaction, reconcile each target with the disk, compare its modseq
   with unchangedsince (0: no condition), rename the file; a rename that
   fails with ENOENT means another agent renamed it: the message is
   re-reconciled and reported as modified.  A message whose file can't
   be renamed is reported through cbs->failed and the others go on, so
   that what is reported stored is renamed and recorded, and the rest is
   untouched.  Returns 0 (results through cbs), or -1 on error (nothing
   recorded). */
int cs_maildir_store(struct cs_mailbox *box, const struct cs_uidset *uids,
		     enum cs_store_op op, uint64_t flags,
		     uint64_t unchangedsince,
		     const struct cs_store_result_cb *cbs,
		     struct cs_error *err);

#endif
