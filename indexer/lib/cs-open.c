/*
 * cs-open.c - the policy on top of the db layer: opening an index for
 * use (a new file's hash table sized by counting the Maildir's files; for
 * a writer, the recovery after a nosync writer's unclean stop and after
 * an index restored older than its high-water mark), opening one for a
 * build, and rebuilding one with its counters seeded above the old.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "cs-hwm.h"
#include "cs-index-private.h"
#include "cs-maildir.h"

/* Is the high-water mark above the index's ceiling?  Looked at again
   inside a transaction, where no writer is between raising the file and
   committing the header.  Returns 1/0/-1. */
static int hwm_ahead(struct cs_index *index, uint64_t *hwm_r,
		     struct cs_error *err)
{
	struct cs_hwm hwm;
	int ret;

	if (cs_hwm_read(index->hwm_path, &hwm, err) < 0)
		return -1;
	if (hwm.ceiling <= index->hdr.ceiling)
		return 0;
	if (cs_index_begin(index, err) < 0)
		return -1;
	ret = cs_hwm_read(index->hwm_path, &hwm, err);
	cs_index_rollback(index);
	if (ret < 0)
		return -1;
	*hwm_r = hwm.ceiling;
	return hwm.ceiling > index->hdr.ceiling ? 1 : 0;
}

/* An index older than its high-water mark: restored from a backup while
   the .hwm kept the newer value (or a raise whose transaction failed).
   Modseqs between the two ceilings may have been handed out by the newer
   index: every counter is raised above the file's ceiling, as after an
   unclean nosync stop, and the index's ceiling brought up to it, so that
   this happens once. */
static int index_older_than_hwm(struct cs_index *index, struct cs_error *err)
{
	uint64_t hwm = 0;
	int ret;

	ret = hwm_ahead(index, &hwm, err);
	if (ret <= 0)
		return ret;
	if (cs_index_raise_all(index, err) < 0 ||
	    cs_index_begin(index, err) < 0)
		return -1;
	if (index->hdr.ceiling < hwm) {
		index->hdr.ceiling = hwm;
		index->hdr_dirty = true;
	}
	return cs_index_commit(index, err);
}

int cs_index_open(const struct cs_index_settings *set,
		  struct cs_index **index_r, struct cs_error *err)
{
	if (cs_index_open_raw(set, 0, NULL, cs_maildir_suggest_hash_size,
			      index_r, err) < 0)
		return -1;
	if ((*index_r)->hdr.version != CS_RECORD_VERSION &&
	    (set->readonly ? cs_index_layout1_error(*index_r, err) :
	     cs_index_convert(*index_r, err)) < 0) {
		cs_index_close(index_r);
		return -1;
	}
	if (!set->readonly && (cs_index_nosync_check(*index_r, err) < 0 ||
			       index_older_than_hwm(*index_r, err) < 0)) {
		cs_index_close(index_r);
		return -1;
	}
	return 0;
}

int cs_index_open_bulk(const struct cs_index_settings *set, uint64_t floor,
		       const char *tdb_path, struct cs_index **index_r,
		       struct cs_error *err)
{
	/* no nosync check: the new index's counters are seeded above the
	   high-water mark, which every modseq ever handed out is below */
	return cs_index_open_raw(set, floor, tdb_path, NULL, index_r, err);
}


/* --- rebuild --- */

static int max_hms_cb(void *ctx, const char *name,
		      const struct cs_mailbox_rec *rec, struct cs_error *err)
{
	uint64_t *max = ctx;

	(void)name;
	(void)err;
	if (rec->highestmodseq > *max)
		*max = rec->highestmodseq;
	return 0;
}

uint64_t cs_index_floor(const struct cs_index_settings *set)
{
	struct cs_index_settings ro = *set;
	struct cs_index *old;
	uint64_t max = 0;

	ro.readonly = true;
	/* any layout: only the header and the mailbox records are read */
	if (cs_index_open_raw(&ro, 0, NULL, NULL, &old, NULL) < 0)
		return 0;
	max = old->hdr.ceiling;
	(void)cs_mailbox_list(old, max_hms_cb, &max, NULL);
	cs_index_close(&old);
	return max;
}

int cs_index_rebuild(const struct cs_index_settings *set,
		     struct cs_error *err)
{
	struct cs_index *index;
	char path[PATH_MAX], old[PATH_MAX + 8];
	uint64_t floor;

	if (set->db_path != NULL)
		snprintf(path, sizeof(path), "%s", set->db_path);
	else
		snprintf(path, sizeof(path), "%s/%s", set->root, CS_DB_NAME);
	floor = cs_index_floor(set);
	snprintf(old, sizeof(old), "%s.old", path);
	if (rename(path, old) < 0 && errno != ENOENT)
		return cs_error_sys(err, "rename(%s, %s)", path, old);
	if (cs_index_open_raw(set, floor, NULL, cs_maildir_suggest_hash_size,
			      &index, err) < 0)
		return -1;
	cs_index_close(&index);
	if (unlink(old) < 0 && errno != ENOENT)
		return cs_error_sys(err, "unlink(%s)", old);
	return 0;
}
