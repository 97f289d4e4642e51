/*
 * condstore-view.c - the HIGHESTMODSEQ a session's view stands for.
 *
 * RFC 7162 lets a client resynchronise from the last HIGHESTMODSEQ it was
 * told: the server then reports every change above it, and nothing at or
 * below it again.  So a HIGHESTMODSEQ sent to a session must count only
 * changes the session's view already shows.  The index's own top does not
 * qualify: the watch daemon, another session's expunge (written through)
 * and the plugin's reconciles record changes before Dovecot's view of this
 * session takes them in (its next sync, or later for expunges it must
 * delay during FETCH, STORE and SEARCH).  A client that took such a top
 * and reconnected with SELECT (QRESYNC ...) would never hear of those
 * changes: a message it never saw, or an expunge it was never told of
 * (Dovecot's tester: "UID changed for sequence", "Message count
 * dropped").  Stock Dovecot has the same rule for its own modseqs (a
 * view's highest modseq is that of the index it was synced to, and
 * imap-sync.c sends a lower one while expunges are delayed).
 *
 * The answer is the highest modseq V such that every change of the index
 * up to V is in the view:
 *
 *   - a live record: its UID is in the view, with the flags and keywords
 *     its file name carries;
 *   - a tombstone: its UID is not in the view.
 *
 * V is one below the lowest modseq of a change that is not in the view,
 * or the index's top when every change is.  The walk starts from the
 * view's floor, the V found last time (everything up to it was in the
 * view then, and a view only moves forward; a change to a message is a
 * new modseq above the top), so its cost is the number of changes since.
 * A view's first floor is the point our header extension in Dovecot's
 * index records (the change-log point Dovecot's index was brought up to
 * date with by a sync served from the change log, or the top read before
 * a scan of cur/): the view, read from that index, holds at least that.
 *
 * A flag state the view shows that is newer than the index's (an agent
 * renamed the file and nobody recorded it yet) also counts as "not in the
 * view": V is then lower than it could be, which costs the client a few
 * more FETCH responses when it resynchronises, never a change missed.
 */
#include "lib.h"
#include "mail-index.h"

#include "condstore-plugin.h"
#include "condstore-maildir.h"

struct condstore_view_walk {
	struct mailbox *box;
	struct mail_index_view *view;
	struct maildir_keywords_sync_ctx *kw_ctx;
	uint64_t lowest;	/* lowest modseq not in the view */
	uint32_t lowest_uid;
};

static void condstore_view_missing(struct condstore_view_walk *walk,
				   uint32_t uid, uint64_t modseq)
{
	if (modseq < walk->lowest) {
		walk->lowest = modseq;
		walk->lowest_uid = uid;
	}
}

static int condstore_view_change_cb(void *context,
				    const struct cs_message *msg,
				    struct cs_error *err ATTR_UNUSED)
{
	struct condstore_view_walk *walk = context;
	uint32_t seq;

	if (msg->rec.uid == 0 ||
	    !mail_index_lookup_seq(walk->view, msg->rec.uid, &seq) ||
	    !condstore_view_shows_name(walk->box, walk->kw_ctx, walk->view,
				       seq, t_strconcat(msg->base,
							msg->suffix, NULL)))
		condstore_view_missing(walk, msg->rec.uid, msg->rec.modseq);
	return 0;
}

static int condstore_view_expunge_cb(void *context, uint32_t uid,
				     uint64_t modseq,
				     struct cs_error *err ATTR_UNUSED)
{
	struct condstore_view_walk *walk = context;
	uint32_t seq;

	if (uid != 0 && mail_index_lookup_seq(walk->view, uid, &seq))
		condstore_view_missing(walk, uid, modseq);
	return 0;
}

/* Walk the changes above floor.  Returns the lowest modseq of one the
   view does not show (top + 1 if none), or 0 on error (logged). */
static uint64_t condstore_view_walk(struct mailbox *box,
				    struct cs_mailbox *cbox, uint64_t floor,
				    uint64_t top)
{
	struct condstore_view_walk walk;
	struct cs_error err;
	int ret;

	i_zero(&walk);
	walk.box = box;
	walk.view = box->view;
	walk.lowest = top + 1;
	walk.kw_ctx = condstore_maildir_keywords_init(box);
	cs_error_clear(&err);
	ret = cs_changes_since(cbox, floor, condstore_view_change_cb, &walk,
			       &err);
	if (ret >= 0) {
		ret = cs_expunges_since(cbox, floor,
					condstore_view_expunge_cb, &walk,
					&err);
		/* below the horizon: pruned tombstones are older than any
		   view that could still show their messages */
		if (ret < 0 && err.code == CS_ERR_LIMIT)
			ret = 0;
	}
	condstore_maildir_keywords_deinit(&walk.kw_ctx);
	if (ret < 0) {
		condstore_log_error(box, "the changes since the view's point",
				    &err);
		return 0;
	}
	if (walk.lowest <= top) {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": HIGHESTMODSEQ "
			"%"PRIu64": the view does not show the change of UID "
			"%u at %"PRIu64" yet (index top %"PRIu64")",
			walk.lowest - 1, walk.lowest_uid, walk.lowest, top);
	}
	return walk.lowest;
}

uint64_t condstore_view_modseq(struct mailbox *box, struct cs_mailbox *cbox)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(cbox);
	uint64_t top = rec->highestmodseq, floor, lowest;

	if (!condstore_mailbox_uids_shared(box, cbox)) {
		/* the index's UIDs are not the view's (before the first
		   sync took Dovecot's): nothing to compare */
		return top;
	}
	if (cmbox->view_floor_id != rec->id) {
		cmbox->view_floor_id = rec->id;
		cmbox->view_floor = 0;
	}
	floor = cmbox->view_floor;
	if (floor == 0)
		floor = condstore_sync_view_point(box, rec);
	if (floor >= top) {
		cmbox->view_floor = top;
		return top;
	}
	T_BEGIN {
		lowest = condstore_view_walk(box, cbox, floor, top);
	} T_END;
	if (lowest == 0) {
		/* what is known to be in the view, or the top if nothing */
		return floor != 0 ? floor : top;
	}
	cmbox->view_floor = lowest - 1;
	/* (never 0, which would say "no modseqs"; modseqs are far above) */
	return I_MAX(lowest - 1, 1);
}

void condstore_view_given(struct mailbox *box, uint64_t modseq)
{
	struct condstore_mailbox *cmbox = CONDSTORE_MAILBOX_CONTEXT(box);

	if (cmbox != NULL && modseq > cmbox->view_max_given)
		cmbox->view_max_given = modseq;
}

/* A view's first floor, taken right after a sync that left nothing
   delayed: the point our header records is then what the view holds.
   Read later, after syncs that delayed expunges (FETCH, STORE, SEARCH),
   the header can be ahead of the view (Dovecot updates a view's header
   while it keeps the messages whose expunges it delays), and a tombstone
   below it whose UID the view still has would be missed. */
static void condstore_view_first_floor(struct mailbox *box,
				       const struct mailbox_sync_status *status)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_mailbox *cbox;
	const struct cs_mailbox_rec *rec;

	if (cmbox->view_floor != 0 || status->sync_delayed_expunges ||
	    condstore_mailbox_get(cmbox, &cbox) < 0 ||
	    !condstore_mailbox_uids_shared(box, cbox))
		return;
	rec = cs_mailbox_get_rec(cbox);
	cmbox->view_floor_id = rec->id;
	cmbox->view_floor = condstore_sync_view_point(box, rec);
}

void condstore_view_sync_status(struct mailbox *box,
				struct mailbox_sync_status *status_r)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_mailbox *cbox;
	uint64_t given = cmbox->view_max_given, modseq;

	condstore_view_first_floor(box, status_r);
	if (given == 0 || condstore_mailbox_get(cmbox, &cbox) < 0)
		return;
	modseq = condstore_view_modseq(box, cbox);
	if (given <= modseq) {
		/* everything given is in the view now */
		cmbox->view_max_given = 0;
	} else {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": MODSEQ %"PRIu64
			" given above the view's HIGHESTMODSEQ %"PRIu64
			": reported as delayed expunges", given, modseq);
		status_r->sync_delayed_expunges = TRUE;
	}
}

void condstore_view_reset(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	cmbox->view_floor = 0;
	cmbox->view_floor_id = 0;
	cmbox->view_max_given = 0;
}
