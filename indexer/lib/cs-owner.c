/*
 * cs-owner.c - acting as a Maildir's owner when run as root
 * (see cs-owner.h).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-owner.h"

/* why the supplementary groups could not be dropped (0: they were, or
   cs_owner_init() was not called as root); set once at start */
static int groups_errno;

int cs_owner_init(struct cs_error *err)
{
	if (geteuid() != 0)
		return 0;
	if (setgroups(0, NULL) == 0)
		return 0;
	/* a user namespace may forbid it (/proc/self/setgroups "deny"):
	   fatal only when a Maildir must be served as another user */
	if (errno != EPERM)
		return cs_error_sys(err, "setgroups(0)");
	groups_errno = errno;
	return 0;
}

int cs_owner_enter(const char *root, struct cs_owner *owner_r,
		   struct cs_error *err)
{
	struct stat st;

	memset(owner_r, 0, sizeof(*owner_r));
	if (geteuid() != 0)
		return 0;
	if (stat(root, &st) < 0)
		return cs_error_sys(err, "Maildir %s", root);
	if (st.st_uid == 0)
		return 0;
	if (groups_errno != 0)
		return cs_error_set(err, CS_ERR_IO, "Maildir %s: can't act as "
				    "its owner (uid %ld): the supplementary "
				    "groups could not be dropped (setgroups: "
				    "%s)", root, (long)st.st_uid,
				    strerror(groups_errno));
	owner_r->uid = st.st_uid;
	owner_r->gid = st.st_gid;
	/* setfsgid first: once the fsuid is not 0, the thread can still
	   change it (CAP_SETGID is no file capability), but it is cleaner
	   to switch the group while still fully root */
	owner_r->prev_gid = (gid_t)setfsgid(st.st_gid);
	owner_r->prev_uid = (uid_t)setfsuid(st.st_uid);
	owner_r->switched = true;
	/* setfsuid reports no error: asking again returns the current one */
	if ((uid_t)setfsuid(st.st_uid) != st.st_uid ||
	    (gid_t)setfsgid(st.st_gid) != st.st_gid) {
		cs_owner_leave(owner_r);
		return cs_error_set(err, CS_ERR_IO, "Maildir %s: could not "
				    "act as its owner (uid %ld)", root,
				    (long)st.st_uid);
	}
	return 0;
}

void cs_owner_leave(struct cs_owner *owner)
{
	if (owner->switched) {
		(void)setfsuid(owner->prev_uid);
		(void)setfsgid(owner->prev_gid);
	}
	memset(owner, 0, sizeof(*owner));
}
