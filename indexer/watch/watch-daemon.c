/*
 * watch-daemon.c - the watch daemon's main loop: signals, taking inotify
 * events in batches, rounds of committing work per root, rescans after an
 * overflow, SIGHUP and periodically for what could not be watched.
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
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "watch-daemon.h"
#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-lockwait.h"
#include "watch-notify.h"
#include "watch-prune.h"
#include "watch-reader.h"
#include "watch-roots.h"
#include "watch-status.h"

/* a batch ends after this many bytes of events (or WATCH_BATCH_MAX_ITEMS
   items), so that a round ends even when events keep coming faster than
   they coalesce */
#define BATCH_MAX_BYTES (4 * 1024 * 1024)

uint64_t watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned int count_boxes(const struct watch_daemon *d)
{
	const struct watch_root *root;
	const struct watch_box *box;
	unsigned int n = 0;

	for (root = d->roots; root != NULL; root = root->next) {
		for (box = root->boxes; box != NULL; box = box->next)
			n += box->gone ? 0 : 1;
	}
	return n;
}

/* Log what the scans since the last summary found, and reset. */
static void log_scan_summary(struct watch_daemon *d, const char *what,
			     uint64_t start_ms)
{
	const struct cs_scan_stats *s = &d->stats;

	watch_log(d->log, WATCH_LOG_INFO, "%s: scanned %u mailboxes in %u "
		  "Maildirs, %llu files in %llu ms: %llu new, %llu changed, "
		  "%llu expunged, %llu renamed without a flag change; %u "
		  "watches", what, d->boxes_scanned, d->root_count,
		  (unsigned long long)s->files,
		  (unsigned long long)(watch_now_ms() - start_ms),
		  (unsigned long long)s->arrived,
		  (unsigned long long)s->changed,
		  (unsigned long long)s->expunged,
		  (unsigned long long)s->updated, d->in->count);
	memset(&d->stats, 0, sizeof(d->stats));
	d->boxes_scanned = 0;
}

static void log_limit_once(struct watch_daemon *d)
{
	if (!d->in->limit_hit || d->limit_logged || d->in->fd < 0)
		return;
	d->limit_logged = true;
	watch_log(d->log, WATCH_LOG_ERROR, "inotify watch limit reached at "
		  "%u watches%s: mailboxes that could not be watched are "
		  "rescanned every %.1f s instead (and before each sync); "
		  "raise /proc/sys/fs/inotify/max_user_watches and send "
		  "SIGHUP", d->in->count, d->set->max_watches > 0 ?
		  " (--max-watches)" : "",
		  d->set->rescan_interval_ms / 1000.0);
}

static bool daemon_has_work(const struct watch_daemon *d)
{
	const struct watch_root *root;
	const struct watch_box *box;
	uint64_t now = watch_now_ms();

	if (watch_events_item_count(d) > 0)
		return true;
	for (root = d->roots; root != NULL; root = root->next) {
		if (root->gone || root->disabled ||
		    watch_root_waiting(root, now))
			continue;
		if (!root->started || root->need_full_scan ||
		    root->cookie_count > 0 ||
		    (root->need_folders && root->pending_folder_moves == 0))
			return true;
		for (box = root->boxes; box != NULL; box = box->next) {
			if (!box->gone && (box->need_setup || box->need_scan))
				return true;
		}
	}
	return false;
}

static void signals_read(struct watch_daemon *d);

static bool daemon_serves_any(const struct watch_daemon *d)
{
	const struct watch_root *root;

	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->gone && !root->disabled)
			return true;
	}
	return false;
}

/* One round: every root with work commits it. */
static void daemon_round(struct watch_daemon *d)
{
	struct watch_root *root;

	d->round++;
	for (root = d->roots; root != NULL; root = root->next) {
		/* a stop during a long rescan (startup with thousands of
		   Maildirs) leaves the remaining scans to the next start */
		signals_read(d);
		if (d->stop && root->need_full_scan)
			continue;
		watch_root_process(d, root);
	}
	watch_events_clear(d);
	watch_roots_reap(d);
	d->cookie_seen = false;
	log_limit_once(d);
}

/* Rescan every root (startup, overflow, SIGHUP). */
static void daemon_full_rescan(struct watch_daemon *d, const char *what)
{
	uint64_t start = watch_now_ms();
	struct watch_root *root;

	/* report this rescan's figures only */
	memset(&d->stats, 0, sizeof(d->stats));
	d->boxes_scanned = 0;
	for (root = d->roots; root != NULL; root = root->next)
		root->need_full_scan = true;
	watch_roots_watch_all(d);
	/* pending moves are settled by the scans */
	(void)watch_events_expire(d, true);
	/* a "sync" that waited for the rescan finds its summary logged */
	d->hold_cookies = true;
	daemon_round(d);
	log_scan_summary(d, what, start);
	d->hold_cookies = false;
	watch_roots_answer_cookies(d);
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
		log_scan_summary(d, "periodic rescan of unwatched mailboxes",
				 start);
	memset(&d->stats, 0, sizeof(d->stats));
	d->boxes_scanned = 0;
}

static int signals_open(sigset_t *mask_r)
{
	sigemptyset(mask_r);
	sigaddset(mask_r, SIGTERM);
	sigaddset(mask_r, SIGINT);
	sigaddset(mask_r, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask_r, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, mask_r, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void signals_read(struct watch_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			d->hup = true;
		else
			d->stop = true;
	}
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
   again (and cost the other core TLB flushes). */
#define IDLE_TRIM_MS 200

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
static void idle_check(struct daemon_idle *idle)
{
	if (idle->trimmed || watch_now_ms() < idle->since_ms + IDLE_TRIM_MS)
		return;
	idle->trimmed = true;
#ifdef HAVE_MALLOC_TRIM
	(void)malloc_trim(0);
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
		if (d->overflow) {
			d->overflow = false;
			watch_status_overflow(d);
			watch_log(d->log, WATCH_LOG_WARN, "inotify event queue "
				  "overflowed: rescanning all %u Maildirs "
				  "(raise /proc/sys/fs/inotify/max_queued_events "
				  "if this happens often)", d->root_count);
			daemon_full_rescan(d, "rescan after overflow");
		}
		if (daemon_has_work(d))
			daemon_round(d);
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
			daemon_full_rescan(d, "rescan on SIGHUP");
		}
		if (daemon_has_work(d))
			continue;
		if (backlog) {
			signals_read(d);
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
			idle_check(&idle);
			watch_prune_idle(d, watch_now_ms());
		}
		if (ret > 0 && (fds[0].revents & POLLIN) != 0)
			signals_read(d);
		if (ret > 0 && d->reader != NULL &&
		    (fds[1].revents & POLLIN) != 0)
			daemon_read(d);
		if (ret > 0 && nstatus > 0)
			watch_status_handle(d, fds + 2, nstatus);
	}
	/* finish the batch in hand */
	(void)watch_events_expire(d, true);
	daemon_round(d);
	return 0;
}

int watch_daemon_run(const struct watch_settings *set, struct watch_log *log)
{
	struct watch_daemon d;
	struct watch_inotify in;
	struct cs_error err;
	sigset_t mask;
	int sfd, ret, exit_code = 2;

	memset(&d, 0, sizeof(d));
	d.set = set;
	d.log = log;
	d.sfd = -1;
	d.in = &in;
	sfd = signals_open(&mask);
	d.sfd = sfd;
	if (sfd < 0) {
		watch_log(log, WATCH_LOG_ERROR, "signalfd: %s", strerror(errno));
		return 2;
	}
	if (watch_lockwait_init(&err) < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		close(sfd);
		return 2;
	}
	ret = watch_inotify_init(&in, set->max_watches, &err);
	if (ret < 0) {
		watch_log(log, WATCH_LOG_ERROR, "%s", err.text);
		watch_lockwait_deinit();
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
	watch_notify_status("startup scan of %u Maildirs", d.root_count);
	watch_roots_start_all(&d);
	daemon_full_rescan(&d, "startup");
	if (!d.stop && set->glob == NULL && !daemon_serves_any(&d)) {
		watch_log(log, WATCH_LOG_ERROR, "no Maildir could be served");
		goto out;
	}
	watch_log(log, WATCH_LOG_INFO, "watching %u Maildirs, %u mailboxes "
		  "(%u watches)%s", d.root_count, count_boxes(&d), in.count,
		  set->nosync ? ", commits without fsync (--nosync)" : "");
	watch_notify_ready(d.root_count, count_boxes(&d), in.count);
	exit_code = daemon_loop(&d, sfd);
	watch_notify_stopping();
	if (exit_code == 0)
		watch_log(log, WATCH_LOG_INFO, "stopped");
out:
	watch_reader_stop(&d.reader);
	watch_roots_shutdown(&d);
	watch_status_deinit(&d);
	watch_events_deinit(&d);
	watch_inotify_deinit(&in);
	watch_lockwait_deinit();
	close(sfd);
	sigprocmask(SIG_UNBLOCK, &mask, NULL);
	return exit_code;
}
