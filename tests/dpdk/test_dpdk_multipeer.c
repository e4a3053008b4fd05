/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One multi-peer port (bulk_dpdk_port_params.peer_ip 0) serving several
 * peers at once, in one process, over net_ring ports joined by the test.
 *
 * Stations: 0 is the server S (domain S, a multi-peer port with max_peers
 * 3), 1..4 are the peers P1..P4 (a domain each, a port whose fixed peer is
 * S), each on its own IPv4 address. Every station is a net_ring port whose
 * rings the test joins like a switch: a frame goes to the station that
 * owns its destination address (an ARP request to every other station); a
 * frame to an address no station owns is inspected and dropped (the
 * answers S gives to hosts the test made up).
 *
 *   1. P1..P3 get two channels with S each: "up" (S creates on endpoint
 *      10+i, Pi binds over its port and moves verified buffers to S) and
 *      "down" (Pi creates on endpoint 20, S binds with
 *      bulk_dpdk_endpoint_remote_ip() and moves verified buffers to Pi).
 *      P1's "down" comes first, so that S resolves P1's MAC with ARP; P2's
 *      and P3's entries are made by their bind requests. The six streams
 *      run at once (xfer.h).
 *   2. The bound: P4's bind is refused (-ENOSPC, peers_refused), so is a
 *      forged bind request from a host S has never seen, and 100 requests
 *      from 100 hosts to an endpoint nobody listens on leave the table as
 *      it was (each answered to its source, none remembered).
 *   3. Spoofing, S alone polled between the frames: a frame of P1's channel
 *      sent from P2's address, from P1's address with another UDP port, or
 *      from an unknown host, a window-closing ACK of P1's other channel
 *      from P2, and a reset naming P1's channel from P2 are each dropped and
 *      counted in rx_wrong_peer alone; the captured frame itself, from P1,
 *      is taken (a duplicate). P1's channels then carry more buffers.
 *   4. Death: P2 goes silent in the middle of a transfer (the switch drops
 *      what it sends and what is sent to it; its domain is no longer
 *      polled) while P1 and P3 keep moving verified buffers both ways: S's
 *      two channels with P2 close with -BULK_E_PEER_GONE after the peer
 *      timeout, every buffer S had moved to P2 comes home, and P1's and
 *      P3's channels stay up. S frees P2's channels: P2 leaves the table.
 *   5. P4 binds again, now that there is room, and moves verified buffers.
 *   6. Addresses: S's and P1's ports are registered
 *      (bulk_dpdk_port_addr_register()); P1 creates on dpdk:ip=P1,ep=21, S
 *      resolves the same text on its multi-peer port and binds; verified
 *      buffers S -> P1. The API's refusals are checked on the way, and
 *      that P1's fixed port wins over a multi-peer port of P1 registered
 *      before it (one on a ring nobody reads: a bind through it would
 *      never be answered). Then the
 *      in-process shortcut both ways: S binds straight to P3's endpoint and
 *      P3 to S's (the backend finds the ports that lead there).
 *   7. Teardown; P2 comes back and finds its channels gone.
 *
 * $BULK_DPDK_PEER_TIMEOUT_MS sets every port's peer timeout (default 2000);
 * $BULK_DPDK_TX_COPY=1 makes every port copy on transmit (default: zero copy).
 *
 *   test_dpdk_multipeer [SEED [COUNT]]
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#include "dpdk_test.h"
#include "dpdk_wire.h"
#include "xfer.h"

#define NST	  5 /* S, P1..P4 */
#define MAX_PEERS 3u
#define POOL_N	  32u
#define BUF_MAX	  32768u
#define FMAX	  2048u
#define NSTREAMS  12

struct frame {
	uint32_t len;
	uint8_t b[FMAX];
};

/* One verified stream: a source domain moves, a sink domain passes back. */
struct stream {
	const char *name;
	int src_st, snk_st; /* stations */
	struct bulk_channel *csrc, *csnk;
	struct bulk_endpoint *ep;  /* the creator's */
	struct bulk_endpoint *rep; /* the binder's */
	bool by_addr;		   /* both made by bulk_addr_endpoint_*() */
	bool direct;		   /* in-process bind to the creator's endpoint: rep == ep */
	struct bulk_pool *pool;
	struct xfer src, snk;
};

static struct {
	uint64_t seed;
	uint32_t timeout_ms;
	struct rte_mempool *mp;
	struct rte_ring *in[NST], *out[NST];
	uint16_t port[NST];
	uint32_t ip[NST];
	struct bulk_domain *dom[NST];
	struct bulk_dpdk_port *link[NST];
	bool dead[NST];
	struct stream st[NSTREAMS];
	unsigned nst;
	/* What the switch saw. */
	uint64_t switched, dropped_dead;
	struct frame p1_move; /* P1 -> S: the latest MOVE (channel up1) */
	bool have_p1_move;
	uint32_t s_down1_id; /* S's id of down1 (P1's PASS frames name it) */
	uint32_t p1_up1_id;  /* P1's id of up1 (S's PASS frames name it) */
	unsigned cap_replies, cap_enospc, cap_no_chan, cap_other;
} T;

/* ------------------------------------------------------------ frames */

static void
hdr_put(uint8_t *dst, const struct dpdk_wire_hdr *hh)
{
	struct dpdk_wire_hdr h = *hh;

	h.magic = rte_cpu_to_be_32(DPDK_WIRE_MAGIC);
	h.version = DPDK_WIRE_VERSION;
	h.chan = rte_cpu_to_be_32(h.chan);
	h.seq = rte_cpu_to_be_32(h.seq);
	h.ack = rte_cpu_to_be_32(h.ack);
	h.wnd = rte_cpu_to_be_16(h.wnd);
	h.slot = rte_cpu_to_be_16(h.slot);
	h.index = rte_cpu_to_be_32(h.index);
	h.offset = rte_cpu_to_be_32(h.offset);
	h.length = rte_cpu_to_be_32(h.length);
	h.total = rte_cpu_to_be_32(h.total);
	memcpy(dst, &h, sizeof(h));
}

static void
hdr_get(const uint8_t *src, struct dpdk_wire_hdr *h)
{
	memcpy(h, src, sizeof(*h));
	h->magic = rte_be_to_cpu_32(h->magic);
	h->chan = rte_be_to_cpu_32(h->chan);
	h->seq = rte_be_to_cpu_32(h->seq);
	h->ack = rte_be_to_cpu_32(h->ack);
	h->wnd = rte_be_to_cpu_16(h->wnd);
	h->slot = rte_be_to_cpu_16(h->slot);
	h->index = rte_be_to_cpu_32(h->index);
	h->offset = rte_be_to_cpu_32(h->offset);
	h->length = rte_be_to_cpu_32(h->length);
	h->total = rte_be_to_cpu_32(h->total);
}

/* Both checksums of a frame whose lengths are right. */
static void
fix_csums(struct frame *f)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f->b + DPDK_WIRE_ETH_LEN);
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(f->b + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);

	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp->dgram_cksum = 0;
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

/* A frame from @p sip:@p sport to S, built from scratch: bulk header and payload. */
static void
frame_build(struct frame *f, uint32_t sip, uint16_t sport, const struct dpdk_wire_hdr *h,
	    const void *payload, uint32_t plen)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f->b;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f->b + DPDK_WIRE_ETH_LEN);
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(f->b + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);

	memset(f, 0, sizeof(*f));
	f->len = DPDK_WIRE_HDRS + (uint32_t)sizeof(*h) + plen;
	memset(&eth->dst_addr, 0, sizeof(eth->dst_addr));
	eth->src_addr.addr_bytes[0] = 0x02; /* locally administered, unicast */
	eth->src_addr.addr_bytes[5] = (uint8_t)sip;
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(f->len - DPDK_WIRE_ETH_LEN));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(sip);
	ip->dst_addr = rte_cpu_to_be_32(T.ip[0]);
	udp->src_port = rte_cpu_to_be_16(sport);
	udp->dst_port = rte_cpu_to_be_16(BULK_DPDK_UDP_PORT);
	udp->dgram_len =
		rte_cpu_to_be_16((uint16_t)(f->len - DPDK_WIRE_ETH_LEN - DPDK_WIRE_IP_LEN));
	hdr_put(f->b + DPDK_WIRE_HDRS, h);
	if (plen > 0)
		memcpy(f->b + DPDK_WIRE_HDRS + sizeof(*h), payload, plen);
	fix_csums(f);
}

/* The same frame, sent from another address and UDP port. */
static void
frame_resource(struct frame *f, uint32_t sip, uint16_t sport)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f->b;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f->b + DPDK_WIRE_ETH_LEN);
	struct rte_udp_hdr *udp =
		(struct rte_udp_hdr *)(f->b + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);

	eth->src_addr.addr_bytes[5] = (uint8_t)sip;
	ip->src_addr = rte_cpu_to_be_32(sip);
	udp->src_port = rte_cpu_to_be_16(sport);
	fix_csums(f);
}

/* Put a frame on S's receive ring, as the switch would. */
static void
inject(const struct frame *f)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(T.mp);
	uint8_t *p;

	CHECK(m != NULL);
	p = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)f->len);
	CHECK(p != NULL);
	memcpy(p, f->b, f->len);
	CHECK_RC(rte_ring_enqueue(T.in[0], m), 0);
}

/* A BIND_REQ for endpoint @p ep from host @p sip, as a binder without parameters sends it. */
static void
bind_req(struct frame *f, uint32_t sip, uint16_t ep, uint32_t binder_chan)
{
	struct dpdk_wire_bind b;
	struct dpdk_wire_hdr h = { .type = DPDK_WT_BIND_REQ, .length = sizeof(b) };

	memset(&b, 0, sizeof(b));
	b.binder_chan = rte_cpu_to_be_32(binder_chan);
	b.nonce = rte_cpu_to_be_32(binder_chan * 7u | 1u);
	b.ep_id = rte_cpu_to_be_16(ep);
	b.direction = 0xff;
	b.role = BULK_ROLE_GENERIC;
	b.trust = BULK_TRUST_UNINITIALIZED;
	b.mtu = rte_cpu_to_be_16(1500);
	frame_build(f, sip, BULK_DPDK_UDP_PORT, &h, &b, sizeof(b));
}

/* ------------------------------------------------------------ the switch */

static int
station_of(uint32_t ip)
{
	for (int i = 0; i < NST; i++)
		if (T.ip[i] == ip)
			return i;
	return -1;
}

static void
deliver_to(int to, struct rte_mbuf *m)
{
	if (T.dead[to]) {
		T.dropped_dead++;
		rte_pktmbuf_free(m);
		return;
	}
	if (rte_ring_enqueue(T.in[to], m) != 0)
		rte_pktmbuf_free(m); /* a full ring loses it, as a NIC would */
}

/* Remember what the spoofing phase needs; count S's answers to made-up hosts. */
static void
tap(int from, int to, const struct rte_mbuf *m)
{
	uint8_t buf[DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr) + sizeof(struct dpdk_wire_bind)];
	const uint8_t *p;
	struct dpdk_wire_hdr h;

	if (m->pkt_len < DPDK_WIRE_HDRS + sizeof(h))
		return;
	p = rte_pktmbuf_read(m, 0, RTE_MIN(m->pkt_len, (uint32_t)sizeof(buf)), buf);
	hdr_get(p + DPDK_WIRE_HDRS, &h);
	if (h.magic != DPDK_WIRE_MAGIC)
		return;
	if (from == 1 && to == 0 && h.type == 1 /* MOVE */ && m->pkt_len <= FMAX) {
		const void *q = rte_pktmbuf_read(m, 0, m->pkt_len, T.p1_move.b);

		CHECK(q != NULL);
		if (q != T.p1_move.b)
			memcpy(T.p1_move.b, q, m->pkt_len);
		T.p1_move.len = m->pkt_len;
		T.have_p1_move = true;
	}
	if (from == 1 && to == 0 && h.type == 2 /* PASS */)
		T.s_down1_id = h.chan;
	if (from == 0 && to == 1 && h.type == 2)
		T.p1_up1_id = h.chan;
	if (from == 0 && to < 0 && h.type == DPDK_WT_BIND_REPLY && m->pkt_len >= sizeof(buf)) {
		struct dpdk_wire_bind b;
		int32_t status;

		memcpy(&b, p + DPDK_WIRE_HDRS + sizeof(h), sizeof(b));
		status = (int32_t)rte_be_to_cpu_32((uint32_t)b.status);
		T.cap_replies++;
		if (status == -ENOSPC)
			T.cap_enospc++;
		else if (status == -BULK_E_EP_NO_CHANNEL)
			T.cap_no_chan++;
		else
			T.cap_other++;
	}
}

static unsigned
sw_step(void)
{
	unsigned moved = 0;

	for (int i = 0; i < NST; i++) {
		struct rte_mbuf *m[32];
		unsigned n = rte_ring_dequeue_burst(T.out[i], (void **)m, 32, NULL);

		for (unsigned k = 0; k < n; k++) {
			const struct rte_ether_hdr *eth =
				rte_pktmbuf_mtod(m[k], const struct rte_ether_hdr *);
			int to = -1;

			moved++;
			T.switched++;
			if (T.dead[i]) {
				T.dropped_dead++;
				rte_pktmbuf_free(m[k]);
				continue;
			}
			if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
				struct rte_arp_hdr abuf;
				const struct rte_arp_hdr *a = rte_pktmbuf_read(
					m[k], DPDK_WIRE_ETH_LEN, sizeof(abuf), &abuf);

				if (a != NULL &&
				    a->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
					/* Broadcast: everyone else gets a copy. */
					for (int j = 0; j < NST; j++) {
						struct rte_mbuf *c;

						if (j == i)
							continue;
						c = rte_pktmbuf_copy(m[k], T.mp, 0, UINT32_MAX);
						if (c != NULL)
							deliver_to(j, c);
					}
					rte_pktmbuf_free(m[k]);
					continue;
				}
				if (a != NULL)
					to = station_of(rte_be_to_cpu_32(a->arp_data.arp_tip));
			} else if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
				uint32_t dip;
				/* 2 mod 4 in the frame: read it unaligned. */
				const void *d =
					rte_pktmbuf_read(m[k], DPDK_WIRE_ETH_LEN + 16, 4, &dip);

				if (d != NULL) {
					memcpy(&dip, d, sizeof(dip));
					to = station_of(rte_be_to_cpu_32(dip));
				}
				tap(i, to, m[k]);
			}
			if (to < 0 || to == i) {
				rte_pktmbuf_free(m[k]);
				continue;
			}
			deliver_to(to, m[k]);
		}
	}
	return moved;
}

/* ------------------------------------------------------------ polling */

static unsigned
step(void)
{
	unsigned w = sw_step();

	for (unsigned k = 0; k < T.nst; k++) {
		struct stream *s = &T.st[k];

		if (s->csrc != NULL && !T.dead[s->src_st])
			w += xfer_pump(&s->src);
	}
	for (int i = 0; i < NST; i++) {
		int rc;

		if (T.dom[i] == NULL || T.dead[i])
			continue;
		rc = bulk_domain_poll(T.dom[i], 0);
		CHECK(rc >= 0);
		w += (unsigned)rc;
	}
	for (unsigned k = 0; k < T.nst; k++) {
		struct stream *s = &T.st[k];

		if (s->csnk != NULL && !T.dead[s->snk_st])
			w += xfer_flush(&s->snk);
	}
	return w;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Step until nothing moved for 20 ms (acks and keep-alives settle). */
static void
settle(void)
{
	double quiet_since = now_s();

	for (;;) {
		if (step() != 0) {
			quiet_since = now_s();
			continue;
		}
		if (now_s() - quiet_since > 0.02)
			return;
	}
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	int *f = arg;

	(void)ch;
	*f = err == 0 ? 1 : err;
}

static void
wait_flag(int *f)
{
	double t0 = now_s();

	while (*f == 0) {
		step();
		CHECK(now_s() - t0 < 60);
	}
}

static struct bulk_dpdk_port_stats
port_stats(int i)
{
	struct bulk_dpdk_port_stats st;

	memset(&st, 0, sizeof(st));
	CHECK_RC(bulk_dpdk_port_stats_get(T.link[i], &st), 0);
	return st;
}

static void
print_port(int i)
{
	struct bulk_dpdk_port_stats st = port_stats(i);

	printf("port %s: rx_frames=%" PRIu64 " tx_frames=%" PRIu64 " rx_not_ours=%" PRIu64
	       " rx_malformed=%" PRIu64 " rx_csum_drops=%" PRIu64 " rx_unknown_chan=%" PRIu64
	       " rx_wrong_peer=%" PRIu64 " peers_refused=%" PRIu64 " peers=%" PRIu64
	       " arp_rx=%" PRIu64 " arp_tx=%" PRIu64 "\n",
	       i == 0	? "S"
	       : i == 1 ? "P1"
	       : i == 2 ? "P2"
	       : i == 3 ? "P3"
			: "P4",
	       st.rx_frames, st.tx_frames, st.rx_not_ours, st.rx_malformed, st.rx_csum_drops,
	       st.rx_unknown_chan, st.rx_wrong_peer, st.peers_refused, st.peers, st.arp_rx,
	       st.arp_tx);
}

/* ------------------------------------------------------------ streams */

static struct stream *
stream_new(const char *name, int src_st, int snk_st)
{
	struct stream *s;

	CHECK(T.nst < NSTREAMS);
	s = &T.st[T.nst++];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->src_st = src_st;
	s->snk_st = snk_st;
	xfer_init(&s->src, name, T.seed + T.nst, 1000000, 64, BUF_MAX);
	xfer_init(&s->snk, name, T.seed + T.nst, 1000000, 64, BUF_MAX);
	s->src.limit = 0;
	return s;
}

/*
 * Connect @p s: station @p creator makes its channel on s->ep (unless a
 * refused bind left it listening), the other end binds through s->rep.
 * @return the bind's outcome (0 or the error the continuation got); on
 * success the source's pool is assigned too.
 */
static int
stream_connect(struct stream *s, int creator)
{
	bool creator_sinks = creator == s->snk_st;
	int binder = creator_sinks ? s->src_st : s->snk_st;
	struct bulk_channel_params cp = {
		.direction = creator_sinks ? BULK_DIRECTION_RX : BULK_DIRECTION_TX,
		.meta_size = XFER_META_SIZE,
		.queue_size = 256,
		.user = creator_sinks ? (void *)&s->snk : (void *)&s->src,
	};
	struct bulk_bind_params bp = { .user = creator_sinks ? (void *)&s->src : (void *)&s->snk };
	struct bulk_pool_params pp = { .count = POOL_N, .buffer_size = BUF_MAX };
	struct bulk_channel *cc = creator_sinks ? s->csnk : s->csrc, *cb = NULL;
	int bound = 0, assigned = 0;

	if (cc == NULL)
		CHECK_RC(bulk_channel_create(s->ep, &xfer_callbacks, &cp, &cc), 0);
	CHECK_EQ_INT(bulk_channel_state(cc), BULK_STATE_INITIALIZED);
	CHECK_RC(bulk_channel_bind(T.dom[binder], s->rep, &xfer_callbacks, &bp,
				   (struct bulk_cont){ set_flag, &bound }, &cb),
		 0);
	wait_flag(&bound);
	if (bound != 1) {
		/* Refused: the binder's channel is closed, the creator still listens. */
		CHECK_EQ_INT(bulk_channel_state(cb), BULK_STATE_CLOSED);
		CHECK_RC(bulk_channel_free(cb), 0);
		s->csrc = creator_sinks ? NULL : cc;
		s->csnk = creator_sinks ? cc : NULL;
		return bound;
	}
	s->csrc = creator_sinks ? cb : cc;
	s->csnk = creator_sinks ? cc : cb;
	CHECK_EQ_INT(bulk_channel_state(s->csrc), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(s->csnk), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(s->csrc), BULK_DIRECTION_TX);
	CHECK_RC(bulk_pool_alloc(T.dom[s->src_st], &pp, &s->pool), 0);
	CHECK_RC(bulk_channel_assign_pool(s->csrc, s->pool,
					  (struct bulk_cont){ set_flag, &assigned }),
		 0);
	wait_flag(&assigned);
	CHECK_RC(assigned, 1);
	s->src.ch = s->csrc;
	s->src.pool = s->pool;
	s->snk.ch = s->csnk;
	return 0;
}

static bool
stream_done(const struct stream *s)
{
	return s->src.next == s->src.limit && s->src.nawy == 0 && s->src.stash == NULL;
}

static void
stream_check(const struct stream *s)
{
	if (s->snk.verify_failures + s->snk.dups + s->snk.out_of_order + s->snk.errors +
		    s->src.errors ==
	    0)
		return;
	xfer_print_result(&s->snk, s->name);
	xfer_print_result(&s->src, s->name);
	CHECK(!"a stream failed its checks");
}

/* Move @p n more buffers on each of @p ss at once; wait until all are home, verified. */
static void
run(struct stream **ss, unsigned k, uint64_t n)
{
	double t0 = now_s();
	bool done = false;

	for (unsigned i = 0; i < k; i++)
		ss[i]->src.limit += n;
	while (!done) {
		step();
		done = true;
		for (unsigned i = 0; i < k; i++) {
			stream_check(ss[i]);
			CHECK(!ss[i]->src.closed && !ss[i]->snk.closed);
			done = done && stream_done(ss[i]);
		}
		if (now_s() - t0 > 120) {
			for (unsigned i = 0; i < k; i++)
				printf("%s: sent %" PRIu64 "/%" PRIu64 " received %" PRIu64
				       " back %" PRIu64 "\n",
				       ss[i]->name, ss[i]->src.next, ss[i]->src.limit,
				       ss[i]->snk.buffers, ss[i]->src.back);
			CHECK(!"no progress for 120 s");
		}
	}
	for (unsigned i = 0; i < k; i++) {
		CHECK_EQ_INT(ss[i]->snk.buffers, ss[i]->src.limit);
		CHECK_EQ_INT(bulk_pool_free_count(ss[i]->pool), POOL_N);
	}
}

/* Destroy from the source's side, wait until both ends closed, free both. */
static void
stream_close(struct stream *s)
{
	int closed = 0;

	CHECK_RC(bulk_channel_destroy(s->csrc, (struct bulk_cont){ set_flag, &closed }), 0);
	wait_flag(&closed);
	CHECK_RC(closed, 1);
	for (double t0 = now_s(); bulk_channel_state(s->csnk) != BULK_STATE_CLOSED;) {
		step();
		CHECK(now_s() - t0 < 60);
	}
	CHECK_RC(bulk_channel_free(s->csnk), 0);
	CHECK_RC(bulk_channel_free(s->csrc), 0);
	s->csrc = s->csnk = NULL;
}

static void
stream_fini(struct stream *s)
{
	if (s->by_addr) {
		CHECK_RC(bulk_addr_endpoint_free(s->ep), 0);
		CHECK_RC(bulk_addr_endpoint_free(s->rep), 0);
	} else if (s->direct) {
		CHECK_RC(bulk_endpoint_free(s->ep), 0);
	} else {
		CHECK_RC(bulk_endpoint_free(s->ep), 0);
		CHECK_RC(bulk_endpoint_free(s->rep), 0);
	}
	if (s->pool != NULL) {
		CHECK_EQ_INT(bulk_pool_free_count(s->pool), POOL_N);
		CHECK_RC(bulk_pool_free(s->pool), 0);
	}
	xfer_fini(&s->src);
	xfer_fini(&s->snk);
}

/* ------------------------------------------------------------ set-up */

static void
topology(void)
{
	static const char *const names[NST] = { "S", "P1", "P2", "P3", "P4" };

	T.mp = rte_pktmbuf_pool_create("mp_test", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	CHECK(T.mp != NULL);
	for (int i = 0; i < NST; i++) {
		struct bulk_dpdk_port_params pp;
		char n[32];
		int id;

		snprintf(n, sizeof(n), "mp_in%d", i);
		T.in[i] = rte_ring_create(n, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "mp_out%d", i);
		T.out[i] = rte_ring_create(n, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		CHECK(T.in[i] != NULL && T.out[i] != NULL);
		snprintf(n, sizeof(n), "mp_%s", names[i]);
		id = rte_eth_from_rings(n, &T.in[i], 1, &T.out[i], 1, SOCKET_ID_ANY);
		CHECK(id >= 0);
		T.port[i] = (uint16_t)id;
		T.ip[i] = i == 0 ? dt_ip(9, 1) : dt_ip(9, 10 + (unsigned)i);
		CHECK_RC(bulk_domain_create(names[i], &T.dom[i]), 0);
		memset(&pp, 0, sizeof(pp));
		pp.port_id = T.port[i];
		pp.local_ip = T.ip[i];
		pp.peer_ip = i == 0 ? 0 : T.ip[0];
		pp.configure = 1;
		pp.max_peers = i == 0 ? MAX_PEERS : 0;
		pp.peer_timeout_ms = T.timeout_ms;
		if (getenv("BULK_DPDK_TX_COPY") != NULL)
			pp.tx_mode = BULK_DPDK_TX_COPY;
		CHECK_RC(bulk_dpdk_port_open(T.dom[i], &pp, &T.link[i]), 0);
	}
	/* A multi-peer port refuses a MAC without an address, and an unbounded table. */
	{
		struct bulk_dpdk_port_params pp;
		struct bulk_dpdk_port *l = NULL;

		memset(&pp, 0, sizeof(pp));
		pp.port_id = T.port[0];
		pp.local_ip = dt_ip(9, 2);
		pp.peer_mac[5] = 1;
		CHECK_RC(bulk_dpdk_port_open(T.dom[0], &pp, &l), -EINVAL);
		pp.peer_mac[5] = 0;
		pp.max_peers = BULK_DPDK_MAX_PEERS_LIMIT + 1;
		CHECK_RC(bulk_dpdk_port_open(T.dom[0], &pp, &l), -EINVAL);
		pp.max_peers = 0;
		CHECK_RC(bulk_dpdk_port_open(T.dom[0], &pp, &l), -EEXIST); /* same port and queue */
	}
}

/* Endpoints of the classic pair: S creates on @p ep, peer @p i binds over its port. */
static void
eps_up(struct stream *s, int i, uint16_t ep)
{
	CHECK_RC(bulk_dpdk_endpoint_create(T.dom[0], ep, &s->ep), 0);
	CHECK_RC(bulk_dpdk_endpoint_remote(T.link[i], ep, &s->rep), 0);
}

/* The block service's pair: peer @p i creates on @p ep, S binds to that peer by address. */
static void
eps_down(struct stream *s, int i, uint16_t ep)
{
	CHECK_RC(bulk_dpdk_endpoint_create(T.dom[i], ep, &s->ep), 0);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[0], T.ip[i], 0, ep, &s->rep), 0);
}

/* ------------------------------------------------------------ phases */

static struct stream *up[NST], *down[NST], *addr1, *addr3, *direct_down3, *direct_up3;

/* A multi-peer port of P1 on a ring nobody reads. */
static struct bulk_dpdk_port *
open_idle_multi(void)
{
	struct rte_ring *r[2];
	struct bulk_dpdk_port_params pp;
	struct bulk_dpdk_port *l;
	int id;

	r[0] = rte_ring_create("mp_idle_in", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	r[1] = rte_ring_create("mp_idle_out", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(r[0] != NULL && r[1] != NULL);
	id = rte_eth_from_rings("mp_idle", &r[0], 1, &r[1], 1, SOCKET_ID_ANY);
	CHECK(id >= 0);
	memset(&pp, 0, sizeof(pp));
	pp.port_id = (uint16_t)id;
	pp.local_ip = dt_ip(9, 111);
	pp.configure = 1;
	pp.peer_timeout_ms = T.timeout_ms;
	CHECK_RC(bulk_dpdk_port_open(T.dom[1], &pp, &l), 0);
	return l;
}

static void
phase_serve(uint64_t count)
{
	static const char *const un[NST] = { "", "up1", "up2", "up3", "up4" };
	static const char *const dn[NST] = { "", "down1", "down2", "down3", "" };
	struct stream *all[6];
	unsigned n = 0;

	for (int i = 1; i <= 3; i++) {
		up[i] = stream_new(un[i], i, 0);
		down[i] = stream_new(dn[i], 0, i);
		eps_up(up[i], i, (uint16_t)(10 + i));
		eps_down(down[i], i, 20);
		if (i == 1) {
			/* S binds first: it resolves P1's MAC with ARP. */
			CHECK_RC(stream_connect(down[i], i), 0);
			CHECK_RC(stream_connect(up[i], 0), 0);
		} else {
			/* P binds first: S learns it from the request. */
			CHECK_RC(stream_connect(up[i], 0), 0);
			CHECK_RC(stream_connect(down[i], i), 0);
		}
		all[n++] = up[i];
		all[n++] = down[i];
		CHECK_EQ_INT(port_stats(0).peers, (uint64_t)i);
	}
	run(all, n, count);
	printf("serve: 3 peers, 6 channels on one port, %" PRIu64 " verified buffers each way\n",
	       count);
	for (unsigned k = 0; k < n; k++)
		dt_print_chan_stats(all[k]->name, all[k]->csnk);
	print_port(0);
	/* S's ARP found P1: requests went out and an answer came back. */
	CHECK(port_stats(0).arp_tx > 0);
	CHECK_EQ_INT(port_stats(0).rx_wrong_peer, 0);
}

static void
phase_bound(void)
{
	struct bulk_dpdk_port_stats a, b;
	struct frame f;

	/* A fourth peer: the table holds MAX_PEERS. */
	up[4] = stream_new("up4", 4, 0);
	eps_up(up[4], 4, 14);
	a = port_stats(0);
	CHECK_RC(stream_connect(up[4], 0), -ENOSPC);
	b = port_stats(0);
	CHECK_EQ_INT(b.peers_refused - a.peers_refused, 1);
	CHECK_EQ_INT(b.peers, MAX_PEERS);
	printf("bound: P4's bind refused with -ENOSPC (table of %u full)\n", MAX_PEERS);

	/* A made-up host asks the same listener: refused, answered to it, forgotten. */
	settle();
	a = port_stats(0);
	bind_req(&f, dt_ip(10, 1), 14, 0x5001);
	inject(&f);
	settle();
	b = port_stats(0);
	CHECK_EQ_INT(b.peers_refused - a.peers_refused, 1);
	CHECK_EQ_INT(b.peers, MAX_PEERS);
	CHECK_EQ_INT(T.cap_enospc, 1);

	/* 100 hosts ask for an endpoint nobody listens on: each answered, none kept. */
	a = port_stats(0);
	for (unsigned k = 0; k < 100; k++) {
		bind_req(&f, dt_ip(11, 1 + k), 99, 0x6000 + k);
		inject(&f);
		if (k % 16 == 15)
			settle();
	}
	settle();
	b = port_stats(0);
	CHECK_EQ_INT(b.peers, MAX_PEERS);
	CHECK_EQ_INT(b.peers_refused, a.peers_refused);
	CHECK_EQ_INT(b.rx_frames - a.rx_frames >= 100, 1);
	CHECK_EQ_INT(T.cap_no_chan, 100);
	CHECK_EQ_INT(T.cap_other, 0);
	printf("bound: a forged bind refused, 100 requests from 100 hosts answered, "
	       "table still %" PRIu64 " peers\n",
	       b.peers);
}

/* Only S receives: one frame in, its counters compared. */
static void
spoof_one(const char *what, const struct frame *f, uint64_t want_wrong)
{
	struct bulk_dpdk_port_stats a = port_stats(0), b;
	struct bulk_dpdk_chan_stats u0, u1, d0, d1;

	CHECK_RC(bulk_dpdk_chan_stats_get(up[1]->csnk, &u0), 0);
	CHECK_RC(bulk_dpdk_chan_stats_get(down[1]->csrc, &d0), 0);
	inject(f);
	CHECK_EQ_INT(bulk_dpdk_port_poll(T.link[0], 0), 1);
	b = port_stats(0);
	CHECK_RC(bulk_dpdk_chan_stats_get(up[1]->csnk, &u1), 0);
	CHECK_RC(bulk_dpdk_chan_stats_get(down[1]->csrc, &d1), 0);
	printf("spoof: %s: rx_wrong_peer +%" PRIu64 "\n", what, b.rx_wrong_peer - a.rx_wrong_peer);
	CHECK_EQ_INT(b.rx_frames - a.rx_frames, 1);
	CHECK_EQ_INT(b.rx_wrong_peer - a.rx_wrong_peer, want_wrong);
	CHECK_EQ_INT(b.rx_not_ours, a.rx_not_ours);
	CHECK_EQ_INT(b.rx_malformed, a.rx_malformed);
	CHECK_EQ_INT(b.rx_csum_drops, a.rx_csum_drops);
	CHECK_EQ_INT(b.rx_unknown_chan, a.rx_unknown_chan);
	CHECK_EQ_INT(d1.frames_rx, d0.frames_rx);
	if (want_wrong) {
		CHECK_EQ_INT(u1.frames_rx, u0.frames_rx);
	} else {
		/* The very frame from its own peer: taken, a duplicate by now. */
		CHECK_EQ_INT(u1.frames_rx - u0.frames_rx, 1);
		CHECK_EQ_INT(u1.dups_rx - u0.dups_rx, 1);
	}
}

static void
phase_spoof(uint64_t count)
{
	struct stream *p1[2] = { up[1], down[1] };
	struct dpdk_wire_hdr h;
	struct frame f;

	CHECK(T.have_p1_move && T.s_down1_id != 0 && T.p1_up1_id != 0);
	settle();
	hdr_get(T.p1_move.b + DPDK_WIRE_HDRS, &h);
	printf("spoof: P1's MOVE names S's channel %#x (seq %u, %u bytes); S's down1 is %#x, "
	       "P1's up1 %#x\n",
	       h.chan, h.seq, h.length, T.s_down1_id, T.p1_up1_id);

	f = T.p1_move;
	frame_resource(&f, T.ip[2], BULK_DPDK_UDP_PORT);
	spoof_one("P1's MOVE from P2's address", &f, 1);
	f = T.p1_move;
	/* Not a port of P1's source port block (its channels' own ports). */
	frame_resource(&f, T.ip[1], BULK_DPDK_UDP_PORT + BULK_DPDK_UDP_SRC_PORTS);
	spoof_one("P1's MOVE from P1's address, another UDP port", &f, 1);
	f = T.p1_move;
	frame_resource(&f, dt_ip(12, 7), BULK_DPDK_UDP_PORT);
	spoof_one("P1's MOVE from a host S does not know", &f, 1);
	/* An ACK closing down1's window: taken, it would stall S's sender. */
	memset(&h, 0, sizeof(h));
	h.type = DPDK_WT_ACK;
	h.flags = DPDK_WF_ACK;
	h.chan = T.s_down1_id;
	frame_build(&f, T.ip[2], BULK_DPDK_UDP_PORT, &h, NULL, 0);
	spoof_one("an ACK of P1's down1 from P2", &f, 1);
	/* A reset naming P1's channel: taken, it would close S's up1. */
	memset(&h, 0, sizeof(h));
	h.type = DPDK_WT_RST;
	h.index = T.p1_up1_id;
	frame_build(&f, T.ip[2], BULK_DPDK_UDP_PORT, &h, NULL, 0);
	spoof_one("a reset of P1's up1 from P2", &f, 1);
	/* The control: the captured frame from P1 itself. */
	spoof_one("P1's MOVE from P1", &T.p1_move, 0);

	run(p1, 2, count);
	CHECK_EQ_INT(bulk_channel_state(up[1]->csnk), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(down[1]->csrc), BULK_STATE_CONNECTED);
	printf("spoof: 5 spoofed frames dropped (rx_wrong_peer), P1's channels moved %" PRIu64
	       " more buffers each\n",
	       count);
}

static void
phase_death(uint64_t count)
{
	struct stream *live[4] = { up[1], down[1], up[3], down[3] };
	uint64_t up2_before = up[2]->snk.buffers, down2_before = down[2]->snk.buffers;
	double t0, t_dead = 0;
	bool done = false;

	/* Everyone moves; P2 dies once it has moved some more both ways. */
	for (int i = 1; i <= 3; i++) {
		up[i]->src.limit += count;
		down[i]->src.limit += count;
	}
	t0 = now_s();
	while (up[2]->snk.buffers < up2_before + count / 8 ||
	       down[2]->snk.buffers < down2_before + count / 8) {
		step();
		stream_check(up[2]);
		stream_check(down[2]);
		CHECK(now_s() - t0 < 60);
	}
	T.dead[2] = true;
	t_dead = now_s();
	printf("death: P2 silenced after %" PRIu64 " + %" PRIu64 " more buffers; %" PRIu64
	       " of S's buffers are with it\n",
	       up[2]->snk.buffers - up2_before, down[2]->snk.buffers - down2_before,
	       down[2]->src.nawy);
	CHECK(down[2]->src.nawy > 0); /* what must come home */
	while (!done) {
		step();
		done = down[2]->src.closed && up[2]->snk.closed;
		for (unsigned i = 0; i < 4; i++) {
			stream_check(live[i]);
			CHECK(!live[i]->src.closed && !live[i]->snk.closed);
			done = done && stream_done(live[i]);
		}
		CHECK(now_s() - t_dead < 120);
	}
	printf("death: S's channels with P2 closed after %.2f s (timeout %u ms); P1 and P3 "
	       "moved %" PRIu64 " buffers each way meanwhile\n",
	       now_s() - t_dead, T.timeout_ms, count);
	CHECK(now_s() - t_dead >= T.timeout_ms / 1000.0 * 0.9);
	CHECK_EQ_INT(down[2]->src.teardown_reason, -BULK_E_PEER_GONE);
	CHECK_EQ_INT(up[2]->snk.teardown_reason, -BULK_E_PEER_GONE);
	CHECK_EQ_INT(bulk_channel_state(down[2]->csrc), BULK_STATE_CLOSED);
	CHECK_EQ_INT(bulk_channel_state(up[2]->csnk), BULK_STATE_CLOSED);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ_INT(bulk_channel_state(live[i]->csrc), BULK_STATE_CONNECTED);
		CHECK_EQ_INT(bulk_channel_state(live[i]->csnk), BULK_STATE_CONNECTED);
		CHECK_EQ_INT(live[i]->snk.buffers, live[i]->src.limit);
		CHECK_EQ_INT(bulk_pool_free_count(live[i]->pool), POOL_N);
	}
	/* What S had moved to P2 came back to S. */
	xfer_put_home(&down[2]->src);
	CHECK_EQ_INT(down[2]->src.errors, 0);
	CHECK_EQ_INT(bulk_pool_free_count(down[2]->pool), POOL_N);
	/* S lets P2's channels go: P2 leaves the table. */
	CHECK_EQ_INT(port_stats(0).peers, 3);
	CHECK_RC(bulk_channel_free(down[2]->csrc), 0);
	down[2]->csrc = NULL;
	CHECK_EQ_INT(port_stats(0).peers, 3); /* up2 still holds it */
	CHECK_RC(bulk_channel_free(up[2]->csnk), 0);
	up[2]->csnk = NULL;
	CHECK_EQ_INT(port_stats(0).peers, 2);
	print_port(0);
}

static void
phase_reuse(uint64_t count)
{
	struct stream *s[1];

	/* up4's creator on S still listens (the refusal left it); P4 binds anew. */
	CHECK(up[4]->csnk != NULL);
	CHECK_RC(stream_connect(up[4], 0), 0);
	CHECK_EQ_INT(port_stats(0).peers, 3);
	s[0] = up[4];
	run(s, 1, count);
	printf("reuse: P4 took P2's place in the table and moved %" PRIu64 " verified buffers\n",
	       count);
}

static void
phase_addr(uint64_t count)
{
	struct bulk_addr a;
	struct bulk_endpoint *e = NULL;
	char text[BULK_ADDR_STRLEN];
	struct stream *s[1];

	/* The API's refusals. */
	CHECK_RC(bulk_dpdk_endpoint_remote(T.link[0], 5, &e), -EDESTADDRREQ);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[0], T.ip[0], 0, 5, &e), -EINVAL);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[0], 0, 0, 5, &e), -EINVAL);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[0], T.ip[1], 0, 0, &e), -EINVAL);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[1], T.ip[3], 0, 5, &e), -EINVAL);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[1], T.ip[0], BULK_DPDK_UDP_PORT + 1, 5, &e),
		 -EINVAL);
	CHECK_RC(bulk_dpdk_endpoint_remote_ip(T.link[1], T.ip[0], 0, 5, &e), 0);
	CHECK_RC(bulk_endpoint_free(e), 0);

	CHECK_RC(bulk_dpdk_port_addr_register(T.link[0]), 0);
	CHECK_RC(bulk_dpdk_port_addr_register(T.link[1]), 0);
	addr1 = stream_new("addr1", 0, 1);
	addr1->by_addr = true;
	snprintf(text, sizeof(text), "dpdk:ip=%u.%u.%u.%u,ep=21", T.ip[1] >> 24,
		 (T.ip[1] >> 16) & 0xff, (T.ip[1] >> 8) & 0xff, T.ip[1] & 0xff);
	CHECK_RC(bulk_addr_parse(text, &a), 0);
	CHECK_RC(bulk_addr_endpoint_create(T.dom[1], &a, &addr1->ep), 0);
	CHECK_RC(bulk_addr_endpoint_remote(T.dom[0], &a, &addr1->rep), 0);
	CHECK_RC(stream_connect(addr1, 1), 0);
	CHECK_EQ_INT(port_stats(0).peers, 3); /* P1 had its entry */
	s[0] = addr1;
	run(s, 1, count);
	printf("addr: S bound to %s over its multi-peer port, %" PRIu64 " verified buffers\n", text,
	       count);
	/* Its own address is no peer of it. */
	snprintf(text, sizeof(text), "dpdk:ip=%u.%u.%u.%u,ep=21", T.ip[0] >> 24,
		 (T.ip[0] >> 16) & 0xff, (T.ip[0] >> 8) & 0xff, T.ip[0] & 0xff);
	CHECK_RC(bulk_addr_parse(text, &a), 0);
	CHECK_RC(bulk_addr_endpoint_remote(T.dom[0], &a, &e), -EHOSTUNREACH);
	CHECK_RC(bulk_dpdk_port_addr_unregister(T.link[1]), 0);
	CHECK_RC(bulk_dpdk_port_addr_unregister(T.link[0]), 0);

	/* P1 registers a multi-peer port first, then its port to S: an address
	 * at S resolves through the port whose fixed peer S is. */
	{
		struct bulk_dpdk_port *idle = open_idle_multi();

		CHECK_RC(bulk_dpdk_port_addr_register(idle), 0);
		CHECK_RC(bulk_dpdk_port_addr_register(T.link[1]), 0);
		addr3 = stream_new("addr_p1_s", 1, 0);
		addr3->by_addr = true;
		snprintf(text, sizeof(text), "dpdk:ip=%u.%u.%u.%u,ep=17", T.ip[0] >> 24,
			 (T.ip[0] >> 16) & 0xff, (T.ip[0] >> 8) & 0xff, T.ip[0] & 0xff);
		CHECK_RC(bulk_addr_parse(text, &a), 0);
		CHECK_RC(bulk_dpdk_port_addr_register(T.link[0]), 0);
		CHECK_RC(bulk_addr_endpoint_create(T.dom[0], &a, &addr3->ep), 0);
		CHECK_RC(bulk_addr_endpoint_remote(T.dom[1], &a, &addr3->rep), 0);
		CHECK_RC(stream_connect(addr3, 0), 0);
		s[0] = addr3;
		run(s, 1, count);
		printf("addr: P1 resolved %s through its fixed port, not its multi-peer one, "
		       "%" PRIu64 " verified buffers\n",
		       text, count);
		CHECK_RC(bulk_dpdk_port_addr_unregister(T.link[0]), 0);
		CHECK_RC(bulk_dpdk_port_addr_unregister(T.link[1]), 0);
		CHECK_RC(bulk_dpdk_port_addr_unregister(idle), 0);
		CHECK_EQ_INT(port_stats(0).peers, 3);
		CHECK_RC(bulk_dpdk_port_close(idle), 0);
	}

	/* In one process a binder may name the creator's endpoint itself. */
	direct_down3 = stream_new("direct_down3", 0, 3);
	direct_down3->direct = true;
	CHECK_RC(bulk_dpdk_endpoint_create(T.dom[3], 22, &direct_down3->ep), 0);
	direct_down3->rep = direct_down3->ep;
	CHECK_RC(stream_connect(direct_down3, 3), 0);
	direct_up3 = stream_new("direct_up3", 3, 0);
	direct_up3->direct = true;
	CHECK_RC(bulk_dpdk_endpoint_create(T.dom[0], 16, &direct_up3->ep), 0);
	direct_up3->rep = direct_up3->ep;
	CHECK_RC(stream_connect(direct_up3, 0), 0);
	CHECK_EQ_INT(port_stats(0).peers, 3);
	s[0] = direct_down3;
	run(s, 1, count);
	s[0] = direct_up3;
	run(s, 1, count);
	printf("direct: S -> P3 and P3 -> S bound straight to the creators' endpoints, %" PRIu64
	       " verified buffers each\n",
	       count);
}

static void
teardown(void)
{
	/* The live streams close in order, from their sources. */
	for (unsigned k = 0; k < T.nst; k++) {
		struct stream *s = &T.st[k];

		if (s->src_st == 2 || s->snk_st == 2 || s->csrc == NULL || s->csnk == NULL)
			continue;
		stream_close(s);
	}
	/* P2 comes back: S no longer knows its channels (a reset), or its own
	 * silence timer closes them. */
	T.dead[2] = false;
	for (double t0 = now_s(); !(up[2]->src.closed && down[2]->snk.closed);) {
		step();
		CHECK(now_s() - t0 < 60);
	}
	CHECK_EQ_INT(up[2]->src.teardown_reason, -BULK_E_PEER_GONE);
	xfer_put_home(&up[2]->src);
	CHECK_EQ_INT(up[2]->src.errors, 0);
	CHECK_RC(bulk_channel_free(up[2]->csrc), 0);
	CHECK_RC(bulk_channel_free(down[2]->csnk), 0);
	up[2]->csrc = down[2]->csnk = NULL;
	settle();
	for (unsigned k = 0; k < T.nst; k++)
		stream_fini(&T.st[k]);
	CHECK_EQ_INT(port_stats(0).peers, 0);
	for (int i = 0; i < NST; i++) {
		print_port(i);
		CHECK_RC(bulk_dpdk_port_close(T.link[i]), 0);
	}
	for (int i = 0; i < NST; i++)
		CHECK_RC(bulk_domain_destroy(T.dom[i]), 0);
	printf("switch: %" PRIu64 " frames, %" PRIu64 " dropped at the dead peer\n", T.switched,
	       T.dropped_dead);
}

int
main(int argc, char **argv)
{
	uint64_t count;

	setvbuf(stdout, NULL, _IOLBF, 0);
	T.seed = dt_seed(argc > 1 ? argv[1] : NULL);
	count = argc > 2 ? strtoull(argv[2], NULL, 0) : 400;
	T.timeout_ms = getenv("BULK_DPDK_PEER_TIMEOUT_MS") != NULL
			       ? (uint32_t)strtoul(getenv("BULK_DPDK_PEER_TIMEOUT_MS"), NULL, 0)
			       : 2000;
	CHECK(count >= 16);
	printf("test_dpdk_multipeer: seed %" PRIu64 ", %" PRIu64 " buffers per stream and phase\n",
	       T.seed, count);
	dt_eal_init(argv[0], "1024");
	topology();
	phase_serve(count);
	phase_bound();
	phase_spoof(count / 4);
	phase_death(count);
	phase_reuse(count);
	phase_addr(count / 4);
	teardown();
	rte_eal_cleanup();
	return CHECK_DONE("test_dpdk_multipeer");
}
