/* dpdk_pair.c - one side of a TCP transfer between two weir processes over a DPDK port (public
 * API only; the test runs a server and a client over net_memif).
 *
 * usage: dpdk-pair server|client SPEC ADDR/PREFIX PEER MIB [slow]
 *
 * The client connects to PEER:5001 and sends MIB MiB of a pseudo-random stream, then half-closes;
 * the server checks every byte as it arrives, then sends MIB MiB of another stream back and
 * closes; the client checks those. Both print the throughput of each direction. Then both check
 * the DPDK receive pool: once the flow is closed, the stack holds no frame and the pool's in-use
 * count is back at its baseline (what the port held right after it started). Exit 0 only if
 * every byte matched and the pool is back at its baseline; 1 otherwise; 2 for bad arguments or
 * a device that cannot be opened.
 *
 * "slow" makes the server wait 2 s before it reads anything, so the stack holds a full receive
 * window of frames: with a small pool (mbufs=N in SPEC) the driver must report the pool low (the
 * stack then frees out-of-order segments) and the transfer must still complete byte-exact; the
 * server then also requires at least one low-buffer event.
 *
 * After its result line each side stops polling the port and waits (up to 60 s) for SIGTERM
 * before it closes the port: the test ends the client, then the server. DPDK 22.11's memif PMD
 * unmaps its rings from the EAL's interrupt thread when the peer disconnects, and an
 * rte_eth_rx_burst running at that moment can fault; nobody polls while the peer goes.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weir/clock.h>
#include <weir/dpdk.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/loop.h>
#include <weir/netdev.h>
#include <weir/stack.h>

#define PORT	  5001
#define CHUNK	  (64 * 1024)
#define SEED_UP	  0x5745495255505550ull /* client -> server */
#define SEED_DOWN 0x574549524e574f44ull /* server -> client */
#define LIMIT_NS  (120 * WEIR_NS_PER_S)

static struct weir_loop *loop;
static struct weir_stack *stack;
static uint64_t total;
static struct weir_ipaddr peer;
static int result = 1; /* 0 once this side's transfer checked out */
static int finished;
static struct weir_netdev *dev;
static uint32_t peak_held; /* most receive frames the stack held at once (sampled) */
static int slow;

/* Byte i of a stream is byte i % 8 of splitmix64(seed + i / 8): any piece can be generated
 * without the ones before it. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void stream_fill(uint64_t seed, uint64_t off, uint8_t *dst, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint64_t w = mix(seed + (off + i) / 8);
		unsigned b = (unsigned)((off + i) % 8);

		for (; b < 8 && i < len; b++, i++)
			dst[i] = (uint8_t)(w >> (8 * b));
	}
}

static double mbit_s(uint64_t bytes, uint64_t ns)
{
	return ns ? (double)bytes * 8 * 1e3 / (double)ns : 0;
}

static int send_stream(struct weir_flow *f, uint64_t seed, const char *what)
{
	static uint8_t buf[CHUNK];
	uint64_t t0 = weir_clock_now_ns();

	for (uint64_t off = 0; off < total; off += CHUNK) {
		size_t n = (size_t)(total - off < CHUNK ? total - off : CHUNK);
		int rc;

		stream_fill(seed, off, buf, n);
		rc = weir_flow_write(f, buf, n);
		if (rc < 0) {
			printf("FAIL: %s: write at %llu: %s\n", what, (unsigned long long)off,
			       weir_strerror(rc));
			return rc;
		}
	}
	printf("sent %llu bytes (%s) in %.3f s\n", (unsigned long long)total, what,
	       (double)(weir_clock_now_ns() - t0) / 1e9);
	return 0;
}

/* Reads until EOF, checking every byte against the stream; 0 if exactly total bytes matched. */
static int check_stream(struct weir_flow *f, uint64_t seed, const char *what)
{
	static uint8_t want[CHUNK];
	uint64_t off = 0, t0 = 0;
	struct weir_buf b;
	ssize_t n;

	for (unsigned reads = 0; (n = weir_flow_read(f, &b)) > 0; reads++) {
		size_t done = 0;

		if (off == 0)
			t0 = weir_clock_now_ns();
		if (reads % 256 == 0) {
			/* The buffer read is a frame the stack holds (zero copy): it must count. */
			struct weir_dpdk_stats ds;

			if (weir_dpdk_get_stats(dev, &ds) == 0 && ds.frames_held > peak_held)
				peak_held = ds.frames_held;
		}
		while (done < (size_t)n) {
			size_t piece = (size_t)n - done < CHUNK ? (size_t)n - done : CHUNK;

			stream_fill(seed, off, want, piece);
			if (off + piece > total || memcmp(want, b.data + done, piece) != 0) {
				printf("FAIL: %s: bytes differ (or too many) near offset %llu\n",
				       what, (unsigned long long)off);
				weir_buf_release(&b);
				return 1;
			}
			off += piece;
			done += piece;
		}
		weir_buf_release(&b);
	}
	if (n != WEIR_EOF || off != total) {
		printf("FAIL: %s: %llu of %llu bytes, then %s\n", what, (unsigned long long)off,
		       (unsigned long long)total, weir_strerror((int)n));
		return 1;
	}
	{
		uint64_t ns = weir_clock_now_ns() - t0;

		printf("ok: %s: %llu bytes byte-exact in %.3f s = %.0f Mbit/s\n", what,
		       (unsigned long long)total, (double)ns / 1e9, mbit_s(total, ns));
	}
	return 0;
}

static void server_handler(struct weir_flow *f, void *arg)
{
	(void)arg;
	if (slow)
		weir_fiber_sleep_ns(2 * WEIR_NS_PER_S);
	if (check_stream(f, SEED_UP, "client->server") == 0 &&
	    send_stream(f, SEED_DOWN, "server->client") == 0 && weir_flow_close(f) == 0)
		result = 0;
	finished = 1;
	weir_loop_stop(loop);
}

static void client_fiber(void *arg)
{
	struct weir_tcp_connect_opts co = { .timeout_ns = 2 * WEIR_NS_PER_S };
	uint64_t give_up = weir_clock_now_ns() + 30 * WEIR_NS_PER_S;
	struct weir_flow *f = NULL;
	int rc;

	(void)arg;
	/* The server may still be starting, or memif still connecting: retry for a while. */
	while ((rc = weir_tcp_connect(stack, peer, PORT, &co, &f)) < 0 &&
	       weir_clock_now_ns() < give_up) {
		if (rc != WEIR_EREFUSED && rc != WEIR_ETIMEDOUT && rc != WEIR_EUNREACH)
			break;
		weir_fiber_sleep_ns(200 * WEIR_NS_PER_MS);
	}
	if (rc < 0) {
		printf("FAIL: connect: %s\n", weir_strerror(rc));
	} else if (send_stream(f, SEED_UP, "client->server") == 0 &&
		   weir_flow_shutdown(f, WEIR_SHUT_WR) == 0 &&
		   check_stream(f, SEED_DOWN, "server->client") == 0 && weir_flow_close(f) == 0) {
		result = 0;
	}
	weir_flow_free(f);
	finished = 1;
	weir_loop_stop(loop);
}

/* Runs the loop for ns more (lets the last ACKs and FINs through). */
static void settle(uint64_t ns)
{
	uint64_t end = weir_clock_now_ns() + ns;

	while (weir_clock_now_ns() < end)
		weir_loop_run_once(loop, 10 * WEIR_NS_PER_MS);
}

int main(int argc, char **argv)
{
	struct weir_stack_config sc = { 0 };
	struct weir_listener *l = NULL;
	struct weir_dpdk_stats ds;
	uint64_t deadline;
	int server, rc, pool_ok;
	long mib;

	sigset_t term;
	int sig;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked before the EAL starts its threads, so they inherit it and sigwait gets it. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	if (argc < 6 || argc > 7 || (argc == 7 && strcmp(argv[6], "slow") != 0) ||
	    (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0) ||
	    weir_ipaddr_parse_cidr(argv[3], &sc.ip, &sc.prefix_len) < 0 ||
	    weir_ipaddr_parse(argv[4], &peer) < 0 || (mib = atol(argv[5])) <= 0 || mib > 65536) {
		fprintf(stderr,
			"usage: dpdk-pair server|client SPEC ADDR/PREFIX PEER MIB [slow]\n");
		return 2;
	}
	slow = argc == 7;
	server = strcmp(argv[1], "server") == 0;
	total = (uint64_t)mib << 20;
	rc = weir_netdev_open(argv[2], NULL, &dev);
	if (rc < 0) {
		fprintf(stderr, "dpdk-pair: %s: %s: %s\n", argv[2], weir_strerror(rc),
			weir_netdev_last_error());
		return 2;
	}
	if (weir_loop_create(&loop) < 0)
		return 1;
	sc.netdev = dev;
	sc.loop = loop;
	rc = weir_stack_open(&sc, &stack);
	if (rc < 0 || weir_fibers_init(loop) < 0) {
		fprintf(stderr, "dpdk-pair: stack: %s\n", weir_strerror(rc));
		return 1;
	}
	if (server) {
		struct weir_tcp_listen_opts lo = { .port = PORT };

		rc = weir_tcp_listen(stack, &lo, server_handler, NULL, &l);
		if (rc < 0) {
			fprintf(stderr, "dpdk-pair: listen: %s\n", weir_strerror(rc));
			return 1;
		}
	} else if (weir_fiber_spawn(NULL, client_fiber, NULL, NULL, NULL) < 0) {
		return 1;
	}
	printf("ready %s\n", argv[1]);
	deadline = weir_clock_now_ns() + LIMIT_NS;
	while (!finished && weir_clock_now_ns() < deadline)
		weir_loop_run_once(loop, 50 * WEIR_NS_PER_MS);
	if (!finished)
		printf("FAIL: no result within %llu s\n",
		       (unsigned long long)(LIMIT_NS / WEIR_NS_PER_S));
	if (l != NULL)
		weir_listener_close(l);
	/* The peer's last ACK or FIN may still be on its way. */
	settle(500 * WEIR_NS_PER_MS);
	weir_fibers_fini();

	rc = weir_dpdk_get_stats(dev, &ds);
	/* peak_held > 0 shows the count is live: received data sat in the pool's mbufs. */
	pool_ok = rc == 0 && ds.frames_held == 0 && ds.pool_in_use == ds.pool_baseline &&
		  peak_held > 0 && (!slow || !server || ds.low_buffer_events > 0);
	printf("%s: %s port %u: receive mbufs in use %u (baseline %u, pool %u), frames held by the "
	       "stack %u (at most %u seen while receiving), low-buffer events %llu, tx mbufs in "
	       "use %u\n",
	       pool_ok ? "ok" : "FAIL", ds.driver, ds.port, ds.pool_in_use, ds.pool_baseline,
	       ds.pool_size, ds.frames_held, peak_held, (unsigned long long)ds.low_buffer_events,
	       ds.tx_pool_in_use);
	{
		struct timespec limit = { .tv_sec = 60 };

		sig = sigtimedwait(&term, NULL, &limit);
		if (sig != SIGTERM)
			printf("no SIGTERM within 60 s: closing anyway\n");
	}
	weir_stack_close(stack);
	weir_netdev_close(dev);
	weir_loop_destroy(loop);
	return result == 0 && pool_ok ? 0 : 1;
}
