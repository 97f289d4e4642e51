/*
 * cs-codec.h - the codec of the index's records (cs-record.c): encoding
 * and decoding the records whose layout include/cs-record.h gives, the
 * change-log runs, the digest term, and the byte-order helpers.  Private
 * to the library (and its unit tests): everything else reads the index
 * through include/cs-index.h.
 */
#ifndef CS_CODEC_H
#define CS_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cs-record.h"

/* The digest term of a message file's name: a 64-bit hash of its name as
   it is on disk (base name and suffix, i.e. the "m" key's base followed
   by the record's suffix) and its location (CS_LOC_*).  For a mailbox
   with Dovecot's UIDs, a message's term in the digest adds cs_uid_term()
   of its UID (the one dovecot-uidlist gives the file).  Not a
   cryptographic hash: names crafted to collide can hide a change from the
   quick comparison (never from the daemon, nor from a scan whose counts
   differ). */
uint64_t cs_digest_term(uint8_t location, const char *name, size_t len);

/* The term of a UID in the sums (uid_sum, the digest): 0 for UID 0, else
   a 64-bit mix of uid and base_hash, the cs_name_hash() of the message's
   base name.  Summed over dovecot-uidlist's records it equals the
   mailbox's uid_sum when the index gives every name the same UID (but
   for crafted collisions, as above). */
uint64_t cs_uid_term(uint64_t base_hash, uint32_t uid);

/* Encoders write exactly the SIZE bytes above; decoders return 0, or -1
   if the buffer has the wrong size or version. */
void cs_header_rec_encode(const struct cs_header_rec *rec, uint8_t *buf);
int cs_header_rec_decode(const uint8_t *buf, size_t size,
			 struct cs_header_rec *rec_r);
void cs_mailbox_rec_encode(const struct cs_mailbox_rec *rec, uint8_t *buf);
int cs_mailbox_rec_decode(const uint8_t *buf, size_t size,
			  struct cs_mailbox_rec *rec_r);
/* A message record of layout 1 (the conversion reads them; tests write
   them).  buf must hold CS_MSG_REC_FIXED_SIZE + rec->suffix_len bytes. */
void cs_msg_rec_encode(const struct cs_msg_rec *rec, const char *suffix,
		       uint8_t *buf);
/* suffix_r gets a NUL-terminated copy; it must hold CS_SUFFIX_MAX+1. */
int cs_msg_rec_decode(const uint8_t *buf, size_t size,
		      struct cs_msg_rec *rec_r, char *suffix_r);
void cs_daemon_rec_encode(const struct cs_daemon_rec *rec, uint8_t *buf);
int cs_daemon_rec_decode(const uint8_t *buf, size_t size,
			 struct cs_daemon_rec *rec_r);

/* Reading a CS_CHANGE_RUN value (the whole value, type byte first). */
struct cs_change_run_iter {
	const uint8_t *p, *end;
	unsigned int left;
};
/* Returns the number of entries, or -1 if the value is no well-formed
   run (wrong type, count or size). */
int cs_change_run_init(const uint8_t *value, size_t size,
		       struct cs_change_run_iter *iter_r);
/* The next entry, oldest first: returns 1 with its message's hash, 0
   after the last. */
int cs_change_run_next(struct cs_change_run_iter *iter, uint32_t *hash_r);
/* The same for a run of layout 1 (CS_CHANGE_RUN_V1), whose entries are
   base names (not NUL-terminated). */
int cs_change_run_v1_init(const uint8_t *value, size_t size,
			  struct cs_change_run_iter *iter_r);
int cs_change_run_v1_next(struct cs_change_run_iter *iter,
			  const char **base_r, size_t *len_r);

/* Little-endian helpers. */
void cs_put_le32(uint8_t *p, uint32_t v);
void cs_put_le64(uint8_t *p, uint64_t v);
uint32_t cs_get_le32(const uint8_t *p);
uint64_t cs_get_le64(const uint8_t *p);
void cs_put_be32(uint8_t *p, uint32_t v);
void cs_put_be64(uint8_t *p, uint64_t v);
uint32_t cs_get_be32(const uint8_t *p);
uint64_t cs_get_be64(const uint8_t *p);

#endif
