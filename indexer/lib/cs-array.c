/*
 * cs-array.c - growing an array one element at a time (see cs-array.h).
 */
#include "config.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs-array.h"

int cs_array_grow(void *array_p, size_t elem_size, size_t count,
		  size_t *alloc, size_t first)
{
	void *array;
	size_t n;

	assert(elem_size > 0 && first > 0 && count <= *alloc);
	if (count < *alloc)
		return 0;
	n = *alloc == 0 ? first : *alloc * 2;
	if (n < *alloc || n > SIZE_MAX / elem_size)
		return -1;
	/* the caller's pointer is copied, not accessed through a void **,
	   which its type need not be compatible with */
	memcpy(&array, array_p, sizeof(array));
	array = realloc(array, n * elem_size);
	if (array == NULL)
		return -1;
	memcpy(array_p, &array, sizeof(array));
	*alloc = n;
	return 0;
}
