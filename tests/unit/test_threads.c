/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two domains on two threads over one local channel: the source moves
 * 200,000 buffers (bursts of 16) with a pattern, a length and a sequence
 * number in the meta; the sink verifies each one, in order, and passes it
 * back. For the first quarter of the run the sink sleeps in epoll on
 * bulk_channel_fd() after bulk_channel_arm() (100 ms timeout) instead of
 * spinning. At the end every buffer is home and every continuation fired.
 * Meant to be clean under ThreadSanitizer (suite 'threads').
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "harness.h"

#define NBUF 256
#define BSZ 1024
#define BURST 16
#define META 8

static unsigned long total = 200000;

struct src_state {
	struct bulk_domain *d;
	struct bulk_channel *ch;
	struct bulk_buffer *stack[NBUF];
	unsigned nstack;
	unsigned long sent, back, bursts, conts_ok, conts_bad;
	int bad;
};

struct sink_state {
	struct bulk_domain *d;
	struct bulk_channel *ch;
	struct bulk_buffer *pending[NBUF];
	unsigned npending;
	unsigned long received, expect_seq, wakeups, timeouts, armed, already;
	int bad;
};

static struct src_state S;
static struct sink_state R;
static int stop; /* set when either side gives up, so that the other stops too */
static uint8_t zero_meta[NBUF * META];

static uint32_t
len_of(uint64_t seq)
{
	return (uint32_t)(8 + seq % (BSZ - 8 + 1));
}

static uint8_t
byte_of(uint64_t seq, uint32_t j)
{
	return (uint8_t)(seq * 31 + j * 7);
}

/* Source side: passes come home. */
static void
src_buffer_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		    const uint32_t *lens, const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	for (unsigned i = 0; i < n; i++) {
		if (bufs[i]->state != BULK_BUFFER_READ_WRITE || S.nstack >= NBUF)
			S.bad = 1;
		else
			S.stack[S.nstack++] = bufs[i];
	}
	S.back += n;
}

static void
src_cont(void *arg, int err, struct bulk_channel *ch)
{
	(void)arg;
	(void)ch;
	if (err == 0)
		S.conts_ok++;
	else
		S.conts_bad++;
}

/* Sink side: verify in order, keep for passing back. */
static void
sink_move_received(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		   const uint32_t *lens, const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = bufs[i]->addr;
		uint64_t seq, mseq;

		memcpy(&mseq, (const uint8_t *)meta + (size_t)i * META, META);
		memcpy(&seq, p, sizeof(seq));
		if (seq != R.expect_seq || mseq != seq || lens[i] != len_of(seq) ||
		    bufs[i]->state != BULK_BUFFER_READ_WRITE)
			R.bad = 1;
		for (uint32_t j = 8; j < lens[i] && !R.bad; j++)
			if (p[j] != byte_of(seq, j))
				R.bad = 1;
		if (R.bad)
			fprintf(stderr, "sink: bad buffer seq %llu (expected %lu) len %u\n",
				(unsigned long long)seq, R.expect_seq, lens[i]);
		R.expect_seq++;
		if (R.npending >= NBUF)
			R.bad = 1;
		else
			R.pending[R.npending++] = bufs[i];
	}
	R.received += n;
}

static const struct bulk_channel_callbacks src_cbs = {
	.buffer_received = src_buffer_received,
};

static const struct bulk_channel_callbacks sink_cbs = {
	.move_received = sink_move_received,
};

static void *
src_thread(void *arg)
{
	struct bulk_buffer *bufs[BURST];
	uint32_t lens[BURST];
	uint64_t meta[BURST];
	struct bulk_cont k = { src_cont, NULL };

	(void)arg;
	while (S.back < total && !S.bad && !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		unsigned n = BURST;
		int rc;

		if (n > S.nstack)
			n = S.nstack;
		if (n > total - S.sent)
			n = (unsigned)(total - S.sent);
		if (n > 0) {
			for (unsigned i = 0; i < n; i++) {
				uint64_t seq = S.sent + i;
				struct bulk_buffer *b = S.stack[S.nstack - 1 - i];
				uint8_t *p = b->addr;

				bufs[i] = b;
				lens[i] = len_of(seq);
				meta[i] = seq;
				memcpy(p, &seq, sizeof(seq));
				for (uint32_t j = 8; j < lens[i]; j++)
					p[j] = byte_of(seq, j);
			}
			rc = bulk_channel_move_burst(S.ch, bufs, lens, meta, n, k);
			if (rc < 0) {
				fprintf(stderr, "src: move_burst: %s\n", bulk_strerror(rc));
				S.bad = 1;
				break;
			}
			/* Sent in order 0..rc; the rest stays with us. */
			for (int i = 0; i < rc; i++)
				S.nstack--;
			if (rc > 0)
				S.bursts++;
			S.sent += (unsigned)rc;
		}
		if (bulk_channel_poll(S.ch, 64) < 0)
			S.bad = 1;
		/* Pause now and then while the sink is in its epoll phase, so it sleeps. */
		if (S.sent < total / 4 && S.bursts % 32 == 31 && n > 0)
			usleep(50);
		if (n == 0)
			sched_yield();
	}
	if (S.bad)
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	/* Let the last continuations fire. */
	for (int i = 0; i < 1000 && S.conts_ok + S.conts_bad < S.bursts; i++) {
		bulk_channel_poll(S.ch, 64);
		sched_yield();
	}
	return NULL;
}

static void *
sink_thread(void *arg)
{
	int efd = epoll_create1(EPOLL_CLOEXEC);
	int fd = bulk_channel_fd(R.ch);
	struct epoll_event ev = { .events = EPOLLIN };

	(void)arg;
	if (efd < 0 || fd < 0 || epoll_ctl(efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fprintf(stderr, "sink: epoll set-up failed (fd %d)\n", fd);
		R.bad = 1;
		return NULL;
	}
	while ((R.received < total || R.npending > 0) && !R.bad &&
	       !__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		int rc;

		if (R.npending > 0) {
			rc = bulk_channel_pass_burst(R.ch, R.pending, NULL, zero_meta,
						     R.npending, BULK_CONT_NONE);
			if (rc < 0) {
				fprintf(stderr, "sink: pass_burst: %s\n", bulk_strerror(rc));
				R.bad = 1;
				break;
			}
			memmove(R.pending, R.pending + rc,
				sizeof(R.pending[0]) * (R.npending - (unsigned)rc));
			R.npending -= (unsigned)rc;
		}
		rc = bulk_channel_poll(R.ch, 64);
		if (rc < 0) {
			R.bad = 1;
			break;
		}
		/* First quarter: sleep on the fd when idle instead of spinning. */
		if (rc == 0 && R.npending == 0 && R.received < total / 4) {
			int a = bulk_channel_arm(R.ch);

			if (a < 0) {
				fprintf(stderr, "sink: arm: %s\n", bulk_strerror(a));
				R.bad = 1;
				break;
			}
			if (a == 1) {
				R.already++;
				continue;
			}
			R.armed++;
			rc = epoll_wait(efd, &ev, 1, 100);
			if (rc == 1) {
				uint64_t v;

				if (read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
					R.wakeups++;
			} else if (rc == 0) {
				R.timeouts++;
			}
		}
	}
	if (R.bad)
		__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	close(efd);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX, .meta_size = META,
					  .queue_size = 256 };
	struct bulk_pool_params pp = { .count = NBUF, .buffer_size = BSZ };
	struct bulk_endpoint *ep;
	struct bulk_pool *pool;
	struct bulk_domain *doms[2];
	struct bulk_channel_stats sst, rst;
	pthread_t ts, tr;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		total = strtoul(argv[1], NULL, 0);
	else if (getenv("BULK_THREADS_TOTAL") != NULL)
		total = strtoul(getenv("BULK_THREADS_TOTAL"), NULL, 0);
	printf("test_threads: %lu buffers, burst %d, %d buffers of %d bytes, 2 threads\n",
	       total, BURST, NBUF, BSZ);
	CHECK_RC(bulk_domain_create("src", &S.d), 0);
	CHECK_RC(bulk_domain_create("sink", &R.d), 0);
	doms[0] = S.d;
	doms[1] = R.d;
	t_connect(S.d, R.d, &cp, &src_cbs, &sink_cbs, &ep, &S.ch, &R.ch);
	CHECK_RC(bulk_pool_alloc(S.d, &pp, &pool), 0);
	CHECK_RC(bulk_channel_assign_pool(S.ch, pool, BULK_CONT_NONE), 0);
	t_drain(doms, 2);
	CHECK_EQ_INT(bulk_channel_has_pool(S.ch, pool), 1);
	CHECK_RC(bulk_pool_get_burst(pool, S.stack, NBUF), NBUF);
	S.nstack = NBUF;
	CHECK(bulk_channel_fd(R.ch) >= 0);

	/* From here on each domain is driven by its own thread only. */
	CHECK_EQ_INT(pthread_create(&tr, NULL, sink_thread, NULL), 0);
	CHECK_EQ_INT(pthread_create(&ts, NULL, src_thread, NULL), 0);
	CHECK_EQ_INT(pthread_join(ts, NULL), 0);
	CHECK_EQ_INT(pthread_join(tr, NULL), 0);

	CHECK_EQ_INT(S.bad, 0);
	CHECK_EQ_INT(R.bad, 0);
	CHECK_EQ_INT(S.sent, total);
	CHECK_EQ_INT(R.received, total);
	CHECK_EQ_INT(S.back, total);
	CHECK_EQ_INT(R.expect_seq, total);
	CHECK_EQ_INT(S.conts_bad, 0);
	CHECK_EQ_INT(S.conts_ok, S.bursts);
	printf("  moved and passed back %lu buffers in %lu bursts, all verified in order\n",
	       S.sent, S.bursts);
	printf("  epoll phase: %lu armed, %lu already pending, %lu wakeups, %lu timeouts\n",
	       R.armed, R.already, R.wakeups, R.timeouts);
	CHECK(R.armed > 0);
	CHECK(R.wakeups > 0);
	/* A missed wakeup costs a 100 ms timeout; a few are tolerable, many are a bug. */
	CHECK(R.timeouts <= 5);

	t_drain(doms, 2);
	CHECK_EQ_INT(S.nstack, NBUF);
	for (unsigned i = 0; i < NBUF; i++)
		CHECK_EQ_INT(bulk_pool_buffer(pool, i)->state, BULK_BUFFER_READ_WRITE);
	CHECK_RC(bulk_channel_stats_get(S.ch, &sst), 0);
	CHECK_RC(bulk_channel_stats_get(R.ch, &rst), 0);
	CHECK_EQ_INT(sst.moves_tx, total);
	CHECK_EQ_INT(rst.moves_rx, total);
	CHECK_EQ_INT(rst.passes_tx, total);
	CHECK_EQ_INT(sst.passes_rx, total);
	CHECK_EQ_INT(sst.bad_desc + rst.bad_desc, 0);
	printf("  stats: %llu queue-full sends, %llu wakeup syscalls by the source\n",
	       (unsigned long long)sst.queue_full, (unsigned long long)sst.wakeups);
	CHECK_RC(bulk_pool_put_burst(pool, S.stack, NBUF), NBUF);
	t_disconnect(S.d, R.d, ep, S.ch, R.ch);
	CHECK_RC(bulk_pool_free(pool), 0);
	CHECK_RC(bulk_domain_destroy(R.d), 0);
	CHECK_RC(bulk_domain_destroy(S.d), 0);
	return CHECK_DONE("test_threads");
}
