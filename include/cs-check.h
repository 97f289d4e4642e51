/*
 * cs-check.h - the consistency check: every invariant of cs-record.h
 * verified against the tdb and the disk.
 */
#ifndef CS_CHECK_H
#define CS_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "cs-error.h"
#include "cs-index.h"

/* One line per problem, e.g.
   "INBOX: 1700000000.M1P2.host: flags on disk FS, in index S". */
typedef void cs_problem_cb(void *ctx, const char *mailbox, const char *text);

struct cs_check_settings {
	bool repair;		/* reconcile what differs (needs write) */
	cs_problem_cb *problem;
	/* what the check found that is no problem of the index, e.g. space
	   a crash left unreferenced in the file (NULL: not told) */
	cs_problem_cb *note;
	void *problem_ctx;	/* for both */
};

/* Check mailbox name (or all mailboxes on disk and in the index when
   name is NULL), including tdb_check() of the whole file.  Returns the
   number of problems found (0: clean), or -1 if it could not check. */
int cs_check(struct cs_index *index, const char *name,
	     const struct cs_check_settings *set, struct cs_error *err);

#endif
