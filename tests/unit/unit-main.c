/*
 * unit-main.c - runs every CUnit suite of the library; exits non-zero
 * when any test failed, so that automake's test driver reports it.
 */
#include "config.h"

#include <CUnit/Basic.h>

#include "unit.h"

int main(void)
{
	unsigned int failures;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	suite_name_register();
	suite_uidset_register();
	suite_array_register();
	suite_record_register();
	suite_index_register();
	suite_callbacks_register();
	suite_scan_register();
	suite_crash_register();
	suite_nosync_register();
	suite_horizon_register();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_failures() +
		CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures == 0 ? 0 : 1;
}
