/*
 * test-index.c - the index on a real tdb: the reconcile rule, the change
 * log walk, tombstones, counter seeding and the high-water mark, rebuild
 * and a damaged file, and the probe for other processes' locks.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs-hash.h"
#include "cs-index-private.h"
#include "unit.h"

static struct cs_disk_state disk_state(const char *suffix, uint8_t loc,
				       uint32_t uid)
{
	struct cs_disk_state d = { .present = true, .location = loc,
				   .suffix = suffix, .uid = uid };
	struct cs_name name;
	char tmp[300];

	snprintf(tmp, sizeof(tmp), "x%s", suffix);
	if (cs_name_parse(tmp, ':', &name, NULL) == 0)
		d.flags = name.flags;
	return d;
}

static int reconcile(struct cs_mailbox *box, const char *base,
		     const struct cs_disk_state *d, struct cs_message *msg)
{
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	ret = cs_reconcile(box, base, strlen(base), d, msg, &err);
	if (ret < 0)
		fprintf(stderr, "reconcile: %s\n", err.text);
	return ret;
}

static struct cs_mailbox *open_box(struct cs_index *index, const char *name)
{
	struct cs_mailbox *box = NULL;

	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, name, true,
					      CS_UIDSRC_OWN, 0, &box, NULL),
			      1);
	return box;
}

struct collect {
	uint32_t uids[64];
	uint64_t modseqs[64];
	int count;
};

static int collect_msg(void *ctx, const struct cs_message *msg,
		       struct cs_error *err)
{
	struct collect *c = ctx;

	(void)err;
	if (c->count < 64) {
		c->uids[c->count] = msg->rec.uid;
		c->modseqs[c->count] = msg->rec.modseq;
	}
	c->count++;
	return 0;
}

static int collect_exp(void *ctx, uint32_t uid, uint64_t modseq,
		       struct cs_error *err)
{
	struct collect *c = ctx;

	(void)err;
	if (c->count < 64) {
		c->uids[c->count] = uid;
		c->modseqs[c->count] = modseq;
	}
	c->count++;
	return 0;
}

static void test_reconcile_rule(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_message msg;
	struct cs_disk_state d;
	struct collect c;
	uint64_t m1, m2, hms;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	/* the counter starts above the clock: nothing issued before can be
	   reissued even if an older index existed */
	CU_ASSERT(cs_mailbox_get_rec(box)->highestmodseq >
		  UINT64_C(1600000000000000));

	d = disk_state("", CS_LOC_NEW, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 1);
	m1 = msg.rec.modseq;
	CU_ASSERT_EQUAL(m1, cs_mailbox_get_rec(box)->highestmodseq);
	/* idempotent */
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 0);
	CU_ASSERT_EQUAL(msg.rec.modseq, m1);
	/* new -> cur without flags: recorded, no new modseq */
	d = disk_state(":2,", CS_LOC_CUR, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 0);
	CU_ASSERT_EQUAL(msg.rec.location, CS_LOC_CUR);
	CU_ASSERT_STRING_EQUAL(msg.suffix, ":2,");
	CU_ASSERT_EQUAL(msg.rec.modseq, m1);
	/* a flag change gets the next modseq; the old pair is kept */
	d = disk_state(":2,S", CS_LOC_CUR, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1);
	m2 = msg.rec.modseq;
	CU_ASSERT_EQUAL(m2, m1 + 1);
	CU_ASSERT_EQUAL(msg.rec.prev_modseq, m1);
	CU_ASSERT_EQUAL(msg.rec.prev_flags, 0);
	CU_ASSERT_EQUAL(msg.rec.flags, CS_FLAG_SEEN);
	/* unsorted letters, same flags: suffix recorded, no new modseq */
	d = disk_state(":2,S", CS_LOC_CUR, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 0);

	d = disk_state("", CS_LOC_NEW, 0);
	CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 2);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 2);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));

	/* CHANGEDSINCE m1: a (m2) and b (m2+1), not a's old entry */
	memset(&c, 0, sizeof(c));
	CU_ASSERT_OK(cs_changes_since(box, m1, collect_msg, &c, CU_ERR));
	CU_ASSERT_EQUAL(c.count, 2);
	CU_ASSERT_EQUAL(c.uids[0], 2);	/* descending modseq */
	CU_ASSERT_EQUAL(c.uids[1], 1);
	CU_ASSERT_EQUAL(c.modseqs[1], m2);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_OK(cs_changes_since(box, m2 + 1, collect_msg, &c, CU_ERR));
	CU_ASSERT_EQUAL(c.count, 0);
	/* since 0 walks through the seeding jump in one step */
	memset(&c, 0, sizeof(c));
	CU_ASSERT_OK(cs_changes_since(box, 0, collect_msg, &c, CU_ERR));
	CU_ASSERT_EQUAL(c.count, 2);

	/* expunge: tombstone with a fresh modseq */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	d.present = false;
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.modseq, 0);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->highestmodseq, hms + 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 1);
	/* expunging again changes nothing */
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 0);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	memset(&c, 0, sizeof(c));
	CU_ASSERT_OK(cs_expunges_since(box, hms, collect_exp, &c, CU_ERR));
	CU_ASSERT_EQUAL(c.count, 1);
	CU_ASSERT_EQUAL(c.uids[0], 1);
	CU_ASSERT_EQUAL(c.modseqs[0], hms + 1);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_OK(cs_changes_since(box, 0, collect_msg, &c, CU_ERR));
	CU_ASSERT_EQUAL(c.count, 1);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 1, &msg, NULL), 0);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 2, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "b");

	cs_mailbox_close(&box);
	CU_ASSERT_PTR_NULL(box);
	cs_index_close(&index);
	CU_ASSERT_PTR_NULL(index);
	unit_remove_tree(root);
}

static void test_writes_need_transaction(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_disk_state d = disk_state("", CS_LOC_NEW, 0);
	struct cs_message msg;
	struct cs_error err;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	cs_error_clear(&err);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", true, 0, 0, &box,
					&err), -1);
	CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	CU_ASSERT_EQUAL(cs_index_begin(index, &err), -1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_reconcile(box, "a", 1, &d, NULL, &err), -1);
	/* a rolled-back change leaves nothing behind */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, NULL), 1);
	cs_index_rollback(index);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, 0);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "a", 1, &msg, NULL), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static uint64_t hms_of(const char *root, const char *name)
{
	struct cs_index *index = unit_open(root);
	struct cs_mailbox *box = NULL;
	uint64_t hms = 0;

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	if (cs_mailbox_open(index, name, true, 0, 0, &box, NULL) == 1)
		hms = cs_mailbox_get_rec(box)->highestmodseq;
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_mailbox_close(&box);
	cs_index_close(&index);
	return hms;
}

/* Push a mailbox's counter far into the future, as a long life would. */
static uint64_t bump_far(const char *root)
{
	struct cs_index *index = unit_open(root);
	struct cs_mailbox *box;
	struct cs_disk_state d = disk_state("", CS_LOC_NEW, 0);
	uint64_t seed, hms;

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	seed = cs_mailbox_get_rec(box)->highestmodseq +
		UINT64_C(1000000000000);
	CU_ASSERT_OK(cs_mailbox_raise(box, seed, CU_ERR));
	CU_ASSERT_EQUAL(reconcile(box, "m", &d, NULL), 1);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	CU_ASSERT_EQUAL(hms, seed + 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_mailbox_close(&box);
	cs_index_close(&index);
	return hms;
}

static void test_hwm_survives_loss(void)
{
	char root[4096], db[4200], hwm[4200];
	uint64_t far, again;
	struct stat st;

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	snprintf(hwm, sizeof(hwm), "%s/condstore.tdb.hwm", root);
	far = bump_far(root);
	CU_ASSERT_EQUAL(lstat(db, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_EQUAL(lstat(hwm, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);

	/* the tdb is lost: the new counter starts above the old one */
	CU_ASSERT_EQUAL(unlink(db), 0);
	again = hms_of(root, "INBOX");
	CU_ASSERT(again > far);

	/* rebuild: above everything, even with the hwm file gone as long
	   as the old tdb is readable */
	far = bump_far(root);
	CU_ASSERT_EQUAL(unlink(hwm), 0);
	{
		struct cs_index_settings set = { .root = root };

		CU_ASSERT_OK(cs_index_rebuild(&set, CU_ERR));
	}
	again = hms_of(root, "INBOX");
	CU_ASSERT(again > far);
	unit_remove_tree(root);
}

static void test_damaged_tdb(void)
{
	char root[4096], db[4200];
	struct cs_index_settings set = { .root = NULL };
	struct cs_index *index = NULL;
	struct cs_mailbox *box;
	struct cs_error err;
	struct stat st;
	uint64_t far, again;
	int i, failed = 0;

	unit_make_root(root, sizeof(root));
	set.root = root;
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	for (i = 0; i < 2000; i++) {
		char base[32];
		struct cs_disk_state d = disk_state(":2,S", CS_LOC_CUR, 0);

		snprintf(base, sizeof(base), "msg%d", i);
		CU_ASSERT_EQUAL(reconcile(box, base, &d, NULL), 1);
	}
	far = cs_mailbox_get_rec(box)->highestmodseq;
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_mailbox_close(&box);
	cs_index_close(&index);

	CU_ASSERT_EQUAL(stat(db, &st), 0);
	CU_ASSERT_EQUAL(truncate(db, st.st_size / 2), 0);
	/* opening or using it gives a clear error naming the remedy */
	cs_error_clear(&err);
	if (cs_index_open(&set, &index, &err) < 0) {
		failed = 1;
	} else {
		struct cs_check_settings cset = { .repair = false };

		if (cs_check(index, NULL, &cset, &err) != 0)
			failed = 1;
		cs_index_close(&index);
	}
	CU_ASSERT_EQUAL(failed, 1);
	if (err.code != CS_OK)
		CU_ASSERT(strstr(err.text, "--rebuild") != NULL);
	CU_ASSERT_OK(cs_index_rebuild(&set, &err));
	again = hms_of(root, "INBOX");
	CU_ASSERT(again > far);
	unit_remove_tree(root);
}

static void test_uid_source_and_seq(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_message msg;
	struct cs_disk_state d;
	uint64_t m;
	uint32_t seq;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	d = disk_state(":2,S", CS_LOC_CUR, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1);
	CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 1);
	m = msg.rec.modseq;
	CU_ASSERT_OK(cs_mailbox_set_uid_source(box, CS_UIDSRC_DOVECOT, 1234,
					       10, NULL, NULL, NULL, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup(box, "b", 1, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	/* learning Dovecot's UID does not change the modseq */
	d = disk_state(":2,S", CS_LOC_CUR, 7);
	CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 0);
	CU_ASSERT_EQUAL(msg.rec.uid, 7);
	CU_ASSERT_EQUAL(msg.rec.modseq, m);
	d = disk_state(":2,S", CS_LOC_CUR, 3);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 0);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidvalidity, 1234);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 10);
	/* a new message in Dovecot mode waits for its UID */
	d = disk_state("", CS_LOC_NEW, 0);
	CU_ASSERT_EQUAL(reconcile(box, "c", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));

	CU_ASSERT_EQUAL(cs_message_seq(box, 3, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 1);
	CU_ASSERT_EQUAL(cs_message_seq(box, 7, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 2);
	CU_ASSERT_EQUAL(cs_message_seq(box, 5, &seq, NULL), 0);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 7, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "b");
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* Two names a caller's map gives one UID (the map looks names up by a
   hash, and theirs is the same) get a UID each: on own UIDs the second
   takes the next one, on Dovecot's none (the plugin teaches it); and a
   record does not learn a UID another live message has. */
static void test_uid_told_twice(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box, *dbox;
	struct cs_message msg;
	struct cs_disk_state d;
	struct cs_error err;
	uint32_t seq;

	cs_error_clear(&err);
	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	box->rec.uidnext = 10;	/* as a scan reserves its predictions */
	d = disk_state(":2,S", CS_LOC_CUR, 5);
	CU_ASSERT_EQUAL(cs_reconcile_arrival(box, "a", 1, &d, &msg, &err),
			1);
	CU_ASSERT_EQUAL(msg.rec.uid, 5);
	/* the probe's path: the record written before the UID is mapped */
	CU_ASSERT_EQUAL(cs_reconcile_arrival(box, "b", 1, &d, &msg, &err),
			1);
	CU_ASSERT_EQUAL(msg.rec.uid, 10);
	/* the looked-up path */
	CU_ASSERT_EQUAL(reconcile(box, "c", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 11);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 12);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 5, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "a");
	CU_ASSERT_EQUAL(cs_message_lookup(box, "b", 1, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 10);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 10, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "b");
	CU_ASSERT_EQUAL(cs_message_seq(box, 11, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 3);

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	dbox = open_box(index, "Dovecot");
	CU_ASSERT_OK(cs_mailbox_set_uid_source(dbox, CS_UIDSRC_DOVECOT, 9, 1,
					       NULL, NULL, NULL, CU_ERR));
	d = disk_state("", CS_LOC_NEW, 3);
	CU_ASSERT_EQUAL(cs_reconcile_arrival(dbox, "x", 1, &d, &msg, &err),
			1);
	CU_ASSERT_EQUAL(msg.rec.uid, 3);
	CU_ASSERT_EQUAL(cs_reconcile_arrival(dbox, "y", 1, &d, &msg, &err),
			1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	/* y does not learn x's UID later either; its own it does */
	CU_ASSERT_EQUAL(reconcile(dbox, "y", &d, &msg), 0);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	d = disk_state("", CS_LOC_NEW, 4);
	/* new to a client: recorded after the switch, a new modseq */
	CU_ASSERT_EQUAL(reconcile(dbox, "y", &d, &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 4);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup_uid(dbox, 3, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "x");
	CU_ASSERT_EQUAL(cs_message_seq(dbox, 4, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 2);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(dbox)->messages, 2);
	cs_mailbox_close(&dbox);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static void test_mailbox_rename_delete(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_disk_state d = disk_state(":2,S", CS_LOC_CUR, 0);
	struct cs_message msg;
	uint32_t uv;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "A");
	CU_ASSERT_EQUAL(reconcile(box, "x", &d, NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_mailbox_close(&box);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_rename(index, "A", "B", NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "A", false, 0, 0, &box, NULL),
			0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "B", false, 0, 0, &box, NULL),
			1);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "x", 1, &msg, NULL), 1);
	uv = cs_mailbox_get_rec(box)->uidvalidity;
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_delete(index, "B", NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup(box, "x", 1, &msg, NULL), 0);
	cs_mailbox_close(&box);
	/* recreated within the same second: a new UIDVALIDITY all the same */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "B");
	CU_ASSERT(cs_mailbox_get_rec(box)->uidvalidity > uv);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The switch to Dovecot's UIDs keeps every UID Dovecot agrees with and
   clears the others, also when two messages trade UIDs. */
static uint32_t switch_uid_of(void *ctx, const char *base, size_t len)
{
	(void)ctx;
	return len != 1 ? 0 : base[0] == 'a' ? 1 : base[0] == 'b' ? 3 :
		base[0] == 'c' ? 2 : 0;
}

static void test_uid_switch_keeps(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_message msg;
	struct cs_disk_state d;
	uint64_t modseq_b, digest;
	uint32_t seq;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	d = disk_state(":2,S", CS_LOC_CUR, 0);
	CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1);	/* UID 1 */
	CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 1);	/* 2 */
	modseq_b = msg.rec.modseq;
	CU_ASSERT_EQUAL(reconcile(box, "c", &d, &msg), 1);	/* 3 */
	CU_ASSERT_EQUAL(reconcile(box, "d", &d, &msg), 1);	/* 4 */
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_OK(cs_mailbox_set_uid_source(box, CS_UIDSRC_DOVECOT, 77, 4,
					       switch_uid_of, NULL, NULL, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_lookup(box, "a", 1, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 1);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "b", 1, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	CU_ASSERT_EQUAL(cs_message_lookup(box, "d", 1, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 3, &msg, NULL), 0);
	/* b and c trade UIDs: neither is taken while the other holds it */
	d = disk_state(":2,S", CS_LOC_CUR, 3);
	CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 0);
	CU_ASSERT_EQUAL(msg.rec.modseq, modseq_b);
	d = disk_state(":2,S", CS_LOC_CUR, 2);
	CU_ASSERT_EQUAL(reconcile(box, "c", &d, &msg), 0);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidvalidity, 77);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 4);
	digest = cs_mailbox_get_rec(box)->digest;
	CU_ASSERT_OK(cs_mailbox_digest_rebuild(box, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->digest, digest);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));

	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 3, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "b");
	CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 2, &msg, NULL), 1);
	CU_ASSERT_STRING_EQUAL(msg.base, "c");
	CU_ASSERT_EQUAL(cs_message_seq(box, 3, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 3);
	CU_ASSERT_EQUAL(cs_message_seq(box, 4, &seq, NULL), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* When the mailbox's uid_sum says every UID agrees, the switch reads no
   record: uid_of is not called, the digest takes the UIDs' terms, and the
   mailbox is what the message-by-message switch leaves.  A tally that
   disagrees (one name with another UID) takes the long way. */
struct counted_uid_of {
	unsigned int calls;
	uint32_t b_uid;
};

static uint32_t counted_uid_of(void *ctx, const char *base, size_t len)
{
	struct counted_uid_of *c = ctx;

	c->calls++;
	return len != 1 ? 0 : base[0] == 'a' ? 1 : base[0] == 'b' ? c->b_uid :
		base[0] == 'c' ? 3 : 0;
}

static uint64_t name_uid_term(const char *base, uint32_t uid)
{
	return cs_uid_term(cs_name_hash(base, strlen(base)), uid);
}

static void test_uid_switch_quick(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_message msg;
	struct cs_disk_state d;
	struct counted_uid_of c = { 0, 2 };
	struct cs_uid_tally tally;
	uint64_t digest, uid_sum, hms;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		unit_make_root(root, sizeof(root));
		index = unit_open(root);
		CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
		box = open_box(index, "INBOX");
		d = disk_state(":2,S", CS_LOC_CUR, 0);
		CU_ASSERT_EQUAL(reconcile(box, "a", &d, &msg), 1); /* UID 1 */
		CU_ASSERT_EQUAL(reconcile(box, "b", &d, &msg), 1); /* 2 */
		CU_ASSERT_EQUAL(reconcile(box, "c", &d, &msg), 1); /* 3 */
		CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
		uid_sum = name_uid_term("a", 1) + name_uid_term("b", 2) +
			name_uid_term("c", 3);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_sum, uid_sum);
		hms = cs_mailbox_get_rec(box)->highestmodseq;

		/* pass 0: dovecot-uidlist agrees; pass 1: it gives b UID 4
		   (as if b had been expunged and delivered again) */
		c.calls = 0;
		c.b_uid = pass == 0 ? 2 : 4;
		tally.count = 3;
		tally.sum = name_uid_term("a", 1) +
			name_uid_term("b", c.b_uid) + name_uid_term("c", 3);
		CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
		CU_ASSERT_OK(cs_mailbox_set_uid_source(box, CS_UIDSRC_DOVECOT,
						       99, 5, counted_uid_of,
						       &c, &tally, CU_ERR));
		CU_ASSERT_EQUAL(c.calls, pass == 0 ? 0 : 3);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_source,
				CS_UIDSRC_DOVECOT);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidvalidity, 99);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 5);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->horizon, hms);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_sum,
				pass == 0 ? uid_sum :
				name_uid_term("a", 1) + name_uid_term("c", 3));
		CU_ASSERT_EQUAL(cs_message_lookup(box, "b", 1, &msg, NULL), 1);
		CU_ASSERT_EQUAL(msg.rec.uid, pass == 0 ? 2 : 0);
		/* the digest is the one the records give */
		digest = cs_mailbox_get_rec(box)->digest;
		uid_sum = cs_mailbox_get_rec(box)->uid_sum;
		CU_ASSERT_OK(cs_mailbox_digest_rebuild(box, CU_ERR));
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->digest, digest);
		CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uid_sum, uid_sum);
		CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
		cs_mailbox_close(&box);
		cs_index_close(&index);
		unit_remove_tree(root);
	}
}

static void test_sequence_numbers(void)
{
	static const uint32_t uids[] = { 1, 2, 4095, 4096, 5000, 9000, 70000 };
	char root[4096], base[32];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_disk_state d;
	struct cs_message msg;
	uint32_t seq;
	size_t i;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box = open_box(index, "INBOX");
	CU_ASSERT_OK(cs_mailbox_set_uid_source(box, CS_UIDSRC_DOVECOT, 1, 1,
					       NULL, NULL, NULL, CU_ERR));
	for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
		snprintf(base, sizeof(base), "m%u", uids[i]);
		d = disk_state(":2,S", CS_LOC_CUR, uids[i]);
		CU_ASSERT_EQUAL(reconcile(box, base, &d, NULL), 1);
	}
	/* inside the transaction too */
	CU_ASSERT_EQUAL(cs_message_seq(box, 9000, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 6);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
		CU_ASSERT_EQUAL(cs_message_seq(box, uids[i], &seq, NULL), 1);
		CU_ASSERT_EQUAL(seq, i + 1);
	}
	CU_ASSERT_EQUAL(cs_message_seq(box, 3, &seq, NULL), 0);
	CU_ASSERT_EQUAL(cs_message_seq(box, 100000, &seq, NULL), 0);
	/* an expunge renumbers what follows */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	d.present = false;
	CU_ASSERT_EQUAL(reconcile(box, "m4096", &d, &msg), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_message_seq(box, 4096, &seq, NULL), 0);
	CU_ASSERT_EQUAL(cs_message_seq(box, 70000, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 6);
	CU_ASSERT_EQUAL(cs_message_seq(box, 4095, &seq, NULL), 1);
	CU_ASSERT_EQUAL(seq, 3);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* What another process holds while the probe runs. */
enum probe_holder {
	HOLD_TRANSACTION,	/* a writer's transaction (the library's) */
	HOLD_FCNTL		/* one fcntl lock of type at start */
};

/* Fork a process that takes the lock and holds it until the probe of
   index (in this process) has run; returns the probe's result and its
   error code in *code_r. */
static int probe_while_held(const char *root, struct cs_index *index,
			    enum probe_holder what, short type, off_t start,
			    enum cs_error_code *code_r)
{
	int ready[2], go[2], status, ret;
	struct cs_error err;
	char byte = 0;
	pid_t pid;

	CU_ASSERT_FATAL(pipe(ready) == 0 && pipe(go) == 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct cs_index *other = NULL;
		struct flock fl;
		int fd = -1, ok;

		if (what == HOLD_TRANSACTION) {
			/* tdb refuses a second open of a file it has open
			   in the process, and fork copied the parent's */
			cs_index_close(&index);
			other = unit_open(root);
			ok = cs_index_begin(other, NULL) == 0;
		} else {
			memset(&fl, 0, sizeof(fl));
			fl.l_type = type;
			fl.l_whence = SEEK_SET;
			fl.l_start = start;
			fl.l_len = 1;
			fd = open(cs_index_db_path(index), O_RDWR);
			ok = fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0;
		}
		byte = ok ? 1 : 0;
		if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) < 0)
			_exit(2);
		_exit(ok ? 0 : 1);
	}
	close(ready[1]);
	close(go[0]);
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	CU_ASSERT_EQUAL(byte, 1);
	cs_error_clear(&err);
	ret = cs_index_probe(index, &err);
	*code_r = err.code;
	CU_ASSERT_FATAL(write(go[1], &byte, 1) == 1);
	close(ready[0]);
	close(go[1]);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return ret;
}

static void test_probe_locks(void)
{
	/* tdb's lock offsets (lock.c): the transaction lock at 8, the
	   hash chains from the end of its header (168) on */
	const off_t chain = 168 + 4 * 7;
	enum cs_error_code code;
	struct cs_index *index;
	char root[4096];

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_probe(index, CU_ERR));
	/* another writer's transaction, a read traversal (the transaction
	   lock for reading), a store outside a transaction (a chain for
	   writing): busy, and the error says so */
	CU_ASSERT_EQUAL(probe_while_held(root, index, HOLD_TRANSACTION, 0, 0,
					 &code), -1);
	CU_ASSERT_EQUAL(code, CS_ERR_BUSY);
	CU_ASSERT_EQUAL(probe_while_held(root, index, HOLD_FCNTL, F_RDLCK, 8,
					 &code), -1);
	CU_ASSERT_EQUAL(code, CS_ERR_BUSY);
	CU_ASSERT_EQUAL(probe_while_held(root, index, HOLD_FCNTL, F_WRLCK,
					 chain, &code), -1);
	CU_ASSERT_EQUAL(code, CS_ERR_BUSY);
	/* a reader (a chain for reading) is no obstacle to a transaction */
	CU_ASSERT_EQUAL(probe_while_held(root, index, HOLD_FCNTL, F_RDLCK,
					 chain, &code), 0);
	/* and all of it gone with the other process */
	CU_ASSERT_OK(cs_index_probe(index, CU_ERR));
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The Rss and Size (kB) of the mapping of path's file in smaps: its
   pages mapped in this process, and its length.  Returns 1 found, 0 not. */
static int map_rss(const char *path, unsigned long *rss_r,
		   unsigned long *size_r)
{
	unsigned long start, end, inode, kb;
	char *line = NULL, perms[5];
	size_t n = 0;
	struct stat st;
	bool in = false;
	int found = 0;
	FILE *f;

	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	f = fopen("/proc/self/smaps", "r");
	if (f == NULL)
		return 0;
	while (getline(&line, &n, f) > 0) {
		if (sscanf(line, "%lx-%lx %4s %*x %*x:%*x %lu", &start, &end,
			   perms, &inode) == 4) {
			in = inode == (unsigned long)st.st_ino &&
				perms[3] == 's';
			if (in) {
				found = 1;
				*size_r = (end - start) / 1024;
			}
		} else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			*rss_r = kb;
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* cs_db_prefault maps every page of tdb's map of the index at once: the
   hash table tdb wrote with write() is in the file but not yet in the
   map's page tables; afterwards the whole map is. */
static void test_prefault(void)
{
	char root[4096], db[4200];
	struct cs_index_settings set = { 0 };
	struct cs_index *index;
	unsigned long rss = 0, size = 0;
	struct utsname u;
	unsigned int major = 0, minor = 0;

	unit_make_root(root, sizeof(root));
	set.root = root;
	set.hash_size = 1000003;	/* a 4 MB hash table */
	index = unit_open_set(&set);
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	CU_ASSERT_FATAL(map_rss(db, &rss, &size) == 1);
	CU_ASSERT(size >= 4000);
	/* the premise: most of the map is not faulted in yet */
	CU_ASSERT(rss < size / 2);
	CU_ASSERT_EQUAL(uname(&u), 0);
	(void)sscanf(u.release, "%u.%u", &major, &minor);
	if (cs_db_prefault(index) == 1) {
		CU_ASSERT(map_rss(db, &rss, &size) == 1);
		CU_ASSERT_EQUAL(rss, size);
	} else {
		/* only a kernel without MADV_POPULATE_WRITE may say no */
		CU_ASSERT(major < 5 || (major == 5 && minor < 14));
	}
	cs_index_close(&index);
	unit_remove_tree(root);
}

void suite_index_register(void)
{
	CU_pSuite s = CU_add_suite("index", NULL, NULL);

	CU_add_test(s, "reconcile rule and change log", test_reconcile_rule);
	CU_add_test(s, "tdb's map faulted in at once", test_prefault);
	CU_add_test(s, "writes need a transaction",
		    test_writes_need_transaction);
	CU_add_test(s, "high-water mark survives tdb loss and rebuild",
		    test_hwm_survives_loss);
	CU_add_test(s, "truncated tdb", test_damaged_tdb);
	CU_add_test(s, "Dovecot UIDs and sequence numbers",
		    test_uid_source_and_seq);
	CU_add_test(s, "the switch to Dovecot's UIDs keeps those that agree",
		    test_uid_switch_keeps);
	CU_add_test(s, "the switch to Dovecot's UIDs by their sum",
		    test_uid_switch_quick);
	CU_add_test(s, "a UID told for two names is given once",
		    test_uid_told_twice);
	CU_add_test(s, "sequence numbers", test_sequence_numbers);
	CU_add_test(s, "mailbox rename and delete",
		    test_mailbox_rename_delete);
	CU_add_test(s, "the probe finds other processes' locks",
		    test_probe_locks);
}
