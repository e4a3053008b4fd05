/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One end of a channel as a program holds it: opened from an address
 * (bulk_addr.h) as the creator that listens or the binder that connects,
 * with a send queue, counters, and an orderly close.
 *
 * The TX end (the binder in every program so far) moves buffers and gets
 * them back by pass; the RX end passes back what was moved to it. Buffers
 * wait in the send queue until the channel takes them (a full channel
 * queue is back-pressure, not an error), so a callback never has to
 * handle a short send itself.
 *
 * Set-up and teardown wait for continuations by polling through an
 * app_loop: whatever the program must poll meanwhile (every domain of a
 * one-process chain, or a DPDK port besides the domain).
 */
#ifndef APP_CHAN_H
#define APP_CHAN_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>

#include "app.h"

/* ------------------------------------------------------------- counters */

/*
 * Counters have one writer (the thread of the channel's domain) and are
 * read by a printer in another thread, hence atomics; a relaxed load and
 * store instead of fetch_add because there is only one writer, so the
 * fast path pays no locked instruction.
 */
typedef _Atomic uint64_t app_ctr_t;

static inline void
app_ctr_add(app_ctr_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static inline uint64_t
app_ctr_get(const app_ctr_t *c)
{
	return atomic_load_explicit((app_ctr_t *)c, memory_order_relaxed);
}

/** What the program counts on one end of a channel. */
struct app_ctrs {
	app_ctr_t tx_bufs; /* moved (TX end) or passed back (RX end) */
	app_ctr_t tx_bytes;
	app_ctr_t rx_bufs; /* passed back to us (TX end) or moved to us (RX end) */
	app_ctr_t rx_bytes;
	app_ctr_t qfull;  /* sends cut short by a full channel queue */
	app_ctr_t errors; /* calls the library refused, deliveries not expected */
};

struct app_ctrs_snap {
	uint64_t tx_bufs, tx_bytes, rx_bufs, rx_bytes, qfull, errors;
};

void app_ctrs_read(const struct app_ctrs *c, struct app_ctrs_snap *s);

/* ------------------------------------------------------------ the end */

/* Buffers waiting to be sent, in order, with their lengths and meta. */
struct app_txq {
	struct bulk_buffer **bufs;
	uint32_t *lens;
	uint8_t *meta;
	uint32_t meta_size;
	uint32_t mask;
	uint32_t head; /* next to send */
	uint32_t tail; /* next free slot */
};

struct app_fwd;

struct app_chan {
	/* Set by the program. */
	const char *name;    /* who holds it, in messages ("source", "hop1") */
	bool tx_side;	     /* the upstream end: sends by move; else by pass */
	uint32_t burst;	     /* most buffers per send call */
	atomic_bool *abort;  /* set on an error (NULL: none) */
	struct app_fwd *fwd; /* the forwarder this end belongs to (app_fwd_init()) */
	void *user;	     /* the program's */

	/* The channel. */
	struct bulk_domain *dom;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	char addr[BULK_ADDR_STRLEN];
	struct bulk_pool *view; /* the last pool the peer assigned here */

	/* The continuation of the step in progress (bind, assignment, destroy). */
	bool started;
	int fired;
	int err;
	bool closing; /* this side started the teardown */
	/* teardown_received ran: the peer closed (reason 0) or went away. */
	bool closed;
	int close_reason;

	/* Sending: the queue waits while hold is set (a pool not yet assigned). */
	bool hold;
	struct app_txq q;
	struct app_ctrs ctr;
	struct bulk_channel_stats lib; /* the library's counters, read by app_chan_free() */
};

/** Room for @p queue buffers of @p meta_size bytes of meta each in the send queue. */
int app_chan_init(struct app_chan *c, uint32_t queue, uint32_t meta_size);
/** Free the send queue (after app_chan_free()). */
void app_chan_fini(struct app_chan *c);

/**
 * An error on this end: the first is worth a line (PROG: NAME: ADDR: what:
 * reason), the rest a count; the program's abort flag is set.
 */
void app_chan_error(struct app_chan *c, const char *what, int rc);

/** A continuation that records into @p c (started, fired, err). */
struct bulk_cont app_chan_cont(struct app_chan *c);

static inline bool
app_chan_connected(const struct app_chan *c)
{
	return c != NULL && c->ch != NULL && bulk_channel_state(c->ch) == BULK_STATE_CONNECTED;
}

static inline uint32_t
app_txq_count(const struct app_txq *q)
{
	return q->tail - q->head;
}

/*
 * The queue holds every buffer of the pools assigned here, which is all
 * there is, so it can only overflow through a bug; then stop rather than
 * lose track of a buffer.
 */
/**
 * Queue @p b with payload length @p len. @return where its meta goes
 * (meta_size bytes, for the caller to write), or NULL on overflow (said).
 * Writing the meta in place spares a producer the copy of a struct just
 * built on its stack (a store-forwarding stall per buffer).
 */
static inline uint8_t *
app_chan_push_slot(struct app_chan *c, struct bulk_buffer *b, uint32_t len)
{
	struct app_txq *q = &c->q;
	uint32_t i;

	if (app_txq_count(q) > q->mask) {
		app_chan_error(c, "send queue overflow", -ENOBUFS);
		return NULL;
	}
	i = q->tail & q->mask;
	q->bufs[i] = b;
	q->lens[i] = len;
	q->tail++;
	return &q->meta[(size_t)i * q->meta_size];
}

/** Queue @p b with payload length @p len and a copy of @p meta. */
static inline void
app_chan_push(struct app_chan *c, struct bulk_buffer *b, uint32_t len, const void *meta)
{
	uint8_t *m = app_chan_push_slot(c, b, len);

	if (m == NULL)
		return;
	/* Once per buffer: the usual sizes as constant copies, not a memcpy() call. */
	switch (c->q.meta_size) {
	case 16:
		memcpy(m, meta, 16);
		break;
	case 8:
		memcpy(m, meta, 8);
		break;
	default:
		memcpy(m, meta, c->q.meta_size);
		break;
	}
}

/** Count a burst that arrived (a callback's first line). */
static inline void
app_chan_count_rx(struct app_chan *c, const uint32_t *lens, unsigned n)
{
	uint64_t bytes = 0;

	for (unsigned i = 0; i < n; i++)
		bytes += lens[i];
	app_ctr_add(&c->ctr.rx_bufs, n);
	app_ctr_add(&c->ctr.rx_bytes, bytes);
}

/**
 * Send what the queue holds, in bursts of c->burst, until it is empty or
 * the channel's queue is full (the rest waits for the next round, after
 * the peer had a chance to consume). Nothing while held or closed.
 * @return buffers sent.
 */
unsigned app_chan_flush(struct app_chan *c);

/** Make the empty queue hold @p n buffers (a pool of that size arrived). */
int app_chan_reserve(struct app_chan *c, uint32_t n);

/* --------------------------------------------------------- set-up, close */

/** What the program polls while it waits, and when it gives up. */
struct app_loop {
	/** Poll everything this thread drives, once. @return < 0 on failure. */
	int (*poll)(void *arg);
	/** Give up waiting (interrupted); may be NULL. Say why before returning true. */
	bool (*cancelled)(void *arg);
	void *arg;
};

/** How a binder waits for a creator. */
struct app_bind_policy {
	uint64_t retry_ns;  /* keep trying this long while nobody listens or answers */
	uint64_t gap_ns;    /* between tries when nobody listens */
	uint64_t answer_ns; /* a bind sent must be answered within this */
	bool quiet;	    /* do not say that nobody listens yet (it is expected) */
};

/**
 * Create @p c's channel on the endpoint at address @p addr in @p d and
 * listen. The channel's user pointer is @p c. A bad address, a taken one
 * and a refused trust level are said as such.
 * @return 0 or the error (said).
 */
int app_chan_listen(struct app_chan *c, struct bulk_domain *d, const char *addr,
		    const struct bulk_channel_callbacks *cb, const struct bulk_channel_params *cp);

/**
 * Bind @p c to the creator at address @p addr from @p d, trying again (a
 * fresh channel each time) while nobody listens there or answers, as
 * @p p says, and wait for the answer. The channel's user pointer is @p c.
 * @return 0 (CONNECTED) or the error (said, with a hint for the usual ones).
 */
int app_chan_bind(struct app_chan *c, struct bulk_domain *d, const char *addr,
		  const struct bulk_channel_callbacks *cb, const struct bulk_bind_params *bp,
		  const struct app_loop *l, const struct app_bind_policy *p);

/**
 * Poll through @p l until the continuation of @p c fired, for at most
 * @p timeout_ns.
 * @return its error (0), -ETIMEDOUT, -EINTR (cancelled) or a poll error; said.
 */
int app_chan_wait(struct app_chan *c, const struct app_loop *l, uint64_t timeout_ns,
		  const char *what);

/**
 * Assign @p pool to @p c's channel and wait until the peer accepted it.
 * @return 0 or the error (said).
 */
int app_chan_assign(struct app_chan *c, struct bulk_pool *pool, const struct app_loop *l,
		    uint64_t timeout_ns);

/**
 * Orderly close: destroy the channel if it is connected, or listening
 * with nobody bound, and poll until it is closed and its continuation
 * fired. A peer that went away meanwhile is no error.
 * @return 0 or how many errors were said.
 */
int app_chan_close(struct app_chan *c, const struct app_loop *l, uint64_t timeout_ns);

/**
 * Read the library's counters into c->lib, free the channel, then the
 * endpoint. @return 0 or how many errors were said.
 */
int app_chan_free(struct app_chan *c);

/**
 * Pass every buffer of the pool view that arrived on the RX end @p c and
 * is owned here back to the peer, with @p meta (meta_size bytes) each and
 * no payload, polling @p c's domain while the channel queue is full.
 * For a process that gives up: what it holds goes home.
 * @return 0 or the error (said).
 */
int app_chan_pass_home(struct app_chan *c, const void *meta, uint64_t timeout_ns);

/** Buffers of @p view this domain owns. */
uint32_t app_pool_owned(struct bulk_pool *view);

/* ------------------------------------------------- generic callbacks */

/*
 * Callbacks for a struct bulk_channel_callbacks whose channel's user is
 * an app_chan. pool_assigned: make room in the send queues for the pool
 * (this end's and, for a forwarder, the other end's) and remember the view.
 * teardown_received: record it; on the TX end while this side is not
 * closing, it is an error (the RX end sees its peer close the normal way).
 * The "unexpected" delivery: a callback this end should never get.
 */
int app_chan_on_pool(struct bulk_channel *ch, struct bulk_pool *pool);
void app_chan_on_teardown(struct bulk_channel *ch, int reason);
void app_chan_on_unexpected(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
			    const uint32_t *lens, const void *meta, unsigned n);

/** "full", "half" or "none". */
const char *app_trust_name(enum bulk_trust t);

#endif /* APP_CHAN_H */
