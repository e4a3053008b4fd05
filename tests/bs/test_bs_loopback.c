/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libbulk-bs end to end in one test: a server (forked child, with a store
 * in plain memory that completes requests in reverse order, in batches)
 * and a client (this process) over a unix control socket and an shm data
 * channel. Checks: INFO as configured; writes then reads of every block,
 * verified, with many requests in flight; FLUSH, TRIM, WRITE_ZEROES;
 * client-side checks refuse bad requests; the server answers bad requests
 * (sent raw) with the right error and keeps serving; statistics count
 * what happened and no payload byte was copied on the shm hop; pools
 * added to the client (bulk_bs_client_pool_add(), as nbs-proxy forwards
 * its users' pools): requests in them wait for the server's answer, go
 * once it accepted (data verified) and fail with its reason once it
 * refused (the server's pool_assigned hook); orderly close (conn_closing,
 * then conn_close); the server then shuts down cleanly with no request
 * left.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_bs.h>

#define BLOCK	  4096u
#define NBLOCKS	  256u
#define SIZE	  ((uint64_t)BLOCK * NBLOCKS)
#define BUFS	  32u
#define BATCH	  8u

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "test_bs_loopback[%d]: %s:%d: %s\n", (int)getpid(),    \
				__FILE__, __LINE__, #cond);                                \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

/* ------------------------------------------------------------ server */

static struct {
	uint8_t *mem;
	struct bulk_bs_request *held[BUFS * 4];
	unsigned nheld;
	unsigned closed;
	unsigned closing; /* conn_closing calls */
	unsigned pools;	  /* pools accepted by pool_assigned */
	uint64_t requests;
} srv;

/* Added pools of ADD_OK buffers are accepted, of ADD_NO refused. */
#define ADD_OK 4u
#define ADD_NO 3u

static int
store_do(struct bulk_bs_request *r)
{
	switch (r->op) {
	case BULK_BS_OP_READ:
		memcpy(r->data, srv.mem + r->offset, r->length);
		return 0;
	case BULK_BS_OP_WRITE:
		memcpy(srv.mem + r->offset, r->data, r->length);
		return 0;
	case BULK_BS_OP_TRIM:
	case BULK_BS_OP_WRITE_ZEROES:
		memset(srv.mem + r->offset, 0, r->length);
		return 0;
	case BULK_BS_OP_FLUSH:
		return 0;
	}
	return -EIO;
}

/* Complete what is held, newest first: the client must cope with any order. */
static void
release_held(void)
{
	while (srv.nheld > 0) {
		struct bulk_bs_request *r = srv.held[--srv.nheld];

		CHECK(bulk_bs_request_complete(r, store_do(r)) == 0);
	}
}

static void
on_request(void *arg, struct bulk_bs_request *r)
{
	(void)arg;
	srv.requests++;
	CHECK(srv.nheld < BUFS * 4);
	srv.held[srv.nheld++] = r;
	if (srv.nheld >= BATCH)
		release_held();
}

static void
on_close(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct bulk_bs_stats st;

	(void)arg;
	CHECK(bulk_bs_conn_stats_get(c, &st) == 0);
	printf("server: client %llu closed (%d): %llu requests, %llu invalid, %llu B written, "
	       "%llu B read, lib copies %llu, backend %s\n",
	       (unsigned long long)bulk_bs_conn_id(c), reason, (unsigned long long)st.requests,
	       (unsigned long long)st.invalid, (unsigned long long)st.write_bytes,
	       (unsigned long long)st.read_bytes, (unsigned long long)st.chan.lib_copy_bytes,
	       st.backend);
	CHECK(reason == 0);
	CHECK(st.inflight == 0);
	CHECK(st.chan.lib_copy_bytes == 0 && st.chan.trust_copy_bytes == 0);
	CHECK(strcmp(st.backend, "shm") == 0);
	srv.closed++;
}

static int
on_pool(void *arg, struct bulk_bs_conn *c, struct bulk_pool *pool)
{
	(void)arg;
	(void)c;
	if (bulk_pool_buffer_count(pool) == ADD_NO)
		return -EPERM;
	srv.pools++;
	return 0;
}

static int
on_closing(void *arg, struct bulk_bs_conn *c, int reason)
{
	struct bulk_bs_stats st;

	(void)arg;
	(void)reason;
	/* Before the pools go: the channels still exist. */
	CHECK(bulk_bs_conn_channel(c, 0) != NULL);
	CHECK(bulk_bs_conn_stats_get(c, &st) == 0 && st.inflight == 0);
	/* Asked again at the next poll the first time: the server waits. */
	return srv.closing++ == 0 ? 1 : 0;
}

/* Asked only by an idle server with no client: those with channels spin. */
static struct {
	struct bulk_bs_server *s;
	unsigned calls;
} spin;

static int
on_spin(void *arg)
{
	CHECK(arg == &spin);
	CHECK(bulk_bs_server_conns(spin.s) == 0);
	spin.calls++;
	return 0;
}

static int
server(const char *ctl, int ready_fd)
{
	static const struct bulk_bs_server_ops ops = { .request = on_request,
						       .conn_close = on_close,
						       .pool_assigned = on_pool,
						       .conn_closing = on_closing };
	struct bulk_bs_server_params p = {
		.ops = &ops,
		.export_name = "test",
		.info = { .size = SIZE, .block_min = BLOCK, .block_max = 64 * 1024,
			  .flags = BULK_BS_FLAG_FLUSH | BULK_BS_FLAG_TRIM | BULK_BS_FLAG_FUA |
				   BULK_BS_FLAG_WRITE_ZEROES },
		.spin_hook = on_spin,
		.poll_hook_arg = &spin,
	};
	struct bulk_bs_server_stats ss;
	struct bulk_bs_server *s;
	struct bulk_domain *d;

	srv.mem = calloc(1, SIZE);
	CHECK(srv.mem != NULL);
	CHECK(bulk_domain_create("server", &d) == 0);
	p.dom = d;
	CHECK(bulk_bs_server_create(&p, &s) == 0);
	spin.s = s;
	CHECK(bulk_bs_server_poll(s, 0) == 0 && spin.calls == 1);
	CHECK(bulk_bs_server_listen(s, ctl) == 0);
	CHECK(write(ready_fd, "r", 1) == 1);
	close(ready_fd);
	while (srv.closed == 0) {
		/* Idle: what is held goes (so that a lone request completes). */
		if (bulk_bs_server_poll(s, 20) == 0)
			release_held();
	}
	CHECK(bulk_bs_server_shutdown(s) == 0);
	while (bulk_bs_server_conns(s) > 0)
		(void)bulk_bs_server_poll(s, 10);
	CHECK(bulk_bs_server_stats_get(s, &ss) == 0);
	printf("server: accepted %llu, served %llu, closed %llu, died %llu, live %llu\n",
	       (unsigned long long)ss.accepted, (unsigned long long)ss.served,
	       (unsigned long long)ss.closed, (unsigned long long)ss.died,
	       (unsigned long long)ss.requests_live);
	CHECK(ss.requests_live == 0 && ss.pools_leaked == 0 && ss.died == 0);
	/* The client's own pool and the one added pool that was accepted. */
	CHECK(srv.pools == 2 && srv.closing == 2);
	CHECK(bulk_bs_server_free(s) == 0);
	CHECK(bulk_domain_destroy(d) == 0);
	free(srv.mem);
	return 0;
}

/* ------------------------------------------------------------ client */

struct done_rec {
	int status;
	int fired;
	struct bulk_buffer *buf;
};

static void
on_done(void *arg, int status, struct bulk_buffer *buf)
{
	struct done_rec *d = arg;

	d->status = status;
	d->fired++;
	d->buf = buf;
}

static void
fill(uint8_t *p, uint32_t block, uint32_t gen)
{
	for (uint32_t i = 0; i < BLOCK; i += 4) {
		uint32_t v = block * 2654435761u ^ gen ^ i;

		memcpy(p + i, &v, 4);
	}
}

static int
check(const uint8_t *p, uint32_t block, uint32_t gen)
{
	uint8_t want[BLOCK];

	fill(want, block, gen);
	return memcmp(p, want, BLOCK) == 0;
}

static void
wait_all(struct bulk_bs_client *c)
{
	while (bulk_bs_client_inflight(c) > 0)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
}

/* One request, sent raw (no client-side checks), waited for. */
static int
raw_one(struct bulk_bs_client *c, uint16_t op, uint16_t flags, uint64_t off, uint32_t len)
{
	struct done_rec d = { 0 };
	struct bulk_bs_io io = { .op = op, .flags = flags, .offset = off, .length = len,
				 .done = on_done, .arg = &d };

	if (op == BULK_BS_OP_READ || op == BULK_BS_OP_WRITE) {
		io.buf = bulk_bs_client_buffer_get(c);
		CHECK(io.buf != NULL);
	}
	CHECK(bulk_bs_client_submit_raw(c, &io, 1) == 1);
	wait_all(c);
	CHECK(d.fired == 1);
	if (io.buf != NULL) {
		CHECK(d.buf == io.buf);
		CHECK(bulk_bs_client_buffer_put(c, d.buf) == 0);
	}
	return d.status;
}

static void
on_pool_done(void *arg, int status, struct bulk_pool *pool)
{
	struct done_rec *d = arg;

	(void)pool;
	d->status = status;
	d->fired++;
}

/*
 * A pool of this domain added to the client: a write and a read in its
 * buffers, submitted before the server answered, wait for the answer and
 * then go (accepted) or fail with the server's reason (refused).
 */
static void
added_pool(struct bulk_bs_client *c, struct bulk_domain *d, uint32_t count, bool accept)
{
	struct bulk_pool_params pp = { .count = count, .buffer_size = BLOCK, .mem = BULK_MEM_MEMFD };
	struct done_rec pd = { 0 }, w = { 0 }, r = { 0 };
	struct bulk_pool *pool;
	struct bulk_buffer *b0, *b1;

	CHECK(bulk_pool_alloc(d, &pp, &pool) == 0);
	CHECK(bulk_bs_client_pool_add(c, pool, on_pool_done, &pd) == 0);
	CHECK(bulk_bs_client_pool_add(c, pool, on_pool_done, &pd) == -EEXIST);
	b0 = bulk_pool_get(pool);
	b1 = bulk_pool_get(pool);
	CHECK(b0 != NULL && b1 != NULL);
	fill(b0->addr, 9, 3);
	{
		struct bulk_bs_io io = { .op = BULK_BS_OP_WRITE, .offset = 9 * BLOCK,
					 .length = BLOCK, .buf = b0, .done = on_done, .arg = &w };

		CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
	}
	while (pd.fired == 0)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
	wait_all(c);
	CHECK(pd.fired == 1 && w.fired == 1);
	printf("client: added pool of %u: %s; its write: %s\n", count,
	       pd.status ? bulk_strerror(pd.status) : "accepted",
	       w.status ? bulk_strerror(w.status) : "done");
	if (accept) {
		struct bulk_bs_io io = { .op = BULK_BS_OP_READ, .offset = 9 * BLOCK,
					 .length = BLOCK, .buf = b1, .done = on_done, .arg = &r };

		CHECK(pd.status == 0 && w.status == 0 && w.buf == b0);
		CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
		wait_all(c);
		CHECK(r.fired == 1 && r.status == 0 && r.buf == b1 && check(b1->addr, 9, 3));
	} else {
		struct bulk_bs_io io = { .op = BULK_BS_OP_READ, .offset = 9 * BLOCK,
					 .length = BLOCK, .buf = b1, .done = on_done, .arg = &r };

		/* The write waited for the answer and failed with it. */
		CHECK(pd.status != 0 && w.status == pd.status && w.buf == b0);
		/* From now on refused at once, with the same reason. */
		CHECK(bulk_bs_client_submit(c, &io, 1) == pd.status);
	}
	(void)bulk_pool_put(b0);
	(void)bulk_pool_put(b1);
	/* Added pools stay until the client closes (freed after it). */
	CHECK(bulk_pool_free(pool) == -BULK_E_POOL_ASSIGNED || !accept);
}

static int
client(const char *ctl)
{
	char err[256] = "";
	struct bulk_bs_client_params p = { .server = ctl, .export_name = "test", .buffers = BUFS,
					   .err_msg = err, .err_len = sizeof(err) };
	struct done_rec recs[NBLOCKS];
	struct bulk_bs_client *c;
	struct bulk_domain *d;
	const struct bulk_bs_info *info;
	struct bulk_bs_stats st;
	uint32_t next = 0, done = 0;
	int rc;

	CHECK(bulk_domain_create("client", &d) == 0);
	p.dom = d;
	/* A wrong export name is refused with a reason. */
	p.export_name = "nope";
	rc = bulk_bs_client_connect(&p, &c);
	printf("client: export 'nope': %s (%s)\n", bulk_strerror(rc), err);
	CHECK(rc == -ENOENT && strstr(err, "no export") != NULL);
	p.export_name = "test";
	rc = bulk_bs_client_connect(&p, &c);
	if (rc < 0)
		fprintf(stderr, "client: connect: %s (%s)\n", bulk_strerror(rc), err);
	CHECK(rc == 0);
	info = bulk_bs_client_info(c);
	CHECK(info->size == SIZE && info->block_min == BLOCK && info->block_max == 64 * 1024);
	CHECK(bulk_bs_client_buffer_size(c) == 64 * 1024);

	/* Write every block, BUFS in flight at once, then read and verify. */
	for (int pass = 0; pass < 2; pass++) {
		memset(recs, 0, sizeof(recs));
		next = done = 0;
		while (done < NBLOCKS) {
			while (next < NBLOCKS) {
				struct bulk_buffer *b = bulk_bs_client_buffer_get(c);
				struct bulk_bs_io io = {
					.op = pass == 0 ? BULK_BS_OP_WRITE : BULK_BS_OP_READ,
					.offset = (uint64_t)next * BLOCK, .length = BLOCK, .buf = b,
					.done = on_done, .arg = &recs[next] };

				if (b == NULL)
					break;
				if (pass == 0)
					fill(b->addr, next, 7);
				CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
				next++;
			}
			CHECK(bulk_bs_client_poll(c, 10) >= 0);
			for (uint32_t i = 0; i < next; i++)
				if (recs[i].fired == 1 && recs[i].buf != NULL) {
					CHECK(recs[i].status == 0);
					if (pass == 1)
						CHECK(check(recs[i].buf->addr, i, 7));
					CHECK(bulk_bs_client_buffer_put(c, recs[i].buf) == 0);
					recs[i].buf = NULL;
					done++;
				}
		}
	}
	printf("client: %u blocks written and read back, verified\n", NBLOCKS);

	/* FLUSH, TRIM and WRITE_ZEROES (with FUA) carry no data. */
	CHECK(raw_one(c, BULK_BS_OP_FLUSH, 0, 0, 0) == 0);
	CHECK(raw_one(c, BULK_BS_OP_TRIM, 0, 0, BLOCK) == 0);
	CHECK(raw_one(c, BULK_BS_OP_WRITE_ZEROES, BULK_BS_CMD_FUA, BLOCK, BLOCK) == 0);

	/* The client refuses what breaks the rules, before sending. */
	{
		struct bulk_buffer *b = bulk_bs_client_buffer_get(c);
		struct bulk_bs_io io = { .op = BULK_BS_OP_READ, .offset = SIZE, .length = BLOCK,
					 .buf = b };

		CHECK(bulk_bs_client_submit(c, &io, 1) == -ENOSPC);
		io.offset = 1;
		CHECK(bulk_bs_client_submit(c, &io, 1) == -EINVAL);
		io.offset = 0;
		io.op = 99;
		CHECK(bulk_bs_client_submit(c, &io, 1) == -EINVAL);
		io.op = BULK_BS_OP_READ;
		io.flags = 0x8000;
		CHECK(bulk_bs_client_submit(c, &io, 1) == -EINVAL);
		CHECK(bulk_bs_client_buffer_put(c, b) == 0);
	}

	/* The server refuses the same when they are sent anyway, and lives on. */
	CHECK(raw_one(c, BULK_BS_OP_READ, 0, SIZE, BLOCK) == -ENOSPC);
	CHECK(raw_one(c, BULK_BS_OP_READ, 0, UINT64_MAX - BLOCK + 1, BLOCK) == -ENOSPC);
	CHECK(raw_one(c, BULK_BS_OP_WRITE, 0, SIZE - BLOCK, 2 * BLOCK) == -ENOSPC);
	CHECK(raw_one(c, BULK_BS_OP_READ, 0, 512, BLOCK) == -EINVAL);
	CHECK(raw_one(c, BULK_BS_OP_READ, 0, 0, 0) == -EINVAL);
	CHECK(raw_one(c, BULK_BS_OP_READ, 0, 0, 128 * 1024) == -EOVERFLOW);
	CHECK(raw_one(c, 0, 0, 0, BLOCK) == -EINVAL);
	CHECK(raw_one(c, 77, 0, 0, BLOCK) == -EINVAL);
	CHECK(raw_one(c, BULK_BS_OP_READ, 0x40, 0, BLOCK) == -EINVAL);
	CHECK(raw_one(c, BULK_BS_OP_READ, BULK_BS_CMD_FUA, 0, BLOCK) == -EINVAL);
	CHECK(raw_one(c, BULK_BS_OP_FLUSH, 0, 0, BLOCK) == -EINVAL);
	printf("client: 11 bad requests answered with their errors\n");

	/* Still serving: block 2 reads back as written. */
	{
		struct done_rec r = { 0 };
		struct bulk_bs_io io = { .op = BULK_BS_OP_READ, .offset = 2 * BLOCK, .length = BLOCK,
					 .buf = bulk_bs_client_buffer_get(c), .done = on_done,
					 .arg = &r };

		CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
		wait_all(c);
		CHECK(r.status == 0 && check(r.buf->addr, 2, 7));
		CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
		/* Zeroed block 1 reads as zeros. */
		memset(&r, 0, sizeof(r));
		io.offset = BLOCK;
		io.buf = bulk_bs_client_buffer_get(c);
		CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
		wait_all(c);
		CHECK(r.status == 0);
		for (uint32_t i = 0; i < BLOCK; i++)
			CHECK(((uint8_t *)r.buf->addr)[i] == 0);
		CHECK(bulk_bs_client_buffer_put(c, r.buf) == 0);
	}

	/* Pools of the domain beyond the client's own. */
	added_pool(c, d, ADD_OK, true);
	added_pool(c, d, ADD_NO, false);

	CHECK(bulk_bs_client_stats_get(c, &st) == 0);
	printf("client: %llu requests, %llu errors, %llu B written, %llu B read, "
	       "moved %llu, lib copies %llu\n",
	       (unsigned long long)st.requests, (unsigned long long)st.errors,
	       (unsigned long long)st.write_bytes, (unsigned long long)st.read_bytes,
	       (unsigned long long)st.chan.moves_tx, (unsigned long long)st.chan.lib_copy_bytes);
	/* The 11 bad requests and the write in the refused pool. */
	CHECK(st.errors == 12 && st.protocol_errors == 0);
	CHECK(st.chan.lib_copy_bytes == 0 && st.chan.trust_copy_bytes == 0);
	CHECK(st.write_bytes == (uint64_t)(NBLOCKS + 1) * BLOCK);
	CHECK(bulk_bs_client_close(c) == 0);
	/* The domain frees the added pools (on no channel any more). */
	CHECK(bulk_domain_destroy(d) == 0);
	printf("client: closed\n");
	return 0;
}

int
main(void)
{
	char ctl[108];
	int pfd[2], st;
	char x;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(ctl, sizeof(ctl), "unix:@bs-loopback-%d", (int)getpid());
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
	if (client(ctl) != 0) {
		kill(pid, SIGKILL);
		return 1;
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("PASS\n");
	return 0;
}
