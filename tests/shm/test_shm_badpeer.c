/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A malformed peer. The creator is a real libbulk channel; the binder is
 * written by hand from shm_wire.h: it connects, sends a hello, maps the
 * ring memfd from the welcome and writes descriptors straight into the
 * binder->creator ring. The creator must not crash, must count every bad
 * descriptor in stats.bad_desc (one each), and must keep serving the valid
 * traffic that follows; an impossible ring index closes the channel.
 *
 * Cases (one process pair each, under a supervisor that reaps both):
 *   rx           creator RX: garbage with no pool; pool assignments that
 *                are malformed (no fd, short memfd, unsealed memfd, slot
 *                mismatch, wrong slot parity, wrong trust, slot reused, pool
 *                id reused) and one valid; then bad data descriptors around valid moves
 *                and a copy; the creator passes and releases them back.
 *   tx           creator TX assigns a pool and moves buffers; the fake
 *                peer answers the assignment, sends bad PASS (and other)
 *                descriptors and one valid PASS, then a release, bad and
 *                good; it acknowledges the creator's teardown.
 *   corrupt      impossible indices: binder->creator head far ahead of the
 *                tail, head behind it, creator->binder tail ahead of head.
 *   ring-shrink  the peer truncates the ring memfd it was given.
 *   stage-shrink-tx / stage-shrink-rx
 *                NONE: the peer truncates the staging memfd (the creator's,
 *                or one it sent itself) that the creator copies through.
 * The last three ask that a hostile peer cannot make the creator fault:
 * a truncated shared file raises SIGBUS on access unless the memfd is
 * sealed against shrinking (F_SEAL_SHRINK), or the creator refuses one
 * that is not.
 *
 * Usage: test_shm_badpeer rx|tx|corrupt|ring-shrink|stage-shrink-tx|stage-shrink-rx
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "bulk_backend.h" /* enum bulk_msg_type: the descriptor types */
#include "shm_test.h"
#include "shm_wire.h"

#define NB 8
#define BSZ 4096
#define FAKE_DOM 0x5eed0001ull

/* ================================================================ fake peer */

struct fake {
	int sock, ring_fd, efd_c, efd_b;
	uint8_t *region;
	size_t region_len;
	struct shm_welcome w;
	struct shm_region_hdr h;
	struct shm_ring_ctl *out, *in; /* ring 1 (we produce), ring 0 (we consume) */
	uint8_t *out_slots, *in_slots;
	uint32_t head, tail;
};

static int
fake_recvmsg(int sock, void *msg, size_t len, int *fds, unsigned maxfds, unsigned *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 4)];
	} u;
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	ssize_t n;

	*nfds = 0;
	CHECK_EQ_INT(poll(&p, 1, (int)(T_WAIT_S * 1000)), 1);
	n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	CHECK(n >= 0);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		CHECK(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS);
		for (unsigned i = 0; i < k; i++) {
			CHECK(*nfds < maxfds);
			memcpy(&fds[(*nfds)++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
		}
	}
	return (int)n;
}

static void
fake_sendmsg(int sock, const void *msg, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	CHECK_EQ_INT(sendmsg(sock, &mh, MSG_NOSIGNAL), (long)len);
}

/* Connect as a binder that adopts everything; check the welcome. */
static void
fake_connect(struct fake *f, const char *name, enum bulk_direction want_dir, uint32_t want_meta,
	     enum bulk_trust want_trust)
{
	struct sockaddr_un sa;
	size_t n = strlen(name);
	struct shm_hello hi = {
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_HELLO,
		.pid = (uint32_t)getpid(),
		.dom = FAKE_DOM,
	};
	int fds[3];
	unsigned nfds;

	memset(f, 0, sizeof(*f));
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	CHECK(name[0] == '@' && n < sizeof(sa.sun_path));
	memcpy(sa.sun_path + 1, name + 1, n - 1);
	f->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	CHECK(f->sock >= 0);
	CHECK_EQ_INT(connect(f->sock, (struct sockaddr *)&sa,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	CHECK_EQ_INT(send(f->sock, &hi, sizeof(hi), MSG_NOSIGNAL), (long)sizeof(hi));
	CHECK_EQ_INT(fake_recvmsg(f->sock, &f->w, sizeof(f->w), fds, 3, &nfds),
		     (long)sizeof(f->w));
	CHECK_EQ_INT(f->w.magic, SHM_WIRE_MAGIC);
	CHECK_EQ_INT(f->w.type, SHM_SOCK_WELCOME);
	CHECK_RC(f->w.status, 0);
	CHECK_EQ_INT(nfds, 3);
	CHECK_EQ_INT(f->w.direction, want_dir);
	CHECK_EQ_INT(f->w.meta_size, want_meta);
	CHECK_EQ_INT(f->w.trust, want_trust);
	f->ring_fd = fds[0];
	f->efd_c = fds[1];
	f->efd_b = fds[2];
	f->region_len = (size_t)f->w.region_size;
	f->region = mmap(NULL, f->region_len, PROT_READ | PROT_WRITE, MAP_SHARED, f->ring_fd, 0);
	CHECK(f->region != MAP_FAILED);
	memcpy(&f->h, f->region, sizeof(f->h));
	CHECK_EQ_INT(f->h.magic, SHM_WIRE_MAGIC);
	CHECK_EQ_INT(f->h.queue_size, f->w.queue_size);
	CHECK_EQ_INT(f->h.slot_size, shm_slot_size(want_meta));
	CHECK(f->h.ring_off[1] + shm_ring_bytes(f->h.queue_size, f->h.slot_size) <= f->region_len);
	f->out = (struct shm_ring_ctl *)(f->region + f->h.ring_off[1]);
	f->in = (struct shm_ring_ctl *)(f->region + f->h.ring_off[0]);
	f->out_slots = (uint8_t *)f->out + sizeof(struct shm_ring_ctl);
	f->in_slots = (uint8_t *)f->in + sizeof(struct shm_ring_ctl);
}

static void
fake_close(struct fake *f)
{
	munmap(f->region, f->region_len);
	close(f->ring_fd);
	close(f->efd_c);
	close(f->efd_b);
	close(f->sock);
}

/* Queue one descriptor (not visible until fake_publish). */
static void
fake_put(struct fake *f, uint8_t type, uint32_t slot, uint32_t index, uint32_t len,
	 int32_t status, const void *extra, size_t elen)
{
	uint8_t *s = f->out_slots + (size_t)(f->head & (f->h.queue_size - 1)) * f->h.slot_size;
	struct shm_desc d = {
		.type = type,
		.slot = (uint16_t)slot,
		.index = index,
		.len = len,
		.status = status,
	};

	CHECK(sizeof(d) + elen <= f->h.slot_size);
	memset(s, 0, f->h.slot_size);
	memcpy(s, &d, sizeof(d));
	if (elen > 0)
		memcpy(s + sizeof(d), extra, elen);
	f->head++;
}

static void
fake_publish(struct fake *f)
{
	static const uint64_t one = 1;

	__atomic_store_n(&f->out->head, f->head, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&f->out->wake_enabled, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&f->out->need_wakeup, 0, __ATOMIC_RELAXED))
		CHECK_EQ_INT(write(f->efd_c, &one, sizeof(one)), 8);
}

/* Until the creator consumed everything we published. */
static void
fake_wait_consumed(struct fake *f)
{
	uint64_t end = t_deadline(T_WAIT_S);

	while (__atomic_load_n(&f->out->tail, __ATOMIC_ACQUIRE) != f->head) {
		if (t_now_ns() > end) {
			fprintf(stderr, "fake: creator consumed %u of %u\n",
				__atomic_load_n(&f->out->tail, __ATOMIC_ACQUIRE), f->head);
			CHECK(!"creator never consumed the ring");
		}
		usleep(100);
	}
}

/* Next descriptor from the creator (its extra bytes to @p extra). */
static void
fake_get(struct fake *f, struct shm_desc *d, void *extra, size_t elen)
{
	uint64_t end = t_deadline(T_WAIT_S);
	const uint8_t *s;

	while (__atomic_load_n(&f->in->head, __ATOMIC_ACQUIRE) == f->tail) {
		if (t_now_ns() > end)
			CHECK(!"no descriptor from the creator");
		usleep(100);
	}
	s = f->in_slots + (size_t)(f->tail & (f->h.queue_size - 1)) * f->h.slot_size;
	memcpy(d, s, sizeof(*d));
	if (elen > 0)
		memcpy(extra, s + sizeof(*d), elen);
	f->tail++;
	__atomic_store_n(&f->in->tail, f->tail, __ATOMIC_RELEASE);
}

/* A release carries no payload: whatever its len field says is not checked. */
#define ANY_LEN UINT32_MAX

static void
fake_expect(struct fake *f, uint8_t type, uint32_t slot, uint32_t index, uint32_t len,
	    int32_t status)
{
	struct shm_desc d;

	fake_get(f, &d, NULL, 0);
	if (d.type != type || d.slot != slot || d.index != index ||
	    (len != ANY_LEN && d.len != len) || d.status != status) {
		fprintf(stderr, "fake: got type %u slot %u index %u len %u status %d (%s), want "
			"type %u slot %u index %u len %u status %d (%s)\n", d.type, d.slot,
			d.index, d.len, d.status, bulk_strerror(d.status), type, slot, index, len,
			status, bulk_strerror(status));
		CHECK(0);
	}
	check_count++;
}

/* Tell the creator a batch is consumed; go on only once it has looked. */
static void
fake_phase(int rd, int wr, uint8_t v)
{
	t_send_byte(wr, v);
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), '.');
}

/* A pool memfd as libbulk sends them: sealed against shrinking, or not. */
static int
fake_memfd(size_t len, int sealed)
{
	int fd = memfd_create("fake-pool", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK_EQ_INT(ftruncate(fd, (off_t)len), 0);
	if (sealed)
		CHECK_EQ_INT(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	return fd;
}

static void
fake_pool_msg(struct fake *f, uint32_t slot, const struct shm_pool_info *info, uint64_t length,
	      int fd)
{
	struct shm_pool_msg pm = {
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_POOL,
		.slot = slot,
		.id_host = info->id_host,
		.id_pid = info->id_pid,
		.id_seq = info->id_seq,
		.length = length,
	};

	fake_sendmsg(f->sock, &pm, sizeof(pm), fd);
}

/* A pool assignment as the fake would send it: pool message, then descriptor. */
static void
fake_assign(struct fake *f, uint32_t desc_slot, const struct shm_pool_info *info,
	    int with_msg, uint32_t msg_slot, uint64_t length, int fd)
{
	if (with_msg)
		fake_pool_msg(f, msg_slot, info, length, fd);
	fake_put(f, BULK_MSG_POOL_ASSIGN, desc_slot, 0, 0, 0, info, sizeof(*info));
	fake_publish(f);
}

/* The creator assigns: its pool message, then its descriptor; answer it. */
static uint8_t *
fake_accept_pool(struct fake *f, uint32_t *slot_out, uint32_t want_trust, int reply, int *fd_out)
{
	struct shm_pool_msg pm;
	struct shm_pool_info info;
	struct shm_desc d;
	unsigned nfds;
	int fd;
	uint8_t *base;

	CHECK_EQ_INT(fake_recvmsg(f->sock, &pm, sizeof(pm), &fd, 1, &nfds), (long)sizeof(pm));
	CHECK_EQ_INT(nfds, 1);
	CHECK_EQ_INT(pm.type, SHM_SOCK_POOL);
	fake_get(f, &d, &info, sizeof(info));
	CHECK_EQ_INT(d.type, BULK_MSG_POOL_ASSIGN);
	CHECK_EQ_INT(d.slot, pm.slot);
	CHECK_EQ_INT(d.slot % 2, 0); /* the creator's slots are even */
	CHECK_EQ_INT(info.count, NB);
	CHECK_EQ_INT(info.buffer_size, BSZ);
	CHECK_EQ_INT(info.trust, want_trust);
	CHECK(info.id_host == pm.id_host && info.id_pid == pm.id_pid && info.id_seq == pm.id_seq);
	CHECK_EQ_INT(pm.length, (uint64_t)NB * BSZ);
	base = mmap(NULL, (size_t)pm.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(base != MAP_FAILED);
	if (reply) {
		fake_put(f, BULK_MSG_POOL_ASSIGN_REPLY, d.slot, 0, 0, 0, NULL, 0);
		fake_publish(f);
	}
	*slot_out = d.slot;
	if (fd_out != NULL)
		*fd_out = fd;
	else
		close(fd);
	return base;
}

static void
fake_fill(uint8_t *base, uint32_t index, uint32_t round, uint32_t len)
{
	for (uint32_t j = 0; j < len; j++)
		base[(size_t)index * BSZ + j] = t_pattern(round, index, j);
}

static int
fake_verify(const uint8_t *base, uint32_t index, uint32_t round, uint32_t len)
{
	for (uint32_t j = 0; j < len; j++)
		if (base[(size_t)index * BSZ + j] != t_pattern(round, index, j))
			return -1;
	return 0;
}

/* ================================================================ creator */

static struct {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *view;
	int binds, assigned, teardowns, td_reason, released;
	struct bulk_buffer *moved[NB], *passed[NB], *copied[NB];
	uint32_t moved_len[NB], passed_len[NB], copied_len[NB];
	uint8_t moved_meta[NB][8], copied_meta[NB][8];
	int nmoved, npassed, ncopied, move_calls, pass_calls;
	int rd, wr;
} cr;

static int
cr_on_bind(struct bulk_channel *ch, const struct bulk_bind_info *info)
{
	(void)ch;
	(void)info;
	cr.binds++;
	return 0;
}

static int
cr_on_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	(void)ch;
	cr.view = pool;
	cr.assigned++;
	return 0;
}

static void
cr_on_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	   const void *meta, unsigned n)
{
	uint32_t ms = bulk_channel_meta_size(ch);

	cr.move_calls++;
	for (unsigned i = 0; i < n; i++) {
		CHECK(cr.nmoved < NB);
		cr.moved[cr.nmoved] = bufs[i];
		cr.moved_len[cr.nmoved] = lens[i];
		if (ms == 8)
			memcpy(cr.moved_meta[cr.nmoved], (const uint8_t *)meta + i * 8, 8);
		cr.nmoved++;
	}
}

static void
cr_on_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	   const void *meta, unsigned n)
{
	(void)ch;
	(void)meta;
	cr.pass_calls++;
	for (unsigned i = 0; i < n; i++) {
		CHECK(cr.npassed < NB);
		cr.passed[cr.npassed] = bufs[i];
		cr.passed_len[cr.npassed++] = lens[i];
	}
}

static void
cr_on_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	   const void *meta, unsigned n)
{
	uint32_t ms = bulk_channel_meta_size(ch);

	for (unsigned i = 0; i < n; i++) {
		CHECK(cr.ncopied < NB);
		cr.copied[cr.ncopied] = bufs[i];
		cr.copied_len[cr.ncopied] = lens[i];
		if (ms == 8)
			memcpy(cr.copied_meta[cr.ncopied], (const uint8_t *)meta + i * 8, 8);
		cr.ncopied++;
	}
}

static void
cr_on_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)ch;
	(void)bufs;
	cr.released += (int)n;
}

static void
cr_on_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	cr.teardowns++;
	cr.td_reason = reason;
}

static const struct bulk_channel_callbacks cr_cbs = {
	.bind_received = cr_on_bind,
	.pool_assigned = cr_on_assigned,
	.move_received = cr_on_move,
	.buffer_received = cr_on_pass,
	.copy_received = cr_on_copy,
	.copy_released = cr_on_released,
	.teardown_received = cr_on_teardown,
};

/* Create a channel on @p name, tell the fake, wait for its hello. */
static void
cr_listen(const char *name, enum bulk_direction dir, enum bulk_trust trust, uint32_t meta,
	  uint32_t queue)
{
	struct bulk_channel_params cp = { .direction = dir, .trust = trust, .meta_size = meta,
					  .queue_size = queue };

	cr.binds = cr.assigned = cr.teardowns = cr.released = 0;
	cr.nmoved = cr.npassed = cr.ncopied = cr.move_calls = cr.pass_calls = 0;
	cr.td_reason = 1;
	cr.view = NULL;
	CHECK_RC(bulk_shm_endpoint_create(cr.d, name, NULL, &cr.ep), 0);
	CHECK_RC(bulk_channel_create(cr.ep, &cr_cbs, &cp, &cr.ch), 0);
	t_send_byte(cr.wr, 'g');
	t_poll_state(cr.ch, BULK_STATE_CONNECTED, "the fake binder");
	CHECK_EQ_INT(cr.binds, 1);
}

/* Poll until the fake says @p want (it does once we consumed its batch), then
 * let it go on: what it sends next is not polled before our checks. */
static void
cr_wait(uint8_t want)
{
	uint64_t end = t_deadline(T_WAIT_S);
	unsigned idle = 0;
	uint8_t v;
	int rc;

	for (;;) {
		int n = bulk_domain_poll(cr.d, 0);

		CHECK(n >= 0);
		rc = t_try_byte(cr.rd, &v);
		if (rc == 1) {
			if (v != want) {
				fprintf(stderr, "creator: fake said '%c', expected '%c'\n", v, want);
				CHECK(0);
			}
			/* The fake sends nothing more until it reads this. */
			t_send_byte(cr.wr, '.');
			return;
		}
		CHECK(rc == 0); /* -1: the fake is gone */
		if (t_now_ns() > end) {
			fprintf(stderr, "creator: no '%c' from the fake\n", want);
			CHECK(0);
		}
		if (n == 0)
			t_idle(idle++);
		else
			idle = 0;
	}
}

static uint64_t
cr_bad(void)
{
	struct bulk_channel_stats st;

	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	return st.bad_desc;
}

static void
cr_expect_bad(uint64_t want, const char *after)
{
	uint64_t got = cr_bad();

	printf("  creator: bad_desc %llu after %s\n", (unsigned long long)got, after);
	if (got != want) {
		fprintf(stderr, "creator: bad_desc %llu after %s, expected %llu\n",
			(unsigned long long)got, after, (unsigned long long)want);
		CHECK(0);
	}
	check_count++;
}

static void
cr_wait_cont(struct t_cont *c, const char *what)
{
	t_poll_count(cr.d, &c->fired, 1, what);
	CHECK_EQ_INT(c->fired, 1);
	CHECK_RC(c->err, 0);
}

static void
cr_close_freed(void)
{
	CHECK_RC(bulk_channel_free(cr.ch), 0);
	CHECK_RC(bulk_endpoint_free(cr.ep), 0);
	cr.ch = NULL;
	cr.ep = NULL;
}

/* Orderly teardown with the fake acknowledging it. */
static void
cr_teardown(void)
{
	struct t_cont c;

	CHECK_RC(bulk_channel_destroy(cr.ch, t_cont(&c)), 0);
	cr_wait_cont(&c, "the fake's teardown ack");
	CHECK_EQ_INT(bulk_channel_state(cr.ch), BULK_STATE_CLOSED);
}

static void
fake_ack_teardown(struct fake *f)
{
	fake_expect(f, BULK_MSG_TEARDOWN, 0, 0, 0, 0);
	fake_put(f, BULK_MSG_TEARDOWN_ACK, 0, 0, 0, 0, NULL, 0);
	fake_publish(f);
}

/* ================================================================ case rx */

#define RX_META 8
static const struct shm_pool_info rx_info = {
	.id_host = 0x1111222233334444ull, .id_pid = 4242, .id_seq = 7,
	.count = NB, .buffer_size = BSZ, .trust = BULK_TRUST_FULL,
};

enum { RX_BAD_A = 12, RX_BAD_B = 5, RX_BAD_C = 8 };

static void
fake_rx(const char *name, int rd, int wr)
{
	struct fake f;
	struct shm_pool_info info;
	uint8_t meta[RX_META];
	uint8_t *base;
	int fd, good;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_TX, RX_META, BULK_TRUST_FULL);

	/* A: no pool on the channel yet; every one of these is refused. */
	fake_put(&f, 0, 0, 0, 0, 0, NULL, 0);                          /* type 0 */
	fake_put(&f, BULK_MSG_TYPE_MAX, 0, 0, 0, 0, NULL, 0);          /* one past the last */
	fake_put(&f, 200, 1, 0, 0, 0, NULL, 0);                        /* unknown */
	fake_put(&f, BULK_MSG_MOVE, 300, 0, 10, 0, NULL, 0);           /* slot out of range */
	fake_put(&f, BULK_MSG_MOVE, 1, 0, 10, 0, NULL, 0);             /* slot unassigned */
	fake_put(&f, BULK_MSG_COPY, 5, 0, 10, 0, NULL, 0);             /* slot unassigned */
	fake_put(&f, BULK_MSG_RELEASE, 0, 0, 0, 0, NULL, 0);           /* slot unassigned */
	fake_put(&f, BULK_MSG_POOL_ASSIGN_REPLY, 0, 0, 0, 0, NULL, 0); /* nothing assigned */
	fake_put(&f, BULK_MSG_POOL_ASSIGN_REPLY, 999, 0, 0, 0, NULL, 0);
	fake_put(&f, BULK_MSG_TEARDOWN_ACK, 0, 0, 0, 0, NULL, 0);      /* no teardown */
	fake_put(&f, BULK_MSG_POOL_REMOVE, 3, 0, 0, 0, NULL, 0);       /* nothing to remove */
	fake_put(&f, BULK_MSG_BIND_REPLY, 0, 0, 0, 0, NULL, 0);        /* not on the ring */
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'A');

	/* B: pool assignments, one at a time, each answered. */
	fake_assign(&f, 1, &rx_info, 0, 0, 0, -1); /* no fd on the socket */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_BAD_DESC);
	fd = fake_memfd(BSZ, 1); /* shorter than the pool */
	fake_assign(&f, 1, &rx_info, 1, 1, (uint64_t)NB * BSZ, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_POOL_GEOMETRY);
	fd = fake_memfd((size_t)NB * BSZ, 0); /* could shrink under the creator's mapping */
	fake_assign(&f, 1, &rx_info, 1, 1, (uint64_t)NB * BSZ, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_POOL_GEOMETRY);
	fd = fake_memfd((size_t)NB * BSZ, 1);
	fake_assign(&f, 1, &rx_info, 1, 3, (uint64_t)NB * BSZ, fd); /* message for slot 3 */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_BAD_DESC);
	fake_assign(&f, 2, &rx_info, 1, 2, (uint64_t)NB * BSZ, fd); /* a creator's slot */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 2, 0, 0, -BULK_E_BAD_DESC);
	info = rx_info;
	info.trust = BULK_TRUST_HALF;
	fake_assign(&f, 1, &info, 1, 1, (uint64_t)NB * BSZ, fd); /* not the channel's trust */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_BAD_DESC);
	fake_assign(&f, 1, &rx_info, 1, 1, (uint64_t)NB * BSZ, fd); /* valid */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, 0);
	fake_assign(&f, 1, &rx_info, 1, 1, (uint64_t)NB * BSZ, fd); /* slot taken */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_BAD_DESC);
	fake_assign(&f, 3, &rx_info, 1, 3, (uint64_t)NB * BSZ, fd); /* pool already on slot 1 */
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 3, 0, 0, -BULK_E_POOL_ASSIGNED);
	base = mmap(NULL, (size_t)NB * BSZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(base != MAP_FAILED);
	close(fd);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'B');

	/* C: data around the valid pool (slot 1; we own every buffer, we are TX). */
	for (uint32_t i = 0; i < 3; i++)
		fake_fill(base, i, 9, BSZ);
	memcpy(meta, "mv0-meta", RX_META);
	fake_put(&f, BULK_MSG_MOVE, 1, NB, 10, 0, meta, RX_META);        /* index = count */
	fake_put(&f, BULK_MSG_MOVE, 1, 0xffffffffu, 10, 0, meta, RX_META);
	fake_put(&f, BULK_MSG_MOVE, 1, 0, BSZ + 1, 0, meta, RX_META);    /* len > buffer */
	fake_put(&f, BULK_MSG_PASS, 1, 0, 10, 0, meta, RX_META);         /* passes go to TX */
	fake_put(&f, BULK_MSG_RELEASE, 1, 0, 0, 0, NULL, 0);             /* releases go to TX */
	fake_put(&f, BULK_MSG_MOVE, 1, 0, 100, 0, meta, RX_META);        /* valid */
	fake_put(&f, BULK_MSG_MOVE, 1, 0, 100, 0, meta, RX_META);        /* it has it now */
	memcpy(meta, "cp1-meta", RX_META);
	fake_put(&f, BULK_MSG_COPY, 1, 1, 50, 0, meta, RX_META);         /* valid */
	fake_put(&f, BULK_MSG_COPY, 1, 1, 50, 0, meta, RX_META);         /* copied already */
	memcpy(meta, "mv2-meta", RX_META);
	fake_put(&f, BULK_MSG_MOVE, 1, 2, BSZ, 0, meta, RX_META);        /* valid */
	fake_put(&f, BULK_MSG_MOVE, 3, 0, 10, 0, meta, RX_META);         /* refused slot */
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'C');

	/* The creator passes 0 and 2 back and releases 1. */
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'c');
	fake_expect(&f, BULK_MSG_PASS, 1, 0, 100, 0);
	fake_expect(&f, BULK_MSG_PASS, 1, 2, BSZ, 0);
	fake_expect(&f, BULK_MSG_RELEASE, 1, 1, ANY_LEN, 0);
	good = fake_verify(base, 0, 10, 100) == 0 && fake_verify(base, 2, 10, BSZ) == 0;
	CHECK(good); /* the creator wrote round 10 into what it passed back */
	fake_phase(rd, wr, 'D');
	fake_ack_teardown(&f);
	munmap(base, (size_t)NB * BSZ);
	fake_close(&f);
}

static void
creator_rx(const char *name)
{
	struct bulk_buffer *back[2];
	struct bulk_pool_id id;
	struct t_cont c1, c2;
	struct bulk_pool *v;

	cr_listen(name, BULK_DIRECTION_RX, BULK_TRUST_FULL, RX_META, 64);
	cr_wait('A');
	cr_expect_bad(RX_BAD_A, "garbage with no pool");
	CHECK_EQ_INT(bulk_channel_state(cr.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(cr.nmoved + cr.npassed + cr.ncopied + cr.released + cr.assigned, 0);

	cr_wait('B');
	cr_expect_bad(RX_BAD_A + RX_BAD_B, "malformed pool assignments");
	CHECK_EQ_INT(cr.assigned, 1);
	CHECK(cr.view != NULL);
	CHECK_EQ_INT(bulk_pool_buffer_count(cr.view), NB);
	CHECK_EQ_INT(bulk_pool_buffer_size(cr.view), BSZ);
	CHECK_EQ_INT(bulk_channel_has_pool(cr.ch, cr.view), 1);
	id = *bulk_pool_get_id(cr.view);
	CHECK(id.host == rx_info.id_host && id.pid == rx_info.id_pid && id.seq == rx_info.id_seq);
	for (uint32_t i = 0; i < NB; i++)
		CHECK_EQ_INT(bulk_pool_buffer(cr.view, i)->state, BULK_BUFFER_INVALID);

	cr_wait('C');
	cr_expect_bad(RX_BAD_A + RX_BAD_B + RX_BAD_C, "bad data descriptors");
	CHECK_EQ_INT(bulk_channel_state(cr.ch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(cr.nmoved, 2);
	CHECK_EQ_INT(cr.moved[0]->index, 0);
	CHECK_EQ_INT(cr.moved_len[0], 100);
	CHECK(memcmp(cr.moved_meta[0], "mv0-meta", 8) == 0);
	CHECK_EQ_INT(cr.moved[1]->index, 2);
	CHECK_EQ_INT(cr.moved_len[1], BSZ);
	CHECK(memcmp(cr.moved_meta[1], "mv2-meta", 8) == 0);
	CHECK_EQ_INT(cr.ncopied, 1);
	CHECK_EQ_INT(cr.copied[0]->index, 1);
	CHECK_EQ_INT(cr.copied_len[0], 50);
	CHECK(memcmp(cr.copied_meta[0], "cp1-meta", 8) == 0);
	CHECK_EQ_INT(cr.npassed + cr.released, 0);
	CHECK_EQ_INT(cr.moved[0]->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(cr.moved[1]->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(cr.copied[0]->state, BULK_BUFFER_READ_ONLY);
	for (uint32_t i = 3; i < NB; i++)
		CHECK_EQ_INT(bulk_pool_buffer(cr.view, i)->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(t_verify(cr.moved[0], 9, 100), 0);
	CHECK_EQ_INT(t_verify(cr.moved[1], 9, BSZ), 0);
	CHECK_EQ_INT(t_verify(cr.copied[0], 9, 50), 0);

	/* Valid traffic still flows, both ways. */
	t_fill(cr.moved[0], 10, 100);
	t_fill(cr.moved[1], 10, BSZ);
	back[0] = cr.moved[0];
	back[1] = cr.moved[1];
	{
		uint32_t lens[2] = { 100, BSZ };
		uint8_t meta[2 * RX_META] = { 0 };

		CHECK_RC(bulk_channel_pass_burst(cr.ch, back, lens, meta, 2, t_cont(&c1)), 2);
	}
	CHECK_RC(bulk_channel_release(cr.ch, cr.copied[0], t_cont(&c2)), 0);
	t_send_byte(cr.wr, 'c');
	cr_wait('D');
	CHECK_EQ_INT(c1.fired, 1);
	CHECK_RC(c1.err, 0);
	CHECK_EQ_INT(c2.fired, 1);
	CHECK_RC(c2.err, 0);
	cr_teardown();
	cr_expect_bad(RX_BAD_A + RX_BAD_B + RX_BAD_C, "the teardown");
	cr_close_freed();
	/* The fake's pool: we hold nothing of it; free the view if it is still here. */
	v = bulk_domain_pool_lookup(cr.d, &id);
	if (v != NULL)
		CHECK_RC(bulk_pool_free(v), 0);
}

/* ================================================================ case tx */

enum { TX_BAD_A = 11, TX_BAD_B = 1 };

static void
fake_tx(const char *name, int rd, int wr)
{
	struct fake f;
	struct shm_desc d;
	uint32_t s;
	uint8_t *base;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_RX, 0, BULK_TRUST_FULL);
	base = fake_accept_pool(&f, &s, BULK_TRUST_FULL, 1, NULL);
	/* Four moves; the data is the creator's, seen through our own mapping. */
	for (uint32_t i = 0; i < 4; i++) {
		fake_get(&f, &d, NULL, 0);
		CHECK_EQ_INT(d.type, BULK_MSG_MOVE);
		CHECK_EQ_INT(d.slot, s);
		CHECK_EQ_INT(d.index, i);
		CHECK_EQ_INT(d.len, 1000 + i);
		CHECK_EQ_INT(fake_verify(base, i, 5, d.len), 0);
	}
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'm');

	/* A: bad passes (and worse) around one valid pass of buffer 1. */
	fake_fill(base, 1, 6, BSZ);
	fake_put(&f, BULK_MSG_PASS, s, NB, 10, 0, NULL, 0);        /* index = count */
	fake_put(&f, BULK_MSG_PASS, s, 4, 10, 0, NULL, 0);         /* never given to us */
	fake_put(&f, BULK_MSG_PASS, s + 2, 0, 10, 0, NULL, 0);     /* unassigned slot */
	fake_put(&f, BULK_MSG_PASS, 300, 0, 10, 0, NULL, 0);       /* slot out of range */
	fake_put(&f, BULK_MSG_PASS, s, 0, BSZ + 1, 0, NULL, 0);    /* len > buffer */
	fake_put(&f, BULK_MSG_MOVE, s, 0, 10, 0, NULL, 0);         /* moves go to RX */
	fake_put(&f, BULK_MSG_RELEASE, s, 1, 0, 0, NULL, 0);       /* never copied */
	fake_put(&f, BULK_MSG_COPY, s, 1, 10, 0, NULL, 0);         /* copies go to RX */
	fake_put(&f, BULK_MSG_POOL_ASSIGN_REPLY, s, 0, 0, 0, NULL, 0); /* not pending */
	fake_put(&f, 77, s, 1, 10, 0, NULL, 0);                    /* unknown type */
	fake_put(&f, BULK_MSG_PASS, s, 1, 123, 0, NULL, 0);        /* valid */
	fake_put(&f, BULK_MSG_PASS, s, 1, 123, 0, NULL, 0);        /* not ours any more */
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'A');

	/* B: the creator copies buffer 1 to us; release it twice, pass the rest. */
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'k');
	fake_expect(&f, BULK_MSG_COPY, s, 1, BSZ, 0);
	CHECK_EQ_INT(fake_verify(base, 1, 11, BSZ), 0);
	fake_put(&f, BULK_MSG_RELEASE, s, 1, 0, 0, NULL, 0);       /* valid */
	fake_put(&f, BULK_MSG_RELEASE, s, 1, 0, 0, NULL, 0);       /* released already */
	fake_put(&f, BULK_MSG_PASS, s, 0, BSZ, 0, NULL, 0);
	fake_put(&f, BULK_MSG_PASS, s, 2, BSZ, 0, NULL, 0);
	fake_put(&f, BULK_MSG_PASS, s, 3, BSZ, 0, NULL, 0);
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'B');
	fake_ack_teardown(&f);
	munmap(base, (size_t)NB * BSZ);
	fake_close(&f);
}

static void
creator_tx(const char *name)
{
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_pool *pool;
	struct bulk_buffer *bufs[NB];
	struct bulk_channel_stats st;
	uint32_t lens[4];
	struct t_cont c;

	cr_listen(name, BULK_DIRECTION_TX, BULK_TRUST_FULL, 0, 64);
	CHECK_RC(bulk_pool_alloc(cr.d, &pp, &pool), 0);
	CHECK_RC(bulk_channel_assign_pool(cr.ch, pool, t_cont(&c)), 0);
	cr_wait_cont(&c, "the fake's assignment reply");
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NB), NB);
	for (uint32_t i = 0; i < 4; i++) {
		t_fill(bufs[i], 5, BSZ);
		lens[i] = 1000 + i;
	}
	CHECK_RC(bulk_channel_move_burst(cr.ch, bufs, lens, NULL, 4, t_cont(&c)), 4);
	cr_wait_cont(&c, "the fake consumed the moves");
	t_send_byte(cr.wr, 'm');

	cr_wait('A');
	cr_expect_bad(TX_BAD_A, "bad passes");
	CHECK_EQ_INT(bulk_channel_state(cr.ch), BULK_STATE_CONNECTED);
	/* Exactly the one valid pass came back. */
	CHECK_EQ_INT(cr.pass_calls, 1);
	CHECK_EQ_INT(cr.npassed, 1);
	CHECK(cr.passed[0] == bufs[1]);
	CHECK_EQ_INT(cr.passed_len[0], 123);
	CHECK_EQ_INT(t_verify(bufs[1], 6, 123), 0);
	CHECK_EQ_INT(cr.released + cr.nmoved + cr.ncopied, 0);
	for (uint32_t i = 0; i < NB; i++)
		CHECK_EQ_INT(bufs[i]->state, (i == 0 || i == 2 || i == 3) ? BULK_BUFFER_INVALID
									  : BULK_BUFFER_READ_WRITE);

	t_fill(bufs[1], 11, BSZ);
	CHECK_RC(bulk_channel_copy(cr.ch, bufs[1], BSZ, NULL, t_cont(&c)), 0);
	CHECK_EQ_INT(bufs[1]->state, BULK_BUFFER_RO_OWNED);
	t_send_byte(cr.wr, 'k');
	cr_wait('B');
	CHECK_EQ_INT(c.fired, 1);
	CHECK_RC(c.err, 0);
	cr_expect_bad(TX_BAD_A + TX_BAD_B, "a double release");
	CHECK_EQ_INT(cr.released, 1);
	CHECK_EQ_INT(cr.npassed, 4);
	for (uint32_t i = 0; i < NB; i++) {
		CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_WRITE);
		CHECK_EQ_INT(bufs[i]->copies_out, 0);
	}
	cr_teardown();
	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	CHECK_EQ_INT(st.passes_rx, 4);
	CHECK_EQ_INT(st.releases_rx, 1);
	CHECK_EQ_INT(st.bad_desc, TX_BAD_A + TX_BAD_B);
	CHECK_EQ_INT(st.reclaimed, 0);
	cr_close_freed();
	CHECK_RC(bulk_pool_put_burst(pool, bufs, NB), NB);
	CHECK_RC(bulk_pool_free(pool), 0);
}

/* ================================================================ case corrupt */

enum corrupt { C_HEAD_AHEAD, C_HEAD_BEHIND, C_TAIL_AHEAD, C_COUNT };
static const char *const corrupt_names[C_COUNT] = {
	"head ahead of tail by more than the queue", "head behind tail", "tail ahead of head",
};
#define C_QUEUE 16

static void
fake_corrupt(const char *base_name, int rd, int wr)
{
	for (int k = 0; k < C_COUNT; k++) {
		char name[128];
		struct fake f;
		struct shm_desc d;
		uint32_t s, in_head;
		uint8_t *base;

		snprintf(name, sizeof(name), "%s-%d", base_name, k);
		CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
		fake_connect(&f, name, BULK_DIRECTION_RX, 0, BULK_TRUST_FULL);
		base = fake_accept_pool(&f, &s, BULK_TRUST_FULL, 1, NULL);
		/* Consume four moves; the creator's next two stay in the ring. */
		for (int i = 0; i < 4; i++)
			fake_expect(&f, BULK_MSG_MOVE, s, (uint32_t)i, BSZ, 0);
		CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'm');
		in_head = __atomic_load_n(&f.in->head, __ATOMIC_ACQUIRE);
		CHECK_EQ_INT(in_head - f.tail, 2);
		/* A valid pass first: it must still arrive. */
		fake_put(&f, BULK_MSG_PASS, s, 3, 77, 0, NULL, 0);
		fake_publish(&f);
		fake_wait_consumed(&f);
		switch (k) {
		case C_HEAD_AHEAD:
			__atomic_store_n(&f.out->head, f.head + f.h.queue_size + 5, __ATOMIC_RELEASE);
			break;
		case C_HEAD_BEHIND:
			__atomic_store_n(&f.out->head, f.head - 1, __ATOMIC_RELEASE);
			break;
		default:
			__atomic_store_n(&f.in->tail, in_head + 100, __ATOMIC_RELEASE);
			break;
		}
		fake_phase(rd, wr, 'X');
		/* Stay until the creator is done, so that it sees no hang-up. */
		CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'd');
		(void)d;
		munmap(base, (size_t)NB * BSZ);
		fake_close(&f);
	}
}

static void
creator_corrupt(const char *base_name)
{
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_pool *pool;
	struct bulk_buffer *bufs[NB];
	struct bulk_channel_stats st;

	CHECK_RC(bulk_pool_alloc(cr.d, &pp, &pool), 0);
	CHECK_RC(bulk_pool_get_burst(pool, bufs, NB), NB);
	for (int k = 0; k < C_COUNT; k++) {
		char name[128];
		struct t_cont c, c1, c2;

		snprintf(name, sizeof(name), "%s-%d", base_name, k);
		printf("  corrupt %d: %s\n", k, corrupt_names[k]);
		cr_listen(name, BULK_DIRECTION_TX, BULK_TRUST_FULL, 0, C_QUEUE);
		CHECK_RC(bulk_channel_assign_pool(cr.ch, pool, t_cont(&c)), 0);
		cr_wait_cont(&c, "the fake's assignment reply");
		CHECK_RC(bulk_channel_move_burst(cr.ch, bufs, NULL, NULL, 4, t_cont(&c1)), 4);
		cr_wait_cont(&c1, "the fake consumed four moves");
		CHECK_RC(bulk_channel_move_burst(cr.ch, bufs + 4, NULL, NULL, 2, t_cont(&c2)), 2);
		t_send_byte(cr.wr, 'm');
		cr_wait('X');
		if (bulk_channel_state(cr.ch) != BULK_STATE_CLOSED)
			t_poll_state(cr.ch, BULK_STATE_CLOSED, "the corrupt index");
		CHECK_EQ_INT(cr.npassed, 1);
		CHECK(cr.passed[0] == bufs[3]);
		CHECK_EQ_INT(cr.passed_len[0], 77);
		CHECK_EQ_INT(cr.teardowns, 1);
		printf("    CLOSED; teardown reason %s; pending continuation: %s\n",
		       bulk_strerror(cr.td_reason), bulk_strerror(c2.err));
		CHECK(cr.td_reason < 0);
		CHECK_RC(cr.td_reason, -BULK_E_BAD_DESC);
		CHECK_EQ_INT(c2.fired, 1);
		CHECK(c2.err < 0);
		CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
		CHECK_EQ_INT(st.bad_desc, 1);
		CHECK_EQ_INT(st.reclaimed, 5); /* 0-2 and 4-5 were with the fake */
		for (uint32_t i = 0; i < NB; i++) {
			CHECK_EQ_INT(bufs[i]->state, BULK_BUFFER_READ_WRITE);
			t_fill(bufs[i], 12, BSZ);
		}
		t_send_byte(cr.wr, 'd');
		cr_close_freed();
	}
	CHECK_RC(bulk_pool_put_burst(pool, bufs, NB), NB);
	CHECK_RC(bulk_pool_free(pool), 0);
}

/* ================================================================ shrinking memfds */

static void
report_shrink(const char *what, int rc, int err)
{
	if (rc == 0)
		printf("  fake: truncated the %s to 0 bytes\n", what);
	else
		printf("  fake: truncating the %s refused: %s (sealed)\n", what, strerror(err));
}

static void
fake_ring_shrink(const char *name, int rd, int wr)
{
	struct fake f;
	int rc;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_RX, 0, BULK_TRUST_FULL);
	rc = ftruncate(f.ring_fd, 0);
	report_shrink("ring memfd", rc, errno);
	fake_phase(rd, wr, 'S');
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'd');
	fake_close(&f);
}

static void
creator_ring_shrink(const char *name)
{
	cr_listen(name, BULK_DIRECTION_TX, BULK_TRUST_FULL, 0, 64);
	cr_wait('S');
	/* Polls read the ring's indices: they must not fault. */
	for (int i = 0; i < 1000; i++)
		CHECK(bulk_domain_poll(cr.d, 0) >= 0);
	printf("  creator: survived, channel %s\n",
	       bulk_channel_state_name(bulk_channel_state(cr.ch)));
	t_send_byte(cr.wr, 'd');
	if (bulk_channel_state(cr.ch) != BULK_STATE_CLOSED)
		t_poll_state(cr.ch, BULK_STATE_CLOSED, "the fake's exit");
	cr_close_freed();
}

/* NONE, the creator assigns: the staging memfd is the creator's, sent to the fake. */
static void
fake_stage_shrink_tx(const char *name, int rd, int wr)
{
	struct fake f;
	uint32_t s;
	uint8_t *base;
	int fd, rc;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_RX, 0, BULK_TRUST_NONE);
	base = fake_accept_pool(&f, &s, BULK_TRUST_NONE, 1, &fd);
	rc = ftruncate(fd, 0);
	report_shrink("creator's staging memfd", rc, errno);
	fake_phase(rd, wr, 'S');
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'd');
	close(fd);
	munmap(base, (size_t)NB * BSZ);
	fake_close(&f);
}

static void
creator_stage_shrink_tx(const char *name)
{
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_pool *pool;
	struct bulk_buffer *b;
	struct t_cont c;
	int rc;

	cr_listen(name, BULK_DIRECTION_TX, BULK_TRUST_NONE, 0, 64);
	CHECK_RC(bulk_pool_alloc(cr.d, &pp, &pool), 0);
	CHECK_RC(bulk_channel_assign_pool(cr.ch, pool, t_cont(&c)), 0);
	cr_wait_cont(&c, "the fake's assignment reply");
	cr_wait('S');
	b = bulk_pool_get(pool);
	CHECK(b != NULL);
	t_fill(b, 13, BSZ);
	/* NONE copies the data into the staging memory here. */
	rc = bulk_channel_move(cr.ch, b, BSZ, NULL, BULK_CONT_NONE);
	printf("  creator: survived the move (%s)\n", bulk_strerror(rc));
	t_send_byte(cr.wr, 'd');
	if (bulk_channel_state(cr.ch) != BULK_STATE_CLOSED)
		t_poll_state(cr.ch, BULK_STATE_CLOSED, "the fake's exit");
	cr_close_freed();
	CHECK_EQ_INT(b->state, BULK_BUFFER_READ_WRITE);
	CHECK_RC(bulk_pool_put(b), 0);
	CHECK_RC(bulk_pool_free(pool), 0);
}

/* NONE, the fake assigns: its own staging memfd, truncated after the creator mapped it. */
static void
fake_stage_shrink_rx(const char *name, int rd, int wr)
{
	struct fake f;
	struct shm_pool_info info = rx_info;
	int fd, rc;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_TX, 0, BULK_TRUST_NONE);
	info.trust = BULK_TRUST_NONE;
	fd = fake_memfd((size_t)NB * BSZ, 0);
	fake_assign(&f, 1, &info, 1, 1, (uint64_t)NB * BSZ, fd);
	{
		struct shm_desc d;

		fake_get(&f, &d, NULL, 0);
		CHECK_EQ_INT(d.type, BULK_MSG_POOL_ASSIGN_REPLY);
		printf("  fake: the creator answered the unsealed staging memfd with %s\n",
		       d.status ? bulk_strerror(d.status) : "0 (accepted)");
	}
	rc = ftruncate(fd, 0);
	report_shrink("staging memfd it sent", rc, errno);
	/* The creator copies this buffer out of the staging memory. */
	fake_put(&f, BULK_MSG_MOVE, 1, 0, BSZ, 0, NULL, 0);
	fake_publish(&f);
	fake_phase(rd, wr, 'S');
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'd');
	close(fd);
	fake_close(&f);
}

static void
creator_stage_shrink_rx(const char *name)
{
	struct bulk_pool_id id = { rx_info.id_host, rx_info.id_pid, rx_info.id_seq };
	struct bulk_pool *v;

	cr_listen(name, BULK_DIRECTION_RX, BULK_TRUST_NONE, 0, 64);
	cr_wait('S');
	for (int i = 0; i < 1000; i++)
		CHECK(bulk_domain_poll(cr.d, 0) >= 0);
	printf("  creator: survived; %d moves delivered, bad_desc %llu\n", cr.nmoved,
	       (unsigned long long)cr_bad());
	/* Whatever arrived goes back before the fake leaves. */
	if (cr.nmoved > 0 && bulk_channel_state(cr.ch) == BULK_STATE_CONNECTED) {
		struct t_cont c;

		CHECK_RC(bulk_channel_pass(cr.ch, cr.moved[0], 0, NULL, t_cont(&c)), 0);
	}
	t_send_byte(cr.wr, 'd');
	if (bulk_channel_state(cr.ch) != BULK_STATE_CLOSED)
		t_poll_state(cr.ch, BULK_STATE_CLOSED, "the fake's exit");
	cr_close_freed();
	v = bulk_domain_pool_lookup(cr.d, &id);
	if (v != NULL)
		CHECK_RC(bulk_pool_free(v), 0);
}

/* ================================================================ case forged */

/*
 * The creator V owns pool P (memfd) and has moved P's buffer 0 to domain C
 * of its own process over a local channel. The fake learns P's id (ids are
 * guessable: host, pid, counter) and assigns "P" with the right geometry but
 * a sealed memfd of its own, then moves buffer 0, which it never held. V
 * must refuse the pool (-BULK_E_POOL_FORGED, counted in pools_refused),
 * count the move in bad_desc, and leave C the sole owner of its data. An
 * honest assignment and move that follow still work. Last, a real holder
 * of P's memory (the fake is handed P's own fd) is believed: the same file.
 */
static struct {
	struct bulk_domain *c;
	struct bulk_endpoint *ep;
	struct bulk_channel *vc, *cv;
	struct bulk_pool *p;
	struct bulk_buffer *held; /* C's view of buffer 0 */
} fg;

static void
fg_on_move_c(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	     const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	CHECK_EQ_INT(n, 1);
	fg.held = bufs[0];
}

static const struct bulk_channel_callbacks fg_c_cbs = { .move_received = fg_on_move_c };

/* What the creator tells the fake: P's id, and where its memfd is. */
struct fg_msg {
	struct bulk_pool_id id;
	pid_t pid;
	int fd;
};
static const struct bulk_channel_callbacks fg_v_cbs = { 0 };

static void
fake_forged(const char *name, int rd, int wr)
{
	struct fake f;
	struct shm_pool_info info = rx_info, own = rx_info;
	struct fg_msg m;
	uint8_t meta[RX_META] = { 0 };
	char path[64];
	int fd, pfd;
	char tag;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_TX, RX_META, BULK_TRUST_FULL);
	/* The victim's pool id (a guess would do as well) and, for the last
	 * step, where to open P's real memfd. */
	CHECK_EQ_INT(read(rd, &m, sizeof(m)), (long)sizeof(m));
	info.id_host = m.id.host;
	info.id_pid = m.id.pid;
	info.id_seq = m.id.seq;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", m.pid, m.fd);
	pfd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(pfd >= 0);

	/* A: "P" on memory of our own, then a move of its buffer 0. */
	fd = fake_memfd((size_t)NB * BSZ, 1);
	fake_assign(&f, 1, &info, 1, 1, (uint64_t)NB * BSZ, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, -BULK_E_POOL_FORGED);
	fake_put(&f, BULK_MSG_MOVE, 1, 0, BSZ, 0, meta, RX_META);
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'A');

	/* B: honest traffic goes on: a pool of our own, a move of its buffer 3. */
	own.id_seq = 99;
	fd = fake_memfd((size_t)NB * BSZ, 1);
	fake_assign(&f, 3, &own, 1, 3, (uint64_t)NB * BSZ, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 3, 0, 0, 0);
	memcpy(meta, "honest-3", RX_META);
	fake_put(&f, BULK_MSG_MOVE, 3, 3, 64, 0, meta, RX_META);
	fake_publish(&f);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'B');

	/* C: with P's own memfd the same id is P: accepted. */
	fake_assign(&f, 5, &info, 1, 5, (uint64_t)NB * BSZ, pfd);
	close(pfd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 5, 0, 0, 0);
	fake_phase(rd, wr, 'C');
	CHECK_EQ_INT(read(rd, &tag, 1), 1);
	CHECK_EQ_INT(tag, 'd');
	fake_expect(&f, BULK_MSG_PASS, 3, 3, 0, 0);
	fake_ack_teardown(&f);
	fake_close(&f);
}

static void
creator_forged(const char *name)
{
	struct bulk_pool_params pp = { .count = NB, .buffer_size = BSZ, .mem = BULK_MEM_MEMFD };
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_TX };
	struct bulk_domain *doms[2];
	struct bulk_channel_stats st;
	struct bulk_pool_id own_id = { .host = rx_info.id_host, .pid = rx_info.id_pid, .seq = 99 };
	struct bulk_buffer *b0;
	struct bulk_pool *own;
	struct t_cont ac, mc, pc;

	/* V owns P and has moved buffer 0 to C. */
	CHECK_RC(bulk_domain_create("C", &fg.c), 0);
	doms[0] = cr.d;
	doms[1] = fg.c;
	CHECK_RC(bulk_pool_alloc(cr.d, &pp, &fg.p), 0);
	t_connect(cr.d, fg.c, &cp, &fg_v_cbs, &fg_c_cbs, &fg.ep, &fg.vc, &fg.cv);
	CHECK_RC(bulk_channel_assign_pool(fg.vc, fg.p, t_cont(&ac)), 0);
	t_drain(doms, 2);
	CHECK(ac.fired == 1 && ac.err == 0);
	b0 = bulk_pool_buffer(fg.p, 0);
	CHECK_EQ_INT(bulk_pool_get_burst(fg.p, &b0, 1), 1);
	CHECK_EQ_INT(b0->index, 0);
	t_fill(b0, 21, BSZ);
	CHECK_RC(bulk_channel_move(fg.vc, b0, BSZ, NULL, t_cont(&mc)), 0);
	t_drain(doms, 2);
	CHECK(mc.fired == 1 && mc.err == 0 && fg.held != NULL);
	CHECK_EQ_INT(fg.held->state, BULK_BUFFER_READ_WRITE);

	cr_listen(name, BULK_DIRECTION_RX, BULK_TRUST_FULL, RX_META, 64);
	{
		struct fg_msg m = { .id = *bulk_pool_get_id(fg.p), .pid = getpid(),
				    .fd = bulk_pool_fd(fg.p) };

		CHECK(m.fd >= 0);
		CHECK_EQ_INT(write(cr.wr, &m, sizeof(m)), (long)sizeof(m));
	}

	cr_wait('A');
	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	CHECK_EQ_INT(st.pools_refused, 1);
	cr_expect_bad(1, "a forged pool and a move of a buffer C holds");
	CHECK_EQ_INT(cr.assigned + cr.nmoved, 0);
	CHECK_EQ_INT(bulk_channel_has_pool(cr.ch, fg.p), 0);
	CHECK_EQ_INT(bulk_channel_state(cr.ch), BULK_STATE_CONNECTED);
	/* C is still the sole owner, and its data is what V moved. */
	CHECK_EQ_INT(b0->state, BULK_BUFFER_INVALID);
	CHECK_EQ_INT(fg.held->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(t_verify(fg.held, 21, BSZ), 0);

	cr_wait('B');
	CHECK_EQ_INT(cr.assigned, 1);
	CHECK(bulk_pool_id_equal(bulk_pool_get_id(cr.view), &own_id));
	CHECK_EQ_INT(cr.nmoved, 1);
	CHECK_EQ_INT(cr.moved[0]->index, 3);
	CHECK(memcmp(cr.moved_meta[0], "honest-3", 8) == 0);
	cr_expect_bad(1, "honest traffic");

	cr_wait('C');
	CHECK_EQ_INT(cr.assigned, 2);
	CHECK(cr.view == fg.p); /* our own view, proven by the same file */
	CHECK_EQ_INT(bulk_channel_has_pool(cr.ch, fg.p), 1);
	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	CHECK_EQ_INT(st.pools_refused, 1);
	CHECK_EQ_INT(fg.held->state, BULK_BUFFER_READ_WRITE);
	CHECK_EQ_INT(t_verify(fg.held, 21, BSZ), 0);

	/* Give everything back and go (pc outlives the pass: it fires later). */
	{
		uint8_t meta[RX_META] = { 0 };

		CHECK_RC(bulk_channel_pass(cr.ch, cr.moved[0], 0, meta, t_cont(&pc)), 0);
	}
	t_send_byte(cr.wr, 'd');
	cr_teardown();
	cr_close_freed();
	CHECK_RC(bulk_channel_pass(fg.cv, fg.held, 0, NULL, t_cont(&pc)), 0);
	t_drain(doms, 2);
	CHECK(pc.fired == 1 && pc.err == 0);
	t_disconnect(cr.d, fg.c, fg.ep, fg.vc, fg.cv);
	CHECK_RC(bulk_pool_put(b0), 0);
	CHECK_RC(bulk_pool_free(fg.p), 0);
	own = bulk_domain_pool_lookup(cr.d, &own_id);
	if (own != NULL)
		CHECK_RC(bulk_pool_free(own), 0);
	CHECK_RC(bulk_domain_destroy(fg.c), 0);
}

/* ================================================================ case oversize */

/*
 * A peer asks for pools of 2^24 one-byte buffers on a sparse 16 MiB memfd,
 * one after another in fresh slots. Before the application's pool_assigned
 * could veto, each would cost about 800 MiB of per-buffer bookkeeping. Every
 * one must be refused (-BULK_E_POOL_LIMIT) with nothing allocated: the
 * creator's resident memory grows by less than 16 MiB in all. A pool within
 * the limits is then accepted, and a channel with a raised limit accepts a
 * large one.
 */
#define OV_COUNT (1u << 24)
#define OV_TRIES 8

static uint64_t
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	uint64_t kib = 0;

	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %" SCNu64 " kB", &kib) == 1)
			break;
	fclose(f);
	CHECK(kib > 0);
	return kib;
}

static void
fake_oversize(const char *name, int rd, int wr)
{
	struct fake f;
	struct shm_pool_info info = rx_info;
	int fd;

	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_TX, RX_META, BULK_TRUST_FULL);
	info.count = OV_COUNT;
	info.buffer_size = 1;
	fd = fake_memfd(OV_COUNT, 1);
	for (uint32_t i = 0; i < OV_TRIES; i++) {
		info.id_seq = 1000 + i;
		fake_assign(&f, 2 * i + 1, &info, 1, 2 * i + 1, OV_COUNT, fd);
		fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 2 * i + 1, 0, 0, -BULK_E_POOL_LIMIT);
	}
	close(fd);
	/* Within the limits: accepted. */
	info = rx_info;
	fd = fake_memfd((size_t)NB * BSZ, 1);
	fake_assign(&f, 1, &info, 1, 1, (uint64_t)NB * BSZ, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, 0);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'A');
	fake_ack_teardown(&f);
	fake_close(&f);

	/* A second channel whose creator allows 2^20 buffers. */
	CHECK_EQ_INT(t_recv_byte(rd, T_WAIT_S), 'g');
	fake_connect(&f, name, BULK_DIRECTION_TX, RX_META, BULK_TRUST_FULL);
	info = rx_info;
	info.count = 1u << 20;
	info.buffer_size = 1;
	info.id_seq = 2000;
	fd = fake_memfd(1u << 20, 1);
	fake_assign(&f, 1, &info, 1, 1, 1u << 20, fd);
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 1, 0, 0, 0);
	info.id_seq = 2001;
	fd = fake_memfd(1u << 20, 1);
	fake_assign(&f, 3, &info, 1, 3, 1u << 20, fd); /* the two together are over */
	close(fd);
	fake_expect(&f, BULK_MSG_POOL_ASSIGN_REPLY, 3, 0, 0, -BULK_E_POOL_LIMIT);
	fake_wait_consumed(&f);
	fake_phase(rd, wr, 'B');
	fake_ack_teardown(&f);
	fake_close(&f);
}

static void
creator_oversize(const char *name)
{
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX, .meta_size = RX_META,
					  .queue_size = 64, .peer_pool_buffers_max = 1u << 20 };
	struct bulk_channel_stats st;
	uint64_t before, after;
	struct bulk_pool_id id;
	struct bulk_pool *v;

	before = rss_kib();
	cr_listen(name, BULK_DIRECTION_RX, BULK_TRUST_FULL, RX_META, 64);
	cr_wait('A');
	after = rss_kib();
	printf("  creator: RSS %" PRIu64 " KiB before, %" PRIu64 " KiB after %u oversized pools\n",
	       before, after, OV_TRIES);
	CHECK(after < before + 16 * 1024);
	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	CHECK_EQ_INT(st.pools_refused, OV_TRIES);
	cr_expect_bad(0, "oversized pools");
	CHECK_EQ_INT(cr.assigned, 1);
	CHECK_EQ_INT(bulk_pool_buffer_count(cr.view), NB);
	id = *bulk_pool_get_id(cr.view);
	cr_teardown();
	cr_close_freed();
	v = bulk_domain_pool_lookup(cr.d, &id);
	if (v != NULL)
		CHECK_RC(bulk_pool_free(v), 0);

	/* Raised limit: one pool of 2^20 buffers fits, a second does not. */
	cr.assigned = 0;
	CHECK_RC(bulk_shm_endpoint_create(cr.d, name, NULL, &cr.ep), 0);
	CHECK_RC(bulk_channel_create(cr.ep, &cr_cbs, &cp, &cr.ch), 0);
	t_send_byte(cr.wr, 'g');
	t_poll_state(cr.ch, BULK_STATE_CONNECTED, "the fake binder");
	cr_wait('B');
	CHECK_EQ_INT(cr.assigned, 1);
	CHECK_EQ_INT(bulk_pool_buffer_count(cr.view), 1u << 20);
	CHECK_RC(bulk_channel_stats_get(cr.ch, &st), 0);
	CHECK_EQ_INT(st.pools_refused, 1);
	id = *bulk_pool_get_id(cr.view);
	cr_teardown();
	cr_close_freed();
	v = bulk_domain_pool_lookup(cr.d, &id);
	if (v != NULL)
		CHECK_RC(bulk_pool_free(v), 0);
}

/* ================================================================ supervisor */

struct bcase {
	const char *name;
	void (*creator)(const char *name);
	void (*fake)(const char *name, int rd, int wr);
};

static const struct bcase cases[] = {
	{ "rx", creator_rx, fake_rx },
	{ "tx", creator_tx, fake_tx },
	{ "corrupt", creator_corrupt, fake_corrupt },
	{ "ring-shrink", creator_ring_shrink, fake_ring_shrink },
	{ "stage-shrink-tx", creator_stage_shrink_tx, fake_stage_shrink_tx },
	{ "stage-shrink-rx", creator_stage_shrink_rx, fake_stage_shrink_rx },
	{ "forged", creator_forged, fake_forged },
	{ "oversize", creator_oversize, fake_oversize },
};

static void
run_case(const struct bcase *bc)
{
	int c2f[2], f2c[2];
	char name[96], buf[64];
	pid_t cpid, fpid;
	int st;

	printf("case %s\n", bc->name);
	t_name(name, sizeof(name), "bad");
	t_pipe(c2f);
	t_pipe(f2c);
	cpid = t_fork();
	if (cpid == 0) {
		close(c2f[0]);
		close(f2c[1]);
		memset(&cr, 0, sizeof(cr));
		cr.rd = f2c[0];
		cr.wr = c2f[1];
		CHECK_RC(bulk_domain_create("creator", &cr.d), 0);
		bc->creator(name);
		CHECK_RC(bulk_domain_destroy(cr.d), 0);
		printf("  creator: %lu checks passed\n", check_count);
		fflush(stdout);
		exit(0);
	}
	fpid = t_fork();
	if (fpid == 0) {
		close(c2f[1]);
		close(f2c[0]);
		bc->fake(name, c2f[0], f2c[1]);
		printf("  fake: %lu checks passed\n", check_count);
		t_child_exit(0);
	}
	close(c2f[0]);
	close(c2f[1]);
	close(f2c[0]);
	close(f2c[1]);
	st = t_reap(cpid, 2 * T_WAIT_S);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "case %s: the creator ended with %s\n", bc->name,
			t_status_str(st, buf, sizeof(buf)));
		CHECK(!"the creator failed");
	}
	check_count++;
	t_reap_ok(fpid, "fake peer");
}

int
main(int argc, char **argv)
{
	int ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("test_shm_badpeer: a hand-written peer sends what libbulk never would\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (argc < 2 || strcmp(argv[1], "all") == 0 || strcmp(argv[1], cases[i].name) == 0) {
			run_case(&cases[i]);
			ran++;
		}
	if (ran == 0) {
		fprintf(stderr, "usage: %s rx|tx|corrupt|ring-shrink|stage-shrink-tx|"
			"stage-shrink-rx|forged|oversize|all\n", argv[0]);
		return 2;
	}
	return CHECK_DONE("test_shm_badpeer");
}
