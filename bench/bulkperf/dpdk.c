/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One side of one link per process over the dpdk backend, started by hand
 * like the shm pair (shm.c), with a DPDK port where shm has a socket name:
 *
 *   --role create  the reflector: the sink of the link; creates its channel
 *                  as RX on endpoint number --ep-id and passes every buffer
 *                  straight back until the peer tears the channel down or
 *                  goes away;
 *   --role bind    the source: binds as TX to the peer's --ep-id over the
 *                  port (retrying while nobody answers), assigns its pool
 *                  and runs --mode.
 *
 * bulkperf owns EAL here: it initialises it with the arguments before "--"
 * (bulk_dpdk_init()), lets the library configure and start the port
 * (params.configure) and closes the port and EAL at the end. Besides the
 * usual blocks it prints the transport's counters of the channel (frames,
 * retransmissions, NAKs, duplicates, zero-copy against copied frames, RTT),
 * the link's and the ethdev's, and the CPU time the run took.
 *
 * A DPDK channel has no fd to sleep on: both sides busy-poll, yielding the
 * CPU when idle so that a peer (or the kernel's half of a veth pair) on the
 * same CPU still runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_dpdk.h>

#include "bulkperf.h"

/* The binder retries at least this long while nobody answers. */
#define PERF_DPDK_BIND_RETRY_NS (20 * PERF_SEC_NS)
#define PERF_DPDK_RETRY_GAP_NS	(100 * 1000 * 1000)
/* Idle spins between sched_yield()s and clock reads. */
#define PERF_DPDK_IDLE_SPINS	64u
/* The reflector nobody bound to yet naps after this long idle. */
#define PERF_DPDK_NAP_AFTER_NS	(50 * 1000 * 1000)
#define PERF_DPDK_NAP_NS	(1000 * 1000)
/* Closing over a lossy link takes retransmissions: more than the shm 5 s. */
#define PERF_DPDK_CLOSE_NS	(15 * PERF_SEC_NS)
#define PERF_DPDK_GIVE_UP_NS	(10 * PERF_SEC_NS)
#define PERF_DPDK_PORT_BUDGET	64u

/* What this process keeps besides the run: one link, its counters, CPU time. */
struct perf_dpdk {
	const struct perf_opts *o;
	char **eal_argv;
	bool eal;
	struct bulk_dpdk_port *port;
	bool port_configured; /* bulk_dpdk_port_open() opened it: close the ethdev too */
	char local[INET_ADDRSTRLEN];
	char peer[INET_ADDRSTRLEN];
	/* Read before the channel and the link go away. */
	struct bulk_dpdk_chan_stats chan;
	bool have_chan;
	struct bulk_dpdk_port_stats link;
	bool have_link;
	struct rte_eth_stats eth;
	bool have_eth;
	/* Process CPU time (all threads) from the start of the clock to its end. */
	struct rusage ru0, ru1;
	bool cpu_started, cpu_done;
};


static bool
perf_dpdk_cancelled(struct perf_node *n)
{
	if (atomic_load_explicit(&perf_interrupted, memory_order_relaxed)) {
		fprintf(stderr, "bulkperf: %s: interrupted during setup\n", n->name);
		return true;
	}
	return false;
}


/* Setup loops: the link (ARP, bind requests and answers) and the domain. */
static int
perf_dpdk_poll_setup(struct perf_dpdk *d, struct perf_node *n)
{
	int rc = bulk_dpdk_port_poll(d->port, PERF_DPDK_PORT_BUDGET);

	if (rc < 0)
		return rc;
	return bulk_domain_poll(n->dom, 0);
}

static void
perf_dpdk_cpu_start(struct perf_dpdk *d)
{
	getrusage(RUSAGE_SELF, &d->ru0);
	d->cpu_started = true;
}

static void
perf_dpdk_cpu_stop(struct perf_dpdk *d)
{
	if (!d->cpu_started)
		return;
	getrusage(RUSAGE_SELF, &d->ru1);
	d->cpu_done = true;
}

static double
perf_dpdk_tv(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_usec - a->tv_usec) / 1e6;
}

/* -------------------------------------------------------------- callbacks */


static const struct bulk_channel_callbacks perf_dpdk_cb_source = {
	.buffer_received = perf_source_on_return,
	.move_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

static const struct bulk_channel_callbacks perf_dpdk_cb_sink = {
	.pool_assigned = perf_on_pool_assigned,
	.move_received = perf_sink_on_move,
	.buffer_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

/* ---------------------------------------------------------- EAL and port */

static int
perf_dpdk_eal(struct perf_dpdk *d)
{
	const struct perf_opts *o = d->o;
	int rc;

	/* rte_eal_init() permutes what it gets: a copy, NULL-terminated. */
	d->eal_argv = calloc((size_t)o->eal_argc + 1, sizeof(*d->eal_argv));
	if (d->eal_argv == NULL)
		return -ENOMEM;
	memcpy(d->eal_argv, o->eal_argv, (size_t)o->eal_argc * sizeof(*d->eal_argv));
	rc = bulk_dpdk_init(o->eal_argc, d->eal_argv);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: EAL initialisation failed: %s\n", bulk_strerror(rc));
		fprintf(stderr, "bulkperf: EAL arguments:");
		for (int i = 1; i < o->eal_argc; i++)
			fprintf(stderr, " %s", o->eal_argv[i]);
		fprintf(stderr, "%s\n",
			o->eal_argc <= 1 ? " (none: put them before \"--\", e.g. -l 1 --no-pci "
					   "--no-huge -m 512 --no-shconf --vdev "
					   "net_af_xdp0,iface=IF)"
					 : "");
		return rc;
	}
	d->eal = true;
	return 0;
}

static int
perf_dpdk_open(struct perf_dpdk *d, struct perf_node *n)
{
	const struct perf_opts *o = d->o;
	struct bulk_dpdk_port_params pp;
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	struct rte_ether_addr mac;
	uint16_t mtu = 0;
	int rc;

	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "bulkperf: EAL found no port: give one with --vdev (e.g. "
				"net_af_xdp0,iface=IF or net_memif0,role=server,socket=PATH) "
				"before \"--\"\n");
		return -ENODEV;
	}
	if (!rte_eth_dev_is_valid_port(o->port)) {
		fprintf(stderr, "bulkperf: --port %u: no such port (EAL found %u)\n", o->port,
			(unsigned)rte_eth_dev_count_avail());
		return -ENODEV;
	}
	memset(&pp, 0, sizeof(pp));
	pp.port_id = o->port;
	pp.queue_id = 0;
	pp.local_ip = o->local_ip;
	pp.peer_ip = o->peer_ip;
	memcpy(pp.peer_mac, o->peer_mac, sizeof(pp.peer_mac));
	pp.udp_port = o->udp_port;
	pp.mtu = o->mtu;
	pp.window = o->window;
	pp.peer_timeout_ms = o->peer_timeout_ms;
	pp.tx_mode = o->tx_mode == PERF_TX_ZERO_COPY ? BULK_DPDK_TX_ZERO_COPY
		     : o->tx_mode == PERF_TX_COPY    ? BULK_DPDK_TX_COPY
						     : BULK_DPDK_TX_AUTO;
	pp.configure = 1;
	rc = bulk_dpdk_port_open(n->dom, &pp, &d->port);
	if (rc < 0) {
		d->port = NULL;
		fprintf(stderr, "bulkperf: %s: open port %u (%s -> %s): %s\n", n->name, o->port,
			d->local, d->peer, bulk_strerror(rc));
		return rc;
	}
	d->port_configured = true;
	rte_eth_dev_get_name_by_port(o->port, name);
	memset(&mac, 0, sizeof(mac));
	rte_eth_macaddr_get(o->port, &mac);
	rte_eth_dev_get_mtu(o->port, &mtu);
	printf("bulkperf: %s: port %u (%s), MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, "
	       "%s -> %s, UDP port %u\n",
	       n->name, o->port, name, mac.addr_bytes[0], mac.addr_bytes[1], mac.addr_bytes[2],
	       mac.addr_bytes[3], mac.addr_bytes[4], mac.addr_bytes[5], mtu, d->local, d->peer,
	       o->udp_port != 0 ? o->udp_port : BULK_DPDK_UDP_PORT);
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------------ setup */

static const char *
perf_dpdk_bind_hint(int err)
{
	switch (-err) {
	case BULK_E_BIND_MISMATCH:
		return " (both sides need the same --trust and meta size)";
	case BULK_E_ALREADY_BOUND:
		return " (the create side serves another client)";
	case BULK_E_BIND_REFUSED:
		return " (the create side refused)";
	default:
		return "";
	}
}

/* Nobody listens yet, or nobody answers yet: try again. */
static bool
perf_dpdk_bind_retryable(int err)
{
	return err == -BULK_E_EP_NO_CHANNEL || err == -BULK_E_PEER_GONE;
}

/*
 * Bind the source's end to the peer's endpoint --ep-id as TX. The answer
 * comes in the continuation: -BULK_E_EP_NO_CHANNEL when nobody listens on
 * the number there, -BULK_E_PEER_GONE when nothing answered within the peer
 * timeout; both are retried (a fresh channel each time) for a while.
 */
static int
perf_dpdk_bind(struct perf_run *r, struct perf_dpdk *d, struct perf_end *e,
	       struct bulk_endpoint *ep)
{
	const struct perf_opts *o = r->o;
	struct perf_node *n = e->node;
	uint64_t timeout_ns = (uint64_t)(o->peer_timeout_ms != 0 ? o->peer_timeout_ms
								 : BULK_DPDK_PEER_TIMEOUT_MS) *
			      1000000ull;
	uint64_t retry_ns = 3 * timeout_ns > PERF_DPDK_BIND_RETRY_NS ? 3 * timeout_ns
								     : PERF_DPDK_BIND_RETRY_NS;
	uint64_t deadline = perf_now_ns() + retry_ns;
	struct bulk_bind_params bp;
	bool said = false;
	int rc;

	memset(&bp, 0, sizeof(bp));
	bp.trust = o->trust;
	bp.meta_size = PERF_META_SIZE;
	bp.user = e;
	for (;;) {
		uint64_t answer;

		rc = bulk_channel_bind(n->dom, ep, &perf_dpdk_cb_source, &bp, perf_end_cont(e),
				       &e->ch);
		if (rc < 0) {
			e->ch = NULL;
			e->started = false;
		} else {
			/* The backend answers within the peer timeout; a margin on top. */
			answer = perf_now_ns() + timeout_ns + PERF_SETUP_TIMEOUT_NS;
			while (!e->cont_fired) {
				rc = perf_dpdk_poll_setup(d, n);
				if (rc < 0) {
					fprintf(stderr, "bulkperf: %s: poll while binding: %s\n",
						n->name, bulk_strerror(rc));
					return rc;
				}
				if (perf_dpdk_cancelled(n))
					return -EINTR;
				if (perf_now_ns() > answer) {
					fprintf(stderr,
						"bulkperf: %s: the bind to endpoint %u at %s got no "
						"answer, not even a failure, within %llu ms\n",
						n->name, o->ep_id, d->peer,
						(unsigned long long)((timeout_ns +
								      PERF_SETUP_TIMEOUT_NS) /
								     1000000ull));
					return -ETIMEDOUT;
				}
			}
			e->started = false;
			rc = e->cont_err;
			if (rc == 0)
				break;
			/* A failed bind leaves a CLOSED channel: free it, bind afresh. */
			if (bulk_channel_free(e->ch) < 0) {
				fprintf(stderr, "bulkperf: %s: cannot free the channel of a failed "
						"bind\n",
					n->name);
				r->errors++;
			} else {
				e->ch = NULL;
			}
		}
		if (!perf_dpdk_bind_retryable(rc)) {
			fprintf(stderr, "bulkperf: %s: bind to endpoint %u at %s: %s%s\n", n->name,
				o->ep_id, d->peer, bulk_strerror(rc), perf_dpdk_bind_hint(rc));
			return rc;
		}
		if (e->ch != NULL) /* could not be freed: no second channel over it */
			return rc;
		if (perf_dpdk_cancelled(n))
			return -EINTR;
		if (perf_now_ns() >= deadline) {
			fprintf(stderr,
				"bulkperf: %s: bind to endpoint %u at %s: %s (nobody %s for %llu "
				"s)\n",
				n->name, o->ep_id, d->peer, bulk_strerror(rc),
				rc == -BULK_E_EP_NO_CHANNEL ? "listened" : "answered",
				(unsigned long long)(retry_ns / PERF_SEC_NS));
			return rc;
		}
		if (!said) {
			fprintf(stderr,
				"bulkperf: %s: endpoint %u at %s: %s; retrying for %llu s\n",
				n->name, o->ep_id, d->peer, bulk_strerror(rc),
				(unsigned long long)(retry_ns / PERF_SEC_NS));
			said = true;
		}
		if (rc == -BULK_E_EP_NO_CHANNEL)
			perf_sleep_ns(PERF_DPDK_RETRY_GAP_NS);
	}
	if (!perf_connected(e)) {
		fprintf(stderr, "bulkperf: %s: bind answered, but the channel is %s\n", n->name,
			bulk_channel_state_name(bulk_channel_state(e->ch)));
		return -EPROTO;
	}
	printf("bulkperf: %s: bound to endpoint %u at %s\n", n->name, o->ep_id, d->peer);
	fflush(stdout);
	return 0;
}

/* Source: a pool of anonymous memory (the peer allocates its own), assigned. */
static int
perf_dpdk_assign(struct perf_run *r, struct perf_dpdk *d, struct perf_node *n)
{
	struct perf_end *e = n->down;
	uint64_t deadline;
	int rc;

	rc = perf_pool_alloc(r, n->dom, BULK_MEM_ANON);
	if (rc < 0)
		return rc;
	rc = bulk_channel_assign_pool(e->ch, r->pool, perf_end_cont(e));
	if (rc < 0) {
		fprintf(stderr, "bulkperf: %s: assign pool: %s\n", n->name, bulk_strerror(rc));
		e->started = false;
		return rc;
	}
	deadline = perf_now_ns() + PERF_DPDK_CLOSE_NS;
	while (!e->cont_fired) {
		rc = perf_dpdk_poll_setup(d, n);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: poll: %s\n", n->name, bulk_strerror(rc));
			return rc;
		}
		if (perf_dpdk_cancelled(n))
			return -EINTR;
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: %s: pool assignment did not complete within %llu s\n",
				n->name, PERF_DPDK_CLOSE_NS / PERF_SEC_NS);
			return -ETIMEDOUT;
		}
	}
	return perf_assign_result(r, n, e);
}

/* Create side: the RX channel on endpoint --ep-id, listening. */
static int
perf_dpdk_listen(struct perf_run *r, struct perf_dpdk *d, struct perf_end *e,
		 struct bulk_endpoint *ep)
{
	const struct perf_opts *o = r->o;
	struct bulk_channel_params cp;
	int rc;

	memset(&cp, 0, sizeof(cp));
	cp.direction = BULK_DIRECTION_RX;
	cp.trust = o->trust;
	cp.meta_size = PERF_META_SIZE;
	cp.queue_size = o->queue_size;
	cp.user = e;
	rc = bulk_channel_create(ep, &perf_dpdk_cb_sink, &cp, &e->ch);
	if (rc < 0) {
		e->ch = NULL;
		if (rc == -EADDRINUSE)
			fprintf(stderr, "bulkperf: %s: endpoint %u is taken in this domain\n",
				e->node->name, o->ep_id);
		else
			fprintf(stderr, "bulkperf: %s: cannot create the channel on endpoint %u: "
					"%s\n",
				e->node->name, o->ep_id, bulk_strerror(rc));
		return rc;
	}
	printf("bulkperf: %s: listening on endpoint %u at %s (port %u)\n", e->node->name,
	       o->ep_id, d->local, o->port);
	fflush(stdout);
	return 0;
}

/* ---------------------------------------------------------------- running */

/* One line of the transport's counters, with the periodic block. */
static void
perf_dpdk_periodic_line(struct perf_end *e)
{
	struct bulk_dpdk_chan_stats s;

	if (e->ch == NULL || bulk_dpdk_chan_stats_get(e->ch, &s) != 0)
		return;
	printf("  dpdk: frames TX %" PRIu64 " RX %" PRIu64 ", retransmits %" PRIu64
	       ", NAKs TX %" PRIu64 " RX %" PRIu64 ", dups %" PRIu64 ", zero-copy/copied TX %" PRIu64
	       "/%" PRIu64 ", RTT %u us, RTO %u us, cwnd %u (cumulative)\n",
	       s.frames_tx, s.frames_rx, s.retransmits, s.naks_tx, s.naks_rx, s.dups_rx,
	       s.tx_zero_copy, s.tx_copied, s.rtt_us, s.rto_us, s.cwnd);
	fflush(stdout);
}

static void
perf_dpdk_tick(struct perf_run *r, struct perf_node *n, uint64_t period, bool show)
{
	uint64_t now = perf_now_ns();

	if (!show || period == 0 || now - r->t_last_print < period)
		return;
	perf_stats_periodic(r, now, true);
	perf_dpdk_periodic_line(n->down != NULL ? n->down : n->up);
}

/* Nothing to do: spin, and give the CPU away now and then. */
static void
perf_dpdk_idle(unsigned *spins)
{
	if (++*spins < PERF_DPDK_IDLE_SPINS) {
		perf_cpu_relax();
		return;
	}
	*spins = 0;
	sched_yield();
}

static void
perf_dpdk_run_source(struct perf_run *r, struct perf_dpdk *d, struct perf_node *n)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t last = 0, last_t;
	unsigned iter = 0, spins = 0;

	perf_start_clock(r);
	perf_dpdk_cpu_start(d);
	last_t = r->t_start;
	for (;;) {
		unsigned work = perf_step(r, n);

		if (perf_source_done(r) || perf_aborted(r))
			break;
		if ((++iter & 63) == 0) {
			perf_dpdk_tick(r, n, period, true);
			if (perf_watchdog(r, perf_now_ns(), &last, &last_t))
				break;
		}
		if (work != 0)
			spins = 0;
		else
			perf_dpdk_idle(&spins);
	}
	r->t_end = perf_now_ns();
	perf_dpdk_cpu_stop(d);
}


/*
 * The reflector: pass back what arrives until the peer closes. The clock
 * runs from the moment a peer bound. Interrupted, it sends every buffer
 * home marked PERF_SEQ_STOP and bounces the rest, so the source drains and
 * closes in order.
 */
static void
perf_dpdk_run_relay(struct perf_run *r, struct perf_dpdk *d, struct perf_node *n)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t since = 0, gave_up = 0;
	unsigned iter = 0, spins = 0;
	bool bound = false;

	for (;;) {
		unsigned work;

		/* Before the binder's request arrived: the link, not a channel, hears it. */
		if (!bound) {
			int rc = bulk_dpdk_port_poll(d->port, PERF_DPDK_PORT_BUDGET);

			if (rc < 0) {
				fprintf(stderr, "bulkperf: %s: port poll: %s\n", n->name,
					bulk_strerror(rc));
				r->errors++;
				break;
			}
		}
		work = perf_step(r, n);
		if (!bound && perf_connected(n->up)) {
			bound = true;
			perf_start_clock(r);
			perf_dpdk_cpu_start(d);
			printf("bulkperf: %s: a peer bound\n", n->name);
			fflush(stdout);
		}
		if (n->up->closed)
			break;
		if (!n->bounce && (perf_aborted(r) || atomic_load_explicit(&perf_interrupted,
									  memory_order_relaxed))) {
			if (!perf_connected(n->up))
				break;
			if (!perf_aborted(r))
				fprintf(stderr, "bulkperf: %s: interrupted; sending every buffer back "
						"until the source closes the link\n",
					n->name);
			n->bounce = true;
			r->ends[0].q.head = r->ends[0].q.tail;
			perf_pass_home(r, n);
			gave_up = perf_now_ns();
		}
		if (n->bounce && perf_now_ns() - gave_up > PERF_DPDK_GIVE_UP_NS) {
			fprintf(stderr, "bulkperf: %s: the source did not close within %llu s after "
					"this process gave up\n",
				n->name, PERF_DPDK_GIVE_UP_NS / PERF_SEC_NS);
			r->errors++;
			break;
		}
		if ((++iter & 63) == 0)
			perf_dpdk_tick(r, n, period, bound);
		if (work != 0) {
			spins = 0;
			since = 0;
			continue;
		}
		if (bound) {
			perf_dpdk_idle(&spins);
			continue;
		}
		/* Waiting for a binder: nap once idle for a while (it repeats its request). */
		if (since == 0)
			since = perf_now_ns();
		else if (perf_now_ns() - since > PERF_DPDK_NAP_AFTER_NS)
			perf_sleep_ns(PERF_DPDK_NAP_NS);
		else
			perf_dpdk_idle(&spins);
	}
	r->t_end = perf_now_ns();
	perf_dpdk_cpu_stop(d);
	if (!bound)
		r->t_start = r->t_end;
	if (n->up->closed && n->up->close_reason != 0)
		printf("bulkperf: %s: the peer went away without a teardown: %s\n", n->name,
		       bulk_strerror(n->up->close_reason));
}

/* --------------------------------------------------------------- teardown */

/* Destroy the channel (if still open) and wait until it is closed. */
static void
perf_dpdk_close(struct perf_run *r, struct perf_dpdk *d, struct perf_node *n, struct perf_end *e)
{
	uint64_t deadline;
	int rc;

	if (e->ch == NULL)
		return;
	if (bulk_channel_state(e->ch) == BULK_STATE_CONNECTED ||
	    bulk_channel_state(e->ch) == BULK_STATE_INITIALIZED) {
		rc = bulk_channel_destroy(e->ch, perf_end_cont(e));
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: destroy the channel: %s\n", n->name,
				bulk_strerror(rc));
			e->started = false;
			r->errors++;
		}
	}
	deadline = perf_now_ns() + PERF_DPDK_CLOSE_NS;
	for (;;) {
		enum bulk_channel_state st = bulk_channel_state(e->ch);

		/* A channel can only be freed once its destroy continuation ran. */
		if ((st == BULK_STATE_CLOSED || st == BULK_STATE_INITIALIZED) &&
		    !(e->started && !e->cont_fired))
			break;
		rc = perf_dpdk_poll_setup(d, n);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: poll during teardown: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
			break;
		}
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: %s: the channel did not close within %llu s "
					"(state %s)\n",
				n->name, PERF_DPDK_CLOSE_NS / PERF_SEC_NS,
				bulk_channel_state_name(st));
			r->errors++;
			break;
		}
	}
	if (e->started && e->cont_fired && e->cont_err != 0 && e->cont_err != -BULK_E_PEER_GONE) {
		fprintf(stderr, "bulkperf: %s: teardown: %s\n", n->name, bulk_strerror(e->cont_err));
		r->errors++;
	}
}



static void
perf_dpdk_teardown(struct perf_run *r, struct perf_dpdk *d, struct perf_node *n)
{
	struct perf_end *e = &r->ends[0];
	uint32_t held = 0;
	int rc;

	if (n == NULL || n->dom == NULL)
		goto eal;
	r->tearing_down = true;
	if (n->role == PERF_ROLE_SOURCE)
		perf_pool_home(r);
	if (n->role == PERF_ROLE_SOURCE && e->ch != NULL)
		perf_check_source(r, n);
	else
		perf_pass_home(r, n);
	if (d->port != NULL)
		perf_dpdk_close(r, d, n, e);
	if (n->role != PERF_ROLE_SOURCE) {
		held = perf_held(n);
		if (held != 0)
			fprintf(stderr, "bulkperf: %s: %u buffers of the source's pool are still here\n",
				n->name, held);
	}
	if (e->ch != NULL) {
		d->have_chan = bulk_dpdk_chan_stats_get(e->ch, &d->chan) == 0;
		bulk_channel_stats_get(e->ch, &e->lib);
		rc = bulk_channel_free(e->ch);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free the channel: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
		} else {
			e->ch = NULL;
		}
	}
	for (unsigned i = 0; i < r->neps; i++) {
		if (r->eps[i] == NULL)
			continue;
		rc = bulk_endpoint_free(r->eps[i]);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free endpoint: %s\n", n->name, bulk_strerror(rc));
			r->errors++;
		} else {
			r->eps[i] = NULL;
		}
	}
	n->view = NULL; /* dropped with the channel it was assigned to */
	if (r->pool != NULL) {
		rc = bulk_pool_free(r->pool);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free pool: %s\n", n->name, bulk_strerror(rc));
			r->errors++;
		} else {
			r->pool = NULL;
		}
	}
	if (d->port != NULL) {
		d->have_link = bulk_dpdk_port_stats_get(d->port, &d->link) == 0;
		d->have_eth = rte_eth_stats_get(d->o->port, &d->eth) == 0;
		rc = bulk_dpdk_port_close(d->port);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: close the port: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
		} else {
			d->port = NULL;
		}
	}
	if (held == 0 && d->port == NULL) {
		rc = bulk_domain_destroy(n->dom);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: destroy domain: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
		} else {
			n->dom = NULL;
		}
	}
eal:
	/*
	 * The library stopped the port; closing it (af_xdp: detach the XDP
	 * program from the interface; memif: drop the socket) and EAL is ours.
	 */
	if (d->port_configured && d->port == NULL)
		(void)rte_eth_dev_close(d->o->port);
	if (d->eal && d->port == NULL && (n == NULL || n->dom == NULL))
		(void)rte_eal_cleanup();
}

/* ----------------------------------------------------------------- report */

static void
perf_dpdk_report(struct perf_run *r, struct perf_dpdk *d)
{
	const struct perf_opts *o = r->o;
	const struct bulk_dpdk_chan_stats *s = &d->chan;
	struct perf_ctrs_snap m;

	printf("\n  ######################## DPDK link: port %u, %s -> %s, UDP port %u, endpoint %u "
	       "########################\n",
	       o->port, d->local, d->peer, o->udp_port != 0 ? o->udp_port : BULK_DPDK_UDP_PORT,
	       o->ep_id);
	if (d->have_chan) {
		printf("  Channel   frames TX: %-12" PRIu64 " RX: %-12" PRIu64 " payload bytes TX: %-14" PRIu64
		       " RX: %" PRIu64 "\n",
		       s->frames_tx, s->frames_rx, s->bytes_tx, s->bytes_rx);
		printf("            zero-copy TX frames: %-10" PRIu64 " copied TX frames: %-10" PRIu64
		       " MSS: %u bytes\n",
		       s->tx_zero_copy, s->tx_copied, s->mss);
		printf("            retransmits: %-8" PRIu64 " RTO expired: %-8" PRIu64
		       " NAKs TX: %-8" PRIu64 " NAKs RX: %-8" PRIu64 " dups RX: %-8" PRIu64
		       " out of window: %" PRIu64 "\n",
		       s->retransmits, s->rto_expired, s->naks_tx, s->naks_rx, s->dups_rx,
		       s->out_of_window);
		printf("            checksum drops: %-8" PRIu64 " bad frames: %-8" PRIu64
		       " pure acks TX: %" PRIu64 "\n",
		       s->csum_drops, s->bad_frames, s->acks_tx);
		printf("            RTT: %u us smoothed, RTO %u us, cwnd %u frames\n", s->rtt_us,
		       s->rto_us, s->cwnd);
	} else {
		printf("  Channel   (no channel statistics: the channel was not set up)\n");
	}
	if (d->have_link)
		printf("  Link      frames RX: %-12" PRIu64 " TX: %-12" PRIu64 " not ours: %-8" PRIu64
		       " malformed: %-6" PRIu64 " checksum drops: %-6" PRIu64
		       " unknown channel: %-6" PRIu64 " ARP RX/TX: %" PRIu64 "/%" PRIu64
		       " TX-full bursts: %" PRIu64 "\n",
		       d->link.rx_frames, d->link.tx_frames, d->link.rx_not_ours, d->link.rx_malformed,
		       d->link.rx_csum_drops, d->link.rx_unknown_chan, d->link.arp_rx, d->link.arp_tx,
		       d->link.tx_full);
	if (d->have_eth)
		printf("  Ethdev    RX-packets: %-12" PRIu64 " TX-packets: %-12" PRIu64
		       " RX-missed: %-8" PRIu64 " RX-errors: %-8" PRIu64 " TX-errors: %-8" PRIu64
		       " RX-nombuf: %" PRIu64 "\n",
		       d->eth.ipackets, d->eth.opackets, d->eth.imissed, d->eth.ierrors,
		       d->eth.oerrors, d->eth.rx_nombuf);
	perf_main_counter(r, &m);
	if (d->cpu_done) {
		double user = perf_dpdk_tv(&d->ru0.ru_utime, &d->ru1.ru_utime);
		double sys = perf_dpdk_tv(&d->ru0.ru_stime, &d->ru1.ru_stime);
		double wall = r->t_end > r->t_start ? (double)(r->t_end - r->t_start) / 1e9 : 0;
		double hz = (double)rte_get_tsc_hz();
		double cyc = (user + sys) * hz;

		/* Cycles: CPU time at the TSC rate (busy polling counts as it burns). */
		printf("  CPU       user %.3f s, sys %.3f s in %.3f s of run (%.0f%% of one CPU), "
		       "TSC %.3f GHz\n",
		       user, sys, wall, wall > 0 ? 100.0 * (user + sys) / wall : 0.0, hz / 1e9);
		printf("  cpu: role=%s user_s=%.3f sys_s=%.3f wall_s=%.3f tsc_hz=%.0f buffers=%" PRIu64
		       " bytes=%" PRIu64 " cycles_per_buffer=%.0f cycles_per_4k=%.0f\n",
		       o->role == PERF_SHM_BIND ? "bind" : "create", user, sys, wall, hz, m.tx_bufs,
		       m.tx_bytes, m.tx_bufs != 0 ? cyc / (double)m.tx_bufs : 0.0,
		       m.tx_bytes != 0 ? cyc / ((double)m.tx_bytes / 4096.0) : 0.0);
	}
	printf("  ##########################################################################"
	       "##########\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------- main */

static int
perf_dpdk_node(struct perf_run *r, struct perf_dpdk *d)
{
	const struct perf_opts *o = d->o;
	bool source = o->role == PERF_SHM_BIND;
	struct perf_node *n;
	struct perf_end *e;
	int rc;

	perf_run_init(r, o);
	r->split = true;
	r->neps = 2;
	rc = perf_ends_alloc(r, 1, 1);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: %s\n", bulk_strerror(rc));
		return rc;
	}
	n = &r->nodes[0];
	e = &r->ends[0];
	n->run = r;
	n->idx = source ? 0 : 1;
	n->role = source ? PERF_ROLE_SOURCE : PERF_ROLE_SINK;
	perf_node_name(n->idx, 0, n->name, sizeof(n->name));
	e->link = 0;
	e->node = n;
	e->tx_side = source;
	if (source) {
		r->source = n;
		n->down = e;
		r->stamp = o->mode == PERF_MODE_ECHO || o->mode == PERF_MODE_RTT;
		r->stamp_every = o->mode == PERF_MODE_RTT;
	} else {
		r->sink = n;
		n->up = e;
		/* The source's --buffer-size is news to us: learned from the first buffer. */
		r->payload_len = 0;
	}

	rc = perf_dpdk_eal(d);
	if (rc < 0)
		return rc;
	rc = bulk_domain_create(n->name, &n->dom);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: domain %s: %s\n", n->name, bulk_strerror(rc));
		n->dom = NULL;
		return rc;
	}
	rc = perf_dpdk_open(d, n);
	if (rc < 0)
		return rc;
	if (source) {
		rc = bulk_dpdk_endpoint_remote(d->port, o->ep_id, &r->eps[1]);
		if (rc < 0) {
			r->eps[1] = NULL;
			fprintf(stderr, "bulkperf: %s: endpoint %u at %s: %s\n", n->name, o->ep_id,
				d->peer, bulk_strerror(rc));
			return rc;
		}
		rc = perf_dpdk_bind(r, d, e, r->eps[1]);
		if (rc == 0)
			rc = perf_dpdk_assign(r, d, n);
	} else {
		rc = bulk_dpdk_endpoint_create(n->dom, o->ep_id, &r->eps[0]);
		if (rc < 0) {
			r->eps[0] = NULL;
			fprintf(stderr, "bulkperf: %s: endpoint %u: %s\n", n->name, o->ep_id,
				bulk_strerror(rc));
			return rc;
		}
		rc = perf_dpdk_listen(r, d, e, r->eps[0]);
	}
	if (rc < 0)
		return rc;
	if (perf_csv_open(r) < 0)
		return -EIO;
	if (source)
		perf_dpdk_run_source(r, d, n);
	else
		perf_dpdk_run_relay(r, d, n);
	return 0;
}

int
perf_dpdk_main(const struct perf_opts *o)
{
	struct perf_dpdk d;
	struct perf_run r;
	struct in_addr a;
	int rc, status;

	memset(&d, 0, sizeof(d));
	d.o = o;
	a.s_addr = htonl(o->local_ip);
	inet_ntop(AF_INET, &a, d.local, sizeof(d.local));
	a.s_addr = htonl(o->peer_ip);
	inet_ntop(AF_INET, &a, d.peer, sizeof(d.peer));

	rc = perf_dpdk_node(&r, &d);
	perf_dpdk_teardown(&r, &d, r.nodes != NULL ? &r.nodes[0] : NULL);
	if (rc < 0) {
		status = PERF_EXIT_FAIL;
		perf_csv_close(&r);
	} else {
		perf_dpdk_report(&r, &d);
		status = perf_report(&r, true);
	}
	perf_run_free(&r);
	free(d.eal_argv);
	return status;
}
