/*
 * cs-index.c - opening, closing and rebuilding the index, transactions,
 * key layout and the tdb wrappers every other part goes through.
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

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cs-file.h"
#include "cs-hwm.h"
#include "cs-index-private.h"
#include "cs-maildir.h"
#include "cs-name.h"

#define CS_DEFAULT_HASH_SIZE 10007

uint64_t cs_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* --- keys --- */

size_t cs_key_mailbox(uint8_t *buf, const char *name)
{
	size_t len = strnlen(name, CS_KEY_MAX - 1);

	buf[0] = CS_KEY_MAILBOX;
	memcpy(buf + 1, name, len);
	return 1 + len;
}

size_t cs_key_msg(uint8_t *buf, uint32_t id, const char *base, size_t len)
{
	buf[0] = CS_KEY_MESSAGE;
	cs_put_be32(buf + 1, id);
	if (len > CS_NAME_MAX)
		len = CS_NAME_MAX;
	memcpy(buf + 5, base, len);
	return 5 + len;
}

size_t cs_key_uid(uint8_t *buf, uint32_t id, uint32_t uid)
{
	buf[0] = CS_KEY_UID;
	cs_put_be32(buf + 1, id);
	cs_put_be32(buf + 5, uid);
	return 9;
}

size_t cs_key_change(uint8_t *buf, uint32_t id, uint64_t modseq)
{
	buf[0] = CS_KEY_CHANGE;
	cs_put_be32(buf + 1, id);
	cs_put_be64(buf + 5, modseq);
	return 13;
}

size_t cs_key_tomb(uint8_t *buf, uint32_t id, uint32_t uid)
{
	buf[0] = CS_KEY_TOMB;
	cs_put_be32(buf + 1, id);
	cs_put_be32(buf + 5, uid);
	return 9;
}

size_t cs_key_jump(uint8_t *buf, uint32_t id)
{
	buf[0] = CS_KEY_JUMP;
	cs_put_be32(buf + 1, id);
	return 5;
}

/* --- tdb wrappers --- */

static void cs_tdb_log(struct tdb_context *tdb, enum tdb_debug_level level,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cs_tdb_log(struct tdb_context *tdb, enum tdb_debug_level level,
		       const char *fmt, ...)
{
	struct cs_index *index = tdb_get_logging_private(tdb);
	size_t len;
	va_list args;

	if (index == NULL)
		return;
	/* tdb just rolled back a transaction that a crash interrupted */
	if (strncmp(fmt, "tdb_transaction_recover: recovered", 34) == 0)
		index->recovered = true;
	if (level > TDB_DEBUG_WARNING)
		return;
	/* tdb logs right after the failing call: keep its errno, which
	   tdb's cleanup may overwrite before the error reaches us */
	if (errno == ENOSPC || errno == EDQUOT)
		index->tdb_log_errno = errno;
	/* keep the first message of a failure (the cause) and append the
	   ones that follow it */
	len = strlen(index->tdb_log);
	if (len > 0 && len + 3 < sizeof(index->tdb_log)) {
		strcpy(index->tdb_log + len, "; ");
		len += 2;
	} else {
		len = 0;
	}
	va_start(args, fmt);
	vsnprintf(index->tdb_log + len, sizeof(index->tdb_log) - len, fmt,
		  args);
	va_end(args);
	len = strlen(index->tdb_log);
	while (len > 0 && index->tdb_log[len - 1] == '\n')
		index->tdb_log[--len] = '\0';
}

/* tdb does not always pass ENOSPC on (posix_fallocate returns it without
   setting errno): after an I/O error, look at the file system itself. */
static bool fs_is_full(const char *path)
{
	struct statvfs st;

	if (statvfs(path, &st) < 0)
		return false;
	return (uint64_t)st.f_bavail * st.f_frsize < 256 * 1024 ||
		(st.f_files != 0 && st.f_favail == 0);
}

int cs_db_error(struct cs_index *index, const char *what,
		struct cs_error *err)
{
	enum TDB_ERROR ecode = tdb_error(index->tdb);
	const char *detail = index->tdb_log[0] != '\0' ? index->tdb_log :
		tdb_errorstr(index->tdb);
	int saved_errno = errno;

	/* tdb reports a file it could not grow as TDB_ERR_IO, or not at all
	   (growing the recovery area at a commit leaves no error code) */
	bool io = ecode == TDB_ERR_IO || ecode == TDB_SUCCESS;

	if (index->tdb_log_errno == ENOSPC || index->tdb_log_errno == EDQUOT)
		saved_errno = index->tdb_log_errno;
	else if (io && fs_is_full(index->db_path))
		saved_errno = ENOSPC;
	if (io && (saved_errno == ENOSPC || saved_errno == EDQUOT)) {
		/* the transaction was cancelled: nothing is damaged */
		cs_error_set(err, CS_ERR_IO, "%s: %s: %s (%s); nothing was "
			     "recorded: make room and run the command again",
			     index->db_path, what, strerror(saved_errno),
			     detail);
		if (err != NULL)
			err->sys_errno = saved_errno;
		return -1;
	}
	switch (ecode) {
	case TDB_ERR_CORRUPT:
	case TDB_ERR_IO:
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: index damaged (%s: %s); rebuild it with "
			"'condstore reindex --rebuild'", index->db_path, what,
			detail);
	case TDB_ERR_LOCK:
	case TDB_ERR_NOLOCK:
	case TDB_ERR_LOCK_TIMEOUT:
		return cs_error_set(err, CS_ERR_BUSY, "%s: %s: locked by "
				    "another process (%s)", index->db_path,
				    what, detail);
	case TDB_ERR_RDONLY:
		return cs_error_set(err, CS_ERR_IO,
				    "%s: %s: index opened read-only",
				    index->db_path, what);
	default:
		return cs_error_set(err, CS_ERR_IO, "%s: %s: %s",
				    index->db_path, what, detail);
	}
}

int cs_db_fetch(struct cs_index *index, const uint8_t *key, size_t key_len,
		uint8_t **data_r, size_t *size_r, struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len }, d;

	d = tdb_fetch(index->tdb, k);
	if (d.dptr == NULL) {
		if (tdb_error(index->tdb) == TDB_ERR_NOEXIST)
			return 0;
		return cs_db_error(index, "fetch", err);
	}
	*data_r = d.dptr;
	*size_r = d.dsize;
	return 1;
}

struct parse_ctx {
	cs_db_parser *parser;
	void *ctx;
	int ret;
};

static int parse_cb(TDB_DATA key, TDB_DATA data, void *private_data)
{
	struct parse_ctx *pc = private_data;

	(void)key;
	pc->ret = pc->parser(data.dptr, data.dsize, pc->ctx);
	return 0;
}

int cs_db_parse(struct cs_index *index, const uint8_t *key, size_t key_len,
		cs_db_parser *parser, void *ctx, int *parser_ret_r,
		struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len };
	struct parse_ctx pc = { parser, ctx, 0 };

	if (tdb_parse_record(index->tdb, k, parse_cb, &pc) != 0) {
		if (tdb_error(index->tdb) == TDB_ERR_NOEXIST)
			return 0;
		return cs_db_error(index, "fetch", err);
	}
	*parser_ret_r = pc.ret;
	return 1;
}

int cs_db_store(struct cs_index *index, const uint8_t *key, size_t key_len,
		const void *data, size_t size, struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len };
	TDB_DATA d = { (unsigned char *)data, size };

	if (tdb_store(index->tdb, k, d, TDB_REPLACE) != 0)
		return cs_db_error(index, "store", err);
	return 0;
}

int cs_db_insert(struct cs_index *index, const uint8_t *key, size_t key_len,
		 const void *data, size_t size, struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len };
	TDB_DATA d = { (unsigned char *)data, size };

	if (tdb_store(index->tdb, k, d, TDB_INSERT) == 0)
		return 0;
	if (tdb_error(index->tdb) != TDB_ERR_EXISTS)
		return cs_db_error(index, "store", err);
	/* a leftover the caller did not expect: replace it */
	return cs_db_store(index, key, key_len, data, size, err);
}

int cs_db_add(struct cs_index *index, const uint8_t *key, size_t key_len,
	      const void *data, size_t size, struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len };
	TDB_DATA d = { (unsigned char *)data, size };

	if (tdb_store(index->tdb, k, d, TDB_INSERT) == 0)
		return 1;
	if (tdb_error(index->tdb) == TDB_ERR_EXISTS)
		return 0;
	return cs_db_error(index, "store", err);
}

int cs_db_delete(struct cs_index *index, const uint8_t *key, size_t key_len,
		 struct cs_error *err)
{
	TDB_DATA k = { (unsigned char *)key, key_len };

	if (tdb_delete(index->tdb, k) != 0 &&
	    tdb_error(index->tdb) != TDB_ERR_NOEXIST)
		return cs_db_error(index, "delete", err);
	return 0;
}

struct traverse_ctx {
	const uint8_t *prefix;
	size_t prefix_len;
	cs_key_fn *fn;
	void *ctx;
	int ret;
};

static int traverse_prefix_cb(struct tdb_context *tdb, TDB_DATA key,
			      TDB_DATA data, void *private_data)
{
	struct traverse_ctx *tc = private_data;

	(void)tdb;
	if (key.dsize < tc->prefix_len ||
	    memcmp(key.dptr, tc->prefix, tc->prefix_len) != 0)
		return 0;
	tc->ret = tc->fn(tc->ctx, key.dptr, key.dsize, data.dptr, data.dsize);
	return tc->ret != 0 ? 1 : 0;
}

int cs_db_traverse_prefix(struct cs_index *index, const uint8_t *prefix,
			  size_t prefix_len, cs_key_fn *fn, void *ctx,
			  struct cs_error *err)
{
	struct traverse_ctx tc = { prefix, prefix_len, fn, ctx, 0 };
	int ret;

	if (index->in_txn)
		ret = tdb_traverse(index->tdb, traverse_prefix_cb, &tc);
	else
		ret = tdb_traverse_read(index->tdb, traverse_prefix_cb, &tc);
	if (ret < 0 && tc.ret == 0)
		return cs_db_error(index, "traverse", err);
	if (tc.ret < 0)
		return -1;
	return tc.ret;
}

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
			  struct cs_error *err)
{
	struct tdb_logging_context log = { cs_tdb_log, index };
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
	if (created && !index->readonly && hash_size == 0)
		hash_size = cs_maildir_suggest_hash_size(index->root);
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

static int index_open_with_floor(const struct cs_index_settings *set,
				 uint64_t floor, const char *bulk_path,
				 struct cs_index **index_r,
				 struct cs_error *err)
{
	struct cs_index *index;
	int guard = -1, ret;

	*index_r = NULL;
	index = calloc(1, sizeof(*index));
	if (index == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
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
	ret = index_tdb_open(index, set->hash_size, err);
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

/* Is the high-water mark above the index's ceiling?  Looked at again
   inside a transaction, where no writer is between raising the file and
   committing the header.  Returns 1/0/-1. */
static int hwm_ahead(struct cs_index *index, uint64_t *hwm_r,
		     struct cs_error *err)
{
	struct cs_hwm hwm;
	int ret;

	if (cs_hwm_read(index->hwm_path, &hwm, err) < 0)
		return -1;
	if (hwm.ceiling <= index->hdr.ceiling)
		return 0;
	if (cs_index_begin(index, err) < 0)
		return -1;
	ret = cs_hwm_read(index->hwm_path, &hwm, err);
	cs_index_rollback(index);
	if (ret < 0)
		return -1;
	*hwm_r = hwm.ceiling;
	return hwm.ceiling > index->hdr.ceiling ? 1 : 0;
}

/* An index older than its high-water mark: restored from a backup while
   the .hwm kept the newer value (or a raise whose transaction failed).
   Modseqs between the two ceilings may have been handed out by the newer
   index: every counter is raised above the file's ceiling, as after an
   unclean nosync stop, and the index's ceiling brought up to it, so that
   this happens once. */
static int index_older_than_hwm(struct cs_index *index, struct cs_error *err)
{
	uint64_t hwm = 0;
	int ret;

	ret = hwm_ahead(index, &hwm, err);
	if (ret <= 0)
		return ret;
	if (cs_index_raise_all(index, err) < 0 ||
	    cs_index_begin(index, err) < 0)
		return -1;
	if (index->hdr.ceiling < hwm) {
		index->hdr.ceiling = hwm;
		index->hdr_dirty = true;
	}
	return cs_index_commit(index, err);
}

int cs_index_open(const struct cs_index_settings *set,
		  struct cs_index **index_r, struct cs_error *err)
{
	if (index_open_with_floor(set, 0, NULL, index_r, err) < 0)
		return -1;
	if (!set->readonly && (cs_index_nosync_check(*index_r, err) < 0 ||
			       index_older_than_hwm(*index_r, err) < 0)) {
		cs_index_close(index_r);
		return -1;
	}
	return 0;
}

int cs_index_open_bulk(const struct cs_index_settings *set, uint64_t floor,
		       const char *tdb_path, struct cs_index **index_r,
		       struct cs_error *err)
{
	/* no nosync check: the new index's counters are seeded above the
	   high-water mark, which every modseq ever handed out is below */
	return index_open_with_floor(set, floor, tdb_path, index_r, err);
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

const char *cs_index_db_path(const struct cs_index *index)
{
	return index->db_path;
}

char cs_index_separator(const struct cs_index *index)
{
	return index->sep;
}

struct tdb_context *cs_index_tdb(struct cs_index *index)
{
	return index->tdb;
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

/* --- rebuild --- */

static int max_hms_cb(void *ctx, const char *name,
		      const struct cs_mailbox_rec *rec)
{
	uint64_t *max = ctx;

	(void)name;
	if (rec->highestmodseq > *max)
		*max = rec->highestmodseq;
	return 0;
}

uint64_t cs_index_floor(const struct cs_index_settings *set)
{
	struct cs_index_settings ro = *set;
	struct cs_index *old;
	uint64_t max = 0;

	ro.readonly = true;
	if (cs_index_open(&ro, &old, NULL) < 0)
		return 0;
	max = old->hdr.ceiling;
	(void)cs_mailbox_list(old, max_hms_cb, &max, NULL);
	cs_index_close(&old);
	return max;
}

int cs_index_rebuild(const struct cs_index_settings *set,
		     struct cs_error *err)
{
	struct cs_index *index;
	char path[PATH_MAX], old[PATH_MAX + 8];
	uint64_t floor;

	if (set->db_path != NULL)
		snprintf(path, sizeof(path), "%s", set->db_path);
	else
		snprintf(path, sizeof(path), "%s/%s", set->root, CS_DB_NAME);
	floor = cs_index_floor(set);
	snprintf(old, sizeof(old), "%s.old", path);
	if (rename(path, old) < 0 && errno != ENOENT)
		return cs_error_sys(err, "rename(%s, %s)", path, old);
	if (index_open_with_floor(set, floor, NULL, &index, err) < 0)
		return -1;
	cs_index_close(&index);
	if (unlink(old) < 0 && errno != ENOENT)
		return cs_error_sys(err, "unlink(%s)", old);
	return 0;
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

static int refresh_all(struct cs_index *index, struct cs_error *err)
{
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next) {
		if (cs_mailbox_refresh(box, err) < 0)
			return -1;
	}
	return 0;
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
	if (header_read(index, err) <= 0 || refresh_all(index, err) < 0) {
		if (err != NULL && err->code == CS_OK)
			cs_error_set(err, CS_ERR_CORRUPT,
				     "%s: index header missing",
				     index->db_path);
		cs_index_rollback(index);
		return -1;
	}
	return 0;
}

static int write_dirty(struct cs_index *index, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], buf[CS_MAILBOX_REC_SIZE];
	struct cs_mailbox *box;

	for (box = index->boxes; box != NULL; box = box->next) {
		if (!box->gone && (cs_rank_flush(box, err) < 0 ||
				   cs_change_run_flush(box, err) < 0))
			return -1;
		cs_rank_reset(box);
		cs_change_run_reset(box);
		if (!box->dirty || box->gone)
			continue;
		cs_mailbox_rec_encode(&box->rec, buf);
		if (cs_db_store(index, key, cs_key_mailbox(key, box->name),
				buf, sizeof(buf), err) < 0)
			return -1;
		box->dirty = false;
	}
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
		(void)refresh_all(index, NULL);
		return -1;
	}
	return repack_if_recovered(index, err);
}

void cs_index_rollback(struct cs_index *index)
{
	struct cs_mailbox *box;

	if (!index->in_txn)
		return;
	index->in_txn = false;
	db_txn_cancel(index);
	for (box = index->boxes; box != NULL; box = box->next) {
		box->dirty = false;
		cs_rank_reset(box);
		cs_change_run_reset(box);
	}
	(void)refresh_all(index, NULL);
}
