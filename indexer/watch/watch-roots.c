/*
 * watch-roots.c - the Maildir roots served by the watch daemon and their
 * mailboxes.
 *
 * Order matters: a mailbox is watched first and scanned second, so that
 * nothing that happens between the two is lost.  A root's index is open
 * only while the root has work, within a small LRU (max_open), so one
 * daemon can serve every user of a host with a bounded number of file
 * descriptors.  Mailboxes that could not be watched (the kernel's watch
 * limit) are rescanned periodically and before a sync cookie is answered.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-owner.h"
#include "watch-events.h"
#include "watch-inotify.h"
#include "watch-lockwait.h"
#include "watch-log.h"
#include "watch-roots.h"
#include "watch-status.h"
#include "watch-state.h"
#include "watch-tree.h"

/* Write a SEP b into buf.  Returns false if it does not fit. */
static bool path_cat(char *buf, size_t size, const char *a, const char *sep,
		     const char *b)
{
	return (size_t)snprintf(buf, size, "%s%s%s", a, sep, b) < size;
}

static void root_watch(struct watch_daemon *d, struct watch_root *root);
static void root_stop(struct watch_daemon *d, struct watch_root *root);

/* (watch-roots.h) Only roots named with --maildir are resolved through
   a symlink. */
bool watch_root_enter(struct watch_daemon *d, struct watch_root *root,
		      struct cs_owner *owner)
{
	struct cs_error err;
	struct stat st;

	if (root->from_glob && lstat(root->path, &st) == 0 &&
	    S_ISLNK(st.st_mode)) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: became a symlink: not "
			  "followed, no longer served", root->path);
		root->disabled = true;
		return false;
	}
	if (cs_owner_enter(root->path, owner, &err) < 0) {
		/* a root that is gone: the caller finds it gone (and gives
		   it up), nothing of it is there to touch */
		if (err.sys_errno == ENOENT)
			return true;
		watch_log(d->log, WATCH_LOG_ERROR, "%s: %s", root->path,
			  err.text);
		return false;
	}
	return true;
}

void watch_root_leave(struct cs_owner *owner)
{
	cs_owner_leave(owner);
}

/* --- boxes --- */

static void box_unwatch(struct watch_daemon *d, struct watch_box *box)
{
	watch_inotify_rm(d->in, &box->wd_new);
	watch_inotify_rm(d->in, &box->wd_cur);
	watch_inotify_rm(d->in, &box->wd_folder);
}

static void box_retire(struct watch_daemon *d, struct watch_box *box)
{
	box_unwatch(d, box);
	watch_events_forget_box(d, box);
	box->gone = true;
}

/* Stop watching root and everything in it; freed by watch_roots_reap. */
static void root_drop(struct watch_daemon *d, struct watch_root *root)
{
	struct watch_box *box;

	for (box = root->boxes; box != NULL; box = box->next)
		box_retire(d, box);
	watch_inotify_rm(d->in, &root->wd);
	watch_events_forget_root(d, root);
	root->gone = true;
}

static bool dir_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Watch new/ or cur/ of box.  Returns 1 watched, 0 not (missing or the
   limit: see box->unwatched), -1 error. */
static int box_watch_dir(struct watch_daemon *d, struct watch_box *box,
			 enum watch_kind kind, int *wd)
{
	char path[PATH_MAX];
	struct cs_error err;
	int ret;

	if (*wd >= 0)
		return 1;
	if (!path_cat(path, sizeof(path), box->path, "/",
		      kind == WATCH_KIND_NEW ? "new" : "cur") ||
	    !dir_exists(path))
		return 0;
	ret = watch_inotify_add(d->in, path, kind, box->root, box, wd, &err);
	if (ret == 0)
		box->unwatched = true;
	if (ret < 0 && err.code != CS_ERR_NOTFOUND) {
		watch_log(d->log, WATCH_LOG_ERROR, "%s", err.text);
		box->unwatched = true;
	}
	return ret;
}

/* Add the watches box needs; once new/ and cur/ exist it is scanned. */
static void box_setup(struct watch_daemon *d, struct watch_box *box)
{
	char path[PATH_MAX];
	bool complete;
	struct cs_error err;

	box->need_setup = false;
	box->unwatched = false;
	box_watch_dir(d, box, WATCH_KIND_NEW, &box->wd_new);
	box_watch_dir(d, box, WATCH_KIND_CUR, &box->wd_cur);
	complete = path_cat(path, sizeof(path), box->path, "/", "new") &&
		dir_exists(path) &&
		path_cat(path, sizeof(path), box->path, "/", "cur") &&
		dir_exists(path);
	if (complete) {
		watch_inotify_rm(d->in, &box->wd_folder);
		box->need_scan = true;
	} else if (box->wd_folder < 0 && strcmp(box->name, "INBOX") != 0 &&
		   watch_inotify_add(d->in, box->path, WATCH_KIND_FOLDER,
				     box->root, box, &box->wd_folder,
				     &err) == 0) {
		/* no watch for the folder itself: the folder list is looked
		   at again by the periodic rescan */
		box->unwatched = true;
	}
}

static void scan_warn(void *ctx, const char *text)
{
	struct watch_daemon *d = ctx;

	watch_log(d->log, WATCH_LOG_WARN, "%s", text);
}

/* Scan box.  Returns 0, or -1 with err (the scan stays due: the root
   is retried). */
static int box_scan(struct watch_daemon *d, struct watch_box *box,
		    struct cs_error *err)
{
	struct cs_scan_settings set = { .warn = scan_warn, .warn_ctx = d };
	struct cs_scan_stats stats;
	struct cs_index *index;

	box->need_scan = false;
	box->scan_round = d->round;
	memset(&stats, 0, sizeof(stats));
	if (watch_root_index(d, box->root, &index, err) < 0 ||
	    cs_index_probe(index, err) < 0 ||
	    cs_maildir_scan(index, box->name, &set, &stats, err) < 0) {
		if (err->code == CS_ERR_SYMLINK) {
			/* a folder whose new/ or cur/ is a symlink is not
			   part of the Maildir: nothing of it is recorded, so
			   nothing waits on it (its sync cookies included);
			   it is looked at again with the periodic rescans */
			if (!box->symlinked)
				watch_log(d->log, WATCH_LOG_WARN, "%s: %s: not "
					  "served until it is a directory "
					  "again: %s", box->root->path,
					  box->name, err->text);
			box->symlinked = true;
			box->unwatched = true;
			return 0;
		}
		box->need_scan = true;
		if (err->code != CS_ERR_BUSY)
			watch_log(d->log, WATCH_LOG_ERROR, "%s: %s: scan "
				  "failed: %s", box->root->path, box->name,
				  err->text);
		return -1;
	}
	if (box->symlinked)
		watch_log(d->log, WATCH_LOG_INFO, "%s: %s: served again",
			  box->root->path, box->name);
	box->symlinked = false;
	/* expunges a rename storm kept from being confirmed: look again
	   before the next sync is answered and with the periodic rescans */
	box->deferred = stats.deferred > 0;
	d->boxes_scanned++;
	d->stats.files += stats.files;
	d->stats.arrived += stats.arrived;
	d->stats.changed += stats.changed;
	d->stats.expunged += stats.expunged;
	d->stats.updated += stats.updated;
	d->stats.skipped += stats.skipped;
	watch_status_scanned(box->root, stats.arrived + stats.changed +
			     stats.expunged);
	if (stats.arrived + stats.changed + stats.expunged > 0) {
		box->root->changed = true;
		watch_log(d->log, WATCH_LOG_DEBUG, "%s: %s: scanned %llu files: "
			  "%llu new, %llu changed, %llu expunged",
			  box->root->path, box->name,
			  (unsigned long long)stats.files,
			  (unsigned long long)stats.arrived,
			  (unsigned long long)stats.changed,
			  (unsigned long long)stats.expunged);
	}
	return 0;
}

/* --- the index of a root --- */

static void root_close_index(struct watch_daemon *d, struct watch_root *root)
{
	if (root->index == NULL)
		return;
	watch_status_index_closing(root);
	cs_index_close(&root->index);
	d->open_count--;
}

static void root_index_settings(const struct watch_daemon *d,
				const struct watch_root *root,
				struct cs_index_settings *set_r)
{
	memset(set_r, 0, sizeof(*set_r));
	set_r->root = root->path;
	set_r->db_path = d->set->db;
	set_r->separator = d->set->separator;
	set_r->nosync = d->set->nosync;
	/* one user's lock must not stop the others' service */
	set_r->nonblock = true;
	set_r->lock_interrupt = watch_lockwait_flag();
}

int watch_root_index(struct watch_daemon *d, struct watch_root *root,
		     struct cs_index **index_r, struct cs_error *err)
{
	struct cs_index_settings set;
	struct watch_root *r, *lru;

	if (root->index == NULL) {
		while (d->open_count >= d->set->max_open) {
			lru = NULL;
			for (r = d->roots; r != NULL; r = r->next) {
				if (r->index != NULL &&
				    (lru == NULL || r->used < lru->used))
					lru = r;
			}
			if (lru == NULL)
				break;
			root_close_index(d, lru);
		}
		root_index_settings(d, root, &set);
		if (cs_index_open(&set, &root->index, err) < 0)
			return -1;
		if (cs_index_converted(root->index))
			watch_log(d->log, WATCH_LOG_INFO, "%s: index converted "
				  "to layout 2, every UID and modseq kept",
				  cs_index_db_path(root->index));
		d->open_count++;
	}
	root->used = ++d->lru_clock;
	*index_r = root->index;
	return 0;
}

/* --- starting and stopping a root --- */

static int root_start(struct watch_daemon *d, struct watch_root *root,
		      struct cs_error *busy_r)
{
	struct watch_state state;
	struct watch_box *box;
	struct cs_index *index;
	struct cs_error err;
	char path[PATH_MAX];
	int unclean = 0;

	if (!watch_state_path(root->path, d->set->db, path, sizeof(path))) {
		watch_log(d->log, WATCH_LOG_ERROR, "%s: path too long: not "
			  "served", root->path);
		watch_status_give_up(d, root, "path too long");
		goto fail;
	}
	unclean = watch_state_read(path, &state);
	if (watch_root_index(d, root, &index, &err) < 0 ||
	    cs_daemon_register(index, &err) < 0) {
		struct cs_daemon_rec other;
		int live = 0;

		if (err.code == CS_ERR_BUSY && root->index != NULL)
			live = cs_daemon_lookup(root->index, &other, NULL);
		if (err.code == CS_ERR_BUSY && live <= 0) {
			/* a lock, not another daemon (or the daemon record
			   itself could not be read past the lock): the owner
			   can't make the root go unserved; tried again */
			*busy_r = err;
			return -1;
		}
		if (err.code == CS_ERR_BUSY && live > 0) {
			/* the lock was the other daemon's, in a commit */
			cs_error_set(&err, CS_ERR_BUSY, "%s: already served "
				     "by the watch daemon with pid %u",
				     root->path, other.pid);
		}
		watch_log(d->log, WATCH_LOG_ERROR, "%s: not served: %s",
			  root->path, err.text);
		watch_status_give_up(d, root, err.text);
		goto fail;
	}
	if (unclean > 0)
		watch_log(d->log, WATCH_LOG_WARN, "%s: the previous watch "
			  "daemon (pid %ld) did not stop cleanly: full "
			  "reconcile", root->path, state.pid);
	if (watch_state_write(path, &err) < 0)
		watch_log(d->log, WATCH_LOG_WARN, "%s: %s", root->path,
			  err.text);
	root->started = true;
	root->need_full_scan = true;
	/* (creates the announcement file the plugin's IDLE sessions watch) */
	root->changed = true;
	watch_status_started(d, root);
	return 0;
fail:
	/* its events and cookies are another daemon's business */
	for (box = root->boxes; box != NULL; box = box->next)
		box_unwatch(d, box);
	watch_inotify_rm(d->in, &root->wd);
	watch_events_forget_root(d, root);
	root_close_index(d, root);
	root->disabled = true;
	return -1;
}

void watch_roots_start_all(struct watch_daemon *d)
{
	struct watch_root *root;
	struct cs_owner owner;
	struct cs_error busy;

	for (root = d->roots; root != NULL; root = root->next) {
		/* a root whose index is locked is started by its first
		   round, with the retries of a busy root */
		cs_error_clear(&busy);
		if (!root->started && !root->gone && !root->disabled &&
		    watch_root_enter(d, root, &owner)) {
			(void)root_start(d, root, &busy);
			watch_root_leave(&owner);
		}
	}
}

static void root_stop_as_owner(struct watch_daemon *d,
			       struct watch_root *root)
{
	struct cs_index *index;
	struct cs_error err;
	char path[PATH_MAX];

	root->started = false;
	if (watch_root_index(d, root, &index, &err) < 0 ||
	    cs_daemon_unregister(index, &err) < 0) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: %s", root->path,
			  err.text);
		return;
	}
	if (watch_state_path(root->path, d->set->db, path, sizeof(path)) &&
	    unlink(path) < 0 && errno != ENOENT)
		watch_log(d->log, WATCH_LOG_WARN, "unlink(%s): %s", path,
			  strerror(errno));
}

static void root_stop(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_owner owner;

	if (!root->started)
		return;
	if (!watch_root_enter(d, root, &owner)) {
		root->started = false;
		return;
	}
	root_stop_as_owner(d, root);
	watch_root_leave(&owner);
}

/* --- folders --- */

/* Apply one folder rename to the index and to our mailbox. */
static void root_apply_rename(struct watch_daemon *d, struct watch_root *root,
			      const struct watch_rename *r)
{
	struct watch_box *box = watch_box_find(root, r->from);
	struct cs_index *index;
	struct cs_error err;

	if (box == NULL || watch_box_find(root, r->to) != NULL)
		return;	/* the folder sync below sorts it out */
	if (watch_root_index(d, root, &index, &err) < 0 ||
	    cs_index_begin(index, &err) < 0)
		goto fail;
	if (cs_mailbox_rename(index, r->from, r->to, &err) < 0 ||
	    cs_index_commit(index, &err) < 0) {
		if (cs_index_in_transaction(index))
			cs_index_rollback(index);
		goto fail;
	}
	if (watch_box_set_name(box, r->to, &err) < 0)
		goto fail;
	watch_log(d->log, WATCH_LOG_INFO, "%s: folder %s renamed to %s",
		  root->path, r->from, r->to);
	return;
fail:
	watch_log(d->log, WATCH_LOG_WARN, "%s: rename of %s to %s: %s; "
		  "rescanning", root->path, r->from, r->to, err.text);
	box_retire(d, box);
}

static void root_apply_renames(struct watch_daemon *d, struct watch_root *root)
{
	struct watch_rename *r;

	while ((r = root->renames) != NULL) {
		root->renames = r->next;
		root_apply_rename(d, root, r);
		free(r->from);
		free(r->to);
		free(r);
	}
}

struct list_ctx {
	struct watch_daemon *d;
	struct watch_root *root;
};

static int list_cb(void *ctx, const char *name, const char *path)
{
	struct list_ctx *lc = ctx;
	struct watch_box *box;

	(void)path;
	box = watch_box_find(lc->root, name);
	if (box == NULL)
		box = watch_box_add(lc->d, lc->root, name);
	if (box != NULL)
		box->listed = true;
	return 0;
}

static bool stale_on_disk(void *ctx, const char *name)
{
	const struct list_ctx *lc = ctx;

	return watch_box_find(lc->root, name) != NULL;
}

static void stale_retired(void *ctx, const char *name)
{
	const struct list_ctx *lc = ctx;

	watch_log(lc->d->log, WATCH_LOG_INFO, "%s: folder %s is gone: "
		  "removed from the index", lc->root->path, name);
}

/* Delete index mailboxes whose folder is gone (names of no live box). */
static int root_delete_stale_mailboxes(struct watch_daemon *d,
				       struct watch_root *root,
				       struct cs_error *err)
{
	struct list_ctx lc = { d, root };
	struct cs_index *index;

	if (watch_root_index(d, root, &index, err) < 0 ||
	    cs_mailboxes_retire(index, stale_on_disk, stale_retired, &lc,
				err) < 0)
		return -1;
	return 0;
}

/* Make our mailboxes match the folders on disk; with scan_all scan every
   mailbox too (startup, overflow, SIGHUP). */
static int root_sync_folders(struct watch_daemon *d, struct watch_root *root,
			     bool scan_all)
{
	struct list_ctx lc = { d, root };
	struct watch_box *box;
	struct cs_error err;

	if (!dir_exists(root->path)) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: Maildir is gone: no "
			  "longer served", root->path);
		watch_status_give_up(d, root, "Maildir is gone");
		root_drop(d, root);
		return -1;
	}
	root_watch(d, root);
	root->need_folders = false;
	root_apply_renames(d, root);

	for (box = root->boxes; box != NULL; box = box->next)
		box->listed = false;
	if (cs_maildir_list(root->path, list_cb, &lc, watch_log_warn_cb,
			    d->log, &err) < 0) {
		watch_log(d->log, WATCH_LOG_ERROR, "%s: %s", root->path,
			  err.text);
		watch_status_error(d, root, err.text);
		return -1;
	}
	for (box = root->boxes; box != NULL; box = box->next) {
		if (box->gone)
			continue;
		if (box->listed) {
			if (scan_all)
				box->need_setup = true;
		} else if (!dir_exists(box->path)) {
			/* deleted (or moved away) */
			box_retire(d, box);
			continue;
		}
		/* else: a folder still being created (no cur/ yet) */
		if (box->need_setup)
			box_setup(d, box);
	}
	if (root_delete_stale_mailboxes(d, root, &err) < 0)
		watch_log(d->log, WATCH_LOG_ERROR, "%s: %s", root->path,
			  err.text);
	return 0;
}

/* Collect the sync cookies present in the root. */
static void root_find_cookies(struct watch_daemon *d, struct watch_root *root)
{
	struct dirent *de;
	DIR *dir;

	dir = opendir(root->path);
	if (dir == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (cs_sync_is_cookie(de->d_name) &&
		    watch_root_add_cookie(root, de->d_name) == 0)
			d->cookie_seen = true;
	}
	closedir(dir);
}

static void root_ack_cookies(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_error err;
	unsigned int i;

	for (i = 0; i < root->cookie_count; i++) {
		if (cs_sync_ack(root->path, root->cookies[i], &err) < 0)
			watch_log(d->log, WATCH_LOG_WARN, "%s", err.text);
		free(root->cookies[i]);
	}
	root->cookie_count = 0;
}

bool watch_root_has_unwatched(const struct watch_root *root)
{
	const struct watch_box *box;

	if (root->wd < 0)
		return true;
	for (box = root->boxes; box != NULL; box = box->next) {
		if (!box->gone && (box->unwatched || box->deferred))
			return true;
	}
	return false;
}

/* The root's round failed (err): nothing waits on it, its sync cookies
   stay unanswered, and it is tried again after a delay that doubles up to
   WATCH_RETRY_MAX_MS while the other roots are served; the first delay
   is short for a lock (WATCH_BUSY_RETRY_MIN_MS, see watch.h). */
static void root_defer(struct watch_daemon *d, struct watch_root *root,
		       const struct cs_error *err)
{
	unsigned int first = err->code == CS_ERR_BUSY ?
		WATCH_BUSY_RETRY_MIN_MS : WATCH_RETRY_MIN_MS;

	/* on a lock, the batch's items wait for the retry; else the retry
	   scans their mailboxes */
	if (err->code == CS_ERR_BUSY) {
		root->keep_items = true;
	} else {
		watch_events_requeue_root(d, root);
		root->keep_items = false;
	}
	root->retry_delay_ms = root->retry_delay_ms == 0 ? first :
		root->retry_delay_ms >= WATCH_RETRY_MAX_MS / 2 ?
		WATCH_RETRY_MAX_MS : root->retry_delay_ms * 2;
	root->retry_ms = watch_now_ms() + root->retry_delay_ms;
	if (err->code != CS_ERR_BUSY) {
		watch_status_error(d, root, err->text);
		watch_log(d->log, WATCH_LOG_ERROR, "%s: %s; its changes and "
			  "sync requests wait: retrying in %u ms", root->path,
			  err->text, root->retry_delay_ms);
	} else if (!root->busy_logged &&
		   root->retry_delay_ms >= WATCH_RETRY_MIN_MS) {
		/* told once the lock has been found at every try for a
		   while (from 2 ms to 128 ms: about a quarter of a second),
		   not for each short commit of a Dovecot session */
		root->busy_logged = true;
		watch_log(d->log, WATCH_LOG_WARN, "%s: %s; its changes and sync "
			  "requests wait, the other Maildirs are served: "
			  "retrying every %u ms at most", root->path, err->text,
			  WATCH_RETRY_MAX_MS);
	}
}

static void root_served(struct watch_daemon *d, struct watch_root *root)
{
	root->keep_items = false;
	watch_status_ok(d, root);
	if (root->retry_delay_ms == 0)
		return;
	if (root->busy_logged)
		watch_log(d->log, WATCH_LOG_INFO, "%s: index no longer locked: "
			  "served again", root->path);
	root->retry_delay_ms = 0;
	root->retry_ms = 0;
	root->busy_logged = false;
}

bool watch_root_waiting(const struct watch_root *root, uint64_t now)
{
	return root->retry_delay_ms != 0 && now < root->retry_ms;
}

/* Returns the number of mailboxes scanned, or -1 with err. */
static int root_rescan_unwatched(struct watch_daemon *d,
				 struct watch_root *root, struct cs_error *err)
{
	struct watch_box *box;
	int count = 0;

	if (root->wd < 0 && root_sync_folders(d, root, false) < 0)
		return 0;
	for (box = root->boxes; box != NULL; box = box->next) {
		if (box->gone || !(box->unwatched || box->deferred))
			continue;
		/* the limit may have been raised: try watching again */
		if (box->unwatched)
			box_setup(d, box);
		if (!box->need_scan && !box->deferred)
			continue;
		if (box_scan(d, box, err) < 0)
			return -1;
		count++;
	}
	return count;
}

unsigned int watch_root_rescan_unwatched(struct watch_daemon *d,
					 struct watch_root *root)
{
	struct cs_owner owner;
	struct cs_error err;
	int ret;

	if (root->disabled || root->gone || !root->started ||
	    watch_root_waiting(root, watch_now_ms()) ||
	    !watch_root_enter(d, root, &owner))
		return 0;
	watch_lockwait_arm(WATCH_LOCK_WAIT_MS);
	ret = root_rescan_unwatched(d, root, &err);
	watch_lockwait_disarm();
	watch_root_leave(&owner);
	if (ret < 0) {
		root_defer(d, root, &err);
		return 0;
	}
	return (unsigned int)ret;
}

void watch_roots_poll_cookies(struct watch_daemon *d)
{
	struct watch_root *root;
	struct cs_owner owner;

	for (root = d->roots; root != NULL; root = root->next) {
		if (root->wd < 0 && root->started && !root->gone &&
		    !root->disabled && watch_root_enter(d, root, &owner)) {
			root_find_cookies(d, root);
			watch_root_leave(&owner);
		}
	}
}

/* Answer the root's waiting sync cookies: everything before them is
   committed (unwatched mailboxes are rescanned first).  Returns 0, or -1
   with err (then nothing is answered). */
static int root_answer_cookies(struct watch_daemon *d,
			       struct watch_root *root, struct cs_error *err)
{
	if (root->cookie_count == 0)
		return 0;
	if (watch_root_has_unwatched(root) &&
	    root_rescan_unwatched(d, root, err) < 0)
		return -1;
	root_ack_cookies(d, root);
	return 0;
}

/* Commit the batch's items of root.  Returns 0 or -1 with err. */
static int root_commit_events(struct watch_daemon *d, struct watch_root *root,
			      struct cs_error *err)
{
	struct cs_index *index;

	if (root->first_item < 0)
		return 0;
	if (watch_root_index(d, root, &index, err) < 0)
		return -1;
	return watch_events_commit_root(d, root, index, err);
}

/* Tell the processes waiting for changes (the plugin's IDLE sessions)
   that this round recorded some: they look now, not at their next
   timer.  A failure costs them only that delay (logged in debug). */
static void root_announce(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_error err;

	if (!root->changed || root->index == NULL)
		return;
	root->changed = false;
	if (cs_sync_announce(root->index, &err) < 0)
		watch_log(d->log, WATCH_LOG_DEBUG, "%s: announcing the "
			  "commit: %s", root->path, err.text);
}

/* One round of the root's work.  Returns 0, or -1 with err: then nothing
   after the failure is done, and no sync cookie is answered. */
static int root_round(struct watch_daemon *d, struct watch_root *root,
		      struct cs_error *err)
{
	struct watch_box *box;
	struct cs_index *index;
	struct cs_error box_err;
	bool failed = false;

	err->code = CS_OK;
	if (!root->started && root_start(d, root, err) < 0)
		return err->code == CS_OK ? 0 : -1;
	/* a lock someone holds is found here, before anything waits */
	if (watch_root_index(d, root, &index, err) < 0 ||
	    cs_index_probe(index, err) < 0)
		return -1;
	if (root->need_full_scan) {
		root->need_full_scan = false;
		watch_status_rescan(root);
		if (root_sync_folders(d, root, true) < 0)
			return 0;
		root_find_cookies(d, root);
	} else if (root->need_folders && root->pending_folder_moves == 0) {
		if (root_sync_folders(d, root, false) < 0)
			return 0;
	}
	(void)watch_events_plan_root(d, root);
	for (box = root->boxes; box != NULL; box = box->next) {
		if (box->gone)
			continue;
		if (box->need_setup)
			box_setup(d, box);
		if (!box->need_scan || box_scan(d, box, &box_err) == 0)
			continue;
		/* a lock: the others wait too; else the other mailboxes go
		   on, and the root is retried */
		*err = box_err;
		if (err->code == CS_ERR_BUSY)
			return -1;
		failed = true;
	}
	if (root_commit_events(d, root, failed ? &box_err : err) < 0) {
		root_announce(d, root);
		if (failed)
			return -1;
		if (err->code != CS_ERR_BUSY)
			root->need_full_scan = true;
		return -1;
	}
	root_announce(d, root);
	if (failed)
		return -1;
	if (d->hold_cookies) {
		root->cookies_due = true;
		return 0;
	}
	return root_answer_cookies(d, root, err);
}

void watch_root_process(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_owner owner;
	struct cs_error err;
	int ret;

	if (root->gone || root->disabled)
		return;
	if (watch_root_waiting(root, watch_now_ms())) {
		/* the batch's items are kept for the retry (a lock), or done
		   by its scans */
		if (!root->keep_items)
			watch_events_requeue_root(d, root);
		return;
	}
	if (!watch_root_enter(d, root, &owner))
		return;
	watch_lockwait_arm(WATCH_LOCK_WAIT_MS);
	ret = root_round(d, root, &err);
	watch_lockwait_disarm();
	watch_root_leave(&owner);
	if (ret < 0)
		root_defer(d, root, &err);
	else if (!root->gone && !root->disabled)
		root_served(d, root);
}

void watch_roots_answer_cookies(struct watch_daemon *d)
{
	struct watch_root *root;
	struct cs_owner owner;
	struct cs_error err;
	int ret;

	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->cookies_due || !watch_root_enter(d, root, &owner))
			continue;
		root->cookies_due = false;
		watch_lockwait_arm(WATCH_LOCK_WAIT_MS);
		ret = root_answer_cookies(d, root, &err);
		watch_lockwait_disarm();
		watch_root_leave(&owner);
		if (ret < 0)
			root_defer(d, root, &err);
	}
}

uint64_t watch_roots_next_retry(const struct watch_daemon *d)
{
	const struct watch_root *root;
	uint64_t next = 0;

	for (root = d->roots; root != NULL; root = root->next) {
		if (root->gone || root->disabled || root->retry_delay_ms == 0)
			continue;
		if (next == 0 || root->retry_ms < next)
			next = root->retry_ms;
	}
	return next;
}

size_t watch_roots_txn_scratch(const struct watch_daemon *d)
{
	const struct watch_root *root;
	size_t size, max = 0;

	for (root = d->roots; root != NULL; root = root->next) {
		if (root->index == NULL)
			continue;
		size = cs_index_txn_scratch(root->index);
		if (size > max)
			max = size;
	}
	return max;
}

/* --- the set of roots --- */

static void root_watch(struct watch_daemon *d, struct watch_root *root)
{
	struct cs_owner owner;
	struct cs_error err;

	if (root->wd >= 0 || !watch_root_enter(d, root, &owner))
		return;
	if (watch_inotify_add(d->in, root->path, WATCH_KIND_ROOT, root, NULL,
			      &root->wd, &err) < 0)
		watch_log(d->log, WATCH_LOG_ERROR, "%s", err.text);
	watch_root_leave(&owner);
}

void watch_roots_watch_all(struct watch_daemon *d)
{
	struct watch_root *root;

	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->gone && !root->disabled)
			root_watch(d, root);
	}
}

static void root_add(struct watch_daemon *d, const char *path, bool from_glob)
{
	char real[PATH_MAX];
	struct watch_root *root;
	struct stat st;

	/* a glob match that is a symlink is not followed: a user who owns
	   the directory holding their Maildir could point it anywhere; a
	   root named with --maildir is resolved, as the admin wrote it */
	if (from_glob && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: is a symlink: not "
			  "followed, not served", path);
		return;
	}
	if (realpath(path, real) == NULL || !dir_exists(real)) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: not a directory: not "
			  "served", path);
		return;
	}
	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->gone && strcmp(root->path, real) == 0) {
			root->matched = true;
			return;
		}
	}
	root = calloc(1, sizeof(*root));
	if (root == NULL || (root->path = strdup(real)) == NULL) {
		free(root);
		watch_log(d->log, WATCH_LOG_ERROR, "out of memory");
		return;
	}
	root->wd = -1;
	root->from_glob = from_glob;
	root->matched = true;
	root->first_item = root->last_item = -1;
	root->next = d->roots;
	d->roots = root;
	d->root_count++;
	watch_log(d->log, WATCH_LOG_DEBUG, "serving %s", real);
}

static void root_retire(struct watch_daemon *d, struct watch_root *root)
{

	watch_log(d->log, WATCH_LOG_INFO, "%s: no longer matches the glob: "
		  "no longer served", root->path);
	root_stop(d, root);
	root_drop(d, root);
}

unsigned int watch_roots_expand(struct watch_daemon *d)
{
	const struct watch_settings *set = d->set;
	struct watch_root *root;
	unsigned int i, count = 0;
	glob_t gl;
	int ret;

	for (root = d->roots; root != NULL; root = root->next)
		root->matched = false;
	for (i = 0; i < set->maildir_count; i++)
		root_add(d, set->maildirs[i], false);
	if (set->glob != NULL) {
		ret = glob(set->glob, GLOB_NOSORT | GLOB_ONLYDIR, NULL, &gl);
		if (ret == 0) {
			for (i = 0; i < gl.gl_pathc; i++)
				root_add(d, gl.gl_pathv[i], true);
		} else if (ret != GLOB_NOMATCH) {
			watch_log(d->log, WATCH_LOG_ERROR, "glob %s failed",
				  set->glob);
		}
		if (ret != GLOB_NOMATCH)
			globfree(&gl);
	}
	for (root = d->roots; root != NULL; root = root->next) {
		if (root->gone)
			continue;
		if (root->from_glob && !root->matched && set->glob != NULL)
			root_retire(d, root);
		else
			count++;
	}
	return count;
}

static void box_free(struct watch_box *box)
{
	cs_mailbox_close(&box->mbox);
	free(box->name);
	free(box->path);
	free(box);
}

static void root_free(struct watch_daemon *d, struct watch_root *root)
{
	struct watch_rename *r;
	struct watch_box *box;
	unsigned int i;

	while ((box = root->boxes) != NULL) {
		root->boxes = box->next;
		box_free(box);
	}
	watch_root_figures_free(root);
	while ((r = root->renames) != NULL) {
		root->renames = r->next;
		free(r->from);
		free(r->to);
		free(r);
	}
	for (i = 0; i < root->cookie_count; i++)
		free(root->cookies[i]);
	free(root->cookies);
	root_close_index(d, root);
	free(root->path);
	free(root);
}

void watch_roots_reap(struct watch_daemon *d)
{
	struct watch_root **rp, *root;
	struct watch_box **bp, *box;

	for (rp = &d->roots; (root = *rp) != NULL; ) {
		if (root->gone) {
			*rp = root->next;
			d->root_count--;
			root_free(d, root);
			continue;
		}
		for (bp = &root->boxes; (box = *bp) != NULL; ) {
			if (box->gone) {
				*bp = box->next;
				box_free(box);
			} else {
				bp = &box->next;
			}
		}
		rp = &root->next;
	}
}

void watch_roots_shutdown(struct watch_daemon *d)
{
	struct watch_root *root;

	for (root = d->roots; root != NULL; root = root->next) {
		if (!root->gone)
			root_stop(d, root);
		root->gone = true;
	}
	watch_roots_reap(d);
}
