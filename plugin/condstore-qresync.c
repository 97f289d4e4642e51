/*
 * condstore-qresync.c - QRESYNC's VANISHED (EARLIER) from the index.
 *
 * Dovecot answers SELECT/EXAMINE ... (QRESYNC (...)) and UID FETCH ...
 * (CHANGEDSINCE n VANISHED) in imap_fetch_send_vanished(), from its own
 * transaction log (mailbox_get_expunged_uids(), not a vfunc): it does not
 * know the index's modseqs and forgets everything with dovecot.index*.
 * What it sends is never wrong (UIDs its log saw expunged, or UIDs missing
 * from the mailbox), only incomplete, and VANISHED (EARLIER) responses
 * may repeat UIDs; so the index's answer is sent beside it.
 *
 * The place: right after Dovecot's own line, both commands search the
 * mailbox for the changed messages (a MODSEQ search).  The storage part
 * calls condstore_search_hook at every search with MODSEQ arguments;
 * while such a command runs (command hooks mark it), the first one writes
 * "* VANISHED (EARLIER) ..." from cs_vanished() to the client, for the
 * UID set (UID FETCH) or the known-uids (SELECT) and the modseq read from
 * the command's arguments (Dovecot's search arguments by then hold
 * sequence batches): after the SELECT's status lines, before the FETCH
 * responses and the tagged reply, as RFC 7162 3.2.5 orders them.  A
 * wrong UIDVALIDITY makes Dovecot skip the search, and with it this
 * answer.  seq-match-data is not applied: from below the horizon the
 * answer holds every UID of the known-uids that is gone (RFC 7162 allows
 * more).  Live VANISHED (NOOP, IDLE) stays Dovecot's: it sees every
 * expunge itself when it syncs.
 *
 * The index may be ahead of the session: another session's expunge is
 * written through before this one syncs it, another agent's unlink is
 * recorded by the daemon or a scan.  A UID that is still a message of
 * the session's view is left out of the answer: the client counts the
 * view's messages without it (SELECT's EXISTS, the sequence numbers of
 * the FETCH responses that follow), and the session's next sync tells it
 * with a live VANISHED.  The view can also be ahead of the index: it has
 * dropped a message whose expunge the index has not recorded yet
 * (another session between its Dovecot commit and its index commit, an
 * unlink the daemon has not recorded).  Below the view's UIDNEXT a UID
 * the view lacks is gone for good, so every UID of the request the index
 * still holds as a message and the view lacks is added to the answer.
 * With known-uids, every known UID below the view's UIDNEXT that the view
 * lacks is added too: a message whose UID the index never learnt (a
 * delivery expunged before any session told the index its UID) leaves
 * no trace under that UID, and the client must still drop it.
 *
 * Dovecot symbols used (imap binary, taken weakly: elsewhere they are
 * NULL and this part stays off): command_hook_register/unregister,
 * client_has_enabled, imap_feature_qresync, client_send_line,
 * client->mailbox, cmd->name, cmd->args (the arguments as text, set once
 * they are read), cmd->tagline_reply.  From libdovecot and
 * libdovecot-storage: mailbox_get_seq_range, mailbox_get_uid_range,
 * imap_write_seq_range.
 */
#include "imap-common.h"
#include "str.h"
#include "seq-range-array.h"
#include "imap-util.h"
#include "imap-commands.h"

#include "condstore-plugin.h"

#pragma weak command_hook_register
#pragma weak command_hook_unregister
#pragma weak client_has_enabled
#pragma weak imap_feature_qresync
#pragma weak client_send_line

/* the command that may ask for VANISHED (EARLIER), while it runs */
static struct client_command_context *qresync_cmd;
/* the command that got its answer (once per command) */
static struct client_command_context *qresync_answered;
static bool qresync_active;

/* What a command asks: the UIDs (NULL: all), the modseq, and whether
   the UIDs are the client's known-uids (SELECT/EXAMINE). */
struct qresync_request {
	const char *uids;
	uint64_t since;
	bool known_uids;
};

static bool parse_modseq(const char *str, uint64_t *modseq_r)
{
	uint64_t v = 0;

	if (*str < '0' || *str > '9')
		return FALSE;
	for (; *str >= '0' && *str <= '9'; str++) {
		if (v > (CS_MODSEQ_MAX - (uint64_t)(*str - '0')) / 10)
			return FALSE;
		v = v * 10 + (uint64_t)(*str - '0');
	}
	*modseq_r = v;
	return *str == '\0';
}

/* UID FETCH <uids> <items> (... CHANGEDSINCE n ... VANISHED ...): the
   modifiers are the last list of the arguments. */
static bool parse_uid_fetch(const char *args, struct qresync_request *req_r)
{
	const char *const *tokens, *p;
	bool vanished = FALSE, since = FALSE;

	if ((p = strrchr(args, '(')) == NULL)
		return FALSE;
	tokens = t_strsplit_spaces(p + 1, " )");
	for (; *tokens != NULL; tokens++) {
		if (strcasecmp(*tokens, "VANISHED") == 0)
			vanished = TRUE;
		else if (strcasecmp(*tokens, "CHANGEDSINCE") == 0 &&
			 tokens[1] != NULL &&
			 parse_modseq(tokens[1], &req_r->since))
			since = TRUE;
	}
	req_r->uids = t_strcut(args, ' ');
	return vanished && since;
}

/* SELECT/EXAMINE <mailbox> (QRESYNC (<uidvalidity> <modseq>
   [<known-uids> [(<seqs> <uids>)]])) */
static bool parse_select(const char *args, struct qresync_request *req_r)
{
	const char *const *tokens, *p, *next;

	/* the last one: a quoted mailbox name before it may hold anything */
	p = strstr(t_str_ucase(args), "(QRESYNC (");
	if (p == NULL)
		return FALSE;
	while ((next = strstr(p + 1, "(QRESYNC (")) != NULL)
		p = next;
	p += strlen("(QRESYNC (");
	tokens = t_strsplit_spaces(t_strcut(t_strcut(p, ')'), '('), " ");
	if (tokens[0] == NULL || tokens[1] == NULL ||
	    !parse_modseq(tokens[1], &req_r->since))
		return FALSE;
	req_r->uids = tokens[2];
	req_r->known_uids = tokens[2] != NULL;
	return TRUE;
}

static bool cmd_may_want_vanished(struct client_command_context *cmd)
{
	struct client *client = cmd->client;

	if (cmd->name == NULL || client->user == NULL ||
	    CONDSTORE_USER_CONTEXT(client->user) == NULL ||
	    !client_has_enabled(client, imap_feature_qresync))
		return FALSE;
	return strcasecmp(cmd->name, "SELECT") == 0 ||
		strcasecmp(cmd->name, "EXAMINE") == 0 ||
		strcasecmp(cmd->name, "UID FETCH") == 0;
}

static void qresync_cmd_pre(struct client_command_context *cmd)
{
	qresync_cmd = cmd_may_want_vanished(cmd) ? cmd : NULL;
}

static void qresync_cmd_post(struct client_command_context *cmd)
{
	qresync_cmd = NULL;
	/* the tagged reply is sent: the command is over, and its memory
	   may hold the next one */
	if (cmd == qresync_answered && cmd->tagline_reply != NULL)
		qresync_answered = NULL;
}

/* Remove from uids every UID that is a message of box's view. */
static void qresync_drop_visible(struct mailbox *box,
				 ARRAY_TYPE(seq_range) *uids)
{
	ARRAY_TYPE(seq_range) seqs, visible;
	const struct seq_range *range;
	uint32_t seq1, seq2;

	t_array_init(&seqs, 8);
	array_foreach(uids, range) {
		mailbox_get_seq_range(box, range->seq1, range->seq2,
				      &seq1, &seq2);
		if (seq1 != 0)
			seq_range_array_add_range(&seqs, seq1, seq2);
	}
	if (array_count(&seqs) == 0)
		return;
	t_array_init(&visible, array_count(&seqs));
	mailbox_get_uid_range(box, &seqs, &visible);
	seq_range_array_remove_seq_range(uids, &visible);
}

/* UIDs below the view's UIDNEXT that the view no longer has: gone for
   good, whatever the index has recorded yet. */
struct qresync_gone {
	struct mailbox *box;
	ARRAY_TYPE(seq_range) *uids;
};

/* Add to ctx->uids the UIDs of first..last (below the view's UIDNEXT)
   that ctx->box's view lacks.  Costs two lookups and one step per
   message of the view in the range. */
static int qresync_gone_range(void *context, uint32_t first, uint32_t last)
{
	struct qresync_gone *ctx = context;
	ARRAY_TYPE(seq_range) seqs, visible, gone;
	uint32_t seq1, seq2;

	mailbox_get_seq_range(ctx->box, first, last, &seq1, &seq2);
	if (seq1 != 0 && seq2 - seq1 == last - first)
		return 0;	/* the view has every one */
	t_array_init(&gone, 4);
	seq_range_array_add_range(&gone, first, last);
	if (seq1 != 0) {
		t_array_init(&seqs, 1);
		seq_range_array_add_range(&seqs, seq1, seq2);
		t_array_init(&visible, 4);
		mailbox_get_uid_range(ctx->box, &seqs, &visible);
		seq_range_array_remove_seq_range(&gone, &visible);
	}
	seq_range_array_merge(ctx->uids, &gone);
	return 0;
}

/* Add to uids the UIDs of within (NULL: all) that the index still holds
   as messages while box's view, below its UIDNEXT, no longer has them.
   The view drops a message as soon as Dovecot's own log or a read of the
   directory says it is gone; the index records that a moment later (a
   session's expunge is in Dovecot's index before that session commits
   the index, another agent's unlink reaches the index when the daemon
   records it).  Below the view's UIDNEXT a UID the view lacks is gone for
   good, so it belongs to the answer whatever the index says yet.  Returns
   0 or -1. */
static int qresync_add_unrecorded(struct mailbox *box,
				  struct cs_mailbox *cbox,
				  const struct cs_uidset *within,
				  ARRAY_TYPE(seq_range) *uids,
				  struct cs_error *err)
{
	const struct mail_index_header *hdr =
		mail_index_get_header(box->view);
	struct qresync_gone ctx;
	ARRAY_TYPE(seq_range) gone, asked;
	size_t i;

	if (!condstore_mailbox_uids_shared(box, cbox) || hdr->next_uid <= 1)
		return 0;	/* the index's UIDs are not the view's */
	t_array_init(&gone, 8);
	ctx.box = box;
	ctx.uids = &gone;
	if (cs_message_uid_ranges(cbox, 1, hdr->next_uid - 1,
				  qresync_gone_range, &ctx, err) < 0)
		return -1;
	if (array_count(&gone) == 0)
		return 0;
	if (within != NULL) {
		t_array_init(&asked, within->count);
		for (i = 0; i < within->count; i++) {
			seq_range_array_add_range(&asked,
				within->ranges[i].first,
				within->ranges[i].last == CS_UID_STAR ?
				hdr->next_uid - 1 : within->ranges[i].last);
		}
		seq_range_array_intersect(&gone, &asked);
	}
	seq_range_array_merge(uids, &gone);
	return 0;
}

/* Add to uids every UID of the client's known-uids, below the view's
   UIDNEXT, that box's view lacks.  The client holds each as a message and
   the mailbox no longer has it, whatever trace the index keeps: a message
   expunged before the index learnt its UID has none under that UID, and
   an expunge the view has seen may not be in the index yet.  RFC 7162
   3.2.5.1 lets VANISHED (EARLIER) name UIDs expunged before the client's
   modseq; Dovecot answers the same way when its own log does not reach
   back.  The known-uids come from the command line, so their ranges are
   bounded by its length, and each costs what qresync_gone_range costs. */
static void qresync_add_known_gone(struct mailbox *box,
				   const struct cs_uidset *known,
				   ARRAY_TYPE(seq_range) *uids)
{
	const struct mail_index_header *hdr =
		mail_index_get_header(box->view);
	struct qresync_gone ctx;
	uint32_t last;
	size_t i;

	if (hdr->next_uid <= 1)
		return;
	ctx.box = box;
	ctx.uids = uids;
	for (i = 0; i < known->count; i++) {
		last = known->ranges[i].last;
		if (last == CS_UID_STAR || last >= hdr->next_uid)
			last = hdr->next_uid - 1;
		if (known->ranges[i].first <= last)
			(void)qresync_gone_range(&ctx, known->ranges[i].first,
						 last);
	}
}

/* Send "* VANISHED (EARLIER) ..." for uids, less those box's view has. */
static void qresync_send_line(struct client_command_context *cmd,
			      struct mailbox *box,
			      ARRAY_TYPE(seq_range) *uids)
{
	string_t *line;

	qresync_drop_visible(box, uids);
	if (array_count(uids) == 0)
		return;
	line = t_str_new(128);
	str_append(line, "* VANISHED (EARLIER) ");
	imap_write_seq_range(line, uids);
	client_send_line(cmd->client, str_c(line));
}

/* The index's answer: the tombstones above the client's modseq (or, from
   below the horizon, every UID that is not a message), the expunges the
   index has not recorded yet, and the known-uids the view lacks. */
static int qresync_answer(struct mailbox *box, struct cs_mailbox *cbox,
			  const struct qresync_request *req,
			  const struct cs_uidset *within,
			  ARRAY_TYPE(seq_range) *uids_r, struct cs_error *err)
{
	struct cs_uidset found;
	bool below;
	size_t i;
	int ret;

	cs_uidset_init(&found);
	ret = cs_vanished(cbox, req->since, within, &found, &below, err);
	if (ret == 0) {
		for (i = 0; i < found.count; i++) {
			seq_range_array_add_range(uids_r,
						  found.ranges[i].first,
						  found.ranges[i].last);
		}
		ret = qresync_add_unrecorded(box, cbox, within, uids_r, err);
	}
	if (ret == 0 && req->known_uids && within != NULL)
		qresync_add_known_gone(box, within, uids_r);
	cs_uidset_free(&found);
	if (ret < 0 && err->code == CS_OK)
		cs_error_set(err, CS_ERR_IO, "out of memory");
	return ret;
}

static void qresync_send(struct client_command_context *cmd,
			 struct mailbox *box,
			 const struct qresync_request *req)
{
	struct condstore_mailbox *cmbox = CONDSTORE_MAILBOX_CONTEXT(box);
	ARRAY_TYPE(seq_range) uids;
	struct cs_uidset within;
	struct cs_mailbox *cbox;
	struct cs_error err;

	if (cmbox == NULL || cmbox->index == NULL ||
	    condstore_mailbox_get(cmbox, &cbox) < 0)
		return;
	cs_uidset_init(&within);
	cs_error_clear(&err);
	t_array_init(&uids, 16);
	if (req->uids != NULL &&
	    cs_uidset_parse(req->uids, &within, NULL) < 0) {
		/* "$" (SEARCHRES) and the like: Dovecot's answer stands */
	} else if (qresync_answer(box, cbox, req, req->uids != NULL ?
				  &within : NULL, &uids, &err) == 0) {
		qresync_send_line(cmd, box, &uids);
	} else {
		condstore_log_error(box, t_strdup_printf(
			"%s: VANISHED", cmbox->name), &err);
	}
	cs_uidset_free(&within);
}

static void qresync_search(struct mailbox *box,
			   struct mail_search_args *args ATTR_UNUSED)
{
	struct client_command_context *cmd = qresync_cmd;
	struct qresync_request req;
	bool ok;

	if (cmd == NULL || cmd == qresync_answered || cmd->args == NULL ||
	    cmd->client->mailbox != box)
		return;
	qresync_answered = cmd;
	T_BEGIN {
		i_zero(&req);
		ok = strcasecmp(cmd->name, "UID FETCH") == 0 ?
			parse_uid_fetch(cmd->args, &req) :
			parse_select(cmd->args, &req);
		if (ok)
			qresync_send(cmd, box, &req);
	} T_END;
}

void condstore_qresync_init(void)
{
	if (command_hook_register == NULL || client_has_enabled == NULL ||
	    client_send_line == NULL || &imap_feature_qresync == NULL)
		return;
	command_hook_register(qresync_cmd_pre, qresync_cmd_post);
	condstore_search_hook = qresync_search;
	qresync_active = TRUE;
}

void condstore_qresync_deinit(void)
{
	if (!qresync_active)
		return;
	condstore_search_hook = NULL;
	command_hook_unregister(qresync_cmd_pre, qresync_cmd_post);
	qresync_cmd = NULL;
	qresync_answered = NULL;
	qresync_active = FALSE;
}
