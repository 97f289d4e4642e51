/*
 * cs-mailbox.c - mailbox records and the handles that cache them during a
 * transaction: open/create (with the counter seeded above everything ever
 * issued), delete, rename, list, UID source switch and counter raises.
 */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs-array.h"
#include "cs-hwm.h"
#include "cs-index-private.h"

static int mailbox_read(struct cs_index *index, const char *name,
			struct cs_mailbox_rec *rec_r, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size;
	int ret;

	ret = cs_db_fetch(index, key, cs_key_mailbox(key, name), &data, &size,
			  err);
	if (ret <= 0)
		return ret;
	ret = cs_mailbox_rec_decode(data, size, rec_r);
	free(data);
	if (ret < 0)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: record of mailbox %s damaged; rebuild the index "
			"with 'condstore reindex --rebuild'",
			index->db_path, name);
	return 1;
}

static int mailbox_write(struct cs_index *index, const char *name,
			 const struct cs_mailbox_rec *rec,
			 struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], buf[CS_MAILBOX_REC_SIZE];

	cs_mailbox_rec_encode(rec, buf);
	return cs_db_store(index, key, cs_key_mailbox(key, name), buf,
			   sizeof(buf), err);
}

static int names_add(struct cs_index *index, const char *name,
		     struct cs_error *err);
static int names_remove(struct cs_index *index, const char *name,
			struct cs_error *err);




int cs_mailbox_raise(struct cs_mailbox *box, uint64_t seed,
		     struct cs_error *err)
{
	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (seed <= box->rec.highestmodseq)
		return 0;
	if (cs_ceiling_raise(box->index, seed, err) < 0 ||
	    cs_jump_append(box, seed, box->rec.highestmodseq, err) < 0)
		return -1;
	box->rec.highestmodseq = seed;
	box->dirty = true;
	return 0;
}

/* The index's hook for the records of its open handles: re-read at the
   start of a transaction and after one failed, written at commit when
   changed. */
static int refresh_all(struct cs_index *index, struct cs_error *err)
{
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next) {
		if (cs_mailbox_refresh(box, err) < 0)
			return -1;
	}
	return 0;
}

static int mailbox_hook_flush(struct cs_index *index, struct cs_error *err)
{
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next) {
		if (!box->dirty || box->gone)
			continue;
		if (mailbox_write(index, box->name, &box->rec, err) < 0)
			return -1;
		box->dirty = false;
	}
	return 0;
}

static void mailbox_hook_reset(struct cs_index *index, bool committed)
{
	struct cs_mailbox *box;

	if (committed)
		return;
	for (box = index->boxes; box != NULL; box = box->next)
		box->dirty = false;
	(void)refresh_all(index, NULL);
}

static const struct cs_index_hook mailbox_hook = {
	.begin = refresh_all,
	.flush = mailbox_hook_flush,
	.reset = mailbox_hook_reset,
};

static struct cs_mailbox *mailbox_handle_new(struct cs_index *index,
					     const char *name)
{
	struct cs_mailbox *box = calloc(1, sizeof(*box));

	if (box == NULL)
		return NULL;
	box->name = strdup(name);
	if (box->name == NULL) {
		free(box);
		return NULL;
	}
	box->index = index;
	box->next = index->boxes;
	if (index->boxes != NULL)
		index->boxes->prev = box;
	index->boxes = box;
	cs_index_hook_add(index, &cs_rank_hook);
	cs_index_hook_add(index, &cs_change_run_hook);
	cs_index_hook_add(index, &cs_msgstore_hook);
	cs_index_hook_add(index, &mailbox_hook);
	return box;
}

/* A UIDVALIDITY for UIDs of the index's own: the time, but above every
   one given before (recorded in the high-water-mark file), so that a
   mailbox recreated or rebuilt within the same second still gets a new
   one. */
static int own_uidvalidity(struct cs_index *index, uint32_t *uidvalidity_r,
			   struct cs_error *err)
{
	uint32_t uv = (uint32_t)time(NULL);
	struct cs_hwm hwm;

	if (cs_hwm_read(index->hwm_path, &hwm, err) < 0)
		return -1;
	if (hwm.uidvalidity >= uv)
		uv = hwm.uidvalidity + 1;
	if (uv == 0)
		uv = 1;
	if (cs_hwm_raise(index->hwm_path, 0, uv, err) < 0)
		return -1;
	*uidvalidity_r = uv;
	return 0;
}

/* Create the record of a new mailbox; its counter starts above the
   ceiling and the clock. */
static int mailbox_create(struct cs_mailbox *box, uint8_t uid_source,
			  uint32_t uidvalidity, struct cs_error *err)
{
	struct cs_index *index = box->index;
	uint64_t seed = cs_now_usec();

	if (cs_index_require_txn(index, err) < 0)
		return -1;
	memset(&box->rec, 0, sizeof(box->rec));
	box->rec.version = CS_RECORD_VERSION;
	box->rec.uid_source = uid_source;
	box->rec.id = index->hdr.next_mailbox_id++;
	if (uidvalidity == 0 && own_uidvalidity(index, &uidvalidity, err) < 0)
		return -1;
	box->rec.uidvalidity = uidvalidity;
	box->rec.uidnext = 1;
	box->rec.nbuckets = 1;
	/* no records: the digest and uid_sum are empty sums */
	box->rec.flags = CS_MAILBOX_F_DIGEST;
	index->hdr_dirty = true;
	if (index->hdr.ceiling > seed)
		seed = index->hdr.ceiling;
	if (cs_mailbox_raise(box, seed, err) < 0)
		return -1;
	/* no expunge before this has a tombstone (cs-horizon.h) */
	box->rec.horizon = box->rec.highestmodseq;
	box->dirty = false;
	if (names_add(index, box->name, err) < 0)
		return -1;
	return mailbox_write(index, box->name, &box->rec, err);
}

int cs_mailbox_open(struct cs_index *index, const char *name, bool create,
		    uint8_t uid_source, uint32_t uidvalidity,
		    struct cs_mailbox **box_r, struct cs_error *err)
{
	struct cs_mailbox *box;
	int ret;

	*box_r = NULL;
	box = mailbox_handle_new(index, name);
	if (box == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	ret = mailbox_read(index, name, &box->rec, err);
	if (ret == 0 && create)
		ret = mailbox_create(box, uid_source, uidvalidity, err) < 0 ?
			-1 : 1;
	if (ret <= 0) {
		cs_mailbox_close(&box);
		return ret;
	}
	*box_r = box;
	return 1;
}

void cs_mailbox_close(struct cs_mailbox **_box)
{
	struct cs_mailbox *box = *_box;

	if (box == NULL)
		return;
	*_box = NULL;
	if (box->index != NULL) {
		if (box->prev != NULL)
			box->prev->next = box->next;
		else
			box->index->boxes = box->next;
		if (box->next != NULL)
			box->next->prev = box->prev;
	}
	cs_rank_reset(box);
	cs_change_run_reset(box);
	cs_msg_cache_close(box);
	free(box->name);
	free(box);
}

int cs_mailbox_refresh(struct cs_mailbox *box, struct cs_error *err)
{
	int ret;

	if (box->index == NULL)
		return cs_error_set(err, CS_ERR_INVALID,
				    "mailbox %s: index closed", box->name);
	ret = mailbox_read(box->index, box->name, &box->rec, err);
	if (ret < 0)
		return -1;
	box->gone = ret == 0;
	box->dirty = false;
	return 0;
}

const char *cs_mailbox_name(const struct cs_mailbox *box)
{
	return box->name;
}

const struct cs_mailbox_rec *cs_mailbox_get_rec(const struct cs_mailbox *box)
{
	return &box->rec;
}

struct cs_index *cs_mailbox_index(struct cs_mailbox *box)
{
	return box->index;
}

/* --- whole-mailbox operations: collect keys, then change them --- */

struct key_list {
	uint8_t **keys;
	size_t *lens;
	size_t count, alloc, lens_alloc;
};

static int key_list_add(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *data, size_t size,
			struct cs_error *err)
{
	struct key_list *kl = ctx;

	(void)data;
	(void)size;
	if (cs_array_grow(&kl->keys, sizeof(*kl->keys), kl->count,
			  &kl->alloc, 256) < 0 ||
	    cs_array_grow(&kl->lens, sizeof(*kl->lens), kl->count,
			  &kl->lens_alloc, 256) < 0 ||
	    (kl->keys[kl->count] = malloc(key_len)) == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	memcpy(kl->keys[kl->count], key, key_len);
	kl->lens[kl->count++] = key_len;
	return 0;
}

static void key_list_free(struct key_list *kl)
{
	size_t i;

	for (i = 0; i < kl->count; i++)
		free(kl->keys[i]);
	free(kl->keys);
	free(kl->lens);
	memset(kl, 0, sizeof(*kl));
}

/* Collect every key of mailbox id with the given tag. */
static int collect_keys(struct cs_index *index, char tag, uint32_t id,
			struct key_list *kl, struct cs_error *err)
{
	uint8_t prefix[5];

	prefix[0] = (uint8_t)tag;
	cs_put_be32(prefix + 1, id);
	if (cs_db_traverse_prefix(index, prefix, sizeof(prefix), key_list_add,
				  kl, err) < 0)
		return -1;
	return 0;
}

static int delete_keys(struct cs_index *index, const struct key_list *kl,
		       struct cs_error *err)
{
	size_t i;

	for (i = 0; i < kl->count; i++) {
		if (cs_db_delete(index, kl->keys[i], kl->lens[i], err) < 0)
			return -1;
	}
	return 0;
}

int cs_mailbox_delete(struct cs_index *index, const char *name,
		      struct cs_error *err)
{
	static const char tags[] = { CS_KEY_BUCKET, CS_KEY_UIDMAP, CS_KEY_CHANGE,
				     CS_KEY_TOMB, CS_KEY_JUMP, CS_KEY_RANK_MAP,
				     CS_KEY_RANK_SUM, CS_KEY_CLOCK };
	struct cs_mailbox_rec rec;
	uint8_t key[CS_KEY_MAX];
	struct cs_mailbox *box;
	size_t i;
	int ret;

	if (cs_index_require_txn(index, err) < 0)
		return -1;
	ret = mailbox_read(index, name, &rec, err);
	if (ret <= 0)
		return ret;
	for (i = 0; i < sizeof(tags); i++) {
		struct key_list kl = { 0 };

		ret = collect_keys(index, tags[i], rec.id, &kl, err);
		if (ret == 0)
			ret = delete_keys(index, &kl, err);
		key_list_free(&kl);
		if (ret < 0)
			return -1;
	}
	if (cs_db_delete(index, key, cs_key_mailbox(key, name), err) < 0 ||
	    names_remove(index, name, err) < 0)
		return -1;
	for (box = index->boxes; box != NULL; box = box->next) {
		if (strcmp(box->name, name) == 0) {
			box->gone = true;
			box->dirty = false;
			cs_msg_cache_reset(box);
		}
	}
	return 1;
}

int cs_mailbox_rename(struct cs_index *index, const char *old_name,
		      const char *new_name, struct cs_error *err)
{
	struct cs_mailbox_rec rec, other;
	uint8_t key[CS_KEY_MAX];
	int ret;

	if (cs_index_require_txn(index, err) < 0)
		return -1;
	ret = mailbox_read(index, old_name, &rec, err);
	if (ret <= 0)
		return ret;
	ret = mailbox_read(index, new_name, &other, err);
	if (ret < 0)
		return -1;
	if (ret > 0 && cs_mailbox_delete(index, new_name, err) < 0)
		return -1;
	if (mailbox_write(index, new_name, &rec, err) < 0 ||
	    cs_db_delete(index, key, cs_key_mailbox(key, old_name), err) < 0 ||
	    names_remove(index, old_name, err) < 0 ||
	    names_add(index, new_name, err) < 0)
		return -1;
	return 1;
}

/* --- the list of mailbox names ("L": NUL-terminated names) --- */

static int names_read(struct cs_index *index, uint8_t **data_r, size_t *size_r,
		      struct cs_error *err)
{
	uint8_t key[1] = { CS_KEY_MAILBOX_LIST };
	int ret;

	*data_r = NULL;
	*size_r = 0;
	ret = cs_db_fetch(index, key, 1, data_r, size_r, err);
	if (ret > 0 && *size_r > 0 && (*data_r)[*size_r - 1] != '\0') {
		free(*data_r);
		*data_r = NULL;
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: mailbox list damaged; rebuild the index with "
			"'condstore reindex --rebuild'", index->db_path);
	}
	return ret;
}

/* Offset of name in the list, or -1. */
static ssize_t names_find(const uint8_t *data, size_t size, const char *name)
{
	size_t pos = 0, len = strlen(name) + 1;

	while (pos < size) {
		size_t n = strlen((const char *)data + pos) + 1;

		if (n == len && memcmp(data + pos, name, len) == 0)
			return (ssize_t)pos;
		pos += n;
	}
	return -1;
}

static int names_add(struct cs_index *index, const char *name,
		     struct cs_error *err)
{
	uint8_t key[1] = { CS_KEY_MAILBOX_LIST }, *data, *buf;
	size_t size, len = strlen(name) + 1;
	int ret;

	if (names_read(index, &data, &size, err) < 0)
		return -1;
	if (names_find(data, size, name) >= 0) {
		free(data);
		return 0;
	}
	buf = malloc(size + len);
	if (buf == NULL) {
		free(data);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	if (size > 0)
		memcpy(buf, data, size);
	memcpy(buf + size, name, len);
	ret = cs_db_store(index, key, 1, buf, size + len, err);
	free(buf);
	free(data);
	return ret;
}

static int names_remove(struct cs_index *index, const char *name,
			struct cs_error *err)
{
	uint8_t key[1] = { CS_KEY_MAILBOX_LIST }, *data;
	size_t size, len = strlen(name) + 1;
	ssize_t pos;
	int ret = 0;

	if (names_read(index, &data, &size, err) < 0)
		return -1;
	pos = names_find(data, size, name);
	if (pos >= 0) {
		memmove(data + pos, data + pos + len, size - (size_t)pos - len);
		ret = cs_db_store(index, key, 1, data, size - len, err);
	}
	free(data);
	return ret;
}

int cs_mailbox_list(struct cs_index *index, cs_mailbox_cb *cb, void *ctx,
		    struct cs_error *err)
{
	struct cs_mailbox_rec rec;
	uint8_t *data;
	size_t size, pos;
	int ret;

	if (names_read(index, &data, &size, err) < 0)
		return -1;
	for (pos = 0, ret = 0; pos < size && ret == 0;
	     pos += strlen((const char *)data + pos) + 1) {
		const char *name = (const char *)data + pos;

		ret = mailbox_read(index, name, &rec, err);
		if (ret > 0)
			ret = cb(ctx, name, &rec, err);
		assert(ret >= -1 && ret <= 1);
	}
	free(data);
	return ret;
}

struct names_ctx {
	char **names;
	size_t count, alloc;
};

static int names_collect(void *ctx, const char *name,
			 const struct cs_mailbox_rec *rec,
			 struct cs_error *err)
{
	struct names_ctx *nc = ctx;

	(void)rec;
	/* room for the name and the NULL after it */
	if (cs_array_grow(&nc->names, sizeof(*nc->names), nc->count + 1,
			  &nc->alloc, 16) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	nc->names[nc->count] = strdup(name);
	if (nc->names[nc->count] == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	nc->names[++nc->count] = NULL;
	return 0;
}

int cs_mailbox_names(struct cs_index *index, char ***names_r,
		     size_t *count_r, struct cs_error *err)
{
	struct names_ctx nc = { NULL, 0, 0 };

	*names_r = NULL;
	*count_r = 0;
	if (cs_array_grow(&nc.names, sizeof(*nc.names), 0, &nc.alloc,
			  16) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	nc.names[0] = NULL;
	if (cs_mailbox_list(index, names_collect, &nc, err) < 0) {
		cs_mailbox_names_free(&nc.names);
		return -1;
	}
	*names_r = nc.names;
	*count_r = nc.count;
	return 0;
}

void cs_mailbox_names_free(char ***_names)
{
	char **names = *_names;
	size_t i;

	if (names == NULL)
		return;
	*_names = NULL;
	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

int cs_mailboxes_retire(struct cs_index *index, cs_mailbox_on_disk_fn *on_disk,
			cs_mailbox_retired_fn *retired, void *ctx,
			struct cs_error *err)
{
	char **names;
	size_t i, count;
	int ret = 0;

	if (index->in_txn)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: retiring mailboxes inside a "
				    "transaction", index->db_path);
	if (cs_mailbox_names(index, &names, &count, err) < 0)
		return -1;
	for (i = 0; i < count; i++) {
		if (on_disk(ctx, names[i]))
			continue;
		if (cs_index_begin(index, err) < 0 ||
		    cs_mailbox_delete(index, names[i], err) < 0 ||
		    cs_index_commit(index, err) < 0) {
			cs_index_rollback(index);
			ret = -1;
			break;
		}
		ret++;
		if (retired != NULL)
			retired(ctx, names[i]);
	}
	cs_mailbox_names_free(&names);
	return ret;
}

/* --- switching to Dovecot's UIDs --- */

struct uid_switch {
	struct cs_mailbox *box;
	cs_uid_of_fn *uid_of;
	void *ctx;
	struct key_list clear;	/* the messages whose UID goes */
	uint64_t digest;	/* the terms of those that keep theirs */
	uint64_t uid_sum;	/* the terms of the UIDs kept */
	uint32_t top;		/* the highest UID kept */
};

/* Sort one message: its UID stays when it is the one Dovecot gives. */
static int uid_switch_msg(void *ctx, const struct cs_message *msg,
			  struct cs_error *err)
{
	struct uid_switch *us = ctx;
	size_t len = strlen(msg->base);
	uint32_t uid = us->uid_of == NULL ? 0 :
		us->uid_of(us->ctx, msg->base, len);

	if (msg->rec.uid == 0 || msg->rec.uid == uid) {
		us->digest += cs_msg_digest_term(us->box, msg);
		us->uid_sum += cs_msg_uid_term(msg);
		if (msg->rec.uid > us->top)
			us->top = msg->rec.uid;
		return 0;
	}
	return key_list_add(&us->clear, (const uint8_t *)msg->base, len, NULL,
			    0, err);
}

/* Give the collected messages UID 0 (their map entries go) and add their
   digest terms. */
static int uid_switch_clear(struct uid_switch *us, struct cs_error *err)
{
	struct cs_mailbox *box = us->box;
	const struct key_list *kl = &us->clear;
	struct cs_message msg;
	size_t i;
	int ret;

	for (i = 0; i < kl->count; i++) {
		ret = cs_msg_fetch(box, (const char *)kl->keys[i],
				   kl->lens[i], &msg, err);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		if (cs_uid_map_delete(box, msg.rec.uid, msg.base, err) < 0)
			return -1;
		msg.rec.uid = 0;
		us->digest += cs_msg_digest_term(box, &msg);
		if (cs_msg_put(box, &msg, err) < 0)
			return -1;
	}
	return 0;
}

/* Forget every tombstone of box and its change-log entry (their UIDs
   mean nothing under a new UIDVALIDITY). */
static int drop_tombstones(struct cs_mailbox *box, struct cs_error *err)
{
	struct key_list kl = { 0 };
	uint8_t key[CS_KEY_MAX], *data;
	size_t i, size;
	int ret = 0;

	if (collect_keys(box->index, CS_KEY_TOMB, box->rec.id, &kl, err) < 0)
		return -1;
	for (i = 0; i < kl.count && ret >= 0; i++) {
		ret = cs_db_fetch(box->index, kl.keys[i], kl.lens[i], &data,
				  &size, err);
		if (ret <= 0)
			continue;
		if (size == 8)
			ret = cs_db_delete(box->index, key,
				cs_key_change(key, box->rec.id,
					      cs_get_le64(data)), err);
		free(data);
		if (ret >= 0)
			ret = cs_db_delete(box->index, kl.keys[i], kl.lens[i],
					   err);
	}
	key_list_free(&kl);
	return ret < 0 ? -1 : 0;
}

/* Every message has the UID the new source gives it, known without
   reading them: the source numbers as many messages as the mailbox has,
   its UID terms add up to the mailbox's uid_sum (so each message has a
   UID, and the one the source gives its name), and those UIDs are all of
   1 .. UIDNEXT-1, which leaves no UID to a tombstone. */
static bool uid_switch_agrees(const struct cs_mailbox *box,
			      const struct cs_uid_tally *tally)
{
	const struct cs_mailbox_rec *rec = &box->rec;

	return tally != NULL && (rec->flags & CS_MAILBOX_F_DIGEST) != 0 &&
		tally->count == rec->messages &&
		rec->uidnext == (uint64_t)rec->messages + 1 &&
		tally->sum == rec->uid_sum;
}

/* The switch when every UID agrees: the digest takes or loses the UIDs'
   terms, nothing else changes. */
static void uid_switch_quick(struct cs_mailbox *box, uint8_t uid_source)
{
	if (box->rec.uid_source != CS_UIDSRC_DOVECOT &&
	    uid_source == CS_UIDSRC_DOVECOT)
		box->rec.digest += box->rec.uid_sum;
	else if (box->rec.uid_source == CS_UIDSRC_DOVECOT &&
		 uid_source != CS_UIDSRC_DOVECOT)
		box->rec.digest -= box->rec.uid_sum;
	box->rec.uid_source = uid_source;
}

/* The switch message by message: the UIDs that disagree go. */
static int uid_switch_each(struct cs_mailbox *box, uint8_t uid_source,
			   cs_uid_of_fn *uid_of, void *ctx, uint32_t *top_r,
			   struct cs_error *err)
{
	struct uid_switch us = { .box = box, .uid_of = uid_of, .ctx = ctx };
	uint8_t old_source = box->rec.uid_source;
	int ret;

	/* the digest terms are those of the new source */
	box->rec.uid_source = uid_source;
	ret = cs_messages_iterate(box, uid_switch_msg, &us, err);
	if (ret == 0)
		ret = uid_switch_clear(&us, err);
	key_list_free(&us.clear);
	if (ret < 0 || drop_tombstones(box, err) < 0) {
		box->rec.uid_source = old_source;
		return -1;
	}
	box->rec.digest = us.digest;
	box->rec.uid_sum = us.uid_sum;
	box->rec.flags = (box->rec.flags & ~CS_MAILBOX_F_DIGEST_V1) |
		CS_MAILBOX_F_DIGEST;
	*top_r = us.top;
	return 0;
}

int cs_mailbox_set_uid_source(struct cs_mailbox *box, uint8_t uid_source,
			      uint32_t uidvalidity, uint32_t uidnext,
			      cs_uid_of_fn *uid_of, void *ctx,
			      const struct cs_uid_tally *tally,
			      struct cs_error *err)
{
	uint32_t top;

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (uid_switch_agrees(box, tally)) {
		uid_switch_quick(box, uid_source);
		top = box->rec.messages;
	} else if (uid_switch_each(box, uid_source, uid_of, ctx, &top,
				   err) < 0)
		return -1;
	box->rec.horizon = box->rec.highestmodseq;
	box->rec.uidvalidity = uidvalidity;
	box->rec.uidnext = uidnext > top ? uidnext : top + 1;
	box->dirty = true;
	return 0;
}
