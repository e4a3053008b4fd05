/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libbulk-bs internals shared by its files: the control connection
 * (sock.c), the idle strategy (idle.c), and the server's objects
 * (server.c: connections and their control messages; serve.c: requests
 * on the data channels). The client keeps its objects in client.h.
 */
#ifndef BS_INTERNAL_H
#define BS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <bulk/bulk.h>
#include <bulk/bulk_bs.h>

#include "bs_wire.h"

#define BS_NS_PER_MS 1000000ull

static inline uint64_t
bs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define BS_CONTAINER_OF(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

/* Write a one-line reason into a caller's buffer (either may be NULL/0). */
void bs_errf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------ control connection */

/* A control address resolved: where to connect or listen. */
struct bs_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
	bool unix_path; /* a unix socket file (not abstract): ours to unlink */
};

/*
 * Resolve unix:PATH, unix:@NAME or tcp:HOST:PORT (HOST: an IPv4 or
 * [IPv6] address or a name; @p passive: a listener, so an empty HOST is
 * any address). @return 0; -EINVAL; -ENAMETOOLONG; -EHOSTUNREACH (a name
 * that does not resolve).
 */
int bs_sockaddr_parse(const char *addr, bool passive, struct bs_sockaddr *out);

/* A listening, non-blocking socket at @p a. @return the fd or -errno. */
int bs_sock_listen(const struct bs_sockaddr *a);

/* Connect to @p a within @p timeout_ms. @return a non-blocking fd or -errno. */
int bs_sock_connect(const struct bs_sockaddr *a, int timeout_ms);

/* "tcp:A.B.C.D:PORT" or "unix:PATH" for a connected or bound socket. */
void bs_sock_name(int fd, bool peer, char *buf, size_t len);

/* A framed control connection: partial reads and writes are kept here. */
struct bs_sock {
	int fd;
	uint32_t rx_len;
	uint32_t tx_len;
	uint8_t rx[BS_WIRE_MSG_MAX];
	uint8_t tx[2 * BS_WIRE_MSG_MAX];
};

void bs_sock_init(struct bs_sock *s, int fd);
void bs_sock_close(struct bs_sock *s);

/*
 * Queue @p m and write what can be written now.
 * @return 0; -ENOBUFS (the peer does not read: two messages wait
 *   already); -EINVAL (a message that does not encode); -errno of send().
 */
int bs_sock_send(struct bs_sock *s, const struct bs_ctrl_msg *m);

/* Write what waits. @return 0 (nothing waits), 1 (some still waits), -errno. */
int bs_sock_flush(struct bs_sock *s);

/*
 * Read what arrived and take the next message out.
 * @return 1 (@p m filled); 0 (nothing complete yet); -ECONNRESET (the
 *   peer closed: also a clean close); a parser error (bs_wire_ctrl_parse());
 *   -errno of recv().
 */
int bs_sock_recv(struct bs_sock *s, struct bs_ctrl_msg *m);

/*
 * Wait up to @p timeout_ms for a whole message (blocking use, at set-up).
 * @return as bs_sock_recv(), or -ETIMEDOUT.
 */
int bs_sock_recv_wait(struct bs_sock *s, struct bs_ctrl_msg *m, int timeout_ms);

/* Send an ERROR with a printf-style message, best effort. */
void bs_sock_send_error(struct bs_sock *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ idling */

/* How long a poll loop spins after its last work before it sleeps. */
#define BS_IDLE_SPIN_NS (50 * 1000ull)
/* Sockets are looked at this often when busy (an epoll_wait(0)). */
#define BS_SOCK_CHECK_NS (1 * BS_NS_PER_MS)

struct bs_idle {
	enum bulk_bs_poll_mode mode;
	int epfd;
	uint64_t last_work;
	uint64_t last_sock_check;
	uint64_t naps; /* sleeps shortened because something must be polled (dpdk) */
};

/*
 * A sleep of 1 ms is what a loop asks for when one of its channels has no
 * fd to wake it (dpdk ports): it must be polled. Such naps grow with the
 * idle time instead (BS_NAP_MIN_NS doubling to 1 ms): work that comes soon
 * after the last waits little, an idle loop still wakes 1000 times a second.
 */
#define BS_NAP_MIN_NS (20 * 1000ull)

int bs_idle_init(struct bs_idle *i, enum bulk_bs_poll_mode mode);
void bs_idle_fini(struct bs_idle *i);

/* Tag of epoll entries whose events mean nothing but "wake up". */
#define BS_EV_WAKE NULL

/* Add @p fd: level triggered with @p tag, or edge triggered (wake only) with NULL. */
int bs_idle_watch(struct bs_idle *i, int fd, void *tag);
void bs_idle_unwatch(struct bs_idle *i, int fd);

/*
 * Whether the caller has been idle long enough to sleep, given @p work
 * done this round (which resets the clock). Busy mode never sleeps; an
 * adaptive loop yields the CPU while it spins, if @p spin: spinning buys
 * latency for channels, which are polled, and for socket peers that wait
 * on us (the server's spin_hook says which); a loop serving only a
 * socket peer with a deep queue (an nbs NBD client at QD 32) sleeps at
 * once: its spin would cost about a tenth of its CPU and gain nothing.
 */
bool bs_idle_should_sleep(struct bs_idle *i, int work, bool spin);

/*
 * Wait for events: up to @p timeout_ms when @p sleep (the caller armed its
 * channels), else only look (timeout 0) when a socket check is due.
 * @return events in @p evs (tags only; wake-only entries are dropped).
 */
int bs_idle_events(struct bs_idle *i, bool sleep, int timeout_ms, void **tags, int max);

/* ------------------------------------------------------------ server */

struct bulk_bs_conn;
struct bs_spool;

/* Server request states. */
enum bs_sreq_state {
	BS_SREQ_IDLE = 0, /* the buffer is with the client, or with us between requests */
	BS_SREQ_APP,	  /* handed to the application */
	BS_SREQ_DONE,	  /* completed, waiting to be passed back */
};

/* One per buffer of a pool a client assigned. */
struct bs_sreq {
	struct bulk_bs_request pub; /* first: what the application sees */
	struct bs_spool *sp;
	struct bs_chan *chan; /* where it arrived and goes back */
	struct bulk_buffer *buf;
	struct bs_sreq *next; /* in the channel's done list */
	uint8_t state;
	bool copy_ok; /* the client allowed the data as a copy */
	bool copied;  /* it went as one: the pass says so, with no payload */
	int status;
	uint32_t len_back;
};

/* The requests of one pool view a client assigned. */
struct bs_spool {
	struct bs_spool *next;
	struct bulk_bs_conn *conn;
	struct bulk_pool *view;
	struct bulk_pool_id id;
	uint32_t count;
	unsigned refs; /* channels of conn it is assigned to */
	struct bs_sreq reqs[];
};

/* One data channel of a client, server side. */
struct bs_chan {
	struct bulk_bs_conn *conn;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	int fd;
	bool bind_done;
	int bind_err;
	bool destroying;
	bool destroyed; /* the destroy's continuation fired */
	bool closed;	/* teardown_received, or CLOSED seen */
	struct bs_sreq *done_head;
	struct bs_sreq **done_tail;
	unsigned ndone;
};

enum bs_conn_state {
	BS_CONN_HELLO,	  /* waiting for HELLO */
	BS_CONN_CHANNELS, /* INFO sent, waiting for CHANNELS */
	BS_CONN_BINDING,  /* binding the client's channels */
	BS_CONN_SERVING,
	/* Over, for whatever reason (bs_conn_end()): wait for the application,
	 * pass back what can go back, tear down, release. */
	BS_CONN_CLOSING,
};

/* What an epoll entry of the server is. */
enum bs_tag_kind { BS_TAG_LISTENER, BS_TAG_CONN };
struct bs_tag {
	enum bs_tag_kind kind;
	int index; /* listener */
	struct bulk_bs_conn *conn;
};

struct bulk_bs_conn {
	struct bulk_bs_server *srv;
	struct bulk_bs_conn *next, *prev;
	uint64_t id;
	struct bs_tag tag;
	struct bs_sock sock;
	enum bs_conn_state state;
	int reason;	   /* why it is going: 0 goodbye, else an error */
	bool draining;	   /* requests from now on fail with -ESHUTDOWN */
	bool opened;	   /* conn_open said yes: conn_close is owed */
	bool released;	   /* conn_closing said the application let go */
	uint64_t deadline; /* of the handshake, or of the goodbye on shutdown */
	char peer[BULK_BS_ADDR_STRLEN + BULK_BS_EXPORT_NAME_MAX + 16];
	struct bs_chan chans[BULK_BS_MAX_CHANNELS];
	unsigned nchans;
	/* The client's copy channel (we are its source), if it has one. */
	bool copies;
	struct bs_chan cchan;
	struct bs_spool *pools;
	uint64_t inflight; /* requests with the application */
	struct bulk_bs_stats st;
	void *user;
};

#define BS_MAX_LISTENERS 8

struct bs_listener {
	int fd;
	struct bs_tag tag;
	struct bs_sockaddr addr;
	char text[BULK_BS_ADDR_STRLEN];
};

struct bulk_bs_server {
	struct bulk_domain *dom;
	struct bulk_bs_server_ops ops;
	void *arg;
	char export_name[BULK_BS_EXPORT_NAME_MAX + 1];
	struct bulk_bs_info info;
	uint32_t max_conns;
	uint32_t handshake_ms;
	bool allow_any_uid;
	int (*poll_hook)(void *);
	void *poll_hook_arg;
	int (*sleep_hook)(void *, int *);
	int (*spin_hook)(void *);

	struct bs_idle idle;
	struct bs_listener listeners[BS_MAX_LISTENERS];
	unsigned nlisteners;
	struct bulk_bs_conn *conns;
	unsigned nconns;
	uint64_t next_id;
	bool shutting;
	bool in_poll;
	bool copies; /* offer copy channels */
	struct bulk_bs_server_stats st;
};

/* serve.c: the data path. */
extern const struct bulk_channel_callbacks bs_serve_callbacks;
/* The copy channel's callbacks (serve.c). */
extern const struct bulk_channel_callbacks bs_copy_callbacks;
/* Pass back what the application completed. @return buffers passed. */
int bs_serve_flush(struct bulk_bs_conn *c);
/* Requests of a dying connection that wait to go back are dropped. */
void bs_serve_drop(struct bulk_bs_conn *c);
/* Forget the pools of @p c (after its channels are closed, before they are freed). */
void bs_serve_pools_release(struct bulk_bs_conn *c, struct bulk_pool_id *ids, unsigned *nids,
			    unsigned max);
/* Add a channel's counters into @p st. */
void bs_chan_stats_add(struct bulk_bs_stats *st, const struct bulk_channel *ch);
/** Count one finished request of @p op (enum bulk_bs_op) in @p st. */
void bs_stats_count(struct bulk_bs_stats *st, unsigned op, uint64_t length, int status);

/* server.c: a connection is over (0: goodbye; else why). */
void bs_conn_end(struct bulk_bs_conn *c, int reason);

#endif /* BS_INTERNAL_H */
