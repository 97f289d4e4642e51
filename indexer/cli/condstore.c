/*
 * condstore.c - the condstore command: global options, the table of
 * subcommands, help and version.
 */
#include "config.h"

#include <ctype.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cs-owner.h"

static const struct cli_command *const cli_commands[] = {
	&cli_cmd_reindex,
	&cli_cmd_status,
	&cli_cmd_fetch,
	&cli_cmd_search,
	&cli_cmd_store,
	&cli_cmd_vanished,
	&cli_cmd_check,
	&cli_cmd_watch,
	&cli_cmd_sync,
	&cli_cmd_daemon_status,
	NULL
};

static const char cli_global_help[] =
"Global options:\n"
"  --maildir DIR    the Maildir++ root (default: $MAILDIR, else ~/Maildir)\n"
"  --db FILE        the index (default: DIR/" CS_DB_NAME ")\n"
"  --separator C    the info separator of file names (default ':')\n"
"  -v, --verbose    say more (repeatable)\n"
"  -q, --quiet      no progress bar, no warnings\n"
"  -h, --help       this help; condstore help COMMAND for a command's\n"
"  -V, --version    print the version\n";

static const struct cli_command *cli_command_find(const char *name)
{
	unsigned int i;

	for (i = 0; cli_commands[i] != NULL; i++) {
		if (strcmp(cli_commands[i]->name, name) == 0)
			return cli_commands[i];
	}
	return NULL;
}

static void cli_usage(FILE *out)
{
	unsigned int i;

	fprintf(out, "Usage: condstore [OPTIONS] COMMAND [ARGS]\n\n"
		"IMAP CONDSTORE (RFC 7162) mod-sequences for a Maildir.\n\n"
		"Commands:\n");
	for (i = 0; cli_commands[i] != NULL; i++)
		fprintf(out, "  %-10s %s\n", cli_commands[i]->name,
			cli_commands[i]->summary);
	fprintf(out, "\n%s\nExit status: 0 ok, 1 condition failed or "
		"problems found, 2 error.\nSee condstore(1).\n",
		cli_global_help);
}

static void cli_command_usage(const struct cli_command *cmd)
{
	printf("Usage: condstore [GLOBAL OPTIONS] %s %s\n\n%c%s.\n\n%s",
	       cmd->name, cmd->usage, toupper((unsigned char)cmd->summary[0]),
	       cmd->summary + 1, cmd->help);
}

/* "condstore help [COMMAND]" */
static int cli_help(const struct cli_global *g, int argc, char **argv)
{
	const struct cli_command *cmd;

	if (argc < 2) {
		cli_usage(stdout);
		return CLI_EXIT_OK;
	}
	cmd = cli_command_find(argv[1]);
	if (cmd == NULL) {
		cli_error(g, "help: %s: no such command", argv[1]);
		return CLI_EXIT_ERROR;
	}
	cli_command_usage(cmd);
	return CLI_EXIT_OK;
}

/* Does a subcommand's argument list ask for help (before any "--")? */
static bool cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

static int cli_default_maildir(struct cli_global *g, char **alloc_r)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	*alloc_r = NULL;
	g->maildir = getenv("MAILDIR");
	if (g->maildir != NULL && g->maildir[0] != '\0')
		return 0;
	if (home == NULL || home[0] == '\0') {
		pw = getpwuid(getuid());
		if (pw == NULL) {
			cli_error(g, "no --maildir, no $MAILDIR and no home "
				  "directory: give --maildir DIR");
			return -1;
		}
		home = pw->pw_dir;
	}
	if (asprintf(alloc_r, "%s/Maildir", home) < 0) {
		cli_error(g, "out of memory");
		return -1;
	}
	g->maildir = *alloc_r;
	return 0;
}

static int cli_parse_separator(struct cli_global *g, const char *arg)
{
	unsigned char c = arg[0];

	if (strlen(arg) != 1 || c == '/' || c == '.' || isalnum(c) ||
	    !isgraph(c) || c >= 0x80) {
		cli_error(g, "--separator %s: need one printable character "
			  "that is not a letter, a digit, '.' or '/'", arg);
		return -1;
	}
	g->separator = arg[0];
	return 0;
}

static const struct option cli_long_options[] = {
	{ "maildir", required_argument, NULL, 'm' },
	{ "db", required_argument, NULL, 'd' },
	{ "separator", required_argument, NULL, 's' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Parse the global options; returns the index of the subcommand in argv,
   or -1 with *exit_r set when main should exit. */
static int cli_parse_global(int argc, char **argv, struct cli_global *g,
			    int *exit_r)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vqhV", cli_long_options,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			g->maildir = optarg;
			break;
		case 'd':
			g->db = optarg;
			break;
		case 's':
			if (cli_parse_separator(g, optarg) < 0) {
				*exit_r = CLI_EXIT_ERROR;
				return -1;
			}
			break;
		case 'v':
			g->verbose++;
			break;
		case 'q':
			g->quiet = true;
			break;
		case 'h':
			cli_usage(stdout);
			*exit_r = CLI_EXIT_OK;
			return -1;
		case 'V':
			printf("condstore (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			*exit_r = CLI_EXIT_OK;
			return -1;
		default:
			cli_error(g, "%s: unknown option or missing value "
				  "(see condstore --help)", argv[optind - 1]);
			*exit_r = CLI_EXIT_ERROR;
			return -1;
		}
	}
	if (optind >= argc) {
		cli_usage(stderr);
		*exit_r = CLI_EXIT_ERROR;
		return -1;
	}
	return optind;
}

/* Run as root, a command works on the Maildir with its owner's rights
   (cs-owner.h): every file it creates is the owner's, and it reads
   nothing the owner can't.  The daemon switches per Maildir itself. */
static int cli_act_as_owner(const struct cli_global *g,
			    const struct cli_command *cmd)
{
	struct cs_owner owner;
	struct cs_error err;

	if (cs_owner_init(&err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	/* the daemon switches per Maildir; daemon-status reads no Maildir */
	if (strcmp(cmd->name, "watch") == 0 ||
	    strcmp(cmd->name, "daemon-status") == 0)
		return 0;
	/* for the rest of the process: the command works on one Maildir */
	if (cs_owner_enter(g->maildir, &owner, &err) < 0) {
		cli_error_cs(g, &err);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli_global g = { .separator = ':' };
	const struct cli_command *cmd;
	char *maildir_alloc = NULL;
	int first, ret;

	first = cli_parse_global(argc, argv, &g, &ret);
	if (first < 0)
		return ret;
	argc -= first;
	argv += first;

	if (strcmp(argv[0], "help") == 0)
		return cli_help(&g, argc, argv);
	cmd = cli_command_find(argv[0]);
	if (cmd == NULL) {
		cli_error(&g, "%s: no such command (see condstore --help)",
			  argv[0]);
		return CLI_EXIT_ERROR;
	}
	if (cli_wants_help(argc, argv)) {
		cli_command_usage(cmd);
		return CLI_EXIT_OK;
	}
	if (g.maildir == NULL && cli_default_maildir(&g, &maildir_alloc) < 0)
		return CLI_EXIT_ERROR;
	if (cli_act_as_owner(&g, cmd) < 0) {
		free(maildir_alloc);
		return CLI_EXIT_ERROR;
	}
	ret = cmd->run(&g, argc, argv);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(&g, "writing the output failed");
		ret = CLI_EXIT_ERROR;
	}
	free(maildir_alloc);
	return ret;
}
