/*
 * cs-sync.c - placeholder until the watch daemon lands: no daemon ever
 * serves a Maildir.
 */
#include "config.h"

#include <string.h>

#include "cs-sync.h"

int cs_daemon_register(struct cs_index *index, struct cs_error *err)
{
	(void)index;
	return cs_error_set(err, CS_ERR_INVALID, "no watch daemon built");
}

int cs_daemon_unregister(struct cs_index *index, struct cs_error *err)
{
	(void)index;
	(void)err;
	return 0;
}

int cs_daemon_lookup(struct cs_index *index, struct cs_daemon_rec *rec_r,
		     struct cs_error *err)
{
	(void)index;
	(void)rec_r;
	(void)err;
	return 0;
}

bool cs_sync_is_cookie(const char *name)
{
	return strncmp(name, CS_SYNC_COOKIE_PREFIX,
		       strlen(CS_SYNC_COOKIE_PREFIX)) == 0;
}

int cs_sync_ack(const char *root, const char *name, struct cs_error *err)
{
	(void)root;
	(void)name;
	(void)err;
	return 0;
}

int cs_sync_wait(struct cs_index *index, unsigned int timeout_ms,
		 struct cs_error *err)
{
	(void)timeout_ms;
	return cs_error_set(err, CS_ERR_NOTFOUND,
			    "%s: no watch daemon serves this Maildir",
			    cs_index_root(index));
}
