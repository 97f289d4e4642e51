/*
 * watch-state.c - the unclean-stop marker beside each index a watch daemon
 * serves.  It only tells the next daemon to say so: the startup reconcile
 * of every mailbox follows every start anyway, and after a system crash
 * that may have lost --nosync commits the library raises the counters
 * when the index is opened (the .nosync marker, cs-nosync.c).
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
	const char *pid;
	char line[256];
	FILE *fp = NULL;
	int ret;

	memset(state_r, 0, sizeof(*state_r));
	cs_error_clear(&err);
	ret = cs_file_open_read(path, &fp, &err);
	if (ret == 0)
		return 0;
	/* a marker that can't be read or parsed (a symlink is not
	   followed) still reveals an unclean stop; the pid is its last
	   word (older daemons wrote "BOOT-ID NOSYNC PID") */
	if (ret > 0 && fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		pid = strrchr(line, ' ');
		pid = pid == NULL ? line : pid + 1;
		if (sscanf(pid, "%ld", &state_r->pid) != 1 ||
		    state_r->pid < 0)
			state_r->pid = 0;
	}
	if (fp != NULL)
		fclose(fp);
	return 1;
}

int watch_state_write(const char *path, struct cs_error *err)
{
	char line[32];
	int len;

	len = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	return cs_file_replace(path, line, (size_t)len, err);
}
