/*
 * condstore-sync.c - serving Dovecot's mailbox sync from the index: the
 * flag changes other agents made are applied to Dovecot's index from the
 * index's change log, so that Dovecot need not read all of cur/ to find
 * them.
 *
 * Stock Dovecot finds external renames by reading cur/ whenever its mtime
 * changed: the cost of a NOOP after one rename grows with the mailbox.
 * When a watch daemon serves the Maildir, the index already knows exactly
 * which messages changed.  Before Dovecot's own sync runs, this file:
 *
 *   1. stats cur/, then waits for the daemon (cs_sync_wait): everything
 *      that happened on disk before the stat is then in the index (a
 *      FAST sync, which Dovecot runs after FETCH, and the sync ending a
 *      command whose changes this process just made do not wait: they
 *      apply what is recorded, the next full sync the rest);
 *   2. walks the index's change log from the point Dovecot's index was
 *      last brought up to date (our header extension, "applied") and, for
 *      each changed message, sets the flags and keywords its file name
 *      carries in Dovecot's index (an external transaction: the change
 *      is already on disk) and its file name in this process's
 *      dovecot-uidlist records (checked with lstat first);
 *   3. records the change log's new top in "applied" and cur/'s mtime
 *      from step 1 in Dovecot's maildir header, in the same transaction,
 *      so Dovecot's sync then sees cur/ as unchanged.
 * All of it under the dovecot-uidlist lock, which Dovecot holds from the
 * readdir to the index commit of its own scans, so a scan of another
 * process cannot write older flags over ours; except in a process that
 * has not read dovecot-uidlist yet (a fresh SELECT: locking would read
 * all of it), where such a race is repaired by the scan's own point: the
 * point a scan records is the one from before its readdir, so what it
 * may have overwritten is applied again at the next sync.
 *
 * Anything the change log cannot tell Dovecot makes it scan cur/ itself
 * (its maildir header's cur_mtime is zeroed, Dovecot's own way of asking
 * for a rescan): no daemon serving the Maildir, no or a foreign "applied"
 * point, a message Dovecot has no UID for (a file another agent put into
 * cur/), an expunge of a message Dovecot's index still has, more changes
 * than a scan would cost.  After such a scan, "applied" is set to the top
 * of the change log read in step 1 (before the scan).
 *
 * Dovecot's maildir_sync_index() compares the flags of each dovecot-uidlist
 * record's file name with its index flags and "corrects" the index; a
 * record whose name is older than the index's flags would undo a change
 * applied here.  So every process also brings its own records' names up
 * to date from the change log (condstore_sync_names) before it lets
 * Dovecot sync the index from them, and this process's point for that is
 * kept in caught_up.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "ioloop.h"
#include "mail-index.h"

#include <sys/stat.h>

#include "condstore-plugin.h"
#include "condstore-maildir.h"

/* the name of our Dovecot index header extension */
#define CONDSTORE_EXT_NAME "maildir_condstore"
/* How long a sync waits for the watch daemon to record what happened on
   disk before it. */
#define CONDSTORE_DAEMON_WAIT_MSECS 2000
/* A session lets Dovecot checkpoint its index at its first sync served
   from the change log after SELECT, and then every this many. */
#define CONDSTORE_CHECKPOINT_APPLIES 64
/* A directory changed less than this many seconds ago may change again
   without its mtime moving on (the clock's tick): look again. */
#define CONDSTORE_DIR_STAMP_SECS 1
/* More changes than messages / this: let Dovecot read cur/ instead. */
#define CONDSTORE_SYNC_MAX_FRACTION 4

/* Our header extension in Dovecot's index: up to which modseq of which
   index mailbox Dovecot's flags have been brought up to date. */
struct condstore_index_header {
	uint32_t mailbox_id;	/* cs_mailbox_rec.id */
	uint32_t uidvalidity;	/* cs_mailbox_rec.uidvalidity */
	uint64_t applied;	/* change-log point applied */
};

/* One changed message of the change log. */
struct condstore_sync_change {
	uint64_t modseq;
	uint32_t uid;		/* 0: Dovecot has none (yet) */
	uint8_t location;	/* CS_LOC_NEW or CS_LOC_CUR */
	const char *fname;	/* current file name */
};

struct condstore_sync_walk {
	ARRAY(struct condstore_sync_change) changes;
	unsigned int max;	/* more than this: give up (scan) */
	bool too_many;
};

static uint32_t condstore_ext_id(struct mailbox *box)
{
	return mail_index_ext_register(box->index, CONDSTORE_EXT_NAME,
		sizeof(struct condstore_index_header), 0, 0);
}

/* Our header from view.  Returns TRUE if it is there and belongs to rec. */
static bool condstore_header_get(struct mailbox *box,
				 struct mail_index_view *view,
				 const struct cs_mailbox_rec *rec,
				 struct condstore_index_header *hdr_r)
{
	const void *data;
	size_t size;

	mail_index_get_header_ext(view, condstore_ext_id(box), &data, &size);
	if (size < sizeof(*hdr_r))
		return FALSE;
	memcpy(hdr_r, data, sizeof(*hdr_r));
	return hdr_r->mailbox_id == rec->id &&
		hdr_r->uidvalidity == rec->uidvalidity && hdr_r->applied != 0;
}

static void condstore_header_set(struct mailbox *box,
				 struct mail_index_transaction *trans,
				 const struct cs_mailbox_rec *rec,
				 uint64_t applied)
{
	struct condstore_index_header hdr;

	i_zero(&hdr);
	hdr.mailbox_id = rec->id;
	hdr.uidvalidity = rec->uidvalidity;
	hdr.applied = applied;
	mail_index_update_header_ext(trans, condstore_ext_id(box), 0,
				     &hdr, sizeof(hdr));
}

static int condstore_walk_cb(void *context, const struct cs_message *msg,
			     struct cs_error *err ATTR_UNUSED)
{
	struct condstore_sync_walk *walk = context;
	struct condstore_sync_change *c;

	if (array_count(&walk->changes) >= walk->max) {
		walk->too_many = TRUE;
		return 1;
	}
	c = array_append_space(&walk->changes);
	c->modseq = msg->rec.modseq;
	c->uid = msg->rec.uid;
	c->location = msg->rec.location;
	c->fname = t_strconcat(msg->base, msg->suffix, NULL);
	return 0;
}

/* The messages changed since `since` (in the data stack).  Returns 1,
   0 when there are too many (the caller lets Dovecot scan), -1 on
   error (logged). */
static int condstore_changes_collect(struct mailbox *box,
				     struct cs_mailbox *cbox, uint64_t since,
				     struct condstore_sync_walk *walk)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(cbox);
	struct cs_error err;

	t_array_init(&walk->changes, 16);
	walk->max = I_MAX(rec->messages / CONDSTORE_SYNC_MAX_FRACTION, 64);
	walk->too_many = FALSE;
	cs_error_clear(&err);
	if (cs_changes_since(cbox, since, condstore_walk_cb, walk,
			     &err) < 0) {
		condstore_log_error(box, "reading the change log", &err);
		return -1;
	}
	return walk->too_many ? 0 : 1;
}

struct condstore_expunge_check {
	struct mail_index_view *view;
	bool in_index;
};

static int condstore_expunge_cb(void *context, uint32_t uid,
				uint64_t modseq ATTR_UNUSED,
				struct cs_error *err ATTR_UNUSED)
{
	struct condstore_expunge_check *ctx = context;
	uint32_t seq;

	if (uid != 0 && mail_index_lookup_seq(ctx->view, uid, &seq)) {
		ctx->in_index = TRUE;
		return 1;
	}
	return 0;
}

/* Did another agent expunge a message since `since` that Dovecot's index
   still has?  (Dovecot's scan then removes it properly.)  Returns TRUE
   also when that cannot be told. */
static bool condstore_expunges_pending(struct cs_mailbox *cbox,
				       struct mail_index_view *view,
				       uint64_t since)
{
	struct condstore_expunge_check ctx;

	i_zero(&ctx);
	ctx.view = view;
	if (cs_expunges_since(cbox, since, condstore_expunge_cb, &ctx,
			      NULL) < 0)
		return TRUE;
	return ctx.in_index;
}

bool condstore_file_is(struct condstore_mailbox *cmbox, uint8_t location,
		       const char *fname)
{
	struct stat st;

	return lstat(t_strconcat(cmbox->dir, location == CS_LOC_NEW ?
				 "/new/" : "/cur/", fname, NULL), &st) == 0 &&
		S_ISREG(st.st_mode);
}

static bool keyword_arrays_equal(const ARRAY_TYPE(keyword_indexes) *a,
				 const ARRAY_TYPE(keyword_indexes) *b)
{
	const unsigned int *ka, *kb;
	unsigned int i, j, na, nb;

	ka = array_get(a, &na);
	kb = array_get(b, &nb);
	if (na != nb)
		return FALSE;
	for (i = 0; i < na; i++) {
		for (j = 0; j < nb; j++) {
			if (ka[i] == kb[j])
				break;
		}
		if (j == nb)
			return FALSE;
	}
	return TRUE;
}

/* The flags and keywords fname carries, as Dovecot's own scan would set
   them for seq of view (private flags stay), compared with view's. */
struct condstore_name_flags {
	enum mail_flags flags;
	ARRAY_TYPE(keyword_indexes) keywords;
	bool flags_differ, keywords_differ;
};

/* Fill *nf (in the data stack) for seq of view and fname.  Returns FALSE
   for a message whose flags Dovecot could not write to its file yet
   (dirty): those are Dovecot's own, left alone. */
static bool condstore_name_flags_get(struct mailbox *box,
				     struct maildir_keywords_sync_ctx *kw_ctx,
				     struct mail_index_view *view,
				     uint32_t seq, const char *fname,
				     struct condstore_name_flags *nf)
{
	const struct mail_index_record *rec;
	ARRAY_TYPE(keyword_indexes) old_keywords;
	enum mail_flags private_mask;

	rec = mail_index_lookup(view, seq);
	if ((rec->flags & MAIL_INDEX_MAIL_FLAG_DIRTY) != 0)
		return FALSE;
	private_mask = mailbox_get_private_flags_mask(box);
	t_array_init(&nf->keywords, 8);
	t_array_init(&old_keywords, 8);
	condstore_maildir_name_flags(kw_ctx, fname, &nf->flags, &nf->keywords);
	nf->flags = (nf->flags & ENUM_NEGATE(private_mask)) |
		(rec->flags & private_mask);
	nf->flags_differ = nf->flags != (rec->flags & MAIL_FLAGS_NONRECENT);
	mail_index_lookup_keywords(view, seq, &old_keywords);
	nf->keywords_differ = !keyword_arrays_equal(&nf->keywords,
						    &old_keywords);
	return TRUE;
}

/* Set the flags and keywords of seq in Dovecot's index to those fname
   carries, as Dovecot's own scan would (private flags stay, messages
   whose flags Dovecot could not write to the file are left alone). */
static void condstore_index_flags(struct mailbox *box,
				  struct maildir_keywords_sync_ctx *kw_ctx,
				  struct mail_index_view *view,
				  struct mail_index_transaction *trans,
				  uint32_t seq, const char *fname)
{
	struct condstore_name_flags nf;
	struct mail_keywords *kw;

	if (!condstore_name_flags_get(box, kw_ctx, view, seq, fname, &nf))
		return;
	if (nf.flags_differ)
		mail_index_update_flags(trans, seq, MODIFY_REPLACE, nf.flags);
	if (nf.keywords_differ) {
		kw = mail_index_keywords_create_from_indexes(box->index,
							     &nf.keywords);
		mail_index_update_keywords(trans, seq, MODIFY_REPLACE, kw);
		mail_index_keywords_unref(&kw);
	}
}

bool condstore_view_shows_name(struct mailbox *box,
			       struct maildir_keywords_sync_ctx *kw_ctx,
			       struct mail_index_view *view, uint32_t seq,
			       const char *fname)
{
	struct condstore_name_flags nf;

	return !condstore_name_flags_get(box, kw_ctx, view, seq, fname,
					 &nf) ||
		(!nf.flags_differ && !nf.keywords_differ);
}

uint64_t condstore_sync_view_point(struct mailbox *box,
				   const struct cs_mailbox_rec *rec)
{
	struct condstore_index_header hdr;

	return condstore_header_get(box, box->view, rec, &hdr) ?
		hdr.applied : 0;
}

/* Step 2 for each change.  Returns FALSE when a change needs Dovecot's
   scan of cur/ (it is then left to that scan).  *point_r is lowered
   below a change Dovecot's index does not have yet when it returns
   TRUE anyway. */
static bool condstore_apply_change(struct mailbox *box,
				   struct maildir_keywords_sync_ctx *kw_ctx,
				   struct mail_index_view *view,
				   struct mail_index_transaction *trans,
				   const struct condstore_sync_change *c,
				   bool names, uint64_t *point_r)
{
	uint32_t uid = c->uid, seq;

	if (uid == 0 && (!names ||
			 !condstore_maildir_uidlist_get_uid(box, c->fname,
							    &uid))) {
		/* a new file: in new/ Dovecot finds it by itself, in cur/
		   only by reading cur/.  Either way Dovecot's index does not
		   have it yet: the point recorded must stay below it, or a
		   view read from that index would count it (its first
		   HIGHESTMODSEQ floor, condstore-view.c) before it is one
		   of the view's messages */
		if (c->modseq - 1 < *point_r)
			*point_r = c->modseq - 1;
		return c->location == CS_LOC_NEW;
	}
	if (!mail_index_lookup_seq(view, uid, &seq))
		return FALSE;
	condstore_index_flags(box, kw_ctx, view, trans, seq, c->fname);
	if (names)
		condstore_maildir_uidlist_name(box, c->location, c->fname);
	return TRUE;
}

/* Let Dovecot write dovecot.index now and then.  Dovecot rewrites it
   from its log only at the end of an index sync, and a sync served from
   the change log runs none: every new process would then build its index
   from the whole log (most of the cost of a SELECT at 1M messages).  An
   empty index sync moves the log's tail and lets Dovecot decide; it is
   not committed when Dovecot has changes of its own pending (those are
   for its maildir sync to apply to the files).

   With a reason, Dovecot writes dovecot.index at this commit (or at its
   own next one, if changes of its own are pending): our header extension
   was just added, and until dovecot.index has it, every new process
   applies its introduction from the log, which makes Dovecot rebuild
   its whole record map (40 ms of every reconnect at 1M messages, until
   dovecot.index was next written for reasons of its own).  Dovecot
   skips the write if it wrote dovecot.index itself since this process
   opened it (at the end of the scan that preceded us, say): that is why
   the extension goes in before the scan (condstore_header_introduce). */
static void condstore_index_checkpoint(struct mailbox *box,
				       const char *rewrite_reason)
{
	struct mail_index_sync_ctx *sync_ctx;
	struct mail_index_view *view;
	struct mail_index_transaction *trans;
	struct mail_index_sync_rec sync_rec;

	if (rewrite_reason != NULL)
		condstore_maildir_index_want_rewrite(box, rewrite_reason);
	if (mail_index_sync_begin(box->index, &sync_ctx, &view, &trans,
				  MAIL_INDEX_SYNC_FLAG_UPDATE_TAIL_OFFSET) <= 0)
		return;
	/* (reading to the end is what moves the tail) */
	if (mail_index_sync_next(sync_ctx, &sync_rec)) {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": index checkpoint "
			"left to Dovecot's next sync (changes pending)");
		mail_index_sync_rollback(&sync_ctx);
	} else if (mail_index_sync_commit(&sync_ctx) < 0) {
		mailbox_set_index_error(box);
	} else {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": index checkpoint"
			"%s%s", rewrite_reason == NULL ? "" : ": ",
			rewrite_reason == NULL ? "" : rewrite_reason);
	}
}

/* Steps 2 and 3 under the uidlist lock.  Returns 1 applied (Dovecot need
   not read cur/), 0 when Dovecot must read cur/ (asked for), -1 on
   error. */
static int condstore_sync_apply(struct mailbox *box, struct cs_mailbox *cbox,
				uint64_t since, uint64_t top,
				const struct stat *cur_st)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(cbox);
	struct condstore_sync_walk walk;
	const struct condstore_sync_change *c;
	struct maildir_keywords_sync_ctx *kw_ctx;
	struct mail_index_view *view;
	struct mail_index_transaction *trans;
	bool complete, names;
	uint64_t point = top;
	int ret;

	ret = condstore_changes_collect(box, cbox, since, &walk);
	if (ret < 0)
		return -1;
	complete = ret > 0;
	/* a process that has not read dovecot-uidlist yet has no names to
	   bring up to date (its records will come from the file, "not
	   synced"), and locking would read the whole file */
	names = condstore_maildir_uidlist_is_read(box);
	if (names && condstore_maildir_uidlist_lock(box) <= 0)
		return -1;
	if (condstore_maildir_header_refresh(box) < 0) {
		if (names)
			condstore_maildir_uidlist_unlock(box);
		return -1;
	}
	view = mail_index_view_open(box->index);
	trans = mail_index_transaction_begin(view,
		MAIL_INDEX_TRANSACTION_FLAG_EXTERNAL);
	if (complete)
		complete = !condstore_expunges_pending(cbox, view, since);
	if (complete) {
		kw_ctx = condstore_maildir_keywords_init(box);
		array_foreach(&walk.changes, c) {
			if (!condstore_apply_change(box, kw_ctx, view, trans,
						    c, names, &point))
				complete = FALSE;
		}
		condstore_maildir_keywords_deinit(&kw_ctx);
	}
	if (complete)
		condstore_header_set(box, trans, rec, I_MAX(point, since));
	condstore_maildir_header_set(box, trans, complete ? cur_st : NULL);
	ret = mail_index_transaction_commit(&trans);
	mail_index_view_close(&view);
	if (names)
		condstore_maildir_uidlist_unlock(box);
	if (ret < 0) {
		mailbox_set_index_error(box);
		return -1;
	}
	if (complete && cmbox->synced_once &&
	    ++cmbox->applied_count % CONDSTORE_CHECKPOINT_APPLIES == 1)
		condstore_index_checkpoint(box, NULL);
	e_debug(box->event, CONDSTORE_PLUGIN_NAME ": sync: %u change(s) "
		"since %"PRIu64" %s", array_count(&walk.changes), since,
		complete ? "applied from the index" : "left to Dovecot's scan");
	return complete ? 1 : 0;
}

/* Add our header extension to Dovecot's index (with no point: all
   zero) if it is not there yet, in trans.  It goes in before the scan
   that will give it its point, so that a dovecot.index Dovecot writes at
   the end of that scan has it already; see condstore_index_checkpoint
   for why that matters. */
static void condstore_header_introduce(struct mailbox *box,
				       struct mail_index_transaction *trans)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_index_header hdr;
	const void *data;
	size_t size;

	mail_index_get_header_ext(box->view, condstore_ext_id(box),
				  &data, &size);
	if (size != 0)
		return;
	i_zero(&hdr);
	mail_index_update_header_ext(trans, condstore_ext_id(box), 0,
				     &hdr, sizeof(hdr));
	cmbox->ext_introduced = TRUE;
}

void condstore_sync_request_scan(struct mailbox *box)
{
	struct mail_index_transaction *trans;

	if (condstore_maildir_header_refresh(box) < 0)
		return;
	trans = mail_index_transaction_begin(box->view,
		MAIL_INDEX_TRANSACTION_FLAG_EXTERNAL);
	condstore_header_introduce(box, trans);
	condstore_maildir_header_set(box, trans, NULL);
	if (mail_index_transaction_commit(&trans) < 0)
		mailbox_set_index_error(box);
}

bool condstore_daemon_serves(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	return cmbox->index != NULL &&
		cs_daemon_lookup(cmbox->index, NULL, NULL) > 0;
}

int condstore_sync_wait(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	ret = cs_sync_wait(cmbox->index, CONDSTORE_DAEMON_WAIT_MSECS, &err);
	condstore_user_sync_waited(cmbox->cuser);
	if (ret < 0 && err.code != CS_ERR_NOTFOUND) {
		e_warning(box->event, CONDSTORE_PLUGIN_NAME
			  ": waiting for the watch daemon: %s", err.text);
	}
	return ret;
}

void condstore_sync_prepare(struct mailbox *box,
			    enum mailbox_sync_flags flags)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	const struct cs_mailbox_rec *rec;
	struct condstore_index_header hdr;
	struct cs_mailbox *cbox;
	struct stat cur_st;
	uint64_t since, top;
	bool quick;
	int ret;

	cmbox->scan_point = 0;
	cmbox->waited = FALSE;
	cmbox->applied = FALSE;
	cmbox->wait_tried = FALSE;
	cmbox->reconcile_scan = FALSE;
	if (cmbox->index == NULL || cs_index_in_transaction(cmbox->index) ||
	    condstore_maildir_syncing_commit(box) || box->index == NULL ||
	    (flags & MAILBOX_SYNC_FLAG_FORCE_RESYNC) != 0)
		return;
	if (stat(t_strconcat(cmbox->dir, "/cur", NULL), &cur_st) < 0)
		return;
	/* step 1; a FAST sync (Dovecot's sync after FETCH...) and the sync
	   ending a command whose changes this process just made (STORE,
	   EXPUNGE: Dovecot's own sync would not look at cur/ then either)
	   do not wait: they apply what the daemon has recorded so far, the
	   next full sync (NOOP, IDLE, SELECT) the rest */
	quick = (flags & MAILBOX_SYNC_FLAG_FAST) != 0 || cmbox->committed;
	cmbox->committed = FALSE;
	if (quick)
		ret = condstore_daemon_serves(box) ? 1 : 0;
	else {
		/* the one wait of this sync */
		cmbox->wait_tried = TRUE;
		ret = condstore_sync_wait(box);
	}
	if (ret <= 0) {
		/* no daemon, or it did not answer in time (busy, or
		   waiting for the index another process holds): other
		   agents' changes may not be in the index.  Dovecot's own
		   scan of cur/ finds them (asked for when a daemon serves
		   the Maildir: its records may have marked cur/ as seen),
		   and condstore_sync_reconcile_disk() gives them their
		   modseqs before they are shown */
		if (ret < 0)
			condstore_sync_request_scan(box);
		cmbox->reconcile_scan = TRUE;
		return;
	}
	cmbox->waited = !quick;
	if (condstore_mailbox_get(cmbox, &cbox) < 0)
		return;
	rec = cs_mailbox_get_rec(cbox);
	top = rec->highestmodseq;
	(void)mail_index_refresh(box->index);
	if (rec->uid_source != CS_UIDSRC_DOVECOT ||
	    !condstore_maildir_has_uidlist(box) ||
	    rec->uidvalidity != mail_index_get_header(box->view)->uid_validity ||
	    !condstore_header_get(box, box->view, rec, &hdr) ||
	    hdr.applied > top) {
		/* not on Dovecot's UIDs yet (the sync switches it), or no
		   point to go on from: Dovecot reads cur/, and the point is
		   the top read before that */
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": sync: no point "
			"to apply the index from: left to Dovecot's scan");
		condstore_sync_request_scan(box);
		cmbox->scan_point = top;
		return;
	}
	since = hdr.applied;
	if (cmbox->caught_up != 0 && cmbox->caught_up < since)
		since = cmbox->caught_up;
	if (since == top && hdr.applied == top &&
	    condstore_maildir_cur_seen(box, &cur_st)) {
		cmbox->applied = TRUE;
		return;	/* nothing happened */
	}
	T_BEGIN {
		ret = condstore_sync_apply(box, cbox, since, top, &cur_st);
	} T_END;
	if (ret > 0) {
		cmbox->caught_up = top;
		cmbox->applied = TRUE;
	} else if (ret == 0)
		cmbox->scan_point = top;
}

/* Read the mtime of dir/sub into *ts_r.  Returns FALSE if it can't be
   read or is too recent to tell later changes by (a change within the
   same clock tick leaves the mtime as it was: the rule of Dovecot's
   Maildir sync, which looks again at directories changed in the last
   second). */
static bool condstore_dir_stamp(const char *dir, const char *sub,
				struct timespec *ts_r)
{
	struct stat st;

	i_zero(ts_r);
	if (stat(t_strconcat(dir, sub, NULL), &st) < 0)
		return FALSE;
	ts_r->tv_sec = st.st_mtime;
	ts_r->tv_nsec = ST_MTIME_NSEC(st);
	return st.st_mtime + CONDSTORE_DIR_STAMP_SECS < ioloop_time;
}

static bool timespec_equal(const struct timespec *a,
			   const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

void condstore_sync_reconcile_disk(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct timespec new_ts, cur_ts;
	struct cs_scan_settings set;
	struct cs_scan_stats stats;
	struct cs_error err;
	struct cs_mailbox *cbox;
	bool stable;

	if (!cmbox->reconcile_scan || cmbox->index == NULL ||
	    cs_index_in_transaction(cmbox->index))
		return;
	cmbox->reconcile_scan = FALSE;
	/* (before the readdir: a change after it moves the mtime on) */
	stable = condstore_dir_stamp(cmbox->dir, "/new", &new_ts);
	stable = condstore_dir_stamp(cmbox->dir, "/cur", &cur_ts) && stable;
	if (stable && timespec_equal(&new_ts, &cmbox->reconciled_new) &&
	    timespec_equal(&cur_ts, &cmbox->reconciled_cur))
		return;	/* nothing changed since the last reconcile */
	i_zero(&set);
	i_zero(&stats);
	cs_error_clear(&err);
	if (cs_maildir_scan(cmbox->index, cmbox->name, &set, &stats,
			    &err) < 0) {
		condstore_log_error(box, "reconciling with the disk", &err);
		i_zero(&cmbox->reconciled_new);
		i_zero(&cmbox->reconciled_cur);
		return;
	}
	if (!stable) {
		i_zero(&new_ts);
		i_zero(&cur_ts);
	}
	cmbox->reconciled_new = new_ts;
	cmbox->reconciled_cur = cur_ts;
	if (cmbox->cbox != NULL)
		(void)condstore_mailbox_get(cmbox, &cbox);
	e_debug(box->event, CONDSTORE_PLUGIN_NAME ": sync without the "
		"daemon: mailbox reconciled with the disk");
}

void condstore_sync_committed(struct mailbox *box, uint64_t top_before,
			      uint64_t top_after)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_index_header hdr;
	struct mail_index_transaction *trans;
	struct cs_mailbox *cbox;
	const struct cs_mailbox_rec *rec;

	if (top_after <= top_before || condstore_mailbox_get(cmbox, &cbox) < 0)
		return;
	rec = cs_mailbox_get_rec(cbox);
	(void)mail_index_refresh(box->index);
	if (!condstore_header_get(box, box->view, rec, &hdr) ||
	    hdr.applied != top_before)
		return;
	/* the index transaction that just committed held the index's lock:
	   every modseq above top_before is one of its changes, which
	   Dovecot's index already has */
	trans = mail_index_transaction_begin(box->view,
		MAIL_INDEX_TRANSACTION_FLAG_EXTERNAL);
	condstore_header_set(box, trans, rec, top_after);
	if (mail_index_transaction_commit(&trans) < 0) {
		mailbox_set_index_error(box);
		return;
	}
	if (cmbox->caught_up == top_before)
		cmbox->caught_up = top_after;
}

void condstore_sync_finish(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct mail_index_transaction *trans;
	struct cs_mailbox *cbox;
	uint64_t point = cmbox->scan_point;

	cmbox->scan_point = 0;
	if (point == 0 || cmbox->index == NULL ||
	    condstore_mailbox_get(cmbox, &cbox) < 0)
		return;
	/* Dovecot read cur/ after the change log's top was `point`:
	   its index is at least that new, and so are this process's
	   dovecot-uidlist names */
	trans = mail_index_transaction_begin(box->view,
		MAIL_INDEX_TRANSACTION_FLAG_EXTERNAL);
	condstore_header_introduce(box, trans);
	condstore_header_set(box, trans, cs_mailbox_get_rec(cbox), point);
	if (mail_index_transaction_commit(&trans) < 0) {
		mailbox_set_index_error(box);
		return;
	}
	cmbox->caught_up = point;
	if (cmbox->ext_introduced) {
		cmbox->ext_introduced = FALSE;
		condstore_index_checkpoint(box, CONDSTORE_PLUGIN_NAME
					   ": header extension added");
	}
}

void condstore_sync_note(struct mailbox *box,
			 const struct mailbox_sync_rec *sync_rec)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	uint32_t seq, uid;

	if (sync_rec->type != MAILBOX_SYNC_TYPE_EXPUNGE || cmbox->index == NULL)
		return;
	if (!array_is_created(&cmbox->sync_expunged))
		i_array_init(&cmbox->sync_expunged, 8);
	/* (the view still has them until the sync ends) */
	for (seq = sync_rec->seq1; seq <= sync_rec->seq2; seq++) {
		mail_index_lookup_uid(box->view, seq, &uid);
		if (uid != 0)
			seq_range_array_add(&cmbox->sync_expunged, uid);
	}
}

/* Does any of uids lack a trace in the index?  (Reads only: most
   expunges a session sees are recorded already.) */
static bool condstore_untraced_any(struct cs_mailbox *cbox,
				   const ARRAY_TYPE(seq_range) *uids)
{
	struct seq_range_iter iter;
	unsigned int n = 0;
	uint32_t uid;

	seq_range_array_iter_init(&iter, uids);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (cs_uid_traced(cbox, uid, NULL) == 0)
			return TRUE;
	}
	return FALSE;
}

static int condstore_expunges_record(struct mailbox *box,
				     struct cs_mailbox *cbox,
				     const ARRAY_TYPE(seq_range) *uids,
				     unsigned int *recorded_r)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct seq_range_iter iter;
	struct cs_error err;
	unsigned int n = 0;
	uint32_t uid;
	int ret = 0;

	*recorded_r = 0;
	cs_error_clear(&err);
	if (cs_index_begin(cmbox->index, &err) < 0) {
		condstore_log_error(box, "recording expunges", &err);
		return -1;
	}
	seq_range_array_iter_init(&iter, uids);
	while (ret >= 0 && seq_range_array_iter_nth(&iter, n++, &uid)) {
		ret = cs_expunge_uid(cbox, uid, &err);
		if (ret > 0)
			(*recorded_r)++;
	}
	if (ret < 0 || cs_index_commit(cmbox->index, &err) < 0) {
		if (ret < 0)
			cs_index_rollback(cmbox->index);
		condstore_log_error(box, "recording expunges", &err);
		return -1;
	}
	return 0;
}

void condstore_sync_record_expunges(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_mailbox *cbox;
	unsigned int recorded;

	if (!array_is_created(&cmbox->sync_expunged) ||
	    array_count(&cmbox->sync_expunged) == 0)
		return;
	if (!cs_index_in_transaction(cmbox->index) &&
	    condstore_mailbox_get(cmbox, &cbox) > 0 &&
	    condstore_mailbox_uids_shared(box, cbox) &&
	    condstore_untraced_any(cbox, &cmbox->sync_expunged) &&
	    condstore_expunges_record(box, cbox, &cmbox->sync_expunged,
				      &recorded) == 0 && recorded > 0) {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": sync: %u "
			"expunge(s) the index had no trace of recorded",
			recorded);
	}
	array_clear(&cmbox->sync_expunged);
}
