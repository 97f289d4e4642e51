/*
 * fuzz-parsers.c - one fuzz target for every parser of text or bytes a
 * user controls: the first byte of the input picks the parser, the rest
 * is its input.  Built with libFuzzer (clang -fsanitize=fuzzer) by
 * tests/fuzz/run-fuzz, or with replay.c as a plain program that runs the
 * seed corpus when there is no clang.
 *
 *   0 file names (cs_name_parse)       4 dovecot-keywords
 *   1 UID sets (cs_uidset_parse)       5 the .hwm file
 *   2 index records (the decoders)     6 mailbox names
 *   3 dovecot-uidlist                  7 IMAP flag lists
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "condstore.h"
#include "cs-codec.h"
#include "cs-hwm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the input as a C string (stops at its first NUL, as the callers'
   strings do) */
static char *input_str(const uint8_t *data, size_t size)
{
	char *str = malloc(size + 1);

	if (str != NULL) {
		memcpy(str, data, size);
		str[size] = '\0';
	}
	return str;
}

static int uidlist_cb(void *ctx, uint32_t uid, const char *base,
		      size_t base_len)
{
	(void)ctx;
	(void)uid;
	(void)base;
	(void)base_len;
	return 0;
}

/* Write the input as DIR/name in a directory of this process. */
static int input_file(const char *name, const uint8_t *data, size_t size,
		      char *dir, size_t dir_size)
{
	char path[256];
	FILE *fp;

	snprintf(dir, dir_size, "/tmp/cs-fuzz.%ld", (long)getpid());
	(void)mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	if (fp == NULL)
		return -1;
	if (size > 0)
		(void)fwrite(data, 1, size, fp);
	return fclose(fp) == 0 ? 0 : -1;
}

static void parse_file(uint8_t which, const uint8_t *data, size_t size)
{
	static const char *const names[] = {
		"dovecot-uidlist", "dovecot-keywords", "x.hwm"
	};
	const char *name = names[which - 3];
	struct cs_uidlist_header hdr;
	struct cs_keywords kw;
	struct cs_hwm hwm;
	char dir[128], path[256];

	if (input_file(name, data, size, dir, sizeof(dir)) < 0)
		return;
	if (which == 3) {
		(void)cs_uidlist_read(dir, ':', &hdr, uidlist_cb, NULL, NULL);
	} else if (which == 4) {
		if (cs_keywords_read(dir, &kw, NULL) == 0)
			cs_keywords_free(&kw);
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		(void)cs_hwm_read(path, &hwm, NULL);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	(void)unlink(path);
	(void)rmdir(dir);
}

static void parse_records(const uint8_t *data, size_t size)
{
	struct cs_header_rec hdr;
	struct cs_mailbox_rec box;
	struct cs_msg_rec msg;
	struct cs_daemon_rec daemon;
	char suffix[CS_SUFFIX_MAX + 1];

	(void)cs_header_rec_decode(data, size, &hdr);
	(void)cs_mailbox_rec_decode(data, size, &box);
	(void)cs_msg_rec_decode(data, size, &msg, suffix);
	(void)cs_daemon_rec_decode(data, size, &daemon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_keywords kw = { { NULL } };
	struct cs_uidset set;
	struct cs_name name;
	uint64_t flags;
	char *str;

	if (size == 0)
		return 0;
	if (data[0] % 8 == 2) {
		parse_records(data + 1, size - 1);
		return 0;
	}
	if (data[0] % 8 >= 3 && data[0] % 8 <= 5) {
		parse_file(data[0] % 8, data + 1, size - 1);
		return 0;
	}
	str = input_str(data + 1, size - 1);
	if (str == NULL)
		return 0;
	switch (data[0] % 8) {
	case 0:
		(void)cs_name_parse(str, ':', &name, NULL);
		break;
	case 1:
		cs_uidset_init(&set);
		(void)cs_uidset_parse(str, &set, NULL);
		cs_uidset_free(&set);
		break;
	case 6:
		(void)cs_mailbox_name_check(str, NULL);
		break;
	case 7:
		kw.names[0] = (char *)"work";
		(void)cs_flags_from_imap(str, &kw, &flags, NULL);
		break;
	}
	free(str);
	return 0;
}
