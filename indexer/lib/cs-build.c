/*
 * cs-build.c - the first index of a Maildir, built off to the side and
 * linked into place once complete.
 *
 * Design: a first reindex writes every message's records.  Inside tdb
 * transactions each write copies the 4 KB blocks it touches, and every
 * commit writes a recovery area and then the blocks again; that was most
 * of a fresh reindex's time.  A brand-new index needs none of it, because
 * nobody can see the file while it is built.  So it is built in an unnamed
 * file (O_TMPFILE) in the directory of the index, opened without locks,
 * transactions or fsync (cs_index_open_bulk); when every mailbox is in,
 * the file is fsynced once and given the index's name with linkat(), which
 * fails if an index appeared meanwhile (the watch daemon or the plugin
 * may have created one): then the build is dropped and the caller
 * reindexes that one.  A crash at any moment leaves either no index or the
 * complete one, never a half-built file under the index's name; the
 * counters are seeded from the high-water-mark file as always, so the
 * modseqs of a dropped build are never handed out again.
 *
 * "reindex --rebuild" builds the same way, with the counters seeded above
 * everything the old index knew, and only a complete build replaces the
 * working index: the file is linked under a name of its own
 * (DB.rebuild.PID.N) and renamed over the index.  A failed or killed
 * rebuild leaves the working index as it was.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-bucket.h"
#include "cs-file.h"
#include "cs-index-private.h"
#include "cs-listing.h"
#include "cs-maildir.h"

/* the key of the record that reserves room (never left in the index) */
#define CS_KEY_BUILD_RESERVE '_'

/* The directory part of path (".": none) into buf. */
static int dir_of(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return snprintf(buf, size, ".") < (int)size ? 0 : -1;
	if (slash == path)
		return snprintf(buf, size, "/") < (int)size ? 0 : -1;
	if ((size_t)(slash - path) >= size)
		return -1;
	memcpy(buf, path, (size_t)(slash - path));
	buf[slash - path] = '\0';
	return 0;
}

static int fsync_dir(const char *dir, struct cs_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return cs_error_sys(err, "open(%s)", dir);
	if (fsync(fd) < 0) {
		cs_error_sys(err, "fsync(%s)", dir);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* How tdb 1.4 lays out a new record (common/freelist.c, tdb_allocate):
   a 24-byte header, then 1.25 times the key and data ("over-allocate to
   reduce fragmentation"), then a 4-byte tailer, rounded up to 4 bytes
   (1.5 on average). */
#define TDB_REC_HEADER 24
#define TDB_REC_OVERALLOC 1.25
#define TDB_REC_TAIL (4 + 1.5)
/* room left in a new index for what follows the build */
#define BUILD_ROOM 1.05

/* The bytes a build will store for the files counted in census (layout
   2, cs-record.h): per message its bucket entry (8 fixed bytes, about 10
   of varints, base and suffix), its UID map entry (5) and its entry in a
   change-log run (4); a bucket record (key 9, header 12) per
   CS_BUCKET_FILL messages, a UID map chunk (key 9, version 1) per 256 and
   a run (key 13, type and count 3) per CS_CHANGE_RUN_MAX, as tdb
   allocates them; then 64 kB for the mailbox records and the bitmaps,
   and 5% of room for the first changes (a change-log entry of about 50
   bytes for each message that changes). */
static uint64_t build_estimate(const struct cs_maildir_census *census)
{
	double files = (double)census->files;
	double names = (double)census->name_bytes;
	double records = files / CS_BUCKET_FILL + files / CS_UIDCHUNK_UIDS +
		files / CS_CHANGE_RUN_MAX;
	double payload, bytes;

	payload = files * (8 + 10 + CS_UIDCHUNK_ENTRY + 4) + names +
		files / CS_BUCKET_FILL * (9 + CS_BUCKET_HDR_SIZE) +
		files / CS_UIDCHUNK_UIDS * (9 + 1) +
		files / CS_CHANGE_RUN_MAX * (13 + 3);
	bytes = TDB_REC_OVERALLOC * payload +
		records * (TDB_REC_HEADER + TDB_REC_TAIL);
	return (uint64_t)(bytes * BUILD_ROOM) + 65536;
}

/* Grow the new file once, to about the size the index will have, by
   storing one record and deleting it: one free record that every later
   one is carved from.  tdb grows a file by twice what the record it
   could not place needs (tdb_expand_adjust), and that record needs 1.25
   times its data plus its header and tailer: a record of size S grows
   the file by about 2.5 S + 56.  Grown step by step, tdb would remap the
   file dozens of times and leave a small free record at each step, a
   free list that every allocation walks, and the last step leaves up to
   a quarter of the file unused.  A reserve too large is as much unused
   room; too small, one more step at the end. */
static int build_presize(struct cs_index *index,
			 const struct cs_maildir_census *census,
			 struct cs_error *err)
{
	uint8_t key[] = { CS_KEY_BUILD_RESERVE };
	uint64_t want = build_estimate(census);
	size_t size;
	TDB_DATA k = { key, sizeof(key) }, d;
	int ret;

	if (census->files < 1000 || want > UINT32_MAX / 2)
		return 0;
	size = (size_t)((want - 2 * (TDB_REC_HEADER + TDB_REC_TAIL)) /
			(2 * TDB_REC_OVERALLOC));
	/* untouched calloc memory: the zero page, no real allocation */
	d.dptr = calloc(1, size);
	d.dsize = size;
	if (d.dptr == NULL)
		return 0;
	ret = tdb_store(index->tdb, k, d, TDB_INSERT) == 0 &&
		tdb_delete(index->tdb, k) == 0 ? 0 :
		cs_db_error(index, "reserve", err);
	free(d.dptr);
	return ret;
}

/* Scan every mailbox into the index being built.  Returns 1 when the
   file is complete and consistent (*scan_ret_r says whether every mailbox
   could be read), -1 when it must be dropped. */
static int build_scan(const struct cs_index_settings *set, uint64_t floor,
		      const char *tmp_path, const struct cs_scan_settings *scan,
		      struct cs_scan_stats *stats_r, int *scan_ret_r,
		      struct cs_error *err)
{
	struct cs_index_settings bset = *set;
	struct cs_maildir_census census;
	struct cs_index *index;
	bool damaged;

	/* one read of each directory: the census keeps the names for the
	   scan */
	cs_maildir_census(set->root, set->separator, CS_LISTING_BUDGET,
			  &census);
	if (bset.hash_size == 0)
		bset.hash_size = cs_hash_size_for(census.files);
	if (cs_index_open_bulk(&bset, floor, tmp_path, &index, err) < 0) {
		cs_maildir_census_free(&census);
		return -1;
	}
	if (build_presize(index, &census, err) < 0) {
		cs_maildir_census_free(&census);
		cs_index_close(&index);
		return -1;
	}
	/* the build writes nearly every page of the file it sized */
	(void)cs_db_prefault(index);
	*scan_ret_r = cs_maildir_scan_census(index, NULL, &census, scan,
					     stats_r, err);
	cs_maildir_census_free(&census);
	damaged = index->bulk_damaged;
	cs_index_close(&index);
	if (damaged && *scan_ret_r == 0)
		cs_error_set(err, CS_ERR_IO, "%s: the build was interrupted",
			     set->root);
	return damaged ? -1 : 1;
}

static void stats_add(struct cs_scan_stats *to,
		      const struct cs_scan_stats *from)
{
	to->files += from->files;
	to->arrived += from->arrived;
	to->changed += from->changed;
	to->expunged += from->expunged;
	to->updated += from->updated;
	to->skipped += from->skipped;
	to->deferred += from->deferred;
}

/* The index's path and its directory. */
static int build_paths(const struct cs_index_settings *set, char *db_path,
		       size_t db_size, char *dir, size_t dir_size)
{
	int ret = set->db_path != NULL ?
		cs_path_fmt(db_path, db_size, "%s", set->db_path) :
		cs_path_fmt(db_path, db_size, "%s/%s", set->root, CS_DB_NAME);

	return ret < 0 || dir_of(db_path, dir, dir_size) < 0 ? -1 : 0;
}

/* Build the whole index in a new unnamed file in dir, seeded above
   floor.  Returns 1 with *fd_r (complete and fsynced; *scan_ret_r says
   whether every mailbox could be read), 0 when the file system has no
   unnamed files or /proc (nothing done), -1 on error. */
static int build_aside(const struct cs_index_settings *set, uint64_t floor,
		       const char *dir, const char *db_path,
		       const struct cs_scan_settings *scan,
		       struct cs_scan_stats *stats_r, int *scan_ret_r,
		       int *fd_r, char *proc, size_t proc_size,
		       struct cs_error *err)
{
	int fd, ret;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	snprintf(proc, proc_size, "/proc/self/fd/%d", fd);
	if (access(proc, F_OK) < 0) {
		close(fd);	/* no /proc */
		return 0;
	}
	ret = build_scan(set, floor, proc, scan, stats_r, scan_ret_r, err);
	if (ret > 0 && fsync(fd) < 0)
		ret = cs_error_sys(err, "fsync(%s)", db_path);
	if (ret <= 0) {
		close(fd);
		return ret < 0 ? -1 : 0;
	}
	*fd_r = fd;
	return 1;
}

int cs_maildir_build_index(const struct cs_index_settings *set,
			   const struct cs_scan_settings *scan,
			   struct cs_scan_stats *stats_r,
			   struct cs_error *err)
{
	char db_path[PATH_MAX], dir[PATH_MAX], proc[64];
	struct cs_scan_stats stats = { 0 };
	struct stat st;
	int fd, ret, scan_ret = 0;

	if (set->readonly || set->root == NULL)
		return 0;
	if (build_paths(set, db_path, sizeof(db_path), dir, sizeof(dir)) < 0)
		return 0;	/* the ordinary open reports it */
	if (lstat(db_path, &st) == 0 || errno != ENOENT)
		return 0;
	/* file systems without unnamed files: the ordinary way */
	ret = build_aside(set, 0, dir, db_path, scan, &stats, &scan_ret, &fd,
			  proc, sizeof(proc), err);
	if (ret <= 0)
		return ret;
	if (linkat(AT_FDCWD, proc, AT_FDCWD, db_path, AT_SYMLINK_FOLLOW) < 0) {
		/* an index appeared meanwhile: it wins */
		ret = errno == EEXIST ? 0 :
			cs_error_sys(err, "link(%s)", db_path);
	}
	close(fd);
	if (ret > 0 && fsync_dir(dir, err) < 0)
		return -1;
	if (ret <= 0)
		return ret;
	stats_add(stats_r, &stats);
	return scan_ret < 0 ? -1 : 1;
}

int cs_maildir_rebuild_index(const struct cs_index_settings *set,
			     const struct cs_scan_settings *scan,
			     struct cs_scan_stats *stats_r,
			     struct cs_error *err)
{
	char db_path[PATH_MAX], dir[PATH_MAX], proc[64], tmp[PATH_MAX];
	struct cs_scan_stats stats = { 0 };
	unsigned int attempt;
	int fd, ret, scan_ret = 0;

	if (build_paths(set, db_path, sizeof(db_path), dir, sizeof(dir)) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    set->root);
	ret = build_aside(set, cs_index_floor(set), dir, db_path, scan,
			  &stats, &scan_ret, &fd, proc, sizeof(proc), err);
	if (ret == 0)
		return cs_error_set(err, CS_ERR_IO, "%s: the file system "
			"has no unnamed files (O_TMPFILE) or /proc is not "
			"mounted: the index can't be rebuilt aside; remove it "
			"and run 'condstore reindex'", db_path);
	if (ret < 0)
		return -1;
	if (scan_ret < 0) {
		close(fd);
		return -1;	/* err says which mailbox; nothing replaced */
	}
	/* a name of its own, then renamed over the index */
	ret = -1;
	for (attempt = 0; attempt < 100 && ret < 0; attempt++) {
		if (cs_path_fmt(tmp, sizeof(tmp), "%s" CS_REBUILD_SUFFIX
				"%ld.%u", db_path, (long)getpid(),
				attempt) < 0) {
			errno = ENAMETOOLONG;
			break;
		}
		if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp,
			   AT_SYMLINK_FOLLOW) == 0)
			ret = 0;
		else if (errno != EEXIST)
			break;
	}
	if (ret < 0)
		cs_error_sys(err, "link(%s)", tmp);
	close(fd);
	if (ret < 0)
		return -1;
	if (rename(tmp, db_path) < 0) {
		cs_error_sys(err, "rename(%s, %s)", tmp, db_path);
		(void)unlink(tmp);
		return -1;
	}
	if (fsync_dir(dir, err) < 0)
		return -1;
	stats_add(stats_r, &stats);
	return 0;
}
