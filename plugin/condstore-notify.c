/*
 * condstore-notify.c - waking a mailbox's IDLE sessions when the watch
 * daemon has recorded a change, rather than at Dovecot's own delay.
 *
 * Dovecot's Maildir storage watches new/ and cur/ with inotify and, at
 * the first event, waits half a second (mailbox-watch.c) before it has
 * the IDLE session sync: the file names may still be changing.  With the
 * plugin, the names do not matter: the sync serves what the daemon has
 * recorded.  The daemon writes to the index's ".changed" file after each
 * commit that recorded changes (cs_sync_announce); while a session waits
 * for changes, this file watches that file too and calls the session's
 * callback at once.  Dovecot's own watches stay: without a daemon (or
 * when the file cannot be watched) they are what wakes the session, and
 * a hibernated session (imap_hibernate_timeout) is woken by them alone.
 */
#include "lib.h"
#include "ioloop.h"
#include "mail-storage-private.h"

#include <limits.h>

#include "condstore-plugin.h"

static void condstore_notify_changed(struct mailbox *box)
{
	if (box->notify_callback == NULL)
		return;
	e_debug(box->event, CONDSTORE_PLUGIN_NAME ": the watch daemon "
		"recorded changes: waking the session");
	box->notify_callback(box, box->notify_context);
}

/* Watch the daemon's announcements, if a daemon serves the Maildir. */
static void condstore_notify_add(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);
	char path[PATH_MAX];

	if (cmbox->io_changed != NULL || cmbox->index == NULL ||
	    !condstore_daemon_serves(box) ||
	    cs_sync_changed_path(cmbox->index, path, sizeof(path)) < 0)
		return;
	if (io_add_notify(path, condstore_notify_changed, box,
			  &cmbox->io_changed) != IO_NOTIFY_ADDED) {
		/* (the daemon creates it when it starts) */
		e_debug(box->event, CONDSTORE_PLUGIN_NAME ": %s can't be "
			"watched: IDLE is woken by Dovecot's own watches",
			path);
	}
}

void condstore_notify_changes(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	cmbox->module_ctx.super.notify_changes(box);
	if (box->notify_callback == NULL)
		condstore_notify_remove(box);
	else
		condstore_notify_add(box);
}

void condstore_notify_remove(struct mailbox *box)
{
	struct condstore_mailbox *cmbox =
		CONDSTORE_MAILBOX_CONTEXT_REQUIRE(box);

	io_remove(&cmbox->io_changed);
}
