/* test_shards.c - two stacks in two threads of one process at once (shards: stack/patches/0024).
 *
 * Each thread opens a loop, a link netdev on its end of one socketpair, a stack and fibers, and
 * runs them at the same time as the other: both listen on the same port (possible only if each
 * has its own lwIP), each connects to the other's echo service with several flows at once and
 * checks every byte, and each sees only its own listener, flows and pcbs. Without per-thread
 * state the second weir_stack_open() is WEIR_EBUSY and lwIP's lists would be shared; a TSan
 * build (tools/test.sh, label "shards") reports any state the two still share.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/config.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/link.h>
#include <weir/loop.h>
#include <weir/shards.h>
#include <weir/stack.h>

#include "frames.h"
#include "memdev.h"
#include "weir_tests.h"

#define CLIENTS	   8
#define ECHO_BYTES (256 * 1024)
#define CHUNK	   8192
#define PORT	   7

struct shard {
	int idx, fd;
	const char *me, *peer;
	pthread_barrier_t *up;	  /* both stacks open before either connects */
	atomic_int *clients_done; /* shards whose clients have all finished */
	struct weir_stack *stack;
	struct weir_ipaddr peer_ip;
	int clients_ok;		   /* clients whose echo came back byte-exact */
	unsigned listeners_seen;   /* weir_tcp_get_stats().listeners while both ran */
	unsigned listen_pcbs_seen; /* lwIP's listen list length, same moment */
	uint64_t flows_seen_max;   /* most flows this thread's stats ever showed */
	int handlers_done;	   /* echo handlers that returned */
	int clients_finished;	   /* client fibers that returned, byte-exact or not */
	char err[256];
};

static uint8_t pattern(int shard, int client, size_t i)
{
	return (uint8_t)((i * 131u + (size_t)client * 17u + (size_t)shard * 101u) >> 3);
}

static void shard_fail(struct shard *s, const char *what, int rc)
{
	if (s->err[0] == '\0')
		snprintf(s->err, sizeof(s->err), "shard %d: %s: %s", s->idx, what,
			 rc ? weir_strerror(rc) : "mismatch");
}

/* Writes back what it reads until the peer's FIN, then half-closes. Returns 0 or a weir error. */
static int echo_back(struct weir_flow *f)
{
	struct weir_buf b;

	while (weir_flow_read(f, &b) > 0) {
		int rc = weir_flow_write(f, b.data, b.len);

		weir_buf_release(&b);
		if (rc < 0)
			return rc;
	}
	return weir_flow_shutdown(f, WEIR_SHUT_WR);
}

static void echo_handler(struct weir_flow *f, void *arg)
{
	struct shard *s = arg;

	echo_back(f);
	s->handlers_done++;
}

struct client {
	struct shard *s;
	int n;
	uint8_t out[CHUNK], in[CHUNK]; /* the fibers of a shard interleave: one pair each */
};

static void client_fiber(void *arg)
{
	struct client *c = arg;
	struct shard *s = c->s;
	uint8_t *out = c->out, *in = c->in;
	struct weir_flow *f = NULL;
	struct weir_tcp_stats ts;
	int rc = weir_tcp_connect(s->stack, s->peer_ip, PORT, NULL, &f);

	if (rc < 0) {
		shard_fail(s, "connect", rc);
		s->clients_finished++;
		return;
	}
	for (size_t off = 0; off < ECHO_BYTES; off += CHUNK) {
		size_t got = 0;

		for (size_t i = 0; i < CHUNK; i++)
			out[i] = pattern(s->idx, c->n, off + i);
		rc = weir_flow_write(f, out, CHUNK);
		if (rc < 0) {
			shard_fail(s, "write", rc);
			goto done;
		}
		while (got < CHUNK) {
			ssize_t n = weir_flow_read_into(f, in + got, CHUNK - got);

			if (n <= 0) {
				shard_fail(s, "read", n < 0 ? (int)n : WEIR_ECLOSED);
				goto done;
			}
			got += (size_t)n;
		}
		if (memcmp(in, out, CHUNK) != 0) {
			shard_fail(s, "echo bytes", 0);
			goto done;
		}
		weir_tcp_get_stats(&ts);
		if (ts.flows > s->flows_seen_max)
			s->flows_seen_max = ts.flows;
	}
	s->clients_ok++;
done:
	weir_flow_close(f);
	weir_flow_free(f);
	s->clients_finished++;
}

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	struct weir_link_config lc = { .fd = s->fd, .name = s->idx ? "b" : "a" };
	struct weir_stack_config sc = { 0 };
	struct weir_tcp_listen_opts lo = { .port = PORT };
	struct weir_loop *loop = NULL;
	struct weir_netdev *dev = NULL;
	struct weir_listener *l = NULL;
	static __thread struct client clients[CLIENTS];
	struct weir_tcp_stats ts;
	int rc, spawned = 0, counted = 0;
	uint64_t deadline;

	weir_ipaddr_parse(s->peer, &s->peer_ip);
	if ((rc = weir_loop_create(&loop)) < 0 || (rc = weir_link_open(&lc, &dev)) < 0) {
		shard_fail(s, "loop or link", rc);
		pthread_barrier_wait(s->up);
		return NULL;
	}
	sc.netdev = dev;
	sc.loop = loop;
	weir_ipaddr_parse(s->me, &sc.ip);
	sc.prefix_len = 24;
	if ((rc = weir_stack_open(&sc, &s->stack)) < 0 || (rc = weir_fibers_init(loop)) < 0 ||
	    (rc = weir_tcp_listen(s->stack, &lo, echo_handler, s, &l)) < 0) {
		shard_fail(s, "stack, fibers or listen", rc);
		pthread_barrier_wait(s->up);
		goto out;
	}
	pthread_barrier_wait(s->up);

	/* Both are up: what this thread sees is its own. */
	weir_tcp_get_stats(&ts);
	s->listeners_seen = ts.listeners;
	for (struct tcp_pcb_listen *p = tcp_listen_pcbs.listen_pcbs; p != NULL; p = p->next)
		s->listen_pcbs_seen++;

	for (int i = 0; i < CLIENTS; i++) {
		clients[i] = (struct client){ .s = s, .n = i };
		if ((rc = weir_fiber_spawn(NULL, client_fiber, &clients[i], NULL, NULL)) < 0) {
			shard_fail(s, "spawn", rc);
			break;
		}
		spawned++;
	}
	/* Run until this shard's clients are done and the peer's are too (its clients use this
	 * shard's echo service), then until this shard's handlers have returned. */
	deadline = weir_clock_now_ns() + 60 * WEIR_NS_PER_S;
	while (weir_clock_now_ns() < deadline) {
		if (!counted && s->clients_finished == spawned) {
			atomic_fetch_add(s->clients_done, 1);
			counted = 1;
		}
		if (counted && atomic_load(s->clients_done) == 2 && s->handlers_done == CLIENTS)
			break;
		weir_loop_run_once(loop, WEIR_NS_PER_MS);
	}
	if (!counted) {
		shard_fail(s, "clients did not finish in 60 s", WEIR_ETIMEDOUT);
		atomic_fetch_add(s->clients_done, 1);
	} else if (s->handlers_done != CLIENTS) {
		shard_fail(s, "the peer's flows did not finish in 60 s", WEIR_ETIMEDOUT);
	}
	weir_listener_close(l);
	/* Let the last FINs and ACKs go out before the stack goes. */
	deadline = weir_clock_now_ns() + 200 * WEIR_NS_PER_MS;
	while (weir_clock_now_ns() < deadline)
		weir_loop_run_once(loop, WEIR_NS_PER_MS);
	weir_fibers_fini();
	weir_tcp_get_stats(&ts);
	if (ts.flows != 0 || ts.listeners != 0 || ts.bufs_out != 0)
		snprintf(s->err, sizeof(s->err), "shard %d leaked %u flows %u listeners %u bufs",
			 s->idx, ts.flows, ts.listeners, ts.bufs_out);
out:
	if (s->stack != NULL)
		weir_stack_close(s->stack);
	if (dev != NULL)
		weir_netdev_close(dev);
	weir_loop_destroy(loop);
	return NULL;
}

START_TEST(test_two_stacks_in_two_threads_at_once)
{
	pthread_barrier_t up;
	atomic_int clients_done = 0;
	int fds[2];
	struct shard sh[2] = {
		{ .idx = 0, .me = "192.0.2.1", .peer = "192.0.2.2" },
		{ .idx = 1, .me = "192.0.2.2", .peer = "192.0.2.1" },
	};
	pthread_t t[2];

	ck_assert_int_eq(weir_link_socketpair(fds), 0);
	ck_assert_int_eq(pthread_barrier_init(&up, NULL, 2), 0);
	for (int i = 0; i < 2; i++) {
		sh[i].fd = fds[i];
		sh[i].up = &up;
		sh[i].clients_done = &clients_done;
		ck_assert_int_eq(pthread_create(&t[i], NULL, shard_main, &sh[i]), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&up);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(sh[i].err[0] == '\0', "%s", sh[i].err);
		ck_assert_int_eq(sh[i].clients_ok, CLIENTS);
		ck_assert_int_eq(sh[i].handlers_done, CLIENTS);
		/* Each sees one listener (its own) and one listening pcb on port 7, though both
		 * listen on it; and never more flows than its own clients and their peers. */
		ck_assert_uint_eq(sh[i].listeners_seen, 1);
		ck_assert_uint_eq(sh[i].listen_pcbs_seen, 1);
		ck_assert_uint_le(sh[i].flows_seen_max, 2 * CLIENTS);
		ck_assert_uint_ge(sh[i].flows_seen_max, 1);
	}
}
END_TEST

/* --- the group: what one shard receives that the others must see -------------------------- */

#if WEIR_SHARDS
struct grp {
	struct weir_shard_group *g;
	_Atomic int step;
	int udp_got;
	char err[256];
};

struct member {
	struct grp *grp;
	unsigned shard;
	struct memdev *md;
	struct weir_loop *loop;
	struct weir_stack *st;
};

static const uint8_t peer_mac[6] = { 0x02, 0, 0x5e, 0, 0x53, 0x01 };
static const uint8_t peer2_mac[6] = { 0x02, 0, 0x5e, 0, 0x53, 0x09 };

static uint32_t ip4(const char *a)
{
	struct weir_ipaddr x;

	weir_ipaddr_parse(a, &x);
	return x.v4;
}

#define GFAIL(m, ...)                                                                              \
	do {                                                                                       \
		if ((m)->grp->err[0] == '\0') {                                                    \
			int k_ = snprintf((m)->grp->err, sizeof((m)->grp->err),                    \
					  "shard %u: ", (m)->shard);                               \
			snprintf((m)->grp->err + k_, sizeof((m)->grp->err) - (size_t)k_,           \
				 __VA_ARGS__);                                                     \
		}                                                                                  \
		atomic_store(&(m)->grp->step, 100);                                                \
		return;                                                                            \
	} while (0)

/* Polls this shard until the group reaches step (or fails). */
static int wait_step(struct member *m, int step)
{
	uint64_t until = weir_clock_now_ns() + 5 * WEIR_NS_PER_S;

	while (atomic_load(&m->grp->step) < step && weir_clock_now_ns() < until)
		weir_loop_run_once(m->loop, 0);
	return atomic_load(&m->grp->step) == step;
}

/* Polls this shard for up to 2 s until cond holds. */
#define POLL_UNTIL(m, cond)                                                                        \
	do {                                                                                       \
		uint64_t until_ = weir_clock_now_ns() + 2 * WEIR_NS_PER_S;                         \
		while (!(cond) && weir_clock_now_ns() < until_)                                    \
			weir_loop_run_once((m)->loop, 0);                                          \
	} while (0)

static unsigned tx_count(const struct memdev *md, uint16_t ethertype, int arp_op)
{
	unsigned n = 0;

	for (unsigned i = 0; i < md->ntx && i < MEMDEV_MAX_TX; i++) {
		const uint8_t *d = md->tx[i].data;

		if ((d[12] << 8 | d[13]) == ethertype && (arp_op < 0 || d[21] == arp_op))
			n++;
	}
	return n;
}

static void udp_count(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
		      u16_t port)
{
	WEIR_UNUSED(pcb);
	WEIR_UNUSED(addr);
	WEIR_UNUSED(port);
	((struct grp *)arg)->udp_got++;
	pbuf_free(p);
}

/* A UDP datagram from the peer to us, port 40000 -> dport, checksum 0 (none, IPv4). */
static size_t frame_udp(uint8_t *b, const uint8_t dmac[6], uint16_t dport)
{
	uint8_t *ip = b + 14, *udp = ip + 20;
	uint32_t sip = ip4("192.0.2.1"), dip = ip4("192.0.2.2");

	memcpy(b, dmac, 6);
	memcpy(b + 6, peer_mac, 6);
	b[12] = 0x08;
	b[13] = 0x00;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &sip, 4);
	memcpy(ip + 16, &dip, 4);
	{
		uint16_t c = frame_csum(ip, 20);

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = 0;
	udp[5] = 12;
	udp[6] = udp[7] = 0;
	memcpy(udp + 8, "ping", 4);
	return 14 + 20 + 12;
}

static void member_a(struct member *m)
{
	uint8_t f[128], our_mac[6];
	struct weir_stack_stats ss;
	size_t n;

	weir_stack_get_mac(m->st, our_mac);
	/* 2: the peer's ARP reply to B's question arrives here. */
	if (!wait_step(m, 1))
		GFAIL(m, "B never asked");
	n = frame_arp_request(f, peer_mac, ip4("192.0.2.1"), ip4("192.0.2.2"));
	memcpy(f, our_mac, 6);
	f[21] = 2; /* reply: to us, from the peer */
	memcpy(f + 32, our_mac, 6);
	memdev_inject(m->md, f, 60);
	weir_stack_poll(m->st);
	weir_stack_get_stats(m->st, &ss);
	if (ss.shard_frames_out != 1)
		GFAIL(m, "the ARP reply was not shared (%llu out)",
		      (unsigned long long)ss.shard_frames_out);
	atomic_store(&m->grp->step, 2);
	/* 4: the echo reply to B's ping arrives here: B counts it, not A. */
	if (!wait_step(m, 3))
		GFAIL(m, "B's ping never went out");
	n = frame_icmp_echo(f, peer_mac, our_mac, ip4("192.0.2.1"), ip4("192.0.2.2"), 0x5746, 1, 8);
	f[34] = 0; /* echo reply */
	f[36] = f[37] = 0;
	{
		uint16_t c = frame_csum(f + 34, n - 34);

		f[36] = (uint8_t)(c >> 8);
		f[37] = (uint8_t)c;
	}
	memdev_inject(m->md, f, n < 60 ? 60 : n);
	weir_stack_poll(m->st);
	weir_stack_get_stats(m->st, &ss);
	if (ss.icmp_echo_replies_in != 0)
		GFAIL(m, "took B's echo reply as its own");
	atomic_store(&m->grp->step, 4);
	/* 6: UDP to B's socket arrives here: no port unreachable from A. */
	if (!wait_step(m, 5))
		GFAIL(m, "B never bound its UDP port");
	m->md->ntx = 0;
	n = frame_udp(f, our_mac, 5000);
	memdev_inject(m->md, f, n < 60 ? 60 : n);
	weir_stack_poll(m->st);
	if (m->md->ntx != 0)
		GFAIL(m, "answered UDP for B's socket (%u frames)", m->md->ntx);
	atomic_store(&m->grp->step, 6);
	/* 8: an ARP request for our address: A answers it, once. */
	if (!wait_step(m, 7))
		GFAIL(m, "B never got its datagram");
	m->md->ntx = 0;
	n = frame_arp_request(f, peer2_mac, ip4("192.0.2.9"), ip4("192.0.2.2"));
	memdev_inject(m->md, f, 60);
	weir_stack_poll(m->st);
	if (tx_count(m->md, 0x0806, 2) != 1)
		GFAIL(m, "sent %u ARP replies to a request, not 1", tx_count(m->md, 0x0806, 2));
	atomic_store(&m->grp->step, 8);
	wait_step(m, 9);
}

static void member_b(struct member *m)
{
	struct weir_stack_stats ss;
	struct weir_ipaddr peer = { ip4("192.0.2.1") }, peer2 = { ip4("192.0.2.9") };
	struct udp_pcb *u;

	/* 1: B pings the peer, which starts with an ARP request from B. */
	m->md->ntx = 0;
	if (weir_stack_ping(m->st, peer, 1, 8) != 0)
		GFAIL(m, "ping");
	weir_stack_poll(m->st);
	if (tx_count(m->md, 0x0806, 1) != 1)
		GFAIL(m, "no ARP request");
	atomic_store(&m->grp->step, 1);
	/* 3: the reply arrived at A; A's copy teaches B, and the ping leaves. */
	if (!wait_step(m, 2))
		GFAIL(m, "A took no ARP reply");
	POLL_UNTIL(m, weir_stack_arp_resolved(m->st, peer) == 1);
	if (weir_stack_arp_resolved(m->st, peer) != 1)
		GFAIL(m, "the ARP reply A got did not reach B");
	POLL_UNTIL(m, tx_count(m->md, 0x0800, -1) >= 1);
	if (tx_count(m->md, 0x0800, -1) != 1)
		GFAIL(m, "the ping did not leave once the peer was known");
	atomic_store(&m->grp->step, 3);
	/* 5: the echo reply reached A; its copy is B's. */
	if (!wait_step(m, 4))
		GFAIL(m, "A saw no echo reply");
	POLL_UNTIL(m, (weir_stack_get_stats(m->st, &ss), ss.icmp_echo_replies_in == 1));
	if (ss.icmp_echo_replies_in != 1)
		GFAIL(m, "the echo reply A got did not reach B");
	u = udp_new();
	if (u == NULL || udp_bind(u, IP_ADDR_ANY, 5000) != ERR_OK)
		GFAIL(m, "udp bind");
	udp_recv(u, udp_count, m->grp);
	atomic_store(&m->grp->step, 5);
	/* 7: the datagram for B's socket, received by A, is B's. */
	if (!wait_step(m, 6)) {
		udp_remove(u);
		GFAIL(m, "A took no datagram");
	}
	POLL_UNTIL(m, m->grp->udp_got == 1);
	udp_remove(u);
	if (m->grp->udp_got != 1)
		GFAIL(m, "the datagram for B's socket did not reach it");
	m->md->ntx = 0;
	atomic_store(&m->grp->step, 7);
	/* 9: A answered the request for us; B learned the asker and answered nothing. */
	if (!wait_step(m, 8))
		GFAIL(m, "A did not answer the ARP request");
	POLL_UNTIL(m, weir_stack_arp_resolved(m->st, peer2) == 1);
	if (weir_stack_arp_resolved(m->st, peer2) != 1)
		GFAIL(m, "the asker's address did not reach B");
	if (tx_count(m->md, 0x0806, 2) != 0)
		GFAIL(m, "B answered an ARP request A had answered");
	atomic_store(&m->grp->step, 9);
}

static void *member_main(void *arg)
{
	struct member *m = arg;
	struct weir_stack_config sc = { 0 };
	static const uint8_t mac[6] = { 0x02, 0, 0x5e, 0, 0x53, 0x02 };
	int rc;

	memdev_init(m->md);
	if ((rc = weir_loop_create(&m->loop)) < 0) {
		snprintf(m->grp->err, sizeof(m->grp->err), "loop: %s", weir_strerror(rc));
		return NULL;
	}
	sc.netdev = &m->md->nd;
	sc.loop = m->loop;
	sc.ip.v4 = ip4("192.0.2.2");
	sc.prefix_len = 24;
	memcpy(sc.mac, mac, 6);
	sc.group = m->grp->g;
	sc.shard = m->shard;
	rc = weir_stack_open(&sc, &m->st);
	if (rc < 0) {
		snprintf(m->grp->err, sizeof(m->grp->err), "shard %u open: %s", m->shard,
			 weir_strerror(rc));
		atomic_store(&m->grp->step, 100);
	} else {
		/* B opens first and A starts after B's first step: a copy goes only to open
		 * shards. */
		if (m->shard == 0)
			member_a(m);
		else
			member_b(m);
		weir_stack_close(m->st);
	}
	weir_loop_destroy(m->loop);
	return NULL;
}

START_TEST(test_group_shares_arp_icmp_and_udp_for_another_shard)
{
	struct grp grp = { .step = 0 };
	struct member m[2];
	struct weir_shard_group *dup;
	pthread_t t[2];

	ck_assert_int_eq(weir_shard_group_create(0, &dup), WEIR_EINVAL);
	ck_assert_int_eq(weir_shard_group_create(WEIR_SHARDS_MAX + 1, &dup), WEIR_EINVAL);
	ck_assert_int_eq(weir_shard_group_create(2, &grp.g), 0);
	ck_assert_uint_eq(weir_shard_group_size(grp.g), 2);
	for (int i = 0; i < 2; i++) {
		m[i] = (struct member){ .grp = &grp, .shard = (unsigned)i };
		m[i].md = malloc(sizeof(*m[i].md));
		ck_assert_ptr_nonnull(m[i].md);
	}
	/* B opens first, so that A's copies find it. */
	ck_assert_int_eq(pthread_create(&t[1], NULL, member_main, &m[1]), 0);
	while (atomic_load(&grp.step) == 0 && grp.err[0] == '\0')
		usleep(1000);
	ck_assert_int_eq(pthread_create(&t[0], NULL, member_main, &m[0]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	weir_shard_group_destroy(grp.g);
	for (int i = 0; i < 2; i++)
		free(m[i].md);
	ck_assert_msg(grp.err[0] == '\0', "%s", grp.err);
	ck_assert_int_eq(atomic_load(&grp.step), 9);
}
END_TEST

/* --- weir_shards_run_server: Eio's run_server with additional domains --------------------------
 */

#define SRV_CLIENTS 4
#define SRV_BYTES   (64 * 1024)

static _Atomic int listening_calls, served;
static pthread_t served_by[64];

static void on_listening(uint16_t port, void *arg)
{
	WEIR_UNUSED(arg);
	if (port == PORT)
		atomic_fetch_add(&listening_calls, 1);
}

static int echo_server_handler(struct weir_flow *f, void *arg)
{
	int i = atomic_fetch_add(&served, 1);

	WEIR_UNUSED(arg);
	if (i < 64)
		served_by[i] = pthread_self();
	return echo_back(f);
}

static int echo_client_shard(unsigned shard, struct weir_stack *stack, void *arg)
{
	static __thread uint8_t out[SRV_BYTES], in[SRV_BYTES];
	struct weir_ipaddr srv;

	WEIR_UNUSED(arg);
	weir_ipaddr_parse("192.0.2.2", &srv);
	for (int c = 0; c < SRV_CLIENTS; c++) {
		struct weir_flow *f;
		size_t got = 0;
		int rc = weir_tcp_connect(stack, srv, PORT, NULL, &f);

		if (rc < 0)
			return rc;
		for (size_t i = 0; i < SRV_BYTES; i++)
			out[i] = pattern((int)shard, c, i);
		rc = weir_flow_write(f, out, SRV_BYTES);
		while (rc == 0 && got < SRV_BYTES) {
			ssize_t n = weir_flow_read_into(f, in + got, SRV_BYTES - got);

			if (n <= 0)
				rc = n < 0 ? (int)n : WEIR_ECLOSED;
			else
				got += (size_t)n;
		}
		weir_flow_close(f);
		weir_flow_free(f);
		if (rc < 0)
			return rc;
		if (memcmp(in, out, SRV_BYTES) != 0)
			return WEIR_EIO;
	}
	return 0;
}

struct server_thread {
	struct weir_shards_config cfg;
	struct weir_server_opts opts;
	struct weir_shards_stop stop;
	int rc;
};

static void *run_server_thread(void *arg)
{
	struct server_thread *st = arg;

	st->rc = weir_shards_run_server(&st->cfg, &st->opts, echo_server_handler, NULL, &st->stop);
	return NULL;
}

START_TEST(test_shards_run_server_serves_on_every_shard)
{
	struct weir_netdev *sdev[2], *cdev[2];
	struct server_thread st;
	struct weir_shards_config cc;
	pthread_t t;
	int fds[2][2], distinct = 0;

	atomic_store(&listening_calls, 0);
	atomic_store(&served, 0);
	for (int i = 0; i < 2; i++) {
		struct weir_link_config a = { .name = "srv" }, b = { .name = "cli" };

		ck_assert_int_eq(weir_link_socketpair(fds[i]), 0);
		a.fd = fds[i][0];
		b.fd = fds[i][1];
		ck_assert_int_eq(weir_link_open(&a, &sdev[i]), 0);
		ck_assert_int_eq(weir_link_open(&b, &cdev[i]), 0);
	}
	memset(&st, 0, sizeof(st));
	st.cfg.n = 2;
	st.cfg.devs = sdev;
	weir_ipaddr_parse("192.0.2.2", &st.cfg.stack.ip);
	st.cfg.stack.prefix_len = 24;
	st.opts.listen.port = PORT;
	st.opts.on_listening = on_listening;
	weir_shards_stop_init(&st.stop);
	/* Misuse first: no stop, no handler, no devices. */
	ck_assert_int_eq(weir_shards_run_server(&st.cfg, &st.opts, echo_server_handler, NULL, NULL),
			 WEIR_EINVAL);
	ck_assert_int_eq(weir_shards_run_server(&st.cfg, &st.opts, NULL, NULL, &st.stop),
			 WEIR_EINVAL);
	ck_assert_int_eq(weir_shards_run(NULL, echo_client_shard, NULL, NULL), WEIR_EINVAL);
	ck_assert_int_eq(pthread_create(&t, NULL, run_server_thread, &st), 0);
	while (atomic_load(&listening_calls) < 2)
		usleep(1000);

	memset(&cc, 0, sizeof(cc));
	cc.n = 2;
	cc.devs = cdev;
	weir_ipaddr_parse("192.0.2.1", &cc.stack.ip);
	cc.stack.prefix_len = 24;
	ck_assert_int_eq(weir_shards_run(&cc, echo_client_shard, NULL, NULL), 0);

	weir_shards_stop_trigger(&st.stop);
	pthread_join(t, NULL);
	ck_assert_int_eq(st.rc, 0);
	ck_assert_int_eq(atomic_load(&listening_calls), 2);
	ck_assert_int_eq(atomic_load(&served), 2 * SRV_CLIENTS);
	/* Each link reaches one shard: both served, in their own threads. */
	for (int i = 1; i < 2 * SRV_CLIENTS; i++)
		if (!pthread_equal(served_by[i], served_by[0]))
			distinct = 1;
	ck_assert_int_eq(distinct, 1);
	for (int i = 0; i < 2; i++) {
		weir_netdev_close(sdev[i]);
		weir_netdev_close(cdev[i]);
	}
}
END_TEST
#endif

Suite *weir_test_shards_suite(void)
{
	Suite *s = suite_create("shards");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_two_stacks_in_two_threads_at_once);
#if WEIR_SHARDS
	tcase_add_test(tc, test_group_shares_arp_icmp_and_udp_for_another_shard);
	tcase_add_test(tc, test_shards_run_server_serves_on_every_shard);
#endif
	suite_add_tcase(s, tc);
	return s;
}
