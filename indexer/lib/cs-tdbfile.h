/*
 * cs-tdbfile.h - the tdb file's own consistency, for the check: tdb's
 * tdb_check(), and, where it fails, a walk of the file that tells
 * damage from what a commit killed at the wrong moment leaves behind in
 * a file whose data is intact (see cs-tdbfile.c).
 */
#ifndef CS_TDBFILE_H
#define CS_TDBFILE_H

#include <stddef.h>
#include <stdint.h>

#include "cs-index-private.h"

enum cs_tdbfile_state {
	CS_TDBFILE_CLEAN,	/* tdb_check() passes */
	/* tdb_check() fails, but on nothing but what a killed commit left:
	   space that no hash chain, no free-list entry and no recovery
	   pointer refers to, or free-list entries of no size.  Every record
	   is whole and reachable, the free list is whole; a repack reclaims
	   the space */
	CS_TDBFILE_LEFTOVERS,
	CS_TDBFILE_DAMAGED	/* anything else */
};

/* Check the index's tdb file (it must not be in a transaction).  Returns
   the state; *leftover_r is the number of bytes left over for
   CS_TDBFILE_LEFTOVERS (0 otherwise).  detail (size bytes) receives
   what tdb_check() or the walk found first when the state is not
   CS_TDBFILE_CLEAN. */
enum cs_tdbfile_state
cs_tdbfile_check(struct cs_index *index, uint64_t *leftover_r,
		 char *detail, size_t size);

#endif
