/*
 * test-uidset.c - IMAP UID sets: parsing, merging, '*' and formatting.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"

static const struct {
	const char *in;
	const char *out;	/* NULL: must be refused */
} parse_cases[] = {
	{ "1", "1" }, { "1:3", "1:3" }, { "3:1", "1:3" },
	{ "1,2,3", "1:3" }, { "5,1:2,3", "1:3,5" }, { "1:*", "1:*" },
	{ "*", "*" }, { "7,2:4,3:9", "2:9" }, { "10:12,1", "1,10:12" },
	{ "4294967294", "4294967294" },
	{ "", NULL }, { "0", NULL }, { "1:0", NULL }, { "a", NULL },
	{ "1,", NULL }, { ",1", NULL }, { "1::2", NULL }, { "01", NULL },
	{ "4294967295", NULL }, { "99999999999", NULL }, { "1 2", NULL },
};

static void test_parse_format(void)
{
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		struct cs_uidset set;
		struct cs_error err;
		char buf[128];
		int ret;

		cs_uidset_init(&set);
		cs_error_clear(&err);
		ret = cs_uidset_parse(parse_cases[i].in, &set, &err);
		if (parse_cases[i].out == NULL) {
			CU_ASSERT_EQUAL(ret, -1);
			CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
		} else {
			CU_ASSERT_EQUAL(ret, 0);
			CU_ASSERT(cs_uidset_format(&set, buf, sizeof(buf)) > 0);
			CU_ASSERT_STRING_EQUAL(buf, parse_cases[i].out);
		}
		cs_uidset_free(&set);
	}
}

static void test_contains(void)
{
	struct cs_uidset set;

	cs_uidset_init(&set);
	CU_ASSERT_EQUAL(cs_uidset_parse("2:4,10,20:*", &set, NULL), 0);
	CU_ASSERT_FALSE(cs_uidset_contains(&set, 1, 30));
	CU_ASSERT_TRUE(cs_uidset_contains(&set, 2, 30));
	CU_ASSERT_TRUE(cs_uidset_contains(&set, 4, 30));
	CU_ASSERT_FALSE(cs_uidset_contains(&set, 5, 30));
	CU_ASSERT_TRUE(cs_uidset_contains(&set, 10, 30));
	CU_ASSERT_TRUE(cs_uidset_contains(&set, 25, 30));
	CU_ASSERT_FALSE(cs_uidset_contains(&set, 31, 30));
	/* "20:*" with 15 as the highest UID means 15:20 */
	CU_ASSERT_TRUE(cs_uidset_contains(&set, 15, 15));
	CU_ASSERT_FALSE(cs_uidset_contains(&set, 14, 15));
	cs_uidset_free(&set);
}

static void test_add_merge(void)
{
	struct cs_uidset set;
	char *text;
	uint32_t uid;

	cs_uidset_init(&set);
	for (uid = 1000; uid > 0; uid -= 2)
		CU_ASSERT_EQUAL(cs_uidset_add(&set, uid), 0);
	CU_ASSERT_EQUAL(set.count, 500);
	for (uid = 1; uid < 1000; uid += 2)
		CU_ASSERT_EQUAL(cs_uidset_add(&set, uid), 0);
	CU_ASSERT_EQUAL(set.count, 1);
	text = cs_uidset_format_alloc(&set);
	CU_ASSERT_STRING_EQUAL(text, "1:1000");
	free(text);
	CU_ASSERT_EQUAL(cs_uidset_add_range(&set, 2000, 1500), 0);
	text = cs_uidset_format_alloc(&set);
	CU_ASSERT_STRING_EQUAL(text, "1:1000,1500:2000");
	free(text);
	CU_ASSERT_EQUAL(cs_uidset_add_range(&set, 900, 1600), 0);
	CU_ASSERT_EQUAL(set.count, 1);
	CU_ASSERT_EQUAL(set.ranges[0].last, 2000);
	cs_uidset_free(&set);
	CU_ASSERT_PTR_NULL(set.ranges);
}

void suite_uidset_register(void)
{
	CU_pSuite s = CU_add_suite("UID sets", NULL, NULL);

	CU_add_test(s, "parse and format", test_parse_format);
	CU_add_test(s, "contains, with *", test_contains);
	CU_add_test(s, "add and merge", test_add_merge);
}
