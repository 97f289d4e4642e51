/*
 * cmd-check.c - "condstore check": verify the index against the disk and
 * itself, and optionally repair it.
 */
#include "config.h"

#include <stdio.h>

#include "cli.h"

/* Drop the tombstones older than age of mailbox name (NULL: all).
   Returns 0, or prints the error and returns -1. */
static int prune_run(const struct cli_global *g, struct cs_index *index,
		     const char *name, uint64_t age)
{
	unsigned int pruned;
	struct cs_error err;

	cs_error_clear(&err);
	if (cs_index_prune(index, name, age, &pruned, &err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	cli_info(g, "prune%s%s: %u tombstone%s dropped",
		 name != NULL ? " " : "", name != NULL ? name : "", pruned,
		 pruned == 1 ? "" : "s");
	return 0;
}

static void check_problem_cb(void *ctx ATTR_UNUSED, const char *mailbox,
			     const char *text)
{
	/* problems of the whole file come without a mailbox */
	if (mailbox != NULL && mailbox[0] != '\0')
		printf("%s: %s\n", mailbox, text);
	else
		printf("%s\n", text);
}

/* What is no problem, but worth knowing: a warning on stderr (-q: none) */
static void check_note_cb(void *ctx, const char *mailbox ATTR_UNUSED,
			  const char *text)
{
	cli_warn(ctx, "check: %s", text);
}

/* Returns the number of problems, or -1 (error printed). */
static int check_run(const struct cli_global *g, struct cs_index *index,
		     const char *name, bool repair)
{
	struct cs_check_settings set = {
		.repair = repair,
		.problem = check_problem_cb,
		.note = check_note_cb,
		.problem_ctx = (void *)g,
	};
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	ret = cs_check(index, name, &set, &err);
	if (ret < 0)
		cli_error_cs(g, &err);
	return ret;
}

static int cmd_check(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "repair" },
		{ .name = "prune", .has_arg = true, .arg_optional = true },
		{ .name = NULL }
	};
	struct cs_index *index = NULL;
	struct cli_names names = { 0 };
	bool error = false, write;
	uint64_t age = 0;
	int npos, ret, problems = 0;
	size_t i;

	npos = cli_args_parse(g, &cli_cmd_check, argc, argv, opts, 0, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	if (npos > 0 && cli_names_from_args(g, npos, argv + 1, &names) < 0)
		return CLI_EXIT_ERROR;
	if (opts[1].seen && opts[1].value == NULL)
		age = CS_PRUNE_AGE_DEFAULT;
	else if (opts[1].seen &&
		 cli_parse_age(g, "prune", opts[1].value, &age) < 0) {
		cli_names_free(&names);
		return CLI_EXIT_ERROR;
	}
	write = opts[0].seen || opts[1].seen;
	if (cli_index_open(g, !write, &index) < 0) {
		cli_names_free(&names);
		return CLI_EXIT_ERROR;
	}
	if (opts[1].seen && npos == 0 && prune_run(g, index, NULL, age) < 0)
		error = true;
	for (i = 0; opts[1].seen && i < names.count; i++) {
		if (prune_run(g, index, names.names[i], age) < 0)
			error = true;
	}
	if (npos == 0) {
		ret = check_run(g, index, NULL, opts[0].seen);
		error = ret < 0;
		problems = ret < 0 ? 0 : ret;
	}
	for (i = 0; i < names.count; i++) {
		ret = check_run(g, index, names.names[i], opts[0].seen);
		if (ret < 0)
			error = true;
		else
			problems += ret;
	}
	cs_index_close(&index);
	cli_names_free(&names);
	if (error)
		return CLI_EXIT_ERROR;
	if (problems > 0) {
		cli_info(g, "check: %d problem%s%s", problems,
			 problems == 1 ? "" : "s",
			 opts[0].seen ? " (repaired)" : "");
		return CLI_EXIT_FAIL;
	}
	cli_info(g, "check: clean");
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_check = {
	.name = "check",
	.summary = "verify the index against the disk (and repair it)",
	.usage = "[--repair] [--prune[=AGE]] [MAILBOX...]",
	.help =
"Verifies every invariant of the index for each MAILBOX (default: every\n"
"mailbox on disk and in the index) against the files on disk, and the\n"
"tdb itself (tdb_check).  Prints one line per problem, naming the mailbox\n"
"and the file, e.g.\n"
"  INBOX: 1700000000.M1P2.host: flags on disk FS, in index S\n"
"Space a crash left over in the tdb file is no problem (a warning on\n"
"stderr; --repair repacks the file to reclaim it).\n"
"Read-only unless --repair.  Exit status 0 clean, 1 problems found (with\n"
"--repair: found and repaired), 2 could not check.\n"
"\n"
"  --repair   reconcile what differs, with new MODSEQs\n"
"  --prune[=AGE]  first drop the tombstones of expunges older than AGE\n"
"             (a number with a unit s, m, h or d; default 30d), measured\n"
"             by the MODSEQ clock: each prune marks the time and MODSEQ,\n"
"             and tombstones at or below the newest mark at least AGE old\n"
"             go.  The mailbox's expunge horizon rises to that MODSEQ;\n"
"             VANISHED from below it answers every UID that is not a\n"
"             message (see vanished).  --prune=0 drops every tombstone.\n",
	.run = cmd_check,
};
