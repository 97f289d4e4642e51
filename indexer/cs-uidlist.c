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
 * the message.  Damaged lines are skipped, as Dovecot would rebuild them.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs-file.h"
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

	memset(hdr, 0, sizeof(*hdr));
	if (line[0] == '1' && line[1] == ' ') {
		hdr->version = 1;
		if (parse_u32(line + 2, &end, &hdr->uidvalidity) < 0 ||
		    *end != ' ' || parse_u32(end + 1, &end, &hdr->next_uid) < 0)
			return -1;
		return 0;
	}
	if (line[0] != '3' || line[1] != ' ')
		return -1;
	hdr->version = 3;
	for (p = line + 2; *p != '\0'; ) {
		if (*p == 'V' && parse_u32(p + 1, &end, &hdr->uidvalidity) == 0)
			p = end;
		else if (*p == 'N' && parse_u32(p + 1, &end, &hdr->next_uid) == 0)
			p = end;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return hdr->uidvalidity != 0 ? 0 : -1;
}

/* One record line; returns the callback's value, or 0 to skip. */
static int parse_record(char *line, unsigned int version, char sep,
			cs_uidlist_cb *cb, void *ctx)
{
	uint32_t uid;
	char *end, *name;
	size_t len;

	if (parse_u32(line, &end, &uid) < 0 || uid == 0 || *end != ' ')
		return 0;
	if (version == 3) {
		name = strstr(end, " :");
		if (name == NULL)
			return 0;
		name += 2;
	} else {
		name = end + 1;
	}
	len = strcspn(name, (char[]){ sep, '\0' });
	if (len == 0 || len > 255 || memchr(name, '/', len) != NULL)
		return 0;
	return cb(ctx, uid, name, len);
}

int cs_uidlist_read(const char *mailbox_dir, char sep,
		    struct cs_uidlist_header *hdr_r, cs_uidlist_cb *cb,
		    void *ctx, struct cs_error *err)
{
	char path[PATH_MAX], *line = NULL;
	size_t line_size = 0;
	ssize_t len;
	FILE *fp;
	int ret;

	ret = cs_file_open_read_in(mailbox_dir, "dovecot-uidlist", path, sizeof(path),
				   &fp, err);
	if (ret <= 0)
		return ret;
	len = getline(&line, &line_size, fp);
	if (len <= 0 || (line[strcspn(line, "\n")] = '\0',
			 parse_header(line, hdr_r) < 0)) {
		free(line);
		fclose(fp);
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: not a dovecot-uidlist I can read",
				    path);
	}
	ret = 0;
	while (ret == 0 && (len = getline(&line, &line_size, fp)) > 0) {
		line[strcspn(line, "\n")] = '\0';
		ret = parse_record(line, hdr_r->version, sep, cb, ctx);
	}
	free(line);
	fclose(fp);
	return ret < 0 ? -1 : 1;
}
