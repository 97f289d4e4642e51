/*
 * condstore-settings.c - reads the plugin's settings (condstore-settings.h)
 * the way the Dovecot it is built for provides them: 2.3 through
 * mail_user_plugin_getenv() from plugin { }, 2.4 through settings_get()
 * with the settings declared here.
 */
#include "lib.h"
#include "mail-user.h"
#include "condstore-dovecot.h"
#ifdef CONDSTORE_DOVECOT_24
#  include "settings.h"
#  include "settings-parser.h"
#endif

#include "condstore-settings.h"

#ifdef CONDSTORE_DOVECOT_24

#undef DEF
#define DEF(type, name) \
	SETTING_DEFINE_STRUCT_##type(#name, name, struct condstore_settings)

static const struct setting_define condstore_setting_defines[] = {
	DEF(STR, maildir_condstore_db),
	DEF(BOOL, maildir_condstore_nosync),

	SETTING_DEFINE_LIST_END
};

/* default nosync: Dovecot does not fsync its renames either, and the
   library keeps modseqs safe across a power loss (cs-nosync.c) */
static const struct condstore_settings condstore_default_settings = {
	.maildir_condstore_db = "",
	.maildir_condstore_nosync = TRUE,
};

const struct setting_parser_info condstore_setting_parser_info = {
	.name = "maildir_condstore",

	.defines = condstore_setting_defines,
	.defaults = &condstore_default_settings,

	.struct_size = sizeof(struct condstore_settings),
	.pool_offset1 = 1 + offsetof(struct condstore_settings, pool),
};

int condstore_settings_read(struct mail_user *user,
			    struct condstore_user_settings *set_r,
			    const char **error_r)
{
	const struct condstore_settings *set;

	i_zero(set_r);
	if (settings_get(user->event, &condstore_setting_parser_info, 0,
			 &set, error_r) < 0)
		return -1;
	if (set->maildir_condstore_db[0] != '\0') {
		set_r->db_path = p_strdup(user->pool,
					  set->maildir_condstore_db);
	}
	set_r->nosync = set->maildir_condstore_nosync;
	settings_free(set);
	return 0;
}

#else

int condstore_settings_read(struct mail_user *user,
			    struct condstore_user_settings *set_r,
			    const char **error_r ATTR_UNUSED)
{
	const char *db, *nosync;

	i_zero(set_r);
	db = mail_user_plugin_getenv(user, CONDSTORE_SET_DB);
	if (db != NULL && *db != '\0')
		set_r->db_path = p_strdup(user->pool, db);
	/* default yes, as on 2.4 (see above) */
	nosync = mail_user_plugin_getenv(user, CONDSTORE_SET_NOSYNC);
	set_r->nosync = nosync == NULL || *nosync == '\0' ||
		(strcasecmp(nosync, "no") != 0 &&
		 strcasecmp(nosync, "false") != 0 && strcmp(nosync, "0") != 0);
	return 0;
}

#endif
