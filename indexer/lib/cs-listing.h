/*
 * cs-listing.h - the message files of every mailbox of a root, counted
 * (the census that sizes a new index) and, for a first build, kept in
 * memory so that the build reads each directory once (cs-listing.c).
 *
 * A first build must know how many files there are before it creates
 * the tdb (its hash size and its reserve), predicts the UIDs Dovecot will
 * give them (which needs every name of a mailbox), then records them:
 * three readdirs of each directory, most of a build's system time at 1M
 * messages.  With a listing, the census reads each directory once and
 * the build's scan takes the names from the listing.  The listing holds
 * what readdir gave, entries of unknown type resolved with lstat while
 * the directory was open; it is as old as the census, which a scan of a
 * directory already is by the time it ends.  Memory is bounded
 * (CS_LISTING_BUDGET): mailboxes beyond it are counted, not kept, and
 * their scan reads the directories itself.
 */
#ifndef CS_LISTING_H
#define CS_LISTING_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

/* bytes of names and entries all the listings of a build may keep
   (about 3.5 million names of Dovecot's usual length) */
#define CS_LISTING_BUDGET (256u * 1024 * 1024)

struct cs_listing_entry {
	uint32_t name;		/* offset of the NUL-terminated name */
	uint8_t type;		/* cs_dirent_type() */
};

/* The files of one mailbox: new/'s entries, then cur/'s. */
struct cs_listing {
	char *mailbox;			/* the mailbox's name */
	char *names;			/* the names, each NUL-terminated */
	size_t names_used, names_alloc;
	struct cs_listing_entry *entries;
	size_t count, alloc;
	size_t start[3];		/* entries of location l (CS_LOC_NEW,
					   CS_LOC_CUR): start[l] ..
					   start[l + 1] - 1 */
	bool complete;			/* every entry of both directories
					   (false: out of memory or budget;
					   then it must not be used) */
};

/* The census of a root: counts for sizing the index, and the listings. */
struct cs_maildir_census {
	uint64_t files;		/* names in new/ and cur/ */
	uint64_t name_bytes;	/* the sum of their lengths */
	uint64_t base_bytes;	/* the sum of their lengths up to the
				   separator (the base names) */
	struct cs_listing *listings;	/* when asked for: one per mailbox
					   read, in the order listed */
	size_t nlistings, alloc;
	uint64_t kept;		/* bytes the listings hold */
	uint64_t budget;	/* at most this many */
};

/* Count the message files of every mailbox of root and their names'
   bytes, for separator (0: ':'), into *census_r; one readdir per
   directory.  With budget > 0, also keep each mailbox's names in
   census_r->listings, as long as they fit in budget bytes with those
   kept before (CS_LISTING_BUDGET for a build): a mailbox whose names do
   not is only counted, and has no complete listing.  Free them with
   cs_maildir_census_free().  Directories that can't be read
   count 0 and give no complete listing. */
void cs_maildir_census(const char *root, char separator, uint64_t budget,
		       struct cs_maildir_census *census_r);
void cs_maildir_census_free(struct cs_maildir_census *census);

/* The complete listing of mailbox in census, or NULL.  *pos (0 at
   first) is where to look from: a caller that goes through the mailboxes
   in the order cs_maildir_list() gives them (the census's) finds each at
   once. */
const struct cs_listing *
cs_census_listing(const struct cs_maildir_census *census,
		  const char *mailbox, size_t *pos);

/* The type of the entry name of the directory open as dirfd, whose
   d_type readdir gave: d_type, or when the file system gives none
   (DT_UNKNOWN) the type lstat gives (DT_REG, DT_LNK, DT_DIR,
   DT_FIFO...), DT_UNKNOWN only for an entry lstat can't find (gone
   since). */
unsigned char cs_dirent_type(int dirfd, const char *name,
			     unsigned char d_type);

#endif
