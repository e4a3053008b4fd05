/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * nbs's NBD front end: the store (store.h) served to unmodified NBD
 * clients (qemu, nbdinfo, nbdcopy, fio's nbd engine, the kernel) over
 * Unix and TCP sockets, with lib/nbd speaking the protocol. It runs in
 * nbs's one thread: its sockets sit in an epoll fd of its own that the
 * block service server watches (bulk_bs_server_watch_fd()), and
 * nbs_nbd_poll() runs from the server's poll hook.
 */
#ifndef NBS_NBD_FRONT_H
#define NBS_NBD_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bulk_bs_server;
struct nbs_store;
struct nbs_nbd;

/* Most --nbd addresses (plus as many socket-activated fds). */
#define NBS_NBD_MAX_LISTEN 8

/* What the front end serves; zero means default where noted. */
struct nbs_nbd_params {
	struct nbs_store *store;
	struct bulk_bs_server *srv; /* its epoll fd is watched by this server */
	const char *export_name;    /* NULL: "" (any name is answered) */
	const char *const *addrs;   /* unix:PATH or tcp:HOST:PORT */
	unsigned naddrs;
	uint64_t size;		    /* bytes served (whole blocks of block_min) */
	uint32_t block_min, block_pref, block_max;
	unsigned max_conns;	    /* 0: 64 */
};

/**
 * Listen on every address, adopt the fds systemd passed (LISTEN_FDS and
 * LISTEN_PID: fds 3.. are NBD listeners), and start watching.
 * @return 0 and *out; -EINVAL (a bad address; *out stays NULL);
 *   -ENOMEM; a negative errno of socket(), bind(), listen(), epoll.
 *   @p err (if not NULL) gets a one-line reason.
 */
int nbs_nbd_open(const struct nbs_nbd_params *p, struct nbs_nbd **out, char *err,
		 size_t err_len);

/** @return the number of listeners (0 for NULL). */
unsigned nbs_nbd_listeners(const struct nbs_nbd *n);

/**
 * Write the listeners' URIs (nbd://HOST:PORT[/NAME],
 * nbd+unix:///[NAME]?socket=PATH), separated by blanks.
 * @return the length written (truncated to @p len - 1).
 */
size_t nbs_nbd_uris(const struct nbs_nbd *n, char *buf, size_t len);

/**
 * The server's poll hook part: accept, read requests, submit them, poll
 * the store for their completions, send replies.
 * @return work items handled (>= 0).
 */
int nbs_nbd_poll(struct nbs_nbd *n);

/** Whether a transfer is under way (nbd_serve_busy()): the loop spins for it. */
bool nbs_nbd_busy(const struct nbs_nbd *n);

/** @return connections open (0 for NULL). */
unsigned nbs_nbd_conns(const struct nbs_nbd *n);

/**
 * Stop listening, let the store finish what NBD clients have in flight,
 * send their replies where the sockets take them, close every
 * connection, print the totals and free everything. NULL is ignored.
 */
void nbs_nbd_close(struct nbs_nbd *n);

#endif /* NBS_NBD_FRONT_H */
