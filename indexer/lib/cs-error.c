/*
 * cs-error.c - filling in struct cs_error (see cs-error.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cs-error.h"

void cs_error_clear(struct cs_error *err)
{
	if (err == NULL)
		return;
	err->code = CS_OK;
	err->sys_errno = 0;
	err->text[0] = '\0';
}

static void cs_error_vset(struct cs_error *err, enum cs_error_code code,
			  const char *fmt, va_list args)
{
	err->code = code;
	err->sys_errno = 0;
	vsnprintf(err->text, sizeof(err->text), fmt, args);
}

int cs_error_set(struct cs_error *err, enum cs_error_code code,
		 const char *fmt, ...)
{
	va_list args;

	if (err == NULL)
		return -1;
	va_start(args, fmt);
	cs_error_vset(err, code, fmt, args);
	va_end(args);
	return -1;
}

int cs_error_sys(struct cs_error *err, const char *fmt, ...)
{
	int saved_errno = errno;
	va_list args;
	size_t len;

	if (err == NULL)
		return -1;
	va_start(args, fmt);
	cs_error_vset(err, CS_ERR_IO, fmt, args);
	va_end(args);
	len = strlen(err->text);
	snprintf(err->text + len, sizeof(err->text) - len, ": %s",
		 strerror(saved_errno));
	err->sys_errno = saved_errno;
	if (saved_errno == ELOOP)
		err->code = CS_ERR_SYMLINK;
	else if (saved_errno == ENOENT)
		err->code = CS_ERR_NOTFOUND;
	errno = saved_errno;
	return -1;
}
