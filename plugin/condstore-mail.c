/*
 * condstore-mail.c - mail vfuncs of the plugin: the MODSEQ of a message
 * from the index, and flag changes and expunges noted for the
 * transaction's commit (condstore-mailbox.c), which decides and records
 * them.
 *
 * The modseq reported with a message belongs to the flags reported with
 * it: when Dovecot's view of the flags still shows the message's previous
 * flags (an external rename it has not synced yet), the previous modseq
 * is reported.  When its flags are neither, the lower of the two is: a
 * modseq too low only makes a client fetch the flags again, one too high
 * would make it miss a change.
 */
#include "lib.h"
#include "array.h"
#include "mail-storage-private.h"

#include "condstore-plugin.h"

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

/* Does the index number box's messages with Dovecot's UIDs? */
static bool condstore_uids_shared(struct mail *mail, struct cs_mailbox *cbox)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(cbox);

	return rec->uid_source == CS_UIDSRC_DOVECOT && mail->uid != 0 &&
		rec->uidvalidity ==
		mail_index_get_header(mail->box->view)->uid_validity;
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
	if (condstore_uids_shared(mail, cbox)) {
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

static uint64_t condstore_mail_get_modseq(struct mail *_mail)
{
	struct cs_message msg;
	uint64_t mask = condstore_flags_visible_mask(), shown;

	if (condstore_mail_lookup(_mail, &msg) <= 0) {
		/* not (yet) in the index, or it failed (logged): the
		   lowest modseq there is can never make a client miss a
		   change, it only makes it fetch the flags again */
		return 1;
	}
	shown = condstore_mail_flags(_mail) & mask;
	if (shown == (msg.rec.flags & mask) || msg.rec.prev_modseq == 0)
		return msg.rec.modseq;
	return msg.rec.prev_modseq;
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
