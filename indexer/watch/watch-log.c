/*
 * watch-log.c - the watch daemon's log: stderr, a file or syslog.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "cs-escape.h"
#include "watch-log.h"

struct watch_log {
	bool use_syslog;
	char *file;
	FILE *fp;		/* NULL: stderr */
	int verbose;
};

static int log_file_open(struct watch_log *log, struct cs_error *err)
{
	FILE *fp;

	fp = fopen(log->file, "ae");
	if (fp == NULL)
		return cs_error_sys(err, "opening log file %s", log->file);
	setvbuf(fp, NULL, _IOLBF, 0);
	if (log->fp != NULL)
		fclose(log->fp);
	log->fp = fp;
	return 0;
}

int watch_log_open(bool use_syslog, const char *file, int verbose,
		   struct watch_log **log_r, struct cs_error *err)
{
	struct watch_log *log;

	*log_r = NULL;
	log = calloc(1, sizeof(*log));
	if (log == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	log->use_syslog = use_syslog && file == NULL;
	log->verbose = verbose;
	if (file != NULL) {
		log->file = strdup(file);
		if (log->file == NULL || log_file_open(log, err) < 0) {
			watch_log_close(&log);
			return -1;
		}
	}
	if (log->use_syslog)
		openlog("condstore-watch", LOG_PID, LOG_MAIL);
	*log_r = log;
	return 0;
}

int watch_log_reopen(struct watch_log *log, struct cs_error *err)
{
	if (log->use_syslog) {
		closelog();
		openlog("condstore-watch", LOG_PID, LOG_MAIL);
	}
	return log->file != NULL ? log_file_open(log, err) : 0;
}

void watch_log_close(struct watch_log **_log)
{
	struct watch_log *log = *_log;

	if (log == NULL)
		return;
	*_log = NULL;
	if (log->use_syslog)
		closelog();
	if (log->fp != NULL)
		fclose(log->fp);
	free(log->file);
	free(log);
}

bool watch_log_debug_enabled(const struct watch_log *log)
{
	return log->verbose > 0;
}

static const char *level_name(enum watch_log_level level)
{
	switch (level) {
	case WATCH_LOG_ERROR:
		return "error: ";
	case WATCH_LOG_WARN:
		return "warning: ";
	case WATCH_LOG_INFO:
	case WATCH_LOG_DEBUG:
		break;
	}
	return "";
}

static int level_priority(enum watch_log_level level)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
				    LOG_DEBUG };

	return prio[level];
}

static void log_vprintf(struct watch_log *log, enum watch_log_level level,
			const char *fmt, va_list args)
{
	FILE *out = log->fp != NULL ? log->fp : stderr;
	char raw[2048], text[4 * sizeof(raw)];
	struct timespec ts;
	struct tm tm;

	if (level == WATCH_LOG_DEBUG && log->verbose == 0)
		return;
	vsnprintf(raw, sizeof(raw), fmt, args);
	/* names from disk: one log line stays one line */
	cs_escape_log(raw, text, sizeof(text));
	if (log->use_syslog) {
		syslog(level_priority(level), "%s%s", level_name(level), text);
		return;
	}
	if (log->fp != NULL) {
		/* a file has no timestamps of its own */
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		fprintf(out, "%04d-%02d-%02d %02d:%02d:%02d.%03ld ",
			tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000000);
	}
	fprintf(out, "condstore-watch: %s%s\n", level_name(level), text);
}

void watch_log(struct watch_log *log, enum watch_log_level level,
	       const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	log_vprintf(log, level, fmt, args);
	va_end(args);
}

void watch_log_warn_cb(void *ctx, const char *text)
{
	watch_log(ctx, WATCH_LOG_WARN, "%s", text);
}
