/*
 * watch-signals.c - SIGTERM, SIGINT and SIGHUP through a signalfd, so the
 * main loop polls for them like for events, and a long round can look
 * for a stop between roots.
 */
#include "config.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include "watch-signals.h"

int watch_signals_open(sigset_t *mask_r)
{
	sigemptyset(mask_r);
	sigaddset(mask_r, SIGTERM);
	sigaddset(mask_r, SIGINT);
	sigaddset(mask_r, SIGHUP);
	if (sigprocmask(SIG_BLOCK, mask_r, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, mask_r, SFD_NONBLOCK | SFD_CLOEXEC);
}

void watch_signals_read(struct watch_daemon *d)
{
	struct signalfd_siginfo si;

	if (d->sfd < 0)
		return;
	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			d->hup = true;
		else
			d->stop = true;
	}
}
