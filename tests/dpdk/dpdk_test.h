/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the DPDK backend tests: EAL start-up for a test binary
 * (no hugepages, no PCI, no runtime files), connected net_ring port pairs,
 * a seeded random stream, and IPv4 addresses in 198.18.0.0/15.
 */
#ifndef BULK_TEST_DPDK_TEST_H
#define BULK_TEST_DPDK_TEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ring.h>

#include <bulk/bulk.h>
#include <bulk/bulk_dpdk.h>

#include "check.h"

/** splitmix64 step. */
static inline uint64_t
dt_mix(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/** 198.18.a.b in host byte order. */
static inline uint32_t
dt_ip(unsigned a, unsigned b)
{
	return (198u << 24) | (18u << 16) | ((a & 0xffu) << 8) | (b & 0xffu);
}

/** Seed from argv (if non-NULL and non-empty), else $BULK_SEED, else the clock. */
static inline uint64_t
dt_seed(const char *arg)
{
	const char *s = arg != NULL && arg[0] != '\0' ? arg : getenv("BULK_SEED");
	struct timespec ts;

	if (s != NULL && s[0] != '\0')
		return strtoull(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
}

/**
 * rte_eal_init() for a one-process test: 4 KiB pages (--no-huge), no PCI,
 * no runtime files (--no-shconf, so tests run side by side), lcore 0.
 * A failure exits 77 (skip) when not root, else fails the test.
 */
static inline void
dt_eal_init(const char *prog, const char *mem_mb)
{
	char *args[] = {
		(char *)prog, (char *)"--no-huge", (char *)"--no-shconf", (char *)"-m",
		(char *)mem_mb, (char *)"--no-pci", (char *)"-l", (char *)"0",
		(char *)"--log-level=lib.eal:error", (char *)"--log-level=pmd.net.ring:error",
		NULL,
	};
	int n = (int)(sizeof(args) / sizeof(args[0])) - 1;
	int rc;

	printf("EAL:");
	for (int i = 1; i < n; i++)
		printf(" %s", args[i]);
	printf("\n");
	rc = rte_eal_init(n, args);
	if (rc < 0) {
		if (geteuid() != 0)
			CHECK_SKIP("rte_eal_init failed (%s) and not root", rte_strerror(rte_errno));
		fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
		CHECK(rc >= 0);
	}
	/* libbulk's helper must see that EAL is up already. */
	CHECK_RC(bulk_dpdk_init(n, args), -EALREADY);
}

/**
 * A connected net_ring pair: what @p a sends, @p b receives and back.
 * Rings of @p ring_size (power of two) mbufs each way.
 */
static inline void
dt_ring_pair(const char *name, unsigned ring_size, uint16_t *a, uint16_t *b)
{
	char n1[64], n2[64], pa[64], pb[64];
	struct rte_ring *ab, *ba;
	int ia, ib;

	snprintf(n1, sizeof(n1), "%s_ab", name);
	snprintf(n2, sizeof(n2), "%s_ba", name);
	snprintf(pa, sizeof(pa), "%s_a", name);
	snprintf(pb, sizeof(pb), "%s_b", name);
	ab = rte_ring_create(n1, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	ba = rte_ring_create(n2, ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (ab == NULL || ba == NULL)
		fprintf(stderr, "rte_ring_create: %s\n", rte_strerror(rte_errno));
	CHECK(ab != NULL && ba != NULL);
	ia = rte_eth_from_rings(pa, &ba, 1, &ab, 1, SOCKET_ID_ANY);
	ib = rte_eth_from_rings(pb, &ab, 1, &ba, 1, SOCKET_ID_ANY);
	if (ia < 0 || ib < 0)
		fprintf(stderr, "rte_eth_from_rings: %s\n", rte_strerror(rte_errno));
	CHECK(ia >= 0 && ib >= 0);
	*a = (uint16_t)ia;
	*b = (uint16_t)ib;
}

/** Print a link's counters on one line. */
static inline void
dt_print_port_stats(const char *what, const struct bulk_dpdk_port *port)
{
	struct bulk_dpdk_port_stats st;

	memset(&st, 0, sizeof(st));
	CHECK_RC(bulk_dpdk_port_stats_get(port, &st), 0);
	printf("port %s: rx_frames=%llu tx_frames=%llu rx_not_ours=%llu rx_malformed=%llu "
	       "rx_csum_drops=%llu rx_unknown_chan=%llu arp_rx=%llu arp_tx=%llu tx_full=%llu\n",
	       what, (unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
	       (unsigned long long)st.rx_not_ours, (unsigned long long)st.rx_malformed,
	       (unsigned long long)st.rx_csum_drops, (unsigned long long)st.rx_unknown_chan,
	       (unsigned long long)st.arp_rx, (unsigned long long)st.arp_tx,
	       (unsigned long long)st.tx_full);
}

/** Print a channel's transport counters on one line. */
static inline void
dt_print_chan_stats(const char *what, const struct bulk_channel *ch)
{
	struct bulk_dpdk_chan_stats st;

	memset(&st, 0, sizeof(st));
	CHECK_RC(bulk_dpdk_chan_stats_get(ch, &st), 0);
	printf("chan %s: frames_tx=%llu frames_rx=%llu bytes_tx=%llu bytes_rx=%llu "
	       "retransmits=%llu rto_expired=%llu naks_tx=%llu naks_rx=%llu dups_rx=%llu "
	       "out_of_window=%llu csum_drops=%llu bad_frames=%llu acks_tx=%llu "
	       "tx_zero_copy=%llu tx_copied=%llu rtt_us=%u rto_us=%u cwnd=%u mss=%u\n",
	       what, (unsigned long long)st.frames_tx, (unsigned long long)st.frames_rx,
	       (unsigned long long)st.bytes_tx, (unsigned long long)st.bytes_rx,
	       (unsigned long long)st.retransmits, (unsigned long long)st.rto_expired,
	       (unsigned long long)st.naks_tx, (unsigned long long)st.naks_rx,
	       (unsigned long long)st.dups_rx, (unsigned long long)st.out_of_window,
	       (unsigned long long)st.csum_drops, (unsigned long long)st.bad_frames,
	       (unsigned long long)st.acks_tx, (unsigned long long)st.tx_zero_copy,
	       (unsigned long long)st.tx_copied, st.rtt_us, st.rto_us, st.cwnd, st.mss);
}

#endif /* BULK_TEST_DPDK_TEST_H */
