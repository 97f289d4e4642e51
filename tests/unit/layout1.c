/*
 * layout1.c - writing an index of layout 1 for the tests of its
 * conversion (layout1.h).  The records are made by hand, as the library
 * of layout 1 wrote them: the codec of layout 1 that the library keeps
 * for the conversion (cs_msg_rec_encode), tdb itself for the rest.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs-hash.h"
#include "cs-index-private.h"
#include "layout1.h"

struct v1 {
	struct tdb_context *tdb;
	unsigned int messages;
	uint64_t digest, uid_sum;
	bool failed;
};

void layout1_name(unsigned int i, char *buf, size_t size)
{
	snprintf(buf, size, "%u.M%uP7.host", 1700000000 + i, i);
}

bool layout1_changed(unsigned int i)
{
	return i >= LAYOUT1_RUN && i % 3 == 0;
}

uint64_t layout1_modseq(unsigned int i)
{
	return LAYOUT1_SEED + 1 + i + (layout1_changed(i) ? LAYOUT1_CHANGED : 0);
}

uint32_t layout1_tomb_uid(unsigned int n)
{
	return n + 300;
}

static void store(struct v1 *v, const uint8_t *key, size_t key_len,
		  const void *data, size_t size)
{
	TDB_DATA k = { (uint8_t *)key, key_len };
	TDB_DATA d = { (uint8_t *)data, size };

	if (tdb_store(v->tdb, k, d, TDB_REPLACE) != 0)
		v->failed = true;
}

static void touch(struct v1 *v, const char *root, const char *file)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/cur/%s", root, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "Subject: x\n\nx\n", 14) != 14)
		v->failed = true;
	if (fd >= 0)
		close(fd);
}

static void message(struct v1 *v, const char *root, unsigned int i)
{
	struct cs_msg_rec rec = { .version = CS_RECORD_VERSION_V1,
				  .location = CS_LOC_CUR, .suffix_len = 4,
				  .uid = i + 1, .modseq = layout1_modseq(i),
				  .flags = CS_FLAG_SEEN };
	uint8_t key[CS_KEY_MAX], buf[CS_MSG_REC_FIXED_SIZE + 4];
	uint8_t entry[1 + CS_NAME_MAX];
	char base[64], file[80];
	size_t len;

	layout1_name(i, base, sizeof(base));
	len = strlen(base);
	if (layout1_changed(i)) {
		rec.prev_modseq = LAYOUT1_SEED + 1 + i;
		rec.prev_flags = 0;
	}
	cs_msg_rec_encode(&rec, ":2,S", buf);
	store(v, key, cs_key_msg_v1(key, 1, base, len), buf, sizeof(buf));
	store(v, key, cs_key_uid_v1(key, 1, rec.uid), base, len);
	if (i >= LAYOUT1_RUN) {
		entry[0] = CS_CHANGE_MESSAGE_V1;
		memcpy(entry + 1, base, len);
		store(v, key, cs_key_change(key, 1, rec.modseq), entry,
		      1 + len);
	}
	snprintf(file, sizeof(file), "%s:2,S", base);
	if (root != NULL)
		touch(v, root, file);
	v->digest += cs_digest_term(CS_LOC_CUR, file, strlen(file));
	v->uid_sum += cs_uid_term(cs_name_hash(base, len), rec.uid);
}

/* A run of the entries of messages first .. first+count-1 (their first
   modseqs; those that changed since are stale in it). */
static void run(struct v1 *v, unsigned int first, unsigned int count)
{
	uint8_t key[CS_KEY_MAX], *value, *p;
	char base[64];
	unsigned int i;

	value = malloc(3 + count * 64);
	if (value == NULL) {
		v->failed = true;
		return;
	}
	value[0] = CS_CHANGE_RUN_V1;
	value[1] = (uint8_t)count;
	value[2] = (uint8_t)(count >> 8);
	p = value + 3;
	for (i = first; i < first + count; i++) {
		layout1_name(i, base, sizeof(base));
		*p++ = (uint8_t)strlen(base);
		memcpy(p, base, strlen(base));
		p += strlen(base);
	}
	store(v, key, cs_key_change(key, 1, LAYOUT1_SEED + first + count),
	      value, (size_t)(p - value));
	free(value);
}

/* The rank records of UIDs 1 .. v->messages, the tombstone above them
   and the jump of the mailbox's seed. */
static void rest(struct v1 *v)
{
	uint8_t key[CS_KEY_MAX], bits[512], *counts, val[16], entry[5];
	unsigned int uid, chunk, nchunks = v->messages / 4096 + 1, count;

	counts = calloc(nchunks, 2);
	if (counts == NULL) {
		v->failed = true;
		return;
	}
	for (chunk = 0; chunk < nchunks; chunk++) {
		memset(bits, 0, sizeof(bits));
		count = 0;
		for (uid = chunk * 4096; uid < (chunk + 1) * 4096; uid++) {
			if (uid == 0 || uid > v->messages)
				continue;
			bits[uid % 4096 / 8] |= (uint8_t)(1u << (uid % 8));
			count++;
		}
		counts[chunk * 2] = (uint8_t)count;
		counts[chunk * 2 + 1] = (uint8_t)(count >> 8);
		key[0] = CS_KEY_RANK_MAP;
		cs_put_be32(key + 1, 1);
		cs_put_be32(key + 5, chunk);
		store(v, key, 9, bits, sizeof(bits));
	}
	key[0] = CS_KEY_RANK_SUM;
	store(v, key, 5, counts, nchunks * 2);
	free(counts);
	cs_put_le64(val, LAYOUT1_TOP);
	store(v, key, cs_key_tomb(key, 1, layout1_tomb_uid(v->messages)), val,
	      8);
	entry[0] = CS_CHANGE_EXPUNGE;
	cs_put_le32(entry + 1, layout1_tomb_uid(v->messages));
	store(v, key, cs_key_change(key, 1, LAYOUT1_TOP), entry, 5);
	cs_put_le64(val, LAYOUT1_SEED);
	cs_put_le64(val + 8, 0);
	store(v, key, cs_key_jump(key, 1), val, 16);
}

int layout1_write(const char *root, const char *db, unsigned int n,
		  bool files)
{
	struct cs_header_rec hdr = { .version = CS_RECORD_VERSION_V1,
				     .separator = ':', .next_mailbox_id = 2,
				     .ceiling = LAYOUT1_TOP + 100000 };
	struct cs_mailbox_rec rec = { .version = CS_RECORD_VERSION_V1,
				      .uid_source = CS_UIDSRC_OWN, .id = 1,
				      .uidvalidity = 1700000000,
				      .uidnext = layout1_tomb_uid(n) + 1,
				      .highestmodseq = LAYOUT1_TOP,
				      .horizon = LAYOUT1_SEED, .messages = n,
				      .flags = CS_MAILBOX_F_DIGEST };
	struct v1 v = { .messages = n };
	uint8_t key[CS_KEY_MAX], buf[CS_MAILBOX_REC_SIZE];
	unsigned int i;

	if (n >= LAYOUT1_CHANGED || n < LAYOUT1_RUN) {
		errno = EINVAL;
		return -1;
	}
	v.tdb = tdb_open(db, 1031, TDB_INCOMPATIBLE_HASH,
			 O_RDWR | O_CREAT | O_EXCL, 0600);
	if (v.tdb == NULL)
		return -1;
	cs_header_rec_encode(&hdr, buf);
	key[0] = CS_KEY_HEADER;
	store(&v, key, 1, buf, CS_HEADER_REC_SIZE);
	key[0] = CS_KEY_MAILBOX_LIST;
	store(&v, key, 1, "INBOX", 6);
	for (i = 0; i < n; i++)
		message(&v, files ? root : NULL, i);
	/* LAYOUT1_RUN (400): a run of CS_CHANGE_RUN_MAX (256), then 144 */
	run(&v, 0, CS_CHANGE_RUN_MAX);
	run(&v, CS_CHANGE_RUN_MAX, LAYOUT1_RUN - CS_CHANGE_RUN_MAX);
	rest(&v);
	rec.digest = v.digest;
	rec.uid_sum = v.uid_sum;
	cs_mailbox_rec_encode(&rec, buf);
	store(&v, key, cs_key_mailbox(key, "INBOX"), buf,
	      CS_MAILBOX_REC_SIZE_V1_DIGEST);
	if (tdb_close(v.tdb) != 0)
		v.failed = true;
	if (v.failed) {
		errno = EIO;
		return -1;
	}
	return 0;
}
