# plugin/local.mk - the Dovecot 2.3 plugin lib20_maildir_condstore_plugin.so.
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
	plugin/condstore-plugin.c \
	plugin/condstore-mailbox.c \
	plugin/condstore-sync.c \
	plugin/condstore-transaction.c \
	plugin/condstore-maildir.h \
	plugin/condstore-maildir.c \
	plugin/condstore-mail.c \
	plugin/condstore-search.c \
	plugin/condstore-qresync.c
plugin_lib20_maildir_condstore_plugin_la_CPPFLAGS = \
	$(LIBDOVECOT_INCLUDE) $(LIBDOVECOT_STORAGE_INCLUDE) \
	$(LIBDOVECOT_IMAP_INCLUDE) -I$(top_srcdir)/include
plugin_lib20_maildir_condstore_plugin_la_CFLAGS = \
	$(DOVECOT_CFLAGS) $(CS_CFLAGS) $(TDB_CFLAGS)
plugin_lib20_maildir_condstore_plugin_la_LDFLAGS = \
	-module -avoid-version -shared \
	-export-symbols-regex '^maildir_condstore_plugin_'
plugin_lib20_maildir_condstore_plugin_la_LIBADD = libcondstore.la

endif
