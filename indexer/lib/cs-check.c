/*
 * cs-check.c - the consistency check (see cs-check.h): tdb_check() of the
 * file, then per mailbox every invariant of cs-record.h, comparing the
 * index with new/ and cur/ and with dovecot-uidlist.  Read-only unless
 * repair is set; repair reconciles the disk differences through the same
 * scan as reindex and rewrites damaged change-log and UID-map entries.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cs-array.h"
#include "cs-bucket.h"
#include "cs-check.h"
#include "cs-file.h"
#include "cs-hash.h"
#include "cs-hwm.h"
#include "cs-index-private.h"
#include "cs-maildir.h"
#include "cs-name.h"
#include "cs-tdbfile.h"

static const char *const loc_dirs[] = { "new", "cur" };

struct check {
	struct cs_index *index;
	const struct cs_check_settings *set;
	struct cs_error *err;
	int problems;
	/* per mailbox */
	struct cs_mailbox *box;
	const char *name;
	char path[PATH_MAX];
	uint64_t *disk_hashes;
	size_t ndisk, disk_alloc;
	uint64_t hwm;
	bool disk_differs, log_damaged;
	uint32_t counted;
	uint64_t digest;		/* digest terms of the records */
	uint64_t uid_sum;		/* UID terms of the records */
	uint64_t *run_entries;		/* run_entry_hash() of every entry of
					   the mailbox's runs, sorted */
	size_t nrun, run_alloc;
	bool collect_runs;
	uint32_t *chunk_counts;		/* UIDs per chunk of 4096, counted */
	size_t nchunks;
	uint32_t uids;			/* messages with a UID */
	uint32_t mapped;		/* entries of the UID map */
};

static void problem(struct check *ck, const char *mailbox, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

static void problem(struct check *ck, const char *mailbox, const char *fmt,
		    ...)
{
	char text[1024];
	va_list args;

	ck->problems++;
	if (ck->set == NULL || ck->set->problem == NULL)
		return;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	ck->set->problem(ck->set->problem_ctx, mailbox, text);
}

/* --- the disk against the index (invariant 4) --- */

static int remember_disk(struct check *ck, const char *base, size_t len)
{
	if (cs_array_grow(&ck->disk_hashes, sizeof(*ck->disk_hashes),
			  ck->ndisk, &ck->disk_alloc, 4096) < 0)
		return cs_error_set(ck->err, CS_ERR_IO, "out of memory");
	ck->disk_hashes[ck->ndisk++] = cs_name_hash(base, len);
	return 0;
}

static int check_disk_file(struct check *ck, uint8_t location,
			   const char *filename)
{
	char letters[2][CS_FLAGS_STR_SIZE];
	struct cs_message msg;
	struct cs_name name;
	int ret;

	if (cs_name_parse(filename, ck->index->sep, &name, NULL) < 0)
		return 0;
	if (remember_disk(ck, name.base, name.base_len) < 0)
		return -1;
	ret = cs_msg_fetch(ck->box, name.base, name.base_len, &msg, ck->err);
	if (ret < 0)
		return -1;
	/* the same base in cur/ is the message (cs_maildir_cur_shadows) */
	if (ret > 0 && location == CS_LOC_NEW &&
	    cs_maildir_cur_shadows(ck->path, &msg))
		return 0;
	if (ret == 0) {
		ck->disk_differs = true;
		problem(ck, ck->name, "%s/%s: file not in the index",
			loc_dirs[location], filename);
		return 0;
	}
	if (msg.rec.flags != name.flags) {
		ck->disk_differs = true;
		problem(ck, ck->name, "%.*s: flags on disk %s, in index %s",
			(int)name.base_len, name.base,
			cs_flags_to_letters(name.flags, letters[0]),
			cs_flags_to_letters(msg.rec.flags, letters[1]));
	} else if (msg.rec.location != location ||
		   strcmp(msg.suffix, name.suffix) != 0) {
		ck->disk_differs = true;
		problem(ck, ck->name, "%.*s: on disk %s/%s, in index %s/%s%s",
			(int)name.base_len, name.base, loc_dirs[location],
			filename, loc_dirs[msg.rec.location], msg.base,
			msg.suffix);
	}
	return 0;
}

static int check_disk(struct check *ck)
{
	char dirpath[PATH_MAX];
	struct dirent *d;
	uint8_t loc;
	DIR *dir;

	ck->ndisk = 0;
	for (loc = CS_LOC_NEW; loc <= CS_LOC_CUR; loc++) {
		if (cs_path_fmt(dirpath, sizeof(dirpath), "%s/%s", ck->path,
				loc_dirs[loc]) < 0)
			return cs_error_set(ck->err, CS_ERR_INVALID,
					    "%s: path too long", ck->path);
		dir = cs_dir_opendir(ck->index->root, dirpath);
		if (dir == NULL) {
			if (errno == ENOENT)
				continue;
			return cs_dir_error(ck->err, dirpath);
		}
		while ((d = readdir(dir)) != NULL) {
			if (d->d_type != DT_REG && d->d_type != DT_UNKNOWN)
				continue;
			if (check_disk_file(ck, loc, d->d_name) < 0) {
				closedir(dir);
				return -1;
			}
		}
		closedir(dir);
	}
	cs_hash_sort(ck->disk_hashes, ck->ndisk, sizeof(uint64_t));
	return 0;
}

/* --- records (invariants 1, 2, 4, 5 and the UID map) --- */

/* A run's entry: the message's hash and its modseq, in one number. */
static uint64_t run_entry_hash(uint64_t modseq, uint32_t hash)
{
	return ((uint64_t)hash << 32 | hash) +
		modseq * UINT64_C(0x9e3779b97f4a7c15);
}

/* Is there an entry for modseq naming this message or tombstone: its
   own, or one in a run? */
static int change_entry_is(struct check *ck, uint64_t modseq, uint8_t type,
			   const void *payload, size_t len)
{
	uint8_t key[CS_KEY_MAX], *data;
	uint64_t h;
	size_t size;
	int ret;

	ret = cs_db_fetch(ck->index, key,
			  cs_key_change(key, ck->box->rec.id, modseq), &data,
			  &size, ck->err);
	if (ret < 0)
		return -1;
	if (ret > 0) {
		ret = size == 1 + len && data[0] == type &&
			memcmp(data + 1, payload, len) == 0;
		free(data);
		if (ret > 0)
			return 1;
	}
	if (type != CS_CHANGE_MESSAGE || len != 4)
		return 0;
	h = run_entry_hash(modseq, cs_get_le32(payload));
	return cs_hash_find(ck->run_entries, ck->nrun, sizeof(h), h) != NULL ?
		1 : 0;
}

/* Remember the entries of a run, for change_entry_is.  Returns 1 when
   the run is well-formed, 0 when damaged, -1 out of memory. */
static int collect_run(struct check *ck, uint64_t last, const uint8_t *data,
		       size_t size)
{
	struct cs_change_run_iter it;
	uint32_t hash;
	uint64_t modseq;
	int count;

	count = cs_change_run_init(data, size, &it);
	if (count < 0 || (uint64_t)count > last)
		return 0;
	if (!ck->collect_runs)
		return 1;
	modseq = last - (uint64_t)count + 1;
	while (cs_change_run_next(&it, &hash) > 0) {
		if (cs_array_grow(&ck->run_entries, sizeof(*ck->run_entries),
				  ck->nrun, &ck->run_alloc, 1024) < 0)
			return cs_error_set(ck->err, CS_ERR_IO,
					    "out of memory");
		ck->run_entries[ck->nrun++] = run_entry_hash(modseq++, hash);
	}
	return 1;
}

static int check_modseq(struct check *ck, const char *what, uint64_t modseq)
{
	const struct cs_mailbox_rec *rec = &ck->box->rec;

	if (modseq == 0 || modseq > CS_MODSEQ_MAX)
		problem(ck, ck->name, "%s: modseq %" PRIu64 " out of range",
			what, modseq);
	else if (modseq > rec->highestmodseq)
		problem(ck, ck->name, "%s: modseq %" PRIu64 " above "
			"HIGHESTMODSEQ %" PRIu64, what, modseq,
			rec->highestmodseq);
	else if (ck->hwm != 0 && modseq >= ck->hwm)
		problem(ck, ck->name, "%s: modseq %" PRIu64 " not below the "
			"high-water mark %" PRIu64, what, modseq, ck->hwm);
	return 0;
}

static int check_uid_map(struct check *ck, const struct cs_message *msg)
{
	uint32_t hash;
	int ret;

	if (msg->rec.uid == 0)
		return 0;
	ck->uids++;
	ret = cs_uidmap_get(ck->box, msg->rec.uid, &hash, ck->err);
	if (ret < 0)
		return -1;
	if (ret == 0 ||
	    hash != cs_bucket_hash(msg->base, strlen(msg->base))) {
		ck->log_damaged = true;
		problem(ck, ck->name, "%s: UID %u does not map back to it",
			msg->base, msg->rec.uid);
	}
	if (msg->rec.uid >= ck->box->rec.uidnext)
		problem(ck, ck->name, "%s: UID %u not below UIDNEXT %u",
			msg->base, msg->rec.uid, ck->box->rec.uidnext);
	return 0;
}

/* Count the entries of the UID map (invariant 7: as many as messages
   with a UID, each of which maps back to itself). */
static int count_mapped(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *data, size_t size, struct cs_error *err)
{
	struct check *ck = ctx;

	(void)key;
	(void)err;
	if (key_len != 9 || size < 1 || data[0] != CS_RECORD_VERSION ||
	    (size - 1) % CS_UIDCHUNK_ENTRY != 0) {
		ck->log_damaged = true;
		problem(ck, ck->name, "damaged UID map chunk");
		return 0;
	}
	ck->mapped += (uint32_t)((size - 1) / CS_UIDCHUNK_ENTRY);
	return 0;
}

static int count_chunk(struct check *ck, uint32_t uid)
{
	size_t chunk = uid / 4096;

	if (cs_array_extend_zeroed(&ck->chunk_counts,
				   sizeof(*ck->chunk_counts), &ck->nchunks,
				   chunk + 1) < 0)
		return cs_error_set(ck->err, CS_ERR_IO, "out of memory");
	ck->chunk_counts[chunk]++;
	return 0;
}

/* The sequence-number summary must count the UIDs of the records. */
static int check_rank(struct check *ck)
{
	uint16_t *counts;
	size_t n, i;

	if (cs_rank_counts(ck->box, &counts, &n, ck->err) < 0)
		return -1;
	for (i = 0; i < n || i < ck->nchunks; i++) {
		uint32_t have = i < n ? counts[i] : 0;
		uint32_t want = i < ck->nchunks ? ck->chunk_counts[i] : 0;

		if (have != want) {
			ck->log_damaged = true;
			problem(ck, ck->name, "sequence summary: %u UIDs in "
				"chunk %zu, %u messages", have, i, want);
			break;
		}
	}
	free(counts);
	return 0;
}

static int check_record(void *ctx, const struct cs_message *msg,
			struct cs_error *err)
{
	struct check *ck = ctx;
	uint64_t h = cs_name_hash(msg->base, strlen(msg->base));
	uint8_t payload[4];
	int ret;

	/* the helpers below report through ck->err, the iteration's err */
	(void)err;
	ck->counted++;
	ck->digest += cs_msg_digest_term(ck->box, msg);
	ck->uid_sum += cs_msg_uid_term(msg);
	if (msg->rec.uid != 0 && count_chunk(ck, msg->rec.uid) < 0)
		return -1;
	check_modseq(ck, msg->base, msg->rec.modseq);
	if (msg->rec.prev_modseq >= msg->rec.modseq && msg->rec.modseq != 0)
		problem(ck, ck->name, "%s: previous modseq %" PRIu64
			" not below modseq %" PRIu64, msg->base,
			msg->rec.prev_modseq, msg->rec.modseq);
	cs_put_le32(payload, cs_bucket_hash(msg->base, strlen(msg->base)));
	ret = change_entry_is(ck, msg->rec.modseq, CS_CHANGE_MESSAGE,
			      payload, sizeof(payload));
	if (ret < 0)
		return -1;
	if (ret == 0) {
		ck->log_damaged = true;
		problem(ck, ck->name, "%s: no change-log entry for modseq %"
			PRIu64, msg->base, msg->rec.modseq);
	}
	if (check_uid_map(ck, msg) < 0)
		return -1;
	if (cs_hash_find(ck->disk_hashes, ck->ndisk, sizeof(h), h) == NULL) {
		ck->disk_differs = true;
		problem(ck, ck->name, "%s: in the index, but no file",
			msg->base);
	}
	return 0;
}

static int check_tombstone(void *ctx, uint32_t uid, uint64_t modseq,
			   struct cs_error *err)
{
	struct check *ck = ctx;
	uint8_t payload[4];
	char what[32];
	int ret;

	(void)err;	/* change_entry_is() reports through ck->err */
	snprintf(what, sizeof(what), "expunged UID %u", uid);
	check_modseq(ck, what, modseq);
	cs_put_le32(payload, uid);
	ret = change_entry_is(ck, modseq, CS_CHANGE_EXPUNGE, payload, 4);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		ck->log_damaged = true;
		problem(ck, ck->name, "%s: no change-log entry for modseq %"
			PRIu64, what, modseq);
	}
	return 0;
}

/* Every change-log entry must point back (invariant 5). */
static int check_change(void *ctx, const uint8_t *key, size_t key_len,
			const uint8_t *data, size_t size,
			struct cs_error *err)
{
	struct check *ck = ctx;
	uint64_t modseq;
	struct cs_message msg;
	int ret;

	if (key_len != 13 || size < 2) {
		ck->log_damaged = true;
		problem(ck, ck->name, "damaged change-log entry");
		return 0;
	}
	modseq = cs_get_be64(key + 5);
	if (data[0] == CS_CHANGE_RUN) {
		/* its entries may be stale: only its form is checked here,
		   and each message looks for its entry in it */
		ret = collect_run(ck, modseq, data, size);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
	} else if (data[0] == CS_CHANGE_MESSAGE && size == 5) {
		ret = cs_msg_fetch_change(ck->box, cs_get_le32(data + 1),
					  modseq, &msg, err);
		if (ret < 0)
			return -1;
		if (ret > 0)
			return 0;
	} else if (data[0] == CS_CHANGE_EXPUNGE && size == 5) {
		uint8_t tkey[CS_KEY_MAX], *tdata;
		size_t tsize;

		ret = cs_db_fetch(ck->index, tkey,
				  cs_key_tomb(tkey, ck->box->rec.id,
					      cs_get_le32(data + 1)),
				  &tdata, &tsize, err);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			bool ok = tsize == 8 && cs_get_le64(tdata) == modseq;

			free(tdata);
			if (ok)
				return 0;
		}
	}
	ck->log_damaged = true;
	problem(ck, ck->name, "change-log entry %" PRIu64 " points at nothing",
		modseq);
	return 0;
}

/* --- dovecot-uidlist --- */

static int check_uidlist_entry(void *ctx, uint32_t uid, const char *base,
			       size_t base_len)
{
	struct check *ck = ctx;
	struct cs_message msg;
	int ret;

	ret = cs_msg_fetch(ck->box, base, base_len, &msg, ck->err);
	if (ret < 0)
		return -1;
	if (ret > 0 && msg.rec.uid != uid) {
		ck->disk_differs = true;
		problem(ck, ck->name, "%s: UID %u in the index, %u in "
			"dovecot-uidlist", msg.base, msg.rec.uid, uid);
	}
	return 0;
}

static int check_uidlist(struct check *ck)
{
	struct cs_uidlist_header hdr;
	int ret;

	ret = cs_uidlist_read(ck->path, ck->index->sep, &hdr,
			      check_uidlist_entry, ck, ck->err);
	if (ret <= 0)
		return ret;
	if (ck->box->rec.uid_source != CS_UIDSRC_DOVECOT ||
	    ck->box->rec.uidvalidity != hdr.uidvalidity) {
		ck->disk_differs = true;
		problem(ck, ck->name, "UIDVALIDITY %u in the index, %u in "
			"dovecot-uidlist", ck->box->rec.uidvalidity,
			hdr.uidvalidity);
	}
	return 0;
}

/* --- repair --- */

/* Rewrite the change log and UID map of the mailbox from its records. */
static int repair_record(void *ctx, const struct cs_message *msg,
			 struct cs_error *err)
{
	struct check *ck = ctx;
	uint8_t key[CS_KEY_MAX], buf[1 + 4];
	uint32_t hash = cs_bucket_hash(msg->base, strlen(msg->base));

	buf[0] = CS_CHANGE_MESSAGE;
	cs_put_le32(buf + 1, hash);
	if (cs_db_store(ck->index, key,
			cs_key_change(key, ck->box->rec.id, msg->rec.modseq),
			buf, sizeof(buf), err) < 0)
		return -1;
	ck->counted++;
	if (msg->rec.uid == 0)
		return 0;
	if (cs_rank_set(ck->box, msg->rec.uid, true, err) < 0)
		return -1;
	return cs_uidmap_set(ck->box, msg->rec.uid, hash, err);
}

static int drop_stale_change(void *ctx, const uint8_t *key, size_t key_len,
			     const uint8_t *data, size_t size,
			     struct cs_error *err)
{
	struct check *ck = ctx;
	int before = ck->problems;

	if (check_change(ck, key, key_len, data, size, err) < 0)
		return -1;
	if (ck->problems == before)
		return 0;
	ck->problems = before;
	return cs_db_delete(ck->index, key, key_len, err);
}

static int repair_log(struct check *ck)
{
	uint8_t prefix[5];

	if (cs_index_begin(ck->index, ck->err) < 0)
		return -1;
	if (cs_mailbox_refresh(ck->box, ck->err) < 0)
		goto fail;
	prefix[0] = CS_KEY_CHANGE;
	cs_put_be32(prefix + 1, ck->box->rec.id);
	ck->counted = 0;
	if (cs_db_traverse_prefix(ck->index, prefix, sizeof(prefix),
				  drop_stale_change, ck, ck->err) < 0 ||
	    cs_uidmap_drop(ck->box, ck->err) < 0 ||
	    cs_rank_drop(ck->box, ck->err) < 0 ||
	    cs_messages_iterate(ck->box, repair_record, ck, ck->err) < 0 ||
	    cs_mailbox_digest_rebuild(ck->box, ck->err) < 0)
		goto fail;
	ck->box->rec.messages = ck->counted;
	ck->box->dirty = true;
	return cs_index_commit(ck->index, ck->err);
fail:
	cs_index_rollback(ck->index);
	return -1;
}

static int repair(struct check *ck)
{
	struct cs_scan_stats stats = { 0 };

	if (ck->log_damaged && repair_log(ck) < 0)
		return -1;
	if (ck->disk_differs &&
	    cs_maildir_scan(ck->index, ck->name, NULL, &stats, ck->err) < 0)
		return -1;
	return 0;
}

/* --- per mailbox --- */


/* A sum the mailbox record keeps (cs-record.h, CS_MAILBOX_F_DIGEST)
   against the one computed from its records. */
static void check_sum(struct check *ck, const char *name, const char *what,
		      uint64_t recorded, uint64_t computed)
{
	if (recorded == computed)
		return;
	ck->log_damaged = true;
	problem(ck, name, "%s %016" PRIx64 " in the record, %016" PRIx64
		" from the records", what, recorded, computed);
}

static int check_mailbox(struct check *ck, const char *name)
{
	uint8_t prefix[5];
	int ret;

	ck->name = name;
	ck->disk_differs = ck->log_damaged = false;
	ck->counted = 0;
	ck->digest = 0;
	ck->uid_sum = 0;
	ck->nchunks = 0;
	ck->uids = 0;
	if (cs_mailbox_path(ck->index->root, name, ck->path, sizeof(ck->path),
			    ck->err) < 0)
		return -1;
	ret = cs_mailbox_open(ck->index, name, false, 0, 0, &ck->box, ck->err);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		problem(ck, name, "mailbox not in the index");
		if (ck->set != NULL && ck->set->repair) {
			struct cs_scan_stats stats = { 0 };

			return cs_maildir_scan(ck->index, name, NULL, &stats,
					       ck->err);
		}
		return 0;
	}
	/* a tdb opened read-only (a read-only file system) takes no
	   locks, and nobody can write it meanwhile */
	if (ck->index->writable && tdb_lockall_read(ck->index->tdb) != 0) {
		cs_mailbox_close(&ck->box);
		return cs_db_error(ck->index, "lock", ck->err);
	}
	ret = cs_mailbox_refresh(ck->box, ck->err);
	if (ret == 0)
		ret = check_disk(ck);
	/* the change log first: the runs' entries, for check_record */
	if (ret == 0) {
		ck->nrun = 0;
		ck->collect_runs = true;
		prefix[0] = CS_KEY_CHANGE;
		cs_put_be32(prefix + 1, ck->box->rec.id);
		ret = cs_db_traverse_prefix(ck->index, prefix, sizeof(prefix),
					    check_change, ck, ck->err) < 0 ?
			-1 : 0;
		ck->collect_runs = false;
		cs_hash_sort(ck->run_entries, ck->nrun, sizeof(uint64_t));
	}
	if (ret == 0)
		ret = cs_messages_iterate(ck->box, check_record, ck, ck->err);
	if (ret == 0)
		ret = cs_tombstones_iterate(ck->box, check_tombstone, ck,
					    ck->err);
	if (ret == 0)
		ret = check_rank(ck);
	if (ret == 0) {
		ck->mapped = 0;
		prefix[0] = CS_KEY_UIDMAP;
		ret = cs_db_traverse_prefix(ck->index, prefix, sizeof(prefix),
					    count_mapped, ck, ck->err) < 0 ?
			-1 : 0;
	}
	if (ret == 0 && ck->mapped != ck->uids) {
		ck->log_damaged = true;
		problem(ck, name, "UID map: %u entries, %u messages with a "
			"UID", ck->mapped, ck->uids);
	}
	if (ret == 0 && ck->counted != ck->box->rec.messages) {
		ck->log_damaged = true;
		problem(ck, name, "message count %u in the record, %u records",
			ck->box->rec.messages, ck->counted);
	}
	if (ret == 0 && (ck->box->rec.flags & CS_MAILBOX_F_DIGEST) != 0) {
		check_sum(ck, name, "digest", ck->box->rec.digest,
			  ck->digest);
		check_sum(ck, name, "UID sum", ck->box->rec.uid_sum,
			  ck->uid_sum);
	}
	if (ret == 0)
		ret = check_uidlist(ck);
	if (ck->index->writable)
		tdb_unlockall_read(ck->index->tdb);
	if (ret == 0 && ck->set != NULL && ck->set->repair &&
	    (ck->disk_differs || ck->log_damaged))
		ret = repair(ck);
	cs_mailbox_close(&ck->box);
	return ret;
}

static int check_mailbox_cb(void *ctx, const char *name, const char *path)
{
	struct check *ck = ctx;

	(void)path;
	return check_mailbox(ck, name);
}

static int check_stale_cb(void *ctx, const char *name,
			  const struct cs_mailbox_rec *rec, struct cs_error *err)
{
	struct check *ck = ctx;
	char path[PATH_MAX];
	struct stat st;

	(void)rec;
	(void)err;
	if (cs_mailbox_path(ck->index->root, name, path, sizeof(path),
			    NULL) < 0 ||
	    lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		problem(ck, name, "in the index, but no such folder on disk");
	return 0;
}

static void warn_as_problem(void *ctx, const char *text)
{
	(void)ctx;
	(void)text;
	/* skipped symlinks and bad names are reported by reindex, not
	   counted as index problems */
}

/* Something found that is no problem of the index. */
static void note(struct check *ck, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct check *ck, const char *fmt, ...)
{
	char text[1024];
	va_list args;

	if (ck->set == NULL || ck->set->note == NULL)
		return;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	ck->set->note(ck->set->problem_ctx, "", text);
}

/* The tdb file itself: 0 usable (clean, or only what a killed commit
   left over, see cs-tdbfile.c), 1 damaged (the problem counted). */
static int check_tdb(struct check *ck)
{
	struct cs_index *index = ck->index;
	bool repair = ck->set != NULL && ck->set->repair;
	enum cs_tdbfile_state state;
	uint64_t leftover, left;
	char detail[640], after[640];

	state = cs_tdbfile_check(index, &leftover, detail,
				 sizeof(detail));
	if (state == CS_TDBFILE_CLEAN)
		return 0;
	if (state == CS_TDBFILE_LEFTOVERS && !repair) {
		note(ck, "%s: %" PRIu64 " bytes left over by a commit that "
		     "a crash interrupted, unreferenced or as empty free "
		     "space (tdb_check: %s); the records are intact; "
		     "'condstore check --repair' repacks the file to reclaim "
		     "them", index->db_path, leftover, detail);
		return 0;
	}
	/* a repack rewrites the file from the records the hash chains
	   reach */
	if (repair && tdb_repack(index->tdb) == 0 &&
	    cs_tdbfile_check(index, &left, after, sizeof(after)) ==
	    CS_TDBFILE_CLEAN) {
		if (state == CS_TDBFILE_LEFTOVERS)
			note(ck, "%s: %" PRIu64 " bytes left over by an "
			     "interrupted commit: repacked", index->db_path,
			     leftover);
		else
			problem(ck, "", "%s: unreferenced or damaged records "
				"(%s): repacked", index->db_path, detail);
		return 0;
	}
	problem(ck, "", "%s: tdb_check failed (%s): unreferenced or damaged "
		"records; 'condstore check --repair' repacks the file, and "
		"if that is not enough, 'condstore reindex --rebuild' "
		"rebuilds it", index->db_path, detail);
	return 1;
}

static int check_file(struct check *ck)
{
	struct cs_hwm hwm;
	int ret;

	if (check_tdb(ck) != 0)
		return 1;
	ret = cs_hwm_read(ck->index->hwm_path, &hwm, ck->err);
	if (ret < 0)
		return -1;
	if (ret == 0)
		problem(ck, "", "%s: missing", ck->index->hwm_path);
	ck->hwm = hwm.ceiling;
	return 0;
}

int cs_check(struct cs_index *index, const char *name,
	     const struct cs_check_settings *set, struct cs_error *err)
{
	struct check ck = { .index = index, .set = set, .err = err };
	int ret;

	ret = check_file(&ck);
	if (ret != 0)
		return ret < 0 ? -1 : ck.problems;
	if (name != NULL)
		ret = check_mailbox(&ck, name);
	else {
		ret = cs_maildir_list(index->root, check_mailbox_cb, &ck,
				      warn_as_problem, NULL, err);
		if (ret == 0)
			ret = cs_mailbox_list(index, check_stale_cb, &ck, err);
		if (ret == 0 && set != NULL && set->repair) {
			struct cs_scan_stats stats = { 0 };

			ret = cs_maildir_scan_all(index, NULL, NULL, &stats,
						  err);
		}
	}
	free(ck.disk_hashes);
	free(ck.chunk_counts);
	free(ck.run_entries);
	return ret < 0 ? -1 : ck.problems;
}
