/*
 * cs-mailbox-name.c - Maildir++ mailbox names and their directories:
 * checking hostile names, mapping names to paths, and listing the
 * mailboxes of a root without following symlinks.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cs-array.h"
#include "cs-maildir.h"

int cs_mailbox_name_check(const char *name, struct cs_error *err)
{
	size_t len = strnlen(name, CS_MAILBOX_NAME_MAX + 1), i;

	if (len == 0)
		return cs_error_set(err, CS_ERR_INVALID, "empty mailbox name");
	if (len > CS_MAILBOX_NAME_MAX)
		return cs_error_set(err, CS_ERR_INVALID,
				    "mailbox name longer than %d bytes",
				    CS_MAILBOX_NAME_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/')
			return cs_error_set(err, CS_ERR_INVALID,
				"mailbox name '%.*s' contains '/'",
				(int)len, name);
		if (c < 0x20 || c == 0x7f)
			return cs_error_set(err, CS_ERR_INVALID,
				"mailbox name contains a control character");
		if (c == '.' && (i == 0 || i == len - 1 || name[i + 1] == '.'))
			return cs_error_set(err, CS_ERR_INVALID,
				"mailbox name '%.*s' has an empty component "
				"(leading, trailing or double '.')",
				(int)len, name);
	}
	return 0;
}

static bool is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

int cs_mailbox_path(const char *root, const char *name, char *buf,
		    size_t size, struct cs_error *err)
{
	int ret;

	if (cs_mailbox_name_check(name, err) < 0)
		return -1;
	if (is_inbox(name))
		ret = snprintf(buf, size, "%s", root);
	else
		ret = snprintf(buf, size, "%s/.%s", root, name);
	if (ret < 0 || (size_t)ret >= size)
		return cs_error_set(err, CS_ERR_INVALID,
				    "%s: mailbox path too long", root);
	return 0;
}

const char *cs_mailbox_name_from_dirent(const char *entry, char *buf,
					size_t size)
{
	size_t len;

	if (entry[0] != '.' || entry[1] == '\0' ||
	    (entry[1] == '.' && entry[2] == '\0'))
		return NULL;
	len = strlen(entry + 1);
	if (len >= size || cs_mailbox_name_check(entry + 1, NULL) < 0 ||
	    is_inbox(entry + 1))
		return NULL;
	memcpy(buf, entry + 1, len + 1);
	return buf;
}

static void warnf(cs_warn_cb *warn, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(cs_warn_cb *warn, void *ctx, const char *fmt, ...)
{
	char text[1024];
	va_list args;

	if (warn == NULL)
		return;
	va_start(args, fmt);
	vsnprintf(text, sizeof(text), fmt, args);
	va_end(args);
	warn(ctx, text);
}

/* Is path a real directory (not a symlink, unless follow_self) with a real
   cur/ in it? */
static int is_maildir(const char *path, bool follow_self, bool *symlink_r)
{
	char cur[PATH_MAX];
	struct stat st;

	*symlink_r = false;
	if ((follow_self ? stat(path, &st) : lstat(path, &st)) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		*symlink_r = true;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return 0;
	if ((size_t)snprintf(cur, sizeof(cur), "%s/cur", path) >= sizeof(cur))
		return 0;
	if (lstat(cur, &st) < 0)
		return 0;
	if (S_ISLNK(st.st_mode)) {
		*symlink_r = true;
		return 0;
	}
	return S_ISDIR(st.st_mode) ? 1 : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The folder names of root, sorted; symlinks and bad names warned about. */
static int list_folders(const char *root, char ***names_r, size_t *count_r,
			cs_warn_cb *warn, void *warn_ctx, struct cs_error *err)
{
	char **names = NULL, namebuf[CS_MAILBOX_NAME_MAX + 2];
	char path[PATH_MAX];
	size_t count = 0, alloc = 0;
	struct dirent *d;
	bool symlink;
	DIR *dir;

	dir = opendir(root);
	if (dir == NULL)
		return cs_error_sys(err, "opendir(%s)", root);
	while ((d = readdir(dir)) != NULL) {
		const char *name;

		if (d->d_name[0] != '.' || strcmp(d->d_name, ".") == 0 ||
		    strcmp(d->d_name, "..") == 0)
			continue;
		name = cs_mailbox_name_from_dirent(d->d_name, namebuf,
						   sizeof(namebuf));
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", root,
				     d->d_name) >= sizeof(path))
			continue;
		if (!is_maildir(path, false, &symlink)) {
			if (symlink)
				warnf(warn, warn_ctx, "%s: symlinked folder "
				      "skipped (symlinks are never followed)",
				      path);
			continue;
		}
		if (name == NULL) {
			warnf(warn, warn_ctx, "%s: folder with an invalid "
			      "mailbox name skipped", path);
			continue;
		}
		if (cs_array_grow(&names, sizeof(*names), count, &alloc,
				  16) < 0)
			break;
		names[count] = strdup(name);
		if (names[count] == NULL)
			break;
		count++;
	}
	closedir(dir);
	if (d != NULL) {
		while (count > 0)
			free(names[--count]);
		free(names);
		return cs_error_set(err, CS_ERR_IO, "out of memory");
	}
	if (count > 0)
		qsort(names, count, sizeof(*names), cmp_str);
	*names_r = names;
	*count_r = count;
	return 0;
}

int cs_maildir_list(const char *root, cs_maildir_list_cb *cb, void *ctx,
		    cs_warn_cb *warn, void *warn_ctx, struct cs_error *err)
{
	char **names = NULL, path[PATH_MAX];
	size_t count = 0, i;
	bool symlink;
	int ret = 0;

	if (list_folders(root, &names, &count, warn, warn_ctx, err) < 0)
		return -1;
	if (is_maildir(root, true, &symlink))
		ret = cb(ctx, "INBOX", root);
	else if (symlink)
		warnf(warn, warn_ctx, "%s/cur: symlink, INBOX skipped", root);
	for (i = 0; i < count && ret == 0; i++) {
		if (cs_mailbox_path(root, names[i], path, sizeof(path),
				    NULL) == 0)
			ret = cb(ctx, names[i], path);
	}
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return ret;
}
