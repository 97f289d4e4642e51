/*
 * cs-horizon.c - the expunge horizon: VANISHED answers from the
 * tombstones above it and from the UID bitmap below it, and pruning of
 * old tombstones by the modseq clock (see cs-horizon.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-index-private.h"
#include "cs-horizon.h"

/* --- the horizon --- */

int cs_mailbox_horizon(struct cs_mailbox *box, uint64_t *horizon_r,
		       struct cs_error *err)
{
	struct cs_jump *jumps;
	size_t njumps;

	*horizon_r = box->rec.horizon;
	if (box->rec.horizon != 0)
		return 0;
	/* a record from before the horizon was set at creation: the
	   counter's first seed is when the mailbox came into the index */
	if (cs_jumps_read(box, &jumps, &njumps, err) < 0)
		return -1;
	if (njumps > 0)
		*horizon_r = jumps[0].seed;
	free(jumps);
	return 0;
}

/* --- VANISHED --- */

struct uid_array {
	uint32_t *uids;
	size_t count, alloc;
};

static int uid_array_add(void *ctx, uint32_t uid, uint64_t modseq,
			 struct cs_error *err)
{
	struct uid_array *ua = ctx;

	(void)modseq;
	if (cs_array_grow(&ua->uids, sizeof(*ua->uids), ua->count,
			  &ua->alloc, 64) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	ua->uids[ua->count++] = uid;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Above the horizon: exactly the tombstones newer than since. */
static int vanished_exact(struct cs_mailbox *box, uint64_t since,
			  const struct cs_uidset *within, uint32_t max_uid,
			  struct cs_uidset *uids_r, struct cs_error *err)
{
	struct uid_array ua = { 0 };
	size_t i;
	int ret = 0;

	cs_error_clear(err);
	if (cs_expunges_since(box, since, uid_array_add, &ua, err) < 0) {
		free(ua.uids);
		return -1;
	}
	if (ua.count > 0)
		qsort(ua.uids, ua.count, sizeof(*ua.uids), cmp_u32);
	for (i = 0; i < ua.count && ret == 0; i++) {
		if (ua.uids[i] == 0 ||
		    (within != NULL &&
		     !cs_uidset_contains(within, ua.uids[i], max_uid)))
			continue;
		if (cs_uidset_add(uids_r, ua.uids[i]) < 0)
			ret = cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	free(ua.uids);
	return ret;
}

struct absent_ctx {
	struct cs_uidset *uids;
};

static int absent_add(void *ctx, uint32_t first, uint32_t last)
{
	struct absent_ctx *ac = ctx;

	return cs_uidset_add_range(ac->uids, first, last);
}

/* Below the horizon: every UID of within below UIDNEXT that is not a
   message. */
static int vanished_below(struct cs_mailbox *box,
			  const struct cs_uidset *within, uint32_t max_uid,
			  struct cs_uidset *uids_r, struct cs_error *err)
{
	struct cs_uid_range all = { 1, max_uid }, *ranges;
	struct absent_ctx ac = { uids_r };
	size_t i, count = 0;
	int ret;

	if (max_uid == 0)
		return 0;
	if (within == NULL)
		return cs_rank_absent(box, &all, 1, absent_add, &ac, err);
	ranges = calloc(within->count + 1, sizeof(*ranges));
	if (ranges == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	for (i = 0; i < within->count; i++) {
		struct cs_uid_range r = within->ranges[i];

		if (r.last == CS_UID_STAR || r.last > max_uid)
			r.last = max_uid;
		if (r.first > r.last)
			continue;
		ranges[count++] = r;
	}
	cs_error_clear(err);
	ret = cs_rank_absent(box, ranges, count, absent_add, &ac, err);
	free(ranges);
	if (ret < 0 && err != NULL && err->code == CS_OK)
		cs_error_set(err, CS_ERR_IO, "out of memory");
	return ret;
}

int cs_vanished(struct cs_mailbox *box, uint64_t since,
		const struct cs_uidset *within, struct cs_uidset *uids_r,
		bool *below_horizon_r, struct cs_error *err)
{
	uint64_t horizon;
	uint32_t max_uid;

	*below_horizon_r = false;
	if (box->gone)
		return 0;
	if (cs_mailbox_horizon(box, &horizon, err) < 0)
		return -1;
	max_uid = box->rec.uidnext > 1 ? box->rec.uidnext - 1 : 0;
	if (max_uid == CS_UID_STAR)
		max_uid--;
	if (since >= horizon)
		return vanished_exact(box, since, within, max_uid, uids_r,
				      err);
	*below_horizon_r = true;
	return vanished_below(box, within, max_uid, uids_r, err);
}

/* --- the modseq clock's marks --- */

struct clock_mark {
	uint64_t time, modseq;
};

static size_t key_marks(uint8_t *buf, uint32_t id)
{
	buf[0] = CS_KEY_CLOCK;
	cs_put_be32(buf + 1, id);
	return 5;
}

/* Read the marks (oldest first) into marks[CS_CLOCK_MARKS_MAX + 1]. */
static int marks_read(struct cs_mailbox *box, struct clock_mark *marks,
		      size_t *count_r, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size, i;
	int ret;

	*count_r = 0;
	ret = cs_db_fetch(box->index, key, key_marks(key, box->rec.id),
			  &data, &size, err);
	if (ret <= 0)
		return ret;
	if (size % 16 != 0 || size / 16 > CS_CLOCK_MARKS_MAX) {
		/* dropping marks only makes later prunes keep more */
		free(data);
		return 0;
	}
	for (i = 0; i < size / 16; i++) {
		marks[i].time = cs_get_le64(data + i * 16);
		marks[i].modseq = cs_get_le64(data + i * 16 + 8);
	}
	*count_r = size / 16;
	free(data);
	return 0;
}

static int marks_write(struct cs_mailbox *box, const struct clock_mark *marks,
		       size_t count, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], buf[CS_CLOCK_MARKS_MAX * 16];
	size_t i;

	for (i = 0; i < count; i++) {
		cs_put_le64(buf + i * 16, marks[i].time);
		cs_put_le64(buf + i * 16 + 8, marks[i].modseq);
	}
	return cs_db_store(box->index, key, key_marks(key, box->rec.id), buf,
			   count * 16, err);
}

/* Add the mark (now, HIGHESTMODSEQ), find the cutoff for age (0: none)
   and keep only the marks a later prune of the same age can use. */
static int marks_update(struct cs_mailbox *box, uint64_t age_usec,
			uint64_t now_usec, uint64_t *cutoff_r,
			struct cs_error *err)
{
	struct clock_mark marks[CS_CLOCK_MARKS_MAX + 1];
	uint64_t hms = box->rec.highestmodseq;
	size_t count, i, first = 0;
	bool found = false;

	*cutoff_r = 0;
	if (marks_read(box, marks, &count, err) < 0)
		return -1;
	/* a clock that went back adds no mark; nor does a mailbox that did
	   not change since the last one (the older mark says more); marks
	   are at least age/32 apart, so that CS_CLOCK_MARKS_MAX of them
	   reach back further than age however often prunes run */
	if (count == 0 || (now_usec > marks[count - 1].time &&
			   now_usec - marks[count - 1].time >= age_usec / 32 &&
			   hms > marks[count - 1].modseq))
		marks[count++] = (struct clock_mark){ now_usec, hms };
	for (i = 0; i < count; i++) {
		if (marks[i].time <= now_usec &&
		    now_usec - marks[i].time >= age_usec) {
			*cutoff_r = marks[i].modseq;
			first = i;
			found = true;
		}
	}
	if (!found && count > CS_CLOCK_MARKS_MAX)
		first = count - CS_CLOCK_MARKS_MAX;
	if (count - first > CS_CLOCK_MARKS_MAX)
		first = count - CS_CLOCK_MARKS_MAX;
	return marks_write(box, marks + first, count - first, err);
}

/* --- pruning --- */

int cs_mailbox_prune(struct cs_mailbox *box, uint64_t age_usec,
		     uint64_t now_usec, unsigned int *pruned_r,
		     struct cs_error *err)
{
	uint64_t cutoff;
	int ret = 0;

	if (pruned_r != NULL)
		*pruned_r = 0;
	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (box->gone)
		return 0;
	if (marks_update(box, age_usec, now_usec, &cutoff, err) < 0)
		return -1;
	if (cutoff > box->rec.horizon) {
		ret = cs_tombstones_prune(box, cutoff, err);
		if (ret < 0)
			return -1;
	}
	if (pruned_r != NULL)
		*pruned_r = (unsigned int)ret;
	return 0;
}

/* One mailbox, in a transaction of its own. */
static int prune_one(struct cs_index *index, const char *name,
		     uint64_t age_usec, unsigned int *pruned_r,
		     struct cs_error *err)
{
	struct cs_mailbox *box = NULL;
	int ret;

	*pruned_r = 0;
	if (cs_index_begin(index, err) < 0)
		return -1;
	ret = cs_mailbox_open(index, name, false, 0, 0, &box, err);
	if (ret > 0)
		ret = cs_mailbox_prune(box, age_usec, cs_now_usec(), pruned_r,
				       err);
	if (ret >= 0)
		ret = cs_index_commit(index, err);
	else
		cs_index_rollback(index);
	cs_mailbox_close(&box);
	if (ret < 0)
		*pruned_r = 0;
	return ret < 0 ? -1 : 0;
}

int cs_index_prune(struct cs_index *index, const char *name,
		   uint64_t age_usec, unsigned int *pruned_r,
		   struct cs_error *err)
{
	unsigned int pruned, total = 0;
	char **names = NULL;
	size_t i, count = 0;
	int ret = 0;

	if (name != NULL)
		ret = prune_one(index, name, age_usec, &total, err);
	else if (cs_mailbox_names(index, &names, &count, err) < 0)
		ret = -1;
	for (i = 0; i < count && ret == 0; i++) {
		ret = prune_one(index, names[i], age_usec, &pruned, err);
		total += pruned;
	}
	cs_mailbox_names_free(&names);
	if (pruned_r != NULL)
		*pruned_r = total;
	return ret != 0 ? -1 : 0;
}
