/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One end of a verified buffer stream over the DPDK backend, for the
 * two-process tests (test_dpdk_memif.sh, test_dpdk_netns.sh):
 *
 *   dpdk_xfer_peer [EAL args] -- --role create|bind --local-ip A --peer-ip B
 *       [--peer-mac M] [--ep-id E] --count N --min 64 --max 1048576 --seed S
 *       [--peer-timeout-ms T] [--hold-at-end] [--expect-peer-death]
 *       [--port P] [--mtu M] [--pool K] [--log-sizes] [--tx-mode auto|zero-copy|copy]
 *       [--idle-sleep-us U] [--stall-s S] [--progress-s S]
 *
 * The bind side is the source: it allocates a pool of K (32) buffers of
 * --max bytes, assigns it and moves N buffers of lengths drawn from
 * (seed, number) in [min, max], each filled from (seed, number), the
 * number in the meta (tests/dpdk/xfer.c). The create side is the sink: it
 * checks each buffer's meta, length, content, order and exactly-once and
 * passes it back (length 0), so the pool is reused. Once all N are home the
 * bind side tears the channel down and both print their stats and, last,
 *
 *   xfer: role=R buffers=N bytes=B verify_failures=0 dups=0 out_of_order=0 errors=0
 *
 * and exit 0 when every count is as it must be.
 *
 * The create side prints "xfer: listening ..." once its channel waits for
 * the binder; the bind side retries a bind that found nobody.
 *
 * --hold-at-end (sink): keep the last 4 of the N buffers and every buffer
 *   beyond N, print the result line and "hold: ..." and keep polling (the
 *   link stays alive) until killed.
 * --expect-peer-death (source): after N, keep moving while the pool has
 *   free buffers, then wait until the channel closes with
 *   -BULK_E_PEER_GONE; then every buffer of the pool must be back
 *   (bulk_channel_stats.reclaimed counts those the peer held) and, put
 *   back, the free list must be full. Exit 0 only then.
 * --progress-s: a "progress(...)" line and the counters every S seconds
 *   (default 10; 0: never). SIGTERM prints the counters and exits 4.
 * --stall-s: a hang detector (no progress at all for that long: print the
 *   counters and exit 3), off while holding or waiting for the peer's death.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_eal.h>
#include <rte_ethdev.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_dpdk.h>

#include "xfer.h"

#define HOLD_LAST 4

struct opts {
	const char *role;
	uint32_t local_ip, peer_ip;
	uint8_t peer_mac[6];
	uint16_t ep_id, port, mtu;
	uint64_t count;
	uint32_t min, max, pool;
	uint64_t seed;
	uint32_t peer_timeout_ms;
	bool hold, expect_death, log_sizes;
	enum bulk_dpdk_tx_mode tx_mode;
	unsigned idle_sleep_us;
	double stall_s;
	unsigned progress_s;
};

static void
usage(void)
{
	fprintf(stderr,
		"usage: dpdk_xfer_peer [EAL args] -- --role create|bind --local-ip A --peer-ip B\n"
		"  [--peer-mac M] [--ep-id E] --count N --min BYTES --max BYTES --seed S\n"
		"  [--peer-timeout-ms T] [--hold-at-end] [--expect-peer-death] [--port P]\n"
		"  [--mtu M] [--pool K] [--log-sizes] [--tx-mode auto|zero-copy|copy]\n"
		"  [--idle-sleep-us U] [--stall-s S] [--progress-s S]\n");
	exit(2);
}

static uint64_t
num(const char *what, const char *s, uint64_t lo, uint64_t hi)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "dpdk_xfer_peer: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static uint32_t
ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "dpdk_xfer_peer: bad IPv4 address '%s'\n", s);
		exit(2);
	}
	return ntohl(a.s_addr);
}

static void
parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "local-ip", required_argument, NULL, 'l' },
		{ "peer-ip", required_argument, NULL, 'p' },
		{ "peer-mac", required_argument, NULL, 'M' },
		{ "ep-id", required_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'n' },
		{ "min", required_argument, NULL, 'a' },
		{ "max", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "peer-timeout-ms", required_argument, NULL, 't' },
		{ "hold-at-end", no_argument, NULL, 'H' },
		{ "expect-peer-death", no_argument, NULL, 'D' },
		{ "port", required_argument, NULL, 'P' },
		{ "mtu", required_argument, NULL, 'm' },
		{ "pool", required_argument, NULL, 'k' },
		{ "log-sizes", no_argument, NULL, 'L' },
		{ "tx-mode", required_argument, NULL, 'x' },
		{ "idle-sleep-us", required_argument, NULL, 'i' },
		{ "stall-s", required_argument, NULL, 'S' },
		{ "progress-s", required_argument, NULL, 'g' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->ep_id = 1;
	o->count = 10000;
	o->min = 64;
	o->max = 1048576;
	o->pool = 32;
	o->stall_s = 300;
	o->progress_s = 10;
	o->seed = 1;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->role = optarg;
			break;
		case 'l':
			o->local_ip = ip(optarg);
			break;
		case 'p':
			o->peer_ip = ip(optarg);
			break;
		case 'M': {
			unsigned m[6];

			if (sscanf(optarg, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
				   &m[5]) != 6) {
				fprintf(stderr, "dpdk_xfer_peer: bad MAC '%s'\n", optarg);
				exit(2);
			}
			for (int i = 0; i < 6; i++)
				o->peer_mac[i] = (uint8_t)m[i];
			break;
		}
		case 'e':
			o->ep_id = (uint16_t)num("--ep-id", optarg, 1, 65535);
			break;
		case 'n':
			o->count = num("--count", optarg, 1, 1ull << 40);
			break;
		case 'a':
			o->min = (uint32_t)num("--min", optarg, 1, 1u << 30);
			break;
		case 'b':
			o->max = (uint32_t)num("--max", optarg, 1, 1u << 30);
			break;
		case 's':
			o->seed = num("--seed", optarg, 0, UINT64_MAX);
			break;
		case 't':
			o->peer_timeout_ms = (uint32_t)num("--peer-timeout-ms", optarg, 1, 3600000);
			break;
		case 'H':
			o->hold = true;
			break;
		case 'D':
			o->expect_death = true;
			break;
		case 'P':
			o->port = (uint16_t)num("--port", optarg, 0, 65535);
			break;
		case 'm':
			o->mtu = (uint16_t)num("--mtu", optarg, 0, 65535);
			break;
		case 'k':
			o->pool = (uint32_t)num("--pool", optarg, 1, 65536);
			break;
		case 'L':
			o->log_sizes = true;
			break;
		case 'x':
			if (strcmp(optarg, "auto") == 0)
				o->tx_mode = BULK_DPDK_TX_AUTO;
			else if (strcmp(optarg, "zero-copy") == 0)
				o->tx_mode = BULK_DPDK_TX_ZERO_COPY;
			else if (strcmp(optarg, "copy") == 0)
				o->tx_mode = BULK_DPDK_TX_COPY;
			else
				usage();
			break;
		case 'i':
			o->idle_sleep_us = (unsigned)num("--idle-sleep-us", optarg, 0, 1000000);
			break;
		case 'S':
			o->stall_s = (double)num("--stall-s", optarg, 1, 86400);
			break;
		case 'g':
			o->progress_s = (unsigned)num("--progress-s", optarg, 0, 86400);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->role == NULL || o->local_ip == 0 || o->peer_ip == 0 ||
	    (strcmp(o->role, "create") != 0 && strcmp(o->role, "bind") != 0) || o->min > o->max)
		usage();
	if (o->hold && strcmp(o->role, "create") != 0) {
		fprintf(stderr, "dpdk_xfer_peer: --hold-at-end is for the create (sink) side\n");
		exit(2);
	}
	if (o->expect_death && strcmp(o->role, "bind") != 0) {
		fprintf(stderr, "dpdk_xfer_peer: --expect-peer-death is for the bind (source) side\n");
		exit(2);
	}
}


static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	int *f = arg;

	(void)ch;
	*f = err == 0 ? 1 : err;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct opts o;
static struct bulk_domain *dom;
static struct bulk_dpdk_port *link_;
static unsigned idle_rounds;
static volatile sig_atomic_t got_term;
static struct xfer *progress_x;
static struct bulk_channel *progress_ch;
static double progress_next;

static void print_stats(const char *role, struct bulk_channel *ch);

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* Every --progress-s: where we are (a slow run shows why); on SIGTERM: the same, then exit 4. */
static void
progress(void)
{
	static unsigned long calls;
	double t;

	if (got_term) {
		fprintf(stderr, "dpdk_xfer_peer(%s): terminated\n", o.role);
		if (progress_x != NULL) {
			print_stats(o.role, progress_ch);
			xfer_print_result(progress_x, o.role);
		}
		exit(4);
	}
	if (o.progress_s == 0 || progress_x == NULL || (++calls & 0x3ff) != 0)
		return;
	t = now_s();
	if (progress_next == 0)
		progress_next = t + o.progress_s;
	if (t < progress_next)
		return;
	progress_next = t + o.progress_s;
	printf("progress(%s): next=%" PRIu64 " buffers=%" PRIu64 " back=%" PRIu64 " away=%" PRIu64
	       " MiB=%.1f\n", o.role, progress_x->next, progress_x->buffers, progress_x->back,
	       progress_x->nawy, (double)progress_x->bytes / 1048576.0);
	print_stats(o.role, progress_ch);
}

/* One round: the link (answers ARP and binders before a channel exists), then the domain. */
static int
poll_once(void)
{
	int a = bulk_dpdk_port_poll(link_, 0), b = bulk_domain_poll(dom, 0);

	if (a < 0 || b < 0) {
		fprintf(stderr, "dpdk_xfer_peer: poll failed: %d %d (%s)\n", a, b,
			bulk_strerror(a < 0 ? a : b));
		exit(1);
	}
	progress();
	if (a + b == 0) {
		if (o.idle_sleep_us) {
			struct timespec ts = { 0, (long)o.idle_sleep_us * 1000 };

			nanosleep(&ts, NULL);
		} else if (++idle_rounds % 16 == 0) {
			sched_yield(); /* 2 cores, 3 busy pollers: let the others run */
		}
	} else {
		idle_rounds = 0;
	}
	return a + b;
}

static void
print_stats(const char *role, struct bulk_channel *ch)
{
	struct bulk_dpdk_port_stats ps;
	struct bulk_dpdk_chan_stats cs;
	struct bulk_channel_stats st;

	memset(&ps, 0, sizeof(ps));
	if (bulk_dpdk_port_stats_get(link_, &ps) == 0)
		printf("port: rx_frames=%" PRIu64 " tx_frames=%" PRIu64 " rx_not_ours=%" PRIu64
		       " rx_malformed=%" PRIu64 " rx_csum_drops=%" PRIu64 " rx_unknown_chan=%" PRIu64
		       " arp_rx=%" PRIu64 " arp_tx=%" PRIu64 " tx_full=%" PRIu64 "\n",
		       ps.rx_frames, ps.tx_frames, ps.rx_not_ours, ps.rx_malformed,
		       ps.rx_csum_drops, ps.rx_unknown_chan, ps.arp_rx, ps.arp_tx, ps.tx_full);
	if (ch == NULL)
		return;
	memset(&cs, 0, sizeof(cs));
	if (bulk_dpdk_chan_stats_get(ch, &cs) == 0)
		printf("chan: frames_tx=%" PRIu64 " frames_rx=%" PRIu64 " bytes_tx=%" PRIu64
		       " bytes_rx=%" PRIu64 " retransmits=%" PRIu64 " rto_expired=%" PRIu64
		       " naks_tx=%" PRIu64 " naks_rx=%" PRIu64 " dups_rx=%" PRIu64
		       " out_of_window=%" PRIu64 " csum_drops=%" PRIu64 " bad_frames=%" PRIu64
		       " acks_tx=%" PRIu64 " tx_zero_copy=%" PRIu64 " tx_copied=%" PRIu64
		       " rtt_us=%u rto_us=%u cwnd=%u mss=%u\n",
		       cs.frames_tx, cs.frames_rx, cs.bytes_tx, cs.bytes_rx, cs.retransmits,
		       cs.rto_expired, cs.naks_tx, cs.naks_rx, cs.dups_rx, cs.out_of_window,
		       cs.csum_drops, cs.bad_frames, cs.acks_tx, cs.tx_zero_copy, cs.tx_copied,
		       cs.rtt_us, cs.rto_us, cs.cwnd, cs.mss);
	memset(&st, 0, sizeof(st));
	if (bulk_channel_stats_get(ch, &st) == 0)
		printf("stats(%s): tx_bufs=%" PRIu64 " rx_bufs=%" PRIu64 " tx_bytes=%" PRIu64
		       " rx_bytes=%" PRIu64 " moves_tx=%" PRIu64 " moves_rx=%" PRIu64
		       " passes_tx=%" PRIu64 " passes_rx=%" PRIu64 " bad_desc=%" PRIu64
		       " retransmits=%" PRIu64 " reclaimed=%" PRIu64 "\n",
		       role, st.tx_bufs, st.rx_bufs, st.tx_bytes, st.rx_bytes, st.moves_tx,
		       st.moves_rx, st.passes_tx, st.passes_rx, st.bad_desc, st.retransmits,
		       st.reclaimed);
	fflush(stdout);
}

static void
stalled(const char *role, struct bulk_channel *ch, const struct xfer *x)
{
	fprintf(stderr, "dpdk_xfer_peer(%s): no progress for %.0f s: sent/expected %" PRIu64
		", buffers %" PRIu64 ", back %" PRIu64 ", away %" PRIu64 ", channel %s\n",
		role, o.stall_s, x->next, x->buffers, x->back, x->nawy,
		ch ? bulk_channel_state_name(bulk_channel_state(ch)) : "none");
	print_stats(role, ch);
	xfer_print_result(x, role);
	exit(3);
}

/* The sink. */
static int
run_create(struct xfer *x)
{
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_RX,
		.meta_size = XFER_META_SIZE,
		.queue_size = 1024,
		.user = x,
	};
	bool printed = false;
	uint64_t last = 0;
	double tlast = now_s(), t0 = 0;
	unsigned long it = 0;
	int rc;

	if (o.hold)
		x->hold_from = o.count >= HOLD_LAST ? o.count - HOLD_LAST : 0;
	rc = bulk_dpdk_endpoint_create(dom, o.ep_id, &ep);
	if (rc == 0)
		rc = bulk_channel_create(ep, &xfer_callbacks, &cp, &ch);
	if (rc != 0) {
		fprintf(stderr, "dpdk_xfer_peer: endpoint/channel: %s\n", bulk_strerror(rc));
		return 1;
	}
	x->ch = ch;
	progress_x = x;
	progress_ch = ch;
	printf("xfer: listening on endpoint %u\n", o.ep_id);
	fflush(stdout);
	while (bulk_channel_state(ch) != BULK_STATE_CLOSED) {
		poll_once();
		xfer_flush(x);
		if (t0 == 0 && x->buffers > 0)
			t0 = now_s();
		if (x->buffers != last || x->extra != 0 || bulk_channel_state(ch) !=
		    BULK_STATE_CONNECTED) {
			last = x->buffers;
			tlast = 0;
		} else if ((++it & 0xfff) == 0 && !printed) {
			double t = now_s();

			if (tlast == 0)
				tlast = t;
			else if (t - tlast > o.stall_s)
				stalled("create", ch, x);
		}
		if (o.hold && !printed && x->buffers == o.count) {
			double t = now_s();

			print_stats("create", ch);
			printf("xfer: %.1f MiB in %.2f s\n", (double)x->bytes / 1048576.0, t - t0);
			xfer_print_result(x, "create");
			printf("hold: holding %u buffers, waiting to be killed\n", x->nheld);
			fflush(stdout);
			printed = true;
		}
	}
	/* Closed: by the source's teardown, or it went away. */
	print_stats("create", ch);
	if (t0 != 0)
		printf("xfer: %.1f MiB in %.2f s\n", (double)x->bytes / 1048576.0, now_s() - t0);
	if (x->teardown_reason != 0)
		printf("xfer: channel closed: %s\n", bulk_strerror(x->teardown_reason));
	if (x->buffers != o.count) {
		fprintf(stderr, "dpdk_xfer_peer: received %" PRIu64 " of %" PRIu64 " buffers\n",
			x->buffers, o.count);
		x->errors++;
	}
	if (o.hold) {
		fprintf(stderr, "dpdk_xfer_peer: --hold-at-end, but the channel closed\n");
		x->errors++;
	}
	xfer_print_result(x, "create");
	bulk_channel_free(ch);
	bulk_endpoint_free(ep);
	return x->verify_failures || x->dups || x->out_of_order || x->errors ? 1 : 0;
}

/* The source. */
static int
run_bind(struct xfer *x)
{
	struct bulk_endpoint *ep;
	struct bulk_channel *ch = NULL;
	struct bulk_bind_params bp = { .user = x };
	struct bulk_pool_params pp = { .count = o.pool, .buffer_size = o.max };
	struct bulk_pool *pool;
	struct bulk_channel_stats st;
	int bound = 0, assigned = 0, closed = 0, rc;
	uint64_t last = 0, reclaimed_put = 0, away_at_close;
	double tlast = 0, t0, t1 = 0;
	unsigned long it = 0;
	bool ok = true;

	rc = bulk_dpdk_endpoint_remote(link_, o.ep_id, &ep);
	if (rc != 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_dpdk_endpoint_remote: %s\n", bulk_strerror(rc));
		return 1;
	}
	for (int attempt = 1;; attempt++) {
		bound = 0;
		rc = bulk_channel_bind(dom, ep, &xfer_callbacks, &bp,
				       (struct bulk_cont){ set_flag, &bound }, &ch);
		if (rc != 0) {
			fprintf(stderr, "dpdk_xfer_peer: bulk_channel_bind: %s\n", bulk_strerror(rc));
			return 1;
		}
		while (bound == 0)
			poll_once();
		if (bound == 1)
			break;
		fprintf(stderr, "dpdk_xfer_peer: bind attempt %d: %s\n", attempt,
			bulk_strerror(bound));
		while (bulk_channel_free(ch) == -EBUSY)
			poll_once();
		if ((bound != -BULK_E_PEER_GONE && bound != -BULK_E_EP_NO_CHANNEL) || attempt == 20)
			return 1;
	}
	printf("xfer: bound to endpoint %u\n", o.ep_id);
	rc = bulk_pool_alloc(dom, &pp, &pool);
	if (rc == 0)
		rc = bulk_channel_assign_pool(ch, pool, (struct bulk_cont){ set_flag, &assigned });
	if (rc != 0) {
		fprintf(stderr, "dpdk_xfer_peer: pool: %s\n", bulk_strerror(rc));
		return 1;
	}
	while (assigned == 0)
		poll_once();
	if (assigned != 1) {
		fprintf(stderr, "dpdk_xfer_peer: pool assignment: %s\n", bulk_strerror(assigned));
		return 1;
	}
	x->ch = ch;
	x->pool = pool;
	progress_x = x;
	progress_ch = ch;
	if (o.expect_death)
		x->limit = UINT64_MAX; /* the pool's size bounds it */
	t0 = now_s();
	for (;;) {
		xfer_pump(x);
		poll_once();
		if (x->closed || bulk_channel_state(ch) == BULK_STATE_CLOSED)
			break;
		if (x->errors)
			break;
		if (t1 == 0 && x->next >= o.count && (o.expect_death || x->nawy == 0))
			t1 = now_s();
		if (!o.expect_death && x->next == o.count && x->nawy == 0 && x->stash == NULL)
			break;
		if (x->back != last) {
			last = x->back;
			tlast = 0;
		} else if ((++it & 0xfff) == 0 && !(o.expect_death && x->next >= o.count)) {
			double t = now_s();

			if (tlast == 0)
				tlast = t;
			else if (t - tlast > o.stall_s)
				stalled("bind", ch, x);
		}
	}
	if (t1 == 0)
		t1 = now_s();
	printf("xfer: %.1f MiB in %.2f s (%.1f MiB/s)\n", (double)x->bytes / 1048576.0, t1 - t0,
	       (double)x->bytes / 1048576.0 / (t1 - t0));
	if (!o.expect_death) {
		if (bulk_channel_state(ch) == BULK_STATE_CLOSED) {
			fprintf(stderr, "dpdk_xfer_peer: the channel closed early: %s\n",
				bulk_strerror(x->teardown_reason));
			x->errors++;
		} else {
			rc = bulk_channel_destroy(ch, (struct bulk_cont){ set_flag, &closed });
			if (rc != 0) {
				fprintf(stderr, "dpdk_xfer_peer: destroy: %s\n", bulk_strerror(rc));
				x->errors++;
			} else {
				while (closed == 0)
					poll_once();
				if (closed != 1) {
					fprintf(stderr, "dpdk_xfer_peer: teardown: %s\n",
						bulk_strerror(closed));
					x->errors++;
				}
			}
		}
		if (bulk_pool_free_count(pool) != o.pool) {
			fprintf(stderr, "dpdk_xfer_peer: %u of %u buffers in the free list\n",
				bulk_pool_free_count(pool), o.pool);
			x->errors++;
		}
		print_stats("bind", ch);
	} else {
		/* The peer must have been declared gone. */
		away_at_close = x->nawy;
		printf("peer-death: channel %s, reason %d (%s), %" PRIu64 " buffers were away\n",
		       bulk_channel_state_name(bulk_channel_state(ch)), x->teardown_reason,
		       bulk_strerror(x->teardown_reason), away_at_close);
		if (bulk_channel_state(ch) != BULK_STATE_CLOSED ||
		    x->teardown_reason != -BULK_E_PEER_GONE) {
			fprintf(stderr, "dpdk_xfer_peer: expected the channel CLOSED with "
				"BULK_E_PEER_GONE\n");
			ok = false;
		}
		if (x->next < o.count) {
			fprintf(stderr, "dpdk_xfer_peer: only %" PRIu64 " of %" PRIu64
				" buffers sent before the peer died\n", x->next, o.count);
			ok = false;
		}
		reclaimed_put = xfer_put_home(x);
		memset(&st, 0, sizeof(st));
		bulk_channel_stats_get(ch, &st);
		printf("peer-death: reclaimed=%" PRIu64 " put_back=%" PRIu64 " free=%u/%u\n",
		       st.reclaimed, reclaimed_put, bulk_pool_free_count(pool), o.pool);
		if (st.reclaimed != away_at_close || x->nawy != 0 ||
		    bulk_pool_free_count(pool) != o.pool) {
			fprintf(stderr, "dpdk_xfer_peer: not every buffer came back\n");
			ok = false;
		}
		print_stats("bind", ch);
		if (!ok)
			x->errors++;
	}
	xfer_print_result(x, "bind");
	if (bulk_channel_free(ch) != 0 || bulk_endpoint_free(ep) != 0) {
		fprintf(stderr, "dpdk_xfer_peer: channel/endpoint free failed\n");
		return 1;
	}
	if (bulk_pool_free_count(pool) == o.pool && bulk_pool_free(pool) != 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_pool_free failed\n");
		return 1;
	}
	return x->verify_failures || x->dups || x->out_of_order || x->errors ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct bulk_dpdk_port_params pp;
	struct xfer x;
	int rc, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	n = bulk_dpdk_init(argc, argv);
	if (n < 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_dpdk_init: %d (%s)\n", n, strerror(-n));
		return 1;
	}
	argc -= n;
	argv += n;
	parse(argc, argv, &o);
	xfer_init(&x, o.role, o.seed, o.count, o.min, o.max);
	x.log_sizes = o.log_sizes;
	printf("xfer: role=%s seed=%" PRIu64 " count=%" PRIu64 " min=%u max=%u%s port=%u\n", o.role,
	       o.seed, o.count, o.min, o.max, o.log_sizes ? " log-sizes" : "", o.port);

	rc = bulk_domain_create(o.role, &dom);
	if (rc != 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_domain_create: %s\n", bulk_strerror(rc));
		return 1;
	}
	memset(&pp, 0, sizeof(pp));
	pp.port_id = o.port;
	pp.local_ip = o.local_ip;
	pp.peer_ip = o.peer_ip;
	memcpy(pp.peer_mac, o.peer_mac, 6);
	pp.mtu = o.mtu;
	pp.peer_timeout_ms = o.peer_timeout_ms;
	pp.tx_mode = o.tx_mode;
	pp.configure = 1;
	rc = bulk_dpdk_port_open(dom, &pp, &link_);
	if (rc != 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_dpdk_port_open(port %u): %d (%s)\n", o.port, rc,
			rc < 0 && -rc < 4096 ? strerror(-rc) : bulk_strerror(rc));
		return 1;
	}
	rc = strcmp(o.role, "create") == 0 ? run_create(&x) : run_bind(&x);
	if (bulk_dpdk_port_close(link_) != 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_dpdk_port_close failed\n");
		rc = 1;
	}
	/* The port is the application's (its vdev came with our EAL arguments):
	 * closing it frees what the PMD holds (af_xdp: libxdp's umem). */
	rte_eth_dev_close(o.port);
	/* A sink whose peer died may still own buffers of the received pool: dropped with it. */
	if (bulk_domain_destroy(dom) != 0 && rc == 0) {
		fprintf(stderr, "dpdk_xfer_peer: bulk_domain_destroy failed\n");
		rc = 1;
	}
	xfer_fini(&x);
	rte_eal_cleanup();
	return rc;
}
