/*
 * condstore-mail.c - mail vfuncs of the plugin: the MODSEQ of a message
 * from the index, and flag changes and expunges noted for the
 * transaction's commit (condstore-mailbox.c), which decides and records
 * them.
 *
 * The modseq reported with a message belongs to the flags reported with
 * it, and what a session is sent for a UID never goes down (RFC 7162
 * section 3.1):
 *
 *  - the index's record has the flags Dovecot shows: its modseq;
 *  - it does not, or has no record: another process may be between
 *    Dovecot's commit of a change and its index commit (the files are
 *    renamed and Dovecot's index has the new flags, the index not yet:
 *    condstore-transaction.c), or an agent changed the file and no daemon
 *    recorded it yet.  The message is reconciled with its file here, in
 *    an index transaction: the transaction lock is what waits for such a
 *    commit to end (no window is left in which the old modseq could be
 *    sent with the new flags), and a change nobody recorded gets its
 *    fresh modseq, by the reconcile rule every writer follows.  This is
 *    chosen over reordering the commit (the modseq must be recorded with
 *    the file name Dovecot's rename gave, known only after Dovecot's
 *    commit) and over a per-session floor (below);
 *  - still not the flags Dovecot shows (its view is older than the file,
 *    or its scan saw a state of the file the index never had): that state
 *    is recorded as a change, and the file's present state as the next
 *    one (condstore_mail_reconcile()), so the flags shown get a modseq of
 *    their own, above all sent before;
 *  - a message that is no longer live (expunged by another session while
 *    this one still shows it): the mailbox's HIGHESTMODSEQ, which is at
 *    least its tombstone's and what this session was sent for it before;
 *    its only change to come is its expunge.  While the view delays that
 *    expunge it can still show the message with other flags (another
 *    session's STORE before its EXPUNGE): those get a modseq above the
 *    one given, raised if the top did not move (condstore_gone_modseq()),
 *    so that one modseq never stands for two flag states in a session.
 * No per-session floor (the highest modseq sent per UID) is kept:
 * Dovecot asks for modseqs a client is not sent too (STORE's early
 * UNCHANGEDSINCE check), and a floor raised there would pair older flags
 * with a newer modseq, letting an UNCHANGEDSINCE win that must lose.
 * No reconcile is tried while this process holds the index's transaction
 * or Dovecot's locks of the mailbox (a process holding the index's lock
 * may be waiting for those): then the previous modseq goes with the
 * previous flags, and other flags get one below it, never a modseq
 * above theirs.
 */
#include "lib.h"
#include "array.h"
#include "mail-storage-private.h"

#include "condstore-plugin.h"
#include "condstore-maildir.h"

struct condstore_mail_module condstore_mail_module =
	MODULE_CONTEXT_INIT(&mail_module_register);

#define CONDSTORE_SYSTEM_FLAGS \
	(CS_FLAG_ANSWERED | CS_FLAG_SEEN | CS_FLAG_DELETED | \
	 CS_FLAG_DRAFT | CS_FLAG_FLAGGED)

uint64_t condstore_flags_visible_mask(void)
{
	return CONDSTORE_SYSTEM_FLAGS | CS_FLAGS_KEYWORDS;
}

int condstore_mail_get_base(struct mail *mail, const char **base_r)
{
	if (mail_get_special(mail, MAIL_FETCH_STORAGE_ID, base_r) < 0)
		return mail->expunged ? 0 : -1;
	return **base_r == '\0' ? 0 : 1;
}

int condstore_mail_lookup(struct mail *mail, struct cs_message *msg_r)
{
	struct condstore_mailbox *cmbox = CONDSTORE_MAILBOX_CONTEXT(mail->box);
	struct cs_mailbox *cbox;
	struct cs_error err;
	const char *base;
	int ret;

	if (cmbox == NULL || cmbox->index == NULL)
		return -1;
	if (condstore_mailbox_get(cmbox, &cbox) < 0)
		return -1;
	cs_error_clear(&err);
	if (mail->uid != 0 && condstore_mailbox_uids_shared(mail->box, cbox)) {
		/* by UID: the file name would make Dovecot read all of
		   dovecot-uidlist in a process that has not yet */
		ret = cs_message_lookup_uid(cbox, mail->uid, msg_r, &err);
		if (ret != 0) {
			if (ret < 0) {
				condstore_log_error(mail->box, t_strdup_printf(
					"lookup UID %u", mail->uid), &err);
			}
			return ret;
		}
		/* not learnt yet: by name */
	}
	if ((ret = condstore_mail_get_base(mail, &base)) <= 0)
		return ret;
	ret = cs_message_lookup(cbox, base, strlen(base), msg_r, &err);
	if (ret < 0) {
		condstore_log_error(mail->box, t_strdup_printf(
			"lookup %s", base), &err);
	}
	return ret;
}

/* The keyword letter of name in the mailbox's dovecot-keywords. */
static char condstore_keyword_letter(struct condstore_mailbox *cmbox,
				     const char *name)
{
	char letter;

	if (!cmbox->keywords_read) {
		if (cs_keywords_read(cmbox->dir, &cmbox->keywords, NULL) < 0)
			return 0;
		cmbox->keywords_read = TRUE;
	}
	letter = cs_keywords_letter(&cmbox->keywords, name);
	if (letter == 0) {
		/* a keyword Dovecot added since: read the file again */
		cs_keywords_free(&cmbox->keywords);
		cmbox->keywords_read = FALSE;
		if (cs_keywords_read(cmbox->dir, &cmbox->keywords, NULL) < 0)
			return 0;
		cmbox->keywords_read = TRUE;
		letter = cs_keywords_letter(&cmbox->keywords, name);
	}
	return letter;
}

uint64_t condstore_mail_flags(struct mail *mail)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(mail->box);
	enum mail_flags flags = mail_get_flags(mail);
	const char *const *kw;
	uint64_t set = 0;
	char letter;

	if ((flags & MAIL_ANSWERED) != 0)
		set |= CS_FLAG_ANSWERED;
	if ((flags & MAIL_SEEN) != 0)
		set |= CS_FLAG_SEEN;
	if ((flags & MAIL_DELETED) != 0)
		set |= CS_FLAG_DELETED;
	if ((flags & MAIL_DRAFT) != 0)
		set |= CS_FLAG_DRAFT;
	if ((flags & MAIL_FLAGGED) != 0)
		set |= CS_FLAG_FLAGGED;
	for (kw = mail_get_keywords(mail); *kw != NULL; kw++) {
		letter = condstore_keyword_letter(cmbox, *kw);
		if (letter != 0)
			set |= CS_FLAG_BIT(letter);
	}
	return set;
}

/* The modseq of the shown flags in msg, 0 if msg has neither. */
static uint64_t condstore_modseq_of(const struct cs_message *msg,
				    uint64_t shown)
{
	uint64_t mask = condstore_flags_visible_mask();

	if (shown == (msg->rec.flags & mask))
		return msg->rec.modseq;
	if (msg->rec.prev_modseq != 0 &&
	    shown == (msg->rec.prev_flags & mask))
		return msg->rec.prev_modseq;
	return 0;
}

/* Record the state Dovecot shows for the message of msg (flags shown,
   the rest as the file is) as a change of its own, and the file's
   present state as the next one: see condstore_mail_reconcile(). */
static int condstore_record_shown(struct cs_mailbox *cbox, const char *dir,
				  const char *base, uint64_t shown,
				  struct cs_message *msg, struct cs_error *err)
{
	struct cs_disk_state disk;
	char suffix[CS_SUFFIX_MAX + 1];
	const char *fname;
	uint8_t location = msg->rec.location;
	uint64_t flags;

	/* (the file's name, for finding it again without a readdir) */
	fname = t_strconcat(base, msg->suffix, NULL);
	flags = (msg->rec.flags & ~condstore_flags_visible_mask()) | shown;
	if (cs_suffix_with_flags(msg->suffix,
				 cs_index_separator(cs_mailbox_index(cbox)),
				 flags, suffix, sizeof(suffix), err) < 0)
		return -1;
	i_zero(&disk);
	disk.present = TRUE;
	disk.location = msg->rec.location;
	disk.suffix = suffix;
	disk.flags = flags;
	disk.uid = msg->rec.uid;
	if (cs_reconcile(cbox, base, strlen(base), &disk, NULL, err) < 0)
		return -1;
	return cs_maildir_reconcile_name(cbox, dir, location, fname, msg, err);
}

/* Reconcile mail with its file in an index transaction (waiting for
   another process's commit to end).  When Dovecot shows flags (shown)
   that are neither the file's nor its previous ones, its scan saw a
   state of the file the index never had (a rename and its undoing, which
   the daemon, reading both at once, took for no change), or its view is
   more than one change behind: that state is recorded as a change, and
   the file's present state as the next one.  A modseq too many is never
   wrong; this way the flags shown have one of their own, above all sent
   before, and the change that follows has a higher one.  known is the
   index's record of mail (NULL if none was found): its name is used when
   Dovecot has lost the file of its view, so that the flags shown are not
   taken for an older state when they are a newer one the index has not
   recorded yet.  msg_r may be known.  Returns 1 with msg_r filled, 0 if
   the message is gone, -1 if that could not be done now (see the file's
   comment) or failed (logged). */
static int condstore_mail_reconcile(struct mail *mail, uint64_t shown,
				    const struct cs_message *known,
				    struct cs_message *msg_r)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(mail->box);
	struct cs_mailbox *cbox;
	struct cs_error err;
	const char *base;
	int ret;

	if (cmbox->index == NULL || cs_index_in_transaction(cmbox->index) ||
	    condstore_maildir_holds_locks(mail->box))
		return -1;
	if ((ret = condstore_mail_get_base(mail, &base)) < 0)
		return -1;
	if (ret == 0) {
		/* Dovecot lost the file (an agent renamed or removed it
		   since this session's view was made): the index's name of
		   the message, if it has one, is where to look */
		if (known == NULL)
			return 0;
		base = t_strdup(known->base);
	}
	if (condstore_mailbox_get(cmbox, &cbox) < 0)
		return -1;
	cs_error_clear(&err);
	if (cs_index_begin(cmbox->index, &err) < 0) {
		condstore_log_error(mail->box, "reconcile", &err);
		return -1;
	}
	i_zero(msg_r);
	ret = cs_maildir_reconcile_one(cbox, cmbox->dir, base, msg_r, &err);
	if (ret >= 0 && msg_r->rec.modseq != 0 &&
	    (msg_r->rec.flags & condstore_flags_visible_mask()) != shown) {
		ret = condstore_record_shown(cbox, cmbox->dir, base, shown,
					     msg_r, &err);
	}
	if (ret < 0) {
		cs_index_rollback(cmbox->index);
		condstore_log_error(mail->box, t_strdup_printf(
			"reconcile %s", base), &err);
		return -1;
	}
	if (cs_index_commit(cmbox->index, &err) < 0) {
		condstore_log_error(mail->box, "reconcile", &err);
		return -1;
	}
	return msg_r->rec.modseq != 0 ? 1 : 0;
}

/* A modseq of its own for a gone message whose flags changed in the
   view: raise the mailbox's counter to seed (nothing else gets it).
   Returns 0, or -1 when that cannot be done now or failed (logged). */
static int condstore_gone_raise(struct mail *mail, struct cs_mailbox *cbox,
				uint64_t seed)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(mail->box);
	struct cs_error err;

	if (cs_index_in_transaction(cmbox->index) ||
	    condstore_maildir_holds_locks(mail->box))
		return -1;
	cs_error_clear(&err);
	if (cs_index_begin(cmbox->index, &err) < 0) {
		condstore_log_error(mail->box, "modseq of a gone message", &err);
		return -1;
	}
	if (cs_mailbox_raise(cbox, seed, &err) < 0 ||
	    cs_index_commit(cmbox->index, &err) < 0) {
		cs_index_rollback(cmbox->index);
		condstore_log_error(mail->box, "modseq of a gone message", &err);
		return -1;
	}
	return 0;
}

/* The modseq of a message of the view whose file is gone (its expunge is
   recorded, or the reconcile found no file).  The session still shows it
   until its view drops it, with flags that may still change there
   (another session's STORE before its EXPUNGE, while this view delays
   the expunge).  The answer is the mailbox's top, at least the
   expunge's modseq and every modseq given for the message before, so a
   client resynchronising from it is still told the message vanished; and
   when the flags shown differ from those last answered for it and the
   top did not move since, a modseq is raised for them.  So one modseq
   never stands for two flag states in one session.  Returns 0 if the
   index failed. */
static uint64_t condstore_gone_modseq(struct mail *mail, uint64_t shown)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(mail->box);
	struct condstore_gone_shown *gone = NULL, *g;
	struct cs_mailbox *cbox;
	uint64_t top;

	if (cmbox->index == NULL || condstore_mailbox_get(cmbox, &cbox) < 0)
		return 0;
	top = cs_mailbox_get_rec(cbox)->highestmodseq;
	if (!array_is_created(&cmbox->gone_shown))
		i_array_init(&cmbox->gone_shown, 4);
	array_foreach_modifiable(&cmbox->gone_shown, g) {
		if (g->uid == mail->uid) {
			gone = g;
			break;
		}
	}
	if (gone != NULL && gone->flags != shown && top <= gone->modseq) {
		if (condstore_gone_raise(mail, cbox, gone->modseq + 1) < 0)
			return top;	/* (as before: the top) */
		top = cs_mailbox_get_rec(cbox)->highestmodseq;
	}
	if (gone == NULL) {
		gone = array_append_space(&cmbox->gone_shown);
		gone->uid = mail->uid;
	}
	gone->flags = shown;
	gone->modseq = top;
	return top;
}

void condstore_mail_gone_forget(struct mailbox *box)
{
	struct condstore_mailbox *cmbox = CONDSTORE_MAILBOX_CONTEXT(box);
	const struct condstore_gone_shown *g;
	unsigned int i;
	uint32_t seq;

	if (cmbox == NULL || !array_is_created(&cmbox->gone_shown))
		return;
	for (i = array_count(&cmbox->gone_shown); i > 0; i--) {
		g = array_idx(&cmbox->gone_shown, i - 1);
		if (!mail_index_lookup_seq(box->view, g->uid, &seq))
			array_delete(&cmbox->gone_shown, i - 1, 1);
	}
}

/* The modseq of the flags Dovecot shows for mail (see the file's
   comment), 0 if the index failed. */
static uint64_t condstore_mail_modseq(struct mail *mail)
{
	struct cs_message msg;
	uint64_t mask = condstore_flags_visible_mask();
	uint64_t shown, modseq = 0;
	int ret, reconciled;

	shown = condstore_mail_flags(mail) & mask;
	ret = condstore_mail_lookup(mail, &msg);
	if (ret > 0 && msg.rec.modseq != 0 &&
	    shown == (msg.rec.flags & condstore_flags_visible_mask()))
		return msg.rec.modseq;
	/* (when the reconcile cannot be done now, the lookup's answer) */
	switch ((reconciled = condstore_mail_reconcile(
			mail, shown, ret > 0 ? &msg : NULL, &msg))) {
	case 1:
		ret = 1;
		break;
	case 0:
		ret = 0;
		break;
	}
	if (ret < 0)
		return 0;
	if (ret > 0) {
		e_debug(mail->box->event, CONDSTORE_PLUGIN_NAME ": MODSEQ of "
			"UID %u: flags shown 0x%"PRIx64", the index's 0x%"PRIx64
			" at %"PRIu64" (before: 0x%"PRIx64" at %"PRIu64"), %s",
			mail->uid, shown, msg.rec.flags & mask, msg.rec.modseq,
			msg.rec.prev_flags & mask, msg.rec.prev_modseq,
			reconciled > 0 ? "reconciled" :
			"not reconciled now");
	}
	if (ret == 0 || msg.rec.modseq == 0)
		return condstore_gone_modseq(mail, shown);
	modseq = condstore_modseq_of(&msg, shown);
	if (modseq == 0) {
		/* Dovecot shows flags the index has no modseq for: its view
		   is more than one change behind the file, or the reconcile
		   could not be done now.  Those flags are older than the
		   record's previous ones (or its current ones, without
		   previous): one below that modseq is at least theirs, and
		   belongs to no later state of the message.  Never above:
		   a modseq too low only makes a client fetch the flags
		   again, one too high would make it miss a change or win an
		   UNCHANGEDSINCE it must lose. */
		modseq = (msg.rec.prev_modseq != 0 ? msg.rec.prev_modseq :
			  msg.rec.modseq) - 1;
	}
	return modseq;
}

static uint64_t condstore_mail_get_modseq(struct mail *_mail)
{
	uint64_t modseq = condstore_mail_modseq(_mail);

	/* 0: the index failed (logged): the lowest modseq there is only
	   makes a client fetch the flags again */
	if (modseq == 0)
		return 1;
	condstore_view_given(_mail->box, modseq);
	return modseq;
}

static void condstore_mail_update_flags(struct mail *_mail,
					enum modify_type modify_type,
					enum mail_flags flags)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *cmail = CONDSTORE_MAIL_CONTEXT(mail);

	condstore_transaction_add(_mail, FALSE);
	cmail->super.update_flags(_mail, modify_type, flags);
}

static void condstore_mail_update_keywords(struct mail *_mail,
					   enum modify_type modify_type,
					   struct mail_keywords *keywords)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *cmail = CONDSTORE_MAIL_CONTEXT(mail);

	condstore_transaction_add(_mail, FALSE);
	cmail->super.update_keywords(_mail, modify_type, keywords);
}

static void condstore_mail_expunge(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	union mail_module_context *cmail = CONDSTORE_MAIL_CONTEXT(mail);

	condstore_transaction_add(_mail, TRUE);
	cmail->super.expunge(_mail);
}

void condstore_mail_allocated(struct mail *_mail)
{
	struct mail_private *mail = (struct mail_private *)_mail;
	struct mail_vfuncs *v = mail->vlast;
	union mail_module_context *cmail;

	if (CONDSTORE_MAILBOX_CONTEXT(_mail->box) == NULL)
		return;
	cmail = p_new(mail->pool, union mail_module_context, 1);
	cmail->super = *v;
	mail->vlast = &cmail->super;
	v->get_modseq = condstore_mail_get_modseq;
	v->update_flags = condstore_mail_update_flags;
	v->update_keywords = condstore_mail_update_keywords;
	v->expunge = condstore_mail_expunge;
	MODULE_CONTEXT_SET_SELF(mail, condstore_mail_module, cmail);
}
