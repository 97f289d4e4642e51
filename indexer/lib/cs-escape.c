/*
 * cs-escape.c - escaping names and text that did not come from us (see
 * cs-escape.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cs-escape.h"

bool cs_imap_is_atom(const char *str)
{
	const unsigned char *p;

	if (*str == '\0')
		return false;
	for (p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f ||
		    strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return true;
}

char *cs_escape_log(const char *str, char *buf, size_t size)
{
	const unsigned char *p;
	size_t len = 0;

	if (size == 0)
		return buf;
	for (p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			if (len + 4 >= size)
				break;
			snprintf(buf + len, 5, "\\x%02x", *p);
			len += 4;
		} else {
			if (len + 1 >= size)
				break;
			buf[len++] = (char)*p;
		}
	}
	buf[len] = '\0';
	return buf;
}
