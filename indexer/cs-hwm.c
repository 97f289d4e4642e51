/*
 * cs-hwm.c - reading and durably raising the high-water-mark file
 * (see cs-hwm.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cs-file.h"
#include "cs-hwm.h"

#define HWM_MAGIC "maildir-condstore-hwm "

static int hwm_parse(const char *line, struct cs_hwm *hwm_r)
{
	uint64_t ceiling;
	uint32_t uidvalidity;
	char extra;

	memset(hwm_r, 0, sizeof(*hwm_r));
	if (strncmp(line, HWM_MAGIC, strlen(HWM_MAGIC)) != 0)
		return -1;
	line += strlen(HWM_MAGIC);
	if (strncmp(line, "1 ", 2) == 0) {
		if (sscanf(line + 2, "%" SCNu64 "%c", &ceiling, &extra) != 2 ||
		    extra != '\n')
			return -1;
		hwm_r->ceiling = ceiling;
		return 0;
	}
	if (strncmp(line, "2 ", 2) != 0 ||
	    sscanf(line + 2, "%" SCNu64 " %" SCNu32 "%c", &ceiling,
		   &uidvalidity, &extra) != 3 || extra != '\n')
		return -1;
	hwm_r->ceiling = ceiling;
	hwm_r->uidvalidity = uidvalidity;
	return 0;
}

int cs_hwm_read(const char *path, struct cs_hwm *hwm_r, struct cs_error *err)
{
	char line[128];
	FILE *fp;
	int ret;

	memset(hwm_r, 0, sizeof(*hwm_r));
	ret = cs_file_open_read(path, &fp, err);
	if (ret <= 0)
		return ret;
	ret = fgets(line, sizeof(line), fp) == NULL ? -1 :
		hwm_parse(line, hwm_r);
	fclose(fp);
	if (ret < 0)
		return cs_error_set(err, CS_ERR_CORRUPT,
			"%s: damaged high-water-mark file (remove it only "
			"together with the index, then run condstore reindex)",
			path);
	return 1;
}

int cs_hwm_raise(const char *path, uint64_t ceiling, uint32_t uidvalidity,
		 struct cs_error *err)
{
	struct cs_hwm hwm;
	char line[128];
	int len;

	if (cs_hwm_read(path, &hwm, err) < 0)
		return -1;
	if (ceiling <= hwm.ceiling && uidvalidity <= hwm.uidvalidity)
		return 0;
	if (ceiling > hwm.ceiling)
		hwm.ceiling = ceiling;
	if (uidvalidity > hwm.uidvalidity)
		hwm.uidvalidity = uidvalidity;
	len = snprintf(line, sizeof(line), HWM_MAGIC "2 %" PRIu64 " %" PRIu32
		       "\n", hwm.ceiling, hwm.uidvalidity);
	return cs_file_replace(path, line, (size_t)len, err);
}
