/*
 * watch-log.h - the watch daemon's log: stderr (default), a file that
 * SIGHUP reopens (for logrotate), or syslog.
 */
#ifndef WATCH_LOG_H
#define WATCH_LOG_H

#include <stdbool.h>

#include "cs-error.h"
#include "cs-watch.h"

enum watch_log_level {
	WATCH_LOG_ERROR,
	WATCH_LOG_WARN,
	WATCH_LOG_INFO,
	WATCH_LOG_DEBUG		/* only with -v */
};

/* watch_log_open() and watch_log_close() are public (cs-watch.h);
   verbose > 0 enables WATCH_LOG_DEBUG. */

/* Reopen the file or syslog connection (SIGHUP). */
int watch_log_reopen(struct watch_log *log, struct cs_error *err);

bool watch_log_debug_enabled(const struct watch_log *log);
void watch_log(struct watch_log *log, enum watch_log_level level,
	       const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A cs_warn_cb whose ctx is a struct watch_log. */
void watch_log_warn_cb(void *ctx, const char *text);

#endif
