/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hop forwarder: a domain between two channels that moves on what
 * arrives from upstream and passes back what returns from downstream,
 * the same buffers (zero copy where the backends share memory), as the
 * spec's bulk_transfer_passthrough and the block service's proxy do.
 *
 *   up   (RX end): buffers arrive by move, go back by pass
 *   down (TX end): buffers go on by move, come back by pass
 *
 * A pool the upstream peer assigns is assigned downstream in turn, once
 * the assignment upstream completed (after the poll that delivered it:
 * app_fwd_step()); what arrives meanwhile waits in the down queue.
 * A forwarder that gives up (app_fwd_give_up()) passes back at once
 * whatever arrives, with the meta it was given, so that the owner
 * upstream gets every buffer home and can close in order.
 */
#ifndef APP_FWD_H
#define APP_FWD_H

#include <stdbool.h>

#include "app_chan.h"

/* Pools assigned upstream and not yet downstream, at most. */
#define APP_FWD_PENDING 16u

struct app_fwd {
	struct app_chan *up;
	struct app_chan *down;
	/* Views that arrived on up, to assign on down in that order. */
	struct bulk_pool *pending[APP_FWD_PENDING];
	unsigned npending;
	bool bounce;		 /* gave up: pass back at once what arrives */
	const void *bounce_meta; /* the meta of what bounces */
};

/** Tie @p up and @p down together; down holds its queue until a pool is assigned there. */
void app_fwd_init(struct app_fwd *f, struct app_chan *up, struct app_chan *down);

/** move_received of the up channel. */
void app_fwd_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
		     const void *meta, unsigned n);
/** buffer_received of the down channel. */
void app_fwd_on_return(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		       const uint32_t *lens, const void *meta, unsigned n);

/**
 * After each poll of the domain: assign the pools that arrived upstream
 * on the downstream channel, one at a time, holding the down queue until
 * the peer there accepted each.
 */
void app_fwd_step(struct app_fwd *f);

/**
 * Give up: from now on pass back at once whatever arrives, with
 * @p meta; empty both queues and pass home every buffer held here.
 */
void app_fwd_give_up(struct app_fwd *f, const void *meta, uint64_t timeout_ns);

#endif /* APP_FWD_H */
