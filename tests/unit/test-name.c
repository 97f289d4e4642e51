/*
 * test-name.c - Maildir file names and flags, table-driven: every odd
 * name a Maildir can hold, and what the parser must make of it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

static const struct {
	const char *name;
	char sep;
	int ret;		/* 0 ok, -1 refused */
	const char *base;
	const char *suffix;
	const char *letters;	/* flags, as sorted letters */
	int odd;
} name_cases[] = {
	{ "1700000000.M1P2.host,S=123:2,FS", ':', 0,
	  "1700000000.M1P2.host,S=123", ":2,FS", "FS", 0 },
	{ "1700000000.M1P2.host", ':', 0, "1700000000.M1P2.host", "", "", 0 },
	{ "1700000000.M1P2.host:2,", ':', 0, "1700000000.M1P2.host", ":2,",
	  "", 0 },
	{ "a:1,experimental", ':', 0, "a", ":1,experimental", "", 0 },
	{ "a:2,SF", ':', 0, "a", ":2,SF", "FS", 1 },		/* unsorted */
	{ "a:2,SSa", ':', 0, "a", ":2,SSa", "Sa", 1 },		/* duplicate */
	{ "a:2,XSz", ':', 0, "a", ":2,XSz", "SXz", 1 },		/* unsorted */
	{ "a:2,S3T", ':', 0, "a", ":2,S3T", "ST", 1 },		/* digit */
	{ "a:2,S,ext=1", ':', 0, "a", ":2,S,ext=1", "S", 0 },	/* ext */
	{ "a;2,S", ';', 0, "a", ";2,S", "S", 0 },		/* other sep */
	{ "a:2,S", ';', 0, "a:2,S", "", "", 0 },		/* sep differs */
	{ "a!2,RS", '!', 0, "a", "!2,RS", "RS", 0 },
	{ "\xff\xfe\x80:2,S", ':', 0, "\xff\xfe\x80", ":2,S", "S", 0 },
	{ "a:b:2,S", ':', 0, "a", ":b:2,S", "", 0 },		/* 2 seps */
	{ "", ':', -1, NULL, NULL, NULL, 0 },
	{ ".hidden", ':', -1, NULL, NULL, NULL, 0 },
	{ ":2,S", ':', -1, NULL, NULL, NULL, 0 },		/* no base */
	{ "a/b:2,S", ':', -1, NULL, NULL, NULL, 0 },
};

static void test_name_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		struct cs_name name;
		struct cs_error err;
		char letters[CS_FLAGS_STR_SIZE];
		int ret;

		cs_error_clear(&err);
		ret = cs_name_parse(name_cases[i].name, name_cases[i].sep,
				    &name, &err);
		CU_ASSERT_EQUAL(ret, name_cases[i].ret);
		if (ret != 0) {
			CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
			CU_ASSERT(err.text[0] != '\0');
			continue;
		}
		CU_ASSERT_EQUAL(name.base_len, strlen(name_cases[i].base));
		CU_ASSERT(strncmp(name.base, name_cases[i].base,
				  name.base_len) == 0);
		CU_ASSERT_STRING_EQUAL(name.suffix, name_cases[i].suffix);
		CU_ASSERT_STRING_EQUAL(cs_flags_to_letters(name.flags, letters),
				       name_cases[i].letters);
		CU_ASSERT_EQUAL(name.odd, name_cases[i].odd);
	}
}

static void test_name_too_long(void)
{
	char name[CS_NAME_MAX + 2];
	struct cs_name parsed;

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CU_ASSERT_EQUAL(cs_name_parse(name, ':', &parsed, NULL), -1);
	name[CS_NAME_MAX] = '\0';
	CU_ASSERT_EQUAL(cs_name_parse(name, ':', &parsed, NULL), 0);
	CU_ASSERT_EQUAL(parsed.base_len, CS_NAME_MAX);
}

static const struct {
	const char *old_suffix;
	const char *letters;
	const char *expect;
} suffix_cases[] = {
	{ "", "S", ":2,S" },
	{ ":2,", "FS", ":2,FS" },
	{ ":2,S", "", ":2," },
	{ ":2,S3", "RS", ":2,RS3" },		/* odd characters kept */
	{ ":2,S,ext=1", "FS", ":2,FS,ext=1" },	/* extension kept */
	{ ":1,experimental", "S", ":2,S" },
	{ ":2,Sz", "Sa", ":2,Sa" },
};

static void test_suffix_with_flags(void)
{
	char buf[CS_SUFFIX_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(suffix_cases) / sizeof(suffix_cases[0]); i++) {
		CU_ASSERT_EQUAL(cs_suffix_with_flags(
			suffix_cases[i].old_suffix, ':',
			cs_flags_from_letters(suffix_cases[i].letters), buf,
			sizeof(buf), NULL), 0);
		CU_ASSERT_STRING_EQUAL(buf, suffix_cases[i].expect);
	}
	CU_ASSERT_EQUAL(cs_suffix_with_flags("", ':', CS_FLAG_SEEN, buf, 4,
					     NULL), -1);
}

static void test_flag_bits(void)
{
	char letters[CS_FLAGS_STR_SIZE];
	uint64_t all = cs_flags_from_letters(
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	CU_ASSERT_EQUAL(all, CS_FLAGS_ALL);
	CU_ASSERT_STRING_EQUAL(cs_flags_to_letters(all, letters),
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
	CU_ASSERT_EQUAL(CS_FLAG_BIT('a'), UINT64_C(1) << 26);
	CU_ASSERT_EQUAL(CS_FLAG_BIT('1'), 0);
	CU_ASSERT_EQUAL(cs_flags_from_letters("S-1"), CS_FLAG_SEEN);
	CU_ASSERT_EQUAL(CS_FLAGS_KEYWORDS & CS_FLAG_SEEN, 0);
	CU_ASSERT_EQUAL(CS_FLAGS_KEYWORDS & CS_FLAG_BIT('z'), CS_FLAG_BIT('z'));
}

static const struct {
	char letter;
	const char *imap;
} imap_cases[] = {
	{ 'P', "$Forwarded" }, { 'R', "\\Answered" }, { 'S', "\\Seen" },
	{ 'T', "\\Deleted" }, { 'D', "\\Draft" }, { 'F', "\\Flagged" },
};

static void test_imap_names(void)
{
	struct cs_keywords kw;
	struct cs_error err;
	uint64_t flags;
	char buf[256];
	size_t i;

	for (i = 0; i < sizeof(imap_cases) / sizeof(imap_cases[0]); i++) {
		CU_ASSERT_STRING_EQUAL(cs_flag_imap_name(imap_cases[i].letter),
				       imap_cases[i].imap);
		CU_ASSERT_EQUAL(cs_flag_from_imap_name(imap_cases[i].imap),
				imap_cases[i].letter);
	}
	CU_ASSERT_PTR_NULL(cs_flag_imap_name('X'));
	CU_ASSERT_EQUAL(cs_flag_from_imap_name("\\seen"), 'S');
	CU_ASSERT_EQUAL(cs_flag_from_imap_name("\\Recent"), 0);

	memset(&kw, 0, sizeof(kw));
	kw.names[0] = "Junk";
	kw.names[2] = "$Label1";
	CU_ASSERT_EQUAL(cs_flags_to_imap(cs_flags_from_letters("FSXac"), &kw,
					 buf, sizeof(buf)), 0);
	/* X has no IMAP name and is not shown; it is kept on disk */
	CU_ASSERT_STRING_EQUAL(buf, "\\Flagged \\Seen Junk $Label1");
	CU_ASSERT_EQUAL(cs_flags_to_imap(cs_flags_from_letters("b"), &kw, buf,
					 sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "$kw_b");
	CU_ASSERT_EQUAL(cs_flags_to_imap(cs_flags_from_letters("FS"), &kw, buf,
					 8), -1);

	CU_ASSERT_EQUAL(cs_flags_from_imap("(\\Seen junk $kw_b)", &kw, &flags,
					   NULL), 0);
	CU_ASSERT_EQUAL(flags, cs_flags_from_letters("Sab"));
	CU_ASSERT_EQUAL(cs_flags_from_imap("\\Flagged", &kw, &flags, NULL), 0);
	CU_ASSERT_EQUAL(flags, CS_FLAG_FLAGGED);
	CU_ASSERT_EQUAL(cs_flags_from_imap("()", &kw, &flags, NULL), 0);
	CU_ASSERT_EQUAL(flags, 0);
	cs_error_clear(&err);
	CU_ASSERT_EQUAL(cs_flags_from_imap("(\\Recent)", &kw, &flags, &err),
			-1);
	CU_ASSERT(strstr(err.text, "\\Recent") != NULL);
	CU_ASSERT_EQUAL(cs_flags_from_imap("(unknownkw)", &kw, &flags, NULL),
			-1);
	CU_ASSERT_EQUAL(cs_flags_from_imap("(\\Seen", &kw, &flags, NULL), -1);
}

static void test_keywords_file(void)
{
	char root[4096], path[4200];
	struct cs_keywords kw;
	FILE *fp;

	unit_make_root(root, sizeof(root));
	CU_ASSERT_EQUAL(cs_keywords_read(root, &kw, NULL), 0);
	CU_ASSERT_PTR_NULL(kw.names[0]);
	snprintf(path, sizeof(path), "%s/dovecot-keywords", root);
	fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs("0 Junk\n1 NonJunk\nbad line\n30 toolarge\n3 $Work\n", fp);
	fclose(fp);
	CU_ASSERT_EQUAL(cs_keywords_read(root, &kw, NULL), 0);
	CU_ASSERT_STRING_EQUAL(kw.names[0], "Junk");
	CU_ASSERT_STRING_EQUAL(kw.names[1], "NonJunk");
	CU_ASSERT_PTR_NULL(kw.names[2]);
	CU_ASSERT_STRING_EQUAL(kw.names[3], "$Work");
	CU_ASSERT_EQUAL(cs_keywords_letter(&kw, "nonjunk"), 'b');
	CU_ASSERT_EQUAL(cs_keywords_letter(&kw, "other"), 0);
	cs_keywords_free(&kw);
	CU_ASSERT_PTR_NULL(kw.names[0]);

	/* a symlinked keywords file is refused, not followed */
	unlink(path);
	CU_ASSERT_EQUAL(symlink("/etc/passwd", path), 0);
	CU_ASSERT_EQUAL(cs_keywords_read(root, &kw, NULL), -1);
	unit_remove_tree(root);
}

static const struct {
	const char *name;
	int ok;
} mailbox_names[] = {
	{ "INBOX", 1 }, { "Sent", 1 }, { "A.B", 1 }, { "Ünïcode", 1 },
	{ "", 0 }, { "..", 0 }, { "A..B", 0 }, { ".A", 0 }, { "A.", 0 },
	{ "A/B", 0 }, { "../etc", 0 }, { "a\nb", 0 }, { "tab\there", 0 },
};

static void test_mailbox_names(void)
{
	char path[4096], buf[256];
	size_t i;

	for (i = 0; i < sizeof(mailbox_names) / sizeof(mailbox_names[0]);
	     i++) {
		struct cs_error err;
		int ret;

		cs_error_clear(&err);
		ret = cs_mailbox_name_check(mailbox_names[i].name, &err);
		CU_ASSERT_EQUAL(ret, mailbox_names[i].ok ? 0 : -1);
		if (ret < 0)
			CU_ASSERT_EQUAL(err.code, CS_ERR_INVALID);
	}
	CU_ASSERT_EQUAL(cs_mailbox_path("/m", "INBOX", path, sizeof(path),
					NULL), 0);
	CU_ASSERT_STRING_EQUAL(path, "/m");
	CU_ASSERT_EQUAL(cs_mailbox_path("/m", "A.B", path, sizeof(path),
					NULL), 0);
	CU_ASSERT_STRING_EQUAL(path, "/m/.A.B");
	CU_ASSERT_EQUAL(cs_mailbox_path("/m", "../x", path, sizeof(path),
					NULL), -1);
	CU_ASSERT_STRING_EQUAL(cs_mailbox_name_from_dirent(".Sent", buf,
							   sizeof(buf)),
			       "Sent");
	CU_ASSERT_PTR_NULL(cs_mailbox_name_from_dirent("..", buf, sizeof(buf)));
	CU_ASSERT_PTR_NULL(cs_mailbox_name_from_dirent("cur", buf,
						       sizeof(buf)));
	CU_ASSERT_PTR_NULL(cs_mailbox_name_from_dirent("...x", buf,
						       sizeof(buf)));
}

void suite_name_register(void)
{
	CU_pSuite s = CU_add_suite("maildir names and flags", NULL, NULL);

	CU_add_test(s, "file name table", test_name_table);
	CU_add_test(s, "file name length limit", test_name_too_long);
	CU_add_test(s, "suffix with new flags", test_suffix_with_flags);
	CU_add_test(s, "flag bits", test_flag_bits);
	CU_add_test(s, "IMAP flag names", test_imap_names);
	CU_add_test(s, "dovecot-keywords", test_keywords_file);
	CU_add_test(s, "mailbox names", test_mailbox_names);
}
