/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * 2 MiB hugepages for the tests that need them (test_alloc's hugepage part,
 * test_dpdk_iova). They come from the kernel's persistent pool
 * (nr_hugepages), which is usually empty. As root a test adds the pages it
 * lacks through sysfs and gives back exactly as many when it is done,
 * whichever way it ends: at exit (a failed CHECK exits) and on
 * SIGTERM/SIGINT/SIGHUP (meson's timeout). Tests that do this hold HP_LOCK
 * (hp_lock()) meanwhile, so that two of them (two build configurations)
 * never mix up their counts. Include after check.h.
 */
#ifndef BULK_TEST_HUGEPAGES_H
#define BULK_TEST_HUGEPAGES_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define HP_DIR	 "/sys/kernel/mm/hugepages/hugepages-2048kB"
#define HP_SIZE	 (2u << 20)
#define HP_LOCK	 "/tmp/bulk-test_alloc-hugepages.lock"

/* Pages this process added to nr_hugepages and still owes back. */
static volatile sig_atomic_t hp_added;

/* A sysfs counter of HP_DIR, or -1. Async-signal-safe (a handler calls it). */
static long
hp_read(const char *name)
{
	char path[128] = HP_DIR "/";
	char buf[32];
	size_t at = strlen(path);
	ssize_t n;
	long v = 0;
	int fd;

	for (size_t i = 0; name[i] != '\0' && at < sizeof(path) - 1; i++)
		path[at++] = name[i];
	path[at] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0 || buf[0] < '0' || buf[0] > '9')
		return -1;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (buf[i] - '0');
	return v;
}

/* Ask for @p v persistent pages. 0 or -errno. Async-signal-safe. */
static int
hp_write_nr(long v)
{
	char buf[24];
	size_t i = sizeof(buf);
	int fd, rc = 0;

	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && i > 0);
	fd = open(HP_DIR "/nr_hugepages", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, buf + i, sizeof(buf) - i) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Give back what we added, once (atexit, signal handler, end of a part). */
static void
hp_give_back(void)
{
	long added = hp_added, nr;

	if (added == 0)
		return;
	hp_added = 0;
	nr = hp_read("nr_hugepages");
	if (nr >= 0)
		(void)hp_write_nr(nr > added ? nr - added : 0);
}

static void
hp_on_signal(int sig)
{
	hp_give_back();
	/* SA_RESETHAND restored the default action: die of the signal. */
	raise(sig);
}

/* Take HP_LOCK (kept until exit or close of the returned fd). */
static int
hp_lock(void)
{
	/* O_CREAT only when it is not there: protected_regular refuses O_CREAT
	 * on another user's file in /tmp even when it exists. */
	int lock = open(HP_LOCK, O_RDONLY | O_CLOEXEC);

	if (lock < 0 && errno == ENOENT)
		lock = open(HP_LOCK, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(lock >= 0);
	CHECK_EQ_INT(flock(lock, LOCK_EX), 0);
	return lock;
}

/* Reserve @p need free 2 MiB pages if there are too few. NULL, or why not. */
static const char *
hp_reserve(long need, char *why, size_t len)
{
	static bool handlers;
	long nr, got, want, avail = hp_read("free_hugepages") - hp_read("resv_hugepages");
	sigset_t sigs, old;
	int rc;

	if (hp_read("nr_hugepages") < 0) {
		snprintf(why, len, "no 2 MiB hugetlb pages in this kernel (%s)", HP_DIR);
		return why;
	}
	if (avail >= need)
		return NULL;
	if (geteuid() != 0) {
		snprintf(why, len,
			 "not root: %ld of the %ld free 2 MiB pages it needs, and "
			 "only root may add some (%s/nr_hugepages)",
			 avail, need, HP_DIR);
		return why;
	}
	nr = hp_read("nr_hugepages");
	CHECK(nr >= 0);
	if (!handlers) {
		struct sigaction sa;
		const int deadly[] = { SIGTERM, SIGINT, SIGHUP };

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = hp_on_signal;
		sa.sa_flags = SA_RESETHAND;
		for (unsigned i = 0; i < 3; i++)
			CHECK_EQ_INT(sigaction(deadly[i], &sa, NULL), 0);
		CHECK_EQ_INT(atexit(hp_give_back), 0);
		handlers = true;
	}
	/* No signal between the write and noting what it added: nothing leaks. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	CHECK_EQ_INT(sigprocmask(SIG_BLOCK, &sigs, &old), 0);
	want = need - avail;
	rc = hp_write_nr(nr + want);
	got = hp_read("nr_hugepages");
	if (got > nr)
		hp_added = (sig_atomic_t)(got - nr);
	CHECK_EQ_INT(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	if (rc != 0) {
		hp_give_back();
		snprintf(why, len, "cannot write %s/nr_hugepages: %s", HP_DIR, strerror(-rc));
		return why;
	}
	avail = hp_read("free_hugepages") - hp_read("resv_hugepages");
	if (avail < need) {
		hp_give_back();
		snprintf(why, len,
			 "asked the kernel for %ld more 2 MiB pages, it found %ld "
			 "(memory too fragmented?)",
			 want, got - nr);
		return why;
	}
	printf("hugepages: added %ld to nr_hugepages (given back at exit)\n", (long)hp_added);
	return NULL;
}

#endif /* BULK_TEST_HUGEPAGES_H */
