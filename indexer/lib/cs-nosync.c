/*
 * cs-nosync.c - commits without fsync ("nosync": the plugin's
 * maildir_condstore_nosync, "condstore watch --nosync") made safe against
 * a system crash, and raising every counter of an index above the
 * high-water mark.
 *
 * A nosync commit sits in the page cache until the kernel writes it: a
 * process crash loses nothing, a system crash (power loss) may lose the
 * last commits while clients have already seen their modseqs.  The
 * high-water-mark file is always written with fsync, so its ceiling is
 * above every modseq ever handed out; what is needed after such a crash
 * is to raise every mailbox's counter to that ceiling before anything
 * else is written, so that no lost modseq is handed out again.
 *
 * Who must do that is told by a marker beside the index, DB_PATH
 * ".nosync", holding the boot id of the kernel under which a nosync
 * writer last opened the index (/proc/sys/kernel/random/boot_id).  Every
 * process opening the index for writing reads it: a marker from another
 * boot means nosync commits of that boot may be lost, so the counters are
 * raised (one durable transaction per mailbox) and the marker is
 * rewritten with the current boot.  A nosync writer makes sure the marker
 * names the current boot, with fsync, before its first commit.  A marker
 * is never removed (a durable writer cannot know whether a nosync one
 * runs beside it): a host that once used nosync raises its counters once
 * per boot, a jump of at most CS_HWM_BLOCK.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tdb.h>

#include "cs-file.h"
#include "cs-index-private.h"

#define CS_NOSYNC_SUFFIX ".nosync"
#define CS_BOOT_ID_MAX 64

/* The boot id the marker names ("" when it can't be parsed).  Returns 1,
   0 if there is no marker, -1 on error. */
static int marker_read(const char *path, char *boot_r, size_t size,
		       struct cs_error *err)
{
	FILE *fp;
	int ret;

	boot_r[0] = '\0';
	ret = cs_file_open_read(path, &fp, err);
	if (ret <= 0)
		return ret;
	if (fgets(boot_r, (int)size, fp) == NULL)
		boot_r[0] = '\0';
	boot_r[strcspn(boot_r, "\n")] = '\0';
	fclose(fp);
	return 1;
}

static int marker_write(const char *path, const char *boot,
			struct cs_error *err)
{
	char line[CS_BOOT_ID_MAX + 2];

	snprintf(line, sizeof(line), "%s\n", boot[0] != '\0' ? boot : "-");
	return cs_file_replace(path, line, strlen(line), err);
}

/* Raise one mailbox in a transaction of its own.  Returns 0 or -1. */
static int raise_one(struct cs_index *index, const char *name,
		     uint64_t ceiling, struct cs_error *err)
{
	struct cs_mailbox *box = NULL;
	int ret;

	ret = cs_index_begin(index, err);
	if (ret == 0)
		ret = cs_mailbox_open(index, name, false, 0, 0, &box, err);
	if (ret > 0)
		ret = cs_mailbox_raise(box, ceiling, err);
	if (ret >= 0)
		ret = cs_index_commit(index, err);
	if (ret < 0 && cs_index_in_transaction(index))
		cs_index_rollback(index);
	cs_mailbox_close(&box);
	return ret < 0 ? -1 : 0;
}

int cs_index_raise_all(struct cs_index *index, struct cs_error *err)
{
	uint64_t ceiling = 0;
	bool nosync = index->nosync;
	char **names;
	size_t i, count;
	int ret = 0;

	if (cs_index_hwm(index, &ceiling, err) < 0 ||
	    cs_mailbox_names(index, &names, &count, err) < 0)
		return -1;
	/* the raise itself must survive the next crash */
	if (nosync)
		tdb_remove_flags(index->tdb, TDB_NOSYNC);
	for (i = 0; i < count && ret == 0; i++)
		ret = raise_one(index, names[i], ceiling, err);
	if (nosync)
		tdb_add_flags(index->tdb, TDB_NOSYNC);
	cs_mailbox_names_free(&names);
	return ret;
}

int cs_index_nosync_check(struct cs_index *index, struct cs_error *err)
{
	char path[PATH_MAX], boot[CS_BOOT_ID_MAX], marker[CS_BOOT_ID_MAX];
	int ret;

	if (cs_path_fmt(path, sizeof(path), "%s" CS_NOSYNC_SUFFIX,
			index->db_path) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: path too long",
				    index->db_path);
	cs_boot_id(boot, sizeof(boot));
	ret = marker_read(path, marker, sizeof(marker), err);
	if (ret < 0)
		return -1;
	if (ret > 0 && (boot[0] == '\0' || strcmp(marker, boot) != 0)) {
		/* a nosync writer ran under another boot (or we can't tell) */
		if (cs_index_raise_all(index, err) < 0)
			return -1;
	} else if (ret > 0 || !index->nosync) {
		return 0;
	}
	return marker_write(path, boot, err);
}
