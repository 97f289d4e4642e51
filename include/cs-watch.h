/*
 * cs-watch.h - libcondstore-watch, the inotify daemon as a library on
 * libcondstore: what the condstore command's "watch", "sync" and
 * "daemon-status" call.  The daemon's own headers (indexer/watch/) are
 * out of the command's reach.
 */
#ifndef CS_WATCH_H
#define CS_WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cs-error.h"

/* --- the daemon --- */

struct watch_settings {
	const char *const *maildirs;	/* --maildir, may be empty */
	unsigned int maildir_count;
	const char *glob;		/* --maildirs-glob or NULL */
	const char *db;			/* --db (one Maildir only) or NULL */
	char separator;
	int verbose;
	bool nosync;			/* commit without fsync */
	unsigned int rescan_interval_ms;/* unwatched mailboxes, the glob */
	unsigned int batch_delay_ms;	/* let events accumulate */
	unsigned int pair_wait_ms;	/* wait for a MOVED_TO partner */
	unsigned int max_watches;	/* 0: as many as the kernel allows */
	unsigned int max_open;		/* indexes open at once */
	const char *status_socket;	/* --status-socket or NULL */
	unsigned int max_pending;	/* unpaired MOVED_FROMs held */
	size_t max_queue;		/* bytes of events read ahead */
	uint64_t prune_age_usec;	/* tombstones older are pruned */
};

#define WATCH_DEFAULT_RESCAN_MS 30000
#define WATCH_DEFAULT_BATCH_DELAY_MS 5
#define WATCH_DEFAULT_PAIR_WAIT_MS 20
#define WATCH_DEFAULT_MAX_OPEN 16
#define WATCH_DEFAULT_MAX_PENDING 4096
/* events read ahead while a commit or scan runs: about 160 bytes per
   rename, so 256 MiB hold the events of ~1.6M renames.  Taken only
   while the daemon is behind, and handed back once it has caught up;
   when it is full, the events dropped cost a rescan of their
   directories, which in a storm at 1M messages is minutes of work
   (doc/benchmarks.md) */
#define WATCH_DEFAULT_MAX_QUEUE (256 * 1024 * 1024)

/* Where the daemon of the system unit listens for "daemon-status"
   (RuntimeDirectory=); the report's format is in watch-status.h. */
#define WATCH_STATUS_SOCKET_DEFAULT "/run/condstore/watch.sock"

struct watch_log;

/* Run in the foreground, logging to log.  Returns an exit code: 0 after
   SIGTERM/SIGINT, 2 when it could not start. */
int watch_daemon_run(const struct watch_settings *set, struct watch_log *log);

/* --- its log: stderr (default), a file SIGHUP reopens, or syslog --- */

/* Open the log.  file NULL: stderr (or syslog when use_syslog).  verbose
   > 0 enables debug messages.  Returns 0, or -1 if file can't be
   opened. */
int watch_log_open(bool use_syslog, const char *file, int verbose,
		   struct watch_log **log_r, struct cs_error *err);
void watch_log_close(struct watch_log **log);

/* --- bounded waits for the locks of other processes --- */

/* Monotonic clock in milliseconds. */
uint64_t watch_now_ms(void);

/* A timer that ends the calling thread's waits for an index lock another
   process holds: once armed for ms, any tdb lock wait of an index opened
   with watch_lockwait_flag() as its lock_interrupt ends with CS_ERR_BUSY
   after ms.  init installs the handler and creates the calling thread's
   timer; returns 0 or -1. */
int watch_lockwait_init(struct cs_error *err);
void watch_lockwait_deinit(void);
/* Start (restart) the bound: lock waits end after ms from now. */
void watch_lockwait_arm(unsigned int ms);
/* The flag to pass as cs_index_settings.lock_interrupt. */
volatile sig_atomic_t *watch_lockwait_flag(void);

#endif
