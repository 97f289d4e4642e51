/*
 * test-msgstore.c - the messages of layout 2 (cs-msgstore.c): buckets
 * that split as a mailbox grows, found by name, UID and change-log entry
 * by a reader whose count of buckets is old; and the conversion of an
 * index of layout 1 (cs-migrate.c), written here record by record.
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cs-bucket.h"
#include "cs-check.h"
#include "cs-hash.h"
#include "cs-index-private.h"
#include "layout1.h"
#include "unit.h"

static void problem_cb(void *ctx, const char *mailbox, const char *text)
{
	(void)ctx;
	fprintf(stderr, "  check: %s: %s\n", mailbox, text);
}

static int check(struct cs_index *index)
{
	struct cs_check_settings set = { .problem = problem_cb };
	struct cs_error err;
	int ret;

	cs_error_clear(&err);
	ret = cs_check(index, NULL, &set, &err);
	if (ret < 0)
		fprintf(stderr, "check: %s\n", err.text);
	return ret;
}

/* Add messages from .. to-1 (files and records) in one transaction. */
static void add_messages(const char *root, struct cs_index *index,
			 struct cs_mailbox *box, unsigned int from,
			 unsigned int to)
{
	struct cs_disk_state d = { .present = true, .location = CS_LOC_CUR,
				   .suffix = ":2,", .flags = 0 };
	char base[64], file[80];
	unsigned int i;

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	for (i = from; i < to; i++) {
		layout1_name(i, base, sizeof(base));
		snprintf(file, sizeof(file), "%s:2,", base);
		unit_touch(root, "cur", file);
		CU_ASSERT_EQUAL(cs_reconcile(box, base, strlen(base), &d, NULL,
					     NULL), 1);
	}
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
}

/* INBOX created in index (own UIDs). */
static struct cs_mailbox *new_inbox(struct cs_index *index)
{
	struct cs_mailbox *box = NULL;

	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", true,
					      CS_UIDSRC_OWN, 0, &box, NULL),
			      1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	return box;
}

struct seen {
	unsigned char *hits;
	unsigned int n, dup;
};

static int seen_cb(void *ctx, const struct cs_message *msg,
		   struct cs_error *err)
{
	struct seen *s = ctx;
	unsigned int sec, i;

	(void)err;
	if (sscanf(msg->base, "%u.M%u", &sec, &i) != 2 || i >= s->n)
		return -1;
	if (s->hits[i]++ != 0)
		s->dup++;
	return 0;
}

/* Every message 0 .. n-1 found once by iteration, by name, by UID and
   by its change-log entry, through box (whose bucket count may be
   old). */
static void assert_all_found(struct cs_mailbox *box, unsigned int n)
{
	struct seen s = { .n = n };
	struct cs_message msg, by_uid;
	char base[64];
	unsigned int i, missing = 0, wrong = 0;

	s.hits = calloc(n, 1);
	CU_ASSERT_FATAL(s.hits != NULL);
	CU_ASSERT_OK(cs_messages_iterate(box, seen_cb, &s, CU_ERR));
	for (i = 0; i < n; i++) {
		if (s.hits[i] != 1)
			missing++;
		layout1_name(i, base, sizeof(base));
		if (cs_message_lookup(box, base, strlen(base), &msg,
				      NULL) != 1) {
			if (wrong++ == 0)
				fprintf(stderr, "%s: not found by name\n",
					base);
			continue;
		}
		if (cs_message_lookup_uid(box, msg.rec.uid, &by_uid,
					  NULL) != 1 ||
		    strcmp(by_uid.base, base) != 0) {
			if (wrong++ == 0)
				fprintf(stderr, "%s: not found by UID %u\n",
					base, msg.rec.uid);
		} else if (cs_msg_fetch_change(box,
				cs_bucket_hash(base, strlen(base)),
				msg.rec.modseq, &by_uid, NULL) != 1 ||
			   strcmp(by_uid.base, base) != 0) {
			if (wrong++ == 0)
				fprintf(stderr, "%s: not found by modseq\n",
					base);
		}
	}
	CU_ASSERT_EQUAL(missing, 0);
	CU_ASSERT_EQUAL(s.dup, 0);
	CU_ASSERT_EQUAL(wrong, 0);
	free(s.hits);
}

static void test_buckets_split(void)
{
	char root[4096], base[64];
	struct cs_index *index;
	struct cs_mailbox *box, *stale;
	struct cs_message msg;
	uint32_t before;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	box = new_inbox(index);
	add_messages(root, index, box, 0, 3000);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	/* more than CS_BUCKET_FILL a bucket splits them */
	before = box->rec.nbuckets;
	CU_ASSERT(before * CS_BUCKET_FILL >= 3000);
	CU_ASSERT(before * CS_BUCKET_FILL < 3000 + CS_BUCKET_FILL);
	assert_all_found(box, 3000);

	/* a reader (of another process) whose mailbox record is from
	   before the 5000 messages added next: it follows the splits */
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &stale,
					NULL), 1);
	add_messages(root, index, box, 3000, 8000);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT(box->rec.nbuckets > 2 * before);
	stale->rec.nbuckets = before;
	assert_all_found(stale, 8000);
	assert_all_found(box, 8000);

	/* expunges empty buckets, which stay */
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	{
		struct cs_disk_state gone = { .present = false,
					      .suffix = "" };
		unsigned int i;

		for (i = 0; i < 8000; i += 2) {
			layout1_name(i, base, sizeof(base));
			CU_ASSERT_EQUAL(cs_reconcile(box, base, strlen(base),
						     &gone, NULL, NULL), 1);
		}
	}
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	layout1_name(2, base, sizeof(base));
	CU_ASSERT_EQUAL(cs_message_lookup(stale, base, strlen(base), &msg,
					  NULL), 0);
	layout1_name(3, base, sizeof(base));
	CU_ASSERT_EQUAL(cs_message_lookup(stale, base, strlen(base), &msg,
					  NULL), 1);
	cs_mailbox_close(&stale);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The mailbox record is the file's: a bucket count out of all
   proportion (the user can write the index) costs nothing, neither in
   memory nor in time: the cache is a hash table, iteration follows the
   records there are. */
static void test_bucket_count_hostile(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;

	unit_make_root(root, sizeof(root));
	index = unit_open(root);
	box = new_inbox(index);
	add_messages(root, index, box, 0, 200);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	box->rec.nbuckets = UINT32_C(0x7fffffff);
	box->dirty = true;
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	/* the first 200 are where the old count put them: found by a
	   reader that follows the levels down, and by iteration */
	add_messages(root, index, box, 200, 400);
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	CU_ASSERT_EQUAL(box->rec.nbuckets, UINT32_C(0x7fffffff));
	{
		struct seen s = { .n = 400 };
		unsigned int i, once = 0;

		s.hits = calloc(400, 1);
		CU_ASSERT_FATAL(s.hits != NULL);
		CU_ASSERT_OK(cs_messages_iterate(box, seen_cb, &s, CU_ERR));
		for (i = 0; i < 400; i++)
			once += s.hits[i] == 1;
		CU_ASSERT_EQUAL(once, 400);
		free(s.hits);
	}
	cs_mailbox_close(&box);
	CU_ASSERT_EQUAL(check(index), 0);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* --- an index of layout 1, record by record (include/cs-record.h) --- */

#define V1_MESSAGES 600		/* messages of the index converted */

struct walked {
	uint32_t tomb;
	unsigned int messages, expunged;
	bool order_ok;
	uint64_t last;
};

static int walked_msg(void *ctx, const struct cs_message *msg,
		      struct cs_error *err)
{
	struct walked *w = ctx;
	unsigned int sec, i;

	(void)err;
	if (sscanf(msg->base, "%u.M%u", &sec, &i) != 2 ||
	    msg->rec.modseq != layout1_modseq(i) || msg->rec.uid != i + 1 ||
	    msg->rec.flags != CS_FLAG_SEEN ||
	    strcmp(msg->suffix, ":2,S") != 0)
		w->order_ok = false;
	w->messages++;
	return 0;
}

static int walked_exp(void *ctx, uint32_t uid, uint64_t modseq,
		      struct cs_error *err)
{
	struct walked *w = ctx;

	(void)err;
	if (uid == w->tomb && modseq == LAYOUT1_TOP)
		w->expunged++;
	return 0;
}

static bool has_tag(const char *db, uint8_t tag)
{
	struct tdb_context *tdb = tdb_open(db, 0, TDB_INCOMPATIBLE_HASH,
					   O_RDONLY, 0);
	TDB_DATA k;
	bool found = false;

	if (tdb == NULL)
		return true;
	for (k = tdb_firstkey(tdb); k.dptr != NULL && !found;) {
		TDB_DATA next = tdb_nextkey(tdb, k);

		found = k.dsize > 0 && k.dptr[0] == tag;
		free(k.dptr);
		k = next;
	}
	free(k.dptr);
	tdb_close(tdb);
	return found;
}

static void test_convert_layout1(void)
{
	char root[4096], db[4200];
	struct cs_index_settings ro = { .readonly = true };
	struct cs_index *index = NULL;
	struct cs_mailbox *box;
	struct cs_error err;
	struct walked w = { .order_ok = true,
			    .tomb = layout1_tomb_uid(V1_MESSAGES) };

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	CU_ASSERT_EQUAL_FATAL(layout1_write(root, db, V1_MESSAGES, true), 0);
	/* a reader can't read it, and says who can */
	ro.root = root;
	CU_ASSERT_EQUAL(cs_index_open(&ro, &index, &err), -1);
	CU_ASSERT(strstr(err.text, "layout 1") != NULL);
	CU_ASSERT(has_tag(db, CS_KEY_MESSAGE_V1));
	/* a writer converts it */
	index = unit_open(root);
	CU_ASSERT_EQUAL(index->hdr.version, CS_RECORD_VERSION);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "INBOX", false, 0, 0, &box,
					NULL), 1);
	CU_ASSERT_EQUAL(box->rec.messages, V1_MESSAGES);
	CU_ASSERT_EQUAL(box->rec.highestmodseq, LAYOUT1_TOP);
	CU_ASSERT(box->rec.nbuckets * CS_BUCKET_FILL >= V1_MESSAGES);
	CU_ASSERT_OK(cs_changes_since(box, 0, walked_msg, &w, CU_ERR));
	CU_ASSERT_EQUAL(w.messages, V1_MESSAGES);
	CU_ASSERT(w.order_ok);
	CU_ASSERT_OK(cs_expunges_since(box, LAYOUT1_SEED, walked_exp, &w, CU_ERR));
	CU_ASSERT_EQUAL(w.expunged, 1);
	w.messages = 0;
	CU_ASSERT_OK(cs_changes_since(box, LAYOUT1_SEED + 400, walked_msg, &w,
				      CU_ERR));
	CU_ASSERT_EQUAL(w.messages, V1_MESSAGES - 400);
	CU_ASSERT_EQUAL(check(index), 0);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	CU_ASSERT(!has_tag(db, CS_KEY_MESSAGE_V1));
	CU_ASSERT(!has_tag(db, CS_KEY_UID_V1));
	/* readers open it now */
	CU_ASSERT_EQUAL(cs_index_open(&ro, &index, &err), 0);
	cs_index_close(&index);
	unit_remove_tree(root);
}

#define CONVERT_ROUNDS 10
#define CONVERT_MESSAGES 20000

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out;

	CU_ASSERT_FATAL(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CU_ASSERT_FATAL(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CU_ASSERT_EQUAL(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* kill -9 while a writer converts: layout 1 as it was, or layout 2
   complete; either way the next writer ends with every modseq kept.  The
   first two rounds time a whole conversion (the faster counts: the first
   reads a cold file), the others are killed at random points of about
   that length. */
static void test_kill9_during_convert(void)
{
	char root[4096], db[4200], tmpl[4200];
	struct cs_index_settings set = { 0 };
	struct cs_index *index;
	struct cs_mailbox *box;
	int round, status, killed = 0, still_v1 = 0;
	uint64_t start, took = 0;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	snprintf(tmpl, sizeof(tmpl), "%s.layout1", root);
	CU_ASSERT_EQUAL_FATAL(layout1_write(root, tmpl, CONVERT_MESSAGES,
					    true), 0);
	set.root = root;
	for (round = 0; round < CONVERT_ROUNDS; round++) {
		struct walked w = { .order_ok = true,
				    .tomb = layout1_tomb_uid(CONVERT_MESSAGES) };

		copy_file(tmpl, db);
		start = now_usec();
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			_exit(cs_index_open(&set, &index, NULL) == 0 ? 0 : 2);
		if (round > 1) {
			usleep((useconds_t)(rand() % (took * 6 / 5 + 1)));
			(void)kill(pid, SIGKILL);
		}
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
		if (round < 2 && (took == 0 || now_usec() - start < took))
			took = now_usec() - start;
		CU_ASSERT(WIFSIGNALED(status) ||
			  (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		if (WIFSIGNALED(status))
			killed++;
		if (has_tag(db, CS_KEY_MESSAGE_V1))
			still_v1++;
		index = unit_open(root);
		CU_ASSERT_EQUAL(index->hdr.version, CS_RECORD_VERSION);
		CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", false,
						      0, 0, &box, NULL), 1);
		CU_ASSERT_EQUAL(box->rec.highestmodseq, LAYOUT1_TOP);
		CU_ASSERT_EQUAL(box->rec.messages, CONVERT_MESSAGES);
		CU_ASSERT_OK(cs_changes_since(box, 0, walked_msg, &w,
					      CU_ERR));
		CU_ASSERT_EQUAL(w.messages, CONVERT_MESSAGES);
		CU_ASSERT(w.order_ok);
		CU_ASSERT_OK(cs_expunges_since(box, LAYOUT1_SEED, walked_exp,
					       &w, CU_ERR));
		CU_ASSERT_EQUAL(w.expunged, 1);
		cs_mailbox_close(&box);
		CU_ASSERT_EQUAL(check(index), 0);
		cs_index_close(&index);
	}
	CU_ASSERT(killed > 0);
	fprintf(stderr, "(a conversion %llu ms; %d killed of %d, %d of them "
		"left layout 1) ", (unsigned long long)(took / 1000), killed,
		CONVERT_ROUNDS - 2, still_v1);
	unlink(tmpl);
	unit_remove_tree(root);
}

void suite_msgstore_register(void)
{
	CU_pSuite s = CU_add_suite("message store (layout 2)", NULL, NULL);

	CU_add_test(s, "buckets split; an old bucket count finds them",
		    test_buckets_split);
	CU_add_test(s, "a bucket count out of all proportion",
		    test_bucket_count_hostile);
	CU_add_test(s, "an index of layout 1 is converted",
		    test_convert_layout1);
	CU_add_test(s, "kill -9 during a conversion, 10 times",
		    test_kill9_during_convert);
}
