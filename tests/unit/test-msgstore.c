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
#include <unistd.h>

#include "cs-bucket.h"
#include "cs-check.h"
#include "cs-hash.h"
#include "cs-index-private.h"
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

static void name_of(unsigned int i, char *buf, size_t size)
{
	snprintf(buf, size, "%u.M%uP7.host", 1700000000 + i, i);
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
		name_of(i, base, sizeof(base));
		snprintf(file, sizeof(file), "%s:2,", base);
		unit_touch(root, "cur", file);
		CU_ASSERT_EQUAL(cs_reconcile(box, base, strlen(base), &d, NULL,
					     NULL), 1);
	}
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
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
		name_of(i, base, sizeof(base));
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
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", true,
					      CS_UIDSRC_OWN, 0, &box, NULL),
			      1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
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
			name_of(i, base, sizeof(base));
			CU_ASSERT_EQUAL(cs_reconcile(box, base, strlen(base),
						     &gone, NULL, NULL), 1);
		}
	}
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	name_of(2, base, sizeof(base));
	CU_ASSERT_EQUAL(cs_message_lookup(stale, base, strlen(base), &msg,
					  NULL), 0);
	name_of(3, base, sizeof(base));
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
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", true,
					      CS_UIDSRC_OWN, 0, &box, NULL),
			      1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
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

#define V1_MESSAGES 600
#define V1_RUN 400		/* the first messages' entries: two runs */
#define V1_SEED UINT64_C(1000000)
#define V1_CHANGED 50000		/* a changed message's modseq is this
					   much above its first (n < this) */
#define V1_TOP (V1_SEED + 2 * V1_CHANGED)	/* the tombstone's modseq */

struct v1 {
	struct tdb_context *tdb;
	unsigned int messages;
	uint64_t digest, uid_sum;
};

/* The UID of the tombstone of a mailbox of n messages. */
static uint32_t v1_tomb_uid(unsigned int n)
{
	return n + 300;
}

static void v1_store(struct v1 *v, const uint8_t *key, size_t key_len,
		     const void *data, size_t size)
{
	TDB_DATA k = { (uint8_t *)key, key_len };
	TDB_DATA d = { (uint8_t *)data, size };

	CU_ASSERT_EQUAL(tdb_store(v->tdb, k, d, TDB_REPLACE), 0);
}

static bool v1_changed(unsigned int i)
{
	return i >= V1_RUN && i % 3 == 0;
}

static uint64_t v1_modseq(unsigned int i)
{
	/* the runs' messages got V1_SEED+1.., the others one each later,
	   every third of those changed once more (its own entry) */
	return V1_SEED + 1 + i + (v1_changed(i) ? V1_CHANGED : 0);
}

static void v1_message(struct v1 *v, const char *root, unsigned int i)
{
	struct cs_msg_rec rec = { .version = CS_RECORD_VERSION_V1,
				  .location = CS_LOC_CUR, .suffix_len = 4,
				  .uid = i + 1, .modseq = v1_modseq(i),
				  .flags = CS_FLAG_SEEN };
	uint8_t key[CS_KEY_MAX], buf[CS_MSG_REC_FIXED_SIZE + 4];
	uint8_t entry[1 + CS_NAME_MAX];
	char base[64], file[80];
	size_t len;

	name_of(i, base, sizeof(base));
	len = strlen(base);
	if (v1_changed(i)) {
		rec.prev_modseq = V1_SEED + 1 + i;
		rec.prev_flags = 0;
	}
	cs_msg_rec_encode(&rec, ":2,S", buf);
	v1_store(v, key, cs_key_msg_v1(key, 1, base, len), buf, sizeof(buf));
	v1_store(v, key, cs_key_uid_v1(key, 1, rec.uid), base, len);
	if (i >= V1_RUN) {
		entry[0] = CS_CHANGE_MESSAGE_V1;
		memcpy(entry + 1, base, len);
		v1_store(v, key, cs_key_change(key, 1, rec.modseq), entry,
			 1 + len);
	}
	snprintf(file, sizeof(file), "%s:2,S", base);
	if (root != NULL)
		unit_touch(root, "cur", file);
	v->digest += cs_digest_term(CS_LOC_CUR, file, strlen(file));
	v->uid_sum += cs_uid_term(cs_name_hash(base, len), rec.uid);
}

/* The run of the first V1_RUN messages' entries (their first modseqs;
   those that changed since are stale in it). */
static void v1_run(struct v1 *v)
{
	uint8_t key[CS_KEY_MAX], *run = malloc(3 + V1_RUN * 64), *p;
	char base[64];
	unsigned int i;

	CU_ASSERT_FATAL(run != NULL);
	run[0] = CS_CHANGE_RUN_V1;
	run[1] = 0;	/* the count: at most CS_CHANGE_RUN_MAX */
	p = run + 3;
	for (i = 0; i < CS_CHANGE_RUN_MAX; i++) {
		name_of(i, base, sizeof(base));
		*p++ = (uint8_t)strlen(base);
		memcpy(p, base, strlen(base));
		p += strlen(base);
	}
	run[1] = (uint8_t)CS_CHANGE_RUN_MAX;
	run[2] = (uint8_t)(CS_CHANGE_RUN_MAX >> 8);
	v1_store(v, key, cs_key_change(key, 1, V1_SEED + CS_CHANGE_RUN_MAX),
		 run, (size_t)(p - run));
	/* the rest of the first V1_RUN: a second run */
	p = run + 3;
	for (i = CS_CHANGE_RUN_MAX; i < V1_RUN; i++) {
		name_of(i, base, sizeof(base));
		*p++ = (uint8_t)strlen(base);
		memcpy(p, base, strlen(base));
		p += strlen(base);
	}
	run[1] = (uint8_t)(V1_RUN - CS_CHANGE_RUN_MAX);
	run[2] = 0;
	v1_store(v, key, cs_key_change(key, 1, V1_SEED + V1_RUN), run,
		 (size_t)(p - run));
	free(run);
}

/* The rank records of UIDs 1 .. v->messages, a tombstone above them and
   the jump of the mailbox's seed. */
static void v1_rest(struct v1 *v)
{
	uint8_t key[CS_KEY_MAX], bits[512], *counts, val[16], entry[5];
	unsigned int uid, chunk, nchunks = v->messages / 4096 + 1;

	counts = calloc(nchunks, 2);
	CU_ASSERT_FATAL(counts != NULL);
	for (chunk = 0; chunk < nchunks; chunk++) {
		unsigned int count = 0;

		memset(bits, 0, sizeof(bits));
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
		v1_store(v, key, 9, bits, sizeof(bits));
	}
	key[0] = CS_KEY_RANK_SUM;
	v1_store(v, key, 5, counts, nchunks * 2);
	free(counts);
	cs_put_le64(val, V1_TOP);
	v1_store(v, key, cs_key_tomb(key, 1, v1_tomb_uid(v->messages)), val,
		 8);
	entry[0] = CS_CHANGE_EXPUNGE;
	cs_put_le32(entry + 1, v1_tomb_uid(v->messages));
	v1_store(v, key, cs_key_change(key, 1, V1_TOP), entry, 5);
	cs_put_le64(val, V1_SEED);
	cs_put_le64(val + 8, 0);
	v1_store(v, key, cs_key_jump(key, 1), val, 16);
}

/* An index of layout 1 in db, of n messages (their files in root's
   cur/ too, unless files is false). */
static void v1_write(const char *root, const char *db, unsigned int n,
		     bool files)
{
	struct cs_header_rec hdr = { .version = CS_RECORD_VERSION_V1,
				     .separator = ':', .next_mailbox_id = 2,
				     .ceiling = V1_TOP + 100000 };
	struct cs_mailbox_rec rec = { .version = CS_RECORD_VERSION_V1,
				      .uid_source = CS_UIDSRC_OWN, .id = 1,
				      .uidvalidity = 1700000000,
				      .uidnext = v1_tomb_uid(n) + 1,
				      .highestmodseq = V1_TOP,
				      .horizon = V1_SEED, .messages = n,
				      .flags = CS_MAILBOX_F_DIGEST };
	struct v1 v = { .messages = n };
	uint8_t key[CS_KEY_MAX], buf[CS_MAILBOX_REC_SIZE];
	unsigned int i;

	v.tdb = tdb_open(db, 1031, TDB_INCOMPATIBLE_HASH, O_RDWR | O_CREAT,
			 0600);
	CU_ASSERT_FATAL(v.tdb != NULL);
	cs_header_rec_encode(&hdr, buf);
	key[0] = CS_KEY_HEADER;
	v1_store(&v, key, 1, buf, CS_HEADER_REC_SIZE);
	key[0] = CS_KEY_MAILBOX_LIST;
	v1_store(&v, key, 1, "INBOX", 6);
	for (i = 0; i < n; i++)
		v1_message(&v, files ? root : NULL, i);
	v1_run(&v);
	v1_rest(&v);
	rec.digest = v.digest;
	rec.uid_sum = v.uid_sum;
	cs_mailbox_rec_encode(&rec, buf);
	v1_store(&v, key, cs_key_mailbox(key, "INBOX"), buf,
		 CS_MAILBOX_REC_SIZE_V1_DIGEST);
	tdb_close(v.tdb);
}

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
	    msg->rec.modseq != v1_modseq(i) || msg->rec.uid != i + 1 ||
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
	if (uid == w->tomb && modseq == V1_TOP)
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
			    .tomb = v1_tomb_uid(V1_MESSAGES) };

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	v1_write(root, db, V1_MESSAGES, true);
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
	CU_ASSERT_EQUAL(box->rec.highestmodseq, V1_TOP);
	CU_ASSERT(box->rec.nbuckets * CS_BUCKET_FILL >= V1_MESSAGES);
	CU_ASSERT_OK(cs_changes_since(box, 0, walked_msg, &w, CU_ERR));
	CU_ASSERT_EQUAL(w.messages, V1_MESSAGES);
	CU_ASSERT(w.order_ok);
	CU_ASSERT_OK(cs_expunges_since(box, V1_SEED, walked_exp, &w, CU_ERR));
	CU_ASSERT_EQUAL(w.expunged, 1);
	w.messages = 0;
	CU_ASSERT_OK(cs_changes_since(box, V1_SEED + 400, walked_msg, &w,
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

/* kill -9 while a writer converts: layout 1 as it was, or layout 2
   complete; either way the next writer ends with every modseq kept. */
static void test_kill9_during_convert(void)
{
	char root[4096], db[4200], tmpl[4200];
	struct cs_index_settings set = { 0 };
	struct cs_index *index;
	struct cs_mailbox *box;
	int round, status, killed = 0, still_v1 = 0;
	pid_t pid;

	unit_make_root(root, sizeof(root));
	snprintf(db, sizeof(db), "%s/condstore.tdb", root);
	snprintf(tmpl, sizeof(tmpl), "%s.layout1", root);
	v1_write(root, tmpl, CONVERT_MESSAGES, true);
	set.root = root;
	for (round = 0; round < CONVERT_ROUNDS; round++) {
		struct walked w = { .order_ok = true,
				    .tomb = v1_tomb_uid(CONVERT_MESSAGES) };

		copy_file(tmpl, db);
		pid = fork();
		CU_ASSERT_FATAL(pid >= 0);
		if (pid == 0)
			_exit(cs_index_open(&set, &index, NULL) == 0 ? 0 : 2);
		usleep((useconds_t)(rand() % 200000));
		(void)kill(pid, SIGKILL);
		CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
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
		CU_ASSERT_EQUAL(box->rec.highestmodseq, V1_TOP);
		CU_ASSERT_EQUAL(box->rec.messages, CONVERT_MESSAGES);
		CU_ASSERT_OK(cs_changes_since(box, 0, walked_msg, &w,
					      CU_ERR));
		CU_ASSERT_EQUAL(w.messages, CONVERT_MESSAGES);
		CU_ASSERT(w.order_ok);
		CU_ASSERT_OK(cs_expunges_since(box, V1_SEED, walked_exp, &w,
					       CU_ERR));
		CU_ASSERT_EQUAL(w.expunged, 1);
		cs_mailbox_close(&box);
		CU_ASSERT_EQUAL(check(index), 0);
		cs_index_close(&index);
	}
	/* some kills came before the end */
	CU_ASSERT(killed > 0);
	fprintf(stderr, "%d of %d killed, %d left layout 1 ", killed,
		CONVERT_ROUNDS, still_v1);
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
