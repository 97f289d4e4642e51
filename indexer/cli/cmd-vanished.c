/*
 * cmd-vanished.c - "condstore vanished": the UIDs expunged since a modseq
 * (RFC 7162 VANISHED), and the VANISHED (EARLIER) line of
 * "condstore fetch --vanished".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cli_print_vanished(struct cli_mailbox *mbox, uint64_t since,
		       const struct cs_uidset *within, bool earlier)
{
	struct cs_uidset uids;
	struct cs_error err;
	uint64_t horizon;
	bool below;
	char *text;
	int ret = -1;

	cs_uidset_init(&uids);
	cs_error_clear(&err);
	if (cs_vanished(mbox->box, since, within, &uids, &below, &err) < 0 ||
	    cs_mailbox_horizon(mbox->box, &horizon, &err) < 0) {
		if (err.code == CS_OK)
			cli_error(mbox->g, "out of memory");
		else
			cli_error(mbox->g, "%s: %s", mbox->name, err.text);
	} else if (uids.count > 0 &&
		   (text = cs_uidset_format_alloc(&uids)) == NULL) {
		cli_error(mbox->g, "out of memory");
	} else {
		if (uids.count > 0) {
			printf("* VANISHED %s%s\n", earlier ? "(EARLIER) " : "",
			       text);
			free(text);
		}
		if (below) {
			cli_warn(mbox->g, "%s: MODSEQ %llu is below the "
				 "expunge horizon %llu: answered with every "
				 "UID below UIDNEXT that is not a message "
				 "(some may have gone before MODSEQ %llu)",
				 mbox->name, (unsigned long long)since,
				 (unsigned long long)horizon,
				 (unsigned long long)since);
		}
		ret = below ? 1 : 0;
	}
	cs_uidset_free(&uids);
	return ret;
}

static int vanished_run(struct cli_mailbox *mbox, void *ctx)
{
	const uint64_t *since = ctx;

	switch (cli_print_vanished(mbox, *since, NULL, false)) {
	case 0:
		return CLI_EXIT_OK;
	case 1:
		return CLI_EXIT_FAIL;
	default:
		return CLI_EXIT_ERROR;
	}
}

static int cmd_vanished(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "since", .has_arg = true },
		{ .name = NULL }
	};
	uint64_t since;

	if (cli_args_parse(g, &cli_cmd_vanished, argc, argv, opts, 1, 1) < 0)
		return CLI_EXIT_ERROR;
	if (cli_required_modseq(g, &cli_cmd_vanished, &opts[0], &since) < 0)
		return CLI_EXIT_ERROR;
	return cli_mailbox_run(g, true, argv[1], vanished_run, &since);
}

const struct cli_command cli_cmd_vanished = {
	.name = "vanished",
	.summary = "print the UIDs expunged since a MODSEQ",
	.usage = "MAILBOX --since MODSEQ",
	.help =
"Prints the UIDs of the messages of MAILBOX expunged with a MODSEQ\n"
"greater than MODSEQ, as an IMAP UID set, or nothing when there are none:\n"
"  * VANISHED 4,7:9\n"
"Expunges are known exactly from the mailbox's horizon on (where the\n"
"index began, raised when old tombstones are pruned).  When MODSEQ is\n"
"below it, every UID below UIDNEXT that is not a message is printed\n"
"(some may have gone before MODSEQ, as RFC 7162 allows), a warning says\n"
"so on stderr, and the exit status is 1.  Exit status 0: the answer is\n"
"exact; 2: an error.\n"
"\n"
"  --since MODSEQ   the MODSEQ the caller last knew (required)\n",
	.run = cmd_vanished,
};
