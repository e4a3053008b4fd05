/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Messages, sleeping, signals and the idle strategy of poll loops.
 */
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "app_chan.h"

const char *app_prog = "app";
atomic_bool app_interrupted;

void
app_msg(FILE *f, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write: lines of two processes sharing a terminal do not mix. */
	fprintf(f, "%s: %s\n", app_prog, line);
	if (f == stdout)
		fflush(stdout);
}

void
app_sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / APP_SEC_NS), (long)(ns % APP_SEC_NS) };

	nanosleep(&ts, NULL);
}

static void
app_on_signal(int sig)
{
	(void)sig;
	/* A lock-free atomic store: async-signal-safe. The loops see it. */
	atomic_store_explicit(&app_interrupted, true, memory_order_relaxed);
}

void
app_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = app_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Longest sleep on the fds: a loop must still look at its clock now and then. */
#define APP_IDLE_POLL_MS 100
#define APP_IDLE_NAP_NS	 APP_MS_NS

void
app_idle(struct app_idle *i, struct app_chan *const *chans, unsigned n)
{
	struct pollfd pfd[4];
	unsigned nfd = 0;
	uint64_t now;

	if (++i->spins < APP_IDLE_SPINS) {
		app_cpu_relax();
		return;
	}
	i->spins = 0;
	if (i->nap_us != 0)
		app_sleep_ns((uint64_t)i->nap_us * 1000u);
	else if (i->yield)
		sched_yield();
	now = app_now_ns();
	if (i->since == 0)
		i->since = now;
	if (!i->sleep || now - i->since < APP_IDLE_SLEEP_NS)
		return;
	/* Armed first, so that the peer wakes us for what it sends next. */
	for (unsigned k = 0; k < n && nfd < 4; k++) {
		int fd, rc;

		if (!app_chan_connected(chans[k]))
			continue;
		fd = bulk_channel_fd(chans[k]->ch);
		if (fd < 0)
			continue;
		rc = bulk_channel_arm(chans[k]->ch);
		if (rc != 0) /* work pending (or an error the next poll reports) */
			return;
		pfd[nfd].fd = fd;
		pfd[nfd].events = POLLIN;
		nfd++;
	}
	if (nfd == 0)
		app_sleep_ns(APP_IDLE_NAP_NS);
	else
		(void)poll(pfd, nfd, APP_IDLE_POLL_MS);
}
