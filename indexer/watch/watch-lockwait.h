/*
 * watch-lockwait.h - the bound on how long the watch daemon's main thread
 * waits for a lock another process holds on an index.
 *
 * Armed around the work of one root: once WATCH_LOCK_WAIT_MS have passed,
 * the flag is set and a signal (SIGALRM, to the main thread only) arrives
 * every few milliseconds, so that any tdb lock wait of an index opened
 * with the flag as its lock_interrupt ends with CS_ERR_BUSY.
 */
#ifndef WATCH_LOCKWAIT_H
#define WATCH_LOCKWAIT_H

#include "condstore.h"
#include "cs-watch.h"

/* watch_lockwait_init(), _deinit(), _arm() and _flag() are public
   (cs-watch.h), for "condstore sync" too. */

/* Stop the timer and clear the flag. */
void watch_lockwait_disarm(void);

#endif
