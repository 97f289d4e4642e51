# scripts/bench/local.mk - the benchmark harness (scripts/bench/run and one
# script per scenario) and its C helpers.  Benchmarks are not tests: they
# are not part of "make check"; run them with "make bench" or
# scripts/bench/run (see doc/benchmarks.md).

noinst_PROGRAMS += \
	scripts/bench/bench-gen \
	scripts/bench/bench-rename \
	scripts/bench/bench-floor \
	scripts/bench/bench-fsync \
	scripts/bench/bench-changes

scripts_bench_bench_gen_SOURCES = scripts/bench/bench-gen.c
scripts_bench_bench_fsync_SOURCES = scripts/bench/bench-fsync.c
scripts_bench_bench_rename_SOURCES = scripts/bench/bench-rename.c
scripts_bench_bench_rename_LDADD = libcondstore.la
scripts_bench_bench_floor_SOURCES = scripts/bench/bench-floor.c
# writes records as the library does: its codec is private to it
scripts_bench_bench_floor_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
scripts_bench_bench_floor_CFLAGS = $(AM_CFLAGS) $(TDB_CFLAGS)
scripts_bench_bench_floor_LDADD = libcondstore.la
scripts_bench_bench_changes_SOURCES = scripts/bench/bench-changes.c
scripts_bench_bench_changes_LDADD = libcondstore.la

bench_scripts_files = \
	scripts/bench/run \
	scripts/bench/benchlib.py \
	scripts/bench/benchimap.py \
	scripts/bench/reindex \
	scripts/bench/changedsince \
	scripts/bench/indexer \
	scripts/bench/dovecot \
	scripts/bench/durable \
	scripts/bench/concurrent
EXTRA_DIST += $(bench_scripts_files) doc/benchmarks.md

# "make bench": every scenario at the default sizes (BENCH_SIZES, BENCH_RUNS
# and the other variables of doc/benchmarks.md are passed through).
bench: all
	top_builddir=$(abs_top_builddir) \
	    $(PYTHON3) $(srcdir)/scripts/bench/run
.PHONY: bench
