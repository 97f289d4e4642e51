/*
 * condstore-maildir.h - the plugin's one door into the internals of
 * Dovecot's Maildir storage and index (dovecot-uidlist, the maildir index
 * header, keywords and the flags of file names, maildir_sync_index(),
 * private index and index transaction fields).  No other file of the
 * plugin includes maildir-*.h or *-private.h index headers, so that
 * following Dovecot's versions means changing this file pair only.
 */
#ifndef CONDSTORE_MAILDIR_H
#define CONDSTORE_MAILDIR_H

struct stat;
struct mailbox;
struct mailbox_transaction_context;
struct mail_index_transaction;
struct maildir_keywords_sync_ctx;	/* Dovecot's, opaque here */
struct condstore_change;

/* --- the storage and its file names ---------------------------------- */

/* Is box a mailbox of Dovecot's Maildir storage? */
bool condstore_maildir_is_maildir(struct mailbox *box);
/* The character that starts the info of a Maildir file name (":"), and
   the info of a name without flags (":2,"), as Dovecot was built. */
char condstore_maildir_info_sep(void);
const char *condstore_maildir_empty_info(void);

/* --- dovecot-uidlist ------------------------------------------------- */

/* Has box Dovecot's dovecot-uidlist state (an opened mailbox)? */
bool condstore_maildir_has_uidlist(struct mailbox *box);
/* dovecot-uidlist's UIDVALIDITY (0: no file yet) and next UID as this
   process last read them.  Returns FALSE when box has no uidlist (not
   opened). */
bool condstore_maildir_uidlist_header(struct mailbox *box,
				      uint32_t *uid_validity_r,
				      uint32_t *next_uid_r);
/* One record: its UID, whether Dovecot last saw its file in new/, and
   the name it has for it.  Returns 1 to go on, 0 or -1 to stop (the
   iteration returns that). */
typedef int condstore_maildir_record_cb(void *context, uint32_t uid,
					bool new_dir, const char *fname);
/* Call cb for each record of box's dovecot-uidlist (as this process last
   read it) with a UID of at least from_uid, in UID order.  Returns 1
   when every record was seen, else what cb returned. */
int condstore_maildir_uidlist_iterate(struct mailbox *box, uint32_t from_uid,
				      condstore_maildir_record_cb *cb,
				      void *context);
/* Has this process read dovecot-uidlist (so it has names to keep up to
   date)?  Locking a uidlist not read yet reads all of it. */
bool condstore_maildir_uidlist_is_read(struct mailbox *box);
/* Take and release Dovecot's dovecot-uidlist lock.  Lock returns 1 when
   locked, 0 or -1 when not (as maildir_uidlist_lock()). */
int condstore_maildir_uidlist_lock(struct mailbox *box);
void condstore_maildir_uidlist_unlock(struct mailbox *box);
/* The UID dovecot-uidlist gives the base name of fname.  Returns FALSE
   when it has none. */
bool condstore_maildir_uidlist_get_uid(struct mailbox *box,
				       const char *fname, uint32_t *uid_r);
/* Bring this process's dovecot-uidlist record of fname's message (if it
   has one) up to date: fname when that file is in new/ (location
   CS_LOC_NEW) or cur/, else "not synced" (Dovecot then neither trusts
   the old name's flags nor looks the file up by it). */
void condstore_maildir_uidlist_name(struct mailbox *box, uint8_t location,
				    const char *fname);

/* --- Dovecot's maildir index header ---------------------------------- */

/* Does box run Dovecot's index sync of a save commit right now? */
bool condstore_maildir_syncing_commit(struct mailbox *box);
/* Re-read Dovecot's maildir header of box from its index.  Returns 0, or
   -1 on error (set on the mailbox). */
int condstore_maildir_header_refresh(struct mailbox *box);
/* Does the maildir header say Dovecot saw cur/ as of cur_st? */
bool condstore_maildir_cur_seen(struct mailbox *box,
				const struct stat *cur_st);
/* Write the maildir header in trans: cur/ seen as of cur_st, or zeroed
   when cur_st is NULL (Dovecot reads cur/ at its next sync, its own way
   of asking for a rescan). */
void condstore_maildir_header_set(struct mailbox *box,
				  struct mail_index_transaction *trans,
				  const struct stat *cur_st);

/* --- flags in file names --------------------------------------------- */

/* Dovecot's keyword mapping of box (dovecot-keywords) for reading flags
   from file names; deinit sets *ctx to NULL. */
struct maildir_keywords_sync_ctx *
condstore_maildir_keywords_init(struct mailbox *box);
void condstore_maildir_keywords_deinit(struct maildir_keywords_sync_ctx **ctx);
/* The flags and keywords the name fname carries, as Dovecot's scan reads
   them (keywords_r is cleared first by Dovecot). */
void condstore_maildir_name_flags(struct maildir_keywords_sync_ctx *ctx,
				  const char *fname, enum mail_flags *flags_r,
				  ARRAY_TYPE(keyword_indexes) *keywords_r);

/* --- the index ------------------------------------------------------- */

/* Have Dovecot write dovecot.index (not only its log) at its next index
   sync commit, for reason, unless it already has a reason of its own. */
void condstore_maildir_index_want_rewrite(struct mailbox *box,
					  const char *reason);

/* --- locks and transactions ------------------------------------------ */

/* Does this process hold Dovecot's dovecot-uidlist lock or its index's
   sync lock of box (or run its maildir index sync)? */
bool condstore_maildir_holds_locks(struct mailbox *box);

/* The UNCHANGEDSINCE limit of t's STORE (0: none), and turn Dovecot's own
   check of it off (its modseqs mean nothing here). */
uint64_t condstore_maildir_take_max_modseq(
	struct mailbox_transaction_context *t);
/* Cancel t's flag and keyword updates of seq and report seq in the
   STORE's [MODIFIED] set. */
void condstore_maildir_cancel_update(struct mailbox_transaction_context *t,
				     uint32_t seq);

/* --- a commit's changes applied to the files ------------------------- */

/* After Dovecot's transaction of box committed: have Dovecot apply the
   index's pending changes to the files now (rename, unlink) the way its
   own save commit does, without reading cur/ and without syncing the
   client's view.  changes[0..count-1] that are won and have fname_before
   get that name in dovecot-uidlist first, if their UID is still in
   Dovecot's index.  Sets *cur_changed_r when cur/ had changed since
   Dovecot's last look at it (its sync marks cur/ as seen).  Returns 0, or
   -1 on error (logged). */
int condstore_maildir_apply_changes(struct mailbox *box,
				    struct condstore_change *changes,
				    unsigned int count, bool *cur_changed_r);
/* After condstore_maildir_apply_changes(): set the fname (and location) of
   each won change with fname_before whose message is still in Dovecot's
   index to the name Dovecot gave its file, from the flags its index has
   now (as Dovecot's rename computes it), allocated from pool. */
void condstore_maildir_find_files(struct mailbox *box,
				  struct condstore_change *changes,
				  unsigned int count, pool_t pool);

#endif
