/*
 * watch-status.h - how the watch daemon is doing, for "condstore
 * daemon-status": figures kept per root (events, changes, commits, lag,
 * rescans, errors), the roots it gave up on with the reason, and a unix
 * socket that answers every connection with a report and closes it.
 *
 * Whoever connects sees only the roots whose directory they own (the
 * peer's uid from SO_PEERCRED against the owner of the root); root and
 * the daemon's own user see every root.
 *
 * The report is text, one line per record, fields "key=value" separated
 * by one space; values never hold a byte <= 0x20, 0x7f or '\' (those are
 * written as \xHH):
 *   daemon pid=P since=USEC roots=N given_up=N overflows=N queued=BYTES
 *   root path=PATH state=ok|error|given-up mailboxes=N watches=N
 *        unwatched=N lag_ms=N events=N changes=N commits=N
 *        last_commit=USEC rescans=N dir_reads=N errors=N
 *        last_error=TEXT
 *   end
 * (USEC: microseconds since the epoch, 0 for never; dir_reads: new/ and
 * cur/ listings read in full, by scans and by finding a message whose
 * name an event did not tell; last_error only when
 * there was one; a root given up has path, state, errors and last_error,
 * its reason.)
 */
#ifndef WATCH_STATUS_H
#define WATCH_STATUS_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "watch.h"

/* WATCH_STATUS_SOCKET_DEFAULT is public (cs-watch.h). */
/* Connections answered at once; the oldest is dropped beyond that. */
#define WATCH_STATUS_MAX_CLIENTS 4
/* pollfds watch_status_pollfds() may fill */
#define WATCH_STATUS_MAX_FDS (1 + WATCH_STATUS_MAX_CLIENTS)

/* What a root went through (in struct watch_root). */
struct watch_root_figures {
	uint64_t events;	/* inotify events taken for it */
	uint64_t changes;	/* modseqs assigned (events and scans) */
	uint64_t commits;	/* batch transactions */
	uint64_t last_commit_usec;	/* wall clock, 0: none yet */
	unsigned int lag_ms;	/* last batch: taken -> committed */
	unsigned int rescans;	/* full scans (startup, overflow, HUP) */
	uint64_t dir_reads;	/* of indexes closed since (the open one
				   counts its own: cs_index_dir_reads()) */
	unsigned int errors;
	bool failing;		/* the last processing ended in an error */
	unsigned int error_round;	/* d->round of the last error */
	char *last_error;
	uid_t owner;		/* of the root directory */
};

/* Start the figures of d; with socket_path (NULL: none) listen there
   (mode 0666; a stale socket is replaced, one another daemon answers on
   is left alone and logged).  Returns 0, or -1 (logged). */
int watch_status_init(struct watch_daemon *d, const char *socket_path);
void watch_status_deinit(struct watch_daemon *d);

/* Fill up to WATCH_STATUS_MAX_FDS pollfds; returns how many. */
unsigned int watch_status_pollfds(struct watch_daemon *d, struct pollfd *fds);
/* Serve the pollfds filled by watch_status_pollfds() after poll(). */
void watch_status_handle(struct watch_daemon *d, const struct pollfd *fds,
			 unsigned int count);

/* Hooks: a batch was taken from the queue; an inotify event for root;
   a batch of root committed with changes new modseqs; a scan of a
   mailbox of root found changes; a full scan of root started; an error
   (text) in root, or a pass over root without one; an overflow. */
void watch_status_batch_taken(struct watch_daemon *d);
void watch_status_event(struct watch_root *root);
void watch_status_committed(struct watch_daemon *d, struct watch_root *root,
			    uint64_t changes);
void watch_status_scanned(struct watch_root *root, uint64_t changes);
void watch_status_rescan(struct watch_root *root);
/* The root's index is about to be closed: keep its directory reads. */
void watch_status_index_closing(struct watch_root *root);
void watch_status_error(struct watch_daemon *d, struct watch_root *root,
			const char *text);
void watch_status_ok(struct watch_daemon *d, struct watch_root *root);
void watch_status_overflow(struct watch_daemon *d);
/* The root is not served any more (reason: why); it is reported as given
   up until a root of the same path starts again. */
void watch_status_give_up(struct watch_daemon *d, struct watch_root *root,
			  const char *reason);
/* The root started: forget a previous give-up of its path, note its
   owner. */
void watch_status_started(struct watch_daemon *d, struct watch_root *root);
/* Free what root's figures hold. */
void watch_root_figures_free(struct watch_root *root);

#endif
