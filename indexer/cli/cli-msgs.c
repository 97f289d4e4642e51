/*
 * cli-msgs.c - lists of messages (UID, modseq, flags) collected from the
 * index and printed in UID order.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_msgs_add(struct cli_msgs *list, const struct cs_message *msg)
{
	if (msg->rec.uid == 0)
		return 0;
	if (cs_array_grow(&list->msgs, sizeof(*list->msgs), list->count,
			  &list->alloc, 64) < 0)
		return -1;
	list->msgs[list->count].uid = msg->rec.uid;
	list->msgs[list->count].modseq = msg->rec.modseq;
	list->msgs[list->count].flags = msg->rec.flags;
	list->count++;
	return 0;
}

int cli_msgs_add_cb(void *ctx, const struct cs_message *msg,
		    struct cs_error *err)
{
	if (cli_msgs_add(ctx, msg) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	return 0;
}

int cli_msgs_all(struct cli_mailbox *mbox, struct cli_msgs *list,
		 uint32_t *star_r)
{
	struct cs_error err;

	if (cs_messages_iterate(mbox->box, cli_msgs_add_cb, list, &err) < 0) {
		cli_error_cs(mbox->g, &err);
		cli_msgs_free(list);
		return -1;
	}
	cli_msgs_sort(list);
	*star_r = list->count > 0 ? list->msgs[list->count - 1].uid : 0;
	return 0;
}

static int cli_msg_cmp(const void *p1, const void *p2)
{
	const struct cli_msg *m1 = p1, *m2 = p2;

	return m1->uid < m2->uid ? -1 : m1->uid > m2->uid ? 1 : 0;
}

void cli_msgs_sort(struct cli_msgs *list)
{
	if (list->count > 1)
		qsort(list->msgs, list->count, sizeof(*list->msgs),
		      cli_msg_cmp);
}

void cli_msgs_free(struct cli_msgs *list)
{
	free(list->msgs);
	memset(list, 0, sizeof(*list));
}
