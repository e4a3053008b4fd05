/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK backend, addresses: a registered port resolves dpdk:ip=A.B.C.D,ep=N
 * [,udp=P] (bulk_addr.h). A creator's address names one of its own port's
 * addresses, a binder's the peer's; either way the endpoint number is ep.
 * On a port with a fixed peer the UDP port, when given, must be the port's
 * (both ends of such a port use one). A multi-peer port resolves a binder's
 * address for any peer but itself, udp being that peer's UDP port, unless
 * a registered port of the domain has that peer fixed: the more specific
 * port wins whatever the order of registration. libbulk tries every
 * registered port in turn; a port that does not match answers 1.
 */
#include <errno.h>

#include <bulk/bulk_addr.h>

#include "dpdk_internal.h"

/* Is @p a reached over port @p l of domain @p d, at @p ip of the port? */
static bool
dpdk_addr_match(const struct bulk_dpdk_port *l, const struct bulk_domain *d,
		const struct bulk_addr *a, uint32_t ip)
{
	return l->dom == d && a->ip == ip && (a->udp == 0 || a->udp == l->udp_port);
}

static int
dpdk_addr_create(void *ctx, struct bulk_domain *d, const struct bulk_addr *a,
		 struct bulk_endpoint **out)
{
	struct bulk_dpdk_port *l = ctx;

	if (!dpdk_addr_match(l, d, a, l->local_ip))
		return 1;
	return bulk_dpdk_endpoint_create(d, a->ep, out);
}

static int
dpdk_addr_remote(void *ctx, struct bulk_domain *d, const struct bulk_addr *a,
		 struct bulk_endpoint **out)
{
	struct bulk_dpdk_port *l = ctx;

	if (l->multi) {
		if (l->dom != d || a->ip == l->local_ip ||
		    dpdk_port_fixed_registered(d, a->ip, a->udp))
			return 1;
		return bulk_dpdk_endpoint_remote_ip(l, a->ip, a->udp, a->ep, out);
	}
	if (!dpdk_addr_match(l, d, a, l->peer_ip))
		return 1;
	return bulk_dpdk_endpoint_remote(l, a->ep, out);
}

static const struct bulk_addr_ops dpdk_addr_ops = {
	.endpoint_create = dpdk_addr_create,
	.endpoint_remote = dpdk_addr_remote,
};

int
bulk_dpdk_port_addr_register(struct bulk_dpdk_port *port)
{
	int rc;

	if (port == NULL)
		return -EINVAL;
	rc = bulk_addr_register(BULK_ADDR_DPDK, &dpdk_addr_ops, port);
	if (rc == 0)
		dpdk_port_set_registered(port, true);
	return rc;
}

int
bulk_dpdk_port_addr_unregister(struct bulk_dpdk_port *port)
{
	int rc;

	if (port == NULL)
		return -EINVAL;
	rc = bulk_addr_unregister(BULK_ADDR_DPDK, &dpdk_addr_ops, port);
	if (rc == 0)
		dpdk_port_set_registered(port, false);
	return rc;
}
