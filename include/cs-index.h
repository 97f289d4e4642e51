/*
 * cs-index.h - the maildir-condstore index: one tdb per Maildir root.
 *
 * The index records, for every mailbox of a Maildir root, every message's
 * flags with the mod-sequence (modseq) at which they last changed, a
 * change log keyed by modseq, and tombstones of expunged UIDs.  All
 * writers (the reindexer, the watch daemon, the Dovecot plugin, the store
 * command) change it through one rule, cs_reconcile(): compare what is on
 * disk for a base name with the record, and when it differs assign the
 * next modseq and store, inside a tdb transaction.
 *
 * Concurrency: any number of processes may open the same index.  Writes
 * happen inside cs_index_begin()/cs_index_commit(), which serialises them
 * through tdb's transaction lock; readers see committed state only.  One
 * process must not open the same tdb twice (a tdb restriction).
 *
 * Modseq safety: beside the tdb lives a high-water-mark file
 * (DB_PATH ".hwm"), rewritten with fsync whenever a modseq reaches the
 * ceiling it records; every modseq ever issued is below that ceiling.  A
 * new or rebuilt counter is seeded from max(ceiling, time in
 * microseconds), so a lost, truncated or rebuilt tdb never hands out a
 * modseq at or below one already issued.  Each seeding writes a "jump"
 * record so that change-log walks skip the gap in O(1).
 */
#ifndef CS_INDEX_H
#define CS_INDEX_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-error.h"
#include "cs-name.h"
#include "cs-record.h"

#define CS_MODSEQ_MAX ((UINT64_C(1) << 63) - 1)
/* modseqs reserved per fsync of the high-water-mark file */
#define CS_HWM_BLOCK UINT64_C(65536)
/* default file name of the index inside the Maildir root */
#define CS_DB_NAME "condstore.tdb"

struct cs_index;
struct cs_mailbox;

struct cs_index_settings {
	const char *root;	/* the Maildir root (required) */
	const char *db_path;	/* NULL: ROOT/condstore.tdb */
	char separator;		/* info separator; 0 means ':' */
	unsigned int hash_size;	/* tdb hash size for a new tdb; 0: default */
	bool readonly;		/* open read-only; fails if missing */
	bool nosync;		/* commit without fsync (see README) */
	/* Never wait for a lock another process holds (the watch daemon,
	   serving many users): opening and cs_index_begin fail at once with
	   CS_ERR_BUSY instead.  Other waits (reads, the commit) end with
	   CS_ERR_BUSY once a signal arrives while *lock_interrupt is
	   non-zero (the caller's timer sets it; see cs_index_probe). */
	bool nonblock;
	volatile sig_atomic_t *lock_interrupt;	/* NULL: waits not bounded */
};

/* Open (creating if needed, mode 0600) the index described by set.
   Returns 0, or -1 with err naming the file and reason.  A tdb that is
   truncated or corrupt gives CS_ERR_CORRUPT with the remedy in the text. */
int cs_index_open(const struct cs_index_settings *set,
		  struct cs_index **index_r, struct cs_error *err);
/* Close the index and set *index to NULL.  Rolls back an open
   transaction.  Does nothing for *index == NULL. */
void cs_index_close(struct cs_index **index);

const char *cs_index_root(const struct cs_index *index);
/* How many directory listings (a new/ or cur/ read in full) were read for
   this index since it was opened: the cost of scans and of finding a
   message whose name changed, for the daemon's figures. */
uint64_t cs_index_dir_reads(const struct cs_index *index);
const char *cs_index_db_path(const struct cs_index *index);
/* Whether this open converted the index from layout 1 (an earlier
   version's: one record per message, see include/cs-record.h) to the
   current one, in place, keeping every UID and modseq: for the caller's
   log. */
bool cs_index_converted(const struct cs_index *index);
char cs_index_separator(const struct cs_index *index);

/* Rebuild: move the tdb away and create a fresh one whose counters start
   above everything the old one (if readable), the high-water-mark file
   and the clock say.  The index is empty afterwards; reindex it. */
int cs_index_rebuild(const struct cs_index_settings *set,
		     struct cs_error *err);

/* Transactions.  All writes happen between begin and commit; one
   transaction at a time per index (no nesting).  Commit writes the
   mailbox records changed through open cs_mailbox handles.  Rollback
   discards everything and re-reads the handles. */
int cs_index_begin(struct cs_index *index, struct cs_error *err);
int cs_index_commit(struct cs_index *index, struct cs_error *err);
void cs_index_rollback(struct cs_index *index);
bool cs_index_in_transaction(const struct cs_index *index);
/* The memory a transaction start allocates whatever the transaction does
   (tdb copies the file's hash table: 4 bytes per chain).  A process that
   hands free memory back to the system between transactions keeps this
   much, or the next start faults all of it in again. */
size_t cs_index_txn_scratch(const struct cs_index *index);
/* Without waiting: could a transaction start right now?  Returns 0 yes,
   -1 with CS_ERR_BUSY when another process holds the index's transaction
   lock or a write lock on its records (a long store, or anyone holding
   an fcntl lock on the file).  A caller that must not stall calls this
   before reading, and tries again later when busy. */
int cs_index_probe(struct cs_index *index, struct cs_error *err);

/* --- mailboxes --- */

/* Open a handle on mailbox name ("INBOX", "A.B").  With create, a missing
   mailbox is created (needs a transaction) with uid_source and
   uidvalidity (0: the current time), its counter seeded as described
   above.  Returns 1 found or created, 0 not found, -1 error. */
int cs_mailbox_open(struct cs_index *index, const char *name, bool create,
		    uint8_t uid_source, uint32_t uidvalidity,
		    struct cs_mailbox **box_r, struct cs_error *err);
void cs_mailbox_close(struct cs_mailbox **box);
/* Re-read the record (outside transactions the handle is a snapshot). */
int cs_mailbox_refresh(struct cs_mailbox *box, struct cs_error *err);
const char *cs_mailbox_name(const struct cs_mailbox *box);
const struct cs_mailbox_rec *cs_mailbox_get_rec(const struct cs_mailbox *box);
struct cs_index *cs_mailbox_index(struct cs_mailbox *box);

/* Delete a mailbox and all its records (in a transaction). */
int cs_mailbox_delete(struct cs_index *index, const char *name,
		      struct cs_error *err);
/* Retire the mailboxes gone from disk: delete from the index every
   mailbox for which on_disk(ctx, name) is false, each in a transaction
   of its own (outside a transaction), so that no writer waits for the
   whole list and a failure leaves the ones before it deleted; then call
   retired(ctx, name) when not NULL.  Returns the number deleted, or -1
   (stopping at the first failure). */
typedef bool cs_mailbox_on_disk_fn(void *ctx, const char *name);
typedef void cs_mailbox_retired_fn(void *ctx, const char *name);
int cs_mailboxes_retire(struct cs_index *index, cs_mailbox_on_disk_fn *on_disk,
			cs_mailbox_retired_fn *retired, void *ctx,
			struct cs_error *err);
/* Rename a mailbox (in a transaction).  Its records follow it. */
int cs_mailbox_rename(struct cs_index *index, const char *old_name,
		      const char *new_name, struct cs_error *err);

/* Iteration callbacks (cs_mailbox_cb, cs_message_cb, cs_expunge_cb) are
   given the err of the call that iterates, and return 0 to go on, 1 to
   stop there, or -1 after filling err in (cs_error_set()) to stop with
   that error, which reaches the caller as the callback wrote it.  The
   iterating calls return 1 when a callback stopped them, 0 when they went
   through to the end, and -1 on their own error or the callback's. */

/* Call cb for each mailbox in the index, in the order of the index's
   mailbox list.  Returns 1 (stopped by cb), 0 or -1. */
typedef int cs_mailbox_cb(void *ctx, const char *name,
			  const struct cs_mailbox_rec *rec,
			  struct cs_error *err);
int cs_mailbox_list(struct cs_index *index, cs_mailbox_cb *cb, void *ctx,
		    struct cs_error *err);
/* The names of the mailboxes in the index (those cs_mailbox_list calls
   back for, in its order): *names_r is a NULL-terminated array of
   *count_r names, each and the array malloc'ed; free them with
   cs_mailbox_names_free().  Returns 0 or -1. */
int cs_mailbox_names(struct cs_index *index, char ***names_r,
		     size_t *count_r, struct cs_error *err);
void cs_mailbox_names_free(char ***names);

/* Switch a mailbox to Dovecot's UIDs (in a transaction): uidvalidity
   becomes Dovecot's, UIDNEXT at least uidnext, the tombstones are dropped
   (their UIDs belong to the old UIDVALIDITY: the horizon goes up to
   HIGHESTMODSEQ), and every message whose UID is not the one uid_of(ctx,
   base, base_len) gives (0: Dovecot has none for it yet; uid_of NULL: 0
   for all) gets UID 0 until cs_reconcile gives it Dovecot's.  Messages
   whose UID agrees keep it with its map: an index built before Dovecot
   numbered the mailbox, in Dovecot's order (cs_maildir_scan), switches
   at the cost of reading its records and writes nothing per message.
   tally (may be NULL) sums up the UIDs uid_of gives: when it shows that
   every message keeps its UID and no tombstone exists (see
   CS_MAILBOX_F_DIGEST in cs-record.h), no record is read either.
   Modseqs do not change.  Returns 0 or -1. */
typedef uint32_t cs_uid_of_fn(void *ctx, const char *base, size_t base_len);
struct cs_uid_tally {
	uint64_t count;	/* the names uid_of gives a UID */
	uint64_t sum;	/* cs_uid_term() over them (cs-codec.h) */
};
int cs_mailbox_set_uid_source(struct cs_mailbox *box, uint8_t uid_source,
			      uint32_t uidvalidity, uint32_t uidnext,
			      cs_uid_of_fn *uid_of, void *ctx,
			      const struct cs_uid_tally *tally,
			      struct cs_error *err);

/* Raise the mailbox's counter (HIGHESTMODSEQ) to at least seed, in a
   transaction: the next modseq is seed + 1.  The gap is recorded so that
   change-log walks skip it.  Used after an unclean stop with nosync, to
   go above every modseq that may have been handed out and lost. */
int cs_mailbox_raise(struct cs_mailbox *box, uint64_t seed,
		     struct cs_error *err);

/* Raise every mailbox's counter to the high-water mark's ceiling, one
   durable transaction per mailbox (also under nosync).  After a system
   crash that may have lost nosync commits, this keeps modseqs clients
   saw from being handed out again (see cs-nosync.c; cs_index_open does
   it by itself when its marker says so).  Returns 0 or -1. */
int cs_index_raise_all(struct cs_index *index, struct cs_error *err);

/* The ceiling recorded in the high-water-mark file (every modseq ever
   issued from this index is below it).  Returns 1, 0 if there is no
   file, -1 on error. */
int cs_index_hwm(struct cs_index *index, uint64_t *ceiling_r,
		 struct cs_error *err);

/* --- messages --- */

struct cs_message {
	char base[CS_NAME_MAX + 1];	/* base name, NUL-terminated */
	char suffix[CS_SUFFIX_MAX + 1];	/* separator + info of the file */
	struct cs_msg_rec rec;
};

/* Look a message up by base name or by UID.  Returns 1 found, 0 not,
   -1 error. */
int cs_message_lookup(struct cs_mailbox *box, const char *base,
		      size_t base_len, struct cs_message *msg_r,
		      struct cs_error *err);
int cs_message_lookup_uid(struct cs_mailbox *box, uint32_t uid,
			  struct cs_message *msg_r, struct cs_error *err);

/* What is on disk for a base name. */
struct cs_disk_state {
	bool present;		/* false: the file is gone (expunge) */
	uint8_t location;	/* CS_LOC_NEW or CS_LOC_CUR */
	const char *suffix;	/* separator + info, "" for none */
	uint64_t flags;		/* flags parsed from the suffix */
	uint32_t uid;		/* Dovecot's UID when known, else 0; on own
				   UIDs, the UID a new record is to get (one
				   the caller reserved below UIDNEXT, see
				   cs_maildir_scan), else 0 for the next.
				   For a gone file: the UID its tombstone
				   gets if the record never learnt one */
};

/* THE reconcile rule (needs a transaction): bring the record of base in
   box in line with disk.  A new message gets a UID (own UIDs) and the next
   modseq; changed flags get the next modseq (the old flags and modseq
   become prev_*); a gone message is expunged: a tombstone with the next
   modseq (if it had a UID, or disk->uid names one no other message or
   tombstone has) and its records removed.  A move between new/
   and cur/ or a suffix change without a flag change updates the record
   without a new modseq.  Learning Dovecot's UID (on Dovecot's UIDs) is a
   change: for an IMAP client the message is new (a record that had no UID
   yet, or one Dovecot numbered again, whose old UID then gets a
   tombstone).  A UID is never given to two live records: a disk->uid
   another message has (a caller's map of names by hash, where two names
   share one) is not taken; a new record then gets the next UID (own
   UIDs) or none (Dovecot's), an existing one keeps its own.  Idempotent.
   Returns 1 if a new modseq was assigned, 0 if not, -1 on error.  msg_r
   (may be NULL) gets the resulting record (rec.modseq 0 after expunge). */
int cs_reconcile(struct cs_mailbox *box, const char *base, size_t base_len,
		 const struct cs_disk_state *disk, struct cs_message *msg_r,
		 struct cs_error *err);

/* Has the index a trace of UID uid: a message or a tombstone with it?
   (No transaction needed.)  Returns 1 yes, 0 no, -1 on error. */
int cs_uid_traced(struct cs_mailbox *box, uint32_t uid,
		  struct cs_error *err);

/* Record that Dovecot's UID uid is gone, when the index has no trace of
   it (in a transaction, on Dovecot's UIDs only): a tombstone with the
   next modseq.  For an expunge Dovecot saw and the index never could
   tell: a message numbered and gone between two of its looks (no daemon,
   a file that came and went between scans), or one whose record never
   learnt its UID.  Returns 1 recorded, 0 nothing to record, -1. */
int cs_expunge_uid(struct cs_mailbox *box, uint32_t uid,
		   struct cs_error *err);

/* Messages whose modseq is > since, walking the change log from the
   highest modseq down (cost: the number of modseqs issued since
   "since").  Order: descending modseq.  cb as for cs_mailbox_list();
   returns 1 (stopped by cb), 0 or -1. */
typedef int cs_message_cb(void *ctx, const struct cs_message *msg,
			  struct cs_error *err);
int cs_changes_since(struct cs_mailbox *box, uint64_t since,
		     cs_message_cb *cb, void *ctx, struct cs_error *err);

/* UIDs expunged with a modseq > since.  cb as for cs_mailbox_list().
   Returns 1 (stopped by cb), 0, or -1: CS_ERR_LIMIT when since is below
   the tombstone horizon (tombstones may have been pruned: the caller must
   treat the answer as incomplete), or another error. */
typedef int cs_expunge_cb(void *ctx, uint32_t uid, uint64_t modseq,
			  struct cs_error *err);
int cs_expunges_since(struct cs_mailbox *box, uint64_t since,
		      cs_expunge_cb *cb, void *ctx, struct cs_error *err);

/* Every message of the mailbox, in no particular order.  cb as for
   cs_mailbox_list(); returns 1 (stopped by cb), 0 or -1. */
int cs_messages_iterate(struct cs_mailbox *box, cs_message_cb *cb,
			void *ctx, struct cs_error *err);

/* Every tombstone of the mailbox.  cb as for cs_mailbox_list(); returns
   1 (stopped by cb), 0 or -1. */
int cs_tombstones_iterate(struct cs_mailbox *box, cs_expunge_cb *cb,
			  void *ctx, struct cs_error *err);


/* The message sequence number of uid (1-based rank among the mailbox's
   UIDs).  Returns 1 found, 0 if uid is not in the mailbox, -1 error. */
int cs_message_seq(struct cs_mailbox *box, uint32_t uid, uint32_t *seq_r,
		   struct cs_error *err);

/* Call fn for every maximal range of UIDs within first..last (1 to
   UINT32_MAX - 1) that are messages of the mailbox, in ascending order.
   Cost as for the sequence numbers: one step per chunk of 4096 UIDs up to
   the highest message and a bitmap read per chunk that has messages, never
   one step per UID of an empty range.  fn returns 0 to go on, non-zero to
   stop.  Returns 1 (stopped by fn), 0 or -1. */
typedef int cs_uid_range_fn(void *ctx, uint32_t first, uint32_t last);
int cs_message_uid_ranges(struct cs_mailbox *box, uint32_t first,
			  uint32_t last, cs_uid_range_fn *fn, void *ctx,
			  struct cs_error *err);

/* Current time in microseconds (the counter seed). */
uint64_t cs_now_usec(void);

#endif
