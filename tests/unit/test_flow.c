/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spec's bulk_shm "test 0" flow over the local backend, step by step:
 * agent 1 creates a channel (RX side, MASTER), agent 2 binds (TX side);
 * agent 1 allocates a pool and assigns it (agent 2 accepts); agent 1 passes
 * every buffer to agent 2; agent 2 writes a pattern and moves them back;
 * agent 1 checks data, lengths and meta and passes them again; agent 2
 * copies one buffer (RO_OWNED / READ_ONLY), agent 1 checks and releases it;
 * a full copy; then an orderly teardown with every buffer home.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "harness.h"

#define NBUF 8
#define BSZ 4096
#define META 16
#define MAXCONT 32

struct agent {
	struct bulk_domain *d;
	struct bulk_channel *ch;
	struct bulk_buffer *got[NBUF];
	uint32_t lens[NBUF];
	uint8_t meta[NBUF * META];
	unsigned ngot;
	int moves, passes, copies, releases, assigned, removed, teardowns;
};

static struct agent ag1, ag2;
static struct t_cont conts[MAXCONT];
static unsigned nconts;

static struct bulk_cont
cont(void)
{
	CHECK(nconts < MAXCONT);
	return t_cont(&conts[nconts++]);
}

static struct agent *
agent_of(struct bulk_channel *ch)
{
	return bulk_channel_user(ch);
}

static void
take(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
     const void *meta, unsigned n)
{
	struct agent *a = agent_of(ch);

	for (unsigned i = 0; i < n; i++) {
		CHECK(a->ngot < NBUF);
		a->got[a->ngot] = bufs[i];
		a->lens[a->ngot] = lens[i];
		memcpy(&a->meta[a->ngot * META], (const uint8_t *)meta + i * META, META);
		a->ngot++;
	}
}

static void
on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	agent_of(ch)->moves++;
	take(ch, bufs, lens, meta, n);
}

static void
on_buffer(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	  const void *meta, unsigned n)
{
	agent_of(ch)->passes++;
	take(ch, bufs, lens, meta, n);
}

static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	agent_of(ch)->copies++;
	take(ch, bufs, lens, meta, n);
}

static void
on_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)bufs;
	(void)n;
	agent_of(ch)->releases++;
}

static int
on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	CHECK(bulk_pool_domain(pool) == bulk_channel_domain(ch));
	CHECK_EQ_INT(bulk_pool_buffer_count(pool), NBUF);
	CHECK_EQ_INT(bulk_pool_buffer_size(pool), BSZ);
	agent_of(ch)->assigned++;
	return 0;
}

static void
on_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)pool;
	agent_of(ch)->removed++;
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	(void)reason;
	agent_of(ch)->teardowns++;
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	CHECK_EQ_INT(info->binder_role, BULK_ROLE_SLAVE);
	CHECK_EQ_INT(info->trust, BULK_TRUST_FULL);
	CHECK_EQ_INT(info->meta_size, META);
	return 0;
}

static const struct bulk_channel_callbacks cbs = {
	.bind_received = on_bind,
	.pool_assigned = on_assigned,
	.pool_removed = on_removed,
	.move_received = on_move,
	.buffer_received = on_buffer,
	.copy_received = on_copy,
	.copy_released = on_released,
	.teardown_received = on_teardown,
};

static void
drain(void)
{
	struct bulk_domain *d[2] = { ag1.d, ag2.d };

	t_drain(d, 2);
}

static uint8_t
pattern(unsigned round, unsigned buf, unsigned byte)
{
	return (uint8_t)(round * 101 + buf * 7 + byte * 13);
}

static void
fill(struct bulk_buffer *b, unsigned round, uint32_t len)
{
	uint8_t *p = b->addr;

	for (uint32_t j = 0; j < len; j++)
		p[j] = pattern(round, b->index, j);
}

static int
verify(const struct bulk_buffer *b, unsigned round, uint32_t len)
{
	const uint8_t *p = b->addr;

	for (uint32_t j = 0; j < len; j++)
		if (p[j] != pattern(round, b->index, j))
			return -1;
	return 0;
}

int
main(void)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX,
					  .role = BULK_ROLE_MASTER, .meta_size = META,
					  .queue_size = 64 };
	struct bulk_bind_params bp;
	struct bulk_pool_params pp = { .count = NBUF, .buffer_size = BSZ };
	struct bulk_endpoint *ep;
	struct bulk_pool *pool, *pool2;
	struct bulk_buffer *bufs[NBUF];
	uint32_t lens[NBUF];
	uint8_t meta[NBUF * META] = { 0 };
	struct bulk_channel_stats st;
	struct bulk_buffer *b1, *b2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_flow: the spec's bulk_shm test 0 over the local backend\n");
	memset(&bp, 0, sizeof(bp));
	bp.user = &ag2;
	CHECK_RC(bulk_domain_create("agent1", &ag1.d), 0);
	CHECK_RC(bulk_domain_create("agent2", &ag2.d), 0);
	CHECK(strcmp(bulk_domain_name(ag1.d), "agent1") == 0);

	/* 1. agent 1 creates (RX, MASTER), agent 2 binds (TX, SLAVE). */
	cp.user = &ag1;
	CHECK_RC(bulk_local_endpoint_create(ag1.d, &ep), 0);
	CHECK_RC(bulk_channel_create(ep, &cbs, &cp, &ag1.ch), 0);
	CHECK_RC(bulk_channel_bind(ag2.d, ep, &cbs, &bp, cont(), &ag2.ch), 0);
	drain();
	CHECK_EQ_INT(bulk_channel_state(ag1.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_state(ag2.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(ag2.ch), BULK_DIRECTION_TX);
	CHECK_EQ_INT(bulk_channel_role(ag2.ch), BULK_ROLE_SLAVE);
	CHECK_EQ_INT(bulk_channel_meta_size(ag2.ch), META);
	CHECK(bulk_channel_user(ag2.ch) == &ag2);
	printf("  create/bind: agent 1 RX MASTER, agent 2 TX SLAVE, CONNECTED\n");

	/* 2. agent 1 allocates and assigns; agent 2 accepts. */
	CHECK_RC(bulk_pool_alloc(ag1.d, &pp, &pool), 0);
	CHECK_RC(bulk_channel_assign_pool(ag1.ch, pool, cont()), 0);
	drain();
	CHECK_EQ_INT(ag2.assigned, 1);
	pool2 = bulk_domain_pool_lookup(ag2.d, bulk_pool_get_id(pool));
	CHECK(pool2 != NULL);
	CHECK(bulk_pool_id_equal(bulk_pool_get_id(pool), bulk_pool_get_id(pool2)));
	CHECK_EQ_INT(bulk_channel_has_pool(ag1.ch, pool), 1);
	CHECK_EQ_INT(bulk_channel_has_pool(ag2.ch, pool2), 1);
	printf("  pool: 8 x 4096 assigned, agent 2 accepted\n");

	/* 3. agent 1 passes every buffer to agent 2. */
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NBUF), NBUF);
	CHECK_RC(bulk_channel_pass_burst(ag1.ch, bufs, NULL, meta, NBUF, cont()), NBUF);
	drain();
	CHECK_EQ_INT(ag2.passes, 1);
	CHECK_EQ_INT(ag2.ngot, NBUF);
	for (unsigned i = 0; i < NBUF; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
		CHECK_EQ_INT(ag2.got[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK(ag2.got[i]->pool == pool2);
		CHECK_EQ_INT(ag2.lens[i], BSZ);
	}
	printf("  pass: 8 buffers to agent 2 (READ_WRITE there, INVALID here)\n");

	/* 4. agent 2 writes a pattern and moves them to agent 1. */
	for (unsigned i = 0; i < NBUF; i++) {
		bufs[i] = ag2.got[i];
		lens[i] = BSZ - 100 * i;
		fill(bufs[i], 1, lens[i]);
		memset(&meta[i * META], 0x10 + (int)i, META);
	}
	ag2.ngot = 0;
	CHECK_RC(bulk_channel_move_burst(ag2.ch, bufs, lens, meta, NBUF, cont()), NBUF);
	drain();

	/* 5. agent 1 checks data, lengths, meta. */
	CHECK_EQ_INT(ag1.moves, 1);
	CHECK_EQ_INT(ag1.ngot, NBUF);
	for (unsigned i = 0; i < NBUF; i++) {
		struct bulk_buffer *b = ag1.got[i];

		CHECK(b->pool == pool);
		CHECK_EQ_INT(b->index, bufs[i]->index);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
		CHECK_EQ_INT(ag1.lens[i], lens[i]);
		CHECK_EQ_INT(verify(b, 1, lens[i]), 0);
		CHECK_EQ_INT(ag1.meta[i * META], 0x10 + i);
		CHECK_EQ_INT(ag1.meta[i * META + META - 1], 0x10 + i);
	}
	printf("  move: agent 1 verified data, lengths and meta of 8 buffers\n");

	/* 6. agent 1 passes them back. */
	for (unsigned i = 0; i < NBUF; i++)
		bufs[i] = ag1.got[i];
	ag1.ngot = 0;
	CHECK_RC(bulk_channel_pass_burst(ag1.ch, bufs, NULL, meta, NBUF, cont()), NBUF);
	drain();
	CHECK_EQ_INT(ag2.ngot, NBUF);

	/* 7. agent 2 writes another pattern and copies one buffer. */
	for (unsigned i = 0; i < NBUF; i++)
		fill(ag2.got[i], 2, BSZ);
	b2 = ag2.got[3];
	CHECK_RC(bulk_channel_copy(ag2.ch, b2, 1000, meta, cont()), 0);
	drain();
	CHECK_EQ_INT(b2->state, BULK_BUFFER_RO_OWNED);
	CHECK_EQ_INT(b2->copies_out, 1);
	CHECK_EQ_INT(ag1.copies, 1);
	CHECK_EQ_INT(ag1.ngot, 1);
	b1 = ag1.got[0];
	CHECK_EQ_INT(b1->index, b2->index);
	CHECK_EQ_INT(b1->state, BULK_BUFFER_READ_ONLY);
	CHECK_EQ_INT(b1->copies_in, 1);
	CHECK_EQ_INT(ag1.lens[0], 1000);
	CHECK_EQ_INT(verify(b1, 2, BSZ), 0);
	CHECK(bulk_buffer_is_readable(b1) && !bulk_buffer_is_owner(b1));
	CHECK(bulk_buffer_is_owner(b2));

	/* 8. agent 1 releases; agent 2 sees READ_WRITE again. */
	ag1.ngot = 0;
	CHECK_RC(bulk_channel_release(ag1.ch, b1, cont()), 0);
	drain();
	CHECK_EQ_INT(ag2.releases, 1);
	CHECK_EQ_INT(b1->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(b2->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(b2->copies_out, 0);
	printf("  copy/release: RO_OWNED/READ_ONLY, then READ_WRITE again\n");

	/* 9. full copy: agent 2 copies got[0] into got[1] and moves got[1]. */
	CHECK_RC(bulk_channel_full_copy(ag2.ch, ag2.got[0], ag2.got[1], 512, meta, cont()), 0);
	drain();
	CHECK_EQ_INT(ag1.ngot, 1);
	CHECK_EQ_INT(ag1.moves, 2);
	CHECK_EQ_INT(ag1.got[0]->index, ag2.got[1]->index);
	CHECK_EQ_INT(ag1.lens[0], 512);
	CHECK(memcmp(ag1.got[0]->addr, ag2.got[0]->addr, 512) == 0);
	CHECK_EQ_INT(ag2.got[0]->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(ag2.got[1]->state, BULK_BUFFER_INVALID);
	CHECK_RC(bulk_channel_stats_get(ag2.ch, &st), 0);
	CHECK_EQ_INT(st.lib_copies, 1);
	CHECK_EQ_INT(st.lib_copy_bytes, 512);
	printf("  full copy: 512 bytes copied by the library and moved\n");

	/* 10. everything home: agent 2 moves the other 7 to agent 1. */
	for (unsigned i = 0, k = 0; i < NBUF; i++)
		if (i != 1)
			bufs[k++] = ag2.got[i];
	CHECK_RC(bulk_channel_move_burst(ag2.ch, bufs, NULL, meta, NBUF - 1, cont()), NBUF - 1);
	drain();
	for (unsigned i = 0; i < NBUF; i++) {
		CHECK_EQ_INT(bulk_pool_buffer(pool, i)->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(bulk_pool_buffer(pool2, i)->state, BULK_BUFFER_INVALID);
		bufs[i] = bulk_pool_buffer(pool, i);
	}
	CHECK_RC(bulk_pool_put_burst(pool, bufs, NBUF), NBUF);
	CHECK_EQ_INT(bulk_pool_free_count(pool), NBUF);
	CHECK_RC(bulk_pool_free(pool), -BULK_E_POOL_ASSIGNED);

	/* 11. orderly teardown. */
	CHECK_RC(bulk_channel_destroy(ag1.ch, cont()), 0);
	CHECK_RC(bulk_channel_destroy(ag1.ch, BULK_CONT_NONE), -BULK_E_CLOSED);
	/* Tearing down: nothing new can be sent (channel checks come first). */
	CHECK_RC(bulk_channel_pass(ag1.ch, bufs[0], 0, meta, BULK_CONT_NONE),
		 -BULK_E_NOT_CONNECTED);
	CHECK_EQ_INT(bufs[0]->state, BULK_BUFFER_READ_WRITE);
	drain();
	CHECK_EQ_INT(bulk_channel_state(ag1.ch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(bulk_channel_state(ag2.ch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(ag2.teardowns, 1);
	CHECK_RC(bulk_channel_free(ag2.ch), 0);
	CHECK_RC(bulk_channel_free(ag1.ch), 0);
	CHECK_RC(bulk_endpoint_free(ep), 0);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(ag2.d), 0);
	CHECK_RC(bulk_domain_destroy(ag1.d), 0);

	/* Every continuation fired exactly once, with 0. */
	for (unsigned i = 0; i < nconts; i++) {
		CHECK_EQ_INT(conts[i].fired, 1);
		CHECK_RC(conts[i].err, 0);
	}
	printf("  teardown: both CLOSED, every buffer home, pool freed; %u continuations "
	       "fired once with 0\n", nconts);
	return CHECK_DONE("test_flow");
}
