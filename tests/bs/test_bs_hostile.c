/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed and hostile input at a running nbs (bs_hostile.sh starts it
 * and judges it afterwards): a raw client that speaks the native protocol
 * badly on purpose, on the control connection and on a data channel of
 * its own making. Every case must end in an error reply or a closed
 * connection, never a crash, and a well-behaved client must be served
 * after each group of cases.
 *
 *   test_bs_hostile unix:@NAME
 *
 * Control: garbage, a wrong magic, version, type or length, a body that
 * does not match its header, messages out of order, a duplicate hello,
 * channel addresses that do not parse or where nobody listens, a data
 * channel of the wrong meta size or direction, connections that stop in
 * the middle of a message and stay open, and many idle connections.
 * Data: meta that is not the protocol's, a reply sent as a request,
 * unknown ops and flags, ranges past the end or overflowing, a write
 * whose payload is not its length, a length beyond the buffer, a copy
 * instead of a move, and buffers the client does not own (libbulk refuses
 * them before they leave).
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>
#include <bulk/bulk_alloc.h>
#include <bulk/bulk_bs.h>

#include "bs_wire.h"

static const char *ctl;
static int cases;

#define CHECK(cond)                                                                        \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "test_bs_hostile: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

/* ------------------------------------------------------------- sockets */

static int
raw_connect(void)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	const char *name = ctl + 5; /* unix: */
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0 && strncmp(ctl, "unix:@", 6) == 0 && n < sizeof(un.sun_path));
	memcpy(un.sun_path, name, n);
	un.sun_path[0] = '\0';
	CHECK(connect(fd, (struct sockaddr *)&un, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == 0);
	return fd;
}

static void
send_all(int fd, const void *p, size_t n)
{
	CHECK(send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n);
}

static void
send_msg(int fd, const struct bs_ctrl_msg *m)
{
	uint8_t buf[BS_WIRE_MSG_MAX];
	int n = bs_wire_ctrl_encode(m, buf, sizeof(buf));

	CHECK(n > 0);
	send_all(fd, buf, (size_t)n);
}

/*
 * Read until the server closes: @return the first message it sent (type,
 * or 0 for none / unparsable). Fails the test if it does not close in 10 s.
 */
static int
expect_close(int fd, struct bs_ctrl_msg *first)
{
	uint8_t buf[8192];
	size_t len = 0;
	int type = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		CHECK(poll(&pfd, 1, 10000) == 1);
		n = recv(fd, buf + len, sizeof(buf) - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		CHECK(len < sizeof(buf));
	}
	if (len > 0 && bs_wire_ctrl_parse(buf, len, first) > 0)
		type = first->type;
	close(fd);
	return type;
}

/* Read one message (the server must answer within 10 s). */
static void
recv_msg(int fd, struct bs_ctrl_msg *m)
{
	uint8_t buf[BS_WIRE_MSG_MAX];
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = bs_wire_ctrl_parse(buf, len, m);
		ssize_t n;

		CHECK(rc >= 0);
		if (rc > 0)
			return;
		CHECK(poll(&pfd, 1, 10000) == 1);
		n = recv(fd, buf + len, 1, 0); /* one byte at a time: never past one message */
		CHECK(n == 1);
		len++;
	}
}

static void
hello(int fd, struct bs_ctrl_msg *info)
{
	struct bs_ctrl_msg m = { .type = BS_MSG_HELLO };

	m.u.hello.version = BS_WIRE_VERSION;
	send_msg(fd, &m);
	recv_msg(fd, info);
	CHECK(info->type == BS_MSG_INFO);
}

/* A raw control case: send @p p, expect an ERROR (when @p error) and a close. */
static void
control_case(const char *what, const void *p, size_t n, bool error)
{
	struct bs_ctrl_msg first;
	int fd = raw_connect();
	int type;

	send_all(fd, p, n);
	type = expect_close(fd, &first);
	printf("control: %-40s -> %s%s%s\n", what, type == BS_MSG_ERROR ? "ERROR: " : "closed",
	       type == BS_MSG_ERROR ? first.u.error.msg : "", "");
	if (error)
		CHECK(type == BS_MSG_ERROR);
	cases++;
}

static size_t
header(uint8_t *b, uint32_t magic, uint8_t version, uint8_t type, uint32_t len)
{
	bs_put32(b, magic);
	b[4] = version;
	b[5] = type;
	b[6] = b[7] = 0;
	bs_put32(b + 8, len);
	return 12;
}

/* ------------------------------------------------ a well-behaved client */

static void
on_done(void *arg, int status, struct bulk_buffer *buf)
{
	(void)buf;
	*(int *)arg = status == 0 ? 1 : status;
}

/* The server still serves: write a block, read it back. */
static void
still_serving(const char *after)
{
	char err[256] = "";
	struct bulk_domain *d;
	struct bulk_bs_client *c;
	struct bulk_bs_client_params p = { .server = ctl, .buffers = 4, .buffer_size = 4096,
					   .err_msg = err, .err_len = sizeof(err) };
	struct bulk_bs_io io = { .op = BULK_BS_OP_WRITE, .offset = 8192, .length = 4096,
				 .done = on_done };
	int w = 0, r = 0, rc;

	CHECK(bulk_domain_create("good", &d) == 0);
	p.dom = d;
	rc = bulk_bs_client_connect(&p, &c);
	if (rc < 0)
		fprintf(stderr, "connect: %s (%s)\n", bulk_strerror(rc), err);
	CHECK(rc == 0);
	io.buf = bulk_bs_client_buffer_get(c);
	memset(io.buf->addr, 0x5a, 4096);
	io.arg = &w;
	CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
	while (w == 0)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
	CHECK(w == 1);
	memset(io.buf->addr, 0, 4096);
	io.op = BULK_BS_OP_READ;
	io.arg = &r;
	CHECK(bulk_bs_client_submit(c, &io, 1) == 1);
	while (r == 0)
		CHECK(bulk_bs_client_poll(c, 10) >= 0);
	CHECK(r == 1 && ((uint8_t *)io.buf->addr)[4095] == 0x5a);
	CHECK(bulk_bs_client_buffer_put(c, io.buf) == 0);
	CHECK(bulk_bs_client_close(c) == 0);
	CHECK(bulk_domain_destroy(d) == 0);
	printf("serving: a good client wrote and read back a block after %s\n", after);
}

/* ------------------------------------------------------------ control */

static void
control_cases(void)
{
	uint8_t b[BS_WIRE_MSG_MAX + 64];
	struct bs_ctrl_msg m, info;
	size_t n;
	int fd, idle[20];

	control_case("garbage (HTTP)", "GET / HTTP/1.1\r\n\r\n", 18, true);
	n = header(b, 0xdeadbeef, 1, BS_MSG_HELLO, 0);
	control_case("wrong magic", b, n, true);
	n = header(b, BS_WIRE_MAGIC, 9, BS_MSG_HELLO, 0);
	control_case("wrong version", b, n, true);
	n = header(b, BS_WIRE_MAGIC, 1, 42, 0);
	control_case("unknown type", b, n, true);
	n = header(b, BS_WIRE_MAGIC, 1, BS_MSG_HELLO, 0x7fffffff);
	control_case("length 2^31", b, n, true);
	n = header(b, BS_WIRE_MAGIC, 1, BS_MSG_HELLO, 12);
	memset(b + n, 0, 12);
	bs_put16(b + n, 1);
	bs_put16(b + n + 2, 200); /* a name longer than the body */
	control_case("hello name longer than its body", b, n + 12, true);
	n = header(b, BS_WIRE_MAGIC, 1, BS_MSG_HELLO, 10);
	memset(b + n, 0, 10);
	bs_put16(b + n, 1);
	bs_put16(b + n + 2, 2);
	b[n + 8] = 'a';
	b[n + 9] = '\n'; /* a control byte in the name */
	control_case("hello with a control byte in the name", b, n + 10, true);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_HELLO;
	m.u.hello.version = 7;
	n = (size_t)bs_wire_ctrl_encode(&m, b, sizeof(b));
	control_case("hello with version 7", b, n, true);
	m.type = BS_MSG_CHANNELS;
	m.u.channels.count = 1;
	strcpy(m.u.channels.addr[0], "shm:@x");
	n = (size_t)bs_wire_ctrl_encode(&m, b, sizeof(b));
	control_case("channels before hello", b, n, true);
	m.type = BS_MSG_DISCONNECT;
	n = (size_t)bs_wire_ctrl_encode(&m, b, sizeof(b));
	control_case("disconnect before hello", b, n, true);
	m.type = BS_MSG_INFO;
	m.u.info.info = (struct bulk_bs_info){ 4096, 512, 512, 512, 0, 1 };
	m.u.info.max_channels = 1;
	n = (size_t)bs_wire_ctrl_encode(&m, b, sizeof(b));
	control_case("a server's message (INFO)", b, n, true);

	/* After hello. */
	fd = raw_connect();
	hello(fd, &info);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_HELLO;
	m.u.hello.version = 1;
	send_msg(fd, &m);
	CHECK(expect_close(fd, &m) == BS_MSG_ERROR);
	printf("control: %-40s -> ERROR: %s\n", "hello twice", m.u.error.msg);
	cases++;

	fd = raw_connect();
	hello(fd, &info);
	n = header(b, BS_WIRE_MAGIC, 1, BS_MSG_CHANNELS, 8 + BS_WIRE_ADDR_LEN);
	memset(b + n, 0, 8 + BS_WIRE_ADDR_LEN);
	bs_put16(b + n, 1);
	memcpy(b + n + 8, "not-an-address", 14);
	send_all(fd, b, n + 8 + BS_WIRE_ADDR_LEN);
	CHECK(expect_close(fd, &m) == BS_MSG_ERROR);
	printf("control: %-40s -> ERROR: %s\n", "channel address that does not parse", m.u.error.msg);
	cases++;

	fd = raw_connect();
	hello(fd, &info);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_CHANNELS;
	m.u.channels.count = 1;
	snprintf(m.u.channels.addr[0], BS_WIRE_ADDR_LEN, "shm:@bs-hostile-nobody-%d", (int)getpid());
	send_msg(fd, &m);
	CHECK(expect_close(fd, &m) == BS_MSG_ERROR);
	printf("control: %-40s -> ERROR: %s\n", "channel where nobody listens", m.u.error.msg);
	cases++;

	/* The copy extension (section 10): an unknown HELLO flag; copies asked
	 * of a server that does not offer them (INFO says no), and a copy
	 * channel sent anyway. */
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_HELLO;
	m.u.hello.version = 1;
	n = (size_t)bs_wire_ctrl_encode(&m, b, sizeof(b));
	b[12 + 4] = 0x2; /* flags: a bit nobody defined */
	control_case("hello with an unknown flag", b, n, true);
	fd = raw_connect();
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_HELLO;
	m.u.hello.version = 1;
	m.u.hello.flags = BS_HELLO_COPIES;
	send_msg(fd, &m);
	recv_msg(fd, &info);
	CHECK(info.type == BS_MSG_INFO && info.u.info.features == 0);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_CHANNELS;
	m.u.channels.count = 1;
	m.u.channels.copy = 1;
	snprintf(m.u.channels.addr[0], BS_WIRE_ADDR_LEN, "shm:@bs-hostile-nobody-%d", (int)getpid());
	snprintf(m.u.channels.addr[1], BS_WIRE_ADDR_LEN, "shm:@bs-hostile-nobody-%d.c",
		 (int)getpid());
	send_msg(fd, &m);
	CHECK(expect_close(fd, &m) == BS_MSG_ERROR);
	printf("control: %-40s -> ERROR: %s\n", "a copy channel not agreed", m.u.error.msg);
	cases++;

	/* Stops mid-message and stays open: the server serves others meanwhile. */
	for (int i = 0; i < 20; i++) {
		idle[i] = raw_connect();
		if (i % 2 == 0) {
			n = header(b, BS_WIRE_MAGIC, 1, BS_MSG_HELLO, 8);
			send_all(idle[i], b, 7); /* half a header */
		}
	}
	still_serving("20 connections that stopped mid-message or said nothing");
	for (int i = 0; i < 20; i++)
		close(idle[i]);
	cases += 20;
	still_serving("the control cases");
}

/* ---------------------------------------------- a data channel of our own */

struct own {
	struct bulk_domain *d;
	struct bulk_endpoint *ep;
	struct bulk_channel *ch;
	struct bulk_pool *pool;
	int fd;
	bool assigned;
	/* replies */
	struct bs_meta meta[16];
	uint32_t lens[16];
	struct bulk_buffer *bufs[16];
	unsigned nback;
	unsigned released;
};

static struct own own;

static void
own_back(struct bulk_channel *ch, struct bulk_buffer *const *bufs, const uint32_t *lens,
	 const void *meta, unsigned n)
{
	(void)ch;
	for (unsigned i = 0; i < n; i++) {
		CHECK(own.nback < 16);
		CHECK(bs_wire_meta_decode((const uint8_t *)meta + i * BS_WIRE_META_SIZE,
					  BS_WIRE_META_SIZE, &own.meta[own.nback]) == 0);
		own.lens[own.nback] = lens[i];
		own.bufs[own.nback++] = bufs[i];
	}
}

static void
own_released(struct bulk_channel *ch, struct bulk_buffer *const *bufs, unsigned n)
{
	(void)ch;
	(void)bufs;
	own.released += n;
}

static void
set_flag(void *arg, int err, struct bulk_channel *ch)
{
	(void)ch;
	CHECK(err == 0);
	*(bool *)arg = true;
}

static void
own_poll_until(bool (*cond)(void))
{
	for (int i = 0; i < 100000 && !cond(); i++) {
		CHECK(bulk_domain_poll(own.d, 0) >= 0);
		usleep(100);
	}
	CHECK(cond());
}

static bool
is_connected(void)
{
	return bulk_channel_state(own.ch) == BULK_STATE_CONNECTED;
}

static bool
is_assigned(void)
{
	return own.assigned;
}

/* A channel at our own address, with @p meta_size and @p dir, offered to the server. */
static int
own_open(uint32_t meta_size, enum bulk_direction dir, struct bs_ctrl_msg *reply)
{
	static const struct bulk_channel_callbacks cb = { .buffer_received = own_back,
							  .copy_released = own_released };
	struct bulk_channel_params cp = { .direction = dir, .meta_size = meta_size };
	struct bulk_addr a;
	struct bs_ctrl_msg m, info;
	int fd;

	memset(&own, 0, sizeof(own));
	CHECK(bulk_domain_create("own", &own.d) == 0);
	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_CHANNELS;
	m.u.channels.count = 1;
	snprintf(m.u.channels.addr[0], BS_WIRE_ADDR_LEN, "shm:@bs-hostile-own-%d-%u", (int)getpid(),
		 meta_size * 2 + (unsigned)dir);
	CHECK(bulk_addr_parse(m.u.channels.addr[0], &a) == 0);
	CHECK(bulk_addr_endpoint_create(own.d, &a, &own.ep) == 0);
	CHECK(bulk_channel_create(own.ep, &cb, &cp, &own.ch) == 0);
	fd = raw_connect();
	hello(fd, &info);
	send_msg(fd, &m);
	/* The server binds (or fails to); its answer comes once it knows. */
	for (int i = 0; i < 100000; i++) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		CHECK(bulk_domain_poll(own.d, 0) >= 0);
		if (poll(&pfd, 1, 0) == 1)
			break;
		usleep(100);
	}
	recv_msg(fd, reply);
	return fd;
}

static void
own_close(int fd)
{
	close(fd);
	if (bulk_channel_state(own.ch) != BULK_STATE_CLOSED) {
		bool closed = false;

		if (bulk_channel_destroy(own.ch, (struct bulk_cont){ set_flag, &closed }) == 0)
			for (int i = 0; i < 100000 && !closed; i++) {
				CHECK(bulk_domain_poll(own.d, 0) >= 0);
				usleep(100);
			}
	}
	while (bulk_channel_free(own.ch) == -EBUSY)
		CHECK(bulk_domain_poll(own.d, 0) >= 0);
	CHECK(bulk_addr_endpoint_free(own.ep) == 0);
	if (own.pool != NULL)
		CHECK(bulk_pool_free(own.pool) == 0);
	CHECK(bulk_domain_destroy(own.d) == 0);
}

static bool
all_back(void)
{
	return own.nback > 0;
}

/* Move buffer @p b with meta @p meta (raw bytes) and payload @p len; wait for it. */
static const struct bs_meta *
own_send(struct bulk_buffer *b, const uint8_t *meta, uint32_t len)
{
	own.nback = 0;
	CHECK(bulk_channel_move(own.ch, b, len, meta, BULK_CONT_NONE) == 0);
	own_poll_until(all_back);
	CHECK(own.nback == 1 && own.bufs[0] == b);
	return &own.meta[0];
}

static void
data_case(const char *what, struct bulk_buffer *b, struct bs_meta req, uint32_t len, int want)
{
	uint8_t raw[BS_WIRE_META_SIZE];
	const struct bs_meta *r;

	bs_wire_meta_encode(&req, raw);
	r = own_send(b, raw, len);
	printf("data:    %-40s -> status %d (%s)\n", what, r->status, bulk_strerror(r->status));
	CHECK(r->reply && r->id == req.id && r->status == want);
	cases++;
}

static void
data_cases(void)
{
	struct bulk_pool_params pp = { .count = 8, .buffer_size = 8192, .mem = BULK_MEM_MEMFD };
	struct bs_ctrl_msg reply;
	struct bulk_pool *other;
	struct bulk_buffer *b, *b2;
	uint8_t raw[BS_WIRE_META_SIZE];
	const struct bs_meta *r;
	uint64_t big = UINT64_MAX - 4095;
	int fd;

	/* Wrong meta size: the server's bind fails; it says so and closes. */
	fd = own_open(8, BULK_DIRECTION_TX, &reply);
	printf("control: %-40s -> %s: %s\n", "data channel with 8 bytes of meta",
	       reply.type == BS_MSG_ERROR ? "ERROR" : "?", reply.u.error.msg);
	CHECK(reply.type == BS_MSG_ERROR);
	own_close(fd);
	cases++;
	/* Wrong direction: the server would be the source. */
	fd = own_open(BS_WIRE_META_SIZE, BULK_DIRECTION_RX, &reply);
	printf("control: %-40s -> %s: %s\n", "data channel created RX",
	       reply.type == BS_MSG_ERROR ? "ERROR" : "?", reply.u.error.msg);
	CHECK(reply.type == BS_MSG_ERROR);
	own_close(fd);
	cases++;
	still_serving("bad data channels");

	/* A proper channel, driven by hand. */
	fd = own_open(BS_WIRE_META_SIZE, BULK_DIRECTION_TX, &reply);
	CHECK(reply.type == BS_MSG_READY);
	own_poll_until(is_connected);
	CHECK(bulk_pool_alloc(own.d, &pp, &own.pool) == 0);
	CHECK(bulk_channel_assign_pool(own.ch, own.pool, (struct bulk_cont){ set_flag, &own.assigned }) == 0);
	own_poll_until(is_assigned);
	b = bulk_pool_get(own.pool);
	b2 = bulk_pool_get(own.pool);

	memset(raw, 0xa5, sizeof(raw));
	r = own_send(b, raw, 0);
	printf("data:    %-40s -> status %d (%s)\n", "meta that is not the protocol's", r->status,
	       bulk_strerror(r->status));
	CHECK(r->reply && r->status == -EPROTO);
	cases++;
	data_case("a reply sent as a request", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .reply = 1, .id = 1, .length = 4096 }, 0,
		  -EINVAL);
	data_case("op 0", b, (struct bs_meta){ .op = 0, .id = 2, .length = 4096 }, 0, -EINVAL);
	data_case("op 99", b, (struct bs_meta){ .op = 99, .id = 3, .length = 4096 }, 0, -EINVAL);
	data_case("unknown flag 0x100", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .flags = 0x100, .id = 4, .length = 4096 },
		  0, -EINVAL);
	data_case("read past the end", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .id = 5, .offset = 1ull << 40,
				    .length = 4096 },
		  0, -ENOSPC);
	data_case("offset + length overflows", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .id = 6, .offset = big, .length = 4096 },
		  0, -ENOSPC);
	data_case("write overflowing", b,
		  (struct bs_meta){ .op = BULK_BS_OP_WRITE, .id = 7, .offset = big, .length = 4096 },
		  4096, -ENOSPC);
	data_case("write payload shorter than length", b,
		  (struct bs_meta){ .op = BULK_BS_OP_WRITE, .id = 8, .length = 8192 }, 4096, -EINVAL);
	data_case("read longer than the buffer", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .id = 9, .length = 16384 }, 0, -EOVERFLOW);
	data_case("misaligned offset", b,
		  (struct bs_meta){ .op = BULK_BS_OP_READ, .id = 10, .offset = 100, .length = 4096 },
		  0, -EINVAL);
	data_case("zero length", b, (struct bs_meta){ .op = BULK_BS_OP_WRITE, .id = 11 }, 0, -EINVAL);
	data_case("flush with a range", b,
		  (struct bs_meta){ .op = BULK_BS_OP_FLUSH, .id = 12, .length = 4096 }, 0, -EINVAL);
	data_case("a good write after all that", b,
		  (struct bs_meta){ .op = BULK_BS_OP_WRITE, .id = 13, .length = 4096 }, 4096, 0);

	/* Buffers we do not own: libbulk refuses them before they leave. */
	own.nback = 0;
	bs_wire_meta_encode(&(struct bs_meta){ .op = BULK_BS_OP_READ, .id = 14, .length = 4096 }, raw);
	CHECK(bulk_channel_move(own.ch, b, 0, raw, BULK_CONT_NONE) == 0);
	CHECK(bulk_channel_move(own.ch, b, 0, raw, BULK_CONT_NONE) == -BULK_E_NOT_OWNER);
	own_poll_until(all_back);
	CHECK(own.meta[0].status == 0 && own.lens[0] == 4096);
	CHECK(bulk_pool_alloc(own.d, &pp, &other) == 0);
	CHECK(bulk_channel_move(own.ch, bulk_pool_get(other), 0, raw, BULK_CONT_NONE) ==
	      -BULK_E_POOL_NOT_ASSIGNED);
	printf("data:    %-40s -> refused by libbulk (%s, %s)\n", "buffers the client does not own",
	       bulk_strerror(-BULK_E_NOT_OWNER), bulk_strerror(-BULK_E_POOL_NOT_ASSIGNED));
	cases += 2;

	/* A copy instead of a move: released at once, never served. */
	CHECK(bulk_channel_copy(own.ch, b2, 4096, raw, BULK_CONT_NONE) == 0);
	for (int i = 0; i < 100000 && own.released == 0; i++) {
		CHECK(bulk_domain_poll(own.d, 0) >= 0);
		usleep(100);
	}
	CHECK(own.released == 1 && b2->state == BULK_BUFFER_READ_WRITE);
	printf("data:    %-40s -> released back, not served\n", "a copy instead of a move");
	cases++;

	/* Leave without a goodbye (the control socket closes under it). */
	bs_wire_meta_encode(&(struct bs_meta){ .op = BULK_BS_OP_READ, .id = 15, .length = 4096 }, raw);
	own.nback = 0;
	CHECK(bulk_channel_move(own.ch, b2, 0, raw, BULK_CONT_NONE) == 0);
	own_poll_until(all_back);
	CHECK(bulk_pool_put(b) == 0);
	CHECK(bulk_pool_put(b2) == 0);
	CHECK(bulk_pool_put(bulk_pool_buffer(other, 0)) == 0);
	CHECK(bulk_pool_free(other) == 0);
	own_close(fd);
	still_serving("the data cases");
}

int
main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2 || strncmp(argv[1], "unix:@", 6) != 0) {
		fprintf(stderr, "usage: test_bs_hostile unix:@NAME (of a running nbs)\n");
		return 99;
	}
	ctl = argv[1];
	alarm(120);
	control_cases();
	data_cases();
	printf("%d hostile cases answered; the server served a good client after each group\n",
	       cases);
	return 0;
}
