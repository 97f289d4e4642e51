/*
 * cs-array.h - growing an array (cs-array.c): the one helper behind every
 * list and buffer the library, the command and the daemon build up.
 */
#ifndef CS_ARRAY_H
#define CS_ARRAY_H

#include <stddef.h>

/* Make room in *array_p (a pointer to a malloc'ed array of elem_size
   byte elements, room for *alloc of them, or NULL with *alloc 0) for the
   more elements from index count on (count <= *alloc): when count + more
   exceeds *alloc, reallocate to first (> 0) for an empty array, else to
   twice *alloc, doubling again until they fit, and update *alloc.
   Returns 0, or -1 when out of memory (or the size would overflow), with
   the array and *alloc unchanged. */
int cs_array_reserve(void *array_p, size_t elem_size, size_t count,
		     size_t more, size_t *alloc, size_t first);

/* cs_array_reserve() for one element: make room for the element at index
   count.  Returns 0 or -1 as it does. */
int cs_array_grow(void *array_p, size_t elem_size, size_t count,
		  size_t *alloc, size_t first);

/* Lengthen *array_p (as above, holding exactly *count elements) to
   new_count elements, the new ones zeroed, and set *count; nothing when
   new_count <= *count.  For arrays indexed by a number that rises
   slowly (counts per chunk of UIDs).  Returns 0 or -1 as above. */
int cs_array_extend_zeroed(void *array_p, size_t elem_size, size_t *count,
			   size_t new_count);

#endif
