/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared-memory backend: a channel between two processes is a Unix socket
 * (set-up, file descriptors, hang-up) plus one shared memfd holding two
 * single-producer / single-consumer descriptor rings, one per direction.
 * Everything a side sends, data, control and the replies the library
 * makes by itself, goes through its one outbound ring, so the peer sees it
 * in FIFO order (the lesson of spec Part II 4.2.4). The ring protocol and
 * the layout are in shm_wire.h.
 *
 * The peer is another process and may be buggy or hostile: indices read
 * from shared memory are checked against the ring size, descriptors are
 * copied out of the ring before they are validated, and the core checks
 * every descriptor against this process's view before anything changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm_internal.h"

/* How often an idle poll asks the kernel whether the peer is still there. */
#define SHM_HUP_CHECK_NS 1000000ull

static const uint8_t shm_zero_meta[BULK_META_MAX];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void
ep_watch(struct shm_chan *sc, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = fd };

	if (sc->epfd >= 0 && fd >= 0)
		epoll_ctl(sc->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* ------------------------------------------------------------ rings */

static inline uint8_t *
ring_slot(const struct shm_ring *r, uint32_t idx)
{
	return r->slots + (size_t)(idx & r->mask) * r->slot_size;
}

static void
ring_attach(struct shm_ring *r, uint8_t *region, const struct shm_region_hdr *h, int which)
{
	r->ctl = (struct shm_ring_ctl *)(region + h->ring_off[which]);
	r->slots = (uint8_t *)r->ctl + sizeof(struct shm_ring_ctl);
	r->size = h->queue_size;
	r->mask = h->queue_size - 1;
	r->slot_size = h->slot_size;
	r->meta_size = h->meta_size;
	r->idx = 0;
	r->cache = 0;
}

static void
ring_wake(struct shm_chan *sc, struct shm_ring *r)
{
	static const uint64_t one = 1;

	/* Only once the consumer has asked for wakeups at all, so that
	 * busy polling pays no fence. */
	if (__atomic_load_n(&r->ctl->wake_enabled, __ATOMIC_RELAXED) == 0)
		return;
	/* Pairs with the fence in shm_arm(): we see need_wakeup or the
	 * consumer sees our head. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->ctl->need_wakeup, 0, __ATOMIC_RELAXED)) {
		if (write(sc->efd_peer, &one, sizeof(one)) == (ssize_t)sizeof(one))
			sc->ch.stats.wakeups++;
	}
}

/* The peer wrote an index that cannot be: it is broken or hostile. */
static void
shm_fatal(struct shm_chan *sc)
{
	sc->ch.stats.bad_desc++;
	/* Closing our end tells the peer, and nothing more is read. */
	close_fd(&sc->sock);
	bulk_core_peer_gone(&sc->ch, -BULK_E_BAD_DESC);
}

/* Free slots for the producer; -1 if the consumer's tail is impossible. */
static inline int64_t
ring_free(struct shm_ring *r, uint32_t want)
{
	uint32_t used = r->idx - r->cache;

	if (r->size - used < want) {
		/* (B) pairs with the consumer's store-release of tail. */
		r->cache = __atomic_load_n(&r->ctl->tail, __ATOMIC_ACQUIRE);
		used = r->idx - r->cache;
		if (bulk_unlikely(used > r->size))
			return -1;
	}
	return r->size - used;
}

static inline void
ring_publish(struct shm_ring *r)
{
	/* (A) pairs with the consumer's load-acquire of head. */
	__atomic_store_n(&r->ctl->head, r->idx, __ATOMIC_RELEASE);
}

static void
pending_to_slot(const struct shm_ring *r, uint8_t *s, const struct shm_pending *p)
{
	memcpy(s, &p->d, sizeof(p->d));
	if (p->d.type == BULK_MSG_POOL_ASSIGN)
		memcpy(s + sizeof(p->d), &p->info, sizeof(p->info));
	else if (r->meta_size)
		memset(s + sizeof(p->d), 0, r->meta_size);
}

static bool
backlog_flush(struct shm_chan *sc)
{
	struct shm_ring *r = &sc->tx;
	int64_t free;
	uint32_t k;

	if (sc->nbacklog == 0)
		return true;
	free = ring_free(r, sc->nbacklog);
	if (free < 0) {
		shm_fatal(sc);
		return false;
	}
	k = (uint32_t)free < sc->nbacklog ? (uint32_t)free : sc->nbacklog;
	if (k == 0)
		return false;
	for (uint32_t i = 0; i < k; i++)
		pending_to_slot(r, ring_slot(r, r->idx + i), &sc->backlog[i]);
	r->idx += k;
	ring_publish(r);
	memmove(sc->backlog, sc->backlog + k, sizeof(*sc->backlog) * (sc->nbacklog - k));
	sc->nbacklog -= k;
	ring_wake(sc, r);
	return sc->nbacklog == 0;
}

static int
tx_pending(struct shm_chan *sc, const struct shm_pending *p)
{
	struct shm_ring *r = &sc->tx;

	if (sc->nbacklog == 0) {
		int64_t free = ring_free(r, 1);

		if (free < 0) {
			shm_fatal(sc);
			return -BULK_E_PEER_GONE;
		}
		if (free >= 1) {
			pending_to_slot(r, ring_slot(r, r->idx), p);
			r->idx++;
			ring_publish(r);
			ring_wake(sc, r);
			return 0;
		}
	}
	/* Ring full: keep it, never drop a message the library owes the peer. */
	if (sc->nbacklog == sc->backlog_cap) {
		uint32_t ncap = sc->backlog_cap ? sc->backlog_cap * 2 : 16;
		struct shm_pending *nb = bulk_realloc(sc->backlog, sizeof(*nb) * ncap);

		if (nb == NULL)
			return -ENOMEM;
		sc->backlog = nb;
		sc->backlog_cap = ncap;
	}
	sc->backlog[sc->nbacklog++] = *p;
	return 0;
}

/* ------------------------------------------------------------- send */

/* The state a buffer will have once this send is done, for HALF. */
static inline int
tx_prot_after(enum bulk_msg_type type, const struct bulk_buffer *b)
{
	struct bulk_buffer after = *b;

	switch (type) {
	case BULK_MSG_MOVE:
	case BULK_MSG_PASS:
		return shm_prot_of(BULK_BUFFER_INVALID);
	case BULK_MSG_COPY:
		return shm_prot_of(BULK_BUFFER_READ_ONLY);
	default:
		after.copies_in--;
		bulk_buffer_restate(&after, bulk_buffer_is_owner(b));
		return shm_prot_of(after.state);
	}
}

/* Trust work before the descriptors are visible to the peer. */
static void
tx_trust(struct shm_chan *sc, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	 const uint32_t *lens, unsigned k)
{
	struct bulk_channel *ch = &sc->ch;

	if (ch->trust == BULK_TRUST_HALF) {
		int prot[64];

		/* Before publishing: the sender loses its rights first. */
		for (unsigned i = 0; i < k; i += 64) {
			unsigned m = k - i < 64 ? k - i : 64;

			for (unsigned j = 0; j < m; j++)
				prot[j] = tx_prot_after(type, bufs[i + j]);
			shm_prot_apply(bufs + i, prot, m);
		}
	} else if (ch->trust == BULK_TRUST_NONE && type != BULK_MSG_RELEASE) {
		uint64_t bytes = 0, copies = 0;

		for (unsigned i = 0; i < k; i++) {
			const struct bulk_buffer *b = bufs[i];
			uint32_t len = lens ? lens[i] : b->pool->buffer_size;
			const struct shm_stage *st = &sc->stage[b->slot];

			/* Staging is mapped before an assignment is accepted, so
			 * it is there; the check keeps a bug from being a crash. */
			if (bulk_unlikely(st->base == NULL))
				continue;
			memcpy(st->base + (size_t)b->index * b->pool->buffer_size, b->addr, len);
			bytes += len;
			copies++;
		}
		ch->stats.trust_copies += copies;
		ch->stats.trust_copy_bytes += bytes;
	}
}

static unsigned
shm_tx_burst(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	     const uint32_t *lens, const void *meta, unsigned n)
{
	struct shm_chan *sc = shm_chan(ch);
	struct shm_ring *r = &sc->tx;
	uint32_t ms = r->meta_size;
	int64_t free;
	uint32_t k;

	if (bulk_unlikely(r->ctl == NULL))
		return 0;
	/* Control messages waiting in the backlog go first: FIFO. */
	if (bulk_unlikely(sc->nbacklog > 0) && !backlog_flush(sc))
		return 0;
	free = ring_free(r, n);
	if (bulk_unlikely(free < 0)) {
		shm_fatal(sc);
		return 0;
	}
	k = (uint32_t)free < n ? (uint32_t)free : n;
	if (bulk_unlikely(k < n))
		sc->tx_short = true;
	if (bulk_unlikely(k == 0))
		return 0;
	if (bulk_unlikely(ch->trust != BULK_TRUST_FULL))
		tx_trust(sc, type, bufs, lens, k);
	for (uint32_t i = 0; i < k; i++) {
		uint8_t *s = ring_slot(r, r->idx + i);
		struct shm_desc *d = (struct shm_desc *)s;
		const struct bulk_buffer *b = bufs[i];

		d->type = (uint8_t)type;
		d->rsvd = 0;
		d->slot = b->slot;
		d->index = b->index;
		d->len = lens ? lens[i] : b->pool->buffer_size;
		d->status = 0;
		if (ms)
			memcpy(s + sizeof(*d),
			       meta ? (const uint8_t *)meta + (size_t)i * ms : shm_zero_meta, ms);
	}
	r->idx += k;
	ring_publish(r);
	ring_wake(sc, r);
	return k;
}

/* A send on the socket failed: a peer that is gone says so in our terms. */
static int
sock_err(int rc)
{
	if (rc == -EPIPE || rc == -ECONNRESET || rc == -ENOTCONN)
		return -BULK_E_PEER_GONE;
	return rc;
}

static int
shm_tx_pool_assign(struct shm_chan *sc, struct shm_pending *p, struct bulk_pool *pool)
{
	struct bulk_channel *ch = &sc->ch;
	uint64_t len = shm_pool_bytes(pool->count, pool->buffer_size);
	struct shm_pool_msg pm = {
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_POOL,
		.slot = p->d.slot,
		.id_host = pool->id.host,
		.id_pid = pool->id.pid,
		.id_seq = pool->id.seq,
		.length = len,
	};
	int fd, rc;

	p->info = (struct shm_pool_info){
		.id_host = pool->id.host,
		.id_pid = pool->id.pid,
		.id_seq = pool->id.seq,
		.count = pool->count,
		.buffer_size = pool->buffer_size,
		.trust = (uint32_t)ch->trust,
	};
	if (sc->sock < 0)
		return -BULK_E_PEER_GONE;
	if (ch->trust == BULK_TRUST_NONE) {
		fd = shm_stage_create(sc, p->d.slot, len);
		if (fd < 0)
			return fd;
		rc = shm_sock_send(sc->sock, &pm, sizeof(pm), &fd, 1);
		close(fd);
		if (rc < 0)
			shm_stage_drop(sc, p->d.slot);
		return sock_err(rc);
	}
	/* FULL and HALF share the pool's own memory: it must be a memfd
	 * (anonymous and hugepage pools are private mappings). */
	if (pool->fd < 0)
		return -BULK_E_POOL_NOT_SHAREABLE;
	if ((uintptr_t)pool->base % SHM_PAGE != 0)
		return -BULK_E_POOL_GEOMETRY;
	rc = shm_sock_send(sc->sock, &pm, sizeof(pm), &pool->fd, 1);
	if (rc < 0)
		return sock_err(rc);
	if (ch->trust == BULK_TRUST_HALF)
		pool->protect = shm_prot_one;
	return 0;
}

static int
shm_tx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_msg *m)
{
	struct shm_chan *sc = shm_chan(ch);
	struct shm_pending p = {
		.d = {
			.type = (uint8_t)m->type,
			.slot = m->slot,
			.index = m->index,
			.status = m->status,
		},
	};
	int rc;

	if (sc->tx.ctl == NULL)
		return -BULK_E_PEER_GONE;
	if (m->type == BULK_MSG_POOL_ASSIGN) {
		/* The fd goes first, on the socket; the descriptor then follows
		 * in the ring, so the peer finds the fd when it gets there. */
		rc = shm_tx_pool_assign(sc, &p, m->pool);
		if (rc < 0)
			return rc;
	}
	return tx_pending(sc, &p);
}

/* ---------------------------------------------------------- receive */

/* We freed slots: wake a producer that sleeps on a full ring. */
static inline void
space_wake(struct shm_chan *sc, struct shm_ring *r)
{
	static const uint64_t one = 1;

	if (__atomic_load_n(&r->ctl->space_enabled, __ATOMIC_RELAXED) == 0)
		return;
	/* Pairs with the fence in shm_arm(): we see space_wanted or the
	 * producer sees our tail. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_exchange_n(&r->ctl->space_wanted, 0, __ATOMIC_RELAXED) &&
	    write(sc->efd_peer, &one, sizeof(one)) == (ssize_t)sizeof(one))
		sc->ch.stats.wakeups++;
}

/* NONE data needs the staging memory of its slot; anything else is refused. */
static inline bool
rx_staged(const struct shm_chan *sc, const struct shm_desc *d)
{
	return d->slot < BULK_CHANNEL_MAX_POOLS && sc->stage[d->slot].base != NULL;
}

/*
 * Validate and deliver one run of same-type data descriptors starting at
 * @p i. Always inlined with a constant @p type so the core's per-type
 * checks fold into one loop per operation.
 */
static BULK_ALWAYS_INLINE uint32_t
rx_run(struct shm_chan *sc, uint32_t tail, uint32_t i, uint32_t n, enum bulk_msg_type type)
{
	struct bulk_channel *ch = &sc->ch;
	const struct shm_ring *r = &sc->rx;
	uint32_t ms = r->meta_size;
	unsigned run = 0;

	for (; i < n; i++) {
		const struct shm_desc *d = &sc->rxd[i];
		struct bulk_buffer *b;

		if (d->type != type)
			break;
		if (bulk_unlikely(ch->trust == BULK_TRUST_NONE) && type != BULK_MSG_RELEASE &&
		    !rx_staged(sc, d)) {
			/* NONE data without staging memory cannot be received. */
			ch->stats.bad_desc++;
			continue;
		}
		b = bulk_core_rx_one(ch, type, d->slot, d->index, d->len);
		if (bulk_unlikely(b == NULL))
			continue;
		/* Where its data waits, for NONE below. */
		b->slot = d->slot;
		ch->rx_bufs[run] = b;
		ch->rx_lens[run] = d->len;
		if (ms)
			memcpy(ch->rx_meta + (size_t)run * ms, ring_slot(r, tail + i) + sizeof(*d),
			       ms);
		run++;
	}
	if (run == 0)
		return i;
	if (bulk_unlikely(ch->trust == BULK_TRUST_HALF)) {
		int prot[256];

		for (unsigned j = 0; j < run; j++)
			prot[j] = shm_prot_of(ch->rx_bufs[j]->state);
		shm_prot_apply(ch->rx_bufs, prot, run);
	} else if (bulk_unlikely(ch->trust == BULK_TRUST_NONE) && type != BULK_MSG_RELEASE) {
		uint64_t bytes = 0;

		for (unsigned j = 0; j < run; j++) {
			struct bulk_buffer *b = ch->rx_bufs[j];
			const struct shm_stage *st = &sc->stage[b->slot];

			memcpy(b->addr, st->base + (size_t)b->index * b->pool->buffer_size,
			       ch->rx_lens[j]);
			bytes += ch->rx_lens[j];
		}
		ch->stats.trust_copies += run;
		ch->stats.trust_copy_bytes += bytes;
	}
	bulk_core_rx_deliver(ch, type, ch->rx_bufs, ch->rx_lens, ch->rx_meta, run);
	return i;
}

/*
 * The transport's part of a pool assignment: the memfd that came ahead of
 * the descriptor on the socket, and (NONE) the staging memory mapped from
 * it. What the peer announced is judged by the core.
 */
static void
rx_pool_assign(struct shm_chan *sc, const struct shm_desc *d, const uint8_t *slot)
{
	struct bulk_channel *ch = &sc->ch;
	struct shm_pool_info info;
	struct shm_pool_msg pm;
	struct shm_map_req req = { .fd = -1 };
	struct bulk_pool_mapper mapper = { .map = shm_pool_map, .same = shm_pool_same, .arg = &req };
	struct bulk_ctrl_rx m = { .type = BULK_MSG_POOL_ASSIGN, .slot = d->slot, .mapper = &mapper };
	bool staged = false;
	unsigned nfds = 0;
	ssize_t n;

	memcpy(&info, slot + sizeof(*d), sizeof(info));
	m.pool = (struct bulk_pool_desc){
		.id = { .host = info.id_host, .pid = info.id_pid, .seq = info.id_seq },
		.count = info.count,
		.buffer_size = info.buffer_size,
		.trust = (enum bulk_trust)info.trust,
	};
	n = sc->sock >= 0 ? shm_sock_recv(sc->sock, &pm, sizeof(pm), &req.fd, 1, &nfds) : -EBADF;
	if (n != (ssize_t)sizeof(pm) || nfds != 1 || pm.magic != SHM_WIRE_MAGIC ||
	    pm.version != SHM_WIRE_VERSION || pm.type != SHM_SOCK_POOL || pm.slot != d->slot ||
	    pm.id_host != info.id_host || pm.id_pid != info.id_pid || pm.id_seq != info.id_seq ||
	    pm.length != shm_pool_bytes(info.count, info.buffer_size)) {
		/* No fd for it, or not the one announced: the pool cannot be
		 * mapped. Refuse it, and keep the channel. */
		m.refuse = -BULK_E_BAD_DESC;
	} else {
		req.length = pm.length;
		req.trust = ch->trust;
	}
	/* NONE: the staging memory is the data path; map it (sealed, long
	 * enough) before accepting, or refuse the pool. A slot the core will
	 * refuse anyway is left alone. */
	if (m.refuse == 0 && ch->trust == BULK_TRUST_NONE && d->slot < BULK_CHANNEL_MAX_POOLS &&
	    ch->slots[d->slot].state == BULK_SLOT_FREE) {
		m.refuse = shm_stage_map(sc, d->slot, req.fd, pm.length);
		staged = m.refuse == 0;
	}
	bulk_core_rx_ctrl(ch, &m);
	/* Refused or vetoed: nothing of it stays mapped. */
	if (staged && ch->slots[d->slot].state == BULK_SLOT_FREE)
		shm_stage_drop(sc, d->slot);
	if (!req.used && req.fd >= 0)
		close(req.fd);
}

static void
rx_ctrl(struct shm_chan *sc, const struct shm_desc *d, const uint8_t *slot)
{
	if (d->type == BULK_MSG_POOL_ASSIGN) {
		rx_pool_assign(sc, d, slot);
		return;
	}
	bulk_core_rx_ctrl(&sc->ch, &(struct bulk_ctrl_rx){
		.type = d->type, .slot = d->slot, .status = d->status });
}

static int
rx_ring(struct shm_chan *sc, unsigned budget)
{
	struct bulk_channel *ch = &sc->ch;
	struct shm_ring *r = &sc->rx;
	uint32_t tail = r->idx, n;

	n = r->cache - tail;
	if (n == 0) {
		/* (A) pairs with the producer's store-release of head. */
		r->cache = __atomic_load_n(&r->ctl->head, __ATOMIC_ACQUIRE);
		n = r->cache - tail;
		if (bulk_unlikely(n > r->size)) {
			shm_fatal(sc);
			return 0;
		}
	}
	if (n > budget)
		n = budget;
	if (n > ch->rx_cap)
		n = ch->rx_cap;
	if (n > 256)
		n = 256;
	/* Copy out first: the peer may rewrite a slot while we check it. */
	for (uint32_t i = 0; i < n; i++) {
		memcpy(&sc->rxd[i], ring_slot(r, tail + i), sizeof(sc->rxd[i]));
	}
	for (uint32_t i = 0; i < n && ch->state != BULK_STATE_CLOSED;) {
		switch (sc->rxd[i].type) {
		case BULK_MSG_MOVE:
			i = rx_run(sc, tail, i, n, BULK_MSG_MOVE);
			break;
		case BULK_MSG_PASS:
			i = rx_run(sc, tail, i, n, BULK_MSG_PASS);
			break;
		case BULK_MSG_COPY:
			i = rx_run(sc, tail, i, n, BULK_MSG_COPY);
			break;
		case BULK_MSG_RELEASE:
			i = rx_run(sc, tail, i, n, BULK_MSG_RELEASE);
			break;
		default:
			/* Control: what came before it was delivered already. */
			rx_ctrl(sc, &sc->rxd[i], ring_slot(r, tail + i));
			i++;
			break;
		}
	}
	if (n > 0 && r->ctl != NULL) {
		r->idx = tail + n;
		ch->stats.rx_msgs += n;
		/* (B) pairs with the producer's load-acquire of tail. */
		__atomic_store_n(&r->ctl->tail, r->idx, __ATOMIC_RELEASE);
		space_wake(sc, r);
	}
	return (int)n;
}

static void
tx_completions(struct shm_chan *sc)
{
	struct bulk_channel *ch = &sc->ch;
	struct shm_ring *r = &sc->tx;
	uint32_t t, inring;

	if (ch->cont_head == ch->cont_tail || r->ctl == NULL)
		return;
	/* Consumed = sent - still in the ring - still in the backlog. */
	t = __atomic_load_n(&r->ctl->tail, __ATOMIC_ACQUIRE);
	inring = r->idx - t;
	if (bulk_unlikely(inring > r->size)) {
		shm_fatal(sc);
		return;
	}
	bulk_core_tx_complete(ch, ch->stats.tx_msgs - inring - sc->nbacklog);
}

/* ------------------------------------------------------------ set-up */

static void
creator_refuse(int fd, int status)
{
	struct shm_welcome w = {
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_WELCOME,
		.status = status,
	};

	shm_sock_send(fd, &w, sizeof(w), NULL, 0);
}

static bool
uid_allowed(const struct shm_chan *sc, uid_t uid)
{
	const struct bulk_shm_params *p = &sc->sep->params;

	return uid == geteuid() || p->allow_any_uid || (p->allow_uid_set && uid == p->allow_uid);
}

/* Creator: lay out the rings, then hand them to the binder. */
static int
creator_connect(struct shm_chan *sc, const struct bulk_side *binder)
{
	struct bulk_channel *ch = &sc->ch;
	uint32_t slot_size = shm_slot_size(ch->meta_size);
	uint64_t ring_bytes = shm_ring_bytes(ch->queue_size, slot_size);
	uint64_t off0 = SHM_PAGE;
	uint64_t off1 = (off0 + ring_bytes + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
	uint64_t total = (off1 + ring_bytes + SHM_PAGE - 1) & ~(uint64_t)(SHM_PAGE - 1);
	struct shm_region_hdr *h;
	struct shm_welcome w;
	int mfd, efd_b, fds[3], rc;
	void *base;

	mfd = memfd_create("bulk-shm-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	/* Sealed: the binder must not be able to shrink it under us. */
	if (ftruncate(mfd, (off_t)total) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		close(mfd);
		return rc;
	}
	base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (base == MAP_FAILED) {
		rc = -errno;
		close(mfd);
		return rc;
	}
	efd_b = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd_b < 0) {
		rc = -errno;
		munmap(base, total);
		close(mfd);
		return rc;
	}
	/* A fresh memfd reads as zeros: indices and flags start at 0. The
	 * header is complete before the fd leaves this process. */
	h = base;
	*h = (struct shm_region_hdr){
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.queue_size = ch->queue_size,
		.slot_size = slot_size,
		.meta_size = ch->meta_size,
		.ring_off = { off0, off1 },
		.region_size = total,
	};
	sc->region = base;
	sc->region_len = total;
	ring_attach(&sc->tx, base, h, 0);
	ring_attach(&sc->rx, base, h, 1);
	if (sc->want_wake)
		__atomic_store_n(&sc->rx.ctl->wake_enabled, 1, __ATOMIC_RELAXED);
	sc->efd_peer = efd_b;
	w = (struct shm_welcome){
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_WELCOME,
		.status = 0,
		.direction = (uint32_t)binder->direction,
		.role = (uint32_t)binder->role,
		.trust = (uint32_t)binder->trust,
		.meta_size = binder->meta_size,
		.queue_size = ch->queue_size,
		.region_size = total,
	};
	fds[0] = mfd;
	fds[1] = sc->efd_mine;
	fds[2] = efd_b;
	rc = shm_sock_send(sc->pend, &w, sizeof(w), fds, 3);
	close(mfd);
	return rc;
}

/* Creator, unbound: take a binder's connection and answer its hello. */
static int
creator_poll(struct shm_chan *sc)
{
	struct bulk_channel *ch = &sc->ch;
	struct bulk_side binder;
	struct shm_hello hi;
	struct bulk_bind_params bp;
	unsigned nfds;
	int fds[1];
	ssize_t n;
	uid_t uid;
	int rc;

	if (sc->pend < 0) {
		sc->pend = accept4(sc->lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (sc->pend < 0)
			return 0;
		if (shm_sock_peer_uid(sc->pend, &uid) < 0 || !uid_allowed(sc, uid)) {
			creator_refuse(sc->pend, -EPERM);
			close_fd(&sc->pend);
			return 1;
		}
		ep_watch(sc, sc->pend);
	}
	n = shm_sock_recv(sc->pend, &hi, sizeof(hi), fds, 1, &nfds);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0) {
		/* The binder left before saying anything. */
		close_fd(&sc->pend);
		return 1;
	}
	if (n != (ssize_t)sizeof(hi) || hi.magic != SHM_WIRE_MAGIC || hi.version != SHM_WIRE_VERSION ||
	    hi.type != SHM_SOCK_HELLO) {
		ch->stats.bad_desc++;
		rc = -EPROTO;
		goto refuse;
	}
	if (hi.pid == (uint32_t)getpid() && hi.dom == (uint64_t)(uintptr_t)ch->dom) {
		rc = -BULK_E_WRONG_DOMAIN;
		goto refuse;
	}
	if (hi.role > BULK_ROLE_SLAVE || hi.trust > BULK_TRUST_FULL || hi.meta_size > BULK_META_MAX ||
	    (hi.queue_size != 0 && hi.queue_size != ch->queue_size)) {
		rc = -BULK_E_BIND_MISMATCH;
		goto refuse;
	}
	bp = (struct bulk_bind_params){
		.role = (enum bulk_role)hi.role,
		.trust = (enum bulk_trust)hi.trust,
		.meta_size = hi.meta_size,
	};
	rc = bulk_core_negotiate(ch->direction, ch->role, ch->trust, ch->meta_size, &bp, &binder);
	if (rc == 0)
		rc = bulk_core_rx_bind_request(ch, binder.role);
	if (rc == 0) {
		rc = creator_connect(sc, &binder);
		/* One binder per channel: nobody else needs the name now. */
		close_fd(&sc->lsock);
		if (sc->unlink_path) {
			shm_sock_unlink(sc->sep->name);
			sc->unlink_path = false;
		}
		sc->sock = sc->pend;
		sc->pend = -1;
		if (rc < 0)
			bulk_core_peer_gone(ch, -BULK_E_PEER_GONE);
		return 1;
	}
refuse:
	/* Refused: tell it why; the channel waits for another binder. */
	creator_refuse(sc->pend, rc);
	close_fd(&sc->pend);
	return 1;
}

/*
 * We write to and read from these: a file, pipe or socket in their place
 * is refused. Anonymous inodes (eventfd and its kind) have no file type.
 */
static bool
is_eventfd(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0;
}

static bool
welcome_valid(const struct shm_welcome *w, const struct shm_region_hdr *h, uint64_t fsize)
{
	uint64_t ring;

	if (w->direction > BULK_DIRECTION_RX || w->role < BULK_ROLE_MASTER ||
	    w->role > BULK_ROLE_SLAVE || w->trust < BULK_TRUST_NONE || w->trust > BULK_TRUST_FULL ||
	    w->meta_size > BULK_META_MAX)
		return false;
	if (w->region_size != fsize || h->magic != SHM_WIRE_MAGIC || h->version != SHM_WIRE_VERSION ||
	    h->queue_size != w->queue_size || h->meta_size != w->meta_size ||
	    h->region_size != fsize || h->queue_size < 2 || h->queue_size > SHM_QUEUE_MAX ||
	    (h->queue_size & (h->queue_size - 1)) != 0 || h->slot_size != shm_slot_size(h->meta_size))
		return false;
	ring = shm_ring_bytes(h->queue_size, h->slot_size);
	for (int i = 0; i < 2; i++)
		if (h->ring_off[i] < sizeof(*h) || h->ring_off[i] % SHM_CACHE_LINE != 0 ||
		    h->ring_off[i] > fsize || fsize - h->ring_off[i] < ring)
			return false;
	/* The two rings must not overlap. */
	return h->ring_off[0] + ring <= h->ring_off[1] || h->ring_off[1] + ring <= h->ring_off[0];
}

/* Binder: wait for the creator's answer. */
static int
binder_poll(struct shm_chan *sc)
{
	struct bulk_channel *ch = &sc->ch;
	struct shm_welcome w;
	struct shm_region_hdr h;
	struct stat st;
	unsigned nfds = 0;
	int fds[3];
	ssize_t n;
	void *base;
	bool hup;
	int rc = -EPROTO;

	/* Hang-up first: an answer sent before the creator closed is then
	 * surely seen by the recv below. */
	hup = shm_sock_hup(sc->sock);
	n = shm_sock_recv(sc->sock, &w, sizeof(w), fds, 3, &nfds);
	if (n == -EAGAIN) {
		if (hup)
			bulk_core_peer_gone(ch, -BULK_E_PEER_GONE);
		return 0;
	}
	if (n <= 0) {
		bulk_core_peer_gone(ch, -BULK_E_PEER_GONE);
		return 1;
	}
	if (n != (ssize_t)sizeof(w) || w.magic != SHM_WIRE_MAGIC || w.version != SHM_WIRE_VERSION ||
	    w.type != SHM_SOCK_WELCOME)
		goto fail;
	if (w.status != 0) {
		if (nfds != 0 || w.status >= 0)
			goto fail;
		rc = w.status;
		goto fail;
	}
	if (nfds != 3 || w.region_size < SHM_PAGE || w.region_size > (1ull << 36))
		goto fail;
	if (fstat(fds[0], &st) < 0 || (uint64_t)st.st_size != w.region_size ||
	    shm_fd_sealed_size(fds[0], w.region_size) < 0 || !is_eventfd(fds[1]) ||
	    !is_eventfd(fds[2]))
		goto fail;
	base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	if (base == MAP_FAILED)
		goto fail;
	memcpy(&h, base, sizeof(h));
	if (!welcome_valid(&w, &h, (uint64_t)st.st_size)) {
		munmap(base, (size_t)st.st_size);
		goto fail;
	}
	sc->region = base;
	sc->region_len = (size_t)st.st_size;
	close(fds[0]);
	sc->efd_peer = fds[1];
	sc->efd_mine = fds[2];
	ep_watch(sc, sc->efd_mine);
	bulk_side_apply(ch, &(struct bulk_side){
		.direction = (enum bulk_direction)w.direction,
		.role = (enum bulk_role)w.role,
		.trust = (enum bulk_trust)w.trust,
		.meta_size = w.meta_size,
	});
	ch->queue_size = w.queue_size;
	/* Our copy of the header: the peer cannot move the rings later. */
	ring_attach(&sc->tx, sc->region, &h, 1);
	ring_attach(&sc->rx, sc->region, &h, 0);
	if (sc->want_wake)
		__atomic_store_n(&sc->rx.ctl->wake_enabled, 1, __ATOMIC_RELAXED);
	bulk_core_rx_bind_reply(ch, 0);
	return 1;
fail:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (rc == -EPROTO)
		ch->stats.bad_desc++;
	close_fd(&sc->sock);
	bulk_core_rx_bind_reply(ch, rc);
	return 1;
}

static int
shm_create(struct bulk_channel *ch)
{
	struct shm_chan *sc = shm_chan(ch);
	int fd;

	sc->sep = container_of(ch->ep, struct shm_endpoint, ep);
	sc->lsock = sc->pend = sc->sock = sc->epfd = sc->efd_peer = -1;
	sc->efd_mine = -1;
	if (ch->queue_size > SHM_QUEUE_MAX)
		return -EINVAL;
	sc->efd_mine = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sc->efd_mine < 0)
		return -errno;
	fd = shm_sock_listen(sc->sep->name, &sc->unlink_path);
	if (fd < 0) {
		close_fd(&sc->efd_mine);
		return fd;
	}
	sc->lsock = fd;
	return 0;
}

static int
shm_bind(struct bulk_channel *ch, struct bulk_endpoint *remote, const struct bulk_bind_params *bp)
{
	struct shm_chan *sc = shm_chan(ch);
	struct shm_hello hi = {
		.magic = SHM_WIRE_MAGIC,
		.version = SHM_WIRE_VERSION,
		.type = SHM_SOCK_HELLO,
		.role = bp ? (uint32_t)bp->role : 0,
		.trust = bp ? (uint32_t)bp->trust : 0,
		.meta_size = bp ? bp->meta_size : 0,
		.queue_size = bp ? bp->queue_size : 0,
		.pid = (uint32_t)getpid(),
		.dom = (uint64_t)(uintptr_t)ch->dom,
	};
	int fd, rc;

	sc->sep = container_of(remote, struct shm_endpoint, ep);
	sc->lsock = sc->pend = sc->sock = sc->epfd = sc->efd_peer = sc->efd_mine = -1;
	fd = shm_sock_connect(sc->sep->name);
	if (fd < 0)
		return fd;
	rc = shm_sock_send(fd, &hi, sizeof(hi), NULL, 0);
	if (rc < 0) {
		close(fd);
		return rc == -EPIPE || rc == -ECONNRESET ? -BULK_E_EP_NO_CHANNEL : rc;
	}
	sc->sock = fd;
	return 0;
}

static void
shm_unlisten(struct bulk_channel *ch)
{
	struct shm_chan *sc = shm_chan(ch);

	close_fd(&sc->lsock);
	if (sc->pend >= 0) {
		creator_refuse(sc->pend, -BULK_E_PEER_GONE);
		close_fd(&sc->pend);
	}
	if (sc->unlink_path) {
		shm_sock_unlink(sc->sep->name);
		sc->unlink_path = false;
	}
}

static void
shm_free(struct bulk_channel *ch)
{
	struct shm_chan *sc = shm_chan(ch);

	shm_unlisten(ch);
	close_fd(&sc->sock);
	close_fd(&sc->epfd);
	close_fd(&sc->efd_mine);
	close_fd(&sc->efd_peer);
	if (sc->region != NULL)
		munmap(sc->region, sc->region_len);
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		shm_stage_drop(sc, (uint16_t)s);
	bulk_free(sc->backlog);
}

/* -------------------------------------------------------------- poll */

/* Nothing arrived: is the peer still there? */
static void
check_peer(struct shm_chan *sc)
{
	uint64_t now;

	if (sc->sock < 0 || sc->ch.state == BULK_STATE_CLOSED)
		return;
	/* A system call per idle poll would tax busy polling: ask at most
	 * once a millisecond (clock_gettime stays in the vDSO). */
	now = now_ns();
	if (now < sc->next_hup_ns)
		return;
	sc->next_hup_ns = now + SHM_HUP_CHECK_NS;
	if (!shm_sock_hup(sc->sock))
		return;
	/* What the peer published before it went is still delivered. */
	while (sc->rx.ctl != NULL && sc->ch.state != BULK_STATE_CLOSED && rx_ring(sc, 256) > 0)
		;
	close_fd(&sc->sock);
	bulk_core_peer_gone(&sc->ch, -BULK_E_PEER_GONE);
}

static int
shm_poll(struct bulk_channel *ch, unsigned budget)
{
	struct shm_chan *sc = shm_chan(ch);
	int n;

	if (bulk_unlikely(sc->rx.ctl == NULL)) {
		if (ch->side == 0 && ch->state == BULK_STATE_INITIALIZED && sc->lsock >= 0)
			return creator_poll(sc);
		if (ch->side == 1 && ch->state == BULK_STATE_BINDING && sc->sock >= 0)
			return binder_poll(sc);
		return 0;
	}
	if (bulk_unlikely(ch->state == BULK_STATE_CLOSED))
		return 0;
	if (bulk_unlikely(sc->nbacklog > 0))
		backlog_flush(sc);
	n = rx_ring(sc, budget);
	tx_completions(sc);
	if (n == 0)
		check_peer(sc);
	return n;
}

static int
shm_fd(struct bulk_channel *ch)
{
	struct shm_chan *sc = shm_chan(ch);

	if (sc->epfd < 0) {
		sc->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (sc->epfd < 0)
			return -errno;
		ep_watch(sc, sc->efd_mine);
		ep_watch(sc, sc->lsock);
		ep_watch(sc, sc->pend);
		ep_watch(sc, sc->sock);
	}
	/* From now on the producer checks need_wakeup (one fence per send). */
	sc->want_wake = true;
	if (sc->rx.ctl != NULL)
		__atomic_store_n(&sc->rx.ctl->wake_enabled, 1, __ATOMIC_RELAXED);
	return sc->epfd;
}

static int
shm_arm(struct bulk_channel *ch)
{
	struct shm_chan *sc = shm_chan(ch);
	struct shm_ring *r = &sc->rx;
	uint64_t v;

	/* Drain the eventfd so that a stale count does not wake us again. */
	if (sc->efd_mine >= 0 && read(sc->efd_mine, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending. */
	}
	if (r->ctl == NULL || ch->state == BULK_STATE_CLOSED)
		return 0; /* the sockets in the epoll set wake us */
	if (sc->nbacklog > 0)
		return 1;
	if (sc->tx_short && sc->tx.ctl != NULL) {
		/* A send came back short: sleep only if the consumer will
		 * wake us when it frees slots. */
		struct shm_ring *t = &sc->tx;

		sc->tx_short = false;
		__atomic_store_n(&t->ctl->space_enabled, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&t->ctl->space_wanted, 1, __ATOMIC_RELAXED);
		/* Pairs with the fence in space_wake(). */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&t->ctl->tail, __ATOMIC_ACQUIRE) != t->cache) {
			__atomic_store_n(&t->ctl->space_wanted, 0, __ATOMIC_RELAXED);
			return 1;
		}
	}
	/* Hang-up must not wait for the next idle-poll check. */
	sc->next_hup_ns = 0;
	__atomic_store_n(&r->ctl->wake_enabled, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&r->ctl->need_wakeup, 1, __ATOMIC_RELAXED);
	/* Pairs with the fence in ring_wake(). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&r->ctl->head, __ATOMIC_ACQUIRE) != r->idx) {
		__atomic_store_n(&r->ctl->need_wakeup, 0, __ATOMIC_RELAXED);
		return 1;
	}
	return 0;
}

static void
shm_ep_free(struct bulk_endpoint *ep)
{
	bulk_free(container_of(ep, struct shm_endpoint, ep));
}

static const struct bulk_backend_ops shm_ops = {
	.name = "shm",
	.chan_size = sizeof(struct shm_chan),
	.trust_mask = (1u << BULK_TRUST_FULL) | (1u << BULK_TRUST_HALF) | (1u << BULK_TRUST_NONE),
	.shares_memory = true, /* FULL and HALF; the core knows NONE does not */
	.create = shm_create,
	.bind = shm_bind,
	.free = shm_free,
	.ep_free = shm_ep_free,
	.tx_burst = shm_tx_burst,
	.tx_ctrl = shm_tx_ctrl,
	.poll = shm_poll,
	.fd = shm_fd,
	.arm = shm_arm,
	.unlisten = shm_unlisten,
};

int
bulk_shm_endpoint_create(struct bulk_domain *d, const char *name,
			 const struct bulk_shm_params *params, struct bulk_endpoint **out)
{
	struct shm_endpoint *se;
	size_t n;

	if (d == NULL || name == NULL || out == NULL)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || (name[0] == '@' && n == 1))
		return -EINVAL;
	if (n > BULK_SHM_NAME_MAX)
		return -ENAMETOOLONG;
	se = bulk_zalloc(sizeof(*se));
	if (se == NULL)
		return -ENOMEM;
	memcpy(se->name, name, n + 1);
	if (params != NULL)
		se->params = *params;
	se->ep.ops = &shm_ops;
	se->ep.dom = d;
	se->ep.by_name = true;
	d->nendpoints++;
	*out = &se->ep;
	return 0;
}
