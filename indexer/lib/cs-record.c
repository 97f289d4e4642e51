/*
 * cs-record.c - encoding and decoding the tdb records of cs-record.h.
 *
 * The layout is defined byte by byte in cs-record.h; these functions are
 * the only code that knows the offsets, and tests/unit/test-record.c pins
 * them down.
 */
#include "config.h"

#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "cs-codec.h"

void cs_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void cs_put_le64(uint8_t *p, uint64_t v)
{
	cs_put_le32(p, (uint32_t)v);
	cs_put_le32(p + 4, (uint32_t)(v >> 32));
}

uint32_t cs_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) |
	       ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t cs_get_le64(const uint8_t *p)
{
	return (uint64_t)cs_get_le32(p) | ((uint64_t)cs_get_le32(p + 4) << 32);
}

void cs_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void cs_put_be64(uint8_t *p, uint64_t v)
{
	cs_put_be32(p, (uint32_t)(v >> 32));
	cs_put_be32(p + 4, (uint32_t)v);
}

uint32_t cs_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

uint64_t cs_get_be64(const uint8_t *p)
{
	return ((uint64_t)cs_get_be32(p) << 32) | (uint64_t)cs_get_be32(p + 4);
}

void cs_header_rec_encode(const struct cs_header_rec *rec, uint8_t *buf)
{
	memset(buf, 0, CS_HEADER_REC_SIZE);
	buf[0] = rec->version;
	buf[1] = rec->separator;
	cs_put_le32(buf + 4, rec->next_mailbox_id);
	cs_put_le64(buf + 8, rec->ceiling);
	cs_put_le64(buf + 16, rec->created);
}

int cs_header_rec_decode(const uint8_t *buf, size_t size,
			 struct cs_header_rec *rec_r)
{
	if (size != CS_HEADER_REC_SIZE || (buf[0] != CS_RECORD_VERSION &&
					    buf[0] != CS_RECORD_VERSION_V1))
		return -1;
	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->version = buf[0];
	rec_r->separator = buf[1];
	rec_r->next_mailbox_id = cs_get_le32(buf + 4);
	rec_r->ceiling = cs_get_le64(buf + 8);
	rec_r->created = cs_get_le64(buf + 16);
	return 0;
}

void cs_mailbox_rec_encode(const struct cs_mailbox_rec *rec, uint8_t *buf)
{
	memset(buf, 0, CS_MAILBOX_REC_SIZE);
	buf[0] = rec->version;
	buf[1] = rec->uid_source;
	cs_put_le32(buf + 4, rec->id);
	cs_put_le32(buf + 8, rec->uidvalidity);
	cs_put_le32(buf + 12, rec->uidnext);
	cs_put_le64(buf + 16, rec->highestmodseq);
	cs_put_le64(buf + 24, rec->horizon);
	cs_put_le32(buf + 32, rec->messages);
	cs_put_le32(buf + 36, rec->flags);
	cs_put_le64(buf + 40, rec->uid_sum);
	cs_put_le64(buf + 48, rec->digest);
	cs_put_le32(buf + 56, rec->nbuckets);
}

int cs_mailbox_rec_decode(const uint8_t *buf, size_t size,
			  struct cs_mailbox_rec *rec_r)
{
	bool v1 = size > 0 && buf[0] == CS_RECORD_VERSION_V1;

	if (v1 ? size != CS_MAILBOX_REC_SIZE_V1_DIGEST &&
	    size != CS_MAILBOX_REC_SIZE_V1 :
	    size != CS_MAILBOX_REC_SIZE || buf[0] != CS_RECORD_VERSION)
		return -1;
	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->version = buf[0];
	rec_r->uid_source = buf[1];
	rec_r->id = cs_get_le32(buf + 4);
	rec_r->uidvalidity = cs_get_le32(buf + 8);
	rec_r->uidnext = cs_get_le32(buf + 12);
	rec_r->highestmodseq = cs_get_le64(buf + 16);
	rec_r->horizon = cs_get_le64(buf + 24);
	rec_r->messages = cs_get_le32(buf + 32);
	rec_r->uid_sum = cs_get_le64(buf + 40);
	if (size >= CS_MAILBOX_REC_SIZE_V1_DIGEST) {
		rec_r->flags = cs_get_le32(buf + 36);
		rec_r->digest = cs_get_le64(buf + 48);
	}
	if (!v1)
		rec_r->nbuckets = cs_get_le32(buf + 56);
	return rec_r->uid_source <= 1 ? 0 : -1;
}

static uint64_t rotl64(uint64_t v, unsigned int r)
{
	return (v << r) | (v >> (64 - r));
}

/* Eight bytes as a little-endian number, in one load where the CPU is
   little-endian (a scan hashes every name it reads). */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* The finaliser of MurmurHash3 (every input bit flips every output bit
   with probability about 1/2). */
static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

uint64_t cs_digest_term(uint8_t location, const char *name, size_t len)
{
	const uint64_t k1 = UINT64_C(0x87c37b91114253d5);
	const uint64_t k2 = UINT64_C(0x4cf5ad432745937f);
	uint64_t h = mix64((uint64_t)location ^ (len * k2));
	const uint8_t *p = (const uint8_t *)name;
	uint64_t w;
	size_t i, j;

	/* eight bytes (little-endian) at a time: a scan hashes every name
	   it reads */
	for (i = 0; i + 8 <= len; i += 8) {
		w = load_le64(p + i);
		h ^= rotl64(w * k1, 31) * k2;
		h = rotl64(h, 27) * 5 + UINT64_C(0x52dce729);
	}
	if (i < len) {
		for (w = 0, j = len; j > i; j--)
			w = w << 8 | p[j - 1];
		h ^= rotl64(w * k1, 31) * k2;
	}
	return mix64(h);
}

uint64_t cs_uid_term(uint64_t base_hash, uint32_t uid)
{
	if (uid == 0)
		return 0;
	return mix64(base_hash ^ mix64((uint64_t)uid *
				       UINT64_C(0x9e3779b97f4a7c15)));
}

void cs_msg_rec_encode(const struct cs_msg_rec *rec, const char *suffix,
		       uint8_t *buf)
{
	buf[0] = rec->version;
	buf[1] = rec->location;
	buf[2] = (uint8_t)rec->suffix_len;
	buf[3] = (uint8_t)(rec->suffix_len >> 8);
	cs_put_le32(buf + 4, rec->uid);
	cs_put_le64(buf + 8, rec->modseq);
	cs_put_le64(buf + 16, rec->flags);
	cs_put_le64(buf + 24, rec->prev_modseq);
	cs_put_le64(buf + 32, rec->prev_flags);
	memcpy(buf + CS_MSG_REC_FIXED_SIZE, suffix, rec->suffix_len);
}

int cs_msg_rec_decode(const uint8_t *buf, size_t size,
		      struct cs_msg_rec *rec_r, char *suffix_r)
{
	if (size < CS_MSG_REC_FIXED_SIZE || buf[0] != CS_RECORD_VERSION_V1)
		return -1;
	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->version = buf[0];
	rec_r->location = buf[1];
	rec_r->suffix_len = (uint16_t)(buf[2] | (buf[3] << 8));
	rec_r->uid = cs_get_le32(buf + 4);
	rec_r->modseq = cs_get_le64(buf + 8);
	rec_r->flags = cs_get_le64(buf + 16);
	rec_r->prev_modseq = cs_get_le64(buf + 24);
	rec_r->prev_flags = cs_get_le64(buf + 32);
	if (rec_r->location > CS_LOC_CUR ||
	    rec_r->suffix_len > CS_SUFFIX_MAX ||
	    size != CS_MSG_REC_FIXED_SIZE + (size_t)rec_r->suffix_len)
		return -1;
	memcpy(suffix_r, buf + CS_MSG_REC_FIXED_SIZE, rec_r->suffix_len);
	suffix_r[rec_r->suffix_len] = '\0';
	return 0;
}

void cs_daemon_rec_encode(const struct cs_daemon_rec *rec, uint8_t *buf)
{
	memset(buf, 0, CS_DAEMON_REC_SIZE);
	buf[0] = rec->version;
	cs_put_le32(buf + 4, rec->pid);
	cs_put_le64(buf + 8, rec->start_time);
	cs_put_le64(buf + 16, rec->since);
}

int cs_daemon_rec_decode(const uint8_t *buf, size_t size,
			 struct cs_daemon_rec *rec_r)
{
	/* the same in both layouts */
	if (size != CS_DAEMON_REC_SIZE || (buf[0] != CS_RECORD_VERSION &&
					   buf[0] != CS_RECORD_VERSION_V1))
		return -1;
	memset(rec_r, 0, sizeof(*rec_r));
	rec_r->version = buf[0];
	rec_r->pid = cs_get_le32(buf + 4);
	rec_r->start_time = cs_get_le64(buf + 8);
	rec_r->since = cs_get_le64(buf + 16);
	return 0;
}

int cs_change_run_init(const uint8_t *value, size_t size,
		       struct cs_change_run_iter *iter_r)
{
	unsigned int count;

	if (size < 3 || value[0] != CS_CHANGE_RUN)
		return -1;
	count = (unsigned int)value[1] | ((unsigned int)value[2] << 8);
	if (count < 2 || count > CS_CHANGE_RUN_MAX || size != 3 + 4 * count)
		return -1;
	iter_r->p = value + 3;
	iter_r->end = value + size;
	iter_r->left = count;
	return (int)count;
}

int cs_change_run_next(struct cs_change_run_iter *iter, uint32_t *hash_r)
{
	if (iter->left == 0)
		return 0;
	iter->left--;
	*hash_r = cs_get_le32(iter->p);
	iter->p += 4;
	return 1;
}

int cs_change_run_v1_init(const uint8_t *value, size_t size,
			  struct cs_change_run_iter *iter_r)
{
	struct cs_change_run_iter it;
	unsigned int count, i;
	size_t len;

	if (size < 3 || value[0] != CS_CHANGE_RUN_V1)
		return -1;
	count = (unsigned int)value[1] | ((unsigned int)value[2] << 8);
	if (count < 2 || count > CS_CHANGE_RUN_MAX)
		return -1;
	it.p = value + 3;
	it.end = value + size;
	it.left = count;
	*iter_r = it;
	/* every entry within the value, and nothing after the last */
	for (i = 0; i < count; i++) {
		if (it.p >= it.end)
			return -1;
		len = it.p[0];
		if (len == 0 || len > (size_t)(it.end - it.p - 1))
			return -1;
		it.p += 1 + len;
	}
	return it.p == it.end ? (int)count : -1;
}

int cs_change_run_v1_next(struct cs_change_run_iter *iter,
			  const char **base_r, size_t *len_r)
{
	if (iter->left == 0)
		return 0;
	iter->left--;
	*len_r = iter->p[0];
	*base_r = (const char *)iter->p + 1;
	iter->p += 1 + *len_r;
	return 1;
}
