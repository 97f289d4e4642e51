/*
 * cs-bucket.h - the byte format of the two packed records of layout 2
 * (include/cs-record.h): a bucket of messages ("m" id bucket) and a chunk
 * of the UID map ("u" id chunk).  Pure functions over byte buffers: no
 * tdb, no mailbox.  Readers scan a record in place (tdb's map, or a
 * transaction's cached copy, cs-msgstore.c) with the same code.
 *
 * Private to the library and its unit tests.
 */
#ifndef CS_BUCKET_H
#define CS_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-index.h"

/* The 32-bit hash of a base name that places it in a bucket and names it
   in the change log and the UID map (a fold of cs_name_hash()). */
uint32_t cs_bucket_hash(const char *base, size_t len);

/* The bucket of hash among nbuckets (linear hashing: buckets
   0 .. nbuckets-1, see cs-record.h), and that bucket's level. */
uint32_t cs_bucket_of(uint32_t hash, uint32_t nbuckets, uint8_t *level_r);

/* --- buckets --- */

#define CS_BUCKET_HDR_SIZE 16
/* The most one entry takes: fixed part, five varints, names. */
#define CS_BUCKET_ENTRY_MAX (8 + 5 * 10 + CS_NAME_MAX + CS_SUFFIX_MAX)

struct cs_bucket_hdr {
	uint8_t level;		/* the bucket holds hash mod 2^level */
	uint32_t count;		/* entries */
	uint64_t base;		/* <= every modseq of its entries */
};

/* An entry found by a scan: where it is, its hash and its base name. */
struct cs_bucket_entry {
	size_t off, len;	/* in the record */
	uint32_t hash;
	const char *base;	/* not NUL-terminated */
	size_t base_len;
};

struct cs_bucket_iter {
	const uint8_t *data;
	size_t size, off;
	uint32_t left;
	struct cs_bucket_hdr hdr;
};

/* Start a scan of a bucket record.  Returns 0, or -1 when the header is
   damaged. */
int cs_bucket_iter_init(const uint8_t *data, size_t size,
			struct cs_bucket_iter *it_r);
/* The next entry: 1, 0 after the last, -1 when the record is damaged
   (an entry runs past its end, bad lengths, a count that does not
   match). */
int cs_bucket_iter_next(struct cs_bucket_iter *it,
			struct cs_bucket_entry *entry_r);
/* Decode entry (found by it) into msg_r.  Returns 0, -1 damaged. */
int cs_bucket_entry_decode(const struct cs_bucket_iter *it,
			   const struct cs_bucket_entry *entry,
			   struct cs_message *msg_r);

/* What a lookup looks for in a bucket: a base name, a UID, or the
   message a change-log entry names (hash and modseq). */
enum cs_bucket_key {
	CS_BUCKET_BY_NAME,
	CS_BUCKET_BY_UID,
	CS_BUCKET_BY_MODSEQ,
};
struct cs_bucket_query {
	enum cs_bucket_key by;
	uint32_t hash;
	const char *base;	/* BY_NAME */
	size_t base_len;
	uint32_t uid;		/* BY_UID */
	uint64_t modseq;	/* BY_MODSEQ */
};
/* Find the entry q asks for in a bucket record.  Returns 1 with
   *entry_r (and msg_r decoded, if not NULL), 0 when there is none, -1
   damaged. */
int cs_bucket_find(const uint8_t *data, size_t size,
		   const struct cs_bucket_query *q,
		   struct cs_bucket_entry *entry_r, struct cs_message *msg_r);

/* Encode msg as an entry against base (every modseq of msg >= base, or
   0 for prev_modseq): returns its length (<= CS_BUCKET_ENTRY_MAX), 0
   when a modseq is below base. */
size_t cs_bucket_entry_encode(const struct cs_message *msg, uint32_t hash,
			      uint64_t base, uint8_t *buf);

void cs_bucket_hdr_encode(const struct cs_bucket_hdr *hdr, uint8_t *buf);

/* --- UID map chunks --- */

#define CS_UIDCHUNK_UIDS 256
#define CS_UIDCHUNK_ENTRY 5	/* uid mod 256 [1], hash [4] */

/* The hash uid maps to in a chunk record (version byte, entries sorted
   by UID): 1 with *hash_r, 0 none, -1 damaged.  *pos_r (may be NULL)
   gets the offset where uid's entry is or would go. */
int cs_uidchunk_find(const uint8_t *data, size_t size, uint32_t uid,
		     uint32_t *hash_r, size_t *pos_r);

#endif
