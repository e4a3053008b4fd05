/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A five-minute tour of libbulk: two domains in one thread, a local channel,
 * one pool, then move + pass back, copy + release, and an orderly teardown.
 *
 * Build against an installed libbulk:
 *   cc -std=c11 tour.c $(pkg-config --cflags --libs libbulk) -o tour
 * or in the tree: build/examples/tour
 *
 * Everything is asynchronous: calls only queue work; callbacks and
 * continuations run inside bulk_domain_poll() / bulk_channel_poll(). With
 * both domains in one thread, we simply poll both until a condition holds.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_local.h>

#define CHECK(call)                                                                        \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ < 0) {                                                             \
			fprintf(stderr, "tour: %s: %s\n", #call, bulk_strerror(rc_));      \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

/* What the sink's callbacks saw; the app acts on it after the poll. */
struct sink {
	struct bulk_buffer *moved;   /* received by move: ours, READ_WRITE */
	struct bulk_buffer *copied;  /* received as a copy: READ_ONLY */
	uint64_t seq;                /* the meta that came with it */
};

/* What the source's callbacks and continuations saw. */
struct source {
	bool bound, assigned, passed_back, released, closed;
};

static struct bulk_domain *src_dom, *snk_dom;

static void
poll_both(void)
{
	bulk_domain_poll(src_dom, 0);
	bulk_domain_poll(snk_dom, 0);
}

#define POLL_UNTIL(cond)                                                                   \
	do {                                                                               \
		for (int i_ = 0; !(cond); i_++) {                                          \
			if (i_ == 1000000) {                                               \
				fprintf(stderr, "tour: timed out waiting for %s\n", #cond); \
				exit(1);                                                   \
			}                                                                  \
			poll_both();                                                       \
		}                                                                          \
	} while (0)

/* A continuation: {handler, arg}; sets the bool it is given. */
static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	if (err < 0) {
		fprintf(stderr, "tour: operation failed: %s\n", bulk_strerror(err));
		exit(1);
	}
	*(bool *)arg = true;
}

static struct bulk_cont
flag_cont(bool *flag)
{
	return (struct bulk_cont){ .fn = set_flag, .arg = flag };
}

/* ---- sink callbacks (run inside the sink domain's poll) ---- */

static void
sink_move_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		   const uint32_t *lens, const void *meta, unsigned n)
{
	struct sink *s = bulk_channel_user(ch);

	for (unsigned i = 0; i < n; i++) {
		memcpy(&s->seq, (const uint8_t *)meta + i * sizeof(uint64_t), sizeof(uint64_t));
		printf("sink:   move_received  buffer %" PRIu32 ", %" PRIu32 " bytes, seq %" PRIu64
		       ", state %s: \"%s\"\n",
		       bufs[i]->index, lens[i], s->seq, bulk_buffer_state_name(bufs[i]->state),
		       (const char *)bufs[i]->addr);
		s->moved = bufs[i];
	}
}

static void
sink_copy_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		   const uint32_t *lens, const void *meta, unsigned n)
{
	struct sink *s = bulk_channel_user(ch);

	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		printf("sink:   copy_received  buffer %" PRIu32 ", %" PRIu32 " bytes, state %s\n",
		       bufs[i]->index, lens[i], bulk_buffer_state_name(bufs[i]->state));
		s->copied = bufs[i];
	}
}

/* ---- source callbacks ---- */

static void
source_buffer_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		       const uint32_t *lens, const void *meta, unsigned n)
{
	struct source *s = bulk_channel_user(ch);

	(void)lens;
	(void)meta;
	for (unsigned i = 0; i < n; i++)
		printf("source: buffer_received buffer %" PRIu32 " passed back, state %s\n",
		       bufs[i]->index, bulk_buffer_state_name(bufs[i]->state));
	s->passed_back = true;
}

static void
source_copy_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	struct source *s = bulk_channel_user(ch);

	for (unsigned i = 0; i < n; i++)
		printf("source: copy_released  buffer %" PRIu32 ", state %s\n", bufs[i]->index,
		       bulk_buffer_state_name(bufs[i]->state));
	s->released = true;
}

int
main(void)
{
	struct source src = { 0 };
	struct sink snk = { 0 };
	struct bulk_endpoint *ep;
	struct bulk_channel *tx, *rx;
	struct bulk_pool *pool;
	struct bulk_buffer *buf;
	uint64_t seq;

	/* 1. Two domains (ownership contexts) and a local endpoint in the source. */
	CHECK(bulk_domain_create("source", &src_dom));
	CHECK(bulk_domain_create("sink", &snk_dom));
	CHECK(bulk_local_endpoint_create(src_dom, &ep));

	/* 2. The source creates a TX channel with 8 bytes of meta per buffer... */
	const struct bulk_channel_callbacks src_cb = {
		.buffer_received = source_buffer_received,
		.copy_released = source_copy_released,
	};
	const struct bulk_channel_params cp = {
		.direction = BULK_DIRECTION_TX,
		.trust = BULK_TRUST_FULL, /* the only level the local backend offers */
		.meta_size = sizeof(uint64_t),
		.user = &src,
	};
	CHECK(bulk_channel_create(ep, &src_cb, &cp, &tx));

	/* ...and the sink binds to it; it adopts direction RX, trust and meta size. */
	const struct bulk_channel_callbacks snk_cb = {
		.move_received = sink_move_received,
		.copy_received = sink_copy_received,
	};
	const struct bulk_bind_params bp = { .user = &snk };
	CHECK(bulk_channel_bind(snk_dom, ep, &snk_cb, &bp, flag_cont(&src.bound), &rx));
	POLL_UNTIL(src.bound);
	printf("bound:  source %s/%s, sink %s/%s\n", bulk_channel_state_name(bulk_channel_state(tx)),
	       bulk_channel_direction(tx) == BULK_DIRECTION_TX ? "TX" : "RX",
	       bulk_channel_state_name(bulk_channel_state(rx)),
	       bulk_channel_direction(rx) == BULK_DIRECTION_TX ? "TX" : "RX");

	/* 3. A pool of 8 x 4 KiB buffers, assigned to the channel (the sink
	 * could veto in its pool_assigned callback; it has none, so it accepts). */
	const struct bulk_pool_params pp = { .count = 8, .buffer_size = 4096 };
	CHECK(bulk_pool_alloc(src_dom, &pp, &pool));
	CHECK(bulk_channel_assign_pool(tx, pool, flag_cont(&src.assigned)));
	POLL_UNTIL(src.assigned);

	/* 4. Move: ownership goes to the sink; the source's view becomes INVALID. */
	buf = bulk_pool_get(pool);
	snprintf(buf->addr, 4096, "hello from the source");
	seq = 1;
	CHECK(bulk_channel_move(tx, buf, (uint32_t)strlen(buf->addr) + 1, &seq, BULK_CONT_NONE));
	printf("source: moved buffer %" PRIu32 ", state now %s\n", buf->index,
	       bulk_buffer_state_name(buf->state));
	POLL_UNTIL(snk.moved != NULL);

	/* The sink owns it now (READ_WRITE): it may write, then pass it back. */
	snprintf(snk.moved->addr, 4096, "hello back from the sink");
	seq = 2;
	CHECK(bulk_channel_pass(rx, snk.moved, (uint32_t)strlen(snk.moved->addr) + 1, &seq,
				BULK_CONT_NONE));
	POLL_UNTIL(src.passed_back);
	printf("source: reads \"%s\"\n", (const char *)buf->addr);

	/* 5. Copy: the sink gets READ_ONLY access, the source keeps ownership
	 * (RO_OWNED) until the copy is released; then READ_WRITE again. */
	seq = 3;
	CHECK(bulk_channel_copy(tx, buf, 4096, &seq, BULK_CONT_NONE));
	printf("source: copied buffer %" PRIu32 ", state now %s\n", buf->index,
	       bulk_buffer_state_name(buf->state));
	POLL_UNTIL(snk.copied != NULL);
	CHECK(bulk_channel_release(rx, snk.copied, BULK_CONT_NONE));
	POLL_UNTIL(src.released);

	/* 6. Statistics, then teardown: destroy, wait for CLOSED, free everything. */
	struct bulk_channel_stats st;

	CHECK(bulk_channel_stats_get(tx, &st));
	printf("stats:  source sent %" PRIu64 " buffers (%" PRIu64 " moves, %" PRIu64
	       " copies), got %" PRIu64 " passes, %" PRIu64 " releases\n",
	       st.tx_bufs, st.moves_tx, st.copies_tx, st.passes_rx, st.releases_rx);

	CHECK(bulk_pool_put(buf));
	CHECK(bulk_channel_destroy(tx, flag_cont(&src.closed)));
	POLL_UNTIL(src.closed && bulk_channel_state(rx) == BULK_STATE_CLOSED);
	CHECK(bulk_channel_free(rx));
	CHECK(bulk_channel_free(tx));
	CHECK(bulk_pool_free(pool));
	CHECK(bulk_endpoint_free(ep));
	CHECK(bulk_domain_destroy(snk_dom));
	CHECK(bulk_domain_destroy(src_dom));
	printf("done:   channel closed, pool freed, no buffer lost\n");
	return 0;
}
