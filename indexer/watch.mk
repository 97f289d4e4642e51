# indexer/watch.mk - the watch daemon and the sync command, part of the
# condstore command (included from indexer/cli.mk).

condstore_SOURCES += \
	indexer/cmd-watch.c \
	indexer/cmd-sync.c \
	indexer/watch.h \
	indexer/watch-log.c \
	indexer/watch-log.h \
	indexer/watch-inotify.c \
	indexer/watch-inotify.h \
	indexer/watch-reader.c \
	indexer/watch-reader.h \
	indexer/watch-events.c \
	indexer/watch-events.h \
	indexer/watch-roots.c \
	indexer/watch-roots.h \
	indexer/watch-lockwait.c \
	indexer/watch-lockwait.h \
	indexer/watch-state.c \
	indexer/watch-state.h \
	indexer/watch-daemon.c \
	indexer/watch-daemon.h \
	indexer/watch-notify.c \
	indexer/watch-notify.h \
	indexer/watch-status.c \
	indexer/watch-status.h \
	indexer/cmd-daemon-status.c \
	indexer/watch-prune.c \
	indexer/watch-prune.h
condstore_CPPFLAGS += $(SYSTEMD_CFLAGS)
condstore_LDADD += $(SYSTEMD_LIBS)

dist_man_MANS += man/condstore-watch.8
EXTRA_DIST += doc/durability.md doc/running-as-root.md
