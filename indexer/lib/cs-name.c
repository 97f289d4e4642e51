/*
 * cs-name.c - Maildir file names: splitting base name and info, flag
 * letters, and the suffix a renamed file gets (see cs-name.h).
 *
 * Every name is hostile until proven otherwise: lengths are checked before
 * anything is copied, nothing is assumed about the bytes (non-UTF-8 is
 * fine), and whatever is not understood is kept verbatim in the suffix.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cs-name.h"

static bool is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Flag letters of a "2," info: up to the next ',' or the end.  Sets *odd
   for anything but strictly ascending letters. */
static uint64_t parse_flag_letters(const char *p, bool *odd)
{
	uint64_t flags = 0;
	unsigned char prev = 0;

	for (; *p != '\0' && *p != ','; p++) {
		unsigned char c = (unsigned char)*p;

		if (!is_letter(c)) {
			*odd = true;
			continue;
		}
		if (c <= prev)
			*odd = true;
		prev = c;
		flags |= CS_FLAG_BIT(c);
	}
	return flags;
}

int cs_name_parse(const char *filename, char sep, struct cs_name *name_r,
		  struct cs_error *err)
{
	size_t len = strnlen(filename, CS_NAME_MAX + 1);
	const char *p;

	memset(name_r, 0, sizeof(*name_r));
	if (len == 0)
		return cs_error_set(err, CS_ERR_INVALID, "empty file name");
	if (len > CS_NAME_MAX)
		return cs_error_set(err, CS_ERR_INVALID,
				    "file name longer than %d bytes",
				    CS_NAME_MAX);
	if (filename[0] == '.')
		return cs_error_set(err, CS_ERR_INVALID,
				    "file name starts with '.'");
	if (memchr(filename, '/', len) != NULL)
		return cs_error_set(err, CS_ERR_INVALID,
				    "file name contains '/'");

	p = memchr(filename, sep, len);
	if (p == filename)
		return cs_error_set(err, CS_ERR_INVALID,
				    "file name has an empty base name");
	name_r->base = filename;
	if (p == NULL) {
		name_r->base_len = len;
		name_r->suffix = filename + len;
		return 0;
	}
	name_r->base_len = (size_t)(p - filename);
	name_r->suffix = p;
	name_r->has_info = true;
	if (p[1] == '2' && p[2] == ',') {
		name_r->info_v2 = true;
		name_r->flags = parse_flag_letters(p + 3, &name_r->odd);
	}
	return 0;
}

char *cs_flags_to_letters(uint64_t flags, char *buf)
{
	char *p = buf;
	char c;

	/* ASCII order: upper case before lower case */
	for (c = 'A'; c <= 'Z'; c++) {
		if ((flags & CS_FLAG_BIT(c)) != 0)
			*p++ = c;
	}
	for (c = 'a'; c <= 'z'; c++) {
		if ((flags & CS_FLAG_BIT(c)) != 0)
			*p++ = c;
	}
	*p = '\0';
	return buf;
}

uint64_t cs_flags_from_letters(const char *letters)
{
	uint64_t flags = 0;

	for (; *letters != '\0'; letters++)
		flags |= CS_FLAG_BIT((unsigned char)*letters);
	return flags;
}

int cs_suffix_with_flags(const char *old_suffix, char sep, uint64_t flags,
			 char *buf, size_t size, struct cs_error *err)
{
	char letters[CS_FLAGS_STR_SIZE], kept[CS_NAME_MAX + 1];
	const char *tail = "";
	size_t nkept = 0;
	int ret;

	if (old_suffix[0] == sep && old_suffix[1] == '2' &&
	    old_suffix[2] == ',') {
		/* keep non-letters of the flag area and any ",ext" after it */
		const char *p = old_suffix + 3;

		for (; *p != '\0' && *p != ','; p++) {
			if (!is_letter((unsigned char)*p) &&
			    nkept < sizeof(kept) - 1)
				kept[nkept++] = *p;
		}
		tail = p;
	}
	kept[nkept] = '\0';
	ret = snprintf(buf, size, "%c2,%s%s%s", sep,
		       cs_flags_to_letters(flags, letters), kept, tail);
	if (ret < 0 || (size_t)ret >= size)
		return cs_error_set(err, CS_ERR_INVALID,
				    "file name with flags %s is too long",
				    letters);
	return 0;
}

/* The six flags IMAP names, in the order they are printed. */
static const struct {
	char letter;
	const char *imap;
} system_flags[] = {
	{ 'R', "\\Answered" },
	{ 'F', "\\Flagged" },
	{ 'T', "\\Deleted" },
	{ 'S', "\\Seen" },
	{ 'D', "\\Draft" },
	{ 'P', "$Forwarded" },
};
#define N_SYSTEM_FLAGS (sizeof(system_flags) / sizeof(system_flags[0]))

const char *cs_flag_imap_name(char letter)
{
	size_t i;

	for (i = 0; i < N_SYSTEM_FLAGS; i++) {
		if (system_flags[i].letter == letter)
			return system_flags[i].imap;
	}
	return NULL;
}

char cs_flag_from_imap_name(const char *name)
{
	size_t i;

	for (i = 0; i < N_SYSTEM_FLAGS; i++) {
		if (strcasecmp(system_flags[i].imap, name) == 0)
			return system_flags[i].letter;
	}
	return 0;
}

/* Append word (with a separating space) to buf at *pos. */
static int append_word(char *buf, size_t size, size_t *pos, const char *word)
{
	int ret = snprintf(buf + *pos, size - *pos, "%s%s",
			   *pos == 0 ? "" : " ", word);

	if (ret < 0 || (size_t)ret >= size - *pos)
		return -1;
	*pos += (size_t)ret;
	return 0;
}

int cs_flags_to_imap(uint64_t flags, const struct cs_keywords *kw,
		     char *buf, size_t size)
{
	size_t i, pos = 0;
	char c, unnamed[8];

	if (size == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < N_SYSTEM_FLAGS; i++) {
		if ((flags & CS_FLAG_BIT(system_flags[i].letter)) != 0 &&
		    append_word(buf, size, &pos, system_flags[i].imap) < 0)
			return -1;
	}
	for (c = 'a'; c <= 'z'; c++) {
		const char *name = kw == NULL ? NULL : kw->names[c - 'a'];

		if ((flags & CS_FLAG_BIT(c)) == 0)
			continue;
		if (name == NULL) {
			snprintf(unnamed, sizeof(unnamed), "$kw_%c", c);
			name = unnamed;
		}
		if (append_word(buf, size, &pos, name) < 0)
			return -1;
	}
	return 0;
}

/* The letter for one IMAP flag word, or 0. */
static char flag_word_letter(const char *word, const struct cs_keywords *kw)
{
	char letter;

	if (word[0] == '\\' || word[0] == '$') {
		letter = cs_flag_from_imap_name(word);
		if (letter != 0)
			return letter;
	}
	if (strncmp(word, "$kw_", 4) == 0 && word[4] >= 'a' &&
	    word[4] <= 'z' && word[5] == '\0')
		return word[4];
	return kw == NULL ? 0 : cs_keywords_letter(kw, word);
}

int cs_flags_from_imap(const char *list, const struct cs_keywords *kw,
		       uint64_t *flags_r, struct cs_error *err)
{
	char word[256];
	const char *p = list, *end;
	size_t len;

	*flags_r = 0;
	while (*p == ' ')
		p++;
	end = p + strlen(p);
	if (*p == '(') {
		while (end > p && end[-1] == ' ')
			end--;
		if (end == p + 1 || end[-1] != ')')
			return cs_error_set(err, CS_ERR_INVALID,
					    "flag list '%s': missing ')'",
					    list);
		p++;
		end--;
	}
	while (p < end) {
		const char *sp;
		char letter;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		sp = memchr(p, ' ', (size_t)(end - p));
		len = (size_t)((sp == NULL ? end : sp) - p);
		if (len >= sizeof(word))
			return cs_error_set(err, CS_ERR_INVALID,
					    "flag name too long in '%s'", list);
		memcpy(word, p, len);
		word[len] = '\0';
		letter = flag_word_letter(word, kw);
		if (letter == 0)
			return cs_error_set(err, CS_ERR_INVALID,
				"flag %s can't be stored in a Maildir file name"
				" (not a system flag, and not a keyword in "
				"dovecot-keywords)", word);
		*flags_r |= CS_FLAG_BIT((unsigned char)letter);
		p += len;
	}
	return 0;
}
