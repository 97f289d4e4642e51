/*
 * test-crash.c - crash injection: a child process reindexes and stores
 * flags on a real Maildir and is killed with SIGKILL at a random moment,
 * twenty times over.  After each kill the index must open, a rescan (what
 * the daemon does on restart) must make check clean, HIGHESTMODSEQ must
 * not have gone down, and no modseq may be handed out twice.  And a first
 * reindex (built off to the side) killed at a random moment leaves either
 * no index or the complete one.  And the check tells the space a killed
 * commit leaves unreferenced in the tdb file (cs-tdbfile.c) from damage.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cs-index-private.h"
#include "unit.h"

#define CRASH_ROUNDS 20
#define CRASH_MESSAGES 300

/* The child: store flags in a loop until killed; after its first +FLAGS
   it writes a byte to ready_fd (-1: none). */
static void child_work(const char *root, unsigned int seed, int ready_fd)
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
		if (i == 1 && ready_fd >= 0 && write(ready_fd, "r", 1) != 1)
			_exit(4);
	}
}

struct modseq_seen {
	uint64_t *modseqs;
	size_t count, alloc;
};

static int collect_modseq(void *ctx, const struct cs_message *msg,
			  struct cs_error *err)
{
	struct modseq_seen *ms = ctx;

	if (cs_array_grow(&ms->modseqs, sizeof(*ms->modseqs), ms->count,
			  &ms->alloc, 512) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
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

static void print_note(void *ctx, const char *mailbox, const char *text)
{
	(void)ctx;
	(void)mailbox;
	fprintf(stderr, "  note after kill: %s\n", text);
}

/* Notes are no problems: counted in *ctx (an unsigned int). */
static void count_note(void *ctx, const char *mailbox, const char *text)
{
	unsigned int *notes = ctx;

	(void)mailbox;
	(void)text;
	(*notes)++;
}

/* The tdb file after a repair: tdb_check() itself finds nothing, so
   whatever a kill left unreferenced was reclaimed. */
static void assert_repair_leaves_tdb_clean(struct cs_index *index)
{
	struct cs_check_settings rset = { .repair = true,
					  .problem = print_problem };

	CU_ASSERT_EQUAL(cs_check(index, NULL, &rset, NULL), 0);
	CU_ASSERT_EQUAL(tdb_check(index->tdb, NULL, NULL), 0);
}

/* After a crash: recover, check, and return HIGHESTMODSEQ. */
static uint64_t recover_and_check(const char *root)
{
	struct cs_check_settings cset = { .repair = false,
					  .problem = print_problem,
					  .note = print_note };
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
	/* clean: at most space a killed commit left unreferenced (a note,
	   see cs-tdbfile.c), which a repair reclaims */
	problems = cs_check(index, NULL, &cset, &err);
	CU_ASSERT_EQUAL(problems, 0);
	assert_repair_leaves_tdb_clean(index);
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
	int round, i, status, ready[2];
	char byte;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < CRASH_MESSAGES; i++) {
		snprintf(name, sizeof(name), "%d.M%dP%d.crash:2,", 1700000000 + i,
			 rand() % 1000000, 1000 + i);
		unit_touch(root, "cur", name);
	}
	for (round = 0; round < CRASH_ROUNDS; round++) {
		CU_ASSERT_FATAL(pipe(ready) == 0);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0) {
			close(ready[0]);
			/* every other round, killed only once it has stored
			   (however slow the build, e.g. with sanitizers);
			   the others may die while opening or scanning */
			child_work(root, (unsigned int)round,
				   round % 2 == 1 ? ready[1] : -1);
		}
		close(ready[1]);
		if (round % 2 == 1)
			CU_ASSERT(read(ready[0], &byte, 1) == 1);
		close(ready[0]);
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

#define BUILD_ROUNDS 20
#define BUILD_MESSAGES 5000

/* The child: build the first index of root, then exit 0. */
static void child_build(const char *root)
{
	struct cs_index_settings set = { .root = root };
	struct cs_scan_stats st;

	memset(&st, 0, sizeof(st));
	_exit(cs_maildir_build_index(&set, NULL, &st, NULL) == 1 ? 0 : 2);
}

/* The high-water mark's replacement, named only between its linkat()
   and its rename() (cs_file_replace): a kill in that instant leaves it.
   A replacement under a name of the fallback's kind (mkostemp) must not
   be left behind on a file system with unnamed files. */
static bool hwm_replacement(const char *name)
{
	const char *prefix = CS_DB_NAME ".hwm.tmp.";
	long pid;
	unsigned int attempt;
	char end;

	return strncmp(name, prefix, strlen(prefix)) == 0 &&
		sscanf(name + strlen(prefix), "%ld.%u%c", &pid, &attempt,
		       &end) == 2;
}

/* Nothing but the Maildir's own entries and the index's files: no
   half-built index under any name. */
static void assert_root_clean(const char *root)
{
	struct dirent *d;
	DIR *dir = opendir(root);

	CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0 ||
		    strcmp(d->d_name, "new") == 0 ||
		    strcmp(d->d_name, "cur") == 0 ||
		    strcmp(d->d_name, "tmp") == 0 ||
		    strcmp(d->d_name, CS_DB_NAME) == 0 ||
		    strcmp(d->d_name, CS_DB_NAME ".hwm") == 0 ||
		    hwm_replacement(d->d_name))
			continue;
		fprintf(stderr, "  left behind: %s\n", d->d_name);
		CU_FAIL("a file left behind in the Maildir root");
	}
	closedir(dir);
}

/* After a killed build: no index, or a complete one that check finds
   clean as it is (no rescan first).  Returns its HIGHESTMODSEQ, 0 for
   none. */
static uint64_t built_index_state(const char *root)
{
	struct cs_check_settings cset = { .repair = false,
					  .problem = print_problem };
	struct cs_index_settings set = { .root = root, .readonly = true };
	struct cs_index *index;
	struct cs_mailbox *box = NULL;
	char path[4200];
	struct stat st;
	uint64_t hms;

	assert_root_clean(root);
	snprintf(path, sizeof(path), "%s/%s", root, CS_DB_NAME);
	if (lstat(path, &st) < 0)
		return 0;
	CU_ASSERT_EQUAL_FATAL(cs_index_open(&set, &index, NULL), 0);
	CU_ASSERT_EQUAL(cs_check(index, NULL, &cset, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	CU_ASSERT_EQUAL(cs_mailbox_get_rec(box)->messages, BUILD_MESSAGES);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	cs_mailbox_close(&box);
	cs_index_close(&index);
	CU_ASSERT_EQUAL(unlink(path), 0);	/* build again next round */
	return hms;
}

static void test_kill9_during_build(void)
{
	char root[4096], name[64];
	uint64_t hms, prev = 0;
	int round, i, status;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < BUILD_MESSAGES; i++) {
		snprintf(name, sizeof(name), "%d.M%dP%d.build:2,%s",
			 1700000000 + i, rand() % 1000000, 1000 + i,
			 i % 3 == 0 ? "S" : "");
		unit_touch(root, i % 5 == 0 ? "new" : "cur", name);
	}
	for (round = 0; round < BUILD_ROUNDS; round++) {
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			child_build(root);
		usleep((useconds_t)(rand() % 60000));
		(void)kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		/* killed, or done with the index built */
		CU_ASSERT(WIFSIGNALED(status) ||
			  (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		hms = built_index_state(root);
		if (WIFEXITED(status))
			CU_ASSERT(hms != 0);
		/* a rebuilt index starts above every earlier one */
		if (hms != 0) {
			CU_ASSERT(hms > prev);
			prev = hms;
		}
	}
	unit_remove_tree(root);
}

/* Store a value of size bytes under key in a transaction of its own. */
static void raw_store(struct cs_index *index, const char *key, size_t size)
{
	TDB_DATA k = { (unsigned char *)key, strlen(key) };
	unsigned char *buf = calloc(1, size);
	TDB_DATA d = { buf, size };

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	memset(buf, 'v', size);
	CU_ASSERT_EQUAL_FATAL(tdb_transaction_start(index->tdb), 0);
	CU_ASSERT_EQUAL(tdb_store(index->tdb, k, d, TDB_REPLACE), 0);
	CU_ASSERT_EQUAL_FATAL(tdb_transaction_commit(index->tdb), 0);
	free(buf);
}

/* What a commit killed after tdb moved its recovery area leaves (see
   cs-tdbfile.c): room the file was grown by, all zeroes, that nothing
   refers to, with records behind it.  Made here without a kill: the
   file grown by hand, then a record bigger than the whole file was
   (too big for any free space), which tdb places behind the zeroes. */
static void test_unreferenced_space(void)
{
	struct cs_check_settings cset = { .problem = print_problem };
	struct cs_index *index;
	char root[4096], path[4200];
	unsigned int notes = 0;
	struct cs_scan_stats sst;
	struct stat st;
	int fd;
	const unsigned char garbage[4] = { 0xde, 0xad, 0xbe, 0xef };

	unit_make_root(root, sizeof(root));
	unit_touch(root, "cur", "1700000000.M1P1.gap:2,S");
	index = unit_open(root);
	memset(&sst, 0, sizeof(sst));
	CU_ASSERT_EQUAL_FATAL(cs_maildir_scan_all(index, NULL, NULL, &sst,
						  NULL), 0);
	raw_store(index, "unit-big-1", 65536);
	cs_index_close(&index);
	snprintf(path, sizeof(path), "%s/%s", root, CS_DB_NAME);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL_FATAL(truncate(path, st.st_size + 16384), 0);
	index = unit_open(root);
	raw_store(index, "unit-big-2", (size_t)st.st_size);

	/* tdb_check() fails on it (tdb 1.4's dead_space() takes all that
	   follows the zeroes for dead space); the check knows better and
	   says so in a note */
	CU_ASSERT_NOT_EQUAL(tdb_check(index->tdb, NULL, NULL), 0);
	cset.note = count_note;
	cset.problem_ctx = &notes;
	CU_ASSERT_EQUAL(cs_check(index, NULL, &cset, NULL), 0);
	CU_ASSERT_EQUAL(notes, 1);
	assert_repair_leaves_tdb_clean(index);
	CU_ASSERT_EQUAL(tdb_exists(index->tdb, (TDB_DATA){
		(unsigned char *)"unit-big-1", 10 }), 1);
	CU_ASSERT_EQUAL(tdb_exists(index->tdb, (TDB_DATA){
		(unsigned char *)"unit-big-2", 10 }), 1);
	cs_index_close(&index);

	/* bytes that are neither records nor zeroes are damage */
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL_FATAL(truncate(path, st.st_size + 16384), 0);
	index = unit_open(root);
	raw_store(index, "unit-big-3", (size_t)st.st_size);
	cs_index_close(&index);
	fd = open(path, O_WRONLY);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, garbage, sizeof(garbage),
			       st.st_size + 4096), (ssize_t)sizeof(garbage));
	close(fd);
	index = unit_open(root);
	cset.note = NULL;
	cset.problem_ctx = NULL;
	CU_ASSERT_EQUAL(cs_check(index, NULL, &cset, NULL), 1);
	cs_index_close(&index);
	unit_remove_tree(root);
}

void suite_crash_register(void)
{
	CU_pSuite s = CU_add_suite("crash injection", NULL, NULL);

	CU_add_test(s, "kill -9 during stores, 20 times",
		    test_kill9_during_store);
	CU_add_test(s, "kill -9 during a first index build, 20 times",
		    test_kill9_during_build);
	CU_add_test(s, "space a killed commit left unreferenced is no damage",
		    test_unreferenced_space);
}
