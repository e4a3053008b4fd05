/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The --dpdk / --via dpdk:... option of nbs and bs-user: initialise EAL,
 * open one port, register it so that dpdk: endpoint addresses resolve
 * through it (bulk_dpdk_port_addr_register()), and poll it from the
 * block service's poll hook. Built only with DPDK; without it every call
 * says so (-BULK_E_NO_BACKEND).
 *
 * (Small enough to live here until lib/app has a dpdk port helper.)
 *
 *   SPEC: port=N,ip=A.B.C.D[,peer=A.B.C.D][,mac=XX:XX:XX:XX:XX:XX][,ep=N]
 *
 * ip is this side's address; peer the other side's, for a port with one
 * fixed peer (bs-user); without it the port serves any number of peers
 * (nbs: one NIC queue, many clients); mac the peer's (default: ARP); ep
 * the endpoint number of a data channel this side creates (bs-user;
 * default 1).
 */
#ifndef BS_DPDK_H
#define BS_DPDK_H

#include <stddef.h>
#include <stdint.h>

#include <bulk/bulk.h>

struct bs_dpdk;

/**
 * Parse @p spec, initialise EAL with @p eal_argc / @p eal_argv and open the
 * port in domain @p d. A reason goes to stderr (app_err()).
 * @return 0; -EINVAL (a bad spec); -BULK_E_NO_BACKEND (built without
 *   DPDK); what EAL or bulk_dpdk_port_open() returns.
 */
int bs_dpdk_open(struct bulk_domain *d, const char *spec, int eal_argc, char **eal_argv,
		 struct bs_dpdk **out);

/** The poll hook (struct bulk_bs_*_params.poll_hook): polls the port. */
int bs_dpdk_poll(void *arg);

/** "dpdk:ip=A.B.C.D,ep=N": where this side creates a data channel. */
const char *bs_dpdk_data_addr(const struct bs_dpdk *p);

/**
 * "dpdk:ip=A.B.C.D,ep=@p ep" in @p buf: where this side creates one more
 * data channel on the port (nbs-proxy: one per upstream session).
 * @return @p buf.
 */
const char *bs_dpdk_data_addr_ep(const struct bs_dpdk *p, unsigned ep, char *buf, size_t len);

/** The endpoint number of the spec's ep= (default 1). */
unsigned bs_dpdk_ep(const struct bs_dpdk *p);

/**
 * Data frames of channel @p ch whose payload the backend copied on
 * transmit (struct bulk_dpdk_chan_stats.tx_copied); 0 for a channel of
 * another backend, or without DPDK.
 */
uint64_t bs_dpdk_tx_copied(const struct bulk_channel *ch);

/** Unregister and close the port (after every channel on it is freed). */
void bs_dpdk_close(struct bs_dpdk *p);

#endif /* BS_DPDK_H */
