/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs, the network block server: a store (store.h) served to block
 * service clients (libbulk-bs) over control connections and bulk
 * channels.
 *
 *   options.c  the option table, --listen (repeatable), checks
 *   bridge.c   requests from libbulk-bs to the store and back
 *   report.c   per-client and total statistics
 *   main.c     set-up, the poll loop, shutdown
 */
#ifndef NBS_H
#define NBS_H

#include <stdbool.h>
#include <stdint.h>

#include <bulk/bulk_bs.h>

#include "app_opts.h"
#include "store.h"

struct bs_dpdk;

#define NBS_MAX_LISTEN 8

struct nbs_opts {
	const char *store;
	const char *listen_cfg; /* --listen as the table stores it (the last one) */
	const char *listen[NBS_MAX_LISTEN];
	unsigned nlisten;
	const char *nbd_cfg; /* --nbd as the table stores it (the last one) */
	const char *nbd[NBS_MAX_LISTEN]; /* NBD listeners (nbd_front.h) */
	unsigned nnbd;
	const char *dpdk;
	const char *export_name;
	uint32_t block_size;
	uint32_t max_request;
	uint32_t max_buffers;
	uint32_t max_clients;
	int poll;  /* enum bulk_bs_poll_mode */
	bool read_only;
	double stats_period;
	double shutdown_timeout;
	struct app_args args;
};

/* Parse argv (and --config) into @p o. @return APP_PARSE_OK, _HELP or _USAGE. */
int nbs_opts_parse(struct nbs_opts *o, int argc, char **argv);

/* What nbs keeps per client (bulk_bs_conn_set_user()). */
struct nbs_client {
	uint64_t store_copied; /* payload bytes the store copied for this client */
	uint64_t tx_copied_frames; /* dpdk: frames copied on transmit (read at conn_closing) */
};

/* bridge.c */
struct nbs_bridge {
	struct nbs_store *store;
	struct bulk_bs_server *srv;
	uint64_t last_copied; /* the store's bytes_copied already attributed */
	uint64_t submitted, failed_submit;
	uint64_t inflight;
	struct nbs_io *free_ios;
	struct bs_dpdk *dpdk; /* --dpdk: its port is polled in the same hook */
};

extern const struct bulk_bs_server_ops nbs_bridge_ops;
/* The server's poll hook: the store's completions, the store armed when
 * idle, and the DPDK port (ARP, bind requests before any channel exists). */
int nbs_bridge_poll(void *arg);
/* Release the cached request records. */
void nbs_bridge_fini(struct nbs_bridge *b);
/* Make what was acknowledged durable: one FLUSH through the store, waited for. */
int nbs_bridge_flush(struct nbs_bridge *b);

/* report.c */
void nbs_report_client(struct bulk_bs_conn *c, int reason, const struct nbs_client *cl);
void nbs_report_total(const struct bulk_bs_server *srv, const struct nbs_store *store,
		      const char *spec);
void nbs_report_period(const struct bulk_bs_server *srv, const struct nbs_bridge *b, double secs,
		       double dt);

#endif /* NBS_H */
