/*
 * cmd-reindex.c - "condstore reindex": scan mailboxes and reconcile the
 * index with the disk; --rebuild starts from a fresh index.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

static int reindex_mailbox(const struct cli_global *g, struct cs_index *index,
			   const char *name, struct cli_progress *progress)
{
	struct cs_scan_settings set = {
		.warn = cli_warn_cb,
		.warn_ctx = (void *)g,
		.progress = cli_progress_cb,
		.progress_ctx = progress,
	};
	struct cs_scan_stats stats = { 0 };
	struct cs_error err;
	int ret;

	ret = cs_maildir_scan(index, name, &set, &stats, &err);
	cli_progress_done(progress);
	if (ret < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	cli_info(g, "%s: %llu files: %llu arrived, %llu changed, "
		 "%llu expunged, %llu updated, %llu skipped", name,
		 (unsigned long long)stats.files,
		 (unsigned long long)stats.arrived,
		 (unsigned long long)stats.changed,
		 (unsigned long long)stats.expunged,
		 (unsigned long long)stats.updated,
		 (unsigned long long)stats.skipped);
	return 0;
}

/* Drop the mailboxes of the index whose folder is gone from the disk. */
static int reindex_drop_gone(const struct cli_global *g,
			     struct cs_index *index,
			     const struct cli_names *on_disk)
{
	struct cli_names in_index;
	struct cs_error err;
	size_t i;
	int ret = 0;

	if (cli_names_from_index(g, index, &in_index) < 0)
		return -1;
	for (i = 0; i < in_index.count && ret == 0; i++) {
		const char *name = in_index.names[i];

		if (cli_names_contain(on_disk, name))
			continue;
		if (cs_index_begin(index, &err) < 0 ||
		    cs_mailbox_delete(index, name, &err) < 0 ||
		    cs_index_commit(index, &err) < 0) {
			if (cs_index_in_transaction(index))
				cs_index_rollback(index);
			cli_error_cs(g, &err);
			ret = -1;
		} else {
			cli_info(g, "%s: gone from the disk, removed from "
				 "the index", name);
		}
	}
	cli_names_free(&in_index);
	return ret;
}

static int reindex_rebuild(const struct cli_global *g)
{
	struct cs_index_settings set;
	struct cs_error err;

	cli_index_settings(g, &set);
	if (cs_index_rebuild(&set, &err) < 0)
		return cli_error_cs(g, &err);
	cli_info(g, "%s: rebuilt, reindexing", set.db_path != NULL ?
		 set.db_path : CS_DB_NAME);
	return 0;
}

static int cmd_reindex(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "rebuild" },
		{ .name = NULL }
	};
	struct cli_progress progress;
	struct cs_index *index = NULL;
	struct cli_names names;
	bool all;
	size_t i;
	int npos, ret = CLI_EXIT_OK;

	npos = cli_args_parse(g, &cli_cmd_reindex, argc, argv, opts, 0, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	all = npos == 0;
	if (opts[0].seen && !all) {
		cli_error(g, "reindex: --rebuild rebuilds the whole index: "
			  "give no MAILBOX");
		return CLI_EXIT_ERROR;
	}
	if (all ? cli_names_from_disk(g, &names) < 0 :
	    cli_names_from_args(g, npos, argv + 1, &names) < 0)
		return CLI_EXIT_ERROR;
	if (opts[0].seen && reindex_rebuild(g) != 0) {
		cli_names_free(&names);
		return CLI_EXIT_ERROR;
	}
	if (cli_index_open(g, false, &index) < 0) {
		cli_names_free(&names);
		return CLI_EXIT_ERROR;
	}
	cli_progress_init(g, &progress);
	for (i = 0; i < names.count; i++) {
		if (reindex_mailbox(g, index, names.names[i], &progress) < 0)
			ret = CLI_EXIT_ERROR;
	}
	if (all && ret == CLI_EXIT_OK &&
	    reindex_drop_gone(g, index, &names) < 0)
		ret = CLI_EXIT_ERROR;
	cs_index_close(&index);
	cli_names_free(&names);
	return ret;
}

const struct cli_command cli_cmd_reindex = {
	.name = "reindex",
	.summary = "scan mailboxes and bring the index up to date",
	.usage = "[--rebuild] [MAILBOX...]",
	.help =
"Reads the new/ and cur/ directories of each MAILBOX (default: INBOX and\n"
"every Maildir++ folder) and records every arrival, flag change and\n"
"expunge with a new mod-sequence.  Without MAILBOX, mailboxes whose\n"
"folder is gone are removed from the index.  A progress bar is drawn on\n"
"stderr when it is a terminal (not with -q); -v prints what changed.\n"
"\n"
"  --rebuild   discard the index and build it again from the disk; the\n"
"              new HIGHESTMODSEQs are above every mod-sequence ever\n"
"              handed out (use it after \"the index is corrupt\" errors)\n",
	.run = cmd_reindex,
};
