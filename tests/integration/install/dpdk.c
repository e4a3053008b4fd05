/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A consumer of an installed libbulk-dpdk (install_test.sh builds it with
 * nothing but `pkg-config --cflags --libs libbulk-dpdk`, which brings
 * DPDK's flags and libbulk's). Without arguments it only shows that it
 * loads: libbulk-dpdk finds what it needs in libbulk (run it with
 * LD_BIND_NOW=1). With EAL arguments (a --vdev net_null0 port, say) it
 * starts EAL, opens a link on port 0, listens on an endpoint with a
 * channel and closes everything again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_version.h>

#include <bulk/bulk.h>
#include <bulk/bulk_dpdk.h>
#include <bulk/bulk_features.h>
#include <bulk/bulk_version.h>

#if !BULK_HAVE_DPDK
#error "bulk_features.h says this libbulk has no dpdk backend"
#endif

#define CHECK(call)                                                                           \
	do {                                                                                  \
		int rc_ = (call);                                                             \
		if (rc_ < 0) {                                                                \
			fprintf(stderr, "install/dpdk: %s: %s\n", #call, bulk_strerror(rc_)); \
			exit(1);                                                              \
		}                                                                             \
	} while (0)

static void
closed(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	CHECK(err);
	*(int *)arg = 1;
}

int
main(int argc, char **argv)
{
	const struct bulk_dpdk_port_params lp = {
		.local_ip = 0xc6120001, /* 198.18.0.1 */
		.peer_ip = 0xc6120002,
		.peer_mac = { 0x02, 0, 0xc6, 0x12, 0, 0x02 },
		.configure = 1,
	};
	const struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX };
	struct bulk_dpdk_port *port;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_domain *d;
	int done = 0;

	if (strcmp(bulk_version(), BULK_VERSION_STRING) != 0) {
		fprintf(stderr, "install/dpdk: runs with libbulk %s, built against %s\n",
			bulk_version(), BULK_VERSION_STRING);
		return 1;
	}
	printf("libbulk %s, %s\n", bulk_version(), rte_version());
	if (argc < 2)
		return 0;

	CHECK(bulk_dpdk_init(argc, argv));
	CHECK(bulk_domain_create("dpdk", &d));
	CHECK(bulk_dpdk_port_open(d, &lp, &port));
	CHECK(bulk_dpdk_endpoint_create(d, 1, &ep));
	CHECK(bulk_channel_create(ep, NULL, &cp, &ch));
	CHECK(bulk_channel_destroy(ch, (struct bulk_cont){ .fn = closed, .arg = &done }));
	for (long i = 0; !done; i++) {
		if (i == 10000000) {
			fprintf(stderr, "install/dpdk: the channel did not close\n");
			return 1;
		}
		CHECK(bulk_domain_poll(d, 0));
	}
	CHECK(bulk_channel_free(ch));
	CHECK(bulk_endpoint_free(ep));
	CHECK(bulk_dpdk_port_close(port));
	CHECK(bulk_domain_destroy(d));
	printf("dpdk: a link on port 0, a channel listened on endpoint 1 and closed\n");
	return 0;
}
