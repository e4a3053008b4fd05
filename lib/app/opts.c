/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Options from one table: the command line (getopt_long, after the EAL
 * arguments), the --config file (inih) and --help. A value is checked the
 * same way wherever it comes from; the message says where it came from.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "app_opts.h"

#define APP_OPTS_MAX   256u
#define APP_OPT_FIRST  256 /* getopt value of table entry 0 */
#define APP_OPT_CONFIG (APP_OPT_FIRST + (int)APP_OPTS_MAX)
#define APP_OPT_HELP   (APP_OPT_CONFIG + 1)
#define APP_SECS_MAX   (86400.0 * 365)
#define APP_MSG_MAX    256u
#define APP_EAL_WORDS  64u

/* Where a value came from, and the message when it is refused. */
struct app_src {
	char where[128]; /* "--count" or "FILE: count" */
	char msg[APP_MSG_MAX];
};

static int __attribute__((format(printf, 2, 3)))
app_src_fail(struct app_src *s, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(s->msg, sizeof(s->msg), "%s: ", s->where);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(s->msg))
		vsnprintf(s->msg + n, sizeof(s->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Decimal digits only: no sign, no blank (strtoull takes " -1"), no octal "010". */
static int
app_parse_u64(struct app_src *s, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long x;
	char *end;

	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		goto bad;
	x = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < min || x > max)
		goto bad;
	*out = x;
	return 0;
bad:
	return app_src_fail(s, "'%s' is not a number in %llu..%llu", v, (unsigned long long)min,
			    (unsigned long long)max);
}

static int
app_parse_secs(struct app_src *s, const char *v, bool nonzero, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	if (v[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(x) || x < 0 ||
	    (nonzero && x == 0) || x > APP_SECS_MAX)
		return app_src_fail(s, "'%s' is not a valid number of seconds%s", v,
				    nonzero ? " (> 0)" : "");
	*out = x;
	return 0;
}

static int
app_parse_ipv4(struct app_src *s, const char *v, uint32_t *out)
{
	struct in_addr a;
	uint32_t x;

	if (inet_pton(AF_INET, v, &a) != 1)
		return app_src_fail(s, "'%s' is not an IPv4 address (A.B.C.D)", v);
	x = ntohl(a.s_addr);
	/* 0/8 (this network), 224/4 (multicast), 240/4 (reserved, broadcast) */
	if ((x >> 24) == 0 || (x >> 28) >= 0xe)
		return app_src_fail(s, "'%s' is not a unicast IPv4 address", v);
	*out = x;
	return 0;
}

/* XX:XX:XX:XX:XX:XX (or with '-'), a unicast MAC that is not all zero. */
static int
app_parse_mac(struct app_src *s, const char *v, uint8_t mac[6])
{
	static const char hex[] = "0123456789abcdef";
	bool zero = true;

	if (strlen(v) != 17)
		goto bad;
	for (unsigned i = 0; i < 6; i++) {
		const char *h = strchr(hex, v[3 * i] | 0x20), *l = strchr(hex, v[3 * i + 1] | 0x20);

		if (v[3 * i] == '\0' || v[3 * i + 1] == '\0' || h == NULL || l == NULL)
			goto bad;
		if (i < 5 && v[3 * i + 2] != ':' && v[3 * i + 2] != '-')
			goto bad;
		mac[i] = (uint8_t)(((h - hex) << 4) | (l - hex));
		zero = zero && mac[i] == 0;
	}
	if (zero || (mac[0] & 1))
		return app_src_fail(s, "'%s' is not a unicast MAC address%s", v,
				    zero ? " (leave it out to resolve it with ARP)" : "");
	return 0;
bad:
	return app_src_fail(s, "'%s' is not a MAC address (XX:XX:XX:XX:XX:XX)", v);
}

static int
app_parse_bool(struct app_src *s, const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return app_src_fail(s, "'%s' is not true or false", v);
}

static int
app_parse_choice(struct app_src *s, const struct app_opt *o, const char *v, int *out)
{
	char list[APP_MSG_MAX / 2] = "";
	size_t len = 0;

	for (int i = 0; o->choices[i] != NULL; i++)
		if (strcmp(v, o->choices[i]) == 0) {
			*out = i;
			return 0;
		}
	for (int i = 0; o->choices[i] != NULL && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i == 0 ? "" : (o->choices[i + 1] == NULL ? " or " : ", "),
					o->choices[i]);
	return app_src_fail(s, "unknown %s '%s' (%s)", o->name, v, list);
}

/* Check @p v for option @p o and store it at @p base. */
static int
app_opt_set(struct app_src *s, const struct app_opt *o, void *base, const char *v)
{
	void *p = (char *)base + o->off;
	uint64_t x = 0;

	switch (o->type) {
	case APP_OPT_FLAG:
		/* A flag on the command line has no value: it is set. */
		if (v == NULL) {
			*(bool *)p = true;
			return 0;
		}
		return app_parse_bool(s, v, p);
	case APP_OPT_U64:
	case APP_OPT_U32:
	case APP_OPT_U16:
		if (app_parse_u64(s, v, o->min, o->max, &x) < 0)
			return -1;
		if ((o->flags & APP_OPT_POW2) && (x & (x - 1)) != 0)
			return app_src_fail(s, "%llu is not a power of two", (unsigned long long)x);
		if (o->type == APP_OPT_U64)
			*(uint64_t *)p = x;
		else if (o->type == APP_OPT_U32)
			*(uint32_t *)p = (uint32_t)x;
		else
			*(uint16_t *)p = (uint16_t)x;
		return 0;
	case APP_OPT_SECS:
		return app_parse_secs(s, v, (o->flags & APP_OPT_NONZERO) != 0, p);
	case APP_OPT_STR:
		*(const char **)p = v;
		return 0;
	case APP_OPT_CHOICE:
		return app_parse_choice(s, o, v, p);
	case APP_OPT_IPV4:
		return app_parse_ipv4(s, v, p);
	case APP_OPT_MAC:
		return app_parse_mac(s, v, p);
	default:
		return app_src_fail(s, "not an option");
	}
}

static void
app_bit_set(uint64_t *bm, unsigned i)
{
	bm[i / 64] |= 1ull << (i % 64);
}

static bool
app_bit_test(const uint64_t *bm, unsigned i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static int
app_opt_index(const struct app_opt *table, unsigned n, const char *name)
{
	for (unsigned i = 0; i < n; i++)
		if (table[i].type != APP_OPT_HEADING && strcmp(table[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
app_opt_given(const struct app_args *a, const char *name)
{
	int i = app_opt_index(a->table, a->nopts, name);

	return i >= 0 && app_bit_test(a->given, (unsigned)i);
}

const char *
app_opt_choice(const struct app_opt *table, unsigned n, const char *name, int i)
{
	int k = app_opt_index(table, n, name);

	if (k < 0 || table[k].choices == NULL || i < 0)
		return "?";
	for (int j = 0; j <= i; j++)
		if (table[k].choices[j] == NULL)
			return "?";
	return table[k].choices[i];
}

/* Keep a copy of @p s until app_args_free(). */
static char *
app_args_keep(struct app_args *a, const char *s)
{
	char **strs = realloc(a->strs, (a->nstrs + 1) * sizeof(*strs));
	char *copy;

	if (strs == NULL)
		return NULL;
	a->strs = strs;
	copy = strdup(s);
	if (copy != NULL)
		a->strs[a->nstrs++] = copy;
	return copy;
}

int
app_opt_list(struct app_args *args, int argc, char **argv, const char *name, const char *cfg,
	     const char **out, unsigned max)
{
	size_t len = strlen(name);
	unsigned n = 0;
	char *copy, *save = NULL;
	int first = 1;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
	for (int i = first; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, len) != 0)
			continue;
		if (a[2 + len] == '\0' && i + 1 < argc)
			v = argv[++i];
		else if (a[2 + len] == '=')
			v = a + 3 + len;
		if (v == NULL)
			continue;
		if (n == max) {
			app_err("--%s: at most %u addresses", name, max);
			return -1;
		}
		out[n++] = v;
	}
	if (n > 0 || cfg == NULL)
		return (int)n;
	copy = app_args_keep(args, cfg);
	if (copy == NULL) {
		app_err("%s: out of memory", name);
		return -1;
	}
	for (char *w = strtok_r(copy, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (n == max) {
			app_err("%s: at most %u addresses", name, max);
			return -1;
		}
		out[n++] = w;
	}
	return (int)n;
}

void
app_args_free(struct app_args *a)
{
	for (unsigned i = 0; i < a->nstrs; i++)
		free(a->strs[i]);
	free(a->strs);
	free(a->eal_argv);
	a->strs = NULL;
	a->nstrs = 0;
	a->eal_argv = NULL;
	a->eal_argc = 0;
}

/* ------------------------------------------------------------ --config */

struct app_ini {
	struct app_args *args;
	void *base;
	const char *path;
	const char *section; /* the program's */
	const char *eal;     /* the file's "eal" value (kept) */
	struct app_src src;
};

static int
app_ini_handler(void *user, const char *section, const char *key, const char *value)
{
	struct app_ini *c = user;
	struct app_args *a = c->args;
	const char *v;
	int i;

	snprintf(c->src.where, sizeof(c->src.where), "%s: %s", c->path, key);
	if (section[0] != '\0' && strcmp(section, c->section) != 0) {
		snprintf(c->src.msg, sizeof(c->src.msg), "%s: section [%s] is not for %s ([%s])",
			 c->path, section, app_prog, c->section);
		return 0;
	}
	v = app_args_keep(a, value);
	if (v == NULL) {
		snprintf(c->src.msg, sizeof(c->src.msg), "%s: out of memory", c->path);
		return 0;
	}
	if (strcmp(key, "eal") == 0) {
		c->eal = v;
		return 1;
	}
	i = app_opt_index(a->table, a->nopts, key);
	if (i < 0 || strcmp(key, "config") == 0 || strcmp(key, "help") == 0) {
		snprintf(c->src.msg, sizeof(c->src.msg),
			 "%s: unknown key '%s' (keys: the long options of %s --help, and eal)",
			 c->path, key, app_prog);
		return 0;
	}
	/* The command line wins. */
	if (app_bit_test(a->cli, (unsigned)i))
		return 1;
	if (app_opt_set(&c->src, &a->table[i], c->base, v) < 0)
		return 0;
	app_bit_set(a->given, (unsigned)i);
	return 1;
}

/* Split the file's "eal" value at blanks into EAL arguments after argv[0]. */
static int
app_eal_from_file(struct app_args *a, const char *prog, const char *eal)
{
	char *words = app_args_keep(a, eal), *save = NULL, *w;
	char **argv = calloc(APP_EAL_WORDS + 2, sizeof(*argv));
	int argc = 0;

	if (words == NULL || argv == NULL) {
		free(argv);
		return -ENOMEM;
	}
	argv[argc++] = (char *)prog;
	for (w = strtok_r(words, " \t", &save); w != NULL; w = strtok_r(NULL, " \t", &save)) {
		if (argc > (int)APP_EAL_WORDS) {
			free(argv);
			return -E2BIG;
		}
		argv[argc++] = w;
	}
	free(a->eal_argv);
	a->eal_argv = argv;
	a->eal_argc = argc;
	return 0;
}

static int
app_config_read(struct app_args *a, void *base, const char *prog)
{
	struct app_ini c;
	int line;

	memset(&c, 0, sizeof(c));
	c.args = a;
	c.base = base;
	c.path = a->config;
	c.section = app_prog;
	line = ini_parse(a->config, app_ini_handler, &c);
	if (line < 0) {
		app_err("--config %s: %s", a->config,
			line == -1 ? strerror(errno) : "out of memory");
		return -1;
	}
	if (line > 0) {
		if (c.src.msg[0] != '\0')
			app_err("%s (line %d)", c.src.msg, line);
		else
			app_err("%s:%d: not a key = value line", a->config, line);
		return -1;
	}
	/* EAL arguments on the command line win over the file's. */
	if (c.eal != NULL && a->eal_argc <= 1) {
		int rc = app_eal_from_file(a, prog, c.eal);

		if (rc < 0) {
			app_err("%s: eal: %s", a->config,
				rc == -E2BIG ? "too many words" : strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ parsing */

int
app_opts_parse(const struct app_opt *table, unsigned n, void *base, int argc, char **argv,
	       const char *usage, struct app_args *args)
{
	const char *prog = argc > 0 ? argv[0] : app_prog;
	struct option lopts[APP_OPTS_MAX + 3];
	unsigned nl = 0;
	struct app_src src;
	int first = 1, ac, c;
	char **av;

	memset(args, 0, sizeof(*args));
	args->table = table;
	args->nopts = n;
	if (n > APP_OPTS_MAX) {
		app_err("too many options");
		return APP_PARSE_USAGE;
	}
	for (unsigned i = 0; i < n; i++) {
		if (table[i].type == APP_OPT_HEADING)
			continue;
		lopts[nl++] = (struct option){ table[i].name,
					       table[i].type == APP_OPT_FLAG ? no_argument
									     : required_argument,
					       NULL, APP_OPT_FIRST + (int)i };
	}
	lopts[nl++] = (struct option){ "config", required_argument, NULL, APP_OPT_CONFIG };
	lopts[nl++] = (struct option){ "help", no_argument, NULL, APP_OPT_HELP };
	lopts[nl] = (struct option){ NULL, 0, NULL, 0 };

	/* EAL arguments end at the first "--". */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			first = i + 1;
			break;
		}
	/* A NULL-terminated copy: EAL permutes what it gets. */
	args->eal_argc = first > 1 ? first - 1 : 1;
	args->eal_argv = calloc((size_t)args->eal_argc + 1, sizeof(char *));
	if (args->eal_argv == NULL) {
		app_err("out of memory");
		return APP_PARSE_USAGE;
	}
	args->eal_argv[0] = (char *)prog;
	for (int i = 1; i < args->eal_argc; i++)
		args->eal_argv[i] = argv[i];
	/*
	 * getopt wants argv[0] in front: reuse the slot just before the
	 * program's options (the "--"), with the program's name in it so
	 * that getopt's own messages do not start with "--:".
	 */
	av = &argv[first - 1];
	ac = argc - first + 1;
	av[0] = (char *)prog;
	optind = 1;
	opterr = 1;
	while ((c = getopt_long(ac, av, "h", lopts, NULL)) != -1) {
		if (c == APP_OPT_CONFIG) {
			args->config = optarg;
			continue;
		}
		if (c == APP_OPT_HELP || c == 'h') {
			app_opts_help(stdout, table, n, usage);
			return APP_PARSE_HELP;
		}
		if (c < APP_OPT_FIRST || c >= APP_OPT_FIRST + (int)n) {
			/* getopt already named the bad option. */
			fprintf(stderr, "Try '%s --help'.\n", prog);
			return APP_PARSE_USAGE;
		}
		snprintf(src.where, sizeof(src.where), "--%s", table[c - APP_OPT_FIRST].name);
		if (app_opt_set(&src, &table[c - APP_OPT_FIRST], base, optarg) < 0) {
			app_err("%s", src.msg);
			return APP_PARSE_USAGE;
		}
		app_bit_set(args->given, (unsigned)(c - APP_OPT_FIRST));
		app_bit_set(args->cli, (unsigned)(c - APP_OPT_FIRST));
	}
	if (optind < ac) {
		app_err("unexpected argument '%s'", av[optind]);
		fprintf(stderr, "Try '%s --help'.\n", prog);
		return APP_PARSE_USAGE;
	}
	if (args->config != NULL && app_config_read(args, base, prog) < 0)
		return APP_PARSE_USAGE;
	return APP_PARSE_OK;
}

/* ---------------------------------------------------------------- help */

void
app_opts_help(FILE *f, const struct app_opt *table, unsigned n, const char *usage)
{
	fprintf(f, "Usage: %s\n\n", usage);
	fprintf(f, "  %-21s %s\n  %-21s %s\n  %-21s %s\n", "--config FILE",
		"options from an ini file: keys are the long", "",
		"options' names, in a section named after the", "",
		"program or in none; the command line wins");
	fprintf(f, "  %-21s %s\n", "--help", "this text");
	for (unsigned i = 0; i < n; i++) {
		const struct app_opt *o = &table[i];
		const char *h = o->help, *nl;
		char head[64];

		if (o->type == APP_OPT_HEADING) {
			fprintf(f, "\n%s\n\n", h);
			continue;
		}
		snprintf(head, sizeof(head), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
		/* A long one gets a line of its own. */
		if (strlen(head) > 21) {
			fprintf(f, "  %s\n", head);
			head[0] = '\0';
		}
		/* The text's lines, the first beside the option, the rest under it. */
		do {
			nl = strchr(h, '\n');
			fprintf(f, "  %-21s %.*s\n", head, nl ? (int)(nl - h) : (int)strlen(h), h);
			head[0] = '\0';
			h = nl ? nl + 1 : NULL;
		} while (h != NULL);
	}
}

int
app_parse_size(const char *str, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	const char *p = str;

	if (str == NULL || out == NULL || *str < '0' || *str > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	case 't': case 'T': shift = 40; p++; break;
	default: break;
	}
	if (*p != '\0')
		return -EINVAL;
	if (shift != 0 && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}
