/*
 * test-watch-events.c - the watch daemon's event logic fed with synthetic
 * inotify event streams: pairing of MOVED_FROM/MOVED_TO by cookie in one
 * folder and across folders, a cookie among unrelated events, unpaired
 * MOVED_FROMs, coalescing of repeated events for one message, the
 * kernel's and the reader's IN_Q_OVERFLOW, and names that are not
 * messages.
 *
 * Everything but the event stream is real: a Maildir in a temporary
 * directory, watched by a real inotify instance (whose own events are
 * never read), a daemon started on it as "condstore watch" starts one,
 * and its real tdb.  Each test changes the disk as an agent would, feeds
 * the events that change would have caused, then checks what the batch
 * made of them and what the index holds after the daemon's round.
 */
#include "config.h"

#include <limits.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "unit.h"
#include "watch-engine.h"
#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-lockwait.h"
#include "watch-log.h"
#include "watch-roots.h"
#include "watch-status.h"
#include "watch-tree.h"

/* A daemon serving one Maildir with INBOX and .A, each message of
   INBOX/cur indexed by the startup scan. */
static struct {
	char root[PATH_MAX];
	const char *maildirs[1];
	struct watch_settings set;
	struct watch_log *log;
	struct watch_inotify in;
	struct watch_daemon d;
	struct watch_box *inbox, *a;
} fx;

/* A buffer of events laid out as read(2) returns them. */
struct evbuf {
	alignas(struct inotify_event) char data[8192];
	size_t used;
};

static void setup(void)
{
	char path[PATH_MAX + 16];
	struct cs_error err;

	memset(&fx, 0, sizeof(fx));
	unit_make_root(fx.root, sizeof(fx.root));
	snprintf(path, sizeof(path), "%s/.A", fx.root);
	unit_make_maildir(path);
	unit_touch(fx.root, "cur", "1000.m1:2,S");
	unit_touch(fx.root, "cur", "1000.m2:2,");
	unit_touch(fx.root, "cur", "1000.m3:2,");
	unit_touch(fx.root, "cur", "1000.m4:2,");

	fx.maildirs[0] = fx.root;
	fx.set.maildirs = fx.maildirs;
	fx.set.maildir_count = 1;
	fx.set.separator = ':';
	fx.set.nosync = true;
	fx.set.rescan_interval_ms = WATCH_DEFAULT_RESCAN_MS;
	fx.set.batch_delay_ms = WATCH_DEFAULT_BATCH_DELAY_MS;
	fx.set.pair_wait_ms = WATCH_DEFAULT_PAIR_WAIT_MS;
	fx.set.max_open = WATCH_DEFAULT_MAX_OPEN;
	fx.set.max_pending = WATCH_DEFAULT_MAX_PENDING;
	fx.set.max_queue = WATCH_DEFAULT_MAX_QUEUE;

	CU_ASSERT_FATAL(watch_log_open(false, "/dev/null", 1, &fx.log,
				       &err) == 0);
	CU_ASSERT_FATAL(watch_lockwait_init(&err) == 0);
	CU_ASSERT_FATAL(watch_inotify_init(&fx.in, 0, &err) == 1);
	fx.d.set = &fx.set;
	fx.d.log = fx.log;
	fx.d.in = &fx.in;
	fx.d.sfd = -1;
	CU_ASSERT_FATAL(watch_events_init(&fx.d, &err) == 0);
	CU_ASSERT_FATAL(watch_status_init(&fx.d, NULL) == 0);
	CU_ASSERT_FATAL(watch_roots_expand(&fx.d) == 1);
	watch_roots_start_all(&fx.d);
	watch_engine_full_rescan(&fx.d, "startup");

	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.d.roots);
	CU_ASSERT_FATAL(fx.d.roots->started);
	fx.inbox = watch_box_find(fx.d.roots, "INBOX");
	fx.a = watch_box_find(fx.d.roots, "A");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.inbox);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.a);
	CU_ASSERT_FATAL(fx.inbox->wd_new >= 0 && fx.inbox->wd_cur >= 0);
	CU_ASSERT_FATAL(fx.a->wd_new >= 0 && fx.a->wd_cur >= 0);
	CU_ASSERT_FATAL(fx.d.roots->wd >= 0);
}

static void teardown(void)
{
	watch_roots_shutdown(&fx.d);
	watch_status_deinit(&fx.d);
	watch_events_deinit(&fx.d);
	watch_inotify_deinit(&fx.in);
	watch_lockwait_deinit();
	watch_log_close(&fx.log);
	unit_remove_tree(fx.root);
}

/* --- the disk --- */

static void box_file(const struct watch_box *box, const char *sub,
		     const char *name, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s/%s", box->path, sub, name);
}

static void disk_rename(const struct watch_box *from_box, const char *from,
			const struct watch_box *to_box, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX];

	box_file(from_box, "cur", from, a, sizeof(a));
	box_file(to_box, "cur", to, b, sizeof(b));
	CU_ASSERT_FATAL(rename(a, b) == 0);
}

/* Move a message out of the Maildir (to the temporary directory's
   parent's view: a name outside every watched directory). */
static void disk_move_out(const struct watch_box *box, const char *name)
{
	char a[PATH_MAX], b[PATH_MAX + 16];

	box_file(box, "cur", name, a, sizeof(a));
	snprintf(b, sizeof(b), "%s/moved-out", fx.root);
	CU_ASSERT_FATAL(rename(a, b) == 0);
	CU_ASSERT_FATAL(unlink(b) == 0);
}

/* --- events --- */

static void ev_add(struct evbuf *b, int wd, uint32_t mask, uint32_t cookie,
		   const void *name, size_t name_size)
{
	struct inotify_event *event;
	size_t len = name_size == 0 ? 0 :
		(name_size + sizeof(*event) - 1) / sizeof(*event) *
		sizeof(*event);

	CU_ASSERT_FATAL(b->used + sizeof(*event) + len <= sizeof(b->data));
	event = (struct inotify_event *)(void *)(b->data + b->used);
	memset(event, 0, sizeof(*event) + len);
	event->wd = wd;
	event->mask = mask;
	event->cookie = cookie;
	event->len = (uint32_t)len;
	if (name_size > 0)
		memcpy(event->name, name, name_size);
	b->used += sizeof(*event) + len;
}

static void ev(struct evbuf *b, int wd, uint32_t mask, uint32_t cookie,
	       const char *name)
{
	ev_add(b, wd, mask, cookie, name, strlen(name) + 1);
}

static void feed(struct evbuf *b)
{
	struct cs_error err;

	CU_ASSERT_EQUAL(watch_events_handle_buffer(&fx.d, b->data, b->used,
						   &err), 0);
	b->used = 0;
}

/* The pending moves' wait ends, and the daemon does what is due. */
static void settle(void)
{
	(void)watch_events_expire(&fx.d, true);
	watch_engine_work(&fx.d);
	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 0);
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
}

static int item(const struct watch_box *box, const char *base,
		struct watch_item_state *state_r)
{
	return watch_events_item_lookup(&fx.d, box, base, state_r);
}

/* --- the index --- */

/* Look base up in box's mailbox (rec.modseq 0 after an expunge).
   Returns 1 found, 0 not. */
static int indexed(const struct watch_box *box, const char *base,
		   struct cs_message *msg_r)
{
	struct cs_index *index;
	struct cs_mailbox *mbox;
	struct cs_error err;
	int ret;

	CU_ASSERT_FATAL(watch_root_index(&fx.d, fx.d.roots, &index,
					 &err) == 0);
	CU_ASSERT_FATAL(cs_mailbox_open(index, box->name, false, 0, 0, &mbox,
					&err) == 1);
	ret = cs_message_lookup(mbox, base, strlen(base), msg_r, &err);
	cs_mailbox_close(&mbox);
	CU_ASSERT_FATAL(ret >= 0);
	return ret > 0 && msg_r->rec.modseq != 0 ? 1 : 0;
}

static uint64_t highestmodseq(const struct watch_box *box)
{
	struct cs_index *index;
	struct cs_mailbox *mbox;
	struct cs_error err;
	uint64_t modseq;

	CU_ASSERT_FATAL(watch_root_index(&fx.d, fx.d.roots, &index,
					 &err) == 0);
	CU_ASSERT_FATAL(cs_mailbox_open(index, box->name, false, 0, 0, &mbox,
					&err) == 1);
	modseq = cs_mailbox_get_rec(mbox)->highestmodseq;
	cs_mailbox_close(&mbox);
	return modseq;
}

/* --- tests --- */

/* A flag change is a rename in cur/: one cookie pairs the two halves
   into one item with the new name, nothing is left to settle from the
   directory, and the commit gives the message its new flags. */
static void test_pair_same_folder(void)
{
	struct watch_item_state st;
	struct cs_message before, after;
	struct evbuf b = { .used = 0 };

	setup();
	CU_ASSERT_EQUAL_FATAL(indexed(fx.inbox, "1000.m1", &before), 1);
	disk_rename(fx.inbox, "1000.m1:2,S", fx.inbox, "1000.m1:2,FS");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 11, "1000.m1:2,S");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_TO, 11, "1000.m1:2,FS");
	feed(&b);

	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 1);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m1", &st), 1);
	CU_ASSERT(st.has_name);
	CU_ASSERT_STRING_EQUAL(st.name, "1000.m1:2,FS");
	CU_ASSERT(!st.removed);
	CU_ASSERT(!st.uncertain);

	settle();
	CU_ASSERT_EQUAL_FATAL(indexed(fx.inbox, "1000.m1", &after), 1);
	CU_ASSERT_EQUAL(after.rec.uid, before.rec.uid);
	CU_ASSERT_EQUAL(after.rec.flags, CS_FLAG_FLAGGED | CS_FLAG_SEEN);
	CU_ASSERT(after.rec.modseq > before.rec.modseq);
	teardown();
}

/* A move from INBOX to .A: the cookie pairs a MOVED_FROM in one watched
   folder with a MOVED_TO in another; the source is a removal in INBOX,
   the target a name in A, and the commit expunges the one and adds the
   other. */
static void test_pair_across_folders(void)
{
	struct watch_item_state st;
	struct cs_message msg;
	uint64_t inbox_modseq;
	struct evbuf b = { .used = 0 };

	setup();
	inbox_modseq = highestmodseq(fx.inbox);
	disk_rename(fx.inbox, "1000.m2:2,", fx.a, "1000.m2:2,");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 21, "1000.m2:2,");
	ev(&b, fx.a->wd_cur, IN_MOVED_TO, 21, "1000.m2:2,");
	feed(&b);

	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 2);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m2", &st), 1);
	CU_ASSERT(st.removed);
	CU_ASSERT(!st.has_name);
	CU_ASSERT(!st.uncertain);
	CU_ASSERT_EQUAL_FATAL(item(fx.a, "1000.m2", &st), 1);
	CU_ASSERT(st.has_name);
	CU_ASSERT(!st.removed);
	CU_ASSERT(!st.uncertain);

	settle();
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m2", &msg), 0);
	CU_ASSERT_EQUAL(highestmodseq(fx.inbox), inbox_modseq + 1);
	CU_ASSERT_EQUAL(indexed(fx.a, "1000.m2", &msg), 1);
	CU_ASSERT(msg.rec.uid > 0);
	teardown();
}

/* A move's two halves with unrelated events between them, and another
   move's MOVED_FROM still waiting: each MOVED_TO takes the MOVED_FROM of
   its own cookie only. */
static void test_cookie_among_events(void)
{
	struct watch_item_state st;
	struct cs_message msg;
	struct evbuf b = { .used = 0 };

	setup();
	disk_rename(fx.inbox, "1000.m3:2,", fx.a, "1000.m3:2,");
	unit_touch(fx.root, "new", "2000.n1");
	disk_rename(fx.inbox, "1000.m4:2,", fx.inbox, "1000.m4:2,S");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 31, "1000.m3:2,");
	ev(&b, fx.inbox->wd_new, IN_CREATE, 0, "2000.n1");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 32, "1000.m4:2,");
	ev(&b, fx.inbox->wd_new, IN_MODIFY, 0, "2000.n1");
	ev(&b, fx.a->wd_cur, IN_MOVED_TO, 31, "1000.m3:2,");
	feed(&b);

	/* 32 still waits for its partner; 31 was paired across folders */
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 1);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m3", &st), 1);
	CU_ASSERT(st.removed && !st.has_name && !st.uncertain);
	CU_ASSERT_EQUAL_FATAL(item(fx.a, "1000.m3", &st), 1);
	CU_ASSERT(st.has_name && !st.uncertain);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "2000.n1", &st), 1);
	CU_ASSERT(st.has_name && st.loc == CS_LOC_NEW);
	CU_ASSERT_EQUAL(item(fx.inbox, "1000.m4", &st), 0);

	ev(&b, fx.inbox->wd_cur, IN_MOVED_TO, 32, "1000.m4:2,S");
	feed(&b);
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m4", &st), 1);
	CU_ASSERT(st.has_name && !st.removed && !st.uncertain);
	CU_ASSERT_STRING_EQUAL(st.name, "1000.m4:2,S");

	settle();
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m3", &msg), 0);
	CU_ASSERT_EQUAL(indexed(fx.a, "1000.m3", &msg), 1);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "2000.n1", &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.location, CS_LOC_NEW);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m4", &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.flags, CS_FLAG_SEEN);
	teardown();
}

/* A message moved out of the Maildir: the MOVED_FROM, the last event of
   the batch, waits for a partner; when its wait ends it is settled from
   the directory, which finds the message gone. */
static void test_unpaired_at_end(void)
{
	struct watch_item_state st;
	struct cs_message msg;
	uint64_t modseq;
	struct evbuf b = { .used = 0 };

	setup();
	modseq = highestmodseq(fx.inbox);
	disk_move_out(fx.inbox, "1000.m1:2,S");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 41, "1000.m1:2,S");
	feed(&b);
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 1);
	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 0);

	(void)watch_events_expire(&fx.d, true);
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m1", &st), 1);
	CU_ASSERT(st.uncertain);

	settle();
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m1", &msg), 0);
	CU_ASSERT_EQUAL(highestmodseq(fx.inbox), modseq + 1);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m2", &msg), 1);
	teardown();
}

/* An unpaired MOVED_FROM followed by other events, among them a MOVED_TO
   of the same base name in another folder under another cookie (a
   different message's move): nothing pairs with it, the later events
   are taken as they are, and the directory settles it. */
static void test_unpaired_then_events(void)
{
	struct watch_item_state st;
	struct cs_message msg;
	struct evbuf b = { .used = 0 };

	setup();
	disk_move_out(fx.inbox, "1000.m2:2,");
	unit_touch(fx.a->path, "cur", "1000.m2:2,T");
	unit_touch(fx.root, "new", "2000.n2");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 51, "1000.m2:2,");
	ev(&b, fx.inbox->wd_new, IN_CREATE, 0, "2000.n2");
	ev(&b, fx.a->wd_cur, IN_MOVED_TO, 52, "1000.m2:2,T");
	feed(&b);

	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 1);
	CU_ASSERT_EQUAL(item(fx.inbox, "1000.m2", &st), 0);
	CU_ASSERT_EQUAL_FATAL(item(fx.a, "1000.m2", &st), 1);
	CU_ASSERT(st.has_name && !st.uncertain);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "2000.n2", &st), 1);
	CU_ASSERT(st.has_name);

	settle();
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m2", &msg), 0);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "2000.n2", &msg), 1);
	CU_ASSERT_EQUAL(indexed(fx.a, "1000.m2", &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.flags, CS_FLAG_DELETED);
	teardown();
}

/* Repeated events for one message coalesce into one item holding its
   newest name, committed as one change; a file created and removed in
   the same batch is one item that records nothing. */
static void test_coalesce(void)
{
	struct watch_item_state st;
	struct cs_message before, after;
	uint64_t modseq;
	char path[PATH_MAX];
	struct evbuf b = { .used = 0 };

	setup();
	CU_ASSERT_EQUAL_FATAL(indexed(fx.inbox, "1000.m2", &before), 1);
	modseq = highestmodseq(fx.inbox);
	disk_rename(fx.inbox, "1000.m2:2,", fx.inbox, "1000.m2:2,RS");
	unit_touch(fx.root, "new", "2000.n3");
	box_file(fx.inbox, "new", "2000.n3", path, sizeof(path));
	CU_ASSERT_FATAL(unlink(path) == 0);
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 61, "1000.m2:2,");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_TO, 61, "1000.m2:2,S");
	ev(&b, fx.inbox->wd_new, IN_CREATE, 0, "2000.n3");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 62, "1000.m2:2,S");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_TO, 62, "1000.m2:2,RS");
	ev(&b, fx.inbox->wd_new, IN_DELETE, 0, "2000.n3");
	feed(&b);

	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 2);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "1000.m2", &st), 1);
	CU_ASSERT_STRING_EQUAL(st.name, "1000.m2:2,RS");
	CU_ASSERT(st.has_name && !st.removed && !st.uncertain);
	CU_ASSERT_EQUAL_FATAL(item(fx.inbox, "2000.n3", &st), 1);
	CU_ASSERT(st.removed && !st.has_name);

	settle();
	CU_ASSERT_EQUAL_FATAL(indexed(fx.inbox, "1000.m2", &after), 1);
	CU_ASSERT_EQUAL(after.rec.uid, before.rec.uid);
	CU_ASSERT_EQUAL(after.rec.flags, CS_FLAG_ANSWERED | CS_FLAG_SEEN);
	/* one change for the two renames, none for the passing file */
	CU_ASSERT_EQUAL(highestmodseq(fx.inbox), modseq + 1);
	CU_ASSERT_EQUAL(after.rec.modseq, modseq + 1);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "2000.n3", &after), 0);
	teardown();
}

/* The kernel's IN_Q_OVERFLOW (no watch, no name): events were lost, so
   every mailbox of every root is rescanned, and what changed without an
   event is found. */
static void test_kernel_overflow(void)
{
	struct cs_message msg;
	struct evbuf b = { .used = 0 };

	setup();
	unit_touch(fx.root, "new", "3000.s1");
	unit_touch(fx.a->path, "cur", "3000.s2:2,S");
	disk_rename(fx.inbox, "1000.m3:2,", fx.inbox, "1000.m3:2,F");
	/* without events nothing is seen */
	watch_engine_work(&fx.d);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "3000.s1", &msg), 0);

	ev_add(&b, -1, IN_Q_OVERFLOW, 0, NULL, 0);
	feed(&b);
	CU_ASSERT(fx.d.overflow);
	settle();
	CU_ASSERT(!fx.d.overflow);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "3000.s1", &msg), 1);
	CU_ASSERT_EQUAL(indexed(fx.a, "3000.s2", &msg), 1);
	CU_ASSERT_EQUAL_FATAL(indexed(fx.inbox, "1000.m3", &msg), 1);
	CU_ASSERT_EQUAL(msg.rec.flags, CS_FLAG_FLAGGED);
	teardown();
}

/* The reader's IN_Q_OVERFLOW names the watches whose events it dropped:
   only what they watch is rescanned, not the whole root. */
static void test_reader_overflow(void)
{
	struct cs_message msg;
	struct evbuf b = { .used = 0 };
	int wds[1];

	setup();
	unit_touch(fx.a->path, "cur", "3000.s3:2,");
	unit_touch(fx.root, "cur", "3000.s4:2,");
	wds[0] = fx.a->wd_cur;
	ev_add(&b, -1, IN_Q_OVERFLOW, 0, wds, sizeof(wds));
	feed(&b);
	CU_ASSERT(!fx.d.overflow);
	CU_ASSERT(fx.a->need_scan);
	CU_ASSERT(!fx.inbox->need_scan);
	settle();
	CU_ASSERT_EQUAL(indexed(fx.a, "3000.s3", &msg), 1);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "3000.s4", &msg), 0);
	teardown();
}

/* Names that are not messages (hidden, directories, empty) in new/ and
   cur/, a file in the root that is no sync cookie and a directory that
   is no folder: no item, no pending move, no mailbox, no change. */
static void test_not_messages(void)
{
	struct cs_message msg;
	uint64_t modseq;
	struct evbuf b = { .used = 0 };
	unsigned int boxes = 0;
	struct watch_box *box;

	setup();
	modseq = highestmodseq(fx.inbox);
	ev(&b, fx.inbox->wd_cur, IN_CREATE, 0, ".hidden");
	ev(&b, fx.inbox->wd_cur, IN_MOVED_FROM, 71, ".1000.m1:2,S");
	ev(&b, fx.inbox->wd_new, IN_CREATE | IN_ISDIR, 0, "subdir");
	ev(&b, fx.inbox->wd_new, IN_MOVED_FROM | IN_ISDIR, 72, "subdir");
	ev(&b, fx.inbox->wd_cur, IN_DELETE, 0, "");
	ev(&b, fx.inbox->wd_cur, IN_CREATE, 0, ":2,S");
	ev(&b, fx.d.roots->wd, IN_CREATE, 0, "notes.txt");
	ev(&b, fx.d.roots->wd, IN_CREATE | IN_ISDIR, 0, "tmp2");
	ev(&b, fx.d.roots->wd, IN_CREATE | IN_ISDIR, 0, "..");
	feed(&b);

	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 0);
	CU_ASSERT_EQUAL(watch_events_pending_count(&fx.d), 0);
	CU_ASSERT_EQUAL(fx.d.roots->cookie_count, 0);
	for (box = fx.d.roots->boxes; box != NULL; box = box->next)
		boxes++;
	CU_ASSERT_EQUAL(boxes, 2);
	settle();
	CU_ASSERT_EQUAL(highestmodseq(fx.inbox), modseq);
	CU_ASSERT_EQUAL(indexed(fx.inbox, "1000.m1", &msg), 1);
	teardown();
}

/* A folder renamed in the root: the cookie pairs the two directory
   events into one rename, applied to the index by the next folder sync
   (the mailbox keeps its records under its new name). */
static void test_folder_rename(void)
{
	struct cs_index *index;
	struct cs_mailbox *mbox;
	struct cs_error err;
	char from[PATH_MAX + 16], to[PATH_MAX + 16];
	struct evbuf b = { .used = 0 };

	setup();
	snprintf(from, sizeof(from), "%s/.A", fx.root);
	snprintf(to, sizeof(to), "%s/.B", fx.root);
	CU_ASSERT_FATAL(rename(from, to) == 0);
	ev(&b, fx.d.roots->wd, IN_MOVED_FROM | IN_ISDIR, 81, ".A");
	CU_ASSERT_EQUAL(fx.d.roots->pending_folder_moves, 0);
	feed(&b);
	CU_ASSERT_EQUAL(fx.d.roots->pending_folder_moves, 1);
	ev(&b, fx.d.roots->wd, IN_MOVED_TO | IN_ISDIR, 81, ".B");
	feed(&b);
	CU_ASSERT_EQUAL(fx.d.roots->pending_folder_moves, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.d.roots->renames);
	CU_ASSERT_STRING_EQUAL(fx.d.roots->renames->from, "A");
	CU_ASSERT_STRING_EQUAL(fx.d.roots->renames->to, "B");
	CU_ASSERT_PTR_NULL(fx.d.roots->renames->next);

	settle();
	CU_ASSERT_PTR_NULL(fx.d.roots->renames);
	CU_ASSERT_PTR_NULL(watch_box_find(fx.d.roots, "A"));
	CU_ASSERT_PTR_NOT_NULL(watch_box_find(fx.d.roots, "B"));
	CU_ASSERT_FATAL(watch_root_index(&fx.d, fx.d.roots, &index,
					 &err) == 0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "A", false, 0, 0, &mbox,
					&err), 0);
	CU_ASSERT_EQUAL(cs_mailbox_open(index, "B", false, 0, 0, &mbox,
					&err), 1);
	cs_mailbox_close(&mbox);
	teardown();
}

/* A buffer whose last event runs past its end is refused there, after
   the events before it were taken. */
static void test_truncated_buffer(void)
{
	struct evbuf b = { .used = 0 };
	struct cs_error err;

	setup();
	unit_touch(fx.root, "new", "4000.t1");
	ev(&b, fx.inbox->wd_new, IN_CREATE, 0, "4000.t1");
	ev(&b, fx.inbox->wd_new, IN_CREATE, 0, "4000.t2");
	CU_ASSERT_EQUAL(watch_events_handle_buffer(&fx.d, b.data,
						   b.used - 1, &err), -1);
	CU_ASSERT_EQUAL(watch_events_item_count(&fx.d), 1);
	settle();
	teardown();
}

void suite_watch_events_register(void)
{
	CU_pSuite s = CU_add_suite("watch events", NULL, NULL);

	CU_add_test(s, "a move in one folder pairs by cookie",
		    test_pair_same_folder);
	CU_add_test(s, "a move across folders pairs by cookie",
		    test_pair_across_folders);
	CU_add_test(s, "a cookie among unrelated events",
		    test_cookie_among_events);
	CU_add_test(s, "an unpaired MOVED_FROM at the end of a batch",
		    test_unpaired_at_end);
	CU_add_test(s, "an unpaired MOVED_FROM followed by other events",
		    test_unpaired_then_events);
	CU_add_test(s, "repeated events for one message coalesce",
		    test_coalesce);
	CU_add_test(s, "the kernel's overflow rescans the root",
		    test_kernel_overflow);
	CU_add_test(s, "the reader's overflow rescans the watches it names",
		    test_reader_overflow);
	CU_add_test(s, "events for names that are not messages",
		    test_not_messages);
	CU_add_test(s, "a folder rename pairs by cookie in the root",
		    test_folder_rename);
	CU_add_test(s, "a truncated buffer of events", test_truncated_buffer);
}

int main(void)
{
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite_watch_events_register();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() +
		CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
