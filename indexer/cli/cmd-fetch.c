/*
 * cmd-fetch.c - "condstore fetch": UID, MODSEQ and FLAGS of messages, all
 * of them or only those changed since a modseq (CHANGEDSINCE).
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

/* Every message in uids, with sequence numbers counted over the whole
   mailbox: one pass over the index, no lookups per message. */
static int fetch_all(struct cli_mailbox *mbox, const struct cs_uidset *uids)
{
	struct cli_msgs list = { 0 };
	uint32_t star;
	size_t i;
	int ret = 0;

	if (cli_msgs_all(mbox, &list, &star) < 0)
		return -1;
	for (i = 0; i < list.count && ret == 0; i++) {
		if (cs_uidset_contains(uids, list.msgs[i].uid, star))
			ret = cli_print_fetch(mbox, &list.msgs[i], i + 1);
	}
	cli_msgs_free(&list);
	return ret;
}

struct fetch_changed_ctx {
	struct cli_msgs list;
	const struct cs_uidset *uids;
	uint32_t star;
};

static int fetch_changed_cb(void *ctx, const struct cs_message *msg,
			    struct cs_error *err)
{
	struct fetch_changed_ctx *fctx = ctx;

	if (!cs_uidset_contains(fctx->uids, msg->rec.uid, fctx->star))
		return 0;
	return cli_msgs_add_cb(&fctx->list, msg, err);
}

/* The messages in uids with modseq > since: O(changes) through the change
   log, then sorted by UID. */
static int fetch_changed(struct cli_mailbox *mbox,
			 const struct cs_uidset *uids, uint64_t since)
{
	struct fetch_changed_ctx ctx = { .uids = uids };
	int ret;

	if (cli_mailbox_max_uid(mbox, &ctx.star) < 0)
		return -1;
	if (cli_changes_since(mbox, since, fetch_changed_cb, &ctx) < 0) {
		cli_msgs_free(&ctx.list);
		return -1;
	}
	cli_msgs_sort(&ctx.list);
	ret = cli_print_fetch_list(mbox, &ctx.list);
	cli_msgs_free(&ctx.list);
	return ret;
}

struct fetch_args {
	struct cs_uidset uids;
	bool changed, vanished;
	uint64_t since;
};

static int fetch_run(struct cli_mailbox *mbox, void *ctx)
{
	struct fetch_args *args = ctx;
	int vanished = 0;

	/* as an IMAP server answers UID FETCH (CHANGEDSINCE n VANISHED):
	   the expunges first, then the changes */
	if (args->vanished) {
		vanished = cli_print_vanished(mbox, args->since, &args->uids,
					      true);
		if (vanished < 0)
			return CLI_EXIT_ERROR;
	}
	if ((args->changed ? fetch_changed(mbox, &args->uids, args->since) :
	     fetch_all(mbox, &args->uids)) < 0)
		return CLI_EXIT_ERROR;
	return vanished > 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int cmd_fetch(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "changedsince", .has_arg = true },
		{ .name = "vanished" },
		{ .name = NULL }
	};
	struct fetch_args args = { .changed = false };
	int npos, ret;

	npos = cli_args_parse(g, &cli_cmd_fetch, argc, argv, opts, 1, 2);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	args.changed = opts[0].seen;
	args.vanished = opts[1].seen;
	if (args.vanished && !args.changed) {
		cli_error(g, "fetch: --vanished needs --changedsince");
		return CLI_EXIT_ERROR;
	}
	if (args.changed &&
	    cli_parse_modseq(g, opts[0].name, opts[0].value, &args.since) < 0)
		return CLI_EXIT_ERROR;
	if (cli_parse_uidset(g, npos > 1 ? argv[2] : "1:*", &args.uids) < 0)
		return CLI_EXIT_ERROR;
	ret = cli_mailbox_run(g, true, argv[1], fetch_run, &args);
	cs_uidset_free(&args.uids);
	return ret;
}

const struct cli_command cli_cmd_fetch = {
	.name = "fetch",
	.summary = "print UID, MODSEQ and FLAGS of messages",
	.usage = "MAILBOX [UIDSET] [--changedsince MODSEQ [--vanished]]",
	.help =
"Prints one line per message of MAILBOX whose UID is in UIDSET (an IMAP\n"
"sequence set such as 1:5,9,12:*; default 1:*), in UID order:\n"
"  * 3 FETCH (UID 3 MODSEQ (7) FLAGS (\\Seen))\n"
"The leading number is the message sequence number.\n"
"\n"
"  --changedsince MODSEQ   only messages whose MODSEQ is greater than\n"
"                          MODSEQ (RFC 7162 CHANGEDSINCE); the cost\n"
"                          follows the number of changes, not the size\n"
"                          of the mailbox\n"
"  --vanished              with --changedsince: first print the UIDs of\n"
"                          UIDSET expunged since MODSEQ, as an IMAP\n"
"                          server answers (CHANGEDSINCE n VANISHED):\n"
"                            * VANISHED (EARLIER) 4,7:9\n"
"                          below the mailbox's horizon: every UID below\n"
"                          UIDNEXT that is not a message, a warning, and\n"
"                          exit status 1 (see vanished)\n",
	.run = cmd_fetch,
};
