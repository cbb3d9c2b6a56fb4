/* weir-appliance - a process that owns a NIC (a TAP device or a DPDK port) and serves TCP on weir.
 *
 * It brings the stack up, starts its services, prints one line starting with "ready" on stdout
 * once it answers on the network, and runs until SIGINT or SIGTERM: then it stops accepting, lets
 * open flows finish for up to --drain-timeout, closes the rest and exits 0 with a summary line. A
 * second signal stops at once (exit 1). Bad flags or config: one line on stderr naming the field,
 * exit status 2.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "appliance"
#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/impair.h>
#include <weir/log.h>
#include <weir/loop.h>
#include <weir/netdev.h>
#include <weir/pcap.h>
#include <weir/resolve.h>
#include <weir/stack.h>
#include <weir/tap.h>

#include "filecache.h"
#include "services.h"

#define EXIT_USAGE   2
#define MAX_SERVICES 16
#define MAX_SHARDS   64

static const char usage[] =
	"usage: weir-appliance --netdev tap:IFNAME|dpdk:'EAL ARGS' --ip ADDR/PREFIX [options]\n"
	"       weir-appliance --config FILE [options]\n"
	"\n"
	"Runs a weir TCP/IP host with TCP services on a network device.\n"
	"\n"
	"network:\n"
	"  --netdev SPEC        the device: tap:IFNAME[,offload=0][,mtu=N] (opened, or created if\n"
	"                       missing: creating needs root or CAP_NET_ADMIN; Linux hands\n"
	"                       over TCP super-frames of up to 64 KiB unless offload=0),\n"
	"                       or a DPDK port:\n"
	"                       dpdk:'EAL ARGS[,port=N][,idle_sleep_us=N]' (EAL ARGS go to\n"
	"                       rte_eal_init unchanged, e.g. dpdk:'--no-huge --no-pci\n"
	"                       --vdev=net_tap0,iface=dtap0'; port 0 by default; the loop\n"
	"                       busy-polls the port unless idle_sleep_us is given; more keys\n"
	"                       in drivers/include/weir/dpdk.h)\n"
	"  --ip ADDR/PREFIX     our IPv4 address and prefix length, e.g. 192.0.2.2/24\n"
	"  --dhcp               instead of --ip: address, prefix and gateway from DHCP\n"
	"                       (\"ready\" is printed once leased; gives up after 30 s)\n"
	"  --gw ADDR            default gateway (default: none)\n"
	"  --mac MAC            our MAC, e.g. 02:00:5e:00:53:02 (default: random, locally\n"
	"                       administered)\n"
	"  --mtu N              IP MTU, 576..9000 (default 1500; DPDK: set on the port)\n"
	"  --dns ADDR           DNS server for name lookups (repeat for a second one)\n"
	"services (repeatable):\n"
	"  --serve echo:PORT           RFC 862 echo\n"
	"  --serve discard:PORT        RFC 863 discard\n"
	"  --serve chargen:PORT        RFC 864 character generator\n"
	"  --serve http:PORT:DIR       static files from DIR over HTTP/1.1 (GET, HEAD;\n"
	"                              clients idle for 10 s are closed)\n"
	"  --serve proxy:PORT=HOST:PORT  forward each connection to a backend; HOST is an\n"
	"                       address or a name (looked up per connection: every address\n"
	"                       tried in turn, asked again when all fail; needs --dns or DHCP)\n"
	"  --serve udp-echo:PORT       RFC 862 echo over UDP\n"
	"  --serve metrics:PORT        every counter over HTTP in the Prometheus text format\n"
	"                              (for a scraper: GET any path)\n"
	"  --http-cache MIB     memory for files of 64 KiB and more that HTTP services keep\n"
	"                       and send without a copy (default 256; 0: read each file for\n"
	"                       each request; a changed file is read again; with --shards,\n"
	"                       each shard's)\n"
	"flows:\n"
	"  --max-connections N  at most N TCP connections at once in all (default 100000);\n"
	"                       past it a new one is refused with a RST and counted, and no\n"
	"                       established one is closed to make room\n"
	"  --max-time-wait N    connections kept in TIME-WAIT at most; past it the oldest is\n"
	"                       forgotten (default 32768)\n"
	"  --service-max-connections N\n"
	"                       at most N flows at once per service; more are accepted and\n"
	"                       closed at once, and counted (default: no limit)\n"
	"  --keepalive A,I,N    probe after A ms idle, every I ms, give up after N probes\n"
	"  --user-timeout MS    end a flow whose data stays unacknowledged MS ms (RFC 5482)\n"
	"operation:\n"
	"  --drain-timeout S    on SIGTERM/SIGINT, let open flows finish for up to S seconds\n"
	"                       (default 10), then close them; a second signal stops at once\n"
	"  --stats-interval S   print a counters line every S seconds (SIGUSR1: print now)\n"
	"  --pcap FILE          record every frame of the device, both directions\n"
	"  --impair SPEC        impair the device both ways, seeded, counted (a lossy peer for\n"
	"                       tests): loss=0.01,reorder=0.01,dup=0.005,corrupt=0.0005,\n"
	"                       delay=5ms,seed=N (any subset; rates in [0,1] or N%%); --pcap\n"
	"                       then records the wire (what the peer sends and gets)\n"
	"  --shards N           run N stacks, one per thread, each on its own queue of the\n"
	"                       device (TAP: made with multi_queue, or created so), with one\n"
	"                       address; every service listens on each (default 1)\n"
	"  --cpus LIST          pin shard i to the i-th CPU of LIST (e.g. 0,1 or 0-3; wraps)\n"
	"  --log-level L        error, warn, info or debug (default info)\n"
	"  --config FILE        read options from FILE first; flags given here override it\n"
	"  -h, --help           this text\n"
	"\n"
	"Prints \"ready ...\" on stdout when the host answers. Exit status: 0 after a clean\n"
	"stop, 1 on a runtime failure, a forced stop, or a device the machine will not let us\n"
	"have (permissions, busy, memory), 2 for bad flags or config, or a device that cannot\n"
	"be opened as given.\n"
	"\n"
	"config file: one option per line, the long name without dashes, '=' or a space, the\n"
	"value; '#' starts a comment. Example:\n"
	"  netdev = tap:weir0\n"
	"  ip = 192.0.2.2/24\n"
	"  serve = http:80:/srv/www\n"
	"  serve = echo:7\n"
	"  service-max-connections = 100\n"
	"\n"
	"example (as root):\n"
	"  ip netns add demo\n"
	"  ip -n demo tuntap add dev weir0 mode tap\n"
	"  ip -n demo addr add 192.0.2.1/24 dev weir0; ip -n demo link set weir0 up\n"
	"  ip netns exec demo weir-appliance --netdev tap:weir0 --ip 192.0.2.2/24 \\\n"
	"      --serve http:80:/srv/www --serve echo:7 &\n"
	"  ip netns exec demo curl http://192.0.2.2/\n"
	"  # or through DPDK's net_tap PMD (it creates dtap0 in the namespace; no hugepages):\n"
	"  ip netns exec demo weir-appliance --ip 192.0.2.2/24 --serve echo:7 \\\n"
	"      --netdev dpdk:'--no-huge --no-pci -m 256 --vdev=net_tap0,iface=dtap0' &\n"
	"  ip -n demo addr add 192.0.2.1/24 dev dtap0\n";

struct options {
	const char *netdev;
	int have_ip;
	struct weir_stack_config cfg;
	struct service services[MAX_SERVICES];
	unsigned nservices;
	int services_from_cmdline;
	unsigned service_max_connections;
	struct weir_flow_opts fo;
	struct weir_ipaddr dns[2];
	unsigned ndns;
	unsigned drain_s;
	unsigned stats_s;
	const char *pcap;
	const char *config;
	int impair_on;
	struct weir_impair_config impair;
	unsigned shards;      /* 1..MAX_SHARDS */
	int cpus[MAX_SHARDS]; /* --cpus: shard i runs on cpus[i % ncpus] */
	unsigned ncpus;
};

/* Where the option being parsed came from ("" or "FILE:LINE: "), for error messages. */
static char where[600];

static void die_usage(const char *field, const char *fmt, const char *arg)
{
	fprintf(stderr, "weir-appliance: %s%s%s", where, field ? field : "", field ? ": " : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	exit(EXIT_USAGE);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static const struct option long_opts[] = {
	{ "netdev", required_argument, NULL, 'n' },
	{ "ip", required_argument, NULL, 'i' },
	{ "dhcp", no_argument, NULL, 'D' },
	{ "gw", required_argument, NULL, 'g' },
	{ "mac", required_argument, NULL, 'm' },
	{ "mtu", required_argument, NULL, 'u' },
	{ "dns", required_argument, NULL, 'N' },
	{ "serve", required_argument, NULL, 's' },
	{ "max-connections", required_argument, NULL, 'M' },
	{ "max-time-wait", required_argument, NULL, 'W' },
	{ "service-max-connections", required_argument, NULL, 'c' },
	{ "http-cache", required_argument, NULL, 'H' },
	{ "keepalive", required_argument, NULL, 'k' },
	{ "user-timeout", required_argument, NULL, 't' },
	{ "drain-timeout", required_argument, NULL, 'd' },
	{ "stats-interval", required_argument, NULL, 'S' },
	{ "pcap", required_argument, NULL, 'p' },
	{ "impair", required_argument, NULL, 'I' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "shards", required_argument, NULL, 'X' },
	{ "cpus", required_argument, NULL, 'P' },
	{ "config", required_argument, NULL, 'C' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Applies one option; from_cmdline tells flags from config lines (flags override). */
static void apply_option(struct options *o, int c, const char *arg, int from_cmdline)
{
	unsigned long v;

	switch (c) {
	case 'n':
		/* DRIVER:ARGS; the driver checks ARGS when the device opens. */
		if (strchr(arg, ':') == NULL)
			die_usage("netdev", "'%s' is not DRIVER:ARGS like tap:weir0", arg);
		o->netdev = arg;
		break;
	case 'i':
		if (weir_ipaddr_parse_cidr(arg, &o->cfg.ip, &o->cfg.prefix_len) < 0 ||
		    o->cfg.ip.v4 == 0)
			die_usage("ip", "'%s' is not ADDR/PREFIX like 192.0.2.2/24", arg);
		o->have_ip = 1;
		break;
	case 'D':
		/* A flag on the command line; "dhcp = yes" in a config file. */
		if (arg != NULL && strcmp(arg, "yes") != 0 && strcmp(arg, "true") != 0 &&
		    strcmp(arg, "1") != 0)
			die_usage("dhcp", "'%s' is not yes", arg);
		o->cfg.dhcp = 1;
		break;
	case 'g':
		if (weir_ipaddr_parse(arg, &o->cfg.gw) < 0)
			die_usage("gw", "'%s' is not an IPv4 address", arg);
		break;
	case 'm':
		if (weir_mac_parse(arg, o->cfg.mac) < 0 || (o->cfg.mac[0] & 1))
			die_usage("mac", "'%s' is not a unicast MAC like 02:00:5e:00:53:02", arg);
		break;
	case 'N':
		if (o->ndns == 2)
			die_usage("dns", "%s", "at most two servers");
		if (weir_ipaddr_parse(arg, &o->dns[o->ndns]) < 0 || o->dns[o->ndns].v4 == 0)
			die_usage("dns", "'%s' is not an IPv4 address", arg);
		o->ndns++;
		break;
	case 'u':
		if (parse_uint(arg, 9000, &v) < 0 || v < 576)
			die_usage("mtu", "'%s' is not a number in 576..9000", arg);
		o->cfg.mtu = (uint16_t)v;
		break;
	case 's': {
		const char *why;

		/* Services given as flags replace the config file's list. */
		if (from_cmdline && !o->services_from_cmdline) {
			o->services_from_cmdline = 1;
			o->nservices = 0;
		}
		if (o->nservices == MAX_SERVICES)
			die_usage("serve", "at most %s services", "16");
		if (service_parse(arg, &o->services[o->nservices], &why) < 0) {
			fprintf(stderr, "weir-appliance: %sserve: '%s': %s (see --help)\n", where,
				arg, why);
			exit(EXIT_USAGE);
		}
		for (unsigned i = 0; i < o->nservices; i++)
			if (o->services[i].port == o->services[o->nservices].port)
				die_usage("serve", "the port of '%s' is already served", arg);
		o->nservices++;
		break;
	}
	case 'c':
		if (parse_uint(arg, 1000000, &v) < 0 || v == 0)
			die_usage("service-max-connections", "'%s' is not a number in 1..1000000",
				  arg);
		o->service_max_connections = (unsigned)v;
		break;
	case 'M':
		if (parse_uint(arg, 4000000, &v) < 0 || v == 0)
			die_usage("max-connections", "'%s' is not a number in 1..4000000", arg);
		o->cfg.max_connections = (uint32_t)v;
		break;
	case 'W':
		if (parse_uint(arg, 4000000, &v) < 0 || v == 0)
			die_usage("max-time-wait", "'%s' is not a number in 1..4000000", arg);
		o->cfg.max_time_wait = (uint32_t)v;
		break;
	case 'H':
		if (parse_uint(arg, 65536, &v) < 0)
			die_usage("http-cache", "'%s' is not a number of MiB (0..65536)", arg);
		filecache_set_limit((uint64_t)v << 20);
		break;
	case 'k': {
		unsigned long a, i, n;
		char *e1 = NULL, *e2 = NULL, *e3 = NULL;

		a = strtoul(arg, &e1, 10);
		i = *e1 == ',' ? strtoul(e1 + 1, &e2, 10) : 0;
		n = *e1 == ',' && e2 && *e2 == ',' ? strtoul(e2 + 1, &e3, 10) : 0;
		if (e3 == NULL || *e3 != '\0' || !isdigit((unsigned char)arg[0]) || a == 0 ||
		    i == 0 || n == 0 || a > 86400000ul || i > 86400000ul || n > 1000)
			die_usage("keepalive", "'%s' is not AFTER_MS,INTERVAL_MS,PROBES", arg);
		o->fo.keepalive.after_ms = (uint32_t)a;
		o->fo.keepalive.interval_ms = (uint32_t)i;
		o->fo.keepalive.probes = (uint32_t)n;
		break;
	}
	case 't':
		if (parse_uint(arg, 86400000ul, &v) < 0 || v == 0)
			die_usage("user-timeout", "'%s' is not a number of ms in 1..86400000", arg);
		o->fo.user_timeout_ms = (uint32_t)v;
		break;
	case 'd':
		if (parse_uint(arg, 86400, &v) < 0)
			die_usage("drain-timeout", "'%s' is not a number of seconds (0..86400)",
				  arg);
		o->drain_s = (unsigned)v;
		break;
	case 'S':
		if (parse_uint(arg, 86400, &v) < 0 || v == 0)
			die_usage("stats-interval", "'%s' is not a number of seconds (1..86400)",
				  arg);
		o->stats_s = (unsigned)v;
		break;
	case 'p':
		if (*arg == '\0')
			die_usage("pcap", "%s", "needs a file name");
		o->pcap = arg;
		break;
	case 'I': {
		const char *why;

		if (weir_impair_parse(arg, &o->impair, &why) < 0)
			die_usage("impair", "%s", why);
		o->impair_on = 1;
		break;
	}
	case 'l': {
		enum weir_log_level lvl;

		if (weir_log_parse_level(arg, &lvl) < 0)
			die_usage("log-level", "'%s' is not error, warn, info or debug", arg);
		weir_log_set_level(lvl);
		break;
	}
	case 'X':
		if (parse_uint(arg, MAX_SHARDS, &v) < 0 || v == 0)
			die_usage("shards", "'%s' is not a number of shards (1..64)", arg);
		o->shards = (unsigned)v;
		break;
	case 'P': {
		/* 0,2,4 or 0-3 or both */
		const char *p = arg;

		o->ncpus = 0;
		while (*p != '\0') {
			char *end;
			unsigned long a = strtoul(p, &end, 10), b;

			if (end == p || a >= 4096)
				die_usage("cpus", "'%s' is not a list of CPUs like 0,2 or 0-3",
					  arg);
			b = a;
			if (*end == '-') {
				p = end + 1;
				b = strtoul(p, &end, 10);
				if (end == p || b < a || b >= 4096)
					die_usage("cpus",
						  "'%s' is not a list of CPUs like 0,2 or 0-3",
						  arg);
			}
			for (; a <= b; a++) {
				if (o->ncpus == MAX_SHARDS)
					die_usage("cpus", "'%s' names more than 64 CPUs", arg);
				o->cpus[o->ncpus++] = (int)a;
			}
			if (*end == ',' && end[1] != '\0')
				end++;
			else if (*end != '\0')
				die_usage("cpus", "'%s' is not a list of CPUs like 0,2 or 0-3",
					  arg);
			p = end;
		}
		break;
	}
	case 'C':
		if (!from_cmdline)
			die_usage("config", "%s", "a config file cannot include another");
		break; /* read before the flags, see main() */
	default:
		die_usage(NULL, "unknown option '%s'", arg);
	}
}

/* Values read from the config file: options keep pointers into them, so they live until exit. */
static char *config_values[256];
static unsigned nconfig_values;

static void free_config_values(void)
{
	while (nconfig_values > 0)
		free(config_values[--nconfig_values]);
}

/* Reads FILE's "name = value" lines as options. */
static void read_config(struct options *o, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int lineno = 0;

	if (f == NULL) {
		fprintf(stderr, "weir-appliance: config: cannot read %s: %s\n", path,
			strerror(errno));
		exit(EXIT_USAGE);
	}
	atexit(free_config_values);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *name, *value, *end;
		const struct option *opt;

		lineno++;
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		if (strchr(line, '\n') == NULL && !feof(f))
			die_usage(NULL, "%s", "line too long");
		if ((end = strchr(p, '#')) != NULL)
			*end = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			continue;
		name = p;
		while (*p && !isspace((unsigned char)*p) && *p != '=')
			p++;
		end = p;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '=')
			p++;
		while (isspace((unsigned char)*p))
			p++;
		*end = '\0';
		value = p;
		for (end = value + strlen(value); end > value && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		for (opt = long_opts; opt->name != NULL; opt++)
			if (strcmp(opt->name, name) == 0)
				break;
		if (opt->name == NULL || opt->val == 'h')
			die_usage(NULL, "unknown option '%s'", name);
		if (*value == '\0')
			die_usage(name, "%s", "needs a value");
		if (nconfig_values == sizeof(config_values) / sizeof(config_values[0]))
			die_usage(NULL, "%s", "more than 256 options");
		config_values[nconfig_values] = strdup(value);
		if (config_values[nconfig_values] == NULL)
			die_usage(NULL, "%s", "out of memory");
		apply_option(o, opt->val, config_values[nconfig_values++], 0);
	}
	fclose(f);
	where[0] = '\0';
}

/* --- running ---------------------------------------------------------------------------------- */

/* What a shard's counters were a moment ago: each shard publishes its own, so that any shard's
 * metrics page (and the main thread's summary) can add them up without touching another
 * thread's stack. */
struct snapshot {
	struct weir_stack_stats st;
	struct weir_netdev_stats ds;
	struct weir_tap_stats ts;
	struct weir_impair_stats is;
	struct weir_listener_stats ls[MAX_SERVICES];
	uint64_t bytes_in[MAX_SERVICES], bytes_out[MAX_SERVICES];
};

/* One stack, in a thread of its own, on one queue of the device (--shards N: N of them). */
struct shard {
	unsigned idx;
	pthread_t thread;
	struct weir_netdev *dev, *base_dev; /* opened by the main thread, queue idx */
	struct weir_loop_waker *waker;	    /* the main thread wakes the shard with signals */
	atomic_int stops;		    /* SIGINT/SIGTERM seen by the main thread */
	atomic_int stats_now;		    /* SIGUSR1 */
	atomic_int state;		    /* SHARD_STARTING, _READY, _FAILED, _DONE */
	int status;			    /* exit status when it failed */
	struct weir_ipaddr ip, gw;	    /* for the ready line */
	uint8_t plen, mac[6];
	unsigned closed_by_force;
	uint64_t t_stop;
	pthread_mutex_t snap_lock;
	struct snapshot snap;
};
enum { SHARD_STARTING, SHARD_READY, SHARD_FAILED, SHARD_DONE };

static struct options opts;
static struct shard *shards;
static struct weir_shard_group *group; /* --shards > 1 */
static atomic_int last_stop;	       /* SIGINT or SIGTERM */
/* The calling shard's: its stack, device (with its wrappers), services and drain. */
static __thread struct shard *me;
static __thread struct weir_stack *stack;
static __thread struct weir_netdev *dev;      /* what the stack runs on (with --pcap, --impair) */
static __thread struct weir_netdev *base_dev; /* the device queue itself */
static __thread struct service services[MAX_SERVICES];
static __thread int fibers_up;
static __thread unsigned nstarted;

static void take_snapshot(void)
{
	struct snapshot sn;

	memset(&sn, 0, sizeof(sn));
	weir_stack_get_stats(stack, &sn.st);
	weir_netdev_get_stats(base_dev, &sn.ds);
	weir_tap_get_stats(base_dev, &sn.ts); /* stays zero for another driver */
	if (opts.impair_on)
		weir_impair_get_stats(dev, &sn.is);
	for (unsigned i = 0; i < nstarted; i++) {
		if (services[i].listener != NULL)
			weir_listener_get_stats(services[i].listener, &sn.ls[i]);
		sn.bytes_in[i] = services[i].bytes_in;
		sn.bytes_out[i] = services[i].bytes_out;
	}
	pthread_mutex_lock(&me->snap_lock);
	me->snap = sn;
	pthread_mutex_unlock(&me->snap_lock);
}

/* Copies every shard's last snapshot into out[] (opts.shards of them). */
static void read_snapshots(struct snapshot *out)
{
	for (unsigned i = 0; i < opts.shards; i++) {
		pthread_mutex_lock(&shards[i].snap_lock);
		out[i] = shards[i].snap;
		pthread_mutex_unlock(&shards[i].snap_lock);
	}
}

/* The sum of n snapshots: every field is a uint64_t counter or gauge, so they add up as arrays. */
static void add_snapshots(const struct snapshot *in, unsigned n, struct snapshot *sum)
{
	uint64_t *o = (uint64_t *)(void *)sum;

	_Static_assert(sizeof(struct snapshot) % sizeof(uint64_t) == 0, "all u64");
	memset(sum, 0, sizeof(*sum));
	for (unsigned k = 0; k < n; k++) {
		const uint64_t *a = (const uint64_t *)(const void *)&in[k];

		for (size_t j = 0; j < sizeof(*sum) / sizeof(uint64_t); j++)
			o[j] += a[j];
	}
}

/* This shard's counters now (SIGUSR1, --stats-interval): from a fresh snapshot, which the
 * other shards' metrics pages then see too. */
static void print_stats(void)
{
	const struct snapshot *sn = &me->snap; /* written only by this thread */
	const struct weir_stack_stats *st = &sn->st;
	uint64_t open = 0, accepted = 0, refused = 0, in = 0, out = 0;
	char who[24] = "";

	if (opts.shards > 1)
		snprintf(who, sizeof(who), "shard %u: ", me->idx);
	take_snapshot();
	for (unsigned i = 0; i < nstarted; i++) {
		open += sn->ls[i].active;
		accepted += sn->ls[i].accepted;
		refused += sn->ls[i].refused;
		in += sn->bytes_in[i];
		out += sn->bytes_out[i];
	}
	weir_log_info("stats: %sflows open %llu accepted %llu refused %llu; bytes in %llu out %llu "
		      "(ended flows); frames rx %llu tx %llu; drops %llu; syn-cookies sent %llu "
		      "accepted %llu; tcp connections %llu time-wait %llu refused %llu",
		      who, (unsigned long long)open, (unsigned long long)accepted,
		      (unsigned long long)refused, (unsigned long long)in, (unsigned long long)out,
		      (unsigned long long)st->rx_frames, (unsigned long long)st->tx_frames,
		      (unsigned long long)(st->drop_runt + st->drop_wrap + st->drop_input +
					   st->drop_tx_full + st->drop_tx_error +
					   st->drop_tx_oversize + st->drop_tx_chain),
		      (unsigned long long)st->syncookies_sent,
		      (unsigned long long)st->syncookies_accepted,
		      (unsigned long long)st->tcp_connections,
		      (unsigned long long)st->tcp_time_wait, (unsigned long long)st->tcp_refused);
	if (opts.shards > 1)
		weir_log_info("stats: %sframes shared with other shards %llu, from them %llu, "
			      "dropped %llu",
			      who, (unsigned long long)st->shard_frames_out,
			      (unsigned long long)st->shard_frames_in,
			      (unsigned long long)st->shard_frames_dropped);
	for (int d = 0; opts.impair_on && d < 2; d++)
		weir_log_info("impair %s%s: frames %llu dropped %llu corrupted %llu duplicated "
			      "%llu reordered %llu delayed %llu",
			      who, d == 0 ? "tx" : "rx", (unsigned long long)sn->is.frames[d],
			      (unsigned long long)sn->is.dropped[d],
			      (unsigned long long)sn->is.corrupted[d],
			      (unsigned long long)sn->is.duplicated[d],
			      (unsigned long long)sn->is.reordered[d],
			      (unsigned long long)sn->is.delayed[d]);
}

/* --- metrics: the counters in the Prometheus text format (--serve metrics:PORT) ------------ */

struct page {
	char *p;
	size_t cap, len;		    /* len counts what did not fit too */
	const struct snapshot *snaps, *sum; /* every shard's, and their sum */
	unsigned n;
};

__attribute__((format(printf, 2, 3))) static void page_put(struct page *pg, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pg->len < pg->cap ? pg->p + pg->len : NULL,
		      pg->len < pg->cap ? pg->cap - pg->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		pg->len += (size_t)n;
}

/* One metric's HELP and TYPE lines (counters end in _total, as the format asks). */
static void page_head(struct page *pg, const char *name, const char *type, const char *help)
{
	page_put(pg, "# HELP weir_%s %s\n# TYPE weir_%s %s\n", name, help, name, type);
}

/* The counter at byte offset off of a snapshot. */
static uint64_t snap_at(const struct snapshot *sn, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)sn + off, sizeof(v));
	return v;
}

#define SNAP(field) offsetof(struct snapshot, field)

/* One sample line for the total (labels as given), then, with several shards, one per shard
 * with shard="i" added. */
static void page_samples(struct page *pg, const char *name, const char *labels, size_t off)
{
	page_put(pg, "weir_%s%s%s%s %llu\n", name, labels[0] ? "{" : "", labels,
		 labels[0] ? "}" : "", (unsigned long long)snap_at(pg->sum, off));
	for (unsigned i = 0; pg->n > 1 && i < pg->n; i++)
		page_put(pg, "weir_%s{%s%sshard=\"%u\"} %llu\n", name, labels, labels[0] ? "," : "",
			 i, (unsigned long long)snap_at(&pg->snaps[i], off));
}

/* One value of a metric family labelled by one name (e.g. reason="runt"). */
struct page_label {
	const char *value;
	size_t off;
};

/* A counter family with one label: its HELP/TYPE head, then the samples per label value. */
static void page_labelled(struct page *pg, const char *name, const char *help, const char *label,
			  const struct page_label *lv, size_t n)
{
	page_head(pg, name, "counter", help);
	for (size_t i = 0; i < n; i++) {
		char l[96];

		snprintf(l, sizeof(l), "%s=\"%s\"", label, lv[i].value);
		page_samples(pg, name, l, lv[i].off);
	}
}

static void page_one(struct page *pg, const char *name, const char *type, const char *help,
		     size_t off)
{
	page_head(pg, name, type, help);
	page_samples(pg, name, "", off);
}

static size_t render_metrics(char *buf, size_t cap)
{
	struct snapshot snaps[MAX_SHARDS], sum;
	struct page pg = { .p = buf, .cap = cap, .snaps = snaps, .sum = &sum, .n = opts.shards };
	static const char *const C = "counter", *const G = "gauge";

	take_snapshot(); /* this shard's counters now; the others' from their last tick */
	read_snapshots(snaps);
	add_snapshots(snaps, opts.shards, &sum);
	page_one(&pg, "rx_frames_total", C, "Frames handed to the TCP/IP stack.",
		 SNAP(st.rx_frames));
	page_one(&pg, "rx_bytes_total", C, "Bytes of the frames handed to the stack.",
		 SNAP(st.rx_bytes));
	page_one(&pg, "rx_copied_total", C,
		 "Received frames copied out of device buffers that ran low.", SNAP(st.rx_copied));
	page_one(&pg, "tx_frames_total", C, "Frames the device took.", SNAP(st.tx_frames));
	page_one(&pg, "tx_bytes_total", C, "Bytes of the frames the device took.",
		 SNAP(st.tx_bytes));
	page_one(&pg, "tx_segments_total", C, "TCP/IP frames in them (more with TSO).",
		 SNAP(st.tx_segments));
	page_one(&pg, "tx_super_total", C, "TCP super-frames the device cut (TSO).",
		 SNAP(st.tx_super));
	page_one(&pg, "tx_acks_folded_total", C, "ACKs not sent: a later one said more.",
		 SNAP(st.tx_acks_folded));
	{
		const struct page_label d[] = {
			{ "runt", SNAP(st.drop_runt) },
			{ "wrap", SNAP(st.drop_wrap) },
			{ "input", SNAP(st.drop_input) },
			{ "tx_full", SNAP(st.drop_tx_full) },
			{ "tx_error", SNAP(st.drop_tx_error) },
			{ "tx_oversize", SNAP(st.drop_tx_oversize) },
			{ "tx_chain", SNAP(st.drop_tx_chain) },
		};
		const struct page_label l[] = {
			{ "ip", SNAP(st.ip_drops) },
			{ "tcp", SNAP(st.tcp_drops) },
			{ "etharp", SNAP(st.etharp_drops) },
			{ "icmp", SNAP(st.icmp_drops) },
		};

		page_labelled(&pg, "drops_total", "Frames dropped by the stack, by reason.",
			      "reason", d, sizeof(d) / sizeof(d[0]));
		page_labelled(&pg, "lwip_drops_total",
			      "Packets lwIP dropped, by layer (with LWIP_STATS).", "layer", l,
			      sizeof(l) / sizeof(l[0]));
	}
	page_one(&pg, "syncookies_sent_total", C, "SYNs answered with a cookie.",
		 SNAP(st.syncookies_sent));
	page_one(&pg, "syncookies_accepted_total", C, "Connections made from a returned cookie.",
		 SNAP(st.syncookies_accepted));
	page_one(&pg, "syncookies_rejected_total", C, "ACKs that carried no valid cookie.",
		 SNAP(st.syncookies_rejected));
	page_one(&pg, "tcp_connections", G, "TCP connections open now.", SNAP(st.tcp_connections));
	page_one(&pg, "tcp_time_wait", G, "TCP connections in TIME-WAIT now.",
		 SNAP(st.tcp_time_wait));
	page_one(&pg, "tcp_refused_total", C, "Connections refused at --max-connections.",
		 SNAP(st.tcp_refused));
	page_one(&pg, "tcp_time_wait_dropped_total", C,
		 "TIME-WAIT connections forgotten at the TIME-WAIT limit.",
		 SNAP(st.tcp_time_wait_dropped));
	page_one(&pg, "tcp_time_wait_reused_total", C, "TIME-WAIT connections a connect took over.",
		 SNAP(st.tcp_time_wait_reused));
	if (opts.shards > 1) {
		const struct page_label sh[] = {
			{ "out", SNAP(st.shard_frames_out) },
			{ "in", SNAP(st.shard_frames_in) },
			{ "dropped", SNAP(st.shard_frames_dropped) },
		};

		page_labelled(&pg, "shard_frames_total",
			      "Frames (ARP, ICMP, UDP for another shard) copied between shards.",
			      "dir", sh, sizeof(sh) / sizeof(sh[0]));
	}
	/* The device's own counters. */
	page_one(&pg, "netdev_rx_frames_total", C, "Frames the device received.",
		 SNAP(ds.rx_frames));
	page_one(&pg, "netdev_rx_bytes_total", C, "Bytes the device received.", SNAP(ds.rx_bytes));
	page_one(&pg, "netdev_tx_frames_total", C, "Frames the device sent.", SNAP(ds.tx_frames));
	page_one(&pg, "netdev_tx_bytes_total", C, "Bytes the device sent.", SNAP(ds.tx_bytes));
	{
		const struct page_label e[] = {
			{ "rx_runt", SNAP(ds.rx_runts) },   { "rx_oversize", SNAP(ds.rx_oversize) },
			{ "rx_nobuf", SNAP(ds.rx_nobuf) },  { "rx_error", SNAP(ds.rx_errors) },
			{ "tx_error", SNAP(ds.tx_errors) }, { "tx_full", SNAP(ds.tx_full) },
		};

		page_labelled(&pg, "netdev_errors_total", "Device-level drops and errors, by kind.",
			      "kind", e, sizeof(e) / sizeof(e[0]));
	}
	/* Per service: flows open now, accepted and refused, bytes of the flows that ended. */
	{
		static const struct {
			const char *name, *type, *help;
		} m[] = {
			{ "service_flows_open", "gauge", "Flows a service is serving now." },
			{ "service_flows_accepted_total", "counter", "Flows a service accepted." },
			{ "service_flows_refused_total", "counter",
			  "Connections a service refused (its limit)." },
			{ "service_bytes_in_total", "counter",
			  "Bytes received by a service's ended flows." },
			{ "service_bytes_out_total", "counter",
			  "Bytes sent by a service's ended flows." },
		};

		for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
			page_head(&pg, m[k].name, m[k].type, m[k].help);
			for (unsigned i = 0; i < opts.nservices; i++) {
				const struct service *sv = &opts.services[i];
				char l[96];
				size_t off = k == 0   ? SNAP(ls[i].active)
					     : k == 1 ? SNAP(ls[i].accepted)
					     : k == 2 ? SNAP(ls[i].refused)
					     : k == 3 ? SNAP(bytes_in[i])
						      : SNAP(bytes_out[i]);

				snprintf(l, sizeof(l), "service=\"%s\",port=\"%u\"",
					 service_name(sv), sv->port);
				page_samples(&pg, m[k].name, l, off);
			}
		}
	}
	if (opts.impair_on) {
		static const char *const what[] = { "frames",	  "dropped",   "corrupted",
						    "duplicated", "reordered", "delayed" };

		for (size_t k = 0; k < sizeof(what) / sizeof(what[0]); k++) {
			char name[40];

			snprintf(name, sizeof(name), "impair_%s_total", what[k]);
			page_head(&pg, name, C,
				  "Frames the impairment wrapper saw or changed, by direction.");
			for (int d = 0; d < 2; d++) {
				size_t off = k == 0   ? SNAP(is.frames[d])
					     : k == 1 ? SNAP(is.dropped[d])
					     : k == 2 ? SNAP(is.corrupted[d])
					     : k == 3 ? SNAP(is.duplicated[d])
					     : k == 4 ? SNAP(is.reordered[d])
						      : SNAP(is.delayed[d]);

				page_samples(&pg, name, d == 0 ? "dir=\"tx\"" : "dir=\"rx\"", off);
			}
		}
	}
	return pg.len;
}

static void stats_fiber(void *arg)
{
	WEIR_UNUSED(arg);
	while (weir_fiber_sleep_ns((uint64_t)opts.stats_s * WEIR_NS_PER_S) == 0)
		print_stats();
}

/* Keeps this shard's snapshot fresh for the other shards' metrics pages. */
static void snapshot_fiber(void *arg)
{
	WEIR_UNUSED(arg);
	do
		take_snapshot();
	while (weir_fiber_sleep_ns(250 * WEIR_NS_PER_MS) == 0);
}

static __thread unsigned drain_pending;
static __thread struct weir_fiber *drainers[MAX_SERVICES];

static void drain_fiber(void *arg)
{
	/* Stop accepting, then wait until the service's running flows are done. */
	weir_listener_stop(arg);
	drain_pending--;
}

static unsigned open_flows(void)
{
	struct weir_listener_stats ls;
	unsigned n = 0;

	for (unsigned i = 0; i < nstarted; i++)
		if (weir_listener_get_stats(services[i].listener, &ls) == 0)
			n += ls.active;
	return n;
}

/* Reads the config file (wherever --config stands, so that flags override it), then the flags;
 * exits with EXIT_USAGE on anything wrong. */
static void parse_args(int argc, char **argv)
{
	int c;

	opts.drain_s = 10;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c == 'C') {
			if (opts.config != NULL)
				die_usage("config", "%s", "given twice");
			opts.config = optarg;
		} else if (c == 'h') {
			fputs(usage, stdout);
			exit(0);
		} else if (c == '?') {
			die_usage(NULL, "unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage(NULL, "unexpected argument '%s'", argv[optind]);
	if (opts.config != NULL)
		read_config(&opts, opts.config);
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
		apply_option(&opts, c, optarg, 1);
	if (opts.netdev == NULL)
		die_usage("netdev", "%s", "is required");
	if (!opts.have_ip && !opts.cfg.dhcp)
		die_usage("ip", "%s", "is required (or --dhcp)");
	if (opts.have_ip && opts.cfg.dhcp)
		die_usage("ip", "%s", "and --dhcp exclude each other");
	if (opts.shards == 0)
		opts.shards = 1;
	if (opts.shards > 1 && opts.cfg.dhcp)
		die_usage("shards", "%s",
			  "share one address: give --ip (DHCP would lease one per shard)");
	for (unsigned i = 0; i < opts.nservices; i++)
		opts.services[i].max_connections = opts.service_max_connections;
}

/* Opens the device's queues, one per shard, each with its capture and impairment wrappers.
 * Returns 0, or the exit status for a failure: EXIT_USAGE when the arguments are what is wrong,
 * 1 when the machine is (permissions, a device another process holds, memory). */
static int open_devices(void)
{
	struct weir_netdev_params params = { .mtu = opts.cfg.mtu };
	struct weir_netdev *q[MAX_SHARDS];
	int rc = weir_netdev_open_queues(opts.netdev, &params, opts.shards, q);

	if (rc < 0) {
		fprintf(stderr, "weir-appliance: netdev: %s: %s\n", weir_strerror(rc),
			weir_netdev_last_error()[0] ? weir_netdev_last_error() : opts.netdev);
		return rc == WEIR_EPERM || rc == WEIR_EBUSY || rc == WEIR_ENOMEM ? 1 : EXIT_USAGE;
	}
	for (unsigned i = 0; i < opts.shards; i++)
		shards[i].dev = shards[i].base_dev = q[i];
	for (unsigned i = 0; i < opts.shards; i++) {
		struct shard *sh = &shards[i];

		if (opts.pcap != NULL) {
			struct weir_netdev *cap;
			char path[PATH_MAX];

			/* One capture per shard: FILE, or FILE.0, FILE.1, ... */
			if (opts.shards > 1)
				snprintf(path, sizeof(path), "%s.%u", opts.pcap, i);
			else
				snprintf(path, sizeof(path), "%s", opts.pcap);
			rc = weir_pcap_wrap(sh->dev, path, &cap);
			if (rc < 0) {
				fprintf(stderr, "weir-appliance: pcap: cannot write %s: %s\n", path,
					weir_strerror(rc));
				return EXIT_USAGE;
			}
			sh->dev = cap;
		}
		if (opts.impair_on) {
			struct weir_impair_config ic = opts.impair;
			struct weir_netdev *imp;

			ic.seed += i; /* each shard's own, repeatable draws */
			rc = weir_impair_wrap(sh->dev, &ic, &imp);
			if (rc < 0) {
				fprintf(stderr, "weir-appliance: impair: %s\n", weir_strerror(rc));
				return EXIT_USAGE;
			}
			sh->dev = imp;
		}
	}
	return 0;
}

/* The main thread's signals, as the shard sees them (its waker runs this). */
static int shard_wake(void *arg)
{
	struct weir_loop *loop = arg;

	if (atomic_load(&me->stops) > 0 || atomic_load(&me->stats_now))
		weir_loop_stop(loop);
	return 0;
}

/* Brings this shard's host up on its device and starts the services. Returns 0 or the exit
 * status for a failure. */
static int bring_up(struct weir_loop *loop)
{
	struct weir_stack_config cfg = opts.cfg;
	int rc;

	cfg.netdev = dev;
	cfg.loop = loop;
	cfg.group = group;
	cfg.shard = me->idx;
	rc = weir_stack_open(&cfg, &stack);
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: stack: %s\n", weir_strerror(rc));
		return rc == WEIR_EINVAL ? EXIT_USAGE : 1;
	}
	for (unsigned i = 0; i < opts.ndns; i++)
		weir_dns_set_server(i, opts.dns[i]);
	rc = weir_fibers_init(loop);
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: fibers: %s\n", weir_strerror(rc));
		return 1;
	}
	fibers_up = 1;
	for (; nstarted < opts.nservices; nstarted++) {
		struct service *sv = &services[nstarted];

		*sv = opts.services[nstarted];
		if (sv->kind == SERVICE_METRICS)
			sv->metrics = render_metrics;
		rc = service_start(sv, stack, &opts.fo);
		if (rc < 0) {
			fprintf(stderr, "weir-appliance: serve %s:%u: %s\n", service_name(sv),
				sv->port, weir_strerror(rc));
			return 1;
		}
		if (me->idx == 0)
			weir_log_info("serving %s on port %u%s", service_name(sv), sv->port,
				      opts.shards > 1 ? " (every shard)" : "");
	}
	if (opts.stats_s > 0)
		weir_fiber_spawn(NULL, stats_fiber, NULL,
				 &(struct weir_fiber_opts){ .name = "stats" }, NULL);
	if (opts.shards > 1)
		weir_fiber_spawn(NULL, snapshot_fiber, NULL,
				 &(struct weir_fiber_opts){ .name = "snapshot" }, NULL);
	if (opts.cfg.dhcp) {
		uint64_t deadline = weir_clock_now_ns() + 30 * WEIR_NS_PER_S;

		/* "ready" means answering on the network: wait for the lease. */
		while (weir_stack_get_addr(stack, NULL, NULL, NULL) != 1 &&
		       atomic_load(&me->stops) == 0 && weir_clock_now_ns() < deadline)
			weir_loop_run_once(loop, 100 * WEIR_NS_PER_MS);
		if (weir_stack_get_addr(stack, NULL, NULL, NULL) != 1) {
			fprintf(stderr, "weir-appliance: dhcp: no lease within 30 s\n");
			return 1;
		}
	}
	weir_stack_get_mac(stack, me->mac);
	weir_stack_get_addr(stack, &me->ip, &me->plen, &me->gw);
	return 0;
}

/* Serves until a stop signal (SIGUSR1 only prints the counters). */
static void serve(struct weir_loop *loop)
{
	for (;;) {
		int rc = weir_loop_run(loop);

		if (rc < 0 || atomic_load(&me->stops) > 0)
			break;
		if (atomic_exchange(&me->stats_now, 0))
			print_stats();
	}
}

/* Stops accepting and lets open flows finish for up to --drain-timeout (a second signal ends it
 * at once). Returns how many flows were still open at the end. */
static unsigned drain(struct weir_loop *loop, uint64_t t_stop)
{
	unsigned draining = open_flows(), left;
	uint64_t deadline = t_stop + (uint64_t)opts.drain_s * WEIR_NS_PER_S;
	char who[24] = "";

	if (opts.shards > 1)
		snprintf(who, sizeof(who), " (shard %u)", me->idx);
	weir_log_info("%s: stop accepting; draining %u open flows for up to %u s%s",
		      atomic_load(&last_stop) == SIGINT ? "SIGINT" : "SIGTERM", draining,
		      opts.drain_s, who);
	for (unsigned i = 0; i < nstarted; i++) {
		if (services[i].listener == NULL)
			continue; /* UDP: nothing to drain */
		if (weir_fiber_spawn(NULL, drain_fiber, services[i].listener, NULL, &drainers[i]) ==
		    0)
			drain_pending++;
	}
	while (drain_pending > 0 && atomic_load(&me->stops) < 2 && weir_clock_now_ns() < deadline) {
		weir_loop_run_once(loop, 50 * WEIR_NS_PER_MS);
		if (atomic_exchange(&me->stats_now, 0))
			print_stats();
	}
	left = open_flows();
	/* Drainers still waiting inside weir_listener_stop must be gone before the listeners they
	 * wait on are closed and freed. */
	for (unsigned i = 0; i < nstarted; i++) {
		if (drainers[i] != NULL) {
			weir_fiber_cancel(drainers[i]);
			weir_fiber_join(drainers[i]);
		}
	}
	return left;
}

/* The summary line after a stop: for the whole appliance, and with several shards one per
 * shard. */
static void print_summary(uint64_t t_stop, int forced)
{
	struct snapshot snaps[MAX_SHARDS], sum;
	unsigned closed = 0;

	read_snapshots(snaps);
	add_snapshots(snaps, opts.shards, &sum);
	for (unsigned k = 0; k <= opts.shards; k++) {
		const struct snapshot *sn = k == 0 ? &sum : &snaps[k - 1];
		uint64_t in = 0, out_bytes = 0;
		char who[24] = "";

		if (k > 0 && opts.shards == 1)
			break;
		if (k > 0)
			snprintf(who, sizeof(who), "shard %u ", k - 1);
		for (unsigned i = 0; i < opts.nservices; i++) {
			in += sn->bytes_in[i];
			out_bytes += sn->bytes_out[i];
		}
		closed = 0;
		for (unsigned i = 0; i < opts.shards; i++)
			if (k == 0 || i == k - 1)
				closed += shards[i].closed_by_force;
		weir_log_info(
			"%sstopped%s after %llu ms: %u flows closed before finishing; bytes in "
			"%llu "
			"out %llu; frames rx %llu tx %llu; device: runts %llu, padded %llu, "
			"oversize %llu, no buffer %llu, super-frames %llu, checksums left by Linux "
			"%llu, TSO frames %llu",
			who, forced ? " at once (second signal)" : "",
			(unsigned long long)((weir_clock_now_ns() - t_stop) / WEIR_NS_PER_MS),
			closed, (unsigned long long)in, (unsigned long long)out_bytes,
			(unsigned long long)sn->st.rx_frames, (unsigned long long)sn->st.tx_frames,
			(unsigned long long)sn->ds.rx_runts, (unsigned long long)sn->ds.rx_padded,
			(unsigned long long)sn->ds.rx_oversize, (unsigned long long)sn->ds.rx_nobuf,
			(unsigned long long)sn->ts.rx_super,
			(unsigned long long)sn->ts.rx_csum_partial,
			(unsigned long long)sn->st.tx_super);
	}
}

/* A shard's thread: its loop, stack and services, from start to drain. */
static void *shard_main(void *arg)
{
	struct weir_loop *loop = NULL;
	int rc, status;

	me = arg;
	dev = me->dev;
	base_dev = me->base_dev;
	if (opts.ncpus > 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(opts.cpus[me->idx % opts.ncpus], &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			weir_log_warn("shard %u: cannot run on CPU %d", me->idx,
				      opts.cpus[me->idx % opts.ncpus]);
	}
	rc = weir_loop_create(&loop);
	if (rc == 0)
		rc = weir_loop_waker_attach(me->waker, loop, shard_wake, loop);
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: event loop: %s\n", weir_strerror(rc));
		status = 1;
	} else {
		status = bring_up(loop);
	}
	if (status == 0) {
		atomic_store(&me->state, SHARD_READY);
		take_snapshot();
		serve(loop);
		me->t_stop = weir_clock_now_ns();
		me->closed_by_force = drain(loop, me->t_stop);
	} else {
		me->status = status;
	}
	/* Listeners first (closing cancels the handlers still running), then fibers. */
	for (unsigned i = 0; i < nstarted; i++) {
		if (services[i].kind == SERVICE_UDP_ECHO) {
			service_stop_udp(&services[i]);
		} else {
			weir_listener_close(services[i].listener);
			services[i].listener = NULL; /* freed */
		}
	}
	if (fibers_up)
		weir_fibers_fini();
	if (stack != NULL)
		take_snapshot(); /* the last counters (bytes of every flow), for the summary */
	weir_stack_close(stack);
	weir_netdev_close(dev);
	weir_loop_waker_detach(me->waker);
	weir_loop_destroy(loop);
	filecache_clear();
	atomic_store(&me->state, status == 0 ? SHARD_DONE : SHARD_FAILED);
	return NULL;
}

/* Tells every shard about a signal and wakes it. */
static void signal_shards(int signo)
{
	for (unsigned i = 0; i < opts.shards; i++) {
		if (signo == SIGUSR1)
			atomic_store(&shards[i].stats_now, 1);
		else
			atomic_fetch_add(&shards[i].stops, 1);
		weir_loop_waker_wake(shards[i].waker);
	}
}

static int count_state(int state)
{
	int n = 0;

	for (unsigned i = 0; i < opts.shards; i++)
		n += atomic_load(&shards[i].state) == state;
	return n;
}

int main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	unsigned started = 0;
	int sfd, status = 1, stops = 0, readied = 0;
	uint64_t t_stop = 0;
	sigset_t mask;
	struct pollfd pfd;

	parse_args(argc, argv);

	/* Signals arrive at the main thread through a signalfd (blocked in every thread, which
	 * inherit the mask); it tells the shards. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	shards = calloc(opts.shards, sizeof(*shards));
	if (sfd < 0 || shards == NULL) {
		fprintf(stderr, "weir-appliance: %s\n",
			weir_strerror(sfd < 0 ? WEIR_EIO : WEIR_ENOMEM));
		return 1;
	}
	for (unsigned i = 0; i < opts.shards; i++) {
		shards[i].idx = i;
		pthread_mutex_init(&shards[i].snap_lock, NULL);
		if (weir_loop_waker_create(&shards[i].waker) < 0) {
			fprintf(stderr, "weir-appliance: event loop: %s\n",
				weir_strerror(WEIR_EIO));
			goto out;
		}
	}
	if (opts.shards > 1 && weir_shard_group_create(opts.shards, &group) < 0) {
		fprintf(stderr, "weir-appliance: shards: %s\n", weir_strerror(WEIR_ENOMEM));
		goto out;
	}
	status = open_devices();
	if (status != 0)
		goto out;
	for (; started < opts.shards; started++) {
		if (pthread_create(&shards[started].thread, NULL, shard_main, &shards[started]) !=
		    0) {
			fprintf(stderr, "weir-appliance: cannot start shard %u\n", started);
			status = 1;
			break;
		}
	}
	/* The devices of shards that never started are still ours. */
	for (unsigned i = started; i < opts.shards; i++)
		weir_netdev_close(shards[i].dev);
	pfd.fd = sfd;
	pfd.events = POLLIN;
	while (count_state(SHARD_DONE) + count_state(SHARD_FAILED) < (int)started) {
		if (poll(&pfd, 1, 20) > 0) {
			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo != SIGUSR1) {
					atomic_store(&last_stop, (int)si.ssi_signo);
					if (stops++ == 0)
						t_stop = weir_clock_now_ns();
				}
				signal_shards((int)si.ssi_signo);
			}
		}
		if (!readied && count_state(SHARD_FAILED) > 0 && stops == 0) {
			/* One shard could not come up: the others stop at once. */
			stops = 2;
			signal_shards(SIGTERM);
			signal_shards(SIGTERM);
		}
		if (!readied && started == opts.shards &&
		    count_state(SHARD_READY) + count_state(SHARD_DONE) == (int)opts.shards) {
			const struct shard *s0 = &shards[0];
			char a[WEIR_IPADDR_STRLEN], g[WEIR_IPADDR_STRLEN], n[24] = "";

			readied = 1;
			if (opts.shards > 1)
				snprintf(n, sizeof(n), " shards %u", opts.shards);
			printf("ready %s %s/%u mac %02x:%02x:%02x:%02x:%02x:%02x%s%s%s\n",
			       opts.netdev, weir_ipaddr_format(s0->ip, a), s0->plen, s0->mac[0],
			       s0->mac[1], s0->mac[2], s0->mac[3], s0->mac[4], s0->mac[5],
			       s0->gw.v4 ? " gw " : "",
			       s0->gw.v4 ? weir_ipaddr_format(s0->gw, g) : "", n);
			fflush(stdout);
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(shards[i].thread, NULL);
	status = 0;
	for (unsigned i = 0; i < started; i++)
		if (shards[i].status != 0 && status == 0)
			status = shards[i].status;
	if (started < opts.shards)
		status = 1;
	if (status == 0) {
		print_summary(t_stop, stops >= 2);
		status = stops >= 2 ? 1 : 0;
	}
out:
	weir_shard_group_destroy(group);
	for (unsigned i = 0; i < opts.shards; i++) {
		weir_loop_waker_destroy(shards[i].waker);
		pthread_mutex_destroy(&shards[i].snap_lock);
	}
	free(shards);
	close(sfd);
	return status;
}
