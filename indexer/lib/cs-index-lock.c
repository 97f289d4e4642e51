/*
 * cs-index-lock.c - not waiting for locks other processes hold on an
 * index (cs_index_settings.nonblock, cs_index_probe).
 *
 * Everything tdb does takes fcntl locks with F_SETLKW: anyone who can
 * open the file (its owner) can make a process wait forever.  The watch
 * daemon serves every user of a host, so it must not: it opens an index
 * and starts its transactions without waiting, probes the locks before
 * reading, and bounds every other wait with a timer (tdb's alarm pointer,
 * set by cs_index_open).  Offsets are tdb's (lock.c): the open lock at 0,
 * the transaction lock at 8, the records' hash chains from the end of the
 * header on.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-index-private.h"

#define TDB_OPEN_LOCK_OFS 0

int cs_index_open_guard(struct cs_index *index, int *guard_r,
			struct cs_error *err)
{
	struct flock fl;
	struct stat st;
	int fd;

	*guard_r = -1;
	fd = open(index->db_path, O_RDWR | O_NOFOLLOW | O_NONBLOCK |
		  O_CLOEXEC);
	if (fd < 0)
		return 0;	/* missing or not ours to open: tdb_open says */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return 0;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = TDB_OPEN_LOCK_OFS;
	fl.l_len = 1;
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int saved = errno;

		close(fd);
		if (saved == EAGAIN || saved == EACCES)
			return cs_error_set(err, CS_ERR_BUSY, "%s: open: "
					    "locked by another process",
					    index->db_path);
		errno = saved;
		return cs_error_sys(err, "fcntl(%s)", index->db_path);
	}
	/* this process holds it now: tdb_open takes it again at once */
	*guard_r = fd;
	return 0;
}

void cs_index_open_unguard(int *guard)
{
	/* closing drops this process's locks on the file: tdb_open holds
	   none when it returns (the open lock is released at its end) */
	if (*guard >= 0)
		(void)close(*guard);
	*guard = -1;
}

int cs_index_probe(struct cs_index *index, struct cs_error *err)
{
	if (index->in_txn || index->bulk)
		return 0;
	if (tdb_transaction_start_nonblock(index->tdb) != 0)
		return cs_db_error(index, "transaction start", err);
	tdb_transaction_cancel(index->tdb);
	return 0;
}
