/*
 * watch-prune.c - pruning tombstones older than --prune-age from
 * the watch daemon's idle time, so that an index served by the daemon
 * does not grow without bound between cron runs.  Each prune also marks
 * the modseq clock (cs-horizon.h), which is what makes later prunes
 * possible.
 */
#include "config.h"

#include "watch-lockwait.h"
#include "watch-log.h"
#include "watch-prune.h"
#include "watch-roots.h"

/* Returns 0, or -1 when the index was locked (tried again soon). */
static int prune_root(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_index *index;
	struct cs_error err;
	unsigned int pruned;

	cs_error_clear(&err);
	if (watch_root_index(d, root, &index, &err) < 0 ||
	    cs_index_prune(index, NULL, d->set->prune_age_usec, &pruned,
			   &err) < 0) {
		/* a lock someone holds: the next idle prune tries again */
		watch_log(d->log, err.code == CS_ERR_BUSY ? WATCH_LOG_DEBUG :
			  WATCH_LOG_ERROR, "%s: prune: %s", root->path,
			  err.text);
		return err.code == CS_ERR_BUSY ? -1 : 0;
	}
	if (pruned > 0) {
		watch_log(d->log, WATCH_LOG_INFO, "%s: pruned %u tombstone%s "
			  "older than %llu s", root->path, pruned,
			  pruned == 1 ? "" : "s",
			  (unsigned long long)(d->set->prune_age_usec /
					       1000000));
	}
	return 0;
}

void watch_prune_idle(struct watch_daemon *d, uint64_t now_ms)
{
	struct watch_root *root;
	struct cs_owner owner;
	bool busy = false;

	if (d->next_prune_ms != 0 && now_ms < d->next_prune_ms)
		return;
	for (root = d->roots; root != NULL; root = root->next) {
		/* like every other access to an index, never waiting for a
		   lock another process holds (a busy root waits for its
		   retry; any other wait ends with the lock-wait timer) */
		if (root->disabled || root->gone)
			continue;
		/* not started yet: its start met a lock */
		if (!root->started || watch_root_waiting(root, now_ms)) {
			busy = true;
			continue;
		}
		if (!watch_root_enter(d, root, &owner))
			continue;
		watch_lockwait_arm(WATCH_LOCK_WAIT_MS);
		if (prune_root(d, root) < 0)
			busy = true;
		watch_lockwait_disarm();
		watch_root_leave(&owner);
	}
	/* a locked root is tried again once its lock may be gone (roots
	   pruned meanwhile only add a mark) */
	d->next_prune_ms = now_ms + (busy ? WATCH_RETRY_MAX_MS :
				     WATCH_PRUNE_INTERVAL_MS);
}
