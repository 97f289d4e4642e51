# indexer/cli/local.mk - the condstore command: argument parsing, output
# and one file per subcommand, on libcondstore and libcondstore-watch.

bin_PROGRAMS += condstore
condstore_SOURCES = \
	indexer/cli/condstore.c \
	indexer/cli/cli.h \
	indexer/cli/cli-args.c \
	indexer/cli/cli-index.c \
	indexer/cli/cli-msgs.c \
	indexer/cli/cli-names.c \
	indexer/cli/cli-output.c \
	indexer/cli/cli-progress.c \
	indexer/cli/cmd-reindex.c \
	indexer/cli/cmd-status.c \
	indexer/cli/cmd-fetch.c \
	indexer/cli/cmd-search.c \
	indexer/cli/cmd-store.c \
	indexer/cli/cmd-vanished.c \
	indexer/cli/cmd-check.c \
	indexer/cli/cmd-watch.c \
	indexer/cli/cmd-sync.c \
	indexer/cli/cmd-daemon-status.c
# The fronts of the daemon's commands reach libcondstore-watch through
# its public header, include/cs-watch.h, only.
condstore_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/cli
condstore_LDADD = libcondstore-watch.la libcondstore.la

dist_man_MANS += man/condstore.1
