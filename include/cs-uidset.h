/*
 * cs-uidset.h - IMAP sequence sets of UIDs ("1:5,7,9:*").
 */
#ifndef CS_UIDSET_H
#define CS_UIDSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-error.h"

struct cs_uid_range {
	uint32_t first, last;	/* first <= last; UINT32_MAX stands for '*' */
};

struct cs_uidset {
	struct cs_uid_range *ranges;	/* sorted, merged, non-overlapping */
	size_t count;
	size_t alloc;
};

#define CS_UID_STAR UINT32_MAX

void cs_uidset_init(struct cs_uidset *set);
void cs_uidset_free(struct cs_uidset *set);

/* Parse an IMAP sequence set; '*' is stored as CS_UID_STAR.  "3:1" is the
   same as "1:3".  Returns 0, or -1 (CS_ERR_INVALID) for syntax errors and
   for 0. */
int cs_uidset_parse(const char *str, struct cs_uidset *set,
		    struct cs_error *err);

/* Add one UID or a range; keeps the set sorted and merged.
   Returns 0, or -1 on allocation failure. */
int cs_uidset_add_range(struct cs_uidset *set, uint32_t first, uint32_t last);
int cs_uidset_add(struct cs_uidset *set, uint32_t uid);

/* Does the set contain uid?  '*' is taken to mean star_uid (the highest
   UID in the mailbox), as RFC 3501 says. */
bool cs_uidset_contains(const struct cs_uidset *set, uint32_t uid,
			uint32_t star_uid);

/* Format the set as "1:3,7".  Returns the length written, or -1 if the
   text would not fit in size bytes (buf is then truncated but
   NUL-terminated).  malloc'ed variant: returns NULL on ENOMEM. */
int cs_uidset_format(const struct cs_uidset *set, char *buf, size_t size);
char *cs_uidset_format_alloc(const struct cs_uidset *set);

#endif
