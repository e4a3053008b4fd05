/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hop counters (bs_hop.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bs_dpdk.h"
#include "bs_hop.h"

void
bs_hop_from_stats(struct bs_hop *h, const struct bulk_bs_stats *st)
{
	snprintf(h->backend, sizeof(h->backend), "%s", st->backend[0] ? st->backend : "none");
	h->requests = st->requests;
	h->moved_bytes = st->chan.tx_bytes + st->chan.rx_bytes;
	h->copied_bytes = st->chan.lib_copy_bytes + st->chan.trust_copy_bytes;
	/* The dpdk backend lands every frame in an mbuf and copies its
	 * payload once into the buffer (backends/dpdk: receive). */
	if (strcmp(st->backend, "dpdk") == 0)
		h->copied_bytes += st->chan.rx_bytes;
}

void
bs_hop_add_channel(struct bs_hop *h, const struct bulk_channel *ch)
{
	if (ch != NULL)
		h->tx_copied_frames += bs_dpdk_tx_copied(ch);
}

void
bs_hop_sum(struct bs_hop *a, const struct bs_hop *b)
{
	if (a->backend[0] == '\0' || strcmp(a->backend, "none") == 0)
		memcpy(a->backend, b->backend, sizeof(a->backend));
	else if (strcmp(a->backend, b->backend) != 0 && strcmp(b->backend, "none") != 0)
		snprintf(a->backend, sizeof(a->backend), "mixed");
	a->requests += b->requests;
	a->moved_bytes += b->moved_bytes;
	a->copied_bytes += b->copied_bytes;
	a->tx_copied_frames += b->tx_copied_frames;
}

const char *
bs_hop_end_name(int reason)
{
	switch (reason) {
	case 0:
		return "goodbye";
	case -ECONNRESET:
		return "hangup";
	case -ETIMEDOUT:
		return "timeout";
	case -ESHUTDOWN:
		return "shutdown";
	case -BULK_E_PEER_GONE:
		return "died";
	default:
		return "error";
	}
}
