/*
 * test-scan.c - scans of real Maildir directories, the conditional store
 * with real renames, dovecot-uidlist, and the consistency check.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tdb.h>

#include "cs-index-private.h"
#include "cs-listing.h"
#include "cs-uidorder.h"
#include "unit.h"

struct warnings {
	int count;
	char last[1024];
};

static void warn_cb(void *ctx, const char *text)
{
	struct warnings *w = ctx;

	w->count++;
	snprintf(w->last, sizeof(w->last), "%s", text);
}

static int scan(struct cs_index *index, const char *name,
		struct cs_scan_stats *stats, struct warnings *w)
{
	struct cs_scan_settings set = { .warn = warn_cb, .warn_ctx = w };
	struct cs_error err;
	int ret;

	memset(stats, 0, sizeof(*stats));
	cs_error_clear(&err);
	ret = cs_maildir_scan(index, name, &set, stats, &err);
	if (ret < 0)
		fprintf(stderr, "scan: %s\n", err.text);
	return ret;
}

static void problem_cb(void *ctx, const char *mailbox, const char *text)
{
	(void)ctx;
	fprintf(stderr, "  check: %s: %s\n", mailbox, text);
}

static int check(struct cs_index *index, bool repair)
{
	struct cs_check_settings set = { .repair = repair,
					 .problem = problem_cb };
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	ret = cs_check(index, NULL, &set, &err);
	if (ret < 0)
		fprintf(stderr, "check: %s\n", err.text);
	return ret;
}

static void rename_in(const char *root, const char *from, const char *to)
{
	char a[4096], b[4096];

	snprintf(a, sizeof(a), "%s/%s", root, from);
	snprintf(b, sizeof(b), "%s/%s", root, to);
	CU_ASSERT_EQUAL(rename(a, b), 0);
}

static void test_scan_changes(void)
{
	char root[4096], path[4200];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_message msg;
	uint64_t hms;

	unit_make_root(root, sizeof(root));
	unit_touch(root, "new", "1.M1P1.h");
	unit_touch(root, "cur", "2.M2P2.h:2,S");
	unit_touch(root, "cur", "3.M3P3.h:2,FS");
	unit_touch(root, "cur", "4.M4P4.h:1,odd");
	snprintf(path, sizeof(path), "%s/cur/5.M5P5.h:2,S", root);
	CU_ASSERT_EQUAL(symlink("/etc/passwd", path), 0);
	unit_touch(root, "tmp", "6.M6P6.h");
	index = unit_open(root);

	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.files, 4);
	CU_ASSERT_EQUAL(st.arrived, 4);
	CU_ASSERT_EQUAL(st.skipped, 1);
	CU_ASSERT_EQUAL(w.count, 1);
	CU_ASSERT(strstr(w.last, "symlink") != NULL);
	CU_ASSERT_EQUAL(check(index, false), 0);

	/* nothing changed: nothing written */
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.arrived + st.changed + st.expunged + st.updated, 0);

	/* a flag change, a read (new->cur), a delete */
	rename_in(root, "cur/2.M2P2.h:2,S", "cur/2.M2P2.h:2,RS");
	rename_in(root, "new/1.M1P1.h", "cur/1.M1P1.h:2,");
	snprintf(path, sizeof(path), "%s/cur/3.M3P3.h:2,FS", root);
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_EQUAL(check(index, false), 3);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.changed, 1);
	CU_ASSERT_EQUAL(st.updated, 1);
	CU_ASSERT_EQUAL(st.expunged, 1);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->highestmodseq, hms + 2);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 3);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "2.M2P2.h", 8, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.flags, CS_FLAG_ANSWERED | CS_FLAG_SEEN);
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

struct store_out {
	int stored, modified;
	uint32_t last_modified;
};

static int stored_cb(void *ctx, const struct cs_message *msg)
{
	struct store_out *o = ctx;

	(void)msg;
	o->stored++;
	return 0;
}

static int modified_cb(void *ctx, uint32_t uid)
{
	struct store_out *o = ctx;

	o->modified++;
	o->last_modified = uid;
	return 0;
}

static void test_store_cas(void)
{
	char root[4096], path[4200];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_message msg;
	struct store_out out = { 0 };
	struct cs_store_result_cb cbs = {
		.stored = stored_cb, .modified = modified_cb, .ctx = &out
	};
	struct cs_uidset uids;
	uint64_t m1;
	struct stat sb;
	char uidstr[16];

	unit_make_root(root, sizeof(root));
	unit_touch(root, "cur", "1.M1P1.h:2,S");
	unit_touch(root, "new", "2.M2P2.h");
	unit_touch(root, "cur", "3.M3P3.h:2,SX");
	index = unit_open(root);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "1.M1P1.h", 8, &msg, NULL), 1);
	m1 = msg.rec.modseq;
	/* UIDs in Dovecot's order (the names' timestamps), not in the order
	   of reading new/ before cur/ */
	snprintf(uidstr, sizeof(uidstr), "%u", msg.rec.uid);
	CU_ASSERT_EQUAL(msg.rec.uid, 1);

	/* unconditional +FLAGS on all: renames, new/ moves to cur/ */
	cs_uidset_init(&uids);
	CU_ASSERT_OK(cs_uidset_parse("1:*", &uids, CU_ERR));
	CU_ASSERT_OK(cs_maildir_store(box, &uids, CS_STORE_ADD,
				      CS_FLAG_FLAGGED, 0, &cbs, CU_ERR));
	CU_ASSERT_EQUAL(out.stored, 3);
	snprintf(path, sizeof(path), "%s/cur/2.M2P2.h:2,F", root);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	/* an unknown letter survives */
	snprintf(path, sizeof(path), "%s/cur/3.M3P3.h:2,FSX", root);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);

	/* UNCHANGEDSINCE the old modseq: MODIFIED, nothing renamed */
	memset(&out, 0, sizeof(out));
	cs_uidset_free(&uids);
	CU_ASSERT_OK(cs_uidset_parse(uidstr, &uids, CU_ERR));
	CU_ASSERT_OK(cs_maildir_store(box, &uids, CS_STORE_ADD,
				      CS_FLAG_DELETED, m1, &cbs, CU_ERR));
	CU_ASSERT_EQUAL(out.stored, 0);
	CU_ASSERT_EQUAL(out.modified, 1);
	CU_ASSERT_EQUAL(out.last_modified, 1);
	snprintf(path, sizeof(path), "%s/cur/1.M1P1.h:2,FS", root);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);

	/* an external rename after reading the modseq: MODIFIED */
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup(box, "1.M1P1.h", 8, &msg, NULL), 1);
	m1 = msg.rec.modseq;
	rename_in(root, "cur/1.M1P1.h:2,FS", "cur/1.M1P1.h:2,FRS");
	memset(&out, 0, sizeof(out));
	CU_ASSERT_OK(cs_maildir_store(box, &uids, CS_STORE_REMOVE,
				      CS_FLAG_SEEN, m1, &cbs, CU_ERR));
	CU_ASSERT_EQUAL(out.modified, 1);
	CU_ASSERT_EQUAL(stat(path, &sb), -1);
	snprintf(path, sizeof(path), "%s/cur/1.M1P1.h:2,FRS", root);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	/* and with the current modseq it wins */
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup(box, "1.M1P1.h", 8, &msg, NULL), 1);
	CU_ASSERT(msg.rec.modseq > m1);
	memset(&out, 0, sizeof(out));
	CU_ASSERT_OK(cs_maildir_store(box, &uids, CS_STORE_REMOVE,
				      CS_FLAG_SEEN, msg.rec.modseq, &cbs,
				      CU_ERR));
	CU_ASSERT_EQUAL(out.stored, 1);
	snprintf(path, sizeof(path), "%s/cur/1.M1P1.h:2,FR", root);
	CU_ASSERT_EQUAL(stat(path, &sb), 0);
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_uidset_free(&uids);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static void test_uidlist_and_folders(void)
{
	char root[4096], path[4200];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_message msg;
	struct cs_error err;
	FILE *fp;
	uint64_t m;

	unit_make_root(root, sizeof(root));
	unit_touch(root, "cur", "1.M1P1.h,S=14:2,S");
	unit_touch(root, "cur", "2.M2P2.h,S=14:2,");
	snprintf(path, sizeof(path), "%s/.Work", root);
	unit_make_maildir(path);
	unit_touch(path, "cur", "9.M9P9.h:2,F");
	snprintf(path, sizeof(path), "%s/.Evil", root);
	CU_ASSERT_EQUAL(symlink("/tmp", path), 0);
	index = unit_open(root);
	memset(&st, 0, sizeof(st));
	{
		struct cs_scan_settings set = { .warn = warn_cb,
						.warn_ctx = &w };

		CU_ASSERT_OK(cs_maildir_scan_all(index, NULL, &set, &st,
						 CU_ERR));
	}
	CU_ASSERT_EQUAL(st.arrived, 3);
	CU_ASSERT(w.count >= 1);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "Evil", false, 0, 0, &box,
					NULL), 0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_source, CS_UIDSRC_OWN);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "1.M1P1.h,S=14", 13, &msg,
					  NULL), 1);
	m = msg.rec.modseq;

	/* Dovecot appears: its UIDs and UIDVALIDITY win, modseqs stay */
	snprintf(path, sizeof(path), "%s/dovecot-uidlist", root);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fprintf(fp, "3 V1500000000 N8 Gabcdef\n"
		"5 :2.M2P2.h,S=14\n7 W20 :1.M1P1.h,S=14:2,S\n");
	fclose(fp);
	CU_ASSERT_EQUAL(check(index, false) > 0, 1);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_source,
			CS_UIDSRC_DOVECOT);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidvalidity, 1500000000);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 7, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "1.M1P1.h,S=14");
	CU_ASSERT_EQUAL(msg.rec.modseq, m);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 5, &msg, NULL), 1);
	CU_ASSERT_EQUAL(check(index, false), 0);

	cs_mailbox_close(&box);
	/* a folder removed from disk is retired by a full scan */
	snprintf(path, sizeof(path), "%s/.Work", root);
	unit_remove_tree(path);
	CU_ASSERT_OK(cs_maildir_scan_all(index, NULL, NULL, &st, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "Work", false, 0, 0, &box,
					NULL), 0);
	/* scanning a missing folder by name is an error naming it */
	cs_error_clear(&err);
	CU_ASSERT_EQUAL(cs_maildir_scan(index, "Nope", NULL, &st, &err), -1);
	CU_ASSERT(strstr(err.text, "Nope") != NULL);
	CU_ASSERT_EQUAL(cs_maildir_scan(index, "../etc", NULL, &st, &err), -1);
	CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* A new mailbox without dovecot-uidlist gets its own UIDs in the order
   Dovecot numbers the files (timestamp, microseconds, name), whatever
   the order readdir gives; when Dovecot's dovecot-uidlist then says the
   same, the switch to it learns nothing message by message. */
static void test_uids_in_dovecot_order(void)
{
	static const char *const names[] = {
		/* in Dovecot's order; created in another */
		"100.M3P9.h", "100.M5P1.h", "100.M20P1.h", "200.M2P1.h",
		"300.M1P1.h", "300.h", "1000.M0P0.h"
	};
	static const unsigned int create_order[] = { 4, 1, 6, 0, 3, 5, 2 };
	char root[4096], path[4200];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_message msg;
	uint64_t modseqs[7];
	unsigned int i;
	FILE *fp;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < 7; i++) {
		snprintf(path, sizeof(path), "%s:2,S", names[create_order[i]]);
		unit_touch(root, i % 2 == 0 ? "cur" : "new",
			   i % 2 == 0 ? path : names[create_order[i]]);
	}
	index = unit_open(root);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.arrived, 7);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	for (i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL_FATAL(cs_message_lookup(box, names[i],
				      strlen(names[i]), &msg, NULL), 1);
		CU_ASSERT_EQUAL(msg.rec.uid, i + 1);
		modseqs[i] = msg.rec.modseq;
	}
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 8);

	snprintf(path, sizeof(path), "%s/dovecot-uidlist", root);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fprintf(fp, "3 V1600000000 N8 G0123\n");
	for (i = 0; i < 7; i++)
		fprintf(fp, "%u :%s\n", i + 1, names[i]);
	fclose(fp);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	/* nothing learnt one by one, nothing changed */
	CU_ASSERT_EQUAL(st.updated, 0);
	CU_ASSERT_EQUAL(st.changed + st.arrived + st.expunged, 0);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_source,
			CS_UIDSRC_DOVECOT);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidvalidity, 1600000000);
	for (i = 0; i < 7; i++) {
		CU_ASSERT_EQUAL(cs_message_lookup_uid(box, i + 1, &msg,
						      NULL), 1);
		CU_ASSERT_STRING_EQUAL(msg.base, names[i]);
		CU_ASSERT_EQUAL(msg.rec.modseq, modseqs[i]);
	}
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static void test_check_repair(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_disk_state d = { .present = true, .location = CS_LOC_CUR,
				   .suffix = ":2,S", .flags = CS_FLAG_SEEN };

	unit_make_root(root, sizeof(root));
	unit_touch(root, "cur", "1.M1P1.h:2,S");
	index = unit_open(root);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	/* plant a record for a file that does not exist */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_reconcile(box, "ghost", 5, &d, NULL, NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	/* and rename a file behind the index's back */
	rename_in(root, "cur/1.M1P1.h:2,S", "cur/1.M1P1.h:2,ST");
	CU_ASSERT_EQUAL(check(index, false), 2);
	CU_ASSERT_EQUAL(check(index, true), 2);
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* Overwrite INBOX's mailbox record with raw bytes (tests of old layouts
   and damage). */
static void put_mailbox_raw(struct cs_index *index, const uint8_t *buf,
			    size_t size)
{
	uint8_t key[] = { CS_KEY_MAILBOX, 'I', 'N', 'B', 'O', 'X' };
	TDB_DATA k = { key, sizeof(key) }, d = { (uint8_t *)buf, size };

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(tdb_store(index->tdb, k, d, TDB_REPLACE), 0);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
}

static void test_scan_digest(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_mailbox_rec rec;
	uint8_t buf[CS_MAILBOX_REC_SIZE];
	uint64_t digest, hms;

	unit_make_root(root, sizeof(root));
	unit_touch(root, "new", "1.M1P1.h");
	unit_touch(root, "cur", "2.M2P2.h:2,S");
	unit_touch(root, "cur", "3.M3P3.h:2,");
	index = unit_open(root);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	rec = *cs_mailbox_get_rec(box);
	CU_ASSERT(rec.flags & CS_MAILBOX_F_DIGEST);
	digest = rec.digest;
	hms = rec.highestmodseq;
	CU_ASSERT_EQUAL(digest,
		cs_digest_term(CS_LOC_NEW, "1.M1P1.h", 8) +
		cs_digest_term(CS_LOC_CUR, "2.M2P2.h:2,S", 12) +
		cs_digest_term(CS_LOC_CUR, "3.M3P3.h:2,", 11));

	/* changes that keep the count: a flag change, a read */
	rename_in(root, "cur/2.M2P2.h:2,S", "cur/2.M2P2.h:2,FS");
	rename_in(root, "new/1.M1P1.h", "cur/1.M1P1.h:2,");
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.files, 3);
	CU_ASSERT_EQUAL(st.changed, 1);
	CU_ASSERT_EQUAL(st.updated, 1);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->highestmodseq, hms + 1);
	CU_ASSERT_NOT_EQUAL(cs_mailbox_get_rec(box)->digest, digest);
	CU_ASSERT_EQUAL(check(index, false), 0);
	/* and back: the digest is a sum, not a history */
	rename_in(root, "cur/2.M2P2.h:2,FS", "cur/2.M2P2.h:2,S");
	rename_in(root, "cur/1.M1P1.h:2,", "new/1.M1P1.h");
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.changed, 1);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->digest, digest);

	/* a damaged digest: check says so, repair recomputes it, and a
	   scan is not fooled by it meanwhile */
	rec = *cs_mailbox_get_rec(box);
	rec.digest ^= 1;
	cs_mailbox_rec_encode(&rec, buf);
	put_mailbox_raw(index, buf, sizeof(buf));
	CU_ASSERT_EQUAL(check(index, false), 1);
	rename_in(root, "cur/3.M3P3.h:2,", "cur/3.M3P3.h:2,T");
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.changed, 1);
	CU_ASSERT_EQUAL(check(index, true), 1);
	CU_ASSERT_EQUAL(check(index, false), 0);

	/* a digest of the earlier definition: not trusted, not checked,
	   and the next scan computes it (with the UID sum) */
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	rec = *cs_mailbox_get_rec(box);
	digest = rec.digest;
	rec.flags = CS_MAILBOX_F_DIGEST_V1;
	rec.digest ^= 1;
	rec.uid_sum = 0;
	cs_mailbox_rec_encode(&rec, buf);
	put_mailbox_raw(index, buf, sizeof(buf));
	CU_ASSERT_EQUAL(check(index, false), 0);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.arrived + st.changed + st.updated + st.expunged, 0);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->flags, CS_MAILBOX_F_DIGEST);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->digest, digest);
	CU_ASSERT_NOT_EQUAL(cs_mailbox_get_rec(box)->uid_sum, 0);
	CU_ASSERT_EQUAL(check(index, false), 0);
	/* a damaged UID sum: check says so, repair recomputes it */
	rec = *cs_mailbox_get_rec(box);
	rec.uid_sum ^= 1;
	cs_mailbox_rec_encode(&rec, buf);
	put_mailbox_raw(index, buf, sizeof(buf));
	CU_ASSERT_EQUAL(check(index, false), 1);
	CU_ASSERT_EQUAL(check(index, true), 1);
	CU_ASSERT_EQUAL(check(index, false), 0);

	/* a record of layout 1's size in a layout 2 index is damage */
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	rec = *cs_mailbox_get_rec(box);
	cs_mailbox_rec_encode(&rec, buf);
	put_mailbox_raw(index, buf, CS_MAILBOX_REC_SIZE_V1);
	CU_ASSERT_EQUAL(cs_mailbox_refresh(box, NULL), -1);
	CU_ASSERT_EQUAL(cs_index_begin(index, NULL), -1);
	{
		uint8_t key[] = { CS_KEY_MAILBOX, 'I', 'N', 'B', 'O', 'X' };
		TDB_DATA k = { key, sizeof(key) }, d = { buf, sizeof(buf) };

		/* put back outside a transaction (none can start) */
		CU_ASSERT_EQUAL(tdb_store(index->tdb, k, d, TDB_REPLACE), 0);
	}
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The competitor of a build: the first progress report creates the
   index under its name, as a daemon starting meanwhile would. */
struct rival {
	const char *root;
	bool done;
	uint64_t hms;
};

static void rival_progress(void *ctx, const char *mailbox, uint64_t done,
			   uint64_t total)
{
	struct rival *r = ctx;
	struct cs_index *index;
	struct cs_scan_stats st;

	(void)mailbox;
	(void)done;
	(void)total;
	if (r->done)
		return;
	r->done = true;
	unit_touch(r->root, "cur", "rival.M9P9.h:2,F");
	index = unit_open(r->root);
	memset(&st, 0, sizeof(st));
	CU_ASSERT_OK(cs_maildir_scan(index, "INBOX", NULL, &st, CU_ERR));
	CU_ASSERT_EQUAL(st.arrived, 4);
	cs_index_close(&index);
}

static void test_build_index(void)
{
	char root[4096], path[4200];
	struct cs_index_settings set = { 0 };
	struct cs_scan_settings sset = { 0 };
	struct rival rival = { 0 };
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct stat sb;

	unit_make_root(root, sizeof(root));
	unit_touch(root, "new", "1.M1P1.h");
	unit_touch(root, "cur", "2.M2P2.h:2,S");
	snprintf(path, sizeof(path), "%s/.Work", root);
	unit_make_maildir(path);
	unit_touch(path, "cur", "9.M9P9.h:2,F");
	/* one base name twice (new/ is read first): one record, the
	   second file's flags as a change */
	unit_touch(root, "new", "5.M5P5.h");
	unit_touch(root, "cur", "5.M5P5.h:2,S");
	set.root = root;

	/* no index: built whole, and as good as a scanned one */
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, NULL, &st, NULL), 1);
	CU_ASSERT_EQUAL(st.arrived, 4);
	CU_ASSERT_EQUAL(st.changed, 1);
	index = unit_open(root);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 3);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	snprintf(path, sizeof(path), "%s/new/5.M5P5.h", root);
	CU_ASSERT_EQUAL(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/%s", root, CS_DB_NAME);
	CU_ASSERT_EQUAL(unlink(path), 0);
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, NULL, &st, NULL), 1);
	CU_ASSERT_EQUAL(st.arrived, 4);
	snprintf(path, sizeof(path), "%s/%s", root, CS_DB_NAME);
	CU_ASSERT_EQUAL(lstat(path, &sb), 0);
	CU_ASSERT_EQUAL(sb.st_mode & 07777, 0600);
	index = unit_open(root);
	CU_ASSERT_EQUAL(check(index, false), 0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "Work", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 1);
	cs_mailbox_close(&box);
	cs_index_close(&index);

	/* an index exists: nothing done */
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, NULL, &st, NULL), 0);
	CU_ASSERT_EQUAL(st.files, 0);

	/* an index appears while building: it wins, untouched */
	CU_ASSERT_EQUAL(unlink(path), 0);
	rival.root = root;
	sset.progress = rival_progress;
	sset.progress_ctx = &rival;
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, &sset, &st, NULL), 0);
	CU_ASSERT(rival.done);
	CU_ASSERT_EQUAL(st.files, 0);
	index = unit_open(root);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 4);
	cs_mailbox_close(&box);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "Work", false, 0, 0, &box,
					NULL), 0);
	/* the ordinary reindex then completes it */
	memset(&st, 0, sizeof(st));
	CU_ASSERT_OK(cs_maildir_scan_all(index, NULL, NULL, &st, CU_ERR));
	CU_ASSERT_EQUAL(st.arrived, 1);
	CU_ASSERT_EQUAL(check(index, false), 0);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The names of a mailbox for the listing tests: in Dovecot's order,
   created in another, half in new/ and half in cur/. */
static const char *const listed_names[] = {
	"100.M3P9.h", "100.M5P1.h", "100.M20P1.h", "200.M2P1.h",
	"300.M1P1.h", "300.h", "1000.M0P0.h", "1001.M0P0.h"
};
#define LISTED_COUNT 8

/* A mailbox of the listed names, plus what is not a message: a symlink,
   a FIFO, a dot file, a directory. */
static void make_listed_maildir(const char *dir)
{
	static const unsigned int create_order[] = { 4, 1, 6, 0, 7, 3, 5, 2 };
	char path[4200], name[64];
	unsigned int i, n;

	for (i = 0; i < LISTED_COUNT; i++) {
		n = create_order[i];
		snprintf(name, sizeof(name), "%s%s", listed_names[n],
			 i % 2 == 0 ? ":2,S" : "");
		unit_touch(dir, i % 2 == 0 ? "cur" : "new", name);
	}
	snprintf(path, sizeof(path), "%s/cur/7.M7P7.h:2,S", dir);
	CU_ASSERT_EQUAL(symlink("/etc/passwd", path), 0);
	snprintf(path, sizeof(path), "%s/cur/8.M8P8.h:2,S", dir);
	CU_ASSERT_EQUAL(mkfifo(path, 0600), 0);
	unit_touch(dir, "new", ".hidden");
	snprintf(path, sizeof(path), "%s/new/9.M9P9.h", dir);
	CU_ASSERT_EQUAL(mkdir(path, 0700), 0);
}

/* The census lists each directory once: the entries that are not dot
   files, each with its type, new/'s before cur/'s. */
static void test_census_listing(void)
{
	char root[4096], path[4200];
	struct cs_maildir_census census;
	const struct cs_listing *ls;
	const struct cs_listing_entry *e;
	unsigned int regular = 0, links = 0, fifos = 0, dirs = 0;
	uint64_t full_kept;
	size_t i, pos = 0;

	unit_make_root(root, sizeof(root));
	make_listed_maildir(root);
	snprintf(path, sizeof(path), "%s/.Work", root);
	unit_make_maildir(path);
	unit_touch(path, "cur", "5.M5P5.h:2,F");

	cs_maildir_census(root, ':', CS_LISTING_BUDGET, &census);
	CU_ASSERT_EQUAL(census.files, LISTED_COUNT + 3 + 1);
	full_kept = census.kept;
	CU_ASSERT(full_kept > 0);
	CU_ASSERT_EQUAL(census.nlistings, 2);
	ls = cs_census_listing(&census, "INBOX", &pos);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
	CU_ASSERT_EQUAL(ls->count, LISTED_COUNT + 3);
	CU_ASSERT_EQUAL(ls->start[CS_LOC_NEW], 0);
	CU_ASSERT_EQUAL(ls->start[CS_LOC_CUR], LISTED_COUNT / 2 + 1);
	CU_ASSERT_EQUAL(ls->start[2], ls->count);
	for (i = 0; i < ls->count; i++) {
		e = &ls->entries[i];
		CU_ASSERT(ls->names[e->name] != '.');
		regular += e->type == DT_REG;
		links += e->type == DT_LNK;
		fifos += e->type == DT_FIFO;
		dirs += e->type == DT_DIR;
		if (e->type == DT_DIR)
			CU_ASSERT(i < ls->start[CS_LOC_CUR]);
		if (e->type == DT_LNK || e->type == DT_FIFO)
			CU_ASSERT(i >= ls->start[CS_LOC_CUR]);
	}
	CU_ASSERT_EQUAL(regular, LISTED_COUNT);
	CU_ASSERT_EQUAL(links + fifos + dirs, 3);
	/* in the census's order, each at once; a name it never saw: none */
	ls = cs_census_listing(&census, "Work", &pos);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ls);
	CU_ASSERT_EQUAL(ls->count, 1);
	CU_ASSERT_STRING_EQUAL(ls->names + ls->entries[0].name,
			       "5.M5P5.h:2,F");
	CU_ASSERT_PTR_NULL(cs_census_listing(&census, "Other", &pos));
	cs_maildir_census_free(&census);
	CU_ASSERT_EQUAL(census.kept, 0);

	/* a budget one byte short: a mailbox is only counted */
	cs_maildir_census(root, ':', full_kept - 1, &census);
	CU_ASSERT_EQUAL(census.files, LISTED_COUNT + 3 + 1);
	CU_ASSERT(census.kept < full_kept);
	pos = 0;
	CU_ASSERT(cs_census_listing(&census, "INBOX", &pos) == NULL ||
		  cs_census_listing(&census, "Work", &pos) == NULL);
	cs_maildir_census_free(&census);
	CU_ASSERT_EQUAL(census.kept, 0);

	/* counted only */
	cs_maildir_census(root, ':', 0, &census);
	CU_ASSERT_EQUAL(census.files, LISTED_COUNT + 3 + 1);
	CU_ASSERT_EQUAL(census.nlistings, 0);
	cs_maildir_census_free(&census);
	unit_remove_tree(root);
}

/* A first build reads its names from the census's listing: it finds what
   a scan of the directories finds, warns alike, and gives the UIDs
   Dovecot will give. */
static void test_build_from_listing(void)
{
	char root[4096], other[4300];
	struct cs_index_settings set = { 0 };
	struct warnings w_build = { 0 }, w_scan = { 0 };
	struct cs_scan_settings sset = { .warn = warn_cb,
					 .warn_ctx = &w_build };
	struct cs_scan_stats st_build, st_scan;
	struct cs_index *built, *scanned;
	struct cs_mailbox *a, *b;
	struct cs_message ma, mb;
	unsigned int i;

	unit_make_root(root, sizeof(root));
	make_listed_maildir(root);
	set.root = root;
	memset(&st_build, 0, sizeof(st_build));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, &sset, &st_build, NULL),
			1);
	CU_ASSERT_EQUAL(st_build.arrived, LISTED_COUNT);
	CU_ASSERT_EQUAL(st_build.files, LISTED_COUNT);
	CU_ASSERT_EQUAL(st_build.skipped, 1);	/* the symlink */
	CU_ASSERT_EQUAL(w_build.count, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(w_build.last, "symlink skipped"));

	/* the same Maildir scanned from its directories into another
	   index */
	snprintf(other, sizeof(other), "%s/other.tdb", root);
	set.db_path = other;
	scanned = unit_open_set(&set);
	CU_ASSERT_OK(scan(scanned, "INBOX", &st_scan, &w_scan));
	CU_ASSERT_EQUAL(st_scan.arrived, st_build.arrived);
	CU_ASSERT_EQUAL(st_scan.files, st_build.files);
	CU_ASSERT_EQUAL(st_scan.skipped, st_build.skipped);
	CU_ASSERT_STRING_EQUAL(w_scan.last, w_build.last);

	built = unit_open(root);
	CU_ASSERT_EQUAL(check(built, false), 0);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(built, "INBOX", false, 0, 0,
					      &a, NULL), 1);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(scanned, "INBOX", false, 0, 0,
					      &b, NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(a)->messages, LISTED_COUNT);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(a)->uidnext, LISTED_COUNT + 1);
	for (i = 0; i < LISTED_COUNT; i++) {
		CU_ASSERT_EQUAL_FATAL(cs_message_lookup_uid(a, i + 1, &ma,
							    NULL), 1);
		CU_ASSERT_EQUAL_FATAL(cs_message_lookup_uid(b, i + 1, &mb,
							    NULL), 1);
		/* Dovecot's order */
		CU_ASSERT_STRING_EQUAL(ma.base, listed_names[i]);
		CU_ASSERT_STRING_EQUAL(mb.base, ma.base);
		CU_ASSERT_STRING_EQUAL(mb.suffix, ma.suffix);
		CU_ASSERT_EQUAL(mb.rec.location, ma.rec.location);
		CU_ASSERT_EQUAL(mb.rec.flags, ma.rec.flags);
	}
	cs_mailbox_close(&a);
	cs_mailbox_close(&b);
	cs_index_close(&built);
	cs_index_close(&scanned);
	unit_remove_tree(root);
}

struct sort_elem {
	struct cs_uidorder_key key;
	uint32_t n;
};

/* cs_uidorder_sort() gives qsort()'s order: names of few seconds (many
   ties), of timestamps up to 2^63 (four radix passes), with and
   without microseconds. */
static void sort_case(unsigned int count, uint64_t secs_mod, bool usecs)
{
	struct sort_elem *a = calloc(count, sizeof(*a));
	struct sort_elem *b = calloc(count, sizeof(*b));
	char name[128];
	unsigned int i;
	uint64_t x = 88172645463325252ULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (i = 0; i < count; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (usecs)
			snprintf(name, sizeof(name), "%llu.M%uP%u.host",
				 (unsigned long long)(x % secs_mod),
				 (unsigned int)(x >> 40) % 1000000, i);
		else
			snprintf(name, sizeof(name), "%llu.%x_%u.host",
				 (unsigned long long)(x % secs_mod),
				 (unsigned int)(x >> 44), i);
		cs_uidorder_key(name, strlen(name), &a[i].key);
		a[i].n = i;
	}
	memcpy(b, a, count * sizeof(*a));
	qsort(a, count, sizeof(*a), cs_uidorder_cmp);
	cs_uidorder_sort(b, count, sizeof(*b));
	for (i = 0; i < count; i++) {
		if (a[i].n != b[i].n) {
			CU_FAIL("cs_uidorder_sort differs from qsort");
			break;
		}
	}
	free(a);
	free(b);
}

static void test_uidorder_sort(void)
{
	sort_case(20000, 50, true);
	sort_case(20000, 50, false);
	sort_case(20000, 1700000000, true);
	sort_case(20000, 1ULL << 63, true);
	sort_case(100, 1700000000, true);	/* qsort alone */
}

/* The free space of the index in root, in bytes, from tdb's summary
   ("Number of free records", "Smallest/average/largest free records");
   *file_r: the file's size. */
static uint64_t index_free_bytes(const char *root, uint64_t *file_r)
{
	struct cs_index *index = unit_open(root);
	char *sum = tdb_summary(index->tdb);
	const char *p;
	unsigned long count = 0, small = 0, avg = 0;
	struct stat sb;

	CU_ASSERT_FATAL(sum != NULL);
	p = strstr(sum, "Number of free records: ");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT(sscanf(p, "Number of free records: %lu", &count) == 1);
	p = strstr(sum, "Smallest/average/largest free records: ");
	CU_ASSERT_FATAL(p != NULL);
	CU_ASSERT(sscanf(p, "Smallest/average/largest free records: %lu/%lu",
			 &small, &avg) == 2);
	CU_ASSERT_EQUAL(fstat(tdb_fd(index->tdb), &sb), 0);
	*file_r = (uint64_t)sb.st_size;
	free(sum);
	cs_index_close(&index);
	return (uint64_t)count * avg;
}

/* A first build of files whose base names are base_len long: the file
   holds its records and the room for what follows, not much more, and
   its records are those of layout 2, each name stored once. */
static void build_size_case(unsigned int base_len)
{
	char root[4096], name[256];
	struct cs_index_settings set = { 0 };
	struct cs_scan_stats st;
	uint64_t file, free_bytes;
	unsigned int i;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "%u.M%uP1.%0*u:2,S",
			 1600000000 + i, i, (int)base_len - 22, i);
		unit_touch(root, "cur", name);
	}
	set.root = root;
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, NULL, &st, NULL), 1);
	CU_ASSERT_EQUAL(st.arrived, 20000);
	free_bytes = index_free_bytes(root, &file);
	/* 5% of room, 64 kB and what the estimate misses */
	CU_ASSERT(free_bytes <= file * 7 / 100 + 65536);
	if (free_bytes > file * 7 / 100 + 65536)
		fprintf(stderr, "base names of %u: %llu of %llu bytes free\n",
			base_len, (unsigned long long)free_bytes,
			(unsigned long long)file);
	/* layout 2 (cs-record.h): the name (and its suffix of 4) once and
	   about 22 bytes of its own per message, tdb's quarter of padding
	   on both, 16 for the 5% of room and the records shared by 32 or
	   256 messages; layout 1 took three names and three records (230
	   bytes a message at base names of 30, where this allows 86) */
	CU_ASSERT(file <= 20000 * (5 * ((uint64_t)base_len + 26) / 4 + 16) +
		  131072);
	if (file > 20000 * (5 * ((uint64_t)base_len + 26) / 4 + 16) + 131072)
		fprintf(stderr, "base names of %u: %llu bytes for 20000 "
			"messages\n", base_len, (unsigned long long)file);
	unit_remove_tree(root);
}

static void test_build_size(void)
{
	build_size_case(30);
	build_size_case(120);
}

struct walk {
	int count;
	uint64_t last;			/* modseqs must come down */
	bool descending;
	uint32_t uid;			/* with expunges: the last UID */
};

static int walk_cb(void *ctx, const struct cs_message *msg,
		   struct cs_error *err)
{
	struct walk *w = ctx;

	(void)err;
	if (w->count > 0 && msg->rec.modseq >= w->last)
		w->descending = false;
	w->last = msg->rec.modseq;
	w->count++;
	return 0;
}

static int walk_exp_cb(void *ctx, uint32_t uid, uint64_t modseq,
		       struct cs_error *err)
{
	struct walk *w = ctx;

	(void)modseq;
	(void)err;
	w->uid = uid;
	w->count++;
	return 0;
}

static int changes(struct cs_mailbox *box, uint64_t since)
{
	struct walk w = { .descending = true };

	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_OK(cs_changes_since(box, since, walk_cb, &w, CU_ERR));
	CU_ASSERT(w.descending);
	return w.count;
}

/* A first build writes one change-log record per run of 256 modseqs;
   walks, changes inside runs, expunges and check all see through it. */
static void test_change_runs(void)
{
	char root[4096], name[64], from[600], to[600], path[4700];
	struct cs_index_settings set = { 0 };
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct warnings w = { 0 };
	struct cs_message msg;
	struct walk ex = { 0 };
	uint64_t hms;
	int i;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < 600; i++) {
		snprintf(name, sizeof(name), "%d.M%dP%d.run:2,", 1700000000 + i,
			 i * 7, i);
		unit_touch(root, "cur", name);
	}
	set.root = root;
	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL(cs_maildir_build_index(&set, NULL, &st, NULL), 1);
	index = unit_open(root);
	CU_ASSERT_EQUAL(check(index, false), 0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	/* runs of 256, 256 and 88: walks stop inside them */
	CU_ASSERT_EQUAL(changes(box, hms - 1), 1);
	CU_ASSERT_EQUAL(changes(box, hms - 88), 88);
	CU_ASSERT_EQUAL(changes(box, hms - 89), 89);
	CU_ASSERT_EQUAL(changes(box, hms - 300), 300);
	CU_ASSERT_EQUAL(changes(box, hms - 600), 600);
	CU_ASSERT_EQUAL(changes(box, 0), 600);

	/* the message at the top of the last run, and one inside the
	   first, change: their run entries go stale, the run stays */
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 600, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.modseq, hms);
	snprintf(from, sizeof(from), "cur/%s%s", msg.base, msg.suffix);
	snprintf(to, sizeof(to), "cur/%s:2,F", msg.base);
	rename_in(root, from, to);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 100, &msg, NULL), 1);
	snprintf(from, sizeof(from), "cur/%s%s", msg.base, msg.suffix);
	snprintf(to, sizeof(to), "cur/%s:2,S", msg.base);
	rename_in(root, from, to);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.changed, 2);
	CU_ASSERT_EQUAL(changes(box, hms), 2);
	CU_ASSERT_EQUAL(changes(box, hms - 1), 2);
	CU_ASSERT_EQUAL(changes(box, hms - 2), 3);
	CU_ASSERT_EQUAL(changes(box, 0), 600);
	CU_ASSERT_EQUAL(check(index, false), 0);

	/* an expunge inside a run */
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 300, &msg, NULL), 1);
	snprintf(path, sizeof(path), "%s/cur/%s%s", root, msg.base,
		 msg.suffix);
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_OK(scan(index, "INBOX", &st, &w));
	CU_ASSERT_EQUAL(st.expunged, 1);
	CU_ASSERT_EQUAL(changes(box, 0), 599);
	CU_ASSERT_OK(cs_expunges_since(box, hms, walk_exp_cb, &ex, CU_ERR));
	CU_ASSERT_EQUAL(ex.count, 1);
	CU_ASSERT_EQUAL(ex.uid, 300);
	CU_ASSERT_EQUAL(check(index, false), 0);

	/* a damaged run: check says so, repair rewrites the log */
	{
		uint8_t key[13], bad[] = { CS_CHANGE_RUN, 5, 0 };
		TDB_DATA k = { key, sizeof(key) }, d = { bad, sizeof(bad) };

		key[0] = CS_KEY_CHANGE;
		cs_put_be32(key + 1, cs_mailbox_get_rec(box)->id);
		cs_put_be64(key + 5, hms - 88);
		CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
		CU_ASSERT_EQUAL(tdb_store(index->tdb, k, d,
					  TDB_REPLACE), 0);
		CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	}
	CU_ASSERT(check(index, false) > 0);
	CU_ASSERT(check(index, true) > 0);
	CU_ASSERT_EQUAL(check(index, false), 0);
	CU_ASSERT_EQUAL(changes(box, 0), 599);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

void suite_scan_register(void)
{
	CU_pSuite s = CU_add_suite("maildir scan, store, check", NULL, NULL);

	CU_add_test(s, "scan finds exactly the changes", test_scan_changes);
	CU_add_test(s, "conditional store", test_store_cas);
	CU_add_test(s, "dovecot-uidlist and folders",
		    test_uidlist_and_folders);
	CU_add_test(s, "own UIDs in Dovecot's order, kept by the switch",
		    test_uids_in_dovecot_order);
	CU_add_test(s, "check and repair", test_check_repair);
	CU_add_test(s, "the digest: quick scans, check, old records",
		    test_scan_digest);
	CU_add_test(s, "building a first index off to the side",
		    test_build_index);
	CU_add_test(s, "Dovecot's order of new names, sorted fast",
		    test_uidorder_sort);
	CU_add_test(s, "the census lists each directory once",
		    test_census_listing);
	CU_add_test(s, "a first build reads the census's listing",
		    test_build_from_listing);
	CU_add_test(s, "change-log runs of a first build", test_change_runs);
	CU_add_test(s, "a first build's file: its records and some room",
		    test_build_size);
}
