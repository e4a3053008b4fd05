/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Several queues: one ethdev port with two queues at each end carries two
 * channels, a libbulk port (link) per queue, each queue's pair of domains
 * polled by a thread of its own (one domain per core, as an RSS
 * application would run them).
 *
 * The two ethdev ports A and B are a net_ring pair with two rx and two tx
 * rings each, crossed (A's tx queue q is B's rx queue q), which the test
 * configures itself (2 rx + 2 tx queues, its own mbuf pool). Queue q of A
 * and of B each get a libbulk port (same IPv4 addresses on both queues,
 * UDP port 47000 + q, as RSS would spread channels by UDP port); B's
 * domain on queue q creates a channel on endpoint 10 + q and A's binds
 * over its queue's port; COUNT verified buffers (xfer.h) of 64 B .. 256 KiB
 * go A -> B on each queue at once. Then: both streams verified, every
 * buffer home, each queue carried its own frames (the ports' per-queue
 * counters), and no frame reached a port of the other queue
 * (rx_not_ours, rx_unknown_chan 0). In bridge mode the test also reads
 * the frames it hands over: each channel's stream frames (data, acks)
 * leave from one UDP source port of their own, the one
 * dpdk_wire_src_port() gives for the sender's port and channel id (the
 * default block of BULK_DPDK_UDP_SRC_PORTS), and the two channels' differ.
 *
 *   test_dpdk_multiqueue port|bridge [SEED [COUNT]]
 *     port:   each libbulk port polls its queue itself
 *     bridge: each thread polls its queues and hands the bursts over
 *             (BULK_DPDK_QUEUE_APP, bulk_dpdk_port_rx_burst(),
 *             bulk_dpdk_port_flush()); the application's pool of the
 *             queue is used for headers
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <bulk/bulk_alloc.h>

#include "dpdk_test.h"
#include "dpdk_wire.h"
#include "xfer.h"

#define NQ 2
#define XFER_POOL 64
#define MAXLEN (256u * 1024u)

/* A pool per queue, as DPDK applications keep one per lcore: two threads
 * on one MP/MC pool stall each other whenever one is preempted inside it. */
static struct rte_mempool *mp[NQ];
static uint16_t port_a, port_b;
static bool bridge;
/* Bridge mode, per queue (each written by its queue's thread only): the
 * source port of A's stream frames seen at B (and whether it ever
 * changed), and A's channel id as B's frames name it at A. */
static uint16_t a_sport[NQ];
static bool a_sport_changed[NQ];
static uint32_t a_chan[NQ];

/* Note where a stream frame came from (bind and reset frames leave from the port's own). */
static void
frame_note(uint16_t port, unsigned q, const struct rte_mbuf *m)
{
	uint8_t b[DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr)];
	const uint8_t *p;
	const struct rte_udp_hdr *udp;
	struct dpdk_wire_hdr h;

	if (m->pkt_len < sizeof(b))
		return;
	p = rte_pktmbuf_read(m, 0, sizeof(b), b);
	udp = (const struct rte_udp_hdr *)(p + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN);
	memcpy(&h, p + DPDK_WIRE_HDRS, sizeof(h));
	if (h.type == DPDK_WT_BIND_REQ || h.type == DPDK_WT_BIND_REPLY || h.type == DPDK_WT_RST)
		return;
	if (port == port_b) {
		if (a_sport[q] != 0 && a_sport[q] != rte_be_to_cpu_16(udp->src_port))
			a_sport_changed[q] = true;
		a_sport[q] = rte_be_to_cpu_16(udp->src_port);
	} else {
		a_chan[q] = rte_be_to_cpu_32(h.chan);
	}
}

struct qpair {
	unsigned q;
	uint64_t seed, count;
	struct bulk_domain *da, *db;
	struct bulk_dpdk_port *la, *lb;
	struct bulk_channel *ca, *cb;
	struct bulk_endpoint *ep;
	struct bulk_pool *pool;
	struct xfer src, snk;
	int rc;
};

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

/* The application's loop for one queue in bridge mode: poll, hand over. */
static void
bridge_rx(uint16_t port, unsigned q, struct bulk_dpdk_port *l)
{
	struct rte_mbuf *pkts[32];
	uint16_t n;
	int k;

	do {
		n = rte_eth_rx_burst(port, (uint16_t)q, pkts, 32);
		for (uint16_t i = 0; i < n; i++)
			frame_note(port, q, pkts[i]);
		k = bulk_dpdk_port_rx_burst(l, pkts, n, pkts);
		CHECK(k >= 0);
		/* Only libbulk's frames travel on these rings. */
		CHECK_EQ_INT(k, 0);
	} while (n == 32);
}

static void
qp_poll(struct qpair *p)
{
	if (bridge) {
		bridge_rx(port_a, p->q, p->la);
		bridge_rx(port_b, p->q, p->lb);
	}
	CHECK(bulk_domain_poll(p->da, 0) >= 0);
	CHECK(bulk_domain_poll(p->db, 0) >= 0);
	if (bridge) {
		CHECK(bulk_dpdk_port_flush(p->la) >= 0);
		CHECK(bulk_dpdk_port_flush(p->lb) >= 0);
	}
}

static void
open_port(struct bulk_domain *d, uint16_t port, unsigned q, uint32_t local, uint32_t peer,
	  struct bulk_dpdk_port **out)
{
	struct bulk_dpdk_port_params pp;

	memset(&pp, 0, sizeof(pp));
	pp.port_id = port;
	pp.queue_id = (uint16_t)q;
	pp.local_ip = local;
	pp.peer_ip = peer;
	pp.udp_port = (uint16_t)(BULK_DPDK_UDP_PORT + q);
	pp.peer_timeout_ms = 30000;
	if (bridge) {
		pp.queue_mode = BULK_DPDK_QUEUE_APP;
		pp.mbuf_pool = mp[q];
	}
	CHECK_RC(bulk_dpdk_port_open(d, &pp, out), 0);
}

/* One queue's pair, from set-up to teardown, in its own thread. */
static void *
qp_run(void *arg)
{
	struct qpair *p = arg;
	char name[16];
	int bound = 0, assigned = 0, closed = 0;
	double t0 = now_s();

	snprintf(name, sizeof(name), "A%u", p->q);
	CHECK_RC(bulk_domain_create(name, &p->da), 0);
	snprintf(name, sizeof(name), "B%u", p->q);
	CHECK_RC(bulk_domain_create(name, &p->db), 0);
	open_port(p->da, port_a, p->q, dt_ip(9, 1), dt_ip(9, 2), &p->la);
	open_port(p->db, port_b, p->q, dt_ip(9, 2), dt_ip(9, 1), &p->lb);
	xfer_init(&p->src, "source", p->seed, p->count, 64, MAXLEN);
	xfer_init(&p->snk, "sink", p->seed, p->count, 64, MAXLEN);
	{
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_RX,
			.meta_size = XFER_META_SIZE,
			.queue_size = 1024,
			.user = &p->snk,
		};
		struct bulk_bind_params bp = { .user = &p->src };
		struct bulk_endpoint *rep;

		CHECK_RC(bulk_dpdk_endpoint_create(p->db, (uint16_t)(10 + p->q), &p->ep), 0);
		CHECK_RC(bulk_channel_create(p->ep, &xfer_callbacks, &cp, &p->cb), 0);
		CHECK_RC(bulk_dpdk_endpoint_remote(p->la, (uint16_t)(10 + p->q), &rep), 0);
		CHECK_RC(bulk_channel_bind(p->da, rep, &xfer_callbacks, &bp,
					   (struct bulk_cont){ set_flag, &bound }, &p->ca), 0);
		while (bound == 0 && now_s() - t0 < 60)
			qp_poll(p);
		CHECK_RC(bound, 1);
		CHECK_RC(bulk_endpoint_free(rep), 0);
	}
	{
		struct bulk_pool_params pl = { .count = XFER_POOL, .buffer_size = MAXLEN };

		CHECK_RC(bulk_pool_alloc(p->da, &pl, &p->pool), 0);
		CHECK_RC(bulk_channel_assign_pool(p->ca, p->pool,
						  (struct bulk_cont){ set_flag, &assigned }), 0);
		while (assigned == 0 && now_s() - t0 < 60)
			qp_poll(p);
		CHECK_RC(assigned, 1);
	}
	p->src.ch = p->ca;
	p->src.pool = p->pool;
	p->snk.ch = p->cb;
	while (!(p->src.next == p->count && p->src.nawy == 0 && p->src.stash == NULL)) {
		xfer_pump(&p->src);
		qp_poll(p);
		xfer_flush(&p->snk);
		if (p->src.errors || p->snk.errors || p->snk.verify_failures || p->snk.dups ||
		    p->snk.out_of_order || p->src.closed || p->snk.closed)
			break;
		if (now_s() - t0 > 240) {
			fprintf(stderr, "queue %u: stalled: sent %" PRIu64 " received %" PRIu64 "\n",
				p->q, p->src.next, p->snk.buffers);
			break;
		}
	}
	printf("queue %u:\n", p->q);
	xfer_print_result(&p->snk, "sink");
	xfer_print_result(&p->src, "source");
	CHECK_EQ_INT(p->snk.buffers, p->count);
	CHECK_EQ_INT(p->snk.verify_failures, 0);
	CHECK_EQ_INT(p->snk.dups, 0);
	CHECK_EQ_INT(p->snk.out_of_order, 0);
	CHECK_EQ_INT(p->snk.errors, 0);
	CHECK_EQ_INT(p->src.errors, 0);
	CHECK_EQ_INT(p->src.back, p->count);
	CHECK_EQ_INT(bulk_pool_free_count(p->pool), XFER_POOL);
	CHECK_RC(bulk_channel_destroy(p->ca, (struct bulk_cont){ set_flag, &closed }), 0);
	while ((closed == 0 || bulk_channel_state(p->cb) != BULK_STATE_CLOSED) &&
	       now_s() - t0 < 300)
		qp_poll(p);
	CHECK_RC(closed, 1);
	return NULL;
}

static void
qp_fini(struct qpair *p, const struct rte_eth_stats *es)
{
	struct bulk_dpdk_port_stats sa, sb;

	CHECK_RC(bulk_dpdk_port_stats_get(p->la, &sa), 0);
	CHECK_RC(bulk_dpdk_port_stats_get(p->lb, &sb), 0);
	dt_print_chan_stats(p->q == 0 ? "A0" : "A1", p->ca);
	dt_print_chan_stats(p->q == 0 ? "B0" : "B1", p->cb);
	dt_print_port_stats(p->q == 0 ? "A0" : "A1", p->la);
	dt_print_port_stats(p->q == 0 ? "B0" : "B1", p->lb);
	/* Nothing of the other queue's link arrived here. */
	CHECK_EQ_INT(sa.rx_not_ours + sb.rx_not_ours, 0);
	CHECK_EQ_INT(sa.rx_unknown_chan + sb.rx_unknown_chan, 0);
	CHECK_EQ_INT(sa.rx_handed_back + sb.rx_handed_back, 0);
	CHECK(sb.rx_frames > p->count && sa.rx_frames > 0);
	/* Every frame of B's queue q was this link's, and only this link's. */
	CHECK_EQ_INT(es->q_ipackets[p->q], sb.rx_frames);
	CHECK_RC(bulk_channel_free(p->cb), 0);
	CHECK_RC(bulk_channel_free(p->ca), 0);
	CHECK_RC(bulk_endpoint_free(p->ep), 0);
	CHECK_RC(bulk_dpdk_port_close(p->la), 0);
	CHECK_RC(bulk_dpdk_port_close(p->lb), 0);
	CHECK_RC(bulk_domain_destroy(p->db), 0);
	CHECK_RC(bulk_pool_free(p->pool), 0);
	CHECK_RC(bulk_domain_destroy(p->da), 0);
	xfer_fini(&p->src);
	xfer_fini(&p->snk);
}

/* A and B: two queues each, A's tx queue q is B's rx queue q. */
static void
ports_setup(void)
{
	struct rte_ring *ab[NQ], *ba[NQ];
	struct rte_eth_conf conf;
	uint16_t ports[2];
	int ia, ib;

	for (unsigned q = 0; q < NQ; q++) {
		char n[32];

		snprintf(n, sizeof(n), "mq_ab%u", q);
		ab[q] = rte_ring_create(n, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(n, sizeof(n), "mq_ba%u", q);
		ba[q] = rte_ring_create(n, 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		CHECK(ab[q] != NULL && ba[q] != NULL);
	}
	ia = rte_eth_from_rings("mq_a", ba, NQ, ab, NQ, SOCKET_ID_ANY);
	ib = rte_eth_from_rings("mq_b", ab, NQ, ba, NQ, SOCKET_ID_ANY);
	CHECK(ia >= 0 && ib >= 0);
	port_a = (uint16_t)ia;
	port_b = (uint16_t)ib;
	ports[0] = port_a;
	ports[1] = port_b;
	/* The application sets its ports up: two queues each. */
	memset(&conf, 0, sizeof(conf));
	for (unsigned i = 0; i < 2; i++) {
		CHECK_RC(rte_eth_dev_configure(ports[i], NQ, NQ, &conf), 0);
		for (uint16_t q = 0; q < NQ; q++) {
			CHECK_RC(rte_eth_rx_queue_setup(ports[i], q, 4096, SOCKET_ID_ANY, NULL, mp[q]),
				 0);
			CHECK_RC(rte_eth_tx_queue_setup(ports[i], q, 4096, SOCKET_ID_ANY, NULL), 0);
		}
		CHECK_RC(rte_eth_dev_start(ports[i]), 0);
	}
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	uint64_t seed = dt_seed(argc > 2 ? argv[2] : NULL);
	uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 0) : 300;
	static struct qpair qp[NQ];
	pthread_t th[NQ];
	struct rte_eth_stats es;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "port") != 0 && strcmp(mode, "bridge") != 0) {
		fprintf(stderr, "usage: %s port|bridge [SEED [COUNT]]\n", argv[0]);
		return 2;
	}
	bridge = strcmp(mode, "bridge") == 0;
	printf("test_dpdk_multiqueue %s: seed %" PRIu64 " count %" PRIu64 "\n", mode, seed, count);
	dt_eal_init(argv[0], "1024");
	for (unsigned q = 0; q < NQ; q++) {
		char n[32];

		snprintf(n, sizeof(n), "mq_mp%u", q);
		mp[q] = rte_pktmbuf_pool_create(n, 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
						SOCKET_ID_ANY);
		CHECK(mp[q] != NULL);
	}
	ports_setup();
	for (unsigned q = 0; q < NQ; q++) {
		qp[q].q = q;
		qp[q].seed = seed + q;
		qp[q].count = count;
		CHECK_RC(pthread_create(&th[q], NULL, qp_run, &qp[q]), 0);
	}
	for (unsigned q = 0; q < NQ; q++)
		CHECK_RC(pthread_join(th[q], NULL), 0);
	/* Each queue carried its own channel's frames. */
	CHECK_RC(rte_eth_stats_get(port_b, &es), 0);
	printf("port B: q0 ipackets=%" PRIu64 " q1 ipackets=%" PRIu64 "\n", es.q_ipackets[0],
	       es.q_ipackets[1]);
	CHECK(es.q_ipackets[0] > count && es.q_ipackets[1] > count);
	/* Per-channel source ports (RSS): stable, the channel's own, distinct. */
	for (unsigned q = 0; bridge && q < NQ; q++) {
		uint16_t want = dpdk_wire_src_port((uint16_t)(BULK_DPDK_UDP_PORT + q), a_chan[q],
						   (unsigned)__builtin_ctz(BULK_DPDK_UDP_SRC_PORTS));

		printf("queue %u: A's channel %#x sends from UDP port %u (expected %u)%s\n", q,
		       a_chan[q], a_sport[q], want, a_sport_changed[q] ? ", port changed" : "");
		CHECK(a_chan[q] != 0);
		CHECK_EQ_INT(a_sport[q], want);
		CHECK(!a_sport_changed[q]);
	}
	if (bridge)
		CHECK(a_sport[0] != a_sport[1]);
	for (unsigned q = 0; q < NQ; q++)
		qp_fini(&qp[q], &es);
	rte_eth_dev_stop(port_a);
	rte_eth_dev_stop(port_b);
	rte_eal_cleanup();
	return CHECK_DONE(bridge ? "test_dpdk_multiqueue bridge" : "test_dpdk_multiqueue port");
}
