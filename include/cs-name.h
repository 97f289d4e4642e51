/*
 * cs-name.h - Maildir file names: base name, info part and flags.
 *
 * A Maildir file name is "BASE" or "BASE<sep>INFO", where <sep> is the info
 * separator (':' by default; some systems use ';' or '!').  When INFO starts
 * with "2," the letters after the comma are the message's flags.  The base
 * name is the message's identity inside its mailbox; everything after it
 * (the separator and the info) is kept verbatim in the index as the
 * "suffix", so that nothing a file name carries is ever lost, including
 * letters this library does not know and "1," experimental info.
 *
 * Flags are a 64-bit set with one bit per ASCII letter: 'A'..'Z' are bits
 * 0..25 and 'a'..'z' bits 26..51.  Upper-case letters are Maildir's system
 * flags (the six standard ones are named below; others are kept as they
 * are), lower-case letters are keywords, named through the mailbox's
 * dovecot-keywords file (cs-keywords below).
 */
#ifndef CS_NAME_H
#define CS_NAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-error.h"

#define CS_FLAG_BIT(c) \
	((c) >= 'A' && (c) <= 'Z' ? (UINT64_C(1) << ((c) - 'A')) : \
	 (c) >= 'a' && (c) <= 'z' ? (UINT64_C(1) << (26 + (c) - 'a')) : 0)

#define CS_FLAG_FORWARDED	CS_FLAG_BIT('P')	/* $Forwarded */
#define CS_FLAG_ANSWERED	CS_FLAG_BIT('R')	/* \Answered */
#define CS_FLAG_SEEN		CS_FLAG_BIT('S')	/* \Seen */
#define CS_FLAG_DELETED		CS_FLAG_BIT('T')	/* \Deleted */
#define CS_FLAG_DRAFT		CS_FLAG_BIT('D')	/* \Draft */
#define CS_FLAG_FLAGGED		CS_FLAG_BIT('F')	/* \Flagged */
#define CS_FLAGS_KEYWORDS	(((UINT64_C(1) << 26) - 1) << 26)
#define CS_FLAGS_ALL		((UINT64_C(1) << 52) - 1)

/* Longest file name accepted (NAME_MAX on Linux). */
#define CS_NAME_MAX 255
/* Room for a flags string: 52 letters and a NUL. */
#define CS_FLAGS_STR_SIZE 53

/* A parsed file name.  The pointers point into the parsed string. */
struct cs_name {
	const char *base;	/* the base name (not NUL-terminated) */
	size_t base_len;
	const char *suffix;	/* separator and info, or "" (NUL-terminated) */
	bool has_info;		/* a separator was present */
	bool info_v2;		/* the info starts with "2," */
	uint64_t flags;		/* letters after "2,", when info_v2 */
	bool odd;		/* unsorted, duplicate or non-letter flags */
};

/* Parse a file name found in new/ or cur/.  Returns 0 and fills name_r, or
   -1 (CS_ERR_INVALID) for names that can't be messages: empty, longer than
   CS_NAME_MAX, starting with '.', containing '/' or a NUL, or with an empty
   base name. */
int cs_name_parse(const char *filename, char sep, struct cs_name *name_r,
		  struct cs_error *err);

/* Write the flags as Maildir letters in ASCII order into buf (at least
   CS_FLAGS_STR_SIZE bytes).  Returns buf. */
char *cs_flags_to_letters(uint64_t flags, char *buf);

/* Parse a letter string into a flag set; characters that are not ASCII
   letters are ignored. */
uint64_t cs_flags_from_letters(const char *letters);

/* Build the suffix a file should carry for flags, given the suffix it has
   now: "<sep>2,<letters>".  Non-letter characters after "2," in the old
   suffix are kept (after the letters), other info ("1,...") is replaced.
   Returns 0, or -1 if it does not fit in size bytes. */
int cs_suffix_with_flags(const char *old_suffix, char sep, uint64_t flags,
			 char *buf, size_t size, struct cs_error *err);

/* IMAP names of system flags.  cs_flag_imap_name returns "\\Seen",
   "$Forwarded" etc. for the six standard letters, NULL for others. */
const char *cs_flag_imap_name(char letter);
/* The letter for an IMAP system flag name (case-insensitive), or 0. */
char cs_flag_from_imap_name(const char *name);

/* --- keywords: the dovecot-keywords file of a mailbox ---
   Lines "N name" give keyword N the letter 'a'+N (N in 0..25). */
struct cs_keywords {
	char *names[26];	/* NULL where not defined */
};

/* Bounds: longer names are ignored; a longer line or a larger file makes
   the file unusable. */
#define CS_KEYWORD_MAX 200
#define CS_KEYWORDS_MAX_LINE 1024
#define CS_KEYWORDS_MAX_SIZE (64 * 1024)
/* Read DIR/dovecot-keywords.  A missing file gives an empty table and
   returns 0; an unreadable one, or one beyond the bounds (CS_ERR_LIMIT),
   returns -1 with an empty table.  Symlinks are not followed. */
int cs_keywords_read(const char *mailbox_dir, struct cs_keywords *kw_r,
		     struct cs_error *err);
void cs_keywords_free(struct cs_keywords *kw);
/* The letter for a keyword name, or 0 if it has none. */
char cs_keywords_letter(const struct cs_keywords *kw, const char *name);

/* Format flags as an IMAP flag list without the parentheses, e.g.
   "\\Seen \\Flagged $Forwarded work"; keyword letters without a name are
   written as "$kw_<letter>"; unknown upper-case letters are skipped.
   Returns 0, or -1 if it does not fit. */
int cs_flags_to_imap(uint64_t flags, const struct cs_keywords *kw,
		     char *buf, size_t size);

/* Parse an IMAP flag list ("(\\Seen foo)" or "\\Seen foo") into a flag
   set.  Returns 0, or -1 (CS_ERR_INVALID) naming the flag that has no
   letter (\\Recent, or a keyword missing from dovecot-keywords). */
int cs_flags_from_imap(const char *list, const struct cs_keywords *kw,
		       uint64_t *flags_r, struct cs_error *err);

#endif
