/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A received pool whose allocator died is orphaned: its view may be freed
 * with the buffers it still owns. The allocator A is a forked child; it
 * allocates a memfd pool, assigns it on a channel to the parent P and
 * moves NMOVE buffers to P, which checks them and passes NPASS of them
 * back (A checks those and tells P so over a pipe). Then:
 *
 *   dead     A is SIGKILLed. P sees the channel CLOSED, teardown_received
 *            and the continuation of its pass with -BULK_E_PEER_GONE, the
 *            NPASS passed buffers back (stats.reclaimed), every buffer it
 *            owns READ_WRITE. The view is still assigned until P frees the
 *            channel; then P reads the data of every buffer it owns (and
 *            writes them: HALF restored the pages), and the view goes:
 *            bulk_pool_free(view) == 0, or, every other run, it is left to
 *            bulk_domain_destroy(), which must not refuse because of it.
 *   orderly  The control: A is alive and tears the channel down itself
 *            (bulk_channel_destroy()). P's view still owns buffers and is
 *            not orphaned: after P frees the channel, bulk_pool_free(view)
 *            and bulk_domain_destroy() refuse with -BULK_E_POOL_IN_USE and
 *            change nothing. A then assigns the pool again on a new
 *            channel, P (the same view) passes everything home, A checks
 *            it and frees the whole pool, and both domains are destroyed.
 *
 * Each over FULL, HALF and NONE, with P as the creator and as the binder.
 *
 * Usage: test_shm_orphan dead|orderly
 */
#include <stdlib.h>
#include <string.h>

#include "shm_test.h"

#define NBUF 8
#define BSZ 4096
#define QUEUE 16
#define NMOVE 6
#define NPASS 2

struct side {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *view;        /* P: the view assigned to it */
	struct bulk_buffer *in[NBUF];
	uint32_t inlen[NBUF];
	int nin;
	int assigned, binds, teardowns, td_reason;
};

/* Each process has its own. */
static struct side s;

static uint32_t
move_round(enum bulk_trust t)
{
	return 100u + (uint32_t)t;
}

static uint32_t
move_len(uint32_t i)
{
	return BSZ - 300u * i;
}

static void
on_in(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
      const void *meta, unsigned n)
{
	(void)ch;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		CHECK(s.nin < NBUF);
		s.inlen[s.nin] = lens[i];
		s.in[s.nin++] = bufs[i];
	}
}

static int
on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	s.view = pool;
	s.assigned++;
	return 0;
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	s.binds++;
	return 0;
}

static void
on_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	s.teardowns++;
	s.td_reason = reason;
}

static const struct bulk_channel_callbacks cbs = {
	.bind_received = on_bind,
	.pool_assigned = on_assigned,
	.move_received = on_in,
	.buffer_received = on_in,
	.teardown_received = on_teardown,
};

/*
 * Connect a channel on a fresh endpoint @p name: the creator creates and
 * says 'g' over @p wr, the binder waits for it and binds. @p dir is the
 * creator's direction. Both sides end CONNECTED.
 */
static void
chan_connect(const char *name, int creator, enum bulk_direction dir, enum bulk_trust trust,
	     int rd, int wr)
{
	s.binds = s.teardowns = 0;
	s.td_reason = 1;
	CHECK_RC(bulk_shm_endpoint_create(s.d, name, NULL, &s.ep), 0);
	if (creator) {
		struct bulk_channel_params cp = { .direction = dir, .trust = trust,
						  .queue_size = QUEUE };

		CHECK_RC(bulk_channel_create(s.ep, &cbs, &cp, &s.ch), 0);
		t_send_byte(wr, 'g');
		t_poll_state(s.ch, BULK_STATE_CONNECTED, "a binder");
		CHECK_EQ_INT(s.binds, 1);
	} else {
		struct bulk_bind_params bp;
		struct t_cont c;

		memset(&bp, 0, sizeof(bp));
		CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
		CHECK_RC(bulk_channel_bind(s.d, s.ep, &cbs, &bp, t_cont(&c), &s.ch), 0);
		t_poll_count(s.d, &c.fired, 1, "the bind answer");
		CHECK_RC(c.err, 0);
	}
	CHECK_EQ_INT(bulk_channel_state(s.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_trust(s.ch), trust);
}

/* An orderly teardown started here. */
static void
teardown(void)
{
	struct t_cont c;

	CHECK_RC(bulk_channel_destroy(s.ch, t_cont(&c)), 0);
	t_poll_count(s.d, &c.fired, 1, "the teardown");
	CHECK_RC(c.err, 0);
	CHECK_EQ_INT(bulk_channel_state(s.ch), BULK_STATE_CLOSED);
	CHECK_EQ_INT(s.teardowns, 0);
}

static void
free_channel(void)
{
	CHECK_RC(bulk_channel_free(s.ch), 0);
	CHECK_RC(bulk_endpoint_free(s.ep), 0);
	s.ch = NULL;
	s.ep = NULL;
}

struct plan {
	int dead;               /* else the orderly control */
	enum bulk_trust trust;
	int p_creates;          /* else A creates */
	int free_view;          /* dead: bulk_pool_free() the view, else leave it to domain destroy */
	const char *name[2];    /* endpoint of the channel, and of the control's second one */
};

/* ------------------------------------------------------------ A, the allocator */

static void __attribute__((noreturn))
allocator(const struct plan *pl, int rd, int wr)
{
	struct bulk_pool_params pp = { .count = NBUF, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_buffer *bufs[NBUF];
	uint32_t lens[NBUF];
	struct bulk_pool *pool;
	struct t_cont ac, mc;

	memset(&s, 0, sizeof(s));
	CHECK_RC(bulk_domain_create("allocator", &s.d), 0);
	CHECK_RC(bulk_pool_alloc(s.d, &pp, &pool), 0);
	chan_connect(pl->name[0], !pl->p_creates, BULK_DIRECTION_TX, pl->trust, rd, wr);
	CHECK_RC(bulk_channel_assign_pool(s.ch, pool, t_cont(&ac)), 0);
	t_poll_count(s.d, &ac.fired, 1, "the assignment");
	CHECK_RC(ac.err, 0);
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NMOVE), NMOVE);
	for (uint32_t i = 0; i < NMOVE; i++) {
		lens[i] = move_len(bufs[i]->index);
		t_fill(bufs[i], move_round(pl->trust), lens[i]);
	}
	/* The queue holds them all. */
	CHECK_RC(bulk_channel_move_burst(s.ch, bufs, lens, NULL, NMOVE, t_cont(&mc)), NMOVE);
	t_poll_count(s.d, &s.nin, NPASS, "the passes");
	CHECK_EQ_INT(s.nin, NPASS);
	for (int i = 0; i < NPASS; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(s.inlen[i], move_len(s.in[i]->index));
		CHECK_EQ_INT(t_verify(s.in[i], move_round(pl->trust), s.inlen[i]), 0);
	}
	t_poll_count(s.d, &mc.fired, 1, "the move consumed");
	CHECK_RC(mc.err, 0);
	if (pl->dead) {
		/* Alive, polling, until P kills us. */
		uint64_t end = t_deadline(T_WAIT_S);
		unsigned idle = 0;

		t_send_byte(wr, 'p');
		while (t_now_ns() < end) {
			int rc = bulk_domain_poll(s.d, 0);

			CHECK(rc >= 0);
			if (rc == 0)
				t_idle(idle++);
			else
				idle = 0;
		}
		fprintf(stderr, "allocator: not killed in %.0f s\n", T_WAIT_S);
		t_child_exit(4);
	}

	/* The control: an orderly teardown while P owns buffers of the pool. */
	teardown();
	free_channel();
	CHECK_RC(bulk_pool_free(pool), -BULK_E_POOL_IN_USE);
	t_send_byte(wr, 'd');
	/* P checked its view; the pool again, on a new channel. */
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'n');
	s.nin = 0;
	chan_connect(pl->name[1], !pl->p_creates, BULK_DIRECTION_TX, pl->trust, rd, wr);
	CHECK_RC(bulk_channel_assign_pool(s.ch, pool, t_cont(&ac)), 0);
	t_poll_count(s.d, &ac.fired, 1, "the second assignment");
	CHECK_RC(ac.err, 0);
	t_poll_count(s.d, &s.nin, NMOVE - NPASS, "the rest of the buffers");
	CHECK_EQ_INT(s.nin, NMOVE - NPASS);
	for (int i = 0; i < s.nin; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(s.inlen[i], move_len(s.in[i]->index));
		CHECK_EQ_INT(t_verify(s.in[i], move_round(pl->trust), s.inlen[i]), 0);
	}
	teardown();
	free_channel();
	/* Everything is home: the buffers taken, then the pool. */
	for (uint32_t i = 0; i < NMOVE; i++)
		CHECK_RC(bulk_pool_put(bufs[i]), 0);
	CHECK_EQ_INT(bulk_pool_free_count(pool), NBUF);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(s.d), 0);
	t_child_exit(0);
}

/* ------------------------------------------------------------ P, the receiver */

/* Every buffer P was moved is READ_WRITE with A's data; the others INVALID. */
static void
check_view(const struct plan *pl, const uint8_t *moved)
{
	for (uint32_t i = 0; i < NBUF; i++) {
		struct bulk_buffer *b = bulk_pool_buffer(s.view, i);

		if (!moved[i]) {
			CHECK_EQ_INT(b->state, BULK_BUFFER_INVALID);
			continue;
		}
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(b->copies_in, 0);
		CHECK_EQ_INT(b->copies_out, 0);
		CHECK_EQ_INT(t_verify(b, move_round(pl->trust), move_len(i)), 0);
	}
}

static void
run(const struct plan *pl)
{
	struct bulk_buffer *pass[NBUF];
	uint32_t passlen[NBUF];
	uint8_t moved[NBUF] = { 0 };
	struct bulk_channel_stats st;
	struct bulk_pool_id id;
	struct t_cont pc;
	int p2c[2], c2p[2], status;
	char buf[64];
	pid_t pid;

	t_pipe(p2c);
	t_pipe(c2p);
	/* Before any channel: a child must not hold our sockets. */
	pid = t_fork();
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		allocator(pl, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	memset(&s, 0, sizeof(s));
	CHECK_RC(bulk_domain_create("receiver", &s.d), 0);
	chan_connect(pl->name[0], pl->p_creates, BULK_DIRECTION_RX, pl->trust, c2p[0], p2c[1]);
	t_poll_count(s.d, &s.nin, NMOVE, "the moved buffers");
	CHECK_EQ_INT(s.assigned, 1);
	CHECK(s.view != NULL);
	CHECK_EQ_INT(s.nin, NMOVE);
	id = *bulk_pool_get_id(s.view);
	for (unsigned i = 0; i < NMOVE; i++) {
		CHECK(s.in[i]->pool == s.view);
		CHECK_EQ_INT(s.inlen[i], move_len(s.in[i]->index));
		moved[s.in[i]->index] = 1;
	}
	check_view(pl, moved);
	/* Two go home, the rest stay. */
	for (unsigned i = 0; i < NPASS; i++) {
		pass[i] = s.in[i];
		passlen[i] = s.inlen[i];
	}
	CHECK_RC(bulk_channel_pass_burst(s.ch, pass, passlen, NULL, NPASS, t_cont(&pc)), NPASS);

	if (pl->dead) {
		/* A has the passes and polls on. */
		CHECK_EQ_INT(t_recv_byte(c2p[0], T_WAIT_S), 'p');
		kill(pid, SIGKILL);
		status = t_reap(pid, T_WAIT_S);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
			fprintf(stderr, "allocator ended with %s\n",
				t_status_str(status, buf, sizeof(buf)));
			CHECK(!"allocator ended otherwise than killed");
		}
		t_poll_state(s.ch, BULK_STATE_CLOSED, "the allocator's death");
		CHECK_EQ_INT(s.teardowns, 1);
		CHECK_RC(s.td_reason, -BULK_E_PEER_GONE);
		/* A got the passes (it said so) but P polled for nothing since:
		 * their continuation fires with 0 or at the death. */
		CHECK_EQ_INT(pc.fired, 1);
		CHECK(pc.err == 0 || pc.err == -BULK_E_PEER_GONE);
		CHECK_RC(bulk_channel_stats_get(s.ch, &st), 0);
		CHECK_EQ_INT(st.reclaimed, NPASS);
		CHECK_EQ_INT(st.bad_desc, 0);
		/* Every buffer it was moved is P's again, with A's data. */
		check_view(pl, moved);
		/* The dead channel still holds the view. */
		CHECK_RC(bulk_pool_free(s.view), -BULK_E_POOL_ASSIGNED);
		CHECK(bulk_domain_pool_lookup(s.d, &id) == s.view);
		free_channel();
		/* The view stays while it owns buffers: readable and writable. */
		CHECK(bulk_domain_pool_lookup(s.d, &id) == s.view);
		check_view(pl, moved);
		for (uint32_t i = 0; i < NBUF; i++) {
			struct bulk_buffer *b = bulk_pool_buffer(s.view, i);

			if (!moved[i])
				continue;
			t_fill(b, 0xdead + i, BSZ);
			CHECK_EQ_INT(t_verify(b, 0xdead + i, BSZ), 0);
		}
		if (pl->free_view) {
			CHECK_RC(bulk_pool_free(s.view), 0);
			CHECK(bulk_domain_pool_lookup(s.d, &id) == NULL);
		}
		s.view = NULL;
		CHECK_RC(bulk_domain_destroy(s.d), 0);
	} else {
		struct bulk_buffer *rest[NBUF];
		uint32_t restlen[NBUF];
		struct bulk_pool *old = s.view;
		unsigned nrest = 0;

		/* A tore the channel down while alive: nothing is orphaned. */
		t_poll_state(s.ch, BULK_STATE_CLOSED, "the allocator's teardown");
		CHECK_EQ_INT(t_recv_byte(c2p[0], T_WAIT_S), 'd');
		CHECK_EQ_INT(s.teardowns, 1);
		CHECK_RC(s.td_reason, 0);
		CHECK_EQ_INT(pc.fired, 1);
		CHECK_RC(pc.err, 0);
		CHECK_RC(bulk_channel_stats_get(s.ch, &st), 0);
		CHECK_EQ_INT(st.reclaimed, 0);
		for (unsigned i = 0; i < NPASS; i++)
			moved[s.in[i]->index] = 0;
		check_view(pl, moved);
		free_channel();
		CHECK(bulk_domain_pool_lookup(s.d, &id) == s.view);
		CHECK_RC(bulk_pool_free(s.view), -BULK_E_POOL_IN_USE);
		CHECK_RC(bulk_domain_destroy(s.d), -BULK_E_POOL_IN_USE);
		/* Refused, so nothing changed. */
		CHECK(bulk_domain_pool_lookup(s.d, &id) == s.view);
		check_view(pl, moved);

		/* The same pool on a new channel finds the same view: home with it. */
		s.assigned = 0;
		s.view = NULL;
		t_send_byte(p2c[1], 'n');
		chan_connect(pl->name[1], pl->p_creates, BULK_DIRECTION_RX, pl->trust, c2p[0],
			p2c[1]);
		t_poll_count(s.d, &s.assigned, 1, "the second assignment");
		CHECK(s.view == old);
		for (uint32_t i = 0; i < NBUF; i++)
			if (moved[i]) {
				rest[nrest] = bulk_pool_buffer(s.view, i);
				restlen[nrest++] = move_len(i);
			}
		CHECK_EQ_INT(nrest, NMOVE - NPASS);
		CHECK_RC(bulk_channel_pass_burst(s.ch, rest, restlen, NULL, nrest, t_cont(&pc)),
			 (int)nrest);
		t_poll_state(s.ch, BULK_STATE_CLOSED, "the second teardown");
		CHECK_RC(s.td_reason, 0);
		CHECK_EQ_INT(pc.fired, 1);
		CHECK_RC(pc.err, 0);
		for (uint32_t i = 0; i < NBUF; i++)
			CHECK_EQ_INT(bulk_pool_buffer(s.view, i)->state, BULK_BUFFER_INVALID);
		/* Holding nothing, the view goes with its last channel. */
		free_channel();
		CHECK(bulk_domain_pool_lookup(s.d, &id) == NULL);
		s.view = NULL;
		CHECK_RC(bulk_domain_destroy(s.d), 0);
		t_reap_ok(pid, "allocator");
	}
	s.d = NULL;
	close(p2c[1]);
	close(c2p[0]);
	printf("  %-7s %s, receiver %s: ok%s\n", pl->dead ? "dead" : "orderly",
	       pl->trust == BULK_TRUST_FULL ? "FULL" : pl->trust == BULK_TRUST_HALF ? "HALF" : "NONE",
	       pl->p_creates ? "creates" : "binds  ",
	       !pl->dead ? "" : pl->free_view ? ", view freed" : ", view left to domain destroy");
}

int
main(int argc, char **argv)
{
	static const enum bulk_trust trusts[3] = { BULK_TRUST_FULL, BULK_TRUST_HALF,
						   BULK_TRUST_NONE };
	int dead;
	char n0[96], n1[96];

	if (argc != 2 || (strcmp(argv[1], "dead") != 0 && strcmp(argv[1], "orderly") != 0)) {
		fprintf(stderr, "usage: %s dead|orderly\n", argv[0]);
		return 2;
	}
	dead = strcmp(argv[1], "dead") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_shm_orphan %s\n", argv[1]);
	for (int t = 0; t < 3; t++)
		for (int c = 0; c < 2; c++) {
			struct plan pl = {
				.dead = dead,
				.trust = trusts[t],
				.p_creates = c == 0,
				.free_view = (t + c) % 2 == 0,
				.name = { t_name(n0, sizeof(n0), "orphan"),
					  t_name(n1, sizeof(n1), "orphan") },
			};

			run(&pl);
		}
	return CHECK_DONE("test_shm_orphan");
}
