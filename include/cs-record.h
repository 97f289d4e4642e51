/*
 * cs-record.h - the on-disk layout of the maildir-condstore tdb.
 *
 * One tdb per Maildir root (default ROOT/condstore.tdb).  Keys start with a
 * one-byte tag; integers inside keys are big-endian so that keys of one
 * kind sort by number in a dump; integers inside values are little-endian.
 * Every value starts with a version byte.  Offsets are in bytes.  The
 * codec that reads and writes these records is the library's own
 * (indexer/lib/cs-codec.h, and indexer/lib/cs-bucket.h for the packed
 * records).  This is layout 2 (CS_RECORD_VERSION); layout 1 is described
 * at the end, for its conversion.
 *
 *  key                                   value
 *  "H"                                   struct cs_header_rec
 *  "M" name                              struct cs_mailbox_rec  (name: UTF-8
 *                                        mailbox name, "INBOX", "A.B"; no NUL)
 *  "L"                                   the names of all "M" records, each
 *                                        followed by a NUL
 *  "n" id[4] bucket[4]                   a bucket of messages (below)
 *  "i" id[4] chunk[4]                    the UID map of the UIDs chunk*256 ..
 *                                        chunk*256+255 (below)
 *  "c" id[4] modseq[8]                   change-log entry (CS_CHANGE_*)
 *  "t" id[4] uid[4]                      tombstone: modseq[8] LE of expunge
 *  "j" id[4]                             counter jumps: pairs of seed[8] LE,
 *                                        from[8] LE: the counter went from
 *                                        "from" straight to "seed" (seeding,
 *                                        see cs-index.h)
 *  "b" id[4] chunk[4]                    bitmap of the UIDs chunk*4096 ..
 *                                        chunk*4096+4095 present (512 bytes,
 *                                        bit i of byte j is UID j*8+i)
 *  "B" id[4]                             UIDs per chunk: count[2] LE each
 *                                        (message sequence numbers); it
 *                                        may end in zero counts (room to
 *                                        grow in place)
 *  "k" id[4]                             clock marks: pairs of time[8] LE
 *                                        (microseconds), modseq[8] LE: the
 *                                        mailbox's HIGHESTMODSEQ at that
 *                                        time, oldest first (written by
 *                                        pruning, see cs-horizon.h)
 *  "D"                                   struct cs_daemon_rec (watch daemon)
 *
 * Messages.  A message file is known by its base name (the name up to
 * the info separator).  Its hash is cs_bucket_hash(base) (32 bits).  The
 * messages of a mailbox are packed in its buckets 0 .. nbuckets-1 (the
 * mailbox record's nbuckets) by linear hashing: with nbuckets in
 * [2^L, 2^(L+1)), a hash h is in bucket h mod 2^L, or h mod 2^(L+1) when
 * that is below nbuckets - 2^L (those buckets were split already).  A
 * bucket has one more bucket split off it when the mailbox has more than
 * CS_BUCKET_FILL messages a bucket; a split writes both halves, and
 * buckets are never merged, so every bucket below nbuckets exists in a
 * mailbox that has had a message.  A bucket value:
 *
 *    0 version[1]     CS_RECORD_VERSION
 *    1 level[1]       the bucket holds the hashes h with h mod 2^level =
 *                     its number (a reader that computed the number from
 *                     an older nbuckets follows the split from there)
 *    2 reserved[2]    0
 *    4 count[4]       entries
 *    8 base[8]        <= every modseq (and previous modseq) of its entries
 *   16 entries, in no order, each:
 *    0 hash[4]        cs_bucket_hash of the base name
 *    4 var_len[1]     bytes of the five varints at 8
 *    5 base_len[1]    1 .. CS_NAME_MAX
 *    6 suffix_len[1]  0 .. CS_SUFFIX_MAX
 *    7 info[1]        bit 0: the file is in cur/ (else new/); other bits 0
 *    8 varints (unsigned LEB128): uid (0 while Dovecot has not numbered
 *                     the file), modseq - base, previous modseq (0: none,
 *                     else prev_modseq - base + 1), flags, previous flags
 *                     (the cs-name.h flag sets; see struct cs_msg_rec)
 *      then the base name, then the suffix (separator and info) of the
 *      file's current name; neither NUL-terminated.
 *
 * The UID map: for each UID a message has, its base name's hash, so that
 * a message is found by UID in two reads.  A chunk value: version[1],
 * then entries of 5 bytes sorted by UID, each uid mod 256 [1] and
 * hash[4].  An empty chunk is deleted.
 *
 * Invariants (checked by cs_check, see cs-check.h):
 *  1. modseqs are >= 1 and < 2^63;
 *  2. a mailbox's highestmodseq >= every modseq in it and never decreases;
 *  3. every change gets a modseq above the previous highestmodseq;
 *  4. after a quiet period: one message per file in new/ and cur/, with
 *     the file's flags and suffix, and none without a file;
 *  5. every "c" entry names a message (hash and modseq) or tombstone
 *     whose modseq is the entry's key, and every message and tombstone
 *     has its "c" entry; an entry of a run (CS_CHANGE_RUN) may be stale
 *     instead: its message has a later modseq, with an entry of its own,
 *     or is gone;
 *  6. a mailbox record with CS_MAILBOX_F_DIGEST holds the sum of the
 *     digest terms of its messages, and the sum of the UID terms of its
 *     UIDs;
 *  7. the UID map holds exactly the UIDs of the messages, each with its
 *     message's hash.
 *
 * Layout 1 (version 1 in "H"): one record per message, "m" id[4] base ->
 * struct cs_msg_rec and the suffix; the UID map one record per UID, "u"
 * id[4] uid[4] -> the base name; change-log entries and runs naming the
 * base name (CS_CHANGE_MESSAGE_V1, CS_CHANGE_RUN_V1); mailbox records of
 * 48 or 56 bytes.  A writer converts such an index to layout 2 when it
 * opens it (cs-migrate.c); readers of layout 1 refuse layout 2 by the
 * version byte of "H".
 */
#ifndef CS_RECORD_H
#define CS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define CS_RECORD_VERSION 2
#define CS_RECORD_VERSION_V1 1

#define CS_KEY_HEADER	'H'
#define CS_KEY_MAILBOX	'M'
#define CS_KEY_MAILBOX_LIST 'L'
#define CS_KEY_BUCKET	'n'
#define CS_KEY_UIDMAP	'i'
#define CS_KEY_MESSAGE_V1 'm'	/* layout 1 */
#define CS_KEY_UID_V1	'u'	/* layout 1 */
#define CS_KEY_CHANGE	'c'
#define CS_KEY_TOMB	't'
#define CS_KEY_JUMP	'j'
#define CS_KEY_RANK_MAP	'b'
#define CS_KEY_RANK_SUM	'B'
#define CS_KEY_DAEMON	'D'
#define CS_KEY_CLOCK	'k'

/* "H": one per tdb.  Size 32. */
struct cs_header_rec {
	uint8_t version;	/* 0: CS_RECORD_VERSION */
	uint8_t separator;	/* 1: info separator the index was built with */
	uint16_t reserved;	/* 2: 0 */
	uint32_t next_mailbox_id; /* 4: id for the next new mailbox (from 1) */
	uint64_t ceiling;	/* 8: modseq ceiling last made durable in the
				      high-water-mark file: every modseq ever
				      issued from this tdb is below it */
	uint64_t created;	/* 16: creation time, microseconds */
	uint64_t reserved2;	/* 24: 0 */
};
#define CS_HEADER_REC_SIZE 32

/* "M" name: one per mailbox.  Size 56 (records of size 48, written before
   the digest existed, decode with flags 0: digest unknown). */
#define CS_UIDSRC_OWN 0		/* UIDs assigned by the index */
#define CS_UIDSRC_DOVECOT 1	/* UIDs read from dovecot-uidlist */
struct cs_mailbox_rec {
	uint8_t version;	/* 0: CS_RECORD_VERSION */
	uint8_t uid_source;	/* 1: CS_UIDSRC_* */
	uint16_t reserved;	/* 2: 0 */
	uint32_t id;		/* 4: mailbox id used in the other keys */
	uint32_t uidvalidity;	/* 8 */
	uint32_t uidnext;	/* 12: next UID the index would assign (own
				       UIDs) or Dovecot's next UID */
	uint64_t highestmodseq;	/* 16: >= every modseq in the mailbox */
	uint64_t horizon;	/* 24: tombstones of expunges at or below this
				       modseq may have been pruned; set to
				       the first seed at creation (0 in
				       records from before: the first jump's
				       seed stands for it, cs-horizon.h) */
	uint32_t messages;	/* 32: number of "m" records */
	uint32_t flags;		/* 36: CS_MAILBOX_F_* */
	uint64_t uid_sum;	/* 40: with CS_MAILBOX_F_DIGEST: the sum
				       (mod 2^64) of cs_uid_term() over the
				       "u" records (0 in records from before
				       it existed, without that flag) */
	uint64_t digest;	/* 48: with CS_MAILBOX_F_DIGEST: the sum
				       (mod 2^64) over the mailbox's
				       messages of cs_digest_term(), plus
				       cs_uid_term() of their UIDs when
				       uid_source is CS_UIDSRC_DOVECOT: with
				       Dovecot's UIDs, digest = the names'
				       part + uid_sum */
	uint32_t nbuckets;	/* 56: buckets of messages ("n"); 0 in
				       layout 1 */
	uint32_t reserved2;	/* 60: 0 */
};
#define CS_MAILBOX_REC_SIZE 64
/* layout 1: without nbuckets (56), and also without flags and digest
   (48) */
#define CS_MAILBOX_REC_SIZE_V1_DIGEST 56
#define CS_MAILBOX_REC_SIZE_V1 48
/* a digest of an earlier definition (the UID inside each name's term):
   ignored, recomputed by the next scan, cleared when rewritten */
#define CS_MAILBOX_F_DIGEST_V1 0x1
/* digest and uid_sum are up to date (a scan compares the digest with one
   computed from the directory listing: equal sums and counts mean nothing
   to reconcile; the switch to Dovecot's UIDs compares uid_sum with
   dovecot-uidlist's: equal sums and a UID for each message mean every UID
   agrees) */
#define CS_MAILBOX_F_DIGEST 0x2

/* A message: what a bucket entry holds (see above).  In layout 1 also
   the "m" record of one message: the fixed part of size 40, then the
   suffix (separator and info) of the file's current name. */
#define CS_LOC_NEW 0
#define CS_LOC_CUR 1
struct cs_msg_rec {
	uint8_t version;	/* 0: CS_RECORD_VERSION_V1 on disk */
	uint8_t location;	/* 1: CS_LOC_NEW or CS_LOC_CUR */
	uint16_t suffix_len;	/* 2: bytes of suffix after the fixed part */
	uint32_t uid;		/* 4: 0 while Dovecot has not assigned one */
	uint64_t modseq;	/* 8: modseq of the current flags */
	uint64_t flags;		/* 16: cs-name.h flag set */
	uint64_t prev_modseq;	/* 24: modseq of the previous flags (0: none) */
	uint64_t prev_flags;	/* 32: the previous flags */
	/* 40: suffix bytes (not NUL-terminated on disk) */
};
#define CS_MSG_REC_FIXED_SIZE 40
#define CS_SUFFIX_MAX 255

/* "c" id modseq: change-log entry.  Size 1 + payload. */
#define CS_CHANGE_EXPUNGE 2	/* payload: uid[4] LE of the tombstone */
#define CS_CHANGE_MESSAGE 4	/* payload: hash[4] LE of the message's base
				   name: the message of that hash with the
				   key's modseq */
/* payload: count[2] LE (2..CS_CHANGE_RUN_MAX), then count hashes [4] LE:
   the messages that got the count consecutive modseqs ending at the key,
   oldest first.  Written when a scan adds messages in bulk (one record
   instead of one per message); never for a single modseq.  An entry
   whose message has another modseq by now is stale: readers skip it, and
   nothing deletes it (deleting the key would drop the whole run) until
   the run's mailbox goes. */
#define CS_CHANGE_RUN 5
#define CS_CHANGE_RUN_MAX 256

/* Messages a bucket holds on average: one bucket more is split off when
   the mailbox holds more than nbuckets * CS_BUCKET_FILL. */
#define CS_BUCKET_FILL 32
/* layout 1: the payload is the base name (CS_CHANGE_MESSAGE_V1), or
   count[2] LE then count entries of len[1] and a base name */
#define CS_CHANGE_MESSAGE_V1 1
#define CS_CHANGE_RUN_V1 3
/* value: type[1] then payload */

/* "D": the watch daemon serving this Maildir.  Size 24. */
struct cs_daemon_rec {
	uint8_t version;	/* 0 */
	uint8_t reserved[3];	/* 1 */
	uint32_t pid;		/* 4 */
	uint64_t start_time;	/* 8: /proc/PID/stat starttime (clock ticks) */
	uint64_t since;		/* 16: when it started serving, microseconds */
};
#define CS_DAEMON_REC_SIZE 24

#endif
