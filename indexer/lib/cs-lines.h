/*
 * cs-lines.h - reading a small text file a user controls (dovecot-uidlist,
 * dovecot-keywords) line by line within fixed bounds (internal).
 *
 * The file is refused as a whole (CS_ERR_LIMIT, the message naming the
 * file and the bound) when it is larger than max_size (checked with fstat
 * before anything is read, and again while reading) or when a line is
 * longer than max_line; memory is one buffer of max_line bytes whatever
 * the file holds.
 */
#ifndef CS_LINES_H
#define CS_LINES_H

#include <stdbool.h>
#include <stdio.h>

#include "cs-error.h"

/* One line without its newline, NUL-terminated (it may hold other NULs:
   len is its length); complete is false for a last line without a
   newline.  Return 0 to go on, anything else to stop (then returned). */
typedef int cs_line_cb(void *ctx, char *line, size_t len, bool complete);

/* Call cb for each line of fp (path names it in messages).  Returns cb's
   non-zero value, 0 at the end, or -1 with err. */
int cs_lines_read(FILE *fp, const char *path, size_t max_line,
		  size_t max_size, cs_line_cb *cb, void *ctx,
		  struct cs_error *err);

#endif
