dnl plugin/configure.m4 - configure part of the Dovecot plugin.
dnl
dnl Looks for Dovecot's dovecot-config (the file dovecot-dev installs) and,
dnl when found, builds plugin/lib20_maildir_condstore_plugin.so with the
dnl compiler flags it names.  Without Dovecot the rest still builds and
dnl the plugin is skipped.  dovecot-config is read here rather than through
dnl DC_DOVECOT, which stops configure when the file is missing and rewrites
dnl CFLAGS for the whole project.
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
  build_plugin="yes (installs into $dovecot_moduledir; Dovecot's own module dir: $dovecot_installed_moduledir)"
])
AC_SUBST([DOVECOT_CFLAGS])
AC_SUBST([LIBDOVECOT_INCLUDE])
AC_SUBST([LIBDOVECOT_IMAP_INCLUDE])
AC_SUBST([LIBDOVECOT_STORAGE_INCLUDE])
AC_SUBST([dovecot_moduledir])
AC_SUBST([dovecot_installed_moduledir])
AM_CONDITIONAL([BUILD_PLUGIN], [test "x${build_plugin%% *}" = xyes])
