/*
 * cs-record.h - the on-disk layout of the maildir-condstore tdb.
 *
 * One tdb per Maildir root (default ROOT/condstore.tdb).  Keys start with a
 * one-byte tag; integers inside keys are big-endian so that keys of one
 * kind sort by number in a dump; integers inside values are little-endian.
 * Every value starts with a version byte.  Offsets are in bytes.  The
 * codec that reads and writes these records is the library's own
 * (indexer/lib/cs-codec.h).
 *
 *  key                                   value
 *  "H"                                   struct cs_header_rec
 *  "M" name                              struct cs_mailbox_rec  (name: UTF-8
 *                                        mailbox name, "INBOX", "A.B"; no NUL)
 *  "L"                                   the names of all "M" records, each
 *                                        followed by a NUL
 *  "m" id[4] base                        struct cs_msg_rec + suffix
 *  "u" id[4] uid[4]                      base name of the message with uid
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
 * Invariants (checked by cs_check, see cs-check.h):
 *  1. modseqs are >= 1 and < 2^63;
 *  2. a mailbox's highestmodseq >= every modseq in it and never decreases;
 *  3. every change gets a modseq above the previous highestmodseq;
 *  4. after a quiet period: one "m" record per file in new/ and cur/, with
 *     the file's flags and suffix, and none without a file;
 *  5. every "c" entry names a message (or tombstone) whose modseq is the
 *     entry's key, and every message and tombstone has its "c" entry; an
 *     entry of a run (CS_CHANGE_RUN) may be stale instead: its message has
 *     a later modseq, with an entry of its own, or is gone;
 *  6. a mailbox record with CS_MAILBOX_F_DIGEST holds the sum of the
 *     digest terms of its "m" records, and the sum of the UID terms of
 *     its "u" records.
 */
#ifndef CS_RECORD_H
#define CS_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define CS_RECORD_VERSION 1

#define CS_KEY_HEADER	'H'
#define CS_KEY_MAILBOX	'M'
#define CS_KEY_MAILBOX_LIST 'L'
#define CS_KEY_MESSAGE	'm'
#define CS_KEY_UID	'u'
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
				       (mod 2^64) over the mailbox's "m"
				       records of cs_digest_term(), plus
				       cs_uid_term() of their UIDs when
				       uid_source is CS_UIDSRC_DOVECOT: with
				       Dovecot's UIDs, digest = the names'
				       part + uid_sum */
};
#define CS_MAILBOX_REC_SIZE 56
#define CS_MAILBOX_REC_SIZE_V1 48	/* without flags and digest */
/* a digest of an earlier definition (the UID inside each name's term):
   ignored, recomputed by the next scan, cleared when rewritten */
#define CS_MAILBOX_F_DIGEST_V1 0x1
/* digest and uid_sum are up to date (a scan compares the digest with one
   computed from the directory listing: equal sums and counts mean nothing
   to reconcile; the switch to Dovecot's UIDs compares uid_sum with
   dovecot-uidlist's: equal sums and a UID for each message mean every UID
   agrees) */
#define CS_MAILBOX_F_DIGEST 0x2

/* "m" id base: one per message file.  Fixed part of size 40, then the
   suffix (separator and info) of the file's current name. */
#define CS_LOC_NEW 0
#define CS_LOC_CUR 1
struct cs_msg_rec {
	uint8_t version;	/* 0: CS_RECORD_VERSION */
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
#define CS_CHANGE_MESSAGE 1	/* payload: base name of the message */
#define CS_CHANGE_EXPUNGE 2	/* payload: uid[4] LE of the tombstone */
/* payload: count[2] LE (1..CS_CHANGE_RUN_MAX), then count entries, each
   len[1] (1..CS_NAME_MAX) and a base name: the messages that got the
   count consecutive modseqs ending at the key, oldest first.  Written
   when a scan adds messages in bulk (one record instead of one per
   message); never for a single modseq.  An entry whose message has
   another modseq by now is stale: readers skip it, and nothing deletes
   it (deleting the key would drop the whole run) until the run's
   mailbox goes. */
#define CS_CHANGE_RUN 3
#define CS_CHANGE_RUN_MAX 256
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
