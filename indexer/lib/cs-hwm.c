/*
 * cs-hwm.c - reading and durably raising the high-water-mark file
 * (see cs-hwm.h).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cs-file.h"
#include "cs-index.h"
#include "cs-hwm.h"

#define HWM_MAGIC "maildir-condstore-hwm "

/* A decimal number of digits only (no sign, no space, no leading zero),
   at most max.  Returns the character after it, or NULL. */
static const char *hwm_number(const char *p, uint64_t max, uint64_t *n_r)
{
	uint64_t n = 0;
	const char *start = p;

	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int digit = (unsigned int)(*p - '0');

		if (n > (max - digit) / 10)
			return NULL;
		n = n * 10 + digit;
	}
	if (p == start)
		return NULL;
	*n_r = n;
	return p;
}

/* Strict: "maildir-condstore-hwm 1 CEILING\n" or
   "maildir-condstore-hwm 2 CEILING UIDVALIDITY\n", single spaces, the
   ceiling at most CS_MODSEQ_MAX (a larger one could only come from
   damage, and seeding from it would wrap). */
static int hwm_parse(const char *line, struct cs_hwm *hwm_r)
{
	uint64_t ceiling, uidvalidity = 0;
	const char *p;
	char version;

	memset(hwm_r, 0, sizeof(*hwm_r));
	if (strncmp(line, HWM_MAGIC, strlen(HWM_MAGIC)) != 0)
		return -1;
	p = line + strlen(HWM_MAGIC);
	version = p[0];
	if ((version != '1' && version != '2') || p[1] != ' ')
		return -1;
	p = hwm_number(p + 2, CS_MODSEQ_MAX, &ceiling);
	if (p == NULL)
		return -1;
	if (version == '2') {
		if (*p != ' ')
			return -1;
		p = hwm_number(p + 1, UINT32_MAX, &uidvalidity);
		if (p == NULL)
			return -1;
	}
	if (strcmp(p, "\n") != 0)
		return -1;
	hwm_r->ceiling = ceiling;
	hwm_r->uidvalidity = (uint32_t)uidvalidity;
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
