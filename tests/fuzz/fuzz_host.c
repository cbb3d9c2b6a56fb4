/* fuzz_host.c - the fuzz harnesses' world: virtual clock, fixed ISNs, an in-memory NIC that checks
 * every frame the stack sends, and one life of a weir stack per input (see fuzz_host.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/ip4_frag.h"
#include "lwip/memp.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"

#include <weir/clock.h>
#include <weir/error.h>
#include <weir/fiber.h>
#include <weir/flow.h>
#include <weir/log.h>
#include <weir/loop.h>
#include <weir/netdev.h>
#include <weir/stack.h>
#include <weir/udp.h>

#include "fuzz_host.h"

const uint8_t fz_peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t fz_stack_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

#define FZ_MAX_FRAME 1514 /* MTU 1500 + Ethernet header */
/* Loop turns without reaching idle before we call it a livelock. */
#define FZ_MAX_TURNS 100000
/* The handlers' fiber stacks: small, so a life of the stack stays cheap. */
#define FZ_FIBER_STACK (64 * 1024)

/* --- the NIC ---------------------------------------------------------------------------------- */

struct fz_frame {
	struct weir_frame f;
	struct fz_frame *next;
};

struct fz_dev {
	struct weir_netdev nd;
	struct fz_frame *head, *tail; /* injected, not yet received */
	unsigned queued, held;
	uint64_t tx_frames;
};

static struct fz_dev dev;

static struct {
	struct weir_loop *loop;
	struct weir_stack *stack;
	struct weir_scope *scope;
	struct weir_listener *listener;
	uint64_t now_ns, end_ns;
	uint32_t isn_base;
	uint8_t config;
	uint8_t gain; /* header byte 5: echo gain (fuzz_host.h) */
	fz_tx_hook hook;
	int up;
	int trace;   /* WEIR_FUZZ_TRACE set: print every frame in and out */
	int closing; /* inside weir_stack_close(): the clock moves when read */
	int connected[FZ_NCONN_SETUP];
	unsigned memp_base[MEMP_MAX];
	uint32_t fibers_base;
} W;

void fz_fatal(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz: invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* Logs would cost more than the stack itself and say nothing the fuzzer can use. */
void weir_log_sink(enum weir_log_level level, const char *line, size_t len)
{
	WEIR_UNUSED(level);
	WEIR_UNUSED(line);
	WEIR_UNUSED(len);
}

static int fd_rx_burst(struct weir_netdev *nd, struct weir_frame **out, int n)
{
	int got = 0;

	WEIR_UNUSED(nd);
	while (got < n && dev.head != NULL) {
		struct fz_frame *fr = dev.head;

		dev.head = fr->next;
		if (dev.head == NULL)
			dev.tail = NULL;
		dev.queued--;
		dev.held++;
		out[got++] = &fr->f;
	}
	return got;
}

static void fd_release(struct weir_netdev *nd, struct weir_frame *f)
{
	struct fz_frame *fr = WEIR_CONTAINER_OF(f, struct fz_frame, f);

	WEIR_UNUSED(nd);
	if (dev.held == 0)
		fz_fatal("a frame was released twice (or one never handed out)");
	dev.held--;
	free(f->data);
	free(fr);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint16_t fz_csum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += get16(p);
	if (len)
		sum += (uint32_t)p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, size_t l4len)
{
	uint32_t s = 0;

	for (int i = 12; i < 20; i += 2)
		s += get16(ip + i);
	return s + proto + (uint32_t)l4len;
}

/* One line per frame for WEIR_FUZZ_TRACE=1 (reproducing a crash by hand). */
static void trace(const char *dir, const uint8_t *fr, size_t len)
{
	fprintf(stderr, "%8.3f %s %4zu", (double)W.now_ns / 1e9, dir, len);
	if (len >= 34 && get16(fr + 12) == 0x0800) {
		const uint8_t *ip = fr + 14, *l4 = ip + (ip[0] & 15) * 4;

		fprintf(stderr, " ip proto %u frag 0x%04x", ip[9], get16(ip + 6));
		if (ip[9] == 6 && (size_t)(l4 - fr) + 20 <= len) {
			size_t thl = (size_t)(l4[12] >> 4) * 4;

			fprintf(stderr, " tcp %u > %u seq %u ack %u flags 0x%02x wnd %u", get16(l4),
				get16(l4 + 2), ((uint32_t)get16(l4 + 4) << 16 | get16(l4 + 6)),
				((uint32_t)get16(l4 + 8) << 16 | get16(l4 + 10)), l4[13],
				get16(l4 + 14));
			/* Options too: loss recovery reads SACK blocks and timestamps. */
			if (thl > 20 && (size_t)(l4 - fr) + thl <= len) {
				fputs(" opts ", stderr);
				for (size_t i = 20; i < thl; i++)
					fprintf(stderr, "%02x", l4[i]);
			}
		}
	} else if (len >= 14) {
		fprintf(stderr, " type 0x%04x", get16(fr + 12));
	}
	fputc('\n', stderr);
}

/* The oracle on the transmit side: whatever the input did, what the stack puts on the wire must
 * be a well-formed frame with correct checksums. */
static void check_tx(const uint8_t *fr, size_t len)
{
	if (len < WEIR_ETH_HLEN || len > FZ_MAX_FRAME)
		fz_fatal("stack sent a %zu-byte frame", len);
	if (memcmp(fr + 6, fz_stack_mac, 6) != 0)
		fz_fatal("stack sent a frame from another MAC");
	if (get16(fr + 12) == 0x0806) {
		if (len < 42 || get16(fr + 14) != 1 || get16(fr + 16) != 0x0800 || fr[18] != 6 ||
		    fr[19] != 4 || (get16(fr + 20) != 1 && get16(fr + 20) != 2))
			fz_fatal("stack sent a malformed ARP frame (%zu bytes)", len);
		return;
	}
	if (get16(fr + 12) != 0x0800)
		fz_fatal("stack sent ethertype 0x%04x", get16(fr + 12));
	const uint8_t *ip = fr + WEIR_ETH_HLEN;
	size_t iplen = len - WEIR_ETH_HLEN, hl, tot;

	if (iplen < 20 || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
		fz_fatal("stack sent a bad IPv4 header (%zu bytes, first byte 0x%02x)", iplen,
			 ip[0]);
	hl = (size_t)(ip[0] & 15) * 4;
	tot = get16(ip + 2);
	if (tot < hl || tot > iplen || hl > iplen)
		fz_fatal("stack sent IPv4 total length %zu, header %zu, in %zu bytes", tot, hl,
			 iplen);
	if (fz_csum(ip, hl, 0) != 0)
		fz_fatal("stack sent a bad IPv4 header checksum");
	if (get16(ip + 6) & 0x3fff)
		return; /* a fragment: the transport checksum spans the others */
	const uint8_t *l4 = ip + hl;
	size_t l4len = tot - hl;

	switch (ip[9]) {
	case 6:
		if (l4len < 20 || (size_t)(l4[12] >> 4) * 4 < 20 ||
		    (size_t)(l4[12] >> 4) * 4 > l4len)
			fz_fatal("stack sent a bad TCP header (%zu bytes, offset %u)", l4len,
				 l4[12] >> 4);
		if (fz_csum(l4, l4len, pseudo_sum(ip, 6, l4len)) != 0)
			fz_fatal("stack sent a bad TCP checksum");
		break;
	case 17:
		if (l4len < 8 || get16(l4 + 4) != l4len)
			fz_fatal("stack sent a bad UDP length");
		if (get16(l4 + 6) != 0 && fz_csum(l4, l4len, pseudo_sum(ip, 17, l4len)) != 0)
			fz_fatal("stack sent a bad UDP checksum");
		break;
	case 1:
		if (l4len < 8 || fz_csum(l4, l4len, 0) != 0)
			fz_fatal("stack sent a bad ICMP message (%zu bytes)", l4len);
		break;
	default:
		fz_fatal("stack sent IP protocol %u", ip[9]);
	}
}

static int fd_tx_burst(struct weir_netdev *nd, const struct weir_tx_frame *frames, int n)
{
	static uint8_t buf[FZ_MAX_FRAME];

	WEIR_UNUSED(nd);
	for (int i = 0; i < n; i++) {
		size_t len = 0;

		if (frames[i].len > sizeof(buf))
			fz_fatal("stack sent %zu bytes, more than MTU + header", frames[i].len);
		for (unsigned k = 0; k < frames[i].iovcnt; k++) {
			if (len + frames[i].iov[k].len > sizeof(buf))
				fz_fatal("gather list longer than the frame");
			memcpy(buf + len, frames[i].iov[k].base, frames[i].iov[k].len);
			len += frames[i].iov[k].len;
		}
		if (len != frames[i].len)
			fz_fatal("gather list of %zu bytes for a %zu-byte frame", len,
				 frames[i].len);
		if (W.trace)
			trace("out", buf, len);
		check_tx(buf, len);
		dev.tx_frames++;
		if (W.hook != NULL)
			W.hook(buf, len);
	}
	return n;
}

static void fd_get_caps(const struct weir_netdev *nd, struct weir_netdev_caps *caps)
{
	WEIR_UNUSED(nd);
	memcpy(caps->mac, fz_stack_mac, 6);
	caps->mtu = 1500;
	caps->fd = -1;
	caps->poll_mode = 1;
}

static void fd_close(struct weir_netdev *nd)
{
	WEIR_UNUSED(nd);
}

static const struct weir_netdev_ops fz_dev_ops = {
	.rx_burst = fd_rx_burst,
	.release = fd_release,
	.tx_burst = fd_tx_burst,
	.get_caps = fd_get_caps,
	.close = fd_close,
};

static void dev_inject(const uint8_t *data, size_t len)
{
	struct fz_frame *fr;
	size_t cap = len < WEIR_ETH_MIN_FRAME ? WEIR_ETH_MIN_FRAME : len;

	/* What every weir driver does with what the wire gives it (netdev.h). */
	if (W.trace)
		trace("in ", data, len);
	if (len < WEIR_ETH_HLEN || len > FZ_MAX_FRAME)
		return;
	fr = calloc(1, sizeof(*fr));
	if (fr == NULL || (fr->f.data = calloc(1, cap)) == NULL)
		fz_fatal("out of memory");
	memcpy(fr->f.data, data, len);
	fr->f.len = (uint32_t)cap;
	fr->f.cap = (uint32_t)cap;
	fr->f.dev = &dev.nd;
	if (dev.tail != NULL)
		dev.tail->next = fr;
	else
		dev.head = fr;
	dev.tail = fr;
	dev.queued++;
}

static void dev_drop_queued(void)
{
	while (dev.head != NULL) {
		struct fz_frame *fr = dev.head;

		dev.head = fr->next;
		free(fr->f.data);
		free(fr);
	}
	dev.tail = NULL;
	dev.queued = 0;
}

/* --- clock and ISN overrides (linked with -Wl,--wrap) ----------------------------------------- */

uint64_t __wrap_weir_clock_now_ns(void)
{
	/* weir_stack_close() waits for lwIP's TCP timer by watching the clock: while it closes,
	 * time moves 1 ms per reading (deterministically), or it would wait forever. */
	if (W.closing)
		W.now_ns += WEIR_NS_PER_MS;
	return W.now_ns;
}

uint32_t fz_isn(uint16_t local_port, uint16_t remote_port)
{
	return W.isn_base + ((uint32_t)local_port << 16) + remote_port;
}

u32_t __wrap_weir__lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
				const ip_addr_t *remote_ip, u16_t remote_port);
u32_t __wrap_weir__lwip_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
				const ip_addr_t *remote_ip, u16_t remote_port)
{
	WEIR_UNUSED(local_ip);
	WEIR_UNUSED(remote_ip);
	return fz_isn(local_port, remote_port);
}

void fz_set_tx_hook(fz_tx_hook hook)
{
	W.hook = hook;
}

/* --- frame builders --------------------------------------------------------------------------- */

static size_t put_eth(uint8_t *buf, const uint8_t dst[6], uint16_t type)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, fz_peer_mac, 6);
	put16(buf + 12, type);
	return WEIR_ETH_HLEN;
}

size_t fz_build_arp(uint8_t *buf, uint16_t op, const uint8_t sha[6], uint32_t sip,
		    const uint8_t tha[6], uint32_t tip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *a = buf + put_eth(buf, op == 1 ? bcast : fz_stack_mac, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, sha, 6);
	put32(a + 14, sip);
	memcpy(a + 18, tha, 6);
	put32(a + 24, tip);
	return WEIR_ETH_HLEN + 28;
}

size_t fz_build_tcp(uint8_t *buf, const struct fz_tcp_seg *s)
{
	uint8_t *ip = buf + put_eth(buf, fz_stack_mac, 0x0800);
	uint8_t *th = ip + 20;
	size_t optpad = (s->optlen + 3) & ~(size_t)3, thl = 20 + optpad, tot = 20 + thl + s->paylen;
	uint16_t c;

	memset(ip, 0, 20 + thl);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)tot);
	put16(ip + 4, 1);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 6;
	put32(ip + 12, FZ_PEER_IP);
	put32(ip + 16, FZ_STACK_IP);
	put16(ip + 10, fz_csum(ip, 20, 0));
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)((s->doff_raw ? s->doff_raw & 15 : thl / 4) << 4);
	th[13] = s->flags;
	put16(th + 14, s->wnd);
	put16(th + 18, s->urp);
	if (s->optlen)
		memcpy(th + 20, s->opts, s->optlen);
	if (s->paylen)
		memcpy(th + thl, s->payload, s->paylen);
	c = fz_csum(th, thl + s->paylen, pseudo_sum(ip, 6, thl + s->paylen));
	put16(th + 16, s->bad_csum ? (uint16_t)(c ^ 0x5a5a) : c);
	return WEIR_ETH_HLEN + tot;
}

/* --- running ---------------------------------------------------------------------------------- */

static void run_idle(void)
{
	for (unsigned turns = 0;; turns++) {
		int n = weir_loop_run_once(W.loop, 0);

		if (n < 0)
			fz_fatal("loop turn failed: %s", weir_strerror(n));
		if (n == 0)
			return;
		if (turns == FZ_MAX_TURNS)
			fz_fatal("no idle after %u loop turns: livelock", turns);
	}
}

void fz_queue(const uint8_t *frame, size_t len)
{
	dev_inject(frame, len);
}

void fz_rx(const uint8_t *frame, size_t len)
{
	dev_inject(frame, len);
	run_idle();
}

uint64_t fz_delta_ms(uint8_t code)
{
	if (code < 128)
		return (uint64_t)code * 10;
	if (code < 192)
		return (uint64_t)(code - 127) * 1000;
	return (uint64_t)(code - 191) * 10000;
}

void fz_advance_ms(uint64_t ms)
{
	uint64_t step = (uint64_t)TCP_TMR_INTERVAL * WEIR_NS_PER_MS;
	uint64_t left = ms * WEIR_NS_PER_MS;

	if (W.now_ns + left > W.end_ns)
		left = W.end_ns - W.now_ns;
	while (left > 0) {
		uint64_t d = left < step ? left : step;

		W.now_ns += d;
		left -= d;
		run_idle();
	}
}

/* --- the applications on the stack ------------------------------------------------------------ */

static struct weir_flow_opts flow_opts(void)
{
	struct weir_flow_opts o = { 0 };

	if (W.config & FZ_CFG_KEEPALIVE)
		o.keepalive = (struct weir_keepalive){ .after_ms = 5000,
						       .interval_ms = 1000,
						       .probes = 3 };
	if (W.config & FZ_CFG_USER_TIMEOUT)
		o.user_timeout_ms = 3000;
	o.nodelay = (W.config & FZ_CFG_NODELAY) != 0;
	o.fin_wait_timeout_ms = 20000;
	return o;
}

/* Echoes what the peer sends, 2^gain times over; the variants (zero-copy, acknowledged writes,
 * half-close) come from the input's config byte. Returns when the peer is done or the flow
 * failed. */
static void echo(struct weir_flow *f)
{
	uint8_t buf[4096];	     /* per fiber: the three echoes interleave */
	struct weir_iov iov[1 << 7]; /* 2^(gain & 7) copies at most */
	int shut = 0;

	for (;;) {
		struct weir_buf b = { 0 };
		const uint8_t *data = buf;
		ssize_t n;
		int rc = 0;

		if (W.config & FZ_CFG_ZEROCOPY) {
			n = weir_flow_read(f, &b);
			data = b.data;
		} else {
			n = weir_flow_read_into(f, buf, sizeof(buf));
		}
		if (n <= 0)
			break;
		if (!shut) {
			unsigned copies = 1u << (W.gain & 7);

			while (copies > 1 && copies * (size_t)n > FZ_GAIN_MAX_BYTES)
				copies >>= 1;
			for (unsigned i = 0; i < copies; i++)
				iov[i] = (struct weir_iov){ .base = data, .len = (size_t)n };
			/* One copy goes through the plain calls, as before the gain existed. */
			if (copies == 1 && (W.config & FZ_CFG_NODELAY))
				rc = weir_flow_write_nodelay(f, data, (size_t)n);
			else if (copies == 1)
				rc = weir_flow_write(f, data, (size_t)n);
			else if (W.config & FZ_CFG_NODELAY)
				rc = weir_flow_writev_nodelay(f, iov, copies);
			else
				rc = weir_flow_writev(f, iov, copies);
		}
		weir_buf_release(&b);
		if (rc < 0)
			break;
		if ((W.config & FZ_CFG_HALFCLOSE) && !shut) {
			/* From here on we only read, until the peer's FIN. */
			weir_flow_shutdown(f, WEIR_SHUT_WR);
			shut = 1;
		}
	}
}

static void handler(struct weir_flow *f, void *arg)
{
	WEIR_UNUSED(arg);
	echo(f);
}

static void client_main(void *arg)
{
	enum fz_conn c = (enum fz_conn)(uintptr_t)arg;
	struct weir_tcp_connect_opts o = { 0 };
	struct weir_ipaddr peer = { lwip_htonl(FZ_PEER_IP) };
	struct weir_flow *f;

	o.timeout_ns = 60 * WEIR_NS_PER_S;
	o.local_port = c == FZ_CONN_A ? FZ_PORT_A_LOCAL : FZ_PORT_C_LOCAL;
	o.reuse_addr = 1;
	o.flow = flow_opts();
	o.scope = W.scope;
	if (weir_tcp_connect(W.stack, peer, c == FZ_CONN_A ? FZ_PORT_A_REMOTE : FZ_PORT_C_REMOTE,
			     &o, &f) < 0)
		return;
	W.connected[c] = 1;
	echo(f);
	weir_flow_close(f);
}

static void udp_main(void *arg)
{
	struct weir_udp_opts o = { .local_port = FZ_PORT_UDP_ECHO, .queue_max = 4 };
	struct weir_udp *u;
	int zc = 0;

	WEIR_UNUSED(arg);
	o.scope = W.scope;
	if (weir_udp_open(W.stack, &o, &u) < 0)
		fz_fatal("cannot open the UDP echo socket");
	for (;;) {
		static uint8_t buf[2048];
		struct weir_buf b = { 0 };
		struct weir_ipaddr src;
		uint16_t sport;
		ssize_t n;

		/* Alternate the copying and the zero-copy receive. */
		if (zc)
			n = weir_udp_recv(u, &b, &src, &sport, 0);
		else
			n = weir_udp_recv_from(u, buf, sizeof(buf), &src, &sport, 0);
		if (n == WEIR_EMSGSIZE)
			continue;
		if (n < 0)
			break;
		weir_udp_send_to(u, src, sport, zc ? b.data : buf, (size_t)n);
		weir_buf_release(&b);
		zc = !zc;
	}
	weir_udp_close(u);
}

static void spawn(weir_fiber_fn fn, void *arg, const char *name)
{
	struct weir_fiber_opts fo = { .stack_size = FZ_FIBER_STACK, .name = name };
	struct weir_fiber *fb;

	if (weir_fiber_spawn(W.scope, fn, arg, &fo, &fb) < 0 || weir_fiber_detach(fb) < 0)
		fz_fatal("cannot spawn fiber %s", name);
}

/* --- one life of the stack -------------------------------------------------------------------- */

static size_t syn_opts(uint8_t *o, int with_ts, uint32_t tsecr)
{
	size_t n = 0;

	o[n++] = 2; /* MSS 1460 */
	o[n++] = 4;
	o[n++] = 0x05;
	o[n++] = 0xb4;
	if (W.config & FZ_CFG_PLAIN)
		return n;
	o[n++] = 1; /* NOP, window scale 7 */
	o[n++] = 3;
	o[n++] = 3;
	o[n++] = 7;
	o[n++] = 4; /* SACK permitted */
	o[n++] = 2;
	if (with_ts) {
		o[n++] = 8;
		o[n++] = 10;
		put32(o + n, FZ_PEER_TSVAL);
		put32(o + n + 4, tsecr);
		n += 8;
	}
	return n;
}

static void stack_config(struct weir_stack_config *sc)
{
	memset(sc, 0, sizeof(*sc));
	sc->netdev = &dev.nd;
	sc->loop = W.loop;
	sc->ip.v4 = lwip_htonl(FZ_STACK_IP);
	sc->prefix_len = 24;
}

static unsigned memp_used(int i)
{
#if MEMP_STATS
	/* Timers are lwIP's own and come and go with the TCP timer. */
	if (i != MEMP_SYS_TIMEOUT && lwip_stats.memp[i] != NULL)
		return lwip_stats.memp[i]->used;
#endif
	WEIR_UNUSED(i);
	return 0;
}

static void once(void)
{
	struct weir_stack_config sc;
	struct weir_fiber_stats fs;
	int rc;

	weir_log_set_level(WEIR_LOG_ERROR);
	W.trace = getenv("WEIR_FUZZ_TRACE") != NULL;
	dev.nd.ops = &fz_dev_ops;
	dev.nd.name = "fuzz";
	W.now_ns = (uint64_t)FZ_START_MS * WEIR_NS_PER_MS;
	if ((rc = weir_loop_create(&W.loop)) < 0 || (rc = weir_fibers_init(W.loop)) < 0)
		fz_fatal("world: %s", weir_strerror(rc));
	weir_fiber_get_stats(&fs);
	W.fibers_base = fs.live;
	/* The first stack initialises lwIP; what it leaves behind is the baseline for every
	 * life. */
	stack_config(&sc);
	if ((rc = weir_stack_open(&sc, &W.stack)) < 0)
		fz_fatal("stack open: %s", weir_strerror(rc));
	W.closing = 1;
	weir_stack_close(W.stack);
	W.closing = 0;
	W.stack = NULL;
	for (int i = 0; i < MEMP_MAX; i++)
		W.memp_base[i] = memp_used(i);
	W.up = 1;
}

/* Puts lwIP's timers in the same state for every input: the first due now, every cyclic timer
 * re-armed from the same instant, and the TCP timer's fast/slow alternation at the same phase. So
 * an input replays the same way alone as in the middle of a fuzzing run. */
static void normalise_timers(void)
{
	u32_t t;

	W.now_ns = ((uint64_t)FZ_START_MS - 61000) * WEIR_NS_PER_MS;
	sys_restart_timeouts();
	W.now_ns =
		(uint64_t)FZ_START_MS * WEIR_NS_PER_MS; /* past every cyclic interval (<= 60 s) */
	sys_check_timeouts();
	t = tcp_ticks;
	tcp_tmr();
	if (tcp_ticks != t)
		tcp_tmr(); /* that one was slow: the next one is again */
}

void fz_begin(const uint8_t *hdr, size_t len)
{
	uint8_t h[FZ_HDR_LEN] = { 0 }, f[128], o[40];
	struct weir_stack_config sc;
	struct weir_tcp_listen_opts lo = { 0 };
	struct fz_tcp_seg s = { 0 };
	int rc;

	if (!W.up)
		once();
	memcpy(h, hdr, len < sizeof(h) ? len : sizeof(h));
	W.isn_base =
		(uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
	W.config = h[4];
	W.gain = h[5];
	memset(W.connected, 0, sizeof(W.connected));
	normalise_timers();
	W.end_ns = W.now_ns + (uint64_t)FZ_MAX_VIRTUAL_MS * WEIR_NS_PER_MS;
	stack_config(&sc);
	if ((rc = weir_stack_open(&sc, &W.stack)) < 0)
		fz_fatal("stack open: %s", weir_strerror(rc));
	if ((rc = weir_scope_open(NULL, &W.scope)) < 0)
		fz_fatal("scope: %s", weir_strerror(rc));
	lo.port = FZ_PORT_LISTEN;
	lo.backlog = FZ_BACKLOG;
	lo.reuse_addr = 1;
	lo.max_connections = (W.config & FZ_CFG_MAXCONN) ? 1 : 0;
	lo.flow = flow_opts();
	lo.handler_stack_size = FZ_FIBER_STACK;
	lo.scope = W.scope;
	if ((rc = weir_tcp_listen(W.stack, &lo, handler, NULL, &W.listener)) < 0)
		fz_fatal("listen: %s", weir_strerror(rc));
	spawn(udp_main, NULL, "udp-echo");

	/* The peer announces itself (the stack learns its MAC from the request). */
	fz_rx(f, fz_build_arp(f, 1, fz_peer_mac, FZ_PEER_IP, (const uint8_t[6]){ 0 }, FZ_STACK_IP));

	/* A: the stack connects to the peer, which answers. */
	spawn(client_main, (void *)(uintptr_t)FZ_CONN_A, "client-a");
	run_idle();
	s = (struct fz_tcp_seg){ .sport = FZ_PORT_A_REMOTE,
				 .dport = FZ_PORT_A_LOCAL,
				 .seq = FZ_PEER_ISN_A,
				 .ack = fz_isn(FZ_PORT_A_LOCAL, FZ_PORT_A_REMOTE),
				 .flags = 0x12,
				 .wnd = 65535,
				 .opts = o };
	s.optlen = syn_opts(o, LWIP_TCP_TIMESTAMPS, FZ_START_MS);
	fz_rx(f, fz_build_tcp(f, &s));
	if (!W.connected[FZ_CONN_A])
		fz_fatal("set-up: connection A did not open");

	/* B: the peer connects to the listener. */
	s = (struct fz_tcp_seg){ .sport = FZ_PORT_B_REMOTE,
				 .dport = FZ_PORT_LISTEN,
				 .seq = FZ_PEER_ISN_B,
				 .flags = 0x02,
				 .wnd = 65535,
				 .opts = o };
	s.optlen = syn_opts(o, LWIP_TCP_TIMESTAMPS, 0);
	fz_rx(f, fz_build_tcp(f, &s));
	s.seq = FZ_PEER_ISN_B + 1;
	s.ack = fz_isn(FZ_PORT_LISTEN, FZ_PORT_B_REMOTE) + 1;
	s.flags = 0x10;
	s.optlen = 0;
	if (!(W.config & FZ_CFG_PLAIN) && LWIP_TCP_TIMESTAMPS) {
		static const uint8_t nn[2] = { 1, 1 };

		memcpy(o, nn, 2);
		o[2] = 8;
		o[3] = 10;
		put32(o + 4, FZ_PEER_TSVAL + 1);
		put32(o + 8, FZ_START_MS);
		s.optlen = 12;
	}
	s.wnd = 512; /* scaled by 7: 64 KiB */
	if (W.config & FZ_CFG_PLAIN)
		s.wnd = 65535;
	fz_rx(f, fz_build_tcp(f, &s));
	{
		struct weir_listener_stats ls;

		weir_listener_get_stats(W.listener, &ls);
		if (ls.accepted != 1)
			fz_fatal("set-up: connection B was not accepted");
	}

	/* C: the stack connects; the peer does not answer (yet). */
	spawn(client_main, (void *)(uintptr_t)FZ_CONN_C, "client-c");
	run_idle();
}

void fz_end(void)
{
	struct weir_tcp_stats ts;
	struct weir_fiber_stats fs;
	uint32_t udp_socks, udp_queued;
	int rc;

	W.hook = NULL;
	if ((rc = weir_scope_close(W.scope)) < 0)
		fz_fatal("scope close: %s", weir_strerror(rc));
	W.closing = 1;
	weir_stack_close(W.stack);
	W.closing = 0;
	W.stack = NULL;
	/* What lwIP keeps after the stack is gone, and weir's production close leaves to it: pcbs
	 * in TIME_WAIT (their 2 MSL) and IP fragments waiting for reassembly (their max age). */
	while (tcp_tw_pcbs != NULL)
		tcp_abort(tcp_tw_pcbs);
	if (tcp_active_pcbs != NULL)
		fz_fatal("pcb left in state %d after the stack closed",
			 (int)tcp_active_pcbs->state);
	if (tcp_bound_pcbs != NULL || tcp_listen_pcbs.listen_pcbs != NULL)
		fz_fatal("bound or listening pcb left after the stack closed");
	for (int i = 0; i <= IP_REASS_MAXAGE + 1; i++)
		ip_reass_tmr();
	dev_drop_queued();
	if (dev.held != 0)
		fz_fatal("%u received frames never released", dev.held);
	weir_tcp_get_stats(&ts);
	if (ts.flows || ts.listeners || ts.bufs_out)
		fz_fatal("left: %u flows, %u listeners, %u buffers", ts.flows, ts.listeners,
			 ts.bufs_out);
	weir_udp_count(&udp_socks, &udp_queued);
	if (udp_socks || udp_queued)
		fz_fatal("left: %u UDP sockets, %u datagrams", udp_socks, udp_queued);
	weir_fiber_get_stats(&fs);
	if (fs.live != W.fibers_base)
		fz_fatal("left: %u fibers (baseline %u)", fs.live, W.fibers_base);
	for (int i = 0; i < MEMP_MAX; i++) {
		if (memp_used(i) != W.memp_base[i])
			fz_fatal("lwIP pool %d: %u in use, %u at start", i, memp_used(i),
				 W.memp_base[i]);
	}
}
