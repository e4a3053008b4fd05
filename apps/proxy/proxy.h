/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy, the spec's "NBS client": the middle of a multi-hop block
 * service. Downstream it is a block server (libbulk-bs, server half) for
 * local users over shm; upstream it is a block client (libbulk-bs, client
 * half) of an nbs, or of another proxy, over dpdk (or shm on one host).
 *
 * Each downstream user gets its own upstream session: a client of the
 * upstream server with its own control connection and data channel, to
 * which the user's pools are assigned on (bulk_bs_client_pool_add()).
 * A request that arrives in a user's buffer goes upstream in that very
 * buffer and its reply comes back into it; the proxy then completes the
 * user's request, which passes the buffer back. So the bytes are never
 * copied by the proxy: on a shm hop nobody copies them, on a dpdk hop the
 * receiving side copies them once out of the NIC's mbufs (straight into
 * the user's pages when the proxy receives).
 *
 * One session per user keeps users apart upstream too: the upstream
 * server counts, and reclaims, each on its own; and when a user goes, its
 * session closes, which takes its pools off the upstream channel (libbulk
 * lets a domain remove a pool only while it owns all of its buffers, which
 * a proxy never does once its user took them home).
 *
 *   options.c  the option table
 *   session.c  upstream sessions: connect, pools, requests, loss, reconnect
 *   serve.c    the downstream server's callbacks, the poll and sleep hooks
 *   report.c   statistics per client, per upstream session, per hop
 *   main.c     set-up, the loop, shutdown
 */
#ifndef PROXY_H
#define PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include <bulk/bulk_bs.h>

#include "app_opts.h"
#include "bs_hop.h"

struct bs_dpdk;

struct px_opts {
	const char *upstream;
	const char *via;
	const char *listen;
	const char *export_name;
	uint32_t max_clients;
	int poll; /* enum bulk_bs_poll_mode */
	double stats_period;
	double shutdown_timeout;
	double connect_timeout;
	double reconnect_timeout;
	const char *cache;    /* --cache SIZE: the read cache (cache.h); NULL: none */
	uint32_t cache_block; /* --cache-block BYTES */
	const char *nbd_cfg;	  /* --nbd as the table stores it (the last one) */
	const char *nbd[8];	  /* NBD listeners (nbd.c) */
	unsigned nnbd;
	uint32_t nbd_buffers;	  /* --nbd-buffers: each NBD connection's upstream pool */
	uint32_t nbd_buffer_size; /* --nbd-buffer-size */
	struct app_args args;
};

/* Parse argv (and --config) into @p o. @return APP_PARSE_OK, _HELP or _USAGE. */
int px_opts_parse(struct px_opts *o, int argc, char **argv);

/* A pool a user assigned, forwarded to each of its upstream sessions. */
struct px_pool {
	struct bulk_pool *pool;
	struct px_pool *next;
};

enum px_sess_state {
	PX_UP,	   /* the upstream client is connected */
	PX_DOWN,   /* lost: reconnecting with backoff */
	PX_GAVE_UP /* no upstream within --reconnect-timeout: the user is turned away */
};

/* One downstream user and its upstream session. */
struct px_sess {
	struct px *px;
	struct px_sess *next, *prev;
	struct bulk_bs_conn *conn;
	struct bulk_bs_client *up; /* NULL while down */
	enum px_sess_state state;
	uint64_t id;	   /* the user's connection number */
	unsigned sessions; /* upstream sessions opened for it (1 + reconnects) */
	int fds[BULK_BS_MAX_CHANNELS];
	int nfds; /* the upstream channels' fds, watched by the server */
	uint64_t down_since, next_try, backoff;
	unsigned tries;
	struct px_pool *pools;
	/* Requests that arrived in this round, submitted upstream in one call. */
	struct bulk_bs_io *ios;
	unsigned nios, cap;
	uint64_t inflight_up;	/* submitted upstream, not completed */
	uint64_t failed_fast;	/* failed at once: no upstream */
	uint64_t lost_inflight; /* failed because the upstream went while they were there */
	struct bs_hop up_hop;	/* the upstream sessions that ended */
};

struct px_totals {
	uint64_t clients, died, sessions, reconnects, lost, gave_up, failed_fast, lost_inflight,
		pool_refusals;
	struct bs_hop down, up;
};

struct px {
	const struct px_opts *o;
	struct bulk_domain *dom;
	struct bs_dpdk *dpdk;
	struct bulk_bs_server *srv;
	struct bulk_bs_info info; /* the upstream's export, served as ours */
	struct px_sess *sessions;
	unsigned nsessions;
	unsigned next_ep; /* dpdk: the next data endpoint number */
	bool shutting;	  /* SIGTERM: no more reconnecting */
	struct px_cache *cache; /* --cache: shared by every user; NULL: none */
	struct px_nbd *nbd;	/* the NBD front end (--nbd), or NULL */
	struct px_totals tot;
};

/* session.c */
/* Connect @p s upstream (blocking, --connect-timeout) and forward its pools. */
int px_sess_connect(struct px_sess *s, char *err, size_t len);
/* Close @p s's upstream client (its counters go to the session's hop). */
void px_sess_close_up(struct px_sess *s, const char *end);
/* Submit what the round gathered; failures complete at once. @return requests sent. */
int px_sess_flush(struct px_sess *s);
/* Poll the upstream client, notice its loss, reconnect when due. @return work. */
int px_sess_poll(struct px_sess *s, uint64_t now);
/* Gather a downstream request for the next flush. */
void px_sess_request(struct px_sess *s, struct bulk_bs_request *req);
/* A user assigned @p pool: forward it. @return 0 or a veto. */
int px_sess_pool(struct px_sess *s, struct bulk_pool *pool);
/* The upstream client (or the first probe) for the options. */
int px_up_connect(struct px *px, struct bulk_bs_client **out, char *err, size_t len);
/* The same with a pool of @p buffers x @p buffer_size bytes (the NBD front end's). */
int px_up_connect_pool(struct px *px, uint32_t buffers, uint32_t buffer_size,
		       struct bulk_bs_client **out, char *err, size_t len);

/* serve.c */
extern const struct bulk_bs_server_ops px_server_ops;
int px_poll_hook(void *arg);
int px_sleep_hook(void *arg, int *timeout_ms);
/* Spin like a loop with channels: the upstream ones are ours. */
int px_spin_hook(void *arg);

/* nbd.c: the NBD front end (unmodified NBD clients, carried upstream) */
struct px_nbd;
/* Listen on --nbd (and LISTEN_FDS); its fds are watched by px->srv. */
int px_nbd_open(struct px *px, struct px_nbd **out, char *err, size_t len);
unsigned px_nbd_listeners(const struct px_nbd *n);
/* The listeners' URIs, separated by blanks. @return the length written. */
size_t px_nbd_uris(const struct px_nbd *n, char *buf, size_t len);
/* Accept, read, submit upstream, poll the sessions, reply. @return work. */
int px_nbd_poll(struct px_nbd *n);
/* Before the loop sleeps: arm the sessions. @return 1 if work is pending. */
int px_nbd_arm(struct px_nbd *n, int *timeout_ms);
/* Stop listening, finish what is upstream, close, print the totals. */
void px_nbd_close(struct px_nbd *n);

/* report.c */
void px_report_session(const struct px_sess *s, const struct bs_hop *h, const char *end);
void px_report_client(struct px_sess *s, int reason);
void px_report_total(const struct px *px);
void px_report_period(const struct px *px, double secs);

#endif /* PROXY_H */
