/*
 * cs-uidlist.c - reading Dovecot's dovecot-uidlist (never writing it).
 *
 * Version 3 (Dovecot 1.1 and later):
 *   3 V<uidvalidity> N<next uid> [G<guid>] [other fields]
 *   <uid> [<extension fields>] :<file name>
 * Version 1:
 *   1 <uidvalidity> <next uid>
 *   <uid> <file name>
 * The file name may carry an info part; the base name is what identifies
 * the message.  Damaged lines are skipped, as Dovecot would rebuild them,
 * and so are lines whose UID is not above the one before (Dovecot writes
 * them in ascending order): a duplicate UID never takes over a message.
 * A header without a UIDVALIDITY (or with 0) or a next UID, or cut short,
 * makes the file unusable; so does a file or a line beyond the bounds in
 * cs-maildir.h (the file is then not read at all).
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs-file.h"
#include "cs-lines.h"
#include "cs-maildir.h"

static int parse_u32(const char *p, char **end_r, uint32_t *value_r)
{
	unsigned long v;

	if (*p < '0' || *p > '9')
		return -1;
	v = strtoul(p, end_r, 10);
	if (v > UINT32_MAX)
		return -1;
	*value_r = (uint32_t)v;
	return 0;
}

static int parse_header(char *line, struct cs_uidlist_header *hdr)
{
	char *p = line, *end;
	bool have_next = false;

	memset(hdr, 0, sizeof(*hdr));
	if (line[0] == '1' && line[1] == ' ') {
		hdr->version = 1;
		if (parse_u32(line + 2, &end, &hdr->uidvalidity) < 0 ||
		    *end != ' ' || parse_u32(end + 1, &end, &hdr->next_uid) < 0)
			return -1;
		return hdr->uidvalidity != 0 && hdr->next_uid != 0 ? 0 : -1;
	}
	if (line[0] != '3' || line[1] != ' ')
		return -1;
	hdr->version = 3;
	for (p = line + 2; *p != '\0'; ) {
		if (*p == 'V' && parse_u32(p + 1, &end, &hdr->uidvalidity) == 0)
			p = end;
		else if (*p == 'N' && parse_u32(p + 1, &end,
						&hdr->next_uid) == 0) {
			p = end;
			have_next = true;
		}
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	/* UIDVALIDITY 0 is not valid in IMAP; Dovecot always writes N */
	return hdr->uidvalidity != 0 && have_next && hdr->next_uid != 0 ?
		0 : -1;
}

/* One record line; returns the callback's value, or 0 to skip. */
static int parse_record(char *line, unsigned int version, char sep,
			uint32_t *uid_r, const char **name_r, size_t *len_r)
{
	uint32_t uid;
	char *end, *name;
	size_t len;

	if (parse_u32(line, &end, &uid) < 0 || uid == 0 || *end != ' ')
		return -1;
	if (version == 3) {
		name = strstr(end, " :");
		if (name == NULL)
			return -1;
		name += 2;
	} else {
		name = end + 1;
	}
	len = strcspn(name, (char[]){ sep, '\0' });
	if (len == 0 || len > 255 || memchr(name, '/', len) != NULL)
		return -1;
	*uid_r = uid;
	*name_r = name;
	*len_r = len;
	return 0;
}

struct uidlist_read {
	const char *path;
	char sep;
	struct cs_uidlist_header *hdr;
	bool have_header;
	uint32_t last_uid;
	cs_uidlist_cb *cb;
	void *ctx;
	struct cs_error *err;
};

static int uidlist_line(void *ctx, char *line, size_t len, bool complete)
{
	struct uidlist_read *r = ctx;
	const char *name;
	size_t name_len;
	uint32_t uid;

	if (!r->have_header) {
		/* a header cut short (no newline) may have lost fields */
		if (!complete || strlen(line) != len ||
		    parse_header(line, r->hdr) < 0)
			return cs_error_set(r->err, CS_ERR_INVALID,
				"%s: not a dovecot-uidlist I can read (bad "
				"or truncated header)", r->path);
		r->have_header = true;
		return 0;
	}
	/* damaged lines are skipped (Dovecot rebuilds them); UIDs only go
	   up in the file, so a UID not above the one before it is damage
	   too, and never overrides the message that has it */
	if (!complete || strlen(line) != len ||
	    parse_record(line, r->hdr->version, r->sep, &uid, &name,
			 &name_len) < 0 || uid <= r->last_uid) {
		r->hdr->skipped++;
		return 0;
	}
	r->last_uid = uid;
	if (r->cb(r->ctx, uid, name, name_len) != 0) {
		if (r->err != NULL && r->err->code == CS_OK)
			cs_error_set(r->err, CS_ERR_IO, "out of memory");
		return -1;
	}
	return 0;
}

int cs_uidlist_read(const char *mailbox_dir, char sep,
		    struct cs_uidlist_header *hdr_r, cs_uidlist_cb *cb,
		    void *ctx, struct cs_error *err)
{
	char path[PATH_MAX];
	struct uidlist_read r = {
		.path = path, .sep = sep, .hdr = hdr_r, .cb = cb, .ctx = ctx,
		.err = err
	};
	FILE *fp;
	int ret;

	memset(hdr_r, 0, sizeof(*hdr_r));
	if (err != NULL)
		cs_error_clear(err);
	ret = cs_file_open_read_in(mailbox_dir, "dovecot-uidlist", path,
				   sizeof(path), &fp, err);
	if (ret <= 0)
		return ret;
	ret = cs_lines_read(fp, path, CS_UIDLIST_MAX_LINE, CS_UIDLIST_MAX_SIZE,
			    uidlist_line, &r, err);
	fclose(fp);
	if (ret == 0 && !r.have_header)
		ret = cs_error_set(err, CS_ERR_INVALID, "%s: not a "
				   "dovecot-uidlist I can read (empty)", path);
	return ret < 0 ? -1 : 1;
}
