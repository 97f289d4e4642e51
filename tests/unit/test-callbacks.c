/*
 * test-callbacks.c - the iteration callbacks' error channel: a callback
 * that fails stops the iteration, and its error (code and text) is what
 * the caller of the iterating call gets; one that returns 1 stops it
 * without an error.  Every iterating call of cs-index.h, on a real tdb.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "unit.h"

/* three of each: mailboxes, messages with a modseq, tombstones */
#define CB_ITEMS 3

struct stopper {
	int calls;
	int stop_at;	/* the call that stops (1 = the first), 0: none */
	int stop_ret;	/* what it returns: 1, or -1 with an error */
};

static int stopper_call(struct stopper *st, struct cs_error *err)
{
	if (++st->calls != st->stop_at)
		return 0;
	if (st->stop_ret < 0)
		return cs_error_set(err, CS_ERR_INVALID,
				    "callback failed at call %d", st->calls);
	return st->stop_ret;
}

static int stop_mailbox(void *ctx, const char *name,
			const struct cs_mailbox_rec *rec, struct cs_error *err)
{
	(void)name;
	(void)rec;
	return stopper_call(ctx, err);
}

static int stop_message(void *ctx, const struct cs_message *msg,
			struct cs_error *err)
{
	(void)msg;
	return stopper_call(ctx, err);
}

static int stop_expunge(void *ctx, uint32_t uid, uint64_t modseq,
			struct cs_error *err)
{
	(void)uid;
	(void)modseq;
	return stopper_call(ctx, err);
}

/* The iterating calls, each over the CB_ITEMS items of its kind. */
enum cb_walk {
	WALK_MAILBOXES,
	WALK_CHANGES,
	WALK_MESSAGES,
	WALK_EXPUNGES,
	WALK_TOMBSTONES
};
static const char *const walk_names[] = {
	"cs_mailbox_list", "cs_changes_since", "cs_messages_iterate",
	"cs_expunges_since", "cs_tombstones_iterate"
};

static int walk(enum cb_walk what, struct cs_index *index,
		struct cs_mailbox *box, struct stopper *st,
		struct cs_error *err)
{
	switch (what) {
	case WALK_MAILBOXES:
		return cs_mailbox_list(index, stop_mailbox, st, err);
	case WALK_CHANGES:
		return cs_changes_since(box, 0, stop_message, st, err);
	case WALK_MESSAGES:
		return cs_messages_iterate(box, stop_message, st, err);
	case WALK_EXPUNGES:
		/* from the horizon: below it the answer is refused */
		return cs_expunges_since(box, cs_mailbox_get_rec(box)->horizon,
					 stop_expunge, st, err);
	case WALK_TOMBSTONES:
		return cs_tombstones_iterate(box, stop_expunge, st, err);
	}
	CU_FAIL_FATAL("unknown walk");
	return -1;
}

/* A root whose index has the mailboxes INBOX, A and B, and in INBOX three
   messages and three tombstones. */
static struct cs_index *cb_index(char *root, size_t size,
				 struct cs_mailbox **box_r)
{
	static const char *const bases[] = { "m1", "m2", "m3",
					     "x1", "x2", "x3" };
	struct cs_disk_state here = { .present = true,
				      .location = CS_LOC_NEW, .suffix = "" };
	struct cs_disk_state gone = { .present = false, .suffix = "" };
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_error err;
	size_t i;

	unit_make_root(root, size);
	index = unit_open(root);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "A", true, CS_UIDSRC_OWN,
					      0, &box, NULL), 1);
	cs_mailbox_close(&box);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "B", true, CS_UIDSRC_OWN,
					      0, &box, NULL), 1);
	cs_mailbox_close(&box);
	CU_ASSERT_EQUAL_FATAL(cs_mailbox_open(index, "INBOX", true,
					      CS_UIDSRC_OWN, 0, &box, NULL),
			      1);
	cs_error_clear(&err);
	for (i = 0; i < 2 * CB_ITEMS; i++)
		CU_ASSERT_EQUAL_FATAL(cs_reconcile(box, bases[i],
						   strlen(bases[i]), &here,
						   NULL, &err), 1);
	for (i = CB_ITEMS; i < 2 * CB_ITEMS; i++)
		CU_ASSERT_EQUAL_FATAL(cs_reconcile(box, bases[i],
						   strlen(bases[i]), &gone,
						   NULL, &err), 1);
	CU_ASSERT_OK(cs_index_commit(index, CU_ERR));
	*box_r = box;
	return index;
}

static void check_walks(struct cs_index *index, struct cs_mailbox *box)
{
	struct stopper st;
	struct cs_error err;
	enum cb_walk what;
	int ret;

	for (what = WALK_MAILBOXES; what <= WALK_TOMBSTONES; what++) {
		/* a callback that never stops sees every item */
		memset(&st, 0, sizeof(st));
		cs_error_clear(&err);
		ret = walk(what, index, box, &st, &err);
		if (ret != 0 || st.calls != CB_ITEMS)
			fprintf(stderr, "\n  %s: returned %d after %d calls: "
				"%s\n", walk_names[what], ret, st.calls,
				err.text);
		CU_ASSERT_EQUAL(ret, 0);
		CU_ASSERT_EQUAL(st.calls, CB_ITEMS);

		/* its error stops the iteration and reaches the caller */
		memset(&st, 0, sizeof(st));
		st.stop_at = 2;
		st.stop_ret = -1;
		cs_error_clear(&err);
		ret = walk(what, index, box, &st, &err);
		if (ret != -1 || strcmp(err.text, "callback failed at call 2")
		    != 0)
			fprintf(stderr, "\n  %s: returned %d, error \"%s\"\n",
				walk_names[what], ret, err.text);
		CU_ASSERT_EQUAL(ret, -1);
		CU_ASSERT_EQUAL(st.calls, 2);
		CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
		CU_ASSERT_STRING_EQUAL(err.text, "callback failed at call 2");

		/* 1 stops it without an error, and is returned */
		memset(&st, 0, sizeof(st));
		st.stop_at = 2;
		st.stop_ret = 1;
		cs_error_clear(&err);
		ret = walk(what, index, box, &st, &err);
		if (ret != 1)
			fprintf(stderr, "\n  %s: stopped, returned %d\n",
				walk_names[what], ret);
		CU_ASSERT_EQUAL(ret, 1);
		CU_ASSERT_EQUAL(st.calls, 2);
		CU_ASSERT_EQUAL(err.code, CS_OK);

		/* NULL for err: the failure is still a failure */
		memset(&st, 0, sizeof(st));
		st.stop_at = 1;
		st.stop_ret = -1;
		CU_ASSERT_EQUAL(walk(what, index, box, &st, NULL), -1);
		CU_ASSERT_EQUAL(st.calls, 1);
	}
}

static void test_callback_error_reaches_caller(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;

	index = cb_index(root, sizeof(root), &box);
	check_walks(index, box);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

/* The same inside a transaction, where the walks take tdb_traverse and
   the change log is flushed first. */
static void test_callback_error_in_transaction(void)
{
	char root[4096];
	struct cs_index *index;
	struct cs_mailbox *box;

	index = cb_index(root, sizeof(root), &box);
	CU_ASSERT_OK(cs_index_begin(index, CU_ERR));
	CU_ASSERT_OK(cs_mailbox_refresh(box, CU_ERR));
	check_walks(index, box);
	cs_index_rollback(index);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	unit_remove_tree(root);
}

void suite_callbacks_register(void)
{
	CU_pSuite s = CU_add_suite("iteration callbacks", NULL, NULL);

	CU_add_test(s, "a callback's error stops the walk and reaches the "
		    "caller", test_callback_error_reaches_caller);
	CU_add_test(s, "the same inside a transaction",
		    test_callback_error_in_transaction);
}
