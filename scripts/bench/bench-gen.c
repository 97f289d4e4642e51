/*
 * bench-gen.c - write a large Maildir for the benchmarks, fast.
 *
 * Usage: bench-gen [--seed S] [--host H] [--new PERCENT] DIR COUNT
 *
 * Creates DIR/{cur,new,tmp} (a Maildir; DIR itself may be a Maildir++
 * root or one of its .Folder directories) and writes COUNT small messages
 * into cur/ (and PERCENT of them into new/), named as real deliveries
 * name them:
 *
 *	<time>.M<usec>P<pid>.<host>,S=<size>,W=<vsize>:2,<flags>
 *
 * with the whole unique part random: the time spread over three years,
 * random microseconds and a random pid.  Names in which only a counter
 * varies collapse in Dovecot's and tdb's hash functions and would skew
 * every figure measured on them.  S= is the file's real size and W= its
 * size with CRLF line ends, as Dovecot writes them.  The same seed gives
 * the same Maildir.  Prints the number of files written.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GEN_SPAN_SECONDS (3 * 365 * 86400)
#define GEN_END_TIME 1764000000	/* names end around late 2025 */
#define GEN_MAX_BODY_LINES 24

static uint64_t rng_state;

/* xorshift64*: fast, and reproducible from the seed */
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)((rng_next() >> 32) % n);
}

/* Flags as mail readers leave them: most messages seen, some answered,
   flagged or forwarded, a few deleted; letters in ASCII order. */
static void gen_flags(char *buf)
{
	uint32_t r = rng_below(1000);
	char *p = buf;

	if (r < 40)
		*p++ = 'F';
	if (r % 7 == 0)
		*p++ = 'P';
	if (r % 5 == 0)
		*p++ = 'R';
	if (r < 900)
		*p++ = 'S';
	if (r % 97 == 0)
		*p++ = 'T';
	*p = '\0';
}

/* Write a short message into buf; returns its length, and its line count
   through lines_r. */
static size_t gen_message(char *buf, size_t size, uint32_t n,
			  const char *host, unsigned int *lines_r)
{
	static const char filler[] =
		"Lorem ipsum dolor sit amet, consectetur adipiscing elit, "
		"sed do eiusmod tempor incididunt ut labore et dolore.\n";
	unsigned int body = rng_below(GEN_MAX_BODY_LINES) + 1, i;
	size_t len;

	len = (size_t)snprintf(buf, size,
		"Return-Path: <sender%" PRIu32 "@example.org>\n"
		"Delivered-To: user@example.org\n"
		"Message-ID: <%016" PRIx64 "@%s>\n"
		"From: Sender %" PRIu32 " <sender%" PRIu32 "@example.org>\n"
		"To: user@example.org\n"
		"Subject: benchmark message %" PRIu32 "\n"
		"\n", n % 997, rng_next(), host, n % 997, n % 997, n);
	for (i = 0; i < body && len + sizeof(filler) < size; i++) {
		memcpy(buf + len, filler, sizeof(filler) - 1);
		len += sizeof(filler) - 1;
	}
	*lines_r = 7 + i;
	return len;
}

static int make_dirs(const char *dir)
{
	static const char *const subs[] = { "", "/cur", "/new", "/tmp" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, subs[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "bench-gen: mkdir %s: %s\n", path,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Write message n into DIR/cur or DIR/new under a fresh random name. */
static int write_one(int dirfd_cur, int dirfd_new, bool in_new, uint32_t n,
		     uint32_t count, const char *host)
{
	char msg[4096], name[256], flags[16];
	unsigned int lines;
	size_t len;
	uint64_t t;
	int fd;

	len = gen_message(msg, sizeof(msg), n, host, &lines);
	do {
		/* arrival order roughly follows time, as in a real Maildir */
		t = GEN_END_TIME - GEN_SPAN_SECONDS +
			(uint64_t)GEN_SPAN_SECONDS * n / count +
			rng_below(3600);
		gen_flags(flags);
		snprintf(name, sizeof(name),
			 "%" PRIu64 ".M%" PRIu32 "P%" PRIu32 ".%s,S=%zu,W=%zu%s%s",
			 t, rng_below(1000000), rng_below(4194303) + 1, host,
			 len, len + lines, in_new ? "" : ":2,",
			 in_new ? "" : flags);
		fd = openat(in_new ? dirfd_new : dirfd_cur, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
	} while (fd < 0 && errno == EEXIST);
	if (fd < 0) {
		fprintf(stderr, "bench-gen: create %s: %s\n", name,
			strerror(errno));
		return -1;
	}
	if (write(fd, msg, len) != (ssize_t)len) {
		fprintf(stderr, "bench-gen: write %s: %s\n", name,
			strerror(errno ? errno : EIO));
		close(fd);
		return -1;
	}
	return close(fd);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-gen [--seed S] [--host H] "
		"[--new PERCENT] DIR COUNT\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *host = "mx1.example.org", *dir;
	unsigned long seed = 4551, new_percent = 0, count;
	char path[4096];
	int i, fd_cur, fd_new;
	uint32_t n;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--seed") == 0)
			seed = strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--new") == 0)
			new_percent = strtoul(argv[i + 1], NULL, 10);
		else
			usage();
	}
	if (argc - i != 2 || new_percent > 100)
		usage();
	dir = argv[i];
	count = strtoul(argv[i + 1], NULL, 10);
	if (count == 0 || count > UINT32_MAX || strchr(host, '/') != NULL ||
	    strchr(host, ':') != NULL)
		usage();
	rng_state = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;

	if (make_dirs(dir) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/cur", dir);
	fd_cur = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/new", dir);
	fd_new = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd_cur < 0 || fd_new < 0) {
		fprintf(stderr, "bench-gen: open %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	for (n = 0; n < count; n++) {
		if (write_one(fd_cur, fd_new, rng_below(100) < new_percent,
			      n, (uint32_t)count, host) < 0)
			return 1;
	}
	printf("%lu\n", count);
	return 0;
}
