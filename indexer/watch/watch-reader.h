/*
 * watch-reader.h - the inotify reader thread: it drains the kernel's
 * event queue into a queue in the daemon's memory, so that the kernel
 * queue (fs.inotify.max_queued_events, 16384 events by default) does not
 * overflow while the main loop waits for a durable commit or scans a
 * directory.  The main loop takes the events in the kernel's order.
 *
 * The queue is bounded (max_bytes).  When it is full the thread goes on
 * draining the kernel queue but drops the events, and the main loop then
 * gets, in order, one IN_Q_OVERFLOW event naming the watches whose events
 * were dropped (see watch_reader_next).  The kernel's own IN_Q_OVERFLOW
 * (if the thread could not run for a long while) comes through as it is.
 * The thread touches nothing but the inotify fd and the queue.
 */
#ifndef WATCH_READER_H
#define WATCH_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/inotify.h>

#include "cs-error.h"

struct watch_reader;

/* Watches an overflow event names at most; beyond, it names none (all). */
#define WATCH_READER_LOST_MAX 64

/* Start a thread reading the (non-blocking) inotify fd.  After each
   wakeup it waits delay_ms, so that events accumulate and one read()
   returns many.  At most max_bytes of events are held.  Signals must be
   blocked already (the thread inherits the mask).  Returns 0, or -1 with
   err. */
int watch_reader_start(int fd, unsigned int delay_ms, size_t max_bytes,
		       struct watch_reader **reader_r, struct cs_error *err);
/* Stop and join the thread, drop what is queued, set *reader to NULL.
   Does nothing for *reader == NULL. */
void watch_reader_stop(struct watch_reader **reader);

/* An fd that polls readable when events were queued since the last
   watch_reader_clear_wake(). */
int watch_reader_wake_fd(const struct watch_reader *reader);
/* Reset the wake fd; call before taking the queued events. */
void watch_reader_clear_wake(struct watch_reader *reader);

/* Take the oldest queued event into *event_r; it stays valid until the
   next call.  Returns 1, 0 when the queue is empty, -1 once after the
   thread failed to read (err says why; events may have been lost: treat
   it as an overflow).
   After the queue was full, every event still queued is dropped too and
   the next event is the overflow marker: wd -1, mask IN_Q_OVERFLOW, and a
   name of len bytes holding the int watch descriptors whose events were
   dropped (len 0: too many, or the kernel's own overflow among them:
   rescan everything). */
int watch_reader_next(struct watch_reader *reader,
		      const struct inotify_event **event_r,
		      struct cs_error *err);
/* Bytes of events queued and not yet taken. */
size_t watch_reader_queued(struct watch_reader *reader);

#endif
