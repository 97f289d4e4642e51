/*
 * replay.c - runs the fuzz target over the files named on the command
 * line (the seed corpus), for builds without libFuzzer: each input is
 * parsed once, and a crash or a sanitizer finding fails the run.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	int i;

	for (i = 1; i < argc; i++) {
		FILE *fp = fopen(argv[i], "rb");
		size_t size;

		if (fp == NULL) {
			perror(argv[i]);
			return 1;
		}
		size = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		(void)LLVMFuzzerTestOneInput(buf, size);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
