/*
 * cs-tdbfile.c - the index file's own consistency (see cs-tdbfile.h):
 * tdb_check(), and where it fails, a walk of the file telling damage from
 * unreferenced space.
 *
 * Why tdb_check() alone is not the answer after a crash.  A tdb commit
 * that needs a bigger recovery area than the one it has moves it to the
 * end of the file (tdb_recovery_allocate(), tdb 1.4): it grows the file
 * (posix_fallocate: zeroes; or tdb's fill bytes 0x42) and writes the new
 * recovery pointer into the file's header at once; only then are the
 * recovery data written and synced and the recovery magic set.  A kill
 * in between leaves nothing to recover - every record the hash chains
 * and the free list reach is the old, committed one - but it leaves
 *   (1) the room the transaction had grown the file by, all zeroes or
 *       fill, in front of the new recovery area;
 *   (2) the previous recovery area, a record with the invalid recovery
 *       magic that nothing refers to any more;
 *   (3) when it was killed before the recovery data were written, a
 *       recovery pointer to zeroes, which the next commit takes for a
 *       recovery record of length 0, and frees when it moves the area
 *       again: a free-list entry of no size, which no allocation can
 *       use and coalescing passes over.
 * tdb reaches records only through the hash chains, the free list and
 * the recovery pointer, and its coalescing leaves alone any neighbour
 * that is not a free record (tdb_free(): "it could be uninitialised
 * data"), so (1) and (2) are never read or reused: the space is lost
 * until a repack, nothing else.  tdb_check() means to accept (1) ("If we
 * crash after ftruncate, we can get zeroes or fill"), but its
 * dead_space() reads the same first byte over and over instead of
 * walking on, takes the rest of the file for dead space and then fails
 * with "Hashes do not match records"; (2) it reports as a bad magic and
 * (3) as a record too short.  (1) and (3) were found in index files after
 * kill -9 (tests/unit/test-crash.c), with all of their records intact
 * and the file clean after a repack.
 *
 * The walk below is tdb_check() with those three read right: every record
 * whole (alignment, length, tailer, hash of the key), and every record
 * referred to exactly once by a hash chain or the free list, as in
 * tdb_check() (each offset, tagged with its list, is folded into one
 * 64-bit value once for the record and once for the reference).  It reads
 * tdb's on-disk format (tdb_private.h, TDB_VERSION 0x26011967 + 6, the
 * same since tdb 1.2) under tdb's read lock on the whole file, and gives
 * up - leaving tdb_check()'s verdict - on any file it does not fully
 * understand (another byte order, mutexes, another hash function).
 */
#include "config.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "cs-tdbfile.h"

/* tdb's on-disk format (tdb_private.h) */
#define TDBF_MAGIC_FOOD "TDB file\n"
#define TDBF_VERSION (0x26011967U + 6)
#define TDBF_HASH_RWLOCK_MAGIC 0xbad1a51U	/* TDB_INCOMPATIBLE_HASH */
#define TDBF_HEADER_SIZE 168U
#define TDBF_HDR_VERSION 32U
#define TDBF_HDR_HASH_SIZE 36U
#define TDBF_HDR_RWLOCKS 40U
#define TDBF_HDR_RECOVERY 44U
#define TDBF_HDR_FEATURES 60U
#define TDBF_HDR_MUTEX_SIZE 64U
#define TDBF_REC_SIZE 24U	/* next, rec_len, key_len, data_len,
				   full_hash, magic */
#define TDBF_MAGIC_USED 0x26011999U
#define TDBF_MAGIC_FREE 0xd9fee666U
#define TDBF_MAGIC_DEAD 0xfee1deadU
#define TDBF_MAGIC_RECOVERY 0xf53bc0e7U
#define TDBF_MAGIC_RECOVERY_INVALID 0U
#define TDBF_PAD_BYTE 0x42

struct tdbf_rec {
	uint32_t next, rec_len, key_len, data_len, full_hash, magic;
};

struct tdbf_walk {
	unsigned char *map;
	uint64_t size;
	uint32_t hash_size, data_start, recovery;
	bool found_recovery;
	uint64_t balance;	/* records and references, folded */
	uint64_t leftover;	/* bytes of (1), (2) and (3) */
	char *detail;
	size_t detail_size;
};

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void rec_read(const struct tdbf_walk *w, uint64_t off,
		     struct tdbf_rec *rec_r)
{
	const unsigned char *p = w->map + off;

	rec_r->next = get32(p);
	rec_r->rec_len = get32(p + 4);
	rec_r->key_len = get32(p + 8);
	rec_r->data_len = get32(p + 12);
	rec_r->full_hash = get32(p + 16);
	rec_r->magic = get32(p + 20);
}

static bool damaged(struct tdbf_walk *w, const char *what, uint64_t off)
{
	snprintf(w->detail, w->detail_size, "%s at offset %llu", what,
		 (unsigned long long)off);
	return false;
}

/* Fold one offset of list (0: the free list, 1 + bucket: a hash chain)
   into the balance; a record and the one reference to it cancel. */
static void fold(struct tdbf_walk *w, uint32_t list, uint32_t off)
{
	uint64_t x = ((uint64_t)list << 32) | off;

	/* splitmix64's finalizer */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	w->balance ^= x;
}

/* What tdb_check_record() checks of every used and free record. */
static bool record_whole(struct tdbf_walk *w, uint64_t off,
			 const struct tdbf_rec *rec)
{
	uint64_t end = off + TDBF_REC_SIZE + rec->rec_len;

	if (rec->next != 0 && (rec->next < w->data_start ||
			       rec->next % 4 != 0 ||
			       rec->next + (uint64_t)TDBF_REC_SIZE > w->size))
		return damaged(w, "record with a bad next pointer", off);
	if (rec->rec_len % 4 != 0 || rec->rec_len < 4 || end > w->size)
		return damaged(w, "record with a bad length", off);
	if (get32(w->map + end - 4) != TDBF_REC_SIZE + rec->rec_len)
		return damaged(w, "record with a bad tailer", off);
	return true;
}

static bool used_record(struct tdbf_walk *w, uint64_t off,
			const struct tdbf_rec *rec)
{
	TDB_DATA key;
	uint32_t list;

	if (!record_whole(w, off, rec))
		return false;
	if ((uint64_t)rec->key_len + rec->data_len + 4 > rec->rec_len)
		return damaged(w, "record too short for its contents", off);
	key.dptr = w->map + off + TDBF_REC_SIZE;
	key.dsize = rec->key_len;
	if (tdb_jenkins_hash(&key) != rec->full_hash)
		return damaged(w, "record with a wrong hash", off);
	list = 1 + rec->full_hash % w->hash_size;
	fold(w, list, (uint32_t)off);
	if (rec->next != 0)
		fold(w, list, rec->next);
	return true;
}

static bool free_record(struct tdbf_walk *w, uint64_t off,
			const struct tdbf_rec *rec)
{
	if (rec->rec_len == 0 && (rec->next == 0 ||
				  (rec->next >= w->data_start &&
				   rec->next % 4 == 0 &&
				   rec->next + (uint64_t)TDBF_REC_SIZE <=
				   w->size))) {
		/* (3) in the banner: an entry of no size */
		w->leftover += TDBF_REC_SIZE;
	} else if (!record_whole(w, off, rec)) {
		return false;
	}
	fold(w, 0, (uint32_t)off);
	if (rec->next != 0)
		fold(w, 0, rec->next);
	return true;
}

/* Zeroes or fill from off: the length of the gap, ending where the next
   record (or the recovery area, or the end of the file) begins; 0 when
   it is no gap. */
static uint64_t gap_length(const struct tdbf_walk *w, uint64_t off)
{
	uint64_t end = off, q;
	uint32_t magic;

	while (end < w->size &&
	       (w->map[end] == 0 || w->map[end] == TDBF_PAD_BYTE))
		end++;
	/* a recovery area just allocated is zeroes or fill as well */
	if (w->recovery > off && w->recovery < end)
		return w->recovery - off >= TDBF_REC_SIZE ?
			w->recovery - off : 0;
	if (end == w->size)
		return end - off;
	/* the run may have taken in the first zero bytes of the record
	   that follows: the record begins at an aligned offset in the
	   last TDBF_REC_SIZE bytes, with a magic of a live record */
	for (q = end & ~(uint64_t)3; q + TDBF_REC_SIZE > end &&
	     q >= off + TDBF_REC_SIZE; q -= 4) {
		if (q + TDBF_REC_SIZE > w->size)
			continue;
		magic = get32(w->map + q + 20);
		if (q == w->recovery || magic == TDBF_MAGIC_USED ||
		    magic == TDBF_MAGIC_FREE || magic == TDBF_MAGIC_DEAD)
			return q - off;
	}
	return 0;
}

/* The area a recovery record covers: the recovery data, its tailer and
   room to spare. */
static bool recovery_area_whole(const struct tdbf_walk *w, uint64_t off,
				const struct tdbf_rec *rec)
{
	return rec->rec_len % 4 == 0 &&
		(uint64_t)rec->data_len + 4 <= rec->rec_len &&
		off + TDBF_REC_SIZE + rec->rec_len <= w->size;
}

/* One record (or gap) at off: *len_r is its length; false: damaged. */
static bool walk_one(struct tdbf_walk *w, uint64_t off, uint64_t *len_r)
{
	struct tdbf_rec rec;
	uint64_t gap;

	rec_read(w, off, &rec);
	*len_r = TDBF_REC_SIZE + (uint64_t)rec.rec_len;
	switch (rec.magic) {
	case TDBF_MAGIC_USED:
	case TDBF_MAGIC_DEAD:
		return used_record(w, off, &rec);
	case TDBF_MAGIC_FREE:
		return free_record(w, off, &rec);
	case TDBF_MAGIC_RECOVERY:
		if (off != w->recovery)
			return damaged(w, "live recovery record the header "
				       "does not point to", off);
		/* fall through */
	default:
		break;
	}
	if (off == w->recovery && (rec.magic == TDBF_MAGIC_RECOVERY ||
				   rec.magic == TDBF_MAGIC_RECOVERY_INVALID) &&
	    recovery_area_whole(w, off, &rec)) {
		w->found_recovery = true;
		return true;
	}
	gap = gap_length(w, off);
	if (gap > 0) {
		/* (1) in the banner; the recovery area just allocated may
		   be such a gap too */
		if (off == w->recovery)
			w->found_recovery = true;
		else
			w->leftover += gap;
		*len_r = gap;
		return true;
	}
	if (rec.magic == TDBF_MAGIC_RECOVERY_INVALID && off != w->recovery &&
	    recovery_area_whole(w, off, &rec)) {
		/* (2): a previous recovery area */
		w->leftover += *len_r;
		return true;
	}
	return damaged(w, "unknown record", off);
}

static bool header_understood(struct tdbf_walk *w)
{
	const unsigned char *h = w->map;
	uint32_t i, head;

	if (w->size < TDBF_HEADER_SIZE ||
	    memcmp(h, TDBF_MAGIC_FOOD, sizeof(TDBF_MAGIC_FOOD)) != 0 ||
	    get32(h + TDBF_HDR_VERSION) != TDBF_VERSION ||
	    get32(h + TDBF_HDR_RWLOCKS) != TDBF_HASH_RWLOCK_MAGIC ||
	    get32(h + TDBF_HDR_FEATURES) != 0 ||
	    get32(h + TDBF_HDR_MUTEX_SIZE) != 0)
		return damaged(w, "header not of the kind the index writes", 0);
	w->hash_size = get32(h + TDBF_HDR_HASH_SIZE);
	if (w->hash_size == 0 || w->hash_size > (1U << 28) ||
	    TDBF_HEADER_SIZE + 4 * ((uint64_t)w->hash_size + 1) > w->size)
		return damaged(w, "bad hash size in the header", 0);
	w->data_start = TDBF_HEADER_SIZE + 4 * (w->hash_size + 1);
	w->recovery = get32(h + TDBF_HDR_RECOVERY);
	if (w->recovery != 0 && (w->recovery < w->data_start ||
				 w->recovery % 4 != 0))
		return damaged(w, "bad recovery pointer in the header", 0);
	/* the free list's head and the hash chains' heads */
	for (i = 0; i <= w->hash_size; i++) {
		head = get32(h + TDBF_HEADER_SIZE + 4 * i);
		if (head != 0)
			fold(w, i, head);
	}
	return true;
}

static enum cs_tdbfile_state tdbfile_walk(struct tdbf_walk *w)
{
	uint64_t off, len;

	if (!header_understood(w))
		return CS_TDBFILE_DAMAGED;
	for (off = w->data_start; off < w->size; off += len) {
		if (off + TDBF_REC_SIZE > w->size) {
			damaged(w, "truncated record", off);
			return CS_TDBFILE_DAMAGED;
		}
		if (!walk_one(w, off, &len))
			return CS_TDBFILE_DAMAGED;
	}
	if (w->balance != 0) {
		damaged(w, "records and references do not match", 0);
		return CS_TDBFILE_DAMAGED;
	}
	if (w->recovery != 0 && !w->found_recovery) {
		damaged(w, "no recovery area where the header points", 0);
		return CS_TDBFILE_DAMAGED;
	}
	/* no leftover for tdb_check() to object to: what it saw is not
	   understood here */
	if (w->leftover == 0)
		return CS_TDBFILE_DAMAGED;
	return CS_TDBFILE_LEFTOVERS;
}

/* The walk over the file mapped read-only, under the caller's lock. */
static enum cs_tdbfile_state tdbfile_map_walk(struct cs_index *index,
					      uint64_t *leftover_r,
					      char *detail, size_t size)
{
	struct tdbf_walk w = { .detail = detail, .detail_size = size };
	enum cs_tdbfile_state state;
	struct stat st;
	int fd = tdb_fd(index->tdb);

	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > UINT32_MAX)
		return CS_TDBFILE_DAMAGED;
	w.size = (uint64_t)st.st_size;
	w.map = mmap(NULL, w.size, PROT_READ, MAP_SHARED, fd, 0);
	if (w.map == MAP_FAILED)
		return CS_TDBFILE_DAMAGED;
	state = tdbfile_walk(&w);
	munmap(w.map, w.size);
	if (state == CS_TDBFILE_LEFTOVERS)
		*leftover_r = w.leftover;
	return state;
}

enum cs_tdbfile_state
cs_tdbfile_check(struct cs_index *index, uint64_t *leftover_r,
		 char *detail, size_t size)
{
	enum cs_tdbfile_state state = CS_TDBFILE_CLEAN;
	char walk_detail[128] = "";
	bool locked = index->writable;

	assert(!index->in_txn);
	*leftover_r = 0;
	detail[0] = '\0';
	/* one read lock over both: no commit between tdb_check() and the
	   walk (tdb_check() takes none of its own under it).  A file opened
	   read-only (a read-only file system) takes no locks in tdb, and
	   tdb_check() reads it without, best effort: so does the walk */
	if (locked && tdb_lockall_read(index->tdb) != 0) {
		snprintf(detail, size, "cannot lock the file: %s",
			 tdb_errorstr(index->tdb));
		return CS_TDBFILE_DAMAGED;
	}
	index->tdb_log[0] = '\0';
	if (tdb_check(index->tdb, NULL, NULL) != 0) {
		state = tdbfile_map_walk(index, leftover_r, walk_detail,
					 sizeof(walk_detail));
		/* tdb's own words, and the walk's for damage */
		snprintf(detail, size, "%s%s%s", index->tdb_log[0] != '\0' ?
			 index->tdb_log : tdb_errorstr(index->tdb),
			 walk_detail[0] != '\0' ? "; " : "", walk_detail);
	}
	index->tdb_log[0] = '\0';
	if (locked)
		tdb_unlockall_read(index->tdb);
	return state;
}
