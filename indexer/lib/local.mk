# indexer/lib/local.mk - the index library, libcondstore: the index over
# tdb that the daemon, the command and the Dovecot plugin share.

noinst_LTLIBRARIES += libcondstore.la
libcondstore_la_SOURCES = \
	indexer/lib/cs-array.c \
	indexer/lib/cs-error.c \
	indexer/lib/cs-escape.c \
	indexer/lib/cs-name.c \
	indexer/lib/cs-hash.c \
	indexer/lib/cs-hash.h \
	indexer/lib/cs-keywords.c \
	indexer/lib/cs-file.c \
	indexer/lib/cs-lines.c \
	indexer/lib/cs-lines.h \
	indexer/lib/cs-owner.c \
	indexer/lib/cs-uidset.c \
	indexer/lib/cs-record.c \
	indexer/lib/cs-codec.h \
	indexer/lib/cs-db.c \
	indexer/lib/cs-prefault.c \
	indexer/lib/cs-index.c \
	indexer/lib/cs-open.c \
	indexer/lib/cs-index-lock.c \
	indexer/lib/cs-message.c \
	indexer/lib/cs-bucket.c \
	indexer/lib/cs-bucket.h \
	indexer/lib/cs-msgstore.c \
	indexer/lib/cs-migrate.c \
	indexer/lib/cs-change-run.c \
	indexer/lib/cs-jumps.c \
	indexer/lib/cs-mailbox.c \
	indexer/lib/cs-reconcile.c \
	indexer/lib/cs-index-private.h \
	indexer/lib/cs-hwm.c \
	indexer/lib/cs-nosync.c \
	indexer/lib/cs-hwm.h \
	indexer/lib/cs-changes.c \
	indexer/lib/cs-horizon.c \
	indexer/lib/cs-rank.c \
	indexer/lib/cs-mailbox-name.c \
	indexer/lib/cs-uidlist.c \
	indexer/lib/cs-uidorder.c \
	indexer/lib/cs-uidorder.h \
	indexer/lib/cs-listing.c \
	indexer/lib/cs-listing.h \
	indexer/lib/cs-scan.c \
	indexer/lib/cs-build.c \
	indexer/lib/cs-store.c \
	indexer/lib/cs-tdbfile.c \
	indexer/lib/cs-tdbfile.h \
	indexer/lib/cs-check.c \
	indexer/lib/cs-sync.c
libcondstore_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/indexer/lib
libcondstore_la_CFLAGS = $(AM_CFLAGS) $(TDB_CFLAGS)
libcondstore_la_LIBADD = $(TDB_LIBS)

noinst_HEADERS = \
	include/condstore.h \
	include/cs-array.h \
	include/cs-check.h \
	include/cs-error.h \
	include/cs-escape.h \
	include/cs-file.h \
	include/cs-horizon.h \
	include/cs-index.h \
	include/cs-maildir.h \
	include/cs-name.h \
	include/cs-owner.h \
	include/cs-record.h \
	include/cs-sync.h \
	include/cs-uidset.h
