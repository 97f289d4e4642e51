/*
 * cs-hash.h - hashes of base names in sorted arrays (cs-hash.c), for the
 * library's scans and its check.
 */
#ifndef CS_HASH_H
#define CS_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over the len bytes of s. */
uint64_t cs_name_hash(const char *s, size_t len);
/* qsort/bsearch comparison of two uint64_t. */
int cs_cmp_u64(const void *a, const void *b);

#endif
