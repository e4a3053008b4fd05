/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Wakeups of a sleeper on bulk_channel_fd(), step by step. The parent P
 * (creator, TX) sleeps; the child C (binder, RX) does one thing at a time,
 * when P tells it over a pipe, so that exactly one cause can wake P:
 *
 *   space  P moves more buffers than the ring holds (the send comes back
 *          short) and arms: 0, and the fd is quiet. C consumes the ring and
 *          passes nothing back: only room in the ring (space_wanted) can
 *          wake P. Then the rest of P's buffers go.
 *   data   P arms (nothing short since): 0. C takes the rest and passes
 *          everything back: need_wakeup must wake P.
 *
 * Then an orderly teardown. Each wait is poll() on the fd in 1 s steps with
 * nothing polled in between; no wakeup in 5 s is a lost wakeup and fails
 * (a late one passes: nothing here is timed). Over FULL, HALF and NONE.
 *
 * Usage: test_shm_wake
 */
#include <stdlib.h>
#include <string.h>

#include "shm_test.h"

#define QUEUE 8
#define NB (2 * QUEUE)
#define BSZ 4096
#define WAIT_MS 1000
#define LOST_WAKEUP_S 5.0

struct side {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_buffer *in[NB];
	uint32_t inlen[NB];
	int nin, assigned, teardowns, td_reason;
};

static struct side s;

static void
on_in(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
      const void *meta, unsigned n)
{
	(void)ch;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		CHECK(s.nin < NB);
		s.inlen[s.nin] = lens[i];
		s.in[s.nin++] = bufs[i];
	}
}

static int
on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	(void)pool;
	s.assigned++;
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
	.pool_assigned = on_assigned,
	.move_received = on_in,
	.buffer_received = on_in,
	.teardown_received = on_teardown,
};

static uint32_t
buf_len(uint32_t i)
{
	return BSZ - 100u * i;
}

/* ------------------------------------------------------------ C, the consumer */

static void __attribute__((noreturn))
consumer(const char *name, enum bulk_trust trust, int rd, int wr)
{
	struct bulk_bind_params bp;
	struct t_cont c;
	int passed = 0;

	memset(&s, 0, sizeof(s));
	memset(&bp, 0, sizeof(bp));
	CHECK_RC(bulk_domain_create("consumer", &s.d), 0);
	CHECK_RC(bulk_shm_endpoint_create(s.d, name, NULL, &s.ep), 0);
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	CHECK_RC(bulk_channel_bind(s.d, s.ep, &cbs, &bp, t_cont(&c), &s.ch), 0);
	t_poll_count(s.d, &c.fired, 1, "the bind answer");
	CHECK_RC(c.err, 0);
	CHECK_EQ_INT(bulk_channel_trust(s.ch), trust);
	t_poll_count(s.d, &s.assigned, 1, "the assignment");
	/* Quiet until told. */
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'c');
	t_poll_count(s.d, &s.nin, QUEUE, "a full ring");
	CHECK_EQ_INT(s.nin, QUEUE);
	t_send_byte(wr, 'C');
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'p');
	t_poll_count(s.d, &s.nin, NB, "the rest");
	for (int i = 0; i < NB; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(s.inlen[i], buf_len(s.in[i]->index));
		CHECK_EQ_INT(t_verify(s.in[i], 7, s.inlen[i]), 0);
		t_fill(s.in[i], 8, s.inlen[i]);
	}
	/* Everything back (the ring holds half), then P tears down. */
	{
		uint64_t end = t_deadline(T_WAIT_S);
		unsigned idle = 0;

		while (bulk_channel_state(s.ch) != BULK_STATE_CLOSED) {
			int rc;

			if (passed < NB) {
				rc = bulk_channel_pass_burst(s.ch, s.in + passed, s.inlen + passed,
							     NULL, (unsigned)(NB - passed),
							     BULK_CONT_NONE);
				CHECK(rc >= 0);
				passed += rc;
			}
			rc = bulk_domain_poll(s.d, 0);
			CHECK(rc >= 0);
			CHECK(t_now_ns() < end);
			if (rc == 0)
				t_idle(idle++);
			else
				idle = 0;
		}
	}
	CHECK_EQ_INT(passed, NB);
	CHECK_EQ_INT(s.teardowns, 1);
	CHECK_RC(s.td_reason, 0);
	CHECK_RC(bulk_channel_free(s.ch), 0);
	CHECK_RC(bulk_endpoint_free(s.ep), 0);
	CHECK_RC(bulk_domain_destroy(s.d), 0);
	t_child_exit(0);
}

/* ------------------------------------------------------------ P, the producer */

/* Sleep on @p fd until it is readable; none in LOST_WAKEUP_S fails. */
static void
sleep_on(int fd, const char *what)
{
	uint64_t since = t_now_ns();

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int e = poll(&p, 1, WAIT_MS);

		if (e > 0)
			return;
		if (e < 0) {
			CHECK(errno == EINTR);
			continue;
		}
		if (t_now_ns() - since > (uint64_t)(LOST_WAKEUP_S * 1e9)) {
			struct bulk_channel_stats st;

			bulk_channel_stats_get(s.ch, &st);
			fprintf(stderr, "no wakeup in %.0f s (%s): a lost wakeup; channel %s, "
				"tx %llu rx %llu msgs, queue full %llu\n", LOST_WAKEUP_S, what,
				bulk_channel_state_name(bulk_channel_state(s.ch)),
				(unsigned long long)st.tx_msgs, (unsigned long long)st.rx_msgs,
				(unsigned long long)st.queue_full);
			CHECK(!"lost wakeup");
		}
	}
}

static int
fd_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int e;

	do
		e = poll(&p, 1, 0);
	while (e < 0 && errno == EINTR);
	CHECK(e >= 0);
	return e;
}

static void
run(enum bulk_trust trust)
{
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX, .trust = trust,
					  .queue_size = QUEUE };
	struct bulk_buffer *bufs[NB];
	uint32_t lens[NB];
	struct bulk_pool *pool;
	struct t_cont ac, dc;
	int p2c[2], c2p[2], fd;
	char name[96];
	pid_t pid;

	t_name(name, sizeof(name), "wake");
	t_pipe(p2c);
	t_pipe(c2p);
	pid = t_fork();
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		consumer(name, trust, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	memset(&s, 0, sizeof(s));
	CHECK_RC(bulk_domain_create("producer", &s.d), 0);
	CHECK_RC(bulk_pool_alloc(s.d, &pp, &pool), 0);
	CHECK_RC(bulk_shm_endpoint_create(s.d, name, NULL, &s.ep), 0);
	CHECK_RC(bulk_channel_create(s.ep, &cbs, &cp, &s.ch), 0);
	fd = bulk_channel_fd(s.ch);
	CHECK(fd >= 0);
	t_send_byte(p2c[1], 'g');
	t_poll_state(s.ch, BULK_STATE_CONNECTED, "the consumer");
	CHECK_RC(bulk_channel_assign_pool(s.ch, pool, t_cont(&ac)), 0);
	t_poll_count(s.d, &ac.fired, 1, "the assignment");
	CHECK_RC(ac.err, 0);
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NB), NB);
	for (uint32_t i = 0; i < NB; i++) {
		lens[i] = buf_len(bufs[i]->index);
		t_fill(bufs[i], 7, lens[i]);
	}

	/* space: the ring takes half; C is quiet, so nothing is pending. */
	CHECK_RC(bulk_channel_move_burst(s.ch, bufs, lens, NULL, NB, BULK_CONT_NONE), QUEUE);
	CHECK_RC(bulk_channel_move_burst(s.ch, bufs + QUEUE, lens + QUEUE, NULL, QUEUE,
					 BULK_CONT_NONE), 0);
	CHECK_RC(bulk_channel_arm(s.ch), 0);
	CHECK_EQ_INT(fd_ready(fd), 0);
	t_send_byte(p2c[1], 'c');
	sleep_on(fd, "room in the ring after a short send");
	/* C consumed the whole ring; it passes nothing until told. */
	CHECK_EQ_INT(t_recv_byte(c2p[0], T_WAIT_S), 'C');
	CHECK_RC(bulk_domain_poll(s.d, 0), 0);
	CHECK_EQ_INT(s.nin, 0);
	CHECK_RC(bulk_channel_move_burst(s.ch, bufs + QUEUE, lens + QUEUE, NULL, QUEUE,
					 BULK_CONT_NONE), QUEUE);

	/* data: nothing short since the last arm. */
	CHECK_RC(bulk_channel_arm(s.ch), 0);
	CHECK_EQ_INT(fd_ready(fd), 0);
	t_send_byte(p2c[1], 'p');
	sleep_on(fd, "buffers passed back");
	t_poll_count(s.d, &s.nin, NB, "every buffer back");
	for (int i = 0; i < NB; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(t_verify(s.in[i], 8, s.inlen[i]), 0);
	}

	CHECK_RC(bulk_channel_destroy(s.ch, t_cont(&dc)), 0);
	t_poll_count(s.d, &dc.fired, 1, "the teardown");
	CHECK_RC(dc.err, 0);
	t_reap_ok(pid, "consumer");
	CHECK_RC(bulk_channel_free(s.ch), 0);
	CHECK_RC(bulk_endpoint_free(s.ep), 0);
	CHECK_RC(bulk_pool_put_burst(pool, bufs, NB), NB);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(s.d), 0);
	close(p2c[1]);
	close(c2p[0]);
	printf("  %s: woken by room in the ring, then by passes\n",
	       trust == BULK_TRUST_FULL ? "FULL" : trust == BULK_TRUST_HALF ? "HALF" : "NONE");
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_shm_wake\n");
	run(BULK_TRUST_FULL);
	run(BULK_TRUST_HALF);
	run(BULK_TRUST_NONE);
	return CHECK_DONE("test_shm_wake");
}
