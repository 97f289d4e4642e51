/*
 * condstore-plugin.h - what the parts of the maildir_condstore Dovecot
 * plugin share: the per-user state (settings and the open indexes), the
 * per-mailbox and per-transaction contexts, and the entry points of each
 * part (mailbox vfuncs, mail vfuncs, search rewrite, imap side).
 *
 * The plugin serves every CONDSTORE number of a Maildir mailbox from the
 * maildir-condstore index (design "A"): the tdb is the authority, Dovecot's
 * own modseqs are never shown.
 */
#ifndef CONDSTORE_PLUGIN_H
#define CONDSTORE_PLUGIN_H

#include "module-context.h"
#include "mail-user.h"
#include "mail-storage-private.h"

#include "condstore.h"
#include "condstore-dovecot.h"

#define CONDSTORE_PLUGIN_NAME "maildir_condstore"

#define CONDSTORE_USER_CONTEXT(obj) \
	MODULE_CONTEXT(obj, condstore_user_module)
#define CONDSTORE_USER_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, condstore_user_module)
#define CONDSTORE_MAILBOX_CONTEXT(obj) \
	MODULE_CONTEXT(obj, condstore_storage_module)
#define CONDSTORE_MAILBOX_CONTEXT_REQUIRE(obj) \
	MODULE_CONTEXT_REQUIRE(obj, condstore_storage_module)
#define CONDSTORE_TRANS_CONTEXT(obj) \
	MODULE_CONTEXT(obj, condstore_storage_module)
#define CONDSTORE_MAIL_CONTEXT(obj) \
	MODULE_CONTEXT(obj, condstore_mail_module)

/* One open index: one tdb per Maildir root. */
struct condstore_root {
	char *root;
	struct cs_index *index;
};

struct condstore_user {
	union mail_user_module_context module_ctx;
	/* maildir_condstore_db as expanded by Dovecot, NULL: ROOT's
	   condstore.tdb */
	const char *db_path;
	bool nosync;
	ARRAY(struct condstore_root) roots;
	/* gives back the indexes' inotify instances once no sync has
	   waited for the daemon for a while (condstore_user_sync_waited) */
	struct timeout *sync_release_to;
};

/* A message of a view whose file is gone, and the MODSEQ the view was
   given for it with the flags it showed (condstore-mail.c). */
struct condstore_gone_shown {
	uint32_t uid;
	uint64_t flags;
	uint64_t modseq;
};

/* A Maildir mailbox served from the index. */
struct condstore_mailbox {
	union mailbox_module_context module_ctx;
	struct condstore_user *cuser;
	struct cs_index *index;		/* borrowed from cuser's roots */
	const char *name;		/* index name: "INBOX", "A.B" */
	const char *dir;		/* the mailbox directory */
	struct cs_mailbox *cbox;	/* NULL until first used */
	struct cs_keywords keywords;	/* dovecot-keywords, read lazily */
	bool keywords_read;
	/* changes the running sync reported (sync_next) */
	unsigned int sync_changes;
	/* UIDs the running sync expunged from the view (condstore-sync.c) */
	ARRAY_TYPE(seq_range) sync_expunged;
	/* the first sync after opening (SELECT) waits for the watch daemon
	   even when Dovecot reports no change: a fresh view reports none */
	bool synced_once;
	/* Dovecot's next UID at this process's last scan for new UIDs */
	uint32_t scanned_next_uid;
	/* condstore-sync.c: this process's dovecot-uidlist names are up to
	   date with the change log up to this modseq (0: not known) */
	uint64_t caught_up;
	/* the change log's top before a scan of cur/ Dovecot was asked
	   for in this sync (0: none) */
	uint64_t scan_point;
	/* this sync waited for the daemon / applied the change log */
	bool waited;
	bool applied;
	/* this sync asked the daemon (at most once per sync) */
	bool wait_tried;
	/* this sync runs without the daemon's records (none serves the
	   Maildir, or it did not answer in time): after Dovecot's scan, the
	   mailbox is reconciled with the disk before anything is shown */
	bool reconcile_scan;
	/* new/ and cur/ as of the start of this process's last such
	   reconcile (all zero: none, or too recent to be trusted) */
	struct timespec reconciled_new, reconciled_cur;
	/* syncs this process served from the change log (checkpoints) */
	unsigned int applied_count;
	/* our header extension was added to Dovecot's index by this
	   process: have dovecot.index written with it (checkpoint) */
	bool ext_introduced;
	/* a commit of this process just had Dovecot apply its changes to
	   the files: the sync ending that command need not wait */
	bool committed;
	/* condstore-view.c: every change of the index up to this modseq
	   is in this mailbox's view (0: not known yet), for the index
	   mailbox view_floor_id */
	uint64_t view_floor;
	uint32_t view_floor_id;
	/* the highest MODSEQ this mailbox gave that the view's
	   HIGHESTMODSEQ did not reach yet at its last sync (0: none) */
	uint64_t view_max_given;
	/* condstore-mail.c: the messages of the view whose files are gone,
	   as they were last shown (forgotten once the view drops them) */
	ARRAY(struct condstore_gone_shown) gone_shown;
	/* condstore-notify.c: the watch of the daemon's announcements
	   while a session waits for changes (IDLE), or NULL */
	struct io *io_changed;
};

/* One flag change a transaction asked for. */
struct condstore_change {
	uint32_t seq;
	uint32_t uid;
	const char *base;	/* NULL: Dovecot could not name the file */
	/* the file's name before the commit (step 2; NULL: not found) */
	const char *fname_before;
	/* the file's name after Dovecot's sync (NULL: not found) */
	const char *fname;
	uint8_t location;	/* CS_LOC_NEW or CS_LOC_CUR */
	bool won;		/* made, and to be recorded */
	bool expunge;		/* the message is expunged */
};

struct condstore_transaction {
	union mailbox_transaction_module_context module_ctx;
	pool_t pool;
	ARRAY(struct condstore_change) changes;
};

extern MODULE_CONTEXT_DEFINE(condstore_user_module,
			     &mail_user_module_register);
extern MODULE_CONTEXT_DEFINE(condstore_storage_module,
			     &mail_storage_module_register);
extern MODULE_CONTEXT_DEFINE(condstore_mail_module,
			     &mail_module_register);

/* condstore-plugin.c: the index of root for user (opened on first use).
   Returns the index, or NULL after logging the error. */
struct cs_index *condstore_user_index(struct condstore_user *cuser,
				      const char *root);
/* A sync of the user's just waited for the watch daemon: the inotify
   instances of the waits (cs_sync_wait) are kept for the next ones, and
   given back (cs_sync_release) once none has waited for
   CONDSTORE_SYNC_RELEASE_MSECS: a session in IDLE holds none of
   fs.inotify.max_user_instances, and closing one (the kernel's grace
   period, up to tens of ms under load) happens while nobody waits. */
#define CONDSTORE_SYNC_RELEASE_MSECS 2000
void condstore_user_sync_waited(struct condstore_user *cuser);
/* Log a library error for box (or the user when box is NULL). */
void condstore_log_error(struct mailbox *box, const char *what,
			 const struct cs_error *err);

/* condstore-mailbox.c */
void condstore_mailbox_allocated(struct mailbox *box);
/* The index mailbox of box (opened, created when missing, the first time
   it is needed).  Returns 1 and sets *cbox_r, or -1 on error (logged). */
int condstore_mailbox_get(struct condstore_mailbox *cmbox,
			  struct cs_mailbox **cbox_r);
/* Does the index number box's messages with the UIDs of box's view
   (Dovecot's UIDs, the same UIDVALIDITY)?  Before the first sync has
   switched the index to Dovecot's UIDs they are unrelated. */
bool condstore_mailbox_uids_shared(struct mailbox *box,
				   struct cs_mailbox *cbox);
/* Bring the index up to date with the UIDs Dovecot's uidlist has given
   (new messages, a new UIDVALIDITY).  Runs its own index transactions.
   With switch_only, only a mailbox not yet on Dovecot's UIDs (or with
   another UIDVALIDITY) is scanned: a caller that may hold Dovecot's locks
   (mailbox close) does no more than this one-time switch.  Returns 0, or
   -1 on error (logged). */
int condstore_mailbox_sync_uids(struct mailbox *box, bool switch_only);

/* condstore-sync.c: before Dovecot's sync of box, apply what the index
   recorded since Dovecot's index was last brought up to date, so that
   Dovecot need not read cur/ (see the file's comment). */
void condstore_sync_prepare(struct mailbox *box,
			    enum mailbox_sync_flags flags);
/* Right after Dovecot's own sync of box ran (before any of its results
   are shown): when no daemon's records serve this sync, reconcile the
   mailbox with the disk, so every change Dovecot's scan found has its
   fresh modseq in the index (a readdir, no more, when nothing changed). */
void condstore_sync_reconcile_disk(struct mailbox *box);
/* After Dovecot's sync succeeded: note the point a scan of cur/ it was
   asked for brought its index to. */
void condstore_sync_finish(struct mailbox *box);
/* A sync record of Dovecot's sync of box (sync_next): the UIDs of the
   messages it expunges from the view are noted. */
void condstore_sync_note(struct mailbox *box,
			 const struct mailbox_sync_rec *sync_rec);
/* After Dovecot's sync of box: give every UID it expunged from the view
   that the index has no trace of a tombstone (cs_expunge_uid), so that a
   QRESYNC client that knew the message is told it vanished.  Forgets the
   noted UIDs in any case. */
void condstore_sync_record_expunges(struct mailbox *box);
/* After an index transaction of this process took the mailbox from
   modseq top_before to top_after with changes Dovecot's index already
   has (a commit of condstore-transaction.c): when Dovecot's index was up
   to date with top_before, it now is with top_after. */
void condstore_sync_committed(struct mailbox *box, uint64_t top_before,
			      uint64_t top_after);
/* Is fname the name of a regular file in cmbox's new/ (CS_LOC_NEW) or
   cur/ now? */
bool condstore_file_is(struct condstore_mailbox *cmbox, uint8_t location,
		       const char *fname);
/* Does a live watch daemon serve box's Maildir? */
bool condstore_daemon_serves(struct mailbox *box);
/* Ask Dovecot to read cur/ at its next sync of box (its own "rescan
   later" mark in its maildir header). */
void condstore_sync_request_scan(struct mailbox *box);
/* Wait for the watch daemon serving box's Maildir to record everything
   that happened on disk so far.  Returns 1, 0 when no daemon serves it,
   -1 on error (logged as a warning). */
int condstore_sync_wait(struct mailbox *box);

struct maildir_keywords_sync_ctx;
/* Does seq of view show the flags and keywords fname carries?  (TRUE
   also for a message with flags Dovecot has not written to its file
   yet: those are its own.) */
bool condstore_view_shows_name(struct mailbox *box,
			       struct maildir_keywords_sync_ctx *kw_ctx,
			       struct mail_index_view *view, uint32_t seq,
			       const char *fname);
/* The change-log point Dovecot's index (as box's view has it) was last
   brought up to date with, 0 if none is recorded for rec. */
uint64_t condstore_sync_view_point(struct mailbox *box,
				   const struct cs_mailbox_rec *rec);

/* condstore-view.c: the HIGHESTMODSEQ box's view stands for: the
   highest modseq such that every change of the index up to it is in the
   view (see the file's comment).  At most the index's top; never below
   what it returned before for the same view. */
uint64_t condstore_view_modseq(struct mailbox *box, struct cs_mailbox *cbox);
/* At the end of a sync of box: while a MODSEQ above the view's
   HIGHESTMODSEQ has been given, have Dovecot's imap
   treat it as it treats delayed expunges (it then sends the
   HIGHESTMODSEQ of the last sync that had none, so that a client that
   takes the highest MODSEQ it was sent as its own does not go past a
   change its view lacks). */
void condstore_view_sync_status(struct mailbox *box,
				struct mailbox_sync_status *status_r);
/* Note a MODSEQ given for a message of box. */
void condstore_view_given(struct mailbox *box, uint64_t modseq);
/* Forget the view's point (the mailbox closes). */
void condstore_view_reset(struct mailbox *box);

/* condstore-notify.c: the mailbox's notify_changes (IDLE): Dovecot's
   own watches, and the daemon's announcement of each commit that
   recorded changes, which calls the session's callback at once. */
void condstore_notify_changes(struct mailbox *box);
/* Stop watching the announcements (the mailbox closes). */
void condstore_notify_remove(struct mailbox *box);

/* condstore-mail.c */
void condstore_mail_allocated(struct mail *mail);
/* The base name Dovecot knows mail by (its Maildir file name up to the
   info separator).  Returns 1, 0 if the mail is gone, -1 on error. */
int condstore_mail_get_base(struct mail *mail, const char **base_r);
/* The index record of mail (current flags and modseq).  Returns 1, 0 if
   the index has no record of it, -1 on error. */
int condstore_mail_lookup(struct mail *mail, struct cs_message *msg_r);
/* The flags Dovecot reports for mail, as a cs-name.h flag set. */
uint64_t condstore_mail_flags(struct mail *mail);
/* Forget the gone messages box's view no longer has (after a sync). */
void condstore_mail_gone_forget(struct mailbox *box);
/* The flag bits Dovecot can express (system letters and keywords). */
uint64_t condstore_flags_visible_mask(void);

/* condstore-transaction.c: the transaction vfuncs (doc/design.md
   sections 4 and 8; the steps of the commit are described atop that
   file). */
struct mailbox_transaction_context *
condstore_transaction_begin(struct mailbox *box,
			    enum mailbox_transaction_flags flags,
			    const char *reason);
int condstore_transaction_commit(
	struct mailbox_transaction_context *t,
	struct mail_transaction_commit_changes *changes_r);
void condstore_transaction_rollback(struct mailbox_transaction_context *t);
/* Remember that the transaction of mail changes its flags or (with
   expunge) expunges it, for the commit. */
void condstore_transaction_add(struct mail *mail, bool expunge);

/* condstore-search.c: replace the MODSEQ arguments of args (including
   CHANGEDSINCE) by UID sets from the index, before Dovecot sees them. */
void condstore_search_args_rewrite(struct mailbox *box,
				   struct mail_search_args *args);

/* condstore-qresync.c: the imap-side part, VANISHED (EARLIER) from the
   index for QRESYNC clients; a no-op in processes other than imap. */
void condstore_qresync_init(void);
void condstore_qresync_deinit(void);
/* Called by condstore-search.c at every search with MODSEQ arguments,
   before they are rewritten (NULL outside imap). */
extern void (*condstore_search_hook)(struct mailbox *box,
				     struct mail_search_args *args);

void maildir_condstore_plugin_init(struct module *module);
void maildir_condstore_plugin_deinit(void);

#endif
