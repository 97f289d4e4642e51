/*
 * cs-array.h - growing an array one element at a time (cs-array.c): the
 * one helper behind every list the library, the command and the daemon
 * build up.
 */
#ifndef CS_ARRAY_H
#define CS_ARRAY_H

#include <stddef.h>

/* Make room in *array_p (a pointer to a malloc'ed array of elem_size
   byte elements, room for *alloc of them, or NULL with *alloc 0) for the
   element at index count: when count has reached *alloc, reallocate to
   twice as many, or first (> 0) for an empty array, and update *alloc.
   Returns 0, or -1 when out of memory (or the size would overflow), with
   the array and *alloc unchanged. */
int cs_array_grow(void *array_p, size_t elem_size, size_t count,
		  size_t *alloc, size_t first);

#endif
