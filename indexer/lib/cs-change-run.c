/*
 * cs-change-run.c - the change-log run being gathered in a transaction
 * (CS_CHANGE_RUN, see cs-record.h): the entries of new messages with
 * consecutive modseqs, written as one record when the run is full, when
 * the next modseq does not follow, before a walk of the log, and at
 * commit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-bucket.h"
#include "cs-index-private.h"

void cs_change_run_reset(struct cs_mailbox *box)
{
	free(box->run.buf);
	memset(&box->run, 0, sizeof(box->run));
}

int cs_change_run_flush(struct cs_mailbox *box, struct cs_error *err)
{
	struct cs_change_run *run = &box->run;
	uint8_t key[CS_KEY_MAX], *value = run->buf;
	size_t size = run->len;
	unsigned int count = run->count;

	if (count == 0)
		return 0;
	run->count = 0;
	if (count == 1) {
		/* one modseq: an ordinary entry (type, then the hash) */
		value = run->buf + 2;
		size = 5;
		value[0] = CS_CHANGE_MESSAGE;
	} else {
		value[0] = CS_CHANGE_RUN;
		value[1] = (uint8_t)count;
		value[2] = (uint8_t)(count >> 8);
	}
	/* keyed by its last modseq: a walk from the top meets it first */
	return cs_db_insert(box->index, key,
			    cs_key_change(key, box->rec.id,
					  run->first + count - 1),
			    value, size, err);
}

/* The change-log entry of a new message, gathered into the run. */
int cs_change_run_add(struct cs_mailbox *box, uint64_t modseq,
		      const char *base, struct cs_error *err)
{
	struct cs_change_run *run = &box->run;

	if (run->count > 0 && (modseq != run->first + run->count ||
			       run->count == CS_CHANGE_RUN_MAX) &&
	    cs_change_run_flush(box, err) < 0)
		return -1;
	if (run->buf == NULL) {
		run->buf = malloc(CS_CHANGE_RUN_BYTES);
		if (run->buf == NULL)
			return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	if (run->count == 0) {
		run->first = modseq;
		run->len = 3;
	}
	run->last_off = run->len;
	cs_put_le32(run->buf + run->len, cs_bucket_hash(base, strlen(base)));
	run->len += 4;
	run->count++;
	return 0;
}

/* The index's hook: the runs gathered written at commit, forgotten when
   the transaction ends. */
static int run_hook_flush(struct cs_index *index, struct cs_error *err)
{
	return cs_index_boxes_flush(index, cs_change_run_flush, err);
}

static void run_hook_reset(struct cs_index *index, bool committed)
{
	(void)committed;
	cs_index_boxes_reset(index, cs_change_run_reset);
}

const struct cs_index_hook cs_change_run_hook = {
	.flush = run_hook_flush,
	.reset = run_hook_reset,
};
