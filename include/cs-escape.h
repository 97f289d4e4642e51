/*
 * cs-escape.h - showing names and text that did not come from us (file
 * names, folder names, keyword names a user wrote): every caller that
 * prints such text goes through these, so that it can neither forge an
 * output line nor reach a terminal or a log reader as control bytes.
 */
#ifndef CS_ESCAPE_H
#define CS_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>

/* Is str an IMAP atom (RFC 3501: at least one byte, no atom-specials
   "(){ %*\"\\]", no control characters, no 8-bit bytes)? */
bool cs_imap_is_atom(const char *str);

/* Copy str into buf (size bytes, always NUL-terminated, truncated if it
   does not fit) with every control character (0x01-0x1f, 0x7f) written
   as \xHH: one log line stays one line.  Returns buf. */
char *cs_escape_log(const char *str, char *buf, size_t size);

#endif
