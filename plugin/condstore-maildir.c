/*
 * condstore-maildir.c - the calls of the plugin into Dovecot's Maildir
 * internals and private index fields (see the header): file name syntax,
 * dovecot-uidlist (reading, locking, the names of records), the maildir
 * index header (cur/ as seen), flags of file names, the UNCHANGEDSINCE
 * hooks of a transaction, and the step of a commit that has Dovecot
 * rename or unlink the files at once.  Each is a thin wrapper; what the
 * plugin does with them is decided in the other files.
 *
 * How a commit enters Dovecot's Maildir sync.  Dovecot enters
 * maildir_sync_index() in two ways: from its mailbox sync, with a
 * maildir_sync_context that has just read new/ and cur/, and from its
 * save commit (maildir-save.c), with none: the dovecot-uidlist lock, its
 * maildir header re-read, maildir_sync_index_begin(mbox, NULL) and a
 * partial maildir_sync_index().  The commit here is a save commit in all
 * but the appends, and enters the same way, in the same lock order
 * (dovecot-uidlist, then the index's log through
 * maildir_sync_index_begin()).
 *
 * Without a sync context, maildir_sync_index() must never meet a
 * dovecot-uidlist record that claims to be synced (seen on disk) while
 * its UID is no longer in Dovecot's index: that is its "racing" path,
 * which marks the context (maildir_sync_set_racing()) and so dereferences
 * NULL.  A save commit never meets one because nothing of it marks
 * records synced.  Here every record is marked "not synced" (as
 * Dovecot's partial syncs find them when they read dovecot-uidlist), and
 * only the records of the changed messages get the names their files had
 * before the commit, so that Dovecot renames them from there; and only
 * those whose UID Dovecot's index still has.  That is checked under the
 * dovecot-uidlist lock, after refreshing the index: in Maildir every
 * removal of a record from Dovecot's index (maildir_sync_index(), from
 * either entry) runs under that lock, so no UID found here can leave the
 * index before the sync below has run.  A message another session
 * expunged meanwhile keeps its "not synced" record: Dovecot neither
 * renames its file nor takes its UID for a racing one, and its next full
 * sync sorts out a file that came back ("Expunged message reappeared").
 */
#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "seq-range-array.h"
#include "mail-index-private.h"
#include "mail-index-transaction-private.h"
#include "index-storage.h"
#include "maildir-storage.h"
#include "maildir-uidlist.h"
#include "maildir-sync.h"
#include "maildir-keywords.h"
#include "maildir-filename-flags.h"

#include <sys/stat.h>

#include "condstore-plugin.h"
#include "condstore-maildir.h"

/* (MAILDIR_MAILBOX() is a cast that "->" cannot follow) */
static struct maildir_mailbox *maildir_mbox(struct mailbox *box)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);

	return mbox;
}

/* --- the storage and its file names ---------------------------------- */

bool condstore_maildir_is_maildir(struct mailbox *box)
{
	return strcmp(box->storage->name, MAILDIR_STORAGE_NAME) == 0;
}

char condstore_maildir_info_sep(void)
{
	return MAILDIR_INFO_SEP;
}

const char *condstore_maildir_empty_info(void)
{
	return MAILDIR_FLAGS_FULL_SEP;
}

/* --- dovecot-uidlist ------------------------------------------------- */

bool condstore_maildir_has_uidlist(struct mailbox *box)
{
	return maildir_mbox(box)->uidlist != NULL;
}

bool condstore_maildir_uidlist_header(struct mailbox *box,
				      uint32_t *uid_validity_r,
				      uint32_t *next_uid_r)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);

	if (mbox->uidlist == NULL)
		return FALSE;
	*uid_validity_r = maildir_uidlist_get_uid_validity(mbox->uidlist);
	*next_uid_r = maildir_uidlist_get_next_uid(mbox->uidlist);
	return TRUE;
}

int condstore_maildir_uidlist_iterate(struct mailbox *box, uint32_t from_uid,
				      condstore_maildir_record_cb *cb,
				      void *context)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);
	struct maildir_uidlist_iter_ctx *iter;
	enum maildir_uidlist_rec_flag rflags;
	const char *fname;
	uint32_t uid;
	int ret = 1;

	iter = maildir_uidlist_iter_init(mbox->uidlist);
	while (ret > 0 && maildir_uidlist_iter_next(iter, &uid, &rflags,
						    &fname)) {
		if (uid < from_uid)
			continue;
		ret = cb(context, uid,
			 (rflags & MAILDIR_UIDLIST_REC_FLAG_NEW_DIR) != 0,
			 fname);
	}
	maildir_uidlist_iter_deinit(&iter);
	return ret;
}

bool condstore_maildir_uidlist_is_read(struct mailbox *box)
{
	return maildir_uidlist_is_read(maildir_mbox(box)->uidlist);
}

int condstore_maildir_uidlist_lock(struct mailbox *box)
{
	return maildir_uidlist_lock(maildir_mbox(box)->uidlist);
}

void condstore_maildir_uidlist_unlock(struct mailbox *box)
{
	maildir_uidlist_unlock(maildir_mbox(box)->uidlist);
}

bool condstore_maildir_uidlist_get_uid(struct mailbox *box,
				       const char *fname, uint32_t *uid_r)
{
	return maildir_uidlist_get_uid(maildir_mbox(box)->uidlist, fname,
				       uid_r);
}

void condstore_maildir_uidlist_name(struct mailbox *box, uint8_t location,
				    const char *fname)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct maildir_uidlist *uidlist = maildir_mbox(box)->uidlist;

	if (maildir_uidlist_get_full_filename(uidlist, fname) == NULL)
		return;
	if (condstore_file_is(cmbox, location, fname))
		maildir_uidlist_update_fname(uidlist, fname);
	else {
		maildir_uidlist_add_flags(uidlist, fname,
					  MAILDIR_UIDLIST_REC_FLAG_NONSYNCED);
	}
}

/* --- Dovecot's maildir index header ---------------------------------- */

bool condstore_maildir_syncing_commit(struct mailbox *box)
{
	return maildir_mbox(box)->syncing_commit;
}

int condstore_maildir_header_refresh(struct mailbox *box)
{
	return maildir_sync_header_refresh(MAILDIR_MAILBOX(box));
}

bool condstore_maildir_cur_seen(struct mailbox *box,
				const struct stat *cur_st)
{
	const struct maildir_index_header *hdr =
		&maildir_mbox(box)->maildir_hdr;

	return hdr->cur_mtime == (uint32_t)cur_st->st_mtime &&
		hdr->cur_mtime_nsecs == (uint32_t)ST_MTIME_NSEC(*cur_st);
}

void condstore_maildir_header_set(struct mailbox *box,
				  struct mail_index_transaction *trans,
				  const struct stat *cur_st)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);
	struct maildir_index_header *hdr = &mbox->maildir_hdr;

	if (cur_st == NULL) {
		hdr->cur_mtime = 0;
		hdr->cur_mtime_nsecs = 0;
	} else {
		hdr->cur_mtime = cur_st->st_mtime;
		hdr->cur_mtime_nsecs = ST_MTIME_NSEC(*cur_st);
		/* the index, not the clock, covers renames within the
		   same second: no delayed second look is needed */
		hdr->cur_check_time = I_MAX((time_t)ioloop_time,
			cur_st->st_mtime + MAILDIR_SYNC_SECS + 1);
	}
	mail_index_update_header_ext(trans, mbox->maildir_ext_id, 0, hdr,
				     sizeof(*hdr));
}

/* --- flags in file names --------------------------------------------- */

struct maildir_keywords_sync_ctx *
condstore_maildir_keywords_init(struct mailbox *box)
{
	return maildir_keywords_sync_init(maildir_mbox(box)->keywords,
					  box->index);
}

void condstore_maildir_keywords_deinit(struct maildir_keywords_sync_ctx **ctx)
{
	maildir_keywords_sync_deinit(ctx);
}

void condstore_maildir_name_flags(struct maildir_keywords_sync_ctx *ctx,
				  const char *fname, enum mail_flags *flags_r,
				  ARRAY_TYPE(keyword_indexes) *keywords_r)
{
	maildir_filename_flags_get(ctx, fname, flags_r, keywords_r);
}

/* --- the index ------------------------------------------------------- */

void condstore_maildir_index_want_rewrite(struct mailbox *box,
					  const char *reason)
{
	if (box->index->need_recreate == NULL)
		box->index->need_recreate = i_strdup(reason);
}

/* --- locks and transactions ------------------------------------------ */

bool condstore_maildir_holds_locks(struct mailbox *box)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);

	return mbox->syncing_commit ||
		(mbox->uidlist != NULL &&
		 maildir_uidlist_is_locked(mbox->uidlist)) ||
		(box->index != NULL && box->index->log_sync_locked);
}

uint64_t condstore_maildir_take_max_modseq(
	struct mailbox_transaction_context *t)
{
	uint64_t max_modseq = t->itrans->max_modseq;

	t->itrans->max_modseq = 0;
	return max_modseq;
}

void condstore_maildir_cancel_update(struct mailbox_transaction_context *t,
				     uint32_t seq)
{
	struct mail_index_transaction *itrans = t->itrans;

	(void)mail_index_cancel_flag_updates(itrans, seq);
	(void)mail_index_cancel_keyword_updates(itrans, seq);
	if (itrans->conflict_seqs != NULL)
		seq_range_array_add(itrans->conflict_seqs, seq);
}

/* --- a commit's changes applied to the files ------------------------- */

/* Has cur/ changed since Dovecot's maildir header last saw it? */
static bool condstore_maildir_cur_changed(struct maildir_mailbox *mbox)
{
	struct stat st;

	if (stat(t_strconcat(mailbox_get_path(&mbox->box), "/cur", NULL),
		 &st) < 0)
		return FALSE;
	return !condstore_maildir_cur_seen(&mbox->box, &st);
}

/* Under the dovecot-uidlist lock: all records "not synced", the targets
   still in Dovecot's index named as their files were before the commit
   (see the file's comment for why only those). */
static void condstore_maildir_mark_targets(struct maildir_mailbox *mbox,
					   const struct condstore_change *changes,
					   unsigned int count)
{
	struct mail_index_view *view;
	unsigned int i;
	uint32_t seq;

	maildir_uidlist_set_all_nonsynced(mbox->uidlist);
	(void)mail_index_refresh(mbox->box.index);
	view = mail_index_view_open(mbox->box.index);
	for (i = 0; i < count; i++) {
		if (changes[i].won && changes[i].fname_before != NULL &&
		    mail_index_lookup_seq(view, changes[i].uid, &seq)) {
			maildir_uidlist_update_fname(mbox->uidlist,
						     changes[i].fname_before);
		}
	}
	mail_index_view_close(&view);
}

int condstore_maildir_apply_changes(struct mailbox *box,
				    struct condstore_change *changes,
				    unsigned int count, bool *cur_changed_r)
{
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);
	struct maildir_index_sync_context *sync_ctx;
	int ret;

	*cur_changed_r = FALSE;
	if (maildir_uidlist_lock(mbox->uidlist) <= 0)
		ret = -1;
	else if (maildir_sync_header_refresh(mbox) < 0) {
		maildir_uidlist_unlock(mbox->uidlist);
		ret = -1;
	} else {
		condstore_maildir_mark_targets(mbox, changes, count);
		if (maildir_sync_index_begin(mbox, NULL, &sync_ctx) < 0) {
			maildir_uidlist_unlock(mbox->uidlist);
			ret = -1;
		} else {
			/* Dovecot's index sync marks cur/ as seen: changes
			   other agents made since its last look would be
			   hidden from its next scan */
			*cur_changed_r = condstore_maildir_cur_changed(mbox);
			ret = maildir_sync_index(sync_ctx, TRUE);
			if (ret < 0)
				maildir_sync_index_rollback(&sync_ctx);
			else if (maildir_sync_index_commit(&sync_ctx) < 0)
				ret = -1;
			maildir_uidlist_unlock(mbox->uidlist);
			if (ret == 0) {
				/* a file was not where dovecot-uidlist
				   said: Dovecot's own full sync */
				ret = maildir_storage_sync_force(mbox, 0);
			}
		}
	}
	if (ret < 0) {
		e_error(box->event, CONDSTORE_PLUGIN_NAME
			": applying the changes to the files: %s",
			mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	return 0;
}

void condstore_maildir_find_files(struct mailbox *box,
				  struct condstore_change *changes,
				  unsigned int count, pool_t pool)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct maildir_mailbox *mbox = MAILDIR_MAILBOX(box);
	struct maildir_keywords_sync_ctx *kw_ctx;
	struct mail_index_view *view;
	struct condstore_change *c;
	ARRAY_TYPE(keyword_indexes) keywords;
	enum mail_flags flags;
	unsigned int i;
	uint32_t seq;

	(void)mail_index_refresh(box->index);
	view = mail_index_view_open(box->index);
	kw_ctx = maildir_keywords_sync_init_readonly(mbox->keywords,
						     box->index);
	t_array_init(&keywords, 8);
	for (i = 0; i < count; i++) {
		c = &changes[i];
		if (!c->won || c->fname_before == NULL ||
		    !mail_index_lookup_seq(view, c->uid, &seq))
			continue;
		array_clear(&keywords);
		mail_index_lookup_view_flags(view, seq, &flags, &keywords);
		c->fname = p_strdup(pool, maildir_filename_flags_kw_set(
			kw_ctx, c->fname_before, flags & MAIL_FLAGS_NONRECENT,
			&keywords));
		c->location = CS_LOC_CUR;
		/* Dovecot's rename leaves the old name in its record */
		if (condstore_file_is(cmbox, c->location, c->fname))
			maildir_uidlist_update_fname(mbox->uidlist, c->fname);
	}
	maildir_keywords_sync_deinit(&kw_ctx);
	mail_index_view_close(&view);
}
