/*
 * cs-scan.c - reconciling a mailbox directory with the index: reindex,
 * the daemon's startup and overflow rescans, and check --repair.
 *
 * Design: a scan must cost about one readdir when nothing changed, so the
 * first pass only reads: getdents over new/ and cur/, the name parsed (the
 * name carries the flags: no stat), one tdb lookup per name under
 * tdb_lockall_read.  Names whose record differs are queued, and every
 * SCAN_CHUNK of them are reconciled in one transaction (memory follows the
 * work, not the mailbox).  Records without a file are found by counting:
 * when the names that matched a record equal the mailbox's message count,
 * none is missing.  Otherwise a sweep re-reads the directories into a
 * sorted array of name hashes and confirms each record that is not in it
 * with lstat of its recorded name before expunging it; if a directory
 * changed meanwhile, the sweep is repeated, and if it never holds still
 * nothing is expunged on that scan (a renamer racing the scan must never
 * cause a false expunge; the daemon's events or the next scan confirm).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cs-array.h"
#include "cs-file.h"
#include "cs-hash.h"
#include "cs-index-private.h"
#include "cs-listing.h"
#include "cs-maildir.h"
#include "cs-name.h"
#include "cs-uidorder.h"

#define SCAN_CHUNK 20000
#define SWEEP_TRIES 3
#define NO_ENTRY UINT32_MAX	/* a name read from disk, not a listing */

static const char *const loc_dirs[] = { "new", "cur" };

/* base name -> Dovecot UID, from dovecot-uidlist (sorted by hash) */
struct uid_entry {
	uint64_t hash;
	uint32_t uid;
	uint32_t entry;		/* predicted from a listing: the listing's
				   entry (else unused) */
};

struct uid_map {
	struct uid_entry *entries;
	size_t count, alloc;
	struct cs_uidlist_header hdr;
	bool present;		/* read from dovecot-uidlist */
	/* no dovecot-uidlist and an empty mailbox on own UIDs: the entries
	   are the UIDs Dovecot will give (its order), first_uid and up,
	   reserved by the scan's first transaction (uid_map_predict) */
	bool predicted;
	uint32_t first_uid;
};

struct pending {
	char name[CS_NAME_MAX + 1];
	uint8_t location;
	uint32_t uid;		/* from the UID map (pending_uids), else 0 */
	uint32_t entry;		/* the listing's entry, or NO_ENTRY */
};

/* a pending name's hash, to look the names up in order of hash */
struct pending_key {
	uint64_t hash;
	uint32_t index;		/* in pending */
};

struct scan {
	struct cs_index *index;
	const char *name;
	char path[PATH_MAX];
	const struct cs_scan_settings *set;
	/* the build's listing of the mailbox's files (cs-listing.h), read
	   instead of the directories while the mailbox is new to the
	   index; NULL: read the directories */
	const struct cs_listing *listing;
	/* UIDs predicted from the listing (uid_map_predict): each entry's
	   UID (0: none), so that no name is looked up in the map; NULL
	   otherwise */
	uint32_t *entry_uid;
	struct cs_scan_stats *stats;
	struct cs_mailbox *box;		/* NULL: not in the index yet */
	struct uid_map uids;
	struct pending *pending;
	size_t npending;
	bool was_empty;			/* no messages when the scan began:
					   every name is new, no need to look
					   it up before queueing it */
	bool reserved;			/* the predicted UIDs are settled */
	uint64_t *order;		/* (uid << 32 | index) of pending */
	struct pending_key *keys;	/* of pending, by hash */
	uint64_t matched;		/* names that had a record */
	uint64_t queued_new;		/* names of new/ queued */
	uint64_t done;
};



/* --- dovecot-uidlist --- */

static int uid_map_add(void *ctx, uint32_t uid, const char *base,
		       size_t base_len)
{
	struct uid_map *map = ctx;

	if (cs_array_grow(&map->entries, sizeof(*map->entries), map->count,
			  &map->alloc, 1024) < 0)
		return -1;
	map->entries[map->count].hash = cs_name_hash(base, base_len);
	map->entries[map->count++].uid = uid;
	return 0;
}

/* Sort the map by hash.  The names of a hash that is not unique get no
   UID from it (0): the map cannot tell them apart.  A name that comes
   later with the hash of a listed one is caught where the UID is given
   (cs_uid_map_claim). */
static void uid_map_sort(struct uid_map *map)
{
	struct uid_entry *e = map->entries;
	size_t i;

	cs_hash_sort(e, map->count, sizeof(*e));
	for (i = 1; i < map->count; i++) {
		if (e[i].hash == e[i - 1].hash)
			e[i].uid = e[i - 1].uid = 0;
	}
}

static uint32_t uid_map_lookup_hash(const struct uid_map *map,
				    uint64_t hash)
{
	const struct uid_entry *e;

	e = cs_hash_find(map->entries, map->count, sizeof(*e), hash);
	return e == NULL ? 0 : e->uid;
}

static uint32_t uid_map_lookup(const struct uid_map *map, const char *base,
			       size_t base_len)
{
	return uid_map_lookup_hash(map, cs_name_hash(base, base_len));
}

/* What the UIDs of dovecot-uidlist add up to (cs_mailbox_set_uid_source
   compares it with the mailbox's uid_sum). */
static void uid_map_tally(const struct uid_map *map,
			  struct cs_uid_tally *tally_r)
{
	size_t i;

	tally_r->count = map->count;
	tally_r->sum = 0;
	for (i = 0; i < map->count; i++)
		tally_r->sum += cs_uid_term(map->entries[i].hash,
					    map->entries[i].uid);
}

static uint32_t uid_map_uid_of(void *ctx, const char *base, size_t base_len)
{
	return uid_map_lookup(ctx, base, base_len);
}

static int uid_map_read(struct scan *sc, struct cs_error *err)
{
	int ret;

	ret = cs_uidlist_read(sc->path, cs_index_separator(sc->index),
			      &sc->uids.hdr, uid_map_add, &sc->uids, err);
	if (ret < 0) {
		if (err != NULL && err->code == CS_OK)
			cs_error_set(err, CS_ERR_IO, "out of memory");
		return -1;
	}
	sc->uids.present = ret > 0;
	if (sc->uids.hdr.skipped > 0 && sc->set != NULL &&
	    sc->set->warn != NULL) {
		char text[PATH_MAX + 160];

		cs_path_fmt(text, sizeof(text), "%s/dovecot-uidlist: %u "
			    "damaged records skipped (or records whose UID "
			    "is not above the one before: a repeated UID never "
			    "takes over a message)", sc->path,
			    sc->uids.hdr.skipped);
		sc->set->warn(sc->set->warn_ctx, text);
	}
	uid_map_sort(&sc->uids);
	return 0;
}

/* --- reading a directory: from disk, or from the build's listing --- */

struct dir_source {
	DIR *dir;			/* from disk, or NULL */
	const struct cs_listing *listing;	/* or from it */
	size_t pos, end;		/* its entries still to read */
	uint32_t entry;			/* the listing's entry read last
					   (NO_ENTRY from disk) */
	char path[PATH_MAX];
};

/* The path of the folder's directory of location (new/ or cur/) into
   dirpath (PATH_MAX bytes).  Returns 0 or -1. */
static int scan_dirpath(struct scan *sc, uint8_t location, char *dirpath,
			struct cs_error *err)
{
	if (cs_path_fmt(dirpath, PATH_MAX, "%s/%s", sc->path,
			loc_dirs[location]) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    sc->path);
	return 0;
}

/* Open the folder's directory of location for reading, counted in the
   index's directory reads; dirpath (PATH_MAX bytes) gets its path.
   Returns 1 and *dir_r, 0 when it does not exist, -1 on error. */
static int scan_opendir(struct scan *sc, uint8_t location, char *dirpath,
			DIR **dir_r, struct cs_error *err)
{
	if (scan_dirpath(sc, location, dirpath, err) < 0)
		return -1;
	sc->index->dir_reads++;
	*dir_r = cs_dir_opendir(cs_index_root(sc->index), dirpath);
	if (*dir_r == NULL)
		return errno == ENOENT ? 0 : cs_dir_error(err, dirpath);
	return 1;
}

/* Start reading the entries of location's directory: the listing's when
   the scan has one, else the directory's.  Returns 1, 0 when the
   directory does not exist, -1 on error. */
static int source_open(struct scan *sc, uint8_t location,
		       struct dir_source *src, struct cs_error *err)
{
	src->dir = NULL;
	src->listing = sc->listing;
	src->entry = NO_ENTRY;
	if (src->listing == NULL)
		return scan_opendir(sc, location, src->path, &src->dir, err);
	if (scan_dirpath(sc, location, src->path, err) < 0)
		return -1;
	src->pos = src->listing->start[location];
	src->end = src->listing->start[location + 1];
	return 1;
}

/* The next entry's name and the type readdir gave (DT_UNKNOWN from a file
   system that gives none: source_type() tells), or NULL at the end. */
static const char *source_next(struct dir_source *src, unsigned char *type_r)
{
	const struct cs_listing_entry *e;
	struct dirent *d;

	if (src->listing != NULL) {
		if (src->pos == src->end)
			return NULL;
		src->entry = (uint32_t)src->pos++;
		e = &src->listing->entries[src->entry];
		*type_r = e->type;
		return src->listing->names + e->name;
	}
	d = readdir(src->dir);
	if (d == NULL)
		return NULL;
	*type_r = d->d_type;
	return d->d_name;
}

/* The type of entry name that source_next() gave as type. */
static unsigned char source_type(const struct dir_source *src,
				 const char *name, unsigned char type)
{
	return src->dir == NULL ? type :
		cs_dirent_type(dirfd(src->dir), name, type);
}

static void source_close(struct dir_source *src)
{
	if (src->dir != NULL)
		closedir(src->dir);
	src->dir = NULL;
}

/* --- the UIDs Dovecot will give a mailbox it has not seen --- */

struct uid_key {
	struct cs_uidorder_key key;	/* first: cs_uidorder_cmp() */
	uint32_t entry;			/* the listing's entry, if any */
};

struct uid_keys {
	struct uid_key *keys;
	size_t count, alloc;
};

static int predict_dir(struct scan *sc, uint8_t location,
		       struct uid_keys *uk, struct cs_error *err)
{
	char sep = cs_index_separator(sc->index);
	struct dir_source src;
	const char *name, *p;
	unsigned char type;
	size_t len;
	int ret;

	ret = source_open(sc, location, &src, err);
	if (ret <= 0)
		return ret;
	while ((name = source_next(&src, &type)) != NULL) {
		/* (a type only lstat can tell is taken as a file: the
		   prediction is only a question of speed) */
		if (name[0] == '.' || name[0] == sep ||
		    (type != DT_REG && type != DT_UNKNOWN))
			continue;
		if (cs_array_grow(&uk->keys, sizeof(*uk->keys), uk->count,
				  &uk->alloc, 4096) < 0) {
			source_close(&src);
			return cs_error_set(err, CS_ERR_IO, "out of memory");
		}
		len = strlen(name);
		p = memchr(name, sep, len);
		cs_uidorder_key(name, p == NULL ? len : (size_t)(p - name),
				&uk->keys[uk->count].key);
		uk->keys[uk->count++].entry = src.entry;
	}
	source_close(&src);
	return 0;
}

/* An empty mailbox on own UIDs without dovecot-uidlist: number its files
   the way Dovecot will when it first opens the mailbox (cs-uidorder.c),
   from the mailbox's UIDNEXT on, so that the switch to Dovecot's UIDs
   (cs_mailbox_set_uid_source) finds them equal and changes nothing.  A
   base name whose hash is not unique gets no prediction (the next UID
   when it is reconciled).  Costs one more listing of new/ and cur/ (none
   with the build's listing) and 40 bytes a file while sorting, 16 after
   (and 4 more with a listing). */
static int uid_map_predict(struct scan *sc, struct cs_error *err)
{
	struct uid_keys uk = { NULL, 0, 0 };
	struct uid_entry *e;
	uint32_t first = sc->box == NULL ? 1 :
		cs_mailbox_get_rec(sc->box)->uidnext;
	size_t i;

	if (predict_dir(sc, CS_LOC_NEW, &uk, err) < 0 ||
	    predict_dir(sc, CS_LOC_CUR, &uk, err) < 0) {
		free(uk.keys);
		return -1;
	}
	if (uk.count == 0 || first == 0 || uk.count >= UINT32_MAX - first ||
	    (e = malloc(uk.count * sizeof(*e))) == NULL) {
		/* nothing to number, or no room: the UIDs come in order of
		   reconciling (out of memory here costs only that) */
		free(uk.keys);
		return 0;
	}
	cs_uidorder_sort(uk.keys, uk.count, sizeof(*uk.keys));
	for (i = 0; i < uk.count; i++) {
		e[i].hash = uk.keys[i].key.hash;
		e[i].uid = first + (uint32_t)i;
		e[i].entry = uk.keys[i].entry;
	}
	free(uk.keys);
	sc->uids.entries = e;
	sc->uids.count = sc->uids.alloc = uk.count;
	uid_map_sort(&sc->uids);
	sc->uids.predicted = true;
	sc->uids.first_uid = first;
	/* with the build's listing, each entry's UID (out of memory: the
	   map is looked up instead) */
	if (sc->listing != NULL &&
	    (sc->entry_uid = calloc(sc->listing->count,
				    sizeof(*sc->entry_uid))) != NULL) {
		for (i = 0; i < uk.count; i++)
			sc->entry_uid[e[i].entry] = e[i].uid;
	}
	return 0;
}

/* In the scan's first transaction: reserve the predicted UIDs (UIDNEXT
   above them), or forget them when another writer numbered messages
   since they were made. */
static void uid_map_reserve(struct scan *sc)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(sc->box);

	if (!sc->uids.predicted || sc->reserved)
		return;
	sc->reserved = true;
	if (rec->uid_source != CS_UIDSRC_OWN ||
	    rec->uidnext != sc->uids.first_uid) {
		sc->uids.count = 0;
		sc->uids.predicted = false;
		return;
	}
	sc->box->rec.uidnext = sc->uids.first_uid + (uint32_t)sc->uids.count;
	sc->box->dirty = true;
}

/* --- the mailbox record --- */

/* Must the mailbox switch to Dovecot's UIDs (or to a new UIDVALIDITY of
   them)? */
static bool scan_uid_switch_needed(const struct scan *sc)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(sc->box);

	return sc->uids.present &&
		(rec->uid_source != CS_UIDSRC_DOVECOT ||
		 rec->uidvalidity != sc->uids.hdr.uidvalidity);
}

/* Dovecot's UIDNEXT is above the index's: UIDs Dovecot gave that the
   index never saw (expunged before it existed, or not seen yet).  Every
   UID below UIDNEXT that is not a message counts as expunged before the
   horizon (cs-horizon.h), so the index takes Dovecot's UIDNEXT. */
static bool scan_uidnext_behind(const struct scan *sc)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(sc->box);

	return sc->uids.present && rec->uid_source == CS_UIDSRC_DOVECOT &&
		rec->uidvalidity == sc->uids.hdr.uidvalidity &&
		sc->uids.hdr.next_uid > rec->uidnext;
}

/* Open (creating) the mailbox in a transaction, switching it to Dovecot's
   UIDs when a dovecot-uidlist is there. */
static int scan_open_box(struct scan *sc, struct cs_error *err)
{
	uint8_t src = sc->uids.present ? CS_UIDSRC_DOVECOT : CS_UIDSRC_OWN;

	if (sc->box == NULL &&
	    cs_mailbox_open(sc->index, sc->name, true, src,
			    sc->uids.present ? sc->uids.hdr.uidvalidity : 0,
			    &sc->box, err) < 0)
		return -1;
	uid_map_reserve(sc);
	if (scan_uid_switch_needed(sc)) {
		struct cs_uid_tally tally;

		uid_map_tally(&sc->uids, &tally);
		return cs_mailbox_set_uid_source(sc->box, CS_UIDSRC_DOVECOT,
						 sc->uids.hdr.uidvalidity,
						 sc->uids.hdr.next_uid,
						 uid_map_uid_of, &sc->uids,
						 &tally, err);
	}
	if (scan_uidnext_behind(sc)) {
		sc->box->rec.uidnext = sc->uids.hdr.next_uid;
		sc->box->dirty = true;
	}
	return 0;
}

/* --- reconciling queued names --- */

static int disk_state_from_name(struct scan *sc, const char *filename,
				uint8_t location, struct cs_name *name_r,
				struct cs_disk_state *disk_r)
{
	if (cs_name_parse(filename, cs_index_separator(sc->index), name_r,
			  NULL) < 0)
		return -1;
	memset(disk_r, 0, sizeof(*disk_r));
	disk_r->present = true;
	disk_r->location = location;
	disk_r->suffix = name_r->suffix;
	disk_r->flags = name_r->flags;
	return 0;
}

/* A new message is the only change without a previous modseq. */
static void count_result(struct scan *sc, int ret,
			 const struct cs_message *msg)
{
	if (ret > 0 && msg->rec.prev_modseq != 0)
		sc->stats->changed++;
	else if (ret > 0)
		sc->stats->arrived++;
	else if (ret == 0)
		sc->stats->updated++;
}

/* The UIDs of the pending names from the UID map (dovecot-uidlist's, or
   the predicted ones), looked up in order of hash: each search starts
   where the one before ended (cs_hash_find_next), instead of a random
   walk over the map, a few cache misses per name at 1M.  A name that
   does not parse gets none; flush_pending skips it. */
static void pending_uids(struct scan *sc)
{
	struct cs_name name;
	const struct uid_entry *e;
	size_t i, n = 0, pos = 0;

	if (sc->entry_uid != NULL && sc->uids.predicted) {
		/* predicted from the listing: no lookup */
		for (i = 0; i < sc->npending; i++)
			sc->pending[i].uid = sc->pending[i].entry == NO_ENTRY ?
				0 : sc->entry_uid[sc->pending[i].entry];
		return;
	}
	for (i = 0; i < sc->npending; i++) {
		sc->pending[i].uid = 0;
		if (sc->uids.count == 0 ||
		    cs_name_parse(sc->pending[i].name,
				  cs_index_separator(sc->index), &name,
				  NULL) < 0)
			continue;
		sc->keys[n].hash = cs_name_hash(name.base, name.base_len);
		sc->keys[n++].index = (uint32_t)i;
	}
	cs_hash_sort(sc->keys, n, sizeof(*sc->keys));
	for (i = 0; i < n; i++) {
		e = cs_hash_find_next(sc->uids.entries, sc->uids.count,
				      sizeof(*e), sc->keys[i].hash, &pos);
		if (e != NULL)
			sc->pending[sc->keys[i].index].uid = e->uid;
	}
}

/* The pending names by predicted UID, so that the rank maps are written
   chunk by chunk (the readdir order is random); in the order found
   otherwise. */
static void pending_order(struct scan *sc)
{
	size_t i;

	for (i = 0; i < sc->npending; i++)
		sc->order[i] = (sc->uids.predicted ?
				(uint64_t)sc->pending[i].uid << 32 : 0) | i;
	if (sc->uids.predicted)
		qsort(sc->order, sc->npending, sizeof(*sc->order),
		      cs_cmp_u64);
}

static int flush_pending(struct scan *sc, struct cs_error *err)
{
	struct cs_name name;
	struct cs_disk_state disk;
	struct cs_message msg;
	struct pending *p;
	size_t i;
	int ret;

	if (sc->npending == 0)
		return 0;
	if (cs_index_begin(sc->index, err) < 0)
		return -1;
	if (scan_open_box(sc, err) < 0)
		goto fail;
	pending_uids(sc);
	pending_order(sc);
	for (i = 0; i < sc->npending; i++) {
		p = &sc->pending[sc->order[i] & UINT32_MAX];
		if (disk_state_from_name(sc, p->name, p->location, &name,
					 &disk) < 0)
			continue;
		disk.uid = p->uid;
		/* an empty mailbox takes every name as an arrival, except
		   in cur/ when new/ had names: the same base may be in both
		   (cs_maildir_cur_shadows), and the second is a change */
		ret = (sc->was_empty && (sc->queued_new == 0 ||
					 disk.location == CS_LOC_NEW) ?
		       cs_reconcile_arrival : cs_reconcile)
			(sc->box, name.base, name.base_len, &disk, &msg, err);
		if (ret < 0)
			goto fail;
		count_result(sc, ret, &msg);
	}
	sc->npending = 0;
	return cs_index_commit(sc->index, err);
fail:
	cs_index_rollback(sc->index);
	return -1;
}

static int queue_pending(struct scan *sc, const char *filename,
			 uint8_t location, uint32_t entry, struct cs_error *err)
{
	struct pending *p = &sc->pending[sc->npending++];

	snprintf(p->name, sizeof(p->name), "%s", filename);
	p->location = location;
	p->uid = 0;
	p->entry = entry;
	if (location == CS_LOC_NEW)
		sc->queued_new++;
	return sc->npending < SCAN_CHUNK ? 0 : flush_pending(sc, err);
}

/* --- pass 1: read the directories --- */

/* Does filename differ from the index?  Sets *matched when a record was
   found.  Returns 1 differs, 0 same, -1 error. */
static int entry_differs(struct scan *sc, const char *filename,
			 uint8_t location, bool *matched,
			 struct cs_error *err)
{
	struct cs_name name;
	struct cs_disk_state disk;
	struct cs_message msg;
	int ret;

	*matched = false;
	if (disk_state_from_name(sc, filename, location, &name, &disk) < 0)
		return 0;
	if (sc->box == NULL || sc->was_empty)
		return 1;
	disk.uid = uid_map_lookup(&sc->uids, name.base, name.base_len);
	ret = cs_msg_fetch(sc->box, name.base, name.base_len, &msg, err);
	if (ret <= 0)
		return ret < 0 ? -1 : 1;
	/* a copy in new/ of a message in cur/ is not a message */
	if (location == CS_LOC_NEW && cs_maildir_cur_shadows(sc->path, &msg))
		return 0;
	*matched = true;
	return msg.rec.location != location ||
		strcmp(msg.suffix, name.suffix) != 0 ||
		(disk.uid != 0 && disk.uid != msg.rec.uid) ? 1 : 0;
}

/* Is the entry name (of type as source_next() gave it) a regular file we
   may index? */
static bool entry_is_file(struct scan *sc, const struct dir_source *src,
			  const char *name, unsigned char type)
{
	if (name[0] == '.')
		return false;
	type = source_type(src, name, type);
	if (type == DT_LNK) {
		sc->stats->skipped++;
		if (sc->set->warn != NULL) {
			char text[PATH_MAX + 128];

			cs_path_fmt(text, sizeof(text), "%s/%s: symlink skipped "
				 "(symlinks are never followed)", src->path,
				 name);
			sc->set->warn(sc->set->warn_ctx, text);
		}
		return false;
	}
	return type == DT_REG;
}

static int lock_read(struct scan *sc, bool *locked, struct cs_error *err)
{
	if (sc->box == NULL || *locked)
		return 0;
	if (tdb_lockall_read(sc->index->tdb) != 0)
		return cs_db_error(sc->index, "lock", err);
	*locked = true;
	return 0;
}

static void unlock_read(struct scan *sc, bool *locked)
{
	if (*locked)
		tdb_unlockall_read(sc->index->tdb);
	*locked = false;
}

static void progress(struct scan *sc)
{
	if (sc->set->progress != NULL)
		sc->set->progress(sc->set->progress_ctx, sc->name, sc->done,
				  sc->box == NULL ? 0 :
				  cs_mailbox_get_rec(sc->box)->messages);
}

static int scan_dir(struct scan *sc, uint8_t location, struct cs_error *err)
{
	struct dir_source src;
	const char *name;
	unsigned char type;
	bool locked = false, matched;
	int ret = 0;

	ret = source_open(sc, location, &src, err);
	if (ret <= 0)
		return ret;
	ret = 0;
	while (ret == 0 && (name = source_next(&src, &type)) != NULL) {
		if (!entry_is_file(sc, &src, name, type))
			continue;
		sc->stats->files++;
		if ((++sc->done & 4095) == 0)
			progress(sc);
		ret = lock_read(sc, &locked, err);
		if (ret < 0)
			break;
		ret = entry_differs(sc, name, location, &matched, err);
		if (ret < 0)
			break;
		if (matched)
			sc->matched++;
		if (ret > 0) {
			if (sc->npending + 1 == SCAN_CHUNK)
				unlock_read(sc, &locked);
			ret = queue_pending(sc, name, location, src.entry,
					    err);
		}
	}
	unlock_read(sc, &locked);
	source_close(&src);
	return ret < 0 ? -1 : 0;
}

/* --- the quick pass: is the directory what the index says? --- */

struct digest_pass {
	uint64_t files;		/* entries counted as files */
	uint64_t count;		/* of them, names that can be messages */
	uint64_t sum;		/* their digest terms */
};

/* Sum the digest terms of the files of one directory.  Returns 1 when
   every entry was taken in, 0 when one needs the full pass (a symlink to
   warn about, a type only lstat can tell), -1 on error. */
static int digest_dir(struct scan *sc, uint8_t location,
		      struct digest_pass *dp, struct cs_error *err)
{
	char dirpath[PATH_MAX], sep = cs_index_separator(sc->index);
	bool dovecot_uids = cs_mailbox_get_rec(sc->box)->uid_source ==
		CS_UIDSRC_DOVECOT;
	struct dirent *d;
	uint64_t hash;
	size_t len;
	DIR *dir;
	int ret;

	ret = scan_opendir(sc, location, dirpath, &dir, err);
	if (ret <= 0)
		return ret < 0 ? -1 : 1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (d->d_type != DT_REG) {
			if (d->d_type == DT_LNK || d->d_type == DT_UNKNOWN) {
				ret = 0;
				break;
			}
			continue;	/* the full pass skips it silently */
		}
		dp->files++;
		/* the only name the full pass refuses among regular files
		   (readdir gives no "/", no NUL, at most NAME_MAX bytes) */
		if (d->d_name[0] == sep)
			continue;
		len = strlen(d->d_name);
		dp->count++;
		dp->sum += cs_digest_term(location, d->d_name, len);
		if (dovecot_uids) {
			const char *p = memchr(d->d_name, sep, len);

			hash = cs_name_hash(d->d_name, p == NULL ? len :
					    (size_t)(p - d->d_name));
			dp->sum += cs_uid_term(hash, uid_map_lookup_hash(
						&sc->uids, hash));
		}
	}
	closedir(dir);
	return ret;
}

/* When the mailbox's digest is known, compare it and the message count
   with the directories': equal means nothing to reconcile, at the cost of
   a readdir and a hash per name (no tdb lookup).  Sets *same_r. */
static int digest_pass(struct scan *sc, bool *same_r, struct cs_error *err)
{
	const struct cs_mailbox_rec *rec = cs_mailbox_get_rec(sc->box);
	struct digest_pass dp = { 0, 0, 0 };
	int ret;

	*same_r = false;
	if ((rec->flags & CS_MAILBOX_F_DIGEST) == 0 || rec->messages == 0 ||
	    sc->set->changes_expected)
		return 0;
	ret = digest_dir(sc, CS_LOC_NEW, &dp, err);
	if (ret > 0)
		ret = digest_dir(sc, CS_LOC_CUR, &dp, err);
	if (ret <= 0)
		return ret;
	if (dp.count != rec->messages || dp.sum != rec->digest)
		return 0;
	sc->stats->files += dp.files;
	*same_r = true;
	return 0;
}

/* A mailbox recorded before digests existed gets its digest once. */
static int digest_init(struct scan *sc, struct cs_error *err)
{
	if ((cs_mailbox_get_rec(sc->box)->flags & CS_MAILBOX_F_DIGEST) != 0)
		return 0;
	if (cs_index_begin(sc->index, err) < 0)
		return -1;
	if (cs_mailbox_digest_rebuild(sc->box, err) < 0) {
		cs_index_rollback(sc->index);
		return -1;
	}
	return cs_index_commit(sc->index, err);
}

/* --- the sweep: records without a file --- */

struct sweep {
	uint64_t *hashes;
	size_t count, alloc;
	char (*missing)[CS_NAME_MAX + 1];
	size_t nmissing, missing_alloc;
	struct scan *sc;
};

static int sweep_collect_dir(struct sweep *sw, const char *dirpath,
			     char sep, struct cs_error *err)
{
	struct cs_name name;
	struct dirent *d;
	DIR *dir;

	sw->sc->index->dir_reads++;
	dir = cs_dir_opendir(cs_index_root(sw->sc->index), dirpath);
	if (dir == NULL)
		return errno == ENOENT ? 0 : cs_dir_error(err, dirpath);
	while ((d = readdir(dir)) != NULL) {
		/* a symlink or directory is no message, even under the name
		   of one that was */
		if (d->d_type != DT_REG && d->d_type != DT_UNKNOWN)
			continue;
		if (cs_name_parse(d->d_name, sep, &name, NULL) < 0)
			continue;
		if (cs_array_grow(&sw->hashes, sizeof(*sw->hashes),
				  sw->count, &sw->alloc, 4096) < 0) {
			closedir(dir);
			return cs_error_set(err, CS_ERR_IO, "out of memory");
		}
		sw->hashes[sw->count++] = cs_name_hash(name.base, name.base_len);
	}
	closedir(dir);
	return 0;
}

static int sweep_record(void *ctx, const struct cs_message *msg,
			struct cs_error *err)
{
	struct sweep *sw = ctx;
	uint64_t h = cs_name_hash(msg->base, strlen(msg->base));
	char path[PATH_MAX];
	struct stat st;

	if (cs_hash_find(sw->hashes, sw->count, sizeof(h), h) != NULL)
		return 0;
	/* not seen by readdir: confirm with its recorded name */
	if (cs_path_fmt(path, sizeof(path), "%s/%s/%s%s", sw->sc->path,
			loc_dirs[msg->rec.location], msg->base,
			msg->suffix) == 0 && lstat(path, &st) == 0 &&
	    S_ISREG(st.st_mode))
		return 0;
	if (cs_array_grow(&sw->missing, sizeof(*sw->missing), sw->nmissing,
			  &sw->missing_alloc, 64) < 0)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	snprintf(sw->missing[sw->nmissing++], CS_NAME_MAX + 1, "%s",
		 msg->base);
	return 0;
}

/* Directory mtimes, to tell whether a sweep raced a renamer. */
static void dir_mtimes(const char *path, struct timespec mt_r[2])
{
	char dirpath[PATH_MAX];
	struct stat st;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&mt_r[i], 0, sizeof(mt_r[i]));
		if (cs_path_fmt(dirpath, sizeof(dirpath), "%s/%s", path,
				loc_dirs[i]) == 0 && lstat(dirpath, &st) == 0)
			mt_r[i] = st.st_mtim;
	}
}

static int sweep_once(struct scan *sc, struct sweep *sw, bool *stable_r,
		      struct cs_error *err)
{
	char dirpath[PATH_MAX];
	struct timespec before[2], after[2];
	int i;

	sw->count = 0;
	sw->nmissing = 0;
	dir_mtimes(sc->path, before);
	for (i = 0; i < 2; i++) {
		if (scan_dirpath(sc, (uint8_t)i, dirpath, err) < 0)
			return -1;
		if (sweep_collect_dir(sw, dirpath,
				      cs_index_separator(sc->index), err) < 0)
			return -1;
	}
	cs_hash_sort(sw->hashes, sw->count, sizeof(uint64_t));
	if (cs_messages_iterate(sc->box, sweep_record, sw, err) < 0)
		return -1;
	dir_mtimes(sc->path, after);
	*stable_r = memcmp(before, after, sizeof(before)) == 0;
	return 0;
}

static int expunge_missing(struct scan *sc, struct sweep *sw,
			   struct cs_error *err)
{
	struct cs_disk_state gone = { .present = false, .suffix = "" };
	struct cs_message msg;
	size_t i;
	int ret;

	if (sw->nmissing == 0)
		return 0;
	if (cs_index_begin(sc->index, err) < 0)
		return -1;
	for (i = 0; i < sw->nmissing; i++) {
		/* (the UID Dovecot gave, for a record that never learnt it) */
		gone.uid = uid_map_lookup(&sc->uids, sw->missing[i],
					  strlen(sw->missing[i]));
		ret = cs_reconcile(sc->box, sw->missing[i],
				   strlen(sw->missing[i]), &gone, &msg, err);
		if (ret < 0)
			goto fail;
		if (ret > 0)
			sc->stats->expunged++;
	}
	return cs_index_commit(sc->index, err);
fail:
	cs_index_rollback(sc->index);
	return -1;
}

static int sweep(struct scan *sc, struct cs_error *err)
{
	struct sweep sw = { .sc = sc };
	bool stable = false;
	int i, ret = 0;

	for (i = 0; i < SWEEP_TRIES && !stable && ret == 0; i++)
		ret = sweep_once(sc, &sw, &stable, err);
	if (ret == 0 && !stable && sw.nmissing > 0) {
		/* the directory never held still: a record not seen may be a
		   file renamed under our readdir.  Never expunge on a guess;
		   the watch daemon's events or the next scan will confirm. */
		char text[256];

		snprintf(text, sizeof(text), "%s: directory kept changing "
			 "during the scan: %zu record(s) not confirmed gone "
			 "left for the next scan", sc->name, sw.nmissing);
		if (sc->set->warn != NULL)
			sc->set->warn(sc->set->warn_ctx, text);
		sc->stats->deferred += sw.nmissing;
		sw.nmissing = 0;
	}
	if (ret == 0)
		ret = expunge_missing(sc, &sw, err);
	free(sw.hashes);
	free(sw.missing);
	return ret;
}

/* --- the whole scan --- */

static int scan_check_dir(struct scan *sc, struct cs_error *err)
{
	struct stat st;
	bool inbox = strcmp(sc->name, "INBOX") == 0;

	if (cs_mailbox_path(cs_index_root(sc->index), sc->name, sc->path,
			    sizeof(sc->path), err) < 0)
		return -1;
	if ((inbox ? stat(sc->path, &st) : lstat(sc->path, &st)) < 0)
		return cs_error_sys(err, "mailbox %s: %s", sc->name, sc->path);
	if (S_ISLNK(st.st_mode))
		return cs_error_set(err, CS_ERR_SYMLINK,
			"mailbox %s: %s is a symlink, not followed",
			sc->name, sc->path);
	if (!S_ISDIR(st.st_mode))
		return cs_error_set(err, CS_ERR_INVALID,
			"mailbox %s: %s is not a directory", sc->name,
			sc->path);
	return 0;
}

int cs_maildir_scan(struct cs_index *index, const char *name,
		    const struct cs_scan_settings *set,
		    struct cs_scan_stats *stats_r, struct cs_error *err)
{
	return cs_maildir_scan_listed(index, name, set, NULL, stats_r, err);
}

int cs_maildir_scan_listed(struct cs_index *index, const char *name,
			   const struct cs_scan_settings *set,
			   const struct cs_listing *listing,
			   struct cs_scan_stats *stats_r, struct cs_error *err)
{
	static const struct cs_scan_settings default_set;
	struct scan sc = { .index = index, .name = name, .stats = stats_r,
			   .set = set != NULL ? set : &default_set };
	uint64_t arrived_before = stats_r->arrived;
	bool same;
	int ret;

	if (index->in_txn)
		return cs_error_set(err, CS_ERR_INVALID,
				    "cs_maildir_scan inside a transaction");
	if (scan_check_dir(&sc, err) < 0 || uid_map_read(&sc, err) < 0)
		goto fail;
	ret = cs_mailbox_open(index, name, false, 0, 0, &sc.box, err);
	if (ret < 0)
		goto fail;
	if (sc.box == NULL)
		sc.listing = listing;	/* nothing of it in the index */
	sc.pending = malloc(SCAN_CHUNK * sizeof(*sc.pending));
	sc.order = malloc(SCAN_CHUNK * sizeof(*sc.order));
	sc.keys = malloc(SCAN_CHUNK * sizeof(*sc.keys));
	if (sc.pending == NULL || sc.order == NULL || sc.keys == NULL) {
		cs_error_set(err, CS_ERR_IO, "out of memory");
		goto fail;
	}
	if (!sc.uids.present &&
	    (sc.box == NULL ||
	     (cs_mailbox_get_rec(sc.box)->uid_source == CS_UIDSRC_OWN &&
	      cs_mailbox_get_rec(sc.box)->messages == 0)) &&
	    uid_map_predict(&sc, err) < 0)
		goto fail;
	if (sc.box == NULL || scan_uid_switch_needed(&sc) ||
	    scan_uidnext_behind(&sc)) {
		/* create the record (and switch UIDs) before reading */
		if (cs_index_begin(index, err) < 0)
			goto fail;
		if (scan_open_box(&sc, err) < 0 ||
		    cs_index_commit(index, err) < 0) {
			cs_index_rollback(index);
			goto fail;
		}
	}
	sc.was_empty = cs_mailbox_get_rec(sc.box)->messages == 0;
	if (digest_pass(&sc, &same, err) < 0)
		goto fail;
	if (!same &&
	    (scan_dir(&sc, CS_LOC_NEW, err) < 0 ||
	     scan_dir(&sc, CS_LOC_CUR, err) < 0 ||
	     flush_pending(&sc, err) < 0 ||
	     cs_mailbox_refresh(sc.box, err) < 0))
		goto fail;
	if (!same && sc.matched + (stats_r->arrived - arrived_before) !=
	    cs_mailbox_get_rec(sc.box)->messages
	    && sweep(&sc, err) < 0)
		goto fail;
	if (digest_init(&sc, err) < 0)
		goto fail;
	sc.done = stats_r->files;
	progress(&sc);
	free(sc.pending);
	free(sc.order);
	free(sc.keys);
	free(sc.uids.entries);
	free(sc.entry_uid);
	cs_mailbox_close(&sc.box);
	return 0;
fail:
	free(sc.pending);
	free(sc.order);
	free(sc.keys);
	free(sc.uids.entries);
	free(sc.entry_uid);
	cs_mailbox_close(&sc.box);
	return -1;
}

/* --- every mailbox of a root --- */

struct scan_all {
	struct cs_index *index;
	const struct cs_scan_settings *set;
	const struct cs_maildir_census *census;	/* or NULL */
	size_t census_pos;			/* cs_census_listing() */
	struct cs_scan_stats *stats;
	char **on_disk;
	size_t ndisk, alloc;
	unsigned int failed;
	struct cs_error first;		/* the first mailbox's failure */
};

static void scan_warn(const struct cs_scan_settings *set, const char *text)
{
	if (set != NULL && set->warn != NULL)
		set->warn(set->warn_ctx, text);
}

static int scan_all_one(struct scan_all *sa, const char *name)
{
	struct cs_error err;

	const struct cs_listing *listing = sa->census == NULL ? NULL :
		cs_census_listing(sa->census, name, &sa->census_pos);

	cs_error_clear(&err);
	if (cs_maildir_scan_listed(sa->index, name, sa->set, listing,
				   sa->stats, &err) == 0)
		return 0;
	if (err.code == CS_ERR_NOTFOUND) {
		/* the folder is gone from disk: retire it from the index */
		struct cs_error err2;

		cs_error_clear(&err2);
		if (cs_index_begin(sa->index, &err2) == 0 &&
		    cs_mailbox_delete(sa->index, name, &err2) > 0 &&
		    cs_index_commit(sa->index, &err2) == 0)
			return 0;
		cs_index_rollback(sa->index);
		if (err2.code != CS_OK)
			err = err2;
	}
	scan_warn(sa->set, err.text);
	if (sa->failed++ == 0)
		sa->first = err;
	return 0;
}

static int scan_all_disk_cb(void *ctx, const char *name, const char *path)
{
	struct scan_all *sa = ctx;

	(void)path;
	if (cs_array_grow(&sa->on_disk, sizeof(*sa->on_disk), sa->ndisk,
			  &sa->alloc, 16) < 0)
		return -1;
	sa->on_disk[sa->ndisk] = strdup(name);
	if (sa->on_disk[sa->ndisk] == NULL)
		return -1;
	sa->ndisk++;
	return scan_all_one(sa, name);
}

static bool name_in(char *const *names, size_t count, const char *name)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

static bool on_disk_cb(void *ctx, const char *name)
{
	struct scan_all *sa = ctx;

	return name_in(sa->on_disk, sa->ndisk, name);
}

int cs_maildir_scan_all(struct cs_index *index, const char *const *names,
			const struct cs_scan_settings *set,
			struct cs_scan_stats *stats_r, struct cs_error *err)
{
	return cs_maildir_scan_census(index, names, NULL, set, stats_r, err);
}

int cs_maildir_scan_census(struct cs_index *index, const char *const *names,
			   const struct cs_maildir_census *census,
			   const struct cs_scan_settings *set,
			   struct cs_scan_stats *stats_r, struct cs_error *err)
{
	struct scan_all sa = { .index = index, .set = set, .stats = stats_r,
			       .census = census };
	size_t i;
	int ret = 0;

	if (names != NULL) {
		for (i = 0; names[i] != NULL; i++)
			scan_all_one(&sa, names[i]);
	} else {
		ret = cs_maildir_list(cs_index_root(index), scan_all_disk_cb,
				      &sa, set == NULL ? NULL : set->warn,
				      set == NULL ? NULL : set->warn_ctx, err);
		if (ret == 0 &&
		    cs_mailboxes_retire(index, on_disk_cb, NULL, &sa, err) < 0)
			ret = -1;
	}
	for (i = 0; i < sa.ndisk; i++)
		free(sa.on_disk[i]);
	free(sa.on_disk);
	if (ret != 0)
		return -1;
	if (sa.failed == 1 && err != NULL)
		*err = sa.first;
	else if (sa.failed > 1)
		return cs_error_set(err, sa.first.code,
			"%s: %u mailboxes could not be scanned; the first: %s",
			cs_index_root(index), sa.failed, sa.first.text);
	return sa.failed > 0 ? -1 : 0;
}

/* --- sizing a new index --- */

uint64_t cs_maildir_count_files(const char *root)
{
	struct cs_maildir_census census;

	cs_maildir_census(root, ':', 0, &census);
	return census.files;
}

unsigned int cs_maildir_suggest_hash_size(const char *root)
{
	return cs_hash_size_for(cs_maildir_count_files(root));
}

unsigned int cs_hash_size_for(uint64_t files)
{
	/* primes, each about twice the previous */
	static const unsigned int primes[] = {
		131, 521, 2053, 10007, 20011, 40009, 80021, 160001, 320009,
		640007, 1280023, 2560021, 5120029, 10240033, 20480011
	};
	uint64_t want;
	size_t i;

	/* a bucket of CS_BUCKET_FILL messages, a chunk of the UID map of
	   256 UIDs and a change-log run of up to 256 after a build, then a
	   change-log entry of its own for each message that changes: four
	   messages per hash chain (a record per chain after a quarter of
	   the messages changed), the prime nearest to that (by ratio: the
	   first at least want / 1.41).  Every transaction start copies the
	   whole table (tdb_transaction_start), so a larger one costs every
	   commit. */
	want = files / 4;
	for (i = 0; i < sizeof(primes) / sizeof(primes[0]) - 1; i++) {
		if ((uint64_t)primes[i] * 141 >= want * 100)
			break;
	}
	return primes[i];
}
