/*
 * condstore-mailbox.c - mailbox vfuncs of the plugin: which mailboxes are
 * served, HIGHESTMODSEQ from the index, keeping the index's UIDs in step
 * with dovecot-uidlist after each sync, waiting for the watch daemon,
 * MODSEQ search arguments, and mailboxes renamed or deleted through IMAP.
 *
 * The transaction commit is in condstore-transaction.c.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "str.h"
#include "mail-search.h"
#include "mailbox-list-private.h"

#include <sys/stat.h>

#include "condstore-plugin.h"
#include "condstore-maildir.h"

struct condstore_storage_module condstore_storage_module =
	MODULE_CONTEXT_INIT(&mail_storage_module_register);

/* --- the index mailbox ------------------------------------------------ */

static int condstore_mailbox_open_cbox(struct condstore_mailbox *cmbox,
				       bool create)
{
	struct cs_error err;
	int ret;

	if (cmbox->cbox != NULL)
		return 1;
	cs_error_clear(&err);
	if (!create) {
		ret = cs_mailbox_open(cmbox->index, cmbox->name, FALSE,
				      CS_UIDSRC_DOVECOT, 0, &cmbox->cbox,
				      &err);
	} else if (cs_index_in_transaction(cmbox->index)) {
		/* a scan runs its own transactions */
		cs_error_set(&err, CS_ERR_BUSY, "%s: not indexed yet",
			     cmbox->name);
		ret = -1;
	} else {
		/* a scan creates the record and takes Dovecot's UIDs */
		struct cs_scan_settings set;
		struct cs_scan_stats stats;

		i_zero(&set);
		i_zero(&stats);
		ret = cs_maildir_scan(cmbox->index, cmbox->name, &set, &stats,
				      &err);
		if (ret == 0) {
			ret = cs_mailbox_open(cmbox->index, cmbox->name,
					      FALSE, CS_UIDSRC_DOVECOT, 0,
					      &cmbox->cbox, &err);
		}
	}
	if (ret < 0) {
		condstore_log_error(NULL, t_strdup_printf(
			"mailbox %s", cmbox->name), &err);
	}
	return ret;
}

int condstore_mailbox_get(struct condstore_mailbox *cmbox,
			  struct cs_mailbox **cbox_r)
{
	struct cs_error err;
	int ret;

	if (cmbox->cbox == NULL) {
		ret = condstore_mailbox_open_cbox(cmbox, FALSE);
		if (ret == 0)
			ret = condstore_mailbox_open_cbox(cmbox, TRUE);
		if (ret <= 0)
			return -1;
	} else if (!cs_index_in_transaction(cmbox->index)) {
		cs_error_clear(&err);
		if (cs_mailbox_refresh(cmbox->cbox, &err) < 0) {
			condstore_log_error(NULL, t_strdup_printf(
				"mailbox %s", cmbox->name), &err);
			return -1;
		}
	}
	*cbox_r = cmbox->cbox;
	return 1;
}

bool condstore_mailbox_uids_shared(struct mailbox *box,
				   struct cs_mailbox *cbox)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(cbox);

	return box->view != NULL && rec->uid_source == CS_UIDSRC_DOVECOT &&
		rec->uidvalidity ==
		mail_index_get_header(box->view)->uid_validity;
}

/* Where is the file the uidlist names fname (in new/ when new_dir)?  The
   uidlist keeps the name a file had when Dovecot first listed it; since
   then Dovecot may have moved it from new/ to cur/ adding ":2,", which is
   tried too.  Returns the name and location in *name_r, *location_r
   (the name in the data stack), or FALSE if the file is under none. */
static bool condstore_uidlist_file(const char *dir, const char *fname,
				   bool new_dir, const char **name_r,
				   uint8_t *location_r)
{
	const char *const candidates[] = {
		fname, fname,
		strchr(fname, condstore_maildir_info_sep()) != NULL ? NULL :
		t_strconcat(fname, condstore_maildir_empty_info(), NULL)
	};
	const uint8_t locations[] = {
		new_dir ? CS_LOC_NEW : CS_LOC_CUR,
		new_dir ? CS_LOC_CUR : CS_LOC_NEW,
		CS_LOC_CUR
	};
	struct stat st;
	unsigned int i;

	for (i = 0; i < N_ELEMENTS(candidates); i++) {
		if (candidates[i] == NULL)
			continue;
		if (lstat(t_strconcat(dir, locations[i] == CS_LOC_NEW ?
				      "/new/" : "/cur/", candidates[i], NULL),
			  &st) == 0 && S_ISREG(st.st_mode)) {
			*name_r = candidates[i];
			*location_r = locations[i];
			return TRUE;
		}
	}
	return FALSE;
}

/* Dovecot's UIDs that left dovecot-uidlist before the index learnt them
   are recorded as expunges up to this many per learning (a UIDNEXT that
   jumped is no expunge of that many messages). */
#define CONDSTORE_LEARN_GONE_MAX 4096

struct condstore_learn_ctx {
	struct condstore_mailbox *cmbox;
	struct cs_mailbox *cbox;
	struct cs_error err;
	ARRAY_TYPE(seq_range) listed;	/* UIDs dovecot-uidlist has */
	/* a file was under none of the names tried (renamed meanwhile) */
	bool unfound;
};

/* One dovecot-uidlist record: reconcile its file with its UID.  A file
   under none of the names tried is left to a scan (ctx->unfound), and the
   walk goes on: the UIDs the list no longer names are known only after
   all of it was read.  Returns 1, or -1 on error. */
static int condstore_learn_uid(void *context, uint32_t uid, bool new_dir,
			       const char *fname)
{
	struct condstore_learn_ctx *ctx = context;
	struct cs_disk_state disk;
	struct cs_name name;
	const char *found;
	uint8_t location;
	int ret = 1;

	seq_range_array_add(&ctx->listed, uid);
	T_BEGIN {
		if (!condstore_uidlist_file(ctx->cmbox->dir, fname, new_dir,
					    &found, &location) ||
		    cs_name_parse(found, condstore_maildir_info_sep(), &name,
				  NULL) < 0) {
			ctx->unfound = TRUE;
		} else {
			i_zero(&disk);
			disk.present = TRUE;
			disk.location = location;
			disk.suffix = name.suffix;
			disk.flags = name.flags;
			disk.uid = uid;
			if (cs_reconcile(ctx->cbox, name.base, name.base_len,
					 &disk, NULL, &ctx->err) < 0)
				ret = -1;
		}
	} T_END;
	return ret;
}

/* The UIDs Dovecot gave from from_uid up to next_uid that are no longer
   in its uidlist (ctx->listed): messages numbered and expunged before the
   index learnt them (they came and went between two looks of the daemon
   or a scan).  Each gets a tombstone if the index has no trace of it, so
   that a QRESYNC client that knew it is told it vanished.  Returns 0 or
   -1 (ctx->err set). */
static int condstore_learn_gone(struct condstore_learn_ctx *ctx,
				uint32_t from_uid, uint32_t next_uid)
{
	ARRAY_TYPE(seq_range) gone;
	struct seq_range_iter iter;
	unsigned int n = 0;
	uint32_t uid;

	if (next_uid <= from_uid)
		return 0;
	t_array_init(&gone, 8);
	seq_range_array_add_range(&gone, from_uid, next_uid - 1);
	seq_range_array_remove_seq_range(&gone, &ctx->listed);
	if (seq_range_count(&gone) > CONDSTORE_LEARN_GONE_MAX)
		return 0;
	seq_range_array_iter_init(&iter, &gone);
	while (seq_range_array_iter_nth(&iter, n++, &uid)) {
		if (cs_expunge_uid(ctx->cbox, uid, &ctx->err) < 0)
			return -1;
	}
	return 0;
}

/* Reconcile the files Dovecot numbered from from_uid on, each with its
   UID, by the names Dovecot's uidlist gives: the cost follows the new
   messages, not the mailbox; and the UIDs below next_uid it no longer
   lists are expunges (condstore_learn_gone).  Returns 1 done, 0 when a
   file was under none of the names tried (the caller scans; the gone
   UIDs are recorded all the same), -1 on error. */
static int condstore_learn_uids(struct mailbox *box, struct cs_mailbox *cbox,
				uint32_t from_uid, uint32_t next_uid)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_learn_ctx ctx;
	int ret;

	i_zero(&ctx);
	ctx.cmbox = cmbox;
	ctx.cbox = cbox;
	cs_error_clear(&ctx.err);
	if (cs_index_begin(cmbox->index, &ctx.err) < 0) {
		condstore_log_error(box, "learning Dovecot's UIDs", &ctx.err);
		return -1;
	}
	T_BEGIN {
		t_array_init(&ctx.listed, 8);
		ret = condstore_maildir_uidlist_iterate(box, from_uid,
							condstore_learn_uid,
							&ctx);
		/* (only after a walk of the whole list, also when a file
		   was not found and a scan follows: the scan learns the
		   files it finds, not the UIDs that are gone) */
		if (ret > 0 && condstore_maildir_uidlist_is_read(box) &&
		    condstore_learn_gone(&ctx, from_uid, next_uid) < 0)
			ret = -1;
		if (ret > 0 && ctx.unfound)
			ret = 0;
	} T_END;
	if (ret < 0 || cs_index_commit(cmbox->index, &ctx.err) < 0) {
		cs_index_rollback(cmbox->index);
		condstore_log_error(box, "learning Dovecot's UIDs", &ctx.err);
		return -1;
	}
	e_debug(box->event, CONDSTORE_PLUGIN_NAME ": UIDs from %u on %s",
		from_uid, ret > 0 ? "learnt" : "need a scan");
	return ret;
}

/* Rescan the mailbox into the index when Dovecot's uidlist has UIDs the
   index does not know yet (Dovecot numbered new messages) or another
   UIDVALIDITY.  The scan reconciles by the common rule: the UIDs are
   learnt without new modseqs, and nothing that did not change gets one.
   Renames do not count: only the uidlist's header is compared. */
int condstore_mailbox_sync_uids(struct mailbox *box, bool switch_only)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	const struct cs_mailbox_rec *rec;
	struct cs_mailbox *cbox;
	struct cs_scan_settings set;
	struct cs_scan_stats stats;
	struct cs_error err;
	uint32_t uidvalidity, next_uid;
	int ret;

	if (cmbox->index == NULL)
		return -1;
	if (cs_index_in_transaction(cmbox->index)) {
		/* called back from inside our own commit (Dovecot's sync
		   asking for status): the next sync catches up */
		return 0;
	}
	if (!condstore_maildir_uidlist_header(box, &uidvalidity, &next_uid))
		return 0;
	if (uidvalidity == 0)
		return 0;	/* no dovecot-uidlist (yet) */
	if (condstore_mailbox_get(cmbox, &cbox) < 0)
		return -1;
	rec = cs_mailbox_get_rec(cbox);
	if (rec->uid_source == CS_UIDSRC_DOVECOT &&
	    rec->uidvalidity == uidvalidity) {
		if (switch_only || rec->uidnext >= next_uid ||
		    cmbox->scanned_next_uid == next_uid)
			return 0;
		ret = condstore_learn_uids(box, cbox, rec->uidnext, next_uid);
		if (ret != 0) {
			cmbox->scanned_next_uid = next_uid;
			return ret < 0 ? -1 : 0;
		}
		/* a file was renamed meanwhile: scan */
	}

	i_zero(&set);
	i_zero(&stats);
	cs_error_clear(&err);
	if (cs_maildir_scan(cmbox->index, cmbox->name, &set, &stats,
			    &err) < 0) {
		condstore_log_error(box, "scan for Dovecot's new UIDs", &err);
		return -1;
	}
	/* UIDs given to messages expunged before the scan leave the
	   index's uidnext behind Dovecot's: scan for those only once */
	cmbox->scanned_next_uid = next_uid;
	(void)cs_mailbox_refresh(cbox, NULL);
	return 0;
}

/* --- status ------------------------------------------------------------ */

static int condstore_get_status(struct mailbox *box,
				enum mailbox_status_items items,
				struct mailbox_status *status_r)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_mailbox *cbox;

	if (cmbox->module_ctx.super.get_status(box, items, status_r) < 0)
		return -1;
	if ((items & STATUS_HIGHESTMODSEQ) == 0)
		return 0;
	if (cmbox->index == NULL || condstore_mailbox_get(cmbox, &cbox) < 0) {
		/* the error is logged; Dovecot's own numbers would be wrong
		   answers, so say NOMODSEQ (get_status must not fail here:
		   mailbox_get_open_status() can't handle a failure) */
		status_r->highest_modseq = 0;
		status_r->no_modseq_tracking = TRUE;
		return 0;
	}
	status_r->highest_modseq = condstore_view_modseq(box, cbox);
	status_r->nonpermanent_modseqs = FALSE;
	status_r->no_modseq_tracking = FALSE;
	return 0;
}

/* --- sync: apply the index's changes, take Dovecot's UIDs ------------ */

static struct mailbox_sync_context *
condstore_sync_init(struct mailbox *box, enum mailbox_sync_flags flags)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	struct mailbox_sync_context *ctx;

	T_BEGIN {
		condstore_sync_prepare(box, flags);
	} T_END;
	ctx = cmbox->module_ctx.super.sync_init(box, flags);
	/* Dovecot's scan has run, nothing of it is shown yet */
	T_BEGIN {
		condstore_sync_reconcile_disk(box);
	} T_END;
	return ctx;
}

static bool condstore_sync_next(struct mailbox_sync_context *ctx,
				struct mailbox_sync_rec *sync_rec_r)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(ctx->box);

	if (!cmbox->module_ctx.super.sync_next(ctx, sync_rec_r))
		return FALSE;
	cmbox->sync_changes++;
	condstore_sync_note(ctx->box, sync_rec_r);
	return TRUE;
}

static int condstore_sync_deinit(struct mailbox_sync_context *ctx,
				 struct mailbox_sync_status *status_r)
{
	struct mailbox *box = ctx->box;
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	unsigned int changes = cmbox->sync_changes;
	bool wait;
	int ret;

	cmbox->sync_changes = 0;
	ret = cmbox->module_ctx.super.sync_deinit(ctx, status_r);
	T_BEGIN {
		condstore_sync_record_expunges(box);
	} T_END;
	condstore_mail_gone_forget(box);
	/* Dovecot's sync found changes on disk (possibly made by other
	   agents) by itself: when a watch daemon serves this Maildir, wait
	   until it has recorded everything that happened so far, so that
	   the modseqs sent next belong to the flags Dovecot now shows.
	   The first sync after opening (SELECT) waits even when Dovecot
	   reports no change: a fresh view reports none.  Changes applied
	   from the index need no wait, and a sync waits once at most: not
	   again after condstore_sync_prepare() asked the daemon, nor when
	   it ran without the daemon's records.  (Not from inside our own
	   commit: the daemon needs the index's transaction lock.) */
	wait = !cmbox->wait_tried && !cmbox->reconcile_scan &&
		!cmbox->applied &&
		(changes > 0 || (!cmbox->synced_once && !cmbox->waited));
	if (ret == 0 && wait && cmbox->index != NULL &&
	    !cs_index_in_transaction(cmbox->index)) {
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": sync: Dovecot "
			"found %u change(s): waiting for the daemon", changes);
		(void)condstore_sync_wait(box);
	}
	cmbox->synced_once = TRUE;
	if (ret == 0 && condstore_mailbox_sync_uids(box, FALSE) < 0) {
		mail_storage_set_internal_error(box->storage);
		ret = -1;
	}
	/* (after the switch to Dovecot's UIDs, whose UIDVALIDITY the point
	   is recorded with) */
	if (ret == 0 && cmbox->index != NULL)
		condstore_sync_finish(box);
	if (ret == 0 && cmbox->index != NULL && status_r != NULL)
		condstore_view_sync_status(box, status_r);
	return ret;
}

/* --- search: MODSEQ from the index ----------------------------------- */

static struct mail_search_context *
condstore_search_init(struct mailbox_transaction_context *t,
		      struct mail_search_args *args,
		      const enum mail_sort_type *sort_program,
		      enum mail_fetch_field wanted_fields,
		      struct mailbox_header_lookup_ctx *wanted_headers)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(t->box);

	condstore_search_args_rewrite(t->box, args);
	return cmbox->module_ctx.super.search_init(t, args, sort_program,
						   wanted_fields,
						   wanted_headers);
}

/* --- mailboxes deleted and renamed through IMAP ----------------------- */

struct condstore_name_collect {
	const char *prefix;	/* "A." for the children of "A" */
	ARRAY_TYPE(const_string) names;
};

static int condstore_collect_child(void *context, const char *name,
				   const struct cs_mailbox_rec *rec ATTR_UNUSED,
				   struct cs_error *err ATTR_UNUSED)
{
	struct condstore_name_collect *ctx = context;
	const char *copy;

	if (str_begins_with(name, ctx->prefix)) {
		copy = t_strdup(name);
		array_push_back(&ctx->names, &copy);
	}
	return 0;
}

/* Apply a delete of mailbox name (new_name == NULL), or a rename of it and
   of the Maildir++ folders below it (Dovecot renames those with it), to
   the index, in one index transaction. */
static void condstore_index_follow(struct mailbox *box, const char *name,
				   const char *new_name)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_name_collect ctx;
	const char *const *child;
	struct cs_error err;
	size_t len = strlen(name);
	int ret = 0;

	if (cmbox->index == NULL)
		return;
	cs_mailbox_close(&cmbox->cbox);
	cs_error_clear(&err);
	ctx.prefix = t_strconcat(name, ".", NULL);
	t_array_init(&ctx.names, 8);
	if ((new_name != NULL &&
	     cs_mailbox_list(cmbox->index, condstore_collect_child, &ctx,
			     &err) < 0) ||
	    cs_index_begin(cmbox->index, &err) < 0) {
		condstore_log_error(box, "following a rename or delete", &err);
		return;
	}
	array_push_back(&ctx.names, &name);
	array_foreach(&ctx.names, child) {
		if (new_name == NULL) {
			ret = cs_mailbox_delete(cmbox->index, *child, &err);
		} else {
			ret = cs_mailbox_rename(cmbox->index, *child,
				t_strconcat(new_name, *child + len, NULL),
				&err);
		}
		if (ret < 0)
			break;
	}
	if (ret < 0 || cs_index_commit(cmbox->index, &err) < 0) {
		cs_index_rollback(cmbox->index);
		condstore_log_error(box, "following a rename or delete", &err);
	}
}

static int condstore_delete_box(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	if (cmbox->module_ctx.super.delete_box(box) < 0)
		return -1;
	T_BEGIN {
		condstore_index_follow(box, cmbox->name, NULL);
	} T_END;
	return 0;
}

static int condstore_rename_box(struct mailbox *src, struct mailbox *dest)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(src);
	struct condstore_mailbox *dest_cmbox = CONDSTORE_MAILBOX_CONTEXT(dest);

	if (cmbox->module_ctx.super.rename_box(src, dest) < 0)
		return -1;
	T_BEGIN {
		/* into another index (or one not served): the records go,
		   the destination is indexed afresh */
		bool same_index = dest_cmbox != NULL &&
			dest_cmbox->index == cmbox->index;

		condstore_index_follow(src, cmbox->name,
				       same_index ? dest_cmbox->name : NULL);
	} T_END;
	return 0;
}

/* --- allocation ------------------------------------------------------- */

static void condstore_mailbox_close(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	/* opening and closing a mailbox (e.g. when Dovecot refreshes its
	   mailbox list index) may create dovecot-uidlist without a sync */
	condstore_notify_remove(box);
	condstore_view_reset(box);
	if (cmbox->index != NULL)
		(void)condstore_mailbox_sync_uids(box, TRUE);
	cmbox->module_ctx.super.close(box);
}

static void condstore_mailbox_free(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	cs_mailbox_close(&cmbox->cbox);
	if (array_is_created(&cmbox->sync_expunged))
		array_free(&cmbox->sync_expunged);
	if (array_is_created(&cmbox->gone_shown))
		array_free(&cmbox->gone_shown);
	if (cmbox->keywords_read)
		cs_keywords_free(&cmbox->keywords);
	cmbox->module_ctx.super.free(box);
}

/* Where the mailbox lives: its directory, the Maildir root and the
   index's name for it.  Returns FALSE for mailboxes the plugin does not
   serve (not Maildir, not Maildir++ layout). */
static bool condstore_mailbox_locate(struct mailbox *box,
				     const char **dir_r, const char **root_r,
				     const char **name_r)
{
	const char *root, *dir, *slash;

	if (!condstore_maildir_is_maildir(box) ||
	    strcmp(box->list->name, MAILBOX_LIST_NAME_MAILDIRPLUSPLUS) != 0)
		return FALSE;
	if (mailbox_get_path_to(box, MAILBOX_LIST_PATH_TYPE_MAILBOX,
				&dir) <= 0)
		return FALSE;
	if (!mailbox_list_get_root_path(box->list,
					MAILBOX_LIST_PATH_TYPE_MAILBOX, &root))
		return FALSE;
	if (strcmp(dir, root) == 0) {
		*name_r = "INBOX";
	} else {
		slash = strrchr(dir, '/');
		if (slash == NULL || slash[1] != '.' || slash[2] == '\0' ||
		    strncmp(dir, root, slash - dir) != 0 ||
		    strlen(root) != (size_t)(slash - dir))
			return FALSE;
		*name_r = slash + 2;
	}
	*dir_r = dir;
	*root_r = root;
	return TRUE;
}

void condstore_mailbox_allocated(struct mailbox *box)
{
	struct condstore_user *cuser =
		CONDSTORE_USER_CONTEXT(box->storage->user);
	struct mailbox_vfuncs *v = box->vlast;
	struct condstore_mailbox *cmbox;
	const char *dir, *root, *name;

	if (cuser == NULL || !condstore_mailbox_locate(box, &dir, &root,
						       &name))
		return;

	cmbox = p_new(box->pool, struct condstore_mailbox, 1);
	cmbox->module_ctx.super = *v;
	box->vlast = &cmbox->module_ctx.super;
	cmbox->cuser = cuser;
	cmbox->dir = p_strdup(box->pool, dir);
	cmbox->name = p_strdup(box->pool, name);
	cmbox->index = condstore_user_index(cuser, root);

	v->get_status = condstore_get_status;
	v->sync_init = condstore_sync_init;
	v->sync_next = condstore_sync_next;
	v->sync_deinit = condstore_sync_deinit;
	v->search_init = condstore_search_init;
	v->transaction_begin = condstore_transaction_begin;
	v->transaction_commit = condstore_transaction_commit;
	v->transaction_rollback = condstore_transaction_rollback;
	v->delete_box = condstore_delete_box;
	v->rename_box = condstore_rename_box;
	v->notify_changes = condstore_notify_changes;
	v->close = condstore_mailbox_close;
	v->free = condstore_mailbox_free;
	MODULE_CONTEXT_SET(box, condstore_storage_module, cmbox);
}
