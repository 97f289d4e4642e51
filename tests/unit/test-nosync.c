/*
 * test-nosync.c - commits without fsync and a simulated power loss: the
 * index is opened with nosync, flags are stored, and the tdb is then put
 * back to a copy from before those stores (the commits the page cache
 * lost) with the nosync marker naming another boot.  The next open must
 * raise every counter above each modseq handed out before the "crash",
 * and mark the current boot.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

#define NOSYNC_MESSAGES 20
/* processes opening one index at once, and how many times */
#define CONCURRENT_OPENERS 12
#define CONCURRENT_ROUNDS 15
#define OTHER_BOOT "00000000-0000-0000-0000-000000000000"

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	size_t n;
	FILE *in = fopen(from, "rb"), *out;

	CU_ASSERT_PTR_NOT_NULL_FATAL(in);
	out = fopen(to, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		CU_ASSERT_EQUAL_FATAL(fwrite(buf, 1, n, out), n);
	fclose(in);
	CU_ASSERT_EQUAL_FATAL(fclose(out), 0);
}

/* The first line of path ("" if there is none). */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");

	buf[0] = '\0';
	if (fp != NULL) {
		if (fgets(buf, (int)size, fp) == NULL)
			buf[0] = '\0';
		fclose(fp);
	}
	buf[strcspn(buf, "\n")] = '\0';
}

static void write_line(const char *path, const char *line)
{
	FILE *fp = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fprintf(fp, "%s\n", line);
	CU_ASSERT_EQUAL_FATAL(fclose(fp), 0);
}

static struct cs_index *open_index(const char *root, bool nosync)
{
	struct cs_index_settings set = { .root = root, .nosync = nosync };

	return unit_open_set(&set);
}

static uint64_t inbox_hms(struct cs_index *index)
{
	struct cs_mailbox *box = NULL;
	uint64_t hms;

	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	hms = cs_mailbox_get_rec(box)->highestmodseq;
	cs_mailbox_close(&box);
	return hms;
}

/* Flag every message (one modseq each). */
static void store_all(struct cs_index *index)
{
	struct cs_mailbox *box = NULL;
	struct cs_uidset uids;

	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false, 0, 0,
					      &box, NULL), 1);
	cs_uidset_init(&uids);
	CU_ASSERT_EQUAL_FATAL(cs_uidset_add_range(&uids, 1, NOSYNC_MESSAGES),
			      0);
	CU_ASSERT_EQUAL(cs_maildir_store(box, &uids, CS_STORE_ADD,
					 CS_FLAG_FLAGGED, 0, NULL, NULL), 0);
	cs_uidset_free(&uids);
	cs_mailbox_close(&box);
}

static void test_power_loss(void)
{
	char root[4096], name[64], db[4200], copy[4300], marker[4300];
	char boot[64], line[128];
	struct cs_scan_stats st;
	struct cs_index *index;
	uint64_t before, handed_out, ceiling = 0, after;
	int i;

	unit_make_root(root, sizeof(root));
	for (i = 0; i < NOSYNC_MESSAGES; i++) {
		snprintf(name, sizeof(name), "%d.M%dP%d.nosync:2,",
			 1700000000 + i, i * 7919, 2000 + i);
		unit_touch(root, "cur", name);
	}
	snprintf(db, sizeof(db), "%s/" CS_DB_NAME, root);
	snprintf(copy, sizeof(copy), "%s.before", db);
	snprintf(marker, sizeof(marker), "%s.nosync", db);
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));

	/* a nosync writer marks the current boot before committing */
	index = open_index(root, true);
	read_line(marker, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, boot);
	memset(&st, 0, sizeof(st));
	CU_ASSERT_OK(cs_maildir_scan_all(index, NULL, NULL, &st, CU_ERR));
	before = inbox_hms(index);
	cs_index_close(&index);
	copy_file(db, copy);

	/* modseqs handed out, then lost with the page cache */
	index = open_index(root, true);
	store_all(index);
	handed_out = inbox_hms(index);
	CU_ASSERT(handed_out >= before + NOSYNC_MESSAGES);
	CU_ASSERT_EQUAL(cs_index_hwm(index, &ceiling, NULL), 1);
	cs_index_close(&index);
	copy_file(copy, db);
	write_line(marker, OTHER_BOOT);

	/* the next open (a durable one) raises every counter */
	index = open_index(root, false);
	after = inbox_hms(index);
	CU_ASSERT(after > handed_out);
	CU_ASSERT(after >= ceiling);
	read_line(marker, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, boot);
	/* a rescan records the lost stores again, above everything */
	store_all(index);
	CU_ASSERT(inbox_hms(index) > after);
	after = inbox_hms(index);
	cs_index_close(&index);

	/* once per boot: opening again raises nothing */
	index = open_index(root, false);
	CU_ASSERT_EQUAL(inbox_hms(index), after);
	cs_index_close(&index);
	unit_remove_tree(root);
}

static void test_durable_no_marker(void)
{
	char root[4096], marker[4200];
	struct cs_index *index;
	FILE *fp;

	unit_make_root(root, sizeof(root));
	index = open_index(root, false);
	cs_index_close(&index);
	snprintf(marker, sizeof(marker), "%s/" CS_DB_NAME ".nosync", root);
	fp = fopen(marker, "r");
	CU_ASSERT_PTR_NULL(fp);
	if (fp != NULL)
		fclose(fp);
	unit_remove_tree(root);
}

/* Fork CONCURRENT_OPENERS processes that wait on a pipe, then all open
   the index at root with nosync at once.  Returns how many failed. */
static int open_all_at_once(const char *root)
{
	pid_t pids[CONCURRENT_OPENERS];
	int gate[2], i, status, failed = 0;
	char c;

	CU_ASSERT_EQUAL_FATAL(pipe(gate), 0);
	for (i = 0; i < CONCURRENT_OPENERS; i++) {
		pids[i] = fork();
		CU_ASSERT_FATAL(pids[i] >= 0);
		if (pids[i] == 0) {
			struct cs_index_settings set = {
				.root = root, .nosync = true };
			struct cs_index *index = NULL;
			struct cs_error err;

			close(gate[1]);
			/* EOF when the parent closes its end: all go (an
			   error too; the result is not needed, but glibc's
			   fortified read must not be ignored) */
			if (read(gate[0], &c, 1) < 0)
				c = 0;
			cs_error_clear(&err);
			if (cs_index_open(&set, &index, &err) < 0) {
				fprintf(stderr, "opener %d: %s\n", i,
					err.text);
				_exit(1);
			}
			cs_index_close(&index);
			_exit(0);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < CONCURRENT_OPENERS; i++) {
		CU_ASSERT_EQUAL(waitpid(pids[i], &status, 0), pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	return failed;
}

/* Files whose name has ".tmp" in the directory. */
static int count_tmp_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".tmp") != NULL)
			n++;
	}
	closedir(d);
	return n;
}

/* Many processes opening a new index at once (a Dovecot with many logins
   right after the index was built): each writes the nosync marker, and
   with the high-water-mark file gone each raises it again.  Every open
   succeeds, the marker names this boot, the high-water mark is back at
   least at the index's ceiling, and no temporary file is left behind. */
static void test_concurrent_first_opens(void)
{
	char root[4096], db[4200], marker[4300], hwm[4300];
	char boot[64], line[128];
	struct cs_index *index;
	uint64_t ceiling, first = 0;
	int round;

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/" CS_DB_NAME, root);
	snprintf(marker, sizeof(marker), "%s.nosync", db);
	snprintf(hwm, sizeof(hwm), "%s.hwm", db);
	read_line("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	index = open_index(root, false);
	CU_ASSERT_EQUAL_FATAL(cs_index_hwm(index, &first, NULL), 1);
	cs_index_close(&index);
	for (round = 0; round < CONCURRENT_ROUNDS; round++) {
		(void)unlink(marker);
		(void)unlink(hwm);
		CU_ASSERT_EQUAL(open_all_at_once(root), 0);
		read_line(marker, line, sizeof(line));
		CU_ASSERT_STRING_EQUAL(line, boot);
		index = open_index(root, false);
		ceiling = 0;
		CU_ASSERT_EQUAL(cs_index_hwm(index, &ceiling, NULL), 1);
		CU_ASSERT(ceiling >= first);
		cs_index_close(&index);
		CU_ASSERT_EQUAL(count_tmp_files(root), 0);
	}
	unit_remove_tree(root);
}

void suite_nosync_register(void)
{
	CU_pSuite s = CU_add_suite("nosync and power loss", NULL, NULL);

	CU_add_test(s, "lost nosync commits: counters raised at next open",
		    test_power_loss);
	CU_add_test(s, "durable writers leave no marker",
		    test_durable_no_marker);
	CU_add_test(s, "many processes open a new index at once",
		    test_concurrent_first_opens);
}
