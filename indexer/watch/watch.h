/*
 * watch.h - the watch daemon's shared state: the Maildir roots it serves,
 * their mailboxes, and the daemon that ties inotify, events and the index
 * together.  Each concern lives in its own file:
 *   watch-log.c      logging to stderr, a file or syslog
 *   watch-inotify.c  the inotify fd, watches, the wd table, limits
 *   watch-reader.c   the thread draining inotify into a queue in memory
 *   watch-tree.c     the model: a root's mailboxes, queued folder
 *                    renames, sync cookies
 *   watch-events.c   raw events -> per-message work, cookie pairing,
 *                    coalescing, committing a batch
 *   watch-roots.c    roots and mailboxes: glob expansion, watching,
 *                    scanning, folder changes, sync cookies, the
 *                    bounded set of open indexes
 *   watch-state.c    the unclean-stop marker and --nosync recovery
 *   watch-lockwait.c the bound on waits for another process's lock
 *   watch-engine.c   rounds of work per root, full rescans
 *   watch-signals.c  SIGTERM, SIGINT, SIGHUP through a signalfd
 *   watch-daemon.c   the main loop, periodic rescans, sync cookies
 *   watch-status.c   figures per root and the status socket
 *   watch-notify.c   READY=1 and STATUS= for the service manager
 */
#ifndef WATCH_H
#define WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "condstore.h"
#include "cs-watch.h"

struct watch_log;
struct watch_events;
struct watch_reader;
struct watch_status;
struct watch_root_figures;

/* a root's work waits at most this long for a lock another process
   holds on its index (see watch-lockwait.h); the root is then retried
   after WATCH_RETRY_MIN_MS, doubling up to WATCH_RETRY_MAX_MS, while the
   other roots are served.  A root whose index was locked starts from
   WATCH_BUSY_RETRY_MIN_MS instead: the lock is most often the plugin's
   transaction of a STORE, which lasts a few milliseconds, and the sync
   cookies of every session of the Maildir wait for the retry (after
   100 ms, five imaptest sessions ran a fifth of stock Dovecot's
   commands); a lock held for good still ends at one try every
   WATCH_RETRY_MAX_MS, a few doublings later */
#define WATCH_LOCK_WAIT_MS 200
#define WATCH_RETRY_MIN_MS 100
#define WATCH_BUSY_RETRY_MIN_MS 2
#define WATCH_RETRY_MAX_MS 5000
/* how often roots without a root watch are looked at for sync cookies */
#define WATCH_COOKIE_POLL_MS 100

enum watch_kind {
	WATCH_KIND_ROOT,	/* the Maildir root: folders, sync cookies */
	WATCH_KIND_FOLDER,	/* a .Folder still missing new/ or cur/ */
	WATCH_KIND_NEW,		/* a mailbox's new/ */
	WATCH_KIND_CUR		/* a mailbox's cur/ */
};

struct watch_box {
	struct watch_box *next;
	struct watch_root *root;
	char *name;		/* "INBOX", "A.B" */
	char *path;		/* the mailbox directory */
	int wd_new, wd_cur, wd_folder;	/* -1: none */
	bool unwatched;		/* a watch is missing: rescanned instead */
	bool symlinked;		/* its new/ or cur/ is a symlink: not
				   served (rescanned like an unwatched
				   mailbox) until it is a directory again */
	bool deferred;		/* the last scan could not confirm some
				   expunges (directory kept changing):
				   rescanned like an unwatched mailbox */
	bool need_setup;	/* add the missing watches, then scan */
	bool need_scan;
	bool gone;		/* retired; freed by watch_roots_reap() */
	bool listed;		/* seen by the last folder listing */
	unsigned int scan_round;/* the round it was last scanned in */
	unsigned int settle_count;/* this batch's items to settle from the
				   directory (watch_events_plan_root) */
	struct cs_mailbox *mbox;/* open during a batch transaction */
};

/* A folder rename seen in the root, applied by the next folder sync. */
struct watch_rename {
	struct watch_rename *next;
	char *from, *to;
};

struct watch_root {
	struct watch_root *next;
	char *path;		/* real path of the Maildir root */
	int wd;			/* root watch, -1: none */
	bool from_glob, matched;/* matched: seen by the last glob expansion */
	bool started;		/* registered, first full scan done */
	bool disabled;		/* served by another daemon, or failing */
	bool gone;
	bool need_full_scan;	/* folders + every mailbox */
	bool need_folders;	/* folder list changed */
	unsigned int pending_folder_moves;
	struct watch_box *boxes;
	struct watch_rename *renames;
	struct cs_index *index;	/* open while in the LRU */
	uint64_t used;		/* LRU stamp */
	char **cookies;		/* sync cookies to acknowledge */
	unsigned int cookie_count;
	size_t cookie_alloc;
	bool cookies_due;	/* processed while cookies were held */
	bool changed;		/* this round recorded changes: announce
				   them (cs_sync_announce) */
	/* the last round failed (index locked by another process, a scan
	   or commit failed): nothing waits on it, its cookies stay
	   unanswered, and it is tried again at retry_ms (monotonic) */
	uint64_t retry_ms;
	unsigned int retry_delay_ms;	/* 0: the last round succeeded */
	bool busy_logged;	/* "locked by another process" was logged */
	int first_item, last_item;	/* this batch's work items, -1 */
	/* the round failed on a lock: the batch's items stay for the retry
	   (watch_events_clear) instead of turning into scans */
	bool keep_items;
	unsigned int item_count;	/* of first_item's list (clear) */
	struct watch_root_figures *figures;	/* watch-status.c */
};

struct watch_inotify;

struct watch_daemon {
	const struct watch_settings *set;
	struct watch_log *log;
	struct watch_inotify *in;
	struct watch_reader *reader;	/* NULL: no inotify */
	struct watch_events *ev;
	struct watch_status *status;	/* figures, status socket */
	struct watch_root *roots;
	unsigned int root_count, open_count;
	uint64_t lru_clock;
	unsigned int round;	/* one per batch */
	bool overflow;		/* IN_Q_OVERFLOW seen */
	bool cookie_seen;	/* a sync cookie arrived in this batch */
	bool hold_cookies;	/* answer cookies only after the rescan's
				   summary is logged */
	int sfd;		/* signalfd: SIGTERM, SIGINT, SIGHUP */
	bool stop, hup;
	struct cs_scan_stats stats;	/* of scans since last reported */
	unsigned int boxes_scanned;
	bool limit_logged;
	uint64_t next_rescan_ms;/* monotonic */
	uint64_t next_cookie_poll_ms;
	uint64_t next_prune_ms;	/* watch-prune.c; 0: at the first idle */
};

#endif
