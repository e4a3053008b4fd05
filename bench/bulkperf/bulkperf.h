/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf: a testpmd-style benchmark of libbulk channels, one engine over
 * lib/app for every backend.
 *
 * The chain: a source domain that owns the pool, --hops passthrough
 * domains, and a sink domain, linked by one channel each. Buffers go down
 * the chain by move and come back hop by hop by pass, so every buffer ends
 * up home in the source's pool and nothing leaks. On every link the
 * downstream domain creates the channel (RX) on the link's address and
 * listens; the upstream one binds to it (TX), so a reflector can wait for
 * clients.
 *
 * Where the domains live is the backend's form (struct perf_form): local
 * runs the whole chain in this process (chain.c), shm one domain per
 * process, started by hand (--role) or forked by one command (spawn.c),
 * dpdk one side of one link per process over a DPDK port (dpdk.c). What a
 * domain does with the buffers is the same everywhere (engine.c).
 */
#ifndef BULKPERF_H
#define BULKPERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#include "app.h"
#include "app_chan.h"
#include "app_fwd.h"
#include "app_opts.h"
#include "app_stats.h"

/* Per-buffer meta: sequence number and send timestamp (ns), both u64. */
#define PERF_META_SIZE	16u
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
#define PERF_SEQ_STOP	(1ull << 62)
#define PERF_MAX_HOPS	64u
#define PERF_MAX_BURST	1024u
/* Pool buffers are 64-byte aligned; the payload length may be smaller. */
#define PERF_ALIGN	64u
/* Set-up steps (a bind answered, a pool accepted, a channel closed) take at most this. */
#define PERF_SETUP_NS	(5 * APP_SEC_NS)

enum perf_mode {
	PERF_MODE_TXONLY,
	PERF_MODE_RXONLY,
	PERF_MODE_ECHO,
	PERF_MODE_RTT,
	PERF_MODE_PASSTHROUGH,
};

enum perf_backend {
	PERF_BACKEND_LOCAL,
	PERF_BACKEND_SHM,
	PERF_BACKEND_DPDK,
	PERF_BACKEND_NONE, /* not given: implied by --endpoint */
};

/* Which side of a link this process is (shm, dpdk); ALL: the whole chain. */
enum perf_side {
	PERF_SIDE_ALL,
	PERF_SIDE_CREATE,
	PERF_SIDE_BIND,
};

/* dpdk --tx-mode, in the order of enum bulk_dpdk_tx_mode. */
enum perf_tx_mode {
	PERF_TX_AUTO,
	PERF_TX_ZERO_COPY,
	PERF_TX_COPY,
};

#define PERF_DPDK_EP_DEFAULT 1u

struct perf_opts {
	/* Options (options.c's table). */
	int backend; /* enum perf_backend */
	int mode;    /* enum perf_mode */
	uint32_t buffers;
	uint32_t buffer_size;
	uint32_t burst;
	uint64_t count;	 /* stop after this many; 0 when duration is used */
	double duration; /* seconds; 0 when count is used */
	int trust;	 /* index of full, half, none */
	uint32_t hops;
	bool verify;
	uint32_t return_len; /* with return_len_set: the sink passes back at most this */
	double stats_period; /* seconds, 0: off */
	const char *csv;
	bool threads;
	uint32_t inflight;
	uint32_t queue_size; /* channel descriptors per direction, 0: default */
	int role;	     /* index of create, bind; -1: not given */
	const char *endpoint;
	uint16_t port;
	uint32_t local_ip; /* host byte order */
	uint32_t peer_ip;
	uint8_t peer_mac[6]; /* all zero: resolved with ARP */
	uint16_t udp_port;   /* 0: the backend's default */
	uint16_t ep_id;
	uint32_t peer_timeout_ms; /* 0: the backend's default */
	uint32_t window;
	uint16_t mtu;
	int tx_mode; /* enum perf_tx_mode */
	uint32_t idle_nap_us; /* 0: an idle loop spins (and yields); else naps this long */

	/* What the options mean, settled by perf_opts_parse(). */
	const char *backend_name;
	enum perf_side side;
	enum bulk_trust trust_level;
	bool return_len_set;
	/* The link's address (by hand), or the base of the chain's (NAME.LINK). */
	char addr[BULK_ADDR_STRLEN];
	struct app_args args; /* EAL arguments, the config file's strings */
};

/* perf_opts_parse() results, as app_opts_parse()'s. */
int perf_opts_parse(int argc, char **argv, struct perf_opts *o);
const char *perf_mode_name(int mode);

/* ------------------------------------------------------------- the chain */

struct perf_run;
struct perf_node;

/* One end of one link's channel held here. */
struct perf_end {
	struct app_chan c; /* first: the channel's user pointer is this */
	struct perf_node *node;
	unsigned link;
	struct app_ctrs_snap prev; /* at the last periodic print */
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
	unsigned idx; /* 0: source, 1..hops: hop, hops + 1: sink */
	char name[16];
	struct perf_end *up;   /* RX end of the link from upstream */
	struct perf_end *down; /* TX end of the link downstream */
	struct app_fwd fwd;    /* a hop's */
	bool bounce;	       /* the sink gave up: pass back what arrives, marked PERF_SEQ_STOP */
	pthread_t thread;
	bool thread_started;
	/* Sink, and source for what comes back: verification state. */
	uint64_t expect_seq;
	app_ctr_t checked; /* buffers whose payload was checked */
	app_ctr_t verify_failures;
	unsigned reported; /* verify failures printed so far */
};

/* What differs between the backends: where the domains live, and extras. */
struct perf_form {
	enum bulk_mem_kind mem; /* the source's pool memory */
	bool copies_payload;	/* the transport reads every payload byte (a network) */
	bool idle_sleep;	/* an idle process sleeps on its channels' fds (or naps) */
	bool idle_yield;	/* an idle process yields the CPU between spins */
	uint64_t close_ns;	/* a pool assignment or a close takes at most this */
	void (*bind_policy)(const struct perf_run *r, struct app_bind_policy *p);
	/* All optional. */
	int (*open)(struct perf_run *r);      /* the domain exists: EAL, the port */
	int (*poll)(struct perf_run *r);      /* besides the domain, before a peer bound */
	void (*periodic)(struct perf_run *r); /* after the periodic block */
	void (*closing)(struct perf_run *r);  /* channels closed, about to be freed */
	void (*close)(struct perf_run *r);    /* channels freed, before the domain goes */
	void (*fini)(struct perf_run *r);     /* after the domain went */
	void (*report)(struct perf_run *r);   /* before the final block */
};

/*
 * What one process drives: every node (local) or one (shm, dpdk). Ends
 * are ends[2 * k] for link k's TX end and ends[2 * k + 1] for its RX end
 * when the whole chain is here; a split node has its one or two.
 */
struct perf_run {
	const struct perf_opts *o;
	const struct perf_form *form;
	void *form_data;
	unsigned nnodes;
	unsigned nlinks; /* links of the whole chain */
	unsigned nends;	 /* ends held here */
	struct perf_node *nodes;
	struct perf_end *ends;
	struct perf_node *source; /* NULL: the source is another process */
	struct perf_node *sink;	  /* NULL: the sink is another process */
	bool split;		  /* one process per domain */
	bool forked;		  /* one command forked the chain (this is any of it) */
	bool quiet;		  /* a forked member of the chain: final block only */
	bool crowded;		  /* more spinning processes than CPUs */
	struct bulk_pool *pool;	  /* the source's pool */
	uint32_t payload_len;
	uint32_t budget; /* descriptors per channel per poll */
	uint32_t inflight_max;
	bool stamp_every; /* timestamp every buffer (rtt) or one per burst */
	bool stamp;	  /* measure latency at all */
	struct app_loop loop;

	/* Source state, touched only by the source's thread. */
	uint64_t prepared; /* sequence numbers handed out */
	uint64_t sent;
	uint64_t returned;
	uint64_t deadline; /* duration mode: stop preparing at this time */
	bool stop_sending;
	bool peer_stopped; /* a process downstream gave up (PERF_SEQ_STOP came back) */
	struct app_hist hist;

	/* Set by the source thread, read by everyone. */
	atomic_bool done;
	atomic_bool abort;
	uint64_t t_start;
	uint64_t t_end;
	struct rusage ru0, ru1; /* CPU time of the process over the run */
	bool cpu_done;

	/* Periodic printing: what the last one saw. */
	uint64_t t_last_print;
	struct app_ctrs_snap prev_main;
	uint64_t prev_vf, prev_errors, prev_qfull;
	struct app_hist *hist_prev;
	struct app_csv csv;

	uint64_t errors; /* set-up, teardown and leak errors */
};

extern const struct perf_form perf_form_local, perf_form_shm;

/* engine.c: what a domain does, whichever backend links it to the next. */
void perf_abort(struct perf_run *r);
bool perf_aborted(struct perf_run *r);
void perf_node_name(unsigned idx, unsigned hops, char *buf, size_t len);
unsigned perf_step(struct perf_run *r, struct perf_node *n);
bool perf_source_done(const struct perf_run *r);
void perf_start_clock(struct perf_run *r);
void perf_stop_clock(struct perf_run *r);
bool perf_watchdog(struct perf_run *r, uint64_t now, uint64_t *last, uint64_t *last_t);
int perf_pool_alloc(struct perf_run *r, struct bulk_domain *d);
void perf_pool_home(struct perf_run *r);
void perf_check_counts(struct perf_run *r);
void perf_sink_give_up(struct perf_node *n);
extern const struct bulk_channel_callbacks perf_cb_source, perf_cb_hop_up, perf_cb_hop_down,
	perf_cb_sink;
extern const uint64_t perf_meta_stop[2];

/* chain.c: set-up, the run loops and teardown of what this process holds. */
/**
 * Run nodes @p first..@p last of the chain here: set up, run, tear down,
 * then @p reap (may be NULL; told whether this process failed) the rest of
 * a forked chain, whose failures count as errors, and report.
 * @return the exit status.
 */
int perf_chain_main(const struct perf_opts *o, const struct perf_form *f, unsigned first,
		    unsigned last, bool forked, unsigned (*reap)(bool failed));
/** Address of link @p k: the option's one by hand, NAME.k in a chain. */
void perf_link_addr(const struct perf_opts *o, unsigned k, char *buf, size_t len);

/* spawn.c: the one-command shm form. */
int perf_spawn_main(const struct perf_opts *o);
/* A forked member of the chain exited (set by the SIGCHLD handler). */
extern atomic_bool perf_child_exited;

/* dpdk.c: the dpdk form (built only with DPDK). */
int perf_dpdk_main(const struct perf_opts *o);

/* stats.c */
struct perf_totals {
	uint64_t buffers;
	uint64_t bytes;
	double secs;
	double buffers_per_s;
	double gbit_s;
	bool rtt; /* latency measured here */
	uint64_t p50, p99;
	bool touched; /* some payload byte was written or read */
	uint64_t verify_failures;
	uint64_t checked;
	uint64_t errors;
	uint64_t queue_full;
	uint64_t bad_desc;
	uint64_t wakeups;
	uint64_t trust_copies;
	uint64_t reclaimed;
};

void perf_main_counter(struct perf_run *r, struct app_ctrs_snap *s);
void perf_stats_periodic(struct perf_run *r, uint64_t now, bool lib_safe);
int perf_csv_open(struct perf_run *r);
int perf_report(struct perf_run *r, bool result_line);

#endif /* BULKPERF_H */
