/*
 * test-crash.c - crash injection: a child process reindexes and stores
 * flags on a real Maildir and is killed with SIGKILL at a random moment,
 * twenty times over.  After each kill the index must open, a rescan (what
 * the daemon does on restart) must make check clean, HIGHESTMODSEQ must
 * not have gone down, and no modseq may be handed out twice.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#define CRASH_ROUNDS 20
#define CRASH_MESSAGES 300

/* The child: store flags in a loop until killed. */
static void child_work(const char *root, unsigned int seed)
{
	struct cs_index_settings set = { .root = root };
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_scan_stats st;
	struct cs_uidset uids;
	unsigned int i;

	srand(seed);
	if (cs_index_open(&set, &index, NULL) < 0)
		_exit(2);
	memset(&st, 0, sizeof(st));
	(void)cs_maildir_scan_all(index, NULL, NULL, &st, NULL);
	if (cs_mailbox_open(index, "INBOX", false, 0, 0, &box, NULL) <= 0)
		_exit(3);
	for (i = 0;; i++) {
		uint32_t uid = (uint32_t)(rand() % CRASH_MESSAGES) + 1;
		uint64_t flags = (rand() & 1) ? CS_FLAG_SEEN : CS_FLAG_FLAGGED;

		cs_uidset_init(&uids);
		(void)cs_uidset_add_range(&uids, uid, uid + 5);
		(void)cs_maildir_store(box, &uids, (i & 1) ? CS_STORE_ADD :
				       CS_STORE_REMOVE, flags, 0, NULL, NULL);
		cs_uidset_free(&uids);
	}
}

struct modseq_seen {
	uint64_t *modseqs;
	size_t count, alloc;
};

static int collect_modseq(void *ctx, const struct cs_message *msg)
{
	struct modseq_seen *ms = ctx;

	if (ms->count == ms->alloc) {
		ms->alloc = ms->alloc == 0 ? 512 : ms->alloc * 2;
		ms->modseqs = realloc(ms->modseqs,
				      ms->alloc * sizeof(uint64_t));
	}
	ms->modseqs[ms->count++] = msg->rec.modseq;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}

static void print_problem(void *ctx, const char *mailbox, const char *text)
{
	(void)ctx;
	fprintf(stderr, "  check after kill: %s: %s\n", mailbox, text);
}

/* After a crash: recover, check, and return HIGHESTMODSEQ. */
static uint64_t recover_and_check(const char *root)
{
	struct cs_check_settings cset = { .repair = false,
					  .problem = print_problem };
	struct cs_index *index = unit_open(root);
	struct cs_mailbox *box = NULL;
	struct cs_scan_stats st;
	struct modseq_seen ms = { 0 };
	struct cs_error err;
	uint64_t hms;
	size_t i;
	int problems;

	memset(&st, 0, sizeof(st));
	cs_error_clear(&err);
	CU_ASSERT_EQUAL(cs_maildir_scan_all(index, NULL, NULL, &st, &err), 0);
	problems = cs_check(index, NULL, &cset, &err);
	CU_ASSERT_EQUAL(problems, 0);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, CRASH_MESSAGES);
	CU_ASSERT_EQUAL(cs_messages_iterate(box, collect_modseq, &ms, NULL),
			0);
	qsort(ms.modseqs, ms.count, sizeof(uint64_t), cmp_u64);
	for (i = 1; i < ms.count; i++)
		CU_ASSERT(ms.modseqs[i] != ms.modseqs[i - 1]);
	free(ms.modseqs);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	return hms;
}

static void test_kill9_during_store(void)
{
	char root[4096], name[64];
	uint64_t hms, prev = 0, first = 0;
	int round, i, status;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < CRASH_MESSAGES; i++) {
		snprintf(name, sizeof(name), "%d.M%dP%d.crash:2,", 1700000000 + i,
			 rand() % 1000000, 1000 + i);
		unit_touch(root, "cur", name);
	}
	for (round = 0; round < CRASH_ROUNDS; round++) {
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			child_work(root, (unsigned int)round);
		/* let it get into the middle of something */
		usleep((useconds_t)(rand() % 100000));
		CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		CU_ASSERT(WIFSIGNALED(status));
		hms = recover_and_check(root);
		/* HIGHESTMODSEQ never goes down */
		CU_ASSERT(hms >= prev);
		if (round == 0)
			first = hms;
		prev = hms;
	}
	/* the children did change flags between the kills */
	CU_ASSERT(prev > first);
	unit_remove_tree(root);
}

void suite_crash_register(void)
{
	CU_pSuite s = CU_add_suite("crash injection", NULL, NULL);

	CU_add_test(s, "kill -9 during stores, 20 times",
		    test_kill9_during_store);
}
