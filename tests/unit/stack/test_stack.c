/* test_stack.c - the stack over an in-memory netdev: wrapping, release, ARP, ICMP, counters. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/config.h>
#include <weir/error.h>
#include <weir/stack.h>

#include "weir_lwip_hooks.h"
#include "lwip_port.h"

#include "frames.h"
#include "host.h"
#include "memdev.h"
#include "weir_tests.h"

#define peer_mac host_peer_mac
#define our_mac	 host_our_mac

static struct memdev md;
static struct weir_loop *loop;
static struct weir_stack *st;
static struct weir_ipaddr our_ip, peer_ip;
static unsigned memp_baseline[MEMP_MAX];
static struct memdev_tx gratuitous;
static unsigned gratuitous_count;

#define snapshot_pools host_snapshot_pools

static void setup(void)
{
	ck_assert_int_eq(weir_loop_create(&loop), 0);
	host_open(&md, loop, &st, &our_ip, &peer_ip);
	/* Bringing the netif up announces our address (gratuitous ARP, RFC 5227 §3): checked by
	 * test_gratuitous_arp_on_open, then forgotten so each test counts only its own frames. */
	gratuitous = md.tx[0];
	gratuitous_count = md.ntx;
	md.ntx = 0;
	snapshot_pools(memp_baseline);
}

static void teardown(void)
{
	unsigned now[MEMP_MAX];

	/* Nothing leaked: every frame went back to the driver, every pool to its baseline. */
	ck_assert_uint_eq(memdev_outstanding(&md), 0);
	snapshot_pools(now);
	for (int i = 0; i < MEMP_MAX; i++)
		ck_assert_msg(now[i] == memp_baseline[i], "pool %d: %u in use, baseline %u", i,
			      now[i], memp_baseline[i]);
	weir_stack_close(st);
	weir_loop_destroy(loop);
}

/* Injects an ARP request from the peer (padded to 60 like a driver would) and polls. */
static void peer_arps_us(void)
{
	uint8_t f[60] = { 0 };

	frame_arp_request(f, peer_mac, peer_ip.v4, our_ip.v4);
	ck_assert_int_ge(memdev_inject(&md, f, sizeof(f)), 0);
	ck_assert_int_eq(weir_stack_poll(st), 1);
}

START_TEST(test_gratuitous_arp_on_open)
{
	const uint8_t *g = gratuitous.data;
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	ck_assert_uint_eq(gratuitous_count, 1);
	ck_assert_uint_eq(gratuitous.len, 42);
	ck_assert_mem_eq(g, bcast, 6);
	ck_assert_uint_eq(g[12] << 8 | g[13], 0x0806);
	ck_assert_mem_eq(g + 22, our_mac, 6);
	ck_assert_mem_eq(g + 28, &our_ip.v4, 4); /* sender = target = our address */
	ck_assert_mem_eq(g + 38, &our_ip.v4, 4);
}
END_TEST

START_TEST(test_arp_request_answered)
{
	const uint8_t *r;

	peer_arps_us();
	ck_assert_uint_eq(md.ntx, 1);
	r = md.tx[0].data;
	ck_assert_mem_eq(r, peer_mac, 6); /* to the asker */
	ck_assert_mem_eq(r + 6, our_mac, 6);
	ck_assert_uint_eq(r[12] << 8 | r[13], 0x0806);
	ck_assert_uint_eq(r[20] << 8 | r[21], 2); /* reply */
	ck_assert_mem_eq(r + 22, our_mac, 6);	  /* sender hw = us */
	ck_assert_mem_eq(r + 28, &our_ip.v4, 4);
	ck_assert_mem_eq(r + 38, &peer_ip.v4, 4);
	ck_assert_int_eq(weir_stack_arp_resolved(st, peer_ip), 1);
	ck_assert_uint_eq(md.releases, 1);
}
END_TEST

static void check_echo_reply(const struct memdev_tx *t, uint16_t id, uint16_t seq, size_t payload)
{
	const uint8_t *ip = t->data + 14, *icmp = ip + 20;

	ck_assert_uint_eq(t->len, 14 + 20 + 8 + payload);
	ck_assert_mem_eq(t->data, peer_mac, 6);
	ck_assert_uint_eq(ip[9], 1);
	ck_assert_mem_eq(ip + 12, &our_ip.v4, 4);
	ck_assert_mem_eq(ip + 16, &peer_ip.v4, 4);
	ck_assert_uint_eq(frame_csum(ip, 20), 0);
	ck_assert_uint_eq(icmp[0], 0); /* echo reply */
	ck_assert_uint_eq(icmp[4] << 8 | icmp[5], id);
	ck_assert_uint_eq(icmp[6] << 8 | icmp[7], seq);
	ck_assert_uint_eq(frame_csum(icmp, 8 + payload), 0);
	for (size_t i = 0; i < payload; i++)
		ck_assert_uint_eq(icmp[8 + i], (uint8_t)(i * 7));
}

START_TEST(test_icmp_echo_answered_byte_exact)
{
	static uint8_t f[1514];
	size_t sizes[] = { 18, 56, 1000, 1472 };

	peer_arps_us();
	for (unsigned k = 0; k < 4; k++) {
		size_t len = frame_icmp_echo(f, peer_mac, our_mac, peer_ip.v4, our_ip.v4, 0x77,
					     (uint16_t)k, sizes[k]);

		ck_assert_int_ge(memdev_inject(&md, f, len), 0);
		ck_assert_int_eq(weir_stack_poll(st), 1);
		ck_assert_uint_eq(md.ntx, 2 + k);
		check_echo_reply(&md.tx[1 + k], 0x77, (uint16_t)k, sizes[k]);
	}
	ck_assert_uint_eq(md.releases, 5);
}
END_TEST

START_TEST(test_icmp_echo_in_exact_size_buffer)
{
	/* Bare-metal descriptors are exactly frame-sized: no headroom for lwIP to grow into. */
	uint8_t f[200];
	size_t len;

	peer_arps_us();
	md.exact_cap = 1;
	len = frame_icmp_echo(f, peer_mac, our_mac, peer_ip.v4, our_ip.v4, 9, 1, 64);
	ck_assert_int_ge(memdev_inject(&md, f, len), 0);
	ck_assert_int_eq(weir_stack_poll(st), 1);
	ck_assert_uint_eq(md.ntx, 2);
	check_echo_reply(&md.tx[1], 9, 1, 64);
}
END_TEST

START_TEST(test_runt_from_driver_dropped_and_released)
{
	/* A driver that breaks the padding contract: the stack still keeps the runt from lwIP. */
	uint8_t f[42];
	struct weir_stack_stats s;

	frame_arp_request(f, peer_mac, peer_ip.v4, our_ip.v4);
	ck_assert_int_ge(memdev_inject(&md, f, sizeof(f)), 0);
	weir_stack_poll(st);
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.drop_runt, 1);
	ck_assert_uint_eq(s.rx_frames, 0);
	ck_assert_uint_eq(md.ntx, 0);
	ck_assert_uint_eq(md.releases, 1);
}
END_TEST

START_TEST(test_garbage_frames_released_without_reply)
{
	uint8_t f[100];
	struct weir_prng r;
	struct weir_stack_stats s;

	weir_prng_seed(&r, 7);
	for (int i = 0; i < 200; i++) {
		for (size_t k = 0; k < sizeof(f); k++)
			f[k] = (uint8_t)weir_prng_next(&r);
		/* Half of them claim to be IPv4 to reach ip4_input. */
		if (i & 1) {
			f[12] = 0x08;
			f[13] = 0x00;
			f[14] = 0x45;
		}
		ck_assert_int_ge(memdev_inject(&md, f, 60 + (size_t)(i % 41)), 0);
		weir_stack_poll(st);
	}
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.rx_frames, 200);
	ck_assert_uint_eq(md.releases, 200);
}
END_TEST

START_TEST(test_ping_reply_counted)
{
	struct weir_stack_stats s;
	struct memdev_tx *req;
	uint8_t reply[200];

	peer_arps_us();
	ck_assert_int_eq(weir_stack_ping(st, peer_ip, 5, 32), 0);
	ck_assert_uint_eq(md.ntx, 2);
	req = &md.tx[1];
	ck_assert_uint_eq(req->len, 14 + 20 + 8 + 32);
	ck_assert_uint_eq(req->data[14 + 20], 8); /* echo request */
	ck_assert_uint_eq(frame_csum(req->data + 14 + 20, 8 + 32), 0);
	/* Turn the request into the peer's reply. */
	memcpy(reply, req->data, req->len);
	memcpy(reply, our_mac, 6);
	memcpy(reply + 6, peer_mac, 6);
	memcpy(reply + 14 + 12, &peer_ip.v4, 4);
	memcpy(reply + 14 + 16, &our_ip.v4, 4);
	reply[14 + 10] = reply[14 + 11] = 0;
	{
		uint16_t c = frame_csum(reply + 14, 20);

		reply[14 + 10] = (uint8_t)(c >> 8);
		reply[14 + 11] = (uint8_t)c;
	}
	reply[34] = 0;
	reply[36] = reply[37] = 0;
	{
		uint16_t c = frame_csum(reply + 34, 8 + 32);

		reply[36] = (uint8_t)(c >> 8);
		reply[37] = (uint8_t)c;
	}
	ck_assert_int_ge(memdev_inject(&md, reply, req->len), 0);
	weir_stack_poll(st);
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.icmp_echo_requests_out, 1);
	ck_assert_uint_eq(s.icmp_echo_replies_in, 1);
	ck_assert_uint_eq(md.ntx, 2); /* a reply is not answered */
}
END_TEST

START_TEST(test_ping_unresolved_sends_arp_request)
{
	ck_assert_int_eq(weir_stack_ping(st, peer_ip, 1, 8), 0);
	ck_assert_uint_eq(md.ntx, 1);
	ck_assert_uint_eq(md.tx[0].data[12] << 8 | md.tx[0].data[13], 0x0806);
	ck_assert_uint_eq(md.tx[0].data[20] << 8 | md.tx[0].data[21], 1);
	ck_assert_int_eq(weir_stack_arp_resolved(st, peer_ip), 0);
	/* The queued echo request leaves once the peer answers ARP (here: asks us). */
	peer_arps_us();
	ck_assert_uint_ge(md.ntx, 3);
	ck_assert_uint_eq(md.tx[1].data[12] << 8 | md.tx[1].data[13], 0x0800);
}
END_TEST

START_TEST(test_ping_rejects_bad_arguments)
{
	struct weir_ipaddr zero = { 0 };

	ck_assert_int_eq(weir_stack_ping(NULL, peer_ip, 1, 8), WEIR_EINVAL);
	ck_assert_int_eq(weir_stack_ping(st, zero, 1, 8), WEIR_EINVAL);
	ck_assert_int_eq(weir_stack_ping(st, peer_ip, 1, 1473), WEIR_EMSGSIZE);
	ck_assert_int_eq(weir_stack_ping(st, peer_ip, 1, (size_t)-1), WEIR_EMSGSIZE);
	ck_assert_uint_eq(md.ntx, 0);
}
END_TEST

START_TEST(test_tx_full_and_error_counted)
{
	struct weir_stack_stats s;

	/* A frame the device refuses for want of room waits for the next burst (TCP's segments
	 * must not be lost to a full queue); a device error loses what is queued, like a cut
	 * cable: here the waiting ARP reply and the next one. */
	md.tx_fail = 1;
	peer_arps_us();
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.drop_tx_full, 1);
	ck_assert_uint_eq(s.drop_tx_error, 0);
	md.tx_fail = 2;
	peer_arps_us();
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.drop_tx_full, 1);
	ck_assert_uint_eq(s.drop_tx_error, 2);
	ck_assert_uint_eq(s.tx_frames, gratuitous_count); /* only the announcement at open */
	ck_assert_uint_eq(md.ntx, 0);
}
END_TEST

START_TEST(test_counters_move)
{
	struct weir_stack_stats s;

	peer_arps_us();
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.rx_frames, 1);
	ck_assert_uint_eq(s.rx_bytes, 60);
	/* The announcement at open plus the ARP reply, 42 bytes each. */
	ck_assert_uint_eq(s.tx_frames, gratuitous_count + 1);
	ck_assert_uint_eq(s.tx_bytes, 42 * (gratuitous_count + 1));
	ck_assert_int_eq(weir_stack_get_stats(NULL, &s), WEIR_EINVAL);
	ck_assert_int_eq(weir_stack_get_stats(st, NULL), WEIR_EINVAL);
}
END_TEST

START_TEST(test_open_twice_is_busy)
{
	struct weir_stack_config cfg = {
		.netdev = &md.nd, .loop = loop, .ip = our_ip, .prefix_len = 24
	};
	struct weir_stack *other = NULL;

	ck_assert_int_eq(weir_stack_open(&cfg, &other), WEIR_EBUSY);
	ck_assert_ptr_null(other);
}
END_TEST

START_TEST(test_lwip_timers_set_the_loop_deadline)
{
	/* lwIP's cyclic timers (ARP: 1 s) bound the loop's sleep: the loop wakes for them. */
	struct weir_loop_stats ls;
	uint64_t t0 = weir_clock_now_ns(), dt;

	ck_assert_uint_ne(sys_timeouts_sleeptime(), SYS_TIMEOUTS_SLEEPTIME_INFINITE);
	ck_assert_int_ge(weir_loop_run_once(loop, 10 * WEIR_NS_PER_S), 0);
	dt = weir_clock_now_ns() - t0;
	ck_assert_uint_le(dt, 1500 * WEIR_NS_PER_MS);
	weir_loop_get_stats(loop, &ls);
	ck_assert_uint_le(ls.sleeps, 1);
}
END_TEST

static void check_open_fails(struct weir_stack_config cfg, int want)
{
	struct weir_stack *s2 = NULL;

	ck_assert_int_eq(weir_stack_open(&cfg, &s2), want);
	ck_assert_ptr_null(s2);
}

START_TEST(test_open_rejects_bad_config)
{
	struct memdev md2;
	struct weir_loop *l2;
	struct weir_stack_config good;

	memdev_init(&md2);
	ck_assert_int_eq(weir_loop_create(&l2), 0);
	good = (struct weir_stack_config){
		.netdev = &md2.nd, .loop = l2, .ip = our_ip, .prefix_len = 24
	};
	ck_assert_int_eq(weir_stack_open(NULL, &st), WEIR_EINVAL);
	ck_assert_int_eq(weir_stack_open(&good, NULL), WEIR_EINVAL);
	{
		struct weir_stack_config c = good;

		c.netdev = NULL;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.loop = NULL;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.ip.v4 = 0;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.prefix_len = 0;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.prefix_len = 33;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.mtu = 9000; /* above the device's 1500 */
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.mtu = 100;
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.mac[0] = 0x01; /* multicast */
		check_open_fails(c, WEIR_EINVAL);
		c = good;
		c.dhcp = 2;
		check_open_fails(c, WEIR_EINVAL);
	}
	weir_loop_destroy(l2);
}
END_TEST

START_TEST(test_addr_reports_static_config)
{
	struct weir_ipaddr ip, gw;
	uint8_t plen;

	ck_assert_int_eq(weir_stack_get_addr(st, &ip, &plen, &gw), 1);
	ck_assert_uint_eq(ip.v4, our_ip.v4);
	ck_assert_uint_eq(plen, 24);
	ck_assert_uint_eq(gw.v4, 0);
	ck_assert_int_eq(weir_stack_get_addr(NULL, &ip, &plen, &gw), WEIR_EINVAL);
}
END_TEST

START_TEST(test_dhcp_asks_for_an_address)
{
	struct weir_stack_config cfg = { .netdev = &md.nd, .loop = loop, .dhcp = 1 };
	struct weir_ipaddr ip;
	const uint8_t *d;

	weir_stack_close(st);
	md.ntx = 0;
	/* No address needed with DHCP; until a lease arrives the host has none. */
	ck_assert_int_eq(weir_stack_open(&cfg, &st), 0);
	ck_assert_int_eq(weir_stack_get_addr(st, &ip, NULL, NULL), 0);
	ck_assert_uint_eq(ip.v4, 0);
	/* A DHCPDISCOVER went out: IPv4/UDP from port 68 to 67, broadcast. */
	ck_assert_uint_ge(md.ntx, 1);
	d = md.tx[md.ntx - 1].data;
	ck_assert_uint_eq(d[12] << 8 | d[13], 0x0800);
	ck_assert_uint_eq(d[14 + 9], 17);
	ck_assert_uint_eq(d[34] << 8 | d[35], 68);
	ck_assert_uint_eq(d[36] << 8 | d[37], 67);
	md.ntx = 0;
	/* Closing releases DHCP's UDP pcb; reopen as the fixture expects. */
	weir_stack_close(st);
	ck_assert_uint_eq(lwip_stats.memp[MEMP_UDP_PCB]->used, 0);
	cfg = (struct weir_stack_config){
		.netdev = &md.nd, .loop = loop, .ip = our_ip, .prefix_len = 24
	};
	memcpy(cfg.mac, our_mac, 6);
	ck_assert_int_eq(weir_stack_open(&cfg, &st), 0);
	md.ntx = 0;
}
END_TEST

START_TEST(test_reopen_after_close)
{
	struct weir_stack_config cfg = {
		.netdev = &md.nd, .loop = loop, .ip = our_ip, .prefix_len = 24
	};

	weir_stack_close(st);
	ck_assert_int_eq(weir_stack_open(&cfg, &st), 0);
	ck_assert_uint_eq(md.ntx, 1); /* announced again */
	md.ntx = 0;
	peer_arps_us();
	ck_assert_uint_eq(md.ntx, 1);
}
END_TEST

static u32_t isn_of(const char *local, u16_t lport, const char *remote, u16_t rport)
{
	ip_addr_t l, r;
	struct weir_ipaddr a;

	ck_assert_int_eq(weir_ipaddr_parse(local, &a), 0);
	ip_addr_set_ip4_u32(&l, a.v4);
	ck_assert_int_eq(weir_ipaddr_parse(remote, &a), 0);
	ip_addr_set_ip4_u32(&r, a.v4);
	return weir__lwip_tcp_isn(&l, lport, &r, rport);
}

START_TEST(test_isn_advances_with_time_per_tuple)
{
	/* RFC 6528: for one 4-tuple the ISN moves with a 4 µs clock. */
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 2 * 1000 * 1000 };
	u32_t a = isn_of("192.0.2.2", 80, "192.0.2.1", 40000), b;

	nanosleep(&ts, NULL);
	b = isn_of("192.0.2.2", 80, "192.0.2.1", 40000);
	ck_assert_uint_ge((u32_t)(b - a), 500);	   /* >= 2 ms / 4 µs */
	ck_assert_uint_lt((u32_t)(b - a), 250000); /* < 1 s / 4 µs */
}
END_TEST

START_TEST(test_isn_differs_between_tuples)
{
	/* Other tuples land far apart in sequence space, not a few ticks away (predictable ISNs,
	 * lwIP's default, are what the hook exists to avoid). */
	const u16_t ports[] = { 40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008 };
	u32_t base = isn_of("192.0.2.2", 80, "192.0.2.1", 40000);
	int far = 0;

	for (unsigned i = 0; i < 8; i++) {
		u32_t d = isn_of("192.0.2.2", 80, "192.0.2.1", ports[i]) - base;

		far += d > 1000000 && d < 0xffffffffu - 1000000;
	}
	ck_assert_int_ge(far, 7);
}
END_TEST

static void *enter_lwip_from_thread(void *arg)
{
	(void)arg;
	weir__lwip_assert_core_locked();
	return NULL;
}

START_TEST(test_core_lock_assertion_catches_other_thread)
{
	pthread_t t;

	weir__lwip_assert_core_locked(); /* the loop's own thread: fine */
	ck_assert_int_eq(pthread_create(&t, NULL, enter_lwip_from_thread, NULL), 0);
	pthread_join(t, NULL);
	ck_abort_msg("entering lwIP from another thread was not caught");
}
END_TEST

/* --- our patches to lwIP 2.1.3 (stack/patches) ------------------------------------------------ */

static struct tcp_pcb *listen_on_80(void)
{
	struct tcp_pcb *p = tcp_new();

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(tcp_bind(p, IP_ANY_TYPE, 80), ERR_OK);
	p = tcp_listen(p);
	ck_assert_ptr_nonnull(p);
	return p;
}

/* Ends the half-open connection and the listener, and lets lwIP's TCP timer retire, so the
 * teardown finds every pool at its baseline. */
static void drop_tcp_state(struct tcp_pcb *lpcb)
{
	while (tcp_active_pcbs != NULL)
		tcp_abort(tcp_active_pcbs);
	tcp_close(lpcb);
	for (int i = 0; i < 3; i++) {
		struct timespec ts = { 0, 2 * CONFIG_LWIP_TCP_TMR_INTERVAL * 1000000L };

		nanosleep(&ts, NULL);
		weir_stack_poll(st);
	}
}

/* Returns the SYN-ACK among the transmitted frames, or NULL. */
static const uint8_t *find_synack(void)
{
	for (unsigned i = 0; i < md.ntx; i++) {
		const uint8_t *d = md.tx[i].data;

		if (d[12] == 0x08 && d[13] == 0x00 && d[14 + 9] == 6 && (d[34 + 13] & 0x12) == 0x12)
			return d;
	}
	return NULL;
}

START_TEST(test_syn_with_high_timestamp)
{
	/* stack/patches/0002: a TSval whose last byte is >= 0x80 was parsed with a signed shift
	 * (UB; the UBSan build aborts here without the patch). The SYN-ACK must echo it exactly. */
	static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4, /* MSS 1460 */
					  1, 1, 8,    10,   0x90, 0, 0, 0x90, 0, 0, 0, 0, /* TS */
					  1, 3, 3,    7 };				  /* WS 7 */
	uint8_t f[128];
	struct tcp_pcb *l;
	const uint8_t *sa, *o;
	size_t len;
	int found = 0;

	peer_arps_us();
	md.ntx = 0;
	l = listen_on_80();
	len = frame_tcp_syn(f, peer_mac, our_mac, peer_ip.v4, our_ip.v4, 40000, 80, 1000, opts,
			    sizeof(opts));
	ck_assert_int_ge(memdev_inject(&md, f, len), 0);
	weir_stack_poll(st);
	sa = find_synack();
	ck_assert_ptr_nonnull(sa);
	o = sa + 34 + 20;
	for (unsigned i = 0; i + 10 <= (unsigned)((sa[34 + 12] >> 4) * 4 - 20); i++) {
		if (o[i] == 8 && o[i + 1] == 10) {
			ck_assert_mem_eq(o + i + 6, opts + 8, 4); /* TSecr echoes our TSval */
			found = 1;
			break;
		}
	}
	ck_assert_msg(found, "no timestamp option in the SYN-ACK");
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_option_length_byte_past_options_not_read)
{
	/* stack/patches/0001: the last option byte is a kind (MSS) whose length byte would be past
	 * the options, and past the frame: the frame sits in an exact-size heap buffer, so ASan
	 * reports the one-byte over-read without the patch. The SYN is still answered. */
	static const uint8_t opts[8] = { 1, 1, 1, 1, 1, 1, 1, 2 };
	uint8_t f[128];
	struct tcp_pcb *l;
	size_t len;

	peer_arps_us();
	md.ntx = 0;
	md.exact_cap = 1;
	l = listen_on_80();
	len = frame_tcp_syn(f, peer_mac, our_mac, peer_ip.v4, our_ip.v4, 40001, 80, 2000, opts,
			    sizeof(opts));
	ck_assert_uint_eq(len, 62);
	ck_assert_int_ge(memdev_inject(&md, f, len), 0);
	weir_stack_poll(st);
	ck_assert_ptr_nonnull(find_synack());
	drop_tcp_state(l);
}
END_TEST

/* --- SYN cookies (stack/patches/0010) --------------------------------------------------------- */

static struct tcp_pcb *cookie_accepted;
static unsigned cookie_accepts;

static err_t cookie_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
	WEIR_UNUSED(arg);
	if (err == ERR_OK && newpcb != NULL) {
		cookie_accepted = newpcb;
		cookie_accepts++;
	}
	return ERR_OK;
}

static unsigned tcp_pcbs_used(void)
{
	return lwip_stats.memp[MEMP_TCP_PCB]->used;
}

/* Sends one segment from the peer's port sport with window wnd and polls the stack once. */
static void peer_segment_wnd(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
			     uint16_t wnd, const uint8_t *opts, size_t optlen, const char *data)
{
	uint8_t f[256] = { 0 };
	struct frame_tcp_spec sp = {
		.smac = peer_mac,
		.dmac = our_mac,
		.sip_be = peer_ip.v4,
		.dip_be = our_ip.v4,
		.sport = sport,
		.dport = 80,
		.seq = seq,
		.ack = ack,
		.flags = flags,
		.wnd = wnd,
		.opts = opts,
		.optlen = optlen,
		.payload = (const uint8_t *)data,
		.len = data ? strlen(data) : 0,
	};
	size_t len = frame_tcp(f, &sp);

	ck_assert_int_ge(memdev_inject(&md, f, len < 60 ? 60 : len), 0);
	weir_stack_poll(st);
}

static void peer_segment(uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
			 const uint8_t *opts, size_t optlen, const char *data)
{
	peer_segment_wnd(sport, seq, ack, flags, 65535, opts, optlen, data);
}

/* The last segment we sent to the peer's port dport; fails the test if there is none. */
static struct frame_tcp_info our_last_segment_to(uint16_t dport)
{
	struct frame_tcp_info t, found = { 0 };
	int n = 0;

	for (unsigned i = 0; i < md.ntx; i++) {
		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t) == 0 && t.dport == dport) {
			found = t;
			n++;
		}
	}
	ck_assert_msg(n > 0, "nothing sent to port %u", dport);
	return found;
}

static struct tcp_pcb *listen_on_80_backlog(u8_t backlog)
{
	struct tcp_pcb *p = tcp_new();

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(tcp_bind(p, IP_ANY_TYPE, 80), ERR_OK);
	p = tcp_listen_with_backlog(p, backlog);
	ck_assert_ptr_nonnull(p);
	tcp_accept(p, cookie_accept);
	cookie_accepted = NULL;
	cookie_accepts = 0;
	return p;
}

START_TEST(test_syn_cookies_once_backlog_full)
{
	/* Backlog 2: two SYNs make half-open connections (state kept). The third SYN is answered
	 * with a cookie and nothing is kept; the ACK returning it makes the connection, and its
	 * data is received. The half-open ones are real clients too (stack/patches/0016): none is
	 * forgotten to make room, and their ACKs, arriving after, complete them. */
	static const uint8_t opts[12] = {
		2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1
	}; /* MSS WS SACK */
	struct weir_stack_stats s0, s1;
	struct frame_tcp_info sa, sa0, sa1, ack;
	struct tcp_pcb *l;
	unsigned used0;

	peer_arps_us();
	l = listen_on_80_backlog(2);
	used0 = tcp_pcbs_used();
	weir_stack_get_stats(st, &s0);

	md.ntx = 0;
	peer_segment(50000, 1000, 0, FRAME_TCP_SYN, opts, sizeof(opts), NULL);
	peer_segment(50001, 2000, 0, FRAME_TCP_SYN, opts, sizeof(opts), NULL);
	ck_assert_uint_eq(tcp_pcbs_used(), used0 + 2);
	sa0 = our_last_segment_to(50000);
	sa1 = our_last_segment_to(50001);
	sa = sa1;
	ck_assert_ptr_nonnull(frame_tcp_option(&sa, 3)); /* a stateful SYN-ACK: window scaling */

	peer_segment(50002, 3000, 0, FRAME_TCP_SYN, opts, sizeof(opts), NULL);
	ck_assert_uint_eq(tcp_pcbs_used(), used0 + 2); /* nothing kept for it */
	sa = our_last_segment_to(50002);
	ck_assert_uint_eq(sa.flags, FRAME_TCP_SYN | FRAME_TCP_ACK);
	ck_assert_uint_eq(sa.ack, 3001);
	ck_assert_uint_eq(sa.optlen, 4); /* MSS only: no state to remember WS, SACK, TS */
	ck_assert_ptr_nonnull(frame_tcp_option(&sa, 2));
	weir_stack_get_stats(st, &s1);
	ck_assert_uint_eq(s1.syncookies_sent - s0.syncookies_sent, 1);

	peer_segment(50002, 3001, sa.seq + 1, FRAME_TCP_ACK | FRAME_TCP_PSH, NULL, 0, "hello");
	ck_assert_uint_eq(cookie_accepts, 1);
	ck_assert_ptr_nonnull(cookie_accepted);
	ck_assert_uint_eq(cookie_accepted->remote_port, 50002);
	ck_assert_int_eq(cookie_accepted->state, ESTABLISHED);
	ck_assert_uint_eq(cookie_accepted->rcv_nxt, 3001 + 5); /* the data came with the ACK */
	ck_assert_uint_eq(cookie_accepted->snd_nxt, sa.seq + 1);
	ck_assert_uint_eq(cookie_accepted->mss, 1460);
	ck_assert_uint_eq(tcp_pcbs_used(), used0 + 3); /* the half-open ones stay */
	weir_stack_get_stats(st, &s1);
	ck_assert_uint_eq(s1.syncookies_accepted - s0.syncookies_accepted, 1);
	ack = our_last_segment_to(50002);
	ck_assert_uint_eq(ack.ack, 3006);
	/* Their ACKs come after: both connections are made, nobody is reset. */
	md.ntx = 0;
	peer_segment(50000, 1001, sa0.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	peer_segment(50001, 2001, sa1.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_uint_eq(cookie_accepts, 3);
	ck_assert_uint_eq(tcp_pcbs_used(), used0 + 3);
	for (unsigned i = 0; i < md.ntx; i++) {
		struct frame_tcp_info t;

		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t) == 0)
			ck_assert_msg(!(t.flags & FRAME_TCP_RST), "a RST to port %u", t.dport);
	}
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_syn_cookie_forged_or_replayed_is_refused)
{
	/* With the backlog full, an ACK whose cookie was altered, or that returns a real cookie for
	 * a different peer ISN or port, makes no connection and is answered with RST. */
	struct weir_stack_stats s0, s1;
	struct frame_tcp_info sa, r;
	struct tcp_pcb *l;
	unsigned used0;

	peer_arps_us();
	l = listen_on_80_backlog(1);
	peer_segment(50010, 1000, 0, FRAME_TCP_SYN, NULL, 0, NULL); /* fills the backlog */
	used0 = tcp_pcbs_used();
	md.ntx = 0;
	peer_segment(50011, 5000, 0, FRAME_TCP_SYN, NULL, 0, NULL);
	sa = our_last_segment_to(50011);
	ck_assert_uint_eq(sa.optlen, 4);
	weir_stack_get_stats(st, &s0);

	peer_segment(50011, 5001, (sa.seq ^ 0x00000100u) + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	peer_segment(50011, 6001, sa.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	peer_segment(50012, 5001, sa.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_uint_eq(cookie_accepts, 0);
	ck_assert_uint_eq(tcp_pcbs_used(), used0);
	weir_stack_get_stats(st, &s1);
	ck_assert_uint_eq(s1.syncookies_rejected - s0.syncookies_rejected, 3);
	ck_assert_uint_eq(s1.syncookies_accepted, s0.syncookies_accepted);
	r = our_last_segment_to(50012);
	ck_assert_uint_eq(r.flags & FRAME_TCP_RST, FRAME_TCP_RST);

	/* The genuine one still works afterwards. */
	peer_segment(50011, 5001, sa.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_uint_eq(cookie_accepts, 1);
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_no_syn_cookie_below_backlog)
{
	/* Below the backlog a SYN makes an ordinary half-open connection with all its options. */
	static const uint8_t opts[12] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1 };
	struct weir_stack_stats s0, s1;
	struct frame_tcp_info sa;
	struct tcp_pcb *l;

	peer_arps_us();
	l = listen_on_80_backlog(4);
	weir_stack_get_stats(st, &s0);
	md.ntx = 0;
	peer_segment(50020, 1000, 0, FRAME_TCP_SYN, opts, sizeof(opts), NULL);
	sa = our_last_segment_to(50020);
	ck_assert_ptr_nonnull(frame_tcp_option(&sa, 3));
	weir_stack_get_stats(st, &s1);
	ck_assert_uint_eq(s1.syncookies_sent, s0.syncookies_sent);
	peer_segment(50020, 1001, sa.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_uint_eq(cookie_accepts, 1);
	ck_assert_uint_ne(cookie_accepted->flags & TF_WND_SCALE, 0);
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_first_handshake_gives_rtt_sample)
{
	/* stack/patches/0011: the first connection of a process (lwIP's TCP timer has never ticked)
	 * must still time its SYN-ACK, so the ACK completing the handshake gives an RTT sample; and
	 * before any sample the RTO is RFC 6298's 1 s, not 3 s. */
	struct frame_tcp_info sa;
	struct tcp_pcb *l, *pcb;

	peer_arps_us();
	l = listen_on_80_backlog(4);
	md.ntx = 0;
	peer_segment(50030, 7000, 0, FRAME_TCP_SYN, NULL, 0, NULL);
	pcb = tcp_active_pcbs;
	ck_assert_ptr_nonnull(pcb);
	ck_assert_int_eq(pcb->state, SYN_RCVD);
	ck_assert_int_eq(pcb->rto * TCP_SLOW_INTERVAL, 1000);
	ck_assert_uint_ne(pcb->rttest, 0); /* the SYN-ACK is being timed */
	sa = our_last_segment_to(50030);
	peer_segment(50030, 7001, sa.seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_uint_eq(cookie_accepts, 1);
	ck_assert_int_eq(cookie_accepted->state, ESTABLISHED);
	ck_assert_uint_eq(cookie_accepted->rttest, 0); /* the sample was taken */
	/* A near-zero RTT sample pulls the RTO well under the initial 1 s. */
	ck_assert_int_lt(cookie_accepted->rto * TCP_SLOW_INTERVAL, 1000);
	drop_tcp_state(l);
}
END_TEST

/* A listener on 80 (backlog 4) and one connection from the peer's port sport, ISN 9000, accepted.
 * Returns it; *l is the listener and *sa our SYN-ACK. */
static struct tcp_pcb *peer_connects(uint16_t sport, struct tcp_pcb **l, struct frame_tcp_info *sa)
{
	peer_arps_us();
	*l = listen_on_80_backlog(4);
	md.ntx = 0;
	peer_segment(sport, 9000, 0, FRAME_TCP_SYN, NULL, 0, NULL);
	*sa = our_last_segment_to(sport);
	peer_segment(sport, 9001, sa->seq + 1, FRAME_TCP_ACK, NULL, 0, NULL);
	ck_assert_ptr_nonnull(cookie_accepted);
	return cookie_accepted;
}

START_TEST(test_zero_window_ack_all_no_persist_assert)
{
	/* stack/patches/0012: data in flight; the peer closes its window without ACKing it; the
	 * retransmission timer moves the data back to unsent and persist starts; the peer then ACKs
	 * everything, window still 0. lwIP 2.1.3 asserted in tcp_slowtmr ("persist ticking with
	 * empty send buffer"), aborting the process; now persist just stops. */
	struct frame_tcp_info sa;
	struct tcp_pcb *l, *pcb;
	static const char data[100] = "zero window";

	pcb = peer_connects(50040, &l, &sa);
	ck_assert_int_eq(tcp_write(pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(pcb), ERR_OK);
	ck_assert_ptr_nonnull(pcb->unacked);
	/* Window 0, nothing ACKed (after one byte from the peer: lwIP takes a window only from a
	 * segment that moves the sequence or acknowledgment number forward). */
	peer_segment(50040, 9001, sa.seq + 1, FRAME_TCP_ACK | FRAME_TCP_PSH, NULL, 0, "x");
	peer_segment_wnd(50040, 9002, sa.seq + 1, FRAME_TCP_ACK, 0, NULL, 0, NULL);
	ck_assert_uint_eq(pcb->snd_wnd, 0);
	for (int i = 0; i < 200 && pcb->persist_backoff == 0; i++)
		tcp_slowtmr(); /* the RTO fires, the data goes back to unsent, persist starts */
	ck_assert_int_gt(pcb->persist_backoff, 0);
	ck_assert_ptr_null(pcb->unacked);
	/* Everything ACKed, window still 0: nothing left to probe for. */
	peer_segment_wnd(50040, 9002, sa.seq + 1 + sizeof(data), FRAME_TCP_ACK, 0, NULL, 0, NULL);
	ck_assert_ptr_null(pcb->unsent);
	for (int i = 0; i < 20; i++)
		tcp_slowtmr(); /* asserted here without the patch */
	ck_assert_int_eq(pcb->persist_backoff, 0);
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_window_not_updated_by_unacceptable_segment)
{
	/* stack/patches/0012: a segment far outside our receive window must not update the send
	 * window (nor move snd_wl1 so far that in-order segments no longer can). */
	struct frame_tcp_info sa;
	struct tcp_pcb *l, *pcb;

	pcb = peer_connects(50041, &l, &sa);
	ck_assert_uint_eq(pcb->snd_wnd, 65535);
	peer_segment_wnd(50041, 9001 + 0x40000000u, sa.seq + 1, FRAME_TCP_ACK, 0, NULL, 0, NULL);
	ck_assert_uint_eq(pcb->snd_wnd, 65535);
	/* The next in-order segment (after a byte of data) still updates it. */
	peer_segment(50041, 9001, sa.seq + 1, FRAME_TCP_ACK | FRAME_TCP_PSH, NULL, 0, "x");
	peer_segment_wnd(50041, 9002, sa.seq + 1, FRAME_TCP_ACK, 1000, NULL, 0, NULL);
	ck_assert_uint_eq(pcb->snd_wnd, 1000);
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_mss_option_after_syn_ignored)
{
	/* stack/patches/0013: an MSS option on an established connection's segment must not
	 * change the MSS (lwIP 2.1.3 took it, and a queued segment larger than the new MSS made
	 * tcp_write assert: a remote crash). */
	static const uint8_t small_mss[4] = { 2, 4, 0x00, 0x64 }; /* MSS 100 */
	struct frame_tcp_info sa;
	struct tcp_pcb *l, *pcb;
	u16_t mss;

	pcb = peer_connects(50042, &l, &sa);
	mss = pcb->mss;
	ck_assert_uint_gt(mss, 100);
	peer_segment(50042, 9001, sa.seq + 1, FRAME_TCP_ACK, small_mss, sizeof(small_mss), NULL);
	ck_assert_uint_eq(pcb->mss, mss);
	/* And writing still works with what is queued. */
	ck_assert_int_eq(tcp_write(pcb, "after", 5, TCP_WRITE_FLAG_COPY), ERR_OK);
	drop_tcp_state(l);
}
END_TEST

START_TEST(test_close_releases_fragments_awaiting_reassembly)
{
	/* A first fragment waits in lwIP's reassembly queue holding the driver's receive buffer;
	 * closing the stack must give it back (found by the fuzzer). */
	uint8_t f[80] = { 0 };
	uint16_t c;

	peer_arps_us();
	memcpy(f, our_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[17] = 20 + 32; /* total length: header + 32 bytes of this fragment */
	f[18] = 0x12;	 /* id */
	f[20] = 0x20;	 /* MF, offset 0 */
	f[22] = 64;
	f[23] = 17; /* UDP */
	memcpy(f + 26, &peer_ip.v4, 4);
	memcpy(f + 30, &our_ip.v4, 4);
	c = frame_csum(f + 14, 20);
	f[24] = (uint8_t)(c >> 8);
	f[25] = (uint8_t)c;
	ck_assert_int_ge(memdev_inject(&md, f, 14 + 20 + 32), 0);
	weir_stack_poll(st);
	ck_assert_uint_eq(memdev_outstanding(&md), 1); /* held by reassembly */

	weir_stack_close(st);
	ck_assert_uint_eq(memdev_outstanding(&md), 0);
	/* A fresh stack for the teardown's checks. */
	host_open(&md, loop, &st, &our_ip, &peer_ip);
}
END_TEST

/* An application that never reads: lwIP's chains are kept, never acknowledged with tcp_recved. */
static struct pbuf *unread;
static size_t unread_bytes;

static err_t keep_unread(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	WEIR_UNUSED(arg);
	WEIR_UNUSED(pcb);
	WEIR_UNUSED(err);
	if (p == NULL)
		return ERR_OK;
	unread_bytes += p->tot_len;
	if (unread == NULL)
		unread = p;
	else
		pbuf_cat(unread, p);
	return ERR_OK;
}

START_TEST(test_unread_flow_cannot_take_the_last_rx_buffers)
{
	/* A flow nobody reads keeps the frames lent to it. The stack asked whether the device ran
	 * low before taking a burst, so a burst could take the last free buffers and be lent too;
	 * a device with none free receives nothing more, not even the FIN a close waits for
	 * (unit.seeds' test_close_without_reader_reaches_peer_fin hung 20 s so, under load).
	 * Asked after the burst, such a burst is copied out and its buffers go back. A pool of
	 * 64, bursts of 32: the second burst would take the last 32. */
	struct frame_tcp_info sa;
	struct weir_stack_stats ss;
	struct tcp_pcb *l, *pcb;
	static uint8_t payload[500];
	uint8_t f[14 + 20 + 20 + sizeof(payload)];
	uint32_t seq = 9001;

	md.rx_pool = 64;
	unread = NULL;
	unread_bytes = 0;
	pcb = peer_connects(50050, &l, &sa);
	tcp_recv(pcb, keep_unread);
	memset(payload, 'u', sizeof(payload));
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 32; i++) {
			struct frame_tcp_spec sp = {
				.smac = peer_mac,
				.dmac = our_mac,
				.sip_be = peer_ip.v4,
				.dip_be = our_ip.v4,
				.sport = 50050,
				.dport = 80,
				.seq = seq,
				.ack = sa.seq + 1,
				.flags = FRAME_TCP_ACK | FRAME_TCP_PSH,
				.wnd = 65535,
				.payload = payload,
				.len = sizeof(payload),
			};

			ck_assert_int_ge(memdev_inject(&md, f, frame_tcp(f, &sp)), 0);
			seq += sizeof(payload);
		}
		md.ntx = 0;
		weir_stack_poll(st);
		ck_assert_msg(memdev_outstanding(&md) == memdev_held(&md),
			      "round %d: %u frames left in the device (%u held by the stack)",
			      round, memdev_outstanding(&md) - memdev_held(&md), memdev_held(&md));
	}
	ck_assert_uint_eq(pcb->rcv_nxt, seq);
	ck_assert_uint_eq(unread_bytes, 96 * sizeof(payload));
	ck_assert_uint_le(memdev_held(&md), 64 - 64 / 8);
	ck_assert_int_eq(weir_stack_get_stats(st, &ss), 0);
	ck_assert_uint_eq(ss.rx_copied, 64); /* the second and third bursts */
	pbuf_free(unread);
	drop_tcp_state(l);
}
END_TEST

Suite *weir_test_stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("memdev");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_gratuitous_arp_on_open);
	tcase_add_test(tc, test_arp_request_answered);
	tcase_add_test(tc, test_icmp_echo_answered_byte_exact);
	tcase_add_test(tc, test_icmp_echo_in_exact_size_buffer);
	tcase_add_test(tc, test_runt_from_driver_dropped_and_released);
	tcase_add_test(tc, test_garbage_frames_released_without_reply);
	tcase_add_test(tc, test_ping_reply_counted);
	tcase_add_test(tc, test_ping_unresolved_sends_arp_request);
	tcase_add_test(tc, test_ping_rejects_bad_arguments);
	tcase_add_test(tc, test_tx_full_and_error_counted);
	tcase_add_test(tc, test_counters_move);
	tcase_add_test(tc, test_open_twice_is_busy);
	tcase_add_test(tc, test_lwip_timers_set_the_loop_deadline);
	tcase_add_test(tc, test_open_rejects_bad_config);
	tcase_add_test(tc, test_reopen_after_close);
	tcase_add_test(tc, test_addr_reports_static_config);
	tcase_add_test(tc, test_dhcp_asks_for_an_address);
	tcase_add_test(tc, test_unread_flow_cannot_take_the_last_rx_buffers);
	suite_add_tcase(s, tc);

	TCase *ti = tcase_create("port");
	tcase_add_checked_fixture(ti, setup, teardown);
	tcase_add_test(ti, test_isn_advances_with_time_per_tuple);
	tcase_add_test(ti, test_isn_differs_between_tuples);
	tcase_add_test_raise_signal(ti, test_core_lock_assertion_catches_other_thread, SIGABRT);
	suite_add_tcase(s, ti);

	TCase *tl = tcase_create("lwip-patches");
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_add_test(tl, test_syn_with_high_timestamp);
	tcase_add_test(tl, test_option_length_byte_past_options_not_read);
	tcase_add_test(tl, test_syn_cookies_once_backlog_full);
	tcase_add_test(tl, test_syn_cookie_forged_or_replayed_is_refused);
	tcase_add_test(tl, test_no_syn_cookie_below_backlog);
	tcase_add_test(tl, test_first_handshake_gives_rtt_sample);
	tcase_add_test(tl, test_zero_window_ack_all_no_persist_assert);
	tcase_add_test(tl, test_window_not_updated_by_unacceptable_segment);
	tcase_add_test(tl, test_close_releases_fragments_awaiting_reassembly);
	tcase_add_test(tl, test_mss_option_after_syn_ignored);
	suite_add_tcase(s, tl);

	return s;
}
