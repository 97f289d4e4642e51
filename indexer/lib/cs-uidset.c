/*
 * cs-uidset.c - IMAP sequence sets of UIDs, kept sorted and merged
 * (see cs-uidset.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs-array.h"
#include "cs-uidset.h"

void cs_uidset_init(struct cs_uidset *set)
{
	memset(set, 0, sizeof(*set));
}

void cs_uidset_free(struct cs_uidset *set)
{
	free(set->ranges);
	cs_uidset_init(set);
}

static int uidset_grow(struct cs_uidset *set)
{
	return cs_array_grow(&set->ranges, sizeof(*set->ranges), set->alloc,
			     &set->alloc, 8);
}

int cs_uidset_add_range(struct cs_uidset *set, uint32_t first, uint32_t last)
{
	size_t i, j;

	if (first > last) {
		uint32_t tmp = first;
		first = last;
		last = tmp;
	}
	/* fast path: appending in order, as most callers do */
	if (set->count > 0 && set->ranges[set->count - 1].last != CS_UID_STAR &&
	    first <= set->ranges[set->count - 1].last + 1 &&
	    first >= set->ranges[set->count - 1].first) {
		if (last > set->ranges[set->count - 1].last)
			set->ranges[set->count - 1].last = last;
		return 0;
	}
	/* i: first range that ends at or after first-1 */
	for (i = 0; i < set->count; i++) {
		if (set->ranges[i].last == CS_UID_STAR ||
		    set->ranges[i].last + 1 >= first)
			break;
	}
	/* j: first range that starts after last+1 */
	for (j = i; j < set->count; j++) {
		if (last != CS_UID_STAR && set->ranges[j].first > last + 1)
			break;
	}
	if (i == j) {
		/* no overlap: insert at i */
		if (set->count == set->alloc && uidset_grow(set) < 0)
			return -1;
		memmove(&set->ranges[i + 1], &set->ranges[i],
			(set->count - i) * sizeof(set->ranges[0]));
		set->ranges[i].first = first;
		set->ranges[i].last = last;
		set->count++;
		return 0;
	}
	/* merge ranges i..j-1 with [first,last] */
	if (set->ranges[i].first < first)
		first = set->ranges[i].first;
	if (set->ranges[j - 1].last > last)
		last = set->ranges[j - 1].last;
	set->ranges[i].first = first;
	set->ranges[i].last = last;
	memmove(&set->ranges[i + 1], &set->ranges[j],
		(set->count - j) * sizeof(set->ranges[0]));
	set->count -= j - i - 1;
	return 0;
}

int cs_uidset_add(struct cs_uidset *set, uint32_t uid)
{
	return cs_uidset_add_range(set, uid, uid);
}

/* Parse a number or '*' at *p. */
static int parse_seq_number(const char **p, uint32_t *num_r)
{
	uint64_t num = 0;
	const char *s = *p;

	if (*s == '*') {
		*num_r = CS_UID_STAR;
		*p = s + 1;
		return 0;
	}
	if (*s < '1' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		num = num * 10 + (uint64_t)(*s - '0');
		if (num >= CS_UID_STAR)
			return -1;
	}
	*num_r = (uint32_t)num;
	*p = s;
	return 0;
}

int cs_uidset_parse(const char *str, struct cs_uidset *set,
		    struct cs_error *err)
{
	const char *p = str;
	uint32_t first, last;

	if (*p == '\0')
		return cs_error_set(err, CS_ERR_INVALID, "empty UID set");
	for (;;) {
		if (parse_seq_number(&p, &first) < 0)
			break;
		last = first;
		if (*p == ':') {
			p++;
			if (parse_seq_number(&p, &last) < 0)
				break;
		}
		if (cs_uidset_add_range(set, first, last) < 0)
			return cs_error_set(err, CS_ERR_IO, "out of memory");
		if (*p == '\0')
			return 0;
		if (*p != ',')
			break;
		p++;
	}
	return cs_error_set(err, CS_ERR_INVALID,
			    "invalid UID set '%.100s' near '%.20s'", str, p);
}

bool cs_uidset_contains(const struct cs_uidset *set, uint32_t uid,
			uint32_t star_uid)
{
	size_t lo = 0, hi = set->count;

	/* ranges ending in '*' sort last; "N:*" with N above the highest UID
	   means "highest:N" (RFC 3501 sequence-set) */
	if (hi > 0 && set->ranges[hi - 1].last == CS_UID_STAR) {
		uint32_t first = set->ranges[hi - 1].first;

		if (first == CS_UID_STAR)
			first = star_uid;
		if (uid >= (first < star_uid ? first : star_uid) &&
		    uid <= (first < star_uid ? star_uid : first))
			return true;
		hi--;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (uid < set->ranges[mid].first)
			hi = mid;
		else if (uid > set->ranges[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* Write one range; returns chars that would be written. */
static int format_range(char *buf, size_t size, const struct cs_uid_range *r,
			bool comma)
{
	char a[16], b[16];

	if (r->first == CS_UID_STAR)
		strcpy(a, "*");
	else
		snprintf(a, sizeof(a), "%u", r->first);
	if (r->last == CS_UID_STAR)
		strcpy(b, "*");
	else
		snprintf(b, sizeof(b), "%u", r->last);
	if (r->first == r->last)
		return snprintf(buf, size, "%s%s", comma ? "," : "", a);
	return snprintf(buf, size, "%s%s:%s", comma ? "," : "", a, b);
}

int cs_uidset_format(const struct cs_uidset *set, char *buf, size_t size)
{
	size_t i, pos = 0;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	for (i = 0; i < set->count; i++) {
		int ret = format_range(buf + pos, size - pos, &set->ranges[i],
				       i > 0);

		if (ret < 0 || (size_t)ret >= size - pos) {
			buf[pos] = '\0';
			return -1;
		}
		pos += (size_t)ret;
	}
	return (int)pos;
}

char *cs_uidset_format_alloc(const struct cs_uidset *set)
{
	size_t size = set->count * 24 + 1;
	char *buf = malloc(size);

	if (buf != NULL && cs_uidset_format(set, buf, size) < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
