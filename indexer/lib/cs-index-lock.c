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
 * the transaction lock at 8, the free list and the records' hash chains
 * from the end of the header (168) to the end of the file.
 *
 * The probe asks the kernel (F_GETLK) instead of starting a transaction:
 * tdb_transaction_start() remaps the file and copies its whole hash
 * table (10 MB at a million messages), which cost the daemon as much as
 * the commit that follows.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-index-private.h"

#define TDB_OPEN_LOCK_OFS 0
#define TDB_TRANSACTION_LOCK_OFS 8
#define TDB_RECORDS_LOCK_OFS 168

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

/* Would a lock of type on len bytes at start wait for another process?
   Returns 1 (*pid_r: one of those holding it), 0 no, -1 with errno. */
static int lock_held(int fd, short type, off_t start, off_t len,
		     pid_t *pid_r)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, F_GETLK, &fl) < 0)
		return -1;
	*pid_r = fl.l_pid;
	return fl.l_type == F_UNLCK ? 0 : 1;
}

int cs_index_probe(struct cs_index *index, struct cs_error *err)
{
	int fd, ret;
	pid_t pid;

	if (index->in_txn || index->bulk)
		return 0;
	fd = tdb_fd(index->tdb);
	/* what tdb_transaction_start() takes: the transaction lock for
	   writing (a writer's transaction, a read traversal), the records
	   for reading (a commit, a store outside a transaction) */
	ret = lock_held(fd, F_WRLCK, TDB_TRANSACTION_LOCK_OFS, 1, &pid);
	if (ret == 0)
		ret = lock_held(fd, F_RDLCK, TDB_RECORDS_LOCK_OFS, 0, &pid);
	if (ret < 0)
		return cs_error_sys(err, "fcntl(%s, F_GETLK)", index->db_path);
	if (ret > 0)
		return cs_error_set(err, CS_ERR_BUSY, "%s: locked by another "
				    "process (pid %ld)", index->db_path,
				    (long)pid);
	return 0;
}
