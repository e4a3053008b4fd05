/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Endpoint addresses (bulk_addr.h): every form parses and prints back to
 * the same text; every malformed form is refused with its own code and a
 * reason that names the rule; a seeded stream of mutated addresses never
 * parses to something that does not print back; and opening by address
 * works: a local name from two domains (the binder gets the creator's
 * endpoint, counted), a real shm channel in this process, and the dpdk
 * scheme's resolver registry (tried in order, "not mine" passes on).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulk/bulk.h>
#include <bulk/bulk_addr.h>

#include "check.h"

/* ------------------------------------------------------------ round trip */

/* Parses, prints back exactly, and the printed text parses to the same struct. */
static void
check_round_trip(const char *s, enum bulk_addr_scheme scheme)
{
	struct bulk_addr a, b;
	char buf[BULK_ADDR_STRLEN];
	int n;

	CHECK_RC(bulk_addr_parse(s, &a), 0);
	CHECK_EQ_INT(a.scheme, scheme);
	n = bulk_addr_format(&a, buf, sizeof(buf));
	CHECK_EQ_INT(n, (long long)strlen(s));
	if (strcmp(buf, s) != 0) {
		fprintf(stderr, "round trip: '%s' printed as '%s'\n", s, buf);
		CHECK(0);
	}
	CHECK_RC(bulk_addr_parse(buf, &b), 0);
	CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	CHECK_RC(bulk_addr_explain(s, buf, sizeof(buf)), 0);
	CHECK(buf[0] == '\0');
}

static void
test_forms(void)
{
	char name[BULK_ADDR_NAME_MAX + 8];
	struct bulk_addr a;
	char buf[BULK_ADDR_STRLEN];

	check_round_trip("local:x", BULK_ADDR_LOCAL);
	check_round_trip("local:bulkperf-1234.0", BULK_ADDR_LOCAL);
	check_round_trip("shm:@bulkperf", BULK_ADDR_SHM);
	check_round_trip("shm:/tmp/bulk.sock", BULK_ADDR_SHM);
	check_round_trip("dpdk:ip=198.18.0.2,ep=1", BULK_ADDR_DPDK);
	check_round_trip("dpdk:ip=10.0.0.255,ep=65535,udp=47000", BULK_ADDR_DPDK);
	check_round_trip("dpdk:ip=1.0.0.0,ep=7,udp=1", BULK_ADDR_DPDK);
	check_round_trip("dpdk:ip=223.255.255.254,ep=100,udp=65535", BULK_ADDR_DPDK);

	/* Fields land where they belong. */
	CHECK_RC(bulk_addr_parse("dpdk:ip=198.18.0.2,ep=9,udp=4000", &a), 0);
	CHECK_EQ_INT(a.ip, 0xc6120002u);
	CHECK_EQ_INT(a.ep, 9);
	CHECK_EQ_INT(a.udp, 4000);
	CHECK(a.name[0] == '\0');
	CHECK_RC(bulk_addr_parse("shm:@abc", &a), 0);
	CHECK(strcmp(a.name, "@abc") == 0);
	CHECK_EQ_INT(a.ip, 0);
	CHECK_EQ_INT(a.ep, 0);

	/* dpdk keys in any order; printed in the canonical one. */
	CHECK_RC(bulk_addr_parse("dpdk:udp=5,ep=3,ip=198.18.0.1", &a), 0);
	CHECK_EQ_INT(bulk_addr_format(&a, buf, sizeof(buf)), 29);
	CHECK(strcmp(buf, "dpdk:ip=198.18.0.1,ep=3,udp=5") == 0);

	/* The longest names: exactly BULK_ADDR_NAME_MAX bytes (shm: '@' included). */
	memset(name, 0, sizeof(name));
	memcpy(name, "local:", 6);
	memset(name + 6, 'n', BULK_ADDR_NAME_MAX);
	check_round_trip(name, BULK_ADDR_LOCAL);
	memcpy(name, "shm:@", 5);
	memset(name + 5, 's', BULK_ADDR_NAME_MAX - 1);
	name[4 + BULK_ADDR_NAME_MAX] = '\0';
	check_round_trip(name, BULK_ADDR_SHM);
	CHECK(strlen(name) < BULK_ADDR_STRLEN);

	CHECK(strcmp(bulk_addr_scheme_name(BULK_ADDR_LOCAL), "local") == 0);
	CHECK(strcmp(bulk_addr_scheme_name(BULK_ADDR_SHM), "shm") == 0);
	CHECK(strcmp(bulk_addr_scheme_name(BULK_ADDR_DPDK), "dpdk") == 0);
	CHECK(strcmp(bulk_addr_scheme_name(BULK_ADDR_NONE), "?") == 0);
}

/* -------------------------------------------------------------- refusals */

struct bad {
	const char *s;
	int rc;
	const char *why; /* a piece of the reason bulk_addr_explain() gives */
};

static const struct bad bad_forms[] = {
	{ "", -EINVAL, "empty address" },
	{ "nothing", -EAFNOSUPPORT, "no scheme" },
	{ "tcp:1.2.3.4:5", -EAFNOSUPPORT, "unknown scheme 'tcp'" },
	{ "LOCAL:x", -EAFNOSUPPORT, "unknown scheme" },
	{ ":x", -EAFNOSUPPORT, "unknown scheme" },
	{ "local:", -EINVAL, "name is empty" },
	{ "local:a b", -EINVAL, "blank or a control byte" },
	{ "local:tab\there", -EINVAL, "blank or a control byte" },
	{ "local:x\n", -EINVAL, "blank or a control byte" },
	{ "local:\x80", -EINVAL, "blank or a control byte" },
	{ "shm:", -EINVAL, "neither @NAME" },
	{ "shm:name", -EINVAL, "neither @NAME" },
	{ "shm:@", -EINVAL, "name is empty" },
	{ "shm:/", -EINVAL, "name is empty" },
	{ "shm:@a b", -EINVAL, "blank" },
	{ "dpdk:", -EINVAL, "no keys" },
	{ "dpdk:ip", -EINVAL, "not key=value" },
	{ "dpdk:ip=198.18.0.2", -EINVAL, "ep=N is missing" },
	{ "dpdk:ep=1", -EINVAL, "ip=A.B.C.D is missing" },
	{ "dpdk:ip=198.18.0.2,ep=1,port=3", -EINVAL, "unknown key 'port'" },
	{ "dpdk:ip=198.18.0.2,ep=1,IP=1.2.3.4", -EINVAL, "unknown key 'IP'" },
	{ "dpdk:ip=198.18.0.2,ep=1,ep=2", -EINVAL, "key 'ep' given twice" },
	{ "dpdk:ip=198.18.0.2,ip=198.18.0.3,ep=1", -EINVAL, "key 'ip' given twice" },
	{ "dpdk:ip=198.18.0.2,ep=", -EINVAL, "key 'ep' has no value" },
	{ "dpdk:ip=198.18.0.2,=1", -EINVAL, "key is empty" },
	{ "dpdk:ip=198.18.0.2,ep=1,", -EINVAL, "nothing after the last ','" },
	{ "dpdk:ip=198.18.0.2,,ep=1", -EINVAL, "not key=value" },
	{ "dpdk:ip=198.18.0.2, ep=1", -EINVAL, "unknown key '?ep'" },
	{ "dpdk:ip=198.18.0.2,ep=1x", -EINVAL, "not a decimal number" },
	{ "dpdk:ip=198.18.0.2,ep=1 ", -EINVAL, "not a decimal number" },
	{ "dpdk:ip=198.18.0.2,ep=-1", -EINVAL, "not a decimal number" },
	{ "dpdk:ip=198.18.0.2,ep=+1", -EINVAL, "not a decimal number" },
	{ "dpdk:ip=198.18.0.2,ep=01", -EINVAL, "leading zero" },
	{ "dpdk:ip=198.18.0.2,ep=0", -ERANGE, "not in 1..65535" },
	{ "dpdk:ip=198.18.0.2,ep=65536", -ERANGE, "not in 1..65535" },
	{ "dpdk:ip=198.18.0.2,ep=99999999999999999999", -ERANGE, "not in 1..65535" },
	{ "dpdk:ip=198.18.0.2,ep=1,udp=0", -ERANGE, "udp '0'" },
	{ "dpdk:ip=198.18.0.2,ep=1,udp=70000", -ERANGE, "udp '70000'" },
	{ "dpdk:ip=198.18.0.300,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=198.18.0,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=198.18.0.2.1,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=198.018.0.2,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=198.18..2,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=1984.1.1.1,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=host.example,ep=1", -EINVAL, "not an IPv4 address" },
	{ "dpdk:ip=0.1.2.3,ep=1", -EADDRNOTAVAIL, "not a unicast address" },
	{ "dpdk:ip=224.0.0.1,ep=1", -EADDRNOTAVAIL, "not a unicast address" },
	{ "dpdk:ip=255.255.255.255,ep=1", -EADDRNOTAVAIL, "not a unicast address" },
};

static void
check_refused(const char *s, int rc, const char *why)
{
	struct bulk_addr a, zero;
	char buf[160];

	memset(&zero, 0, sizeof(zero));
	memset(&a, 0xa5, sizeof(a));
	CHECK_RC(bulk_addr_parse(s, &a), rc);
	/* Nothing half-parsed is left behind. */
	CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
	CHECK_RC(bulk_addr_explain(s, buf, sizeof(buf)), rc);
	if (strstr(buf, why) == NULL) {
		fprintf(stderr, "'%s': reason '%s' does not say '%s'\n", s, buf, why);
		CHECK(0);
	}
}

static void
test_refusals(void)
{
	char s[BULK_ADDR_NAME_MAX + 16];
	char buf[8];

	for (size_t i = 0; i < sizeof(bad_forms) / sizeof(bad_forms[0]); i++)
		check_refused(bad_forms[i].s, bad_forms[i].rc, bad_forms[i].why);

	/* One byte too many. */
	memset(s, 0, sizeof(s));
	memcpy(s, "local:", 6);
	memset(s + 6, 'n', BULK_ADDR_NAME_MAX + 1);
	check_refused(s, -ENAMETOOLONG, "longer than 107 bytes");
	memset(s, 0, sizeof(s));
	memcpy(s, "shm:@", 5);
	memset(s + 5, 's', BULK_ADDR_NAME_MAX);
	check_refused(s, -ENAMETOOLONG, "longer than 107 bytes");
	memset(s, 0, sizeof(s));
	memcpy(s, "shm:/", 5);
	memset(s + 5, 'p', BULK_ADDR_NAME_MAX + 8);
	s[sizeof(s) - 1] = '\0';
	check_refused(s, -ENAMETOOLONG, "longer than");

	/* A long reason is cut to the room given, NUL-terminated. */
	CHECK_RC(bulk_addr_explain("dpdk:ip=1.2.3.4,ep=1,bogus=1", buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(strlen(buf), sizeof(buf) - 1);

	CHECK_RC(bulk_addr_parse(NULL, &(struct bulk_addr){ 0 }), -EINVAL);
	CHECK_RC(bulk_addr_parse("local:x", NULL), -EINVAL);
	CHECK_RC(bulk_addr_explain("local:x", NULL, 4), -EINVAL);
	CHECK_RC(bulk_addr_explain("local:", NULL, 0), -EINVAL);
}

static void
test_format_errors(void)
{
	struct bulk_addr a;
	char buf[BULK_ADDR_STRLEN];

	CHECK_RC(bulk_addr_parse("shm:@abcdef", &a), 0);
	/* Exactly the room: length + NUL; one less is too little. */
	CHECK_EQ_INT(bulk_addr_format(&a, buf, 12), 11);
	memset(buf, 'x', sizeof(buf));
	CHECK_RC(bulk_addr_format(&a, buf, 11), -ENOSPC);
	CHECK(buf[0] == '\0');
	CHECK_RC(bulk_addr_parse("dpdk:ip=198.18.0.2,ep=1,udp=5", &a), 0);
	CHECK_RC(bulk_addr_format(&a, buf, 26), -ENOSPC); /* the udp part does not fit */
	CHECK(buf[0] == '\0');
	CHECK_RC(bulk_addr_format(&a, buf, 0), -ENOSPC);

	/* Structs no parse could produce are refused, not printed. */
	memset(&a, 0, sizeof(a));
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL);
	a.scheme = BULK_ADDR_DPDK;
	a.ip = 0xc6120002u;
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL); /* ep 0 */
	a.ep = 1;
	a.ip = 0xe0000001u;
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL); /* multicast */
	memset(&a, 0, sizeof(a));
	a.scheme = BULK_ADDR_SHM;
	strcpy(a.name, "noprefix");
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL);
	a.scheme = BULK_ADDR_LOCAL;
	memset(a.name, 'x', sizeof(a.name)); /* no NUL */
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL);
	a.scheme = (enum bulk_addr_scheme)99;
	CHECK_RC(bulk_addr_format(&a, buf, sizeof(buf)), -EINVAL);
	CHECK_RC(bulk_addr_format(NULL, buf, sizeof(buf)), -EINVAL);
}

/* --------------------------------------------------------- mutation run */

static uint64_t rng_state;

static uint32_t
rng(void)
{
	/* xorshift64*: enough to shake the parser, reproducible by seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/*
 * Mutate valid addresses byte by byte: whatever parses must print back to
 * a text that parses to the same struct, and whatever does not parse must
 * leave the struct zeroed and get a reason.
 */
static void
test_mutations(uint64_t seed)
{
	static const char *const seeds[] = {
		"local:name",
		"shm:@abstract",
		"shm:/a/path",
		"dpdk:ip=198.18.0.2,ep=1",
		"dpdk:ep=65535,udp=47000,ip=10.1.2.3",
	};
	static const char alphabet[] = "local:shmdpkip=ep,udp.@/0123456789 \t\x01\xff";
	unsigned parsed = 0, refused = 0;

	rng_state = seed ? seed : 1;
	for (unsigned iter = 0; iter < 200000; iter++) {
		char s[BULK_ADDR_STRLEN + 8], buf[BULK_ADDR_STRLEN], why[128];
		struct bulk_addr a, b, zero;
		size_t n;
		int rc;

		snprintf(s, sizeof(s), "%s", seeds[rng() % 5]);
		for (unsigned k = rng() % 4 + 1; k > 0; k--) {
			n = strlen(s);
			switch (rng() % 3) {
			case 0: /* replace */
				if (n > 0)
					s[rng() % n] = alphabet[rng() % (sizeof(alphabet) - 1)];
				break;
			case 1: /* delete */
				if (n > 0) {
					size_t at = rng() % n;

					memmove(s + at, s + at + 1, n - at);
				}
				break;
			default: /* insert */
				if (n + 1 < sizeof(s)) {
					size_t at = rng() % (n + 1);

					memmove(s + at + 1, s + at, n - at + 1);
					s[at] = alphabet[rng() % (sizeof(alphabet) - 1)];
				}
				break;
			}
		}
		memset(&zero, 0, sizeof(zero));
		rc = bulk_addr_parse(s, &a);
		if (rc == 0) {
			parsed++;
			CHECK(bulk_addr_format(&a, buf, sizeof(buf)) > 0);
			CHECK_RC(bulk_addr_parse(buf, &b), 0);
			CHECK(memcmp(&a, &b, sizeof(a)) == 0);
		} else {
			refused++;
			CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
			CHECK_RC(bulk_addr_explain(s, why, sizeof(why)), rc);
			CHECK(why[0] != '\0');
		}
	}
	CHECK(parsed > 1000 && refused > 1000);
}

/* --------------------------------------------------- opening by address */

static int bound;

static void
on_bound(void *arg, int err, struct bulk_channel *ch)
{
	(void)arg;
	(void)ch;
	bound = err == 0 ? 1 : err;
}

/* Create on @p addr in @p a, bind from @p b through the same text, connect, close. */
static void
connect_by_address(const char *text)
{
	struct bulk_domain *a, *b;
	struct bulk_endpoint *lep, *rep;
	struct bulk_channel *cch, *bch;
	struct bulk_channel_params cp = { .direction = BULK_DIRECTION_RX, .meta_size = 8 };
	struct bulk_bind_params bp = { 0 };
	static const struct bulk_channel_callbacks none;
	struct bulk_addr addr;
	int spins = 0, rc;

	CHECK_RC(bulk_addr_parse(text, &addr), 0);
	CHECK_RC(bulk_domain_create("creator", &a), 0);
	CHECK_RC(bulk_domain_create("binder", &b), 0);
	rc = bulk_addr_endpoint_create(a, &addr, &lep);
	if (rc == -BULK_E_NO_BACKEND) {
		printf("%s: backend not built, not connected\n", text);
		CHECK_RC(bulk_domain_destroy(b), 0);
		CHECK_RC(bulk_domain_destroy(a), 0);
		return;
	}
	CHECK_RC(rc, 0);
	CHECK_RC(bulk_channel_create(lep, &none, &cp, &cch), 0);
	CHECK_RC(bulk_addr_endpoint_remote(b, &addr, &rep), 0);
	bound = 0;
	CHECK_RC(bulk_channel_bind(b, rep, &none, &bp, (struct bulk_cont){ on_bound, NULL }, &bch),
		 0);
	while (bound == 0 && spins++ < 1000000) {
		CHECK(bulk_domain_poll(a, 0) >= 0);
		CHECK(bulk_domain_poll(b, 0) >= 0);
	}
	CHECK_EQ_INT(bound, 1);
	CHECK_EQ_INT(bulk_channel_state(cch), BULK_STATE_CONNECTED);
	CHECK_EQ_INT(bulk_channel_direction(bch), BULK_DIRECTION_TX);
	CHECK(strcmp(bulk_channel_backend(bch), bulk_addr_scheme_name(addr.scheme)) == 0);
	CHECK_RC(bulk_channel_destroy(bch, BULK_CONT_NONE), 0);
	for (spins = 0; spins < 1000000 && (bulk_channel_state(cch) != BULK_STATE_CLOSED ||
					    bulk_channel_state(bch) != BULK_STATE_CLOSED);
	     spins++) {
		CHECK(bulk_domain_poll(a, 0) >= 0);
		CHECK(bulk_domain_poll(b, 0) >= 0);
	}
	CHECK_EQ_INT(bulk_channel_state(bch), BULK_STATE_CLOSED);
	/* Endpoint before its channel: refused, nothing dropped. */
	CHECK_RC(bulk_addr_endpoint_free(lep), -EBUSY);
	CHECK_RC(bulk_channel_free(bch), 0);
	CHECK_RC(bulk_channel_free(cch), 0);
	CHECK_RC(bulk_addr_endpoint_free(rep), 0);
	CHECK_RC(bulk_addr_endpoint_free(lep), 0);
	CHECK_RC(bulk_domain_destroy(b), 0);
	CHECK_RC(bulk_domain_destroy(a), 0);
}

static void
test_local_names(void)
{
	struct bulk_domain *a, *b;
	struct bulk_endpoint *ep, *r1, *r2, *other;
	struct bulk_addr addr, addr2;

	CHECK_RC(bulk_domain_create("a", &a), 0);
	CHECK_RC(bulk_domain_create("b", &b), 0);
	CHECK_RC(bulk_addr_parse("local:test-names", &addr), 0);
	CHECK_RC(bulk_addr_parse("local:test-names-2", &addr2), 0);
	/* Nobody made it yet: what a binder retries on. */
	CHECK_RC(bulk_addr_endpoint_remote(b, &addr, &r1), -BULK_E_EP_NO_CHANNEL);
	CHECK_RC(bulk_addr_endpoint_create(a, &addr, &ep), 0);
	CHECK_RC(bulk_addr_endpoint_create(b, &addr, &other), -EADDRINUSE);
	CHECK_RC(bulk_addr_endpoint_create(b, &addr2, &other), 0);
	/* Binders get the creator's own endpoint, each a reference. */
	CHECK_RC(bulk_addr_endpoint_remote(b, &addr, &r1), 0);
	CHECK_RC(bulk_addr_endpoint_remote(b, &addr, &r2), 0);
	CHECK(r1 == ep && r2 == ep);
	CHECK_RC(bulk_addr_endpoint_free(ep), 0);
	CHECK_RC(bulk_addr_endpoint_free(r1), 0);
	/* The last reference holds the name and keeps the domain busy. */
	CHECK_RC(bulk_addr_endpoint_create(a, &addr, &r1), -EADDRINUSE);
	CHECK_RC(bulk_domain_destroy(a), -EBUSY);
	CHECK_RC(bulk_addr_endpoint_free(r2), 0);
	CHECK_RC(bulk_addr_endpoint_remote(b, &addr, &r1), -BULK_E_EP_NO_CHANNEL);
	/* The name is free again. */
	CHECK_RC(bulk_addr_endpoint_create(a, &addr, &ep), 0);
	CHECK_RC(bulk_addr_endpoint_free(ep), 0);
	CHECK_RC(bulk_addr_endpoint_free(other), 0);
	CHECK_RC(bulk_domain_destroy(a), 0);
	CHECK_RC(bulk_domain_destroy(b), 0);

	CHECK_RC(bulk_addr_endpoint_free(NULL), -EINVAL);
	memset(&addr, 0, sizeof(addr));
	CHECK_RC(bulk_addr_endpoint_create(a, &addr, &ep), -EINVAL);
	CHECK_RC(bulk_addr_endpoint_remote(NULL, &addr2, &ep), -EINVAL);
}

/* ---------------------------------------------------- dpdk: the registry */

struct fake {
	int answer; /* what both operations return */
	unsigned calls;
	const struct bulk_addr *seen;
};

static struct bulk_endpoint *const fake_ep = (struct bulk_endpoint *)&rng_state;

static int
fake_op(void *ctx, struct bulk_domain *d, const struct bulk_addr *a, struct bulk_endpoint **out)
{
	struct fake *f = ctx;

	(void)d;
	f->calls++;
	f->seen = a;
	if (f->answer == 0)
		*out = fake_ep;
	return f->answer;
}

static const struct bulk_addr_ops fake_ops = { fake_op, fake_op };

static void
test_resolvers(void)
{
	struct fake f1 = { 1, 0, NULL }, f2 = { 0, 0, NULL }, many[BULK_ADDR_MAX_RESOLVERS];
	struct bulk_domain *d;
	struct bulk_endpoint *ep = NULL;
	struct bulk_addr a;
	unsigned n = 0;

	CHECK_RC(bulk_domain_create("d", &d), 0);
	CHECK_RC(bulk_addr_parse("dpdk:ip=198.18.0.2,ep=4", &a), 0);
	/* No link registered: as if the backend were not there. */
	CHECK_RC(bulk_addr_endpoint_create(d, &a, &ep), -BULK_E_NO_BACKEND);
	CHECK_RC(bulk_addr_endpoint_remote(d, &a, &ep), -BULK_E_NO_BACKEND);

	CHECK_RC(bulk_addr_register(BULK_ADDR_LOCAL, &fake_ops, &f1), -EINVAL);
	CHECK_RC(bulk_addr_register(BULK_ADDR_SHM, &fake_ops, &f1), -EINVAL);
	CHECK_RC(bulk_addr_register(BULK_ADDR_DPDK, NULL, &f1), -EINVAL);
	CHECK_RC(bulk_addr_register(BULK_ADDR_DPDK, &fake_ops, &f1), 0);
	CHECK_RC(bulk_addr_register(BULK_ADDR_DPDK, &fake_ops, &f1), -EEXIST);
	/* Only one resolver, and not its address. */
	CHECK_RC(bulk_addr_endpoint_create(d, &a, &ep), -EADDRNOTAVAIL);
	CHECK_RC(bulk_addr_endpoint_remote(d, &a, &ep), -EHOSTUNREACH);
	CHECK_EQ_INT(f1.calls, 2);
	CHECK(f1.seen == &a);
	/* The first says "not mine", the second resolves. */
	CHECK_RC(bulk_addr_register(BULK_ADDR_DPDK, &fake_ops, &f2), 0);
	CHECK_RC(bulk_addr_endpoint_remote(d, &a, &ep), 0);
	CHECK(ep == fake_ep);
	CHECK_EQ_INT(f1.calls, 3);
	CHECK_EQ_INT(f2.calls, 1);
	/* An error is passed on as it is, and ends the search. */
	f1.answer = -ENODEV;
	CHECK_RC(bulk_addr_endpoint_create(d, &a, &ep), -ENODEV);
	CHECK_EQ_INT(f2.calls, 1);
	CHECK_RC(bulk_addr_unregister(BULK_ADDR_DPDK, &fake_ops, &f1), 0);
	CHECK_RC(bulk_addr_unregister(BULK_ADDR_DPDK, &fake_ops, &f1), -ENOENT);
	CHECK_RC(bulk_addr_unregister(BULK_ADDR_DPDK, NULL, &f1), -EINVAL);
	CHECK_RC(bulk_addr_endpoint_create(d, &a, &ep), 0);
	CHECK_EQ_INT(f2.calls, 2);
	/* The table is bounded. */
	for (unsigned i = 0; i < BULK_ADDR_MAX_RESOLVERS; i++) {
		many[i] = (struct fake){ 1, 0, NULL };
		if (bulk_addr_register(BULK_ADDR_DPDK, &fake_ops, &many[i]) == 0)
			n++;
		else
			break;
	}
	CHECK_EQ_INT(n, BULK_ADDR_MAX_RESOLVERS - 1);
	CHECK_RC(bulk_addr_register(BULK_ADDR_DPDK, &fake_ops, &f1), -ENOSPC);
	for (unsigned i = 0; i < n; i++)
		CHECK_RC(bulk_addr_unregister(BULK_ADDR_DPDK, &fake_ops, &many[i]), 0);
	CHECK_RC(bulk_addr_unregister(BULK_ADDR_DPDK, &fake_ops, &f2), 0);
	CHECK_RC(bulk_addr_endpoint_remote(d, &a, &ep), -BULK_E_NO_BACKEND);
	CHECK_RC(bulk_domain_destroy(d), 0);
}

int
main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 20261123;
	char shm_addr[64];

	test_forms();
	test_refusals();
	test_format_errors();
	test_mutations(seed);
	test_local_names();
	connect_by_address("local:test-connect");
	snprintf(shm_addr, sizeof(shm_addr), "shm:@bulk-test-addr-%ld", (long)getpid());
	connect_by_address(shm_addr);
	test_resolvers();
	return CHECK_DONE("test_addr");
}
