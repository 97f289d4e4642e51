/*
 * bench-fsync.c - the disk's rate of durable small writes, the ceiling of
 * every durable commit: overwrite 512 bytes at offset 0 of a file and
 * fdatasync it, in a loop.
 *
 * Usage: bench-fsync FILE SECONDS
 *
 * Prints "SYNCS SECONDS" after running for about SECONDS (at least 10
 * syncs), and removes FILE.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	char block[512];
	unsigned long n = 0;
	double t0, limit, t;
	int fd;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-fsync FILE SECONDS\n");
		return 2;
	}
	limit = strtod(argv[2], NULL);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		  O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "bench-fsync: %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	memset(block, 'x', sizeof(block));
	t0 = now();
	do {
		block[0] = (char)('a' + n % 26);
		if (pwrite(fd, block, sizeof(block), 0) != sizeof(block) ||
		    fdatasync(fd) < 0) {
			fprintf(stderr, "bench-fsync: %s: %s\n", argv[1],
				strerror(errno));
			return 2;
		}
		n++;
		t = now() - t0;
	} while (t < limit || n < 10);
	printf("%lu %.6f\n", n, t);
	close(fd);
	unlink(argv[1]);
	return 0;
}
