/*
 * test-array.c - the growable array (cs-array.h): how it grows, what it
 * refuses (sizes that would overflow leave the array as it was), and the
 * zeroed lengthening.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

static void test_grow_and_reserve(void)
{
	uint32_t *a = NULL;
	size_t alloc = 0, i;

	/* one at a time: first, then doubling */
	for (i = 0; i < 40; i++) {
		CU_ASSERT_EQUAL_FATAL(cs_array_grow(&a, sizeof(*a), i, &alloc,
						    16), 0);
		a[i] = (uint32_t)i;
	}
	CU_ASSERT_EQUAL(alloc, 64);
	for (i = 0; i < 40; i++)
		CU_ASSERT_EQUAL(a[i], i);
	/* room already there: nothing changes */
	CU_ASSERT_EQUAL(cs_array_reserve(&a, sizeof(*a), 40, 24, &alloc, 16),
			0);
	CU_ASSERT_EQUAL(alloc, 64);
	/* many at once: doubled until they fit */
	CU_ASSERT_EQUAL(cs_array_reserve(&a, sizeof(*a), 40, 200, &alloc, 16),
			0);
	CU_ASSERT_EQUAL(alloc, 256);
	CU_ASSERT_EQUAL(a[39], 39);
	free(a);

	/* an empty array takes first when that is enough, else doubles it */
	a = NULL;
	alloc = 0;
	CU_ASSERT_EQUAL(cs_array_reserve(&a, sizeof(*a), 0, 5000, &alloc,
					 4096), 0);
	CU_ASSERT_EQUAL(alloc, 8192);
	free(a);
}

static void test_overflow_refused(void)
{
	char *buf = NULL;
	uint64_t *a = NULL;
	size_t alloc = 0, count = 0;

	CU_ASSERT_EQUAL_FATAL(cs_array_grow(&a, sizeof(*a), 0, &alloc, 8), 0);
	a[0] = 42;
	/* more elements than a size_t can count, or bytes than it can hold */
	CU_ASSERT_EQUAL(cs_array_reserve(&a, sizeof(*a), 1, SIZE_MAX, &alloc,
					 8), -1);
	CU_ASSERT_EQUAL(cs_array_reserve(&a, sizeof(*a), 1,
					 SIZE_MAX / sizeof(*a), &alloc, 8),
			-1);
	CU_ASSERT_EQUAL(alloc, 8);
	CU_ASSERT_EQUAL(a[0], 42);
	CU_ASSERT_EQUAL(cs_array_extend_zeroed(&a, sizeof(*a), &count,
					       SIZE_MAX / 4), -1);
	CU_ASSERT_EQUAL(count, 0);
	free(a);

	/* a byte buffer, as the daemon's status report grows one */
	alloc = 0;
	CU_ASSERT_EQUAL(cs_array_reserve(&buf, 1, 0, 10, &alloc, 4096), 0);
	CU_ASSERT_EQUAL(alloc, 4096);
	CU_ASSERT_EQUAL(cs_array_reserve(&buf, 1, 4000, SIZE_MAX - 4000,
					 &alloc, 4096), -1);
	CU_ASSERT_EQUAL(alloc, 4096);
	free(buf);
}

static void test_extend_zeroed(void)
{
	uint16_t *c = NULL;
	size_t n = 0, i;

	CU_ASSERT_EQUAL_FATAL(cs_array_extend_zeroed(&c, sizeof(*c), &n, 3),
			      0);
	CU_ASSERT_EQUAL(n, 3);
	for (i = 0; i < n; i++)
		CU_ASSERT_EQUAL(c[i], 0);
	c[2] = 7;
	/* shorter or equal: nothing */
	CU_ASSERT_EQUAL(cs_array_extend_zeroed(&c, sizeof(*c), &n, 2), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL_FATAL(cs_array_extend_zeroed(&c, sizeof(*c), &n,
						     1000), 0);
	CU_ASSERT_EQUAL(n, 1000);
	CU_ASSERT_EQUAL(c[2], 7);
	for (i = 3; i < n; i++)
		CU_ASSERT_EQUAL(c[i], 0);
	free(c);
}

void suite_array_register(void)
{
	CU_pSuite s = CU_add_suite("growable arrays", NULL, NULL);

	CU_add_test(s, "grow one at a time and reserve many",
		    test_grow_and_reserve);
	CU_add_test(s, "sizes that overflow are refused",
		    test_overflow_refused);
	CU_add_test(s, "lengthen with zeroes", test_extend_zeroed);
}
