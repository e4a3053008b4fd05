/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shm backend's Unix socket: endpoint names, connection set-up, and the
 * file descriptors that cross with SCM_RIGHTS. SOCK_SEQPACKET keeps message
 * boundaries, so each set-up message and each pool arrives whole or not at
 * all. Nothing here is on the fast path.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shm_internal.h"

#define SHM_MAX_FDS 4

static int
sock_addr(const char *name, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(name);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0 || (name[0] == '@' && n == 1))
		return -EINVAL;
	if (n > sizeof(sa->sun_path) - 1)
		return -ENAMETOOLONG;
	if (name[0] == '@') {
		/* Abstract namespace: a leading NUL, no trailing one. */
		memcpy(sa->sun_path + 1, name + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(sa->sun_path, name, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int
shm_sock_listen(const char *name, bool *unlink_path)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, rc;

	*unlink_path = false;
	rc = sock_addr(name, &sa, &len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		rc = -errno;
		if (rc == -EADDRINUSE && name[0] != '@') {
			/* A socket file left by a dead creator is taken over; a
			 * live one (it answers) is not. */
			int probe = shm_sock_connect(name);

			if (probe >= 0) {
				close(probe);
			} else if (probe == -BULK_E_EP_NO_CHANNEL && unlink(name) == 0 &&
				   bind(fd, (struct sockaddr *)&sa, len) == 0) {
				rc = 0;
			}
		}
		if (rc < 0) {
			close(fd);
			return rc;
		}
	}
	if (name[0] != '@') {
		*unlink_path = true;
		/* Binders connect only after listen(), so nobody gets in
		 * before the mode is 0600. */
		if (chmod(name, 0600) < 0) {
			rc = -errno;
			unlink(name);
			close(fd);
			return rc;
		}
	}
	if (listen(fd, 8) < 0) {
		rc = -errno;
		if (*unlink_path)
			unlink(name);
		close(fd);
		return rc;
	}
	return fd;
}

int
shm_sock_connect(const char *name)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, rc;

	rc = sock_addr(name, &sa, &len);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		rc = -errno;
		close(fd);
		/* Nobody listens (any more): the spec's "no channel there". */
		if (rc == -ECONNREFUSED || rc == -ENOENT)
			return -BULK_E_EP_NO_CHANNEL;
		/* A full backlog of a non-blocking listener. */
		if (rc == -EAGAIN)
			return -EAGAIN;
		return rc;
	}
	return fd;
}

void
shm_sock_unlink(const char *name)
{
	if (name[0] != '@')
		unlink(name);
}

int
shm_sock_send(int fd, const void *msg, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
	} u;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (nfds > SHM_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	/* MSG_NOSIGNAL: a dead peer is an error code, not a SIGPIPE. */
	n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -EIO;
}

ssize_t
shm_sock_recv(int fd, void *msg, size_t len, int *fds, unsigned maxfds, unsigned *nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * SHM_MAX_FDS)];
	} u;
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	ssize_t n;

	*nfds = 0;
	n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		unsigned k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			/* More than the caller takes: never leak them. */
			if (*nfds < maxfds)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		for (unsigned i = 0; i < *nfds; i++)
			close(fds[i]);
		*nfds = 0;
		return -EMSGSIZE;
	}
	return n;
}

bool
shm_sock_hup(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	/* The kernel sets HUP on our end once the peer's end is closed, by
	 * exit or kill alike; messages still queued do not hide it. */
	if (poll(&p, 1, 0) < 0)
		return false;
	return (p.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0;
}

int
shm_sock_peer_uid(int fd, uid_t *uid)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -errno;
	*uid = cr.uid;
	return 0;
}
