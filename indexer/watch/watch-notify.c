/*
 * watch-notify.c - READY=1, STATUS= and STOPPING=1 for the service manager
 * (systemd's Type=notify), sent with libsystemd's sd_notify, which is
 * loaded with dlopen when $NOTIFY_SOCKET is set (see watch-notify.h).
 *
 * No WATCHDOG=1: a full rescan (startup, overflow, SIGHUP) of a large
 * host runs for minutes without returning to the main loop, so a watchdog
 * would kill a daemon that is working.  The unit restarts it on failure.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef HAVE_SYSTEMD
#  include <dlfcn.h>
#  include <systemd/sd-daemon.h>
#endif

#include "watch-notify.h"

#ifdef HAVE_SYSTEMD
/* libsystemd's soname, unchanged since systemd 209 (2014) */
#  define LIBSYSTEMD_SONAME "libsystemd.so.0"
/* the header's prototype, so that a changed signature fails the build */
typedef __typeof__(sd_notify) sd_notify_fn;
#endif

struct watch_notify {
	void *lib;
#ifdef HAVE_SYSTEMD
	sd_notify_fn *notify;
#endif
};

int watch_notify_open(struct watch_notify **notify_r, struct cs_error *err)
{
#ifdef HAVE_SYSTEMD
	struct watch_notify *n;
	const char *why;
	void *lib;

	*notify_r = NULL;
	if (getenv("NOTIFY_SOCKET") == NULL)
		return 0;
	lib = dlopen(LIBSYSTEMD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		why = dlerror();
		return cs_error_set(err, CS_ERR_IO, "$NOTIFY_SOCKET is set, but "
				    "%s could not be loaded to answer it: %s "
				    "(apt-get install libsystemd0)",
				    LIBSYSTEMD_SONAME,
				    why != NULL ? why : "unknown error");
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		dlclose(lib);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	n->lib = lib;
	n->notify = (sd_notify_fn *)dlsym(lib, "sd_notify");
	if (n->notify == NULL) {
		watch_notify_close(&n);
		return cs_error_set(err, CS_ERR_IO, "%s has no sd_notify",
				    LIBSYSTEMD_SONAME);
	}
	*notify_r = n;
	return 1;
#else
	(void)err;
	*notify_r = NULL;
	return 0;
#endif
}

void watch_notify_close(struct watch_notify **notify)
{
	struct watch_notify *n = *notify;

	if (n == NULL)
		return;
	*notify = NULL;
#ifdef HAVE_SYSTEMD
	dlclose(n->lib);
#endif
	free(n);
}

static void notify_send(struct watch_notify *n, const char *text)
{
	if (n == NULL)
		return;
#ifdef HAVE_SYSTEMD
	/* errors are not the daemon's business: without a listener the
	   state is simply not reported */
	(void)n->notify(0, text);
#else
	(void)text;
#endif
}

void watch_notify_status(struct watch_notify *notify, const char *fmt, ...)
{
	char buf[512];
	va_list args;
	int len;

	if (notify == NULL)
		return;
	len = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(args, fmt);
	(void)vsnprintf(buf + len, sizeof(buf) - (size_t)len, fmt, args);
	va_end(args);
	notify_send(notify, buf);
}

void watch_notify_ready(struct watch_notify *notify, unsigned int roots,
			unsigned int boxes, unsigned int watches)
{
	char buf[512];

	if (notify == NULL)
		return;
	snprintf(buf, sizeof(buf), "READY=1\nSTATUS=watching %u Maildirs, "
		 "%u mailboxes (%u watches)", roots, boxes, watches);
	notify_send(notify, buf);
}

void watch_notify_stopping(struct watch_notify *notify)
{
	notify_send(notify, "STOPPING=1\nSTATUS=stopping");
}
