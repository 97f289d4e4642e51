/*
 * watch-events.c - raw inotify events -> per-message work items, cookie
 * pairing of MOVED_FROM/MOVED_TO, and committing a batch per root.
 *
 * Events are hints.  For each (mailbox, base name) touched in a batch the
 * item keeps the newest name the message was given and whether one of its
 * names went away; committing reconciles the item with the disk:
 *  - the newest name still exists: that is the message's state;
 *  - a name was removed and the recorded name is gone too: expunged
 *    (a message that lives on under another name got that name through
 *    a CREATE or MOVED_TO, which is either in this batch or already
 *    recorded);
 *  - anything else (an unpaired MOVED_FROM, a newest name that is gone
 *    again): the library looks the base name up in cur/ and new/.
 * A duplicate or late event therefore changes nothing, and a MOVED_FROM
 * resolved early costs a directory read, never a wrong answer.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-log.h"
#include "watch-status.h"
#include "watch-tree.h"

#define ITEM_HASH_SIZE 524288	/* power of two, > WATCH_BATCH_MAX_ITEMS */
/* the items array is kept between batches up to this many items */
#define ITEMS_KEEP 4096

struct watch_item {
	struct watch_box *box;
	int next_hash, next_root;
	uint32_t hash;
	uint8_t loc;		/* of name */
	bool has_name;		/* name: the newest name given to it */
	bool removed;		/* a name of it went away */
	bool uncertain;		/* settle from the directory */
	size_t base_len;
	/* with has_name the newest name given to the message, else one of
	   its names: either way its first base_len bytes are the base */
	char name[CS_NAME_MAX + 1];
};

struct watch_pending {
	bool alive;		/* false: paired or forgotten */
	uint32_t cookie;
	struct watch_root *root;
	struct watch_box *box;	/* NULL: a folder entry of root */
	uint8_t loc;
	uint64_t deadline;
	char name[CS_NAME_MAX + 1];
};

struct watch_events {
	struct watch_item *items;
	unsigned int count;
	size_t alloc;
	int buckets[ITEM_HASH_SIZE];
	/* a ring in arrival order: the oldest entry at pending_head */
	struct watch_pending *pending;
	unsigned int pending_head, pending_count, pending_max;
};

int watch_events_init(struct watch_daemon *d, struct cs_error *err)
{
	struct watch_events *ev;
	unsigned int i;

	ev = calloc(1, sizeof(*ev));
	if (ev != NULL) {
		ev->pending_max = d->set->max_pending;
		ev->pending = calloc(ev->pending_max, sizeof(*ev->pending));
	}
	if (ev == NULL || ev->pending == NULL) {
		free(ev);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	for (i = 0; i < ITEM_HASH_SIZE; i++)
		ev->buckets[i] = -1;
	d->ev = ev;
	return 0;
}

void watch_events_deinit(struct watch_daemon *d)
{
	if (d->ev == NULL)
		return;
	free(d->ev->items);
	free(d->ev->pending);
	free(d->ev);
	d->ev = NULL;
}

unsigned int watch_events_item_count(const struct watch_daemon *d)
{
	return d->ev->count;
}

/* --- work items --- */

/* Link item i into its hash chain and at the end of root's list. */
static void item_link(struct watch_events *ev, struct watch_root *root,
		      int i)
{
	struct watch_item *item = &ev->items[i];

	item->next_hash = ev->buckets[item->hash & (ITEM_HASH_SIZE - 1)];
	ev->buckets[item->hash & (ITEM_HASH_SIZE - 1)] = i;
	item->next_root = -1;
	if (root->last_item >= 0)
		ev->items[root->last_item].next_root = i;
	else
		root->first_item = i;
	root->last_item = i;
}

static uint32_t item_hash(const struct watch_box *box, const char *base,
			  size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)box >> 4);
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)base[i]) * 16777619u;
	return h;
}

/* The index of the item of the base name (base_len bytes of name) in box
   with hash, or -1. */
static int item_find(const struct watch_events *ev,
		     const struct watch_box *box, const char *name,
		     size_t base_len, uint32_t hash)
{
	const struct watch_item *item;
	int i;

	for (i = ev->buckets[hash & (ITEM_HASH_SIZE - 1)]; i >= 0;
	     i = ev->items[i].next_hash) {
		item = &ev->items[i];
		if (item->hash == hash && item->box == box &&
		    item->base_len == base_len &&
		    memcmp(item->name, name, base_len) == 0)
			return i;
	}
	return -1;
}

/* The item of the message named name (base name: its first base_len
   bytes) in box, created if needed; NULL when out of memory. */
static struct watch_item *item_get(struct watch_daemon *d,
				   struct watch_box *box, const char *name,
				   size_t base_len)
{
	struct watch_events *ev = d->ev;
	struct watch_root *root = box->root;
	uint32_t hash = item_hash(box, name, base_len);
	struct watch_item *item;
	int i;

	i = item_find(ev, box, name, base_len, hash);
	if (i >= 0)
		return &ev->items[i];
	/* items are linked by int indexes */
	if (ev->count >= INT_MAX ||
	    cs_array_grow(&ev->items, sizeof(*ev->items), ev->count,
			  &ev->alloc, 256) < 0)
		return NULL;
	i = (int)ev->count++;
	item = &ev->items[i];
	memset(item, 0, offsetof(struct watch_item, name));
	item->box = box;
	item->hash = hash;
	item->base_len = base_len;
	snprintf(item->name, sizeof(item->name), "%s", name);
	item_link(ev, root, i);
	return item;
}

/* Out of memory for an item: a scan of the mailbox covers it. */
static void item_lost(struct watch_box *box)
{
	box->need_scan = true;
}

static void item_added(struct watch_daemon *d, struct watch_box *box,
		       uint8_t loc, const char *name, size_t base_len)
{
	struct watch_item *item = item_get(d, box, name, base_len);

	if (item == NULL) {
		item_lost(box);
		return;
	}
	item->has_name = true;
	item->loc = loc;
	strcpy(item->name, name);
}

static void item_removed(struct watch_daemon *d, struct watch_box *box,
			 uint8_t loc, const char *name, size_t base_len)
{
	struct watch_item *item = item_get(d, box, name, base_len);

	if (item == NULL) {
		item_lost(box);
		return;
	}
	if (item->has_name && item->loc == loc &&
	    strcmp(item->name, name) == 0)
		item->has_name = false;
	item->removed = true;
}

static void item_settle_from_disk(struct watch_daemon *d,
				  struct watch_box *box, const char *name,
				  size_t base_len)
{
	struct watch_item *item = item_get(d, box, name, base_len);

	if (item == NULL) {
		item_lost(box);
		return;
	}
	item->uncertain = true;
}

/* Which roots keep their items: count them, and drop keep_items (their
   mailboxes are scanned instead) where the bounds are passed. */
static void keep_bounds(struct watch_daemon *d)
{
	struct watch_events *ev = d->ev;
	struct watch_root *root;
	unsigned int i, total = 0;

	for (root = d->roots; root != NULL; root = root->next)
		root->item_count = 0;
	for (i = 0; i < ev->count; i++)
		ev->items[i].box->root->item_count++;
	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->keep_items)
			continue;
		if (root->gone || root->disabled ||
		    root->item_count > WATCH_KEEP_ROOT_ITEMS ||
		    total + root->item_count > WATCH_KEEP_ITEMS) {
			watch_events_requeue_root(d, root);
			root->keep_items = false;
			continue;
		}
		total += root->item_count;
	}
}

void watch_events_clear(struct watch_daemon *d)
{
	struct watch_events *ev = d->ev;
	struct watch_root *root;
	struct watch_item *item;
	unsigned int i, kept = 0;

	keep_bounds(d);
	for (i = 0; i < ev->count; i++)
		ev->buckets[ev->items[i].hash & (ITEM_HASH_SIZE - 1)] = -1;
	for (root = d->roots; root != NULL; root = root->next)
		root->first_item = root->last_item = -1;
	for (i = 0; i < ev->count; i++) {
		item = &ev->items[i];
		root = item->box->root;
		if (!root->keep_items || item->box->gone)
			continue;
		if (kept != i)
			ev->items[kept] = *item;
		item_link(ev, root, (int)kept);
		kept++;
	}
	ev->count = kept;
	/* don't keep a large array after a burst */
	if (kept == 0 && ev->alloc > ITEMS_KEEP) {
		free(ev->items);
		ev->items = NULL;
		ev->alloc = 0;
	}
}

/* --- pending MOVED_FROMs --- */

static void pending_resolve(struct watch_daemon *d, struct watch_pending *p)
{
	size_t base_len;
	struct cs_name n;

	if (p->box == NULL) {
		p->root->need_folders = true;
		return;
	}
	if (cs_name_parse(p->name, d->set->separator, &n, NULL) < 0)
		return;
	base_len = n.base_len;
	item_settle_from_disk(d, p->box, p->name, base_len);
}

/* An entry popped alive: its wait is over. */
static void pending_settle(struct watch_daemon *d, struct watch_pending *p)
{
	if (p->box == NULL)
		p->root->pending_folder_moves--;
	pending_resolve(d, p);
}

static struct watch_pending *pending_at(struct watch_events *ev,
				       unsigned int i)
{
	return &ev->pending[(ev->pending_head + i) % ev->pending_max];
}

/* Remove the oldest entry into *p_r.  Returns false if it was dead. */
static bool pending_pop(struct watch_events *ev, struct watch_pending *p_r)
{
	*p_r = *pending_at(ev, 0);
	ev->pending_head = (ev->pending_head + 1) % ev->pending_max;
	ev->pending_count--;
	return p_r->alive;
}

static void pending_add(struct watch_daemon *d, uint32_t cookie,
			struct watch_root *root, struct watch_box *box,
			uint8_t loc, const char *name)
{
	struct watch_events *ev = d->ev;
	struct watch_pending *p, old;

	if (ev->pending_count == ev->pending_max) {
		/* full: settle the oldest now */
		if (pending_pop(ev, &old))
			pending_settle(d, &old);
	}
	p = pending_at(ev, ev->pending_count++);
	p->alive = true;
	p->cookie = cookie;
	p->root = root;
	p->box = box;
	p->loc = loc;
	p->deadline = watch_now_ms() + d->set->pair_wait_ms;
	snprintf(p->name, sizeof(p->name), "%s", name);
	if (box == NULL)
		root->pending_folder_moves++;
}

/* Mark the entry dead; the newest entry is dropped at once. */
static void pending_kill(struct watch_events *ev, unsigned int i)
{
	struct watch_pending *p = pending_at(ev, i);

	if (p->alive && p->box == NULL)
		p->root->pending_folder_moves--;
	p->alive = false;
	while (ev->pending_count > 0 &&
	       !pending_at(ev, ev->pending_count - 1)->alive)
		ev->pending_count--;
}

/* Take the pending MOVED_FROM with cookie into *p_r.  Returns true if
   there was one.  The partner of a MOVED_TO is nearly always the newest
   entry: search from there. */
static bool pending_take(struct watch_daemon *d, uint32_t cookie,
			 struct watch_pending *p_r)
{
	struct watch_events *ev = d->ev;
	struct watch_pending *p;
	unsigned int i;

	if (cookie == 0)
		return false;
	for (i = ev->pending_count; i > 0; i--) {
		p = pending_at(ev, i - 1);
		if (p->alive && p->cookie == cookie) {
			*p_r = *p;
			pending_kill(ev, i - 1);
			return true;
		}
	}
	return false;
}

uint64_t watch_events_expire(struct watch_daemon *d, bool force)
{
	struct watch_events *ev = d->ev;
	uint64_t now = watch_now_ms();
	struct watch_pending *first, p;

	while (ev->pending_count > 0) {
		first = pending_at(ev, 0);
		if (first->alive && !force && first->deadline > now)
			return first->deadline;
		if (pending_pop(ev, &p))
			pending_settle(d, &p);
	}
	return 0;
}

/* The source of a paired move left its place. */
static void pending_source_left(struct watch_daemon *d,
				const struct watch_pending *p)
{
	struct cs_name n;

	if (p->box == NULL) {
		p->root->need_folders = true;
		return;
	}
	if (cs_name_parse(p->name, d->set->separator, &n, NULL) == 0)
		item_removed(d, p->box, p->loc, p->name, n.base_len);
}

/* --- events --- */

static void message_event(struct watch_daemon *d, struct watch_box *box,
			  uint8_t loc, const struct inotify_event *event)
{
	struct watch_pending p;
	struct cs_name n;

	if ((event->mask & IN_ISDIR) != 0 ||
	    cs_name_parse(event->name, d->set->separator, &n, NULL) < 0)
		return;
	if ((event->mask & IN_MOVED_FROM) != 0) {
		pending_add(d, event->cookie, box->root, box, loc,
			    event->name);
	} else if ((event->mask & IN_MOVED_TO) != 0) {
		if (pending_take(d, event->cookie, &p) &&
		    (p.box != box || strncmp(p.name, event->name,
					     n.base_len) != 0 ||
		     (p.name[n.base_len] != '\0' &&
		      p.name[n.base_len] != d->set->separator)))
			pending_source_left(d, &p);
		item_added(d, box, loc, event->name, n.base_len);
	} else if ((event->mask & IN_CREATE) != 0) {
		item_added(d, box, loc, event->name, n.base_len);
	} else if ((event->mask & IN_DELETE) != 0) {
		item_removed(d, box, loc, event->name, n.base_len);
	}
}

static void root_folder_event(struct watch_daemon *d, struct watch_root *root,
			      const struct inotify_event *event,
			      const char *mailbox)
{
	char from_buf[CS_MAILBOX_NAME_MAX + 2];
	struct watch_pending p;
	const char *from;

	if ((event->mask & IN_MOVED_FROM) != 0) {
		if (mailbox != NULL)
			pending_add(d, event->cookie, root, NULL, 0,
				    event->name);
	} else if ((event->mask & IN_MOVED_TO) != 0) {
		if (pending_take(d, event->cookie, &p)) {
			from = p.box == NULL ?
				cs_mailbox_name_from_dirent(p.name, from_buf,
							    sizeof(from_buf)) :
				NULL;
			if (p.box != NULL)
				pending_source_left(d, &p);
			else if (p.root != root)
				p.root->need_folders = true;
			else if (from != NULL && mailbox != NULL) {
				watch_root_queue_rename(d, root, from,
							mailbox);
				return;
			}
		}
		if (mailbox != NULL)
			watch_root_folder_appeared(d, root, mailbox);
		root->need_folders = true;
	} else if ((event->mask & IN_CREATE) != 0) {
		if (mailbox != NULL)
			watch_root_folder_appeared(d, root, mailbox);
	} else if ((event->mask & IN_DELETE) != 0) {
		root->need_folders = true;
	}
}

static void root_event(struct watch_daemon *d, struct watch_root *root,
		       const struct inotify_event *event)
{
	char buf[CS_MAILBOX_NAME_MAX + 2];
	struct watch_pending p;

	if ((event->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
		root->need_full_scan = true;
		return;
	}
	if (event->len == 0 || event->name[0] == '\0')
		return;
	if ((event->mask & IN_ISDIR) != 0) {
		root_folder_event(d, root, event,
				  cs_mailbox_name_from_dirent(event->name, buf,
							      sizeof(buf)));
		return;
	}
	/* a file in the root: a sync cookie, or a message moved out of a
	   mailbox into the root itself */
	if ((event->mask & IN_MOVED_TO) != 0 &&
	    pending_take(d, event->cookie, &p))
		pending_source_left(d, &p);
	if ((event->mask & (IN_CREATE | IN_MOVED_TO)) != 0 &&
	    cs_sync_is_cookie(event->name)) {
		if (watch_root_add_cookie(root, event->name) < 0)
			root->need_full_scan = true;
		d->cookie_seen = true;
	}
}

static void ignored_event(struct watch_daemon *d,
			  const struct watch_target *t)
{
	struct watch_root *root = t->root;
	struct watch_box *box = t->box;

	switch (t->kind) {
	case WATCH_KIND_ROOT:
		root->wd = -1;
		root->need_full_scan = true;
		break;
	case WATCH_KIND_FOLDER:
		box->wd_folder = -1;
		root->need_folders = true;
		break;
	case WATCH_KIND_NEW:
		box->wd_new = -1;
		root->need_folders = true;
		box->need_setup = true;
		break;
	case WATCH_KIND_CUR:
		box->wd_cur = -1;
		root->need_folders = true;
		box->need_setup = true;
		break;
	}
	watch_inotify_forget(d->in, t->wd);
}

/* The reader's queue was full and events of the watches the overflow
   event names were dropped: rescan what those watches watch. */
static void lost_event(struct watch_daemon *d,
		       const struct inotify_event *event)
{
	const struct watch_target *t;
	unsigned int i, count = event->len / sizeof(int);
	int wd;

	for (i = 0; i < count; i++) {
		memcpy(&wd, event->name + i * sizeof(int), sizeof(wd));
		t = watch_inotify_lookup(d->in, wd);
		if (t == NULL || t->root->gone || t->root->disabled ||
		    (t->box != NULL && t->box->gone))
			continue;
		switch (t->kind) {
		case WATCH_KIND_ROOT:
			t->root->need_full_scan = true;
			break;
		case WATCH_KIND_FOLDER:
			t->box->need_setup = true;
			t->root->need_folders = true;
			break;
		case WATCH_KIND_NEW:
		case WATCH_KIND_CUR:
			t->box->need_scan = true;
			break;
		}
	}
	watch_log(d->log, WATCH_LOG_WARN, "the queue of events read ahead "
		  "was full (--max-queue): events of %u watched directories "
		  "dropped, rescanning them", count);
}

void watch_events_handle(struct watch_daemon *d,
			 const struct inotify_event *event)
{
	const struct watch_target *t;

	/* an overflow has no watch descriptor: check it first; the reader
	   names the watches whose events it dropped, the kernel none */
	if ((event->mask & IN_Q_OVERFLOW) != 0) {
		if (event->len > 0)
			lost_event(d, event);
		else
			d->overflow = true;
		return;
	}
	t = watch_inotify_lookup(d->in, event->wd);
	if (t == NULL || t->root->gone || t->root->disabled ||
	    (t->box != NULL && t->box->gone))
		return;
	watch_status_event(t->root);
	if ((event->mask & IN_IGNORED) != 0) {
		ignored_event(d, t);
		return;
	}
	switch (t->kind) {
	case WATCH_KIND_ROOT:
		root_event(d, t->root, event);
		break;
	case WATCH_KIND_FOLDER:
		if ((event->mask & IN_ISDIR) != 0 && event->len > 0 &&
		    (strcmp(event->name, "cur") == 0 ||
		     strcmp(event->name, "new") == 0))
			t->box->need_setup = true;
		break;
	case WATCH_KIND_NEW:
		message_event(d, t->box, CS_LOC_NEW, event);
		break;
	case WATCH_KIND_CUR:
		message_event(d, t->box, CS_LOC_CUR, event);
		break;
	}
}

unsigned int watch_events_pending_count(const struct watch_daemon *d)
{
	unsigned int i, count = 0;

	for (i = 0; i < d->ev->pending_count; i++)
		count += pending_at(d->ev, i)->alive ? 1 : 0;
	return count;
}

int watch_events_item_lookup(const struct watch_daemon *d,
			     const struct watch_box *box, const char *base,
			     struct watch_item_state *state_r)
{
	size_t len = strlen(base);
	const struct watch_item *item;
	int i;

	i = item_find(d->ev, box, base, len, item_hash(box, base, len));
	if (i < 0)
		return 0;
	item = &d->ev->items[i];
	state_r->name = item->name;
	state_r->loc = item->loc;
	state_r->has_name = item->has_name;
	state_r->removed = item->removed;
	state_r->uncertain = item->uncertain;
	return 1;
}

int watch_events_handle_buffer(struct watch_daemon *d, const void *buf,
			       size_t size, struct cs_error *err)
{
	const struct inotify_event *event;
	const char *p = buf, *end = p + size;

	while (p < end) {
		event = (const struct inotify_event *)(const void *)p;
		if ((size_t)(end - p) < sizeof(*event) ||
		    (size_t)(end - p) - sizeof(*event) < event->len)
			return cs_error_set(err, CS_ERR_INVALID, "an inotify "
					    "event runs past the end of its "
					    "buffer");
		watch_events_handle(d, event);
		p += sizeof(*event) + event->len;
	}
	return 0;
}

void watch_events_forget_box(struct watch_daemon *d,
			     const struct watch_box *box)
{
	struct watch_events *ev = d->ev;
	unsigned int i;

	for (i = ev->pending_count; i > 0; i--) {
		if (i <= ev->pending_count && pending_at(ev, i - 1)->box == box)
			pending_kill(ev, i - 1);
	}
	/* items of a gone box are skipped when committing */
}

void watch_events_forget_root(struct watch_daemon *d,
			      const struct watch_root *root)
{
	struct watch_events *ev = d->ev;
	unsigned int i;

	for (i = ev->pending_count; i > 0; i--) {
		if (i <= ev->pending_count &&
		    pending_at(ev, i - 1)->root == root)
			pending_kill(ev, i - 1);
	}
}

unsigned int watch_events_plan_root(struct watch_daemon *d,
				    struct watch_root *root)
{
	struct watch_item *item;
	unsigned int boxes = 0;
	int i;

	for (i = root->first_item; i >= 0; i = item->next_root) {
		item = &d->ev->items[i];
		if (item->uncertain)
			item->box->settle_count++;
	}
	for (i = root->first_item; i >= 0; i = item->next_root) {
		item = &d->ev->items[i];
		if (item->box->settle_count == 0)
			continue;
		if (item->box->settle_count >= WATCH_SETTLE_SCAN_MIN &&
		    !item->box->gone && !item->box->need_scan) {
			watch_log(d->log, WATCH_LOG_DEBUG, "%s: %s: %u unpaired "
				  "moves settled by one scan", root->path,
				  item->box->name, item->box->settle_count);
			item->box->need_scan = true;
			boxes++;
		}
		item->box->settle_count = 0;
	}
	return boxes;
}

void watch_events_requeue_root(struct watch_daemon *d,
			       struct watch_root *root)
{
	int i;

	for (i = root->first_item; i >= 0; i = d->ev->items[i].next_root) {
		if (!d->ev->items[i].box->gone)
			d->ev->items[i].box->need_scan = true;
	}
}

/* --- committing --- */

static const char *flags_str(uint64_t flags, char *buf)
{
	cs_flags_to_letters(flags, buf);
	if (buf[0] == '\0')
		strcpy(buf, "-");
	return buf;
}

static void item_log(struct watch_daemon *d, const struct watch_item *item,
		     bool had_old, const struct cs_message *old,
		     const struct cs_message *msg)
{
	char f1[CS_FLAGS_STR_SIZE + 1], f2[CS_FLAGS_STR_SIZE + 1];
	const struct cs_mailbox_rec *rec =
		cs_mailbox_get_rec(item->box->mbox);
	const char *box = item->box->name;
	int blen = (int)item->base_len;

	if (msg->rec.modseq == 0) {
		watch_log(d->log, WATCH_LOG_DEBUG, "%s: %.*s: expunged "
			  "(uid %u) modseq %llu", box, blen, item->name,
			  had_old ? old->rec.uid : 0,
			  (unsigned long long)rec->highestmodseq);
	} else if (!had_old) {
		watch_log(d->log, WATCH_LOG_DEBUG, "%s: %.*s: new, uid %u, "
			  "flags %s modseq %llu", box, blen, item->name,
			  msg->rec.uid, flags_str(msg->rec.flags, f1),
			  (unsigned long long)msg->rec.modseq);
	} else {
		watch_log(d->log, WATCH_LOG_DEBUG, "%s: %.*s: flags %s -> %s "
			  "modseq %llu", box, blen, item->name,
			  flags_str(old->rec.flags, f1),
			  flags_str(msg->rec.flags, f2),
			  (unsigned long long)msg->rec.modseq);
	}
}

/* Is there a file named name (+ suffix) in box's new/ or cur/ (loc)?
   Returns 1/0/-1; *regular_r (if not NULL) says if it is a regular file
   (not a symlink). */
static int file_exists(const struct watch_box *box, uint8_t loc,
		       const char *name, const char *suffix, bool *regular_r,
		       struct cs_error *err)
{
	char path[PATH_MAX];
	struct stat st;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s/%s%s", box->path,
			     loc == CS_LOC_NEW ? "new" : "cur", name,
			     suffix) >= sizeof(path))
		return 0;
	if (lstat(path, &st) == 0) {
		if (regular_r != NULL)
			*regular_r = S_ISREG(st.st_mode);
		return 1;
	}
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	return cs_error_sys(err, "lstat(%s)", path);
}

/* Is the recorded name of old still on disk?  Returns 1/0/-1. */
static int recorded_name_exists(const struct watch_box *box,
				const struct cs_message *old,
				struct cs_error *err)
{
	return file_exists(box, old->rec.location, old->base, old->suffix,
			   NULL, err);
}

/* The item's newest name is a regular file: that name is the message's
   state (the file name carries the flags).  Returns 1/0/-1 as
   cs_reconcile. */
static int item_reconcile_name(struct watch_daemon *d,
			       const struct watch_item *item,
			       struct cs_message *msg_r, struct cs_error *err)
{
	struct cs_disk_state disk = { .present = true, .uid = 0 };
	struct cs_name n;

	if (cs_name_parse(item->name, d->set->separator, &n, err) < 0)
		return -1;
	disk.location = item->loc;
	disk.suffix = n.suffix;
	disk.flags = n.flags;
	return cs_reconcile(item->box->mbox, item->name, item->base_len,
			    &disk, msg_r, err);
}

/* Reconcile one item (inside the root's transaction).  Returns 1 if a
   modseq was assigned, 0 if not, -1 on error. */
static int item_apply(struct watch_daemon *d, struct watch_item *item,
		      struct cs_error *err)
{
	struct cs_mailbox *mbox = item->box->mbox;
	struct cs_disk_state disk = { .present = false, .suffix = "" };
	struct cs_message old, msg;
	char base[CS_NAME_MAX + 1];
	bool regular = false;
	int had_old, ret;

	/* the old record is needed to settle removals, and for the log */
	had_old = !item->has_name || item->uncertain ||
		watch_log_debug_enabled(d->log) ?
		cs_message_lookup(mbox, item->name, item->base_len, &old,
				  err) : 0;
	if (had_old < 0)
		return -1;
	if (item->has_name && !item->uncertain) {
		ret = file_exists(item->box, item->loc, item->name, "",
				  &regular, err);
		if (ret < 0)
			return -1;
		if (ret == 0 && item->box->root->cookie_count == 0) {
			/* renamed or removed again since: that event is still
			   queued (or an overflow rescans everything), so leave
			   it to that event rather than read the directory */
			return 0;
		}
		/* a name in new/ may be a copy of a message in cur/: the
		   library's rule settles it */
		if (ret > 0 && regular && item->loc == CS_LOC_CUR)
			ret = item_reconcile_name(d, item, &msg, err);
		else {
			/* gone again, or not a regular file: the recorded
			   name, then the directory */
			ret = cs_maildir_reconcile_name(mbox, item->box->path,
							item->loc, item->name,
							&msg, err);
		}
	} else if (!item->uncertain) {
		/* only removals were seen */
		if (had_old == 0)
			return 0;
		ret = recorded_name_exists(item->box, &old, err);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
		/* the recorded name is gone too: expunged */
		ret = cs_reconcile(mbox, item->name, item->base_len, &disk,
				   &msg, err);
	} else {
		memcpy(base, item->name, item->base_len);
		base[item->base_len] = '\0';
		ret = cs_maildir_reconcile_one(mbox, item->box->path, base,
					       &msg, err);
	}
	if (ret > 0 && watch_log_debug_enabled(d->log))
		item_log(d, item, had_old > 0, &old, &msg);
	return ret;
}

static void root_mboxes_close(struct watch_daemon *d, struct watch_root *root)
{
	int i;

	for (i = root->first_item; i >= 0; i = d->ev->items[i].next_root)
		cs_mailbox_close(&d->ev->items[i].box->mbox);
}

int watch_events_commit_root(struct watch_daemon *d, struct watch_root *root,
			     struct cs_index *index, struct cs_error *err)
{
	struct watch_item *item;
	struct watch_box *box;
	uint64_t changes = 0;
	int i, ret;

	if (root->first_item < 0)
		return 0;
	if (cs_index_begin(index, err) < 0)
		return -1;
	for (i = root->first_item; i >= 0; i = item->next_root) {
		item = &d->ev->items[i];
		box = item->box;
		if (box->gone || box->scan_round == d->round ||
		    box->need_scan || box->need_setup)
			continue;
		if (box->mbox == NULL) {
			ret = cs_mailbox_open(index, box->name, false, 0, 0,
					      &box->mbox, err);
			if (ret < 0)
				goto fail;
			if (ret == 0) {
				/* not in the index (yet): scan it */
				box->need_scan = true;
				continue;
			}
		}
		ret = item_apply(d, item, err);
		if (ret < 0)
			goto fail;
		changes += (uint64_t)ret;
	}
	if (cs_index_commit(index, err) < 0)
		goto fail;
	root_mboxes_close(d, root);
	watch_status_committed(d, root, changes);
	if (changes > 0)
		root->changed = true;
	return 0;
fail:
	if (cs_index_in_transaction(index))
		cs_index_rollback(index);
	root_mboxes_close(d, root);
	return -1;
}
