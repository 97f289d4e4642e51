/*
 * condstore-search.c - MODSEQ search arguments served from the index.
 *
 * Dovecot evaluates SEARCH_MODSEQ (SEARCH MODSEQ, and FETCH/SEARCH
 * CHANGEDSINCE, which imap turns into MODSEQ n+1) straight from its own
 * index, and even skips the whole search when the value is above its own
 * HIGHESTMODSEQ.  Before Dovecot sees the arguments, each MODSEQ argument
 * is replaced by the set of UIDs the index's change log gives for it
 * (cost: the changes since the value, not the mailbox size).  The
 * entry-name form ("/flags/\\Seen") is answered with the message's modseq,
 * as RFC 7162 section 3.1.5 allows for servers that keep one modseq per
 * message.
 */
#include "lib.h"
#include "array.h"
#include "seq-range-array.h"
#include "mail-search.h"

#include "condstore-plugin.h"

struct condstore_uid_collect {
	ARRAY_TYPE(seq_range) *uids;
};

static int condstore_collect_uid(void *context, const struct cs_message *msg)
{
	struct condstore_uid_collect *ctx = context;

	if (msg->rec.uid != 0)
		seq_range_array_add(ctx->uids, msg->rec.uid);
	return 0;
}

static void condstore_search_arg_rewrite(struct condstore_mailbox *cmbox,
					 struct cs_mailbox *cbox, pool_t pool,
					 struct mail_search_arg *arg)
{
	struct condstore_uid_collect ctx;
	struct cs_error err;
	uint64_t modseq;

	for (; arg != NULL; arg = arg->next) {
		if (arg->type == SEARCH_OR || arg->type == SEARCH_SUB) {
			condstore_search_arg_rewrite(cmbox, cbox, pool,
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
		if (array_count(&arg->value.seqset) == 0) {
			/* nothing changed: "NOT ALL" matches nothing */
			arg->type = SEARCH_ALL;
			arg->match_not = !arg->match_not;
		} else {
			arg->type = SEARCH_UIDSET;
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
	if (cmbox->index == NULL || condstore_mailbox_get(cmbox, &cbox) < 0) {
		/* leave nothing for Dovecot to answer from its own modseqs */
		condstore_search_arg_rewrite(cmbox, NULL, args->pool,
					     args->args);
		return;
	}
	condstore_search_arg_rewrite(cmbox, cbox, args->pool, args->args);
}
