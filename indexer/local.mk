# indexer/local.mk - the index library (libcondstore) and the condstore
# command built on it.

noinst_LTLIBRARIES += libcondstore.la
libcondstore_la_SOURCES = \
	indexer/cs-error.c \
	indexer/cs-escape.c \
	indexer/cs-name.c \
	indexer/cs-keywords.c \
	indexer/cs-file.c \
	indexer/cs-file.h \
	indexer/cs-lines.c \
	indexer/cs-lines.h \
	indexer/cs-owner.c \
	indexer/cs-uidset.c \
	indexer/cs-record.c \
	indexer/cs-index.c \
	indexer/cs-index-lock.c \
	indexer/cs-mailbox.c \
	indexer/cs-reconcile.c \
	indexer/cs-index-private.h \
	indexer/cs-hwm.c \
	indexer/cs-nosync.c \
	indexer/cs-hwm.h \
	indexer/cs-changes.c \
	indexer/cs-horizon.c \
	indexer/cs-rank.c \
	indexer/cs-mailbox-name.c \
	indexer/cs-uidlist.c \
	indexer/cs-scan.c \
	indexer/cs-build.c \
	indexer/cs-store.c \
	indexer/cs-check.c \
	indexer/cs-sync.c
libcondstore_la_CFLAGS = $(AM_CFLAGS) $(TDB_CFLAGS)
libcondstore_la_LIBADD = $(TDB_LIBS)

include $(srcdir)/indexer/cli.mk

noinst_HEADERS = \
	include/condstore.h \
	include/cs-check.h \
	include/cs-error.h \
	include/cs-escape.h \
	include/cs-horizon.h \
	include/cs-index.h \
	include/cs-maildir.h \
	include/cs-name.h \
	include/cs-owner.h \
	include/cs-record.h \
	include/cs-sync.h \
	include/cs-uidset.h \
	indexer/cli.h
