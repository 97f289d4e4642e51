/*
 * condstore-settings.h - the plugin's settings, read from plugin { } on
 * Dovecot 2.3 and declared to Dovecot's settings on 2.4:
 *
 *   maildir_condstore_db      the index file (default: ROOT/condstore.tdb)
 *   maildir_condstore_nosync  no fsync per commit (default: yes)
 */
#ifndef CONDSTORE_SETTINGS_H
#define CONDSTORE_SETTINGS_H

#define CONDSTORE_SET_DB "maildir_condstore_db"
#define CONDSTORE_SET_NOSYNC "maildir_condstore_nosync"

struct mail_user;

struct condstore_user_settings {
	/* maildir_condstore_db as expanded by Dovecot, NULL: unset */
	const char *db_path;
	bool nosync;
};

#ifdef CONDSTORE_DOVECOT_24
/* The settings as Dovecot 2.4 parses them (the struct settings_get()
   fills). */
struct condstore_settings {
	pool_t pool;
	const char *maildir_condstore_db;
	bool maildir_condstore_nosync;
};

/* Their declaration: the plugin reads with it, and Dovecot's config
   process learns them from the settings module (condstore-settings-
   module.c). */
extern const struct setting_parser_info condstore_setting_parser_info;
#endif

/* Read user's settings into set_r (strings allocated from user's pool).
   Returns 0, or -1 with *error_r set when Dovecot cannot provide them. */
int condstore_settings_read(struct mail_user *user,
			    struct condstore_user_settings *set_r,
			    const char **error_r);

#endif
