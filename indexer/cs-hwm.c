/*
 * cs-hwm.c - reading and durably rewriting the high-water-mark file
 * (see cs-hwm.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cs-file.h"
#include "cs-hwm.h"

#define HWM_MAGIC "maildir-condstore-hwm 1 "

int cs_hwm_read(const char *path, uint64_t *ceiling_r, struct cs_error *err)
{
	char line[128];
	uint64_t value;
	char extra;
	FILE *fp;
	int ret;

	ret = cs_file_open_read(path, &fp, err);
	if (ret <= 0)
		return ret;
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strncmp(line, HWM_MAGIC, strlen(HWM_MAGIC)) != 0 ||
	    sscanf(line + strlen(HWM_MAGIC), "%" SCNu64 "%c", &value,
		   &extra) != 2 || extra != '\n') {
		fclose(fp);
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: damaged high-water-mark file (remove it only "
			"together with the index, then run condstore reindex)",
			path);
	}
	fclose(fp);
	*ceiling_r = value;
	return 1;
}

int cs_hwm_write(const char *path, uint64_t ceiling, struct cs_error *err)
{
	char line[128];
	int len;

	len = snprintf(line, sizeof(line), HWM_MAGIC "%" PRIu64 "\n", ceiling);
	return cs_file_replace(path, line, (size_t)len, err);
}
