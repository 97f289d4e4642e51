/*
 * cli-output.c - error, warning and IMAP-style output of the condstore
 * command.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "cli.h"

static void cli_vmessage(const struct cli_global *g, int priority,
			 const char *prefix, const char *fmt, va_list args)
{
	va_list copy;

	if (g != NULL && g->syslog) {
		va_copy(copy, args);
		vsyslog(priority, fmt, copy);
		va_end(copy);
	}
	fprintf(stderr, "condstore: %s", prefix);
	vfprintf(stderr, fmt, args);
	fputc('\n', stderr);
}

void cli_error(const struct cli_global *g, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	cli_vmessage(g, LOG_ERR, "", fmt, args);
	va_end(args);
}

int cli_error_cs(const struct cli_global *g, const struct cs_error *err)
{
	cli_error(g, "%s", err->text[0] != '\0' ? err->text : "unknown error");
	return CLI_EXIT_ERROR;
}

void cli_warn(const struct cli_global *g, const char *fmt, ...)
{
	va_list args;

	if (g->quiet)
		return;
	va_start(args, fmt);
	cli_vmessage(g, LOG_WARNING, "warning: ", fmt, args);
	va_end(args);
}

void cli_warn_cb(void *ctx, const char *text)
{
	cli_warn(ctx, "%s", text);
}

void cli_info(const struct cli_global *g, const char *fmt, ...)
{
	va_list args;

	if (g->verbose == 0 || g->quiet)
		return;
	va_start(args, fmt);
	cli_vmessage(g, LOG_INFO, "", fmt, args);
	va_end(args);
}

/* RFC 3501 atom: no atom-specials, no CTLs, no 8-bit. */
static bool cli_is_atom(const char *str)
{
	const unsigned char *p;

	if (*str == '\0')
		return false;
	for (p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f ||
		    strchr("(){%*\"\\]", *p) != NULL)
			return false;
	}
	return true;
}

void cli_print_astring(const char *str)
{
	const char *p;

	if (cli_is_atom(str)) {
		fputs(str, stdout);
		return;
	}
	putchar('"');
	for (p = str; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar(*p);
	}
	putchar('"');
}

int cli_print_fetch(struct cli_mailbox *mbox, const struct cli_msg *msg,
		    uint32_t seq)
{
	/* every letter with a name of at most 255 bytes, separated */
	char flags[52 * 257];
	struct cs_error err;
	int ret;

	if (seq == 0) {
		ret = cs_message_seq(mbox->box, msg->uid, &seq, &err);
		if (ret < 0) {
			cli_error_cs(mbox->g, &err);
			return -1;
		}
		if (ret == 0) {
			cli_error(mbox->g, "%s: UID %u: no sequence number",
				  mbox->name, msg->uid);
			return -1;
		}
	}
	if (cs_flags_to_imap(msg->flags, &mbox->keywords,
			     flags, sizeof(flags)) < 0) {
		cli_error(mbox->g, "%s: UID %u: flags do not fit the output",
			  mbox->name, msg->uid);
		return -1;
	}
	printf("* %u FETCH (UID %u MODSEQ (%llu) FLAGS (%s))\n", seq,
	       msg->uid, (unsigned long long)msg->modseq, flags);
	return 0;
}

int cli_print_fetch_list(struct cli_mailbox *mbox,
			 const struct cli_msgs *list)
{
	size_t i;

	for (i = 0; i < list->count; i++) {
		if (cli_print_fetch(mbox, &list->msgs[i], 0) < 0)
			return -1;
	}
	return 0;
}
