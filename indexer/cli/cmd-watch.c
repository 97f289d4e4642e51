/*
 * cmd-watch.c - "condstore watch": the inotify indexer daemon, in the
 * foreground (a service manager supervises it).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs-watch.h"

enum {
	OPT_MAILDIR = 256,
	OPT_GLOB,
	OPT_SYSLOG,
	OPT_LOG_FILE,
	OPT_NOSYNC,
	OPT_RESCAN,
	OPT_BATCH_DELAY,
	OPT_PAIR_WAIT,
	OPT_MAX_WATCHES,
	OPT_MAX_OPEN,
	OPT_MAX_PENDING,
	OPT_MAX_QUEUE,
	OPT_STATUS_SOCKET,
	OPT_PRUNE_AGE
};

static const struct option watch_options[] = {
	{ "maildir", required_argument, NULL, OPT_MAILDIR },
	{ "maildirs-glob", required_argument, NULL, OPT_GLOB },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "log-file", required_argument, NULL, OPT_LOG_FILE },
	{ "nosync", no_argument, NULL, OPT_NOSYNC },
	{ "rescan-interval", required_argument, NULL, OPT_RESCAN },
	{ "batch-delay", required_argument, NULL, OPT_BATCH_DELAY },
	{ "pair-wait", required_argument, NULL, OPT_PAIR_WAIT },
	{ "max-watches", required_argument, NULL, OPT_MAX_WATCHES },
	{ "max-open", required_argument, NULL, OPT_MAX_OPEN },
	{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
	{ "max-queue", required_argument, NULL, OPT_MAX_QUEUE },
	{ "status-socket", required_argument, NULL, OPT_STATUS_SOCKET },
	{ "prune-age", required_argument, NULL, OPT_PRUNE_AGE },
	{ "verbose", no_argument, NULL, 'v' },
	{ NULL, 0, NULL, 0 }
};

/* Parse a non-negative number of at most max; with scale, a decimal
   number of seconds returned in milliseconds. */
static int parse_number(const struct cli_global *g, const char *opt,
			const char *str, unsigned int max, bool seconds,
			unsigned int *value_r)
{
	char *end;
	double v;

	v = strtod(str, &end);
	if (end == str || *end != '\0' || !(v >= 0) ||
	    (!seconds && v != (double)(unsigned long)v)) {
		cli_error(g, "watch: --%s %s: not a %s", opt, str,
			  seconds ? "number of seconds" : "whole number");
		return -1;
	}
	if (seconds)
		v *= 1000;
	if (v > max) {
		cli_error(g, "watch: --%s %s: too large", opt, str);
		return -1;
	}
	*value_r = (unsigned int)v;
	return 0;
}

static int watch_parse(const struct cli_global *g, int argc, char **argv,
		       struct watch_settings *set, const char **maildirs,
		       const char **log_file_r, bool *syslog_r, int *verbose_r)
{
	unsigned int *num, queue_mb;
	const char *name;
	int c, idx;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+v", watch_options,
				&idx)) != -1) {
		num = NULL;
		switch (c) {
		case OPT_MAILDIR:
			maildirs[set->maildir_count++] = optarg;
			break;
		case OPT_GLOB:
			set->glob = optarg;
			break;
		case OPT_SYSLOG:
			*syslog_r = true;
			break;
		case OPT_LOG_FILE:
			*log_file_r = optarg;
			break;
		case OPT_NOSYNC:
			set->nosync = true;
			break;
		case OPT_STATUS_SOCKET:
			set->status_socket = optarg;
			break;
		case 'v':
			(*verbose_r)++;
			break;
		case OPT_RESCAN:
			if (parse_number(g, "rescan-interval", optarg,
					 86400000, true,
					 &set->rescan_interval_ms) < 0)
				return -1;
			if (set->rescan_interval_ms == 0)
				set->rescan_interval_ms = 1;
			break;
		case OPT_BATCH_DELAY:
			num = &set->batch_delay_ms;
			break;
		case OPT_PAIR_WAIT:
			num = &set->pair_wait_ms;
			break;
		case OPT_MAX_WATCHES:
			num = &set->max_watches;
			break;
		case OPT_MAX_OPEN:
			num = &set->max_open;
			break;
		case OPT_MAX_PENDING:
			num = &set->max_pending;
			break;
		case OPT_MAX_QUEUE:
			if (parse_number(g, "max-queue", optarg, 4096, false,
					 &queue_mb) < 0)
				return -1;
			set->max_queue = (size_t)queue_mb * 1024 * 1024;
			break;
		case OPT_PRUNE_AGE:
			if (cli_parse_age(g, "prune-age", optarg,
					  &set->prune_age_usec) < 0)
				return -1;
			break;
		default:
			cli_error(g, "watch: %s: unknown option or missing "
				  "value (see condstore watch --help)",
				  argv[optind - 1]);
			return -1;
		}
		if (num != NULL) {
			name = watch_options[idx].name;
			if (parse_number(g, name, optarg, 1000000, false,
					 num) < 0)
				return -1;
		}
	}
	if (optind < argc) {
		cli_error(g, "watch: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (set->max_open == 0)
		set->max_open = 1;
	if (set->max_pending == 0)
		set->max_pending = 1;
	return 0;
}

static int cmd_watch(const struct cli_global *g, int argc, char **argv)
{
	struct watch_settings set = {
		.separator = g->separator != '\0' ? g->separator : ':',
		.rescan_interval_ms = WATCH_DEFAULT_RESCAN_MS,
		.batch_delay_ms = WATCH_DEFAULT_BATCH_DELAY_MS,
		.pair_wait_ms = WATCH_DEFAULT_PAIR_WAIT_MS,
		.max_open = WATCH_DEFAULT_MAX_OPEN,
		.max_pending = WATCH_DEFAULT_MAX_PENDING,
		.max_queue = WATCH_DEFAULT_MAX_QUEUE,
		.prune_age_usec = CS_PRUNE_AGE_DEFAULT,
	};
	const char *log_file = NULL;
	bool use_syslog = g->syslog;
	int verbose = g->verbose;
	struct watch_log *log;
	struct cs_error err;
	const char **maildirs;
	int ret;

	maildirs = calloc((size_t)argc + 1, sizeof(*maildirs));
	if (maildirs == NULL) {
		cli_error(g, "out of memory");
		return CLI_EXIT_ERROR;
	}
	set.maildirs = maildirs;
	if (watch_parse(g, argc, argv, &set, maildirs, &log_file,
			&use_syslog, &verbose) < 0) {
		free(maildirs);
		return CLI_EXIT_ERROR;
	}
	set.verbose = verbose;
	if (set.maildir_count == 0 && set.glob == NULL)
		maildirs[set.maildir_count++] = g->maildir;
	if (g->db != NULL && (set.maildir_count != 1 || set.glob != NULL)) {
		cli_error(g, "watch: --db needs exactly one Maildir");
		free(maildirs);
		return CLI_EXIT_ERROR;
	}
	set.db = g->db;
	if (watch_log_open(use_syslog, log_file, verbose, &log, &err) < 0) {
		cli_error(g, "watch: %s", err.text);
		free(maildirs);
		return CLI_EXIT_ERROR;
	}
	ret = watch_daemon_run(&set, log);
	watch_log_close(&log);
	free(maildirs);
	return ret;
}

const struct cli_command cli_cmd_watch = {
	.name = "watch",
	.summary = "run the inotify indexer daemon in the foreground",
	.usage = "[--maildir DIR]... [--maildirs-glob PATTERN] [OPTIONS]",
	.help =
"Watch one or more Maildirs with inotify and record every flag change,\n"
"arrival and expunge in each Maildir's index.  With neither --maildir nor\n"
"--maildirs-glob, the global --maildir ($MAILDIR, ~/Maildir) is watched.\n"
"Runs until SIGTERM or SIGINT (exit 0); SIGHUP reopens the log and\n"
"rescans (and expands the glob again).\n"
"\n"
"Options:\n"
"  --maildir DIR            serve this Maildir (repeatable)\n"
"  --maildirs-glob PATTERN  serve every Maildir matching the glob, e.g.\n"
"                           '/var/vmail/*/Maildir' (expanded again on\n"
"                           SIGHUP and at each periodic rescan)\n"
"  --syslog                 log to syslog (facility mail), not stderr\n"
"  --log-file FILE          log to FILE (reopened on SIGHUP)\n"
"  -v, --verbose            log every change with its new modseq\n"
"  --nosync                 commit without fsync (see condstore-watch(8))\n"
"  --rescan-interval SEC    rescan what could not be watched every SEC\n"
"                           seconds (default 30)\n"
"  --batch-delay MS         let events accumulate MS ms after a wakeup\n"
"                           (default 5)\n"
"  --pair-wait MS           wait MS ms for a MOVED_TO to pair with a\n"
"                           MOVED_FROM (default 20)\n"
"  --max-watches N          act as if the kernel allowed N watches\n"
"                           (testing the fallback; 0: no own limit)\n"
"  --max-open N             indexes open at once (default 16)\n"
"  --max-pending N          unpaired MOVED_FROMs held (default 4096)\n"
"  --max-queue MB           events read ahead while a commit runs, at\n"
"                           most MB MiB (default 256, about 1.6M\n"
"                           renames)\n"
"  --status-socket PATH     answer \"condstore daemon-status\" on the unix\n"
"                           socket PATH (the unit uses\n"
"                           " WATCH_STATUS_SOCKET_DEFAULT ")\n"
"  --prune-age AGE          when idle, at most hourly, drop tombstones\n"
"                           older than AGE (s, m, h or d; default 30d)\n",
	.run = cmd_watch,
};
