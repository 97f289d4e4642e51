/*
 * watch-daemon.h - the watch daemon: serve the Maildirs of set until
 * SIGTERM or SIGINT.
 */
#ifndef WATCH_DAEMON_H
#define WATCH_DAEMON_H

#include "watch.h"
#include "watch-log.h"

/* Run in the foreground.  Returns an exit code: 0 after SIGTERM/SIGINT,
   2 when it could not start. */
int watch_daemon_run(const struct watch_settings *set, struct watch_log *log);

#endif
