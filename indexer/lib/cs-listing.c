/*
 * cs-listing.c - the census of a Maildir root: its message files counted
 * and, for a first build, listed once into memory (see cs-listing.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cs-array.h"
#include "cs-file.h"
#include "cs-index-private.h"
#include "cs-listing.h"
#include "cs-maildir.h"

static const char *const census_dirs[] = { "new", "cur" };

struct census_ctx {
	const char *root;
	char separator;
	struct cs_maildir_census *census;
};

unsigned char cs_dirent_type(int dirfd, const char *name,
			     unsigned char d_type)
{
	struct stat st;

	if (d_type != DT_UNKNOWN)
		return d_type;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return DT_UNKNOWN;
	return IFTODT(st.st_mode);
}

/* Keep name (len bytes) of type in ls, within the census's budget.
   Returns 0, or -1 when it can't (the listing is then dropped). */
static int listing_add(struct cs_maildir_census *census,
		       struct cs_listing *ls, const char *name, size_t len,
		       unsigned char type)
{
	struct cs_listing_entry *e;
	size_t before = ls->names_alloc + ls->alloc * sizeof(*ls->entries);
	int ret;

	ret = ls->names_used + len + 1 > UINT32_MAX ||
		cs_array_reserve(&ls->names, 1, ls->names_used, len + 1,
				 &ls->names_alloc, 65536) < 0 ||
		cs_array_grow(&ls->entries, sizeof(*ls->entries), ls->count,
			      &ls->alloc, 1024) < 0 ? -1 : 0;
	/* (what grew is counted even when the other failed: listing_drop
	   takes it all back) */
	census->kept += ls->names_alloc + ls->alloc * sizeof(*ls->entries) -
		before;
	if (ret < 0 || census->kept > census->budget)
		return -1;
	e = &ls->entries[ls->count++];
	e->name = (uint32_t)ls->names_used;
	e->type = type;
	memcpy(ls->names + ls->names_used, name, len + 1);
	ls->names_used += len + 1;
	return 0;
}

static void listing_drop(struct cs_maildir_census *census,
			 struct cs_listing *ls)
{
	census->kept -= ls->names_alloc + ls->alloc * sizeof(*ls->entries);
	free(ls->names);
	free(ls->entries);
	ls->names = NULL;
	ls->entries = NULL;
	ls->names_used = ls->names_alloc = ls->count = ls->alloc = 0;
	ls->complete = false;
}

/* Count (and keep, when ls is not NULL) the entries of one directory.
   Returns 0, or -1 when the directory could not be read. */
static int census_dir(struct census_ctx *cc, const char *path,
		      struct cs_listing *ls)
{
	struct cs_maildir_census *census = cc->census;
	struct dirent *d;
	const char *sep;
	size_t len;
	DIR *dir = cs_dir_opendir(cc->root, path);

	if (dir == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		len = strlen(d->d_name);
		sep = memchr(d->d_name, cc->separator, len);
		census->files++;
		census->name_bytes += len;
		census->base_bytes += sep == NULL ? len :
			(size_t)(sep - d->d_name);
		if (ls != NULL && ls->complete &&
		    listing_add(census, ls, d->d_name, len,
				cs_dirent_type(dirfd(dir), d->d_name,
					       d->d_type)) < 0)
			listing_drop(census, ls);
	}
	closedir(dir);
	return 0;
}

/* A new listing for mailbox in the census, or NULL (out of memory, or
   the budget spent: the mailbox is only counted). */
static struct cs_listing *listing_new(struct cs_maildir_census *census,
				      const char *mailbox)
{
	struct cs_listing *ls;

	if (census->kept >= census->budget ||
	    cs_array_grow(&census->listings, sizeof(*census->listings),
			  census->nlistings, &census->alloc, 16) < 0)
		return NULL;
	ls = &census->listings[census->nlistings];
	memset(ls, 0, sizeof(*ls));
	ls->mailbox = strdup(mailbox);
	if (ls->mailbox == NULL)
		return NULL;
	ls->complete = true;
	census->nlistings++;
	return ls;
}

static int census_cb(void *ctx, const char *name, const char *path)
{
	struct census_ctx *cc = ctx;
	struct cs_listing *ls = listing_new(cc->census, name);
	char sub[PATH_MAX];
	int i;

	for (i = 0; i < 2; i++) {
		if (ls != NULL)
			ls->start[i] = ls->count;
		if (cs_path_fmt(sub, sizeof(sub), "%s/%s", path,
				census_dirs[i]) < 0 ||
		    census_dir(cc, sub, ls) < 0) {
			/* (an absent new/ or cur/ is read as empty by a
			   scan too, but the listing leaves that to it) */
			if (ls != NULL && ls->complete)
				listing_drop(cc->census, ls);
		}
	}
	if (ls != NULL)
		ls->start[2] = ls->count;
	return 0;
}

void cs_maildir_census(const char *root, char separator, uint64_t budget,
		       struct cs_maildir_census *census_r)
{
	struct census_ctx cc = {
		.root = root,
		.separator = separator != '\0' ? separator : ':',
		.census = census_r,
	};

	memset(census_r, 0, sizeof(*census_r));
	census_r->budget = budget;
	(void)cs_maildir_list(root, census_cb, &cc, NULL, NULL, NULL);
}

void cs_maildir_census_free(struct cs_maildir_census *census)
{
	size_t i;

	for (i = 0; i < census->nlistings; i++) {
		listing_drop(census, &census->listings[i]);
		free(census->listings[i].mailbox);
	}
	free(census->listings);
	census->listings = NULL;
	census->nlistings = census->alloc = 0;
}

const struct cs_listing *
cs_census_listing(const struct cs_maildir_census *census,
		  const char *mailbox, size_t *pos)
{
	size_t i;

	for (i = *pos; i < census->nlistings; i++) {
		if (strcmp(census->listings[i].mailbox, mailbox) == 0) {
			*pos = i + 1;
			return census->listings[i].complete ?
				&census->listings[i] : NULL;
		}
	}
	return NULL;	/* a mailbox that appeared since */
}
