/* test_lwip_fixes.c - our fixes to lwIP 2.1.3 (stack/patches/0003-0006), each shown by crafted
 * frames through the in-memory netdev into a real stack; and short frames end to end.
 *
 * The test plays the peer: it builds every segment by hand (frames.c) and reads what lwIP sent
 * from the memdev's transmit log. The lwIP side is lwIP's raw API, so each test sees exactly
 * the segment handling a patch changes. Each regression test fails without its patch; how is
 * said above it. Every teardown checks that all frames went back to the driver and every
 * lwIP pool is back at its baseline. Also: segments of up to 64 KiB in one frame, as TAP offload
 * delivers them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/memp.h"
#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/tcp.h"

#include <weir/clock.h>
#include <weir/compiler.h>
#include <weir/config.h>
#include <weir/error.h>
#include <weir/link.h>
#include <weir/netdev.h>
#include <weir/stack.h>

#include "frames.h"
#include "host.h"
#include "memdev.h"
#include "weir_lwip_hooks.h"
#include "weir_stack_lwip.h"
#include "weir_tests.h"

#define peer_mac host_peer_mac
#define our_mac	 host_our_mac

static struct memdev md;
static struct weir_loop *loop;
static struct weir_stack *st;
static struct weir_ipaddr our_ip, peer_ip;
static unsigned memp_baseline[MEMP_MAX];
static struct tcp_pcb *listener;

/* The lwIP side of the connection: what its application received. */
static struct {
	struct tcp_pcb *pcb; /* the accepted connection, NULL until accept (or after an error) */
	int accepts;
	uint8_t data[96 * 1024];
	size_t len;
	int fin;
	int recved; /* 1: the application opens the window again for what it read */
} app;

/* The peer the test plays: its port, next sequence number, what it acknowledges, its window. */
static struct {
	uint16_t port;
	uint32_t seq, ack;
	uint16_t wnd;
} peer;

#define snapshot_pools host_snapshot_pools

static int pools_at_baseline(void)
{
	unsigned now[MEMP_MAX];

	snapshot_pools(now);
	return memcmp(now, memp_baseline, sizeof(now)) == 0;
}

static void poll_for_ms(long ms)
{
	struct timespec ts = { 0, 1000000L };

	for (long i = 0; i < ms; i++) {
		nanosleep(&ts, NULL);
		weir_stack_poll(st);
	}
}

/* Injects a frame as a driver would deliver it (padded to the 60-byte minimum) and polls. */
static void inject(const uint8_t *f, size_t len)
{
	uint8_t pad[60] = { 0 };

	if (len < sizeof(pad)) {
		memcpy(pad, f, len);
		f = pad;
		len = sizeof(pad);
	}
	ck_assert_int_ge(memdev_inject(&md, f, len), 0);
	weir_stack_poll(st);
}

static void setup_with(uint32_t offloads)
{
	uint8_t f[60] = { 0 };

	memset(&app, 0, sizeof(app));
	memset(&peer, 0, sizeof(peer));
	listener = NULL;
	ck_assert_int_eq(weir_loop_create(&loop), 0);
	host_open_offloads(&md, loop, &st, &our_ip, &peer_ip, offloads);
	/* The peer asks for our address, so lwIP knows its MAC and answers it directly. */
	frame_arp_request(f, peer_mac, peer_ip.v4, our_ip.v4);
	inject(f, sizeof(f));
	md.ntx = 0;
	snapshot_pools(memp_baseline);
}

static void setup(void)
{
	setup_with(0);
}

/* A device that finishes TCP checksums and cuts super-frames, as TAP with offload does. */
static void setup_tso(void)
{
	setup_with(WEIR_OFFLOAD_TX_CSUM_L4 | WEIR_OFFLOAD_TX_TSO4);
}

static void teardown(void)
{
	unsigned now[MEMP_MAX];

	/* Abort what is left (the RSTs go to the transmit log), then let lwIP's TCP timer run
	 * once more and stop, which gives back its timeout entry. */
	while (tcp_active_pcbs != NULL)
		tcp_abort(tcp_active_pcbs);
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
	if (listener != NULL)
		tcp_close(listener);
	for (int i = 0; i < 100 && !pools_at_baseline(); i++) {
		md.ntx = 0;
		poll_for_ms(5);
	}
	ck_assert_uint_eq(memdev_outstanding(&md), 0);
	snapshot_pools(now);
	for (int i = 0; i < MEMP_MAX; i++)
		ck_assert_msg(now[i] == memp_baseline[i], "pool %d: %u in use, baseline %u", i,
			      now[i], memp_baseline[i]);
	weir_stack_close(st);
	weir_loop_destroy(loop);
}

/* pbuf_cat() calls in this thread: the unit binary is linked with --wrap=pbuf_cat
 * (tests/CMakeLists.txt), so every call in lwIP comes here first. */
static __thread unsigned long pbuf_cat_calls;
void __real_pbuf_cat(struct pbuf *head, struct pbuf *tail);
void __wrap_pbuf_cat(struct pbuf *head, struct pbuf *tail);

void __wrap_pbuf_cat(struct pbuf *head, struct pbuf *tail)
{
	pbuf_cat_calls++;
	__real_pbuf_cat(head, tail);
}

static err_t app_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p == NULL) {
		app.fin = 1;
		return ERR_OK;
	}
	/* Every pbuf's tot_len is its bytes to the end of the chain (0026 sets them itself). */
	for (struct pbuf *q = p; q != NULL; q = q->next)
		ck_assert_uint_eq(q->tot_len, q->len + (q->next != NULL ? q->next->tot_len : 0));
	ck_assert_uint_le(app.len + p->tot_len, sizeof(app.data));
	ck_assert_uint_eq(pbuf_copy_partial(p, app.data + app.len, p->tot_len, 0), p->tot_len);
	app.len += p->tot_len;
	if (app.recved)
		tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static void app_err(void *arg, err_t err)
{
	(void)arg;
	(void)err;
	app.pcb = NULL;
}

static err_t app_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	ck_assert_int_eq(err, ERR_OK);
	app.pcb = pcb;
	app.accepts++;
	tcp_recv(pcb, app_recv);
	tcp_err(pcb, app_err);
	return ERR_OK;
}

static void listen_on_80(void)
{
	struct tcp_pcb *p = tcp_new();

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(tcp_bind(p, IP_ANY_TYPE, 80), ERR_OK);
	listener = tcp_listen(p);
	ck_assert_ptr_nonnull(listener);
	tcp_accept(listener, app_accept);
}

/* Builds into f one segment from the peer to port 80 (its window: peer.wnd); returns its length. */
static size_t peer_frame(uint8_t *f, uint8_t flags, uint32_t seq, uint32_t ack, const void *data,
			 size_t len, const uint8_t *opts, size_t optlen)
{
	struct frame_tcp_spec s = { .smac = peer_mac,
				    .dmac = our_mac,
				    .sip_be = peer_ip.v4,
				    .dip_be = our_ip.v4,
				    .sport = peer.port,
				    .dport = 80,
				    .seq = seq,
				    .ack = ack,
				    .flags = flags,
				    .wnd = peer.wnd,
				    .opts = opts,
				    .optlen = optlen,
				    .payload = data,
				    .len = len };

	return frame_tcp(f, &s);
}

/* The peer sends one segment to port 80 (its window: peer.wnd). */
static void peer_send_opts(uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len,
			   const uint8_t *opts, size_t optlen)
{
	static uint8_t f[2048];

	inject(f, peer_frame(f, flags, seq, ack, data, len, opts, optlen));
}

static void peer_send(uint8_t flags, uint32_t seq, uint32_t ack, const void *data, size_t len)
{
	peer_send_opts(flags, seq, ack, data, len, NULL, 0);
}

/* Returns the index of the first TCP frame lwIP sent at or after md.tx[from] that matches
 * (flags & mask) == want and has a payload (payload 1) or none (payload 0) or either (-1), and
 * fills *t; returns -1 if there is none. */
static int find_tx(unsigned from, uint8_t mask, uint8_t want, int payload, struct frame_tcp_info *t)
{
	for (unsigned i = from; i < md.ntx; i++) {
		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, t) != 0 || t->dport != peer.port)
			continue;
		if ((t->flags & mask) != want)
			continue;
		if (payload >= 0 && (t->len > 0) != payload)
			continue;
		return (int)i;
	}
	return -1;
}

/* The last pure ACK lwIP sent (no SYN/FIN/RST, no payload), or -1. */
static int last_pure_ack(struct frame_tcp_info *t)
{
	int found = -1;

	for (unsigned i = 0; i < md.ntx; i++) {
		struct frame_tcp_info x;

		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, &x) == 0 && x.dport == peer.port &&
		    x.flags == FRAME_TCP_ACK && x.len == 0) {
			*t = x;
			found = (int)i;
		}
	}
	return found;
}

/* MSS 1460 and nothing else: no window scaling, so lwIP's receive window is 65535 bytes. */
static const uint8_t mss_opt[4] = { 2, 4, 0x05, 0xb4 };

/* The peer sends a SYN with initial sequence number isn; returns lwIP's SYN-ACK. */
static struct frame_tcp_info peer_syn(uint16_t port, uint32_t isn)
{
	struct frame_tcp_info t;

	peer.port = port;
	peer.wnd = 65535;
	md.ntx = 0;
	peer_send_opts(FRAME_TCP_SYN, isn, 0, NULL, 0, mss_opt, sizeof(mss_opt));
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_SYN | FRAME_TCP_ACK, 0, &t), 0);
	ck_assert_uint_eq(t.ack, isn + 1);
	peer.seq = isn + 1;
	peer.ack = t.seq + 1;
	return t;
}

/* A full handshake from the peer's side; lwIP's application has the connection after it. */
static void peer_connect(uint16_t port, uint32_t isn)
{
	peer_syn(port, isn);
	peer_send(FRAME_TCP_ACK, peer.seq, peer.ack, NULL, 0);
	ck_assert_ptr_nonnull(app.pcb);
	ck_assert_int_eq(app.pcb->state, ESTABLISHED);
	md.ntx = 0;
}

/* The peer sends len bytes of its stream (byte k of the stream is stream_byte(k)), in order. */
static uint8_t stream_byte(uint32_t k)
{
	return (uint8_t)(k * 7 + k / 251);
}

static void peer_send_stream(uint32_t isn, uint32_t off, size_t len)
{
	uint8_t d[1500];

	ck_assert_uint_le(len, sizeof(d));
	for (size_t i = 0; i < len; i++)
		d[i] = stream_byte(off + (uint32_t)i);
	peer_send(FRAME_TCP_ACK, isn + 1 + off, peer.ack, d, len);
}

static void check_stream(size_t len)
{
	ck_assert_uint_eq(app.len, len);
	for (size_t k = 0; k < len; k++)
		if (app.data[k] != stream_byte((uint32_t)k))
			ck_abort_msg("stream byte %zu is 0x%02x, sent 0x%02x", k, app.data[k],
				     stream_byte((uint32_t)k));
}

/* --- 0003: a SYN in SYN_RCVD is not data ------------------------------------------------------ */

START_TEST(test_synack_with_data_in_syn_rcvd_is_not_data)
{
	/* stack/patches/0003. In SYN_RCVD the peer sends SYN+ACK (acknowledging our SYN-ACK)
	 * with 8 bytes. lwIP 2.1.3 completed the handshake with it, delivered the 8 bytes and
	 * counted the SYN as a ninth, so the first byte the peer sent next was lost. Now: no
	 * accept, no data, a challenge ACK for the peer's real next byte; the handshake then
	 * completes normally and the stream arrives intact. */
	struct frame_tcp_info t;
	const uint32_t isn = 1000;

	listen_on_80();
	peer_syn(40000, isn);
	md.ntx = 0;
	peer_send(FRAME_TCP_SYN | FRAME_TCP_ACK, peer.seq, peer.ack,
		  "\x00\x07\x0e\x15\x1c\x23\x2a\x31", 8);
	ck_assert_msg(app.accepts == 0 && app.len == 0,
		      "SYN+ACK taken as the handshake's ACK: accepted %d, %zu bytes delivered",
		      app.accepts, app.len);
	ck_assert_int_ge(last_pure_ack(&t), 0); /* the challenge ACK */
	ck_assert_uint_eq(t.ack, isn + 1);
	ck_assert_uint_eq(t.seq, peer.ack);
	/* The real handshake ACK with the same 8 bytes, then 8 more. */
	peer_send_stream(isn, 0, 8);
	ck_assert_int_eq(app.accepts, 1);
	peer_send_stream(isn, 8, 8);
	check_stream(16);
	ck_assert_uint_eq(app.pcb->rcv_nxt, isn + 1 + 16);
}
END_TEST

START_TEST(test_syn_in_established_is_not_data)
{
	/* The synchronized states already did this in 2.1.3 (a guard, not a regression test):
	 * an in-window SYN on an established connection is answered with a challenge ACK and
	 * its payload is not data. */
	struct frame_tcp_info t;
	const uint32_t isn = 5000;

	listen_on_80();
	peer_connect(40001, isn);
	peer_send_stream(isn, 0, 10);
	md.ntx = 0;
	peer_send(FRAME_TCP_SYN | FRAME_TCP_ACK, isn + 1 + 10, peer.ack, "xxxx", 4);
	check_stream(10);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 10);
	peer_send_stream(isn, 10, 10);
	check_stream(20);
	ck_assert_int_eq(app.pcb->state, ESTABLISHED);
}
END_TEST

/* --- 0004: out-of-order segments stay inside the receive window ------------------------------- */

/* Connects and sends in-order data the application reads without opening the window again,
 * until fewer than 1460 bytes of the 65535-byte window are left; returns the stream offset. */
static uint32_t fill_window(uint32_t isn)
{
	uint32_t off = 0;

	listen_on_80();
	peer_connect(40002, isn);
	ck_assert_uint_eq(app.pcb->rcv_wnd, 65535);
	while (app.pcb->rcv_wnd >= 1460) {
		md.ntx = 0;
		peer_send_stream(isn, off, 1460);
		off += 1460;
	}
	ck_assert_uint_eq(off, 44 * 1460);
	ck_assert_uint_eq(app.pcb->rcv_wnd, 65535 - off);
	check_stream(off);
	return off;
}

/* The hole before the queued segments is filled: the application must get exactly the
 * stream up to the right edge of the window, and the window must be closed, not wrapped. */
static void check_filled_to_window_edge(uint32_t isn, uint32_t off)
{
	struct frame_tcp_info t;

	md.ntx = 0;
	peer_send_stream(isn, off, 100);
	ck_assert_msg(app.pcb->rcv_wnd <= 65535, "receive window wrapped to %u",
		      (unsigned)app.pcb->rcv_wnd);
	check_stream(65535);
	ck_assert_uint_eq(app.pcb->rcv_wnd, 0);
	ck_assert_uint_eq(app.pcb->rcv_nxt, isn + 1 + 65535);
	ck_assert_ptr_null(app.pcb->ooseq);
	poll_for_ms(3 * CONFIG_LWIP_TCP_TMR_INTERVAL); /* the ACK may be a delayed one */
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 65535);
	ck_assert_uint_eq(t.wnd, 0);
}

START_TEST(test_ooseq_segment_past_window_is_trimmed)
{
	/* stack/patches/0004. With 1295 bytes of window left, a segment starts 100 bytes
	 * ahead (inside the window) and is 1400 long: 205 bytes past the right edge. 2.1.3
	 * queued all of it; when the 100-byte hole arrived the application got 65740 bytes of a
	 * 65535-byte window and rcv_wnd wrapped to 2^32 - 205. */
	const uint32_t isn = 0x10000;
	uint32_t off = fill_window(isn);

	peer_send_stream(isn, off + 100, 1400);
	ck_assert_uint_eq(app.len, off);
	ck_assert_ptr_nonnull(app.pcb->ooseq);
	ck_assert_uint_eq(app.pcb->ooseq->len, 65535 - off - 100);
	check_filled_to_window_edge(isn, off);
}
END_TEST

START_TEST(test_ooseq_longer_retransmission_is_trimmed)
{
	/* stack/patches/0004, another queueing path: a short out-of-order segment is queued,
	 * then a longer copy with the same sequence number replaces it; 2.1.3 kept the longer
	 * copy whole, past the window's right edge. */
	const uint32_t isn = 0x20000;
	uint32_t off = fill_window(isn);

	peer_send_stream(isn, off + 100, 300);
	ck_assert_ptr_nonnull(app.pcb->ooseq);
	ck_assert_uint_eq(app.pcb->ooseq->len, 300);
	peer_send_stream(isn, off + 100, 1400);
	ck_assert_ptr_nonnull(app.pcb->ooseq);
	ck_assert_uint_eq(app.pcb->ooseq->len, 65535 - off - 100);
	check_filled_to_window_edge(isn, off);
}
END_TEST

/* --- 0005: sequence comparisons --------------------------------------------------------------- */

/* --- TAP super-frames: one segment of up to 64 KiB -------------------------------------------- */

/* The peer sends len bytes of its stream from off in one frame, however large (TAP offload hands
 * the stack TCP super-frames of up to 64 KiB). */
static void peer_send_stream_big(uint32_t isn, uint32_t off, size_t len)
{
	uint8_t *d = malloc(len), *f = malloc(len + 128);

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < len; i++)
		d[i] = stream_byte(off + (uint32_t)i);
	md.exact_cap = 1; /* a heap buffer of exactly the frame's length */
	inject(f, peer_frame(f, FRAME_TCP_ACK, isn + 1 + off, peer.ack, d, len, NULL, 0));
	md.exact_cap = 0;
	free(d);
	free(f);
}

START_TEST(test_super_segment_in_window_taken_whole)
{
	/* 60000 bytes in one segment, inside the 65535-byte window: delivered whole, in order,
	 * after 1460 bytes in an ordinary segment; the window shrinks by exactly that much. */
	const uint32_t isn = 0x20000;

	listen_on_80();
	peer_connect(40005, isn);
	peer_send_stream(isn, 0, 1460);
	peer_send_stream_big(isn, 1460, 60000);
	check_stream(61460);
	ck_assert_uint_eq(app.pcb->rcv_nxt, isn + 1 + 61460);
	ck_assert_uint_eq(app.pcb->rcv_wnd, 65535 - 61460);
	peer_send_stream(isn, 61460, 1000);
	check_stream(62460);
}
END_TEST

START_TEST(test_super_segment_past_window_is_trimmed)
{
	/* With 14600 bytes taken, 50935 of the window are left; a 60000-byte in-order segment is
	 * cut at the right edge: the application gets exactly the window, and it closes. */
	const uint32_t isn = 0x30000;
	struct frame_tcp_info t;

	listen_on_80();
	peer_connect(40006, isn);
	for (uint32_t off = 0; off < 14600; off += 1460)
		peer_send_stream(isn, off, 1460);
	md.ntx = 0;
	peer_send_stream_big(isn, 14600, 60000);
	check_stream(65535);
	ck_assert_uint_eq(app.pcb->rcv_wnd, 0);
	ck_assert_uint_eq(app.pcb->rcv_nxt, isn + 1 + 65535);
	poll_for_ms(3 * CONFIG_LWIP_TCP_TMR_INTERVAL); /* the ACK may be a delayed one */
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 65535);
	ck_assert_uint_eq(t.wnd, 0);
}
END_TEST

/* The peer's stream bytes [off, off+len) in one segment whose TCP checksum is wrong, injected
 * with the given frame flags. */
static void peer_send_stream_bad_csum(uint32_t isn, uint32_t off, size_t len, uint32_t flags)
{
	static uint8_t f[2048], d[1460];
	size_t n;
	int idx;

	for (size_t i = 0; i < len; i++)
		d[i] = stream_byte(off + (uint32_t)i);
	n = peer_frame(f, FRAME_TCP_ACK, isn + 1 + off, peer.ack, d, len, NULL, 0);
	f[WEIR_ETH_HLEN + 20 + 16] ^= 0x5a; /* the TCP checksum (no IP options) */
	idx = memdev_inject(&md, f, n);
	ck_assert_int_ge(idx, 0);
	md.frames[idx].flags = flags;
	weir_stack_poll(st);
}

START_TEST(test_l4_checksum_skipped_only_for_flagged_frames)
{
	/* TAP offload: a frame the driver flags WEIR_FRAME_L4_CSUM_OK (Linux left its checksum
	 * unfinished) is taken without the TCP checksum check; every other frame is still
	 * checked, also right after a flagged one. */
	const uint32_t isn = 0x40000;

	listen_on_80();
	peer_connect(40007, isn);
	peer_send_stream_bad_csum(isn, 0, 100, 0);
	ck_assert_uint_eq(app.len, 0); /* dropped: checksum wrong, nobody vouched for it */
	peer_send_stream_bad_csum(isn, 0, 100, WEIR_FRAME_L4_CSUM_OK);
	check_stream(100);
	peer_send_stream_bad_csum(isn, 100, 100, 0);
	check_stream(100); /* checked again */
	peer_send_stream(isn, 100, 100);
	check_stream(200);
}
END_TEST

START_TEST(test_seq_compare_antisymmetric)
{
	/* stack/patches/0005. For any two sequence numbers: a < b exactly when b > a, a <= b
	 * exactly when a < b or a == b, and at most one of <, ==, > holds; b - a in [1, 2^31)
	 * means a < b. 2.1.3's macros said both a < b and b < a for numbers exactly 2^31 apart. */
	static const uint32_t bases[] = { 0,	       1,	    0x7fffffffu, 0x80000000u,
					  0x80000001u, 0xfffffffeu, 0xffffffffu, 0x12345678u };
	static const uint32_t dists[] = { 0,	       1,	    2,		 1000,
					  0x7ffffffeu, 0x7fffffffu, 0x80000000u, 0x80000001u,
					  0xfffffffeu, 0xffffffffu };

	for (unsigned i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		for (unsigned j = 0; j < sizeof(dists) / sizeof(dists[0]); j++) {
			u32_t a = bases[i], b = a + dists[j], d = dists[j];
			int lt = TCP_SEQ_LT(a, b), gt = TCP_SEQ_GT(a, b);
			int leq = TCP_SEQ_LEQ(a, b), geq = TCP_SEQ_GEQ(a, b);

			ck_assert_msg(lt == TCP_SEQ_GT(b, a) && gt == TCP_SEQ_LT(b, a),
				      "a=%#x b=%#x: LT(a,b)=%d GT(b,a)=%d GT(a,b)=%d LT(b,a)=%d", a,
				      b, lt, TCP_SEQ_GT(b, a), gt, TCP_SEQ_LT(b, a));
			ck_assert_msg(leq == TCP_SEQ_GEQ(b, a) && geq == TCP_SEQ_LEQ(b, a),
				      "a=%#x b=%#x: LEQ/GEQ not mirrored", a, b);
			ck_assert_msg(leq == (lt || a == b) && geq == (gt || a == b),
				      "a=%#x b=%#x: LEQ=%d LT=%d GEQ=%d GT=%d", a, b, leq, lt, geq,
				      gt);
			ck_assert_msg(lt + gt + (a == b) <= 1, "a=%#x b=%#x: LT=%d GT=%d", a, b, lt,
				      gt);
			if (d >= 1 && d < 0x80000000u)
				ck_assert_msg(lt && !gt, "a=%#x b=%#x: b is %#x after a", a, b, d);
			if (d > 0x80000000u)
				ck_assert_msg(gt && !lt, "a=%#x b=%#x: b is %#x before a", a, b,
					      0u - d);
			if (d == 0x80000000u)
				ck_assert_msg(!TCP_SEQ_BETWEEN(b, a, a + 100),
					      "a=%#x b=%#x: 2^31 away yet in [a, a+100]", a, b);
		}
	}
}
END_TEST

START_TEST(test_ack_half_sequence_space_away_leaves_window)
{
	/* stack/patches/0005. With 100 bytes of ours outstanding, the peer sends an ACK exactly
	 * 2^31 past it, advertising a zero window. 2.1.3 took that ACK as old (no reply) and at
	 * the same time as newer than the last window update, so the zero window replaced ours
	 * and the sender stalled. Now it is an ACK for data never sent: it changes nothing and
	 * is answered with an ACK (RFC 793, 3.9). */
	static const uint8_t data[100];
	struct frame_tcp_info t;
	const uint32_t isn = 7000;
	u32_t una;

	listen_on_80();
	peer_connect(40003, isn);
	ck_assert_int_eq(tcp_write(app.pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1, &t), 0);
	una = app.pcb->lastack;
	ck_assert_uint_eq(app.pcb->snd_wnd, 65535);
	md.ntx = 0;
	peer.wnd = 0;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 0x80000000u, NULL, 0);
	ck_assert_msg(app.pcb->snd_wnd == 65535, "send window became %u",
		      (unsigned)app.pcb->snd_wnd);
	ck_assert_uint_eq(app.pcb->lastack, una);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1);
	/* The real ACK still completes the exchange. */
	peer.wnd = 65535;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 100, NULL, 0);
	ck_assert_uint_eq(app.pcb->lastack, una + 100);
	ck_assert_ptr_null(app.pcb->unacked);
}
END_TEST

START_TEST(test_transfer_across_sequence_wrap)
{
	/* A guard for stack/patches/0005, not a regression test (GCC and Clang wrap the old
	 * conversion the same way, so it passes without the patch too): the peer's sequence
	 * numbers cross 2^32 mid-stream, with an out-of-order segment straddling the wrap. In the
	 * UBSan build any signed overflow on the way aborts the test. */
	const uint32_t isn = 0xffffffffu - 3000;
	struct frame_tcp_info t;

	app.recved = 1;
	listen_on_80();
	peer_connect(40004, isn);
	peer_send_stream(isn, 0, 1000);
	peer_send_stream(isn, 2000, 1400); /* out of order, across the wrap */
	peer_send_stream(isn, 1000, 1000);
	for (uint32_t off = 3400; off < 8000; off += 1150) /* the wrap is at offset 3000 */
		peer_send_stream(isn, off, 1150);
	check_stream(8000); /* 3400 + 4 * 1150 */
	ck_assert_uint_eq(app.pcb->rcv_nxt, isn + 1 + (uint32_t)app.len);
	ck_assert_uint_lt(app.pcb->rcv_nxt, 0x10000u); /* wrapped */
	md.ntx = 0;
	peer_send(FRAME_TCP_FIN | FRAME_TCP_ACK, isn + 1 + (uint32_t)app.len, peer.ack, NULL, 0);
	ck_assert_int_eq(app.fin, 1);
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_ACK, 0, &t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + (uint32_t)app.len + 1);
}
END_TEST

/* --- 0006: duplicate ACKs between data segments ----------------------------------------------- */

/* Connects, has lwIP send 4000 bytes, and returns the sequence number of the first one (the
 * segment the peer will "lose"). */
static uint32_t send_4000(uint32_t isn, uint16_t port)
{
	static const uint8_t data[4000];
	struct frame_tcp_info t;
	size_t sent = 0;
	int i = -1;

	app.recved = 1;
	listen_on_80();
	peer_connect(port, isn);
	tcp_nagle_disable(app.pcb); /* the last, short segment goes out with the others */
	ck_assert_int_eq(tcp_write(app.pcb, data, sizeof(data), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	while ((i = find_tx((unsigned)(i + 1), FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1,
			    &t)) >= 0)
		sent += t.len;
	ck_assert_uint_eq(sent, sizeof(data)); /* all in flight: the initial window allows it */
	ck_assert_uint_eq(app.pcb->lastack, peer.ack);
	return peer.ack;
}

/* Counts lwIP's segments since md.tx[0] that carry data starting at seq. */
static int retransmissions_of(uint32_t seq)
{
	struct frame_tcp_info t;
	int n = 0, i = -1;

	while ((i = find_tx((unsigned)(i + 1), FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1,
			    &t)) >= 0)
		n += t.seq == seq;
	return n;
}

START_TEST(test_dupacks_between_data_segments_fast_retransmit)
{
	/* stack/patches/0006. The peer lost our first segment. It sends a duplicate ACK (no
	 * data, same window, our first byte as ackno), then a data segment of its own with the
	 * same ackno, and so on: three duplicate ACKs with two data segments between them, as
	 * lwIP or Linux do when both sides send. RFC 5681: three duplicate ACKs without an ACK
	 * that moves snd_una between them trigger fast retransmit. 2.1.3 reset the count at
	 * each data segment and never retransmitted before the RTO (seconds away). The data
	 * segments are delivered; they are not counted as duplicates themselves. */
	const uint32_t isn = 9000;
	uint32_t una = send_4000(isn, 40005);
	uint8_t d[100];

	memset(d, 'd', sizeof(d));
	md.ntx = 0;
	for (int k = 0; k < 3; k++) {
		peer_send(FRAME_TCP_ACK, peer.seq, una, NULL, 0);
		ck_assert_uint_eq(app.pcb->dupacks, (unsigned)k + 1);
		if (k < 2) {
			ck_assert_int_eq(retransmissions_of(una), 0);
			peer_send(FRAME_TCP_ACK, peer.seq, una, d, sizeof(d));
			peer.seq += sizeof(d);
			ck_assert_msg(app.pcb->dupacks == (unsigned)k + 1,
				      "a data segment set the duplicate-ACK count from %d to %u",
				      k + 1, (unsigned)app.pcb->dupacks);
		}
	}
	ck_assert_msg(retransmissions_of(una) == 1, "no fast retransmit after 3 duplicate ACKs");
	ck_assert_uint_eq(app.len, 2 * sizeof(d));
	/* The retransmission arrives: everything is acknowledged, the count starts over. */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_uint_eq(app.pcb->dupacks, 0);
}
END_TEST

START_TEST(test_data_segments_alone_are_not_dupacks)
{
	/* The other half of the rule in stack/patches/0006 (passes with 2.1.3 too): a peer that
	 * only sends data, every segment acknowledging the same byte, has not reported a loss -
	 * our data may simply be in flight. No fast retransmit. */
	const uint32_t isn = 11000;
	uint32_t una = send_4000(isn, 40006);
	uint8_t d[100];

	memset(d, 'e', sizeof(d));
	md.ntx = 0;
	for (int k = 0; k < 5; k++) {
		peer_send(FRAME_TCP_ACK, peer.seq, una, d, sizeof(d));
		peer.seq += sizeof(d);
	}
	ck_assert_uint_eq(app.len, 5 * sizeof(d));
	ck_assert_uint_eq(app.pcb->dupacks, 0);
	ck_assert_int_eq(retransmissions_of(una), 0);
}
END_TEST

/* The tail of the unacked queue, found by walking it (NULL for an empty queue). */
static struct tcp_seg *unacked_tail(const struct tcp_pcb *pcb)
{
	struct tcp_seg *seg = pcb->unacked;

	while (seg != NULL && seg->next != NULL)
		seg = seg->next;
	return seg;
}

#define CHECK_TAIL(pcb)                                                                            \
	ck_assert_msg((pcb)->unacked == NULL || (pcb)->unacked_last == unacked_tail(pcb),          \
		      "unacked_last is not the tail of unacked")

START_TEST(test_unacked_last_follows_the_queue)
{
	/* stack/patches/0014: tcp_output() appends to the tail it remembers instead of walking
	 * the queue. The remembered tail must be the real one after everything that moves
	 * segments: sending, an ACK of some, a fast retransmit (which puts the first segment back
	 * before the tail), more data, an RTO (everything back to unsent), and the final ACK. */
	static const uint8_t more[3000];
	const uint32_t isn = 13000;
	uint32_t una = send_4000(isn, 40007);

	CHECK_TAIL(app.pcb);
	ck_assert_ptr_nonnull(app.pcb->unacked->next);		 /* several segments in flight */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 1000, NULL, 0); /* part of the first one */
	CHECK_TAIL(app.pcb);
	for (int k = 0; k < 3; k++)
		peer_send(FRAME_TCP_ACK, peer.seq, una + 1000, NULL, 0);
	ck_assert_int_ge(retransmissions_of(una), 1); /* fast retransmit */
	CHECK_TAIL(app.pcb);
	ck_assert_int_eq(tcp_write(app.pcb, more, sizeof(more), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	CHECK_TAIL(app.pcb);
	tcp_rexmit_rto(app.pcb);
	CHECK_TAIL(app.pcb);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000 + sizeof(more), NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_ptr_null(app.pcb->unsent);
	/* And the queue works from empty again. */
	ck_assert_int_eq(tcp_write(app.pcb, more, sizeof(more), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_ptr_nonnull(app.pcb->unacked);
	CHECK_TAIL(app.pcb);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000 + 2 * sizeof(more), NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
}
END_TEST

/* --- short frames ----------------------------------------------------------------------------- */

static const size_t short_lens[] = { 0, 1, 13, 14, 20, 33, 42, 44, 59 };
#define N_SHORT (sizeof(short_lens) / sizeof(short_lens[0]))

/* A 74-byte SYN with 20 bytes of options; its prefixes are the short frames: a truncated
 * Ethernet header (< 14), a truncated IPv4 header (< 34), a truncated TCP header (< 54) and a
 * truncated option area (< 74). */
static size_t syn_frame(uint8_t *f)
{
	static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2,
					  1, 1, 8,    10,   1, 2, 3, 4, 0, 0 };

	return frame_tcp_syn(f, peer_mac, our_mac, peer_ip.v4, our_ip.v4, 40010, 80, 12345, opts,
			     sizeof(opts));
}

START_TEST(test_short_frames_from_driver_never_reach_lwip)
{
	/* A driver that hands the stack short frames (in exact-size heap buffers, so ASan sees
	 * any read past one): each is counted as a runt, released, and never reaches lwIP. */
	struct weir_stack_stats s0, s;
	uint32_t ip_recv = lwip_stats.ip.recv, arp_recv = lwip_stats.etharp.recv;
	uint8_t f[128], arp[42];
	unsigned releases = md.releases;

	syn_frame(f);
	frame_arp_request(arp, peer_mac, peer_ip.v4, our_ip.v4);
	listen_on_80();
	md.exact_cap = 1;
	ck_assert_int_eq(weir_stack_get_stats(st, &s0), 0);
	for (unsigned i = 0; i < N_SHORT; i++) {
		/* 42 bytes: a complete but unpadded ARP request. */
		ck_assert_int_ge(memdev_inject(&md, short_lens[i] == 42 ? arp : f, short_lens[i]),
				 0);
		weir_stack_poll(st);
	}
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.drop_runt - s0.drop_runt, N_SHORT);
	ck_assert_uint_eq(s.rx_frames, s0.rx_frames);
	ck_assert_uint_eq(md.releases - releases, N_SHORT);
	ck_assert_uint_eq(md.ntx, 0);
	ck_assert_uint_eq(lwip_stats.ip.recv, ip_recv);
	ck_assert_uint_eq(lwip_stats.etharp.recv, arp_recv);
	ck_assert_ptr_null(tcp_active_pcbs);
}
END_TEST

START_TEST(test_short_frames_on_link_dropped_or_padded)
{
	/* The same frames arriving on a real driver (the link driver's socket): shorter than an
	 * Ethernet header is dropped and counted as a runt; the others are zero-padded to 60
	 * bytes, so lwIP only ever sees 60-byte frames. The padded ARP request is answered; the
	 * truncated IPv4 and TCP headers are refused by lwIP's checks. */
	struct weir_stack_config cfg = { 0 };
	struct weir_netdev *link = NULL;
	struct weir_link_config lc = { 0 };
	struct weir_netdev_stats ls;
	struct weir_stack_stats s;
	uint32_t ip_recv, ip_drop, tcp_recv;
	uint8_t f[128], arp[42], r[2048];
	int fds[2], replies = 0;
	ssize_t n;

	syn_frame(f);
	frame_arp_request(arp, peer_mac, peer_ip.v4, our_ip.v4);
	weir_stack_close(st);
	ck_assert_int_eq(weir_link_socketpair(fds), 0);
	lc.fd = fds[0];
	lc.name = "runt";
	memcpy(lc.mac, our_mac, 6);
	ck_assert_int_eq(weir_link_open(&lc, &link), 0);
	cfg.netdev = link;
	cfg.loop = loop;
	cfg.ip = our_ip;
	cfg.prefix_len = 24;
	memcpy(cfg.mac, our_mac, 6);
	ck_assert_int_eq(weir_stack_open(&cfg, &st), 0);
	while (recv(fds[1], r, sizeof(r), MSG_DONTWAIT) > 0) /* the announcement at open */
		;
	listen_on_80();
	ip_recv = lwip_stats.ip.recv;
	ip_drop = lwip_stats.ip.drop;
	tcp_recv = lwip_stats.tcp.recv;
	for (unsigned i = 0; i < N_SHORT; i++) {
		ck_assert_int_eq(send(fds[1], short_lens[i] == 42 ? arp : f, short_lens[i], 0),
				 (ssize_t)short_lens[i]);
		weir_stack_poll(st);
	}
	ck_assert_int_eq(weir_netdev_get_stats(link, &ls), 0);
	ck_assert_uint_eq(ls.rx_runts, 3);  /* 0, 1 and 13 bytes */
	ck_assert_uint_eq(ls.rx_padded, 6); /* 14 .. 59 bytes */
	ck_assert_int_eq(weir_stack_get_stats(st, &s), 0);
	ck_assert_uint_eq(s.drop_runt, 0);
	ck_assert_uint_eq(s.rx_frames, 6);
	ck_assert_uint_eq(s.rx_bytes, 6 * 60); /* every frame lwIP saw was 60 bytes */
	/* The five SYN prefixes reach ip4_input as 60-byte frames and are all refused there (a
	 * zero version, a bad header checksum, a total length past the frame); none gets to
	 * TCP. */
	ck_assert_uint_eq(lwip_stats.ip.recv - ip_recv, 5);
	ck_assert_uint_eq(lwip_stats.ip.drop - ip_drop, 5);
	ck_assert_uint_eq(lwip_stats.tcp.recv, tcp_recv);
	ck_assert_ptr_null(tcp_active_pcbs);
	while ((n = recv(fds[1], r, sizeof(r), MSG_DONTWAIT)) > 0) {
		ck_assert_int_eq(n, 60);
		ck_assert_uint_eq(r[12] << 8 | r[13], 0x0806);
		ck_assert_uint_eq(r[20] << 8 | r[21], 2);
		replies++;
	}
	ck_assert_int_eq(replies, 1);
	/* Back to the memdev stack the fixture expects. */
	tcp_close(listener);
	listener = NULL;
	weir_stack_close(st);
	weir_netdev_close(link);
	close(fds[1]);
	host_open(&md, loop, &st, &our_ip, &peer_ip);
}
END_TEST

/* --- the transmit queue: super-frames (TSO) and folded ACKs (stack/tx.c) ---------------------- */

static uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* What a device that finishes checksums does to the TCP checksum field of frame f (the stack left
 * the pseudo-header sum in it), then whether the result is a valid checksum. */
static int device_checksum_valid(uint8_t *f, size_t len, unsigned l4)
{
	uint8_t buf[65536 + 12];
	size_t tl = len - l4;
	uint16_t sum;

	memcpy(buf, f + 14 + 12, 8); /* the pseudo-header: addresses, protocol, TCP length */
	buf[8] = 0;
	buf[9] = 6;
	buf[10] = (uint8_t)(tl >> 8);
	buf[11] = (uint8_t)tl;
	sum = frame_csum(f + l4, tl); /* the field holds the pseudo-header sum: it is included */
	f[l4 + 16] = (uint8_t)(sum >> 8);
	f[l4 + 17] = (uint8_t)sum;
	memcpy(buf + 12, f + l4, tl);
	return frame_csum(buf, 12 + tl) == 0;
}

/* lwIP writes n bytes (pattern k*13) and sends them; inside a hold they leave as one burst. */
static void app_write(size_t n, int burst)
{
	static uint8_t d[65536];

	for (size_t k = 0; k < n; k++)
		d[k] = (uint8_t)(k * 13);
	ck_assert_int_eq(tcp_write(app.pcb, d, (u16_t)n, TCP_WRITE_FLAG_COPY), ERR_OK);
	if (burst)
		weir__stack_tx_hold();
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	if (burst)
		weir__stack_tx_release();
}

START_TEST(test_tx_segments_leave_as_one_super_frame)
{
	struct weir_stack_stats ss;
	struct frame_tcp_info t;
	struct memdev_tx *x;
	unsigned l4;

	app.recved = 1;
	listen_on_80();
	peer_connect(40010, 20000);
	tcp_nagle_disable(app.pcb);
	app.pcb->cwnd = 65535; /* past slow start: the peer's window is the limit */
	app_write(10 * 1460, 1);
	/* Ten segments, one frame: the headers of the first, the payload of all ten. */
	ck_assert_uint_eq(md.ntx, 1);
	x = &md.tx[0];
	ck_assert_int_eq(frame_tcp_parse(x->data, x->len, &t), 0);
	ck_assert_uint_eq(t.len, 10 * 1460);
	ck_assert_uint_eq(t.seq, peer.ack);
	ck_assert_uint_eq(x->flags, WEIR_TX_TSO4 | WEIR_TX_L4_CSUM);
	ck_assert_uint_eq(x->gso_size, app.pcb->mss);
	l4 = x->l4_offset;
	ck_assert_uint_eq(l4, 14 + 20);
	ck_assert_uint_eq(x->l4_hlen, x->len - l4 - t.len);
	ck_assert_uint_eq(be16_at(x->data + 14 + 2), x->len - 14); /* IPv4 total length */
	ck_assert_uint_eq(frame_csum(x->data + 14, 20), 0);	   /* and its header checksum */
	ck_assert_msg(device_checksum_valid(x->data, x->len, l4), "the TCP checksum");
	for (size_t k = 0; k < t.len; k++)
		if (t.payload[k] != (uint8_t)(k * 13))
			ck_abort_msg("payload byte %zu is 0x%02x", k, t.payload[k]);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_eq(ss.tx_super, 1);
	/* lwIP still has its ten segments: the peer's ACK of the first four frees four. */
	ck_assert_uint_eq(app.pcb->snd_nxt - peer.ack, 10 * 1460);
	peer_send(FRAME_TCP_ACK, peer.seq, peer.ack + 4 * 1460, NULL, 0);
	ck_assert_uint_eq(app.pcb->lastack, peer.ack + 4 * 1460);
	ck_assert_uint_eq(app.pcb->snd_queuelen, 6);
	peer_send(FRAME_TCP_ACK, peer.seq, peer.ack + 10 * 1460, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
}
END_TEST

START_TEST(test_tx_outside_a_burst_frames_leave_one_by_one)
{
	app.recved = 1;
	listen_on_80();
	peer_connect(40011, 21000);
	tcp_nagle_disable(app.pcb);
	app.pcb->cwnd = 65535; /* past slow start: the peer's window is the limit */
	app_write(3 * 1460, 0);
	ck_assert_uint_eq(md.ntx, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(md.tx[i].flags, WEIR_TX_L4_CSUM);
		ck_assert_msg(
			device_checksum_valid(md.tx[i].data, md.tx[i].len, md.tx[i].l4_offset),
			"frame %u's TCP checksum", i);
	}
}
END_TEST

START_TEST(test_tx_short_segment_ends_a_super_frame)
{
	struct frame_tcp_info t;

	app.recved = 1;
	listen_on_80();
	peer_connect(40012, 22000);
	tcp_nagle_disable(app.pcb);
	app.pcb->cwnd = 65535; /* past slow start: the peer's window is the limit */
	/* 3 full segments and a short one: one super-frame, the short one last. Then more data:
	 * a new frame, since nothing may follow a short segment inside a super-frame. */
	app_write(3 * 1460 + 100, 1);
	app_write(2 * 1460, 1);
	ck_assert_uint_eq(md.ntx, 2);
	ck_assert_int_eq(frame_tcp_parse(md.tx[0].data, md.tx[0].len, &t), 0);
	ck_assert_uint_eq(t.len, 3 * 1460 + 100);
	ck_assert_uint_eq(md.tx[0].gso_size, 1460);
	ck_assert_int_eq(frame_tcp_parse(md.tx[1].data, md.tx[1].len, &t), 0);
	ck_assert_uint_eq(t.seq, peer.ack + 3 * 1460 + 100);
	ck_assert_uint_eq(t.len, 2 * 1460);
	/* A FIN is never folded into a super-frame. */
	md.ntx = 0;
	weir__stack_tx_hold();
	app_write(1460, 0);
	ck_assert_int_eq(tcp_shutdown(app.pcb, 0, 1), ERR_OK);
	weir__stack_tx_release();
	ck_assert_int_ge(find_tx(0, FRAME_TCP_FIN, FRAME_TCP_FIN, -1, &t), 0);
	ck_assert_uint_eq(md.tx[0].flags & WEIR_TX_TSO4, 0);
}
END_TEST

START_TEST(test_tx_later_ack_replaces_earlier_one_in_a_burst)
{
	struct weir_stack_stats ss;
	struct frame_tcp_info t;
	uint8_t f[4][256];
	size_t len[4];

	/* The transmit path's fold, which ACKs from timers and reads meet: lwIP builds each ACK
	 * of a burst at once here (0032 off for this stack). */
	weir__stack_ack_defer(st, 0);
	app.recved = 1;
	listen_on_80();
	peer_connect(40013, 23000);
	/* Four segments in one poll: lwIP acknowledges every second one, two ACKs in the burst;
	 * the second says everything the first does and more, so only it is sent. */
	for (unsigned i = 0; i < 4; i++) {
		uint8_t d[100];

		memset(d, 'a' + (int)i, sizeof(d));
		len[i] = peer_frame(f[i], FRAME_TCP_ACK, peer.seq + 100 * i, peer.ack, d, sizeof(d),
				    NULL, 0);
		ck_assert_int_ge(memdev_inject(&md, f[i], len[i]), 0);
	}
	weir_stack_poll(st);
	ck_assert_uint_eq(app.len, 400);
	ck_assert_uint_eq(md.ntx, 1);
	ck_assert_int_eq(frame_tcp_parse(md.tx[0].data, md.tx[0].len, &t), 0);
	ck_assert_uint_eq(t.ack, peer.seq + 400);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_eq(ss.tx_acks_folded, 1);
	/* The same segment twice more in one poll: two duplicate ACKs, both sent (the peer counts
	 * them). */
	md.ntx = 0;
	ck_assert_int_ge(memdev_inject(&md, f[0], len[0]), 0);
	ck_assert_int_ge(memdev_inject(&md, f[0], len[0]), 0);
	weir_stack_poll(st);
	ck_assert_uint_eq(md.ntx, 2);
	ck_assert_int_eq(frame_tcp_parse(md.tx[1].data, md.tx[1].len, &t), 0);
	ck_assert_uint_eq(t.ack, peer.seq + 400);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_eq(ss.tx_acks_folded, 1);
}
END_TEST

/* A device that takes nothing: the frames wait (a full ring empties), but not forever: after
 * 200 ms the queue is dropped and counted, and the stack polls without work again. */
START_TEST(test_tx_queue_dropped_when_device_takes_nothing)
{
	struct weir_stack_stats ss;
	uint64_t t0;

	app.recved = 1;
	listen_on_80();
	peer_connect(40014, 24000);
	tcp_nagle_disable(app.pcb);
	/* This is about the driver's queue: TCP's own timers stay quiet (no retransmission
	 * timeout, no tail loss probe: it waits for nrtx == 0). */
	app.pcb->rto = 0x7fff;
	app.pcb->nrtx = 1;
	md.tx_fail = 1;
	app_write(2 * 1460, 1);
	ck_assert_uint_eq(md.ntx, 0);
	weir_stack_poll(st);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_ge(ss.drop_tx_full, 1); /* the frames wait, counted once per flush */
	ck_assert_uint_eq(ss.drop_tx_error, 0);
	ck_assert_int_ne(weir__stack_tx_busy(), 0);
	t0 = weir_clock_now_ns();
	while (weir_clock_now_ns() - t0 < 250 * WEIR_NS_PER_MS)
		weir_stack_poll(st);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_ge(ss.drop_tx_error, 1);
	ck_assert_int_eq(weir__stack_tx_busy(), 0);
	/* The device takes frames again: nothing old is left to leave; TCP sends again itself. */
	md.tx_fail = 0;
	weir_stack_poll(st);
	ck_assert_uint_eq(md.ntx, 0);
	ck_assert_uint_eq(app.pcb->snd_nxt - peer.ack, 2 * 1460); /* lwIP still has them */
}
END_TEST

/* Data written without copy (PBUF_ROM) that must wait for ARP is copied into ARP's queue: after
 * weir_flow_write_nocopy returns, nothing may still point into the caller's buffer. */
START_TEST(test_arp_queue_copies_data_written_without_copy)
{
	static uint8_t d[1000];
	uint8_t f[60] = { 0 };
	struct frame_tcp_info t;
	int i;

	app.recved = 1;
	listen_on_80();
	peer_connect(40015, 25000);
	tcp_nagle_disable(app.pcb);
	memset(d, 0xab, sizeof(d));
	etharp_cleanup_netif(netif_default); /* the peer's MAC is forgotten */
	md.ntx = 0;
	ck_assert_int_eq(tcp_write(app.pcb, d, sizeof(d), 0), ERR_OK); /* no copy */
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_int_lt(find_tx(0, 0, 0, 1, &t), 0); /* waiting for ARP */
	memset(d, 0x5a, sizeof(d));		      /* what a caller may do once it is freed */
	frame_arp_request(f, peer_mac, peer_ip.v4, our_ip.v4);
	inject(f, sizeof(f)); /* the peer's MAC again: the queued segment leaves */
	i = find_tx(0, 0, 0, 1, &t);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(t.len, sizeof(d));
	ck_assert_uint_eq(t.payload[0], 0xab);
	ck_assert_uint_eq(t.payload[sizeof(d) - 1], 0xab);
}
END_TEST

/* A segment of more pieces than a burst's gather list holds (1-byte writes without copy from
 * scattered addresses) leaves as one copy; refused, lwIP would resend it forever. */
START_TEST(test_tx_segment_of_many_pieces_leaves_as_a_copy)
{
	static uint8_t d[2 * (CONFIG_WEIR_TX_BURST_PIECES + 100)];
	struct frame_tcp_info t;
	unsigned n = CONFIG_WEIR_TX_BURST_PIECES + 100;
	int i;

	app.recved = 1;
	listen_on_80();
	peer_connect(40016, 26000);
	tcp_nagle_disable(app.pcb);
	app.pcb->cwnd = 65535;
	ck_assert_uint_le(n, app.pcb->mss);
	for (unsigned k = 0; k < n; k++) {
		d[2 * k] = (uint8_t)(k * 3);
		ck_assert_int_eq(tcp_write(app.pcb, &d[2 * k], 1, 0), ERR_OK);
	}
	ck_assert_ptr_nonnull(app.pcb->unsent);
	ck_assert_uint_gt(pbuf_clen(app.pcb->unsent->p), CONFIG_WEIR_TX_BURST_PIECES);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	i = find_tx(0, 0, 0, 1, &t);
	ck_assert_int_ge(i, 0);
	ck_assert_uint_eq(t.len, n);
	for (unsigned k = 0; k < n; k++)
		if (t.payload[k] != (uint8_t)(k * 3))
			ck_abort_msg("payload byte %u is 0x%02x", k, t.payload[k]);
	ck_assert_ptr_null(app.pcb->unsent);
}
END_TEST

/* --- 0015: pcb hash, connection limits, no eviction --------------------------------------- */
#if TCP_PCB_HASH
/* Connections the listener accepted, in order; a slot goes NULL when lwIP reports its end. */
static struct tcp_pcb *acc[64];
static int nacc;

static void acc_err(void *arg, err_t err)
{
	(void)err;
	acc[(intptr_t)arg] = NULL;
}

static err_t acc_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	ck_assert_int_eq(err, ERR_OK);
	ck_assert_int_lt(nacc, (int)WEIR_ARRAY_SIZE(acc));
	tcp_arg(pcb, (void *)(intptr_t)nacc);
	tcp_err(pcb, acc_err);
	tcp_recv(pcb, app_recv);
	acc[nacc++] = pcb;
	return ERR_OK;
}

static void listen_on_80_acc(void)
{
	nacc = 0;
	memset(acc, 0, sizeof(acc));
	listen_on_80();
	tcp_accept(listener, acc_accept);
}

/* The peer connects from port (a full handshake); returns lwIP's new connection. */
static struct tcp_pcb *acc_connect(uint16_t port, uint32_t isn)
{
	int before = nacc;

	peer_syn(port, isn);
	peer_send(FRAME_TCP_ACK, peer.seq, peer.ack, NULL, 0);
	ck_assert_int_eq(nacc, before + 1);
	ck_assert_ptr_nonnull(acc[before]);
	ck_assert_int_eq(acc[before]->state, ESTABLISHED);
	return acc[before];
}

/* The peer sends one byte on pcb's connection; returns whether pcb took it. */
static int byte_reaches(struct tcp_pcb *pcb, uint16_t port)
{
	uint32_t before = pcb->rcv_nxt;

	peer.port = port;
	peer_send(FRAME_TCP_ACK, pcb->rcv_nxt, pcb->snd_nxt, "x", 1);
	return pcb->rcv_nxt == before + 1;
}

static void lwip_addrs(ip_addr_t *ours, ip_addr_t *theirs)
{
	ip_addr_set_zero(ours);
	ip_addr_set_zero(theirs);
	ip4_addr_set_u32(ip_2_ip4(ours), our_ip.v4);
	ip4_addr_set_u32(ip_2_ip4(theirs), peer_ip.v4);
}

/* n peer ports whose connections to port 80 share one hash bucket. */
static void colliding_ports(uint16_t *out, unsigned n)
{
	static uint8_t count[1u << TCP_PCB_HASH_BITS];
	ip_addr_t ours, theirs;
	uint32_t bucket = UINT32_MAX;
	unsigned k = 0;

	lwip_addrs(&ours, &theirs);
	memset(count, 0, sizeof(count));
	for (uint32_t p = 1024; p <= 65535 && bucket == UINT32_MAX; p++) {
		uint32_t b = tcp_pcb_hash_index(&ours, 80, &theirs, (u16_t)p);

		if (++count[b] == n)
			bucket = b;
	}
	ck_assert_uint_ne(bucket, UINT32_MAX);
	for (uint32_t p = 1024; p <= 65535 && k < n; p++)
		if (tcp_pcb_hash_index(&ours, 80, &theirs, (u16_t)p) == bucket)
			out[k++] = (uint16_t)p;
	ck_assert_uint_eq(k, n);
}

START_TEST(test_pcbs_colliding_tuples_each_reach_their_own)
{
	struct frame_tcp_info t;
	ip_addr_t ours, theirs;
	struct tcp_pcb *p[3];
	uint16_t ports[3];

	lwip_addrs(&ours, &theirs);
	colliding_ports(ports, 3);
	listen_on_80_acc();
	for (int i = 0; i < 3; i++)
		p[i] = acc_connect(ports[i], 1000u * (unsigned)(i + 1));
	/* One chain, three connections: each segment reaches its own, in any order. */
	ck_assert(byte_reaches(p[1], ports[1]));
	ck_assert(byte_reaches(p[0], ports[0]));
	ck_assert(byte_reaches(p[2], ports[2]));
	ck_assert_uint_eq(p[0]->rcv_nxt, 1000 + 2);
	ck_assert_uint_eq(p[1]->rcv_nxt, 2000 + 2);
	ck_assert_uint_eq(p[2]->rcv_nxt, 3000 + 2);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, 80, &theirs, ports[i], NULL), p[i]);
	/* The middle one leaves the chain; the others are still found, it is not. */
	tcp_abort(p[1]);
	ck_assert_ptr_null(tcp_pcb_hash_find(&ours, 80, &theirs, ports[1], NULL));
	ck_assert(byte_reaches(p[2], ports[2]));
	ck_assert(byte_reaches(p[0], ports[0]));
	/* A segment for the one gone meets the listener, which resets it. */
	md.ntx = 0;
	peer.port = ports[1];
	peer_send(FRAME_TCP_ACK, 2002, 12345, "y", 1);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_RST, FRAME_TCP_RST, 0, &t), 0);
	tcp_abort(p[0]);
	tcp_abort(p[2]);
	ck_assert_ptr_null(tcp_pcb_hash_find(&ours, 80, &theirs, ports[0], NULL));
	ck_assert_ptr_null(tcp_pcb_hash_find(&ours, 80, &theirs, ports[2], NULL));
}
END_TEST

START_TEST(test_pcbs_limit_refuses_new_and_evicts_none)
{
	struct weir_stack_stats ss;
	struct frame_tcp_info t;
	uint32_t refused = tcp_pcb_refused, saved = tcp_pcb_limit;

	listen_on_80_acc();
	/* lwIP's tcp_alloc() evicted the oldest connection of lower priority when it had no pcb
	 * left: give the three live ones the lowest and the listener the highest. */
	tcp_setprio(listener, TCP_PRIO_MAX);
	tcp_pcb_limit = tcp_pcb_count - tcp_tw_count + 3;
	for (int i = 0; i < 3; i++)
		tcp_setprio(acc_connect((uint16_t)(41000 + i), 5000u * (unsigned)(i + 1)),
			    TCP_PRIO_MIN);
	/* A fourth: refused at once with a RST (not a SYN dropped for the client to retry). */
	md.ntx = 0;
	peer.port = 41003;
	peer_send_opts(FRAME_TCP_SYN, 7000, 0, NULL, 0, mss_opt, sizeof(mss_opt));
	ck_assert_int_ge(
		find_tx(0, FRAME_TCP_RST | FRAME_TCP_ACK, FRAME_TCP_RST | FRAME_TCP_ACK, 0, &t), 0);
	ck_assert_uint_eq(t.ack, 7001);
	ck_assert_int_lt(find_tx(0, FRAME_TCP_SYN, FRAME_TCP_SYN, -1, &t), 0);
	ck_assert_uint_eq(tcp_pcb_refused, refused + 1);
	ck_assert_int_eq(nacc, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(acc[i]);
		ck_assert_int_eq(acc[i]->state, ESTABLISHED);
		ck_assert(byte_reaches(acc[i], (uint16_t)(41000 + i)));
	}
	/* So does a connect from the application. */
	ck_assert_ptr_null(tcp_new());
	ck_assert_uint_eq(tcp_pcb_refused, refused + 2);
	ck_assert_int_eq(weir_stack_get_stats(st, &ss), 0);
	ck_assert_uint_eq(ss.tcp_refused, refused + 2);
	ck_assert_uint_eq(ss.tcp_connections, tcp_pcb_limit);
	/* One leaves: the next gets in. */
	tcp_abort(acc[0]);
	ck_assert_ptr_null(acc[0]);
	acc_connect(41004, 9000);
	ck_assert_int_eq(nacc, 4);
	tcp_pcb_limit = saved;
}
END_TEST

/* lwIP closes pcb first; the peer acknowledges its FIN with its own: pcb is in TIME-WAIT. */
static void to_time_wait(struct tcp_pcb *pcb, uint16_t port)
{
	ck_assert_int_eq(tcp_close(pcb), ERR_OK);
	tcp_output(pcb);
	ck_assert_int_eq(pcb->state, FIN_WAIT_1);
	peer.port = port;
	peer_send(FRAME_TCP_FIN | FRAME_TCP_ACK, pcb->rcv_nxt, pcb->snd_nxt, NULL, 0);
	ck_assert_int_eq(pcb->state, TIME_WAIT);
}

START_TEST(test_pcbs_time_wait_bounded_oldest_goes)
{
	struct weir_stack_stats ss;
	struct frame_tcp_info t;
	ip_addr_t ours, theirs;
	uint32_t dropped = tcp_tw_dropped, saved = tcp_tw_limit;
	struct tcp_pcb *p[3];

	lwip_addrs(&ours, &theirs);
	listen_on_80_acc();
	tcp_tw_limit = tcp_tw_count + 2;
	for (int i = 0; i < 3; i++)
		p[i] = acc_connect((uint16_t)(42000 + i), 11000u * (unsigned)(i + 1));
	to_time_wait(p[0], 42000);
	to_time_wait(p[1], 42001);
	ck_assert_uint_eq(tcp_tw_dropped, dropped);
	/* A third past the bound: the oldest is forgotten, the two newest stay. */
	to_time_wait(p[2], 42002);
	ck_assert_uint_eq(tcp_tw_dropped, dropped + 1);
	ck_assert_uint_eq(tcp_tw_count, tcp_tw_limit);
	ck_assert_ptr_null(tcp_pcb_hash_find(&ours, 80, &theirs, 42000, NULL));
	ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, 80, &theirs, 42001, NULL), p[1]);
	ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, 80, &theirs, 42002, NULL), p[2]);
	ck_assert_int_eq(weir_stack_get_stats(st, &ss), 0);
	ck_assert_uint_eq(ss.tcp_time_wait, tcp_tw_limit);
	ck_assert_uint_eq(ss.tcp_time_wait_dropped, dropped + 1);
	/* The peer's FIN again: a TIME-WAIT connection acknowledges it, the forgotten one is
	 * reset by the listener. */
	md.ntx = 0;
	peer.port = 42002;
	peer_send(FRAME_TCP_FIN | FRAME_TCP_ACK, p[2]->rcv_nxt - 1, p[2]->snd_nxt, NULL, 0);
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_ACK, 0, &t), 0);
	md.ntx = 0;
	peer.port = 42000;
	peer_send(FRAME_TCP_FIN | FRAME_TCP_ACK, 11002, 54321, NULL, 0);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_RST, FRAME_TCP_RST, 0, &t), 0);
	tcp_tw_limit = saved;
}
END_TEST

/* A TIME-WAIT pcb from us (port) to the peer's port 9000, as tcp_process() leaves one. */
static struct tcp_pcb *time_wait_pcb(uint16_t port)
{
	struct tcp_pcb *pcb = tcp_alloc(TCP_PRIO_NORMAL);

	ck_assert_ptr_nonnull(pcb);
	lwip_addrs(&pcb->local_ip, &pcb->remote_ip);
	pcb->local_port = port;
	pcb->remote_port = 9000;
	pcb->state = TIME_WAIT;
	pcb->tmr = tcp_ticks;
	TCP_REG(&tcp_tw_pcbs, pcb);
	return pcb;
}

/* The next port tcp_new_port() gives (taken by a bind, given back). */
static uint16_t next_port(void)
{
	struct tcp_pcb *pcb = tcp_new();
	uint16_t port;

	ck_assert_ptr_nonnull(pcb);
	ck_assert_int_eq(tcp_bind(pcb, IP_ANY_TYPE, 0), ERR_OK);
	port = pcb->local_port;
	ck_assert_int_eq(tcp_close(pcb), ERR_OK);
	return port;
}

static struct tcp_pcb *connect_to_9000(void)
{
	struct tcp_pcb *pcb = tcp_new();
	ip_addr_t ours, theirs;

	lwip_addrs(&ours, &theirs);
	ck_assert_ptr_nonnull(pcb);
	ck_assert_int_eq(tcp_connect(pcb, &theirs, 9000, NULL), ERR_OK);
	return pcb;
}

START_TEST(test_pcbs_connect_passes_or_takes_over_time_wait)
{
	uint32_t reused = tcp_tw_recycled;
	struct tcp_pcb *c, *tw[2];
	ip_addr_t ours, theirs;
	uint16_t q;

	lwip_addrs(&ours, &theirs);
	/* The port a connect would take is held by a TIME-WAIT pcb of the same 4-tuple: it goes
	 * on to the next port, which has none. */
	q = next_port();
	tw[0] = time_wait_pcb((uint16_t)(q + 1));
	c = connect_to_9000();
	ck_assert_uint_eq(c->local_port, q + 2);
	ck_assert_uint_eq(tcp_tw_recycled, reused);
	ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, (u16_t)(q + 1), &theirs, 9000, NULL), tw[0]);
	tcp_abort(c);
	tcp_abort(tw[0]);
	/* Two in a row: the second is taken over (Linux's tcp_tw_reuse), not a port refused. */
	q = next_port();
	for (int i = 0; i < 2; i++)
		tw[i] = time_wait_pcb((uint16_t)(q + 1 + i));
	c = connect_to_9000();
	ck_assert_uint_eq(c->local_port, q + 2);
	ck_assert_uint_eq(tcp_tw_recycled, reused + 1);
	ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, (u16_t)(q + 2), &theirs, 9000, NULL), c);
	ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, (u16_t)(q + 1), &theirs, 9000, NULL), tw[0]);
	ck_assert_int_eq(c->state, SYN_SENT);
	tcp_abort(c);
	tcp_abort(tw[0]);
	/* A port given by tcp_bind(pcb, ip, 0) may be one TIME-WAIT pcbs use (they do not hold
	 * ports): a connect from it onto their 4-tuple takes the TIME-WAIT pcb over too. */
	q = next_port();
	tw[0] = time_wait_pcb((uint16_t)(q + 1));
	{
		struct tcp_pcb *b = tcp_new();

		ck_assert_ptr_nonnull(b);
		ck_assert_int_eq(tcp_bind(b, IP_ANY_TYPE, 0), ERR_OK);
		ck_assert_uint_eq(b->local_port, q + 1);
		ck_assert_int_eq(tcp_connect(b, &theirs, 9000, NULL), ERR_OK);
		ck_assert_uint_eq(tcp_tw_recycled, reused + 2);
		ck_assert_ptr_eq(tcp_pcb_hash_find(&ours, (u16_t)(q + 1), &theirs, 9000, NULL), b);
		tcp_abort(b);
	}
	/* A port a live pcb holds is never given out again while it does. */
	q = next_port();
	c = connect_to_9000();
	ck_assert_uint_eq(c->local_port, q + 1);
	{
		struct tcp_pcb *b = tcp_new();

		ck_assert_int_eq(tcp_bind(b, IP_ANY_TYPE, 0), ERR_OK);
		ck_assert_uint_ne(b->local_port, c->local_port);
		ck_assert_int_eq(tcp_close(b), ERR_OK);
	}
	tcp_abort(c);
}
END_TEST

START_TEST(test_pcbs_cookie_returned_at_the_limit_is_refused)
{
	struct frame_tcp_info t, cookie;
	uint32_t saved = tcp_pcb_limit;

	listen_on_80_acc();
	((struct tcp_pcb_listen *)listener)->backlog = 1;
	/* One half-open connection fills the backlog; the next SYN gets a cookie. */
	peer.port = 44000;
	peer.wnd = 65535;
	peer_send_opts(FRAME_TCP_SYN, 1000, 0, NULL, 0, mss_opt, sizeof(mss_opt));
	md.ntx = 0;
	peer.port = 44001;
	peer_send_opts(FRAME_TCP_SYN, 2000, 0, NULL, 0, mss_opt, sizeof(mss_opt));
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_SYN | FRAME_TCP_ACK, 0, &cookie), 0);
	/* The limit is reached before the cookie comes back: the client, established on its side,
	 * is told at once (RST), not left waiting. */
	tcp_pcb_limit = tcp_pcb_count - tcp_tw_count;
	md.ntx = 0;
	peer_send(FRAME_TCP_ACK, 2001, cookie.seq + 1, NULL, 0);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_RST, FRAME_TCP_RST, 0, &t), 0);
	ck_assert_uint_eq(t.seq, cookie.seq + 1);
	ck_assert_int_eq(nacc, 0);
	/* And a new SYN at the limit gets a RST, not a cookie. */
	md.ntx = 0;
	peer.port = 44002;
	peer_send_opts(FRAME_TCP_SYN, 3000, 0, NULL, 0, mss_opt, sizeof(mss_opt));
	ck_assert_int_ge(
		find_tx(0, FRAME_TCP_RST | FRAME_TCP_ACK, FRAME_TCP_RST | FRAME_TCP_ACK, 0, &t), 0);
	ck_assert_int_lt(find_tx(0, FRAME_TCP_SYN, FRAME_TCP_SYN, -1, &t), 0);
	tcp_pcb_limit = saved;
}
END_TEST

/* --- 0017: tcp_fasttmr() visits the pcbs with work for it -------------------------------- */
static int refuse_next;

static err_t refusing_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	if (p != NULL && refuse_next) {
		refuse_next = 0;
		return ERR_MEM; /* lwIP keeps it as refused data and offers it again */
	}
	return app_recv(arg, pcb, p, err);
}

START_TEST(test_fasttmr_sends_delayed_ack_and_redelivers_refused_data)
{
	struct frame_tcp_info t;
	struct tcp_pcb *p[40];

	app.recved = 1;
	listen_on_80_acc();
	/* Idle connections around the one that gets work: the timer must still find it. */
	for (int i = 0; i < 40; i++)
		p[i] = acc_connect((uint16_t)(43000 + i), 30000u + 100u * (unsigned)i);
	tcp_recv(p[17], refusing_recv);
	/* One byte: lwIP delays its ACK for the fast timer. */
	ck_assert(byte_reaches(p[17], 43017));
	ck_assert(p[17]->flags & TF_ACK_DELAY);
	md.ntx = 0;
	for (int i = 0; i < 40; i++)
		p[i]->last_timer = p[0]->last_timer; /* a visit sets it to the round's number */
	tcp_fasttmr();
	weir_stack_poll(st);
	/* Visited: the one with work; the idle ones were not even looked at (lwIP's walk marked
	 * every active pcb). */
	ck_assert_uint_ne(p[17]->last_timer, p[0]->last_timer);
	for (int i = 1; i < 40; i++)
		if (i != 17)
			ck_assert_uint_eq(p[i]->last_timer, p[0]->last_timer);
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_ACK, 0, &t), 0);
	ck_assert_uint_eq(t.ack, p[17]->rcv_nxt);
	ck_assert_uint_eq(p[17]->flags & (TF_ACK_DELAY | TF_ACK_NOW), 0);
	/* Data the application refuses is offered again by the fast timer. */
	refuse_next = 1;
	app.len = 0;
	peer.port = 43017;
	peer_send(FRAME_TCP_ACK, p[17]->rcv_nxt, p[17]->snd_nxt, "abc", 3);
	ck_assert_ptr_nonnull(p[17]->refused_data);
	ck_assert_uint_eq(app.len, 0);
	tcp_fasttmr();
	ck_assert_ptr_null(p[17]->refused_data);
	ck_assert_uint_eq(app.len, 3);
	ck_assert_int_eq(memcmp(app.data, "abc", 3), 0);
	/* None of the idle ones was sent anything. */
	for (unsigned i = 0; i < md.ntx; i++)
		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t) == 0)
			ck_assert_uint_eq(t.dport, 43017);
}
END_TEST

#if TCP_SLOW_IDLE_TICKS > 1
static unsigned polls_of_3;

static err_t count_poll(void *arg, struct tcp_pcb *pcb)
{
	(void)arg;
	(void)pcb;
	polls_of_3++;
	return ERR_OK;
}

START_TEST(test_slowtmr_visits_idle_pcbs_once_in_idle_ticks)
{
	/* stack/patches/0022. lwIP's slow timer visited every active pcb every tick (40 ms in
	 * the hosted profile): with 50,000 idle connections that walk was a third of the time of
	 * a process serving new ones. Idle pcbs are now visited once in TCP_SLOW_IDLE_TICKS
	 * ticks; a pcb whose retransmission timer starts is visited every tick from then on.
	 * (The stack's own timer may add a tick now and then while the test runs: the checks
	 * count tcp_ticks, not calls.) */
	struct frame_tcp_info t;
	struct tcp_pcb *p[40];
	u8_t idle_mark;
	u32_t t0, start;
	unsigned rto_ticks, polls_due;

	listen_on_80_acc();
	for (int i = 0; i < 40; i++)
		p[i] = acc_connect((uint16_t)(44000 + i), 31000u + 100u * (unsigned)i);
	/* One whole walk (every pcb), so each idle pcb's last visit is known. */
	do
		tcp_slowtmr();
	while (tcp_ticks % TCP_SLOW_IDLE_TICKS != 0);
	idle_mark = p[0]->last_timer;
	for (int i = 0; i < 40; i++)
		ck_assert_uint_eq(p[i]->last_timer, idle_mark);

	/* p[17] sends a byte the peer never ACKs: its retransmission timer runs. */
	t0 = tcp_ticks;
	ck_assert_int_eq(tcp_write(p[17], "y", 1, TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(p[17]), ERR_OK);
	weir_stack_poll(st);
	ck_assert_int_ge(p[17]->rtime, 0);
	rto_ticks = (unsigned)p[17]->rto;
	ck_assert_uint_lt(rto_ticks + 2, TCP_SLOW_IDLE_TICKS); /* else the test shows nothing */
	md.ntx = 0;
	peer.port = 44017; /* find_tx looks at this connection's frames */
	/* It goes again after rto ticks, not at the next walk of every pcb; the idle ones are not
	 * even looked at until then (lwIP's walk marked every active pcb every tick). */
	while (tcp_ticks - t0 < TCP_SLOW_IDLE_TICKS - 1) {
		tcp_slowtmr();
		weir_stack_poll(st);
		for (int i = 0; i < 40; i++)
			if (i != 17)
				ck_assert_uint_eq(p[i]->last_timer, idle_mark);
		if (find_tx(0, FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1, &t) >= 0)
			break;
	}
	ck_assert_msg(find_tx(0, FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1, &t) >= 0,
		      "not retransmitted in %u ticks (rto %u)", (unsigned)(tcp_ticks - t0),
		      rto_ticks);
	ck_assert_msg(tcp_ticks - t0 <= rto_ticks + 1, "retransmitted after %u ticks, rto %u",
		      (unsigned)(tcp_ticks - t0), rto_ticks);
	ck_assert_uint_eq(t.len, 1);
	ck_assert_uint_eq(t.dport, 44017);

	/* A poll every 2 * TCP_SLOW_IDLE_TICKS ticks on an idle pcb comes on time: the ticks
	 * between visits are counted (counting visits, it would come 25 times too late). */
	while (tcp_ticks % TCP_SLOW_IDLE_TICKS != 0)
		tcp_slowtmr();
	tcp_poll(p[3], count_poll, 2 * TCP_SLOW_IDLE_TICKS);
	p[3]->polltmr = 0;
	polls_of_3 = 0;
	start = tcp_ticks;
	for (unsigned i = 0; i < 10 * TCP_SLOW_IDLE_TICKS; i++)
		tcp_slowtmr();
	polls_due = (unsigned)(tcp_ticks - start) / (2 * TCP_SLOW_IDLE_TICKS);
	ck_assert_msg(polls_of_3 + 1 >= polls_due && polls_of_3 <= polls_due,
		      "%u polls in %u ticks", polls_of_3, (unsigned)(tcp_ticks - start));

	/* Once acknowledged, p[17] is idle again and off the per-tick list. */
	peer_send(FRAME_TCP_ACK, p[17]->rcv_nxt, p[17]->snd_nxt, NULL, 0);
	ck_assert_int_lt(p[17]->rtime, 0);
	do
		tcp_slowtmr();
	while (tcp_ticks % TCP_SLOW_IDLE_TICKS != 0);
	tcp_slowtmr();
	ck_assert_uint_eq(p[17]->last_timer, p[0]->last_timer);

	/* A TIME-WAIT pcb past its 2 MSL goes on the next walk of every pcb, not before: the
	 * TIME-WAIT list is not walked every tick either. */
	{
		ip_addr_t ours, theirs;
		u32_t tw = tcp_tw_count;

		lwip_addrs(&ours, &theirs);
		to_time_wait(p[5], 44005);
		ck_assert_uint_eq(tcp_tw_count, tw + 1);
		p[5]->tmr = tcp_ticks - 2 * TCP_MSL / TCP_SLOW_INTERVAL - 2; /* 2 MSL are over */
		while ((tcp_ticks + 1) % TCP_SLOW_IDLE_TICKS != 0) {
			tcp_slowtmr();
			ck_assert_ptr_nonnull(tcp_pcb_hash_find(&ours, 80, &theirs, 44005, NULL));
		}
		tcp_slowtmr(); /* the walk of every pcb */
		ck_assert_ptr_null(tcp_pcb_hash_find(&ours, 80, &theirs, 44005, NULL));
		ck_assert_uint_eq(tcp_tw_count, tw);
	}
}
END_TEST
#endif /* TCP_SLOW_IDLE_TICKS > 1 */
#endif /* TCP_PCB_HASH */

/* --- 0018: window updates by RFC 9293's rule; a reopened window sends at once ------------------
 */

/* The data lwIP sent from md.tx[from] on: the bytes in all, and the longest segment. */
static size_t data_sent_since(unsigned from, size_t *longest)
{
	struct frame_tcp_info t;
	size_t n = 0;
	int i = (int)from - 1;

	*longest = 0;
	while ((i = find_tx((unsigned)(i + 1), FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1,
			    &t)) >= 0) {
		n += t.len;
		if (t.len > *longest)
			*longest = t.len;
	}
	return n;
}

START_TEST(test_window_shrink_on_same_seq_and_ack_is_taken)
{
	/* stack/patches/0018. RFC 9293 §3.10.7.4: the send window is updated when SND.WL1 <
	 * SEG.SEQ, or SND.WL1 == SEG.SEQ and SND.WL2 =< SEG.ACK. A peer whose buffer filled
	 * announces window 0 on a segment whose SEQ and ACK equal its last update's; lwIP 2.1.3
	 * took a window from such a segment only when it grew, kept the old one and went on
	 * sending into a full receiver. */
	static const uint8_t more[1000];
	const uint32_t isn = 13000;
	uint32_t una = send_4000(isn, 40020);
	struct frame_tcp_info t;
	size_t longest;

	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	peer.wnd = 0;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, NULL, 0);
	ck_assert_msg(app.pcb->snd_wnd == 0, "window 0 on the same SEQ/ACK ignored: still %u",
		      (unsigned)app.pcb->snd_wnd);
	/* More to send: nothing goes into the zero window, the persist timer runs instead. */
	md.ntx = 0;
	ck_assert_int_eq(tcp_write(app.pcb, more, sizeof(more), TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_uint_eq(data_sent_since(0, &longest), 0);
	ck_assert_uint_gt(app.pcb->persist_backoff, 0);
	/* The window reopens (same SEQ and ACK again): the data goes at once. */
	md.ntx = 0;
	peer.wnd = 65535;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, NULL, 0);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1, &t), 0);
	ck_assert_uint_eq(t.seq, una + 4000);
	ck_assert_uint_eq(data_sent_since(0, &longest), sizeof(more));
	ck_assert_uint_eq(app.pcb->persist_backoff, 0);
}
END_TEST

START_TEST(test_zero_window_gets_probes_not_retransmissions)
{
	/* stack/patches/0018. Our 4000 bytes are in flight when the peer, acknowledging none of
	 * them, shrinks its window to 0 (same SEQ and ACK as its last update). lwIP 2.1.3 kept
	 * the old window and, at the retransmission timeout, sent full segments into the zero
	 * window again and again. Now: only one-byte zero-window probes until it reopens. */
	const uint32_t isn = 14000;
	uint32_t una = send_4000(isn, 40021);
	size_t longest;
	long wait_ms;

	peer.wnd = 0;
	peer_send(FRAME_TCP_ACK, peer.seq, una, NULL, 0);
	ck_assert_uint_eq(app.pcb->snd_wnd, 0);
	md.ntx = 0;
	wait_ms = 3L * app.pcb->rto * TCP_SLOW_INTERVAL + 300;
	poll_for_ms(wait_ms);
	data_sent_since(0, &longest);
	ck_assert_msg(longest <= 1, "a %zu-byte segment went into a zero window within %ld ms",
		      longest, wait_ms);
	ck_assert_ptr_nonnull(app.pcb);
}
END_TEST

START_TEST(test_reopened_window_resends_in_flight_data_at_once)
{
	/* stack/patches/0018. The peer took the first 1460 of our 4000 bytes and dropped the
	 * rest, its buffer full (window 0 on the ACK). When it reopens the window the dropped
	 * 2540 bytes must go at once; lwIP 2.1.3 left them in flight until the retransmission
	 * timeout. */
	const uint32_t isn = 15000;
	uint32_t una = send_4000(isn, 40022);
	struct frame_tcp_info t;
	size_t longest;

	peer.wnd = 0;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 1460, NULL, 0);
	ck_assert_uint_eq(app.pcb->snd_wnd, 0);
	md.ntx = 0;
	peer.wnd = 65535;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 1460, NULL, 0);
	ck_assert_int_ge(find_tx(0, FRAME_TCP_SYN | FRAME_TCP_FIN | FRAME_TCP_RST, 0, 1, &t), 0);
	ck_assert_uint_eq(t.seq, una + 1460);
	ck_assert_uint_eq(data_sent_since(0, &longest), 4000 - 1460);
	/* Acknowledged, all done. */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_ptr_null(app.pcb->unsent);
}
END_TEST

START_TEST(test_window_from_ack_below_una_ignored)
{
	/* stack/patches/0018, the rest of the rule: the window comes only from a segment whose
	 * ACK is acceptable, SND.UNA =< SEG.ACK =< SND.NXT (RFC 9293 §3.10.7.4). A reordered
	 * segment carrying new data but an old ACK announced a window for an older state of the
	 * peer's buffer; lwIP 2.1.3 took it because its SEQ was newer. */
	const uint32_t isn = 16000;
	uint32_t una = send_4000(isn, 40023);
	uint8_t d[100];

	memset(d, 'w', sizeof(d));
	peer.wnd = 2000;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4000, d, sizeof(d));
	peer.seq += sizeof(d);
	ck_assert_uint_eq(app.pcb->snd_wnd, 2000);
	ck_assert_uint_eq(app.pcb->lastack, una + 4000);
	/* New data, an ACK below SND.UNA, a larger window: the data is taken, the window not. */
	peer.wnd = 30000;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 1000, d, sizeof(d));
	peer.seq += sizeof(d);
	ck_assert_uint_eq(app.len, 2 * sizeof(d));
	ck_assert_uint_eq(app.pcb->snd_wnd, 2000);
	/* And one above SND.NXT (acknowledging what we never sent) is not taken either. */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 9000, NULL, 0);
	ck_assert_uint_eq(app.pcb->snd_wnd, 2000);
}
END_TEST

/* --- 0019: loss recovery (SACK, RFC 6675, RFC 6298 RTO, tail loss probe) ------------------- */

/* MSS 1460 and SACK permitted. */
static const uint8_t mss_sack_opt[8] = { 2, 4, 0x05, 0xb4, 1, 1, 4, 2 };

#define SEG 1460u

/* A handshake from a peer that permits SACK and, when wscale >= 0, scales windows. */
static void peer_connect_sack(uint16_t port, uint32_t isn, int wscale)
{
	uint8_t o[12];
	size_t n = sizeof(mss_sack_opt);
	struct frame_tcp_info t;

	memcpy(o, mss_sack_opt, n);
	if (wscale >= 0) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = (uint8_t)wscale;
	}
	app.recved = 1;
	listen_on_80();
	peer.port = port;
	peer.wnd = 65535;
	md.ntx = 0;
	peer_send_opts(FRAME_TCP_SYN, isn, 0, NULL, 0, o, n);
	ck_assert_int_ge(find_tx(0, 0x3f, FRAME_TCP_SYN | FRAME_TCP_ACK, 0, &t), 0);
	peer.seq = isn + 1;
	peer.ack = t.seq + 1;
	peer_send(FRAME_TCP_ACK, peer.seq, peer.ack, NULL, 0);
	ck_assert_ptr_nonnull(app.pcb);
	ck_assert_msg(app.pcb->flags & TF_SACK, "SACK not negotiated");
	md.ntx = 0;
}

/* Connects with SACK from the peer's side, opens cwnd, has lwIP send n full segments at once
 * and returns the sequence number of the first. */
static uint32_t send_segs_sack(uint16_t port, uint32_t isn, unsigned n)
{
	static const uint8_t data[40 * SEG];

	ck_assert_uint_le(n, 40);
	peer_connect_sack(port, isn, -1);
	tcp_nagle_disable(app.pcb);
	app.pcb->cwnd = 40 * SEG; /* as after slow start: the whole write goes at once */
	md.ntx = 0;
	ck_assert_int_eq(tcp_write(app.pcb, data, n * SEG, TCP_WRITE_FLAG_COPY), ERR_OK);
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_uint_eq(
		retransmissions_of(peer.ack) + retransmissions_of(peer.ack + (n - 1) * SEG), 2);
	ck_assert_uint_eq(app.pcb->snd_nxt, peer.ack + n * SEG);
	return peer.ack;
}

/* The peer acknowledges ack and SACKs the segments [from, to) of each pair (segment numbers
 * counted from una), nblocks pairs; raw_len, if not 0, replaces the option's length byte. */
static void peer_sack(uint32_t una, uint32_t ack, const unsigned (*blocks)[2], unsigned nblocks,
		      uint8_t raw_len)
{
	uint8_t o[40] = { 1, 1, 5, (uint8_t)(2 + 8 * nblocks) };
	size_t n = 4;

	if (raw_len != 0)
		o[3] = raw_len;
	for (unsigned b = 0; b < nblocks; b++) {
		uint32_t e[2] = { una + blocks[b][0] * SEG, una + blocks[b][1] * SEG };

		for (int k = 0; k < 2; k++) {
			o[n++] = (uint8_t)(e[k] >> 24);
			o[n++] = (uint8_t)(e[k] >> 16);
			o[n++] = (uint8_t)(e[k] >> 8);
			o[n++] = (uint8_t)e[k];
		}
	}
	while (n % 4 != 0)
		o[n++] = 1;
	peer_send_opts(FRAME_TCP_ACK, peer.seq, ack, NULL, 0, o, n);
}

static int rexmits_of_seg(uint32_t una, unsigned k)
{
	return retransmissions_of(una + k * SEG);
}

/* Polls 1 ms at a time until segment k goes again, at most 1 s; fails unless it went once and
 * within max_ms polls (a loaded machine makes a poll longer, never shorter). */
static void probe_of_seg_within(uint32_t una, unsigned k, long max_ms)
{
	long waited = 0;

	while (rexmits_of_seg(una, k) == 0 && waited < 1000) {
		poll_for_ms(1);
		waited += 1;
	}
	ck_assert_msg(rexmits_of_seg(una, k) == 1, "segment %u not resent within %ld ms", k,
		      waited);
	ck_assert_msg(waited <= max_ms, "segment %u waited %ld ms", k, waited);
}

START_TEST(test_sack_single_loss_repaired_in_one_rtt)
{
	/* stack/patches/0019. Our first of 6 segments is lost. The peer, delaying its ACKs as
	 * Linux does, sends two duplicate ACKs: the first SACKs segments 1-2, the second 1-4.
	 * Two duplicates are not three, so lwIP 2.1.3 waited for the retransmission timeout;
	 * now the scoreboard says segment 0 is lost (4 SACKed above it) and it goes again at
	 * once, on that ACK, without any timer. Only it: nothing SACKed is resent. */
	static const unsigned b1[][2] = { { 1, 3 } }, b2[][2] = { { 1, 5 } };
	uint32_t una = send_segs_sack(40030, 30000, 6);

	md.ntx = 0;
	peer_sack(una, una, b1, 1, 0);
	ck_assert_int_eq(rexmits_of_seg(una, 0), 0);
	ck_assert_uint_eq(app.pcb->sacked_segs, 2);
	peer_sack(una, una, b2, 1, 0);
	ck_assert_msg(rexmits_of_seg(una, 0) == 1,
		      "segment 0 not retransmitted on the ACK that showed it lost");
	for (unsigned k = 1; k < 6; k++)
		ck_assert_int_eq(rexmits_of_seg(una, k), 0);
	ck_assert_uint_eq(app.pcb->recoveries, 1);
	ck_assert(app.pcb->flags & TF_INFR);
	/* The retransmission arrives: all acknowledged, recovery over, no timeout on the way. */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 6 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert(!(app.pcb->flags & TF_INFR));
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
	ck_assert_uint_eq(app.pcb->sacked_segs, 0);
}
END_TEST

START_TEST(test_tlp_in_recovery_sends_held_retransmission)
{
	/* stack/patches/0021. Of 20 segments, 0 and 1 are lost; three duplicate ACKs SACK 2, 3
	 * and 4, and recovery starts: segment 0 goes at once, segment 1 (lost too: three SACKed
	 * above it) waits for the budget the next ACKs would give (RFC 6937). None comes (the
	 * rest of the window and the ACK for segment 0 are lost). The probe timer sends segment
	 * 1 after the probe timeout; without it, the RTO sent it 200 ms later. */
	uint32_t una = send_segs_sack(40038, 38000, 20);
	md.ntx = 0;
	for (unsigned k = 3; k <= 5; k++) {
		const unsigned b[][2] = { { 2, k } };

		peer_sack(una, una, b, 1, 0);
	}
	ck_assert(app.pcb->flags & TF_INFR);
	ck_assert_int_eq(rexmits_of_seg(una, 0), 1);
	ck_assert_msg(rexmits_of_seg(una, 1) == 0, "segment 1 went at once: nothing to probe");
	ck_assert_ptr_nonnull(app.pcb->unsent);
	ck_assert_uint_eq(lwip_ntohl(app.pcb->unsent->tcphdr->seqno), una + SEG);
	probe_of_seg_within(una, 1, TCP_TLP_MIN_MS + 15);
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
	for (unsigned k = 2; k < 5; k++)
		ck_assert_int_eq(rexmits_of_seg(una, k), 0);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 20 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert(!(app.pcb->flags & TF_INFR));
}
END_TEST

START_TEST(test_tlp_list_holds_only_pcbs_that_may_probe)
{
	/* stack/patches/0021. The probe timer ticks every millisecond while its list is not
	 * empty, so a connection stays on it only while a probe may come: with data in flight,
	 * not while the peer's window is closed (nor during an RTO, nor with its probes spent),
	 * and it joins again when an ACK advances with data in flight. */
	uint32_t una = send_segs_sack(40037, 37000, 4);

	ck_assert_ptr_nonnull(app.pcb->probe_pprev);
	peer.wnd = 0;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 2 * SEG, NULL, 0);
	ck_assert_uint_eq(app.pcb->snd_wnd, 0);
	poll_for_ms(5);
	ck_assert_ptr_null(app.pcb->probe_pprev);
	ck_assert_uint_eq(app.pcb->tlp_probes, 0);
	peer.wnd = 65535;
	peer_send(FRAME_TCP_ACK, peer.seq, una + 3 * SEG, NULL, 0);
	ck_assert_ptr_nonnull(app.pcb->probe_pprev);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	poll_for_ms(5);
	ck_assert_ptr_null(app.pcb->probe_pprev);
}
END_TEST

START_TEST(test_sack_three_holes_one_episode)
{
	/* stack/patches/0019. Of 12 segments, 0, 4 and 8 are lost. The peer SACKs each of the
	 * others as it arrives. One recovery episode retransmits all three holes, each once,
	 * nothing else, and no timeout; lwIP 2.1.3 fast-retransmitted only the first and left
	 * the others to timeouts. Then partial ACKs, and the ACK for everything ends it. */
	static const unsigned arrive[] = { 1, 2, 3, 5, 6, 7, 9, 10, 11 };
	unsigned blocks[3][2];
	uint32_t una = send_segs_sack(40031, 31000, 12);

	md.ntx = 0;
	for (unsigned i = 0; i < 9; i++) {
		unsigned k = arrive[i], nb = k / 4 + 1;

		for (unsigned b = 0; b < nb; b++) {
			/* newest block first, as RFC 2018 asks */
			unsigned base = (k / 4 - b) * 4;

			blocks[b][0] = base + 1;
			blocks[b][1] = b == 0 ? k + 1 : base + 4;
		}
		peer_sack(una, una, (const unsigned(*)[2])blocks, nb, 0);
	}
	ck_assert_uint_eq(app.pcb->sacked_segs, 9);
	for (unsigned k = 0; k < 12; k++)
		ck_assert_msg(rexmits_of_seg(una, k) == (k % 4 == 0),
			      "segment %u sent again %d times", k, rexmits_of_seg(una, k));
	ck_assert_uint_eq(app.pcb->recoveries, 1);
	/* Partial ACKs as the retransmissions arrive, then all of it. */
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4 * SEG, NULL, 0);
	ck_assert(app.pcb->flags & TF_INFR);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 8 * SEG, NULL, 0);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 12 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert(!(app.pcb->flags & TF_INFR));
	ck_assert_uint_eq(app.pcb->recoveries, 1);
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
	for (unsigned k = 0; k < 12; k++)
		ck_assert_int_eq(rexmits_of_seg(una, k), k % 4 == 0);
}
END_TEST

START_TEST(test_sack_lost_retransmission_falls_back_to_rto)
{
	/* stack/patches/0019. Segment 0 of 6 is lost, SACKs for 1-5 start recovery and it goes
	 * again - and that is lost too. Nothing new is sent after it, so nothing tells the loss
	 * but the retransmission timeout: it fires once, sends segment 0 a third time and not
	 * the five the peer SACKed (its marks survive a first timeout), and the ACK ends it. */
	static const unsigned b[][2] = { { 1, 6 } };
	uint32_t una = send_segs_sack(40032, 32000, 6);
	long waited = 0;

	md.ntx = 0;
	for (int i = 0; i < 3; i++)
		peer_sack(una, una, b, 1, 0);
	ck_assert_int_eq(rexmits_of_seg(una, 0), 1);
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
	while (app.pcb->rto_fired == 0 && waited < 3000) {
		poll_for_ms(10);
		waited += 10;
	}
	ck_assert_msg(app.pcb->rto_fired == 1, "no timeout within %ld ms", waited);
	ck_assert_int_eq(rexmits_of_seg(una, 0), 2);
	for (unsigned k = 1; k < 6; k++)
		ck_assert_msg(rexmits_of_seg(una, k) == 0,
			      "SACKed segment %u resent after the timeout", k);
	ck_assert(!(app.pcb->flags & TF_INFR));
	peer_send(FRAME_TCP_ACK, peer.seq, una + 6 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_ptr_null(app.pcb->unsent);
}
END_TEST

START_TEST(test_sack_lying_blocks_ignored)
{
	/* stack/patches/0019. SACK blocks that cannot be true are ignored: past snd_nxt, below
	 * snd_una, reversed, a length byte that is not 2 + 8n, one that promises more blocks
	 * than the options hold. Each comes on an ACK that also moves snd_una, so none is a
	 * duplicate ACK. Nothing is marked, nothing resent, no recovery. Overlapping blocks
	 * mark each segment once. (fuzz-tcp sends such blocks at random.) */
	static const unsigned beyond[][2] = { { 9, 11 } }, reversed[][2] = { { 7, 6 } },
			      ok[][2] = { { 6, 7 } }, overlap[][2] = { { 6, 8 }, { 7, 8 } };
	uint32_t una = send_segs_sack(40033, 33000, 8);
	uint8_t below[12] = { 1, 1, 5, 10 };
	uint32_t lo = una - 3000, hi = una - 1000;

	md.ntx = 0;
	peer_sack(una, una + 1 * SEG, beyond, 1, 0);
	peer_sack(una, una + 2 * SEG, reversed, 1, 0);
	for (int k = 0; k < 4; k++) {
		below[4 + k] = (uint8_t)(lo >> (24 - 8 * k));
		below[8 + k] = (uint8_t)(hi >> (24 - 8 * k));
	}
	peer_send_opts(FRAME_TCP_ACK, peer.seq, una + 3 * SEG, NULL, 0, below, sizeof(below));
	peer_sack(una, una + 4 * SEG, ok, 1, 9);  /* length 9: not 2 + 8n */
	peer_sack(una, una + 5 * SEG, ok, 1, 42); /* 5 blocks: more than the options hold */
	ck_assert_uint_eq(app.pcb->sacked_segs, 0);
	ck_assert(!(app.pcb->flags & TF_INFR));
	ck_assert_uint_eq(app.pcb->recoveries, 0);
	for (unsigned k = 0; k < 8; k++)
		ck_assert_int_eq(rexmits_of_seg(una, k), 0);
	/* The same block with an honest length is taken; overlapping ones count once. */
	peer_sack(una, una + 5 * SEG, ok, 1, 0);
	ck_assert_uint_eq(app.pcb->sacked_segs, 1);
	peer_sack(una, una + 5 * SEG, overlap, 2, 0);
	ck_assert_uint_eq(app.pcb->sacked_segs, 2);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 8 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_uint_eq(app.pcb->sacked_segs, 0);
}
END_TEST

START_TEST(test_rto_first_sample_rfc6298)
{
	/* stack/patches/0019. The handshake gives the first RTT sample R (here under one timer
	 * tick). RFC 6298 §2.2: SRTT = R, RTTVAR = R/2, so the RTO is the floor at once
	 * (TCP_RTO_MIN_MS, 200 ms). lwIP 2.1.3 ran the §2.3 update from its initial values:
	 * RTTVAR kept most of the initial second and the RTO was 760 ms. */
	listen_on_80();
	peer_connect(40034, 34000);
	ck_assert(app.pcb->flags & TF_RTT_VALID);
	ck_assert_int_eq(app.pcb->sa >> 3, 0);
	ck_assert_msg(app.pcb->rto == TCP_RTO_MIN_TICKS,
		      "RTO %d ticks after the first sample, want %d", app.pcb->rto,
		      TCP_RTO_MIN_TICKS);
	ck_assert_int_eq(app.pcb->rto * TCP_SLOW_INTERVAL, 200);
}
END_TEST

START_TEST(test_segment_filling_gap_acked_at_once)
{
	/* stack/patches/0019, the receiver's part (RFC 5681 4.2). The peer's second segment
	 * arrives first (lwIP acknowledges it at once, a duplicate ACK), then the first, which
	 * fills the gap: that must be acknowledged at once too, covering both. lwIP 2.1.3
	 * delayed it as any other in-order segment, so the peer's retransmission was answered
	 * up to a fast-timer tick late (Linux senders measured 26 ms round trips on a 0.1 ms
	 * path at 1% loss). */
	struct frame_tcp_info t;
	const uint32_t isn = 36000;

	app.recved = 1;
	listen_on_80();
	peer_connect(40036, isn);
	peer_send_stream(isn, 1000, 1000);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1);
	md.ntx = 0;
	peer_send_stream(isn, 0, 1000);
	ck_assert_msg(last_pure_ack(&t) >= 0, "no ACK at once for the segment that filled the gap");
	ck_assert_uint_eq(t.ack, isn + 1 + 2000);
	check_stream(2000);
}
END_TEST

START_TEST(test_rto_keeps_queued_retransmissions_in_order)
{
	/* stack/patches/0019. Recovery queues a lost segment on unsent, ahead of new data, and
	 * may not have sent it yet (its budget spent) when the RTO fires. The timeout moves
	 * unacked to unsent: appended, as lwIP 2.1.3 did, the queued segment stood behind higher
	 * ones, where no ACK could free it and cwnd = 1 MSS never reached it: the connection
	 * stalled for good (seen at 5% loss). The queues are merged in order; the RTO sends the
	 * lowest segment. */
	uint32_t una = send_segs_sack(40037, 37000, 6);
	struct tcp_seg *seg0 = app.pcb->unacked, *s;
	uint32_t prev;

	/* What tcp_sack_input()'s queueing leaves: segment 0 moved from unacked to unsent. */
	app.pcb->unacked = seg0->next;
	seg0->next = app.pcb->unsent;
	app.pcb->unsent = seg0;
	ck_assert_int_eq(tcp_rexmit_rto_prepare(app.pcb), ERR_OK);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_uint_eq(lwip_ntohl(app.pcb->unsent->tcphdr->seqno), una);
	prev = una - 1;
	for (s = app.pcb->unsent; s != NULL; s = s->next) {
		ck_assert_msg(TCP_SEQ_GT(lwip_ntohl(s->tcphdr->seqno), prev),
			      "unsent out of order");
		prev = lwip_ntohl(s->tcphdr->seqno);
	}
	ck_assert_uint_eq(app.pcb->rto_end, una + 6 * SEG);
	md.ntx = 0;
	app.pcb->cwnd = SEG;
	ck_assert_int_eq(tcp_output(app.pcb), ERR_OK);
	ck_assert_int_eq(rexmits_of_seg(una, 0), 1);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 6 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_ptr_null(app.pcb->unsent);
}
END_TEST

START_TEST(test_tlp_lost_tail_repaired_before_rto)
{
	/* stack/patches/0019, 0021. Of 4 segments the last two are lost; the peer ACKs the first
	 * two and nothing more can come from it. A tail loss probe (the last segment, again) goes
	 * after the probe timeout, 2 SRTT or at least TCP_TLP_MIN_MS (10 ms), well before the
	 * RTO; the peer SACKs it, which shows segment 2 lost: recovery resends it. No timeout
	 * fires. lwIP 2.1.3 waited for the RTO; 0019 alone for two slow ticks (40-80 ms). The
	 * wait is counted in 1 ms polls, which a loaded machine makes longer, never shorter. */
	static const unsigned b[][2] = { { 3, 4 } };
	uint32_t una = send_segs_sack(40035, 35000, 4);

	peer_send(FRAME_TCP_ACK, peer.seq, una + 2 * SEG, NULL, 0);
	md.ntx = 0;
	probe_of_seg_within(una, 3, TCP_TLP_MIN_MS + 15);
	ck_assert_uint_eq(app.pcb->tlp_probes, 1);
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
	ck_assert_int_eq(rexmits_of_seg(una, 2), 0);
	peer_sack(una, una + 2 * SEG, b, 1, 0);
	ck_assert_msg(rexmits_of_seg(una, 2) == 1, "segment 2 not resent after the probe's SACK");
	ck_assert_uint_eq(app.pcb->recoveries, 1);
	peer_send(FRAME_TCP_ACK, peer.seq, una + 4 * SEG, NULL, 0);
	ck_assert_ptr_null(app.pcb->unacked);
	ck_assert_uint_eq(app.pcb->rto_fired, 0);
}
END_TEST

/* --- 0020: out-of-order queue appends and limits; SACK ACKs folded in a burst (stack/tx.c) --- */

/* The SACK blocks of a parsed segment (up to 4): returns how many. */
static unsigned sack_of(const struct frame_tcp_info *t, uint32_t (*b)[2])
{
	const uint8_t *o = frame_tcp_option(t, 5);
	unsigned n;

	if (o == NULL)
		return 0;
	n = (unsigned)(o[1] - 2) / 8;
	for (unsigned i = 0; i < n && i < 4; i++) {
		b[i][0] = (uint32_t)o[2 + 8 * i] << 24 | (uint32_t)o[3 + 8 * i] << 16 |
			  (uint32_t)o[4 + 8 * i] << 8 | o[5 + 8 * i];
		b[i][1] = (uint32_t)o[6 + 8 * i] << 24 | (uint32_t)o[7 + 8 * i] << 16 |
			  (uint32_t)o[8 + 8 * i] << 8 | o[9 + 8 * i];
	}
	return n < 4 ? n : 4;
}

/* The last segment of the accepted connection's out-of-order queue, and its length. */
static struct tcp_seg *ooseq_last(unsigned *count)
{
	struct tcp_seg *last = NULL;

	*count = 0;
	for (struct tcp_seg *s = app.pcb->ooseq; s != NULL; s = s->next) {
		last = s;
		(*count)++;
	}
	return last;
}

#define OSEG 500u

START_TEST(test_ooseq_tail_appends_match_walk)
{
	/* stack/patches/0020. Segments of 500 bytes arrive out of order in an order that takes
	 * every path of the out-of-order queue: appends after the last segment (contiguous and
	 * past a hole), insertions in the middle, one that covers the rest, a longer
	 * retransmission that replaces a queued segment, an append right after that one. After
	 * each: the queue's remembered tail is its last segment, the ACK's first SACK block is
	 * the run that holds the newest segment (RFC 2018), and at the end the application has
	 * the stream byte-exact. */
	static const unsigned order[] = { 1, 2, 3, 5, 6, 9, 8, 7, 12, 10, 11, 13, 14, 15, 4, 0 };
	int have[18] = { 0 };
	const uint32_t isn = 20000;

	peer_connect_sack(40040, isn, -1);
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		unsigned k = order[i], len = OSEG, lo = k, hi = k + 1, count;
		struct frame_tcp_info t;
		uint32_t b[4][2];
		uint8_t d[2 * OSEG];

		if (k == 13) {
			/* 12 again, with 13 in it: replaces the queued 12 and covers the rest */
			k = 12;
			len = 2 * OSEG;
		}
		for (unsigned j = 0; j < len; j++)
			d[j] = stream_byte(k * OSEG + j);
		md.ntx = 0;
		peer_send(FRAME_TCP_ACK, isn + 1 + k * OSEG, peer.ack, d, len);
		for (unsigned j = k; j < k + len / OSEG; j++)
			have[j] = 1;
		if (order[i] == 0)
			break;
		ck_assert_int_ge(last_pure_ack(&t), 0);
		ck_assert_uint_eq(t.ack, isn + 1);
		ck_assert_ptr_eq(app.pcb->ooseq_tail, ooseq_last(&count));
		while (lo > 1 && have[lo - 1])
			lo--;
		while (have[hi])
			hi++;
		ck_assert_uint_ge(sack_of(&t, b), 1);
		ck_assert_msg(b[0][0] == isn + 1 + lo * OSEG && b[0][1] == isn + 1 + hi * OSEG,
			      "after segment %u: first block %u-%u, want segments %u-%u", order[i],
			      (b[0][0] - isn - 1) / OSEG, (b[0][1] - isn - 1) / OSEG, lo, hi);
	}
	check_stream(16 * OSEG);
	ck_assert_ptr_null(app.pcb->ooseq);
}
END_TEST

START_TEST(test_ooseq_drain_links_without_cat)
{
	/* stack/patches/0026. 180 segments of 500 bytes past a hole, then the hole: the run is
	 * handed to the application without pbuf_cat() (which walked the growing chain once per
	 * segment, n(n+1)/2 steps), byte-exact, in chains whose every tot_len is right (app_recv
	 * checks), and over 64 KiB, so tcp_input() splits it with pbuf_split_64k(). */
	const uint32_t isn = 22000;
	const unsigned n = 180;
	uint8_t d[OSEG];

	peer_connect_sack(40049, isn, 7); /* window scaling: the run is over 64 KiB */
	/* Last first: each goes in at the head of the queue, which stays a walk of one step. */
	for (unsigned k = n; k >= 1; k--) {
		for (unsigned j = 0; j < OSEG; j++)
			d[j] = stream_byte(k * OSEG + j);
		peer_send(FRAME_TCP_ACK, isn + 1 + k * OSEG, peer.ack, d, OSEG);
	}
	ck_assert_uint_eq(app.len, 0);
	for (unsigned j = 0; j < OSEG; j++)
		d[j] = stream_byte(j);
	pbuf_cat_calls = 0;
	peer_send(FRAME_TCP_ACK, isn + 1, peer.ack, d, OSEG);
	ck_assert_uint_eq(pbuf_cat_calls, 0);
	check_stream((n + 1) * OSEG);
	ck_assert_ptr_null(app.pcb->ooseq);
}
END_TEST

START_TEST(test_ooseq_limit_cuts_and_keeps_tail)
{
	/* stack/patches/0020. One-byte segments past a hole, more than TCP_OOSEQ_MAX_PBUFS of
	 * them (a window of 1 MiB holds them all): the queue keeps the limit's worth, drops the
	 * rest, its tail stays right, and after the hole is filled the application has every
	 * byte that was kept. */
#if TCP_OOSEQ_MAX_PBUFS > 0 && TCP_OOSEQ_MAX_PBUFS + 40 < MEMDEV_SLOTS
	const uint32_t isn = 21000;
	const unsigned n = TCP_OOSEQ_MAX_PBUFS + 20;
	unsigned count;
	uint8_t c;

	peer_connect_sack(40041, isn, 7);
	for (unsigned k = 1; k <= n; k++) {
		c = stream_byte(k);
		peer_send(FRAME_TCP_ACK, isn + 1 + k, peer.ack, &c, 1);
		ck_assert_ptr_eq(app.pcb->ooseq_tail, ooseq_last(&count));
	}
	ck_assert_uint_eq(count, TCP_OOSEQ_MAX_PBUFS);
	ck_assert_uint_eq(app.pcb->ooseq_pbufs_ub, TCP_OOSEQ_MAX_PBUFS);
	c = stream_byte(0);
	peer_send(FRAME_TCP_ACK, isn + 1, peer.ack, &c, 1);
	check_stream(TCP_OOSEQ_MAX_PBUFS + 1);
	ck_assert_ptr_null(app.pcb->ooseq);
#endif
}
END_TEST

START_TEST(test_tx_sack_acks_folded_when_blocks_covered)
{
	/* stack/tx.c. Duplicate ACKs that carry SACK blocks, several in one poll: a later one
	 * replaces an earlier one when it reports all the earlier one did (a SACK sender counts
	 * SACKed bytes, not duplicate ACKs), and does not when a block of the earlier one is
	 * missing from it (an ACK holds 4 blocks, most recent first). */
	const uint32_t isn = 22000;
	static const unsigned burst[] = { 11, 2, 4 };
	struct weir_stack_stats ss0, ss;
	struct frame_tcp_info t;
	uint32_t b[4][2];
	uint8_t f[3][700], d[OSEG];
	size_t len[3];

	weir__stack_ack_defer(st, 0); /* the fold itself (0032 builds one ACK per burst) */
	peer_connect_sack(40042, isn, -1);
	/* 1, 3, 5, 7, 9 one by one: five blocks, the ACK names the 4 newest. */
	for (unsigned k = 1; k <= 9; k += 2) {
		for (unsigned j = 0; j < OSEG; j++)
			d[j] = stream_byte(k * OSEG + j);
		md.ntx = 0;
		peer_send(FRAME_TCP_ACK, isn + 1 + k * OSEG, peer.ack, d, OSEG);
		ck_assert_uint_eq(md.ntx, 1);
	}
	weir_stack_get_stats(st, &ss0);
	/* In one poll: 11 (blocks 11 9 7 5), 2 (blocks 1-3 11 9 7: 5 is gone, so both go), 4
	 * (blocks 1-5 11 9 7: all the previous one said, so it replaces it). */
	for (unsigned i = 0; i < 3; i++) {
		for (unsigned j = 0; j < OSEG; j++)
			d[j] = stream_byte(burst[i] * OSEG + j);
		len[i] = peer_frame(f[i], FRAME_TCP_ACK, isn + 1 + burst[i] * OSEG, peer.ack, d,
				    OSEG, NULL, 0);
		ck_assert_int_ge(memdev_inject(&md, f[i], len[i]), 0);
	}
	md.ntx = 0;
	weir_stack_poll(st);
	ck_assert_uint_eq(md.ntx, 2);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_eq(ss.tx_acks_folded - ss0.tx_acks_folded, 1);
	ck_assert_int_eq(frame_tcp_parse(md.tx[0].data, md.tx[0].len, &t), 0);
	ck_assert_uint_eq(sack_of(&t, b), 4);
	ck_assert_uint_eq(b[0][0], isn + 1 + 11 * OSEG);
	ck_assert_uint_eq(b[3][0], isn + 1 + 5 * OSEG);
	ck_assert_int_eq(frame_tcp_parse(md.tx[1].data, md.tx[1].len, &t), 0);
	ck_assert_uint_eq(t.ack, isn + 1);
	ck_assert_uint_eq(sack_of(&t, b), 4);
	ck_assert_uint_eq(b[0][0], isn + 1 + 1 * OSEG);
	ck_assert_uint_eq(b[0][1], isn + 1 + 6 * OSEG);
}
END_TEST

/* --- ephemeral ports (0023) ----------------------------------------------------------------- */

/* lwIP's default range (src/core/tcp.c keeps it to itself). */
#define EPHEMERAL_FIRST 0xc000u
#define EPHEMERAL_END	0xffffu

/* tcp_init() starts the port counter at a random place in the range; 1 in 16,384 starts is the
 * range's end, where 2.1.3's increment wrapped the counter to 0: the next connect or bind to
 * port 0 failed with ERR_BUF (WEIR_ENOMEM from weir_tcp_connect: a test's first connect failed
 * once in CI) and, with 0015's count per port, read before the array. Without 0023 one of the
 * starts below lands there (the chance that none does is e^-18): ASan reports the read, or the
 * bind fails or gives a port below the range. */
START_TEST(test_ephemeral_port_from_every_start_is_in_range)
{
	unsigned first_seen = 0;

	for (int i = 0; i < 300000; i++) {
		struct tcp_pcb *pcb;

		tcp_init();
		pcb = tcp_new();
		ck_assert_ptr_nonnull(pcb);
		ck_assert_int_eq(tcp_bind(pcb, IP_ANY_TYPE, 0), ERR_OK);
		if (pcb->local_port < EPHEMERAL_FIRST || pcb->local_port >= EPHEMERAL_END)
			ck_abort_msg("start %d: ephemeral port %u out of [%u, %u)", i,
				     pcb->local_port, EPHEMERAL_FIRST, EPHEMERAL_END);
		first_seen += pcb->local_port == EPHEMERAL_FIRST;
		ck_assert_int_eq(tcp_close(pcb), ERR_OK);
	}
	/* The starts covered the range's end (the first port follows it, and the one before). */
	ck_assert_uint_gt(first_seen, 0);
}
END_TEST

#if WEIR_SHARDS
/* 0025: tcp_connect() asks weir__lwip_connect_port_ok about each ephemeral port. */
static unsigned port_hook_calls;

static int one_port_in_three(const struct tcp_pcb *pcb, u16_t port)
{
	port_hook_calls++;
	return pcb->remote_port == 9000 && port % 3 == 1;
}

static int no_port(const struct tcp_pcb *pcb, u16_t port)
{
	WEIR_UNUSED(pcb);
	WEIR_UNUSED(port);
	port_hook_calls++;
	return 0;
}

START_TEST(test_connect_port_hook_picks_accepted_ports)
{
	struct tcp_pcb *pcbs[300], *pcb;
	ip_addr_t ours, theirs;

	weir__lwip_connect_port_ok = one_port_in_three;
	for (int i = 0; i < 300; i++) {
		pcbs[i] = connect_to_9000();
		ck_assert_msg(pcbs[i]->local_port % 3 == 1, "connect %d took port %u", i,
			      pcbs[i]->local_port);
		ck_assert_uint_ge(pcbs[i]->local_port, EPHEMERAL_FIRST);
	}
	/* Every third port is taken: the hook saw about three per connect. */
	ck_assert_uint_ge(port_hook_calls, 300);
	ck_assert_uint_le(port_hook_calls, 3 * 300 + 3);
	for (int i = 0; i < 300; i++)
		tcp_abort(pcbs[i]);
	/* No port accepted: the connect fails instead of taking a refused port. */
	weir__lwip_connect_port_ok = no_port;
	port_hook_calls = 0;
	lwip_addrs(&ours, &theirs);
	pcb = tcp_new();
	ck_assert_ptr_nonnull(pcb);
	ck_assert_int_eq(tcp_connect(pcb, &theirs, 9000, NULL), ERR_BUF);
	ck_assert_uint_gt(port_hook_calls, EPHEMERAL_END - EPHEMERAL_FIRST - 1);
	ck_assert_int_eq(tcp_close(pcb), ERR_OK);
	weir__lwip_connect_port_ok = NULL;
}
END_TEST
#endif

/* --- 0032: one ACK per connection for a burst ------------------------------------------------ */

/* Queues on the device, without polling, the peer's segment of stream bytes
 * [k * OSEG, (k + 1) * OSEG), built in f (700 bytes). */
static void peer_inject_stream(uint8_t *f, uint32_t isn, unsigned k)
{
	uint8_t d[OSEG];
	size_t len;

	for (unsigned j = 0; j < OSEG; j++)
		d[j] = stream_byte(k * OSEG + j);
	len = peer_frame(f, FRAME_TCP_ACK, isn + 1 + k * OSEG, peer.ack, d, OSEG, NULL, 0);
	ck_assert_int_ge(memdev_inject(&md, f, len), 0);
}

/* Injects the peer's segment k for each k of ks, then polls once: one burst. */
static void peer_burst(uint32_t isn, const unsigned *ks, unsigned n)
{
	uint8_t f[8][700];

	ck_assert_uint_le(n, 8);
	for (unsigned i = 0; i < n; i++)
		peer_inject_stream(f[i], isn, ks[i]);
	md.ntx = 0;
	weir_stack_poll(st);
}

START_TEST(test_burst_acked_once_without_folding)
{
	/* Four in-order segments in one burst, then three out-of-order ones that make one SACK
	 * block: lwIP wanted two ACKs, then three; one of each is built, at the burst's end,
	 * naming everything (with 0032 off the transmit path folds the others away:
	 * tx_acks_folded counts them). */
	static const unsigned in_order[] = { 0, 1, 2, 3 }, past_hole[] = { 5, 6, 7 };
	const uint32_t isn = 44000;
	struct weir_stack_stats ss0, ss;
	struct frame_tcp_info t;
	uint32_t b[4][2];

	peer_connect_sack(40044, isn, -1);
	weir_stack_get_stats(st, &ss0);
	peer_burst(isn, in_order, 4);
	ck_assert_uint_eq(md.ntx, 1);
	ck_assert_int_eq(frame_tcp_parse(md.tx[0].data, md.tx[0].len, &t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 4 * OSEG);
	peer_burst(isn, past_hole, 3);
	ck_assert_uint_eq(md.ntx, 1);
	ck_assert_int_eq(frame_tcp_parse(md.tx[0].data, md.tx[0].len, &t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 4 * OSEG);
	ck_assert_uint_eq(sack_of(&t, b), 1);
	ck_assert_uint_eq(b[0][0], isn + 1 + 5 * OSEG);
	ck_assert_uint_eq(b[0][1], isn + 1 + 8 * OSEG);
	weir_stack_get_stats(st, &ss);
	ck_assert_uint_eq(ss.tx_acks_folded, ss0.tx_acks_folded);
	peer_send_stream(isn, 4 * OSEG, OSEG);
	check_stream(8 * OSEG);
}
END_TEST

START_TEST(test_burst_acks_name_every_new_block)
{
	/* Five holes open before the burst (blocks 1 3 5 7 9, the option holds 4 without
	 * timestamps), then a burst of five segments that each open a new block: 11 13 15 17 19.
	 * An ACK built only at the end would name 19 17 15 13 and never 11: the sender would
	 * not learn that 11 arrived. Each time a new block would push a block the owed ACK names
	 * out of the option, that ACK goes first. */
	static const unsigned burst[] = { 11, 13, 15, 17, 19 };
	const uint32_t isn = 45000;
	struct frame_tcp_info t;
	uint32_t b[4][2];
	int named[20] = { 0 };

	peer_connect_sack(40045, isn, -1);
	for (unsigned k = 1; k <= 9; k += 2)
		peer_send_stream(isn, k * OSEG, OSEG);
	peer_burst(isn, burst, 5);
	ck_assert_uint_ge(md.ntx, 2);
	ck_assert_uint_le(md.ntx, 5);
	for (unsigned i = 0; i < md.ntx; i++) {
		unsigned n;

		ck_assert_int_eq(frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t), 0);
		ck_assert_uint_eq(t.ack, isn + 1);
		n = sack_of(&t, b);
		for (unsigned j = 0; j < n; j++)
			if (b[j][1] - b[j][0] == OSEG && (b[j][0] - isn - 1) / OSEG < 20)
				named[(b[j][0] - isn - 1) / OSEG] = 1;
	}
	for (unsigned i = 0; i < 5; i++)
		ck_assert_msg(named[burst[i]], "block %u named in no ACK of the burst", burst[i]);
}
END_TEST

START_TEST(test_burst_dupacks_without_sack_all_sent)
{
	/* A peer without SACK counts duplicate ACKs: three segments past a hole in one burst get
	 * three duplicate ACKs, as before 0032. */
	static const unsigned past_hole[] = { 1, 2, 3 };
	const uint32_t isn = 46000;
	struct frame_tcp_info t;

	app.recved = 1;
	listen_on_80();
	peer_connect(40046, isn);
	peer_burst(isn, past_hole, 3);
	ck_assert_uint_eq(md.ntx, 3);
	for (unsigned i = 0; i < md.ntx; i++) {
		ck_assert_int_eq(frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t), 0);
		ck_assert_uint_eq(t.ack, isn + 1);
	}
}
END_TEST

START_TEST(test_burst_owed_ack_of_reset_flow_dropped)
{
	/* A segment makes the flow owe an ACK, then a RST in the same burst frees it: nothing is
	 * sent for it at the end (ASan would see a freed pcb used). */
	const uint32_t isn = 47000;
	uint8_t f[2][700] = { { 0 } };
	size_t len;

	peer_connect_sack(40047, isn, -1);
	peer_inject_stream(f[0], isn, 1);
	len = peer_frame(f[1], FRAME_TCP_RST, isn + 1, 0, NULL, 0, NULL, 0);
	ck_assert_int_ge(memdev_inject(&md, f[1], len < 60 ? 60 : len), 0); /* Ethernet's least */
	md.ntx = 0;
	weir_stack_poll(st);
	ck_assert_ptr_null(app.pcb);
	ck_assert_uint_eq(md.ntx, 0);
}
END_TEST

/* --- 0027: an ACK the peer may be waiting for goes again ------------------------------------ */

/* The pure ACKs to the peer in md.tx[from..]: how many; the last one in *last. */
static int pure_acks_since(unsigned from, struct frame_tcp_info *last)
{
	int n = 0;

	for (unsigned i = from; i < md.ntx; i++) {
		struct frame_tcp_info x;

		if (frame_tcp_parse(md.tx[i].data, md.tx[i].len, &x) == 0 && x.dport == peer.port &&
		    x.flags == FRAME_TCP_ACK && x.len == 0) {
			*last = x;
			n++;
		}
	}
	return n;
}

/* Polls 1 ms at a time until a pure ACK goes, at most 1 s; fails unless one went within max_ms
 * polls (a loaded machine makes a poll longer, never shorter). Returns it. */
static struct frame_tcp_info ack_within(long max_ms)
{
	struct frame_tcp_info t = { 0 };
	long waited = 0;

	md.ntx = 0;
	while (pure_acks_since(0, &t) == 0 && waited < 1000) {
		poll_for_ms(1);
		waited++;
	}
	ck_assert_msg(pure_acks_since(0, &t) > 0, "no ACK within %ld ms", waited);
	ck_assert_msg(waited <= max_ms, "the ACK waited %ld ms", waited);
	return t;
}

START_TEST(test_sack_ack_sent_again_when_peer_goes_quiet)
{
	/* stack/patches/0027. The peer's first segment is lost and the next two arrive: lwIP
	 * acknowledges them at once with a SACK block. That ACK is lost too, and nothing more
	 * comes from the peer (a sender whose window ran out: Linux then waits for its 200 ms
	 * RTO). The ACK goes again after TCP_ACK_RESEND_MS, then after twice and four times that,
	 * and no more while the peer is quiet. A segment from the peer starts the count again;
	 * once the hole is filled, the ACK carries no SACK block (it goes again only while
	 * 0028's quick ACKs are due). */
	struct frame_tcp_info t;
	uint32_t b[4][2];
	const uint32_t isn = 38000;

	peer_connect_sack(40038, isn, -1);
	peer_send_stream(isn, 1000, 1000);
	peer_send_stream(isn, 2000, 1000);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1);
	for (int k = 0; k < TCP_ACK_RESEND_MAX; k++) {
		t = ack_within(((long)TCP_ACK_RESEND_MS << k) + 15);
		ck_assert_uint_eq(t.ack, isn + 1);
		ck_assert_uint_eq(sack_of(&t, b), 1);
		ck_assert_uint_eq(b[0][0], isn + 1 + 1000);
		ck_assert_uint_eq(b[0][1], isn + 1 + 3000);
	}
	md.ntx = 0;
	poll_for_ms(4 * ((long)TCP_ACK_RESEND_MS << TCP_ACK_RESEND_MAX));
	ck_assert_int_eq(pure_acks_since(0, &t), 0);
#if TCP_ACK_RESEND_MS
	ck_assert_uint_eq(app.pcb->acks_resent, TCP_ACK_RESEND_MAX);
#endif
	/* The peer speaks: a segment past the hole, acknowledged with the SACK block; that ACK
	 * goes again too. */
	peer_send_stream(isn, 3000, 1000);
	t = ack_within((long)TCP_ACK_RESEND_MS + 15);
	ck_assert_uint_eq(sack_of(&t, b), 1);
	ck_assert_uint_eq(b[0][1], isn + 1 + 4000);
	/* The hole filled: everything acknowledged, no SACK block. With 0028 a loss was seen
	 * lately (quick ACKs still to go), so this ACK may go again too, as often as the others;
	 * every copy says the same. */
	peer_send_stream(isn, 0, 1000);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 4000);
	ck_assert_uint_eq(sack_of(&t, b), 0);
	md.ntx = 0;
	poll_for_ms(4 * ((long)TCP_ACK_RESEND_MS << TCP_ACK_RESEND_MAX));
	ck_assert_int_le(pure_acks_since(0, &t), TCP_ACK_RESEND_MAX);
	for (unsigned i = 0; i < md.ntx; i++) {
		ck_assert_int_eq(frame_tcp_parse(md.tx[i].data, md.tx[i].len, &t), 0);
		ck_assert_uint_eq(t.ack, isn + 1 + 4000);
		ck_assert_uint_eq(sack_of(&t, b), 0);
	}
	check_stream(4000);
}
END_TEST

START_TEST(test_window_reopening_ack_sent_again)
{
	/* stack/patches/0027. The application reads nothing until lwIP's window is below one
	 * MSS, then reads it all: the ACK that reopens the window is lost, and the peer, stopped
	 * on the closed window, sends nothing (Linux then waits for its persist timer, 200 ms or
	 * more). The ACK goes again after TCP_ACK_RESEND_MS. */
	struct frame_tcp_info t;
	const uint32_t isn = 39000;
	const size_t len = 65535 - 1000;

	peer_connect_sack(40039, isn, -1);
	app.recved = 0;
	peer_send_stream_big(isn, 0, len);
	poll_for_ms(3 * CONFIG_LWIP_TCP_TMR_INTERVAL); /* the delayed ACK */
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + len);
	ck_assert_uint_lt(t.wnd, app.pcb->mss);
	md.ntx = 0;
	tcp_recved(app.pcb, (u16_t)len);
	ck_assert_int_ge(last_pure_ack(&t), 0); /* the update: lost on the way */
	ck_assert_uint_gt(t.wnd, 60000);
	t = ack_within((long)TCP_ACK_RESEND_MS + 15);
	ck_assert_uint_eq(t.ack, isn + 1 + len);
	ck_assert_uint_gt(t.wnd, 60000);
	/* Its answer: the peer's next segment; the window stays open, nothing goes again. */
	peer_send_stream(isn, len, 1000);
	md.ntx = 0;
	poll_for_ms(4 * ((long)TCP_ACK_RESEND_MS << TCP_ACK_RESEND_MAX));
	ck_assert_int_le(pure_acks_since(0, &t), 1); /* at most the delayed ACK of that segment */
	check_stream(len + 1000);
}
END_TEST

START_TEST(test_quick_acks_after_a_hole)
{
	/* stack/patches/0028. Without a loss, lwIP acknowledges every second in-order segment and
	 * leaves a lone one to the fast timer's tick. After a hole (segment 1 before segment 0),
	 * the next TCP_QUICKACKS in-order segments are each acknowledged at once, as Linux's
	 * quick-ACK mode does; then the delayed ACK is back. */
	struct frame_tcp_info t;
	const uint32_t isn = 41000;
	uint32_t off = 0;

	peer_connect_sack(40041, isn, -1);
	peer_send_stream(isn, 0, 500);
	off = 500;
	md.ntx = 0;
	peer_send_stream(isn, off, 500); /* a second in-order segment: acknowledged */
	ck_assert_int_ge(last_pure_ack(&t), 0);
	off += 500;
	md.ntx = 0;
	peer_send_stream(isn, off, 500); /* a lone one: its ACK waits for the tick */
	ck_assert_int_lt(last_pure_ack(&t), 0);
	off += 500;
	poll_for_ms(3 * CONFIG_LWIP_TCP_TMR_INTERVAL);
	/* The hole: the later segment first, then the one before it. */
	peer_send_stream(isn, off + 500, 500);
	peer_send_stream(isn, off, 500);
	off += 1000;
	/* The hosted profile's 16 (a build with the option at 0 fails here, as it should). */
	for (int k = 0; k < (TCP_QUICKACKS > 0 ? TCP_QUICKACKS : 16); k++) {
		md.ntx = 0;
		peer_send_stream(isn, off, 500);
		off += 500;
		ck_assert_msg(last_pure_ack(&t) >= 0,
			      "in-order segment %d after the hole not ACKed at once", k);
		ck_assert_uint_eq(t.ack, isn + 1 + off);
	}
	md.ntx = 0;
	peer_send_stream(isn, off, 500);
	off += 500;
	ck_assert_int_lt(last_pure_ack(&t), 0); /* delayed again */
	poll_for_ms(3 * CONFIG_LWIP_TCP_TMR_INTERVAL);
	check_stream(off);
#if TCP_ACK_RESEND_MS
	/* And an ACK while quick ACKs are still due goes again when the peer is quiet (0027):
	 * a sender recovering on a small window may have sent its last segment. */
	peer_send_stream(isn, off + 500, 500);
	peer_send_stream(isn, off, 500);
	off += 1000;
	t = ack_within((long)TCP_ACK_RESEND_MS + 15);
	ck_assert_uint_eq(t.ack, isn + 1 + off);
	ck_assert_uint_ge(app.pcb->acks_resent, 1);
#endif
}
END_TEST

/* --- 0029: D-SACK ---------------------------------------------------------------------------- */

START_TEST(test_dsack_reports_duplicate_once)
{
	/* stack/patches/0029. A segment that was received before (the sender timed out after its
	 * ACKs were lost) is answered with a D-SACK block naming it, first in the SACK option
	 * (RFC 2883), so the sender can undo its cwnd cut; the next ACK does not repeat it. A
	 * segment whose front was received before reports that front. A hole's SACK block
	 * follows the D-SACK block. */
	struct frame_tcp_info t;
	uint32_t b[4][2];
	const uint32_t isn = 42000;

	peer_connect_sack(40042, isn, -1);
	peer_send_stream(isn, 0, 1000);
	md.ntx = 0;
	peer_send_stream(isn, 0, 1000); /* again */
	ck_assert_msg(last_pure_ack(&t) >= 0, "no ACK for the duplicate");
	ck_assert_uint_eq(t.ack, isn + 1 + 1000);
	ck_assert_uint_eq(sack_of(&t, b), 1);
	ck_assert_uint_eq(b[0][0], isn + 1);
	ck_assert_uint_eq(b[0][1], isn + 1 + 1000);
	/* Reported once: the next ACK has no D-SACK block. */
	peer_send_stream(isn, 1000, 1000);
	peer_send_stream(isn, 2000, 1000);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 3000);
	ck_assert_uint_eq(sack_of(&t, b), 0);
	/* A hole at 3000, data past it, then a segment whose front repeats 2500-3000. */
	peer_send_stream(isn, 4000, 1000);
	md.ntx = 0;
	peer_send_stream(isn, 2500, 1000);
	ck_assert_int_ge(last_pure_ack(&t), 0);
	ck_assert_uint_eq(t.ack, isn + 1 + 3500);
	ck_assert_uint_eq(sack_of(&t, b), 2);
	ck_assert_uint_eq(b[0][0], isn + 1 + 2500);
	ck_assert_uint_eq(b[0][1], isn + 1 + 3000);
	ck_assert_uint_eq(b[1][0], isn + 1 + 4000);
	ck_assert_uint_eq(b[1][1], isn + 1 + 5000);
#if LWIP_TCP_DSACK
	ck_assert_uint_eq(app.pcb->dsacks_sent, 2);
#endif
	peer_send_stream(isn, 3500, 500);
	check_stream(5000);
}
END_TEST

/* --- 0030: tcp_write after a SYN-ACK that made segments smaller ------------------------------ */

START_TEST(test_write_after_synack_shrinks_mss)
{
	/* stack/patches/0030. An application writes while its connection is in SYN_SENT: lwIP
	 * sizes the segments by the MSS alone (536 before any option). The SYN-ACK brings a window
	 * of 558 bytes, so new segments are at most 279. lwIP 2.1.3 asserted "mss_local is too
	 * small" on the next write (found by fuzz-tcp: a remote crash). Now the write is taken,
	 * in new segments no larger than 279 bytes, and nothing queued is lost. */
	static uint8_t data[15 * 536 + 456];
	struct tcp_pcb *pcb = connect_to_9000();
	uint8_t f[128];
	size_t queued = 0, first = 15 * 536 + 456;
	struct frame_tcp_spec sp = { .smac = peer_mac,
				     .dmac = our_mac,
				     .sip_be = peer_ip.v4,
				     .dip_be = our_ip.v4,
				     .sport = 9000,
				     .dport = pcb->local_port,
				     .seq = 77000,
				     .ack = pcb->snd_nxt,
				     .flags = FRAME_TCP_SYN | FRAME_TCP_ACK,
				     .wnd = 558 };

	ck_assert_int_eq(pcb->state, SYN_SENT);
	ck_assert_uint_eq(pcb->mss, 536);
	ck_assert_int_eq(tcp_write(pcb, data, (u16_t)first, TCP_WRITE_FLAG_COPY), ERR_OK);
	inject(f, frame_tcp(f, &sp));
	ck_assert_int_eq(pcb->state, ESTABLISHED);
	ck_assert_uint_eq(pcb->snd_wnd_max, 558);
	ck_assert_int_eq(tcp_write(pcb, data, 600, TCP_WRITE_FLAG_COPY), ERR_OK);
	for (struct tcp_seg *q = pcb->unacked; q != NULL; q = q->next)
		queued += q->len;
	for (struct tcp_seg *q = pcb->unsent; q != NULL; q = q->next) {
		queued += q->len;
		if (TCP_SEQ_GEQ(lwip_ntohl(q->tcphdr->seqno), pcb->snd_lbb - 600))
			ck_assert_uint_le(q->len, 558 / 2); /* the new data */
	}
	ck_assert_uint_eq(queued, first + 600);
	tcp_abort(pcb);
}
END_TEST

Suite *weir_test_lwipfix_suite(void)
{
	Suite *s = suite_create("lwipfix");
	TCase *tc = tcase_create("patches");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_synack_with_data_in_syn_rcvd_is_not_data);
	tcase_add_test(tc, test_syn_in_established_is_not_data);
	tcase_add_test(tc, test_ooseq_segment_past_window_is_trimmed);
	tcase_add_test(tc, test_ooseq_longer_retransmission_is_trimmed);
	tcase_add_test(tc, test_ooseq_tail_appends_match_walk);
	tcase_add_test(tc, test_ooseq_drain_links_without_cat);
	tcase_add_test(tc, test_ooseq_limit_cuts_and_keeps_tail);
	tcase_add_test(tc, test_seq_compare_antisymmetric);
	tcase_add_test(tc, test_ack_half_sequence_space_away_leaves_window);
	tcase_add_test(tc, test_transfer_across_sequence_wrap);
	tcase_add_test(tc, test_dupacks_between_data_segments_fast_retransmit);
	tcase_add_test(tc, test_data_segments_alone_are_not_dupacks);
	tcase_add_test(tc, test_unacked_last_follows_the_queue);
	suite_add_tcase(s, tc);

	TCase *tl = tcase_create("recovery");
	tcase_add_checked_fixture(tl, setup, teardown);
	tcase_add_test(tl, test_sack_single_loss_repaired_in_one_rtt);
	tcase_add_test(tl, test_sack_three_holes_one_episode);
	tcase_add_test(tl, test_sack_lost_retransmission_falls_back_to_rto);
	tcase_add_test(tl, test_sack_lying_blocks_ignored);
	tcase_add_test(tl, test_rto_first_sample_rfc6298);
	tcase_add_test(tl, test_tlp_lost_tail_repaired_before_rto);
	tcase_add_test(tl, test_tlp_in_recovery_sends_held_retransmission);
	tcase_add_test(tl, test_tlp_list_holds_only_pcbs_that_may_probe);
	tcase_add_test(tl, test_segment_filling_gap_acked_at_once);
	tcase_add_test(tl, test_rto_keeps_queued_retransmissions_in_order);
	tcase_add_test(tl, test_sack_ack_sent_again_when_peer_goes_quiet);
	tcase_add_test(tl, test_window_reopening_ack_sent_again);
	tcase_add_test(tl, test_quick_acks_after_a_hole);
	tcase_add_test(tl, test_dsack_reports_duplicate_once);
	suite_add_tcase(s, tl);

	TCase *te = tcase_create("ports");
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_set_timeout(te, 60); /* 300,000 pcbs: 0.4 s, 8 s under ASan */
	tcase_add_test(te, test_ephemeral_port_from_every_start_is_in_range);
#if WEIR_SHARDS
	tcase_add_test(te, test_connect_port_hook_picks_accepted_ports);
#endif
	suite_add_tcase(s, te);

#if TCP_ACK_DEFER
	TCase *ta = tcase_create("ackdefer");
	tcase_add_checked_fixture(ta, setup, teardown);
	tcase_add_test(ta, test_burst_acked_once_without_folding);
	tcase_add_test(ta, test_burst_acks_name_every_new_block);
	tcase_add_test(ta, test_burst_dupacks_without_sack_all_sent);
	tcase_add_test(ta, test_burst_owed_ack_of_reset_flow_dropped);
	suite_add_tcase(s, ta);
#endif

	TCase *tw = tcase_create("window");
	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_add_test(tw, test_window_shrink_on_same_seq_and_ack_is_taken);
	tcase_add_test(tw, test_zero_window_gets_probes_not_retransmissions);
	tcase_add_test(tw, test_reopened_window_resends_in_flight_data_at_once);
	tcase_add_test(tw, test_window_from_ack_below_una_ignored);
	tcase_add_test(tw, test_write_after_synack_shrinks_mss);
	suite_add_tcase(s, tw);

	TCase *tr = tcase_create("short-frames");
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_add_test(tr, test_short_frames_from_driver_never_reach_lwip);
	tcase_add_test(tr, test_short_frames_on_link_dropped_or_padded);
	suite_add_tcase(s, tr);

	TCase *tb = tcase_create("super-frames");
	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_add_test(tb, test_super_segment_in_window_taken_whole);
	tcase_add_test(tb, test_super_segment_past_window_is_trimmed);
	tcase_add_test(tb, test_l4_checksum_skipped_only_for_flagged_frames);
	suite_add_tcase(s, tb);

	TCase *tt = tcase_create("tx");
	tcase_add_checked_fixture(tt, setup_tso, teardown);
	tcase_add_test(tt, test_tx_segments_leave_as_one_super_frame);
	tcase_add_test(tt, test_tx_outside_a_burst_frames_leave_one_by_one);
	tcase_add_test(tt, test_tx_short_segment_ends_a_super_frame);
	tcase_add_test(tt, test_tx_later_ack_replaces_earlier_one_in_a_burst);
	tcase_add_test(tt, test_tx_sack_acks_folded_when_blocks_covered);
	tcase_add_test(tt, test_tx_queue_dropped_when_device_takes_nothing);
	tcase_add_test(tt, test_arp_queue_copies_data_written_without_copy);
	tcase_add_test(tt, test_tx_segment_of_many_pieces_leaves_as_a_copy);
	suite_add_tcase(s, tt);
#if TCP_PCB_HASH
	TCase *tp = tcase_create("pcbs");
	tcase_add_checked_fixture(tp, setup, teardown);
	tcase_add_test(tp, test_pcbs_colliding_tuples_each_reach_their_own);
	tcase_add_test(tp, test_pcbs_limit_refuses_new_and_evicts_none);
	tcase_add_test(tp, test_pcbs_time_wait_bounded_oldest_goes);
	tcase_add_test(tp, test_pcbs_connect_passes_or_takes_over_time_wait);
	tcase_add_test(tp, test_pcbs_cookie_returned_at_the_limit_is_refused);
	tcase_add_test(tp, test_fasttmr_sends_delayed_ack_and_redelivers_refused_data);
#if TCP_SLOW_IDLE_TICKS > 1
	tcase_add_test(tp, test_slowtmr_visits_idle_pcbs_once_in_idle_ticks);
#endif
	suite_add_tcase(s, tp);
#endif
	return s;
}
