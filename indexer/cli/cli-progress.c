/*
 * cli-progress.c - the progress bar of "condstore reindex", drawn on
 * stderr when it is a terminal.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CLI_PROGRESS_WIDTH 30

void cli_progress_init(const struct cli_global *g, struct cli_progress *p)
{
	memset(p, 0, sizeof(*p));
	p->enabled = !g->quiet && isatty(STDERR_FILENO) == 1;
	p->last_permille = -1;
}

void cli_progress_cb(void *ctx, const char *mailbox, uint64_t done,
		     uint64_t total)
{
	struct cli_progress *p = ctx;
	char bar[CLI_PROGRESS_WIDTH + 1];
	int permille, filled;

	if (!p->enabled)
		return;
	/* the total is what the index knew: unknown (0) on a first
	   reindex, and a mailbox may have grown since */
	permille = total == 0 || done > total ? -2 :
		(int)(done * 1000 / total);
	if (permille == p->last_permille && permille != -2 &&
	    strncmp(p->mailbox, mailbox, sizeof(p->mailbox) - 1) == 0)
		return;
	p->last_permille = permille;
	snprintf(p->mailbox, sizeof(p->mailbox), "%s", mailbox);

	if (permille < 0) {
		fprintf(stderr, "\r\033[K%-20.20s %llu files", p->mailbox,
			(unsigned long long)done);
	} else {
		filled = permille * CLI_PROGRESS_WIDTH / 1000;
		memset(bar, '#', filled);
		memset(bar + filled, '-', CLI_PROGRESS_WIDTH - filled);
		bar[CLI_PROGRESS_WIDTH] = '\0';
		fprintf(stderr, "\r\033[K%-20.20s [%s] %3d%% %llu/%llu",
			p->mailbox, bar, permille / 10,
			(unsigned long long)done, (unsigned long long)total);
	}
	fflush(stderr);
	p->drawn = true;
}

void cli_progress_done(struct cli_progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->drawn = false;
	p->last_permille = -1;
}
