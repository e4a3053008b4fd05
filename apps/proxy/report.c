/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs-proxy's statistics, in the words of nbs's (apps/common/bs_hop.h):
 * per upstream session when it ends, per client when it is gone (its
 * downstream hop, and the sum of its upstream sessions), and at exit one
 * line per hop and the totals:
 *
 *   nbs-proxy: stats: upstream client=N session=K hop=dpdk requests=...
 *   nbs-proxy: stats: client=N peer=... hop=shm requests=... moved_bytes=...
 *              copied_bytes=0 ... up_hop=dpdk up_requests=... end=goodbye
 *   nbs-proxy: stats: hop=down backend=shm clients=N requests=... copied_bytes=0
 *   nbs-proxy: stats: hop=up backend=dpdk sessions=N requests=... copied_bytes=...
 *   nbs-proxy: stats: total clients=N died=N ... live_requests=0 pools_leaked=0
 *   nbs-proxy: stats: cache blocks=N block_size=B hits=N copy_hits=N ... (--cache)
 *
 * The cache's own copies (a miss's data into a block, a hit by memcpy for
 * a user without a copy channel) are the proxy's, not a hop's: they are
 * on the cache line, as cache_copied_bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "app.h"
#include "cache.h"
#include "proxy.h"

void
px_report_session(const struct px_sess *s, const struct bs_hop *h, const char *end)
{
	app_say("stats: upstream client=%" PRIu64 " session=%u hop=%s requests=%" PRIu64
		" moved_bytes=%" PRIu64 " copied_bytes=%" PRIu64 " tx_copied_frames=%" PRIu64
		" end=%s",
		s->id, s->sessions, h->backend, h->requests, h->moved_bytes, h->copied_bytes,
		h->tx_copied_frames, end);
}

void
px_report_client(struct px_sess *s, int reason)
{
	struct px *px = s->px;
	struct bulk_bs_stats st;
	struct bs_hop h = { 0 };

	if (bulk_bs_conn_stats_get(s->conn, &st) < 0)
		return;
	bs_hop_from_stats(&h, &st);
	app_say("stats: client=%" PRIu64 " peer=%s hop=%s requests=%" PRIu64 " reads=%" PRIu64
		" writes=%" PRIu64 " flushes=%" PRIu64 " errors=%" PRIu64 " invalid=%" PRIu64
		" moved_bytes=%" PRIu64 " copied_bytes=%" PRIu64 " up_hop=%s up_sessions=%u"
		" up_requests=%" PRIu64 " up_moved_bytes=%" PRIu64 " up_copied_bytes=%" PRIu64
		" up_tx_copied_frames=%" PRIu64 " failed_fast=%" PRIu64 " lost_inflight=%" PRIu64
		" protocol_errors=%" PRIu64 " end=%s",
		s->id, bulk_bs_conn_peer(s->conn), h.backend, st.requests, st.reads, st.writes,
		st.flushes, st.errors, st.invalid, h.moved_bytes, h.copied_bytes,
		s->up_hop.backend[0] ? s->up_hop.backend : "none", s->sessions, s->up_hop.requests,
		s->up_hop.moved_bytes, s->up_hop.copied_bytes, s->up_hop.tx_copied_frames,
		s->failed_fast, s->lost_inflight, st.protocol_errors, bs_hop_end_name(reason));
	px->tot.clients++;
	if (reason != 0)
		px->tot.died++;
	bs_hop_sum(&px->tot.down, &h);
}

static void
hop_line(const char *name, const struct bs_hop *h, const char *extra)
{
	app_say("stats: hop=%s backend=%s requests=%" PRIu64 " moved_bytes=%" PRIu64
		" copied_bytes=%" PRIu64 " tx_copied_frames=%" PRIu64 "%s",
		name, h->backend[0] ? h->backend : "none", h->requests, h->moved_bytes,
		h->copied_bytes, h->tx_copied_frames, extra);
}

void
px_report_total(const struct px *px)
{
	struct bulk_bs_server_stats ss = { 0 };
	char extra[160];

	if (px->srv != NULL)
		(void)bulk_bs_server_stats_get(px->srv, &ss);
	snprintf(extra, sizeof(extra), " clients=%" PRIu64, px->tot.clients);
	hop_line("down", &px->tot.down, extra);
	snprintf(extra, sizeof(extra),
		 " sessions=%" PRIu64 " lost=%" PRIu64 " reconnects=%" PRIu64 " gave_up=%" PRIu64,
		 px->tot.sessions, px->tot.lost, px->tot.reconnects, px->tot.gave_up);
	hop_line("up", &px->tot.up, extra);
	app_say("stats: total clients=%" PRIu64 " died=%" PRIu64 " refused=%" PRIu64
		" failed_fast=%" PRIu64 " lost_inflight=%" PRIu64 " pool_refusals=%" PRIu64
		" live_requests=%" PRIu64 " pools_dropped=%" PRIu64 " pools_leaked=%" PRIu64
		" protocol_errors=%" PRIu64,
		px->tot.clients, px->tot.died, ss.refused, px->tot.failed_fast,
		px->tot.lost_inflight, px->tot.pool_refusals, ss.requests_live, ss.pools_dropped,
		ss.pools_leaked, ss.protocol_errors);
	if (px->cache != NULL) {
		struct px_cache_stats cs;

		px_cache_stats_get(px->cache, &cs);
		app_say("stats: cache blocks=%" PRIu64 " block_size=%" PRIu64 " used=%" PRIu64
			" hits=%" PRIu64 " copy_hits=%" PRIu64 " copy_bytes=%" PRIu64
			" memcpy_hits=%" PRIu64 " misses=%" PRIu64 " fills=%" PRIu64
			" fill_skipped=%" PRIu64 " bypass=%" PRIu64 " invalidations=%" PRIu64
			" evictions=%" PRIu64 " deferred=%" PRIu64 " zombies=%" PRIu64
			" cache_copied_bytes=%" PRIu64,
			cs.blocks, cs.block_size, cs.used, cs.hits, cs.copy_hits, cs.copy_bytes,
			cs.memcpy_hits, cs.misses, cs.fills, cs.fill_skipped, cs.bypass,
			cs.invalidations, cs.evictions, cs.deferred, cs.zombies,
			cs.fill_bytes + cs.memcpy_bytes);
	}
}

void
px_report_period(const struct px *px, double secs)
{
	struct bulk_bs_server_stats ss = { 0 };
	uint64_t up = 0;

	(void)bulk_bs_server_stats_get(px->srv, &ss);
	for (const struct px_sess *s = px->sessions; s != NULL; s = s->next)
		up += s->inflight_up;
	app_say("%.1f s: clients=%u live=%" PRIu64 " upstream_inflight=%" PRIu64 " lost=%" PRIu64
		" reconnects=%" PRIu64 " failed_fast=%" PRIu64,
		secs, bulk_bs_server_conns(px->srv), ss.requests_live, up, px->tot.lost,
		px->tot.reconnects, px->tot.failed_fast);
}
