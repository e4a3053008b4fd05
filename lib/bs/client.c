/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client half's set-up and teardown: control connection, hello and
 * INFO, data channels created at the client's addresses and bound by the
 * server (spec 7.2), the pool allocated and assigned by the client (spec
 * 7.3); and the orderly close that undoes it all. Set-up blocks, within a
 * timeout, so that an application embeds a client in a few lines; the
 * data path (submit.c) never blocks.
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#include "bs_client.h"

#define BS_DEFAULT_BUFFERS 64u
#define BS_DEFAULT_TIMEOUT_MS 10000u
#define BS_BUF_SIZE_CAP (1u << 20)
#define BS_PAGE 4096u

/* Names of the default data channels: unique in this process. */
static atomic_uint bs_client_seq;

static int
fail(const struct bulk_bs_client_params *p, int rc, const char *fmt, const char *a, const char *b)
{
	char why[640];

	snprintf(why, sizeof(why), fmt, a, b);
	bs_errf(p->err_msg, p->err_len, "%s", why);
	return rc;
}

static bool
expired(uint64_t deadline)
{
	return bs_now_ns() > deadline;
}

/* Poll the channels (and the hook) once; nap briefly when nothing happened. */
static void
setup_round(struct bulk_bs_client *c)
{
	int work = 0, n;

	if (c->poll_hook != NULL && (n = c->poll_hook(c->poll_hook_arg)) > 0)
		work += n;
	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ch != NULL && bulk_channel_state(c->chans[k].ch) != BULK_STATE_CLOSED &&
		    (n = bulk_channel_poll(c->chans[k].ch, 0)) > 0)
			work += n;
	if (c->cchan.ch != NULL && bulk_channel_state(c->cchan.ch) != BULK_STATE_CLOSED &&
	    (n = bulk_channel_poll(c->cchan.ch, 0)) > 0)
		work += n;
	if (work == 0)
		usleep(100);
}

static void
assign_done(void *arg, int err, struct bulk_channel *ch)
{
	struct bs_cchan *cc = arg;

	(void)ch;
	cc->assign_done = true;
	cc->assign_err = err;
	cc->assigned = err == 0;
}

/* Tear down and free the channels and endpoints, polling until closed. */
/* Channel @p k: the data channels, then the copy channel as the last. */
static struct bs_cchan *
chan_at(struct bulk_bs_client *c, unsigned k)
{
	return k < c->nchans ? &c->chans[k] : &c->cchan;
}

static int
channels_free(struct bulk_bs_client *c, uint64_t deadline)
{
	unsigned all = c->nchans + 1;
	int rc = 0;

	/* Copies we hold would keep the copy channel from closing. */
	bs_client_copies_drop(c);
	for (;;) {
		bool open = false;

		for (unsigned k = 0; k < all; k++) {
			struct bs_cchan *cc = chan_at(c, k);

			if (cc->ch == NULL)
				continue;
			if (!cc->destroyed &&
			    (bulk_channel_state(cc->ch) == BULK_STATE_CONNECTED ||
			     bulk_channel_state(cc->ch) == BULK_STATE_INITIALIZED))
				cc->destroyed = bulk_channel_destroy(cc->ch, BULK_CONT_NONE) == 0;
			if (bulk_channel_state(cc->ch) != BULK_STATE_CLOSED &&
			    bulk_channel_state(cc->ch) != BULK_STATE_INITIALIZED)
				open = true;
		}
		if (!open || expired(deadline))
			break;
		setup_round(c);
		(void)bs_client_rel_flush(c);
	}
	for (unsigned k = 0; k < all; k++) {
		struct bs_cchan *cc = chan_at(c, k);

		if (cc->fd >= 0)
			bs_idle_unwatch(&c->idle, cc->fd);
		cc->fd = -1;
		/* The destroy's continuation fires in a poll of the channel,
		 * closed as it is (setup_round() skips closed channels). */
		if (cc->ch != NULL && bulk_channel_free(cc->ch) == -EBUSY) {
			(void)bulk_channel_poll(cc->ch, 0);
			if (bulk_channel_free(cc->ch) < 0) {
				rc = -ETIMEDOUT;
				continue; /* left to the domain: it will refuse to go */
			}
		}
		cc->ch = NULL;
		if (cc->ep != NULL)
			(void)bulk_addr_endpoint_free(cc->ep);
		cc->ep = NULL;
		bs_cq_fini(&cc->q);
	}
	return rc;
}

static int
pool_free(struct bulk_bs_client *c)
{
	int rc = 0;

	/* Fails where buffers stayed with a server that did not give them back. */
	if (c->pool != NULL && bulk_pool_free(c->pool) < 0)
		rc = -ETIMEDOUT;
	c->pool = NULL;
	return rc;
}

static void
client_free(struct bulk_bs_client *c)
{
	bs_sock_close(&c->sock);
	bs_idle_fini(&c->idle);
	for (unsigned i = 0; i < c->npools; i++)
		bs_cpool_free(c->pools[i]);
	free(c->pools);
	free(c->rel);
	free(c);
}

static int
data_addrs(const struct bulk_bs_client_params *p, struct bulk_bs_client *c)
{
	unsigned seq = atomic_fetch_add(&bs_client_seq, 1);

	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];
		struct bulk_addr a;
		char why[160];
		int rc;

		if (p->data_addrs != NULL && p->data_addrs[k] != NULL)
			snprintf(cc->addr, sizeof(cc->addr), "%s", p->data_addrs[k]);
		else if (c->nchans == 1)
			snprintf(cc->addr, sizeof(cc->addr), "shm:@bulk-bs-%d-%u", (int)getpid(), seq);
		else
			snprintf(cc->addr, sizeof(cc->addr), "shm:@bulk-bs-%d-%u.%u", (int)getpid(),
				 seq, k);
		rc = bulk_addr_explain(cc->addr, why, sizeof(why));
		if (rc < 0)
			return fail(p, rc, "data address '%s': %s", cc->addr, why);
		(void)bulk_addr_parse(cc->addr, &a);
	}
	return 0;
}

/* Control connection, hello, INFO. */
static int
hello(const struct bulk_bs_client_params *p, struct bulk_bs_client *c)
{
	struct bs_sockaddr sa;
	struct bs_ctrl_msg m;
	int fd, rc;

	rc = bs_sockaddr_parse(p->server, false, &sa);
	if (rc < 0)
		return fail(p, rc, "server address '%s': %s", p->server,
			    rc == -EHOSTUNREACH ? "host name does not resolve"
						: "expected unix:PATH, unix:@NAME or tcp:HOST:PORT");
	fd = bs_sock_connect(&sa, (int)c->timeout_ms);
	if (fd < 0)
		return fail(p, fd, "cannot connect to %s: %s", p->server, strerror(-fd));
	bs_sock_init(&c->sock, fd);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_HELLO;
	m.u.hello.version = BS_WIRE_VERSION;
	m.u.hello.flags = c->want_copies ? BS_HELLO_COPIES : 0;
	snprintf(m.u.hello.name, sizeof(m.u.hello.name), "%s", p->export_name ? p->export_name : "");
	rc = bs_sock_send(&c->sock, &m);
	if (rc == 0)
		rc = bs_sock_recv_wait(&c->sock, &m, (int)c->timeout_ms);
	if (rc < 0)
		return fail(p, rc == -EBADMSG ? -EPROTO : rc, "%s: no answer to hello: %s", p->server,
			    rc == -EBADMSG ? "not a block server" : strerror(-rc));
	if (m.type == BS_MSG_ERROR)
		return fail(p, m.u.error.code, "%s refused us: %s", p->server, m.u.error.msg);
	if (m.type != BS_MSG_INFO)
		return fail(p, -EPROTO, "%s: %s", p->server, "answered hello with something else");
	if (m.u.info.version != BS_WIRE_VERSION)
		return fail(p, -EPROTONOSUPPORT, "%s: %s", p->server, "speaks another version");
	if (c->nchans > m.u.info.max_channels)
		return fail(p, -EOVERFLOW, "%s: the server takes fewer data channels%s", p->server, "");
	if ((m.u.info.features & BS_FEAT_COPIES) && !c->want_copies)
		return fail(p, -EPROTO, "%s: %s", p->server, "offered copies we did not ask for");
	c->copies = (m.u.info.features & BS_FEAT_COPIES) != 0;
	c->info = m.u.info.info;
	return 0;
}

static int
channels(const struct bulk_bs_client_params *p, struct bulk_bs_client *c)
{
	struct bs_ctrl_msg m;
	uint32_t queue = 64;
	int rc;

	while (queue < c->nbufs)
		queue <<= 1;
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_CHANNELS;
	m.u.channels.count = (uint16_t)c->nchans;
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_TX,
			.trust = p->trust ? p->trust : BULK_TRUST_FULL,
			.meta_size = BS_WIRE_META_SIZE,
			.queue_size = queue,
			.user = c,
		};
		struct bulk_addr a;

		rc = bs_cq_init(&cc->q, c->nbufs);
		if (rc < 0)
			return fail(p, rc, "%s%s", "out of memory", "");
		(void)bulk_addr_parse(cc->addr, &a);
		rc = bulk_addr_endpoint_create(c->dom, &a, &cc->ep);
		if (rc == 0)
			rc = bulk_channel_create(cc->ep, &bs_client_callbacks, &cp, &cc->ch);
		if (rc < 0) {
			cc->ch = NULL;
			return fail(p, rc, "cannot create the data channel at %s: %s", cc->addr,
				    bulk_strerror(rc));
		}
		/* The fd before the server binds and sends (bulk.h). */
		cc->fd = bulk_channel_fd(cc->ch);
		if (cc->fd >= 0 && bs_idle_watch(&c->idle, cc->fd, BS_EV_WAKE) < 0)
			cc->fd = -1;
		memcpy(m.u.channels.addr[k], cc->addr, sizeof(cc->addr));
	}
	if (c->copies) {
		/* We are the sink: the server copies its buffers to us. HALF
		 * trust: what we hold of its pools is mapped read-only here,
		 * the rest not at all. */
		struct bs_cchan *cc = &c->cchan;
		struct bulk_channel_params cp = {
			.direction = BULK_DIRECTION_RX,
			.trust = BULK_TRUST_HALF,
			.meta_size = BS_WIRE_META_SIZE,
			.queue_size = queue,
			.user = c,
		};
		struct bulk_addr a;

		snprintf(cc->addr, sizeof(cc->addr), "%.120s.c", c->chans[0].addr);
		(void)bulk_addr_parse(cc->addr, &a);
		rc = bulk_addr_endpoint_create(c->dom, &a, &cc->ep);
		if (rc == 0)
			rc = bulk_channel_create(cc->ep, &bs_client_copy_callbacks, &cp, &cc->ch);
		if (rc < 0) {
			cc->ch = NULL;
			return fail(p, rc, "cannot create the copy channel at %s: %s", cc->addr,
				    bulk_strerror(rc));
		}
		cc->fd = bulk_channel_fd(cc->ch);
		if (cc->fd >= 0 && bs_idle_watch(&c->idle, cc->fd, BS_EV_WAKE) < 0)
			cc->fd = -1;
		m.u.channels.copy = 1;
		memcpy(m.u.channels.addr[c->nchans], cc->addr, sizeof(cc->addr));
	}
	rc = bs_sock_send(&c->sock, &m);
	if (rc < 0)
		return fail(p, rc, "%s: sending the channels: %s", p->server, strerror(-rc));
	return 0;
}

/* Wait for READY and for every channel to be bound. */
static int
wait_bound(const struct bulk_bs_client_params *p, struct bulk_bs_client *c, uint64_t deadline)
{
	bool ready = false;

	for (;;) {
		struct bs_ctrl_msg m;
		bool bound = true;
		int rc = bs_sock_recv(&c->sock, &m);

		if (rc == 1 && m.type == BS_MSG_READY)
			ready = true;
		else if (rc == 1 && m.type == BS_MSG_ERROR)
			return fail(p, m.u.error.code, "%s: %s", p->server, m.u.error.msg);
		else if (rc != 0)
			return fail(p, rc == 1 ? -EPROTO : rc, "%s: %s", p->server,
				    rc == 1 ? "unexpected message while binding"
					    : "connection lost while binding");
		for (unsigned k = 0; k < c->nchans; k++) {
			enum bulk_channel_state st = bulk_channel_state(c->chans[k].ch);

			if (st == BULK_STATE_CLOSED)
				return fail(p, -ECONNRESET, "data channel %s closed while binding%s",
					    c->chans[k].addr, "");
			bound = bound && st == BULK_STATE_CONNECTED;
		}
		if (c->cchan.ch != NULL) {
			enum bulk_channel_state st = bulk_channel_state(c->cchan.ch);

			if (st == BULK_STATE_CLOSED)
				return fail(p, -ECONNRESET,
					    "copy channel %s closed while binding%s", c->cchan.addr,
					    "");
			bound = bound && st == BULK_STATE_CONNECTED;
		}
		if (ready && bound)
			return 0;
		if (expired(deadline))
			return fail(p, -ETIMEDOUT, "%s: the server did not bind %s in time", p->server,
				    c->chans[0].addr);
		setup_round(c);
	}
}

static int
assign(const struct bulk_bs_client_params *p, struct bulk_bs_client *c, uint64_t deadline)
{
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_cchan *cc = &c->chans[k];
		int rc = bulk_channel_assign_pool(cc->ch, c->pool, (struct bulk_cont){ assign_done, cc });

		if (rc < 0)
			return fail(p, rc, "assigning the pool to %s: %s", cc->addr, bulk_strerror(rc));
	}
	for (;;) {
		bool all = true;

		for (unsigned k = 0; k < c->nchans; k++) {
			struct bs_cchan *cc = &c->chans[k];

			if (cc->assign_done && cc->assign_err != 0)
				return fail(p, cc->assign_err, "the server refused our pool on %s: %s",
					    cc->addr, bulk_strerror(cc->assign_err));
			all = all && cc->assign_done;
		}
		if (all)
			return 0;
		if (expired(deadline))
			return fail(p, -ETIMEDOUT, "%s: pool assignment on %s timed out", p->server,
				    c->chans[0].addr);
		setup_round(c);
	}
}

int
bulk_bs_client_connect(const struct bulk_bs_client_params *p, struct bulk_bs_client **out)
{
	struct bulk_bs_client *c;
	struct bulk_pool_params pp = { 0 };
	struct bulk_addr a;
	uint64_t deadline;
	uint32_t bsz;
	int rc;

	if (p == NULL || out == NULL)
		return -EINVAL;
	if (p->dom == NULL || p->server == NULL)
		return fail(p, -EINVAL, "%s%s", "a domain and a server address are required", "");
	if (p->export_name != NULL && strlen(p->export_name) > BULK_BS_EXPORT_NAME_MAX)
		return fail(p, -EINVAL, "%s%s", "export name longer than 255 bytes", "");
	if (p->channels > BULK_BS_MAX_CHANNELS)
		return fail(p, -EINVAL, "%s%s", "at most 4 data channels", "");
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->dom = p->dom;
	c->poll_mode = p->poll;
	c->timeout_ms = p->timeout_ms ? p->timeout_ms : BS_DEFAULT_TIMEOUT_MS;
	c->poll_hook = p->poll_hook;
	c->poll_hook_arg = p->poll_hook_arg;
	c->nchans = p->channels ? p->channels : 1;
	c->sock.fd = -1;
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		c->chans[k].fd = -1;
	c->cchan.fd = -1;
	deadline = bs_now_ns() + (uint64_t)c->timeout_ms * BS_NS_PER_MS;
	rc = bs_idle_init(&c->idle, p->poll);
	if (rc < 0) {
		free(c);
		return rc;
	}
	rc = data_addrs(p, c);
	if (rc < 0)
		goto out;
	/* Copies need memory both processes map (shm): elsewhere not offered. */
	if (p->copies && bulk_addr_parse(c->chans[0].addr, &a) == 0 && a.scheme == BULK_ADDR_SHM)
		c->want_copies = true;
	rc = hello(p, c);
	if (rc < 0)
		goto out;

	c->nbufs = p->buffers ? p->buffers : BS_DEFAULT_BUFFERS;
	if (c->nbufs > c->info.max_buffers || c->nbufs > BULK_POOL_MAX_BUFFERS) {
		char n[32];

		snprintf(n, sizeof(n), "%u", c->info.max_buffers);
		rc = fail(p, -EOVERFLOW, "%s: the server takes at most %s buffers per client",
			  p->server, n);
		goto out;
	}
	bsz = p->buffer_size;
	if (bsz == 0)
		bsz = c->info.block_max < BS_BUF_SIZE_CAP ? c->info.block_max : BS_BUF_SIZE_CAP;
	/* Page multiples: HALF trust protects per page, and the shm backend
	 * maps per page. */
	if (bsz > UINT32_MAX - BS_PAGE) {
		rc = fail(p, -EINVAL, "%s%s", "buffer size too large", "");
		goto out;
	}
	bsz = (bsz + BS_PAGE - 1) / BS_PAGE * BS_PAGE;
	if (bsz < c->info.block_min) {
		rc = fail(p, -EOVERFLOW, "%s: %s", p->server,
			  "buffers smaller than the export's block size");
		goto out;
	}
	c->buf_size = bsz;
	c->pools = calloc(1, sizeof(*c->pools));
	if (c->pools == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	pp.count = c->nbufs;
	pp.buffer_size = bsz;
	/* Memory another process can map, where the channel shares memory. */
	for (unsigned k = 0; k < c->nchans; k++)
		if (bulk_addr_parse(c->chans[k].addr, &a) == 0 && a.scheme == BULK_ADDR_SHM)
			pp.mem = BULK_MEM_MEMFD;
	rc = bulk_pool_alloc(c->dom, &pp, &c->pool);
	if (rc < 0) {
		c->pool = NULL;
		rc = fail(p, rc, "allocating the pool: %s%s", bulk_strerror(rc), "");
		goto out;
	}
	/* Our own pool is pools[0], always ready once assigned. */
	c->pools[0] = bs_cpool_new(c->pool);
	if (c->pools[0] == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	c->pools[0]->ready = true;
	c->npools = 1;
	c->qbufs = c->nbufs;
	rc = channels(p, c);
	if (rc < 0)
		goto out;
	rc = wait_bound(p, c, deadline);
	if (rc < 0)
		goto out;
	rc = assign(p, c, deadline);
	if (rc < 0)
		goto out;
	rc = bs_idle_watch(&c->idle, c->sock.fd, &c->sock_tag);
	if (rc < 0)
		goto out;
	snprintf(c->st.backend, sizeof(c->st.backend), "%s", bulk_channel_backend(c->chans[0].ch));
	c->ready = true;
	*out = c;
	return 0;
out:
	(void)channels_free(c, bs_now_ns() + 1000 * BS_NS_PER_MS);
	(void)pool_free(c);
	client_free(c);
	return rc;
}

int
bulk_bs_client_close(struct bulk_bs_client *c)
{
	uint64_t deadline;
	int rc = 0, trc;

	if (c == NULL)
		return -EINVAL;
	deadline = bs_now_ns() + (uint64_t)c->timeout_ms * BS_NS_PER_MS;
	if (c->gone)
		rc = -ECONNRESET;
	/* What is in flight comes back first (or fails, if the server goes). */
	while (c->inflight > 0 && !expired(deadline)) {
		bool open = false;

		for (unsigned k = 0; k < c->nchans; k++)
			open = open || (c->chans[k].ch != NULL && !c->chans[k].closed);
		if (!open)
			break;
		(void)bs_client_round(c, 10);
	}
	c->in_close = true;
	if (c->inflight > 0 && rc == 0)
		rc = -ETIMEDOUT;
	bs_client_goodbye(c);
	trc = channels_free(c, deadline);
	/* After the channels closed: reclaimed buffers are ours again. */
	if (c->inflight > 0)
		bs_client_fail_all(c, -ECONNRESET);
	if (trc == 0)
		trc = pool_free(c);
	else
		(void)pool_free(c);
	if (trc < 0 && rc == 0)
		rc = trc;
	client_free(c);
	return rc;
}
