/*
 * test-record.c - pins down the on-disk layout of cs-record.h: every
 * field at its documented offset, little-endian, and decoders that refuse
 * wrong sizes and versions.
 */
#include "config.h"

#include <string.h>

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
	CU_ASSERT_EQUAL(CS_MAILBOX_REC_SIZE, 56);
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf), &back), 0);
	CU_ASSERT(memcmp(&rec, &back, sizeof(rec)) == 0);
	/* a record of the first layout (48 bytes): digest unknown */
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, CS_MAILBOX_REC_SIZE_V1,
					      &back), 0);
	CU_ASSERT_EQUAL(back.flags, 0);
	CU_ASSERT_EQUAL(back.digest, 0);
	CU_ASSERT_EQUAL(back.messages, 41);
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf) - 1, &back), -1);
	buf[0] = 99;
	CU_ASSERT_EQUAL(cs_mailbox_rec_decode(buf, sizeof(buf), &back), -1);
}

static void test_msg_layout(void)
{
	struct cs_msg_rec rec = {
		.version = CS_RECORD_VERSION, .location = CS_LOC_CUR,
		.suffix_len = 5, .uid = 0xdeadbeef, .modseq = 1000,
		.flags = CS_FLAG_SEEN, .prev_modseq = 900,
		.prev_flags = CS_FLAG_FLAGGED,
	}, back;
	uint8_t buf[CS_MSG_REC_FIXED_SIZE + 5];
	char suffix[CS_SUFFIX_MAX + 1];

	cs_msg_rec_encode(&rec, ":2,FS", buf);
	CU_ASSERT_EQUAL(buf[0], CS_RECORD_VERSION);
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
	/* type, count 2 LE, then len+name entries, oldest first */
	static const uint8_t run[] = { CS_CHANGE_RUN, 2, 0, 3, 'a', 'b', 'c',
				       1, 'z' };
	uint8_t bad[sizeof(run)];
	struct cs_change_run_iter it;
	const char *base;
	size_t len;

	CU_ASSERT_EQUAL(cs_change_run_init(run, sizeof(run), &it), 2);
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &base, &len), 1);
	CU_ASSERT(len == 3 && memcmp(base, "abc", 3) == 0);
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &base, &len), 1);
	CU_ASSERT(len == 1 && base[0] == 'z');
	CU_ASSERT_EQUAL(cs_change_run_next(&it, &base, &len), 0);
	/* short, long, a count of one, an empty name, another type */
	CU_ASSERT_EQUAL(cs_change_run_init(run, sizeof(run) - 1, &it), -1);
	memcpy(bad, run, sizeof(run));
	bad[1] = 3;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(bad), &it), -1);
	bad[1] = 1;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, 7, &it), -1);
	memcpy(bad, run, sizeof(run));
	bad[7] = 0;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(bad), &it), -1);
	bad[7] = 2;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(bad), &it), -1);
	memcpy(bad, run, sizeof(run));
	bad[0] = CS_CHANGE_MESSAGE;
	CU_ASSERT_EQUAL(cs_change_run_init(bad, sizeof(bad), &it), -1);
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
	CU_add_test(s, "header and daemon records", test_header_daemon_layout);
}
