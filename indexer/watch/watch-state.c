/*
 * watch-state.c - the unclean-stop marker beside each index a watch daemon
 * serves (raising the counters after an unclean stop that may have lost
 * --nosync commits is cs_index_raise_all()).
 *
 * A process crash loses nothing even under --nosync (the commits are in
 * the page cache, and tdb recovers an interrupted commit at the next
 * open): the startup reconcile is enough.  A system crash may lose them;
 * the kernel's boot id in the marker tells the two apart.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs-file.h"
#include "watch-state.h"

bool watch_state_path(const char *root, const char *db_path, char *buf,
		      size_t size)
{
	int len;

	if (db_path != NULL)
		len = snprintf(buf, size, "%s" WATCH_STATE_SUFFIX, db_path);
	else
		len = snprintf(buf, size, "%s/" CS_DB_NAME WATCH_STATE_SUFFIX,
			       root);
	return len >= 0 && (size_t)len < size;
}

int watch_state_read(const char *path, struct watch_state *state_r)
{
	struct cs_error err;
	char line[256];
	FILE *fp = NULL;
	int ret;

	memset(state_r, 0, sizeof(*state_r));
	cs_error_clear(&err);
	ret = cs_file_open_read(path, &fp, &err);
	if (ret == 0)
		return 0;
	/* a marker that can't be read or parsed (a symlink is not
	   followed) still reveals an unclean stop; it is then treated as
	   one that may have lost commits */
	if (ret < 0 || fgets(line, sizeof(line), fp) == NULL ||
	    sscanf(line, "%63s %d %ld", state_r->boot, &state_r->nosync,
		   &state_r->pid) != 3) {
		strcpy(state_r->boot, "?");
		state_r->nosync = 1;
	}
	if (fp != NULL)
		fclose(fp);
	return 1;
}

int watch_state_write(const char *path, bool nosync, struct cs_error *err)
{
	char boot[64], line[128];
	int len;

	cs_boot_id(boot, sizeof(boot));
	len = snprintf(line, sizeof(line), "%s %d %ld\n",
		       boot[0] != '\0' ? boot : "-", nosync ? 1 : 0,
		       (long)getpid());
	if (len < 0 || (size_t)len >= sizeof(line))
		return cs_error_set(err, CS_ERR_INVALID, "boot id too long");
	return cs_file_replace(path, line, (size_t)len, err);
}

bool watch_state_lost_commits(const struct watch_state *state)
{
	char boot[64];

	cs_boot_id(boot, sizeof(boot));
	return state->nosync != 0 &&
		(boot[0] == '\0' || strcmp(boot, state->boot) != 0);
}
