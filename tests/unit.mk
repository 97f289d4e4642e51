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
	tests/unit/test-msgstore.c
# the tests reach the library's private headers (raw tdb access, the
# record codec); nothing else does
tests_unit_unit_tests_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
tests_unit_unit_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(TDB_CFLAGS)
tests_unit_unit_tests_LDADD = libcondstore.la $(CUNIT_LIBS)

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
