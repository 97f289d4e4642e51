dnl plugin/configure.m4 - configure part of the Dovecot plugin (placeholder
dnl until the plugin lands: the plugin is not built).
build_plugin=no
AM_CONDITIONAL([BUILD_PLUGIN], [false])
