/*
 * cmd-reindex.c - "condstore reindex": scan mailboxes and reconcile the
 * index with the disk; --rebuild starts from a fresh index.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

static void reindex_report(const struct cli_global *g,
			   const struct cs_scan_stats *stats)
{
	cli_info(g, "reindex: %llu files: %llu arrived, %llu changed, "
		 "%llu expunged, %llu updated, %llu skipped",
		 (unsigned long long)stats->files,
		 (unsigned long long)stats->arrived,
		 (unsigned long long)stats->changed,
		 (unsigned long long)stats->expunged,
		 (unsigned long long)stats->updated,
		 (unsigned long long)stats->skipped);
}

/* --rebuild: a new index built aside replaces the old one only when it
   is complete.  Returns an exit code. */
static int reindex_rebuild(const struct cli_global *g)
{
	struct cli_progress progress;
	struct cs_scan_settings scan = {
		.warn = cli_warn_cb,
		.warn_ctx = (void *)g,
		.progress = cli_progress_cb,
		.progress_ctx = &progress,
	};
	struct cs_scan_stats stats = { 0 };
	struct cs_index_settings set;
	struct cs_error err;
	int ret;

	cli_index_settings(g, &set);
	cli_progress_init(g, &progress);
	cs_error_clear(&err);
	ret = cs_maildir_rebuild_index(&set, &scan, &stats, &err);
	cli_progress_done(&progress);
	if (ret < 0)
		return cli_error_cs(g, &err);
	cli_info(g, "reindex: index rebuilt and replaced");
	reindex_report(g, &stats);
	return CLI_EXIT_OK;
}

/* Scan names (NULL: every mailbox on disk, and drop the mailboxes whose
   folder is gone).  Each named mailbox is scanned on its own so that its
   error is reported as it is.  Returns an exit code. */
static int reindex_scan(const struct cli_global *g,
			const struct cli_names *names)
{
	struct cli_progress progress;
	struct cs_scan_settings set = {
		.warn = cli_warn_cb,
		.warn_ctx = (void *)g,
		.progress = cli_progress_cb,
		.progress_ctx = &progress,
	};
	struct cs_scan_stats stats = { 0 };
	struct cs_index *index = NULL;
	struct cs_error err;
	int ret = CLI_EXIT_OK;
	size_t i;

	cli_progress_init(g, &progress);
	cs_error_clear(&err);
	if (names == NULL) {
		/* no index yet: build it whole, off to the side */
		struct cs_index_settings iset;

		cli_index_settings(g, &iset);
		ret = cs_maildir_build_index(&iset, &set, &stats, &err);
		if (ret != 0) {
			cli_progress_done(&progress);
			if (ret < 0)
				return cli_error_cs(g, &err);
			reindex_report(g, &stats);
			return CLI_EXIT_OK;
		}
		ret = CLI_EXIT_OK;
	}
	if (cli_index_open(g, false, &index) < 0)
		return CLI_EXIT_ERROR;
	if (names == NULL) {
		if (cs_maildir_scan_all(index, NULL, &set, &stats, &err) < 0)
			ret = cli_error_cs(g, &err);
	}
	for (i = 0; names != NULL && i < names->count; i++) {
		if (cs_maildir_scan(index, names->names[i], &set, &stats,
				    &err) < 0) {
			cli_progress_done(&progress);
			ret = cli_error_cs(g, &err);
		}
	}
	cli_progress_done(&progress);
	cs_index_close(&index);
	if (ret == CLI_EXIT_OK)
		reindex_report(g, &stats);
	return ret;
}

static int cmd_reindex(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "rebuild" },
		{ .name = NULL }
	};
	struct cli_names names;
	int npos, ret;

	npos = cli_args_parse(g, &cli_cmd_reindex, argc, argv, opts, 0, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	if (opts[0].seen && npos > 0) {
		cli_error(g, "reindex: --rebuild rebuilds the whole index: "
			  "give no MAILBOX");
		return CLI_EXIT_ERROR;
	}
	if (npos == 0) {
		if (opts[0].seen)
			return reindex_rebuild(g);
		return reindex_scan(g, NULL);
	}
	if (cli_names_from_args(g, npos, argv + 1, &names) < 0)
		return CLI_EXIT_ERROR;
	ret = reindex_scan(g, &names);
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
"When nothing changed, a mailbox costs one read of its directories.\n"
"Without an index (and without MAILBOX) the index is built in an unnamed\n"
"file and takes its name only when complete: an interrupted first reindex\n"
"leaves no index, never a half-built one.\n"
"\n"
"  --rebuild   discard the index and build it again from the disk; the\n"
"              new HIGHESTMODSEQs are above every mod-sequence ever\n"
"              handed out (use it after \"the index is corrupt\" errors)\n",
	.run = cmd_reindex,
};
