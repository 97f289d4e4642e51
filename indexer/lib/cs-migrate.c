/*
 * cs-migrate.c - converting an index of layout 1 to layout 2 (see
 * include/cs-record.h), in place and in one transaction, when a writer
 * opens it.
 *
 * Everything a client has been told survives: every message keeps its
 * UID, modseq, previous modseq and flags, and every mailbox its
 * HIGHESTMODSEQ, horizon, counter jumps, tombstones, clock marks and
 * sequence-number maps (those records are the same in both layouts).
 * Only the message records, the UID map and the change-log entries that
 * name a message change form: a message's record moves into its bucket,
 * the UID map and the change log name its base name by hash.  A crash or
 * an error leaves layout 1 as it was (the transaction is not committed),
 * and the next writer tries again.  The records of layout 1 are freed,
 * and a repack then gathers the free space; the file keeps its size, and
 * its free space holds the records that follow.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-bucket.h"
#include "cs-index-private.h"

/* Keys collected from a traversal (changed after it). */
struct keys {
	uint8_t *buf;			/* the keys, one after the other */
	size_t used, alloc;
	size_t *ends;			/* where each ends */
	size_t count, ends_alloc;
};

static int keys_add(void *ctx, const uint8_t *key, size_t key_len,
		    const uint8_t *data, size_t size, struct cs_error *err)
{
	struct keys *k = ctx;

	(void)data;
	(void)size;
	if (cs_array_reserve(&k->buf, 1, k->used, key_len, &k->alloc,
			     4096) < 0 ||
	    cs_array_grow(&k->ends, sizeof(*k->ends), k->count,
			  &k->ends_alloc, 256) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	memcpy(k->buf + k->used, key, key_len);
	k->used += key_len;
	k->ends[k->count++] = k->used;
	return 0;
}

static const uint8_t *keys_get(const struct keys *k, size_t i, size_t *len_r)
{
	size_t start = i == 0 ? 0 : k->ends[i - 1];

	*len_r = k->ends[i] - start;
	return k->buf + start;
}

static void keys_free(struct keys *k)
{
	free(k->buf);
	free(k->ends);
	memset(k, 0, sizeof(*k));
}

static int damaged(struct cs_mailbox *box, const char *what,
		   struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_CORRUPT,
		"%s: converting mailbox %s to layout 2: a %s of layout 1 is "
		"damaged; rebuild the index with 'condstore reindex "
		"--rebuild'", box->index->db_path, box->name, what);
}

/* Called for a record of box with its key and value: 0 or -1. */
typedef int convert_fn(struct cs_mailbox *box, const uint8_t *key,
		       size_t key_len, const uint8_t *data, size_t size,
		       struct cs_error *err);

/* fn for every record of box under tag, the keys collected first (fn
   changes the records). */
static int each_record(struct cs_mailbox *box, uint8_t tag, convert_fn *fn,
		       struct cs_error *err)
{
	struct keys k = { 0 };
	const uint8_t *key;
	uint8_t prefix[5], *data;
	size_t i, key_len, size;
	int ret;

	prefix[0] = tag;
	cs_put_be32(prefix + 1, box->rec.id);
	ret = cs_db_traverse_prefix(box->index, prefix, sizeof(prefix),
				    keys_add, &k, err) < 0 ? -1 : 0;
	for (i = 0; i < k.count && ret >= 0; i++) {
		key = keys_get(&k, i, &key_len);
		ret = cs_db_fetch(box->index, key, key_len, &data, &size, err);
		if (ret > 0) {
			ret = fn(box, key, key_len, data, size, err);
			free(data);
		}
	}
	keys_free(&k);
	return ret < 0 ? -1 : 0;
}

/* An "m" record of layout 1 into its bucket, its UID into the map (the
   record is deleted after, with the others). */
static int convert_message(struct cs_mailbox *box, const uint8_t *key,
			   size_t key_len, const uint8_t *data, size_t size,
			   struct cs_error *err)
{
	struct cs_message msg;
	size_t base_len = key_len - 5;

	memset(&msg, 0, sizeof(msg));
	if (key_len <= 5 || base_len > CS_NAME_MAX ||
	    cs_msg_rec_decode(data, size, &msg.rec, msg.suffix) < 0)
		return damaged(box, "message record", err);
	memcpy(msg.base, key + 5, base_len);
	msg.base[base_len] = '\0';
	(void)key_len;
	if (cs_msg_put(box, &msg, err) < 0 ||
	    (msg.rec.uid != 0 &&
	     cs_uidmap_set(box, msg.rec.uid,
			   cs_bucket_hash(msg.base, base_len), err) < 0))
		return -1;
	return 0;
}

/* The new form of a change-log value of layout 1 into out (room for a
   full run): its size, 0 to leave it as it is (an expunge), -1
   damaged. */
static int change_form(const uint8_t *data, size_t size, uint8_t *out)
{
	struct cs_change_run_iter it;
	const char *base;
	size_t len, n;
	int count;

	if (size > 1 && data[0] == CS_CHANGE_MESSAGE_V1) {
		out[0] = CS_CHANGE_MESSAGE;
		cs_put_le32(out + 1, cs_bucket_hash((const char *)data + 1,
						    size - 1));
		return 5;
	}
	if (size > 0 && data[0] == CS_CHANGE_RUN_V1) {
		count = cs_change_run_v1_init(data, size, &it);
		if (count < 0)
			return -1;
		out[0] = CS_CHANGE_RUN;
		out[1] = data[1];
		out[2] = data[2];
		for (n = 3; cs_change_run_v1_next(&it, &base, &len) > 0; n += 4)
			cs_put_le32(out + n, cs_bucket_hash(base, len));
		return (int)n;
	}
	return size > 0 && data[0] == CS_CHANGE_EXPUNGE ? 0 : -1;
}

static int convert_change(struct cs_mailbox *box, const uint8_t *key,
			  size_t key_len, const uint8_t *data, size_t size,
			  struct cs_error *err)
{
	uint8_t out[3 + CS_CHANGE_RUN_MAX * 4];
	int n = change_form(data, size, out);

	if (n < 0)
		return damaged(box, "change-log entry", err);
	return n == 0 ? 0 : cs_db_store(box->index, key, key_len, out,
					(size_t)n, err);
}

/* Delete every record of box under tag. */
static int drop(struct cs_mailbox *box, uint8_t tag, struct cs_error *err)
{
	uint8_t prefix[5];

	prefix[0] = tag;
	cs_put_be32(prefix + 1, box->rec.id);
	return cs_db_delete_prefix(box->index, prefix, sizeof(prefix), err);
}

/* The buckets and the UID map are written before the records of layout
   1 are freed: a new record is then carved from the end of the file, not
   searched for among tens of thousands of free records too small for it
   (tdb walks its whole free list when none fits). */
static int convert_mailbox(struct cs_index *index, const char *name,
			   struct cs_error *err)
{
	struct cs_mailbox *box;
	int ret;

	ret = cs_mailbox_open(index, name, false, 0, 0, &box, err);
	if (ret <= 0)
		return ret;
	box->rec.version = CS_RECORD_VERSION;
	box->rec.nbuckets = 1;
	box->dirty = true;
	ret = each_record(box, CS_KEY_MESSAGE_V1, convert_message, err) < 0 ||
		cs_msg_cache_flush(box, err) < 0 ||
		drop(box, CS_KEY_MESSAGE_V1, err) < 0 ||
		drop(box, CS_KEY_UID_V1, err) < 0 ||
		each_record(box, CS_KEY_CHANGE, convert_change, err) < 0 ?
		-1 : 0;
	/* the handle stays open until the commit has written the rest */
	if (ret < 0)
		cs_mailbox_close(&box);
	return ret < 0 ? -1 : 0;
}

/* Close the handles convert_mailbox left open. */
static void close_all(struct cs_index *index)
{
	while (index->boxes != NULL) {
		struct cs_mailbox *box = index->boxes;

		cs_mailbox_close(&box);
	}
}

int cs_index_convert(struct cs_index *index, struct cs_error *err)
{
	char **names = NULL;
	size_t i, count = 0;
	int ret = 0;

	index->converting = true;
	if (cs_index_begin(index, err) < 0) {
		index->converting = false;
		return -1;
	}
	if (index->hdr.version == CS_RECORD_VERSION) {
		/* another writer converted it meanwhile */
		cs_index_rollback(index);
		index->converting = false;
		return 0;
	}
	if (cs_mailbox_names(index, &names, &count, err) < 0)
		ret = -1;
	for (i = 0; ret == 0 && i < count; i++)
		ret = convert_mailbox(index, names[i], err);
	if (names != NULL)
		cs_mailbox_names_free(&names);
	if (ret == 0) {
		index->hdr.version = CS_RECORD_VERSION;
		index->hdr_dirty = true;
		ret = cs_index_commit(index, err);
		index->converted = ret == 0;
	} else {
		cs_index_rollback(index);
	}
	close_all(index);
	index->converting = false;
	/* the freed records of layout 1 lie between the change log's, tens
	   of thousands of small free records that every later allocation
	   would walk: one repack (a transaction of its own) leaves the free
	   space in one piece */
	if (ret == 0 && tdb_repack(index->tdb) != 0)
		ret = cs_db_error(index, "repack after the conversion", err);
	return ret;
}
