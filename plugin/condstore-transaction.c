/*
 * condstore-transaction.c - mailbox transactions of the plugin: the flag
 * changes and expunges a transaction makes are noted, and its commit
 * decides UNCHANGEDSINCE against the index and writes Dovecot's own
 * changes through to it.
 *
 * Commit, for a transaction that changed flags or expunged (doc/design.md
 * sections 4 and 8):
 *   0. take Dovecot's dovecot-uidlist lock, which step 4 needs (a lock
 *      that times out fails the commit, as in Dovecot): taken later, a
 *      commit held the index's transaction lock while it waited
 *      for a session's scan of cur/ under that lock (a 100k listing),
 *      and the watch daemon, every session's sync behind it, waited for
 *      the index meanwhile (scripts/bench/concurrent);
 *   1. begin an index transaction (this serialises conditional stores of
 *      all processes on the tdb's transaction lock);
 *   2. reconcile each target with its file on disk, so a change another
 *      agent made is seen even if no daemon recorded it yet;
 *   3. with UNCHANGEDSINCE, cancel Dovecot's update of each message whose
 *      modseq is above the limit and report it as MODIFIED; Dovecot's own
 *      modseq check is turned off (max_modseq = 0), its numbers mean
 *      nothing here;
 *   4. commit Dovecot's transaction and have Dovecot's maildir index sync
 *      rename (or unlink) the files now, under its dovecot-uidlist lock,
 *      without reading cur/ and without touching the client's view,
 *      entered as Dovecot's own save commit enters it
 *      (condstore-maildir.c says how, and why that is safe);
 *   5. reconcile each target again, by the name Dovecot gave its file: the
 *      new file name gets the next modseq by the same rule the indexer
 *      uses, so the indexer later seeing the rename bumps nothing;
 *   6. commit the index transaction, then let the uidlist lock go.
 * The locks are taken in one order everywhere: dovecot-uidlist's, then
 * the index's (the sync applying the change log, and the one-time switch
 * of a mailbox to Dovecot's UIDs when it is closed, condstore-mailbox.c,
 * take them so too); the watch daemon takes only the index's.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "mail-storage-private.h"

#include "condstore-plugin.h"
#include "condstore-maildir.h"

struct mailbox_transaction_context *
condstore_transaction_begin(struct mailbox *box,
			    enum mailbox_transaction_flags flags,
			    const char *reason)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct mailbox_transaction_context *t;
	struct condstore_transaction *ct;
	pool_t pool;

	t = cmbox->module_ctx.super.transaction_begin(box, flags, reason);
	pool = pool_alloconly_create("condstore transaction", 1024);
	ct = p_new(pool, struct condstore_transaction, 1);
	ct->pool = pool;
	i_array_init(&ct->changes, 64);
	MODULE_CONTEXT_SET(t, condstore_storage_module, ct);
	return t;
}

static void condstore_transaction_free(struct condstore_transaction **_ct)
{
	struct condstore_transaction *ct = *_ct;

	*_ct = NULL;
	array_free(&ct->changes);
	pool_unref(&ct->pool);
}

/* Was seq the last message the transaction changed?  A replacing STORE
   calls update_flags and update_keywords for each message in turn; a
   message noted twice otherwise costs only an idempotent second
   reconcile. */
static bool condstore_change_known(struct condstore_transaction *ct,
				   uint32_t seq)
{
	const struct condstore_change *c;
	unsigned int count = array_count(&ct->changes);

	if (count == 0)
		return FALSE;
	c = array_idx(&ct->changes, count - 1);
	return c->seq == seq;
}

void condstore_transaction_add(struct mail *mail, bool expunge)
{
	struct condstore_transaction *ct =
		CONDSTORE_TRANS_CONTEXT(mail->transaction);
	struct condstore_change *c;
	const char *base;

	if (ct == NULL)
		return;
	if (condstore_change_known(ct, mail->seq)) {
		c = array_idx_modifiable(&ct->changes,
					 array_count(&ct->changes) - 1);
		c->expunge = c->expunge || expunge;
		return;
	}
	c = array_append_space(&ct->changes);
	c->expunge = expunge;
	c->seq = mail->seq;
	c->uid = mail->uid;
	/* NULL when Dovecot can't name the file (gone): the commit then
	   records nothing for it, and refuses it under UNCHANGEDSINCE */
	if (condstore_mail_get_base(mail, &base) > 0)
		c->base = p_strdup(ct->pool, base);
}

/* Step 2 and 3: returns TRUE if the change is made and to be recorded. */
static bool condstore_commit_check(struct condstore_mailbox *cmbox,
				   struct cs_mailbox *cbox,
				   struct mailbox_transaction_context *t,
				   uint64_t max_modseq, pool_t pool,
				   struct condstore_change *c)
{
	struct cs_message msg;
	struct cs_error err;
	int ret;

	if (c->base == NULL) {
		/* Dovecot could not name the file: nothing to record, and
		   nothing to decide UNCHANGEDSINCE with */
		if (max_modseq != 0)
			condstore_maildir_cancel_update(t, c->seq);
		return FALSE;
	}
	cs_error_clear(&err);
	ret = cs_maildir_reconcile_one(cbox, cmbox->dir, c->base, &msg, &err);
	if (ret < 0) {
		condstore_log_error(NULL, t_strdup_printf(
			"%s: reconcile %s", cmbox->name, c->base), &err);
		msg.rec.modseq = 0;
	} else if (msg.rec.modseq != 0) {
		c->fname_before = p_strconcat(pool, msg.base, msg.suffix,
					      NULL);
	}
	if (max_modseq == 0)
		return TRUE;
	if (msg.rec.modseq != 0 && msg.rec.modseq <= max_modseq)
		return TRUE;
	/* changed since UNCHANGEDSINCE, gone, or undecidable: MODIFIED */
	condstore_maildir_cancel_update(t, c->seq);
	return FALSE;
}

/* Step 5: record what Dovecot did to the file: by the name just found
   (the library checks it still exists); an expunged message that is in
   neither directory, read after Dovecot's sync unlinked it, is gone
   (looking for it again would read the directory once per message);
   anything else is looked for. */
static void condstore_commit_record(struct condstore_mailbox *cmbox,
				    struct cs_mailbox *cbox,
				    const struct condstore_change *c,
				    bool uids_shared)
{
	struct cs_disk_state gone;
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	if (c->fname != NULL) {
		ret = cs_maildir_reconcile_name(cbox, cmbox->dir, c->location,
						c->fname, NULL, &err);
	} else if (c->expunge) {
		i_zero(&gone);
		gone.present = FALSE;
		gone.suffix = "";
		/* the tombstone's UID if the index never learnt it */
		gone.uid = uids_shared ? c->uid : 0;
		ret = cs_reconcile(cbox, c->base, strlen(c->base), &gone,
				   NULL, &err);
	} else {
		ret = cs_maildir_reconcile_one(cbox, cmbox->dir, c->base,
					       NULL, &err);
	}
	if (ret < 0) {
		condstore_log_error(NULL, t_strdup_printf(
			"%s: record %s", cmbox->name, c->base), &err);
	}
}

int condstore_transaction_commit(struct mailbox_transaction_context *t,
			     struct mail_transaction_commit_changes *changes_r)
{
	struct mailbox *box = t->box;
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_transaction *ct = CONDSTORE_TRANS_CONTEXT(t);
	struct condstore_change *changes;
	struct cs_mailbox *cbox = NULL;
	struct cs_error err;
	uint64_t max_modseq = condstore_maildir_take_max_modseq(t);
	uint64_t top_before;
	bool cur_changed, uids_shared;
	unsigned int i, count, winners = 0;
	int ret;

	changes = array_get_modifiable(&ct->changes, &count);
	if (count == 0 || cmbox->index == NULL ||
	    condstore_mailbox_get(cmbox, &cbox) < 0) {
		if (max_modseq != 0) {
			/* can't decide UNCHANGEDSINCE: change nothing */
			for (i = 0; i < count; i++)
				condstore_maildir_cancel_update(t,
							changes[i].seq);
		}
		ret = cmbox->module_ctx.super.transaction_commit(t, changes_r);
		condstore_transaction_free(&ct);
		return ret;
	}

	/* step 0: without the lock (Dovecot's lock timeout; Dovecot set
	   the storage error) nothing is changed, as Dovecot does */
	if (condstore_maildir_uidlist_lock(box) <= 0) {
		condstore_transaction_free(&ct);
		cmbox->module_ctx.super.transaction_rollback(t);
		return -1;
	}
	cs_error_clear(&err);
	if (cs_index_begin(cmbox->index, &err) < 0) {
		condstore_log_error(box, "begin index transaction", &err);
		condstore_maildir_uidlist_unlock(box);
		condstore_transaction_free(&ct);
		cmbox->module_ctx.super.transaction_rollback(t);
		mail_storage_set_internal_error(box->storage);
		return -1;
	}
	top_before = cs_mailbox_get_rec(cbox)->highestmodseq;
	for (i = 0; i < count; i++) {
		changes[i].won = condstore_commit_check(cmbox, cbox, t,
							max_modseq, ct->pool,
							&changes[i]);
		if (changes[i].won)
			winners++;
	}

	ret = cmbox->module_ctx.super.transaction_commit(t, changes_r);
	if (ret == 0 && winners > 0) {
		if (condstore_maildir_apply_changes(box, changes, count,
						    &cur_changed) < 0)
			ret = -1;
		else {
			cmbox->committed = TRUE;
			/* with a daemon, the next sync applies those changes
			   from the index (condstore-sync.c); without one,
			   only a scan finds them */
			if (cur_changed && !condstore_daemon_serves(box))
				condstore_sync_request_scan(box);
		}
		condstore_maildir_find_files(box, changes, count, ct->pool);
		uids_shared = condstore_mailbox_uids_shared(box, cbox);
		for (i = 0; i < count; i++) {
			if (changes[i].won)
				condstore_commit_record(cmbox, cbox,
							&changes[i],
							uids_shared);
		}
	}
	cs_error_clear(&err);
	if (cs_index_commit(cmbox->index, &err) < 0) {
		condstore_log_error(box, "commit index transaction", &err);
		ret = -1;
	} else if (ret == 0) {
		condstore_sync_committed(box, top_before,
			cs_mailbox_get_rec(cbox)->highestmodseq);
	}
	condstore_maildir_uidlist_unlock(box);
	condstore_transaction_free(&ct);
	return ret;
}

void condstore_transaction_rollback(struct mailbox_transaction_context *t)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(t->box);
	struct condstore_transaction *ct = CONDSTORE_TRANS_CONTEXT(t);

	cmbox->module_ctx.super.transaction_rollback(t);
	condstore_transaction_free(&ct);
}
