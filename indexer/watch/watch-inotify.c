/*
 * watch-inotify.c - the daemon's inotify instance, its watches and the
 * table from watch descriptor to the root or mailbox directory watched.
 *
 * The table is open addressing keyed by wd (wds of one instance are small
 * integers that the kernel hands out cyclically), so a lookup per event is
 * a few instructions.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cs-file.h"
#include "watch-inotify.h"

#define WATCH_DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | \
			IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | \
			IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define SLOT_FREE (-1)
#define SLOT_DELETED (-2)

int watch_inotify_init(struct watch_inotify *in, unsigned int max_watches,
		       struct cs_error *err)
{
	memset(in, 0, sizeof(*in));
	in->max_watches = max_watches;
	in->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (in->fd >= 0)
		return 1;
	if (errno == EMFILE || errno == ENFILE) {
		cs_error_set(err, CS_ERR_LIMIT, "inotify instance limit "
			     "reached (%s): nothing is watched, every Maildir "
			     "is rescanned periodically instead; raise "
			     "/proc/sys/fs/inotify/max_user_instances "
			     "(sysctl fs.inotify.max_user_instances)",
			     strerror(errno));
		return 0;
	}
	return cs_error_sys(err, "inotify_init1");
}

void watch_inotify_deinit(struct watch_inotify *in)
{
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
	free(in->table);
	in->table = NULL;
	in->size = in->used = in->deleted = 0;
}

static size_t slot_of(const struct watch_inotify *in, int wd)
{
	return ((unsigned int)wd * 2654435761u) & (in->size - 1);
}

static int table_grow(struct watch_inotify *in)
{
	struct watch_target *old = in->table;
	size_t i, old_size = in->size, pos;

	in->size = old_size == 0 ? 256 : old_size * 2;
	in->table = malloc(in->size * sizeof(*in->table));
	if (in->table == NULL) {
		in->table = old;
		in->size = old_size;
		return -1;
	}
	for (i = 0; i < in->size; i++)
		in->table[i].wd = SLOT_FREE;
	in->used = in->deleted = 0;
	for (i = 0; i < old_size; i++) {
		if (old[i].wd < 0)
			continue;
		pos = slot_of(in, old[i].wd);
		while (in->table[pos].wd != SLOT_FREE)
			pos = (pos + 1) & (in->size - 1);
		in->table[pos] = old[i];
		in->used++;
	}
	free(old);
	return 0;
}

static struct watch_target *table_find(const struct watch_inotify *in, int wd)
{
	size_t pos;

	if (in->size == 0)
		return NULL;
	pos = slot_of(in, wd);
	while (in->table[pos].wd != SLOT_FREE) {
		if (in->table[pos].wd == wd)
			return &in->table[pos];
		pos = (pos + 1) & (in->size - 1);
	}
	return NULL;
}

static int table_insert(struct watch_inotify *in,
			const struct watch_target *t)
{
	struct watch_target *slot = table_find(in, t->wd);
	size_t pos;

	if (slot != NULL) {
		/* the kernel returns the same wd for a directory watched
		   twice: the newest owner wins */
		*slot = *t;
		return 0;
	}
	if ((in->used + in->deleted + 1) * 2 > in->size &&
	    table_grow(in) < 0)
		return -1;
	pos = slot_of(in, t->wd);
	while (in->table[pos].wd >= 0)
		pos = (pos + 1) & (in->size - 1);
	if (in->table[pos].wd == SLOT_DELETED)
		in->deleted--;
	in->table[pos] = *t;
	in->used++;
	return 0;
}

/* Watch the directory path of root.  A name can be swapped for a symlink
   between any look at it and inotify_add_watch(path) (IN_DONT_FOLLOW
   protects the last component only, at that instant): the directory is
   opened first without following anything below the root
   (cs_dir_open()), and the watch is added on that very object through
   /proc/self/fd/N, a link to the open file, not a name looked up again.
   What the watch reports is therefore always the directory that was
   opened.  Returns the wd, or -1 with errno set. */
static int watch_dir_add(int ifd, const char *root, const char *path)
{
	char proc[64];
	int fd, wd, saved;

	fd = cs_dir_open(root, path);
	if (fd < 0)
		return -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	wd = inotify_add_watch(ifd, proc, WATCH_DIR_MASK & ~IN_DONT_FOLLOW);
	saved = errno;
	close(fd);
	errno = saved;
	return wd;
}

int watch_inotify_add(struct watch_inotify *in, const char *path,
		      enum watch_kind kind, struct watch_root *root,
		      struct watch_box *box, int *wd_r, struct cs_error *err)
{
	struct watch_target t;
	int wd;

	*wd_r = -1;
	if (in->fd < 0 ||
	    (in->max_watches > 0 && in->count >= in->max_watches)) {
		in->limit_hit = true;
		return 0;
	}
	wd = watch_dir_add(in->fd, root->path, path);
	if (wd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return cs_dir_error(err, path);
		if (errno == ENOSPC) {
			in->limit_hit = true;
			return 0;
		}
		if (errno == ENOENT || errno == ENOTDIR)
			return cs_error_set(err, CS_ERR_NOTFOUND, "%s: no such "
					    "directory", path);
		return cs_error_sys(err, "inotify_add_watch(%s)", path);
	}
	t.wd = wd;
	t.kind = kind;
	t.root = root;
	t.box = box;
	if (table_find(in, wd) == NULL)
		in->count++;
	if (table_insert(in, &t) < 0) {
		inotify_rm_watch(in->fd, wd);
		in->count--;
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	*wd_r = wd;
	return 1;
}

void watch_inotify_forget(struct watch_inotify *in, int wd)
{
	struct watch_target *slot = table_find(in, wd);

	if (slot == NULL)
		return;
	slot->wd = SLOT_DELETED;
	in->used--;
	in->deleted++;
	in->count--;
}

void watch_inotify_rm(struct watch_inotify *in, int *wd)
{
	if (*wd < 0)
		return;
	if (table_find(in, *wd) != NULL) {
		(void)inotify_rm_watch(in->fd, *wd);
		watch_inotify_forget(in, *wd);
	}
	*wd = -1;
}

const struct watch_target *watch_inotify_lookup(const struct watch_inotify *in,
						int wd)
{
	return table_find(in, wd);
}

ssize_t watch_inotify_read(struct watch_inotify *in, void *buf, size_t size,
			   struct cs_error *err)
{
	ssize_t ret;

	if (in->fd < 0)
		return 0;
	do {
		ret = read(in->fd, buf, size);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		if (errno == EAGAIN)
			return 0;
		return cs_error_sys(err, "read(inotify)");
	}
	return ret;
}
