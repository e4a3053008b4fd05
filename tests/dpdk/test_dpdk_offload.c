/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checksum offload of the dpdk backend (bulk_dpdk_port_params.csum_offload):
 * the port's IPv4 and UDP checksum offloads where it has them and may use
 * them, our own sums otherwise or when told to; each path carries verified
 * data, and a frame with a bad checksum is dropped and counted whoever
 * judged it.
 *
 *   test_dpdk_offload tap [SEED [COUNT [MIN [MAX]]]]
 *     Two net_tap ports in one process, in a network namespace of its own
 *     (unshare(CLONE_NEWNET): it ends with the process, taps and bridge
 *     with it), their kernel interfaces joined by a bridge: what port A
 *     writes into its tap comes out of B's, and back. net_tap offers the
 *     four checksum offloads (the PMD computes and checks them itself, in
 *     software). One body (run_cfg()) over the table tap_cfgs, each a
 *     verified stream of COUNT buffers from A to B (xfer.h) over the same
 *     two ports:
 *       offload   libbulk configures both ports, csum AUTO: the offloads
 *                 are enabled and used both ways; data leaves as zero-copy
 *                 chains whose header mbuf carries the flags
 *       software  libbulk configures both ports, csum SOFTWARE: nothing
 *                 enabled, everything summed by us
 *       app       the test (the application) sets both ports up: A with
 *                 the checksum offloads enabled, copy mode; B without.
 *                 AUTO must take A's and must not assume B's. B's own sums
 *                 check the checksums A's port computed, A's port checks
 *                 B's sums.
 *   test_dpdk_offload ring [SEED [COUNT [MIN [MAX]]]]
 *     The same body over a net_ring pair (no offloads: AUTO is software),
 *     then what bulk_dpdk_port_open() decides: OFFLOAD on a port without
 *     the offloads is -ENOTSUP, a value outside the enum -EINVAL, and an
 *     application's port gets no offload it did not enable.
 *
 * In every run a transmit callback on both ports reads every bulk frame
 * they send. With the offload: the fields the offload API asks for on the
 * first segment (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
 * RTE_MBUF_F_TX_UDP_CKSUM, l2_len 14, l3_len 20), IPv4 checksum 0 and the
 * pseudo-header sum (rte_ipv4_phdr_cksum()) in the UDP checksum field.
 * Without: none of these flags, and checksums that verify (summed here a
 * byte at a time over the chain: an independent reference). The port
 * counters must name the path taken (csum_offloaded, tx_csum_*, rx_csum_*:
 * each received frame judged by exactly one), and no frame may be dropped
 * by a checksum during the stream. Then the test writes three frames for B's
 * channel through A's queue, built by hand: a wrong UDP checksum, a zero
 * one, a wrong IPv4 header checksum. All three are dropped and counted
 * (rx_csum_drops; the two that reach the UDP check in the channel's
 * csum_drops): by the port's verdict (RTE_MBUF_F_RX_L4_CKSUM_BAD,
 * RTE_MBUF_F_RX_IP_CKSUM_BAD) where B takes its verdicts, by our sums
 * otherwise. net_tap marks a zero UDP checksum RTE_MBUF_F_RX_L4_CKSUM_NONE:
 * ours to judge even with the offload, and refused. Last, a second channel
 * with a 15-byte meta moves 24 verified buffers: with the offload and zero
 * copy the last frame of each message (its header segment ends at an odd
 * datagram offset, which DPDK 22.11's net_tap would sum wrong) is summed by
 * us, and only that frame (tx_csum_sw, and the callback sees it built so).
 *
 * tap needs root (the namespace, the taps) and /dev/net/tun, else 77.
 * Seed: argv, else $BULK_SEED, else the clock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* unshare() */
#endif
/* rte_eth_dev_conf_get(): experimental in 22.11. */
#define ALLOW_EXPERIMENTAL_API 1

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <net/if.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_arp.h>
#include <linux/sockios.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <bulk/bulk_alloc.h>

#include "dpdk_test.h"
#include "dpdk_wire.h"
#include "xfer.h"

#define XFER_POOL 64
#define TAP_A "bofl0"
#define TAP_B "bofl1"
#define BRIDGE "boflbr"

/* ------------------------------------------------------------ configurations */

struct side_cfg {
	bool app;                  /* the test sets the port up, not libbulk */
	bool app_csum;             /* ... with the checksum offloads enabled */
	enum bulk_dpdk_csum csum;
	enum bulk_dpdk_tx_mode tx_mode;
	uint64_t want;             /* csum_offloaded the port must settle on */
	bool want_zc;              /* data frames leave as chains (the sender) */
};

struct cfg {
	const char *name;
	struct side_cfg a, b;      /* A sends the data, B receives it */
};

#define OFF_BOTH (BULK_DPDK_CSUM_OFFLOADED_TX | BULK_DPDK_CSUM_OFFLOADED_RX)

static const struct cfg tap_cfgs[] = {
	{ "offload",
	  { .csum = BULK_DPDK_CSUM_AUTO, .want = OFF_BOTH, .want_zc = true },
	  { .csum = BULK_DPDK_CSUM_AUTO, .want = OFF_BOTH } },
	{ "software",
	  { .csum = BULK_DPDK_CSUM_SOFTWARE, .want = 0, .want_zc = true },
	  { .csum = BULK_DPDK_CSUM_SOFTWARE, .want = 0 } },
	{ "app",
	  { .app = true, .app_csum = true, .tx_mode = BULK_DPDK_TX_COPY, .want = OFF_BOTH },
	  { .app = true, .app_csum = false, .want = 0 } },
};

static const struct cfg ring_cfgs[] = {
	{ "ring",
	  { .csum = BULK_DPDK_CSUM_AUTO, .want = 0, .want_zc = true },
	  { .csum = BULK_DPDK_CSUM_AUTO, .want = 0 } },
};

/* ------------------------------------------------------------ the transmit check */

/* What one port's transmit callback saw. */
struct txcheck {
	const char *name;
	bool offload;              /* expect the offload's fields */
	bool inject;               /* the test's own frames: not ours to check */
	uint64_t frames, chained, bad;
	uint64_t odd_chains;       /* offload: chains with an odd meta, summed by us */
	uint32_t peer_chan;        /* the receiver's channel id, from a stream frame */
};

/*
 * The UDP checksum of the datagram in @p m verifies: summed a byte at a
 * time over the chain, by datagram offset, with the pseudo header; a
 * reference of its own (DPDK 22.11's rte_raw_cksum_mbuf() drops carries
 * where a segment ends at an odd offset, and dpdk_csum.h is what is tested).
 */
static bool
udp_sum_ok(const struct rte_mbuf *m, const struct rte_ipv4_hdr *ip)
{
	uint32_t off = DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN, k = 0;
	uint32_t ul = rte_be_to_cpu_16(ip->total_length) - DPDK_WIRE_IP_LEN;
	uint32_t sip = rte_be_to_cpu_32(ip->src_addr), dip = rte_be_to_cpu_32(ip->dst_addr);
	uint64_t sum = (sip >> 16) + (sip & 0xffff) + (dip >> 16) + (dip & 0xffff) + IPPROTO_UDP + ul;

	for (const struct rte_mbuf *s = m; s != NULL && k < ul; s = s->next) {
		const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

		for (uint32_t i = off; i < s->data_len && k < ul; i++, k++)
			sum += k & 1 ? p[i] : (uint32_t)p[i] << 8;
		off = 0;
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return k == ul && sum == 0xffff;
}

/* As the path builds it: the offload's fields, or checksums that verify. */
static bool
frame_ok(bool offload, const struct rte_mbuf *m)
{
	const struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, const struct rte_ipv4_hdr *, DPDK_WIRE_ETH_LEN);
	const struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(
		m, const struct rte_udp_hdr *, DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);
	uint64_t fl = m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
				     RTE_MBUF_F_TX_L4_MASK);

	if (offload)
		return fl == (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM |
			      RTE_MBUF_F_TX_UDP_CKSUM) &&
		       m->l2_len == DPDK_WIRE_ETH_LEN && m->l3_len == DPDK_WIRE_IP_LEN &&
		       ip->hdr_checksum == 0 &&
		       udp->dgram_cksum == rte_ipv4_phdr_cksum(ip, m->ol_flags);
	return fl == 0 && rte_raw_cksum(ip, DPDK_WIRE_IP_LEN) == 0xffff &&
	       udp->dgram_cksum != 0 && udp_sum_ok(m, ip);
}

static uint16_t
tx_check(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n, void *arg)
{
	struct txcheck *t = arg;

	(void)port;
	(void)queue;
	for (uint16_t i = 0; i < n && !t->inject; i++) {
		const struct rte_mbuf *m = pkts[i];
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
		struct dpdk_wire_hdr h;

		bool odd, ok;

		if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
			continue; /* ARP */
		t->frames++;
		if (m->data_len < DPDK_WIRE_HDRS + sizeof(h)) {
			t->bad++;
			continue;
		}
		memcpy(&h, rte_pktmbuf_mtod_offset(m, const void *, DPDK_WIRE_HDRS), sizeof(h));
		/* A chain whose header segment ends at an odd offset is ours to
		 * sum even with the offload (some PMDs would sum it wrong). */
		odd = m->nb_segs > 1 && (h.meta_len & 1);
		ok = frame_ok(t->offload && !odd, m);
		if (!ok) {
			if (t->bad++ < 5)
				fprintf(stderr,
					"%s: frame %" PRIu64 ": ol_flags 0x%" PRIx64
					" l2_len %u l3_len %u segs %u meta_len %u: not as the %s path"
					" builds it\n",
					t->name, t->frames, m->ol_flags, (unsigned)m->l2_len,
					(unsigned)m->l3_len, (unsigned)m->nb_segs, (unsigned)h.meta_len,
					t->offload && !odd ? "offload" : "software");
			continue;
		}
		if (m->nb_segs > 1)
			t->chained++;
		if (t->offload && odd)
			t->odd_chains++;
		if (h.type >= 1 && h.type < DPDK_WT_ACK && h.chan != 0)
			t->peer_chan = rte_be_to_cpu_32(h.chan);
	}
	return n;
}

/* ------------------------------------------------------------ frames with bad checksums */

enum bad_kind { BAD_UDP, ZERO_UDP, BAD_IP, BAD_KINDS };

/* An ACK for channel @p chan of @p dip from @p sip, its checksums then spoiled as @p kind says. */
static struct rte_mbuf *
bad_frame(struct rte_mempool *mp, uint16_t from, uint16_t to, uint32_t sip, uint32_t dip,
	  uint32_t chan, enum bad_kind kind)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_udp_hdr *udp;
	struct dpdk_wire_hdr h;
	uint16_t ck;
	uint8_t *p;

	CHECK(m != NULL);
	p = (uint8_t *)rte_pktmbuf_append(m, DPDK_WIRE_HDRS + sizeof(h));
	CHECK(p != NULL);
	memset(p, 0, DPDK_WIRE_HDRS + sizeof(h));
	eth = (struct rte_ether_hdr *)p;
	CHECK_RC(rte_eth_macaddr_get(to, &eth->dst_addr), 0);
	CHECK_RC(rte_eth_macaddr_get(from, &eth->src_addr), 0);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(p + DPDK_WIRE_ETH_LEN);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(DPDK_WIRE_IP_LEN + DPDK_WIRE_UDP_LEN + sizeof(h));
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(sip);
	ip->dst_addr = rte_cpu_to_be_32(dip);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	udp = (struct rte_udp_hdr *)(p + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);
	udp->src_port = rte_cpu_to_be_16(BULK_DPDK_UDP_PORT);
	udp->dst_port = rte_cpu_to_be_16(BULK_DPDK_UDP_PORT);
	udp->dgram_len = rte_cpu_to_be_16(DPDK_WIRE_UDP_LEN + sizeof(h));
	memset(&h, 0, sizeof(h));
	h.magic = rte_cpu_to_be_32(DPDK_WIRE_MAGIC);
	h.version = DPDK_WIRE_VERSION;
	h.type = DPDK_WT_ACK;
	h.flags = DPDK_WF_ACK;
	h.chan = rte_cpu_to_be_32(chan);
	memcpy(p + DPDK_WIRE_HDRS, &h, sizeof(h));
	udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
	/* Sound before spoiling: the drop is the checksum's doing. */
	CHECK(rte_ipv4_udptcp_cksum_verify(ip, udp) == 0);
	switch (kind) {
	case BAD_UDP:
		/* Neither the right sum nor its other zero (0xffff vs 0). */
		ck = udp->dgram_cksum ^ 0x0101;
		if (ck == 0 || ck == 0xffff)
			ck = udp->dgram_cksum ^ 0x0202;
		udp->dgram_cksum = ck;
		CHECK(rte_ipv4_udptcp_cksum_verify(ip, udp) != 0);
		break;
	case ZERO_UDP:
		udp->dgram_cksum = 0;
		break;
	default:
		ip->hdr_checksum ^= 0x0101;
		CHECK(rte_raw_cksum(ip, DPDK_WIRE_IP_LEN) != 0xffff);
		break;
	}
	return m;
}

/* ------------------------------------------------------------ helpers */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	int *f = arg;

	(void)ch;
	*f = err == 0 ? 1 : err;
}

static void
poll2(struct bulk_domain *a, struct bulk_domain *b)
{
	CHECK(bulk_domain_poll(a, 0) >= 0);
	CHECK(bulk_domain_poll(b, 0) >= 0);
}

static struct bulk_dpdk_port_stats
port_stats(const struct bulk_dpdk_port *p)
{
	struct bulk_dpdk_port_stats st;

	memset(&st, 0, sizeof(st));
	CHECK_RC(bulk_dpdk_port_stats_get(p, &st), 0);
	return st;
}

static void
print_csum_stats(const char *what, const struct bulk_dpdk_port_stats *st)
{
	printf("csum %s: csum_offloaded=0x%" PRIx64 " tx_csum_offload=%" PRIu64
	       " tx_csum_sw=%" PRIu64 " rx_csum_offload=%" PRIu64 " rx_csum_sw=%" PRIu64
	       " rx_csum_drops=%" PRIu64 " rx_frames=%" PRIu64 " arp_rx=%" PRIu64
	       " rx_not_ours=%" PRIu64 " rx_malformed=%" PRIu64 "\n",
	       what, st->csum_offloaded, st->tx_csum_offload, st->tx_csum_sw, st->rx_csum_offload,
	       st->rx_csum_sw, st->rx_csum_drops, st->rx_frames, st->arp_rx, st->rx_not_ours,
	       st->rx_malformed);
}

/* The application sets its port up itself, the checksum offloads enabled or not. */
static void
app_port_setup(uint16_t port, bool csum, struct rte_mempool *mp)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;

	memset(&conf, 0, sizeof(conf));
	CHECK_RC(rte_eth_dev_info_get(port, &info), 0);
	if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if (csum) {
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	}
	CHECK_RC(rte_eth_dev_configure(port, 1, 1, &conf), 0);
	CHECK_RC(rte_eth_rx_queue_setup(port, 0, 1024, (unsigned)rte_eth_dev_socket_id(port), NULL,
					mp),
		 0);
	CHECK_RC(rte_eth_tx_queue_setup(port, 0, 1024, (unsigned)rte_eth_dev_socket_id(port), NULL),
		 0);
	CHECK_RC(rte_eth_dev_start(port), 0);
	(void)rte_eth_promiscuous_enable(port);
}

static void
open_side(struct bulk_domain *d, uint16_t port, uint32_t local, uint32_t peer,
	  const struct side_cfg *s, struct bulk_dpdk_port **out)
{
	struct bulk_dpdk_port_params pp;
	struct bulk_dpdk_port_stats st;

	memset(&pp, 0, sizeof(pp));
	pp.port_id = port;
	pp.local_ip = local;
	pp.peer_ip = peer;
	pp.configure = !s->app;
	pp.csum_offload = s->csum;
	pp.tx_mode = s->tx_mode;
	/* Generous: a slow (sanitized) run must not look like a dead peer. */
	pp.peer_timeout_ms = 30000;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, out), 0);
	st = port_stats(*out);
	CHECK_EQ_INT(st.csum_offloaded, s->want);
	if (!s->app) {
		/* What we configured: the offloads we use and no others. */
		struct rte_eth_conf dc;

		CHECK_RC(rte_eth_dev_conf_get(port, &dc), 0);
		CHECK_EQ_INT(!!(dc.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM),
			     !!(s->want & BULK_DPDK_CSUM_OFFLOADED_TX));
		CHECK_EQ_INT(!!(dc.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM),
			     !!(s->want & BULK_DPDK_CSUM_OFFLOADED_TX));
		CHECK_EQ_INT(!!(dc.rxmode.offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM),
			     !!(s->want & BULK_DPDK_CSUM_OFFLOADED_RX));
	}
}

/* The path a port's counters show: @p want of struct side_cfg, the stream over. */
static void
check_paths(const char *what, const struct bulk_dpdk_port_stats *st, uint64_t want)
{
	print_csum_stats(what, st);
	if (want & BULK_DPDK_CSUM_OFFLOADED_TX) {
		CHECK(st->tx_csum_offload > 0);
		CHECK_EQ_INT(st->tx_csum_sw, 0);
	} else {
		CHECK_EQ_INT(st->tx_csum_offload, 0);
		CHECK(st->tx_csum_sw > 0);
	}
	if (want & BULK_DPDK_CSUM_OFFLOADED_RX) {
		CHECK(st->rx_csum_offload > 0);
		CHECK_EQ_INT(st->rx_csum_sw, 0);
	} else {
		CHECK_EQ_INT(st->rx_csum_offload, 0);
		CHECK(st->rx_csum_sw > 0);
	}
	/* Every frame that got as far was judged once, by one of the two. */
	CHECK_EQ_INT(st->rx_csum_offload + st->rx_csum_sw,
		     st->rx_frames - st->arp_rx - st->rx_not_ours - st->rx_malformed);
	CHECK_EQ_INT(st->rx_csum_drops, 0);
}

/* ------------------------------------------------------------ an odd meta size */

/*
 * A second channel with a meta size of 15 bytes: the last frame of every
 * message then has a header segment that ends at an odd offset of the
 * datagram. Sent zero copy with the offload, it is the one frame we sum
 * ourselves (tx_csum_sw); its data must verify like any other.
 */
#define ODD_META 15u
#define ODD_BUFS 24u
#define ODD_MAX 40000u

struct odd {
	unsigned sent, got, back, bad;
	bool closed;
};

static uint32_t
odd_len(unsigned i)
{
	/* 1 .. ODD_MAX: one frame and many, odd and even lengths */
	return 1u + (i * 7919u + 13u) % ODD_MAX;
}

static uint8_t
odd_byte(unsigned i, uint32_t off)
{
	return (uint8_t)(i * 131u + off * 7u + (off >> 9));
}

static void
odd_meta(unsigned i, uint8_t *meta)
{
	for (unsigned j = 0; j < ODD_META; j++)
		meta[j] = (uint8_t)(i * 3u + j * 29u);
}

static void
odd_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	    const void *meta, unsigned n)
{
	struct odd *o = bulk_channel_user(ch);
	uint8_t want[ODD_META], zero[ODD_META] = { 0 };

	for (unsigned k = 0; k < n; k++) {
		const uint8_t *p = bufs[k]->addr;
		unsigned i = o->got++;
		bool ok = lens[k] == odd_len(i);

		odd_meta(i, want);
		ok = ok && memcmp((const uint8_t *)meta + (size_t)k * ODD_META, want, ODD_META) == 0;
		for (uint32_t off = 0; ok && off < lens[k]; off++)
			ok = p[off] == odd_byte(i, off);
		if (!ok && o->bad++ < 5)
			fprintf(stderr, "odd meta: buffer %u (len %u) does not verify\n", i, lens[k]);
		CHECK_RC(bulk_channel_pass(ch, bufs[k], 0, zero, BULK_CONT_NONE), 0);
	}
}

static void
odd_on_back(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	    const void *meta, unsigned n)
{
	struct odd *o = bulk_channel_user(ch);

	(void)lens;
	(void)meta;
	for (unsigned k = 0; k < n; k++) {
		o->back++;
		CHECK_RC(bulk_pool_put(bufs[k]), 0);
	}
}

static int
odd_on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	return 0;
}

static int
odd_on_pool(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	(void)pool;
	return 0;
}

static void
odd_on_teardown(struct bulk_channel *ch, int reason)
{
	struct odd *o = bulk_channel_user(ch);

	(void)reason;
	o->closed = true;
}

static const struct bulk_channel_callbacks odd_callbacks = {
	.bind_received = odd_on_bind,
	.pool_assigned = odd_on_pool,
	.move_received = odd_on_move,
	.buffer_received = odd_on_back,
	.teardown_received = odd_on_teardown,
};

/* ODD_BUFS verified buffers from A to B over a channel with ODD_META bytes of meta. */
static void
run_odd(const struct cfg *c, struct bulk_domain *da, struct bulk_domain *db,
	struct bulk_dpdk_port *la, struct bulk_dpdk_port *lb, struct txcheck *ta)
{
	struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_RX,
		.meta_size = ODD_META,
		.queue_size = 64,
	};
	struct bulk_bind_params bp = { 0 };
	struct bulk_pool_params pop = { .count = 8, .buffer_size = ODD_MAX };
	struct odd src = { 0 }, snk = { 0 };
	struct bulk_endpoint *ep;
	struct bulk_channel *ca, *cb;
	struct bulk_pool *pool;
	struct bulk_dpdk_port_stats a0, a1, b0, b1;
	struct bulk_dpdk_chan_stats xa;
	int bound = 0, assigned = 0, closed = 0;
	uint64_t odd0 = ta->odd_chains, d_sw;
	double t0;

	cp.user = &snk;
	bp.user = &src;
	a0 = port_stats(la);
	b0 = port_stats(lb);
	CHECK_RC(bulk_dpdk_endpoint_create(db, 8, &ep), 0);
	CHECK_RC(bulk_channel_create(ep, &odd_callbacks, &cp, &cb), 0);
	CHECK_RC(bulk_channel_bind(da, ep, &odd_callbacks, &bp,
				   (struct bulk_cont){ set_flag, &bound }, &ca),
		 0);
	for (t0 = now_s(); bound == 0 && now_s() - t0 < 60;)
		poll2(da, db);
	CHECK_RC(bound, 1);
	CHECK_EQ_INT(bulk_channel_meta_size(ca), ODD_META);
	CHECK_RC(bulk_pool_alloc(da, &pop, &pool), 0);
	CHECK_RC(bulk_channel_assign_pool(ca, pool, (struct bulk_cont){ set_flag, &assigned }), 0);
	for (t0 = now_s(); assigned == 0 && now_s() - t0 < 60;)
		poll2(da, db);
	CHECK_RC(assigned, 1);
	for (t0 = now_s(); src.back < ODD_BUFS && now_s() - t0 < 60;) {
		struct bulk_buffer *b;

		while (src.sent < ODD_BUFS && (b = bulk_pool_get(pool)) != NULL) {
			uint8_t meta[ODD_META];
			uint32_t len = odd_len(src.sent);
			uint8_t *p = b->addr;

			for (uint32_t off = 0; off < len; off++)
				p[off] = odd_byte(src.sent, off);
			odd_meta(src.sent, meta);
			CHECK_RC(bulk_channel_move(ca, b, len, meta, BULK_CONT_NONE), 0);
			src.sent++;
		}
		poll2(da, db);
	}
	CHECK_EQ_INT(src.back, ODD_BUFS);
	CHECK_EQ_INT(snk.got, ODD_BUFS);
	CHECK_EQ_INT(snk.bad, 0);
	for (t0 = now_s(); now_s() - t0 < 0.1;)
		poll2(da, db);
	a1 = port_stats(la);
	b1 = port_stats(lb);
	CHECK_RC(bulk_dpdk_chan_stats_get(ca, &xa), 0);
	d_sw = a1.tx_csum_sw - a0.tx_csum_sw;
	printf("odd meta (%u bytes): %u buffers verified; A summed %" PRIu64 " frames itself, "
	       "the port %" PRIu64 " (retransmits %" PRIu64 ")\n", ODD_META, snk.got, d_sw,
	       a1.tx_csum_offload - a0.tx_csum_offload, xa.retransmits);
	CHECK_EQ_INT(b1.rx_csum_drops, b0.rx_csum_drops);
	if ((c->a.want & BULK_DPDK_CSUM_OFFLOADED_TX) && c->a.want_zc) {
		/* The last frame of each message (with any resent), no other. */
		CHECK(d_sw >= ODD_BUFS && d_sw <= ODD_BUFS + xa.retransmits);
		CHECK(ta->odd_chains - odd0 == d_sw);
		CHECK(a1.tx_csum_offload > a0.tx_csum_offload);
	} else if (c->a.want & BULK_DPDK_CSUM_OFFLOADED_TX) {
		CHECK_EQ_INT(d_sw, 0); /* copy mode: one segment, the port sums */
	} else {
		CHECK(d_sw > ODD_BUFS);
	}
	CHECK_RC(bulk_channel_destroy(ca, (struct bulk_cont){ set_flag, &closed }), 0);
	for (t0 = now_s();
	     (closed == 0 || bulk_channel_state(cb) != BULK_STATE_CLOSED) && now_s() - t0 < 60;)
		poll2(da, db);
	CHECK_RC(closed, 1);
	CHECK_RC(bulk_channel_free(cb), 0);
	CHECK_RC(bulk_channel_free(ca), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	CHECK_EQ_INT(bulk_pool_free_count(pool), 8);
	CHECK_RC(bulk_pool_free(pool), 0);
}

/* ------------------------------------------------------------ the body */

static void tap_kernel_macs(void);

static void
run_cfg(const struct cfg *c, uint16_t pa, uint16_t pb, struct rte_mempool *mp, uint64_t seed,
	uint64_t count, uint32_t min, uint32_t max)
{
	struct bulk_domain *da, *db;
	struct bulk_dpdk_port *la, *lb;
	struct bulk_endpoint *ep;
	struct bulk_channel *ca = NULL, *cb = NULL;
	struct bulk_pool *pool;
	struct bulk_dpdk_port_stats sa, sb, sb0;
	struct bulk_dpdk_chan_stats xa, xb0, xb;
	struct xfer src, snk;
	struct txcheck ta = { .name = "A" }, tb = { .name = "B" };
	const struct rte_eth_rxtx_callback *cba, *cbb;
	int bound = 0, assigned = 0, closed = 0;
	uint64_t last = 0;
	double t0, tlast, t1;
	uint32_t ipa = dt_ip(9, 1), ipb = dt_ip(9, 2);

	printf("--- %s: A %s csum %d tx_mode %d, B %s csum %d\n", c->name,
	       c->a.app ? "application's port" : "configured by libbulk", (int)c->a.csum,
	       (int)c->a.tx_mode, c->b.app ? "application's port" : "configured by libbulk",
	       (int)c->b.csum);
	if (c->a.app)
		app_port_setup(pa, c->a.app_csum, mp);
	if (c->b.app)
		app_port_setup(pb, c->b.app_csum, mp);
	xfer_init(&src, "source", seed, count, min, max);
	xfer_init(&snk, "sink", seed, count, min, max);
	CHECK_RC(bulk_domain_create("A", &da), 0);
	CHECK_RC(bulk_domain_create("B", &db), 0);
	open_side(da, pa, ipa, ipb, &c->a, &la);
	open_side(db, pb, ipb, ipa, &c->b, &lb);
	tap_kernel_macs();
	ta.offload = c->a.want & BULK_DPDK_CSUM_OFFLOADED_TX;
	tb.offload = c->b.want & BULK_DPDK_CSUM_OFFLOADED_TX;
	cba = rte_eth_add_tx_callback(pa, 0, tx_check, &ta);
	cbb = rte_eth_add_tx_callback(pb, 0, tx_check, &tb);
	CHECK(cba != NULL && cbb != NULL);

	/* B creates (the sink), A binds straight to B's endpoint. */
	{
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_RX,
			.meta_size = XFER_META_SIZE,
			.queue_size = 1024,
			.user = &snk,
		};
		struct bulk_bind_params bp = { .user = &src };
		struct bulk_pool_params pop = { .count = XFER_POOL, .buffer_size = max };

		CHECK_RC(bulk_dpdk_endpoint_create(db, 7, &ep), 0);
		CHECK_RC(bulk_channel_create(ep, &xfer_callbacks, &cp, &cb), 0);
		CHECK_RC(bulk_channel_bind(da, ep, &xfer_callbacks, &bp,
					   (struct bulk_cont){ set_flag, &bound }, &ca),
			 0);
		t0 = now_s();
		while (bound == 0 && now_s() - t0 < 60)
			poll2(da, db);
		CHECK_RC(bound, 1);
		CHECK_RC(bulk_pool_alloc(da, &pop, &pool), 0);
		CHECK_RC(bulk_channel_assign_pool(ca, pool, (struct bulk_cont){ set_flag, &assigned }),
			 0);
		while (assigned == 0 && now_s() - t0 < 60)
			poll2(da, db);
		CHECK_RC(assigned, 1);
	}
	src.ch = ca;
	src.pool = pool;
	snk.ch = cb;

	t0 = tlast = now_s();
	while (!(src.next == count && src.nawy == 0 && src.stash == NULL)) {
		xfer_pump(&src);
		poll2(da, db);
		xfer_flush(&snk);
		CHECK(!src.closed && !snk.closed);
		if (src.errors || snk.errors || snk.verify_failures || snk.dups || snk.out_of_order)
			break;
		if (src.back + snk.buffers != last) {
			last = src.back + snk.buffers;
			tlast = now_s();
		} else if (now_s() - tlast > 60) {
			/* a hang detector, not a timing assertion */
			fprintf(stderr, "%s: no progress for 60 s: sent %" PRIu64 ", received %" PRIu64
				", back %" PRIu64 "\n", c->name, src.next, snk.buffers, src.back);
			sa = port_stats(la);
			sb = port_stats(lb);
			print_csum_stats("A", &sa);
			print_csum_stats("B", &sb);
			dt_print_chan_stats("A", ca);
			dt_print_chan_stats("B", cb);
			CHECK(!"stalled");
		}
	}
	t1 = now_s();
	xfer_print_result(&snk, "sink");
	xfer_print_result(&src, "source");
	CHECK_EQ_INT(snk.buffers, count);
	CHECK_EQ_INT(snk.verify_failures, 0);
	CHECK_EQ_INT(snk.dups, 0);
	CHECK_EQ_INT(snk.out_of_order, 0);
	CHECK_EQ_INT(snk.errors, 0);
	CHECK_EQ_INT(src.errors, 0);
	CHECK_EQ_INT(src.back, count);
	CHECK_EQ_INT(snk.bytes, src.bytes);
	printf("%s: %" PRIu64 " buffers, %.1f MiB in %.2f s\n", c->name, count,
	       (double)src.bytes / 1048576.0, t1 - t0);

	/* Quiet first: the acks still owed go out before the counters are read. */
	for (t1 = now_s(); now_s() - t1 < 0.2;)
		poll2(da, db);
	sa = port_stats(la);
	sb0 = port_stats(lb);
	check_paths("A", &sa, c->a.want);
	check_paths("B", &sb0, c->b.want);
	dt_print_chan_stats("A", ca);
	dt_print_chan_stats("B", cb);
	CHECK_RC(bulk_dpdk_chan_stats_get(ca, &xa), 0);
	CHECK_RC(bulk_dpdk_chan_stats_get(cb, &xb0), 0);
	CHECK_EQ_INT(xb0.csum_drops, 0);
	if (c->a.want_zc) {
		CHECK(xa.tx_zero_copy > 0);
		CHECK_EQ_INT(xa.tx_copied, 0);
		/* The chains went out with the path's fields on their header mbuf. */
		CHECK(ta.chained > 0);
	} else {
		CHECK(xa.tx_copied > 0);
		CHECK_EQ_INT(xa.tx_zero_copy, 0);
	}
	printf("tx check A: frames=%" PRIu64 " chained=%" PRIu64 " bad=%" PRIu64
	       "; B: frames=%" PRIu64 " chained=%" PRIu64 " bad=%" PRIu64 "\n",
	       ta.frames, ta.chained, ta.bad, tb.frames, tb.chained, tb.bad);
	CHECK(ta.frames > 0 && tb.frames > 0);
	CHECK_EQ_INT(ta.bad, 0);
	CHECK_EQ_INT(tb.bad, 0);
	CHECK(ta.peer_chan != 0);

	/* Three frames for B's channel with spoiled checksums, through A's queue. */
	{
		struct rte_mbuf *bad[BAD_KINDS];
		uint64_t legit, d_off, d_sw;
		uint16_t n;

		for (int k = 0; k < BAD_KINDS; k++)
			bad[k] = bad_frame(mp, pa, pb, ipa, ipb, ta.peer_chan, (enum bad_kind)k);
		ta.inject = true;
		n = rte_eth_tx_burst(pa, 0, bad, BAD_KINDS);
		ta.inject = false;
		for (uint16_t k = n; k < BAD_KINDS; k++)
			rte_pktmbuf_free(bad[k]);
		CHECK_EQ_INT(n, BAD_KINDS);
		t1 = now_s();
		do {
			poll2(da, db);
			sb = port_stats(lb);
		} while (sb.rx_csum_drops < BAD_KINDS && now_s() - t1 < 10);
		print_csum_stats("B after the bad frames", &sb);
		CHECK_EQ_INT(sb.rx_csum_drops, BAD_KINDS);
		CHECK_RC(bulk_dpdk_chan_stats_get(cb, &xb), 0);
		/* The IPv4 one is dropped before its header is read. */
		CHECK_EQ_INT(xb.csum_drops, 2);
		legit = sb.rx_frames - sb0.rx_frames - BAD_KINDS;
		d_off = sb.rx_csum_offload - sb0.rx_csum_offload;
		d_sw = sb.rx_csum_sw - sb0.rx_csum_sw;
		if (c->b.want & BULK_DPDK_CSUM_OFFLOADED_RX) {
			/* RX_L4_CKSUM_BAD and RX_IP_CKSUM_BAD were the port's;
			 * L4_CKSUM_NONE (zero) left the UDP one to us. */
			CHECK_EQ_INT(d_off, 2 + legit);
			CHECK_EQ_INT(d_sw, 1);
		} else {
			CHECK_EQ_INT(d_off, 0);
			CHECK_EQ_INT(d_sw, BAD_KINDS + legit);
		}
	}

	run_odd(c, da, db, la, lb, &ta);
	CHECK_EQ_INT(ta.bad, 0);
	CHECK_EQ_INT(tb.bad, 0);

	CHECK_RC(bulk_channel_destroy(ca, (struct bulk_cont){ set_flag, &closed }), 0);
	for (t1 = now_s();
	     (closed == 0 || bulk_channel_state(cb) != BULK_STATE_CLOSED) && now_s() - t1 < 60;)
		poll2(da, db);
	CHECK_RC(closed, 1);
	CHECK_EQ_INT(bulk_channel_state(cb), BULK_STATE_CLOSED);
	CHECK_RC(bulk_channel_free(cb), 0);
	CHECK_RC(bulk_channel_free(ca), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	CHECK_RC(rte_eth_remove_tx_callback(pa, 0, cba), 0);
	CHECK_RC(rte_eth_remove_tx_callback(pb, 0, cbb), 0);
	/* One thread: nothing runs them any more. */
	rte_free((void *)(uintptr_t)cba);
	rte_free((void *)(uintptr_t)cbb);
	CHECK_RC(bulk_dpdk_port_close(la), 0);
	CHECK_RC(bulk_dpdk_port_close(lb), 0);
	if (c->a.app)
		CHECK_RC(rte_eth_dev_stop(pa), 0);
	if (c->b.app)
		CHECK_RC(rte_eth_dev_stop(pb), 0);
	CHECK_RC(bulk_domain_destroy(db), 0);
	CHECK_EQ_INT(bulk_pool_free_count(pool), XFER_POOL);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(da), 0);
	xfer_fini(&src);
	xfer_fini(&snk);
}

/* ------------------------------------------------------------ ring: the choices */

static void
ring_choices(struct rte_mempool *mp)
{
	struct bulk_domain *d;
	struct bulk_dpdk_port *l;
	struct bulk_dpdk_port_params pp;
	uint16_t pa, pb;

	dt_ring_pair("ofc", 1024, &pa, &pb);
	CHECK_RC(bulk_domain_create("C", &d), 0);
	memset(&pp, 0, sizeof(pp));
	pp.port_id = pa;
	pp.local_ip = dt_ip(9, 5);
	pp.peer_ip = dt_ip(9, 6);
	pp.configure = 1;
	/* net_ring offers no checksum offload: asking for it fails. */
	pp.csum_offload = BULK_DPDK_CSUM_OFFLOAD;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), -ENOTSUP);
	pp.csum_offload = (enum bulk_dpdk_csum)(BULK_DPDK_CSUM_TRUSTED_LINK + 1);
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), -EINVAL);
	/* A refused open left nothing behind: the same port opens now. */
	pp.csum_offload = BULK_DPDK_CSUM_SOFTWARE;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), 0);
	CHECK_EQ_INT(port_stats(l).csum_offloaded, 0);
	CHECK_RC(bulk_dpdk_port_close(l), 0);
	/* A trusted link (no UDP checksums) is any port's to choose. */
	pp.csum_offload = BULK_DPDK_CSUM_TRUSTED_LINK;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), 0);
	CHECK_EQ_INT(port_stats(l).csum_offloaded, BULK_DPDK_CSUM_UDP_NONE);
	CHECK_RC(bulk_dpdk_port_close(l), 0);
	/* Source port blocks: a power of two up to the limit. */
	pp.csum_offload = BULK_DPDK_CSUM_SOFTWARE;
	pp.udp_src_ports = 3;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), -EINVAL);
	pp.udp_src_ports = 2 * BULK_DPDK_UDP_SRC_PORTS_MAX;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), -EINVAL);
	pp.udp_src_ports = 1;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), 0);
	CHECK_RC(bulk_dpdk_port_close(l), 0);
	pp.udp_src_ports = 0;

	/* The application's port: set up by the test, no offloads. */
	app_port_setup(pb, false, mp);
	pp.port_id = pb;
	pp.configure = 0;
	pp.csum_offload = BULK_DPDK_CSUM_AUTO;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), 0);
	CHECK_EQ_INT(port_stats(l).csum_offloaded, 0);
	CHECK_RC(bulk_dpdk_port_close(l), 0);
	pp.csum_offload = BULK_DPDK_CSUM_OFFLOAD;
	CHECK_RC(bulk_dpdk_port_open(d, &pp, &l), -ENOTSUP);
	CHECK_RC(rte_eth_dev_stop(pb), 0);
	CHECK_RC(bulk_domain_destroy(d), 0);
	printf("choices: AUTO on net_ring is software; OFFLOAD -ENOTSUP; a bad value -EINVAL\n");
}

/* ------------------------------------------------------------ tap: the namespace */

static void
write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return; /* no IPv6 here at all: nothing to silence */
	if (write(fd, s, strlen(s)) < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	close(fd);
}

/* A network namespace of our own, gone with the process (and all in it). */
static void
netns_enter(void)
{
	if (geteuid() != 0)
		CHECK_SKIP("not root: a network namespace and taps need it");
	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		CHECK_SKIP("no /dev/net/tun: %s", strerror(errno));
	if (unshare(CLONE_NEWNET) != 0)
		CHECK_SKIP("unshare(CLONE_NEWNET): %s", strerror(errno));
	/* No IPv6 on the interfaces to come: no ND or MLD frames. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	/* With br_netfilter loaded the bridge would check IPv4 headers and
	 * drop the test's bad one before B saw it: a wire, not a router. */
	write_file("/proc/sys/net/bridge/bridge-nf-call-iptables", "0");
	write_file("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0");
	write_file("/proc/sys/net/bridge/bridge-nf-call-arptables", "0");
}

static bool on_taps;

/*
 * net_tap gives its kernel interface the port's own MAC, again at every
 * rte_eth_dev_start(): the bridge would take the ports' frames for its own
 * (dropping what comes from "itself", keeping what is sent to it). Once the
 * ports are started, the kernel sides get MACs of their own, and the
 * bridge forwards between the ports' MACs as a switch would.
 */
static void
tap_kernel_macs(void)
{
	static const uint8_t mac[6] = { 0x02, 0x00, 0xc6, 0x12, 0x09, 0x00 };
	const char *taps[2] = { TAP_A, TAP_B };
	int s;

	if (!on_taps)
		return;
	s = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	for (int i = 0; i < 2; i++) {
		struct ifreq ifr;

		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", taps[i]);
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, mac, sizeof(mac));
		ifr.ifr_hwaddr.sa_data[5] = (char)(0x10 + i);
		if (ioctl(s, SIOCSIFHWADDR, &ifr) != 0) {
			fprintf(stderr, "SIOCSIFHWADDR %s: %s\n", taps[i], strerror(errno));
			CHECK(!"kernel-side MAC");
		}
	}
	close(s);
}

/* Join the two taps' kernel interfaces with a bridge, and bring it up. */
static void
bridge_taps(void)
{
	int s = socket(AF_LOCAL, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	const char *taps[2] = { TAP_A, TAP_B };
	struct ifreq ifr;

	CHECK(s >= 0);
	if (ioctl(s, SIOCBRADDBR, BRIDGE) != 0)
		CHECK_SKIP("no bridge in this kernel: SIOCBRADDBR: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		memset(&ifr, 0, sizeof(ifr));
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", BRIDGE);
		ifr.ifr_ifindex = (int)if_nametoindex(taps[i]);
		CHECK(ifr.ifr_ifindex > 0);
		if (ioctl(s, SIOCBRADDIF, &ifr) != 0) {
			fprintf(stderr, "SIOCBRADDIF %s: %s\n", taps[i], strerror(errno));
			CHECK(!"bridge port");
		}
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", BRIDGE);
	CHECK(ioctl(s, SIOCGIFFLAGS, &ifr) == 0);
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0);
	close(s);
}

static void
tap_eal_init(const char *prog)
{
	char *args[] = {
		(char *)prog, (char *)"--no-huge", (char *)"--no-shconf", (char *)"-m",
		(char *)"1024", (char *)"--no-pci", (char *)"-l", (char *)"0",
		(char *)"--vdev=net_tap0,iface=" TAP_A, (char *)"--vdev=net_tap1,iface=" TAP_B,
		/* This kernel may lack the multiq qdisc: net_tap's rte_flow only. */
		(char *)"--log-level=lib.eal:error", (char *)"--log-level=pmd.net.tap:critical",
		NULL,
	};
	int n = (int)(sizeof(args) / sizeof(args[0])) - 1;

	printf("EAL:");
	for (int i = 1; i < n; i++)
		printf(" %s", args[i]);
	printf("\n");
	if (rte_eal_init(n, args) < 0) {
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		CHECK(!"EAL with two net_tap ports");
	}
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	uint64_t seed = dt_seed(argc > 2 ? argv[2] : NULL);
	uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 0) : 300;
	uint32_t min = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 64;
	uint32_t max = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 0) : 262144;
	const struct cfg *cfgs;
	size_t ncfgs;
	struct rte_mempool *mp;
	uint16_t pa, pb;
	bool tap = strcmp(mode, "tap") == 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!tap && strcmp(mode, "ring") != 0) {
		fprintf(stderr, "usage: %s tap|ring [SEED [COUNT [MIN [MAX]]]]\n", argv[0]);
		return 2;
	}
	CHECK(count > 0 && min >= 1 && min <= max);
	printf("test_dpdk_offload %s: seed %" PRIu64 ", %" PRIu64 " buffers of %u..%u bytes\n",
	       mode, seed, count, min, max);
	if (tap) {
		netns_enter();
		tap_eal_init(argv[0]);
		CHECK_RC(rte_eth_dev_get_port_by_name("net_tap0", &pa), 0);
		CHECK_RC(rte_eth_dev_get_port_by_name("net_tap1", &pb), 0);
		bridge_taps();
		on_taps = true;
		cfgs = tap_cfgs;
		ncfgs = sizeof(tap_cfgs) / sizeof(tap_cfgs[0]);
	} else {
		dt_eal_init(argv[0], "1024");
		dt_ring_pair("ofl", 8192, &pa, &pb);
		cfgs = ring_cfgs;
		ncfgs = sizeof(ring_cfgs) / sizeof(ring_cfgs[0]);
	}
	/* The application's receive mbufs, and the test's own frames. */
	mp = rte_pktmbuf_pool_create("ofl_app", 4095, 256, 0, RTE_PKTMBUF_HEADROOM + 2048,
				     SOCKET_ID_ANY);
	CHECK(mp != NULL);
	for (size_t i = 0; i < ncfgs; i++)
		run_cfg(&cfgs[i], pa, pb, mp, seed + i, count, min, max);
	if (!tap)
		ring_choices(mp);
	rte_eal_cleanup();
	return CHECK_DONE(tap ? "test_dpdk_offload tap" : "test_dpdk_offload ring");
}
