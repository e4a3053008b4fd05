/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's statistics. Each client gets its line when it is gone and all it
 * held is released (at shutdown, every client still connected goes that
 * way first); the totals come last. One hop per client: its data
 * channels, whose backend says what a payload byte costs there:
 *
 *   moved_bytes   payload bytes that crossed the hop (writes in, reads out),
 *                 from the channels' libbulk counters;
 *   copied_bytes  of those, bytes copied on the way: libbulk's full copies
 *                 and trust copies (shm NONE), plus the receive copy of a
 *                 dpdk hop; 0 on a shm hop at trust full or half;
 *   tx_copied_frames  dpdk frames copied on transmit (a port that cannot
 *                 chain mbufs: net_af_xdp); apps/common/bs_hop.h;
 *   store_copied_bytes  the store's own copy between its blocks and the
 *                 request's buffer, which is not a hop's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "app_stats.h"
#include "bs_hop.h"
#include "nbs.h"

static struct {
	uint64_t clients, requests, errors, invalid, moved, copied, tx_copied_frames, store_copied;
} nbs_tot;

void
nbs_report_client(struct bulk_bs_conn *c, int reason, const struct nbs_client *cl)
{
	struct bulk_bs_stats st;
	struct bs_hop h = { .tx_copied_frames = cl != NULL ? cl->tx_copied_frames : 0 };
	uint64_t sc = cl != NULL ? cl->store_copied : 0;

	if (bulk_bs_conn_stats_get(c, &st) < 0)
		return;
	bs_hop_from_stats(&h, &st);
	app_say("stats: client=%" PRIu64 " peer=%s hop=%s requests=%" PRIu64 " reads=%" PRIu64
		" writes=%" PRIu64 " flushes=%" PRIu64 " trims=%" PRIu64 " zeroes=%" PRIu64
		" errors=%" PRIu64 " invalid=%" PRIu64 " moved_bytes=%" PRIu64
		" copied_bytes=%" PRIu64 " tx_copied_frames=%" PRIu64 " store_copied_bytes=%" PRIu64
		" protocol_errors=%" PRIu64 " end=%s",
		bulk_bs_conn_id(c), bulk_bs_conn_peer(c), h.backend, st.requests, st.reads,
		st.writes, st.flushes, st.trims, st.zeroes, st.errors, st.invalid, h.moved_bytes,
		h.copied_bytes, h.tx_copied_frames, sc, st.protocol_errors, bs_hop_end_name(reason));
	nbs_tot.clients++;
	nbs_tot.requests += st.requests;
	nbs_tot.errors += st.errors;
	nbs_tot.invalid += st.invalid;
	nbs_tot.moved += h.moved_bytes;
	nbs_tot.copied += h.copied_bytes;
	nbs_tot.tx_copied_frames += h.tx_copied_frames;
	nbs_tot.store_copied += sc;
}

void
nbs_report_total(const struct bulk_bs_server *srv, const struct nbs_store *store, const char *spec)
{
	struct bulk_bs_server_stats ss;
	struct nbs_store_stats ts;

	(void)bulk_bs_server_stats_get(srv, &ss);
	(void)nbs_store_stats_get(store, &ts);
	app_say("stats: total clients=%" PRIu64 " died=%" PRIu64 " refused=%" PRIu64
		" requests=%" PRIu64 " errors=%" PRIu64 " invalid=%" PRIu64 " moved_bytes=%" PRIu64
		" copied_bytes=%" PRIu64 " tx_copied_frames=%" PRIu64 " store_copied_bytes=%" PRIu64
		" live_requests=%" PRIu64 " pools_dropped=%" PRIu64 " pools_leaked=%" PRIu64
		" protocol_errors=%" PRIu64,
		nbs_tot.clients, ss.died, ss.refused, nbs_tot.requests, nbs_tot.errors,
		nbs_tot.invalid, nbs_tot.moved, nbs_tot.copied, nbs_tot.tx_copied_frames,
		nbs_tot.store_copied,
		ss.requests_live, ss.pools_dropped, ss.pools_leaked, ss.protocol_errors);
	app_say("stats: store=%s reads=%" PRIu64 " writes=%" PRIu64 " flushes=%" PRIu64
		" bytes_read=%" PRIu64 " bytes_written=%" PRIu64 " bytes_copied=%" PRIu64
		" bytes_zeroed=%" PRIu64 " errors=%" PRIu64,
		spec, ts.ops[NBS_STORE_OP_READ], ts.ops[NBS_STORE_OP_WRITE],
		ts.ops[NBS_STORE_OP_FLUSH], ts.bytes_read, ts.bytes_written, ts.bytes_copied,
		ts.bytes_zeroed, ts.errors);
}

void
nbs_report_period(const struct bulk_bs_server *srv, const struct nbs_bridge *b, double secs,
		  double dt)
{
	static uint64_t last;
	struct bulk_bs_server_stats ss;

	(void)bulk_bs_server_stats_get(srv, &ss);
	app_say("%.1f s: clients=%u requests=%" PRIu64 " iops=%.0f live=%" PRIu64 " closed=%" PRIu64
		" died=%" PRIu64,
		secs, bulk_bs_server_conns(srv), b->submitted, app_rate(b->submitted - last, dt),
		ss.requests_live, ss.closed, ss.died);
	last = b->submitted;
}
