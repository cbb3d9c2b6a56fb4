/* weir.c - weir-bench's weir backend: server and client on the public flow API, on any netdev
 * that weir_netdev_open() knows, or on one end of a link socketpair. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/link.h>
#include <weir/loop.h>
#include <weir/impair.h>
#include <weir/netdev.h>
#include <weir/shards.h>
#include <weir/stack.h>

#include "bench.h"

struct host {
	struct weir_loop *loop;
	struct weir_netdev *dev;
	struct weir_stack *stack;
	const char *role;
	int fibers;
};

static int fail(const char *what, int rc)
{
	fprintf(stderr, "weir-bench: %s: %s\n", what, weir_strerror(rc));
	return 1;
}

static void host_down(struct host *h)
{
	struct weir_netdev_stats ds = { 0 };
	struct weir_stack_stats st;

	/* Per-frame costs (profiles) are normalised by these; drops explain slow runs. */
	if (h->stack != NULL && weir_stack_get_stats(h->stack, &st) == 0) {
		weir_netdev_get_stats(h->dev, &ds);
		fprintf(stderr,
			"weir-bench: stack %s: rx_frames=%llu tx_frames=%llu tx_segments=%llu "
			"tx_super=%llu acks_folded=%llu drop_tx_full=%llu drop_input=%llu "
			"tcp_drops=%llu rx_copied=%llu "
			"dev_rx_nobuf=%llu dev_tx_full=%llu\n",
			h->role, (unsigned long long)st.rx_frames, (unsigned long long)st.tx_frames,
			(unsigned long long)st.tx_segments, (unsigned long long)st.tx_super,
			(unsigned long long)st.tx_acks_folded, (unsigned long long)st.drop_tx_full,
			(unsigned long long)st.drop_input, (unsigned long long)st.tcp_drops,
			(unsigned long long)st.rx_copied, (unsigned long long)ds.rx_nobuf,
			(unsigned long long)ds.tx_full);
	}
	if (h->dev != NULL) {
		struct weir_impair_stats is;

		if (weir_impair_get_stats(h->dev, &is) == 0)
			fprintf(stderr,
				"weir-bench: impair %s: tx frames=%llu dropped=%llu; rx "
				"frames=%llu "
				"dropped=%llu\n",
				h->role, (unsigned long long)is.frames[0],
				(unsigned long long)is.dropped[0], (unsigned long long)is.frames[1],
				(unsigned long long)is.dropped[1]);
	}
	if (h->fibers)
		weir_fibers_fini();
	weir_stack_close(h->stack);
	weir_netdev_close(h->dev);
	weir_loop_destroy(h->loop);
}

/* Brings up one weir host: a loop, the device (link_fd >= 0: a link end, which this takes over
 * whatever happens), the stack at o->ip, and fibers. Returns 0 or 1 (printed; h torn down). */
static int host_up(const struct bench_opts *o, int link_fd, const char *role, struct host *h)
{
	struct weir_stack_config sc = { 0 };
	int rc;

	memset(h, 0, sizeof(*h));
	h->role = role;
	if (weir_ipaddr_parse_cidr(o->ip, &sc.ip, &sc.prefix_len) < 0) {
		if (link_fd >= 0)
			close(link_fd);
		fprintf(stderr, "weir-bench: bad --ip '%s' (want ADDR/PREFIX)\n", o->ip);
		return 1;
	}
	if ((rc = weir_loop_create(&h->loop)) < 0) {
		if (link_fd >= 0)
			close(link_fd);
		return fail("loop", rc);
	}
	if (link_fd >= 0) {
		struct weir_link_config lc = { .fd = link_fd, .name = "bench" };

		rc = weir_link_open(&lc, &h->dev);
		if (rc < 0)
			close(link_fd);
	} else {
		rc = weir_netdev_open(o->netdev, NULL, &h->dev);
	}
	if (rc == 0 && o->impair != NULL) {
		struct weir_impair_config ic;
		struct weir_netdev *imp;

		rc = weir_impair_parse(o->impair, &ic, NULL);
		if (rc == 0)
			rc = weir_impair_wrap(h->dev, &ic, &imp);
		if (rc == 0)
			h->dev = imp;
		else
			weir_netdev_close(h->dev);
		if (rc < 0)
			h->dev = NULL;
	}
	if (rc < 0) {
		fprintf(stderr, "weir-bench: netdev '%s': %s\n", link_fd >= 0 ? "link" : o->netdev,
			weir_strerror(rc));
		host_down(h);
		return 1;
	}
	sc.netdev = h->dev;
	sc.loop = h->loop;
	if ((rc = weir_stack_open(&sc, &h->stack)) < 0) {
		host_down(h);
		return fail("stack", rc);
	}
	if ((rc = weir_fibers_init(h->loop)) < 0) {
		host_down(h);
		return fail("fibers", rc);
	}
	h->fibers = 1;
	return 0;
}

/* ---- server ---- */

static __thread uint64_t shard_bytes; /* what this thread's discard flows received */

static void discard(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) {
		shard_bytes += b.len;
		weir_buf_release(&b);
	}
	if (getenv("WEIR_BENCH_FLOWSTATS") != NULL) {
		/* How a receiving flow's losses went: what it sent again for a quiet peer. */
		struct weir_flow_stats fs;

		if (weir_flow_get_stats(f, &fs) == 0)
			fprintf(stderr,
				"weir-bench: flow in: bytes_in=%llu segments_in=%llu "
				"segments_out=%llu acks_resent=%u rcv_wnd=%u\n",
				(unsigned long long)fs.bytes_in, (unsigned long long)fs.segments_in,
				(unsigned long long)fs.segments_out, fs.acks_resent, fs.rcv_wnd);
	}
}

static void echo(struct weir_flow *f, void *arg)
{
	struct weir_buf b;

	(void)arg;
	while (weir_flow_read(f, &b) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			return;
	}
}

/* The server's two listeners: discard on the port, echo on the next. On a shard, every shard
 * listens on both (the device spreads the connections). Returns 0 or 1 (printed). */
static int listen_both(struct weir_stack *stack, const struct bench_opts *o,
		       struct weir_listener **ld, struct weir_listener **le)
{
	struct weir_tcp_listen_opts lo = { .port = o->port, .reuse_addr = 1 };
	int rc;

	lo.reuse_port = weir_stack_group(stack) != NULL;
	if ((rc = weir_tcp_listen(stack, &lo, discard, NULL, ld)) < 0)
		return fail("listen (discard)", rc);
	/* Replies go out at once: the client waits for them. */
	lo.port = (uint16_t)(o->port + 1);
	lo.flow.nodelay = 1;
	if ((rc = weir_tcp_listen(stack, &lo, echo, NULL, le)) < 0) {
		weir_listener_close(*ld);
		return fail("listen (echo)", rc);
	}
	return 0;
}

int bench_weir_server(const struct bench_opts *o, int link_fd, int ready_fd)
{
	struct weir_listener *ld, *le;
	struct host h;
	int rc = 0;

	if (host_up(o, link_fd, "server", &h) != 0)
		return 1;
	if (listen_both(h.stack, o, &ld, &le) != 0) {
		host_down(&h);
		return 1;
	}
	printf("ready weir server %s ports %u,%u\n", o->ip, o->port, o->port + 1);
	fflush(stdout);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "r", 1);
		close(ready_fd);
	}
	while (!bench_stop) {
		rc = weir_loop_run_once(h.loop, 100 * WEIR_NS_PER_MS);
		if (rc < 0) {
			fail("loop", rc);
			break;
		}
	}
	weir_listener_close(le);
	weir_listener_close(ld);
	host_down(&h);
	return rc < 0;
}

/* ---- client ---- */

struct client {
	const struct bench_opts *o;
	struct weir_stack *stack;
	struct weir_ipaddr peer;
	struct bench_result *r;
	uint64_t start_ns, deadline_ns;
	int done, rc;
};

struct bulk_flow {
	struct client *c;
	uint64_t bytes, end_ns, retrans;
	int rc;
};

static uint8_t chunk[BENCH_CHUNK];

static int connect_to(struct client *c, uint16_t port, int nodelay, struct weir_flow **f)
{
	struct weir_tcp_connect_opts co = { .timeout_ns = 10 * WEIR_NS_PER_S };

	co.flow.nodelay = nodelay;
	return weir_tcp_connect(c->stack, c->peer, port, &co, f);
}

/* Reads exactly len bytes; 0 or a weir error. May yield. */
static int read_exact(struct weir_flow *f, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = weir_flow_read_into(f, buf + got, len - got);

		if (n < 0)
			return (int)n;
		got += (size_t)n;
	}
	return 0;
}

static void bulk_fiber(void *arg)
{
	struct bulk_flow *b = arg;
	struct client *c = b->c;
	double share = c->o->rate / c->o->flows; /* --rate: this flow's Mbit/s, or 0 */
	struct weir_flow *f;
	struct weir_buf buf;
	uint64_t due, now, connect_ns, t0 = weir_clock_now_ns();
	ssize_t n;

	b->rc = connect_to(c, c->o->port, 0, &f);
	if (b->rc < 0) {
		fail("bulk connect", b->rc);
		return;
	}
	due = weir_clock_now_ns();
	connect_ns = due - t0; /* inside the timed window: a lost SYN costs its RTO here */
	while ((now = weir_clock_now_ns()) < c->deadline_ns) {
		if (share > 0 && now < due) {
			/* Never past the deadline; cancelled (the client's hard limit): stop. */
			b->rc = weir_fiber_sleep_ns(WEIR_MIN(due, c->deadline_ns) - now);
			if (b->rc < 0) {
				weir_flow_free(f);
				return;
			}
			continue;
		}
		b->rc = weir_flow_write(f, chunk, sizeof(chunk));
		if (b->rc < 0) {
			fail("bulk write", b->rc);
			weir_flow_free(f);
			return;
		}
		b->bytes += sizeof(chunk);
		if (share > 0)
			due = bench_next_due(due, now, (double)sizeof(chunk) * 8 / 1e6, share);
	}
	if (getenv("WEIR_BENCH_FLOWSTATS") != NULL) {
		/* Where a single flow's rate comes from: its windows and round trip at the end. */
		struct weir_flow_stats fs;

		if (weir_flow_get_stats(f, &fs) == 0)
			fprintf(stderr,
				"weir-bench: flow: cwnd=%u snd_wnd=%u snd_queued=%u srtt_ms=%u "
				"rto_ms=%u segments_out=%llu rto_timeouts=%u fast_recoveries=%u "
				"loss_probes=%u connect_ms=%.1f\n",
				fs.cwnd, fs.snd_wnd, fs.snd_queued, fs.srtt_ms, fs.rto_ms,
				(unsigned long long)fs.segments_out, fs.rto_timeouts,
				fs.fast_recoveries, fs.loss_probes, (double)connect_ns / 1e6);
	}
	/* The server reads to our FIN and closes: its FIN says every byte arrived. */
	weir_flow_shutdown(f, WEIR_SHUT_WR);
	while ((n = weir_flow_read(f, &buf)) > 0)
		weir_buf_release(&buf);
	b->end_ns = weir_clock_now_ns();
	{
		struct weir_flow_stats fs;

		if (weir_flow_get_stats(f, &fs) == 0)
			b->retrans = fs.retransmissions;
	}
	b->rc = n == WEIR_EOF ? 0 : (int)n;
	if (b->rc < 0)
		fail("bulk: waiting for the server's EOF", b->rc);
	weir_flow_close(f);
	weir_flow_free(f);
}

static int run_bulk(struct client *c)
{
	struct bulk_flow flows[BENCH_MAX_FLOWS] = { 0 };
	struct weir_fiber *fib[BENCH_MAX_FLOWS];
	uint64_t end = 0;
	int rc = 0;

	memset(chunk, 0x5a, sizeof(chunk));
	for (unsigned i = 0; i < c->o->flows; i++) {
		flows[i].c = c;
		rc = weir_fiber_spawn(NULL, bulk_fiber, &flows[i], NULL, &fib[i]);
		if (rc < 0)
			return fail("spawn", rc);
	}
	for (unsigned i = 0; i < c->o->flows; i++) {
		weir_fiber_join(fib[i]);
		if (flows[i].rc < 0)
			rc = flows[i].rc;
		c->r->bytes += flows[i].bytes;
		c->r->retrans += flows[i].retrans;
		if (flows[i].end_ns > end)
			end = flows[i].end_ns;
	}
	c->r->seconds = (double)(end - c->start_ns) / 1e9;
	return rc < 0;
}

static int run_rr(struct client *c)
{
	uint8_t req[BENCH_MSG], rep[BENCH_MSG];
	struct weir_flow *f;
	uint64_t t0, t1, i = 0;
	int rc;

	memset(req, 0x42, sizeof(req));
	if ((rc = connect_to(c, (uint16_t)(c->o->port + 1), 1, &f)) < 0)
		return fail("rr connect", rc);
	for (;;) {
		t0 = weir_clock_now_ns();
		if (i == BENCH_RR_WARMUP) {
			c->start_ns = t0;
			c->deadline_ns = t0 + (uint64_t)(c->o->duration_s * 1e9);
		}
		if (i >= BENCH_RR_WARMUP && t0 >= c->deadline_ns)
			break;
		if ((rc = weir_flow_write(f, req, sizeof(req))) < 0 ||
		    (rc = read_exact(f, rep, sizeof(rep))) < 0 ||
		    (rc = memcmp(rep, req, sizeof(req)) != 0 ? WEIR_EIO : 0) < 0) {
			weir_flow_free(f);
			return fail("rr round trip", rc);
		}
		t1 = weir_clock_now_ns();
		if (i++ >= BENCH_RR_WARMUP && bench_lat_add(c->r, t1 - t0) < 0) {
			weir_flow_free(f);
			return fail("rr samples", WEIR_ENOMEM);
		}
	}
	c->r->seconds = (double)(t0 - c->start_ns) / 1e9;
	c->r->ops = c->r->lat_len;
	weir_flow_close(f);
	weir_flow_free(f);
	return 0;
}

struct crr_loop {
	struct client *c;
	uint64_t ops, errors, end_ns;
	int cancelled;
};

/* One crr loop: connect, request, reply, close, until the deadline. */
static void crr_fiber(void *arg)
{
	struct crr_loop *l = arg;
	struct client *c = l->c;
	double share = c->o->rate / c->o->flows; /* --rate: this loop's connections/s, or 0 */
	uint8_t req[BENCH_MSG], rep[BENCH_MSG];
	uint64_t now, due = weir_clock_now_ns();
	int rc;

	memset(req, 0x43, sizeof(req));
	while ((now = weir_clock_now_ns()) < c->deadline_ns) {
		struct weir_flow *f = NULL;

		if (share > 0 && now < due) {
			/* Never past the deadline; cancelled (the client's hard limit): stop. */
			if (weir_fiber_sleep_ns(WEIR_MIN(due, c->deadline_ns) - now) < 0) {
				l->cancelled = 1;
				break;
			}
			continue;
		}
		rc = connect_to(c, (uint16_t)(c->o->port + 1), 1, &f);
		if (rc == 0 && (rc = weir_flow_write(f, req, sizeof(req))) == 0)
			rc = read_exact(f, rep, sizeof(rep));
		if (rc == 0 && memcmp(rep, req, sizeof(req)) != 0)
			rc = WEIR_EIO; /* the echo must be what we sent */
		if (rc == 0)
			l->ops++;
		else if (l->errors++ == 0)
			fail("crr (first error; counting the rest)", rc);
		/* Closes without waiting for the server's FIN (lwIP finishes the close), as
		 * close(2) does in the Linux client: the same work. weir_flow_close() would wait
		 * for that FIN, one round trip more per connection. */
		weir_flow_free(f);
		if (rc == WEIR_ECANCELED) {
			l->cancelled = 1;
			break;
		}
		if (share > 0)
			due = bench_next_due(due, now, 1, share);
	}
	l->end_ns = now;
}

static int run_crr(struct client *c)
{
	struct crr_loop loops[BENCH_MAX_FLOWS] = { 0 };
	struct weir_fiber *fib[BENCH_MAX_FLOWS];
	uint64_t end = c->start_ns;
	unsigned started = 0;
	int cancelled = 0, rc = 0;

	for (unsigned i = 0; i < c->o->flows; i++) {
		loops[i].c = c;
		rc = weir_fiber_spawn(NULL, crr_fiber, &loops[i], NULL, &fib[i]);
		if (rc < 0) {
			fail("spawn", rc);
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		weir_fiber_join(fib[i]);
		c->r->ops += loops[i].ops;
		c->r->errors += loops[i].errors;
		cancelled |= loops[i].cancelled;
		if (loops[i].end_ns > end)
			end = loops[i].end_ns;
	}
	c->r->seconds = (double)(end - c->start_ns) / 1e9;
	return rc < 0 || cancelled || c->r->ops == 0;
}

/* One round trip before timing starts: ARP is resolved and the server known to answer, so the
 * workload measures TCP, not the first SYN waiting for ARP (lwIP queues one packet per
 * unresolved address and retransmits a lost SYN only after its 3 s initial RTO). */
static int warm_up(struct client *c)
{
	uint8_t msg[BENCH_MSG] = { 0 };
	struct weir_flow *f = NULL;
	int rc = connect_to(c, (uint16_t)(c->o->port + 1), 1, &f);

	if (rc == 0 && (rc = weir_flow_write(f, msg, sizeof(msg))) == 0)
		rc = read_exact(f, msg, sizeof(msg));
	if (rc == 0)
		weir_flow_close(f);
	weir_flow_free(f);
	return rc;
}

static void client_main(void *arg)
{
	struct client *c = arg;
	int rc = warm_up(c);

	if (rc < 0) {
		c->rc = fail("warm-up round trip to the server", rc);
		c->done = 1;
		return;
	}
	c->start_ns = weir_clock_now_ns();
	c->deadline_ns = c->start_ns + (uint64_t)(c->o->duration_s * 1e9);
	c->rc = c->o->test == BENCH_BULK ? run_bulk(c)
		: c->o->test == BENCH_RR ? run_rr(c)
					 : run_crr(c);
	c->done = 1;
}

int bench_weir_client(const struct bench_opts *o, int link_fd, struct bench_result *r)
{
	struct client c = { .o = o, .r = r };
	uint64_t hard;
	struct host h;
	int rc;

	r->test = o->test;
	r->flows = o->flows;
	if (weir_ipaddr_parse(o->peer, &c.peer) < 0) {
		if (link_fd >= 0)
			close(link_fd);
		fprintf(stderr, "weir-bench: bad --peer '%s' (want a dotted quad)\n", o->peer);
		return 1;
	}
	if (host_up(o, link_fd, "client", &h) != 0)
		return 1;
	c.stack = h.stack;
	if ((rc = weir_fiber_spawn(NULL, client_main, &c, NULL, NULL)) < 0) {
		host_down(&h);
		return fail("spawn", rc);
	}
	/* Bounded: the workload's duration plus time for connects and draining. */
	hard = weir_clock_now_ns() + (uint64_t)((o->duration_s + 30) * 1e9);
	/* The clock is read once in 256 turns: a busy-polled loop turns every few hundred ns, and
	 * reading it each time cost the client a tenth of its time. */
	for (unsigned turn = 0;
	     !c.done && !bench_stop && ((turn++ & 255) != 0 || weir_clock_now_ns() < hard);) {
		rc = weir_loop_run_once(h.loop, 100 * WEIR_NS_PER_MS);
		if (rc < 0) {
			fail("loop", rc);
			break;
		}
	}
	if (!c.done) {
		fprintf(stderr, "weir-bench: client did not finish in time\n");
		c.rc = 1;
	}
	host_down(&h);
	return c.rc;
}

/* ---- shards (--shards N): the same server and client, one per shard ---- */

struct shard_tally {
	uint64_t conns, bytes, cpu_ns, user_ns, sleeps;
};

struct shards_run {
	const struct bench_opts *o;
	struct shard_tally tally[64];
	struct bench_result res[64];
	_Atomic unsigned ready;
	int rc[64];
};

/* weir's own work is the user part; the kernel's share is the system calls and, over TAP, the
 * Linux peer's TCP work done in our writes. */
uint64_t bench_thread_cpu_ns(uint64_t *user_ns)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return *user_ns = 0;
	*user_ns = (uint64_t)ru.ru_utime.tv_sec * WEIR_NS_PER_S +
		   (uint64_t)ru.ru_utime.tv_usec * 1000u;
	return *user_ns + (uint64_t)ru.ru_stime.tv_sec * WEIR_NS_PER_S +
	       (uint64_t)ru.ru_stime.tv_usec * 1000u;
}

static int server_shard(unsigned shard, struct weir_stack *stack, void *arg)
{
	struct shards_run *sr = arg;
	const struct bench_opts *o = sr->o;
	struct weir_listener *ld, *le;
	struct weir_listener_stats a, b;
	struct weir_loop_stats ls0, ls1;
	uint64_t cpu0, user0, user1;

	if (listen_both(stack, o, &ld, &le) != 0)
		return WEIR_EIO;
	if (atomic_fetch_add(&sr->ready, 1) + 1 == o->shards) {
		printf("ready weir server %s ports %u,%u shards %u\n", o->ip, o->port, o->port + 1,
		       o->shards);
		fflush(stdout);
		if (o->ready_fd >= 0 && write(o->ready_fd, "r", 1) != 1)
			return WEIR_EIO;
	}
	cpu0 = bench_thread_cpu_ns(&user0);
	weir_loop_get_stats(weir_stack_loop(stack), &ls0);
	while (!bench_stop && weir_fiber_sleep_ns(20 * WEIR_NS_PER_MS) == 0)
		;
	sr->tally[shard].cpu_ns = bench_thread_cpu_ns(&user1) - cpu0;
	sr->tally[shard].user_ns = user1 - user0;
	weir_loop_get_stats(weir_stack_loop(stack), &ls1);
	sr->tally[shard].sleeps = ls1.sleeps - ls0.sleeps;
	weir_listener_get_stats(ld, &a);
	weir_listener_get_stats(le, &b);
	sr->tally[shard].conns = a.accepted + b.accepted;
	sr->tally[shard].bytes = shard_bytes;
	weir_listener_close(le);
	weir_listener_close(ld);
	return 0;
}

/* Opens o->shards queues of the device (link mode: link ends on o->link_fds, which this takes
 * over whatever happens; the process exits soon after any failure before it), each wrapped with
 * --impair if given (seed + i: each queue its own draws). */
static int open_queues(const struct bench_opts *o, struct weir_netdev **q)
{
	const char *what = o->link_fds != NULL ? "link" : o->netdev;
	int rc;

	if (o->link_fds != NULL) {
		struct weir_link_config lc = { .name = "bench" };

		rc = weir_link_open_queues(&lc, o->link_fds, o->shards, q);
		if (rc < 0)
			for (unsigned i = 0; i < o->shards; i++)
				close(o->link_fds[i]);
	} else {
		rc = weir_netdev_open_queues(o->netdev, NULL, o->shards, q);
	}
	if (rc < 0) {
		fprintf(stderr, "weir-bench: netdev '%s': %s: %s\n", what, weir_strerror(rc),
			weir_netdev_last_error());
		return 1;
	}
	for (unsigned i = 0; o->impair != NULL && i < o->shards; i++) {
		struct weir_impair_config ic;
		struct weir_netdev *w;

		rc = weir_impair_parse(o->impair, &ic, NULL);
		ic.seed += i;
		if (rc == 0)
			rc = weir_impair_wrap(q[i], &ic, &w);
		if (rc < 0) {
			for (unsigned k = 0; k < o->shards; k++)
				weir_netdev_close(q[k]);
			return fail("impair", rc);
		}
		q[i] = w;
	}
	return 0;
}

static int run_shards(const struct bench_opts *o, weir_shard_fn fn, struct shards_run *sr)
{
	struct weir_netdev *q[64];
	struct weir_shards_config cfg = { .n = o->shards,
					  .devs = q,
					  .cpus = o->nshard_cpus ? o->shard_cpus : NULL,
					  .ncpus = o->nshard_cpus };
	int rc;

	if (weir_ipaddr_parse_cidr(o->ip, &cfg.stack.ip, &cfg.stack.prefix_len) < 0) {
		fprintf(stderr, "weir-bench: bad --ip '%s' (want ADDR/PREFIX)\n", o->ip);
		return 1;
	}
	if (open_queues(o, q) != 0)
		return 1;
	rc = weir_shards_run(&cfg, fn, sr, NULL);
	for (unsigned i = 0; i < o->shards; i++)
		weir_netdev_close(q[i]);
	return rc < 0 ? fail("shards", rc) : 0;
}

int bench_weir_server_shards(const struct bench_opts *o)
{
	struct shards_run *sr = calloc(1, sizeof(*sr));
	struct shard_tally sum = { 0 };
	int rc;

	if (sr == NULL)
		return fail("shards", WEIR_ENOMEM);
	sr->o = o;
	rc = run_shards(o, server_shard, sr);
	for (unsigned i = 0; rc == 0 && i < o->shards; i++) {
		const struct shard_tally *t = &sr->tally[i];

		printf("shard %u conns=%llu bytes=%llu cpu_ms=%.1f user_ms=%.1f sleeps=%llu\n", i,
		       (unsigned long long)t->conns, (unsigned long long)t->bytes,
		       (double)t->cpu_ns / 1e6, (double)t->user_ns / 1e6,
		       (unsigned long long)t->sleeps);
		sum.conns += t->conns;
		sum.bytes += t->bytes;
		sum.cpu_ns += t->cpu_ns;
	}
	if (rc == 0)
		printf("shards n=%u conns=%llu bytes=%llu cpu_ms=%.1f\n", o->shards,
		       (unsigned long long)sum.conns, (unsigned long long)sum.bytes,
		       (double)sum.cpu_ns / 1e6);
	fflush(stdout);
	free(sr);
	return rc;
}

static int client_shard(unsigned shard, struct weir_stack *stack, void *arg)
{
	struct shards_run *sr = arg;
	struct bench_opts mine = *sr->o;
	struct client c = { .o = &mine, .r = &sr->res[shard], .stack = stack };

	/* The flows split across the shards (the first ones take the remainder), and the rate
	 * with them. Bulk: a shard left without a flow does nothing; crr: every shard runs at
	 * least one loop. */
	mine.flows = sr->o->flows / sr->o->shards + (shard < sr->o->flows % sr->o->shards);
	if (mine.test == BENCH_BULK && mine.flows == 0)
		return 0;
	if (mine.flows == 0)
		mine.flows = 1;
	{
		unsigned total =
			WEIR_MAX(sr->o->flows, mine.test == BENCH_BULK ? 1 : sr->o->shards);

		mine.rate = sr->o->rate * mine.flows / total;
	}
	weir_ipaddr_parse(sr->o->peer, &c.peer);
	client_main(&c);
	return c.rc != 0 ? WEIR_EIO : 0;
}

int bench_weir_client_shards(const struct bench_opts *o, struct bench_result *r)
{
	struct shards_run *sr;
	int rc;

	if (o->test == BENCH_RR) {
		fprintf(stderr, "weir-bench: rr runs one flow: no --shards\n");
		return 1;
	}
	sr = calloc(1, sizeof(*sr));
	if (sr == NULL)
		return fail("shards", WEIR_ENOMEM);
	sr->o = o;
	r->test = o->test;
	r->flows = o->flows;
	rc = run_shards(o, client_shard, sr);
	for (unsigned i = 0; i < o->shards; i++) {
		r->bytes += sr->res[i].bytes;
		r->ops += sr->res[i].ops;
		r->errors += sr->res[i].errors;
		r->retrans += sr->res[i].retrans;
		if (sr->res[i].seconds > r->seconds)
			r->seconds = sr->res[i].seconds;
	}
	free(sr);
	return rc;
}
