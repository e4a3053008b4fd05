/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK backend in one process over connected net_ring port pairs
 * (rte_eth_from_rings): every frame goes through the backend's whole
 * Ethernet/IPv4/UDP path, ARP included (net_ring ports have no MAC of
 * their own, so the links resolve each other).
 *
 *   test_dpdk_ring model [SEED [OPS]]
 *     The core's shared model-based body (tests/unit/model_body.c) over
 *     dpdk. Domains A, B, C (198.18.1.1/2/3) each have a link to each other
 *     domain: three ring pairs, six links. meson compiles the body for this
 *     program with bulk_domain_create/destroy renamed to the wrappers
 *     below, which open a domain's two links when the body creates it and
 *     close them before it is destroyed. Endpoints are
 *     bulk_dpdk_endpoint_create(d, unique number); the binder binds
 *     straight to the creator's endpoint (in-process bind: the backend
 *     picks the binder's link whose peer is the creator's domain).
 *
 *   test_dpdk_ring xfer [SEED [COUNT [MIN [MAX]]]]
 *     COUNT (10,000) buffers of random lengths in [MIN, MAX] (64 B .. 1 MiB)
 *     moved from domain S to domain R over one link pair, each filled
 *     from (seed, sequence number), the number in the meta; R checks
 *     content, length, order and exactly-once and passes each back
 *     (length 0) so S's pool of 64 buffers is reused. At the end every
 *     buffer is home, the channel is torn down and the stats printed.
 *     $BULK_DPDK_MTU sets the links' IP MTU (default: the port's).
 *
 * Seed: argv, else $BULK_SEED, else the clock; printed first.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bulk/bulk_alloc.h>

#include "dpdk_test.h"
#include "model_body.h"
#include "xfer.h"

/* ------------------------------------------------------------ model */

int model_domain_create(const char *name, struct bulk_domain **out);
int model_domain_destroy(struct bulk_domain *d);
int model_domain_poll(struct bulk_domain *d, unsigned budget);

#define ND 3

static struct {
	uint16_t port[ND][ND]; /* port[d][e]: d's end of the d-e ring pair */
	struct bulk_dpdk_port *link[ND][ND];
	struct bulk_domain *dom[ND];
	unsigned links_opened, links_closed;
	uint16_t next_ep;
} mw;

static void
open_link(struct bulk_domain *d, uint16_t port, uint32_t local, uint32_t peer,
	  struct bulk_dpdk_port **out)
{
	struct bulk_dpdk_port_params pp;

	memset(&pp, 0, sizeof(pp));
	pp.port_id = port;
	pp.local_ip = local;
	pp.peer_ip = peer;
	pp.configure = 1;
	/* Generous: a slow (sanitized) run must not look like a dead peer. */
	pp.peer_timeout_ms = 30000;
	if (getenv("BULK_DPDK_MTU") != NULL)
		pp.mtu = (uint16_t)strtoul(getenv("BULK_DPDK_MTU"), NULL, 0);
	CHECK_RC(bulk_dpdk_port_open(d, &pp, out), 0);
}

int
model_domain_create(const char *name, struct bulk_domain **out)
{
	int rc = bulk_domain_create(name, out);
	int d;

	if (rc != 0 || name == NULL || name[0] < 'A' || name[0] >= 'A' + ND || name[1] != '\0')
		return rc;
	d = name[0] - 'A';
	mw.dom[d] = *out;
	for (int e = 0; e < ND; e++) {
		if (e == d)
			continue;
		open_link(*out, mw.port[d][e], dt_ip(1, (unsigned)d + 1), dt_ip(1, (unsigned)e + 1),
			  &mw.link[d][e]);
		mw.links_opened++;
	}
	return 0;
}

int
model_domain_destroy(struct bulk_domain *d)
{
	for (int i = 0; i < ND; i++) {
		if (mw.dom[i] != d)
			continue;
		for (int e = 0; e < ND; e++) {
			if (mw.link[i][e] == NULL)
				continue;
			dt_print_port_stats(i == 0 ? (e == 1 ? "A->B" : "A->C")
					    : i == 1 ? (e == 0 ? "B->A" : "B->C")
						     : (e == 0 ? "C->A" : "C->B"),
					    mw.link[i][e]);
			CHECK_RC(bulk_dpdk_port_close(mw.link[i][e]), 0);
			mw.link[i][e] = NULL;
			mw.links_closed++;
		}
		mw.dom[i] = NULL;
	}
	return bulk_domain_destroy(d);
}

/*
 * The body's drain polls every domain until a round handles nothing. Over
 * the network a quiet round is not yet a settled world: the receiver acks
 * after a short delay (or after several frames), and a sender's
 * continuation fires only on that ack, in a poll that may report nothing
 * handled. So this poll (bulk_domain_poll in the body) reports one more
 * "handled" while anything happened in any domain within the last
 * quiet_us (default 300 us, $BULK_DPDK_QUIET_US), sleeping a little in
 * those idle rounds: the drain ends only after the world stayed quiet that
 * long. A settling time, not a timed assertion.
 */
static double quiet_us = 300, last_busy_us;

static double
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

int
model_domain_poll(struct bulk_domain *d, unsigned budget)
{
	int rc = bulk_domain_poll(d, budget);
	double now;

	if (rc != 0) {
		if (rc > 0)
			last_busy_us = mono_us();
		return rc;
	}
	now = mono_us();
	if (now - last_busy_us < quiet_us) {
		struct timespec ts = { 0, 20000 };

		nanosleep(&ts, NULL);
		return 1;
	}
	return 0;
}

static int
dpdk_endpoint(void *ctx, struct bulk_domain *d, struct bulk_endpoint **out)
{
	(void)ctx;
	return bulk_dpdk_endpoint_create(d, ++mw.next_ep, out);
}

static int
run_model(uint64_t seed, unsigned ops)
{
	static const struct model_backend be = {
		.name = "dpdk",
		.endpoint_create = dpdk_endpoint,
		.payload_only = 1,
	};

	if (getenv("BULK_DPDK_QUIET_US") != NULL)
		quiet_us = strtod(getenv("BULK_DPDK_QUIET_US"), NULL);
	printf("model: a drain ends after %.0f us without activity\n", quiet_us);
	dt_ring_pair("mAB", 4096, &mw.port[0][1], &mw.port[1][0]);
	dt_ring_pair("mBC", 4096, &mw.port[1][2], &mw.port[2][1]);
	dt_ring_pair("mAC", 4096, &mw.port[0][2], &mw.port[2][0]);
	model_run(&be, seed, ops);
	CHECK_EQ_INT(mw.links_opened, 6);
	CHECK_EQ_INT(mw.links_closed, 6);
	check_count += model_checks();
	return CHECK_DONE("test_dpdk_ring model");
}

/* ------------------------------------------------------------ xfer */

#define XFER_POOL 64

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds since the current idle stretch began (reset by progress). */
static double
idle_since(double *since, double now)
{
	if (*since == 0)
		*since = now;
	return now - *since;
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	int *f = arg;

	(void)ch;
	*f = err == 0 ? 1 : err;
}

/*
 * "lossy": the same transfer over a wire that loses 5%, duplicates 2% and
 * reorders 25% of the frames, each direction, seeded. The test is the wire:
 * each port's transmit ring is drained here and what survives is put on
 * the other port's receive ring. Unlike the netns test (af_xdp copies),
 * these are the sender's own zero-copy mbufs, so duplicates and held-back
 * frames still point into the sender's buffers.
 */
struct wire_dir {
	struct rte_ring *in, *out;
	struct rte_mbuf *held;
	unsigned idle;
	uint64_t frames, dropped, duplicated, reordered;
};

static struct {
	bool on;
	uint64_t rs;
	struct wire_dir dir[2];
} wire;

static double
wire_rnd(void)
{
	wire.rs ^= wire.rs << 13;
	wire.rs ^= wire.rs >> 7;
	wire.rs ^= wire.rs << 17;
	return (double)(wire.rs >> 11) * (1.0 / 9007199254740992.0);
}

static void
wire_put(struct wire_dir *w, struct rte_mbuf *m)
{
	if (rte_ring_enqueue(w->out, m) != 0)
		rte_pktmbuf_free(m); /* a full ring is one more loss */
}

static void
wire_dir_step(struct wire_dir *w)
{
	struct rte_mbuf *m[32];
	unsigned n = rte_ring_dequeue_burst(w->in, (void **)m, 32, NULL);

	/* A frame held back goes out after the next one, or when idle. */
	if (n == 0 && w->held != NULL && ++w->idle > 200) {
		wire_put(w, w->held);
		w->held = NULL;
		w->idle = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		w->frames++;
		if (wire_rnd() < 0.05) {
			rte_pktmbuf_free(m[i]);
			w->dropped++;
			continue;
		}
		if (wire_rnd() < 0.02) {
			struct rte_mbuf *c = rte_pktmbuf_clone(m[i], m[i]->pool);

			if (c != NULL) {
				wire_put(w, c);
				w->duplicated++;
			}
		}
		if (w->held == NULL && wire_rnd() < 0.25) {
			w->held = m[i];
			w->reordered++;
			continue;
		}
		wire_put(w, m[i]);
		if (w->held != NULL) {
			wire_put(w, w->held);
			w->held = NULL;
		}
	}
}

static int
wire_poll(struct bulk_domain *d)
{
	if (wire.on) {
		wire_dir_step(&wire.dir[0]);
		wire_dir_step(&wire.dir[1]);
	}
	return bulk_domain_poll(d, 0);
}

/* Ports S and R whose frames cross the impaired wire. */
static void
wire_pair(const char *name, unsigned ring_size, uint16_t *s_port, uint16_t *r_port, uint64_t seed)
{
	struct rte_ring *r[4];
	char n[64];
	int is, ir;

	for (int i = 0; i < 4; i++) {
		snprintf(n, sizeof(n), "%s_%d", name, i);
		r[i] = rte_ring_create(n, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
		CHECK(r[i] != NULL);
	}
	/* S tx -> r0 -> wire -> r1 -> R rx; R tx -> r2 -> wire -> r3 -> S rx */
	snprintf(n, sizeof(n), "%s_s", name);
	is = rte_eth_from_rings(n, &r[3], 1, &r[0], 1, SOCKET_ID_ANY);
	snprintf(n, sizeof(n), "%s_r", name);
	ir = rte_eth_from_rings(n, &r[1], 1, &r[2], 1, SOCKET_ID_ANY);
	CHECK(is >= 0 && ir >= 0);
	*s_port = (uint16_t)is;
	*r_port = (uint16_t)ir;
	wire.on = true;
	wire.rs = seed * 2654435761u + 88172645463325252ull;
	wire.dir[0] = (struct wire_dir){ .in = r[0], .out = r[1] };
	wire.dir[1] = (struct wire_dir){ .in = r[2], .out = r[3] };
}

/* Nothing may stay on the wire once the links close: the mbufs point
 * into message records and buffers about to be freed. */
static void
wire_drain(void)
{
	struct rte_mbuf *m = NULL;

	for (int i = 0; i < 2 && wire.on; i++) {
		struct wire_dir *w = &wire.dir[i];

		if (w->held != NULL)
			rte_pktmbuf_free(w->held);
		w->held = NULL;
		while (rte_ring_dequeue(w->in, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		while (rte_ring_dequeue(w->out, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		printf("wire %s: frames=%" PRIu64 " dropped=%" PRIu64 " duplicated=%" PRIu64
		       " reordered=%" PRIu64 "\n", i == 0 ? "S->R" : "R->S", w->frames,
		       w->dropped, w->duplicated, w->reordered);
	}
}

static int
run_xfer(uint64_t seed, uint64_t count, uint32_t min, uint32_t max)
{
	struct bulk_domain *ds, *dr;
	struct bulk_dpdk_port *ls, *lr;
	struct bulk_endpoint *ep;
	struct bulk_channel *cs = NULL, *cr = NULL;
	struct bulk_pool *pool;
	struct bulk_channel_stats sst, rst;
	struct xfer src, snk;
	uint16_t ps, pr;
	int bound = 0, assigned = 0, closed = 0;
	uint64_t last_progress = 0, idle = 0;
	double t0, tlast, t1, idle_t = 0;

	xfer_init(&src, "source", seed, count, min, max);
	xfer_init(&snk, "sink", seed, count, min, max);
	if (wire.on)
		wire_pair("xSR", 8192, &ps, &pr, seed);
	else
		dt_ring_pair("xSR", 8192, &ps, &pr);
	CHECK_RC(bulk_domain_create("S", &ds), 0);
	CHECK_RC(bulk_domain_create("R", &dr), 0);
	open_link(ds, ps, dt_ip(2, 1), dt_ip(2, 2), &ls);
	open_link(dr, pr, dt_ip(2, 2), dt_ip(2, 1), &lr);

	/* R creates (sink), S binds straight to R's endpoint. */
	{
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_RX,
			.meta_size = XFER_META_SIZE,
			.queue_size = 1024,
			.user = &snk,
		};
		struct bulk_bind_params bp = { .user = &src };
		struct bulk_domain *doms[2] = { ds, dr };

		CHECK_RC(bulk_dpdk_endpoint_create(dr, 7, &ep), 0);
		CHECK_RC(bulk_channel_create(ep, &xfer_callbacks, &cp, &cr), 0);
		CHECK_RC(bulk_channel_bind(ds, ep, &xfer_callbacks, &bp,
					   (struct bulk_cont){ set_flag, &bound }, &cs), 0);
		for (long i = 0; bound == 0 && i < 100000000; i++)
			for (int k = 0; k < 2; k++)
				CHECK(wire_poll(doms[k]) >= 0);
		CHECK_RC(bound, 1);
		CHECK_EQ_INT(bulk_channel_state(cs), BULK_STATE_CONNECTED);
		CHECK_EQ_INT(bulk_channel_state(cr), BULK_STATE_CONNECTED);
		CHECK_EQ_INT(bulk_channel_direction(cs), BULK_DIRECTION_TX);
		CHECK_EQ_INT(bulk_channel_meta_size(cs), XFER_META_SIZE);
		CHECK(strcmp(bulk_channel_backend(cs), "dpdk") == 0);
	}
	{
		struct bulk_pool_params pp = { .count = XFER_POOL, .buffer_size = max };

		CHECK_RC(bulk_pool_alloc(ds, &pp, &pool), 0);
		CHECK_RC(bulk_channel_assign_pool(cs, pool, (struct bulk_cont){ set_flag, &assigned }),
			 0);
		for (long i = 0; assigned == 0 && i < 100000000; i++) {
			CHECK(wire_poll(ds) >= 0);
			CHECK(wire_poll(dr) >= 0);
		}
		CHECK_RC(assigned, 1);
	}
	src.ch = cs;
	src.pool = pool;
	snk.ch = cr;

	t0 = now_s();
	while (!(src.next == count && src.nawy == 0 && src.stash == NULL)) {
		xfer_pump(&src);
		CHECK(wire_poll(ds) >= 0);
		CHECK(wire_poll(dr) >= 0);
		xfer_flush(&snk);
		CHECK(!src.closed && !snk.closed);
		if (src.errors || snk.errors || snk.verify_failures || snk.dups || snk.out_of_order)
			break;
		if (src.back + snk.buffers != last_progress) {
			last_progress = src.back + snk.buffers;
			idle = 0;
			idle_t = 0;
		} else if ((++idle & 0xffff) == 0 && (tlast = now_s()) - t0 > 0 &&
			   idle_since(&idle_t, tlast) > 120) {
			/* a hang detector, not a timing assertion: nothing moved for 2 min */
			fprintf(stderr, "xfer: no progress for 120 s: sent %" PRIu64 ", received %"
				PRIu64 ", back %" PRIu64 "\n", src.next, snk.buffers, src.back);
			dt_print_chan_stats("S", cs);
			dt_print_chan_stats("R", cr);
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
	CHECK_EQ_INT(bulk_pool_free_count(pool), XFER_POOL);
	printf("xfer: %" PRIu64 " buffers, %.1f MiB in %.2f s (%.1f MiB/s)\n", count,
	       (double)src.bytes / 1048576.0, t1 - t0, (double)src.bytes / 1048576.0 / (t1 - t0));

	CHECK_RC(bulk_channel_stats_get(cs, &sst), 0);
	CHECK_RC(bulk_channel_stats_get(cr, &rst), 0);
	printf("stats S: tx_bufs=%" PRIu64 " tx_bytes=%" PRIu64 " moves_tx=%" PRIu64
	       " passes_rx=%" PRIu64 " retransmits=%" PRIu64 "\n", sst.tx_bufs, sst.tx_bytes,
	       sst.moves_tx, sst.passes_rx, sst.retransmits);
	printf("stats R: rx_bufs=%" PRIu64 " rx_bytes=%" PRIu64 " moves_rx=%" PRIu64
	       " passes_tx=%" PRIu64 " bad_desc=%" PRIu64 "\n", rst.rx_bufs, rst.rx_bytes,
	       rst.moves_rx, rst.passes_tx, rst.bad_desc);
	CHECK_EQ_INT(sst.moves_tx, count);
	CHECK_EQ_INT(rst.moves_rx, count);
	CHECK_EQ_INT(sst.passes_rx, count);
	CHECK_EQ_INT(rst.bad_desc, 0);
	dt_print_chan_stats("S", cs);
	dt_print_chan_stats("R", cr);
	if (wire.on) {
		struct bulk_dpdk_chan_stats xs, xr;

		CHECK_RC(bulk_dpdk_chan_stats_get(cs, &xs), 0);
		CHECK_RC(bulk_dpdk_chan_stats_get(cr, &xr), 0);
		CHECK(xs.retransmits > 0 && xs.naks_rx > 0 && xr.dups_rx > 0);
		CHECK(xs.tx_zero_copy > 0 && xs.tx_copied == 0);
	}
	dt_print_port_stats("S", ls);
	dt_print_port_stats("R", lr);

	CHECK_RC(bulk_channel_destroy(cs, (struct bulk_cont){ set_flag, &closed }), 0);
	for (long i = 0; (closed == 0 || bulk_channel_state(cr) != BULK_STATE_CLOSED) &&
			 i < 100000000; i++) {
		CHECK(wire_poll(ds) >= 0);
		CHECK(wire_poll(dr) >= 0);
	}
	CHECK_RC(closed, 1);
	CHECK_EQ_INT(bulk_channel_state(cs), BULK_STATE_CLOSED);
	CHECK_EQ_INT(bulk_channel_state(cr), BULK_STATE_CLOSED);
	CHECK_RC(bulk_channel_free(cr), 0);
	CHECK_RC(bulk_channel_free(cs), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	if (wire.on) {
		wire_drain();
		/* The wire lost and duplicated frames, and the streams repaired it. */
		CHECK(wire.dir[0].dropped > 0 && wire.dir[0].duplicated > 0);
	}
	CHECK_RC(bulk_dpdk_port_close(ls), 0);
	CHECK_RC(bulk_dpdk_port_close(lr), 0);
	CHECK_RC(bulk_domain_destroy(dr), 0); /* its view of the pool goes with it */
	CHECK_EQ_INT(bulk_pool_free_count(pool), XFER_POOL);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(ds), 0);
	xfer_fini(&src);
	xfer_fini(&snk);
	return CHECK_DONE("test_dpdk_ring xfer");
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	uint64_t seed = dt_seed(argc > 2 ? argv[2] : NULL);
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(mode, "model") != 0 && strcmp(mode, "xfer") != 0 && strcmp(mode, "lossy") != 0) {
		fprintf(stderr,
			"usage: %s model [SEED [OPS]] | xfer|lossy [SEED [COUNT [MIN [MAX]]]]\n",
			argv[0]);
		return 2;
	}
	wire.on = strcmp(mode, "lossy") == 0;
	printf("test_dpdk_ring %s: seed %" PRIu64 "\n", mode, seed);
	dt_eal_init(argv[0], "1024");
	if (strcmp(mode, "model") == 0) {
		unsigned long ops = argc > 3 ? strtoul(argv[3], NULL, 0) : 20000;

		if (getenv("BULK_MODEL_OPS") != NULL && argc <= 3)
			ops = strtoul(getenv("BULK_MODEL_OPS"), NULL, 0);
		rc = run_model(seed, (unsigned)ops);
	} else {
		uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 0) : 10000;
		uint32_t min = argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 0) : 64;
		uint32_t max = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 0) : 1048576;

		if (getenv("BULK_DPDK_COUNT") != NULL && argc <= 3)
			count = strtoull(getenv("BULK_DPDK_COUNT"), NULL, 0);
		CHECK(min >= 1 && min <= max);
		rc = run_xfer(seed, count, min, max);
	}
	rte_eal_cleanup();
	return rc;
}
