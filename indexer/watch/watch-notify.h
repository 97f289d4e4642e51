/*
 * watch-notify.h - telling the service manager how the watch daemon is
 * doing (the sd_notify protocol: a datagram to $NOTIFY_SOCKET), with
 * libsystemd's sd_notify.  libsystemd is loaded (dlopen) by the daemon,
 * and only when $NOTIFY_SOCKET is set: the condstore command is not
 * linked with it, so that its other verbs do not load it and the six
 * libraries it pulls in (about 2.5 ms at every start).  Without
 * libsystemd at build time (configure --without-systemd) or when
 * $NOTIFY_SOCKET is unset, every call does nothing.
 */
#ifndef WATCH_NOTIFY_H
#define WATCH_NOTIFY_H

#include "cs-error.h"

struct watch_notify;

/* The channel to the service manager.  Returns 1 with *notify_r (when
   $NOTIFY_SOCKET is set and libsystemd was loaded), 0 with *notify_r
   NULL when there is none to tell (every call below then does nothing),
   -1 with *notify_r NULL when $NOTIFY_SOCKET is set but libsystemd could
   not be loaded (err says why and what to install: the service manager
   would wait for READY=1 in vain). */
int watch_notify_open(struct watch_notify **notify_r, struct cs_error *err);
/* Unload libsystemd; sets *notify to NULL (NULL: nothing to do). */
void watch_notify_close(struct watch_notify **notify);

/* The startup scan is done: READY=1 and a STATUS= line with the daemon's
   figures. */
void watch_notify_ready(struct watch_notify *notify, unsigned int roots,
			unsigned int boxes, unsigned int watches);
/* A STATUS= line, printf-style (shown by "systemctl status"). */
void watch_notify_status(struct watch_notify *notify, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Before the clean exit: STOPPING=1. */
void watch_notify_stopping(struct watch_notify *notify);

#endif
