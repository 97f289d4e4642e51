/*
 * cs-array.c - growing an array (see cs-array.h).
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs-array.h"

/* realloc *array_p to size bytes (> 0).  Returns 0 or -1. */
static int array_resize(void *array_p, size_t size)
{
	void *array;

	/* the caller's pointer is copied, not accessed through a void **,
	   which its type need not be compatible with */
	memcpy(&array, array_p, sizeof(array));
	array = realloc(array, size);
	if (array == NULL)
		return -1;
	memcpy(array_p, &array, sizeof(array));
	return 0;
}

int cs_array_reserve(void *array_p, size_t elem_size, size_t count,
		     size_t more, size_t *alloc, size_t first)
{
	size_t n;

	assert(elem_size > 0 && first > 0 && count <= *alloc);
	if (more > SIZE_MAX - count)
		return -1;
	if (count + more <= *alloc)
		return 0;
	/* first, or twice as many as now, doubled until they fit */
	n = *alloc == 0 ? first : *alloc;
	while (n == *alloc || n < count + more) {
		if (n > SIZE_MAX / 2)
			return -1;
		n *= 2;
	}
	if (n > SIZE_MAX / elem_size)
		return -1;
	if (array_resize(array_p, n * elem_size) < 0)
		return -1;
	*alloc = n;
	return 0;
}

int cs_array_grow(void *array_p, size_t elem_size, size_t count,
		  size_t *alloc, size_t first)
{
	return cs_array_reserve(array_p, elem_size, count, 1, alloc, first);
}

int cs_array_extend_zeroed(void *array_p, size_t elem_size, size_t *count,
			   size_t new_count)
{
	char *array;

	assert(elem_size > 0);
	if (new_count <= *count)
		return 0;
	if (new_count > SIZE_MAX / elem_size ||
	    array_resize(array_p, new_count * elem_size) < 0)
		return -1;
	memcpy(&array, array_p, sizeof(array));
	memset(array + *count * elem_size, 0,
	       (new_count - *count) * elem_size);
	*count = new_count;
	return 0;
}
