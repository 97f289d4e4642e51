/*
 * watch-tree.c - the model of what a watch daemon serves, below the event
 * logic and the roots' work: finding and adding a root's mailboxes,
 * queueing folder renames and remembering sync cookies.  Nothing here
 * touches the index or the inotify instance.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "watch-log.h"
#include "watch-tree.h"

struct watch_box *watch_box_find(struct watch_root *root, const char *name)
{
	struct watch_box *box;

	for (box = root->boxes; box != NULL; box = box->next) {
		if (!box->gone && strcmp(box->name, name) == 0)
			return box;
	}
	return NULL;
}

int watch_box_set_name(struct watch_box *box, const char *name,
		       struct cs_error *err)
{
	char path[PATH_MAX];
	char *new_name, *new_path;

	if (cs_mailbox_path(box->root->path, name, path, sizeof(path),
			    err) < 0)
		return -1;
	new_name = strdup(name);
	new_path = strdup(path);
	if (new_name == NULL || new_path == NULL) {
		free(new_name);
		free(new_path);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	free(box->name);
	free(box->path);
	box->name = new_name;
	box->path = new_path;
	return 0;
}

struct watch_box *watch_box_add(struct watch_daemon *d,
				struct watch_root *root, const char *name)
{
	struct watch_box *box;
	struct cs_error err;

	box = calloc(1, sizeof(*box));
	if (box == NULL)
		return NULL;
	box->root = root;
	box->wd_new = box->wd_cur = box->wd_folder = -1;
	if (watch_box_set_name(box, name, &err) < 0) {
		watch_log(d->log, WATCH_LOG_WARN, "%s: %s", root->path,
			  err.text);
		free(box);
		return NULL;
	}
	box->need_setup = true;
	box->next = root->boxes;
	root->boxes = box;
	return box;
}

void watch_root_folder_appeared(struct watch_daemon *d,
				struct watch_root *root, const char *name)
{
	struct watch_box *box = watch_box_find(root, name);

	if (box != NULL)
		box->need_setup = true;
	else
		(void)watch_box_add(d, root, name);
}

void watch_root_queue_rename(struct watch_daemon *d, struct watch_root *root,
			     const char *from, const char *to)
{
	struct watch_rename *r, **tail;

	r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->from = strdup(from);
		r->to = strdup(to);
	}
	if (r == NULL || r->from == NULL || r->to == NULL) {
		if (r != NULL) {
			free(r->from);
			free(r->to);
			free(r);
		}
		root->need_full_scan = true;
		return;
	}
	for (tail = &root->renames; *tail != NULL; tail = &(*tail)->next) ;
	*tail = r;
	root->need_folders = true;
	(void)d;
}

int watch_root_add_cookie(struct watch_root *root, const char *name)
{
	unsigned int i;

	for (i = 0; i < root->cookie_count; i++) {
		if (strcmp(root->cookies[i], name) == 0)
			return 0;
	}
	if (root->cookie_count == UINT_MAX ||
	    cs_array_grow(&root->cookies, sizeof(*root->cookies),
			  root->cookie_count, &root->cookie_alloc, 4) < 0)
		return -1;
	root->cookies[root->cookie_count] = strdup(name);
	if (root->cookies[root->cookie_count] == NULL)
		return -1;
	root->cookie_count++;
	return 0;
}
