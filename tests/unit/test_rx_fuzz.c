/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Receive-path fuzz: no received descriptor, however malformed, may crash the
 * library, change a state it should not change, or lose a buffer.
 *
 * A tiny in-test backend ("fuzz") records what the core sends (tx_burst,
 * tx_ctrl) and receives nothing by itself; the test plays the peer and hands
 * descriptors to the core exactly as a backend would (bulk_core_rx_one() per
 * descriptor, bulk_core_rx_deliver() per run of one type, and the
 * bulk_core_rx_* control entry points). One domain, two channels that it
 * created: RX (we are the sink) and TX (we are the source), connected with
 * bulk_core_rx_bind_request(). Pools: three we allocate and assign, five the
 * peer assigns (mapped from memory the test allocates), any of them on
 * either channel, including views we received and assign onwards.
 *
 * A shadow model (written from the rules of bulk_core_rx_one() and the
 * documented preconditions, not from the library's code paths) predicts the
 * verdict of every descriptor, every control message and every send of ours;
 * after every step the whole library state is compared with it: every
 * buffer's state, flags and copy counts, every slot of both channels with
 * its copy bitmaps, the domain's pool list, and all channel statistics
 * (bad_desc must count exactly the descriptors the model calls invalid).
 * The invariants are also checked on the library state alone: states are
 * one of the four, consistent with the counters, and copies_in/copies_out
 * equal the number of channels whose bitmap has the buffer's bit.
 *
 * At the end the peer returns everything, both channels are torn down and
 * freed, and every pool must be freeable and the domain destroyable: nothing
 * lost, every mapping undone.
 *
 * Seed: argv[1] or BULK_SEED (default: from the clock), printed first.
 * Descriptors: argv[2] or BULK_FUZZ_DESCS (default 1000000).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulk_backend.h"
#include "check.h"

#define NCH 2
#define C_RX 0
#define C_TX 1
#define MAXV 8          /* shadow views: 3 ours, 5 the peer's */
#define NMINE 3
#define MAXCNT 130      /* most buffers in a pool (crosses two bitmap words) */
#define META 8
#define RUNMAX 32
#define CQ 4096         /* continuations in flight we track */
#define NTYPES (BULK_MSG_RELEASE + 1)

enum verdict { V_BAD, V_ACCEPT, V_BOUNCE };

/* ------------------------------------------------------------------ model */

struct sbuf {
	uint8_t st;
	uint8_t fl;
	uint16_t cin;
	uint32_t cout;
};

struct sview {
	struct bulk_pool_id id;
	struct bulk_pool *p;     /* the library's view; NULL: the domain has none */
	bool mine;
	uint32_t count, bsize;   /* current geometry (peer: canonical when none) */
	uint8_t trust;
	struct sbuf b[MAXCNT];
};

struct sslot {
	uint8_t st;              /* enum bulk_slot_state */
	bool mine, set_trust;
	int v;
	uint8_t cin[MAXCNT], cout[MAXCNT];
};

struct schan {
	struct bulk_channel *ch;
	struct bulk_endpoint *ep;
	enum bulk_direction dir;
	struct sslot s[BULK_CHANNEL_MAX_POOLS];
	/* Expected statistics. */
	uint64_t bad, refused, bounced, rx_bufs, rx_bytes, rx_type[NTYPES], tx_type[NTYPES];
	uint64_t tx_bytes;
	/* Recorded by the fuzz backend. */
	uint64_t nctrl, ndata;
	struct bulk_ctrl_msg last_ctrl;
	uint8_t last_type;
	uint16_t last_slot;
	uint32_t last_index, last_len;
	unsigned tx_room;
	/* Seen by the callbacks. */
	uint64_t cb_bufs[NTYPES], cb_removed, cb_teardown;
	int veto;
	/* Continuations of our sends: seqs in flight, fired so far. */
	uint64_t cseq[CQ];
	unsigned chead, ctail;
	uint64_t cpushed, cfired;
	/* Continuation of our pending pool assignment. */
	uint64_t acont_fired;
	int acont_err;
};

static struct sview V[MAXV];
static struct schan C[NCH];
static struct bulk_domain *dom;
static uint64_t n_maps, n_unmaps, n_desc, n_bad_total, n_ctrl_ops, n_sends, n_bounce_total;
static uint64_t n_accept_total;
static bool map_fail;
static char last_op[192]; /* printed when a check fails */

#define NOTE(...) snprintf(last_op, sizeof(last_op), __VA_ARGS__)

static void
fail_hook(void)
{
	fprintf(stderr, "last operation: %s\n", last_op);
}

/* Canonical geometry of the peer's pools. */
static const uint32_t peer_geo[MAXV - NMINE][2] = {
	{ 3, 512 }, { 65, 128 }, { 130, 64 }, { 7, 4096 }, { 64, 64 },
};
static const uint32_t mine_geo[NMINE][2] = { { 1, 4096 }, { 64, 256 }, { 130, 64 } };

/* ------------------------------------------------------------------ rng */

static uint64_t rng_state;

static uint64_t
rnd64(void)
{
	uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint32_t
rnd(uint32_t n)
{
	return (uint32_t)(rnd64() % n);
}

/* ------------------------------------------------------- model helpers */

static bool
s_owner(const struct sbuf *b)
{
	return b->st == BULK_BUFFER_READ_WRITE || b->st == BULK_BUFFER_RO_OWNED;
}

static void
s_restate(struct sbuf *b, bool owner)
{
	if (owner)
		b->st = (b->cout || b->cin) ? BULK_BUFFER_RO_OWNED : BULK_BUFFER_READ_WRITE;
	else
		b->st = b->cin ? BULK_BUFFER_READ_ONLY : BULK_BUFFER_INVALID;
}

/* Slot of view @p v on channel @p c in state @p st (-1: none); st 0xff: any non-free. */
static int
s_slot(int c, int v, uint8_t st)
{
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		const struct sslot *sl = &C[c].s[s];

		if (sl->st != BULK_SLOT_FREE && sl->v == v && (st == 0xff || sl->st == st))
			return (int)s;
	}
	return -1;
}

static unsigned
s_nlinks(int v)
{
	unsigned n = 0;

	for (int c = 0; c < NCH; c++)
		n += s_slot(c, v, BULK_SLOT_ASSIGNED) >= 0;
	return n;
}

static void
s_view_reset(int v)
{
	V[v].p = NULL;
	V[v].trust = BULK_TRUST_UNINITIALIZED;
	V[v].count = peer_geo[v - NMINE][0];
	V[v].bsize = peer_geo[v - NMINE][1];
	memset(V[v].b, 0, sizeof(V[v].b));
}

/* A slot disappears (removed, or its channel freed): void its copies. */
static void
s_slot_clear(int c, unsigned slot)
{
	struct sslot *sl = &C[c].s[slot];
	struct sview *vw = &V[sl->v];

	for (uint32_t i = 0; i < vw->count; i++) {
		struct sbuf *b = &vw->b[i];

		if (sl->cin[i])
			b->cin--;
		if (sl->cout[i])
			b->cout--;
		if (sl->cin[i] || sl->cout[i])
			s_restate(b, s_owner(b));
	}
	memset(sl, 0, sizeof(*sl));
}

/* Channel closed: copies that crossed it are voided on both sides. */
static void
s_chan_void(int c)
{
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		struct sslot *sl = &C[c].s[s];
		struct sview *vw = &V[sl->v];

		if (sl->st != BULK_SLOT_ASSIGNED)
			continue;
		for (uint32_t i = 0; i < vw->count; i++) {
			if (sl->cin[i])
				vw->b[i].cin--;
			if (sl->cout[i])
				vw->b[i].cout--;
			if (sl->cin[i] || sl->cout[i])
				s_restate(&vw->b[i], s_owner(&vw->b[i]));
			sl->cin[i] = sl->cout[i] = 0;
		}
	}
}

/*
 * A received view that no slot refers to (assigned or pending) and that
 * holds nothing is forgotten; anything else must stay.
 */
static void
s_maybe_drop(int v)
{
	struct sview *vw = &V[v];
	bool drop = !vw->mine && vw->p != NULL;

	for (int c = 0; c < NCH && drop; c++)
		drop = s_slot(c, v, 0xff) < 0;
	for (uint32_t i = 0; i < vw->count && drop; i++)
		drop = vw->b[i].st == BULK_BUFFER_INVALID;
	if (vw->p == NULL)
		return;
	if (drop) {
		CHECK(bulk_domain_pool_lookup(dom, &vw->id) == NULL);
		s_view_reset(v);
	} else {
		if (bulk_domain_pool_lookup(dom, &vw->id) != vw->p)
			fprintf(stderr, "view %d (%s) was dropped though %s\n", v,
				vw->mine ? "ours" : "peer's",
				s_slot(0, v, 0xff) >= 0 || s_slot(1, v, 0xff) >= 0
					? "a slot still refers to it"
					: "it still holds buffers");
		CHECK(bulk_domain_pool_lookup(dom, &vw->id) == vw->p);
	}
}

/* ------------------------------------------------------- fuzz backend */

static unsigned
fz_tx_burst(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	    const uint32_t *lens, const void *meta, unsigned n)
{
	struct schan *sc = ch->user;
	unsigned k = n < sc->tx_room ? n : sc->tx_room;

	(void)meta;
	for (unsigned i = 0; i < k; i++) {
		sc->last_type = (uint8_t)type;
		sc->last_slot = bufs[i]->slot;
		sc->last_index = bufs[i]->index;
		sc->last_len = lens ? lens[i] : bufs[i]->pool->buffer_size;
	}
	sc->ndata += k;
	return k;
}

static int
fz_tx_ctrl(struct bulk_channel *ch, const struct bulk_ctrl_msg *msg)
{
	struct schan *sc = ch->user;

	sc->nctrl++;
	sc->last_ctrl = *msg;
	return 0;
}

static int
fz_poll(struct bulk_channel *ch, unsigned budget)
{
	(void)ch;
	(void)budget;
	return 0;
}

static void
fz_ep_free(struct bulk_endpoint *ep)
{
	free(ep);
}

static const struct bulk_backend_ops fz_ops = {
	.name = "fuzz",
	.chan_size = sizeof(struct bulk_channel),
	.trust_mask = 1u << BULK_TRUST_FULL,
	.shares_memory = true,
	.ep_free = fz_ep_free,
	.tx_burst = fz_tx_burst,
	.tx_ctrl = fz_tx_ctrl,
	.poll = fz_poll,
};

/* The peer's pools live in memory the test allocates. */
static int
fz_map(void *arg, struct bulk_pool *view)
{
	size_t len = (size_t)view->count * view->buffer_size;

	(void)arg;
	if (map_fail)
		return -ENOMEM;
	view->base = aligned_alloc(64, (len + 63) & ~(size_t)63);
	if (view->base == NULL)
		return -ENOMEM;
	view->map_len = len;
	n_maps++;
	return 0;
}

static void
fz_unmap(struct bulk_pool *view)
{
	free(view->base);
	view->base = NULL;
	n_unmaps++;
}

/* Whether the peer's next assignment of a pool we know proves it is ours. */
static bool forge;

static int
fz_same(void *arg, const struct bulk_pool *view)
{
	(void)arg;
	(void)view;
	return !forge;
}

static const struct bulk_pool_mapper fz_mapper = {
	.map = fz_map, .unmap = fz_unmap, .same = fz_same,
};

/* ------------------------------------------------------------ callbacks */

static void
cb_check(struct bulk_channel *ch, enum bulk_msg_type type, struct bulk_buffer *const *bufs,
	 const uint32_t *lens, const void *meta, unsigned n)
{
	struct schan *sc = ch->user;

	sc->cb_bufs[type] += n;
	for (unsigned i = 0; i < n; i++) {
		const struct bulk_buffer *b = bufs[i];

		CHECK(b->pool->dom == dom);
		CHECK(b->addr == b->pool->base + (size_t)b->index * b->pool->buffer_size);
		if (type == BULK_MSG_RELEASE)
			continue;
		CHECK(lens[i] <= b->pool->buffer_size);
		CHECK_EQ_INT(((const uint8_t *)meta)[(size_t)i * META], (uint8_t)b->index);
		CHECK_EQ_INT(b->state, type == BULK_MSG_COPY ? BULK_BUFFER_READ_ONLY
							  : BULK_BUFFER_READ_WRITE);
		/* The payload is readable (and, moved or passed, writable) here. */
		if (lens[i] > 0)
			((volatile uint8_t *)b->addr)[lens[i] - 1] ^=
				type == BULK_MSG_COPY ? 0 : 1;
	}
}

static void
cb_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	cb_check(ch, BULK_MSG_MOVE, bufs, lens, meta, n);
}

static void
cb_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	cb_check(ch, BULK_MSG_PASS, bufs, lens, meta, n);
}

static void
cb_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	cb_check(ch, BULK_MSG_COPY, bufs, lens, meta, n);
}

static void
cb_release(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	cb_check(ch, BULK_MSG_RELEASE, bufs, NULL, NULL, n);
}

static int
cb_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct schan *sc = ch->user;

	CHECK(pool->dom == dom);
	return sc->veto ? -1 : 0;
}

static void
cb_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct schan *sc = ch->user;

	CHECK(pool->dom == dom);
	sc->cb_removed++;
}

static void
cb_teardown(struct bulk_channel *ch, int reason)
{
	struct schan *sc = ch->user;

	CHECK_RC(reason, 0);
	sc->cb_teardown++;
}

static const struct bulk_channel_callbacks fz_cbs = {
	.pool_assigned = cb_assigned,
	.pool_removed = cb_removed,
	.move_received = cb_move,
	.buffer_received = cb_pass,
	.copy_received = cb_copy,
	.copy_released = cb_release,
	.teardown_received = cb_teardown,
};

static void
send_cont_fn(void *arg, int err, struct bulk_channel *ch)
{
	struct schan *sc = arg;

	CHECK(ch == sc->ch);
	CHECK_RC(err, 0);
	sc->cfired++;
}

static void
assign_cont_fn(void *arg, int err, struct bulk_channel *ch)
{
	struct schan *sc = arg;

	CHECK(ch == sc->ch);
	sc->acont_fired++;
	sc->acont_err = err;
}

/* --------------------------------------------------------------- checks */

static void
check_buf(int v, uint32_t i)
{
	const struct sview *vw = &V[v];
	const struct bulk_buffer *b = &vw->p->bufs[i];
	const struct sbuf *s = &vw->b[i];
	unsigned in = 0, out = 0;

	/* On the library's state alone. */
	CHECK(b->state <= BULK_BUFFER_READ_WRITE);
	CHECK((b->flags & ~BULK_BUF_F_FREE) == 0);
	switch (b->state) {
	case BULK_BUFFER_INVALID:
		CHECK(b->copies_in == 0 && b->copies_out == 0);
		break;
	case BULK_BUFFER_READ_ONLY:
		CHECK(b->copies_in > 0);
		break;
	case BULK_BUFFER_RO_OWNED:
		CHECK(b->copies_in > 0 || b->copies_out > 0);
		break;
	default:
		CHECK(b->copies_in == 0 && b->copies_out == 0);
		break;
	}
	CHECK(!(b->flags & BULK_BUF_F_FREE) || b->state == BULK_BUFFER_READ_WRITE);
	CHECK(b->pool == vw->p && b->index == i);
	for (struct bulk_channel *ch = dom->chans; ch != NULL; ch = ch->next) {
		int slot = bulk_pool_slot(vw->p, ch);

		if (slot < 0)
			continue;
		in += bulk_bit_test(ch->slots[slot].copy_in, i);
		out += bulk_bit_test(ch->slots[slot].copy_out, i);
	}
	CHECK_EQ_INT(b->copies_in, in);
	CHECK_EQ_INT(b->copies_out, out);
	/* Against the model. */
	if (b->state != s->st || b->flags != s->fl || b->copies_in != s->cin ||
	    b->copies_out != s->cout)
		fprintf(stderr, "view %d buffer %u: library state %u flags %u in %u out %u, "
			"model state %u flags %u in %u out %u\n", v, i, b->state, b->flags,
			b->copies_in, b->copies_out, s->st, s->fl, s->cin, s->cout);
	CHECK_EQ_INT(b->state, s->st);
	CHECK_EQ_INT(b->flags, s->fl);
	CHECK_EQ_INT(b->copies_in, s->cin);
	CHECK_EQ_INT(b->copies_out, s->cout);
}

static void
check_slot_bit(int c, unsigned slot, uint32_t i)
{
	const struct bulk_chan_pool *cp = &C[c].ch->slots[slot];
	const struct sslot *sl = &C[c].s[slot];

	CHECK_EQ_INT(bulk_bit_test(cp->copy_in, i), sl->cin[i]);
	CHECK_EQ_INT(bulk_bit_test(cp->copy_out, i), sl->cout[i]);
}

static void
check_stats(int c)
{
	const struct schan *sc = &C[c];
	const struct bulk_channel_stats *st = &sc->ch->stats;

	CHECK_EQ_INT(st->bad_desc, sc->bad);
	CHECK_EQ_INT(st->pools_refused, sc->refused);
	CHECK_EQ_INT(st->copies_bounced, sc->bounced);
	CHECK_EQ_INT(st->rx_bufs, sc->rx_bufs);
	CHECK_EQ_INT(st->rx_bytes, sc->rx_bytes);
	CHECK_EQ_INT(st->moves_rx, sc->rx_type[BULK_MSG_MOVE]);
	CHECK_EQ_INT(st->passes_rx, sc->rx_type[BULK_MSG_PASS]);
	CHECK_EQ_INT(st->copies_rx, sc->rx_type[BULK_MSG_COPY]);
	CHECK_EQ_INT(st->releases_rx, sc->rx_type[BULK_MSG_RELEASE]);
	CHECK_EQ_INT(st->moves_tx, sc->tx_type[BULK_MSG_MOVE]);
	CHECK_EQ_INT(st->passes_tx, sc->tx_type[BULK_MSG_PASS]);
	CHECK_EQ_INT(st->copies_tx, sc->tx_type[BULK_MSG_COPY]);
	CHECK_EQ_INT(st->releases_tx, sc->tx_type[BULK_MSG_RELEASE]);
	CHECK_EQ_INT(st->tx_bytes, sc->tx_bytes);
	CHECK_EQ_INT(st->tx_msgs, sc->nctrl + sc->ndata);
	for (int t = BULK_MSG_MOVE; t <= BULK_MSG_RELEASE; t++)
		CHECK_EQ_INT(sc->cb_bufs[t], sc->rx_type[t]);
}

/* Everything, after every step. */
static void
check_all(void)
{
	unsigned live = 0, listed = 0;

	for (int v = 0; v < MAXV; v++) {
		if (V[v].p == NULL) {
			CHECK(bulk_domain_pool_lookup(dom, &V[v].id) == NULL);
			continue;
		}
		live++;
		CHECK(bulk_domain_pool_lookup(dom, &V[v].id) == V[v].p);
		CHECK_EQ_INT(V[v].p->count, V[v].count);
		CHECK_EQ_INT(V[v].p->buffer_size, V[v].bsize);
		CHECK_EQ_INT(V[v].p->trust, V[v].trust);
		CHECK_EQ_INT(V[v].p->nlinks, s_nlinks(v));
		for (uint32_t i = 0; i < V[v].count; i++)
			check_buf(v, i);
	}
	for (struct bulk_pool *p = dom->pools; p != NULL; p = p->next)
		listed++;
	CHECK_EQ_INT(listed, live);
	for (int c = 0; c < NCH; c++) {
		for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
			const struct bulk_chan_pool *cp = &C[c].ch->slots[s];
			const struct sslot *sl = &C[c].s[s];

			CHECK_EQ_INT(cp->state, sl->st);
			if (sl->st == BULK_SLOT_FREE)
				continue;
			CHECK(cp->pool == V[sl->v].p);
			CHECK_EQ_INT(cp->mine, sl->mine);
			for (uint32_t i = 0; i < V[sl->v].count; i++)
				check_slot_bit(c, s, i);
		}
		check_stats(c);
	}
}

/* ------------------------------------------------ the receive path */

static struct {
	int c;
	enum bulk_msg_type type;
	unsigned n;
	struct bulk_buffer *b[RUNMAX];
	uint32_t len[RUNMAX];
	uint8_t meta[RUNMAX * META];
} run;

static void
run_flush(void)
{
	if (run.n == 0)
		return;
	bulk_core_rx_deliver(C[run.c].ch, run.type, run.b, run.len, run.meta, run.n);
	run.n = 0;
}

static enum verdict
predict(int c, uint32_t type, uint32_t slot, uint32_t idx, uint32_t len)
{
	const struct schan *sc = &C[c];
	const struct sslot *sl;
	const struct sview *vw;
	const struct sbuf *b;

	if (slot >= BULK_CHANNEL_MAX_POOLS)
		return V_BAD;
	sl = &sc->s[slot];
	if (sl->st != BULK_SLOT_ASSIGNED)
		return V_BAD;
	vw = &V[sl->v];
	if (idx >= vw->count || len > vw->bsize)
		return V_BAD;
	b = &vw->b[idx];
	switch (type) {
	case BULK_MSG_MOVE:
	case BULK_MSG_PASS:
		if ((type == BULK_MSG_MOVE) != (sc->dir == BULK_DIRECTION_RX))
			return V_BAD;
		if (b->st != BULK_BUFFER_INVALID || (b->fl & BULK_BUF_F_FREE))
			return V_BAD;
		return V_ACCEPT;
	case BULK_MSG_COPY:
		if (sc->dir != BULK_DIRECTION_RX || sl->cin[idx])
			return V_BAD;
		return b->st != BULK_BUFFER_INVALID ? V_BOUNCE : V_ACCEPT;
	case BULK_MSG_RELEASE:
		if (sc->dir != BULK_DIRECTION_TX || !sl->cout[idx])
			return V_BAD;
		return V_ACCEPT;
	default:
		return V_BAD;
	}
}

/* One descriptor through the core, as a backend hands it over. */
static enum verdict
rx_desc(int c, uint32_t type, uint32_t slot, uint32_t idx, uint32_t len)
{
	struct schan *sc = &C[c];
	enum verdict want = predict(c, type, slot, idx, len);
	uint64_t nctrl = sc->nctrl;
	struct bulk_buffer *b;

	if (run.n > 0 && (run.c != c || run.type != (enum bulk_msg_type)type ||
			  run.n == RUNMAX))
		run_flush();
	NOTE("peer sends ch %d type %u slot %u index %u len %u", c, type, slot, idx, len);
	b = bulk_core_rx_one(sc->ch, (enum bulk_msg_type)type, slot, idx, len);
	n_desc++;
	if (want != V_ACCEPT) {
		if (b != NULL)
			fprintf(stderr, "accepted a descriptor the model rejects: ch %d type %u "
				"slot %u index %u len %u\n", c, type, slot, idx, len);
		CHECK(b == NULL);
		if (want == V_BAD) {
			sc->bad++;
			n_bad_total++;
			CHECK_EQ_INT(sc->nctrl, nctrl);
		} else {
			/* Bounced: a RELEASE goes straight back, nothing else. */
			sc->bounced++;
			n_bounce_total++;
			CHECK_EQ_INT(sc->nctrl, nctrl + 1);
			CHECK_EQ_INT(sc->last_ctrl.type, BULK_MSG_RELEASE);
			CHECK_EQ_INT(sc->last_ctrl.slot, slot);
			CHECK_EQ_INT(sc->last_ctrl.index, idx);
		}
		CHECK_EQ_INT(sc->ch->stats.bad_desc, sc->bad);
		CHECK_EQ_INT(sc->ch->stats.copies_bounced, sc->bounced);
		if (want == V_BOUNCE)
			check_buf(sc->s[slot].v, idx);
		return want;
	}
	if (b == NULL)
		fprintf(stderr, "rejected a valid descriptor: ch %d type %u slot %u index %u "
			"len %u\n", c, type, slot, idx, len);
	CHECK(b != NULL);
	{
		struct sslot *sl = &sc->s[slot];
		struct sview *vw = &V[sl->v];
		struct sbuf *s = &vw->b[idx];

		CHECK(b == &vw->p->bufs[idx]);
		switch (type) {
		case BULK_MSG_MOVE:
		case BULK_MSG_PASS:
			s_restate(s, true);
			break;
		case BULK_MSG_COPY:
			sl->cin[idx] = 1;
			s->cin++;
			s_restate(s, s_owner(s));
			break;
		default:
			sl->cout[idx] = 0;
			s->cout--;
			s_restate(s, s_owner(s));
			break;
		}
		check_buf(sl->v, idx);
		check_slot_bit(c, slot, idx);
	}
	CHECK_EQ_INT(sc->ch->stats.bad_desc, sc->bad);
	CHECK_EQ_INT(sc->nctrl, nctrl);
	n_accept_total++;
	sc->rx_bufs++;
	sc->rx_bytes += len;
	sc->rx_type[type]++;
	run.c = c;
	run.type = (enum bulk_msg_type)type;
	run.b[run.n] = b;
	run.len[run.n] = len;
	memset(run.meta + (size_t)run.n * META, (uint8_t)idx, META);
	run.n++;
	return V_ACCEPT;
}

/* ------------------------------------------------- descriptor generators */

static int
pick_assigned_slot(int c)
{
	unsigned cand[BULK_CHANNEL_MAX_POOLS], n = 0;

	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
		if (C[c].s[s].st == BULK_SLOT_ASSIGNED)
			cand[n++] = s;
	return n ? (int)cand[rnd(n)] : -1;
}

/* What a correct peer could send now; false if nothing found quickly. */
static bool
gen_legit(int c, uint32_t *type, uint32_t *slot, uint32_t *idx, uint32_t *len)
{
	bool rx = C[c].dir == BULK_DIRECTION_RX;

	for (int tries = 0; tries < 8; tries++) {
		int s = pick_assigned_slot(c);
		const struct sslot *sl;
		const struct sview *vw;
		uint32_t i;

		if (s < 0)
			return false;
		sl = &C[c].s[s];
		vw = &V[sl->v];
		i = rnd(vw->count);
		*slot = (uint32_t)s;
		*idx = i;
		*len = rnd(vw->bsize + 1);
		if (!rx && sl->cout[i]) {
			*type = BULK_MSG_RELEASE;
			*len = 0;
			return true;
		}
		if (vw->b[i].st != BULK_BUFFER_INVALID) {
			/* A copy of what we can read already is legal too (bounced). */
			if (rx && !sl->cin[i] && rnd(8) == 0) {
				*type = BULK_MSG_COPY;
				return true;
			}
			continue;
		}
		if (rx)
			*type = rnd(3) ? BULK_MSG_MOVE : BULK_MSG_COPY;
		else
			*type = BULK_MSG_PASS;
		return true;
	}
	return false;
}

static uint32_t
rnd_type(void)
{
	static const uint32_t odd[] = { 0, BULK_MSG_TYPE_MAX, BULK_MSG_TYPE_MAX + 1, 0xff, 0x100,
					0x7fffffff, 0x80000000u, 0xffffffffu };

	if (rnd(4))
		return rnd(BULK_MSG_TYPE_MAX + 2);
	return odd[rnd(sizeof(odd) / sizeof(odd[0]))];
}

static uint32_t
rnd_slot(int c)
{
	int s;

	switch (rnd(6)) {
	case 0:
		return BULK_CHANNEL_MAX_POOLS + rnd(4);
	case 1:
		return rnd(2) ? 0xffffffffu : rnd(65536);
	case 2:
	case 3:
		return rnd(16); /* low slots: assigned, pending and free ones */
	default:
		s = pick_assigned_slot(c);
		return s >= 0 ? (uint32_t)s : rnd(BULK_CHANNEL_MAX_POOLS);
	}
}

static uint32_t
slot_count(int c, uint32_t slot, uint32_t *bsize)
{
	if (slot < BULK_CHANNEL_MAX_POOLS && C[c].s[slot].st != BULK_SLOT_FREE) {
		*bsize = V[C[c].s[slot].v].bsize;
		return V[C[c].s[slot].v].count;
	}
	*bsize = 4096;
	return MAXCNT;
}

static uint32_t
rnd_index(uint32_t count)
{
	switch (rnd(8)) {
	case 0:
		return count + rnd(3);
	case 1:
		return rnd(2) ? 0xffffffffu : 0x80000000u + rnd(count);
	case 2:
		return count - 1;
	default:
		return rnd(count);
	}
}

static uint32_t
rnd_len(uint32_t bsize)
{
	switch (rnd(8)) {
	case 0:
		return bsize + 1;
	case 1:
		return rnd(2) ? 0xffffffffu : bsize;
	default:
		return rnd(2 * bsize + 1);
	}
}

/* A descriptor: legitimate, one field mutated, or garbage. */
static void
gen_desc(int c)
{
	uint32_t type = 0, slot = 0, idx = 0, len = 0, cnt, bsz;
	uint32_t r = rnd(100);

	if (r < 45 && gen_legit(c, &type, &slot, &idx, &len)) {
		rx_desc(c, type, slot, idx, len);
		return;
	}
	if (r < 80 && gen_legit(c, &type, &slot, &idx, &len)) {
		switch (rnd(4)) {
		case 0:
			type = rnd_type();
			break;
		case 1:
			slot = rnd_slot(c);
			break;
		case 2:
			cnt = slot_count(c, slot, &bsz);
			idx = rnd_index(cnt);
			break;
		default:
			cnt = slot_count(c, slot, &bsz);
			len = rnd_len(bsz);
			break;
		}
		rx_desc(c, type, slot, idx, len);
		return;
	}
	type = rnd_type();
	slot = rnd_slot(c);
	cnt = slot_count(c, slot, &bsz);
	idx = rnd_index(cnt);
	len = rnd_len(bsz);
	rx_desc(c, type, slot, idx, len);
}

/* ------------------------------------------------------- sends of ours */

static const uint8_t send_meta[META];

static void
cont_expect_push(int c)
{
	struct schan *sc = &C[c];

	CHECK(sc->ctail - sc->chead < CQ);
	sc->cseq[sc->ctail++ % CQ] = sc->ch->stats.tx_msgs;
	sc->cpushed++;
}

static int
live_view(bool mine_only)
{
	int cand[MAXV], n = 0;

	for (int v = 0; v < MAXV; v++)
		if (V[v].p != NULL && (!mine_only || V[v].mine))
			cand[n++] = v;
	return n ? cand[rnd(n)] : -1;
}

/* Predict one send by the documented checks, make it, compare. */
static void
our_send(int c, enum bulk_msg_type op, int v, uint32_t i, uint32_t len)
{
	struct schan *sc = &C[c];
	struct sview *vw = &V[v];
	struct sbuf *s = &vw->b[i];
	struct bulk_buffer *b = &vw->p->bufs[i];
	int slot = s_slot(c, v, BULK_SLOT_ASSIGNED);
	bool with_cont = rnd(4) == 0 && sc->ctail - sc->chead < CQ - 1;
	struct bulk_cont k = { with_cont ? send_cont_fn : NULL, sc };
	enum bulk_direction need = op == BULK_MSG_MOVE || op == BULK_MSG_COPY ? BULK_DIRECTION_TX
									       : BULK_DIRECTION_RX;
	uint64_t ndata = sc->ndata;
	int want = 0, rc;

	if (sc->ch->state != BULK_STATE_CONNECTED)
		want = -BULK_E_NOT_CONNECTED;
	else if (sc->dir != need)
		want = -BULK_E_WRONG_DIRECTION;
	else if (op != BULK_MSG_RELEASE && len > vw->bsize)
		want = -BULK_E_BAD_LENGTH;
	else if (slot < 0)
		want = -BULK_E_POOL_NOT_ASSIGNED;
	else if (op == BULK_MSG_MOVE || op == BULK_MSG_PASS)
		want = !s_owner(s) ? -BULK_E_NOT_OWNER
		       : s->st != BULK_BUFFER_READ_WRITE ? -BULK_E_BUFFER_COPIED
		       : (s->fl & BULK_BUF_F_FREE) ? -BULK_E_BUFFER_FREE : 0;
	else if (op == BULK_MSG_COPY)
		want = s->st == BULK_BUFFER_INVALID ? -BULK_E_NO_ACCESS
		       : sc->s[slot].cout[i] ? -BULK_E_COPY_EXISTS
		       : (s->fl & BULK_BUF_F_FREE) ? -BULK_E_BUFFER_FREE : 0;
	else
		want = !sc->s[slot].cin[i] ? -BULK_E_NOT_COPY
		       : (!s_owner(s) && s->cout > 0 && s->cin == 1) ? -BULK_E_COPY_REACHABILITY
		       : 0;
	if (want == 0 && sc->tx_room == 0)
		want = -ENOBUFS;
	NOTE("we send type %u on ch %d: view %d buffer %u len %u", op, c, v, i, len);
	switch (op) {
	case BULK_MSG_MOVE:
		rc = bulk_channel_move(sc->ch, b, len, send_meta, k);
		break;
	case BULK_MSG_PASS:
		rc = bulk_channel_pass(sc->ch, b, len, send_meta, k);
		break;
	case BULK_MSG_COPY:
		rc = bulk_channel_copy(sc->ch, b, len, send_meta, k);
		break;
	default:
		rc = bulk_channel_release(sc->ch, b, k);
		len = vw->bsize;
		break;
	}
	n_sends++;
	CHECK_RC(rc, want);
	if (rc < 0) {
		CHECK_EQ_INT(sc->ndata, ndata);
		check_buf(v, i);
		return;
	}
	CHECK_EQ_INT(sc->ndata, ndata + 1);
	CHECK_EQ_INT(sc->last_type, op);
	CHECK_EQ_INT(sc->last_slot, slot);
	CHECK_EQ_INT(sc->last_index, i);
	CHECK_EQ_INT(sc->last_len, len);
	sc->tx_type[op]++;
	sc->tx_bytes += len;
	switch (op) {
	case BULK_MSG_MOVE:
	case BULK_MSG_PASS:
		s->st = BULK_BUFFER_INVALID;
		break;
	case BULK_MSG_COPY:
		sc->s[slot].cout[i] = 1;
		s->cout++;
		s_restate(s, s_owner(s));
		break;
	default:
		sc->s[slot].cin[i] = 0;
		s->cin--;
		s_restate(s, s_owner(s));
		break;
	}
	if (with_cont)
		cont_expect_push(c);
	check_buf(v, i);
	check_slot_bit(c, (unsigned)slot, i);
}

static void
our_get(void)
{
	int v = live_view(true);
	struct bulk_buffer *bufs[4];
	unsigned n = 1 + rnd(4), nfree = 0;
	int k;

	for (uint32_t i = 0; i < V[v].count; i++)
		nfree += (V[v].b[i].fl & BULK_BUF_F_FREE) != 0;
	k = bulk_pool_get_burst(V[v].p, bufs, n);
	CHECK_EQ_INT(k, n < nfree ? n : nfree);
	for (int j = 0; j < k; j++) {
		struct sbuf *s = &V[v].b[bufs[j]->index];

		CHECK(bufs[j]->pool == V[v].p);
		CHECK(s->fl & BULK_BUF_F_FREE);
		CHECK_EQ_INT(s->st, BULK_BUFFER_READ_WRITE);
		s->fl = 0;
	}
}

static void
our_put(void)
{
	int v = live_view(true);
	uint32_t i = rnd(V[v].count);
	struct sbuf *s = &V[v].b[i];
	int want = s->st != BULK_BUFFER_READ_WRITE ? -BULK_E_NOT_OWNER
		   : (s->fl & BULK_BUF_F_FREE) ? -BULK_E_BUFFER_FREE : 0;

	CHECK_RC(bulk_pool_put(&V[v].p->bufs[i]), want);
	if (want == 0)
		s->fl = BULK_BUF_F_FREE;
	check_buf(v, i);
}

/* One send of ours, biased towards ones that succeed. */
static void
gen_send(int c)
{
	static const enum bulk_msg_type tx_ops[] = { BULK_MSG_MOVE, BULK_MSG_COPY };
	static const enum bulk_msg_type rx_ops[] = { BULK_MSG_PASS, BULK_MSG_RELEASE };
	enum bulk_msg_type op;
	uint32_t r = rnd(20), i = 0;
	int v = -1;

	if (r == 0) {
		our_get();
		return;
	}
	if (r == 1) {
		our_put();
		return;
	}
	if (r == 2)
		op = (enum bulk_msg_type)(BULK_MSG_MOVE + rnd(4)); /* maybe the wrong side */
	else
		op = C[c].dir == BULK_DIRECTION_TX ? tx_ops[rnd(2)] : rx_ops[rnd(2)];
	for (int tries = 0; tries < 6; tries++) {
		int slot;
		const struct sbuf *s;

		v = live_view(false);
		i = rnd(V[v].count);
		s = &V[v].b[i];
		slot = s_slot(c, v, BULK_SLOT_ASSIGNED);
		if (slot < 0)
			continue;
		if ((op == BULK_MSG_MOVE || op == BULK_MSG_PASS) &&
		    s->st == BULK_BUFFER_READ_WRITE) {
			if (s->fl & BULK_BUF_F_FREE)
				our_get();
			if (!(s->fl & BULK_BUF_F_FREE))
				break;
		}
		if (op == BULK_MSG_COPY && s->st != BULK_BUFFER_INVALID &&
		    !C[c].s[slot].cout[i])
			break;
		if (op == BULK_MSG_RELEASE && C[c].s[slot].cin[i])
			break;
	}
	our_send(c, op, v, i, rnd(16) ? rnd(V[v].bsize + 1) : V[v].bsize + 1);
}

/* -------------------------------------------------------- control path */

static bool
view_on_chan(int c, int v)
{
	return s_slot(c, v, 0xff) >= 0;
}

/* The peer assigns a pool: @p v the model view its id names. */
static void
peer_assign(int c, uint32_t slot, int v, uint32_t count, uint32_t bsize, uint8_t trust,
	    bool fail, bool veto, bool forged)
{
	struct schan *sc = &C[c];
	struct sview *vw = &V[v];
	struct bulk_pool_desc d = { .id = vw->id, .count = count, .buffer_size = bsize,
				    .trust = (enum bulk_trust)trust };
	uint64_t nctrl = sc->nctrl, removed = sc->cb_removed;
	bool create = false;
	int want = 0;

	if (slot >= BULK_CHANNEL_MAX_POOLS || (slot & 1) == sc->ch->side ||
	    sc->s[slot].st != BULK_SLOT_FREE || count == 0 || count > BULK_POOL_MAX_BUFFERS ||
	    bsize == 0 || (trust != BULK_TRUST_UNINITIALIZED && trust != BULK_TRUST_FULL)) {
		want = -BULK_E_BAD_DESC;
	} else if (sc->ch->state != BULK_STATE_CONNECTED) {
		want = -BULK_E_CLOSED;
	} else if (vw->p != NULL) {
		if (forged)
			want = -BULK_E_POOL_FORGED;
		else if (vw->count != count || vw->bsize != bsize)
			want = -BULK_E_POOL_GEOMETRY;
		else if (view_on_chan(c, v))
			want = -BULK_E_POOL_ASSIGNED;
		else if (vw->trust != BULK_TRUST_UNINITIALIZED && vw->trust != BULK_TRUST_FULL)
			want = -BULK_E_TRUST_MISMATCH;
		else if (veto)
			want = -BULK_E_VETOED;
	} else {
		create = true;
		if (fail)
			want = -ENOMEM;
		else if (trust != BULK_TRUST_UNINITIALIZED && trust != BULK_TRUST_FULL)
			want = -BULK_E_TRUST_MISMATCH;
		else if (veto)
			want = -BULK_E_VETOED;
	}
	NOTE("peer assigns view %d on ch %d slot %u (count %u bsize %u trust %u fail %d "
	     "veto %d)", v, c, slot, count, bsize, trust, fail, veto);
	map_fail = fail;
	forge = forged;
	sc->veto = veto;
	bulk_core_rx_ctrl(sc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_POOL_ASSIGN,
		.slot = slot, .pool = d, .mapper = &fz_mapper });
	forge = false;
	map_fail = false;
	sc->veto = 0;
	CHECK_EQ_INT(sc->nctrl, nctrl + 1);
	CHECK_EQ_INT(sc->last_ctrl.type, BULK_MSG_POOL_ASSIGN_REPLY);
	CHECK_EQ_INT(sc->last_ctrl.slot, (uint16_t)slot);
	if (sc->last_ctrl.status != want)
		fprintf(stderr, "pool assign ch %d slot %u view %d count %u bsize %u trust %u "
			"(slot state: library %u model %u)\n", c, slot, v, count, bsize, trust,
			slot < BULK_CHANNEL_MAX_POOLS ? sc->ch->slots[slot].state : 9,
			slot < BULK_CHANNEL_MAX_POOLS ? sc->s[slot].st : 9);
	CHECK_RC(sc->last_ctrl.status, want);
	CHECK_EQ_INT(sc->cb_removed, removed);
	if (want == -BULK_E_BAD_DESC)
		sc->bad++;
	if (want == -BULK_E_POOL_FORGED)
		sc->refused++;
	if (want == 0) {
		if (create) {
			vw->p = bulk_domain_pool_lookup(dom, &vw->id);
			CHECK(vw->p != NULL);
			vw->count = count;
			vw->bsize = bsize;
			memset(vw->b, 0, sizeof(vw->b));
		}
		if (vw->trust == BULK_TRUST_UNINITIALIZED)
			vw->trust = BULK_TRUST_FULL;
		memset(&sc->s[slot], 0, sizeof(sc->s[slot]));
		sc->s[slot].st = BULK_SLOT_ASSIGNED;
		sc->s[slot].v = v;
	}
}

static uint32_t
free_peer_slot(int c)
{
	for (int tries = 0; tries < 64; tries++) {
		uint32_t s = 2 * rnd(BULK_CHANNEL_MAX_POOLS / 2) + 1;

		if (C[c].s[s].st == BULK_SLOT_FREE)
			return s;
	}
	return BULK_CHANNEL_MAX_POOLS - 1;
}

static void
ctrl_peer_assign(int c)
{
	int v = (int)rnd(MAXV);
	uint32_t slot = free_peer_slot(c), count = V[v].count, bsize = V[v].bsize;
	uint8_t trust = rnd(2) ? BULK_TRUST_FULL : BULK_TRUST_UNINITIALIZED;
	bool fail = rnd(16) == 0, veto = rnd(10) == 0, forged = rnd(8) == 0;

	switch (rnd(12)) {
	case 0:
		slot = rnd(2) ? 2 * rnd(BULK_CHANNEL_MAX_POOLS / 2) /* our parity */
			      : BULK_CHANNEL_MAX_POOLS + rnd(65536 - BULK_CHANNEL_MAX_POOLS);
		break;
	case 1: {
		int s = pick_assigned_slot(c);

		slot = s >= 0 ? (uint32_t)s : slot;
		break;
	}
	case 2:
		if (rnd(2))
			count = 0;
		else
			count = rnd(2) ? (count % MAXCNT) + 1 : BULK_POOL_MAX_BUFFERS + 1 + rnd(3);
		break;
	case 3:
		bsize = rnd(2) ? 0 : bsize * 2;
		break;
	case 4:
		trust = rnd(2) ? BULK_TRUST_NONE : (rnd(2) ? BULK_TRUST_HALF : 7);
		break;
	default:
		break;
	}
	/* A new view takes what it is told; keep it within the model's arrays. */
	if (V[v].p == NULL && count > MAXCNT && count <= BULK_POOL_MAX_BUFFERS)
		count = MAXCNT;
	peer_assign(c, slot, v, count, bsize, trust, fail, veto, forged);
}

static void
peer_remove(int c, uint32_t slot)
{
	struct schan *sc = &C[c];
	uint64_t bad = sc->bad, removed = sc->cb_removed;

	NOTE("peer removes ch %d slot %u", c, slot);
	bulk_core_rx_ctrl(sc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_POOL_REMOVE,
		.slot = slot });
	slot = (uint16_t)slot;
	if (slot >= BULK_CHANNEL_MAX_POOLS || sc->s[slot].st != BULK_SLOT_ASSIGNED) {
		sc->bad++;
		CHECK_EQ_INT(sc->ch->stats.bad_desc, sc->bad);
		return;
	}
	/*
	 * A correct peer removes a pool only when nothing of it is on the
	 * channel; one with copies still crossing it may be refused (counted
	 * bad, nothing changes) or removed with those copies voided as at
	 * close. Either way no count may be left without its bit.
	 */
	if (sc->ch->stats.bad_desc == bad + 1) {
		sc->bad++;
		CHECK(sc->ch->slots[slot].state == BULK_SLOT_ASSIGNED);
		return;
	}
	{
		int v = sc->s[slot].v;

		CHECK_EQ_INT(sc->cb_removed, removed + 1);
		s_slot_clear(c, slot);
		s_maybe_drop(v);
	}
}

static void peer_assign_reply(int c, uint32_t slot, int status);

static void
ctrl_peer_remove(int c)
{
	int s = pick_assigned_slot(c);

	peer_remove(c, rnd(3) && s >= 0 ? (uint32_t)s : (rnd(4) ? rnd(16) : rnd(65536)));
}

/*
 * The peer takes one of its pools back, as a correct peer would: copies
 * come home, we return what we own, it removes the pool everywhere. A view
 * that then holds nothing is dropped (and is created afresh next time).
 */
static void
recycle_peer_view(void)
{
	int v = NMINE + (int)rnd(MAXV - NMINE), s;

	if (V[v].p == NULL)
		return;
	for (int c = 0; c < NCH; c++) {
		C[c].tx_room = ~0u;
		s = s_slot(c, v, BULK_SLOT_PENDING);
		if (s >= 0)
			peer_assign_reply(c, (uint32_t)s, 0);
	}
	s = s_slot(C_TX, v, BULK_SLOT_ASSIGNED);
	for (uint32_t i = 0; s >= 0 && i < V[v].count; i++)
		if (C[C_TX].s[s].cout[i])
			CHECK_EQ_INT(rx_desc(C_TX, BULK_MSG_RELEASE, (uint32_t)s, i, 0), V_ACCEPT);
	run_flush();
	s = s_slot(C_RX, v, BULK_SLOT_ASSIGNED);
	for (uint32_t i = 0; s >= 0 && i < V[v].count; i++)
		if (C[C_RX].s[s].cin[i])
			our_send(C_RX, BULK_MSG_RELEASE, v, i, 0);
	for (uint32_t i = 0; i < V[v].count; i++) {
		if (V[v].b[i].st != BULK_BUFFER_READ_WRITE)
			continue;
		if (s_slot(C_RX, v, BULK_SLOT_ASSIGNED) >= 0)
			our_send(C_RX, BULK_MSG_PASS, v, i, 0);
		else if (s_slot(C_TX, v, BULK_SLOT_ASSIGNED) >= 0)
			our_send(C_TX, BULK_MSG_MOVE, v, i, 0);
	}
	for (int c = 0; c < NCH; c++) {
		s = s_slot(c, v, BULK_SLOT_ASSIGNED);
		if (s >= 0)
			peer_remove(c, (uint32_t)s);
	}
}

static void
ctrl_our_assign(int c)
{
	struct schan *sc = &C[c];
	int v = live_view(false), want = 0, slot = -1;
	uint64_t nctrl = sc->nctrl;
	struct bulk_cont k = { assign_cont_fn, sc };

	if (view_on_chan(c, v))
		want = -BULK_E_POOL_ASSIGNED;
	else if (V[v].trust != BULK_TRUST_UNINITIALIZED && V[v].trust != BULK_TRUST_FULL)
		want = -BULK_E_TRUST_MISMATCH;
	else if (s_nlinks(v) >= BULK_POOL_MAX_CHANNELS)
		want = -ENOSPC;
	for (unsigned s = sc->ch->side; want == 0 && s < BULK_CHANNEL_MAX_POOLS; s += 2)
		if (sc->s[s].st == BULK_SLOT_FREE) {
			slot = (int)s;
			break;
		}
	if (want == 0 && slot < 0)
		want = -ENOSPC;
	NOTE("we assign view %d on ch %d", v, c);
	CHECK_RC(bulk_channel_assign_pool(sc->ch, V[v].p, k), want);
	if (want < 0) {
		CHECK_EQ_INT(sc->nctrl, nctrl);
		return;
	}
	CHECK_EQ_INT(sc->nctrl, nctrl + 1);
	CHECK_EQ_INT(sc->last_ctrl.type, BULK_MSG_POOL_ASSIGN);
	CHECK_EQ_INT(sc->last_ctrl.slot, slot);
	CHECK(sc->last_ctrl.pool == V[v].p);
	memset(&sc->s[slot], 0, sizeof(sc->s[slot]));
	sc->s[slot].st = BULK_SLOT_PENDING;
	sc->s[slot].mine = true;
	sc->s[slot].v = v;
	if (V[v].trust == BULK_TRUST_UNINITIALIZED) {
		V[v].trust = BULK_TRUST_FULL;
		sc->s[slot].set_trust = true;
	}
}

/* The peer answers an assignment of ours (or one we never made). */
static void
peer_assign_reply(int c, uint32_t slot, int status)
{
	struct schan *sc = &C[c];
	uint64_t fired = sc->acont_fired;
	struct sslot *sl;

	NOTE("peer replies ch %d slot %u status %d", c, slot, status);
	bulk_core_rx_ctrl(sc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_POOL_ASSIGN_REPLY,
		.slot = slot, .status = status });
	slot = (uint16_t)slot;
	if (slot >= BULK_CHANNEL_MAX_POOLS || sc->s[slot].st != BULK_SLOT_PENDING) {
		sc->bad++;
		CHECK_EQ_INT(sc->ch->stats.bad_desc, sc->bad);
		CHECK_EQ_INT(sc->acont_fired, fired);
		return;
	}
	sl = &sc->s[slot];
	CHECK_EQ_INT(sc->acont_fired, fired + 1);
	CHECK_RC(sc->acont_err, status);
	if (status == 0) {
		sl->st = BULK_SLOT_ASSIGNED;
		return;
	}
	{
		int v = sl->v;
		bool set_trust = sl->set_trust;

		/* A trust fixed by this attempt alone is undone. */
		memset(sl, 0, sizeof(*sl));
		if (set_trust && s_nlinks(v) == 0 && s_slot(C_RX, v, BULK_SLOT_PENDING) < 0 &&
		    s_slot(C_TX, v, BULK_SLOT_PENDING) < 0)
			V[v].trust = BULK_TRUST_UNINITIALIZED;
	}
}

static void
ctrl_assign_reply(int c)
{
	uint32_t slot = rnd(16);
	int status = rnd(4) ? 0 : -BULK_E_VETOED - (int)rnd(3);

	if (rnd(2)) {
		for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
			if (C[c].s[s].st == BULK_SLOT_PENDING) {
				slot = s;
				break;
			}
	} else if (rnd(2)) {
		slot = rnd(65536);
	}
	peer_assign_reply(c, slot, status);
}

static void
ctrl_our_remove(int c)
{
	struct schan *sc = &C[c];
	int v = live_view(false), slot = s_slot(c, v, BULK_SLOT_ASSIGNED), want = 0;
	uint64_t nctrl = sc->nctrl;

	if (slot < 0)
		want = -BULK_E_POOL_NOT_ASSIGNED;
	for (uint32_t i = 0; want == 0 && i < V[v].count; i++)
		if (V[v].b[i].st != BULK_BUFFER_READ_WRITE)
			want = -BULK_E_POOL_IN_USE;
	NOTE("we remove view %d from ch %d", v, c);
	CHECK_RC(bulk_channel_remove_pool(sc->ch, V[v].p, BULK_CONT_NONE), want);
	if (want < 0) {
		CHECK_EQ_INT(sc->nctrl, nctrl);
		return;
	}
	CHECK_EQ_INT(sc->nctrl, nctrl + 1);
	CHECK_EQ_INT(sc->last_ctrl.type, BULK_MSG_POOL_REMOVE);
	CHECK_EQ_INT(sc->last_ctrl.slot, slot);
	s_slot_clear(c, (unsigned)slot);
}

static void
tx_complete(int c, uint64_t consumed)
{
	struct schan *sc = &C[c];

	while (sc->chead != sc->ctail && sc->cseq[sc->chead % CQ] <= consumed)
		sc->chead++;
	bulk_core_tx_complete(sc->ch, consumed);
	CHECK_EQ_INT(sc->cfired, sc->cpushed - (sc->ctail - sc->chead));
}

static void
gen_ctrl(int c)
{
	struct schan *sc = &C[c];
	uint64_t bad = sc->bad;
	enum bulk_channel_state st = sc->ch->state;

	switch (rnd(17)) {
	case 0:
	case 1:
	case 2:
		ctrl_peer_assign(c);
		break;
	case 3:
	case 4:
		ctrl_peer_remove(c);
		break;
	case 5:
	case 6:
		ctrl_our_assign(c);
		break;
	case 7:
	case 8:
		ctrl_assign_reply(c);
		break;
	case 9:
		ctrl_our_remove(c);
		break;
	case 10:
		/* Teardown acknowledged though we never started one. */
		bulk_core_rx_ctrl(sc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_TEARDOWN_ACK });
		sc->bad = bad + 1;
		CHECK_EQ_INT(sc->ch->state, st);
		break;
	case 11:
		/* A bind reply to the creator, who never binds. */
		bulk_core_rx_bind_reply(sc->ch, rnd(2) ? 0 : -BULK_E_BIND_REFUSED);
		sc->bad = bad + 1;
		CHECK_EQ_INT(sc->ch->state, st);
		break;
	case 12:
		/* A second binder. */
		CHECK_RC(bulk_core_rx_bind_request(sc->ch, (enum bulk_role)rnd(3)),
			 -BULK_E_ALREADY_BOUND);
		CHECK_EQ_INT(sc->ch->state, st);
		CHECK_EQ_INT(sc->ch->role, BULK_ROLE_MASTER);
		break;
	case 13:
		sc->tx_room = sc->tx_room ? 0 : ~0u;
		break;
	case 14:
		recycle_peer_view();
		break;
	default:
		tx_complete(c, rnd(2) ? sc->ch->stats.tx_msgs - rnd(64) : rnd64() >> rnd(64));
		break;
	}
	n_ctrl_ops++;
}

/* ------------------------------------------------------------ set-up */

static void
setup(void)
{
	CHECK_RC(bulk_domain_create("fuzz", &dom), 0);
	for (int c = 0; c < NCH; c++) {
		struct schan *sc = &C[c];
		struct bulk_channel_params cp = {
			.direction = c == C_RX ? BULK_DIRECTION_RX : BULK_DIRECTION_TX,
			.trust = BULK_TRUST_FULL,
			.meta_size = META,
			.queue_size = 64,
			.user = sc,
		};

		sc->dir = cp.direction;
		sc->tx_room = ~0u;
		sc->ep = calloc(1, sizeof(*sc->ep));
		CHECK(sc->ep != NULL);
		sc->ep->ops = &fz_ops;
		sc->ep->dom = dom;
		dom->nendpoints++;
		CHECK_RC(bulk_channel_create(sc->ep, &fz_cbs, &cp, &sc->ch), 0);
		CHECK_EQ_INT(sc->ch->state, BULK_STATE_INITIALIZED);
		CHECK_RC(bulk_core_rx_bind_request(sc->ch, BULK_ROLE_SLAVE), 0);
		CHECK_EQ_INT(sc->ch->state, BULK_STATE_CONNECTED);
		CHECK_EQ_INT(sc->ch->role, BULK_ROLE_MASTER);
	}
	for (int v = 0; v < NMINE; v++) {
		struct bulk_pool_params pp = { .count = mine_geo[v][0],
					       .buffer_size = mine_geo[v][1] };

		CHECK_RC(bulk_pool_alloc(dom, &pp, &V[v].p), 0);
		V[v].id = V[v].p->id;
		V[v].mine = true;
		V[v].count = pp.count;
		V[v].bsize = pp.buffer_size;
		for (uint32_t i = 0; i < pp.count; i++) {
			V[v].b[i].st = BULK_BUFFER_READ_WRITE;
			V[v].b[i].fl = BULK_BUF_F_FREE;
		}
	}
	for (int v = NMINE; v < MAXV; v++) {
		V[v].id.host = 0xF022F022F022F022ull;
		V[v].id.pid = 4242;
		V[v].id.seq = (uint32_t)v;
		s_view_reset(v);
	}
	/* Every pool on both channels to start with. */
	for (int c = 0; c < NCH; c++) {
		for (int v = 0; v < MAXV; v++) {
			if (V[v].mine) {
				struct bulk_cont k = { assign_cont_fn, &C[c] };

				CHECK_RC(bulk_channel_assign_pool(C[c].ch, V[v].p, k), 0);
				CHECK_EQ_INT(C[c].last_ctrl.type, BULK_MSG_POOL_ASSIGN);
				memset(&C[c].s[C[c].last_ctrl.slot], 0, sizeof(struct sslot));
				C[c].s[C[c].last_ctrl.slot].st = BULK_SLOT_PENDING;
				C[c].s[C[c].last_ctrl.slot].mine = true;
				C[c].s[C[c].last_ctrl.slot].v = v;
				C[c].s[C[c].last_ctrl.slot].set_trust =
					V[v].trust == BULK_TRUST_UNINITIALIZED;
				V[v].trust = BULK_TRUST_FULL;
				peer_assign_reply(c, C[c].last_ctrl.slot, 0);
			} else {
				peer_assign(c, 2 * (uint32_t)v + 1, v, V[v].count, V[v].bsize,
					    BULK_TRUST_FULL, false, false, false);
			}
		}
	}
	check_all();
}

/* ------------------------------------------------------------ the end */

/* Make @p v assigned on @p c (ours to assign, the peer says yes). */
static int
ensure_assigned(int c, int v)
{
	int slot = s_slot(c, v, BULK_SLOT_ASSIGNED);

	if (slot >= 0)
		return slot;
	slot = s_slot(c, v, BULK_SLOT_PENDING);
	if (slot < 0) {
		struct bulk_cont k = { assign_cont_fn, &C[c] };

		CHECK_RC(bulk_channel_assign_pool(C[c].ch, V[v].p, k), 0);
		slot = C[c].last_ctrl.slot;
		memset(&C[c].s[slot], 0, sizeof(struct sslot));
		C[c].s[slot].st = BULK_SLOT_PENDING;
		C[c].s[slot].mine = true;
		C[c].s[slot].v = v;
		C[c].s[slot].set_trust = V[v].trust == BULK_TRUST_UNINITIALIZED;
		V[v].trust = BULK_TRUST_FULL;
	}
	peer_assign_reply(c, (uint32_t)slot, 0);
	return slot;
}

static void
drain(void)
{
	for (int c = 0; c < NCH; c++) {
		C[c].tx_room = ~0u;
		for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
			if (C[c].s[s].st == BULK_SLOT_PENDING)
				peer_assign_reply(c, s, 0);
	}
	/* The peer releases every copy we made... */
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		const struct sslot *sl = &C[C_TX].s[s];

		for (uint32_t i = 0; sl->st == BULK_SLOT_ASSIGNED && i < V[sl->v].count; i++)
			if (sl->cout[i])
				CHECK_EQ_INT(rx_desc(C_TX, BULK_MSG_RELEASE, s, i, 0), V_ACCEPT);
	}
	run_flush();
	/* ...we release every copy we hold... */
	for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++) {
		const struct sslot *sl = &C[C_RX].s[s];

		for (uint32_t i = 0; sl->st == BULK_SLOT_ASSIGNED && i < V[sl->v].count; i++)
			if (sl->cin[i])
				our_send(C_RX, BULK_MSG_RELEASE, sl->v, i, 0);
	}
	/* ...the peer returns our buffers, we return the peer's. */
	for (int v = 0; v < MAXV; v++) {
		for (uint32_t i = 0; V[v].p != NULL && i < V[v].count; i++) {
			struct sbuf *b = &V[v].b[i];

			if (V[v].mine && b->st == BULK_BUFFER_INVALID) {
				if (s_slot(C_RX, v, BULK_SLOT_ASSIGNED) >= 0)
					CHECK_EQ_INT(rx_desc(C_RX, BULK_MSG_MOVE,
							     (uint32_t)s_slot(C_RX, v,
									      BULK_SLOT_ASSIGNED),
							     i, V[v].bsize),
						     V_ACCEPT);
				else
					CHECK_EQ_INT(rx_desc(C_TX, BULK_MSG_PASS,
							     (uint32_t)ensure_assigned(C_TX, v),
							     i, 0),
						     V_ACCEPT);
			} else if (!V[v].mine && b->st == BULK_BUFFER_READ_WRITE) {
				if (s_slot(C_RX, v, BULK_SLOT_ASSIGNED) >= 0) {
					our_send(C_RX, BULK_MSG_PASS, v, i, 0);
				} else {
					ensure_assigned(C_TX, v);
					our_send(C_TX, BULK_MSG_MOVE, v, i, 0);
				}
			}
		}
	}
	run_flush();
	check_all();
	for (int v = 0; v < MAXV; v++)
		for (uint32_t i = 0; V[v].p != NULL && i < V[v].count; i++)
			CHECK(V[v].mine ? s_owner(&V[v].b[i]) : V[v].b[i].st ==
								  BULK_BUFFER_INVALID);
}

static void
finish(void)
{
	struct schan *tx = &C[C_TX], *rxc = &C[C_RX];
	uint64_t nctrl;

	drain();
	/* Teardown of ours on TX: acknowledged by the peer. */
	nctrl = tx->nctrl;
	CHECK_RC(bulk_channel_destroy(tx->ch, BULK_CONT_NONE), 0);
	CHECK_EQ_INT(tx->nctrl, nctrl + 1);
	CHECK_EQ_INT(tx->last_ctrl.type, BULK_MSG_TEARDOWN);
	CHECK_EQ_INT(tx->ch->state, BULK_STATE_TEARDOWN);
	/* Still receiving in TEARDOWN: garbage is still refused. */
	for (int j = 0; j < 1000; j++) {
		uint32_t type = rnd_type(), slot = rnd_slot(C_TX), cnt, bsz, idx, len;

		cnt = slot_count(C_TX, slot, &bsz);
		idx = rnd_index(cnt);
		len = rnd_len(bsz);
		if (predict(C_TX, type, slot, idx, len) == V_BAD)
			rx_desc(C_TX, type, slot, idx, len);
	}
	run_flush();
	bulk_core_rx_ctrl(tx->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_TEARDOWN_ACK });
	CHECK_EQ_INT(tx->ch->state, BULK_STATE_CLOSED);
	s_chan_void(C_TX);
	/* Teardown by the peer on RX: we acknowledge. */
	nctrl = rxc->nctrl;
	bulk_core_rx_ctrl(rxc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_TEARDOWN });
	CHECK_EQ_INT(rxc->nctrl, nctrl + 1);
	CHECK_EQ_INT(rxc->last_ctrl.type, BULK_MSG_TEARDOWN_ACK);
	CHECK_EQ_INT(rxc->ch->state, BULK_STATE_CLOSED);
	CHECK_EQ_INT(rxc->cb_teardown, 1);
	s_chan_void(C_RX);
	/* A late ack is refused; a closed channel stays closed. */
	bulk_core_rx_ctrl(rxc->ch, &(struct bulk_ctrl_rx){ .type = BULK_MSG_TEARDOWN_ACK });
	rxc->bad++;
	check_all();
	for (int c = 0; c < NCH; c++) {
		CHECK_EQ_INT(C[c].cfired, C[c].cpushed);
		C[c].chead = C[c].ctail;
	}
	/* Free the channels: received views holding nothing go. */
	for (int c = 0; c < NCH; c++) {
		CHECK_RC(bulk_channel_free(C[c].ch), 0);
		for (unsigned s = 0; s < BULK_CHANNEL_MAX_POOLS; s++)
			if (C[c].s[s].st != BULK_SLOT_FREE) {
				int v = C[c].s[s].v;

				s_slot_clear(c, s);
				s_maybe_drop(v);
			}
		CHECK_RC(bulk_endpoint_free(C[c].ep), 0);
	}
	CHECK(dom->chans == NULL);
	/* Nothing lost: every buffer of ours is home, every pool freeable. */
	for (int v = 0; v < MAXV; v++) {
		if (V[v].p == NULL)
			continue;
		for (uint32_t i = 0; V[v].mine && i < V[v].count; i++) {
			CHECK_EQ_INT(V[v].p->bufs[i].state, BULK_BUFFER_READ_WRITE);
			if (!(V[v].p->bufs[i].flags & BULK_BUF_F_FREE))
				CHECK_RC(bulk_pool_put(&V[v].p->bufs[i]), 0);
		}
		if (V[v].mine)
			CHECK_EQ_INT(bulk_pool_free_count(V[v].p), V[v].count);
		CHECK_RC(bulk_pool_free(V[v].p), 0);
		V[v].p = NULL;
	}
	CHECK(dom->pools == NULL);
	CHECK_RC(bulk_domain_destroy(dom), 0);
	CHECK_EQ_INT(n_unmaps, n_maps);
}

/* ------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	const char *seed_s = argc > 1 ? argv[1] : getenv("BULK_SEED");
	const char *n_s = argc > 2 ? argv[2] : getenv("BULK_FUZZ_DESCS");
	uint64_t seed = seed_s ? strtoull(seed_s, NULL, 0)
			       : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
	uint64_t target = n_s ? strtoull(n_s, NULL, 0) : 1000000;
	uint64_t steps = 0;

	printf("test_rx_fuzz: seed %" PRIu64 " (BULK_SEED=%" PRIu64 " to repeat), %" PRIu64
	       " descriptors\n", seed, seed, target);
	fflush(stdout);
	rng_state = seed;
	check_fail_hook = fail_hook;
	setup();
	while (n_desc < target) {
		int c = (int)rnd(NCH);
		uint32_t r = rnd(100);

		if (r < 6) {
			gen_ctrl(c);
		} else {
			unsigned n = 1 + rnd(16);

			for (unsigned j = 0; j < n; j++) {
				if (rnd(10) < 3) {
					run_flush();
					gen_send(c);
				} else {
					gen_desc(c);
				}
			}
			run_flush();
		}
		steps++;
		check_all();
	}
	printf("steps %" PRIu64 ": %" PRIu64 " descriptors (%" PRIu64 " accepted, %" PRIu64
	       " bad, %" PRIu64 " bounced), %" PRIu64 " sends, %" PRIu64 " control calls, "
	       "%" PRIu64 " views mapped\n", steps, n_desc, n_accept_total, n_bad_total,
	       n_bounce_total, n_sends, n_ctrl_ops, n_maps);
	finish();
	return CHECK_DONE("test_rx_fuzz");
}
