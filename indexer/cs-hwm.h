/*
 * cs-hwm.h - the high-water-mark file beside the tdb (internal).
 *
 * DB_PATH.hwm holds one line "maildir-condstore-hwm 1 CEILING\n".  Every
 * modseq ever issued from the tdb is below CEILING.  It is rewritten (a
 * temporary file, fsync, rename, fsync of the directory) before the first
 * modseq at or above the old ceiling is handed out, so it survives the
 * loss of the tdb; seeding a counter from it can never reuse a modseq.
 */
#ifndef CS_HWM_H
#define CS_HWM_H

#include <stdint.h>

#include "cs-error.h"

/* Returns 1 and *ceiling_r, 0 if the file does not exist, -1 on error
   (unreadable or damaged: the caller must not trust a smaller value). */
int cs_hwm_read(const char *path, uint64_t *ceiling_r, struct cs_error *err);

/* Durably replace the file with ceiling.  Returns 0 or -1. */
int cs_hwm_write(const char *path, uint64_t ceiling, struct cs_error *err);

#endif
