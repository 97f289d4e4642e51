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

void (*condstore_search_hook)(struct mailbox *box,
			      struct mail_search_args *args) = NULL;

struct condstore_uid_collect {
	ARRAY_TYPE(seq_range) *uids;
};

static int condstore_collect_uid(void *context, const struct cs_message *msg,
				 struct cs_error *err ATTR_UNUSED)
{
	struct condstore_uid_collect *ctx = context;

	if (msg->rec.uid != 0)
		seq_range_array_add(ctx->uids, msg->rec.uid);
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
		ctx.uids = &arg->value.seqset;
		cs_error_clear(&err);
		if (cbox == NULL) {
			arg->type = SEARCH_ALL;
			continue;
		}
		if (cs_changes_since(cbox, modseq == 0 ? 0 : modseq - 1,
				     condstore_collect_uid, &ctx, &err) < 0) {
			/* an answer that may hold too much is better than
			   one that misses changes */
			condstore_log_error(NULL, t_strdup_printf(
				"%s: search MODSEQ", cmbox->name), &err);
			arg->type = SEARCH_ALL;
			continue;
		}
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
