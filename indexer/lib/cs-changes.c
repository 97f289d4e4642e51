/*
 * cs-changes.c - reading the index: the change-log walk behind
 * CHANGEDSINCE and VANISHED, tombstones and pruning them.
 *
 * The change log holds an entry for every message (under its current
 * modseq) and every tombstone; entries of a run (CS_CHANGE_RUN) may be
 * stale, their message having a later modseq with an entry of its own.  Walking it from HIGHESTMODSEQ down to
 * "since" costs one hash lookup per modseq issued since then, i.e. the
 * number of changes, not the size of the mailbox.  Gaps left by counter
 * seeding (a new mailbox, a rebuild) are recorded as jumps and skipped in
 * one step.  A run (one record for the consecutive modseqs of messages a
 * scan added in bulk) is read newest entry first, then skipped over.
 * (Iterating over every message is cs-msgstore.c's.)
 */
#include "config.h"

#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-index-private.h"

typedef int change_fn(void *ctx, uint64_t modseq, const uint8_t *value,
		      size_t size);

/* The entries of a run ending at modseq "last", newest first, down to
   since + 1.  Sets *count_r to the modseqs the run covers (1 when the
   value is damaged: check reports it, the walk goes on below it). */
static int run_walk(uint64_t last, uint64_t since, const uint8_t *value,
		    size_t size, change_fn *fn, void *ctx, uint64_t *count_r)
{
	uint8_t entry[1 + 4];
	struct cs_change_run_iter it;
	int count, i, ret = 0;

	count = cs_change_run_init(value, size, &it);
	if (count < 0) {
		*count_r = 1;
		return 0;
	}
	*count_r = (uint64_t)count;
	entry[0] = CS_CHANGE_MESSAGE;
	/* newest first: the hashes are 4 bytes each, oldest first */
	for (i = count - 1; i >= 0 && ret == 0; i--) {
		uint64_t modseq = last - (uint64_t)(count - 1 - i);

		if (modseq <= since)
			break;
		memcpy(entry + 1, value + 3 + 4 * (size_t)i, 4);
		ret = fn(ctx, modseq, entry, sizeof(entry));
	}
	return ret;
}

static int change_walk(struct cs_mailbox *box, uint64_t since, change_fn *fn,
		       void *ctx, struct cs_error *err)
{
	struct cs_jump *jumps;
	uint8_t key[CS_KEY_MAX], *data;
	size_t njumps, size;
	uint64_t m = box->rec.highestmodseq, covered;
	ssize_t j;
	int ret = 0;

	if (box->gone)
		return 0;
	/* a run gathered in this transaction must be in the log first */
	if (box->index->in_txn && cs_change_run_flush(box, err) < 0)
		return -1;
	if (cs_jumps_read(box, &jumps, &njumps, err) < 0)
		return -1;
	j = (ssize_t)njumps - 1;
	while (m > since && ret == 0) {
		while (j >= 0 && jumps[j].seed > m)
			j--;
		if (j >= 0 && jumps[j].seed == m) {
			/* nothing was issued in (from, seed] */
			m = jumps[j--].from;
			continue;
		}
		ret = cs_db_fetch(box->index, key,
				  cs_key_change(key, box->rec.id, m), &data,
				  &size, err);
		covered = 1;
		if (ret > 0) {
			if (size == 0)
				ret = 0;
			else if (data[0] == CS_CHANGE_RUN)
				ret = run_walk(m, since, data, size, fn, ctx,
					       &covered);
			else
				ret = fn(ctx, m, data, size);
			free(data);
		}
		/* a run covers consecutive modseqs, all issued to its
		   messages: nothing else lies below its key within it */
		m = covered < m ? m - covered : 0;
	}
	free(jumps);
	assert(ret >= -1 && ret <= 1);
	return ret;
}

/* The caller's side of a walk: msg_cb for messages, exp_cb for expunged
   UIDs, with its ctx and the walk's err. */
struct walk_ctx {
	struct cs_mailbox *box;
	cs_message_cb *msg_cb;
	cs_expunge_cb *exp_cb;
	void *ctx;
	struct cs_error *err;
};

static int changes_msg_fn(void *ctx, uint64_t modseq, const uint8_t *value,
			  size_t size)
{
	struct walk_ctx *wc = ctx;
	struct cs_message msg;
	int ret;

	if (value[0] != CS_CHANGE_MESSAGE || size != 5)
		return 0;
	ret = cs_msg_fetch_change(wc->box, cs_get_le32(value + 1), modseq,
				  &msg, wc->err);
	if (ret < 0)
		return -1;
	/* a stale entry (check reports it) is not a change */
	if (ret == 0)
		return 0;
	return wc->msg_cb(wc->ctx, &msg, wc->err);
}

int cs_changes_since(struct cs_mailbox *box, uint64_t since,
		     cs_message_cb *cb, void *ctx, struct cs_error *err)
{
	struct walk_ctx wc = { .box = box, .msg_cb = cb, .ctx = ctx,
			       .err = err };

	return change_walk(box, since, changes_msg_fn, &wc, err);
}

static int expunges_fn(void *ctx, uint64_t modseq, const uint8_t *value,
		       size_t size)
{
	struct walk_ctx *wc = ctx;

	if (value[0] != CS_CHANGE_EXPUNGE || size != 5)
		return 0;
	return wc->exp_cb(wc->ctx, cs_get_le32(value + 1), modseq, wc->err);
}

int cs_expunges_since(struct cs_mailbox *box, uint64_t since,
		      cs_expunge_cb *cb, void *ctx, struct cs_error *err)
{
	struct walk_ctx wc = { .box = box, .exp_cb = cb, .ctx = ctx,
			       .err = err };

	if (since < box->rec.horizon)
		return cs_error_set(err, CS_ERR_LIMIT,
			"mailbox %s: expunges at or below modseq %llu are no "
			"longer known", box->name,
			(unsigned long long)box->rec.horizon);
	return change_walk(box, since, expunges_fn, &wc, err);
}

/* --- iteration --- */

/* fn for every record of box under key_type (CS_KEY_TOMB, ...). */
static int box_traverse(struct cs_mailbox *box, uint8_t key_type,
			cs_key_fn *fn, struct walk_ctx *wc,
			struct cs_error *err)
{
	uint8_t prefix[5];

	if (box->gone)
		return 0;
	prefix[0] = key_type;
	cs_put_be32(prefix + 1, box->rec.id);
	return cs_db_traverse_prefix(box->index, prefix, sizeof(prefix), fn,
				     wc, err);
}

static int iterate_tomb_fn(void *ctx, const uint8_t *key, size_t key_len,
			   const uint8_t *data, size_t size,
			   struct cs_error *err)
{
	struct walk_ctx *wc = ctx;

	if (key_len != 9 || size != 8)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: a tombstone of %s is damaged",
			wc->box->index->db_path, wc->box->name);
	return wc->exp_cb(wc->ctx, cs_get_be32(key + 5), cs_get_le64(data),
			  err);
}

int cs_tombstones_iterate(struct cs_mailbox *box, cs_expunge_cb *cb,
			  void *ctx, struct cs_error *err)
{
	struct walk_ctx wc = { .box = box, .exp_cb = cb, .ctx = ctx,
			       .err = err };

	return box_traverse(box, CS_KEY_TOMB, iterate_tomb_fn, &wc, err);
}

/* --- pruning tombstones --- */

struct prune_ctx {
	uint32_t *uids;
	uint64_t *modseqs;
	size_t count, alloc, modseqs_alloc;
	uint64_t horizon;
};

static int prune_collect(void *ctx, uint32_t uid, uint64_t modseq,
			 struct cs_error *err)
{
	struct prune_ctx *pc = ctx;

	if (modseq > pc->horizon)
		return 0;
	if (cs_array_grow(&pc->uids, sizeof(*pc->uids), pc->count,
			  &pc->alloc, 64) < 0 ||
	    cs_array_grow(&pc->modseqs, sizeof(*pc->modseqs), pc->count,
			  &pc->modseqs_alloc, 64) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	pc->uids[pc->count] = uid;
	pc->modseqs[pc->count++] = modseq;
	return 0;
}

int cs_tombstones_prune(struct cs_mailbox *box, uint64_t horizon,
			struct cs_error *err)
{
	struct prune_ctx pc = { .horizon = horizon };
	uint8_t key[CS_KEY_MAX];
	size_t i;
	int ret;

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	ret = cs_tombstones_iterate(box, prune_collect, &pc, err);
	for (i = 0; i < pc.count && ret == 0; i++) {
		if (cs_db_delete(box->index, key,
				 cs_key_tomb(key, box->rec.id, pc.uids[i]),
				 err) < 0 ||
		    cs_db_delete(box->index, key,
				 cs_key_change(key, box->rec.id,
					       pc.modseqs[i]), err) < 0)
			ret = -1;
	}
	free(pc.uids);
	free(pc.modseqs);
	if (ret != 0)
		return -1;
	if (horizon > box->rec.horizon) {
		box->rec.horizon = horizon;
		box->dirty = true;
	}
	return pc.count > INT_MAX ? INT_MAX : (int)pc.count;
}
