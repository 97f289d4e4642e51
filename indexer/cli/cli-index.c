/*
 * cli-index.c - opening the index and its mailboxes for the subcommands.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_index_settings(const struct cli_global *g,
			struct cs_index_settings *set_r)
{
	memset(set_r, 0, sizeof(*set_r));
	set_r->root = g->maildir;
	set_r->db_path = g->db;
	set_r->separator = g->separator;
}

int cli_index_open(const struct cli_global *g, bool readonly,
		   struct cs_index **index_r)
{
	struct cs_index_settings set;
	struct cs_error err;

	cli_index_settings(g, &set);
	set.readonly = readonly;
	if (cs_index_open(&set, index_r, &err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	if (cs_index_converted(*index_r))
		cli_warn(g, "%s: index converted to layout 2, every UID and "
			 "modseq kept", cs_index_db_path(*index_r));
	return 0;
}

int cli_mailbox_open(const struct cli_global *g, struct cs_index *index,
		     const char *name, struct cli_mailbox *mbox_r)
{
	char path[PATH_MAX];
	struct cs_error err;
	int ret;

	memset(mbox_r, 0, sizeof(*mbox_r));
	mbox_r->g = g;
	if (cs_mailbox_path(cs_index_root(index), name, path, sizeof(path),
			    &err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	snprintf(mbox_r->name, sizeof(mbox_r->name), "%s", name);
	ret = cs_mailbox_open(index, name, false, CS_UIDSRC_OWN, 0,
			      &mbox_r->box, &err);
	if (ret < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	if (ret == 0) {
		cli_error(g, "%s: no such mailbox in the index %s "
			  "(run condstore reindex)", name,
			  cs_index_db_path(index));
		return -1;
	}
	if (cs_keywords_read(path, &mbox_r->keywords, &err) < 0) {
		cli_error_cs(g, &err);
		cs_mailbox_close(&mbox_r->box);
		return -1;
	}
	return 0;
}

void cli_mailbox_close(struct cli_mailbox *mbox)
{
	cs_keywords_free(&mbox->keywords);
	cs_mailbox_close(&mbox->box);
}

int cli_mailbox_run(const struct cli_global *g, bool readonly,
		    const char *name, cli_mailbox_fn *fn, void *ctx)
{
	struct cs_index *index = NULL;
	struct cli_mailbox mbox;
	int ret = CLI_EXIT_ERROR;

	if (cli_index_open(g, readonly, &index) < 0)
		return CLI_EXIT_ERROR;
	if (cli_mailbox_open(g, index, name, &mbox) == 0) {
		ret = fn(&mbox, ctx);
		cli_mailbox_close(&mbox);
	}
	cs_index_close(&index);
	return ret;
}

int cli_changes_since(struct cli_mailbox *mbox, uint64_t since,
		      cs_message_cb *cb, void *ctx)
{
	struct cs_error err;

	if (cs_changes_since(mbox->box, since, cb, ctx, &err) < 0) {
		cli_error_cs(mbox->g, &err);
		return -1;
	}
	return 0;
}

int cli_mailbox_max_uid(struct cli_mailbox *mbox, uint32_t *uid_r)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(mbox->box);
	struct cs_message msg;
	struct cs_error err;
	uint32_t uid;
	int ret;

	if (rec->messages == 0) {
		*uid_r = 0;
		return 0;
	}
	/* UIDs are below uidnext; walk down over expunged ones */
	for (uid = rec->uidnext > 0 ? rec->uidnext - 1 : 0; uid > 0; uid--) {
		ret = cs_message_lookup_uid(mbox->box, uid, &msg, &err);
		if (ret < 0) {
			cli_error_cs(mbox->g, &err);
			return -1;
		}
		if (ret > 0)
			break;
	}
	*uid_r = uid;
	return 0;
}
