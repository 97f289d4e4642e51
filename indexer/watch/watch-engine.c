/*
 * watch-engine.c - the work a watch daemon does once events were taken:
 * rounds that bring every root with work up to date (one transaction per
 * root), full rescans, and the summaries they log.
 */
#include "config.h"

#include <string.h>

#include "watch-engine.h"
#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-log.h"
#include "watch-roots.h"
#include "watch-signals.h"
#include "watch-status.h"

unsigned int watch_engine_count_boxes(const struct watch_daemon *d)
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

void watch_engine_log_scans(struct watch_daemon *d, const char *what,
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

bool watch_engine_has_work(const struct watch_daemon *d)
{
	const struct watch_root *root;
	const struct watch_box *box;
	uint64_t now = watch_now_ms();

	for (root = d->roots; root != NULL; root = root->next) {
		if (root->gone || root->disabled ||
		    watch_root_waiting(root, now))
			continue;
		/* (the items a waiting root keeps are no work before its
		   retry) */
		if (root->first_item >= 0)
			return true;
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

void watch_engine_round(struct watch_daemon *d)
{
	struct watch_root *root;

	d->round++;
	for (root = d->roots; root != NULL; root = root->next) {
		/* a stop during a long rescan (startup with thousands of
		   Maildirs) leaves the remaining scans to the next start */
		watch_signals_read(d);
		if (d->stop && root->need_full_scan)
			continue;
		watch_root_process(d, root);
	}
	watch_events_clear(d);
	watch_roots_reap(d);
	d->cookie_seen = false;
	log_limit_once(d);
}

void watch_engine_full_rescan(struct watch_daemon *d, const char *what)
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
	watch_engine_round(d);
	watch_engine_log_scans(d, what, start);
	d->hold_cookies = false;
	watch_roots_answer_cookies(d);
}

void watch_engine_work(struct watch_daemon *d)
{
	if (d->overflow) {
		d->overflow = false;
		watch_status_overflow(d);
		watch_log(d->log, WATCH_LOG_WARN, "inotify event queue "
			  "overflowed: rescanning all %u Maildirs (raise "
			  "/proc/sys/fs/inotify/max_queued_events if this "
			  "happens often)", d->root_count);
		watch_engine_full_rescan(d, "rescan after overflow");
	}
	if (watch_engine_has_work(d))
		watch_engine_round(d);
}
