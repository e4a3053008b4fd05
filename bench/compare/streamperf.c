/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulk-streamperf: the byte-stream peers of the side-by-side comparison
 * (bench/compare/shm_compare.sh). Two processes (fork) move bytes in chunks
 * of --size over a Unix stream socket (socketpair(AF_UNIX, SOCK_STREAM)) or
 * a pipe, for --duration seconds:
 *
 *   stream: the parent writes chunks as fast as it can; the child read()s
 *           them into a --size buffer until EOF. The time runs from the
 *           parent's first write to the child's EOF (CLOCK_MONOTONIC, one
 *           clock for both processes), so bytes still queued when the
 *           parent stops are counted and timed.
 *   echo:   the child reads each chunk completely and writes it back; the
 *           parent keeps --inflight chunks out (default 1: write one, wait
 *           until it is all back) and counts a message when a whole chunk
 *           came back. Bytes are counted one way, as bulkperf's echo does.
 *           A pipe is one-way, so echo over pipes uses two of them.
 *
 * Buffering (the default, and why): every pipe is grown with F_SETPIPE_SZ
 * to /proc/sys/fs/pipe-max-size (1 MiB on a stock kernel; the kernel's
 * default is 64 KiB), and both ends of the socket pair ask for the same
 * amount with SO_SNDBUF/SO_RCVBUF (root: SO_SNDBUFFORCE/SO_RCVBUFFORCE, past
 * net.core.wmem_max/rmem_max), so that both peers can hold the same bytes
 * in flight and a 64 KiB chunk never has to be split into waits. --bufsize
 * BYTES overrides that. What the kernel granted is printed before the
 * result (getsockopt reports the doubled value Linux keeps for overhead).
 *
 * The last line on stdout:
 * result: peer=unix|pipe mode=stream|echo size=N msgs=N bytes=N msgs_per_s=X gbit_s=X
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_SETPIPE_SZ, SO_SNDBUFFORCE, CPU_SET (meson defines it too) */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SP_EXIT_OK    0
#define SP_EXIT_FAIL  1
#define SP_EXIT_USAGE 2

#define SP_MAX_SIZE (1u << 30)
#define SP_DEF_BUF  (1u << 20) /* when pipe-max-size cannot be read */

enum sp_peer { SP_UNIX, SP_PIPE };
enum sp_mode { SP_STREAM, SP_ECHO };

struct sp_opts {
	enum sp_peer peer;
	enum sp_mode mode;
	size_t size;
	double duration;
	uint64_t inflight;
	uint64_t bufsize; /* 0: default (pipe-max-size) */
	int cpu_tx, cpu_rx; /* -1: not pinned */
};

/* What the child tells the parent at the end (stream mode). */
struct sp_report {
	uint64_t bytes;
	uint64_t t_eof_ns;
	int err; /* errno of a failure, 0 if none */
};

static uint64_t sp_pipe_max(void);

static uint64_t
sp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sp_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s --peer unix|pipe [--mode stream|echo] [options]\n"
		"\n"
		"Moves bytes between two processes over a Unix stream socket pair or a\n"
		"pipe, in chunks of --size bytes, for --duration seconds.\n"
		"\n"
		"  --peer unix|pipe     socketpair(AF_UNIX, SOCK_STREAM) or pipe(2)\n"
		"  --mode stream|echo   one way (default), or each chunk written back\n"
		"  --echo               the same as --mode echo\n"
		"  --size BYTES         chunk size (default 65536)\n"
		"  --duration SECONDS   how long the sender sends (default 5)\n"
		"  --inflight N         echo: chunks out at once (default 1)\n"
		"  --bufsize BYTES      pipe size / socket buffers (default: the value of\n"
		"                       /proc/sys/fs/pipe-max-size, for both peers)\n"
		"  --cpus TX,RX         pin the sender and the receiver to these CPUs\n"
		"                       (default: not pinned)\n"
		"  --help               this text\n"
		"\n"
		"The last line printed is:\n"
		"result: peer=P mode=M size=N msgs=N bytes=N msgs_per_s=X gbit_s=X\n"
		"Exit status: 0 success, 1 run failure, 2 usage error.\n",
		prog);
}

static int
sp_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "streamperf: --%s: '%s' is not a number in %llu..%llu\n", opt, s,
		(unsigned long long)min, (unsigned long long)max);
	return -1;
}

static int
sp_parse_cpus(const char *s, int *tx, int *rx)
{
	char a[32], *comma;
	uint64_t v;

	if (strlen(s) >= sizeof(a))
		goto bad;
	strcpy(a, s);
	comma = strchr(a, ',');
	if (comma == NULL)
		goto bad;
	*comma = '\0';
	if (sp_parse_u64("cpus", a, 0, CPU_SETSIZE - 1, &v) < 0)
		return -1;
	*tx = (int)v;
	if (sp_parse_u64("cpus", comma + 1, 0, CPU_SETSIZE - 1, &v) < 0)
		return -1;
	*rx = (int)v;
	return 0;
bad:
	fprintf(stderr, "streamperf: --cpus: '%s' is not TX,RX\n", s);
	return -1;
}

enum {
	OPT_PEER = 256,
	OPT_MODE,
	OPT_ECHO,
	OPT_SIZE,
	OPT_DURATION,
	OPT_INFLIGHT,
	OPT_BUFSIZE,
	OPT_CPUS,
	OPT_HELP,
};

static const struct option sp_long_opts[] = {
	{ "peer", required_argument, NULL, OPT_PEER },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "echo", no_argument, NULL, OPT_ECHO },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "bufsize", required_argument, NULL, OPT_BUFSIZE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* 0: run, 1: help printed, -1: usage error printed. */
static int
sp_opts_parse(int argc, char **argv, struct sp_opts *o)
{
	bool have_peer = false, have_inflight = false;
	uint64_t v;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->mode = SP_STREAM;
	o->size = 65536;
	o->duration = 5.0;
	o->inflight = 1;
	o->cpu_tx = o->cpu_rx = -1;
	while ((c = getopt_long(argc, argv, "h", sp_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_PEER:
			if (strcmp(optarg, "unix") == 0) {
				o->peer = SP_UNIX;
			} else if (strcmp(optarg, "pipe") == 0) {
				o->peer = SP_PIPE;
			} else {
				fprintf(stderr, "streamperf: --peer: '%s' is not unix or pipe\n",
					optarg);
				return -1;
			}
			have_peer = true;
			break;
		case OPT_MODE:
			if (strcmp(optarg, "stream") == 0) {
				o->mode = SP_STREAM;
			} else if (strcmp(optarg, "echo") == 0) {
				o->mode = SP_ECHO;
			} else {
				fprintf(stderr, "streamperf: --mode: '%s' is not stream or echo\n",
					optarg);
				return -1;
			}
			break;
		case OPT_ECHO:
			o->mode = SP_ECHO;
			break;
		case OPT_SIZE:
			if (sp_parse_u64("size", optarg, 1, SP_MAX_SIZE, &v) < 0)
				return -1;
			o->size = (size_t)v;
			break;
		case OPT_DURATION:
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (optarg[0] == '\0' || *end != '\0' || errno != 0 ||
			    !isfinite(o->duration) || o->duration <= 0 || o->duration > 86400) {
				fprintf(stderr, "streamperf: --duration: '%s' is not a number of "
						"seconds in (0, 86400]\n",
					optarg);
				return -1;
			}
			break;
		case OPT_INFLIGHT:
			if (sp_parse_u64("inflight", optarg, 1, 1u << 20, &o->inflight) < 0)
				return -1;
			have_inflight = true;
			break;
		case OPT_BUFSIZE:
			if (sp_parse_u64("bufsize", optarg, 4096, 1u << 30, &o->bufsize) < 0)
				return -1;
			break;
		case OPT_CPUS:
			if (sp_parse_cpus(optarg, &o->cpu_tx, &o->cpu_rx) < 0)
				return -1;
			break;
		case OPT_HELP:
		case 'h':
			sp_usage(stdout, argv[0]);
			return 1;
		default:
			fprintf(stderr, "Try '%s --help'.\n", argv[0]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "streamperf: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!have_peer) {
		fprintf(stderr, "streamperf: --peer is required\nTry '%s --help'.\n", argv[0]);
		return -1;
	}
	if (have_inflight && o->mode != SP_ECHO) {
		fprintf(stderr, "streamperf: --inflight is for --mode echo\n");
		return -1;
	}
	/*
	 * The sender writes --inflight chunks before it reads one back; if they
	 * do not fit the buffering of one direction, both ends can end up
	 * blocked in write(). Refuse rather than hang.
	 */
	if (o->inflight > 1 &&
	    o->inflight * o->size > (o->bufsize ? o->bufsize : sp_pipe_max())) {
		fprintf(stderr,
			"streamperf: --inflight %" PRIu64 " x --size %zu is more than the %" PRIu64
			"-byte buffer of one direction (--bufsize)\n",
			o->inflight, o->size, o->bufsize ? o->bufsize : sp_pipe_max());
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- I/O */

/* Write all of it; 0, or -1 with errno. */
static int
sp_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read exactly n; 1 done, 0 EOF before the first byte, -1 error (EPIPE: EOF mid-way). */
static int
sp_read_all(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			if (got == 0)
				return 0;
			errno = EPIPE;
			return -1;
		}
		got += (size_t)r;
	}
	return 1;
}

static void
sp_pin(int cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "streamperf: warning: cannot pin the %s to CPU %d: %s\n", who, cpu,
			strerror(errno));
}

/* ---------------------------------------------------------- buffering */

static uint64_t
sp_pipe_max(void)
{
	unsigned long long v = 0;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");

	if (f != NULL) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v >= 4096 ? v : SP_DEF_BUF;
}

/* Grow a pipe; returns the size the kernel granted (fcntl rounds up to pages). */
static long
sp_pipe_grow(int fd, uint64_t want)
{
	long got;

	if (fcntl(fd, F_SETPIPE_SZ, (int)want) < 0)
		fprintf(stderr, "streamperf: warning: F_SETPIPE_SZ %" PRIu64 ": %s\n", want,
			strerror(errno));
	got = fcntl(fd, F_GETPIPE_SZ);
	return got;
}

/* One socket option, forced past the sysctl cap when allowed. */
static int
sp_sock_buf(int fd, int opt, int force_opt, uint64_t want)
{
	int v = (int)want, got = 0;
	socklen_t len = sizeof(got);

	/* The FORCE variants need CAP_NET_ADMIN; without it fall back. */
	if (setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof(v)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v)) < 0)
		fprintf(stderr, "streamperf: warning: setsockopt(%d, %d): %s\n", opt, v,
			strerror(errno));
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) < 0)
		return -1;
	return got;
}

static void
sp_sock_setup(int fd[2], uint64_t want)
{
	int snd[2], rcv[2];

	for (int i = 0; i < 2; i++) {
		snd[i] = sp_sock_buf(fd[i], SO_SNDBUF, SO_SNDBUFFORCE, want);
		rcv[i] = sp_sock_buf(fd[i], SO_RCVBUF, SO_RCVBUFFORCE, want);
	}
	printf("streamperf: unix socketpair(AF_UNIX, SOCK_STREAM): asked SO_SNDBUF=SO_RCVBUF="
	       "%" PRIu64 " on both ends; kernel reports SO_SNDBUF=%d/%d SO_RCVBUF=%d/%d\n",
	       want, snd[0], snd[1], rcv[0], rcv[1]);
}

/* ------------------------------------------------------------ the run */

struct sp_fds {
	int tx_w, tx_r; /* parent -> child: parent writes tx_w, child reads tx_r */
	int rx_w, rx_r; /* child -> parent (echo): child writes rx_w, parent reads rx_r */
	int rep_w, rep_r; /* child's report (stream) */
};

static int
sp_make_fds(const struct sp_opts *o, struct sp_fds *f)
{
	uint64_t want = o->bufsize ? o->bufsize : sp_pipe_max();
	int p[2], s[2];

	memset(f, -1, sizeof(*f));
	if (pipe(p) < 0)
		return -1;
	f->rep_r = p[0];
	f->rep_w = p[1];
	if (o->peer == SP_UNIX) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
			return -1;
		sp_sock_setup(s, want);
		f->tx_w = f->rx_r = s[0];
		f->tx_r = f->rx_w = s[1];
		return 0;
	}
	if (pipe(p) < 0)
		return -1;
	f->tx_r = p[0];
	f->tx_w = p[1];
	{
		long g1 = sp_pipe_grow(f->tx_w, want), g2 = -1;

		if (o->mode == SP_ECHO) {
			if (pipe(p) < 0)
				return -1;
			f->rx_r = p[0];
			f->rx_w = p[1];
			g2 = sp_pipe_grow(f->rx_w, want);
		}
		printf("streamperf: pipe: asked F_SETPIPE_SZ=%" PRIu64 " (pipe-max-size %" PRIu64
		       "); kernel gave %ld", want, sp_pipe_max(), g1);
		if (g2 >= 0)
			printf(" (back pipe: %ld)", g2);
		printf("\n");
	}
	return 0;
}

/* Child, stream mode: read to EOF, report bytes and the EOF time. */
static int
sp_child_stream(const struct sp_opts *o, const struct sp_fds *f, char *buf)
{
	struct sp_report rep = { 0, 0, 0 };

	for (;;) {
		ssize_t r = read(f->tx_r, buf, o->size);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			rep.err = errno;
			break;
		}
		if (r == 0)
			break;
		rep.bytes += (uint64_t)r;
	}
	rep.t_eof_ns = sp_now_ns();
	if (sp_write_all(f->rep_w, (const char *)&rep, sizeof(rep)) < 0)
		return SP_EXIT_FAIL;
	return rep.err ? SP_EXIT_FAIL : SP_EXIT_OK;
}

/* Child, echo mode: read each chunk whole, write it back, until EOF. */
static int
sp_child_echo(const struct sp_opts *o, const struct sp_fds *f, char *buf)
{
	for (;;) {
		int r = sp_read_all(f->tx_r, buf, o->size);

		if (r == 0)
			return SP_EXIT_OK;
		if (r < 0 || sp_write_all(f->rx_w, buf, o->size) < 0) {
			fprintf(stderr, "streamperf: echo child: %s\n", strerror(errno));
			return SP_EXIT_FAIL;
		}
	}
}

static void
sp_result(const struct sp_opts *o, uint64_t msgs, uint64_t bytes, double secs)
{
	printf("result: peer=%s mode=%s size=%zu msgs=%" PRIu64 " bytes=%" PRIu64
	       " msgs_per_s=%.1f gbit_s=%.3f\n",
	       o->peer == SP_UNIX ? "unix" : "pipe", o->mode == SP_ECHO ? "echo" : "stream",
	       o->size, msgs, bytes, secs > 0 ? (double)msgs / secs : 0.0,
	       secs > 0 ? (double)bytes * 8 / secs / 1e9 : 0.0);
}

int
main(int argc, char **argv)
{
	struct sp_opts o;
	struct sp_fds f;
	struct sp_report rep;
	uint64_t t0, t_end, msgs = 0, bytes = 0;
	char *buf, *rbuf;
	int rc, status, fail = 0;
	pid_t pid;

	rc = sp_opts_parse(argc, argv, &o);
	if (rc > 0)
		return SP_EXIT_OK;
	if (rc < 0)
		return SP_EXIT_USAGE;

	/* A dead peer is an error return (EPIPE), not a signal. */
	signal(SIGPIPE, SIG_IGN);
	buf = malloc(o.size);
	rbuf = malloc(o.size);
	if (buf == NULL || rbuf == NULL) {
		fprintf(stderr, "streamperf: out of memory for two %zu-byte buffers\n", o.size);
		return SP_EXIT_FAIL;
	}
	/* Touch every page: no zero-page or first-fault effects in the timed loop. */
	memset(buf, 0xa5, o.size);
	memset(rbuf, 0x5a, o.size);

	if (sp_make_fds(&o, &f) < 0) {
		fprintf(stderr, "streamperf: setup: %s\n", strerror(errno));
		return SP_EXIT_FAIL;
	}
	printf("streamperf: %s %s, %zu-byte chunks, %.3g s%s", o.peer == SP_UNIX ? "unix" : "pipe",
	       o.mode == SP_ECHO ? "echo" : "stream", o.size, o.duration,
	       o.mode == SP_ECHO ? "" : "\n");
	if (o.mode == SP_ECHO)
		printf(", %" PRIu64 " in flight\n", o.inflight);
	if (o.cpu_tx >= 0)
		printf("streamperf: sender pinned to CPU %d, receiver to CPU %d\n", o.cpu_tx,
		       o.cpu_rx);
	fflush(stdout);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "streamperf: fork: %s\n", strerror(errno));
		return SP_EXIT_FAIL;
	}
	if (pid == 0) {
		/* Child: the receiver. Keep only its own ends open (EOF must work). */
		sp_pin(o.cpu_rx, "receiver");
		close(f.rep_r);
		if (o.peer == SP_PIPE) {
			close(f.tx_w);
			if (f.rx_r >= 0)
				close(f.rx_r);
		} else {
			close(f.tx_w); /* == rx_r */
		}
		_exit(o.mode == SP_ECHO ? sp_child_echo(&o, &f, rbuf)
					: sp_child_stream(&o, &f, rbuf));
	}

	/* Parent: the sender. */
	sp_pin(o.cpu_tx, "sender");
	close(f.rep_w);
	if (o.peer == SP_PIPE) {
		close(f.tx_r);
		if (f.rx_w >= 0)
			close(f.rx_w);
	} else {
		close(f.tx_r); /* == rx_w */
	}

	if (o.mode == SP_STREAM) {
		t0 = sp_now_ns();
		t_end = t0 + (uint64_t)(o.duration * 1e9);
		do {
			if (sp_write_all(f.tx_w, buf, o.size) < 0) {
				fprintf(stderr, "streamperf: write: %s\n", strerror(errno));
				fail = 1;
				break;
			}
			msgs++;
		} while (sp_now_ns() < t_end);
		close(f.tx_w); /* the receiver drains and sees EOF */
		if (sp_read_all(f.rep_r, (char *)&rep, sizeof(rep)) != 1) {
			fprintf(stderr, "streamperf: no report from the receiver\n");
			fail = 1;
			memset(&rep, 0, sizeof(rep));
		} else if (rep.err) {
			fprintf(stderr, "streamperf: receiver: %s\n", strerror(rep.err));
			fail = 1;
		} else if (rep.bytes != msgs * o.size) {
			fprintf(stderr,
				"streamperf: receiver got %" PRIu64 " bytes, %" PRIu64 " were sent\n",
				rep.bytes, msgs * o.size);
			fail = 1;
		}
		bytes = rep.bytes;
		msgs = bytes / o.size;
		t_end = rep.t_eof_ns;
	} else {
		uint64_t out = 0, now;

		t0 = sp_now_ns();
		t_end = t0 + (uint64_t)(o.duration * 1e9);
		now = t0;
		for (;;) {
			/* Top up to --inflight while the time lasts, then drain. */
			while (out < o.inflight && now < t_end) {
				if (sp_write_all(f.tx_w, buf, o.size) < 0) {
					fprintf(stderr, "streamperf: write: %s\n", strerror(errno));
					fail = 1;
					goto echo_done;
				}
				out++;
			}
			if (out == 0)
				break;
			if (sp_read_all(f.rx_r, rbuf, o.size) != 1) {
				fprintf(stderr, "streamperf: echo read: %s\n",
					errno ? strerror(errno) : "EOF");
				fail = 1;
				break;
			}
			out--;
			msgs++;
			now = sp_now_ns();
		}
echo_done:
		t_end = sp_now_ns();
		bytes = msgs * o.size;
		close(f.tx_w);
	}

	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != SP_EXIT_OK) {
		fprintf(stderr, "streamperf: the receiver failed (status 0x%x)\n", status);
		fail = 1;
	}
	sp_result(&o, msgs, bytes, t_end > t0 ? (double)(t_end - t0) / 1e9 : 0);
	free(buf);
	free(rbuf);
	return fail ? SP_EXIT_FAIL : SP_EXIT_OK;
}
