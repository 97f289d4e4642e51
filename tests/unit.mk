# tests/unit.mk - the CUnit unit tests of the library.
if HAVE_CUNIT
check_PROGRAMS += tests/unit/unit-tests
TESTS += tests/unit/unit-tests
endif
tests_unit_unit_tests_SOURCES = \
	tests/unit/unit.h \
	tests/unit/unit-main.c \
	tests/unit/test-name.c \
	tests/unit/test-uidset.c \
	tests/unit/test-record.c \
	tests/unit/test-index.c \
	tests/unit/test-scan.c \
	tests/unit/test-crash.c \
	tests/unit/test-nosync.c \
	tests/unit/test-horizon.c
# the tests reach the library's private headers (raw tdb access, the
# record codec); nothing else does
tests_unit_unit_tests_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
tests_unit_unit_tests_CFLAGS = $(AM_CFLAGS) $(CUNIT_CFLAGS) $(TDB_CFLAGS)
tests_unit_unit_tests_LDADD = libcondstore.la $(CUNIT_LIBS)
