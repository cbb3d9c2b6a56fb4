/* weir-appliance - a process that owns a NIC (TAP now, DPDK later) and runs a weir host on it.
 *
 * It brings the stack up, prints one line starting with "ready" on stdout once it answers on the
 * network, and runs until SIGINT or SIGTERM (then exits 0). Bad arguments: one line on stderr and
 * exit status 2.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define WEIR_LOG_COMPONENT "appliance"
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/log.h>
#include <weir/loop.h>
#include <weir/netdev.h>
#include <weir/stack.h>
#include <weir/tap.h>

#include "services.h"

#define EXIT_USAGE 2
#define MAX_SERVICES 16

static const char usage[] =
	"usage: weir-appliance --netdev tap:IFNAME --ip ADDR/PREFIX [options]\n"
	"\n"
	"Runs a weir TCP/IP host on a network device until SIGINT or SIGTERM.\n"
	"\n"
	"  --netdev SPEC      the device: tap:IFNAME (opened, or created if missing; needs\n"
	"                     CAP_NET_ADMIN to create)\n"
	"  --ip ADDR/PREFIX   our IPv4 address and prefix length, e.g. 192.0.2.2/24\n"
	"  --gw ADDR          default gateway (default: none)\n"
	"  --mac MAC          our MAC address, e.g. 02:00:5e:00:53:02 (default: random, local)\n"
	"  --mtu N            IP MTU, 576..9000 (default 1500)\n"
	"  --serve KIND:PORT  run a TCP service; repeatable. KIND: echo (RFC 862),\n"
	"                     discard (RFC 863)\n"
	"  --keepalive A,I,N  on served flows: probe after A ms idle, every I ms, give\n"
	"                     up after N unanswered probes (default: off)\n"
	"  --user-timeout MS  on served flows: end a flow whose data stays unacknowledged\n"
	"                     for MS ms (RFC 5482; default: off)\n"
	"  --log-level L      error, warn, info or debug (default info)\n"
	"  -h, --help         this text\n"
	"\n"
	"Prints \"ready ...\" on stdout when the host answers, then runs until signalled.\n"
	"\n"
	"example (as root):\n"
	"  ip netns add demo\n"
	"  ip netns exec demo weir-appliance --netdev tap:weir0 --ip 192.0.2.2/24 \\\n"
	"      --serve echo:7 &\n"
	"  ip -n demo addr add 192.0.2.1/24 dev weir0; ip -n demo link set weir0 up\n"
	"  ip netns exec demo ping -c 3 192.0.2.2\n"
	"  echo hello | ip netns exec demo socat - TCP:192.0.2.2:7\n";

static void die_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "weir-appliance: ");
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
	v = strtoul(s, &end, 10);
	if (*end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

struct sig_source {
	int fd;
	struct weir_loop *loop;
	int signo;
};

static int sig_poll(void *arg)
{
	struct sig_source *ss = arg;
	struct signalfd_siginfo si;

	if (read(ss->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		ss->signo = (int)si.ssi_signo;
		weir_loop_stop(ss->loop);
		return 1;
	}
	return 0;
}

static const struct weir_loop_source_ops sig_ops = { .poll = sig_poll };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "netdev", required_argument, NULL, 'n' }, { "ip", required_argument, NULL, 'i' },
		{ "gw", required_argument, NULL, 'g' },	    { "mac", required_argument, NULL, 'm' },
		{ "mtu", required_argument, NULL, 'u' },    { "log-level", required_argument, NULL, 'l' },
		{ "serve", required_argument, NULL, 's' },  { "keepalive", required_argument, NULL, 'k' },
		{ "user-timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },	    { NULL, 0, NULL, 0 },
	};
	struct weir_stack_config cfg = { 0 };
	const char *netdev_spec = NULL, *ip_arg = NULL;
	struct weir_netdev *dev = NULL;
	struct weir_loop *loop = NULL;
	struct weir_stack *stack = NULL;
	struct weir_loop_source *sigsrc = NULL;
	struct sig_source ss = { .fd = -1 };
	struct service services[MAX_SERVICES];
	struct weir_flow_opts fo = { 0 };
	unsigned nservices = 0;
	int fibers_up = 0;
	sigset_t mask;
	int c, rc, status = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		unsigned long v;

		switch (c) {
		case 'n':
			netdev_spec = optarg;
			break;
		case 'i':
			ip_arg = optarg;
			if (weir_ipaddr_parse_cidr(optarg, &cfg.ip, &cfg.prefix_len) < 0 ||
			    cfg.ip.v4 == 0)
				die_usage("--ip: '%s' is not ADDR/PREFIX like 192.0.2.2/24", optarg);
			break;
		case 'g':
			if (weir_ipaddr_parse(optarg, &cfg.gw) < 0)
				die_usage("--gw: '%s' is not an IPv4 address", optarg);
			break;
		case 'm':
			if (weir_mac_parse(optarg, cfg.mac) < 0 || (cfg.mac[0] & 1))
				die_usage("--mac: '%s' is not a unicast MAC like 02:00:5e:00:53:02",
					  optarg);
			break;
		case 'u':
			if (parse_uint(optarg, 9000, &v) < 0 || v < 576)
				die_usage("--mtu: '%s' is not a number in 576..9000", optarg);
			cfg.mtu = (uint16_t)v;
			break;
		case 'l': {
			enum weir_log_level lvl;

			if (weir_log_parse_level(optarg, &lvl) < 0)
				die_usage("--log-level: '%s' is not error, warn, info or debug",
					  optarg);
			weir_log_set_level(lvl);
			break;
		}
		case 's':
			if (nservices == MAX_SERVICES)
				die_usage("--serve: at most %s services", "16");
			if (service_parse(optarg, &services[nservices]) < 0)
				die_usage("--serve: '%s' is not KIND:PORT with KIND echo or discard",
					  optarg);
			for (unsigned i = 0; i < nservices; i++)
				if (services[i].port == services[nservices].port)
					die_usage("--serve: port of '%s' is used twice", optarg);
			nservices++;
			break;
		case 'k': {
			unsigned long a, i, n;
			char *e1, *e2, *e3;

			a = strtoul(optarg, &e1, 10);
			i = *e1 == ',' ? strtoul(e1 + 1, &e2, 10) : 0;
			n = *e1 == ',' && *e2 == ',' ? strtoul(e2 + 1, &e3, 10) : 0;
			if (*e1 != ',' || *e2 != ',' || *e3 != '\0' || a == 0 || i == 0 || n == 0 ||
			    a > 86400000ul || i > 86400000ul || n > 1000)
				die_usage("--keepalive: '%s' is not AFTER_MS,INTERVAL_MS,PROBES",
					  optarg);
			fo.keepalive.after_ms = (uint32_t)a;
			fo.keepalive.interval_ms = (uint32_t)i;
			fo.keepalive.probes = (uint32_t)n;
			break;
		}
		case 't':
			if (parse_uint(optarg, 86400000ul, &v) < 0 || v == 0)
				die_usage("--user-timeout: '%s' is not a number of ms (1..86400000)",
					  optarg);
			fo.user_timeout_ms = (uint32_t)v;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			die_usage("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (netdev_spec == NULL)
		die_usage("%s", "--netdev is required");
	if (ip_arg == NULL)
		die_usage("%s", "--ip is required");
	if (strncmp(netdev_spec, "tap:", 4) != 0)
		die_usage("--netdev: '%s' is not tap:IFNAME", netdev_spec);

	/* Signals arrive through a signalfd on the loop: no handler races the loop's sleep. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	ss.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

	rc = weir_loop_create(&loop);
	if (rc == 0 && ss.fd >= 0) {
		ss.loop = loop;
		rc = weir_loop_add(loop, &sig_ops, &ss, ss.fd, 0, &sigsrc);
	}
	if (rc < 0 || ss.fd < 0) {
		fprintf(stderr, "weir-appliance: event loop: %s\n",
			weir_strerror(rc < 0 ? rc : WEIR_EIO));
		status = 1;
		goto out;
	}
	{
		/* The device carries the MTU the host is given (frames up to MTU + header). */
		struct weir_tap_config tc = { .ifname = netdev_spec + 4, .mtu = cfg.mtu };

		rc = weir_tap_open(&tc, &dev);
	}
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: --netdev %s: %s%s\n", netdev_spec, weir_strerror(rc),
			rc == WEIR_EINVAL   ? " (interface name must be 1..15 characters)"
			: rc == WEIR_EPERM  ? " (creating a TAP device needs root or CAP_NET_ADMIN)"
			: rc == WEIR_EBUSY  ? " (another process has the device)"
			: rc == WEIR_ENODEV ? " (no /dev/net/tun)"
					    : "");
		status = rc == WEIR_EINVAL ? EXIT_USAGE : 1;
		goto out;
	}
	cfg.netdev = dev;
	cfg.loop = loop;
	rc = weir_stack_open(&cfg, &stack);
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: stack: %s\n", weir_strerror(rc));
		status = rc == WEIR_EINVAL ? EXIT_USAGE : 1;
		goto out;
	}
	rc = weir_fibers_init(loop);
	if (rc < 0) {
		fprintf(stderr, "weir-appliance: fibers: %s\n", weir_strerror(rc));
		goto out;
	}
	fibers_up = 1;
	for (unsigned i = 0; i < nservices; i++) {
		rc = service_start(&services[i], stack, &fo);
		if (rc < 0) {
			fprintf(stderr, "weir-appliance: --serve %s:%u: %s\n",
				service_name(&services[i]), services[i].port, weir_strerror(rc));
			goto out;
		}
		weir_log_info("serving %s on port %u", service_name(&services[i]),
			      services[i].port);
	}
	{
		uint8_t m[6];
		char a[WEIR_IPADDR_STRLEN];

		weir_stack_get_mac(stack, m);
		printf("ready %s %s/%u mac %02x:%02x:%02x:%02x:%02x:%02x\n", netdev_spec,
		       weir_ipaddr_format(cfg.ip, a), cfg.prefix_len, m[0], m[1], m[2], m[3], m[4],
		       m[5]);
		fflush(stdout);
	}

	rc = weir_loop_run(loop);
	status = rc < 0 ? 1 : 0;
	{
		struct weir_stack_stats st;
		struct weir_netdev_stats ds;

		weir_stack_get_stats(stack, &st);
		weir_netdev_get_stats(dev, &ds);
		weir_log_info("stopping (%s): rx %llu frames, tx %llu frames, drops %llu; device: "
			      "runts %llu, padded %llu, oversize %llu, no buffer %llu",
			      ss.signo == SIGINT ? "SIGINT" : ss.signo == SIGTERM ? "SIGTERM" : "error",
			      (unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
			      (unsigned long long)(st.drop_runt + st.drop_wrap + st.drop_input +
						   st.drop_tx_full + st.drop_tx_error +
						   st.drop_tx_oversize + st.drop_tx_chain),
			      (unsigned long long)ds.rx_runts, (unsigned long long)ds.rx_padded,
			      (unsigned long long)ds.rx_oversize, (unsigned long long)ds.rx_nobuf);
	}
out:
	/* Listeners and their handlers first (closing cancels running handlers), then fibers. */
	for (unsigned i = 0; i < nservices; i++)
		weir_listener_close(services[i].listener);
	if (fibers_up)
		weir_fibers_fini();
	weir_stack_close(stack);
	weir_netdev_close(dev);
	weir_loop_remove(loop, sigsrc);
	weir_loop_destroy(loop);
	if (ss.fd >= 0)
		close(ss.fd);
	return status;
}
