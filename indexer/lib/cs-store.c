/*
 * cs-store.c - finding a message's file by base name, reconciling one
 * message with the disk, and the conditional store (doc/design.md section 4).
 *
 * The store is a compare-and-set on two levels: the tdb transaction lock
 * serialises every indexer, store and plugin process, so the modseq
 * compared is the latest; and rename(2) of the file name we just looked
 * at fails with ENOENT when any other agent renamed it meanwhile, so a
 * concurrent mutt or MDA is caught too.  A message that loses either way
 * is reported as MODIFIED, never stored.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs-array.h"
#include "cs-file.h"
#include "cs-index-private.h"
#include "cs-maildir.h"
#include "cs-name.h"

#define STORE_RETRIES 3

static const char *const loc_dirs[] = { "new", "cur" };

/* A folder's new/ and cur/, each opened once, when first needed, without
   following anything below the Maildir root (cs_dir_open()).  Every look
   at a message file and every rename is made relative to these fds: a
   new/ or cur/ swapped for a symlink after they were opened is never
   followed, so nothing outside the Maildir is looked at or renamed. */
#define DIR_NOT_OPEN (-2)	/* fd[]: not opened yet; -1: no such dir */
struct folder_dirs {
	struct cs_index *index;
	const char *dir;	/* the folder's path, for messages */
	int fd[2];		/* by location (CS_LOC_NEW, CS_LOC_CUR) */
};

static void folder_dirs_init(struct folder_dirs *fds, struct cs_index *index,
			     const char *dir)
{
	fds->index = index;
	fds->dir = dir;
	fds->fd[CS_LOC_NEW] = fds->fd[CS_LOC_CUR] = DIR_NOT_OPEN;
}

static void folder_dirs_close(struct folder_dirs *fds)
{
	uint8_t loc;

	for (loc = CS_LOC_NEW; loc <= CS_LOC_CUR; loc++) {
		if (fds->fd[loc] >= 0)
			close(fds->fd[loc]);
		fds->fd[loc] = DIR_NOT_OPEN;
	}
}

/* The fd of the folder's loc directory.  Returns 1 and *fd_r, 0 if the
   directory does not exist, -1 on error (a symlink: CS_ERR_SYMLINK). */
static int folder_dir_fd(struct folder_dirs *fds, uint8_t loc, int *fd_r,
			 struct cs_error *err)
{
	char path[PATH_MAX];

	if (fds->fd[loc] == DIR_NOT_OPEN) {
		if (cs_path_fmt(path, sizeof(path), "%s/%s", fds->dir,
				loc_dirs[loc]) < 0)
			return cs_error_set(err, CS_ERR_INVALID,
					    "%s: path too long", fds->dir);
		fds->fd[loc] = cs_dir_open(cs_index_root(fds->index), path);
		if (fds->fd[loc] < 0) {
			if (errno != ENOENT) {
				fds->fd[loc] = DIR_NOT_OPEN;
				return cs_dir_error(err, path);
			}
			fds->fd[loc] = -1;
		}
	}
	*fd_r = fds->fd[loc];
	return *fd_r >= 0 ? 1 : 0;
}

/* Is loc/filename of the folder a regular file (not a symlink)?  Returns
   1 yes, 0 no, -1 error. */
static int file_exists(struct folder_dirs *fds, uint8_t location,
		       const char *filename, struct cs_error *err)
{
	struct stat st;
	int fd, ret;

	ret = folder_dir_fd(fds, location, &fd, err);
	if (ret <= 0)
		return ret;
	return fstatat(fd, filename, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		S_ISREG(st.st_mode) ? 1 : 0;
}

bool cs_maildir_cur_shadows(const char *dir, const struct cs_message *rec)
{
	char path[PATH_MAX];
	struct stat st;

	return rec->rec.location == CS_LOC_CUR &&
		strlen(rec->base) + strlen(rec->suffix) <= CS_NAME_MAX &&
		cs_path_fmt(path, sizeof(path), "%s/cur/%s%s", dir, rec->base,
			    rec->suffix) == 0 &&
		lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Search the folder's loc directory for a file whose base name is base
   (one directory listing, counted in cs_index_dir_reads()).  Returns 1
   and the file name, 0 if none, -1 on error. */
static int find_in_dir(struct folder_dirs *fds, uint8_t location,
		       const char *base, char sep, char *filename_r,
		       struct cs_error *err)
{
	size_t len = strlen(base);
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int fd, ret;

	ret = folder_dir_fd(fds, location, &fd, err);
	if (ret <= 0)
		return ret;
	/* a stream of its own on the same directory (not a dup: its offset
	   is not shared) */
	fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (dp = fdopendir(fd)) == NULL) {
		ret = cs_error_sys(err, "opendir(%s/%s)", fds->dir,
				   loc_dirs[location]);
		if (fd >= 0)
			close(fd);
		return ret;
	}
	fds->index->dir_reads++;
	ret = 0;
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, base, len) != 0 ||
		    (d->d_name[len] != '\0' && d->d_name[len] != sep))
			continue;
		if (fstatat(dirfd(dp), d->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(filename_r, CS_NAME_MAX + 1, "%s", d->d_name);
		ret = 1;
		break;
	}
	closedir(dp);
	return ret;
}

/* How many times locate() reads new/ and cur/ before it takes a message
   for gone. */
#define LOCATE_READS 3

/* Where is base now?  Tries the hint, the recorded name, then reads the
   directories.  Returns 1 found (location and file name), 0 gone, -1. */
static int locate(struct cs_mailbox *box, struct folder_dirs *fds,
		  const char *base, const struct cs_message *rec,
		  int hint_loc, const char *hint_name, uint8_t *location_r,
		  char *filename_r, struct cs_error *err)
{
	char sep = cs_index_separator(box->index), name[CS_NAME_MAX + 2];
	unsigned int attempt;
	int ret;
	uint8_t loc;

	if (hint_name != NULL) {
		ret = file_exists(fds, (uint8_t)hint_loc, hint_name, err);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			*location_r = (uint8_t)hint_loc;
			snprintf(filename_r, CS_NAME_MAX + 1, "%s", hint_name);
			return 1;
		}
	}
	if (rec != NULL &&
	    (size_t)snprintf(name, sizeof(name), "%s%s", base, rec->suffix) <=
	    CS_NAME_MAX) {
		ret = file_exists(fds, rec->rec.location, name, err);
		if (ret < 0)
			return -1;
		if (ret > 0) {
			*location_r = rec->rec.location;
			memcpy(filename_r, name, strlen(name) + 1);
			return 1;
		}
	}
	/* cur/ first: where a base name is in both, cur/ holds the
	   message.  readdir() may miss an entry that another agent renames
	   while it reads, and a file may move from new/ to cur/ between the
	   two reads: "gone" is only believed when the reads find nothing
	   LOCATE_READS times in a row (a message really gone costs the
	   extra reads, a live one is never taken for gone by a race). */
	for (attempt = 0; attempt < LOCATE_READS; attempt++) {
		for (loc = CS_LOC_CUR + 1; loc-- > CS_LOC_NEW; ) {
			ret = find_in_dir(fds, loc, base, sep, filename_r,
					  err);
			if (ret != 0) {
				*location_r = loc;
				return ret;
			}
		}
	}
	return 0;
}

/* The same base name in new/ and cur/: is rec's file in cur/ there (so
   the one in new/ is a leftover)?  As cs_maildir_cur_shadows, relative
   to the folder's fds.  Returns 1 yes, 0 no, -1 error. */
static int cur_shadows(struct folder_dirs *fds, const struct cs_message *rec,
		       struct cs_error *err)
{
	char name[CS_NAME_MAX + 2];

	if (rec->rec.location != CS_LOC_CUR ||
	    (size_t)snprintf(name, sizeof(name), "%s%s", rec->base,
			     rec->suffix) > CS_NAME_MAX)
		return 0;
	return file_exists(fds, CS_LOC_CUR, name, err);
}

static int reconcile_located(struct cs_mailbox *box, struct folder_dirs *fds,
			     const char *base, int hint_loc,
			     const char *hint_name, struct cs_message *msg_r,
			     struct cs_error *err)
{
	char filename[CS_NAME_MAX + 1];
	struct cs_message rec;
	struct cs_disk_state disk = { .present = false, .suffix = "" };
	struct cs_name name;
	uint8_t location;
	bool had_rec;
	int ret, shadow;

	ret = cs_msg_fetch(box, base, strlen(base), &rec, err);
	if (ret < 0)
		return -1;
	had_rec = ret > 0;
	ret = locate(box, fds, base, had_rec ? &rec : NULL, hint_loc,
		     hint_name, &location, filename, err);
	if (ret < 0)
		return -1;
	/* the same base name in new/ and cur/: the one in cur/ is the
	   message (see cs_maildir_cur_shadows) */
	if (ret > 0 && location == CS_LOC_NEW && had_rec) {
		shadow = cur_shadows(fds, &rec, err);
		if (shadow < 0)
			return -1;
		if (shadow > 0) {
			location = CS_LOC_CUR;
			if (cs_path_fmt(filename, sizeof(filename), "%s%s",
					rec.base, rec.suffix) < 0)
				return cs_error_set(err, CS_ERR_INVALID,
						    "%s: name too long",
						    rec.base);
		}
	}
	if (ret > 0 && cs_name_parse(filename, cs_index_separator(box->index),
				     &name, err) == 0) {
		disk.present = true;
		disk.location = location;
		disk.suffix = name.suffix;
		disk.flags = name.flags;
	}
	return cs_reconcile(box, base, strlen(base), &disk, msg_r, err);
}

int cs_maildir_reconcile_one(struct cs_mailbox *box, const char *dir,
			     const char *base, struct cs_message *msg_r,
			     struct cs_error *err)
{
	struct folder_dirs fds;
	int ret;

	folder_dirs_init(&fds, box->index, dir);
	ret = reconcile_located(box, &fds, base, 0, NULL, msg_r, err);
	folder_dirs_close(&fds);
	return ret;
}

int cs_maildir_reconcile_name(struct cs_mailbox *box, const char *dir,
			      uint8_t location, const char *filename,
			      struct cs_message *msg_r, struct cs_error *err)
{
	char base[CS_NAME_MAX + 1];
	struct folder_dirs fds;
	struct cs_name name;
	int ret;

	if (location > CS_LOC_CUR ||
	    cs_name_parse(filename, cs_index_separator(box->index), &name,
			  err) < 0)
		return -1;
	memcpy(base, name.base, name.base_len);
	base[name.base_len] = '\0';
	folder_dirs_init(&fds, box->index, dir);
	ret = reconcile_located(box, &fds, base, location, filename, msg_r,
				err);
	folder_dirs_close(&fds);
	return ret;
}

/* --- store --- */

static uint64_t apply_op(enum cs_store_op op, uint64_t old, uint64_t flags)
{
	switch (op) {
	case CS_STORE_ADD:
		return old | flags;
	case CS_STORE_REMOVE:
		return old & ~flags;
	case CS_STORE_REPLACE:
		break;
	}
	/* FLAGS replaces what IMAP can name; unknown letters stay */
	return flags | (old & ~(CS_FLAGS_ALL & (CS_FLAGS_KEYWORDS |
		CS_FLAG_FORWARDED | CS_FLAG_ANSWERED | CS_FLAG_SEEN |
		CS_FLAG_DELETED | CS_FLAG_DRAFT | CS_FLAG_FLAGGED)));
}

/* Rename the message's file to carry flags, relative to the folder's
   fds.  Returns 1 renamed, 0 the file was renamed by someone else
   (ENOENT), -1 error. */
static int rename_with_flags(struct cs_mailbox *box, struct folder_dirs *fds,
			     const struct cs_message *msg, uint64_t flags,
			     struct cs_error *err)
{
	char sep = cs_index_separator(box->index);
	char suffix[CS_SUFFIX_MAX + 1], from[CS_NAME_MAX + 1];
	char to[CS_NAME_MAX + 1];
	int from_fd, to_fd, ret;

	if (cs_suffix_with_flags(msg->suffix, sep, flags, suffix,
				 sizeof(suffix), err) < 0)
		return -1;
	if (strlen(msg->base) + strlen(suffix) > CS_NAME_MAX)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: %s: file name would be too long",
				    box->name, msg->base);
	/* a message with flags lives in cur/ */
	if (cs_path_fmt(from, sizeof(from), "%s%s", msg->base,
			msg->suffix) < 0 ||
	    cs_path_fmt(to, sizeof(to), "%s%s", msg->base, suffix) < 0)
		return cs_error_set(err, CS_ERR_INVALID, "%s: %s: name too "
				    "long", box->name, msg->base);
	ret = folder_dir_fd(fds, msg->rec.location, &from_fd, err);
	if (ret <= 0)
		return ret;
	ret = folder_dir_fd(fds, CS_LOC_CUR, &to_fd, err);
	if (ret <= 0)
		return ret;
	if (renameat(from_fd, from, to_fd, to) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	return cs_error_sys(err, "rename(%s/%s/%s, %s/cur/%s)", fds->dir,
			    loc_dirs[msg->rec.location], from, fds->dir, to);
}

/* Store on one message.  Returns 1 stored, 0 modified, -2 gone, -3 its
   file could not be renamed (err says why; nothing changed), -1. */
static int store_one(struct cs_mailbox *box, struct folder_dirs *fds,
		     uint32_t uid,
		     enum cs_store_op op, uint64_t flags,
		     uint64_t unchangedsince, struct cs_message *msg,
		     struct cs_error *err)
{
	int i, ret;

	for (i = 0; i < STORE_RETRIES; i++) {
		uint64_t new_flags;

		ret = cs_message_lookup_uid(box, uid, msg, err);
		if (ret <= 0)
			return ret < 0 ? -1 : -2;
		if (reconcile_located(box, fds, msg->base, 0, NULL, msg,
				      err) < 0)
			return -1;
		if (msg->rec.modseq == 0)
			return -2;
		if (unchangedsince != 0 && msg->rec.modseq > unchangedsince)
			return 0;
		new_flags = apply_op(op, msg->rec.flags, flags);
		if (new_flags == msg->rec.flags)
			return 1;
		ret = rename_with_flags(box, fds, msg, new_flags, err);
		if (ret < 0)
			return -3;
		if (ret > 0)
			return reconcile_located(box, fds, msg->base, 0, NULL,
						 msg, err) < 0 ? -1 : 1;
		/* renamed under us: with a condition that is a loss; without
		   one, look again */
		if (reconcile_located(box, fds, msg->base, 0, NULL, msg,
				      err) < 0)
			return -1;
		if (unchangedsince != 0)
			return 0;
	}
	return 0;
}

static uint32_t range_end(const struct cs_mailbox *box, uint32_t last)
{
	uint32_t max = box->rec.uidnext > 0 ? box->rec.uidnext - 1 : 0;

	return last == CS_UID_STAR || last > max ? max : last;
}

/* Results are reported after the commit, so that nothing is announced
   that did not become durable. */
struct store_failure {
	uint32_t uid;
	char *reason;
};

struct store_results {
	struct cs_message *stored;
	size_t nstored, alloc;
	struct cs_uidset modified;
	struct store_failure *failed;
	size_t nfailed, failed_alloc;
};

static int results_add_failed(struct store_results *res, uint32_t uid,
			      const struct cs_error *why)
{
	char *reason;

	if (cs_array_grow(&res->failed, sizeof(*res->failed), res->nfailed,
			  &res->failed_alloc, 4) < 0)
		return -1;
	reason = strdup(why->text);
	if (reason == NULL)
		return -1;
	res->failed[res->nfailed].uid = uid;
	res->failed[res->nfailed++].reason = reason;
	return 0;
}

static void results_free(struct store_results *res)
{
	size_t i;

	for (i = 0; i < res->nfailed; i++)
		free(res->failed[i].reason);
	free(res->failed);
	free(res->stored);
	cs_uidset_free(&res->modified);
}

static int results_add_stored(struct store_results *res,
			      const struct cs_message *msg)
{
	if (cs_array_grow(&res->stored, sizeof(*res->stored), res->nstored,
			  &res->alloc, 16) < 0)
		return -1;
	res->stored[res->nstored++] = *msg;
	return 0;
}

static int results_report(const struct store_results *res,
			  const struct cs_store_result_cb *cbs)
{
	size_t i;
	uint32_t uid;

	if (cbs == NULL)
		return 0;
	for (i = 0; i < res->nstored && cbs->stored != NULL; i++) {
		if (cbs->stored(cbs->ctx, &res->stored[i]) < 0)
			return -1;
	}
	for (i = 0; i < res->nfailed && cbs->failed != NULL; i++) {
		if (cbs->failed(cbs->ctx, res->failed[i].uid,
				res->failed[i].reason) < 0)
			return -1;
	}
	for (i = 0; i < res->modified.count && cbs->modified != NULL; i++) {
		for (uid = res->modified.ranges[i].first;; uid++) {
			if (cbs->modified(cbs->ctx, uid) < 0)
				return -1;
			if (uid == res->modified.ranges[i].last)
				break;
		}
	}
	return 0;
}

static int store_range(struct cs_mailbox *box, struct folder_dirs *fds,
		       uint32_t first, uint32_t last, enum cs_store_op op,
		       uint64_t flags, uint64_t unchangedsince,
		       struct store_results *res, struct cs_error *err)
{
	struct cs_message msg;
	struct cs_error one;
	uint32_t uid;
	int ret;

	/* the UIDs that exist, not every number of the range (a
	   dovecot-uidlist may say N4294967295) */
	for (; (ret = cs_rank_next(box, first, &uid, err)) > 0 &&
	       uid <= last; first = uid + 1) {
		cs_error_clear(&one);
		ret = store_one(box, fds, uid, op, flags, unchangedsince,
				&msg, &one);
		if (ret == -1) {
			if (err != NULL)
				*err = one;
			return -1;
		}
		if ((ret == -3 && results_add_failed(res, uid, &one) < 0) ||
		    (ret == 1 && results_add_stored(res, &msg) < 0) ||
		    (ret == 0 && cs_uidset_add(&res->modified, uid) < 0))
			return cs_error_set(err, CS_ERR_IO, "out of memory");
		if (uid == last)
			return 0;
	}
	return ret < 0 ? -1 : 0;
}

int cs_maildir_store(struct cs_mailbox *box, const struct cs_uidset *uids,
		     enum cs_store_op op, uint64_t flags,
		     uint64_t unchangedsince,
		     const struct cs_store_result_cb *cbs,
		     struct cs_error *err)
{
	struct store_results res;
	struct folder_dirs fds;
	char dir[PATH_MAX];
	size_t i;
	int ret = 0;

	memset(&res, 0, sizeof(res));
	cs_uidset_init(&res.modified);
	if (cs_mailbox_path(cs_index_root(box->index), box->name, dir,
			    sizeof(dir), err) < 0 ||
	    cs_index_begin(box->index, err) < 0)
		return -1;
	if (box->gone) {
		cs_index_rollback(box->index);
		return cs_error_set(err, CS_ERR_NOTFOUND,
				    "mailbox %s does not exist", box->name);
	}
	/* opened under the index lock, once for the whole store */
	folder_dirs_init(&fds, box->index, dir);
	for (i = 0; i < uids->count && ret == 0; i++) {
		uint32_t last = range_end(box, uids->ranges[i].last);
		uint32_t first = uids->ranges[i].first;

		if (first == CS_UID_STAR || first > last) {
			/* "N:*" with N above the highest UID is "max:N" */
			if (uids->ranges[i].last != CS_UID_STAR)
				continue;
			first = last;
		}
		if (first == 0)
			continue;
		ret = store_range(box, &fds, first, last, op, flags,
				  unchangedsince, &res, err);
	}
	folder_dirs_close(&fds);
	if (ret < 0)
		cs_index_rollback(box->index);
	else
		ret = cs_index_commit(box->index, err);
	if (ret == 0)
		ret = results_report(&res, cbs);
	results_free(&res);
	return ret;
}
