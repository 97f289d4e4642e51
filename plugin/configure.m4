dnl plugin/configure.m4 - configure part of the Dovecot plugin.
dnl
dnl Looks for Dovecot's dovecot-config (the file dovecot-dev installs) and,
dnl when found, builds plugin/lib20_maildir_condstore_plugin.so with the
dnl compiler flags it names, for the Dovecot release its headers are
dnl (config.h beside them: 2.3.19 and later, or 2.4.1 and later; passed to
dnl the plugin as CONDSTORE_DOVECOT_API, see plugin/condstore-dovecot.h).
dnl For 2.4 it builds the settings module libmaildir_condstore_settings.so
dnl too, which Dovecot's config process loads from MODULEDIR/settings.
dnl Without Dovecot the rest still builds and the plugin is skipped.
dnl dovecot-config is read here rather than through DC_DOVECOT, which stops
dnl configure when the file is missing and rewrites CFLAGS for the whole
dnl project.
dnl
dnl   --with-dovecot=DIR           directory holding dovecot-config
dnl                                (default: /usr/lib/dovecot if it has one)
dnl   --without-dovecot            do not build the plugin
dnl   --with-dovecot-moduledir=DIR where "make install" puts the plugin
dnl                                (default: $libdir/dovecot/modules, i.e.
dnl                                under the configured prefix; give
dnl                                Dovecot's own module directory, printed
dnl                                below, to install where Dovecot looks)

AC_ARG_WITH([dovecot],
  [AS_HELP_STRING([--with-dovecot=DIR],
    [directory with Dovecot's dovecot-config (default: /usr/lib/dovecot when present); --without-dovecot skips the plugin])],
  [], [with_dovecot=check])
AC_ARG_WITH([dovecot-moduledir],
  [AS_HELP_STRING([--with-dovecot-moduledir=DIR],
    [install the plugin into DIR (default: LIBDIR/dovecot/modules)])],
  [], [with_dovecot_moduledir='$(libdir)/dovecot/modules'])

build_plugin=no
cs_dovecot_dir=
AS_CASE([$with_dovecot],
  [no], [build_plugin="no (--without-dovecot)"],
  [check|yes], [cs_dovecot_dir=/usr/lib/dovecot],
  [cs_dovecot_dir=$with_dovecot])

AS_IF([test -n "$cs_dovecot_dir"], [
  AC_MSG_CHECKING([for $cs_dovecot_dir/dovecot-config])
  AS_IF([test -f "$cs_dovecot_dir/dovecot-config"], [
    AC_MSG_RESULT([yes])
    cs_dovecot_dir=`cd "$cs_dovecot_dir" && pwd`
    dnl dovecot-config is a shell fragment; take only the variables needed
    DOVECOT_CFLAGS=`. "$cs_dovecot_dir/dovecot-config" && echo "$DOVECOT_CFLAGS"`
    LIBDOVECOT_INCLUDE=`. "$cs_dovecot_dir/dovecot-config" && echo "$LIBDOVECOT_INCLUDE"`
    LIBDOVECOT_IMAP_INCLUDE=`. "$cs_dovecot_dir/dovecot-config" && echo "$LIBDOVECOT_IMAP_INCLUDE"`
    LIBDOVECOT_STORAGE_INCLUDE=`. "$cs_dovecot_dir/dovecot-config" && echo "$LIBDOVECOT_STORAGE_INCLUDE"`
    dovecot_installed_moduledir=`. "$cs_dovecot_dir/dovecot-config" && echo "$dovecot_moduledir"`
    dovecot_pkgincludedir=`. "$cs_dovecot_dir/dovecot-config" && echo "$dovecot_pkgincludedir"`
    dnl dovecot-config names no release: Dovecot's config.h does
    AC_MSG_CHECKING([for the Dovecot release in $dovecot_pkgincludedir/config.h])
    cs_dovecot_h="$dovecot_pkgincludedir/config.h"
    cs_dovecot_version=`sed -n 's/^#define DOVECOT_VERSION "\(.*\)"$/\1/p' "$cs_dovecot_h" 2>/dev/null`
    cs_dovecot_major=`sed -n 's/^#define DOVECOT_VERSION_MAJOR \([[0-9]]*\)$/\1/p' "$cs_dovecot_h" 2>/dev/null`
    cs_dovecot_minor=`sed -n 's/^#define DOVECOT_VERSION_MINOR \([[0-9]]*\)$/\1/p' "$cs_dovecot_h" 2>/dev/null`
    AS_CASE([$cs_dovecot_major.$cs_dovecot_minor],
      [2.3], [cs_dovecot_api=23],
      [2.4|2.5|2.6|2.7|2.8|2.9], [cs_dovecot_api=24],
      [AC_MSG_RESULT([${cs_dovecot_version:-none}])
       AC_MSG_ERROR([Dovecot ${cs_dovecot_version:-of unknown release} in $cs_dovecot_dir: the plugin builds against 2.3 or 2.4 (or give --without-dovecot)])])
    AC_MSG_RESULT([$cs_dovecot_version (API $cs_dovecot_major.$cs_dovecot_minor)])
    DOVECOT_API_CPPFLAGS="-DCONDSTORE_DOVECOT_API=$cs_dovecot_api"
    dnl link-time optimisation is Dovecot's packaging choice, not needed by
    dnl a plugin, and does not mix well with a libtool convenience library
    DOVECOT_CFLAGS=`echo " $DOVECOT_CFLAGS " | sed -e 's/ -flto[[^ ]]*//g' -e 's/ -ffat-lto-objects//g'`
    build_plugin=yes
  ], [
    AC_MSG_RESULT([no])
    AS_IF([test "$with_dovecot" = check],
      [AC_MSG_NOTICE([Dovecot plugin skipped: no $cs_dovecot_dir/dovecot-config (install dovecot-dev or give --with-dovecot=DIR)])
       build_plugin="no (dovecot-dev not found)"],
      [AC_MSG_ERROR([--with-dovecot=$with_dovecot: no dovecot-config there (install dovecot-dev or give the directory holding dovecot-config)])])
  ])
])

AS_IF([test "$build_plugin" = yes], [
  dovecot_moduledir=$with_dovecot_moduledir
  dnl "make distcheck" configures a fresh tree: let it find Dovecot too
  AC_SUBST([AM_DISTCHECK_CONFIGURE_FLAGS], ["--with-dovecot=$cs_dovecot_dir"])
  build_plugin="yes, for Dovecot $cs_dovecot_version (API $cs_dovecot_major.$cs_dovecot_minor; installs into $dovecot_moduledir; Dovecot's own module dir: $dovecot_installed_moduledir)"
])
AC_SUBST([DOVECOT_CFLAGS])
AC_SUBST([LIBDOVECOT_INCLUDE])
AC_SUBST([LIBDOVECOT_IMAP_INCLUDE])
AC_SUBST([LIBDOVECOT_STORAGE_INCLUDE])
AC_SUBST([dovecot_moduledir])
AC_SUBST([dovecot_installed_moduledir])
AC_SUBST([DOVECOT_API_CPPFLAGS])
AM_CONDITIONAL([BUILD_PLUGIN], [test "x${build_plugin%%[[ ,]]*}" = xyes])
AM_CONDITIONAL([BUILD_PLUGIN_SETTINGS],
  [test "x${build_plugin%%[[ ,]]*}" = xyes && test "$cs_dovecot_api" = 24])
