/*
 * condstore-dovecot.h - the differences between the Dovecot releases the
 * plugin builds against (2.3.19 and later, 2.4.1 and later), so that the
 * rest of the plugin reads the same on both.  configure picks the release
 * from the dovecot-config it finds and passes CONDSTORE_DOVECOT_API (23 or
 * 24); the check below stops a build whose headers are not that release.
 *
 * Include it after Dovecot's lib.h.  What it provides:
 *
 *   str_begins_with(str, prefix)  2.4's name; 2.3 calls it str_begins()
 *                                 (2.4's str_begins() takes a third
 *                                 argument, the suffix)
 *   CONDSTORE_DOVECOT_24          defined when built for 2.4
 *
 * The plugin's settings differ more (plugin { } on 2.3, declared settings
 * on 2.4): condstore-settings.c reads them.
 */
#ifndef CONDSTORE_DOVECOT_H
#define CONDSTORE_DOVECOT_H

#ifndef CONDSTORE_DOVECOT_API
#  error "CONDSTORE_DOVECOT_API is not set (configure passes it)"
#endif

#if CONDSTORE_DOVECOT_API == 24
#  if DOVECOT_VERSION_MAJOR == 2 && DOVECOT_VERSION_MINOR < 4
#    error "configured for Dovecot 2.4, but these are Dovecot 2.3's headers"
#  endif
#  define CONDSTORE_DOVECOT_24 1
#elif CONDSTORE_DOVECOT_API == 23
#  if DOVECOT_VERSION_MAJOR != 2 || DOVECOT_VERSION_MINOR != 3
#    error "configured for Dovecot 2.3, but these are not Dovecot 2.3's headers"
#  endif
#  define str_begins_with(str, prefix) str_begins(str, prefix)
#else
#  error "CONDSTORE_DOVECOT_API must be 23 or 24"
#endif

#endif
