/*
 * cmd-vanished.c - "condstore vanished": the UIDs expunged since a modseq
 * (RFC 7162 VANISHED).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int vanished_cb(void *ctx, uint32_t uid, uint64_t modseq ATTR_UNUSED)
{
	return cs_uidset_add(ctx, uid) < 0 ? -1 : 0;
}

static int vanished_print(struct cli_mailbox *mbox, uint64_t since)
{
	struct cs_uidset uids;
	struct cs_error err;
	char *text;
	int ret = -1;

	cs_uidset_init(&uids);
	cs_error_clear(&err);
	if (cs_expunges_since(mbox->box, since, vanished_cb, &uids,
			      &err) < 0) {
		if (err.code == CS_OK)
			cli_error(mbox->g, "out of memory");
		else
			cli_error(mbox->g, "%s: %s", mbox->name, err.text);
	} else if (uids.count == 0) {
		ret = 0;
	} else if ((text = cs_uidset_format_alloc(&uids)) == NULL) {
		cli_error(mbox->g, "out of memory");
	} else {
		printf("* VANISHED %s\n", text);
		free(text);
		ret = 0;
	}
	cs_uidset_free(&uids);
	return ret;
}

static int vanished_run(struct cli_mailbox *mbox, void *ctx)
{
	const uint64_t *since = ctx;

	return vanished_print(mbox, *since) == 0 ?
		CLI_EXIT_OK : CLI_EXIT_ERROR;
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
"When MODSEQ is older than the tombstones kept (the mailbox's horizon)\n"
"the answer would be incomplete: that is an error (exit status 2).\n"
"\n"
"  --since MODSEQ   the MODSEQ the caller last knew (required)\n",
	.run = cmd_vanished,
};
