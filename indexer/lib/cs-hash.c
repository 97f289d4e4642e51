/*
 * cs-hash.c - the 64-bit hash of a base name that scans and the check keep
 * in sorted arrays, the sort and the search of such arrays, and the
 * comparison for qsort over them (see cs-hash.h).
 *
 * Design: the arrays hold a million entries at 1M messages, and a first
 * reindex looks up the UID of every name in one: random lookups in a
 * 16 MB array, each a few cache and TLB misses (about 1 us at 1M, a
 * seventh of the whole build).  Looked up in ascending order of hash,
 * each search starts where the previous one ended and gallops from there
 * over a few neighbouring entries, so the caller sorts what it looks up
 * (cs_hash_find_next).  The sort scatters the entries by their top bits
 * (the hash spreads names evenly over its range) into buckets of about
 * one entry, then sorts each bucket: twice as fast as qsort at 1M.  Names
 * crafted to collide only bring the sort back to qsort's O(n log n).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-hash.h"

/* at most 2^20 buckets (8 MB of offsets) */
#define SORT_MAX_BITS 20
/* below this, qsort alone */
#define SORT_MIN_COUNT 1024

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

static inline uint64_t key_at(const unsigned char *base, size_t size,
			      size_t i)
{
	uint64_t h;

	memcpy(&h, base + i * size, sizeof(h));
	return h;
}

/* The first entry of [lo, hi) whose hash is >= hash, else hi. */
static size_t lower_bound(const unsigned char *base, size_t size, size_t lo,
			  size_t hi, uint64_t hash)
{
	size_t mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key_at(base, size, mid) < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const void *cs_hash_find(const void *base, size_t count, size_t size,
			 uint64_t hash)
{
	const unsigned char *a = base;
	size_t pos = lower_bound(a, size, 0, count, hash);

	return pos < count && key_at(a, size, pos) == hash ?
		a + pos * size : NULL;
}

const void *cs_hash_find_next(const void *base, size_t count, size_t size,
			      uint64_t hash, size_t *pos)
{
	const unsigned char *a = base;
	size_t lo = *pos, hi, step = 1;

	/* every entry below lo must be < hash: else from the start */
	if (lo > count || (lo > 0 && key_at(a, size, lo - 1) >= hash))
		lo = 0;
	/* gallop up until an entry >= hash: a few probes when the hash is
	   near the previous one's place */
	for (;;) {
		hi = count - lo > step ? lo + step - 1 : count;
		if (hi == count || key_at(a, size, hi) >= hash)
			break;
		lo = hi + 1;
		step *= 2;
	}
	/* every entry below lo is < hash; hi is count or an entry >= hash */
	*pos = lo = lower_bound(a, size, lo, hi, hash);
	return lo < count && key_at(a, size, lo) == hash ? a + lo * size : NULL;
}

void cs_hash_sort(void *base, size_t count, size_t size)
{
	unsigned char *a = base, *tmp;
	unsigned int bits = 0;
	size_t *end, nbuckets, i, b, lo;

	if (count < SORT_MIN_COUNT) {
		if (count > 1)
			qsort(base, count, size, cs_cmp_u64);
		return;
	}
	while (bits < SORT_MAX_BITS && ((size_t)1 << bits) < count)
		bits++;
	nbuckets = (size_t)1 << bits;
	end = calloc(nbuckets, sizeof(*end));
	tmp = malloc(count * size);
	if (end == NULL || tmp == NULL) {
		free(end);
		free(tmp);
		qsort(base, count, size, cs_cmp_u64);
		return;
	}
	/* end[b]: first the start of bucket b, then, after the scatter,
	   its end */
	for (i = 0; i < count; i++) {
		b = (size_t)(key_at(a, size, i) >> (64 - bits));
		if (b + 1 < nbuckets)
			end[b + 1]++;
	}
	for (b = 1; b < nbuckets; b++)
		end[b] += end[b - 1];
	for (i = 0; i < count; i++) {
		b = (size_t)(key_at(a, size, i) >> (64 - bits));
		memcpy(tmp + end[b]++ * size, a + i * size, size);
	}
	memcpy(a, tmp, count * size);
	free(tmp);
	for (b = 0, lo = 0; b < nbuckets; lo = end[b++]) {
		if (end[b] - lo > 1)
			qsort(a + lo * size, end[b] - lo, size, cs_cmp_u64);
	}
	free(end);
}
