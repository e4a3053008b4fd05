/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workloads. One engine keeps --qd requests in flight: it picks a
 * block and an operation, takes a buffer of the client's pool (a WRITE's
 * pattern is written straight into it: the buffer is what travels), and
 * submits what it gathered in one call; completions check reads against
 * the verification map and update it for writes.
 *
 *   basic  (spec 7.5) write block i, wait, read it back, verify, i + 1
 *   seq    blocks in order, wrapping; rand: uniformly random blocks
 *
 * A block has at most one request in flight, so that what a read returns
 * is exactly the last write acknowledged before it was sent.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "bs_user.h"

/* Blocks a random pick tries before it waits for a completion. */
#define BSU_PROBES 16
/* Verify failures described one by one; the rest are counted. */
#define BSU_SAY_FAILURES 5

struct bsu_io {
	struct bsu_engine *e;
	uint64_t block; /* in the map */
	uint32_t gen;	/* WRITE: the generation it writes */
	uint8_t op;
	bool prefill;
	uint64_t t0;
};

struct bsu_engine {
	const struct bsu_opts *o;
	struct bulk_bs_client *c;
	struct bsu_result *r;
	struct bsu_vmap map;
	uint64_t base;	  /* byte offset of block 0 */
	uint64_t issued;  /* requests of the measured phase sent */
	uint64_t target;  /* requests to send (count mode) */
	uint64_t deadline;
	uint64_t cursor;  /* seq, prefill, basic: the next step */
	uint64_t rng;
	bool prefill;	  /* writing the range before a verified read run */
	bool stop;	  /* no more requests */
	struct bsu_io *ios;
	struct bsu_io **free_ios;
	uint32_t nfree;
	uint64_t failures_said;
	/* periodic */
	uint64_t t_start, t_last, ios_last, bytes_last;
	struct app_hist lat_last;
};

static uint64_t
rnd(struct bsu_engine *e)
{
	/* xorshift64*: fast, and the seed makes a run repeatable. */
	e->rng ^= e->rng >> 12;
	e->rng ^= e->rng << 25;
	e->rng ^= e->rng >> 27;
	return e->rng * 0x2545f4914f6cdd1dull;
}

static void
on_done(void *arg, int status, struct bulk_buffer *buf)
{
	struct bsu_io *io = arg;
	struct bsu_engine *e = io->e;
	struct bsu_result *r = e->r;
	struct bsu_vmap *m = &e->map;
	uint64_t b = io->block;

	m->busy[b] = 0;
	if (!io->prefill) {
		app_hist_record(&r->lat, app_now_ns() - io->t0);
		r->ios++;
	}
	if (status != 0) {
		r->errors++;
		if (r->first_error == 0) {
			r->first_error = status;
			app_err("%s of block %" PRIu64 " (offset %" PRIu64 "): %s",
				bulk_bs_op_name(io->op), b, e->base + b * m->bs, bulk_strerror(status));
		}
		/* A write that failed may have landed in part: the block is unknown now. */
		if (io->op == BULK_BS_OP_WRITE)
			m->gen[b] = BSU_GEN_UNKNOWN;
		if (status == -ESHUTDOWN)
			r->server_shutdown = true;
		/* -ENOTCONN: a proxy whose upstream is gone; it may come back,
		 * but this run's map no longer says what the blocks hold. */
		if (status == -ENOTCONN && e->o->continue_on_error) {
			/* Counted; the proxy reconnects, the run goes on. */
		} else if (status == -ECONNRESET || status == -ENOTCONN) {
			r->server_gone = true;
			e->stop = true;
		} else if (status == -ESHUTDOWN) {
			e->stop = true;
		}
	} else if (io->op == BULK_BS_OP_WRITE) {
		m->gen[b] = io->gen;
		if (!io->prefill) {
			r->writes++;
			r->bytes += m->bs;
		}
	} else {
		uint32_t g = m->gen[b];

		r->reads++;
		r->bytes += m->bs;
		if (!e->o->verify) {
			/* Nothing to check against. */
		} else if (g == BSU_GEN_NONE || g == BSU_GEN_UNKNOWN || buf == NULL) {
			r->unverified++;
		} else if (bsu_pattern_check(m, buf->addr, b, g)) {
			r->verified++;
		} else {
			r->verify_failures++;
			if (e->failures_said++ < BSU_SAY_FAILURES)
				app_err("verify failure: block %" PRIu64 " (offset %" PRIu64
					") does not hold what was last written to it (generation %u)",
					b, e->base + b * m->bs, g);
		}
	}
	if (buf != NULL)
		(void)bulk_bs_client_buffer_put(e->c, buf);
	e->free_ios[e->nfree++] = io;
}

/* Whether another request may go now. */
static bool
may_issue(struct bsu_engine *e)
{
	if (e->stop)
		return false;
	if (app_is_interrupted()) {
		e->r->interrupted = true;
		e->stop = true;
		return false;
	}
	if (e->prefill)
		return e->cursor < e->map.nblocks;
	if (e->o->duration > 0)
		return app_now_ns() < e->deadline;
	return e->issued < e->target;
}

/* --rate: whether the next request must wait; @p wait_ms says how long. */
static bool
throttled(struct bsu_engine *e, int *wait_ms)
{
	uint64_t due, now;

	if (e->o->rate == 0 || e->prefill)
		return false;
	due = e->t_start + e->issued * APP_SEC_NS / e->o->rate;
	now = app_now_ns();
	if (now >= due)
		return false;
	*wait_ms = (int)((due - now) / APP_MS_NS) + 1;
	return true;
}

/* Choose the next request. @return false when every candidate block is busy. */
static bool
pick(struct bsu_engine *e, uint64_t *block, uint8_t *op)
{
	struct bsu_vmap *m = &e->map;
	const struct bsu_opts *o = e->o;
	uint64_t b;

	if (e->prefill) {
		*block = e->cursor;
		*op = BULK_BS_OP_WRITE;
		return !m->busy[*block];
	}
	switch (o->workload) {
	case BSU_BASIC:
		/* Step 2i writes block i, step 2i+1 reads it back. */
		*block = (e->cursor / 2) % m->nblocks;
		*op = (e->cursor % 2) == 0 ? BULK_BS_OP_WRITE : BULK_BS_OP_READ;
		return !m->busy[*block];
	case BSU_SEQ:
		b = e->cursor % m->nblocks;
		if (m->busy[b])
			return false;
		*block = b;
		break;
	default:
		b = rnd(e) % m->nblocks;
		for (int i = 0; i < BSU_PROBES && m->busy[b]; i++)
			b = (b + 1) % m->nblocks;
		if (m->busy[b])
			return false;
		*block = b;
		break;
	}
	if (o->rw == BSU_READ)
		*op = BULK_BS_OP_READ;
	else if (o->rw == BSU_WRITE)
		*op = BULK_BS_OP_WRITE;
	else
		*op = rnd(e) % 100 < o->read_pct ? BULK_BS_OP_READ : BULK_BS_OP_WRITE;
	return true;
}

/* Fill the free slots; one submit for all of them. @return requests sent, or < 0. */
static int
issue(struct bsu_engine *e)
{
	struct bulk_bs_io batch[256];
	struct bsu_io *used[256];
	unsigned n = 0;
	int rc;

	int wait_ms;

	while (e->nfree > 0 && n < 256 && may_issue(e) && !throttled(e, &wait_ms)) {
		struct bsu_io *io;
		struct bulk_buffer *buf;
		uint64_t b;
		uint8_t op;

		if (!pick(e, &b, &op))
			break;
		buf = bulk_bs_client_buffer_get(e->c);
		if (buf == NULL)
			break;
		io = e->free_ios[--e->nfree];
		io->block = b;
		io->op = op;
		io->prefill = e->prefill;
		if (op == BULK_BS_OP_WRITE) {
			uint32_t g = e->map.gen[b];

			/* The next generation; never NONE or UNKNOWN. */
			io->gen = (g == BSU_GEN_NONE || g == BSU_GEN_UNKNOWN || g + 1 == BSU_GEN_UNKNOWN)
					  ? 1
					  : g + 1;
			if (e->o->verify || e->prefill)
				bsu_pattern_fill(&e->map, buf->addr, b, io->gen);
		}
		e->map.busy[b] = 1;
		io->t0 = app_now_ns();
		batch[n] = (struct bulk_bs_io){ .op = op, .length = e->map.bs,
						.offset = e->base + b * e->map.bs, .buf = buf,
						.done = on_done, .arg = io };
		used[n++] = io;
		e->cursor++;
		if (!e->prefill)
			e->issued++;
	}
	if (n == 0)
		return 0;
	rc = bulk_bs_client_submit(e->c, batch, n);
	if (rc >= 0)
		return rc;
	/* Nothing went: undo, and stop if the server is going. */
	for (unsigned i = 0; i < n; i++) {
		e->map.busy[used[i]->block] = 0;
		(void)bulk_bs_client_buffer_put(e->c, batch[i].buf);
		e->free_ios[e->nfree++] = used[i];
	}
	e->cursor -= n;
	if (!e->prefill)
		e->issued -= n;
	if (rc == -ESHUTDOWN)
		e->r->server_shutdown = true;
	else if (rc == -ECONNRESET)
		e->r->server_gone = true;
	else
		app_err("submit: %s", bulk_strerror(rc));
	e->stop = true;
	if (rc != -ESHUTDOWN) {
		e->r->errors++;
		if (e->r->first_error == 0)
			e->r->first_error = rc;
	}
	return rc;
}

static void
periodic(struct bsu_engine *e, uint64_t now)
{
	struct bsu_result *r = e->r;
	double dt = (double)(now - e->t_last) / 1e9;

	app_say("%.1f s: ios=%" PRIu64 " iops=%.0f mb_s=%.1f inflight=%u lat_p50_ns=%" PRIu64
		" lat_p99_ns=%" PRIu64 " errors=%" PRIu64 " verify_failures=%" PRIu64,
		(double)(now - e->t_start) / 1e9, r->ios, app_rate(r->ios - e->ios_last, dt),
		app_rate(r->bytes - e->bytes_last, dt) / 1e6, bulk_bs_client_inflight(e->c),
		app_hist_percentile(&r->lat, &e->lat_last, 50),
		app_hist_percentile(&r->lat, &e->lat_last, 99), r->errors, r->verify_failures);
	e->t_last = now;
	e->ios_last = r->ios;
	e->bytes_last = r->bytes;
	e->lat_last = r->lat;
}

/* Run until the phase is done and nothing is in flight. */
static void
drive(struct bsu_engine *e, bool report)
{
	const struct bsu_opts *o = e->o;
	uint64_t period = o->stats_period > 0 ? (uint64_t)(o->stats_period * 1e9) : UINT64_MAX;

	for (;;) {
		int rc, wait_ms;

		(void)issue(e);
		if (e->stop || !may_issue(e)) {
			if (bulk_bs_client_inflight(e->c) == 0)
				break;
		}
		wait_ms = 100;
		if (throttled(e, &wait_ms) && wait_ms > 100)
			wait_ms = 100;
		rc = bulk_bs_client_poll(e->c, wait_ms);
		if (rc == -ECONNRESET) {
			e->r->server_gone = true;
			break;
		}
		if (rc == -ESHUTDOWN) {
			e->r->server_shutdown = true;
			break;
		}
		if (report && app_now_ns() - e->t_last >= period)
			periodic(e, app_now_ns());
	}
}

static void
flush_done(void *arg, int status, struct bulk_buffer *buf)
{
	int *st = arg;

	(void)buf;
	*st = status;
}

/* --flush: one FLUSH after everything completed, waited for. */
static void
flush_all(struct bsu_engine *e)
{
	int st = 1, rc;
	struct bulk_bs_io io = { .op = BULK_BS_OP_FLUSH, .done = flush_done, .arg = &st };

	rc = bulk_bs_client_submit(e->c, &io, 1);
	while (rc >= 0 && st == 1) {
		rc = bulk_bs_client_poll(e->c, 100);
		if (rc == -ECONNRESET || rc == -ESHUTDOWN)
			break;
		rc = 0;
	}
	if (rc < 0 && st == 1)
		st = rc;
	e->r->flush_status = st;
	if (st != 0) {
		e->r->errors++;
		if (e->r->first_error == 0)
			e->r->first_error = st;
		app_err("flush: %s", bulk_strerror(st));
	} else {
		app_say("flush: done: what was acknowledged is on stable storage");
	}
}

int
bsu_run(const struct bsu_opts *o, struct bulk_bs_client *c, struct bsu_result *r)
{
	struct bsu_engine e = { .o = o, .c = c, .r = r };
	uint64_t t0;
	int rc;

	memset(r, 0, sizeof(*r));
	app_hist_init(&r->lat);
	e.base = o->offset;
	e.rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
	rc = bsu_vmap_init(&e.map, o->range / o->bs, o->bs, o->seed);
	if (rc < 0)
		return rc;
	e.ios = calloc(o->qd, sizeof(*e.ios));
	e.free_ios = calloc(o->qd, sizeof(*e.free_ios));
	if (e.ios == NULL || e.free_ios == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < o->qd; i++) {
		e.ios[i].e = &e;
		e.free_ios[e.nfree++] = &e.ios[i];
	}
	/* An earlier run wrote generation 1 everywhere (--verify-written). */
	if (o->verify_written)
		for (uint64_t b = 0; b < e.map.nblocks; b++)
			e.map.gen[b] = 1;
	/* Reads with nothing to compare to prove nothing: write the range first. */
	if (o->verify && !o->verify_written && o->rw == BSU_READ && o->workload != BSU_BASIC) {
		app_say("verify: writing the range (%" PRIu64 " blocks) before reading it",
			e.map.nblocks);
		e.prefill = true;
		drive(&e, false);
		e.prefill = false;
		e.cursor = 0;
		r->reads = r->writes = r->bytes = 0;
	}
	if (o->count > 0)
		e.target = o->workload == BSU_BASIC ? 2 * o->count : o->count;
	else if (o->duration == 0)
		e.target = o->workload == BSU_BASIC ? 2 * 64
			   : o->workload == BSU_SEQ ? e.map.nblocks
						    : 10000;
	t0 = app_now_ns();
	e.t_start = e.t_last = t0;
	e.lat_last = r->lat;
	e.deadline = o->duration > 0 ? t0 + (uint64_t)(o->duration * 1e9) : UINT64_MAX;
	if (!e.stop)
		drive(&e, true);
	r->secs = (double)(app_now_ns() - t0) / 1e9;
	if (o->flush && !r->server_gone && !r->server_shutdown)
		flush_all(&e);
	rc = 0;
out:
	free(e.ios);
	free(e.free_ios);
	bsu_vmap_fini(&e.map);
	return rc;
}
