/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dpdk form: one side of one link per process, started by hand like
 * the shm pair, with a DPDK port where shm has a socket:
 *
 *   --role create  the reflector: the sink of the link; creates its channel
 *                  as RX at dpdk:ip=LOCAL_IP,ep=N and passes every buffer
 *                  straight back until the peer tears the channel down or
 *                  goes away;
 *   --role bind    the source: binds as TX to the same address over the
 *                  port (retrying while nobody answers), assigns its pool
 *                  and runs --mode.
 *
 * bulkperf owns EAL here: it initialises it with the arguments before "--"
 * (bulk_dpdk_init()), lets the library configure and start the port
 * (params.configure), registers the link so that dpdk: addresses resolve
 * through it, and closes the port and EAL at the end. Besides the usual
 * blocks it prints the transport's counters of the channel (frames,
 * retransmissions, NAKs, duplicates, zero-copy against copied frames, RTT),
 * the link's and the ethdev's, and the CPU time the run took.
 *
 * A DPDK channel has no fd to sleep on: both sides busy-poll, yielding the
 * CPU when idle so that a peer (or the kernel's half of a veth pair) on the
 * same CPU still runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>

#include <bulk/bulk_dpdk.h>

#include "bulkperf.h"

/* The binder retries at least this long while nobody answers. */
#define PERF_DPDK_BIND_RETRY_NS (20 * APP_SEC_NS)
#define PERF_DPDK_RETRY_GAP_NS	(100 * APP_MS_NS)
/* Closing over a lossy link takes retransmissions: more than the shm 5 s. */
#define PERF_DPDK_CLOSE_NS	(15 * APP_SEC_NS)
#define PERF_DPDK_PORT_BUDGET	64u

/* What this process keeps besides the run: the link, its counters. */
struct perf_dpdk {
	bool eal;
	struct bulk_dpdk_port *port;
	bool configured; /* bulk_dpdk_port_open() opened it: close the ethdev too */
	bool registered; /* dpdk: addresses resolve through it */
	char local[INET_ADDRSTRLEN];
	char peer[INET_ADDRSTRLEN];
	/* Read before the channel and the link go away. */
	struct bulk_dpdk_chan_stats chan;
	bool have_chan;
	struct bulk_dpdk_port_stats link;
	bool have_link;
	struct rte_eth_stats eth;
	bool have_eth;
};

static struct perf_dpdk perf_dpdk;

static const char *
perf_ip(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { htonl(ip) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* -------------------------------------------------------- EAL and the port */

static int
perf_dpdk_eal(const struct perf_opts *o)
{
	int rc = bulk_dpdk_init(o->args.eal_argc, o->args.eal_argv);

	if (rc < 0) {
		app_err("EAL initialisation failed: %s", bulk_strerror(rc));
		app_err("EAL arguments:%s",
			o->args.eal_argc <= 1 ? " none: put them before \"--\" (or in the config "
						"key eal), e.g. -l 1 --no-pci --no-huge -m 512 "
						"--no-shconf --vdev net_af_xdp0,iface=IF"
					      : "");
		for (int i = 1; i < o->args.eal_argc; i++)
			fprintf(stderr, " %s", o->args.eal_argv[i]);
		if (o->args.eal_argc > 1)
			fprintf(stderr, "\n");
		return rc;
	}
	perf_dpdk.eal = true;
	return 0;
}

static int
perf_dpdk_open(struct perf_run *r)
{
	const struct perf_opts *o = r->o;
	struct perf_dpdk *d = &perf_dpdk;
	struct perf_node *n = &r->nodes[0];
	struct bulk_dpdk_port_params pp;
	char name[RTE_ETH_NAME_MAX_LEN] = "?";
	struct rte_ether_addr mac;
	uint16_t mtu = 0;
	int rc;

	r->form_data = d;
	perf_ip(o->local_ip, d->local);
	perf_ip(o->peer_ip, d->peer);
	rc = perf_dpdk_eal(o);
	if (rc < 0)
		return rc;
	if (rte_eth_dev_count_avail() == 0) {
		app_err("EAL found no port: give one with --vdev (e.g. net_af_xdp0,iface=IF or "
			"net_memif0,role=server,socket=PATH) before \"--\"");
		return -ENODEV;
	}
	if (!rte_eth_dev_is_valid_port(o->port)) {
		app_err("--port %u: no such port (EAL found %u)", o->port,
			(unsigned)rte_eth_dev_count_avail());
		return -ENODEV;
	}
	memset(&pp, 0, sizeof(pp));
	pp.port_id = o->port;
	pp.local_ip = o->local_ip;
	pp.peer_ip = o->peer_ip;
	memcpy(pp.peer_mac, o->peer_mac, sizeof(pp.peer_mac));
	pp.udp_port = o->udp_port;
	pp.mtu = o->mtu;
	pp.window = o->window;
	pp.peer_timeout_ms = o->peer_timeout_ms;
	pp.tx_mode = (enum bulk_dpdk_tx_mode)o->tx_mode;
	pp.configure = 1;
	rc = bulk_dpdk_port_open(n->dom, &pp, &d->port);
	if (rc < 0) {
		d->port = NULL;
		app_err("%s: open port %u (%s -> %s): %s", n->name, o->port, d->local, d->peer,
			bulk_strerror(rc));
		return rc;
	}
	d->configured = true;
	rc = bulk_dpdk_port_addr_register(d->port);
	if (rc < 0) {
		app_err("%s: register port %u for dpdk: addresses: %s", n->name, o->port,
			bulk_strerror(rc));
		return rc;
	}
	d->registered = true;
	rte_eth_dev_get_name_by_port(o->port, name);
	memset(&mac, 0, sizeof(mac));
	rte_eth_macaddr_get(o->port, &mac);
	rte_eth_dev_get_mtu(o->port, &mtu);
	app_say("%s: port %u (%s), MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, %s -> %s, UDP port %u",
		n->name, o->port, name, mac.addr_bytes[0], mac.addr_bytes[1], mac.addr_bytes[2],
		mac.addr_bytes[3], mac.addr_bytes[4], mac.addr_bytes[5], mtu, d->local, d->peer,
		o->udp_port != 0 ? o->udp_port : BULK_DPDK_UDP_PORT);
	return 0;
}

/* The link, not a channel, hears ARP and the binder's request. */
static int
perf_dpdk_poll(struct perf_run *r)
{
	int rc;

	if (perf_dpdk.port == NULL)
		return 0;
	rc = bulk_dpdk_port_poll(perf_dpdk.port, PERF_DPDK_PORT_BUDGET);
	if (rc < 0)
		app_err("%s: port poll: %s", r->nodes[0].name, bulk_strerror(rc));
	return rc;
}

static void
perf_dpdk_bind_policy(const struct perf_run *r, struct app_bind_policy *p)
{
	uint64_t timeout = (uint64_t)(r->o->peer_timeout_ms != 0 ? r->o->peer_timeout_ms
								 : BULK_DPDK_PEER_TIMEOUT_MS) *
			   APP_MS_NS;

	/* The backend answers a bind within the peer timeout: a margin on top. */
	*p = (struct app_bind_policy){
		.retry_ns = 3 * timeout > PERF_DPDK_BIND_RETRY_NS ? 3 * timeout
								  : PERF_DPDK_BIND_RETRY_NS,
		.gap_ns = PERF_DPDK_RETRY_GAP_NS,
		.answer_ns = timeout + PERF_SETUP_NS,
	};
}

/* ------------------------------------------------------------ statistics */

/* One line of the transport's counters, after the periodic block. */
static void
perf_dpdk_periodic(struct perf_run *r)
{
	struct perf_node *n = &r->nodes[0];
	struct app_chan *c = n->down != NULL ? &n->down->c : &n->up->c;
	struct bulk_dpdk_chan_stats s;

	if (c->ch == NULL || bulk_dpdk_chan_stats_get(c->ch, &s) != 0)
		return;
	printf("  dpdk: frames TX %" PRIu64 " RX %" PRIu64 ", retransmits %" PRIu64
	       ", NAKs TX %" PRIu64 " RX %" PRIu64 ", dups %" PRIu64
	       ", zero-copy/copied TX %" PRIu64 "/%" PRIu64
	       ", RTT %u us, RTO %u us, cwnd %u (since the start)\n",
	       s.frames_tx, s.frames_rx, s.retransmits, s.naks_tx, s.naks_rx, s.dups_rx,
	       s.tx_zero_copy, s.tx_copied, s.rtt_us, s.rto_us, s.cwnd);
	fflush(stdout);
}

static void
perf_dpdk_closing(struct perf_run *r)
{
	struct perf_node *n = &r->nodes[0];
	struct app_chan *c = n->down != NULL ? &n->down->c : &n->up->c;

	if (c->ch != NULL)
		perf_dpdk.have_chan = bulk_dpdk_chan_stats_get(c->ch, &perf_dpdk.chan) == 0;
}

/* The channel and pool are gone: the link goes too (the domain then can). */
static void
perf_dpdk_close(struct perf_run *r)
{
	struct perf_dpdk *d = &perf_dpdk;
	int rc;

	if (d->port == NULL)
		return;
	if (d->registered && bulk_dpdk_port_addr_unregister(d->port) == 0)
		d->registered = false;
	d->have_link = bulk_dpdk_port_stats_get(d->port, &d->link) == 0;
	d->have_eth = rte_eth_stats_get(r->o->port, &d->eth) == 0;
	rc = bulk_dpdk_port_close(d->port);
	if (rc < 0) {
		app_err("%s: close the port: %s", r->nodes[0].name, bulk_strerror(rc));
		r->errors++;
	} else {
		d->port = NULL;
	}
}

static void
perf_dpdk_fini(struct perf_run *r)
{
	struct perf_dpdk *d = &perf_dpdk;

	/*
	 * The library stopped the port; closing it (af_xdp: detach the XDP
	 * program from the interface; memif: drop the socket) and EAL is ours.
	 */
	if (d->configured && d->port == NULL)
		(void)rte_eth_dev_close(r->o->port);
	if (d->eal && d->port == NULL && (r->nodes == NULL || r->nodes[0].dom == NULL))
		(void)rte_eal_cleanup();
}

static double
perf_tv(const struct timeval *a, const struct timeval *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_usec - a->tv_usec) / 1e6;
}

static void
perf_dpdk_report(struct perf_run *r)
{
	const struct perf_opts *o = r->o;
	const struct perf_dpdk *d = &perf_dpdk;
	const struct bulk_dpdk_chan_stats *s = &d->chan;
	struct app_ctrs_snap m;

	printf("\n  ######################## DPDK link: port %u, %s -> %s, UDP port %u, %s "
	       "########################\n",
	       o->port, d->local, d->peer, o->udp_port != 0 ? o->udp_port : BULK_DPDK_UDP_PORT,
	       o->addr);
	if (d->have_chan) {
		printf("  Channel   frames TX: %-12" PRIu64 " RX: %-12" PRIu64
		       " payload bytes TX: %-14" PRIu64 " RX: %" PRIu64 "\n",
		       s->frames_tx, s->frames_rx, s->bytes_tx, s->bytes_rx);
		printf("            zero-copy TX frames: %-10" PRIu64
		       " copied TX frames: %-10" PRIu64 " MSS: %u bytes\n",
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
		printf("  Link      frames RX: %-12" PRIu64 " TX: %-12" PRIu64
		       " not ours: %-8" PRIu64 " malformed: %-6" PRIu64
		       " checksum drops: %-6" PRIu64 " unknown channel: %-6" PRIu64
		       " ARP RX/TX: %" PRIu64 "/%" PRIu64 " TX-full bursts: %" PRIu64 "\n",
		       d->link.rx_frames, d->link.tx_frames, d->link.rx_not_ours,
		       d->link.rx_malformed, d->link.rx_csum_drops, d->link.rx_unknown_chan,
		       d->link.arp_rx, d->link.arp_tx, d->link.tx_full);
	if (d->have_eth)
		printf("  Ethdev    RX-packets: %-12" PRIu64 " TX-packets: %-12" PRIu64
		       " RX-missed: %-8" PRIu64 " RX-errors: %-8" PRIu64 " TX-errors: %-8" PRIu64
		       " RX-nombuf: %" PRIu64 "\n",
		       d->eth.ipackets, d->eth.opackets, d->eth.imissed, d->eth.ierrors,
		       d->eth.oerrors, d->eth.rx_nombuf);
	perf_main_counter(r, &m);
	if (r->cpu_done) {
		double user = perf_tv(&r->ru0.ru_utime, &r->ru1.ru_utime);
		double sys = perf_tv(&r->ru0.ru_stime, &r->ru1.ru_stime);
		double wall = r->t_end > r->t_start ? (double)(r->t_end - r->t_start) / 1e9 : 0;
		double hz = (double)rte_get_tsc_hz();
		double cyc = (user + sys) * hz;

		/* Cycles: CPU time at the TSC rate (busy polling counts as it burns). */
		printf("  CPU       user %.3f s, sys %.3f s in %.3f s of run (%.0f%% of one CPU), "
		       "TSC %.3f GHz\n",
		       user, sys, wall, wall > 0 ? 100.0 * (user + sys) / wall : 0.0, hz / 1e9);
		printf("  cpu: role=%s user_s=%.3f sys_s=%.3f wall_s=%.3f tsc_hz=%.0f buffers=%" PRIu64
		       " bytes=%" PRIu64 " cycles_per_buffer=%.0f cycles_per_4k=%.0f\n",
		       o->side == PERF_SIDE_BIND ? "bind" : "create", user, sys, wall, hz,
		       m.tx_bufs, m.tx_bytes, m.tx_bufs != 0 ? cyc / (double)m.tx_bufs : 0.0,
		       m.tx_bytes != 0 ? cyc / ((double)m.tx_bytes / 4096.0) : 0.0);
	}
	printf("  ##########################################################################"
	       "##########\n");
	fflush(stdout);
}

/* ------------------------------------------------------------------- main */

static const struct perf_form perf_form_dpdk = {
	.mem = BULK_MEM_ANON, /* the peer allocates its own */
	.copies_payload = true,
	.idle_yield = true,
	.close_ns = PERF_DPDK_CLOSE_NS,
	.bind_policy = perf_dpdk_bind_policy,
	.open = perf_dpdk_open,
	.poll = perf_dpdk_poll,
	.periodic = perf_dpdk_periodic,
	.closing = perf_dpdk_closing,
	.close = perf_dpdk_close,
	.fini = perf_dpdk_fini,
	.report = perf_dpdk_report,
};

int
perf_dpdk_main(const struct perf_opts *o)
{
	unsigned idx = o->side == PERF_SIDE_BIND ? 0 : 1;

	return perf_chain_main(o, &perf_form_dpdk, idx, idx, false, NULL);
}
