/*
 * cs-sync.c - the handshake between the watch daemon and the processes
 * that need the index to be up to date with the disk: the daemon record
 * ("D", cs-record.h) and the sync cookie files (see cs-sync.h).
 *
 * A daemon record names a process by pid and start time (field 22 of
 * /proc/PID/stat), so a record left behind by a daemon killed with
 * SIGKILL is recognised as stale even when the pid has been reused.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cs-file.h"
#include "cs-index-private.h"
#include "cs-name.h"
#include "cs-sync.h"

/* how often a waiter checks that the daemon is still alive */
#define CS_SYNC_LIVENESS_MS 200
/* polling step when no inotify instance is available */
#define CS_SYNC_POLL_MS 5

static const uint8_t daemon_key[1] = { CS_KEY_DAEMON };

/* Start time of process pid in clock ticks since boot.  Returns 1, 0 if
   there is no such process, -1 if /proc could not be read. */
static int proc_start_time(pid_t pid, uint64_t *start_r)
{
	char path[64], buf[1024], *p, *end;
	unsigned int field;
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return len == 0 ? 0 : -1;
	buf[len] = '\0';
	/* the command name may hold anything: fields start after the last
	   ')'; starttime is field 22, the 20th after it */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	p++;
	for (field = 3; field < 22; field++) {
		while (*p == ' ')
			p++;
		while (*p != ' ' && *p != '\0')
			p++;
		if (*p == '\0')
			return -1;
	}
	*start_r = strtoull(p, &end, 10);
	return end == p ? -1 : 1;
}

/* Read the daemon record.  Returns 1, 0 if there is none, -1 on error. */
static int daemon_rec_read(struct cs_index *index, struct cs_daemon_rec *rec_r,
			   struct cs_error *err)
{
	uint8_t *data;
	size_t size;
	int ret;

	ret = cs_db_fetch(index, daemon_key, sizeof(daemon_key), &data,
			  &size, err);
	if (ret <= 0)
		return ret;
	ret = cs_daemon_rec_decode(data, size, rec_r);
	free(data);
	if (ret < 0)
		return cs_error_set(err, CS_ERR_CORRUPT, "%s: damaged daemon "
				    "record", cs_index_db_path(index));
	return 1;
}

/* Is the process the record names alive?  Returns 1/0/-1. */
static int daemon_rec_alive(const struct cs_daemon_rec *rec,
			    struct cs_error *err)
{
	uint64_t start;
	int ret;

	if (rec->pid == 0)
		return 0;
	ret = proc_start_time((pid_t)rec->pid, &start);
	if (ret < 0)
		return cs_error_sys(err, "/proc/%u/stat", rec->pid);
	return ret > 0 && start == rec->start_time ? 1 : 0;
}

int cs_daemon_lookup(struct cs_index *index, struct cs_daemon_rec *rec_r,
		     struct cs_error *err)
{
	struct cs_daemon_rec rec;
	int ret;

	ret = daemon_rec_read(index, &rec, err);
	if (ret <= 0)
		return ret;
	ret = daemon_rec_alive(&rec, err);
	if (ret > 0 && rec_r != NULL)
		*rec_r = rec;
	return ret;
}

/* Store (rec != NULL) or delete the record in a transaction of its own. */
static int daemon_rec_write(struct cs_index *index,
			    const struct cs_daemon_rec *rec, bool only_own,
			    struct cs_error *err)
{
	uint8_t buf[CS_DAEMON_REC_SIZE];
	struct cs_daemon_rec old;
	int ret;

	if (cs_index_begin(index, err) < 0)
		return -1;
	ret = daemon_rec_read(index, &old, err);
	if (ret < 0)
		goto fail;
	if (ret > 0 && old.pid != (uint32_t)getpid()) {
		if (only_own)
			goto done;
		ret = daemon_rec_alive(&old, err);
		if (ret < 0)
			goto fail;
		if (ret > 0) {
			cs_error_set(err, CS_ERR_BUSY, "%s: already served by "
				     "the watch daemon with pid %u",
				     cs_index_root(index), old.pid);
			goto fail;
		}
	}
	if (rec != NULL) {
		cs_daemon_rec_encode(rec, buf);
		ret = cs_db_store(index, daemon_key, sizeof(daemon_key), buf,
				  sizeof(buf), err);
	} else {
		ret = cs_db_delete(index, daemon_key, sizeof(daemon_key), err);
	}
	if (ret < 0)
		goto fail;
done:
	return cs_index_commit(index, err);
fail:
	cs_index_rollback(index);
	return -1;
}

int cs_daemon_register(struct cs_index *index, struct cs_error *err)
{
	struct cs_daemon_rec rec;

	memset(&rec, 0, sizeof(rec));
	rec.version = CS_RECORD_VERSION;
	rec.pid = (uint32_t)getpid();
	if (proc_start_time(getpid(), &rec.start_time) <= 0)
		return cs_error_sys(err, "/proc/self/stat");
	rec.since = cs_now_usec();
	return daemon_rec_write(index, &rec, false, err);
}

int cs_daemon_unregister(struct cs_index *index, struct cs_error *err)
{
	return daemon_rec_write(index, NULL, true, err);
}

bool cs_sync_is_cookie(const char *name)
{
	size_t plen = strlen(CS_SYNC_COOKIE_PREFIX);
	const char *p;

	if (strncmp(name, CS_SYNC_COOKIE_PREFIX, plen) != 0 ||
	    name[plen] == '\0')
		return false;
	for (p = name + plen; *p != '\0'; p++) {
		if ((*p < '0' || *p > '9') && *p != '.')
			return false;
	}
	return p - name < NAME_MAX;
}

int cs_sync_ack(const char *root, const char *name, struct cs_error *err)
{
	char path[PATH_MAX];

	if (!cs_sync_is_cookie(name))
		return cs_error_set(err, CS_ERR_INVALID, "%s/%s: not a sync "
				    "cookie", root, name);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", root, name) >=
	    sizeof(path))
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    root);
	if (unlink(path) < 0 && errno != ENOENT)
		return cs_error_sys(err, "unlink(%s)", path);
	return 0;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Create a fresh cookie file in root; path_r gets its path. */
static int cookie_create(const char *root, char *path_r, size_t size,
			 struct cs_error *err)
{
	uint64_t n = cs_now_usec();
	unsigned int tries;
	int fd;

	for (tries = 0; tries < 100; tries++, n++) {
		if ((size_t)snprintf(path_r, size, "%s/" CS_SYNC_COOKIE_PREFIX
				     "%ld.%llu", root, (long)getpid(),
				     (unsigned long long)n) >= size)
			return cs_error_set(err, CS_ERR_INVALID,
					    "%s: path too long", root);
		fd = open(path_r, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, 0600);
		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (errno != EEXIST)
			return cs_error_sys(err, "creating %s", path_r);
	}
	return cs_error_set(err, CS_ERR_IO, "%s: could not create a sync "
			    "cookie", root);
}

/* Wait until path is gone, the daemon dies or timeout_ms runs out.
   ifd is an inotify fd watching the root, or -1 (then poll). */
static int cookie_wait(struct cs_index *index, int ifd, const char *path,
		       const struct cs_daemon_rec *daemon,
		       unsigned int timeout_ms, struct cs_error *err)
{
	uint64_t start = monotonic_ms(), now, next_check;
	struct pollfd pfd = { .fd = ifd, .events = POLLIN };
	char buf[4096];
	struct stat st;
	int ret, wait_ms;

	next_check = start + CS_SYNC_LIVENESS_MS;
	for (;;) {
		if (lstat(path, &st) < 0) {
			if (errno == ENOENT)
				return 1;
			return cs_error_sys(err, "lstat(%s)", path);
		}
		now = monotonic_ms();
		if (now >= start + timeout_ms) {
			return cs_error_set(err, CS_ERR_TIMEOUT, "%s: no answer "
				"from the watch daemon (pid %u) within %u ms",
				cs_index_root(index), daemon->pid, timeout_ms);
		}
		if (now >= next_check) {
			ret = daemon_rec_alive(daemon, err);
			if (ret <= 0) {
				if (ret == 0)
					cs_error_set(err, CS_ERR_NOTFOUND,
						"%s: the watch daemon (pid %u) "
						"went away",
						cs_index_root(index),
						daemon->pid);
				return ret;
			}
			next_check = now + CS_SYNC_LIVENESS_MS;
		}
		wait_ms = (int)(next_check - now);
		if (now + (uint64_t)wait_ms > start + timeout_ms)
			wait_ms = (int)(start + timeout_ms - now);
		if (ifd < 0) {
			if (wait_ms > CS_SYNC_POLL_MS)
				wait_ms = CS_SYNC_POLL_MS;
			usleep((useconds_t)wait_ms * 1000);
			continue;
		}
		ret = poll(&pfd, 1, wait_ms);
		if (ret < 0 && errno != EINTR)
			return cs_error_sys(err, "poll(inotify)");
		if (ret > 0 && read(ifd, buf, sizeof(buf)) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			return cs_error_sys(err, "read(inotify)");
	}
}

/* Watch root for the removal of cookies with the index's inotify
   instance, made on the first wait and kept: closing an instance waits
   for the kernel's grace period, 0.3 ms on an idle machine but 10-30 ms
   with a few busy sessions (cs_sync_release).  Returns the instance with
   *wd_r, or -1 (no instance: the limits; then the wait polls). */
static int sync_watch(struct cs_index *index, const char *root, int *wd_r)
{
	if (index->sync_ifd < 0)
		index->sync_ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (index->sync_ifd < 0)
		return -1;
	*wd_r = inotify_add_watch(index->sync_ifd, root, IN_DELETE |
				  IN_MOVED_FROM | IN_ONLYDIR);
	return *wd_r < 0 ? -1 : index->sync_ifd;
}

/* End the watch of sync_watch(): nothing is watched between waits, and
   what was queued (other waiters' cookies, IN_IGNORED) is read away. */
static void sync_unwatch(struct cs_index *index, int wd)
{
	char buf[4096];

	(void)inotify_rm_watch(index->sync_ifd, wd);
	while (read(index->sync_ifd, buf, sizeof(buf)) > 0)
		;
}

void cs_sync_release(struct cs_index *index)
{
	if (index->sync_ifd >= 0)
		close(index->sync_ifd);
	index->sync_ifd = -1;
}

int cs_sync_wait(struct cs_index *index, unsigned int timeout_ms,
		 struct cs_error *err)
{
	const char *root = cs_index_root(index);
	struct cs_daemon_rec daemon;
	char path[PATH_MAX];
	int ifd, wd = -1, ret;

	ret = cs_daemon_lookup(index, &daemon, err);
	if (ret <= 0) {
		if (ret == 0)
			cs_error_set(err, CS_ERR_NOTFOUND, "%s: no watch daemon "
				     "serves this Maildir (start 'condstore "
				     "watch')", root);
		return ret;
	}
	/* watch before creating the cookie, so its removal is seen; without
	   an inotify instance (limits) fall back to short polls */
	ifd = sync_watch(index, root, &wd);
	if (cookie_create(root, path, sizeof(path), err) < 0) {
		ret = -1;
	} else {
		ret = cookie_wait(index, ifd, path, &daemon, timeout_ms, err);
		if (ret != 1 && unlink(path) < 0 && errno == ENOENT &&
		    ret < 0 && err != NULL && err->code == CS_ERR_TIMEOUT) {
			/* acknowledged just as the wait ran out */
			cs_error_clear(err);
			ret = 1;
		}
	}
	if (ifd >= 0)
		sync_unwatch(index, wd);
	return ret;
}

int cs_sync_changed_path(struct cs_index *index, char *buf, size_t size)
{
	return cs_path_fmt(buf, size, "%s.changed", cs_index_db_path(index));
}

int cs_sync_announce(struct cs_index *index, struct cs_error *err)
{
	char path[PATH_MAX], text[32];
	struct stat st;
	int fd, len, ret = 0;

	if (cs_sync_changed_path(index, path, sizeof(path)) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    cs_index_db_path(index));
	/* O_NONBLOCK: a FIFO put there opens at once (ENXIO) or does not
	   block the write */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		  O_CLOEXEC, 0600);
	if (fd < 0)
		return cs_error_sys(err, "open(%s)", path);
	if (fstat(fd, &st) < 0)
		ret = cs_error_sys(err, "fstat(%s)", path);
	else if (!S_ISREG(st.st_mode))
		ret = cs_error_set(err, CS_ERR_INVALID, "%s: not a regular "
				   "file", path);
	else {
		/* the same size each time: the file never grows */
		len = snprintf(text, sizeof(text), "%020llu\n",
			       (unsigned long long)cs_now_usec());
		if (pwrite(fd, text, (size_t)len, 0) != (ssize_t)len)
			ret = cs_error_sys(err, "write(%s)", path);
	}
	close(fd);
	return ret;
}
