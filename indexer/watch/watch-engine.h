/*
 * watch-engine.h - the daemon's work without its loop: what is due after
 * a batch of events was taken (watch-events.h), done in rounds of one
 * transaction per root, and the full rescans (startup, overflow, SIGHUP).
 * The main loop (watch-daemon.c) feeds it events from the reader thread;
 * the unit tests feed it synthetic ones.
 */
#ifndef WATCH_ENGINE_H
#define WATCH_ENGINE_H

#include "watch.h"

/* Does any root have work (items of the batch, a scan, a start, a sync
   cookie)?  Roots waiting for a retry have none yet. */
bool watch_engine_has_work(const struct watch_daemon *d);

/* One round: every root with work commits it; the batch is cleared and
   retired roots and mailboxes are freed.  A stop (d->stop, signals read
   between roots) leaves the remaining full scans to the next start. */
void watch_engine_round(struct watch_daemon *d);

/* Rescan every root (startup, overflow, SIGHUP) and log a summary saying
   what (the summary is logged before the sync cookies are answered). */
void watch_engine_full_rescan(struct watch_daemon *d, const char *what);

/* What is due now: a full rescan after an overflow (d->overflow), then a
   round if any root has work. */
void watch_engine_work(struct watch_daemon *d);

/* Log what the scans since the last summary found (started at the
   monotonic start_ms), and reset the figures. */
void watch_engine_log_scans(struct watch_daemon *d, const char *what,
			    uint64_t start_ms);

/* The live mailboxes of every root. */
unsigned int watch_engine_count_boxes(const struct watch_daemon *d);

#endif
