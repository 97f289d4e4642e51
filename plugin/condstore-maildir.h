/*
 * condstore-maildir.h - the plugin's one door into the internals of
 * Dovecot's Maildir storage and index transactions (dovecot-uidlist,
 * maildir_sync_index(), private index transaction fields).  Nothing else
 * in the plugin should need maildir-*.h or *-private.h index headers for
 * what is here, so that following Dovecot's versions means changing this
 * file pair only.
 */
#ifndef CONDSTORE_MAILDIR_H
#define CONDSTORE_MAILDIR_H

struct mailbox;
struct mailbox_transaction_context;
struct condstore_change;

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
