/*
 * cmd-store.c - "condstore store": change the flags of messages by
 * renaming their files, optionally only where unchanged since a modseq
 * (RFC 7162 UNCHANGEDSINCE).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

struct store_request {
	enum cs_store_op op;
	bool silent;
	uint64_t flags;
	bool conditional;
	uint64_t unchangedsince;
};

struct store_result {
	const struct cli_global *g;
	struct cli_msgs stored;
	struct cs_uidset modified;
	unsigned int failed;
	bool nomem;
};

/* "+FLAGS", "-FLAGS" or "FLAGS", each optionally ".SILENT". */
static int store_parse_op(const struct cli_global *g, const char *str,
			  struct store_request *req)
{
	const char *p = str;
	size_t len;

	req->op = CS_STORE_REPLACE;
	if (*p == '+' || *p == '-') {
		req->op = *p == '+' ? CS_STORE_ADD : CS_STORE_REMOVE;
		p++;
	}
	len = strlen(p);
	if (strncasecmp(p, "FLAGS", 5) == 0) {
		/* p + 5 is within the string: it starts with FLAGS */
		req->silent = strcasecmp(p + 5, ".SILENT") == 0;
		if (len == 5 || req->silent)
			return 0;
	}
	cli_error(g, "store: %s: not +FLAGS, -FLAGS or FLAGS", str);
	return -1;
}

/* The flag list may come as one argument "(\Seen $Work)" or as several;
   join them with spaces. */
static char *store_join(int argc, char **argv)
{
	size_t len = 1;
	char *list;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	list = malloc(len);
	if (list == NULL)
		return NULL;
	list[0] = '\0';
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(list, " ");
		strcat(list, argv[i]);
	}
	return list;
}

static int store_parse_flags(struct cli_mailbox *mbox, int argc, char **argv,
			     uint64_t *flags_r)
{
	struct cs_error err;
	char *list = store_join(argc, argv);
	int ret;

	if (list == NULL) {
		cli_error(mbox->g, "out of memory");
		return -1;
	}
	ret = cs_flags_from_imap(list, &mbox->keywords, flags_r, &err);
	if (ret < 0)
		cli_error(mbox->g, "store: %s: %s", mbox->name, err.text);
	free(list);
	return ret < 0 ? -1 : 0;
}

static int store_stored_cb(void *ctx, const struct cs_message *msg)
{
	struct store_result *res = ctx;

	if (cli_msgs_add(&res->stored, msg) < 0) {
		res->nomem = true;
		return -1;
	}
	return 0;
}

/* One line on stderr per message left alone, after the commit. */
static int store_failed_cb(void *ctx, uint32_t uid, const char *reason)
{
	struct store_result *res = ctx;

	res->failed++;
	cli_error(res->g, "store: UID %u not stored: %s", uid, reason);
	return 0;
}

static int store_modified_cb(void *ctx, uint32_t uid)
{
	struct store_result *res = ctx;

	if (cs_uidset_add(&res->modified, uid) < 0) {
		res->nomem = true;
		return -1;
	}
	return 0;
}

/* UNCHANGEDSINCE 0 fails for every message (modseqs are >= 1, RFC 7162
   3.1.3), while the library takes 0 for "no condition": report every
   existing message of uids as modified without storing anything. */
static int store_unchanged_zero(struct cli_mailbox *mbox,
				const struct cs_uidset *uids,
				struct store_result *res)
{
	struct cli_msgs all = { 0 };
	uint32_t star;
	size_t i;
	int ret = 0;

	if (cli_msgs_all(mbox, &all, &star) < 0)
		return -1;
	for (i = 0; i < all.count && ret == 0; i++) {
		if (cs_uidset_contains(uids, all.msgs[i].uid, star))
			ret = store_modified_cb(res, all.msgs[i].uid);
	}
	cli_msgs_free(&all);
	return ret;
}

static int store_run(struct cli_mailbox *mbox, const struct cs_uidset *uids,
		     const struct store_request *req, struct store_result *res)
{
	struct cs_store_result_cb cbs = {
		.stored = store_stored_cb,
		.modified = store_modified_cb,
		.failed = store_failed_cb,
		.ctx = res,
	};
	struct cs_error err;

	if (req->conditional && req->unchangedsince == 0)
		return store_unchanged_zero(mbox, uids, res);
	cs_error_clear(&err);
	if (cs_maildir_store(mbox->box, uids, req->op, req->flags,
			     req->unchangedsince, &cbs, &err) < 0) {
		if (!res->nomem)
			cli_error_cs(mbox->g, &err);
		return -1;
	}
	return 0;
}

/* Print the FETCH lines and the MODIFIED set; returns the exit code. */
static int store_report(struct cli_mailbox *mbox,
			const struct store_request *req,
			struct store_result *res)
{
	char *set;

	cli_msgs_sort(&res->stored);
	if (!req->silent && cli_print_fetch_list(mbox, &res->stored) < 0)
		return CLI_EXIT_ERROR;
	if (res->modified.count == 0)
		return res->failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_OK;
	set = cs_uidset_format_alloc(&res->modified);
	if (set == NULL) {
		cli_error(mbox->g, "out of memory");
		return CLI_EXIT_ERROR;
	}
	printf("OK [MODIFIED %s]\n", set);
	free(set);
	return res->failed > 0 ? CLI_EXIT_ERROR : CLI_EXIT_FAIL;
}

static int store_mailbox(struct cli_mailbox *mbox, int argc, char **argv,
			 struct store_request *req)
{
	struct store_result res = { .g = mbox->g, .stored = { 0 } };
	struct cs_uidset uids;
	int ret;

	if (store_parse_flags(mbox, argc - 4, argv + 4, &req->flags) < 0)
		return CLI_EXIT_ERROR;
	if (cli_parse_uidset(mbox->g, argv[2], &uids) < 0)
		return CLI_EXIT_ERROR;
	cs_uidset_init(&res.modified);
	if (store_run(mbox, &uids, req, &res) < 0) {
		if (res.nomem)
			cli_error(mbox->g, "out of memory");
		ret = CLI_EXIT_ERROR;
	} else {
		ret = store_report(mbox, req, &res);
	}
	cli_msgs_free(&res.stored);
	cs_uidset_free(&res.modified);
	cs_uidset_free(&uids);
	return ret;
}

struct store_args {
	int argc;
	char **argv;
	struct store_request *req;
};

static int store_run_cmd(struct cli_mailbox *mbox, void *ctx)
{
	struct store_args *args = ctx;

	return store_mailbox(mbox, args->argc, args->argv, args->req);
}

static int cmd_store(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "unchangedsince", .has_arg = true },
		{ .name = NULL }
	};
	struct store_request req = { .conditional = false };
	struct store_args args;
	int npos;

	npos = cli_args_parse(g, &cli_cmd_store, argc, argv, opts, 4, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	if (store_parse_op(g, argv[3], &req) < 0)
		return CLI_EXIT_ERROR;
	if (opts[0].seen) {
		req.conditional = true;
		if (cli_parse_modseq(g, opts[0].name, opts[0].value,
				     &req.unchangedsince) < 0)
			return CLI_EXIT_ERROR;
	}
	args.argc = npos + 1;
	args.argv = argv;
	args.req = &req;
	return cli_mailbox_run(g, false, argv[1], store_run_cmd, &args);
}

const struct cli_command cli_cmd_store = {
	.name = "store",
	.summary = "change flags, optionally only if unchanged since a MODSEQ",
	.usage = "MAILBOX UIDSET +FLAGS|-FLAGS|FLAGS (FLAG...) "
		 "[--unchangedsince MODSEQ]",
	.help =
"Adds (+FLAGS), removes (-FLAGS) or sets (FLAGS) the flags of the\n"
"messages of MAILBOX in UIDSET by renaming their files, the way a mail\n"
"reader does.  FLAGs are IMAP names: \\Seen \\Answered \\Flagged \\Deleted\n"
"\\Draft $Forwarded, and keywords listed in the mailbox's dovecot-keywords.\n"
"Quote the list for the shell: '(\\Seen \\Flagged)'.  Appending .SILENT\n"
"(+FLAGS.SILENT) suppresses the FETCH lines.\n"
"\n"
"Prints a FETCH line for each message stored (a new MODSEQ where the\n"
"flags changed, the same where they were already as asked):\n"
"  * 3 FETCH (UID 3 MODSEQ (12) FLAGS (\\Seen))\n"
"and, when some messages failed the condition or were renamed by another\n"
"program meanwhile, the UIDs left alone:\n"
"  OK [MODIFIED 7,9]\n"
"A message whose file can't be renamed (the new name would be longer than\n"
"255 bytes, rename(2) failed) is left as it was, on disk and in the index,\n"
"with one line on stderr:\n"
"  condstore: store: UID 5 not stored: REASON\n"
"and the others are stored.\n"
"Exit status 0 when every message was stored, 1 when some were MODIFIED,\n"
"2 when some could not be stored (or on any other error).\n"
"\n"
"  --unchangedsince MODSEQ   store only on messages whose MODSEQ is at\n"
"                            most MODSEQ (RFC 7162 UNCHANGEDSINCE); a\n"
"                            compare-and-set that holds against\n"
"                            concurrent stores and other programs\n",
	.run = cmd_store,
};
