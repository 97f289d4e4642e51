/*
 * mklayout1.c - write an index of layout 1 (layout1.h) for the tests of
 * the command and the daemon that convert it.
 *
 * Usage: mklayout1 ROOT N
 * Writes ROOT/condstore.tdb (which must not exist) and N files in
 * ROOT/cur; prints nothing; exit 0, or 1 with a message.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layout1.h"

int main(int argc, char **argv)
{
	char db[4096];
	unsigned long n;
	char *end;

	if (argc != 3) {
		fprintf(stderr, "usage: mklayout1 ROOT N\n");
		return 1;
	}
	n = strtoul(argv[2], &end, 10);
	if (*end != '\0' || n < LAYOUT1_RUN || n >= LAYOUT1_CHANGED) {
		fprintf(stderr, "mklayout1: N from %u to %u\n",
			(unsigned int)LAYOUT1_RUN,
			(unsigned int)LAYOUT1_CHANGED - 1);
		return 1;
	}
	snprintf(db, sizeof(db), "%s/condstore.tdb", argv[1]);
	if (layout1_write(argv[1], db, (unsigned int)n, true) < 0) {
		fprintf(stderr, "mklayout1: %s: %s\n", db, strerror(errno));
		return 1;
	}
	return 0;
}
