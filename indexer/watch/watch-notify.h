/*
 * watch-notify.h - telling the service manager how the watch daemon is
 * doing (the sd_notify protocol: a datagram to $NOTIFY_SOCKET).  Without
 * libsystemd (configure --without-systemd) and when $NOTIFY_SOCKET is
 * unset, every call does nothing.
 */
#ifndef WATCH_NOTIFY_H
#define WATCH_NOTIFY_H


/* The startup scan is done: READY=1 and a STATUS= line with the daemon's
   figures. */
void watch_notify_ready(unsigned int roots, unsigned int boxes,
			unsigned int watches);
/* A STATUS= line, printf-style (shown by "systemctl status"). */
void watch_notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* Before the clean exit: STOPPING=1. */
void watch_notify_stopping(void);

#endif
