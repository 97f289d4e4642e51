/*
 * layout1.h - an index of layout 1 (include/cs-record.h, "Layout 1"),
 * written record by record, for the tests of its conversion: the unit
 * tests (test-msgstore.c) and, through tests/unit/mklayout1, the
 * command's and the daemon's.
 *
 * Mailbox INBOX (id 1, own UIDs, UIDVALIDITY 1700000000) of n messages
 * named by layout1_name(i), UID i+1, flags \Seen, suffix ":2,S", in cur/.
 * Their modseqs: LAYOUT1_SEED+1+i; those from LAYOUT1_RUN on, every
 * third, changed once more (LAYOUT1_CHANGED higher, previous modseq and
 * flags kept).  The change log: two runs of names for the first
 * LAYOUT1_RUN, an entry naming each of the others, and the expunge of
 * UID layout1_tomb_uid(n) at LAYOUT1_TOP, the HIGHESTMODSEQ.  The rank
 * records, the seed's jump and a header whose ceiling is above all.
 */
#ifndef LAYOUT1_H
#define LAYOUT1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAYOUT1_RUN 400
#define LAYOUT1_SEED UINT64_C(1000000)
#define LAYOUT1_CHANGED 50000		/* n must stay below it */
#define LAYOUT1_TOP (LAYOUT1_SEED + 2 * LAYOUT1_CHANGED)

/* The base name of message i. */
void layout1_name(unsigned int i, char *buf, size_t size);
/* Whether message i changed after its arrival, and its modseq. */
bool layout1_changed(unsigned int i);
uint64_t layout1_modseq(unsigned int i);
/* The UID of the tombstone of a mailbox of n messages. */
uint32_t layout1_tomb_uid(unsigned int n);

/* Write the index db (a new file) of n messages (LAYOUT1_RUN <= n <
   LAYOUT1_CHANGED), and with files their files in root/cur.  Returns 0,
   or -1 with errno. */
int layout1_write(const char *root, const char *db, unsigned int n,
		  bool files);

#endif
