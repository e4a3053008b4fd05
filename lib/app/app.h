/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * lib/app: what the programs on top of libbulk share (bulkperf today; nbs,
 * nbs-proxy and bs-user next). A static library, not installed, that uses
 * libbulk's public headers only:
 *
 *   app.h        messages, time, exit statuses, signals, idling
 *   app_opts.h   options: one table for flags, --config FILE (inih) and
 *                --help; EAL arguments before "--"
 *   app_chan.h   a channel opened by address (listen, bind with retries,
 *                assign, orderly close and free), its send queue and counters
 *   app_fwd.h    the hop forwarder: move down, pass up, pools passed on
 *   app_stats.h  latency histogram, rates, the CSV file and the result line
 *
 * Everything here runs on the thread of the domain it is given, like
 * libbulk itself: no threads of its own, no locks on the fast path.
 */
#ifndef APP_H
#define APP_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Exit statuses: usage errors are told apart from run failures. */
#define APP_EXIT_OK    0
#define APP_EXIT_FAIL  1
#define APP_EXIT_USAGE 2

#define APP_SEC_NS 1000000000ull
#define APP_MS_NS  1000000ull

/** The program's name, the prefix of every message (set it first thing in main()). */
extern const char *app_prog;

/** "PROG: " + message + newline on @p f in one write; stdout is flushed. */
void app_msg(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** An error or a warning, on stderr. */
#define app_err(...) app_msg(stderr, __VA_ARGS__)
/** Progress that others wait for (a script, the other side), on stdout. */
#define app_say(...) app_msg(stdout, __VA_ARGS__)

static inline uint64_t
app_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * APP_SEC_NS + (uint64_t)ts.tv_nsec;
}

void app_sleep_ns(uint64_t ns);

static inline void
app_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* -------------------------------------------------------------- signals */

/** Set by SIGINT and SIGTERM once app_signals_init() ran. */
extern atomic_bool app_interrupted;

/** SIGINT and SIGTERM set app_interrupted (and do nothing else). */
void app_signals_init(void);

static inline bool
app_is_interrupted(void)
{
	return atomic_load_explicit(&app_interrupted, memory_order_relaxed);
}

/* ---------------------------------------------------------------- idling */

struct app_chan;

/* Spins between clock reads; idle this long before sleeping. */
#define APP_IDLE_SPINS	  64u
#define APP_IDLE_SLEEP_NS (50 * APP_MS_NS)

/** What a poll loop does when a round found no work. */
struct app_idle {
	unsigned spins;
	uint64_t since; /* idle since (0: was busy) */
	bool yield;	/* sched_yield() between spins: more pollers than CPUs */
	bool sleep;	/* once idle long enough, sleep on the channels' fds (or nap) */
	uint32_t nap_us; /* nonzero: nap this long every APP_IDLE_SPINS idle rounds
			  * instead of yielding (adaptive polling of fd-less links) */
};

/** A round did work: spin again. */
static inline void
app_idle_busy(struct app_idle *i)
{
	i->spins = 0;
	i->since = 0;
}

/**
 * A round found no work: spin (pause), every APP_IDLE_SPINS rounds yield
 * when told to; once idle for APP_IDLE_SLEEP_NS and allowed to, arm the
 * connected channels among @p chans and sleep on their fds (100 ms at
 * most), or nap 1 ms when none has an fd. A channel whose arm finds work
 * pending ends the wait at once.
 */
void app_idle(struct app_idle *i, struct app_chan *const *chans, unsigned n);

#endif /* APP_H */
