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

/* Messages name files and folders: control characters are escaped
   (cs_escape_log), so that one message stays one line. */
static void cli_vmessage(const struct cli_global *g, int priority,
			 const char *prefix, const char *fmt, va_list args)
{
	char text[4096], shown[4 * sizeof(text)];

	vsnprintf(text, sizeof(text), fmt, args);
	cs_escape_log(text, shown, sizeof(shown));
	if (g != NULL && g->syslog)
		syslog(priority, "%s", shown);
	fprintf(stderr, "condstore: %s%s\n", prefix, shown);
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

/* RFC 3501 astring: an atom as it is; else a quoted string; else
   (control characters such as CR and LF, which a quoted string can't
   hold) a literal, so that a name never starts an output line of its
   own.  8-bit names stay quoted, as Dovecot shows them. */
void cli_print_astring(const char *str)
{
	const unsigned char *p;

	if (cs_imap_is_atom(str)) {
		fputs(str, stdout);
		return;
	}
	for (p = (const unsigned char *)str; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			printf("{%zu}\n%s", strlen(str), str);
			return;
		}
	}
	putchar('"');
	for (p = (const unsigned char *)str; *p != '\0'; p++) {
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
