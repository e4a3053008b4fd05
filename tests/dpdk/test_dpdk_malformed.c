/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A malformed peer, in one process: the DPDK backend must drop and count
 * every bad frame, crash on none, and keep its channels working.
 *
 * Topology: two real links (domain A on port A, domain B on port B) whose
 * frames pass through this test in the middle, over four net_ring ports:
 *
 *     A --ring--> MA  (test relays, inspects, injects)  MB <--ring-- B
 *
 * MA and MB are raw ports the test drives itself with rte_eth_rx_burst /
 * rte_eth_tx_burst. Whatever the test injects through MA looks to A
 * exactly like B's frames (same MACs, addresses, ports). B binds two
 * channels to endpoints of A (A creates, RX; B is the source and moves
 * verified buffers, A passes them back): channel 1 for the targeted cases,
 * channel 2 for the fuzz loop.
 *
 * Targeted cases (channel 1), each checked against the exact counter it
 * must move in bulk_dpdk_port_stats / bulk_dpdk_chan_stats, every other
 * drop counter unchanged: truncated frames at every layer, wrong magic,
 * wrong version, bad IPv4 header and UDP checksums, IP options/fragments,
 * wrong lengths, out-of-range pool slot / buffer index / offset / length,
 * wrong meta length, unknown channel id (answered with an RST, which the
 * test sees and keeps from B), unknown types, not-ours frames, a
 * duplicate, a frame beyond the window. A frame that passes every header
 * check but names a bad pool/buffer/range takes its sequence number (the
 * backend acknowledges it and drops the message as a bad descriptor), so
 * the test, being the wire, renumbers B's later frames and A's acks
 * around those sequence numbers. Afterwards channel 1 carries another
 * verified run and every buffer comes home.
 *
 * Fuzz (channel 2): copies of B's recent frames with random mutations
 * (bit flips, byte sets, header fields, truncation, growth), checksums
 * fixed up in 3 of 4, injected right after the original; sequence numbers
 * are kept so that a mutated stream frame is a duplicate (a spoofed frame
 * that passes every check is indistinguishable from the peer, so it may
 * not take a fresh number). Every frame must be counted in rx_frames, the
 * transfer on channel 2 must still complete verified, and channel 1 too.
 *
 * A hostile peer (hostile_peer() below): a forged pool identity and a move
 * of a buffer the peer no longer holds, both against memory A shares with
 * a third domain.
 *
 *   test_dpdk_malformed [SEED [FUZZ_FRAMES]]
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_mbuf.h>

#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#include "bulk_backend.h" /* enum bulk_msg_type */
#include "dpdk_test.h"
#include "dpdk_wire.h"
#include "xfer.h"

#define FMAX 2048u       /* largest frame handled (MTU 1500) */
#define POOL_N 16u
#define BUF_SZ 8192u
#define HDR_OFF DPDK_WIRE_HDRS
#define META_OFF (DPDK_WIRE_HDRS + sizeof(struct dpdk_wire_hdr))

struct frame {
	uint32_t len;
	uint8_t b[FMAX];
};

static struct {
	uint64_t seed, rng;
	struct rte_mempool *mp;
	uint16_t pa, pb, ma, mb; /* real A, real B, raw facing A, raw facing B */
	struct rte_ring *to_a;
	struct bulk_domain *da, *db;
	struct bulk_dpdk_port *la, *lb;
	struct bulk_endpoint *ep[3], *rep[3];
	struct bulk_channel *ca[3], *cb[3]; /* [1], [2]: A's and B's sides */
	struct bulk_pool *pool[3];
	struct xfer src[3], snk[3];
	uint32_t a_id[3], b_id[3];  /* channel ids as A and B know them */
	uint32_t hi_seq[3];         /* highest B->A stream seq seen (A's numbering) */
	bool have_hi[3];
	uint32_t shift;             /* channel 1: sequence numbers taken by injections */
	struct frame tmpl_move;     /* channel 1: a single-frame MOVE from B */
	bool have_move;
	struct frame recent[64];    /* channel 2: B's last frames */
	unsigned nrecent;
	bool fuzzing;
	int learning;               /* channel whose ids are being learnt */
	uint64_t relayed, rst_seen, rst_dropped, bind_replies_dropped, fuzz_sent;
	uint32_t last_rst_index;
} t;

/* ------------------------------------------------------------ frames */

static uint64_t
rnd(void)
{
	return dt_mix(&t.rng);
}

static uint16_t
csum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IP header checksum over its 20 bytes. */
static void
fix_ip(struct frame *f)
{
	uint8_t *ip = f->b + DPDK_WIRE_ETH_LEN;

	put16(ip + 10, 0);
	put16(ip + 10, csum16(ip, DPDK_WIRE_IP_LEN, 0));
}

/* UDP checksum over the datagram the UDP length names (within the frame). */
static void
fix_udp(struct frame *f)
{
	uint8_t *ip = f->b + DPDK_WIRE_ETH_LEN, *udp = ip + DPDK_WIRE_IP_LEN;
	uint32_t ul = get16(udp + 4), sum = 0;
	uint16_t c;

	if (DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN + (size_t)ul > f->len)
		ul = f->len - DPDK_WIRE_ETH_LEN - DPDK_WIRE_IP_LEN;
	for (int i = 12; i < 20; i += 2)
		sum += get16(ip + i);
	sum += 17 + ul;
	put16(udp + 6, 0);
	c = csum16(udp, ul, sum);
	put16(udp + 6, c == 0 ? 0xffff : c);
}

/* Lengths from the frame's size, then both checksums. */
static void
fix_all(struct frame *f)
{
	put16(f->b + DPDK_WIRE_ETH_LEN + 2, (uint16_t)(f->len - DPDK_WIRE_ETH_LEN));
	put16(f->b + DPDK_WIRE_ETH_LEN + DPDK_WIRE_IP_LEN + 4, (uint16_t)(f->len - DPDK_WIRE_ETH_LEN -
								       DPDK_WIRE_IP_LEN));
	fix_ip(f);
	fix_udp(f);
}

static void
fix_csums(struct frame *f)
{
	fix_ip(f);
	fix_udp(f);
}

static void
hdr_get(const struct frame *f, struct dpdk_wire_hdr *h)
{
	memcpy(h, f->b + HDR_OFF, sizeof(*h));
	h->magic = ntohl(h->magic);
	h->chan = ntohl(h->chan);
	h->seq = ntohl(h->seq);
	h->ack = ntohl(h->ack);
	h->wnd = ntohs(h->wnd);
	h->slot = ntohs(h->slot);
	h->index = ntohl(h->index);
	h->offset = ntohl(h->offset);
	h->length = ntohl(h->length);
	h->total = ntohl(h->total);
}

static void
hdr_put(struct frame *f, const struct dpdk_wire_hdr *hh)
{
	struct dpdk_wire_hdr h = *hh;

	h.magic = htonl(h.magic);
	h.chan = htonl(h.chan);
	h.seq = htonl(h.seq);
	h.ack = htonl(h.ack);
	h.wnd = htons(h.wnd);
	h.slot = htons(h.slot);
	h.index = htonl(h.index);
	h.offset = htonl(h.offset);
	h.length = htonl(h.length);
	h.total = htonl(h.total);
	memcpy(f->b + HDR_OFF, &h, sizeof(h));
}

static bool
is_bulk(const struct frame *f)
{
	return f->len >= META_OFF && get16(f->b + 12) == 0x0800 && f->b[DPDK_WIRE_ETH_LEN + 9] == 17;
}

static bool
is_stream(uint8_t type)
{
	return type >= 1 && type < BULK_MSG_TYPE_MAX;
}

static void
frame_of(struct rte_mbuf *m, struct frame *f)
{
	const void *p;

	f->len = m->pkt_len < FMAX ? m->pkt_len : FMAX;
	p = rte_pktmbuf_read(m, 0, f->len, f->b);
	CHECK(p != NULL);
	if (p != f->b)
		memcpy(f->b, p, f->len);
}

static struct rte_mbuf *
mbuf_of(const struct frame *f)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(t.mp);
	char *p;

	CHECK(m != NULL);
	p = rte_pktmbuf_append(m, (uint16_t)f->len);
	CHECK(p != NULL || f->len == 0);
	if (f->len)
		memcpy(p, f->b, f->len);
	return m;
}

static void
tx_all(uint16_t port, struct rte_mbuf **v, uint16_t n)
{
	uint16_t done = 0;

	for (int tries = 0; done < n && tries < 1000000; tries++)
		done += rte_eth_tx_burst(port, 0, v + done, (uint16_t)(n - done));
	CHECK_EQ_INT(done, n);
}

/* ------------------------------------------------------------ the wire */

/* B -> A: learn ids, sequence numbers, templates; renumber channel 1. */
static struct rte_mbuf *
b_to_a(struct rte_mbuf *m)
{
	struct frame f;
	struct dpdk_wire_hdr h;
	int k = 0;

	frame_of(m, &f);
	if (!is_bulk(&f))
		return m;
	hdr_get(&f, &h);
	if (t.learning && h.type == BULK_MSG_MOVE && t.a_id[t.learning] == 0)
		t.a_id[t.learning] = h.chan;
	for (int i = 1; i <= 2; i++)
		if (t.a_id[i] != 0 && h.chan == t.a_id[i])
			k = i;
	if (k == 0)
		return m;
	if (is_stream(h.type)) {
		uint32_t s = h.seq + (k == 1 ? t.shift : 0);

		if (!t.have_hi[k] || (int32_t)(s - t.hi_seq[k]) > 0)
			t.hi_seq[k] = s;
		t.have_hi[k] = true;
	}
	if (k == 1 && h.type == BULK_MSG_MOVE && (h.flags & (DPDK_WF_FIRST | DPDK_WF_LAST)) ==
	    (DPDK_WF_FIRST | DPDK_WF_LAST) && h.meta_len == XFER_META_SIZE && f.len < FMAX) {
		t.tmpl_move = f;
		t.have_move = true;
	}
	if (k == 2) {
		t.recent[t.nrecent % 64] = f;
		t.nrecent++;
	}
	if (k == 1 && t.shift != 0 && is_stream(h.type)) {
		struct rte_mbuf *n;

		h.seq += t.shift;
		hdr_put(&f, &h);
		fix_csums(&f);
		n = mbuf_of(&f);
		rte_pktmbuf_free(m);
		return n;
	}
	return m;
}

/* A -> B: learn B's ids, see RSTs; renumber acks of channel 1. NULL: dropped. */
static struct rte_mbuf *
a_to_b(struct rte_mbuf *m)
{
	struct frame f;
	struct dpdk_wire_hdr h;
	struct rte_mbuf *n;

	frame_of(m, &f);
	if (!is_bulk(&f))
		return m;
	hdr_get(&f, &h);
	if (t.learning && h.type == BULK_MSG_PASS && t.b_id[t.learning] == 0)
		t.b_id[t.learning] = h.chan;
	if (h.type == DPDK_WT_RST) {
		/* A's answers to injected unknown channels: not B's business. */
		t.rst_seen++;
		t.last_rst_index = h.index;
		if (h.index != t.b_id[1] && h.index != t.b_id[2]) {
			t.rst_dropped++;
			rte_pktmbuf_free(m);
			return NULL;
		}
		return m;
	}
	if (h.type == DPDK_WT_BIND_REPLY && t.fuzzing) {
		t.bind_replies_dropped++;
		rte_pktmbuf_free(m);
		return NULL;
	}
	if (t.shift == 0 || t.b_id[1] == 0 || h.chan != t.b_id[1])
		return m;
	if (h.flags & DPDK_WF_ACK)
		h.ack -= t.shift;
	if (h.type == DPDK_WT_ACK) {
		h.index -= t.shift;
		for (uint32_t i = 0; i + sizeof(struct dpdk_wire_nak) <= h.length &&
				     META_OFF + h.meta_len + i + 8 <= f.len; i += 8) {
			uint8_t *p = f.b + META_OFF + h.meta_len + i;
			uint32_t s;

			memcpy(&s, p, 4);
			s = htonl(ntohl(s) - t.shift);
			memcpy(p, &s, 4);
		}
	}
	hdr_put(&f, &h);
	fix_csums(&f);
	n = mbuf_of(&f);
	rte_pktmbuf_free(m);
	return n;
}

/* Relay what waits on the raw ports. @return frames moved. */
static unsigned
relay(void)
{
	struct rte_mbuf *in[32], *out[32];
	uint16_t n, k;
	unsigned total = 0;

	n = rte_eth_rx_burst(t.ma, 0, in, 32);
	for (k = 0; k < n;) {
		uint16_t o = 0;

		for (; k < n; k++) {
			struct rte_mbuf *r = a_to_b(in[k]);

			if (r != NULL)
				out[o++] = r;
		}
		if (o)
			tx_all(t.mb, out, o);
	}
	total += n;
	n = rte_eth_rx_burst(t.mb, 0, in, 32);
	for (k = 0; k < n; k++)
		out[k] = b_to_a(in[k]);
	if (n)
		tx_all(t.ma, out, n);
	total += n;
	t.relayed += total;
	return total;
}

static unsigned
step(void)
{
	unsigned w = relay();
	int a, b;

	for (int i = 1; i <= 2; i++)
		if (t.src[i].ch != NULL)
			w += xfer_pump(&t.src[i]);
	a = bulk_domain_poll(t.da, 0);
	b = bulk_domain_poll(t.db, 0);
	CHECK(a >= 0 && b >= 0);
	a += bulk_dpdk_port_poll(t.la, 0);
	b += bulk_dpdk_port_poll(t.lb, 0);
	for (int i = 1; i <= 2; i++)
		if (t.snk[i].ch != NULL)
			w += xfer_flush(&t.snk[i]);
	return w + (unsigned)a + (unsigned)b;
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
		double n;

		if (step() != 0) {
			quiet_since = now_s();
			continue;
		}
		n = now_s();
		if (n - quiet_since > 0.02)
			return;
	}
}

/* ------------------------------------------------------------ set-up */

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
	for (long i = 0; *f == 0; i++) {
		step();
		CHECK(i < 100000000);
	}
}

static void
raw_port(uint16_t port)
{
	struct rte_eth_conf conf;

	memset(&conf, 0, sizeof(conf));
	CHECK_RC(rte_eth_dev_configure(port, 1, 1, &conf), 0);
	CHECK_RC(rte_eth_rx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, NULL, t.mp), 0);
	CHECK_RC(rte_eth_tx_queue_setup(port, 0, 1024, SOCKET_ID_ANY, NULL), 0);
	CHECK_RC(rte_eth_dev_start(port), 0);
}

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
	pp.peer_timeout_ms = 60000; /* the test holds frames back at times */
	CHECK_RC(bulk_dpdk_port_open(d, &pp, out), 0);
}

static void
topology(void)
{
	struct rte_ring *a_out, *a_in, *b_out, *b_in;
	int ia, ib, ima, imb;

	t.mp = rte_pktmbuf_pool_create("mal_mp", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	CHECK(t.mp != NULL);
	a_out = rte_ring_create("mal_a_out", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	a_in = rte_ring_create("mal_a_in", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	b_out = rte_ring_create("mal_b_out", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	b_in = rte_ring_create("mal_b_in", 4096, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	CHECK(a_out && a_in && b_out && b_in);
	t.to_a = a_in;
	ia = rte_eth_from_rings("mal_A", &a_in, 1, &a_out, 1, SOCKET_ID_ANY);
	ib = rte_eth_from_rings("mal_B", &b_in, 1, &b_out, 1, SOCKET_ID_ANY);
	ima = rte_eth_from_rings("mal_MA", &a_out, 1, &a_in, 1, SOCKET_ID_ANY);
	imb = rte_eth_from_rings("mal_MB", &b_out, 1, &b_in, 1, SOCKET_ID_ANY);
	CHECK(ia >= 0 && ib >= 0 && ima >= 0 && imb >= 0);
	t.pa = (uint16_t)ia;
	t.pb = (uint16_t)ib;
	t.ma = (uint16_t)ima;
	t.mb = (uint16_t)imb;
	raw_port(t.ma);
	raw_port(t.mb);
	CHECK_RC(bulk_domain_create("A", &t.da), 0);
	CHECK_RC(bulk_domain_create("B", &t.db), 0);
	open_link(t.da, t.pa, dt_ip(3, 1), dt_ip(3, 2), &t.la);
	open_link(t.db, t.pb, dt_ip(3, 2), dt_ip(3, 1), &t.lb);
}

/* Channel k: A creates on endpoint k (RX), B binds over its link; B's pool. */
static void
connect_chan(int k)
{
	struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_RX,
		.meta_size = XFER_META_SIZE,
		.queue_size = 256,
		.user = &t.snk[k],
	};
	struct bulk_bind_params bp = { .user = &t.src[k] };
	struct bulk_pool_params pp = { .count = POOL_N, .buffer_size = BUF_SZ };
	int bound = 0, assigned = 0;

	xfer_init(&t.src[k], k == 1 ? "B1" : "B2", t.seed + (uint64_t)k, 1000000, 64, BUF_SZ);
	xfer_init(&t.snk[k], k == 1 ? "A1" : "A2", t.seed + (uint64_t)k, 1000000, 64, BUF_SZ);
	t.src[k].limit = 0;
	CHECK_RC(bulk_dpdk_endpoint_create(t.da, (uint16_t)k, &t.ep[k]), 0);
	CHECK_RC(bulk_channel_create(t.ep[k], &xfer_callbacks, &cp, &t.ca[k]), 0);
	CHECK_RC(bulk_dpdk_endpoint_remote(t.lb, (uint16_t)k, &t.rep[k]), 0);
	CHECK_RC(bulk_channel_bind(t.db, t.rep[k], &xfer_callbacks, &bp,
				   (struct bulk_cont){ set_flag, &bound }, &t.cb[k]), 0);
	wait_flag(&bound);
	CHECK_RC(bound, 1);
	CHECK_RC(bulk_pool_alloc(t.db, &pp, &t.pool[k]), 0);
	CHECK_RC(bulk_channel_assign_pool(t.cb[k], t.pool[k],
					  (struct bulk_cont){ set_flag, &assigned }), 0);
	wait_flag(&assigned);
	CHECK_RC(assigned, 1);
	t.src[k].ch = t.cb[k];
	t.src[k].pool = t.pool[k];
	t.snk[k].ch = t.ca[k];
}

/* Move @p n more buffers over channel k and wait until all are home, verified. */
static void
run_more(int k, uint64_t n)
{
	struct xfer *s = &t.src[k], *r = &t.snk[k];
	uint64_t want = s->limit + n;

	s->limit = want;
	for (long i = 0; !(s->next == want && s->nawy == 0 && s->stash == NULL); i++) {
		step();
		if (i > 50000000 || s->errors || r->errors || r->verify_failures || r->dups ||
		    r->out_of_order) {
			fprintf(stderr, "channel %d: sent %" PRIu64 "/%" PRIu64 ", received %" PRIu64
				", back %" PRIu64 ", away %" PRIu64 "\n", k, s->next, want,
				r->buffers, s->back, s->nawy);
			dt_print_chan_stats("A", t.ca[k]);
			dt_print_chan_stats("B", t.cb[k]);
			dt_print_port_stats("A", t.la);
			dt_print_port_stats("B", t.lb);
			xfer_print_result(r, "A");
			xfer_print_result(s, "B");
			CHECK(!"transfer did not complete");
		}
	}
	CHECK_EQ_INT(r->buffers, want);
	CHECK_EQ_INT(r->verify_failures + r->dups + r->out_of_order + r->errors + s->errors, 0);
	CHECK_EQ_INT(bulk_pool_free_count(t.pool[k]), POOL_N);
	settle();
}

/* ------------------------------------------------------------ targeted cases */

enum ctr {
	C_MALFORMED,
	C_CSUM,
	C_NOT_OURS,
	C_UNKNOWN,
	C_BAD,
	C_DUP,
	C_OOW,
	C_N
};

static const char *const ctr_names[C_N] = {
	"rx_malformed", "rx_csum_drops", "rx_not_ours", "rx_unknown_chan",
	"bad_frames", "dups_rx", "out_of_window",
};

struct counts {
	uint64_t c[C_N];
	uint64_t rx_frames, chan_csum, bad_desc, rx_bufs;
};

static void
counts_get(struct counts *o)
{
	struct bulk_dpdk_port_stats ps;
	struct bulk_dpdk_chan_stats cs;
	struct bulk_channel_stats st;

	CHECK_RC(bulk_dpdk_port_stats_get(t.la, &ps), 0);
	CHECK_RC(bulk_dpdk_chan_stats_get(t.ca[1], &cs), 0);
	CHECK_RC(bulk_channel_stats_get(t.ca[1], &st), 0);
	o->c[C_MALFORMED] = ps.rx_malformed;
	o->c[C_CSUM] = ps.rx_csum_drops;
	o->c[C_NOT_OURS] = ps.rx_not_ours;
	o->c[C_UNKNOWN] = ps.rx_unknown_chan;
	o->c[C_BAD] = cs.bad_frames;
	o->c[C_DUP] = cs.dups_rx;
	o->c[C_OOW] = cs.out_of_window;
	o->rx_frames = ps.rx_frames;
	o->chan_csum = cs.csum_drops;
	o->bad_desc = st.bad_desc;
	o->rx_bufs = st.rx_bufs;
}

static unsigned ncases;

/* Inject @p f into A (B->A held back meanwhile) and check that exactly counter @p want moved. */
static void
inject_expect(const char *name, const struct frame *f, enum ctr want, int want_chan_csum)
{
	struct counts a, b;
	struct rte_mbuf *m = mbuf_of(f);
	uint64_t sink_before = t.snk[1].buffers + t.snk[1].verify_failures;

	counts_get(&a);
	tx_all(t.ma, &m, 1);
	/* Only A's link runs: everything in A's ring was ours. */
	for (long i = 0; rte_ring_count(t.to_a) != 0; i++) {
		CHECK(bulk_dpdk_port_poll(t.la, 0) >= 0);
		CHECK(i < 10000000);
	}
	CHECK(bulk_domain_poll(t.da, 0) >= 0);
	counts_get(&b);
	printf("case %-22s len %4u -> %s\n", name, f->len, ctr_names[want]);
	for (int c = 0; c < C_N; c++) {
		uint64_t d = b.c[c] - a.c[c];

		if (d != (c == (int)want ? 1u : 0u)) {
			fprintf(stderr, "case %s: %s moved by %" PRIu64 " (expected %d)\n", name,
				ctr_names[c], d, c == (int)want);
			dt_print_port_stats("A", t.la);
			dt_print_chan_stats("A", t.ca[1]);
			CHECK(!"wrong counter");
		}
	}
	CHECK_EQ_INT(b.rx_frames - a.rx_frames, 1);
	if (want_chan_csum >= 0)
		CHECK_EQ_INT(b.chan_csum - a.chan_csum, want_chan_csum);
	/* Nothing was delivered. */
	CHECK_EQ_INT(b.rx_bufs, a.rx_bufs);
	CHECK_EQ_INT(t.snk[1].buffers + t.snk[1].verify_failures, sink_before);
	if (want == C_BAD) {
		/* It took a sequence number: renumber B's stream from here on. */
		t.shift++;
		t.hi_seq[1]++;
		CHECK_EQ_INT(b.bad_desc - a.bad_desc, 1);
	}
	ncases++;
}

/* The template MOVE, renumbered to A's next sequence number. */
static struct frame
next_move(void)
{
	struct frame f = t.tmpl_move;
	struct dpdk_wire_hdr h;

	hdr_get(&f, &h);
	h.seq = t.hi_seq[1] + 1;
	h.flags &= (uint8_t)~DPDK_WF_RETX;
	hdr_put(&f, &h);
	fix_csums(&f);
	return f;
}

static void
mutate_hdr(const char *name, void (*fn)(struct dpdk_wire_hdr *h), enum ctr want)
{
	struct frame f = next_move();
	struct dpdk_wire_hdr h;

	hdr_get(&f, &h);
	fn(&h);
	hdr_put(&f, &h);
	fix_all(&f);
	inject_expect(name, &f, want, want == C_CSUM ? 1 : 0);
}

static void m_magic(struct dpdk_wire_hdr *h) { h->magic ^= 0x01000000u; }
static void m_version(struct dpdk_wire_hdr *h) { h->version = DPDK_WIRE_VERSION + 1; }
static void m_version0(struct dpdk_wire_hdr *h) { h->version = 0; }
static void m_type0(struct dpdk_wire_hdr *h) { h->type = 0; }
static void m_type_max(struct dpdk_wire_hdr *h) { h->type = BULK_MSG_TYPE_MAX; }
static void m_type_20(struct dpdk_wire_hdr *h) { h->type = 0x20; }
static void m_type_ff(struct dpdk_wire_hdr *h) { h->type = 0xff; }
static void m_length_plus(struct dpdk_wire_hdr *h) { h->length += 4; }
static void m_length_minus(struct dpdk_wire_hdr *h) { h->length -= 1; }
static void m_meta_big(struct dpdk_wire_hdr *h) { h->meta_len = BULK_META_MAX + 1; }
static void m_chan(struct dpdk_wire_hdr *h) { h->chan ^= 0x5a5a0000u; }
static void m_chan0(struct dpdk_wire_hdr *h) { h->chan = 0x3ff; }
static void m_slot(struct dpdk_wire_hdr *h) { h->slot = (uint16_t)(h->slot + 1); }
static void m_slot_max(struct dpdk_wire_hdr *h) { h->slot = 0xffff; }
static void m_index(struct dpdk_wire_hdr *h) { h->index = POOL_N; }
static void m_index_max(struct dpdk_wire_hdr *h) { h->index = 0xffffffffu; }
static void m_offset(struct dpdk_wire_hdr *h) { h->offset = BUF_SZ; }
static void m_offset_wrap(struct dpdk_wire_hdr *h) { h->offset = 0xffffff00u; h->flags &= (uint8_t)~DPDK_WF_FIRST; }
static void m_total(struct dpdk_wire_hdr *h) { h->total = BUF_SZ + 1; }
static void m_total_max(struct dpdk_wire_hdr *h) { h->total = 0xffffffffu; }
static void m_total_short(struct dpdk_wire_hdr *h) { h->total = h->length - 1; }
static void m_seq_dup(struct dpdk_wire_hdr *h) { h->seq -= 1; }
static void m_seq_far(struct dpdk_wire_hdr *h) { h->seq += 1u << 20; }
static void m_seq_back(struct dpdk_wire_hdr *h) { h->seq -= 1u << 30; }

static void
targeted(void)
{
	struct frame f, base = next_move();
	struct dpdk_wire_hdr h;

	/* Truncation at every layer, the lengths in the headers left as they were. */
	static const uint32_t cuts[] = { 0, 1, 13, 14, 20, 33, 34, 38, 41, 42, 50, 81 };
	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		char name[32];

		f = base;
		f.len = cuts[i];
		snprintf(name, sizeof(name), "truncated-%u", cuts[i]);
		if (f.len == 0)
			continue; /* not a frame at all */
		inject_expect(name, &f, C_MALFORMED, 0);
	}
	/* Cut inside meta and payload with IP and UDP lengths following the cut:
	 * the bulk header's length no longer matches. */
	for (uint32_t cut = (uint32_t)META_OFF; cut < base.len; cut += (base.len - cut) / 2 + 1) {
		char name[32];

		f = base;
		f.len = cut;
		fix_all(&f);
		snprintf(name, sizeof(name), "short-datagram-%u", cut);
		inject_expect(name, &f, C_MALFORMED, 0);
	}
	/* IP total length beyond the frame. */
	f = base;
	put16(f.b + 16, (uint16_t)(f.len - 14 + 8));
	fix_ip(&f);
	inject_expect("ip-len-beyond-frame", &f, C_MALFORMED, 0);
	/* UDP length disagreeing with IP's. */
	f = base;
	put16(f.b + 38, (uint16_t)(get16(f.b + 38) - 2));
	fix_csums(&f);
	inject_expect("udp-len-mismatch", &f, C_MALFORMED, 0);
	/* IP options, a fragment. */
	f = base;
	f.b[14] = 0x46;
	fix_csums(&f);
	inject_expect("ip-ihl-6", &f, C_MALFORMED, 0);
	f = base;
	put16(f.b + 20, 0x2000); /* more fragments */
	fix_csums(&f);
	inject_expect("ip-fragment", &f, C_MALFORMED, 0);

	mutate_hdr("bad-magic", m_magic, C_MALFORMED);
	mutate_hdr("bad-version", m_version, C_MALFORMED);
	mutate_hdr("version-0", m_version0, C_MALFORMED);
	mutate_hdr("type-0", m_type0, C_MALFORMED);
	mutate_hdr("type-max", m_type_max, C_MALFORMED);
	mutate_hdr("type-0x20", m_type_20, C_MALFORMED);
	mutate_hdr("type-0xff", m_type_ff, C_MALFORMED);
	mutate_hdr("length-too-long", m_length_plus, C_MALFORMED);
	mutate_hdr("length-too-short", m_length_minus, C_MALFORMED);
	mutate_hdr("meta-len-over-max", m_meta_big, C_MALFORMED);

	/* Checksums. */
	f = base;
	f.b[24] ^= 0x01; /* IP checksum field */
	inject_expect("bad-ip-csum", &f, C_CSUM, 0);
	f = base;
	f.b[14 + 8] ^= 0x40; /* TTL: covered by the IP checksum only */
	inject_expect("ip-hdr-bit-flip", &f, C_CSUM, 0);
	f = base;
	f.b[40] ^= 0x10; /* UDP checksum field */
	inject_expect("bad-udp-csum", &f, C_CSUM, 1);
	f = base;
	f.b[f.len - 1] ^= 0x80; /* last payload byte */
	inject_expect("payload-bit-flip", &f, C_CSUM, 1);
	f = base;
	f.b[META_OFF + 2] ^= 0x04; /* meta */
	inject_expect("meta-bit-flip", &f, C_CSUM, 1);

	/* Not ours: another address, port, protocol, ethertype. */
	f = base;
	f.b[14 + 16 + 3] ^= 0x07; /* destination address */
	fix_csums(&f);
	inject_expect("other-dst-ip", &f, C_NOT_OURS, 0);
	f = base;
	f.b[14 + 12 + 3] ^= 0x07; /* source address */
	fix_csums(&f);
	inject_expect("other-src-ip", &f, C_NOT_OURS, 0);
	f = base;
	put16(f.b + 36, 47001);
	fix_csums(&f);
	inject_expect("other-udp-port", &f, C_NOT_OURS, 0);
	f = base;
	f.b[14 + 9] = 6; /* TCP */
	fix_csums(&f);
	inject_expect("ip-proto-tcp", &f, C_NOT_OURS, 0);
	f = base;
	put16(f.b + 12, 0x86dd);
	inject_expect("ethertype-ipv6", &f, C_NOT_OURS, 0);

	/* Unknown channel: dropped, counted, answered with an RST naming it. */
	{
		uint64_t rst = t.rst_seen;

		mutate_hdr("unknown-chan", m_chan, C_UNKNOWN);
		for (int i = 0; i < 1000 && t.rst_seen == rst; i++)
			step();
		CHECK_EQ_INT(t.rst_seen, rst + 1);
		hdr_get(&base, &h);
		CHECK_EQ_INT(t.last_rst_index, h.chan ^ 0x5a5a0000u);
		mutate_hdr("unknown-chan-2", m_chan0, C_UNKNOWN);
	}

	/* Sequence numbers: a duplicate, one far beyond the window, one far behind. */
	mutate_hdr("duplicate", m_seq_dup, C_DUP);
	mutate_hdr("beyond-window", m_seq_far, C_OOW);
	mutate_hdr("far-behind", m_seq_back, C_DUP);

	/* Past every header check: names a bad pool slot / buffer / range. Each
	 * takes a sequence number and is dropped as a bad descriptor. */
	mutate_hdr("slot-unassigned", m_slot, C_BAD);
	mutate_hdr("slot-0xffff", m_slot_max, C_BAD);
	mutate_hdr("index-count", m_index, C_BAD);
	mutate_hdr("index-0xffffffff", m_index_max, C_BAD);
	mutate_hdr("offset-buffer-size", m_offset, C_BAD);
	mutate_hdr("offset-wraps", m_offset_wrap, C_BAD);
	mutate_hdr("total-over-buffer", m_total, C_BAD);
	mutate_hdr("total-0xffffffff", m_total_max, C_BAD);
	mutate_hdr("total-below-length", m_total_short, C_BAD);
	/* Meta of another size than the channel's (lengths kept consistent). */
	f = next_move();
	hdr_get(&f, &h);
	h.meta_len = (uint8_t)(h.meta_len - 8);
	h.length += 8;
	hdr_put(&f, &h);
	fix_all(&f);
	inject_expect("meta-len-short", &f, C_BAD, 0);
	printf("targeted: %u cases, %u sequence numbers taken and renumbered, %" PRIu64
	       " RSTs seen (%" PRIu64 " kept from B)\n", ncases, t.shift, t.rst_seen,
	       t.rst_dropped);
}

/* ------------------------------------------------------------ fuzz */

static void
fuzz_one(const struct frame *orig)
{
	struct frame f = *orig;
	struct dpdk_wire_hdr h0, h;
	unsigned nmut = 1 + (unsigned)(rnd() % 4);
	struct rte_mbuf *m;

	hdr_get(orig, &h0);
	for (unsigned i = 0; i < nmut; i++) {
		switch (rnd() % 8) {
		case 0: /* bit flip anywhere past Ethernet */
			if (f.len > 14) {
				uint32_t o = 14 + (uint32_t)(rnd() % (f.len - 14));

				f.b[o] ^= (uint8_t)(1u << (rnd() % 8));
			}
			break;
		case 1: /* a random byte in the bulk header */
			f.b[HDR_OFF + rnd() % sizeof(struct dpdk_wire_hdr)] = (uint8_t)rnd();
			break;
		case 2: /* a header field set to an edge value */
			hdr_get(&f, &h);
			switch (rnd() % 8) {
			case 0: h.type = (uint8_t)rnd(); break;
			case 1: h.flags = (uint8_t)rnd(); break;
			case 2: h.meta_len = (uint8_t)(rnd() % 80); break;
			case 3: h.slot = (uint16_t)(rnd() % 4); break;
			case 4: h.index = (uint32_t)(rnd() % (POOL_N + 2)); break;
			case 5: h.offset = (uint32_t)rnd() % (BUF_SZ * 2); break;
			case 6: h.length = (uint32_t)rnd() % 2048; break;
			default: h.total = (uint32_t)rnd() % (BUF_SZ * 2); break;
			}
			hdr_put(&f, &h);
			break;
		case 3: /* ack, window, NAK index */
			hdr_get(&f, &h);
			h.ack += (uint32_t)(rnd() % 64) - 32;
			h.wnd = (uint16_t)rnd();
			h.index += (uint32_t)(rnd() % 64) - 32;
			hdr_put(&f, &h);
			break;
		case 4: /* truncate */
			f.len = (uint32_t)(rnd() % (f.len + 1));
			break;
		case 5: /* grow with junk */
			while (f.len < FMAX - 64 && rnd() % 2)
				f.b[f.len++] = (uint8_t)rnd();
			break;
		case 6: /* NAK list junk */
			if (f.len >= META_OFF + 16) {
				for (unsigned k = 0; k < 16; k++)
					f.b[META_OFF + k] = (uint8_t)rnd();
			}
			break;
		default: /* lengths consistent with the size */
			if (f.len >= META_OFF)
				fix_all(&f);
			break;
		}
	}
	/* Keep it from being a fresh frame of any live stream or an RST of a live
	 * channel: such a frame would be the peer's word, not a malformed one. */
	if (f.len >= META_OFF) {
		hdr_get(&f, &h);
		if (h.chan == t.a_id[1])
			h.chan = t.a_id[2];
		if (is_stream(h.type))
			h.seq = is_stream(h0.type) ? h0.seq : t.hi_seq[2];
		if (h.type == DPDK_WT_RST)
			h.index = 0xdead;
		hdr_put(&f, &h);
		if (rnd() % 4 != 0)
			fix_csums(&f);
	}
	if (f.len == 0)
		f.len = 1;
	m = mbuf_of(&f);
	tx_all(t.ma, &m, 1);
	t.fuzz_sent++;
}

static void
fuzz(uint64_t frames)
{
	struct bulk_dpdk_port_stats a, b;
	uint64_t sent_before = t.fuzz_sent;

	CHECK_RC(bulk_dpdk_port_stats_get(t.la, &a), 0);
	t.fuzzing = true;
	t.src[2].limit = UINT64_MAX;
	while (t.fuzz_sent - sent_before < frames) {
		unsigned before = t.nrecent;

		step();
		/* Mutated copies of what B just sent on channel 2, right behind it. */
		for (unsigned i = before; i < t.nrecent && i < before + 8; i++)
			fuzz_one(&t.recent[i % 64]);
		if (t.nrecent == before && t.nrecent > 0)
			fuzz_one(&t.recent[rnd() % (t.nrecent < 64 ? t.nrecent : 64)]);
	}
	/* Let channel 2 finish what it has in flight. */
	t.src[2].limit = t.src[2].next;
	for (long i = 0; !(t.src[2].nawy == 0 && t.src[2].stash == NULL); i++) {
		step();
		if (i > 50000000 || t.snk[2].verify_failures || t.snk[2].dups ||
		    t.snk[2].out_of_order || t.snk[2].errors || t.src[2].errors) {
			dt_print_chan_stats("A2", t.ca[2]);
			dt_print_chan_stats("B2", t.cb[2]);
			xfer_print_result(&t.snk[2], "A2");
			xfer_print_result(&t.src[2], "B2");
			CHECK(!"channel 2 broke under fuzz");
		}
	}
	t.fuzzing = false;
	settle();
	CHECK_RC(bulk_dpdk_port_stats_get(t.la, &b), 0);
	printf("fuzz: %" PRIu64 " mutated frames; A: rx_frames +%" PRIu64 " malformed +%" PRIu64
	       " csum +%" PRIu64 " not_ours +%" PRIu64 " unknown_chan +%" PRIu64
	       "; channel 2 moved %" PRIu64 " buffers meanwhile, all verified\n",
	       frames, b.rx_frames - a.rx_frames, b.rx_malformed - a.rx_malformed,
	       b.rx_csum_drops - a.rx_csum_drops, b.rx_not_ours - a.rx_not_ours,
	       b.rx_unknown_chan - a.rx_unknown_chan, t.snk[2].buffers);
	CHECK(b.rx_frames - a.rx_frames >= frames);
	CHECK(t.snk[2].buffers > 0);
	dt_print_chan_stats("A2", t.ca[2]);
}

/* ------------------------------------------------------------ a hostile peer */

/*
 * B runs a libbulk that lies (the test edits B's own view, as a modified
 * library could). A owns pool P and has moved P's buffer 0 to domain C of
 * its own process over a local channel, so P's memory is shared with C.
 *
 * 1. Forged identity: B assigns a pool of its own under P's id over a new
 *    dpdk channel. A must refuse it (-BULK_E_POOL_FORGED, pools_refused),
 *    and B's MOVE of "P's" buffer 0 on the slot it pretends to hold must be
 *    counted in bad_desc, with C still the sole owner of unchanged data.
 * 2. A buffer handed on: B honestly assigns its pool Q and moves Q's
 *    buffer 2 to A; A assigns Q on to C and moves buffer 2 there. B then
 *    claims buffer 2 again and moves it with other data. A must count the
 *    move in bad_desc, deliver nothing, and write nothing into C's data.
 */
#define HP_N 8u
#define HP_SZ 4096u
#define HP_EP 3

static struct {
	struct bulk_domain *dc;
	struct bulk_endpoint *lep, *ep, *rep;
	struct bulk_channel *ac, *ca, *a3, *b3; /* local A->C, dpdk A(RX) <- B(TX) */
	struct bulk_buffer *c_got, *a_got;
	int c_moves, a_moves, b_passes;
} hp;

static void
hp_c_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	CHECK_EQ_INT(n, 1);
	hp.c_got = bufs[0];
	hp.c_moves++;
}

static void
hp_a_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	CHECK_EQ_INT(n, 1);
	hp.a_got = bufs[0];
	hp.a_moves++;
}

static void
hp_b_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	(void)ch;
	(void)bufs;
	(void)lens;
	(void)meta;
	hp.b_passes += (int)n;
}

static const struct bulk_channel_callbacks hp_c_cbs = { .move_received = hp_c_move };
static const struct bulk_channel_callbacks hp_a_cbs = { .move_received = hp_a_move };
static const struct bulk_channel_callbacks hp_b_cbs = { .buffer_received = hp_b_pass };
static const struct bulk_channel_callbacks hp_none = { 0 };

static void
hp_step_until(const int *flag, int want)
{
	for (long i = 0; *flag < want; i++) {
		step();
		CHECK(bulk_domain_poll(hp.dc, 0) >= 0);
		CHECK(i < 100000000);
	}
}

static void
hp_fill(struct bulk_buffer *b, uint8_t v)
{
	memset(b->addr, v, HP_SZ);
}

static int
hp_is(const struct bulk_buffer *b, uint8_t v)
{
	const uint8_t *p = b->addr;

	for (uint32_t i = 0; i < HP_SZ; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static uint64_t
hp_bad(struct bulk_channel *ch)
{
	struct bulk_channel_stats st;

	CHECK_RC(bulk_channel_stats_get(ch, &st), 0);
	return st.bad_desc;
}

/* B's library pretends @p f sits in its slot @p slot of channel b3, assigned
 * (written into B's own structures, as a modified library would). */
static uint64_t hp_bits[3][(HP_N + 63) / 64];

static void
hp_pretend_assigned(struct bulk_pool *f, uint16_t slot)
{
	struct bulk_chan_pool *cp = &hp.b3->slots[slot];

	memset(hp_bits, 0, sizeof(hp_bits));
	cp->pool = f;
	cp->copy_out = hp_bits[0];
	cp->copy_in = hp_bits[1];
	cp->away = hp_bits[2];
	cp->state = BULK_SLOT_ASSIGNED;
	f->links[f->nlinks].ch = hp.b3;
	f->links[f->nlinks].slot = slot;
	f->nlinks++;
}

static void
hp_pretend_over(struct bulk_pool *f, uint16_t slot)
{
	memset(&hp.b3->slots[slot], 0, sizeof(hp.b3->slots[slot]));
	f->nlinks--;
}

static void
hostile_peer(void)
{
	struct bulk_pool_params pp = { .count = HP_N, .buffer_size = HP_SZ };
	struct bulk_channel_params lcp = { .direction = BULK_DIRECTION_TX };
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX, .queue_size = 256 };
	struct bulk_bind_params bbp = { 0 };
	struct bulk_pool *p, *f, *q, *qa;
	struct bulk_pool_id qid;
	struct bulk_buffer *b, *fb, *qb;
	struct bulk_channel_stats st;
	uint64_t bad0;
	int done = 0, rc, flag;

	/* A owns P; P's buffer 0 is with C (local, shared memory). */
	CHECK_RC(bulk_domain_create("C", &hp.dc), 0);
	CHECK_RC(bulk_local_endpoint_create(t.da, &hp.lep), 0);
	CHECK_RC(bulk_channel_create(hp.lep, &hp_none, &lcp, &hp.ac), 0);
	CHECK_RC(bulk_channel_bind(hp.dc, hp.lep, &hp_c_cbs, &bbp,
				   (struct bulk_cont){ set_flag, &done }, &hp.ca), 0);
	hp_step_until(&done, 1);
	CHECK_RC(bulk_pool_alloc(t.da, &pp, &p), 0);
	done = 0;
	CHECK_RC(bulk_channel_assign_pool(hp.ac, p, (struct bulk_cont){ set_flag, &done }), 0);
	hp_step_until(&done, 1);
	CHECK_EQ_INT(done, 1);
	CHECK_EQ_INT(bulk_pool_get_burst(p, &b, 1), 1);
	CHECK_EQ_INT(b->index, 0);
	hp_fill(b, 0xc0);
	CHECK_RC(bulk_channel_move(hp.ac, b, HP_SZ, NULL, BULK_CONT_NONE), 0);
	hp_step_until(&hp.c_moves, 1);
	CHECK(hp.c_got != NULL && hp.c_got->index == 0 && hp_is(hp.c_got, 0xc0));

	/* A dpdk channel to B. */
	done = 0;
	CHECK_RC(bulk_dpdk_endpoint_create(t.da, HP_EP, &hp.ep), 0);
	CHECK_RC(bulk_channel_create(hp.ep, &hp_a_cbs, &cp, &hp.a3), 0);
	CHECK_RC(bulk_dpdk_endpoint_remote(t.lb, HP_EP, &hp.rep), 0);
	CHECK_RC(bulk_channel_bind(t.db, hp.rep, &hp_b_cbs, &bbp,
				   (struct bulk_cont){ set_flag, &done }, &hp.b3), 0);
	hp_step_until(&done, 1);
	CHECK_EQ_INT(done, 1);

	/* 1. B's pool under P's id. */
	CHECK_RC(bulk_pool_alloc(t.db, &pp, &f), 0);
	f->id = p->id;
	flag = 0;
	CHECK_RC(bulk_channel_assign_pool(hp.b3, f, (struct bulk_cont){ set_flag, &flag }), 0);
	wait_flag(&flag);
	CHECK_RC(flag, -BULK_E_POOL_FORGED);
	CHECK_RC(bulk_channel_stats_get(hp.a3, &st), 0);
	CHECK_EQ_INT(st.pools_refused, 1);
	CHECK_EQ_INT(bulk_channel_has_pool(hp.a3, p), 0);
	bad0 = hp_bad(hp.a3);
	hp_pretend_assigned(f, 1);
	CHECK_EQ_INT(bulk_pool_get_burst(f, &fb, 1), 1);
	CHECK_EQ_INT(fb->index, 0);
	hp_fill(fb, 0xee);
	done = 0;
	CHECK_RC(bulk_channel_move(hp.b3, fb, HP_SZ, NULL, (struct bulk_cont){ set_flag, &done }),
		 0);
	hp_step_until(&done, 1);
	settle();
	CHECK_EQ_INT(hp_bad(hp.a3), bad0 + 1);
	CHECK_EQ_INT(hp.a_moves, 0);
	CHECK_EQ_INT(b->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(hp.c_got->state, BULK_BUFFER_READ_WRITE);
	CHECK(hp_is(hp.c_got, 0xc0));
	printf("hostile peer: forged pool refused (pools_refused 1), its move counted in "
	       "bad_desc, C's buffer untouched\n");
	/* B's library stops pretending. */
	hp_pretend_over(f, 1);
	fb->state = BULK_BUFFER_READ_WRITE;
	CHECK_RC(bulk_pool_put(fb), 0);
	CHECK_RC(bulk_pool_free(f), 0);

	/* 2. Q honestly; buffer 2 to A, A hands it on to C. */
	CHECK_RC(bulk_pool_alloc(t.db, &pp, &q), 0);
	flag = 0;
	CHECK_RC(bulk_channel_assign_pool(hp.b3, q, (struct bulk_cont){ set_flag, &flag }), 0);
	wait_flag(&flag);
	CHECK_RC(flag, 1);
	qa = bulk_domain_pool_lookup(t.da, bulk_pool_get_id(q));
	CHECK(qa != NULL);
	{
		struct bulk_buffer *tmp[3];

		CHECK_EQ_INT(bulk_pool_get_burst(q, tmp, 3), 3);
		qb = tmp[2];
		CHECK_EQ_INT(bulk_pool_put_burst(q, tmp, 2), 2);
	}
	CHECK_EQ_INT(qb->index, 2);
	hp_fill(qb, 0x51);
	CHECK_RC(bulk_channel_move(hp.b3, qb, HP_SZ, NULL, BULK_CONT_NONE), 0);
	hp_step_until(&hp.a_moves, 1);
	CHECK(hp.a_got != NULL && hp.a_got->index == 2 && hp_is(hp.a_got, 0x51));
	done = 0;
	CHECK_RC(bulk_channel_assign_pool(hp.ac, qa, (struct bulk_cont){ set_flag, &done }), 0);
	hp_step_until(&done, 1);
	CHECK_EQ_INT(done, 1);
	CHECK_RC(bulk_channel_move(hp.ac, hp.a_got, HP_SZ, NULL, BULK_CONT_NONE), 0);
	hp_step_until(&hp.c_moves, 2);
	CHECK(hp.c_got->index == 2 && hp_is(hp.c_got, 0x51));
	/* B claims buffer 2 again, with other data. */
	bad0 = hp_bad(hp.a3);
	CHECK_EQ_INT(qb->state, BULK_BUFFER_INVALID);
	qb->state = BULK_BUFFER_READ_WRITE;
	hp_fill(qb, 0xee);
	done = 0;
	CHECK_RC(bulk_channel_move(hp.b3, qb, HP_SZ, NULL, (struct bulk_cont){ set_flag, &done }),
		 0);
	hp_step_until(&done, 1);
	settle();
	CHECK_EQ_INT(hp_bad(hp.a3), bad0 + 1);
	CHECK_EQ_INT(hp.a_moves, 1);
	CHECK_EQ_INT(hp.a_got->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(hp.c_got->state, BULK_BUFFER_READ_WRITE);
	CHECK(hp_is(hp.c_got, 0x51));
	printf("hostile peer: a move of a buffer A had handed to C counted in bad_desc, "
	       "C's data untouched\n");

	/* Everything home: C -> A (P's 0 and Q's 2), A -> B (Q's 2). */
	qb->state = BULK_BUFFER_INVALID; /* B's library back to the truth */
	{
		struct bulk_channel *cc = hp.ca;
		struct bulk_buffer *qc = hp.c_got, *pc = bulk_pool_buffer(
			bulk_domain_pool_lookup(hp.dc, bulk_pool_get_id(p)), 0);

		CHECK_RC(bulk_channel_pass(cc, pc, 0, NULL, BULK_CONT_NONE), 0);
		CHECK_RC(bulk_channel_pass(cc, qc, 0, NULL, BULK_CONT_NONE), 0);
	}
	for (long i = 0; b->state != BULK_BUFFER_READ_WRITE ||
			 hp.a_got->state != BULK_BUFFER_READ_WRITE; i++) {
		step();
		CHECK(bulk_domain_poll(hp.dc, 0) >= 0);
		CHECK(i < 100000000);
	}
	CHECK_RC(bulk_channel_pass(hp.a3, hp.a_got, 0, NULL, BULK_CONT_NONE), 0);
	hp_step_until(&hp.b_passes, 1);
	CHECK_EQ_INT(qb->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(hp_bad(hp.b3), 0);

	/* Tear down both channels; every pool whole again. */
	done = 0;
	CHECK_RC(bulk_channel_destroy(hp.b3, (struct bulk_cont){ set_flag, &done }), 0);
	hp_step_until(&done, 1);
	for (long i = 0; bulk_channel_state(hp.a3) != BULK_STATE_CLOSED; i++) {
		step();
		CHECK(i < 100000000);
	}
	done = 0;
	CHECK_RC(bulk_channel_destroy(hp.ac, (struct bulk_cont){ set_flag, &done }), 0);
	hp_step_until(&done, 1);
	CHECK_RC(bulk_channel_free(hp.a3), 0);
	CHECK_RC(bulk_channel_free(hp.b3), 0);
	CHECK_RC(bulk_channel_free(hp.ac), 0);
	CHECK_RC(bulk_channel_free(hp.ca), 0);
	CHECK_RC(bulk_endpoint_free(hp.ep), 0);
	CHECK_RC(bulk_endpoint_free(hp.rep), 0);
	CHECK_RC(bulk_endpoint_free(hp.lep), 0);
	CHECK_RC(bulk_pool_put(b), 0);
	CHECK_EQ_INT(bulk_pool_free_count(p), HP_N);
	CHECK_RC(bulk_pool_free(p), 0);
	CHECK_RC(bulk_pool_put(qb), 0);
	CHECK_EQ_INT(bulk_pool_free_count(q), HP_N);
	qid = *bulk_pool_get_id(q);
	CHECK_RC(bulk_pool_free(q), 0);
	rc = bulk_domain_destroy(hp.dc);
	CHECK_RC(rc, 0);
	qa = bulk_domain_pool_lookup(t.da, &qid);
	CHECK(qa == NULL || bulk_pool_free(qa) == 0);
}

/* ------------------------------------------------------------ main */

static void
teardown(void)
{
	for (int k = 1; k <= 2; k++) {
		int closed = 0;

		CHECK_RC(bulk_channel_destroy(t.cb[k], (struct bulk_cont){ set_flag, &closed }), 0);
		wait_flag(&closed);
		CHECK_RC(closed, 1);
		for (long i = 0; bulk_channel_state(t.ca[k]) != BULK_STATE_CLOSED; i++) {
			step();
			CHECK(i < 100000000);
		}
		CHECK_RC(bulk_channel_free(t.ca[k]), 0);
		CHECK_RC(bulk_channel_free(t.cb[k]), 0);
		CHECK_RC(bulk_endpoint_free(t.ep[k]), 0);
		CHECK_RC(bulk_endpoint_free(t.rep[k]), 0);
	}
	settle();
	CHECK_RC(bulk_dpdk_port_close(t.la), 0);
	CHECK_RC(bulk_dpdk_port_close(t.lb), 0);
	CHECK_RC(bulk_domain_destroy(t.da), 0);
	for (int k = 1; k <= 2; k++) {
		CHECK_EQ_INT(bulk_pool_free_count(t.pool[k]), POOL_N);
		CHECK_RC(bulk_pool_free(t.pool[k]), 0);
		xfer_fini(&t.src[k]);
		xfer_fini(&t.snk[k]);
	}
	CHECK_RC(bulk_domain_destroy(t.db), 0);
	/* The links stopped their ports; the raw ones are ours. */
	CHECK_RC(rte_eth_dev_stop(t.ma), 0);
	CHECK_RC(rte_eth_dev_stop(t.mb), 0);
}

int
main(int argc, char **argv)
{
	uint64_t fuzz_frames = argc > 2 ? strtoull(argv[2], NULL, 0) : 20000;
	struct dpdk_wire_hdr h;

	setvbuf(stdout, NULL, _IOLBF, 0);
	t.seed = dt_seed(argc > 1 ? argv[1] : NULL);
	t.rng = t.seed;
	printf("test_dpdk_malformed: seed %" PRIu64 ", %" PRIu64 " fuzz frames\n", t.seed,
	       fuzz_frames);
	dt_eal_init(argv[0], "512");
	topology();

	connect_chan(1);
	connect_chan(2);
	/* A's ids from B's frames need a frame of each channel first; the
	 * binds and pool assignments were such frames, but the relay could
	 * not tell them apart yet: take them now from the next MOVE of each. */
	for (int k = 1; k <= 2; k++) {
		/* One buffer over channel k: its MOVE names A's id, A's PASS B's. */
		t.learning = k;
		run_more(k, 1);
		t.learning = 0;
		CHECK(t.a_id[k] != 0 && t.b_id[k] != 0);
		printf("channel %d: A's id %#x, B's id %#x\n", k, t.a_id[k], t.b_id[k]);
	}
	CHECK(t.a_id[1] != t.a_id[2] && t.b_id[1] != t.b_id[2]);

	/* A verified run on each channel; channel 1's last MOVE is the template. */
	run_more(1, 200);
	run_more(2, 50);
	CHECK(t.have_move);
	hdr_get(&t.tmpl_move, &h);
	printf("template: MOVE chan %#x seq %u slot %u index %u length %u total %u, frame %u bytes\n",
	       h.chan, h.seq, h.slot, h.index, h.length, h.total, t.tmpl_move.len);
	CHECK_EQ_INT(h.offset, 0);

	targeted();
	/* Channel 1 still works: more verified buffers, every one home. */
	run_more(1, 200);
	printf("after the targeted cases: channel 1 moved %" PRIu64 " buffers, all verified, "
	       "pool full\n", t.snk[1].buffers);

	fuzz(fuzz_frames);
	run_more(1, 100);
	run_more(2, 100);
	hostile_peer();
	printf("after the fuzz: channel 1 %" PRIu64 ", channel 2 %" PRIu64 " buffers verified\n",
	       t.snk[1].buffers, t.snk[2].buffers);
	dt_print_port_stats("A", t.la);
	dt_print_port_stats("B", t.lb);
	dt_print_chan_stats("A1", t.ca[1]);
	dt_print_chan_stats("B1", t.cb[1]);
	teardown();
	rte_eal_cleanup();
	return CHECK_DONE("test_dpdk_malformed");
}
