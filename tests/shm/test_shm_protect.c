/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The spec's bulk_shm tests 2-6 over an shm HALF channel: a process that
 * breaks an access guarantee must fault.
 *
 *   2  touching a passed buffer           (the passer, RX side)
 *   3  touching a moved buffer            (the mover, TX side)
 *   4  writing a buffer shared by a copy  (its owner, RO_OWNED)
 *   5  writing a buffer received by copy  (the copy's holder)
 *   6  touching a released copy           (the former holder)
 *
 * Each test forks a pair: O, which allocated the pool and survives, and X,
 * which makes the legal accesses first (they must work), then the
 * forbidden one, and must die by SIGSEGV. The creator of the channel is O
 * in tests 2, 4, 6 and X in 3, 5, so that both the death of a creator and
 * of a binder are seen.
 *
 * O checks the death: its channel goes CLOSED, teardown_received and a
 * continuation still pending (a send X never consumed) get
 * -BULK_E_PEER_GONE, copies across the channel are voided, every buffer
 * X held comes back READ_WRITE (stats.reclaimed counts them) and really
 * writable again, and the pool can be freed.
 *
 * Pipes order the processes where the channel cannot: the creator tells
 * the binder when to bind; X tells O it is done ('x'), O sends one last
 * buffer and answers ('y'), and only then does X fault, so that O's last
 * send surely finds the channel connected and surely stays unconsumed.
 *
 * With "full" as the second argument the same runs go over a FULL channel,
 * where nothing is protected: X must survive its access (exit 3). That
 * shows the faults of the HALF runs come from the protections.
 *
 * Usage: test_shm_protect 2|3|4|5|6|all [half|full]
 */
#include <stdlib.h>
#include <string.h>

#include "shm_test.h"

#define NBUF 8
#define BSZ 4096
#define QUEUE 64
#define SPARE (NBUF - 1)
#define X_NO_FAULT 3

struct side {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *pool;
	struct bulk_buffer *in[2 * NBUF];
	uint32_t inlen[2 * NBUF];
	int nin;
	struct bulk_buffer *cp[NBUF];
	int ncp;
	int released, assigned, binds, teardowns, td_reason;
};

static struct side s;
/* HALF: the access must fault. FULL: the control run, the same access must not. */
static enum bulk_trust trust = BULK_TRUST_HALF;

static void
on_in(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
      const void *meta, unsigned n)
{
	(void)ch;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		CHECK(s.nin < 2 * NBUF);
		s.inlen[s.nin] = lens[i];
		s.in[s.nin++] = bufs[i];
	}
}

static void
on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		CHECK(s.ncp < NBUF);
		s.cp[s.ncp++] = bufs[i];
	}
}

static void
on_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)ch;
	(void)bufs;
	s.released += (int)n;
}

static int
on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	s.pool = pool;
	s.assigned++;
	return 0;
}

static int
on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	CHECK_EQ_INT(info->trust, trust);
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
	.copy_received = on_copy,
	.copy_released = on_released,
	.teardown_received = on_teardown,
};

/* What one test does; "O" allocates the pool, "X" faults. */
struct test {
	int no;
	const char *what;
	int o_creates;          /* else X creates */
	enum bulk_direction o_dir;
	int reclaimed;          /* buffers O gets back from the dead X */
};

static const struct test tests[] = {
	{ 2, "touching a passed buffer", 1, BULK_DIRECTION_TX, 6 },
	{ 3, "touching a moved buffer", 0, BULK_DIRECTION_RX, 6 },
	{ 4, "writing a buffer shared by copy (RO_OWNED)", 1, BULK_DIRECTION_RX, 8 },
	{ 5, "writing a buffer received by copy", 0, BULK_DIRECTION_TX, 4 },
	{ 6, "touching a released copy", 1, BULK_DIRECTION_TX, 3 },
};

struct pipes {
	int go[2]; /* creator -> binder */
	int x2o[2];
	int o2x[2];
};

static void
wait_cont(struct t_cont *c, const char *what)
{
	t_poll_count(s.d, &c->fired, 1, what);
	CHECK_EQ_INT(c->fired, 1);
	CHECK_RC(c->err, 0);
}

static void
connect_side(const char *name, int creator, enum bulk_direction dir, int go_rd, int go_wr,
	     const char *dname)
{
	memset(&s, 0, sizeof(s));
	if (creator) {
		struct bulk_channel_params cp = { .direction = dir, .trust = trust,
						  .queue_size = QUEUE };

		CHECK_RC(bulk_domain_create(dname, &s.d), 0);
		CHECK_RC(bulk_shm_endpoint_create(s.d, name, NULL, &s.ep), 0);
		CHECK_RC(bulk_channel_create(s.ep, &cbs, &cp, &s.ch), 0);
		t_send_byte(go_wr, 'g');
		t_poll_state(s.ch, BULK_STATE_CONNECTED, "binder");
		CHECK_EQ_INT(s.binds, 1);
	} else {
		struct bulk_bind_params bp;
		struct t_cont c;

		memset(&bp, 0, sizeof(bp));
		CHECK_EQ_INT(t_recv_byte(go_rd, T_WAIT_S), 'g');
		CHECK_RC(bulk_domain_create(dname, &s.d), 0);
		CHECK_RC(bulk_shm_endpoint_create(s.d, name, NULL, &s.ep), 0);
		CHECK_RC(bulk_channel_bind(s.d, s.ep, &cbs, &bp, t_cont(&c), &s.ch), 0);
		wait_cont(&c, "bind");
	}
	CHECK_EQ_INT(bulk_channel_direction(s.ch), dir);
	CHECK_EQ_INT(bulk_channel_trust(s.ch), trust);
}

/* Fill what X owns with round 2: writing it is legal. */
static void
x_write_all(void)
{
	for (int i = 0; i < s.nin; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		t_fill(s.in[i], 2, BSZ);
		CHECK_EQ_INT(t_verify(s.in[i], 2, BSZ), 0);
	}
}

/* ------------------------------------------------------------ X */

static void __attribute__((noreturn))
run_x(const struct test *t, const char *name, const struct pipes *pp)
{
	struct t_cont c;
	volatile uint8_t *victim = NULL;
	int write_it = 0;
	enum bulk_direction dir = t->o_dir == BULK_DIRECTION_TX ? BULK_DIRECTION_RX
								  : BULK_DIRECTION_TX;

	connect_side(name, !t->o_creates, dir, pp->go[0], pp->go[1], "X");
	t_poll_count(s.d, &s.assigned, 1, "pool assignment");
	CHECK_EQ_INT(bulk_pool_trust(s.pool), trust);

	switch (t->no) {
	case 2: /* O moved 7; pass two back, then touch one of them */
	case 3: /* O passed 7; move two back, then touch one of them */
		t_poll_count(s.d, &s.nin, SPARE, "buffers from O");
		for (int i = 0; i < s.nin; i++)
			CHECK_EQ_INT(t_verify(s.in[i], 1, BSZ), 0);
		x_write_all();
		if (t->no == 2)
			CHECK_RC(bulk_channel_pass_burst(s.ch, s.in, NULL, NULL, 2, t_cont(&c)), 2);
		else
			CHECK_RC(bulk_channel_move_burst(s.ch, s.in, NULL, NULL, 2, t_cont(&c)), 2);
		CHECK_EQ_INT(s.in[0]->state, BULK_BUFFER_INVALID);
		CHECK_EQ_INT(s.in[1]->state, BULK_BUFFER_INVALID);
		/* Legal to the end: the ones still held. */
		for (int i = 2; i < s.nin; i++) {
			((volatile uint8_t *)s.in[i]->addr)[1] = 9;
			((volatile uint8_t *)s.in[i]->addr)[1] = t_pattern(2, s.in[i]->index, 1);
		}
		victim = (volatile uint8_t *)s.in[t->no == 2 ? 0 : 1]->addr + 100;
		write_it = t->no == 3;
		break;
	case 4: /* own them, write one, copy it: then it is RO_OWNED */
		t_poll_count(s.d, &s.nin, SPARE, "buffers from O");
		x_write_all();
		CHECK_RC(bulk_channel_copy(s.ch, s.in[0], BSZ, NULL, t_cont(&c)), 0);
		CHECK_EQ_INT(s.in[0]->state, BULK_BUFFER_RO_OWNED);
		CHECK_EQ_INT(t_verify(s.in[0], 2, BSZ), 0); /* reading is legal */
		wait_cont(&c, "copy consumed");
		CHECK_EQ_INT(t_verify(s.in[0], 2, BSZ), 0);
		victim = (volatile uint8_t *)s.in[0]->addr + BSZ - 1;
		write_it = 1;
		break;
	case 5: /* a copy and three moves from O: read the copy, then write it */
		t_poll_count(s.d, &s.ncp, 1, "copy from O");
		t_poll_count(s.d, &s.nin, 3, "moves from O");
		CHECK_EQ_INT(s.cp[0]->state, BULK_BUFFER_READ_ONLY);
		CHECK_EQ_INT(t_verify(s.cp[0], 1, BSZ), 0);
		x_write_all();
		victim = (volatile uint8_t *)s.cp[0]->addr + 7;
		write_it = 1;
		break;
	case 6: /* two copies and two moves: release one copy, then touch it */
		t_poll_count(s.d, &s.ncp, 2, "copies from O");
		t_poll_count(s.d, &s.nin, 2, "moves from O");
		for (int i = 0; i < 2; i++) {
			CHECK_EQ_INT(s.cp[i]->state, BULK_BUFFER_READ_ONLY);
			CHECK_EQ_INT(t_verify(s.cp[i], 1, BSZ), 0);
		}
		x_write_all();
		CHECK_RC(bulk_channel_release(s.ch, s.cp[0], t_cont(&c)), 0);
		CHECK_EQ_INT(s.cp[0]->state, BULK_BUFFER_INVALID);
		CHECK_EQ_INT(t_verify(s.cp[1], 1, BSZ), 0); /* the other copy: still legal */
		victim = (volatile uint8_t *)s.cp[0]->addr + 2048;
		break;
	default:
		CHECK(0);
	}

	/* No more polls from here: what O sends now stays unconsumed. */
	t_send_byte(pp->x2o[1], 'x');
	CHECK_EQ_INT(t_recv_byte(pp->o2x[0], T_WAIT_S), 'y');
	printf("  X (pid %ld): legal accesses done, now %s\n", (long)getpid(), t->what);
	t_expect_fault();
	if (write_it)
		*victim = 0x5a;
	else
		(void)*victim;
	if (trust != BULK_TRUST_FULL)
		fprintf(stderr, "X: test %d: %s did not fault\n", t->no, t->what);
	t_child_exit(X_NO_FAULT);
}

/* ------------------------------------------------------------ O */

static void __attribute__((noreturn))
run_o(const struct test *t, const char *name, const struct pipes *pp)
{
	struct bulk_pool_params ppar = { .count = NBUF, .buffer_size = BSZ,
					 .mem = BULK_MEM_MEMFD };
	struct bulk_buffer *bufs[NBUF];
	struct bulk_channel_stats st;
	struct t_cont c, c2, late;
	int rc;

	connect_side(name, t->o_creates, t->o_dir, pp->go[0], pp->go[1], "O");
	CHECK_RC(bulk_pool_alloc(s.d, &ppar, &s.pool), 0);
	CHECK_RC(bulk_channel_assign_pool(s.ch, s.pool, t_cont(&c)), 0);
	wait_cont(&c, "pool assignment");
	CHECK_EQ_INT(bulk_pool_trust(s.pool), trust);
	CHECK_RC(bulk_pool_get_burst(s.pool, bufs, NBUF), NBUF);
	for (int i = 0; i < NBUF; i++)
		t_fill(bufs[i], 1, BSZ);

	switch (t->no) {
	case 2:
		CHECK_RC(bulk_channel_move_burst(s.ch, bufs, NULL, NULL, SPARE, t_cont(&c)), SPARE);
		wait_cont(&c, "moves consumed");
		t_poll_count(s.d, &s.nin, 2, "two passed back");
		break;
	case 3:
		CHECK_RC(bulk_channel_pass_burst(s.ch, bufs, NULL, NULL, SPARE, t_cont(&c)), SPARE);
		wait_cont(&c, "passes consumed");
		t_poll_count(s.d, &s.nin, 2, "two moved back");
		break;
	case 4:
		CHECK_RC(bulk_channel_pass_burst(s.ch, bufs, NULL, NULL, SPARE, t_cont(&c)), SPARE);
		wait_cont(&c, "passes consumed");
		t_poll_count(s.d, &s.ncp, 1, "a copy");
		CHECK(s.cp[0] == bufs[0]);
		CHECK_EQ_INT(s.cp[0]->state, BULK_BUFFER_READ_ONLY);
		CHECK_EQ_INT(t_verify(s.cp[0], 2, BSZ), 0);
		break;
	case 5:
		CHECK_RC(bulk_channel_copy(s.ch, bufs[0], BSZ, NULL, t_cont(&c)), 0);
		CHECK_EQ_INT(bufs[0]->state, BULK_BUFFER_RO_OWNED);
		CHECK_EQ_INT(t_verify(bufs[0], 1, BSZ), 0);
		CHECK_RC(bulk_channel_move_burst(s.ch, bufs + 1, NULL, NULL, 3, t_cont(&c2)), 3);
		wait_cont(&c, "copy consumed");
		wait_cont(&c2, "moves consumed");
		break;
	case 6:
		CHECK_RC(bulk_channel_copy_burst(s.ch, bufs, NULL, NULL, 2, t_cont(&c)), 2);
		CHECK_RC(bulk_channel_move_burst(s.ch, bufs + 2, NULL, NULL, 2, t_cont(&c2)), 2);
		wait_cont(&c, "copies consumed");
		wait_cont(&c2, "moves consumed");
		t_poll_count(s.d, &s.released, 1, "one copy released");
		CHECK_EQ_INT(bufs[0]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(bufs[1]->state, BULK_BUFFER_RO_OWNED);
		break;
	default:
		CHECK(0);
	}
	/* What came back by move or pass: X's data, ours again. */
	for (int i = 0; i < s.nin; i++) {
		CHECK_EQ_INT(s.in[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(t_verify(s.in[i], 2, BSZ), 0);
	}

	/* X is done polling: one more send that it will never consume. */
	CHECK_EQ_INT(t_recv_byte(pp->x2o[0], T_WAIT_S), 'x');
	if (t->o_dir == BULK_DIRECTION_TX)
		rc = bulk_channel_move(s.ch, bufs[SPARE], BSZ, NULL, t_cont(&late));
	else
		rc = bulk_channel_pass(s.ch, bufs[SPARE], BSZ, NULL, t_cont(&late));
	CHECK_RC(rc, 0);
	CHECK_EQ_INT(bufs[SPARE]->state, BULK_BUFFER_INVALID);
	t_send_byte(pp->o2x[1], 'y');

	t_poll_state(s.ch, BULK_STATE_CLOSED, "X's death");
	CHECK_EQ_INT(s.teardowns, 1);
	CHECK_RC(s.td_reason, -BULK_E_PEER_GONE);
	CHECK_EQ_INT(late.fired, 1);
	CHECK_RC(late.err, -BULK_E_PEER_GONE);
	CHECK_RC(bulk_channel_stats_get(s.ch, &st), 0);
	CHECK_EQ_INT(st.reclaimed, t->reclaimed);
	CHECK_EQ_INT(st.bad_desc, 0);
	/* Everything is ours, read-write, and the pages say so too. */
	for (uint32_t i = 0; i < NBUF; i++) {
		struct bulk_buffer *b = bulk_pool_buffer(s.pool, i);

		CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(b->copies_in, 0);
		CHECK_EQ_INT(b->copies_out, 0);
		t_fill(b, 7, BSZ);
		CHECK_EQ_INT(t_verify(b, 7, BSZ), 0);
	}
	CHECK_EQ_INT(bulk_pool_free_count(s.pool), 0);
	CHECK_RC(bulk_channel_move(s.ch, bufs[0], BSZ, NULL, BULK_CONT_NONE),
		 -BULK_E_NOT_CONNECTED);
	CHECK_RC(bulk_channel_free(s.ch), 0);
	CHECK_RC(bulk_endpoint_free(s.ep), 0);
	CHECK_RC(bulk_pool_put_burst(s.pool, bufs, NBUF), NBUF);
	CHECK_RC(bulk_pool_free(s.pool), 0);
	CHECK_RC(bulk_domain_destroy(s.d), 0);
	printf("  O (pid %ld): saw the death, %d buffers reclaimed, pool freed (%lu checks)\n",
	       (long)getpid(), t->reclaimed, check_count);
	fflush(stdout);
	exit(0);
}

/* ------------------------------------------------------------ supervisor */

static void
run_test(const struct test *t)
{
	struct pipes pp;
	char name[96], buf[64];
	pid_t o, x;
	int st;

	printf("test %d: %s (O %s, %s creates)\n", t->no, t->what,
	       t->o_dir == BULK_DIRECTION_TX ? "TX" : "RX", t->o_creates ? "O" : "X");
	t_name(name, sizeof(name), "prot");
	t_pipe(pp.go);
	t_pipe(pp.x2o);
	t_pipe(pp.o2x);
	o = t_fork();
	if (o == 0)
		run_o(t, name, &pp);
	x = t_fork();
	if (x == 0)
		run_x(t, name, &pp);
	for (int i = 0; i < 2; i++) {
		close(pp.go[i]);
		close(pp.x2o[i]);
		close(pp.o2x[i]);
	}
	st = t_reap(x, 2 * T_WAIT_S);
	if (trust == BULK_TRUST_FULL) {
		/* FULL protects nothing: X survives the access and says so. */
		if (!WIFEXITED(st) || WEXITSTATUS(st) != X_NO_FAULT) {
			fprintf(stderr, "test %d (FULL control): X ended with %s, not exit %d\n",
				t->no, t_status_str(st, buf, sizeof(buf)), X_NO_FAULT);
			CHECK(!"the control run went wrong");
		}
		check_count++;
		printf("  FULL control: X made the same access without a fault\n");
	} else {
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSEGV) {
			fprintf(stderr, "test %d: X ended with %s, not SIGSEGV\n", t->no,
				t_status_str(st, buf, sizeof(buf)));
			CHECK(!"the forbidden access did not fault");
		}
		check_count++;
		printf("  X died by SIGSEGV\n");
	}
	t_reap_ok(o, "O");
}

int
main(int argc, char **argv)
{
	int only = argc > 1 && strcmp(argv[1], "all") != 0 ? atoi(argv[1]) : 0;
	int ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[2], "full") == 0)
		trust = BULK_TRUST_FULL;
	printf("test_shm_protect: spec bulk_shm tests 2-6 on a %s channel\n",
	       trust == BULK_TRUST_FULL ? "FULL (control: no fault expected)" : "HALF");
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (only == 0 || tests[i].no == only) {
			run_test(&tests[i]);
			ran++;
		}
	if (ran == 0) {
		fprintf(stderr, "usage: %s 2|3|4|5|6|all [half|full]\n", argv[0]);
		return 2;
	}
	return CHECK_DONE("test_shm_protect");
}
