/*
 * condstore-plugin.c - the maildir_condstore Dovecot plugin: module entry
 * points, the storage hooks it registers, the per-user settings and the
 * per-user index handles (one tdb handle per Maildir root per process).
 * The settings are read by condstore-settings.c.
 */
#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "mail-user.h"
#include "mail-storage-hooks.h"

#include "condstore-plugin.h"
#include "condstore-settings.h"
#include "condstore-maildir.h"

const char *maildir_condstore_plugin_version = DOVECOT_ABI_VERSION;

struct condstore_user_module condstore_user_module =
	MODULE_CONTEXT_INIT(&mail_user_module_register);

void condstore_log_error(struct mailbox *box, const char *what,
			 const struct cs_error *err)
{
	const char *text = err == NULL || err->text[0] == '\0' ?
		"unknown error" : err->text;

	if (box != NULL) {
		e_error(box->event, CONDSTORE_PLUGIN_NAME ": %s: %s",
			what, text);
	} else {
		i_error(CONDSTORE_PLUGIN_NAME ": %s: %s", what, text);
	}
}

struct cs_index *condstore_user_index(struct condstore_user *cuser,
				      const char *root)
{
	struct condstore_root *r, new_root;
	struct cs_index_settings set;
	struct cs_error err;

	array_foreach_modifiable(&cuser->roots, r) {
		if (strcmp(r->root, root) == 0)
			return r->index;
	}
	/* an explicit maildir_condstore_db names the index of the first
	   root only; further roots (other namespaces) use their own */
	i_zero(&set);
	set.root = root;
	set.db_path = array_count(&cuser->roots) == 0 ?
		cuser->db_path : NULL;
	set.separator = condstore_maildir_info_sep();
	set.nosync = cuser->nosync;
	cs_error_clear(&err);
	i_zero(&new_root);
	if (cs_index_open(&set, &new_root.index, &err) < 0) {
		condstore_log_error(NULL, t_strdup_printf(
			"opening the index of %s", root), &err);
		return NULL;
	}
	if (cs_index_converted(new_root.index))
		i_info(CONDSTORE_PLUGIN_NAME ": %s: index converted to "
		       "layout 2, every UID and modseq kept",
		       cs_index_db_path(new_root.index));
	new_root.root = i_strdup(root);
	array_push_back(&cuser->roots, &new_root);
	return new_root.index;
}

static void condstore_user_sync_release(struct condstore_user *cuser)
{
	struct condstore_root *r;

	timeout_remove(&cuser->sync_release_to);
	array_foreach_modifiable(&cuser->roots, r) {
		if (r->index != NULL)
			cs_sync_release(r->index);
	}
}

void condstore_user_sync_waited(struct condstore_user *cuser)
{
	timeout_remove(&cuser->sync_release_to);
	/* the root ioloop's: a wait may run inside a nested one */
	cuser->sync_release_to = timeout_add_to(io_loop_get_root(),
		CONDSTORE_SYNC_RELEASE_MSECS, condstore_user_sync_release,
		cuser);
}

static void condstore_user_deinit(struct mail_user *user)
{
	struct condstore_user *cuser = CONDSTORE_USER_CONTEXT_REQUIRE(user);
	struct condstore_root *r;

	timeout_remove(&cuser->sync_release_to);
	array_foreach_modifiable(&cuser->roots, r) {
		cs_index_close(&r->index);
		i_free(r->root);
	}
	array_free(&cuser->roots);
	cuser->module_ctx.super.deinit(user);
}

static void condstore_mail_user_created(struct mail_user *user)
{
	struct mail_user_vfuncs *v = user->vlast;
	struct condstore_user *cuser;
	struct condstore_user_settings set;
	const char *error;

	if (condstore_settings_read(user, &set, &error) < 0) {
		user->error = p_strdup_printf(user->pool,
			CONDSTORE_PLUGIN_NAME ": reading the settings: %s",
			error);
		return;
	}
	cuser = p_new(user->pool, struct condstore_user, 1);
	cuser->module_ctx.super = *v;
	user->vlast = &cuser->module_ctx.super;
	v->deinit = condstore_user_deinit;

	cuser->db_path = set.db_path;
	cuser->nosync = set.nosync;
	i_array_init(&cuser->roots, 2);
	MODULE_CONTEXT_SET(user, condstore_user_module, cuser);
	e_debug(user->event, CONDSTORE_PLUGIN_NAME ": enabled (db %s, %s)",
		cuser->db_path != NULL ? cuser->db_path :
		"MAILDIR/" CS_DB_NAME, cuser->nosync ? "nosync" :
		"fsync per commit");
}

static struct mail_storage_hooks condstore_mail_storage_hooks = {
	.mail_user_created = condstore_mail_user_created,
	.mailbox_allocated = condstore_mailbox_allocated,
	.mail_allocated = condstore_mail_allocated
};

void maildir_condstore_plugin_init(struct module *module)
{
	mail_storage_hooks_add(module, &condstore_mail_storage_hooks);
	condstore_qresync_init();
}

void maildir_condstore_plugin_deinit(void)
{
	condstore_qresync_deinit();
	mail_storage_hooks_remove(&condstore_mail_storage_hooks);
}
