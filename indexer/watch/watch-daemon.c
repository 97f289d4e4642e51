/*
 * watch-daemon.c - the watch daemon's main loop: signals, taking inotify
 * events in batches, handing the work to the engine (watch-engine.c:
 * rounds per root, rescans after an overflow or SIGHUP), and periodic
 * rescans of what could not be watched.
 *
 * A reader thread (watch-reader.c) drains the kernel's queue while this
 * loop commits or scans; it waits batch_delay_ms after a wakeup, so that
 * events accumulate.  Each batch takes what is queued (up to a bound) and
 * each round commits one tdb transaction per root with work, however many
 * events it held: the longer a commit takes, the more the next one holds.
 */
#include "config.h"

#include <errno.h>
#ifdef HAVE_MALLOC_TRIM
#  include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "watch-engine.h"
#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-lockwait.h"
#include "watch-log.h"
#include "watch-notify.h"
#include "watch-prune.h"
#include "watch-reader.h"
#include "watch-roots.h"
#include "watch-signals.h"
#include "watch-status.h"

/* a batch ends after this many bytes of events (or WATCH_BATCH_MAX_ITEMS
   items), so that a round ends even when events keep coming faster than
   they coalesce; above what WATCH_BATCH_MAX_ITEMS renames take (a rename
   is two events of about 80 bytes), so that the items bound a batch of
   renames */
#define BATCH_MAX_BYTES (64 * 1024 * 1024)

static bool daemon_serves_any(const struct watch_daemon *d)
{
	const struct watch_root *root;

	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->gone && !root->disabled)
			return true;
	}
	return false;
}

static void daemon_periodic(struct watch_daemon *d, uint64_t now)
{
	struct watch_root *root;
	unsigned int count = 0;
	uint64_t start = now;

	if (now >= d->next_cookie_poll_ms) {
		d->next_cookie_poll_ms = now + WATCH_COOKIE_POLL_MS;
		watch_roots_poll_cookies(d);
	}
	if (now < d->next_rescan_ms)
		return;
	d->next_rescan_ms = now + d->set->rescan_interval_ms;
	if (d->set->glob != NULL)
		(void)watch_roots_expand(d);
	memset(&d->stats, 0, sizeof(d->stats));
	d->boxes_scanned = 0;
	d->round++;
	for (root = d->roots; root != NULL; root = root->next) {
		if (watch_root_has_unwatched(root))
			count += watch_root_rescan_unwatched(d, root);
	}
	if (d->stats.arrived + d->stats.changed + d->stats.expunged > 0 ||
	    (count > 0 && watch_log_debug_enabled(d->log)))
		watch_engine_log_scans(d, "periodic rescan of unwatched mailboxes",
				 start);
	memset(&d->stats, 0, sizeof(d->stats));
	d->boxes_scanned = 0;
}

/* Take what the reader thread has queued into the batch. */
static void daemon_read(struct watch_daemon *d)
{
	const struct inotify_event *event;
	struct cs_error err;
	size_t bytes = 0;
	int ret;

	watch_reader_clear_wake(d->reader);
	watch_status_batch_taken(d);
	/* bounded by items (memory) and by bytes (a batch must end even
	   when events keep coming faster than they coalesce) */
	while (bytes < BATCH_MAX_BYTES &&
	       watch_events_item_count(d) < WATCH_BATCH_MAX_ITEMS) {
		ret = watch_reader_next(d->reader, &event, &err);
		if (ret < 0) {
			watch_log(d->log, WATCH_LOG_ERROR, "%s", err.text);
			d->overflow = true;
			continue;
		}
		if (ret == 0)
			break;
		bytes += sizeof(*event) + event->len;
		watch_events_handle(d, event);
	}
}

/* After work, once quiet for IDLE_TRIM_MS, the memory of the last
   transactions (tdb copies every block a transaction changes) goes back
   to the system.  Not sooner: a renamer's events come every few ms, and
   trimming between its batches would fault the same memory in again and
   again (and cost the other core TLB flushes).  What every transaction
   start allocates (the copy of the hash table, 5 MB at a million
   messages) is kept, plus IDLE_TRIM_KEEP: faulting it in again made a
   one-change round after a pause cost 27-31 ms of CPU at 1M, against
   10-12 ms with it kept (perf: page faults in that copy). */
#define IDLE_TRIM_MS 200
#define IDLE_TRIM_KEEP (256 * 1024)

struct daemon_idle {
	unsigned int round;	/* the last round seen */
	uint64_t since_ms;	/* when it was seen */
	bool trimmed;		/* memory handed back since */
};

/* The poll timeout, shortened to wake up when the quiet period ends. */
static int idle_timeout(struct daemon_idle *idle,
			const struct watch_daemon *d, int timeout)
{
	uint64_t now = watch_now_ms();
	int left;

	if (idle->round != d->round) {
		idle->round = d->round;
		idle->since_ms = now;
		idle->trimmed = false;
	}
	if (idle->trimmed)
		return timeout;
	left = idle->since_ms + IDLE_TRIM_MS <= now ? 0 :
		(int)(idle->since_ms + IDLE_TRIM_MS - now);
	return left < timeout ? left : timeout;
}

/* After a poll that found nothing to do. */
static void idle_check(struct daemon_idle *idle, const struct watch_daemon *d)
{
	if (idle->trimmed || watch_now_ms() < idle->since_ms + IDLE_TRIM_MS)
		return;
	idle->trimmed = true;
#ifdef HAVE_MALLOC_TRIM
	(void)malloc_trim(watch_roots_txn_scratch(d) + IDLE_TRIM_KEEP);
#else
	(void)d;
#endif
}

static int daemon_timeout(const struct watch_daemon *d, uint64_t deadline)
{
	uint64_t now = watch_now_ms(), next = d->next_rescan_ms;
	uint64_t retry = watch_roots_next_retry(d);
	const struct watch_root *root;

	if (deadline != 0 && deadline < next)
		next = deadline;
	if (retry != 0 && retry < next)
		next = retry;
	for (root = d->roots; root != NULL; root = root->next) {
		if (root->wd < 0 && root->started && !root->gone) {
			if (d->next_cookie_poll_ms < next)
				next = d->next_cookie_poll_ms;
			break;
		}
	}
	return next <= now ? 0 : (int)(next - now);
}

/* Returns 0 after a stop, 2 when nothing is left to serve. */
static int daemon_loop(struct watch_daemon *d, int sfd)
{
	struct pollfd fds[2 + WATCH_STATUS_MAX_FDS];
	unsigned int nstatus;
	uint64_t deadline;
	struct cs_error err;
	struct daemon_idle idle = { d->round, 0, true };
	bool backlog;
	int timeout, ret;

	fds[0].fd = sfd;
	fds[0].events = POLLIN;
	fds[1].fd = d->reader != NULL ? watch_reader_wake_fd(d->reader) : -1;
	fds[1].events = POLLIN;
	while (!d->stop) {
		/* the partner of a MOVED_FROM may be among the events still
		   queued: take those before giving up on it */
		backlog = d->reader != NULL &&
			watch_reader_queued(d->reader) > 0;
		deadline = backlog && !d->cookie_seen ? 0 :
			watch_events_expire(d, d->cookie_seen);
		watch_engine_work(d);
		/* a root whose start waited for a lock may have found
		   another daemon serving it */
		if (d->set->glob == NULL && !daemon_serves_any(d)) {
			watch_log(d->log, WATCH_LOG_ERROR, "no Maildir could "
				  "be served");
			return 2;
		}
		daemon_periodic(d, watch_now_ms());
		if (d->hup) {
			d->hup = false;
			if (watch_log_reopen(d->log, &err) < 0)
				watch_log(d->log, WATCH_LOG_ERROR, "%s",
					  err.text);
			if (d->set->glob != NULL)
				(void)watch_roots_expand(d);
			watch_engine_full_rescan(d, "rescan on SIGHUP");
		}
		if (watch_engine_has_work(d))
			continue;
		if (backlog) {
			watch_signals_read(d);
			daemon_read(d);
			continue;
		}
		timeout = idle_timeout(&idle, d, daemon_timeout(d, deadline));
		nstatus = watch_status_pollfds(d, fds + 2);
		ret = poll(fds, 2 + nstatus, timeout);
		if (ret < 0 && errno != EINTR) {
			watch_log(d->log, WATCH_LOG_ERROR, "poll: %s",
				  strerror(errno));
			break;
		}
		if (ret == 0) {
			idle_check(&idle, d);
			watch_prune_idle(d, watch_now_ms());
		}
		if (ret > 0 && (fds[0].revents & POLLIN) != 0)
			watch_signals_read(d);
		if (ret > 0 && d->reader != NULL &&
		    (fds[1].revents & POLLIN) != 0)
			daemon_read(d);
		if (ret > 0 && nstatus > 0)
			watch_status_handle(d, fds + 2, nstatus);
	}
	/* finish the batch in hand */
	(void)watch_events_expire(d, true);
	watch_engine_round(d);
	return 0;
}

int watch_daemon_run(const struct watch_settings *set, struct watch_log *log)
{
	struct watch_daemon d;
	struct watch_inotify in;
	struct watch_notify *notify = NULL;
	struct cs_error err;
	sigset_t mask;
	int sfd, ret, exit_code = 2;

	memset(&d, 0, sizeof(d));
	d.set = set;
	d.log = log;
	d.sfd = -1;
	d.in = &in;
	sfd = watch_signals_open(&mask);
	d.sfd = sfd;
	if (sfd < 0) {
		watch_log(log, WATCH_LOG_ERROR, "signalfd: %s", strerror(errno));
		return 2;
	}
	if (watch_notify_open(&notify, &err) < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		close(sfd);
		return 2;
	}
	if (watch_lockwait_init(&err) < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		watch_notify_close(&notify);
		close(sfd);
		return 2;
	}
	ret = watch_inotify_init(&in, set->max_watches, &err);
	if (ret < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		watch_lockwait_deinit();
		watch_notify_close(&notify);
		close(sfd);
		return 2;
	}
	if (ret == 0) {
		/* the one line about it; the rest runs on rescans */
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		in.limit_hit = true;
		d.limit_logged = true;
	}
	/* signals are blocked: the thread inherits the mask */
	if (in.fd >= 0 && watch_reader_start(in.fd, set->batch_delay_ms,
					     set->max_queue, &d.reader,
					     &err) < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		goto out;
	}
	if (watch_events_init(&d, &err) < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		goto out;
	}
	if (watch_status_init(&d, set->status_socket) < 0)
		goto out;
	if (watch_roots_expand(&d) == 0 && set->glob == NULL) {
		watch_log(log, WATCH_LOG_ERROR, "no Maildir to serve");
		goto out;
	}
	d.next_rescan_ms = watch_now_ms() + set->rescan_interval_ms;
	watch_notify_status(notify, "startup scan of %u Maildirs", d.root_count);
	watch_roots_start_all(&d);
	watch_engine_full_rescan(&d, "startup");
	if (!d.stop && set->glob == NULL && !daemon_serves_any(&d)) {
		watch_log(log, WATCH_LOG_ERROR, "no Maildir could be served");
		goto out;
	}
	watch_log(log, WATCH_LOG_INFO, "watching %u Maildirs, %u mailboxes "
		  "(%u watches)%s", d.root_count, watch_engine_count_boxes(&d), in.count,
		  set->nosync ? ", commits without fsync (--nosync)" : "");
	watch_notify_ready(notify, d.root_count, watch_engine_count_boxes(&d), in.count);
	exit_code = daemon_loop(&d, sfd);
	watch_notify_stopping(notify);
	if (exit_code == 0)
		watch_log(log, WATCH_LOG_INFO, "stopped");
out:
	watch_reader_stop(&d.reader);
	watch_roots_shutdown(&d);
	watch_status_deinit(&d);
	watch_events_deinit(&d);
	watch_inotify_deinit(&in);
	watch_lockwait_deinit();
	watch_notify_close(&notify);
	close(sfd);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return exit_code;
}
