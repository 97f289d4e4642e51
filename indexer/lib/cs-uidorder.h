/*
 * cs-uidorder.h - the order in which Dovecot numbers the messages of a
 * Maildir it has no dovecot-uidlist for (cs-uidorder.c), so that an index
 * built before Dovecot first opens the mailbox gives its messages the
 * UIDs Dovecot will give them.
 */
#ifndef CS_UIDORDER_H
#define CS_UIDORDER_H

#include <stddef.h>
#include <stdint.h>

/* The sort key of one file name (32 bytes, a million of them sort in
   memory without the names): the leading decimal timestamp, the base
   name's hash (cs_name_hash: it tells apart names the other fields do
   not, and identifies the entry), the microseconds of an "M<usecs>"
   field of the part after the timestamp (bit 31: there is one), and the
   first bytes of that part. */
#define CS_UIDORDER_PREFIX 12
#define CS_UIDORDER_HAS_USECS 0x80000000U
struct cs_uidorder_key {
	uint64_t secs;
	uint64_t hash;
	uint32_t usecs;
	uint8_t prefix[CS_UIDORDER_PREFIX];
};

/* Fill key_r from the base name base (base_len bytes, no info part). */
void cs_uidorder_key(const char *base, size_t base_len,
		     struct cs_uidorder_key *key_r);
/* qsort comparison of two struct cs_uidorder_key: Dovecot's order of new
   files (maildir_filename_sort_cmp: timestamp, then microseconds when
   both names have them, then the rest of the base name), names equal in
   their first CS_UIDORDER_PREFIX bytes after the timestamp ordered by
   hash.  Only a question of speed: a name placed differently from
   Dovecot gets its UID changed once Dovecot numbers it. */
int cs_uidorder_cmp(const void *a, const void *b);

/* Sort count elements of size bytes at base, each starting with a struct
   cs_uidorder_key, as qsort() with cs_uidorder_cmp() would: by timestamp
   with a radix sort, then each run of one timestamp with qsort() (a
   million names sort in a fifth of qsort's time: no comparison call
   between names of different seconds).  Out of memory: qsort() of the
   whole. */
void cs_uidorder_sort(void *base, size_t count, size_t size);

#endif
