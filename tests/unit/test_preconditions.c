/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Preconditions of Algorithms 3-10 over the local backend: for each one, the
 * valid call succeeds, and each violation returns its own code (in the order
 * documented in bulk.h) and changes nothing: every buffer state, copy count,
 * free count, pool assignment and channel statistic is compared before and
 * after the refused call (and after draining every domain), and the refused
 * call's continuation never fires.
 *
 * World: domains A, B, C; channel ab (A creates, TX) and bc (B creates, TX,
 * meta 8 bytes); channel x (A, never bound). Pools: PA (A, assigned to ab
 * and by B onwards to bc), PU (A, never assigned), PH (A, trust HALF),
 * PV (A, vetoed once), PB (B, assigned to bc by B).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "bulk_backend.h" /* struct bulk_pool, for a view that is in no list */
#include "harness.h"

#define NBUF 8
#define BSZ 4096
#define META 8

struct counts {
	int moves, passes, copies, releases, assigned, removed;
	unsigned last_n;
	uint32_t last_lens[16];
	uint8_t last_meta[16 * META];
	int veto;
};

static struct counts cnt_a, cnt_b, cnt_c;

static struct counts *
counts_of(struct bulk_channel *ch)
{
	return bulk_channel_user(ch);
}

static void
note(struct bulk_channel *ch, const uint32_t *lens, const void *meta, unsigned n)
{
	struct counts *c = counts_of(ch);

	c->last_n = n;
	for (unsigned i = 0; i < n && i < 16; i++)
		c->last_lens[i] = lens[i];
	if (meta != NULL && bulk_channel_meta_size(ch) > 0)
		memcpy(c->last_meta, meta, (size_t)n * bulk_channel_meta_size(ch));
}

static void
on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)bufs;
	counts_of(ch)->moves++;
	note(ch, lens, meta, n);
}

static void
on_buffer(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	(void)bufs;
	counts_of(ch)->passes++;
	note(ch, lens, meta, n);
}

static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)bufs;
	counts_of(ch)->copies++;
	note(ch, lens, meta, n);
}

static void
on_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)bufs;
	counts_of(ch)->releases++;
	counts_of(ch)->last_n = n;
}

static int
on_pool_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct counts *c = counts_of(ch);

	(void)pool;
	c->assigned++;
	return c->veto ? -1 : 0;
}

static void
on_pool_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)pool;
	counts_of(ch)->removed++;
}

static const struct bulk_channel_callbacks cbs = {
	.pool_assigned = on_pool_assigned,
	.pool_removed = on_pool_removed,
	.move_received = on_move,
	.buffer_received = on_buffer,
	.copy_received = on_copy,
	.copy_released = on_released,
};

static struct t_world W;
static struct t_snap snap0, snap1;
static struct t_cont refc; /* continuation of every refused call */

/* A refused call: exact code, nothing changed (even after draining), no continuation. */
#define REFUSED(call, code)                                                             \
	do {                                                                            \
		int rc_;                                                                \
		t_snap_take(&W, &snap0);                                                \
		rc_ = (call);                                                           \
		CHECK_RC(rc_, (code));                                                  \
		t_drain(W.doms, W.ndoms);                                               \
		t_snap_take(&W, &snap1);                                                \
		CHECK_EQ_INT(t_snap_cmp(&snap0, &snap1), 0);                            \
		CHECK_EQ_INT(refc.fired, 0);                                            \
		nrefused++;                                                             \
	} while (0)

/* The same while something is in flight: compared without draining. */
#define REFUSED_PENDING(call, code)                                                     \
	do {                                                                            \
		int rc_;                                                                \
		t_snap_take(&W, &snap0);                                                \
		rc_ = (call);                                                           \
		CHECK_RC(rc_, (code));                                                  \
		t_snap_take(&W, &snap1);                                                \
		CHECK_EQ_INT(t_snap_cmp(&snap0, &snap1), 0);                            \
		nrefused++;                                                             \
	} while (0)

#define RC (t_cont(&refc))

static unsigned nrefused;
static struct bulk_domain *A, *B, *C;

static struct bulk_buffer *
vb(struct bulk_domain *d, struct bulk_pool *alloc_view, uint32_t i)
{
	struct bulk_pool *v = bulk_domain_pool_lookup(d, bulk_pool_get_id(alloc_view));

	CHECK(v != NULL);
	return bulk_pool_buffer(v, i);
}

static struct bulk_pool *
pool_new(struct bulk_domain *d, enum bulk_trust trust)
{
	struct bulk_pool_params pp = { .count = NBUF, .buffer_size = BSZ, .trust = trust };
	struct bulk_pool *p = NULL;

	CHECK_RC(bulk_pool_alloc(d, &pp, &p), 0);
	CHECK(p != NULL);
	return p;
}

static void
get_all(struct bulk_pool *p)
{
	struct bulk_buffer *tmp[NBUF];

	CHECK_RC(bulk_pool_get_burst(p, tmp, NBUF), NBUF);
	CHECK_EQ_INT(bulk_pool_free_count(p), 0);
}

static void
drain(void)
{
	t_drain(W.doms, W.ndoms);
}

static void
check_state(struct bulk_domain *d, struct bulk_pool *alloc_view, uint32_t i, int state,
	    int in, int out)
{
	struct bulk_pool *v = bulk_domain_pool_lookup(d, bulk_pool_get_id(alloc_view));

	if (v == NULL) {
		CHECK_EQ_INT(state, BULK_BUFFER_INVALID);
		return;
	}
	CHECK_EQ_INT(bulk_pool_buffer(v, i)->state, state);
	CHECK_EQ_INT(bulk_pool_buffer(v, i)->copies_in, in);
	CHECK_EQ_INT(bulk_pool_buffer(v, i)->copies_out, out);
}

static void
test_create(void)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX };
	struct bulk_channel_params bad;
	struct bulk_endpoint *ep, *ep2;
	struct bulk_channel *ch = NULL, *ch2 = NULL;

	CHECK_RC(bulk_local_endpoint_create(A, &ep), 0);
	CHECK_RC(bulk_local_endpoint_create(A, &ep2), 0);
	CHECK_RC(bulk_local_endpoint_create(NULL, &ep2), -EINVAL);
	CHECK_RC(bulk_channel_create(NULL, &cbs, &cp, &ch), -EINVAL);
	CHECK_RC(bulk_channel_create(ep, &cbs, NULL, &ch), -EINVAL);
	CHECK_RC(bulk_channel_create(ep, &cbs, &cp, NULL), -EINVAL);
	bad = cp;
	bad.direction = (enum bulk_direction)7;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -EINVAL);
	bad = cp;
	bad.role = (enum bulk_role)9;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -EINVAL);
	bad = cp;
	bad.trust = (enum bulk_trust)9;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -EINVAL);
	bad = cp;
	bad.meta_size = BULK_META_MAX + 1;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -EINVAL);
	bad = cp;
	bad.queue_size = 1000;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -EINVAL);
	/* Local pool memory is shared as it is: only FULL trust. */
	bad = cp;
	bad.trust = BULK_TRUST_HALF;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -BULK_E_TRUST_UNSUPPORTED);
	bad.trust = BULK_TRUST_NONE;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch), -BULK_E_TRUST_UNSUPPORTED);
	CHECK(ch == NULL);
	/* The refused creates left the endpoint unused. */
	CHECK_RC(bulk_channel_create(ep, &cbs, &cp, &ch), 0);
	CHECK_EQ_INT(bulk_channel_state(ch), BULK_STATE_INITIALIZED);
	CHECK_EQ_INT(bulk_channel_trust(ch), BULK_TRUST_FULL);
	CHECK(strcmp(bulk_channel_backend(ch), "local") == 0);
	/* Endpoint in use; documented order: EINVAL before EP_IN_USE before TRUST. */
	CHECK_RC(bulk_channel_create(ep, &cbs, &cp, &ch2), -BULK_E_EP_IN_USE);
	bad = cp;
	bad.trust = BULK_TRUST_HALF;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch2), -BULK_E_EP_IN_USE);
	bad.direction = (enum bulk_direction)7;
	CHECK_RC(bulk_channel_create(ep, &cbs, &bad, &ch2), -EINVAL);
	CHECK(ch2 == NULL);
	/* Unbound channel: destroy closes at once, then free. */
	CHECK_RC(bulk_channel_destroy(ch, BULK_CONT_NONE), 0);
	CHECK_RC(bulk_channel_destroy(ch, BULK_CONT_NONE), -BULK_E_CLOSED);
	drain();
	CHECK_EQ_INT(bulk_channel_state(ch), BULK_STATE_CLOSED);
	CHECK_RC(bulk_endpoint_free(ep), -EBUSY);
	CHECK_RC(bulk_channel_free(ch), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	CHECK_RC(bulk_endpoint_free(ep2), 0);
	printf("  create: bad enums/sizes, HALF/NONE trust, endpoint in use, order\n");
}

static void
test_bind(void)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX,
					  .role = BULK_ROLE_MASTER, .meta_size = 8 };
	struct bulk_bind_params bp, bad;
	struct bulk_endpoint *ep, *ep_empty;
	struct bulk_channel *cch, *bch = NULL, *x = NULL;
	struct t_cont bc, bc2;

	memset(&bp, 0, sizeof(bp));
	CHECK_RC(bulk_local_endpoint_create(A, &ep_empty), 0);
	CHECK_RC(bulk_local_endpoint_create(A, &ep), 0);
	CHECK_RC(bulk_channel_create(ep, &cbs, &cp, &cch), 0);

	CHECK_RC(bulk_channel_bind(B, ep_empty, &cbs, &bp, t_cont(&bc2), &x),
		 -BULK_E_EP_NO_CHANNEL);
	CHECK_RC(bulk_channel_bind(B, NULL, &cbs, &bp, t_cont(&bc2), &x), -EINVAL);
	CHECK_RC(bulk_channel_bind(NULL, ep, &cbs, &bp, t_cont(&bc2), &x), -EINVAL);
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bp, t_cont(&bc2), NULL), -EINVAL);
	bad = bp;
	bad.role = (enum bulk_role)5;
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -EINVAL);
	bad = bp;
	bad.meta_size = BULK_META_MAX + 1;
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -EINVAL);
	bad = bp;
	bad.meta_size = 16;
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -BULK_E_BIND_MISMATCH);
	bad = bp;
	bad.role = BULK_ROLE_MASTER; /* the creator is MASTER already */
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -BULK_E_BIND_MISMATCH);
	bad = bp;
	bad.trust = BULK_TRUST_HALF;
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -BULK_E_BIND_MISMATCH);
	bad = bp;
	bad.queue_size = BULK_CHANNEL_DEFAULT_QUEUE / 2; /* the creator took the default */
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc2), &x), -BULK_E_BIND_MISMATCH);
	/* Same domain as the creator. */
	CHECK_RC(bulk_channel_bind(A, ep, &cbs, &bp, t_cont(&bc2), &x), -BULK_E_WRONG_DOMAIN);
	drain();
	CHECK_EQ_INT(bc2.fired, 0);
	CHECK(x == NULL);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_INITIALIZED);

	/* The refused binds left the channel bindable. */
	bad = bp;
	bad.role = BULK_ROLE_SLAVE;
	bad.meta_size = 8;
	bad.trust = BULK_TRUST_FULL;
	bad.queue_size = BULK_CHANNEL_DEFAULT_QUEUE; /* asking for what it has is fine */
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bad, t_cont(&bc), &bch), 0);
	CHECK_EQ_INT(bulk_channel_state(bch), BULK_STATE_BINDING);
	/* Pending bind, then bound: ALREADY_BOUND both times. */
	CHECK_RC(bulk_channel_bind(C, ep, &cbs, &bp, t_cont(&bc2), &x), -BULK_E_ALREADY_BOUND);
	drain();
	CHECK_EQ_INT(bc.fired, 1);
	CHECK_RC(bc.err, 0);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(bch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(bch), BULK_DIRECTION_RX);
	CHECK_EQ_INT(bulk_channel_role(bch), BULK_ROLE_SLAVE);
	CHECK_EQ_INT(bulk_channel_meta_size(bch), 8);
	CHECK_RC(bulk_channel_bind(C, ep, &cbs, &bp, t_cont(&bc2), &x), -BULK_E_ALREADY_BOUND);
	CHECK_RC(bulk_channel_bind(B, ep, &cbs, &bp, t_cont(&bc2), &x), -BULK_E_ALREADY_BOUND);
	drain();
	CHECK_EQ_INT(bc2.fired, 0);
	CHECK(x == NULL);
	t_disconnect(A, B, ep, cch, bch);
	CHECK_RC(bulk_endpoint_free(ep_empty), 0);
	printf("  bind: no channel, already bound (pending and bound), mismatch, same domain\n");
}

int
main(void)
{
	struct bulk_channel_params pab = { .direction = BULK_DIRECTION_TX,
					   .role = BULK_ROLE_MASTER };
	struct bulk_channel_params pbc = { .direction = BULK_DIRECTION_TX, .meta_size = META };
	struct bulk_endpoint *ep_ab, *ep_bc, *ep_x;
	struct bulk_channel *ab_a, *ab_b, *bc_b, *bc_c, *x;
	struct bulk_pool *PA, *PU, *PH, *PV, *PB, *PF, *pv;
	struct bulk_pool fake;
	struct bulk_buffer *bufs[4], *src[4], *dst[4];
	struct bulk_channel_stats st0, st1;
	uint32_t lens[4] = { 1, 2, 3, 4 };
	uint8_t meta[4 * META] = { 0 };
	struct t_cont c1, c2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_preconditions: Algorithms 3-10 over the local backend\n");
	CHECK_RC(bulk_domain_create("A", &A), 0);
	CHECK_RC(bulk_domain_create("B", &B), 0);
	CHECK_RC(bulk_domain_create("C", &C), 0);
	CHECK_RC(bulk_domain_create("x", NULL), -EINVAL);
	W.doms[0] = A;
	W.doms[1] = B;
	W.doms[2] = C;
	W.ndoms = 3;

	test_create();
	test_bind();

	t_connect(A, B, &pab, &cbs, &cbs, &ep_ab, &ab_a, &ab_b);
	t_connect(B, C, &pbc, &cbs, &cbs, &ep_bc, &bc_b, &bc_c);
	bulk_channel_set_user(ab_a, &cnt_a);
	bulk_channel_set_user(ab_b, &cnt_b);
	bulk_channel_set_user(bc_b, &cnt_b);
	bulk_channel_set_user(bc_c, &cnt_c);
	CHECK(bulk_channel_user(ab_b) == &cnt_b);
	CHECK_EQ_INT(bulk_channel_direction(ab_b), BULK_DIRECTION_RX);
	CHECK_EQ_INT(bulk_channel_role(ab_b), BULK_ROLE_SLAVE);
	CHECK(bulk_channel_domain(ab_b) == B);
	CHECK_RC(bulk_local_endpoint_create(A, &ep_x), 0);
	CHECK_RC(bulk_channel_create(ep_x, &cbs, &pab, &x), 0);

	PA = pool_new(A, 0);
	PU = pool_new(A, 0);
	PH = pool_new(A, BULK_TRUST_HALF);
	PV = pool_new(A, 0);
	PB = pool_new(B, 0);
	get_all(PA);
	get_all(PB);
	W.doms[0] = A;
	W.doms[1] = B;
	W.doms[2] = C;
	W.ndoms = 3;
	W.ids[0] = *bulk_pool_get_id(PA);
	W.ids[1] = *bulk_pool_get_id(PU);
	W.ids[2] = *bulk_pool_get_id(PH);
	W.ids[3] = *bulk_pool_get_id(PV);
	W.ids[4] = *bulk_pool_get_id(PB);
	W.npools = 5;
	W.chans[0] = ab_a;
	W.chans[1] = ab_b;
	W.chans[2] = bc_b;
	W.chans[3] = bc_c;
	W.chans[4] = x;
	W.nchans = 5;

	/* ---------------------------------------------------- pool alloc (Alg. 5) */
	{
		struct bulk_pool_params bad = { .count = 0, .buffer_size = BSZ };
		struct bulk_pool *np = NULL;

		REFUSED(bulk_pool_alloc(A, &bad, &np), -EINVAL);
		bad.count = NBUF;
		bad.buffer_size = 0;
		REFUSED(bulk_pool_alloc(A, &bad, &np), -EINVAL);
		bad.buffer_size = 100;
		REFUSED(bulk_pool_alloc(A, &bad, &np), -EINVAL);
		bad.buffer_size = BSZ;
		bad.align = 3;
		REFUSED(bulk_pool_alloc(A, &bad, &np), -EINVAL);
		bad.align = 0;
		bad.trust = (enum bulk_trust)4;
		REFUSED(bulk_pool_alloc(A, &bad, &np), -EINVAL);
		CHECK(np == NULL);
	}

	/* ---------------------------------------------------- assign (Alg. 6) */
	REFUSED(bulk_channel_assign_pool(NULL, PA, RC), -EINVAL);
	REFUSED(bulk_channel_assign_pool(ab_a, NULL, RC), -EINVAL);
	REFUSED(bulk_channel_assign_pool(x, PA, RC), -BULK_E_NOT_CONNECTED);
	REFUSED(bulk_channel_assign_pool(ab_a, PB, RC), -BULK_E_WRONG_DOMAIN);
	REFUSED(bulk_channel_assign_pool(x, PB, RC), -BULK_E_WRONG_DOMAIN); /* order */
	REFUSED(bulk_channel_assign_pool(ab_a, PH, RC), -BULK_E_TRUST_MISMATCH);
	/* A view of A that is in no pool list: a pool freed by bulk_pool_free(). */
	PF = pool_new(A, 0);
	memcpy(&fake, PF, sizeof(fake));
	CHECK_RC(bulk_pool_free(PF), 0);
	REFUSED(bulk_channel_assign_pool(ab_a, &fake, RC), -BULK_E_POOL_UNKNOWN);
	REFUSED(bulk_channel_assign_pool(x, &fake, RC), -BULK_E_NOT_CONNECTED); /* order */

	CHECK_RC(bulk_channel_assign_pool(ab_a, PA, t_cont(&c1)), 0);
	/* Pending on this channel: refused. */
	REFUSED_PENDING(bulk_channel_assign_pool(ab_a, PA, RC), -BULK_E_POOL_ASSIGNED);
	drain();
	CHECK_EQ_INT(refc.fired, 0);
	CHECK_EQ_INT(c1.fired, 1);
	CHECK_RC(c1.err, 0);
	CHECK_EQ_INT(cnt_b.assigned, 1);
	CHECK_EQ_INT(bulk_pool_trust(PA), BULK_TRUST_FULL); /* fixed at first assignment */
	CHECK_EQ_INT(bulk_channel_has_pool(ab_a, PA), 1);
	pv = bulk_domain_pool_lookup(B, bulk_pool_get_id(PA));
	CHECK(pv != NULL);
	CHECK(bulk_pool_domain(pv) == B);
	CHECK_EQ_INT(bulk_channel_has_pool(ab_b, pv), 1);
	CHECK_EQ_INT(bulk_pool_buffer_count(pv), NBUF);
	CHECK_EQ_INT(bulk_pool_buffer_size(pv), BSZ);
	for (unsigned i = 0; i < NBUF; i++)
		check_state(B, PA, i, BULK_BUFFER_INVALID, 0, 0);
	REFUSED(bulk_channel_assign_pool(ab_a, PA, RC), -BULK_E_POOL_ASSIGNED);
	REFUSED(bulk_channel_assign_pool(ab_b, pv, RC), -BULK_E_POOL_ASSIGNED);
	/* TRUST_MISMATCH comes after POOL_ASSIGNED; WRONG_DOMAIN before everything. */
	REFUSED(bulk_channel_assign_pool(ab_b, PA, RC), -BULK_E_WRONG_DOMAIN);
	/* B assigns its own pool PB to bc, and its view of PA onwards to bc. */
	CHECK_RC(bulk_channel_assign_pool(bc_b, PB, t_cont(&c1)), 0);
	CHECK_RC(bulk_channel_assign_pool(bc_b, pv, t_cont(&c2)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0 && c2.fired == 1 && c2.err == 0);
	CHECK_EQ_INT(cnt_c.assigned, 2);

	/* Veto: the continuation gets VETOED, nothing is assigned on either side. */
	cnt_b.veto = 1;
	t_snap_take(&W, &snap0);
	CHECK_RC(bulk_channel_assign_pool(ab_a, PV, t_cont(&c1)), 0);
	drain();
	CHECK_EQ_INT(c1.fired, 1);
	CHECK_RC(c1.err, -BULK_E_VETOED);
	CHECK_EQ_INT(bulk_channel_has_pool(ab_a, PV), 0);
	pv = bulk_domain_pool_lookup(B, bulk_pool_get_id(PV));
	if (pv != NULL) {
		CHECK_EQ_INT(bulk_channel_has_pool(ab_b, pv), 0);
		for (unsigned i = 0; i < NBUF; i++)
			check_state(B, PV, i, BULK_BUFFER_INVALID, 0, 0);
	}
	t_snap_take(&W, &snap1);
	/* Only the control messages' statistics may differ. */
	for (unsigned k = 0; k < snap0.nbufs && snap0.nbufs == snap1.nbufs; k++)
		CHECK(memcmp(&snap0.b[k], &snap1.b[k], sizeof(snap0.b[k])) == 0);
	CHECK(memcmp(snap0.assigned, snap1.assigned, sizeof(snap0.assigned)) == 0);
	cnt_b.veto = 0;
	/* The vetoed pool can be assigned afterwards. */
	CHECK_RC(bulk_channel_assign_pool(ab_a, PV, t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	CHECK_EQ_INT(bulk_channel_has_pool(ab_a, PV), 1);
	printf("  assign: not connected, wrong domain, unknown, assigned/pending, trust, veto\n");

	/* ---------------------------------------------------- remove */
	REFUSED(bulk_channel_remove_pool(NULL, PV, RC), -EINVAL);
	REFUSED(bulk_channel_remove_pool(ab_a, PU, RC), -BULK_E_POOL_NOT_ASSIGNED);
	REFUSED(bulk_channel_remove_pool(ab_a, PB, RC), -BULK_E_WRONG_DOMAIN);
	REFUSED(bulk_channel_remove_pool(x, PV, RC), -BULK_E_NOT_CONNECTED);
	/* In use: one buffer of PV at B, then one copied out. */
	bufs[0] = bulk_pool_get(PV);
	CHECK(bufs[0] != NULL);
	CHECK_RC(bulk_channel_move(ab_a, bufs[0], 10, NULL, t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	REFUSED(bulk_channel_remove_pool(ab_a, PV, RC), -BULK_E_POOL_IN_USE);
	REFUSED(bulk_channel_remove_pool(ab_b, bulk_domain_pool_lookup(B, bulk_pool_get_id(PV)),
					 RC), -BULK_E_POOL_IN_USE);
	CHECK_RC(bulk_channel_pass(ab_b, vb(B, PV, bufs[0]->index), 10, NULL, BULK_CONT_NONE), 0);
	drain();
	CHECK_RC(bulk_channel_copy(ab_a, bufs[0], 10, NULL, t_cont(&c1)), 0);
	drain();
	check_state(A, PV, bufs[0]->index, BULK_BUFFER_RO_OWNED, 0, 1);
	REFUSED(bulk_channel_remove_pool(ab_a, PV, RC), -BULK_E_POOL_IN_USE);
	CHECK_RC(bulk_channel_release(ab_b, vb(B, PV, bufs[0]->index), t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	check_state(A, PV, bufs[0]->index, BULK_BUFFER_READ_WRITE, 0, 0);
	CHECK_RC(bulk_pool_put(bufs[0]), 0);
	cnt_b.removed = 0;
	CHECK_RC(bulk_channel_remove_pool(ab_a, PV, t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	CHECK_EQ_INT(cnt_b.removed, 1);
	CHECK_EQ_INT(bulk_channel_has_pool(ab_a, PV), 0);
	pv = bulk_domain_pool_lookup(B, bulk_pool_get_id(PV));
	CHECK(pv == NULL || bulk_channel_has_pool(ab_b, pv) == 0);
	REFUSED(bulk_channel_remove_pool(ab_a, PV, RC), -BULK_E_POOL_NOT_ASSIGNED);
	printf("  remove: not assigned, wrong domain, not connected, in use (moved, copied)\n");

	/* ---------------------------------------------------- move (Alg. 7) */
	for (unsigned i = 0; i < 4; i++)
		bufs[i] = bulk_pool_buffer(PA, i);
	REFUSED(bulk_channel_move_burst(NULL, bufs, NULL, NULL, 4, RC), -EINVAL);
	REFUSED(bulk_channel_move_burst(ab_a, NULL, NULL, NULL, 4, RC), -EINVAL);
	REFUSED(bulk_channel_move_burst(ab_a, bufs, NULL, NULL, 0, RC), -EINVAL);
	REFUSED(bulk_channel_move_burst(x, bufs, NULL, NULL, 4, RC), -BULK_E_NOT_CONNECTED);
	REFUSED(bulk_channel_move_burst(ab_b, bufs, NULL, NULL, 4, RC), -BULK_E_WRONG_DIRECTION);
	/* meta NULL on a channel with meta: EINVAL before the direction check. */
	REFUSED(bulk_channel_move_burst(bc_c, bufs, NULL, NULL, 1, RC), -EINVAL);
	/* 3rd of 4 bad, each violation in turn; nothing of the first two changes. */
	bufs[2] = NULL;
	REFUSED(bulk_channel_move_burst(ab_a, bufs, NULL, NULL, 4, RC), -EINVAL);
	bufs[2] = vb(B, PA, 2);
	REFUSED(bulk_channel_move_burst(ab_a, bufs, NULL, NULL, 4, RC), -BULK_E_WRONG_DOMAIN);
	bufs[2] = bulk_pool_buffer(PA, 2);
	lens[2] = BSZ + 1;
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_BAD_LENGTH);
	lens[2] = 3;
	bufs[2] = bulk_pool_buffer(PU, 2); /* in PU's free list too: pool check first */
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC),
		-BULK_E_POOL_NOT_ASSIGNED);
	lens[2] = BSZ + 1; /* and BAD_LENGTH comes before POOL_NOT_ASSIGNED */
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_BAD_LENGTH);
	lens[2] = 3;
	bufs[2] = bulk_pool_buffer(PH, 2);
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC),
		-BULK_E_POOL_NOT_ASSIGNED);
	bufs[2] = bulk_pool_buffer(PA, 2);
	bufs[3] = bufs[0];
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_DUPLICATE);
	bufs[3] = bulk_pool_buffer(PA, 3);
	/* Buffer free: put index 2 back into the free list. */
	CHECK_RC(bulk_pool_put(bufs[2]), 0);
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_BUFFER_FREE);
	CHECK(bulk_pool_get(PA) == bufs[2]);
	/* Buffer copied: copy index 2 to B first. */
	CHECK_RC(bulk_channel_copy(ab_a, bufs[2], 0, NULL, t_cont(&c1)), 0);
	drain();
	check_state(A, PA, 2, BULK_BUFFER_RO_OWNED, 0, 1);
	check_state(B, PA, 2, BULK_BUFFER_READ_ONLY, 1, 0);
	REFUSED(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_BUFFER_COPIED);
	/* B holds the copy, it does not own it: NOT_OWNER on the onward move. */
	{
		struct bulk_buffer *bb = vb(B, PA, 2);

		REFUSED(bulk_channel_move_burst(bc_b, &bb, NULL, meta, 1, RC), -BULK_E_NOT_OWNER);
		REFUSED(bulk_channel_pass_burst(ab_b, &bb, NULL, NULL, 1, RC), -BULK_E_NOT_OWNER);
	}
	CHECK_RC(bulk_channel_release(ab_b, vb(B, PA, 2), t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	check_state(A, PA, 2, BULK_BUFFER_READ_WRITE, 0, 0);
	/* The valid burst. */
	CHECK_RC(bulk_channel_stats_get(ab_a, &st0), 0);
	cnt_b.moves = 0;
	CHECK_RC(bulk_channel_move_burst(ab_a, bufs, lens, NULL, 4, t_cont(&c1)), 4);
	drain();
	CHECK_EQ_INT(c1.fired, 1);
	CHECK_RC(c1.err, 0);
	CHECK_EQ_INT(cnt_b.moves, 1);
	CHECK_EQ_INT(cnt_b.last_n, 4);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ_INT(cnt_b.last_lens[i], lens[i]);
		check_state(A, PA, i, BULK_BUFFER_INVALID, 0, 0);
		check_state(B, PA, i, BULK_BUFFER_READ_WRITE, 0, 0);
	}
	CHECK_RC(bulk_channel_stats_get(ab_a, &st1), 0);
	CHECK_EQ_INT(st1.tx_bufs - st0.tx_bufs, 4);
	CHECK_EQ_INT(st1.moves_tx - st0.moves_tx, 4);
	CHECK_EQ_INT(st1.tx_bytes - st0.tx_bytes, 1 + 2 + 3 + 4);
	/* Moved away: NOT_OWNER; NOT_OWNER before BUFFER_COPIED needs nothing more. */
	REFUSED(bulk_channel_move_burst(ab_a, bufs, NULL, NULL, 1, RC), -BULK_E_NOT_OWNER);
	printf("  move: EINVAL, not connected, direction, wrong domain, length, pool, owner, "
	       "copied, free, duplicate; 3rd of 4 bad\n");

	/* ---------------------------------------------------- pass (Alg. 8) */
	/* B owns PA[0..3]. */
	for (unsigned i = 0; i < 4; i++)
		bufs[i] = vb(B, PA, i);
	REFUSED(bulk_channel_pass_burst(ab_a, bufs, NULL, NULL, 4, RC), -BULK_E_WRONG_DIRECTION);
	REFUSED(bulk_channel_pass_burst(bc_b, bufs, NULL, meta, 4, RC), -BULK_E_WRONG_DIRECTION);
	bufs[2] = bulk_pool_buffer(PA, 2);
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, NULL, NULL, 4, RC), -BULK_E_WRONG_DOMAIN);
	bufs[2] = vb(B, PA, 2);
	lens[2] = BSZ + 1;
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC), -BULK_E_BAD_LENGTH);
	lens[2] = 3;
	bufs[2] = bulk_pool_buffer(PB, 2); /* PB is on bc only */
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC),
		-BULK_E_POOL_NOT_ASSIGNED);
	bufs[2] = vb(B, PA, 5); /* at A */
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC), -BULK_E_NOT_OWNER);
	bufs[2] = vb(B, PA, 2);
	bufs[3] = bufs[1];
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC), -BULK_E_DUPLICATE);
	bufs[3] = vb(B, PA, 3);
	/* Free in B's own view of PA. */
	CHECK_RC(bulk_pool_put(bufs[2]), 0);
	CHECK_EQ_INT(bulk_pool_free_count(bufs[2]->pool), 1);
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC), -BULK_E_BUFFER_FREE);
	CHECK(bulk_pool_get(bufs[2]->pool) == bufs[2]);
	/* Copied on to C over bc: BUFFER_COPIED. */
	CHECK_RC(bulk_channel_copy(bc_b, bufs[2], 7, meta, t_cont(&c1)), 0);
	drain();
	check_state(B, PA, 2, BULK_BUFFER_RO_OWNED, 0, 1);
	check_state(C, PA, 2, BULK_BUFFER_READ_ONLY, 1, 0);
	REFUSED(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, RC), -BULK_E_BUFFER_COPIED);
	CHECK_RC(bulk_channel_release(bc_c, vb(C, PA, 2), t_cont(&c1)), 0);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	check_state(B, PA, 2, BULK_BUFFER_READ_WRITE, 0, 0);
	check_state(C, PA, 2, BULK_BUFFER_INVALID, 0, 0);
	cnt_a.passes = 0;
	CHECK_RC(bulk_channel_pass_burst(ab_b, bufs, lens, NULL, 4, t_cont(&c1)), 4);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	CHECK_EQ_INT(cnt_a.passes, 1);
	CHECK_EQ_INT(cnt_a.last_n, 4);
	for (unsigned i = 0; i < 4; i++) {
		check_state(A, PA, i, BULK_BUFFER_READ_WRITE, 0, 0);
		check_state(B, PA, i, BULK_BUFFER_INVALID, 0, 0);
	}
	printf("  pass: direction, wrong domain, length, pool, owner, duplicate, free, copied\n");

	/* ---------------------------------------------------- copy (Alg. 9) */
	/* A copies PA[0] to B, B copies it on to C (copy of a copy). */
	bufs[0] = bulk_pool_buffer(PA, 0);
	REFUSED(bulk_channel_copy_burst(ab_b, bufs, NULL, NULL, 1, RC), -BULK_E_WRONG_DIRECTION);
	{
		struct bulk_buffer *bb = vb(B, PA, 0);

		REFUSED(bulk_channel_copy_burst(bc_b, &bb, NULL, meta, 1, RC), -BULK_E_NO_ACCESS);
	}
	CHECK_RC(bulk_channel_copy_burst(ab_a, bufs, NULL, NULL, 1, t_cont(&c1)), 1);
	REFUSED_PENDING(bulk_channel_copy_burst(ab_a, bufs, NULL, NULL, 1, RC),
			-BULK_E_COPY_EXISTS);
	drain();
	CHECK_EQ_INT(refc.fired, 0);
	CHECK(c1.fired == 1 && c1.err == 0);
	REFUSED(bulk_channel_copy_burst(ab_a, bufs, NULL, NULL, 1, RC), -BULK_E_COPY_EXISTS);
	bufs[1] = bulk_pool_buffer(PA, 1);
	bufs[2] = bulk_pool_buffer(PA, 1);
	REFUSED(bulk_channel_copy_burst(ab_a, &bufs[1], NULL, NULL, 2, RC), -BULK_E_DUPLICATE);
	CHECK_RC(bulk_pool_put(bufs[1]), 0);
	REFUSED(bulk_channel_copy_burst(ab_a, &bufs[1], NULL, NULL, 1, RC), -BULK_E_BUFFER_FREE);
	CHECK(bulk_pool_get(PA) == bufs[1]);
	check_state(A, PA, 0, BULK_BUFFER_RO_OWNED, 0, 1);
	check_state(B, PA, 0, BULK_BUFFER_READ_ONLY, 1, 0);
	/* Bursts of 4 with the 3rd bad: PA[4..7] are A's, PA[0] is copied already. */
	for (unsigned i = 0; i < 4; i++)
		bufs[i] = bulk_pool_buffer(PA, 4 + i);
	bufs[2] = bulk_pool_buffer(PA, 0);
	REFUSED(bulk_channel_copy_burst(ab_a, bufs, NULL, NULL, 4, RC), -BULK_E_COPY_EXISTS);
	bufs[2] = vb(B, PA, 6);
	REFUSED(bulk_channel_copy_burst(ab_a, bufs, NULL, NULL, 4, RC), -BULK_E_WRONG_DOMAIN);
	bufs[2] = bulk_pool_buffer(PA, 6);
	lens[0] = lens[1] = lens[3] = 1;
	lens[2] = BSZ + 1;
	REFUSED(bulk_channel_copy_burst(ab_a, bufs, lens, NULL, 4, RC), -BULK_E_BAD_LENGTH);
	lens[0] = 1;
	lens[1] = 2;
	lens[2] = 3;
	lens[3] = 4;
	{
		struct bulk_buffer *bb = vb(B, PA, 0);
		struct bulk_buffer *rel[4] = { bb, bb, bb, bb };

		/* Release: one good copy first (the only one B has), then bad ones. */
		rel[1] = vb(B, PA, 5);
		rel[2] = vb(B, PA, 6);
		REFUSED(bulk_channel_release_burst(ab_b, rel, 4, RC), -BULK_E_NOT_COPY);
		rel[1] = rel[2] = NULL;
		REFUSED(bulk_channel_release_burst(ab_b, rel, 4, RC), -EINVAL);
	}
	{
		struct bulk_buffer *bb = vb(B, PA, 0);

		cnt_c.copies = 0;
		memset(meta, 0xab, META);
		CHECK_RC(bulk_channel_copy_burst(bc_b, &bb, NULL, meta, 1, t_cont(&c1)), 1);
		drain();
		CHECK(c1.fired == 1 && c1.err == 0);
		CHECK_EQ_INT(cnt_c.copies, 1);
		CHECK_EQ_INT(cnt_c.last_lens[0], BSZ);
		CHECK_EQ_INT(cnt_c.last_meta[0], 0xab);
		CHECK_EQ_INT(cnt_c.last_meta[META - 1], 0xab);
		REFUSED(bulk_channel_copy_burst(bc_b, &bb, NULL, meta, 1, RC),
			-BULK_E_COPY_EXISTS);
	}
	check_state(A, PA, 0, BULK_BUFFER_RO_OWNED, 0, 1);
	check_state(B, PA, 0, BULK_BUFFER_READ_ONLY, 1, 1);
	check_state(C, PA, 0, BULK_BUFFER_READ_ONLY, 1, 0);
	printf("  copy: direction, no access, copy exists (pending and done), duplicate, free\n");

	/* ---------------------------------------------------- release (Alg. 10) */
	{
		struct bulk_buffer *bb = vb(B, PA, 0), *cb = vb(C, PA, 0);
		struct bulk_buffer *two[2] = { cb, cb };

		REFUSED(bulk_channel_release_burst(ab_a, bufs, 1, RC), -BULK_E_WRONG_DIRECTION);
		REFUSED(bulk_channel_release_burst(bc_b, &bb, 1, RC), -BULK_E_WRONG_DIRECTION);
		REFUSED(bulk_channel_release_burst(ab_b, &cb, 1, RC), -BULK_E_WRONG_DOMAIN);
		/* B still has its copy out to C: releasing its only copy in is refused. */
		REFUSED(bulk_channel_release_burst(ab_b, &bb, 1, RC), -BULK_E_COPY_REACHABILITY);
		REFUSED(bulk_channel_release_burst(bc_c, two, 2, RC), -BULK_E_DUPLICATE);
		/* Not a copy: B's view of PA[1] (at A), and a buffer B owns. */
		bb = vb(B, PA, 1);
		REFUSED(bulk_channel_release_burst(ab_b, &bb, 1, RC), -BULK_E_NOT_COPY);
		bb = vb(B, PA, 0);
		cnt_b.releases = 0;
		CHECK_RC(bulk_channel_release_burst(bc_c, &cb, 1, t_cont(&c1)), 1);
		drain();
		CHECK(c1.fired == 1 && c1.err == 0);
		CHECK_EQ_INT(cnt_b.releases, 1);
		check_state(B, PA, 0, BULK_BUFFER_READ_ONLY, 1, 0);
		check_state(C, PA, 0, BULK_BUFFER_INVALID, 0, 0);
		REFUSED(bulk_channel_release_burst(bc_c, &cb, 1, RC), -BULK_E_NOT_COPY);
		CHECK_RC(bulk_channel_release_burst(ab_b, &bb, 1, t_cont(&c1)), 1);
		drain();
		CHECK(c1.fired == 1 && c1.err == 0);
		check_state(A, PA, 0, BULK_BUFFER_READ_WRITE, 0, 0);
		check_state(B, PA, 0, BULK_BUFFER_INVALID, 0, 0);
		REFUSED(bulk_channel_release_burst(ab_b, &bb, 1, RC), -BULK_E_NOT_COPY);
	}
	printf("  release: direction, wrong domain, reachability (A->B->C), duplicate, "
	       "not a copy\n");

	/* ---------------------------------------------------- full copy */
	for (unsigned i = 0; i < 2; i++) {
		src[i] = bulk_pool_buffer(PU, i); /* readable, pool need not be assigned */
		dst[i] = bulk_pool_buffer(PA, 4 + i);
		memset(src[i]->addr, 0x40 + (int)i, BSZ);
		memset(dst[i]->addr, 0, BSZ);
	}
	lens[0] = BSZ;
	lens[1] = 100;
	REFUSED(bulk_channel_full_copy_burst(ab_b, src, dst, lens, NULL, 2, RC),
		-BULK_E_WRONG_DIRECTION);
	src[1] = vb(B, PA, 6);
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_WRONG_DOMAIN);
	src[1] = bulk_pool_buffer(PB, 0); /* not even a view of A's: wrong domain */
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_WRONG_DOMAIN);
	/* A's view of a buffer it gave to B... first move PA[6] to B. */
	bufs[0] = bulk_pool_buffer(PA, 6);
	CHECK_RC(bulk_channel_move(ab_a, bufs[0], 0, NULL, BULK_CONT_NONE), 0);
	drain();
	src[1] = bufs[0];
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_NO_ACCESS);
	src[1] = bulk_pool_buffer(PU, 1);
	dst[1] = bufs[0]; /* dst not owned */
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_NOT_OWNER);
	dst[1] = bulk_pool_buffer(PU, 3); /* dst pool not assigned */
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_POOL_NOT_ASSIGNED);
	dst[1] = dst[0];
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_DUPLICATE);
	dst[1] = bulk_pool_buffer(PA, 5);
	lens[1] = BSZ + 1;
	REFUSED(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, RC),
		-BULK_E_BAD_LENGTH);
	lens[1] = 100;
	CHECK_RC(bulk_channel_stats_get(ab_a, &st0), 0);
	cnt_b.moves = 0;
	CHECK_RC(bulk_channel_full_copy_burst(ab_a, src, dst, lens, NULL, 2, t_cont(&c1)), 2);
	drain();
	CHECK(c1.fired == 1 && c1.err == 0);
	CHECK_EQ_INT(cnt_b.moves, 1);
	CHECK_EQ_INT(cnt_b.last_n, 2);
	CHECK_EQ_INT(cnt_b.last_lens[1], 100);
	CHECK_RC(bulk_channel_stats_get(ab_a, &st1), 0);
	CHECK_EQ_INT(st1.lib_copies - st0.lib_copies, 2);
	CHECK_EQ_INT(st1.lib_copy_bytes - st0.lib_copy_bytes, BSZ + 100);
	check_state(A, PU, 0, BULK_BUFFER_READ_WRITE, 0, 0);
	check_state(A, PA, 4, BULK_BUFFER_INVALID, 0, 0);
	check_state(B, PA, 4, BULK_BUFFER_READ_WRITE, 0, 0);
	CHECK_EQ_INT(((uint8_t *)vb(B, PA, 4)->addr)[BSZ - 1], 0x40);
	CHECK_EQ_INT(((uint8_t *)vb(B, PA, 5)->addr)[99], 0x41);
	CHECK_EQ_INT(((uint8_t *)vb(B, PA, 5)->addr)[100], 0);
	printf("  full copy: direction, src domain, src access, dst owner/pool/dup/length\n");

	/* ---------------------------------------------------- queue full: 0..n */
	{
		struct bulk_channel_params pq = { .direction = BULK_DIRECTION_TX,
						  .queue_size = 4 };
		struct bulk_pool_params pp = { .count = 64, .buffer_size = 64 };
		struct bulk_domain *dd[2] = { A, B };
		struct bulk_endpoint *epq;
		struct bulk_channel *qa, *qb;
		struct bulk_pool *PQ;
		struct bulk_buffer *qb_bufs[64];
		struct bulk_channel_stats sq;
		int sent, more;

		t_connect(A, B, &pq, &cbs, &cbs, &epq, &qa, &qb);
		bulk_channel_set_user(qa, &cnt_a);
		bulk_channel_set_user(qb, &cnt_b);
		CHECK_RC(bulk_pool_alloc(A, &pp, &PQ), 0);
		CHECK_RC(bulk_channel_assign_pool(qa, PQ, BULK_CONT_NONE), 0);
		t_drain(dd, 2);
		CHECK_RC(bulk_pool_get_burst(PQ, qb_bufs, 64), 64);
		sent = bulk_channel_move_burst(qa, qb_bufs, NULL, NULL, 64, t_cont(&c1));
		CHECK(sent > 0 && sent < 64);
		/* Sent in order 0..sent; the rest untouched with the caller. */
		for (int i = 0; i < 64; i++)
			CHECK_EQ_INT(qb_bufs[i]->state,
				     i < sent ? BULK_BUFFER_INVALID : BULK_BUFFER_READ_WRITE);
		CHECK_RC(bulk_channel_move(qa, qb_bufs[sent], 0, NULL, BULK_CONT_NONE), -ENOBUFS);
		CHECK_RC(bulk_channel_move_burst(qa, &qb_bufs[sent], NULL, NULL, 2,
						 BULK_CONT_NONE), 0);
		CHECK_EQ_INT(qb_bufs[sent]->state, BULK_BUFFER_READ_WRITE);
		CHECK_RC(bulk_channel_stats_get(qa, &sq), 0);
		CHECK(sq.queue_full >= 3);
		CHECK_EQ_INT(sq.moves_tx, sent);
		t_drain(dd, 2);
		CHECK_EQ_INT(c1.fired, 1);
		CHECK_RC(c1.err, 0);
		more = bulk_channel_move_burst(qa, &qb_bufs[sent], NULL, NULL, 64 - (unsigned)sent,
					       BULK_CONT_NONE);
		CHECK(more > 0);
		t_drain(dd, 2);
		/* Everything back home in bursts as the queue allows. */
		for (int i = 0; i < sent + more; i++)
			qb_bufs[i] = vb(B, PQ, qb_bufs[i]->index);
		for (int done = 0; done < sent + more;) {
			int r = bulk_channel_pass_burst(qb, &qb_bufs[done],
							NULL, NULL, (unsigned)(sent + more - done),
							BULK_CONT_NONE);

			CHECK(r >= 0);
			done += r;
			t_drain(dd, 2);
		}
		for (uint32_t i = 0; i < 64; i++)
			CHECK_EQ_INT(bulk_pool_buffer(PQ, i)->state, BULK_BUFFER_READ_WRITE);
		t_disconnect(A, B, epq, qa, qb);
		if (bulk_domain_pool_lookup(B, bulk_pool_get_id(PQ)) != NULL)
			CHECK_RC(bulk_pool_free(bulk_domain_pool_lookup(B, bulk_pool_get_id(PQ))),
				 0);
		CHECK_RC(bulk_pool_free(PQ), 0);
		printf("  queue full: burst sent %d of 64 in order, -ENOBUFS, rest untouched\n",
		       sent);
	}

	/* ---------------------------------------------------- closed channel */
	CHECK_RC(bulk_channel_destroy(x, BULK_CONT_NONE), 0);
	drain();
	CHECK_EQ_INT(bulk_channel_state(x), BULK_STATE_CLOSED);
	bufs[0] = bulk_pool_buffer(PA, 7);
	REFUSED(bulk_channel_move_burst(x, bufs, NULL, NULL, 1, RC), -BULK_E_NOT_CONNECTED);
	REFUSED(bulk_channel_copy_burst(x, bufs, NULL, NULL, 1, RC), -BULK_E_NOT_CONNECTED);
	REFUSED(bulk_channel_assign_pool(x, PU, RC), -BULK_E_NOT_CONNECTED);

	/* ---------------------------------------------------- pool free refused */
	REFUSED(bulk_pool_free(PA), -BULK_E_POOL_ASSIGNED);

	/* ---------------------------------------------------- teardown: all home */
	for (unsigned i = 4; i < 7; i++)
		src[i - 4] = vb(B, PA, i);
	CHECK_RC(bulk_channel_pass_burst(ab_b, src, NULL, NULL, 3, BULK_CONT_NONE), 3);
	drain();
	for (unsigned i = 0; i < NBUF; i++) {
		check_state(A, PA, i, BULK_BUFFER_READ_WRITE, 0, 0);
		check_state(B, PB, i, BULK_BUFFER_READ_WRITE, 0, 0);
	}
	W.nchans = 0;
	t_disconnect(A, B, ep_ab, ab_a, ab_b);
	t_disconnect(B, C, ep_bc, bc_b, bc_c);
	CHECK_RC(bulk_channel_free(x), 0);
	CHECK_RC(bulk_endpoint_free(ep_x), 0);
	/* Received views are dropped or can be freed; then the allocators' pools. */
	for (unsigned p = 0; p < W.npools; p++) {
		pv = bulk_domain_pool_lookup(C, &W.ids[p]);
		if (pv != NULL)
			CHECK_RC(bulk_pool_free(pv), 0);
		pv = bulk_domain_pool_lookup(A, &W.ids[p]);
		if (pv != NULL && pv != PA && pv != PU && pv != PH && pv != PV)
			CHECK_RC(bulk_pool_free(pv), 0);
		pv = bulk_domain_pool_lookup(B, &W.ids[p]);
		if (pv != NULL && pv != PB)
			CHECK_RC(bulk_pool_free(pv), 0);
	}
	CHECK_RC(bulk_pool_free(PA), 0);
	CHECK_RC(bulk_pool_free(PU), 0);
	CHECK_RC(bulk_pool_free(PH), 0);
	CHECK_RC(bulk_pool_free(PV), 0);
	CHECK_RC(bulk_pool_free(PB), 0);
	CHECK_RC(bulk_domain_destroy(A), 0);
	CHECK_RC(bulk_domain_destroy(B), 0);
	CHECK_RC(bulk_domain_destroy(C), 0);
	printf("  %u refused calls, each changed nothing\n", nrefused);
	return CHECK_DONE("test_preconditions");
}
