/*
 * condstore-settings-module.c - Dovecot 2.4 only: the settings module
 * libmaildir_condstore_settings.so.  Dovecot's config process loads the
 * modules of MODULEDIR/settings and learns from this one the plugin's
 * settings (condstore-settings.h), so that dovecot.conf may name them and
 * doveconf shows them.  It holds no code of the plugin itself.
 */
#include "lib.h"
#include "settings-parser.h"
#include "condstore-dovecot.h"

#include "condstore-settings.h"

/* the symbols the config process looks up (module name
   "maildir_condstore_settings") */
extern const char *maildir_condstore_settings_version;
extern const struct setting_parser_info *maildir_condstore_settings_set_infos[];

const char *maildir_condstore_settings_version = DOVECOT_ABI_VERSION;
const struct setting_parser_info *maildir_condstore_settings_set_infos[] = {
	&condstore_setting_parser_info,
	NULL
};
