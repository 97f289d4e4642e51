# tests/plugin.mk - integration tests of the Dovecot plugin: each starts a
# private Dovecot on 127.0.0.1 with the plugin from plugin/.libs and talks
# IMAP to it.  They skip (77) when the plugin was not built.

PLUGIN_TESTS = \
	tests/test_plugin_load.py \
	tests/test_plugin_modseq.py \
	tests/test_plugin_restart.py \
	tests/test_plugin_concurrent.py \
	tests/test_plugin_watch.py \
	tests/test_plugin_sync.py \
	tests/test_plugin_qresync.py \
	tests/test_plugin_races.py \
	tests/test_plugin_stress.py

TESTS += $(PLUGIN_TESTS)
EXTRA_DIST += tests/dovecot.py tests/dovecotconf.py $(PLUGIN_TESTS)
