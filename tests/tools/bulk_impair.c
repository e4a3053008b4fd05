/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulk_impair: a seeded, L2-transparent impairment relay for tests.
 *
 * Runs in a "middle" network namespace and forwards every Ethernet frame
 * between two interfaces (AF_PACKET raw sockets, ETH_P_ALL, promiscuous,
 * PACKET_IGNORE_OUTGOING), applying impairments per frame and independently
 * per direction:
 *
 *   bulk_impair --if-a IF --if-b IF [--seed S] [--loss PCT] [--dup PCT]
 *               [--reorder PCT] [--corrupt PCT] [--delay-us N] [--quiet]
 *
 *   loss     drop the frame
 *   dup      send it twice
 *   reorder  hold it back; send it after the next 1..3 frames of the same
 *            direction, or after 2 ms if no more frames come
 *   corrupt  flip one random bit of one random byte at offset >= 14; of a
 *            duplicated frame only the first copy is mutated
 *   delay    fixed extra delay per frame (a timed FIFO)
 *
 * ARP frames (ethertype 0x0806) are forwarded untouched and at once (no
 * delay either) and counted.  Every decision for the n-th non-ARP frame of a
 * direction comes from a generator seeded with (seed, direction, n) alone,
 * so a run is reproducible from its seed and the loss pattern does not change
 * when, say, --dup is added.
 *
 * Counters, one line per direction, printed on SIGINT/SIGTERM (then exit 0)
 * and every 5 s unless --quiet:
 *   impair a->b: frames=N forwarded=N dropped=N duplicated=N reordered=N
 *                corrupted=N arp=N bytes=N
 * frames: frames received (ARP included); forwarded: frames sent (copies of
 * a duplicate counted twice); dropped: lost on purpose, plus frames the
 * kernel refused to send (a warning says so) or a full delay queue; bytes:
 * bytes forwarded.  Frames the kernel dropped because the relay did not
 * read them fast enough are not in these counters; a line on stderr says how
 * many there were.  "impair: ready" goes to stdout once both sockets are
 * bound.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define FRAME_MAX	(64 * 1024 + 64)
#define VLAN_HLEN	4
#define ETH_HDR		14
#define HOLD_MAX	64		/* frames held back for reordering */
#define HOLD_NS		2000000ull	/* 2 ms */
#define DELAYQ_MAX	65536		/* frames in the delay FIFO */
#define BURST		64		/* frames read per socket per round */
#define STATS_NS	5000000000ull

struct pkt {
	uint64_t due;		/* delay queue: when to send; hold: deadline */
	uint32_t len;
	int countdown;		/* hold: frames still to pass it */
	uint8_t *data;
};

struct counters {
	uint64_t frames, forwarded, dropped, duplicated, reordered, corrupted, arp, bytes;
};

struct dir {
	const char *name;	/* "a->b" */
	int in, out;		/* sockets */
	uint64_t seed;		/* per direction */
	uint64_t n;		/* non-ARP frames seen, the generator's index */
	struct counters c;
	uint64_t kdrops;	/* dropped by the kernel before we read them */
	struct pkt hold[HOLD_MAX];
	int nhold;
	struct pkt *dq;		/* delay FIFO (ring) */
	size_t dq_head, dq_len;
	bool warned;
};

static struct {
	double loss, dup, reorder, corrupt;	/* probabilities in [0,1] */
	uint64_t delay_ns;
	bool quiet;
} cfg;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: seeds and steps the per-frame generator. */
static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0,1). */
static double unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * (1.0 / 9007199254740992.0);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bulk_impair --if-a IF --if-b IF [--seed S] [--loss PCT] [--dup PCT]\n"
		   "                   [--reorder PCT] [--corrupt PCT] [--delay-us N] [--quiet]\n");
}

static double parse_pct(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !(v >= 0.0 && v <= 100.0)) {
		fprintf(stderr, "bulk_impair: --%s wants a percentage 0..100, not '%s'\n", opt, s);
		exit(2);
	}
	return v / 100.0;
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end != '\0' || s[0] == '-' || v > max) {
		fprintf(stderr, "bulk_impair: bad --%s '%s'\n", opt, s);
		exit(2);
	}
	return (uint64_t)v;
}

static int open_if(const char *ifname)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	unsigned int ifindex;
	int fd, one = 1;

	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		fprintf(stderr, "bulk_impair: interface %s: %s\n", ifname, strerror(errno));
		return -1;
	}
	/* Protocol 0: nothing is queued until bind() names the protocol and the
	 * interface, so no frame of another interface slips in. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "bulk_impair: socket(AF_PACKET): %s\n", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0) {
		fprintf(stderr, "bulk_impair: PACKET_IGNORE_OUTGOING: %s\n", strerror(errno));
		goto fail;
	}
	/* VLAN tags the kernel took out of the frame come back through auxdata. */
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0) {
		fprintf(stderr, "bulk_impair: PACKET_AUXDATA: %s\n", strerror(errno));
		goto fail;
	}
	{
		int sz = 4 << 20;

		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "bulk_impair: bind %s: %s\n", ifname, strerror(errno));
		goto fail;
	}
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = (int)ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		fprintf(stderr, "bulk_impair: promiscuous %s: %s\n", ifname, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void print_counters(struct dir *d)
{
	struct tpacket_stats st;
	socklen_t sl = sizeof(st);

	/* Frames the socket buffer had no room for never reach the counters
	 * above; the kernel counts them (and resets its count on each read). */
	if (getsockopt(d->in, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0 && st.tp_drops) {
		d->kdrops += st.tp_drops;
		fprintf(stderr, "bulk_impair: %s: %" PRIu64 " frames overran the socket buffer"
			" before the relay read them (not in frames=)\n", d->name, d->kdrops);
	}
	printf("impair %s: frames=%" PRIu64 " forwarded=%" PRIu64 " dropped=%" PRIu64
	       " duplicated=%" PRIu64 " reordered=%" PRIu64 " corrupted=%" PRIu64
	       " arp=%" PRIu64 " bytes=%" PRIu64 "\n", d->name, d->c.frames, d->c.forwarded,
	       d->c.dropped, d->c.duplicated, d->c.reordered, d->c.corrupted, d->c.arp, d->c.bytes);
	fflush(stdout);
}

/* Put a frame on the wire now. */
static void xmit(struct dir *d, const uint8_t *p, uint32_t len)
{
	ssize_t r;

	do
		r = send(d->out, p, len, 0);
	while (r < 0 && errno == EINTR && !stop);
	if (r == (ssize_t)len) {
		d->c.forwarded++;
		d->c.bytes += len;
		return;
	}
	d->c.dropped++;
	if (!d->warned) {
		d->warned = true;
		fprintf(stderr, "bulk_impair: %s: send of %u bytes failed: %s (counted as dropped;"
			" warned once)\n", d->name, len, r < 0 ? strerror(errno) : "short write");
	}
}

/* Forward a frame that has passed the reorder stage: through the delay FIFO. */
static void emit(struct dir *d, const uint8_t *p, uint32_t len, uint64_t now)
{
	struct pkt *q;

	if (cfg.delay_ns == 0) {
		xmit(d, p, len);
		return;
	}
	if (d->dq_len == DELAYQ_MAX) {
		d->c.dropped++;
		return;
	}
	q = &d->dq[(d->dq_head + d->dq_len) % DELAYQ_MAX];
	q->data = malloc(len);
	if (q->data == NULL) {
		d->c.dropped++;
		return;
	}
	memcpy(q->data, p, len);
	q->len = len;
	q->due = now + cfg.delay_ns;
	d->dq_len++;
}

static void hold(struct dir *d, const uint8_t *p, uint32_t len, int countdown, uint64_t now)
{
	struct pkt *h;

	if (d->nhold == HOLD_MAX) {	/* no room: no reordering this time */
		emit(d, p, len, now);
		return;
	}
	h = &d->hold[d->nhold];
	h->data = malloc(len);
	if (h->data == NULL) {
		emit(d, p, len, now);
		return;
	}
	memcpy(h->data, p, len);
	h->len = len;
	h->countdown = countdown;
	h->due = now + HOLD_NS;
	d->nhold++;
}

/* Emit held frames whose countdown ran out (passed == true: one more frame
 * went past them) or whose deadline passed; keep the others in order. */
static void release_held(struct dir *d, bool passed, uint64_t now)
{
	int i, j = 0;

	for (i = 0; i < d->nhold; i++) {
		struct pkt *h = &d->hold[i];

		if (passed)
			h->countdown--;
		if (h->countdown <= 0 || now >= h->due) {
			emit(d, h->data, h->len, now);
			free(h->data);
		} else {
			d->hold[j++] = *h;
		}
	}
	d->nhold = j;
}

static void flush_delayed(struct dir *d, uint64_t now)
{
	while (d->dq_len > 0) {
		struct pkt *q = &d->dq[d->dq_head];

		if (q->due > now)
			break;
		xmit(d, q->data, q->len);
		free(q->data);
		d->dq_head = (d->dq_head + 1) % DELAYQ_MAX;
		d->dq_len--;
	}
}

static void handle_frame(struct dir *d, uint8_t *p, uint32_t len, uint64_t now)
{
	uint64_t s;
	double r_loss, r_dup, r_corrupt, r_reorder;
	uint64_t r_pos, r_bit, r_count;
	uint32_t clen = len;
	bool corrupt;
	int copies, i;

	d->c.frames++;
	if (len >= ETH_HDR && p[12] == 0x08 && p[13] == 0x06) {
		d->c.arp++;
		xmit(d, p, len);
		return;
	}
	/* Every decision for frame n comes from (seed, direction, n). */
	s = d->seed ^ (d->n++ * 0xd1b54a32d192ed03ull);
	(void)splitmix64(&s);
	r_loss = unit(&s);
	r_dup = unit(&s);
	r_corrupt = unit(&s);
	r_reorder = unit(&s);
	r_pos = splitmix64(&s);
	r_bit = splitmix64(&s);
	r_count = splitmix64(&s);

	if (r_loss < cfg.loss) {
		d->c.dropped++;
		return;
	}
	copies = r_dup < cfg.dup ? 2 : 1;
	if (copies == 2)
		d->c.duplicated++;
	corrupt = r_corrupt < cfg.corrupt && len > ETH_HDR;

	if (r_reorder < cfg.reorder) {
		d->c.reordered++;
		for (i = 0; i < copies; i++) {
			if (i == 0 && corrupt) {
				uint8_t save;
				uint32_t off = ETH_HDR + (uint32_t)(r_pos % (len - ETH_HDR));

				save = p[off];
				p[off] ^= (uint8_t)(1u << (r_bit & 7));
				hold(d, p, clen, 1 + (int)(r_count % 3), now);
				p[off] = save;
				d->c.corrupted++;
			} else {
				hold(d, p, clen, 1 + (int)(r_count % 3), now);
			}
		}
		return;
	}
	for (i = 0; i < copies; i++) {
		if (i == 0 && corrupt) {
			uint8_t save;
			uint32_t off = ETH_HDR + (uint32_t)(r_pos % (len - ETH_HDR));

			save = p[off];
			p[off] ^= (uint8_t)(1u << (r_bit & 7));
			emit(d, p, clen, now);
			p[off] = save;
			d->c.corrupted++;
		} else {
			emit(d, p, clen, now);
		}
	}
	release_held(d, true, now);
}

/* Read up to BURST frames from d->in. Returns -1 on a fatal error. */
static int pump(struct dir *d, uint8_t *buf)
{
	int k;

	for (k = 0; k < BURST; k++) {
		union {
			struct cmsghdr align;
			uint8_t b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} cbuf;
		struct iovec iov = { .iov_base = buf + VLAN_HLEN, .iov_len = FRAME_MAX };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = cbuf.b, .msg_controllen = sizeof(cbuf.b),
		};
		struct cmsghdr *cm;
		uint8_t *p = buf + VLAN_HLEN;
		ssize_t r;
		uint32_t len;

		r = recvmsg(d->in, &msg, MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			if (errno == ENETDOWN)	/* interface went down: keep going */
				return 0;
			fprintf(stderr, "bulk_impair: %s: recv: %s\n", d->name, strerror(errno));
			return -1;
		}
		if (r > FRAME_MAX) {
			d->c.frames++;
			d->c.dropped++;
			if (!d->warned) {
				d->warned = true;
				fprintf(stderr, "bulk_impair: %s: %zd-byte frame truncated, dropped"
					" (warned once)\n", d->name, r);
			}
			continue;
		}
		len = (uint32_t)r;
		for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
			struct tpacket_auxdata aux;

			if (cm->cmsg_level != SOL_PACKET || cm->cmsg_type != PACKET_AUXDATA)
				continue;
			memcpy(&aux, CMSG_DATA(cm), sizeof(aux));
			if ((aux.tp_status & TP_STATUS_VLAN_VALID) && len >= 12) {
				uint16_t tpid = (aux.tp_status & TP_STATUS_VLAN_TPID_VALID) ?
					aux.tp_vlan_tpid : ETH_P_8021Q;
				uint16_t be;

				/* Put the tag back between the MACs and the ethertype. */
				memmove(buf, p, 12);
				p = buf;
				be = htons(tpid);
				memcpy(p + 12, &be, 2);
				be = htons(aux.tp_vlan_tci);
				memcpy(p + 14, &be, 2);
				len += VLAN_HLEN;
			}
		}
		handle_frame(d, p, len, now_ns());
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "if-a", required_argument, NULL, 'a' },
		{ "if-b", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 's' },
		{ "loss", required_argument, NULL, 'l' },
		{ "dup", required_argument, NULL, 'd' },
		{ "reorder", required_argument, NULL, 'r' },
		{ "corrupt", required_argument, NULL, 'c' },
		{ "delay-us", required_argument, NULL, 'D' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *if_a = NULL, *if_b = NULL;
	uint64_t seed = 1, next_stats, seedstate;
	struct dir dirs[2];
	struct sigaction sa;
	sigset_t block, orig;
	uint8_t *buf;
	int opt, i, fa, fb, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'a': if_a = optarg; break;
		case 'b': if_b = optarg; break;
		case 's': seed = parse_u64("seed", optarg, UINT64_MAX); break;
		case 'l': cfg.loss = parse_pct("loss", optarg); break;
		case 'd': cfg.dup = parse_pct("dup", optarg); break;
		case 'r': cfg.reorder = parse_pct("reorder", optarg); break;
		case 'c': cfg.corrupt = parse_pct("corrupt", optarg); break;
		case 'D': cfg.delay_ns = 1000 * parse_u64("delay-us", optarg, 10000000); break;
		case 'q': cfg.quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || if_a == NULL || if_b == NULL || strcmp(if_a, if_b) == 0) {
		usage(stderr);
		return 2;
	}

	/* SIGINT/SIGTERM are blocked except inside ppoll: no lost wakeups. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	buf = malloc(FRAME_MAX + VLAN_HLEN);
	fa = open_if(if_a);
	fb = fa < 0 ? -1 : open_if(if_b);
	if (buf == NULL || fa < 0 || fb < 0)
		return 1;

	memset(dirs, 0, sizeof(dirs));
	seedstate = seed;
	for (i = 0; i < 2; i++) {
		dirs[i].name = i == 0 ? "a->b" : "b->a";
		dirs[i].in = i == 0 ? fa : fb;
		dirs[i].out = i == 0 ? fb : fa;
		dirs[i].seed = splitmix64(&seedstate);
		if (cfg.delay_ns) {
			dirs[i].dq = calloc(DELAYQ_MAX, sizeof(struct pkt));
			if (dirs[i].dq == NULL) {
				fprintf(stderr, "bulk_impair: out of memory\n");
				return 1;
			}
		}
	}
	printf("impair: ready\n");
	fflush(stdout);

	next_stats = now_ns() + STATS_NS;
	while (!stop) {
		struct pollfd pfd[2] = { { .fd = fa, .events = POLLIN }, { .fd = fb, .events = POLLIN } };
		uint64_t now = now_ns(), wake = now + 100000000ull;	/* 100 ms at most */
		struct timespec ts;
		int n;

		for (i = 0; i < 2; i++) {
			int j;

			for (j = 0; j < dirs[i].nhold; j++)
				if (dirs[i].hold[j].due < wake)
					wake = dirs[i].hold[j].due;
			if (dirs[i].dq_len && dirs[i].dq[dirs[i].dq_head].due < wake)
				wake = dirs[i].dq[dirs[i].dq_head].due;
		}
		if (!cfg.quiet && next_stats < wake)
			wake = next_stats;
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		n = ppoll(pfd, 2, &ts, &orig);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "bulk_impair: poll: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		if (stop)
			break;
		for (i = 0; i < 2 && n > 0; i++) {
			if (pfd[i].revents & (POLLERR | POLLNVAL)) {
				int err = 0;
				socklen_t el = sizeof(err);

				/* e.g. ENETDOWN while a link flaps: clear it and go on */
				(void)getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (pfd[i].revents & POLLNVAL) {
					rc = 1;
					stop = 1;
				}
			}
			if ((pfd[i].revents & POLLIN) && pump(&dirs[i], buf) < 0) {
				rc = 1;
				stop = 1;
			}
		}
		now = now_ns();
		for (i = 0; i < 2; i++) {
			release_held(&dirs[i], false, now);
			flush_delayed(&dirs[i], now);
		}
		if (!cfg.quiet && now >= next_stats) {
			print_counters(&dirs[0]);
			print_counters(&dirs[1]);
			next_stats = now + STATS_NS;
		}
	}
	print_counters(&dirs[0]);
	print_counters(&dirs[1]);
	for (i = 0; i < 2; i++) {
		while (dirs[i].nhold > 0)
			free(dirs[i].hold[--dirs[i].nhold].data);
		while (dirs[i].dq_len > 0) {
			free(dirs[i].dq[dirs[i].dq_head].data);
			dirs[i].dq_head = (dirs[i].dq_head + 1) % DELAYQ_MAX;
			dirs[i].dq_len--;
		}
		free(dirs[i].dq);
	}
	close(fa);
	close(fb);
	free(buf);
	return rc;
}
