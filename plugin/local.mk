# plugin/local.mk - the Dovecot plugin lib20_maildir_condstore_plugin.so
# (for Dovecot 2.3 or 2.4, as configure found) and, for 2.4, the settings
# module libmaildir_condstore_settings.so that Dovecot's config process
# loads from its module directory's settings/.
# Dovecot's headers need HAVE_CONFIG_H, and lib.h then includes Dovecot's
# own config.h (found beside lib.h, before ours).  It links the index library but not libdovecot: the Dovecot process that
# loads it provides those symbols.  Only the plugin's entry points are
# exported.

EXTRA_DIST += plugin/configure.m4

# the administrator's page: configuration, settings, what is served
plugindocdir = $(docdir)
dist_plugindoc_DATA = doc/dovecot-plugin.md

if BUILD_PLUGIN
dovecot_module_LTLIBRARIES = plugin/lib20_maildir_condstore_plugin.la
plugin_lib20_maildir_condstore_plugin_la_SOURCES = \
	plugin/condstore-plugin.h \
	plugin/condstore-dovecot.h \
	plugin/condstore-settings.h \
	plugin/condstore-settings.c \
	plugin/condstore-plugin.c \
	plugin/condstore-mailbox.c \
	plugin/condstore-sync.c \
	plugin/condstore-view.c \
	plugin/condstore-notify.c \
	plugin/condstore-transaction.c \
	plugin/condstore-maildir.h \
	plugin/condstore-maildir.c \
	plugin/condstore-mail.c \
	plugin/condstore-search.c \
	plugin/condstore-qresync.c
plugin_lib20_maildir_condstore_plugin_la_CPPFLAGS = $(DOVECOT_API_CPPFLAGS) \
	$(LIBDOVECOT_INCLUDE) $(LIBDOVECOT_STORAGE_INCLUDE) \
	$(LIBDOVECOT_IMAP_INCLUDE) -I$(top_srcdir)/include
plugin_lib20_maildir_condstore_plugin_la_CFLAGS = \
	$(DOVECOT_CFLAGS) $(CS_CFLAGS) $(TDB_CFLAGS)
plugin_lib20_maildir_condstore_plugin_la_LDFLAGS = \
	-module -avoid-version -shared \
	-export-symbols-regex '^maildir_condstore_plugin_'
plugin_lib20_maildir_condstore_plugin_la_LIBADD = libcondstore.la

if BUILD_PLUGIN_SETTINGS
dovecot_settingsdir = $(dovecot_moduledir)/settings
dovecot_settings_LTLIBRARIES = plugin/libmaildir_condstore_settings.la
plugin_libmaildir_condstore_settings_la_SOURCES = \
	plugin/condstore-settings-module.c \
	plugin/condstore-settings.c
plugin_libmaildir_condstore_settings_la_CPPFLAGS = \
	$(plugin_lib20_maildir_condstore_plugin_la_CPPFLAGS)
plugin_libmaildir_condstore_settings_la_CFLAGS = \
	$(plugin_lib20_maildir_condstore_plugin_la_CFLAGS)
plugin_libmaildir_condstore_settings_la_LDFLAGS = \
	-module -avoid-version -shared \
	-export-symbols-regex '^maildir_condstore_settings_'

endif

endif

if BUILD_PLUGIN_SETTINGS
# Dovecot's config process reads the settings modules of its own module
# directory only: "make install-dovecot-settings" (as root) puts this one
# there, for a plugin loaded from elsewhere (the tests, mail_plugin_dir).
install-dovecot-settings: plugin/libmaildir_condstore_settings.la
	$(MKDIR_P) "$(DESTDIR)$(dovecot_installed_moduledir)/settings"
	$(INSTALL_DATA) plugin/.libs/libmaildir_condstore_settings.so \
		"$(DESTDIR)$(dovecot_installed_moduledir)/settings/"
else
install-dovecot-settings:
	@echo "no settings module to install (Dovecot 2.3 reads plugin { }, or no plugin built)"
endif
.PHONY: install-dovecot-settings
