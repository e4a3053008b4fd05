/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One domain of the chain per process, over the shm backend.
 *
 * Each link's downstream side creates the channel as RX and listens on the
 * link's endpoint; the upstream side binds to it as TX, retrying while
 * nobody listens yet, so the sink can be a reflector waiting for clients.
 * A hop binds downstream first and listens upstream only once that link is
 * up: the source's bind then succeeds only when the rest of the chain
 * stands. The pool is assigned hop by hop; a hop holds what arrives until
 * its own assignment downstream completed.
 *
 * Everyone but the source runs until its upstream peer tears the channel
 * down (or goes away); a hop then tears its downstream link down, so the
 * chain closes from the source to the sink.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_shm.h>

#include "bulkperf.h"

_Static_assert(PERF_ENDPOINT_MAX == BULK_SHM_NAME_MAX, "endpoint names as the backend takes them");

/* How long the binder waits for somebody to listen ("a few seconds"). */
#define PERF_BIND_RETRY_NS  (5 * PERF_SEC_NS)
#define PERF_BIND_RETRY_GAP (10 * 1000 * 1000) /* ns between attempts */
/* Idle this long: stop spinning and sleep on the channels' fds. */
#define PERF_IDLE_SLEEP_NS  (50 * 1000 * 1000)
#define PERF_SLEEP_MS	    100
/* Spins between clock reads (and sched_yield()s when crowded). */
#define PERF_IDLE_SPINS	    64u
/* After giving up, the source has this long to drain and close the link. */
#define PERF_GIVE_UP_NS	    (10 * PERF_SEC_NS)


/* Setup gives up on Ctrl-C, or when a process of a forked chain died. */
static bool
perf_shm_cancelled(struct perf_node *n)
{
	if (atomic_load_explicit(&perf_interrupted, memory_order_relaxed)) {
		fprintf(stderr, "bulkperf: %s: interrupted during setup\n", n->name);
		return true;
	}
	if (atomic_load_explicit(&perf_child_exited, memory_order_relaxed)) {
		fprintf(stderr, "bulkperf: %s: a process of the chain exited during setup\n",
			n->name);
		return true;
	}
	return false;
}


/* -------------------------------------------------------------- callbacks */


static const struct bulk_channel_callbacks perf_shm_cb_source = {
	.buffer_received = perf_source_on_return,
	.move_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

static const struct bulk_channel_callbacks perf_shm_cb_hop_down = {
	.buffer_received = perf_hop_on_return,
	.move_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

static const struct bulk_channel_callbacks perf_shm_cb_hop_up = {
	.pool_assigned = perf_on_pool_assigned,
	.move_received = perf_hop_on_move,
	.buffer_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

static const struct bulk_channel_callbacks perf_shm_cb_sink = {
	.pool_assigned = perf_on_pool_assigned,
	.move_received = perf_sink_on_move,
	.buffer_received = perf_on_unexpected,
	.copy_received = perf_on_unexpected,
	.teardown_received = perf_proc_on_teardown,
};

/* ------------------------------------------------------------------ setup */

static const char *
perf_bind_hint(int err)
{
	switch (-err) {
	case BULK_E_BIND_MISMATCH:
		return " (both sides need the same --trust)";
	case BULK_E_ALREADY_BOUND:
		return " (the create side serves another client)";
	case EPERM:
		return " (the create side runs as another user)";
	default:
		return "";
	}
}

/*
 * Bind @p e to the endpoint @p name as TX, retrying while nobody listens,
 * and wait for the creator's answer.
 */
static int
perf_shm_bind(struct perf_run *r, struct perf_end *e, struct bulk_endpoint *ep, const char *name,
	      const struct bulk_channel_callbacks *cb, bool expect_wait)
{
	struct perf_node *n = e->node;
	uint64_t deadline = perf_now_ns() + PERF_BIND_RETRY_NS;
	struct bulk_bind_params bp;
	bool said = expect_wait;
	int rc;

	memset(&bp, 0, sizeof(bp));
	bp.trust = r->o->trust;
	bp.meta_size = PERF_META_SIZE;
	bp.user = e;
	for (;;) {
		rc = bulk_channel_bind(n->dom, ep, cb, &bp, perf_end_cont(e), &e->ch);
		if (rc == 0)
			break;
		e->ch = NULL;
		e->started = false;
		if (rc != -BULK_E_EP_NO_CHANNEL) {
			fprintf(stderr, "bulkperf: %s: bind to %s: %s%s\n", n->name, name,
				bulk_strerror(rc), perf_bind_hint(rc));
			return rc;
		}
		if (perf_shm_cancelled(n))
			return -EINTR;
		if (perf_now_ns() >= deadline) {
			fprintf(stderr, "bulkperf: %s: bind to %s: %s (nobody listened for %llu s)\n",
				n->name, name, bulk_strerror(rc), PERF_BIND_RETRY_NS / PERF_SEC_NS);
			return rc;
		}
		if (!said) {
			fprintf(stderr, "bulkperf: %s: nobody listens on %s yet, retrying for %llu s\n",
				n->name, name, PERF_BIND_RETRY_NS / PERF_SEC_NS);
			said = true;
		}
		perf_sleep_ns(PERF_BIND_RETRY_GAP);
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	while (!e->cont_fired) {
		rc = bulk_domain_poll(n->dom, 0);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: poll while binding to %s: %s\n", n->name, name,
				bulk_strerror(rc));
			return rc;
		}
		if (perf_shm_cancelled(n))
			return -EINTR;
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: %s: %s did not answer the bind within 5 s\n",
				n->name, name);
			return -ETIMEDOUT;
		}
	}
	if (e->cont_err != 0) {
		fprintf(stderr, "bulkperf: %s: bind to %s refused: %s%s\n", n->name, name,
			bulk_strerror(e->cont_err), perf_bind_hint(e->cont_err));
		return e->cont_err;
	}
	if (!perf_connected(e)) {
		fprintf(stderr, "bulkperf: %s: bind to %s answered, but the channel is %s\n",
			n->name, name, bulk_channel_state_name(bulk_channel_state(e->ch)));
		return -EPROTO;
	}
	/* The next continuation of this end (an assignment, the destroy) starts afresh. */
	e->started = false;
	return 0;
}

/* Create @p e's channel as RX on endpoint @p name and listen. */
static int
perf_shm_listen(struct perf_run *r, struct perf_end *e, struct bulk_endpoint *ep, const char *name,
		const struct bulk_channel_callbacks *cb)
{
	const struct perf_opts *o = r->o;
	struct bulk_channel_params cp;
	int rc;

	memset(&cp, 0, sizeof(cp));
	cp.direction = BULK_DIRECTION_RX;
	cp.trust = o->trust;
	cp.meta_size = PERF_META_SIZE;
	cp.queue_size = o->queue_size;
	cp.user = e;
	rc = bulk_channel_create(ep, cb, &cp, &e->ch);
	if (rc < 0) {
		e->ch = NULL;
		if (rc == -EADDRINUSE)
			fprintf(stderr, "bulkperf: %s: %s is taken: another create side listens "
					"on it\n",
				e->node->name, name);
		else
			fprintf(stderr, "bulkperf: %s: cannot create the channel on %s (trust %s): %s\n",
				e->node->name, name, perf_trust_name(o->trust), bulk_strerror(rc));
		return rc;
	}
	if (!r->quiet) {
		printf("bulkperf: %s: listening on %s\n", e->node->name, name);
		fflush(stdout);
	}
	return 0;
}

/* Source: a pool of memfd memory (other processes map it), assigned to link 0. */
static int
perf_shm_assign(struct perf_run *r, struct perf_node *n)
{
	struct perf_end *e = n->down;
	uint64_t deadline;
	int rc;

	rc = perf_pool_alloc(r, n->dom, BULK_MEM_MEMFD);
	if (rc < 0)
		return rc;
	rc = bulk_channel_assign_pool(e->ch, r->pool, perf_end_cont(e));
	if (rc < 0) {
		fprintf(stderr, "bulkperf: %s: assign pool to link 0: %s\n", n->name,
			bulk_strerror(rc));
		e->started = false;
		return rc;
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	while (!e->cont_fired) {
		rc = bulk_domain_poll(n->dom, 0);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: poll: %s\n", n->name, bulk_strerror(rc));
			return rc;
		}
		if (perf_shm_cancelled(n))
			return -EINTR;
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: %s: pool assignment did not complete within 5 s\n",
				n->name);
			return -ETIMEDOUT;
		}
	}
	return perf_assign_result(r, n, e);
}

/*
 * Hop: once the view arrived from upstream, assign it downstream; what
 * arrived meanwhile waits in the queue until the peer accepted it.
 */
static void
perf_shm_hop_assign(struct perf_run *r, struct perf_node *n)
{
	struct perf_end *d = n->down;
	int rc;

	(void)r;
	if (!d->hold || !n->view_assigned)
		return;
	if (!d->started) {
		rc = bulk_channel_assign_pool(d->ch, n->view, perf_end_cont(d));
		if (rc < 0) {
			d->started = false;
			perf_end_error(d, "assign the pool downstream", rc);
		}
		return;
	}
	if (!d->cont_fired)
		return;
	d->started = false;
	if (d->cont_err != 0)
		perf_end_error(d, "pool assignment downstream", d->cont_err);
	else
		d->hold = false;
}

/* ---------------------------------------------------------------- running */


/*
 * A hop or the sink gives up (downstream died, an error here, SIGINT or
 * SIGTERM) but keeps the source's buffers safe: closing upstream now would
 * strand whatever the source moves before it sees the teardown. Instead,
 * send everything held home marked PERF_SEQ_STOP, and from now on pass
 * back at once what arrives, marked too: the source stops, drains and
 * closes the link in order.
 */
static void
perf_shm_give_up(struct perf_run *r, struct perf_node *n)
{
	if (!perf_aborted(r))
		fprintf(stderr, "bulkperf: %s: interrupted; sending every buffer back until the "
				"source closes the link\n",
			n->name);
	n->bounce = true;
	if (n->down != NULL)
		n->down->hold = true;
	/* What the queues hold is owned here, and goes home with the rest. */
	for (unsigned i = 0; i < r->nends; i++)
		r->ends[i].q.head = r->ends[i].q.tail;
	perf_pass_home(r, n);
}

/*
 * Nothing to do: spin (yielding now and then when the chain has more
 * processes than there are CPUs, or a peer may never run), and after
 * PERF_IDLE_SLEEP_NS sleep on the channels' fds, armed first so that the
 * peer wakes us. A sink still waiting for a binder has no fd to sleep on
 * yet and naps instead.
 */
static void
perf_shm_idle(struct perf_run *r, struct perf_node *n, unsigned *spins, uint64_t *since)
{
	struct perf_end *ends[2] = { n->up, n->down };
	struct pollfd pfd[2];
	unsigned nfd = 0;
	uint64_t now;

	if (++*spins < PERF_IDLE_SPINS) {
		perf_cpu_relax();
		return;
	}
	*spins = 0;
	now = perf_now_ns();
	if (*since == 0)
		*since = now;
	if (now - *since < PERF_IDLE_SLEEP_NS) {
		if (r->crowded)
			sched_yield();
		return;
	}
	for (unsigned i = 0; i < 2; i++) {
		int fd, rc;

		if (!perf_connected(ends[i]))
			continue;
		fd = bulk_channel_fd(ends[i]->ch);
		if (fd < 0)
			continue;
		rc = bulk_channel_arm(ends[i]->ch);
		if (rc != 0) /* work pending (or an error the next poll reports) */
			return;
		pfd[nfd].fd = fd;
		pfd[nfd].events = POLLIN;
		nfd++;
	}
	if (nfd == 0)
		perf_sleep_ns(1000 * 1000);
	else
		(void)poll(pfd, nfd, PERF_SLEEP_MS);
}

static void
perf_shm_tick(struct perf_run *r, uint64_t period, bool show)
{
	uint64_t now = perf_now_ns();

	if (show && period != 0 && now - r->t_last_print >= period)
		perf_stats_periodic(r, now, true);
}

/* The source: produce, send, take back, until the count or time is done. */
static void
perf_shm_run_source(struct perf_run *r, struct perf_node *n)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t last = 0, last_t, since = 0;
	unsigned iter = 0, spins = 0;

	perf_start_clock(r);
	last_t = r->t_start;
	for (;;) {
		unsigned work = perf_step(r, n);

		if (perf_source_done(r) || perf_aborted(r))
			break;
		if ((++iter & 63) == 0) {
			uint64_t now = perf_now_ns();

			perf_shm_tick(r, period, true);
			if (perf_watchdog(r, now, &last, &last_t))
				break;
		}
		if (work != 0) {
			spins = 0;
			since = 0;
		} else {
			perf_shm_idle(r, n, &spins, &since);
		}
	}
	r->t_end = perf_now_ns();
}

/*
 * A hop or the sink: forward and pass back until upstream closes. The
 * clock runs from the moment a peer bound.
 */
static void
perf_shm_run_relay(struct perf_run *r, struct perf_node *n)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)PERF_SEC_NS);
	uint64_t since = 0, gave_up = 0;
	unsigned iter = 0, spins = 0;
	bool bound = false;

	for (;;) {
		unsigned work = perf_step(r, n);

		if (n->role == PERF_ROLE_HOP)
			perf_shm_hop_assign(r, n);
		if (!bound && perf_connected(n->up)) {
			bound = true;
			perf_start_clock(r);
			if (!r->quiet) {
				printf("bulkperf: %s: a peer bound\n", n->name);
				fflush(stdout);
			}
		}
		if (n->up->closed)
			break;
		if (!n->bounce && (perf_aborted(r) || atomic_load_explicit(&perf_interrupted,
									  memory_order_relaxed))) {
			if (!perf_connected(n->up))
				break;
			perf_shm_give_up(r, n);
			gave_up = perf_now_ns();
		}
		if (n->bounce && perf_now_ns() - gave_up > PERF_GIVE_UP_NS) {
			fprintf(stderr, "bulkperf: %s: upstream did not close within %llu s after "
					"this process gave up\n",
				n->name, PERF_GIVE_UP_NS / PERF_SEC_NS);
			r->errors++;
			break;
		}
		if ((++iter & 63) == 0)
			perf_shm_tick(r, period, bound && !r->quiet);
		if (work != 0) {
			spins = 0;
			since = 0;
		} else {
			perf_shm_idle(r, n, &spins, &since);
		}
	}
	r->t_end = perf_now_ns();
	if (!bound)
		r->t_start = r->t_end;
	if (n->up->closed && n->up->close_reason != 0 && !r->quiet)
		printf("bulkperf: %s: the peer went away without a teardown: %s\n", n->name,
		       bulk_strerror(n->up->close_reason));
}

/* --------------------------------------------------------------- teardown */

/* Destroy the connected channels of @p n and wait until they are closed. */
static void
perf_shm_close(struct perf_run *r, struct perf_node *n)
{
	struct perf_end *ends[2] = { n->up, n->down };
	uint64_t deadline;
	bool open;
	int rc;

	for (unsigned i = 0; i < 2; i++) {
		struct perf_end *e = ends[i];

		/* A creator nobody bound to is destroyed too: it stops listening. */
		if (e == NULL || e->ch == NULL ||
		    (bulk_channel_state(e->ch) != BULK_STATE_CONNECTED &&
		     bulk_channel_state(e->ch) != BULK_STATE_INITIALIZED))
			continue;
		rc = bulk_channel_destroy(e->ch, perf_end_cont(e));
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: destroy link %u: %s\n", n->name, e->link,
				bulk_strerror(rc));
			e->started = false;
			r->errors++;
		}
	}
	deadline = perf_now_ns() + PERF_SETUP_TIMEOUT_NS;
	do {
		open = false;
		for (unsigned i = 0; i < 2; i++) {
			struct perf_end *e = ends[i];

			if (e == NULL || e->ch == NULL)
				continue;
			if (bulk_channel_state(e->ch) != BULK_STATE_CLOSED &&
			    bulk_channel_state(e->ch) != BULK_STATE_INITIALIZED)
				open = true;
			/* A channel can only be freed once its destroy continuation ran. */
			if (e->started && !e->cont_fired)
				open = true;
		}
		if (!open)
			break;
		rc = bulk_domain_poll(n->dom, 0);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: poll during teardown: %s\n", n->name,
				bulk_strerror(rc));
			r->errors++;
			break;
		}
		if (perf_now_ns() > deadline) {
			fprintf(stderr, "bulkperf: %s: channels did not close within 5 s\n", n->name);
			r->errors++;
			break;
		}
	} while (open);
}



static void
perf_shm_teardown(struct perf_run *r, struct perf_node *n)
{
	uint32_t held = 0;
	int rc;

	if (n == NULL || n->dom == NULL)
		return;
	r->tearing_down = true;
	if (n->role == PERF_ROLE_SOURCE) {
		perf_pool_home(r);
		perf_check_source(r, n);
	} else {
		/* Upstream did not close in time after we gave up: what we hold
		 * goes home before we close it ourselves. */
		perf_pass_home(r, n);
	}
	perf_shm_close(r, n);
	if (n->role != PERF_ROLE_SOURCE) {
		/* Upstream closed while they were here (it gave up on them, or
		 * went away): no loss this process can tell from a failure. */
		held = perf_held(n);
		if (held != 0)
			fprintf(stderr, "bulkperf: %s: %u buffers of the source's pool are still here\n",
				n->name, held);
	}
	for (unsigned i = 0; i < r->nends; i++) {
		struct perf_end *e = &r->ends[i];

		if (e->ch == NULL)
			continue;
		bulk_channel_stats_get(e->ch, &e->lib);
		rc = bulk_channel_free(e->ch);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free link %u channel: %s\n", n->name, e->link,
				bulk_strerror(rc));
			r->errors++;
		} else {
			e->ch = NULL;
		}
	}
	for (unsigned i = 0; i < r->neps; i++) {
		if (r->eps[i] == NULL)
			continue;
		rc = bulk_endpoint_free(r->eps[i]);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free endpoint: %s\n", n->name, bulk_strerror(rc));
			r->errors++;
		} else {
			r->eps[i] = NULL;
		}
	}
	n->view = NULL; /* dropped with the last channel it was assigned to */
	if (r->pool != NULL) {
		rc = bulk_pool_free(r->pool);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: free pool: %s\n", n->name, bulk_strerror(rc));
			r->errors++;
		} else {
			r->pool = NULL;
		}
	}
	if (held != 0)
		return;
	rc = bulk_domain_destroy(n->dom);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: %s: destroy domain: %s\n", n->name, bulk_strerror(rc));
		r->errors++;
	} else {
		n->dom = NULL;
	}
}

/* ------------------------------------------------------------------ node */

static int
perf_shm_setup(struct perf_run *r, const struct perf_place *p)
{
	struct perf_node *n = &r->nodes[0];
	int rc;

	rc = bulk_domain_create(n->name, &n->dom);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: domain %s: %s\n", n->name, bulk_strerror(rc));
		n->dom = NULL;
		return rc;
	}
	if (n->up != NULL) {
		rc = bulk_shm_endpoint_create(n->dom, p->up, NULL, &r->eps[0]);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: endpoint %s: %s\n", n->name, p->up,
				bulk_strerror(rc));
			r->eps[0] = NULL;
			return rc;
		}
	}
	if (n->down != NULL) {
		rc = bulk_shm_endpoint_create(n->dom, p->down, NULL, &r->eps[1]);
		if (rc < 0) {
			fprintf(stderr, "bulkperf: %s: endpoint %s: %s\n", n->name, p->down,
				bulk_strerror(rc));
			r->eps[1] = NULL;
			return rc;
		}
		/* In a forked chain the next process may not listen yet: no news. */
		rc = perf_shm_bind(r, n->down, r->eps[1], p->down,
				   n->role == PERF_ROLE_SOURCE ? &perf_shm_cb_source
							       : &perf_shm_cb_hop_down,
				   p->forked);
		if (rc < 0)
			return rc;
	}
	if (n->up != NULL) {
		rc = perf_shm_listen(r, n->up, r->eps[0], p->up,
				     n->role == PERF_ROLE_SINK ? &perf_shm_cb_sink
							       : &perf_shm_cb_hop_up);
		if (rc < 0)
			return rc;
	}
	if (n->role == PERF_ROLE_SOURCE) {
		rc = perf_shm_assign(r, n);
		if (rc < 0)
			return rc;
	}
	if (!r->quiet && perf_csv_open(r) < 0)
		return -EIO;
	return 0;
}

int
perf_shm_node(struct perf_run *r, const struct perf_opts *o, const struct perf_place *p)
{
	bool source = p->idx == 0, sink = p->idx == o->hops + 1;
	struct perf_node *n;
	unsigned k = 0;
	int rc;

	perf_run_init(r, o);
	r->split = true;
	r->quiet = p->forked && !source;
	r->crowded = (long)o->hops + 2 > sysconf(_SC_NPROCESSORS_ONLN);
	r->neps = 2;
	rc = perf_ends_alloc(r, 1, source || sink ? 1 : 2);
	if (rc < 0) {
		fprintf(stderr, "bulkperf: %s\n", bulk_strerror(rc));
		return rc;
	}
	n = &r->nodes[0];
	n->run = r;
	n->idx = p->idx;
	n->role = source ? PERF_ROLE_SOURCE : (sink ? PERF_ROLE_SINK : PERF_ROLE_HOP);
	perf_node_name(p->idx, o->hops, n->name, sizeof(n->name));
	if (source) {
		r->source = n;
		r->stamp = o->mode == PERF_MODE_ECHO || o->mode == PERF_MODE_RTT ||
			   o->mode == PERF_MODE_PASSTHROUGH;
		r->stamp_every = o->mode == PERF_MODE_RTT;
	} else {
		n->up = &r->ends[k++];
		n->up->link = p->idx - 1;
		n->up->tx_side = false;
		n->up->node = n;
	}
	if (sink) {
		r->sink = n;
		/* The source's --buffer-size is news to us: learned from the first buffer. */
		r->payload_len = 0;
	} else {
		n->down = &r->ends[k++];
		n->down->link = p->idx;
		n->down->tx_side = true;
		n->down->node = n;
		/* A hop's queue downstream waits for the pool to be assigned there. */
		n->down->hold = !source;
	}
	rc = perf_shm_setup(r, p);
	if (rc == 0) {
		if (source)
			perf_shm_run_source(r, n);
		else
			perf_shm_run_relay(r, n);
	}
	perf_shm_teardown(r, n);
	return rc;
}

int
perf_shm_main(const struct perf_opts *o)
{
	struct perf_place p;
	struct perf_run r;
	int rc;

	if (o->role == PERF_SHM_ALL)
		return perf_spawn_main(o);
	memset(&p, 0, sizeof(p));
	p.idx = o->role == PERF_SHM_BIND ? 0 : 1;
	snprintf(p.up, sizeof(p.up), "%s", o->endpoint);
	snprintf(p.down, sizeof(p.down), "%s", o->endpoint);
	rc = perf_shm_node(&r, o, &p);
	rc = rc < 0 ? PERF_EXIT_FAIL : perf_report(&r, true);
	perf_run_free(&r);
	return rc;
}
