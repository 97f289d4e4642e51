/*
 * cs-file.h - opening files inside a Maildir safely: relative to a
 * directory fd, never following a symlink, regular files only.
 */
#ifndef CS_FILE_H
#define CS_FILE_H

#include <dirent.h>
#include <stdio.h>

#include "cs-error.h"

/* Open path for reading as a stdio stream, refusing symlinks and anything
   but a regular file.  Returns 1 and *fp_r, 0 if the file does not exist,
   -1 on error. */
int cs_file_open_read(const char *path, FILE **fp_r, struct cs_error *err);

/* The same for the file name in dir; the full path is left in path_r
   (path_size bytes) for messages. */
int cs_file_open_read_in(const char *dir, const char *name, char *path_r,
			 size_t path_size, FILE **fp_r, struct cs_error *err);

/* Open the directory path for reading without following a symlink
   inside the Maildir root: root itself is opened as given (the admin's
   choice), every component of path below it with openat(O_DIRECTORY |
   O_NOFOLLOW), so a folder, new/, cur/ or tmp/ that is (or is swapped
   for) a symlink fails with ELOOP or ENOTDIR instead of leading
   elsewhere.  root may be NULL, or path outside it: then only its last
   component is not followed.  Returns the fd, or -1 with errno set. */
int cs_dir_open(const char *root, const char *path);
/* The same as a DIR stream (fdopendir).  NULL with errno set. */
DIR *cs_dir_opendir(const char *root, const char *path);
/* The error for a failed cs_dir_open(): "is a symlink, not followed", or
   the system error.  Always returns -1. */
int cs_dir_error(struct cs_error *err, const char *path);

/* Write a new file (mode 0600: unnamed with O_TMPFILE, else
   path+".tmp.XXXXXX"), fsync it, give it a name of its own beside path
   and rename it over path, fsync the directory.  Safe to call from
   several processes at once: the last rename wins.  Returns 0 or -1. */
int cs_file_replace(const char *path, const void *data, size_t size,
		    struct cs_error *err);


/* Remove the temporary files that writers of the index db_path killed
   before they finished left beside it: db_path[.WORD].tmp.PID.N
   (cs_file_replace) and db_path.rebuild.PID.N (a rebuild), only our own
   patterns, only regular files, and only when no process PID exists.
   Errors are ignored (the files are harmless). */
void cs_file_clean_leftovers(const char *db_path);

/* The running kernel's boot id ("" when it can't be read). */
void cs_boot_id(char *buf, size_t size);

/* snprintf for paths: returns 0, or -1 when the result did not fit (buf is
   then truncated and must not be used). */
int cs_path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
