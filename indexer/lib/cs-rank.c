/*
 * cs-rank.c - message sequence numbers without reading the whole mailbox.
 *
 * IMAP numbers messages 1..N in UID order, so a FETCH response for UID u
 * needs the number of UIDs below u.  Per mailbox the index keeps a bitmap
 * of present UIDs in chunks of 4096 ("b" records, 512 bytes) and a summary
 * with the number of UIDs in each chunk ("B", one 16-bit count per
 * chunk).  A rank is the sum of the counts before u's chunk plus a
 * popcount inside it: two lookups and at most (UIDNEXT / 4096) additions,
 * about 250 for a million messages.
 *
 * Inside a transaction the summary and the chunk last touched are cached
 * in the mailbox handle and written at commit, so a bulk reindex that
 * assigns UIDs in order writes each chunk once, not once per message.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-hash.h"
#include "cs-bucket.h"
#include "cs-index-private.h"

#define CHUNK_BITS 4096
#define CHUNK_BYTES (CHUNK_BITS / 8)
/* the summary grows by this many chunks (1M UIDs) at a time */
#define SUM_ROUND 256

static size_t key_sum(uint8_t *buf, uint32_t id)
{
	buf[0] = CS_KEY_RANK_SUM;
	cs_put_be32(buf + 1, id);
	return 5;
}

static size_t key_chunk(uint8_t *buf, uint32_t id, uint32_t chunk)
{
	buf[0] = CS_KEY_RANK_MAP;
	cs_put_be32(buf + 1, id);
	cs_put_be32(buf + 5, chunk);
	return 9;
}

void cs_rank_reset(struct cs_mailbox *box)
{
	free(box->rank.counts);
	memset(&box->rank, 0, sizeof(box->rank));
}

/* The index's hook: the cached summaries and chunks written at commit,
   forgotten when the transaction ends. */
static int rank_hook_flush(struct cs_index *index, struct cs_error *err)
{
	return cs_index_boxes_flush(index, cs_rank_flush, err);
}

static void rank_hook_reset(struct cs_index *index, bool committed)
{
	(void)committed;
	cs_index_boxes_reset(index, cs_rank_reset);
}

const struct cs_index_hook cs_rank_hook = {
	.flush = rank_hook_flush,
	.reset = rank_hook_reset,
};

/* Read the summary into counts (malloc'ed, *n_r entries). */
static int sum_read(struct cs_mailbox *box, uint16_t **counts_r, size_t *n_r,
		    struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size, i;
	int ret;

	*counts_r = NULL;
	*n_r = 0;
	ret = cs_db_fetch(box->index, key, key_sum(key, box->rec.id), &data,
			  &size, err);
	if (ret <= 0)
		return ret;
	if (size % 2 != 0) {
		free(data);
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: sequence summary of %s damaged; run "
			"'condstore check --repair'", box->index->db_path,
			box->name);
	}
	*counts_r = calloc(size / 2 + 1, sizeof(uint16_t));
	if (*counts_r == NULL) {
		free(data);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	for (i = 0; i < size / 2; i++)
		(*counts_r)[i] = (uint16_t)(data[2 * i] | (data[2 * i + 1] << 8));
	*n_r = size / 2;
	free(data);
	return 1;
}

static int chunk_read(struct cs_mailbox *box, uint32_t chunk,
		      uint8_t bits[CHUNK_BYTES], struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size;
	int ret;

	memset(bits, 0, CHUNK_BYTES);
	ret = cs_db_fetch(box->index, key, key_chunk(key, box->rec.id, chunk),
			  &data, &size, err);
	if (ret <= 0)
		return ret;
	if (size == CHUNK_BYTES)
		memcpy(bits, data, CHUNK_BYTES);
	free(data);
	return 1;
}

static int chunk_flush(struct cs_mailbox *box, struct cs_error *err)
{
	struct cs_rank_cache *rc = &box->rank;
	uint8_t key[CS_KEY_MAX];

	if (!rc->bits_dirty)
		return 0;
	rc->bits_dirty = false;
	return cs_db_store(box->index, key,
			   key_chunk(key, box->rec.id, rc->chunk), rc->bits,
			   CHUNK_BYTES, err);
}

int cs_rank_flush(struct cs_mailbox *box, struct cs_error *err)
{
	struct cs_rank_cache *rc = &box->rank;
	uint8_t key[CS_KEY_MAX], *buf;
	size_t i, n;
	int ret;

	if (chunk_flush(box, err) < 0)
		return -1;
	if (!rc->dirty)
		return 0;
	/* room for SUM_ROUND chunks at a time, zero counts at the end: a
	   summary that grows keeps its size, so tdb rewrites it in place
	   instead of leaving a small free record behind at each growth
	   (a long free list that every later allocation walks) */
	n = (rc->nchunks + SUM_ROUND - 1) / SUM_ROUND * SUM_ROUND;
	buf = calloc(n, 2);
	if (buf == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	for (i = 0; i < rc->nchunks; i++) {
		buf[2 * i] = (uint8_t)rc->counts[i];
		buf[2 * i + 1] = (uint8_t)(rc->counts[i] >> 8);
	}
	ret = cs_db_store(box->index, key, key_sum(key, box->rec.id), buf,
			  n * 2, err);
	free(buf);
	rc->dirty = false;
	return ret;
}

static int rank_load(struct cs_mailbox *box, struct cs_error *err)
{
	struct cs_rank_cache *rc = &box->rank;

	if (rc->loaded)
		return 0;
	if (sum_read(box, &rc->counts, &rc->nchunks, err) < 0)
		return -1;
	rc->loaded = true;
	return 0;
}

static int rank_grow(struct cs_rank_cache *rc, size_t nchunks,
		     struct cs_error *err)
{
	if (cs_array_extend_zeroed(&rc->counts, sizeof(*rc->counts),
				   &rc->nchunks, nchunks) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	return 0;
}

int cs_rank_set(struct cs_mailbox *box, uint32_t uid, bool present,
		struct cs_error *err)
{
	struct cs_rank_cache *rc = &box->rank;
	uint32_t chunk = uid / CHUNK_BITS, bit = uid % CHUNK_BITS;
	uint8_t mask = (uint8_t)(1u << (bit % 8));
	bool was;

	if (uid == 0)
		return 0;
	if (rank_load(box, err) < 0)
		return -1;
	if (!rc->bits_valid || rc->chunk != chunk) {
		if (chunk_flush(box, err) < 0 ||
		    chunk_read(box, chunk, rc->bits, err) < 0)
			return -1;
		rc->chunk = chunk;
		rc->bits_valid = true;
	}
	was = (rc->bits[bit / 8] & mask) != 0;
	if (was == present)
		return 0;
	if (rank_grow(rc, (size_t)chunk + 1, err) < 0)
		return -1;
	if (present) {
		rc->bits[bit / 8] |= mask;
		rc->counts[chunk]++;
	} else {
		rc->bits[bit / 8] &= (uint8_t)~mask;
		rc->counts[chunk]--;
	}
	rc->bits_dirty = true;
	rc->dirty = true;
	return 0;
}

int cs_rank_next(struct cs_mailbox *box, uint32_t from, uint32_t *uid_r,
		 struct cs_error *err)
{
	struct cs_rank_cache *rc = &box->rank;
	uint32_t first_chunk, bit;
	size_t c;

	if (cs_index_require_txn(box->index, err) < 0 ||
	    rank_load(box, err) < 0)
		return -1;
	first_chunk = from / CHUNK_BITS;
	/* empty chunks cost a look at their count, nothing more */
	for (c = first_chunk; c < rc->nchunks; c++) {
		if (rc->counts[c] == 0)
			continue;
		if (!rc->bits_valid || rc->chunk != c) {
			if (chunk_flush(box, err) < 0 ||
			    chunk_read(box, (uint32_t)c, rc->bits, err) < 0)
				return -1;
			rc->chunk = (uint32_t)c;
			rc->bits_valid = true;
		}
		for (bit = c == first_chunk ? from % CHUNK_BITS : 0;
		     bit < CHUNK_BITS; bit++) {
			if ((rc->bits[bit / 8] & (1u << (bit % 8))) != 0 &&
			    c * CHUNK_BITS + bit != 0) {
				*uid_r = (uint32_t)(c * CHUNK_BITS + bit);
				return 1;
			}
		}
	}
	return 0;
}

static unsigned int popcount_below(const uint8_t *bits, uint32_t bit)
{
	unsigned int n = 0;
	uint32_t i;

	for (i = 0; i < bit / 8; i++)
		n += (unsigned int)__builtin_popcount(bits[i]);
	if (bit % 8 != 0)
		n += (unsigned int)__builtin_popcount(
			bits[bit / 8] & ((1u << (bit % 8)) - 1));
	return n;
}

int cs_message_seq(struct cs_mailbox *box, uint32_t uid, uint32_t *seq_r,
		   struct cs_error *err)
{
	uint32_t chunk = uid / CHUNK_BITS, bit = uid % CHUNK_BITS;
	uint8_t bits[CHUNK_BYTES];
	uint16_t *counts;
	uint64_t seq = 0;
	size_t n, i;

	if (box->gone || uid == 0)
		return 0;
	if (box->index->in_txn && cs_rank_flush(box, err) < 0)
		return -1;
	if (sum_read(box, &counts, &n, err) < 0)
		return -1;
	for (i = 0; i < n && i < chunk; i++)
		seq += counts[i];
	free(counts);
	if (chunk_read(box, chunk, bits, err) < 0)
		return -1;
	if ((bits[bit / 8] & (1u << (bit % 8))) == 0)
		return 0;
	*seq_r = (uint32_t)(seq + popcount_below(bits, bit) + 1);
	return 1;
}

int cs_rank_counts(struct cs_mailbox *box, uint16_t **counts_r, size_t *n_r,
		   struct cs_error *err)
{
	return sum_read(box, counts_r, n_r, err);
}

int cs_rank_drop(struct cs_mailbox *box, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX];

	cs_rank_reset(box);
	key[0] = CS_KEY_RANK_MAP;
	cs_put_be32(key + 1, box->rec.id);
	if (cs_db_delete_prefix(box->index, key, 5, err) < 0)
		return -1;
	return cs_db_delete(box->index, key, key_sum(key, box->rec.id), err);
}

/* The absent UIDs of [first, last] inside one chunk that has UIDs. */
static int chunk_absent(struct cs_mailbox *box, uint32_t chunk,
			uint64_t first, uint64_t last, cs_uid_range_fn *fn,
			void *ctx, struct cs_error *err)
{
	uint8_t bits[CHUNK_BYTES];
	uint64_t base = (uint64_t)chunk * CHUNK_BITS, u, start = 0;
	bool open = false;
	int ret = 0;

	if (chunk_read(box, chunk, bits, err) < 0)
		return -1;
	for (u = first; u <= last && ret == 0; u++) {
		uint32_t bit = (uint32_t)(u - base);

		if ((bits[bit / 8] & (1u << (bit % 8))) == 0) {
			if (!open)
				start = u;
			open = true;
		} else if (open) {
			ret = fn(ctx, (uint32_t)start, (uint32_t)(u - 1));
			open = false;
		}
	}
	if (ret == 0 && open)
		ret = fn(ctx, (uint32_t)start, (uint32_t)last);
	return ret;
}

int cs_rank_absent(struct cs_mailbox *box, const struct cs_uid_range *ranges,
		   size_t count, cs_uid_range_fn *fn, void *ctx,
		   struct cs_error *err)
{
	uint16_t *counts;
	size_t n, r;
	int ret = 0;

	if (box->index->in_txn && cs_rank_flush(box, err) < 0)
		return -1;
	if (sum_read(box, &counts, &n, err) < 0)
		return -1;
	for (r = 0; r < count && ret == 0; r++) {
		uint64_t u = ranges[r].first, last = ranges[r].last, end;

		while (u <= last && ret == 0) {
			uint32_t chunk = (uint32_t)(u / CHUNK_BITS);

			end = ((uint64_t)chunk + 1) * CHUNK_BITS - 1;
			if (chunk >= n) {
				/* no UID at or above this chunk */
				ret = fn(ctx, (uint32_t)u, (uint32_t)last);
				break;
			}
			if (end > last)
				end = last;
			if (counts[chunk] == 0)
				ret = fn(ctx, (uint32_t)u, (uint32_t)end);
			else
				ret = chunk_absent(box, chunk, u, end, fn, ctx,
						   err);
			u = end + 1;
		}
	}
	free(counts);
	return ret < 0 ? -1 : 0;
}

/* cs_message_uid_ranges: the messages are what lies between the gaps. */
struct present_ctx {
	uint64_t next;		/* the lowest UID not looked at yet */
	cs_uid_range_fn *fn;
	void *ctx;
	bool stopped;
};

static int present_gap(void *ctx, uint32_t first, uint32_t last)
{
	struct present_ctx *pc = ctx;

	if (first > pc->next &&
	    pc->fn(pc->ctx, (uint32_t)pc->next, first - 1) != 0) {
		pc->stopped = true;
		return 1;
	}
	pc->next = (uint64_t)last + 1;
	return 0;
}

int cs_message_uid_ranges(struct cs_mailbox *box, uint32_t first,
			  uint32_t last, cs_uid_range_fn *fn, void *ctx,
			  struct cs_error *err)
{
	struct cs_uid_range range;
	struct present_ctx pc;

	if (first == 0)
		first = 1;
	if (last == UINT32_MAX)
		last = UINT32_MAX - 1;
	if (first > last)
		return 0;
	range.first = first;
	range.last = last;
	memset(&pc, 0, sizeof(pc));
	pc.next = first;
	pc.fn = fn;
	pc.ctx = ctx;
	if (cs_rank_absent(box, &range, 1, present_gap, &pc, err) < 0)
		return -1;
	if (pc.stopped)
		return 1;
	if (pc.next <= last && fn(ctx, (uint32_t)pc.next, last) != 0)
		return 1;
	return 0;
}

/* --- the UID map (cs-msgstore.c) with its bits --- */

/* What a UID in the map adds: UIDNEXT above it, its bit, its term. */
static int uid_map_account(struct cs_mailbox *box, uint32_t uid,
			   const char *base, struct cs_error *err)
{
	if (uid >= box->rec.uidnext)
		box->rec.uidnext = uid + 1;
	if (cs_rank_set(box, uid, true, err) < 0)
		return -1;
	box->rec.uid_sum += cs_uid_term(cs_name_hash(base, strlen(base)), uid);
	box->dirty = true;
	return 0;
}

int cs_uid_map_store(struct cs_mailbox *box, uint32_t uid, const char *base,
		     struct cs_error *err)
{
	if (uid_map_account(box, uid, base, err) < 0 ||
	    cs_uidmap_set(box, uid, cs_bucket_hash(base, strlen(base)),
			  err) < 0)
		return -1;
	return 0;
}

/* Does uid map to a live message other than base's: a message (of the
   hash the map gives) that has uid and another name?  Returns 1, 0, or
   -1. */
static int uid_map_owned(struct cs_mailbox *box, uint32_t uid,
			 const char *base, struct cs_error *err)
{
	struct cs_message other;
	struct cs_error lookup_err;
	int ret;

	cs_error_clear(&lookup_err);
	ret = cs_message_lookup_uid(box, uid, &other, &lookup_err);
	if (ret < 0 && lookup_err.code == CS_ERR_CORRUPT)
		return 0;	/* the map names a message that is gone: a
				   leftover, replaced */
	if (ret < 0) {
		if (err != NULL)
			*err = lookup_err;
		return -1;
	}
	return ret > 0 && strcmp(other.base, base) != 0;
}

int cs_uid_map_claim(struct cs_mailbox *box, uint32_t uid, const char *base,
		     struct cs_error *err)
{
	int ret;

	if ((ret = uid_map_owned(box, uid, base, err)) != 0)
		return ret < 0 ? -1 : 0;
	/* free, a leftover, or base's own */
	if (cs_uidmap_set(box, uid, cs_bucket_hash(base, strlen(base)),
			  err) < 0 ||
	    uid_map_account(box, uid, base, err) < 0)
		return -1;
	return 1;
}

int cs_uid_map_delete(struct cs_mailbox *box, uint32_t uid,
		      const char *base, struct cs_error *err)
{
	if (uid == 0)
		return 0;
	if (cs_rank_set(box, uid, false, err) < 0 ||
	    cs_uidmap_unset(box, uid, err) < 0)
		return -1;
	box->rec.uid_sum -= cs_uid_term(cs_name_hash(base, strlen(base)), uid);
	box->dirty = true;
	return 0;
}
