/*
 * cs-message.c - looking up a message record: by base name, by UID, and
 * the term a record adds to its mailbox's digest.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-hash.h"
#include "cs-index-private.h"

static int msg_decode(const uint8_t *data, size_t size, void *ctx)
{
	struct cs_message *msg = ctx;

	return cs_msg_rec_decode(data, size, &msg->rec, msg->suffix);
}

int cs_msg_fetch(struct cs_mailbox *box, const char *base, size_t base_len,
		 struct cs_message *msg_r, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX];
	int ret, parse_ret;

	if (base_len == 0 || base_len > CS_NAME_MAX)
		return 0;
	/* decoded in place: no copy of the record */
	ret = cs_db_parse(box->index, key,
			  cs_key_msg(key, box->rec.id, base, base_len),
			  msg_decode, msg_r, &parse_ret, err);
	if (ret <= 0)
		return ret;
	if (parse_ret < 0)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: record of %s/%.*s damaged; rebuild the index "
			"with 'condstore reindex --rebuild'",
			box->index->db_path, box->name, (int)base_len, base);
	memcpy(msg_r->base, base, base_len);
	msg_r->base[base_len] = '\0';
	return 1;
}

int cs_message_lookup(struct cs_mailbox *box, const char *base,
		      size_t base_len, struct cs_message *msg_r,
		      struct cs_error *err)
{
	if (box->gone)
		return 0;
	return cs_msg_fetch(box, base, base_len, msg_r, err);
}

/* The base name uid maps to (malloc'ed in *data_r, *size_r its length).
   Returns 1, 0 if uid maps to nothing, -1. */
static int uid_map_fetch(struct cs_mailbox *box, uint32_t uid,
			 uint8_t **data_r, size_t *size_r, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX];

	return cs_db_fetch(box->index, key, cs_key_uid(key, box->rec.id, uid),
			   data_r, size_r, err);
}

/* Outside a transaction the UID map and the message record are read one
   after the other, and a commit may come in between: an expunge removes
   both, so a UID found mapped and then no message means the UID is gone
   if it no longer maps to the same name.  Only a map that still names the
   missing message is damage. */
int cs_message_lookup_uid(struct cs_mailbox *box, uint32_t uid,
			  struct cs_message *msg_r, struct cs_error *err)
{
	uint8_t *data, *again;
	size_t size, again_size;
	bool same;
	int ret;

	if (box->gone || uid == 0)
		return 0;
	ret = uid_map_fetch(box, uid, &data, &size, err);
	if (ret <= 0)
		return ret;
	ret = cs_msg_fetch(box, (const char *)data, size, msg_r, err);
	if (ret != 0) {
		free(data);
		return ret;
	}
	ret = uid_map_fetch(box, uid, &again, &again_size, err);
	if (ret < 0) {
		free(data);
		return -1;
	}
	same = ret > 0 && again_size == size &&
		memcmp(again, data, size) == 0;
	free(data);
	if (ret > 0)
		free(again);
	if (!same)
		return 0;	/* expunged between the two reads */
	return cs_error_set(err, CS_ERR_CORRUPT,
		"%s: %s: UID %u points at a missing message; run "
		"'condstore check --repair'", box->index->db_path,
		box->name, uid);
}

uint64_t cs_msg_digest_term(const struct cs_mailbox *box,
			    const struct cs_message *msg)
{
	char name[CS_NAME_MAX + CS_SUFFIX_MAX + 1];
	size_t base_len = strlen(msg->base), suffix_len = msg->rec.suffix_len;
	uint64_t term;

	memcpy(name, msg->base, base_len);
	memcpy(name + base_len, msg->suffix, suffix_len);
	term = cs_digest_term(msg->rec.location, name, base_len + suffix_len);
	if (box->rec.uid_source == CS_UIDSRC_DOVECOT)
		term += cs_msg_uid_term(msg);
	return term;
}

uint64_t cs_msg_uid_term(const struct cs_message *msg)
{
	return cs_uid_term(cs_name_hash(msg->base, strlen(msg->base)),
			   msg->rec.uid);
}
