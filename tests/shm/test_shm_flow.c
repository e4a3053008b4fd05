/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spec's bulk_shm tests 0 (trusted: FULL) and 1 (untrusted: NONE) over
 * the shm backend, agent 1 and agent 2 in two processes.
 *
 * Agent 1 (parent) creates the channel (TX, MASTER) and allocates and
 * assigns a memfd pool; it writes a pattern into every buffer and moves
 * them; agent 2 (child, binder: RX, SLAVE) checks data, lengths and meta,
 * writes a new pattern and passes them back, where agent 1 checks them.
 * Then agent 1 copies two buffers (RO_OWNED there, READ_ONLY in agent 2,
 * which checks the data and releases them), full-copies one buffer into
 * another, and tears the channel down. Each agent checks its own buffer
 * states and statistics; the child's verdict is its exit status.
 *
 * NONE moves the data through staging memory: both sides count one
 * trust copy per buffer that carries data in or out; FULL counts none.
 *
 * Usage: test_shm_flow full|none
 */
#include <stdlib.h>
#include <string.h>

#include "shm_test.h"

#define NBUF 8
#define BSZ 8192
#define META 16
#define QUEUE 64
#define NCOPY 2
#define FC_SRC 2
#define FC_DST 3
#define FC_LEN 3000u

struct agent {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *view;
	struct bulk_buffer *got[NBUF];
	uint32_t lens[NBUF];
	uint8_t meta[NBUF * META];
	int ngot;
	int binds, assigned, moves, passes, copies, released_bufs, teardowns, td_reason;
};

static struct agent ag;
static enum bulk_trust trust;

static uint32_t
move_len(uint32_t i)
{
	return BSZ - 1000u * i;
}

static uint32_t
pass_len(uint32_t i)
{
	return BSZ - 500u * i - 1u;
}

static uint32_t
copy_len(uint32_t i)
{
	return 100u + 4000u * i;
}

static void
meta_of(uint8_t *m, int kind, uint32_t index)
{
	for (unsigned j = 0; j < META; j++)
		m[j] = (uint8_t)(kind * 16 + (int)index + (int)j * 3);
}

static void
take(struct bulk_buffer *const *bufs, const uint32_t *lens, const void *meta, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		CHECK(ag.ngot < NBUF);
		ag.got[ag.ngot] = bufs[i];
		ag.lens[ag.ngot] = lens[i];
		memcpy(&ag.meta[ag.ngot * META], (const uint8_t *)meta + i * META, META);
		ag.ngot++;
	}
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	CHECK_EQ_INT(info->binder_role, BULK_ROLE_SLAVE);
	CHECK_EQ_INT(info->trust, trust);
	CHECK_EQ_INT(info->meta_size, META);
	ag.binds++;
	return 0;
}

static int
on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	CHECK(bulk_pool_domain(pool) == bulk_channel_domain(ch));
	CHECK_EQ_INT(bulk_pool_buffer_count(pool), NBUF);
	CHECK_EQ_INT(bulk_pool_buffer_size(pool), BSZ);
	ag.view = pool;
	ag.assigned++;
	return 0;
}

static void
on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)ch;
	ag.moves += (int)n;
	take(bufs, lens, meta, n);
}

static void
on_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)ch;
	ag.passes += (int)n;
	take(bufs, lens, meta, n);
}

static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)ch;
	ag.copies += (int)n;
	take(bufs, lens, meta, n);
}

static void
on_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)ch;
	(void)bufs;
	ag.released_bufs += (int)n;
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	ag.teardowns++;
	ag.td_reason = reason;
}

static const struct bulk_channel_callbacks cbs = {
	.bind_received = on_bind,
	.pool_assigned = on_assigned,
	.move_received = on_move,
	.buffer_received = on_pass,
	.copy_received = on_copy,
	.copy_released = on_released,
	.teardown_received = on_teardown,
};

static void
wait_cont(struct t_cont *c, const char *what)
{
	t_poll_count(ag.d, &c->fired, 1, what);
	CHECK_EQ_INT(c->fired, 1);
	CHECK_RC(c->err, 0);
}

/* ------------------------------------------------------------ agent 2 */

static void __attribute__((noreturn))
agent2(const char *name, int go_fd)
{
	struct bulk_bind_params bp;
	struct t_cont c;
	struct bulk_buffer *bufs[NBUF];
	uint32_t lens[NBUF];
	uint8_t meta[NBUF * META], want[META];
	struct bulk_channel_stats st;
	struct bulk_pool_id id;
	struct bulk_pool *v;

	memset(&ag, 0, sizeof(ag));
	memset(&bp, 0, sizeof(bp));
	CHECK_EQ_INT(t_recv_byte(go_fd, T_WAIT_S), 'g');
	CHECK_RC(bulk_domain_create("agent2", &ag.d), 0);
	CHECK_RC(bulk_shm_endpoint_create(ag.d, name, NULL, &ag.ep), 0);
	CHECK_RC(bulk_channel_bind(ag.d, ag.ep, &cbs, &bp, t_cont(&c), &ag.ch), 0);
	wait_cont(&c, "bind");
	CHECK_EQ_INT(bulk_channel_state(ag.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(ag.ch), BULK_DIRECTION_RX);
	CHECK_EQ_INT(bulk_channel_role(ag.ch), BULK_ROLE_SLAVE);
	CHECK_EQ_INT(bulk_channel_trust(ag.ch), trust);
	CHECK_EQ_INT(bulk_channel_meta_size(ag.ch), META);
	CHECK(strcmp(bulk_channel_backend(ag.ch), "shm") == 0);

	t_poll_count(ag.d, &ag.assigned, 1, "pool assignment");
	id = *bulk_pool_get_id(ag.view);
	CHECK(bulk_domain_pool_lookup(ag.d, &id) == ag.view);
	CHECK_EQ_INT(bulk_pool_trust(ag.view), trust);
	CHECK_EQ_INT(bulk_channel_has_pool(ag.ch, ag.view), 1);

	/* Moves: data, lengths and meta as agent 1 sent them. */
	t_poll_count(ag.d, &ag.moves, NBUF, "moves");
	CHECK_EQ_INT(ag.ngot, NBUF);
	for (uint32_t i = 0; i < NBUF; i++) {
		struct bulk_buffer *b = ag.got[i];

		CHECK(b->pool == ag.view);
		CHECK_EQ_INT(b->index, i);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(ag.lens[i], move_len(i));
		meta_of(want, 1, i);
		CHECK(memcmp(&ag.meta[i * META], want, META) == 0);
		CHECK_EQ_INT(t_verify(b, 1, move_len(i)), 0);
	}
	printf("  agent 2: %d moved buffers verified\n", NBUF);

	/* New data, passed back. */
	for (uint32_t i = 0; i < NBUF; i++) {
		bufs[i] = ag.got[i];
		t_fill(bufs[i], 2, BSZ);
		lens[i] = pass_len(i);
		meta_of(&meta[i * META], 2, i);
	}
	ag.ngot = 0;
	CHECK_RC(bulk_channel_pass_burst(ag.ch, bufs, lens, meta, NBUF, t_cont(&c)), NBUF);
	for (uint32_t i = 0; i < NBUF; i++)
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
	wait_cont(&c, "pass consumed");

	/* Copies: read-only here, agent 1's data. */
	t_poll_count(ag.d, &ag.copies, NCOPY, "copies");
	CHECK_EQ_INT(ag.ngot, NCOPY);
	for (uint32_t i = 0; i < NCOPY; i++) {
		struct bulk_buffer *b = ag.got[i];

		CHECK_EQ_INT(b->index, i);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_ONLY);
		CHECK_EQ_INT(b->copies_in, 1);
		CHECK_EQ_INT(ag.lens[i], copy_len(i));
		meta_of(want, 3, i);
		CHECK(memcmp(&ag.meta[i * META], want, META) == 0);
		CHECK_EQ_INT(t_verify(b, 3, copy_len(i)), 0);
		bufs[i] = b;
	}
	/* A copy is not ours to pass. */
	CHECK_RC(bulk_channel_pass(ag.ch, bufs[0], 0, meta, BULK_CONT_NONE), -BULK_E_NOT_OWNER);
	ag.ngot = 0;
	CHECK_RC(bulk_channel_release_burst(ag.ch, bufs, NCOPY, t_cont(&c)), NCOPY);
	for (uint32_t i = 0; i < NCOPY; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
		CHECK_EQ_INT(bufs[i]->copies_in, 0);
	}
	wait_cont(&c, "release consumed");
	printf("  agent 2: %d copies verified and released\n", NCOPY);

	/* Full copy: FC_DST holds FC_SRC's data. */
	t_poll_count(ag.d, &ag.moves, NBUF + 1, "full copy");
	CHECK_EQ_INT(ag.ngot, 1);
	CHECK_EQ_INT(ag.got[0]->index, FC_DST);
	CHECK_EQ_INT(ag.got[0]->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(ag.lens[0], FC_LEN);
	meta_of(want, 5, FC_DST);
	CHECK(memcmp(ag.meta, want, META) == 0);
	{
		const uint8_t *p = ag.got[0]->addr;

		for (uint32_t j = 0; j < FC_LEN; j++)
			if (p[j] != t_pattern(4, FC_SRC, j)) {
				fprintf(stderr, "full copy: byte %u differs\n", j);
				CHECK(0);
			}
	}
	meta_of(meta, 4, FC_DST);
	CHECK_RC(bulk_channel_pass(ag.ch, ag.got[0], FC_LEN, meta, t_cont(&c)), 0);
	wait_cont(&c, "full copy passed back");

	/* Agent 1 tears down. */
	t_poll_state(ag.ch, BULK_STATE_CLOSED, "teardown by agent 1");
	CHECK_EQ_INT(ag.teardowns, 1);
	CHECK_RC(ag.td_reason, 0);
	CHECK_RC(bulk_channel_stats_get(ag.ch, &st), 0);
	CHECK_EQ_INT(st.moves_rx, NBUF + 1);
	CHECK_EQ_INT(st.copies_rx, NCOPY);
	CHECK_EQ_INT(st.passes_tx, NBUF + 1);
	CHECK_EQ_INT(st.releases_tx, NCOPY);
	CHECK_EQ_INT(st.bad_desc, 0);
	CHECK_EQ_INT(st.reclaimed, 0);
	if (trust == BULK_TRUST_NONE) {
		CHECK(st.trust_copies > 0);
		CHECK_EQ_INT(st.trust_copies, st.moves_rx + st.copies_rx + st.passes_tx);
	} else {
		CHECK_EQ_INT(st.trust_copies, 0);
		CHECK_EQ_INT(st.trust_copy_bytes, 0);
	}
	printf("  agent 2: trust_copies %llu (%llu bytes)\n", (unsigned long long)st.trust_copies,
	       (unsigned long long)st.trust_copy_bytes);
	CHECK_RC(bulk_channel_free(ag.ch), 0);
	CHECK_RC(bulk_endpoint_free(ag.ep), 0);
	/* The view may have gone with its last channel; free it if not. */
	v = bulk_domain_pool_lookup(ag.d, &id);
	if (v != NULL) {
		for (uint32_t i = 0; i < NBUF; i++)
			CHECK_EQ_INT(bulk_pool_buffer(v, i)->state, BULK_BUFFER_INVALID);
		CHECK_RC(bulk_pool_free(v), 0);
	}
	CHECK_RC(bulk_domain_destroy(ag.d), 0);
	printf("agent 2: %lu passed, 0 failed\n", check_count);
	fflush(stdout);
	exit(0);
}

/* ------------------------------------------------------------ agent 1 */

int
main(int argc, char **argv)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX,
					  .role = BULK_ROLE_MASTER, .meta_size = META,
					  .queue_size = QUEUE };
	struct bulk_pool_params pp = { .count = NBUF, .buffer_size = BSZ,
				       .mem = BULK_MEM_MEMFD };
	struct bulk_pool *pool;
	struct bulk_buffer *bufs[NBUF];
	uint32_t lens[NBUF];
	uint8_t meta[NBUF * META], want[META];
	struct bulk_channel_stats st;
	struct t_cont c;
	char name[96];
	int go[2];
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || (strcmp(argv[1], "full") != 0 && strcmp(argv[1], "none") != 0)) {
		fprintf(stderr, "usage: %s full|none\n", argv[0]);
		return 2;
	}
	trust = strcmp(argv[1], "full") == 0 ? BULK_TRUST_FULL : BULK_TRUST_NONE;
	printf("test_shm_flow: spec bulk_shm test %d (%s channel), two processes\n",
	       trust == BULK_TRUST_FULL ? 0 : 1, argv[1]);
	t_name(name, sizeof(name), argv[1]);
	t_pipe(go);
	pid = t_fork();
	if (pid == 0) {
		close(go[1]);
		agent2(name, go[0]);
	}
	close(go[0]);
	memset(&ag, 0, sizeof(ag));

	/* 1. Agent 1 creates, agent 2 binds. */
	cp.trust = trust;
	CHECK_RC(bulk_domain_create("agent1", &ag.d), 0);
	CHECK_RC(bulk_shm_endpoint_create(ag.d, name, NULL, &ag.ep), 0);
	CHECK_RC(bulk_channel_create(ag.ep, &cbs, &cp, &ag.ch), 0);
	CHECK_EQ_INT(bulk_channel_state(ag.ch), BULK_STATE_INITIALIZED);
	CHECK(strcmp(bulk_channel_backend(ag.ch), "shm") == 0);
	t_send_byte(go[1], 'g');
	t_poll_state(ag.ch, BULK_STATE_CONNECTED, "binder");
	CHECK_EQ_INT(ag.binds, 1);
	CHECK_EQ_INT(bulk_channel_role(ag.ch), BULK_ROLE_MASTER);
	CHECK_EQ_INT(bulk_channel_trust(ag.ch), trust);
	printf("  create/bind: agent 1 TX MASTER, agent 2 RX SLAVE, %s, CONNECTED\n", argv[1]);

	/* 2. A memfd pool, assigned; agent 2 maps it. */
	CHECK_RC(bulk_pool_alloc(ag.d, &pp, &pool), 0);
	CHECK(bulk_pool_fd(pool) >= 0);
	CHECK_RC(bulk_channel_assign_pool(ag.ch, pool, t_cont(&c)), 0);
	wait_cont(&c, "pool assignment");
	CHECK_EQ_INT(bulk_channel_has_pool(ag.ch, pool), 1);
	CHECK_EQ_INT(bulk_pool_trust(pool), trust);

	/* 3. Pattern into every buffer, moved with lengths and meta. */
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NBUF), NBUF);
	for (uint32_t i = 0; i < NBUF; i++) {
		t_fill(bufs[i], 1, BSZ);
		lens[i] = move_len(i);
		meta_of(&meta[i * META], 1, i);
	}
	CHECK_RC(bulk_channel_move_burst(ag.ch, bufs, lens, meta, NBUF, t_cont(&c)), NBUF);
	for (uint32_t i = 0; i < NBUF; i++)
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
	wait_cont(&c, "moves consumed");
	printf("  move: %d buffers to agent 2 (INVALID here)\n", NBUF);

	/* 4. They come back with agent 2's data. */
	t_poll_count(ag.d, &ag.passes, NBUF, "passes");
	CHECK_EQ_INT(ag.ngot, NBUF);
	for (uint32_t i = 0; i < NBUF; i++) {
		struct bulk_buffer *b = ag.got[i];

		CHECK(b->pool == pool);
		CHECK_EQ_INT(b->index, i);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(ag.lens[i], pass_len(i));
		meta_of(want, 2, i);
		CHECK(memcmp(&ag.meta[i * META], want, META) == 0);
		CHECK_EQ_INT(t_verify(b, 2, pass_len(i)), 0);
	}
	ag.ngot = 0;
	printf("  pass: %d buffers back, agent 2's data verified\n", NBUF);

	/* 5. Copies: RO_OWNED here until agent 2 releases them. */
	for (uint32_t i = 0; i < NCOPY; i++) {
		t_fill(bufs[i], 3, BSZ);
		lens[i] = copy_len(i);
		meta_of(&meta[i * META], 3, i);
	}
	CHECK_RC(bulk_channel_copy_burst(ag.ch, bufs, lens, meta, NCOPY, t_cont(&c)), NCOPY);
	for (uint32_t i = 0; i < NCOPY; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_RO_OWNED);
		CHECK_EQ_INT(bufs[i]->copies_out, 1);
	}
	CHECK_RC(bulk_channel_move(ag.ch, bufs[0], 0, meta, BULK_CONT_NONE),
		 -BULK_E_BUFFER_COPIED);
	wait_cont(&c, "copies consumed");
	t_poll_count(ag.d, &ag.released_bufs, NCOPY, "releases");
	for (uint32_t i = 0; i < NCOPY; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(bufs[i]->copies_out, 0);
		CHECK_EQ_INT(t_verify(bufs[i], 3, BSZ), 0);
	}
	printf("  copy: %d copies out and released (RO_OWNED, then READ_WRITE)\n", NCOPY);

	/* 6. Full copy of FC_SRC into FC_DST. */
	t_fill(bufs[FC_SRC], 4, BSZ);
	meta_of(meta, 5, FC_DST);
	CHECK_RC(bulk_channel_full_copy(ag.ch, bufs[FC_SRC], bufs[FC_DST], FC_LEN, meta,
					t_cont(&c)), 0);
	CHECK_EQ_INT(bufs[FC_DST]->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(bufs[FC_SRC]->state, BULK_BUFFER_READ_WRITE);
	wait_cont(&c, "full copy consumed");
	t_poll_count(ag.d, &ag.passes, NBUF + 1, "full copy back");
	CHECK_EQ_INT(ag.ngot, 1);
	CHECK(ag.got[0] == bufs[FC_DST]);
	CHECK_EQ_INT(ag.lens[0], FC_LEN);
	meta_of(want, 4, FC_DST);
	CHECK(memcmp(ag.meta, want, META) == 0);
	printf("  full copy: verified by agent 2 and passed back\n");

	/* 7. Orderly teardown; statistics. */
	CHECK_RC(bulk_channel_destroy(ag.ch, t_cont(&c)), 0);
	wait_cont(&c, "teardown acknowledged");
	CHECK_EQ_INT(bulk_channel_state(ag.ch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(ag.teardowns, 0);
	CHECK_RC(bulk_channel_stats_get(ag.ch, &st), 0);
	CHECK_EQ_INT(st.moves_tx, NBUF + 1);
	CHECK_EQ_INT(st.copies_tx, NCOPY);
	CHECK_EQ_INT(st.passes_rx, NBUF + 1);
	CHECK_EQ_INT(st.releases_rx, NCOPY);
	CHECK_EQ_INT(st.lib_copies, 1);
	CHECK_EQ_INT(st.bad_desc, 0);
	CHECK_EQ_INT(st.reclaimed, 0);
	if (trust == BULK_TRUST_NONE) {
		CHECK(st.trust_copies > 0);
		CHECK_EQ_INT(st.trust_copies, st.moves_tx + st.copies_tx + st.passes_rx);
		CHECK(st.trust_copy_bytes > 0);
	} else {
		CHECK_EQ_INT(st.trust_copies, 0);
		CHECK_EQ_INT(st.trust_copy_bytes, 0);
	}
	printf("  teardown: CLOSED; trust_copies %llu (%llu bytes)\n",
	       (unsigned long long)st.trust_copies, (unsigned long long)st.trust_copy_bytes);
	t_reap_ok(pid, "agent 2");
	close(go[1]);

	CHECK_RC(bulk_channel_free(ag.ch), 0);
	CHECK_RC(bulk_endpoint_free(ag.ep), 0);
	for (uint32_t i = 0; i < NBUF; i++)
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_WRITE);
	CHECK_RC(bulk_pool_put_burst(pool, bufs, NBUF), NBUF);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(ag.d), 0);
	return CHECK_DONE("test_shm_flow");
}
