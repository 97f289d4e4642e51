/*
 * cs-hash.c - the 64-bit hash of a base name that scans and the check keep
 * in sorted arrays, the sort and the search of such arrays, and the
 * comparison for qsort over them (see cs-hash.h).
 *
 * Design: the arrays hold a million entries at 1M messages, and a scan
 * looks up every name of the directory in one: a bsearch is twenty
 * probes, most of them cache misses.  The hash spreads names evenly over
 * its range, so the place of a hash in the sorted array is about its
 * share of that range: the search probes there, then where the hash falls
 * between the bounds found (an interpolation search: about four probes
 * at a million), and the sort scatters the entries by their top bits
 * into buckets of about one entry before sorting each bucket.  Names
 * crafted to collide only bring both back to O(log n) per search and
 * O(n log n) for the sort, never worse.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cs-hash.h"

/* at most 2^20 buckets (8 MB of offsets) */
#define SORT_MAX_BITS 20
/* below this, qsort alone */
#define SORT_MIN_COUNT 1024
/* a search ends with a bisection of at most this many entries */
#define FIND_LINEAR 8

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
	uint64_t klo = 0, khi = UINT64_MAX, k;
	size_t lo = 0, hi = count, pos, width;
	bool bisect = false;

	/* Entries below lo are < hash (klo: the last of them, or 0), entries
	   from hi on are >= hash (khi: the first, or the maximum).  Probe
	   where hash falls between klo and khi; a probe that did not halve
	   the range is followed by one in its middle, so that uneven hashes
	   cost at most twice a binary search. */
	while (hi - lo > FIND_LINEAR) {
		/* (width > 1: the divisor below does not wrap) */
		width = hi - lo;
		pos = lo + (bisect ? width / 2 :
			    (size_t)((hash - klo) / ((khi - klo) / width + 1)));
		if (pos >= hi)
			pos = hi - 1;
		k = key_at(a, size, pos);
		if (k < hash) {
			lo = pos + 1;
			klo = k;
		} else {
			hi = pos;
			khi = k;
		}
		bisect = !bisect && hi - lo > width / 2;
	}
	lo = lower_bound(a, size, lo, hi, hash);
	return lo < count && key_at(a, size, lo) == hash ?
		a + lo * size : NULL;
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
