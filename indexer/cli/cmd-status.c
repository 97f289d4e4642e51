/*
 * cmd-status.c - "condstore status": the STATUS of mailboxes, with
 * HIGHESTMODSEQ.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

static int status_mailbox(const struct cli_global *g, struct cs_index *index,
			  const char *name)
{
	const struct cs_mailbox_rec *rec;
	struct cli_mailbox mbox;

	if (cli_mailbox_open(g, index, name, &mbox) < 0)
		return -1;
	rec = cs_mailbox_get_rec(mbox.box);
	fputs("* STATUS ", stdout);
	cli_print_astring(name);
	printf(" (MESSAGES %u UIDNEXT %u UIDVALIDITY %u HIGHESTMODSEQ %llu)\n",
	       rec->messages, rec->uidnext, rec->uidvalidity,
	       (unsigned long long)rec->highestmodseq);
	cli_mailbox_close(&mbox);
	return 0;
}

static int cmd_status(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = { { .name = NULL } };
	struct cs_index *index = NULL;
	struct cli_names names;
	size_t i;
	int npos, ret = CLI_EXIT_OK;

	npos = cli_args_parse(g, &cli_cmd_status, argc, argv, opts, 0, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	if (npos > 0 && cli_names_from_args(g, npos, argv + 1, &names) < 0)
		return CLI_EXIT_ERROR;
	if (cli_index_open(g, true, &index) < 0) {
		if (npos > 0)
			cli_names_free(&names);
		return CLI_EXIT_ERROR;
	}
	if (npos == 0 && cli_names_from_index(g, index, &names) < 0) {
		cs_index_close(&index);
		return CLI_EXIT_ERROR;
	}
	for (i = 0; i < names.count; i++) {
		if (status_mailbox(g, index, names.names[i]) < 0)
			ret = CLI_EXIT_ERROR;
	}
	cli_names_free(&names);
	cs_index_close(&index);
	return ret;
}

const struct cli_command cli_cmd_status = {
	.name = "status",
	.summary = "print MESSAGES, UIDNEXT, UIDVALIDITY and HIGHESTMODSEQ",
	.usage = "[MAILBOX...]",
	.help =
"Prints one line per MAILBOX (default: every mailbox of the index,\n"
"INBOX first), as the index has it:\n"
"  * STATUS INBOX (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 1700000000 "
"HIGHESTMODSEQ 9)\n"
"Run \"condstore reindex\" first for figures that match the disk.\n",
	.run = cmd_status,
};
