/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf: a testpmd-style benchmark of libbulk channels.
 *
 * The chain: a source domain that owns the pool, --hops passthrough
 * domains, and a sink domain, linked by one channel each. Buffers go down
 * the chain by move and come back hop by hop by pass, so every buffer ends
 * up home in the source's pool and nothing leaks.
 *
 * local backend: one process holds the whole chain (local.c); the upstream
 * side of a link creates its channel as TX, the downstream side binds as RX.
 * shm backend: one process per domain (shm.c), started by hand (--role) or
 * forked by one command (spawn.c); the downstream side of a link creates
 * its channel as RX and listens, the upstream side binds as TX, so a
 * reflector can wait for clients. What a domain does with the buffers is
 * the same either way (engine.c).
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
/*
 * Set in the meta's sequence number when the source wrote the pattern: a
 * sink in another process then checks the payload without having to be
 * told --verify, and leaves it untouched otherwise.
 */
#define PERF_SEQ_VERIFY (1ull << 63)
/*
 * Set in what a process that gave up (its downstream died, or it was
 * interrupted) passes back: the source stops sending and drains, so that
 * every buffer comes home before the chain closes. No pattern, no sample.
 */
#define PERF_SEQ_STOP (1ull << 62)
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

/*
 * shm and dpdk: which side of the one link this process is; ALL (shm only):
 * one command forks the chain.
 */
enum perf_shm_role {
	PERF_SHM_ALL,
	PERF_SHM_CREATE,
	PERF_SHM_BIND,
};

/* dpdk: --tx-mode (mapped onto enum bulk_dpdk_tx_mode in dpdk.c). */
enum perf_tx_mode {
	PERF_TX_AUTO,
	PERF_TX_ZERO_COPY,
	PERF_TX_COPY,
};

/* dpdk: --ep-id when not given. */
#define PERF_DPDK_EP_DEFAULT 1u

/* Longest shm endpoint name bulkperf accepts (BULK_SHM_NAME_MAX). */
#define PERF_ENDPOINT_MAX 107u

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
	int64_t return_len;      /* sink passes back at most this; -1: all */
	double stats_period; /* seconds, 0: off */
	const char *csv;
	bool threads;
	uint32_t inflight;   /* most buffers away from the source at once */
	uint32_t queue_size; /* channel descriptors per direction, 0: default */
	/* shm only. */
	enum perf_shm_role role;
	const char *endpoint; /* the create side's name (base name of the forked chain) */
	char endpoint_default[32];
	/* dpdk only (--role is shared with shm). */
	int eal_argc;	       /* argv[0] and the EAL arguments before "--" */
	char **eal_argv;       /* the process's argv (argv[eal_argc] is overwritten) */
	uint16_t port;	       /* ethdev port */
	uint32_t local_ip;     /* host byte order */
	uint32_t peer_ip;      /* host byte order */
	uint8_t peer_mac[6];   /* all zero: resolved with ARP */
	uint16_t udp_port;     /* 0: the backend's default */
	uint16_t ep_id;	       /* endpoint number the create side listens on */
	uint32_t peer_timeout_ms; /* 0: the backend's default */
	uint32_t window;       /* frames in flight per channel, 0: default */
	uint16_t mtu;	       /* IP MTU, 0: the port's */
	enum perf_tx_mode tx_mode;
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
	/* Queued buffers wait: the pool is not assigned downstream yet (shm hop). */
	bool hold;
	/* teardown_received ran: the peer closed (reason 0) or went away. */
	bool closed;
	int close_reason;
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
	struct bulk_pool *view; /* the view that arrived on up (not the source) */
	bool bounce;            /* gave up: pass back what arrives, marked PERF_SEQ_STOP */
	pthread_t thread;
	bool thread_started;
	/* Sink, and source for what comes back: verification state. */
	uint64_t expect_seq;
	perf_ctr_t checked; /* buffers whose payload was checked */
	perf_ctr_t verify_failures;
	unsigned reported; /* verify failures printed so far */
};

/*
 * What one process drives. local: every node and both ends of every link
 * (ends[2 * link] TX end, ends[2 * link + 1] RX end). shm: one node and its
 * one or two ends (split), the rest of the chain being other processes.
 */
struct perf_run {
	const struct perf_opts *o;
	unsigned nnodes;
	unsigned nlinks; /* links of the whole chain */
	unsigned nends;	 /* ends held here */
	unsigned neps;
	struct perf_node *nodes;
	struct perf_end *ends;
	struct bulk_endpoint **eps;
	struct perf_node *source; /* NULL: the source is another process */
	struct perf_node *sink;	  /* NULL: the sink is another process */
	bool split;		  /* one process per domain */
	bool quiet;		  /* a forked member of the chain: final block only */
	bool crowded;		  /* more spinning processes than CPUs: yield when idle */
	struct bulk_pool *pool;	  /* the source's pool */
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
	bool peer_stopped; /* a process downstream gave up (PERF_SEQ_STOP came back) */
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

static inline void
perf_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* engine.c: what a domain does, whichever backend links it to the next. */
#define PERF_SEC_NS	      1000000000ull
#define PERF_SETUP_TIMEOUT_NS (5 * PERF_SEC_NS)

void perf_run_init(struct perf_run *r, const struct perf_opts *o);
int perf_ends_alloc(struct perf_run *r, unsigned nnodes, unsigned nends);
void perf_node_name(unsigned idx, unsigned hops, char *buf, size_t len);
void perf_abort(struct perf_run *r);
bool perf_aborted(struct perf_run *r);
void perf_end_error(struct perf_end *e, const char *what, int rc);
struct bulk_cont perf_end_cont(struct perf_end *e);
unsigned perf_step(struct perf_run *r, struct perf_node *n);
bool perf_source_done(const struct perf_run *r);
void perf_start_clock(struct perf_run *r);
bool perf_watchdog(struct perf_run *r, uint64_t now, uint64_t *last, uint64_t *last_t);
int perf_pool_alloc(struct perf_run *r, struct bulk_domain *d, int mem);
void perf_pool_home(struct perf_run *r);

/* proc.c: a domain in its own process (shm.c, dpdk.c). */
void perf_sleep_ns(uint64_t ns);
/** teardown_received callback of a process's channels. */
void perf_proc_on_teardown(struct bulk_channel *ch, int reason);
bool perf_connected(const struct perf_end *e);
/** Buffers of the source's pool this process still owns. */
uint32_t perf_held(struct perf_node *n);
/** The source's own end-of-run checks: every buffer back, in order. */
void perf_check_source(struct perf_run *r, struct perf_node *n);
/** Pass every buffer of the source's pool this process owns upstream. */
void perf_pass_home(struct perf_run *r, struct perf_node *n);
/** After the source's pool assignment on @p e completed: 0 or why it failed. */
int perf_assign_result(struct perf_run *r, struct perf_node *n, struct perf_end *e);
void perf_run_free(struct perf_run *r);

/* Callbacks, by the role of the domain and the end of the link. */
void perf_source_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			   const uint32_t *lens, const void *meta, unsigned n);
void perf_sink_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		       const uint32_t *lens, const void *meta, unsigned n);
void perf_hop_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		      const uint32_t *lens, const void *meta, unsigned n);
void perf_hop_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			const uint32_t *lens, const void *meta, unsigned n);
int perf_on_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool);
void perf_on_unexpected(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			const uint32_t *lens, const void *meta, unsigned n);

/* local.c: the whole chain in this process. */
int perf_local_main(const struct perf_opts *o);

/* shm.c and spawn.c: one process per domain. */
struct perf_place {
	unsigned idx; /* 0: source, 1..hops: hop, hops + 1: sink */
	char up[PERF_ENDPOINT_MAX + 1];	  /* the endpoint this process creates (not the source) */
	char down[PERF_ENDPOINT_MAX + 1]; /* the endpoint it binds to (not the sink) */
	bool forked;			  /* one command forked the chain (this is any of it) */
};

int perf_shm_main(const struct perf_opts *o);
/* dpdk.c: one side of one link per process over a DPDK port. */
int perf_dpdk_main(const struct perf_opts *o);
int perf_shm_node(struct perf_run *r, const struct perf_opts *o, const struct perf_place *p);
int perf_spawn_main(const struct perf_opts *o);
/* A forked member of the chain exited (set by the SIGCHLD handler). */
extern atomic_bool perf_child_exited;

/* Totals for the report. */
struct perf_totals {
	uint64_t buffers;
	uint64_t bytes;
	double secs;
	double buffers_per_s;
	double gbit_s;
	uint64_t p50, p99;
	uint64_t verify_failures;
	uint64_t checked;
	uint64_t errors;
	uint64_t queue_full;
	uint64_t bad_desc;
	uint64_t wakeups;
	uint64_t trust_copies;
	uint64_t reclaimed;
};

void perf_ctrs_read(const struct perf_ctrs *c, struct perf_ctrs_snap *s);
void perf_main_counter(struct perf_run *r, struct perf_ctrs_snap *s);
void perf_stats_periodic(struct perf_run *r, uint64_t now, bool lib_safe);
void perf_totals_get(struct perf_run *r, struct perf_totals *t);
void perf_stats_final(struct perf_run *r, const struct perf_totals *t);
int perf_csv_open(struct perf_run *r);
void perf_csv_close(struct perf_run *r);
void perf_result_line(struct perf_run *r, const struct perf_totals *t);
int perf_report(struct perf_run *r, bool result_line);

#endif /* BULKPERF_H */
