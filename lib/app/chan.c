/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One end of a channel: opened by address, its send queue, its orderly
 * close, and the callbacks every program needs alike.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#include "app_chan.h"
#include "app_fwd.h"

#define APP_HOME_BURST 256u

void
app_ctrs_read(const struct app_ctrs *c, struct app_ctrs_snap *s)
{
	s->tx_bufs = app_ctr_get(&c->tx_bufs);
	s->tx_bytes = app_ctr_get(&c->tx_bytes);
	s->rx_bufs = app_ctr_get(&c->rx_bufs);
	s->rx_bytes = app_ctr_get(&c->rx_bytes);
	s->qfull = app_ctr_get(&c->qfull);
	s->errors = app_ctr_get(&c->errors);
}

const char *
app_trust_name(enum bulk_trust t)
{
	switch (t) {
	case BULK_TRUST_FULL:
		return "full";
	case BULK_TRUST_HALF:
		return "half";
	case BULK_TRUST_NONE:
		return "none";
	default:
		return "?";
	}
}

/* ------------------------------------------------------------ send queue */

static void
app_txq_free(struct app_txq *q)
{
	free(q->bufs);
	free(q->lens);
	free(q->meta);
	q->bufs = NULL;
	q->lens = NULL;
	q->meta = NULL;
}

/* Grow @p q to hold @p n, keeping what it holds in order. */
static int
app_txq_grow(struct app_txq *q, uint32_t n)
{
	struct app_txq nq = { .meta_size = q->meta_size };
	uint32_t cap = 1, count = app_txq_count(q);

	while (cap < n)
		cap <<= 1;
	if (q->bufs != NULL && cap <= q->mask + 1)
		return 0;
	nq.bufs = calloc(cap, sizeof(*nq.bufs));
	nq.lens = calloc(cap, sizeof(*nq.lens));
	nq.meta = calloc(cap, q->meta_size ? q->meta_size : 1);
	if (nq.bufs == NULL || nq.lens == NULL || nq.meta == NULL) {
		app_txq_free(&nq);
		return -ENOMEM;
	}
	for (uint32_t k = 0; k < count; k++) {
		uint32_t i = (q->head + k) & q->mask;

		nq.bufs[k] = q->bufs[i];
		nq.lens[k] = q->lens[i];
		memcpy(&nq.meta[(size_t)k * q->meta_size], &q->meta[(size_t)i * q->meta_size],
		       q->meta_size);
	}
	app_txq_free(q);
	nq.mask = cap - 1;
	nq.head = 0;
	nq.tail = count;
	*q = nq;
	return 0;
}

int
app_chan_init(struct app_chan *c, uint32_t queue, uint32_t meta_size)
{
	c->q.meta_size = meta_size;
	return app_txq_grow(&c->q, queue ? queue : 1);
}

void
app_chan_fini(struct app_chan *c)
{
	app_txq_free(&c->q);
	c->q.mask = c->q.head = c->q.tail = 0;
}

int
app_chan_reserve(struct app_chan *c, uint32_t n)
{
	return app_txq_grow(&c->q, n);
}

void
app_chan_error(struct app_chan *c, const char *what, int rc)
{
	/* The first error of an end is worth a line; the rest only a count. */
	if (app_ctr_get(&c->ctr.errors) == 0)
		app_err("%s: %s (%s end): %s: %s", c->name ? c->name : "?",
			c->addr[0] ? c->addr : "no address", c->tx_side ? "TX" : "RX", what,
			bulk_strerror(rc));
	app_ctr_add(&c->ctr.errors, 1);
	if (c->abort != NULL)
		atomic_store_explicit(c->abort, true, memory_order_release);
}

unsigned
app_chan_flush(struct app_chan *c)
{
	struct app_txq *q = &c->q;
	unsigned total = 0;

	/* Closed by the peer: nothing can go; whoever saw it close reports it. */
	if (c->hold || c->closed)
		return 0;
	while (q->head != q->tail) {
		uint32_t start = q->head & q->mask;
		uint32_t n = app_txq_count(q);
		const uint8_t *meta = &q->meta[(size_t)start * q->meta_size];
		uint64_t bytes = 0;
		int rc;

		if (n > q->mask + 1 - start)
			n = q->mask + 1 - start;
		if (n > c->burst)
			n = c->burst;
		if (c->tx_side)
			rc = bulk_channel_move_burst(c->ch, &q->bufs[start], &q->lens[start], meta,
						     n, BULK_CONT_NONE);
		else
			rc = bulk_channel_pass_burst(c->ch, &q->bufs[start], &q->lens[start], meta,
						     n, BULK_CONT_NONE);
		if (rc < 0) {
			app_chan_error(c, c->tx_side ? "move" : "pass", rc);
			break;
		}
		for (int i = 0; i < rc; i++)
			bytes += q->lens[start + (uint32_t)i];
		q->head += (uint32_t)rc;
		app_ctr_add(&c->ctr.tx_bufs, (uint64_t)rc);
		app_ctr_add(&c->ctr.tx_bytes, bytes);
		total += (unsigned)rc;
		if ((uint32_t)rc < n) {
			app_ctr_add(&c->ctr.qfull, 1);
			break;
		}
	}
	return total;
}

/* ---------------------------------------------------------- continuations */

static void
app_chan_cont_fn(void *arg, int err, struct bulk_channel *ch)
{
	struct app_chan *c = arg;

	(void)ch;
	c->fired++;
	c->err = err;
}

struct bulk_cont
app_chan_cont(struct app_chan *c)
{
	struct bulk_cont k = { app_chan_cont_fn, c };

	c->started = true;
	c->fired = 0;
	c->err = 0;
	return k;
}

int
app_chan_wait(struct app_chan *c, const struct app_loop *l, uint64_t timeout_ns, const char *what)
{
	uint64_t deadline = app_now_ns() + timeout_ns;
	int rc;

	while (!c->fired) {
		rc = l->poll(l->arg);
		if (rc < 0) {
			app_err("%s: poll while waiting for the %s on %s: %s", c->name, what,
				c->addr, bulk_strerror(rc));
			return rc;
		}
		if (l->cancelled != NULL && l->cancelled(l->arg))
			return -EINTR;
		if (app_now_ns() > deadline) {
			app_err("%s: the %s on %s got no answer, not even a failure, within %llu ms",
				c->name, what, c->addr,
				(unsigned long long)(timeout_ns / APP_MS_NS));
			return -ETIMEDOUT;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- set-up */

/* @p c opens in @p d at @p text: parse it into @p a and c->addr; say why not. */
static int
app_chan_start(struct app_chan *c, struct bulk_domain *d, const char *text, struct bulk_addr *a)
{
	char why[160];
	int rc = bulk_addr_parse(text, a);

	if (rc < 0) {
		bulk_addr_explain(text, why, sizeof(why));
		app_err("%s: '%s': %s", c->name, text, why);
		return rc;
	}
	bulk_addr_format(a, c->addr, sizeof(c->addr));
	c->dom = d;
	return 0;
}

/* What an endpoint call's failure means to a user. */
static const char *
app_ep_hint(const struct bulk_addr *a, int err)
{
	if (err == -BULK_E_NO_BACKEND)
		return a->scheme == BULK_ADDR_DPDK ? " (no DPDK link is open in this process)"
						   : " (that backend is not built)";
	if (err == -EADDRNOTAVAIL)
		return " (no link of this process has that address)";
	if (err == -EHOSTUNREACH)
		return " (no link of this process leads to that address)";
	return "";
}

int
app_chan_listen(struct app_chan *c, struct bulk_domain *d, const char *addr,
		const struct bulk_channel_callbacks *cb, const struct bulk_channel_params *cp)
{
	struct bulk_channel_params p = *cp;
	struct bulk_addr a;
	int rc;

	rc = app_chan_start(c, d, addr, &a);
	if (rc < 0)
		return rc;
	rc = bulk_addr_endpoint_create(d, &a, &c->ep);
	if (rc < 0) {
		c->ep = NULL;
		app_err("%s: endpoint %s: %s%s", c->name, c->addr, bulk_strerror(rc),
			rc == -EADDRINUSE ? " (the name is taken in this process)"
					  : app_ep_hint(&a, rc));
		return rc;
	}
	p.user = c;
	rc = bulk_channel_create(c->ep, cb, &p, &c->ch);
	if (rc < 0) {
		c->ch = NULL;
		if (rc == -EADDRINUSE)
			app_err("%s: %s is taken: another create side listens on it", c->name,
				c->addr);
		else if (rc == -BULK_E_TRUST_UNSUPPORTED)
			app_err("%s: backend %s refused trust level %s: %s", c->name,
				bulk_addr_scheme_name(a.scheme), app_trust_name(p.trust),
				bulk_strerror(rc));
		else
			app_err("%s: cannot create the channel on %s (trust %s): %s", c->name,
				c->addr, app_trust_name(p.trust), bulk_strerror(rc));
		return rc;
	}
	return 0;
}

static const char *
app_bind_hint(int err)
{
	switch (-err) {
	case BULK_E_BIND_MISMATCH:
		return " (both sides need the same --trust)";
	case BULK_E_ALREADY_BOUND:
		return " (the create side serves another client)";
	case BULK_E_BIND_REFUSED:
		return " (the create side refused)";
	case BULK_E_TRUST_UNSUPPORTED:
		return " (the backend does not offer that --trust)";
	case EPERM:
		return " (the create side runs as another user)";
	default:
		return "";
	}
}

/* Nobody listens there yet, or nobody answered: worth another try. */
static bool
app_bind_retryable(int err)
{
	return err == -BULK_E_EP_NO_CHANNEL || err == -BULK_E_PEER_GONE;
}

int
app_chan_bind(struct app_chan *c, struct bulk_domain *d, const char *addr,
	      const struct bulk_channel_callbacks *cb, const struct bulk_bind_params *bp,
	      const struct app_loop *l, const struct app_bind_policy *p)
{
	uint64_t deadline = app_now_ns() + p->retry_ns;
	struct bulk_bind_params b = *bp;
	bool said = p->quiet;
	struct bulk_addr a;
	int rc;

	rc = app_chan_start(c, d, addr, &a);
	if (rc < 0)
		return rc;
	b.user = c;
	for (;;) {
		/* A local name appears when its creator makes it: resolve until then. */
		if (c->ep == NULL) {
			rc = bulk_addr_endpoint_remote(d, &a, &c->ep);
			if (rc < 0)
				c->ep = NULL;
		}
		if (c->ep != NULL) {
			rc = bulk_channel_bind(d, c->ep, cb, &b, app_chan_cont(c), &c->ch);
			if (rc < 0) {
				c->ch = NULL;
				c->started = false;
			} else {
				rc = app_chan_wait(c, l, p->answer_ns, "bind");
				if (rc < 0)
					return rc;
				c->started = false;
				rc = c->err;
				if (rc == 0)
					break;
				/* A failed bind leaves a CLOSED channel: free it, bind afresh. */
				if (bulk_channel_free(c->ch) < 0) {
					app_err("%s: cannot free the channel of a failed bind to %s",
						c->name, c->addr);
					return rc;
				}
				c->ch = NULL;
			}
		}
		if (!app_bind_retryable(rc)) {
			app_err("%s: bind to %s: %s%s%s", c->name, c->addr, bulk_strerror(rc),
				app_bind_hint(rc), app_ep_hint(&a, rc));
			return rc;
		}
		if (l->cancelled != NULL && l->cancelled(l->arg))
			return -EINTR;
		if (app_now_ns() >= deadline) {
			app_err("%s: bind to %s: %s (nobody %s for %llu s)", c->name, c->addr,
				bulk_strerror(rc),
				rc == -BULK_E_EP_NO_CHANNEL ? "listened" : "answered",
				(unsigned long long)(p->retry_ns / APP_SEC_NS));
			return rc;
		}
		if (!said) {
			app_err("%s: nobody listens on %s yet (%s); retrying for %llu s", c->name,
				c->addr, bulk_strerror(rc),
				(unsigned long long)(p->retry_ns / APP_SEC_NS));
			said = true;
		}
		if (rc == -BULK_E_EP_NO_CHANNEL)
			app_sleep_ns(p->gap_ns);
	}
	if (!app_chan_connected(c)) {
		app_err("%s: bind to %s answered, but the channel is %s", c->name, c->addr,
			bulk_channel_state_name(bulk_channel_state(c->ch)));
		return -EPROTO;
	}
	return 0;
}

int
app_chan_assign(struct app_chan *c, struct bulk_pool *pool, const struct app_loop *l,
		uint64_t timeout_ns)
{
	int rc;

	rc = bulk_channel_assign_pool(c->ch, pool, app_chan_cont(c));
	if (rc < 0) {
		c->started = false;
		app_err("%s: assign the pool on %s: %s", c->name, c->addr, bulk_strerror(rc));
		return rc;
	}
	rc = app_chan_wait(c, l, timeout_ns, "pool assignment");
	if (rc < 0)
		return rc;
	c->started = false;
	if (c->err != 0) {
		app_err("%s: pool assignment on %s failed: %s", c->name, c->addr,
			bulk_strerror(c->err));
		return c->err;
	}
	if (!bulk_channel_has_pool(c->ch, pool)) {
		app_err("%s: pool not assigned on %s after the assignment completed", c->name,
			c->addr);
		return -EPROTO;
	}
	return 0;
}

/* -------------------------------------------------------------- teardown */

int
app_chan_close(struct app_chan *c, const struct app_loop *l, uint64_t timeout_ns)
{
	enum bulk_channel_state st;
	uint64_t deadline;
	int rc, errors = 0;

	if (c->ch == NULL)
		return 0;
	c->closing = true;
	st = bulk_channel_state(c->ch);
	/* A creator nobody bound to is destroyed too: it stops listening. */
	if (st == BULK_STATE_CONNECTED || st == BULK_STATE_INITIALIZED) {
		rc = bulk_channel_destroy(c->ch, app_chan_cont(c));
		if (rc < 0) {
			app_err("%s: destroy the channel on %s: %s", c->name, c->addr,
				bulk_strerror(rc));
			c->started = false;
			errors++;
		}
	}
	deadline = app_now_ns() + timeout_ns;
	for (;;) {
		st = bulk_channel_state(c->ch);
		/* A channel can only be freed once its destroy continuation ran. */
		if ((st == BULK_STATE_CLOSED || st == BULK_STATE_INITIALIZED) &&
		    !(c->started && !c->fired))
			break;
		rc = l->poll(l->arg);
		if (rc < 0) {
			app_err("%s: poll during teardown: %s", c->name, bulk_strerror(rc));
			errors++;
			break;
		}
		if (app_now_ns() > deadline) {
			app_err("%s: the channel on %s did not close within %llu s (state %s)",
				c->name, c->addr, (unsigned long long)(timeout_ns / APP_SEC_NS),
				bulk_channel_state_name(st));
			errors++;
			break;
		}
	}
	/* A peer that went away meanwhile closed it too: nothing was lost here. */
	if (c->started && c->fired && c->err != 0 && c->err != -BULK_E_PEER_GONE) {
		app_err("%s: teardown of %s: %s", c->name, c->addr, bulk_strerror(c->err));
		errors++;
	}
	c->started = false;
	return errors;
}

/* Say why a free failed. @return 1 if it did. */
static int
app_chan_free_failed(struct app_chan *c, const char *what, int rc)
{
	if (rc == 0)
		return 0;
	app_err("%s: free the %s %s: %s", c->name, what, c->addr, bulk_strerror(rc));
	return 1;
}

int
app_chan_free(struct app_chan *c)
{
	int rc, errors = 0;

	if (c->ch != NULL) {
		bulk_channel_stats_get(c->ch, &c->lib);
		rc = bulk_channel_free(c->ch);
		errors += app_chan_free_failed(c, "channel on", rc);
		if (rc == 0)
			c->ch = NULL;
	}
	/* The pool view went with the last channel it was assigned to. */
	c->view = NULL;
	if (c->ep != NULL && c->ch == NULL) {
		rc = bulk_addr_endpoint_free(c->ep);
		errors += app_chan_free_failed(c, "endpoint", rc);
		if (rc == 0)
			c->ep = NULL;
	}
	return errors;
}

uint32_t
app_pool_owned(struct bulk_pool *view)
{
	uint32_t n = 0;

	if (view == NULL)
		return 0;
	for (uint32_t i = 0; i < bulk_pool_buffer_count(view); i++)
		if (bulk_buffer_is_owner(bulk_pool_buffer(view, i)))
			n++;
	return n;
}

int
app_chan_pass_home(struct app_chan *c, const void *meta, uint64_t timeout_ns)
{
	static const uint32_t lens[APP_HOME_BURST];
	uint8_t *metas;
	struct bulk_buffer *bufs[APP_HOME_BURST];
	uint64_t deadline = app_now_ns() + timeout_ns;
	uint32_t count, i = 0;
	int rc = 0;

	if (c->view == NULL || !app_chan_connected(c))
		return 0;
	metas = malloc((size_t)APP_HOME_BURST * (c->q.meta_size ? c->q.meta_size : 1));
	if (metas == NULL)
		return -ENOMEM;
	for (unsigned k = 0; k < APP_HOME_BURST; k++)
		memcpy(&metas[(size_t)k * c->q.meta_size], meta, c->q.meta_size);
	count = bulk_pool_buffer_count(c->view);
	while (i < count && rc == 0) {
		unsigned k = 0;

		for (; i < count && k < APP_HOME_BURST; i++) {
			struct bulk_buffer *b = bulk_pool_buffer(c->view, i);

			if (b->state == BULK_BUFFER_READ_WRITE)
				bufs[k++] = b;
		}
		for (unsigned sent = 0; sent < k;) {
			rc = bulk_channel_pass_burst(c->ch, bufs + sent, lens, metas, k - sent,
						     BULK_CONT_NONE);
			if (rc < 0) {
				app_err("%s: passing buffers home over %s: %s", c->name, c->addr,
					bulk_strerror(rc));
				break;
			}
			sent += (unsigned)rc;
			rc = 0;
			if (sent < k &&
			    (bulk_domain_poll(c->dom, 0) < 0 || app_now_ns() > deadline)) {
				app_err("%s: %s took no more buffers", c->name, c->addr);
				rc = -ETIMEDOUT;
				break;
			}
		}
	}
	free(metas);
	return rc;
}

/* ------------------------------------------------------------- callbacks */

int
app_chan_on_pool(struct bulk_channel *ch, struct bulk_pool *pool)
{
	struct app_chan *c = bulk_channel_user(ch);
	struct app_chan *other = NULL;
	uint32_t count = bulk_pool_buffer_count(pool);

	if (c->fwd != NULL)
		other = c->fwd->up == c ? c->fwd->down : c->fwd->up;
	/* Every buffer of the pool may end up queued on either end at once. */
	if (app_chan_reserve(c, app_txq_count(&c->q) + count) < 0 ||
	    (other != NULL && app_chan_reserve(other, app_txq_count(&other->q) + count) < 0)) {
		app_chan_error(c, "send queue for the pool", -ENOMEM);
		return -ENOMEM;
	}
	/* Passed on after this poll returned: the assignment here is complete then. */
	if (c->fwd != NULL && c->fwd->up == c) {
		if (c->fwd->npending == APP_FWD_PENDING) {
			app_chan_error(c, "pools to pass on downstream", -ENOSPC);
			return -ENOSPC;
		}
		c->fwd->pending[c->fwd->npending++] = pool;
	}
	c->view = pool;
	return 0;
}

void
app_chan_on_teardown(struct bulk_channel *ch, int reason)
{
	struct app_chan *c = bulk_channel_user(ch);

	c->closed = true;
	c->close_reason = reason;
	/* Upstream closing is how a run ends downstream; our own close is expected. */
	if (c->closing || !c->tx_side)
		return;
	if (reason == 0)
		app_chan_error(c, "the peer tore the channel down during the run", -BULK_E_CLOSED);
	else
		app_chan_error(c, "the peer went away", reason);
}

void
app_chan_on_unexpected(struct bulk_channel *ch, struct bulk_buffer *const *bufs,
		       const uint32_t *lens, const void *meta, unsigned n)
{
	(void)bufs;
	(void)lens;
	(void)meta;
	(void)n;
	app_chan_error(bulk_channel_user(ch), "unexpected delivery", -EPROTO);
}
