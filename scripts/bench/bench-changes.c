/*
 * bench-changes.c - where the time of "fetch --changedsince" goes: the
 * change-log walk (cs_changes_since) and the message sequence numbers
 * (cs_message_seq), timed apart inside one process.
 *
 * Usage: bench-changes MAILDIR MAILBOX SINCE
 *
 * Opens the index read-only, then times the first call of each (what one
 * condstore command pays) and the median of 9 further calls.  Prints
 * "CHANGES WALK_FIRST_US WALK_US SEQ_FIRST_US SEQ_US OPEN_US".
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "condstore.h"

#define REPEAT 9
#define MAX_CHANGES 100000

struct walk_ctx {
	uint32_t uids[MAX_CHANGES];
	size_t count;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int walk_cb(void *context, const struct cs_message *msg,
		   struct cs_error *err)
{
	struct walk_ctx *ctx = context;

	(void)err;
	if (ctx->count < MAX_CHANGES)
		ctx->uids[ctx->count++] = msg->rec.uid;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int walk(struct cs_mailbox *box, uint64_t since, struct walk_ctx *ctx,
		double *us_r, struct cs_error *err)
{
	double t0 = now_us();

	ctx->count = 0;
	if (cs_changes_since(box, since, walk_cb, ctx, err) < 0)
		return -1;
	*us_r = now_us() - t0;
	return 0;
}

static int seqs(struct cs_mailbox *box, const struct walk_ctx *ctx,
		double *us_r, struct cs_error *err)
{
	double t0 = now_us();
	uint32_t seq;
	size_t i;

	for (i = 0; i < ctx->count; i++) {
		if (cs_message_seq(box, ctx->uids[i], &seq, err) < 0)
			return -1;
	}
	*us_r = now_us() - t0;
	return 0;
}

int main(int argc, char **argv)
{
	static struct walk_ctx ctx;
	struct cs_index_settings set;
	double walk_us[REPEAT], seq_us[REPEAT], walk_first, seq_first, t0;
	double open_us;
	struct cs_index *index;
	struct cs_mailbox *box;
	struct cs_error err;
	uint64_t since;
	int i;

	if (argc != 4) {
		fprintf(stderr, "usage: bench-changes MAILDIR MAILBOX SINCE\n");
		return 2;
	}
	since = strtoull(argv[3], NULL, 10);
	memset(&set, 0, sizeof(set));
	set.root = argv[1];
	set.readonly = true;
	t0 = now_us();
	if (cs_index_open(&set, &index, &err) < 0 ||
	    cs_mailbox_open(index, argv[2], false, 0, 0, &box, &err) <= 0) {
		fprintf(stderr, "bench-changes: %s: %s\n", argv[1],
			err.text[0] != '\0' ? err.text : "no such mailbox");
		return 2;
	}
	open_us = now_us() - t0;
	if (walk(box, since, &ctx, &walk_first, &err) < 0 ||
	    seqs(box, &ctx, &seq_first, &err) < 0)
		goto fail;
	for (i = 0; i < REPEAT; i++) {
		if (walk(box, since, &ctx, &walk_us[i], &err) < 0 ||
		    seqs(box, &ctx, &seq_us[i], &err) < 0)
			goto fail;
	}
	qsort(walk_us, REPEAT, sizeof(double), cmp_double);
	qsort(seq_us, REPEAT, sizeof(double), cmp_double);
	printf("%zu %.1f %.1f %.1f %.1f %.1f\n", ctx.count, walk_first,
	       walk_us[REPEAT / 2], seq_first, seq_us[REPEAT / 2], open_us);
	cs_mailbox_close(&box);
	cs_index_close(&index);
	return 0;
fail:
	fprintf(stderr, "bench-changes: %s\n", err.text);
	return 2;
}
