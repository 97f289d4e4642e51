/*
 * unit.h - what the CUnit suites share: suite registration and helpers
 * that make real Maildirs in a temporary directory.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

#include <CUnit/CUnit.h>

#include "condstore.h"

void suite_name_register(void);
void suite_uidset_register(void);
void suite_array_register(void);
void suite_hash_register(void);
void suite_record_register(void);
void suite_index_register(void);
void suite_callbacks_register(void);
void suite_scan_register(void);
void suite_crash_register(void);
void suite_nosync_register(void);
void suite_horizon_register(void);
void suite_msgstore_register(void);
void suite_watch_events_register(void);

/* A fresh Maildir++ root under $TMPDIR with INBOX's new/cur/tmp; the
   returned string is static per call site's buffer. */
void unit_make_root(char *buf, size_t size);
/* Make DIR/{new,cur,tmp}. */
void unit_make_maildir(const char *dir);
/* Create file DIR/SUB/NAME with a little content. */
void unit_touch(const char *dir, const char *sub, const char *name);
/* rm -rf path */
void unit_remove_tree(const char *path);
/* Open the index of root (creating it), asserting success. */
struct cs_index *unit_open(const char *root);
/* The same with settings of the caller's. */
struct cs_index *unit_open_set(const struct cs_index_settings *set);

/* Assert that expr returns 0, fatally.  expr passes CU_ERR as its
   struct cs_error *: when it fails, the error's text is printed with the
   expression and its return value. */
#define CU_ERR (&cu_err_)
#define CU_ASSERT_OK(expr) do { \
	struct cs_error cu_err_; \
	int cu_ret_; \
	cs_error_clear(&cu_err_); \
	cu_ret_ = (expr); \
	if (cu_ret_ != 0) \
		fprintf(stderr, "\n  %s:%d: %s returned %d: %s\n", \
			__FILE__, __LINE__, #expr, cu_ret_, \
			cu_err_.text[0] != '\0' ? cu_err_.text : \
			"(the error is in the caller's struct)"); \
	CU_ASSERT_EQUAL_FATAL(cu_ret_, 0); \
} while (0)

#endif
