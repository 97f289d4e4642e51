/*
 * cs-keywords.c - the dovecot-keywords file of a mailbox, which names the
 * keyword letters a..z (see cs-name.h).  Read only; never written.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs-file.h"
#include "cs-name.h"

/* One line "N name": store the name for letter 'a'+N.  Bad lines are
   ignored, as Dovecot does. */
static void keywords_parse_line(char *line, struct cs_keywords *kw)
{
	char *end, *name;
	long idx;

	line[strcspn(line, "\r\n")] = '\0';
	idx = strtol(line, &end, 10);
	if (end == line || *end != ' ' || idx < 0 || idx >= 26)
		return;
	name = end + 1;
	if (*name == '\0' || strlen(name) > 200 || kw->names[idx] != NULL)
		return;
	kw->names[idx] = strdup(name);
}

int cs_keywords_read(const char *mailbox_dir, struct cs_keywords *kw_r,
		     struct cs_error *err)
{
	char path[PATH_MAX], *line = NULL;
	size_t line_size = 0;
	FILE *fp;
	int ret;

	memset(kw_r, 0, sizeof(*kw_r));
	ret = cs_file_open_read_in(mailbox_dir, "dovecot-keywords", path, sizeof(path),
				   &fp, err);
	if (ret <= 0)
		return ret;
	while (getline(&line, &line_size, fp) > 0)
		keywords_parse_line(line, kw_r);
	free(line);
	fclose(fp);
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
