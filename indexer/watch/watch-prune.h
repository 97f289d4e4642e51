/*
 * watch-prune.h - the watch daemon drops old tombstones while idle.
 */
#ifndef WATCH_PRUNE_H
#define WATCH_PRUNE_H

#include "watch.h"

/* the daemon prunes at most this often (and only when idle) */
#define WATCH_PRUNE_INTERVAL_MS (UINT64_C(3600) * 1000)

/* After a poll that found nothing to do: when WATCH_PRUNE_INTERVAL_MS
   has passed since the last time (or never), prune every mailbox of
   every root served with the --prune-age (cs_index_prune, one
   transaction per mailbox), logging what was dropped. */
void watch_prune_idle(struct watch_daemon *d, uint64_t now_ms);

#endif
