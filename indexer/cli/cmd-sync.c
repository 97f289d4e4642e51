/*
 * cmd-sync.c - "condstore sync": wait until the watch daemon has recorded
 * everything that happened in the Maildir before the call.
 */
#include "config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cs-watch.h"

#define SYNC_DEFAULT_TIMEOUT_MS 30000
/* A daemon registers in every index it serves before its startup scan;
   the one moment nobody can see is between the shell's fork and that
   registration ("condstore watch & condstore sync").  With no live
   daemon registered, sync waits this long for one to register before
   concluding that none serves the Maildir. */
#define SYNC_START_GRACE_MS 500
#define SYNC_START_POLL_MS 10
/* a lock held on the index is tried again this often until the timeout */
#define SYNC_BUSY_RETRY_US 10000

/* Open the index for the wait without ever waiting for a lock another
   process holds beyond the deadline: the open is retried, and every
   other lock wait ends with the timer (armed by the caller). */
static int sync_index_open(const struct cli_global *g, uint64_t deadline,
			   struct cs_index **index_r, struct cs_error *err)
{
	struct cs_index_settings set;

	cli_index_settings(g, &set);
	set.readonly = true;
	set.nonblock = true;
	set.lock_interrupt = watch_lockwait_flag();
	while (cs_index_open(&set, index_r, err) < 0) {
		if (err->code != CS_ERR_BUSY || watch_now_ms() >= deadline)
			return -1;
		usleep(SYNC_BUSY_RETRY_US);
	}
	return 0;
}

/* Open the index and look for the live daemon registered in it.  Returns
   1 (*index_r open), 0 none (no index yet, no record, or its process is
   gone: err says which), -1 error (a lock held past the deadline). */
static int sync_find_daemon(const struct cli_global *g, uint64_t deadline,
			    struct cs_index **index_r, struct cs_error *err)
{
	int ret;

	if (sync_index_open(g, deadline, index_r, err) < 0)
		return err->code == CS_ERR_BUSY ? -1 : 0;
	ret = cs_daemon_lookup(*index_r, NULL, err);
	if (ret == 0)
		cs_error_set(err, CS_ERR_NOTFOUND, "no watch daemon is "
			     "registered in the index (start 'condstore "
			     "watch')");
	if (ret <= 0)
		cs_index_close(index_r);
	return ret;
}

/* Wait up to grace_ms for a starting daemon to register.  Returns as
   sync_find_daemon(). */
static int sync_wait_daemon(const struct cli_global *g, uint64_t deadline,
			    unsigned long grace_ms, struct cs_index **index_r,
			    struct cs_error *err)
{
	uint64_t start = watch_now_ms();
	struct stat st;
	int ret;

	for (;;) {
		ret = sync_find_daemon(g, deadline, index_r, err);
		if (ret != 0)
			return ret;
		/* no daemon can serve a Maildir that does not exist */
		if (stat(g->maildir, &st) < 0 || !S_ISDIR(st.st_mode))
			return 0;
		if (watch_now_ms() - start >= grace_ms)
			return 0;
		usleep(SYNC_START_POLL_MS * 1000);
	}
}

static int cmd_sync(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "timeout", .has_arg = true },
		{ .name = NULL }
	};
	unsigned long timeout = SYNC_DEFAULT_TIMEOUT_MS;
	uint64_t deadline, now;
	struct cs_index *index;
	struct cs_error err;
	char *end;
	int i, npos, ret;

	npos = cli_args_parse(g, &cli_cmd_sync, argc, argv, opts, 0, -1);
	if (npos < 0)
		return CLI_EXIT_ERROR;
	if (opts[0].seen) {
		timeout = strtoul(opts[0].value, &end, 10);
		if (end == opts[0].value || *end != '\0' ||
		    timeout > 86400000) {
			cli_error(g, "sync: --timeout %s: not a number of "
				  "milliseconds", opts[0].value);
			return CLI_EXIT_ERROR;
		}
	}
	/* the daemon answers for the whole Maildir; the names are checked
	   so that a typo is not silently accepted */
	for (i = 1; i <= npos; i++) {
		if (cs_mailbox_name_check(argv[i], &err) < 0) {
			cli_error(g, "sync: %s", err.text);
			return CLI_EXIT_ERROR;
		}
	}
	deadline = watch_now_ms() + timeout;
	if (watch_lockwait_init(&err) < 0) {
		cli_error(g, "sync: %s", err.text);
		return CLI_EXIT_ERROR;
	}
	/* the wait itself ends at the timeout; the timer only ends lock
	   waits, a little later */
	watch_lockwait_arm((unsigned int)timeout + 100);
	ret = sync_wait_daemon(g, deadline, timeout < SYNC_START_GRACE_MS ?
			       timeout : SYNC_START_GRACE_MS, &index, &err);
	if (ret <= 0) {
		watch_lockwait_deinit();
		cli_error(g, "sync: %s%s: %s", ret < 0 ?
			  "timed out: " : "no watch daemon serves ",
			  g->maildir, err.text);
		return CLI_EXIT_ERROR;
	}
	now = watch_now_ms();
	ret = cs_sync_wait(index, (unsigned int)(deadline > now ?
						 deadline - now : 0), &err);
	cs_index_close(&index);
	watch_lockwait_deinit();
	if (ret <= 0) {
		cli_error(g, "sync: %s", err.text);
		return CLI_EXIT_ERROR;
	}
	return CLI_EXIT_OK;
}

const struct cli_command cli_cmd_sync = {
	.name = "sync",
	.summary = "wait until the watch daemon has caught up with the disk",
	.usage = "[--timeout MS] [MAILBOX...]",
	.help =
"Return once everything that happened in the Maildir before the call is\n"
"in the index: a cookie file is created in the Maildir root and the\n"
"watch daemon removes it after committing every event before it (and\n"
"after rescanning mailboxes it could not watch).  A daemon that is\n"
"starting answers once its startup scan is done; when no live daemon is\n"
"registered in the index, sync waits 0.5 s for one to register (the\n"
"moment between \"condstore watch &\" and its registration) and then\n"
"gives up.\n"
"\n"
"Options:\n"
"  --timeout MS  give up after MS milliseconds (default 30000)\n"
"\n"
"The daemon answers only once every change before the call is committed:\n"
"while it cannot (the index is locked by another process, the file system\n"
"is full) the wait goes on, up to the timeout; so does a wait for a lock\n"
"on the index held by another process.\n"
"\n"
"Exit status: 0 caught up; 2 no watch daemon serves the Maildir, it went\n"
"away, or the wait timed out.\n",
	.run = cmd_sync,
};
