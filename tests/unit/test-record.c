/*
 * test-record.c - pins down the on-disk layout of cs-record.h: every
 * field at its documented offset, little-endian, and decoders that refuse
 * wrong sizes and versions.
 */
#include "config.h"

#include <string.h>

#include "cs-bucket.h"
#include "cs-codec.h"
#include "unit.h"

/* cs_digest_term(CS_LOC_CUR, "1700000000.M1P2.host,S=123:2,FS", 31) */
#define DIGEST_TERM_PINNED UINT64_C(0xa5089f037a9dfd6d)
/* cs_uid_term(0x0123456789abcdef, 7) */
#define UID_TERM_PINNED UINT64_C(0x60415dadc0e98bf5)

static void test_endian_helpers(void)
{
	uint8_t b[8];

	cs_put_le32(b, 0x11223344);
	CU_ASSERT(b[0] == 0x44 && b[1] == 0x33 && b[2] == 0x22 && b[3] == 0x11);
	CU_ASSERT_EQUAL(cs_get_le32(b), 0x11223344);
	cs_put_be32(b, 0x11223344);
	CU_ASSERT(b[0] == 0x11 && b[3] == 0x44);
	CU_ASSERT_EQUAL(cs_get_be32(b), 0x11223344);
	cs_put_le64(b, UINT64_C(0x0102030405060708));
	CU_ASSERT(b[0] == 0x08 && b[7] == 0x01);
	CU_ASSERT_EQUAL(cs_get_le64(b), UINT64_C(0x0102030405060708));
	cs_put_be64(b, UINT64_C(0x0102030405060708));
	CU_ASSERT(b[0] == 0x01 && b[7] == 0x08);
	CU_ASSERT_EQUAL(cs_get_be64(b), UINT64_C(0x0102030405060708));
}

static void test_mailbox_layout(void)
{
	struct cs_mailbox_rec rec = {
		.version = CS_RECORD_VERSION, .uid_source = CS_UIDSRC_DOVECOT,
		.id = 7, .uidvalidity = 1700000000, .uidnext = 42,
		.highestmodseq = UINT64_C(0x1122334455667788),
		.horizon = 99, .messages = 41, .flags = CS_MAILBOX_F_DIGEST,
		.uid_sum = 12345, .digest = UINT64_C(0xa1b2c3d4e5f60718),
		.nbuckets = 77,
	}, back;
	uint8_t buf[CS_MAILBOX_REC_SIZE];

	cs_mailbox_rec_encode(&rec, buf);
	CU_ASSERT_EQUAL(buf[0], CS_RECORD_VERSION);
	CU_ASSERT_EQUAL(buf[1], CS_UIDSRC_DOVECOT);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 4), 7);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 8), 1700000000);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 12), 42);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 16), UINT64_C(0x1122334455667788));
	CU_ASSERT_EQUAL(cs_get_le64(buf + 24), 99);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 32), 41);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 36), CS_MAILBOX_F_DIGEST);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 40), 12345);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 48), UINT64_C(0xa1b2c3d4e5f60718));
	CU_ASSERT_EQUAL(cs_get_le32(buf + 56), 77);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 60), 0);
	CU_ASSERT_EQUAL(CS_MAILBOX_REC_SIZE, 64);
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf), &back), 0);
	CU_ASSERT(memcmp(&rec, &back, sizeof(rec)) == 0);
	/* layout 2 has one size */
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, CS_MAILBOX_REC_SIZE_V1,
					      &back), -1);
	/* records of layout 1 (56 bytes; 48: digest unknown), for the
	   conversion: no buckets */
	buf[0] = CS_RECORD_VERSION_V1;
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf,
					      CS_MAILBOX_REC_SIZE_V1_DIGEST,
					      &back), 0);
	CU_ASSERT_EQUAL(back.digest, rec.digest);
	CU_ASSERT_EQUAL(back.nbuckets, 0);
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, CS_MAILBOX_REC_SIZE_V1,
					      &back), 0);
	CU_ASSERT_EQUAL(back.flags, 0);
	CU_ASSERT_EQUAL(back.digest, 0);
	CU_ASSERT_EQUAL(back.messages, 41);
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf), &back), -1);
	buf[0] = CS_RECORD_VERSION;
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf) - 1, &back), -1);
	buf[0] = 99;
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf), &back), -1);
}

static void test_msg_layout(void)
{
	struct cs_msg_rec rec = {
		.version = CS_RECORD_VERSION_V1, .location = CS_LOC_CUR,
		.suffix_len = 5, .uid = 0xdeadbeef, .modseq = 1000,
		.flags = CS_FLAG_SEEN, .prev_modseq = 900,
		.prev_flags = CS_FLAG_FLAGGED,
	}, back;
	uint8_t buf[CS_MSG_REC_FIXED_SIZE + 5];
	char suffix[CS_SUFFIX_MAX + 1];

	cs_msg_rec_encode(&rec, ":2,FS", buf);
	CU_ASSERT_EQUAL(buf[0], CS_RECORD_VERSION_V1);
	CU_ASSERT_EQUAL(buf[1], CS_LOC_CUR);
	CU_ASSERT_EQUAL(buf[2] | (buf[3] << 8), 5);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 4), 0xdeadbeef);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 8), 1000);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 16), CS_FLAG_SEEN);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 24), 900);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 32), CS_FLAG_FLAGGED);
	CU_ASSERT(memcmp(buf + 40, ":2,FS", 5) == 0);
	CU_ASSERT_EQUAL(cs_msg_rec_decode(buf, sizeof(buf), &back, suffix), 0);
	CU_ASSERT(memcmp(&rec, &back, sizeof(rec)) == 0);
	CU_ASSERT_STRING_EQUAL(suffix, ":2,FS");
	/* the suffix length must match the record size */
	CU_ASSERT_EQUAL(cs_msg_rec_decode(buf, sizeof(buf) - 1, &back, suffix),
			-1);
	buf[1] = 7;	/* bad location */
	CU_ASSERT_EQUAL(cs_msg_rec_decode(buf, sizeof(buf), &back, suffix), -1);
}

static void test_digest_term(void)
{
	static const char name[] = "1700000000.M1P2.host,S=123:2,FS";
	size_t len = strlen(name);
	uint64_t t = cs_digest_term(CS_LOC_CUR, name, len);

	/* pinned: the digest is stored, so its definition must not move */
	CU_ASSERT_EQUAL(t, cs_digest_term(CS_LOC_CUR, name, len));
	CU_ASSERT_EQUAL(t, DIGEST_TERM_PINNED);
	/* every input counts: location, each byte, the length */
	CU_ASSERT_NOT_EQUAL(t, cs_digest_term(CS_LOC_NEW, name, len));
	CU_ASSERT_NOT_EQUAL(t, cs_digest_term(CS_LOC_CUR, name, len - 1));
	CU_ASSERT_NOT_EQUAL(cs_digest_term(CS_LOC_CUR, "a:2,S", 5),
			    cs_digest_term(CS_LOC_CUR, "a:2,T", 5));
	CU_ASSERT_NOT_EQUAL(cs_digest_term(CS_LOC_CUR, "a\0", 2),
			    cs_digest_term(CS_LOC_CUR, "a", 1));
}

static void test_uid_term(void)
{
	uint64_t t = cs_uid_term(UINT64_C(0x0123456789abcdef), 7);

	/* pinned: uid_sum is stored */
	CU_ASSERT_EQUAL(t, UID_TERM_PINNED);
	/* no UID, no term: a record without one adds nothing */
	CU_ASSERT_EQUAL(cs_uid_term(UINT64_C(0x0123456789abcdef), 0), 0);
	/* both inputs count, and a UID's term is no neighbour's */
	CU_ASSERT_NOT_EQUAL(t, cs_uid_term(UINT64_C(0x0123456789abcdef), 8));
	CU_ASSERT_NOT_EQUAL(t, cs_uid_term(UINT64_C(0x0123456789abcdee), 7));
	CU_ASSERT_NOT_EQUAL(cs_uid_term(1, 2) + cs_uid_term(2, 1),
			    cs_uid_term(1, 1) + cs_uid_term(2, 2));
}

static void test_change_run(void)
{
	/* type, count 2 LE, then the hashes (4 bytes LE), oldest first */
	static const uint8_t run[] = { CS_CHANGE_RUN, 2, 0, 1, 2, 3, 4,
				       0xff, 0, 0, 0x80 };
	/* layout 1: len+name entries */
	static const uint8_t run1[] = { CS_CHANGE_RUN_V1, 2, 0, 3, 'a', 'b',
					'c', 1, 'z' };
	uint8_t bad[sizeof(run)];
	struct cs_change_run_iter it;
	const char *base;
	size_t len;
	uint32_t hash;

	CU_ASSERT_EQUAL(cs_change_run_init(run, sizeof(run), &it), 2);
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &hash), 1);
	CU_ASSERT_EQUAL(hash, 0x04030201);
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &hash), 1);
	CU_ASSERT_EQUAL(hash, 0x800000ff);
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &hash), 0);
	/* short, long, a count of one, another type */
	CU_ASSERT_EQUAL(cs_change_run_init(run, sizeof(run) - 1, &it), -1);
	memcpy(bad, run, sizeof(run));
	bad[1] = 3;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(run), &it), -1);
	bad[1] = 1;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, 7, &it), -1);
	memcpy(bad, run, sizeof(run));
	bad[0] = CS_CHANGE_MESSAGE;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(run), &it), -1);

	CU_ASSERT_EQUAL(cs_change_run_v1_init(run1, sizeof(run1), &it), 2);
	CU_ASSERT_EQUAL(cs_change_run_v1_next(&it, &base, &len), 1);
	CU_ASSERT(len == 3 && memcmp(base, "abc", 3) == 0);
	CU_ASSERT_EQUAL(cs_change_run_v1_next(&it, &base, &len), 1);
	CU_ASSERT(len == 1 && base[0] == 'z');
	CU_ASSERT_EQUAL(cs_change_run_v1_next(&it, &base, &len), 0);
	/* short, long, a count of one, an empty name, another type */
	CU_ASSERT_EQUAL(cs_change_run_v1_init(run1, sizeof(run1) - 1, &it),
			-1);
	memcpy(bad, run1, sizeof(run1));
	bad[1] = 3;
	CU_ASSERT_EQUAL(cs_change_run_v1_init(bad, sizeof(bad), &it), -1);
	bad[1] = 1;
	CU_ASSERT_EQUAL(cs_change_run_v1_init(bad, 7, &it), -1);
	memcpy(bad, run1, sizeof(run1));
	bad[7] = 0;
	CU_ASSERT_EQUAL(cs_change_run_v1_init(bad, sizeof(bad), &it), -1);
	bad[7] = 2;
	CU_ASSERT_EQUAL(cs_change_run_v1_init(bad, sizeof(bad), &it), -1);
	memcpy(bad, run1, sizeof(run1));
	bad[0] = CS_CHANGE_RUN;
	CU_ASSERT_EQUAL(cs_change_run_v1_init(bad, sizeof(bad), &it), -1);
}

/* A bucket and an entry, byte by byte (cs-record.h), decoded back, and
   damaged copies refused. */
static void test_bucket_layout(void)
{
	struct cs_bucket_hdr hdr = { .level = 3, .count = 1,
				     .base = UINT64_C(0x0102030405060708) };
	struct cs_message msg, back;
	struct cs_bucket_query q = { .by = CS_BUCKET_BY_NAME };
	struct cs_bucket_entry entry;
	uint8_t buf[CS_BUCKET_HDR_SIZE + CS_BUCKET_ENTRY_MAX], copy[512];
	size_t n;

	memset(&msg, 0, sizeof(msg));
	strcpy(msg.base, "17.M1P2.host");
	strcpy(msg.suffix, ":2,S");
	msg.rec.location = CS_LOC_CUR;
	msg.rec.suffix_len = 4;
	msg.rec.uid = 300;
	msg.rec.modseq = hdr.base + 5;
	msg.rec.prev_modseq = hdr.base;
	msg.rec.flags = CS_FLAG_SEEN;
	msg.rec.prev_flags = 0;
	cs_bucket_hdr_encode(&hdr, buf);
	CU_ASSERT_EQUAL(buf[0], CS_RECORD_VERSION);
	CU_ASSERT_EQUAL(buf[1], 3);
	CU_ASSERT_EQUAL(buf[2] | buf[3], 0);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 4), 1);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 8), hdr.base);
	CU_ASSERT_EQUAL(CS_BUCKET_HDR_SIZE, 16);
	n = cs_bucket_entry_encode(&msg, 0xa1b2c3d4, hdr.base,
				   buf + CS_BUCKET_HDR_SIZE);
	/* 8 fixed, varints 300 (2), 5, 1 (prev = base), Seen (bit 18:
	   3), 0 */
	CU_ASSERT_EQUAL(CS_FLAG_SEEN, 1u << 18);
	CU_ASSERT_EQUAL(n, 8 + 8 + 12 + 4);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 16), 0xa1b2c3d4);
	CU_ASSERT_EQUAL(buf[16 + 4], 8);
	CU_ASSERT_EQUAL(buf[16 + 5], 12);
	CU_ASSERT_EQUAL(buf[16 + 6], 4);
	CU_ASSERT_EQUAL(buf[16 + 7], 1);
	CU_ASSERT_EQUAL(buf[16 + 8], 0xac);	/* 300 */
	CU_ASSERT_EQUAL(buf[16 + 9], 0x02);
	CU_ASSERT_EQUAL(buf[16 + 10], 5);
	CU_ASSERT_EQUAL(buf[16 + 11], 1);
	CU_ASSERT_EQUAL(buf[16 + 12], 0x80);	/* 1 << 18 */
	CU_ASSERT_EQUAL(buf[16 + 13], 0x80);
	CU_ASSERT_EQUAL(buf[16 + 14], 0x10);
	CU_ASSERT_EQUAL(buf[16 + 15], 0);
	CU_ASSERT(memcmp(buf + 16 + 16, "17.M1P2.host:2,S", 16) == 0);
	n += CS_BUCKET_HDR_SIZE;
	q.hash = 0xa1b2c3d4;
	q.base = msg.base;
	q.base_len = strlen(msg.base);
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n, &q, &entry, &back), 1);
	CU_ASSERT_STRING_EQUAL(back.base, msg.base);
	CU_ASSERT_STRING_EQUAL(back.suffix, msg.suffix);
	CU_ASSERT(memcmp(&back.rec, &msg.rec, sizeof(msg.rec)) == 0 ||
		  (back.rec.uid == 300 && back.rec.modseq == msg.rec.modseq &&
		   back.rec.prev_modseq == msg.rec.prev_modseq &&
		   back.rec.flags == msg.rec.flags &&
		   back.rec.location == CS_LOC_CUR));
	q.by = CS_BUCKET_BY_UID;
	q.uid = 300;
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n, &q, &entry, &back), 1);
	q.uid = 301;
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n, &q, &entry, &back), 0);
	q.by = CS_BUCKET_BY_MODSEQ;
	q.modseq = msg.rec.modseq;
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n, &q, &entry, &back), 1);
	q.hash++;
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n, &q, &entry, &back), 0);
	q.hash--;
	/* a modseq below the base is not encoded */
	msg.rec.prev_modseq = hdr.base - 1;
	CU_ASSERT_EQUAL(cs_bucket_entry_encode(&msg, 1, hdr.base, copy), 0);
	/* damage: short, a count too high, a name length past the end, a
	   varint area that does not hold five varints, unknown info bits */
	CU_ASSERT_EQUAL(cs_bucket_find(buf, n - 1, &q, &entry, &back), -1);
	memcpy(copy, buf, n);
	copy[4] = 2;
	q.hash++;	/* not found: the scan reaches the end */
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
	q.hash--;
	memcpy(copy, buf, n);
	copy[16 + 5] = 200;
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
	memcpy(copy, buf, n);
	copy[16 + 4] = 5;
	copy[16 + 5] = 13;
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
	memcpy(copy, buf, n);
	copy[16 + 7] = 0x81;
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
	memcpy(copy, buf, n);
	copy[2] = 1;	/* reserved */
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
	memcpy(copy, buf, n);
	copy[0] = CS_RECORD_VERSION_V1;
	CU_ASSERT_EQUAL(cs_bucket_find(copy, n, &q, &entry, &back), -1);
}

/* Linear hashing: which bucket, at which level. */
static void test_bucket_of(void)
{
	uint8_t level;

	CU_ASSERT_EQUAL(cs_bucket_of(0xffffffff, 0, &level), 0);
	CU_ASSERT_EQUAL(level, 0);
	CU_ASSERT_EQUAL(cs_bucket_of(0xffffffff, 1, &level), 0);
	CU_ASSERT_EQUAL(cs_bucket_of(7, 2, &level), 1);
	CU_ASSERT_EQUAL(level, 1);
	/* three buckets: 0 was split (level 2: 0 and 2), 1 was not */
	CU_ASSERT_EQUAL(cs_bucket_of(6, 3, &level), 2);
	CU_ASSERT_EQUAL(level, 2);
	CU_ASSERT_EQUAL(cs_bucket_of(4, 3, &level), 0);
	CU_ASSERT_EQUAL(level, 2);
	CU_ASSERT_EQUAL(cs_bucket_of(7, 3, &level), 1);
	CU_ASSERT_EQUAL(level, 1);
	CU_ASSERT_EQUAL(cs_bucket_of(13, 5, &level), 1);
	CU_ASSERT_EQUAL(level, 2);
	CU_ASSERT_EQUAL(cs_bucket_of(12, 5, &level), 4);
	CU_ASSERT_EQUAL(level, 3);
	CU_ASSERT_EQUAL(cs_bucket_of(0x80000003, 0x80000000, &level), 3);
	CU_ASSERT_EQUAL(level, 31);
}

/* A chunk of the UID map: sorted entries of uid mod 256 and hash. */
static void test_uidchunk_layout(void)
{
	uint8_t chunk[1 + 3 * CS_UIDCHUNK_ENTRY] = {
		CS_RECORD_VERSION, 1, 1, 0, 0, 0, 7, 2, 0, 0, 0,
		255, 3, 0, 0, 0 };
	uint32_t hash = 0;
	size_t pos;

	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk), 256 + 7, &hash,
					 &pos), 1);
	CU_ASSERT_EQUAL(hash, 2);
	CU_ASSERT_EQUAL(pos, 6);
	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk), 255, &hash,
					 &pos), 1);
	CU_ASSERT_EQUAL(hash, 3);
	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk), 8, &hash,
					 &pos), 0);
	CU_ASSERT_EQUAL(pos, 11);	/* where 8 would go */
	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk), 0, &hash,
					 &pos), 0);
	CU_ASSERT_EQUAL(pos, 1);
	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk) - 1, 1, &hash,
					 &pos), -1);
	chunk[0] = CS_RECORD_VERSION_V1;
	CU_ASSERT_EQUAL(cs_uidchunk_find(chunk, sizeof(chunk), 1, &hash,
					 &pos), -1);
}

static void test_header_daemon_layout(void)
{
	struct cs_header_rec hdr = {
		.version = CS_RECORD_VERSION, .separator = ':',
		.next_mailbox_id = 3, .ceiling = 123456789, .created = 5,
	}, hback;
	struct cs_daemon_rec d = {
		.version = CS_RECORD_VERSION, .pid = 4242,
		.start_time = 77, .since = 88,
	}, dback;
	uint8_t buf[CS_HEADER_REC_SIZE];

	cs_header_rec_encode(&hdr, buf);
	CU_ASSERT_EQUAL(buf[1], ':');
	CU_ASSERT_EQUAL(cs_get_le32(buf + 4), 3);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 8), 123456789);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 16), 5);
	CU_ASSERT_EQUAL(cs_header_rec_decode(buf, sizeof(buf), &hback), 0);
	CU_ASSERT(memcmp(&hdr, &hback, sizeof(hdr)) == 0);

	cs_daemon_rec_encode(&d, buf);
	CU_ASSERT_EQUAL(cs_get_le32(buf + 4), 4242);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 8), 77);
	CU_ASSERT_EQUAL(cs_get_le64(buf + 16), 88);
	CU_ASSERT_EQUAL(cs_daemon_rec_decode(buf, CS_DAEMON_REC_SIZE, &dback),
			0);
	CU_ASSERT(memcmp(&d, &dback, sizeof(d)) == 0);
	CU_ASSERT_EQUAL(cs_daemon_rec_decode(buf, 3, &dback), -1);
}

void suite_record_register(void)
{
	CU_pSuite s = CU_add_suite("record layout", NULL, NULL);

	CU_add_test(s, "endian helpers", test_endian_helpers);
	CU_add_test(s, "mailbox record", test_mailbox_layout);
	CU_add_test(s, "message record", test_msg_layout);
	CU_add_test(s, "digest term", test_digest_term);
	CU_add_test(s, "UID term", test_uid_term);
	CU_add_test(s, "change-log run", test_change_run);
	CU_add_test(s, "bucket of messages", test_bucket_layout);
	CU_add_test(s, "buckets by linear hashing", test_bucket_of);
	CU_add_test(s, "chunk of the UID map", test_uidchunk_layout);
	CU_add_test(s, "header and daemon records", test_header_daemon_layout);
}
