/*
 * cli.h - what the subcommands of the condstore command share.
 *
 * main() (condstore.c) parses the global options into struct cli_global
 * and dispatches to one function per subcommand (cmd-*.c).  Exit codes,
 * for every subcommand: 0 ok, 1 inconsistency found or condition failed
 * (MODIFIED, check problems), 2 error.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>

#include "condstore.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_ERROR 2

struct cli_global {
	const char *maildir;	/* --maildir, else $MAILDIR, else ~/Maildir */
	const char *db;		/* --db, else NULL (MAILDIR/condstore.tdb) */
	char separator;		/* --separator, default ':' */
	int verbose;		/* -v, repeatable */
	bool quiet;		/* -q */
	bool syslog;		/* --syslog (watch) */
};

/* A subcommand: argv[0] is the subcommand's name; returns an exit code. */
struct cli_command {
	const char *name;
	const char *summary;	/* one line for "condstore --help" */
	int (*run)(const struct cli_global *g, int argc, char **argv);
};

/* Fill index settings from the global options. */
void cli_index_settings(const struct cli_global *g,
			struct cs_index_settings *set_r);

/* Print "condstore: <text>" to stderr (and syslog with --syslog). */
void cli_error(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
