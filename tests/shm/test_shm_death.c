/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Peer death at random points. The parent owns three memfd pools (one per
 * trust level: a pool's trust is fixed at its first assignment) and keeps
 * buffers moving over a channel to a forked echo peer, which checks the
 * data, writes its own and passes each buffer back, and releases the
 * copies it gets (at once or a little later). Each run, the peer goes away
 * at a random moment, one of:
 *   kill  - the parent SIGKILLs it after a random number of echoed buffers
 *           (0: right after the channel connected, or after a bind);
 *   raise - it SIGKILLs itself in its callback, after a random number of
 *           received buffers, in the middle of a burst;
 *   exit  - it _exit(0)s without tearing the channel down, in its callback
 *           or between polls.
 * The parent must then see, within bounded polling: the channel CLOSED,
 * teardown_received with -BULK_E_PEER_GONE, every continuation it was
 * given fired exactly once (0 or -BULK_E_PEER_GONE; so does a pending pool
 * assignment, and an assignment made right after a kill returns 0 or
 * -BULK_E_PEER_GONE), no copy out, every buffer back READ_WRITE
 * (and writable: HALF restores the pages) and accounted for (free list +
 * held by the test = pool size), and stats.reclaimed equal to the number
 * of buffers that were away. The next run connects a new peer on a new
 * channel (on the same name after freeing the old endpoint, or on a new
 * one; the parent creating or binding) and transfers verified data again.
 * Finally one clean run per pool with an orderly teardown, and every pool
 * must free (nothing leaked) and the domain destroy.
 *
 * In a third of the runs the parent sleeps on bulk_channel_fd() whenever a
 * poll finds nothing (after bulk_channel_arm()), so that a pass coming back,
 * the peer's hang-up and, after a send the full queue cut short, room in the
 * ring (space_wanted) must also wake a sleeper. The sleep is poll() with a
 * 1 s timeout and nothing else in between: the echo peer always has
 * something on the way for us, so no wakeup in 5 s is a lost wakeup and
 * fails (not a timing assertion: a wakeup that is late but comes passes).
 *
 * The seed fixes the plan of every run (who dies how, when, which trust,
 * who creates); what happens meanwhile also depends on timing.
 *
 * Usage: test_shm_death [seed [runs]]
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "shm_test.h"

#define NB 24
#define BSZ 4096
#define QUEUE 16
#define META 8
#define MAXCONT 65536
#define MAXBURST 8
#define CLEAN_ECHOES 300
/* A sleeper polls its fd this long at a time, and fails after LOST_WAKEUP_S. */
#define WAIT_MS 1000
#define LOST_WAKEUP_S 5.0

enum death { D_KILL, D_RAISE, D_EXIT, D_NONE };
static const char *const death_names[] = { "kill", "raise", "exit", "clean" };

/*
 * Two generators: the plan of the runs comes from the seed alone; the
 * choices made while buffers move depend on timing too.
 */
static uint64_t plan_rng, rng;

static uint64_t
splitmix(uint64_t *st)
{
	uint64_t z = (*st += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(splitmix(&rng) % n);
}

static unsigned
plan(unsigned n)
{
	return (unsigned)(splitmix(&plan_rng) % n);
}

struct run {
	int no;
	enum death death;
	enum bulk_trust trust;
	int parent_creates;
	unsigned at;        /* kill: echoes seen by the parent; raise/exit: buffers received */
	int in_loop;        /* exit/raise between polls rather than in the callback */
	int kill_in_bind;   /* kill, parent binds: kill right after the bind call */
	int copies;         /* the parent also sends copies */
	int sleep;          /* the parent sleeps on bulk_channel_fd() when idle */
	uint64_t child_seed;
};

struct wire_meta {
	uint32_t seq;
	uint32_t index;
};

/* ------------------------------------------------------------ the peer */

static struct {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	const struct run *r;
	unsigned received;
	int dying;
	struct bulk_buffer *topass[NB];
	uint32_t topass_len[NB];
	struct wire_meta topass_meta[NB];
	unsigned ntopass;
	struct bulk_buffer *torelease[NB];
	unsigned ntorelease;
	int binds, teardowns, td_reason;
} pe;

static uint32_t
echo_round(uint32_t seq)
{
	return seq + 1000000u;
}

static void
peer_maybe_die(void)
{
	if ((pe.r->death != D_RAISE && pe.r->death != D_EXIT) || pe.received < pe.r->at)
		return;
	if (pe.r->in_loop) {
		pe.dying = 1;
		return;
	}
	if (pe.r->death == D_RAISE)
		raise(SIGKILL);
	if (pe.r->death == D_EXIT)
		t_child_exit(0);
}

/*
 * In the runs where the parent sleeps, now and then a pause at the end of a
 * burst: the echoes are out, but the ring's tail is published only after
 * the callbacks. The parent then gets everything back and finds the ring
 * still full; when it sleeps, only room in the ring can wake it.
 */
static void
peer_stall(void)
{
	struct timespec ts = { 0, 200000 };

	if (pe.r->sleep && rnd(2) == 0)
		nanosleep(&ts, NULL);
}

static void
peer_flush(void)
{
	while (pe.ntopass > 0) {
		int rc = bulk_channel_pass_burst(pe.ch, pe.topass, pe.topass_len, pe.topass_meta,
						 pe.ntopass, BULK_CONT_NONE);

		CHECK(rc >= 0);
		if (rc == 0)
			break;
		memmove(pe.topass, pe.topass + rc, sizeof(pe.topass[0]) * (pe.ntopass - (unsigned)rc));
		memmove(pe.topass_len, pe.topass_len + rc,
			sizeof(pe.topass_len[0]) * (pe.ntopass - (unsigned)rc));
		memmove(pe.topass_meta, pe.topass_meta + rc,
			sizeof(pe.topass_meta[0]) * (pe.ntopass - (unsigned)rc));
		pe.ntopass -= (unsigned)rc;
	}
}

static void
peer_release(void)
{
	if (pe.ntorelease == 0)
		return;
	int rc = bulk_channel_release_burst(pe.ch, pe.torelease, pe.ntorelease, BULK_CONT_NONE);

	CHECK(rc >= 0);
	memmove(pe.torelease, pe.torelease + rc,
		sizeof(pe.torelease[0]) * (pe.ntorelease - (unsigned)rc));
	pe.ntorelease -= (unsigned)rc;
}

static void
peer_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	     const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned i = 0; i < n; i++) {
		struct wire_meta m;
		struct bulk_buffer *b = bufs[i];

		memcpy(&m, (const uint8_t *)meta + i * META, META);
		CHECK_EQ_INT(m.index, b->index);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(t_verify(b, m.seq, lens[i]), 0);
		t_fill(b, echo_round(m.seq), lens[i]);
		CHECK(pe.ntopass < NB);
		pe.topass[pe.ntopass] = b;
		pe.topass_len[pe.ntopass] = lens[i];
		pe.topass_meta[pe.ntopass] = m;
		pe.ntopass++;
		/* One at a time, so that a death can fall between two of a burst. */
		peer_flush();
		pe.received++;
		peer_maybe_die();
	}
	peer_stall();
}

static void
peer_on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	     const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned i = 0; i < n; i++) {
		struct wire_meta m;

		memcpy(&m, (const uint8_t *)meta + i * META, META);
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_ONLY);
		CHECK_EQ_INT(t_verify(bufs[i], m.seq, lens[i]), 0);
		CHECK(pe.ntorelease < NB);
		pe.torelease[pe.ntorelease++] = bufs[i];
		/* Some copies are released at once, some stay a while. */
		if (rnd(2) == 0)
			peer_release();
		pe.received++;
		peer_maybe_die();
	}
	peer_stall();
}

static int
peer_on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	pe.binds++;
	return 0;
}

static void
peer_on_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	pe.teardowns++;
	pe.td_reason = reason;
}

static const struct bulk_channel_callbacks peer_cbs = {
	.bind_received = peer_on_bind,
	.move_received = peer_on_move,
	.copy_received = peer_on_copy,
	.teardown_received = peer_on_teardown,
};

static void __attribute__((noreturn))
peer_main(const struct run *r, const char *name, int rd, int wr)
{
	uint64_t end = t_deadline(T_WAIT_S);
	unsigned idle = 0;

	memset(&pe, 0, sizeof(pe));
	pe.r = r;
	rng = r->child_seed;
	CHECK_RC(bulk_domain_create("peer", &pe.d), 0);
	CHECK_RC(bulk_shm_endpoint_create(pe.d, name, NULL, &pe.ep), 0);
	if (!r->parent_creates) {
		struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX,
						  .trust = r->trust, .meta_size = META,
						  .queue_size = QUEUE };

		CHECK_RC(bulk_channel_create(pe.ep, &peer_cbs, &cp, &pe.ch), 0);
		t_send_byte(wr, 'g');
	} else {
		struct bulk_bind_params bp;
		struct t_cont c;

		memset(&bp, 0, sizeof(bp));
		CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
		CHECK_RC(bulk_channel_bind(pe.d, pe.ep, &peer_cbs, &bp, t_cont(&c), &pe.ch), 0);
		t_poll_count(pe.d, &c.fired, 1, "bind");
		CHECK_RC(c.err, 0);
	}
	for (;;) {
		int rc = bulk_domain_poll(pe.d, 0);

		CHECK(rc >= 0);
		if (pe.dying) {
			if (r->death == D_RAISE)
				raise(SIGKILL);
			t_child_exit(0);
		}
		if (bulk_channel_state(pe.ch) == BULK_STATE_CONNECTED) {
			peer_flush();
			if (rnd(8) == 0)
				peer_release();
		}
		if (bulk_channel_state(pe.ch) == BULK_STATE_CLOSED)
			break;
		if (t_now_ns() > end) {
			struct bulk_channel_stats st;

			bulk_channel_stats_get(pe.ch, &st);
			fprintf(stderr, "peer of run %d: still alive after %.0f s: state %s, "
				"received %u, to pass %u, to release %u; rx %llu tx %llu "
				"msgs, queue full %llu\n", r->no, T_WAIT_S,
				bulk_channel_state_name(bulk_channel_state(pe.ch)),
				pe.received, pe.ntopass, pe.ntorelease,
				(unsigned long long)st.rx_msgs,
				(unsigned long long)st.tx_msgs,
				(unsigned long long)st.queue_full);
			t_child_exit(4);
		}
		if (rc == 0)
			t_idle(idle++);
		else
			idle = 0;
	}
	/* Only the clean run gets here: an orderly teardown by the parent. */
	CHECK_EQ_INT(r->death, D_NONE);
	CHECK_EQ_INT(pe.teardowns, 1);
	CHECK_RC(pe.td_reason, 0);
	CHECK_EQ_INT(pe.ntopass, 0);
	CHECK_RC(bulk_channel_free(pe.ch), 0);
	CHECK_RC(bulk_endpoint_free(pe.ep), 0);
	/* Our view holds nothing; it may be gone with the channel already. */
	CHECK_RC(bulk_domain_destroy(pe.d), 0);
	t_child_exit(0);
}

/* ------------------------------------------------------------ the owner */

enum where { W_FREE, W_HELD, W_AWAY };

static struct {
	struct bulk_domain *d;
	struct bulk_pool *pool[4]; /* by trust */
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *cur;
	enum where where[NB];
	uint32_t seq[NB], len[NB];
	uint32_t next_seq;
	unsigned away, echoes, held;
	int queue_was_full;
	struct t_cont conts[MAXCONT];
	unsigned nconts;
	int binds, teardowns, td_reason;
	unsigned long total_echoes, total_reclaimed, total_conts_failed;
	unsigned long deaths[4];
	unsigned long sleeps, sleepy_runs, assign_failed[BULK_E_LAST - BULK_EBASE + 1];
	unsigned long short_sleeps, wait_timeouts;
} ow;

static struct bulk_cont
ow_cont(void)
{
	if (ow.nconts == MAXCONT)
		return BULK_CONT_NONE;
	return t_cont(&ow.conts[ow.nconts++]);
}

/* Nothing was sent, so the library did not take the continuation. */
static void
ow_cont_unused(void)
{
	if (ow.nconts > 0 && ow.nconts < MAXCONT)
		ow.nconts--;
}

static void
ow_on_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	   const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned i = 0; i < n; i++) {
		struct bulk_buffer *b = bufs[i];
		struct wire_meta m;

		memcpy(&m, (const uint8_t *)meta + i * META, META);
		CHECK(b->pool == ow.cur);
		CHECK_EQ_INT(ow.where[b->index], W_AWAY);
		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(m.index, b->index);
		CHECK_EQ_INT(m.seq, ow.seq[b->index]);
		CHECK_EQ_INT(lens[i], ow.len[b->index]);
		CHECK_EQ_INT(t_verify(b, echo_round(m.seq), lens[i]), 0);
		ow.where[b->index] = W_HELD;
		ow.away--;
		ow.held++;
		ow.echoes++;
	}
}

static int
ow_on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	ow.binds++;
	return 0;
}

static void
ow_on_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	ow.teardowns++;
	ow.td_reason = reason;
}

static const struct bulk_channel_callbacks ow_cbs = {
	.bind_received = ow_on_bind,
	.buffer_received = ow_on_pass,
	.teardown_received = ow_on_teardown,
};

/* Send what we hold: moves in random bursts, now and then a copy. */
static void
ow_send(const struct run *r)
{
	struct bulk_buffer *bufs[MAXBURST];
	uint32_t lens[MAXBURST];
	struct wire_meta meta[MAXBURST];
	unsigned n = 0, want = 1 + rnd(MAXBURST);
	int rc;

	for (uint32_t i = 0; i < NB && n < want; i++) {
		struct bulk_buffer *b = bulk_pool_buffer(ow.cur, i);

		if (ow.where[i] != W_HELD || b->state != BULK_BUFFER_READ_WRITE)
			continue;
		ow.seq[i] = ow.next_seq++;
		ow.len[i] = 1 + rnd(BSZ);
		t_fill(b, ow.seq[i], ow.len[i]);
		bufs[n] = b;
		lens[n] = ow.len[i];
		meta[n].seq = ow.seq[i];
		meta[n].index = i;
		n++;
	}
	if (rnd(16) == 0) {
		/* Take one from the free list now and then. */
		struct bulk_buffer *b = bulk_pool_get(ow.cur);

		if (b != NULL) {
			CHECK_EQ_INT(ow.where[b->index], W_FREE);
			ow.where[b->index] = W_HELD;
			ow.held++;
		}
	}
	ow.queue_was_full = 0;
	if (n == 0)
		return;
	if (r->copies && rnd(4) == 0) {
		rc = bulk_channel_copy(ow.ch, bufs[0], lens[0], &meta[0], ow_cont());
		CHECK(rc == 0 || rc == -ENOBUFS);
		if (rc == 0)
			CHECK_EQ_INT(bufs[0]->state, BULK_BUFFER_RO_OWNED);
		else
			ow_cont_unused();
		ow.queue_was_full = rc != 0;
		return;
	}
	rc = bulk_channel_move_burst(ow.ch, bufs, lens, meta, n, ow_cont());
	CHECK(rc >= 0);
	ow.queue_was_full = (unsigned)rc < n;
	if (rc == 0)
		ow_cont_unused();
	for (int i = 0; i < rc; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_INVALID);
		ow.where[bufs[i]->index] = W_AWAY;
		ow.away++;
		ow.held--;
	}
}

/* After the peer went: everything home, counted, and usable. */
static void
ow_check_home(const struct run *r)
{
	struct bulk_channel_stats st;
	unsigned failed = 0;

	CHECK_EQ_INT(ow.teardowns, 1);
	CHECK_RC(ow.td_reason, -BULK_E_PEER_GONE);
	for (unsigned i = 0; i < ow.nconts; i++) {
		CHECK_EQ_INT(ow.conts[i].fired, 1);
		if (ow.conts[i].err != 0) {
			CHECK_RC(ow.conts[i].err, -BULK_E_PEER_GONE);
			failed++;
		}
	}
	CHECK_RC(bulk_channel_stats_get(ow.ch, &st), 0);
	CHECK_EQ_INT(st.bad_desc, 0);
	CHECK_EQ_INT(st.reclaimed, ow.away);
	ow.total_reclaimed += st.reclaimed;
	ow.total_conts_failed += failed;
	for (uint32_t i = 0; i < NB; i++) {
		struct bulk_buffer *b = bulk_pool_buffer(ow.cur, i);

		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(b->copies_out, 0);
		CHECK_EQ_INT(b->copies_in, 0);
		if (ow.where[i] == W_AWAY) {
			ow.where[i] = W_HELD;
			ow.held++;
		}
		if (ow.where[i] == W_HELD) {
			t_fill(b, 0xdead + i, BSZ);
			CHECK_EQ_INT(t_verify(b, 0xdead + i, BSZ), 0);
		}
	}
	ow.away = 0;
	CHECK_EQ_INT(bulk_pool_free_count(ow.cur) + ow.held, NB);
	printf("  run %2d %-5s %s %s at %3u: %u echoes, %llu reclaimed, %u of %u "
	       "continuations failed\n", r->no, death_names[r->death],
	       r->trust == BULK_TRUST_FULL ? "FULL" : r->trust == BULK_TRUST_HALF ? "HALF" : "NONE",
	       r->parent_creates ? "creator" : "binder ", r->at, ow.echoes,
	       (unsigned long long)st.reclaimed, failed, ow.nconts);
}

/* Why a run stalled: everything the parent knows. */
static void
ow_dump(const struct run *r, double secs, int assigned, const struct t_cont *assignc)
{
	struct bulk_channel_stats st;

	bulk_channel_stats_get(ow.ch, &st);
	fprintf(stderr, "run %d (%s, %s, sleep %d, copies %d): channel %s after %.0f s; "
		"assigned %d (cont fired %d err %d); away %u held %u free %u echoes %u; "
		"tx %llu rx %llu msgs, moves %llu copies %llu passes %llu releases %llu, "
		"queue full %llu, bad %llu\n", r->no, death_names[r->death],
		r->parent_creates ? "creator" : "binder", r->sleep, r->copies,
		bulk_channel_state_name(bulk_channel_state(ow.ch)), secs, assigned,
		assignc->fired, assignc->err, ow.away, ow.held, bulk_pool_free_count(ow.cur),
		ow.echoes, (unsigned long long)st.tx_msgs, (unsigned long long)st.rx_msgs,
		(unsigned long long)st.moves_tx, (unsigned long long)st.copies_tx,
		(unsigned long long)st.passes_rx, (unsigned long long)st.releases_rx,
		(unsigned long long)st.queue_full, (unsigned long long)st.bad_desc);
	for (uint32_t i = 0; i < NB; i++) {
		const struct bulk_buffer *b = bulk_pool_buffer(ow.cur, i);

		fprintf(stderr, "  buffer %2u: where %d state %s out %u in %u\n", i, ow.where[i],
			bulk_buffer_state_name(b->state), b->copies_out, b->copies_in);
	}
}

/*
 * Sleep on the channel's epoll fd until it wakes us; bulk_channel_arm()
 * returned 0. Nothing is polled meanwhile, so that a wakeup the peer never
 * sent cannot be made up for by the next poll: with none in LOST_WAKEUP_S
 * the test fails. The echo peer always has something on the way for us
 * (our buffers, our copies, our descriptors to consume) or dies, which
 * hangs up the socket in the epoll set.
 */
static void
ow_sleep(const struct run *r, int epfd, int assigned, const struct t_cont *assignc)
{
	uint64_t since = t_now_ns();

	for (;;) {
		struct pollfd p = { .fd = epfd, .events = POLLIN };
		int e = poll(&p, 1, WAIT_MS);

		if (e > 0)
			break;
		if (e < 0) {
			CHECK(errno == EINTR);
			continue;
		}
		ow.wait_timeouts++;
		if (t_now_ns() - since > (uint64_t)(LOST_WAKEUP_S * 1e9)) {
			fprintf(stderr, "run %d: no wakeup in %.0f s on the channel fd (slept "
				"after a short send: %d), channel %s: a lost wakeup\n", r->no,
				LOST_WAKEUP_S, ow.queue_was_full,
				bulk_channel_state_name(bulk_channel_state(ow.ch)));
			ow_dump(r, LOST_WAKEUP_S, assigned, assignc);
			CHECK(!"lost wakeup");
		}
	}
	ow.sleeps++;
	ow.short_sleeps += ow.queue_was_full != 0;
}

static void
ow_run(const struct run *r, const char *name)
{
	struct t_cont bindc, assignc, dc;
	int p2c[2], c2p[2], killed = 0, assigned = 0, closed_in_bind = 0, assign_refused = 0;
	int rc, epfd = -1;
	uint64_t end;
	unsigned idle = 0;
	pid_t pid;
	char buf[64];
	int st;

	t_pipe(p2c);
	t_pipe(c2p);
	pid = t_fork();
	if (pid == 0) {
		close(p2c[1]);
		close(c2p[0]);
		peer_main(r, name, p2c[0], c2p[1]);
	}
	close(p2c[0]);
	close(c2p[1]);
	ow.cur = ow.pool[r->trust];
	ow.nconts = 0;
	ow.queue_was_full = 0;
	ow.echoes = 0;
	ow.binds = ow.teardowns = 0;
	ow.td_reason = 1;
	memset(&assignc, 0, sizeof(assignc));
	CHECK_RC(bulk_shm_endpoint_create(ow.d, name, NULL, &ow.ep), 0);
	if (r->parent_creates) {
		struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX,
						  .trust = r->trust, .meta_size = META,
						  .queue_size = QUEUE };

		CHECK_RC(bulk_channel_create(ow.ep, &ow_cbs, &cp, &ow.ch), 0);
		t_send_byte(p2c[1], 'g');
		t_poll_state(ow.ch, BULK_STATE_CONNECTED, "a binder");
		CHECK_EQ_INT(ow.binds, 1);
	} else {
		struct bulk_bind_params bp;

		memset(&bp, 0, sizeof(bp));
		CHECK_EQ_INT(t_recv_byte(c2p[0], T_WAIT_S), 'g');
		CHECK_RC(bulk_channel_bind(ow.d, ow.ep, &ow_cbs, &bp, t_cont(&bindc), &ow.ch), 0);
		if (r->kill_in_bind) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		t_poll_count(ow.d, &bindc.fired, 1, "the bind answer");
		if (bindc.err != 0) {
			/* The creator died before it answered. */
			CHECK(r->kill_in_bind);
			CHECK_RC(bindc.err, -BULK_E_PEER_GONE);
			CHECK_EQ_INT(bulk_channel_state(ow.ch), BULK_STATE_CLOSED);
			closed_in_bind = 1;
		}
	}
	if (!closed_in_bind) {
		CHECK_EQ_INT(bulk_channel_direction(ow.ch), BULK_DIRECTION_TX);
		CHECK_EQ_INT(bulk_channel_trust(ow.ch), r->trust);
		if (r->death == D_KILL && r->at == 0 && !killed) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		if (r->sleep) {
			/* Before the peer sends anything (bulk_channel_fd()). */
			epfd = bulk_channel_fd(ow.ch);
			CHECK(epfd >= 0);
		}
		rc = bulk_channel_assign_pool(ow.ch, ow.cur, t_cont(&assignc));
		if (rc != 0) {
			/* Only when we killed the peer just now: the pool's fd
			 * could not be sent. */
			printf("  run %2d: assign to a just-killed peer: %s\n", r->no,
			       bulk_strerror(rc));
			CHECK(killed);
			CHECK_RC(rc, -BULK_E_PEER_GONE);
			assign_refused = rc;
			assignc.fired = 1;
			assignc.err = rc;
		}
	}

	end = t_deadline(T_WAIT_S);
	while (!closed_in_bind && bulk_channel_state(ow.ch) != BULK_STATE_CLOSED) {
		rc = bulk_domain_poll(ow.d, 0);

		CHECK(rc >= 0);
		if (assignc.fired && assignc.err == 0 && !assigned)
			assigned = 1;
		if (r->death == D_KILL && !killed && ow.echoes >= r->at) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		if (assigned && bulk_channel_state(ow.ch) == BULK_STATE_CONNECTED &&
		    !(r->death == D_NONE && ow.echoes >= CLEAN_ECHOES))
			ow_send(r);
		if (r->death == D_NONE && ow.echoes >= CLEAN_ECHOES && ow.away == 0) {
			int copied = 0;

			for (uint32_t i = 0; i < NB; i++)
				copied |= bulk_pool_buffer(ow.cur, i)->copies_out != 0;
			if (!copied)
				break;
		}
		if (t_now_ns() > end) {
			ow_dump(r, T_WAIT_S, assigned, &assignc);
			CHECK(!"peer death not seen");
		}
		if (rc == 0 && epfd >= 0 && bulk_channel_state(ow.ch) != BULK_STATE_CLOSED) {
			/* Sleep on the channel's fd: a pass coming back, the
			 * peer's hang-up or, after a short send, room in the ring
			 * must wake us (the peer may have echoed everything in its
			 * callbacks before it published its tail: then only the
			 * space wakeup is left). */
			int a = bulk_channel_arm(ow.ch);

			CHECK(a >= 0);
			if (a == 1)
				continue;
			ow_sleep(r, epfd, assigned, &assignc);
		} else if (rc == 0) {
			t_idle(idle++);
		} else {
			idle = 0;
		}
	}

	if (r->death == D_NONE) {
		/* Clean: every buffer home, copies released; an orderly teardown. */
		CHECK_RC(bulk_channel_destroy(ow.ch, t_cont(&dc)), 0);
		t_poll_count(ow.d, &dc.fired, 1, "teardown");
		CHECK_RC(dc.err, 0);
		CHECK_EQ_INT(ow.teardowns, 0);
		for (unsigned i = 0; i < ow.nconts; i++) {
			CHECK_EQ_INT(ow.conts[i].fired, 1);
			CHECK_RC(ow.conts[i].err, 0);
		}
		for (uint32_t i = 0; i < NB; i++)
			CHECK_EQ_INT(bulk_pool_buffer(ow.cur, i)->state, BULK_BUFFER_READ_WRITE);
		printf("  run %2d clean %s: %u echoes verified, orderly teardown\n", r->no,
		       r->trust == BULK_TRUST_FULL ? "FULL" : r->trust == BULK_TRUST_HALF ? "HALF"
											   : "NONE",
		       ow.echoes);
		t_reap_ok(pid, "clean peer");
	} else if (closed_in_bind) {
		printf("  run %2d kill  during the bind: bind failed with %s\n", r->no,
		       bulk_strerror(bindc.err));
		st = t_reap(pid, T_WAIT_S);
		CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	} else {
		if (assign_refused == 0 && (assignc.fired == 0 || assignc.err != 0)) {
			/* The peer died before it answered the assignment. */
			CHECK_EQ_INT(assignc.fired, 1);
			CHECK_RC(assignc.err, -BULK_E_PEER_GONE);
			printf("  run %2d: the pending assignment failed with %s\n", r->no,
			       bulk_strerror(assignc.err));
			ow.assign_failed[-assignc.err - BULK_EBASE]++;
		}
		ow_check_home(r);
		st = t_reap(pid, T_WAIT_S);
		if (r->death == D_EXIT ? !(WIFEXITED(st) && WEXITSTATUS(st) == 0)
				       : !(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)) {
			fprintf(stderr, "run %d: peer ended with %s\n", r->no,
				t_status_str(st, buf, sizeof(buf)));
			CHECK(!"peer ended otherwise than planned");
		}
	}
	ow.deaths[r->death]++;
	ow.sleepy_runs += r->sleep;
	ow.total_echoes += ow.echoes;
	close(p2c[1]);
	close(c2p[0]);
	CHECK_RC(bulk_channel_free(ow.ch), 0);
	CHECK_RC(bulk_endpoint_free(ow.ep), 0);
	ow.ch = NULL;
	ow.ep = NULL;
}

int
main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20261123;
	int runs = argc > 2 ? atoi(argv[2]) : 50;
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	static const enum bulk_trust trusts[3] = { BULK_TRUST_FULL, BULK_TRUST_HALF,
						   BULK_TRUST_NONE };
	char name[96];
	struct bulk_buffer *bufs[NB];

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_shm_death: seed %" PRIu64 ", %d runs\n", seed, runs);
	plan_rng = seed;
	rng = seed ^ 0x5deece66dull;
	memset(&ow, 0, sizeof(ow));
	CHECK_RC(bulk_domain_create("owner", &ow.d), 0);
	for (int t = 0; t < 3; t++)
		CHECK_RC(bulk_pool_alloc(ow.d, &pp, &ow.pool[trusts[t]]), 0);
	/* Pools are held by the test from the start (none in the free lists). */
	t_name(name, sizeof(name), "death");
	for (int k = 0; k < runs + 3; k++) {
		struct run r;
		struct bulk_pool *p;

		memset(&r, 0, sizeof(r));
		r.no = k;
		r.death = k >= runs ? D_NONE : (enum death)(k % 3);
		r.trust = k >= runs ? trusts[k - runs] : trusts[plan(3)];
		r.parent_creates = plan(4) != 0;
		r.at = plan(5) == 0 ? plan(4) : plan(300);
		if (r.death != D_KILL && r.at == 0)
			r.at = 1;
		r.in_loop = plan(3) == 0;
		r.kill_in_bind = r.death == D_KILL && !r.parent_creates && plan(3) == 0;
		r.copies = plan(3) != 0;
		r.sleep = plan(3) == 0 || k == runs + 1;
		r.child_seed = splitmix(&plan_rng);
		/* A new name now and then; else the same one, free again. */
		if (plan(2) == 0)
			t_name(name, sizeof(name), "death");
		p = ow.pool[r.trust];
		/* Start with everything in hand, then a few in the free list. */
		{
			uint32_t nfree = bulk_pool_free_count(p);
			unsigned nput = rnd(4);

			CHECK_RC(bulk_pool_get_burst(p, bufs, nfree), (int)nfree);
			ow.held = NB;
			for (uint32_t i = 0; i < NB; i++) {
				CHECK_EQ_INT(bulk_pool_buffer(p, i)->state, BULK_BUFFER_READ_WRITE);
				ow.where[i] = W_HELD;
			}
			for (unsigned j = 0; j < nput; j++) {
				uint32_t i = rnd(NB);

				if (ow.where[i] != W_HELD)
					continue;
				CHECK_RC(bulk_pool_put(bulk_pool_buffer(p, i)), 0);
				ow.where[i] = W_FREE;
				ow.held--;
			}
		}
		ow.away = 0;
		ow_run(&r, name);
	}
	printf("  deaths: kill %lu, raise %lu, exit %lu; clean runs %lu; %lu echoes, "
	       "%lu buffers reclaimed, %lu continuations failed\n", ow.deaths[D_KILL],
	       ow.deaths[D_RAISE], ow.deaths[D_EXIT], ow.deaths[D_NONE], ow.total_echoes,
	       ow.total_reclaimed, ow.total_conts_failed);
	printf("  %lu runs slept on the channel fd, woken %lu times (%lu after a short send); "
	       "%lu waits of %d ms timed out\n", ow.sleepy_runs, ow.sleeps, ow.short_sleeps,
	       ow.wait_timeouts, WAIT_MS);
	CHECK(ow.total_reclaimed > 0);
	for (int t = 0; t < 3; t++) {
		struct bulk_pool *p = ow.pool[trusts[t]];
		uint32_t nfree = bulk_pool_free_count(p);

		/* All in hand, then all back: put_burst checks each one. */
		CHECK_RC(bulk_pool_get_burst(p, bufs, nfree), (int)nfree);
		for (uint32_t i = 0; i < NB; i++) {
			bufs[i] = bulk_pool_buffer(p, i);
			CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_WRITE);
		}
		CHECK_RC(bulk_pool_put_burst(p, bufs, NB), NB);
		CHECK_RC(bulk_pool_free(p), 0);
	}
	CHECK_RC(bulk_domain_destroy(ow.d), 0);
	return CHECK_DONE("test_shm_death");
}
