# tests/unit.mk - the CUnit unit tests: of the library (unit-tests) and
# of the watch daemon's event logic (unit-watch-tests).
if HAVE_CUNIT
check_PROGRAMS += tests/unit/unit-tests tests/unit/unit-watch-tests
TESTS += tests/unit/unit-tests tests/unit/unit-watch-tests
endif
tests_unit_unit_tests_SOURCES = \
	tests/unit/unit.h \
	tests/unit/unit-maildir.c \
	tests/unit/unit-main.c \
	tests/unit/test-name.c \
	tests/unit/test-uidset.c \
	tests/unit/test-array.c \
	tests/unit/test-hash.c \
	tests/unit/test-record.c \
	tests/unit/test-index.c \
	tests/unit/test-callbacks.c \
	tests/unit/test-scan.c \
	tests/unit/test-crash.c \
	tests/unit/test-nosync.c \
	tests/unit/test-horizon.c \
	tests/unit/test-msgstore.c \
	tests/unit/layout1.h \
	tests/unit/layout1.c
# the tests reach the library's private headers (raw tdb access, the
# record codec); nothing else does
tests_unit_unit_tests_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
tests_unit_unit_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(TDB_CFLAGS)
tests_unit_unit_tests_LDADD = libcondstore.la $(CUNIT_LIBS)

# An index of layout 1 for the tests of its conversion by the command
# and the daemon (tests/test_cli_layout1.py).
check_PROGRAMS += tests/unit/mklayout1
tests_unit_mklayout1_SOURCES = tests/unit/mklayout1.c tests/unit/layout1.h \
	tests/unit/layout1.c
tests_unit_mklayout1_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
tests_unit_mklayout1_CFLAGS = $(AM_CFLAGS) $(TDB_CFLAGS)
tests_unit_mklayout1_LDADD = libcondstore.la $(TDB_LIBS)

# The daemon's private headers are in reach of its own tests only.
tests_unit_unit_watch_tests_SOURCES = \
	tests/unit/unit.h \
	tests/unit/unit-maildir.c \
	tests/unit/test-watch-events.c
tests_unit_unit_watch_tests_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/indexer/watch
tests_unit_unit_watch_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_unit_watch_tests_LDADD = libcondstore-watch.la libcondstore.la \
	$(CUNIT_LIBS)
