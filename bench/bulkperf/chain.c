/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The part of the chain this process holds, for every backend: its nodes
 * and ends, set-up by address, the run loops and an orderly teardown that
 * checks every buffer came home; and the local and shm forms.
 *
 * Set-up goes from the sink up: a node binds downstream first and listens
 * upstream only once that link is up, so the source's bind succeeds only
 * when the rest of the chain stands (in one process every listener exists
 * before its binder). The source assigns its pool; each hop passes it on
 * downstream as it arrives (lib/app's forwarder), holding what arrives
 * meanwhile.
 *
 * A process without the source runs until its upstream peer tears the
 * channel down (or goes away); a hop then tears its downstream link down,
 * so the chain closes from the source to the sink.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulkperf.h"

/* After giving up, the source has this long to drain and close the link. */
#define PERF_GIVE_UP_NS (10 * APP_SEC_NS)

void
perf_link_addr(const struct perf_opts *o, unsigned k, char *buf, size_t len)
{
	int n;

	/* Options left room for the suffix; cut, the address would fail to parse. */
	if (o->side == PERF_SIDE_ALL)
		n = snprintf(buf, len, "%s.%u", o->addr, k);
	else
		n = snprintf(buf, len, "%s", o->addr);
	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

/* ------------------------------------------------------------ set-up */

static int
perf_loop_poll(void *arg)
{
	struct perf_run *r = arg;
	int rc;

	if (r->form->poll != NULL) {
		rc = r->form->poll(r);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = 0; i < r->nnodes; i++) {
		if (r->nodes[i].dom == NULL)
			continue;
		rc = bulk_domain_poll(r->nodes[i].dom, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Set-up gives up on Ctrl-C, or when a process of a forked chain died. */
static bool
perf_loop_cancelled(void *arg)
{
	struct perf_run *r = arg;

	if (app_is_interrupted()) {
		app_err("%s: interrupted during setup", r->nodes[0].name);
		return true;
	}
	if (atomic_load_explicit(&perf_child_exited, memory_order_relaxed)) {
		app_err("%s: a process of the chain exited during setup", r->nodes[0].name);
		return true;
	}
	return false;
}

static struct perf_end *
perf_end_take(struct perf_run *r, struct perf_node *n, unsigned link, bool tx_side)
{
	struct perf_end *e = &r->ends[r->nends++];

	e->node = n;
	e->link = link;
	e->c.name = n->name;
	e->c.tx_side = tx_side;
	e->c.burst = r->o->burst;
	e->c.abort = &r->abort;
	return e;
}

/* Nodes @p first..@p last of the chain, and the ends of their links. */
static int
perf_run_init(struct perf_run *r, const struct perf_opts *o, const struct perf_form *f,
	      unsigned first, unsigned last, bool forked)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->form = f;
	r->nlinks = o->hops + 1;
	r->nnodes = last - first + 1;
	r->split = r->nnodes < o->hops + 2;
	r->forked = forked;
	r->quiet = forked && first != 0;
	r->crowded = r->split && (long)o->hops + 2 > sysconf(_SC_NPROCESSORS_ONLN);
	r->payload_len = o->buffer_size;
	/* Poll at least a burst per channel, and the library default otherwise. */
	r->budget = o->burst > 64 ? o->burst : 64;
	r->inflight_max = o->inflight;
	r->loop = (struct app_loop){ perf_loop_poll, perf_loop_cancelled, r };
	app_hist_init(&r->hist);
	atomic_init(&r->done, false);
	atomic_init(&r->abort, false);
	r->nodes = calloc(r->nnodes, sizeof(*r->nodes));
	r->ends = calloc(2 * r->nnodes, sizeof(*r->ends));
	r->hist_prev = malloc(sizeof(*r->hist_prev));
	if (r->nodes == NULL || r->ends == NULL || r->hist_prev == NULL) {
		app_err("%s", bulk_strerror(-ENOMEM));
		return -ENOMEM;
	}
	*r->hist_prev = r->hist;
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		n->run = r;
		n->idx = first + i;
		n->role = n->idx == 0 ? PERF_ROLE_SOURCE
				      : (n->idx == o->hops + 1 ? PERF_ROLE_SINK : PERF_ROLE_HOP);
		perf_node_name(n->idx, o->hops, n->name, sizeof(n->name));
		/* ends[2k] is link k's TX end, ends[2k + 1] its RX end, with the whole chain. */
		if (n->role != PERF_ROLE_SOURCE)
			n->up = perf_end_take(r, n, n->idx - 1, false);
		if (n->role != PERF_ROLE_SINK)
			n->down = perf_end_take(r, n, n->idx, true);
		if (n->role == PERF_ROLE_HOP)
			app_fwd_init(&n->fwd, &n->up->c, &n->down->c);
	}
	for (unsigned i = 0; i < r->nends; i++)
		if (app_chan_init(&r->ends[i].c, o->buffers, PERF_META_SIZE) < 0) {
			app_err("%s", bulk_strerror(-ENOMEM));
			return -ENOMEM;
		}
	if (r->nodes[0].role == PERF_ROLE_SOURCE) {
		r->source = &r->nodes[0];
		r->stamp = o->mode == PERF_MODE_ECHO || o->mode == PERF_MODE_RTT ||
			   o->mode == PERF_MODE_PASSTHROUGH;
		r->stamp_every = o->mode == PERF_MODE_RTT;
	}
	if (r->nodes[r->nnodes - 1].role == PERF_ROLE_SINK) {
		r->sink = &r->nodes[r->nnodes - 1];
		/* The source's --buffer-size is news to another process: learned from the first buffer. */
		if (r->split)
			r->payload_len = 0;
	}
	return 0;
}

static void
perf_run_free(struct perf_run *r)
{
	for (unsigned i = 0; r->ends != NULL && i < r->nends; i++)
		app_chan_fini(&r->ends[i].c);
	free(r->ends);
	free(r->nodes);
	free(r->hist_prev);
}

/* Bind downstream, then listen upstream (see the top of the file). */
static int
perf_node_open(struct perf_run *r, struct perf_node *n)
{
	const struct perf_opts *o = r->o;
	char addr[BULK_ADDR_STRLEN];
	int rc;

	if (n->down != NULL) {
		struct bulk_bind_params bp = { .trust = o->trust_level,
					       .meta_size = PERF_META_SIZE };
		struct app_bind_policy pol;

		r->form->bind_policy(r, &pol);
		perf_link_addr(o, n->down->link, addr, sizeof(addr));
		rc = app_chan_bind(&n->down->c, n->dom, addr,
				   n->role == PERF_ROLE_SOURCE ? &perf_cb_source
							       : &perf_cb_hop_down,
				   &bp, &r->loop, &pol);
		if (rc < 0)
			return rc;
		if (r->split && !r->quiet)
			app_say("%s: bound to %s", n->name, n->down->c.addr);
	}
	if (n->up != NULL) {
		struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX,
						  .trust = o->trust_level,
						  .meta_size = PERF_META_SIZE,
						  .queue_size = o->queue_size };

		perf_link_addr(o, n->up->link, addr, sizeof(addr));
		rc = app_chan_listen(&n->up->c, n->dom, addr,
				     n->role == PERF_ROLE_SINK ? &perf_cb_sink : &perf_cb_hop_up,
				     &cp);
		if (rc < 0)
			return rc;
		if (r->split && !r->quiet)
			app_say("%s: listening on endpoint %s", n->name, n->up->c.addr);
	}
	return 0;
}

static int
perf_setup(struct perf_run *r)
{
	int rc;

	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		rc = bulk_domain_create(n->name, &n->dom);
		if (rc < 0) {
			app_err("domain %s: %s", n->name, bulk_strerror(rc));
			n->dom = NULL;
			return rc;
		}
	}
	if (r->form->open != NULL) {
		rc = r->form->open(r);
		if (rc < 0)
			return rc;
	}
	for (unsigned i = r->nnodes; i-- > 0;) {
		rc = perf_node_open(r, &r->nodes[i]);
		if (rc < 0)
			return rc;
	}
	if (r->source != NULL) {
		rc = perf_pool_alloc(r, r->source->dom);
		if (rc < 0)
			return rc;
		rc = app_chan_assign(&r->source->down->c, r->pool, &r->loop, r->form->close_ns);
		if (rc < 0)
			return rc;
	}
	if (!r->quiet && perf_csv_open(r) < 0)
		return -EIO;
	return 0;
}

/* ---------------------------------------------------------------- running */

static void
perf_tick(struct perf_run *r, uint64_t now, bool lib_safe)
{
	uint64_t period = (uint64_t)(r->o->stats_period * (double)APP_SEC_NS);

	if (r->quiet || period == 0 || now - r->t_last_print < period)
		return;
	perf_stats_periodic(r, now, lib_safe);
	if (r->form->periodic != NULL)
		r->form->periodic(r);
}

/* The channels a split node sleeps on when idle. */
static unsigned
perf_idle_chans(struct perf_run *r, struct app_chan *chans[2])
{
	unsigned n = 0;

	if (r->split && r->nodes[0].up != NULL)
		chans[n++] = &r->nodes[0].up->c;
	if (r->split && r->nodes[0].down != NULL)
		chans[n++] = &r->nodes[0].down->c;
	return n;
}

/*
 * The thread of the source, which drives every domain held here: down
 * the chain and back up (source, hops, sink, hops in reverse), so that a
 * buffer makes its whole round trip in one sweep and latency is not an
 * artefact of the polling order.
 */
static void
perf_run_source(struct perf_run *r)
{
	struct app_idle idle = { .yield = r->crowded || r->form->idle_yield,
				 .sleep = r->form->idle_sleep,
				 .nap_us = r->o->idle_nap_us };
	struct app_chan *chans[2];
	unsigned nchans = perf_idle_chans(r, chans), iter = 0;
	uint64_t last = 0, last_t;

	perf_start_clock(r);
	last_t = r->t_start;
	for (;;) {
		unsigned work = 0;

		for (unsigned i = 0; i < r->nnodes; i++)
			work += perf_step(r, &r->nodes[i]);
		for (unsigned i = r->nnodes - 2; i > 0 && i < r->nnodes; i--)
			work += perf_step(r, &r->nodes[i]);
		if (perf_source_done(r) || perf_aborted(r))
			break;
		/* Clock reads cost; the printer and watchdog need no finer grain. */
		if ((++iter & 63) == 0) {
			uint64_t now = app_now_ns();

			perf_tick(r, now, true);
			if (perf_watchdog(r, now, &last, &last_t))
				break;
		}
		if (work != 0)
			app_idle_busy(&idle);
		else
			app_idle(&idle, chans, nchans);
	}
	perf_stop_clock(r);
	atomic_store_explicit(&r->done, true, memory_order_release);
}

static void *
perf_thread_main(void *arg)
{
	struct perf_node *n = arg;
	struct perf_run *r = n->run;
	/* There may be more domains than cores: give the CPU away when idle. */
	struct app_idle idle = { .yield = true };

	while (!atomic_load_explicit(&r->done, memory_order_acquire) && !perf_aborted(r)) {
		unsigned work = perf_step(r, n);

		if (n->role == PERF_ROLE_SOURCE && perf_source_done(r)) {
			perf_stop_clock(r);
			atomic_store_explicit(&r->done, true, memory_order_release);
			break;
		}
		if (work != 0)
			app_idle_busy(&idle);
		else
			app_idle(&idle, NULL, 0);
	}
	return NULL;
}

/*
 * One thread per domain (local); the main thread only prints and watches.
 * Each domain is touched by its own thread alone: set-up happened before
 * the threads started and teardown happens after they are joined.
 */
static void
perf_run_threads(struct perf_run *r)
{
	uint64_t last = 0, last_t;
	int rc;

	perf_start_clock(r);
	last_t = r->t_start;
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		rc = pthread_create(&n->thread, NULL, perf_thread_main, n);
		if (rc != 0) {
			app_err("pthread_create: %s", strerror(rc));
			r->errors++;
			perf_abort(r);
			break;
		}
		n->thread_started = true;
	}
	while (!atomic_load_explicit(&r->done, memory_order_acquire) && !perf_aborted(r)) {
		uint64_t now;

		app_sleep_ns(10 * APP_MS_NS);
		now = app_now_ns();
		perf_tick(r, now, false);
		if (perf_watchdog(r, now, &last, &last_t))
			break;
	}
	for (unsigned i = 0; i < r->nnodes; i++)
		if (r->nodes[i].thread_started) {
			pthread_join(r->nodes[i].thread, NULL);
			r->nodes[i].thread_started = false;
		}
	perf_stop_clock(r);
	atomic_store_explicit(&r->done, true, memory_order_release);
}

/*
 * A hop or the sink in its own process: forward and pass back until
 * upstream closes. The clock runs from the moment a peer bound. A process
 * that gives up (an error here, SIGINT or SIGTERM) sends every buffer home
 * marked PERF_SEQ_STOP and bounces what still arrives, so the source
 * drains and closes in order.
 */
static void
perf_run_relay(struct perf_run *r)
{
	struct perf_node *n = &r->nodes[0];
	struct app_idle idle = { .yield = r->crowded || r->form->idle_yield,
				 .nap_us = r->o->idle_nap_us };
	struct app_chan *chans[2];
	unsigned nchans = perf_idle_chans(r, chans), iter = 0;
	uint64_t gave_up = 0;
	bool bound = false;

	for (;;) {
		unsigned work;

		/* Before the binder's request arrived: the link, not a channel, hears it. */
		if (!bound && r->form->poll != NULL && r->form->poll(r) < 0) {
			r->errors++;
			break;
		}
		work = perf_step(r, n);
		if (!bound && app_chan_connected(&n->up->c)) {
			bound = true;
			perf_start_clock(r);
			if (!r->quiet)
				app_say("%s: a peer bound", n->name);
		}
		if (n->up->c.closed)
			break;
		if (gave_up == 0 && (perf_aborted(r) || app_is_interrupted())) {
			if (!app_chan_connected(&n->up->c))
				break;
			if (!perf_aborted(r))
				app_err("%s: interrupted; sending every buffer back until the source "
					"closes the link",
					n->name);
			if (n->role == PERF_ROLE_HOP)
				app_fwd_give_up(&n->fwd, perf_meta_stop, PERF_SETUP_NS);
			else
				perf_sink_give_up(n);
			gave_up = app_now_ns();
		}
		if (gave_up != 0 && app_now_ns() - gave_up > PERF_GIVE_UP_NS) {
			app_err("%s: the source did not close within %llu s after this process "
				"gave up",
				n->name, PERF_GIVE_UP_NS / APP_SEC_NS);
			r->errors++;
			break;
		}
		if ((++iter & 63) == 0 && bound)
			perf_tick(r, app_now_ns(), true);
		if (work != 0) {
			app_idle_busy(&idle);
			continue;
		}
		/* Waiting for a binder, nap once idle a while: it repeats its request. */
		idle.sleep = r->form->idle_sleep || !bound;
		app_idle(&idle, chans, nchans);
	}
	perf_stop_clock(r);
	if (!bound)
		r->t_start = r->t_end;
	if (n->up->c.closed && n->up->c.close_reason != 0 && !r->quiet)
		app_say("%s: the peer went away without a teardown: %s", n->name,
			bulk_strerror(n->up->c.close_reason));
}

/* --------------------------------------------------------------- teardown */

static void
perf_teardown(struct perf_run *r)
{
	uint32_t held[PERF_MAX_HOPS + 2];
	int rc;

	/* From here on a peer closing is expected. */
	for (unsigned i = 0; i < r->nends; i++)
		r->ends[i].c.closing = true;
	if (r->source != NULL) {
		perf_pool_home(r);
		perf_check_counts(r);
	}
	/* Upstream did not close in time after we gave up: what we hold goes home first. */
	for (unsigned i = 0; r->split && i < r->nnodes; i++)
		if (r->nodes[i].up != NULL)
			(void)app_chan_pass_home(&r->nodes[i].up->c, perf_meta_stop, PERF_SETUP_NS);
	/* The upstream end destroys each link; a creator nobody bound to stops listening. */
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		if (n->down != NULL)
			r->errors +=
				(uint64_t)app_chan_close(&n->down->c, &r->loop, r->form->close_ns);
		if (n->up != NULL)
			r->errors +=
				(uint64_t)app_chan_close(&n->up->c, &r->loop, r->form->close_ns);
	}
	/*
	 * Upstream closed while buffers were here (it gave up on them, or went
	 * away): no loss this process can tell from a failure, but the domain
	 * cannot let them vanish, so it stays until the process exits.
	 */
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		held[i] = n->up != NULL ? app_pool_owned(n->up->c.view) : 0;
		if (held[i] != 0)
			app_err("%s: %u buffers of the source's pool are still here", n->name,
				held[i]);
	}
	if (r->form->closing != NULL)
		r->form->closing(r);
	/* On each link the creator first: a local binder shares the creator's endpoint. */
	for (unsigned i = r->nnodes; i-- > 0;) {
		struct perf_node *n = &r->nodes[i];

		if (n->up != NULL)
			r->errors += (uint64_t)app_chan_free(&n->up->c);
		if (n->down != NULL)
			r->errors += (uint64_t)app_chan_free(&n->down->c);
	}
	if (r->pool != NULL) {
		rc = bulk_pool_free(r->pool);
		if (rc < 0) {
			app_err("free pool: %s", bulk_strerror(rc));
			r->errors++;
		} else {
			r->pool = NULL;
		}
	}
	if (r->form->close != NULL)
		r->form->close(r);
	for (unsigned i = 0; i < r->nnodes; i++) {
		struct perf_node *n = &r->nodes[i];

		if (n->dom == NULL || held[i] != 0)
			continue;
		rc = bulk_domain_destroy(n->dom);
		if (rc < 0) {
			app_err("destroy domain %s: %s", n->name, bulk_strerror(rc));
			r->errors++;
		} else {
			n->dom = NULL;
		}
	}
}

int
perf_chain_main(const struct perf_opts *o, const struct perf_form *f, unsigned first, unsigned last,
		bool forked, unsigned (*reap)(bool failed))
{
	struct perf_run r;
	int rc, status;

	rc = perf_run_init(&r, o, f, first, last, forked);
	if (rc == 0)
		rc = perf_setup(&r);
	if (rc == 0) {
		if (r.source == NULL)
			perf_run_relay(&r);
		else if (o->threads)
			perf_run_threads(&r);
		else
			perf_run_source(&r);
	}
	if (r.nodes != NULL)
		perf_teardown(&r);
	if (f->fini != NULL)
		f->fini(&r);
	/* Forked members of the chain print their blocks before the source's. */
	if (reap != NULL)
		r.errors += reap(rc < 0);
	if (rc < 0) {
		status = APP_EXIT_FAIL;
		(void)app_csv_close(&r.csv);
	} else {
		status = perf_report(&r, !r.quiet);
	}
	perf_run_free(&r);
	return status;
}

/* ------------------------------------------------------------------ forms */

static void
perf_bind_policy(const struct perf_run *r, struct app_bind_policy *p)
{
	/* "A few seconds" for the creator to come up; a forked chain's comes up as we go. */
	*p = (struct app_bind_policy){ .retry_ns = 5 * APP_SEC_NS,
				       .gap_ns = 10 * APP_MS_NS,
				       .answer_ns = PERF_SETUP_NS,
				       .quiet = r->forked || !r->split };
}

/* Every domain in this process, over the local backend. */
const struct perf_form perf_form_local = {
	.mem = BULK_MEM_ANON,
	.close_ns = PERF_SETUP_NS,
	.bind_policy = perf_bind_policy,
};

/* One domain per process over shm: the pool in memfd memory the others map. */
const struct perf_form perf_form_shm = {
	.mem = BULK_MEM_MEMFD,
	.idle_sleep = true,
	.close_ns = PERF_SETUP_NS,
	.bind_policy = perf_bind_policy,
};
