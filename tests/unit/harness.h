/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared helpers of the unit tests: continuation recorders, draining a set
 * of domains, connecting a local channel, and snapshots of every buffer
 * state and channel statistic (to prove a refused call changed nothing).
 */
#ifndef BULK_TEST_HARNESS_H
#define BULK_TEST_HARNESS_H

#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#include "check.h"

/** Records how often a continuation fired and with what. */
struct t_cont {
	int fired;
	int err;
};

static inline void
t_cont_fn(void *arg, int err, struct bulk_channel *ch)
{
	struct t_cont *c = arg;

	(void)ch;
	c->fired++;
	c->err = err;
}

static inline struct bulk_cont
t_cont(struct t_cont *c)
{
	struct bulk_cont k = { t_cont_fn, c };

	memset(c, 0, sizeof(*c));
	return k;
}

/** Poll every domain until a whole round handles nothing. @return descriptors handled. */
static inline long
t_drain(struct bulk_domain *const *doms, unsigned n)
{
	long total = 0;

	for (int round = 0; round < 100000; round++) {
		int handled = 0;

		for (unsigned i = 0; i < n; i++) {
			int rc = bulk_domain_poll(doms[i], 0);

			CHECK(rc >= 0);
			handled += rc;
		}
		if (handled == 0)
			return total;
		total += handled;
	}
	CHECK(!"t_drain: domains never went quiet");
	return total;
}

/**
 * Connect a local channel: @p cd creates it on a new endpoint with @p cp,
 * @p bd binds. Drains both and checks that both sides are CONNECTED.
 */
static inline void
t_connect(struct bulk_domain *cd, struct bulk_domain *bd, const struct bulk_channel_params *cp,
	  const struct bulk_channel_callbacks *ccb, const struct bulk_channel_callbacks *bcb,
	  struct bulk_endpoint **ep, struct bulk_channel **cch, struct bulk_channel **bch)
{
	struct bulk_domain *doms[2] = { cd, bd };
	struct bulk_bind_params bp;
	struct t_cont bc;

	memset(&bp, 0, sizeof(bp));
	CHECK_RC(bulk_local_endpoint_create(cd, ep), 0);
	CHECK_RC(bulk_channel_create(*ep, ccb, cp, cch), 0);
	CHECK_EQ_INT(bulk_channel_state(*cch), BULK_STATE_INITIALIZED);
	CHECK_RC(bulk_channel_bind(bd, *ep, bcb, &bp, t_cont(&bc), bch), 0);
	t_drain(doms, 2);
	CHECK_EQ_INT(bc.fired, 1);
	CHECK_RC(bc.err, 0);
	CHECK_EQ_INT(bulk_channel_state(*cch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(*bch), BULK_STATE_CONNECTED);
	CHECK(bulk_channel_direction(*cch) != bulk_channel_direction(*bch));
	CHECK(bulk_channel_role(*cch) != bulk_channel_role(*bch));
	CHECK(bulk_channel_role(*cch) != BULK_ROLE_GENERIC);
	CHECK(bulk_channel_role(*bch) != BULK_ROLE_GENERIC);
}

/** Orderly teardown of a connected pair, then free channels and endpoint. */
static inline void
t_disconnect(struct bulk_domain *cd, struct bulk_domain *bd, struct bulk_endpoint *ep,
	     struct bulk_channel *cch, struct bulk_channel *bch)
{
	struct bulk_domain *doms[2] = { cd, bd };
	struct t_cont dc;

	CHECK_RC(bulk_channel_destroy(cch, t_cont(&dc)), 0);
	t_drain(doms, 2);
	CHECK_EQ_INT(dc.fired, 1);
	CHECK_RC(dc.err, 0);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(bulk_channel_state(bch), BULK_STATE_CLOSED);
	CHECK_RC(bulk_channel_free(bch), 0);
	CHECK_RC(bulk_channel_free(cch), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
}

#define T_SNAP_MAX_BUFS 1024
#define T_SNAP_MAX_CHANS 16

/** Every buffer's view state in every domain, free counts, and channel stats. */
struct t_snap {
	unsigned nbufs, nviews, nchans;
	struct {
		uint8_t present, state, flags;
		uint16_t copies_in;
		uint32_t copies_out;
	} b[T_SNAP_MAX_BUFS];
	uint32_t nfree[64];
	int assigned[64][T_SNAP_MAX_CHANS];
	struct bulk_channel_stats st[T_SNAP_MAX_CHANS];
	int chstate[T_SNAP_MAX_CHANS];
};

/** What a snapshot covers: domains x pools (by id), and channels. */
struct t_world {
	struct bulk_domain *doms[8];
	unsigned ndoms;
	struct bulk_pool_id ids[8];
	unsigned npools;
	struct bulk_channel *chans[T_SNAP_MAX_CHANS];
	unsigned nchans;
};

static inline void
t_snap_take(const struct t_world *w, struct t_snap *s)
{
	unsigned k = 0, v = 0;

	memset(s, 0, sizeof(*s));
	for (unsigned d = 0; d < w->ndoms; d++) {
		for (unsigned p = 0; p < w->npools; p++, v++) {
			struct bulk_pool *pv = bulk_domain_pool_lookup(w->doms[d], &w->ids[p]);
			uint32_t cnt = pv ? bulk_pool_buffer_count(pv) : 0;

			CHECK(v < 64);
			s->nfree[v] = pv ? bulk_pool_free_count(pv) : 0;
			for (unsigned c = 0; c < w->nchans; c++)
				s->assigned[v][c] =
					pv ? bulk_channel_has_pool(w->chans[c], pv) : -1;
			for (uint32_t i = 0; i < cnt; i++, k++) {
				struct bulk_buffer *b = bulk_pool_buffer(pv, i);

				CHECK(k < T_SNAP_MAX_BUFS);
				s->b[k].present = 1;
				s->b[k].state = b->state;
				s->b[k].flags = b->flags;
				s->b[k].copies_in = b->copies_in;
				s->b[k].copies_out = b->copies_out;
			}
		}
	}
	s->nbufs = k;
	s->nviews = v;
	s->nchans = w->nchans;
	for (unsigned c = 0; c < w->nchans; c++) {
		CHECK_RC(bulk_channel_stats_get(w->chans[c], &s->st[c]), 0);
		s->chstate[c] = bulk_channel_state(w->chans[c]);
	}
}

/** @return 0 if equal, else prints the first difference and returns -1. */
static inline int
t_snap_cmp(const struct t_snap *a, const struct t_snap *b)
{
	if (a->nbufs != b->nbufs || a->nviews != b->nviews) {
		fprintf(stderr, "snapshot: views differ (%u/%u buffers, %u/%u views)\n",
			a->nbufs, b->nbufs, a->nviews, b->nviews);
		return -1;
	}
	for (unsigned k = 0; k < a->nbufs; k++)
		if (memcmp(&a->b[k], &b->b[k], sizeof(a->b[k])) != 0) {
			fprintf(stderr, "snapshot: buffer slot %u differs: state %u->%u "
				"in %u->%u out %u->%u flags %#x->%#x\n", k, a->b[k].state,
				b->b[k].state, a->b[k].copies_in, b->b[k].copies_in,
				a->b[k].copies_out, b->b[k].copies_out, a->b[k].flags,
				b->b[k].flags);
			return -1;
		}
	if (memcmp(a->nfree, b->nfree, sizeof(a->nfree)) != 0) {
		fprintf(stderr, "snapshot: free counts differ\n");
		return -1;
	}
	if (memcmp(a->assigned, b->assigned, sizeof(a->assigned)) != 0) {
		fprintf(stderr, "snapshot: pool assignments differ\n");
		return -1;
	}
	for (unsigned c = 0; c < a->nchans; c++) {
		if (memcmp(&a->st[c], &b->st[c], sizeof(a->st[c])) != 0) {
			fprintf(stderr, "snapshot: stats of channel %u differ\n", c);
			return -1;
		}
		if (a->chstate[c] != b->chstate[c]) {
			fprintf(stderr, "snapshot: state of channel %u differs\n", c);
			return -1;
		}
	}
	return 0;
}

#endif /* BULK_TEST_HARNESS_H */
