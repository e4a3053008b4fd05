/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one-command shm form: fork the sink and the --hops hops, run the
 * source in this process, reap every child and report each failure.
 *
 * Link k (source side k, sink side k + 1) listens on ADDR.k. Children
 * print their final block when the chain has closed down to them; the
 * source reaps them all before its own final block, so the result line is
 * still the last line and counts a failed child as an error.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bulkperf.h"

/* After the source is done, the chain closes within this; then it is stuck. */
#define PERF_REAP_NS  (10 * APP_SEC_NS)
#define PERF_KILL_NS  (2 * APP_SEC_NS)
#define PERF_REAP_GAP (10 * APP_MS_NS)

atomic_bool perf_child_exited;

struct perf_child {
	pid_t pid;
	char name[16];
	int status;
	bool reaped;
	bool stopped; /* we had to signal it */
};

static void
perf_on_sigchld(int sig)
{
	(void)sig;
	atomic_store_explicit(&perf_child_exited, true, memory_order_relaxed);
}

static __attribute__((noreturn)) void
perf_child_main(const struct perf_opts *parent_opts, unsigned idx, pid_t parent)
{
	struct perf_opts o = *parent_opts;
	struct sigaction sa;
	int rc;

	/* Only the source prints as it goes and writes the CSV file. */
	o.stats_period = 0;
	o.csv = NULL;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	/*
	 * Ctrl-C reaches the whole process group; the source alone stops,
	 * drains and closes the chain link by link. SIGTERM (from the source,
	 * or when it dies) still ends a child.
	 */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	/* Set when an older sibling exited before this one was forked. */
	atomic_store_explicit(&perf_child_exited, false, memory_order_relaxed);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		atomic_store_explicit(&app_interrupted, true, memory_order_relaxed);
	rc = perf_chain_main(&o, &perf_form_shm, idx, idx, true, NULL);
	fflush(stdout);
	exit(rc);
}

static unsigned perf_reap_until(struct perf_child *kids, unsigned n, uint64_t until);

/* Signal the children still running (those that exited on their own keep their status). */
static void
perf_signal_all(struct perf_child *kids, unsigned n, int sig)
{
	perf_reap_until(kids, n, 0);
	for (unsigned i = 0; i < n; i++)
		if (!kids[i].reaped && kill(kids[i].pid, sig) == 0)
			kids[i].stopped = true;
}

/* Reap what has exited, until all have or @p until passes. @return those left. */
static unsigned
perf_reap_until(struct perf_child *kids, unsigned n, uint64_t until)
{
	for (;;) {
		unsigned left = 0;

		for (unsigned i = 0; i < n; i++) {
			pid_t rc;

			if (kids[i].reaped)
				continue;
			rc = waitpid(kids[i].pid, &kids[i].status, WNOHANG);
			if (rc == kids[i].pid || (rc < 0 && errno == ECHILD))
				kids[i].reaped = true;
			else
				left++;
		}
		if (left == 0 || app_now_ns() >= until)
			return left;
		app_sleep_ns(PERF_REAP_GAP);
	}
}

/*
 * Wait for every child; terminate those that do not finish in time (all of
 * them at once when the source failed: nothing will close their links).
 * @return how many failed.
 */
static unsigned
perf_reap(struct perf_child *kids, unsigned n, bool source_failed)
{
	unsigned failed = 0;

	if (source_failed)
		perf_signal_all(kids, n, SIGTERM);
	if (perf_reap_until(kids, n, app_now_ns() + PERF_REAP_NS) != 0) {
		for (unsigned i = 0; i < n; i++)
			if (!kids[i].reaped)
				app_err("%s (pid %ld) did not finish within %llu s "
					"after the source; terminating it",
					kids[i].name, (long)kids[i].pid, PERF_REAP_NS / APP_SEC_NS);
		perf_signal_all(kids, n, SIGTERM);
		if (perf_reap_until(kids, n, app_now_ns() + PERF_KILL_NS) != 0) {
			perf_signal_all(kids, n, SIGKILL);
			perf_reap_until(kids, n, UINT64_MAX);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		int st = kids[i].status;

		if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && !kids[i].stopped)
			continue;
		/* Stopped because the source failed: that failure was reported. */
		if (source_failed && kids[i].stopped)
			continue;
		failed++;
		if (WIFEXITED(st))
			app_err("%s (pid %ld) failed: exit status %d", kids[i].name,
				(long)kids[i].pid, WEXITSTATUS(st));
		else if (WIFSIGNALED(st))
			app_err("%s (pid %ld) killed by signal %d (%s)", kids[i].name,
				(long)kids[i].pid, WTERMSIG(st), strsignal(WTERMSIG(st)));
		else
			app_err("%s (pid %ld) ended with wait status %#x", kids[i].name,
				(long)kids[i].pid, (unsigned)st);
	}
	return failed;
}

/* The children of this chain, for the reaper the source's run calls. */
static struct perf_child perf_kids[PERF_MAX_HOPS + 1];
static unsigned perf_nkids;

static unsigned
perf_reap_kids(bool source_failed)
{
	return perf_reap(perf_kids, perf_nkids, source_failed);
}

int
perf_spawn_main(const struct perf_opts *o)
{
	struct sigaction sa;
	pid_t self = getpid();

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = perf_on_sigchld;
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	/* A child inherits unflushed stdio buffers and would print them again. */
	fflush(stdout);
	fflush(stderr);
	/* Sink first: each process binds to the next one downstream. */
	for (unsigned idx = o->hops + 1; idx > 0; idx--) {
		struct perf_child *k = &perf_kids[perf_nkids];
		pid_t pid = fork();

		if (pid == 0)
			perf_child_main(o, idx, self);
		if (pid < 0) {
			app_err("fork: %s", strerror(errno));
			perf_reap(perf_kids, perf_nkids, true);
			return APP_EXIT_FAIL;
		}
		memset(k, 0, sizeof(*k));
		k->pid = pid;
		perf_node_name(idx, o->hops, k->name, sizeof(k->name));
		perf_nkids++;
	}
	return perf_chain_main(o, &perf_form_shm, 0, 0, true, perf_reap_kids);
}
