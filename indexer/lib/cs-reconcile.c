/*
 * cs-reconcile.c - THE reconcile rule (see cs-index.h): every writer -
 * reindex, the watch daemon, the store command, the Dovecot plugin -
 * brings a message's record in line with the disk through cs_reconcile(),
 * so that a duplicate or late event, a rescan, or a host that already
 * wrote a change causes no second modseq.
 *
 * A change writes, in the caller's transaction: the message (its entry in
 * its bucket, cs-msgstore.c), the UID map when the UID is new, the
 * change-log entry ("c") under
 * the new modseq with the old one deleted, and for an expunge a tombstone
 * ("t") whose change-log entry replaces the message's.  Every change to
 * a record's name, location or UID also moves the mailbox's digest (the
 * sum of cs_digest_term() over its records), which lets a scan find that
 * nothing changed without looking up each name.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-bucket.h"
#include "cs-index-private.h"

struct digest_ctx {
	const struct cs_mailbox *box;
	uint64_t sum, uid_sum;
};

static int digest_add(void *ctx, const struct cs_message *msg,
		      struct cs_error *err)
{
	struct digest_ctx *dc = ctx;

	(void)err;
	dc->sum += cs_msg_digest_term(dc->box, msg);
	dc->uid_sum += cs_msg_uid_term(msg);
	return 0;
}

int cs_mailbox_digest_rebuild(struct cs_mailbox *box, struct cs_error *err)
{
	struct digest_ctx dc = { box, 0, 0 };

	if (cs_index_require_txn(box->index, err) < 0 ||
	    cs_messages_iterate(box, digest_add, &dc, err) < 0)
		return -1;
	box->rec.digest = dc.sum;
	box->rec.uid_sum = dc.uid_sum;
	box->rec.flags = (box->rec.flags & ~CS_MAILBOX_F_DIGEST_V1) |
		CS_MAILBOX_F_DIGEST;
	box->dirty = true;
	return 0;
}

/* The next modseq of box: above its highestmodseq, below the ceiling
   (raised durably first when reached). */
static int next_modseq(struct cs_mailbox *box, uint64_t *modseq_r,
		       struct cs_error *err)
{
	uint64_t modseq = box->rec.highestmodseq + 1;
	struct cs_index *index = box->index;

	if (modseq > CS_MODSEQ_MAX - 1)
		return cs_error_set(err, CS_ERR_LIMIT,
				    "%s: mailbox %s: modseq space exhausted",
				    index->db_path, box->name);
	if (cs_ceiling_raise(index, modseq, err) < 0)
		return -1;
	box->rec.highestmodseq = modseq;
	box->dirty = true;
	*modseq_r = modseq;
	return 0;
}

/* Change-log entry for a message at modseq. */
static int change_store_msg(struct cs_mailbox *box, uint64_t modseq,
			    const char *base, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], buf[1 + 4];

	buf[0] = CS_CHANGE_MESSAGE;
	cs_put_le32(buf + 1, cs_bucket_hash(base, strlen(base)));
	/* a modseq is issued once: its entry is always new */
	return cs_db_insert(box->index, key,
			    cs_key_change(key, box->rec.id, modseq), buf,
			    sizeof(buf), err);
}

static int change_type(const uint8_t *data, size_t size, void *ctx)
{
	(void)ctx;
	return size > 0 ? data[0] : 0;
}

/* Drop the entry of a modseq its message no longer has.  An entry inside
   a run stays, stale (the run holds other messages' entries too). */
static int change_delete(struct cs_mailbox *box, uint64_t modseq,
			 struct cs_error *err)
{
	struct cs_change_run *run = &box->run;
	uint8_t key[CS_KEY_MAX];
	size_t key_len;
	int ret, type = 0;

	if (run->count > 0 && run->last_off != 0 &&
	    modseq == run->first + run->count - 1) {
		/* the newest entry of the run being gathered (a message that
		   arrived and changed again at once): taken back, so that a
		   run of one is not written as a stale plain entry */
		run->len = run->last_off;
		run->last_off = 0;
		run->count--;
		return 0;
	}
	if (modseq == 0 || (run->count > 0 && modseq >= run->first &&
			    modseq < run->first + run->count))
		return 0;
	key_len = cs_key_change(key, box->rec.id, modseq);
	ret = cs_db_parse(box->index, key, key_len, change_type, NULL, &type,
			  err);
	if (ret <= 0 || type == CS_CHANGE_RUN)
		return ret < 0 ? -1 : 0;
	return cs_db_delete(box->index, key, key_len, err);
}

static void msg_set_disk(struct cs_message *msg,
			 const struct cs_disk_state *disk)
{
	size_t len = strnlen(disk->suffix, CS_SUFFIX_MAX);

	msg->rec.location = disk->location;
	memcpy(msg->suffix, disk->suffix, len);
	msg->suffix[len] = '\0';
	msg->rec.suffix_len = (uint16_t)len;
}

/* Was uid expunged (has a tombstone)?  Such a UID is never given to a
   live record again: a scan working from a directory listing older than
   the expunge would otherwise bring the message back under it, and the
   expunge clients were told of would point at nothing.  (Dovecot gives a
   file that really comes back a new UID.)  Returns 1, 0, or -1. */
static int uid_tombstoned(struct cs_mailbox *box, uint32_t uid,
			  struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size;
	int ret;

	if (uid == 0 || box->rec.uid_source == CS_UIDSRC_OWN)
		return 0;
	ret = cs_db_fetch(box->index, key, cs_key_tomb(key, box->rec.id, uid),
			  &data, &size, err);
	if (ret > 0)
		free(data);
	return ret;
}

/* Map the UID of msg, a new record (stored: written already).  A UID the
   caller was told (told, from a map of names looked up by a hash of the
   name: dovecot-uidlist's, or the UIDs predicted for a new mailbox) is
   another message's when two names share a hash: a crafted name, or a
   file that came after the map was made.  Such a UID is never given
   twice: an own-UID mailbox gives the next UID instead, a mailbox on
   Dovecot's UIDs none (the plugin teaches Dovecot's).  Returns 0 or -1. */
static int uid_give(struct cs_mailbox *box, struct cs_message *msg,
		    uint32_t told, bool stored, struct cs_error *err)
{
	int ret;

	if (msg->rec.uid == 0)
		return 0;
	if (told == 0 || msg->rec.uid != told)
		return cs_uid_map_store(box, msg->rec.uid, msg->base, err);
	if ((ret = cs_uid_map_claim(box, told, msg->base, err)) != 0)
		return ret < 0 ? -1 : 0;
	msg->rec.uid = box->rec.uid_source == CS_UIDSRC_OWN ?
		box->rec.uidnext : 0;
	if (msg->rec.uid != 0 &&
	    cs_uid_map_store(box, msg->rec.uid, msg->base, err) < 0)
		return -1;
	return stored ? cs_msg_put(box, msg, err) : 0;
}

/* A new record for base.  With probe, the caller has not looked the name
   up: the message record is added first, and if one exists after all,
   nothing is written and 2 is returned. */
static int reconcile_new(struct cs_mailbox *box, const char *base,
			 size_t base_len, const struct cs_disk_state *disk,
			 struct cs_message *msg, bool probe,
			 struct cs_error *err)
{
	int ret;

	memset(msg, 0, sizeof(*msg));
	memcpy(msg->base, base, base_len);
	msg->base[base_len] = '\0';
	msg->rec.version = CS_RECORD_VERSION;
	msg->rec.flags = disk->flags;
	msg_set_disk(msg, disk);
	if (box->rec.uid_source == CS_UIDSRC_OWN) {
		if (box->rec.uidnext == UINT32_MAX)
			return cs_error_set(err, CS_ERR_LIMIT,
				"%s: mailbox %s: UID space exhausted; a new "
				"UIDVALIDITY is needed (reindex --rebuild)",
				box->index->db_path, box->name);
		/* a UID the caller reserved below UIDNEXT (a new mailbox
		   scanned in Dovecot's order, cs-scan.c), else the next */
		msg->rec.uid = disk->uid != 0 ? disk->uid : box->rec.uidnext;
	} else {
		if ((ret = uid_tombstoned(box, disk->uid, err)) < 0)
			return -1;
		msg->rec.uid = ret > 0 ? 0 : disk->uid;
	}
	if (next_modseq(box, &msg->rec.modseq, err) < 0)
		return -1;
	if (probe) {
		ret = cs_msg_add(box, msg, err);
		if (ret <= 0) {
			/* the modseq was not used: give it back */
			box->rec.highestmodseq = msg->rec.modseq - 1;
			return ret < 0 ? -1 : 2;
		}
	}
	/* arrivals found in bulk share one change-log record per run of
	   modseqs */
	if (uid_give(box, msg, disk->uid, probe, err) < 0 ||
	    (probe ? cs_change_run_add(box, msg->rec.modseq, msg->base, err) :
	     change_store_msg(box, msg->rec.modseq, msg->base, err)) < 0 ||
	    (!probe && cs_msg_put(box, msg, err) < 0))
		return -1;
	box->rec.digest += cs_msg_digest_term(box, msg);
	box->rec.messages++;
	box->dirty = true;
	return 1;
}

/* Is uid free for the tombstone of a record that never learnt its UID:
   neither a message's nor already a tombstone's?  Returns 1 yes, 0 no,
   -1 on error. */
static int uid_unclaimed(struct cs_mailbox *box, uint32_t uid,
			 struct cs_error *err)
{
	uint32_t hash;
	int ret;

	if ((ret = uid_tombstoned(box, uid, err)) != 0)
		return ret < 0 ? -1 : 0;
	ret = cs_uidmap_get(box, uid, &hash, err);
	return ret < 0 ? -1 : ret == 0;
}

/* The UID the tombstone of msg gets: its own, or, for a record that
   never learnt Dovecot's UID (recorded before Dovecot numbered its file,
   and gone before anything learnt it), the one the caller knows from
   Dovecot (disk->uid), if no other message or tombstone has it.  Without
   it the expunge would be told to no QRESYNC client.  Returns 0 or -1. */
static int expunge_uid(struct cs_mailbox *box, const struct cs_message *msg,
		       const struct cs_disk_state *disk, uint32_t *uid_r,
		       struct cs_error *err)
{
	int ret;

	*uid_r = msg->rec.uid;
	if (msg->rec.uid != 0 || disk->uid == 0 ||
	    box->rec.uid_source != CS_UIDSRC_DOVECOT)
		return 0;
	if ((ret = uid_unclaimed(box, disk->uid, err)) < 0)
		return -1;
	if (ret > 0)
		*uid_r = disk->uid;
	return 0;
}

/* The tombstone of uid, expunged at modseq, and its change-log entry. */
static int tombstone_store(struct cs_mailbox *box, uint32_t uid,
			   uint64_t modseq, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], buf[1 + 4], val[8];

	cs_put_le64(val, modseq);
	buf[0] = CS_CHANGE_EXPUNGE;
	cs_put_le32(buf + 1, uid);
	if (cs_db_store(box->index, key, cs_key_tomb(key, box->rec.id, uid),
			val, sizeof(val), err) < 0 ||
	    cs_db_store(box->index, key,
			cs_key_change(key, box->rec.id, modseq), buf,
			sizeof(buf), err) < 0)
		return -1;
	return 0;
}

static int reconcile_expunge(struct cs_mailbox *box, struct cs_message *msg,
			     const struct cs_disk_state *disk,
			     struct cs_error *err)
{
	uint64_t modseq;
	uint32_t uid;

	if (expunge_uid(box, msg, disk, &uid, err) < 0 ||
	    next_modseq(box, &modseq, err) < 0 ||
	    change_delete(box, msg->rec.modseq, err) < 0 ||
	    cs_uid_map_delete(box, msg->rec.uid, msg->base, err) < 0 ||
	    cs_msg_remove(box, msg->base, strlen(msg->base), err) < 0)
		return -1;
	if (uid != 0 && tombstone_store(box, uid, modseq, err) < 0)
		return -1;
	box->rec.digest -= cs_msg_digest_term(box, msg);
	if (box->rec.messages > 0)
		box->rec.messages--;
	box->dirty = true;
	msg->rec.prev_modseq = msg->rec.modseq;
	msg->rec.prev_flags = msg->rec.flags;
	msg->rec.modseq = 0;
	return 1;
}

int cs_uid_traced(struct cs_mailbox *box, uint32_t uid, struct cs_error *err)
{
	int ret;

	if (box->gone || uid == 0)
		return 1;
	ret = uid_unclaimed(box, uid, err);
	return ret < 0 ? -1 : !ret;
}

int cs_expunge_uid(struct cs_mailbox *box, uint32_t uid,
		   struct cs_error *err)
{
	uint64_t modseq;
	int ret;

	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (box->gone || uid == 0 || box->rec.uid_source != CS_UIDSRC_DOVECOT)
		return 0;
	if ((ret = uid_unclaimed(box, uid, err)) <= 0)
		return ret;
	if (next_modseq(box, &modseq, err) < 0 ||
	    tombstone_store(box, uid, modseq, err) < 0)
		return -1;
	return 1;
}

/* msg's record learns Dovecot's UID uid (on Dovecot's UIDs, a UID no
   tombstone has).  For an IMAP client that can be a new message: the
   record had none since it was recorded after the mailbox took Dovecot's
   UIDs (its modseq above the horizon the switch set: recorded before
   Dovecot numbered its file, and a HIGHESTMODSEQ given since, STATUS's
   say, may count its modseq already), or Dovecot gave the file a new one
   (it lost it for a moment and numbered it again).  Then *new_r is set:
   the caller gives the record the next modseq, above every HIGHESTMODSEQ
   told before (RFC 7162 3.1), and an old UID becomes a tombstone, below
   that modseq, unless it is one already.  A record the switch to
   Dovecot's UIDs left without one (its UIDVALIDITY is new anyway) keeps
   its modseq.  A uid that is another live message's is not taken (a
   scan's map found it by a hash two names share, uid_give): returns 1
   renumbered, 0 not, -1 on error. */
static int renumber(struct cs_mailbox *box, struct cs_message *msg,
		    uint32_t uid, bool *new_r, struct cs_error *err)
{
	uint32_t old_uid = msg->rec.uid;
	uint64_t modseq;
	int ret;

	if ((ret = cs_uid_map_claim(box, uid, msg->base, err)) <= 0)
		return ret;
	if (cs_uid_map_delete(box, old_uid, msg->base, err) < 0)
		return -1;
	msg->rec.uid = uid;
	*new_r = old_uid != 0 || msg->rec.modseq > box->rec.horizon;
	if (old_uid == 0)
		return 1;
	if ((ret = uid_tombstoned(box, old_uid, err)) != 0)
		return ret < 0 ? -1 : 1;
	if (next_modseq(box, &modseq, err) < 0 ||
	    tombstone_store(box, old_uid, modseq, err) < 0)
		return -1;
	return 1;
}

static int reconcile_existing(struct cs_mailbox *box,
			      const struct cs_disk_state *disk,
			      struct cs_message *msg, struct cs_error *err)
{
	bool changed = false, flags_changed = disk->flags != msg->rec.flags;
	/* only Dovecot's UIDs are learnt: an own UID, once given, stays */
	bool learn = box->rec.uid_source == CS_UIDSRC_DOVECOT &&
		disk->uid != 0 && disk->uid != msg->rec.uid;
	bool numbered = false;
	uint64_t old_term = cs_msg_digest_term(box, msg);
	int ret = 0;

	if (learn && (ret = uid_tombstoned(box, disk->uid, err)) < 0)
		return -1;
	if (learn && ret == 0) {
		if ((ret = renumber(box, msg, disk->uid, &numbered, err)) < 0)
			return -1;
		changed = ret > 0;
	}
	if (msg->rec.location != disk->location ||
	    strcmp(msg->suffix, disk->suffix) != 0) {
		msg_set_disk(msg, disk);
		changed = true;
	}
	if (flags_changed || numbered) {
		uint64_t modseq;

		if (next_modseq(box, &modseq, err) < 0 ||
		    change_delete(box, msg->rec.modseq, err) < 0 ||
		    change_store_msg(box, modseq, msg->base, err) < 0)
			return -1;
		msg->rec.prev_modseq = msg->rec.modseq;
		msg->rec.prev_flags = msg->rec.flags;
		msg->rec.modseq = modseq;
		msg->rec.flags = disk->flags;
		changed = true;
	}
	if (changed && cs_msg_put(box, msg, err) < 0)
		return -1;
	if (changed) {
		box->rec.digest += cs_msg_digest_term(box, msg) - old_term;
		box->dirty = true;
	}
	return flags_changed || numbered ? 1 : 0;
}

static int reconcile_check(struct cs_mailbox *box, size_t base_len,
			   struct cs_error *err)
{
	if (cs_index_require_txn(box->index, err) < 0)
		return -1;
	if (box->gone)
		return cs_error_set(err, CS_ERR_NOTFOUND,
				    "%s: mailbox %s was deleted",
				    box->index->db_path, box->name);
	if (base_len == 0 || base_len > CS_NAME_MAX)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: bad base name length %zu", box->name,
				    base_len);
	return 0;
}

int cs_reconcile_arrival(struct cs_mailbox *box, const char *base,
			 size_t base_len, const struct cs_disk_state *disk,
			 struct cs_message *msg_r, struct cs_error *err)
{
	struct cs_message msg_buf, *msg = msg_r != NULL ? msg_r : &msg_buf;
	int ret;

	if (!disk->present)
		return cs_reconcile(box, base, base_len, disk, msg_r, err);
	if (reconcile_check(box, base_len, err) < 0)
		return -1;
	ret = reconcile_new(box, base, base_len, disk, msg, true, err);
	return ret == 2 ? cs_reconcile(box, base, base_len, disk, msg_r, err) :
		ret;
}

int cs_reconcile(struct cs_mailbox *box, const char *base, size_t base_len,
		 const struct cs_disk_state *disk, struct cs_message *msg_r,
		 struct cs_error *err)
{
	struct cs_message msg_buf, *msg = msg_r != NULL ? msg_r : &msg_buf;
	int ret;

	if (reconcile_check(box, base_len, err) < 0)
		return -1;
	ret = cs_msg_fetch(box, base, base_len, msg, err);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		if (!disk->present) {
			memset(msg, 0, sizeof(*msg));
			return 0;
		}
		return reconcile_new(box, base, base_len, disk, msg, false,
				     err);
	}
	if (!disk->present)
		return reconcile_expunge(box, msg, disk, err);
	return reconcile_existing(box, disk, msg, err);
}
