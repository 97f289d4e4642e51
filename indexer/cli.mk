# indexer/cli.mk - the condstore command, built on libcondstore.

bin_PROGRAMS += condstore
condstore_SOURCES = \
	indexer/condstore.c \
	indexer/cli.h \
	indexer/cli-args.c \
	indexer/cli-index.c \
	indexer/cli-msgs.c \
	indexer/cli-names.c \
	indexer/cli-output.c \
	indexer/cli-progress.c \
	indexer/cmd-reindex.c \
	indexer/cmd-status.c \
	indexer/cmd-fetch.c \
	indexer/cmd-search.c \
	indexer/cmd-store.c \
	indexer/cmd-vanished.c \
	indexer/cmd-check.c
condstore_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer
condstore_LDADD = libcondstore.la

dist_man_MANS += man/condstore.1

# the watch daemon and the sync command
include $(srcdir)/indexer/watch.mk
