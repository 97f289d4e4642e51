/*
 * test-hash.c - the sorted arrays of name hashes (cs-hash.h): the sort
 * gives the order qsort gives and loses no entry, and the search finds
 * exactly what a bsearch finds, for real name hashes, for values that
 * are not spread at all (all in a few buckets, repeated, at the ends of
 * the range), for entries with a payload, and for tiny and empty arrays.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs-hash.h"
#include "unit.h"

struct entry {
	uint64_t hash;
	uint32_t id;
};

/* A reproducible 64-bit sequence (xorshift64*). */
static uint64_t next_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * UINT64_C(2685821657736338717);
}

/* cs_hash_find_next over queries in ascending order, then one below the
   last: the same answers as cs_hash_find. */
static void check_find_next(const struct entry *e, size_t count,
			    uint64_t *rnd)
{
	size_t nq = count / 2 + 1, i, pos = 0, wrong = 0;
	uint64_t *q = malloc(nq * sizeof(*q));
	const struct entry *f, *g;

	CU_ASSERT_PTR_NOT_NULL_FATAL(q);
	for (i = 0; i < nq; i++) {
		/* half present, half random */
		q[i] = i % 2 == 0 ? e[next_rand(rnd) % count].hash :
			next_rand(rnd);
	}
	cs_hash_sort(q, nq, sizeof(*q));
	for (i = 0; i < nq; i++) {
		f = cs_hash_find_next(e, count, sizeof(*e), q[i], &pos);
		g = cs_hash_find(e, count, sizeof(*e), q[i]);
		if (f != g)
			wrong++;
	}
	CU_ASSERT_EQUAL(wrong, 0);
	/* out of order: found all the same */
	CU_ASSERT_PTR_EQUAL(cs_hash_find_next(e, count, sizeof(*e), e[0].hash,
					      &pos),
			    cs_hash_find(e, count, sizeof(*e), e[0].hash));
	pos = count + 5;
	CU_ASSERT_PTR_EQUAL(cs_hash_find_next(e, count, sizeof(*e),
					      e[count / 2].hash, &pos),
			    cs_hash_find(e, count, sizeof(*e),
					 e[count / 2].hash));
	free(q);
}

/* Sort with cs_hash_sort; it must be ordered, and hold every id once. */
static void check_sorted(struct entry *e, size_t count)
{
	unsigned char *seen = calloc(count + 1, 1);
	size_t i, dups = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	cs_hash_sort(e, count, sizeof(*e));
	for (i = 0; i < count; i++) {
		if (i > 0 && e[i - 1].hash > e[i].hash) {
			CU_FAIL("not sorted");
			break;
		}
		CU_ASSERT_FATAL(e[i].id < count);
		if (seen[e[i].id]++ != 0)
			dups++;
	}
	CU_ASSERT_EQUAL(dups, 0);
	free(seen);
}

/* cs_hash_find against bsearch, for every value present and for values
   next to them and far from them. */
static void check_find(const struct entry *e, size_t count, uint64_t *rnd)
{
	const struct entry *f, *b;
	struct entry key = { 0, 0 };
	uint64_t probes[4];
	size_t i, j, wrong = 0;

	for (i = 0; i < count; i++) {
		probes[0] = e[i].hash;
		probes[1] = e[i].hash + 1;
		probes[2] = e[i].hash - 1;
		probes[3] = next_rand(rnd);
		for (j = 0; j < 4; j++) {
			key.hash = probes[j];
			f = cs_hash_find(e, count, sizeof(*e), key.hash);
			b = bsearch(&key, e, count, sizeof(*e), cs_cmp_u64);
			/* with repeated hashes either may return any of
			   them: compare the hash found */
			if ((f == NULL) != (b == NULL) ||
			    (f != NULL && f->hash != key.hash))
				wrong++;
		}
	}
	CU_ASSERT_EQUAL(wrong, 0);
}

static void test_name_hashes(void)
{
	size_t count = 50000, i;
	struct entry *e = malloc(count * sizeof(*e));
	uint64_t rnd = 4551;
	char name[128];
	int len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	for (i = 0; i < count; i++) {
		len = snprintf(name, sizeof(name),
			       "%llu.M%lluP%llu.mx1.example.org,S=%zu",
			       (unsigned long long)(1600000000 +
						    next_rand(&rnd) % 90000000),
			       (unsigned long long)(next_rand(&rnd) % 1000000),
			       (unsigned long long)(next_rand(&rnd) % 4000000),
			       i);
		e[i].hash = cs_name_hash(name, (size_t)len);
		e[i].id = (uint32_t)i;
	}
	check_sorted(e, count);
	check_find(e, count, &rnd);
	check_find_next(e, count, &rnd);
	/* the entry found is the one of that name */
	len = snprintf(name, sizeof(name), "not.a.name.of.the.set");
	CU_ASSERT_PTR_NULL(cs_hash_find(e, count, sizeof(*e),
					cs_name_hash(name, (size_t)len)));
	free(e);
}

/* Values a crafted set of names could give: all in one corner of the
   range, long runs of one value, the extremes. */
static void test_uneven_values(void)
{
	size_t count = 20000, i;
	struct entry *e = malloc(count * sizeof(*e));
	uint64_t rnd = 7;

	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	/* small values: every one in the first bucket */
	for (i = 0; i < count; i++) {
		e[i].hash = next_rand(&rnd) % 5000;
		e[i].id = (uint32_t)i;
	}
	check_sorted(e, count);
	check_find(e, count, &rnd);
	check_find_next(e, count, &rnd);
	/* the top bits equal, the rest spread; a few extremes */
	for (i = 0; i < count; i++) {
		e[i].hash = UINT64_C(0xfff0000000000000) |
			(next_rand(&rnd) >> 12);
		e[i].id = (uint32_t)i;
	}
	e[0].hash = 0;
	e[1].hash = UINT64_MAX;
	e[2].hash = UINT64_MAX;
	check_sorted(e, count);
	check_find(e, count, &rnd);
	check_find_next(e, count, &rnd);
	/* one value repeated, with a few others */
	for (i = 0; i < count; i++) {
		e[i].hash = i % 97 == 0 ? next_rand(&rnd) :
			UINT64_C(0x8000000000000000);
		e[i].id = (uint32_t)i;
	}
	check_sorted(e, count);
	check_find(e, count, &rnd);
	check_find_next(e, count, &rnd);
	free(e);
}

static void test_small_arrays(void)
{
	uint64_t a[8] = { 9, 3, UINT64_MAX, 0, 3, 42, 1, 8 }, rnd = 3;
	struct entry one = { 77, 0 };
	struct entry e[100];
	size_t i;

	/* nothing: no pointer needed, nothing found */
	cs_hash_sort(NULL, 0, sizeof(uint64_t));
	CU_ASSERT_PTR_NULL(cs_hash_find(NULL, 0, sizeof(uint64_t), 5));
	CU_ASSERT_PTR_NOT_NULL(cs_hash_find(&one, 1, sizeof(one), 77));
	CU_ASSERT_PTR_NULL(cs_hash_find(&one, 1, sizeof(one), 76));
	CU_ASSERT_PTR_NULL(cs_hash_find(&one, 1, sizeof(one), 78));
	/* plain uint64_t arrays, as the sweep and the check keep */
	cs_hash_sort(a, 8, sizeof(a[0]));
	for (i = 1; i < 8; i++)
		CU_ASSERT(a[i - 1] <= a[i]);
	CU_ASSERT_PTR_EQUAL(cs_hash_find(a, 8, sizeof(a[0]), 0), &a[0]);
	CU_ASSERT_PTR_EQUAL(cs_hash_find(a, 8, sizeof(a[0]), UINT64_MAX),
			    &a[7]);
	CU_ASSERT_PTR_NOT_NULL(cs_hash_find(a, 8, sizeof(a[0]), 42));
	CU_ASSERT_PTR_NULL(cs_hash_find(a, 8, sizeof(a[0]), 2));
	for (i = 0; i < 100; i++) {
		e[i].hash = next_rand(&rnd);
		e[i].id = (uint32_t)i;
	}
	check_sorted(e, 100);
	check_find(e, 100, &rnd);
}

void suite_hash_register(void)
{
	CU_pSuite s = CU_add_suite("sorted hash arrays", NULL, NULL);

	CU_add_test(s, "name hashes: sort and search agree with qsort and "
		    "bsearch", test_name_hashes);
	CU_add_test(s, "values that are not spread", test_uneven_values);
	CU_add_test(s, "empty, one entry, a few", test_small_arrays);
}
