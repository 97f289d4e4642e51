/*
 * cs-msgstore.c - the messages of a mailbox in layout 2 (cs-record.h):
 * buckets of messages placed by a hash of the base name, and the UID
 * map in chunks of 256 UIDs.
 *
 * Design.  A message is found by name in one record (its bucket), by UID
 * in two (the UID map's chunk gives the name's hash, the hash the
 * bucket), and by a change-log entry (hash and modseq) in one.  The
 * buckets grow by linear hashing: when the mailbox holds more than
 * CS_BUCKET_FILL messages a bucket, the next bucket in turn is split in
 * two by one more bit of the hash, so the file never rewrites more than
 * one bucket to grow.  Every bucket records its level (the bits of the
 * hash its number is), so that a reader whose idea of the number of
 * buckets is old follows the splits from the bucket it computed: levels
 * only grow, and a split writes both halves.
 *
 * Inside a transaction every record touched is kept in memory (a
 * write-back cache per mailbox handle) and written once, at commit: a
 * batch of changes that share a bucket rewrites it once.  A build (the
 * index's bulk mode, cs-build.c) keeps the cache across its commits and
 * writes it when the mailbox handle closes, so that each bucket of a new
 * index is written once.  Outside a transaction, readers scan the record
 * in place (cs_db_parse).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-bucket.h"
#include "cs-index-private.h"

/* Beyond this much cached in a build, the cache is written at the next
   commit (and records written then may be rewritten, larger, later). */
#define BULK_CACHE_MAX (512u * 1024 * 1024)

static int damaged(struct cs_mailbox *box, const char *what, uint32_t no,
		   struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_CORRUPT,
		"%s: %s %u of mailbox %s damaged; rebuild the index with "
		"'condstore reindex --rebuild'", box->index->db_path, what,
		no, box->name);
}

/* --- the cache --- */

static int oom(struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_IO, "out of memory");
}

static int rec_reserve(struct cs_mailbox *box, struct cs_cached_rec *rec,
		       size_t size, struct cs_error *err)
{
	size_t alloc = rec->alloc;
	uint8_t *data;

	if (size <= alloc)
		return 0;
	while (alloc < size)
		alloc = alloc < 256 ? 256 : alloc + alloc / 2;
	data = realloc(rec->data, alloc);
	if (data == NULL)
		return oom(err);
	box->cache.bytes += alloc - rec->alloc;
	rec->data = data;
	rec->alloc = alloc;
	return 0;
}

/* --- the tables of cached records --- */

static size_t table_pos(const struct cs_rec_table *t, uint32_t no)
{
	return (size_t)((no * UINT32_C(0x9e3779b1)) & (t->cap - 1));
}

static int table_grow(struct cs_rec_table *t)
{
	struct cs_rec_table bigger = { .cap = t->cap == 0 ? 64 : t->cap * 2 };
	size_t i, pos;

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (bigger.slots == NULL)
		return -1;
	for (i = 0; i < t->cap; i++) {
		if (t->slots[i] == NULL)
			continue;
		pos = table_pos(&bigger, t->slots[i]->no);
		while (bigger.slots[pos] != NULL)
			pos = (pos + 1) & (bigger.cap - 1);
		bigger.slots[pos] = t->slots[i];
	}
	bigger.used = t->used;
	free(t->slots);
	*t = bigger;
	return 0;
}

/* The cached record numbered no: 1 with *rec_r, 0 none (then *rec_r is
   a new empty one, if create), -1 out of memory. */
static int table_get(struct cs_rec_table *t, uint32_t no, bool create,
		     struct cs_cached_rec **rec_r)
{
	size_t pos;

	if (t->cap > 0) {
		for (pos = table_pos(t, no); t->slots[pos] != NULL;
		     pos = (pos + 1) & (t->cap - 1)) {
			if (t->slots[pos]->no == no) {
				*rec_r = t->slots[pos];
				return 1;
			}
		}
	}
	*rec_r = NULL;
	if (!create)
		return 0;
	/* at most half full */
	if ((t->used + 1) * 2 > t->cap && table_grow(t) < 0)
		return -1;
	pos = table_pos(t, no);
	while (t->slots[pos] != NULL)
		pos = (pos + 1) & (t->cap - 1);
	t->slots[pos] = calloc(1, sizeof(**t->slots));
	if (t->slots[pos] == NULL)
		return -1;
	t->slots[pos]->no = no;
	t->used++;
	*rec_r = t->slots[pos];
	return 0;
}

static void table_free(struct cs_rec_table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++) {
		if (t->slots[i] != NULL)
			free(t->slots[i]->data);
		free(t->slots[i]);
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The cached record no of table, read from key (under tag) the first
   time in the transaction; size 0 when the tdb has none. */
static struct cs_cached_rec *cached(struct cs_mailbox *box,
				    struct cs_rec_table *t, uint8_t tag,
				    uint32_t no, struct cs_error *err)
{
	struct cs_cached_rec *rec;
	uint8_t key[9], *data;
	size_t size;
	int ret;

	ret = table_get(t, no, true, &rec);
	if (ret < 0) {
		oom(err);
		return NULL;
	}
	if (ret > 0)
		return rec;
	ret = cs_db_fetch(box->index, key,
			  cs_key_numbered(key, tag, box->rec.id, no), &data,
			  &size, err);
	if (ret < 0)
		return NULL;	/* the transaction fails, its cache goes */
	if (ret > 0) {
		/* tdb's copy becomes the cache's */
		rec->data = data;
		rec->size = rec->alloc = size;
		rec->stored = true;
		box->cache.bytes += size;
	}
	return rec;
}

static struct cs_cached_rec *cached_bucket(struct cs_mailbox *box,
					   uint32_t no, struct cs_error *err)
{
	return cached(box, &box->cache.buckets, CS_KEY_BUCKET, no, err);
}

static struct cs_cached_rec *cached_chunk(struct cs_mailbox *box,
					  uint32_t chunk, struct cs_error *err)
{
	return cached(box, &box->cache.chunks, CS_KEY_UIDMAP, chunk, err);
}

void cs_msg_cache_reset(struct cs_mailbox *box)
{
	table_free(&box->cache.buckets);
	table_free(&box->cache.chunks);
	box->cache.bytes = 0;
}

/* Write the dirty records of table: an empty UID chunk is deleted. */
static int table_flush(struct cs_mailbox *box, struct cs_rec_table *t,
		       uint8_t tag, struct cs_error *err)
{
	bool chunks = tag == CS_KEY_UIDMAP;
	struct cs_cached_rec *rec;
	uint8_t key[9];
	size_t i;
	int ret;

	for (i = 0; i < t->cap; i++) {
		rec = t->slots[i];
		if (rec == NULL || !rec->dirty)
			continue;
		(void)cs_key_numbered(key, tag, box->rec.id, rec->no);
		if (chunks && rec->size <= 1)
			ret = rec->stored ?
				cs_db_delete(box->index, key, sizeof(key),
					     err) : 0;
		else
			ret = (rec->stored ? cs_db_store : cs_db_insert)
				(box->index, key, sizeof(key), rec->data,
				 rec->size, err);
		if (ret < 0)
			return -1;
		rec->stored = !(chunks && rec->size <= 1);
		rec->dirty = false;
	}
	return 0;
}

int cs_msg_cache_flush(struct cs_mailbox *box, struct cs_error *err)
{
	if (table_flush(box, &box->cache.buckets, CS_KEY_BUCKET, err) < 0 ||
	    table_flush(box, &box->cache.chunks, CS_KEY_UIDMAP, err) < 0)
		return -1;
	return 0;
}

static int msg_hook_flush_box(struct cs_mailbox *box, struct cs_error *err)
{
	/* a build writes each record once, when its mailbox is done */
	if (box->index->bulk && box->cache.bytes < BULK_CACHE_MAX)
		return 0;
	return cs_msg_cache_flush(box, err);
}

static int msg_hook_flush(struct cs_index *index, struct cs_error *err)
{
	return cs_index_boxes_flush(index, msg_hook_flush_box, err);
}

static void msg_hook_reset_box(struct cs_mailbox *box)
{
	if (!box->index->bulk)
		cs_msg_cache_reset(box);
}

static void msg_hook_reset(struct cs_index *index, bool committed)
{
	(void)committed;
	cs_index_boxes_reset(index, msg_hook_reset_box);
}

const struct cs_index_hook cs_msgstore_hook = {
	.flush = msg_hook_flush,
	.reset = msg_hook_reset,
};

void cs_msg_cache_close(struct cs_mailbox *box)
{
	if (box->index != NULL && box->index->bulk && !box->gone &&
	    cs_msg_cache_flush(box, NULL) < 0)
		box->index->bulk_damaged = true;
	cs_msg_cache_reset(box);
}

/* --- finding a bucket --- */

/* Look for q in the bucket record data (bucket number no), which the
   caller takes for a bucket at *level_io: 1/0/-1 as cs_bucket_find, or
   2 with *next_r when the bucket was split since (its level is higher)
   and q's hash went to the bucket split off at *level_io (then the level
   of that one, at least).  A lower level (the caller came up from a
   bucket that does not exist) is the bucket's, if its number agrees with
   it and the hash. */
static int bucket_search(const uint8_t *data, size_t size, uint32_t no,
			 const struct cs_bucket_query *q, uint8_t *level_io,
			 uint32_t *next_r, struct cs_bucket_entry *entry_r,
			 struct cs_message *msg_r)
{
	uint32_t mask;

	if (size < CS_BUCKET_HDR_SIZE || data[1] > 31)
		return -1;
	if (data[1] < *level_io)
		*level_io = data[1];
	for (; *level_io < data[1]; (*level_io)++) {
		if ((q->hash & (UINT32_C(1) << *level_io)) != 0) {
			*next_r = no | (UINT32_C(1) << *level_io);
			(*level_io)++;
			return 2;
		}
	}
	mask = (UINT32_C(1) << data[1]) - 1;
	if ((no & ~mask) != 0 || (q->hash & mask) != no)
		return -1;
	return cs_bucket_find(data, size, q, entry_r, msg_r);
}

struct parse_find {
	const struct cs_bucket_query *q;
	uint32_t no, next;
	uint8_t level;
	struct cs_message *msg;
};

static int parse_find(const uint8_t *data, size_t size, void *ctx)
{
	struct parse_find *pf = ctx;
	struct cs_bucket_entry entry;

	return bucket_search(data, size, pf->no, pf->q, &pf->level, &pf->next,
			     &entry, pf->msg);
}

/* Find q: 1 with msg_r (and, in a transaction, *rec_r the cached bucket,
   *no_r its number and *entry_r the entry in it), 0 not there, -1.  With
   rec_r and 0 returned, *rec_r is the bucket q's hash belongs in (empty
   when the mailbox has none yet), *level_r its level.

   The walk starts at the bucket the mailbox record's count gives.  A
   bucket split since is followed down (bucket_search); a bucket that
   does not exist, which a count that is too high gives (the record is the
   file's, and a file can say anything), sends the walk up to the bucket
   it would have been split from.  Every step is a record read, and there
   are at most 64: a walk that goes on is damage. */
static int bucket_lookup(struct cs_mailbox *box,
			 const struct cs_bucket_query *q,
			 struct cs_message *msg_r,
			 struct cs_cached_rec **rec_r, uint8_t *level_r,
			 struct cs_bucket_entry *entry_r,
			 struct cs_error *err)
{
	struct cs_bucket_entry entry;
	struct cs_cached_rec *rec;
	struct parse_find pf = { .q = q, .msg = msg_r };
	uint8_t key[9];
	unsigned int hops;
	int ret = 0, parsed;

	pf.no = cs_bucket_of(q->hash, box->rec.nbuckets, &pf.level);
	for (hops = 0; hops < 64; hops++) {
		if (box->index->in_txn) {
			rec = cached_bucket(box, pf.no, err);
			if (rec == NULL)
				return -1;
			if (rec_r != NULL) {
				*rec_r = rec;
				*level_r = pf.level;
			}
			ret = rec->size == 0 ? 3 :
				bucket_search(rec->data, rec->size, pf.no, q,
					      &pf.level, &pf.next,
					      entry_r != NULL ? entry_r :
					      &entry, msg_r);
		} else {
			ret = cs_db_parse(box->index, key,
					  cs_key_bucket(key, box->rec.id, pf.no),
					  parse_find, &pf, &parsed, err);
			if (ret < 0)
				return -1;
			ret = ret == 0 ? 3 : parsed;
		}
		if (ret == 3 && pf.level > 0) {
			/* no such bucket: the one it splits from */
			pf.level--;
			pf.no &= (UINT32_C(1) << pf.level) - 1;
			continue;
		}
		if (ret == 3)
			return 0;	/* no bucket at all */
		if (ret < 0)
			return damaged(box, "bucket", pf.no, err);
		if (ret != 2)
			return ret;
		pf.no = pf.next;
	}
	return damaged(box, "bucket", pf.no, err);
}

int cs_msg_fetch(struct cs_mailbox *box, const char *base, size_t base_len,
		 struct cs_message *msg_r, struct cs_error *err)
{
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_NAME, .base = base,
				     .base_len = base_len };

	if (base_len == 0 || base_len > CS_NAME_MAX || box->gone)
		return 0;
	q.hash = cs_bucket_hash(base, base_len);
	return bucket_lookup(box, &q, msg_r, NULL, NULL, NULL, err);
}

int cs_msg_fetch_change(struct cs_mailbox *box, uint32_t hash,
			uint64_t modseq, struct cs_message *msg_r,
			struct cs_error *err)
{
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_MODSEQ, .hash = hash,
				     .modseq = modseq };

	if (box->gone)
		return 0;
	return bucket_lookup(box, &q, msg_r, NULL, NULL, NULL, err);
}

/* --- changing a bucket (in a transaction) --- */

/* Replace the len bytes at off of rec with n bytes of buf (NULL when n
   is 0: a removal). */
static int rec_splice(struct cs_mailbox *box, struct cs_cached_rec *rec,
		      size_t off, size_t len, const uint8_t *buf, size_t n,
		      struct cs_error *err)
{
	if (n > len && rec_reserve(box, rec, rec->size + n - len, err) < 0)
		return -1;
	memmove(rec->data + off + n, rec->data + off + len,
		rec->size - off - len);
	if (n > 0)
		memcpy(rec->data + off, buf, n);
	rec->size = rec->size + n - len;
	rec->dirty = true;
	return 0;
}

static void bucket_set_count(struct cs_cached_rec *rec, int delta)
{
	cs_put_le32(rec->data + 4,
		    (uint32_t)((int64_t)cs_get_le32(rec->data + 4) + delta));
}

/* Re-encode every entry of rec's bucket against a new, lower base. */
static int bucket_rebase(struct cs_mailbox *box, struct cs_cached_rec *rec,
			 uint64_t base, struct cs_error *err)
{
	struct cs_bucket_iter it;
	struct cs_bucket_entry entry;
	struct cs_bucket_hdr hdr;
	struct cs_cached_rec out = { 0 };
	struct cs_message msg;
	uint8_t buf[CS_BUCKET_ENTRY_MAX];
	size_t n;
	int ret;

	if (cs_bucket_iter_init(rec->data, rec->size, &it) < 0)
		return -1;
	hdr = it.hdr;
	hdr.base = base;
	if (rec_reserve(box, &out, rec->size + 64, err) < 0)
		return -1;
	cs_bucket_hdr_encode(&hdr, out.data);
	out.size = CS_BUCKET_HDR_SIZE;
	while ((ret = cs_bucket_iter_next(&it, &entry)) > 0) {
		if (cs_bucket_entry_decode(&it, &entry, &msg) < 0 ||
		    (n = cs_bucket_entry_encode(&msg, entry.hash, base,
						buf)) == 0) {
			ret = -1;
			break;
		}
		if (rec_splice(box, &out, out.size, 0, buf, n, err) < 0) {
			free(out.data);
			box->cache.bytes -= out.alloc;
			return -1;
		}
	}
	if (ret < 0) {
		free(out.data);
		box->cache.bytes -= out.alloc;
		return -1;
	}
	box->cache.bytes -= rec->alloc;
	free(rec->data);
	rec->data = out.data;
	rec->size = out.size;
	rec->alloc = out.alloc;
	rec->dirty = true;
	return 0;
}

static uint64_t msg_low_modseq(const struct cs_message *msg)
{
	const struct cs_msg_rec *r = &msg->rec;

	return r->prev_modseq != 0 && r->prev_modseq < r->modseq ?
		r->prev_modseq : r->modseq;
}

/* Encode msg for rec's bucket, rebasing it first if msg's modseqs are
   below its base.  Returns the entry's length, or 0 with err set. */
static size_t bucket_encode(struct cs_mailbox *box, struct cs_cached_rec *rec,
			    const struct cs_message *msg, uint32_t hash,
			    uint8_t *buf, uint32_t no, struct cs_error *err)
{
	size_t n = cs_bucket_entry_encode(msg, hash,
					  cs_get_le64(rec->data + 8), buf);

	if (n != 0)
		return n;
	if (bucket_rebase(box, rec, msg_low_modseq(msg), err) < 0) {
		if (err == NULL || err->code == 0)
			damaged(box, "bucket", no, err);
		return 0;
	}
	n = cs_bucket_entry_encode(msg, hash, cs_get_le64(rec->data + 8), buf);
	if (n == 0)
		damaged(box, "bucket", no, err);
	return n;
}

/* A bucket that does not exist yet: an empty one at level. */
static int bucket_create(struct cs_mailbox *box, struct cs_cached_rec *rec,
			 uint8_t level, uint64_t base, struct cs_error *err)
{
	struct cs_bucket_hdr hdr = { .level = level, .base = base };

	if (rec_reserve(box, rec, CS_BUCKET_HDR_SIZE + 256, err) < 0)
		return -1;
	cs_bucket_hdr_encode(&hdr, rec->data);
	rec->size = CS_BUCKET_HDR_SIZE;
	rec->dirty = true;
	return 0;
}

/* Split the next bucket in turn in two: with nbuckets in [2^L, 2^(L+1)),
   bucket nbuckets - 2^L (level L) becomes itself and bucket nbuckets,
   both at level L+1. */
static int bucket_split(struct cs_mailbox *box, struct cs_error *err)
{
	uint32_t n = box->rec.nbuckets, high = 1, from;
	struct cs_cached_rec *src, *dst, keep = { 0 };
	struct cs_bucket_iter it;
	struct cs_bucket_entry entry;
	struct cs_bucket_hdr hdr;
	uint8_t level = 0;
	int ret;

	if (n >= UINT32_C(1) << 31)
		return 0;
	while (high <= n / 2) {
		high *= 2;
		level++;
	}
	from = n - high;
	src = cached_bucket(box, from, err);
	dst = src == NULL ? NULL : cached_bucket(box, n, err);
	if (dst == NULL)
		return -1;
	if (src->size == 0 &&
	    bucket_create(box, src, level, box->rec.highestmodseq, err) < 0)
		return -1;
	if (cs_bucket_iter_init(src->data, src->size, &it) < 0 ||
	    it.hdr.level != level)
		return damaged(box, "bucket", from, err);
	hdr = it.hdr;
	hdr.level = level + 1;
	hdr.count = 0;
	/* both halves get room for the whole source */
	if (rec_reserve(box, &keep, src->size, err) < 0)
		return -1;
	if (rec_reserve(box, dst, src->size, err) < 0) {
		box->cache.bytes -= keep.alloc;
		free(keep.data);
		return -1;
	}
	cs_bucket_hdr_encode(&hdr, keep.data);
	cs_bucket_hdr_encode(&hdr, dst->data);
	keep.size = dst->size = CS_BUCKET_HDR_SIZE;
	while ((ret = cs_bucket_iter_next(&it, &entry)) > 0) {
		struct cs_cached_rec *out = (entry.hash & high) != 0 ?
			dst : &keep;

		memcpy(out->data + out->size, src->data + entry.off,
		       entry.len);
		out->size += entry.len;
		bucket_set_count(out, 1);
	}
	if (ret < 0) {
		box->cache.bytes -= keep.alloc;
		free(keep.data);
		dst->size = 0;
		return damaged(box, "bucket", from, err);
	}
	box->cache.bytes -= src->alloc;
	free(src->data);
	src->data = keep.data;
	src->size = keep.size;
	src->alloc = keep.alloc;
	src->dirty = dst->dirty = true;
	box->rec.nbuckets = n + 1;
	box->dirty = true;
	return 0;
}

/* Store msg in its bucket: its entry replaced, or added (only_new: not
   when it has one; returns 0 then).  Returns 1 stored, 0, -1. */
static int msg_write(struct cs_mailbox *box, const struct cs_message *msg,
		     bool only_new, struct cs_error *err)
{
	size_t base_len = strlen(msg->base), n;
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_NAME,
				     .base = msg->base, .base_len = base_len };
	struct cs_bucket_entry entry;
	struct cs_cached_rec *rec = NULL;
	struct cs_message old;
	uint8_t buf[CS_BUCKET_ENTRY_MAX], level;
	int ret;

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (box->rec.nbuckets == 0) {
		box->rec.nbuckets = 1;
		box->dirty = true;
	}
	q.hash = cs_bucket_hash(msg->base, base_len);
	ret = bucket_lookup(box, &q, &old, &rec, &level, &entry, err);
	if (ret < 0)
		return -1;
	if (ret > 0 && only_new)
		return 0;
	/* the mailbox's first message: bucket 0 */
	if (rec->size == 0 &&
	    bucket_create(box, rec, level, msg_low_modseq(msg), err) < 0)
		return -1;
	n = bucket_encode(box, rec, msg, q.hash, buf, rec->no, err);
	if (n == 0)
		return -1;
	if (ret > 0) {
		/* the rebase may have moved the entry: find it again */
		if (cs_bucket_find(rec->data, rec->size, &q, &entry,
				   NULL) <= 0)
			return damaged(box, "bucket", rec->no, err);
		return rec_splice(box, rec, entry.off, entry.len, buf, n,
				  err) < 0 ? -1 : 1;
	}
	if (rec_splice(box, rec, rec->size, 0, buf, n, err) < 0)
		return -1;
	bucket_set_count(rec, 1);
	while ((uint64_t)box->rec.messages + 1 >
	       (uint64_t)box->rec.nbuckets * CS_BUCKET_FILL) {
		if (bucket_split(box, err) < 0)
			return -1;
	}
	return 1;
}

int cs_msg_put(struct cs_mailbox *box, const struct cs_message *msg,
	       struct cs_error *err)
{
	return msg_write(box, msg, false, err) < 0 ? -1 : 0;
}

int cs_msg_add(struct cs_mailbox *box, const struct cs_message *msg,
	       struct cs_error *err)
{
	return msg_write(box, msg, true, err);
}

int cs_msg_remove(struct cs_mailbox *box, const char *base, size_t base_len,
		  struct cs_error *err)
{
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_NAME, .base = base,
				     .base_len = base_len };
	struct cs_bucket_entry entry;
	struct cs_cached_rec *rec;
	uint8_t level;
	int ret;

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	q.hash = cs_bucket_hash(base, base_len);
	ret = bucket_lookup(box, &q, NULL, &rec, &level, &entry, err);
	if (ret <= 0)
		return ret;
	if (rec_splice(box, rec, entry.off, entry.len, NULL, 0, err) < 0)
		return -1;
	bucket_set_count(rec, -1);
	return 1;
}

/* --- the UID map --- */

struct parse_uid {
	uint32_t uid, hash;
};

static int parse_uid(const uint8_t *data, size_t size, void *ctx)
{
	struct parse_uid *pu = ctx;

	return cs_uidchunk_find(data, size, pu->uid, &pu->hash, NULL);
}

int cs_uidmap_get(struct cs_mailbox *box, uint32_t uid, uint32_t *hash_r,
		  struct cs_error *err)
{
	struct parse_uid pu = { .uid = uid };
	struct cs_cached_rec *rec;
	uint32_t chunk = uid / CS_UIDCHUNK_UIDS;
	uint8_t key[9];
	int ret, parsed;

	if (uid == 0 || box->gone)
		return 0;
	if (box->index->in_txn) {
		rec = cached_chunk(box, chunk, err);
		if (rec == NULL)
			return -1;
		if (rec->size == 0)
			return 0;
		parsed = cs_uidchunk_find(rec->data, rec->size, uid, hash_r,
					  NULL);
	} else {
		ret = cs_db_parse(box->index, key,
				  cs_key_uidmap(key, box->rec.id, chunk),
				  parse_uid, &pu, &parsed, err);
		if (ret <= 0)
			return ret;
		*hash_r = pu.hash;
	}
	if (parsed < 0)
		return damaged(box, "UID map chunk", chunk, err);
	return parsed;
}

/* The cached chunk of uid (created with its version byte, if create)
   and where uid's entry is or would go: 1 with *rec_r and *pos_r when
   uid has an entry, 0 when not (*rec_r NULL: no chunk and not create),
   -1. */
static int uidmap_find(struct cs_mailbox *box, uint32_t uid, bool create,
		       struct cs_cached_rec **rec_r, size_t *pos_r,
		       struct cs_error *err)
{
	static const uint8_t version = CS_RECORD_VERSION;
	uint32_t chunk = uid / CS_UIDCHUNK_UIDS, old;
	struct cs_cached_rec *rec;
	int ret;

	*rec_r = NULL;
	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	rec = cached_chunk(box, chunk, err);
	if (rec == NULL)
		return -1;
	if (rec->size == 0 && !create)
		return 0;
	if (rec->size == 0 && rec_splice(box, rec, 0, 0, &version, 1,
					 err) < 0)
		return -1;
	ret = cs_uidchunk_find(rec->data, rec->size, uid, &old, pos_r);
	if (ret < 0)
		return damaged(box, "UID map chunk", chunk, err);
	*rec_r = rec;
	return ret;
}

int cs_uidmap_set(struct cs_mailbox *box, uint32_t uid, uint32_t hash,
		  struct cs_error *err)
{
	struct cs_cached_rec *rec;
	uint8_t entry[CS_UIDCHUNK_ENTRY];
	size_t pos;
	int ret;

	if ((ret = uidmap_find(box, uid, true, &rec, &pos, err)) < 0)
		return -1;
	entry[0] = (uint8_t)(uid % CS_UIDCHUNK_UIDS);
	cs_put_le32(entry + 1, hash);
	return rec_splice(box, rec, pos, ret > 0 ? CS_UIDCHUNK_ENTRY : 0,
			  entry, sizeof(entry), err);
}

int cs_uidmap_unset(struct cs_mailbox *box, uint32_t uid,
		    struct cs_error *err)
{
	struct cs_cached_rec *rec;
	size_t pos;
	int ret;

	if ((ret = uidmap_find(box, uid, false, &rec, &pos, err)) <= 0)
		return ret;
	return rec_splice(box, rec, pos, CS_UIDCHUNK_ENTRY, NULL, 0, err);
}

int cs_uidmap_drop(struct cs_mailbox *box, struct cs_error *err)
{
	uint8_t prefix[5];

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	table_free(&box->cache.chunks);
	prefix[0] = CS_KEY_UIDMAP;
	cs_put_be32(prefix + 1, box->rec.id);
	return cs_db_delete_prefix(box->index, prefix, sizeof(prefix), err);
}

/* Outside a transaction the UID map and the bucket are read one after
   the other, and a commit may come in between: an expunge removes both,
   so a UID found mapped and then no message means the UID is gone if it
   no longer maps to the same hash.  Only a map that still names the
   missing message is damage. */
int cs_message_lookup_uid(struct cs_mailbox *box, uint32_t uid,
			  struct cs_message *msg_r, struct cs_error *err)
{
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_UID, .uid = uid };
	uint32_t again;
	int ret;

	if (box->gone || uid == 0)
		return 0;
	ret = cs_uidmap_get(box, uid, &q.hash, err);
	if (ret <= 0)
		return ret;
	ret = bucket_lookup(box, &q, msg_r, NULL, NULL, NULL, err);
	if (ret != 0)
		return ret;
	if (!box->index->in_txn) {
		ret = cs_uidmap_get(box, uid, &again, err);
		if (ret < 0)
			return -1;
		if (ret == 0 || again != q.hash)
			return 0;	/* expunged between the two reads */
	}
	return cs_error_set(err, CS_ERR_CORRUPT,
		"%s: %s: UID %u points at a missing message; run "
		"'condstore check --repair'", box->index->db_path,
		box->name, uid);
}

int cs_message_lookup(struct cs_mailbox *box, const char *base,
		      size_t base_len, struct cs_message *msg_r,
		      struct cs_error *err)
{
	return cs_msg_fetch(box, base, base_len, msg_r, err);
}

/* --- iteration --- */

/* A copy of bucket no: 1 with *data_r (free() it), 0 none, -1. */
static int bucket_copy(struct cs_mailbox *box, uint32_t no, uint8_t **data_r,
		       size_t *size_r, struct cs_error *err)
{
	struct cs_cached_rec *rec;
	uint8_t key[9];

	if (!box->index->in_txn)
		return cs_db_fetch(box->index, key,
				   cs_key_bucket(key, box->rec.id, no), data_r,
				   size_r, err);
	rec = cached_bucket(box, no, err);
	if (rec == NULL)
		return -1;
	if (rec->size == 0)
		return 0;
	*data_r = malloc(rec->size);
	if (*data_r == NULL)
		return oom(err);
	memcpy(*data_r, rec->data, rec->size);
	*size_r = rec->size;
	return 1;
}

/* Every message of bucket no, to cb. */
static int bucket_iterate(struct cs_mailbox *box, uint32_t no,
			  cs_message_cb *cb, void *ctx, struct cs_error *err)
{
	struct cs_bucket_iter it;
	struct cs_bucket_entry entry;
	struct cs_message msg;
	uint8_t *data;
	size_t size;
	int ret;

	ret = bucket_copy(box, no, &data, &size, err);
	if (ret <= 0)
		return ret;
	if (cs_bucket_iter_init(data, size, &it) < 0) {
		free(data);
		return damaged(box, "bucket", no, err);
	}
	while ((ret = cs_bucket_iter_next(&it, &entry)) > 0) {
		if (cs_bucket_entry_decode(&it, &entry, &msg) < 0) {
			ret = -2;
			break;
		}
		if ((ret = cb(ctx, &msg, err)) != 0)
			break;
	}
	free(data);
	if (ret == -2 || (ret < 0 && (err == NULL || err->code == CS_OK)))
		return damaged(box, "bucket", no, err);
	return ret;
}

/* The numbers of the buckets of a mailbox (cs_messages_iterate). */
struct bucket_nos {
	uint32_t *nos;
	size_t count, alloc;
};

static int bucket_nos_add(struct bucket_nos *bn, uint32_t no,
			  struct cs_error *err)
{
	if (cs_array_grow(&bn->nos, sizeof(*bn->nos), bn->count, &bn->alloc,
			  256) < 0)
		return oom(err);
	bn->nos[bn->count++] = no;
	return 0;
}

static int bucket_key_cb(void *ctx, const uint8_t *key, size_t key_len,
			 const uint8_t *data, size_t size, struct cs_error *err)
{
	(void)data;
	(void)size;
	if (key_len != 9)
		return 0;
	return bucket_nos_add(ctx, cs_get_be32(key + 5), err);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* The buckets the tdb has and, in a transaction, those cached (new ones
   not written yet), sorted, each once.  The cost follows the records
   there are, not the mailbox record's count (which is the file's, and
   may be anything). */
static int bucket_numbers(struct cs_mailbox *box, struct bucket_nos *bn,
			  struct cs_error *err)
{
	const struct cs_rec_table *t = &box->cache.buckets;
	uint8_t prefix[5];
	size_t i, j;

	prefix[0] = CS_KEY_BUCKET;
	cs_put_be32(prefix + 1, box->rec.id);
	if (cs_db_traverse_prefix(box->index, prefix, sizeof(prefix),
				  bucket_key_cb, bn, err) < 0)
		return -1;
	for (i = 0; box->index->in_txn && i < t->cap; i++) {
		if (t->slots[i] != NULL && t->slots[i]->size > 0 &&
		    bucket_nos_add(bn, t->slots[i]->no, err) < 0)
			return -1;
	}
	if (bn->count > 1)
		qsort(bn->nos, bn->count, sizeof(*bn->nos), cmp_u32);
	for (i = j = 0; i < bn->count; i++) {
		if (j == 0 || bn->nos[j - 1] != bn->nos[i])
			bn->nos[j++] = bn->nos[i];
	}
	bn->count = j;
	return 0;
}

/* Outside a transaction the buckets are read under a read lock of the
   whole file: a split committed in the middle would otherwise show a
   message twice, or not at all.  (A tdb opened read-only, on a file
   system nobody can write, takes no locks and needs none.) */
int cs_messages_iterate(struct cs_mailbox *box, cs_message_cb *cb,
			void *ctx, struct cs_error *err)
{
	struct bucket_nos bn = { 0 };
	bool locked = false;
	size_t i;
	int ret;

	if (box->gone)
		return 0;
	if (!box->index->in_txn && box->index->writable) {
		if (tdb_lockall_read(box->index->tdb) != 0)
			return cs_db_error(box->index, "lock", err);
		locked = true;
	}
	ret = bucket_numbers(box, &bn, err);
	for (i = 0; ret == 0 && i < bn.count; i++)
		ret = bucket_iterate(box, bn.nos[i], cb, ctx, err);
	if (locked)
		tdb_unlockall_read(box->index->tdb);
	free(bn.nos);
	return ret;
}
