/*
 * cs-index.c - the index file under the db layer's wrappers (cs-db.c):
 * opening its tdb safely, the header and the durable ceiling, closing,
 * and transactions, whose commit and rollback call the hooks of the
 * modules that cache records in open mailbox handles (cs_index_hook_add).
 * Opening with recovery and rebuilding are cs-open.c's.
 *
 * Design: one tdb per Maildir root, opened with TDB_DISALLOW_NESTING (a
 * nested transaction could be silently unrolled) and TDB_INCOMPATIBLE_HASH.
 * All writes are inside tdb transactions, which serialise writers across
 * processes; the header record ("H") and the mailbox records of open
 * handles are re-read at the start of each transaction and written at
 * commit.  tdb errors are turned into messages naming the file, with the
 * remedy (reindex --rebuild) when the file is damaged.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cs-file.h"
#include "cs-hwm.h"
#include "cs-index-private.h"
#include "cs-name.h"

#define CS_DEFAULT_HASH_SIZE 10007

/* --- tdb transactions (none while building: see cs-build.c) --- */

static int db_txn_start(struct cs_index *index)
{
	if (index->bulk)
		return 0;
	return index->nonblock ? tdb_transaction_start_nonblock(index->tdb) :
		tdb_transaction_start(index->tdb);
}

static int db_txn_commit(struct cs_index *index)
{
	return index->bulk ? 0 : tdb_transaction_commit(index->tdb);
}

static void db_txn_cancel(struct cs_index *index)
{
	if (index->bulk)
		index->bulk_damaged = true;	/* nothing to roll back to */
	else
		tdb_transaction_cancel(index->tdb);
}

/* --- header --- */

static int header_read(struct cs_index *index, struct cs_error *err)
{
	uint8_t key[1] = { CS_KEY_HEADER }, *data;
	size_t size;
	int ret;

	ret = cs_db_fetch(index, key, 1, &data, &size, err);
	if (ret <= 0)
		return ret;
	ret = cs_header_rec_decode(data, size, &index->hdr);
	free(data);
	if (ret < 0)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: index header damaged or of an unknown version; "
			"rebuild it with 'condstore reindex --rebuild'",
			index->db_path);
	return 1;
}

int cs_index_layout1_error(struct cs_index *index, struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_CORRUPT,
		"%s: index of layout 1 (written by an earlier version): "
		"open it for writing once ('condstore reindex', or the watch "
		"daemon) to convert it", index->db_path);
}

static int header_write(struct cs_index *index, struct cs_error *err)
{
	uint8_t key[1] = { CS_KEY_HEADER }, buf[CS_HEADER_REC_SIZE];

	cs_header_rec_encode(&index->hdr, buf);
	return cs_db_store(index, key, 1, buf, sizeof(buf), err);
}

/* The seed for a new tdb: above the high-water mark and the clock, and
   above "floor" (the old tdb's counters on a rebuild). */
static int seed_ceiling(struct cs_index *index, uint64_t floor,
			uint64_t *ceiling_r, struct cs_error *err)
{
	uint64_t now = cs_now_usec(), ceiling;
	struct cs_hwm hwm;

	if (cs_hwm_read(index->hwm_path, &hwm, err) < 0)
		return -1;
	ceiling = hwm.ceiling > now ? hwm.ceiling : now;
	if (floor > ceiling)
		ceiling = floor;
	/* the ceiling itself is the first counter value: above it is safe */
	if (cs_hwm_raise(index->hwm_path, ceiling + 1, 0, err) < 0)
		return -1;
	*ceiling_r = ceiling + 1;
	return 0;
}

/* A new tdb: write the header with a seeded ceiling. */
static int header_init(struct cs_index *index, uint64_t floor,
		       struct cs_error *err)
{
	uint64_t ceiling;
	int ret;

	if (db_txn_start(index) != 0)
		return cs_db_error(index, "transaction start", err);
	ret = header_read(index, err);
	if (ret != 0) {
		/* someone else initialised it meanwhile, or an error */
		db_txn_cancel(index);
		return ret < 0 ? -1 : 0;
	}
	if (seed_ceiling(index, floor, &ceiling, err) < 0) {
		db_txn_cancel(index);
		return -1;
	}
	memset(&index->hdr, 0, sizeof(index->hdr));
	index->hdr.version = CS_RECORD_VERSION;
	index->hdr.separator = (uint8_t)index->sep;
	index->hdr.next_mailbox_id = 1;
	index->hdr.ceiling = ceiling;
	index->hdr.created = cs_now_usec();
	if (header_write(index, err) < 0) {
		db_txn_cancel(index);
		return -1;
	}
	if (db_txn_commit(index) != 0)
		return cs_db_error(index, "transaction commit", err);
	return 0;
}

/* Make sure the hwm file is at least the tdb's ceiling (it may have been
   removed or restored from an old backup).  A raise is a read, then a
   write of the whole file: two at once could lower it, so it is made
   under the transaction lock, as every other raise is (they run inside
   transactions). */
static int hwm_sync_with_header(struct cs_index *index, struct cs_error *err)
{
	struct cs_hwm hwm;
	int ret;

	if (cs_hwm_read(index->hwm_path, &hwm, err) < 0)
		return -1;
	if (hwm.ceiling >= index->hdr.ceiling)
		return 0;
	if (index->bulk)
		return cs_hwm_raise(index->hwm_path, index->hdr.ceiling, 0, err);
	if (tdb_transaction_start(index->tdb) != 0)
		return cs_db_error(index, "transaction start", err);
	ret = header_read(index, err);
	if (ret == 0)
		ret = cs_error_set(err, CS_ERR_CORRUPT, "%s: index header "
				   "vanished", index->db_path);
	if (ret > 0)
		ret = cs_hwm_raise(index->hwm_path, index->hdr.ceiling, 0, err);
	tdb_transaction_cancel(index->tdb);
	return ret < 0 ? -1 : 0;
}

/* --- open / close --- */

static int index_paths(struct cs_index *index,
		       const struct cs_index_settings *set,
		       struct cs_error *err)
{
	char path[PATH_MAX];

	if (set->root == NULL || set->root[0] == '\0')
		return cs_error_set(err, CS_ERR_INVALID, "no Maildir given");
	if (set->db_path != NULL) {
		if (strlen(set->db_path) >= sizeof(path) - 8)
			return cs_error_set(err, CS_ERR_INVALID,
					    "%s: path too long", set->db_path);
		strcpy(path, set->db_path);
	} else if ((size_t)snprintf(path, sizeof(path), "%s/%s", set->root,
				    CS_DB_NAME) >= sizeof(path) - 8) {
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    set->root);
	}
	index->root = strdup(set->root);
	index->db_path = strdup(path);
	index->tdb_path = strdup(path);
	strcat(path, ".hwm");
	index->hwm_path = strdup(path);
	if (index->root == NULL || index->db_path == NULL ||
	    index->tdb_path == NULL || index->hwm_path == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	return 0;
}

static int check_root(const char *root, struct cs_error *err)
{
	struct stat st;

	if (stat(root, &st) < 0)
		return cs_error_sys(err, "Maildir %s", root);
	if (!S_ISDIR(st.st_mode))
		return cs_error_set(err, CS_ERR_INVALID,
				    "Maildir %s: not a directory", root);
	return 0;
}

static int index_not_regular(struct cs_index *index, struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_INVALID,
		"%s: not a regular file (a FIFO, device or directory where "
		"the index belongs): not opened; remove it, then run "
		"'condstore reindex'", index->db_path);
}

/* Open the index file for tdb without ever blocking or following a
   symlink: O_NOFOLLOW and O_NONBLOCK (a FIFO a user put there opens at
   once and is refused, it is never read), then fstat = a regular file.
   A missing file is created (O_EXCL, 0600) unless read-only.  Returns
   the fd, with *st_r, *rdonly_r (opened O_RDONLY: the file or the file
   system is not writable) and *created_r; or -1. */
static int index_file_open(struct cs_index *index, struct stat *st_r,
			   bool *rdonly_r, bool *created_r,
			   struct cs_error *err)
{
	const int flags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd, attempt;

	*rdonly_r = *created_r = false;
	for (attempt = 0; attempt < 10; attempt++) {
		fd = open(index->db_path, O_RDWR | flags);
		if (fd < 0 && index->readonly &&
		    (errno == EACCES || errno == EROFS)) {
			*rdonly_r = true;
			fd = open(index->db_path, O_RDONLY | flags);
		}
		if (fd >= 0 || errno != ENOENT || index->readonly)
			break;
		fd = open(index->db_path, O_RDWR | O_CREAT | O_EXCL | flags,
			  0600);
		if (fd >= 0) {
			*created_r = true;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (fd < 0) {
		if (errno == ELOOP)
			return cs_error_set(err, CS_ERR_SYMLINK,
					    "%s: is a symlink, not followed",
					    index->db_path);
		if (errno == EISDIR)
			return index_not_regular(index, err);
		if (errno == ENOENT && index->readonly)
			return cs_error_set(err, CS_ERR_NOTFOUND,
				"%s: no index yet (run 'condstore reindex')",
				index->db_path);
		return cs_error_sys(err, "open(%s)", index->db_path);
	}
	if (fstat(fd, st_r) < 0) {
		cs_error_sys(err, "fstat(%s)", index->db_path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st_r->st_mode)) {
		close(fd);
		return index_not_regular(index, err);
	}
	return fd;
}

/* The tdb_open_ex() error as a message naming the file and the remedy. */
static int index_tdb_open_error(struct cs_index *index, struct cs_error *err)
{
	if (errno == EIO || errno == EINVAL || errno == 0)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: cannot open the index (%s); rebuild it "
			"with 'condstore reindex --rebuild'",
			index->db_path, index->tdb_log[0] != '\0' ?
			index->tdb_log : "not a tdb file or truncated");
	return cs_error_sys(err, "tdb_open(%s)", index->db_path);
}

static int index_tdb_open(struct cs_index *index, unsigned int hash_size,
			  cs_index_sizer *sizer, struct cs_error *err)
{
	struct tdb_logging_context log = { cs_db_log, index };
	int tdb_flags = TDB_DISALLOW_NESTING | TDB_INCOMPATIBLE_HASH;
	char proc[64];
	struct stat st, tdb_st;
	bool rdonly, created;
	int fd, open_flags;

	if (index->nosync)
		tdb_flags |= TDB_NOSYNC;
	if (index->bulk) {
		/* our own unnamed file, reached through /proc/self/fd (a
		   symlink by nature); the builder fsyncs it once at the end */
		tdb_flags |= TDB_NOLOCK | TDB_NOSYNC;
		index->tdb = tdb_open_ex(index->tdb_path, (int)hash_size,
					 tdb_flags, O_RDWR | O_CREAT |
					 O_CLOEXEC, 0600, &log, NULL);
		index->writable = index->tdb != NULL;
		return index->tdb != NULL ? 0 : index_tdb_open_error(index, err);
	}
	fd = index_file_open(index, &st, &rdonly, &created, err);
	if (fd < 0)
		return -1;
	if (created && !index->readonly && hash_size == 0 && sizer != NULL)
		hash_size = sizer(index->root);
	/* tdb opens by name.  The name given is /proc/self/fd/N, our fd:
	   opening it reaches the very object fstat() checked above (the
	   magic link is not resolved by name again), so no rename in the
	   Maildir between the check and tdb's open can hand tdb a FIFO or
	   another file.  O_NONBLOCK stays on as a second guard (no read of
	   tdb's can ever wait), and tdb's file is compared with ours by
	   st_dev/st_ino after the open.  Readers open read-write too: a tdb
	   opened O_RDONLY takes no locks, so it could read a transaction
	   half-committed by a writer, and it can't run the recovery a writer
	   killed mid-commit leaves behind; O_RDONLY only where writing is
	   not allowed at all.  O_CREAT (tdb writes a new header) only for
	   an empty file: one we just created, or one another opener created
	   and is initialising under tdb's open lock.  Any other file tdb
	   does not recognise (truncated, foreign) is refused, never
	   replaced. */
	open_flags = rdonly ? O_RDONLY : O_RDWR;
	if (!index->readonly && st.st_size == 0)
		open_flags |= O_CREAT;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (access(proc, F_OK) < 0) {
		/* no /proc (a chroot): by name, O_NOFOLLOW; O_NONBLOCK and
		   the st_dev/st_ino check below refuse whatever was swapped
		   in meanwhile */
		proc[0] = '\0';
	}
	index->tdb = tdb_open_ex(proc[0] != '\0' ? proc : index->db_path,
				 hash_size != 0 ? (int)hash_size :
				 CS_DEFAULT_HASH_SIZE, tdb_flags,
				 open_flags | O_NONBLOCK | O_CLOEXEC |
				 (proc[0] != '\0' ? 0 : O_NOFOLLOW), 0600,
				 &log, NULL);
	/* no tdb lock is held between calls: closing our descriptor of the
	   same file drops none */
	close(fd);
	if (index->tdb == NULL)
		return index_tdb_open_error(index, err);
	index->writable = !rdonly;
	if (fstat(tdb_fd(index->tdb), &tdb_st) < 0 ||
	    tdb_st.st_dev != st.st_dev || tdb_st.st_ino != st.st_ino ||
	    !S_ISREG(tdb_st.st_mode)) {
		tdb_close(index->tdb);
		index->tdb = NULL;
		return cs_error_set(err, CS_ERR_INVALID, "%s: the file "
			"changed while it was opened: not used",
			index->db_path);
	}
	return 0;
}

/* After tdb rolled back a transaction a crash interrupted, the records
   that transaction had written beyond the old end of the file are still
   there, unreferenced: harmless, but tdb_check counts them as damage.
   Repacking the file (one transaction copying every record) drops them. */
static int repack_if_recovered(struct cs_index *index, struct cs_error *err)
{
	if (!index->recovered || !index->writable || index->in_txn)
		return 0;
	index->recovered = false;
	if (tdb_repack(index->tdb) != 0)
		return cs_db_error(index, "repack after crash recovery", err);
	return 0;
}

int cs_index_open_raw(const struct cs_index_settings *set, uint64_t floor,
		      const char *bulk_path, cs_index_sizer *sizer,
		      struct cs_index **index_r, struct cs_error *err)
{
	struct cs_index *index;
	int guard = -1, ret;

	*index_r = NULL;
	index = calloc(1, sizeof(*index));
	if (index == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	index->sync_ifd = -1;
	index->sep = set->separator != '\0' ? set->separator : ':';
	index->readonly = set->readonly;
	index->nosync = set->nosync;
	index->nonblock = set->nonblock && bulk_path == NULL;
	index->bulk = bulk_path != NULL;
	if (index_paths(index, set, err) < 0)
		goto fail;
	if (bulk_path != NULL) {
		free(index->tdb_path);
		index->tdb_path = strdup(bulk_path);
		if (index->tdb_path == NULL) {
			cs_error_set(err, CS_ERR_IO, "out of memory");
			goto fail;
		}
	}
	if (check_root(index->root, err) < 0 ||
	    (index->nonblock && cs_index_open_guard(index, &guard, err) < 0))
		goto fail;
	ret = index_tdb_open(index, set->hash_size, sizer, err);
	cs_index_open_unguard(&guard);
	if (ret < 0)
		goto fail;
	if (set->lock_interrupt != NULL && !index->bulk)
		tdb_setalarm_sigptr(index->tdb, set->lock_interrupt);
	ret = header_read(index, err);
	if (ret < 0)
		goto fail;
	if (ret == 0) {
		if (index->readonly) {
			cs_error_set(err, CS_ERR_NOTFOUND,
				"%s: index is empty (run 'condstore reindex')",
				index->db_path);
			goto fail;
		}
		if (header_init(index, floor, err) < 0 ||
		    header_read(index, err) <= 0)
			goto fail;
	}
	if (!index->readonly && hwm_sync_with_header(index, err) < 0)
		goto fail;
	if (!index->readonly && !index->bulk)
		cs_file_clean_leftovers(index->db_path);
	if (repack_if_recovered(index, err) < 0)
		goto fail;
	/* what tdb logged while opening is no cause of a later error */
	index->tdb_log[0] = '\0';
	index->tdb_log_errno = 0;
	*index_r = index;
	return 0;
fail:
	cs_index_close(&index);
	return -1;
}

void cs_index_close(struct cs_index **_index)
{
	struct cs_index *index = *_index;

	if (index == NULL)
		return;
	*_index = NULL;
	if (index->in_txn)
		cs_index_rollback(index);
	/* handles left open are detached, not freed: their owners close */
	while (index->boxes != NULL) {
		struct cs_mailbox *box = index->boxes;

		index->boxes = box->next;
		box->index = NULL;
		box->prev = box->next = NULL;
	}
	if (index->tdb != NULL)
		tdb_close(index->tdb);
	if (index->sync_ifd >= 0)
		close(index->sync_ifd);
	free(index->root);
	free(index->db_path);
	free(index->tdb_path);
	free(index->hwm_path);
	free(index);
}

const char *cs_index_root(const struct cs_index *index)
{
	return index->root;
}

bool cs_index_converted(const struct cs_index *index)
{
	return index->converted;
}

uint64_t cs_index_dir_reads(const struct cs_index *index)
{
	return index->dir_reads;
}

const char *cs_index_db_path(const struct cs_index *index)
{
	return index->db_path;
}

char cs_index_separator(const struct cs_index *index)
{
	return index->sep;
}

int cs_index_hwm(struct cs_index *index, uint64_t *ceiling_r,
		 struct cs_error *err)
{
	struct cs_hwm hwm;
	int ret;

	ret = cs_hwm_read(index->hwm_path, &hwm, err);
	*ceiling_r = hwm.ceiling;
	return ret;
}

/* --- transactions --- */

/* Raise the ceiling (and the hwm file, durably first) so that modseq is
   below it. */
int cs_ceiling_raise(struct cs_index *index, uint64_t modseq,
		     struct cs_error *err)
{
	uint64_t ceiling;

	if (modseq < index->hdr.ceiling)
		return 0;
	ceiling = modseq + CS_HWM_BLOCK;
	if (ceiling > CS_MODSEQ_MAX)
		ceiling = CS_MODSEQ_MAX;
	if (cs_hwm_raise(index->hwm_path, ceiling, 0, err) < 0)
		return -1;
	index->hdr.ceiling = ceiling;
	index->hdr_dirty = true;
	return 0;
}


int cs_index_require_txn(struct cs_index *index, struct cs_error *err)
{
	if (!index->in_txn)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: write outside a transaction",
				    index->db_path);
	return 0;
}

bool cs_index_in_transaction(const struct cs_index *index)
{
	return index->in_txn;
}

void cs_index_hook_add(struct cs_index *index,
		       const struct cs_index_hook *hook)
{
	unsigned int i;

	for (i = 0; i < index->nhooks; i++) {
		if (index->hooks[i] == hook)
			return;
	}
	assert(index->nhooks < CS_INDEX_HOOKS_MAX);
	index->hooks[index->nhooks++] = hook;
}

int cs_index_boxes_flush(struct cs_index *index,
			 int (*flush)(struct cs_mailbox *box,
				      struct cs_error *err),
			 struct cs_error *err)
{
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next) {
		if (!box->gone && flush(box, err) < 0)
			return -1;
	}
	return 0;
}

void cs_index_boxes_reset(struct cs_index *index,
			  void (*reset)(struct cs_mailbox *box))
{
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next)
		reset(box);
}

static int hooks_begin(struct cs_index *index, struct cs_error *err)
{
	unsigned int i;

	for (i = 0; i < index->nhooks; i++) {
		if (index->hooks[i]->begin != NULL &&
		    index->hooks[i]->begin(index, err) < 0)
			return -1;
	}
	return 0;
}

static int hooks_flush(struct cs_index *index, struct cs_error *err)
{
	unsigned int i;

	for (i = 0; i < index->nhooks; i++) {
		if (index->hooks[i]->flush != NULL &&
		    index->hooks[i]->flush(index, err) < 0)
			return -1;
	}
	return 0;
}

static void hooks_reset(struct cs_index *index, bool committed)
{
	unsigned int i;

	for (i = 0; i < index->nhooks; i++) {
		if (index->hooks[i]->reset != NULL)
			index->hooks[i]->reset(index, committed);
	}
}

int cs_index_begin(struct cs_index *index, struct cs_error *err)
{
	if (index->readonly)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: index opened read-only",
				    index->db_path);
	if (index->in_txn)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: transaction already open",
				    index->db_path);
	index->tdb_log[0] = '\0';
	index->tdb_log_errno = 0;
	if (db_txn_start(index) != 0)
		return cs_db_error(index, "transaction start", err);
	index->in_txn = true;
	index->hdr_dirty = false;
	if (header_read(index, err) <= 0 ||
	    (index->hdr.version != CS_RECORD_VERSION && !index->converting &&
	     cs_index_layout1_error(index, err) < 0) ||
	    hooks_begin(index, err) < 0) {
		if (err != NULL && err->code == CS_OK)
			cs_error_set(err, CS_ERR_CORRUPT,
				     "%s: index header missing",
				     index->db_path);
		cs_index_rollback(index);
		return -1;
	}
	return 0;
}

/* What the hooks cached, then the header. */
static int write_dirty(struct cs_index *index, struct cs_error *err)
{
	if (hooks_flush(index, err) < 0)
		return -1;
	if (index->hdr_dirty && header_write(index, err) < 0)
		return -1;
	index->hdr_dirty = false;
	return 0;
}

int cs_index_commit(struct cs_index *index, struct cs_error *err)
{
	if (cs_index_require_txn(index, err) < 0)
		return -1;
	if (write_dirty(index, err) < 0) {
		cs_index_rollback(index);
		return -1;
	}
	index->in_txn = false;
	if (db_txn_commit(index) != 0) {
		cs_db_error(index, "transaction commit", err);
		hooks_reset(index, false);
		return -1;
	}
	hooks_reset(index, true);
	return repack_if_recovered(index, err);
}

size_t cs_index_txn_scratch(const struct cs_index *index)
{
	if (index->bulk)
		return 0;
	/* tdb_transaction_start(): hash_size + 1 heads of 4 bytes */
	return ((size_t)tdb_hash_size(index->tdb) + 1) * sizeof(uint32_t);
}

void cs_index_rollback(struct cs_index *index)
{
	if (!index->in_txn)
		return;
	index->in_txn = false;
	db_txn_cancel(index);
	hooks_reset(index, false);
}
