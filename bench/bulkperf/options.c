/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Command line of bulkperf. Like dpdk-testpmd, everything before a "--" is
 * for the EAL (ignored by the local and shm backends) and the application's
 * own options follow it; without a "--" every argument is the application's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bulk_config.h"
#include "bulkperf.h"

/* meson says whether dpdk.c (and the dpdk backend it drives) is built. */
#ifndef PERF_HAVE_DPDK
#define PERF_HAVE_DPDK 0
#endif

/* The forked chain names link k's endpoint NAME.k (k < PERF_MAX_HOPS + 1). */
#define PERF_LINK_SUFFIX_MAX 3u

static const char *const perf_mode_names[] = {
	[PERF_MODE_TXONLY] = "txonly",
	[PERF_MODE_RXONLY] = "rxonly",
	[PERF_MODE_ECHO] = "echo",
	[PERF_MODE_RTT] = "rtt",
	[PERF_MODE_PASSTHROUGH] = "passthrough",
};

const char *
perf_mode_name(enum perf_mode m)
{
	if ((unsigned)m < sizeof(perf_mode_names) / sizeof(perf_mode_names[0]))
		return perf_mode_names[m];
	return "?";
}

const char *
perf_trust_name(enum bulk_trust t)
{
	switch (t) {
	case BULK_TRUST_FULL:
		return "full";
	case BULK_TRUST_HALF:
		return "half";
	case BULK_TRUST_NONE:
		return "none";
	default:
		return "?";
	}
}

static void
perf_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"Usage: %s [EAL args --] --backend local|shm|dpdk --mode MODE [options]\n"
		"\n"
		"Moves buffers from a source domain through --hops passthrough domains to a\n"
		"sink domain over libbulk channels and back, and reports throughput and\n"
		"latency in the style of dpdk-testpmd.\n"
		"\n"
		"  --backend NAME         local: every domain in this process; shm: one process\n"
		"                         per domain; dpdk: one side of a link over a DPDK port\n"
		"  --mode MODE            txonly: source moves, sink passes back, count at source\n"
		"                         rxonly: the same, counted at the sink\n"
		"                         echo: round trips in bursts, latency per burst\n"
		"                         rtt: one buffer at a time, latency per buffer\n"
		"                         passthrough: echo through --hops hops (default 1)\n"
		"  --buffers N            pool size (default 1024)\n"
		"  --buffer-size BYTES    payload bytes per buffer (default 2048)\n"
		"  --burst N              buffers per call (default 32, at most %u)\n"
		"  --count N              stop after N buffers (default 1000000)\n"
		"  --duration SECONDS     stop after this time instead of a count\n"
		"  --trust full|half|none channel trust level (default full)\n"
		"  --hops N               passthrough domains between source and sink (max %u)\n"
		"  --return-len N         the sink passes back at most N bytes of each buffer\n"
		"                         (default: all it got; 0 over a network: no data back)\n"
		"  --verify               write a pattern and sequence number, check at the sink\n"
		"                         and when the buffer is back (without it nobody\n"
		"                         touches the payload)\n"
		"  --stats-period SECONDS periodic statistics (default 1, 0: off)\n"
		"  --csv FILE             write one row per period and a final row to FILE\n"
		"  --threads              run each domain on its own thread (default: one thread\n"
		"                         polling every domain round-robin)\n"
		"  --inflight N           most buffers away from the source at once\n"
		"                         (default: all of them; rtt: 1)\n"
		"  --queue-size N         channel descriptors per direction, power of two\n"
		"  --help                 this text\n"
		"\n"
		"shm backend. Without --role one command forks the sink and the --hops hops\n"
		"and runs the source itself; each link's downstream side creates the channel\n"
		"on NAME.LINK and the upstream side binds to it. By hand, two processes:\n"
		"  --role create          the reflector: the sink of one link; passes every\n"
		"                         buffer straight back until the peer tears the\n"
		"                         channel down or goes away; checks the payload when\n"
		"                         the source asked for --verify\n"
		"  --role bind            the source: binds (retrying while nobody listens),\n"
		"                         assigns its pool and runs --mode (not rxonly)\n"
		"  --endpoint NAME        @abstract or a socket path (default @bulkperf-<pid>;\n"
		"                         bind needs it)\n"
		"Both sides need the same --trust; half and none need --buffer-size a\n"
		"multiple of 4096.\n"
		"\n"
		"dpdk backend (when built): EAL arguments before \"--\" (e.g. -l 1 --no-pci\n"
		"--no-huge -m 512 --no-shconf --vdev net_af_xdp0,iface=veth0); bulkperf\n"
		"initialises EAL, configures the port and runs one side of one link, --role\n"
		"create (the reflector) or --role bind (the source), as over shm:\n"
		"  --port N               ethdev port (default 0)\n"
		"  --local-ip A.B.C.D     our IPv4 address (required)\n"
		"  --peer-ip A.B.C.D      the peer's IPv4 address (required)\n"
		"  --peer-mac XX:XX:XX:XX:XX:XX  the peer's MAC (default: ARP)\n"
		"  --udp-port P           UDP port of the frames (default 47000)\n"
		"  --ep-id E              endpoint number the create side listens on and\n"
		"                         the bind side binds to, 1..65535 (default %u)\n"
		"  --peer-timeout-ms T    silence after which the peer is gone (default 3000)\n"
		"  --tx-mode auto|zc|copy zero copy where the port can, always, or never\n"
		"  --window N             frames in flight per channel, power of two in\n"
		"                         64..65536 (default 4096)\n"
		"  --mtu N                IP MTU of the frames (default: the port's)\n"
		"Only --trust full.\n"
		"\n"
		"The last line printed is:\n"
		"result: backend=B mode=M buffers=N bytes=N buffers_per_s=X gbit_s=X "
		"rtt_p50_ns=X rtt_p99_ns=X verify_failures=N errors=N\n"
		"Exit status: 0 success, 1 run failure (errors, verify failures, a forked\n"
		"process that failed), 2 usage error.\n",
		prog, PERF_MAX_BURST, PERF_MAX_HOPS, PERF_DPDK_EP_DEFAULT);
}

enum {
	OPT_BACKEND = 256,
	OPT_MODE,
	OPT_BUFFERS,
	OPT_BUFFER_SIZE,
	OPT_BURST,
	OPT_COUNT,
	OPT_DURATION,
	OPT_TRUST,
	OPT_HOPS,
	OPT_VERIFY,
	OPT_RETURN_LEN,
	OPT_STATS_PERIOD,
	OPT_CSV,
	OPT_THREADS,
	OPT_INFLIGHT,
	OPT_QUEUE_SIZE,
	OPT_ROLE,
	OPT_ENDPOINT,
	OPT_PORT,
	OPT_LOCAL_IP,
	OPT_PEER_IP,
	OPT_PEER_MAC,
	OPT_UDP_PORT,
	OPT_EP_ID,
	OPT_PEER_TIMEOUT,
	OPT_TX_MODE,
	OPT_WINDOW,
	OPT_MTU,
	OPT_HELP,
};

static const struct option perf_long_opts[] = {
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "buffers", required_argument, NULL, OPT_BUFFERS },
	{ "buffer-size", required_argument, NULL, OPT_BUFFER_SIZE },
	{ "burst", required_argument, NULL, OPT_BURST },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "trust", required_argument, NULL, OPT_TRUST },
	{ "hops", required_argument, NULL, OPT_HOPS },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "return-len", required_argument, NULL, OPT_RETURN_LEN },
	{ "stats-period", required_argument, NULL, OPT_STATS_PERIOD },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "threads", no_argument, NULL, OPT_THREADS },
	{ "inflight", required_argument, NULL, OPT_INFLIGHT },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "role", required_argument, NULL, OPT_ROLE },
	{ "endpoint", required_argument, NULL, OPT_ENDPOINT },
	{ "port", required_argument, NULL, OPT_PORT },
	{ "local-ip", required_argument, NULL, OPT_LOCAL_IP },
	{ "peer-ip", required_argument, NULL, OPT_PEER_IP },
	{ "peer-mac", required_argument, NULL, OPT_PEER_MAC },
	{ "udp-port", required_argument, NULL, OPT_UDP_PORT },
	{ "ep-id", required_argument, NULL, OPT_EP_ID },
	{ "peer-timeout-ms", required_argument, NULL, OPT_PEER_TIMEOUT },
	{ "tx-mode", required_argument, NULL, OPT_TX_MODE },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Strict unsigned parse: the whole string, in range, no sign. */
static int
perf_parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/*
	 * Decimal digits only: no sign, no leading blank (strtoull would take
	 * " -1" as a huge number), and no octal surprise ("010" is ten).
	 */
	errno = 0;
	if (s[0] < '0' || s[0] > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	fprintf(stderr, "bulkperf: --%s: '%s' is not a number in %llu..%llu\n", opt, s,
		(unsigned long long)min, (unsigned long long)max);
	return -1;
}

static int
perf_parse_secs(const char *opt, const char *s, bool zero_ok, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < 0 ||
	    (!zero_ok && v == 0) || v > 86400.0 * 365) {
		fprintf(stderr, "bulkperf: --%s: '%s' is not a valid number of seconds%s\n", opt, s,
			zero_ok ? "" : " (> 0)");
		return -1;
	}
	*out = v;
	return 0;
}

/* Backends this binary can drive; the others are named so the error is useful. */
static int
perf_check_backend(const char *name)
{
	static const struct {
		const char *name;
		bool built;
	} known[] = {
		{ "local", BULK_HAVE_LOCAL },
		{ "shm", BULK_HAVE_SHM },
		{ "dpdk", PERF_HAVE_DPDK },
	};
	char built[32] = "";

	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (known[i].built)
			snprintf(built + strlen(built), sizeof(built) - strlen(built), "%s%s",
				 built[0] != '\0' ? ", " : "", known[i].name);
	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(name, known[i].name) == 0) {
			if (known[i].built)
				return 0;
			fprintf(stderr, "bulkperf: backend %s not built (built: %s)\n", name, built);
			return -1;
		}
	fprintf(stderr, "bulkperf: unknown backend '%s' (local, shm, dpdk; built: %s)\n", name,
		built);
	return -1;
}

/*
 * What the shm backend needs beyond the common checks: one process per
 * domain rules out --threads, and a by-hand pair is one link.
 */
static int
perf_check_shm(struct perf_opts *o, bool have_queue_size)
{
	size_t room = PERF_ENDPOINT_MAX - (o->role == PERF_SHM_ALL ? PERF_LINK_SUFFIX_MAX : 0);

	if (o->threads) {
		fprintf(stderr, "bulkperf: --threads is for the local backend; over shm every "
				"domain is a process of its own\n");
		return PERF_PARSE_USAGE;
	}
	if (o->role != PERF_SHM_ALL && (o->hops > 0 || o->mode == PERF_MODE_PASSTHROUGH)) {
		fprintf(stderr, "bulkperf: --role runs one link by hand; --hops and passthrough "
				"need the one-command form (no --role)\n");
		return PERF_PARSE_USAGE;
	}
	if (o->mode == PERF_MODE_RXONLY && o->role != PERF_SHM_CREATE) {
		fprintf(stderr, "bulkperf: rxonly counts at the sink, which is another process "
				"over shm; use txonly (counted at the source) or echo\n");
		return PERF_PARSE_USAGE;
	}
	if (o->role == PERF_SHM_BIND && o->endpoint == NULL) {
		fprintf(stderr, "bulkperf: --role bind needs --endpoint, the name the create "
				"side listens on\n");
		return PERF_PARSE_USAGE;
	}
	if (o->role == PERF_SHM_BIND && have_queue_size) {
		fprintf(stderr, "bulkperf: --queue-size: over shm the create side sets the "
				"queue size\n");
		return PERF_PARSE_USAGE;
	}
	/* Protections and the staging copy work on whole pages of the pool. */
	if (o->role != PERF_SHM_CREATE && o->trust != BULK_TRUST_FULL &&
	    o->buffer_size % 4096 != 0) {
		fprintf(stderr,
			"bulkperf: --trust %s over shm needs --buffer-size a multiple of 4096 "
			"(got %u)\n",
			perf_trust_name(o->trust), o->buffer_size);
		return PERF_PARSE_USAGE;
	}
	if (o->endpoint == NULL) {
		snprintf(o->endpoint_default, sizeof(o->endpoint_default), "@bulkperf-%ld",
			 (long)getpid());
		o->endpoint = o->endpoint_default;
	}
	if (o->endpoint[0] == '\0' || (o->endpoint[0] == '@' && o->endpoint[1] == '\0') ||
	    strlen(o->endpoint) > room) {
		fprintf(stderr, "bulkperf: --endpoint: '%s' is not a name of 1..%zu bytes\n",
			o->endpoint, room);
		return PERF_PARSE_USAGE;
	}
	return PERF_PARSE_OK;
}

/* A unicast IPv4 address in dotted-quad form, to host byte order. */
static int
perf_parse_ip(const char *opt, const char *s, uint32_t *out)
{
	struct in_addr a;
	uint32_t v;

	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "bulkperf: --%s: '%s' is not an IPv4 address (A.B.C.D)\n", opt, s);
		return -1;
	}
	v = ntohl(a.s_addr);
	/* 0/8 (this network), 224/4 (multicast), 240/4 (reserved, broadcast) */
	if ((v >> 24) == 0 || (v >> 28) >= 0xe) {
		fprintf(stderr, "bulkperf: --%s: '%s' is not a unicast IPv4 address\n", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* XX:XX:XX:XX:XX:XX (or with '-'), a unicast MAC that is not all zero. */
static int
perf_parse_mac(const char *s, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";
	bool zero = true;

	if (strlen(s) != 17)
		goto bad;
	for (unsigned i = 0; i < 6; i++) {
		const char *h = strchr(hex, s[3 * i] | 0x20), *l = strchr(hex, s[3 * i + 1] | 0x20);

		if (s[3 * i] == '\0' || s[3 * i + 1] == '\0' || h == NULL || l == NULL)
			goto bad;
		if (i < 5 && s[3 * i + 2] != ':' && s[3 * i + 2] != '-')
			goto bad;
		mac[i] = (uint8_t)(((h - hex) << 4) | (l - hex));
		zero = zero && mac[i] == 0;
	}
	if (zero || (mac[0] & 1)) {
		fprintf(stderr, "bulkperf: --peer-mac: '%s' is not a unicast MAC address%s\n", s,
			zero ? " (leave --peer-mac out to resolve it with ARP)" : "");
		return -1;
	}
	return 0;
bad:
	fprintf(stderr, "bulkperf: --peer-mac: '%s' is not a MAC address (XX:XX:XX:XX:XX:XX)\n",
		s);
	return -1;
}

/*
 * What the dpdk backend needs beyond the common checks: one side of one
 * link per process, started by hand, with both addresses; FULL trust only.
 */
static int
perf_check_dpdk(struct perf_opts *o, bool have_role, bool have_queue_size)
{
	if (o->trust != BULK_TRUST_FULL) {
		fprintf(stderr, "bulkperf: --trust %s: the dpdk backend supports only --trust full "
				"(the peer's memory is its own)\n",
			perf_trust_name(o->trust));
		return PERF_PARSE_USAGE;
	}
	if (!have_role) {
		fprintf(stderr, "bulkperf: --backend dpdk runs one side of a link: --role create "
				"(the reflector) or --role bind (the source) is required\n");
		return PERF_PARSE_USAGE;
	}
	if (o->endpoint != NULL) {
		fprintf(stderr, "bulkperf: --endpoint is for --backend shm; over dpdk the create "
				"side listens on --ep-id\n");
		return PERF_PARSE_USAGE;
	}
	if (o->threads) {
		fprintf(stderr, "bulkperf: --threads is for the local backend; over dpdk each "
				"side of the link is a process of its own\n");
		return PERF_PARSE_USAGE;
	}
	if (o->hops > 0 || o->mode == PERF_MODE_PASSTHROUGH) {
		fprintf(stderr, "bulkperf: --backend dpdk runs one link: no --hops, no "
				"passthrough\n");
		return PERF_PARSE_USAGE;
	}
	if (o->mode == PERF_MODE_RXONLY && o->role != PERF_SHM_CREATE) {
		fprintf(stderr, "bulkperf: rxonly counts at the sink, which is the other process "
				"over dpdk; use txonly (counted at the source) or echo\n");
		return PERF_PARSE_USAGE;
	}
	if (o->role == PERF_SHM_BIND && have_queue_size) {
		fprintf(stderr, "bulkperf: --queue-size: over dpdk the create side sets the "
				"queue size\n");
		return PERF_PARSE_USAGE;
	}
	if (o->local_ip == 0) {
		fprintf(stderr, "bulkperf: --backend dpdk needs --local-ip, this side's IPv4 "
				"address\n");
		return PERF_PARSE_USAGE;
	}
	if (o->peer_ip == 0) {
		fprintf(stderr, "bulkperf: --backend dpdk needs --peer-ip, the other side's IPv4 "
				"address\n");
		return PERF_PARSE_USAGE;
	}
	if (o->local_ip == o->peer_ip) {
		fprintf(stderr, "bulkperf: --local-ip and --peer-ip are the same address\n");
		return PERF_PARSE_USAGE;
	}
	return PERF_PARSE_OK;
}

int
perf_opts_parse(int argc, char **argv, struct perf_opts *o)
{
	const char *prog = argc > 0 ? argv[0] : "bulkperf";
	bool have_count = false, have_hops = false, have_inflight = false, have_mode = false;
	bool have_role = false, have_queue_size = false, have_dpdk_opt = false;
	char **av;
	int ac, first = 1, c;
	uint64_t v;

	memset(o, 0, sizeof(*o));
	o->buffers = 1024;
	o->buffer_size = 2048;
	o->burst = 32;
	o->count = 1000000;
	o->trust = BULK_TRUST_FULL;
	o->stats_period = 1.0;
	o->ep_id = PERF_DPDK_EP_DEFAULT;
	o->return_len = -1;

	/* EAL arguments end at the first "--"; they are the dpdk backend's business. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
	/*
	 * getopt wants argv[0] in front: reuse the slot just before the app's
	 * options (the "--"), with the program's name in it so that getopt's
	 * own messages do not start with "--:".
	 */
	o->eal_argc = first > 1 ? first - 1 : 1;
	o->eal_argv = argv;
	av = &argv[first - 1];
	ac = argc - first + 1;
	av[0] = argv[0];
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(ac, av, "h", perf_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_BACKEND:
			o->backend = optarg;
			break;
		case OPT_MODE: {
			bool found = false;

			for (unsigned m = 0; m <= PERF_MODE_PASSTHROUGH; m++)
				if (strcmp(optarg, perf_mode_names[m]) == 0) {
					o->mode = (enum perf_mode)m;
					found = true;
				}
			if (!found) {
				fprintf(stderr,
					"bulkperf: --mode: unknown mode '%s' "
					"(txonly, rxonly, echo, rtt, passthrough)\n",
					optarg);
				return PERF_PARSE_USAGE;
			}
			have_mode = true;
			break;
		}
		case OPT_BUFFERS:
			if (perf_parse_u64("buffers", optarg, 1, 1u << 24, &v) < 0)
				return PERF_PARSE_USAGE;
			o->buffers = (uint32_t)v;
			break;
		case OPT_BUFFER_SIZE:
			if (perf_parse_u64("buffer-size", optarg, 1, 1u << 30, &v) < 0)
				return PERF_PARSE_USAGE;
			o->buffer_size = (uint32_t)v;
			break;
		case OPT_BURST:
			if (perf_parse_u64("burst", optarg, 1, PERF_MAX_BURST, &v) < 0)
				return PERF_PARSE_USAGE;
			o->burst = (uint32_t)v;
			break;
		case OPT_COUNT:
			if (perf_parse_u64("count", optarg, 1, UINT64_MAX / 2, &v) < 0)
				return PERF_PARSE_USAGE;
			o->count = v;
			have_count = true;
			break;
		case OPT_DURATION:
			if (perf_parse_secs("duration", optarg, false, &o->duration) < 0)
				return PERF_PARSE_USAGE;
			break;
		case OPT_TRUST:
			if (strcmp(optarg, "full") == 0) {
				o->trust = BULK_TRUST_FULL;
			} else if (strcmp(optarg, "half") == 0) {
				o->trust = BULK_TRUST_HALF;
			} else if (strcmp(optarg, "none") == 0) {
				o->trust = BULK_TRUST_NONE;
			} else {
				fprintf(stderr, "bulkperf: --trust: '%s' is not %s\n", optarg,
					"full, half or none");
				return PERF_PARSE_USAGE;
			}
			break;
		case OPT_HOPS:
			if (perf_parse_u64("hops", optarg, 0, PERF_MAX_HOPS, &v) < 0)
				return PERF_PARSE_USAGE;
			o->hops = (unsigned)v;
			have_hops = true;
			break;
		case OPT_RETURN_LEN:
			if (perf_parse_u64("return-len", optarg, 0, 1u << 30, &v) < 0)
				return -1;
			o->return_len = (int64_t)v;
			break;
		case OPT_VERIFY:
			o->verify = true;
			break;
		case OPT_STATS_PERIOD:
			if (perf_parse_secs("stats-period", optarg, true, &o->stats_period) < 0)
				return PERF_PARSE_USAGE;
			break;
		case OPT_CSV:
			o->csv = optarg;
			break;
		case OPT_THREADS:
			o->threads = true;
			break;
		case OPT_INFLIGHT:
			if (perf_parse_u64("inflight", optarg, 1, 1u << 24, &v) < 0)
				return PERF_PARSE_USAGE;
			o->inflight = (uint32_t)v;
			have_inflight = true;
			break;
		case OPT_QUEUE_SIZE:
			if (perf_parse_u64("queue-size", optarg, 1, 1u << 20, &v) < 0)
				return PERF_PARSE_USAGE;
			if (v & (v - 1)) {
				fprintf(stderr,
					"bulkperf: --queue-size: %llu is not a power of two\n",
					(unsigned long long)v);
				return PERF_PARSE_USAGE;
			}
			o->queue_size = (uint32_t)v;
			have_queue_size = true;
			break;
		case OPT_ROLE:
			if (strcmp(optarg, "create") == 0) {
				o->role = PERF_SHM_CREATE;
			} else if (strcmp(optarg, "bind") == 0) {
				o->role = PERF_SHM_BIND;
			} else {
				fprintf(stderr, "bulkperf: --role: '%s' is not create or bind\n",
					optarg);
				return PERF_PARSE_USAGE;
			}
			have_role = true;
			break;
		case OPT_ENDPOINT:
			o->endpoint = optarg;
			break;
		case OPT_PORT:
			if (perf_parse_u64("port", optarg, 0, UINT16_MAX - 1, &v) < 0)
				return PERF_PARSE_USAGE;
			o->port = (uint16_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_LOCAL_IP:
			if (perf_parse_ip("local-ip", optarg, &o->local_ip) < 0)
				return PERF_PARSE_USAGE;
			have_dpdk_opt = true;
			break;
		case OPT_PEER_IP:
			if (perf_parse_ip("peer-ip", optarg, &o->peer_ip) < 0)
				return PERF_PARSE_USAGE;
			have_dpdk_opt = true;
			break;
		case OPT_PEER_MAC:
			if (perf_parse_mac(optarg, o->peer_mac) < 0)
				return PERF_PARSE_USAGE;
			have_dpdk_opt = true;
			break;
		case OPT_UDP_PORT:
			if (perf_parse_u64("udp-port", optarg, 1, UINT16_MAX, &v) < 0)
				return PERF_PARSE_USAGE;
			o->udp_port = (uint16_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_EP_ID:
			if (perf_parse_u64("ep-id", optarg, 1, UINT16_MAX, &v) < 0)
				return PERF_PARSE_USAGE;
			o->ep_id = (uint16_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_PEER_TIMEOUT:
			if (perf_parse_u64("peer-timeout-ms", optarg, 1, 3600u * 1000u, &v) < 0)
				return PERF_PARSE_USAGE;
			o->peer_timeout_ms = (uint32_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_TX_MODE:
			if (strcmp(optarg, "auto") == 0) {
				o->tx_mode = PERF_TX_AUTO;
			} else if (strcmp(optarg, "zc") == 0) {
				o->tx_mode = PERF_TX_ZERO_COPY;
			} else if (strcmp(optarg, "copy") == 0) {
				o->tx_mode = PERF_TX_COPY;
			} else {
				fprintf(stderr, "bulkperf: --tx-mode: '%s' is not auto, zc or copy\n",
					optarg);
				return PERF_PARSE_USAGE;
			}
			have_dpdk_opt = true;
			break;
		case OPT_WINDOW:
			if (perf_parse_u64("window", optarg, 64, 65536, &v) < 0)
				return PERF_PARSE_USAGE;
			if (v & (v - 1)) {
				fprintf(stderr, "bulkperf: --window: %llu is not a power of two\n",
					(unsigned long long)v);
				return PERF_PARSE_USAGE;
			}
			o->window = (uint32_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_MTU:
			if (perf_parse_u64("mtu", optarg, 576, 65535, &v) < 0)
				return PERF_PARSE_USAGE;
			o->mtu = (uint16_t)v;
			have_dpdk_opt = true;
			break;
		case OPT_HELP:
		case 'h':
			perf_usage(stdout, prog);
			return PERF_PARSE_HELP;
		default:
			/* getopt already named the bad option. */
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return PERF_PARSE_USAGE;
		}
	}
	if (optind < ac) {
		fprintf(stderr, "bulkperf: unexpected argument '%s'\nTry '%s --help'.\n",
			av[optind], prog);
		return PERF_PARSE_USAGE;
	}
	if (o->backend == NULL) {
		fprintf(stderr, "bulkperf: --backend is required\nTry '%s --help'.\n", prog);
		return PERF_PARSE_USAGE;
	}
	if (!have_mode) {
		fprintf(stderr, "bulkperf: --mode is required\nTry '%s --help'.\n", prog);
		return PERF_PARSE_USAGE;
	}
	if (have_count && o->duration > 0) {
		fprintf(stderr, "bulkperf: --count and --duration exclude each other\n");
		return PERF_PARSE_USAGE;
	}
	if (o->duration > 0)
		o->count = 0;
	if (o->mode == PERF_MODE_PASSTHROUGH && !have_hops)
		o->hops = 1;
	if (o->burst > o->buffers) {
		fprintf(stderr, "bulkperf: --burst %u is larger than --buffers %u\n", o->burst,
			o->buffers);
		return PERF_PARSE_USAGE;
	}
	if (o->mode == PERF_MODE_RTT) {
		if (have_inflight && o->inflight != 1) {
			fprintf(stderr, "bulkperf: rtt mode keeps one buffer in flight; "
					"use echo for more\n");
			return PERF_PARSE_USAGE;
		}
		o->inflight = 1;
	} else if (!have_inflight || o->inflight > o->buffers) {
		o->inflight = o->buffers;
	}
	if (perf_check_backend(o->backend) < 0)
		return PERF_PARSE_USAGE;
	if (strcmp(o->backend, "dpdk") == 0)
		return perf_check_dpdk(o, have_role, have_queue_size);
	if (have_dpdk_opt) {
		fprintf(stderr, "bulkperf: --port, --local-ip, --peer-ip, --peer-mac, --udp-port, "
				"--ep-id, --peer-timeout-ms, --tx-mode, --window and --mtu are for "
				"--backend dpdk\n");
		return PERF_PARSE_USAGE;
	}
	if (strcmp(o->backend, "shm") != 0) {
		if (have_role || o->endpoint != NULL) {
			fprintf(stderr, "bulkperf: --role and --endpoint are for --backend shm "
					"(--role also for dpdk)\n");
			return PERF_PARSE_USAGE;
		}
		return PERF_PARSE_OK;
	}
	return perf_check_shm(o, have_queue_size);
}
