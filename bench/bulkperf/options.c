/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bulkperf's options: one table (lib/app) for the command line, --config
 * files and --help; then what they mean together. Ranges are what works:
 * whatever passes here is refused at run time only by the machine (memory,
 * a port) or the peer, never by a limit bulkperf could have known.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulk/bulk_features.h>

#include "bulkperf.h"

/* meson says whether dpdk.c (and the dpdk backend it drives) is built. */
#ifndef PERF_HAVE_DPDK
#define PERF_HAVE_DPDK 0
#endif

/* A chain (no --role) names link k's address ADDR.k, k < PERF_MAX_HOPS + 1. */
#define PERF_LINK_SUFFIX_MAX 3u

static const char *const perf_backends[] = { "local", "shm", "dpdk", NULL };
static const char *const perf_modes[] = { "txonly", "rxonly", "echo", "rtt", "passthrough", NULL };
static const char *const perf_trusts[] = { "full", "half", "none", NULL };
static const char *const perf_roles[] = { "create", "bind", NULL };
static const char *const perf_tx_modes[] = { "auto", "zc", "copy", NULL };

/* clang-format off */
#define OPT(n, t, f, lo, hi, a, h) { n, t, offsetof(struct perf_opts, f), lo, hi, NULL, a, h, 0 }
#define CHOICE(n, f, c, a, h)	   { n, APP_OPT_CHOICE, offsetof(struct perf_opts, f), 0, 0, c, a, h, 0 }
#define HEADING(h)		   { NULL, APP_OPT_HEADING, 0, 0, 0, NULL, NULL, h, 0 }
/* clang-format on */

static const struct app_opt perf_table[] = {
	HEADING("Moves buffers from a source domain through --hops passthrough domains to a\n"
		"sink domain over libbulk channels and back, and reports throughput and\n"
		"latency in the style of dpdk-testpmd. Every option is also a key of a\n"
		"--config file (see config/bulkperf.ini)."),
	OPT("endpoint", APP_OPT_STR, endpoint, 0, 0, "ADDR",
	    "where the link's creator listens, which implies\n"
	    "the backend: local:NAME, shm:@NAME, shm:/PATH or\n"
	    "dpdk:ip=A.B.C.D,ep=N[,udp=P] (bulk_addr.h); both\n"
	    "sides of a pair name the same one (dpdk: the\n"
	    "create side's IP). A chain run by one command\n"
	    "uses ADDR.LINK per link. shm takes @NAME or /PATH\n"
	    "alone too (default @bulkperf-PID; bind needs it)"),
	CHOICE("backend", backend, perf_backends, "NAME",
	       "local: every domain in this process; shm: one\n"
	       "process per domain; dpdk: one side of a link\n"
	       "over a DPDK port (default: --endpoint's)"),
	CHOICE("mode", mode, perf_modes, "MODE",
	       "txonly: source moves, sink passes back, counted\n"
	       "  at the source; rxonly: the same, at the sink\n"
	       "echo: round trips in bursts, latency per burst\n"
	       "rtt: one buffer at a time, latency per buffer\n"
	       "passthrough: echo through --hops hops"),
	OPT("buffers", APP_OPT_U32, buffers, 1, BULK_POOL_MAX_BUFFERS, "N",
	    "pool size (default 1024)"),
	OPT("buffer-size", APP_OPT_U32, buffer_size, 1, 1u << 30, "BYTES",
	    "payload bytes per buffer (default 2048)"),
	OPT("burst", APP_OPT_U32, burst, 1, PERF_MAX_BURST, "N",
	    "buffers per call (default 32; at most 1024 and\n--buffers)"),
	OPT("count", APP_OPT_U64, count, 1, UINT64_MAX / 2, "N",
	    "stop after N buffers (default 1000000)"),
	{ "duration", APP_OPT_SECS, offsetof(struct perf_opts, duration), 0, 0, NULL, "SECONDS",
	  "stop after this time instead of a count", APP_OPT_NONZERO },
	CHOICE("trust", trust, perf_trusts, "LEVEL",
	       "full, half or none (default full; local, dpdk:\n"
	       "full only; shm half, none: --buffer-size a\n"
	       "multiple of 4096)"),
	OPT("hops", APP_OPT_U32, hops, 0, PERF_MAX_HOPS, "N",
	    "passthrough domains between source and sink, at\n"
	    "most 64 (passthrough: at least 1, default 1)"),
	OPT("return-len", APP_OPT_U32, return_len, 0, 1u << 30, "N",
	    "the sink passes back at most N bytes of each\n"
	    "buffer (default: all; 0 over a network: no data\n"
	    "comes back)"),
	OPT("verify", APP_OPT_FLAG, verify, 0, 0, NULL,
	    "write a pattern and sequence number, check both\n"
	    "at the sink and back home (without it nobody\n"
	    "touches the payload: rates are nominal)"),
	{ "stats-period", APP_OPT_SECS, offsetof(struct perf_opts, stats_period), 0, 0, NULL,
	  "SECONDS", "periodic statistics (default 1, 0: off)", 0 },
	OPT("csv", APP_OPT_STR, csv, 0, 0, "FILE",
	    "a row per period and one for the whole run, each\n"
	    "with the configuration and its interval, counting\n"
	    "only what happened in it"),
	OPT("idle-nap", APP_OPT_U32, idle_nap_us, 0, 100000, "USEC",
	    "adaptive polling: a loop that found no work for\n"
	    "64 rounds sleeps USEC instead of spinning on (CPU\n"
	    "per byte without the idle spin; default 0: spin)"),
	OPT("threads", APP_OPT_FLAG, threads, 0, 0, NULL,
	    "local: a thread per domain (default: one thread\n"
	    "polls them all)"),
	OPT("inflight", APP_OPT_U32, inflight, 1, BULK_POOL_MAX_BUFFERS, "N",
	    "most buffers away from the source at once\n"
	    "(default: all; rtt: 1)"),
	{ "queue-size", APP_OPT_U32, offsetof(struct perf_opts, queue_size), 2, 65536, NULL, "N",
	  "channel descriptors per direction, a power of two\n"
	  "in 2..65536 (the create side's)",
	  APP_OPT_POW2 },
	CHOICE("role", role, perf_roles, "SIDE",
	       "shm, dpdk: one side of one link, by hand:\n"
	       "create: the reflector (the sink), passes every\n"
	       "  buffer back until the peer tears down, checks\n"
	       "  the payload when the source marked it;\n"
	       "bind: the source, binds (retrying while nobody\n"
	       "  listens), assigns its pool, runs --mode.\n"
	       "Both need the same --trust. Without --role, shm\n"
	       "forks the sink and the hops, the source is here"),
	HEADING("dpdk (when built): EAL arguments before \"--\" (e.g. -l 1 --no-pci --no-huge\n"
		"-m 512 --no-shconf --vdev net_af_xdp0,iface=veth0), or the config key eal.\n"
		"bulkperf initialises EAL, configures the port and runs one side of a link\n"
		"(--role). The create side listens at --endpoint dpdk:ip=ITS_IP,ep=N and\n"
		"the bind side binds to the same address; each names the link's other IP.\n"
		"The flags below are the long form:"),
	OPT("port", APP_OPT_U16, port, 0, UINT16_MAX - 1, "N", "ethdev port (default 0)"),
	OPT("local-ip", APP_OPT_IPV4, local_ip, 0, 0, "A.B.C.D",
	    "this side's IPv4 address (create: the endpoint's)"),
	OPT("peer-ip", APP_OPT_IPV4, peer_ip, 0, 0, "A.B.C.D",
	    "the other side's address (bind: the endpoint's)"),
	OPT("peer-mac", APP_OPT_MAC, peer_mac, 0, 0, "MAC", "the peer's MAC (default: ARP)"),
	OPT("udp-port", APP_OPT_U16, udp_port, 1, UINT16_MAX, "P",
	    "UDP port of the frames (default 47000; udp=)"),
	OPT("ep-id", APP_OPT_U16, ep_id, 1, UINT16_MAX, "N", "endpoint number (default 1; ep=)"),
	OPT("peer-timeout-ms", APP_OPT_U32, peer_timeout_ms, 1, 3600u * 1000u, "T",
	    "silence after which the peer is gone (3000)"),
	CHOICE("tx-mode", tx_mode, perf_tx_modes, "MODE",
	       "auto, zc or copy: zero copy where the port can,\n"
	       "always, or never"),
	{ "window", APP_OPT_U32, offsetof(struct perf_opts, window), 64, 65536, NULL, "N",
	  "frames in flight per channel, a power of two in\n"
	  "64..65536 (default 4096)",
	  APP_OPT_POW2 },
	OPT("mtu", APP_OPT_U16, mtu, 576, UINT16_MAX, "N",
	    "IP MTU of the frames (default: the port's)"),
	HEADING("The last line printed is\n"
		"  result: backend=B mode=M buffers=N bytes=N buffers_per_s=X gbit_s=X\n"
		"    payload=touched|nominal rtt_p50_ns=X|n/a rtt_p99_ns=X|n/a\n"
		"    verify_failures=N errors=N\n"
		"payload=nominal: no payload byte was written or read, gbit_s is buffers x\n"
		"size; n/a: this side did not measure it. Exit status: 0 success, 1 run\n"
		"failure (errors, verify failures, a forked process that failed), 2 usage\n"
		"error."),
};

#define PERF_NOPTS (sizeof(perf_table) / sizeof(perf_table[0]))
#define PERF_USAGE                             \
	"bulkperf [EAL args --] --mode MODE\n" \
	"       (--endpoint ADDR | --backend local|shm|dpdk) [options]"

const char *
perf_mode_name(int mode)
{
	return app_opt_choice(perf_table, PERF_NOPTS, "mode", mode);
}

static bool
perf_given(const struct perf_opts *o, const char *name)
{
	return app_opt_given(&o->args, name);
}

/* Which backends this binary drives; the others are named so the error helps. */
static int
perf_check_built(const struct perf_opts *o)
{
	static const bool built[] = { BULK_HAVE_LOCAL, BULK_HAVE_SHM, PERF_HAVE_DPDK };
	char list[32] = "";

	if (built[o->backend])
		return 0;
	for (unsigned i = 0; i < 3; i++)
		if (built[i])
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] != '\0' ? ", " : "", perf_backends[i]);
	app_err("backend %s not built (built: %s)", perf_backends[o->backend], list);
	return -1;
}

/*
 * --endpoint: the scheme implies the backend; an shm name alone is the
 * shorthand of shm:NAME. Sets o->backend and o->addr (chains add .LINK).
 */
static int
perf_check_endpoint(struct perf_opts *o)
{
	const char *e = o->endpoint;
	struct bulk_addr a;
	char why[160];
	int b;

	if (strchr(e, ':') == NULL) {
		if ((e[0] == '@' || e[0] == '/') &&
		    (o->backend == PERF_BACKEND_SHM || o->backend == PERF_BACKEND_NONE)) {
			snprintf(o->addr, sizeof(o->addr), "shm:%.*s", BULK_ADDR_NAME_MAX, e);
			e = o->addr;
		} else {
			app_err("--endpoint '%s' names no backend: local:NAME, shm:@NAME, "
				"shm:/PATH or dpdk:ip=A.B.C.D,ep=N (shm also takes @NAME alone)",
				e);
			return -1;
		}
	}
	if (bulk_addr_parse(e, &a) < 0) {
		bulk_addr_explain(e, why, sizeof(why));
		app_err("--endpoint: %s", why);
		return -1;
	}
	b = a.scheme == BULK_ADDR_LOCAL ? PERF_BACKEND_LOCAL
	    : a.scheme == BULK_ADDR_SHM ? PERF_BACKEND_SHM
					: PERF_BACKEND_DPDK;
	if (o->backend != PERF_BACKEND_NONE && o->backend != b) {
		app_err("--endpoint %s is a %s address, but --backend is %s", e, perf_backends[b],
			perf_backends[o->backend]);
		return -1;
	}
	o->backend = b;
	bulk_addr_format(&a, o->addr, sizeof(o->addr));
	return 0;
}

/* A chain appends .LINK to its address: the name must leave room for it. */
static int
perf_check_name_room(struct perf_opts *o)
{
	size_t prefix = strlen(o->backend == PERF_BACKEND_SHM ? "shm:" : "local:");
	size_t room = BULK_ADDR_NAME_MAX - (o->side == PERF_SIDE_ALL ? PERF_LINK_SUFFIX_MAX : 0);

	if (strlen(o->addr) - prefix > room) {
		app_err("--endpoint: '%s' is longer than %zu bytes (a chain adds .LINK)",
			o->addr + prefix, room);
		return -1;
	}
	return 0;
}

/* Both ends of one link per process over shm, or the whole chain forked. */
static int
perf_check_shm(struct perf_opts *o)
{
	if (o->threads) {
		app_err("--threads is for the local backend; over shm every domain is a "
			"process of its own");
		return -1;
	}
	if (o->side != PERF_SIDE_ALL && (o->hops > 0 || o->mode == PERF_MODE_PASSTHROUGH)) {
		app_err("--role runs one link by hand; --hops and passthrough need the "
			"one-command form (no --role)");
		return -1;
	}
	if (o->side == PERF_SIDE_BIND && o->endpoint == NULL) {
		app_err("--role bind needs --endpoint, the address the create side listens on");
		return -1;
	}
	if (o->side == PERF_SIDE_BIND && perf_given(o, "queue-size")) {
		app_err("--queue-size: the create side sets the queue size");
		return -1;
	}
	/* Protections and the staging copy work on whole pages of the pool. */
	if (o->side != PERF_SIDE_CREATE && o->trust_level != BULK_TRUST_FULL &&
	    o->buffer_size % 4096 != 0) {
		app_err("--trust %s over shm needs --buffer-size a multiple of 4096 (got %u)",
			app_trust_name(o->trust_level), o->buffer_size);
		return -1;
	}
	if (o->endpoint == NULL)
		snprintf(o->addr, sizeof(o->addr), "shm:@bulkperf-%ld", (long)getpid());
	return perf_check_name_room(o);
}

/* Set @p *field from the address, or check that the flag agrees with it. */
static int
perf_agree(struct perf_opts *o, const char *flag, bool from_addr, uint32_t addr_v, uint32_t *field)
{
	if (!from_addr)
		return 0;
	if (perf_given(o, flag) && *field != addr_v) {
		app_err("--%s and --endpoint %s disagree", flag, o->addr);
		return -1;
	}
	*field = addr_v;
	return 0;
}

/*
 * One side of one link per process over a DPDK port, started by hand,
 * FULL trust only. The address names the create side: its IP is the
 * create side's --local-ip and the bind side's --peer-ip.
 */
static int
perf_check_dpdk(struct perf_opts *o)
{
	bool create = o->side == PERF_SIDE_CREATE, have = o->endpoint != NULL;
	struct bulk_addr a;
	uint32_t ep = o->ep_id, udp = o->udp_port;

	if (o->trust_level != BULK_TRUST_FULL) {
		app_err("--trust %s: the dpdk backend supports only --trust full (the peer's "
			"memory is its own)",
			app_trust_name(o->trust_level));
		return -1;
	}
	if (o->side == PERF_SIDE_ALL) {
		app_err("--backend dpdk runs one side of a link: --role create (the reflector) "
			"or --role bind (the source) is required");
		return -1;
	}
	if (o->threads) {
		app_err("--threads is for the local backend; over dpdk each side of the link "
			"is a process of its own");
		return -1;
	}
	if (o->hops > 0 || o->mode == PERF_MODE_PASSTHROUGH) {
		app_err("--backend dpdk runs one link: no --hops, no passthrough");
		return -1;
	}
	if (o->side == PERF_SIDE_BIND && perf_given(o, "queue-size")) {
		app_err("--queue-size: over dpdk the create side sets the queue size");
		return -1;
	}
	memset(&a, 0, sizeof(a));
	if (have && bulk_addr_parse(o->addr, &a) < 0)
		return -1;
	if (perf_agree(o, create ? "local-ip" : "peer-ip", have, a.ip,
		       create ? &o->local_ip : &o->peer_ip) < 0 ||
	    perf_agree(o, "ep-id", have, a.ep, &ep) < 0 ||
	    perf_agree(o, "udp-port", have && a.udp != 0, a.udp, &udp) < 0)
		return -1;
	o->ep_id = (uint16_t)ep;
	o->udp_port = (uint16_t)udp;
	if (o->local_ip == 0) {
		app_err("--backend dpdk needs --local-ip, this side's IPv4 address%s",
			create ? " (or --endpoint dpdk:ip=...)" : "");
		return -1;
	}
	if (o->peer_ip == 0) {
		app_err("--backend dpdk needs --peer-ip, the other side's IPv4 address%s",
			create ? "" : " (or --endpoint dpdk:ip=...)");
		return -1;
	}
	if (o->local_ip == o->peer_ip) {
		app_err("--local-ip and --peer-ip are the same address");
		return -1;
	}
	a.scheme = BULK_ADDR_DPDK;
	a.ip = create ? o->local_ip : o->peer_ip;
	a.ep = o->ep_id;
	a.udp = o->udp_port;
	bulk_addr_format(&a, o->addr, sizeof(o->addr));
	return 0;
}

/* The pool must fit the machine: a size that cannot work is a usage error. */
static int
perf_check_memory(const struct perf_opts *o)
{
	uint64_t bytes =
		(uint64_t)o->buffers * ((o->buffer_size + PERF_ALIGN - 1) & ~(PERF_ALIGN - 1));
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);

	if (pages > 0 && psize > 0 && bytes > (uint64_t)pages * (uint64_t)psize) {
		app_err("--buffers %u x --buffer-size %u is %.1f GiB, more than this machine's "
			"%.1f GiB of memory",
			o->buffers, o->buffer_size, (double)bytes / (1u << 30),
			(double)pages * (double)psize / (1u << 30));
		return -1;
	}
	return 0;
}

/* What the options mean together. */
static int
perf_opts_check(struct perf_opts *o)
{
	static const enum bulk_trust trusts[] = { BULK_TRUST_FULL, BULK_TRUST_HALF,
						  BULK_TRUST_NONE };

	if (!perf_given(o, "mode")) {
		app_err("--mode is required");
		return -1;
	}
	if (perf_given(o, "count") && perf_given(o, "duration")) {
		app_err("--count and --duration exclude each other");
		return -1;
	}
	if (o->duration > 0)
		o->count = 0;
	if (o->mode == PERF_MODE_PASSTHROUGH) {
		if (!perf_given(o, "hops")) {
			o->hops = 1;
		} else if (o->hops == 0) {
			app_err("--mode passthrough needs --hops 1 or more (with no hop it is echo)");
			return -1;
		}
	}
	if (o->burst > o->buffers) {
		app_err("--burst %u is larger than --buffers %u", o->burst, o->buffers);
		return -1;
	}
	if (o->mode == PERF_MODE_RTT) {
		if (perf_given(o, "inflight") && o->inflight != 1) {
			app_err("rtt mode keeps one buffer in flight; use echo for more");
			return -1;
		}
		o->inflight = 1;
	} else if (!perf_given(o, "inflight") || o->inflight > o->buffers) {
		o->inflight = o->buffers;
	}
	if (perf_check_memory(o) < 0)
		return -1;
	o->trust_level = trusts[o->trust];
	o->return_len_set = perf_given(o, "return-len");
	o->side = o->role < 0 ? PERF_SIDE_ALL : (o->role == 0 ? PERF_SIDE_CREATE : PERF_SIDE_BIND);
	if (o->endpoint != NULL && perf_check_endpoint(o) < 0)
		return -1;
	if (o->backend == PERF_BACKEND_NONE) {
		app_err("--endpoint ADDR or --backend NAME is required");
		return -1;
	}
	o->backend_name = perf_backends[o->backend];
	if (perf_check_built(o) < 0)
		return -1;
	if (o->mode == PERF_MODE_RXONLY && o->backend != PERF_BACKEND_LOCAL &&
	    o->side != PERF_SIDE_CREATE) {
		app_err("rxonly counts at the sink, which is another process over %s; use "
			"txonly (counted at the source) or echo",
			o->backend_name);
		return -1;
	}
	if (o->backend == PERF_BACKEND_DPDK)
		return perf_check_dpdk(o);
	if (perf_given(o, "port") || perf_given(o, "local-ip") || perf_given(o, "peer-ip") ||
	    perf_given(o, "peer-mac") || perf_given(o, "udp-port") || perf_given(o, "ep-id") ||
	    perf_given(o, "peer-timeout-ms") || perf_given(o, "tx-mode") ||
	    perf_given(o, "window") || perf_given(o, "mtu")) {
		app_err("--port, --local-ip, --peer-ip, --peer-mac, --udp-port, --ep-id, "
			"--peer-timeout-ms, --tx-mode, --window and --mtu are for --backend dpdk");
		return -1;
	}
	if (o->backend == PERF_BACKEND_SHM)
		return perf_check_shm(o);
	if (o->side != PERF_SIDE_ALL) {
		app_err("--role is for two processes by hand (shm, dpdk); the local backend runs "
			"the whole chain in this process");
		return -1;
	}
	if (o->endpoint == NULL)
		snprintf(o->addr, sizeof(o->addr), "local:bulkperf-%ld", (long)getpid());
	return perf_check_name_room(o);
}

int
perf_opts_parse(int argc, char **argv, struct perf_opts *o)
{
	static const struct perf_opts defaults = {
		.backend = PERF_BACKEND_NONE,
		.buffers = 1024,
		.buffer_size = 2048,
		.burst = 32,
		.count = 1000000,
		.stats_period = 1.0,
		.ep_id = PERF_DPDK_EP_DEFAULT,
		.role = -1,
	};
	int rc;

	*o = defaults;
	rc = app_opts_parse(perf_table, PERF_NOPTS, o, argc, argv, PERF_USAGE, &o->args);
	if (rc != APP_PARSE_OK)
		return rc;
	return perf_opts_check(o) < 0 ? APP_PARSE_USAGE : APP_PARSE_OK;
}
