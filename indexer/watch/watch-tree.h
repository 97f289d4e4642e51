/*
 * watch-tree.h - the model of what a watch daemon serves: a root's
 * mailboxes, its queued folder renames and its sync cookies.  Below both
 * the event logic (watch-events.c) and the roots' work (watch-roots.c),
 * which change the model through these calls; nothing here touches an
 * index or a watch.
 */
#ifndef WATCH_TREE_H
#define WATCH_TREE_H

#include "watch.h"

/* The live (not retired) mailbox of root named name, or NULL. */
struct watch_box *watch_box_find(struct watch_root *root, const char *name);
/* Add mailbox name to root, needing setup (watches, then a scan).
   Returns it, or NULL (logged) when out of memory or the name makes no
   path. */
struct watch_box *watch_box_add(struct watch_daemon *d,
				struct watch_root *root, const char *name);
/* Give box the name name (and its path).  Returns 0 or -1. */
int watch_box_set_name(struct watch_box *box, const char *name,
		       struct cs_error *err);

/* A folder appeared in root (created or moved in): its mailbox is set up
   again, or added. */
void watch_root_folder_appeared(struct watch_daemon *d,
				struct watch_root *root, const char *name);
/* A folder of root was renamed from to to: applied by the next folder
   sync (out of memory: a full scan of root instead). */
void watch_root_queue_rename(struct watch_daemon *d, struct watch_root *root,
			     const char *from, const char *to);
/* Remember a sync cookie of root to acknowledge (once).  Returns 0 or -1
   (ENOMEM). */
int watch_root_add_cookie(struct watch_root *root, const char *name);

#endif
