/*
 * cs-horizon.h - the expunge horizon of a mailbox: VANISHED answers that
 * are never short, and pruning old tombstones.
 *
 * Each mailbox records a horizon (struct cs_mailbox_rec.horizon, like
 * Cyrus's deletedmodseq): every expunge with a modseq above it has its
 * tombstone.  It starts at the modseq the mailbox was created with, since
 * nothing before the index existed has a tombstone, and pruning raises it.
 * The rule for what lies below: every UID below UIDNEXT that is neither a
 * message nor a tombstone was expunged at or below the horizon.  So a
 * VANISHED request from at or above the horizon is answered exactly from
 * the tombstones; one from below it gets every UID below UIDNEXT that is
 * not a message (RFC 7162 3.2.5.2: the server MAY send UIDs the client
 * never knew, never fewer than it should), and says so.
 *
 * Pruning measures age with the modseq clock.  Modseqs are seeded from the
 * clock in microseconds but then advance by one per change, so a modseq
 * alone does not tell when it was issued.  Each prune therefore records a
 * clock mark (now, HIGHESTMODSEQ) in the mailbox's "k" record: every
 * modseq at or below a mark's modseq was issued at or before the mark's
 * time.  Tombstones older than AGE are those at or below the newest mark
 * taken at least AGE ago; a mailbox gets its first such mark at the first
 * prune, so a prune drops nothing of the last AGE before marks existed.
 * With AGE 0 the mark just taken applies: every tombstone goes.
 */
#ifndef CS_HORIZON_H
#define CS_HORIZON_H

#include <stdbool.h>
#include <stdint.h>

#include "cs-index.h"
#include "cs-uidset.h"

/* Tombstones older than this are pruned by default: 30 days, in
   microseconds (the unit of the modseq clock). */
#define CS_PRUNE_AGE_DEFAULT (UINT64_C(30) * 86400 * 1000000)
/* clock marks kept per mailbox (older ones are dropped first) */
#define CS_CLOCK_MARKS_MAX 64

/* The mailbox's horizon: expunges with a modseq above it all have
   tombstones.  For a mailbox record written before the horizon was
   set at creation (0), the modseq its counter was first seeded with.
   Returns 0 or -1. */
int cs_mailbox_horizon(struct cs_mailbox *box, uint64_t *horizon_r,
		       struct cs_error *err);

/* VANISHED: the UIDs of within (NULL: every UID; CS_UID_STAR stands for
   the highest UID below UIDNEXT) expunged with a modseq above since, added
   to uids_r (initialised by the caller).  When since is below the
   horizon, *below_horizon_r is set and the answer is every such UID below
   UIDNEXT that is not a message (a superset).  Cost: the change-log walk
   above the horizon; below it, one step per 4096 UIDs up to the highest
   message (never per UID of a range, whatever UIDNEXT says), and the
   answer is ranges.  Returns 0 or -1. */
int cs_vanished(struct cs_mailbox *box, uint64_t since,
		const struct cs_uidset *within, struct cs_uidset *uids_r,
		bool *below_horizon_r, struct cs_error *err);

/* In a transaction: record a clock mark (now_usec, HIGHESTMODSEQ), drop
   the tombstones (and their change-log entries) older than age_usec by
   the marks, and raise the horizon to the cutoff; all of it commits or
   none does.  *pruned_r (may be NULL) gets the number dropped. */
int cs_mailbox_prune(struct cs_mailbox *box, uint64_t age_usec,
		     uint64_t now_usec, unsigned int *pruned_r,
		     struct cs_error *err);

/* cs_mailbox_prune for mailbox name (NULL: every mailbox of the index),
   each in a transaction of its own, at the current time.  *pruned_r (may
   be NULL) gets the total.  Returns 0 or -1. */
int cs_index_prune(struct cs_index *index, const char *name,
		   uint64_t age_usec, unsigned int *pruned_r,
		   struct cs_error *err);

#endif
