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

#include <signal.h>

#include "condstore.h"

/* Install the handler and create the calling thread's timer.  Returns 0
   or -1. */
int watch_lockwait_init(struct cs_error *err);
void watch_lockwait_deinit(void);

/* Start (restart) the bound: lock waits end after ms from now. */
void watch_lockwait_arm(unsigned int ms);
/* Stop the timer and clear the flag. */
void watch_lockwait_disarm(void);

/* The flag to pass as cs_index_settings.lock_interrupt. */
volatile sig_atomic_t *watch_lockwait_flag(void);

#endif
