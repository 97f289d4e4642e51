/*
 * watch-notify.c - READY=1, STATUS= and STOPPING=1 for the service manager
 * (systemd's Type=notify), sent with libsystemd's sd_notify.
 *
 * No WATCHDOG=1: a full rescan (startup, overflow, SIGHUP) of a large
 * host runs for minutes without returning to the main loop, so a watchdog
 * would kill a daemon that is working.  The unit restarts it on failure.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#ifdef HAVE_SYSTEMD
#  include <systemd/sd-daemon.h>
#endif

#include "watch-notify.h"

static void notify_send(const char *text)
{
#ifdef HAVE_SYSTEMD
	/* errors are not the daemon's business: without a listener the
	   state is simply not reported */
	(void)sd_notify(0, text);
#else
	(void)text;
#endif
}

void watch_notify_status(const char *fmt, ...)
{
	char buf[512];
	va_list args;
	int len;

	len = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(args, fmt);
	(void)vsnprintf(buf + len, sizeof(buf) - (size_t)len, fmt, args);
	va_end(args);
	notify_send(buf);
}

void watch_notify_ready(unsigned int roots, unsigned int boxes,
			unsigned int watches)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=watching %u Maildirs, "
		 "%u mailboxes (%u watches)", roots, boxes, watches);
	notify_send(buf);
}

void watch_notify_stopping(void)
{
	notify_send("STOPPING=1\nSTATUS=stopping");
}
