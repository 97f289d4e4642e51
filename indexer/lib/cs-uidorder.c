/*
 * cs-uidorder.c - Dovecot's numbering order of new Maildir files (see
 * cs-uidorder.h).
 *
 * When Dovecot first syncs a Maildir it gives UIDs 1, 2, ... to the files
 * in the order of maildir_filename_sort_cmp(): the decimal timestamp the
 * name starts with, then the microseconds of the "M" field of the
 * uniqueness part when both names have one, then the base names as byte
 * strings.  An index built in that order holds Dovecot's UIDs before
 * Dovecot assigned them, and switching it to dovecot-uidlist changes
 * nothing (cs_mailbox_set_uid_source keeps the UIDs that agree).  The key
 * is fixed-size so that a million of them sort in memory without the
 * names.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-hash.h"
#include "cs-uidorder.h"

void cs_uidorder_key(const char *base, size_t base_len,
		     struct cs_uidorder_key *key_r)
{
	size_t i = 0, rest_len;
	uint64_t secs = 0;
	uint32_t usecs = 0;

	memset(key_r, 0, sizeof(*key_r));
	/* the timestamp (overflow wraps, as a time_t would: the order of
	   such names is nobody's concern) */
	for (; i < base_len && base[i] >= '0' && base[i] <= '9'; i++)
		secs = secs * 10 + (uint64_t)(base[i] - '0');
	key_r->secs = secs;
	rest_len = base_len - i;
	memcpy(key_r->prefix, base + i, rest_len < CS_UIDORDER_PREFIX ?
	       rest_len : CS_UIDORDER_PREFIX);
	key_r->hash = cs_name_hash(base, base_len);
	/* ".<uniqueness>.<host>": microseconds after an 'M' of the
	   uniqueness part */
	if (i >= base_len || base[i] != '.')
		return;
	for (i++; i < base_len && base[i] != '.'; ) {
		if (base[i++] != 'M')
			continue;
		for (; i < base_len && base[i] >= '0' && base[i] <= '9'; i++)
			usecs = usecs * 10 + (uint32_t)(base[i] - '0');
		key_r->usecs = (usecs & ~CS_UIDORDER_HAS_USECS) |
			CS_UIDORDER_HAS_USECS;
		return;
	}
}

int cs_uidorder_cmp(const void *a, const void *b)
{
	const struct cs_uidorder_key *x = a, *y = b;
	int ret;

	if (x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	if ((x->usecs & y->usecs & CS_UIDORDER_HAS_USECS) != 0 &&
	    x->usecs != y->usecs)
		return x->usecs < y->usecs ? -1 : 1;
	ret = memcmp(x->prefix, y->prefix, CS_UIDORDER_PREFIX);
	if (ret != 0)
		return ret;
	return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : 0;
}

#define RADIX_DIGITS 65536

/* One pass of a stable radix sort: the elements of from into to by the
   16 bits of their timestamp at shift; pos: RADIX_DIGITS counters. */
static void radix_pass(const char *from, char *to, size_t count, size_t size,
		       unsigned int shift, size_t *pos)
{
	const struct cs_uidorder_key *k;
	size_t i, sum = 0, n;
	unsigned int digit;

	memset(pos, 0, RADIX_DIGITS * sizeof(*pos));
	for (i = 0; i < count; i++) {
		k = (const void *)(from + i * size);
		pos[(k->secs >> shift) & 0xffff]++;
	}
	for (digit = 0; digit < RADIX_DIGITS; digit++) {
		n = pos[digit];
		pos[digit] = sum;
		sum += n;
	}
	for (i = 0; i < count; i++) {
		k = (const void *)(from + i * size);
		digit = (unsigned int)((k->secs >> shift) & 0xffff);
		memcpy(to + pos[digit]++ * size, from + i * size, size);
	}
}

void cs_uidorder_sort(void *base, size_t count, size_t size)
{
	char *a = base, *tmp = NULL, *from, *to, *swap;
	const struct cs_uidorder_key *k, *first;
	size_t *pos = NULL, i, start;
	uint64_t max = 0;
	unsigned int shift;

	if (count < 1024 || count > SIZE_MAX / size ||
	    (tmp = malloc(count * size)) == NULL ||
	    (pos = malloc(RADIX_DIGITS * sizeof(*pos))) == NULL) {
		free(tmp);
		qsort(base, count, size, cs_uidorder_cmp);
		return;
	}
	for (i = 0; i < count; i++) {
		k = (const void *)(a + i * size);
		if (k->secs > max)
			max = k->secs;
	}
	from = a;
	to = tmp;
	for (shift = 0; shift < 64 && (max >> shift) != 0; shift += 16) {
		radix_pass(from, to, count, size, shift, pos);
		swap = from;
		from = to;
		to = swap;
	}
	if (from != a)
		memcpy(a, from, count * size);
	free(tmp);
	free(pos);
	/* the names of one second, by the rest of the key */
	for (start = 0; start < count; start = i) {
		first = (const void *)(a + start * size);
		for (i = start + 1; i < count; i++) {
			k = (const void *)(a + i * size);
			if (k->secs != first->secs)
				break;
		}
		if (i - start > 1)
			qsort(a + start * size, i - start, size,
			      cs_uidorder_cmp);
	}
}
