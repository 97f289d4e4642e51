/*
 * watch-status.c - the watch daemon's figures and the unix socket that
 * reports them (see watch-status.h for the report's format and who sees
 * what).
 *
 * The socket never blocks the daemon: each connection gets the whole
 * report built in memory and written as the peer reads it (POLLOUT);
 * a peer that does not read is dropped when newer ones need its place.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "watch-inotify.h"
#include "watch-log.h"
#include "watch-reader.h"
#include "watch-status.h"

struct status_given_up {
	struct status_given_up *next;
	char *path, *reason;
	uid_t owner;
	unsigned int errors;
};

struct status_client {
	int fd;			/* -1: free */
	char *buf;
	size_t len, sent;
	uint64_t since_ms;
};

struct watch_status {
	int listen_fd;		/* -1: no socket */
	char *socket_path;	/* unlinked at deinit when ours */
	uint64_t since_usec;
	uint64_t batch_taken_ms;
	unsigned int overflows;
	struct status_given_up *given_up;
	struct status_client clients[WATCH_STATUS_MAX_CLIENTS];
};

/* A growing report. */
struct status_buf {
	char *data;
	size_t len, alloc;
	bool failed;
};

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static struct watch_root_figures *figures(struct watch_root *root)
{
	if (root->figures == NULL)
		root->figures = calloc(1, sizeof(*root->figures));
	return root->figures;
}

/* --- the figures --- */

void watch_status_batch_taken(struct watch_daemon *d)
{
	if (d->status != NULL)
		d->status->batch_taken_ms = watch_now_ms();
}

void watch_status_event(struct watch_root *root)
{
	struct watch_root_figures *f = figures(root);

	if (f != NULL)
		f->events++;
}

void watch_status_committed(struct watch_daemon *d, struct watch_root *root,
			    uint64_t changes)
{
	struct watch_root_figures *f = figures(root);
	uint64_t now = watch_now_ms();

	if (f == NULL)
		return;
	f->commits++;
	f->changes += changes;
	f->last_commit_usec = now_usec();
	if (d->status != NULL && d->status->batch_taken_ms != 0 &&
	    now >= d->status->batch_taken_ms)
		f->lag_ms = (unsigned int)(now - d->status->batch_taken_ms);
}

void watch_status_scanned(struct watch_root *root, uint64_t changes)
{
	struct watch_root_figures *f = figures(root);

	if (f != NULL)
		f->changes += changes;
}

void watch_status_rescan(struct watch_root *root)
{
	struct watch_root_figures *f = figures(root);

	if (f != NULL)
		f->rescans++;
}

void watch_status_index_closing(struct watch_root *root)
{
	/* a root being freed has no figures any more: none are made */
	if (root->figures != NULL && root->index != NULL)
		root->figures->dir_reads += cs_index_dir_reads(root->index);
}

void watch_status_error(struct watch_daemon *d, struct watch_root *root,
			const char *text)
{
	struct watch_root_figures *f = figures(root);
	char *copy;

	if (f == NULL)
		return;
	f->errors++;
	f->failing = true;
	f->error_round = d->round;
	copy = strdup(text);
	if (copy != NULL) {
		free(f->last_error);
		f->last_error = copy;
	}
}

void watch_status_ok(struct watch_daemon *d, struct watch_root *root)
{
	if (root->figures != NULL && root->figures->error_round != d->round)
		root->figures->failing = false;
}

void watch_status_overflow(struct watch_daemon *d)
{
	if (d->status != NULL)
		d->status->overflows++;
}

static uid_t path_owner(const char *path)
{
	struct stat st;

	/* unknown: only root sees it */
	return lstat(path, &st) == 0 ? st.st_uid : 0;
}

static void given_up_forget(struct watch_status *s, const char *path)
{
	struct status_given_up **p = &s->given_up, *g;

	while ((g = *p) != NULL) {
		if (strcmp(g->path, path) == 0) {
			*p = g->next;
			free(g->path);
			free(g->reason);
			free(g);
		} else {
			p = &g->next;
		}
	}
}

void watch_status_give_up(struct watch_daemon *d, struct watch_root *root,
			  const char *reason)
{
	struct watch_status *s = d->status;
	struct status_given_up *g;

	if (s == NULL)
		return;
	given_up_forget(s, root->path);
	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return;
	g->path = strdup(root->path);
	g->reason = strdup(reason);
	if (g->path == NULL || g->reason == NULL) {
		free(g->path);
		free(g->reason);
		free(g);
		return;
	}
	g->owner = root->figures != NULL && root->figures->owner != 0 ?
		root->figures->owner : path_owner(root->path);
	g->errors = (root->figures != NULL ? root->figures->errors : 0) + 1;
	g->next = s->given_up;
	s->given_up = g;
}

void watch_status_started(struct watch_daemon *d, struct watch_root *root)
{
	struct watch_root_figures *f = figures(root);

	if (d->status != NULL)
		given_up_forget(d->status, root->path);
	if (f != NULL)
		f->owner = path_owner(root->path);
}

void watch_root_figures_free(struct watch_root *root)
{
	if (root->figures == NULL)
		return;
	free(root->figures->last_error);
	free(root->figures);
	root->figures = NULL;
}

/* --- the report --- */

static void buf_add(struct status_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static bool buf_reserve(struct status_buf *b, size_t more)
{
	if (b->failed)
		return false;
	if (cs_array_reserve(&b->data, 1, b->len, more, &b->alloc,
			     4096) < 0) {
		b->failed = true;
		return false;
	}
	return true;
}

static void buf_add(struct status_buf *b, const char *fmt, ...)
{
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(NULL, 0, fmt, args);
	va_end(args);
	if (len < 0 || !buf_reserve(b, (size_t)len + 1))
		return;
	va_start(args, fmt);
	(void)vsnprintf(b->data + b->len, b->alloc - b->len, fmt, args);
	va_end(args);
	b->len += (size_t)len;
}

/* " key=value" with the value escaped (see watch-status.h). */
static void buf_add_str(struct status_buf *b, const char *key,
			const char *value)
{
	const unsigned char *p;

	buf_add(b, " %s=", key);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '\\')
			buf_add(b, "\\x%02x", *p);
		else
			buf_add(b, "%c", *p);
	}
}

static void report_root(struct status_buf *b, const struct watch_root *root)
{
	static const struct watch_root_figures none;
	const struct watch_root_figures *f =
		root->figures != NULL ? root->figures : &none;
	const struct watch_box *box;
	unsigned int boxes = 0, watches = root->wd >= 0 ? 1 : 0;
	unsigned int unwatched = 0;

	for (box = root->boxes; box != NULL; box = box->next) {
		if (box->gone)
			continue;
		boxes++;
		watches += (box->wd_new >= 0) + (box->wd_cur >= 0) +
			(box->wd_folder >= 0);
		unwatched += box->unwatched ? 1 : 0;
	}
	buf_add(b, "root");
	buf_add_str(b, "path", root->path);
	buf_add(b, " state=%s mailboxes=%u watches=%u unwatched=%u "
		"lag_ms=%u events=%llu changes=%llu commits=%llu "
		"last_commit=%llu rescans=%u dir_reads=%llu errors=%u",
		f->failing ? "error" : "ok", boxes, watches, unwatched,
		f->lag_ms, (unsigned long long)f->events,
		(unsigned long long)f->changes,
		(unsigned long long)f->commits,
		(unsigned long long)f->last_commit_usec, f->rescans,
		(unsigned long long)(f->dir_reads + (root->index != NULL ?
			cs_index_dir_reads(root->index) : 0)),
		f->errors);
	if (f->last_error != NULL)
		buf_add_str(b, "last_error", f->last_error);
	buf_add(b, "\n");
}

static bool may_see(uid_t peer, uid_t owner)
{
	return peer == 0 || peer == geteuid() || peer == owner;
}

static void report_build(struct watch_daemon *d, uid_t peer,
			 struct status_buf *b)
{
	const struct watch_status *s = d->status;
	const struct status_given_up *g;
	const struct watch_root *root;
	unsigned int roots = 0, given_up = 0;

	for (root = d->roots; root != NULL; root = root->next) {
		if (root->started && !root->gone && !root->disabled &&
		    may_see(peer, root->figures != NULL ?
			    root->figures->owner : 0))
			roots++;
	}
	for (g = s->given_up; g != NULL; g = g->next)
		given_up += may_see(peer, g->owner) ? 1 : 0;
	buf_add(b, "daemon pid=%ld since=%llu roots=%u given_up=%u "
		"overflows=%u queued=%zu\n", (long)getpid(),
		(unsigned long long)s->since_usec, roots, given_up,
		s->overflows, d->reader != NULL ?
		watch_reader_queued(d->reader) : (size_t)0);
	for (root = d->roots; root != NULL; root = root->next) {
		if (root->started && !root->gone && !root->disabled &&
		    may_see(peer, root->figures != NULL ?
			    root->figures->owner : 0))
			report_root(b, root);
	}
	for (g = s->given_up; g != NULL; g = g->next) {
		if (!may_see(peer, g->owner))
			continue;
		buf_add(b, "root");
		buf_add_str(b, "path", g->path);
		buf_add(b, " state=given-up errors=%u", g->errors);
		buf_add_str(b, "last_error", g->reason);
		buf_add(b, "\n");
	}
	buf_add(b, "end\n");
}

/* --- the socket --- */

static void client_drop(struct status_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Write what the peer takes now; drop it when done or gone. */
static void client_send(struct status_client *c)
{
	ssize_t ret;

	while (c->sent < c->len) {
		ret = send(c->fd, c->buf + c->sent, c->len - c->sent,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
		if (ret < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			break;
		}
		c->sent += (size_t)ret;
	}
	client_drop(c);
}

static struct status_client *client_slot(struct watch_status *s)
{
	struct status_client *oldest = &s->clients[0];
	unsigned int i;

	for (i = 0; i < WATCH_STATUS_MAX_CLIENTS; i++) {
		if (s->clients[i].fd < 0)
			return &s->clients[i];
		if (s->clients[i].since_ms < oldest->since_ms)
			oldest = &s->clients[i];
	}
	client_drop(oldest);
	return oldest;
}

static void status_accept(struct watch_daemon *d)
{
	struct watch_status *s = d->status;
	struct status_buf b = { NULL, 0, 0, false };
	struct status_client *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		watch_log(d->log, WATCH_LOG_WARN, "status socket: "
			  "SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	report_build(d, cred.uid, &b);
	if (b.failed) {
		watch_log(d->log, WATCH_LOG_WARN, "status socket: out of "
			  "memory building the report");
		free(b.data);
		close(fd);
		return;
	}
	c = client_slot(s);
	c->fd = fd;
	c->buf = b.data;
	c->len = b.len;
	c->sent = 0;
	c->since_ms = watch_now_ms();
	client_send(c);
}

/* Is a daemon answering on path? */
static bool socket_answers(const struct sockaddr_un *addr)
{
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ret = connect(fd, (const struct sockaddr *)addr, sizeof(*addr));
	close(fd);
	return ret == 0;
}

static int status_listen(struct watch_daemon *d, const char *path)
{
	struct watch_status *s = d->status;
	struct sockaddr_un addr;
	int fd, ret;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		watch_log(d->log, WATCH_LOG_ERROR, "status socket %s: path "
			  "too long", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		watch_log(d->log, WATCH_LOG_ERROR, "status socket: %s",
			  strerror(errno));
		return -1;
	}
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	if (ret < 0 && errno == EADDRINUSE) {
		if (socket_answers(&addr)) {
			watch_log(d->log, WATCH_LOG_ERROR, "status socket %s: "
				  "another watch daemon answers there: no "
				  "status from this one", path);
			close(fd);
			return -1;
		}
		/* left behind by a daemon that was killed */
		(void)unlink(path);
		ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	}
	/* whoever connects is told only about the roots they own */
	if (ret < 0 || chmod(path, 0666) < 0 || listen(fd, 16) < 0) {
		watch_log(d->log, WATCH_LOG_ERROR, "status socket %s: %s",
			  path, strerror(errno));
		close(fd);
		return -1;
	}
	s->socket_path = strdup(path);
	s->listen_fd = fd;
	return 0;
}

int watch_status_init(struct watch_daemon *d, const char *socket_path)
{
	struct watch_status *s;
	unsigned int i;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		watch_log(d->log, WATCH_LOG_ERROR, "out of memory");
		return -1;
	}
	s->listen_fd = -1;
	s->since_usec = now_usec();
	for (i = 0; i < WATCH_STATUS_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	d->status = s;
	if (socket_path == NULL || *socket_path == '\0')
		return 0;
	return status_listen(d, socket_path);
}

void watch_status_deinit(struct watch_daemon *d)
{
	struct watch_status *s = d->status;
	struct status_given_up *g;
	unsigned int i;

	if (s == NULL)
		return;
	for (i = 0; i < WATCH_STATUS_MAX_CLIENTS; i++)
		client_drop(&s->clients[i]);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		(void)unlink(s->socket_path);
	}
	while ((g = s->given_up) != NULL) {
		s->given_up = g->next;
		free(g->path);
		free(g->reason);
		free(g);
	}
	free(s->socket_path);
	free(s);
	d->status = NULL;
}

unsigned int watch_status_pollfds(struct watch_daemon *d, struct pollfd *fds)
{
	struct watch_status *s = d->status;
	unsigned int i, n = 0;

	if (s == NULL || s->listen_fd < 0)
		return 0;
	fds[n].fd = s->listen_fd;
	fds[n++].events = POLLIN;
	for (i = 0; i < WATCH_STATUS_MAX_CLIENTS; i++) {
		if (s->clients[i].fd < 0)
			continue;
		fds[n].fd = s->clients[i].fd;
		fds[n++].events = POLLOUT;
	}
	return n;
}

void watch_status_handle(struct watch_daemon *d, const struct pollfd *fds,
			 unsigned int count)
{
	struct watch_status *s = d->status;
	unsigned int i, j;

	for (i = 0; i < count; i++) {
		if (fds[i].revents == 0)
			continue;
		if (fds[i].fd == s->listen_fd) {
			status_accept(d);
			continue;
		}
		for (j = 0; j < WATCH_STATUS_MAX_CLIENTS; j++) {
			if (s->clients[j].fd == fds[i].fd)
				client_send(&s->clients[j]);
		}
	}
}
