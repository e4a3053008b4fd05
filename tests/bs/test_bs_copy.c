/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The copy channel of libbulk-bs (docs/blockservice.md, section 10): a
 * server (forked child) that answers READs with read-only copies of
 * buffers of its own pool, and clients (this process) over shm.
 *
 * Checks: the client that offers a copy channel gets READs as copies, the
 * data right; a copy is mapped read-only here for real (/proc/self/maps
 * says r--s, a write from a forked child dies of SIGSEGV) and not at all
 * once put back (---s); many READs in flight, verified, every copy
 * released; a hostile server's copy for an unknown request and a second
 * copy for one request are given back and counted as protocol errors,
 * and the requests still complete with the right data; a client that did
 * not offer a copy channel never gets a copy (the server is told
 * -ENOTSUP and answers in its buffer); a client that dies holding a copy:
 * the core gives the copy back to the server (the buffer is READ_WRITE
 * again, reusable). The server ends with every buffer of its pool home.
 *
 * White box: the hostile copies are sent on the connection's copy channel
 * directly (bs_internal.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_bs.h>

#include "bs_internal.h"

#define BLOCK	    4096u
#define NBLOCKS	    64u
#define SIZE	    ((uint64_t)BLOCK * NBLOCKS)
#define CBUFS	    32u
/* READs of these blocks make the server misbehave (after a good copy). */
#define BLK_UNKNOWN 40u
#define BLK_DUP	    41u
/* A READ of this block by a client without a copy channel gets a reply
 * that says COPY: it must fail with -EPROTO, not hang or crash. */
#define BLK_FLAG    42u

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "test_bs_copy[%d]: %s:%d: %s\n", (int)getpid(), __FILE__, \
				__LINE__, #cond);                                                 \
			exit(1);                                                                  \
		}                                                                                 \
	} while (0)

/* ------------------------------------------------------------ server */

static struct {
	uint8_t *mem;
	struct bulk_pool *pool;
	struct bulk_buffer *out[CBUFS]; /* copied out, back to the free list once home */
	unsigned nout;
	unsigned closed, copy_conns, enotsup, copies, hostile;
} srv;

static void
reap(void)
{
	for (unsigned i = 0; i < srv.nout;) {
		struct bulk_buffer *b = srv.out[i];

		if (b->state == BULK_BUFFER_READ_WRITE && b->copies_out == 0) {
			CHECK(bulk_pool_put(b) == 0);
			srv.out[i] = srv.out[--srv.nout];
		} else {
			i++;
		}
	}
}

/* A copy the client never asked for, of buffer @p b, with @p id. */
static void
raw_copy(struct bulk_bs_request *req, uint64_t id)
{
	struct bulk_buffer *b = bulk_pool_get(srv.pool);
	uint8_t meta[BS_WIRE_META_SIZE];

	CHECK(b != NULL);
	memset(b->addr, 0xee, BLOCK);
	bs_wire_meta_encode(&(struct bs_meta){ .op = BULK_BS_OP_READ,
					       .reply = 1,
					       .flags = BS_WIRE_F_COPY,
					       .length = req->length,
					       .id = id,
					       .offset = req->offset },
			    meta);
	CHECK(bulk_channel_copy(req->conn->cchan.ch, b, req->length, meta, BULK_CONT_NONE) == 0);
	srv.out[srv.nout++] = b;
	srv.hostile++;
}

static void
on_request(void *arg, struct bulk_bs_request *r)
{
	struct bulk_buffer *b;
	int rc;

	(void)arg;
	reap();
	if (r->op == BULK_BS_OP_WRITE) {
		memcpy(srv.mem + r->offset, r->data, r->length);
		CHECK(bulk_bs_request_complete(r, 0) == 0);
		return;
	}
	CHECK(r->op == BULK_BS_OP_READ);
	if (r->offset == (uint64_t)BLK_UNKNOWN * BLOCK && bulk_bs_conn_copies(r->conn))
		raw_copy(r, r->id ^ (1ull << 40));
	b = bulk_pool_get(srv.pool);
	CHECK(b != NULL);
	memcpy(b->addr, srv.mem + r->offset, r->length);
	rc = bulk_bs_request_complete_copy(r, b);
	if (rc == 0) {
		srv.out[srv.nout++] = b;
		srv.copies++;
		if (r->offset == (uint64_t)BLK_DUP * BLOCK)
			raw_copy(r, r->id);
		return;
	}
	/* No copy channel: the application is told, and answers in the buffer. */
	CHECK(rc == -ENOTSUP);
	srv.enotsup++;
	CHECK(bulk_pool_put(b) == 0);
	memcpy(r->data, srv.mem + r->offset, r->length);
	if (r->offset == (uint64_t)BLK_FLAG * BLOCK) {
		/* A lying reply: COPY set, no copy channel (white box). */
		((struct bs_sreq *)(void *)r)->copied = true;
		srv.hostile++;
	}
	CHECK(bulk_bs_request_complete(r, 0) == 0);
}

static int
on_open(void *arg, struct bulk_bs_conn *c)
{
	(void)arg;
	if (bulk_bs_conn_copies(c)) {
		CHECK(bulk_bs_conn_copy_pool_add(c, srv.pool) == 0);
		srv.copy_conns++;
	} else {
		CHECK(bulk_bs_conn_copy_pool_add(c, srv.pool) == -ENOTSUP);
	}
	return 0;
}

static void
on_close(void *arg, struct bulk_bs_conn *c, int reason)
{
	(void)arg;
	(void)c;
	(void)reason;
	srv.closed++;
}

static int
server(const char *ctl, int ready_fd)
{
	static const struct bulk_bs_server_ops ops = { .request = on_request,
						       .conn_open = on_open,
						       .conn_close = on_close };
	struct bulk_bs_server_params p = {
		.ops = &ops,
		.info = { .size = SIZE, .block_min = BLOCK, .block_max = BLOCK },
		.copies = 1,
	};
	struct bulk_pool_params pp = { .count = CBUFS,
				       .buffer_size = BLOCK,
				       .align = 4096,
				       .trust = BULK_TRUST_HALF,
				       .mem = BULK_MEM_MEMFD };
	struct bulk_bs_server_stats ss;
	struct bulk_bs_server *s;
	struct bulk_domain *d;

	srv.mem = calloc(1, SIZE);
	CHECK(srv.mem != NULL);
	CHECK(bulk_domain_create("server", &d) == 0);
	CHECK(bulk_pool_alloc(d, &pp, &srv.pool) == 0);
	p.dom = d;
	CHECK(bulk_bs_server_create(&p, &s) == 0);
	CHECK(bulk_bs_server_listen(s, ctl) == 0);
	CHECK(write(ready_fd, "r", 1) == 1);
	close(ready_fd);
	/* Three clients: with copies, without, and one that dies. */
	while (srv.closed < 3) {
		(void)bulk_bs_server_poll(s, 20);
		reap();
	}
	CHECK(bulk_bs_server_shutdown(s) == 0);
	while (bulk_bs_server_conns(s) > 0)
		(void)bulk_bs_server_poll(s, 10);
	reap();
	CHECK(bulk_bs_server_stats_get(s, &ss) == 0);
	printf("server: copies %u, hostile %u, enotsup %u, died %llu, buffers home %u/%u\n",
	       srv.copies, srv.hostile, srv.enotsup, (unsigned long long)ss.died,
	       bulk_pool_free_count(srv.pool), CBUFS);
	CHECK(srv.copy_conns == 2 && srv.enotsup > 0 && srv.hostile == 3 && ss.died == 1);
	CHECK(ss.requests_live == 0 && ss.pools_leaked == 0);
	/* Every copy came home: released, or given back when its holder died. */
	CHECK(srv.nout == 0 && bulk_pool_free_count(srv.pool) == CBUFS);
	CHECK(bulk_bs_server_free(s) == 0);
	CHECK(bulk_pool_free(srv.pool) == 0);
	CHECK(bulk_domain_destroy(d) == 0);
	free(srv.mem);
	return 0;
}

/* ------------------------------------------------------------ client */

struct io_rec {
	bool done;
	int status;
	uint64_t block;
	struct bulk_buffer *buf;
};

static void
on_done(void *arg, int status, struct bulk_buffer *buf)
{
	struct io_rec *r = arg;

	r->done = true;
	r->status = status;
	r->buf = buf;
}

static void
fill(void *p, uint64_t block)
{
	uint64_t *w = p;

	for (unsigned i = 0; i < BLOCK / 8; i++)
		w[i] = block * 0x9e3779b97f4a7c15ull + i;
}

static bool
check(const void *p, uint64_t block)
{
	const uint64_t *w = p;

	for (unsigned i = 0; i < BLOCK / 8; i++)
		if (w[i] != block * 0x9e3779b97f4a7c15ull + i)
			return false;
	return true;
}

static struct bulk_bs_client *
connect_to(const char *ctl, struct bulk_domain *d, bool copies)
{
	char err[256] = "";
	struct bulk_bs_client_params p = { .dom = d,
					   .server = ctl,
					   .buffers = 16,
					   .buffer_size = BLOCK,
					   .copies = copies,
					   .err_msg = err,
					   .err_len = sizeof(err) };
	struct bulk_bs_client *c;
	int rc = bulk_bs_client_connect(&p, &c);

	if (rc < 0)
		fprintf(stderr, "connect: %s\n", err);
	CHECK(rc == 0);
	CHECK(bulk_bs_client_copies(c) == (int)copies);
	return c;
}

static void
io_sync(struct bulk_bs_client *c, uint16_t op, uint64_t block, struct io_rec *r)
{
	struct bulk_buffer *b = bulk_bs_client_buffer_get(c);
	struct bulk_bs_io io = { .op = op,
				 .length = BLOCK,
				 .offset = block * BLOCK,
				 .buf = b,
				 .done = on_done,
				 .arg = r };

	CHECK(b != NULL);
	memset(r, 0, sizeof(*r));
	r->block = block;
	if (op == BULK_BS_OP_WRITE)
		fill(b->addr, block);
	CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
	while (!r->done)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
	CHECK(r->status == 0 && r->buf != NULL);
}

/* The permissions of the mapping that holds @p addr ("r--s", ...). */
static void
maps_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];

	CHECK(f != NULL);
	strcpy(perms, "none");
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 && (uintptr_t)addr >= lo &&
		    (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
}

/* A forked child writes the copy: the kernel must stop it. */
static void
write_faults(void *addr)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		*(volatile uint8_t *)addr = 1;
		_exit(0); /* the write went through: read-only it was not */
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
}

static void
with_copies(const char *ctl, struct bulk_domain *d)
{
	struct bulk_bs_client *c = connect_to(ctl, d, true);
	struct io_rec recs[8], r;
	struct bulk_bs_stats st;
	char perms[5];
	unsigned submitted = 0, completed = 0;
	bool busy[8] = { false };

	for (uint64_t b = 0; b < 16; b++) {
		io_sync(c, BULK_BS_OP_WRITE, b, &r);
		CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	}
	for (uint64_t b = BLK_UNKNOWN; b <= BLK_DUP; b++) {
		io_sync(c, BULK_BS_OP_WRITE, b, &r);
		CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	}
	/* A READ comes as a copy, read-only for real. */
	io_sync(c, BULK_BS_OP_READ, 3, &r);
	CHECK(r.buf->state == BULK_BUFFER_READ_ONLY && r.buf->pool != NULL);
	CHECK(check(r.buf->addr, 3));
	CHECK(bulk_bs_client_copies_held(c) == 1);
	maps_perms(r.buf->addr, perms);
	printf("client: copy at %p mapped %s\n", r.buf->addr, perms);
	CHECK(perms[0] == 'r' && perms[1] == '-');
	write_faults(r.buf->addr);
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == -EINVAL); /* not ours twice */
	CHECK(bulk_bs_client_copies_held(c) == 0);
	maps_perms(r.buf->addr, perms);
	CHECK(perms[0] == '-' && perms[1] == '-');

	/* Eight in flight at a time, 400 READs, verified and given back. */
	while (completed < 400) {
		for (unsigned k = 0; k < 8 && submitted < 400; k++) {
			struct bulk_bs_io io;

			if (busy[k])
				continue;
			memset(&recs[k], 0, sizeof(recs[k]));
			recs[k].block = (submitted * 7) % 16;
			io = (struct bulk_bs_io){ .op = BULK_BS_OP_READ,
						  .length = BLOCK,
						  .offset = recs[k].block * BLOCK,
						  .buf = bulk_bs_client_buffer_get(c),
						  .done = on_done,
						  .arg = &recs[k] };
			CHECK(io.buf != NULL);
			CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
			busy[k] = true;
			submitted++;
		}
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
		for (unsigned k = 0; k < 8; k++)
			if (busy[k] && recs[k].done) {
				CHECK(recs[k].status == 0 && recs[k].buf != NULL);
				CHECK(recs[k].buf->state == BULK_BUFFER_READ_ONLY);
				CHECK(check(recs[k].buf->addr, recs[k].block));
				CHECK(bulk_bs_client_buffer_put(c, recs[k].buf) == 0);
				busy[k] = false;
				completed++;
			}
	}
	CHECK(bulk_bs_client_copies_held(c) == 0);

	/* A hostile server: a copy for a request nobody made, and a second
	 * copy for one request. Both go back; the READs complete right. */
	io_sync(c, BULK_BS_OP_READ, BLK_UNKNOWN, &r);
	CHECK(check(r.buf->addr, BLK_UNKNOWN));
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	io_sync(c, BULK_BS_OP_READ, BLK_DUP, &r);
	CHECK(check(r.buf->addr, BLK_DUP));
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	/* The duplicate may arrive after its request completed: poll a bit. */
	for (int i = 0; i < 20; i++)
		(void)bulk_bs_client_poll(c, 5);
	CHECK(bulk_bs_client_stats_get(c, &st) == 0);
	printf("client: copy_reads %llu, released %llu, protocol_errors %llu\n",
	       (unsigned long long)st.copy_reads, (unsigned long long)st.copies_released,
	       (unsigned long long)st.protocol_errors);
	CHECK(st.protocol_errors == 2 && st.copy_reads == 403);
	CHECK(st.copies_released == 405);
	CHECK(bulk_bs_client_close(c) == 0);
}

static void
without_copies(const char *ctl, struct bulk_domain *d)
{
	struct bulk_bs_client *c = connect_to(ctl, d, false);
	struct io_rec r;

	struct bulk_bs_stats st;
	struct bulk_bs_io io;

	io_sync(c, BULK_BS_OP_READ, 5, &r);
	CHECK(r.buf->state == BULK_BUFFER_READ_WRITE && check(r.buf->addr, 5));
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	/* A reply that claims a copy where none was allowed: -EPROTO, and the
	 * request's own buffer comes back. */
	memset(&r, 0, sizeof(r));
	io = (struct bulk_bs_io){ .op = BULK_BS_OP_READ,
				  .length = BLOCK,
				  .offset = (uint64_t)BLK_FLAG * BLOCK,
				  .buf = bulk_bs_client_buffer_get(c),
				  .done = on_done,
				  .arg = &r };
	CHECK(io.buf != NULL);
	CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
	while (!r.done)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
	CHECK(r.status == -EPROTO && r.buf == io.buf);
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	CHECK(bulk_bs_client_stats_get(c, &st) == 0 && st.protocol_errors == 1);
	/* The connection lives on. */
	io_sync(c, BULK_BS_OP_READ, 6, &r);
	CHECK(check(r.buf->addr, 6));
	CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	CHECK(bulk_bs_client_close(c) == 0);
}

/* A client that dies holding a copy (no close, no goodbye). */
static void
dies_holding(const char *ctl)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0);
	if (pid == 0) {
		struct bulk_domain *d;
		struct bulk_bs_client *c;
		struct io_rec r;

		CHECK(bulk_domain_create("dying", &d) == 0);
		c = connect_to(ctl, d, true);
		io_sync(c, BULK_BS_OP_READ, 7, &r);
		CHECK(r.buf->state == BULK_BUFFER_READ_ONLY && check(r.buf->addr, 7));
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int
main(void)
{
	struct bulk_domain *d;
	char ctl[108];
	int pfd[2], st;
	char x;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(ctl, sizeof(ctl), "unix:@bs-copy-%d", (int)getpid());
	CHECK(pipe(pfd) == 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		alarm(60);
		exit(server(ctl, pfd[1]));
	}
	close(pfd[1]);
	alarm(60);
	CHECK(read(pfd[0], &x, 1) == 1);
	close(pfd[0]);
	CHECK(bulk_domain_create("client", &d) == 0);
	with_copies(ctl, d);
	without_copies(ctl, d);
	dies_holding(ctl);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(bulk_domain_destroy(d) == 0);
	printf("PASS\n");
	return 0;
}
