# tests/local.mk - the test suite run by "make check".
#
# Integration tests are Python scripts (tests/test_*.py) run with python3;
# they find the programs through the environment set here and share the
# helper module tests/cstest.py.
TEST_EXTENSIONS = .py
PY_LOG_COMPILER = $(PYTHON3)
AM_TESTS_ENVIRONMENT = \
	CONDSTORE='$(abs_top_builddir)/condstore'; \
	top_srcdir='$(abs_top_srcdir)'; \
	top_builddir='$(abs_top_builddir)'; \
	PYTHONDONTWRITEBYTECODE=1; \
	export CONDSTORE top_srcdir top_builddir PYTHONDONTWRITEBYTECODE;

include $(srcdir)/tests/unit.mk
include $(srcdir)/tests/plugin.mk
include $(srcdir)/tests/cli.mk
include $(srcdir)/tests/watch.mk
include $(srcdir)/tests/fuzz/fuzz.mk

# the library's files call only downward (scripts/libgraph)
TESTS += tests/test_layers.py
EXTRA_DIST += tests/test_layers.py scripts/libgraph
