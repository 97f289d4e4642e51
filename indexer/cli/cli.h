/*
 * cli.h - what the subcommands of the condstore command share.
 *
 * main() (condstore.c) parses the global options into struct cli_global
 * and dispatches to one function per subcommand (cmd-*.c).  Exit codes,
 * for every subcommand: 0 ok, 1 inconsistency found or condition failed
 * (MODIFIED, check problems), 2 error.
 *
 * Output follows IMAP response syntax (RFC 3501, RFC 7162) on stdout;
 * errors are one line "condstore: <what>: <why>" on stderr.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* A subcommand: argv[0] is the subcommand's name; returns an exit code.
   "condstore help NAME" and "condstore NAME --help" print usage and
   help. */
struct cli_command {
	const char *name;
	const char *summary;	/* one line for "condstore --help" */
	const char *usage;	/* the arguments, e.g. "MAILBOX [UIDSET]" */
	const char *help;	/* options and description, lines ending \n */
	int (*run)(const struct cli_global *g, int argc, char **argv);
};

/* The subcommands (cmd-*.c). */
extern const struct cli_command cli_cmd_reindex;
extern const struct cli_command cli_cmd_status;
extern const struct cli_command cli_cmd_fetch;
extern const struct cli_command cli_cmd_search;
extern const struct cli_command cli_cmd_store;
extern const struct cli_command cli_cmd_vanished;
extern const struct cli_command cli_cmd_check;
extern const struct cli_command cli_cmd_watch;
extern const struct cli_command cli_cmd_sync;
extern const struct cli_command cli_cmd_daemon_status;

/* --- cli-output.c: messages and IMAP-style output --- */

/* Print "condstore: <text>" to stderr (and syslog with --syslog). */
void cli_error(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* cli_error() of "<err->text>"; returns CLI_EXIT_ERROR. */
int cli_error_cs(const struct cli_global *g, const struct cs_error *err);
/* "condstore: warning: <text>" on stderr, unless -q. */
void cli_warn(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A cs_warn_cb whose ctx is a const struct cli_global. */
void cli_warn_cb(void *ctx, const char *text);
/* With -v: "condstore: <text>" on stderr. */
void cli_info(const struct cli_global *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print str to stdout as an IMAP astring: as it is when it is an atom,
   else as a quoted string (with \ and " escaped). */
void cli_print_astring(const char *str);

/* --- cli-index.c: opening the index and its mailboxes --- */

/* Fill index settings from the global options. */
void cli_index_settings(const struct cli_global *g,
			struct cs_index_settings *set_r);

/* Open the index for writing (created when missing), or for reading
   (readonly: it must exist; nothing is written to it).  Returns 0, or
   prints the error and returns -1. */
int cli_index_open(const struct cli_global *g, bool readonly,
		   struct cs_index **index_r);

/* A mailbox of the index with what the commands need around it. */
struct cli_mailbox {
	struct cs_mailbox *box;
	struct cs_keywords keywords;	/* its dovecot-keywords */
	const struct cli_global *g;
	char name[CS_MAILBOX_NAME_MAX + 1];
};

/* Open mailbox name of index, which must exist in the index, and read its
   keywords.  Returns 0, or prints the error and returns -1. */
int cli_mailbox_open(const struct cli_global *g, struct cs_index *index,
		     const char *name, struct cli_mailbox *mbox_r);
void cli_mailbox_close(struct cli_mailbox *mbox);

/* Open the index (readonly as for cli_index_open) and its mailbox name,
   run fn on the mailbox, close both.  Returns what fn returns (an exit
   code), or CLI_EXIT_ERROR when opening failed (printed). */
typedef int cli_mailbox_fn(struct cli_mailbox *mbox, void *ctx);
int cli_mailbox_run(const struct cli_global *g, bool readonly,
		    const char *name, cli_mailbox_fn *fn, void *ctx);

/* cs_changes_since() on the mailbox, printing the error.  Returns 0 or
   -1. */
int cli_changes_since(struct cli_mailbox *mbox, uint64_t since,
		      cs_message_cb *cb, void *ctx);

/* --- cmd-vanished.c --- */

/* Print "* VANISHED [(EARLIER) ]UIDS" for the UIDs of within (NULL: all)
   expunged with a MODSEQ above since (cs_vanished), nothing when there
   are none.  Returns 0 for an exact answer, 1 for one from below the
   mailbox's horizon (a warning says so), -1 on error (printed). */
int cli_print_vanished(struct cli_mailbox *mbox, uint64_t since,
		       const struct cs_uidset *within, bool earlier);

/* The highest UID of the mailbox (for '*' in UID sets), 0 when empty.
   Returns 0, or prints the error and returns -1. */
int cli_mailbox_max_uid(struct cli_mailbox *mbox, uint32_t *uid_r);

/* --- cli-msgs.c: lists of messages to print --- */

/* What the output needs of a message. */
struct cli_msg {
	uint32_t uid;
	uint64_t modseq;
	uint64_t flags;
};

struct cli_msgs {
	struct cli_msg *msgs;
	size_t count, alloc;
};

/* Append msg's UID, modseq and flags (messages without a UID yet are
   skipped).  Returns 0, or -1 when out of memory. */
int cli_msgs_add(struct cli_msgs *list, const struct cs_message *msg);
/* Sort by UID. */
void cli_msgs_sort(struct cli_msgs *list);
void cli_msgs_free(struct cli_msgs *list);

/* A cs_message_cb appending to the struct cli_msgs ctx; returns 0, or -1
   with err set when out of memory. */
int cli_msgs_add_cb(void *ctx, const struct cs_message *msg,
		    struct cs_error *err);
/* Every message of the mailbox that has a UID into list (empty), sorted
   by UID; *star_r gets the highest UID (what '*' stands for in a UID
   set), 0 when there is none.  Returns 0, or prints the error and
   returns -1 with list freed. */
int cli_msgs_all(struct cli_mailbox *mbox, struct cli_msgs *list,
		 uint32_t *star_r);

/* Print "* SEQ FETCH (UID U MODSEQ (M) FLAGS (...))" for msg.  seq 0:
   look it up with cs_message_seq.  Returns 0, or prints the error and
   returns -1. */
int cli_print_fetch(struct cli_mailbox *mbox, const struct cli_msg *msg,
		    uint32_t seq);

/* Print the FETCH line of each message of list (sorted by UID), looking
   up sequence numbers.  Returns 0 or -1 (error printed). */
int cli_print_fetch_list(struct cli_mailbox *mbox,
			 const struct cli_msgs *list);

/* --- cli-names.c: lists of mailbox names --- */

#define ATTR_UNUSED __attribute__((unused))

/* Mailbox names, INBOX first, the others sorted (cli_names_from_args
   keeps the command line's order). */
struct cli_names {
	char **names;
	size_t count, alloc;
};

/* The names given on the command line, each checked with
   cs_mailbox_name_check (duplicates dropped).  Returns 0, or prints the
   error and returns -1. */
int cli_names_from_args(const struct cli_global *g, int argc, char **argv,
			struct cli_names *names_r);
/* The mailboxes recorded in the index. */
int cli_names_from_index(const struct cli_global *g, struct cs_index *index,
			 struct cli_names *names_r);
bool cli_names_contain(const struct cli_names *names, const char *name);
void cli_names_free(struct cli_names *names);

/* --- cli-args.c: parsing subcommand arguments --- */

/* A long option of a subcommand ("--name" or "--name=VALUE"). */
struct cli_option {
	const char *name;
	bool has_arg;
	bool arg_optional;	/* with has_arg: a value only as --name=VALUE */
	/* filled by cli_args_parse: */
	bool seen;
	const char *value;
};

/* Parse the arguments after the subcommand name (argv[0] is the name):
   "--name[=value]" and "--name value" go to opts (a NULL-named entry ends
   the table); every other argument, including ones starting with a single
   '-' (store's "-FLAGS"), is positional; "--" ends the options.  The
   positional arguments are moved to the front of argv+1 in order and
   their number is returned; on an unknown option, a missing value or a
   positional count outside [min_pos, max_pos] the error is printed and -1
   returned. */
int cli_args_parse(const struct cli_global *g, const struct cli_command *cmd,
		   int argc, char **argv, struct cli_option *opts,
		   int min_pos, int max_pos);

/* Parse a modseq argument of option opt_name: decimal, 0 .. 2^63-1.
   Returns 0, or prints the error and returns -1. */
int cli_parse_modseq(const struct cli_global *g, const char *opt_name,
		     const char *str, uint64_t *modseq_r);

/* The modseq of a required option opt of cmd (cli_parse_modseq), or the
   error that it is missing, with cmd's usage.  Returns 0, or prints the
   error and returns -1. */
int cli_required_modseq(const struct cli_global *g,
			const struct cli_command *cmd,
			const struct cli_option *opt, uint64_t *modseq_r);

/* Parse an age for option opt_name: a number with a unit s, m, h or d
   (no unit: days), into microseconds (the unit of the modseq clock).
   Returns 0, or prints the error and returns -1. */
int cli_parse_age(const struct cli_global *g, const char *opt_name,
		  const char *str, uint64_t *usec_r);

/* Parse a UID set.  Returns 0, or prints the error and returns -1. */
int cli_parse_uidset(const struct cli_global *g, const char *str,
		     struct cs_uidset *set_r);

/* --- cli-progress.c: the progress bar of reindex --- */

struct cli_progress {
	bool enabled;		/* stderr is a terminal and not -q */
	char mailbox[64];	/* mailbox being drawn */
	int last_permille;	/* last drawn state, -1: none, -2: a count */
	bool drawn;		/* something is on the line */
};

void cli_progress_init(const struct cli_global *g, struct cli_progress *p);
/* A cs_progress_cb; ctx is a struct cli_progress. */
void cli_progress_cb(void *ctx, const char *mailbox, uint64_t done,
		     uint64_t total);
/* Clear the line when something was drawn. */
void cli_progress_done(struct cli_progress *p);

#endif
