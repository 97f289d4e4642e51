/*
 * cli-names.c - lists of mailbox names: from the command line or the
 * index, in the order the commands print them (INBOX first).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cli_names_add(struct cli_names *names, const char *name)
{
	char *copy;

	if (cs_array_grow(&names->names, sizeof(*names->names), names->count,
			  &names->alloc, 16) < 0)
		return -1;
	copy = strdup(name);
	if (copy == NULL)
		return -1;
	names->names[names->count++] = copy;
	return 0;
}

static int cli_names_cmp(const void *p1, const void *p2)
{
	const char *n1 = *(char *const *)p1, *n2 = *(char *const *)p2;
	bool inbox1 = strcmp(n1, "INBOX") == 0;
	bool inbox2 = strcmp(n2, "INBOX") == 0;

	if (inbox1 != inbox2)
		return inbox1 ? -1 : 1;
	return strcmp(n1, n2);
}

bool cli_names_contain(const struct cli_names *names, const char *name)
{
	size_t i;

	for (i = 0; i < names->count; i++) {
		if (strcmp(names->names[i], name) == 0)
			return true;
	}
	return false;
}

int cli_names_from_args(const struct cli_global *g, int argc, char **argv,
			struct cli_names *names_r)
{
	struct cs_error err;
	int i;

	memset(names_r, 0, sizeof(*names_r));
	for (i = 0; i < argc; i++) {
		if (cs_mailbox_name_check(argv[i], &err) < 0) {
			cli_error_cs(g, &err);
			cli_names_free(names_r);
			return -1;
		}
		if (cli_names_contain(names_r, argv[i]))
			continue;
		if (cli_names_add(names_r, argv[i]) < 0) {
			cli_error(g, "out of memory");
			cli_names_free(names_r);
			return -1;
		}
	}
	return 0;
}

int cli_names_from_index(const struct cli_global *g, struct cs_index *index,
			 struct cli_names *names_r)
{
	struct cs_error err;

	memset(names_r, 0, sizeof(*names_r));
	if (cs_mailbox_names(index, &names_r->names, &names_r->count,
			     &err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	names_r->alloc = names_r->count + 1;
	/* qsort's pointer must be valid even for no element */
	if (names_r->count > 1)
		qsort(names_r->names, names_r->count,
		      sizeof(*names_r->names), cli_names_cmp);
	return 0;
}

void cli_names_free(struct cli_names *names)
{
	size_t i;

	for (i = 0; i < names->count; i++)
		free(names->names[i]);
	free(names->names);
	memset(names, 0, sizeof(*names));
}
