/*
 * cs-db.c - the db layer under everything else: key layout, the tdb
 * wrappers every other part goes through, and the mapping of tdb's
 * errors (and what it logged) to cs_errors that name the file, with the
 * remedy (reindex --rebuild) when the file is damaged.  Knows nothing of
 * mailboxes, ranks, scans or recovery.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "cs-index-private.h"

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

size_t cs_key_msg_v1(uint8_t *buf, uint32_t id, const char *base, size_t len)
{
	buf[0] = CS_KEY_MESSAGE_V1;
	cs_put_be32(buf + 1, id);
	if (len > CS_NAME_MAX)
		len = CS_NAME_MAX;
	memcpy(buf + 5, base, len);
	return 5 + len;
}

size_t cs_key_numbered(uint8_t *buf, uint8_t tag, uint32_t id, uint32_t n)
{
	buf[0] = tag;
	cs_put_be32(buf + 1, id);
	cs_put_be32(buf + 5, n);
	return 9;
}

size_t cs_key_uid_v1(uint8_t *buf, uint32_t id, uint32_t uid)
{
	return cs_key_numbered(buf, CS_KEY_UID_V1, id, uid);
}

size_t cs_key_bucket(uint8_t *buf, uint32_t id, uint32_t bucket)
{
	return cs_key_numbered(buf, CS_KEY_BUCKET, id, bucket);
}

size_t cs_key_uidmap(uint8_t *buf, uint32_t id, uint32_t chunk)
{
	return cs_key_numbered(buf, CS_KEY_UIDMAP, id, chunk);
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
	return cs_key_numbered(buf, CS_KEY_TOMB, id, uid);
}

size_t cs_key_jump(uint8_t *buf, uint32_t id)
{
	buf[0] = CS_KEY_JUMP;
	cs_put_be32(buf + 1, id);
	return 5;
}

/* --- tdb wrappers --- */

void cs_db_log(struct tdb_context *tdb, enum tdb_debug_level level,
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
	struct cs_error *err;
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
	tc->ret = tc->fn(tc->ctx, key.dptr, key.dsize, data.dptr, data.dsize,
			 tc->err);
	assert(tc->ret >= -1 && tc->ret <= 1);
	return tc->ret != 0 ? 1 : 0;
}

int cs_db_traverse_prefix(struct cs_index *index, const uint8_t *prefix,
			  size_t prefix_len, cs_key_fn *fn, void *ctx,
			  struct cs_error *err)
{
	struct traverse_ctx tc = { prefix, prefix_len, fn, ctx, err, 0 };
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


static int delete_cb(void *ctx, const uint8_t *key, size_t key_len,
		     const uint8_t *data, size_t size, struct cs_error *err)
{
	(void)data;
	(void)size;
	return cs_db_delete(ctx, key, key_len, err);
}

int cs_db_delete_prefix(struct cs_index *index, const uint8_t *prefix,
			size_t prefix_len, struct cs_error *err)
{
	return cs_db_traverse_prefix(index, prefix, prefix_len, delete_cb,
				     index, err) < 0 ? -1 : 0;
}
