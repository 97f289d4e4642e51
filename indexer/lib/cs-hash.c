/*
 * cs-hash.c - the 64-bit hash of a base name that scans and the check keep
 * in sorted arrays, and the comparison for qsort/bsearch over such arrays
 * (see cs-hash.h).
 */
#include "config.h"

#include "cs-hash.h"

uint64_t cs_name_hash(const char *s, size_t len)
{
	/* FNV-1a, 64 bits */
	uint64_t h = UINT64_C(14695981039346656037);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

int cs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y ? 1 : 0;
}
