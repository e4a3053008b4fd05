/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control connection: addresses (unix:PATH, unix:@NAME,
 * tcp:HOST:PORT), listening, connecting, and framed messages over a
 * non-blocking socket. A server never blocks on a client: partial
 * messages wait in the connection's buffer, and a peer that does not read
 * its replies gets cut off instead of stalling the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "bs_internal.h"

void
bs_errf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* ----------------------------------------------------------- addresses */

static int
parse_unix(const char *s, struct bs_sockaddr *out)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
	size_t n = strlen(s);

	if (n == 0 || (s[0] == '@' && n == 1))
		return -EINVAL;
	if (n >= sizeof(un->sun_path))
		return -ENAMETOOLONG;
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, s, n);
	if (s[0] == '@') {
		/* Abstract: a leading NUL, and the length says where it ends. */
		un->sun_path[0] = '\0';
		out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		out->len = (socklen_t)sizeof(*un);
		out->unix_path = true;
	}
	return 0;
}

static int
parse_tcp(const char *s, bool passive, struct bs_sockaddr *out)
{
	char host[256];
	const char *port, *h = s;
	size_t hl;
	struct addrinfo hints, *res = NULL;
	char *end;
	unsigned long pn;
	int rc;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hl = (size_t)(close - h);
		port = close + 2;
	} else {
		port = strrchr(s, ':');
		if (port == NULL)
			return -EINVAL;
		hl = (size_t)(port - s);
		port++;
		/* An IPv6 address must be bracketed: "::1:80" is ambiguous. */
		if (memchr(s, ':', hl) != NULL)
			return -EINVAL;
	}
	if (hl >= sizeof(host) || (hl == 0 && !passive))
		return -EINVAL;
	/* Decimal, no sign, no blank. */
	if (port[0] < '0' || port[0] > '9')
		return -EINVAL;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (*end != '\0' || errno != 0 || pn > 65535 || (pn == 0 && !passive))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = passive ? AI_PASSIVE : 0;
	rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
	if (rc != 0 || res == NULL)
		return -EHOSTUNREACH;
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
bs_sockaddr_parse(const char *addr, bool passive, struct bs_sockaddr *out)
{
	if (addr == NULL || out == NULL)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (strncmp(addr, "unix:", 5) == 0)
		return parse_unix(addr + 5, out);
	if (strncmp(addr, "tcp:", 4) == 0)
		return parse_tcp(addr + 4, passive, out);
	return -EINVAL;
}

static int
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void
tcp_nodelay(int fd, const struct bs_sockaddr *a)
{
	int one = 1;

	if (a->ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * A socket file at the path: if nobody answers there it is a leftover of
 * a server that died, and may go; if somebody does, the address is taken.
 */
static int
unlink_stale(const struct bs_sockaddr *a)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
	struct stat st;
	int fd, rc;

	if (lstat(un->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -EADDRINUSE;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)&a->ss, a->len);
	close(fd);
	if (rc == 0)
		return -EADDRINUSE;
	if (unlink(un->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int
bs_sock_listen(const struct bs_sockaddr *a)
{
	int fd, one = 1, rc;

	if (a->unix_path && (rc = unlink_stale(a)) < 0)
		return rc;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (a->ss.ss_family != AF_UNIX)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->unix_path) {
		/* Only our uid may connect: the file is the first gate. */
		mode_t old = umask(0177);

		rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
		umask(old);
	} else {
		rc = bind(fd, (const struct sockaddr *)&a->ss, a->len);
	}
	if (rc < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int
bs_sock_connect(const struct bs_sockaddr *a, int timeout_ms)
{
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, rc, err = 0;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	tcp_nodelay(fd, a);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS && errno != EAGAIN) {
		rc = -errno;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc == 0) {
		rc = -ETIMEDOUT;
		goto fail;
	}
	if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0) {
		rc = -errno;
		goto fail;
	}
	if (err != 0) {
		rc = -err;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

void
bs_sock_name(int fd, bool peer, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int rc;

	memset(&ss, 0, sizeof(ss));
	rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
		  : getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (rc < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "tcp:%s:%u", host, ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "tcp:[%s]:%u", host, ntohs(in6->sin6_port));
	} else if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)&ss;
		size_t pl = sl > offsetof(struct sockaddr_un, sun_path)
				    ? sl - offsetof(struct sockaddr_un, sun_path)
				    : 0;

		if (pl == 0)
			snprintf(buf, len, "unix:");
		else if (un->sun_path[0] == '\0')
			snprintf(buf, len, "unix:@%.*s", (int)(pl - 1), un->sun_path + 1);
		else
			snprintf(buf, len, "unix:%.*s", (int)strnlen(un->sun_path, pl), un->sun_path);
	} else {
		snprintf(buf, len, "?");
	}
}

/* --------------------------------------------------------- messages */

void
bs_sock_init(struct bs_sock *s, int fd)
{
	s->fd = fd;
	s->rx_len = 0;
	s->tx_len = 0;
	if (fd >= 0)
		(void)nonblock(fd);
}

void
bs_sock_close(struct bs_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->rx_len = 0;
	s->tx_len = 0;
}

int
bs_sock_flush(struct bs_sock *s)
{
	while (s->tx_len > 0) {
		/* MSG_NOSIGNAL: a peer that went away is an error, not SIGPIPE. */
		ssize_t n = send(s->fd, s->tx, s->tx_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		memmove(s->tx, s->tx + n, s->tx_len - (size_t)n);
		s->tx_len -= (uint32_t)n;
	}
	return 0;
}

int
bs_sock_send(struct bs_sock *s, const struct bs_ctrl_msg *m)
{
	uint8_t buf[BS_WIRE_MSG_MAX];
	int n, rc;

	if (s->fd < 0)
		return -ENOTCONN;
	n = bs_wire_ctrl_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (s->tx_len + (uint32_t)n > sizeof(s->tx))
		return -ENOBUFS;
	memcpy(s->tx + s->tx_len, buf, (size_t)n);
	s->tx_len += (uint32_t)n;
	rc = bs_sock_flush(s);
	return rc < 0 ? rc : 0;
}

void
bs_sock_send_error(struct bs_sock *s, int code, const char *fmt, ...)
{
	struct bs_ctrl_msg m;
	va_list ap;

	memset(&m, 0, sizeof(m));
	m.type = BS_MSG_ERROR;
	m.u.error.code = code;
	va_start(ap, fmt);
	vsnprintf(m.u.error.msg, sizeof(m.u.error.msg), fmt, ap);
	va_end(ap);
	/* Only printable bytes travel (the parser refuses the rest). */
	for (char *p = m.u.error.msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	(void)bs_sock_send(s, &m);
}

/* Take one complete message from the front of the receive buffer. */
static int
take(struct bs_sock *s, struct bs_ctrl_msg *m)
{
	int n = bs_wire_ctrl_parse(s->rx, s->rx_len, m);

	if (n <= 0)
		return n;
	memmove(s->rx, s->rx + n, s->rx_len - (uint32_t)n);
	s->rx_len -= (uint32_t)n;
	return 1;
}

int
bs_sock_recv(struct bs_sock *s, struct bs_ctrl_msg *m)
{
	int rc;

	if (s->fd < 0)
		return -ENOTCONN;
	/* A message that is already whole goes first: one read may bring two. */
	rc = take(s, m);
	if (rc != 0)
		return rc;
	for (;;) {
		ssize_t n;

		if (s->rx_len >= sizeof(s->rx))
			return -EBADMSG; /* cannot happen: the parser bounds a message */
		n = recv(s->fd, s->rx + s->rx_len, sizeof(s->rx) - s->rx_len, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		s->rx_len += (uint32_t)n;
		rc = take(s, m);
		if (rc != 0)
			return rc;
	}
}

int
bs_sock_recv_wait(struct bs_sock *s, struct bs_ctrl_msg *m, int timeout_ms)
{
	uint64_t end = bs_now_ns() + (uint64_t)timeout_ms * BS_NS_PER_MS;

	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		uint64_t now;
		int rc = bs_sock_recv(s, m);

		if (rc != 0)
			return rc;
		now = bs_now_ns();
		if (now >= end)
			return -ETIMEDOUT;
		(void)bs_sock_flush(s);
		(void)poll(&pfd, 1, (int)((end - now) / BS_NS_PER_MS) + 1);
	}
}
