# indexer/local.mk - the indexer: three layers, each in its own folder and
# its own local.mk, included bottom-up.
#
#   indexer/lib/    libcondstore: the index over tdb (public API in
#                   include/cs-*.h, private headers only in lib/)
#   indexer/watch/  libcondstore-watch: the inotify daemon, on libcondstore
#   indexer/cli/    the condstore command, a thin front on both
#
# Each layer's include path reaches its own folder and include/ only, so a
# private header of a lower layer cannot be included from above.

include $(srcdir)/indexer/lib/local.mk
include $(srcdir)/indexer/watch/local.mk
include $(srcdir)/indexer/cli/local.mk
