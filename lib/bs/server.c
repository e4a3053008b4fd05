/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The server half: listeners, connections and their control messages,
 * from the hello to the release of everything a client held. The data
 * path (requests on the channels) is serve.c.
 *
 * A connection goes HELLO -> CHANNELS -> BINDING -> SERVING -> CLOSING
 * and is freed at the end of CLOSING. Whatever ends it (goodbye, a bad
 * message, a hang-up, the peer dying, a shutdown) goes through
 * bs_conn_end(): the connection then waits for the application to
 * complete what it holds, passes back what it can, tears its channels
 * down and frees their pools. Nothing a client does makes the server
 * fail: at worst its own connection ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#include "bs_internal.h"

/* How long a client has to say goodbye once told of a shutdown. */
#define BS_SHUTDOWN_GRACE_MS 5000u
#define BS_DEFAULT_MAX_CONNS 64u
#define BS_DEFAULT_HANDSHAKE_MS 10000u
#define BS_DEFAULT_MAX_BUFFERS 4096u
#define BS_DEFAULT_BLOCK_MAX (1u << 20)

static const char *const state_names[] = { "hello", "channels", "binding", "serving",
					   "closing" };

/* ------------------------------------------------------------ create */

int
bulk_bs_server_create(const struct bulk_bs_server_params *p, struct bulk_bs_server **out)
{
	struct bulk_bs_server *s;
	struct bulk_bs_info info;
	int rc;

	if (p == NULL || out == NULL || p->dom == NULL || p->ops == NULL || p->ops->request == NULL)
		return -EINVAL;
	if (p->export_name != NULL && strlen(p->export_name) > BULK_BS_EXPORT_NAME_MAX)
		return -EINVAL;
	info = p->info;
	if (info.block_pref == 0)
		info.block_pref = info.block_min;
	if (info.block_max == 0)
		info.block_max = info.block_min > BS_DEFAULT_BLOCK_MAX ? info.block_min
								       : BS_DEFAULT_BLOCK_MAX;
	if (info.max_buffers == 0)
		info.max_buffers = BS_DEFAULT_MAX_BUFFERS;
	if (bs_info_check(&info) < 0)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->dom = p->dom;
	s->ops = *p->ops;
	s->arg = p->arg;
	if (p->export_name != NULL)
		strcpy(s->export_name, p->export_name);
	s->info = info;
	s->max_conns = p->max_conns ? p->max_conns : BS_DEFAULT_MAX_CONNS;
	s->handshake_ms = p->handshake_timeout_ms ? p->handshake_timeout_ms : BS_DEFAULT_HANDSHAKE_MS;
	s->allow_any_uid = p->allow_any_uid != 0;
	s->poll_hook = p->poll_hook;
	s->poll_hook_arg = p->poll_hook_arg;
	s->sleep_hook = p->sleep_hook;
	s->spin_hook = p->spin_hook;
	s->copies = p->copies != 0;
	for (unsigned i = 0; i < BS_MAX_LISTENERS; i++)
		s->listeners[i].fd = -1;
	rc = bs_idle_init(&s->idle, p->poll);
	if (rc < 0) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int
bulk_bs_server_listen(struct bulk_bs_server *s, const char *addr)
{
	struct bs_listener *l;
	int fd, rc;

	if (s == NULL || addr == NULL || s->shutting)
		return -EINVAL;
	if (s->nlisteners == BS_MAX_LISTENERS)
		return -ENOSPC;
	l = &s->listeners[s->nlisteners];
	rc = bs_sockaddr_parse(addr, true, &l->addr);
	if (rc < 0)
		return rc;
	fd = bs_sock_listen(&l->addr);
	if (fd < 0)
		return fd;
	l->fd = fd;
	l->tag.kind = BS_TAG_LISTENER;
	l->tag.index = (int)s->nlisteners;
	/* The address as bound: a tcp port 0 becomes the one picked. */
	if (l->addr.ss.ss_family == AF_UNIX)
		snprintf(l->text, sizeof(l->text), "%s", addr);
	else
		bs_sock_name(fd, false, l->text, sizeof(l->text));
	rc = bs_idle_watch(&s->idle, fd, &l->tag);
	if (rc < 0) {
		close(fd);
		l->fd = -1;
		return rc;
	}
	return (int)s->nlisteners++;
}

int
bulk_bs_server_listen_addr(const struct bulk_bs_server *s, int index, char *buf, size_t len)
{
	size_t n;

	if (s == NULL || buf == NULL || index < 0 || (unsigned)index >= s->nlisteners)
		return -EINVAL;
	n = strlen(s->listeners[index].text);
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, s->listeners[index].text, n + 1);
	return (int)n;
}

int
bulk_bs_server_watch_fd(struct bulk_bs_server *s, int fd)
{
	if (s == NULL || fd < 0)
		return -EINVAL;
	return bs_idle_watch(&s->idle, fd, BS_EV_WAKE);
}

int
bulk_bs_server_unwatch_fd(struct bulk_bs_server *s, int fd)
{
	if (s == NULL || fd < 0)
		return -EINVAL;
	if (epoll_ctl(s->idle.epfd, EPOLL_CTL_DEL, fd, NULL) < 0)
		return -errno;
	return 0;
}

static void
listeners_close(struct bulk_bs_server *s)
{
	for (unsigned i = 0; i < s->nlisteners; i++) {
		struct bs_listener *l = &s->listeners[i];

		if (l->fd < 0)
			continue;
		bs_idle_unwatch(&s->idle, l->fd);
		close(l->fd);
		l->fd = -1;
		if (l->addr.unix_path)
			(void)unlink(((struct sockaddr_un *)&l->addr.ss)->sun_path);
	}
}

int
bulk_bs_server_free(struct bulk_bs_server *s)
{
	if (s == NULL)
		return -EINVAL;
	if (s->conns != NULL || s->in_poll)
		return -EBUSY;
	listeners_close(s);
	bs_idle_fini(&s->idle);
	free(s);
	return 0;
}

/* ------------------------------------------------------- connections */

/* Channel @p k of @p c: its data channels, then its copy channel (k == nchans). */
static struct bs_chan *
conn_chan(struct bulk_bs_conn *c, unsigned k)
{
	return k < c->nchans ? &c->chans[k] : &c->cchan;
}

static void
conn_unlink(struct bulk_bs_conn *c)
{
	struct bulk_bs_server *s = c->srv;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->nconns--;
}

static void
conn_sock_close(struct bulk_bs_conn *c)
{
	if (c->sock.fd < 0)
		return;
	/* An ERROR queued for the peer goes out if the socket takes it now. */
	(void)bs_sock_flush(&c->sock);
	bs_idle_unwatch(&c->srv->idle, c->sock.fd);
	bs_sock_close(&c->sock);
}

void
bs_conn_end(struct bulk_bs_conn *c, int reason)
{
	if (c->state == BS_CONN_CLOSING)
		return;
	c->state = BS_CONN_CLOSING;
	c->reason = reason;
	c->draining = true;
	if (reason != 0)
		conn_sock_close(c);
}

/* A bad message or a step that failed: tell the client why, and end. */
static void
conn_fail(struct bulk_bs_conn *c, int err, const char *why)
{
	bs_sock_send_error(&c->sock, err, "%s", why);
	bs_conn_end(c, err);
}

static void
accept_one(struct bulk_bs_server *s, struct bs_listener *l, int fd)
{
	struct bulk_bs_conn *c;
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	s->st.accepted++;
	if (s->shutting || s->nconns >= s->max_conns) {
		struct bs_sock tmp;

		bs_sock_init(&tmp, fd);
		bs_sock_send_error(&tmp, -EBUSY, s->shutting ? "server is shutting down"
							    : "server is full (%u clients)",
				   s->max_conns);
		bs_sock_close(&tmp);
		s->st.refused++;
		return;
	}
	/* Unix sockets: the same uid as ours, as the shm backend demands. */
	if (l->addr.ss.ss_family == AF_UNIX && !s->allow_any_uid &&
	    (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid())) {
		struct bs_sock tmp;

		bs_sock_init(&tmp, fd);
		bs_sock_send_error(&tmp, -EPERM, "uid not allowed");
		bs_sock_close(&tmp);
		s->st.refused++;
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		s->st.refused++;
		return;
	}
	c->srv = s;
	c->id = ++s->next_id;
	c->tag.kind = BS_TAG_CONN;
	c->tag.conn = c;
	bs_sock_init(&c->sock, fd);
	c->state = BS_CONN_HELLO;
	c->deadline = bs_now_ns() + (uint64_t)s->handshake_ms * BS_NS_PER_MS;
	for (unsigned k = 0; k < BULK_BS_MAX_CHANNELS; k++)
		c->chans[k].fd = -1;
	c->cchan.fd = -1;
	if (l->addr.ss.ss_family == AF_UNIX)
		snprintf(c->peer, sizeof(c->peer), "%s#%llu", l->text, (unsigned long long)c->id);
	else
		bs_sock_name(fd, true, c->peer, sizeof(c->peer));
	if (bs_idle_watch(&s->idle, fd, &c->tag) < 0) {
		close(fd);
		free(c);
		s->st.refused++;
		return;
	}
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
}

static int
listener_accept(struct bulk_bs_server *s, struct bs_listener *l)
{
	int n = 0;

	while (l->fd >= 0) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break; /* EAGAIN, or an error of one would-be client */
		accept_one(s, l, fd);
		n++;
	}
	return n;
}

/* ------------------------------------------------------ the handshake */

static void
bind_done(void *arg, int err, struct bulk_channel *ch)
{
	struct bs_chan *chan = arg;

	(void)ch;
	chan->bind_done = true;
	chan->bind_err = err;
}

static void
destroy_done(void *arg, int err, struct bulk_channel *ch)
{
	struct bs_chan *chan = arg;

	(void)err;
	(void)ch;
	chan->destroyed = true;
}

static void
on_hello(struct bulk_bs_conn *c, const struct bs_ctrl_msg *m)
{
	struct bulk_bs_server *s = c->srv;
	struct bs_ctrl_msg r;
	char name[sizeof(c->peer)];

	if (m->u.hello.version != BS_WIRE_VERSION) {
		conn_fail(c, -EPROTONOSUPPORT, "protocol version not supported (this server speaks 1)");
		return;
	}
	/* A named export answers its name and the default (""). */
	if (s->export_name[0] != '\0' && m->u.hello.name[0] != '\0' &&
	    strcmp(m->u.hello.name, s->export_name) != 0) {
		char why[BS_WIRE_ERRMSG_MAX + 1];

		snprintf(why, sizeof(why), "no export '%.200s'", m->u.hello.name);
		conn_fail(c, -ENOENT, why);
		return;
	}
	memcpy(name, c->peer, sizeof(name));
	snprintf(c->peer, sizeof(c->peer), "%.*s,export=%s", BULK_BS_ADDR_STRLEN, name,
		 m->u.hello.name);
	memset(&r, 0, sizeof(r));
	r.type = BS_MSG_INFO;
	r.u.info.info = s->info;
	r.u.info.version = BS_WIRE_VERSION;
	r.u.info.max_channels = BULK_BS_MAX_CHANNELS;
	/* Copies: only to a client that offered a copy channel. */
	if (s->copies && (m->u.hello.flags & BS_HELLO_COPIES)) {
		r.u.info.features = BS_FEAT_COPIES;
		c->copies = true;
	}
	if (bs_sock_send(&c->sock, &r) < 0) {
		bs_conn_end(c, -ECONNRESET);
		return;
	}
	c->state = BS_CONN_CHANNELS;
}

/*
 * Bind one of the client's channels at @p addr: the data channels and the
 * copy channel alike. On failure the connection is failed with why.
 * @return 0; < 0 (the connection is gone).
 */
static int
chan_bind(struct bulk_bs_conn *c, struct bs_chan *chan, const char *addr,
	  const struct bulk_channel_callbacks *cb, uint32_t peer_buffers_max)
{
	struct bulk_bs_server *s = c->srv;
	struct bulk_bind_params bp = {
		.meta_size = BS_WIRE_META_SIZE,
		.user = chan,
		.peer_pool_buffers_max = peer_buffers_max,
	};
	char why[BS_WIRE_ERRMSG_MAX + 1];
	struct bulk_addr a;
	int rc;

	chan->conn = c;
	chan->done_tail = &chan->done_head;
	rc = bulk_addr_parse(addr, &a);
	if (rc == 0)
		rc = bulk_addr_endpoint_remote(s->dom, &a, &chan->ep);
	if (rc == 0)
		rc = bulk_channel_bind(s->dom, chan->ep, cb, &bp, (struct bulk_cont){ bind_done, chan },
				       &chan->ch);
	if (rc < 0) {
		snprintf(why, sizeof(why), "cannot bind %s: %s", addr, bulk_strerror(rc));
		chan->ch = NULL;
		conn_fail(c, rc, why);
		return rc;
	}
	/* Before the peer sends anything: the fd must exist first. */
	chan->fd = bulk_channel_fd(chan->ch);
	if (chan->fd >= 0 && bs_idle_watch(&s->idle, chan->fd, BS_EV_WAKE) < 0)
		chan->fd = -1;
	return 0;
}

static void
on_channels(struct bulk_bs_conn *c, const struct bs_ctrl_msg *m)
{
	struct bulk_bs_server *s = c->srv;

	if (m->u.channels.copy && !c->copies) {
		conn_fail(c, -EPROTO, "a copy channel that was not agreed");
		return;
	}
	c->state = BS_CONN_BINDING;
	for (unsigned k = 0; k < m->u.channels.count; k++) {
		c->nchans = k + 1;
		if (chan_bind(c, &c->chans[k], m->u.channels.addr[k], &bs_serve_callbacks,
			      s->info.max_buffers) < 0)
			return;
	}
	if (m->u.channels.copy) {
		/* The client assigns nothing on the copy channel. */
		if (chan_bind(c, &c->cchan, m->u.channels.addr[m->u.channels.count],
			      &bs_copy_callbacks, 1) < 0)
			return;
	} else {
		/* Agreed but not opened: the client does without. */
		c->copies = false;
	}
}

static void
on_msg(struct bulk_bs_conn *c, const struct bs_ctrl_msg *m)
{
	char why[BS_WIRE_ERRMSG_MAX + 1];

	if (m->type == BS_MSG_HELLO && c->state == BS_CONN_HELLO) {
		on_hello(c, m);
	} else if (m->type == BS_MSG_CHANNELS && c->state == BS_CONN_CHANNELS) {
		on_channels(c, m);
	} else if (m->type == BS_MSG_DISCONNECT && c->state == BS_CONN_SERVING) {
		bs_conn_end(c, 0);
	} else if (m->type == BS_MSG_ERROR) {
		bs_conn_end(c, m->u.error.code ? m->u.error.code : -EPROTO);
	} else {
		c->srv->st.protocol_errors++;
		c->st.protocol_errors++;
		snprintf(why, sizeof(why), "unexpected message %d in state %s", (int)m->type,
			 state_names[c->state]);
		conn_fail(c, -EPROTO, why);
	}
}

static int
conn_read(struct bulk_bs_conn *c)
{
	struct bs_ctrl_msg m;
	int n = 0;

	while (c->sock.fd >= 0) {
		int rc = bs_sock_recv(&c->sock, &m);

		if (rc == 0)
			break;
		n++;
		if (rc == 1) {
			on_msg(c, &m);
			continue;
		}
		if (rc == -ECONNRESET || rc == -EPIPE) {
			/* After a goodbye the client closes its end: that is all. */
			if (c->state == BS_CONN_CLOSING) {
				conn_sock_close(c);
			} else {
				bs_conn_end(c, -ECONNRESET);
				conn_sock_close(c);
			}
			break;
		}
		c->srv->st.protocol_errors++;
		c->st.protocol_errors++;
		conn_fail(c, rc == -EPROTONOSUPPORT ? rc : -EPROTO,
			  rc == -EPROTONOSUPPORT ? "protocol version not supported"
						 : "malformed control message");
		break;
	}
	return n;
}

/* The binds of a BINDING connection: all answered? */
static void
binding_step(struct bulk_bs_conn *c)
{
	struct bulk_bs_server *s = c->srv;
	struct bs_ctrl_msg r;
	char why[BS_WIRE_ERRMSG_MAX + 1];

	for (unsigned k = 0; k < c->nchans; k++)
		if (!c->chans[k].bind_done)
			return;
	if (c->cchan.ch != NULL && !c->cchan.bind_done)
		return;
	if (c->cchan.ch != NULL) {
		struct bs_chan *chan = &c->cchan;

		/* We are its source; HALF: the client maps what it holds of
		 * our pools read-only, and nothing else of them. */
		if (chan->bind_err != 0 || bulk_channel_direction(chan->ch) != BULK_DIRECTION_TX ||
		    bulk_channel_meta_size(chan->ch) != BS_WIRE_META_SIZE ||
		    bulk_channel_trust(chan->ch) != BULK_TRUST_HALF) {
			snprintf(
				why, sizeof(why),
				"copy channel: create it RX, trust HALF, with %u bytes of meta%s%s",
				BS_WIRE_META_SIZE, chan->bind_err ? ": " : "",
				chan->bind_err ? bulk_strerror(chan->bind_err) : "");
			conn_fail(c, chan->bind_err ? chan->bind_err : -EPROTO, why);
			return;
		}
	}
	for (unsigned k = 0; k < c->nchans; k++) {
		struct bs_chan *chan = &c->chans[k];

		if (chan->bind_err != 0) {
			snprintf(why, sizeof(why), "binding data channel %u failed: %s", k,
				 bulk_strerror(chan->bind_err));
			conn_fail(c, chan->bind_err, why);
			return;
		}
		/* The client creates its channels as the source: requests are
		 * moves to us, replies passes back. */
		if (bulk_channel_direction(chan->ch) != BULK_DIRECTION_RX ||
		    bulk_channel_meta_size(chan->ch) != BS_WIRE_META_SIZE) {
			snprintf(why, sizeof(why),
				 "data channel %u: create it TX with %u bytes of meta", k,
				 BS_WIRE_META_SIZE);
			conn_fail(c, -EPROTO, why);
			return;
		}
	}
	snprintf(c->st.backend, sizeof(c->st.backend), "%s", bulk_channel_backend(c->chans[0].ch));
	if (s->ops.conn_open != NULL) {
		int rc = s->ops.conn_open(s->arg, c);

		if (rc < 0) {
			snprintf(why, sizeof(why), "refused by the server: %s", bulk_strerror(rc));
			conn_fail(c, rc, why);
			return;
		}
	}
	c->opened = true;
	c->state = BS_CONN_SERVING;
	s->st.served++;
	memset(&r, 0, sizeof(r));
	r.type = BS_MSG_READY;
	if (bs_sock_send(&c->sock, &r) < 0) {
		bs_conn_end(c, -ECONNRESET);
		return;
	}
	if (s->shutting) {
		/* Shut down while it was binding: it hears so right away. */
		r.type = BS_MSG_SHUTDOWN;
		(void)bs_sock_send(&c->sock, &r);
		c->draining = true;
		c->deadline = bs_now_ns() + (uint64_t)BS_SHUTDOWN_GRACE_MS * BS_NS_PER_MS;
	}
}

/* Free what is left of a connection whose channels are all closed. */
static void
conn_finalize(struct bulk_bs_conn *c)
{
	struct bulk_bs_server *s = c->srv;
	struct bulk_pool_id ids[BULK_CHANNEL_MAX_POOLS];
	unsigned nids = 0;

	conn_sock_close(c);
	memset(&c->st.chan, 0, sizeof(c->st.chan));
	for (unsigned k = 0; k <= c->nchans; k++) {
		struct bs_chan *chan = conn_chan(c, k);

		if (chan->fd >= 0)
			bs_idle_unwatch(&s->idle, chan->fd);
		chan->fd = -1;
		if (chan->ch != NULL)
			bs_chan_stats_add(&c->st, chan->ch);
	}
	/* Our records of its pools go before the channels, which may take
	 * the views with them. */
	bs_serve_pools_release(c, ids, &nids, BULK_CHANNEL_MAX_POOLS);
	for (unsigned k = 0; k <= c->nchans; k++) {
		struct bs_chan *chan = conn_chan(c, k);

		if (chan->ch != NULL)
			(void)bulk_channel_free(chan->ch);
		if (chan->ep != NULL)
			(void)bulk_addr_endpoint_free(chan->ep);
		chan->ch = NULL;
		chan->ep = NULL;
	}
	/*
	 * A view still there holds buffers of a client that died with
	 * requests in our hands, or of one that tore its channels down while
	 * we held them. Either way nobody will take them home through us: the
	 * client's pool is its own, so we give our view of it up.
	 */
	for (unsigned i = 0; i < nids; i++) {
		struct bulk_pool *v = bulk_domain_pool_lookup(s->dom, &ids[i]);

		if (v == NULL)
			continue;
		if (bulk_pool_free(v) == 0 || bulk_pool_drop(v) == 0)
			s->st.pools_dropped++;
		else
			s->st.pools_leaked++;
	}
	s->st.closed++;
	if (c->reason != 0 && c->opened)
		s->st.died++;
	if (c->opened && s->ops.conn_close != NULL)
		s->ops.conn_close(s->arg, c, c->reason);
	conn_unlink(c);
	free(c);
}

/* A CLOSING connection: drain, tear down, free. @return 1 if it went. */
static int
closing_step(struct bulk_bs_conn *c)
{
	bool all_closed = true;

	if (c->inflight > 0)
		return 0;
	(void)bs_serve_flush(c);
	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ndone > 0)
			return 0; /* the channel queue is full: next round */
	/* The application lets go of what it did with the client's pools
	 * before conn_finalize() frees them. */
	if (c->opened && !c->released) {
		struct bulk_bs_server *s = c->srv;

		if (s->ops.conn_closing != NULL && s->ops.conn_closing(s->arg, c, c->reason) > 0)
			return 0;
		c->released = true;
	}
	for (unsigned k = 0; k <= c->nchans; k++) {
		struct bs_chan *chan = conn_chan(c, k);
		enum bulk_channel_state st;

		if (chan->ch == NULL)
			continue;
		st = bulk_channel_state(chan->ch);
		if (st == BULK_STATE_CLOSED) {
			if (chan->destroying && !chan->destroyed)
				all_closed = false;
			continue;
		}
		all_closed = false;
		if (st == BULK_STATE_CONNECTED && !chan->destroying) {
			int rc = bulk_channel_destroy(chan->ch, (struct bulk_cont){ destroy_done, chan });

			if (rc == 0)
				chan->destroying = true;
		}
		/* BINDING: the bind must end first (it fails once the peer is gone). */
	}
	if (!all_closed)
		return 0;
	conn_finalize(c);
	return 1;
}

/* Progress of one connection outside its messages. @return work done. */
static int
conn_step(struct bulk_bs_conn *c, uint64_t now)
{
	switch (c->state) {
	case BS_CONN_HELLO:
	case BS_CONN_CHANNELS:
	case BS_CONN_BINDING:
		if (c->state == BS_CONN_BINDING)
			binding_step(c);
		if (c->state != BS_CONN_SERVING && c->state != BS_CONN_CLOSING && now > c->deadline) {
			conn_fail(c, -ETIMEDOUT, "handshake timed out");
			return 1;
		}
		return c->state == BS_CONN_SERVING;
	case BS_CONN_SERVING:
		if (c->draining && now > c->deadline) {
			bs_conn_end(c, -ETIMEDOUT);
			return 1;
		}
		return 0;
	case BS_CONN_CLOSING:
		return closing_step(c);
	}
	return 0;
}

/* ------------------------------------------------------------- polling */

/* Arm every channel for a wakeup. @return false if work is pending. */
static bool
arm_all(struct bulk_bs_server *s, int *timeout_ms)
{
	for (struct bulk_bs_conn *c = s->conns; c != NULL; c = c->next)
		for (unsigned k = 0; k <= c->nchans; k++) {
			struct bs_chan *chan = conn_chan(c, k);

			if (chan->ch == NULL || bulk_channel_state(chan->ch) == BULK_STATE_CLOSED)
				continue;
			if (chan->fd < 0) {
				/* No fd to sleep on (a dpdk channel): nap only. */
				if (*timeout_ms > 1)
					*timeout_ms = 1;
				continue;
			}
			if (bulk_channel_arm(chan->ch) != 0)
				return false;
		}
	/* A handshake or a goodbye waits on its clock. */
	for (struct bulk_bs_conn *c = s->conns; c != NULL; c = c->next)
		if (c->state != BS_CONN_SERVING || c->draining)
			if (*timeout_ms > 10)
				*timeout_ms = 10;
	/* And the application's own channels. */
	if (s->sleep_hook != NULL && s->sleep_hook(s->poll_hook_arg, timeout_ms) != 0)
		return false;
	return true;
}

int
bulk_bs_server_poll(struct bulk_bs_server *s, int timeout_ms)
{
	void *tags[32];
	struct bulk_bs_conn *c, *next;
	uint64_t now;
	bool sleep;
	int work = 0, n;

	if (s == NULL || s->in_poll)
		return -EINVAL;
	s->in_poll = true;
	if (s->poll_hook != NULL && (n = s->poll_hook(s->poll_hook_arg)) > 0)
		work += n;
	/* The data path first: it is what the server is for. */
	for (c = s->conns; c != NULL; c = c->next)
		for (unsigned k = 0; k <= c->nchans; k++) {
			struct bulk_channel *ch = conn_chan(c, k)->ch;

			if (ch != NULL && bulk_channel_state(ch) != BULK_STATE_CLOSED &&
			    (n = bulk_channel_poll(ch, 0)) > 0)
				work += n;
		}
	for (c = s->conns; c != NULL; c = c->next)
		if (c->state == BS_CONN_SERVING)
			work += bs_serve_flush(c);
	/* No client with channels: what comes, comes through a socket,
	 * unless the application expects more at once. */
	sleep = bs_idle_should_sleep(&s->idle, work,
				     s->conns != NULL ||
					     (work == 0 && s->spin_hook != NULL &&
					      s->spin_hook(s->poll_hook_arg) != 0));
	if (sleep && timeout_ms > 0)
		sleep = arm_all(s, &timeout_ms);
	else
		sleep = false;
	n = bs_idle_events(&s->idle, sleep, timeout_ms, tags, 32);
	for (int e = 0; e < n; e++) {
		struct bs_tag *t = tags[e];

		if (t->kind == BS_TAG_LISTENER)
			work += listener_accept(s, &s->listeners[t->index]);
		else
			work += conn_read(t->conn);
	}
	now = bs_now_ns();
	for (c = s->conns; c != NULL; c = next) {
		next = c->next;
		work += conn_step(c, now);
	}
	s->in_poll = false;
	return work;
}

int
bulk_bs_server_shutdown(struct bulk_bs_server *s)
{
	struct bs_ctrl_msg m;

	if (s == NULL)
		return -EINVAL;
	if (s->shutting)
		return 0;
	s->shutting = true;
	listeners_close(s);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_SHUTDOWN;
	for (struct bulk_bs_conn *c = s->conns; c != NULL; c = c->next) {
		if (c->state == BS_CONN_SERVING) {
			/* The client finishes what it has in flight and says
			 * goodbye; then we tear down with nothing in the way. */
			c->draining = true;
			c->deadline = bs_now_ns() + (uint64_t)BS_SHUTDOWN_GRACE_MS * BS_NS_PER_MS;
			if (bs_sock_send(&c->sock, &m) < 0)
				bs_conn_end(c, -ECONNRESET);
		} else if (c->state != BS_CONN_BINDING) {
			/* Binding ones hear of it once bound (binding_step()). */
			conn_fail(c, -ESHUTDOWN, "server is shutting down");
		}
	}
	return 0;
}

unsigned
bulk_bs_server_conns(const struct bulk_bs_server *s)
{
	return s != NULL ? s->nconns : 0;
}

int
bulk_bs_server_stats_get(const struct bulk_bs_server *s, struct bulk_bs_server_stats *st)
{
	if (s == NULL || st == NULL)
		return -EINVAL;
	*st = s->st;
	return 0;
}

/* ------------------------------------------------------- connections */

uint64_t
bulk_bs_conn_id(const struct bulk_bs_conn *c)
{
	return c != NULL ? c->id : 0;
}

const char *
bulk_bs_conn_peer(const struct bulk_bs_conn *c)
{
	return c != NULL ? c->peer : "?";
}

int
bulk_bs_conn_stats_get(const struct bulk_bs_conn *pc, struct bulk_bs_stats *st)
{
	const struct bulk_bs_conn *c = pc;

	if (c == NULL || st == NULL)
		return -EINVAL;
	*st = c->st;
	/* Live channels: their counters now (conn_finalize() keeps the
	 * last ones, and forgets the channels). */
	for (unsigned k = 0; k < c->nchans; k++)
		if (c->chans[k].ch != NULL)
			bs_chan_stats_add(st, c->chans[k].ch);
	if (c->cchan.ch != NULL)
		bs_chan_stats_add(st, c->cchan.ch);
	return 0;
}

int
bulk_bs_conn_abort(struct bulk_bs_conn *c, int err, const char *why)
{
	if (c == NULL || err >= 0 || why == NULL)
		return -EINVAL;
	if (c->state == BS_CONN_CLOSING)
		return 0;
	conn_fail(c, err, why);
	return 0;
}

struct bulk_channel *
bulk_bs_conn_channel(const struct bulk_bs_conn *c, unsigned k)
{
	return c != NULL && k < c->nchans ? c->chans[k].ch : NULL;
}

void
bulk_bs_conn_set_user(struct bulk_bs_conn *pc, void *user)
{
	if (pc != NULL)
		pc->user = user;
}

void *
bulk_bs_conn_user(const struct bulk_bs_conn *pc)
{
	return pc != NULL ? pc->user : NULL;
}
