/*
 * cs-hwm.h - the high-water-mark file beside the tdb (internal).
 *
 * DB_PATH.hwm holds one line
 *     "maildir-condstore-hwm 2 CEILING UIDVALIDITY\n"
 * Every modseq ever issued from the tdb is below CEILING, and every
 * UIDVALIDITY the index ever gave a mailbox of its own is at most
 * UIDVALIDITY.  It is rewritten (a temporary file, fsync, rename, fsync of
 * the directory) before the first modseq at or above the old ceiling is
 * handed out and before a new UIDVALIDITY is used, so it survives the loss
 * of the tdb: seeding from it can never reuse a modseq, and a rebuilt
 * mailbox always gets a new UIDVALIDITY, even within the same second.
 * Version 1 files ("maildir-condstore-hwm 1 CEILING") are read as having
 * UIDVALIDITY 0.
 */
#ifndef CS_HWM_H
#define CS_HWM_H

#include <stdint.h>

#include "cs-error.h"

struct cs_hwm {
	uint64_t ceiling;
	uint32_t uidvalidity;
};

/* Returns 1 and *hwm_r, 0 if the file does not exist (*hwm_r zeroed), -1
   on error (unreadable or damaged: the caller must not trust a smaller
   value). */
int cs_hwm_read(const char *path, struct cs_hwm *hwm_r, struct cs_error *err);

/* Raise the file's values to at least ceiling and uidvalidity (0: keep),
   durably; nothing is written when both are already there.  Never lowers
   anything.  Returns 0 or -1. */
int cs_hwm_raise(const char *path, uint64_t ceiling, uint32_t uidvalidity,
		 struct cs_error *err);

#endif
