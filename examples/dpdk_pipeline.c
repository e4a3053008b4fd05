/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libbulk inside a DPDK application's own packet pipeline (the mbuf
 * bridge, include/bulk/bulk_dpdk.h).
 *
 * The application owns everything: it calls rte_eal_init(), sets up its
 * two ports (a0, a1) with its own mbuf pool, and runs an l2fwd-style loop
 * that forwards every frame between them. On a0's one queue it also
 * carries a libbulk channel: each burst it reads from a0 goes through
 * bulk_dpdk_port_rx_burst(), which keeps libbulk's frames and gives the
 * rest back to be forwarded; libbulk's own frames leave on a0's queue when
 * the loop calls bulk_dpdk_port_flush(). Every buffer that arrives over
 * the channel is checked, then handed to the pipeline's next stage as an
 * mbuf chain pointing into the buffer itself (bulk_dpdk_buffer_to_mbuf(),
 * no copy) through a software ring; when that stage frees the chain, the
 * buffer comes back to the application, which passes it home.
 *
 * The other end of both ports is the "world" (w0, w1), in the same
 * process and thread to keep the example one program: it sends numbered
 * frames into w0 and w1 for the loop to forward (and checks each arrives,
 * in order, on the other side), and it is the libbulk peer on w0, moving
 * filled buffers to the application over its own bridged queue, whose
 * frames leave through a transmit callback (params.tx_fn) instead.
 *
 * The ports are net_ring pairs the application makes itself
 * (rte_eth_from_rings()), so no NIC, hugepage or privilege is needed:
 *
 *   dpdk_pipeline [EAL ARGS] [-- FRAMES BUFFERS]
 *   e.g. dpdk_pipeline --no-huge --no-shconf -m 256 --no-pci -l 0 -- 20000 200
 *
 * It prints one line per side and exits 0 only when every frame was
 * forwarded and every buffer arrived intact (verify_failures=0) and came
 * back; 77 when EAL cannot start here without privileges.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_dpdk.h>

#define BURST 32
#define RING_SIZE 1024
#define NBUF 16                 /* buffers of the world's pool */
#define BUFSZ (256u * 1024u)
#define EP_ID 9
#define TEST_ETHERTYPE 0x88B5   /* IEEE local experimental: the forwarded frames */
#define FRAME_MAGIC 0x504c4e46u /* "PLNF" */

#define CHECK(call)                                                                        \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ < 0) {                                                             \
			fprintf(stderr, "dpdk_pipeline: %s: %s\n", #call, bulk_strerror(rc_)); \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

/* Meta of each moved buffer. */
struct msg_meta {
	uint64_t seq;
	uint32_t len;
	uint32_t rsvd;
};

/* Payload of a forwarded test frame (after the Ethernet header). */
struct test_frame {
	uint32_t magic;
	uint32_t dir;   /* 0: entered at w0 (a0 -> a1), 1: entered at w1 */
	uint64_t seq;
};

static struct rte_mempool *app_pool;
static uint16_t a0, a1, w0, w1;

/* ------------------------------------------------------------ helpers */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint8_t
pattern(uint64_t seq, uint32_t i)
{
	return (uint8_t)(seq * 131u + i * 7u + (i >> 9));
}

static uint32_t
msg_len(uint64_t seq)
{
	return 1u + (uint32_t)((seq * 7919u + 12345u) % BUFSZ);
}

/* Two connected net_ring ports: what @p a sends @p b receives, and back. */
static void
ring_pair(const char *name, uint16_t *a, uint16_t *b)
{
	char n1[32], n2[32], pa[32], pb[32];
	struct rte_ring *ab, *ba;
	int ia, ib;

	snprintf(n1, sizeof(n1), "%s_ab", name);
	snprintf(n2, sizeof(n2), "%s_ba", name);
	snprintf(pa, sizeof(pa), "%s_a", name);
	snprintf(pb, sizeof(pb), "%s_b", name);
	ab = rte_ring_create(n1, RING_SIZE, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	ba = rte_ring_create(n2, RING_SIZE, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ab == NULL || ba == NULL) {
		fprintf(stderr, "dpdk_pipeline: rte_ring_create: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	ia = rte_eth_from_rings(pa, &ba, 1, &ab, 1, SOCKET_ID_ANY);
	ib = rte_eth_from_rings(pb, &ab, 1, &ba, 1, SOCKET_ID_ANY);
	if (ia < 0 || ib < 0) {
		fprintf(stderr, "dpdk_pipeline: rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
		exit(1);
	}
	*a = (uint16_t)ia;
	*b = (uint16_t)ib;
}

/* The application's port set-up: one rx and one tx queue, its own pool. */
static void
port_setup(uint16_t port)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	CHECK(rte_eth_dev_configure(port, 1, 1, &conf));
	CHECK(rte_eth_rx_queue_setup(port, 0, RING_SIZE, SOCKET_ID_ANY, NULL, app_pool));
	CHECK(rte_eth_tx_queue_setup(port, 0, RING_SIZE, SOCKET_ID_ANY, NULL));
	CHECK(rte_eth_dev_start(port));
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	CHECK(err);
	*(bool *)arg = true;
}

/* ------------------------------------------------------------ the application */

static struct {
	struct bulk_domain *d;
	struct bulk_dpdk_port *link;   /* libbulk on a0's queue 0 */
	struct bulk_channel *ch;
	struct rte_ring *stage;        /* to the pipeline's next stage */
	struct bulk_buffer *home[NBUF]; /* lent buffers back from the stage */
	unsigned nhome;
	uint64_t fwd[2], fwd_drops;    /* frames forwarded a0->a1, a1->a0 */
	uint64_t buffers, bytes, verify_failures, out_of_order, lent, staged, passed;
	uint64_t next_seq;
} app;

/* The stage freed the last mbuf of a lent buffer: it is ours again. */
static void
app_lend_done(void *arg, struct bulk_buffer *buf)
{
	(void)arg;
	/* This stage runs in the port's thread; another thread would queue
	 * the buffer for it instead (an rte_ring). */
	app.home[app.nhome++] = buf;
}

static void
app_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	 const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned k = 0; k < n; k++) {
		struct msg_meta mm;
		const uint8_t *p = bufs[k]->addr;
		struct rte_mbuf *m;

		memcpy(&mm, (const uint8_t *)meta + k * sizeof(mm), sizeof(mm));
		if (mm.seq != app.next_seq)
			app.out_of_order++;
		app.next_seq = mm.seq + 1;
		if (mm.len != lens[k] || lens[k] != msg_len(mm.seq)) {
			app.verify_failures++;
		} else {
			for (uint32_t i = 0; i < lens[k]; i++)
				if (p[i] != pattern(mm.seq, i)) {
					app.verify_failures++;
					break;
				}
		}
		app.buffers++;
		app.bytes += lens[k];
		/* On to the next stage as mbufs that point into the buffer: it
		 * is lent until app_lend_done(). */
		CHECK(bulk_dpdk_buffer_to_mbuf(app.link, bufs[k], 0, lens[k], app_lend_done, NULL,
					       &m));
		app.lent++;
		/* The sequence number travels in the mbuf's metadata. */
		m->hash.usr = (uint32_t)mm.seq;
		if (rte_ring_enqueue(app.stage, m) != 0) {
			fprintf(stderr, "dpdk_pipeline: stage ring full\n");
			exit(1);
		}
	}
}

/* The next stage: reads each chain segment by segment, then frees it. */
static void
app_stage(void)
{
	void *objs[BURST];
	unsigned n = rte_ring_dequeue_burst(app.stage, objs, BURST, NULL);

	for (unsigned k = 0; k < n; k++) {
		struct rte_mbuf *m = objs[k];
		uint64_t seq = m->hash.usr;
		uint32_t off = 0;

		for (struct rte_mbuf *s = m; s != NULL; s = s->next) {
			const uint8_t *p = rte_pktmbuf_mtod(s, const uint8_t *);

			for (uint32_t i = 0; i < s->data_len; i++)
				if (p[i] != pattern(seq, off + i)) {
					app.verify_failures++;
					break;
				}
			off += s->data_len;
		}
		if (off != m->pkt_len || off != msg_len(seq))
			app.verify_failures++;
		app.staged++;
		rte_pktmbuf_free(m);
	}
}

/* l2fwd: everything from @p in goes out of @p out with its source MAC. */
static void
app_forward(uint16_t in, uint16_t out, unsigned dir)
{
	struct rte_mbuf *pkts[BURST];
	struct rte_ether_addr out_mac;
	uint16_t n, sent;

	rte_eth_macaddr_get(out, &out_mac);
	do {
		n = rte_eth_rx_burst(in, 0, pkts, BURST);
		uint16_t got = n;

		/* Our queue carries libbulk too: it keeps its own frames. */
		if (in == a0) {
			int k = bulk_dpdk_port_rx_burst(app.link, pkts, n, pkts);

			CHECK(k);
			n = (uint16_t)k;
		}
		for (uint16_t i = 0; i < n; i++) {
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);

			rte_ether_addr_copy(&out_mac, &eth->src_addr);
		}
		sent = rte_eth_tx_burst(out, 0, pkts, n);
		app.fwd[dir] += sent;
		app.fwd_drops += n - sent;
		for (uint16_t i = sent; i < n; i++)
			rte_pktmbuf_free(pkts[i]);
		n = got;
	} while (n == BURST);
}

static void
app_loop_once(void)
{
	app_forward(a0, a1, 0);
	app_forward(a1, a0, 1);
	CHECK(bulk_domain_poll(app.d, 0));
	app_stage();
	/* Buffers the stage gave back go home to their sender. */
	for (unsigned i = 0; i < app.nhome; i++) {
		struct msg_meta none = { 0 };

		CHECK(bulk_channel_pass(app.ch, app.home[i], 0, &none, BULK_CONT_NONE));
		app.passed++;
	}
	app.nhome = 0;
	/* libbulk's frames leave on our queue now, after our own. */
	CHECK(bulk_dpdk_port_flush(app.link));
}

/* ------------------------------------------------------------ the world */

static struct {
	struct bulk_domain *d;
	struct bulk_dpdk_port *link;   /* the libbulk peer on w0 */
	struct bulk_channel *ch;
	struct bulk_pool *pool;
	struct bulk_buffer *stash;
	uint64_t next, back, limit;
	uint64_t gen[2], got[2], bad_frames, other_frames, tx_cb_frames;
	uint64_t frames;
	bool ready;                    /* the pool is assigned: moves may start */
} world;

/* The world's libbulk frames leave through this (params.tx_fn). */
static uint16_t
world_tx(void *arg, struct rte_mbuf **pkts, uint16_t n)
{
	uint16_t sent = rte_eth_tx_burst(*(uint16_t *)arg, 0, pkts, n);

	world.tx_cb_frames += sent;
	return sent;
}

static void
world_back(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	   const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	for (unsigned k = 0; k < n; k++)
		CHECK(bulk_pool_put(bufs[k]));
	world.back += n;
}

static void
world_pump(void)
{
	while (world.ready && world.next < world.limit) {
		struct bulk_buffer *b = world.stash;
		struct msg_meta mm = { .seq = world.next, .len = msg_len(world.next) };
		int rc;

		if (b == NULL) {
			b = bulk_pool_get(world.pool);
			if (b == NULL)
				return;
			for (uint32_t i = 0; i < mm.len; i++)
				((uint8_t *)b->addr)[i] = pattern(mm.seq, i);
		}
		rc = bulk_channel_move(world.ch, b, mm.len, &mm, BULK_CONT_NONE);
		if (rc == -ENOBUFS) {
			world.stash = b;
			return;
		}
		CHECK(rc);
		world.stash = NULL;
		world.next++;
	}
}

static void
world_gen(uint16_t port, unsigned dir)
{
	struct rte_mbuf *pkts[BURST];
	unsigned n = 0;
	uint16_t sent;

	while (n < BURST && world.gen[dir] + n < world.frames) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(app_pool);
		struct rte_ether_hdr *eth;
		struct test_frame tf = { FRAME_MAGIC, dir, world.gen[dir] + n };
		char *p;

		if (m == NULL)
			break;
		p = rte_pktmbuf_append(m, 64);
		if (p == NULL) {
			rte_pktmbuf_free(m);
			break;
		}
		memset(p, 0, 64);
		eth = (struct rte_ether_hdr *)p;
		memset(&eth->dst_addr, 0xff, sizeof(eth->dst_addr));
		rte_eth_macaddr_get(port, &eth->src_addr);
		eth->ether_type = rte_cpu_to_be_16(TEST_ETHERTYPE);
		memcpy(eth + 1, &tf, sizeof(tf));
		pkts[n++] = m;
	}
	sent = rte_eth_tx_burst(port, 0, pkts, (uint16_t)n);
	world.gen[dir] += sent;
	for (unsigned i = sent; i < n; i++)
		rte_pktmbuf_free(pkts[i]);
}

/* Forwarded frames arrive at @p port, having entered at the other one. */
static void
world_check(struct rte_mbuf **pkts, uint16_t n, unsigned dir)
{
	for (uint16_t i = 0; i < n; i++) {
		const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(pkts[i], struct rte_ether_hdr *);
		struct test_frame tf;

		if (eth->ether_type != rte_cpu_to_be_16(TEST_ETHERTYPE)) {
			world.other_frames++; /* e.g. an ARP request l2fwd flooded */
		} else {
			memcpy(&tf, eth + 1, sizeof(tf));
			if (tf.magic != FRAME_MAGIC || tf.dir != dir || tf.seq != world.got[dir])
				world.bad_frames++;
			world.got[dir]++;
		}
		rte_pktmbuf_free(pkts[i]);
	}
}

static void
world_loop_once(void)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n;
	int k;

	world_gen(w0, 0);
	world_gen(w1, 1);
	do {
		n = rte_eth_rx_burst(w1, 0, pkts, BURST);
		world_check(pkts, n, 0);
	} while (n == BURST);
	do {
		n = rte_eth_rx_burst(w0, 0, pkts, BURST);
		k = bulk_dpdk_port_rx_burst(world.link, pkts, n, pkts);
		CHECK(k);
		world_check(pkts, (uint16_t)k, 1);
	} while (n == BURST);
	world_pump();
	CHECK(bulk_domain_poll(world.d, 0));
	CHECK(bulk_dpdk_port_flush(world.link));
}

/* ------------------------------------------------------------ main */

static void
loop_until(const bool *flag, double seconds, const char *what)
{
	double end = now() + seconds;

	while (!*flag) {
		world_loop_once();
		app_loop_once();
		if (now() > end) {
			fprintf(stderr, "dpdk_pipeline: timed out waiting for %s\n", what);
			exit(1);
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct bulk_channel_callbacks app_cbs = { .move_received = app_move };
	static const struct bulk_channel_callbacks world_cbs = { .buffer_received = world_back };
	struct bulk_dpdk_port_params pp;
	struct bulk_endpoint *ep, *rep;
	struct bulk_dpdk_port_stats ast, wst;
	bool bound = false, assigned = false, done = false, closed = false;
	uint64_t frames = 20000, buffers = 200;
	int rc, used;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* The application owns EAL. */
	used = rte_eal_init(argc, argv);
	if (used < 0) {
		fprintf(stderr, "dpdk_pipeline: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return geteuid() != 0 ? 77 : 1;
	}
	argc -= used;
	argv += used;
	if (argc > 1)
		frames = strtoull(argv[1], NULL, 0);
	if (argc > 2)
		buffers = strtoull(argv[2], NULL, 0);

	/* ... its mbufs, its ports. */
	app_pool = rte_pktmbuf_pool_create("app_mbufs", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   SOCKET_ID_ANY);
	if (app_pool == NULL) {
		fprintf(stderr, "dpdk_pipeline: mbuf pool: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	ring_pair("pl0", &a0, &w0);
	ring_pair("pl1", &a1, &w1);
	port_setup(a0);
	port_setup(a1);
	port_setup(w0);
	port_setup(w1);
	app.stage = rte_ring_create("pl_stage", 1024, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (app.stage == NULL)
		return 1;

	/* libbulk on the application's queue 0 of a0: it never polls it. */
	CHECK(bulk_domain_create("app", &app.d));
	memset(&pp, 0, sizeof(pp));
	pp.port_id = a0;
	pp.queue_id = 0;
	pp.local_ip = (198u << 24) | (18u << 16) | (7u << 8) | 1u; /* 198.18.7.1 */
	pp.peer_ip = (198u << 24) | (18u << 16) | (7u << 8) | 2u;
	pp.mbuf_pool = app_pool;    /* our headers come from the application's pool */
	pp.queue_mode = BULK_DPDK_QUEUE_APP;
	pp.peer_timeout_ms = 30000; /* a slow (sanitized) run is not a dead peer */
	CHECK(bulk_dpdk_port_open(app.d, &pp, &app.link));

	/* The world's libbulk end on w0, sending through a callback. */
	CHECK(bulk_domain_create("world", &world.d));
	pp.port_id = w0;
	pp.local_ip = (198u << 24) | (18u << 16) | (7u << 8) | 2u;
	pp.peer_ip = (198u << 24) | (18u << 16) | (7u << 8) | 1u;
	pp.tx_fn = world_tx;
	pp.tx_arg = &w0;
	CHECK(bulk_dpdk_port_open(world.d, &pp, &world.link));
	world.frames = frames;
	world.limit = buffers;

	/* The application listens; the world binds over its port. */
	{
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_RX,
			.meta_size = sizeof(struct msg_meta),
		};
		struct bulk_bind_params bp = { 0 };
		struct bulk_pool_params plp = { .count = NBUF, .buffer_size = BUFSZ };

		CHECK(bulk_dpdk_endpoint_create(app.d, EP_ID, &ep));
		CHECK(bulk_channel_create(ep, &app_cbs, &cp, &app.ch));
		CHECK(bulk_dpdk_endpoint_remote(world.link, EP_ID, &rep));
		CHECK(bulk_channel_bind(world.d, rep, &world_cbs, &bp,
					(struct bulk_cont){ set_flag, &bound }, &world.ch));
		loop_until(&bound, 30, "the bind");
		CHECK(bulk_pool_alloc(world.d, &plp, &world.pool));
		CHECK(bulk_channel_assign_pool(world.ch, world.pool,
					       (struct bulk_cont){ set_flag, &assigned }));
		loop_until(&assigned, 30, "the pool assignment");
		world.ready = true;
	}

	/* The pipeline runs until every frame was forwarded and every buffer
	 * came home. */
	{
		double end = now() + 120, t0 = now();

		while (!done) {
			world_loop_once();
			app_loop_once();
			done = world.got[0] == frames && world.got[1] == frames &&
			       world.back == buffers && app.nhome == 0;
			if (world.bad_frames || app.verify_failures || app.fwd_drops)
				break;
			if (now() > end) {
				fprintf(stderr, "dpdk_pipeline: timed out: forwarded %" PRIu64
					"/%" PRIu64 " + %" PRIu64 "/%" PRIu64 ", buffers %" PRIu64
					"/%" PRIu64 ", back %" PRIu64 "\n",
					world.got[0], frames, world.got[1], frames, app.buffers,
					buffers, world.back);
				break;
			}
		}
		printf("dpdk_pipeline: %.2f s\n", now() - t0);
	}
	CHECK(bulk_dpdk_port_stats_get(app.link, &ast));
	CHECK(bulk_dpdk_port_stats_get(world.link, &wst));
	printf("app: forwarded=%" PRIu64 "+%" PRIu64 " fwd_drops=%" PRIu64 " buffers=%" PRIu64
	       " bytes=%" PRIu64 " verify_failures=%" PRIu64 " out_of_order=%" PRIu64
	       " lent=%" PRIu64 " staged=%" PRIu64 " passed_home=%" PRIu64
	       " link: rx_frames=%" PRIu64 " tx_frames=%" PRIu64 " rx_handed_back=%" PRIu64
	       " buffers_lent=%" PRIu64 "\n",
	       app.fwd[0], app.fwd[1], app.fwd_drops, app.buffers, app.bytes, app.verify_failures,
	       app.out_of_order, app.lent, app.staged, app.passed, ast.rx_frames, ast.tx_frames,
	       ast.rx_handed_back, ast.buffers_lent);
	printf("world: sent=%" PRIu64 "+%" PRIu64 " received=%" PRIu64 "+%" PRIu64
	       " bad_frames=%" PRIu64 " other_frames=%" PRIu64 " moved=%" PRIu64 " back=%" PRIu64
	       " tx_fn_frames=%" PRIu64 " link: rx_frames=%" PRIu64 " rx_handed_back=%" PRIu64 "\n",
	       world.gen[0], world.gen[1], world.got[0], world.got[1], world.bad_frames,
	       world.other_frames, world.next, world.back, world.tx_cb_frames, wst.rx_frames,
	       wst.rx_handed_back);
	rc = done && world.bad_frames == 0 && app.verify_failures == 0 && app.out_of_order == 0 &&
			     app.buffers == buffers && app.staged == buffers &&
			     ast.buffers_lent == 0 && ast.tx_frames > 0 && world.tx_cb_frames > 0
		     ? 0
		     : 1;

	/* Teardown: the world closes its channel, then both sides go. */
	CHECK(bulk_channel_destroy(world.ch, (struct bulk_cont){ set_flag, &closed }));
	loop_until(&closed, 30, "the teardown");
	for (int i = 0; i < 1000 && bulk_channel_state(app.ch) != BULK_STATE_CLOSED; i++)
		app_loop_once(), world_loop_once();
	CHECK(bulk_channel_free(world.ch));
	CHECK(bulk_channel_free(app.ch));
	CHECK(bulk_endpoint_free(ep));
	CHECK(bulk_endpoint_free(rep));
	CHECK(bulk_dpdk_port_close(app.link));
	CHECK(bulk_dpdk_port_close(world.link));
	CHECK(bulk_domain_destroy(app.d));
	CHECK(bulk_pool_free(world.pool));
	CHECK(bulk_domain_destroy(world.d));
	rte_eth_dev_stop(a0);
	rte_eth_dev_stop(a1);
	rte_eth_dev_stop(w0);
	rte_eth_dev_stop(w1);
	rte_eal_cleanup();
	printf("dpdk_pipeline: %s\n", rc == 0 ? "PASS" : "FAIL");
	return rc;
}
