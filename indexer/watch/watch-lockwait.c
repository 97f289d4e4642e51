/*
 * watch-lockwait.c - a timer that ends the watch daemon's waits for index
 * locks (see cs-watch.h), and the monotonic clock every deadline of the
 * daemon is measured with.
 *
 * tdb retries an fcntl lock wait interrupted by a signal unless the
 * index's alarm flag is set; the timer sets the flag when the bound is
 * reached and then keeps interrupting (every TICK_MS) whatever wait is
 * in progress.  The signal goes to the thread that created the timer (the
 * main thread), never to the inotify reader; the handler is installed
 * without SA_RESTART so that the wait returns EINTR.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watch-lockwait.h"

#ifndef sigev_notify_thread_id
#  define sigev_notify_thread_id _sigev_un._tid
#endif

#define TICK_MS 5

static volatile sig_atomic_t lockwait_expired;
static timer_t lockwait_timer;
static bool lockwait_have_timer;

uint64_t watch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void lockwait_alarm(int signo)
{
	(void)signo;
	lockwait_expired = 1;
}

int watch_lockwait_init(struct cs_error *err)
{
	struct sigaction sa;
	struct sigevent sev;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lockwait_alarm;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return cs_error_sys(err, "sigaction(SIGALRM)");
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGALRM;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, &lockwait_timer) < 0)
		return cs_error_sys(err, "timer_create");
	lockwait_have_timer = true;
	return 0;
}

void watch_lockwait_deinit(void)
{
	if (!lockwait_have_timer)
		return;
	(void)timer_delete(lockwait_timer);
	lockwait_have_timer = false;
	signal(SIGALRM, SIG_DFL);
}

static void ms_to_ts(unsigned int ms, struct timespec *ts)
{
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long)(ms % 1000) * 1000000;
}

void watch_lockwait_arm(unsigned int ms)
{
	struct itimerspec its;

	lockwait_expired = 0;
	if (!lockwait_have_timer)
		return;
	ms_to_ts(ms > 0 ? ms : 1, &its.it_value);
	ms_to_ts(TICK_MS, &its.it_interval);
	(void)timer_settime(lockwait_timer, 0, &its, NULL);
}

void watch_lockwait_disarm(void)
{
	struct itimerspec its;

	if (lockwait_have_timer) {
		memset(&its, 0, sizeof(its));
		(void)timer_settime(lockwait_timer, 0, &its, NULL);
	}
	lockwait_expired = 0;
}

volatile sig_atomic_t *watch_lockwait_flag(void)
{
	return &lockwait_expired;
}
