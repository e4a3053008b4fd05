/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of the shm tests: unique endpoint names, children that are always
 * reaped (a failed check in the parent kills and reaps them first), bounded
 * waits on pipes, on polls and on children, and data patterns.
 *
 * Every wait is bounded by a generous wall-clock deadline that only turns a
 * hang into a failure; nothing is asserted about how fast anything is.
 */
#ifndef BULK_TEST_SHM_H
#define BULK_TEST_SHM_H

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_shm.h>

#include "check.h"
#include "harness.h"

/* Long enough for a loaded 2-core machine under sanitizers; only a hang hits it. */
#define T_WAIT_S 60.0

static inline uint64_t
t_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
t_deadline(double secs)
{
	return t_now_ns() + (uint64_t)(secs * 1e9);
}

/* A short sleep when a poll found nothing: the peer process needs the CPU. */
static inline void
t_idle(unsigned idle_rounds)
{
	struct timespec ts = { 0, idle_rounds < 16 ? 0 : 50000 };

	if (idle_rounds < 16)
		sched_yield();
	else
		nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ names */

static unsigned t_name_seq;

/** "@bulk-test-<pid>-<tag>-<n>": unique per process, so tests run in parallel. */
static inline const char *
t_name(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "@bulk-test-%ld-%s-%u", (long)getpid(), tag, t_name_seq++);
	return buf;
}

/* ------------------------------------------------------------ children */

#define T_MAX_CHILDREN 16

static pid_t t_children[T_MAX_CHILDREN];
static unsigned t_nchildren;

static inline void
t_forget_child(pid_t pid)
{
	for (unsigned i = 0; i < t_nchildren; i++)
		if (t_children[i] == pid) {
			t_children[i] = t_children[--t_nchildren];
			return;
		}
}

/* check.h's failure hook in a parent: no child outlives a failed test. */
static inline void
t_kill_children(void)
{
	for (unsigned i = 0; i < t_nchildren; i++) {
		kill(t_children[i], SIGKILL);
		waitpid(t_children[i], NULL, 0);
	}
	t_nchildren = 0;
}

/**
 * fork() with bookkeeping. In the child: forgets the parent's children and
 * failure hook, and dies with the parent (so a failed parent never leaves a
 * peer spinning). @return the pid in the parent, 0 in the child.
 */
static inline pid_t
t_fork(void)
{
	pid_t parent = getpid(), pid;

	fflush(stdout);
	fflush(stderr);
	CHECK(t_nchildren < T_MAX_CHILDREN);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		t_nchildren = 0;
		check_fail_hook = NULL;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The parent may have died before the prctl. */
		if (getppid() != parent)
			_exit(2);
		return 0;
	}
	t_children[t_nchildren++] = pid;
	if (check_fail_hook == NULL)
		check_fail_hook = t_kill_children;
	return pid;
}

/** Reap @p pid within @p secs (killed and failed past that). @return the wait status. */
static inline int
t_reap(pid_t pid, double secs)
{
	uint64_t end = t_deadline(secs);
	int status = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		CHECK(r == 0 || errno == EINTR);
		if (t_now_ns() > end) {
			fprintf(stderr, "child %ld did not end in %.0f s: killed\n", (long)pid, secs);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			t_forget_child(pid);
			CHECK(!"child hung");
		}
		usleep(1000);
	}
	t_forget_child(pid);
	return status;
}

static inline const char *
t_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %#x", status);
	return buf;
}

/** Reap @p pid and check that it exited with 0. */
static inline void
t_reap_ok(pid_t pid, const char *who)
{
	char buf[64];
	int st = t_reap(pid, T_WAIT_S);

	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s (pid %ld) ended with %s\n", who, (long)pid,
			t_status_str(st, buf, sizeof(buf)));
		CHECK(!"child failed");
	}
	check_count++;
}

/** A child's end: stdio flushed, no atexit handlers of the parent's image. */
static inline void __attribute__((noreturn))
t_child_exit(int code)
{
	fflush(stdout);
	fflush(stderr);
	_exit(code);
}

/* ------------------------------------------------------------ pipes */

static inline void
t_pipe(int fds[2])
{
	CHECK(pipe(fds) == 0);
}

static inline void
t_send_byte(int fd, uint8_t v)
{
	ssize_t n;

	do
		n = write(fd, &v, 1);
	while (n < 0 && errno == EINTR);
	CHECK_EQ_INT(n, 1);
}

/** Read one byte within @p secs. @return it, or -1 at end of file (writer gone). */
static inline int
t_recv_byte(int fd, double secs)
{
	uint64_t end = t_deadline(secs);
	uint8_t v;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = (int64_t)(end - t_now_ns()) / 1000000;
		int rc;
		ssize_t n;

		if ((int64_t)(end - t_now_ns()) <= 0)
			CHECK(!"no message on the pipe in time");
		rc = poll(&p, 1, left > 1000 ? 1000 : (int)left + 1);
		if (rc < 0 && errno == EINTR)
			continue;
		CHECK(rc >= 0);
		if (rc == 0)
			continue;
		n = read(fd, &v, 1);
		if (n < 0 && errno == EINTR)
			continue;
		CHECK(n >= 0);
		return n == 0 ? -1 : v;
	}
}

/** @return 1 and the byte if one is waiting, 0 if none, -1 at end of file. */
static inline int
t_try_byte(int fd, uint8_t *v)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	n = read(fd, v, 1);
	return n == 1 ? 1 : n == 0 ? -1 : 0;
}

/* ------------------------------------------------------------ polling */

typedef bool (*t_cond_fn)(void *arg);

/**
 * Poll @p d until @p cond holds; fails after @p secs.
 * @return descriptors handled meanwhile.
 */
static inline long
t_poll_until(struct bulk_domain *d, t_cond_fn cond, void *arg, double secs, const char *what)
{
	uint64_t end = t_deadline(secs);
	unsigned idle = 0;
	long total = 0;

	while (!cond(arg)) {
		int rc = bulk_domain_poll(d, 0);

		CHECK_RC(rc >= 0 ? 0 : rc, 0);
		total += rc;
		if (t_now_ns() > end) {
			fprintf(stderr, "[%ld] timed out waiting for: %s\n", (long)getpid(), what);
			CHECK(!"wait timed out");
		}
		if (rc == 0)
			t_idle(idle++);
		else
			idle = 0;
	}
	return total;
}

/** Poll until *@p counter >= @p want. */
static inline void
t_poll_count(struct bulk_domain *d, const int *counter, int want, const char *what)
{
	uint64_t end = t_deadline(T_WAIT_S);
	unsigned idle = 0;

	while (*counter < want) {
		int rc = bulk_domain_poll(d, 0);

		CHECK_RC(rc >= 0 ? 0 : rc, 0);
		if (t_now_ns() > end) {
			fprintf(stderr, "[%ld] timed out waiting for: %s (%d of %d)\n",
				(long)getpid(), what, *counter, want);
			CHECK(!"wait timed out");
		}
		if (rc == 0)
			t_idle(idle++);
		else
			idle = 0;
	}
}

struct t_state_wait {
	struct bulk_channel *ch;
	enum bulk_channel_state want;
};

static inline bool
t_cond_state(void *arg)
{
	const struct t_state_wait *w = arg;

	return bulk_channel_state(w->ch) == w->want;
}

/** Poll until @p ch is in state @p want. */
static inline void
t_poll_state(struct bulk_channel *ch, enum bulk_channel_state want, const char *what)
{
	struct t_state_wait w = { ch, want };

	t_poll_until(bulk_channel_domain(ch), t_cond_state, &w, T_WAIT_S, what);
}

/* Continuation recorders (struct t_cont, t_cont()) come from harness.h. */

/* ------------------------------------------------------------ data */

static inline uint8_t
t_pattern(uint32_t round, uint32_t buf, uint32_t byte)
{
	return (uint8_t)(round * 101u + buf * 7u + byte * 13u + (byte >> 8) * 3u);
}

static inline void
t_fill(struct bulk_buffer *b, uint32_t round, uint32_t len)
{
	uint8_t *p = b->addr;

	for (uint32_t j = 0; j < len; j++)
		p[j] = t_pattern(round, b->index, j);
}

/** @return 0 if the first @p len bytes hold the pattern, else the first bad offset + 1. */
static inline long
t_verify(const struct bulk_buffer *b, uint32_t round, uint32_t len)
{
	const uint8_t *p = b->addr;

	for (uint32_t j = 0; j < len; j++)
		if (p[j] != t_pattern(round, b->index, j))
			return (long)j + 1;
	return 0;
}

/* ------------------------------------------------------------ faults */

/**
 * Prepare a child that is meant to fault: no core file, and the default
 * SIGSEGV action, so that it dies by the signal even where a sanitizer
 * installed its own handler (which would report and exit instead).
 */
static inline void
t_expect_fault(void)
{
	struct rlimit rl = { 0, 0 };

	setrlimit(RLIMIT_CORE, &rl);
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	fflush(stdout);
	fflush(stderr);
}

#endif /* BULK_TEST_SHM_H */
