/*
 * cs-error.h - error reporting for the maildir-condstore library.
 *
 * The library never exits and never prints.  A call that can fail takes a
 * "struct cs_error *err" as its last parameter (which may be NULL when the
 * caller does not care) and returns -1 after filling it in.  The text names
 * the file concerned and the reason, ready to be logged as it is.
 */
#ifndef CS_ERROR_H
#define CS_ERROR_H

#include <stdarg.h>

enum cs_error_code {
	CS_OK = 0,
	CS_ERR_IO,		/* a system call failed; errno is in sys_errno */
	CS_ERR_CORRUPT,		/* the tdb or a record in it is damaged */
	CS_ERR_INVALID,		/* bad input: a name, a mailbox, a UID set */
	CS_ERR_SYMLINK,		/* a symlink where a file or folder was expected */
	CS_ERR_NOTFOUND,	/* a mailbox or a message does not exist */
	CS_ERR_BUSY,		/* a lock could not be taken */
	CS_ERR_LIMIT,		/* a hard limit (modseq space, tdb size) reached */
	CS_ERR_TIMEOUT		/* a bounded wait ran out (cs_sync_wait) */
};

struct cs_error {
	enum cs_error_code code;
	int sys_errno;		/* errno at the time of a CS_ERR_IO, else 0 */
	char text[1024];
};

/* Clear err (sets code CS_OK and an empty text).  err may be NULL. */
void cs_error_clear(struct cs_error *err);

/* Fill err with code and a printf-style message; err may be NULL.
   Always returns -1 so that callers can write "return cs_error_set(...)". */
int cs_error_set(struct cs_error *err, enum cs_error_code code,
		 const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As cs_error_set(CS_ERR_IO, ...), appending ": strerror(errno)" and
   recording errno.  Returns -1. */
int cs_error_sys(struct cs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
