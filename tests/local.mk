# tests/local.mk - the test suite run by "make check".
include $(srcdir)/tests/unit.mk
include $(srcdir)/tests/plugin.mk
