/*
 * cs-lines.c - bounded line reading of files users control (see
 * cs-lines.h).
 */
#include "config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "cs-lines.h"

static int too_large(const char *path, size_t max_size, struct cs_error *err)
{
	return cs_error_set(err, CS_ERR_LIMIT, "%s: larger than %zu bytes: "
			    "not used", path, max_size);
}

int cs_lines_read(FILE *fp, const char *path, size_t max_line,
		  size_t max_size, cs_line_cb *cb, void *ctx,
		  struct cs_error *err)
{
	struct stat st;
	size_t len = 0, total = 0;
	char *buf;
	int c, ret = 0;

	if (fstat(fileno(fp), &st) < 0)
		return cs_error_sys(err, "fstat(%s)", path);
	if (st.st_size < 0 || (unsigned long long)st.st_size > max_size)
		return too_large(path, max_size, err);
	buf = malloc(max_line + 1);
	if (buf == NULL)
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	while (ret == 0 && (c = getc_unlocked(fp)) != EOF) {
		if (++total > max_size) {
			ret = too_large(path, max_size, err);
			break;
		}
		if (c == '\n') {
			buf[len] = '\0';
			ret = cb(ctx, buf, len, true);
			len = 0;
		} else if (len == max_line) {
			ret = cs_error_set(err, CS_ERR_LIMIT, "%s: a line is "
					   "longer than %zu bytes: not used",
					   path, max_line);
		} else {
			buf[len++] = (char)c;
		}
	}
	if (ret == 0 && ferror(fp))
		ret = cs_error_sys(err, "read(%s)", path);
	if (ret == 0 && len > 0) {
		buf[len] = '\0';
		ret = cb(ctx, buf, len, false);
	}
	free(buf);
	return ret;
}
