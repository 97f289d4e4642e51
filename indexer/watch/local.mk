# indexer/watch/local.mk - the watch daemon as a library of its own,
# libcondstore-watch, on libcondstore; the condstore command's "watch",
# "sync" and "daemon-status" are thin fronts on it (indexer/cli/).

noinst_LTLIBRARIES += libcondstore-watch.la
libcondstore_watch_la_SOURCES = \
	indexer/watch/watch.h \
	indexer/watch/watch-log.c \
	indexer/watch/watch-log.h \
	indexer/watch/watch-inotify.c \
	indexer/watch/watch-inotify.h \
	indexer/watch/watch-reader.c \
	indexer/watch/watch-reader.h \
	indexer/watch/watch-tree.c \
	indexer/watch/watch-tree.h \
	indexer/watch/watch-events.c \
	indexer/watch/watch-events.h \
	indexer/watch/watch-roots.c \
	indexer/watch/watch-roots.h \
	indexer/watch/watch-lockwait.c \
	indexer/watch/watch-lockwait.h \
	indexer/watch/watch-state.c \
	indexer/watch/watch-state.h \
	indexer/watch/watch-signals.c \
	indexer/watch/watch-signals.h \
	indexer/watch/watch-engine.c \
	indexer/watch/watch-engine.h \
	indexer/watch/watch-daemon.c \
	indexer/watch/watch-notify.c \
	indexer/watch/watch-notify.h \
	indexer/watch/watch-status.c \
	indexer/watch/watch-status.h \
	indexer/watch/watch-prune.c \
	indexer/watch/watch-prune.h
# its public header: what the condstore command calls
noinst_HEADERS += include/cs-watch.h
libcondstore_watch_la_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/indexer/watch $(SYSTEMD_CFLAGS)
# libsystemd is loaded by the daemon when it needs it (watch-notify.c):
# not linked, so that no other verb of the command loads it
libcondstore_watch_la_LIBADD = libcondstore.la

dist_man_MANS += man/condstore-watch.8
EXTRA_DIST += doc/durability.md doc/running-as-root.md
