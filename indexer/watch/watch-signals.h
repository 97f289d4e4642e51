/*
 * watch-signals.h - the signals a watch daemon obeys, read through a
 * signalfd: SIGTERM and SIGINT stop it, SIGHUP reopens the log and
 * rescans.
 */
#ifndef WATCH_SIGNALS_H
#define WATCH_SIGNALS_H

#include <signal.h>

#include "watch.h"

/* Block SIGTERM, SIGINT and SIGHUP (into *mask_r, for unblocking), ignore
   SIGPIPE, and return a non-blocking signalfd for the three, or -1. */
int watch_signals_open(sigset_t *mask_r);
/* Take the signals that arrived on d->sfd into d->stop and d->hup.  Does
   nothing when d->sfd is -1. */
void watch_signals_read(struct watch_daemon *d);

#endif
