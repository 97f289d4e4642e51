/*
 * cs-keywords.c - the dovecot-keywords file of a mailbox, which names the
 * keyword letters a..z (see cs-name.h).  Read only; never written; a
 * file or a line beyond the bounds in cs-name.h is refused as a whole.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs-escape.h"
#include "cs-file.h"
#include "cs-lines.h"
#include "cs-name.h"

/* One line "N name": store the name for letter 'a'+N.  Bad lines are
   ignored, as Dovecot does. */
static int keywords_line(void *ctx, char *line, size_t len, bool complete)
{
	struct cs_keywords *kw = ctx;
	char *end, *name;
	long idx;

	(void)complete;
	if (strlen(line) != len)
		return 0;
	line[strcspn(line, "\r")] = '\0';
	idx = strtol(line, &end, 10);
	if (end == line || *end != ' ' || idx < 0 || idx >= 26)
		return 0;
	name = end + 1;
	/* a keyword is an IMAP atom (it can't be quoted in a flag list),
	   and \Seen and the like are system flags, not keywords: such a
	   name is ignored, and its letter has none */
	if (!cs_imap_is_atom(name) || name[0] == '\\' ||
	    strlen(name) > CS_KEYWORD_MAX || kw->names[idx] != NULL)
		return 0;
	kw->names[idx] = strdup(name);
	return kw->names[idx] == NULL ? -1 : 0;
}

int cs_keywords_read(const char *mailbox_dir, struct cs_keywords *kw_r,
		     struct cs_error *err)
{
	char path[PATH_MAX];
	FILE *fp;
	int ret;

	memset(kw_r, 0, sizeof(*kw_r));
	ret = cs_file_open_read_in(mailbox_dir, "dovecot-keywords", path,
				   sizeof(path), &fp, err);
	if (ret <= 0)
		return ret;
	if (err != NULL)
		cs_error_clear(err);
	ret = cs_lines_read(fp, path, CS_KEYWORDS_MAX_LINE,
			    CS_KEYWORDS_MAX_SIZE, keywords_line, kw_r, err);
	fclose(fp);
	if (ret != 0) {
		if (err != NULL && err->code == CS_OK)
			cs_error_set(err, CS_ERR_IO, "out of memory");
		cs_keywords_free(kw_r);
		return -1;
	}
	return 0;
}

void cs_keywords_free(struct cs_keywords *kw)
{
	int i;

	for (i = 0; i < 26; i++) {
		free(kw->names[i]);
		kw->names[i] = NULL;
	}
}

char cs_keywords_letter(const struct cs_keywords *kw, const char *name)
{
	int i;

	for (i = 0; i < 26; i++) {
		if (kw->names[i] != NULL && strcasecmp(kw->names[i], name) == 0)
			return (char)('a' + i);
	}
	return 0;
}
