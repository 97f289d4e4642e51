/*
 * test-horizon.c - the expunge horizon: exact VANISHED above it, every
 * UID that is not a message below it (UID gaps of dovecot-uidlist, a
 * hostile UIDNEXT), the messages' UIDs as ranges, pruning by the modseq clock's marks, and pruning
 * killed with SIGKILL at a random moment.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tdb.h>

#include "cs-index-private.h"
#include "unit.h"

#define HOUR_USEC (UINT64_C(3600) * 1000000)

static void scan_all(struct cs_index *index)
{
	struct cs_scan_stats st;

	memset(&st, 0, sizeof(st));
	CU_ASSERT_EQUAL_FATAL(cs_maildir_scan_all(index, NULL, NULL, &st,
						  NULL), 0);
}

static void make_messages(const char *root, unsigned int count)
{
	char name[64];
	unsigned int i;

	for (i = 1; i <= count; i++) {
		snprintf(name, sizeof(name), "%u.M%uP1.horizon:2,", 1700000000 + i,
			 i);
		unit_touch(root, "cur", name);
	}
}

/* Unlink the file of UID uid (a message of box). */
static void unlink_uid(const char *root, struct cs_mailbox *box, uint32_t uid)
{
	struct cs_message msg;
	char path[4200];

	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL_FATAL(cs_message_lookup_uid(box, uid, &msg, NULL), 1);
	snprintf(path, sizeof(path), "%s/cur/%s%s", root, msg.base,
		 msg.suffix);
	CU_ASSERT_EQUAL(unlink(path), 0);
}

/* Write root/dovecot-uidlist with text. */
static void write_uidlist(const char *root, const char *text)
{
	char path[4200];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/dovecot-uidlist", root);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	CU_ASSERT_EQUAL(fclose(fp), 0);
}

/* The VANISHED answer as text ("" for none). */
static void vanished_text(struct cs_mailbox *box, uint64_t since,
			  const char *within, char *buf, size_t size,
			  bool *below_r)
{
	struct cs_uidset set, in;
	struct cs_error err;

	cs_uidset_init(&set);
	cs_uidset_init(&in);
	if (within != NULL)
		CU_ASSERT_EQUAL_FATAL(cs_uidset_parse(within, &in, NULL), 0);
	cs_error_clear(&err);
	CU_ASSERT_EQUAL_FATAL(cs_vanished(box, since,
					  within == NULL ? NULL : &in, &set,
					  below_r, &err), 0);
	CU_ASSERT_FATAL(cs_uidset_format(&set, buf, size) >= 0);
	cs_uidset_free(&set);
	cs_uidset_free(&in);
}

/* cs_message_uid_ranges as text ("a:b,c"), stopping after max ranges. */
struct ranges_text {
	char *buf;
	size_t size, len;
	unsigned int left;
};

static int ranges_text_add(void *ctx, uint32_t first, uint32_t last)
{
	struct ranges_text *rt = ctx;
	int n;

	n = first == last ?
		snprintf(rt->buf + rt->len, rt->size - rt->len, "%s%u",
			 rt->len == 0 ? "" : ",", first) :
		snprintf(rt->buf + rt->len, rt->size - rt->len, "%s%u:%u",
			 rt->len == 0 ? "" : ",", first, last);
	CU_ASSERT_FATAL(n > 0 && (size_t)n < rt->size - rt->len);
	rt->len += (size_t)n;
	return --rt->left == 0 ? 1 : 0;
}

static int message_ranges(struct cs_mailbox *box, uint32_t first,
			  uint32_t last, unsigned int max, char *buf,
			  size_t size)
{
	struct ranges_text rt = { buf, size, 0, max };

	buf[0] = '\0';
	return cs_message_uid_ranges(box, first, last, ranges_text_add, &rt,
				     NULL);
}

static struct cs_mailbox *inbox(struct cs_index *index)
{
	struct cs_mailbox *box = NULL;

	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	return box;
}

static void test_horizon_rule(void)
{
	char root[4096], text[256];
	struct cs_index *index;
	struct cs_mailbox *box;
	uint64_t horizon, built;
	bool below;

	unit_make_root(root, sizeof(root));
	make_messages(root, 10);
	index = unit_open(root);
	scan_all(index);
	box = inbox(index);
	/* the horizon is where the mailbox began */
	CU_ASSERT_OK(cs_mailbox_horizon(box, &horizon, CU_ERR));
	CU_ASSERT(horizon > 0);
	CU_ASSERT(horizon < cs_mailbox_get_rec(box)->highestmodseq);
	built = cs_mailbox_get_rec(box)->highestmodseq;

	unlink_uid(root, box, 3);
	unlink_uid(root, box, 7);
	unlink_uid(root, box, 8);
	scan_all(index);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	/* above the horizon: exactly the tombstones */
	vanished_text(box, built, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "3,7:8");
	CU_ASSERT(!below);
	vanished_text(box, built, "1:7", text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "3,7");
	vanished_text(box, horizon, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "3,7:8");
	CU_ASSERT(!below);
	vanished_text(box, cs_mailbox_get_rec(box)->highestmodseq, NULL, text,
		      sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "");
	/* below it: every UID that is not a message, and it says so */
	vanished_text(box, 1, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "3,7:8");
	CU_ASSERT(below);
	vanished_text(box, horizon - 1, "5:*", text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "7:8");
	CU_ASSERT(below);
	/* the messages themselves, as ranges between the gaps */
	CU_ASSERT_EQUAL(message_ranges(box, 1, 10, 99, text, sizeof(text)), 0);
	CU_ASSERT_STRING_EQUAL(text, "1:2,4:6,9:10");
	CU_ASSERT_EQUAL(message_ranges(box, 0, UINT32_MAX, 99, text,
				       sizeof(text)), 0);
	CU_ASSERT_STRING_EQUAL(text, "1:2,4:6,9:10");
	CU_ASSERT_EQUAL(message_ranges(box, 5, 9, 99, text, sizeof(text)), 0);
	CU_ASSERT_STRING_EQUAL(text, "5:6,9");
	CU_ASSERT_EQUAL(message_ranges(box, 7, 8, 99, text, sizeof(text)), 0);
	CU_ASSERT_STRING_EQUAL(text, "");
	CU_ASSERT_EQUAL(message_ranges(box, 11, UINT32_MAX - 1, 99, text,
				       sizeof(text)), 0);
	CU_ASSERT_STRING_EQUAL(text, "");
	CU_ASSERT_EQUAL(message_ranges(box, 1, 10, 2, text, sizeof(text)), 1);
	CU_ASSERT_STRING_EQUAL(text, "1:2,4:6");
	/* an expunged UID is not found by UID */
	{
		struct cs_message msg;

		CU_ASSERT_EQUAL(cs_message_lookup_uid(box, 7, &msg, NULL), 0);
	}
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* UIDs Dovecot gave before the index existed: gaps in dovecot-uidlist,
   and a UIDNEXT near 2^32 that must cost nothing per UID. */
static void test_horizon_uidlist_gaps(void)
{
	char root[4096], text[256];
	struct cs_index *index;
	struct cs_mailbox *box;
	uint64_t horizon;
	bool below;

	unit_make_root(root, sizeof(root));
	make_messages(root, 3);
	index = unit_open(root);
	scan_all(index);
	write_uidlist(root, "3 V1500000000 N4294967295 Gabcdef\n"
		"4 :1700000001.M1P1.horizon\n"
		"9 :1700000002.M2P1.horizon\n"
		"5000 :1700000003.M3P1.horizon\n");
	/* the switch to Dovecot's UIDs takes its UIDNEXT as it is */
	scan_all(index);
	box = inbox(index);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->uidnext, 4294967295U);
	CU_ASSERT_OK(cs_mailbox_horizon(box, &horizon, CU_ERR));
	/* from the horizon on nothing was expunged */
	vanished_text(box, horizon, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "");
	CU_ASSERT(!below);
	/* before it: the gaps, up to UIDNEXT-1, as ranges */
	vanished_text(box, 1, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "1:3,5:8,10:4999,5001:4294967294");
	CU_ASSERT(below);
	vanished_text(box, 0, "2:4,4096:4097,4294967290:*", text,
		      sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "2:3,4096:4097,4294967290:4294967294");
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static unsigned int prune(struct cs_index *index, struct cs_mailbox *box,
			  uint64_t age, uint64_t now)
{
	unsigned int pruned = 0;
	struct cs_error err;

	cs_error_clear(&err);
	CU_ASSERT_OK(cs_index_begin(index, &err));
	CU_ASSERT_OK(cs_mailbox_prune(box, age, now, &pruned, &err));
	CU_ASSERT_OK(cs_index_commit(index, &err));
	return pruned;
}

/* A record that never learnt Dovecot's UID (its file came after the
   uidlist was read) gets, at its expunge, the UID the caller knows: by
   cs_reconcile's disk->uid, and in a scan, from dovecot-uidlist.  A UID
   another message or tombstone has is never taken. */
static void test_expunge_unlearnt_uid(void)
{
	char root[4096], path[4200], text[256];
	struct cs_disk_state gone = { .present = false, .suffix = "" };
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_message msg;
	uint64_t before;
	bool below;

	unit_make_root(root, sizeof(root));
	make_messages(root, 2);
	write_uidlist(root, "3 V1500000000 N3 Gabcdef\n"
		"1 :1700000001.M1P1.horizon\n"
		"2 :1700000002.M2P1.horizon\n");
	index = unit_open(root);
	scan_all(index);
	/* two files Dovecot has not numbered yet */
	unit_touch(root, "cur", "1700000003.M3P1.horizon:2,");
	unit_touch(root, "cur", "1700000004.M4P1.horizon:2,");
	scan_all(index);
	box = inbox(index);
	CU_ASSERT_EQUAL_FATAL(cs_message_lookup(box, "1700000003.M3P1.horizon",
						23, &msg, NULL), 1);
	CU_ASSERT_EQUAL(msg.rec.uid, 0);
	before = cs_mailbox_get_rec(box)->highestmodseq;

	/* an expunge written through by a process that knows the UID */
	snprintf(path, sizeof(path), "%s/cur/1700000003.M3P1.horizon:2,",
		 root);
	CU_ASSERT_EQUAL(unlink(path), 0);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	gone.uid = 2;	/* a live message's: not taken */
	CU_ASSERT_EQUAL(cs_reconcile(box, "1700000003.M3P1.horizon", 23,
				     &gone, &msg, NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	vanished_text(box, before, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "");
	/* (again, by name: gone already, nothing to do) */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	gone.uid = 3;
	CU_ASSERT_EQUAL(cs_reconcile(box, "1700000003.M3P1.horizon", 23,
				     &gone, &msg, NULL), 0);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));

	/* Dovecot numbered the other one, then it went: the scan that
	   finds it gone reads its UID from dovecot-uidlist */
	write_uidlist(root, "3 V1500000000 N5 Gabcdef\n"
		"1 :1700000001.M1P1.horizon\n"
		"2 :1700000002.M2P1.horizon\n"
		"4 :1700000004.M4P1.horizon:2,\n");
	snprintf(path, sizeof(path), "%s/cur/1700000004.M4P1.horizon:2,",
		 root);
	CU_ASSERT_EQUAL(unlink(path), 0);
	scan_all(index);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	vanished_text(box, before, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "4");
	CU_ASSERT(!below);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static void test_prune_by_clock(void)
{
	char root[4096], text[256];
	struct cs_check_settings cset = { .repair = false };
	struct cs_index *index;
	struct cs_mailbox *box;
	uint64_t t0 = cs_now_usec(), h1, h2, horizon;
	bool below;

	unit_make_root(root, sizeof(root));
	make_messages(root, 10);
	index = unit_open(root);
	scan_all(index);
	box = inbox(index);
	unlink_uid(root, box, 2);
	unlink_uid(root, box, 4);
	scan_all(index);
	/* the first prune only marks the clock: nothing is old enough */
	CU_ASSERT_EQUAL(prune(index, box, 30 * 24 * HOUR_USEC, t0), 0);
	h1 = cs_mailbox_get_rec(box)->highestmodseq;
	unlink_uid(root, box, 6);
	scan_all(index);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	/* an hour later, with a day's age: still nothing */
	CU_ASSERT_EQUAL(prune(index, box, 24 * HOUR_USEC, t0 + HOUR_USEC), 0);
	h2 = cs_mailbox_get_rec(box)->highestmodseq;
	/* a day after the first mark: what it covered goes, not UID 6 */
	CU_ASSERT_EQUAL(prune(index, box, 24 * HOUR_USEC,
			      t0 + 24 * HOUR_USEC + HOUR_USEC / 2), 2);
	CU_ASSERT_OK(cs_mailbox_horizon(box, &horizon, CU_ERR));
	CU_ASSERT_EQUAL(horizon, h1);
	vanished_text(box, h1, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "6");
	CU_ASSERT(!below);
	/* a client from before the prune gets the pruned UIDs back */
	vanished_text(box, h1 - 1, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "2,4,6");
	CU_ASSERT(below);
	/* age 0: everything, the horizon at HIGHESTMODSEQ */
	CU_ASSERT_EQUAL(prune(index, box, 0, t0 + 26 * HOUR_USEC), 1);
	CU_ASSERT_OK(cs_mailbox_horizon(box, &horizon, CU_ERR));
	CU_ASSERT_EQUAL(horizon, h2);
	vanished_text(box, h2, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "");
	vanished_text(box, h1, NULL, text, sizeof(text), &below);
	CU_ASSERT_STRING_EQUAL(text, "2,4,6");
	CU_ASSERT(below);
	CU_ASSERT_EQUAL(cs_check(index, NULL, &cset, NULL), 0);
	/* the whole index at once, and a deleted mailbox takes its marks */
	CU_ASSERT_OK(cs_index_prune(index, NULL, 0, NULL, CU_ERR));
	cs_mailbox_close(&box);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL(cs_mailbox_delete(index, "INBOX", NULL), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	{
		uint8_t prefix[1] = { CS_KEY_CLOCK };
		TDB_DATA k;
		int found = 0;

		for (k = tdb_firstkey(index->tdb); k.dptr != NULL;) {
			TDB_DATA next = tdb_nextkey(index->tdb, k);

			if (k.dsize >= 1 && k.dptr[0] == prefix[0])
				found++;
			free(k.dptr);
			k = next;
		}
		CU_ASSERT_EQUAL(found, 0);
	}
	cs_index_close(&index);
	unit_remove_tree(root);
}

#define PRUNE_ROUNDS 20
#define PRUNE_MESSAGES 400

/* The child: expunge messages one by one and prune after each (every
   third time with age 0: all tombstones), until killed. */
static void child_prune(const char *root, unsigned int seed)
{
	struct cs_index_settings set = { .root = root };
	struct cs_index *index;
	struct cs_scan_stats st;
	char path[4200];
	unsigned int i;

	srand(seed);
	if (cs_index_open(&set, &index, NULL) < 0)
		_exit(2);
	for (i = 0;; i++) {
		unsigned int n = (unsigned int)rand() % PRUNE_MESSAGES + 1;

		snprintf(path, sizeof(path), "%s/cur/%u.M%uP1.horizon:2,",
			 root, 1700000000 + n, n);
		(void)unlink(path);
		memset(&st, 0, sizeof(st));
		(void)cs_maildir_scan(index, "INBOX", NULL, &st, NULL);
		if (cs_index_prune(index, NULL, (i % 3) == 0 ? 0 : HOUR_USEC,
				   NULL, NULL) < 0)
			_exit(3);
	}
}

/* The tombstones after a recovery: modseq by UID, and the lowest. */
struct tombs {
	uint64_t modseq[PRUNE_MESSAGES + 1];
	uint64_t min;
};

static int tombs_cb(void *ctx, uint32_t uid, uint64_t modseq,
		    struct cs_error *err)
{
	struct tombs *t = ctx;

	(void)err;
	CU_ASSERT_FATAL(uid >= 1 && uid <= PRUNE_MESSAGES);
	t->modseq[uid] = modseq;
	if (t->min == 0 || modseq < t->min)
		t->min = modseq;
	return 0;
}

/* Problems check finds in a mailbox's records (the file-level tdb_check
   after a kill is test-crash.c's subject: printed, not counted here). */
static void count_box_problem(void *ctx, const char *mailbox,
			      const char *text)
{
	unsigned int *count = ctx;

	fprintf(stderr, "  check after kill: %s: %s\n", mailbox, text);
	if (mailbox != NULL && mailbox[0] != '\0')
		(*count)++;
}

/* The UIDs below UIDNEXT whose file is gone. */
static void expected_gone(const char *root, uint32_t uidnext,
			  struct cs_index *index, struct cs_uidset *set)
{
	struct cs_mailbox *box = inbox(index);
	struct cs_message msg;
	uint32_t uid;

	for (uid = 1; uid < uidnext; uid++) {
		if (cs_message_lookup_uid(box, uid, &msg, NULL) == 0)
			CU_ASSERT_OK(cs_uidset_add(set, uid));
	}
	(void)root;
	cs_mailbox_close(&box);
}

static void test_kill9_during_prune(void)
{
	unsigned int box_problems = 0;
	struct cs_check_settings cset = { .repair = false,
					  .problem = count_box_problem,
					  .problem_ctx = &box_problems };
	char root[4096], want[8192], got[8192];
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_uidset exp;
	static struct tombs prev, cur;
	uint64_t horizon, first_horizon, prev_horizon = 0;
	unsigned int uid;
	int round, status;
	bool below;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	make_messages(root, PRUNE_MESSAGES);
	index = unit_open(root);
	scan_all(index);
	box = inbox(index);
	CU_ASSERT_OK(cs_mailbox_horizon(box, &first_horizon, CU_ERR));
	cs_mailbox_close(&box);
	cs_index_close(&index);
	for (round = 0; round < PRUNE_ROUNDS; round++) {
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			child_prune(root, (unsigned int)round);
		usleep((useconds_t)(rand() % 200000));
		(void)kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);

		index = unit_open(root);
		scan_all(index);
		box_problems = 0;
		CU_ASSERT(cs_check(index, NULL, &cset, NULL) >= 0);
		CU_ASSERT_EQUAL(box_problems, 0);
		box = inbox(index);
		CU_ASSERT_OK(cs_mailbox_horizon(box, &horizon, CU_ERR));
		/* the horizon never goes down, no tombstone lies below it */
		CU_ASSERT(horizon >= prev_horizon);
		prev_horizon = horizon;
		memset(&cur, 0, sizeof(cur));
		CU_ASSERT_OK(cs_tombstones_iterate(box, tombs_cb, &cur, CU_ERR));
		CU_ASSERT(cur.min == 0 || cur.min > horizon);
		/* a tombstone went only with the horizon raised past it (one
		   commit: never the one without the other) */
		for (uid = 1; uid <= PRUNE_MESSAGES; uid++) {
			if (prev.modseq[uid] != 0 && cur.modseq[uid] == 0)
				CU_ASSERT(prev.modseq[uid] <= horizon);
		}
		prev = cur;
		/* from below the horizon: every UID that is gone, no more */
		cs_uidset_init(&exp);
		expected_gone(root, cs_mailbox_get_rec(box)->uidnext, index,
			      &exp);
		CU_ASSERT_FATAL(cs_uidset_format(&exp, want, sizeof(want)) >=
				0);
		vanished_text(box, 1, NULL, got, sizeof(got), &below);
		CU_ASSERT_STRING_EQUAL(got, want);
		CU_ASSERT(below);
		cs_uidset_free(&exp);
		cs_mailbox_close(&box);
		cs_index_close(&index);
	}
	/* the children did prune between the kills */
	CU_ASSERT(prev_horizon > first_horizon);
	unit_remove_tree(root);
}

void suite_horizon_register(void)
{
	CU_pSuite s = CU_add_suite("horizon", NULL, NULL);

	CU_add_test(s, "VANISHED above and below the horizon",
		    test_horizon_rule);
	CU_add_test(s, "dovecot-uidlist gaps and a UIDNEXT near 2^32",
		    test_horizon_uidlist_gaps);
	CU_add_test(s, "the tombstone of a record that never learnt its UID",
		    test_expunge_unlearnt_uid);
	CU_add_test(s, "pruning by the modseq clock's marks",
		    test_prune_by_clock);
	CU_add_test(s, "kill -9 during prunes, 20 times",
		    test_kill9_during_prune);
}
