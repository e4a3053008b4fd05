/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Upstream sessions: one block service client of the upstream server per
 * downstream user (proxy.h says why). A session forwards its user's pools
 * (bulk_bs_client_pool_add(): the user's requests on a pool wait in the
 * client until the upstream accepted it, and fail with its reason if it
 * refused), submits the user's requests in the user's own buffers, and
 * completes each user request with the upstream's status once its buffer
 * is back.
 *
 * Losing the upstream: the upstream server's death (or shutdown) fails
 * every request that was there (libbulk brings the buffers back when the
 * channel sees its peer gone; lib/bs fails their requests with
 * -ECONNRESET), never drops one; requests that arrive while the session
 * is down fail at once. The session then reconnects with exponential
 * backoff (50 ms doubling to 2 s) for at most --reconnect-timeout, and
 * assigns the user's pools again; if the upstream does not come back in
 * time the user is turned away.
 *
 * Failures because of the upstream travel to the user as -EIO (the wire
 * has no code for "the hop beyond me is gone"); the proxy says on stderr
 * what happened.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bulk/bulk_addr.h>

#include "app.h"
#include "bs_dpdk.h"
#include "cache.h"
#include "proxy.h"

/* The session client's own pool: one page, for nothing but its set-up
 * (every request travels in a user's buffer). */
#define PX_OWN_BUF	    4096u
#define PX_BACKOFF_FIRST_NS (50 * APP_MS_NS)
#define PX_BACKOFF_MAX_NS   (2 * APP_SEC_NS)

int
px_up_connect(struct px *px, struct bulk_bs_client **out, char *err, size_t len)
{
	return px_up_connect_pool(px, 1,
				  px->info.block_min > PX_OWN_BUF ? px->info.block_min : PX_OWN_BUF,
				  out, err, len);
}

int
px_up_connect_pool(struct px *px, uint32_t buffers, uint32_t buffer_size,
		   struct bulk_bs_client **out, char *err, size_t len)
{
	const struct px_opts *o = px->o;
	char addr[BULK_ADDR_STRLEN];
	const char *addrs[1] = { NULL };
	struct bulk_bs_client_params p = {
		.dom = px->dom,
		.server = o->upstream,
		.export_name = o->export_name,
		.buffers = buffers,
		.buffer_size = buffer_size,
		.trust = BULK_TRUST_FULL,
		/* Driven by our loop, which sleeps for all (px_sleep_hook()). */
		.poll = BULK_BS_POLL_BUSY,
		.timeout_ms = (uint32_t)(o->connect_timeout * 1000),
		.err_msg = err,
		.err_len = len,
	};

	if (px->dpdk != NULL) {
		/* A data endpoint of its own per session on the one port. */
		unsigned ep = px->next_ep;

		px->next_ep = ep >= 65535 ? 1 : ep + 1;
		addrs[0] = bs_dpdk_data_addr_ep(px->dpdk, ep, addr, sizeof(addr));
		p.data_addrs = addrs;
		p.poll_hook = bs_dpdk_poll;
		p.poll_hook_arg = px->dpdk;
	}
	return bulk_bs_client_connect(&p, out);
}

static void
pool_done(void *arg, int status, struct bulk_pool *pool)
{
	struct px_sess *s = arg;

	(void)pool;
	if (status == 0)
		return;
	s->px->tot.pool_refusals++;
	app_err("client %" PRIu64 ": the upstream refused its pool: %s (its requests on it fail)",
		s->id, bulk_strerror(status));
}

/* The export must stay what we serve: the users were told so. */
static bool
same_export(const struct bulk_bs_info *a, const struct bulk_bs_info *b)
{
	return a->size == b->size && a->block_min == b->block_min && a->block_max == b->block_max &&
	       a->flags == b->flags;
}

int
px_sess_connect(struct px_sess *s, char *err, size_t len)
{
	struct px *px = s->px;
	int rc;

	rc = px_up_connect(px, &s->up, err, len);
	if (rc < 0) {
		s->up = NULL;
		return rc;
	}
	if (!same_export(bulk_bs_client_info(s->up), &px->info)) {
		snprintf(err, len,
			 "the upstream export is not the one served (size or blocks changed)");
		(void)bulk_bs_client_close(s->up);
		s->up = NULL;
		return -EPROTO;
	}
	s->nfds = bulk_bs_client_fds(s->up, s->fds, BULK_BS_MAX_CHANNELS);
	if (s->nfds < 0)
		s->nfds = 0;
	for (int i = 0; i < s->nfds; i++)
		if (bulk_bs_server_watch_fd(px->srv, s->fds[i]) < 0)
			s->fds[i] = -1;
	s->sessions++;
	px->tot.sessions++;
	s->state = PX_UP;
	for (struct px_pool *pp = s->pools; pp != NULL; pp = pp->next) {
		rc = bulk_bs_client_pool_add(s->up, pp->pool, pool_done, s);
		if (rc < 0)
			pool_done(s, rc, pp->pool);
	}
	return 0;
}

void
px_sess_close_up(struct px_sess *s, const char *end)
{
	struct px *px = s->px;
	struct bulk_bs_stats st;
	struct bs_hop h = { 0 };
	int rc;

	if (s->up == NULL)
		return;
	for (int i = 0; i < s->nfds; i++)
		if (s->fds[i] >= 0)
			(void)bulk_bs_server_unwatch_fd(px->srv, s->fds[i]);
	s->nfds = 0;
	if (bulk_bs_client_stats_get(s->up, &st) == 0)
		bs_hop_from_stats(&h, &st);
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		bs_hop_add_channel(&h, bulk_bs_client_channel(s->up, k));
	rc = bulk_bs_client_close(s->up);
	s->up = NULL;
	if (rc < 0 && rc != -ECONNRESET)
		app_err("client %" PRIu64 ": closing its upstream session: %s", s->id,
			bulk_strerror(rc));
	px_report_session(s, &h, end);
	bs_hop_sum(&s->up_hop, &h);
	bs_hop_sum(&px->tot.up, &h);
}

/* Why a request could not go upstream, as the user sees it: "my upstream
 * is not connected" (the wire's ENOTCONN), whether it died or shut down. */
static int
up_status(int status)
{
	return status == -ECONNRESET || status == -ESHUTDOWN ? -ENOTCONN : status;
}

static void
up_done(void *arg, int status, struct bulk_buffer *buf)
{
	struct bulk_bs_request *req = arg;
	struct px_sess *s = bulk_bs_conn_user(req->conn);

	/* The reply landed in the user's buffer (a READ's data too): the
	 * user's request completes with it, and the buffer goes back. */
	(void)buf;
	s->inflight_up--;
	if (status == -ECONNRESET || status == -ESHUTDOWN) {
		s->lost_inflight++;
		s->px->tot.lost_inflight++;
	}
	/* Before the buffer goes back: a READ miss's data fills the cache. */
	px_cache_done(s->px->cache, req, status);
	(void)bulk_bs_request_complete(req, up_status(status));
}

static void
fail_fast(struct px_sess *s, struct bulk_bs_request *req, int status)
{
	s->failed_fast++;
	s->px->tot.failed_fast++;
	px_cache_done(s->px->cache, req, status);
	(void)bulk_bs_request_complete(req, up_status(status));
}

void
px_sess_request(struct px_sess *s, struct bulk_bs_request *req)
{
	if (s->state != PX_UP) {
		fail_fast(s, req, -ECONNRESET);
		return;
	}
	/* A cache hit is answered here; writes invalidate before they go. */
	if (s->px->cache != NULL && px_cache_request(s->px->cache, req))
		return;
	if (s->nios == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 64;
		struct bulk_bs_io *ios = realloc(s->ios, cap * sizeof(*ios));

		if (ios == NULL) {
			px_cache_done(s->px->cache, req, -ENOMEM);
			(void)bulk_bs_request_complete(req, -ENOMEM);
			return;
		}
		s->ios = ios;
		s->cap = cap;
	}
	/* The user's buffer carries it on: a WRITE's data, a READ's room. */
	s->ios[s->nios++] = (struct bulk_bs_io){
		.op = req->op,
		.flags = req->flags,
		.length = req->length,
		.offset = req->offset,
		.buf = req->buf,
		.done = up_done,
		.arg = req,
	};
}

int
px_sess_flush(struct px_sess *s)
{
	unsigned n = s->nios;
	int rc;

	if (n == 0)
		return 0;
	s->nios = 0;
	if (s->up == NULL) {
		for (unsigned i = 0; i < n; i++)
			fail_fast(s, s->ios[i].arg, -ECONNRESET);
		return (int)n;
	}
	rc = bulk_bs_client_submit(s->up, s->ios, n);
	if (rc >= 0) {
		s->inflight_up += n;
		return (int)n;
	}
	/* All or nothing was refused: one by one, each with its own answer. */
	for (unsigned i = 0; i < n; i++) {
		rc = bulk_bs_client_submit(s->up, &s->ios[i], 1);
		if (rc >= 0)
			s->inflight_up++;
		else
			fail_fast(s, s->ios[i].arg, rc);
	}
	return (int)n;
}

int
px_sess_pool(struct px_sess *s, struct bulk_pool *pool)
{
	struct px_pool *pp = calloc(1, sizeof(*pp));
	int rc;

	if (pp == NULL)
		return -ENOMEM;
	if (s->up != NULL) {
		rc = bulk_bs_client_pool_add(s->up, pool, pool_done, s);
		/* Refused before anything left (a trust the upstream channel
		 * cannot carry, too many pools): the user hears it now. */
		if (rc < 0 && rc != -ECONNRESET && rc != -ESHUTDOWN) {
			free(pp);
			return rc;
		}
	}
	pp->pool = pool;
	pp->next = s->pools;
	s->pools = pp;
	return 0;
}

static void
sess_lost(struct px_sess *s, int why, uint64_t now)
{
	struct px *px = s->px;

	app_err("client %" PRIu64 ": upstream %s %s; its requests fail until it is back "
		"(reconnecting for %.0f s)",
		s->id, px->o->upstream, why == -ESHUTDOWN ? "shut down" : "lost",
		px->o->reconnect_timeout);
	px_sess_close_up(s, why == -ESHUTDOWN ? "shutdown" : "lost");
	px->tot.lost++;
	s->state = PX_DOWN;
	s->down_since = now;
	s->tries = 0;
	s->backoff = PX_BACKOFF_FIRST_NS;
	s->next_try = now + s->backoff;
}

static int
sess_retry(struct px_sess *s, uint64_t now)
{
	struct px *px = s->px;
	char err[512] = "";
	int rc;

	s->tries++;
	rc = px_sess_connect(s, err, sizeof(err));
	now = app_now_ns();
	if (rc == 0) {
		px->tot.reconnects++;
		app_say("client %" PRIu64 ": upstream back after %.1f s (%u tries)", s->id,
			(double)(now - s->down_since) / 1e9, s->tries);
		return 1;
	}
	if ((double)(now - s->down_since) / 1e9 >= px->o->reconnect_timeout) {
		char why[256];

		snprintf(why, sizeof(why), "upstream %.200s unreachable", px->o->upstream);
		app_err("client %" PRIu64 ": giving up on the upstream after %u tries: %s", s->id,
			s->tries, err[0] ? err : bulk_strerror(rc));
		s->state = PX_GAVE_UP;
		px->tot.gave_up++;
		(void)bulk_bs_conn_abort(s->conn, -EIO, why);
		return 1;
	}
	s->backoff = s->backoff * 2 > PX_BACKOFF_MAX_NS ? PX_BACKOFF_MAX_NS : s->backoff * 2;
	s->next_try = now + s->backoff;
	return 0;
}

int
px_sess_poll(struct px_sess *s, uint64_t now)
{
	int n;

	if (s->state == PX_DOWN)
		return now >= s->next_try && !s->px->shutting ? sess_retry(s, now) : 0;
	if (s->state != PX_UP || s->up == NULL)
		return 0;
	n = bulk_bs_client_poll(s->up, 0);
	if (n == -ECONNRESET || n == -ESHUTDOWN) {
		sess_lost(s, n, now);
		return 1;
	}
	return n > 0 ? n : 0;
}
