/*
 * cs-jumps.c - the jumps of a mailbox's counter (record "j", see
 * cs-record.h): every seeding above the previous HIGHESTMODSEQ leaves a
 * (seed, previous value) pair, so that walks of the change log skip the
 * gap in one step.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cs-index-private.h"

int cs_jumps_read(struct cs_mailbox *box, struct cs_jump **jumps_r,
		  size_t *count_r, struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data;
	size_t size, i;
	int ret;

	*jumps_r = NULL;
	*count_r = 0;
	ret = cs_db_fetch(box->index, key, cs_key_jump(key, box->rec.id),
			  &data, &size, err);
	if (ret <= 0)
		return ret;
	if (size % 16 != 0) {
		free(data);
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: jump record of mailbox %s damaged",
			box->index->db_path, box->name);
	}
	*jumps_r = calloc(size / 16 + 1, sizeof(**jumps_r));
	if (*jumps_r == NULL) {
		free(data);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	for (i = 0; i < size / 16; i++) {
		(*jumps_r)[i].seed = cs_get_le64(data + i * 16);
		(*jumps_r)[i].from = cs_get_le64(data + i * 16 + 8);
	}
	*count_r = size / 16;
	free(data);
	return 1;
}

/* Append (seed, from) to the mailbox's jump record. */
int cs_jump_append(struct cs_mailbox *box, uint64_t seed, uint64_t from,
		   struct cs_error *err)
{
	uint8_t key[CS_KEY_MAX], *data = NULL, *buf;
	size_t size = 0, key_len = cs_key_jump(key, box->rec.id);
	int ret;

	ret = cs_db_fetch(box->index, key, key_len, &data, &size, err);
	if (ret < 0)
		return -1;
	buf = malloc(size + 16);
	if (buf == NULL) {
		free(data);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	if (size > 0)
		memcpy(buf, data, size);
	cs_put_le64(buf + size, seed);
	cs_put_le64(buf + size + 8, from);
	ret = cs_db_store(box->index, key, key_len, buf, size + 16, err);
	free(buf);
	free(data);
	return ret;
}
