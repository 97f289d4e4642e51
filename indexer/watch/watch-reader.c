/*
 * watch-reader.c - the inotify reader thread and the queue it fills.
 *
 * The thread read()s what the kernel has queued into its own buffer and
 * appends the events, under the mutex, to a list of chunks (each mapped
 * on its own, so a burst's memory goes back to the system once worked off;
 * a few released chunks are kept for reuse).  The main loop takes events
 * from the head.  An event never straddles two chunks, and the thread
 * never writes below a chunk's length, so the main loop reads an event
 * without the lock held.
 *
 * When the queue is full the thread keeps draining the kernel queue but
 * drops the events, remembering which watches they were for.  The next
 * time the main loop asks for an event it drops what is still queued too
 * (remembering those watches as well) and gets one IN_Q_OVERFLOW event
 * whose name carries the watch descriptors (none: all of them): the main
 * loop rescans those directories, which covers every event dropped, and
 * whatever is read after that comes after the marker.  So one overflow of
 * the queue costs one rescan of the directories concerned, however long it
 * lasts, and the kernel queue itself overflows only if the thread cannot
 * run at all.
 *
 * After a wakeup the thread lets events accumulate for delay_ms before it
 * wakes the main loop (one commit then covers many), except when a sync
 * cookie is among the events read at once: someone waits for it (the
 * Dovecot plugin at every NOOP), so the batch goes to the main loop now.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cs-sync.h"
#include "watch-reader.h"

#define CHUNK_SIZE (256 * 1024)
/* released chunks kept for reuse */
#define SPARE_MAX 4
/* one read(): the kernel returns whole events only */
#define READ_SIZE (64 * 1024)
/* pause after a failed read or poll */
#define RETRY_MS 50

struct chunk {
	struct chunk *next;
	size_t len;		/* bytes of events (under the mutex) */
	char data[] __attribute__((aligned(8)));
};
#define CHUNK_DATA (CHUNK_SIZE - offsetof(struct chunk, data))

struct watch_reader {
	int fd;			/* inotify, read by the thread only */
	int wake_fd;		/* eventfd: events were queued */
	int stop_fd;		/* eventfd: the thread should stop */
	unsigned int delay_ms;
	size_t max_chunks;
	pthread_t thread;
	char *buf;		/* the thread's read buffer */

	pthread_mutex_t lock;
	/* under lock */
	struct chunk *head, *tail;
	struct chunk *spare;	/* released, kept for reuse */
	unsigned int spare_count;
	size_t chunks;		/* in the queue */
	size_t queued;		/* bytes of events not taken */
	int error;		/* errno of a failed read, 0 */
	bool overflowing;	/* the queue was full: events dropped */
	bool lost_all;		/* dropped events of too many watches */
	unsigned int lost_count;
	int lost[WATCH_READER_LOST_MAX];	/* watches of dropped events */
	size_t head_pos;	/* bytes of head taken */

	/* the main loop's: the overflow marker handed out last */
	union {
		struct inotify_event event;
		char bytes[sizeof(struct inotify_event) +
			   WATCH_READER_LOST_MAX * sizeof(int)];
	} marker;
};

static struct chunk *chunk_new(void)
{
	void *p = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void chunk_free(struct chunk *c)
{
	(void)munmap(c, CHUNK_SIZE);
}

static void chunks_free(struct chunk *c)
{
	struct chunk *next;

	for (; c != NULL; c = next) {
		next = c->next;
		chunk_free(c);
	}
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* Remember that an event of wd was dropped.  Under lock. */
static void lost_add(struct watch_reader *r, int wd)
{
	unsigned int i;

	if (r->lost_all)
		return;
	if (wd < 0 || r->lost_count == WATCH_READER_LOST_MAX) {
		/* the kernel's own overflow, or too many to name */
		r->lost_all = true;
		return;
	}
	for (i = 0; i < r->lost_count; i++) {
		if (r->lost[i] == wd)
			return;
	}
	r->lost[r->lost_count++] = wd;
}

/* Append one event to the queue.  Under lock.  Returns false when the
   queue is full. */
static bool queue_append(struct watch_reader *r, const void *event,
			 size_t size)
{
	struct chunk *c = r->tail;

	if (c == NULL || CHUNK_DATA - c->len < size) {
		if (r->chunks >= r->max_chunks)
			return false;
		if ((c = r->spare) != NULL) {
			r->spare = c->next;
			r->spare_count--;
		} else if ((c = chunk_new()) == NULL) {
			return false;	/* out of memory: as full */
		}
		c->next = NULL;
		c->len = 0;
		if (r->tail != NULL)
			r->tail->next = c;
		else {
			r->head = c;
			r->head_pos = 0;
		}
		r->tail = c;
		r->chunks++;
	}
	memcpy(c->data + c->len, event, size);
	c->len += size;
	r->queued += size;
	return true;
}

/* Queue the events read into buf, or drop them while the queue is (or
   was, until the main loop noticed) full.  Under lock. */
static void queue_events(struct watch_reader *r, const char *buf, size_t len)
{
	const struct inotify_event *event;
	size_t pos, size;

	for (pos = 0; pos < len; pos += size) {
		event = (const struct inotify_event *)(buf + pos);
		size = sizeof(*event) + event->len;
		if (!r->overflowing && queue_append(r, event, size))
			continue;
		r->overflowing = true;
		lost_add(r, event->wd);
	}
}

/* Take chunk c (the head) out of the queue.  Under lock.  Returns it if
   the caller must free it (no room among the spares), else NULL. */
static struct chunk *queue_release_head(struct watch_reader *r)
{
	struct chunk *c = r->head;

	r->head = c->next;
	if (r->tail == c)
		r->tail = NULL;
	r->head_pos = 0;
	r->chunks--;
	if (r->spare_count < SPARE_MAX) {
		c->next = r->spare;
		r->spare = c;
		r->spare_count++;
		return NULL;
	}
	c->next = NULL;
	return c;
}

static void reader_wake(struct watch_reader *r)
{
	uint64_t one = 1;

	/* fails only when the counter would overflow: still readable */
	(void)!write(r->wake_fd, &one, sizeof(one));
}

/* Hand errno of a failed read or poll to the main loop (which rescans:
   events may have been lost), and pause before trying again. */
static void reader_failed(struct watch_reader *r, int error)
{
	pthread_mutex_lock(&r->lock);
	r->error = error;
	pthread_mutex_unlock(&r->lock);
	reader_wake(r);
	sleep_ms(RETRY_MS);
}

/* Does buf (len bytes of inotify events) hold a sync cookie's? */
static bool events_have_cookie(const char *buf, size_t len)
{
	const struct inotify_event *event;
	size_t pos;

	for (pos = 0; pos + sizeof(*event) <= len;
	     pos += sizeof(*event) + event->len) {
		event = (const struct inotify_event *)(buf + pos);
		if (event->len > 0 && cs_sync_is_cookie(event->name))
			return true;
	}
	return false;
}

/* Read everything the kernel has queued.  Returns the bytes of events
   queued; *cookie_r is set when a sync cookie was among them. */
static size_t reader_fill(struct watch_reader *r, bool *cookie_r)
{
	size_t queued = 0;
	ssize_t n;

	for (;;) {
		n = read(r->fd, r->buf, READ_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			reader_failed(r, errno);
		if (n <= 0)
			break;
		if (events_have_cookie(r->buf, (size_t)n))
			*cookie_r = true;
		pthread_mutex_lock(&r->lock);
		queue_events(r, r->buf, (size_t)n);
		pthread_mutex_unlock(&r->lock);
		queued += (size_t)n;
	}
	return queued;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read what comes in during delay_ms, ending early when a sync cookie
   arrives; got is what the batch has read so far.  Returns true if
   anything was queued.

   In a storm, a slice at a time, not at every event: under a renamer at
   full speed, a reader that wakes up at every event makes the kernel wake
   it up to 160k times a second, and each wakeup is paid for by the
   renamer's rename() (measured at 100k renames: an inotify reader doing
   nothing but read() slowed the renamer by +60-69%, one reading every
   5 ms by +15%, a watch never read at all by +14%).  A batch becomes a
   storm once it has read STORM_BYTES; before that (a NOOP's sync cookie
   after a rename or two) every event is read at once, so that a cookie
   waits for nothing; in a storm it waits at most ACCUMULATE_SLICE_MS. */
#define STORM_BYTES 4096
#define ACCUMULATE_SLICE_MS 1
static bool reader_accumulate(struct watch_reader *r, size_t got,
			      bool *cookie_r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint64_t end = now_ms() + r->delay_ms, now;
	unsigned int left;
	bool queued = false;
	size_t n;

	while (!*cookie_r && (now = now_ms()) < end) {
		left = (unsigned int)(end - now);
		if (got >= STORM_BYTES)
			sleep_ms(left < ACCUMULATE_SLICE_MS ? left :
				 ACCUMULATE_SLICE_MS);
		else if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = reader_fill(r, cookie_r);
		if (n > 0) {
			queued = true;
			got += n;
		}
	}
	return queued;
}

static void *reader_main(void *ctx)
{
	struct watch_reader *r = ctx;
	struct pollfd fds[2];
	bool queued, cookie;
	size_t got;

	fds[0].fd = r->fd;
	fds[0].events = POLLIN;
	fds[1].fd = r->stop_fd;
	fds[1].events = POLLIN;
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno != EINTR)
				reader_failed(r, errno);
			continue;
		}
		if ((fds[1].revents & POLLIN) != 0)
			break;
		/* let events accumulate delay_ms, unless someone waits for
		   a sync cookie among them: it is answered at once */
		cookie = false;
		got = reader_fill(r, &cookie);
		queued = got > 0;
		if (!cookie && r->delay_ms > 0 &&
		    reader_accumulate(r, got, &cookie))
			queued = true;
		if (queued)
			reader_wake(r);
	}
	return NULL;
}

static void reader_free(struct watch_reader *r)
{
	chunks_free(r->head);
	chunks_free(r->spare);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	free(r->buf);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int watch_reader_start(int fd, unsigned int delay_ms, size_t max_bytes,
		       struct watch_reader **reader_r, struct cs_error *err)
{
	struct watch_reader *r;
	int ret;

	*reader_r = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	r->fd = fd;
	r->delay_ms = delay_ms;
	r->max_chunks = max_bytes / CHUNK_SIZE;
	if (r->max_chunks < 2)
		r->max_chunks = 2;
	pthread_mutex_init(&r->lock, NULL);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->buf = malloc(READ_SIZE);	/* aligned for inotify_event */
	if (r->wake_fd < 0 || r->stop_fd < 0 || r->buf == NULL) {
		if (r->buf == NULL)
			cs_error_set(err, CS_ERR_IO, "out of memory");
		else
			cs_error_sys(err, "eventfd");
		reader_free(r);
		return -1;
	}
	ret = pthread_create(&r->thread, NULL, reader_main, r);
	if (ret != 0) {
		errno = ret;
		cs_error_sys(err, "pthread_create");
		reader_free(r);
		return -1;
	}
	*reader_r = r;
	return 0;
}

void watch_reader_stop(struct watch_reader **reader)
{
	struct watch_reader *r = *reader;
	uint64_t one = 1;

	if (r == NULL)
		return;
	*reader = NULL;
	(void)!write(r->stop_fd, &one, sizeof(one));
	pthread_join(r->thread, NULL);
	reader_free(r);
}

int watch_reader_wake_fd(const struct watch_reader *reader)
{
	return reader->wake_fd;
}

void watch_reader_clear_wake(struct watch_reader *reader)
{
	uint64_t count;

	(void)!read(reader->wake_fd, &count, sizeof(count));
}

/* The queue overflowed: drop what is still queued and build the marker
   naming every watch whose events were dropped.  Under lock.  Chunks to
   free go to *done_r. */
static const struct inotify_event *
queue_overflow(struct watch_reader *r, struct chunk **done_r)
{
	const struct inotify_event *event;
	struct chunk *c;
	size_t pos;

	while ((c = r->head) != NULL) {
		for (pos = r->head_pos; pos < c->len;
		     pos += sizeof(*event) + event->len) {
			event = (const struct inotify_event *)(c->data + pos);
			lost_add(r, event->wd);
		}
		if ((c = queue_release_head(r)) != NULL) {
			c->next = *done_r;
			*done_r = c;
		}
	}
	r->queued = 0;
	memset(&r->marker.event, 0, sizeof(r->marker.event));
	r->marker.event.wd = -1;
	r->marker.event.mask = IN_Q_OVERFLOW;
	if (!r->lost_all) {
		r->marker.event.len = r->lost_count * sizeof(int);
		memcpy(r->marker.event.name, r->lost, r->marker.event.len);
	}
	r->overflowing = false;
	r->lost_all = false;
	r->lost_count = 0;
	return &r->marker.event;
}

int watch_reader_next(struct watch_reader *r,
		      const struct inotify_event **event_r,
		      struct cs_error *err)
{
	const struct inotify_event *event;
	struct chunk *c, *done = NULL;
	size_t size;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	if (r->overflowing) {
		*event_r = queue_overflow(r, &done);
		ret = 1;
	}
	while (ret == 0 && (c = r->head) != NULL) {
		if (r->head_pos < c->len) {
			event = (const struct inotify_event *)
				(c->data + r->head_pos);
			size = sizeof(*event) + event->len;
			r->head_pos += size;
			r->queued -= size;
			*event_r = event;
			ret = 1;
		} else if (c == r->tail) {
			/* all taken: start the chunk over */
			c->len = 0;
			r->head_pos = 0;
			break;
		} else if ((c = queue_release_head(r)) != NULL) {
			c->next = done;
			done = c;
		}
	}
	if (ret == 0 && r->error != 0) {
		errno = r->error;
		r->error = 0;
		ret = cs_error_sys(err, "read(inotify)");
	}
	pthread_mutex_unlock(&r->lock);
	chunks_free(done);
	return ret;
}

size_t watch_reader_queued(struct watch_reader *r)
{
	size_t queued;

	pthread_mutex_lock(&r->lock);
	queued = r->queued + (r->overflowing ? 1 : 0);
	pthread_mutex_unlock(&r->lock);
	return queued;
}
