/*
 * condstore-search.c - MODSEQ search arguments served from the index.
 *
 * Dovecot evaluates SEARCH_MODSEQ (SEARCH MODSEQ, and FETCH/SEARCH
 * CHANGEDSINCE, which imap turns into MODSEQ n+1) straight from its own
 * index, and even skips the whole search when the value is above its own
 * HIGHESTMODSEQ.  Before Dovecot sees the arguments, each MODSEQ argument
 * is replaced by the set of UIDs the index's change log gives for it
 * (cost: the changes since the value, not the mailbox size), as the
 * sequence numbers of those messages.  The
 * entry-name form ("/flags/\\Seen") is answered with the message's modseq,
 * as RFC 7162 section 3.1.5 allows for servers that keep one modseq per
 * message.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "mail-search.h"

#include "condstore-plugin.h"
#include "condstore-maildir.h"

void (*condstore_search_hook)(struct mailbox *box,
			      struct mail_search_args *args) = NULL;

struct condstore_uid_collect {
	struct mailbox *box;
	ARRAY_TYPE(seq_range) *uids;
	/* Dovecot's uidlist can name records that have no UID yet */
	bool by_name;
	/* changes of records neither the index nor the uidlist numbers */
	unsigned int unnamed;
};

static int condstore_collect_uid(void *context, const struct cs_message *msg,
				 struct cs_error *err ATTR_UNUSED)
{
	struct condstore_uid_collect *ctx = context;
	uint32_t uid = msg->rec.uid;

	/* a record the index has not learnt Dovecot's UID for yet (recorded
	   before Dovecot numbered its file) is a change all the same: a
	   client resynchronising must be sent the message */
	if (uid == 0 && ctx->by_name &&
	    !condstore_maildir_uidlist_get_uid(ctx->box, t_strconcat(
			msg->base, msg->suffix, NULL), &uid))
		uid = 0;
	if (uid != 0)
		seq_range_array_add(ctx->uids, uid);
	else
		ctx->unnamed++;
	return 0;
}

/* Turn a set of UIDs into the set of their sequence numbers in box's
   view.  Dovecot turns the UID sets of a search into sequence sets when it
   initialises the arguments (before this rewrite runs), and it narrows
   the messages it looks at by sequence sets only: a UID set would make it
   test every message of the mailbox. */
static void condstore_uids_to_seqs(struct mailbox *box,
				   ARRAY_TYPE(seq_range) *set)
{
	const struct seq_range *uids;
	struct seq_range *copy;
	unsigned int i, count;
	uint32_t seq1, seq2;

	uids = array_get(set, &count);
	if (count == 0)
		return;
	copy = t_new(struct seq_range, count);
	memcpy(copy, uids, sizeof(*copy) * count);
	array_clear(set);
	for (i = 0; i < count; i++) {
		mailbox_get_seq_range(box, copy[i].seq1, copy[i].seq2,
				      &seq1, &seq2);
		if (seq1 != 0)
			seq_range_array_add_range(set, seq1, seq2);
	}
}

/* An expunge the index has and the session's view not yet: the message
   is still one of the view's, and it changed (a resynchronising client
   must get either a FETCH or a VANISHED for it, and VANISHED (EARLIER)
   leaves out what the view still has: condstore-qresync.c). */
static int condstore_collect_expunged(void *context, uint32_t uid,
				      uint64_t modseq ATTR_UNUSED,
				      struct cs_error *err ATTR_UNUSED)
{
	struct condstore_uid_collect *ctx = context;

	if (uid != 0)
		seq_range_array_add(ctx->uids, uid);
	return 0;
}

/* The UIDs changed (or expunged) above since into ctx->uids.  Returns 0,
   or -1 on error (err set). */
static int condstore_changed_uids(struct cs_mailbox *cbox, uint64_t since,
				  struct condstore_uid_collect *ctx,
				  struct cs_error *err)
{
	if (cs_changes_since(cbox, since, condstore_collect_uid, ctx,
			     err) < 0)
		return -1;
	if (cs_expunges_since(cbox, since, condstore_collect_expunged, ctx,
			      err) < 0) {
		/* below the horizon: what was pruned is older than any view
		   could still show */
		if (err->code != CS_ERR_LIMIT)
			return -1;
		cs_error_clear(err);
	}
	return 0;
}

static void condstore_search_arg_rewrite(struct mailbox *box,
					 struct cs_mailbox *cbox, pool_t pool,
					 struct mail_search_arg *arg)
{
	struct condstore_mailbox *cmbox = CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct condstore_uid_collect ctx;
	struct cs_error err;
	uint64_t modseq;

	for (; arg != NULL; arg = arg->next) {
		if (arg->type == SEARCH_OR || arg->type == SEARCH_SUB) {
			condstore_search_arg_rewrite(box, cbox, pool,
						     arg->value.subargs);
			continue;
		}
		if (arg->type != SEARCH_MODSEQ)
			continue;

		modseq = arg->value.modseq->modseq;
		p_array_init(&arg->value.seqset, pool, 16);
		i_zero(&ctx);
		ctx.box = box;
		ctx.uids = &arg->value.seqset;
		ctx.by_name = cbox != NULL &&
			condstore_mailbox_uids_shared(box, cbox) &&
			condstore_maildir_uidlist_is_read(box);
		cs_error_clear(&err);
		if (cbox == NULL) {
			arg->type = SEARCH_ALL;
			continue;
		}
		if (condstore_changed_uids(cbox, modseq == 0 ? 0 : modseq - 1,
					   &ctx, &err) < 0) {
			/* an answer that may hold too much is better than
			   one that misses changes */
			condstore_log_error(NULL, t_strdup_printf(
				"%s: search MODSEQ", cmbox->name), &err);
			arg->type = SEARCH_ALL;
			continue;
		}
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": search MODSEQ "
			"%"PRIu64": %u UID(s)%s, %u change(s) of messages "
			"without a UID", modseq,
			seq_range_count(&arg->value.seqset),
			ctx.by_name ? "" : " (no names looked up)",
			ctx.unnamed);
		condstore_uids_to_seqs(box, &arg->value.seqset);
		if (array_count(&arg->value.seqset) == 0) {
			/* nothing changed: "NOT ALL" matches nothing */
			arg->type = SEARCH_ALL;
			arg->match_not = !arg->match_not;
		} else {
			arg->type = SEARCH_SEQSET;
		}
	}
}

static bool condstore_search_args_have_modseq(const struct mail_search_arg *arg)
{
	for (; arg != NULL; arg = arg->next) {
		if (arg->type == SEARCH_MODSEQ)
			return TRUE;
		if ((arg->type == SEARCH_OR || arg->type == SEARCH_SUB) &&
		    condstore_search_args_have_modseq(arg->value.subargs))
			return TRUE;
	}
	return FALSE;
}

void condstore_search_args_rewrite(struct mailbox *box,
				   struct mail_search_args *args)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	struct cs_mailbox *cbox;

	if (!condstore_search_args_have_modseq(args->args))
		return;
	if (condstore_search_hook != NULL)
		condstore_search_hook(box, args);
	if (cmbox->index == NULL || condstore_mailbox_get(cmbox, &cbox) < 0) {
		/* leave nothing for Dovecot to answer from its own modseqs */
		condstore_search_arg_rewrite(box, NULL, args->pool,
					     args->args);
		return;
	}
	T_BEGIN {
		condstore_search_arg_rewrite(box, cbox, args->pool,
					     args->args);
	} T_END;
}
