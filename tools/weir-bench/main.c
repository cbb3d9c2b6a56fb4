/* main.c - weir-bench: bulk throughput, 64-byte request/response latency and connection rate,
 * on weir (any netdev, or two weir processes over the link driver) and on Linux sockets.
 *
 *   weir-bench server [--kernel [--bind ADDR] | --netdev SPEC --ip ADDR/PREFIX] [--port P]
 *   weir-bench client --test bulk|rr|crr --peer ADDR [--flows N] [--duration S] [--port P]
 *                     [--rate R] [--kernel [--spread N] | --netdev SPEC --ip ADDR/PREFIX]
 *   weir-bench link   --test bulk|rr|crr [--flows N] [--duration S] [--cpus SERVER,CLIENT]
 *   weir-bench pingpong [--test crr|bulk] [--shards N] [--shard-cpus LIST] [--duration S]
 *
 * A server prints "ready" once it listens and serves until SIGINT/SIGTERM. A client prints one
 * "result key=value ..." line (bench.sh parses it). Bad arguments print one line and exit 2.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <weir/config.h>
#include <weir/impair.h>
#include <weir/link.h>
#include <weir/stack.h>

#include "bench.h"

volatile int bench_stop;

static const char usage[] =
	"usage: weir-bench server [--kernel [--bind ADDR] | --netdev SPEC --ip ADDR/PREFIX] "
	"[--port P]\n"
	"       weir-bench client --test bulk|rr|crr --peer ADDR [--flows N] [--duration S]\n"
	"                         [--port P] [--rate R] [--kernel [--spread N] | --netdev SPEC\n"
	"                         --ip ADDR/PREFIX]\n"
	"       weir-bench link --test bulk|rr|crr [--flows N] [--duration S] [--cpus S,C]\n"
	"       weir-bench pingpong [--test crr|bulk] [--shards N] [--shard-cpus LIST]\n"
	"                           [--duration S]\n"
	"\n"
	"Workloads (client --test):\n"
	"  bulk  N flows (--flows, default 1) each write 64 KiB chunks to the discard port for\n"
	"        --duration seconds, then half-close and wait for the server's EOF: prints gbit_s\n"
	"  rr    one flow, 64-byte request and 64-byte reply, back to back: prints mean, p50, "
	"p99,\n"
	"        p99.9 round-trip time in microseconds (after %d warm-up round trips)\n"
	"  crr   connect, 64-byte request and reply, close, repeated: prints connections per "
	"second;\n"
	"        --flows N runs N such loops at once\n"
	"--rate R paces the client to an offered load in total, shared evenly by the flows: bulk\n"
	"R Mbit/s, crr R connections per second (default: as fast as it goes).\n"
	"Ports: P (default %d) discards, P+1 echoes. SPEC is a weir_netdev_open() spec: "
	"tap:IFNAME,\n"
	"dpdk:EAL ARGS[,port=N]. link forks a weir server (192.0.2.2) and runs a weir client\n"
	"(192.0.2.1) over the link driver (with --shards, a socketpair per shard); --cpus pins\n"
	"them (server first). --impair SPEC\n"
	"(weir_impair_parse: loss=0.01,reorder=...,seed=N) impairs weir's device both ways.\n"
	"--shards N (weir): N stacks, one per thread, on N queues of the device (TAP made\n"
	"multi_queue, DPDK); the server prints per shard: connections, bytes, CPU time of the\n"
	"shard's thread (getrusage RUSAGE_THREAD); the client splits its flows across shards.\n"
	"--shard-cpus A,B,...: shard i runs on CPU list[i %% n] (link: both ends' shard i).\n"
	"--spread N (client --kernel --test bulk): flow i connects from a source port that a\n"
	"sharded weir server's TAP steers to queue i %% N, so its N shards get the flows evenly\n"
	"(Linux's own port choice splits 8 flows 4/4 only a quarter of the time).\n"
	"A result line ends with client_cpu_ms: the CPU time (user + system) of the process that\n"
	"prints it (client, link's client side, pingpong's asking side).\n"
	"pingpong: no weir, the machine's own figure: two processes of N threads, thread i of\n"
	"each exchanging 64-byte messages over socketpair i (epoll_pwait2, 1 ms timeouts, as\n"
	"weir's loop waits); prints the answering threads' CPU time per round trip in the\n"
	"sharded server's format. --test bulk: thread i streams 64 KiB messages to its pair\n"
	"instead, which reads them (CPU time per byte received, a load of copies).\n"
	"Example: weir-bench link --test rr --duration 2\n";

static int bad(const char *what, const char *val)
{
	if (val != NULL)
		fprintf(stderr, "weir-bench: bad %s '%s' (see --help)\n", what, val);
	else
		fprintf(stderr, "weir-bench: %s (see --help)\n", what);
	return 2;
}

static int is_ipv4(const char *s)
{
	struct in_addr a;

	return s != NULL && inet_pton(AF_INET, s, &a) == 1;
}

const char *bench_test_name(enum bench_test t)
{
	return t == BENCH_BULK ? "bulk" : t == BENCH_RR ? "rr" : "crr";
}

int bench_lat_add(struct bench_result *r, uint64_t ns)
{
	if (r->lat_len == r->lat_cap) {
		size_t cap = r->lat_cap ? r->lat_cap * 2 : 65536;
		uint64_t *p = realloc(r->lat_ns, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		r->lat_ns = p;
		r->lat_cap = cap;
	}
	r->lat_ns[r->lat_len++] = ns;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static double pct_us(const uint64_t *s, size_t n, double p)
{
	size_t rank = (size_t)ceil(p / 100.0 * (double)n);

	if (rank < 1)
		rank = 1;
	return (double)s[rank - 1] / 1e3;
}

void bench_report(struct bench_result *r)
{
	printf("result test=%s flows=%u seconds=%.3f", bench_test_name(r->test), r->flows,
	       r->seconds);
	if (r->test == BENCH_BULK) {
		printf(" bytes=%llu gbit_s=%.3f retrans=%llu", (unsigned long long)r->bytes,
		       r->seconds > 0 ? (double)r->bytes * 8 / r->seconds / 1e9 : 0.0,
		       (unsigned long long)r->retrans);
	} else if (r->test == BENCH_RR) {
		double sum = 0;

		qsort(r->lat_ns, r->lat_len, sizeof(*r->lat_ns), cmp_u64);
		for (size_t i = 0; i < r->lat_len; i++)
			sum += (double)r->lat_ns[i];
		printf(" count=%zu", r->lat_len);
		if (r->lat_len > 0)
			printf(" mean_us=%.2f p50_us=%.2f p99_us=%.2f p999_us=%.2f min_us=%.2f "
			       "max_us=%.2f",
			       sum / (double)r->lat_len / 1e3, pct_us(r->lat_ns, r->lat_len, 50),
			       pct_us(r->lat_ns, r->lat_len, 99),
			       pct_us(r->lat_ns, r->lat_len, 99.9), (double)r->lat_ns[0] / 1e3,
			       (double)r->lat_ns[r->lat_len - 1] / 1e3);
	} else {
		printf(" conns=%llu errors=%llu conn_s=%.0f", (unsigned long long)r->ops,
		       (unsigned long long)r->errors,
		       r->seconds > 0 ? (double)r->ops / r->seconds : 0.0);
	}
	/* The client process's CPU time so far (all its threads, user + system), so a bench can
	 * tell what a Linux peer spent beside what a weir server did (tools/bench-shards.sh). */
	{
		struct rusage ru;

		if (getrusage(RUSAGE_SELF, &ru) == 0)
			printf(" client_cpu_ms=%.1f",
			       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
				       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	}
	printf("\n");
	fflush(stdout);
	free(r->lat_ns);
	r->lat_ns = NULL;
	r->lat_len = r->lat_cap = 0;
}

static void on_stop(int sig)
{
	(void)sig;
	bench_stop = 1;
}

static void catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void pin(int cpu, const char *who)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "weir-bench: %s: cannot pin to CPU %d: %s\n", who, cpu,
			strerror(errno));
}

void bench_close_pairs(const int *a, const int *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		close(a[i]);
		close(b[i]);
	}
}

/* Forks a weir server on one end of a link and runs the weir client on the other; with
 * --shards N, N socketpairs, shard i of the client paired with shard i of the server. */
static int run_link(struct bench_opts *o)
{
	struct bench_result r = { 0 };
	unsigned n = o->shards > 0 ? o->shards : 1;
	int cl[64], sv[64], ready[2], status, rc;
	struct pollfd pfd;
	pid_t pid;
	char c;

	for (unsigned i = 0; i < n; i++) {
		int fds[2];

		if (weir_link_socketpair(fds) < 0) {
			fprintf(stderr, "weir-bench: socketpair: %s\n", strerror(errno));
			bench_close_pairs(cl, sv, i);
			return 1;
		}
		cl[i] = fds[0];
		sv[i] = fds[1];
	}
	if (pipe(ready) < 0) {
		fprintf(stderr, "weir-bench: pipe: %s\n", strerror(errno));
		bench_close_pairs(cl, sv, n);
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "weir-bench: fork: %s\n", strerror(errno));
		bench_close_pairs(cl, sv, n);
		close(ready[0]);
		close(ready[1]);
		return 1;
	}
	if (pid == 0) {
		struct bench_opts so = *o;

		/* The server must not outlive us, whatever happens to this process. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (unsigned i = 0; i < n; i++)
			close(cl[i]);
		close(ready[0]);
		catch_stop();
		pin(o->server_cpu, "server");
		so.ip = "192.0.2.2/24";
		if (o->shards > 0) {
			so.link_fds = sv;
			so.ready_fd = ready[1];
			_exit(bench_weir_server_shards(&so));
		}
		_exit(bench_weir_server(&so, sv[0], ready[1]));
	}
	for (unsigned i = 0; i < n; i++)
		close(sv[i]);
	close(ready[1]);
	pin(o->client_cpu, "client");
	/* Wait (bounded) until the server listens; EOF means it failed to start. */
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1 || read(ready[0], &c, 1) != 1) {
		fprintf(stderr, "weir-bench: link server did not start\n");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return 1;
	}
	close(ready[0]);
	o->ip = "192.0.2.1/24";
	o->peer = "192.0.2.2";
	if (o->shards > 0) {
		o->link_fds = cl;
		rc = bench_weir_client_shards(o, &r);
	} else {
		rc = bench_weir_client(o, cl[0], &r);
	}
	if (rc == 0)
		bench_report(&r);
	free(r.lat_ns);
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return rc;
		usleep(20000);
	}
	fprintf(stderr, "weir-bench: link server did not stop; killing it\n");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return rc;
}

static int parse_uint(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0' || *s == '-')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "test", required_argument, NULL, 't' },
		{ "flows", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ "peer", required_argument, NULL, 'p' },
		{ "port", required_argument, NULL, 'P' },
		{ "kernel", no_argument, NULL, 'k' },
		{ "netdev", required_argument, NULL, 'n' },
		{ "ip", required_argument, NULL, 'i' },
		{ "bind", required_argument, NULL, 'b' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "impair", required_argument, NULL, 'I' },
		{ "shards", required_argument, NULL, 'S' },
		{ "rate", required_argument, NULL, 'r' },
		{ "shard-cpus", required_argument, NULL, 'C' },
		{ "spread", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_opts o = { .flows = 1,
				.duration_s = 2.0,
				.port = BENCH_DEFAULT_PORT,
				.server_cpu = -1,
				.client_cpu = -1,
				.ready_fd = -1 };
	struct bench_result r = { 0 };
	const char *role;
	int have_test = 0, ch, rc;
	unsigned long v;
	char *end;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf(usage, BENCH_RR_WARMUP, BENCH_DEFAULT_PORT);
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, usage, BENCH_RR_WARMUP, BENCH_DEFAULT_PORT);
		return 2;
	}
	role = argv[1];
	if (strcmp(role, "server") && strcmp(role, "client") && strcmp(role, "link") &&
	    strcmp(role, "pingpong"))
		return bad("role (server, client, link or pingpong)", role);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			have_test = 1;
			if (!strcmp(optarg, "bulk"))
				o.test = BENCH_BULK;
			else if (!strcmp(optarg, "rr"))
				o.test = BENCH_RR;
			else if (!strcmp(optarg, "crr"))
				o.test = BENCH_CRR;
			else
				return bad("--test (bulk, rr or crr)", optarg);
			break;
		case 'f':
			if (parse_uint(optarg, 1, BENCH_MAX_FLOWS, &v) < 0)
				return bad("--flows (1..64)", optarg);
			o.flows = (unsigned)v;
			break;
		case 'd':
			errno = 0;
			o.duration_s = strtod(optarg, &end);
			if (errno || *end != '\0' ||
			    !(o.duration_s >= 0.05 && o.duration_s <= 3600))
				return bad("--duration (0.05..3600 seconds)", optarg);
			break;
		case 'p':
			o.peer = optarg;
			break;
		case 'P':
			if (parse_uint(optarg, 1, 65534, &v) < 0)
				return bad("--port (1..65534)", optarg);
			o.port = (uint16_t)v;
			break;
		case 'k':
			o.kernel = 1;
			break;
		case 'n':
			o.netdev = optarg;
			break;
		case 'i':
			o.ip = optarg;
			break;
		case 'b':
			o.bind_ip = optarg;
			break;
		case 'c': {
			unsigned a, b;
			int n = -1;

			if (sscanf(optarg, "%u,%u%n", &a, &b, &n) != 2 || optarg[n] != '\0' ||
			    a >= CPU_SETSIZE || b >= CPU_SETSIZE)
				return bad("--cpus (SERVER,CLIENT)", optarg);
			o.server_cpu = (int)a;
			o.client_cpu = (int)b;
			break;
		}
		case 'S':
			if (parse_uint(optarg, 1, 64, &v) < 0)
				return bad("--shards (1..64)", optarg);
			o.shards = (unsigned)v;
			break;
		case 'C': {
			char *p = optarg;

			o.nshard_cpus = 0;
			for (;;) {
				unsigned long cpu;

				errno = 0;
				cpu = strtoul(p, &end, 10);
				if (errno || end == p || *p == '-' || cpu >= CPU_SETSIZE ||
				    (*end != ',' && *end != '\0') || o.nshard_cpus == 64)
					return bad("--shard-cpus (CPU[,CPU]...)", optarg);
				o.shard_cpus[o.nshard_cpus++] = (int)cpu;
				if (*end == '\0')
					break;
				p = end + 1;
			}
			break;
		}
		case 'D':
			if (parse_uint(optarg, 1, 64, &v) < 0)
				return bad("--spread (1..64)", optarg);
			o.spread = (unsigned)v;
			break;
		case 'r':
			errno = 0;
			o.rate = strtod(optarg, &end);
			if (errno || *end != '\0' || !(o.rate >= 1 && o.rate <= 1e6))
				return bad("--rate (1..1000000: Mbit/s for bulk, connections/s for "
					   "crr)",
					   optarg);
			break;
		case 'I': {
			struct weir_impair_config ic;
			const char *why;

			if (weir_impair_parse(optarg, &ic, &why) < 0)
				return bad(why, optarg);
			o.impair = optarg;
			break;
		}
		case 'h':
			printf(usage, BENCH_RR_WARMUP, BENCH_DEFAULT_PORT);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc)
		return bad("argument", argv[optind]);
	if (o.nshard_cpus > 0 && o.shards == 0)
		return bad("--shard-cpus goes with --shards", NULL);
	if (o.spread > 0 && (!o.kernel || strcmp(role, "client") || o.test != BENCH_BULK))
		return bad("--spread goes with client --kernel --test bulk", NULL);
#if !(defined(CONFIG_WEIR_DRIVER_TAP) && CONFIG_WEIR_DRIVER_TAP)
	if (o.spread > 1)
		return bad("--spread needs the TAP driver's steering, which is not built in", NULL);
#endif
	if (!strcmp(role, "pingpong")) {
		if ((have_test && o.test != BENCH_CRR && o.test != BENCH_BULK) || o.kernel ||
		    o.netdev || o.ip || o.peer || o.rate > 0 || o.impair)
			return bad(
				"pingpong takes only --test crr|bulk, --shards, --shard-cpus and "
				"--duration",
				NULL);
		if (!have_test)
			o.test = BENCH_CRR; /* round trips unless asked */
		return bench_pingpong(&o);
	}
	if (strcmp(role, "server") && !have_test)
		return bad("missing --test", NULL);
	if (o.test == BENCH_RR && (o.flows != 1 || o.rate > 0))
		return bad("rr runs one flow as fast as it goes (no --flows or --rate)", NULL);
	if (o.rate > 0 && !strcmp(role, "server"))
		return bad("a server does not take --rate (the client paces)", NULL);
	if (o.kernel && (o.netdev || o.ip || o.impair || o.shards))
		return bad("--kernel does not take --netdev, --ip, --impair or --shards", NULL);
	if (!strcmp(role, "link")) {
		if (o.kernel || o.netdev || o.ip || o.peer)
			return bad("link takes only --test, --flows, --duration, --rate, --shards, "
				   "--shard-cpus, --impair and --cpus",
				   NULL);
		if (o.shards > 0 && o.server_cpu >= 0)
			return bad("link --shards runs a thread per shard: no --cpus", NULL);
		signal(SIGPIPE, SIG_IGN);
		return run_link(&o);
	}
	if (o.bind_ip != NULL && !is_ipv4(o.bind_ip))
		return bad("--bind (a dotted quad)", o.bind_ip);
	if (o.peer != NULL && !is_ipv4(o.peer))
		return bad("--peer (a dotted quad)", o.peer);
	if (o.ip != NULL) {
		struct weir_ipaddr a;
		uint8_t plen;

		if (weir_ipaddr_parse_cidr(o.ip, &a, &plen) < 0)
			return bad("--ip (ADDR/PREFIX)", o.ip);
	}
	if (!o.kernel && (o.netdev == NULL || o.ip == NULL))
		return bad("give --kernel, or --netdev SPEC and --ip ADDR/PREFIX", NULL);
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(role, "server")) {
		catch_stop();
		if (o.shards > 0 && !o.kernel)
			return bench_weir_server_shards(&o);
		return o.kernel ? bench_kernel_server(&o) : bench_weir_server(&o, -1, -1);
	}
	if (o.peer == NULL)
		return bad("missing --peer", NULL);
	if (o.shards > 0 && !o.kernel)
		rc = bench_weir_client_shards(&o, &r);
	else
		rc = o.kernel ? bench_kernel_client(&o, &r) : bench_weir_client(&o, -1, &r);
	if (rc == 0)
		bench_report(&r);
	free(r.lat_ns);
	return rc;
}
