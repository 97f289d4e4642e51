/*
 * cs-owner.h - acting as a Maildir's owner when run as root.
 *
 * A program run as root (the shared watch daemon, reindex, check, the
 * cron check) must not create files in a user's Maildir that the user
 * can't write, nor read anything through it that the user can't read.
 * Around every access to a Maildir it switches its file-system identity
 * (setfsuid/setfsgid: per thread on Linux, and they drop the capability
 * to override file permissions while not 0) to the owner of the
 * Maildir's root directory, and back afterwards.  Supplementary groups
 * are dropped once at start (cs_owner_init), so that only the owner's
 * uid and primary gid count.
 *
 * A root owned by root is served as root, with root's rights: root made
 * it its own, and no user has a say in it unless root gave them part of
 * it (doc/running-as-root.md).  Not run as root, nothing is switched.
 */
#ifndef CS_OWNER_H
#define CS_OWNER_H

#include <stdbool.h>
#include <sys/types.h>

#include "cs-error.h"

struct cs_owner {
	bool switched;		/* fsuid/fsgid were changed */
	uid_t uid, prev_uid;
	gid_t gid, prev_gid;
};

/* At the start of a program that may run as root (before any thread):
   when the effective uid is 0, drop every supplementary group
   (setgroups(0)).  Where that is not permitted (a user namespace), only
   Maildirs owned by root can be served: cs_owner_enter() fails for the
   others.  Returns 0 or -1. */
int cs_owner_init(struct cs_error *err);

/* Act as the owner of the directory root (stat, following a symlink the
   admin named) for file access in the calling thread.  Not root, or a
   root owned by root: nothing changes.  Returns 0, or -1 (nothing
   changed).  Every successful call is paired with cs_owner_leave(). */
int cs_owner_enter(const char *root, struct cs_owner *owner_r,
		   struct cs_error *err);

/* Back to the identity before cs_owner_enter().  owner is cleared. */
void cs_owner_leave(struct cs_owner *owner);

#endif
