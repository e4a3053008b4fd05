/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Two processes over the shm backend, found by address: the server creates
 * a channel on "shm:@NAME", the client binds to the same address, assigns a
 * pool, moves a filled buffer, and gets it passed back with the server's
 * answer written into the very same memory. Nothing is copied: both
 * processes map the pool's memfd.
 *
 * Build against an installed libbulk:
 *   cc -std=c11 shm_pair.c $(pkg-config --cflags --libs libbulk) -o shm_pair
 * or in the tree: build/examples/shm_pair [NAME]
 *
 * A pool that is to cross a process boundary must be memory another process
 * can map: BULK_MEM_MEMFD. The client first tries an anonymous pool to show
 * the error libbulk gives for that.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>

#define NBUF 8
#define BUFSZ (64 * 1024)

#define CHECK(call)                                                                        \
	do {                                                                               \
		int rc_ = (call);                                                          \
		if (rc_ < 0) {                                                             \
			fprintf(stderr, "shm_pair[%d]: %s: %s\n", (int)getpid(), #call,    \
				bulk_strerror(rc_));                                       \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/*
 * Poll @p d until *@p flag is set, sleeping a little whenever a poll found
 * nothing to do (two programs share the machine's cores). 10 s at most.
 */
static void
poll_until(struct bulk_domain *d, const bool *flag)
{
	double end = now() + 10.0;

	while (!*flag) {
		int n = bulk_domain_poll(d, 0);

		CHECK(n);
		if (now() > end) {
			fprintf(stderr, "shm_pair[%d]: timed out\n", (int)getpid());
			exit(1);
		}
		if (n == 0)
			usleep(100);
	}
}

static void
fill(uint8_t *p, uint8_t seed)
{
	for (size_t i = 0; i < BUFSZ; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static bool
verify(const uint8_t *p, uint8_t seed)
{
	for (size_t i = 0; i < BUFSZ; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	CHECK(err);
	*(bool *)arg = true;
}

/* ------------------------------------------------------------ server */

static struct {
	struct bulk_buffer *got;
	bool moved, gone;
} srv;

static void
srv_move(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	 const void *meta, unsigned n)
{
	(void)ch;
	(void)meta;
	if (n != 1 || lens[0] != BUFSZ) {
		fprintf(stderr, "shm_pair: server: unexpected move\n");
		exit(1);
	}
	srv.got = bufs[0];
	srv.moved = true;
}

static void
srv_teardown(struct bulk_channel *ch, int reason)
{
	(void)ch;
	(void)reason;
	srv.gone = true;
}

static int
server(const struct bulk_addr *a)
{
	static const struct bulk_channel_callbacks cbs = {
		.move_received = srv_move,
		.teardown_received = srv_teardown,
	};
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX };
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	bool passed = false;

	CHECK(bulk_domain_create("server", &d));
	CHECK(bulk_addr_endpoint_create(d, a, &ep));
	CHECK(bulk_channel_create(ep, &cbs, &cp, &ch));
	printf("server: listening\n");
	fflush(stdout);

	/* The client binds, assigns its pool and moves a buffer. */
	poll_until(d, &srv.moved);
	if (!verify(srv.got->addr, 1)) {
		fprintf(stderr, "shm_pair: server: the data is not the client's\n");
		return 1;
	}
	printf("server: got buffer %" PRIu32 " (%d bytes), verified; answering in place\n",
	       srv.got->index, BUFSZ);
	fill(srv.got->addr, 2);
	CHECK(bulk_channel_pass(ch, srv.got, BUFSZ, NULL, (struct bulk_cont){ set_flag, &passed }));
	poll_until(d, &passed);

	/* The client tears the channel down when it has its answer. */
	poll_until(d, &srv.gone);
	while (bulk_channel_state(ch) != BULK_STATE_CLOSED)
		CHECK(bulk_domain_poll(d, 0));
	CHECK(bulk_channel_free(ch));
	CHECK(bulk_addr_endpoint_free(ep));
	/* The client's pool view goes with the channel: we hold nothing of it. */
	CHECK(bulk_domain_destroy(d));
	printf("server: done\n");
	return 0;
}

/* ------------------------------------------------------------ client */

static struct {
	struct bulk_buffer *back;
	bool passed;
} cli;

static void
cli_pass(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	 const void *meta, unsigned n)
{
	(void)ch;
	(void)lens;
	(void)meta;
	if (n != 1) {
		fprintf(stderr, "shm_pair: client: unexpected pass\n");
		exit(1);
	}
	cli.back = bufs[0];
	cli.passed = true;
}

static int
client(const struct bulk_addr *a)
{
	static const struct bulk_channel_callbacks cbs = { .buffer_received = cli_pass };
	struct bulk_pool_params anon = { .count = NBUF, .buffer_size = BUFSZ };
	struct bulk_pool_params shared = { .count = NBUF, .buffer_size = BUFSZ,
					   .mem = BULK_MEM_MEMFD };
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch = NULL;
	struct bulk_pool *p;
	struct bulk_buffer *b;
	bool bound = false, assigned = false, closed = false;
	double end = now() + 10.0;
	int rc;

	CHECK(bulk_domain_create("client", &d));
	/* The server may not listen yet: retry for a while. */
	for (;;) {
		rc = bulk_addr_endpoint_remote(d, a, &ep);
		if (rc == 0) {
			rc = bulk_channel_bind(d, ep, &cbs, NULL,
					       (struct bulk_cont){ set_flag, &bound }, &ch);
			if (rc == 0)
				break;
			CHECK(bulk_addr_endpoint_free(ep));
		}
		if (now() > end)
			CHECK(rc);
		usleep(10000);
	}
	poll_until(d, &bound);
	printf("client: bound (the server is the sink)\n");

	/* Anonymous memory cannot cross: libbulk says so, and what to use. */
	CHECK(bulk_pool_alloc(d, &anon, &p));
	rc = bulk_channel_assign_pool(ch, p, BULK_CONT_NONE);
	printf("client: an anonymous pool: %s\n", bulk_strerror(rc));
	if (rc != -BULK_E_POOL_NOT_SHAREABLE)
		return 1;
	CHECK(bulk_pool_free(p));

	CHECK(bulk_pool_alloc(d, &shared, &p));
	CHECK(bulk_channel_assign_pool(ch, p, (struct bulk_cont){ set_flag, &assigned }));
	poll_until(d, &assigned);
	b = bulk_pool_get(p);
	if (b == NULL)
		return 1;
	fill(b->addr, 1);
	CHECK(bulk_channel_move(ch, b, BUFSZ, NULL, BULK_CONT_NONE));
	poll_until(d, &cli.passed);
	if (cli.back != b || !verify(b->addr, 2)) {
		fprintf(stderr, "shm_pair: client: the answer is not in our buffer\n");
		return 1;
	}
	printf("client: buffer %" PRIu32 " came back with the server's answer, verified\n",
	       b->index);

	CHECK(bulk_pool_put(b));
	CHECK(bulk_channel_destroy(ch, (struct bulk_cont){ set_flag, &closed }));
	poll_until(d, &closed);
	CHECK(bulk_channel_free(ch));
	CHECK(bulk_addr_endpoint_free(ep));
	CHECK(bulk_pool_free(p));
	CHECK(bulk_domain_destroy(d));
	printf("client: done\n");
	return 0;
}

int
main(int argc, char **argv)
{
	char text[BULK_ADDR_STRLEN];
	struct bulk_addr a;
	pid_t pid;
	int st, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		snprintf(text, sizeof(text), "shm:@%s", argv[1]);
	else
		snprintf(text, sizeof(text), "shm:@bulk-shm-pair-%d", (int)getpid());
	CHECK(bulk_addr_parse(text, &a));
	printf("address: %s\n", text);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		exit(client(&a));
	rc = server(&a);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "shm_pair: the client failed\n");
		return 1;
	}
	return rc;
}
