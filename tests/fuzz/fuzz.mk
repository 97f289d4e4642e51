# tests/fuzz/fuzz.mk - the fuzz test of the parsers (included from
# tests/local.mk): tests/fuzz/run-fuzz fuzzes with libFuzzer when clang
# is there, else replays the seed corpus through fuzz-replay.

check_PROGRAMS += tests/fuzz/fuzz-replay
tests_fuzz_fuzz_replay_SOURCES = \
	tests/fuzz/fuzz-parsers.c \
	tests/fuzz/replay.c
tests_fuzz_fuzz_replay_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/indexer/lib
tests_fuzz_fuzz_replay_LDADD = libcondstore.la $(TDB_LIBS)

TESTS += tests/fuzz/run-fuzz
EXTRA_DIST += \
	tests/fuzz/run-fuzz \
	tests/fuzz/corpus/flags-1 \
	tests/fuzz/corpus/hwm-1 \
	tests/fuzz/corpus/hwm-2 \
	tests/fuzz/corpus/keywords-1 \
	tests/fuzz/corpus/mailbox-1 \
	tests/fuzz/corpus/mailbox-2 \
	tests/fuzz/corpus/name-1 \
	tests/fuzz/corpus/name-2 \
	tests/fuzz/corpus/record-1 \
	tests/fuzz/corpus/uidlist-1 \
	tests/fuzz/corpus/uidlist-2 \
	tests/fuzz/corpus/uidset-1 \
	tests/fuzz/corpus/uidset-2

# the fuzzer's build and its corpus of the run
clean-local:
	rm -rf tests/fuzz/work
