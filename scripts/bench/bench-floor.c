/*
 * bench-floor.c - the baselines of the reindex benchmark, measured on the
 * same Maildir in the same run.
 *
 * Usage: bench-floor [--hash-size N] [--records R] ROOT DBPATH
 *						the reindex floor
 *        bench-floor --readdir ROOT		a bare readdir
 *
 * The floor is the least work any reindex must do: one readdir of new/
 * and cur/ of every mailbox, and one insert per message (key "m", the
 * mailbox id and the base name; value the message record and the suffix)
 * into a fresh tdb opened as the library opens it (same flags, hash size
 * from cs_maildir_suggest_hash_size), all in one durable transaction.
 * The bare readdir only reads the same directories.  With --records 3
 * each message gets three records (message, UID and change-log keys, see
 * cs-record.h) instead of one: the floor of a schema with one record of
 * each kind per message, written in a transaction (a first build of the
 * library writes the message and UID records and one change-log record
 * per run of up to 256 messages, without a transaction).
 *
 * Prints "MESSAGES SECONDS HASH_SIZE".  SECONDS excludes the hash sizing
 * (a count of the files that the floor needs before it creates the tdb);
 * with --hash-size the program skips it altogether, so that its wall time
 * (what the harness measures, as it does for condstore reindex) holds
 * only the floor's own work.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <tdb.h>

#include "condstore.h"
#include "cs-codec.h"

struct floor_ctx {
	struct tdb_context *tdb;	/* NULL: bare readdir */
	unsigned int records;		/* records per message, 1..3 */
	uint32_t mailbox_id;
	unsigned long messages;
};

static int insert_message(struct floor_ctx *ctx, const char *filename,
			  uint8_t location)
{
	uint8_t kbuf[1 + 4 + CS_NAME_MAX];
	uint8_t vbuf[CS_MSG_REC_FIXED_SIZE + CS_SUFFIX_MAX];
	struct cs_msg_rec rec;
	struct cs_name name;
	TDB_DATA key, value;
	size_t slen;

	if (cs_name_parse(filename, ':', &name, NULL) < 0)
		return 0;
	slen = strlen(name.suffix);
	if (slen > CS_SUFFIX_MAX)
		return 0;
	kbuf[0] = CS_KEY_MESSAGE_V1;
	cs_put_be32(kbuf + 1, ctx->mailbox_id);
	memcpy(kbuf + 5, name.base, name.base_len);
	memset(&rec, 0, sizeof(rec));
	rec.version = CS_RECORD_VERSION_V1;
	rec.location = location;
	rec.suffix_len = (uint16_t)slen;
	rec.uid = (uint32_t)ctx->messages + 1;
	rec.modseq = ctx->messages + 1;
	rec.flags = name.flags;
	cs_msg_rec_encode(&rec, name.suffix, vbuf);
	key.dptr = kbuf;
	key.dsize = 5 + name.base_len;
	value.dptr = vbuf;
	value.dsize = CS_MSG_REC_FIXED_SIZE + slen;
	if (tdb_store(ctx->tdb, key, value, TDB_INSERT) < 0)
		goto fail;
	if (ctx->records >= 2) {
		/* "u" id uid -> base name */
		kbuf[0] = CS_KEY_UID_V1;
		cs_put_be32(kbuf + 5, rec.uid);
		key.dsize = 9;
		value.dptr = (uint8_t *)name.base;
		value.dsize = name.base_len;
		if (tdb_store(ctx->tdb, key, value, TDB_INSERT) < 0)
			goto fail;
	}
	if (ctx->records >= 3) {
		/* "c" id modseq -> type and base name */
		uint8_t cbuf[1 + CS_NAME_MAX];

		kbuf[0] = CS_KEY_CHANGE;
		cs_put_be64(kbuf + 5, rec.modseq);
		key.dsize = 13;
		cbuf[0] = CS_CHANGE_MESSAGE;
		memcpy(cbuf + 1, name.base, name.base_len);
		value.dptr = cbuf;
		value.dsize = 1 + name.base_len;
		if (tdb_store(ctx->tdb, key, value, TDB_INSERT) < 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "bench-floor: tdb_store: %s\n", tdb_errorstr(ctx->tdb));
	return -1;
}

static int read_dir(struct floor_ctx *ctx, const char *path,
		    uint8_t location)
{
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	dir = opendir(path);
	if (dir == NULL) {
		fprintf(stderr, "bench-floor: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (ret == 0 && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		if (ctx->tdb != NULL)
			ret = insert_message(ctx, d->d_name, location);
		ctx->messages++;
	}
	closedir(dir);
	return ret;
}

static int mailbox_cb(void *context, const char *name, const char *path)
{
	struct floor_ctx *ctx = context;
	char sub[4096];

	(void)name;
	ctx->mailbox_id++;
	snprintf(sub, sizeof(sub), "%s/new", path);
	if (read_dir(ctx, sub, CS_LOC_NEW) < 0)
		return -1;
	snprintf(sub, sizeof(sub), "%s/cur", path);
	return read_dir(ctx, sub, CS_LOC_CUR) < 0 ? -1 : 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct floor_ctx ctx = { NULL, 1, 0, 0 };
	unsigned int hash_size = 0;
	struct cs_error err;
	const char *root, *db;
	bool bare;
	double t0;

	while (argc >= 5 && strncmp(argv[1], "--", 2) == 0) {
		if (strcmp(argv[1], "--hash-size") == 0)
			hash_size = (unsigned int)strtoul(argv[2], NULL, 10);
		else if (strcmp(argv[1], "--records") == 0)
			ctx.records = (unsigned int)strtoul(argv[2], NULL, 10);
		else
			break;
		argv += 2;
		argc -= 2;
	}
	bare = argc == 3 && strcmp(argv[1], "--readdir") == 0;
	if (argc != 3 || ctx.records < 1 || ctx.records > 3) {
		fprintf(stderr, "usage: bench-floor [--hash-size N] "
			"[--records 1|2|3] ROOT DBPATH | "
			"bench-floor --readdir ROOT\n");
		return 2;
	}
	root = bare ? argv[2] : argv[1];
	db = argv[2];
	if (!bare) {
		if (hash_size == 0)
			hash_size = cs_maildir_suggest_hash_size(root);
		if (unlink(db) < 0 && errno != ENOENT) {
			fprintf(stderr, "bench-floor: unlink %s: %s\n", db,
				strerror(errno));
			return 2;
		}
	}
	t0 = now();
	if (!bare) {
		ctx.tdb = tdb_open(db, (int)hash_size,
				   TDB_DISALLOW_NESTING |
				   TDB_INCOMPATIBLE_HASH,
				   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
		if (ctx.tdb == NULL || tdb_transaction_start(ctx.tdb) < 0) {
			fprintf(stderr, "bench-floor: tdb %s: %s\n", db,
				strerror(errno));
			return 2;
		}
	}
	if (cs_maildir_list(root, mailbox_cb, &ctx, NULL, NULL, &err) < 0) {
		fprintf(stderr, "bench-floor: %s\n", err.text);
		return 2;
	}
	if (!bare && tdb_transaction_commit(ctx.tdb) < 0) {
		fprintf(stderr, "bench-floor: commit: %s\n",
			tdb_errorstr(ctx.tdb));
		return 2;
	}
	printf("%lu %.6f %u\n", ctx.messages, now() - t0, hash_size);
	if (ctx.tdb != NULL)
		tdb_close(ctx.tdb);
	return 0;
}
