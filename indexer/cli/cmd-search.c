/*
 * cmd-search.c - "condstore search --modseq": the UIDs of messages whose
 * modseq is at least N (RFC 7162 SEARCH MODSEQ).
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

static void search_print(const struct cli_msgs *list)
{
	uint64_t highest = 0;
	size_t i;

	fputs("* SEARCH", stdout);
	for (i = 0; i < list->count; i++) {
		printf(" %u", list->msgs[i].uid);
		if (list->msgs[i].modseq > highest)
			highest = list->msgs[i].modseq;
	}
	/* RFC 7162 3.1.5: the highest modseq of the messages found, and no
	   MODSEQ at all when nothing matched */
	if (list->count > 0)
		printf(" (MODSEQ %llu)", (unsigned long long)highest);
	putchar('\n');
}

static int search_modseq(struct cli_mailbox *mbox, uint64_t modseq)
{
	struct cli_msgs list = { 0 };

	if (cli_changes_since(mbox, modseq > 0 ? modseq - 1 : 0,
			      cli_msgs_add_cb, &list) < 0) {
		cli_msgs_free(&list);
		return -1;
	}
	cli_msgs_sort(&list);
	search_print(&list);
	cli_msgs_free(&list);
	return 0;
}

static int search_run(struct cli_mailbox *mbox, void *ctx)
{
	const uint64_t *modseq = ctx;

	return search_modseq(mbox, *modseq) == 0 ?
		CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int cmd_search(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "modseq", .has_arg = true },
		{ .name = NULL }
	};
	uint64_t modseq;

	if (cli_args_parse(g, &cli_cmd_search, argc, argv, opts, 1, 1) < 0)
		return CLI_EXIT_ERROR;
	if (cli_required_modseq(g, &cli_cmd_search, &opts[0], &modseq) < 0)
		return CLI_EXIT_ERROR;
	return cli_mailbox_run(g, true, argv[1], search_run, &modseq);
}

const struct cli_command cli_cmd_search = {
	.name = "search",
	.summary = "find the messages whose MODSEQ is at least N",
	.usage = "MAILBOX --modseq N",
	.help =
"Prints the UIDs of the messages of MAILBOX whose MODSEQ is greater than\n"
"or equal to N (RFC 7162 SEARCH MODSEQ), in UID order, followed by the\n"
"highest MODSEQ among them; without matches only \"* SEARCH\":\n"
"  * SEARCH 2 3 (MODSEQ 8)\n"
"\n"
"  --modseq N   the lowest MODSEQ to match (required)\n",
	.run = cmd_search,
};
