/*
 * cs-hash.h - hashes of base names in sorted arrays (cs-hash.c), for the
 * library's scans and its check: the hash, the sort and the search.
 */
#ifndef CS_HASH_H
#define CS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the len bytes of s. */
uint64_t cs_name_hash(const char *s, size_t len);
/* qsort/bsearch comparison of two uint64_t. */
int cs_cmp_u64(const void *a, const void *b);

/* The arrays below hold count entries of size bytes, each beginning with
   a uint64_t that is a hash spread evenly over its range (cs_name_hash,
   or a sum with one); entries may be structs, the rest of an entry is
   carried along.  Both work on any values, only slower when they are
   not spread. */

/* Sort the array by hash (equal hashes in no given order).  Allocates
   count * size bytes while sorting; out of memory, it uses qsort. */
void cs_hash_sort(void *base, size_t count, size_t size);
/* An entry of the array (sorted by cs_hash_sort or qsort with
   cs_cmp_u64) whose hash is hash, NULL when none is; with several, the
   first. */
const void *cs_hash_find(const void *base, size_t count, size_t size,
			 uint64_t hash);
/* The same for hashes looked up in ascending order, which costs a few
   probes among neighbouring entries instead of a binary search over the
   array: *pos is 0 before the first search, and set by each to where the
   next may start.  A hash below the previous one is still found (the
   search starts over). */
const void *cs_hash_find_next(const void *base, size_t count, size_t size,
			      uint64_t hash, size_t *pos);

#endif
