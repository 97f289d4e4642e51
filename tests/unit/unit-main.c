/*
 * unit-main.c - runs every CUnit suite of the library; exits non-zero
 * when any test failed, so that automake's test driver reports it.
 *
 *   unit-tests            every test (what make check runs)
 *   unit-tests TEXT...    only the tests whose suite or test name
 *                         contains one of the TEXTs, e.g.
 *                         unit-tests "kill -9 during stores"
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "unit.h"

static bool name_selected(const char *suite, const char *test, int argc,
			  char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strstr(suite, argv[i]) != NULL ||
		    strstr(test, argv[i]) != NULL)
			return true;
	}
	return false;
}

/* Leave active only the tests named on the command line; returns how
   many that is. */
static unsigned int select_tests(int argc, char **argv)
{
	CU_pSuite suite;
	CU_pTest test;
	unsigned int selected = 0;
	bool on;

	CU_set_fail_on_inactive(CU_FALSE);
	for (suite = CU_get_registry()->pSuite; suite != NULL;
	     suite = suite->pNext) {
		for (test = suite->pTest; test != NULL; test = test->pNext) {
			on = name_selected(suite->pName, test->pName,
					   argc, argv);
			CU_set_test_active(test, on ? CU_TRUE : CU_FALSE);
			selected += on ? 1 : 0;
		}
	}
	return selected;
}

int main(int argc, char **argv)
{
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite_name_register();
	suite_uidset_register();
	suite_array_register();
	suite_hash_register();
	suite_record_register();
	suite_index_register();
	suite_callbacks_register();
	suite_scan_register();
	suite_crash_register();
	suite_nosync_register();
	suite_horizon_register();
	suite_msgstore_register();
	if (argc > 1 && select_tests(argc, argv) == 0) {
		fprintf(stderr, "unit-tests: no test's name contains %s%s\n",
			argv[1], argc > 2 ? " (or the other names given)" : "");
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() +
		CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
