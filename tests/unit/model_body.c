/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The model: Algorithm 1's state restricted to what the operations touch.
 *   buffer_ownership   m.b[g].owner
 *   buffer_copies      m.b[g].copies, a bit per channel the buffer was copied over
 *   pools_to_channels  m.assigned[p], a bit per channel
 *   dir_to_ep/ep_to_dom  chan_src[] / chan_sink[] (fixed topology)
 * plus what the library adds: the free list (m.b[g].free, in the owner's
 * view), eight bytes of each domain's view of each buffer (m.v, see trust
 * levels below), the pools' trust and, per trust level, the access each
 * domain's process has to each buffer's memory.
 *
 * Topology: domains A B C; channels 0 A->B, 1 B->C, 2 B->A, 3 C->A, 4 A->B
 * (a second one), 5 A->C torn down at the start (every call on it fails).
 * Pools: 0 (A, 12 buffers), 1 (B, 8), 2 (C, 16), 3 (A, 8, allocated with a
 * trust other than the channels': never assignable). Queues of 1024 and a
 * drain after every operation keep the queues from filling up.
 *
 * Trust levels (model_backend.trust; every channel has the same one):
 *   FULL  256-byte buffers, bytes 0..7 checked. Every view is mapped
 *         read-write whatever its state (probed every 512 operations).
 *   HALF  4 KiB buffers (protection works on pages), the checked bytes
 *         spread over the buffer. A domain's pages of a buffer are
 *         read-write while it owns it without copies out, read-only while
 *         it holds a copy or owns it with copies out, inaccessible else:
 *         probed after every operation for the buffers it touched. The
 *         body itself reads only what the domain may read and writes only
 *         what it owns read-write.
 *   NONE  4 KiB buffers; each view is the domain's own memory (zeroed when
 *         created), a move, pass, copy or full copy of len bytes writes
 *         bytes [0, len) of the receiver's view and nothing else (as the
 *         payload_only backends do), and both sides count it in
 *         trust_copies / trust_copy_bytes. After a move or pass the sender
 *         writes its own memory of the buffer (still mapped): the
 *         receiver's data must not change. Access as at FULL.
 * With views of their own (NONE, payload_only), every holder's bytes are
 * predicted and compared, not only the owner's.
 *
 * Each operation is drawn as "valid" or "anything" (half each); "valid"
 * picks buffers the model says are allowed, "anything" then mutates one
 * position (wrong domain's view, other buffer, bad length, duplicate, NULL,
 * NULL meta, wrong side, closed channel). The model predicts the exact code
 * from the check order documented in bulk.h either way.
 *
 * Copy reachability: the library refuses a release only when the releasing
 * domain would lose its last copy while it has copies of its own out
 * (Algorithm 10's local rule). Cycles of copies cannot form: a copy into a
 * domain that can read the buffer already (owner, or holder of a copy from
 * another channel) is released back at once by the receiving library and
 * not delivered, so every copy hangs off a path from the owner. The model
 * predicts those bounces.
 *
 * Split mode (model_backend.local_mask): two processes run this body with
 * the same seed; the model, the random stream and every expected code
 * evolve identically in both, and each process calls the library only for
 * the domains it holds (an operation is executed and checked by the
 * process of its acting domain; a delivery by the receiver's). What only
 * the library of one process knows and the generator needs (which pool
 * views exist, which buffers a get returned, a new pool's id, free list
 * and first bytes) crosses the socketpair to the peer at the same point
 * in both. A reference to a view held by the other process ("wrong
 * domain's view" mutations) is replaced by a buffer or pool of a stand-in
 * domain of this process that has no channels: the same -BULK_E_WRONG_DOMAIN
 * (or -EINVAL for a put). The drain is a barrier over the socketpair.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>

#include "check.h"
#include "model_body.h"

#define ND 3
#define NC 6
#define NP 4
#define MAXB 16
#define NG (NP * MAXB)
#define BSZ_FULL 256
#define BSZ_PAGE 4096 /* HALF and NONE: pool_assign.c wants whole pages */
#define META 8
#define CH_CLOSED 5
#define POOL_MISTRUST 3
#define NBYTES 8 /* bytes of each view of each buffer the model follows */
#define PROBE_EVERY 512
#define HIST 20
#define MAXN 4

enum op_type {
	OP_MOVE,
	OP_PASS,
	OP_COPY,
	OP_RELEASE,
	OP_FULLCOPY,
	OP_ASSIGN,
	OP_REMOVE,
	OP_PUT,
	OP_GET,
	OP_NTYPES
};

static const char *const op_names[OP_NTYPES] = {
	"move", "pass", "copy", "release", "fullcopy", "assign", "remove", "put", "get",
};

static const int chan_src[NC] = { 0, 1, 1, 2, 0, 0 };
static const int chan_sink[NC] = { 1, 2, 0, 0, 1, 2 };
static const uint32_t chan_meta[NC] = { 0, META, 0, META, META, 0 };
static const int pool_alloc_dom[NP] = { 0, 1, 2, 0 };
static const uint32_t pool_count[NP] = { 12, 8, 16, 8 };

struct mbuf {
	int owner;
	uint32_t copies; /* bit k: (buffer, channel k) in buffer_copies */
	bool free;       /* in the owner's view's free list */
};

/* One domain's view of a buffer: the bytes at w.off[] of its memory. */
struct mview {
	uint8_t data[NBYTES];
};

/* What a receiving side's callback saw during one operation. */
struct delivery {
	int calls;
	int type;
	unsigned n;
	uint32_t lens[MAXN];
	uint8_t meta[MAXN * META];
};

struct side_ctx {
	int k, side;
	int veto;
	int assigned_calls, removed_calls;
	struct delivery dl;
};

struct op {
	int type, k, side, n, pool;
	bool meta_null, lens_null;
	int g[MAXN], vd[MAXN];
	bool null[MAXN];
	int src_g[MAXN], src_vd[MAXN];
	bool src_null[MAXN];
	uint32_t lens[MAXN];
	int veto;
};

static struct {
	struct mbuf b[NG];
	/* [d][g]: domain d's view of g; with shared memory only [0] is used */
	struct mview v[ND][NG];
	uint32_t assigned[NP];
	uint32_t trust_fixed;  /* bit p: pool p's trust was fixed by an assignment */
} m;

static struct {
	const struct model_backend *be;
	enum bulk_trust trust, other_trust; /* every channel's; pool 3's */
	uint32_t bsz;                   /* buffer size */
	uint32_t off[NBYTES];           /* the offsets of the bytes followed */
	bool own_views;                 /* each view is its own memory (NONE, payload_only) */
	int probe[2];                   /* a pipe: the kernel reports EFAULT where we would fault */
	uint64_t seed, rng;
	unsigned long opno;
	struct bulk_domain *dom[ND];
	struct bulk_endpoint *ep[NC];
	struct bulk_channel *ch[NC][2]; /* [k][0]: source (TX) side, [k][1]: sink */
	struct side_ctx ctx[NC][2];
	struct bulk_pool *pool[NP];     /* the allocators' views */
	struct bulk_pool_id id[NP];
	struct bulk_pool *view[ND][NP];
	bool hv[ND][NP];                /* view[d][p] exists, in whichever process */
	unsigned mask;                  /* the domains of this process */
	bool split;
	struct bulk_domain *standin;    /* split mode: a domain without channels */
	struct bulk_pool *standin_pool;
	uint64_t touched;               /* bit g: g's access may have changed since the compare */
	bool sweep;                     /* the next compare probes every buffer */
	bool (*pending)(void);          /* split drain: keep going while true */
	int pending_k;
	unsigned long nexec, ncross;    /* split: ops executed here; deliveries from the peer */
	char hist[HIST][256];
	unsigned long nvalid, ninvalid, per_type[OP_NTYPES], skipped, want_bad[OP_NTYPES];
	unsigned long nprobes, nprot[4], ntrust_copies, npartial, nviews[2];
	unsigned long codes[BULK_E_LAST - BULK_EBASE + 2];
} w;

/* ------------------------------------------------------------ helpers */

static uint64_t
rnd64(void)
{
	/* splitmix64: tiny, seedable, good enough */
	uint64_t z = (w.rng += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(rnd64() % n);
}

static int
pool_of(int g)
{
	return g / MAXB;
}

static int
idx_of(int g)
{
	return g % MAXB;
}

static bool
g_exists(int g)
{
	return (uint32_t)idx_of(g) < pool_count[pool_of(g)];
}

static int
chan_dom(int k, int side)
{
	return side == 0 ? chan_src[k] : chan_sink[k];
}

static bool
here(int d)
{
	return w.mask >> d & 1;
}

/* ------------------------------------------------------------ split mode */

static void
peer_write(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(w.be->peer_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "model: write to the peer process failed\n");
			CHECK(0);
		}
		p += n;
		len -= (size_t)n;
	}
}

static void
peer_read(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = read(w.be->peer_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "model: the peer process is gone\n");
			CHECK(0);
		}
		p += n;
		len -= (size_t)n;
	}
}

/* Split mode: what domain d's process knows, to both. */
static void
sync_from(int d, void *buf, size_t len)
{
	if (!w.split)
		return;
	if (here(d))
		peer_write(buf, len);
	else
		peer_read(buf, len);
}

static int
cin(int g, int d)
{
	int c = 0;

	for (int k = 0; k < NC; k++)
		if ((m.b[g].copies >> k & 1) && chan_sink[k] == d)
			c++;
	return c;
}

static int
cout(int g, int d)
{
	int c = 0;

	for (int k = 0; k < NC; k++)
		if ((m.b[g].copies >> k & 1) && chan_src[k] == d)
			c++;
	return c;
}

static bool
readable(int g, int d)
{
	return m.b[g].owner == d || cin(g, d) > 0;
}

/* The model's access of domain d to buffer g (invariants 2-4 as definitions). */
static int
maccess(int g, int d)
{
	if (m.b[g].owner == d)
		return m.b[g].copies ? BULK_BUFFER_RO_OWNED : BULK_BUFFER_READ_WRITE;
	return cin(g, d) > 0 ? BULK_BUFFER_READ_ONLY : BULK_BUFFER_INVALID;
}

static const char *
trust_name(enum bulk_trust t)
{
	return t == BULK_TRUST_FULL ? "FULL" : t == BULK_TRUST_HALF ? "HALF" : "NONE";
}

/* Domain d's view of g: its own, or the one memory every view shares. */
static struct mview *
mview(int d, int g)
{
	return &m.v[w.own_views ? d : 0][g];
}

/*
 * A transfer of len bytes of g from domain s's view to domain r's writes
 * bytes [0, len) of r's memory; where views share memory that is a no-op.
 */
static void
carry(int s, int r, int g, uint32_t len)
{
	for (int i = 0; i < NBYTES; i++)
		if (w.off[i] < len)
			mview(r, g)->data[i] = mview(s, g)->data[i];
}

/*
 * The access this process has to domain d's pages of g (PROT_* bits): HALF
 * maps them as the state allows, FULL and NONE leave every view read-write.
 */
static int
mprot(int g, int d)
{
	if (w.trust != BULK_TRUST_HALF)
		return PROT_READ | PROT_WRITE;
	switch (maccess(g, d)) {
	case BULK_BUFFER_READ_WRITE:
		return PROT_READ | PROT_WRITE;
	case BULK_BUFFER_INVALID:
		return PROT_NONE;
	default:
		return PROT_READ;
	}
}

/* The trust domain d's view of pool p has. */
static enum bulk_trust
mtrust(int d, int p)
{
	if (p == POOL_MISTRUST)
		return w.other_trust;
	/* Fixed at the first assignment; until then only the allocator has a view. */
	if (d == pool_alloc_dom[p] && !(m.trust_fixed >> p & 1))
		return BULK_TRUST_UNINITIALIZED;
	return w.trust;
}

/* Every copy edge starts at the owner or at a domain reachable from it. */
static bool
globally_reachable(int g, uint32_t copies)
{
	uint32_t reached = 1u << m.b[g].owner;
	bool grew = true;

	while (grew) {
		grew = false;
		for (int k = 0; k < NC; k++)
			if ((copies >> k & 1) && (reached >> chan_src[k] & 1) &&
			    !(reached >> chan_sink[k] & 1)) {
				reached |= 1u << chan_sink[k];
				grew = true;
			}
	}
	for (int k = 0; k < NC; k++)
		if ((copies >> k & 1) && !(reached >> chan_src[k] & 1))
			return false;
	return true;
}

static struct bulk_buffer *
lbuf(int d, int g)
{
	struct bulk_pool *v = w.view[d][pool_of(g)];

	return v ? bulk_pool_buffer(v, (uint32_t)idx_of(g)) : NULL;
}

static void
refresh_views(void)
{
	uint32_t mine = 0, theirs = 0;

	for (int d = 0; d < ND; d++)
		for (int p = 0; p < NP; p++) {
			w.view[d][p] = here(d) ? bulk_domain_pool_lookup(w.dom[d], &w.id[p]) : NULL;
			if (w.view[d][p] != NULL)
				mine |= 1u << (d * NP + p);
		}
	if (w.split) {
		peer_write(&mine, sizeof(mine));
		peer_read(&theirs, sizeof(theirs));
	}
	for (int d = 0; d < ND; d++)
		for (int p = 0; p < NP; p++) {
			bool had = w.hv[d][p];

			w.hv[d][p] = here(d) ? w.view[d][p] != NULL : (theirs >> (d * NP + p) & 1);
			w.nviews[0] += !had && w.hv[d][p];
			w.nviews[1] += had && !w.hv[d][p];
			/* A received view made since: its own memory starts zeroed
			 * (an anonymous mapping, shm NONE and dpdk alike). */
			if (w.own_views && !had && w.hv[d][p] && d != pool_alloc_dom[p])
				for (uint32_t i = 0; i < pool_count[p]; i++)
					memset(&m.v[d][p * MAXB + (int)i], 0, sizeof(struct mview));
		}
}

/* The buffer to hand to this process's library for (d's view of) g. */
static struct bulk_buffer *
xbuf(int d, int g)
{
	if (!here(d)) /* another process's view: any foreign buffer refuses alike */
		return bulk_pool_buffer(w.standin_pool, 0);
	return lbuf(d, g);
}

static void
hist_dump(void)
{
	fprintf(stderr, "model[%s]: FAILED at op %lu, seed %" PRIu64 " (rerun: BULK_SEED=%" PRIu64
		")\nlast operations:\n", w.be->name, w.opno, w.seed, w.seed);
	for (unsigned i = 0; i < HIST; i++) {
		const char *s = w.hist[(w.opno + 1 + i) % HIST];

		if (s[0] != '\0')
			fprintf(stderr, "  %s\n", s);
	}
}

static void
hist_add(const struct op *o, int expect, int got)
{
	char *s = w.hist[w.opno % HIST];
	size_t len = sizeof(w.hist[0]);
	int pos;

	if (o->type == OP_PUT || o->type == OP_GET) /* o->side is the domain */
		pos = snprintf(s, len, "#%lu %s in %c", w.opno, op_names[o->type],
			       'A' + o->side);
	else
		pos = snprintf(s, len, "#%lu %s ch%d.%s(%c)", w.opno, op_names[o->type], o->k,
			       o->side ? "rx" : "tx", 'A' + chan_dom(o->k, o->side));
	if (o->type == OP_ASSIGN || o->type == OP_REMOVE || o->type == OP_GET)
		pos += snprintf(s + pos, len - (size_t)pos, " pool%d(view %c)%s", o->pool,
				'A' + o->vd[0], o->veto ? " veto" : "");
	if (o->type != OP_ASSIGN && o->type != OP_REMOVE)
		pos += snprintf(s + pos, len - (size_t)pos, " n=%d%s%s", o->n,
				o->meta_null ? " meta=NULL" : "", o->lens_null ? " lens=NULL" : "");
	for (int i = 0; i < o->n && o->type != OP_ASSIGN && o->type != OP_REMOVE &&
	     o->type != OP_GET && pos < (int)len - 40; i++) {
		if (o->type == OP_FULLCOPY)
			pos += snprintf(s + pos, len - (size_t)pos, " %s%d.%d(%c)->",
					o->src_null[i] ? "NULL:" : "", pool_of(o->src_g[i]),
					idx_of(o->src_g[i]), 'A' + o->src_vd[i]);
		pos += snprintf(s + pos, len - (size_t)pos, " %s%d.%d(%c)/%u",
				o->null[i] ? "NULL:" : "", pool_of(o->g[i]), idx_of(o->g[i]),
				'A' + o->vd[i], o->lens[i]);
	}
	if (pos < (int)len - 1)
		snprintf(s + pos, len - (size_t)pos, " => expect %d (%s) got %d (%s)", expect,
			 expect < 0 ? bulk_strerror(expect) : "ok", got,
			 got < 0 ? bulk_strerror(got) : "ok");
}

/* Poll this process's domains until quiet. @return events handled. */
static int
poll_here(void)
{
	int total = 0;

	for (int round = 0; round < 1000; round++) {
		int handled = 0;

		for (int d = 0; d < ND; d++) {
			int rc;

			if (!here(d))
				continue;
			rc = bulk_domain_poll(w.dom[d], 0);
			CHECK_RC(rc >= 0 ? 0 : rc, 0);
			handled += rc;
		}
		if (handled == 0)
			return total;
		total += handled;
	}
	CHECK(!"domains never went quiet");
	return total;
}

/*
 * Split mode: each round, poll until quiet here, then trade the counts with
 * the peer; done after two rounds in a row in which neither side handled
 * anything (a message sent before a count was written is seen by the
 * peer's next round). w.pending, if set, keeps the rounds going while
 * something this process waits for (a close) has not happened yet.
 */
static void
split_drain(void)
{
	int quiet = 0;

	for (long round = 0; round < 200000; round++) {
		int32_t mine = poll_here(), theirs;

		if (w.pending != NULL && w.pending()) {
			struct timespec ts = { 0, 50000 };

			mine++;
			nanosleep(&ts, NULL);
		}
		peer_write(&mine, sizeof(mine));
		peer_read(&theirs, sizeof(theirs));
		if (mine == 0 && theirs == 0) {
			if (++quiet == 2)
				return;
		} else {
			quiet = 0;
		}
	}
	CHECK(!"the two processes never went quiet");
}

static void drain(void);

/* Split mode: a local side of channel w.pending_k is not CONNECTED yet. */
static bool
local_unconnected(void)
{
	for (int s = 0; s < 2; s++)
		if (here(chan_dom(w.pending_k, s)) && w.ch[w.pending_k][s] != NULL &&
		    bulk_channel_state(w.ch[w.pending_k][s]) != BULK_STATE_CONNECTED)
			return true;
	return false;
}

/* Split mode: a local side of channel w.pending_k is not CLOSED yet. */
static bool
local_open(void)
{
	for (int s = 0; s < 2; s++)
		if (here(chan_dom(w.pending_k, s)) &&
		    bulk_channel_state(w.ch[w.pending_k][s]) != BULK_STATE_CLOSED)
			return true;
	return false;
}

/* Drain until both sides of channel k (in whichever process) are CLOSED. */
static void
close_drain(int k)
{
	w.pending = local_open;
	w.pending_k = k;
	drain();
	w.pending = NULL;
}

static void
drain(void)
{
	if (w.split) {
		split_drain();
		return;
	}
	for (int round = 0; round < 1000; round++) {
		int handled = 0;

		for (int d = 0; d < ND; d++) {
			int rc = bulk_domain_poll(w.dom[d], 0);

			CHECK_RC(rc >= 0 ? 0 : rc, 0);
			handled += rc;
		}
		if (handled == 0)
			return;
	}
	CHECK(!"domains never went quiet");
}

/* ------------------------------------------------------------ callbacks */

static void
record(struct bulk_channel *ch, int type, const uint32_t *lens, const void *meta, unsigned n)
{
	struct side_ctx *c = bulk_channel_user(ch);
	uint32_t ms = bulk_channel_meta_size(ch);

	c->dl.calls++;
	c->dl.type = type;
	c->dl.n = n;
	for (unsigned i = 0; i < n && i < MAXN; i++) {
		c->dl.lens[i] = lens ? lens[i] : 0;
		if (ms > 0 && meta != NULL)
			memcpy(&c->dl.meta[i * META], (const uint8_t *)meta + i * ms, META);
	}
}

static void
cb_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)bufs;
	record(ch, OP_MOVE, lens, meta, n);
}

static void
cb_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)bufs;
	record(ch, OP_PASS, lens, meta, n);
}

static void
cb_copy(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	const void *meta, unsigned n)
{
	(void)bufs;
	record(ch, OP_COPY, lens, meta, n);
}

static void
cb_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)bufs;
	record(ch, OP_RELEASE, NULL, NULL, n);
}

static int
cb_assigned(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct side_ctx *c = bulk_channel_user(ch);

	CHECK(bulk_pool_domain(pool) == bulk_channel_domain(ch));
	c->assigned_calls++;
	return c->veto ? -1 : 0;
}

static void
cb_removed(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct side_ctx *c = bulk_channel_user(ch);

	(void)pool;
	c->removed_calls++;
}

static const struct bulk_channel_callbacks model_cbs = {
	.pool_assigned = cb_assigned,
	.pool_removed = cb_removed,
	.move_received = cb_move,
	.buffer_received = cb_pass,
	.copy_received = cb_copy,
	.copy_released = cb_released,
};

struct cont_rec {
	int fired, err;
};

static void
cont_fn(void *arg, int err, struct bulk_channel *ch)
{
	struct cont_rec *r = arg;

	(void)ch;
	r->fired++;
	r->err = err;
}

/* ------------------------------------------------------------ comparison */

/*
 * What this process may do to domain d's memory of g (PROT_* bits), asked
 * of the kernel: write() from an address we cannot read, or read() into one
 * we cannot write, fails with EFAULT where a plain access would fault.
 * Writability is probed (by writing back the byte that is there) only where
 * the model says d may read and nobody can be writing the buffer meanwhile:
 * d owns it read-write, or HALF (whoever holds it, it is read-only for all).
 * @p *wrote: whether writability was probed.
 */
static int
probe(int d, int g, bool *wrote)
{
	uint8_t *a = lbuf(d, g)->addr, x = 0;
	int prot = PROT_NONE;

	w.nprobes++;
	*wrote = false;
	if (write(w.probe[1], a, 1) == 1) {
		prot |= PROT_READ;
		CHECK(read(w.probe[0], &x, 1) == 1);
	} else {
		CHECK_RC(-errno, -EFAULT);
	}
	if ((prot & PROT_READ) && (mprot(g, d) & PROT_READ) &&
	    (maccess(g, d) == BULK_BUFFER_READ_WRITE || w.trust == BULK_TRUST_HALF)) {
		*wrote = true;
		CHECK(write(w.probe[1], &x, 1) == 1);
		if (read(w.probe[0], a, 1) == 1) {
			prot |= PROT_WRITE;
		} else {
			CHECK_RC(-errno, -EFAULT);
			CHECK(read(w.probe[0], &x, 1) == 1); /* what did not land */
		}
	}
	return prot;
}

/* Domain d's view of g (it has one, here): access if @p probe_it, and data. */
static void
compare_view(int d, int g, bool probe_it)
{
	const uint8_t *addr = lbuf(d, g)->addr;
	const char *st = bulk_buffer_state_name(maccess(g, d));

	if (probe_it) {
		bool wrote;
		int got = probe(d, g, &wrote), want = mprot(g, d);

		if (!wrote) /* read access only */
			want &= PROT_READ;
		if (got != want) {
			fprintf(stderr, "buffer %d.%d in %c (%s): access %s%s, model %s%s\n",
				pool_of(g), idx_of(g), 'A' + d, st, got & PROT_READ ? "r" : "-",
				got & PROT_WRITE ? "w" : "-", want & PROT_READ ? "r" : "-",
				want & PROT_WRITE ? "w" : "-");
			CHECK(0);
		}
		check_count++;
		w.nprot[!wrote && got ? 3 : got == PROT_NONE ? 0 : got == PROT_READ ? 1 : 2]++;
	}
	/* Payload data, through every view that may be read. */
	if (!readable(g, d))
		return;
	for (int i = 0; i < NBYTES; i++)
		if (addr[w.off[i]] != mview(d, g)->data[i]) {
			fprintf(stderr, "buffer %d.%d in %c (%s): byte %u is %u, model %u\n",
				pool_of(g), idx_of(g), 'A' + d, st, w.off[i], addr[w.off[i]],
				mview(d, g)->data[i]);
			CHECK(0);
		}
	check_count++; /* this view's bytes */
}

/* Library state against the model, and Algorithm 2 on both. */
static void
compare_all(void)
{
	/* What an operation touched is probed after it (FULL changes nothing
	 * there: not every time), and everything now and then. */
	uint64_t probe_set = w.opno % PROBE_EVERY == 0 || w.sweep ? ~0ull
			     : w.trust != BULK_TRUST_FULL ? w.touched : 0;

	w.touched = 0;
	w.sweep = false;
	refresh_views();
	for (int g = 0; g < NG; g++) {
		int owners = 0, owner_state = -1, sum_in = 0, sum_out = 0;

		if (!g_exists(g))
			continue;
		for (int d = 0; d < ND; d++) {
			struct bulk_buffer *b;
			int st;

			if (!here(d))
				continue;
			b = lbuf(d, g);
			st = b ? b->state : BULK_BUFFER_INVALID;
			int li = b ? b->copies_in : 0, lo = b ? (int)b->copies_out : 0;

			if (st != maccess(g, d) || li != cin(g, d) || lo != cout(g, d)) {
				fprintf(stderr, "buffer %d.%d in %c: library %s in %d out %d, "
					"model %s in %d out %d\n", pool_of(g), idx_of(g), 'A' + d,
					bulk_buffer_state_name(st), li, lo,
					bulk_buffer_state_name(maccess(g, d)), cin(g, d),
					cout(g, d));
				CHECK(0);
			}
			/* Invariants on the library-derived state. */
			if (st == BULK_BUFFER_READ_WRITE || st == BULK_BUFFER_RO_OWNED) {
				owners++;
				owner_state = st;
			}
			if (st == BULK_BUFFER_READ_ONLY)
				CHECK(li > 0);
			if (st == BULK_BUFFER_INVALID)
				CHECK(li == 0 && lo == 0);
			if (lo > 0) /* invariant 5: a copier is owner or copy receiver */
				CHECK(st != BULK_BUFFER_INVALID);
			sum_in += li;
			sum_out += lo;
		}
		if (!w.split) { /* sums over every domain: split mode compares each to the model */
			CHECK_EQ_INT(owners, 1);                 /* ownership is a function */
			CHECK_EQ_INT(sum_in, sum_out);           /* every copy has two ends */
			CHECK_EQ_INT(owner_state == BULK_BUFFER_READ_WRITE, sum_in == 0); /* 2, 3 */
		}

		/* Invariants on the model: 5 (local, as in the spec) and global reachability. */
		for (int k = 0; k < NC; k++)
			if (m.b[g].copies >> k & 1)
				CHECK(readable(g, chan_src[k]) && chan_sink[k] != chan_src[k]);
		CHECK(globally_reachable(g, m.b[g].copies));
		CHECK(!m.b[g].free || m.b[g].copies == 0);
		for (int k = 0; k < NC; k++)
			if (m.b[g].copies >> k & 1)
				CHECK(m.assigned[pool_of(g)] >> k & 1);

		for (int d = 0; d < ND; d++)
			if (here(d) && w.view[d][pool_of(g)] != NULL)
				compare_view(d, g, probe_set >> g & 1);
	}
	for (int p = 0; p < NP; p++) {
		for (int d = 0; d < ND; d++) {
			uint32_t nfree = 0;

			if (!here(d))
				continue;
			if (w.view[d][p] != NULL)
				CHECK_EQ_INT(bulk_pool_trust(w.view[d][p]), mtrust(d, p));
			for (uint32_t i = 0; i < pool_count[p]; i++) {
				int g = p * MAXB + (int)i;

				if (m.b[g].free && m.b[g].owner == d)
					nfree++;
			}
			if (w.view[d][p] != NULL)
				CHECK_EQ_INT(bulk_pool_free_count(w.view[d][p]), nfree);
			else
				CHECK_EQ_INT(nfree, 0);
		}
		for (int k = 0; k < NC; k++)
			for (int s = 0; s < 2; s++) {
				struct bulk_pool *v = w.view[chan_dom(k, s)][p];
				int lib;

				if (!here(chan_dom(k, s)))
					continue;
				lib = v ? bulk_channel_has_pool(w.ch[k][s], v) : 0;

				if (lib != (int)(m.assigned[p] >> k & 1)) {
					fprintf(stderr, "pool %d on channel %d side %d: library %d "
						"model %d\n", p, k, s, lib,
						(int)(m.assigned[p] >> k & 1));
					CHECK(0);
				}
			}
	}
}

/* ------------------------------------------------------------ prediction */

static int
predict_xfer(const struct op *o)
{
	int d = chan_dom(o->k, o->side);
	int want_side = (o->type == OP_PASS || o->type == OP_RELEASE) ? 1 : 0;
	int t = o->type;

	if (o->n == 0 || (t != OP_RELEASE && o->meta_null && chan_meta[o->k] > 0))
		return -EINVAL;
	if (o->k == CH_CLOSED)
		return -BULK_E_NOT_CONNECTED;
	if (o->side != want_side)
		return -BULK_E_WRONG_DIRECTION;
	for (int i = 0; i < o->n; i++) {
		int g = o->g[i];
		const struct mbuf *b = &m.b[g];

		if (t == OP_FULLCOPY) {
			if (o->src_null[i])
				return -EINVAL;
			if (o->src_vd[i] != d)
				return -BULK_E_WRONG_DOMAIN;
			if (!readable(o->src_g[i], d))
				return -BULK_E_NO_ACCESS;
		}
		if (o->null[i])
			return -EINVAL;
		if (o->vd[i] != d)
			return -BULK_E_WRONG_DOMAIN;
		if (t != OP_RELEASE && o->lens[i] > w.bsz)
			return -BULK_E_BAD_LENGTH;
		if (!(m.assigned[pool_of(g)] >> o->k & 1))
			return -BULK_E_POOL_NOT_ASSIGNED;
		switch (t) {
		case OP_MOVE:
		case OP_PASS:
		case OP_FULLCOPY:
			if (b->owner != d)
				return -BULK_E_NOT_OWNER;
			if (b->copies)
				return -BULK_E_BUFFER_COPIED;
			if (b->free)
				return -BULK_E_BUFFER_FREE;
			break;
		case OP_COPY:
			if (!readable(g, d))
				return -BULK_E_NO_ACCESS;
			if (b->copies >> o->k & 1)
				return -BULK_E_COPY_EXISTS;
			if (b->free && b->owner == d)
				return -BULK_E_BUFFER_FREE;
			break;
		case OP_RELEASE:
			if (!(b->copies >> o->k & 1))
				return -BULK_E_NOT_COPY;
			if (b->owner != d && cout(g, d) > 0 && cin(g, d) == 1)
				return -BULK_E_COPY_REACHABILITY;
			break;
		default:
			break;
		}
		for (int j = 0; j < i; j++)
			if (!o->null[j] && o->g[j] == g && o->vd[j] == o->vd[i])
				return -BULK_E_DUPLICATE;
	}
	return 0;
}

static int
predict_pool_op(const struct op *o)
{
	int d = chan_dom(o->k, o->side), p = o->pool;

	if (o->vd[0] != d)
		return -BULK_E_WRONG_DOMAIN;
	if (o->k == CH_CLOSED)
		return -BULK_E_NOT_CONNECTED;
	if (o->type == OP_ASSIGN) {
		if (m.assigned[p] >> o->k & 1)
			return -BULK_E_POOL_ASSIGNED;
		if (p == POOL_MISTRUST)
			return -BULK_E_TRUST_MISMATCH;
		return 0;
	}
	if (!(m.assigned[p] >> o->k & 1))
		return -BULK_E_POOL_NOT_ASSIGNED;
	for (uint32_t i = 0; i < pool_count[p]; i++) {
		int g = p * MAXB + (int)i;

		if (m.b[g].owner != d || m.b[g].copies)
			return -BULK_E_POOL_IN_USE;
	}
	return 0;
}

/* put_burst on domain o->side's view of pool o->pool (the order of bulk_alloc.h). */
static int
predict_put(const struct op *o)
{
	int d = o->side;

	for (int i = 0; i < o->n; i++) {
		int g = o->g[i];

		if (o->null[i] || pool_of(g) != o->pool || o->vd[i] != d)
			return -EINVAL;
		if (maccess(g, d) != BULK_BUFFER_READ_WRITE)
			return -BULK_E_NOT_OWNER;
		if (m.b[g].free)
			return -BULK_E_BUFFER_FREE;
		for (int j = 0; j < i; j++)
			if (o->g[j] == g)
				return -BULK_E_DUPLICATE;
	}
	return 0;
}

/* ------------------------------------------------------------ generation */

static bool
valid_for(int t, int g, int d, int k)
{
	const struct mbuf *b = &m.b[g];

	if (!g_exists(g))
		return false;
	if (t == OP_PUT)
		return maccess(g, d) == BULK_BUFFER_READ_WRITE && !b->free;
	if (!(m.assigned[pool_of(g)] >> k & 1))
		return false;
	switch (t) {
	case OP_MOVE:
	case OP_PASS:
	case OP_FULLCOPY:
		return b->owner == d && !b->copies && !b->free;
	case OP_COPY:
		return readable(g, d) && !(b->copies >> k & 1) && !(b->free && b->owner == d);
	case OP_RELEASE:
		return (b->copies >> k & 1) && !(b->owner != d && cout(g, d) > 0 && cin(g, d) == 1);
	default:
		return false;
	}
}

/* A view of g to hand to the library: domain d's if it has one, else another's. */
static int
some_view(int g, int prefer)
{
	if (w.hv[prefer][pool_of(g)])
		return prefer;
	for (int d = 0; d < ND; d++)
		if (w.hv[d][pool_of(g)])
			return d;
	CHECK(!"no view of a pool at all");
	return 0;
}

static int
random_g(void)
{
	int g;

	do
		g = (int)rnd(NG);
	while (!g_exists(g));
	return g;
}

static void
gen_xfer(struct op *o, bool want_valid)
{
	int cand[NG], nc = 0, d;

	o->k = rnd(40) == 0 ? CH_CLOSED : (int)rnd(NC - 1);
	o->side = (o->type == OP_PASS || o->type == OP_RELEASE) ? 1 : 0;
	if (want_valid) { /* a channel on which something is valid, if there is one */
		int ks[NC], nk = 0;

		for (int k = 0; k < CH_CLOSED; k++)
			for (int g = 0; g < NG; g++)
				if (valid_for(o->type, g, chan_dom(k, o->side), k)) {
					ks[nk++] = k;
					break;
				}
		if (nk > 0)
			o->k = ks[rnd((unsigned)nk)];
	} else if (rnd(8) == 0) {
		o->side ^= 1;
	}
	d = chan_dom(o->k, o->side);
	for (int g = 0; g < NG; g++)
		if (valid_for(o->type, g, d, o->k))
			cand[nc++] = g;
	o->n = 1 + (int)rnd(MAXN);
	o->lens_null = o->type != OP_RELEASE && rnd(4) == 0;
	o->meta_null = chan_meta[o->k] == 0 && rnd(2) == 0;
	for (int i = 0; i < o->n; i++) {
		if (nc > 0) {
			int j = (int)rnd((unsigned)nc);

			o->g[i] = cand[j];
			cand[j] = cand[--nc];
		} else {
			o->g[i] = random_g();
		}
		o->vd[i] = some_view(o->g[i], d);
		o->lens[i] = o->lens_null ? w.bsz : rnd(w.bsz + 1);
		if (o->type == OP_RELEASE)
			o->lens[i] = 0;
	}
	if (o->type == OP_FULLCOPY) {
		for (int i = 0; i < o->n; i++) {
			int tries = 0, g;
			bool clash;

			do {
				g = random_g();
				clash = false;
				for (int j = 0; j < o->n; j++)
					clash |= g == o->g[j];
			} while ((clash || (!readable(g, d) && (want_valid || rnd(8) != 0))) &&
				 ++tries < 400);
			if (clash)
				g = POOL_MISTRUST * MAXB + (int)rnd(pool_count[POOL_MISTRUST]);
			o->src_g[i] = g;
			o->src_vd[i] = some_view(g, d);
		}
	}
	if (want_valid)
		return;
	/* One or two mutations at random positions. */
	for (int r = 1 + (int)rnd(2); r > 0 && o->n > 0; r--) {
		int i = (int)rnd((unsigned)o->n);

		switch (rnd(11)) {
		case 0: /* someone else's view */
			for (int tries = 0; tries < 4; tries++) {
				int vd = (int)rnd(ND);

				if (w.hv[vd][pool_of(o->g[i])]) {
					o->vd[i] = vd;
					break;
				}
			}
			break;
		case 1:
		case 2:
		case 3: /* any buffer */
			o->g[i] = random_g();
			o->vd[i] = some_view(o->g[i], d);
			break;
		case 4: /* bad length */
			if (o->type != OP_RELEASE) {
				o->lens_null = false;
				o->lens[i] = w.bsz + 1 + rnd(1000);
			}
			break;
		case 5: /* duplicate */
			if (o->n == 1) {
				o->n = 2;
				o->g[1] = o->g[0];
				o->vd[1] = o->vd[0];
				o->null[1] = o->null[0];
				o->lens[1] = o->lens[0];
				o->src_g[1] = o->src_g[0];
				o->src_vd[1] = o->src_vd[0];
				o->src_null[1] = o->src_null[0];
			}
			{
				int j = (i + 1 + (int)rnd((unsigned)o->n - 1)) % o->n;

				o->g[i] = o->g[j];
				o->vd[i] = o->vd[j];
			}
			break;
		case 6:
			if (rnd(4) == 0)
				o->null[i] = true;
			else if (o->type == OP_FULLCOPY)
				o->src_null[i] = rnd(4) == 0;
			break;
		case 7:
			if (chan_meta[o->k] > 0)
				o->meta_null = true;
			else if (rnd(8) == 0)
				o->n = 0;
			break;
		case 8: /* full copy: unreadable or foreign source */
			if (o->type == OP_FULLCOPY) {
				o->src_g[i] = POOL_MISTRUST * MAXB +
					      (int)rnd(pool_count[POOL_MISTRUST]);
				o->src_vd[i] = (int)rnd(ND);
				if (!w.hv[o->src_vd[i]][POOL_MISTRUST])
					o->src_vd[i] = 0;
			}
			break;
		default: /* another valid-looking buffer of another op type */
			o->g[i] = random_g();
			o->vd[i] = some_view(o->g[i], d);
			break;
		}
	}
	if (o->type == OP_FULLCOPY) /* never a source that is also a destination */
		for (int i = 0; i < o->n; i++)
			for (int j = 0; j < o->n; j++)
				if (o->src_g[i] == o->g[j]) {
					o->src_g[i] = POOL_MISTRUST * MAXB +
						      (int)rnd(pool_count[POOL_MISTRUST]);
					o->src_vd[i] = some_view(o->src_g[i], d);
				}
}

static void
gen_pool_op(struct op *o, bool want_valid)
{
	int d;

	o->n = 0;
	if (want_valid) {
		int ck[NC * 2 * NP][3], nc = 0;

		for (int k = 0; k < NC; k++)
			for (int s = 0; s < 2; s++)
				for (int p = 0; p < NP; p++) {
					struct op t = *o;

					t.k = k;
					t.side = s;
					t.pool = p;
					t.vd[0] = chan_dom(k, s);
					if (w.hv[t.vd[0]][p] &&
					    predict_pool_op(&t) == 0) {
						ck[nc][0] = k;
						ck[nc][1] = s;
						ck[nc][2] = p;
						nc++;
					}
				}
		if (nc > 0) {
			int j = (int)rnd((unsigned)nc);

			o->k = ck[j][0];
			o->side = ck[j][1];
			o->pool = ck[j][2];
			o->vd[0] = chan_dom(o->k, o->side);
			if (o->type == OP_ASSIGN)
				o->veto = rnd(6) == 0;
			return;
		}
	}
	o->k = rnd(20) == 0 ? CH_CLOSED : (int)rnd(NC - 1);
	o->side = (int)rnd(2);
	o->pool = (int)rnd(NP);
	d = chan_dom(o->k, o->side);
	o->vd[0] = w.hv[d][o->pool] && rnd(6) != 0 ? d : some_view(o->pool * MAXB, d);
	if (!w.hv[o->vd[0]][o->pool])
		o->vd[0] = pool_alloc_dom[o->pool];
}

/* ------------------------------------------------------------ execution */

/* Domain d writes g in its own memory, whatever it holds: new bytes in its view. */
static void
stamp(int d, int g)
{
	struct mview *v = mview(d, g);

	for (int i = 0; i < NBYTES; i++) {
		v->data[i] = (uint8_t)rnd(256);
		if (here(d))
			((uint8_t *)lbuf(d, g)->addr)[w.off[i]] = v->data[i];
	}
}

static void
exec_xfer(struct op *o)
{
	struct bulk_buffer *bufs[MAXN], *src[MAXN];
	uint8_t meta[MAXN * META];
	struct bulk_channel_stats st0[2], st1[2];
	struct cont_rec cr = { 0, 0 };
	struct bulk_cont k = { cont_fn, &cr };
	struct bulk_channel *ch = w.ch[o->k][o->side];
	struct side_ctx *peer = &w.ctx[o->k][o->side ^ 1];
	int d = chan_dom(o->k, o->side);
	bool act = here(d), rx_here = here(chan_dom(o->k, o->side ^ 1));
	int expect, rc;

	expect = predict_xfer(o);
	if (expect == 0 && o->type == OP_RELEASE) {
		/* Copies form a tree (bounces), so a release the local rule allows
		 * can never cut other copies off from their owner. */
		for (int i = 0; i < o->n; i++)
			CHECK(globally_reachable(o->g[i], m.b[o->g[i]].copies & ~(1u << o->k)));
	}
	w.opno++;
	for (int i = 0; i < o->n; i++) {
		bufs[i] = o->null[i] || !act ? NULL : xbuf(o->vd[i], o->g[i]);
		if (o->type == OP_FULLCOPY)
			src[i] = o->src_null[i] || !act ? NULL : xbuf(o->src_vd[i], o->src_g[i]);
		/* The application writes what it owns read-write before sending it
		 * (the view o->vd[i] exists: the generator picks views that do). */
		if (!o->null[i] && o->vd[i] == d &&
		    maccess(o->g[i], d) == BULK_BUFFER_READ_WRITE)
			stamp(d, o->g[i]);
		memset(&meta[i * META], (int)(w.opno + (unsigned)i) & 0xff, META);
	}
	for (int s = 0; s < 2; s++)
		if (here(chan_dom(o->k, s)))
			CHECK_RC(bulk_channel_stats_get(w.ch[o->k][s], &st0[s]), 0);
	memset(&peer->dl, 0, sizeof(peer->dl));
	w.nexec += act;
	if (!act) /* the other process executes and checks it */
		rc = expect == 0 ? o->n : expect;
	else switch (o->type) {
	case OP_MOVE:
		rc = bulk_channel_move_burst(ch, bufs, o->lens_null ? NULL : o->lens,
					     o->meta_null ? NULL : meta, (unsigned)o->n, k);
		break;
	case OP_PASS:
		rc = bulk_channel_pass_burst(ch, bufs, o->lens_null ? NULL : o->lens,
					     o->meta_null ? NULL : meta, (unsigned)o->n, k);
		break;
	case OP_COPY:
		rc = bulk_channel_copy_burst(ch, bufs, o->lens_null ? NULL : o->lens,
					     o->meta_null ? NULL : meta, (unsigned)o->n, k);
		break;
	case OP_RELEASE:
		rc = bulk_channel_release_burst(ch, bufs, (unsigned)o->n, k);
		break;
	default:
		rc = bulk_channel_full_copy_burst(ch, src, bufs, o->lens_null ? NULL : o->lens,
						  o->meta_null ? NULL : meta, (unsigned)o->n, k);
		break;
	}
	hist_add(o, expect, rc);
	if (rc > 0 && rc < o->n) {
		fprintf(stderr, "short count %d of %d: a queue was full\n", rc, o->n);
		CHECK(0);
	}
	CHECK_RC(rc, expect == 0 ? o->n : expect);
	drain();
	if (expect < 0) {
		w.ninvalid++;
		w.codes[-expect >= BULK_EBASE ? -expect - BULK_EBASE : BULK_E_LAST - BULK_EBASE]++;
		if (act)
			CHECK_EQ_INT(cr.fired, 0);
		if (rx_here)
			CHECK_EQ_INT(peer->dl.calls, 0);
		for (int s = 0; s < 2; s++) {
			if (!here(chan_dom(o->k, s)))
				continue;
			CHECK_RC(bulk_channel_stats_get(w.ch[o->k][s], &st1[s]), 0);
			CHECK(memcmp(&st0[s], &st1[s], sizeof(st0[s])) == 0);
		}
		compare_all();
		return;
	}
	w.nvalid++;
	w.codes[BULK_E_LAST - BULK_EBASE + 1]++;
	if (act) {
		CHECK_EQ_INT(cr.fired, 1);
		CHECK_RC(cr.err, 0);
	}
	/*
	 * A copy into a domain that can read the buffer already is released
	 * back at once by the receiving library and not delivered: copies stay
	 * a tree rooted at the owner. Decide that before the transition.
	 */
	bool bounced[MAXN] = { false };
	int nb = 0;

	if (o->type == OP_COPY)
		for (int i = 0; i < o->n; i++)
			if (readable(o->g[i], chan_dom(o->k, o->side ^ 1))) {
				bounced[i] = true;
				nb++;
			}
	/* Model transition. */
	for (int i = 0; i < o->n; i++) {
		struct mbuf *b = &m.b[o->g[i]];
		int r = chan_dom(o->k, o->side ^ 1);

		w.touched |= 1ull << o->g[i];
		switch (o->type) {
		case OP_FULLCOPY:
			/* The library copies len bytes in the sender's memory first. */
			w.touched |= 1ull << o->src_g[i];
			for (int j = 0; j < NBYTES; j++)
				if (w.off[j] < o->lens[i])
					mview(d, o->g[i])->data[j] = mview(d, o->src_g[i])->data[j];
			/* fall through */
		case OP_MOVE:
		case OP_PASS:
			b->owner = r;
			carry(d, r, o->g[i], o->lens[i]);
			w.npartial += o->lens[i] > w.off[0] && o->lens[i] <= w.off[NBYTES - 1];
			break;
		case OP_COPY:
			if (!bounced[i]) { /* a bounce writes nothing */
				b->copies |= 1u << o->k;
				carry(d, r, o->g[i], o->lens[i]);
			}
			break;
		case OP_RELEASE:
			b->copies &= ~(1u << o->k);
			break;
		default:
			break;
		}
	}
	/*
	 * NONE's promise: the sender can not change the receiver's data after
	 * the transfer. Its memory of what it moved or passed is its own and
	 * still mapped read-write: it writes there, and only its own view
	 * changes (compare_all and every later transfer see which).
	 */
	if (w.trust == BULK_TRUST_NONE && o->type != OP_COPY && o->type != OP_RELEASE)
		for (int i = 0; i < o->n; i++)
			stamp(d, o->g[i]);
	/* The receiver's callback ran once with the (delivered part of the) burst. */
	if (!rx_here) {
		/* checked by the receiver's process */
	} else if (o->n - nb > 0) {
		if (!act)
			w.ncross++;
		int j = 0;

		CHECK_EQ_INT(peer->dl.calls, 1);
		CHECK_EQ_INT(peer->dl.n, o->n - nb);
		CHECK_EQ_INT(peer->dl.type, o->type == OP_FULLCOPY ? OP_MOVE : o->type);
		for (int i = 0; i < o->n && o->type != OP_RELEASE; i++) {
			if (bounced[i])
				continue;
			CHECK_EQ_INT(peer->dl.lens[j], o->lens[i]);
			if (chan_meta[o->k] > 0)
				CHECK(memcmp(&peer->dl.meta[j * META], &meta[i * META], META) == 0);
			j++;
		}
	} else {
		CHECK_EQ_INT(peer->dl.calls, 0);
	}
	uint64_t bad_desc = 0;

	for (int s = 0; s < 2; s++) {
		if (!here(chan_dom(o->k, s)))
			continue;
		CHECK_RC(bulk_channel_stats_get(w.ch[o->k][s], &st1[s]), 0);
		bad_desc += st1[s].bad_desc;
	}
	CHECK_EQ_INT(bad_desc, 0);
	/* NONE copies the data of every transfer but a release in and out of
	 * staging memory, a bounced copy only in (the receiver refuses it). */
	uint64_t tc[2] = { 0, 0 }, tb[2] = { 0, 0 };

	for (int i = 0; i < o->n && w.trust == BULK_TRUST_NONE && o->type != OP_RELEASE; i++) {
		tc[o->side]++;
		tb[o->side] += o->lens[i];
		tc[o->side ^ 1] += !bounced[i];
		tb[o->side ^ 1] += bounced[i] ? 0 : o->lens[i];
	}
	for (int s = 0; s < 2; s++) {
		if (!here(chan_dom(o->k, s)))
			continue;
		CHECK_EQ_INT(st1[s].trust_copies - st0[s].trust_copies, tc[s]);
		CHECK_EQ_INT(st1[s].trust_copy_bytes - st0[s].trust_copy_bytes, tb[s]);
		w.ntrust_copies += tc[s];
	}
	if (act) {
		CHECK_EQ_INT(st1[o->side].tx_bufs - st0[o->side].tx_bufs, o->n);
		if (o->type == OP_FULLCOPY)
			CHECK_EQ_INT(st1[o->side].lib_copies - st0[o->side].lib_copies, o->n);
	}
	if (rx_here) {
		CHECK_EQ_INT(st1[o->side ^ 1].rx_bufs - st0[o->side ^ 1].rx_bufs, o->n - nb);
		CHECK_EQ_INT(st1[o->side ^ 1].copies_bounced - st0[o->side ^ 1].copies_bounced,
			     nb);
	}
	compare_all();
}

static void
exec_pool_op(struct op *o)
{
	struct cont_rec cr = { 0, 0 };
	struct bulk_cont k = { cont_fn, &cr };
	struct bulk_channel *ch = w.ch[o->k][o->side];
	struct side_ctx *peer = &w.ctx[o->k][o->side ^ 1];
	bool act = here(chan_dom(o->k, o->side)), rx_here = here(chan_dom(o->k, o->side ^ 1));
	/* another process's view: a foreign pool refuses alike */
	struct bulk_pool *v = here(o->vd[0]) ? w.view[o->vd[0]][o->pool] : w.standin_pool;
	int expect, rc, removed0 = peer->removed_calls, assigned0 = peer->assigned_calls;

	w.opno++;
	expect = predict_pool_op(o);
	/* A new view is mapped as its (no) access says: probe the pool. */
	for (uint32_t i = 0; i < pool_count[o->pool]; i++)
		w.touched |= 1ull << (o->pool * MAXB + (int)i);
	peer->veto = o->veto;
	w.nexec += act;
	if (!act) /* the other process executes and checks it */
		rc = expect;
	else if (o->type == OP_ASSIGN)
		rc = bulk_channel_assign_pool(ch, v, k);
	else
		rc = bulk_channel_remove_pool(ch, v, k);
	hist_add(o, expect, rc);
	CHECK_RC(rc, expect);
	drain();
	peer->veto = 0;
	if (expect < 0) {
		w.ninvalid++;
		w.codes[-expect >= BULK_EBASE ? -expect - BULK_EBASE : BULK_E_LAST - BULK_EBASE]++;
		if (act)
			CHECK_EQ_INT(cr.fired, 0);
	} else {
		w.nvalid++;
		w.codes[BULK_E_LAST - BULK_EBASE + 1]++;
		if (act)
			CHECK_EQ_INT(cr.fired, 1);
		if (o->type == OP_ASSIGN && o->veto) {
			if (act)
				CHECK_RC(cr.err, -BULK_E_VETOED);
			if (rx_here)
				CHECK_EQ_INT(peer->assigned_calls, assigned0 + 1);
		} else if (o->type == OP_ASSIGN) {
			if (act)
				CHECK_RC(cr.err, 0);
			if (rx_here)
				CHECK_EQ_INT(peer->assigned_calls, assigned0 + 1);
			m.assigned[o->pool] |= 1u << o->k;
			m.trust_fixed |= 1u << o->pool;
		} else {
			if (act)
				CHECK_RC(cr.err, 0);
			if (rx_here)
				CHECK_EQ_INT(peer->removed_calls, removed0 + 1);
			w.ncross += rx_here && !act;
			m.assigned[o->pool] &= ~(1u << o->k);
		}
	}
	compare_all();
}

/* put and get on the view of domain o->side (the domain) of pool o->pool. */
static void
exec_put_get(struct op *o, bool want_valid)
{
	int d = (int)rnd(ND), p = (int)rnd(NP), expect, rc;
	struct bulk_pool *v;
	struct bulk_buffer *bufs[MAXN];

	if (want_valid) {
		/* A pool in which d has something to put or get. */
		for (int tries = 0; tries < 12; tries++) {
			bool some = false;

			for (uint32_t i = 0; i < pool_count[p]; i++) {
				int g = p * MAXB + (int)i;

				some |= o->type == OP_PUT ? valid_for(OP_PUT, g, d, 0)
							  : (m.b[g].free && m.b[g].owner == d);
			}
			if (some && w.hv[d][p])
				break;
			d = (int)rnd(ND);
			p = (int)rnd(NP);
		}
	}
	if (!w.hv[d][p]) {
		w.skipped++;
		return;
	}
	v = w.view[d][p]; /* NULL in the process that does not hold d */
	w.opno++;
	o->k = 0;
	o->side = d;
	o->pool = p;
	o->vd[0] = d;
	o->n = 1 + (int)rnd(3);
	if (o->type == OP_GET) {
		uint32_t nfree = 0;

		for (uint32_t i = 0; i < pool_count[p]; i++)
			nfree += m.b[p * MAXB + (int)i].free && m.b[p * MAXB + (int)i].owner == d;
		expect = (int)(nfree < (uint32_t)o->n ? nfree : (uint32_t)o->n);
		/* Which buffers the free list hands out is the library's: d's process
		 * tells the other one. */
		struct { int32_t rc; uint32_t idx[MAXN]; } got = { expect, { 0 } };

		if (here(d)) {
			rc = bulk_pool_get_burst(v, bufs, (unsigned)o->n);
			got.rc = rc;
			for (int i = 0; i < rc && i < MAXN; i++) {
				CHECK(bufs[i]->pool == v);
				got.idx[i] = bufs[i]->index;
			}
		}
		sync_from(d, &got, sizeof(got));
		rc = got.rc;
		hist_add(o, expect, rc);
		CHECK_RC(rc, expect);
		for (int i = 0; i < rc; i++) {
			int g = p * MAXB + (int)got.idx[i];

			if (w.split) /* what the peer sent */
				CHECK(got.idx[i] < pool_count[p]);
			CHECK(m.b[g].free && m.b[g].owner == d);
			m.b[g].free = false;
		}
		w.nvalid++;
		compare_all();
		return;
	}
	for (int i = 0; i < o->n; i++) {
		int cand[MAXB], nc = 0;

		for (uint32_t j = 0; j < pool_count[p]; j++)
			if (valid_for(OP_PUT, p * MAXB + (int)j, d, 0))
				cand[nc++] = p * MAXB + (int)j;
		o->g[i] = (want_valid && nc > 0) ? cand[rnd((unsigned)nc)]
						 : p * MAXB + (int)rnd(pool_count[p]);
		o->vd[i] = d;
	}
	if (!want_valid && rnd(4) == 0) { /* another pool's buffer: EINVAL */
		int i = (int)rnd((unsigned)o->n);

		o->g[i] = random_g();
		o->vd[i] = some_view(o->g[i], d);
	}
	for (int i = 0; i < o->n; i++)
		bufs[i] = here(d) ? xbuf(o->vd[i], o->g[i]) : NULL;
	expect = predict_put(o);
	if (here(d))
		rc = bulk_pool_put_burst(v, bufs, (unsigned)o->n);
	else /* the other process executes and checks it */
		rc = expect == 0 ? o->n : expect;
	hist_add(o, expect, rc);
	CHECK_RC(rc, expect == 0 ? o->n : expect);
	if (expect == 0) {
		w.nvalid++;
		for (int i = 0; i < o->n; i++)
			m.b[o->g[i]].free = true;
	} else {
		w.ninvalid++;
	}
	compare_all();
}

/* ------------------------------------------------------------ set-up, teardown */

static void
setup(void)
{
	struct bulk_bind_params bp;

	for (int d = 0; d < ND; d++) {
		char name[2] = { (char)('A' + d), 0 };

		if (here(d))
			CHECK_RC(bulk_domain_create(name, &w.dom[d]), 0);
	}
	if (w.split) { /* owns a buffer of no model domain, for foreign references */
		struct bulk_pool_params pp = { .count = 1, .buffer_size = w.bsz };

		CHECK_RC(bulk_domain_create("X", &w.standin), 0);
		CHECK_RC(bulk_pool_alloc(w.standin, &pp, &w.standin_pool), 0);
	}
	for (int k = 0; k < NC; k++) {
		/* The creator is the source or the sink, at random. */
		int cs = (int)rnd(2);
		struct bulk_channel_params cp = {
			.direction = cs == 0 ? BULK_DIRECTION_TX : BULK_DIRECTION_RX,
			.role = rnd(2) ? BULK_ROLE_MASTER : BULK_ROLE_GENERIC,
			.meta_size = chan_meta[k],
			.queue_size = 1024,
			.user = &w.ctx[k][cs],
			.trust = w.be->trust,
		};
		struct cont_rec cr = { 0, 0 };

		memset(&bp, 0, sizeof(bp));
		bp.user = &w.ctx[k][cs ^ 1];
		bp.trust = w.be->trust; /* 0 (FULL): adopt the creator's */
		w.ctx[k][0].k = w.ctx[k][1].k = k;
		w.ctx[k][0].side = 0;
		w.ctx[k][1].side = 1;
		if (!w.split || (here(chan_dom(k, 0)) && here(chan_dom(k, 1)))) {
			CHECK_RC(w.be->endpoint_create(w.be->ctx, w.dom[chan_dom(k, cs)], &w.ep[k]),
				 0);
			CHECK_RC(bulk_channel_create(w.ep[k], &model_cbs, &cp, &w.ch[k][cs]), 0);
			if (w.split)
				drain(); /* in step with the other process */
			CHECK_RC(bulk_channel_bind(w.dom[chan_dom(k, cs ^ 1)], w.ep[k], &model_cbs,
						   &bp, (struct bulk_cont){ cont_fn, &cr },
						   &w.ch[k][cs ^ 1]),
				 0);
		} else {
			/* Each process makes its own side, with an endpoint of the same
			 * name; the binder binds once the creator listens. */
			char name[128];
			int dc = chan_dom(k, cs), db = chan_dom(k, cs ^ 1);

			snprintf(name, sizeof(name), "%s-%d", w.be->name_prefix, k);
			if (here(dc)) {
				CHECK_RC(w.be->endpoint_named(w.be->ctx, w.dom[dc], name, &w.ep[k]), 0);
				CHECK_RC(bulk_channel_create(w.ep[k], &model_cbs, &cp, &w.ch[k][cs]),
					 0);
			}
			drain();
			if (here(db)) {
				CHECK_RC(w.be->endpoint_named(w.be->ctx, w.dom[db], name, &w.ep[k]), 0);
				CHECK_RC(bulk_channel_bind(w.dom[db], w.ep[k], &model_cbs, &bp,
							   (struct bulk_cont){ cont_fn, &cr },
							   &w.ch[k][cs ^ 1]),
					 0);
			}
		}
		w.pending = local_unconnected;
		w.pending_k = k;
		drain();
		w.pending = NULL;
		if (here(chan_dom(k, cs ^ 1)))
			CHECK(cr.fired == 1 && cr.err == 0);
		for (int s = 0; s < 2; s++) {
			if (!here(chan_dom(k, s)))
				continue;
			CHECK_EQ_INT(bulk_channel_state(w.ch[k][s]), BULK_STATE_CONNECTED);
			CHECK_EQ_INT(bulk_channel_direction(w.ch[k][s]),
				     s == 0 ? BULK_DIRECTION_TX : BULK_DIRECTION_RX);
			CHECK_EQ_INT(bulk_channel_trust(w.ch[k][s]), w.trust);
			CHECK(bulk_channel_user(w.ch[k][s]) == &w.ctx[k][s]);
		}
	}
	/* Channel 5 is closed from the start. */
	{
		struct cont_rec cr = { 0, 0 };
		int s = (int)rnd(2);

		if (here(chan_dom(CH_CLOSED, s)))
			CHECK_RC(bulk_channel_destroy(w.ch[CH_CLOSED][s],
						      (struct bulk_cont){ cont_fn, &cr }), 0);
		close_drain(CH_CLOSED);
		if (here(chan_dom(CH_CLOSED, s)))
			CHECK(cr.fired == 1 && cr.err == 0);
		for (s = 0; s < 2; s++)
			if (here(chan_dom(CH_CLOSED, s)))
				CHECK_EQ_INT(bulk_channel_state(w.ch[CH_CLOSED][s]),
					     BULK_STATE_CLOSED);
	}
	for (int p = 0; p < NP; p++) {
		struct bulk_pool_params pp = {
			.count = pool_count[p],
			.buffer_size = w.bsz,
			.trust = p == POOL_MISTRUST ? w.other_trust : 0,
		};
		struct bulk_buffer *tmp[MAXB];
		/* What the allocator's process knows, to the other one. */
		struct {
			struct bulk_pool_id id;
			uint8_t free[MAXB];
			uint8_t data[MAXB][NBYTES];
		} ps;

		memset(&ps, 0, sizeof(ps));
		if (here(pool_alloc_dom[p])) {
			CHECK_RC(bulk_pool_alloc(w.dom[pool_alloc_dom[p]], &pp, &w.pool[p]), 0);
			ps.id = *bulk_pool_get_id(w.pool[p]);
			/* Most buffers start out of the free list; the rest start free. */
			CHECK_RC(bulk_pool_get_burst(w.pool[p], tmp, pool_count[p] - 2),
				 (int)pool_count[p] - 2);
			for (uint32_t i = 0; i < pool_count[p]; i++) {
				const uint8_t *a = bulk_pool_buffer(w.pool[p], i)->addr;

				ps.free[i] = 1;
				for (int j = 0; j < NBYTES; j++)
					ps.data[i][j] = a[w.off[j]];
			}
			for (uint32_t i = 0; i < pool_count[p] - 2; i++)
				ps.free[tmp[i]->index] = 0;
		}
		sync_from(pool_alloc_dom[p], &ps, sizeof(ps));
		w.id[p] = ps.id;
		for (uint32_t i = 0; i < pool_count[p]; i++) {
			int g = p * MAXB + (int)i;

			m.b[g].owner = pool_alloc_dom[p];
			m.b[g].free = ps.free[i];
			memcpy(mview(pool_alloc_dom[p], g)->data, ps.data[i], NBYTES);
		}
	}
	refresh_views();
	/* Pools along the chain A->B->C and back: 0 on 0 and (by B) on 1; 1 on 1 and 2;
	 * 2 on 3 (by A, the sink side). Found by the model's "valid assign" pick too. */
	{
		static const int plan[][3] = { /* pool, channel, side */
			{ 0, 0, 0 }, { 0, 1, 0 }, { 1, 1, 0 }, { 1, 2, 0 }, { 2, 3, 0 },
		};

		for (unsigned i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
			struct op o;

			memset(&o, 0, sizeof(o));
			o.type = OP_ASSIGN;
			o.pool = plan[i][0];
			o.k = plan[i][1];
			o.side = plan[i][2];
			o.vd[0] = chan_dom(o.k, o.side);
			CHECK(w.hv[o.vd[0]][o.pool]);
			exec_pool_op(&o);
		}
	}
	compare_all();
}

/* Bring every buffer home: release copies leaves first, then move or pass home. */
static void
homecoming(void)
{
	bool progress = true;

	while (progress) {
		progress = false;
		for (int g = 0; g < NG; g++)
			for (int k = 0; k < NC && g_exists(g); k++) {
				struct op o;

				if (!(m.b[g].copies >> k & 1) ||
				    !valid_for(OP_RELEASE, g, chan_sink[k], k) ||
				    !globally_reachable(g, m.b[g].copies & ~(1u << k)))
					continue;
				memset(&o, 0, sizeof(o));
				o.type = OP_RELEASE;
				o.k = k;
				o.side = 1;
				o.n = 1;
				o.g[0] = g;
				o.vd[0] = chan_sink[k];
				exec_xfer(&o);
				progress = true;
			}
	}
	for (int g = 0; g < NG; g++)
		if (g_exists(g))
			CHECK_EQ_INT(m.b[g].copies, 0);
	for (int g = 0; g < NG; g++) {
		int p = pool_of(g), home = pool_alloc_dom[p], o_dom = m.b[g].owner;
		struct op o;

		if (!g_exists(g) || o_dom == home)
			continue;
		if (m.b[g].free) { /* out of the free list of a received view */
			struct bulk_buffer *b;
			uint32_t idx = 0;

			if (here(o_dom)) {
				CHECK(bulk_pool_get_burst(w.view[o_dom][p], &b, 1) == 1);
				idx = b->index;
			}
			sync_from(o_dom, &idx, sizeof(idx));
			if (w.split)
				CHECK(idx < pool_count[p]);
			m.b[p * MAXB + (int)idx].free = false;
			g--; /* this g again: the one we got may be another */
			continue;
		}
		memset(&o, 0, sizeof(o));
		o.n = 1;
		o.g[0] = g;
		o.vd[0] = o_dom;
		o.lens[0] = 8;
		o.meta_null = false;
		for (int k = 0; k < CH_CLOSED; k++) {
			if (chan_src[k] == o_dom && chan_sink[k] == home) {
				o.type = OP_MOVE;
				o.k = k;
				o.side = 0;
				break;
			}
			if (chan_src[k] == home && chan_sink[k] == o_dom) {
				o.type = OP_PASS;
				o.k = k;
				o.side = 1;
				break;
			}
		}
		CHECK(o.type == OP_MOVE || o.type == OP_PASS);
		if (!(m.assigned[p] >> o.k & 1)) {
			struct op a;

			memset(&a, 0, sizeof(a));
			a.type = OP_ASSIGN;
			a.k = o.k;
			a.side = o.side;
			a.pool = p;
			a.vd[0] = o_dom;
			exec_pool_op(&a);
		}
		exec_xfer(&o);
		CHECK_EQ_INT(m.b[g].owner, home);
	}
}

static void
teardown(void)
{
	for (int k = 0; k < NC; k++) {
		if (k != CH_CLOSED) {
			struct cont_rec cr = { 0, 0 };
			int s = (int)rnd(2);

			if (here(chan_dom(k, s)))
				CHECK_RC(bulk_channel_destroy(w.ch[k][s],
							      (struct bulk_cont){ cont_fn, &cr }),
					 0);
			close_drain(k);
			if (here(chan_dom(k, s)))
				CHECK(cr.fired == 1 && cr.err == 0);
		}
		for (int s = 0; s < 2; s++) {
			if (!here(chan_dom(k, s)))
				continue;
			CHECK_EQ_INT(bulk_channel_state(w.ch[k][s]), BULK_STATE_CLOSED);
			CHECK_RC(bulk_channel_free(w.ch[k][s]), 0);
		}
		if (w.ep[k] != NULL)
			CHECK_RC(bulk_endpoint_free(w.ep[k]), 0);
	}
	refresh_views();
	for (int p = 0; p < NP; p++)
		for (int d = 0; d < ND; d++)
			if (d != pool_alloc_dom[p] && w.view[d][p] != NULL)
				CHECK_RC(bulk_pool_free(w.view[d][p]), 0);
	if (w.split)
		drain(); /* every received view gone before the allocators free */
	for (int p = 0; p < NP; p++)
		if (here(pool_alloc_dom[p]))
			CHECK_RC(bulk_pool_free(w.pool[p]), 0);
	for (int d = 0; d < ND; d++)
		if (here(d))
			CHECK_RC(bulk_domain_destroy(w.dom[d]), 0);
	if (w.split) {
		CHECK_RC(bulk_pool_free(w.standin_pool), 0);
		CHECK_RC(bulk_domain_destroy(w.standin), 0);
	}
}

unsigned long
model_checks(void)
{
	return check_count;
}

int
model_run(const struct model_backend *be, uint64_t seed, unsigned ops)
{
	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	w.be = be;
	w.mask = be->local_mask & ((1u << ND) - 1);
	if (w.mask == 0)
		w.mask = (1u << ND) - 1;
	w.split = w.mask != (1u << ND) - 1;
	w.seed = seed;
	w.rng = seed;
	w.trust = be->trust ? be->trust : BULK_TRUST_FULL;
	w.other_trust = w.trust == BULK_TRUST_HALF ? BULK_TRUST_FULL : BULK_TRUST_HALF;
	w.own_views = be->payload_only || w.trust == BULK_TRUST_NONE;
	w.bsz = w.trust == BULK_TRUST_FULL ? BSZ_FULL : BSZ_PAGE;
	{
		/* FULL: the first bytes, as ever. A page: spread over it, so that
		 * a random length often ends among them and both what a partial
		 * transfer carries and what it leaves are seen (both edges). */
		const uint32_t q = w.bsz / 4;
		const uint32_t spread[NBYTES] = { 0, 1, q - 1, q, 2 * q, 3 * q + 1, 4 * q - 2,
						  4 * q - 1 };

		for (int i = 0; i < NBYTES; i++)
			w.off[i] = w.trust == BULK_TRUST_FULL ? (uint32_t)i : spread[i];
	}
	CHECK_RC(pipe2(w.probe, O_NONBLOCK | O_CLOEXEC), 0);
	check_fail_hook = hist_dump;
	printf("model[%s]: seed %" PRIu64 ", %u operations, trust %s, %u-byte buffers", be->name,
	       seed, ops, trust_name(w.trust), w.bsz);
	if (w.split) {
		printf(", split: domains");
		for (int d = 0; d < ND; d++)
			if (here(d))
				printf(" %c", 'A' + d);
		printf(" here");
	}
	printf("\n");
	setup();
	while (w.nvalid + w.ninvalid < ops) {
		struct op o;
		bool want_valid = rnd(2) == 0;
		unsigned r = rnd(100);
		unsigned long ninv = w.ninvalid;

		memset(&o, 0, sizeof(o));
		o.type = r < 22 ? OP_MOVE : r < 44 ? OP_PASS : r < 56 ? OP_COPY
			 : r < 76 ? OP_RELEASE : r < 84 ? OP_FULLCOPY : r < 88 ? OP_ASSIGN
			 : r < 90 ? OP_REMOVE : r < 95 ? OP_PUT : OP_GET;
		w.per_type[o.type]++;
		switch (o.type) {
		case OP_ASSIGN:
		case OP_REMOVE:
			gen_pool_op(&o, want_valid);
			exec_pool_op(&o);
			break;
		case OP_PUT:
		case OP_GET:
			exec_put_get(&o, want_valid);
			break;
		default:
			gen_xfer(&o, want_valid);
			exec_xfer(&o);
			break;
		}
		if (want_valid && w.ninvalid != ninv)
			w.want_bad[o.type]++;
	}
	printf("  %lu operations: %lu succeeded, %lu refused (%lu put/get skipped: no view)\n",
	       w.nvalid + w.ninvalid, w.nvalid, w.ninvalid, w.skipped);
	printf("  per type:");
	for (int t = 0; t < OP_NTYPES; t++)
		printf(" %s %lu", op_names[t], w.per_type[t]);
	printf("\n  refusals by code:");
	for (int c = 0; c < BULK_E_LAST - BULK_EBASE; c++)
		if (w.codes[c] > 0)
			printf(" %s=%lu", bulk_strerror(-(BULK_EBASE + c)), w.codes[c]);
	printf(" errno=%lu\n  drawn valid but no valid choice:", w.codes[BULK_E_LAST - BULK_EBASE]);
	for (int t = 0; t < OP_NTYPES; t++)
		printf(" %s %lu", op_names[t], w.want_bad[t]);
	printf("\n");
	if (w.split)
		printf("  split: %lu channel operations executed here, %lu deliveries from the "
		       "other process checked here\n", w.nexec, w.ncross);
	homecoming();
	w.sweep = true;
	compare_all();
	teardown();
	close(w.probe[0]);
	close(w.probe[1]);
	printf("  access probes: %lu (no access %lu, read-only %lu, read-write %lu, readable "
	       "%lu); trust copies counted here: %lu; moves and passes ending among the bytes "
	       "followed: %lu\n", w.nprobes, w.nprot[0], w.nprot[1], w.nprot[2], w.nprot[3],
	       w.ntrust_copies, w.npartial);
	printf("  views made %lu, dropped %lu; every buffer home, pools freed, domains destroyed; "
	       "%lu checks passed\n", w.nviews[0], w.nviews[1], check_count);
	check_fail_hook = NULL;
	return 0;
}
