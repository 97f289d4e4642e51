/*
 * cmd-daemon-status.c - "condstore daemon-status": ask the running watch
 * daemon how it is doing (its status socket, see watch-status.h) and print
 * the figures of every root the caller may see, IMAP-style or as JSON.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cs-watch.h"

#define DSTATUS_DEFAULT_TIMEOUT_MS 10000
#define DSTATUS_MAX_FIELDS 24

/* One record of the report: "daemon", "root" or "end" and its fields
   (unescaped in place). */
struct dstatus_rec {
	const char *kind;
	const char *keys[DSTATUS_MAX_FIELDS];
	const char *values[DSTATUS_MAX_FIELDS];
	unsigned int count;
};

/* Read the whole report from the daemon at path.  Returns 0 (*text_r
   NUL-terminated, free it), or -1 (printed). */
static int dstatus_fetch(const struct cli_global *g, const char *path,
			 unsigned long timeout_ms, char **text_r)
{
	struct timeval tv = { (time_t)(timeout_ms / 1000),
			      (suseconds_t)(timeout_ms % 1000) * 1000 };
	struct sockaddr_un addr;
	size_t len = 0, alloc = 0;
	char *text = NULL;
	ssize_t ret;
	int fd;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		cli_error(g, "daemon-status: %s: path too long", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		cli_error(g, "daemon-status: no watch daemon answers on %s: %s",
			  path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (;;) {
		/* 4096 bytes to read and the NUL after them */
		if (cs_array_reserve(&text, 1, len, 4096 + 1, &alloc,
				     8192) < 0) {
			cli_error(g, "out of memory");
			goto fail;
		}
		ret = read(fd, text + len, alloc - len - 1);
		if (ret == 0)
			break;
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			cli_error(g, "daemon-status: %s: %s", path,
				  errno == EAGAIN ? "no answer in time (a "
				  "full rescan keeps the daemon busy?)" :
				  strerror(errno));
			goto fail;
		}
		len += (size_t)ret;
	}
	close(fd);
	text[len] = '\0';
	*text_r = text;
	return 0;
fail:
	close(fd);
	free(text);
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Undo the daemon's \xHH escapes in place. */
static void dstatus_unescape(char *s)
{
	char *out = s;
	int hi, lo;

	while (*s != '\0') {
		if (s[0] == '\\' && s[1] == 'x' &&
		    (hi = hexval(s[2])) >= 0 && (lo = hexval(s[3])) >= 0) {
			*out++ = (char)(hi * 16 + lo);
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Split one line into rec.  Returns 0, or -1 when it is malformed. */
static int dstatus_parse_line(char *line, struct dstatus_rec *rec)
{
	char *field, *save = NULL, *eq;

	memset(rec, 0, sizeof(*rec));
	rec->kind = strtok_r(line, " ", &save);
	if (rec->kind == NULL)
		return -1;
	while ((field = strtok_r(NULL, " ", &save)) != NULL) {
		eq = strchr(field, '=');
		if (eq == NULL || rec->count == DSTATUS_MAX_FIELDS)
			return -1;
		*eq = '\0';
		dstatus_unescape(eq + 1);
		rec->keys[rec->count] = field;
		rec->values[rec->count++] = eq + 1;
	}
	return 0;
}

static const char *rec_get(const struct dstatus_rec *rec, const char *key)
{
	unsigned int i;

	for (i = 0; i < rec->count; i++) {
		if (strcmp(rec->keys[i], key) == 0)
			return rec->values[i];
	}
	return NULL;
}

/* Is the root this record describes degraded? */
static bool rec_degraded(const struct dstatus_rec *rec)
{
	const char *state = rec_get(rec, "state");
	const char *unwatched = rec_get(rec, "unwatched");

	return state == NULL || strcmp(state, "ok") != 0 ||
		(unwatched != NULL && strcmp(unwatched, "0") != 0);
}

static bool is_number(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Microseconds since the epoch as an IMAP date-time (UTC), or NIL. */
static void print_imap_time(const char *usec)
{
	time_t t = (time_t)(strtoull(usec, NULL, 10) / 1000000);
	struct tm tm;
	char buf[64];

	if (t == 0 || gmtime_r(&t, &tm) == NULL) {
		fputs("NIL", stdout);
		return;
	}
	strftime(buf, sizeof(buf), "\"%d-%b-%Y %H:%M:%S +0000\"", &tm);
	fputs(buf, stdout);
}

/* A string IMAP-style: an atom, a quoted string, or (CR, LF) a
   literal. */
static void print_imap_string(const char *s)
{
	if (strpbrk(s, "\r\n") != NULL)
		printf("{%zu}\r\n%s", strlen(s), s);
	else
		cli_print_astring(s);
}

/* "* ROOT path (KEY value ...)" / "* DAEMON (KEY value ...)". */
static void print_imap(const struct dstatus_rec *rec)
{
	const char *key, *value;
	unsigned int i, n = 0;
	char upper[64];
	size_t j;

	printf("* %s ", strcmp(rec->kind, "root") == 0 ? "ROOT" : "DAEMON");
	if (strcmp(rec->kind, "root") == 0) {
		print_imap_string(rec_get(rec, "path"));
		putchar(' ');
	}
	putchar('(');
	for (i = 0; i < rec->count; i++) {
		key = rec->keys[i];
		value = rec->values[i];
		if (strcmp(key, "path") == 0)
			continue;
		for (j = 0; key[j] != '\0' && j < sizeof(upper) - 1; j++)
			upper[j] = key[j] == '_' ? '-' :
				(char)(key[j] >= 'a' && key[j] <= 'z' ?
				       key[j] - 'a' + 'A' : key[j]);
		upper[j] = '\0';
		printf("%s%s ", n++ > 0 ? " " : "", upper);
		if (strcmp(key, "last_commit") == 0 ||
		    strcmp(key, "since") == 0)
			print_imap_time(value);
		else if (strcmp(key, "state") == 0)
			fputs(strcmp(value, "ok") == 0 ? "OK" :
			      strcmp(value, "error") == 0 ? "ERROR" :
			      "GIVEN-UP", stdout);
		else if (is_number(value))
			fputs(value, stdout);
		else
			print_imap_string(value);
	}
	printf(")\n");
}

static void print_json_string(const char *s)
{
	const unsigned char *p;

	putchar('"');
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_json(const struct dstatus_rec *rec, bool first)
{
	unsigned int i;

	if (strcmp(rec->kind, "daemon") == 0)
		printf("{\"daemon\": {");
	else
		printf("%s\n  {", first ? "" : ",");
	for (i = 0; i < rec->count; i++) {
		printf("%s\"%s\": ", i > 0 ? ", " : "", rec->keys[i]);
		if (is_number(rec->values[i]))
			fputs(rec->values[i], stdout);
		else
			print_json_string(rec->values[i]);
	}
	if (strcmp(rec->kind, "daemon") == 0)
		printf("},\n \"roots\": [");
	else
		printf("}");
}

static int dstatus_print(const struct cli_global *g, char *text, bool json)
{
	struct dstatus_rec rec;
	char *line, *save = NULL;
	bool degraded = false, seen_daemon = false, ended = false;
	unsigned int roots = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL && !ended;
	     line = strtok_r(NULL, "\n", &save)) {
		if (dstatus_parse_line(line, &rec) < 0)
			goto bad;
		if (strcmp(rec.kind, "end") == 0) {
			ended = true;
			continue;
		}
		if (strcmp(rec.kind, "daemon") == 0 && !seen_daemon)
			seen_daemon = true;
		else if (strcmp(rec.kind, "root") != 0 || !seen_daemon ||
			 rec_get(&rec, "path") == NULL)
			goto bad;
		if (strcmp(rec.kind, "root") == 0 && rec_degraded(&rec))
			degraded = true;
		if (json)
			print_json(&rec, strcmp(rec.kind, "root") == 0 &&
				   roots == 0);
		else
			print_imap(&rec);
		roots += strcmp(rec.kind, "root") == 0 ? 1 : 0;
	}
	if (!ended)
		goto bad;
	if (json)
		printf("%s]}\n", roots > 0 ? "\n " : "");
	return degraded ? CLI_EXIT_FAIL : CLI_EXIT_OK;
bad:
	fflush(stdout);
	cli_error(g, "daemon-status: the daemon's answer is incomplete or "
		  "malformed");
	return CLI_EXIT_ERROR;
}

static int cmd_daemon_status(const struct cli_global *g, int argc, char **argv)
{
	struct cli_option opts[] = {
		{ .name = "socket", .has_arg = true },
		{ .name = "json" },
		{ .name = "timeout", .has_arg = true },
		{ .name = NULL }
	};
	unsigned long timeout = DSTATUS_DEFAULT_TIMEOUT_MS;
	const char *path = WATCH_STATUS_SOCKET_DEFAULT;
	char *text, *end;
	int ret;

	if (cli_args_parse(g, &cli_cmd_daemon_status, argc, argv, opts,
			   0, 0) < 0)
		return CLI_EXIT_ERROR;
	if (opts[0].seen)
		path = opts[0].value;
	if (opts[2].seen) {
		timeout = strtoul(opts[2].value, &end, 10);
		if (end == opts[2].value || *end != '\0' || timeout == 0 ||
		    timeout > 86400000) {
			cli_error(g, "daemon-status: --timeout %s: not a "
				  "number of milliseconds", opts[2].value);
			return CLI_EXIT_ERROR;
		}
	}
	if (dstatus_fetch(g, path, timeout, &text) < 0)
		return CLI_EXIT_ERROR;
	ret = dstatus_print(g, text, opts[1].seen);
	free(text);
	return ret;
}

const struct cli_command cli_cmd_daemon_status = {
	.name = "daemon-status",
	.summary = "how the running watch daemon is doing",
	.usage = "[--socket PATH] [--json] [--timeout MS]",
	.help =
"Ask the watch daemon on its status socket how it is doing and print a\n"
"DAEMON line (pid, start, roots served and given up, overflows, bytes of\n"
"events queued), then one ROOT line per Maildir: STATE (OK, ERROR: the\n"
"last pass failed, GIVEN-UP: no longer served, LAST-ERROR says why),\n"
"MAILBOXES, WATCHES, UNWATCHED (mailboxes rescanned instead), LAG-MS\n"
"(the last batch, taken to committed), EVENTS, CHANGES (modseqs\n"
"assigned), COMMITS, LAST-COMMIT, RESCANS (full scans), DIR-READS\n"
"(new/ and cur/ listings read in full), ERRORS and LAST-ERROR.  A user\n"
"sees the Maildirs they own; root sees all.\n"
"\n"
"Options:\n"
"  --socket PATH  the daemon's --status-socket (default\n"
"                 " WATCH_STATUS_SOCKET_DEFAULT ")\n"
"  --json         one JSON object: {\"daemon\": {...}, \"roots\": [...]}\n"
"  --timeout MS   wait at most MS ms for the answer (default 10000; the\n"
"                 daemon answers between batches, not during a full\n"
"                 rescan)\n"
"\n"
"Exit status: 0 every Maildir shown is served without trouble; 1 one is\n"
"degraded (given up, its last pass failed, or mailboxes not watched);\n"
"2 no daemon answers.\n",
	.run = cmd_daemon_status,
};
