/*
 * cs-bucket.c - the byte format of buckets of messages and chunks of the
 * UID map (layout 2, include/cs-record.h), and the placement of a name
 * in a bucket.  Every input is a record read from the index file and is
 * treated as hostile: each length is checked against the record's end
 * before it is used.
 */
#include "config.h"

#include <string.h>

#include "cs-bucket.h"
#include "cs-codec.h"
#include "cs-hash.h"

uint32_t cs_bucket_hash(const char *base, size_t len)
{
	uint64_t h = cs_name_hash(base, len);

	return (uint32_t)(h ^ (h >> 32));
}

uint32_t cs_bucket_of(uint32_t hash, uint32_t nbuckets, uint8_t *level_r)
{
	uint8_t level = 0;
	uint32_t b;

	if (nbuckets <= 1) {
		*level_r = 0;
		return 0;
	}
	while (level < 31 && (UINT32_C(1) << (level + 1)) <= nbuckets)
		level++;
	/* nbuckets is in [2^level, 2^(level+1)): the first nbuckets -
	   2^level buckets have been split already */
	b = hash & ((UINT32_C(1) << level) - 1);
	if (level < 31 && b < nbuckets - (UINT32_C(1) << level)) {
		level++;
		b = hash & ((UINT32_C(1) << level) - 1);
	}
	*level_r = level;
	return b;
}

/* --- varints (LEB128) --- */

static size_t varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Returns the bytes read, 0 when the varint runs past end or is too
   long. */
static size_t varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v_r)
{
	uint64_t v = 0;
	size_t n = 0;
	unsigned int shift = 0;

	while (p + n < end && shift < 64) {
		uint8_t b = p[n++];

		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v_r = v;
			return n;
		}
		shift += 7;
	}
	return 0;
}

/* --- buckets --- */

#define ENTRY_FIXED 8
#define INFO_CUR 0x1

void cs_bucket_hdr_encode(const struct cs_bucket_hdr *hdr, uint8_t *buf)
{
	buf[0] = CS_RECORD_VERSION;
	buf[1] = hdr->level;
	buf[2] = 0;
	buf[3] = 0;
	cs_put_le32(buf + 4, hdr->count);
	cs_put_le64(buf + 8, hdr->base);
}

int cs_bucket_iter_init(const uint8_t *data, size_t size,
			struct cs_bucket_iter *it_r)
{
	memset(it_r, 0, sizeof(*it_r));
	if (size < CS_BUCKET_HDR_SIZE || data[0] != CS_RECORD_VERSION ||
	    data[1] > 31 || data[2] != 0 || data[3] != 0)
		return -1;
	it_r->data = data;
	it_r->size = size;
	it_r->off = CS_BUCKET_HDR_SIZE;
	it_r->hdr.level = data[1];
	it_r->hdr.count = cs_get_le32(data + 4);
	it_r->hdr.base = cs_get_le64(data + 8);
	it_r->left = it_r->hdr.count;
	return 0;
}

int cs_bucket_iter_next(struct cs_bucket_iter *it,
			struct cs_bucket_entry *entry_r)
{
	const uint8_t *p = it->data + it->off;
	size_t room = it->size - it->off, len;

	if (it->left == 0)
		return room == 0 ? 0 : -1;
	if (room < ENTRY_FIXED)
		return -1;
	len = ENTRY_FIXED + (size_t)p[4] + p[5] + p[6];
	if (len > room || p[5] == 0)
		return -1;
	entry_r->off = it->off;
	entry_r->len = len;
	entry_r->hash = cs_get_le32(p);
	entry_r->base = (const char *)p + ENTRY_FIXED + p[4];
	entry_r->base_len = p[5];
	it->off += len;
	it->left--;
	return 1;
}

int cs_bucket_entry_decode(const struct cs_bucket_iter *it,
			   const struct cs_bucket_entry *entry,
			   struct cs_message *msg_r)
{
	const uint8_t *p = it->data + entry->off;
	const uint8_t *v = p + ENTRY_FIXED, *vend = v + p[4];
	uint64_t vals[5];
	size_t i, n;

	for (i = 0; i < 5; i++) {
		n = varint_get(v, vend, &vals[i]);
		if (n == 0)
			return -1;
		v += n;
	}
	if (v != vend || vals[0] > UINT32_MAX ||
	    vals[1] > UINT64_MAX - it->hdr.base ||
	    (vals[2] != 0 && vals[2] - 1 > UINT64_MAX - it->hdr.base) ||
	    (p[7] & ~INFO_CUR) != 0)
		return -1;
	memset(&msg_r->rec, 0, sizeof(msg_r->rec));
	msg_r->rec.version = CS_RECORD_VERSION;
	msg_r->rec.location = (p[7] & INFO_CUR) != 0 ? CS_LOC_CUR : CS_LOC_NEW;
	msg_r->rec.uid = (uint32_t)vals[0];
	msg_r->rec.modseq = it->hdr.base + vals[1];
	msg_r->rec.prev_modseq = vals[2] == 0 ? 0 : it->hdr.base + vals[2] - 1;
	msg_r->rec.flags = vals[3];
	msg_r->rec.prev_flags = vals[4];
	msg_r->rec.suffix_len = p[6];
	memcpy(msg_r->base, entry->base, entry->base_len);
	msg_r->base[entry->base_len] = '\0';
	memcpy(msg_r->suffix, entry->base + entry->base_len, p[6]);
	msg_r->suffix[p[6]] = '\0';
	return 0;
}

size_t cs_bucket_entry_encode(const struct cs_message *msg, uint32_t hash,
			      uint64_t base, uint8_t *buf)
{
	const struct cs_msg_rec *rec = &msg->rec;
	size_t base_len = strlen(msg->base), n = ENTRY_FIXED;

	if (rec->modseq < base ||
	    (rec->prev_modseq != 0 && rec->prev_modseq < base) ||
	    base_len == 0 || base_len > CS_NAME_MAX ||
	    rec->suffix_len > CS_SUFFIX_MAX)
		return 0;
	cs_put_le32(buf, hash);
	n += varint_put(buf + n, rec->uid);
	n += varint_put(buf + n, rec->modseq - base);
	n += varint_put(buf + n, rec->prev_modseq == 0 ? 0 :
			rec->prev_modseq - base + 1);
	n += varint_put(buf + n, rec->flags);
	n += varint_put(buf + n, rec->prev_flags);
	buf[4] = (uint8_t)(n - ENTRY_FIXED);
	buf[5] = (uint8_t)base_len;
	buf[6] = (uint8_t)rec->suffix_len;
	buf[7] = rec->location == CS_LOC_CUR ? INFO_CUR : 0;
	memcpy(buf + n, msg->base, base_len);
	n += base_len;
	memcpy(buf + n, msg->suffix, rec->suffix_len);
	return n + rec->suffix_len;
}

static bool entry_matches(const struct cs_bucket_iter *it,
			  const struct cs_bucket_entry *e,
			  const struct cs_bucket_query *q,
			  struct cs_message *msg, int *ret_r)
{
	*ret_r = 0;
	if (e->hash != q->hash)
		return false;
	if (q->by == CS_BUCKET_BY_NAME)
		return e->base_len == q->base_len &&
			memcmp(e->base, q->base, q->base_len) == 0;
	if (cs_bucket_entry_decode(it, e, msg) < 0) {
		*ret_r = -1;
		return true;
	}
	return q->by == CS_BUCKET_BY_UID ? msg->rec.uid == q->uid :
		msg->rec.modseq == q->modseq;
}

int cs_bucket_find(const uint8_t *data, size_t size,
		   const struct cs_bucket_query *q,
		   struct cs_bucket_entry *entry_r, struct cs_message *msg_r)
{
	struct cs_bucket_iter it;
	struct cs_message scratch, *msg = msg_r != NULL ? msg_r : &scratch;
	int ret, bad;

	if (cs_bucket_iter_init(data, size, &it) < 0)
		return -1;
	while ((ret = cs_bucket_iter_next(&it, entry_r)) > 0) {
		if (!entry_matches(&it, entry_r, q, msg, &bad))
			continue;
		if (bad < 0)
			return -1;
		if (msg_r != NULL && q->by == CS_BUCKET_BY_NAME &&
		    cs_bucket_entry_decode(&it, entry_r, msg_r) < 0)
			return -1;
		return 1;
	}
	return ret;
}

/* --- UID map chunks --- */

int cs_uidchunk_find(const uint8_t *data, size_t size, uint32_t uid,
		     uint32_t *hash_r, size_t *pos_r)
{
	uint8_t want = (uint8_t)(uid % CS_UIDCHUNK_UIDS);
	size_t lo = 0, hi, mid;

	if (size < 1 || data[0] != CS_RECORD_VERSION ||
	    (size - 1) % CS_UIDCHUNK_ENTRY != 0)
		return -1;
	hi = (size - 1) / CS_UIDCHUNK_ENTRY;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (data[1 + mid * CS_UIDCHUNK_ENTRY] < want)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos_r != NULL)
		*pos_r = 1 + lo * CS_UIDCHUNK_ENTRY;
	if (lo * CS_UIDCHUNK_ENTRY + 1 < size &&
	    data[1 + lo * CS_UIDCHUNK_ENTRY] == want) {
		*hash_r = cs_get_le32(data + 2 + lo * CS_UIDCHUNK_ENTRY);
		return 1;
	}
	return 0;
}
