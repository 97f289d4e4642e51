/*
 * cs-index-private.h - internals shared by the library's files
 * (indexer/lib/cs-*.c: the index, its mailboxes, ranks, the change log,
 * reconcile, scans, the store, the check, the first build, nosync).
 * Nothing outside indexer/lib/cs-*.c includes this.
 */
#ifndef CS_INDEX_PRIVATE_H
#define CS_INDEX_PRIVATE_H

#include <sys/types.h>
#include <tdb.h>

#include "cs-codec.h"
#include "cs-index.h"
#include "cs-uidset.h"

/* The sequence-number summary and the chunk last touched (cs-rank.c). */
struct cs_rank_cache {
	uint16_t *counts;		/* UIDs per chunk of 4096 */
	size_t nchunks;
	bool loaded, dirty;
	uint32_t chunk;			/* chunk whose bitmap is in bits */
	uint8_t bits[512];
	bool bits_valid, bits_dirty;
};

/* A change-log run being gathered (cs-reconcile.c), inside a transaction:
   the value of a CS_CHANGE_RUN record for the modseqs first..first+count-1.
   Written when it is full, when the next modseq does not follow, and at
   commit. */
struct cs_change_run {
	uint64_t first;
	unsigned int count;
	size_t len;			/* bytes used in buf */
	size_t last_off;		/* where the newest entry starts, 0
					   when unknown */
	uint8_t *buf;			/* CS_CHANGE_RUN_BYTES, or NULL */
};
#define CS_CHANGE_RUN_BYTES (3 + CS_CHANGE_RUN_MAX * 4)

/* A record of layout 2 held in memory during a transaction
   (cs-msgstore.c): a bucket of messages or a chunk of the UID map. */
struct cs_cached_rec {
	uint32_t no;			/* bucket or chunk number */
	uint8_t *data;
	size_t size, alloc;
	bool stored;			/* the tdb has it */
	bool dirty;			/* to be written at commit */
};

/* The cached records of one kind, by number (an open-addressing hash
   table: the numbers come from the file, any of 2^32). */
struct cs_rec_table {
	struct cs_cached_rec **slots;	/* NULL: empty */
	size_t cap, used;		/* cap: 0 or a power of two */
};

struct cs_msg_cache {
	struct cs_rec_table buckets;	/* by bucket number */
	struct cs_rec_table chunks;	/* by UID / CS_UIDCHUNK_UIDS */
	size_t bytes;			/* allocated for the records */
};

struct cs_mailbox {
	struct cs_index *index;
	struct cs_mailbox *prev, *next;	/* the index's open handles */
	char *name;
	struct cs_mailbox_rec rec;
	bool dirty;			/* rec changed in this transaction */
	bool gone;			/* deleted by someone else */
	struct cs_rank_cache rank;	/* cs-rank.c, inside a transaction */
	struct cs_change_run run;	/* cs-reconcile.c, likewise */
	struct cs_msg_cache cache;	/* cs-msgstore.c, likewise */
};

/* A module that keeps a write-back cache in the index's open mailbox
   handles registers a hook with the index (cs_index_hook_add), which
   calls it, in the order the hooks were added:
   begin: at the start of a transaction, after the header is read (-1
	  fails the begin);
   flush: at commit, before the header is written (-1 rolls the
	  transaction back);
   reset: when the transaction has ended: committed, or (committed
	  false) rolled back or failed to commit.
   Any of them may be NULL. */
struct cs_index_hook {
	int (*begin)(struct cs_index *index, struct cs_error *err);
	int (*flush)(struct cs_index *index, struct cs_error *err);
	void (*reset)(struct cs_index *index, bool committed);
};
#define CS_INDEX_HOOKS_MAX 4

struct cs_index {
	struct tdb_context *tdb;
	char *root, *db_path, *hwm_path;
	char sep;
	bool readonly, nosync;
	bool nonblock;			/* see cs_index_settings */
	bool in_txn;
	struct cs_header_rec hdr;	/* valid inside a transaction */
	bool hdr_dirty;
	struct cs_mailbox *boxes;
	char tdb_log[512];		/* last message tdb logged */
	int tdb_log_errno;		/* errno when it was logged */
	bool recovered;			/* tdb ran crash recovery */
	bool writable;			/* the tdb was opened O_RDWR */
	/* a build (cs-build.c): the tdb is a file nobody else can see yet,
	   opened without locks and fsync; "transactions" only group the
	   writes, and a rollback leaves the file damaged */
	bool bulk;
	bool bulk_damaged;		/* a rollback happened during a build */
	char *tdb_path;			/* what tdb opened (the db_path, or
					   for a build the unnamed file) */
	const struct cs_index_hook *hooks[CS_INDEX_HOOKS_MAX];
	unsigned int nhooks;
	uint64_t dir_reads;		/* cs_index_dir_reads() */
	bool converting;		/* cs-migrate.c: a transaction of
					   layout 1 is allowed */
	bool converted;			/* cs_index_converted() */
	int sync_ifd;			/* cs-sync.c: the inotify instance
					   its waits reuse, or -1 */
};

/* cs-index.c: add hook (once: adding it again does nothing). */
void cs_index_hook_add(struct cs_index *index,
		       const struct cs_index_hook *hook);
/* For hooks: call flush for every open handle of index whose mailbox is
   not gone, stopping at the first that returns -1 (then -1); call reset
   for every open handle. */
int cs_index_boxes_flush(struct cs_index *index,
			 int (*flush)(struct cs_mailbox *box,
				      struct cs_error *err),
			 struct cs_error *err);
void cs_index_boxes_reset(struct cs_index *index,
			  void (*reset)(struct cs_mailbox *box));
/* The hooks of cs-rank.c, cs-change-run.c and cs-mailbox.c, which
   cs_mailbox_open adds in this order (the caches first, the mailbox
   records last). */
extern const struct cs_index_hook cs_rank_hook, cs_change_run_hook,
	cs_msgstore_hook;

/* The same base name in new/ and cur/ of mailbox directory dir (a copy
   an agent left behind, or a hostile user): the file in cur/ is the
   message, the one in new/ is ignored.  True when rec (the message's
   record) names a file in cur/ that exists, so that a file of the same
   base in new/ is such a leftover. */
bool cs_maildir_cur_shadows(const char *dir, const struct cs_message *rec);

/* Longest key: tag, id, and a base name. */
#define CS_KEY_MAX (1 + 4 + CS_NAME_MAX)

/* Key builders: write into buf (CS_KEY_MAX bytes), return the length. */
size_t cs_key_mailbox(uint8_t *buf, const char *name);
/* tag, id[4], n[4] (big-endian): the keys numbered within a mailbox */
size_t cs_key_numbered(uint8_t *buf, uint8_t tag, uint32_t id, uint32_t n);
size_t cs_key_bucket(uint8_t *buf, uint32_t id, uint32_t bucket);
size_t cs_key_uidmap(uint8_t *buf, uint32_t id, uint32_t chunk);
/* the keys of layout 1's messages and UID map */
size_t cs_key_msg_v1(uint8_t *buf, uint32_t id, const char *base, size_t len);
size_t cs_key_uid_v1(uint8_t *buf, uint32_t id, uint32_t uid);
size_t cs_key_change(uint8_t *buf, uint32_t id, uint64_t modseq);
size_t cs_key_tomb(uint8_t *buf, uint32_t id, uint32_t uid);
size_t cs_key_jump(uint8_t *buf, uint32_t id);

/* tdb wrappers that turn tdb errors into cs_errors naming the file.
   fetch: returns 1 with *data_r (free() it), 0 not found, -1 error. */
int cs_db_fetch(struct cs_index *index, const uint8_t *key, size_t key_len,
		uint8_t **data_r, size_t *size_r, struct cs_error *err);
/* parse: calls parser on the record in place (no copy; it must not
   touch the tdb) and puts its return value in *parser_ret_r.  Returns 1,
   0 not found, -1 error. */
typedef int cs_db_parser(const uint8_t *data, size_t size, void *ctx);
int cs_db_parse(struct cs_index *index, const uint8_t *key, size_t key_len,
		cs_db_parser *parser, void *ctx, int *parser_ret_r,
		struct cs_error *err);
int cs_db_store(struct cs_index *index, const uint8_t *key, size_t key_len,
		const void *data, size_t size, struct cs_error *err);
/* insert: for keys expected to be new (cheaper than a replace, which
   looks the key up twice); replaces if the key exists after all */
int cs_db_insert(struct cs_index *index, const uint8_t *key, size_t key_len,
		 const void *data, size_t size, struct cs_error *err);
/* add: stores only if the key does not exist.  Returns 1 added, 0 the
   key exists (nothing written), -1 error. */
int cs_db_add(struct cs_index *index, const uint8_t *key, size_t key_len,
	      const void *data, size_t size, struct cs_error *err);
/* delete: a missing key is not an error */
int cs_db_delete(struct cs_index *index, const uint8_t *key, size_t key_len,
		 struct cs_error *err);
/* The error for a failed tdb call (corrupt/io with the remedy). */
int cs_db_error(struct cs_index *index, const char *what,
		struct cs_error *err);

/* cs-prefault.c: fault in every page of tdb's map of the index, writable,
   in one call (madvise MADV_POPULATE_WRITE), for a writer about to write
   most of them (a first build).  Returns 1 when the map was populated, 0
   when it was not (no map, a kernel before 5.14, no /proc): the pages
   then fault one by one when written, as they would have anyway. */
int cs_db_prefault(struct cs_index *index);

/* cs-db.c: tdb's logging function (its private pointer is the index):
   keeps what tdb logged for the next cs_db_error(). */
void cs_db_log(struct tdb_context *tdb, enum tdb_debug_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* cs-index.c: open the tdb of set and read (or, writable, create) its
   header, counters of a new one seeded above floor; bulk_path: a build's
   unnamed file (see cs_index_open_bulk); sizer: the hash size of a file
   this creates when set gives none (NULL: a fixed default).  No recovery:
   that is cs_index_open's (cs-open.c).  Returns 0 or -1. */
typedef unsigned int cs_index_sizer(const char *root);
int cs_index_open_raw(const struct cs_index_settings *set, uint64_t floor,
		      const char *bulk_path, cs_index_sizer *sizer,
		      struct cs_index **index_r, struct cs_error *err);

/* cs-open.c: open a brand-new index for a build (cs-build.c): set says where the
   index will live (its db_path, the high-water-mark file beside it),
   tdb_path names the empty file to build it in.  Returns 0 or -1. */
int cs_index_open_bulk(const struct cs_index_settings *set, uint64_t floor,
		       const char *tdb_path, struct cs_index **index_r,
		       struct cs_error *err);

/* The highest counter the existing index knows, as far as it can be read
   (0: none): a rebuild seeds its counters above it. */
uint64_t cs_index_floor(const struct cs_index_settings *set);

/* A rebuild's file while it is linked but not yet renamed into place:
   DB_PATH CS_REBUILD_SUFFIX "PID.N" (cleaned up when its writer died). */
#define CS_REBUILD_SUFFIX ".rebuild."

/* Fail unless inside a writable transaction. */
/* cs-index-lock.c: with settings.nonblock, take tdb's open lock without
   waiting before tdb_open (which would wait for it): returns 0 with
   *guard_r an fd holding it (-1 when there is no file yet), or -1 with
   CS_ERR_BUSY.  Unguard right after tdb_open: tdb released the lock. */
int cs_index_open_guard(struct cs_index *index, int *guard_r,
			struct cs_error *err);
void cs_index_open_unguard(int *guard);

int cs_index_require_txn(struct cs_index *index, struct cs_error *err);

/* cs_reconcile for a name that is most likely new (a scan of a mailbox
   that was empty): the records are added without looking the name up
   first; if it has a record after all, this is cs_reconcile. */
int cs_reconcile_arrival(struct cs_mailbox *box, const char *base,
			 size_t base_len, const struct cs_disk_state *disk,
			 struct cs_message *msg_r, struct cs_error *err);

/* cs-change-run.c: add the entry of a new message at modseq to the run
   gathered for box (writing the run first when modseq does not follow
   it or it is full); write the run (at commit, and before a walk of the
   log inside a transaction); forget it (rollback, close). */
int cs_change_run_add(struct cs_mailbox *box, uint64_t modseq,
		      const char *base, struct cs_error *err);
int cs_change_run_flush(struct cs_mailbox *box, struct cs_error *err);
void cs_change_run_reset(struct cs_mailbox *box);

/* cs-msgstore.c: the messages of a mailbox (buckets) and its UID map.
   fetch: the message of a base name; fetch_change: the message a
   change-log entry names (the hash of its base name and its modseq).
   Both return 1/0/-1, in a transaction or not. */
int cs_msg_fetch(struct cs_mailbox *box, const char *base, size_t base_len,
		 struct cs_message *msg_r, struct cs_error *err);
int cs_msg_fetch_change(struct cs_mailbox *box, uint32_t hash,
			uint64_t modseq, struct cs_message *msg_r,
			struct cs_error *err);
/* In a transaction: put stores msg (by its base name: replaced or
   added; 0 or -1); add stores it only if the name has no message yet (1
   added, 0 it has one: nothing written, -1); remove drops the message of
   a name (1, 0 none, -1).  Adding may split a bucket (nbuckets grows). */
int cs_msg_put(struct cs_mailbox *box, const struct cs_message *msg,
	       struct cs_error *err);
int cs_msg_add(struct cs_mailbox *box, const struct cs_message *msg,
	       struct cs_error *err);
int cs_msg_remove(struct cs_mailbox *box, const char *base, size_t base_len,
		  struct cs_error *err);
/* The UID map: the hash of the base name uid maps to (1 with *hash_r, 0
   none, -1); set and unset in a transaction (0 or -1). */
int cs_uidmap_get(struct cs_mailbox *box, uint32_t uid, uint32_t *hash_r,
		  struct cs_error *err);
int cs_uidmap_set(struct cs_mailbox *box, uint32_t uid, uint32_t hash,
		  struct cs_error *err);
int cs_uidmap_unset(struct cs_mailbox *box, uint32_t uid,
		    struct cs_error *err);
/* Drop the whole UID map of box (in a transaction), for repair. */
int cs_uidmap_drop(struct cs_mailbox *box, struct cs_error *err);
/* Write the handle's changed records now (in a transaction; the commit
   writes what changes after).  0 or -1. */
int cs_msg_cache_flush(struct cs_mailbox *box, struct cs_error *err);
/* Forget the handle's cached records; at close, a build's are written
   first (a failure marks the build damaged). */
void cs_msg_cache_reset(struct cs_mailbox *box);
void cs_msg_cache_close(struct cs_mailbox *box);

/* The digest term of msg's record (cs_digest_term(), plus its UID's term
   when box has Dovecot's UIDs), the term of its UID (cs_uid_term() of its
   base name's hash), and recomputing box's digest and uid_sum from its
   records (in a txn; sets CS_MAILBOX_F_DIGEST). */
uint64_t cs_msg_digest_term(const struct cs_mailbox *box,
			    const struct cs_message *msg);
uint64_t cs_msg_uid_term(const struct cs_message *msg);
int cs_mailbox_digest_rebuild(struct cs_mailbox *box, struct cs_error *err);

/* Call fn for every key starting with prefix (tdb_traverse_read, or
   tdb_traverse inside a transaction), with the traversal's err.  fn
   returns 0 to go on, -1 with err set to stop with that error, or 1 to
   stop (returned). */
typedef int cs_key_fn(void *ctx, const uint8_t *key, size_t key_len,
		      const uint8_t *data, size_t size, struct cs_error *err);
int cs_db_traverse_prefix(struct cs_index *index, const uint8_t *prefix,
			  size_t prefix_len, cs_key_fn *fn, void *ctx,
			  struct cs_error *err);
/* Delete every key starting with prefix (the caller is in a
   transaction).  0 or -1. */
int cs_db_delete_prefix(struct cs_index *index, const uint8_t *prefix,
			size_t prefix_len, struct cs_error *err);

/* cs-changes.c: forget tombstones with modseq <= horizon (in a
   transaction; cs_mailbox_prune's); raises the mailbox's horizon.
   Returns the number forgotten (at most INT_MAX counted), or -1. */
int cs_tombstones_prune(struct cs_mailbox *box, uint64_t horizon,
			struct cs_error *err);

/* cs-jumps.c: the jumps of a mailbox's counter (seed -> from pairs):
   read them all (1 with *jumps_r to free(), 0 none, -1), append one (in
   a txn). */
struct cs_jump {
	uint64_t seed, from;
};
int cs_jumps_read(struct cs_mailbox *box, struct cs_jump **jumps_r,
		  size_t *count_r, struct cs_error *err);
int cs_jump_append(struct cs_mailbox *box, uint64_t seed, uint64_t from,
		   struct cs_error *err);

/* cs-index.c: make sure modseq is below the ceiling: when it is not,
   durably rewrite the high-water-mark file with a higher one first.  In
   a txn. */
int cs_ceiling_raise(struct cs_index *index, uint64_t modseq,
		     struct cs_error *err);


/* Sequence numbers (cs-rank.c): mark uid present or absent (in a txn),
   write the cached summary and chunk (at commit), forget the cache (at
   rollback and close). */
int cs_rank_set(struct cs_mailbox *box, uint32_t uid, bool present,
		struct cs_error *err);
int cs_rank_flush(struct cs_mailbox *box, struct cs_error *err);
/* The lowest UID of the mailbox >= from (in a transaction): returns 1
   with *uid_r, 0 if there is none, -1.  Costs the chunks of 4096 UIDs
   looked at (a count each when empty), not the UIDs: a walk over the
   mailbox with it costs by the UIDs that exist, whatever the range. */
int cs_rank_next(struct cs_mailbox *box, uint32_t from, uint32_t *uid_r,
		 struct cs_error *err);
void cs_rank_reset(struct cs_mailbox *box);
/* The UID map of box (in a txn): uid -> base, with uid's bit in the rank
   maps and its term (cs_uid_term) in the mailbox's uid_sum; storing
   raises UIDNEXT above uid.  base is the message's base name, mapped to
   uid.  Deleting uid 0 does nothing.  Both return 0 or -1 (storing a uid
   that is mapped already replaces the mapping: for UIDs from UIDNEXT,
   where a mapping can only be a leftover). */
int cs_uid_map_store(struct cs_mailbox *box, uint32_t uid, const char *base,
		     struct cs_error *err);
/* Storing a UID the caller was told (a map of names to UIDs, looked up
   by a hash of the name, or Dovecot) rather than took from UIDNEXT: uid
   may be another message's, if the map's hash of two names is the same.
   Returns 1 stored as cs_uid_map_store() does, 0 if uid maps to a live
   message of another name (nothing written), -1. */
int cs_uid_map_claim(struct cs_mailbox *box, uint32_t uid, const char *base,
		     struct cs_error *err);
int cs_uid_map_delete(struct cs_mailbox *box, uint32_t uid,
		      const char *base, struct cs_error *err);
/* The stored summary (UIDs per chunk), for check; and dropping every rank
   record of box (in a txn), for repair. */
int cs_rank_counts(struct cs_mailbox *box, uint16_t **counts_r, size_t *n_r,
		   struct cs_error *err);
int cs_rank_drop(struct cs_mailbox *box, struct cs_error *err);
/* Call fn for every maximal range of UIDs inside ranges (sorted, within
   1..UINT32_MAX-1) that is not in the mailbox, in ascending order.  One
   step per chunk of 4096 UIDs up to the highest chunk with a UID, a
   bitmap read per chunk that has UIDs; the rest is one range.  fn
   returns 0 to go on, non-zero to stop (cs_uid_range_fn, cs-index.h).
   Returns 0 or -1. */
int cs_rank_absent(struct cs_mailbox *box, const struct cs_uid_range *ranges,
		   size_t count, cs_uid_range_fn *fn, void *ctx,
		   struct cs_error *err);

/* cs-scan.c: cs_maildir_scan() of a mailbox that a build's census
   listed (cs-listing.h): while the mailbox is new to the index, its files
   are taken from listing (NULL: from the directories). */
struct cs_listing;
struct cs_maildir_census;
struct cs_scan_settings;
struct cs_scan_stats;
int cs_maildir_scan_listed(struct cs_index *index, const char *name,
			   const struct cs_scan_settings *set,
			   const struct cs_listing *listing,
			   struct cs_scan_stats *stats_r, struct cs_error *err);
/* cs_maildir_scan_all() taking each mailbox's files from census's
   listing when it has one (census NULL: none). */
int cs_maildir_scan_census(struct cs_index *index, const char *const *names,
			   const struct cs_maildir_census *census,
			   const struct cs_scan_settings *set,
			   struct cs_scan_stats *stats_r, struct cs_error *err);

/* The message files of every mailbox of root (cs-listing.h's census),
   and the tdb hash size for an index of that many (cs-scan.c). */
uint64_t cs_maildir_count_files(const char *root);
unsigned int cs_hash_size_for(uint64_t files);

/* cs-migrate.c: convert an index of layout 1 (index->hdr.version) to
   layout 2, in one transaction (nothing done if another writer did it
   first).  Outside a transaction, no mailbox handle open.  0 or -1. */
int cs_index_convert(struct cs_index *index, struct cs_error *err);
/* cs-index.c: the error for an index of layout 1 that is not being
   converted (-1). */
int cs_index_layout1_error(struct cs_index *index, struct cs_error *err);

/* cs-nosync.c: at open for writing, raise the counters when a nosync
   writer ran under another boot, and (nosync) mark this boot.  Returns 0
   or -1. */
int cs_index_nosync_check(struct cs_index *index, struct cs_error *err);

#endif
