/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The downstream side: what libbulk-bs's server half asks of the proxy,
 * and the hooks that fold the upstream sessions into its poll loop.
 *
 * A user's connection opens an upstream session first (a user is served
 * only while the upstream is there); its pools are accepted downstream at
 * once (the core's veto is synchronous) and forwarded upstream, where
 * its requests wait until the upstream accepted them; its requests are
 * gathered per round and submitted upstream in one call; when it goes,
 * its session closes before the server frees its pools.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "app.h"
#include "bs_dpdk.h"
#include "cache.h"
#include "proxy.h"

static void
sess_unlink(struct px *px, struct px_sess *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		px->sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	px->nsessions--;
}

static void
sess_free(struct px_sess *s)
{
	while (s->pools != NULL) {
		struct px_pool *pp = s->pools;

		s->pools = pp->next;
		free(pp);
	}
	free(s->ios);
	free(s);
}

static int
on_open(void *arg, struct bulk_bs_conn *c)
{
	struct px *px = arg;
	struct px_sess *s = calloc(1, sizeof(*s));
	char err[512] = "";
	int rc;

	if (s == NULL)
		return -ENOMEM;
	s->px = px;
	s->conn = c;
	s->id = bulk_bs_conn_id(c);
	s->state = PX_DOWN;
	s->next = px->sessions;
	if (px->sessions != NULL)
		px->sessions->prev = s;
	px->sessions = s;
	px->nsessions++;
	bulk_bs_conn_set_user(c, s);
	rc = px_sess_connect(s, err, sizeof(err));
	if (rc < 0) {
		app_err("client %" PRIu64 " (%s) turned away: upstream %s: %s", s->id,
			bulk_bs_conn_peer(c), px->o->upstream, err[0] ? err : bulk_strerror(rc));
		bulk_bs_conn_set_user(c, NULL);
		sess_unlink(px, s);
		sess_free(s);
		return rc;
	}
	/* A user with a copy channel gets cache hits as read-only copies of
	 * the cache's blocks; the others by memcpy (BULK_POOL_MAX_CHANNELS
	 * users at most share the pool's copies). */
	if (px->cache != NULL && bulk_bs_conn_copies(c)) {
		rc = bulk_bs_conn_copy_pool_add(c, px_cache_pool(px->cache));
		if (rc < 0)
			app_err("client %" PRIu64 ": cache hits by memcpy: its copy channel: %s",
				s->id, bulk_strerror(rc));
	}
	return 0;
}

static void
on_request(void *arg, struct bulk_bs_request *req)
{
	(void)arg;
	px_sess_request(bulk_bs_conn_user(req->conn), req);
}

static int
on_pool(void *arg, struct bulk_bs_conn *c, struct bulk_pool *pool)
{
	struct px_sess *s = bulk_bs_conn_user(c);

	(void)arg;
	return s != NULL ? px_sess_pool(s, pool) : 0;
}

static int
on_closing(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct px_sess *s = bulk_bs_conn_user(c);

	(void)arg;
	(void)reason;
	/* Nothing of the user is upstream any more (the server asks only
	 * once the application completed everything): close the session,
	 * which takes the user's pools off the upstream channel. */
	if (s != NULL)
		px_sess_close_up(s, "goodbye");
	return 0;
}

static void
on_close(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct px *px = arg;
	struct px_sess *s = bulk_bs_conn_user(c);

	if (s == NULL)
		return;
	px_report_client(s, reason);
	bulk_bs_conn_set_user(c, NULL);
	sess_unlink(px, s);
	sess_free(s);
}

const struct bulk_bs_server_ops px_server_ops = {
	.request = on_request,
	.conn_open = on_open,
	.conn_close = on_close,
	.pool_assigned = on_pool,
	.conn_closing = on_closing,
};

int
px_poll_hook(void *arg)
{
	struct px *px = arg;
	uint64_t now;
	int work = 0, n;

	for (struct px_sess *s = px->sessions; s != NULL; s = s->next)
		work += px_sess_flush(s);
	/* Blocks whose last copy came back (or was voided) are free again. */
	(void)px_cache_reap(px->cache);
	if (px->dpdk != NULL && (n = bs_dpdk_poll(px->dpdk)) > 0)
		work += n;
	now = app_now_ns();
	for (struct px_sess *s = px->sessions; s != NULL; s = s->next)
		work += px_sess_poll(s, now);
	/* NBD clients: their sockets, their upstream sessions (nbd.c). */
	work += px_nbd_poll(px->nbd);
	return work;
}

int
px_spin_hook(void *arg)
{
	/* Every client's requests go upstream over channels of our own
	 * (bs-user sessions and NBD connections alike), which are polled:
	 * spin as a loop with channels does. */
	(void)arg;
	return 1;
}

int
px_sleep_hook(void *arg, int *timeout_ms)
{
	struct px *px = arg;
	uint64_t now = app_now_ns();

	for (struct px_sess *s = px->sessions; s != NULL; s = s->next) {
		if (s->nios > 0)
			return 1;
		if (s->state == PX_UP && s->up != NULL &&
		    bulk_bs_client_arm(s->up, timeout_ms) != 0)
			return 1;
		if (s->state == PX_DOWN && !px->shutting) {
			/* Wake for the next reconnect attempt. */
			uint64_t ms = s->next_try > now ? (s->next_try - now) / APP_MS_NS + 1 : 0;

			if (ms == 0)
				return 1;
			if ((uint64_t)*timeout_ms > ms)
				*timeout_ms = (int)ms;
		}
	}
	return px_nbd_arm(px->nbd, timeout_ms);
}
