/*
 * watch-reader.c - the inotify reader thread and the queue it fills.
 *
 * The queue is a list of chunks, each mapped on its own (so a burst's
 * memory goes back to the system when it has been worked off); a few
 * released chunks are kept for reuse, so that the thread rarely waits for
 * mmap() or faults a fresh page in while a renamer fills the kernel queue.  The
 * thread read()s straight into the newest chunk (the tail) and publishes
 * the bytes under the mutex; the main loop walks the chunks from the head
 * and releases each chunk it has finished, once the thread has moved on
 * to a newer one.  Only the thread writes to the tail beyond its published
 * length and only the main loop releases chunks, so the data itself is
 * copied without the lock held.
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

#include "watch-reader.h"

#define CHUNK_SIZE (256 * 1024)
/* released chunks kept for reuse */
#define SPARE_MAX 4
/* the most one event takes: a read needs room for at least that */
#define EVENT_MAX (sizeof(struct inotify_event) + NAME_MAX + 1)
/* pause after a failed allocation, read or poll */
#define RETRY_MS 50

struct chunk {
	struct chunk *next;
	size_t len;		/* bytes published (under the mutex) */
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

	pthread_mutex_t lock;
	pthread_cond_t space;	/* a chunk was released, or stop */
	/* under lock */
	struct chunk *head, *tail;
	struct chunk *spare;	/* released, kept for reuse */
	unsigned int spare_count;
	size_t chunks;		/* in the queue */
	size_t queued;		/* bytes published and not taken */
	int error;		/* errno of a failed read, 0 */
	bool stop;

	/* the main loop's */
	size_t head_pos;	/* bytes of head taken */
};

static struct chunk *chunk_new(void)
{
	void *p = mmap(NULL, CHUNK_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct chunk *c;

	if (p == MAP_FAILED)
		return NULL;
	c = p;
	c->next = NULL;
	c->len = 0;
	return c;
}

static void chunk_free(struct chunk *c)
{
	(void)munmap(c, CHUNK_SIZE);
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) ;
}

/* Wait until a chunk may be mapped (the cap) or stop.  Under lock.
   Returns false on stop. */
static bool reader_wait_space(struct watch_reader *r)
{
	while (r->chunks >= r->max_chunks && !r->stop)
		pthread_cond_wait(&r->space, &r->lock);
	return !r->stop;
}

/* The chunk to read into: the tail while it has room for an event, else a
   new one appended to the queue.  NULL on stop. */
static struct chunk *reader_space(struct watch_reader *r)
{
	struct chunk *c = r->tail;
	bool go;

	/* the tail and its length change only in this thread */
	if (c != NULL && CHUNK_DATA - c->len >= EVENT_MAX)
		return c;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		go = reader_wait_space(r);
		c = NULL;
		if (go) {
			r->chunks++;
			if ((c = r->spare) != NULL) {
				r->spare = c->next;
				r->spare_count--;
			}
		}
		pthread_mutex_unlock(&r->lock);
		if (!go)
			return NULL;
		if (c == NULL)
			c = chunk_new();
		if (c != NULL) {
			c->next = NULL;
			c->len = 0;
			break;
		}
		/* out of memory: the kernel queue holds the events
		   meanwhile (and overflows if it must) */
		pthread_mutex_lock(&r->lock);
		r->chunks--;
		pthread_mutex_unlock(&r->lock);
		sleep_ms(RETRY_MS);
	}
	pthread_mutex_lock(&r->lock);
	if (r->tail != NULL)
		r->tail->next = c;
	else
		r->head = c;
	r->tail = c;
	pthread_mutex_unlock(&r->lock);
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

/* Read everything the kernel has queued.  Returns -1 on stop, else 0. */
static int reader_fill(struct watch_reader *r)
{
	struct chunk *c;
	ssize_t n;
	bool queued = false;

	for (;;) {
		c = reader_space(r);
		if (c == NULL)
			return -1;
		n = read(r->fd, c->data + c->len, CHUNK_DATA - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			reader_failed(r, errno);
		if (n <= 0)
			break;
		pthread_mutex_lock(&r->lock);
		c->len += (size_t)n;
		r->queued += (size_t)n;
		pthread_mutex_unlock(&r->lock);
		queued = true;
	}
	if (queued)
		reader_wake(r);
	return 0;
}

static void *reader_main(void *ctx)
{
	struct watch_reader *r = ctx;
	struct pollfd fds[2];

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
		if (r->delay_ms > 0)
			sleep_ms(r->delay_ms);
		if (reader_fill(r) < 0)
			break;
	}
	return NULL;
}

static void reader_free(struct watch_reader *r)
{
	struct chunk *c;

	while ((c = r->head) != NULL) {
		r->head = c->next;
		chunk_free(c);
	}
	while ((c = r->spare) != NULL) {
		r->spare = c->next;
		chunk_free(c);
	}
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	pthread_cond_destroy(&r->space);
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
	pthread_cond_init(&r->space, NULL);
	r->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	r->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wake_fd < 0 || r->stop_fd < 0) {
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
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_broadcast(&r->space);
	pthread_mutex_unlock(&r->lock);
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

int watch_reader_next(struct watch_reader *r,
		      const struct inotify_event **event_r,
		      struct cs_error *err)
{
	const struct inotify_event *event;
	struct chunk *c, *done = NULL;
	size_t size;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		c = r->head;
		if (c == NULL)
			break;
		if (r->head_pos < c->len) {
			event = (const struct inotify_event *)
				(c->data + r->head_pos);
			size = sizeof(*event) + event->len;
			r->head_pos += size;
			r->queued -= size;
			*event_r = event;
			ret = 1;
			break;
		}
		if (c == r->tail)
			break;	/* the thread is still filling it */
		/* finished, and the thread has moved on: release it */
		r->head = c->next;
		r->head_pos = 0;
		r->chunks--;
		if (r->spare_count < SPARE_MAX) {
			c->next = r->spare;
			r->spare = c;
			r->spare_count++;
		} else {
			c->next = done;
			done = c;
		}
		pthread_cond_signal(&r->space);
	}
	if (ret == 0 && r->error != 0) {
		errno = r->error;
		r->error = 0;
		ret = cs_error_sys(err, "read(inotify)");
	}
	pthread_mutex_unlock(&r->lock);
	while ((c = done) != NULL) {
		done = c->next;
		chunk_free(c);
	}
	return ret;
}

size_t watch_reader_queued(struct watch_reader *r)
{
	size_t queued;

	pthread_mutex_lock(&r->lock);
	queued = r->queued;
	pthread_mutex_unlock(&r->lock);
	return queued;
}
