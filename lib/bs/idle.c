/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Adaptive polling. Busy polling gives the lowest latency but burns a core
 * per process, and the machines this runs on may have fewer cores than
 * busy programs. So a loop spins (yielding the CPU) for a short while
 * after its last piece of work, then arms its channels (bulk_channel_arm:
 * the peer will write our eventfd) and sleeps in epoll on them, the
 * control sockets and whatever the application watches: the interrupt
 * mode of SPDK and DPDK. Work arriving while armed wakes it at once.
 *
 * Sockets carry only set-up and goodbyes, so a busy loop looks at them
 * once a millisecond (one epoll_wait(0)), not in every round.
 */
#include <errno.h>
#include <sched.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "bs_internal.h"

int
bs_idle_init(struct bs_idle *i, enum bulk_bs_poll_mode mode)
{
	i->mode = mode;
	i->last_work = bs_now_ns();
	i->last_sock_check = 0;
	i->epfd = epoll_create1(EPOLL_CLOEXEC);
	return i->epfd < 0 ? -errno : 0;
}

void
bs_idle_fini(struct bs_idle *i)
{
	if (i->epfd >= 0)
		close(i->epfd);
	i->epfd = -1;
}

int
bs_idle_watch(struct bs_idle *i, int fd, void *tag)
{
	/* Wake-only fds (channels' and the application's) are edge
	 * triggered: whoever owns them drains them (bulk_channel_arm() does
	 * for channels), and a level would keep a busy loop's epoll_wait(0)
	 * returning them for nothing. */
	struct epoll_event ev = { .events = tag ? EPOLLIN | EPOLLRDHUP : EPOLLIN | EPOLLET,
				  .data.ptr = tag };

	if (fd < 0)
		return -EINVAL;
	if (epoll_ctl(i->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	return 0;
}

void
bs_idle_unwatch(struct bs_idle *i, int fd)
{
	if (fd >= 0)
		(void)epoll_ctl(i->epfd, EPOLL_CTL_DEL, fd, NULL);
}

bool
bs_idle_should_sleep(struct bs_idle *i, int work, bool spin)
{
	uint64_t now;

	if (work > 0) {
		i->last_work = bs_now_ns();
		return false;
	}
	if (i->mode == BULK_BS_POLL_BUSY)
		return false;
	if (!spin)
		return true;
	now = bs_now_ns();
	if (now - i->last_work < BS_IDLE_SPIN_NS) {
		/* Others may be waiting for this core: they get it first. */
		sched_yield();
		return false;
	}
	return true;
}

int
bs_idle_events(struct bs_idle *i, bool sleep, int timeout_ms, void **tags, int max)
{
	struct epoll_event evs[32];
	uint64_t now = bs_now_ns();
	int n, k = 0;

	if (!sleep && now - i->last_sock_check < BS_SOCK_CHECK_NS)
		return 0;
	i->last_sock_check = now;
	if (max > 32)
		max = 32;
	if (sleep && timeout_ms == 1) {
		/* Something must be polled: nap as long as we have been idle. */
		uint64_t idle = now - i->last_work, nap = idle < BS_NAP_MIN_NS ? BS_NAP_MIN_NS : idle;
		struct timespec ts;

		if (nap > BS_NS_PER_MS)
			nap = BS_NS_PER_MS;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)nap;
		i->naps++;
		n = epoll_pwait2(i->epfd, evs, max, &ts, NULL);
		if (n < 0 && errno == ENOSYS)
			n = epoll_wait(i->epfd, evs, max, 1);
	} else {
		n = epoll_wait(i->epfd, evs, max, sleep ? timeout_ms : 0);
	}
	for (int e = 0; e < n; e++)
		if (evs[e].data.ptr != NULL)
			tags[k++] = evs[e].data.ptr;
	if (sleep && (n != 0 || timeout_ms != 1)) {
		/* Whatever woke us is work to look for: spin again a while.
		 * A nap that ran out leaves the idle time growing. */
		i->last_work = bs_now_ns();
	}
	return k;
}
