/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf: a testpmd-style benchmark of libbulk channels.
 *
 * One process runs the whole pipeline: a source domain that owns the pool,
 * --hops passthrough domains, and a sink domain, linked by one channel each
 * (the upstream side creates it as TX, the downstream side binds as RX).
 * Buffers go down the chain by move and come back hop by hop by pass, so
 * every buffer ends up home in the source's pool and nothing leaks.
 */
#ifndef BULKPERF_H
#define BULKPERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <bulk/bulk.h>

/* Exit statuses: usage errors are told apart from run failures. */
#define PERF_EXIT_OK	0
#define PERF_EXIT_FAIL	1
#define PERF_EXIT_USAGE 2

/* Per-buffer meta: sequence number and send timestamp (ns), both u64. */
#define PERF_META_SIZE 16u
#define PERF_MAX_HOPS  64u
#define PERF_MAX_BURST 1024u
/* Pool buffers are 64-byte aligned; the payload length may be smaller. */
#define PERF_ALIGN     64u

enum perf_mode {
	PERF_MODE_TXONLY,
	PERF_MODE_RXONLY,
	PERF_MODE_ECHO,
	PERF_MODE_RTT,
	PERF_MODE_PASSTHROUGH,
};

struct perf_opts {
	const char *backend;
	enum perf_mode mode;
	uint32_t buffers;     /* pool size */
	uint32_t buffer_size; /* payload bytes per buffer */
	uint32_t burst;
	uint64_t count;	 /* stop after this many; 0 when duration is used */
	double duration; /* seconds; 0 when count is used */
	enum bulk_trust trust;
	unsigned hops;
	bool verify;
	double stats_period; /* seconds, 0: off */
	const char *csv;
	bool threads;
	uint32_t inflight;   /* most buffers away from the source at once */
	uint32_t queue_size; /* channel descriptors per direction, 0: default */
};

/* perf_opts_parse() results. */
#define PERF_PARSE_OK	 0
#define PERF_PARSE_HELP	 1    /* --help printed: exit 0 */
#define PERF_PARSE_USAGE (-1) /* message printed: exit 2 */

int perf_opts_parse(int argc, char **argv, struct perf_opts *o);
const char *perf_mode_name(enum perf_mode m);
const char *perf_trust_name(enum bulk_trust t);

static inline uint64_t
perf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ histogram */

/*
 * Log-linear latency histogram (the HdrHistogram layout): values below
 * 2^PERF_HIST_SUB are exact, above that every power of two is split into
 * 2^PERF_HIST_SUB buckets, so the relative error stays under 1/64 from
 * nanoseconds to hours with a fixed 30 KiB table and no allocation.
 */
#define PERF_HIST_SUB	  6u
#define PERF_HIST_SUBN	  (1u << PERF_HIST_SUB)
#define PERF_HIST_BUCKETS ((64u - PERF_HIST_SUB + 1u) * PERF_HIST_SUBN)

struct perf_hist {
	uint64_t n;
	uint64_t sum;
	uint64_t min;
	uint64_t max;
	uint64_t counts[PERF_HIST_BUCKETS];
};

static inline unsigned
perf_hist_index(uint64_t v)
{
	unsigned msb;

	if (v < PERF_HIST_SUBN)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return (msb - PERF_HIST_SUB + 1u) * PERF_HIST_SUBN +
	       (unsigned)((v >> (msb - PERF_HIST_SUB)) - PERF_HIST_SUBN);
}

static inline void
perf_hist_record(struct perf_hist *h, uint64_t v)
{
	h->counts[perf_hist_index(v)]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void perf_hist_init(struct perf_hist *h);
/** @return the value at percentile @p p (0..100): the bucket's highest value, capped at max. */
uint64_t perf_hist_percentile(const struct perf_hist *h, double p);

/* ------------------------------------------------------------- counters */

/*
 * Counters have one writer (the thread of the domain they belong to) and are
 * read by the stats printer in another thread, hence atomics; a relaxed
 * load+store instead of fetch_add because there is only one writer, so the
 * fast path pays no locked instruction.
 */
typedef _Atomic uint64_t perf_ctr_t;

static inline void
perf_ctr_add(perf_ctr_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline uint64_t
perf_ctr_get(const perf_ctr_t *c)
{
	return atomic_load_explicit((perf_ctr_t *)c, memory_order_relaxed);
}

/* What the application itself counts on one end of a channel. */
struct perf_ctrs {
	perf_ctr_t tx_bufs; /* moved (TX end) or passed (RX end) */
	perf_ctr_t tx_bytes;
	perf_ctr_t rx_bufs; /* passed back to us (TX end) or moved to us (RX end) */
	perf_ctr_t rx_bytes;
	perf_ctr_t qfull;  /* sends cut short by a full queue */
	perf_ctr_t errors; /* calls refused by the library, callbacks we did not expect */
};

struct perf_ctrs_snap {
	uint64_t tx_bufs, tx_bytes, rx_bufs, rx_bytes, qfull, errors;
};

/* --------------------------------------------------------------- pipeline */

/* Buffers waiting to be sent on one channel, in order, with their lengths and meta. */
struct perf_txq {
	struct bulk_buffer **bufs;
	uint32_t *lens;
	uint8_t *meta;
	uint32_t mask;
	uint32_t head; /* next to send */
	uint32_t tail; /* next free slot */
};

struct perf_run;
struct perf_node;

/* One end of one link's channel. */
struct perf_end {
	struct perf_run *run;
	struct perf_node *node;
	struct bulk_channel *ch;
	unsigned link;
	bool tx_side; /* upstream end: moves; else passes back */
	struct perf_ctrs ctr;
	struct perf_ctrs_snap prev;    /* at the last periodic print */
	struct bulk_channel_stats lib; /* the library's view, read at the end */
	struct perf_txq q;
	/* Setup continuations (bind, assign, destroy): fired and result. */
	bool started;
	int cont_fired;
	int cont_err;
};

enum perf_role {
	PERF_ROLE_SOURCE,
	PERF_ROLE_HOP,
	PERF_ROLE_SINK,
};

struct perf_node {
	struct perf_run *run;
	struct bulk_domain *dom;
	enum perf_role role;
	unsigned idx;
	char name[16];
	struct perf_end *up;   /* RX end of the link from upstream */
	struct perf_end *down; /* TX end of the link downstream */
	bool view_assigned;    /* hop: the pool view arrived on up */
	pthread_t thread;
	bool thread_started;
	/* Sink: verification state. */
	uint64_t expect_seq;
	perf_ctr_t verify_failures;
	unsigned reported; /* verify failures printed so far */
};

struct perf_run {
	const struct perf_opts *o;
	unsigned nnodes;
	unsigned nlinks;
	struct perf_node *nodes;
	struct perf_end *ends; /* ends[2 * link] TX end, ends[2 * link + 1] RX end */
	struct bulk_endpoint **eps;
	struct bulk_pool *pool; /* the source's pool */
	uint32_t payload_len;
	uint32_t budget; /* descriptors per channel per poll */
	uint32_t inflight_max;
	bool stamp_every; /* timestamp every buffer (rtt) or one per burst */
	bool stamp;	  /* measure latency at all */

	/* Source state, touched only by the source's thread. */
	uint64_t prepared; /* sequence numbers handed out */
	uint64_t sent;
	uint64_t returned;
	uint64_t deadline; /* duration mode: stop preparing at this time */
	bool stop_sending;
	struct perf_hist hist;

	/* Set by the source thread, read by everyone. */
	atomic_bool done;
	atomic_bool abort;
	uint64_t t_start;
	uint64_t t_end;

	/* Periodic printing. */
	uint64_t t_last_print;
	struct perf_ctrs_snap prev_main;
	FILE *csv;

	/* Main thread only. */
	bool tearing_down;
	uint64_t errors; /* setup/teardown/leak errors */
};

extern atomic_bool perf_interrupted;

int perf_setup(struct perf_run *r, const struct perf_opts *o);
int perf_run_single(struct perf_run *r);
int perf_run_threads(struct perf_run *r);
void perf_teardown(struct perf_run *r);
void perf_run_free(struct perf_run *r);

/* Totals for the report. */
struct perf_totals {
	uint64_t buffers;
	uint64_t bytes;
	double secs;
	double buffers_per_s;
	double gbit_s;
	uint64_t p50, p99;
	uint64_t verify_failures;
	uint64_t errors;
	uint64_t queue_full;
	uint64_t bad_desc;
};

void perf_ctrs_read(const struct perf_ctrs *c, struct perf_ctrs_snap *s);
void perf_main_counter(struct perf_run *r, struct perf_ctrs_snap *s);
void perf_stats_periodic(struct perf_run *r, uint64_t now, bool lib_safe);
void perf_totals_get(struct perf_run *r, struct perf_totals *t);
void perf_stats_final(struct perf_run *r, const struct perf_totals *t);
int perf_csv_open(struct perf_run *r);
void perf_csv_close(struct perf_run *r);
void perf_result_line(struct perf_run *r, const struct perf_totals *t);

#endif /* BULKPERF_H */
