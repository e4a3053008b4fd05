/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The client half's objects, shared by client.c (connect, close) and
 * submit.c (requests, completions, polling).
 */
#ifndef BS_CLIENT_H
#define BS_CLIENT_H

#include "bs_internal.h"

/* One request in flight, at the index of the buffer that carries it. */
struct bs_cslot {
	bulk_bs_done_fn done;
	void *arg;
	uint64_t id;
	uint64_t offset;
	uint32_t length;
	uint16_t flags;
	uint8_t op;
	bool busy;
	bool pending; /* being checked by bulk_bs_client_submit() */
	bool token; /* the library's buffer, not the caller's */
	/* Copies (section 10 of docs/blockservice.md): a READ that allowed
	 * one completes once both its pass (COPY flag) and its copy are in. */
	bool copy_ok;		  /* sent with BS_WIRE_F_COPY_OK */
	bool passed;		  /* its pass said COPY; the copy is still to come */
	struct bulk_buffer *copy; /* arrived on the copy channel */
};

/* Pools a server may assign on the copy channel. */
#define BS_COPY_POOLS	8u
/* Slot bits of a request id (the rest counts): a copy finds its request. */
#define BS_ID_SLOT_BITS 24u

/*
 * A pool requests travel in: the client's own (pools[0]), or one added
 * with bulk_bs_client_pool_add() (a proxy's view of its user's pool).
 * Requests are found from their buffer: pool, then index.
 */
struct bs_cpool {
	struct bulk_pool *pool;
	struct bs_cslot *slots; /* one per buffer */
	uint32_t count;
	uint32_t buf_size;
	/* An added pool's assignment, one answer per data channel. */
	bulk_bs_pool_fn done;
	void *arg;
	unsigned answered;
	int err;      /* the first refusal */
	bool ready;   /* every channel accepted: requests go */
	bool refused; /* some channel refused: requests fail with err */
	/* Requests submitted before the answer: slot indices, in order. */
	uint32_t *parked;
	uint32_t nparked;
};

/* Buffers waiting for room in a channel's queue, in order, with their meta. */
struct bs_cq {
	struct bulk_buffer **bufs;
	uint32_t *lens;
	uint8_t *meta;
	uint32_t mask;
	uint32_t head, tail;
};

struct bs_cchan {
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	int fd;
	bool assigned;
	int assign_err;
	bool assign_done;
	bool destroyed;
	bool closed; /* teardown_received */
	int close_reason;
	struct bs_cq q;
	char addr[BULK_ADDR_STRLEN];
};

struct bulk_bs_client {
	struct bulk_domain *dom;
	enum bulk_bs_poll_mode poll_mode;
	uint32_t timeout_ms;
	int (*poll_hook)(void *);
	void *poll_hook_arg;

	struct bs_sock sock;
	struct bs_idle idle;
	int sock_tag; /* its address tags the socket's epoll entry */
	struct bulk_bs_info info;

	struct bs_cchan chans[BULK_BS_MAX_CHANNELS];
	unsigned nchans;
	/* The copy channel (we are its sink), when the server agreed. */
	bool want_copies; /* asked in HELLO */
	bool copies;	  /* INFO said yes: cchan exists */
	struct bs_cchan cchan;
	struct bulk_pool *cpools[BS_COPY_POOLS];
	unsigned ncpools;
	unsigned copies_held; /* delivered to the application, not put back */
	/* Copies to release that the channel's queue did not take yet. */
	struct bulk_buffer **rel;
	unsigned nrel, relcap;
	unsigned rr; /* next channel to carry a request */

	struct bulk_pool *pool; /* our own: pools[0] */
	uint32_t nbufs;
	uint32_t buf_size;
	struct bs_cpool **pools;
	unsigned npools;
	struct bs_cpool *last; /* the pool of the last buffer looked up */
	uint32_t qbufs;	       /* buffers of every pool: what a queue must hold */
	uint64_t next_id;
	unsigned inflight;

	bool ready;	/* set up: requests may go */
	bool shutting;	/* the server said SHUTDOWN */
	bool bye_sent;	/* we said DISCONNECT */
	bool gone;	/* the server or a channel is gone */
	bool in_close;
	struct bulk_bs_stats st;
};

/* submit.c */
extern const struct bulk_channel_callbacks bs_client_callbacks;
int bs_cq_init(struct bs_cq *q, uint32_t n);
void bs_cq_fini(struct bs_cq *q);
/* A pool record for @p pool (its slots), or NULL (no memory). */
struct bs_cpool *bs_cpool_new(struct bulk_pool *pool);
void bs_cpool_free(struct bs_cpool *cp);
/* The record of the pool @p b belongs to, or NULL. */
struct bs_cpool *bs_cpool_of(struct bulk_bs_client *c, const struct bulk_buffer *b);
/* One round: hook, channels, queues, socket; sleeping if @p sleep_ms > 0. */
int bs_client_round(struct bulk_bs_client *c, int sleep_ms);
/* Fail every request in flight with @p status (the channels are closed). */
void bs_client_fail_all(struct bulk_bs_client *c, int status);
/* Say goodbye and start tearing the channels down. */
void bs_client_goodbye(struct bulk_bs_client *c);
extern const struct bulk_channel_callbacks bs_client_copy_callbacks;
/* Give back every copy we hold (closing): the application's ones too. */
void bs_client_copies_drop(struct bulk_bs_client *c);
/* Release what waits to be released. @return copies released. */
int bs_client_rel_flush(struct bulk_bs_client *c);

#endif /* BS_CLIENT_H */
